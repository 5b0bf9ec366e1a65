/* container_archive.c - GET and HEAD /containers/{id}/archive (docker cp out of a
 * container): a path is resolved in the container's view (its root filesystem, with its
 * bind mounts, volumes and /etc/hosts, hostname, resolv.conf laid over it), inside that
 * root: openat2(RESOLVE_IN_ROOT) for every step but the last, which is taken as it is
 * (a symlink is archived as a symlink), as dockerd's ResolvePath does. The tree is
 * walked with openat(O_NOFOLLOW) from there and written as a tar stream (ustar, with pax
 * records for long names and large files) by a thread of its own into a pipe. A stopped
 * container's root filesystem is mounted for the copy and unmounted after. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "container.h"
#include "container_archive.h"
#include "daemon.h"
#include "image/image_store.h"
#include "image/layer_apply.h"
#include "common/tree.h"
#include "userns.h"
#include "volume/volume.h"

#define GO_MODE_DIR (1u << 31)
#define GO_MODE_SYMLINK (1u << 27)
#define GO_MODE_DEVICE (1u << 26)
#define GO_MODE_PIPE (1u << 25)
#define GO_MODE_SOCKET (1u << 24)
#define GO_MODE_SETUID (1u << 23)
#define GO_MODE_SETGID (1u << 22)
#define GO_MODE_CHARDEV (1u << 21)
#define GO_MODE_STICKY (1u << 20)

struct ctr_archive {
        struct daemon *d;
        struct container *c;
        bool we_mounted;
        char vol_key[96]; /* the key a plugin volume was mounted under for this copy, or "" */
        int base_fd;     /* the directory the path's parent was resolved to */
        char last[256];  /* the last component, "" for the base itself */
        char name[256];  /* the archive's top entry */
        struct stat st;
        char *stat_b64;
        bool overlay_upper; /* commit: the tree is an overlay upper dir */
        int pipe_r;
        pthread_t thread;
        bool thread_started;
        int pipe_w;
};
static uint32_t go_mode(const struct stat *st) {
        uint32_t m = st->st_mode & 0777;
        if (S_ISDIR(st->st_mode))
                m |= GO_MODE_DIR;
        else if (S_ISLNK(st->st_mode))
                m |= GO_MODE_SYMLINK;
        else if (S_ISFIFO(st->st_mode))
                m |= GO_MODE_PIPE;
        else if (S_ISSOCK(st->st_mode))
                m |= GO_MODE_SOCKET;
        else if (S_ISCHR(st->st_mode))
                m |= GO_MODE_DEVICE | GO_MODE_CHARDEV;
        else if (S_ISBLK(st->st_mode))
                m |= GO_MODE_DEVICE;
        if (st->st_mode & S_ISUID)
                m |= GO_MODE_SETUID;
        if (st->st_mode & S_ISGID)
                m |= GO_MODE_SETGID;
        if (st->st_mode & S_ISVTX)
                m |= GO_MODE_STICKY;
        return m;
}

static void base64(const unsigned char *in, size_t n, char *out, size_t size) {
        static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t o = 0;
        for (size_t i = 0; i < n && o + 4 < size; i += 3) {
                uint32_t v = (uint32_t) in[i] << 16 | (i + 1 < n ? (uint32_t) in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
                out[o++] = t[v >> 18 & 63];
                out[o++] = t[v >> 12 & 63];
                out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
                out[o++] = i + 2 < n ? t[v & 63] : '=';
        }
        out[o] = '\0';
}

/* Which mount of the container holds @path: its source directory (or file) and the
 * path left inside it; else the root filesystem. */
static int open_base(struct daemon *d, struct container *c, int rootfs_fd, const char *path, char *rest, size_t rest_size,
                     int *ret_where, char *vol_key, size_t vol_key_size, struct berr *err) {
        _cleanup_json_ json_t *mounts = ctr_mounts_list(d, c);
        _cleanup_free_ char *dir = ctr_data_dir(d, c->id);
        const char *net[][2] = { { "/etc/hostname", "hostname" }, { "/etc/hosts", "hosts" }, { "/etc/resolv.conf", "resolv.conf" } };
        for (size_t i = 0; i < 3 && dir; i++) {
                char src[4200];
                if (fs_path_fmt(src, sizeof(src), "%s/%s", dir, net[i][1]) == 0 && access(src, F_OK) == 0)
                        json_array_append_new(mounts, json_pack("{s:s, s:s, s:b}", "Destination", net[i][0], "Source", src,
                                                                "RW", true));
        }
        size_t best = 0;
        const char *src = NULL, *sub = NULL, *vname = NULL, *vdst = NULL;
        bool rw = true;
        size_t i;
        json_t *m;
        json_array_foreach(mounts, i, m) {
                const char *dst = json_string_value(json_object_get(m, "Destination"));
                const char *msrc = json_string_value(json_object_get(m, "Source"));
                size_t n = dst && msrc && *msrc ? strlen(dst) : 0; /* a tmpfs has no source: as --tmpfs, not reached */
                if (n > best && strncmp(path, dst, n) == 0 && (path[n] == '\0' || path[n] == '/')) {
                        best = n;
                        src = json_string_value(json_object_get(m, "Source"));
                        sub = json_string_value(json_object_get(m, "_subpath"));
                        rw = json_is_true(json_object_get(m, "RW"));
                        const char *drv = json_string_value(json_object_get(m, "Driver"));
                        vname = drv && strcmp(drv, "local") != 0 ? json_string_value(json_object_get(m, "Name")) : NULL;
                        vdst = dst;
                }
        }
        char vmp[4096];
        if (src && vname && d->vplugs) {
                /* A stopped container's plugin volume was unmounted at its stop: mounted
                 * for this copy under a mount ID of its own (released by maybe_unmount;
                 * a crash meanwhile leaves an entry recovery releases), as dockerd does. */
                pthread_mutex_lock(&c->lock);
                bool running = ctr_is_running(c) || c->state == CTR_STARTING;
                pthread_mutex_unlock(&c->lock);
                if (!running) {
                        static unsigned long copies;
                        snprintf(vol_key, vol_key_size, "cp-%.64s-%lu", c->id, __atomic_add_fetch(&copies, 1, __ATOMIC_RELAXED));
                        int r = vplug_mount(d->vplugs, vname, vol_key, vdst, vmp, sizeof(vmp), err);
                        if (r < 0) {
                                struct berr e = { 0 };
                                (void) vplug_release_container(d->vplugs, vol_key, &e);
                                vol_key[0] = '\0';
                                return berr_wrap(err, "error while mounting volume '%s'", vname);
                        }
                        src = vmp;
                }
        }
        if (ret_where) /* 0: the root filesystem; 1: a writable mount; 2: a read-only one */
                *ret_where = !src ? 0 : rw ? 1 : 2;
        if (!src) {
                snprintf(rest, rest_size, "%s", path + 1);
                int fd = fcntl(rootfs_fd, F_DUPFD_CLOEXEC, 3);
                return fd < 0 ? berr_sys(err, BERR_INTERNAL, "dup") : fd;
        }
        snprintf(rest, rest_size, "%s", path[best] == '/' ? path + best + 1 : "");
        if (sub) /* volume-subpath: resolved inside the volume, as the mount was */
                return ctr_mounts_open_subpath(src, sub, err);
        int fd = open(src, O_PATH | O_CLOEXEC);
        return fd < 0 ? berr_sys(err, BERR_INTERNAL, "open %s", src) : fd;
}

/* The root filesystem, mounted for us if the container is not running, and held (a
 * user count) until maybe_unmount; returns an O_PATH fd of it opened under the lock. */
static int use_rootfs(struct daemon *d, struct container *c, bool *ret_using, struct berr *err) {
        _cleanup_free_ char *dir = ctr_data_dir(d, c->id);
        char rootfs[4200];
        if (!dir || fs_path_fmt(rootfs, sizeof(rootfs), "%s/rootfs", dir) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s/rootfs: path too long", dir ? dir : "");
        int r = 0, fd = -1;
        pthread_mutex_lock(&c->lock);
        if (c->state == CTR_REMOVED || c->state == CTR_REMOVING || c->state == CTR_DEAD)
                r = berr_set(err, BERR_CONFLICT, EBUSY, "container %s is being removed", c->id);
        ctr_rootfs_wait_detached(c); /* an exit's detach on its way ends first */
        if (r == 0 && (c->state == CTR_REMOVED || c->state == CTR_REMOVING || c->state == CTR_DEAD))
                r = berr_set(err, BERR_CONFLICT, EBUSY, "container %s is being removed", c->id);
        if (r == 0) /* a no-op when it is mounted (running, another copy) */
                r = ctr_rootfs_mount(d, c, err);
        if (r == 0) {
                fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        r = berr_sys(err, BERR_INTERNAL, "open %s", rootfs);
        }
        if (r == 0) {
                c->rootfs_users++;
                *ret_using = true;
        }
        pthread_mutex_unlock(&c->lock);
        return r < 0 ? r : fd;
}

static void maybe_unmount(struct ctr_archive *a) {
        if (a->vol_key[0]) {
                struct berr e = { 0 };
                if (vplug_release_container(a->d->vplugs, a->vol_key, &e) < 0)
                        log_warn("%s", e.msg);
                a->vol_key[0] = '\0';
        }
        if (!a->we_mounted)
                return;
        struct container *c = a->c;
        pthread_mutex_lock(&c->lock);
        c->rootfs_users--;
        /* The last user of a stopped container's root filesystem takes it down (lazily:
         * open fds stay valid); a start meanwhile keeps it. */
        if (c->rootfs_users == 0 && c->state != CTR_STARTING && !ctr_is_running(c))
                ctr_unmount_rootfs(a->d, c);
        pthread_mutex_unlock(&c->lock);
        a->we_mounted = false;
}

void ctr_archive_free(struct ctr_archive *a) {
        if (!a)
                return;
        if (a->pipe_r >= 0)
                close(a->pipe_r); /* a writer still going gets EPIPE and stops */
        if (a->thread_started)
                pthread_join(a->thread, NULL);
        if (a->pipe_w >= 0)
                close(a->pipe_w);
        if (a->base_fd >= 0)
                close(a->base_fd);
        maybe_unmount(a);
        ctr_unref(a->d, a->c);
        free(a->stat_b64);
        free(a);
}

int ctr_archive_open(struct daemon *d, struct container *c, const char *path, struct ctr_archive **ret, struct berr *err) {
        if (!path || !path[0]) {
                ctr_unref(d, c);
                return berr_set(err, BERR_INVALID, EINVAL, "path cannot be empty");
        }
        struct ctr_archive *a = calloc(1, sizeof(*a));
        if (!a) {
                ctr_unref(d, c);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        a->d = d;
        a->c = c;
        a->base_fd = a->pipe_r = a->pipe_w = -1;
        int r = 0;
        _cleanup_close_ int rootfs_fd = use_rootfs(d, c, &a->we_mounted, err);
        if (rootfs_fd < 0)
                r = rootfs_fd;
        char cp[4096], rest[4096], joined[4200];
        snprintf(joined, sizeof(joined), "/%s", path); /* relative means from the root, as dockerd */
        fs_clean_abs_path(joined, cp, sizeof(cp));
        size_t plen = strlen(path);
        bool follow_last = plen > 1 && (path[plen - 1] == '/' || (plen >= 2 && strcmp(path + plen - 2, "/.") == 0));
        _cleanup_close_ int base = -1;
        if (r == 0) {
                base = open_base(d, c, rootfs_fd, cp, rest, sizeof(rest), NULL, a->vol_key, sizeof(a->vol_key), err);
                r = base < 0 ? base : 0;
        }
        if (r == 0) {
                /* the parent, resolved inside; the last component as it is (unless "x/" or "x/.") */
                char parent[4096];
                snprintf(parent, sizeof(parent), "%s", rest);
                char *slash = strrchr(parent, '/');
                const char *last = slash ? slash + 1 : parent;
                if (follow_last || !rest[0]) {
                        a->base_fd = fs_open_in_root(base, rest, O_PATH);
                        a->last[0] = '\0';
                } else if (fs_path_fmt(a->last, sizeof(a->last), "%s", last) < 0) {
                        errno = ENAMETOOLONG; /* longer than any name can be: reported below */
                } else {
                        if (slash)
                                *slash = '\0';
                        else
                                parent[0] = '\0';
                        a->base_fd = fs_open_in_root(base, parent, O_PATH | O_DIRECTORY);
                }
                if (a->base_fd < 0 && base >= 0 && !rest[0] && errno == ENOTDIR) /* a file bind mount itself */
                        a->base_fd = fcntl(base, F_DUPFD_CLOEXEC, 3);
                if (a->base_fd < 0 ||
                    fstatat(a->base_fd, a->last, &a->st, AT_SYMLINK_NOFOLLOW | (a->last[0] ? 0 : AT_EMPTY_PATH)) < 0)
                        r = errno == ENOENT || errno == ENOTDIR || errno == ELOOP
                                    ? berr_set(err, BERR_NOT_FOUND, ENOENT, "Could not find the file %s in container %s", path,
                                               c->name + 1)
                                    : berr_sys(err, BERR_INTERNAL, "stat %s in container %s", path, c->name + 1);
        }
        if (r < 0) {
                ctr_archive_free(a);
                return r;
        }
        /* The stat header: {"name","size","mode","mtime","linkTarget"} */
        const char *bn = strrchr(cp, '/');
        snprintf(a->name, sizeof(a->name), "%s", strcmp(cp, "/") == 0 ? "/" : bn + 1);
        char mtime[64], lt[4096] = "";
        struct tm tm;
        gmtime_r(&a->st.st_mtim.tv_sec, &tm);
        char base_t[32];
        strftime(base_t, sizeof(base_t), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(mtime, sizeof(mtime), "%s.%09ldZ", base_t, a->st.st_mtim.tv_nsec);
        if (S_ISLNK(a->st.st_mode)) {
                char target[4096];
                ssize_t n = readlinkat(a->base_fd, a->last, target, sizeof(target) - 1);
                if (n > 0) {
                        target[n] = '\0';
                        char tj[8200];
                        if (target[0] == '/')
                                snprintf(tj, sizeof(tj), "%s", target);
                        else {
                                char parent[4096];
                                snprintf(parent, sizeof(parent), "%s", cp);
                                char *s = strrchr(parent, '/');
                                if (s)
                                        *s = '\0';
                                (void) fs_path_fmt(tj, sizeof(tj), "%s/%s", parent, target); /* "" if too long */
                        }
                        fs_clean_abs_path(tj, lt, sizeof(lt));
                }
        }
        _cleanup_json_ json_t *st = json_pack("{s:s, s:I, s:I, s:s, s:s}", "name", a->name, "size", (json_int_t) a->st.st_size,
                                              "mode", (json_int_t) go_mode(&a->st), "mtime", mtime, "linkTarget", lt);
        _cleanup_free_ char *text = json_dumps(st, JSON_COMPACT);
        size_t b64 = text ? (strlen(text) + 2) / 3 * 4 + 1 : 0;
        a->stat_b64 = b64 ? malloc(b64) : NULL;
        if (a->stat_b64)
                base64((const unsigned char *) text, strlen(text), a->stat_b64, b64);
        /* With "x/." the entries are the directory's contents, named from "." down. */
        if (plen >= 2 && strcmp(path + plen - 2, "/.") == 0)
                snprintf(a->name, sizeof(a->name), ".");
        *ret = a;
        return 0;
}

const char *ctr_archive_stat_header(struct ctr_archive *a) {
        return a->stat_b64 ? a->stat_b64 : "";
}

/* ---- tar writing ---- */

static bool init_placeholder(const char *path, const struct stat *st);

#define COPY_BUF (64 * 1024)

struct tar_out {
        int fd;
        bool failed;
        const struct userns_remap *remap; /* --userns-remap: owners as the container sees them */
        bool overlay; /* an overlay upper dir (commit): whiteouts become AUFS's .wh. files */
        char *buf; /* COPY_BUF bytes, on the heap: put() recurses */
        struct {
                dev_t dev;
                ino_t ino;
                char *name;
        } *links;
        size_t n_links, cap_links;
};

static void out_write(struct tar_out *o, const void *p, size_t n) {
        if (!o->failed && fs_write_all(o->fd, p, n) < 0)
                o->failed = true;
}

/* A tar numeric field: zero-padded octal digits and a NUL. Callers pass values that fit
 * (larger ones go into the PAX header and the field gets 0). */
static void octal(char *field, size_t width, unsigned long long v) {
        field[width - 1] = '\0';
        for (size_t i = width - 1; i-- > 0; v >>= 3)
                field[i] = (char) ('0' + (v & 7));
}

static void checksum(unsigned char *h) {
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (int i = 0; i < 512; i++)
                sum += h[i];
        snprintf((char *) h + 148, 8, "%06o", sum);
        h[155] = ' ';
}

static void pad(struct tar_out *o, unsigned long long n) {
        static const char zero[512];
        if (n % 512)
                out_write(o, zero, 512 - n % 512);
}

/* Append a pax record "LEN key=value\n" (LEN counts itself) to the growing @recs. */
static bool pax_add(char **recs, size_t *len, const char *key, const char *value) {
        size_t body = strlen(key) + strlen(value) + 3; /* ' ', '=', '\n' */
        size_t n = body + 1;
        for (;;) {
                char d[24];
                size_t total = body + (size_t) snprintf(d, sizeof(d), "%zu", n);
                if (total == n)
                        break;
                n = total;
        }
        char *grown = realloc(*recs, *len + n + 1);
        if (!grown)
                return false;
        *recs = grown;
        snprintf(*recs + *len, n + 1, "%zu %s=%s\n", n, key, value);
        *len += n;
        return true;
}

static void header(struct tar_out *o, const char *name, const struct stat *st_disk, char type, const char *link,
                   unsigned long long size) {
        struct stat mapped = *st_disk;
        if (o->remap) { /* dockerd's archive with the daemon's IdentityMapping */
                mapped.st_uid = userns_to_container(o->remap, st_disk->st_uid, false);
                mapped.st_gid = userns_to_container(o->remap, st_disk->st_gid, true);
        }
        const struct stat *st = &mapped;
        bool long_name = strlen(name) > 99, long_link = link && strlen(link) > 99, big = size > 077777777777ULL;
        bool big_ids = st->st_uid > 07777777 || st->st_gid > 07777777;
        unsigned long long mtime = st->st_mtim.tv_sec > 0 ? (unsigned long long) st->st_mtim.tv_sec : 0;
        if (mtime > 077777777777ULL)
                mtime = 077777777777ULL;
        if (long_name || long_link || big || big_ids) {
                char *recs = NULL;
                size_t n = 0;
                char num[32];
                bool ok = true;
                if (long_name)
                        ok = ok && pax_add(&recs, &n, "path", name);
                if (long_link)
                        ok = ok && pax_add(&recs, &n, "linkpath", link);
                if (big) {
                        snprintf(num, sizeof(num), "%llu", size);
                        ok = ok && pax_add(&recs, &n, "size", num);
                }
                if (big_ids) {
                        snprintf(num, sizeof(num), "%u", (unsigned) st->st_uid);
                        ok = ok && pax_add(&recs, &n, "uid", num);
                        snprintf(num, sizeof(num), "%u", (unsigned) st->st_gid);
                        ok = ok && pax_add(&recs, &n, "gid", num);
                }
                if (!ok) { /* never a truncated name: the stream ends in error instead */
                        free(recs);
                        o->failed = true;
                        return;
                }
                unsigned char ph[512] = { 0 };
                snprintf((char *) ph, 100, "PaxHeaders/%.80s", name);
                octal((char *) ph + 100, 8, 0644);
                octal((char *) ph + 108, 8, 0);
                octal((char *) ph + 116, 8, 0);
                octal((char *) ph + 124, 12, n);
                octal((char *) ph + 136, 12, mtime);
                ph[156] = 'x';
                memcpy(ph + 257, "ustar\0" "00", 8);
                checksum(ph);
                out_write(o, ph, 512);
                out_write(o, recs, n);
                pad(o, n);
                free(recs);
        }
        unsigned char h[512] = { 0 };
        snprintf((char *) h, 100, "%.99s", name);
        octal((char *) h + 100, 8, st->st_mode & 07777);
        octal((char *) h + 108, 8, big_ids ? 0 : st->st_uid);
        octal((char *) h + 116, 8, big_ids ? 0 : st->st_gid);
        octal((char *) h + 124, 12, big ? 0 : size);
        octal((char *) h + 136, 12, mtime);
        h[156] = (unsigned char) type;
        if (link)
                snprintf((char *) h + 157, 100, "%.99s", link);
        memcpy(h + 257, "ustar\0" "00", 8);
        if (type == '3' || type == '4') {
                octal((char *) h + 329, 8, major(st->st_rdev));
                octal((char *) h + 337, 8, minor(st->st_rdev));
        }
        checksum(h);
        out_write(o, h, 512);
}

static const char *hardlink_seen(struct tar_out *o, const struct stat *st) {
        if (S_ISDIR(st->st_mode) || st->st_nlink < 2)
                return NULL;
        for (size_t i = 0; i < o->n_links; i++)
                if (o->links[i].dev == st->st_dev && o->links[i].ino == st->st_ino)
                        return o->links[i].name;
        return NULL;
}

static void hardlink_add(struct tar_out *o, const struct stat *st, const char *name) {
        if (S_ISDIR(st->st_mode) || st->st_nlink < 2)
                return;
        if (o->n_links == o->cap_links) {
                size_t cap = o->cap_links ? o->cap_links * 2 : 16;
                void *p = realloc(o->links, cap * sizeof(*o->links));
                if (!p)
                        return;
                o->links = p;
                o->cap_links = cap;
        }
        o->links[o->n_links].dev = st->st_dev;
        o->links[o->n_links].ino = st->st_ino;
        o->links[o->n_links].name = strdup(name);
        if (o->links[o->n_links].name)
                o->n_links++;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The entries of @d but "." and "..", sorted (as Go's walk gives them); each and the
 * array are the caller's to free. NULL and 0 for an empty (or unreadable) directory. */
static char **sorted_names(DIR *d, size_t *ret_n) {
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 32;
                        char **p = realloc(names, cap * sizeof(*names));
                        if (!p)
                                break;
                        names = p;
                }
                names[n] = strdup(de->d_name);
                if (names[n])
                        n++;
        }
        if (n)
                qsort(names, n, sizeof(*names), cmp_str);
        *ret_n = n;
        return names;
}

/* Archive @dir_fd/@base (never followed) as @name, recursing into directories. The
 * container may change the tree while we walk it: a regular file is opened without
 * following links and without blocking, and must still be the file we stat'ed. */
static void put(struct tar_out *o, int dir_fd, const char *base, const char *name, int depth) {
        if (o->failed || depth > TREE_MAX_DEPTH)
                return;
        struct stat st;
        if (fstatat(dir_fd, base, &st, AT_SYMLINK_NOFOLLOW | (base[0] ? 0 : AT_EMPTY_PATH)) < 0)
                return; /* gone meanwhile */
        if (S_ISSOCK(st.st_mode))
                return; /* tar has no sockets; dockerd skips them too */
        if (o->overlay) {
                if (init_placeholder(name, &st))
                        return;
                if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) { /* deleted: .wh.<name> */
                        const char *slash = strrchr(name, '/');
                        _cleanup_free_ char *wh = NULL;
                        if (asprintf(&wh, "%.*s%s.wh.%s", slash ? (int) (slash - name) : 0, name, slash ? "/" : "",
                                     slash ? slash + 1 : name) < 0) {
                                o->failed = true;
                                return;
                        }
                        struct stat w = st;
                        w.st_mode = S_IFREG | 0644;
                        header(o, wh, &w, '0', NULL, 0);
                        return;
                }
        }
        const char *hl = hardlink_seen(o, &st);
        if (hl) {
                header(o, name, &st, '1', hl, 0);
                return;
        }
        if (S_ISREG(st.st_mode)) {
                int fd;
                if (base[0])
                        fd = openat(dir_fd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
                else { /* @dir_fd is an O_PATH fd of the file itself: open that inode for reading */
                        char p[64];
                        snprintf(p, sizeof(p), "/proc/self/fd/%d", dir_fd);
                        fd = open(p, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
                }
                struct stat fst;
                if (fd < 0)
                        return;
                if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode) || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
                        close(fd); /* swapped for something else meanwhile: skipped */
                        return;
                }
                hardlink_add(o, &fst, name);
                header(o, name, &fst, '0', NULL, (unsigned long long) fst.st_size);
                unsigned long long left = (unsigned long long) fst.st_size;
                while (left && !o->failed) {
                        ssize_t k = read(fd, o->buf, left < COPY_BUF ? left : COPY_BUF);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k <= 0) { /* shrank meanwhile: pad with zeros to the size announced */
                                memset(o->buf, 0, COPY_BUF);
                                while (left && !o->failed) {
                                        size_t z = left < COPY_BUF ? left : COPY_BUF;
                                        out_write(o, o->buf, z);
                                        left -= z;
                                }
                                break;
                        }
                        out_write(o, o->buf, (size_t) k);
                        left -= (unsigned long long) k;
                }
                close(fd);
                pad(o, (unsigned long long) fst.st_size);
                return;
        }
        if (S_ISLNK(st.st_mode)) {
                char target[4096];
                ssize_t k = readlinkat(dir_fd, base, target, sizeof(target) - 1);
                if (k < 0)
                        return;
                target[k] = '\0';
                header(o, name, &st, '2', target, 0);
                return;
        }
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
                hardlink_add(o, &st, name);
                header(o, name, &st, S_ISCHR(st.st_mode) ? '3' : S_ISBLK(st.st_mode) ? '4' : '6', NULL, 0);
                return;
        }
        if (!S_ISDIR(st.st_mode))
                return;
        int fd = base[0] ? openat(dir_fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                         : openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return;
        /* "/" is the container's root (path=/): dockerd names it "/" and its entries "/bin",
         * never with a doubled slash. */
        const char *sep = name[0] && name[strlen(name) - 1] == '/' ? "" : "/";
        if (name[0]) { /* "" is the root of an export: its entries have no prefix */
                _cleanup_free_ char *dname = NULL;
                if (asprintf(&dname, "%s%s", name, sep) < 0) {
                        close(fd);
                        o->failed = true;
                        return;
                }
                header(o, dname, &st, '5', NULL, 0);
        }
        char opq[4] = "";
        if (o->overlay && fgetxattr(fd, fs_overlay_opaque_xattr(), opq, sizeof(opq) - 1) == 1 && opq[0] == 'y') {
                /* an opaque directory: what the layers below had in it is gone */
                _cleanup_free_ char *wh = NULL;
                if (asprintf(&wh, "%s%s.wh..wh..opq", name, name[0] ? "/" : "") >= 0) {
                        struct stat w = st;
                        w.st_mode = S_IFREG | 0644;
                        header(o, wh, &w, '0', NULL, 0);
                }
        }
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        size_t n = 0;
        char **names = sorted_names(d, &n);
        for (size_t i = 0; i < n; i++) {
                char *child = NULL;
                int k = !name[0]                ? asprintf(&child, "%s", names[i])
                        : strcmp(name, ".") == 0 ? asprintf(&child, "./%s", names[i])
                                                 : asprintf(&child, "%s%s%s", name, sep, names[i]);
                if (k < 0)
                        o->failed = true;
                else
                        put(o, dirfd(d), names[i], child, depth + 1);
                free(child);
                free(names[i]);
        }
        free(names);
        closedir(d);
}

static void *writer(void *arg) {
        struct ctr_archive *a = arg;
        struct tar_out o = { .fd = a->pipe_w, .buf = malloc(COPY_BUF), .overlay = a->overlay_upper, .remap = a->d->remap };
        if (!o.buf)
                o.failed = true;
        put(&o, a->base_fd, a->last, a->name, 0);
        static const char end[1024];
        if (!o.failed) /* a stream that failed ends short: the client sees a broken tar */
                out_write(&o, end, sizeof(end));
        free(o.buf);
        for (size_t i = 0; i < o.n_links; i++)
                free(o.links[i].name);
        free(o.links);
        close(a->pipe_w);
        a->pipe_w = -1;
        return NULL;
}

int ctr_archive_start(struct ctr_archive *a, struct berr *err) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return berr_sys(err, BERR_INTERNAL, "pipe");
        a->pipe_r = p[0];
        a->pipe_w = p[1];
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setstacksize(&at, 1 << 20); /* put() frames are small; TREE_MAX_DEPTH of them fit */
        int e = pthread_create(&a->thread, &at, writer, a);
        pthread_attr_destroy(&at);
        if (e != 0)
                return berr_set(err, BERR_INTERNAL, e, "cannot start the archive");
        a->thread_started = true;
        return 0;
}

ssize_t ctr_archive_read(struct ctr_archive *a, char *buf, size_t max) {
        for (;;) {
                ssize_t n = read(a->pipe_r, buf, max);
                if (n < 0 && errno == EINTR)
                        continue;
                return n < 0 ? -1 : n;
        }
}

int ctr_archive_extract(struct daemon *d, struct container *c, const char *path, int tar_fd, bool no_overwrite_dir_nondir,
                        bool copy_uidgid, struct berr *err) {
        if (!path || !path[0])
                return berr_set(err, BERR_INVALID, EINVAL, "path cannot be empty");
        struct ctr_archive a = { .d = d, .c = c, .base_fd = -1, .pipe_r = -1, .pipe_w = -1 };
        int r = 0;
        _cleanup_close_ int rootfs_fd = use_rootfs(d, c, &a.we_mounted, err);
        if (rootfs_fd < 0)
                r = rootfs_fd;
        char cp[4096], rest[4096], joined[4200];
        snprintf(joined, sizeof(joined), "/%s", path);
        fs_clean_abs_path(joined, cp, sizeof(cp));
        int where = 0;
        _cleanup_close_ int base = -1;
        if (r == 0) {
                base = open_base(d, c, rootfs_fd, cp, rest, sizeof(rest), &where, a.vol_key, sizeof(a.vol_key), err);
                r = base < 0 ? base : 0;
        }
        if (r == 0 && where == 2)
                r = berr_set(err, BERR_FORBIDDEN, EROFS, "mounted volume is marked read-only");
        if (r == 0 && where == 0 && c->cc->hc.readonly_rootfs)
                r = berr_set(err, BERR_FORBIDDEN, EROFS, "container rootfs is marked read-only");
        _cleanup_close_ int target = -1;
        if (r == 0) {
                target = fs_open_in_root(base, rest, O_RDONLY | O_DIRECTORY);
                if (target < 0)
                        r = errno == ENOTDIR ? berr_set(err, BERR_INVALID, ENOTDIR, "extraction point is not a directory")
                            : errno == ENOENT ? berr_set(err, BERR_NOT_FOUND, ENOENT, "Could not find the file %s in container %s",
                                                         path, c->name + 1)
                                              : berr_sys(err, BERR_INTERNAL, "open %s in container %s", path, c->name + 1);
        }
        if (r == 0) {
                struct layer_apply_opts o = {
                        .whiteouts = LAYER_WHITEOUTS_NONE,
                        .owner_root = !copy_uidgid,
                        .no_overwrite_dir_nondir = no_overwrite_dir_nondir,
                        .map_id = d->remap ? userns_to_host : NULL,
                        .map_data = d->remap,
                };
                struct layer_apply_result res;
                r = layer_apply_fd(target, tar_fd, &o, &res, err);
        }
        maybe_unmount(&a);
        return r;
}

int ctr_export_open(struct daemon *d, struct container *c, struct ctr_archive **ret, struct berr *err) {
        struct ctr_archive *a = calloc(1, sizeof(*a));
        if (!a) {
                ctr_unref(d, c);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        a->d = d;
        a->c = c;
        a->base_fd = a->pipe_r = a->pipe_w = -1;
        /* The root filesystem only, without the container's mounts, as dockerd exports it;
         * entries are named from the root down without a prefix ("bin/sh"). */
        int fd = use_rootfs(d, c, &a->we_mounted, err);
        if (fd < 0) {
                ctr_archive_free(a);
                return fd;
        }
        a->base_fd = fd;
        *ret = a;
        return 0;
}

int ctr_commit_layer_open(struct daemon *d, struct container *c, struct ctr_archive **ret, struct berr *err) {
        if (strcmp(d->storage_driver, "overlay2") != 0) {
                ctr_unref(d, c);
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "commit needs the overlay2 storage driver in berth");
        }
        struct ctr_archive *a = calloc(1, sizeof(*a));
        if (!a) {
                ctr_unref(d, c);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        a->d = d;
        a->c = c;
        a->base_fd = a->pipe_r = a->pipe_w = -1;
        a->overlay_upper = true;
        _cleanup_free_ char *dir = ctr_data_dir(d, c->id);
        char upper[4200];
        (void) fs_path_fmt(upper, sizeof(upper), "%s/rw/diff", dir ? dir : ""); /* "" if too long: open fails */
        a->base_fd = open(upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (a->base_fd < 0 && errno == ENOENT && upper[0]) {
                /* Never started: nothing written yet, the layer is empty (dockerd commits a
                 * created container too). The first start mounts over this empty upper. */
                struct berr e = { 0 };
                if (fs_mkdir_p(upper, 0755, &e) == 0)
                        a->base_fd = open(upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
        }
        if (a->base_fd < 0) {
                int r = berr_sys(err, BERR_INTERNAL, "open %s", upper);
                ctr_archive_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

int ctr_archive_fd(struct ctr_archive *a) {
        return a->pipe_r;
}

/* ---- docker diff: the writable layer against the image's layers ---- */

struct changes {
        const int *lowers;
        size_t n_lowers;
        json_t *out;
        size_t count;
};

/* Whether @rel exists below: the first layer (from the top) that has an entry decides;
 * a whiteout there means it was deleted. */
static bool in_lowers(struct changes *ch, const char *rel) {
        char parent[4096], base[256];
        snprintf(parent, sizeof(parent), "%s", rel);
        char *slash = strrchr(parent, '/');
        if (fs_path_fmt(base, sizeof(base), "%s", slash ? slash + 1 : parent) < 0)
                return false; /* longer than any name can be: no layer has it */
        if (slash)
                *slash = '\0';
        else
                parent[0] = '\0';
        for (size_t i = 0; i < ch->n_lowers; i++) {
                _cleanup_close_ int pfd = fs_open_in_root(ch->lowers[i], parent, O_PATH | O_DIRECTORY);
                struct stat st;
                if (pfd < 0 || fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                return !(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
        }
        return false;
}

static void add_change(struct changes *ch, const char *rel, int kind) {
        if (ch->count++ > 1000000)
                return;
        _cleanup_free_ char *p = NULL;
        if (asprintf(&p, "/%s", rel) >= 0)
                json_array_append_new(ch->out, json_pack("{s:s, s:i}", "Path", p, "Kind", kind));
}

/* What start made for the container's mounts and pseudo filesystems: dockerd keeps these
 * in an init layer below the writable one, so neither diff nor commit shows them. */
static bool init_placeholder(const char *path, const struct stat *st) {
        static const char *const files[] = { ".dockerenv", "etc/hostname", "etc/hosts", "etc/resolv.conf" };
        static const char *const dirs[] = { "dev", "proc", "sys" };
        for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++)
                if (strcmp(path, files[k]) == 0 && S_ISREG(st->st_mode) && st->st_size == 0)
                        return true;
        for (size_t k = 0; k < sizeof(dirs) / sizeof(dirs[0]); k++)
                if (strcmp(path, dirs[k]) == 0 && S_ISDIR(st->st_mode))
                        return true;
        return false;
}

/* Returns how many changes it reported. */
static size_t walk_changes(struct changes *ch, int dir_fd, const char *rel, int depth) {
        size_t reported = 0;
        if (depth > TREE_MAX_DEPTH)
                return 0;
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return 0;
        }
        size_t n = 0;
        char **names = sorted_names(d, &n);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                struct stat st;
                if (asprintf(&path, "%s%s%s", rel, rel[0] ? "/" : "", names[i]) < 0 ||
                    fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || init_placeholder(path, &st)) {
                        free(names[i]);
                        continue;
                }
                if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
                        add_change(ch, path, 2); /* deleted */
                        reported++;
                } else if (!S_ISDIR(st.st_mode)) {
                        add_change(ch, path, in_lowers(ch, path) ? 0 : 1);
                        reported++;
                } else {
                        /* A directory that was there below shows only when something in it
                         * changed (it is in the writable layer because of its children). */
                        bool added = !in_lowers(ch, path);
                        size_t at = json_array_size(ch->out), below = 0;
                        int sub = openat(dirfd(d), names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0) {
                                below = walk_changes(ch, sub, path, depth + 1);
                                close(sub);
                        }
                        if (added || below) {
                                _cleanup_free_ char *p = NULL;
                                if (asprintf(&p, "/%s", path) >= 0)
                                        json_array_insert_new(ch->out, at,
                                                              json_pack("{s:s, s:i}", "Path", p, "Kind", added ? 1 : 0));
                                reported++;
                        }
                }
                free(names[i]);
        }
        free(names);
        closedir(d);
        return reported;
}

int ctr_changes(struct daemon *d, struct container *c, json_t **ret, struct berr *err) {
        if (strcmp(d->storage_driver, "overlay2") != 0)
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "docker diff needs the overlay2 storage driver in berth");
        _cleanup_free_ char *dir = ctr_data_dir(d, c->id);
        char upper[4200];
        if (!dir || fs_path_fmt(upper, sizeof(upper), "%s/rw/diff", dir) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s/rw/diff: path too long", dir ? dir : "");
        _cleanup_close_ int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ufd < 0 && errno == ENOENT) { /* never started: nothing written */
                *ret = json_null();
                return 0;
        }
        if (ufd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", upper);
        int *lowers = NULL;
        size_t n = 0;
        int r = image_store_layer_fds(d->images, c->image_id, &lowers, &n, err);
        if (r < 0)
                return r;
        struct changes ch = { .lowers = lowers, .n_lowers = n, .out = json_array() };
        walk_changes(&ch, ufd, "", 0);
        for (size_t i = 0; i < n; i++)
                close(lowers[i]);
        free(lowers);
        if (json_array_size(ch.out) == 0) {
                json_decref(ch.out);
                ch.out = json_null(); /* dockerd answers null for no changes */
        }
        *ret = ch.out;
        return 0;
}
