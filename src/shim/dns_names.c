/* dns_names.c - answers from the name snapshot (dns_names.h), built with ldns. */
#include "dns_names.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldns/ldns.h>

#include "common/cleanup.h"

#define DNS_TTL 600
#define MAX_ANSWERS 32
#define MAGIC "berth-dns-names 1\n"

void dns_names_free(struct dns_names *d) {
        free(d->text);
        free(d->lines);
        *d = (struct dns_names){ 0 };
}

int dns_names_parse(struct dns_names *d, char *text) {
        *d = (struct dns_names){ .text = text };
        if (!text || strncmp(text, MAGIC, strlen(MAGIC)) != 0)
                return 0; /* a format this shim does not know: no names */
        size_t cap = 0;
        for (const char *p = text; *p; p++)
                cap += *p == '\n';
        d->lines = calloc(cap + 1, sizeof(char *));
        if (!d->lines)
                return -ENOMEM;
        char *save = NULL;
        for (char *line = strtok_r(text + strlen(MAGIC), "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *b = strchr(line, ' '), *c = b ? strchr(b + 1, ' ') : NULL;
                if (!b || !c || b == line || c == b + 1 || !c[1] || strchr(c + 1, ' ') || d->n >= cap)
                        continue; /* three words, or nothing */
                *b = *c = '\0';
                if (strcmp(line, "a") != 0 && strcmp(line, "aaaa") != 0 && strcmp(line, "ptr") != 0)
                        continue;
                d->lines[d->n++] = line;
        }
        return 0;
}

static const char *word(const char *line, int i) {
        while (i-- > 0)
                line += strlen(line) + 1;
        return line;
}

static bool same_name(const char *a, const char *q) {
        size_t la = strlen(a), lq = strlen(q);
        if (la && a[la - 1] == '.')
                la--;
        if (lq && q[lq - 1] == '.')
                lq--;
        return la == lq && strncasecmp(a, q, la) == 0;
}

/* One record from text: the value is checked by ldns (a bad line is left out). */
static void push(ldns_pkt *a, const ldns_rdf *owner, ldns_rr_type type, const char *value) {
        ldns_rdf *rd = NULL;
        switch (type) {
        case LDNS_RR_TYPE_A:
                rd = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, value);
                break;
        case LDNS_RR_TYPE_AAAA:
                rd = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_AAAA, value);
                break;
        default: {
                char fq[300];
                if (snprintf(fq, sizeof(fq), "%s.", value) >= (int) sizeof(fq))
                        return;
                rd = ldns_dname_new_frm_str(fq);
        }
        }
        if (!rd)
                return;
        ldns_rr *r = ldns_rr_new(); /* (ldns_rr_new_frm_type leaves empty rdata slots) */
        if (!r) {
                ldns_rdf_deep_free(rd);
                return;
        }
        ldns_rr_set_type(r, type);
        ldns_rr_set_owner(r, ldns_rdf_clone(owner));
        ldns_rr_set_ttl(r, DNS_TTL);
        ldns_rr_set_class(r, LDNS_RR_CLASS_IN);
        ldns_rr_push_rdf(r, rd);
        ldns_pkt_push_rr(a, LDNS_SECTION_ANSWER, r);
}

uint8_t *dns_names_answer(const struct dns_names *d, const uint8_t *q, size_t len, size_t *ret_len) {
        ldns_pkt *p = NULL;
        if (len < 12 || ldns_wire2pkt(&p, q, len) != LDNS_STATUS_OK)
                return NULL;
        ldns_rr_list *ql = ldns_pkt_question(p);
        ldns_rr *qr = ql && ldns_rr_list_rr_count(ql) == 1 ? ldns_rr_list_rr(ql, 0) : NULL;
        if (ldns_pkt_qr(p) || ldns_pkt_get_opcode(p) != LDNS_PACKET_QUERY || !qr ||
            ldns_rr_get_class(qr) != LDNS_RR_CLASS_IN) {
                ldns_pkt_free(p);
                return NULL;
        }
        ldns_rr_type type = ldns_rr_get_type(qr);
        _cleanup_free_ char *name = ldns_rdf2str(ldns_rr_owner(qr));
        ldns_pkt *a = name ? ldns_pkt_new() : NULL;
        bool found = false;
        size_t n = 0;
        for (size_t i = 0; a && i < d->n && n < MAX_ANSWERS; i++) {
                const char *kind = d->lines[i];
                bool is_ptr = strcmp(kind, "ptr") == 0, a4 = strcmp(kind, "a") == 0;
                if (is_ptr != (type == LDNS_RR_TYPE_PTR) || !same_name(word(kind, 1), name))
                        continue;
                found = true;
                ldns_rr_type t = is_ptr ? LDNS_RR_TYPE_PTR : a4 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA;
                if (type == t || (type == LDNS_RR_TYPE_ANY && !is_ptr)) {
                        push(a, ldns_rr_owner(qr), t, word(kind, 2));
                        n++;
                        if (is_ptr)
                                break; /* one name per address, as berthd answers */
                }
        }
        uint8_t *wire = NULL;
        if (found) {
                /* The name exists; with no record of the type asked the answer is empty. */
                ldns_pkt_set_id(a, ldns_pkt_id(p));
                ldns_pkt_set_qr(a, true);
                ldns_pkt_set_aa(a, true);
                ldns_pkt_set_rd(a, ldns_pkt_rd(p));
                ldns_pkt_set_ra(a, true);
                ldns_pkt_set_opcode(a, LDNS_PACKET_QUERY);
                ldns_pkt_set_rcode(a, LDNS_RCODE_NOERROR);
                ldns_pkt_push_rr(a, LDNS_SECTION_QUESTION, ldns_rr_clone(qr));
                if (ldns_pkt2wire(&wire, a, ret_len) != LDNS_STATUS_OK || *ret_len > 512)
                        wire = mfree(wire);
        }
        ldns_pkt_free(a);
        ldns_pkt_free(p);
        return wire;
}
