/* container_validate.c - POST /containers/create checked as dockerd checks it, before
 * anything is stored: first every field's JSON type against the Go types dockerd decodes
 * into (Config, HostConfig, NetworkingConfig of API 1.45), with Go's decode error as the
 * message; then the values dockerd refuses at create (validateCreateRequest,
 * verifyContainerSettings), so nothing is accepted here only to fail at start, and no
 * stored record can break `docker ps` or `docker inspect` for anyone. */
#include "container.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "daemon/logdrv.h"
#include "common/json_check.h"
#include "image/image_config.h"
#include "runtime/spec.h"
#include "signals.h"

/* ---- types (moby v26.1 api/types) ---- */

static const struct json_type uint_array_type = JSON_TYPE_SLICE("[2]uint", &json_type_uint);
static const struct json_type string_slice_slice_type = JSON_TYPE_SLICE("[][]string", &json_type_string_slice);
static const struct json_type mode_type = JSON_TYPE_LEAF(JK_UINT, "fs.FileMode", 32);

static const struct json_field log_config_fields[] = {
        { "Type", &json_type_string },
        { "Config", &json_type_string_map },
        { 0 },
};
static const struct json_type log_config_type = JSON_TYPE_STRUCT("container.LogConfig", "LogConfig", log_config_fields);

static const struct json_field port_binding_fields[] = {
        { "HostIp", &json_type_string },
        { "HostPort", &json_type_string },
        { 0 },
};
static const struct json_type port_binding_type = JSON_TYPE_STRUCT("nat.PortBinding", "PortBinding", port_binding_fields);
static const struct json_type port_bindings_type = JSON_TYPE_SLICE("[]nat.PortBinding", &port_binding_type);
static const struct json_type port_map_type = JSON_TYPE_MAP("nat.PortMap", &port_bindings_type);

static const struct json_field restart_policy_fields[] = {
        { "Name", &json_type_string },
        { "MaximumRetryCount", &json_type_int },
        { 0 },
};
static const struct json_type restart_policy_type =
        JSON_TYPE_STRUCT("container.RestartPolicy", "RestartPolicy", restart_policy_fields);

static const struct json_field weight_device_fields[] = {
        { "Path", &json_type_string },
        { "Weight", &json_type_uint16 },
        { 0 },
};
static const struct json_type weight_device_type =
        JSON_TYPE_STRUCT("blkiodev.WeightDevice", "WeightDevice", weight_device_fields);
static const struct json_type weight_devices_type = JSON_TYPE_SLICE("[]*blkiodev.WeightDevice", &weight_device_type);

static const struct json_field throttle_device_fields[] = {
        { "Path", &json_type_string },
        { "Rate", &json_type_uint64 },
        { 0 },
};
static const struct json_type throttle_device_type =
        JSON_TYPE_STRUCT("blkiodev.ThrottleDevice", "ThrottleDevice", throttle_device_fields);
static const struct json_type throttle_devices_type =
        JSON_TYPE_SLICE("[]*blkiodev.ThrottleDevice", &throttle_device_type);

static const struct json_field device_mapping_fields[] = {
        { "PathOnHost", &json_type_string },
        { "PathInContainer", &json_type_string },
        { "CgroupPermissions", &json_type_string },
        { 0 },
};
static const struct json_type device_mapping_type =
        JSON_TYPE_STRUCT("container.DeviceMapping", "DeviceMapping", device_mapping_fields);
static const struct json_type device_mappings_type = JSON_TYPE_SLICE("[]container.DeviceMapping", &device_mapping_type);

static const struct json_field device_request_fields[] = {
        { "Driver", &json_type_string },
        { "Count", &json_type_int },
        { "DeviceIDs", &json_type_string_slice },
        { "Capabilities", &string_slice_slice_type },
        { "Options", &json_type_string_map },
        { 0 },
};
static const struct json_type device_request_type =
        JSON_TYPE_STRUCT("container.DeviceRequest", "DeviceRequest", device_request_fields);
static const struct json_type device_requests_type = JSON_TYPE_SLICE("[]container.DeviceRequest", &device_request_type);

static const struct json_field ulimit_fields[] = {
        { "Name", &json_type_string },
        { "Hard", &json_type_int64 },
        { "Soft", &json_type_int64 },
        { 0 },
};
static const struct json_type ulimit_type = JSON_TYPE_STRUCT("units.Ulimit", "Ulimit", ulimit_fields);
static const struct json_type ulimits_type = JSON_TYPE_SLICE("[]*units.Ulimit", &ulimit_type);

static const struct json_field resources_fields[] = {
        { "CpuShares", &json_type_int64 },
        { "Memory", &json_type_int64 },
        { "NanoCpus", &json_type_int64 },
        { "CgroupParent", &json_type_string },
        { "BlkioWeight", &json_type_uint16 },
        { "BlkioWeightDevice", &weight_devices_type },
        { "BlkioDeviceReadBps", &throttle_devices_type },
        { "BlkioDeviceWriteBps", &throttle_devices_type },
        { "BlkioDeviceReadIOps", &throttle_devices_type },
        { "BlkioDeviceWriteIOps", &throttle_devices_type },
        { "CpuPeriod", &json_type_int64 },
        { "CpuQuota", &json_type_int64 },
        { "CpuRealtimePeriod", &json_type_int64 },
        { "CpuRealtimeRuntime", &json_type_int64 },
        { "CpusetCpus", &json_type_string },
        { "CpusetMems", &json_type_string },
        { "Devices", &device_mappings_type },
        { "DeviceCgroupRules", &json_type_string_slice },
        { "DeviceRequests", &device_requests_type },
        { "KernelMemory", &json_type_int64 },
        { "KernelMemoryTCP", &json_type_int64 },
        { "MemoryReservation", &json_type_int64 },
        { "MemorySwap", &json_type_int64 },
        { "MemorySwappiness", &json_type_int64 },
        { "OomKillDisable", &json_type_bool },
        { "PidsLimit", &json_type_int64 },
        { "Ulimits", &ulimits_type },
        { "CpuCount", &json_type_int64 },
        { "CpuPercent", &json_type_int64 },
        { "IOMaximumIOps", &json_type_uint64 },
        { "IOMaximumBandwidth", &json_type_uint64 },
        { 0 },
};
static const struct json_type resources_type = JSON_TYPE_STRUCT("container.Resources", "Resources", resources_fields);

static const struct json_field bind_options_fields[] = {
        { "Propagation", &json_type_string },
        { "NonRecursive", &json_type_bool },
        { "CreateMountpoint", &json_type_bool },
        { "ReadOnlyNonRecursive", &json_type_bool },
        { "ReadOnlyForceRecursive", &json_type_bool },
        { 0 },
};
static const struct json_type bind_options_type = JSON_TYPE_STRUCT("mount.BindOptions", "BindOptions", bind_options_fields);

static const struct json_field driver_fields[] = {
        { "Name", &json_type_string },
        { "Options", &json_type_string_map },
        { 0 },
};
static const struct json_type driver_type = JSON_TYPE_STRUCT("mount.Driver", "Driver", driver_fields);

static const struct json_field volume_options_fields[] = {
        { "NoCopy", &json_type_bool },
        { "Labels", &json_type_string_map },
        { "Subpath", &json_type_string },
        { "DriverConfig", &driver_type },
        { 0 },
};
static const struct json_type volume_options_type =
        JSON_TYPE_STRUCT("mount.VolumeOptions", "VolumeOptions", volume_options_fields);

static const struct json_field tmpfs_options_fields[] = {
        { "SizeBytes", &json_type_int64 },
        { "Mode", &mode_type },
        { "Options", &string_slice_slice_type },
        { 0 },
};
static const struct json_type tmpfs_options_type = JSON_TYPE_STRUCT("mount.TmpfsOptions", "TmpfsOptions", tmpfs_options_fields);

static const struct json_field mount_fields[] = {
        { "Type", &json_type_string },
        { "Source", &json_type_string },
        { "Target", &json_type_string },
        { "ReadOnly", &json_type_bool },
        { "Consistency", &json_type_string },
        { "BindOptions", &bind_options_type },
        { "VolumeOptions", &volume_options_type },
        { "TmpfsOptions", &tmpfs_options_type },
        { "ClusterOptions", &json_type_empty_struct },
        { 0 },
};
static const struct json_type mount_type = JSON_TYPE_STRUCT("mount.Mount", "Mount", mount_fields);
static const struct json_type mounts_type = JSON_TYPE_SLICE("[]mount.Mount", &mount_type);

static const struct json_field host_config_fields[] = {
        { "Binds", &json_type_string_slice },
        { "ContainerIDFile", &json_type_string },
        { "LogConfig", &log_config_type },
        { "NetworkMode", &json_type_string },
        { "PortBindings", &port_map_type },
        { "RestartPolicy", &restart_policy_type },
        { "AutoRemove", &json_type_bool },
        { "VolumeDriver", &json_type_string },
        { "VolumesFrom", &json_type_string_slice },
        { "ConsoleSize", &uint_array_type },
        { "Annotations", &json_type_string_map },
        { "CapAdd", &json_type_strslice },
        { "CapDrop", &json_type_strslice },
        { "CgroupnsMode", &json_type_string },
        { "Dns", &json_type_string_slice },
        { "DnsOptions", &json_type_string_slice },
        { "DnsSearch", &json_type_string_slice },
        { "ExtraHosts", &json_type_string_slice },
        { "GroupAdd", &json_type_string_slice },
        { "IpcMode", &json_type_string },
        { "Cgroup", &json_type_string },
        { "Links", &json_type_string_slice },
        { "OomScoreAdj", &json_type_int },
        { "PidMode", &json_type_string },
        { "Privileged", &json_type_bool },
        { "PublishAllPorts", &json_type_bool },
        { "ReadonlyRootfs", &json_type_bool },
        { "SecurityOpt", &json_type_string_slice },
        { "StorageOpt", &json_type_string_map },
        { "Tmpfs", &json_type_string_map },
        { "UTSMode", &json_type_string },
        { "UsernsMode", &json_type_string },
        { "ShmSize", &json_type_int64 },
        { "Sysctls", &json_type_string_map },
        { "Runtime", &json_type_string },
        { "Isolation", &json_type_string },
        { NULL, &resources_type }, /* embedded: its fields are HostConfig's */
        { "Mounts", &mounts_type },
        { "MaskedPaths", &json_type_string_slice },
        { "ReadonlyPaths", &json_type_string_slice },
        { "Init", &json_type_bool },
        { 0 },
};
static const struct json_type host_config_type = JSON_TYPE_STRUCT("container.HostConfig", "HostConfig", host_config_fields);

static const struct json_field ipam_config_fields[] = {
        { "IPv4Address", &json_type_string },
        { "IPv6Address", &json_type_string },
        { "LinkLocalIPs", &json_type_string_slice },
        { 0 },
};
static const struct json_type ipam_config_type =
        JSON_TYPE_STRUCT("network.EndpointIPAMConfig", "EndpointIPAMConfig", ipam_config_fields);

static const struct json_field endpoint_fields[] = {
        { "IPAMConfig", &ipam_config_type },
        { "Links", &json_type_string_slice },
        { "Aliases", &json_type_string_slice },
        { "MacAddress", &json_type_string },
        { "NetworkID", &json_type_string },
        { "EndpointID", &json_type_string },
        { "Gateway", &json_type_string },
        { "IPAddress", &json_type_string },
        { "IPPrefixLen", &json_type_int },
        { "IPv6Gateway", &json_type_string },
        { "GlobalIPv6Address", &json_type_string },
        { "GlobalIPv6PrefixLen", &json_type_int },
        { "DriverOpts", &json_type_string_map },
        { "DNSNames", &json_type_string_slice },
        { 0 },
};
static const struct json_type endpoint_type = JSON_TYPE_STRUCT("network.EndpointSettings", "EndpointSettings", endpoint_fields);
static const struct json_type endpoints_type = JSON_TYPE_MAP("map[string]*network.EndpointSettings", &endpoint_type);

static const struct json_field networking_config_fields[] = {
        { "EndpointsConfig", &endpoints_type },
        { 0 },
};
static const struct json_type networking_config_type =
        JSON_TYPE_STRUCT("network.NetworkingConfig", "NetworkingConfig", networking_config_fields);

/* runconfig.ContainerConfigWrapper: Config embedded, with HostConfig and NetworkingConfig. */
static const struct json_field create_fields[] = {
        { NULL, &image_container_config_type },
        { "HostConfig", &host_config_type },
        { "NetworkingConfig", &networking_config_type },
        { 0 },
};
static const struct json_type create_type =
        JSON_TYPE_STRUCT("runconfig.ContainerConfigWrapper", "ContainerConfigWrapper", create_fields);

/* ---- values ---- */

/* POST /containers/{id}/update: container.UpdateConfig, the Resources and a RestartPolicy. */
static const struct json_field update_fields[] = {
        { NULL, &resources_type },
        { "RestartPolicy", &restart_policy_type },
        { 0 },
};
static const struct json_type update_type = JSON_TYPE_STRUCT("container.UpdateConfig", "UpdateConfig", update_fields);

#define INVALID(...) berr_set(err, BERR_INVALID, EINVAL, __VA_ARGS__)

/* Go's net.ParseMAC: 6, 8 or 20 octets as hex pairs separated by ':' or '-', or groups
 * of four hex digits separated by '.'. */
static bool valid_mac(const char *s) {
        size_t n = strlen(s);
        bool dotted = n >= 14 && s[4] == '.';
        size_t group = dotted ? 4 : 2, step = group + 1;
        if ((n + 1) % step != 0)
                return false;
        size_t groups = (n + 1) / step, octets = dotted ? groups * 2 : groups;
        if (octets != 6 && octets != 8 && octets != 20)
                return false;
        char sep = dotted ? '.' : s[2];
        if (sep != ':' && sep != '-' && sep != '.')
                return false;
        for (size_t i = 0; i < n; i++) {
                bool at_sep = (i + 1) % step == 0;
                if (at_sep ? s[i] != sep : !isxdigit((unsigned char) s[i]))
                        return false;
        }
        return true;
}

static bool valid_ip(const char *s) {
        unsigned char buf[16];
        while (*s == ' ' || *s == '\t')
                s++;
        char tmp[64];
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        if (n >= sizeof(tmp))
                return false;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        return inet_pton(AF_INET, tmp, buf) == 1 || inet_pton(AF_INET6, tmp, buf) == 1;
}

/* dockerd's validateContainerConfig and the hostname length check. */
static int check_config(const struct ctr_config_cfg *c, struct berr *err) {
        if (strlen(c->hostname) > 64)
                return INVALID("hostname \"%s\" is too long (maximum 64 bytes)", c->hostname);
        const char *wd = c->working_dir;
        if (*wd && wd[0] != '/')
                return INVALID("the working directory '%s' is invalid, it needs to be an absolute path", wd);
        if (*c->stop_signal && signal_parse(c->stop_signal) < 0)
                return INVALID("invalid signal: %s", c->stop_signal);
        for (size_t i = 0; i < c->env.n; i++) {
                const char *env = c->env.v[i];
                if (env[0] == '=' || env[0] == '\0')
                        return INVALID("invalid environment variable: %s", env);
        }
        if (*c->mac_address && !valid_mac(c->mac_address))
                return INVALID("invalid MAC address %s", c->mac_address);

        const struct ctr_healthcheck *hc = &c->healthcheck;
        static const char *const durations[] = { "Interval", "Timeout", "StartPeriod", "StartInterval" };
        const int64_t values[] = { hc->interval_ns, hc->timeout_ns, hc->start_period_ns, hc->start_interval_ns };
        for (size_t k = 0; k < ELEMENTSOF(durations); k++)
                if (values[k] != 0 && values[k] < 1000000)
                        return INVALID("%s in Healthcheck cannot be less than 1ms", durations[k]);
        if (hc->retries < 0)
                return INVALID("Retries in Healthcheck cannot be negative");
        return 0;
}

static int check_restart_policy(const struct ctr_host_config *hc, struct berr *err) {
        int64_t max = hc->restart_policy.maximum_retry_count;
        /* An empty name (the default before v25) allows any count. */
        switch (hc->restart_policy.name) {
        case CTR_RESTART_ON_FAILURE:
                if (max < 0)
                        return INVALID("invalid restart policy: maximum retry count cannot be negative");
                break;
        case CTR_RESTART_NO:
        case CTR_RESTART_ALWAYS:
        case CTR_RESTART_UNLESS_STOPPED:
                if (max != 0)
                        return INVALID("invalid restart policy: maximum retry count can only be used with 'on-failure'%s",
                                       max < 0 ? " and cannot be negative" : "");
                break;
        case CTR_RESTART_INVALID:
                return INVALID("invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', "
                               "or 'unless-stopped'", hc->restart_policy.name_text);
        default:
                break;
        }
        enum ctr_restart n = hc->restart_policy.name;
        if (hc->auto_remove && n != CTR_RESTART_UNSET && n != CTR_RESTART_EMPTY && n != CTR_RESTART_NO)
                return INVALID("can't create 'AutoRemove' container with restart policy");
        return 0;
}

/* dockerd's validateHostConfig and verifyPlatformContainerSettings, as far as berth has
 * the features they check. */
static int check_host_config(const struct ctr_host_config *hc, struct berr *err) {
        int r = check_restart_policy(hc, err);
        if (r < 0)
                return r;
        if (*hc->isolation && strcasecmp(hc->isolation, "default") != 0)
                return INVALID("Invalid isolation: \"%s\" - linux only supports 'default'", hc->isolation);
        if (hc->io_maximum_bandwidth != 0)
                return INVALID("Invalid QoS settings: linux does not support configuration of maximum bandwidth");
        if (hc->io_maximum_iops != 0)
                return INVALID("Invalid QoS settings: linux does not support configuration of maximum IOPs");
        int64_t rt_period = hc->cpu_realtime_period, rt_runtime = hc->cpu_realtime_runtime;
        if (rt_period != 0 && rt_runtime != 0 && rt_runtime > rt_period)
                return INVALID("cpu real-time runtime cannot be higher than cpu real-time period");

        for (size_t i = 0; i < hc->extra_hosts.n; i++) {
                const char *h = hc->extra_hosts.v[i];
                const char *colon = strchr(h, ':');
                if (!colon || colon == h)
                        return INVALID("bad format for add-host: \"%s\"", h);
                if (!STREQ(colon + 1, "host-gateway") && !valid_ip(colon + 1))
                        return INVALID("invalid IP address in add-host: \"%s\"", colon + 1);
        }
        for (size_t i = 0; i < hc->annotations.n; i++)
                if (!*hc->annotations.keys[i])
                        return INVALID("invalid Annotations: the empty string is not permitted as an annotation key");

        if ((r = spec_check_resources(hc, err)) < 0 || (r = spec_check_security_opts(hc, err)) < 0)
                return r;
        if (hc->ipc_mode == CTR_IPC_INVALID)
                return INVALID("invalid IPC mode: %s", hc->ipc_mode_text);
        if (hc->pid_mode == CTR_PID_INVALID)
                return INVALID("invalid PID mode: %s", hc->pid_mode_text);
        if (hc->shm_size < 0)
                return INVALID("SHM size can not be less than 0");
        if (hc->uts_mode == CTR_UTS_INVALID)
                return INVALID("invalid UTS mode: %s", hc->uts_mode_text);
        if (hc->oom_score_adj < -1000 || hc->oom_score_adj > 1000)
                return INVALID("Invalid value %lld, range for oom score adj is [-1000, 1000]", (long long) hc->oom_score_adj);
        /* HostConfig.Runtime is checked against the daemon's runtimes at create
         * (ctr_runtime_defaults, container_start.c). */
        if (hc->cgroupns_mode == CTR_CGROUPNS_INVALID)
                return INVALID("invalid cgroup namespace mode: %s", hc->cgroupns_mode_text);
        return 0;
}

/* --log-driver / --log-opt as dockerd checks them (daemon/logdrv.c). A request that
 * names no driver gets the daemon's at create, where the whole LogConfig is checked again
 * with the daemon's options in (ctr_log_config_defaults). */
static int check_log_config(const struct ctr_host_config *hc, struct berr *err) {
        const char *type = hc->log_config.type;
        if (hc->log_config.defaulted)
                return 0;
        const struct strmap *opts = &hc->log_config.config;
        return logdrv_validate(type, opts->keys, opts->vals, opts->n, err);
}

/* Every value of the create request, decoded, as dockerd checks them at create. */
int ctr_config_validate(const struct ctr_config *cc, struct berr *err) {
        int r;
        _cleanup_json_ json_t *mounts = NULL;
        if ((r = check_config(&cc->cfg, err)) < 0 || (r = check_host_config(&cc->hc, err)) < 0 ||
            (r = ctr_mounts_parse(cc, &mounts, err)) < 0)
                return r;
        /* Network, PID and IPC modes that name a network or a container:<x> are resolved
         * in container_network.c at start, as dockerd does (a 404 at create would send the
         * CLI pulling the image). */
        return check_log_config(&cc->hc, err);
}

/* strslice.StrSlice fields may be a single string: make them the one-element arrays the
 * rest of the daemon reads. */
static void normalize_strslices(json_t *obj, const char *const *keys, size_t n) {
        for (size_t i = 0; i < n; i++) {
                json_t *v = json_object_get(obj, keys[i]);
                if (json_is_string(v))
                        json_object_set_new(obj, keys[i], json_pack("[O]", v));
        }
}

int ctr_validate_create(json_t *body, struct ctr_config **ret_req, struct berr *err) {
        int r = json_check_type(body, &create_type, err);
        if (r < 0)
                return r;
        /* Go leaves a null struct pointer nil, as if absent; the rest of the daemon expects
         * objects where these keys are present. */
        static const char *const structs[] = { "HostConfig", "NetworkingConfig", "Healthcheck" };
        for (size_t i = 0; i < ELEMENTSOF(structs); i++)
                if (json_is_null(json_object_get(body, structs[i])))
                        json_object_del(body, structs[i]);
        static const char *const config_strslices[] = { "Cmd", "Entrypoint", "Shell" };
        static const char *const host_strslices[] = { "CapAdd", "CapDrop" };
        normalize_strslices(body, config_strslices, ELEMENTSOF(config_strslices));
        json_t *hc = json_object_get(body, "HostConfig");
        normalize_strslices(hc, host_strslices, ELEMENTSOF(host_strslices));
        _cleanup_ctr_config_ struct ctr_config *cc = NULL;
        if ((r = ctr_config_decode(body, hc, json_object_get(body, "NetworkingConfig"), &cc, err)) < 0)
                return r;
        if ((r = ctr_config_validate(cc, err)) < 0)
                return r;
        if (ret_req)
                *ret_req = TAKE_PTR(cc);
        return 0;
}

/* docker update: the body checked against container.UpdateConfig's Go types, decoded as a
 * HostConfig that holds only what it changes, and its values checked as dockerd's
 * verifyContainerSettings does for an update. */
int ctr_validate_update(json_t *body, struct ctr_config **ret_req, struct berr *err) {
        int r = json_check_type(body, &update_type, err);
        if (r < 0)
                return r;
        if (json_is_null(json_object_get(body, "RestartPolicy")))
                json_object_del(body, "RestartPolicy");
        _cleanup_json_ json_t *cfg = json_object();
        if (!cfg)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        _cleanup_ctr_config_ struct ctr_config *req = NULL;
        if ((r = ctr_config_decode(cfg, body, NULL, &req, err)) < 0)
                return r;
        const struct ctr_host_config *hc = &req->hc;
        if ((r = check_restart_policy(hc, err)) < 0)
                return r;
        if (hc->io_maximum_bandwidth != 0)
                return INVALID("Invalid QoS settings: linux does not support configuration of maximum bandwidth");
        if (hc->io_maximum_iops != 0)
                return INVALID("Invalid QoS settings: linux does not support configuration of maximum IOPs");
        if (hc->cpu_realtime_period != 0 && hc->cpu_realtime_runtime > hc->cpu_realtime_period)
                return INVALID("cpu real-time runtime cannot be higher than cpu real-time period");
        if ((r = spec_check_update_resources(hc, err)) < 0)
                return r;
        *ret_req = TAKE_PTR(req);
        return 0;
}
