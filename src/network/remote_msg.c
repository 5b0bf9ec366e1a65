/* remote_msg.c - libnetwork's remote driver messages (remote.h): requests built and
 * answers read, with libnetwork's words for an answer it cannot use. No I/O. Answers are
 * the plugin's, so every field is checked for its type and bounded. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "remote.h"

const char *remote_answer_error(json_t *answer) {
        const char *e = json_string_value(json_object_get(answer, "Err"));
        if (!e || !*e)
                e = json_string_value(json_object_get(answer, "Error"));
        return e && *e ? e : NULL;
}

/* A string field of the answer, "" when absent or null; -EPROTO when of another type. */
static int answer_str(json_t *answer, const char *key, const char **ret, struct berr *err) {
        json_t *v = json_object_get(answer, key);
        *ret = "";
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v))
                return berr_set(err, BERR_INTERNAL, EPROTO, "json: cannot unmarshal %s into Go struct field %s of type "
                                "string", json_type_name(v), key);
        *ret = json_string_value(v);
        return 0;
}

int remote_parse_capabilities(json_t *answer, char ret_scope[8], struct berr *err) {
        const char *scope, *conn;
        int r;
        if ((r = answer_str(answer, "Scope", &scope, err)) < 0 || (r = answer_str(answer, "ConnectivityScope", &conn, err)) < 0)
                return r;
        if (strcmp(scope, "local") != 0 && strcmp(scope, "global") != 0)
                return berr_set(err, BERR_INTERNAL, EPROTO, "invalid capability: expecting 'local' or 'global', got %s",
                                scope);
        if (*conn && strcmp(conn, "local") != 0 && strcmp(conn, "global") != 0)
                return berr_set(err, BERR_INTERNAL, EPROTO, "invalid capability: expecting 'local' or 'global', got %s",
                                scope);
        snprintf(ret_scope, 8, "%s", scope);
        return 0;
}

static json_t *cidr4_json(uint32_t ip, int prefix) {
        char a[16], out[24];
        ipam_format_ip4(ip, a);
        snprintf(out, sizeof(out), "%s/%d", a, prefix);
        return json_string(out);
}

static json_t *cidr6_json(const uint8_t ip[16], int prefix) {
        char a[46], out[52];
        ipam_format_ip6(ip, a);
        snprintf(out, sizeof(out), "%s/%d", a, prefix);
        return json_string(out);
}

json_t *remote_create_network_req(const char *net_id, json_t *options, bool internal, const char *addr_space,
                                  const struct ipv4_net *pool, uint32_t gateway, json_t *aux,
                                  const struct ipv6_net *pool6, const uint8_t *gateway6) {
        json_t *opts = json_pack("{s:o, s:b}", REMOTE_LABEL_GENERIC,
                                 json_is_object(options) ? json_incref(options) : json_object(), REMOTE_LABEL_IPV6,
                                 pool6 != NULL);
        if (internal)
                json_object_set_new(opts, REMOTE_LABEL_INTERNAL, json_true());
        json_t *d4 = json_pack("{s:s, s:o}", "AddressSpace", addr_space ? addr_space : "", "Pool",
                               cidr4_json(pool->addr, pool->prefix));
        if (gateway)
                json_object_set_new(d4, "Gateway", cidr4_json(gateway, pool->prefix));
        json_t *auxc = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(aux, k, v) {
                uint32_t a;
                if (ipam_parse_ip4(json_string_value(v) ?: "", &a) == 0)
                        json_object_set_new(auxc, k, cidr4_json(a, pool->prefix));
        }
        json_object_set_new(d4, "AuxAddresses", auxc);
        json_t *d6s = json_array();
        if (pool6) {
                json_t *d6 = json_pack("{s:s, s:o, s:{}}", "AddressSpace", addr_space ? addr_space : "", "Pool",
                                       cidr6_json(pool6->addr, pool6->prefix), "AuxAddresses");
                if (gateway6 && !ipam_ip6_is_zero(gateway6))
                        json_object_set_new(d6, "Gateway", cidr6_json(gateway6, pool6->prefix));
                json_array_append_new(d6s, d6);
        }
        return json_pack("{s:s, s:o, s:[o], s:o}", "NetworkID", net_id, "Options", opts, "IPv4Data", d4, "IPv6Data", d6s);
}

bool remote_ipam_requires_mac(json_t *answer) {
        return json_is_true(json_object_get(answer, "RequiresMACAddress"));
}

/* "a.b.c.d/n" as Go's net.ParseCIDR reads an IPv4 one: the address as written and its prefix. */
static int parse_cidr(const char *s, uint32_t *ret_ip, int *ret_prefix, struct berr *err) {
        struct ipv4_net n;
        uint32_t host;
        if (!s || ipam_parse_cidr4(s, false, &n, &host) < 0)
                return berr_set(err, BERR_INTERNAL, EPROTO, "invalid CIDR address: %s", s ? s : "");
        *ret_ip = host;
        *ret_prefix = n.prefix;
        return 0;
}

int remote_parse_pool(json_t *answer, bool v6, struct remote_pool *ret, struct berr *err) {
        const char *id, *pool;
        int r;
        if ((r = answer_str(answer, "PoolID", &id, err)) < 0 || (r = answer_str(answer, "Pool", &pool, err)) < 0)
                return r;
        if (strlen(id) >= sizeof(ret->id))
                return berr_set(err, BERR_INTERNAL, E2BIG, "pool ID of %zu bytes: berth takes at most %zu", strlen(id),
                                sizeof(ret->id) - 1);
        struct remote_pool p = { 0 };
        snprintf(p.id, sizeof(p.id), "%s", id);
        if ((strchr(pool, ':') != NULL) != v6)
                return berr_set(err, BERR_INTERNAL, EPROTO, "the IPAM driver gave pool %s for an IPv%d request", pool,
                                v6 ? 6 : 4);
        if (v6 ? ipam_parse_cidr6(pool, false, &p.pool6, NULL) < 0 : ipam_parse_cidr4(pool, false, &p.pool, NULL) < 0)
                return berr_set(err, BERR_INTERNAL, EPROTO, "invalid CIDR address: %s", pool);
        json_t *data = json_object_get(answer, "Data");
        const char *gw = json_string_value(json_object_get(data, REMOTE_LABEL_GATEWAY));
        if (gw) {
                struct ipv6_net n6;
                int prefix;
                if (v6 ? ipam_parse_cidr6(gw, false, &n6, p.gateway6) < 0 : parse_cidr(gw, &p.gateway, &prefix, err) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "failed to parse gateway address (%s) returned by "
                                        "ipam driver: invalid CIDR address: %s", gw, gw);
        }
        *ret = p;
        return 0;
}

int remote_parse_address(json_t *answer, uint32_t *ret_ip, int *ret_prefix, struct berr *err) {
        const char *a;
        int r = answer_str(answer, "Address", &a, err);
        if (r < 0)
                return r;
        if (!*a)
                return berr_set(err, BERR_INTERNAL, EPROTO, "No address returned");
        if (strchr(a, ':'))
                return berr_set(err, BERR_INTERNAL, EPROTO, "the IPAM driver gave IPv6 address %s for an IPv4 pool", a);
        return parse_cidr(a, ret_ip, ret_prefix, err);
}

int remote_parse_address6(json_t *answer, uint8_t ret_ip[16], int *ret_prefix, struct berr *err) {
        const char *a;
        int r = answer_str(answer, "Address", &a, err);
        if (r < 0)
                return r;
        if (!*a)
                return berr_set(err, BERR_INTERNAL, EPROTO, "No address returned");
        struct ipv6_net n;
        if (!strchr(a, ':') || ipam_parse_cidr6(a, false, &n, ret_ip) < 0)
                return berr_set(err, BERR_INTERNAL, EPROTO, "invalid CIDR address: %s", a);
        *ret_prefix = n.prefix;
        return 0;
}

static int parse_mac(const char *s, uint8_t mac[6]) {
        unsigned v[6];
        char tail;
        if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6 || strlen(s) != 17)
                return -EINVAL;
        for (int i = 0; i < 6; i++)
                mac[i] = (uint8_t) v[i];
        return 0;
}

/* Whether two "address/prefix" texts name the same IPv6 address and prefix. */
static bool same_cidr6(const char *a, const char *b) {
        struct ipv6_net na, nb;
        uint8_t ha[16], hb[16];
        return ipam_parse_cidr6(a, false, &na, ha) == 0 && ipam_parse_cidr6(b, false, &nb, hb) == 0 &&
               na.prefix == nb.prefix && memcmp(ha, hb, 16) == 0;
}

int remote_parse_endpoint(json_t *answer, const char *sent_addr, const char *sent_addr6, bool *ret_has_mac,
                          uint8_t ret_mac[6], struct berr *err) {
        *ret_has_mac = false;
        json_t *iface = json_object_get(answer, "Interface");
        if (!iface || json_is_null(iface))
                return 0;
        if (!json_is_object(iface))
                return berr_set(err, BERR_INTERNAL, EPROTO, "json: cannot unmarshal %s into Go struct field "
                                "CreateEndpointResponse.Interface", json_is_array(iface) ? "array" : "value");
        const char *addr, *addr6, *mac;
        int r;
        if ((r = answer_str(iface, "Address", &addr, err)) < 0 || (r = answer_str(iface, "AddressIPv6", &addr6, err)) < 0 ||
            (r = answer_str(iface, "MacAddress", &mac, err)) < 0)
                return r;
        if (*mac) {
                if (parse_mac(mac, ret_mac) < 0)
                        return berr_set(err, BERR_INTERNAL, EPROTO, "address %s: invalid MAC address", mac);
                *ret_has_mac = true;
        }
        if (*addr && (!sent_addr || strcmp(addr, sent_addr) != 0)) {
                uint32_t ip;
                int prefix;
                if ((r = parse_cidr(addr, &ip, &prefix, err)) < 0)
                        return r;
                return berr_set(err, BERR_INTERNAL, EEXIST, "driver modified interface address: endpoint interface "
                                "IPv4 present");
        }
        if (*addr6 && !sent_addr6)
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "IPv6 addresses from network plugins on a network "
                                "without IPv6 are not supported by berth");
        if (*addr6 && !same_cidr6(addr6, sent_addr6))
                return berr_set(err, BERR_INTERNAL, EEXIST, "driver modified interface address: endpoint interface "
                                "IPv6 present");
        return 0;
}

/* A link name the kernel takes: 1-15 bytes, no '/', no space, not "." or "..". */
static bool valid_ifname(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
                return false;
        for (const char *p = s; *p; p++)
                if (*p == '/' || *p == ':' || *p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

static int parse_route(json_t *r, struct remote_route *out, struct berr *err) {
        const char *dst, *hop;
        int rc;
        if (!json_is_object(r))
                return berr_set(err, BERR_INTERNAL, EPROTO, "static route: not an object");
        if ((rc = answer_str(r, "Destination", &dst, err)) < 0 || (rc = answer_str(r, "NextHop", &hop, err)) < 0)
                return rc;
        json_t *type = json_object_get(r, "RouteType");
        if (type && !json_is_integer(type))
                return berr_set(err, BERR_INTERNAL, EPROTO, "static route: RouteType is not a number");
        memset(out, 0, sizeof(*out));
        out->type = (int) json_integer_value(type);
        if (out->type != 0 && out->type != 1)
                return berr_set(err, BERR_INTERNAL, EPROTO, "static route %s: unknown route type %d", dst, out->type);
        out->v6 = strchr(dst, ':') != NULL;
        if (!*dst || (out->v6 ? ipam_parse_cidr6(dst, false, &out->dst6, NULL) : ipam_parse_cidr4(dst, false, &out->dst, NULL)) < 0)
                return berr_set(err, BERR_INTERNAL, EPROTO, "invalid CIDR address: %s", dst);
        if (*hop && (strchr(hop, ':') != NULL) != out->v6)
                return berr_set(err, BERR_INTERNAL, EPROTO, "static route %s: next hop %s of another family", dst, hop);
        if (*hop && (out->v6 ? ipam_parse_ip6(hop, out->next_hop6) : ipam_parse_ip4(hop, &out->next_hop)) < 0)
                return berr_set(err, BERR_INTERNAL, EPROTO, "failed to parse nexthop IP %s", hop);
        if (out->type == 0 && (out->v6 ? ipam_ip6_is_zero(out->next_hop6) : !out->next_hop))
                return berr_set(err, BERR_INTERNAL, EPROTO, "static route %s: no next hop", dst);
        return 0;
}

int remote_parse_join(json_t *answer, struct remote_join *ret, struct berr *err) {
        memset(ret, 0, sizeof(*ret));
        json_t *in = json_object_get(answer, "InterfaceName");
        int r;
        if (in && !json_is_null(in)) {
                const char *src, *prefix;
                if (!json_is_object(in))
                        return berr_set(err, BERR_INTERNAL, EPROTO, "Join: InterfaceName is not an object");
                if ((r = answer_str(in, "SrcName", &src, err)) < 0 || (r = answer_str(in, "DstPrefix", &prefix, err)) < 0)
                        return r;
                if (!valid_ifname(src))
                        return berr_set(err, BERR_INTERNAL, EINVAL, "failed to set interface name: invalid source "
                                        "interface name \"%s\"", src);
                if (*prefix && !valid_ifname(prefix))
                        return berr_set(err, BERR_INTERNAL, EINVAL, "failed to set interface name: invalid prefix "
                                        "\"%s\"", prefix);
                snprintf(ret->src_name, sizeof(ret->src_name), "%s", src);
                snprintf(ret->dst_prefix, sizeof(ret->dst_prefix), "%s", prefix);
        }
        const char *gw, *gw6;
        if ((r = answer_str(answer, "Gateway", &gw, err)) < 0 || (r = answer_str(answer, "GatewayIPv6", &gw6, err)) < 0)
                return r;
        if (*gw && ipam_parse_ip4(gw, &ret->gateway) < 0)
                return berr_set(err, BERR_INTERNAL, EINVAL, "unable to parse Gateway \"%s\"", gw);
        if (*gw6 && ipam_parse_ip6(gw6, ret->gateway6) < 0)
                return berr_set(err, BERR_INTERNAL, EINVAL, "unable to parse GatewayIPv6 \"%s\"", gw6);
        ret->has_gateway6 = *gw6 != '\0';
        json_t *routes = json_object_get(answer, "StaticRoutes");
        if (routes && !json_is_null(routes) && !json_is_array(routes))
                return berr_set(err, BERR_INTERNAL, EPROTO, "Join: StaticRoutes is not an array");
        if (json_array_size(routes) > REMOTE_MAX_ROUTES)
                return berr_set(err, BERR_INTERNAL, E2BIG, "Join: %zu static routes: berth takes at most %d",
                                json_array_size(routes), REMOTE_MAX_ROUTES);
        size_t i;
        json_t *v;
        json_array_foreach(routes, i, v) {
                if ((r = parse_route(v, &ret->routes[ret->n_routes], err)) < 0)
                        return r;
                ret->n_routes++;
        }
        ret->disable_gateway_service = json_is_true(json_object_get(answer, "DisableGatewayService"));
        return 0;
}

int remote_ifname(const char *dst_prefix, const char *ifname, char out[16]) {
        if (!dst_prefix || !*dst_prefix || strcmp(dst_prefix, "eth") == 0) {
                snprintf(out, 16, "%s", ifname);
                return 0;
        }
        const char *digits = ifname + strlen(ifname);
        while (digits > ifname && digits[-1] >= '0' && digits[-1] <= '9')
                digits--;
        if (strlen(dst_prefix) + strlen(digits) > 15)
                return -EINVAL;
        char name[64];
        snprintf(name, sizeof(name), "%s%s", dst_prefix, *digits ? digits : "0");
        memcpy(out, name, strlen(name) + 1); /* fits: checked above */
        return 0;
}
