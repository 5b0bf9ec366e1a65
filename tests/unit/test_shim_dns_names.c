/* Unit tests for the shim's DNS answers while berthd is down (src/shim/dns_names.c): the
 * snapshot parser and the answers, against well-formed and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <ldns/ldns.h>

#include "shim/dns_names.h"

static const char SNAPSHOT[] = "berth-dns-names 1\n"
                               "a web 10.5.0.2\n"
                               "a web 10.5.0.3\n"
                               "a db 10.5.0.4\n"
                               "aaaa db fd00::4\n"
                               "ptr 4.0.5.10.in-addr.arpa db.net\n"
                               "a broken\n"          /* two words */
                               "a x y z\n"           /* four */
                               "mx db mail\n"        /* not a kind */
                               "a bad not-an-ip\n"   /* ldns refuses the address */
                               "\n";

static void load(struct dns_names *d, const char *text) {
        char *t = strdup(text);
        assert_non_null(t);
        assert_int_equal(dns_names_parse(d, t), 0);
}

/* A query for @name of @type as a client sends it. */
static uint8_t *query(const char *name, ldns_rr_type type, size_t *len) {
        ldns_pkt *q = NULL;
        assert_int_equal(ldns_pkt_query_new_frm_str(&q, name, type, LDNS_RR_CLASS_IN, LDNS_RD), LDNS_STATUS_OK);
        ldns_pkt_set_id(q, 0x4242);
        uint8_t *wire = NULL;
        assert_int_equal(ldns_pkt2wire(&wire, q, len), LDNS_STATUS_OK);
        ldns_pkt_free(q);
        return wire;
}

/* Ask; the answer parsed (NULL if none). */
static ldns_pkt *ask(const struct dns_names *d, const char *name, ldns_rr_type type) {
        size_t len = 0, alen = 0;
        uint8_t *q = query(name, type, &len);
        uint8_t *a = dns_names_answer(d, q, len, &alen);
        free(q);
        if (!a)
                return NULL;
        ldns_pkt *p = NULL;
        assert_int_equal(ldns_wire2pkt(&p, a, alen), LDNS_STATUS_OK);
        free(a);
        assert_int_equal(ldns_pkt_id(p), 0x4242);
        assert_true(ldns_pkt_qr(p));
        return p;
}

static void test_parse_keeps_three_word_lines_of_known_kinds(void **state) {
        (void) state;
        struct dns_names d;
        load(&d, SNAPSHOT);
        assert_int_equal(d.n, 6); /* 5 good lines, and "a bad not-an-ip" (its address is ldns's to refuse) */
        dns_names_free(&d);
        load(&d, "berth-dns-names 2\na web 10.5.0.2\n");
        assert_int_equal(d.n, 0); /* another format: nothing */
        dns_names_free(&d);
        load(&d, "");
        assert_int_equal(d.n, 0);
        dns_names_free(&d);
}

static void test_a_aaaa_and_ptr(void **state) {
        (void) state;
        struct dns_names d;
        load(&d, SNAPSHOT);
        ldns_pkt *p = ask(&d, "WEB.", LDNS_RR_TYPE_A); /* case does not matter */
        assert_non_null(p);
        assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
        assert_true(ldns_pkt_aa(p));
        assert_int_equal(ldns_pkt_ancount(p), 2);
        ldns_pkt_free(p);

        p = ask(&d, "db", LDNS_RR_TYPE_AAAA);
        assert_non_null(p);
        assert_int_equal(ldns_pkt_ancount(p), 1);
        char *s = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 0));
        assert_string_equal(s, "fd00::4");
        free(s);
        ldns_pkt_free(p);

        p = ask(&d, "web", LDNS_RR_TYPE_AAAA); /* the name is there, no IPv6: empty NOERROR */
        assert_non_null(p);
        assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
        assert_int_equal(ldns_pkt_ancount(p), 0);
        ldns_pkt_free(p);

        p = ask(&d, "4.0.5.10.in-addr.arpa.", LDNS_RR_TYPE_PTR);
        assert_non_null(p);
        assert_int_equal(ldns_pkt_ancount(p), 1);
        s = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 0));
        assert_string_equal(s, "db.net.");
        free(s);
        ldns_pkt_free(p);

        p = ask(&d, "bad", LDNS_RR_TYPE_A); /* the name is there; its bad address is left out */
        assert_non_null(p);
        assert_int_equal(ldns_pkt_ancount(p), 0);
        ldns_pkt_free(p);
        dns_names_free(&d);
}

static void test_unknown_names_and_non_queries_get_nothing(void **state) {
        (void) state;
        struct dns_names d;
        load(&d, SNAPSHOT);
        assert_null(ask(&d, "upstream.test", LDNS_RR_TYPE_A)); /* left for berthd to forward */
        assert_null(ask(&d, "broken", LDNS_RR_TYPE_A));
        assert_null(ask(&d, "mail", LDNS_RR_TYPE_A));
        assert_null(ask(&d, "5.0.5.10.in-addr.arpa", LDNS_RR_TYPE_PTR));
        assert_null(ask(&d, "web", LDNS_RR_TYPE_PTR)); /* a name, not a reverse entry */

        size_t len = 0, alen = 0;
        uint8_t *q = query("web", LDNS_RR_TYPE_A, &len);
        q[2] |= 0x80; /* a response, not a query */
        assert_null(dns_names_answer(&d, q, len, &alen));
        q[2] &= 0x7f;
        for (size_t cut = 0; cut < len; cut++) /* every truncation */
                assert_null(dns_names_answer(&d, q, cut, &alen));
        q[5] = 2; /* two questions claimed */
        assert_null(dns_names_answer(&d, q, len, &alen));
        free(q);

        /* Noise: whatever it is, no crash, no leak, and any answer fits in 512 bytes. */
        uint8_t buf[600];
        srand(7);
        for (int i = 0; i < 20000; i++) {
                size_t n = 12 + (size_t) rand() % (sizeof(buf) - 12);
                for (size_t k = 0; k < n; k++)
                        buf[k] = (uint8_t) rand();
                uint8_t *a = dns_names_answer(&d, buf, n, &alen);
                if (a)
                        assert_true(alen <= 512);
                free(a);
        }
        dns_names_free(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_keeps_three_word_lines_of_known_kinds),
                cmocka_unit_test(test_a_aaaa_and_ptr),
                cmocka_unit_test(test_unknown_names_and_non_queries_get_nothing),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
