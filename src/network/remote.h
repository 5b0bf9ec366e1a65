/* remote.h - network and IPAM drivers that are plugins: libnetwork's remote driver
 * protocol (NetworkDriver.*, IpamDriver.*), internal to src/network/.
 *
 * remote_msg.c builds the requests and reads the answers (pure functions, unit-tested in
 * tests/unit/test_net_remote.c); remote.c makes the calls through the plugin registry;
 * remote_link.c moves the link a driver made into the container and back. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipam.h"

struct berr;
struct plugin_registry;

/* libnetwork's netlabels */
#define REMOTE_LABEL_GATEWAY "com.docker.network.gateway"
#define REMOTE_LABEL_ADDR_TYPE "RequestAddressType"
#define REMOTE_LABEL_MAC "com.docker.network.endpoint.macaddress"
#define REMOTE_LABEL_GENERIC "com.docker.network.generic"
#define REMOTE_LABEL_IPV6 "com.docker.network.enable_ipv6"
#define REMOTE_LABEL_INTERNAL "com.docker.network.internal"
#define REMOTE_LABEL_PORTMAP "com.docker.network.portmap"
#define REMOTE_LABEL_EXPOSED "com.docker.network.endpoint.exposedports"

#define REMOTE_MAX_ROUTES 64
#define REMOTE_ID_MAX 256 /* a pool ID, an address space: the plugin's strings, bounded */

/* ---- messages (remote_msg.c) ---- */

/* The error an answer carries: "Err" (network drivers) or "Error" (IPAM drivers); NULL
 * when none or empty. */
const char *remote_answer_error(json_t *answer);

/* NetworkDriver.GetCapabilities: "local" or "global" (ConnectivityScope defaults to it). */
int remote_parse_capabilities(json_t *answer, char ret_scope[8], struct berr *err);

/* NetworkDriver.CreateNetwork's request: @options the user's -o (a map of strings, may be
 * NULL), the one IPv4 pool with its gateway (0: none) and auxiliary addresses (a map of
 * name to address, may be NULL), and (@pool6 not NULL: --ipv6) the IPv6 pool and gateway. */
json_t *remote_create_network_req(const char *net_id, json_t *options, bool internal, const char *addr_space,
                                  const struct ipv4_net *pool, uint32_t gateway, json_t *aux,
                                  const struct ipv6_net *pool6, const uint8_t *gateway6);

/* IpamDriver.GetCapabilities: whether RequestAddress wants the endpoint's MAC. */
bool remote_ipam_requires_mac(json_t *answer);

/* IpamDriver.RequestPool's answer: its ID, the pool, and the gateway its Data names (0,
 * all zero). @v6: the pool asked with V6, which must be an IPv6 one. */
struct remote_pool {
        char id[REMOTE_ID_MAX];
        struct ipv4_net pool;
        uint32_t gateway;
        struct ipv6_net pool6;
        uint8_t gateway6[16];
};
int remote_parse_pool(json_t *answer, bool v6, struct remote_pool *ret, struct berr *err);

/* IpamDriver.RequestAddress's answer: "a.b.c.d/n" (or, _6, an IPv6 one). */
int remote_parse_address(json_t *answer, uint32_t *ret_ip, int *ret_prefix, struct berr *err);
int remote_parse_address6(json_t *answer, uint8_t ret_ip[16], int *ret_prefix, struct berr *err);

/* NetworkDriver.CreateEndpoint's answer: what the driver set on the interface that the
 * request left empty (a MAC only: berth's IPAM always gave the addresses, @sent_addr and
 * @sent_addr6 (NULL: none); a driver that changes them is an error, as in dockerd). */
int remote_parse_endpoint(json_t *answer, const char *sent_addr, const char *sent_addr6, bool *ret_has_mac,
                          uint8_t ret_mac[6], struct berr *err);

/* NetworkDriver.Join's answer. */
struct remote_route {
        int type;               /* 0: through the next hop, 1: connected (on the link) */
        bool v6;                /* dst6 and next_hop6, else dst and next_hop */
        struct ipv4_net dst;
        uint32_t next_hop;
        struct ipv6_net dst6;
        uint8_t next_hop6[16];
};
struct remote_join {
        char src_name[16];      /* the link the driver made, in berthd's namespace */
        char dst_prefix[16];
        uint32_t gateway;       /* 0: none */
        bool has_gateway6;
        uint8_t gateway6[16];
        struct remote_route routes[REMOTE_MAX_ROUTES];
        size_t n_routes;
        bool disable_gateway_service;
};
int remote_parse_join(json_t *answer, struct remote_join *ret, struct berr *err);

/* The container's name for the link: @dst_prefix with the index berth gave @ifname
 * ("eth" and "eth1" -> "eth1"; "foo" and "eth1" -> "foo1"). -EINVAL when it does not fit. */
int remote_ifname(const char *dst_prefix, const char *ifname, char out[16]);

/* ---- calls (remote.c): each through plugin_get (retrying a plugin that is not there
 * within dockerd's window), an answer's error worded as dockerd's "remote: MESSAGE" ---- */

int remote_driver_call(struct plugin_registry *reg, const char *driver, const char *method, json_t *args,
                       json_t **ret, struct berr *err);
int remote_ipam_call(struct plugin_registry *reg, const char *driver, const char *method, json_t *args,
                     json_t **ret, struct berr *err);
/* Whether @name is a network (or IPAM) driver plugin that can be found and activated. */
int remote_driver_find(struct plugin_registry *reg, const char *name, struct berr *err);
int remote_ipam_find(struct plugin_registry *reg, const char *name, struct berr *err);

/* ---- the container's link (remote_link.c) ---- */

/* Move @src_name into the namespace at @ns_path as @name (down, renamed, @mac when
 * @has_mac, up), with @ip/@prefix, a default route through @gw (0: none) and @routes. */
struct remote_link_req {
        const char *src_name, *ns_path, *name;
        bool has_mac;
        uint8_t mac[6];
        uint32_t ip;
        int prefix;
        uint32_t gw;
        bool has_ip6;           /* @ip6/@prefix6 too, and a default route through @gw6 (NULL: none) */
        uint8_t ip6[16];
        int prefix6;
        const uint8_t *gw6;
        const struct remote_route *routes;
        size_t n_routes;
};
/* *@ret_mac: the link's MAC address once inside. */
int remote_link_move_in(const struct remote_link_req *q, uint8_t ret_mac[6], struct berr *err);
/* dockerd's interface removal: @name in the namespace goes down, takes back @src_name and
 * returns to berthd's namespace (for the driver's DeleteEndpoint to find); without
 * @src_name it is deleted. */
void remote_link_move_out(const char *ns_path, const char *name, const char *src_name);
