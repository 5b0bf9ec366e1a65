/* fuzz_dns.c - DNS queries from a container, as berth-shim answers them from the name
 * snapshot while berthd is down (dns_names_answer: the query is parsed with ldns and the
 * answer built from the snapshot), and the snapshot file itself (dns_names_parse), here
 * with the input as its lines. */
#include "fuzz.h"
#include "shim/dns_names.h"

static const char snapshot[] = "berth-dns-names 1\n"
                               "a web 10.200.0.2\n"
                               "a web.net1 10.200.0.2\n"
                               "a db 10.200.0.3\n"
                               "aaaa web fd00:c8::2\n"
                               "ptr 2.0.200.10.in-addr.arpa web.net1\n"
                               "ptr 2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.c.0.0.0.0.d.f.ip6.arpa web.net1\n";

/* A standard query for "web" of type A (id 0x1234, RD). */
static const uint8_t query_web_a[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'e', 'b', 0, 0, 1, 0, 1 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct dns_names d;
        char *text = strdup(snapshot);
        if (!text || dns_names_parse(&d, text) < 0)
                abort();
        size_t alen = 0;
        free(dns_names_answer(&d, data, size, &alen));
        if (alen > 512)
                abort(); /* UDP answers stay within 512 bytes */
        dns_names_free(&d);

        /* The input as the snapshot's lines. */
        size_t hl = sizeof("berth-dns-names 1\n") - 1;
        char *t = malloc(hl + size + 1);
        if (!t)
                abort();
        memcpy(t, "berth-dns-names 1\n", hl);
        memcpy(t + hl, data, size);
        t[hl + size] = '\0';
        if (dns_names_parse(&d, t) < 0)
                abort();
        alen = 0;
        free(dns_names_answer(&d, query_web_a, sizeof(query_web_a), &alen));
        if (alen > 512)
                abort();
        dns_names_free(&d);
        return 0;
}
