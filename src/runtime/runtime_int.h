/* runtime_int.h - what the runtime's files share (the container object, the steps the
 * container's init runs, the sync protocol with the shim) and the pieces unit tests reach:
 * cgroup paths and values, the seccomp compiler and its cache. Not a public header: only
 * src/runtime/ and tests/unit/test_rt_*.c include it. */
#pragma once

#include <jansson.h>
#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "runtime.h"

/* ---- namespaces.c ---- */

enum rt_ns {
        RT_NS_MNT,
        RT_NS_UTS,
        RT_NS_IPC,
        RT_NS_NET,
        RT_NS_PID,
        RT_NS_CGROUP,
        RT_NS_USER,
        _RT_NS_MAX,
        _RT_NS_INVALID = -1,
};

struct rt_namespaces {
        bool is_new[_RT_NS_MAX]; /* listed without "path": unshare */
        int fd[_RT_NS_MAX];      /* listed with "path": the opened file to setns into, else -1 */
        /* A new pid namespace in a user namespace: the child creates it once in the user
         * namespace (so that it owns it) and forks the container's init into it; the
         * parent does nothing around its fork (rt_userns_prepare sets this). */
        bool pid_in_child;
};

/* Read linux.namespaces; open every "path" (O_CLOEXEC). */
int rt_ns_parse(const json_t *spec, struct rt_namespaces *ns, struct berr *err);
void rt_ns_close(struct rt_namespaces *ns);

/* Parent side, before fork: a new user namespace (linux.uidMappings/gidMappings written),
 * made by a helper process and turned into a "joined" entry of @ns (an fd); with a user
 * namespace and a new pid namespace, sets pid_in_child. Nothing to do without a user
 * namespace. */
int rt_userns_prepare(const json_t *spec, struct rt_namespaces *ns, struct berr *err);
/* The helper: a user namespace with @uid_map/@gid_map ("ctr host size\n" lines; NULL when
 * @join_userns_fd >= 0, whose namespace is used instead), plus a pid namespace owned by
 * it when @new_pidns (*ret_pidns_fd: its pid_for_children). */
int rt_userns_create(const char *uid_map, const char *gid_map, int join_userns_fd, bool new_pidns,
                     int *ret_userns_fd, int *ret_pidns_fd, struct berr *err);
/* True when this process is not in the host's user namespace (rootless berthd). */
bool rt_in_user_namespace(void);
/* OCI id mappings ([{containerID, hostID, size}]) as uid_map text. */
int rt_userns_map_text(const json_t *mappings, char *buf, size_t size, struct berr *err);

/* Parent side, around fork(): make the calling thread's children land in the container's
 * pid namespace (a new one, the one at "path", or that of @join_pidfd when >= 0), and
 * go back afterwards. *ret_saved is the fd to go back to (-1: nothing to undo). */
int rt_ns_pid_enter(const struct rt_namespaces *ns, int join_pidfd, int *ret_saved, struct berr *err);
int rt_ns_pid_leave(int saved, struct berr *err);

/* Child side: join the "path" namespaces, then the user namespace (becoming its root),
 * and unshare the new ones (not pid, done by the parent). The cgroup namespace is unshared
 * last; @before_cgroupns (if not NULL) runs just before a new one is created or joined, so
 * the caller can wait there until the parent has moved it into the container's cgroup (the
 * new namespace's root). @before_userns (if not NULL) runs just before the user namespace
 * is joined, for what needs the host's privileges (rlimits, sysctls of a joined network
 * namespace). */
int rt_ns_child_setup(const struct rt_namespaces *ns, int (*before_cgroupns)(void *, struct berr *),
                      int (*before_userns)(void *, struct berr *), void *userdata, struct berr *err);

/* Exec: join every namespace of @init_pid that differs from ours, through its pidfd. */
int rt_ns_exec_join(pid_t init_pid, int init_pidfd, struct berr *err);

/* ---- cgroups.c ---- */

enum rt_cgroup_mode {
        RT_CGROUP_V1,
        RT_CGROUP_V2,
};

struct rt_cgroup_hier {
        char *name; /* v1: the mount dir name, "memory", "cpu,cpuacct", "systemd"; v2: "" */
        char *dir;  /* absolute dir of this container's cgroup in this hierarchy */
};

struct rt_cgroup {
        enum rt_cgroup_mode mode;
        char *root; /* "/sys/fs/cgroup" (tests: a fake tree) */
        char *path; /* cgroupsPath, cleaned: "/berth/<id>" */
        struct rt_cgroup_hier *hier;
        size_t n_hier;
};

/* Find the hierarchies under @root (v2 if @root/cgroup.controllers exists, else every v1
 * mount dir) and compute this container's dirs. Creates nothing. */
int rt_cgroup_open(const char *root, const char *cgroups_path, struct rt_cgroup **ret, struct berr *err);
struct rt_cgroup *rt_cgroup_free(struct rt_cgroup *cg);

/* The dir of the hierarchy holding @controller ("memory"), or NULL (v2: the one dir). */
const char *rt_cgroup_dir_of(const struct rt_cgroup *cg, const char *controller);

/* mkdir the container's dirs (v1 cpuset: copy cpus/mems down; v2: enable the controllers
 * in every parent's cgroup.subtree_control), then write linux.resources. v2's device
 * rules go in as an eBPF program (bpf_devices.c); 1 (not an error) when it could not be
 * attached because the kernel runs none for us: the device rules are not enforced then. */
int rt_cgroup_create(struct rt_cgroup *cg, const json_t *resources, struct berr *err);
int rt_cgroup_apply(const struct rt_cgroup *cg, const json_t *resources, struct berr *err);
/* Write @pid to cgroup.procs in every hierarchy. */
int rt_cgroup_add_pid(const struct rt_cgroup *cg, pid_t pid, struct berr *err);
/* Pids in the container's cgroup (the memory or pids hierarchy on v1). */
int rt_cgroup_pids(const struct rt_cgroup *cg, pid_t **ret, size_t *ret_n, struct berr *err);
bool rt_cgroup_oom_killed(const struct rt_cgroup *cg);
/* SIGKILL everything in the cgroup until it is empty (at most @timeout_ms). */
int rt_cgroup_kill_all(const struct rt_cgroup *cg, int timeout_ms, struct berr *err);
/* docker pause/unpause: v1 freezer.state or v2 cgroup.freeze, waiting until the kernel
 * reports the cgroup frozen (thawed). */
int rt_cgroup_freeze(const struct rt_cgroup *cg, bool freeze, struct berr *err);
/* rmdir the container's dirs (not the parents). ENOENT is fine. */
int rt_cgroup_remove(const struct rt_cgroup *cg, struct berr *err);

/* Value conversions, as runc does them. */
void rt_cgroup_cpus_to_quota(int64_t nano_cpus, int64_t *ret_quota, uint64_t *ret_period);
uint64_t rt_cgroup_shares_to_weight(uint64_t shares);      /* cpu.shares -> cpu.weight, 0 -> 0 */
uint64_t rt_cgroup_blkio_to_io_weight(uint64_t blkio_weight); /* 10..1000 -> 1..10000, 0 -> 0 */

/* ---- seccomp.c ---- */

struct rt_seccomp {
        struct sock_filter *filter;
        unsigned short len;
        unsigned int flags; /* SECCOMP_FILTER_FLAG_* from the profile's "flags" */
        char key[65];       /* hash128_hex of the canonical profile JSON (32 hex digits) */
};

/* Compile an OCI linux.seccomp object to a BPF program, or return the cached one compiled
 * from the same JSON (*ret_cached tells which). The result belongs to the cache and lives
 * until rt_seccomp_cache_clear. */
int rt_seccomp_compile(const json_t *profile, const struct rt_seccomp **ret, bool *ret_cached, struct berr *err);
/* Load @prog into the calling thread. Needs no_new_privs or CAP_SYS_ADMIN. */
int rt_seccomp_load(const struct rt_seccomp *prog, struct berr *err);
void rt_seccomp_cache_clear(void);
/* Compilations done since start (to tell a cache hit in tests). */
unsigned rt_seccomp_compile_count(void);

/* ---- capabilities.c ---- */

struct rt_caps; /* the five sets asked for, already masked by what this process can hold */

/* Parse process.capabilities. A capability the process does not hold (the host's bounding
 * set lacks it, e.g. CAP_SYS_RESOURCE here) is dropped silently, as runc does. */
int rt_caps_parse(const json_t *process, struct rt_caps **ret, struct berr *err);
struct rt_caps *rt_caps_free(struct rt_caps *c);
/* Remove @cap from every set. */
void rt_caps_drop(struct rt_caps *c, int cap);
static inline void rt_caps_freep(struct rt_caps **c) {
        rt_caps_free(*c);
}
/* Drop from the bounding set what is not asked for. Needs CAP_SETPCAP: call before the
 * user change. */
int rt_caps_apply_bounding(const struct rt_caps *c, struct berr *err);
/* Set effective/permitted/inheritable, plus @keep (a capability number, -1: none) kept in
 * effective and permitted for a later step (seccomp without no_new_privs needs
 * CAP_SYS_ADMIN). */
int rt_caps_apply(const struct rt_caps *c, int keep, struct berr *err);
/* Raise the ambient set (after rt_caps_apply). */
int rt_caps_apply_ambient(const struct rt_caps *c, struct berr *err);

/* ---- process.c ---- */

/* dup @io onto 0, 1, 2 (-1: /dev/null); with a terminal, setsid and make it ours. */
int rt_proc_setup_stdio(const struct rt_stdio *io, struct berr *err);
/* console_in_container, after pivot_root: open /dev/ptmx (the container's devpts), bind
 * the slave over /dev/console, make it fds 0-2 and the controlling terminal (the session
 * is ours already). *ret_master: the master, CLOEXEC, for the parent. */
int rt_proc_setup_console(int *ret_master, struct berr *err);
/* docker exec -t: after joining the container, a pty from the container's devpts
 * (/dev/pts/ptmx, checked to be the 5:2 multiplexer) becomes stdio and the controlling
 * terminal; no /dev/console bind (that is the init's). *ret_master is for the caller. */
int rt_proc_exec_console(int *ret_master, struct berr *err);
/* Close every fd above 2 except @keep. */
int rt_proc_close_fds(int keep, struct berr *err);
int rt_proc_set_rlimits(const json_t *process, struct berr *err);
int rt_proc_set_oom_score_adj(const json_t *process, struct berr *err);
/* setgroups(additionalGids), setresgid, setresuid (capabilities kept for rt_caps_apply). */
int rt_proc_set_user(const json_t *process, struct berr *err);
int rt_proc_set_umask(const json_t *process, struct berr *err);
/* "HOME=<dir>" from the container's /etc/passwd entry of process.user.uid ("/" without
 * one), as runc adds it; *ret_entry NULL when process.env has HOME already. After pivot_root. */
int rt_proc_home_env(const json_t *process, char **ret_entry, struct berr *err);
/* mkdir -p process.cwd inside the root, as root with 0755 (dockerd creates a missing working
 * directory at start; runc does it in the jail). Symlinks resolve inside the root. After
 * pivot_root, before the root is made read-only. */
int rt_proc_create_cwd(const json_t *process, struct berr *err);
/* chdir(process.cwd) and refuse a cwd that is not under the root (CVE-2024-21626). */
int rt_proc_chdir(const json_t *process, struct berr *err);
/* Go's exec.LookPath over PATH from @env; errors as Docker prints them:
 * `exec: "nope": executable file not found in $PATH`. */
int rt_proc_lookpath(const char *file, char *const *env, char **ret_path, struct berr *err);
/* strerror as Go spells it ("no such file or directory"), for messages users compare
 * with Docker's. */
const char *rt_proc_strerror(int errnum);
/* Go's strconv.Quote of @s into @buf. */
void rt_proc_quote(const char *s, char *buf, size_t size);

/* ---- mounts.c ---- */

enum rt_resolve {
        RT_RESOLVE_EXISTING, /* fail with ENOENT if missing */
        RT_RESOLVE_MKDIR,    /* create missing components as directories */
        RT_RESOLVE_MKFILE,   /* ... and the last one as an empty file */
};

/* Resolve @path inside the root @rootfd the way the container will see it: symlinks are
 * followed relative to the root and can never leave it, ".." stops at the root. Returns an
 * O_PATH fd (openat2 RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS on the resolved path), and the
 * resolved path inside the root in @ret_resolved when not NULL. */
int rt_resolve_in_root(int rootfd, const char *path, enum rt_resolve how, int *ret_fd, char **ret_resolved,
                       struct berr *err);

/* runc's checkProcMount: on /proc itself only a proc filesystem (@is_procfs: a "proc"
 * mount, or a bind whose source is on one), inside /proc only the files lxcfs stands in
 * for. Anything else there would shadow what the container and the runtime take for the
 * kernel's files. @dest is cleaned first. */
int rt_mount_check_proc(const char *dest, bool is_procfs, struct berr *err);

struct rt_mount_ctx {
        const json_t *spec;
        const char *rootfs;          /* absolute host path */
        const struct rt_cgroup *cg;  /* for the "cgroup" mount */
        bool has_new_cgroupns;
        const struct rt_stdio *io;   /* terminal: bind the pty over /dev/console */
};

/* Everything up to and including pivot_root: propagation, the rootfs bind, spec.mounts,
 * /dev nodes and links, pivot_root and the old root gone. */
int rt_mounts_setup_rootfs(const struct rt_mount_ctx *m, struct berr *err);
/* After pivot_root, in this order: masked paths, read-only paths, a read-only root. */
int rt_mounts_finalize(const json_t *spec, struct berr *err);

/* ---- sysctl.c ---- */

/* Write linux.sysctl through a proc filesystem of our own (never the container's /proc,
 * which its mounts may cover), in the namespaces of the calling process. */
int rt_sysctls_apply(const json_t *spec, struct berr *err);
enum rt_sysctl_which { RT_SYSCTL_ALL, RT_SYSCTL_NET, RT_SYSCTL_NOT_NET };
/* The same, for a part of them: "net.*" alone is written before a user namespace is
 * joined when the network namespace is the host user namespace's (berthd made it). */
int rt_sysctls_apply_some(const json_t *spec, enum rt_sysctl_which which, struct berr *err);

/* ---- devices.c ---- */

/* Create the default devices (null zero full random urandom tty) and linux.devices under
 * /dev of @rootfd (mknod, or a bind mount of the host's node when mknod is refused), then
 * the /dev/fd, /dev/std*, /dev/ptmx links, and /dev/console for a terminal. */
int rt_devices_setup(int rootfd, const json_t *spec, const struct rt_stdio *io, struct berr *err);
/* The linux.resources.devices rules plus runc's default allow list, as v1 "devices.allow"
 * lines ("c 1:3 rwm"). Calls @fn(is_allow, line, userdata) in order. v2 feeds the same
 * lines to bpf_devices.c. */
int rt_devices_cgroup_rules(const json_t *resources, int (*fn)(bool allow, const char *line, void *userdata),
                            void *userdata, struct berr *err);

/* ---- runtime.c: sync protocol between the shim and the container's first process ---- */

enum rt_sync_type {
        RT_SYNC_GO = 1,   /* parent -> child: go on (exec: in the cgroup) */
        RT_SYNC_READY,    /* child -> parent: all set, waiting for START */
        RT_SYNC_START,    /* parent -> child: execve */
        RT_SYNC_ERROR,    /* child -> parent: the error, then the child exits */
        RT_SYNC_CGROUP,   /* parent -> child (create): now in the container's cgroup */
        RT_SYNC_PID,      /* child -> parent (create, pid_in_child): the init's pid (errnum), the
                           * child exits and the init goes on with the protocol */
};

struct rt_sync_msg {
        uint32_t type;
        int32_t errnum;
        int32_t kind;
        char msg[BERR_MSG_MAX];
};
