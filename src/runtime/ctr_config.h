/* ctr_config.h - a container's configuration as C types: Docker's Config, HostConfig and
 * NetworkingConfig (API 1.45, moby's api/types/container), decoded once when the container
 * is created (or its record loaded) and read as struct fields everywhere after that; the
 * inspect JSON and the record on disk are encoded from it. The model is crun's typed
 * container definition: modes are enums, lists are arrays, nothing is looked up by name.
 *
 * Decoding trusts the JSON types: the create request has been checked against dockerd's Go
 * types first (daemon/container_validate.c), and records are what the encoder wrote (or
 * what an older berth stored, the client's own HostConfig). A wrongly typed field decodes
 * as its zero value. Values are checked by the daemon's validator, not here.
 *
 * Lists and maps remember whether the client gave them (null vs [] in inspect, as dockerd
 * keeps its Go nil slices apart from empty ones). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct berr;

struct strv {
        char **v;
        size_t n;
        bool set; /* present (possibly empty); false: null */
};

struct strmap {
        char **keys, **vals;
        size_t n;
        bool set;
};

struct opt_i64 { /* Go's *int64 */
        int64_t v;
        bool set;
};

struct opt_bool { /* Go's *bool */
        bool v;
        bool set;
};

enum ctr_net_mode {
        CTR_NET_DEFAULT,   /* "" or "default": the daemon's default network (bridge) */
        CTR_NET_BRIDGE,    /* "bridge" */
        CTR_NET_HOST,      /* "host" */
        CTR_NET_NONE,      /* "none" */
        CTR_NET_CONTAINER, /* "container:<name|id>", the name in mode_ref */
        CTR_NET_USER,      /* any other name: a user-defined network */
};

enum ctr_ipc_mode {
        CTR_IPC_DEFAULT,
        CTR_IPC_NONE,
        CTR_IPC_PRIVATE,
        CTR_IPC_SHAREABLE,
        CTR_IPC_HOST,
        CTR_IPC_CONTAINER,
        CTR_IPC_INVALID,
};
enum ctr_pid_mode { CTR_PID_DEFAULT, CTR_PID_HOST, CTR_PID_CONTAINER, CTR_PID_INVALID };
enum ctr_uts_mode { CTR_UTS_DEFAULT, CTR_UTS_HOST, CTR_UTS_INVALID };
enum ctr_cgroupns_mode { CTR_CGROUPNS_DEFAULT, CTR_CGROUPNS_HOST, CTR_CGROUPNS_PRIVATE, CTR_CGROUPNS_INVALID };

enum ctr_restart {
        CTR_RESTART_UNSET,          /* no RestartPolicy: shown as "no" */
        CTR_RESTART_EMPTY,          /* Name "" (clients before v25): as "no", shown as given */
        CTR_RESTART_NO,
        CTR_RESTART_ALWAYS,
        CTR_RESTART_ON_FAILURE,
        CTR_RESTART_UNLESS_STOPPED,
        CTR_RESTART_INVALID,        /* refused by the validator */
};

enum ctr_log_driver {
        CTR_LOG_JSON_FILE, /* also what "" (the daemon's default) becomes at create */
        CTR_LOG_NONE,
        CTR_LOG_OTHER,     /* a driver berth does not have; log_type names it (refused at create) */
};

struct ctr_port_binding {
        char *host_ip, *host_port;
};

struct ctr_port_map_entry { /* PortBindings["80/tcp"] */
        char *port;          /* "80/tcp" */
        struct ctr_port_binding *b;
        size_t n;
        bool set;            /* false: null */
};

struct ctr_ulimit {
        char *name;
        int64_t soft, hard;
};

struct ctr_device {
        char *path_on_host, *path_in_container, *cgroup_permissions;
};

struct ctr_weight_device {
        char *path;
        uint16_t weight;
};

struct ctr_throttle_device {
        char *path;
        uint64_t rate;
};

struct ctr_throttle_list {
        struct ctr_throttle_device *v;
        size_t n;
        bool set;
};

struct ctr_device_request {
        char *driver;
        int64_t count;
        struct strv device_ids;
        struct strv *capabilities; /* [][]string */
        size_t n_capabilities;
        bool capabilities_set;
        struct strmap options;
};

struct ctr_mount {
        char *type, *source, *target, *consistency;
        bool read_only;
        struct {
                bool set;
                char *propagation;
                bool non_recursive, create_mountpoint, readonly_non_recursive, readonly_force_recursive;
        } bind;
        struct {
                bool set;
                bool no_copy;
                struct strmap labels;
                char *subpath;
                bool driver_set;
                char *driver_name;
                struct strmap driver_options;
        } volume;
        struct {
                bool set;
                int64_t size_bytes;
                uint32_t mode;
                struct strv *options; /* [][]string */
                size_t n_options;
                bool options_set;
        } tmpfs;
};

struct ctr_healthcheck {
        bool set;
        struct strv test;
        int64_t interval_ns, timeout_ns, start_period_ns, start_interval_ns;
        int64_t retries;
};

struct ctr_endpoint_config { /* NetworkingConfig.EndpointsConfig[name] */
        char *name;
        bool ipam_set;
        char *ipv4_address, *ipv6_address;
        struct strv link_local_ips;
        struct strv links, aliases, dns_names;
        char *mac_address, *network_id, *endpoint_id, *gateway, *ip_address, *ipv6_gateway, *global_ipv6_address;
        int64_t ip_prefix_len, global_ipv6_prefix_len;
        struct strmap driver_opts;
};

/* Docker's Config (ContainerConfig). */
struct ctr_config_cfg {
        char *hostname, *domainname, *user;
        bool attach_stdin, attach_stdout, attach_stderr;
        struct strv exposed_ports; /* the keys of {"80/tcp": {}} */
        bool tty, open_stdin, stdin_once;
        struct strv env;           /* as given, "KEY" entries without '=' included */
        struct strv cmd;
        struct ctr_healthcheck healthcheck;
        bool args_escaped;
        char *image;
        struct strv volumes;       /* the keys of {"/data": {}} */
        char *working_dir;
        struct strv entrypoint;
        bool network_disabled;
        char *mac_address;
        struct strv on_build;
        struct strmap labels;
        char *stop_signal;
        struct opt_i64 stop_timeout;
        struct strv shell;
};

/* Docker's HostConfig, Resources included. */
struct ctr_host_config {
        struct strv binds;
        char *container_id_file;
        struct {
                enum ctr_log_driver driver;
                char *type;               /* as named; "json-file" for the default */
                bool defaulted;           /* none was named (the daemon's --log-driver applies) */
                struct strmap config;
        } log_config;
        enum ctr_net_mode net_mode;
        char *network_mode;                /* as given ("" for none given) */
        const char *network_mode_ref;      /* CTR_NET_CONTAINER: the name after "container:" (in network_mode) */
        struct ctr_port_map_entry *port_bindings;
        size_t n_port_bindings;
        bool port_bindings_set;
        struct {
                enum ctr_restart name;
                char *name_text;          /* as given, for the messages */
                int64_t maximum_retry_count;
        } restart_policy;
        bool auto_remove;
        char *volume_driver;
        struct strv volumes_from;
        uint64_t console_size[2];
        bool console_size_set;
        struct strmap annotations;
        struct strv cap_add, cap_drop;
        enum ctr_cgroupns_mode cgroupns_mode;
        char *cgroupns_mode_text;
        struct strv dns, dns_options, dns_search, extra_hosts, group_add;
        enum ctr_ipc_mode ipc_mode;
        char *ipc_mode_text;
        const char *ipc_mode_ref;          /* CTR_IPC_CONTAINER: the name */
        char *cgroup;
        struct strv links;
        int64_t oom_score_adj;
        enum ctr_pid_mode pid_mode;
        char *pid_mode_text;
        const char *pid_mode_ref;          /* CTR_PID_CONTAINER: the name */
        bool privileged, publish_all_ports, readonly_rootfs;
        struct strv security_opt;
        struct strmap storage_opt, tmpfs;
        enum ctr_uts_mode uts_mode;
        char *uts_mode_text;
        char *userns_mode;
        int64_t shm_size;
        struct strmap sysctls;
        char *runtime;
        char *isolation;
        /* Resources */
        int64_t cpu_shares, memory, nano_cpus;
        char *cgroup_parent;
        uint16_t blkio_weight;
        struct ctr_weight_device *blkio_weight_device;
        size_t n_blkio_weight_device;
        bool blkio_weight_device_set;
        struct ctr_throttle_list blkio_device_read_bps, blkio_device_write_bps, blkio_device_read_iops,
                blkio_device_write_iops;
        int64_t cpu_period, cpu_quota, cpu_realtime_period, cpu_realtime_runtime;
        char *cpuset_cpus, *cpuset_mems;
        struct ctr_device *devices;
        size_t n_devices;
        bool devices_set;
        struct strv device_cgroup_rules;
        struct ctr_device_request *device_requests;
        size_t n_device_requests;
        bool device_requests_set;
        int64_t kernel_memory, kernel_memory_tcp;
        int64_t memory_reservation, memory_swap;
        struct opt_i64 memory_swappiness;
        struct opt_bool oom_kill_disable;
        struct opt_i64 pids_limit;
        struct ctr_ulimit *ulimits;
        size_t n_ulimits;
        bool ulimits_set;
        int64_t cpu_count, cpu_percent;
        uint64_t io_maximum_iops, io_maximum_bandwidth;
        /* the rest of HostConfig */
        struct ctr_mount *mounts;
        size_t n_mounts;
        bool mounts_set;
        struct strv masked_paths, readonly_paths;
        struct opt_bool init;
};

struct ctr_config {
        struct ctr_config_cfg cfg;
        struct ctr_host_config hc;
        struct ctr_endpoint_config *endpoints; /* NetworkingConfig.EndpointsConfig; create only, not stored */
        size_t n_endpoints;
};

/* Decode Config (@config, the create body or a record's "Config"), HostConfig (NULL: none)
 * and NetworkingConfig (NULL: none) into a new ctr_config. Only ENOMEM fails. */
int ctr_config_decode(json_t *config, json_t *host_config, json_t *networking_config, struct ctr_config **ret,
                      struct berr *err);
void ctr_config_free(struct ctr_config *c);
static inline void ctr_config_freep(struct ctr_config **c) {
        ctr_config_free(*c);
}
#define _cleanup_ctr_config_ __attribute__((cleanup(ctr_config_freep)))

/* The JSON dockerd shows in inspect, and berth stores: every field of Config and of
 * HostConfig, in dockerd's order, omitempty where Go has it. NULL on ENOMEM. */
json_t *ctr_config_encode_config(const struct ctr_config *c);
json_t *ctr_config_encode_host_config(const struct ctr_config *c);
json_t *ctr_config_encode_endpoint(const struct ctr_endpoint_config *e);
/* One endpoint config from JSON (docker network connect's EndpointConfig), same rules. */
int ctr_config_decode_endpoint(const char *name, json_t *o, struct ctr_endpoint_config *ret, struct berr *err);
void ctr_config_endpoint_clear(struct ctr_endpoint_config *e);

/* Create: the container's Config from the request's (@c) and the image's (@img), as
 * dockerd merges them: Entrypoint and Cmd from the image unless the request gives an
 * Entrypoint (["" ] resets it) or a Cmd; Env by key (the request's win, a bare "KEY" stays);
 * WorkingDir, User, StopSignal, Healthcheck, Shell and OnBuild from the image when the
 * request leaves them empty; Labels, ExposedPorts and Volumes the union, the request's
 * values winning; Labels {} at least. Only ENOMEM fails. */
int ctr_config_merge_image(struct ctr_config_cfg *c, const struct ctr_config_cfg *img);

/* Set HostConfig.IpcMode (text and enum) to @mode, as if the request had named it. */
int ctr_config_set_ipc_mode(struct ctr_config *c, const char *mode);
/* Set one of @c's string fields (*@field) to a copy of @v; the modes are derived again, so
 * a mode's text may be set this way too. -ENOMEM. */
int ctr_config_set_string(struct ctr_config *c, char **field, const char *v);
/* Append to a list (which is set from then on); add a ulimit. -ENOMEM. */
int strv_append(struct strv *s, const char *v);
int ctr_config_add_ulimit(struct ctr_host_config *hc, const char *name, int64_t soft, int64_t hard);

/* Small readers. */
json_t *strv_to_json(const struct strv *s); /* array of strings (null when not set); NULL on ENOMEM */
json_t *ctr_config_port_bindings_json(const struct ctr_config *c); /* HostConfig.PortBindings ({} for none) */
void strv_clear(struct strv *s);      /* frees the entries; the list is empty and not set after */
void strmap_clear(struct strmap *m);
const char *strv_get(const struct strv *s, size_t i); /* NULL past the end */
bool strv_contains(const struct strv *s, const char *v);
const char *strmap_get(const struct strmap *m, const char *key); /* NULL: absent */
const char *ctr_restart_name(enum ctr_restart r);       /* "no", "always", ... ("" for EMPTY) */
bool ctr_config_publishes_ports(const struct ctr_config *c); /* any PortBindings entry, or PublishAllPorts */
