/* ctr_config.c - Docker's Config + HostConfig + NetworkingConfig <-> struct ctr_config
 * (see ctr_config.h). Scalar fields, string lists and string maps go through one table per
 * object, in dockerd's field order, so decoding, encoding and freeing cannot drift apart;
 * the nested objects (ports, mounts, devices, ulimits, health check, endpoints) have their
 * own small coders. */
#include "runtime/ctr_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"

/* ---- strings, lists and maps ---- */

static char *dup_str(json_t *v) {
        const char *s = json_string_value(v);
        return strdup(s ? s : "");
}

static const char *s_or_empty(const char *s) {
        return s ? s : "";
}

void strv_clear(struct strv *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i]);
        free(s->v);
        *s = (struct strv) { 0 };
}

/* An array of strings, or one string (strslice). */
static int strv_decode(json_t *v, struct strv *out) {
        *out = (struct strv) { 0 };
        if (!json_is_string(v) && !json_is_array(v)) /* null, absent, or not a list at all */
                return 0;
        out->set = true;
        size_t n = json_is_string(v) ? 1 : json_is_array(v) ? json_array_size(v) : 0;
        if (n == 0)
                return 0;
        out->v = calloc(n, sizeof(char *));
        if (!out->v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (!(out->v[i] = dup_str(json_is_string(v) ? v : json_array_get(v, i))))
                        return -ENOMEM;
                out->n++;
        }
        return 0;
}

/* The keys of an object ({"80/tcp": {}}). */
static int keyset_decode(json_t *v, struct strv *out) {
        *out = (struct strv) { 0 };
        if (!json_is_object(v))
                return 0;
        out->set = true;
        size_t n = json_object_size(v);
        if (n == 0)
                return 0;
        out->v = calloc(n, sizeof(char *));
        if (!out->v)
                return -ENOMEM;
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) {
                if (!(out->v[out->n] = strdup(k)))
                        return -ENOMEM;
                out->n++;
        }
        return 0;
}

static json_t *strv_encode(const struct strv *s) {
        if (!s->set)
                return json_null();
        json_t *a = json_array();
        for (size_t i = 0; a && i < s->n; i++)
                if (json_array_append_new(a, json_string(s->v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *keyset_encode(const struct strv *s) {
        if (!s->set)
                return json_null();
        json_t *o = json_object();
        for (size_t i = 0; o && i < s->n; i++)
                json_object_set_new(o, s->v[i], json_object());
        return o;
}

void strmap_clear(struct strmap *m) {
        for (size_t i = 0; i < m->n; i++) {
                free(m->keys[i]);
                free(m->vals[i]);
        }
        free(m->keys);
        free(m->vals);
        *m = (struct strmap) { 0 };
}

static int strmap_decode(json_t *v, struct strmap *out) {
        *out = (struct strmap) { 0 };
        if (!json_is_object(v))
                return 0;
        out->set = true;
        size_t n = json_object_size(v);
        if (n == 0)
                return 0;
        out->keys = calloc(n, sizeof(char *));
        out->vals = calloc(n, sizeof(char *));
        if (!out->keys || !out->vals)
                return -ENOMEM;
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) {
                out->keys[out->n] = strdup(k);
                out->vals[out->n] = dup_str(e);
                if (!out->keys[out->n] || !out->vals[out->n]) {
                        out->n++;
                        return -ENOMEM;
                }
                out->n++;
        }
        return 0;
}

static json_t *strmap_encode(const struct strmap *m) {
        if (!m->set)
                return json_null();
        json_t *o = json_object();
        for (size_t i = 0; o && i < m->n; i++)
                json_object_set_new(o, m->keys[i], json_string(m->vals[i]));
        return o;
}

json_t *strv_to_json(const struct strv *s) {
        return strv_encode(s);
}

const char *strv_get(const struct strv *s, size_t i) {
        return i < s->n ? s->v[i] : NULL;
}

bool strv_contains(const struct strv *s, const char *v) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->v[i], v) == 0)
                        return true;
        return false;
}

const char *strmap_get(const struct strmap *m, const char *key) {
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->keys[i], key) == 0)
                        return m->vals[i];
        return NULL;
}

static int64_t i64(json_t *o, const char *key) {
        return (int64_t) json_integer_value(json_object_get(o, key));
}

/* ---- the tables ---- */

enum field_kind {
        F_STR,     /* char *, "" when absent */
        F_BOOL,    /* bool */
        F_I64,     /* int64_t */
        F_U64,     /* uint64_t */
        F_U16,     /* uint16_t */
        F_OPT_I64, /* struct opt_i64: null when unset */
        F_OPT_BOOL,/* struct opt_bool: null when unset */
        F_STRV,    /* struct strv */
        F_KEYSET,  /* struct strv, encoded as {"key": {}} */
        F_STRMAP,  /* struct strmap */
        F_SPECIAL, /* coded by hand: decode_special / encode_special */
};

#define OMITEMPTY 1u /* Go's omitempty: left out when zero, empty or nil */

struct field {
        const char *name;
        enum field_kind kind;
        size_t off;
        unsigned flags;
};

#define CF(name, kind, member, flags) { name, kind, offsetof(struct ctr_config_cfg, member), flags }
#define HF(name, kind, member, flags) { name, kind, offsetof(struct ctr_host_config, member), flags }
#define SPECIAL(name) { name, F_SPECIAL, 0, 0 }

/* moby api/types/container.Config, in its order. */
static const struct field config_fields[] = {
        CF("Hostname", F_STR, hostname, 0),
        CF("Domainname", F_STR, domainname, 0),
        CF("User", F_STR, user, 0),
        CF("AttachStdin", F_BOOL, attach_stdin, 0),
        CF("AttachStdout", F_BOOL, attach_stdout, 0),
        CF("AttachStderr", F_BOOL, attach_stderr, 0),
        CF("ExposedPorts", F_KEYSET, exposed_ports, OMITEMPTY),
        CF("Tty", F_BOOL, tty, 0),
        CF("OpenStdin", F_BOOL, open_stdin, 0),
        CF("StdinOnce", F_BOOL, stdin_once, 0),
        CF("Env", F_STRV, env, 0),
        CF("Cmd", F_STRV, cmd, 0),
        SPECIAL("Healthcheck"),
        CF("ArgsEscaped", F_BOOL, args_escaped, OMITEMPTY),
        CF("Image", F_STR, image, 0),
        CF("Volumes", F_KEYSET, volumes, 0),
        CF("WorkingDir", F_STR, working_dir, 0),
        CF("Entrypoint", F_STRV, entrypoint, 0),
        CF("NetworkDisabled", F_BOOL, network_disabled, OMITEMPTY),
        CF("MacAddress", F_STR, mac_address, OMITEMPTY),
        CF("OnBuild", F_STRV, on_build, 0),
        CF("Labels", F_STRMAP, labels, 0),
        CF("StopSignal", F_STR, stop_signal, OMITEMPTY),
        CF("StopTimeout", F_OPT_I64, stop_timeout, OMITEMPTY),
        CF("Shell", F_STRV, shell, OMITEMPTY),
        { 0 },
};

/* moby api/types/container.HostConfig (Resources embedded), in its order. */
static const struct field host_config_fields[] = {
        HF("Binds", F_STRV, binds, 0),
        HF("ContainerIDFile", F_STR, container_id_file, 0),
        SPECIAL("LogConfig"),
        SPECIAL("NetworkMode"),
        SPECIAL("PortBindings"),
        SPECIAL("RestartPolicy"),
        HF("AutoRemove", F_BOOL, auto_remove, 0),
        HF("VolumeDriver", F_STR, volume_driver, 0),
        HF("VolumesFrom", F_STRV, volumes_from, 0),
        SPECIAL("ConsoleSize"),
        HF("Annotations", F_STRMAP, annotations, OMITEMPTY),
        HF("CapAdd", F_STRV, cap_add, 0),
        HF("CapDrop", F_STRV, cap_drop, 0),
        HF("CgroupnsMode", F_STR, cgroupns_mode_text, 0),
        HF("Dns", F_STRV, dns, 0),
        HF("DnsOptions", F_STRV, dns_options, 0),
        HF("DnsSearch", F_STRV, dns_search, 0),
        HF("ExtraHosts", F_STRV, extra_hosts, 0),
        HF("GroupAdd", F_STRV, group_add, 0),
        HF("IpcMode", F_STR, ipc_mode_text, 0),
        HF("Cgroup", F_STR, cgroup, 0),
        HF("Links", F_STRV, links, 0),
        HF("OomScoreAdj", F_I64, oom_score_adj, 0),
        HF("PidMode", F_STR, pid_mode_text, 0),
        HF("Privileged", F_BOOL, privileged, 0),
        HF("PublishAllPorts", F_BOOL, publish_all_ports, 0),
        HF("ReadonlyRootfs", F_BOOL, readonly_rootfs, 0),
        HF("SecurityOpt", F_STRV, security_opt, 0),
        HF("StorageOpt", F_STRMAP, storage_opt, OMITEMPTY),
        HF("Tmpfs", F_STRMAP, tmpfs, OMITEMPTY),
        HF("UTSMode", F_STR, uts_mode_text, 0),
        HF("UsernsMode", F_STR, userns_mode, 0),
        HF("ShmSize", F_I64, shm_size, 0),
        HF("Sysctls", F_STRMAP, sysctls, OMITEMPTY),
        HF("Runtime", F_STR, runtime, OMITEMPTY),
        HF("Isolation", F_STR, isolation, 0),
        HF("CpuShares", F_I64, cpu_shares, 0),
        HF("Memory", F_I64, memory, 0),
        HF("NanoCpus", F_I64, nano_cpus, 0),
        HF("CgroupParent", F_STR, cgroup_parent, 0),
        HF("BlkioWeight", F_U16, blkio_weight, 0),
        SPECIAL("BlkioWeightDevice"),
        SPECIAL("BlkioDeviceReadBps"),
        SPECIAL("BlkioDeviceWriteBps"),
        SPECIAL("BlkioDeviceReadIOps"),
        SPECIAL("BlkioDeviceWriteIOps"),
        HF("CpuPeriod", F_I64, cpu_period, 0),
        HF("CpuQuota", F_I64, cpu_quota, 0),
        HF("CpuRealtimePeriod", F_I64, cpu_realtime_period, 0),
        HF("CpuRealtimeRuntime", F_I64, cpu_realtime_runtime, 0),
        HF("CpusetCpus", F_STR, cpuset_cpus, 0),
        HF("CpusetMems", F_STR, cpuset_mems, 0),
        SPECIAL("Devices"),
        HF("DeviceCgroupRules", F_STRV, device_cgroup_rules, 0),
        SPECIAL("DeviceRequests"),
        HF("KernelMemory", F_I64, kernel_memory, OMITEMPTY),
        HF("KernelMemoryTCP", F_I64, kernel_memory_tcp, OMITEMPTY),
        HF("MemoryReservation", F_I64, memory_reservation, 0),
        HF("MemorySwap", F_I64, memory_swap, 0),
        HF("MemorySwappiness", F_OPT_I64, memory_swappiness, 0),
        HF("OomKillDisable", F_OPT_BOOL, oom_kill_disable, 0),
        HF("PidsLimit", F_OPT_I64, pids_limit, 0),
        SPECIAL("Ulimits"),
        HF("CpuCount", F_I64, cpu_count, 0),
        HF("CpuPercent", F_I64, cpu_percent, 0),
        HF("IOMaximumIOps", F_U64, io_maximum_iops, 0),
        HF("IOMaximumBandwidth", F_U64, io_maximum_bandwidth, 0),
        SPECIAL("Mounts"),
        HF("MaskedPaths", F_STRV, masked_paths, 0),
        HF("ReadonlyPaths", F_STRV, readonly_paths, 0),
        HF("Init", F_OPT_BOOL, init, OMITEMPTY),
        { 0 },
};

static int field_decode(const struct field *f, void *base, json_t *v) {
        char *p = (char *) base + f->off;
        switch (f->kind) {
        case F_STR:
                return (*(char **) p = dup_str(v)) ? 0 : -ENOMEM;
        case F_BOOL:
                *(bool *) p = json_is_true(v);
                return 0;
        case F_I64:
                *(int64_t *) p = (int64_t) json_integer_value(v);
                return 0;
        case F_U64:
                *(uint64_t *) p = (uint64_t) json_integer_value(v);
                return 0;
        case F_U16:
                *(uint16_t *) p = (uint16_t) json_integer_value(v);
                return 0;
        case F_OPT_I64:
                *(struct opt_i64 *) p = (struct opt_i64) { (int64_t) json_integer_value(v), json_is_integer(v) };
                return 0;
        case F_OPT_BOOL:
                *(struct opt_bool *) p = (struct opt_bool) { json_is_true(v), json_is_boolean(v) };
                return 0;
        case F_STRV:
                return strv_decode(v, (struct strv *) p);
        case F_KEYSET:
                return keyset_decode(v, (struct strv *) p);
        case F_STRMAP:
                return strmap_decode(v, (struct strmap *) p);
        case F_SPECIAL:
                return 0;
        }
        return 0;
}

/* NULL: left out (omitempty). */
static json_t *field_encode(const struct field *f, const void *base) {
        const char *p = (const char *) base + f->off;
        bool omit = f->flags & OMITEMPTY;
        switch (f->kind) {
        case F_STR: {
                const char *s = s_or_empty(*(char *const *) p);
                return omit && !*s ? NULL : json_string(s);
        }
        case F_BOOL:
                return omit && !*(const bool *) p ? NULL : json_boolean(*(const bool *) p);
        case F_I64:
                return omit && !*(const int64_t *) p ? NULL : json_integer(*(const int64_t *) p);
        case F_U64:
                return omit && !*(const uint64_t *) p ? NULL : json_integer((json_int_t) *(const uint64_t *) p);
        case F_U16:
                return json_integer(*(const uint16_t *) p);
        case F_OPT_I64: {
                const struct opt_i64 *o = (const struct opt_i64 *) p;
                return !o->set ? (omit ? NULL : json_null()) : json_integer(o->v);
        }
        case F_OPT_BOOL: {
                const struct opt_bool *o = (const struct opt_bool *) p;
                return !o->set ? (omit ? NULL : json_null()) : json_boolean(o->v);
        }
        case F_STRV:
        case F_KEYSET: {
                const struct strv *s = (const struct strv *) p;
                if (omit && s->n == 0)
                        return NULL;
                return f->kind == F_STRV ? strv_encode(s) : keyset_encode(s);
        }
        case F_STRMAP: {
                const struct strmap *m = (const struct strmap *) p;
                return omit && m->n == 0 ? NULL : strmap_encode(m);
        }
        case F_SPECIAL:
                return NULL;
        }
        return NULL;
}

static void field_clear(const struct field *f, void *base) {
        char *p = (char *) base + f->off;
        switch (f->kind) {
        case F_STR:
                free(*(char **) p);
                *(char **) p = NULL;
                break;
        case F_STRV:
        case F_KEYSET:
                strv_clear((struct strv *) p);
                break;
        case F_STRMAP:
                strmap_clear((struct strmap *) p);
                break;
        default:
                break;
        }
}

/* ---- nested objects ---- */

static int healthcheck_decode(json_t *o, struct ctr_healthcheck *h) {
        *h = (struct ctr_healthcheck) { 0 };
        if (!json_is_object(o))
                return 0;
        h->set = true;
        h->interval_ns = i64(o, "Interval");
        h->timeout_ns = i64(o, "Timeout");
        h->start_period_ns = i64(o, "StartPeriod");
        h->start_interval_ns = i64(o, "StartInterval");
        h->retries = i64(o, "Retries");
        return strv_decode(json_object_get(o, "Test"), &h->test);
}

static json_t *healthcheck_encode(const struct ctr_healthcheck *h) {
        json_t *o = json_object();
        if (!o)
                return NULL;
        /* container.HealthConfig: every field omitempty */
        if (h->test.n)
                json_object_set_new(o, "Test", strv_encode(&h->test));
        static const char *const names[] = { "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries" };
        const int64_t vals[] = { h->interval_ns, h->timeout_ns, h->start_period_ns, h->start_interval_ns, h->retries };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (vals[i])
                        json_object_set_new(o, names[i], json_integer(vals[i]));
        return o;
}

static int throttle_decode(json_t *a, struct ctr_throttle_list *l) {
        *l = (struct ctr_throttle_list) { .set = json_is_array(a) };
        size_t n = json_array_size(a);
        if (!n)
                return 0;
        if (!(l->v = calloc(n, sizeof(*l->v))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_t *e = json_array_get(a, i);
                l->v[i].rate = (uint64_t) json_integer_value(json_object_get(e, "Rate"));
                if (!(l->v[i].path = dup_str(json_object_get(e, "Path"))))
                        return -ENOMEM;
                l->n++;
        }
        return 0;
}

static json_t *throttle_encode(const struct ctr_throttle_list *l) {
        /* dockerd's Resources lists are never nil after create: [] for none */
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
                json_array_append_new(a, json_pack("{s:s,s:I}", "Path", l->v[i].path, "Rate", (json_int_t) l->v[i].rate));
        return a;
}

static void throttle_clear(struct ctr_throttle_list *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i].path);
        free(l->v);
        *l = (struct ctr_throttle_list) { 0 };
}

static int strv_list_decode(json_t *a, struct strv **ret, size_t *ret_n) {
        size_t n = json_array_size(a);
        *ret = NULL;
        *ret_n = 0;
        if (!n)
                return 0;
        if (!(*ret = calloc(n, sizeof(struct strv))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                (*ret_n)++;
                int r = strv_decode(json_array_get(a, i), &(*ret)[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static json_t *strv_list_encode(const struct strv *l, size_t n, bool set) {
        if (!set)
                return json_null();
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++)
                json_array_append_new(a, strv_encode(&l[i]));
        return a;
}

static void strv_list_clear(struct strv *l, size_t n) {
        for (size_t i = 0; i < n; i++)
                strv_clear(&l[i]);
        free(l);
}

static int mount_decode(json_t *o, struct ctr_mount *m) {
        int r;
        m->read_only = json_is_true(json_object_get(o, "ReadOnly"));
        if (!(m->type = dup_str(json_object_get(o, "Type"))) || !(m->source = dup_str(json_object_get(o, "Source"))) ||
            !(m->target = dup_str(json_object_get(o, "Target"))) ||
            !(m->consistency = dup_str(json_object_get(o, "Consistency"))))
                return -ENOMEM;
        json_t *b = json_object_get(o, "BindOptions");
        if (json_is_object(b)) {
                m->bind.set = true;
                m->bind.non_recursive = json_is_true(json_object_get(b, "NonRecursive"));
                m->bind.create_mountpoint = json_is_true(json_object_get(b, "CreateMountpoint"));
                m->bind.readonly_non_recursive = json_is_true(json_object_get(b, "ReadOnlyNonRecursive"));
                m->bind.readonly_force_recursive = json_is_true(json_object_get(b, "ReadOnlyForceRecursive"));
                if (!(m->bind.propagation = dup_str(json_object_get(b, "Propagation"))))
                        return -ENOMEM;
        }
        json_t *v = json_object_get(o, "VolumeOptions");
        if (json_is_object(v)) {
                m->volume.set = true;
                m->volume.no_copy = json_is_true(json_object_get(v, "NoCopy"));
                if ((r = strmap_decode(json_object_get(v, "Labels"), &m->volume.labels)) < 0 ||
                    !(m->volume.subpath = dup_str(json_object_get(v, "Subpath"))))
                        return r < 0 ? r : -ENOMEM;
                json_t *dc = json_object_get(v, "DriverConfig");
                if (json_is_object(dc)) {
                        m->volume.driver_set = true;
                        if (!(m->volume.driver_name = dup_str(json_object_get(dc, "Name"))) ||
                            (r = strmap_decode(json_object_get(dc, "Options"), &m->volume.driver_options)) < 0)
                                return -ENOMEM;
                }
        }
        json_t *t = json_object_get(o, "TmpfsOptions");
        if (json_is_object(t)) {
                m->tmpfs.set = true;
                m->tmpfs.size_bytes = i64(t, "SizeBytes");
                m->tmpfs.mode = (uint32_t) i64(t, "Mode");
                json_t *opts = json_object_get(t, "Options");
                m->tmpfs.options_set = json_is_array(opts);
                if ((r = strv_list_decode(opts, &m->tmpfs.options, &m->tmpfs.n_options)) < 0)
                        return r;
        }
        return 0;
}

static json_t *mount_encode(const struct ctr_mount *m) {
        /* mount.Mount: everything but Target omitempty */
        json_t *o = json_object();
        if (!o)
                return NULL;
        if (*m->type)
                json_object_set_new(o, "Type", json_string(m->type));
        if (*m->source)
                json_object_set_new(o, "Source", json_string(m->source));
        json_object_set_new(o, "Target", json_string(m->target));
        if (m->read_only)
                json_object_set_new(o, "ReadOnly", json_true());
        if (*m->consistency)
                json_object_set_new(o, "Consistency", json_string(m->consistency));
        if (m->bind.set) {
                json_t *b = json_object();
                if (*s_or_empty(m->bind.propagation))
                        json_object_set_new(b, "Propagation", json_string(m->bind.propagation));
                if (m->bind.non_recursive)
                        json_object_set_new(b, "NonRecursive", json_true());
                if (m->bind.create_mountpoint)
                        json_object_set_new(b, "CreateMountpoint", json_true());
                if (m->bind.readonly_non_recursive)
                        json_object_set_new(b, "ReadOnlyNonRecursive", json_true());
                if (m->bind.readonly_force_recursive)
                        json_object_set_new(b, "ReadOnlyForceRecursive", json_true());
                json_object_set_new(o, "BindOptions", b);
        }
        if (m->volume.set) {
                json_t *v = json_object();
                if (m->volume.no_copy)
                        json_object_set_new(v, "NoCopy", json_true());
                if (m->volume.labels.n)
                        json_object_set_new(v, "Labels", strmap_encode(&m->volume.labels));
                if (*s_or_empty(m->volume.subpath))
                        json_object_set_new(v, "Subpath", json_string(m->volume.subpath));
                if (m->volume.driver_set) {
                        json_t *dc = json_pack("{s:s}", "Name", s_or_empty(m->volume.driver_name));
                        if (dc && m->volume.driver_options.n)
                                json_object_set_new(dc, "Options", strmap_encode(&m->volume.driver_options));
                        json_object_set_new(v, "DriverConfig", dc);
                }
                json_object_set_new(o, "VolumeOptions", v);
        }
        if (m->tmpfs.set) {
                json_t *t = json_object();
                if (m->tmpfs.size_bytes)
                        json_object_set_new(t, "SizeBytes", json_integer(m->tmpfs.size_bytes));
                if (m->tmpfs.mode)
                        json_object_set_new(t, "Mode", json_integer(m->tmpfs.mode));
                if (m->tmpfs.n_options)
                        json_object_set_new(t, "Options",
                                            strv_list_encode(m->tmpfs.options, m->tmpfs.n_options, true));
                json_object_set_new(o, "TmpfsOptions", t);
        }
        return o;
}

static void mount_clear(struct ctr_mount *m) {
        free(m->type);
        free(m->source);
        free(m->target);
        free(m->consistency);
        free(m->bind.propagation);
        strmap_clear(&m->volume.labels);
        free(m->volume.subpath);
        free(m->volume.driver_name);
        strmap_clear(&m->volume.driver_options);
        strv_list_clear(m->tmpfs.options, m->tmpfs.n_options);
}

static int device_request_decode(json_t *o, struct ctr_device_request *d) {
        int r;
        d->count = i64(o, "Count");
        json_t *caps = json_object_get(o, "Capabilities");
        d->capabilities_set = json_is_array(caps);
        if (!(d->driver = dup_str(json_object_get(o, "Driver"))))
                return -ENOMEM;
        if ((r = strv_decode(json_object_get(o, "DeviceIDs"), &d->device_ids)) < 0 ||
            (r = strv_list_decode(caps, &d->capabilities, &d->n_capabilities)) < 0 ||
            (r = strmap_decode(json_object_get(o, "Options"), &d->options)) < 0)
                return r;
        return 0;
}

static json_t *device_request_encode(const struct ctr_device_request *d) {
        return json_pack("{s:s,s:I,s:o,s:o,s:o}", "Driver", d->driver, "Count", (json_int_t) d->count, "DeviceIDs",
                         strv_encode(&d->device_ids), "Capabilities",
                         strv_list_encode(d->capabilities, d->n_capabilities, d->capabilities_set), "Options",
                         strmap_encode(&d->options));
}

static void device_request_clear(struct ctr_device_request *d) {
        free(d->driver);
        strv_clear(&d->device_ids);
        strv_list_clear(d->capabilities, d->n_capabilities);
        strmap_clear(&d->options);
}

/* Decode an array of objects into @n elements of @size bytes at *@ret. */
static int array_decode(json_t *a, size_t size, void **ret, size_t *ret_n, bool *ret_set,
                        int (*one)(json_t *o, void *elem)) {
        *ret = NULL;
        *ret_n = 0;
        if (ret_set)
                *ret_set = json_is_array(a);
        size_t n = json_array_size(a);
        if (!n)
                return 0;
        char *v = calloc(n, size);
        if (!v)
                return -ENOMEM;
        *ret = v;
        for (size_t i = 0; i < n; i++) {
                (*ret_n)++;
                int r = one(json_array_get(a, i), v + i * size);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int mount_one(json_t *o, void *e) {
        return mount_decode(o, e);
}

static int device_request_one(json_t *o, void *e) {
        return device_request_decode(o, e);
}

static int device_one(json_t *o, void *e) {
        struct ctr_device *d = e;
        d->path_on_host = dup_str(json_object_get(o, "PathOnHost"));
        d->path_in_container = dup_str(json_object_get(o, "PathInContainer"));
        d->cgroup_permissions = dup_str(json_object_get(o, "CgroupPermissions"));
        return d->path_on_host && d->path_in_container && d->cgroup_permissions ? 0 : -ENOMEM;
}

static int ulimit_one(json_t *o, void *e) {
        struct ctr_ulimit *u = e;
        u->soft = i64(o, "Soft");
        u->hard = i64(o, "Hard");
        return (u->name = dup_str(json_object_get(o, "Name"))) ? 0 : -ENOMEM;
}

static int weight_device_one(json_t *o, void *e) {
        struct ctr_weight_device *w = e;
        w->weight = (uint16_t) i64(o, "Weight");
        return (w->path = dup_str(json_object_get(o, "Path"))) ? 0 : -ENOMEM;
}

static int port_map_decode(json_t *pm, struct ctr_host_config *hc) {
        hc->port_bindings_set = json_is_object(pm);
        size_t n = json_object_size(pm);
        if (!n)
                return 0;
        if (!(hc->port_bindings = calloc(n, sizeof(*hc->port_bindings))))
                return -ENOMEM;
        const char *k;
        json_t *v;
        json_object_foreach(pm, k, v) {
                struct ctr_port_map_entry *e = &hc->port_bindings[hc->n_port_bindings++];
                e->set = json_is_array(v);
                if (!(e->port = strdup(k)))
                        return -ENOMEM;
                size_t m = json_array_size(v);
                if (!m)
                        continue;
                if (!(e->b = calloc(m, sizeof(*e->b))))
                        return -ENOMEM;
                for (size_t i = 0; i < m; i++) {
                        json_t *b = json_array_get(v, i);
                        e->n++;
                        e->b[i].host_ip = dup_str(json_object_get(b, "HostIp"));
                        e->b[i].host_port = dup_str(json_object_get(b, "HostPort"));
                        if (!e->b[i].host_ip || !e->b[i].host_port)
                                return -ENOMEM;
                }
        }
        return 0;
}

static json_t *port_map_encode(const struct ctr_host_config *hc) {
        /* dockerd: {} when none were given */
        json_t *o = json_object();
        for (size_t i = 0; o && i < hc->n_port_bindings; i++) {
                const struct ctr_port_map_entry *e = &hc->port_bindings[i];
                json_t *a = e->set ? json_array() : json_null();
                for (size_t j = 0; e->set && j < e->n; j++)
                        json_array_append_new(a, json_pack("{s:s,s:s}", "HostIp", e->b[j].host_ip, "HostPort",
                                                           e->b[j].host_port));
                json_object_set_new(o, e->port, a);
        }
        return o;
}

/* ---- modes ---- */

static const struct {
        const char *name;
        enum ctr_restart v;
} restart_names[] = {
        { "", CTR_RESTART_EMPTY },           { "no", CTR_RESTART_NO },
        { "always", CTR_RESTART_ALWAYS },    { "on-failure", CTR_RESTART_ON_FAILURE },
        { "unless-stopped", CTR_RESTART_UNLESS_STOPPED },
};

const char *ctr_restart_name(enum ctr_restart r) {
        if (r == CTR_RESTART_UNSET)
                return "no";
        for (size_t i = 0; i < ELEMENTSOF(restart_names); i++)
                if (restart_names[i].v == r)
                        return restart_names[i].name;
        return "";
}

static bool starts_container(const char *mode, const char **ref) {
        if (strncmp(mode, "container:", 10) != 0)
                return false;
        *ref = mode + 10;
        return true;
}

static void modes_decode(struct ctr_host_config *hc) {
        const char *nm = hc->network_mode, *ref = NULL;
        hc->net_mode = !*nm || STREQ(nm, "default") ? CTR_NET_DEFAULT
                       : STREQ(nm, "bridge")        ? CTR_NET_BRIDGE
                       : STREQ(nm, "host")          ? CTR_NET_HOST
                       : STREQ(nm, "none")          ? CTR_NET_NONE
                       : starts_container(nm, &ref) ? CTR_NET_CONTAINER
                                                    : CTR_NET_USER;
        hc->network_mode_ref = ref;

        const char *ipc = hc->ipc_mode_text;
        ref = NULL;
        hc->ipc_mode = !*ipc                         ? CTR_IPC_DEFAULT
                       : STREQ(ipc, "none")          ? CTR_IPC_NONE
                       : STREQ(ipc, "private")       ? CTR_IPC_PRIVATE
                       : STREQ(ipc, "shareable")     ? CTR_IPC_SHAREABLE
                       : STREQ(ipc, "host")          ? CTR_IPC_HOST
                       : starts_container(ipc, &ref) && *ref ? CTR_IPC_CONTAINER
                                                     : CTR_IPC_INVALID;
        hc->ipc_mode_ref = hc->ipc_mode == CTR_IPC_CONTAINER ? ref : NULL;

        const char *pid = hc->pid_mode_text;
        ref = NULL;
        hc->pid_mode = !*pid                                  ? CTR_PID_DEFAULT
                       : STREQ(pid, "host")                   ? CTR_PID_HOST
                       : starts_container(pid, &ref) && *ref  ? CTR_PID_CONTAINER
                                                              : CTR_PID_INVALID;
        hc->pid_mode_ref = hc->pid_mode == CTR_PID_CONTAINER ? ref : NULL;

        const char *uts = hc->uts_mode_text;
        hc->uts_mode = !*uts ? CTR_UTS_DEFAULT : STREQ(uts, "host") ? CTR_UTS_HOST : CTR_UTS_INVALID;
        const char *cg = hc->cgroupns_mode_text;
        hc->cgroupns_mode = !*cg                 ? CTR_CGROUPNS_DEFAULT
                            : STREQ(cg, "host")    ? CTR_CGROUPNS_HOST
                            : STREQ(cg, "private") ? CTR_CGROUPNS_PRIVATE
                                                   : CTR_CGROUPNS_INVALID;
}

/* ---- endpoints ---- */

int ctr_config_decode_endpoint(const char *name, json_t *o, struct ctr_endpoint_config *e, struct berr *err) {
        *e = (struct ctr_endpoint_config) { 0 };
        int r = -ENOMEM;
        json_t *ipam = json_object_get(o, "IPAMConfig");
        e->ipam_set = json_is_object(ipam);
        e->ip_prefix_len = i64(o, "IPPrefixLen");
        e->global_ipv6_prefix_len = i64(o, "GlobalIPv6PrefixLen");
        if (!(e->name = strdup(name)) || !(e->ipv4_address = dup_str(json_object_get(ipam, "IPv4Address"))) ||
            !(e->ipv6_address = dup_str(json_object_get(ipam, "IPv6Address"))) ||
            (r = strv_decode(json_object_get(ipam, "LinkLocalIPs"), &e->link_local_ips)) < 0 ||
            (r = strv_decode(json_object_get(o, "Links"), &e->links)) < 0 ||
            (r = strv_decode(json_object_get(o, "Aliases"), &e->aliases)) < 0 ||
            (r = strv_decode(json_object_get(o, "DNSNames"), &e->dns_names)) < 0 ||
            (r = strmap_decode(json_object_get(o, "DriverOpts"), &e->driver_opts)) < 0 ||
            !(e->mac_address = dup_str(json_object_get(o, "MacAddress"))) ||
            !(e->network_id = dup_str(json_object_get(o, "NetworkID"))) ||
            !(e->endpoint_id = dup_str(json_object_get(o, "EndpointID"))) ||
            !(e->gateway = dup_str(json_object_get(o, "Gateway"))) ||
            !(e->ip_address = dup_str(json_object_get(o, "IPAddress"))) ||
            !(e->ipv6_gateway = dup_str(json_object_get(o, "IPv6Gateway"))) ||
            !(e->global_ipv6_address = dup_str(json_object_get(o, "GlobalIPv6Address")))) {
                ctr_config_endpoint_clear(e);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        return 0;
}

void ctr_config_endpoint_clear(struct ctr_endpoint_config *e) {
        char **strs[] = { &e->name, &e->ipv4_address, &e->ipv6_address, &e->mac_address, &e->network_id,
                          &e->endpoint_id, &e->gateway, &e->ip_address, &e->ipv6_gateway, &e->global_ipv6_address };
        for (size_t i = 0; i < ELEMENTSOF(strs); i++) {
                free(*strs[i]);
                *strs[i] = NULL;
        }
        strv_clear(&e->link_local_ips);
        strv_clear(&e->links);
        strv_clear(&e->aliases);
        strv_clear(&e->dns_names);
        strmap_clear(&e->driver_opts);
}

json_t *ctr_config_encode_endpoint(const struct ctr_endpoint_config *e) {
        json_t *ipam = json_null();
        if (e->ipam_set) {
                ipam = json_object();
                if (*e->ipv4_address)
                        json_object_set_new(ipam, "IPv4Address", json_string(e->ipv4_address));
                if (*e->ipv6_address)
                        json_object_set_new(ipam, "IPv6Address", json_string(e->ipv6_address));
                if (e->link_local_ips.n)
                        json_object_set_new(ipam, "LinkLocalIPs", strv_encode(&e->link_local_ips));
        }
        return json_pack("{s:o,s:o,s:o,s:s,s:o,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:I,s:o}", "IPAMConfig", ipam, "Links",
                         strv_encode(&e->links), "Aliases", strv_encode(&e->aliases), "MacAddress", e->mac_address,
                         "DriverOpts", strmap_encode(&e->driver_opts), "NetworkID", e->network_id, "EndpointID",
                         e->endpoint_id, "Gateway", e->gateway, "IPAddress", e->ip_address, "IPPrefixLen",
                         (json_int_t) e->ip_prefix_len, "IPv6Gateway", e->ipv6_gateway, "GlobalIPv6Address",
                         e->global_ipv6_address, "GlobalIPv6PrefixLen", (json_int_t) e->global_ipv6_prefix_len,
                         "DNSNames", strv_encode(&e->dns_names));
}

/* ---- the whole ---- */

static int decode_table(const struct field *fields, void *base, json_t *obj) {
        for (const struct field *f = fields; f->name; f++) {
                int r = field_decode(f, base, json_object_get(obj, f->name));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int host_config_special_decode(json_t *h, struct ctr_host_config *hc) {
        int r;
        json_t *lc = json_object_get(h, "LogConfig");
        const char *type = json_string_value(json_object_get(lc, "Type"));
        hc->log_config.driver = !type || !*type || STREQ(type, "json-file") ? CTR_LOG_JSON_FILE
                                : STREQ(type, "none")                      ? CTR_LOG_NONE
                                                                           : CTR_LOG_OTHER;
        /* No driver named: the daemon's default (--log-driver) is filled in at create,
         * before the record is written; an older record without one reads as json-file. */
        hc->log_config.defaulted = !type || !*type;
        if (!(hc->log_config.type = strdup(type && *type ? type : "json-file")))
                return -ENOMEM;
        if ((r = strmap_decode(json_object_get(lc, "Config"), &hc->log_config.config)) < 0)
                return r;
        hc->log_config.config.set = true; /* {} in inspect, as dockerd */

        json_t *rp = json_object_get(h, "RestartPolicy");
        const char *name = json_string_value(json_object_get(rp, "Name"));
        hc->restart_policy.name = !json_is_object(rp) ? CTR_RESTART_UNSET : CTR_RESTART_INVALID;
        if (json_is_object(rp) && !name)
                hc->restart_policy.name = CTR_RESTART_EMPTY;
        for (size_t i = 0; name && i < ELEMENTSOF(restart_names); i++)
                if (STREQ(name, restart_names[i].name))
                        hc->restart_policy.name = restart_names[i].v;
        hc->restart_policy.maximum_retry_count = i64(rp, "MaximumRetryCount");
        if (!(hc->restart_policy.name_text = strdup(name ? name : "")))
                return -ENOMEM;

        if (!(hc->network_mode = dup_str(json_object_get(h, "NetworkMode"))))
                return -ENOMEM;

        json_t *cs = json_object_get(h, "ConsoleSize");
        hc->console_size_set = json_is_array(cs);
        hc->console_size[0] = (uint64_t) json_integer_value(json_array_get(cs, 0));
        hc->console_size[1] = (uint64_t) json_integer_value(json_array_get(cs, 1));

        if ((r = port_map_decode(json_object_get(h, "PortBindings"), hc)) < 0 ||
            (r = array_decode(json_object_get(h, "BlkioWeightDevice"), sizeof(struct ctr_weight_device),
                              (void **) &hc->blkio_weight_device, &hc->n_blkio_weight_device,
                              &hc->blkio_weight_device_set, weight_device_one)) < 0 ||
            (r = throttle_decode(json_object_get(h, "BlkioDeviceReadBps"), &hc->blkio_device_read_bps)) < 0 ||
            (r = throttle_decode(json_object_get(h, "BlkioDeviceWriteBps"), &hc->blkio_device_write_bps)) < 0 ||
            (r = throttle_decode(json_object_get(h, "BlkioDeviceReadIOps"), &hc->blkio_device_read_iops)) < 0 ||
            (r = throttle_decode(json_object_get(h, "BlkioDeviceWriteIOps"), &hc->blkio_device_write_iops)) < 0 ||
            (r = array_decode(json_object_get(h, "Devices"), sizeof(struct ctr_device), (void **) &hc->devices,
                              &hc->n_devices, &hc->devices_set, device_one)) < 0 ||
            (r = array_decode(json_object_get(h, "DeviceRequests"), sizeof(struct ctr_device_request),
                              (void **) &hc->device_requests, &hc->n_device_requests, &hc->device_requests_set,
                              device_request_one)) < 0 ||
            (r = array_decode(json_object_get(h, "Ulimits"), sizeof(struct ctr_ulimit), (void **) &hc->ulimits,
                              &hc->n_ulimits, &hc->ulimits_set, ulimit_one)) < 0 ||
            (r = array_decode(json_object_get(h, "Mounts"), sizeof(struct ctr_mount), (void **) &hc->mounts,
                              &hc->n_mounts, &hc->mounts_set, mount_one)) < 0)
                return r;
        modes_decode(hc);
        return 0;
}

int ctr_config_decode(json_t *config, json_t *host_config, json_t *networking_config, struct ctr_config **ret,
                      struct berr *err) {
        _cleanup_ctr_config_ struct ctr_config *c = calloc(1, sizeof(*c));
        if (!c)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r;
        if ((r = decode_table(config_fields, &c->cfg, config)) < 0 ||
            (r = healthcheck_decode(json_object_get(config, "Healthcheck"), &c->cfg.healthcheck)) < 0 ||
            (r = decode_table(host_config_fields, &c->hc, host_config)) < 0 ||
            (r = host_config_special_decode(host_config, &c->hc)) < 0)
                return berr_set(err, BERR_INTERNAL, -r, "decode the container configuration: out of memory");
        json_t *eps = json_object_get(networking_config, "EndpointsConfig");
        size_t n = json_object_size(eps);
        if (n && !(c->endpoints = calloc(n, sizeof(*c->endpoints))))
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        const char *k;
        json_t *v;
        json_object_foreach(eps, k, v) {
                if ((r = ctr_config_decode_endpoint(k, v, &c->endpoints[c->n_endpoints], err)) < 0)
                        return r;
                c->n_endpoints++;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

void ctr_config_free(struct ctr_config *c) {
        if (!c)
                return;
        for (const struct field *f = config_fields; f->name; f++)
                field_clear(f, &c->cfg);
        strv_clear(&c->cfg.healthcheck.test);
        struct ctr_host_config *hc = &c->hc;
        for (const struct field *f = host_config_fields; f->name; f++)
                field_clear(f, hc);
        free(hc->network_mode);
        free(hc->log_config.type);
        strmap_clear(&hc->log_config.config);
        free(hc->restart_policy.name_text);
        for (size_t i = 0; i < hc->n_port_bindings; i++) {
                struct ctr_port_map_entry *e = &hc->port_bindings[i];
                for (size_t j = 0; j < e->n; j++) {
                        free(e->b[j].host_ip);
                        free(e->b[j].host_port);
                }
                free(e->b);
                free(e->port);
        }
        free(hc->port_bindings);
        for (size_t i = 0; i < hc->n_blkio_weight_device; i++)
                free(hc->blkio_weight_device[i].path);
        free(hc->blkio_weight_device);
        throttle_clear(&hc->blkio_device_read_bps);
        throttle_clear(&hc->blkio_device_write_bps);
        throttle_clear(&hc->blkio_device_read_iops);
        throttle_clear(&hc->blkio_device_write_iops);
        for (size_t i = 0; i < hc->n_devices; i++) {
                free(hc->devices[i].path_on_host);
                free(hc->devices[i].path_in_container);
                free(hc->devices[i].cgroup_permissions);
        }
        free(hc->devices);
        for (size_t i = 0; i < hc->n_device_requests; i++)
                device_request_clear(&hc->device_requests[i]);
        free(hc->device_requests);
        for (size_t i = 0; i < hc->n_ulimits; i++)
                free(hc->ulimits[i].name);
        free(hc->ulimits);
        for (size_t i = 0; i < hc->n_mounts; i++)
                mount_clear(&hc->mounts[i]);
        free(hc->mounts);
        for (size_t i = 0; i < c->n_endpoints; i++)
                ctr_config_endpoint_clear(&c->endpoints[i]);
        free(c->endpoints);
        free(c);
}

json_t *ctr_config_encode_config(const struct ctr_config *c) {
        json_t *o = json_object();
        for (const struct field *f = config_fields; o && f->name; f++) {
                json_t *v = f->kind == F_SPECIAL ? (c->cfg.healthcheck.set ? healthcheck_encode(&c->cfg.healthcheck) : NULL)
                                                 : field_encode(f, &c->cfg);
                if (v && json_object_set_new(o, f->name, v) < 0) {
                        json_decref(o);
                        return NULL;
                }
        }
        return o;
}

static json_t *host_config_special_encode(const struct ctr_host_config *hc, const char *name) {
        if (STREQ(name, "LogConfig"))
                return json_pack("{s:s,s:o}", "Type", hc->log_config.type, "Config", strmap_encode(&hc->log_config.config));
        if (STREQ(name, "NetworkMode")) /* dockerd's API default, for a create that named none */
                return json_string(*hc->network_mode ? hc->network_mode : "default");
        if (STREQ(name, "PortBindings"))
                return port_map_encode(hc);
        if (STREQ(name, "RestartPolicy"))
                return json_pack("{s:s,s:I}", "Name",
                                 hc->restart_policy.name == CTR_RESTART_INVALID ? hc->restart_policy.name_text
                                                                                : ctr_restart_name(hc->restart_policy.name),
                                 "MaximumRetryCount", (json_int_t) hc->restart_policy.maximum_retry_count);
        if (STREQ(name, "ConsoleSize"))
                return json_pack("[I,I]", (json_int_t) hc->console_size[0], (json_int_t) hc->console_size[1]);
        if (STREQ(name, "BlkioWeightDevice")) {
                json_t *a = json_array();
                for (size_t i = 0; a && i < hc->n_blkio_weight_device; i++)
                        json_array_append_new(a, json_pack("{s:s,s:i}", "Path", hc->blkio_weight_device[i].path, "Weight",
                                                           (int) hc->blkio_weight_device[i].weight));
                return a;
        }
        if (STREQ(name, "BlkioDeviceReadBps"))
                return throttle_encode(&hc->blkio_device_read_bps);
        if (STREQ(name, "BlkioDeviceWriteBps"))
                return throttle_encode(&hc->blkio_device_write_bps);
        if (STREQ(name, "BlkioDeviceReadIOps"))
                return throttle_encode(&hc->blkio_device_read_iops);
        if (STREQ(name, "BlkioDeviceWriteIOps"))
                return throttle_encode(&hc->blkio_device_write_iops);
        if (STREQ(name, "Devices")) {
                json_t *a = json_array();
                for (size_t i = 0; a && i < hc->n_devices; i++)
                        json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "PathOnHost", hc->devices[i].path_on_host,
                                                           "PathInContainer", hc->devices[i].path_in_container,
                                                           "CgroupPermissions", hc->devices[i].cgroup_permissions));
                return a;
        }
        if (STREQ(name, "DeviceRequests")) {
                if (!hc->device_requests_set)
                        return json_null();
                json_t *a = json_array();
                for (size_t i = 0; a && i < hc->n_device_requests; i++)
                        json_array_append_new(a, device_request_encode(&hc->device_requests[i]));
                return a;
        }
        if (STREQ(name, "Ulimits")) {
                json_t *a = json_array();
                for (size_t i = 0; a && i < hc->n_ulimits; i++)
                        json_array_append_new(a, json_pack("{s:s,s:I,s:I}", "Name", hc->ulimits[i].name, "Hard",
                                                           (json_int_t) hc->ulimits[i].hard, "Soft",
                                                           (json_int_t) hc->ulimits[i].soft));
                return a;
        }
        if (STREQ(name, "Mounts")) { /* omitempty */
                if (!hc->n_mounts)
                        return NULL;
                json_t *a = json_array();
                for (size_t i = 0; a && i < hc->n_mounts; i++)
                        json_array_append_new(a, mount_encode(&hc->mounts[i]));
                return a;
        }
        return NULL;
}

json_t *ctr_config_encode_host_config(const struct ctr_config *c) {
        json_t *o = json_object();
        for (const struct field *f = host_config_fields; o && f->name; f++) {
                json_t *v = f->kind == F_SPECIAL ? host_config_special_encode(&c->hc, f->name) : field_encode(f, &c->hc);
                if (v && json_object_set_new(o, f->name, v) < 0) {
                        json_decref(o);
                        return NULL;
                }
        }
        return o;
}

json_t *ctr_config_port_bindings_json(const struct ctr_config *c) {
        return port_map_encode(&c->hc);
}

int ctr_config_set_string(struct ctr_config *c, char **field, const char *v) {
        char *t = strdup(v);
        if (!t)
                return -ENOMEM;
        free(*field);
        *field = t;
        modes_decode(&c->hc);
        return 0;
}

int ctr_config_set_ipc_mode(struct ctr_config *c, const char *mode) {
        return ctr_config_set_string(c, &c->hc.ipc_mode_text, mode);
}

int strv_append(struct strv *s, const char *v) {
        char **n = realloc(s->v, (s->n + 1) * sizeof(char *));
        if (!n)
                return -ENOMEM;
        s->v = n;
        if (!(s->v[s->n] = strdup(v)))
                return -ENOMEM;
        s->n++;
        s->set = true;
        return 0;
}

int ctr_config_add_ulimit(struct ctr_host_config *hc, const char *name, int64_t soft, int64_t hard) {
        struct ctr_ulimit *n = realloc(hc->ulimits, (hc->n_ulimits + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        hc->ulimits = n;
        if (!(n[hc->n_ulimits].name = strdup(name)))
                return -ENOMEM;
        n[hc->n_ulimits].soft = soft;
        n[hc->n_ulimits].hard = hard;
        hc->n_ulimits++;
        hc->ulimits_set = true;
        return 0;
}

bool ctr_config_publishes_ports(const struct ctr_config *c) {
        if (c->hc.publish_all_ports)
                return true;
        for (size_t i = 0; i < c->hc.n_port_bindings; i++)
                if (c->hc.port_bindings[i].n > 0)
                        return true;
        return false;
}
