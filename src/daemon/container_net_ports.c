/* container_net_ports.c - a container's published ports: PortBindings and ExposedPorts checked
 * at create, bound at start on the gateway network (net_publish) or handed to a network
 * driver plugin (ProgramExternalConnectivity), put back from the record at restore, and
 * shown as NetworkSettings.Ports and ps's Ports (split from container_network.c). */
#include <arpa/inet.h>
#include <ctype.h>
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

/* ---- published ports ---- */

/* "80/tcp", "80" (tcp), "53/udp", "9/sctp" */
int ctr_net_parse_port_key(const char *key, uint16_t *ret_port, uint8_t *ret_proto) {
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

int ctr_net_check_ports(const struct ctr_config *req, struct berr *err) {
        const char *key;
        for (size_t pi = 0; pi < req->hc.n_port_bindings; pi++) {
                const struct ctr_port_map_entry *pe = &req->hc.port_bindings[pi];
                key = pe->port;
                uint16_t port;
                uint8_t proto;
                if (ctr_net_parse_port_key(key, &port, &proto) < 0)
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
                if (ctr_net_parse_port_key(key, &port, &proto) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid port specification: \"%s\"", key);
        }
        return 0;
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
                if (!ifn || strcmp(ifn, "eth0") != 0 || ctr_net_ep_from_json(ep, &e) < 0)
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
                if (ctr_net_parse_port_key(k, &port, &proto) < 0)
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

int ctr_net_publish_ports(struct daemon *d, struct container *c, json_t *networks, json_t **ret, struct berr *err) {
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
void ctr_net_plugin_port_labels(struct container *c, json_t *portmap, json_t *exposed) {
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
                if (ctr_net_parse_port_key(k, &port, &proto) < 0)
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
int ctr_net_program_plugin_ports(struct daemon *d, struct container *c, json_t *networks, const char *primary,
                                 struct berr *err) {
        json_t *ep = primary ? json_object_get(networks, primary) : NULL;
        const char *nid = json_string_value(json_object_get(ep, "NetworkID"));
        struct net_info ni;
        struct berr e = { 0 };
        if (!nid || !json_string_length(json_object_get(ep, "IPAddress")) || net_find(d->nets, nid, &ni, &e) < 0 ||
            !net_driver_is_remote(ni.driver))
                return 0;
        _cleanup_json_ json_t *portmap = json_array(), *exposed = json_array();
        ctr_net_plugin_port_labels(c, portmap, exposed);
        int r = net_program_external(d->nets, ni.id, c->id, portmap, exposed, err);
        if (r > 0)
                json_object_set_new(ep, EP_EXTERNAL, json_true());
        return r < 0 ? r : 1;
}

/* The ports a record says are published, with the container's address. */
int ctr_net_ports_from_record(struct container *c, struct net_port **ret, size_t *ret_n) {
        uint32_t ip = 0;
        uint8_t ip6[16];
        bool has6 = false;
        const char *name;
        json_t *ep;
        json_object_foreach(c->networks, name, ep) {
                const char *ifn = json_string_value(json_object_get(ep, EP_IFNAME));
                struct net_ep e;
                if (ifn && strcmp(ifn, "eth0") == 0 && ctr_net_ep_from_json(ep, &e) == 0) {
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
                if (ctr_net_parse_port_key(k, &port, &proto) < 0)
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
