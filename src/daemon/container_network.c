/* container_network.c - where containers meet networks: the networks a container is on
 * (NetworkSettings.Networks, kept in its record), its network namespace and endpoints from
 * start to exit, connect/disconnect, and NetworkSettings for inspect and ps.
 *
 * Every network mode resolves here, in one place: "default"/"bridge" (the default
 * network), a user network's name or ID, "none" (own namespace, lo only), "host" (the
 * host's namespace) and "container:<x>" (x's namespace). */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
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
#include "daemon.h"
#include "events.h"
#include "network/network.h"

/* Keys of an endpoint's record that inspect does not show. */
#define EP_IFNAME "BerthIfname"
/* a network driver plugin's endpoint: its link's name on the host, and its ports programmed */
#define EP_SRC_IFNAME "BerthSrcIfname"
#define EP_EXTERNAL "BerthExternal"

enum net_mode { NM_BRIDGE, NM_NONE, NM_HOST, NM_CONTAINER, NM_USER };

static enum net_mode mode_of(const char *nm) {
        if (!nm || !*nm || strcmp(nm, "default") == 0 || strcmp(nm, "bridge") == 0)
                return NM_BRIDGE;
        if (strcmp(nm, "none") == 0)
                return NM_NONE;
        if (strcmp(nm, "host") == 0)
                return NM_HOST;
        if (strncmp(nm, "container:", 10) == 0)
                return NM_CONTAINER;
        return NM_USER;
}

static const char *net_mode_str(struct container *c) {
        return c->cc->hc.network_mode;
}

bool ctr_net_is_host(struct container *c) {
        return mode_of(net_mode_str(c)) == NM_HOST;
}

/* Docker's EndpointSettings, empty of what a run fills in. */
static json_t *endpoint_new(const char *net_id, json_t *cfg) {
        json_t *ipam = json_object_get(cfg, "IPAMConfig");
        json_t *aliases = json_object_get(cfg, "Aliases");
        json_t *links = json_object_get(cfg, "Links");
        const char *mac = json_string_value(json_object_get(cfg, "MacAddress"));
        json_t *dopts = json_object_get(cfg, "DriverOpts");
        json_t *ep = json_pack("{s:O, s:O, s:O, s:s, s:O, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:n}", "IPAMConfig",
                               json_is_object(ipam) ? ipam : json_null(), "Links", json_is_array(links) ? links : json_null(),
                               "Aliases", json_is_array(aliases) ? aliases : json_null(), "MacAddress", mac ? mac : "",
                               "DriverOpts", json_object_size(dopts) ? dopts : json_null(), "NetworkID", net_id ? net_id : "", "EndpointID", "", "Gateway", "",
                               "IPAddress", "", "IPPrefixLen", 0, "IPv6Gateway", "", "GlobalIPv6Address", "",
                               "GlobalIPv6PrefixLen", 0, "DNSNames");
        return ep;
}

static int check_endpoint_config(const char *name, json_t *cfg, struct berr *err) {
        if (!cfg || json_is_null(cfg))
                return 0;
        if (!json_is_object(cfg))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid endpoint settings for network %s", name);
        json_t *ipam = json_object_get(cfg, "IPAMConfig");
        if (ipam && !json_is_null(ipam) && !json_is_object(ipam))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid IPAMConfig for network %s", name);
        const char *ip4 = json_string_value(json_object_get(ipam, "IPv4Address"));
        const char *ip6 = json_string_value(json_object_get(ipam, "IPv6Address"));
        uint8_t a6[16];
        if (ip6 && *ip6 && net_parse_ip6(ip6, a6) < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid IPv6 address: %s", ip6);
        if (ip4 && *ip4) {
                char buf[64];
                int a, b, c, d;
                char tail;
                snprintf(buf, sizeof(buf), "%s", ip4);
                if (sscanf(buf, "%d.%d.%d.%d%c", &a, &b, &c, &d, &tail) != 4 || a < 0 || a > 255 || b < 0 || b > 255 ||
                    c < 0 || c > 255 || d < 0 || d > 255)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid IPv4 address: %s", ip4);
        }
        json_t *aliases = json_object_get(cfg, "Aliases");
        if (aliases && !json_is_null(aliases) && !json_is_array(aliases))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid Aliases for network %s", name);
        json_t *ll = json_object_get(ipam, "LinkLocalIPs");
        if (ll && !json_is_null(ll) && !json_is_array(ll))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid LinkLocalIPs for network %s", name);
        size_t i;
        json_t *v;
        json_array_foreach(ll, i, v) {
                const char *ip = json_string_value(v);
                struct in_addr a4;
                struct in6_addr ll6;
                if (ip && inet_pton(AF_INET6, ip, &ll6) == 1)
                        return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "IPv6 link-local addresses are not supported "
                                        "by berth yet");
                if (!ip || inet_pton(AF_INET, ip, &a4) != 1)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid link-local IP address: %s", ip ? ip : "");
        }
        if (i > 16)
                return berr_set(err, BERR_INVALID, E2BIG, "too many link-local IP addresses: at most 16");
        json_t *dopts = json_object_get(cfg, "DriverOpts");
        if (dopts && !json_is_null(dopts) && !json_is_object(dopts))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid DriverOpts for network %s", name);
        const char *k;
        json_object_foreach(dopts, k, v) {
                if (!json_is_string(v))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid DriverOpts for network %s", name);
                /* The endpoint options Docker's own drivers act on; others are kept, as dockerd keeps them. */
                if (strcmp(k, "com.docker.network.endpoint.ifname") == 0 ||
                    strcmp(k, "com.docker.network.endpoint.sysctls") == 0)
                        return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "driver option %s is not supported by berth",
                                        k);
        }
        const char *mac = json_string_value(json_object_get(cfg, "MacAddress"));
        uint8_t m[6];
        if (mac && *mac && net_parse_mac(mac, m) < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid MAC address: %s", mac);
        return 0;
}

/* ---- published ports ---- */

/* "80/tcp", "80" (tcp), "53/udp", "9/sctp" */
static int parse_port_key(const char *key, uint16_t *ret_port, uint8_t *ret_proto) {
        char *end;
        errno = 0;
        unsigned long p = strtoul(key, &end, 10);
        if (errno || end == key || p == 0 || p > 65535 || !isdigit((unsigned char) key[0]))
                return -EINVAL;
        const char *proto = *end == '/' ? end + 1 : *end ? NULL : "tcp";
        if (!proto)
                return -EINVAL;
        if (strcmp(proto, "tcp") == 0)
                *ret_proto = IPPROTO_TCP;
        else if (strcmp(proto, "udp") == 0)
                *ret_proto = IPPROTO_UDP;
        else if (strcmp(proto, "sctp") == 0)
                *ret_proto = IPPROTO_SCTP;
        else
                return -EINVAL;
        *ret_port = (uint16_t) p;
        return 0;
}

/* HostPort: "", "8080" or "8000-8010". */
static int parse_host_port(const char *s, uint16_t *lo, uint16_t *hi) {
        if (!s || !*s) {
                *lo = *hi = 0;
                return 0;
        }
        char *end;
        unsigned long a = strtoul(s, &end, 10), b = a;
        if (end == s || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        if (*end == '-') {
                const char *t = end + 1;
                b = strtoul(t, &end, 10);
                if (end == t || !isdigit((unsigned char) t[0]))
                        return -EINVAL;
        }
        if (*end || a == 0 || a > 65535 || b < a || b > 65535)
                return -EINVAL;
        *lo = (uint16_t) a;
        *hi = (uint16_t) b;
        return 0;
}

static int check_ports(const struct ctr_config *req, struct berr *err) {
        const char *key;
        for (size_t pi = 0; pi < req->hc.n_port_bindings; pi++) {
                const struct ctr_port_map_entry *pe = &req->hc.port_bindings[pi];
                key = pe->port;
                uint16_t port;
                uint8_t proto;
                if (parse_port_key(key, &port, &proto) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid port specification: \"%s\"", key);
                for (size_t i = 0; i < pe->n; i++) {
                        const char *ip = pe->b[i].host_ip;
                        const char *hp = pe->b[i].host_port;
                        uint16_t lo, hi;
                        if (parse_host_port(hp, &lo, &hi) < 0)
                                return berr_set(err, BERR_INVALID, EINVAL, "invalid port specification: \"%s\"", hp);
                        if (ip && *ip) {
                                struct in6_addr a6;
                                struct in_addr a4;
                                /* The kernel forwards no ::1 traffic out of lo (IPv6 has no route_localnet):
                                 * dockerd needs its userland proxy for it, and berth has none. */
                                if (inet_pton(AF_INET6, ip, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6))
                                        return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "publishing ports on the IPv6 "
                                                        "loopback address %s is not supported by berth: the kernel cannot "
                                                        "forward it to a container without a userland proxy (as dockerd "
                                                        "with userland-proxy false); publish on [::] or 127.0.0.1", ip);
                                if (inet_pton(AF_INET6, ip, &a6) != 1 && inet_pton(AF_INET, ip, &a4) != 1)
                                        return berr_set(err, BERR_INVALID, EINVAL, "invalid IP address: %s", ip);
                        }
                }
        }
        for (size_t i = 0; i < req->cfg.exposed_ports.n; i++) {
                key = req->cfg.exposed_ports.v[i];
                uint16_t port;
                uint8_t proto;
                if (parse_port_key(key, &port, &proto) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid port specification: \"%s\"", key);
        }
        return 0;
}

int ctr_net_config(struct daemon *d, json_t *body, const struct ctr_config *req, json_t **ret, struct berr *err) {
        const char *nm = req->hc.network_mode;
        json_t *eps = json_object_get(json_object_get(body, "NetworkingConfig"), "EndpointsConfig");
        if (eps && !json_is_null(eps) && !json_is_object(eps))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid NetworkingConfig.EndpointsConfig");
        enum net_mode mode = mode_of(nm);
        int rp = check_ports(req, err);
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
                int r = check_endpoint_config(key, cfg, err);
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
        json_object_set_new(out, pname, endpoint_new(found ? ni.id : NULL, pcfg));
        json_object_foreach(eps, key, cfg) {
                if (pkey && strcmp(key, pkey) == 0)
                        continue;
                struct net_info other;
                if (net_find(d->nets, key, &other, &e) < 0) {
                        json_decref(out);
                        return berr_set(err, BERR_NOT_FOUND, ENOENT, "network %s not found", key);
                }
                if (!json_object_get(out, other.name))
                        json_object_set_new(out, other.name, endpoint_new(other.id, cfg));
        }
        *ret = out;
        return 0;
}

/* ---- start and exit ---- */

static void clear_endpoint(json_t *ep) {
        static const char *const strs[] = { "EndpointID", "Gateway", "IPAddress", "IPv6Gateway", "GlobalIPv6Address" };
        for (size_t i = 0; i < ELEMENTSOF(strs); i++)
                json_object_set_new(ep, strs[i], json_string(""));
        json_object_set_new(ep, "IPPrefixLen", json_integer(0));
        json_object_set_new(ep, "GlobalIPv6PrefixLen", json_integer(0));
        json_object_set_new(ep, "DNSNames", json_null());
        json_object_del(ep, EP_IFNAME);
        json_object_del(ep, EP_SRC_IFNAME);
        json_object_del(ep, EP_EXTERNAL);
        /* A MAC address the user did not ask for goes with the run. */
        if (!json_is_true(json_object_get(ep, "BerthMacGiven")))
                json_object_set_new(ep, "MacAddress", json_string(""));
}

static int ep_from_json(json_t *ep, struct net_ep *ret) {
        memset(ret, 0, sizeof(*ret));
        const char *ip = json_string_value(json_object_get(ep, "IPAddress"));
        const char *gw = json_string_value(json_object_get(ep, "Gateway"));
        const char *mac = json_string_value(json_object_get(ep, "MacAddress"));
        const char *eid = json_string_value(json_object_get(ep, "EndpointID"));
        const char *ifn = json_string_value(json_object_get(ep, EP_IFNAME));
        if (!ip || !*ip)
                return -ENOENT;
        unsigned a, b, c, d;
        if (sscanf(ip, "%u.%u.%u.%u", &a, &b, &c, &d) != 4)
                return -EINVAL;
        ret->ip = a << 24 | b << 16 | c << 8 | d;
        if (gw && sscanf(gw, "%u.%u.%u.%u", &a, &b, &c, &d) == 4)
                ret->gateway = a << 24 | b << 16 | c << 8 | d;
        ret->prefix = (int) json_integer_value(json_object_get(ep, "IPPrefixLen"));
        if (mac)
                (void) net_parse_mac(mac, ret->mac);
        const char *ip6 = json_string_value(json_object_get(ep, "GlobalIPv6Address"));
        const char *gw6 = json_string_value(json_object_get(ep, "IPv6Gateway"));
        if (ip6 && *ip6 && net_parse_ip6(ip6, ret->ip6) == 0) {
                ret->has_ip6 = true;
                ret->prefix6 = (int) json_integer_value(json_object_get(ep, "GlobalIPv6PrefixLen"));
                if (gw6 && *gw6)
                        (void) net_parse_ip6(gw6, ret->gateway6);
        }
        snprintf(ret->endpoint_id, sizeof(ret->endpoint_id), "%s", eid ?: "");
        snprintf(ret->ifname, sizeof(ret->ifname), "%s", ifn ?: "");
        snprintf(ret->src_name, sizeof(ret->src_name), "%s", json_string_value(json_object_get(ep, EP_SRC_IFNAME)) ?: "");
        ret->external = json_is_true(json_object_get(ep, EP_EXTERNAL));
        return 0;
}

static void fill_endpoint(json_t *ep, const struct net_info *ni, const struct net_ep *e) {
        char ip[16], gw[16], mac[18];
        net_format_ip(e->ip, ip);
        net_format_ip(e->gateway, gw);
        net_format_mac(e->mac, mac);
        static const uint8_t none[6];
        if (!e->gateway) /* macvlan/ipvlan without a gateway, ipvlan l3 */
                gw[0] = '\0';
        if (memcmp(e->mac, none, 6) == 0) /* ipvlan: the parent's */
                mac[0] = '\0';
        json_object_set_new(ep, "NetworkID", json_string(ni->id));
        json_object_set_new(ep, "EndpointID", json_string(e->endpoint_id));
        json_object_set_new(ep, "IPAddress", json_string(ip));
        json_object_set_new(ep, "Gateway", json_string(gw));
        json_object_set_new(ep, "IPPrefixLen", json_integer(e->prefix));
        json_object_set_new(ep, "MacAddress", json_string(mac));
        json_object_set_new(ep, EP_IFNAME, json_string(e->ifname));
        if (e->src_name[0])
                json_object_set_new(ep, EP_SRC_IFNAME, json_string(e->src_name));
        if (e->has_ip6) {
                char ip6[46], gw6[46];
                net_format_ip6(e->ip6, ip6);
                net_format_ip6(e->gateway6, gw6);
                static const uint8_t none6[16];
                if (memcmp(e->gateway6, none6, 16) == 0) /* macvlan/ipvlan or a network plugin without an IPv6 gateway */
                        gw6[0] = '\0';
                json_object_set_new(ep, "GlobalIPv6Address", json_string(ip6));
                json_object_set_new(ep, "IPv6Gateway", json_string(gw6));
                json_object_set_new(ep, "GlobalIPv6PrefixLen", json_integer(e->prefix6));
        }
}

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

static void plugin_port_labels(struct container *c, json_t *portmap, json_t *exposed);

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
                plugin_port_labels(c, portmap, exposed);
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
        fill_endpoint(ep, &ni, &e);
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
                clear_endpoint(ep);
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

static const char *proto_str(uint8_t p) {
        return p == IPPROTO_UDP ? "udp" : p == IPPROTO_SCTP ? "sctp" : "tcp";
}

/* The eth0 endpoint of @networks: its addresses (*ret_has6: an IPv6 one in ret_ip6) and its
 * network's default host address. */
static uint32_t primary_endpoint(struct daemon *d, json_t *networks, char host_ip[64], uint8_t ret_ip6[16],
                                 bool *ret_has6) {
        const char *name;
        json_t *ep;
        host_ip[0] = '\0';
        *ret_has6 = false;
        json_object_foreach(networks, name, ep) {
                const char *ifn = json_string_value(json_object_get(ep, EP_IFNAME));
                struct net_ep e;
                if (!ifn || strcmp(ifn, "eth0") != 0 || ep_from_json(ep, &e) < 0)
                        continue;
                struct net_info ni;
                struct berr err = { 0 };
                if (net_find(d->nets, json_string_value(json_object_get(ep, "NetworkID")), &ni, &err) == 0) {
                        if (strcmp(ni.driver, "bridge") != 0)
                                return 0; /* macvlan/ipvlan: reached directly, nothing to publish */
                        snprintf(host_ip, 64, "%s", ni.host_binding_ipv4);
                }
                if (e.has_ip6) {
                        memcpy(ret_ip6, e.ip6, 16);
                        *ret_has6 = true;
                }
                return e.ip;
        }
        return 0;
}

/* The container's wanted bindings as net_ports (host_port still to be chosen). */
/* Each binding of a port map ({"80/tcp": [{"HostIp", "HostPort"}]}: PortBindings, or a
 * record's Ports) as a net_port to @ctr_ip; @def_ip for an empty HostIp. @fixed: a record,
 * whose HostPort is the one port given (bindings without one are skipped). */
/* @ctr_ip6 (NULL: the container has no IPv6 address): a HostIp "" (or 0.0.0.0 by default)
 * also gives an IPv6 binding on [::] with the same host port, and IPv6 host addresses are
 * forwarded to it. Without one, IPv6 host addresses are left out, as dockerd does without
 * its userland proxy (the kernel cannot send IPv6 to an IPv4-only container). */
static int port_map_ports(json_t *map, uint32_t ctr_ip, const uint8_t *ctr_ip6, const char *def_ip, bool fixed,
                          struct net_port **ret, size_t *ret_n) {
        size_t cap = 0;
        const char *k;
        json_t *v;
        json_object_foreach(map, k, v) cap += 2 * json_array_size(v);
        struct net_port *p = calloc(cap + 1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        size_t n = 0;
        json_object_foreach(map, k, v) {
                uint16_t port;
                uint8_t proto;
                if (parse_port_key(k, &port, &proto) < 0)
                        continue;
                size_t i;
                json_t *b;
                json_array_foreach(v, i, b) {
                        struct net_port *q = &p[n];
                        const char *ip = json_string_value(json_object_get(b, "HostIp"));
                        if (!ip || !*ip)
                                ip = def_ip;
                        struct in_addr a;
                        struct in6_addr a6;
                        bool is6 = ip && strchr(ip, ':') && inet_pton(AF_INET6, ip, &a6) == 1;
                        if (is6 && !ctr_ip6)
                                continue;
                        q->host_ip = !is6 && ip && *ip && inet_pton(AF_INET, ip, &a) == 1 ? ntohl(a.s_addr) : 0;
                        if (parse_host_port(json_string_value(json_object_get(b, "HostPort")), &q->host_lo, &q->host_hi) < 0 ||
                            (fixed && !q->host_lo))
                                continue;
                        if (fixed)
                                q->host_port = q->host_hi = q->host_lo;
                        q->proto = proto;
                        q->ctr_port = port;
                        q->ctr_ip = ctr_ip;
                        if (is6) {
                                q->v6 = true;
                                memcpy(q->host_ip6, a6.s6_addr, 16);
                                memcpy(q->ctr_ip6, ctr_ip6, 16);
                        }
                        n++;
                        /* Every address: IPv4's and IPv6's, one port for both. */
                        if (!is6 && !q->host_ip && ctr_ip6 && !fixed) {
                                struct net_port *t = &p[n++];
                                *t = *q;
                                t->v6 = true;
                                memset(t->host_ip6, 0, 16);
                                memcpy(t->ctr_ip6, ctr_ip6, 16);
                        }
                }
        }
        *ret = p;
        *ret_n = n;
        return 0;
}

static int wanted_ports(struct daemon *d, struct container *c, uint32_t ctr_ip, const uint8_t *ctr_ip6, const char *def_ip,
                        struct net_port **ret, size_t *ret_n, struct berr *err) {
        _cleanup_json_ json_t *all = ctr_config_port_bindings_json(c->cc);
        if (!all)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (c->cc->hc.publish_all_ports)
                for (size_t i = 0; i < c->cc->cfg.exposed_ports.n; i++) {
                        const char *k = c->cc->cfg.exposed_ports.v[i];
                        if (json_array_size(json_object_get(all, k)) == 0)
                                json_object_set_new(all, k, json_pack("[{s:s, s:s}]", "HostIp", "", "HostPort", ""));
                }
        return port_map_ports(all, ctr_ip, ctr_ip6, def_ip, false, ret, ret_n) < 0
                       ? berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory")
                       : 0;
}

static json_t *ports_json(const struct ctr_config *cc, const struct net_port *p, size_t n) {
        json_t *o = json_object();
        for (size_t i = 0; i < cc->cfg.exposed_ports.n; i++)
                json_object_set_new(o, cc->cfg.exposed_ports.v[i], json_null());
        for (size_t i = 0; i < cc->hc.n_port_bindings; i++)
                if (!json_object_get(o, cc->hc.port_bindings[i].port))
                        json_object_set_new(o, cc->hc.port_bindings[i].port, json_null());
        for (size_t i = 0; i < n; i++) {
                char key[32], ip[46], hp[8];
                snprintf(key, sizeof(key), "%u/%s", p[i].ctr_port, proto_str(p[i].proto));
                if (p[i].v6)
                        net_format_ip6(p[i].host_ip6, ip);
                else
                        net_format_ip(p[i].host_ip, ip);
                snprintf(hp, sizeof(hp), "%u", p[i].host_port);
                json_t *arr = json_object_get(o, key);
                if (!json_is_array(arr)) {
                        arr = json_array();
                        json_object_set_new(o, key, arr);
                }
                json_array_append_new(arr, json_pack("{s:s, s:s}", "HostIp", ip, "HostPort", hp));
        }
        return o;
}

static int publish_ports(struct daemon *d, struct container *c, json_t *networks, json_t **ret, struct berr *err) {
        char def_ip[64];
        uint8_t ip6[16];
        bool has6;
        uint32_t ip = primary_endpoint(d, networks, def_ip, ip6, &has6);
        if (!def_ip[0] && d->cfg.net.ip)
                snprintf(def_ip, sizeof(def_ip), "%s", d->cfg.net.ip);
        struct net_port *p = NULL;
        size_t n = 0;
        if (ip) {
                int r = wanted_ports(d, c, ip, has6 ? ip6 : NULL, def_ip, &p, &n, err);
                if (r < 0)
                        return r;
                if ((r = net_publish(d->nets, c->id, p, n, err)) < 0) {
                        free(p);
                        return r;
                }
        }
        *ret = ports_json(c->cc, p, n);
        free(p);
        return 0;
}

/* libnetwork's sandbox labels for a network driver plugin: the PortBindings asked for
 * (com.docker.network.portmap) and the ports exposed (.endpoint.exposedports). */
static void plugin_port_labels(struct container *c, json_t *portmap, json_t *exposed) {
        _cleanup_json_ json_t *all = ctr_config_port_bindings_json(c->cc);
        for (size_t i = 0; all && i < c->cc->cfg.exposed_ports.n; i++)
                if (!json_object_get(all, c->cc->cfg.exposed_ports.v[i]))
                        json_object_set_new(all, c->cc->cfg.exposed_ports.v[i],
                                            c->cc->hc.publish_all_ports ? json_pack("[{s:s, s:s}]", "HostIp", "", "HostPort", "")
                                                                        : json_array());
        const char *k;
        json_t *v;
        json_object_foreach(all, k, v) {
                uint16_t port;
                uint8_t proto;
                if (parse_port_key(k, &port, &proto) < 0)
                        continue;
                json_array_append_new(exposed, json_pack("{s:i, s:i}", "Proto", proto, "Port", port));
                size_t i;
                json_t *b;
                json_array_foreach(v, i, b) {
                        uint16_t lo = 0, hi = 0;
                        if (parse_host_port(json_string_value(json_object_get(b, "HostPort")), &lo, &hi) < 0)
                                continue;
                        json_array_append_new(portmap, json_pack("{s:i, s:s, s:i, s:s, s:i, s:i}", "Proto", proto, "IP", "",
                                                                 "Port", port, "HostIP",
                                                                 json_string_value(json_object_get(b, "HostIp")) ?: "",
                                                                 "HostPort", lo, "HostPortEnd", hi));
                }
        }
}

/* On a network driver plugin's network (the container's gateway network, @primary) the
 * driver publishes the ports: ProgramExternalConnectivity. 1: @primary is a plugin's. */
static int program_plugin_ports(struct daemon *d, struct container *c, json_t *networks, const char *primary,
                                struct berr *err) {
        json_t *ep = primary ? json_object_get(networks, primary) : NULL;
        const char *nid = json_string_value(json_object_get(ep, "NetworkID"));
        struct net_info ni;
        struct berr e = { 0 };
        if (!nid || !json_string_length(json_object_get(ep, "IPAddress")) || net_find(d->nets, nid, &ni, &e) < 0 ||
            !net_driver_is_remote(ni.driver))
                return 0;
        _cleanup_json_ json_t *portmap = json_array(), *exposed = json_array();
        plugin_port_labels(c, portmap, exposed);
        int r = net_program_external(d->nets, ni.id, c->id, portmap, exposed, err);
        if (r > 0)
                json_object_set_new(ep, EP_EXTERNAL, json_true());
        return r < 0 ? r : 1;
}

/* The ports a record says are published, with the container's address. */
static int ports_from_record(struct container *c, struct net_port **ret, size_t *ret_n) {
        uint32_t ip = 0;
        uint8_t ip6[16];
        bool has6 = false;
        const char *name;
        json_t *ep;
        json_object_foreach(c->networks, name, ep) {
                const char *ifn = json_string_value(json_object_get(ep, EP_IFNAME));
                struct net_ep e;
                if (ifn && strcmp(ifn, "eth0") == 0 && ep_from_json(ep, &e) == 0) {
                        ip = e.ip;
                        if ((has6 = e.has_ip6))
                                memcpy(ip6, e.ip6, 16);
                }
        }
        return port_map_ports(c->ports, ip, has6 ? ip6 : NULL, NULL, true, ret, ret_n);
}

json_t *ctr_net_ports_list_json(struct container *c) {
        json_t *out = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(c->ports, k, v) {
                uint16_t port;
                uint8_t proto;
                if (parse_port_key(k, &port, &proto) < 0)
                        continue;
                if (json_array_size(v) == 0) {
                        json_array_append_new(out, json_pack("{s:i, s:s}", "PrivatePort", port, "Type", proto_str(proto)));
                        continue;
                }
                size_t i;
                json_t *b;
                json_array_foreach(v, i, b) json_array_append_new(
                        out, json_pack("{s:s, s:i, s:i, s:s}", "IP", json_string_value(json_object_get(b, "HostIp")) ?: "",
                                       "PrivatePort", port, "PublicPort",
                                       atoi(json_string_value(json_object_get(b, "HostPort")) ?: "0"), "Type",
                                       proto_str(proto)));
        }
        return out;
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
                if (json_string_length(json_object_get(ep, "IPAddress")) && nid && net_uses_plugins(d->nets, nid))
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
                json_object_set_new(networks, primary, endpoint_new(NULL, NULL));
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
                r = publish_ports(d, c, networks, &ports, err);
        if (r == 0 && (r = program_plugin_ports(d, c, networks, primary, err)) != 0) {
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
        if (ports_from_record(c, &p, &n) == 0 && n > 0)
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
                if (!nid || ep_from_json(ep, &e) < 0)
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

/* The first address a container has (for /etc/hosts), "" if none. */
void ctr_net_primary_ip(struct container *c, char out[16]) {
        out[0] = '\0';
        const char *name;
        json_t *ep;
        json_object_foreach(c->networks, name, ep) {
                const char *ifn = json_string_value(json_object_get(ep, EP_IFNAME));
                const char *ip = json_string_value(json_object_get(ep, "IPAddress"));
                if (ip && *ip && (!out[0] || (ifn && strcmp(ifn, "eth0") == 0)))
                        snprintf(out, 16, "%s", ip);
        }
}

/* The IPv6 address of the same endpoint as ctr_net_primary_ip, "" if none. */
void ctr_net_primary_ip6(struct container *c, char out[46]) {
        out[0] = '\0';
        const char *name;
        json_t *ep;
        bool have = false, eth0 = false;
        json_object_foreach(c->networks, name, ep) {
                const char *ifn = json_string_value(json_object_get(ep, EP_IFNAME));
                const char *ip = json_string_value(json_object_get(ep, "IPAddress"));
                const char *ip6 = json_string_value(json_object_get(ep, "GlobalIPv6Address"));
                bool is0 = ifn && strcmp(ifn, "eth0") == 0;
                if (ip && *ip && (!have || (is0 && !eth0))) {
                        snprintf(out, 46, "%s", ip6 ? ip6 : "");
                        have = true;
                        eth0 = is0;
                }
        }
}

/* host-gateway in --add-host: the gateway of the container's first network, or of the
 * default bridge (dockerd: the default bridge's address unless host-gateway-ip is set). */
void ctr_net_host_gateway(struct daemon *d, struct container *c, char out[16]) {
        out[0] = '\0';
        const char *name;
        json_t *ep;
        json_object_foreach(c->networks, name, ep) {
                const char *gw = json_string_value(json_object_get(ep, "Gateway"));
                const char *ifn = json_string_value(json_object_get(ep, EP_IFNAME));
                if (gw && *gw && (!out[0] || (ifn && strcmp(ifn, "eth0") == 0)))
                        snprintf(out, 16, "%s", gw);
        }
        if (!out[0])
                net_default_gateway(d->nets, out);
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

/* ---- legacy links (--link name[:alias]) ---- */

/* "NAME" -> "NAME_" upper-cased, '-' and '.' as '_', for the variables dockerd gives. */
static void env_prefix(const char *alias, char *out, size_t size) {
        size_t n = 0;
        for (const char *p = alias; *p && n + 1 < size; p++)
                out[n++] = (*p == '-' || *p == '.') ? '_' : (char) toupper((unsigned char) *p);
        out[n] = '\0';
}

/* The alias of a link spec: "name:alias", "/name:/me/alias", or "name" (its own name). */
static void link_alias(const char *spec, char *out, size_t size) {
        const char *colon = strchr(spec, ':');
        const char *a = colon ? colon + 1 : spec;
        const char *slash = strrchr(a, '/');
        if (colon)
                snprintf(out, size, "%s", slash ? slash + 1 : a);
        else
                snprintf(out, size, "%s", a[0] == '/' ? a + 1 : a);
}

int ctr_remove_link(struct daemon *d, const char *ref, struct berr *err) {
        char name[512];
        if (!ref || !*ref || strlen(ref) >= sizeof(name) - 1)
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "No such container: %s", ref ? ref : "");
        snprintf(name, sizeof(name), "%s%s", ref[0] == '/' ? "" : "/", ref);
        char *slash = strrchr(name, '/');
        struct container *c = NULL;
        if (slash == name) { /* "/db": a container's own name, which is no link */
                int r = ctr_lookup(d, name + 1, &c, err);
                if (r < 0)
                        return r;
                ctr_unref(d, c);
                return berr_set(err, BERR_INTERNAL, EINVAL, "Conflict, cannot remove the default link name of the container");
        }
        *slash = '\0'; /* name + 1: the parent; slash + 1: the alias */
        struct berr ignored = { 0 };
        if (ctr_lookup(d, name + 1, &c, &ignored) < 0) /* no parent: no such link name either */
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "No such container: %s", ref);
        pthread_mutex_lock(&c->lock);
        struct strv *links = &c->cc->hc.links;
        size_t i = 0;
        for (; i < links->n; i++) {
                char alias[256];
                link_alias(links->v[i], alias, sizeof(alias));
                if (strcmp(alias, slash + 1) == 0)
                        break;
        }
        int r = 0;
        if (i == links->n)
                r = berr_set(err, BERR_NOT_FOUND, ENOENT, "No such container: %s", ref);
        else {
                char *gone = links->v[i];
                memmove(&links->v[i], &links->v[i + 1], (links->n - i - 1) * sizeof(char *));
                links->n--;
                bool was_set = links->set;
                links->set = links->n > 0; /* inspect shows null for no links, as dockerd */
                /* A running parent keeps its /etc/hosts entry and variables (as with
                 * dockerd); its next start has no link. */
                r = ctr_save(d, c, err);
                if (r < 0) { /* nothing changed */
                        memmove(&links->v[i + 1], &links->v[i], (links->n - i) * sizeof(char *));
                        links->v[i] = gone;
                        links->n++;
                        links->set = was_set;
                } else
                        free(gone);
        }
        pthread_mutex_unlock(&c->lock);
        ctr_unref(d, c);
        return r;
}

int ctr_net_links(struct daemon *d, struct container *c, json_t **ret_env, json_t **ret_hosts, struct berr *err) {
        json_t *env = json_array(), *hosts = json_array();
        for (size_t li = 0; li < c->cc->hc.links.n; li++) {
                const char *spec = c->cc->hc.links.v[li];
                if (!*spec)
                        continue;
                /* "name:alias", or the API's "/name:/me/alias" */
                char name[256], alias[256];
                const char *colon = strchr(spec, ':');
                snprintf(name, sizeof(name), "%.*s", colon ? (int) (colon - spec) : (int) strlen(spec), spec);
                const char *a = colon ? colon + 1 : name;
                const char *slash = strrchr(a, '/');
                snprintf(alias, sizeof(alias), "%s", slash ? slash + 1 : a);
                const char *nm = name[0] == '/' ? name + 1 : name;
                struct container *o = NULL;
                int r = ctr_lookup(d, nm, &o, err);
                if (r < 0) {
                        json_decref(env);
                        json_decref(hosts);
                        return berr_set(err, BERR_INVALID, ENOENT, "could not get container for %s", nm);
                }
                pthread_mutex_lock(&o->lock);
                bool running = ctr_state_shown(o) == CTR_RUNNING || ctr_state_shown(o) == CTR_PAUSED;
                char ip[16] = "";
                json_t *ep = json_object_get(o->networks, "bridge");
                if (!ep) { /* a user network: the first it shares with this container */
                        const char *k;
                        json_t *v;
                        json_object_foreach(o->networks, k, v) if (!ep && json_object_get(c->networks, k)) ep = v;
                }
                snprintf(ip, sizeof(ip), "%s", json_string_value(json_object_get(ep, "IPAddress")) ?: "");
                char oname[256], oid[13];
                snprintf(oname, sizeof(oname), "%s", o->name + 1);
                snprintf(oid, sizeof(oid), "%.12s", o->id);
                json_t *oenv = strv_to_json(&o->cc->cfg.env);
                json_t *exposed = json_object(); /* the keys matter, as in Config.ExposedPorts */
                for (size_t x = 0; exposed && x < o->cc->cfg.exposed_ports.n; x++)
                        json_object_set_new(exposed, o->cc->cfg.exposed_ports.v[x], json_object());
                pthread_mutex_unlock(&o->lock);
                ctr_unref(d, o);
                if (!running || !ip[0]) {
                        json_decref(oenv);
                        json_decref(exposed);
                        json_decref(env);
                        json_decref(hosts);
                        return berr_set(err, BERR_CONFLICT, EINVAL, "Cannot link to a non running container: /%s AS %s/%s",
                                        oname, c->name, alias);
                }
                json_array_append_new(hosts, json_sprintf("%s\t%s %s %s", ip, alias, oid, oname));
                char pre[256];
                env_prefix(alias, pre, sizeof(pre));
                json_array_append_new(env, json_sprintf("%s_NAME=%s/%s", pre, c->name, alias));
                /* Ports, lowest first, as dockerd sorts them. */
                uint32_t keys[256];
                size_t nk = 0;
                const char *k;
                json_t *v;
                json_object_foreach(exposed, k, v) {
                        uint16_t port;
                        uint8_t proto;
                        if (nk < ELEMENTSOF(keys) && parse_port_key(k, &port, &proto) == 0)
                                keys[nk++] = (uint32_t) port << 8 | proto;
                }
                for (size_t x = 1; x < nk; x++)
                        for (size_t y = x; y > 0 && keys[y - 1] > keys[y]; y--) {
                                uint32_t t = keys[y];
                                keys[y] = keys[y - 1];
                                keys[y - 1] = t;
                        }
                for (size_t x = 0; x < nk; x++) {
                        unsigned port = keys[x] >> 8;
                        const char *proto = proto_str((uint8_t) (keys[x] & 0xff));
                        char up[8];
                        snprintf(up, sizeof(up), "%s", proto);
                        for (char *p = up; *p; p++)
                                *p = (char) toupper((unsigned char) *p);
                        if (x == 0)
                                json_array_append_new(env, json_sprintf("%s_PORT=%s://%s:%u", pre, proto, ip, port));
                        json_array_append_new(env, json_sprintf("%s_PORT_%u_%s=%s://%s:%u", pre, port, up, proto, ip, port));
                        json_array_append_new(env, json_sprintf("%s_PORT_%u_%s_ADDR=%s", pre, port, up, ip));
                        json_array_append_new(env, json_sprintf("%s_PORT_%u_%s_PORT=%u", pre, port, up, port));
                        json_array_append_new(env, json_sprintf("%s_PORT_%u_%s_PROTO=%s", pre, port, up, proto));
                }
                size_t ei;
                json_array_foreach(oenv, ei, v) {
                        const char *e = json_string_value(v);
                        const char *eq = e ? strchr(e, '=') : NULL;
                        if (!eq || (eq - e == 4 && strncmp(e, "HOME", 4) == 0) || (eq - e == 4 && strncmp(e, "PATH", 4) == 0))
                                continue;
                        json_array_append_new(env, json_sprintf("%s_ENV_%s", pre, e));
                }
                json_decref(oenv);
                json_decref(exposed);
        }
        *ret_env = env;
        *ret_hosts = hosts;
        return 0;
}

/* ---- inspect ---- */

static json_t *endpoint_view(json_t *ep) {
        json_t *o = json_deep_copy(ep);
        json_object_del(o, EP_IFNAME);
        json_object_del(o, EP_SRC_IFNAME);
        json_object_del(o, EP_EXTERNAL);
        json_object_del(o, "BerthMacGiven");
        return o;
}

/* Caller holds c->lock. */
json_t *ctr_net_settings_json(struct daemon *d, struct container *c) {
        bool running = ctr_is_running(c);
        char ns[4200] = "";
        enum net_mode mode = mode_of(net_mode_str(c));
        if (running && mode != NM_HOST && mode != NM_CONTAINER)
                net_sandbox_path(d->nets, c->id, ns, sizeof(ns));
        json_t *nets = json_object();
        const char *name;
        json_t *ep;
        json_object_foreach(c->networks, name, ep) json_object_set_new(nets, name, endpoint_view(ep));
        json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:b, s:s, s:i, s:n, s:n, s:s, s:s, s:s, s:i, s:s, s:i, s:s, s:s, s:o}",
                              "Bridge", "", "SandboxID", running && ns[0] ? c->id : "", "SandboxKey", ns, "Ports",
                              running && c->ports ? json_deep_copy(c->ports) : json_object(), "HairpinMode", 0, "LinkLocalIPv6Address", "", "LinkLocalIPv6PrefixLen", 0,
                              "SecondaryIPAddresses", "SecondaryIPv6Addresses", "EndpointID", "", "Gateway", "",
                              "GlobalIPv6Address", "", "GlobalIPv6PrefixLen", 0, "IPAddress", "", "IPPrefixLen", 0,
                              "IPv6Gateway", "", "MacAddress", "", "Networks", nets);
        /* The legacy top-level fields describe the default bridge only, as in dockerd. */
        json_t *br = json_object_get(c->networks, "bridge");
        if (br) {
                static const char *const keys[] = { "EndpointID", "Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen",
                                                     "IPAddress", "IPPrefixLen", "IPv6Gateway", "MacAddress" };
                for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                        json_t *v = json_object_get(br, keys[i]);
                        if (v)
                                json_object_set(o, keys[i], v);
                }
        }
        return o;
}

/* Caller holds c->lock: {"Networks": {...}} for ps. */
json_t *ctr_net_list_json(struct container *c) {
        json_t *nets = json_object();
        const char *name;
        json_t *ep;
        json_object_foreach(c->networks, name, ep) json_object_set_new(nets, name, endpoint_view(ep));
        return json_pack("{s:o}", "Networks", nets);
}

bool ctr_net_on(struct container *c, const char *net_id, const char *net_name) {
        const char *name;
        json_t *ep;
        json_object_foreach(c->networks, name, ep) {
                const char *id = json_string_value(json_object_get(ep, "NetworkID"));
                if (strcmp(name, net_name) == 0 || (id && strcmp(id, net_id) == 0))
                        return true;
        }
        return false;
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
        if ((r = check_endpoint_config(ni.name, cfg, err)) < 0)
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
        json_t *ep = endpoint_new(ni.id, cfg);
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
