/* store.c - the network store: records, the predefined networks, create/remove/list/
 * inspect/prune, and endpoints (address, veth, namespace) of running containers. */
#include "network.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/id.h"
#include "common/json.h"
#include "common/log.h"
#include "firewall.h"
#include "firewalld.h"
#include "fwwatch.h"
#include "ipam.h"
#include "netlink.h"
#include "remote.h"
#include "sublink.h"

#define DEFAULT_BRIDGE "docker0"
#define MAX_ENDPOINTS 65536
#define MAX_AUX_ADDRESSES 4096

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

static void names_free(char **v) {
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

static void network_free(struct network *n) {
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
static void drop_bridge(struct net_store *s, struct network *n) {
        if (net_driver_is_sublink(n->info.driver))
                sublink_detach_parent(s, n);
        if (n->info.bridge[0] && json_is_true(json_object_get(n->rec, "BerthCreatedBridge")))
                nl_link_delete(n->info.bridge);
}

static int save_record(struct net_store *s, struct network *n, struct berr *err) {
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

static void remove_record(struct net_store *s, const char *id) {
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
static int network_from_record(struct net_store *s, struct network *n, struct berr *err) {
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

static int apply_firewall(struct net_store *s, struct berr *err) {
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
        if (fw_session_begin(&e) < 0 || apply_firewall(s, &e) < 0)
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

static int bring_up(struct net_store *s, struct network *n, struct berr *err) {
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
static int ensure_predefined(struct net_store *s, struct berr *err) {
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
                if ((r = network_from_record(s, n, err)) < 0 || (r = save_record(s, n, err)) < 0) {
                        network_free(n);
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
                        remove_record(s, old->info.id);
                        network_free(old);
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
                network_free(old);
        }
        int r = network_from_record(s, n, err);
        if (r == 0)
                r = save_record(s, n, err);
        if (r < 0) {
                network_free(n);
                return r;
        }
        n->next = s->nets;
        s->nets = n;
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
                    json_parse_object(text, tlen, &n->rec, &e) < 0 || network_from_record(s, n, &e) < 0) {
                        log_warn("skipping network record %s: %s", de->d_name, e.msg);
                        network_free(n);
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
        if ((r = ensure_predefined(s, err)) < 0)
                goto fail;
        for (struct network *n = s->nets; n; n = n->next) {
                struct berr e = { 0 };
                if (bring_up(s, n, &e) < 0)
                        log_warn("network %s: %s", n->info.name, e.msg);
        }
        /* The table and the check of other tables, on one loaded libnftables; it stays
         * loaded for the port resync once the containers are back (net_ports_resync). */
        if (o->iptables) {
                (void) fw_session_begin(err);
                s->fwd = fwd_start(); /* connects on its own thread: no wait here */
        }
        if ((r = apply_firewall(s, err)) < 0 || (r = dns_open(s, err)) < 0) {
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
                network_free(n);
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

/* ---- IPAM and network driver plugins (remote.h): never called under s->lock ---- */

/* What an IPAM plugin gave a network being made. */
struct ipam_grant {
        struct remote_pool pool;
        char space[REMOTE_ID_MAX];
        uint32_t gateway;
        bool gw_from_ipam, wants_mac;
        uint32_t aux[MAX_AUX_ADDRESSES];
        size_t n_aux;
        bool has6;              /* --ipv6: a second pool, asked with V6 */
        struct remote_pool pool6;
        uint8_t gateway6[16];
        bool gw6_from_ipam;
};

static int ipam_release_addr(struct net_store *s, const char *driver, const char *pool_id, uint32_t ip,
                             struct berr *err) {
        char a[16];
        ipam_format_ip4(ip, a);
        return remote_ipam_call(s->plugins, driver, "ReleaseAddress", json_pack("{s:s, s:s}", "PoolID", pool_id,
                                                                                 "Address", a), NULL, err);
}

static int ipam_release_addr6(struct net_store *s, const char *driver, const char *pool_id, const uint8_t ip6[16],
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
        if (gw6 && ipam_release_addr6(s, driver, pool_id, gw6, &e) < 0)
                log_warn("IPAM plugin %s: release IPv6 gateway: %s", driver, e.msg);
        if (remote_ipam_call(s->plugins, driver, "ReleasePool", json_pack("{s:s}", "PoolID", pool_id), NULL, &e) < 0)
                log_warn("IPAM plugin %s: release pool %s: %s", driver, pool_id, e.msg);
}

/* libnetwork's release of a network's addresses: the gateway (if asked of the plugin),
 * the auxiliary addresses, then the pool. Failures are logged: the network goes anyway. */
static void ipam_plugin_release(struct net_store *s, const char *driver, const char *pool_id, uint32_t gw,
                                const uint32_t *aux, size_t n_aux) {
        struct berr e = { 0 };
        if (gw && ipam_release_addr(s, driver, pool_id, gw, &e) < 0)
                log_warn("IPAM plugin %s: release gateway: %s", driver, e.msg);
        for (size_t i = 0; i < n_aux; i++)
                if (ipam_release_addr(s, driver, pool_id, aux[i], &e) < 0)
                        log_warn("IPAM plugin %s: release auxiliary address: %s", driver, e.msg);
        if (remote_ipam_call(s->plugins, driver, "ReleasePool", json_pack("{s:s}", "PoolID", pool_id), NULL, &e) < 0)
                log_warn("IPAM plugin %s: release pool %s: %s", driver, pool_id, e.msg);
}

/* libnetwork's ipamAllocate with a plugin: the default address space, a pool (the subnet
 * and ip-range asked, the --ipam-opt options), the gateway (the one asked, or any, unless
 * the pool's Data names one) and the auxiliary addresses. All or nothing. */
static int ipam_plugin_grant(struct net_store *s, const char *driver, const char *subnet, const char *range,
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

/* The IPv6 half of ipam_plugin_grant (after the IPv4 one, in the same address space). */
static int ipam_plugin_grant6(struct net_store *s, const char *driver, const char *subnet, const char *range,
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

static void ipam_grant_give_back(struct net_store *s, const char *driver, const struct ipam_grant *g) {
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

/* What a network's plugins need to hear of its end, copied out of the store. */
struct net_plugins {
        char id[65], driver[256], ipam_driver[256], pool_id[256], pool_id6[256];
        bool remote, remote_ipam;
        uint32_t gw;            /* the gateway to release (asked of the IPAM plugin), else 0 */
        bool has_gw6;
        uint8_t gw6[16];
        uint32_t *aux;
        size_t n_aux;
};

static void net_plugins_of(struct network *n, struct net_plugins *p) {
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
static int net_plugins_teardown(struct net_store *s, struct net_plugins *p, struct berr *err) {
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
                /* As -p [::1]:...: the kernel cannot forward ::1 (see container_network.c). */
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
                if ((r = ipam_plugin_grant(s, ipam_driver, subnet_s, range_s, gw_s, true, aux4, ipam_opts, grant, err)) < 0)
                        return r;
                if (ipv6 && (r = ipam_plugin_grant6(s, ipam_driver, subnet6_s, range6_s, gw6_s, ipam_opts, grant, err)) < 0) {
                        ipam_grant_give_back(s, ipam_driver, grant);
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
        r = network_from_record(s, n, err);
        if (r == 0)
                r = bring_up(s, n, err);
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
                if (r == 0 && (r = save_record(s, n, err)) < 0) {
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
                if ((r = save_record(s, n, err)) < 0)
                        s->nets = n->next;
        } else if (r == 0) {
                n->next = s->nets;
                s->nets = n;
                r = apply_firewall(s, err);
                if (r == 0)
                        r = save_record(s, n, err);
                if (r < 0) {
                        s->nets = n->next;
                        struct berr e = { 0 };
                        (void) apply_firewall(s, &e);
                }
        }
        if (r < 0) {
                drop_bridge(s, n);
                network_free(n);
        }
        pthread_mutex_unlock(&s->lock);
        if (r == 0)
                memcpy(ret_id, id, 65);
give_back:
        if (r < 0 && grant)
                ipam_grant_give_back(s, ipam_driver, grant);
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
        remove_record(s, n->info.id);
        drop_bridge(s, n);
        struct berr e = { 0 };
        if (apply_firewall(s, &e) < 0)
                log_warn("firewall after removing network %s: %s", n->info.name, e.msg);
        bool has_plugins = n->remote || net_ipam_is_remote(n);
        struct net_plugins pl;
        if (has_plugins)
                net_plugins_of(n, &pl);
        network_free(n);
        pthread_mutex_unlock(&s->lock);
        /* libnetwork logs a driver's failure to delete and removes the network anyway. */
        if (has_plugins && net_plugins_teardown(s, &pl, &e) < 0)
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
                remove_record(s, n->info.id);
                drop_bridge(s, n);
                if ((n->remote || net_ipam_is_remote(n)) && n_gone < ELEMENTSOF(gone))
                        net_plugins_of(n, &gone[n_gone++]);
                network_free(n);
        }
        struct berr e = { 0 };
        if (json_array_size(deleted) > 0 && apply_firewall(s, &e) < 0)
                log_warn("firewall after prune: %s", e.msg);
        pthread_mutex_unlock(&s->lock);
        for (size_t i = 0; i < n_gone; i++)
                if (net_plugins_teardown(s, &gone[i], &e) < 0)
                        log_warn("network %s: %s", gone[i].id, e.msg);
        *ret_deleted = deleted;
        *ret_ids = ids;
        return 0;
}

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
         * is free, while deletions are queued, wait for them and try once more. */
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
        if ((r == -EEXIST || r == -ENOSPC) && !flushed && nl_link_reap_pending()) {
                pthread_mutex_unlock(&s->lock);
                nl_link_reap_flush();
                flushed = true;
                goto again;
        }
        if (r < 0) {
                pthread_mutex_unlock(&s->lock);
                if (r == -ERANGE)
                        return berr_set(err, BERR_INVALID, EINVAL, "Invalid address %s: It does not belong to any of this "
                                        "network's subnets", q->want_ip);
                if (r == -EEXIST)
                        return berr_set(err, BERR_FORBIDDEN, EADDRINUSE, "Address already in use");
                return berr_set(err, BERR_UNAVAILABLE, ENOSPC, "no available IPv4 addresses on network %s", n->info.name);
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
                if ((r == -EEXIST || r == -ENOSPC) && !flushed && nl_link_reap_pending()) {
                        alloc_release(n, ep.ip);
                        pthread_mutex_unlock(&s->lock);
                        nl_link_reap_flush();
                        flushed = true;
                        goto again;
                }
                if (r < 0) {
                        alloc_release(n, ep.ip);
                        pthread_mutex_unlock(&s->lock);
                        if (r == -ERANGE)
                                return berr_set(err, BERR_INVALID, EINVAL, "Invalid address %s: It does not belong to any of "
                                                "this network's subnets", q->want_ip6);
                        if (r == -EEXIST)
                                return berr_set(err, BERR_FORBIDDEN, EADDRINUSE, "Address already in use");
                        return berr_set(err, BERR_UNAVAILABLE, ENOSPC, "no available IPv6 addresses on network %s",
                                        n->info.name);
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
                if (r == -ERANGE)
                        return berr_set(err, BERR_INVALID, EINVAL, "Invalid address %s: It does not belong to any of this "
                                        "network's subnets", q->want_ip);
                if (r == -EEXIST)
                        return berr_set(err, BERR_FORBIDDEN, EADDRINUSE, "Address already in use");
                return berr_set(err, BERR_UNAVAILABLE, ENOSPC, "no available IPv4 addresses on network %s", n->info.name);
        } else
                ep.prefix = n->subnet.prefix;
        /* IPv6: the IPAM plugin's (@pre) or berth's allocator */
        if (!n->has_v6 && !ipam_ip6_is_zero(want6))
                r = berr_set(err, BERR_INVALID, EINVAL, "Invalid address %s: It does not belong to any of this "
                             "network's subnets", q->want_ip6);
        else if (n->has_v6 && pre && pre->has6)
                memcpy(ep.ip6, pre->ip6, 16), ep.has_ip6 = true, ep.prefix6 = pre->prefix6;
        else if (n->has_v6 && (r = ipam_alloc6_take(&n->alloc6, want6, ep.ip6)) < 0) {
                if (r == -ERANGE)
                        r = berr_set(err, BERR_INVALID, EINVAL, "Invalid address %s: It does not belong to any of this "
                                     "network's subnets", q->want_ip6);
                else if (r == -EEXIST)
                        r = berr_set(err, BERR_FORBIDDEN, EADDRINUSE, "Address already in use");
                else
                        r = berr_set(err, BERR_UNAVAILABLE, ENOSPC, "no available IPv6 addresses on network %s",
                                     n->info.name);
        } else if (n->has_v6) {
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
                if (ipam_release_addr(s, p.ipam_driver, p.pool_id, pre.ip, &e) < 0)
                        log_warn("network %s: release address after a failed join: %s", net_id, e.msg);
                return r;
        }
        r = p.remote ? join_remote(s, q, &p, p.remote_ipam ? &pre : NULL, ret, err)
                     : join_local(s, net_id, q, &pre, ret, err);
        if (r < 0 && p.remote_ipam && ipam_release_addr(s, p.ipam_driver, p.pool_id, pre.ip, &e) < 0)
                log_warn("network %s: release address after a failed join: %s", net_id, e.msg);
        if (r < 0 && pre.has6 && ipam_release_addr6(s, p.ipam_driver, p.pool_id6, pre.ip6, &e) < 0)
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
