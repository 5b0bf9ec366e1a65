/* namespaces.c - linux.namespaces: which are new, which are joined by path, and the
 * pid-namespace dance around fork(). We fork() with glibc (which keeps malloc and the
 * other atfork state consistent in the child, unlike a raw clone3 from a possibly threaded
 * shim) and the child unshares the other namespaces itself. A new pid namespace only
 * applies to children, so the parent switches its own thread's pid_for_children around
 * the fork (unshare or setns CLONE_NEWPID are per thread and allowed in threaded
 * processes), and switches back at once. */
#include "runtime_int.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"

static const struct {
        const char *oci; /* linux.namespaces[].type */
        const char *proc; /* /proc/<pid>/ns/<name> */
        int flag;
} ns_table[_RT_NS_MAX] = {
        [RT_NS_MNT] = { "mount", "mnt", CLONE_NEWNS },
        [RT_NS_UTS] = { "uts", "uts", CLONE_NEWUTS },
        [RT_NS_IPC] = { "ipc", "ipc", CLONE_NEWIPC },
        [RT_NS_NET] = { "network", "net", CLONE_NEWNET },
        [RT_NS_PID] = { "pid", "pid", CLONE_NEWPID },
        [RT_NS_CGROUP] = { "cgroup", "cgroup", CLONE_NEWCGROUP },
        [RT_NS_USER] = { "user", "user", CLONE_NEWUSER },
};

static enum rt_ns ns_from_oci(const char *type) {
        for (int i = 0; i < _RT_NS_MAX; i++)
                if (STREQ(ns_table[i].oci, type))
                        return (enum rt_ns) i;
        return _RT_NS_INVALID;
}

void rt_ns_close(struct rt_namespaces *ns) {
        for (int i = 0; i < _RT_NS_MAX; i++) {
                if (ns->fd[i] >= 0)
                        (void) close(ns->fd[i]); /* read-only fd: nothing to report */
                ns->fd[i] = -1;
        }
}

int rt_ns_parse(const json_t *spec, struct rt_namespaces *ns, struct berr *err) {
        memset(ns, 0, sizeof(*ns));
        for (int i = 0; i < _RT_NS_MAX; i++)
                ns->fd[i] = -1;
        json_t *list = json_object_get(json_object_get(spec, "linux"), "namespaces");
        if (!list)
                return 0;
        if (!json_is_array(list))
                return berr_set(err, BERR_INVALID, EINVAL, "linux.namespaces: not an array");
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e) {
                const char *type = json_string_value(json_object_get(e, "type"));
                const char *path = json_string_value(json_object_get(e, "path"));
                enum rt_ns t = type ? ns_from_oci(type) : _RT_NS_INVALID;
                if (t == _RT_NS_INVALID) {
                        rt_ns_close(ns);
                        return berr_set(err, BERR_INVALID, EINVAL, "linux.namespaces: unknown namespace type \"%s\"",
                                        type ? type : "");
                }
                if (t == RT_NS_USER) {
                        rt_ns_close(ns);
                        return berr_set(err, BERR_NOT_IMPLEMENTED, EOPNOTSUPP,
                                        "user namespaces are not supported by this runtime");
                }
                if (path && path[0]) {
                        if (ns->fd[t] >= 0)
                                (void) close(ns->fd[t]);
                        ns->fd[t] = open(path, O_RDONLY | O_CLOEXEC);
                        if (ns->fd[t] < 0) {
                                int r = berr_sys(err, BERR_INVALID, "open %s namespace %s", type, path);
                                rt_ns_close(ns);
                                return r;
                        }
                        ns->is_new[t] = false;
                } else
                        ns->is_new[t] = true;
        }
        return 0;
}

int rt_ns_pid_enter(const struct rt_namespaces *ns, int join_pidfd, int *ret_saved, struct berr *err) {
        *ret_saved = -1;
        if (join_pidfd < 0 && !ns->is_new[RT_NS_PID] && ns->fd[RT_NS_PID] < 0)
                return 0;
        _cleanup_close_ int saved = open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (saved < 0)
                return berr_sys(err, BERR_INTERNAL, "open /proc/thread-self/ns/pid");
        int r;
        if (join_pidfd >= 0)
                r = setns(join_pidfd, CLONE_NEWPID);
        else if (ns->fd[RT_NS_PID] >= 0)
                r = setns(ns->fd[RT_NS_PID], CLONE_NEWPID);
        else
                r = unshare(CLONE_NEWPID);
        if (r < 0)
                return berr_sys(err, BERR_INTERNAL, "%s pid namespace", join_pidfd >= 0 || ns->fd[RT_NS_PID] >= 0 ? "join" : "create");
        *ret_saved = TAKE_FD(saved);
        return 0;
}

int rt_ns_pid_leave(int saved, struct berr *err) {
        if (saved < 0)
                return 0;
        int r = setns(saved, CLONE_NEWPID);
        int e = errno;
        (void) close(saved);
        if (r < 0) {
                errno = e;
                return berr_sys(err, BERR_INTERNAL, "return to the shim's pid namespace");
        }
        return 0;
}

int rt_ns_child_setup(const struct rt_namespaces *ns, int (*before_cgroupns)(void *, struct berr *), void *userdata,
                      struct berr *err) {
        /* Join before creating: a joined network namespace is where the new ones live. */
        static const enum rt_ns order[] = { RT_NS_NET, RT_NS_IPC, RT_NS_UTS, RT_NS_MNT, RT_NS_CGROUP };
        int flags = 0;
        bool waited = false;
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                enum rt_ns t = order[i];
                if (t == RT_NS_CGROUP && ns->fd[t] >= 0 && before_cgroupns && !waited) {
                        int r = before_cgroupns(userdata, err);
                        if (r < 0)
                                return r;
                        waited = true;
                }
                if (ns->fd[t] >= 0) {
                        if (setns(ns->fd[t], ns_table[t].flag) < 0)
                                return berr_sys(err, BERR_INTERNAL, "join %s namespace", ns_table[t].oci);
                } else if (ns->is_new[t] && t != RT_NS_CGROUP)
                        flags |= ns_table[t].flag;
        }
        if (flags && unshare(flags) < 0)
                return berr_sys(err, BERR_INTERNAL, "unshare namespaces");
        /* Last, so that the namespace's root is the container's cgroup the parent put us in. */
        if (ns->is_new[RT_NS_CGROUP]) {
                if (before_cgroupns && !waited) {
                        int r = before_cgroupns(userdata, err);
                        if (r < 0)
                                return r;
                }
                if (unshare(CLONE_NEWCGROUP) < 0)
                        return berr_sys(err, BERR_INTERNAL, "unshare cgroup namespace");
        }
        return 0;
}

static int ns_differs(pid_t pid, enum rt_ns t, bool *ret) {
        char p[64];
        struct stat a, b;
        snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int) pid, ns_table[t].proc);
        if (stat(p, &a) < 0)
                return -errno;
        snprintf(p, sizeof(p), "/proc/self/ns/%s", ns_table[t].proc);
        if (stat(p, &b) < 0)
                return -errno;
        *ret = a.st_ino != b.st_ino || a.st_dev != b.st_dev;
        return 0;
}

int rt_ns_exec_join(pid_t init_pid, int init_pidfd, struct berr *err) {
        static const enum rt_ns kinds[] = { RT_NS_IPC, RT_NS_UTS, RT_NS_NET, RT_NS_CGROUP, RT_NS_MNT };
        int flags = 0;
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                bool differs = false;
                int r = ns_differs(init_pid, kinds[i], &differs);
                if (r < 0) {
                        errno = -r;
                        return berr_sys(err, BERR_INTERNAL, "%s namespace of pid %d", ns_table[kinds[i]].oci,
                                        (int) init_pid);
                }
                if (differs)
                        flags |= ns_table[kinds[i]].flag;
        }
        /* One call joins them all atomically; the mount namespace also moves root and cwd
         * to that namespace's root, which is the container's after its pivot_root. */
        if (flags && setns(init_pidfd, flags) < 0)
                return berr_sys(err, BERR_INTERNAL, "join the namespaces of pid %d", (int) init_pid);
        return 0;
}
