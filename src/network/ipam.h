/* ipam.h - IPv4 address arithmetic and the address allocator of one network (pure logic,
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
