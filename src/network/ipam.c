/* ipam.c - IPv4 arithmetic, default address pools and the per-subnet allocator. */
#include "ipam.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ipam_parse_ip4(const char *s, uint32_t *ret) {
        struct in_addr a;
        if (!s || inet_pton(AF_INET, s, &a) != 1)
                return -EINVAL;
        *ret = ntohl(a.s_addr);
        return 0;
}

uint32_t ipam_mask4(int prefix) {
        return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
}

int ipam_parse_cidr4(const char *s, bool strict, struct ipv4_net *ret, uint32_t *ret_host) {
        char buf[32];
        const char *slash = s ? strchr(s, '/') : NULL;
        if (!slash || (size_t) (slash - s) >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, (size_t) (slash - s));
        buf[slash - s] = '\0';
        uint32_t ip;
        if (ipam_parse_ip4(buf, &ip) < 0)
                return -EINVAL;
        char *end;
        errno = 0;
        long p = strtol(slash + 1, &end, 10);
        if (errno || end == slash + 1 || *end || p < 0 || p > 32)
                return -EINVAL;
        uint32_t net = ip & ipam_mask4((int) p);
        if (strict && net != ip)
                return -EINVAL;
        ret->addr = net;
        ret->prefix = (int) p;
        if (ret_host)
                *ret_host = ip;
        return 0;
}

void ipam_format_ip4(uint32_t ip, char out[16]) {
        snprintf(out, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

void ipam_format_cidr4(const struct ipv4_net *n, char out[20]) {
        char ip[16];
        ipam_format_ip4(n->addr, ip);
        snprintf(out, 20, "%s/%d", ip, n->prefix);
}

bool ipam_contains4(const struct ipv4_net *n, uint32_t ip) {
        return (ip & ipam_mask4(n->prefix)) == n->addr;
}

bool ipam_overlap4(const struct ipv4_net *a, const struct ipv4_net *b) {
        int p = a->prefix < b->prefix ? a->prefix : b->prefix;
        return (a->addr & ipam_mask4(p)) == (b->addr & ipam_mask4(p));
}

int ipam_parse_pool_spec(const char *s, struct ipam_pool_spec *ret) {
        /* "base=172.80.0.0/16,size=24", keys in any order, as dockerd's flag. */
        char buf[128];
        if (!s || strlen(s) >= sizeof(buf))
                return -EINVAL;
        snprintf(buf, sizeof(buf), "%s", s);
        bool have_base = false, have_size = false;
        for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(kv, '=');
                if (!eq)
                        return -EINVAL;
                *eq = '\0';
                if (strcmp(kv, "base") == 0) {
                        if (ipam_parse_cidr4(eq + 1, false, &ret->base, NULL) < 0)
                                return -EINVAL;
                        have_base = true;
                } else if (strcmp(kv, "size") == 0) {
                        char *end;
                        long v = strtol(eq + 1, &end, 10);
                        if (end == eq + 1 || *end || v < 1 || v > 32)
                                return -EINVAL;
                        ret->size = (int) v;
                        have_size = true;
                } else
                        return -EINVAL;
        }
        if (!have_base || !have_size || ret->size < ret->base.prefix)
                return -EINVAL;
        return 0;
}

int ipam_pick_subnet(const struct ipam_pool_spec *spec, const struct ipv4_net *used, size_t n_used,
                     struct ipv4_net *ret) {
        uint64_t step = 1ull << (32 - spec->size);
        uint64_t count = 1ull << (spec->size - spec->base.prefix);
        for (uint64_t i = 0; i < count; i++) {
                struct ipv4_net cand = { .addr = (uint32_t) (spec->base.addr + i * step), .prefix = spec->size };
                bool clash = false;
                for (size_t j = 0; j < n_used && !clash; j++)
                        clash = ipam_overlap4(&cand, &used[j]);
                if (!clash) {
                        *ret = cand;
                        return 0;
                }
        }
        return -ENOSPC;
}

int ipam_alloc_init(struct ipam_alloc *a, const struct ipv4_net *subnet, const struct ipv4_net *range,
                    uint32_t gateway) {
        memset(a, 0, sizeof(*a));
        if (subnet->prefix < 8)
                return -E2BIG;
        if (range && (!ipam_contains4(subnet, range->addr) || range->prefix < subnet->prefix))
                return -ERANGE;
        a->subnet = *subnet;
        a->range = range ? *range : *subnet;
        a->gateway = gateway;
        a->count = subnet->prefix >= 32 ? 1 : 1u << (32 - subnet->prefix);
        a->bits = calloc((a->count + 7) / 8, 1);
        if (!a->bits)
                return -ENOMEM;
        if (a->count > 2) { /* /31 and /32 have no network or broadcast address */
                a->bits[0] |= 1;
                a->bits[(a->count - 1) / 8] |= (uint8_t) (1u << ((a->count - 1) % 8));
        }
        if (gateway && ipam_contains4(subnet, gateway)) {
                uint32_t off = gateway - subnet->addr;
                a->bits[off / 8] |= (uint8_t) (1u << (off % 8));
        }
        a->next = a->range.addr - subnet->addr;
        return 0;
}

void ipam_alloc_done(struct ipam_alloc *a) {
        free(a->bits);
        a->bits = NULL;
}

bool ipam_alloc_is_taken(const struct ipam_alloc *a, uint32_t ip) {
        if (!a->bits || !ipam_contains4(&a->subnet, ip))
                return false;
        uint32_t off = ip - a->subnet.addr;
        return a->bits[off / 8] & (1u << (off % 8));
}

int ipam_alloc_take(struct ipam_alloc *a, uint32_t want, uint32_t *ret) {
        if (!a->bits)
                return -EINVAL;
        if (want) {
                if (!ipam_contains4(&a->subnet, want))
                        return -ERANGE;
                uint32_t off = want - a->subnet.addr;
                if (a->bits[off / 8] & (1u << (off % 8)))
                        return -EEXIST;
                a->bits[off / 8] |= (uint8_t) (1u << (off % 8));
                *ret = want;
                return 0;
        }
        uint32_t lo = a->range.addr - a->subnet.addr;
        uint32_t n = a->range.prefix >= 32 ? 1 : 1u << (32 - a->range.prefix);
        uint32_t start = a->next >= lo && a->next < lo + n ? a->next - lo : 0;
        for (uint32_t i = 0; i < n; i++) {
                uint32_t off = lo + (start + i) % n;
                if (!(a->bits[off / 8] & (1u << (off % 8)))) {
                        a->bits[off / 8] |= (uint8_t) (1u << (off % 8));
                        a->next = lo + (start + i + 1) % n;
                        *ret = a->subnet.addr + off;
                        return 0;
                }
        }
        return -ENOSPC;
}

void ipam_alloc_release(struct ipam_alloc *a, uint32_t ip) {
        if (!a->bits || !ipam_contains4(&a->subnet, ip) || ip == a->gateway)
                return;
        uint32_t off = ip - a->subnet.addr;
        if (a->count > 2 && (off == 0 || off == a->count - 1))
                return;
        a->bits[off / 8] &= (uint8_t) ~(1u << (off % 8));
}
