/* container_net_json.c - a container's endpoint records (NetworkSettings.Networks, kept in
 * its record): Docker's EndpointSettings made from the request and checked, filled from a
 * join and cleared at exit, read back (addresses, gateway), and NetworkSettings for
 * inspect and ps (split from container_network.c). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "container.h"
#include "container_net_int.h"
#include "daemon.h"
#include "network/network.h"

/* Docker's EndpointSettings, empty of what a run fills in. */
json_t *ctr_net_endpoint_new(const char *net_id, json_t *cfg) {
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

int ctr_net_check_endpoint_config(const char *name, json_t *cfg, struct berr *err) {
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

void ctr_net_clear_endpoint(json_t *ep) {
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

int ctr_net_ep_from_json(json_t *ep, struct net_ep *ret) {
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

void ctr_net_fill_endpoint(json_t *ep, const struct net_info *ni, const struct net_ep *e) {
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
