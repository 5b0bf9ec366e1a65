/* store_create.c - networks made and unmade: the predefined ones (host, none, the default
 * bridge), `network create` (its checks, the subnet, an IPAM plugin's grant, the driver),
 * remove and prune (split from store.c, which keeps the records). */
#include "network.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/id.h"
#include "common/json.h"
#include "common/log.h"
#include "firewall.h"
#include "ipam.h"
#include "netlink.h"
#include "remote.h"
#include "sublink.h"

#define DEFAULT_BRIDGE "docker0"

#include "store_int.h"

static json_t *ipam_config_json(const struct ipv4_net *sub, uint32_t gw, const char *range) {
        char cidr[20], g[16];
        ipam_format_cidr4(sub, cidr);
        ipam_format_ip4(gw, g);
        json_t *c = json_pack("{s:s, s:s}", "Subnet", cidr, "Gateway", g);
        if (range && *range)
                json_object_set_new(c, "IPRange", json_string(range));
        return c;
}

static json_t *ipam_config6_json(const struct ipv6_net *sub, const uint8_t gw[16], const char *range) {
        char cidr[50], g[46];
        ipam_format_cidr6(sub, cidr);
        ipam_format_ip6(gw, g);
        json_t *c = json_pack("{s:s, s:s}", "Subnet", cidr, "Gateway", g);
        if (range && *range)
                json_object_set_new(c, "IPRange", json_string(range));
        return c;
}

static json_t *new_record(const char *id, const char *name, const char *driver, json_t *ipam_cfg, json_t *options,
                          json_t *labels, bool internal, bool attachable, bool ipv6) {
        char created[40];
        clock_now_rfc3339(created);
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:{s:s, s:n, s:o}, s:b, s:b, s:b, s:{s:s}, s:b, s:o, s:o}",
                         "Name", name, "Id", id, "Created", created, "Scope", "local", "Driver", driver, "EnableIPv6", ipv6,
                         "IPAM", "Driver", "default", "Options", "Config", ipam_cfg ? ipam_cfg : json_array(), "Internal",
                         internal, "Attachable", attachable, "Ingress", 0, "ConfigFrom", "Network", "", "ConfigOnly", 0,
                         "Options", options ? options : json_object(), "Labels", labels ? labels : json_object());
}

static void collect_used(struct net_store *s, struct ipv4_net *used, size_t *n, size_t max, const struct network *skip) {
        *n = 0;
        for (struct network *w = s->nets; w && *n < max; w = w->next)
                if (w != skip && w->has_v4)
                        used[(*n)++] = w->subnet;
}

/* A subnet from the default address pools that no network and no host route uses. */
static int pick_subnet(struct net_store *s, const struct network *skip, struct ipv4_net *ret) {
        size_t max = 256;
        for (struct network *w = s->nets; w; w = w->next)
                max++;
        _cleanup_free_ struct ipv4_net *used = calloc(max, sizeof(*used));
        if (!used)
                return -ENOMEM;
        size_t n;
        collect_used(s, used, &n, max - 256, skip);
        for (size_t p = 0; p < s->n_pools; p++) {
                for (;;) {
                        struct ipv4_net cand;
                        if (ipam_pick_subnet(&s->pools[p], used, n, &cand) < 0)
                                break;
                        if (!nl_route_overlaps(&cand, NULL)) {
                                *ret = cand;
                                return 0;
                        }
                        if (n >= max)
                                return -ENOSPC;
                        used[n++] = cand; /* taken by the host: try the next */
                }
        }
        return -ENOSPC;
}

/* An IPv6 subnet from the default pools that no network and no host route uses. */
static int pick_subnet6(struct net_store *s, const struct network *skip, struct ipv6_net *ret) {
        size_t max = 256;
        for (struct network *w = s->nets; w; w = w->next)
                max++;
        _cleanup_free_ struct ipv6_net *used = calloc(max, sizeof(*used));
        if (!used)
                return -ENOMEM;
        size_t n = 0;
        for (struct network *w = s->nets; w && n < max - 256; w = w->next)
                if (w != skip && w->has_v6)
                        used[n++] = w->subnet6;
        for (size_t p = 0; p < s->n_pools6; p++) {
                for (;;) {
                        struct ipv6_net cand;
                        if (ipam_pick_subnet6(&s->pools6[p], used, n, &cand) < 0)
                                break;
                        if (!nl_route6_overlaps(&cand)) {
                                *ret = cand;
                                return 0;
                        }
                        if (n >= max)
                                return -ENOSPC;
                        used[n++] = cand; /* taken by the host: try the next */
                }
        }
        return -ENOSPC;
}

/* The predefined networks: host, none and (unless --bridge none) bridge. Their IDs
 * survive restarts; the default bridge's addresses follow the daemon's options. */
int store_ensure_predefined(struct net_store *s, struct berr *err) {
        static const char *const simple[][2] = { { "host", "host" }, { "none", "null" } };
        for (size_t i = 0; i < ELEMENTSOF(simple); i++) {
                pthread_mutex_lock(&s->lock);
                struct network *n = NULL;
                for (struct network *w = s->nets; w; w = w->next)
                        if (strcmp(w->info.name, simple[i][0]) == 0)
                                n = w;
                pthread_mutex_unlock(&s->lock);
                if (n)
                        continue;
                char id[65];
                int r = id_random_hex(id, err);
                if (r < 0)
                        return r;
                n = calloc(1, sizeof(*n));
                if (!n)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                n->rec = new_record(id, simple[i][0], simple[i][1], NULL, NULL, NULL, false, false, false);
                if ((r = store_network_from_record(s, n, err)) < 0 || (r = store_save_record(s, n, err)) < 0) {
                        store_network_free(n);
                        return r;
                }
                n->next = s->nets;
                s->nets = n;
        }

        struct network *old = NULL, **pp;
        for (pp = &s->nets; *pp; pp = &(*pp)->next)
                if (strcmp((*pp)->info.name, "bridge") == 0) {
                        old = *pp;
                        *pp = old->next;
                        break;
                }
        const char *brname = s->o->bridge && *s->o->bridge ? s->o->bridge : DEFAULT_BRIDGE;
        if (strcmp(brname, "none") == 0) {
                snprintf(s->default_name, sizeof(s->default_name), "none");
                if (old) {
                        store_remove_record(s, old->info.id);
                        store_network_free(old);
                }
                return 0;
        }
        snprintf(s->default_name, sizeof(s->default_name), "bridge");
        if (strlen(brname) >= 16)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid bridge name %s", brname);

        struct ipv4_net sub;
        uint32_t gw = 0;
        if (s->o->bip) {
                if (ipam_parse_cidr4(s->o->bip, false, &sub, &gw) < 0 || gw == sub.addr)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid --bip %s: want an address with its prefix, "
                                        "e.g. 172.17.0.1/16", s->o->bip);
        } else if (nl_link_addr4(brname, &sub, &gw) == 1) {
                /* The bridge exists with an address: keep it, as dockerd does. */
        } else {
                struct ipv4_net def = { .addr = 0xac110000u, .prefix = 16 }; /* 172.17.0.0/16 */
                struct ipv4_net used[512];
                size_t n;
                collect_used(s, used, &n, ELEMENTSOF(used), NULL);
                bool clash = nl_route_overlaps(&def, brname);
                for (size_t i = 0; i < n && !clash; i++)
                        clash = ipam_overlap4(&def, &used[i]);
                if (!clash)
                        sub = def;
                else if (pick_subnet(s, NULL, &sub) < 0)
                        return berr_set(err, BERR_INVALID, ENOSPC,
                                        "no free address range for the default bridge: set --bip");
                gw = sub.addr + 1;
        }
        char range_text[20] = "";
        if (s->o->fixed_cidr) {
                struct ipv4_net fc;
                if (ipam_parse_cidr4(s->o->fixed_cidr, false, &fc, NULL) < 0 || !ipam_contains4(&sub, fc.addr) ||
                    fc.prefix < sub.prefix)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid --fixed-cidr %s: not inside the bridge's "
                                        "subnet", s->o->fixed_cidr);
                ipam_format_cidr4(&fc, range_text);
        }
        /* --ipv6: --fixed-cidr-v6, else the subnet the bridge had, else one from the pools
         * (dockerd 27 no longer needs --fixed-cidr-v6). */
        struct ipv6_net sub6;
        bool v6 = s->o->ipv6;
        if (v6 && s->o->fixed_cidr_v6) {
                if (ipam_parse_cidr6(s->o->fixed_cidr_v6, false, &sub6, NULL) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid --fixed-cidr-v6 %s", s->o->fixed_cidr_v6);
        } else if (v6 && old && old->has_v6)
                sub6 = old->subnet6;
        else if (v6 && pick_subnet6(s, NULL, &sub6) < 0)
                return berr_set(err, BERR_INVALID, ENOSPC, "no free IPv6 range for the default bridge: set --fixed-cidr-v6");
        if (v6)
                for (struct network *w = s->nets; w; w = w->next)
                        if (w->has_v6 && ipam_overlap6(&w->subnet6, &sub6))
                                return berr_set(err, BERR_INVALID, EEXIST, "--fixed-cidr-v6 %s overlaps network %s",
                                                s->o->fixed_cidr_v6 ? s->o->fixed_cidr_v6 : "", w->info.name);
        char id[65];
        if (old)
                snprintf(id, sizeof(id), "%s", old->info.id);
        else if (id_random_hex(id, err) < 0)
                return -EIO;
        char mtu[16];
        snprintf(mtu, sizeof(mtu), "%d", s->mtu);
        json_t *opts = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "com.docker.network.bridge.default_bridge", "true",
                                 "com.docker.network.bridge.enable_icc", s->o->icc ? "true" : "false",
                                 "com.docker.network.bridge.enable_ip_masquerade", s->o->ip_masq ? "true" : "false",
                                 "com.docker.network.bridge.host_binding_ipv4", s->o->ip ? s->o->ip : "0.0.0.0",
                                 "com.docker.network.bridge.name", brname, "com.docker.network.driver.mtu", mtu);
        struct network *n = calloc(1, sizeof(*n));
        if (!n) {
                json_decref(opts);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        json_t *cfgs = json_pack("[o]", ipam_config_json(&sub, gw, range_text));
        if (v6) {
                uint8_t gw6[16];
                ipam_ip6_add(&sub6, 1, gw6);
                json_array_append_new(cfgs, ipam_config6_json(&sub6, gw6, NULL));
        }
        n->rec = new_record(id, "bridge", "bridge", cfgs, opts, NULL, false, false, v6);
        if (old) {
                json_object_set(n->rec, "Created", json_object_get(old->rec, "Created"));
                store_network_free(old);
        }
        int r = store_network_from_record(s, n, err);
        if (r == 0)
                r = store_save_record(s, n, err);
        if (r < 0) {
                store_network_free(n);
                return r;
        }
        n->next = s->nets;
        s->nets = n;
        return 0;
}

/* ---- create / remove ---- */

static bool valid_net_name(const char *n) {
        /* Docker: [a-zA-Z0-9][a-zA-Z0-9_.-]* */
        if (!((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') || (n[0] >= '0' && n[0] <= '9')))
                return false;
        for (const char *p = n + 1; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                      *p == '.' || *p == '-'))
                        return false;
        return strlen(n) < 128;
}

static int check_string_map(json_t *m, const char *what, struct berr *err) {
        if (!m || json_is_null(m))
                return 0;
        if (!json_is_object(m))
                return berr_set(err, BERR_INVALID, EINVAL, "json: cannot unmarshal %s into Go struct field "
                                "NetworkCreateRequest.%s of type map[string]string", json_type_name(m), what);
        const char *k;
        json_t *v;
        json_object_foreach(m, k, v) if (!json_is_string(v)) return berr_set(
                err, BERR_INVALID, EINVAL, "json: cannot unmarshal %s into Go struct field NetworkCreateRequest.%s of type string",
                json_type_name(v), what);
        return 0;
}

int net_create(struct net_store *s, json_t *req, char ret_id[65], char ret_warning[256], struct berr *err) {
        ret_warning[0] = '\0';
        const char *name = NULL, *driver = NULL;
        bool internal = false, attachable = false, ipv6 = false, ingress = false, config_only = false;
        json_t *ipam = NULL, *options = NULL, *labels = NULL;
        int r;
        if ((r = json_get_string(req, "Name", &name, err)) < 0 || (r = json_get_string(req, "Driver", &driver, err)) < 0 ||
            (r = json_get_bool(req, "Internal", &internal, err)) < 0 ||
            (r = json_get_bool(req, "Attachable", &attachable, err)) < 0 ||
            (r = json_get_bool(req, "EnableIPv6", &ipv6, err)) < 0 || (r = json_get_bool(req, "Ingress", &ingress, err)) < 0 ||
            (r = json_get_bool(req, "ConfigOnly", &config_only, err)) < 0 ||
            (r = json_get_object(req, "IPAM", &ipam, err)) < 0)
                return r;
        options = json_object_get(req, "Options");
        labels = json_object_get(req, "Labels");
        if ((r = check_string_map(options, "Options", err)) < 0 || (r = check_string_map(labels, "Labels", err)) < 0)
                return r;
        if (!name || !*name)
                return berr_set(err, BERR_INVALID, EINVAL, "network name must not be empty");
        if (!valid_net_name(name))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid network name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                                "are allowed", name);
        if (!driver || !*driver)
                driver = "bridge";
        if (strcmp(driver, "host") == 0 || strcmp(driver, "null") == 0)
                return berr_set(err, BERR_FORBIDDEN, EPERM, "only one instance of \"%s\" network is allowed", driver);
        if (strcmp(driver, "overlay") == 0)
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "the %s network driver is not supported by berth yet",
                                driver);
        bool is_sub = net_driver_is_sublink(driver);
        bool is_remote = net_driver_is_remote(driver);
        char scope[8] = "local";
        if (is_remote) {
                _cleanup_json_ json_t *caps = NULL;
                if ((r = remote_driver_call(s->plugins, driver, "GetCapabilities", NULL, &caps, err)) < 0 ||
                    (r = remote_parse_capabilities(caps, scope, err)) < 0)
                        return r;
                /* libnetwork: a multi-host network needs swarm, which berth does not have */
                if (strcmp(scope, "global") == 0)
                        return berr_set(err, BERR_FORBIDDEN, EPERM, "Cannot create a multi-host network from a worker "
                                        "node. Please create the network from a manager node.");
        }
        struct sublink_cfg sub_cfg;
        if (is_sub && (r = sublink_parse(driver, options, &sub_cfg, err)) < 0)
                return r;
        if (ingress)
                return berr_set(err, BERR_FORBIDDEN, EPERM, "ingress networks need swarm mode, which berth does not have");
        if (config_only || json_string_length(json_object_get(json_object_get(req, "ConfigFrom"), "Network")))
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "config-only networks are not supported by berth");
        const char *ipam_driver = json_string_value(json_object_get(ipam, "Driver"));
        bool ipam_remote = ipam_driver && *ipam_driver && strcmp(ipam_driver, "default") != 0;
        if (ipam_remote && (strcmp(ipam_driver, "null") == 0 || is_sub))
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "the IPAM driver %s on %s networks is not supported "
                                "by berth yet", ipam_driver, driver);
        if (ipam_remote && (r = remote_ipam_find(s->plugins, ipam_driver, err)) < 0)
                return r;
        json_t *ipam_opts = json_object_get(ipam, "Options");
        if ((r = check_string_map(ipam_opts, "IPAM.Options", err)) < 0)
                return r;

        /* dockerd's bridge driver: one IPv4 entry and, with EnableIPv6, one IPv6 entry. */
        json_t *cfgs = json_object_get(ipam, "Config");
        if (cfgs && !json_is_null(cfgs) && !json_is_array(cfgs))
                return berr_set(err, BERR_INVALID, EINVAL, "json: cannot unmarshal %s into Go struct field IPAM.IPAM.Config "
                                "of type []network.IPAMConfig", json_type_name(cfgs));
        const char *subnet_s = NULL, *gw_s = NULL, *range_s = NULL;
        const char *subnet6_s = NULL, *gw6_s = NULL, *range6_s = NULL;
        json_t *aux4 = NULL, *aux6 = NULL;
        size_t n4 = 0, n6 = 0, ci;
        json_t *c0;
        json_array_foreach(cfgs, ci, c0) {
                const char *sn = NULL, *g = NULL, *rg = NULL;
                if (!json_is_object(c0) || (r = json_get_string(c0, "Subnet", &sn, err)) < 0 ||
                    (r = json_get_string(c0, "Gateway", &g, err)) < 0 || (r = json_get_string(c0, "IPRange", &rg, err)) < 0)
                        return r < 0 ? r : berr_set(err, BERR_INVALID, EINVAL, "invalid IPAM config");
                json_t *aux = json_object_get(c0, "AuxiliaryAddresses");
                if ((r = check_string_map(aux, "IPAM.Config.AuxiliaryAddresses", err)) < 0)
                        return r;
                if (json_object_size(aux) > MAX_AUX_ADDRESSES)
                        return berr_set(err, BERR_INVALID, E2BIG, "too many auxiliary addresses: berth takes at most %d "
                                        "per subnet", MAX_AUX_ADDRESSES);
                if ((!sn || !*sn) && ((g && *g) || (rg && *rg) || json_object_size(aux) > 0))
                        return berr_set(err, BERR_INVALID, EINVAL, "gateway, ip-range or aux-address given without a subnet");
                bool is6 = sn && strchr(sn, ':');
                if (is6 && !ipv6)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid subnet %s: IPv6 is not enabled on this network "
                                        "(--ipv6)", sn);
                if ((is6 ? ++n6 : ++n4) > 1)
                        return berr_set(err, BERR_FORBIDDEN, EPERM, "bridge driver doesnt support multiple subnets");
                if (is6) {
                        subnet6_s = sn, gw6_s = g, range6_s = rg, aux6 = aux;
                } else {
                        subnet_s = sn, gw_s = g, range_s = rg, aux4 = aux;
                }
        }
        struct ipv4_net sub = { 0 }, range = { 0 };
        uint32_t gw = 0;
        if (subnet_s && *subnet_s) {
                if (ipam_parse_cidr4(subnet_s, false, &sub, NULL) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid CIDR address: %s", subnet_s);
                if (sub.prefix < 8 || sub.prefix > 30)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid subnet %s: berth takes prefixes /8 to /30",
                                        subnet_s);
        }
        if (gw_s && *gw_s) {
                if (ipam_parse_ip4(gw_s, &gw) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid gateway address %s", gw_s);
                if (!ipam_contains4(&sub, gw))
                        return berr_set(err, BERR_INVALID, EINVAL, "no matching subnet for gateway %s", gw_s);
        }
        if (range_s && *range_s) {
                if (ipam_parse_cidr4(range_s, false, &range, NULL) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid CIDR address: %s", range_s);
                if (!ipam_contains4(&sub, range.addr) || range.prefix < sub.prefix)
                        return berr_set(err, BERR_INVALID, EINVAL, "no matching subnet for range %s", range_s);
        }
        const char *ak;
        json_t *av;
        json_object_foreach(aux4, ak, av) {
                uint32_t a;
                if (ipam_parse_ip4(json_string_value(av), &a) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid auxiliary address %s: invalid address", ak);
                if (!ipam_contains4(&sub, a))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid auxiliary address %s: parent subnet %s doesn't "
                                        "contain this address", ak, subnet_s);
        }
        struct ipv6_net sub6 = { 0 }, range6 = { 0 };
        uint8_t gw6[16] = { 0 };
        if (subnet6_s) {
                struct ipv6_net loose;
                if (ipam_parse_cidr6(subnet6_s, false, &loose, NULL) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid subnet %s: invalid CIDR block notation", subnet6_s);
                if (ipam_parse_cidr6(subnet6_s, true, &sub6, NULL) < 0) {
                        char want[50];
                        ipam_format_cidr6(&loose, want);
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid subnet %s: it should be %s", subnet6_s, want);
                }
                if (sub6.prefix > 126)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid subnet %s: berth takes prefixes up to /126",
                                        subnet6_s);
        }
        if (gw6_s && *gw6_s) {
                if (ipam_parse_ip6(gw6_s, gw6) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid gateway %s: invalid address", gw6_s);
                if (!ipam_contains6(&sub6, gw6))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid gateway %s: parent subnet %s doesn't contain "
                                        "this address", gw6_s, subnet6_s);
        }
        if (range6_s && *range6_s) {
                if (ipam_parse_cidr6(range6_s, true, &range6, NULL) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid ip-range %s: invalid CIDR block notation",
                                        range6_s);
                if (range6.prefix < sub6.prefix)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid ip-range %s: CIDR block is bigger than its "
                                        "parent subnet %s", range6_s, subnet6_s);
                if (!ipam_contains6(&sub6, range6.addr))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid ip-range %s: parent subnet %s doesn't contain "
                                        "ip-range", range6_s, subnet6_s);
        }
        json_object_foreach(aux6, ak, av) {
                uint8_t a[16];
                if (ipam_parse_ip6(json_string_value(av), a) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid auxiliary address %s: %s", ak,
                                        strchr(json_string_value(av), '.') ? "parent subnet is an IPv6 block"
                                                                          : "invalid address");
                if (!ipam_contains6(&sub6, a))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid auxiliary address %s: parent subnet %s doesn't "
                                        "contain this address", ak, subnet6_s);
        }

        char id[65];
        if ((r = id_random_hex(id, err)) < 0)
                return r;
        char brname[16];
        const char *want_br = json_string_value(json_object_get(options, "com.docker.network.bridge.name"));
        if (want_br && *want_br && !is_remote) {
                if (!net_valid_bridge_name(want_br))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid bridge name %s: at most 15 of "
                                        "[A-Za-z0-9_.-]", want_br);
                snprintf(brname, sizeof(brname), "%s", want_br);
        } else if (is_sub || is_remote)
                brname[0] = '\0';
        else
                snprintf(brname, sizeof(brname), "br-%.12s", id);
        const char *mtu_s = json_string_value(json_object_get(options, "com.docker.network.driver.mtu"));
        if (mtu_s && !is_remote) {
                char *end;
                long m = strtol(mtu_s, &end, 10);
                if (!*mtu_s || *end || m < 68 || m > 65535)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid MTU %s", mtu_s);
        }
        const char *hb = json_string_value(json_object_get(options, "com.docker.network.bridge.host_binding_ipv4"));
        if (hb && *hb) {
                uint32_t hip;
                uint8_t hip6[16];
                static const uint8_t lo6[16] = { [15] = 1 };
                if (strchr(hb, ':') ? ipam_parse_ip6(hb, hip6) < 0 : ipam_parse_ip4(hb, &hip) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid host binding address %s", hb);
                /* As -p [::1]:...: the kernel cannot forward ::1 (see container_net_ports.c). */
                if (strchr(hb, ':') && memcmp(hip6, lo6, 16) == 0)
                        return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "host binding address %s is not supported by "
                                        "berth: the kernel cannot forward the IPv6 loopback address to containers", hb);
        }
        const char *gwm = json_string_value(json_object_get(options, "com.docker.network.bridge.gateway_mode_ipv4"));
        if (!is_sub && !is_remote && fw_gw_mode_from_string(gwm) < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "unknown gateway mode %s", gwm);
        const char *gwm6 = json_string_value(json_object_get(options, "com.docker.network.bridge.gateway_mode_ipv6"));
        if (!is_sub && !is_remote && fw_gw_mode_from_string(gwm6) < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "unknown gateway mode %s", gwm6);
        static const char *const bool_opts[] = { "com.docker.network.bridge.enable_icc",
                                                 "com.docker.network.bridge.enable_ip_masquerade" };
        for (size_t i = 0; !is_remote && i < ELEMENTSOF(bool_opts); i++) {
                const char *v = json_string_value(json_object_get(options, bool_opts[i]));
                if (v && strcmp(v, "true") && strcmp(v, "false") && strcmp(v, "1") && strcmp(v, "0"))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid value %s for option %s: want true or false",
                                        v, bool_opts[i]);
        }

        /* An IPAM plugin is asked outside the lock; a name taken meanwhile gives it all back. */
        _cleanup_free_ struct ipam_grant *grant = NULL;
        if (ipam_remote) {
                pthread_mutex_lock(&s->lock);
                bool taken = false;
                for (struct network *w = s->nets; w; w = w->next)
                        taken |= strcmp(w->info.name, name) == 0;
                pthread_mutex_unlock(&s->lock);
                if (taken)
                        return berr_set(err, BERR_CONFLICT, EEXIST, "network with name %s already exists", name);
                if (!(grant = malloc(sizeof(*grant))))
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                if (ipv6 && json_object_size(aux6) > 0)
                        return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "IPv6 auxiliary addresses with IPAM driver "
                                        "plugins are not supported by berth yet");
                if ((r = store_ipam_plugin_grant(s, ipam_driver, subnet_s, range_s, gw_s, true, aux4, ipam_opts, grant, err)) < 0)
                        return r;
                if (ipv6 && (r = store_ipam_plugin_grant6(s, ipam_driver, subnet6_s, range6_s, gw6_s, ipam_opts, grant, err)) < 0) {
                        store_ipam_grant_give_back(s, ipam_driver, grant);
                        return r;
                }
                sub = grant->pool.pool;
                gw = grant->gateway;
                if (grant->has6) {
                        sub6 = grant->pool6.pool6;
                        memcpy(gw6, grant->gateway6, 16);
                }
        }

        pthread_mutex_lock(&s->lock);
        for (struct network *w = s->nets; w; w = w->next) {
                if (strcmp(w->info.name, name) == 0) {
                        pthread_mutex_unlock(&s->lock);
                        r = berr_set(err, BERR_CONFLICT, EEXIST, "network with name %s already exists", name);
                        goto give_back;
                }
                if (brname[0] && strcmp(w->info.bridge, brname) == 0) {
                        pthread_mutex_unlock(&s->lock);
                        r = berr_set(err, BERR_CONFLICT, EEXIST, "bridge name %s is used by network %s", brname,
                                     w->info.name);
                        goto give_back;
                }
        }
        if (grant) {
                /* the plugin's pool: its address space is its own */
        } else if (subnet_s && *subnet_s) {
                for (struct network *w = s->nets; w; w = w->next)
                        if (w->has_v4 && ipam_overlap4(&w->subnet, &sub)) {
                                pthread_mutex_unlock(&s->lock);
                                return berr_set(err, BERR_FORBIDDEN, EPERM,
                                                "invalid pool request: Pool overlaps with other one on this address space");
                        }
        } else if (pick_subnet(s, NULL, &sub) < 0) {
                pthread_mutex_unlock(&s->lock);
                return berr_set(err, BERR_FORBIDDEN, ENOSPC, "could not find an available, non-overlapping IPv4 address "
                                "pool among the defaults to assign to the network");
        }
        /* macvlan and ipvlan take no gateway address unless one is given (dockerd 28). */
        if (!gw && !is_sub && !grant)
                gw = sub.addr + 1;
        if (grant) {
                /* the plugin's pools (IPv6 too) */
        } else if (subnet6_s) {
                for (struct network *w = s->nets; w; w = w->next)
                        if (w->has_v6 && ipam_overlap6(&w->subnet6, &sub6)) {
                                pthread_mutex_unlock(&s->lock);
                                return berr_set(err, BERR_FORBIDDEN, EPERM,
                                                "invalid pool request: Pool overlaps with other one on this address space");
                        }
        } else if (ipv6 && pick_subnet6(s, NULL, &sub6) < 0) {
                pthread_mutex_unlock(&s->lock);
                return berr_set(err, BERR_FORBIDDEN, ENOSPC, "could not find an available, non-overlapping IPv6 address "
                                "pool among the defaults to assign to the network");
        }
        if (ipv6 && ipam_ip6_is_zero(gw6) && !is_sub)
                ipam_ip6_add(&sub6, 1, gw6);
        if (is_sub && (r = sublink_attach_parent(s, driver, id, &sub_cfg, err)) < 0) {
                pthread_mutex_unlock(&s->lock);
                return r;
        }
        json_t *opts = options && json_is_object(options) ? json_deep_copy(options) : json_object();
        struct network *n = calloc(1, sizeof(*n));
        if (!n || !opts) {
                pthread_mutex_unlock(&s->lock);
                free(n);
                json_decref(opts);
                r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                goto give_back;
        }
        char range_text[20] = "";
        if (range_s && *range_s)
                ipam_format_cidr4(&range, range_text);
        json_t *ipam_cfg = json_pack("[o]", ipam_config_json(&sub, gw, range_text));
        if (json_object_size(aux4) > 0)
                json_object_set(json_array_get(ipam_cfg, 0), "AuxiliaryAddresses", aux4);
        if (ipv6) {
                char range6_text[50] = "";
                if (range6_s && *range6_s)
                        ipam_format_cidr6(&range6, range6_text);
                json_t *c6 = ipam_config6_json(&sub6, gw6, range6_text);
                if (json_object_size(aux6) > 0)
                        json_object_set(c6, "AuxiliaryAddresses", aux6);
                json_array_append_new(ipam_cfg, c6);
        }
        /* The bridge's name is kept in "BerthBridge", which inspect leaves out: dockerd
         * shows com.docker.network.bridge.name only when the user gave it. */
        n->rec = new_record(id, name, driver, ipam_cfg, opts, labels && json_is_object(labels) ? json_deep_copy(labels) : NULL,
                            internal, attachable, ipv6);
        if (ipam_opts && json_is_object(ipam_opts))
                json_object_set(json_object_get(n->rec, "IPAM"), "Options", ipam_opts);
        if (is_sub) {
                if (!gw)
                        json_object_del(json_array_get(ipam_cfg, 0), "Gateway");
                if (ipv6 && ipam_ip6_is_zero(gw6))
                        json_object_del(json_array_get(ipam_cfg, 1), "Gateway");
                json_object_set_new(n->rec, "BerthParent", json_string(sub_cfg.parent));
                json_object_set_new(n->rec, "BerthCreatedParent", json_boolean(sub_cfg.created));
        } else if (!is_remote)
                json_object_set_new(n->rec, "BerthBridge", json_string(brname));
        json_object_set_new(n->rec, "Scope", json_string(scope));
        if (grant) {
                json_object_set_new(json_object_get(n->rec, "IPAM"), "Driver", json_string(ipam_driver));
                json_object_set_new(n->rec, "BerthIpam", json_pack("{s:s, s:b, s:b}", "PoolID", grant->pool.id,
                                                                   "GatewayFromIpam", grant->gw_from_ipam,
                                                                   "RequiresMAC", grant->wants_mac));
                if (grant->has6) {
                        json_t *b = json_object_get(n->rec, "BerthIpam");
                        json_object_set_new(b, "PoolID6", json_string(grant->pool6.id));
                        json_object_set_new(b, "GatewayFromIpam6", json_boolean(grant->gw6_from_ipam));
                }
        }
        r = store_network_from_record(s, n, err);
        if (r == 0)
                r = store_bring_up(s, n, err);
        if (r == 0 && is_remote) {
                /* In the list (its name and subnet taken) but busy while the plugin makes it. */
                n->busy = true;
                n->next = s->nets;
                s->nets = n;
                _cleanup_json_ json_t *cn = remote_create_network_req(id, json_object_get(n->rec, "Options"), internal,
                                                                        grant ? grant->space : "", &sub, gw, aux4,
                                                                        ipv6 ? &sub6 : NULL, gw6);
                pthread_mutex_unlock(&s->lock);
                r = remote_driver_call(s->plugins, driver, "CreateNetwork", json_incref(cn), NULL, err);
                pthread_mutex_lock(&s->lock);
                if (r == 0 && (r = store_save_record(s, n, err)) < 0) {
                        /* still busy: the plugin is called without the store's lock */
                        pthread_mutex_unlock(&s->lock);
                        struct berr e = { 0 };
                        if (remote_driver_call(s->plugins, driver, "DeleteNetwork", json_pack("{s:s}", "NetworkID", id),
                                               NULL, &e) < 0)
                                log_warn("network %s: DeleteNetwork after a failed create: %s", name, e.msg);
                        pthread_mutex_lock(&s->lock);
                }
                n->busy = false;
                if (r < 0)
                        for (struct network **pp = &s->nets; *pp; pp = &(*pp)->next)
                                if (*pp == n) {
                                        *pp = n->next;
                                        break;
                                }
        } else if (r == 0 && is_sub) {
                n->next = s->nets;
                s->nets = n;
                if ((r = store_save_record(s, n, err)) < 0)
                        s->nets = n->next;
        } else if (r == 0) {
                n->next = s->nets;
                s->nets = n;
                r = store_apply_firewall(s, err);
                if (r == 0)
                        r = store_save_record(s, n, err);
                if (r < 0) {
                        s->nets = n->next;
                        struct berr e = { 0 };
                        (void) store_apply_firewall(s, &e);
                }
        }
        if (r < 0) {
                store_drop_bridge(s, n);
                store_network_free(n);
        }
        pthread_mutex_unlock(&s->lock);
        if (r == 0)
                memcpy(ret_id, id, 65);
give_back:
        if (r < 0 && grant)
                store_ipam_grant_give_back(s, ipam_driver, grant);
        return r;
}

int net_remove(struct net_store *s, const char *ref, struct net_info *ret, struct berr *err) {
        pthread_mutex_lock(&s->lock);
        struct network *n = store_find_locked(s, ref);
        int r = 0;
        if (!n)
                r = berr_set(err, BERR_NOT_FOUND, ENOENT, "network %s not found", ref);
        else if (n->info.predefined)
                r = berr_set(err, BERR_FORBIDDEN, EPERM, "%s is a pre-defined network and cannot be removed", n->info.name);
        else if (n->n_eps > 0)
                r = berr_set(err, BERR_FORBIDDEN, EBUSY, "error while removing network: network %s id %s has active endpoints",
                             n->info.name, n->info.id);
        else if (n->busy)
                r = berr_set(err, BERR_CONFLICT, EBUSY, "network %s is being created", n->info.name);
        if (r < 0) {
                pthread_mutex_unlock(&s->lock);
                return r;
        }
        for (struct network **pp = &s->nets; *pp; pp = &(*pp)->next)
                if (*pp == n) {
                        *pp = n->next;
                        break;
                }
        *ret = n->info;
        store_remove_record(s, n->info.id);
        store_drop_bridge(s, n);
        struct berr e = { 0 };
        if (store_apply_firewall(s, &e) < 0)
                log_warn("firewall after removing network %s: %s", n->info.name, e.msg);
        bool has_plugins = n->remote || net_ipam_is_remote(n);
        struct net_plugins pl;
        if (has_plugins)
                store_net_plugins_of(n, &pl);
        store_network_free(n);
        pthread_mutex_unlock(&s->lock);
        /* libnetwork logs a driver's failure to delete and removes the network anyway. */
        if (has_plugins && store_net_plugins_teardown(s, &pl, &e) < 0)
                log_warn("network %s: %s", ret->name, e.msg);
        return 0;
}

/* ---- prune ---- */

static time_t created_of(json_t *rec) {
        struct tm tm = { 0 };
        const char *c = json_string_value(json_object_get(rec, "Created")) ?: "";
        return strptime(c, "%Y-%m-%dT%H:%M:%S", &tm) ? timegm(&tm) : 0;
}

int net_prune(struct net_store *s, json_t *filters, int64_t until_ns, json_t **ret_deleted, json_t **ret_ids,
              struct berr *err) {
        json_t *deleted = json_array(), *ids = json_array();
        /* Networks of plugins are told once the lock is given back (a prune takes at most
         * 16 of them at a time: the others stay for the next). */
        struct net_plugins gone[16];
        size_t n_gone = 0;
        pthread_mutex_lock(&s->lock);
        for (struct network **pp = &s->nets; *pp;) {
                struct network *n = *pp;
                json_t *labels = json_object_get(n->rec, "Labels");
                bool keep = n->info.predefined || n->n_eps > 0 || n->busy ||
                            ((n->remote || net_ipam_is_remote(n)) && n_gone >= ELEMENTSOF(gone)) ||
                            (until_ns && (int64_t) created_of(n->rec) * 1000000000 >= until_ns);
                size_t i;
                json_t *v;
                json_array_foreach(json_object_get(filters, "label"), i, v) if (!store_label_has(labels, json_string_value(v) ?: ""))
                        keep = true;
                json_array_foreach(json_object_get(filters, "label!"), i, v) if (store_label_has(labels, json_string_value(v) ?: ""))
                        keep = true;
                if (keep) {
                        pp = &n->next;
                        continue;
                }
                *pp = n->next;
                json_array_append_new(deleted, json_string(n->info.name));
                json_array_append_new(ids, json_string(n->info.id));
                store_remove_record(s, n->info.id);
                store_drop_bridge(s, n);
                if ((n->remote || net_ipam_is_remote(n)) && n_gone < ELEMENTSOF(gone))
                        store_net_plugins_of(n, &gone[n_gone++]);
                store_network_free(n);
        }
        struct berr e = { 0 };
        if (json_array_size(deleted) > 0 && store_apply_firewall(s, &e) < 0)
                log_warn("firewall after prune: %s", e.msg);
        pthread_mutex_unlock(&s->lock);
        for (size_t i = 0; i < n_gone; i++)
                if (store_net_plugins_teardown(s, &gone[i], &e) < 0)
                        log_warn("network %s: %s", gone[i].id, e.msg);
        *ret_deleted = deleted;
        *ret_ids = ids;
        return 0;
}
