/* sublink.h - the macvlan and ipvlan drivers (internal to src/network/). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "netlink.h"

struct berr;
struct net_store;
struct network;

/* A macvlan/ipvlan network's options: -o parent=, macvlan_mode, ipvlan_mode, ipvlan_flag. */
struct sublink_cfg {
        char parent[16];      /* "" when not given */
        int mode, flags;      /* the kernel's MACVLAN_MODE_* / IPVLAN_MODE_*, IPVLAN_F_* */
        bool created;         /* berth made the parent (sublink_attach_parent) */
        bool internal;        /* no parent given: a dummy, no way out (dockerd) */
};
bool net_driver_is_sublink(const char *driver);
int sublink_parse(const char *driver, json_t *options, struct sublink_cfg *ret, struct berr *err);
/* For a new network @net_id: check the parent against the other networks and make it (a
 * dummy, or "name.vid") when missing. Caller holds s->lock. */
int sublink_attach_parent(struct net_store *s, const char *driver, const char *net_id, struct sublink_cfg *c,
                          struct berr *err);
/* The network goes: its parent too, if berth made it and no other network uses it.
 * Caller holds s->lock; @n is already out of s->nets. */
void sublink_detach_parent(struct net_store *s, struct network *n);
/* Fill the in-memory network from its record. */
int sublink_from_record(struct net_store *s, struct network *n, struct berr *err);
/* The driver's part of an endpoint's link: kind, parent, modes, routes (q->default_route
 * is what the container wants; it is narrowed here). */
void sublink_join_req(const struct network *n, struct nl_sublink_req *q);
