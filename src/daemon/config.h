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
        OPT_BRIDGE_ACCEPT_FWMARK,
        OPT_DEFAULT_IPC_MODE,
        OPT_VERSION,
        OPT_HELP,
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
        struct net_options net; /* --bridge, --bip, --iptables, ... */

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
