/* tree.c - recursive remove and copy on directory fds. Every node is reached by a single
 * component relative to an already-open parent with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW, so a
 * symlink inside the tree can never lead the walk outside it. */
#include "tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <limits.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <uthash.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"

static int remove_contents(int dirfd, int depth, struct berr *err);

/* Open the directory @dirfd/@name only if no mount point lies on the way: a mounted
 * overlay or bind mount inside a tree being removed must never have its files deleted
 * through it (a container's rootfs still mounted after a crash). RESOLVE_NO_XDEV catches
 * bind mounts of the same filesystem too; without openat2 the device number has to do. */
static int open_subdir_same_mount(int dirfd, const char *name, struct berr *err) {
        struct open_how how = {
                .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                .resolve = RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd = fs_openat2(dirfd, name, &how);
        if (fd < 0 && errno == EXDEV)
                return berr_set(err, BERR_CONFLICT, EBUSY, "remove %s: a filesystem is mounted there", name);
        if (fd >= 0 || errno != ENOSYS)
                return fd < 0 ? berr_sys(err, BERR_INTERNAL, "open %s", name) : fd;
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", name);
        struct stat parent, self;
        if (fstat(dirfd, &parent) < 0 || fstat(fd, &self) < 0) {
                int r = berr_sys(err, BERR_INTERNAL, "stat %s", name);
                close(fd);
                return r;
        }
        if (parent.st_dev != self.st_dev) {
                close(fd);
                return berr_set(err, BERR_CONFLICT, EBUSY, "remove %s: a filesystem is mounted there", name);
        }
        return fd;
}

static int remove_entry(int dirfd, const char *name, int depth, struct berr *err) {
        if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM)
                return berr_sys(err, BERR_INTERNAL, "remove %s", name);
        if (depth >= TREE_MAX_DEPTH)
                return berr_set(err, BERR_INVALID, ELOOP, "remove %s: tree deeper than %d levels", name,
                                TREE_MAX_DEPTH);
        _cleanup_close_ int fd = open_subdir_same_mount(dirfd, name, err);
        if (fd < 0)
                return fd;
        int r = remove_contents(fd, depth + 1, err);
        if (r < 0)
                return berr_wrap(err, "%s", name);
        if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return berr_sys(err, BERR_INTERNAL, "remove directory %s", name);
        return 0;
}

/* A directory stream over a dup of @dirfd, rewound (the fd may have been read before). */
static int open_dir_stream(int dirfd, DIR **ret, struct berr *err) {
        int fd = dup(dirfd);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "dup");
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = berr_sys(err, BERR_INTERNAL, "opendir");
                close(fd);
                return r;
        }
        rewinddir(d);
        *ret = d;
        return 0;
}

static int remove_contents(int dirfd, int depth, struct berr *err) {
        _cleanup_closedir_ DIR *d = NULL;
        int r0 = open_dir_stream(dirfd, &d, err);
        if (r0 < 0)
                return r0;
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                if (STREQ(de->d_name, ".") || STREQ(de->d_name, ".."))
                        continue;
                int r = remove_entry(dirfd, de->d_name, depth, err);
                if (r < 0)
                        return r;
        }
        if (errno != 0)
                return berr_sys(err, BERR_INTERNAL, "readdir");
        return 0;
}

int tree_remove_at(int dirfd, const char *name, struct berr *err) {
        const char *slash = strrchr(name, '/');
        if (!slash || slash[1] == '\0')
                return remove_entry(dirfd, name, 0, err);
        /* A path: its parent is reached as given; the mount check starts at the entry. */
        char parent[PATH_MAX];
        int n = snprintf(parent, sizeof(parent), "%.*s", slash == name ? 1 : (int) (slash - name), name);
        if (n < 0 || (size_t) n >= sizeof(parent))
                return berr_set(err, BERR_INVALID, ENAMETOOLONG, "remove %s: path too long", name);
        _cleanup_close_ int pfd = openat(dirfd, parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (pfd < 0)
                return errno == ENOENT ? 0 : berr_sys(err, BERR_INTERNAL, "open %s", parent);
        return remove_entry(pfd, slash + 1, 0, err);
}

int tree_clear_dir(int dirfd, struct berr *err) {
        return remove_contents(dirfd, 0, err);
}

/* /proc/self/fd/N/name names exactly the node `name` in the directory open as N, and the
 * l*xattr calls do not follow a final symlink: the way to reach xattrs of symlinks and
 * device nodes without opening them. */
static void proc_path(char *buf, size_t size, int dirfd, const char *name) {
        snprintf(buf, size, "/proc/self/fd/%d/%s", dirfd, name);
}

int tree_copy_xattrs(int src_dirfd, const char *src_name, int dst_dirfd, const char *dst_name,
                     struct berr *err) {
        char src[PATH_MAX], dst[PATH_MAX];
        proc_path(src, sizeof(src), src_dirfd, src_name);
        proc_path(dst, sizeof(dst), dst_dirfd, dst_name);
        ssize_t n = llistxattr(src, NULL, 0);
        if (n < 0)
                return (errno == ENOTSUP) ? 0 : berr_sys(err, BERR_INTERNAL, "list xattrs of %s", src_name);
        if (n == 0)
                return 0;
        _cleanup_free_ char *names = malloc((size_t) n);
        if (!names)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        n = llistxattr(src, names, (size_t) n);
        if (n < 0)
                return berr_sys(err, BERR_INTERNAL, "list xattrs of %s", src_name);
        for (char *k = names; k < names + n; k += strlen(k) + 1) {
                ssize_t vlen = lgetxattr(src, k, NULL, 0);
                if (vlen < 0)
                        return berr_sys(err, BERR_INTERNAL, "read xattr %s of %s", k, src_name);
                _cleanup_free_ char *val = malloc((size_t) vlen + 1);
                if (!val)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                vlen = lgetxattr(src, k, val, (size_t) vlen);
                if (vlen < 0)
                        return berr_sys(err, BERR_INTERNAL, "read xattr %s of %s", k, src_name);
                if (lsetxattr(dst, k, val, (size_t) vlen, 0) < 0) {
                        /* As Docker: not every filesystem takes every namespace. */
                        if (errno == ENOTSUP || errno == EPERM)
                                continue;
                        return berr_sys(err, BERR_INTERNAL, "set xattr %s on %s", k, dst_name);
                }
        }
        return 0;
}

int tree_apply_stat(int dirfd, const char *name, const struct stat *st, struct berr *err) {
        if (fchownat(dirfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                return berr_sys(err, BERR_INTERNAL, "chown %s", name);
        if (!S_ISLNK(st->st_mode) && fchmodat(dirfd, name, st->st_mode & 07777, 0) < 0)
                return berr_sys(err, BERR_INTERNAL, "chmod %s", name);
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return berr_sys(err, BERR_INTERNAL, "set times of %s", name);
        return 0;
}

static int copy_meta(int src_dirfd, const char *src_name, int dst_dirfd, const char *dst_name,
                     const struct stat *st, struct berr *err) {
        if (fchownat(dst_dirfd, dst_name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                return berr_sys(err, BERR_INTERNAL, "chown %s", dst_name);
        int r = tree_copy_xattrs(src_dirfd, src_name, dst_dirfd, dst_name, err);
        if (r < 0)
                return r;
        return tree_apply_stat(dst_dirfd, dst_name, st, err);
}

static int copy_data(int in, int out, struct berr *err) {
        for (;;) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
                if (n == 0)
                        return 0;
                if (n > 0)
                        continue;
                if (errno == EINTR)
                        continue;
                if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
                        return berr_sys(err, BERR_INTERNAL, "copy data");
                break;
        }
        char buf[65536];
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berr_sys(err, BERR_INTERNAL, "read");
                if (n == 0)
                        return 0;
                int w = fs_write_all(out, buf, (size_t) n);
                if (w < 0) {
                        errno = -w;
                        return berr_sys(err, BERR_INTERNAL, "write");
                }
        }
}

/* Create @dst_name as a copy of @src_name whose lstat is @st; metadata left to the caller. */
static int create_copy(int src_dirfd, const char *src_name, int dst_dirfd, const char *dst_name,
                       const struct stat *st, struct berr *err) {
        switch (st->st_mode & S_IFMT) {
        case S_IFREG: {
                _cleanup_close_ int in = openat(src_dirfd, src_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (in < 0)
                        return berr_sys(err, BERR_INTERNAL, "open %s", src_name);
                _cleanup_close_ int out = openat(dst_dirfd, dst_name,
                                                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (out < 0)
                        return berr_sys(err, BERR_INTERNAL, "create %s", dst_name);
                int r = copy_data(in, out, err);
                if (r < 0)
                        return berr_wrap(err, "copy %s", src_name);
                return 0;
        }
        case S_IFDIR:
                if (mkdirat(dst_dirfd, dst_name, 0700) < 0)
                        return berr_sys(err, BERR_INTERNAL, "mkdir %s", dst_name);
                return 0;
        case S_IFLNK: {
                char target[PATH_MAX + 1];
                ssize_t n = readlinkat(src_dirfd, src_name, target, PATH_MAX);
                if (n < 0)
                        return berr_sys(err, BERR_INTERNAL, "readlink %s", src_name);
                target[n] = '\0';
                if (symlinkat(target, dst_dirfd, dst_name) < 0)
                        return berr_sys(err, BERR_INTERNAL, "symlink %s", dst_name);
                return 0;
        }
        case S_IFCHR:
        case S_IFBLK:
        case S_IFIFO:
        case S_IFSOCK:
                if (mknodat(dst_dirfd, dst_name, st->st_mode, st->st_rdev) < 0)
                        return berr_sys(err, BERR_INTERNAL, "mknod %s", dst_name);
                return 0;
        }
        return berr_set(err, BERR_INTERNAL, EINVAL, "copy %s: unknown file type", src_name);
}

int tree_copy_node(int src_dirfd, const char *src_name, int dst_dirfd, const char *dst_name,
                   struct berr *err) {
        struct stat st;
        if (fstatat(src_dirfd, src_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return berr_sys(err, BERR_INTERNAL, "stat %s", src_name);
        int r = create_copy(src_dirfd, src_name, dst_dirfd, dst_name, &st, err);
        if (r < 0)
                return r;
        return copy_meta(src_dirfd, src_name, dst_dirfd, dst_name, &st, err);
}

/* Inodes with several links already copied: (dev, ino) -> path relative to the copy root. */
struct link_seen {
        struct {
                dev_t dev;
                ino_t ino;
        } key;
        char *path;
        UT_hash_handle hh;
};

struct copy_ctx {
        int dst_root;
        struct link_seen *seen;
};

static int copy_dir(struct copy_ctx *c, int src, int dst, const char *rel, int depth, struct berr *err);

static int copy_entry(struct copy_ctx *c, int src, int dst, const char *rel, const char *name, int depth,
                      struct berr *err) {
        struct stat st;
        if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return berr_sys(err, BERR_INTERNAL, "stat %s", name);
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s%s%s", rel, rel[0] ? "/" : "", name) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");

        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
                struct link_seen probe = { 0 }, *hit = NULL;
                probe.key.dev = st.st_dev;
                probe.key.ino = st.st_ino;
                HASH_FIND(hh, c->seen, &probe.key, sizeof(probe.key), hit);
                if (hit) {
                        if (linkat(c->dst_root, hit->path, dst, name, 0) < 0)
                                return berr_sys(err, BERR_INTERNAL, "link %s", path);
                        return 0;
                }
        }
        int r = create_copy(src, name, dst, name, &st, err);
        if (r < 0)
                return r;
        if (S_ISDIR(st.st_mode)) {
                if (depth >= TREE_MAX_DEPTH)
                        return berr_set(err, BERR_INVALID, ELOOP, "copy %s: tree deeper than %d levels", path,
                                        TREE_MAX_DEPTH);
                _cleanup_close_ int s = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                _cleanup_close_ int d = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (s < 0 || d < 0)
                        return berr_sys(err, BERR_INTERNAL, "open %s", path);
                r = copy_dir(c, s, d, path, depth + 1, err);
                if (r < 0)
                        return r;
        } else if (st.st_nlink > 1) {
                struct link_seen *e = calloc(1, sizeof(*e));
                if (!e)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                e->key.dev = st.st_dev;
                e->key.ino = st.st_ino;
                e->path = TAKE_PTR(path);
                HASH_ADD(hh, c->seen, key, sizeof(e->key), e);
        }
        /* Directory metadata last: its mtime would move with every child created. */
        return copy_meta(src, name, dst, name, &st, err);
}

static int copy_dir(struct copy_ctx *c, int src, int dst, const char *rel, int depth, struct berr *err) {
        _cleanup_closedir_ DIR *d = NULL;
        int r0 = open_dir_stream(src, &d, err);
        if (r0 < 0)
                return r0;
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                if (STREQ(de->d_name, ".") || STREQ(de->d_name, ".."))
                        continue;
                int r = copy_entry(c, src, dst, rel, de->d_name, depth, err);
                if (r < 0)
                        return r;
        }
        if (errno != 0)
                return berr_sys(err, BERR_INTERNAL, "readdir %s", rel);
        return 0;
}

int tree_copy_contents(int src_dirfd, int dst_dirfd, struct berr *err) {
        struct copy_ctx c = { .dst_root = dst_dirfd };
        int r = copy_dir(&c, src_dirfd, dst_dirfd, "", 0, err);
        struct link_seen *e, *tmp;
        HASH_ITER(hh, c.seen, e, tmp) {
                HASH_DEL(c.seen, e);
                free(e->path);
                free(e);
        }
        if (r < 0)
                return r;
        struct stat st;
        if (fstat(src_dirfd, &st) < 0)
                return berr_sys(err, BERR_INTERNAL, "stat source root");
        return copy_meta(src_dirfd, ".", dst_dirfd, ".", &st, err);
}
