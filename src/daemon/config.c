/* config.c - flag parsing (table-driven, no abbreviations, as cobra does) and daemon.json. */
#include "config.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "config_int.h"
#include "logdrv.h"
#include "distribution/distribution.h"
#include "network/ipam.h"

struct opt_desc {
        enum config_opt id;
        const char *name;  /* long flag and daemon.json key */
        char short_name;
        bool takes_value;
        const char *json_key; /* NULL: not settable in daemon.json */
        const char *help;
};

static const struct opt_desc opts[] = {
        { OPT_HOST, "host", 'H', true, "hosts", "Daemon socket(s) to connect to (unix://PATH, tcp://ADDR:PORT, fd://)" },
        { OPT_TLS, "tls", 0, false, "tls", "Use TLS; implied by --tlsverify (off a loopback address TCP needs TLS, or an explicit --tls=false)" },
        { OPT_TLSVERIFY, "tlsverify", 0, false, "tlsverify", "Use TLS and verify the remote (clients need a certificate signed by --tlscacert)" },
        { OPT_TLSCACERT, "tlscacert", 0, true, "tlscacert", "Trust certs signed only by this CA (default ~/.docker/ca.pem)" },
        { OPT_TLSCERT, "tlscert", 0, true, "tlscert", "Path to TLS certificate file (default ~/.docker/cert.pem)" },
        { OPT_TLSKEY, "tlskey", 0, true, "tlskey", "Path to TLS key file (default ~/.docker/key.pem)" },
        { OPT_SECCOMP_PROFILE, "seccomp-profile", 0, true, "seccomp-profile", "Path to seccomp profile, or \"unconfined\" (default \"builtin\")" },
        { OPT_DATA_ROOT, "data-root", 0, true, "data-root", "Root directory of persistent state (default " DAEMON_DEFAULT_DATA_ROOT ")" },
        { OPT_EXEC_ROOT, "exec-root", 0, true, "exec-root", "Root directory for execution state files (default " DAEMON_DEFAULT_EXEC_ROOT ")" },
        { OPT_PIDFILE, "pidfile", 'p', true, "pidfile", "Path to use for daemon PID file (default EXEC-ROOT/berthd.pid)" },
        { OPT_CONFIG_FILE, "config-file", 0, true, NULL, "Daemon configuration file (default " DAEMON_DEFAULT_CONFIG_FILE ")" },
        { OPT_LOG_LEVEL, "log-level", 'l', true, "log-level", "Set the logging level (debug, info, warn, error, fatal)" },
        { OPT_DEBUG, "debug", 'D', false, "debug", "Enable debug mode" },
        { OPT_STORAGE_DRIVER, "storage-driver", 's', true, "storage-driver", "Storage driver to use (overlay2, vfs)" },
        { OPT_BRIDGE, "bridge", 'b', true, "bridge", "Attach containers to a network bridge (default docker0; \"none\": no default bridge)" },
        { OPT_BIP, "bip", 0, true, "bip", "IPv4 address and prefix of the default bridge (e.g. 172.17.0.1/16)" },
        { OPT_FIXED_CIDR, "fixed-cidr", 0, true, "fixed-cidr", "IPv4 subnet for fixed IPs of the default bridge" },
        { OPT_DEFAULT_GATEWAY, "default-gateway", 0, true, "default-gateway", "Container default gateway IPv4 address" },
        { OPT_DEFAULT_ADDRESS_POOL, "default-address-pool", 0, true, "default-address-pools", "Default address pools for networks (base=CIDR,size=N)" },
        { OPT_MTU, "mtu", 0, true, "mtu", "Network MTU (default: the MTU of the default route's interface)" },
        { OPT_IPTABLES, "iptables", 0, false, "iptables", "Let berth manage its firewall rules (nftables) (default true)" },
        { OPT_IP_MASQ, "ip-masq", 0, false, "ip-masq", "Enable IP masquerading for the default bridge (default true)" },
        { OPT_ICC, "icc", 0, false, "icc", "Enable inter-container communication on the default bridge (default true)" },
        { OPT_IP_FORWARD, "ip-forward", 0, false, "ip-forward", "Enable net.ipv4.ip_forward (default true)" },
        { OPT_IP, "ip", 0, true, "ip", "Default IP when binding container ports (default 0.0.0.0)" },
        { OPT_IPV6, "ipv6", 0, false, "ipv6", "Enable IPv6 networking on the default bridge network" },
        { OPT_FIXED_CIDR_V6, "fixed-cidr-v6", 0, true, "fixed-cidr-v6", "IPv6 subnet of the default bridge (default: one from the default address pools)" },
        { OPT_IP6TABLES, "ip6tables", 0, false, "ip6tables", "Firewall rules for IPv6 (always on with --iptables: berth's nftables table is inet)" },
        { OPT_BRIDGE_ACCEPT_FWMARK, "bridge-accept-fwmark", 0, true, "bridge-accept-fwmark", "In bridge networks, accept packets with this firewall mark/mask" },
        { OPT_DEFAULT_IPC_MODE, "default-ipc-mode", 0, true, "default-ipc-mode", "Default mode for containers ipc (\"shareable\" | \"private\") (default \"private\")" },
        { OPT_LOG_DRIVER, "log-driver", 0, true, "log-driver", "Default driver for container logs (default \"json-file\")" },
        { OPT_LOG_OPT, "log-opt", 0, true, "log-opts", "Default log driver options for containers (KEY=VALUE, repeatable)" },
        { OPT_VERSION, "version", 'v', false, NULL, "Print version information and quit" },
        { OPT_HELP, "help", 'h', false, NULL, "Print usage" },
        /* ---- issue 14: validate, container defaults, daemon settings ---- */
        { OPT_VALIDATE, "validate", 0, false, NULL, "Validate daemon configuration and exit" },
        { OPT_DEFAULT_ULIMIT, "default-ulimit", 0, true, "default-ulimits", "Default ulimits for containers (NAME=SOFT[:HARD], repeatable)" },
        { OPT_DEFAULT_SHM_SIZE, "default-shm-size", 0, true, "default-shm-size", "Default shm size for containers (default 64MiB)" },
        { OPT_DEFAULT_CGROUPNS_MODE, "default-cgroupns-mode", 0, true, "default-cgroupns-mode", "Default mode for containers cgroup namespace (\"host\" | \"private\") (default private on cgroup v2, host on v1)" },
        { OPT_CGROUP_PARENT, "cgroup-parent", 0, true, "cgroup-parent", "Set parent cgroup for all containers (default /berth)" },
        { OPT_EXEC_OPT, "exec-opt", 0, true, "exec-opts", "Runtime execution options (native.cgroupdriver=cgroupfs)" },
        { OPT_LABEL, "label", 0, true, "labels", "Set key=value labels to the daemon (repeatable)" },
        { OPT_LIVE_RESTORE, "live-restore", 0, false, "live-restore", "Keep containers running while the daemon is down (berth always does)" },
        { OPT_SHUTDOWN_TIMEOUT, "shutdown-timeout", 0, true, "shutdown-timeout", "Seconds the daemon waits for its shutdown before forcing it (default 15)" },
        { OPT_EXPERIMENTAL, "experimental", 0, false, "experimental", "Enable experimental features" },
        { OPT_FEATURES, "features", 0, true, "features", "Enable or disable features by name (daemon.json only: {\"name\": true})" },
        { OPT_NO_NEW_PRIVILEGES, "no-new-privileges", 0, false, "no-new-privileges", "Set no-new-privileges by default for new containers" },
        { OPT_SELINUX_ENABLED, "selinux-enabled", 0, false, "selinux-enabled", "Enable selinux support (not supported by berth: only false is accepted)" },
        { OPT_GROUP, "group", 'G', true, "group", "Group for the unix socket (default \"docker\")" },
        { OPT_DNS, "dns", 0, true, "dns", "DNS server to use (repeatable)" },
        { OPT_DNS_OPT, "dns-opt", 0, true, "dns-opts", "DNS options to use (repeatable)" },
        { OPT_DNS_SEARCH, "dns-search", 0, true, "dns-search", "DNS search domains to use (repeatable)" },
        { OPT_MAX_DOWNLOAD_ATTEMPTS, "max-download-attempts", 0, true, "max-download-attempts", "Set the max download attempts for each pull (default 5)" },
        { OPT_MAX_CONNECTIONS, "max-connections", 0, true, "max-connections", "API connections served at once; past it new ones are answered 503 (berth only, 1 to 10000; default: half the open-file limit less 256, at most 4096)" },
        { OPT_HTTP_PROXY, "http-proxy", 0, true, NULL, "HTTP proxy URL to use for outgoing traffic" },
        { OPT_HTTPS_PROXY, "https-proxy", 0, true, NULL, "HTTPS proxy URL to use for outgoing traffic" },
        { OPT_NO_PROXY, "no-proxy", 0, true, NULL, "Comma-separated list of hosts or IP addresses for which the proxy is skipped" },
        { OPT_PROXIES, "proxies", 0, true, "proxies", "Proxies for registry traffic (daemon.json only: {\"http-proxy\", \"https-proxy\", \"no-proxy\"})" },
        { OPT_USERNS_REMAP, "userns-remap", 0, true, "userns-remap", "User/Group setting for user namespaces (\"default\", USER[:GROUP] or UID[:GID])" },
        { OPT_AUTHZ_PLUGIN, "authorization-plugin", 0, true, "authorization-plugins", "Authorization plugins to load (repeatable; every API request passes each in order)" },
        { OPT_METRICS_ADDR, "metrics-addr", 0, true, "metrics-addr", "Address to serve the metrics API (Prometheus text) on, loopback only (e.g. 127.0.0.1:9323)" },
        /* ---- issue 15: OCI runtimes (config_runtimes.c) ---- */
        { OPT_ADD_RUNTIME, "add-runtime", 0, true, "runtimes", "Register an additional OCI compatible runtime (NAME=PATH, repeatable)" },
        { OPT_DEFAULT_RUNTIME, "default-runtime", 0, true, "default-runtime", "Default OCI runtime for containers (default \"" DAEMON_BUILTIN_RUNTIME "\", the built-in one)" },
};

/* dockerd's options that berth does not implement: refused at start, never ignored.
 * { flag, daemon.json key } (either may be NULL). */
static const struct {
        const char *flag, *json_key;
} unsupported[] = {
        { "allow-nondistributable-artifacts", "allow-nondistributable-artifacts" },
        { "api-cors-header", "api-cors-header" },
        { "bip6", "bip6" },
        { "cdi-spec-dir", "cdi-spec-dirs" },
        { "cluster-advertise", "cluster-advertise" },
        { "cluster-store", "cluster-store" },
        { "cluster-store-opt", "cluster-store-opts" },
        { "containerd", "containerd" },
        { "containerd-namespace", "containerd-namespace" },
        { "containerd-plugins-namespace", "containerd-plugin-namespace" },
        { "default-gateway-v6", "default-gateway-v6" },
        { "default-network-opt", "default-network-opts" },
        { "host-gateway-ip", "host-gateway-ip" },
        { "init", "init" },
        { "init-path", "init-path" },
        { "ip-forward-no-drop", "ip-forward-no-drop" },
        { "log-format", "log-format" },
        { "network-control-plane-mtu", "network-control-plane-mtu" },
        { "node-generic-resource", "node-generic-resources" },
        { "oom-score-adjust", "oom-score-adjust" },
        { "raw-logs", "raw-logs" },
        { "rootless", "rootless" },
        { "storage-opt", "storage-opts" },
        { "swarm-default-advertise-addr", "swarm-default-advertise-addr" },
        { "userland-proxy", "userland-proxy" },
        { "userland-proxy-path", "userland-proxy-path" },
        { "cri-containerd", "cri-containerd" },
        { "cpu-rt-period", "cpu-rt-period" },
        { "cpu-rt-runtime", "cpu-rt-runtime" },
        { NULL, "resolv-conf" },
        { NULL, "builder" },
};

/* daemon.json keys with no flag of their own (dockerd has none either): skipped by
 * find_long and --help. */
static bool is_json_only(const struct opt_desc *o) {
        return o->id == OPT_FEATURES || o->id == OPT_PROXIES;
}

/* An entry above that another branch has since implemented (its key is in opts[]) is
 * shadowed: options are looked up first, so merges need not touch this list at once. */
static bool shadowed(size_t i) {
        for (size_t k = 0; k < ELEMENTSOF(opts); k++)
                if ((unsupported[i].json_key && opts[k].json_key && STREQ(opts[k].json_key, unsupported[i].json_key)) ||
                    (unsupported[i].flag && STREQ(opts[k].name, unsupported[i].flag)))
                        return true;
        return false;
}

const char *daemon_config_unsupported(size_t i) {
        if (i >= ELEMENTSOF(unsupported))
                return NULL;
        if (shadowed(i))
                return "";
        return unsupported[i].json_key ? unsupported[i].json_key : unsupported[i].flag;
}

bool daemon_config_option(size_t i, const char **name, char *short_name, bool *takes_value, const char **json_key,
                          const char **help) {
        if (i >= ELEMENTSOF(opts))
                return false;
        *name = is_json_only(&opts[i]) ? NULL : opts[i].name;
        *short_name = opts[i].short_name;
        *takes_value = opts[i].takes_value;
        *json_key = opts[i].json_key;
        *help = opts[i].help;
        return true;
}

const char *daemon_config_usage(void) {
        static char text[12288];
        if (text[0])
                return text;
        size_t n = (size_t) snprintf(text, sizeof(text),
                                     "Usage:\tberthd [OPTIONS]\n\nA self-sufficient runtime for containers, serving the Docker Engine API.\n\nOptions:\n");
        for (size_t i = 0; i < ELEMENTSOF(opts) && n < sizeof(text); i++) {
                char left[64];
                if (is_json_only(&opts[i]))
                        continue;
                if (opts[i].short_name)
                        snprintf(left, sizeof(left), "-%c, --%s%s", opts[i].short_name, opts[i].name,
                                 opts[i].takes_value ? " string" : "");
                else
                        snprintf(left, sizeof(left), "    --%s%s", opts[i].name, opts[i].takes_value ? " string" : "");
                n += (size_t) snprintf(text + n, sizeof(text) - n, "  %-28s %s\n", left, opts[i].help);
        }
        if (n < sizeof(text))
                snprintf(text + n, sizeof(text) - n, "%s", dist_config_usage()); /* the registry's flags */
        return text;
}

void daemon_config_init(struct daemon_config *cfg) {
        memset(cfg, 0, sizeof(*cfg));
        cfg->log_level = LOG_LEVEL_INFO;
        net_options_init(&cfg->net);
        opts14_init(&cfg->o14);
        sec_opts_init(&cfg->sec);
}

static void free_hosts(struct daemon_config *cfg) {
        for (size_t i = 0; i < cfg->n_hosts; i++)
                free(cfg->hosts[i]);
        cfg->n_hosts = 0;
}

void daemon_config_done(struct daemon_config *cfg) {
        free_hosts(cfg);
        free(cfg->data_root);
        free(cfg->exec_root);
        free(cfg->pidfile);
        free(cfg->config_file);
        free(cfg->storage_driver);
        free(cfg->userns_remap);
        free(cfg->default_ipc_mode);
        free(cfg->log_driver);
        for (size_t i = 0; i < cfg->n_log_opts; i++) {
                free(cfg->log_opt_keys[i]);
                free(cfg->log_opt_vals[i]);
        }
        for (size_t i = 0; i < cfg->n_authz_plugins; i++)
                free(cfg->authz_plugins[i]);
        net_options_done(&cfg->net);
        opts14_done(&cfg->o14);
        daemon_runtimes_done(&cfg->runtimes);
        sec_opts_done(&cfg->sec);
        memset(cfg, 0, sizeof(*cfg));
}

static int set_string(char **slot, const char *v, struct berr *err) {
        char *dup = strdup(v);
        if (!dup)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        free(*slot);
        *slot = dup;
        return 0;
}

static int check_path(const char *flag, const char *v, struct berr *err) {
        if (v[0] != '/')
                return berr_set(err, BERR_INVALID, EINVAL, "invalid %s \"%s\": must be an absolute path", flag, v);
        return 0;
}

/* A boolean option (flags without a value, or --flag=false). */
static int apply_bool(struct daemon_config *cfg, enum config_opt id, bool v) {
        switch (id) {
        case OPT_DEBUG: cfg->debug = v; return 0;
        case OPT_IPTABLES: cfg->net.iptables = v; return 0;
        case OPT_IP_MASQ: cfg->net.ip_masq = v; return 0;
        case OPT_ICC: cfg->net.icc = v; return 0;
        case OPT_IP_FORWARD: cfg->net.ip_forward = v; return 0;
        case OPT_IPV6: cfg->net.ipv6 = v; return 0;
        case OPT_IP6TABLES: cfg->ip6tables_off = !v; return 0;
        case OPT_TLS: cfg->sec.tls = v; return 0;
        case OPT_TLSVERIFY: cfg->sec.tlsverify = v; return 0;
        default: return apply_bool14(&cfg->o14, id, v);
        }
}

/* Apply one option value, from a flag or the file. */
static int apply(struct daemon_config *cfg, enum config_opt id, const char *value, struct berr *err) {
        switch (id) {
        case OPT_HOST:
                if (cfg->n_hosts >= DAEMON_MAX_HOSTS)
                        return berr_set(err, BERR_INVALID, E2BIG, "too many hosts: at most %d", DAEMON_MAX_HOSTS);
                cfg->hosts[cfg->n_hosts] = strdup(value);
                if (!cfg->hosts[cfg->n_hosts])
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                cfg->n_hosts++;
                return 0;
        case OPT_DATA_ROOT:
                return check_path("data-root", value, err) ?: set_string(&cfg->data_root, value, err);
        case OPT_EXEC_ROOT:
                return check_path("exec-root", value, err) ?: set_string(&cfg->exec_root, value, err);
        case OPT_PIDFILE:
                return check_path("pidfile", value, err) ?: set_string(&cfg->pidfile, value, err);
        case OPT_CONFIG_FILE:
                cfg->config_file_given = true;
                return set_string(&cfg->config_file, value, err);
        case OPT_LOG_LEVEL: {
                enum log_level l = log_level_from_string(value);
                if (l == _LOG_LEVEL_INVALID)
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "unable to parse logging level: %s (one of debug, info, warn, error, fatal)", value);
                cfg->log_level = l;
                return 0;
        }
        case OPT_USERNS_REMAP:
                if (!*value)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid argument \"\" for \"--userns-remap\" flag: "
                                        "a user, USER:GROUP, UID:GID or \"default\"");
                return set_string(&cfg->userns_remap, value, err);
        case OPT_STORAGE_DRIVER:
                if (!STREQ(value, "overlay2") && !STREQ(value, "vfs"))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "unsupported storage driver %s: berth supports overlay2 and vfs", value);
                return set_string(&cfg->storage_driver, value, err);
        case OPT_BRIDGE:
                if (!net_valid_bridge_name(value))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid bridge name %s: at most 15 of [A-Za-z0-9_.-]",
                                        value);
                return set_string(&cfg->net.bridge, value, err);
        case OPT_BIP:
        case OPT_FIXED_CIDR: {
                struct ipv4_net n;
                uint32_t host;
                if (ipam_parse_cidr4(value, false, &n, &host) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid argument \"%s\" for \"--%s\" flag: invalid CIDR "
                                        "address: %s", value, id == OPT_BIP ? "bip" : "fixed-cidr", value);
                return set_string(id == OPT_BIP ? &cfg->net.bip : &cfg->net.fixed_cidr, value, err);
        }
        case OPT_DEFAULT_GATEWAY:
        case OPT_IP: {
                uint32_t ip;
                uint8_t ip6[16] = { 0 };
                static const uint8_t lo6[16] = { [15] = 1 };
                if (id == OPT_IP && strchr(value, ':')) {
                        /* An IPv6 default (dockerd takes one); not ::1, which the kernel cannot forward. */
                        if (ipam_parse_ip6(value, ip6) < 0 || memcmp(ip6, lo6, 16) == 0)
                                return berr_set(err, BERR_INVALID, EINVAL, "invalid argument \"%s\" for \"--ip\" flag: %s",
                                                value, memcmp(ip6, lo6, 16) == 0 ? "berth cannot forward the IPv6 loopback "
                                                "address to containers (it has no userland proxy)" : "invalid IP address");
                        return set_string(&cfg->net.ip, value, err);
                }
                if (ipam_parse_ip4(value, &ip) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid argument \"%s\" for \"--%s\" flag: invalid IP "
                                        "address", value, id == OPT_IP ? "ip" : "default-gateway");
                return set_string(id == OPT_IP ? &cfg->net.ip : &cfg->net.default_gateway, value, err);
        }
        case OPT_FIXED_CIDR_V6: {
                struct ipv6_net n;
                if (ipam_parse_cidr6(value, false, &n, NULL) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid argument \"%s\" for \"--fixed-cidr-v6\" flag: "
                                        "invalid CIDR address: %s", value, value);
                return set_string(&cfg->net.fixed_cidr_v6, value, err);
        }
        case OPT_DEFAULT_ADDRESS_POOL: {
                struct ipam_pool_spec spec;
                struct ipam_pool_spec6 spec6;
                if (ipam_pool_spec_is6(value) ? ipam_parse_pool_spec6(value, &spec6) < 0
                                              : ipam_parse_pool_spec(value, &spec) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid argument \"%s\" for \"--default-address-pool\" "
                                        "flag: want base=CIDR,size=N", value);
                if (cfg->net.n_pools >= NET_MAX_POOLS)
                        return berr_set(err, BERR_INVALID, E2BIG, "too many default address pools: at most %d", NET_MAX_POOLS);
                cfg->net.pools[cfg->net.n_pools] = strdup(value);
                if (!cfg->net.pools[cfg->net.n_pools])
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                cfg->net.n_pools++;
                return 0;
        }
        case OPT_BRIDGE_ACCEPT_FWMARK: {
                /* dockerd's form: MARK or MARK/MASK, each decimal or 0x-hex, 32 bits. */
                char *end, *end2 = NULL;
                errno = 0;
                unsigned long long mark = strtoull(value, &end, 0), mask = 0xffffffffu;
                if (*end == '/')
                        mask = strtoull(end + 1, &end2, 0);
                if (errno || !*value || end == value || (*end && *end != '/') || (end2 && (*end2 || end2 == end + 1)) ||
                    mark > 0xffffffffu || mask > 0xffffffffu || value[0] == '-' || (end2 && end[1] == '-'))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid argument \"%s\" for \"--bridge-accept-fwmark\" "
                                        "flag: want a firewall mark, or mark/mask (e.g. 0x1/0x1)", value);
                cfg->net.accept_fwmark = (uint32_t) mark;
                cfg->net.accept_fwmask = (uint32_t) mask;
                cfg->net.has_accept_fwmark = true;
                return 0;
        }
        case OPT_LOG_DRIVER:
                return set_string(&cfg->log_driver, value, err);
        case OPT_LOG_OPT: {
                const char *eq = strchr(value, '=');
                if (!eq)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid key value pair format in log-opt: %s", value);
                if (cfg->n_log_opts >= DAEMON_MAX_LIST)
                        return berr_set(err, BERR_INVALID, E2BIG, "too many log-opts: at most %d", DAEMON_MAX_LIST);
                cfg->log_opt_keys[cfg->n_log_opts] = strndup(value, (size_t) (eq - value));
                cfg->log_opt_vals[cfg->n_log_opts] = strdup(eq + 1);
                if (!cfg->log_opt_keys[cfg->n_log_opts] || !cfg->log_opt_vals[cfg->n_log_opts]) {
                        free(cfg->log_opt_keys[cfg->n_log_opts]);
                        free(cfg->log_opt_vals[cfg->n_log_opts]);
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                }
                cfg->n_log_opts++;
                return 0;
        }
        case OPT_AUTHZ_PLUGIN:
                if (!value[0])
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid authorization plugin name: \"\"");
                for (size_t i = 0; i < cfg->n_authz_plugins; i++)
                        if (STREQ(cfg->authz_plugins[i], value)) /* dockerd keeps the first of repeats */
                                return 0;
                if (cfg->n_authz_plugins >= DAEMON_MAX_LIST)
                        return berr_set(err, BERR_INVALID, E2BIG, "too many authorization plugins: at most %d", DAEMON_MAX_LIST);
                if (!(cfg->authz_plugins[cfg->n_authz_plugins] = strdup(value)))
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                cfg->n_authz_plugins++;
                return 0;
        case OPT_DEFAULT_IPC_MODE:
                if (!STREQ(value, "private") && !STREQ(value, "shareable"))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid default IPC mode: %s", value);
                return set_string(&cfg->default_ipc_mode, value, err);
        case OPT_MTU: {
                char *end;
                long m = strtol(value, &end, 10);
                if (!*value || *end || m < 68 || m > 65535)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid argument \"%s\" for \"--mtu\" flag", value);
                cfg->net.mtu = (int) m;
                return 0;
        }
        case OPT_DEBUG:
        case OPT_IPTABLES:
        case OPT_IP_MASQ:
        case OPT_ICC:
        case OPT_IP_FORWARD:
        case OPT_IPV6:
        case OPT_IP6TABLES:
                return apply_bool(cfg, id, true);
        case OPT_ADD_RUNTIME:
                return daemon_runtimes_add_flag(&cfg->runtimes, value, err);
        case OPT_DEFAULT_RUNTIME:
                return daemon_runtimes_set_default(&cfg->runtimes, value, err);
        case OPT_TLS:
        case OPT_TLSVERIFY:
                return apply_bool(cfg, id, true);
        case OPT_TLSCACERT:
        case OPT_TLSCERT:
        case OPT_TLSKEY:
        case OPT_SECCOMP_PROFILE:
                return apply_sec(&cfg->sec, id, value, err);
        case OPT_VERSION:
                cfg->show_version = true;
                return 0;
        case OPT_HELP:
                cfg->show_help = true;
                return 0;
        default:
                return apply14(&cfg->o14, id, value, err);
        }
}

/* Registry flags given (dockerd's rule: a key may not be both a flag and in the file). */
static void note_dist_flag(struct daemon_config *cfg, const char *flag, const char *value) {
        const char *f, *k, *h;
        for (size_t i = 0; i < DAEMON_MAX_DIST_OPTS && dist_config_option(i, &f, &k, &h); i++)
                if (STREQ(f, flag)) {
                        size_t n = strlen(cfg->dist_flags[i]);
                        snprintf(cfg->dist_flags[i] + n, sizeof(cfg->dist_flags[i]) - n, "%s%s", n ? " " : "", value);
                }
}

static const char *dist_flag_given(const struct daemon_config *cfg, const char *key) {
        const char *f, *k, *h;
        for (size_t i = 0; i < DAEMON_MAX_DIST_OPTS && dist_config_option(i, &f, &k, &h); i++)
                if (STREQ(k, key) && cfg->dist_flags[i][0])
                        return cfg->dist_flags[i];
        return NULL;
}

static const struct opt_desc *find_long(const char *name, size_t len) {
        for (size_t i = 0; i < ELEMENTSOF(opts); i++)
                if (!is_json_only(&opts[i]) && strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
                        return &opts[i];
        return NULL;
}

static const struct opt_desc *find_short(char c) {
        for (size_t i = 0; i < ELEMENTSOF(opts); i++)
                if (opts[i].short_name == c)
                        return &opts[i];
        return NULL;
}

int daemon_config_parse_args(struct daemon_config *cfg, int argc, char **argv, struct berr *err) {
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                const struct opt_desc *o = NULL;
                const char *value = NULL;
                if (a[0] == '-' && a[1] == '-' && a[2]) {
                        const char *eq = strchr(a + 2, '=');
                        size_t len = eq ? (size_t) (eq - (a + 2)) : strlen(a + 2);
                        o = find_long(a + 2, len);
                        if (!o) {
                                /* Registry options belong to the distribution module. */
                                char name[64];
                                snprintf(name, sizeof(name), "%.*s", (int) len, a + 2);
                                if (len < sizeof(name) && dist_config_is_flag(name)) {
                                        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
                                        if (!v)
                                                return berr_set(err, BERR_INVALID, EINVAL, "flag needs an argument: --%s", name);
                                        int r = dist_config_flag(name, v, err);
                                        if (r < 0)
                                                return r;
                                        note_dist_flag(cfg, name, v);
                                        continue;
                                }
                                for (size_t k = 0; k < ELEMENTSOF(unsupported); k++)
                                        if (unsupported[k].flag && STREQ(unsupported[k].flag, name))
                                                return berr_set(err, BERR_INVALID, ENOTSUP,
                                                                "flag --%s is not supported by berth", name);
                                return berr_set(err, BERR_INVALID, EINVAL, "unknown flag: %.*s", (int) len + 2, a);
                        }
                        if (eq) {
                                if (!o->takes_value) {
                                        /* --debug=true / --debug=false, as cobra accepts. */
                                        if (STREQ(eq + 1, "true") || STREQ(eq + 1, "1"))
                                                value = NULL;
                                        else if (STREQ(eq + 1, "false") || STREQ(eq + 1, "0")) {
                                                (void) apply_bool(cfg, o->id, false);
                                                cfg->set_by_flag[o->id] = true;
                                                continue;
                                        } else
                                                return berr_set(err, BERR_INVALID, EINVAL,
                                                                "invalid argument \"%s\" for \"--%s\" flag: not a boolean",
                                                                eq + 1, o->name);
                                } else
                                        value = eq + 1;
                        }
                } else if (a[0] == '-' && a[1] && a[1] != '-') {
                        o = find_short(a[1]);
                        if (!o)
                                return berr_set(err, BERR_INVALID, EINVAL, "unknown shorthand flag: '%c' in %s", a[1], a);
                        if (a[2]) {
                                if (!o->takes_value)
                                        return berr_set(err, BERR_INVALID, EINVAL,
                                                        "unknown shorthand flag: '%c' in %s", a[2], a);
                                value = a[2] == '=' ? a + 3 : a + 2;
                        }
                } else
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "berthd takes no arguments, got \"%s\"\nSee 'berthd --help'.", a);

                if (o->takes_value && !value) {
                        if (i + 1 >= argc)
                                return berr_set(err, BERR_INVALID, EINVAL, "flag needs an argument: --%s", o->name);
                        value = argv[++i];
                }
                int r = apply(cfg, o->id, value, err);
                if (r < 0)
                        return r;
                cfg->set_by_flag[o->id] = true;
                if (o->id == OPT_HTTP_PROXY || o->id == OPT_HTTPS_PROXY || o->id == OPT_NO_PROXY)
                        cfg->set_by_flag[OPT_PROXIES] = true;
        }
        return 0;
}

/* The value of @v for messages in the "both as a flag and in the file" error. */
static void describe_flag(const struct daemon_config *cfg, enum config_opt id, char *buf, size_t size) {
        switch (id) {
        case OPT_HOST: {
                size_t n = (size_t) snprintf(buf, size, "[");
                for (size_t i = 0; i < cfg->n_hosts && n < size; i++)
                        n += (size_t) snprintf(buf + n, size - n, "%s%s", i ? " " : "", cfg->hosts[i]);
                if (n < size)
                        snprintf(buf + n, size - n, "]");
                return;
        }
        case OPT_DATA_ROOT: snprintf(buf, size, "%s", cfg->data_root); return;
        case OPT_EXEC_ROOT: snprintf(buf, size, "%s", cfg->exec_root); return;
        case OPT_PIDFILE: snprintf(buf, size, "%s", cfg->pidfile); return;
        case OPT_LOG_LEVEL: snprintf(buf, size, "%s", log_level_to_string(cfg->log_level)); return;
        case OPT_DEBUG: snprintf(buf, size, "%s", cfg->debug ? "true" : "false"); return;
        case OPT_STORAGE_DRIVER: snprintf(buf, size, "%s", cfg->storage_driver); return;
        case OPT_USERNS_REMAP: snprintf(buf, size, "%s", cfg->userns_remap); return;
        default: snprintf(buf, size, "?"); return;
        }
}

int daemon_config_merge_json(struct daemon_config *cfg, const char *text, size_t len, struct berr *err) {
        _cleanup_json_ json_t *root = NULL;
        int r = json_parse_object(text, len, &root, err);
        if (r < 0)
                return r;

        const char *key;
        json_t *v;
        char unknown[512] = "", conflicts[1024] = "", unsup[512] = "";
        size_t nu = 0, nc = 0, ns = 0, n_unknown = 0; /* nu: bytes, and "" adds none */
        json_object_foreach(root, key, v) {
                const struct opt_desc *o = NULL;
                for (size_t i = 0; i < ELEMENTSOF(opts); i++)
                        if (opts[i].json_key && STREQ(opts[i].json_key, key))
                                o = &opts[i];
                if (!o && dist_config_is_json_key(key)) {
                        const char *fv = dist_flag_given(cfg, key);
                        if (fv) {
                                _cleanup_free_ char *dumped = json_dump_compact(v);
                                nc += (size_t) snprintf(conflicts + nc, nc < sizeof(conflicts) ? sizeof(conflicts) - nc : 0,
                                                        "%s%s: (from flag: %s, from file: %s)", nc ? ", " : "", key, fv,
                                                        dumped ? dumped : "?");
                        }
                        continue;
                }
                bool is_unsupported = false;
                for (size_t k = 0; !o && k < ELEMENTSOF(unsupported); k++)
                        is_unsupported |= unsupported[k].json_key && STREQ(unsupported[k].json_key, key);
                if (is_unsupported) {
                        ns += (size_t) snprintf(unsup + ns, ns < sizeof(unsup) ? sizeof(unsup) - ns : 0, "%s%s",
                                                ns ? ", " : "", key);
                        continue;
                }
                if (!o) {
                        n_unknown++;
                        nu += (size_t) snprintf(unknown + nu, nu < sizeof(unknown) ? sizeof(unknown) - nu : 0, "%s%s",
                                                nu ? ", " : "", key);
                        continue;
                }
                if (cfg->set_by_flag[o->id]) {
                        char fv[256], file_v[256];
                        describe_flag(cfg, o->id, fv, sizeof(fv));
                        _cleanup_free_ char *dumped = json_dump_compact(v);
                        snprintf(file_v, sizeof(file_v), "%s", dumped ? dumped : "?");
                        nc += (size_t) snprintf(conflicts + nc, nc < sizeof(conflicts) ? sizeof(conflicts) - nc : 0,
                                                "%s%s: (from flag: %s, from file: %s)", nc ? ", " : "", key, fv, file_v);
                }
        }
        if (n_unknown)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "the following directives don't match any configuration option: %s", unknown);
        if (ns)
                return berr_set(err, BERR_INVALID, ENOTSUP, "the following directives are not supported by berth: %s", unsup);
        if (nc)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "the following directives are specified both as a flag and in the configuration file: %s",
                                conflicts);

        json_object_foreach(root, key, v) {
                if (dist_config_is_json_key(key)) {
                        r = dist_config_json(key, v, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                const struct opt_desc *o = NULL;
                for (size_t i = 0; i < ELEMENTSOF(opts); i++)
                        if (opts[i].json_key && STREQ(opts[i].json_key, key))
                                o = &opts[i];
                if (o->id == OPT_ADD_RUNTIME) { /* "runtimes": {"NAME": {"path": .., "runtimeArgs": [..]}} */
                        if ((r = daemon_runtimes_merge_json(&cfg->runtimes, v, err)) < 0)
                                return r;
                        continue;
                }
                r = merge14(cfg, o->id, key, v, err);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                if (o->id == OPT_DEFAULT_ADDRESS_POOL) {
                        /* [{"base": "10.10.0.0/16", "size": 24}, ...] */
                        if (!json_is_array(v))
                                return berr_set(err, BERR_INVALID, EINVAL,
                                                "invalid type for default-address-pools: expected an array of objects");
                        size_t i;
                        json_t *p;
                        json_array_foreach(v, i, p) {
                                const char *base = json_string_value(json_object_get(p, "base"));
                                json_t *size = json_object_get(p, "size");
                                if (!base || !json_is_integer(size))
                                        return berr_set(err, BERR_INVALID, EINVAL, "invalid default-address-pools entry: "
                                                        "want {\"base\": CIDR, \"size\": N}");
                                char spec[96];
                                snprintf(spec, sizeof(spec), "base=%s,size=%lld", base, (long long) json_integer_value(size));
                                r = apply(cfg, OPT_DEFAULT_ADDRESS_POOL, spec, err);
                                if (r < 0)
                                        return r;
                        }
                } else if (o->id == OPT_LOG_OPT) {
                        /* "log-opts": {"max-size": "10m", ...} */
                        if (!json_is_object(v))
                                return berr_set(err, BERR_INVALID, EINVAL, "invalid type for log-opts: expected an object of strings");
                        const char *lk;
                        json_t *lv;
                        json_object_foreach(v, lk, lv) {
                                if (!json_is_string(lv))
                                        return berr_set(err, BERR_INVALID, EINVAL,
                                                        "invalid type for log-opts.%s: expected a string", lk);
                                _cleanup_free_ char *kv = NULL;
                                if (asprintf(&kv, "%s=%s", lk, json_string_value(lv)) < 0)
                                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                                if ((r = apply(cfg, OPT_LOG_OPT, kv, err)) < 0)
                                        return r;
                        }
                } else if (o->id == OPT_MTU) {
                        if (!json_is_integer(v))
                                return berr_set(err, BERR_INVALID, EINVAL, "invalid type for mtu: expected a number");
                        char m[32];
                        snprintf(m, sizeof(m), "%lld", (long long) json_integer_value(v));
                        r = apply(cfg, OPT_MTU, m, err);
                        if (r < 0)
                                return r;
                } else if (o->id == OPT_AUTHZ_PLUGIN) {
                        /* "authorization-plugins": ["name", ...] */
                        size_t i;
                        json_t *h;
                        if (!json_is_array(v))
                                return berr_set(err, BERR_INVALID, EINVAL,
                                                "invalid type for authorization-plugins: expected an array of strings");
                        json_array_foreach(v, i, h) {
                                if (!json_is_string(h))
                                        return berr_set(err, BERR_INVALID, EINVAL,
                                                        "invalid type for authorization-plugins: expected an array of strings");
                                if ((r = apply(cfg, OPT_AUTHZ_PLUGIN, json_string_value(h), err)) < 0)
                                        return r;
                        }
                } else if (o->id == OPT_HOST) {
                        if (!json_is_array(v))
                                return berr_set(err, BERR_INVALID, EINVAL, "invalid type for hosts: expected an array of strings");
                        size_t i;
                        json_t *h;
                        json_array_foreach(v, i, h) {
                                if (!json_is_string(h))
                                        return berr_set(err, BERR_INVALID, EINVAL,
                                                        "invalid type for hosts: expected an array of strings");
                                r = apply(cfg, OPT_HOST, json_string_value(h), err);
                                if (r < 0)
                                        return r;
                        }
                } else if (!o->takes_value) {
                        if (!json_is_boolean(v))
                                return berr_set(err, BERR_INVALID, EINVAL, "invalid type for %s: expected a boolean", key);
                        (void) apply_bool(cfg, o->id, json_is_true(v));
                } else {
                        if (!json_is_string(v))
                                return berr_set(err, BERR_INVALID, EINVAL, "invalid type for %s: expected a string", key);
                        r = apply(cfg, o->id, json_string_value(v), err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int daemon_config_finish(struct daemon_config *cfg, struct berr *err) {
        int r;
        const char *path = cfg->config_file ? cfg->config_file : DAEMON_DEFAULT_CONFIG_FILE;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        r = fs_read_file(AT_FDCWD, path, 1 << 20, &text, &len, err);
        if (r == -ENOENT && !cfg->config_file_given)
                r = 0;
        else if (r < 0)
                return berr_wrap(err, "unable to configure the daemon with file %s", path);
        else {
                r = daemon_config_merge_json(cfg, text, len, err);
                if (r < 0)
                        return berr_wrap(err, "unable to configure the daemon with file %s", path);
        }

        if (cfg->ip6tables_off)
                return berr_set(err, BERR_INVALID, EINVAL, "ip6tables=false is not supported by berth: its nftables table "
                                "(family inet) holds the rules of both families; --iptables=false turns them all off");
        if (cfg->debug && !cfg->set_by_flag[OPT_LOG_LEVEL])
                cfg->log_level = LOG_LEVEL_DEBUG;
        if ((r = finish14(&cfg->o14, err)) < 0 || (r = finish_sec(&cfg->sec, err)) < 0)
                return r;
        if ((r = daemon_runtimes_finish(&cfg->runtimes, getenv("PATH"), err)) < 0)
                return r;
        /* dockerd checks the default log configuration at start */
        if ((r = logdrv_validate(cfg->log_driver ? cfg->log_driver : "json-file", cfg->log_opt_keys, cfg->log_opt_vals,
                                 cfg->n_log_opts, err)) < 0)
                return berr_wrap(err, "failed to set log opts");
        if (cfg->n_hosts == 0 && (r = apply(cfg, OPT_HOST, DAEMON_DEFAULT_HOST, err)) < 0)
                return r;
        if (!cfg->data_root && (r = set_string(&cfg->data_root, DAEMON_DEFAULT_DATA_ROOT, err)) < 0)
                return r;
        if (!cfg->exec_root && (r = set_string(&cfg->exec_root, DAEMON_DEFAULT_EXEC_ROOT, err)) < 0)
                return r;
        if (!cfg->pidfile) {
                _cleanup_free_ char *p = fs_path_join(cfg->exec_root, "berthd.pid");
                if (!p || (r = set_string(&cfg->pidfile, p, err)) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        return 0;
}
