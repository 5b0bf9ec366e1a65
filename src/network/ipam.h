/* ipam.h - IPv4 and IPv6 address arithmetic and the address allocators of one network (pure logic,
 * no I/O: unit-tested in tests/unit/test_ipam.c). Addresses are in host byte order. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ipv4_net {
        uint32_t addr; /* network address (host bits cleared) */
        int prefix;    /* 0..32 */
};

/* "a.b.c.d" */
int ipam_parse_ip4(const char *s, uint32_t *ret);
/* "a.b.c.d/n". With @strict, host bits set is an error (-EINVAL); else they are cleared
 * and *ret_host (may be NULL) keeps the address as written ("--bip 10.1.0.1/24"). */
int ipam_parse_cidr4(const char *s, bool strict, struct ipv4_net *ret, uint32_t *ret_host);
void ipam_format_ip4(uint32_t ip, char out[16]);
void ipam_format_cidr4(const struct ipv4_net *n, char out[20]);
uint32_t ipam_mask4(int prefix);
bool ipam_contains4(const struct ipv4_net *n, uint32_t ip);
bool ipam_overlap4(const struct ipv4_net *a, const struct ipv4_net *b);

/* Docker's default address pools: "base=172.17.0.0/16,size=16" style entries. */
struct ipam_pool_spec {
        struct ipv4_net base;
        int size; /* prefix length of the networks cut from base */
};
int ipam_parse_pool_spec(const char *s, struct ipam_pool_spec *ret);
/* The first network of @size cut from @spec's base that overlaps none of @used[0..n).
 * Returns 0, or -ENOSPC when the pool is exhausted. */
int ipam_pick_subnet(const struct ipam_pool_spec *spec, const struct ipv4_net *used, size_t n_used,
                     struct ipv4_net *ret);

/* The addresses of one subnet: a bitmap over the allocatable range (the subnet, or the
 * --ip-range inside it), the network and broadcast addresses and the gateway taken. */
struct ipam_alloc {
        struct ipv4_net subnet;
        struct ipv4_net range;  /* where dynamic addresses come from */
        uint32_t gateway;       /* 0: none */
        uint8_t *bits;          /* one bit per address of the subnet */
        uint32_t count;         /* addresses in the subnet */
        uint32_t next;          /* offset where the next dynamic search starts (Docker: serial) */
        uint32_t *reserved;     /* auxiliary addresses: taken for good (ipam_alloc_reserve) */
        size_t n_reserved;
};
/* @range may be NULL (the whole subnet). Subnets larger than /8 are refused (-E2BIG). */
int ipam_alloc_init(struct ipam_alloc *a, const struct ipv4_net *subnet, const struct ipv4_net *range,
                    uint32_t gateway);
void ipam_alloc_done(struct ipam_alloc *a);
/* @want 0: the next free address of the range; else that address (-EEXIST taken,
 * -ERANGE outside the subnet). -ENOSPC when full. */
int ipam_alloc_take(struct ipam_alloc *a, uint32_t want, uint32_t *ret);
void ipam_alloc_release(struct ipam_alloc *a, uint32_t ip);
bool ipam_alloc_is_taken(const struct ipam_alloc *a, uint32_t ip);

/* ---- IPv6 ---- Addresses are 16 bytes in network order; arithmetic on them is done on
 * 128-bit integers inside ipam.c. */
struct ipv6_net {
        uint8_t addr[16]; /* network address (host bits cleared) */
        int prefix;       /* 0..128 */
};

int ipam_parse_ip6(const char *s, uint8_t ret[16]);
/* "fd00::/64", as ipam_parse_cidr4. */
int ipam_parse_cidr6(const char *s, bool strict, struct ipv6_net *ret, uint8_t ret_host[16]);
/* Canonical text (RFC 5952, as Go prints it). */
void ipam_format_ip6(const uint8_t ip[16], char out[46]);
void ipam_format_cidr6(const struct ipv6_net *n, char out[50]);
bool ipam_contains6(const struct ipv6_net *n, const uint8_t ip[16]);
bool ipam_overlap6(const struct ipv6_net *a, const struct ipv6_net *b);
bool ipam_ip6_is_zero(const uint8_t ip[16]);
/* @n's network address plus @off (the gateway: +1). */
void ipam_ip6_add(const struct ipv6_net *n, uint64_t off, uint8_t ret[16]);

/* An IPv6 default address pool ("base=fd00::/48,size=64"): ipam_parse_pool_spec6 takes
 * the same text as ipam_parse_pool_spec with an IPv6 base. */
struct ipam_pool_spec6 {
        struct ipv6_net base;
        int size;
};
int ipam_parse_pool_spec6(const char *s, struct ipam_pool_spec6 *ret);
/* Whether a pool spec's base is IPv6 (then ipam_parse_pool_spec6 reads it). */
bool ipam_pool_spec_is6(const char *s);
int ipam_pick_subnet6(const struct ipam_pool_spec6 *spec, const struct ipv6_net *used, size_t n_used,
                      struct ipv6_net *ret);
/* dockerd's default IPv6 pool: fd00::/8 plus 40 bits of SHA-256(@host_id) as a /48, cut in /64s. */
void ipam_ula_pool(const char *host_id, struct ipam_pool_spec6 *ret);

/* The addresses of one IPv6 subnet: subnets are too large for a bitmap, so the taken
 * addresses are a sorted array (a network has at most as many as it has endpoints, plus
 * its gateway and auxiliary addresses). The subnet-router anycast address (host bits
 * zero) is never handed out, as in dockerd. */
struct ipam_alloc6 {
        struct ipv6_net subnet;
        struct ipv6_net range;
        uint8_t gateway[16];    /* all zero: none */
        uint8_t (*taken)[16];
        size_t n_taken, cap_taken;
        uint8_t (*reserved)[16]; /* gateway and auxiliary addresses: never released */
        size_t n_reserved;
        uint64_t next;          /* offset in the range where the next dynamic search starts */
};
int ipam_alloc6_init(struct ipam_alloc6 *a, const struct ipv6_net *subnet, const struct ipv6_net *range,
                     const uint8_t gateway[16]);
void ipam_alloc6_done(struct ipam_alloc6 *a);
/* @want NULL or all zero: the next free address of the range. -EEXIST, -ERANGE, -ENOSPC
 * as ipam_alloc_take. */
int ipam_alloc6_take(struct ipam_alloc6 *a, const uint8_t *want, uint8_t ret[16]);
void ipam_alloc6_release(struct ipam_alloc6 *a, const uint8_t ip[16]);
bool ipam_alloc6_is_taken(const struct ipam_alloc6 *a, const uint8_t ip[16]);
/* An auxiliary address: taken for good (-ERANGE outside the subnet, -EEXIST taken). */
int ipam_alloc6_reserve(struct ipam_alloc6 *a, const uint8_t ip[16]);
/* The same for IPv4: ipam_alloc_release never gives it back. */
int ipam_alloc_reserve(struct ipam_alloc *a, uint32_t ip);
