/* store.c - the network store: its records (in memory and on disk), loading them, open and
 * close, lookups, the bridges and the firewall table made from the networks. Networks are
 * made and unmade in store_create.c, their plugins' side is store_remote.c, endpoints are
 * store_ep.c, inspect and `network ls` store_list.c. */
#include "network.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/id.h"
#include "common/json.h"
#include "common/log.h"
#include "firewall.h"
#include "firewalld.h"
#include "fwwatch.h"
#include "ipam.h"
#include "netlink.h"
#include "sublink.h"

#include "store_int.h"

/* ---- options ---- */

void net_options_init(struct net_options *o) {
        memset(o, 0, sizeof(*o));
        o->iptables = o->ip_masq = o->icc = o->ip_forward = true;
}

void net_options_done(struct net_options *o) {
        free(o->bridge);
        free(o->bip);
        free(o->fixed_cidr);
        free(o->fixed_cidr_v6);
        free(o->default_gateway);
        for (size_t i = 0; i < o->n_pools; i++)
                free(o->pools[i]);
        free(o->ip);
        free(o->table);
        free(o->hostfwd_api);
        memset(o, 0, sizeof(*o));
}

/* ---- helpers ---- */

void net_format_ip(uint32_t ip, char out[16]) {
        ipam_format_ip4(ip, out);
}

void net_format_ip6(const uint8_t ip[16], char out[46]) {
        ipam_format_ip6(ip, out);
}

int net_parse_ip6(const char *s, uint8_t ip[16]) {
        return ipam_parse_ip6(s, ip);
}

void net_format_mac(const uint8_t m[6], char out[18]) {
        snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

int net_parse_mac(const char *s, uint8_t mac[6]) {
        unsigned v[6];
        char tail;
        if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6 ||
            strlen(s) != 17)
                return -EINVAL;
        for (int i = 0; i < 6; i++)
                mac[i] = (uint8_t) v[i];
        return 0;
}

void store_network_free(struct network *n) {
        if (!n)
                return;
        json_decref(n->rec);
        ipam_alloc_done(&n->alloc);
        ipam_alloc6_done(&n->alloc6);
        for (size_t i = 0; i < n->n_eps; i++)
                names_free(n->eps[i].names);
        free(n->eps);
        free(n);
}

/* The bridge (or a macvlan/ipvlan parent) goes with its network only if berth made it. */
void store_drop_bridge(struct net_store *s, struct network *n) {
        if (net_driver_is_sublink(n->info.driver))
                sublink_detach_parent(s, n);
        if (n->info.bridge[0] && json_is_true(json_object_get(n->rec, "BerthCreatedBridge")))
                nl_link_delete(n->info.bridge);
}

int store_save_record(struct net_store *s, struct network *n, struct berr *err) {
        _cleanup_free_ char *text = json_dumps(n->rec, JSON_COMPACT | JSON_SORT_KEYS);
        if (!text)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "encode network record");
        _cleanup_close_ int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", s->dir);
        char name[80];
        snprintf(name, sizeof(name), "%s.json", n->info.id);
        return fs_write_atomic(dfd, name, text, strlen(text), 0600, err);
}

void store_remove_record(struct net_store *s, const char *id) {
        char path[4200];
        if (fs_path_fmt(path, sizeof(path), "%s/%s.json", s->dir, id) < 0)
                return;
        if (unlink(path) < 0 && errno != ENOENT)
                log_warn("remove %s: %s", path, strerror(errno));
}

static const char *opt_str(json_t *rec, const char *key) {
        return json_string_value(json_object_get(json_object_get(rec, "Options"), key));
}

static bool opt_bool(json_t *rec, const char *key, bool def) {
        const char *v = opt_str(rec, key);
        if (!v)
                return def;
        return strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

static int bridge_from_record(struct net_store *s, struct network *n, struct berr *err);
static int ipam_from_record(struct network *n, struct berr *err);

bool net_driver_is_remote(const char *driver) {
        static const char *const own[] = { "bridge", "host", "null", "macvlan", "ipvlan", "overlay" };
        if (!driver || !*driver)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(own); i++)
                if (strcmp(driver, own[i]) == 0)
                        return false;
        return true;
}

void net_store_set_plugins(struct net_store *s, struct plugin_registry *reg) {
        s->plugins = reg;
}

/* An IPAM plugin's part of the record: "BerthIpam" {PoolID, GatewayFromIpam, RequiresMAC}
 * beside IPAM.Driver (inspect leaves "BerthIpam" out). */
static void ipam_plugin_from_record(struct network *n) {
        json_t *ipam = json_object_get(n->rec, "IPAM");
        json_t *b = json_object_get(n->rec, "BerthIpam");
        snprintf(n->ipam_driver, sizeof(n->ipam_driver), "%s", json_string_value(json_object_get(ipam, "Driver")) ?: "");
        snprintf(n->pool_id, sizeof(n->pool_id), "%s", json_string_value(json_object_get(b, "PoolID")) ?: "");
        n->gw_from_ipam = json_is_true(json_object_get(b, "GatewayFromIpam"));
        snprintf(n->pool_id6, sizeof(n->pool_id6), "%s", json_string_value(json_object_get(b, "PoolID6")) ?: "");
        n->gw6_from_ipam = json_is_true(json_object_get(b, "GatewayFromIpam6"));
        n->ipam_wants_mac = json_is_true(json_object_get(b, "RequiresMAC"));
}

/* Fill the in-memory parts of @n from n->rec. */
int store_network_from_record(struct net_store *s, struct network *n, struct berr *err) {
        json_t *r = n->rec;
        int r2;
        snprintf(n->info.id, sizeof(n->info.id), "%s", json_string_value(json_object_get(r, "Id")) ?: "");
        snprintf(n->info.name, sizeof(n->info.name), "%s", json_string_value(json_object_get(r, "Name")) ?: "");
        snprintf(n->info.driver, sizeof(n->info.driver), "%s", json_string_value(json_object_get(r, "Driver")) ?: "");
        if (!id_is_full_hex(n->info.id) || !n->info.name[0])
                return berr_set(err, BERR_INTERNAL, EINVAL, "network record without Id or Name");
        n->info.internal = json_is_true(json_object_get(r, "Internal"));
        n->info.attachable = json_is_true(json_object_get(r, "Attachable"));
        n->info.predefined = strcmp(n->info.name, "bridge") == 0 || strcmp(n->info.name, "host") == 0 ||
                             strcmp(n->info.name, "none") == 0;
        ipam_plugin_from_record(n);
        if (net_driver_is_sublink(n->info.driver)) {
                if ((r2 = sublink_from_record(s, n, err)) < 0)
                        return r2;
                return ipam_from_record(n, err);
        }
        n->remote = net_driver_is_remote(n->info.driver);
        if (!n->remote && strcmp(n->info.driver, "bridge") != 0)
                return 0;
        if (!n->remote && (r2 = bridge_from_record(s, n, err)) < 0)
                return r2;
        return ipam_from_record(n, err);
}

/* The bridge driver's own: its device and options. */
static int bridge_from_record(struct net_store *s, struct network *n, struct berr *err) {
        json_t *r = n->rec;
        const char *br = json_string_value(json_object_get(r, "BerthBridge"));
        if (!br)
                br = opt_str(r, "com.docker.network.bridge.name");
        if (!br || !*br || strlen(br) >= sizeof(n->info.bridge))
                return berr_set(err, BERR_INTERNAL, EINVAL, "network %s: no bridge name", n->info.name);
        snprintf(n->info.bridge, sizeof(n->info.bridge), "%s", br);
        snprintf(n->info.host_binding_ipv4, sizeof(n->info.host_binding_ipv4), "%s",
                 opt_str(r, "com.docker.network.bridge.host_binding_ipv4") ?: "");
        n->icc = opt_bool(r, "com.docker.network.bridge.enable_icc", true);
        n->masquerade = opt_bool(r, "com.docker.network.bridge.enable_ip_masquerade", true);
        n->gw_mode4 = fw_gw_mode_from_string(opt_str(r, "com.docker.network.bridge.gateway_mode_ipv4"));
        if (n->gw_mode4 < 0)
                n->gw_mode4 = FW_GW_NAT;
        n->gw_mode6 = fw_gw_mode_from_string(opt_str(r, "com.docker.network.bridge.gateway_mode_ipv6"));
        if (n->gw_mode6 < 0)
                n->gw_mode6 = FW_GW_NAT;
        const char *mtu = opt_str(r, "com.docker.network.driver.mtu");
        n->mtu = mtu ? atoi(mtu) : 0;
        if (n->mtu <= 0)
                n->mtu = s->mtu;
        return 0;
}

/* The addresses: IPAM.Config of the record. */
static int ipam_from_record(struct network *n, struct berr *err) {
        json_t *r = n->rec;
        /* One IPv4 and (EnableIPv6) one IPv6 entry, as dockerd's bridge driver takes. */
        bool ipv6 = json_is_true(json_object_get(r, "EnableIPv6"));
        size_t i;
        json_t *cfg;
        json_array_foreach(json_object_get(json_object_get(r, "IPAM"), "Config"), i, cfg) {
                const char *sub = json_string_value(json_object_get(cfg, "Subnet"));
                const char *gw = json_string_value(json_object_get(cfg, "Gateway"));
                const char *range = json_string_value(json_object_get(cfg, "IPRange"));
                json_t *aux = json_object_get(cfg, "AuxiliaryAddresses");
                if (!sub)
                        continue;
                int e = 0;
                const char *k;
                json_t *v;
                if (strchr(sub, ':')) {
                        if (!ipv6 || n->has_v6)
                                continue;
                        uint8_t g[16] = { 0 };
                        struct ipv6_net rg;
                        if (ipam_parse_cidr6(sub, false, &n->subnet6, NULL) < 0 || (gw && *gw && ipam_parse_ip6(gw, g) < 0) ||
                            (range && *range && ipam_parse_cidr6(range, false, &rg, NULL) < 0))
                                return berr_set(err, BERR_INTERNAL, EINVAL, "network %s: bad IPAM record", n->info.name);
                        if (net_ipam_is_remote(n)) {
                                /* The plugin hands out the addresses: nothing to track here. */
                                n->alloc6.subnet = n->subnet6;
                                memcpy(n->alloc6.gateway, g, 16);
                                n->has_v6 = true;
                                continue;
                        }
                        e = ipam_alloc6_init(&n->alloc6, &n->subnet6, range && *range ? &rg : NULL, g);
                        json_object_foreach(aux, k, v) {
                                uint8_t a[16];
                                if (e == 0 && ipam_parse_ip6(json_string_value(v), a) == 0)
                                        (void) ipam_alloc6_reserve(&n->alloc6, a);
                        }
                        if (e == 0)
                                n->has_v6 = true;
                } else {
                        if (n->has_v4)
                                continue;
                        uint32_t g = 0;
                        struct ipv4_net rg;
                        if (ipam_parse_cidr4(sub, false, &n->subnet, NULL) < 0 || (gw && *gw && ipam_parse_ip4(gw, &g) < 0) ||
                            (range && *range && ipam_parse_cidr4(range, false, &rg, NULL) < 0))
                                return berr_set(err, BERR_INTERNAL, EINVAL, "network %s: bad IPAM record", n->info.name);
                        if (net_ipam_is_remote(n)) {
                                /* The plugin hands out the addresses: no bitmap (its pool may be any size). */
                                n->alloc.subnet = n->subnet;
                                n->alloc.gateway = g;
                                n->has_v4 = true;
                                continue;
                        }
                        e = ipam_alloc_init(&n->alloc, &n->subnet, range && *range ? &rg : NULL, g);
                        json_object_foreach(aux, k, v) {
                                uint32_t a;
                                if (e == 0 && ipam_parse_ip4(json_string_value(v), &a) == 0)
                                        (void) ipam_alloc_reserve(&n->alloc, a);
                        }
                        if (e == 0)
                                n->has_v4 = true;
                }
                if (e < 0)
                        return berr_set(err, BERR_INTERNAL, -e, "network %s: IPAM: %s", n->info.name, strerror(-e));
        }
        n->info.ipv6 = n->has_v6;
        return 0;
}

struct network *store_find_locked(struct net_store *s, const char *ref) {
        if (!ref || !*ref)
                return NULL;
        for (struct network *n = s->nets; n; n = n->next)
                if (strcmp(n->info.id, ref) == 0)
                        return n;
        for (struct network *n = s->nets; n; n = n->next)
                if (strcmp(n->info.name, ref) == 0)
                        return n;
        struct network *hit = NULL;
        size_t len = strlen(ref);
        for (struct network *n = s->nets; n; n = n->next)
                if (strncmp(n->info.id, ref, len) == 0) {
                        if (hit)
                                return NULL; /* ambiguous: Docker says not found too */
                        hit = n;
                }
        return hit;
}

/* Another table's FORWARD with policy drop (iptables' left by dockerd, ufw, firewalld)
 * drops container traffic whatever berth's table accepts: say so, with the rule to add.
 * Caller holds s->lock or is alone. */
static void check_forward_drops(struct net_store *s, const struct fw_net *nets, size_t n) {
        char **drops = NULL;
        json_t *w = json_array();
        if (n > 0 && fw_forward_drops(s->o->table, &drops) > 0) {
                for (char **d = drops; *d; d++) {
                        char fam[16], tab[128], chain[128];
                        if (sscanf(*d, "%15s %127s %127s", fam, tab, chain) != 3)
                                continue;
                        for (size_t i = 0; i < n; i++) {
                                char *msg = NULL;
                                if (asprintf(&msg, "WARNING: the %s chain %s of nftables table %s %s drops forwarded "
                                             "packets by default: containers on bridge %s have no traffic out until "
                                             "it accepts them (nft insert rule %s %s %s iifname \"%s\" accept; nft "
                                             "insert rule %s %s %s oifname \"%s\" accept)", fam, chain, fam, tab,
                                             nets[i].bridge, fam, tab, chain, nets[i].bridge, fam, tab, chain,
                                             nets[i].bridge) >= 0) {
                                        json_array_append_new(w, json_string(msg));
                                        log_warn("%s", msg);
                                        free(msg);
                                }
                        }
                }
        }
        for (char **d = drops; d && *d; d++)
                free(*d);
        free(drops);
        /* Traffic inside one bridge reaches the forward hook only through br_netfilter. */
        bool icc_off = false;
        for (size_t i = 0; i < n; i++)
                icc_off |= !nets[i].icc;
        char c = '0';
        _cleanup_close_ int bnf = open("/proc/sys/net/bridge/bridge-nf-call-iptables", O_RDONLY | O_CLOEXEC);
        if (icc_off && (bnf < 0 || read(bnf, &c, 1) != 1 || c != '1')) {
                const char *msg = "WARNING: inter-container communication is disabled on a network, but br_netfilter is "
                                  "not loaded (or bridge-nf-call-iptables is 0): traffic inside a bridge is not filtered "
                                  "(modprobe br_netfilter; sysctl net.bridge.bridge-nf-call-iptables=1)";
                json_array_append_new(w, json_string(msg));
                log_warn("%s", msg);
        }
        bool icc_off6 = false;
        for (size_t i = 0; i < n; i++)
                icc_off6 |= !nets[i].icc && nets[i].has_v6;
        char c6 = '0';
        _cleanup_close_ int bnf6 = icc_off6 ? open("/proc/sys/net/bridge/bridge-nf-call-ip6tables", O_RDONLY | O_CLOEXEC) : -1;
        if (icc_off6 && (bnf6 < 0 || read(bnf6, &c6, 1) != 1 || c6 != '1')) {
                const char *msg = "WARNING: inter-container communication is disabled on an IPv6 network, but br_netfilter "
                                  "is not loaded (or bridge-nf-call-ip6tables is 0): IPv6 traffic inside a bridge is not "
                                  "filtered (modprobe br_netfilter; sysctl net.bridge.bridge-nf-call-ip6tables=1)";
                json_array_append_new(w, json_string(msg));
                log_warn("%s", msg);
        }
        json_decref(s->warnings);
        s->warnings = w;
}

json_t *net_warnings(struct net_store *s) {
        pthread_mutex_lock(&s->lock);
        json_t *w = json_deep_copy(s->warnings);
        pthread_mutex_unlock(&s->lock);
        return w ? w : json_array();
}

int store_apply_firewall(struct net_store *s, struct berr *err) {
        if (!s->o->iptables)
                return 0;
        size_t cap = 0;
        for (struct network *w = s->nets; w; w = w->next)
                cap++;
        _cleanup_free_ struct fw_net *list = calloc(cap + 1, sizeof(*list));
        if (!list)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t n = 0;
        bool v6 = false;
        for (struct network *w = s->nets; w; w = w->next) {
                if (strcmp(w->info.driver, "bridge") != 0 || !w->has_v4)
                        continue;
                list[n++] = (struct fw_net) { .bridge = w->info.bridge, .subnet = w->subnet,
                                              .has_v6 = w->has_v6, .subnet6 = w->subnet6,
                                              .internal = w->info.internal, .masquerade = w->masquerade && s->o->ip_masq,
                                              .icc = w->icc && s->o->icc, .gw_mode = (enum fw_gw_mode) w->gw_mode4,
                                              .gateway = w->alloc.gateway, .gw_mode6 = (enum fw_gw_mode) w->gw_mode6 };
                if (w->has_v6) {
                        memcpy(list[n - 1].gateway6, w->alloc6.gateway, 16);
                        if (ipam_ip6_is_zero(list[n - 1].gateway6))
                                ipam_ip6_add(&w->subnet6, 1, list[n - 1].gateway6);
                }
                v6 |= w->has_v6;
        }
        if (n > 0 && s->o->ip_forward) {
                _cleanup_close_ int fd = open("/proc/sys/net/ipv4/ip_forward", O_RDWR | O_CLOEXEC);
                char c = '1';
                if (fd >= 0 && read(fd, &c, 1) == 1 && c == '0' && pwrite(fd, "1", 1, 0) < 0)
                        log_warn("enable ip_forward: %s", strerror(errno));
        }
        if (v6 && s->o->ip_forward) {
                /* As dockerd: IPv6 forwarding once a bridge has IPv6 (interfaces that take
                 * router advertisements need accept_ra=2 to keep them with forwarding on). */
                _cleanup_close_ int fd = open("/proc/sys/net/ipv6/conf/all/forwarding", O_RDWR | O_CLOEXEC);
                char c = '1';
                if (fd >= 0 && read(fd, &c, 1) == 1 && c == '0') {
                        if (pwrite(fd, "1", 1, 0) < 0)
                                log_warn("enable IPv6 forwarding: %s", strerror(errno));
                        else
                                log_info("enabled net.ipv6.conf.all.forwarding for IPv6 bridge networks");
                }
        }
        _cleanup_free_ const char **bridges = calloc(n + 1, sizeof(*bridges));
        for (size_t i = 0; bridges && i < n; i++)
                bridges[i] = list[i].bridge;
        if (bridges)
                fwd_set_interfaces(s->fwd, bridges, n);
        struct fw_mark mark = { .on = s->o->has_accept_fwmark, .mark = s->o->accept_fwmark, .mask = s->o->accept_fwmask };
        int r = fw_apply(s->o->table, list, n, &mark, err);
        if (r == 0)
                check_forward_drops(s, list, n);
        return r;
}

bool net_ip6_routed_locked(struct net_store *s, const uint8_t ip[16]) {
        for (struct network *w = s->nets; w; w = w->next)
                if (w->gw_mode6 == FW_GW_ROUTED && w->has_v6 && ipam_contains6(&w->subnet6, ip))
                        return true;
        return false;
}

bool net_ip_routed_locked(struct net_store *s, uint32_t ip) {
        for (struct network *w = s->nets; w; w = w->next)
                if (w->gw_mode4 == FW_GW_ROUTED && w->has_v4 && ipam_contains4(&w->subnet, ip))
                        return true;
        return false;
}

/* The watcher's call (fwwatch.c): another program took berth's rules away; put the whole
 * table back from what the store knows, port maps included. */
static void reapply_firewall(void *arg, bool only_if_warned) {
        struct net_store *s = arg;
        pthread_mutex_lock(&s->lock);
        if (only_if_warned && json_array_size(s->warnings) == 0) {
                pthread_mutex_unlock(&s->lock);
                return;
        }
        struct berr e = { 0 };
        if (fw_session_begin(&e) < 0 || store_apply_firewall(s, &e) < 0)
                log_warn("put the firewall back: %s", e.msg);
        else
                ports_resync_locked(s);
        fw_session_end();
        pthread_mutex_unlock(&s->lock);
}

bool net_valid_bridge_name(const char *name) {
        size_t len = strlen(name);
        if (len == 0 || len > 15 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return false;
        for (const char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                      *p == '.' || *p == '-'))
                        return false;
        return true;
}

int store_bring_up(struct net_store *s, struct network *n, struct berr *err) {
        if (strcmp(n->info.driver, "bridge") != 0)
                return 0;
        /* A link of that name that is not a bridge (eth0, wg0, ...) is never taken over. */
        char sys[128];
        snprintf(sys, sizeof(sys), "/sys/class/net/%s", n->info.bridge);
        if (access(sys, F_OK) == 0) {
                snprintf(sys, sizeof(sys), "/sys/class/net/%s/bridge", n->info.bridge);
                if (access(sys, F_OK) != 0)
                        return berr_set(err, BERR_CONFLICT, EEXIST, "%s exists and is not a bridge", n->info.bridge);
        }
        bool created;
        uint32_t gw = n->has_v4 ? n->alloc.gateway : 0;
        int r = nl_bridge_ensure(n->info.bridge, gw, n->subnet.prefix, n->mtu, &created, err);
        if (r < 0)
                return r;
        if (created && !n->info.predefined)
                json_object_set_new(n->rec, "BerthCreatedBridge", json_true());
        if (n->has_v6) {
                uint8_t gw6[16];
                memcpy(gw6, n->alloc6.gateway, 16);
                if (ipam_ip6_is_zero(gw6))
                        ipam_ip6_add(&n->subnet6, 1, gw6);
                if ((r = nl_bridge_addr6(n->info.bridge, gw6, n->subnet6.prefix, err)) < 0)
                        return r;
        }
        /* 127.0.0.1:<published port> is DNATed out of the bridge (see firewall.c), which
         * also drops what arrives for 127.0.0.0/8 elsewhere; without berth's table, no. */
        if (!s->o->iptables)
                return 0;
        char path[128];
        snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", n->info.bridge);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0 || write(fd, "1", 1) != 1)
                log_warn("enable route_localnet on %s: %s", n->info.bridge, strerror(errno));
        return 0;
}

static int load_records(struct net_store *s, struct berr *err) {
        _cleanup_closedir_ DIR *dir = opendir(s->dir);
        if (!dir)
                return berr_sys(err, BERR_INTERNAL, "open %s", s->dir);
        struct dirent *de;
        while ((de = readdir(dir))) {
                size_t len = strlen(de->d_name);
                if (len != 69 || strcmp(de->d_name + 64, ".json") != 0)
                        continue;
                _cleanup_free_ char *text = NULL;
                size_t tlen;
                struct berr e = { 0 };
                struct network *n = calloc(1, sizeof(*n));
                if (!n || fs_read_file(dirfd(dir), de->d_name, 1 << 20, &text, &tlen, &e) < 0 ||
                    json_parse_object(text, tlen, &n->rec, &e) < 0 || store_network_from_record(s, n, &e) < 0) {
                        log_warn("skipping network record %s: %s", de->d_name, e.msg);
                        store_network_free(n);
                        continue;
                }
                n->next = s->nets;
                s->nets = n;
        }
        return 0;
}

int net_store_open(const struct net_options *o, const char *data_root, const char *exec_root,
                   struct net_store **ret, struct berr *err) {
        struct net_store *s = calloc(1, sizeof(*s));
        if (!s)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->released, NULL);
        s->o = o;
        s->dir = fs_path_join(data_root, "network");
        s->netns_dir = fs_path_join(exec_root, "netns");
        int r;
        if (!s->dir || !s->netns_dir) {
                r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                goto fail;
        }
        if ((r = fs_mkdir_p(s->dir, 0700, err)) < 0 || (r = fs_mkdir_p(s->netns_dir, 0711, err)) < 0)
                goto fail;
        s->mtu = o->mtu > 0 ? o->mtu : nl_default_route_mtu();
        if (s->mtu <= 0)
                s->mtu = 1500;
        for (size_t i = 0; i < o->n_pools; i++) {
                bool is6 = ipam_pool_spec_is6(o->pools[i]);
                if ((is6 && ipam_parse_pool_spec6(o->pools[i], &s->pools6[s->n_pools6++]) < 0) ||
                    (!is6 && ipam_parse_pool_spec(o->pools[i], &s->pools[s->n_pools++]) < 0)) {
                        r = berr_set(err, BERR_INVALID, EINVAL, "invalid default address pool %s", o->pools[i]);
                        goto fail;
                }
        }
        if (s->n_pools == 0 && s->n_pools6 == 0) {
                /* dockerd's defaults: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s. */
                for (int i = 17; i <= 31; i++)
                        s->pools[s->n_pools++] = (struct ipam_pool_spec) { { 0xac000000u | ((uint32_t) i << 16), 16 }, 16 };
                s->pools[s->n_pools++] = (struct ipam_pool_spec) { { 0xc0a80000u, 16 }, 20 };
        }
        /* No IPv6 pool given: dockerd 27's, a ULA /48 derived from the engine ID, in /64s. */
        if (s->n_pools6 == 0)
                ipam_ula_pool(o->host_id, &s->pools6[s->n_pools6++]);

        if ((r = load_records(s, err)) < 0)
                goto fail;
        if ((r = store_ensure_predefined(s, err)) < 0)
                goto fail;
        for (struct network *n = s->nets; n; n = n->next) {
                struct berr e = { 0 };
                if (store_bring_up(s, n, &e) < 0)
                        log_warn("network %s: %s", n->info.name, e.msg);
        }
        /* The table and the check of other tables, on one loaded libnftables; it stays
         * loaded for the port resync once the containers are back (net_ports_resync). */
        if (o->iptables) {
                (void) fw_session_begin(err);
                s->fwd = fwd_start(); /* connects on its own thread: no wait here */
        }
        if ((r = store_apply_firewall(s, err)) < 0 || (r = dns_open(s, err)) < 0) {
                fw_session_end();
                goto fail;
        }
        if (o->iptables) {
                struct berr e = { 0 };
                if (fw_watch_start(o->table, reapply_firewall, s, &s->fw_watch, &e) < 0)
                        log_warn("berth's firewall rules will not be put back after others remove them: %s", e.msg);
        }
        log_info("networks ready: default bridge %s, nftables table=%s%s", s->default_name[0] ? s->default_name : "none",
                 o->table, o->iptables ? "" : " (not managed: --iptables=false)");
        *ret = s;
        return 0;
fail:
        net_store_close(s);
        return r;
}

void net_store_close(struct net_store *s) {
        if (!s)
                return;
        nl_link_reap_flush(); /* no deletion is left half-way when berthd exits */
        fw_watch_stop(s->fw_watch);
        s->fw_watch = NULL;
        fwd_stop(s->fwd);
        s->fwd = NULL;
        dns_close(s);
        while (s->nets) {
                struct network *n = s->nets;
                s->nets = n->next;
                store_network_free(n);
        }
        json_decref(s->warnings);
        for (size_t i = 0; i < s->n_pubs; i++)
                if (s->pubs[i].fd >= 0)
                        close(s->pubs[i].fd);
        free(s->pubs);
        free(s->dir);
        free(s->netns_dir);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

void net_store_remove_rules(struct net_store *s) {
        if (!s || !s->o->iptables)
                return;
        fw_watch_stop(s->fw_watch); /* removing the table is no reason to put it back */
        s->fw_watch = NULL;
        fw_remove(s->o->table);
}

void net_default_gateway(struct net_store *s, char out[16]) {
        out[0] = '\0';
        pthread_mutex_lock(&s->lock);
        for (struct network *n = s->nets; n; n = n->next)
                if (strcmp(n->info.name, "bridge") == 0 && n->has_v4 && n->alloc.gateway)
                        ipam_format_ip4(n->alloc.gateway, out);
        pthread_mutex_unlock(&s->lock);
}

const char *net_default_name(struct net_store *s) {
        return s->default_name;
}

int net_find(struct net_store *s, const char *ref, struct net_info *ret, struct berr *err) {
        pthread_mutex_lock(&s->lock);
        struct network *n = store_find_locked(s, ref);
        if (n)
                *ret = n->info;
        pthread_mutex_unlock(&s->lock);
        if (!n)
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "network %s not found", ref ? ref : "");
        return 0;
}

bool net_uses_plugins(struct net_store *s, const char *ref) {
        pthread_mutex_lock(&s->lock);
        struct network *n = store_find_locked(s, ref);
        bool r = n && (n->remote || net_ipam_is_remote(n));
        pthread_mutex_unlock(&s->lock);
        return r;
}
