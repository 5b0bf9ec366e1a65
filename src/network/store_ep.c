/* store_ep.c - endpoints: a container's join of a network (berth's own drivers: the address,
 * the veth or macvlan/ipvlan link in its namespace; a driver plugin's: CreateEndpoint, Join,
 * its link moved in), leave (the host veth deleted by linkreap.c, the addresses given back
 * after), restore at start-up, and the namespaces themselves, the sandboxes (split from
 * store.c). */
#include "network.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/id.h"
#include "common/log.h"
#include "ipam.h"
#include "netlink.h"
#include "remote.h"
#include "sublink.h"

#define MAX_ENDPOINTS 65536

#include "store_int.h"

/* ---- endpoints ---- */

static void host_ifname(const char *ctr_id, const char *net_id, char out[16]) {
        char key[160], h[33];
        snprintf(key, sizeof(key), "%s/%s", ctr_id, net_id);
        hash128_hex(key, strlen(key), h);
        snprintf(out, 16, "veth%.11s", h);
}

static struct endpoint *ep_find(struct network *n, const char *ctr_id) {
        for (size_t i = 0; i < n->n_eps; i++)
                if (strcmp(n->eps[i].ctr_id, ctr_id) == 0)
                        return &n->eps[i];
        return NULL;
}

static char **strv_copy(const char *const *v) {
        size_t n = 0;
        while (v && v[n])
                n++;
        char **out = calloc(n + 1, sizeof(*out));
        for (size_t i = 0; out && i < n; i++)
                out[i] = strdup(v[i]);
        return out;
}

static int ep_add(struct network *n, const char *ctr_id, const char *ctr_name, const struct net_ep *ep,
                  const char *const *names) {
        if (n->n_eps >= MAX_ENDPOINTS)
                return -ENOSPC;
        struct endpoint *a = realloc(n->eps, (n->n_eps + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        n->eps = a;
        struct endpoint *e = &n->eps[n->n_eps++];
        memset(e, 0, sizeof(*e));
        snprintf(e->ctr_id, sizeof(e->ctr_id), "%s", ctr_id);
        snprintf(e->ctr_name, sizeof(e->ctr_name), "%s", ctr_name && ctr_name[0] == '/' ? ctr_name + 1 : ctr_name ?: "");
        e->ep = *ep;
        e->names = strv_copy(names);
        __atomic_add_fetch(&net_names_gen, 1, __ATOMIC_SEQ_CST);
        return 0;
}

static void ep_del(struct network *n, struct endpoint *e) {
        size_t i = (size_t) (e - n->eps);
        names_free(e->names);
        memmove(&n->eps[i], &n->eps[i + 1], (n->n_eps - i - 1) * sizeof(*e));
        n->n_eps--;
        __atomic_add_fetch(&net_names_gen, 1, __ATOMIC_SEQ_CST);
}

/* An address berth's allocator gave goes back to it (an IPAM plugin's is released by the
 * caller, outside the lock). */
static void alloc_release(struct network *n, uint32_t ip) {
        if (!net_ipam_is_remote(n))
                ipam_alloc_release(&n->alloc, ip);
}

static void alloc6_release(struct network *n, const uint8_t ip6[16]) {
        if (!net_ipam_is_remote(n))
                ipam_alloc6_release(&n->alloc6, ip6);
}

/* The addresses an IPAM plugin gave before the store's lock was taken. */
struct addr_grant {
        uint32_t ip;
        int prefix;
        bool has6;
        uint8_t ip6[16];
        int prefix6;
};

/* What berth's allocator's failure @r (ipam_alloc_take, ipam_alloc6_take) says, as dockerd. */
static int alloc_error(struct berr *err, int r, const char *want, const char *family, const char *net) {
        if (r == -ERANGE)
                return berr_set(err, BERR_INVALID, EINVAL, "Invalid address %s: It does not belong to any of this "
                                "network's subnets", want);
        if (r == -EEXIST)
                return berr_set(err, BERR_FORBIDDEN, EADDRINUSE, "Address already in use");
        return berr_set(err, BERR_UNAVAILABLE, ENOSPC, "no available %s addresses on network %s", family, net);
}

/* Wait (bounded) until every address of the endpoints that left is back. Caller holds
 * s->lock; it is let go while waiting. */
static void wait_releases_locked(struct net_store *s) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 10;
        while (s->releases_pending > 0)
                if (pthread_cond_timedwait(&s->released, &s->lock, &deadline) != 0)
                        break;
}

static int join_local(struct net_store *s, const char *net_id, const struct net_join_req *q,
                      const struct addr_grant *pre, struct net_ep *ret, struct berr *err) {
        struct net_ep ep = { 0 };
        uint32_t want = 0;
        if (q->want_ip && *q->want_ip && ipam_parse_ip4(q->want_ip, &want) < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid IPv4 address: %s", q->want_ip);
        uint8_t want6[16] = { 0 };
        if (q->want_ip6 && *q->want_ip6 && ipam_parse_ip6(q->want_ip6, want6) < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid IPv6 address: %s", q->want_ip6);
        if (q->want_mac && *q->want_mac) {
                if (net_parse_mac(q->want_mac, ep.mac) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid MAC address: %s", q->want_mac);
        } else {
                if (getrandom(ep.mac, sizeof(ep.mac), 0) != sizeof(ep.mac))
                        return berr_sys(err, BERR_INTERNAL, "getrandom");
                ep.mac[0] = (uint8_t) ((ep.mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
        }
        int r = id_random_hex(ep.endpoint_id, err);
        if (r < 0)
                return r;
        snprintf(ep.ifname, sizeof(ep.ifname), "%s", q->ifname);
        /* An address comes back to the network only once the device of the endpoint that
         * had it is gone (linkreap.c, net_leave): when the one asked for is taken, or none
         * is free, while some are on their way back, wait for them and try once more. */
        bool flushed = false;
again:
        pthread_mutex_lock(&s->lock);
        struct network *n = store_find_locked(s, net_id);
        if (!n || !net_driver_has_endpoints(n->info.driver) || !n->has_v4 || n->busy || n->remote ||
            net_ipam_is_remote(n) != !!pre) {
                pthread_mutex_unlock(&s->lock);
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "network %s not found", net_id);
        }
        bool is_sub = net_driver_is_sublink(n->info.driver);
        if (strcmp(n->info.driver, "ipvlan") == 0) {
                if (q->want_mac && *q->want_mac) {
                        pthread_mutex_unlock(&s->lock);
                        return berr_set(err, BERR_INTERNAL, EINVAL,
                                        "ipvlan interfaces do not support custom mac address assignment");
                }
                memset(ep.mac, 0, sizeof(ep.mac)); /* the parent's, shown as "" */
        }
        if (ep_find(n, q->ctr_id)) {
                pthread_mutex_unlock(&s->lock);
                return berr_set(err, BERR_FORBIDDEN, EEXIST, "endpoint with name %s already exists in network %s",
                                q->ctr_name[0] == '/' ? q->ctr_name + 1 : q->ctr_name, n->info.name);
        }
        if (pre)
                ep.ip = pre->ip, r = 0;
        else
                r = ipam_alloc_take(&n->alloc, want, &ep.ip);
        if ((r == -EEXIST || r == -ENOSPC) && !flushed && s->releases_pending > 0) {
                wait_releases_locked(s);
                pthread_mutex_unlock(&s->lock);
                flushed = true;
                goto again;
        }
        if (r < 0) {
                pthread_mutex_unlock(&s->lock);
                return alloc_error(err, r, q->want_ip, "IPv4", n->info.name);
        }
        ep.gateway = n->alloc.gateway;
        ep.prefix = pre ? pre->prefix : n->subnet.prefix;
        if (!n->has_v6 && !ipam_ip6_is_zero(want6)) {
                alloc_release(n, ep.ip);
                pthread_mutex_unlock(&s->lock);
                return berr_set(err, BERR_INVALID, EINVAL, "Invalid address %s: It does not belong to any of this network's "
                                "subnets", q->want_ip6);
        }
        if (n->has_v6) {
                if (pre && pre->has6)
                        memcpy(ep.ip6, pre->ip6, 16), r = 0;
                else
                        r = ipam_alloc6_take(&n->alloc6, want6, ep.ip6);
                if ((r == -EEXIST || r == -ENOSPC) && !flushed && s->releases_pending > 0) {
                        alloc_release(n, ep.ip);
                        wait_releases_locked(s);
                        pthread_mutex_unlock(&s->lock);
                        flushed = true;
                        goto again;
                }
                if (r < 0) {
                        alloc_release(n, ep.ip);
                        pthread_mutex_unlock(&s->lock);
                        return alloc_error(err, r, q->want_ip6, "IPv6", n->info.name);
                }
                ep.has_ip6 = true;
                memcpy(ep.gateway6, n->alloc6.gateway, 16);
                if (ipam_ip6_is_zero(ep.gateway6) && !is_sub) /* macvlan/ipvlan: none unless given */
                        ipam_ip6_add(&n->subnet6, 1, ep.gateway6);
                ep.prefix6 = pre && pre->has6 ? pre->prefix6 : n->subnet6.prefix;
        }
        if ((r = ep_add(n, q->ctr_id, q->ctr_name, &ep, q->dns_names)) < 0) {
                alloc_release(n, ep.ip);
                if (ep.has_ip6)
                        alloc6_release(n, ep.ip6);
                pthread_mutex_unlock(&s->lock);
                return berr_set(err, BERR_INTERNAL, -r, "too many endpoints");
        }
        struct nl_veth_req vq = { .bridge = n->info.bridge, .ns_path = q->ns_path, .peer_name = q->ifname,
                                  .mtu = n->mtu, .ip = ep.ip, .gw = ep.gateway, .prefix = ep.prefix,
                                  .default_route = q->default_route && !n->info.internal,
                                  .has_ip6 = ep.has_ip6, .prefix6 = ep.prefix6 };
        memcpy(vq.mac, ep.mac, 6);
        memcpy(vq.ip6, ep.ip6, 16);
        memcpy(vq.gw6, ep.gateway6, 16);
        char bridge[16], hname[16];
        snprintf(bridge, sizeof(bridge), "%s", n->info.bridge);
        vq.bridge = bridge;
        host_ifname(q->ctr_id, n->info.id, hname);
        vq.host_name = hname;
        char id[65];
        snprintf(id, sizeof(id), "%s", n->info.id);
        struct nl_sublink_req sq = { .ns_path = q->ns_path, .name = q->ifname, .ip = ep.ip, .gw = ep.gateway,
                                     .prefix = ep.prefix, .default_route = q->default_route };
        char parent[16], kind[16];
        if (is_sub) {
                sublink_join_req(n, &sq);
                memcpy(sq.mac, ep.mac, 6);
                sq.has_ip6 = ep.has_ip6;
                sq.prefix6 = ep.prefix6;
                memcpy(sq.ip6, ep.ip6, 16);
                memcpy(sq.gw6, ep.gateway6, 16);
                snprintf(parent, sizeof(parent), "%s", sq.parent);
                snprintf(kind, sizeof(kind), "%s", sq.kind);
                sq.parent = parent;
                sq.kind = kind;
        }
        pthread_mutex_unlock(&s->lock);

        /* A leftover of a crash under the same name goes first. */
        if (!is_sub && nl_link_exists(hname))
                nl_link_delete(hname);
        r = is_sub ? nl_sublink_create(&sq, err) : nl_veth_create(&vq, err);
        if (r < 0) {
                pthread_mutex_lock(&s->lock);
                n = store_find_locked(s, id);
                struct endpoint *e = n ? ep_find(n, q->ctr_id) : NULL;
                if (e) {
                        alloc_release(n, e->ep.ip);
                        if (e->ep.has_ip6)
                                alloc6_release(n, e->ep.ip6);
                        ep_del(n, e);
                }
                pthread_mutex_unlock(&s->lock);
                return r;
        }
        *ret = ep;
        return 0;
}

/* What one endpoint's plugins need of its network, copied under the lock. */
struct ep_plugins {
        char net_id[65], driver[256], ipam_driver[256], pool_id[256], pool_id6[256];
        bool remote, remote_ipam, wants_mac, internal;
        bool external;          /* the endpoint's: ProgramExternalConnectivity was called */
};

static void ep_plugins_fill(struct network *n, struct ep_plugins *p) {
        snprintf(p->net_id, sizeof(p->net_id), "%s", n->info.id);
        snprintf(p->driver, sizeof(p->driver), "%s", n->info.driver);
        snprintf(p->ipam_driver, sizeof(p->ipam_driver), "%s", n->ipam_driver);
        snprintf(p->pool_id, sizeof(p->pool_id), "%s", n->pool_id);
        snprintf(p->pool_id6, sizeof(p->pool_id6), "%s", n->has_v6 ? n->pool_id6 : "");
        p->remote = n->remote;
        p->remote_ipam = net_ipam_is_remote(n);
        p->wants_mac = n->ipam_wants_mac;
        p->internal = n->info.internal;
}

static int ep_plugins_of(struct net_store *s, const char *net_id, struct ep_plugins *p) {
        pthread_mutex_lock(&s->lock);
        struct network *n = store_find_locked(s, net_id);
        bool ok = n && !n->busy && n->has_v4 && net_driver_has_endpoints(n->info.driver);
        if (ok)
                ep_plugins_fill(n, p);
        pthread_mutex_unlock(&s->lock);
        return ok ? 0 : -ENOENT;
}

/* IpamDriver.RequestAddress for an endpoint: the address asked (--ip) or any; its MAC
 * when the plugin requires one and the user gave it. */
static int ipam_plugin_address(struct net_store *s, const struct ep_plugins *p, const char *want_ip,
                               const char *mac, struct addr_grant *ret, struct berr *err) {
        json_t *opts = p->wants_mac && mac && *mac ? json_pack("{s:s}", REMOTE_LABEL_MAC, mac) : json_null();
        json_t *req = json_pack("{s:s, s:s, s:o}", "PoolID", p->pool_id, "Address", want_ip ? want_ip : "", "Options", opts);
        _cleanup_json_ json_t *a = NULL;
        int r = remote_ipam_call(s->plugins, p->ipam_driver, "RequestAddress", req, &a, err);
        if (r == 0)
                r = remote_parse_address(a, &ret->ip, &ret->prefix, err);
        return r;
}

/* The same from the network's IPv6 pool (--ip6). */
static int ipam_plugin_address6(struct net_store *s, const struct ep_plugins *p, const char *want_ip6,
                                const char *mac, struct addr_grant *ret, struct berr *err) {
        json_t *opts = p->wants_mac && mac && *mac ? json_pack("{s:s}", REMOTE_LABEL_MAC, mac) : json_null();
        json_t *req = json_pack("{s:s, s:s, s:o}", "PoolID", p->pool_id6, "Address", want_ip6 ? want_ip6 : "", "Options",
                                opts);
        _cleanup_json_ json_t *a = NULL;
        int r = remote_ipam_call(s->plugins, p->ipam_driver, "RequestAddress", req, &a, err);
        if (r == 0)
                r = remote_parse_address6(a, ret->ip6, &ret->prefix6, err);
        if (r == 0)
                ret->has6 = true;
        return r;
}

static json_t *ep_req(const struct ep_plugins *p, const char *endpoint_id) {
        return json_pack("{s:s, s:s}", "NetworkID", p->net_id, "EndpointID", endpoint_id);
}

/* libnetwork's endpoint options and sandbox labels: the container's ports. */
static json_t *ep_options(const struct net_join_req *q) {
        json_t *o = json_object();
        if (q->portmap)
                json_object_set(o, REMOTE_LABEL_PORTMAP, q->portmap);
        if (q->exposed)
                json_object_set(o, REMOTE_LABEL_EXPOSED, q->exposed);
        return o;
}

/* The endpoint's record in the store goes (its address back to berth's allocator). */
static void ep_forget(struct net_store *s, const char *net_id, const char *ctr_id) {
        pthread_mutex_lock(&s->lock);
        struct network *n = store_find_locked(s, net_id);
        struct endpoint *e = n ? ep_find(n, ctr_id) : NULL;
        if (e) {
                alloc_release(n, e->ep.ip);
                if (e->ep.has_ip6)
                        alloc6_release(n, e->ep.ip6);
                ep_del(n, e);
        }
        pthread_mutex_unlock(&s->lock);
}

/* A network driver plugin's endpoint: the address (from @pre, an IPAM plugin's, or
 * berth's allocator), CreateEndpoint, Join, and the link it names moved into the
 * container. Undone in reverse on failure, as libnetwork rolls back. */
static int join_remote(struct net_store *s, const struct net_join_req *q, const struct ep_plugins *p,
                       const struct addr_grant *pre, struct net_ep *ret, struct berr *err) {
        struct net_ep ep = { 0 };
        bool has_mac = false;
        if (q->want_mac && *q->want_mac) {
                if (net_parse_mac(q->want_mac, ep.mac) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid MAC address: %s", q->want_mac);
                has_mac = true;
        }
        uint32_t want = 0;
        if (!pre && q->want_ip && *q->want_ip && ipam_parse_ip4(q->want_ip, &want) < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid IPv4 address: %s", q->want_ip);
        uint8_t want6[16] = { 0 };
        if (q->want_ip6 && *q->want_ip6 && ipam_parse_ip6(q->want_ip6, want6) < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid IPv6 address: %s", q->want_ip6);
        int r = id_random_hex(ep.endpoint_id, err);
        if (r < 0)
                return r;
        snprintf(ep.ifname, sizeof(ep.ifname), "%s", q->ifname);

        pthread_mutex_lock(&s->lock);
        struct network *n = store_find_locked(s, p->net_id);
        if (!n || n->busy) {
                pthread_mutex_unlock(&s->lock);
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "network %s not found", p->net_id);
        }
        if (ep_find(n, q->ctr_id)) {
                pthread_mutex_unlock(&s->lock);
                return berr_set(err, BERR_FORBIDDEN, EEXIST, "endpoint with name %s already exists in network %s",
                                q->ctr_name[0] == '/' ? q->ctr_name + 1 : q->ctr_name, n->info.name);
        }
        if (pre) {
                ep.ip = pre->ip;
                ep.prefix = pre->prefix;
        } else if ((r = ipam_alloc_take(&n->alloc, want, &ep.ip)) < 0) {
                pthread_mutex_unlock(&s->lock);
                return alloc_error(err, r, q->want_ip, "IPv4", n->info.name);
        } else
                ep.prefix = n->subnet.prefix;
        /* IPv6: the IPAM plugin's (@pre) or berth's allocator */
        if (!n->has_v6 && !ipam_ip6_is_zero(want6))
                r = berr_set(err, BERR_INVALID, EINVAL, "Invalid address %s: It does not belong to any of this "
                             "network's subnets", q->want_ip6);
        else if (n->has_v6 && pre && pre->has6)
                memcpy(ep.ip6, pre->ip6, 16), ep.has_ip6 = true, ep.prefix6 = pre->prefix6;
        else if (n->has_v6 && (r = ipam_alloc6_take(&n->alloc6, want6, ep.ip6)) < 0)
                r = alloc_error(err, r, q->want_ip6, "IPv6", n->info.name);
        else if (n->has_v6) {
                ep.has_ip6 = true;
                ep.prefix6 = n->subnet6.prefix;
        }
        if (r < 0) {
                alloc_release(n, ep.ip);
                pthread_mutex_unlock(&s->lock);
                return r;
        }
        if ((r = ep_add(n, q->ctr_id, q->ctr_name, &ep, q->dns_names)) < 0) {
                alloc_release(n, ep.ip);
                if (ep.has_ip6)
                        alloc6_release(n, ep.ip6);
                pthread_mutex_unlock(&s->lock);
                return berr_set(err, BERR_INTERNAL, -r, "too many endpoints");
        }
        pthread_mutex_unlock(&s->lock);

        char ip[16], addr[24], ip6[46], addr6[52] = "", mac[18] = "";
        ipam_format_ip4(ep.ip, ip);
        snprintf(addr, sizeof(addr), "%s/%d", ip, ep.prefix);
        if (ep.has_ip6) {
                ipam_format_ip6(ep.ip6, ip6);
                snprintf(addr6, sizeof(addr6), "%s/%d", ip6, ep.prefix6);
        }
        if (has_mac)
                net_format_mac(ep.mac, mac);
        json_t *req = ep_req(p, ep.endpoint_id);
        json_object_set_new(req, "Interface", json_pack("{s:s, s:s, s:s}", "Address", addr, "AddressIPv6", addr6,
                                                        "MacAddress", mac));
        json_object_set_new(req, "Options", ep_options(q));
        _cleanup_json_ json_t *created = NULL, *joined = NULL;
        bool drv_mac = false;
        uint8_t dmac[6];
        r = remote_driver_call(s->plugins, p->driver, "CreateEndpoint", req, &created, err);
        if (r < 0) {
                ep_forget(s, p->net_id, q->ctr_id);
                return r;
        }
        struct remote_join j;
        struct berr e = { 0 };
        r = remote_parse_endpoint(created, addr, ep.has_ip6 ? addr6 : NULL, &drv_mac, dmac, err);
        if (r == 0 && drv_mac && has_mac)
                r = berr_set(err, BERR_INTERNAL, EEXIST, "driver modified interface MAC address: endpoint interface MAC "
                             "address present (%s)", mac);
        if (r == 0 && drv_mac) {
                memcpy(ep.mac, dmac, 6);
                has_mac = true;
        }
        if (r == 0) {
                req = ep_req(p, ep.endpoint_id);
                json_object_set_new(req, "SandboxKey", json_string(q->ns_path));
                json_object_set_new(req, "Options", ep_options(q));
                r = remote_driver_call(s->plugins, p->driver, "Join", req, &joined, err);
                if (r == 0) {
                        r = remote_parse_join(joined, &j, err);
                        if (r == 0 && !j.src_name[0])
                                r = berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "network plugin %s named no interface "
                                             "(InterfaceName) for the container: not supported by berth", p->driver);
                        char name[16];
                        if (r == 0 && remote_ifname(j.dst_prefix, q->ifname, name) < 0)
                                r = berr_set(err, BERR_INTERNAL, EINVAL, "failed to set interface name: prefix %s too "
                                             "long", j.dst_prefix);
                        if (r == 0) {
                                snprintf(ep.ifname, sizeof(ep.ifname), "%s", name);
                                struct remote_link_req lq = { .src_name = j.src_name, .ns_path = q->ns_path,
                                                              .name = ep.ifname, .has_mac = has_mac, .ip = ep.ip,
                                                              .prefix = ep.prefix, .routes = j.routes,
                                                              .n_routes = j.n_routes,
                                                              .gw = q->default_route && !p->internal ? j.gateway : 0,
                                                              .has_ip6 = ep.has_ip6, .prefix6 = ep.prefix6,
                                                              .gw6 = ep.has_ip6 && j.has_gateway6 && q->default_route &&
                                                                                     !p->internal
                                                                             ? j.gateway6
                                                                             : NULL };
                                memcpy(lq.ip6, ep.ip6, 16);
                                memcpy(lq.mac, ep.mac, 6);
                                r = remote_link_move_in(&lq, ep.mac, err);
                        }
                        if (r < 0 && remote_driver_call(s->plugins, p->driver, "Leave", ep_req(p, ep.endpoint_id), NULL,
                                                        &e) < 0)
                                log_warn("network %s: Leave after a failed join: %s", p->net_id, e.msg);
                }
        }
        if (r < 0) {
                if (remote_driver_call(s->plugins, p->driver, "DeleteEndpoint", ep_req(p, ep.endpoint_id), NULL, &e) < 0)
                        log_warn("network %s: DeleteEndpoint after a failed join: %s", p->net_id, e.msg);
                ep_forget(s, p->net_id, q->ctr_id);
                return r;
        }
        /* dockerd asks the driver for the endpoint's operational data once it joined
         * (buildPortMapInfo); nothing of the answer reaches the user there either. */
        _cleanup_json_ json_t *oper = NULL;
        if (remote_driver_call(s->plugins, p->driver, "EndpointOperInfo", ep_req(p, ep.endpoint_id), &oper, &e) < 0)
                log_debug("network %s: EndpointOperInfo: %s", p->net_id, e.msg);
        ep.gateway = j.gateway;
        if (ep.has_ip6)
                memcpy(ep.gateway6, j.gateway6, 16); /* all zero: none */
        snprintf(ep.src_name, sizeof(ep.src_name), "%s", j.src_name);
        pthread_mutex_lock(&s->lock);
        n = store_find_locked(s, p->net_id);
        struct endpoint *en = n ? ep_find(n, q->ctr_id) : NULL;
        if (en)
                en->ep = ep;
        pthread_mutex_unlock(&s->lock);
        *ret = ep;
        return 0;
}

int net_join(struct net_store *s, const char *net_id, const struct net_join_req *q, struct net_ep *ret,
             struct berr *err) {
        struct ep_plugins p;
        if (ep_plugins_of(s, net_id, &p) < 0 || (!p.remote && !p.remote_ipam))
                return join_local(s, net_id, q, NULL, ret, err);
        struct addr_grant pre = { 0 };
        int r;
        struct berr e = { 0 };
        if (p.remote_ipam && (r = ipam_plugin_address(s, &p, q->want_ip, q->want_mac, &pre, err)) < 0)
                return r;
        if (p.remote_ipam && p.pool_id6[0] && (r = ipam_plugin_address6(s, &p, q->want_ip6, q->want_mac, &pre, err)) < 0) {
                if (store_ipam_release_addr(s, p.ipam_driver, p.pool_id, pre.ip, &e) < 0)
                        log_warn("network %s: release address after a failed join: %s", net_id, e.msg);
                return r;
        }
        r = p.remote ? join_remote(s, q, &p, p.remote_ipam ? &pre : NULL, ret, err)
                     : join_local(s, net_id, q, &pre, ret, err);
        if (r < 0 && p.remote_ipam && store_ipam_release_addr(s, p.ipam_driver, p.pool_id, pre.ip, &e) < 0)
                log_warn("network %s: release address after a failed join: %s", net_id, e.msg);
        if (r < 0 && pre.has6 && store_ipam_release_addr6(s, p.ipam_driver, p.pool_id6, pre.ip6, &e) < 0)
                log_warn("network %s: release IPv6 address after a failed join: %s", net_id, e.msg);
        return r;
}

int net_program_external(struct net_store *s, const char *net_id, const char *ctr_id, json_t *portmap, json_t *exposed,
                         struct berr *err) {
        struct ep_plugins p = { 0 };
        char endpoint_id[65] = "";
        pthread_mutex_lock(&s->lock);
        struct network *n = store_find_locked(s, net_id);
        struct endpoint *e = n && n->remote ? ep_find(n, ctr_id) : NULL;
        if (e) {
                ep_plugins_fill(n, &p);
                snprintf(endpoint_id, sizeof(endpoint_id), "%s", e->ep.endpoint_id);
        }
        pthread_mutex_unlock(&s->lock);
        if (!e)
                return 0;
        json_t *req = ep_req(&p, endpoint_id);
        json_object_set_new(req, "Options", json_pack("{s:O, s:O}", REMOTE_LABEL_PORTMAP, portmap, REMOTE_LABEL_EXPOSED,
                                                      exposed));
        int r = remote_driver_call(s->plugins, p.driver, "ProgramExternalConnectivity", req, NULL, err);
        if (r < 0 && err->kind == BERR_NOT_FOUND && err->errnum == EIO) /* a 404: not required of drivers yet */
                return 0;
        if (r < 0)
                return r;
        pthread_mutex_lock(&s->lock);
        n = store_find_locked(s, net_id);
        e = n ? ep_find(n, ctr_id) : NULL;
        if (e)
                e->ep.external = true;
        pthread_mutex_unlock(&s->lock);
        return 1;
}

int net_add_link_local(const char *ns_path, const char *ifname, const char *ip, struct berr *err) {
        uint32_t a;
        if (ipam_parse_ip4(ip, &a) < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid link-local IP address: %s", ip);
        return nl_addr4_add_in(ns_path, ifname, a, (a >> 16) == 0xa9fe ? 16 : 32, err);
}

/* One teardown call of a leave; a plugin found unreachable (after plugin_call's retry
 * window) is not asked again in the same leave, so a plugin that is gone holds the exit
 * handling for one window, not four. */
static void leave_call(struct net_store *s, const char *net_id, bool ipam, const char *plugin, const char *method,
                       json_t *args, const char **gone) {
        if (*gone && strcmp(*gone, plugin) == 0) {
                json_decref(args);
                log_warn("network %s: %s skipped: plugin %s is unreachable", net_id, method, plugin);
                return;
        }
        struct berr e = { 0 };
        int r = ipam ? remote_ipam_call(s->plugins, plugin, method, args, NULL, &e)
                     : remote_driver_call(s->plugins, plugin, method, args, NULL, &e);
        if (r < 0 && e.kind == BERR_UNAVAILABLE)
                *gone = plugin;
        /* a 404 of RevokeExternalConnectivity: the driver has no such method (not required yet) */
        if (r < 0 && !(e.kind == BERR_NOT_FOUND && e.errnum == EIO && strcmp(method, "RevokeExternalConnectivity") == 0))
                log_warn("network %s: %s: %s", net_id, method, e.msg);
}

/* libnetwork's order: RevokeExternalConnectivity (if programmed), Leave, the link back out
 * of the container, DeleteEndpoint, then the address back to the IPAM plugin. A plugin's
 * failure is logged: the container leaves. */
static void leave_plugins(struct net_store *s, const struct ep_plugins *p, const char *endpoint_id, const char *src_name,
                          uint32_t ip, const uint8_t *ip6, const char *hname, const char *ns_path, const char *ifname) {
        const char *gone = NULL;
        if (p->remote) {
                if (p->external)
                        leave_call(s, p->net_id, false, p->driver, "RevokeExternalConnectivity", ep_req(p, endpoint_id),
                                   &gone);
                leave_call(s, p->net_id, false, p->driver, "Leave", ep_req(p, endpoint_id), &gone);
                if (ns_path && ifname && *ifname)
                        remote_link_move_out(ns_path, ifname, src_name);
                leave_call(s, p->net_id, false, p->driver, "DeleteEndpoint", ep_req(p, endpoint_id), &gone);
        } else if (nl_link_exists(hname))
                nl_link_delete_later(hname);
        else if (ns_path && ifname && *ifname)
                nl_link_delete_in(ns_path, ifname);
        if (p->remote_ipam) {
                char a[16];
                ipam_format_ip4(ip, a);
                leave_call(s, p->net_id, true, p->ipam_driver, "ReleaseAddress",
                           json_pack("{s:s, s:s}", "PoolID", p->pool_id, "Address", a), &gone);
        }
        if (p->remote_ipam && p->pool_id6[0] && ip6) {
                char a6[46];
                ipam_format_ip6(ip6, a6);
                leave_call(s, p->net_id, true, p->ipam_driver, "ReleaseAddress",
                           json_pack("{s:s, s:s}", "PoolID", p->pool_id6, "Address", a6), &gone);
        }
}

/* A leaving endpoint's addresses, given back once its veth is gone (linkreap.c). */
struct reap_release {
        struct net_store *s;
        char net_id[65];
        uint32_t ip;
        bool has6;
        uint8_t ip6[16];
};

static void release_after_reap(void *arg) {
        struct reap_release *rr = arg;
        if (!rr)
                return;
        pthread_mutex_lock(&rr->s->lock);
        struct network *n = store_find_locked(rr->s, rr->net_id); /* NULL: removed meanwhile */
        if (n) {
                alloc_release(n, rr->ip);
                if (rr->has6)
                        alloc6_release(n, rr->ip6);
        }
        rr->s->releases_pending--;
        pthread_cond_broadcast(&rr->s->released);
        pthread_mutex_unlock(&rr->s->lock);
        free(rr);
}

void net_leave(struct net_store *s, const char *net_id, const char *ctr_id, const char *ns_path, const char *ifname) {
        char hname[16];
        host_ifname(ctr_id, net_id, hname);
        struct reap_release *rr = NULL;
        pthread_mutex_lock(&s->lock);
        struct network *n = store_find_locked(s, net_id);
        struct endpoint *e = n ? ep_find(n, ctr_id) : NULL;
        struct ep_plugins p = { 0 };
        char endpoint_id[65] = "", src_name[16] = "";
        uint32_t ip = 0;
        uint8_t ip6[16];
        bool has6 = false;
        if (e) {
                if (n->remote || net_ipam_is_remote(n)) {
                        if ((has6 = e->ep.has_ip6))
                                memcpy(ip6, e->ep.ip6, 16);
                        ep_plugins_fill(n, &p);
                        p.external = e->ep.external;
                        snprintf(endpoint_id, sizeof(endpoint_id), "%s", e->ep.endpoint_id);
                        snprintf(src_name, sizeof(src_name), "%s", e->ep.src_name);
                        ip = e->ep.ip;
                }
                /* A bridge endpoint's veth is deleted by linkreap's thread: its addresses
                 * go back when it is gone. */
                if (!n->remote && !net_ipam_is_remote(n) && !net_driver_is_sublink(n->info.driver) &&
                    (rr = calloc(1, sizeof(*rr)))) {
                        rr->s = s;
                        s->releases_pending++; /* until release_after_reap */
                        snprintf(rr->net_id, sizeof(rr->net_id), "%s", n->info.id);
                        rr->ip = e->ep.ip;
                        if ((rr->has6 = e->ep.has_ip6))
                                memcpy(rr->ip6, e->ep.ip6, 16);
                } else {
                        alloc_release(n, e->ep.ip);
                        if (e->ep.has_ip6)
                                alloc6_release(n, e->ep.ip6);
                }
                ep_del(n, e);
        }
        pthread_mutex_unlock(&s->lock);
        if (p.remote || p.remote_ipam) {
                leave_plugins(s, &p, endpoint_id, src_name, ip, has6 ? ip6 : NULL, hname, ns_path, ifname);
                return;
        }
        if (nl_link_exists(hname)) {
                nl_link_delete_later_then(hname, release_after_reap, rr); /* its peer in the container goes with it */
                return;
        }
        if (ns_path && ifname && *ifname)
                nl_link_delete_in(ns_path, ifname);
        release_after_reap(rr);
}

int net_restore(struct net_store *s, const char *net_id, const char *ctr_id, const char *ctr_name,
                const struct net_ep *ep, const char *const *dns_names, struct berr *err) {
        pthread_mutex_lock(&s->lock);
        struct network *n = store_find_locked(s, net_id);
        int r = 0;
        if (!n || !n->has_v4)
                r = berr_set(err, BERR_NOT_FOUND, ENOENT, "network %s not found", net_id);
        else if (!ep_find(n, ctr_id)) {
                uint32_t got;
                uint8_t got6[16];
                struct net_ep e = *ep;
                if (!net_ipam_is_remote(n) && ipam_alloc_take(&n->alloc, ep->ip, &got) < 0)
                        r = berr_set(err, BERR_CONFLICT, EADDRINUSE, "address of container %.12s is taken", ctr_id);
                else if (e.has_ip6 && (!n->has_v6 || (!net_ipam_is_remote(n) &&
                                                      ipam_alloc6_take(&n->alloc6, e.ip6, got6) < 0))) {
                        /* Its IPv4 endpoint stays; the IPv6 address is not the network's to give. */
                        log_warn("IPv6 address of container %.12s on network %s is taken or gone", ctr_id, n->info.name);
                        e.has_ip6 = false;
                }
                if (r == 0 && (r = ep_add(n, ctr_id, ctr_name, &e, dns_names)) < 0) {
                        alloc_release(n, ep->ip);
                        if (e.has_ip6)
                                alloc6_release(n, e.ip6);
                        r = berr_set(err, BERR_INTERNAL, -r, "too many endpoints");
                }
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

/* ---- sandboxes ---- */

void net_sandbox_path(struct net_store *s, const char *ctr_id, char *path, size_t size) {
        (void) fs_path_fmt(path, size, "%s/%s", s->netns_dir, ctr_id); /* "" when it does not fit */
}

int net_sandbox_create(struct net_store *s, const char *ctr_id, char *path, size_t size, struct berr *err) {
        net_sandbox_path(s, ctr_id, path, size);
        nl_netns_remove(path); /* a leftover of a crash */
        return nl_netns_create(path, err);
}

void net_sandbox_remove(struct net_store *s, const char *ctr_id) {
        char path[4200];
        net_sandbox_path(s, ctr_id, path, sizeof(path));
        if (access(path, F_OK) == 0)
                nl_netns_remove(path);
}

json_t *net_sandbox_stats(const char *path) {
        return nl_netns_stats(path);
}
