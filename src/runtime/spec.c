/* spec.c - spec_generate: a Docker container (Config + HostConfig) -> the OCI runtime
 * config.json dockerd 20.10+ would hand to runc (golden files: tests/fixtures/
 * oci-runtime-spec/). This file holds the process (args, env, user, capabilities, rlimits),
 * root, hostname, namespaces, sysctls, masked paths, security options and seccomp; mounts,
 * devices, resources and user lookup live in spec_mounts.c, spec_devices.c,
 * spec_resources.c and spec_user.c. Only reads: the image's /etc/passwd, the host's device
 * nodes and CPU list. */
#include "runtime/spec.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "runtime/caps.h"
#include "runtime/seccomp_profile.h"
#include "runtime/spec_int.h"

#define OCI_VERSION "1.0.2-dev" /* what dockerd 20.10 writes (fixtures) */
#define DEFAULT_PATH_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_SHM_SIZE_BYTES (64 * 1024 * 1024)
#define DEFAULT_CGROUP_PARENT "/berth"
#define CONTAINER_INIT_PATH "/sbin/docker-init"
#define LIST_MAX 4096 /* env entries, args, caps, ulimits, sysctls, security options */

const char *const spec_default_masked_paths[] = {
        "/proc/asound",        "/proc/acpi",        "/proc/kcore",       "/proc/keys",
        "/proc/latency_stats", "/proc/timer_list",  "/proc/timer_stats", "/proc/sched_debug",
        "/proc/scsi",          "/sys/firmware",     NULL,
};

const char *const spec_default_readonly_paths[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

/* --ulimit names (docker/go-units); "as" is deliberately absent, as in Docker. */
static const char *const ulimit_names[] = {
        "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
        "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
};

struct security_opts {
        bool no_new_privileges;
        const char *seccomp; /* NULL: default; "unconfined"; "builtin"; or profile JSON text */
};

#define OOM() berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory")

const char *spec_go_strerror(int errnum, char buf[static 128]) {
        snprintf(buf, 128, "%s", strerror(errnum));
        if (buf[0] && buf[1] && islower((unsigned char) buf[1]))
                buf[0] = (char) tolower((unsigned char) buf[0]);
        return buf;
}

int spec_get_strslice(json_t *obj, const char *key, const char ***ret, size_t *ret_n, struct berr *err) {
        *ret = NULL;
        *ret_n = 0;
        json_t *v = obj ? json_object_get(obj, key) : NULL;
        if (!v || json_is_null(v))
                return 0;
        size_t n = json_is_string(v) ? 1 : json_is_array(v) ? json_array_size(v) : 0;
        if (!json_is_string(v) && !json_is_array(v))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid type for field %s: expected array of strings, got %s",
                                key, json_type_name(v));
        if (n > LIST_MAX)
                return berr_set(err, BERR_INVALID, E2BIG, "%s: too many entries (at most %d)", key, LIST_MAX);
        const char **out = calloc(n + 1, sizeof(char *));
        if (!out)
                return OOM();
        for (size_t i = 0; i < n; i++) {
                json_t *e = json_is_string(v) ? v : json_array_get(v, i);
                if (!json_is_string(e)) {
                        free(out);
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid type for field %s[%zu]: expected string, got %s",
                                        key, i, json_type_name(e));
                }
                out[i] = json_string_value(e);
        }
        *ret = out;
        *ret_n = n;
        return 0;
}

static bool has_prefix(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- modes: NetworkMode, IpcMode, PidMode, UTSMode, CgroupnsMode, UsernsMode ---- */

struct ns_modes {
        struct spec_modes m;
        bool network_container, uts_host, pid_host, pid_container, ipc_container, cgroupns_private;
        bool userns_private; /* a user namespace of the container's own (remapped daemon) */
        bool in_userns;      /* berthd runs in a user namespace (rootless) */
};

static bool host_is_cgroup2(void) {
        struct statfs sf;
        return statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

static int modes_parse(const struct spec_input *in, struct ns_modes *ns, struct berr *err) {
        const struct ctr_host_config *hc = &in->cc->hc;
        ns->m.privileged = hc->privileged;
        ns->m.readonly_rootfs = hc->readonly_rootfs;

        ns->m.network_host = hc->net_mode == CTR_NET_HOST;
        ns->network_container = hc->net_mode == CTR_NET_CONTAINER;
        if (ns->network_container && !in->netns_path)
                return berr_set(err, BERR_INVALID, EINVAL, "network mode %s: the network namespace to join is unknown",
                                hc->network_mode);
        ns->m.network_private = !ns->m.network_host && !ns->network_container;

        switch (hc->ipc_mode) {
        case CTR_IPC_HOST: ns->m.ipc_host = true; break;
        case CTR_IPC_NONE: ns->m.ipc_none = true; break;
        case CTR_IPC_CONTAINER: ns->ipc_container = true; break;
        case CTR_IPC_INVALID: return berr_set(err, BERR_INVALID, EINVAL, "invalid IPC mode: %s", hc->ipc_mode_text);
        default: break;
        }
        if (ns->ipc_container && !in->ipc_ns_path)
                return berr_set(err, BERR_INVALID, EINVAL, "IPC mode %s: the IPC namespace to join is unknown",
                                hc->ipc_mode_text);

        switch (hc->pid_mode) {
        case CTR_PID_HOST: ns->pid_host = true; break;
        case CTR_PID_CONTAINER: ns->pid_container = true; break;
        case CTR_PID_INVALID: return berr_set(err, BERR_INVALID, EINVAL, "invalid PID mode: %s", hc->pid_mode_text);
        default: break;
        }
        if (ns->pid_container && !in->pid_ns_path)
                return berr_set(err, BERR_INVALID, EINVAL, "PID mode %s: the PID namespace to join is unknown",
                                hc->pid_mode_text);
        ns->m.pid_private = !ns->pid_host && !ns->pid_container;

        if (hc->uts_mode == CTR_UTS_INVALID)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid UTS mode: %s", hc->uts_mode_text);
        ns->uts_host = hc->uts_mode == CTR_UTS_HOST;

        switch (hc->cgroupns_mode) {
        case CTR_CGROUPNS_PRIVATE: ns->cgroupns_private = true; break;
        case CTR_CGROUPNS_DEFAULT: /* dockerd's default: private on a cgroup v2 host, host on v1 */
                ns->cgroupns_private = host_is_cgroup2();
                break;
        case CTR_CGROUPNS_INVALID:
                return berr_set(err, BERR_INVALID, EINVAL, "invalid cgroup namespace mode: %s", hc->cgroupns_mode_text);
        default: break;
        }

        bool remapped = in->n_uid_maps > 0 && in->n_gid_maps > 0;
        int r = spec_check_userns(hc, remapped, err);
        if (r < 0)
                return r;
        ns->userns_private = remapped && !STREQ(hc->userns_mode, "host");
        ns->in_userns = in->in_userns;

        int64_t shm = hc->shm_size;
        if (shm < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "SHM size can not be less than 0");
        ns->m.shm_size_bytes = shm ? shm : DEFAULT_SHM_SIZE_BYTES;
        return 0;
}

int spec_check_userns(const struct ctr_host_config *hc, bool remapped, struct berr *err) {
        const char *userns = hc->userns_mode;
        if (*userns && !STREQ(userns, "host"))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid USER mode: %s", userns);
        if (!remapped || *userns)
                return 0;
        if (hc->privileged)
                return berr_set(err, BERR_INVALID, EINVAL, "privileged mode is incompatible with user namespaces.  You must "
                                "run the container in the host namespace when running privileged mode");
        if (hc->net_mode == CTR_NET_HOST)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "cannot share the host's network namespace when user namespaces are enabled");
        if (hc->pid_mode == CTR_PID_HOST)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "cannot share the host PID namespace when user namespaces are enabled");
        return 0;
}

/* "/proc/<pid>/ns/<x>" of a container whose namespace is shared -> "/proc/<pid>/ns/user":
 * dockerd joins that container's user namespace too. NULL when @path is not of that form. */
static char *peer_userns_path(const char *path) {
        if (!path || strncmp(path, "/proc/", 6) != 0)
                return NULL;
        const char *ns = strstr(path + 6, "/ns/");
        char *out = NULL;
        if (!ns || asprintf(&out, "%.*s/ns/user", (int) (ns - path), path) < 0)
                return NULL;
        return out;
}

static json_t *idmaps_json(const struct spec_idmap *m, size_t n) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++)
                if (json_array_append_new(arr, json_pack("{s:I,s:I,s:I}", "containerID", (json_int_t) m[i].container_id,
                                                         "hostID", (json_int_t) m[i].host_id, "size",
                                                         (json_int_t) m[i].size)) < 0) {
                        json_decref(arr);
                        return NULL;
                }
        return arr;
}

static int namespaces_build(const struct spec_input *in, const struct ns_modes *ns, json_t **ret, struct berr *err) {
        _cleanup_free_ char *peer_userns = NULL;
        if (ns->userns_private) {
                const char *peer = ns->network_container ? in->netns_path
                                   : ns->ipc_container   ? in->ipc_ns_path
                                   : ns->pid_container   ? in->pid_ns_path
                                                         : NULL;
                peer_userns = peer_userns_path(peer);
        }
        const struct {
                const char *type;
                bool skip;
                const char *path;
        } list[] = {
                { "mount", false, NULL },
                { "network", ns->m.network_host, in->netns_path },
                { "uts", ns->uts_host, NULL },
                { "pid", ns->pid_host, ns->pid_container ? in->pid_ns_path : NULL },
                { "ipc", ns->m.ipc_host, ns->ipc_container ? in->ipc_ns_path : NULL },
                { "cgroup", !ns->cgroupns_private, NULL },
                { "user", !ns->userns_private, peer_userns },
        };
        json_t *arr = json_array();
        if (!arr)
                return OOM();
        for (size_t i = 0; i < ELEMENTSOF(list); i++) {
                if (list[i].skip)
                        continue;
                json_t *o = json_pack("{s:s}", "type", list[i].type);
                if (o && list[i].path)
                        json_object_set_new(o, "path", json_string(list[i].path));
                if (json_array_append_new(arr, o) < 0) {
                        json_decref(arr);
                        return OOM();
                }
        }
        *ret = arr;
        return 0;
}

/* ---- security options ---- */

/* AppArmor is enabled on this host: dockerd would apply profiles, berth cannot. */
static bool host_has_apparmor(void) {
        char c = 0;
        FILE *f = fopen("/sys/module/apparmor/parameters/enabled", "re");
        if (!f)
                return false;
        if (fread(&c, 1, 1, f) != 1)
                c = 0;
        fclose(f);
        return c == 'Y';
}

/* dockerd's parseSecurityOpt (daemon/daemon_unix.go), with its messages. label=... is
 * accepted and has no effect, as in dockerd when SELinux support is off (berth never
 * turns it on: --selinux-enabled is refused); apparmor=... likewise on a host without
 * AppArmor, where dockerd ignores it too. On a host with AppArmor dockerd would confine
 * the container and berth cannot: refused then, rather than silently unconfined. */
static int security_opts_parse(const struct ctr_host_config *hc, struct security_opts *so, struct berr *err) {
        for (size_t i = 0; i < hc->security_opt.n; i++) {
                const char *o = hc->security_opt.v[i];
                if (STREQ(o, "no-new-privileges")) {
                        so->no_new_privileges = true;
                        continue;
                }
                if (STREQ(o, "disable")) /* SELinux labels: not supported, nothing to disable */
                        continue;
                /* "key=value"; the old "key:value" only when there is no '=' */
                const char *sep = strchr(o, '=');
                if (!sep)
                        sep = strchr(o, ':');
                if (!sep)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid --security-opt 1: \"%s\"", o);
                size_t klen = (size_t) (sep - o);
                const char *v = sep + 1;
                if (klen == 7 && strncmp(o, "seccomp", 7) == 0) {
                        so->seccomp = v;
                } else if (klen == 17 && strncmp(o, "no-new-privileges", 17) == 0) {
                        /* strconv.ParseBool */
                        static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
                        static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
                        bool known = false;
                        for (size_t k = 0; k < ELEMENTSOF(yes); k++) {
                                if (STREQ(v, yes[k]))
                                        known = so->no_new_privileges = true;
                                if (STREQ(v, no[k])) {
                                        known = true;
                                        so->no_new_privileges = false;
                                }
                        }
                        if (!known)
                                return berr_set(err, BERR_INVALID, EINVAL, "invalid --security-opt 2: \"%s\"", o);
                } else if (klen == 8 && strncmp(o, "apparmor", 8) == 0) {
                        if (!STREQ(v, "unconfined") && host_has_apparmor())
                                return berr_set(err, BERR_NOT_IMPLEMENTED, EOPNOTSUPP,
                                                "--security-opt apparmor=%s: AppArmor profiles are not supported by berth "
                                                "(this host has AppArmor enabled; use apparmor=unconfined)",
                                                v);
                } else if (klen == 5 && strncmp(o, "label", 5) == 0) {
                        /* SELinux support is off (see above) */
                } else {
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid --security-opt 2: \"%s\"", o);
                }
        }
        return 0;
}

int spec_check_seccomp_profile(const char *text, size_t len, struct berr *err) {
        _cleanup_json_ json_t *p = NULL;
        return seccomp_profile_parse(text, len, &p, err);
}

int spec_check_security_opts(const struct ctr_host_config *hc, struct berr *err) {
        struct security_opts so = { 0 };
        int r = security_opts_parse(hc, &so, err);
        if (r < 0)
                return r;
        if (so.seccomp && !STREQ(so.seccomp, "unconfined") && !STREQ(so.seccomp, "builtin") && *so.seccomp)
                return spec_check_seccomp_profile(so.seccomp, strlen(so.seccomp), err);
        return 0;
}

/* ---- capabilities ---- */

struct cap_set {
        bool has[64];
        const char *order[64]; /* names in the order dockerd lists them */
        size_t n;
};

static void cap_add(struct cap_set *s, int cap) {
        if (cap < 0 || cap >= 64 || s->has[cap])
                return;
        s->has[cap] = true;
        s->order[s->n++] = caps_to_name(cap);
}

/* caps.NormalizeLegacyCapabilities: "chown", "CAP_CHOWN", "Chown" -> CAP_CHOWN; "ALL" -> 64. */
static int cap_normalize(const char *name, int *ret, struct berr *err) {
        char up[64];
        size_t n = strlen(name);
        if (n >= sizeof(up) - 4)
                return berr_set(err, BERR_INVALID, EINVAL, "unknown capability: \"%.40s...\"", name);
        for (size_t i = 0; i <= n; i++)
                up[i] = (char) toupper((unsigned char) name[i]);
        if (STREQ(up, "ALL")) {
                *ret = 64;
                return 0;
        }
        int c = caps_from_name(up);
        if (c < 0) {
                char full[80];
                snprintf(full, sizeof(full), "%s%s", has_prefix(up, "CAP_") ? "" : "CAP_", up);
                return berr_set(err, BERR_INVALID, EINVAL, "unknown capability: \"%s\"", full);
        }
        *ret = c;
        return 0;
}

/* caps.TweakCapabilities */
static int caps_build(const struct ctr_host_config *hc, bool privileged, struct cap_set *out, struct berr *err) {
        memset(out, 0, sizeof(*out));
        if (privileged) {
                for (int c = 0; c <= caps_last(); c++)
                        cap_add(out, c);
                return 0;
        }
        char *const *adds = hc->cap_add.v, *const *drops = hc->cap_drop.v;
        size_t n_add = hc->cap_add.n, n_drop = hc->cap_drop.n;
        int r;
        if (n_add > LIST_MAX || n_drop > LIST_MAX)
                return berr_set(err, BERR_INVALID, E2BIG, "CapAdd/CapDrop: too many entries (at most %d)", LIST_MAX);
        bool add[65] = { false }, drop[65] = { false };
        int add_list[LIST_MAX];
        size_t n_add_list = 0;
        for (size_t i = 0; i < n_drop; i++) {
                int c;
                if ((r = cap_normalize(drops[i], &c, err)) < 0)
                        return r;
                drop[c] = true;
        }
        for (size_t i = 0; i < n_add; i++) {
                int c;
                if ((r = cap_normalize(adds[i], &c, err)) < 0)
                        return r;
                add[c] = true;
                add_list[n_add_list++] = c;
        }
        if (add[64]) { /* everything but what is dropped */
                for (int c = 0; c <= caps_last(); c++)
                        if (!drop[c])
                                cap_add(out, c);
        } else if (drop[64]) { /* nothing but what is added */
                for (size_t i = 0; i < n_add_list; i++)
                        cap_add(out, add_list[i]);
        } else {
                for (size_t i = 0; i < caps_docker_default_count; i++) {
                        int c = caps_from_name(caps_docker_default[i]);
                        if (!drop[c])
                                cap_add(out, c);
                }
                for (size_t i = 0; i < n_add_list; i++)
                        cap_add(out, add_list[i]);
        }
        return 0;
}

static json_t *caps_json(const struct cap_set *s, bool is_root) {
        json_t *list = json_array();
        for (size_t i = 0; list && i < s->n; i++)
                json_array_append_new(list, json_string(s->order[i]));
        if (!list)
                return NULL;
        /* Since the CVE-2022-24769 fixes dockerd gives no inheritable set, and a non-root
         * user no effective or permitted one: capabilities come only from file caps. */
        if (!is_root)
                return json_pack("{s:o}", "bounding", list);
        return json_pack("{s:O,s:O,s:o}", "bounding", list, "effective", list, "permitted", list);
}

/* ---- process pieces ---- */

/* container.CreateDaemonEnvironment + ReplaceOrAppendEnvValues */
static int env_build(const struct spec_input *in, const char *hostname, bool tty, json_t **ret, struct berr *err) {
        const struct strv *own = &in->cc->cfg.env;
        size_t n = in->n_link_env + own->n;
        if (n > LIST_MAX)
                return berr_set(err, BERR_INVALID, E2BIG, "Env: too many entries (at most %d)", LIST_MAX);
        _cleanup_json_ json_t *out = json_array();
        if (!out)
                return OOM();
        json_array_append_new(out, json_string(DEFAULT_PATH_ENV));
        char *h = NULL;
        if (asprintf(&h, "HOSTNAME=%s", hostname) < 0)
                return OOM();
        json_array_append_new(out, json_string_nocheck(h));
        free(h);
        if (tty)
                json_array_append_new(out, json_string("TERM=xterm"));
        for (size_t i = 0; i < n; i++) {
                const char *e = i < in->n_link_env ? in->link_env[i] : own->v[i - in->n_link_env], *eq = strchr(e, '=');
                size_t klen = eq ? (size_t) (eq - e) : strlen(e);
                ssize_t at = -1;
                for (size_t k = 0; k < json_array_size(out); k++) {
                        const char *o = json_string_value(json_array_get(out, k));
                        if (strncmp(o, e, klen) == 0 && (o[klen] == '=' || o[klen] == '\0'))
                                at = (ssize_t) k;
                }
                if (!eq) { /* "KEY" alone unsets KEY */
                        if (at >= 0)
                                json_array_remove(out, (size_t) at);
                } else if (at >= 0) {
                        json_array_set_new(out, (size_t) at, json_string_nocheck(e));
                } else if (json_array_append_new(out, json_string_nocheck(e)) < 0) {
                        return OOM();
                }
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static int args_build(const struct ctr_config_cfg *config, bool with_init, json_t **ret, struct berr *err) {
        char *const *ep = config->entrypoint.v, *const *cmd = config->cmd.v;
        size_t n_ep = config->entrypoint.n, n_cmd = config->cmd.n;
        if (n_ep > LIST_MAX || n_cmd > LIST_MAX)
                return berr_set(err, BERR_INVALID, E2BIG, "Cmd: too many entries (at most %d)", LIST_MAX);
        if (n_ep + n_cmd == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "No command specified");
        json_t *args = json_array();
        if (!args)
                return OOM();
        if (with_init) {
                json_array_append_new(args, json_string(CONTAINER_INIT_PATH));
                json_array_append_new(args, json_string("--"));
        }
        for (size_t i = 0; i < n_ep; i++)
                json_array_append_new(args, json_string_nocheck(ep[i]));
        for (size_t i = 0; i < n_cmd; i++)
                json_array_append_new(args, json_string_nocheck(cmd[i]));
        *ret = args;
        return 0;
}

static int rlimits_build(const struct ctr_host_config *hc, json_t **ret, struct berr *err) {
        *ret = NULL;
        if (hc->n_ulimits == 0)
                return 0;
        if (hc->n_ulimits > LIST_MAX)
                return berr_set(err, BERR_INVALID, E2BIG, "too many ulimits");
        _cleanup_json_ json_t *out = json_array();
        if (!out)
                return OOM();
        for (size_t i = 0; i < hc->n_ulimits; i++) {
                const char *name = hc->ulimits[i].name;
                int64_t soft = hc->ulimits[i].soft, hard = hc->ulimits[i].hard;
                bool known = false;
                for (size_t k = 0; name && k < ELEMENTSOF(ulimit_names); k++)
                        known |= STREQ(name, ulimit_names[k]);
                if (!known)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid ulimit type: %s", name ? name : "");
                /* -1 is "unlimited" (RLIM_INFINITY when cast to rlim_t) */
                if (soft < -1 || hard < -1)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid ulimit %s: negative limit", name);
                if (hard != -1 && (soft == -1 || soft > hard))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "ulimit soft limit must be less than or equal to hard limit: %" PRId64 " > %" PRId64,
                                        soft, hard);
                char type[32];
                snprintf(type, sizeof(type), "RLIMIT_");
                for (size_t k = 0; name[k] && k < 20; k++)
                        type[7 + k] = (char) toupper((unsigned char) name[k]), type[8 + k] = '\0';
                /* a later entry for the same limit replaces the earlier one */
                for (size_t k = 0; k < json_array_size(out); k++)
                        if (STREQ(json_string_value(json_object_get(json_array_get(out, k), "type")), type))
                                json_array_remove(out, k--);
                if (json_array_append_new(out, json_pack("{s:s,s:I,s:I}", "type", type, "hard", (json_int_t) hard, "soft",
                                                         (json_int_t) soft)) < 0)
                        return OOM();
        }
        if (json_array_size(out))
                *ret = TAKE_PTR(out);
        return 0;
}

/* ---- sysctls ---- */

static bool valid_sysctl_key(const char *k) {
        if (!*k || *k == '.' || k[strlen(k) - 1] == '.' || strstr(k, ".."))
                return false;
        for (const char *p = k; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("._-", *p))
                        return false;
        return true;
}

/* runc's validateSysctl: only what the container's own namespaces scope. */
static int check_sysctl(const char *k, const struct ns_modes *ns, struct berr *err) {
        static const char *const ipc[] = { "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                           "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced" };
        if (!valid_sysctl_key(k))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid sysctl name \"%s\"", k);
        bool is_ipc = has_prefix(k, "fs.mqueue.");
        for (size_t i = 0; i < ELEMENTSOF(ipc); i++)
                is_ipc |= STREQ(k, ipc[i]);
        if (is_ipc) {
                if (ns->m.ipc_host)
                        return berr_set(err, BERR_INVALID, EINVAL, "sysctl \"%s\" is not allowed in the hosts ipc namespace", k);
                return 0;
        }
        if (has_prefix(k, "net.")) {
                if (ns->m.network_host)
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "sysctl \"%s\" is not allowed in the hosts network namespace", k);
                return 0;
        }
        if (!ns->uts_host && STREQ(k, "kernel.domainname"))
                return 0;
        if (!ns->uts_host && STREQ(k, "kernel.hostname"))
                return berr_set(err, BERR_INVALID, EINVAL,
                                "sysctl \"%s\" is not allowed as it conflicts with the OCI \"hostname\" field", k);
        return berr_set(err, BERR_INVALID, EINVAL, "sysctl \"%s\" is not in a separate kernel namespace", k);
}

static int sysctl_build(const struct ctr_config *cc, const struct ns_modes *ns, json_t **ret, struct berr *err) {
        _cleanup_json_ json_t *out = json_object();
        if (!out)
                return OOM();
        const char *domain = cc->cfg.domainname;
        int r;
        if (*domain) /* no OCI field in 1.0; dockerd sets the sysctl */
                json_object_set_new(out, "kernel.domainname", json_string(domain));
        if (ns->m.network_private) {
                /* dockerd (like containerd's CRI): ping and low ports without NET_RAW / NET_BIND_SERVICE */
                json_object_set_new(out, "net.ipv4.ip_unprivileged_port_start", json_string("0"));
                /* not in a user namespace (dockerd): its gids are not all mapped */
                if (!ns->userns_private && !ns->in_userns)
                        json_object_set_new(out, "net.ipv4.ping_group_range", json_string("0 2147483647"));
        }
        const struct strmap *user = &cc->hc.sysctls;
        if (user->n > LIST_MAX)
                return berr_set(err, BERR_INVALID, E2BIG, "too many sysctls");
        for (size_t i = 0; i < user->n; i++) {
                if ((r = check_sysctl(user->keys[i], ns, err)) < 0)
                        return r;
                json_object_set_new(out, user->keys[i], json_string(user->vals[i]));
        }
        if (json_object_get(out, "kernel.domainname") && ns->uts_host)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "sysctl \"kernel.domainname\" is not in a separate kernel namespace");
        *ret = json_object_size(out) ? TAKE_PTR(out) : NULL;
        return 0;
}

/* ---- paths ---- */

static int paths_build(const struct strv *given, const char *const *defaults, json_t **ret, struct berr *err) {
        *ret = NULL;
        if (given->set) { /* the client's list, even empty (systempaths=unconfined) */
                json_t *arr = given->n ? json_array() : NULL;
                for (size_t i = 0; arr && i < given->n; i++)
                        json_array_append_new(arr, json_string(given->v[i]));
                if (given->n && !arr)
                        return OOM();
                *ret = arr;
                return 0;
        }
        json_t *arr = json_array();
        for (size_t i = 0; arr && defaults[i]; i++)
                json_array_append_new(arr, json_string(defaults[i]));
        if (!arr)
                return OOM();
        *ret = arr;
        return 0;
}

static int cgroups_path(const struct spec_input *in, char **ret, struct berr *err) {
        const char *parent = in->cc->hc.cgroup_parent;
        if (!*parent)
                parent = in->cgroup_parent ? in->cgroup_parent : DEFAULT_CGROUP_PARENT;
        /* the runtime joins this under each hierarchy root: no way out of it */
        for (const char *p = parent; *p;) {
                const char *e = strchrnul(p, '/');
                if (e - p == 2 && p[0] == '.' && p[1] == '.')
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid cgroup parent \"%s\"", parent);
                p = *e ? e + 1 : e;
        }
        size_t n = strlen(parent);
        while (n > 1 && parent[n - 1] == '/')
                n--;
        const char *base = in->cgroup_base && !STREQ(in->cgroup_base, "/") ? in->cgroup_base : "";
        bool sep = base[0] && parent[0] != '/';
        if (asprintf(ret, "%s%s%.*s%s%s", base, sep ? "/" : "", (int) n, parent, n && parent[n - 1] == '/' ? "" : "/",
                     in->id) < 0)
                return OOM();
        return 0;
}

/* ---- seccomp ---- */

/* dockerd's WithSeccomp: the container's own choice, else the daemon's --seccomp-profile,
 * else the built-in profile; none for --privileged or "unconfined". */
static int seccomp_build(const struct security_opts *so, const char *daemon_default, bool privileged,
                         const struct cap_set *caps, json_t **ret, struct berr *err) {
        *ret = NULL;
        const char *want = so->seccomp && *so->seccomp ? so->seccomp : daemon_default;
        if (privileged || (want && STREQ(want, "unconfined")))
                return 0;
        _cleanup_json_ json_t *custom = NULL;
        const json_t *profile;
        int r;
        if (!want || STREQ(want, "builtin")) {
                r = seccomp_default_profile(&profile, err);
        } else {
                r = seccomp_profile_parse(want, strlen(want), &custom, err);
                profile = custom;
        }
        if (r < 0)
                return r;
        return seccomp_profile_to_oci(profile, caps->order, caps->n, NULL, NULL, ret, err);
}

/* ---- the whole spec ---- */

static int process_build(const struct spec_input *in, const struct security_opts *so,
                         const struct cap_set *caps, bool with_init, const char *hostname, json_t **ret,
                         struct berr *err) {
        const struct ctr_config_cfg *config = &in->cc->cfg;
        const struct ctr_host_config *hc = &in->cc->hc;
        bool tty = config->tty;
        const char *user = config->user, *cwd = config->working_dir;
        int r;
        if (*cwd && cwd[0] != '/')
                return berr_set(err, BERR_INVALID, EINVAL,
                                "the working directory '%s' is invalid, it needs to be an absolute path", cwd);
        int64_t oom = hc->oom_score_adj;
        if (oom < -1000 || oom > 1000)
                return berr_set(err, BERR_INVALID, EINVAL, "Invalid value %" PRId64 ", range for oom score adj is [-1000, 1000]",
                                oom);

        _cleanup_json_ json_t *p = json_object(), *u = NULL, *args = NULL, *env = NULL, *rl = NULL;
        if (!p)
                return OOM();
        if ((r = spec_user_resolve(in->rootfs_fd, user, (const char *const *) hc->group_add.v, hc->group_add.n, &u,
                                   err)) < 0 ||
            (r = args_build(config, with_init, &args, err)) < 0 || (r = env_build(in, hostname, tty, &env, err)) < 0 ||
            (r = rlimits_build(hc, &rl, err)) < 0)
                return r;

        if (tty) {
                json_object_set_new(p, "terminal", json_true());
                uint64_t h = hc->console_size[0], w = hc->console_size[1];
                if ((h > 0 || w > 0) && h <= 65535 && w <= 65535)
                        json_object_set_new(p, "consoleSize",
                                            json_pack("{s:I,s:I}", "height", (json_int_t) h, "width", (json_int_t) w));
        }
        bool is_root = json_integer_value(json_object_get(u, "uid")) == 0;
        json_object_set_new(p, "user", TAKE_PTR(u));
        json_object_set_new(p, "args", TAKE_PTR(args));
        json_object_set_new(p, "env", TAKE_PTR(env));
        /* dockerd cleans the working directory (setupWorkingDirectory) */
        char clean[4096];
        snprintf(clean, sizeof(clean), "%s", *cwd ? cwd : "/");
        for (char *s; (s = strstr(clean, "//"));)
                memmove(s, s + 1, strlen(s));
        size_t cl = strlen(clean);
        if (cl > 1 && clean[cl - 1] == '/')
                clean[cl - 1] = '\0';
        json_object_set_new(p, "cwd", json_string(clean));
        json_object_set_new(p, "capabilities", caps_json(caps, is_root));
        if (rl)
                json_object_set_new(p, "rlimits", TAKE_PTR(rl));
        if (so->no_new_privileges)
                json_object_set_new(p, "noNewPrivileges", json_true());
        json_object_set_new(p, "oomScoreAdj", json_integer(oom));
        *ret = TAKE_PTR(p);
        return 0;
}

int spec_generate(const struct spec_input *in, json_t **ret_spec, struct berr *err) {
        if (!in || !in->id || strlen(in->id) < 12 || !in->cc)
                return berr_set(err, BERR_INTERNAL, EINVAL, "spec_generate: incomplete input");
        const struct ctr_host_config *hc = &in->cc->hc;
        struct ns_modes ns = { 0 };
        struct security_opts so = { 0 };
        struct cap_set caps;
        int r;
        if ((r = modes_parse(in, &ns, err)) < 0 || (r = security_opts_parse(hc, &so, err)) < 0 ||
            (r = caps_build(hc, ns.m.privileged, &caps, err)) < 0)
                return r;

        bool init = hc->init.v && ns.m.pid_private; /* dockerd ignores --init when sharing a PID namespace */
        bool init_mounted = init && in->init_path;

        char default_hostname[13];
        snprintf(default_hostname, sizeof(default_hostname), "%.12s", in->id);
        const char *hostname = in->cc->cfg.hostname;
        if (!*hostname)
                hostname = default_hostname;

        _cleanup_json_ json_t *spec = json_object(), *process = NULL, *mounts = NULL, *init_mount = NULL,
                              *sysctl = NULL, *devices = NULL, *rules = NULL, *resources = NULL, *namespaces = NULL,
                              *seccomp = NULL, *masked = NULL, *readonly = NULL;
        _cleanup_free_ char *cgpath = NULL;
        if (!spec)
                return OOM();
        if (init_mounted &&
            !(init_mount = json_pack("{s:s,s:s,s:s,s:[ss]}", "destination", CONTAINER_INIT_PATH, "type", "bind", "source",
                                     in->init_path, "options", "bind", "ro")))
                return OOM();
        if ((r = process_build(in, &so, &caps, init_mounted, hostname, &process, err)) < 0 ||
            (r = spec_mounts_build(in, &ns.m, init_mount, &mounts, err)) < 0 ||
            (r = sysctl_build(in->cc, &ns, &sysctl, err)) < 0 ||
            (r = spec_devices_build(hc, ns.m.privileged, &devices, &rules, err)) < 0 ||
            (r = spec_resources_build(hc, rules, &resources, err)) < 0 ||
            (r = cgroups_path(in, &cgpath, err)) < 0 || (r = namespaces_build(in, &ns, &namespaces, err)) < 0 ||
            (r = seccomp_build(&so, in->default_seccomp, ns.m.privileged, &caps, &seccomp, err)) < 0)
                return r;
        if (!ns.m.privileged &&
            ((r = paths_build(&hc->masked_paths, spec_default_masked_paths, &masked, err)) < 0 ||
             (r = paths_build(&hc->readonly_paths, spec_default_readonly_paths, &readonly, err)) < 0))
                return r;

        json_object_set_new(spec, "ociVersion", json_string(OCI_VERSION));
        json_object_set_new(spec, "process", TAKE_PTR(process));
        json_t *root = json_pack("{s:s}", "path", in->rootfs_path ? in->rootfs_path : "");
        if (root && ns.m.readonly_rootfs)
                json_object_set_new(root, "readonly", json_true());
        json_object_set_new(spec, "root", root);
        if (!ns.uts_host)
                json_object_set_new(spec, "hostname", json_string(hostname));
        json_object_set_new(spec, "mounts", TAKE_PTR(mounts));

        json_t *lnx = json_object();
        if (!lnx)
                return OOM();
        json_object_set_new(spec, "linux", lnx);
        if (sysctl)
                json_object_set_new(lnx, "sysctl", TAKE_PTR(sysctl));
        json_object_set_new(lnx, "resources", TAKE_PTR(resources));
        json_object_set_new(lnx, "cgroupsPath", json_string(cgpath));
        json_object_set_new(lnx, "namespaces", TAKE_PTR(namespaces));
        if (ns.userns_private) {
                json_t *um = idmaps_json(in->uid_maps, in->n_uid_maps), *gm = idmaps_json(in->gid_maps, in->n_gid_maps);
                if (!um || !gm) {
                        json_decref(um);
                        json_decref(gm);
                        return OOM();
                }
                json_object_set_new(lnx, "uidMappings", um);
                json_object_set_new(lnx, "gidMappings", gm);
        }
        if (devices)
                json_object_set_new(lnx, "devices", TAKE_PTR(devices));
        if (seccomp)
                json_object_set_new(lnx, "seccomp", TAKE_PTR(seccomp));
        if (masked)
                json_object_set_new(lnx, "maskedPaths", TAKE_PTR(masked));
        if (readonly)
                json_object_set_new(lnx, "readonlyPaths", TAKE_PTR(readonly));
        if (init)
                json_object_set_new(spec, "annotations", json_pack("{s:s}", SPEC_ANNOTATION_INIT, "true"));
        *ret_spec = TAKE_PTR(spec);
        return 0;
}
