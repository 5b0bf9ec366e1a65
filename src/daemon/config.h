/* config.h - berthd's configuration: dockerd's flag names and daemon.json keys, merged
 * with dockerd's rules (a key set both as a flag and in the file is an error). */
#pragma once

#include <jansson.h>
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

/* ---- issue 15: OCI runtimes (config_runtimes.c) ---- */

#define DAEMON_BUILTIN_RUNTIME "berth" /* the in-process runtime's name (docker info, HostConfig.Runtime) */
#define DAEMON_MAX_RUNTIMES 16
#define DAEMON_MAX_RUNTIME_ARGS 32

/* --add-runtime NAME=PATH / daemon.json "runtimes": {"NAME": {"path": .., "runtimeArgs": [..]}} */
struct daemon_runtime {
        char *name;
        char *path;  /* as configured: absolute, or a name looked up in PATH at each start */
        char **args; /* runtimeArgs, NULL-terminated */
        size_t n_args;
        bool automatic; /* runc, registered because it is installed */
};

struct daemon_runtimes {
        struct daemon_runtime v[DAEMON_MAX_RUNTIMES];
        size_t n;
        char *default_name; /* --default-runtime; NULL: the built-in one */
};

void daemon_runtimes_done(struct daemon_runtimes *r);
/* --add-runtime NAME=PATH (dockerd's checks and words). */
int daemon_runtimes_add_flag(struct daemon_runtimes *r, const char *value, struct berr *err);
/* daemon.json's "runtimes" object. */
int daemon_runtimes_merge_json(struct daemon_runtimes *r, const json_t *v, struct berr *err);
int daemon_runtimes_set_default(struct daemon_runtimes *r, const char *name, struct berr *err);
/* After flags and file: register runc when @path_env (PATH) finds it, as dockerd always
 * has it; the default runtime must exist. */
int daemon_runtimes_finish(struct daemon_runtimes *r, const char *path_env, struct berr *err);
/* NULL for the built-in runtime's name and for unknown names. */
const struct daemon_runtime *daemon_runtimes_find(const struct daemon_runtimes *r, const char *name);
const char *daemon_runtimes_default(const struct daemon_runtimes *r);
bool daemon_runtimes_known(const struct daemon_runtimes *r, const char *name);
/* Go's exec.LookPath: a name with a slash as it is (if executable), else the first
 * executable PATH entry; *out gets an absolute path. dockerd's wording on failure. */
int daemon_runtime_lookpath(const char *path, const char *path_env, char *out, size_t size, struct berr *err);
/* docker info's "Runtimes": {"berth": {"path": @builtin_path}, "runc": {"path": "runc"}, ...} */
json_t *daemon_runtimes_info(const struct daemon_runtimes *r, const char *builtin_path);

/* --tls, --tlsverify and the certificate files (dockerd's flags and daemon.json keys), and
 * --seccomp-profile: issue 16's block. */
struct daemon_sec_opts {
        int tls;                /* -1: not given; 0: --tls=false (the explicit opt-out); 1 */
        int tlsverify;          /* -1: not given; given at all, it turns TLS on (as dockerd) */
        char *tlscacert, *tlscert, *tlskey; /* NULL: ca.pem, cert.pem, key.pem under
                                 * $DOCKER_CERT_PATH, else $DOCKER_CONFIG, else ~/.docker */
        char *seccomp_profile;  /* --seccomp-profile: a file, "unconfined" or "builtin"; NULL: builtin */
        char *seccomp_text;     /* the file's content, read at start */
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
        OPT_TLS,
        OPT_TLSVERIFY,
        OPT_TLSCACERT,
        OPT_TLSCERT,
        OPT_TLSKEY,
        OPT_SECCOMP_PROFILE,
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
        OPT_ADD_RUNTIME,     /* issue 15 */
        OPT_DEFAULT_RUNTIME, /* issue 15 */
        OPT_USERNS_REMAP, /* issue 16: --userns-remap (daemon/userns.c) */
        OPT_AUTHZ_PLUGIN, /* issue 15: --authorization-plugin */
        _OPT_MAX,
        _OPT_INVALID = -1,
};

struct daemon_config {
        char *hosts[DAEMON_MAX_HOSTS];
        size_t n_hosts;
        struct daemon_sec_opts sec; /* TLS and the default seccomp profile */
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
        struct daemon_runtimes runtimes; /* issue 15 */
        char *userns_remap;     /* --userns-remap: "default", USER[:GROUP] or UID[:GID]; NULL: off */
        char *authz_plugins[DAEMON_MAX_LIST]; /* --authorization-plugin, in order, no repeats */
        size_t n_authz_plugins;
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
