/* store_remote.c - a network's plugins (remote.h): an IPAM plugin's pools, gateway and
 * auxiliary addresses when the network is made, their release and the driver's
 * DeleteNetwork when it goes (split from store.c; an endpoint's plugin calls are in
 * store_ep.c). */
#include "network.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "ipam.h"
#include "remote.h"

#include "store_int.h"

/* ---- IPAM and network driver plugins (remote.h): never called under s->lock ---- */

int store_ipam_release_addr(struct net_store *s, const char *driver, const char *pool_id, uint32_t ip,
                            struct berr *err) {
        char a[16];
        ipam_format_ip4(ip, a);
        return remote_ipam_call(s->plugins, driver, "ReleaseAddress", json_pack("{s:s, s:s}", "PoolID", pool_id,
                                                                                 "Address", a), NULL, err);
}

int store_ipam_release_addr6(struct net_store *s, const char *driver, const char *pool_id, const uint8_t ip6[16],
                             struct berr *err) {
        char a[46];
        ipam_format_ip6(ip6, a);
        return remote_ipam_call(s->plugins, driver, "ReleaseAddress", json_pack("{s:s, s:s}", "PoolID", pool_id,
                                                                                 "Address", a), NULL, err);
}

/* The IPv6 pool of a network going: its gateway (asked of the plugin: @gw6 not NULL), then
 * the pool. */
static void ipam_plugin_release6(struct net_store *s, const char *driver, const char *pool_id, const uint8_t *gw6) {
        struct berr e = { 0 };
        if (gw6 && store_ipam_release_addr6(s, driver, pool_id, gw6, &e) < 0)
                log_warn("IPAM plugin %s: release IPv6 gateway: %s", driver, e.msg);
        if (remote_ipam_call(s->plugins, driver, "ReleasePool", json_pack("{s:s}", "PoolID", pool_id), NULL, &e) < 0)
                log_warn("IPAM plugin %s: release pool %s: %s", driver, pool_id, e.msg);
}

/* libnetwork's release of a network's addresses: the gateway (if asked of the plugin),
 * the auxiliary addresses, then the pool. Failures are logged: the network goes anyway. */
static void ipam_plugin_release(struct net_store *s, const char *driver, const char *pool_id, uint32_t gw,
                                const uint32_t *aux, size_t n_aux) {
        struct berr e = { 0 };
        if (gw && store_ipam_release_addr(s, driver, pool_id, gw, &e) < 0)
                log_warn("IPAM plugin %s: release gateway: %s", driver, e.msg);
        for (size_t i = 0; i < n_aux; i++)
                if (store_ipam_release_addr(s, driver, pool_id, aux[i], &e) < 0)
                        log_warn("IPAM plugin %s: release auxiliary address: %s", driver, e.msg);
        if (remote_ipam_call(s->plugins, driver, "ReleasePool", json_pack("{s:s}", "PoolID", pool_id), NULL, &e) < 0)
                log_warn("IPAM plugin %s: release pool %s: %s", driver, pool_id, e.msg);
}

/* libnetwork's ipamAllocate with a plugin: the default address space, a pool (the subnet
 * and ip-range asked, the --ipam-opt options), the gateway (the one asked, or any, unless
 * the pool's Data names one) and the auxiliary addresses. All or nothing. */
int store_ipam_plugin_grant(struct net_store *s, const char *driver, const char *subnet, const char *range,
                            const char *gw, bool want_gw, json_t *aux, json_t *opts, struct ipam_grant *g,
                            struct berr *err) {
        memset(g, 0, sizeof(*g));
        _cleanup_json_ json_t *caps = NULL, *spaces = NULL, *pool = NULL;
        struct berr e = { 0 };
        /* A plugin without capabilities is one that predates them (libnetwork goes on). */
        if (remote_ipam_call(s->plugins, driver, "GetCapabilities", NULL, &caps, &e) == 0)
                g->wants_mac = remote_ipam_requires_mac(caps);
        int r = remote_ipam_call(s->plugins, driver, "GetDefaultAddressSpaces", NULL, &spaces, err);
        if (r < 0)
                return r;
        snprintf(g->space, sizeof(g->space), "%s",
                 json_string_value(json_object_get(spaces, "LocalDefaultAddressSpace")) ?: "");
        json_t *req = json_pack("{s:s, s:s, s:s, s:O, s:b}", "AddressSpace", g->space, "Pool", subnet ? subnet : "",
                                "SubPool", range ? range : "", "Options", json_is_object(opts) ? opts : json_null(),
                                "V6", 0);
        if ((r = remote_ipam_call(s->plugins, driver, "RequestPool", req, &pool, err)) < 0)
                return r;
        if ((r = remote_parse_pool(pool, false, &g->pool, err)) < 0) {
                const char *id = json_string_value(json_object_get(pool, "PoolID"));
                if (id && *id) /* a pool berth cannot use goes back */
                        ipam_plugin_release(s, driver, id, 0, NULL, 0);
                return r;
        }
        g->gateway = g->pool.gateway;
        if ((gw && *gw) || (!g->gateway && want_gw)) {
                _cleanup_json_ json_t *a = NULL;
                int prefix;
                req = json_pack("{s:s, s:s, s:{s:s}}", "PoolID", g->pool.id, "Address", gw ? gw : "", "Options",
                                REMOTE_LABEL_ADDR_TYPE, REMOTE_LABEL_GATEWAY);
                if ((r = remote_ipam_call(s->plugins, driver, "RequestAddress", req, &a, err)) < 0 ||
                    (r = remote_parse_address(a, &g->gateway, &prefix, err)) < 0) {
                        ipam_plugin_release(s, driver, g->pool.id, 0, NULL, 0);
                        return r;
                }
                g->gw_from_ipam = true;
        }
        const char *k;
        json_t *v;
        json_object_foreach(aux, k, v) {
                _cleanup_json_ json_t *a = NULL;
                int prefix;
                req = json_pack("{s:s, s:s, s:n}", "PoolID", g->pool.id, "Address", json_string_value(v) ?: "", "Options");
                if ((r = remote_ipam_call(s->plugins, driver, "RequestAddress", req, &a, err)) < 0 ||
                    (r = remote_parse_address(a, &g->aux[g->n_aux], &prefix, err)) < 0) {
                        ipam_plugin_release(s, driver, g->pool.id, g->gw_from_ipam ? g->gateway : 0, g->aux, g->n_aux);
                        return r;
                }
                g->n_aux++;
        }
        return 0;
}

/* The IPv6 half of store_ipam_plugin_grant (after the IPv4 one, in the same address space). */
int store_ipam_plugin_grant6(struct net_store *s, const char *driver, const char *subnet, const char *range,
                             const char *gw, json_t *opts, struct ipam_grant *g, struct berr *err) {
        _cleanup_json_ json_t *pool = NULL, *a = NULL;
        json_t *req = json_pack("{s:s, s:s, s:s, s:O, s:b}", "AddressSpace", g->space, "Pool", subnet ? subnet : "",
                                "SubPool", range ? range : "", "Options", json_is_object(opts) ? opts : json_null(),
                                "V6", 1);
        int r = remote_ipam_call(s->plugins, driver, "RequestPool", req, &pool, err);
        if (r < 0)
                return r;
        if ((r = remote_parse_pool(pool, true, &g->pool6, err)) < 0) {
                const char *id = json_string_value(json_object_get(pool, "PoolID"));
                if (id && *id)
                        ipam_plugin_release6(s, driver, id, NULL);
                return r;
        }
        memcpy(g->gateway6, g->pool6.gateway6, 16);
        if ((gw && *gw) || ipam_ip6_is_zero(g->gateway6)) {
                int prefix;
                req = json_pack("{s:s, s:s, s:{s:s}}", "PoolID", g->pool6.id, "Address", gw ? gw : "", "Options",
                                REMOTE_LABEL_ADDR_TYPE, REMOTE_LABEL_GATEWAY);
                if ((r = remote_ipam_call(s->plugins, driver, "RequestAddress", req, &a, err)) < 0 ||
                    (r = remote_parse_address6(a, g->gateway6, &prefix, err)) < 0) {
                        ipam_plugin_release6(s, driver, g->pool6.id, NULL);
                        return r;
                }
                g->gw6_from_ipam = true;
        }
        g->has6 = true;
        return 0;
}

void store_ipam_grant_give_back(struct net_store *s, const char *driver, const struct ipam_grant *g) {
        ipam_plugin_release(s, driver, g->pool.id, g->gw_from_ipam ? g->gateway : 0, g->aux, g->n_aux);
        if (g->has6)
                ipam_plugin_release6(s, driver, g->pool6.id, g->gw6_from_ipam ? g->gateway6 : NULL);
}

/* The auxiliary addresses a network's record holds (IPv4). */
static size_t record_aux(json_t *rec, uint32_t *out, size_t max) {
        size_t n = 0;
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(json_array_get(json_object_get(json_object_get(rec, "IPAM"), "Config"), 0),
                                            "AuxiliaryAddresses"), k, v) {
                if (n < max && ipam_parse_ip4(json_string_value(v) ?: "", &out[n]) == 0)
                        n++;
        }
        return n;
}

void store_net_plugins_of(struct network *n, struct net_plugins *p) {
        memset(p, 0, sizeof(*p));
        snprintf(p->id, sizeof(p->id), "%s", n->info.id);
        snprintf(p->driver, sizeof(p->driver), "%s", n->info.driver);
        snprintf(p->ipam_driver, sizeof(p->ipam_driver), "%s", n->ipam_driver);
        snprintf(p->pool_id, sizeof(p->pool_id), "%s", n->pool_id);
        p->remote = n->remote;
        p->remote_ipam = net_ipam_is_remote(n);
        p->gw = n->gw_from_ipam ? n->alloc.gateway : 0;
        snprintf(p->pool_id6, sizeof(p->pool_id6), "%s", n->pool_id6);
        p->has_gw6 = n->gw6_from_ipam;
        memcpy(p->gw6, n->alloc6.gateway, 16);
        p->aux = calloc(MAX_AUX_ADDRESSES, sizeof(*p->aux));
        p->n_aux = p->aux ? record_aux(n->rec, p->aux, MAX_AUX_ADDRESSES) : 0;
}

/* DeleteNetwork, then the IPAM plugin's releases whatever the driver said (libnetwork
 * logs a driver's failure and releases the addresses all the same). */
int store_net_plugins_teardown(struct net_store *s, struct net_plugins *p, struct berr *err) {
        int r = 0;
        if (p->remote)
                r = remote_driver_call(s->plugins, p->driver, "DeleteNetwork", json_pack("{s:s}", "NetworkID", p->id), NULL,
                                       err);
        if (p->remote_ipam)
                ipam_plugin_release(s, p->ipam_driver, p->pool_id, p->gw, p->aux, p->n_aux);
        if (p->remote_ipam && p->pool_id6[0])
                ipam_plugin_release6(s, p->ipam_driver, p->pool_id6, p->has_gw6 ? p->gw6 : NULL);
        free(p->aux);
        p->aux = NULL;
        return r;
}
