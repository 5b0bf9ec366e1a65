/* namespaces.c - linux.namespaces: which are new, which are joined by path, the user
 * namespace and its maps, and the pid-namespace dance around fork(). We fork() with glibc
 * (which keeps malloc and the other atfork state consistent in the child, unlike a raw
 * clone3 from a possibly threaded shim) and the child unshares the other namespaces
 * itself. A new pid namespace only applies to children, so the parent switches its own
 * thread's pid_for_children around the fork (unshare or setns CLONE_NEWPID are per thread
 * and allowed in threaded processes), and switches back at once.
 *
 * A new user namespace cannot be made that way (unshare/setns CLONE_NEWUSER refuse a
 * threaded caller), and every namespace the container creates must be owned by it (proc,
 * sysfs and mqueue mounts check the owner of the pid, net and ipc namespaces). So a
 * short-lived helper process unshares it, the shim writes its uid_map and gid_map, keeps
 * an fd of it and lets the helper go: from there on it is "joined by path". The child
 * joins the namespaces given by path first (still as the host's root: a network namespace
 * berthd made is owned by the host's user namespace), then the user namespace, becomes
 * its root, and unshares the rest inside it. A new pid namespace is made there too
 * (pid_in_child: one nobody entered cannot be opened to join from the parent), and the
 * caller forks the init into it. Rootless, the shim could not switch back from a pid
 * namespace it entered, so that is done in the child as well. */
#include "runtime_int.h"

#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
        if (join_pidfd < 0 && ((!ns->is_new[RT_NS_PID] && ns->fd[RT_NS_PID] < 0) || ns->pid_in_child))
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

static int lo_up(struct berr *err) {
        _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                return berr_sys(err, BERR_INTERNAL, "bring lo up");
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
                return berr_sys(err, BERR_INTERNAL, "bring lo up");
        return 0;
}

/* Inside the user namespace just joined: become its root (the kernel ids the maps give
 * container ids 0), with no supplementary groups of the host's (they are unmapped). */
static int become_userns_root(struct berr *err) {
        if (setgroups(0, NULL) < 0)
                return berr_sys(err, BERR_INTERNAL, "setgroups in the user namespace");
        if (setresgid(0, 0, 0) < 0)
                return berr_sys(err, BERR_INTERNAL, "setresgid 0 in the user namespace (is gid 0 mapped?)");
        if (setresuid(0, 0, 0) < 0)
                return berr_sys(err, BERR_INTERNAL, "setresuid 0 in the user namespace (is uid 0 mapped?)");
        return 0;
}

int rt_ns_child_setup(const struct rt_namespaces *ns, int (*before_cgroupns)(void *, struct berr *),
                      int (*before_userns)(void *, struct berr *), void *userdata, struct berr *err) {
        /* Join before creating: a joined network namespace is where the new ones live. */
        static const enum rt_ns order[] = { RT_NS_NET, RT_NS_IPC, RT_NS_UTS, RT_NS_MNT, RT_NS_CGROUP };
        int flags = 0;
        bool waited = false;
        if (ns->is_new[RT_NS_USER])
                return berr_set(err, BERR_INTERNAL, EINVAL, "user namespace not prepared (rt_userns_prepare)");
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
        if (ns->pid_in_child)
                flags |= CLONE_NEWPID; /* for our children: the caller forks the init into it */
        /* The user namespace last of the joined ones: once in it, we hold no capability over
         * namespaces the host's user namespace owns. The new ones below are then its own. */
        if (ns->fd[RT_NS_USER] >= 0) {
                if (before_userns) {
                        int r = before_userns(userdata, err);
                        if (r < 0)
                                return r;
                }
                if (setns(ns->fd[RT_NS_USER], CLONE_NEWUSER) < 0)
                        return berr_sys(err, BERR_INTERNAL, "join user namespace");
                int r = become_userns_root(err);
                if (r < 0)
                        return r;
        }
        if (flags && unshare(flags) < 0)
                return berr_sys(err, BERR_INTERNAL, "unshare namespaces");
        if (flags & CLONE_NEWNET) {
                int r = lo_up(err); /* berthd brings it up in the namespaces it makes; here we made it */
                if (r < 0)
                        return r;
        }
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

/* ---- user namespace ---- */

#define USERNS_MAP_MAX 4096 /* bytes of a uid_map/gid_map; the kernel takes at most 340 lines */

int rt_userns_map_text(const json_t *mappings, char *buf, size_t size, struct berr *err) {
        size_t len = 0;
        buf[0] = '\0';
        if (!json_is_array(mappings) || json_array_size(mappings) == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "a user namespace needs linux.uidMappings and linux.gidMappings");
        size_t i;
        json_t *m;
        json_array_foreach(mappings, i, m) {
                json_t *c = json_object_get(m, "containerID"), *h = json_object_get(m, "hostID"),
                       *n = json_object_get(m, "size");
                if (!json_is_integer(c) || !json_is_integer(h) || !json_is_integer(n) || json_integer_value(c) < 0 ||
                    json_integer_value(h) < 0 || json_integer_value(n) <= 0 || json_integer_value(c) > UINT32_MAX ||
                    json_integer_value(h) > UINT32_MAX || json_integer_value(n) > UINT32_MAX)
                        return berr_set(err, BERR_INVALID, EINVAL, "id mapping %zu: bad containerID, hostID or size", i);
                int k = snprintf(buf + len, size - len, "%lld %lld %lld\n", (long long) json_integer_value(c),
                                 (long long) json_integer_value(h), (long long) json_integer_value(n));
                if (k < 0 || (size_t) k >= size - len)
                        return berr_set(err, BERR_INVALID, E2BIG, "id mappings: too many ranges");
                len += (size_t) k;
        }
        return 0;
}

static int write_map(pid_t pid, const char *file, const char *text, struct berr *err) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, file);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", path);
        size_t n = strlen(text);
        if (write(fd, text, n) != (ssize_t) n)
                return berr_sys(err, BERR_INTERNAL, "write %s", file);
        return 0;
}

int rt_userns_create(const char *uid_map, const char *gid_map, int join_userns_fd, bool new_pidns,
                     int *ret_userns_fd, int *ret_pidns_fd, struct berr *err) {
        int go[2], status[2];
        if (pipe2(go, O_CLOEXEC) < 0)
                return berr_sys(err, BERR_INTERNAL, "pipe");
        if (pipe2(status, O_CLOEXEC) < 0) {
                int r = berr_sys(err, BERR_INTERNAL, "pipe");
                (void) close(go[0]);
                (void) close(go[1]);
                return r;
        }
        pid_t pid = fork();
        if (pid == 0) {
                /* Only async-signal-safe calls: the caller may be threaded. */
                (void) close(go[1]);
                (void) close(status[0]);
                int e = 0;
                if (join_userns_fd >= 0 ? setns(join_userns_fd, CLONE_NEWUSER) < 0 : unshare(CLONE_NEWUSER) < 0)
                        e = errno;
                else if (new_pidns && unshare(CLONE_NEWPID) < 0)
                        e = -errno;
                (void) !write(status[1], &e, sizeof(e));
                char c;
                (void) !read(go[0], &c, 1); /* EOF: the parent has what it needs */
                _exit(0);
        }
        int fork_errno = errno;
        (void) close(go[0]);
        (void) close(status[1]);
        _cleanup_close_ int go_fd = go[1], status_fd = status[0];
        if (pid < 0) {
                errno = fork_errno;
                return berr_sys(err, BERR_INTERNAL, "fork the user namespace helper");
        }
        int r = 0, e = 0;
        _cleanup_close_ int ufd = -1, pfd = -1;
        if (read(status_fd, &e, sizeof(e)) != sizeof(e))
                r = berr_set(err, BERR_INTERNAL, EPIPE, "the user namespace helper died");
        else if (e) {
                errno = e > 0 ? e : -e;
                r = berr_sys(err, BERR_INTERNAL, e > 0 ? "create user namespace" : "create pid namespace");
        }
        if (r == 0 && uid_map && join_userns_fd < 0) {
                r = write_map(pid, "uid_map", uid_map, err);
                if (r == 0)
                        r = write_map(pid, "gid_map", gid_map, err);
        }
        char path[64];
        if (r == 0) {
                snprintf(path, sizeof(path), "/proc/%d/ns/user", (int) pid);
                ufd = open(path, O_RDONLY | O_CLOEXEC);
                if (ufd < 0)
                        r = berr_sys(err, BERR_INTERNAL, "open %s", path);
        }
        if (r == 0 && new_pidns) {
                snprintf(path, sizeof(path), "/proc/%d/ns/pid_for_children", (int) pid);
                pfd = open(path, O_RDONLY | O_CLOEXEC);
                if (pfd < 0)
                        r = berr_sys(err, BERR_INTERNAL, "open %s", path);
        }
        (void) close(TAKE_FD(go_fd));
        if (r < 0)
                (void) kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        if (r < 0)
                return r;
        *ret_userns_fd = TAKE_FD(ufd);
        if (ret_pidns_fd)
                *ret_pidns_fd = TAKE_FD(pfd);
        return 0;
}

bool rt_in_user_namespace(void) {
        _cleanup_close_ int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
        char buf[128];
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        unsigned long a, b, c;
        /* the initial namespace maps everything: "0 0 4294967295" */
        return !(sscanf(buf, "%lu %lu %lu", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295UL);
}

int rt_userns_new(const char *uid_map, const char *gid_map, int *ret_fd, struct berr *err) {
        return rt_userns_create(uid_map, gid_map, -1, false, ret_fd, NULL, err);
}

int rt_userns_prepare(const json_t *spec, struct rt_namespaces *ns, struct berr *err) {
        bool new_user = ns->is_new[RT_NS_USER] && ns->fd[RT_NS_USER] < 0;
        if (!new_user && ns->fd[RT_NS_USER] < 0 && !rt_in_user_namespace())
                return 0;
        if (new_user) {
                char uid_map[USERNS_MAP_MAX], gid_map[USERNS_MAP_MAX];
                json_t *lnx = json_object_get(spec, "linux");
                int r = rt_userns_map_text(json_object_get(lnx, "uidMappings"), uid_map, sizeof(uid_map), err);
                if (r == 0)
                        r = rt_userns_map_text(json_object_get(lnx, "gidMappings"), gid_map, sizeof(gid_map), err);
                if (r == 0)
                        r = rt_userns_create(uid_map, gid_map, -1, false, &ns->fd[RT_NS_USER], NULL, err);
                if (r < 0)
                        return r;
                ns->is_new[RT_NS_USER] = false;
        }
        /* A new pid namespace must be owned by the container's user namespace, and one
         * that no process has entered cannot be opened (pid_for_children wants an init):
         * the child makes it from inside the user namespace and forks the init into it. */
        /* Rootless, the shim could not go back to its own pid namespace (the host's user
         * namespace owns it) after entering the new one: the child does it there too. */
        if ((ns->fd[RT_NS_USER] >= 0 || rt_in_user_namespace()) && ns->is_new[RT_NS_PID] && ns->fd[RT_NS_PID] < 0)
                ns->pid_in_child = true;
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
        static const enum rt_ns kinds[] = { RT_NS_IPC, RT_NS_UTS, RT_NS_NET, RT_NS_CGROUP, RT_NS_MNT, RT_NS_USER };
        int flags = 0;
        bool user_differs = false;
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                bool differs = false;
                int r = ns_differs(init_pid, kinds[i], &differs);
                if (r < 0) {
                        errno = -r;
                        return berr_sys(err, BERR_INTERNAL, "%s namespace of pid %d", ns_table[kinds[i]].oci,
                                        (int) init_pid);
                }
                if (differs && kinds[i] == RT_NS_USER)
                        user_differs = true;
                else if (differs)
                        flags |= ns_table[kinds[i]].flag;
        }
        /* One call joins them all atomically; the mount namespace also moves root and cwd
         * to that namespace's root, which is the container's after its pivot_root. The user
         * namespace comes after, on its own: joined in the same call, the others would be
         * checked against its credentials, and a network namespace berthd made is not its. */
        if (flags && setns(init_pidfd, flags) < 0)
                return berr_sys(err, BERR_INTERNAL, "join the namespaces of pid %d", (int) init_pid);
        if (user_differs) {
                if (setns(init_pidfd, CLONE_NEWUSER) < 0)
                        return berr_sys(err, BERR_INTERNAL, "join the user namespace of pid %d", (int) init_pid);
                return become_userns_root(err);
        }
        return 0;
}
