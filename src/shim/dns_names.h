/* dns_names.h - the names a shim answers while berthd is down: the bundle's SHIM_DNS_NAMES
 * snapshot ("berth-dns-names 1", then "a NAME IPV4", "aaaa NAME IPV6" and
 * "ptr REVERSE-NAME TARGET" lines; berthd writes it, see src/network/dns.c) and the
 * answers to queries from it. Queries come from the container: hostile input. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct dns_names {
        char *text;   /* the file, split in place */
        char **lines; /* "kind\0name\0value" */
        size_t n;
};

/* Takes @text (NUL-terminated; freed by dns_names_free). A snapshot of another format
 * holds no names. 0 or -ENOMEM. */
int dns_names_parse(struct dns_names *d, char *text);
void dns_names_free(struct dns_names *d);

/* The answer to the UDP query @q (@len bytes) in wire format (*ret_len bytes, at most 512;
 * free() it), or NULL when there is none to give: not a query, or a name the snapshot
 * does not hold (berthd forwards those when it is back). A name held without a record of
 * the type asked gets an empty NOERROR answer, as berthd gives. */
uint8_t *dns_names_answer(const struct dns_names *d, const uint8_t *q, size_t len, size_t *ret_len);
