/* sublink.c - the macvlan and ipvlan drivers: a network is a parent link of the host (given
 * with -o parent=, an 802.1q "eth0.10" made when missing, or a dummy "dm-<id>"/"di-<id>"
 * made for a network without one, as dockerd does) and each endpoint a macvlan or ipvlan
 * link on it, born inside the container's namespace. No bridge, no firewall rules, no
 * published ports: containers sit on the parent's segment directly.
 *
 * Errors are dockerd's drivers' own words; dockerd answers them with 500 (they are plain
 * errors in its drivers), and so does berth. */
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/log.h"
#include "netlink.h"
#include "store_int.h"
#include "sublink.h"

bool net_driver_is_sublink(const char *driver) {
        return driver && (strcmp(driver, "macvlan") == 0 || strcmp(driver, "ipvlan") == 0);
}

bool net_driver_has_endpoints(const char *driver) {
        return driver && (strcmp(driver, "bridge") == 0 || net_driver_is_sublink(driver) || net_driver_is_remote(driver));
}

static const char *opt(json_t *options, const char *key) {
        const char *v = json_string_value(json_object_get(options, key));
        return v && *v ? v : NULL;
}

struct name_val {
        const char *name;
        int val;
};
static const struct name_val macvlan_modes[] = { { "bridge", MACVLAN_MODE_BRIDGE }, { "private", MACVLAN_MODE_PRIVATE },
                                                 { "vepa", MACVLAN_MODE_VEPA }, { "passthru", MACVLAN_MODE_PASSTHRU } };
static const struct name_val ipvlan_modes[] = { { "l2", IPVLAN_MODE_L2 }, { "l3", IPVLAN_MODE_L3 }, { "l3s", IPVLAN_MODE_L3S } };
static const struct name_val ipvlan_flags[] = { { "bridge", 0 }, { "private", IPVLAN_F_PRIVATE }, { "vepa", IPVLAN_F_VEPA } };

static int lookup(const struct name_val *t, size_t n, const char *name, int *ret) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(t[i].name, name) == 0) {
                        *ret = t[i].val;
                        return 0;
                }
        return -EINVAL;
}

int sublink_parse(const char *driver, json_t *options, struct sublink_cfg *ret, struct berr *err) {
        memset(ret, 0, sizeof(*ret));
        bool ipvlan = strcmp(driver, "ipvlan") == 0;
        const char *mode = opt(options, ipvlan ? "ipvlan_mode" : "macvlan_mode");
        if (ipvlan) {
                if (lookup(ipvlan_modes, ELEMENTSOF(ipvlan_modes), mode ?: "l2", &ret->mode) < 0)
                        return berr_set(err, BERR_INTERNAL, EINVAL, "requested ipvlan mode '%s' is not valid, 'l2' mode is "
                                        "the ipvlan driver default", mode);
                const char *flag = opt(options, "ipvlan_flag");
                if (lookup(ipvlan_flags, ELEMENTSOF(ipvlan_flags), flag ?: "bridge", &ret->flags) < 0)
                        return berr_set(err, BERR_INTERNAL, EINVAL, "requested ipvlan flag '%s' is not valid, 'bridge' is "
                                        "the ipvlan driver default", flag);
        } else if (lookup(macvlan_modes, ELEMENTSOF(macvlan_modes), mode ?: "bridge", &ret->mode) < 0)
                return berr_set(err, BERR_INTERNAL, EINVAL, "requested macvlan mode '%s' is not valid, 'bridge' mode is "
                                "the macvlan driver default", mode);
        const char *parent = opt(options, "parent");
        if (parent && strcmp(parent, "lo") == 0)
                return berr_set(err, BERR_INTERNAL, EINVAL, "loopback interface is not a valid %s parent link", driver);
        if (parent && !net_valid_bridge_name(parent))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid parent interface name %s: at most 15 of [A-Za-z0-9_.-]",
                                parent);
        snprintf(ret->parent, sizeof(ret->parent), "%s", parent ?: "");
        return 0;
}

/* dockerd's name of the dummy parent of a network made without one (and of any network
 * in its "already using parent" message). */
static void dummy_name(const char *driver, const char *net_id, char out[16]) {
        snprintf(out, 16, "%s-%.12s", strcmp(driver, "ipvlan") == 0 ? "di" : "dm", net_id);
}

/* An 802.1q link "name.vid" on an existing "name", checked as dockerd checks it. */
static int make_vlan(const char *link, struct berr *err) {
        const char *dot = strchr(link, '.');
        if (!dot)
                return berr_set(err, BERR_INTERNAL, EINVAL, "invalid subinterface vlan name %s, example formatting is eth0.10",
                                link);
        if (strchr(dot + 1, '.'))
                return berr_set(err, BERR_INTERNAL, EINVAL, "required interface name format is: name.vlan_id, ex. eth0.10 for "
                                "vlan 10, instead received %s", link);
        char *end;
        long vid = strtol(dot + 1, &end, 10);
        if (!dot[1] || *end)
                return berr_set(err, BERR_INTERNAL, EINVAL, "unable to parse a valid vlan id from: %s (ex. eth0.10 for vlan 10)",
                                dot + 1);
        char parent[16];
        snprintf(parent, sizeof(parent), "%.*s", (int) (dot - link), link);
        if (if_nametoindex(parent) == 0)
                return berr_set(err, BERR_INTERNAL, ENODEV, "-o parent interface was not found on the host: %s", parent);
        if (vid < 1 || vid > 4094)
                return berr_set(err, BERR_INTERNAL, EINVAL, "vlan id must be between 1-4094, received: %ld", vid);
        return nl_vlan_create(link, parent, (int) vid, err);
}

int sublink_attach_parent(struct net_store *s, const char *driver, const char *net_id, struct sublink_cfg *c,
                          struct berr *err) {
        bool ipvlan = strcmp(driver, "ipvlan") == 0;
        c->internal = !c->parent[0];
        if (!c->parent[0])
                dummy_name(driver, net_id, c->parent);
        bool parent_ours = false;
        for (struct network *w = s->nets; w; w = w->next) {
                if (!net_driver_is_sublink(w->info.driver) || strcmp(w->parent, c->parent) != 0)
                        continue;
                char dn[16];
                dummy_name(w->info.driver, w->info.id, dn);
                /* The kernel takes macvlans or ipvlans on one link, not both. */
                if (ipvlan || strcmp(w->info.driver, "ipvlan") == 0)
                        return berr_set(err, BERR_INTERNAL, EBUSY, "network %s is already using parent interface %s", dn,
                                        c->parent);
                if (c->mode == MACVLAN_MODE_PASSTHRU)
                        return berr_set(err, BERR_INTERNAL, EBUSY, "cannot use mode passthru, macvlan network %s is already "
                                        "using parent interface %s", w->info.id, c->parent);
                if (w->sub_mode == MACVLAN_MODE_PASSTHRU)
                        return berr_set(err, BERR_INTERNAL, EBUSY, "macvlan network %s is already using parent interface %s "
                                        "in mode passthru", w->info.id, c->parent);
                parent_ours |= w->parent_created;
        }
        c->created = parent_ours;
        if (if_nametoindex(c->parent) > 0)
                return 0;
        char dn[16];
        dummy_name(driver, net_id, dn);
        int r = strcmp(dn, c->parent) == 0 ? nl_dummy_create(c->parent, err) : make_vlan(c->parent, err);
        if (r == 0)
                c->created = true;
        return r;
}

void sublink_detach_parent(struct net_store *s, struct network *n) {
        if (!n->parent_created || !n->parent[0])
                return;
        for (struct network *w = s->nets; w; w = w->next)
                if (w != n && net_driver_is_sublink(w->info.driver) && strcmp(w->parent, n->parent) == 0)
                        return; /* another network still uses it */
        char dn[16];
        dummy_name(n->info.driver, n->info.id, dn);
        /* Only what berth made goes: the dummy of this network, or a "name.vid" link. */
        if (strcmp(dn, n->parent) == 0 || strchr(n->parent, '.'))
                nl_link_delete(n->parent);
}

int sublink_from_record(struct net_store *s, struct network *n, struct berr *err) {
        (void) s;
        json_t *r = n->rec;
        struct sublink_cfg c;
        int e = sublink_parse(n->info.driver, json_object_get(r, "Options"), &c, err);
        if (e < 0)
                return e;
        const char *parent = json_string_value(json_object_get(r, "BerthParent"));
        if (!parent || !*parent || strlen(parent) >= sizeof(n->parent))
                return berr_set(err, BERR_INTERNAL, EINVAL, "network %s: no parent interface", n->info.name);
        snprintf(n->parent, sizeof(n->parent), "%s", parent);
        n->parent_created = json_is_true(json_object_get(r, "BerthCreatedParent"));
        n->sub_mode = c.mode;
        n->sub_flags = c.flags;
        n->sub_internal = n->info.internal || !opt(json_object_get(r, "Options"), "parent");
        return 0; /* the addresses: the IPAM record, read as a bridge network's (store.c) */
}

void sublink_join_req(const struct network *n, struct nl_sublink_req *q) {
        bool ipvlan = strcmp(n->info.driver, "ipvlan") == 0;
        bool l3 = ipvlan && n->sub_mode != IPVLAN_MODE_L2;
        q->kind = n->info.driver;
        q->parent = n->parent;
        q->mode = n->sub_mode;
        q->flags = n->sub_flags;
        q->has_mac = !ipvlan;
        /* dockerd: a gateway route only when a gateway was given; ipvlan l3/l3s route
         * through the device; --internal or no parent: none. */
        q->route_dev = l3;
        q->default_route = q->default_route && !n->sub_internal; /* through gw / gw6 when not zero */
}
