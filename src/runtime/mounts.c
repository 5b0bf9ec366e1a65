/* mounts.c - the container's filesystem view: propagation, the rootfs bind, spec.mounts in
 * order, pivot_root, then masked and read-only paths and a read-only root.
 *
 * Every destination is resolved inside the rootfs by rt_resolve_in_root, a walk that
 * follows symlinks relative to the container root and never above it (the class of
 * CVE-2015-3627/CVE-2021-30465/CVE-2024-21626), creating missing mountpoints; the final
 * open is openat2(RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS), and mounts are attached to that fd
 * with the new mount API (fsopen/fsmount, open_tree, move_mount), so no path string is
 * resolved twice. Attributes (ro, nosuid...) are set before the mount is attached.
 * As with runc, a destination on or inside /proc (as written, and as resolved) is refused
 * unless it is a proc filesystem on /proc or one of the files lxcfs emulates. */
#include "runtime_int.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#define MAX_SYMLINK_HOPS 40

static int openat2_in_root(int rootfd, const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        return fs_openat2(rootfd, path[0] ? path : "/", &how);
}

/* Pop the first component of *rem into @buf; false when none is left. */
static bool next_component(const char **rem, char *buf, size_t size) {
        const char *p = *rem;
        while (*p == '/')
                p++;
        if (!*p)
                return false;
        const char *s = p;
        while (*p && *p != '/')
                p++;
        size_t n = (size_t) (p - s);
        if (n >= size)
                n = size - 1; /* NAME_MAX is checked by the kernel on use */
        memcpy(buf, s, n);
        buf[n] = '\0';
        *rem = p;
        return true;
}

static bool only_slashes(const char *s) {
        return strspn(s, "/") == strlen(s);
}

int rt_resolve_in_root(int rootfd, const char *path, enum rt_resolve how, int *ret_fd, char **ret_resolved,
                       struct berr *err) {
        char resolved[PATH_MAX] = "";
        _cleanup_free_ char *pending = strdup(path);
        if (!pending)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        const char *rem = pending;
        int hops = 0;
        char comp[NAME_MAX + 1];
        while (next_component(&rem, comp, sizeof(comp))) {
                if (STREQ(comp, "."))
                        continue;
                if (STREQ(comp, "..")) {
                        char *slash = strrchr(resolved, '/');
                        if (slash)
                                *slash = '\0';
                        continue;
                }
                bool is_last = only_slashes(rem);
                _cleanup_close_ int parent = openat2_in_root(rootfd, resolved, O_PATH | O_DIRECTORY);
                if (parent < 0)
                        return berr_sys(err, BERR_INTERNAL, "open %s in the container root", resolved[0] ? resolved : "/");
                struct stat st;
                if (fstatat(parent, comp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno != ENOENT || how == RT_RESOLVE_EXISTING)
                                return berr_sys(err, errno == ENOENT ? BERR_NOT_FOUND : BERR_INTERNAL, "stat %s/%s",
                                                resolved, comp);
                        int r;
                        if (!is_last || how == RT_RESOLVE_MKDIR)
                                r = mkdirat(parent, comp, 0755);
                        else {
                                r = openat(parent, comp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
                                if (r >= 0)
                                        r = close(r);
                        }
                        if (r < 0 && errno != EEXIST)
                                return berr_sys(err, BERR_INTERNAL, "create mountpoint %s/%s", resolved, comp);
                        if (r < 0) { /* raced with something else: look again */
                                rem -= strlen(comp);
                                continue;
                        }
                } else if (S_ISLNK(st.st_mode)) {
                        if (++hops > MAX_SYMLINK_HOPS)
                                return berr_set(err, BERR_INVALID, ELOOP, "resolve %s: too many levels of symbolic links", path);
                        char target[PATH_MAX];
                        ssize_t n = readlinkat(parent, comp, target, sizeof(target) - 1);
                        if (n < 0)
                                return berr_sys(err, BERR_INTERNAL, "readlink %s/%s", resolved, comp);
                        target[n] = '\0';
                        char *next = NULL;
                        if (asprintf(&next, "%s/%s", target, rem) < 0)
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        free(pending);
                        pending = next;
                        rem = pending;
                        if (target[0] == '/')
                                resolved[0] = '\0'; /* absolute: from the container's root */
                        continue;
                } else if (!is_last && !S_ISDIR(st.st_mode))
                        return berr_set(err, BERR_INVALID, ENOTDIR, "resolve %s: %s/%s is not a directory", path,
                                        resolved, comp);
                size_t len = strlen(resolved);
                if (len + 1 + strlen(comp) >= sizeof(resolved))
                        return berr_set(err, BERR_INVALID, ENAMETOOLONG, "resolve %s: path too long", path);
                resolved[len] = '/';
                strcpy(resolved + len + 1, comp);
        }
        int fd = openat2_in_root(rootfd, resolved, O_PATH);
        if (fd < 0)
                return berr_sys(err, errno == ENOENT ? BERR_NOT_FOUND : BERR_INTERNAL, "open %s in the container root",
                                resolved[0] ? resolved : "/");
        if (ret_resolved) {
                *ret_resolved = strdup(resolved[0] ? resolved : "/");
                if (!*ret_resolved) {
                        (void) close(fd);
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                }
        }
        *ret_fd = fd;
        return 0;
}

/* ---- what may be mounted on /proc ---- */

/* runc's list: the files lxcfs emulates. */
static const char *const proc_mount_allowed[] = {
        "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
        "/proc/swaps",   "/proc/uptime",    "/proc/loadavg", "/proc/slabinfo",
        "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",    "/proc/sys/crypto/fips_enabled",
};

int rt_mount_check_proc(const char *dest, bool is_procfs, struct berr *err) {
        if (strlen(dest) >= PATH_MAX)
                return berr_set(err, BERR_INVALID, ENAMETOOLONG, "mount destination: path too long");
        char clean[PATH_MAX];
        fs_clean_abs_path(dest, clean, sizeof(clean));
        if (strncmp(clean, "/proc", 5) != 0 || (clean[5] != '\0' && clean[5] != '/'))
                return 0;
        if (!clean[5]) {
                if (is_procfs)
                        return 0;
                return berr_set(err, BERR_INVALID, EPERM, "\"%s\" cannot be mounted because it is not of type proc", clean);
        }
        for (size_t i = 0; i < ELEMENTSOF(proc_mount_allowed); i++)
                if (STREQ(clean, proc_mount_allowed[i]))
                        return 0;
        return berr_set(err, BERR_INVALID, EPERM, "\"%s\" cannot be mounted because it is inside /proc", clean);
}

/* A mount destination, checked as written and again as resolved (a symlink in the image
 * may lead into /proc), then resolved to an fd to attach to. */
static int resolve_dest(int rootfd, const char *what, const char *dest, enum rt_resolve how, bool is_procfs, int *ret_fd,
                        struct berr *err) {
        int r = rt_mount_check_proc(dest, is_procfs, err);
        if (r < 0)
                return berr_wrap(err, "mount %s to %s", what, dest);
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *resolved = NULL;
        r = rt_resolve_in_root(rootfd, dest, how, &fd, &resolved, err);
        if (r == 0)
                r = rt_mount_check_proc(resolved, is_procfs, err);
        if (r < 0)
                return berr_wrap(err, "mount %s to %s", what, dest);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* ---- mount options ---- */

enum opt_kind { OPT_ATTR, OPT_ATIME, OPT_PROP, OPT_BIND, OPT_IGNORE };

static const struct mount_opt {
        const char *name;
        enum opt_kind kind;
        bool clear, recursive;
        uint64_t value; /* MOUNT_ATTR_* or MS_ propagation */
} mount_opts[] = {
        { "ro", OPT_ATTR, false, false, MOUNT_ATTR_RDONLY },
        { "rw", OPT_ATTR, true, false, MOUNT_ATTR_RDONLY },
        { "nosuid", OPT_ATTR, false, false, MOUNT_ATTR_NOSUID },
        { "suid", OPT_ATTR, true, false, MOUNT_ATTR_NOSUID },
        { "nodev", OPT_ATTR, false, false, MOUNT_ATTR_NODEV },
        { "dev", OPT_ATTR, true, false, MOUNT_ATTR_NODEV },
        { "noexec", OPT_ATTR, false, false, MOUNT_ATTR_NOEXEC },
        { "exec", OPT_ATTR, true, false, MOUNT_ATTR_NOEXEC },
        { "nodiratime", OPT_ATTR, false, false, MOUNT_ATTR_NODIRATIME },
        { "diratime", OPT_ATTR, true, false, MOUNT_ATTR_NODIRATIME },
        { "nosymfollow", OPT_ATTR, false, false, MOUNT_ATTR_NOSYMFOLLOW },
        { "symfollow", OPT_ATTR, true, false, MOUNT_ATTR_NOSYMFOLLOW },
        { "rro", OPT_ATTR, false, true, MOUNT_ATTR_RDONLY },
        { "rrw", OPT_ATTR, true, true, MOUNT_ATTR_RDONLY },
        { "rnosuid", OPT_ATTR, false, true, MOUNT_ATTR_NOSUID },
        { "rnodev", OPT_ATTR, false, true, MOUNT_ATTR_NODEV },
        { "rnoexec", OPT_ATTR, false, true, MOUNT_ATTR_NOEXEC },
        { "relatime", OPT_ATIME, false, false, MOUNT_ATTR_RELATIME },
        { "norelatime", OPT_ATIME, false, false, MOUNT_ATTR_RELATIME },
        { "strictatime", OPT_ATIME, false, false, MOUNT_ATTR_STRICTATIME },
        { "nostrictatime", OPT_ATIME, false, false, MOUNT_ATTR_RELATIME },
        { "noatime", OPT_ATIME, false, false, MOUNT_ATTR_NOATIME },
        { "atime", OPT_ATIME, false, false, MOUNT_ATTR_RELATIME },
        { "private", OPT_PROP, false, false, MS_PRIVATE },
        { "rprivate", OPT_PROP, false, true, MS_PRIVATE },
        { "shared", OPT_PROP, false, false, MS_SHARED },
        { "rshared", OPT_PROP, false, true, MS_SHARED },
        { "slave", OPT_PROP, false, false, MS_SLAVE },
        { "rslave", OPT_PROP, false, true, MS_SLAVE },
        { "unbindable", OPT_PROP, false, false, MS_UNBINDABLE },
        { "runbindable", OPT_PROP, false, true, MS_UNBINDABLE },
        { "bind", OPT_BIND, false, false, 0 },
        { "rbind", OPT_BIND, false, true, 0 },
        { "tmpcopyup", OPT_IGNORE, false, false, 0 }, /* runc extension: not supported, harmless */
        { "remount", OPT_IGNORE, false, false, 0 },
        { "defaults", OPT_IGNORE, false, false, 0 },
        { "async", OPT_IGNORE, false, false, 0 },
        { "nomand", OPT_IGNORE, false, false, 0 },
        { "loud", OPT_IGNORE, false, false, 0 },
};

#define MAX_DATA_OPTS 32

struct mnt_opts {
        struct mount_attr attr; /* attr_set / attr_clr */
        bool attr_recursive;
        uint64_t propagation;
        bool prop_recursive;
        bool is_bind, is_rbind;
        const char *data[MAX_DATA_OPTS]; /* filesystem options, "key" or "key=value", for fsconfig */
        size_t n_data;
};

static int parse_opts(const json_t *options, struct mnt_opts *o, struct berr *err) {
        memset(o, 0, sizeof(*o));
        size_t i;
        json_t *v;
        json_array_foreach(options, i, v) {
                const char *s = json_string_value(v);
                if (!s)
                        return berr_set(err, BERR_INVALID, EINVAL, "mount options: not a string");
                const struct mount_opt *m = NULL;
                for (size_t k = 0; k < ELEMENTSOF(mount_opts); k++)
                        if (STREQ(mount_opts[k].name, s))
                                m = &mount_opts[k];
                if (!m) {
                        if (o->n_data == MAX_DATA_OPTS)
                                return berr_set(err, BERR_INVALID, E2BIG, "mount options: too many");
                        o->data[o->n_data++] = s;
                        continue;
                }
                switch (m->kind) {
                case OPT_ATTR:
                        if (m->clear) {
                                o->attr.attr_clr |= m->value;
                                o->attr.attr_set &= ~m->value;
                        } else {
                                o->attr.attr_set |= m->value;
                                o->attr.attr_clr &= ~m->value;
                        }
                        o->attr_recursive |= m->recursive;
                        break;
                case OPT_ATIME:
                        o->attr.attr_clr |= MOUNT_ATTR__ATIME;
                        o->attr.attr_set = (o->attr.attr_set & ~(uint64_t) MOUNT_ATTR__ATIME) | m->value;
                        break;
                case OPT_PROP:
                        o->propagation = m->value;
                        o->prop_recursive = m->recursive;
                        break;
                case OPT_BIND:
                        o->is_bind = true;
                        o->is_rbind |= m->recursive;
                        break;
                case OPT_IGNORE:
                        break;
                }
        }
        return 0;
}

static int set_attr(int mfd, const struct mount_attr *a, bool recursive) {
        if (!a->attr_set && !a->attr_clr && !a->propagation)
                return 0;
        struct mount_attr copy = *a;
        return mount_setattr(mfd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &copy, sizeof(copy));
}

static int set_propagation(int mfd, const struct mnt_opts *o) {
        if (!o->propagation)
                return 0;
        struct mount_attr a = { .propagation = o->propagation };
        return set_attr(mfd, &a, o->prop_recursive);
}

/* The kernel's own words from an fs context ("e tmpfs: Bad value for 'size'"), if any. */
static void fs_context_message(int fsfd, char *buf, size_t size) {
        buf[0] = '\0';
        char line[256];
        ssize_t n = read(fsfd, line, sizeof(line) - 1);
        if (n > 2) {
                line[n] = '\0';
                snprintf(buf, size, " (%s)", line + 2);
        }
}

/* fsopen + fsconfig + fsmount: a detached mount of a fresh filesystem. */
static int new_fs_mount(const char *type, const char *source, const struct mnt_opts *o, const char *dest, int *ret_mfd,
                        struct berr *err) {
        _cleanup_close_ int fsfd = fsopen(type, FSOPEN_CLOEXEC);
        if (fsfd < 0)
                return berr_sys(err, BERR_INTERNAL, "mount %s to %s", source ? source : type, dest);
        if (source && fsconfig(fsfd, FSCONFIG_SET_STRING, "source", source, 0) < 0)
                return berr_sys(err, BERR_INTERNAL, "mount %s to %s: source", source, dest);
        for (size_t i = 0; i < o->n_data; i++) {
                char key[128];
                const char *eq = strchr(o->data[i], '=');
                snprintf(key, sizeof(key), "%.*s", eq ? (int) (eq - o->data[i]) : (int) strlen(o->data[i]), o->data[i]);
                int r = eq ? fsconfig(fsfd, FSCONFIG_SET_STRING, key, eq + 1, 0)
                           : fsconfig(fsfd, FSCONFIG_SET_FLAG, key, NULL, 0);
                if (r < 0) {
                        int e = errno;
                        char msg[300];
                        fs_context_message(fsfd, msg, sizeof(msg));
                        errno = e;
                        return berr_sys(err, BERR_INVALID, "mount %s to %s: option %s%s", source ? source : type, dest,
                                        o->data[i], msg);
                }
        }
        if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
                int e = errno;
                char msg[300];
                fs_context_message(fsfd, msg, sizeof(msg));
                errno = e;
                return berr_sys(err, BERR_INTERNAL, "mount %s to %s%s", source ? source : type, dest, msg);
        }
        unsigned attrs = (unsigned) (o->attr.attr_set & (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                                         MOUNT_ATTR_NOEXEC | MOUNT_ATTR__ATIME |
                                                         MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW));
        int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
        if (mfd < 0)
                return berr_sys(err, BERR_INTERNAL, "mount %s to %s", source ? source : type, dest);
        *ret_mfd = mfd;
        return 0;
}

static int attach(int mfd, int destfd, const char *what, const char *dest, struct berr *err) {
        if (move_mount(mfd, "", destfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return berr_sys(err, BERR_INTERNAL, "mount %s to %s", what, dest);
        return 0;
}

static int bind_mount(int rootfd, const char *source, const char *dest, const struct mnt_opts *o, struct berr *err) {
        struct stat st;
        if (stat(source, &st) < 0)
                return berr_sys(err, BERR_INVALID, "mount %s to %s: stat source", source, dest);
        _cleanup_close_ int tree =
                open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (o->is_rbind ? AT_RECURSIVE : 0));
        if (tree < 0)
                return berr_sys(err, BERR_INTERNAL, "mount %s to %s", source, dest);
        /* A read-only rbind is read-only all the way down, submounts included. */
        if (set_attr(tree, &o->attr, o->is_rbind || o->attr_recursive) < 0)
                return berr_sys(err, BERR_INTERNAL, "mount %s to %s: set attributes", source, dest);
        struct statfs sfs; /* of what was opened: the path may have changed since */
        if (fstatfs(tree, &sfs) < 0)
                return berr_sys(err, BERR_INTERNAL, "mount %s to %s: statfs source", source, dest);
        _cleanup_close_ int destfd = -1;
        int r = resolve_dest(rootfd, source, dest, S_ISDIR(st.st_mode) ? RT_RESOLVE_MKDIR : RT_RESOLVE_MKFILE,
                             sfs.f_type == PROC_SUPER_MAGIC, &destfd, err);
        if (r < 0)
                return r;
        r = attach(tree, destfd, source, dest, err);
        if (r == 0 && set_propagation(tree, o) < 0)
                r = berr_sys(err, BERR_INTERNAL, "mount %s to %s: set propagation", source, dest);
        return r;
}

/* /sys/fs/cgroup. v1 (host cgroup namespace, as dockerd runs v1 hosts): a tmpfs holding a
 * read-only bind of the container's own dir of each hierarchy. v2: a cgroup2 mount under
 * a new cgroup namespace, else a bind of the container's dir. */
static int cgroup_mount(int rootfd, const struct rt_mount_ctx *m, const char *dest, const struct mnt_opts *o,
                        struct berr *err) {
        const struct rt_cgroup *cg = m->cg;
        _cleanup_close_ int destfd = -1;
        int r = resolve_dest(rootfd, "cgroup", dest, RT_RESOLVE_MKDIR, false, &destfd, err);
        if (r < 0)
                return r;
        if (!cg || cg->mode == RT_CGROUP_V2) {
                _cleanup_close_ int mfd = -1;
                struct mnt_opts bare = *o;
                bare.n_data = 0;
                if (m->has_new_cgroupns || !cg)
                        r = new_fs_mount("cgroup2", "cgroup", &bare, dest, &mfd, err);
                if (r == -EPERM && !cg) {
                        /* rootless without a cgroup of its own, in the host's cgroup namespace:
                         * the host's tree, read-only, as sysfs falls back to the host's /sys */
                        struct mnt_opts bo = *o;
                        bo.n_data = 0;
                        bo.is_bind = bo.is_rbind = bo.attr_recursive = true;
                        bo.attr.attr_set |= MOUNT_ATTR_RDONLY;
                        bo.attr.attr_clr &= ~(uint64_t) MOUNT_ATTR_RDONLY;
                        _cleanup_close_ int unused = TAKE_FD(destfd);
                        return bind_mount(rootfd, "/sys/fs/cgroup", dest, &bo, err);
                }
                else {
                        mfd = open_tree(AT_FDCWD, cg->hier[0].dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
                        r = mfd < 0 ? berr_sys(err, BERR_INTERNAL, "mount %s to %s", cg->hier[0].dir, dest) : 0;
                        if (r == 0 && set_attr(mfd, &o->attr, false) < 0)
                                r = berr_sys(err, BERR_INTERNAL, "mount %s to %s: set attributes", cg->hier[0].dir, dest);
                }
                return r < 0 ? r : attach(mfd, destfd, "cgroup", dest, err);
        }
        struct mnt_opts tmpfs = { .attr.attr_set = o->attr.attr_set & ~(uint64_t) MOUNT_ATTR_RDONLY,
                                  .data = { "mode=755" }, .n_data = 1 };
        _cleanup_close_ int tfd = -1;
        r = new_fs_mount("tmpfs", "tmpfs", &tmpfs, dest, &tfd, err);
        if (r == 0)
                r = attach(tfd, destfd, "tmpfs", dest, err);
        for (size_t i = 0; r == 0 && i < cg->n_hier; i++) {
                const char *name = cg->hier[i].name;
                if (mkdirat(tfd, name, 0755) < 0)
                        return berr_sys(err, BERR_INTERNAL, "mkdir %s/%s", dest, name);
                _cleanup_close_ int tree = open_tree(AT_FDCWD, cg->hier[i].dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
                if (tree < 0)
                        return berr_sys(err, BERR_INTERNAL, "mount %s to %s/%s", cg->hier[i].dir, dest, name);
                if (set_attr(tree, &o->attr, false) < 0)
                        return berr_sys(err, BERR_INTERNAL, "mount %s to %s/%s: set attributes", cg->hier[i].dir, dest,
                                        name);
                if (move_mount(tree, "", tfd, name, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                        return berr_sys(err, BERR_INTERNAL, "mount %s to %s/%s", cg->hier[i].dir, dest, name);
                /* "cpu,cpuacct" is also reachable as "cpu" and "cpuacct", as on the host. */
                if (strchr(name, ',')) {
                        _cleanup_free_ char *copy = strdup(name);
                        for (char *save = NULL, *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
                             t = strtok_r(NULL, ",", &save))
                                if (symlinkat(name, tfd, t) < 0 && errno != EEXIST)
                                        return berr_sys(err, BERR_INTERNAL, "symlink %s/%s", dest, t);
                }
        }
        if (r == 0 && (o->attr.attr_set & MOUNT_ATTR_RDONLY)) {
                struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
                if (set_attr(tfd, &ro, false) < 0)
                        r = berr_sys(err, BERR_INTERNAL, "remount %s read-only", dest);
        }
        return r;
}

static int mount_one(int rootfd, const struct rt_mount_ctx *m, const json_t *e, struct berr *err) {
        const char *dest = json_string_value(json_object_get(e, "destination"));
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *source = json_string_value(json_object_get(e, "source"));
        if (!dest || dest[0] != '/')
                return berr_set(err, BERR_INVALID, EINVAL, "mount destination \"%s\": not an absolute path",
                                dest ? dest : "");
        struct mnt_opts o;
        int r = parse_opts(json_object_get(e, "options"), &o, err);
        if (r < 0)
                return berr_wrap(err, "mount %s", dest);
        if ((type && STREQ(type, "bind")) || o.is_bind) {
                if (!source)
                        return berr_set(err, BERR_INVALID, EINVAL, "mount to %s: bind without a source", dest);
                return bind_mount(rootfd, source, dest, &o, err);
        }
        if (!type || !type[0])
                return berr_set(err, BERR_INVALID, EINVAL, "mount to %s: no type", dest);
        if (STREQ(type, "cgroup"))
                return cgroup_mount(rootfd, m, dest, &o, err);
        _cleanup_close_ int mfd = -1, destfd = -1;
        r = new_fs_mount(type, source, &o, dest, &mfd, err);
        if (r == -EPERM && STREQ(type, "sysfs")) {
                /* In a user namespace, sysfs needs the network namespace to be the user
                 * namespace's own; berthd's bridge endpoints are made by the host's. runc
                 * then binds the host's /sys, read-only and recursive, and so do we. */
                struct mnt_opts bo = o;
                bo.is_bind = bo.is_rbind = true;
                bo.attr_recursive = true;
                bo.attr.attr_set |= MOUNT_ATTR_RDONLY;
                bo.attr.attr_clr &= ~(uint64_t) MOUNT_ATTR_RDONLY;
                return bind_mount(rootfd, "/sys", dest, &bo, err);
        }
        if (r < 0)
                return r;
        r = resolve_dest(rootfd, source ? source : type, dest, RT_RESOLVE_MKDIR, STREQ(type, "proc"), &destfd, err);
        if (r < 0)
                return r;
        r = attach(mfd, destfd, source ? source : type, dest, err);
        if (r == 0 && set_propagation(mfd, &o) < 0)
                r = berr_sys(err, BERR_INTERNAL, "mount %s to %s: set propagation", source ? source : type, dest);
        return r;
}

/* ---- the root ---- */

static int make_parent_private_by_table(const char *rootfs, struct berr *err);

/* pivot_root refuses a new root whose parent mount is shared; runc makes it private.
 * The mount holding @rootfs is found with statx in O(depth): @rootfs itself when it is a
 * mount's root (the overlay), else the nearest directory above that is. Reading the mount
 * table instead cost every start more than the one before (it lists every container's
 * rootfs). Kernels without STATX_ATTR_MOUNT_ROOT (< 5.8) read the table. */
static int make_parent_private(const char *rootfs, struct berr *err) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s", rootfs) >= (int) sizeof(path))
                return berr_set(err, BERR_INVALID, ENAMETOOLONG, "rootfs path too long");
        for (;;) {
                struct statx sx;
                if (statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &sx) < 0)
                        return berr_sys(err, BERR_INTERNAL, "statx %s", path);
                if (!(sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
                        return make_parent_private_by_table(rootfs, err);
                if (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT)
                        break;
                char *slash = strrchr(path, '/');
                if (!slash || slash == path) {
                        snprintf(path, sizeof(path), "/");
                        break;
                }
                *slash = '\0';
        }
        if (mount(NULL, path, NULL, MS_PRIVATE, NULL) < 0)
                return berr_sys(err, BERR_INTERNAL, "make %s private", path);
        return 0;
}

static int make_parent_private_by_table(const char *rootfs, struct berr *err) {
        struct statx sx;
        if (statx(AT_FDCWD, rootfs, 0, STATX_MNT_ID, &sx) < 0)
                return berr_sys(err, BERR_INTERNAL, "statx %s", rootfs);
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return berr_sys(err, BERR_INTERNAL, "open /proc/self/mountinfo");
        char line[4096];
        while (fgets(line, sizeof(line), f)) {
                unsigned long long id;
                char mp[PATH_MAX];
                if (sscanf(line, "%llu %*u %*u:%*u %*s %4095s", &id, mp) != 2 || id != sx.stx_mnt_id)
                        continue;
                char unesc[PATH_MAX]; /* mountinfo escapes space, tab, newline and backslash as \ooo */
                size_t o = 0;
                for (const char *p = mp; *p && o + 1 < sizeof(unesc); p++) {
                        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] && p[3]) {
                                unesc[o++] = (char) (((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
                                p += 3;
                        } else
                                unesc[o++] = *p;
                }
                unesc[o] = '\0';
                if (mount(NULL, unesc, NULL, MS_PRIVATE, NULL) < 0)
                        return berr_sys(err, BERR_INTERNAL, "make %s private", unesc);
                return 0;
        }
        return 0;
}

static unsigned long root_propagation(const json_t *spec, struct berr *err, int *r) {
        const char *p = json_string_value(json_object_get(json_object_get(spec, "linux"), "rootfsPropagation"));
        *r = 0;
        if (!p || !p[0])
                return MS_SLAVE | MS_REC;
        for (size_t k = 0; k < ELEMENTSOF(mount_opts); k++)
                if (mount_opts[k].kind == OPT_PROP && STREQ(mount_opts[k].name, p))
                        return mount_opts[k].value | (mount_opts[k].recursive ? MS_REC : 0);
        *r = berr_set(err, BERR_INVALID, EINVAL, "linux.rootfsPropagation: unknown value \"%s\"", p);
        return 0;
}

static bool has_tmpfs_dev(const json_t *spec) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(spec, "mounts"), i, e) {
                const char *dest = json_string_value(json_object_get(e, "destination"));
                const char *type = json_string_value(json_object_get(e, "type"));
                if (dest && STREQ(dest, "/dev") && !(type && STREQ(type, "bind")))
                        return true;
        }
        return false;
}

int rt_mounts_setup_rootfs(const struct rt_mount_ctx *m, struct berr *err) {
        int r;
        unsigned long prop = root_propagation(m->spec, err, &r);
        if (r < 0)
                return r;
        if (mount(NULL, "/", NULL, prop, NULL) < 0)
                return berr_sys(err, BERR_INTERNAL, "set propagation of /");
        r = make_parent_private(m->rootfs, err);
        if (r < 0)
                return r;
        if (mount(m->rootfs, m->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
                return berr_sys(err, BERR_INTERNAL, "bind rootfs %s", m->rootfs);
        _cleanup_close_ int rootfd = open(m->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open rootfs %s", m->rootfs);

        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(m->spec, "mounts"), i, e) {
                r = mount_one(rootfd, m, e, err);
                if (r < 0)
                        return r;
        }
        if (has_tmpfs_dev(m->spec)) {
                r = rt_devices_setup(rootfd, m->spec, m->io, err);
                if (r < 0)
                        return r;
        }

        if (fchdir(rootfd) < 0)
                return berr_sys(err, BERR_INTERNAL, "chdir to rootfs %s", m->rootfs);
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return berr_sys(err, BERR_INTERNAL, "pivot_root %s", m->rootfs);
        /* The old root now sits on top of the new one at "/": detach it, without the
         * unmount propagating anywhere. */
        if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
                return berr_sys(err, BERR_INTERNAL, "make the old root a slave");
        if (umount2(".", MNT_DETACH) < 0)
                return berr_sys(err, BERR_INTERNAL, "unmount the old root");
        if (chdir("/") < 0)
                return berr_sys(err, BERR_INTERNAL, "chdir /");
        return 0;
}

/* ---- after pivot_root ---- */

static int mask_path(int rootfd, const char *path, struct berr *err) {
        _cleanup_close_ int fd = -1;
        struct berr e2;
        int r = rt_resolve_in_root(rootfd, path, RT_RESOLVE_EXISTING, &fd, NULL, &e2);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                *err = e2;
                return berr_wrap(err, "mask %s", path);
        }
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berr_sys(err, BERR_INTERNAL, "mask %s: stat", path);
        _cleanup_close_ int mfd = -1;
        if (S_ISDIR(st.st_mode)) {
                struct mnt_opts o = { .attr.attr_set = MOUNT_ATTR_RDONLY };
                r = new_fs_mount("tmpfs", "tmpfs", &o, path, &mfd, err);
                if (r < 0)
                        return r;
        } else {
                mfd = open_tree(AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
                if (mfd < 0)
                        return berr_sys(err, BERR_INTERNAL, "mask %s: open /dev/null", path);
        }
        return attach(mfd, fd, S_ISDIR(st.st_mode) ? "tmpfs" : "/dev/null", path, err);
}

static int readonly_path(int rootfd, const char *path, struct berr *err) {
        _cleanup_close_ int fd = -1;
        struct berr e2;
        int r = rt_resolve_in_root(rootfd, path, RT_RESOLVE_EXISTING, &fd, NULL, &e2);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                *err = e2;
                return berr_wrap(err, "make %s read-only", path);
        }
        _cleanup_close_ int tree = open_tree(fd, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (tree < 0)
                return berr_sys(err, BERR_INTERNAL, "make %s read-only: bind", path);
        struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
        if (set_attr(tree, &ro, true) < 0)
                return berr_sys(err, BERR_INTERNAL, "make %s read-only", path);
        return attach(tree, fd, path, path, err);
}

int rt_mounts_finalize(const json_t *spec, struct berr *err) {
        _cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open /");
        json_t *lnx = json_object_get(spec, "linux");
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(lnx, "maskedPaths"), i, e) {
                if (!json_is_string(e))
                        return berr_set(err, BERR_INVALID, EINVAL, "linux.maskedPaths: not a string");
                int r = mask_path(rootfd, json_string_value(e), err);
                if (r < 0)
                        return r;
        }
        json_array_foreach(json_object_get(lnx, "readonlyPaths"), i, e) {
                if (!json_is_string(e))
                        return berr_set(err, BERR_INVALID, EINVAL, "linux.readonlyPaths: not a string");
                int r = readonly_path(rootfd, json_string_value(e), err);
                if (r < 0)
                        return r;
        }
        if (json_is_true(json_object_get(json_object_get(spec, "root"), "readonly"))) {
                struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
                if (mount_setattr(AT_FDCWD, "/", 0, &ro, sizeof(ro)) < 0)
                        return berr_sys(err, BERR_INTERNAL, "remount / read-only");
        }
        return 0;
}
