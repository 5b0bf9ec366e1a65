/* runtime.h - the in-process OCI runtime: turns an OCI runtime config.json (a parsed
 * jansson object) into a running container process, and runs extra processes in it.
 * Called by berth-shim, never by berthd (berthd writes bundles; DESIGN.md "Processes"),
 * except rt_cgroup_update: docker update writes a running container's cgroup from berthd.
 *
 * Contract:
 * - spec.root.path is the container's root filesystem, already mounted by berthd (the
 *   overlay "merged" dir), absolute or relative to the bundle dir.
 * - linux.namespaces: a namespace with a "path" is joined (setns), without one is new.
 * - linux.cgroupsPath "/berth/<id>" is created under every v1 hierarchy (or the v2 root)
 *   and linux.resources are applied to it before the process runs.
 * - The caller (the shim) is the parent and child subreaper of the container's init.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

struct berr;

struct rt_stdio {
        int in, out, err; /* fds that become 0, 1, 2 in the process; -1 gives /dev/null */
        bool terminal;    /* they are a pty slave: make it the controlling terminal */
        /* With terminal: in/out/err are ignored; the init opens a pty on the container's own
         * devpts (/dev/pts/0 inside), binds the slave over /dev/console, makes it its
         * controlling terminal and stdio, and hands the master to the caller (runc's
         * console socket): rt_container_console. For rt_container_exec: a pty of the
         * container's devpts, without the /dev/console bind. */
        bool console_in_container;
};

struct rt_container;

/* Build the container up to, but not including, execve of process.args: namespaces,
 * cgroup, mounts and pivot_root, /proc /sys /dev, masked and read-only paths, hostname,
 * rlimits, user and groups, capabilities, no-new-privileges, seccomp. The init then
 * waits for rt_container_start. Errors carry the step that failed, e.g.
 * "mount proc to /proc: Operation not permitted". */
int rt_container_create(const char *id, const char *bundle_dir, const json_t *spec, const struct rt_stdio *io,
                        struct rt_container **ret, struct berr *err);
/* The same; with @start_early, START goes to the init right behind CGROUP, so it execve's
 * as soon as it is ready, without a round trip through the caller after READY (the
 * caller must be ready for the process to run when this returns, or before: its output
 * watched). rt_container_start then only waits for the execve. */
int rt_container_create_ex(const char *id, const char *bundle_dir, const json_t *spec, const struct rt_stdio *io,
                           bool start_early, struct rt_container **ret, struct berr *err);

/* Let the init execve. Returns once the execve succeeded, or fails with Docker's wording:
 * `exec: "nope": executable file not found in $PATH`, `exec: "/etc": permission denied`. */
int rt_container_start(struct rt_container *c, struct berr *err);

pid_t rt_container_pid(const struct rt_container *c);
int rt_container_pidfd(const struct rt_container *c); /* owned by the container object */
/* The pty master of a container created with console_in_container (after create), -1
 * without one. Owned by the container object: closed by rt_container_free. */
int rt_container_console(const struct rt_container *c);

/* Run another process in the running container (docker exec): join its namespaces and
 * cgroup, then apply @process (an OCI "process" object: args, env, cwd, user, terminal,
 * capabilities, noNewPrivileges, apparmor/seccomp as the container's). The new process
 * is a child of the caller; *ret_pidfd is owned by the caller. With io->terminal and
 * io->console_in_container the process opens a pty on the container's devpts as its
 * stdio and *ret_console is the master (owned by the caller); else -1. */
int rt_container_exec(struct rt_container *c, const json_t *process, const struct rt_stdio *io, pid_t *ret_pid,
                      int *ret_pidfd, int *ret_console, struct berr *err);

/* Signal the init (or every process of the container if @all). */
int rt_container_kill(struct rt_container *c, int sig, bool all, struct berr *err);

/* Freeze (@pause) or thaw every process of the container's cgroup; returns once done. */
int rt_container_pause(struct rt_container *c, bool pause, struct berr *err);

/* True if the kernel OOM-killed a process of the container's cgroup. Call before destroy. */
bool rt_container_oom_killed(struct rt_container *c);

/* The same for the cgroup at @cgroups_path under @root, whoever made it (an external OCI
 * runtime run by the shim creates it at the spec's cgroupsPath too). */
bool rt_cgroup_path_oom_killed(const char *root, const char *cgroups_path);

/* After the init has exited: kill what is left in the cgroup, remove the cgroup. The
 * rootfs mount belongs to berthd and is left alone. */
int rt_container_destroy(struct rt_container *c, struct berr *err);

/* Accepts NULL; returns NULL. */
struct rt_container *rt_container_free(struct rt_container *c);

/* Keep compiled seccomp programs in @dir too (e.g. "/run/berth/seccomp", root-only), so
 * a new shim loads the program a previous one compiled from the same profile instead of
 * compiling it again. NULL: memory only (the default). */
void rt_set_seccomp_cache_dir(const char *dir);
/* A start or an exec begins: have the kernel's cgroup attach lock in its writer mode by
 * the time the shim attaches the process (cgroup_warm.c). Returns at once. */
void rt_cgroup_attach_warm(void);
/* The same for a start: the cgroup @cgroups_path (under @root) made first, without limits
 * (a mkdir would wait behind the warming). rt_cgroup_forget_at: a start that failed before
 * the shim took the cgroup over removes those (empty) directories. */
void rt_cgroup_attach_warm_at(const char *root, const char *cgroups_path);
void rt_cgroup_forget_at(const char *root, const char *cgroups_path);

/* docker update of a running container: write @resources (an OCI linux.resources object
 * holding only the values to change) to the cgroup @cgroups_path ("/berth/<id>") under
 * @root ("/sys/fs/cgroup"; tests pass a fake tree), v1 or v2 as found there. */
int rt_cgroup_update(const char *root, const char *cgroups_path, const json_t *resources, struct berr *err);

/* A sealed memfd copy of the executable @path (named @name in /proc/<pid>/exe), close-on-
 * exec: berthd starts berth-shim from it (execve of "/proc/self/fd/N"), so no process of
 * the shim's, the container's process before its execve included, leads back to the
 * host's binary (CVE-2019-5736). */
int rt_sealed_exe_open(const char *path, const char *name, int *ret_fd, struct berr *err);
/* A user namespace with @uid_map and @gid_map ("containerID hostID size\n" lines, as
 * /proc/<pid>/uid_map takes them), held only by the returned fd: berthd keeps one for
 * its --userns-remap maps, the userns_fd of idmapped mounts of image layers. */
int rt_userns_new(const char *uid_map, const char *gid_map, int *ret_fd, struct berr *err);

/* ---- cgroups_delegate.c: rootless berthd's delegated cgroup v2 subtree ---- */
struct rt_cgroup_delegation {
        char *mount;       /* a mount of the whole cgroup2 hierarchy ("/sys/fs/cgroup") */
        char *path;        /* berthd's own cgroup in it, the delegated one ("/user.slice/.../berth.service") */
        char *controllers; /* enabled for its children ("cpu memory pids", "" with none) */
};

/* True when the controller @name is a word of the space-separated @list. */
bool rt_cgroup_controllers_has(const char *list, const char *name);
/* The cgroup v2 path ("0::/path") in the text of /proc/<pid>/cgroup. */
int rt_cgroup2_own_path(const char *proc_cgroup, char **ret, struct berr *err);
/* The mount point of a cgroup2 mount of the whole hierarchy in mountinfo @text
 * (/sys/fs/cgroup when it is one, else the first: the hybrid layout's .../unified). */
int rt_cgroup2_mount_point(const char *mountinfo, char **ret, struct berr *err);
/* Take the cgroup @path under @mount as berthd's subtree if it is delegated to @uid (the
 * dir, cgroup.procs, cgroup.subtree_control and cgroup.threads belong to it): move its
 * processes into the child @leaf, enable every controller it has for its children, and
 * say which are on. @path ending in /@leaf (berthd started again from an earlier one's
 * leaf) stands for its parent. -EACCES (BERR_UNAVAILABLE) when it is not delegated. */
int rt_cgroup_delegate(const char *mount, const char *path, uid_t uid, const char *leaf,
                       struct rt_cgroup_delegation *ret, struct berr *err);
void rt_cgroup_delegation_done(struct rt_cgroup_delegation *dg);
