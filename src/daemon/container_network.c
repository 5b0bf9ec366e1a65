/* container_network.c - where containers meet networks: the networks a container is on
 * (NetworkSettings.Networks, kept in its record), its network namespace and endpoints from
 * start to exit, connect/disconnect. The endpoint records and NetworkSettings for inspect
 * and ps are container_net_json.c's, published ports container_net_ports.c's, legacy
 * links container_links.c's.
 *
 * Every network mode resolves here, in one place: "default"/"bridge" (the default
 * network), a user network's name or ID, "none" (own namespace, lo only), "host" (the
 * host's namespace) and "container:<x>" (x's namespace). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "networks.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/trace.h"
#include "container.h"
#include "container_net_int.h"
#include "daemon.h"
#include "events.h"
#include "network/network.h"

bool ctr_net_is_host(struct container *c) {
        return mode_of(net_mode_str(c)) == NM_HOST;
}

int ctr_net_config(struct daemon *d, json_t *body, const struct ctr_config *req, json_t **ret, struct berr *err) {
        const char *nm = req->hc.network_mode;
        json_t *eps = json_object_get(json_object_get(body, "NetworkingConfig"), "EndpointsConfig");
        if (eps && !json_is_null(eps) && !json_is_object(eps))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid NetworkingConfig.EndpointsConfig");
        enum net_mode mode = mode_of(nm);
        int rp = ctr_net_check_ports(req, err);
        if (rp < 0)
                return rp;
        if (mode == NM_HOST || mode == NM_CONTAINER || mode == NM_NONE) {
                if (ctr_config_publishes_ports(req)) {
                        if (mode == NM_CONTAINER)
                                return berr_set(err, BERR_CONFLICT, EINVAL, "conflicting options: port publishing and the "
                                                "container type network mode");
                }
                if (mode == NM_CONTAINER) {
                        if (*req->cfg.hostname)
                                return berr_set(err, BERR_CONFLICT, EINVAL,
                                                "conflicting options: hostname and the network mode");
                        if (req->hc.dns.n > 0)
                                return berr_set(err, BERR_CONFLICT, EINVAL, "conflicting options: dns and the network mode");
                        if (*req->cfg.mac_address)
                                return berr_set(err, BERR_CONFLICT, EINVAL,
                                                "conflicting options: mac-address and the network mode");
                        if (req->hc.extra_hosts.n > 0)
                                return berr_set(err, BERR_CONFLICT, EINVAL,
                                                "conflicting options: custom host-to-IP mapping and the network mode");
                        if (!nm[10])
                                return berr_set(err, BERR_INVALID, EINVAL, "invalid container format container:<name|id>");
                }
        }
        json_t *out = json_object();
        const char *key;
        json_t *cfg;
        json_object_foreach(eps, key, cfg) {
                int r = ctr_net_check_endpoint_config(key, cfg, err);
                if (r < 0) {
                        json_decref(out);
                        return r;
                }
        }
        if (mode == NM_CONTAINER) {
                *ret = out;
                return 0;
        }
        const char *primary = mode == NM_BRIDGE ? net_default_name(d->nets) : mode == NM_NONE ? "none" : mode == NM_HOST ? "host" : nm;
        if (json_object_size(eps) > 1) {
                /* API < 1.44 takes one; dockerd connects the others at start since 1.44. */
                json_object_foreach(eps, key, cfg) {
                        struct net_info ni;
                        struct berr e = { 0 };
                        if (net_find(d->nets, key, &ni, &e) == 0 && !net_driver_has_endpoints(ni.driver)) {
                                json_decref(out);
                                return berr_set(err, BERR_INVALID, EINVAL, "container cannot be connected to multiple "
                                                "networks with one of the networks in private (none) mode");
                        }
                }
        }
        /* The primary network first, then the others EndpointsConfig names. */
        struct net_info ni;
        struct berr e = { 0 };
        bool found = net_find(d->nets, primary, &ni, &e) == 0;
        const char *pname = found ? ni.name : primary;
        /* The CLI keys the primary's settings by what --network said ("default" too). */
        const char *pkey = json_object_get(eps, primary) ? primary : nm && json_object_get(eps, nm) ? nm
                           : found && json_object_get(eps, ni.id) ? ni.id : NULL;
        json_t *pcfg = pkey ? json_object_get(eps, pkey) : NULL;
        if (mode == NM_BRIDGE && pcfg) {
                json_t *ipam = json_object_get(pcfg, "IPAMConfig");
                if (json_string_length(json_object_get(ipam, "IPv4Address")) ||
                    json_string_length(json_object_get(ipam, "IPv6Address"))) {
                        json_decref(out);
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "user specified IP address is supported on user defined networks only");
                }
                if (json_array_size(json_object_get(pcfg, "Aliases")) > 0) {
                        json_decref(out);
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "network-scoped alias is supported only for containers in user defined networks");
                }
        }
        json_object_set_new(out, pname, ctr_net_endpoint_new(found ? ni.id : NULL, pcfg));
        json_object_foreach(eps, key, cfg) {
                if (pkey && strcmp(key, pkey) == 0)
                        continue;
                struct net_info other;
                if (net_find(d->nets, key, &other, &e) < 0) {
                        json_decref(out);
                        return berr_set(err, BERR_NOT_FOUND, ENOENT, "network %s not found", key);
                }
                if (!json_object_get(out, other.name))
                        json_object_set_new(out, other.name, ctr_net_endpoint_new(other.id, cfg));
        }
        *ret = out;
        return 0;
}

/* ---- start and exit ---- */

static json_t *dns_names(struct container *c, json_t *ep) {
        json_t *names = json_array();
        json_array_append_new(names, json_string(c->name + 1));
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(ep, "Aliases"), i, a) if (json_is_string(a)) json_array_append(names, a);
        char short_id[13];
        snprintf(short_id, sizeof(short_id), "%.12s", c->id);
        json_array_append_new(names, json_string(short_id));
        const char *h = c->cc->cfg.hostname;
        if (*h && strcmp(h, short_id) != 0)
                json_array_append_new(names, json_string(h));
        return names;
}

/* Join network @name (record @ep) from the namespace @ns as interface @ifname. */
static int join_one(struct daemon *d, struct container *c, const char *name, json_t *ep, const char *ns,
                    const char *ifname, bool first, struct berr *err) {
        struct net_info ni;
        const char *nid = json_string_value(json_object_get(ep, "NetworkID"));
        int r = net_find(d->nets, nid && *nid ? nid : name, &ni, err);
        if (r < 0 && nid && *nid)
                r = net_find(d->nets, name, &ni, err); /* removed and made again under the same name */
        if (r < 0)
                return r;
        if (!net_driver_has_endpoints(ni.driver))
                return 0; /* none and host are modes, not attachments */
        json_t *ipam = json_object_get(ep, "IPAMConfig");
        const char *mac = json_string_value(json_object_get(ep, "MacAddress"));
        bool mac_given = json_is_true(json_object_get(ep, "BerthMacGiven")) || (mac && *mac && !json_string_length(json_object_get(ep, "EndpointID")));
        if (!mac_given && first)
                mac = c->cc->cfg.mac_address, mac_given = *mac;
        _cleanup_json_ json_t *names = ni.predefined ? json_array() : dns_names(c, ep);
        const char *namev[66] = { 0 };
        for (size_t i = 0; i < json_array_size(names) && i < ELEMENTSOF(namev) - 1; i++)
                namev[i] = json_string_value(json_array_get(names, i));
        struct net_join_req q = { .ctr_id = c->id, .ctr_name = c->name, .ns_path = ns, .ifname = ifname,
                                  .want_ip = json_string_value(json_object_get(ipam, "IPv4Address")),
                                  .want_ip6 = json_string_value(json_object_get(ipam, "IPv6Address")),
                                  .want_mac = mac_given ? mac : NULL, .default_route = first, .dns_names = namev };
        _cleanup_json_ json_t *portmap = NULL, *exposed = NULL;
        if (net_driver_is_remote(ni.driver)) {
                q.portmap = portmap = json_array();
                q.exposed = exposed = json_array();
                ctr_net_plugin_port_labels(c, portmap, exposed);
        }
        struct net_ep e;
        r = net_join(d->nets, ni.id, &q, &e, err);
        if (r < 0)
                return r;
        size_t li;
        json_t *ll;
        json_array_foreach(json_object_get(ipam, "LinkLocalIPs"), li, ll) {
                if ((r = net_add_link_local(ns, ifname, json_string_value(ll) ?: "", err)) < 0) {
                        net_leave(d->nets, ni.id, c->id, ns, ifname);
                        return r;
                }
        }
        if (mac_given)
                json_object_set_new(ep, "BerthMacGiven", json_true());
        ctr_net_fill_endpoint(ep, &ni, &e);
        if (!ni.predefined)
                json_object_set(ep, "DNSNames", names);
        events_emit(d, "network", "connect", ni.id, json_pack("{s:s, s:s, s:s}", "container", c->id, "name", ni.name,
                                                            "type", ni.driver));
        return 0;
}

static void leave_one(struct daemon *d, struct container *c, const char *name, json_t *ep, const char *ns) {
        const char *nid = json_string_value(json_object_get(ep, "NetworkID"));
        if (!nid || !*nid || !json_string_length(json_object_get(ep, "IPAddress")))
                return;
        struct net_info ni;
        struct berr e = { 0 };
        const char *type = net_find(d->nets, nid, &ni, &e) == 0 ? ni.driver : "bridge";
        net_leave(d->nets, nid, c->id, ns, json_string_value(json_object_get(ep, EP_IFNAME)));
        events_emit(d, "network", "disconnect", nid,
                    json_pack("{s:s, s:s, s:s}", "container", c->id, "name", name, "type", type));
}

static void leave_all(struct daemon *d, struct container *c, json_t *networks, const char *ns) {
        const char *name;
        json_t *ep;
        json_object_foreach(networks, name, ep) {
                leave_one(d, c, name, ep, ns);
                ctr_net_clear_endpoint(ep);
        }
}

/* The order networks get eth0, eth1...: the primary network first, then by name. */
static int order_names(json_t *networks, const char *primary, const char **out, size_t max) {
        size_t n = 0;
        const char *k;
        json_t *v;
        if (primary && json_object_get(networks, primary) && n < max)
                out[n++] = primary;
        json_object_foreach(networks, k, v) {
                if (primary && strcmp(k, primary) == 0)
                        continue;
                if (n < max)
                        out[n++] = k;
        }
        return (int) n;
}

static const char *primary_name(struct daemon *d, struct container *c) {
        const char *nm = net_mode_str(c);
        switch (mode_of(nm)) {
        case NM_BRIDGE: return net_default_name(d->nets);
        case NM_NONE: return "none";
        case NM_HOST: return "host";
        case NM_CONTAINER: return NULL;
        case NM_USER: {
                /* The record is keyed by the network's name; NetworkMode may hold its ID. */
                const char *k;
                json_t *v;
                json_object_foreach(c->networks, k, v) {
                        const char *id = json_string_value(json_object_get(v, "NetworkID"));
                        if (strcmp(k, nm) == 0 || (id && *id && strncmp(id, nm, strlen(nm)) == 0))
                                return k;
                }
                return nm;
        }
        }
        return NULL;
}

/* The container's --dns servers (at most 3, IPv4 or IPv6) into @v, NULL-terminated. */
static const char *const *dns_servers(struct container *c, const char *v[4]) {
        size_t n = 0;
        for (size_t i = 0; i < c->cc->hc.dns.n; i++)
                if (n < 3)
                        v[n++] = c->cc->hc.dns.v[i];
        v[n] = NULL;
        return n ? v : NULL;
}

/* Docker's embedded DNS serves containers on user-defined networks, not the default bridge. */
static bool networks_use_dns(json_t *networks) {
        const char *name;
        json_t *ep;
        json_object_foreach(networks, name, ep) if (strcmp(name, "bridge") && strcmp(name, "none") &&
                                                    strcmp(name, "host") &&
                                                    json_string_length(json_object_get(ep, "IPAddress")))
                return true;
        return false;
}

bool ctr_net_uses_plugins(struct daemon *d, struct container *c) {
        const char *name;
        json_t *ep;
        json_object_foreach(c->networks, name, ep) {
                const char *nid = json_string_value(json_object_get(ep, "NetworkID"));
                if (nid && *nid && net_uses_plugins(d->nets, nid)) /* an IPv6-only or null-IPAM one too */
                        return true;
        }
        return false;
}

bool ctr_net_embedded_dns(struct container *c) {
        return networks_use_dns(c->networks);
}

int ctr_net_start(struct daemon *d, struct container *c, char *ns_path, size_t size, struct berr *err) {
        ns_path[0] = '\0';
        const char *nm = net_mode_str(c);
        enum net_mode mode = mode_of(nm);
        if (mode == NM_HOST)
                return 0;
        if (mode == NM_CONTAINER) {
                struct container *o = NULL;
                int r = ctr_lookup(d, nm + 10, &o, err);
                if (r < 0)
                        return r;
                pthread_mutex_lock(&o->lock);
                bool running = o->state == CTR_RUNNING || o->state == CTR_PAUSED;
                pid_t pid = o->pid;
                bool same = o == c;
                bool host = ctr_net_is_host(o);
                pthread_mutex_unlock(&o->lock);
                char oid[65];
                snprintf(oid, sizeof(oid), "%s", o->id);
                ctr_unref(d, o);
                if (same)
                        return berr_set(err, BERR_INVALID, EINVAL, "cannot join own network");
                if (!running)
                        return berr_set(err, BERR_CONFLICT, EINVAL, "cannot join network namespace of a non running "
                                        "container: container %s is not running", oid);
                if (host) /* rootless: host is berthd's namespace, not the host's */
                        snprintf(ns_path, size, d->rootless ? "/proc/self/ns/net" : "/proc/1/ns/net");
                else
                        snprintf(ns_path, size, "/proc/%d/ns/net", (int) pid);
                return 0;
        }

        /* rootless without slirp4netns (only "none" gets here, container.c refuses the
         * rest): berthd may not return to the user's namespace once in another, so the
         * runtime makes this one. With it, berthd's namespace is its user namespace's. */
        if (d->rootless && !d->cfg.net.hostfwd_api)
                return 0;
        /* A namespace of its own (none, bridge, user networks), lo up. */
        char ns[4200];
        int r = net_sandbox_create(d->nets, c->id, ns, sizeof(ns), err);
        if (r < 0)
                return r;
        trace_mark("berthd net: namespace made, lo up");
        pthread_mutex_lock(&c->lock);
        json_t *networks = json_deep_copy(c->networks);
        pthread_mutex_unlock(&c->lock);
        if (!networks)
                networks = json_object();
        pthread_mutex_lock(&c->lock);
        const char *pn = primary_name(d, c);
        _cleanup_free_ char *primary = pn ? strdup(pn) : NULL;
        pthread_mutex_unlock(&c->lock);
        if (primary && !json_object_get(networks, primary)) /* records from before networks */
                json_object_set_new(networks, primary, ctr_net_endpoint_new(NULL, NULL));
        const char *names[64];
        int n = order_names(networks, primary, names, ELEMENTSOF(names));
        int eth = 0;
        for (int i = 0; i < n && r == 0; i++) {
                char ifname[16];
                snprintf(ifname, sizeof(ifname), "eth%d", eth);
                json_t *ep = json_object_get(networks, names[i]);
                if (strcmp(names[i], "none") == 0 || strcmp(names[i], "host") == 0)
                        continue;
                r = join_one(d, c, names[i], ep, ns, ifname, eth == 0, err);
                trace_mark("berthd net: joined a network");
                if (r == 0 && json_string_length(json_object_get(ep, "IPAddress")))
                        eth++;
        }
        json_t *ports = NULL;
        if (r == 0)
                r = ctr_net_publish_ports(d, c, networks, &ports, err);
        if (r == 0 && (r = ctr_net_program_plugin_ports(d, c, networks, primary, err)) != 0) {
                /* dockerd shows no ports for a plugin's endpoint (its check of the driver's
                 * EndpointOperInfo never matches what JSON decodes to): NetworkSettings.Ports {} */
                json_decref(ports);
                ports = r > 0 ? json_object() : NULL;
                if (r < 0)
                        net_unpublish(d->nets, c->id);
                else
                        r = 0;
        }
        trace_mark("berthd net: ports published");
        const char *dnsv[4];
        if (r == 0 && networks_use_dns(networks)) {
                r = net_dns_attach(d->nets, c->id, ns, dns_servers(c, dnsv), err);
                if (r < 0)
                        net_unpublish(d->nets, c->id);
        }
        if (r < 0) {
                leave_all(d, c, networks, ns);
                net_sandbox_remove(d->nets, c->id);
                json_decref(networks);
                return r;
        }
        if (ports && json_object_size(ports) == 0) { /* no port: inspect shows {} for NULL too (200 B saved) */
                json_decref(ports);
                ports = NULL;
        }
        json_share_scalars(networks); /* kept while it runs: no copy of its empty fields */
        pthread_mutex_lock(&c->lock);
        json_decref(c->networks);
        c->networks = networks;
        json_decref(c->ports);
        c->ports = ports;
        pthread_mutex_unlock(&c->lock);
        snprintf(ns_path, size, "%s", ns);
        return 0;
}

void ctr_net_stop(struct daemon *d, struct container *c) {
        net_dns_detach(d->nets, c->id);
        net_unpublish(d->nets, c->id);
        trace_mark("berthd net stop: dns detached, ports unpublished");
        json_decref(c->ports);
        c->ports = NULL;
        char ns[4200];
        net_sandbox_path(d->nets, c->id, ns, sizeof(ns));
        leave_all(d, c, c->networks, ns);
        trace_mark("berthd net stop: networks left");
        net_sandbox_remove(d->nets, c->id);
        trace_mark("berthd net stop: namespace removed");
}

/* A connect or disconnect cut short by kill -9 leaves the namespace and the record apart:
 * the veth goes before the record is written (disconnect), or is made before it
 * (connect). The namespace is the truth: an endpoint whose interface is gone is dropped,
 * an interface no endpoint names is deleted (its address was never recorded, so IPAM
 * would hand it out again). Returns whether the record changed. */
static bool reconcile_interfaces(struct daemon *d, struct container *c) {
        char ns[4200];
        net_sandbox_path(d->nets, c->id, ns, sizeof(ns));
        if (!ns[0] || access(ns, F_OK) < 0)
                return false;
        _cleanup_json_ json_t *ifs = net_sandbox_stats(ns); /* interface name -> stats, lo left out */
        if (!ifs)
                return false;
        bool changed = false, all_named = true;
        _cleanup_json_ json_t *gone = json_array();
        const char *name;
        json_t *ep;
        json_object_foreach(c->networks, name, ep) {
                const char *ifn = json_string_value(json_object_get(ep, EP_IFNAME));
                if (!json_string_length(json_object_get(ep, "IPAddress")))
                        continue;
                if (!ifn || !*ifn) {
                        all_named = false; /* an older record: which interface is whose is not known */
                        continue;
                }
                if (json_object_get(ifs, ifn))
                        json_object_del(ifs, ifn); /* claimed */
                else
                        json_array_append_new(gone, json_string(name));
        }
        size_t i;
        json_t *g;
        json_array_foreach(gone, i, g) {
                log_warn("container %.12s: its endpoint on network %s has no interface (a disconnect cut short): "
                         "dropping it", c->id, json_string_value(g));
                json_object_del(c->networks, json_string_value(g));
                changed = true;
        }
        const char *ifn;
        json_t *st;
        if (!all_named)
                return changed;
        json_object_foreach(ifs, ifn, st) {
                log_warn("container %.12s: interface %s belongs to no endpoint (a connect cut short): deleting it",
                         c->id, ifn);
                net_leave(d->nets, "", c->id, ns, ifn); /* no network: only the link goes */
        }
        return changed;
}

void ctr_net_restore(struct daemon *d, struct container *c) {
        struct net_port *p = NULL;
        size_t n = 0;
        if (ctr_net_ports_from_record(c, &p, &n) == 0 && n > 0)
                net_republish(d->nets, c->id, p, n);
        free(p);
        if (reconcile_interfaces(d, c)) {
                struct berr se = { 0 };
                pthread_mutex_lock(&c->lock);
                if (ctr_save(d, c, &se) < 0)
                        log_warn("save container %.12s: %s", c->id, se.msg);
                pthread_mutex_unlock(&c->lock);
        }
        const char *name;
        json_t *ep;
        json_object_foreach(c->networks, name, ep) {
                struct net_ep e;
                const char *nid = json_string_value(json_object_get(ep, "NetworkID"));
                if (!nid || ctr_net_ep_from_json(ep, &e) < 0)
                        continue;
                struct berr err = { 0 };
                json_t *names = json_object_get(ep, "DNSNames");
                const char *namev[66] = { 0 };
                for (size_t i = 0; i < json_array_size(names) && i < ELEMENTSOF(namev) - 1; i++)
                        namev[i] = json_string_value(json_array_get(names, i));
                if (net_restore(d->nets, nid, c->id, c->name, &e, namev, &err) < 0)
                        log_warn("container %.12s on network %s: %s", c->id, name, err.msg);
        }
}

void ctr_net_restore_dns(struct daemon *d, struct container *c) {
        if (ctr_net_embedded_dns(c)) {
                const char *dnsv[4];
                char ns[4200];
                struct berr err = { 0 };
                net_sandbox_path(d->nets, c->id, ns, sizeof(ns));
                /* The shim kept the sockets, still bound: serve them again. A shim of
                 * an older berth (or one that never got them) has none: bind anew. */
                struct berr te = { 0 };
                if (ctr_dns_take_from_shim(d, c, ns, dns_servers(c, dnsv), &te) < 0) {
                        log_info("container %.12s: DNS sockets not taken back from the shim (%s): binding anew",
                                 c->id, te.msg);
                        if (net_dns_attach(d->nets, c->id, ns, dns_servers(c, dnsv), &err) < 0)
                                log_warn("container %.12s: %s", c->id, err.msg);
                        else
                                ctr_dns_hand_to_shim(d, c);
                }
        }
}

/* ---- --pid and --ipc container:<x> ---- */

static int donor(struct daemon *d, struct container *c, const char *mode, const char *what, pid_t *ret_pid,
                 char ret_ipc_mode[32], struct berr *err) {
        struct container *o = NULL;
        int r = ctr_lookup(d, mode + 10, &o, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&o->lock);
        bool running = o->state == CTR_RUNNING || o->state == CTR_PAUSED;
        pid_t pid = o->pid;
        snprintf(ret_ipc_mode, 32, "%s", o->cc->hc.ipc_mode_text);
        char oid[65];
        snprintf(oid, sizeof(oid), "%s", o->id);
        bool same = o == c;
        pthread_mutex_unlock(&o->lock);
        ctr_unref(d, o);
        if (same)
                return berr_set(err, BERR_INVALID, EINVAL, "cannot join own %s namespace", what);
        if (!running || pid <= 0)
                return berr_set(err, BERR_CONFLICT, EINVAL, "cannot join %s of a non running container: %s", what, oid);
        *ret_pid = pid;
        return 0;
}

int ctr_join_ns_paths(struct daemon *d, struct container *c, char pid_ns[64], char ipc_ns[64], char shm[80],
                      struct berr *err) {
        pid_ns[0] = ipc_ns[0] = shm[0] = '\0';
        const char *pm = c->cc->hc.pid_mode_text;
        const char *im = c->cc->hc.ipc_mode_text;
        pid_t pid;
        char mode[32];
        int r;
        if (pm && strncmp(pm, "container:", 10) == 0 && pm[10]) {
                if ((r = donor(d, c, pm, "PID namespace", &pid, mode, err)) < 0)
                        return r;
                snprintf(pid_ns, 64, "/proc/%d/ns/pid", (int) pid);
        }
        if (im && strncmp(im, "container:", 10) == 0 && im[10]) {
                if ((r = donor(d, c, im, "IPC namespace", &pid, mode, err)) < 0)
                        return r;
                if (strcmp(mode, "shareable") != 0 && strcmp(mode, "host") != 0)
                        return berr_set(err, BERR_CONFLICT, EINVAL,
                                        "non-shareable IPC (hint: use IpcMode:shareable for the donor container)");
                snprintf(ipc_ns, 64, "/proc/%d/ns/ipc", (int) pid);
                /* Not yet: the donor's /dev/shm. It is a tmpfs in the donor's mount
                 * namespace, which cannot be bind-mounted from here; dockerd mounts a
                 * shareable container's shm on the host for that. SysV IPC is shared. */
        }
        return 0;
}

/* ---- connect / disconnect ---- */

/* Caller holds c->lock: wait (bounded) until no start is in progress, so the start's copy
 * of the Networks record and this change cannot overwrite each other. */
static int wait_not_starting(struct container *c, struct berr *err) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 30;
        while (c->state == CTR_STARTING)
                if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline) != 0)
                        return berr_set(err, BERR_CONFLICT, EBUSY, "container %s is starting; try again", c->id);
        return 0;
}

int ctr_net_connect(struct daemon *d, struct container *c, const char *ref, json_t *cfg, struct berr *err) {
        struct net_info ni;
        int r = net_find(d->nets, ref, &ni, err);
        if (r < 0)
                return r;
        if ((r = ctr_net_check_endpoint_config(ni.name, cfg, err)) < 0)
                return r;
        enum net_mode mode = mode_of(net_mode_str(c));
        if (!net_driver_has_endpoints(ni.driver))
                return berr_set(err, BERR_FORBIDDEN, EPERM, "container cannot be disconnected from host network or "
                                "connected to host network");
        if (mode == NM_HOST || mode == NM_CONTAINER || mode == NM_NONE)
                return berr_set(err, BERR_FORBIDDEN, EPERM, "container sharing network namespace with another container "
                                "or host cannot be connected to any other network");
        if (ni.predefined && (json_string_length(json_object_get(json_object_get(cfg, "IPAMConfig"), "IPv4Address")) ||
                              json_string_length(json_object_get(json_object_get(cfg, "IPAMConfig"), "IPv6Address"))))
                return berr_set(err, BERR_INVALID, EINVAL,
                                "user specified IP address is supported on user defined networks only");
        pthread_mutex_lock(&c->lock);
        if ((r = wait_not_starting(c, err)) < 0) {
                pthread_mutex_unlock(&c->lock);
                return r;
        }
        if (ctr_net_on(c, ni.id, ni.name)) {
                pthread_mutex_unlock(&c->lock);
                return berr_set(err, BERR_FORBIDDEN, EEXIST, "endpoint with name %s already exists in network %s",
                                c->name + 1, ni.name);
        }
        bool running = ctr_state_shown(c) == CTR_RUNNING || ctr_state_shown(c) == CTR_PAUSED;
        json_t *ep = ctr_net_endpoint_new(ni.id, cfg);
        if (running) {
                /* The next free ethN inside the namespace. */
                int max = -1;
                const char *k;
                json_t *v;
                json_object_foreach(c->networks, k, v) {
                        const char *ifn = json_string_value(json_object_get(v, EP_IFNAME));
                        if (ifn && strncmp(ifn, "eth", 3) == 0 && atoi(ifn + 3) > max)
                                max = atoi(ifn + 3);
                }
                char ifname[16], ns[4200];
                snprintf(ifname, sizeof(ifname), "eth%d", max + 1);
                net_sandbox_path(d->nets, c->id, ns, sizeof(ns));
                r = join_one(d, c, ni.name, ep, ns, ifname, max < 0, err);
                if (r < 0) {
                        pthread_mutex_unlock(&c->lock);
                        json_decref(ep);
                        return r;
                }
        }
        bool had_dns = running && networks_use_dns(c->networks), hand_dns = false;
        json_object_set_new(c->networks, ni.name, ep);
        if (running && !had_dns && networks_use_dns(c->networks)) {
                /* From the default bridge onto a user network: the embedded DNS now serves it. */
                char ns[4200];
                const char *dnsv[4];
                struct berr e = { 0 };
                net_sandbox_path(d->nets, c->id, ns, sizeof(ns));
                if (net_dns_attach(d->nets, c->id, ns, dns_servers(c, dnsv), &e) < 0 || ctr_rewrite_resolv_conf(d, c, &e) < 0)
                        log_warn("container %.12s: embedded DNS after connect: %s", c->id, e.msg);
                else
                        hand_dns = true;
        }
        r = ctr_save(d, c, err);
        pthread_mutex_unlock(&c->lock);
        if (hand_dns) /* no lock across a call to the shim */
                ctr_dns_hand_to_shim(d, c);
        if (r == 0 && !running) /* a running container's join said so already */
                events_emit(d, "network", "connect", ni.id,
                            json_pack("{s:s, s:s, s:s}", "container", c->id, "name", ni.name, "type", ni.driver));
        return r;
}

int ctr_net_disconnect(struct daemon *d, struct container *c, const char *ref, bool force, struct berr *err) {
        struct net_info ni;
        int r = net_find(d->nets, ref, &ni, err);
        if (r < 0 && !force)
                return r;
        if (r < 0) {
                snprintf(ni.name, sizeof(ni.name), "%s", ref);
                ni.id[0] = '\0';
                snprintf(ni.driver, sizeof(ni.driver), "bridge");
        }
        if (!net_driver_has_endpoints(ni.driver))
                return berr_set(err, BERR_FORBIDDEN, EPERM, "container cannot be disconnected from host network or "
                                "connected to host network");
        pthread_mutex_lock(&c->lock);
        if ((r = wait_not_starting(c, err)) < 0) {
                pthread_mutex_unlock(&c->lock);
                return r;
        }
        const char *key = NULL;
        const char *k;
        json_t *v;
        json_object_foreach(c->networks, k, v) {
                const char *id = json_string_value(json_object_get(v, "NetworkID"));
                if (strcmp(k, ni.name) == 0 || (ni.id[0] && id && strcmp(id, ni.id) == 0))
                        key = k;
        }
        if (!key) {
                pthread_mutex_unlock(&c->lock);
                return berr_set(err, BERR_FORBIDDEN, ENOENT, "container %s is not connected to network %s", c->id, ref);
        }
        json_t *ep = json_object_get(c->networks, key);
        bool joined = json_string_length(json_object_get(ep, "IPAddress")) > 0;
        if (joined) {
                char ns[4200];
                net_sandbox_path(d->nets, c->id, ns, sizeof(ns));
                leave_one(d, c, key, ep, ns);
        }
        json_object_del(c->networks, key);
        r = ctr_save(d, c, err);
        pthread_mutex_unlock(&c->lock);
        if (r == 0 && ni.id[0] && !joined)
                events_emit(d, "network", "disconnect", ni.id,
                            json_pack("{s:s, s:s, s:s}", "container", c->id, "name", ni.name, "type", ni.driver));
        return r;
}

json_t *ctr_net_stats(struct daemon *d, struct container *c) {
        enum net_mode mode = mode_of(net_mode_str(c));
        if (mode == NM_HOST || mode == NM_CONTAINER)
                return NULL;
        char ns[4200];
        net_sandbox_path(d->nets, c->id, ns, sizeof(ns));
        return net_sandbox_stats(ns);
}

/* ---- the network API's daemon side ---- */

int daemon_net_create(struct daemon *d, json_t *req, char ret_id[65], char ret_warning[256], struct berr *err) {
        /* rootless.c without slirp4netns: the user's network namespace is not berthd's to change */
        if (d->rootless && !d->cfg.net.hostfwd_api)
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "rootless berth cannot create networks yet (no "
                                "slirp4netns or pasta networking): not supported by berth");
        /* Network and IPAM driver plugins are the store's to call (network/remote.c). */
        int r = net_create(d->nets, req, ret_id, ret_warning, err);
        if (r < 0)
                return r;
        struct net_info ni;
        struct berr e = { 0 };
        if (net_find(d->nets, ret_id, &ni, &e) == 0)
                events_emit(d, "network", "create", ni.id, json_pack("{s:s, s:s}", "name", ni.name, "type", ni.driver));
        return 0;
}

int daemon_net_remove(struct daemon *d, const char *ref, struct berr *err) {
        struct net_info ni;
        int r = net_remove(d->nets, ref, &ni, err);
        if (r < 0)
                return r;
        events_emit(d, "network", "destroy", ni.id, json_pack("{s:s, s:s}", "name", ni.name, "type", ni.driver));
        return 0;
}

int daemon_net_prune(struct daemon *d, json_t *filters, int64_t until_ns, json_t **ret_deleted, struct berr *err) {
        _cleanup_json_ json_t *ids = NULL;
        int r = net_prune(d->nets, filters, until_ns, ret_deleted, &ids, err);
        if (r < 0)
                return r;
        size_t i;
        json_t *v;
        json_array_foreach(*ret_deleted, i, v)
                events_emit(d, "network", "destroy", json_string_value(json_array_get(ids, i)),
                            json_pack("{s:O, s:s}", "name", v, "type", "bridge"));
        return 0;
}
