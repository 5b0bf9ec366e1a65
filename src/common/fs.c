/* fs.c - full and atomic writes, bounded read, mkdir -p, path joins. */
#include "fs.h"

#include <fcntl.h>
#include <stdarg.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "err.h"

int fs_write_all(int fd, const void *data, size_t len) {
        const char *p = data;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0) /* no progress and no error: do not spin */
                        return -EIO;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* @durable: 0 none, 1 the file's contents (fsync before the rename), 2 and the rename. */
static int write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode, int durable,
                        struct berr *err) {
        char tmp[4096];
        const char *slash = strrchr(name, '/');
        int n;
        if (slash)
                n = snprintf(tmp, sizeof(tmp), "%.*s/.tmp-%s.%d", (int) (slash - name), name,
                             slash + 1, (int) getpid());
        else
                n = snprintf(tmp, sizeof(tmp), ".tmp-%s.%d", name, (int) getpid());
        if (n < 0 || (size_t) n >= sizeof(tmp))
                return berr_set(err, BERR_INVALID, ENAMETOOLONG, "write %s: path too long", name);

        _cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "create %s", tmp);
        int r = fs_write_all(fd, data, len);
        if (r == 0 && durable && fsync(fd) < 0)
                r = -errno;
        if (r < 0) {
                errno = -r;
                berr_sys(err, BERR_INTERNAL, "write %s", tmp);
                (void) unlinkat(dirfd, tmp, 0); /* best effort: the write already failed */
                return r;
        }
        if (renameat(dirfd, tmp, dirfd, name) < 0) {
                r = berr_sys(err, BERR_INTERNAL, "rename %s to %s", tmp, name);
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        if (durable < 2)
                return 0;

        /* Make the rename itself durable. */
        _cleanup_close_ int dfd = -1;
        if (slash) {
                char dir[4096];
                snprintf(dir, sizeof(dir), "%.*s", (int) (slash - name), name);
                dfd = openat(dirfd, dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        } else
                dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0)
                return berr_sys(err, BERR_INTERNAL, "fsync directory of %s", name);
        return 0;
}

int fs_write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                    struct berr *err) {
        return write_atomic(dirfd, name, data, len, mode, 2, err);
}

int fs_write_atomic_update(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                           struct berr *err) {
        return write_atomic(dirfd, name, data, len, mode, 1, err);
}

int fs_write_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                     struct berr *err) {
        return write_atomic(dirfd, name, data, len, mode, 0, err);
}

int fs_read_file(int dirfd, const char *name, size_t max_bytes, char **ret_data, size_t *ret_len,
                 struct berr *err) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, errno == ENOENT ? BERR_NOT_FOUND : BERR_INTERNAL, "open %s", name);
        size_t cap = 4096, len = 0;
        _cleanup_free_ char *buf = malloc(cap);
        if (!buf)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "read %s: out of memory", name);
        for (;;) {
                if (len + 1 >= cap) {
                        if (cap > max_bytes + 1)
                                return berr_set(err, BERR_TOO_LARGE, EFBIG,
                                                "read %s: larger than %zu bytes", name, max_bytes);
                        cap *= 2;
                        char *nb = realloc(buf, cap);
                        if (!nb)
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "read %s: out of memory", name);
                        buf = nb;
                }
                ssize_t n = read(fd, buf + len, cap - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return berr_sys(err, BERR_INTERNAL, "read %s", name);
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > max_bytes)
                        return berr_set(err, BERR_TOO_LARGE, EFBIG, "read %s: larger than %zu bytes",
                                        name, max_bytes);
        }
        buf[len] = '\0';
        *ret_data = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int fs_mkdir_p(const char *path, mode_t mode, struct berr *err) {
        char buf[4096];
        size_t len = strlen(path);
        if (len == 0 || len >= sizeof(buf))
                return berr_set(err, BERR_INVALID, ENAMETOOLONG, "mkdir %s: bad path", path);
        memcpy(buf, path, len + 1);
        /* The whole path first: it usually exists, or only its last component is missing
         * (a container's cgroup in each of ~10 v1 hierarchies: 7 mkdirs each before). */
        if (mkdir(path, mode) == 0)
                return 0;
        bool exists = errno == EEXIST;
        for (char *p = buf + 1; !exists; p++) {
                if (*p == '/' || *p == '\0') {
                        char saved = *p;
                        *p = '\0';
                        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                                return berr_sys(err, BERR_INTERNAL, "mkdir %s", buf);
                        *p = saved;
                        if (saved == '\0')
                                break;
                }
        }
        struct stat st;
        if (stat(path, &st) < 0)
                return berr_sys(err, BERR_INTERNAL, "stat %s", path);
        if (!S_ISDIR(st.st_mode))
                return berr_set(err, BERR_INVALID, ENOTDIR, "%s exists and is not a directory", path);
        return 0;
}

int fs_path_fmt(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= size) {
                if (size > 0)
                        buf[0] = '\0';
                return n < 0 ? -EINVAL : -ENAMETOOLONG;
        }
        return 0;
}

char *fs_path_join(const char *a, const char *b) {
        size_t la = strlen(a);
        while (la > 1 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        char *out;
        if (asprintf(&out, "%.*s/%s", (int) la, a, b) < 0)
                return NULL;
        return out;
}

bool fs_spread_subdirs(int fd) {
        int flags = 0;
        if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
                return false;
        if (flags & FS_TOPDIR_FL)
                return true;
        flags |= FS_TOPDIR_FL;
        return ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
}

int fs_open_in_root(int root, const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        /* EAGAIN (fs_openat2): on a host starting containers it happens: a layer failed to
         * apply with "open directory up/etc: Resource temporarily unavailable" in the unit
         * tests. */
        return fs_openat2(root, path[0] ? path : ".", &how);
}

int fs_openat2(int dirfd, const char *path, const struct open_how *how) {
        for (int tries = 0;; tries++) {
                int fd = (int) syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
                if (fd >= 0 || errno != EAGAIN || tries == 16)
                        return fd;
        }
}

void fs_clean_abs_path(const char *in, char *out, size_t size) {
        size_t n = 0;
        out[0] = '\0';
        char buf[4096];
        snprintf(buf, sizeof(buf), "%s", in);
        for (char *save = NULL, *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
                if (strcmp(t, ".") == 0)
                        continue;
                if (strcmp(t, "..") == 0) {
                        char *slash = strrchr(out, '/');
                        n = slash ? (size_t) (slash - out) : 0;
                        out[n] = '\0';
                        continue;
                }
                int k = snprintf(out + n, size - n, "/%s", t);
                if (k < 0 || (size_t) k >= size - n)
                        break;
                n += (size_t) k;
        }
        if (n == 0)
                snprintf(out, size, "/");
}

bool fs_in_user_namespace(void) {
        static int cached = -1; /* a process does not change user namespace once threaded */
        if (cached >= 0)
                return cached;
        int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
        char buf[128];
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (fd >= 0)
                (void) close(fd);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        unsigned long a, b, c;
        cached = !(sscanf(buf, "%lu %lu %lu", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295UL);
        return cached;
}

const char *fs_overlay_opaque_xattr(void) {
        return fs_in_user_namespace() ? "user.overlay.opaque" : "trusted.overlay.opaque";
}

/* See fs.h. */
int fs_host_path_in_root(const char *base, const char *rel, char *out, size_t size) {
        char path[4096];
        fs_clean_abs_path(rel, path, sizeof(path)); /* "/a/b": no "..", ".", "//" left */
        for (const char *c = rel; *c;) {
                while (*c == '/')
                        c++;
                size_t len = strcspn(c, "/");
                if (len == 2 && c[0] == '.' && c[1] == '.')
                        return -EINVAL;
                c += len;
        }
        _cleanup_close_ int bfd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (bfd < 0)
                return -errno;
        size_t have = strlen(path); /* path[0..have) is tried; path + have is appended */
        for (;;) {
                char tried[4096];
                snprintf(tried, sizeof(tried), "%.*s", (int) have, path);
                _cleanup_close_ int fd = fs_open_in_root(bfd, tried[0] == '/' ? tried + 1 : tried, O_PATH);
                if (fd >= 0) {
                        char proc[64], real[4096];
                        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
                        ssize_t n = readlink(proc, real, sizeof(real) - 1);
                        if (n < 0)
                                return -errno;
                        real[n] = '\0';
                        const char *rest = path + have;
                        /* What failed to resolve next must not exist at all: a symlink there
                         * (dangling inside the root: "abs -> /etc") would be followed out of
                         * it by whoever uses the path. */
                        if (*rest) {
                                char next[256];
                                snprintf(next, sizeof(next), "%.*s", (int) strcspn(rest + 1, "/"), rest + 1);
                                struct stat st;
                                if (fstatat(fd, next, &st, AT_SYMLINK_NOFOLLOW) == 0)
                                        return -ELOOP;
                        }
                        return fs_path_fmt(out, size, "%s%s", strcmp(real, "/") == 0 ? "" : real,
                                           *rest ? rest : (strcmp(real, "/") == 0 ? "/" : ""));
                }
                if (errno != ENOENT && errno != ENOTDIR)
                        return -errno;
                if (have == 0 || (have == 1 && path[0] == '/'))
                        return -ENOENT; /* the base itself is gone */
                char *slash = memrchr(path, '/', have);
                have = slash ? (size_t) (slash - path) : 0;
        }
}
