/* netlink.h - the kernel side of networks (internal to src/network/): network namespaces
 * bound to files, bridges, veth pairs, addresses and routes, through libnl-route-3. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ipam.h"

struct berr;
struct nl_sock;

/* A NETLINK_ROUTE socket here, or inside the namespace bound at @ns_path (the socket stays
 * in the namespace it was made in; the thread goes back at once). NULL on failure. */
struct nl_sock *nl_route_sock(void);
struct nl_sock *nl_route_sock_in(const char *ns_path);

/* A new network namespace bound (bind mount) at @path, with lo up (127.0.0.1, ::1) and
 * IPv6 duplicate address detection off for the interfaces to come. */
int nl_netns_create(const char *path, struct berr *err);
/* Unmount and remove a bound namespace; the namespace lives on while processes use it. */
void nl_netns_remove(const char *path);

/* The bridge @name up with @gw/@prefix (created if missing; *ret_created says so).
 * @gw 0: no address. */
int nl_bridge_ensure(const char *name, uint32_t gw, int prefix, int mtu, bool *ret_created, struct berr *err);
/* IPv6 on bridge @name: @gw/@prefix added (no duplicate address detection). */
int nl_bridge_addr6(const char *name, const uint8_t gw[16], int prefix, struct berr *err);
/* The first IPv4 address of link @name, if it exists and has one (1), else 0. */
int nl_link_addr4(const char *name, struct ipv4_net *ret_net, uint32_t *ret_ip);
bool nl_link_exists(const char *name);
void nl_link_delete(const char *name);
/* Delete link @name (by its index, taken now) from a thread of its own: a device's
 * deletion waits for the kernel's RCU grace periods (linkreap.c). @done(@arg), when
 * given, runs once the link is gone (from that thread; at once when there is no such
 * link). nl_link_reap_flush returns once every deletion queued before it is done, its
 * @done included. */
void nl_link_delete_later(const char *name);
void nl_link_delete_later_then(const char *name, void (*done)(void *arg), void *arg);
void nl_link_reap_flush(void);

/* A veth pair: @host_name enslaved to @bridge and up, its peer created inside the
 * namespace bound at @ns_path as @peer_name with @mac, @ip/@prefix, up, with a default
 * route through @gw (0: none). */
struct nl_veth_req {
        const char *host_name, *bridge, *ns_path, *peer_name;
        int mtu;
        uint8_t mac[6];
        uint32_t ip, gw;
        int prefix;
        bool default_route;
        bool has_ip6;          /* an IPv6 address too, and (default_route) ::/0 through gw6 */
        uint8_t ip6[16], gw6[16];
        int prefix6;
};
int nl_veth_create(const struct nl_veth_req *req, struct berr *err);
/* Remove link @name from the namespace bound at @ns_path (for disconnect). */
void nl_link_delete_in(const char *ns_path, const char *name);

/* One more IPv4 address on link @name inside the namespace at @ns_path. */
int nl_addr4_add_in(const char *ns_path, const char *name, uint32_t ip, int prefix, struct berr *err);
/* The parents of macvlan/ipvlan networks: a dummy link, or an 802.1q link @name on @parent
 * with VLAN id @vid; both up. dockerd's messages. */
int nl_dummy_create(const char *name, struct berr *err);
int nl_vlan_create(const char *name, const char *parent, int vid, struct berr *err);
/* A macvlan or ipvlan link on @parent, born inside the namespace at @ns_path as @name,
 * up with @ip/@prefix (and @ip6/@prefix6 with @has_ip6) and default routes: through @gw
 * (and @gw6; zero: no route), or (@route_dev, ipvlan l3/l3s) through the device itself;
 * none without @default_route. The addresses and routes are set as nl_veth_create sets
 * them (one function in netlink.c). */
struct nl_sublink_req {
        const char *kind;     /* "macvlan" or "ipvlan" */
        const char *parent, *ns_path, *name;
        int mode;             /* MACVLAN_MODE_* or IPVLAN_MODE_* */
        int flags;            /* IPVLAN_F_* */
        bool has_mac;
        uint8_t mac[6];
        int mtu;
        uint32_t ip, gw;
        int prefix;
        bool default_route, route_dev;
        bool has_ip6;
        uint8_t ip6[16], gw6[16];
        int prefix6;
};
int nl_sublink_create(const struct nl_sublink_req *q, struct berr *err);

/* MTU of the interface of the host's default route (0 if none). */
int nl_default_route_mtu(void);
/* Whether an IPv4 route of the host (other than a default route) overlaps @n. */
bool nl_route_overlaps(const struct ipv4_net *n, const char *except_dev);
/* Whether an IPv6 route of the host (not a default route) overlaps @n. */
bool nl_route6_overlaps(const struct ipv6_net *n);

/* Per-interface counters inside the namespace bound at @ns_path (or the namespace of
 * @pid when @ns_path is NULL): Docker's stats "networks" object. NULL on failure. */
struct json_t;
struct json_t *nl_netns_stats(const char *ns_path);
