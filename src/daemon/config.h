/* config.h - berthd's configuration: dockerd's flag names and daemon.json keys, merged
 * with dockerd's rules (a key set both as a flag and in the file is an error). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"
#include "network/network.h"

struct berr;

#define DAEMON_DEFAULT_HOST "unix:///run/berth/berth.sock"
#define DAEMON_DEFAULT_DATA_ROOT "/var/lib/berth"
#define DAEMON_DEFAULT_EXEC_ROOT "/run/berth"
#define DAEMON_DEFAULT_CONFIG_FILE "/etc/berth/daemon.json"
#define DAEMON_MAX_HOSTS 16
#define DAEMON_MAX_DIST_OPTS 8 /* registry flags (distribution/dist_config.c) */
#define DAEMON_MAX_LIST 32 /* labels, dns, dns-opts, dns-search, exec-opts, ulimits */
#define DAEMON_DEFAULT_SHM_SIZE (64LL << 20)
#define DAEMON_DEFAULT_SHUTDOWN_TIMEOUT 15
#define DAEMON_DEFAULT_MAX_DOWNLOAD_ATTEMPTS 5

/* --default-ulimit nofile=1024:2048 / "default-ulimits": {"nofile": {"Name": ..,
 * "Soft": .., "Hard": ..}} */
struct daemon_ulimit {
        char name[16];
        long long soft, hard;
};

/* The options of issue 14's block (and the ones SIGHUP reloads). */
struct daemon_opts14 {
        bool validate;
        struct daemon_ulimit ulimits[DAEMON_MAX_LIST];
        size_t n_ulimits;
        long long shm_size;            /* bytes; DAEMON_DEFAULT_SHM_SIZE */
        char *cgroupns_mode;           /* "private" (cgroup v2) or "host" */
        char *cgroup_parent;           /* NULL: berth's default */
        char *exec_opts[DAEMON_MAX_LIST];
        size_t n_exec_opts;
        char cgroup_driver[16];        /* "cgroupfs" */
        char *labels[DAEMON_MAX_LIST];
        size_t n_labels;
        bool live_restore;
        int shutdown_timeout;          /* seconds; -1: wait for ever */
        bool experimental;
        char *features_json;           /* "features" as compact JSON (object of booleans), or NULL */
        bool no_new_privileges;
        bool selinux_enabled;
        char *group;                   /* NULL: "docker" */
        char *dns[DAEMON_MAX_LIST];
        size_t n_dns;
        char *dns_opts[DAEMON_MAX_LIST];
        size_t n_dns_opts;
        char *dns_search[DAEMON_MAX_LIST];
        size_t n_dns_search;
        int max_download_attempts;
        unsigned max_connections;      /* --max-connections: API connections served at once; 0: from RLIMIT_NOFILE */
        char *http_proxy, *https_proxy, *no_proxy;
        char *metrics_addr;            /* --metrics-addr 127.0.0.1:9323; NULL: none */
};

/* Each option the daemon knows; flags and daemon.json keys share these ids. */
enum config_opt {
        OPT_HOST,
        OPT_DATA_ROOT,
        OPT_EXEC_ROOT,
        OPT_PIDFILE,
        OPT_CONFIG_FILE,
        OPT_LOG_LEVEL,
        OPT_DEBUG,
        OPT_STORAGE_DRIVER,
        OPT_BRIDGE,
        OPT_BIP,
        OPT_FIXED_CIDR,
        OPT_DEFAULT_GATEWAY,
        OPT_DEFAULT_ADDRESS_POOL,
        OPT_MTU,
        OPT_IPTABLES,
        OPT_IP_MASQ,
        OPT_ICC,
        OPT_IP_FORWARD,
        OPT_IP,
        OPT_IPV6,
        OPT_FIXED_CIDR_V6,
        OPT_IP6TABLES,
        OPT_BRIDGE_ACCEPT_FWMARK,
        OPT_DEFAULT_IPC_MODE,
        OPT_LOG_DRIVER,
        OPT_LOG_OPT,
        OPT_VERSION,
        OPT_HELP,
        /* ---- issue 14: install, validate, container defaults, reload ---- */
        OPT_VALIDATE,
        OPT_DEFAULT_ULIMIT,
        OPT_DEFAULT_SHM_SIZE,
        OPT_DEFAULT_CGROUPNS_MODE,
        OPT_CGROUP_PARENT,
        OPT_EXEC_OPT,
        OPT_LABEL,
        OPT_LIVE_RESTORE,
        OPT_SHUTDOWN_TIMEOUT,
        OPT_EXPERIMENTAL,
        OPT_FEATURES,
        OPT_NO_NEW_PRIVILEGES,
        OPT_SELINUX_ENABLED,
        OPT_GROUP,
        OPT_DNS,
        OPT_DNS_OPT,
        OPT_DNS_SEARCH,
        OPT_MAX_DOWNLOAD_ATTEMPTS,
        OPT_MAX_CONNECTIONS,
        OPT_HTTP_PROXY,
        OPT_HTTPS_PROXY,
        OPT_NO_PROXY,
        OPT_PROXIES,
        OPT_METRICS_ADDR,
        /* ---- end of issue 14's block ---- */
        _OPT_MAX,
        _OPT_INVALID = -1,
};

struct daemon_config {
        char *hosts[DAEMON_MAX_HOSTS];
        size_t n_hosts;
        char *data_root;
        char *exec_root;
        char *pidfile;
        char *config_file;
        bool config_file_given;
        enum log_level log_level;
        bool debug;
        char *storage_driver; /* NULL: pick overlay2, or vfs where overlay cannot work */
        char *default_ipc_mode; /* --default-ipc-mode: "private" (NULL) or "shareable" */
        char *log_driver;       /* --log-driver: containers' default (NULL: json-file) */
        char *log_opt_keys[DAEMON_MAX_LIST], *log_opt_vals[DAEMON_MAX_LIST]; /* --log-opt k=v */
        size_t n_log_opts;
        struct net_options net; /* --bridge, --bip, --iptables, ... */
        bool ip6tables_off;     /* --ip6tables=false: refused (berth's table is inet) */

        struct daemon_opts14 o14;
        char dist_flags[DAEMON_MAX_DIST_OPTS][256]; /* registry flags given, for the conflict check */

        bool set_by_flag[_OPT_MAX];
        bool show_version;
        bool show_help;
};

void daemon_config_init(struct daemon_config *cfg);
void daemon_config_done(struct daemon_config *cfg);

/* Parse command-line flags (argv[0] is skipped). */
int daemon_config_parse_args(struct daemon_config *cfg, int argc, char **argv, struct berr *err);

/* Merge daemon.json text: unknown keys, wrong types and keys also given as flags fail. */
int daemon_config_merge_json(struct daemon_config *cfg, const char *text, size_t len, struct berr *err);

/* Load the config file named by --config-file (must exist) or the default (may be absent),
 * then fill defaults. */
int daemon_config_finish(struct daemon_config *cfg, struct berr *err);

/* The --help text. */
const char *daemon_config_usage(void);

/* Every flag (name, short letter or 0, takes a value, help) and daemon.json key, for the
 * man page check; @i from 0 until it returns false. Keys with no flag have name NULL. */
bool daemon_config_option(size_t i, const char **name, char *short_name, bool *takes_value, const char **json_key,
                          const char **help);

/* dockerd's options berth does not implement (refused at start): index @i, NULL past the
 * end, "" for an entry an option of berthd's has since replaced. */
const char *daemon_config_unsupported(size_t i);

/* Reload (SIGHUP): a configuration read again from the same flags and file; copy the
 * options dockerd reloads from @next into @cfg (the strings move). */
void daemon_config_take_reloadable(struct daemon_config *cfg, struct daemon_config *next);
