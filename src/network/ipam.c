/* ipam.c - IPv4 and IPv6 arithmetic, default address pools and the per-subnet allocators. */
#include "ipam.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/digest.h"

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
        free(a->reserved);
        a->reserved = NULL;
        a->n_reserved = 0;
}

int ipam_alloc_reserve(struct ipam_alloc *a, uint32_t ip) {
        uint32_t got;
        int r = ipam_alloc_take(a, ip, &got);
        if (r < 0)
                return r;
        uint32_t *v = realloc(a->reserved, (a->n_reserved + 1) * sizeof(*v));
        if (!v) {
                ipam_alloc_release(a, ip);
                return -ENOMEM;
        }
        a->reserved = v;
        a->reserved[a->n_reserved++] = ip;
        return 0;
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
        for (size_t i = 0; i < a->n_reserved; i++)
                if (a->reserved[i] == ip)
                        return;
        uint32_t off = ip - a->subnet.addr;
        if (a->count > 2 && (off == 0 || off == a->count - 1))
                return;
        a->bits[off / 8] &= (uint8_t) ~(1u << (off % 8));
}

/* ---- IPv6 ---- */

__extension__ typedef unsigned __int128 u128;

static u128 to128(const uint8_t b[16]) {
        u128 v = 0;
        for (int i = 0; i < 16; i++)
                v = v << 8 | b[i];
        return v;
}

static void from128(u128 v, uint8_t b[16]) {
        for (int i = 15; i >= 0; i--) {
                b[i] = (uint8_t) v;
                v >>= 8;
        }
}

static u128 mask6(int prefix) {
        if (prefix <= 0)
                return 0;
        if (prefix >= 128)
                return ~(u128) 0;
        return ~(((u128) 1 << (128 - prefix)) - 1);
}

/* Addresses in @prefix's network: saturates at 2^64 (nothing here counts further). */
static u128 size6(int prefix) {
        return prefix <= 0 ? ~(u128) 0 : (u128) 1 << (128 - prefix);
}

int ipam_parse_ip6(const char *s, uint8_t ret[16]) {
        struct in6_addr a;
        if (!s || !strchr(s, ':') || inet_pton(AF_INET6, s, &a) != 1)
                return -EINVAL;
        memcpy(ret, a.s6_addr, 16);
        return 0;
}

int ipam_parse_cidr6(const char *s, bool strict, struct ipv6_net *ret, uint8_t ret_host[16]) {
        char buf[64];
        const char *slash = s ? strchr(s, '/') : NULL;
        if (!slash || (size_t) (slash - s) >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, (size_t) (slash - s));
        buf[slash - s] = '\0';
        uint8_t ip[16];
        if (ipam_parse_ip6(buf, ip) < 0)
                return -EINVAL;
        char *end;
        errno = 0;
        long p = strtol(slash + 1, &end, 10);
        if (errno || end == slash + 1 || *end || p < 0 || p > 128 || slash[1] == '-' || slash[1] == '+')
                return -EINVAL;
        u128 v = to128(ip), net = v & mask6((int) p);
        if (strict && net != v)
                return -EINVAL;
        from128(net, ret->addr);
        ret->prefix = (int) p;
        if (ret_host)
                memcpy(ret_host, ip, 16);
        return 0;
}

void ipam_format_ip6(const uint8_t ip[16], char out[46]) {
        if (!inet_ntop(AF_INET6, ip, out, 46))
                snprintf(out, 46, "::");
}

void ipam_format_cidr6(const struct ipv6_net *n, char out[50]) {
        char ip[46];
        ipam_format_ip6(n->addr, ip);
        snprintf(out, 50, "%s/%d", ip, n->prefix);
}

bool ipam_contains6(const struct ipv6_net *n, const uint8_t ip[16]) {
        return (to128(ip) & mask6(n->prefix)) == to128(n->addr);
}

bool ipam_overlap6(const struct ipv6_net *a, const struct ipv6_net *b) {
        int p = a->prefix < b->prefix ? a->prefix : b->prefix;
        return (to128(a->addr) & mask6(p)) == (to128(b->addr) & mask6(p));
}

bool ipam_ip6_is_zero(const uint8_t ip[16]) {
        return to128(ip) == 0;
}

void ipam_ip6_add(const struct ipv6_net *n, uint64_t off, uint8_t ret[16]) {
        from128(to128(n->addr) + off, ret);
}

bool ipam_pool_spec_is6(const char *s) {
        const char *b = s ? strstr(s, "base=") : NULL;
        if (!b)
                return false;
        const char *end = strchr(b, ',');
        const char *colon = strchr(b, ':');
        return colon && (!end || colon < end);
}

int ipam_parse_pool_spec6(const char *s, struct ipam_pool_spec6 *ret) {
        char buf[160];
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
                        if (ipam_parse_cidr6(eq + 1, false, &ret->base, NULL) < 0)
                                return -EINVAL;
                        have_base = true;
                } else if (strcmp(kv, "size") == 0) {
                        char *end;
                        long v = strtol(eq + 1, &end, 10);
                        if (end == eq + 1 || *end || v < 1 || v > 128)
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

int ipam_pick_subnet6(const struct ipam_pool_spec6 *spec, const struct ipv6_net *used, size_t n_used,
                      struct ipv6_net *ret) {
        /* Candidates in order; a used network skips every candidate it covers. At most
         * n_used + 1 steps, however large the pool. */
        int bits = spec->size - spec->base.prefix;
        u128 count = bits >= 127 ? ~(u128) 0 : (u128) 1 << bits;
        u128 step = size6(spec->size);
        u128 base = to128(spec->base.addr);
        for (u128 i = 0; i < count;) {
                struct ipv6_net cand = { .prefix = spec->size };
                from128(base + i * step, cand.addr);
                const struct ipv6_net *clash = NULL;
                for (size_t j = 0; j < n_used && !clash; j++)
                        if (ipam_overlap6(&cand, &used[j]))
                                clash = &used[j];
                if (!clash) {
                        *ret = cand;
                        return 0;
                }
                if (clash->prefix >= spec->size) {
                        i++;
                        continue;
                }
                /* The used network is larger: go past its end. */
                u128 end = (to128(clash->addr) & mask6(clash->prefix)) + size6(clash->prefix);
                if (end <= base + i * step)
                        return -ENOSPC; /* wrapped around the address space */
                i = (end - base) / step;
        }
        return -ENOSPC;
}

void ipam_ula_pool(const char *host_id, struct ipam_pool_spec6 *ret) {
        uint8_t sha[32];
        digest_sha256_raw(host_id ? host_id : "", host_id ? strlen(host_id) : 0, sha);
        memset(ret, 0, sizeof(*ret));
        ret->base.addr[0] = 0xfd;
        /* The 40 low bits of the digest's first 8 bytes (big endian) follow fd. */
        memcpy(&ret->base.addr[1], &sha[3], 5);
        ret->base.prefix = 48;
        ret->size = 64;
}

static int cmp16(const void *a, const void *b) {
        return memcmp(a, b, 16);
}

static bool in_list(uint8_t (*v)[16], size_t n, const uint8_t ip[16]) {
        return n > 0 && bsearch(ip, v, n, 16, cmp16) != NULL;
}

static int list_add(uint8_t (**v)[16], size_t *n, size_t *cap, const uint8_t ip[16]) {
        if (*n == *cap) {
                size_t nc = *cap ? *cap * 2 : 16;
                uint8_t (*nv)[16] = realloc(*v, nc * 16);
                if (!nv)
                        return -ENOMEM;
                *v = nv;
                *cap = nc;
        }
        size_t i = *n;
        while (i > 0 && memcmp((*v)[i - 1], ip, 16) > 0) {
                memcpy((*v)[i], (*v)[i - 1], 16);
                i--;
        }
        memcpy((*v)[i], ip, 16);
        (*n)++;
        return 0;
}

static void list_del(uint8_t (*v)[16], size_t *n, const uint8_t ip[16]) {
        uint8_t (*hit)[16] = *n ? bsearch(ip, v, *n, 16, cmp16) : NULL;
        if (!hit)
                return;
        size_t i = (size_t) (hit - v);
        memmove(v[i], v[i + 1], (*n - i - 1) * 16);
        (*n)--;
}

int ipam_alloc6_init(struct ipam_alloc6 *a, const struct ipv6_net *subnet, const struct ipv6_net *range,
                     const uint8_t gateway[16]) {
        memset(a, 0, sizeof(*a));
        if (range && (!ipam_contains6(subnet, range->addr) || range->prefix < subnet->prefix))
                return -ERANGE;
        a->subnet = *subnet;
        a->range = range ? *range : *subnet;
        if (gateway && !ipam_ip6_is_zero(gateway)) {
                memcpy(a->gateway, gateway, 16);
                if (ipam_contains6(subnet, gateway)) {
                        int r = ipam_alloc6_reserve(a, gateway);
                        if (r < 0 && r != -EEXIST) {
                                ipam_alloc6_done(a);
                                return r;
                        }
                }
        }
        a->next = 0;
        return 0;
}

void ipam_alloc6_done(struct ipam_alloc6 *a) {
        free(a->taken);
        free(a->reserved);
        a->taken = NULL;
        a->reserved = NULL;
        a->n_taken = a->cap_taken = a->n_reserved = 0;
}

bool ipam_alloc6_is_taken(const struct ipam_alloc6 *a, const uint8_t ip[16]) {
        if (!ipam_contains6(&a->subnet, ip))
                return false;
        if (to128(ip) == to128(a->subnet.addr) && a->subnet.prefix < 127)
                return true; /* the subnet-router anycast address */
        return in_list(a->taken, a->n_taken, ip);
}

int ipam_alloc6_take(struct ipam_alloc6 *a, const uint8_t *want, uint8_t ret[16]) {
        if (want && !ipam_ip6_is_zero(want)) {
                if (!ipam_contains6(&a->subnet, want))
                        return -ERANGE;
                if (ipam_alloc6_is_taken(a, want))
                        return -EEXIST;
                int r = list_add(&a->taken, &a->n_taken, &a->cap_taken, want);
                if (r < 0)
                        return r;
                memcpy(ret, want, 16);
                return 0;
        }
        /* The range's addresses from a->next on, wrapping: at most n_taken + 2 probes
         * find a free one when there is one (the taken list is all that can be in the way). */
        u128 n = size6(a->range.prefix);
        u128 lo = to128(a->range.addr);
        u128 start = a->next < n ? a->next : 0;
        u128 limit = (u128) a->n_taken + 2;
        if (limit > n)
                limit = n;
        for (u128 i = 0; i < limit; i++) {
                u128 off = (start + i) % n;
                uint8_t cand[16];
                from128(lo + off, cand);
                if (ipam_alloc6_is_taken(a, cand))
                        continue;
                int r = list_add(&a->taken, &a->n_taken, &a->cap_taken, cand);
                if (r < 0)
                        return r;
                a->next = (uint64_t) ((off + 1) % n);
                memcpy(ret, cand, 16);
                return 0;
        }
        return -ENOSPC;
}

int ipam_alloc6_reserve(struct ipam_alloc6 *a, const uint8_t ip[16]) {
        uint8_t got[16];
        int r = ipam_alloc6_take(a, ip, got);
        if (r < 0)
                return r;
        size_t cap = a->n_reserved;
        r = list_add(&a->reserved, &a->n_reserved, &cap, ip);
        if (r < 0)
                list_del(a->taken, &a->n_taken, ip);
        return r;
}

void ipam_alloc6_release(struct ipam_alloc6 *a, const uint8_t ip[16]) {
        if (in_list(a->reserved, a->n_reserved, ip))
                return;
        list_del(a->taken, &a->n_taken, ip);
}
