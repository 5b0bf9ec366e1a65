/* layer_apply.c - unpack a layer tar onto a directory, the way Docker's archive.UnpackLayer
 * does (parents created 0755, existing paths replaced unless dir over dir, directory times
 * set last, xattrs that a filesystem refuses skipped), with whiteouts converted for the
 * graph driver.
 *
 * Two libarchive readers are chained so the diff ID comes out of the same single pass: an
 * outer one in "raw" format undoes any compression, and the inner tar reader pulls its
 * input from it through a callback that hashes and counts every byte. Nothing is held in
 * memory beyond libarchive's buffers. */
#include "layer_apply.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <uthash.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "image/archive_lazy.h"
#include "image/layer_split.h"
#include "common/tree.h"

#define WH_PREFIX ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"

struct path_seen {
        UT_hash_handle hh;
        char path[];
};

struct dir_time {
        char *path;
        struct timespec ts[2];
};

struct apply {
        int root;
        const struct layer_apply_opts *o;
        uint64_t max_bytes, max_entries;
        struct archive *outer, *inner;
        struct digest_ctx *digest;
        uint64_t tar_bytes, declared_bytes, size_bytes, entries;
        bool outer_failed, too_large;
        bool ended; /* lenient_end: the stream stopped right after an entry's data */
        struct dir_time *dirs;
        size_t n_dirs, cap_dirs;
        struct path_seen *seen; /* LAYER_WHITEOUTS_DELETE: paths this layer wrote */
};

/* Inner reader's input: the next block of decompressed bytes, hashed and counted. */
static la_ssize_t inner_read(struct archive *a, void *opaque, const void **buf) {
        struct apply *ap = opaque;
        for (;;) {
                size_t size = 0;
                la_int64_t offset = 0;
                int r = archive_read_data_block(ap->outer, buf, &size, &offset);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r < ARCHIVE_WARN) {
                        ap->outer_failed = true;
                        archive_set_error(a, EIO, "%s", archive_error_string(ap->outer));
                        return -1;
                }
                if (size == 0)
                        continue;
                ap->tar_bytes += size;
                if (ap->tar_bytes > ap->max_bytes) {
                        ap->too_large = true;
                        archive_set_error(a, EFBIG, "uncompressed layer larger than %llu bytes",
                                          (unsigned long long) ap->max_bytes);
                        return -1;
                }
                digest_ctx_update(ap->digest, *buf, size);
                if (ap->o->split)
                        layer_split_feed(ap->o->split, *buf, size);
                return (la_ssize_t) size;
        }
}

static int read_error(struct apply *ap, const char *what, struct berr *err) {
        if (ap->too_large)
                return berr_set(err, BERR_TOO_LARGE, EFBIG, "%s: uncompressed layer larger than %llu bytes", what,
                                (unsigned long long) ap->max_bytes);
        const char *msg = archive_error_string(ap->outer_failed ? ap->outer : ap->inner);
        return berr_set(err, BERR_INVALID, EINVAL, "%s: %s", what, msg ? msg : "unexpected end of data");
}

/* Lexically clean a tar member name into components joined by '/' ("" is the root).
 * A leading '/' is dropped, as Docker does; a ".." that would climb above the root of a
 * relative name is a breakout and refused. */
static int clean_path(const char *in, char *out, size_t size, struct berr *err) {
        bool absolute = in[0] == '/';
        size_t len = 0, depth = 0;
        const char *p = in;
        out[0] = '\0';
        while (*p) {
                while (*p == '/')
                        p++;
                const char *c = p;
                while (*p && *p != '/')
                        p++;
                size_t n = (size_t) (p - c);
                if (n == 0 || (n == 1 && c[0] == '.'))
                        continue;
                if (n == 2 && c[0] == '.' && c[1] == '.') {
                        if (depth == 0) {
                                if (absolute)
                                        continue;
                                return berr_set(err, BERR_INVALID, EINVAL, "%s: path is outside of the layer root",
                                                in);
                        }
                        char *slash = strrchr(out, '/');
                        len = slash ? (size_t) (slash - out) : 0;
                        out[len] = '\0';
                        depth--;
                        continue;
                }
                if (len + (len ? 1 : 0) + n + 1 > size)
                        return berr_set(err, BERR_INVALID, ENAMETOOLONG, "%.64s...: path too long", in);
                if (++depth > LAYER_MAX_PATH_DEPTH)
                        return berr_set(err, BERR_INVALID, ENAMETOOLONG, "%.64s...: path deeper than %d levels",
                                        in, LAYER_MAX_PATH_DEPTH);
                if (len)
                        out[len++] = '/';
                memcpy(out + len, c, n);
                len += n;
                out[len] = '\0';
        }
        return 0;
}

/* Split a cleaned path into its parent ("" for top level) and last component. */
static void split_path(char *path, const char **ret_parent, const char **ret_base) {
        char *slash = strrchr(path, '/');
        if (!slash) {
                *ret_parent = "";
                *ret_base = path;
                return;
        }
        *slash = '\0';
        *ret_parent = path;
        *ret_base = slash + 1;
}

/* Metadata for a directory created on the way to a copied-up file: the first lower layer
 * holding that directory supplies it, so the merged view keeps its owner and mode. */
static int copy_dir_meta_from_lower(struct apply *ap, const char *prefix, int parent_fd, const char *comp,
                                    struct berr *err) {
        for (size_t i = 0; i < ap->o->n_lower_fds; i++) {
                _cleanup_close_ int lfd = fs_open_in_root(ap->o->lower_fds[i], prefix, O_RDONLY | O_DIRECTORY);
                if (lfd < 0)
                        continue;
                struct stat st;
                if (fstat(lfd, &st) < 0)
                        return berr_sys(err, BERR_INTERNAL, "stat lower %s", prefix);
                int r = tree_copy_xattrs(lfd, ".", parent_fd, comp, err);
                if (r < 0)
                        return r;
                return tree_apply_stat(parent_fd, comp, &st, err);
        }
        return 0;
}

/* Open the directory @path inside the root. With @create, missing directories are made
 * (0755 root:root like Docker's MkdirAll, or with lower-layer metadata when @from_lower). */
static int open_dir(struct apply *ap, const char *path, bool create, bool from_lower, int *ret_fd,
                    struct berr *err) {
        int fd = fs_open_in_root(ap->root, path, O_RDONLY | O_DIRECTORY);
        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        if (errno != ENOENT || !create)
                return berr_sys(err, errno == ENOENT ? BERR_NOT_FOUND : BERR_INVALID, "open directory %s",
                                path[0] ? path : "/");

        char prefix[PATH_MAX];
        _cleanup_close_ int cur = fs_open_in_root(ap->root, "", O_RDONLY | O_DIRECTORY);
        if (cur < 0)
                return berr_sys(err, BERR_INTERNAL, "open layer root");
        const char *p = path;
        while (*p) {
                const char *slash = strchr(p, '/');
                size_t plen = slash ? (size_t) (slash - path) : strlen(path);
                memcpy(prefix, path, plen);
                prefix[plen] = '\0';
                const char *comp = p;
                size_t clen = slash ? (size_t) (slash - p) : strlen(p);
                p = slash ? slash + 1 : p + clen;

                int next = fs_open_in_root(ap->root, prefix, O_RDONLY | O_DIRECTORY);
                if (next < 0 && errno == ENOENT) {
                        char name[NAME_MAX + 1];
                        if (clen > NAME_MAX)
                                return berr_set(err, BERR_INVALID, ENAMETOOLONG, "%s: name too long", prefix);
                        memcpy(name, comp, clen);
                        name[clen] = '\0';
                        if (mkdirat(cur, name, 0755) < 0)
                                return berr_sys(err, BERR_INVALID, "mkdir %s", prefix);
                        if (from_lower) {
                                int r = copy_dir_meta_from_lower(ap, prefix, cur, name, err);
                                if (r < 0)
                                        return r;
                        }
                        next = fs_open_in_root(ap->root, prefix, O_RDONLY | O_DIRECTORY);
                }
                if (next < 0)
                        return berr_sys(err, BERR_INVALID, "open directory %s", prefix);
                closep(&cur);
                cur = next;
        }
        *ret_fd = TAKE_FD(cur);
        return 0;
}

static int remember(struct apply *ap, const char *path, struct berr *err) {
        if (ap->o->whiteouts != LAYER_WHITEOUTS_DELETE)
                return 0;
        struct path_seen *hit = NULL;
        HASH_FIND_STR(ap->seen, path, hit);
        if (hit)
                return 0;
        size_t n = strlen(path);
        struct path_seen *e = malloc(sizeof(*e) + n + 1);
        if (!e)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        memcpy(e->path, path, n + 1);
        HASH_ADD(hh, ap->seen, path[0], n, e);
        return 0;
}

/* vfs opaque directory: remove what lower layers put in @rel, keeping what this layer wrote
 * (recursively, as Docker's walk does). */
static int prune_opaque(struct apply *ap, int dirfd, const char *rel, int depth, struct berr *err) {
        if (depth > LAYER_MAX_PATH_DEPTH)
                return berr_set(err, BERR_INVALID, ELOOP, "%s: too deep", rel);
        int fd = dup(dirfd);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "dup");
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return berr_sys(err, BERR_INTERNAL, "opendir %s", rel);
        }
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                if (STREQ(de->d_name, ".") || STREQ(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *child = NULL;
                if (asprintf(&child, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                struct path_seen *hit = NULL;
                HASH_FIND_STR(ap->seen, child, hit);
                int r;
                if (!hit) {
                        r = tree_remove_at(dirfd, de->d_name, err);
                } else {
                        _cleanup_close_ int sub = openat(dirfd, de->d_name,
                                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        r = sub < 0 ? 0 : prune_opaque(ap, sub, child, depth + 1, err);
                }
                if (r < 0)
                        return r;
        }
        return errno ? berr_sys(err, BERR_INTERNAL, "readdir %s", rel) : 0;
}

static int apply_whiteout(struct apply *ap, struct archive_entry *e, const char *parent, const char *base,
                          struct berr *err) {
        bool overlay = ap->o->whiteouts == LAYER_WHITEOUTS_OVERLAY;
        _cleanup_close_ int dfd = -1;
        int r = open_dir(ap, parent, overlay, false, &dfd, err);
        if (r == -ENOENT && !overlay)
                return 0; /* nothing below to delete */
        if (r < 0)
                return r;

        if (STREQ(base, WH_OPAQUE)) {
                if (overlay) {
                        if (fsetxattr(dfd, fs_overlay_opaque_xattr(), "y", 1, 0) < 0)
                                return berr_sys(err, BERR_INTERNAL, "%s: set opaque xattr", parent);
                        return 0;
                }
                return prune_opaque(ap, dfd, parent, 0, err);
        }
        if (strncmp(base, WH_META_PREFIX, strlen(WH_META_PREFIX)) == 0) {
                /* AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not part of the image. */
                log_debug("layer: skipping AUFS metadata %s/%s", parent, base);
                return 0;
        }
        const char *victim = base + strlen(WH_PREFIX);
        if (!victim[0] || STREQ(victim, ".") || STREQ(victim, ".."))
                return berr_set(err, BERR_INVALID, EINVAL, "%s/%s: invalid whiteout", parent, base);
        r = tree_remove_at(dfd, victim, err);
        if (r < 0)
                return r;
        if (!overlay)
                return 0;
        if (mknodat(dfd, victim, S_IFCHR, makedev(0, 0)) < 0)
                return berr_sys(err, BERR_FORBIDDEN, "%s/%s: create whiteout", parent, victim);
        if (fchownat(dfd, victim, archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
                return berr_sys(err, BERR_INTERNAL, "%s/%s: chown whiteout", parent, victim);
        return 0;
}

static int set_xattrs(int dfd, const char *base, const char *path, struct archive_entry *e,
                      struct berr *err) {
        const char *name;
        const void *value;
        size_t size;
        char proc[PATH_MAX];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dfd, base);
        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
                /* Overlay's own attributes (redirect, metacopy, origin...) would let a layer
                 * reach into other layers; only whiteout conversion may set them. */
                if (strncmp(name, "trusted.overlay.", 16) == 0 || strncmp(name, "user.overlay.", 13) == 0) {
                        log_debug("layer: %s: ignoring xattr %s", path, name);
                        continue;
                }
                if (lsetxattr(proc, name, value, size, 0) < 0) {
                        if (errno == ENOTSUP || errno == EPERM) {
                                log_debug("layer: %s: xattr %s not supported here", path, name);
                                continue;
                        }
                        return berr_sys(err, BERR_INTERNAL, "%s: set xattr %s", path, name);
                }
        }
        return 0;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2]) {
        ts[1].tv_sec = archive_entry_mtime(e);
        ts[1].tv_nsec = archive_entry_mtime_nsec(e);
        ts[0] = ts[1];
        if (archive_entry_atime_is_set(e) &&
            (archive_entry_atime(e) > ts[1].tv_sec ||
             (archive_entry_atime(e) == ts[1].tv_sec && archive_entry_atime_nsec(e) > ts[1].tv_nsec))) {
                ts[0].tv_sec = archive_entry_atime(e);
                ts[0].tv_nsec = archive_entry_atime_nsec(e);
        }
}

/* chown, xattrs, chmod (after chown, which clears setuid), times. */
static int apply_meta(const struct apply *ap, int dfd, const char *base, const char *path, struct archive_entry *e,
                      bool is_link, struct berr *err) {
        uid_t uid = ap->o->owner_root ? 0 : (uid_t) archive_entry_uid(e);
        gid_t gid = ap->o->owner_root ? 0 : (gid_t) archive_entry_gid(e);
        if (ap->o->map_id) {
                uint32_t u, g;
                int r = ap->o->map_id(ap->o->map_data, uid, false, &u, err);
                if (r == 0)
                        r = ap->o->map_id(ap->o->map_data, gid, true, &g, err);
                if (r < 0)
                        return berr_wrap(err, "%s", path);
                uid = u;
                gid = g;
        }
        if (fchownat(dfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return berr_sys(err, BERR_INTERNAL, "%s: chown", path);
        int r = set_xattrs(dfd, base, path, e, err);
        if (r < 0)
                return r;
        if (!is_link && ap->o->whiteouts == LAYER_WHITEOUTS_NONE) {
                /* Into a live container (docker cp), whose processes may swap @base for a
                 * symlink meanwhile: chmod the inode we stat, never a path that follows one. */
                _cleanup_close_ int pfd = openat(dfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                struct stat pst;
                if (pfd < 0 || fstat(pfd, &pst) < 0)
                        return berr_sys(err, BERR_INTERNAL, "%s: chmod", path);
                if (S_ISLNK(pst.st_mode))
                        return berr_set(err, BERR_INVALID, ELOOP, "%s: replaced by a symlink during the copy", path);
                char proc[64];
                snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
                if (chmod(proc, archive_entry_perm(e) & 07777) < 0)
                        return berr_sys(err, BERR_INTERNAL, "%s: chmod", path);
        } else if (!is_link && fchmodat(dfd, base, archive_entry_perm(e) & 07777, 0) < 0)
                return berr_sys(err, BERR_INTERNAL, "%s: chmod", path);
        struct timespec ts[2];
        entry_times(e, ts);
        if (utimensat(dfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return berr_sys(err, BERR_INTERNAL, "%s: set times", path);
        return 0;
}

static int write_file(struct apply *ap, int dfd, const char *base, const char *path, struct archive_entry *e,
                      struct berr *err) {
        _cleanup_close_ int fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "%s: create", path);
        int64_t declared = archive_entry_size(e);
        uint64_t got = 0;
        for (;;) {
                const void *buf;
                size_t size;
                la_int64_t off;
                int r = archive_read_data_block(ap->inner, &buf, &size, &off);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN && ap->o->lenient_end && got == (uint64_t) declared &&
                    strstr(archive_error_string(ap->inner) ?: "", "Truncated") != NULL) {
                        ap->ended = true; /* all the data came; only the padding is missing */
                        break;
                }
                if (r < ARCHIVE_WARN)
                        return read_error(ap, path, err);
                if (off >= 0 && (uint64_t) off + size > got)
                        got = (uint64_t) off + size;
                if (off < 0 || (uint64_t) off + size > (uint64_t) declared)
                        return berr_set(err, BERR_INVALID, EINVAL, "%s: data beyond the declared size", path);
                const char *p = buf;
                while (size > 0) {
                        ssize_t n = pwrite(fd, p, size, off);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return berr_sys(err, BERR_INTERNAL, "%s: write", path);
                        p += n;
                        off += n;
                        size -= (size_t) n;
                }
        }
        /* Sparse files end in a hole. */
        if (ftruncate(fd, declared) < 0)
                return berr_sys(err, BERR_INTERNAL, "%s: truncate", path);
        return 0;
}

/* A hard link whose target is in no layer below us either is an error; one whose target is
 * in a lower layer gets the target copied up first (see layer_apply.h). */
static int copy_up(struct apply *ap, char *target, struct berr *err) {
        char buf[PATH_MAX];
        snprintf(buf, sizeof(buf), "%s", target);
        const char *tparent, *tbase;
        split_path(buf, &tparent, &tbase);
        for (size_t i = 0; i < ap->o->n_lower_fds; i++) {
                _cleanup_close_ int lfd = fs_open_in_root(ap->o->lower_fds[i], tparent, O_RDONLY | O_DIRECTORY);
                if (lfd < 0)
                        continue;
                struct stat st;
                if (fstatat(lfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
                        break; /* whited out above this lower layer */
                if (S_ISDIR(st.st_mode))
                        return berr_set(err, BERR_INVALID, EPERM, "hard link to directory %s", target);
                _cleanup_close_ int dfd = -1;
                int r = open_dir(ap, tparent, true, true, &dfd, err);
                if (r < 0)
                        return r;
                return tree_copy_node(lfd, tbase, dfd, tbase, err);
        }
        return berr_set(err, BERR_INVALID, ENOENT, "hard link target %s not found in the layer or below", target);
}

static int make_hardlink(struct apply *ap, int dfd, const char *base, const char *path, struct archive_entry *e,
                         struct berr *err) {
        char target[PATH_MAX];
        const char *link = archive_entry_hardlink(e);
        int r = clean_path(link, target, sizeof(target), err);
        if (r < 0)
                return berr_wrap(err, "invalid hard link %s", path);
        if (!target[0])
                return berr_set(err, BERR_INVALID, EINVAL, "%s: hard link to the layer root", path);
        char tbuf[PATH_MAX];
        snprintf(tbuf, sizeof(tbuf), "%s", target);
        const char *tparent, *tbase;
        split_path(tbuf, &tparent, &tbase);
        for (int attempt = 0;; attempt++) {
                _cleanup_close_ int tfd = -1;
                r = open_dir(ap, tparent, false, false, &tfd, err);
                if (r == 0) {
                        if (linkat(tfd, tbase, dfd, base, 0) == 0)
                                return 0;
                        if (errno != ENOENT)
                                return berr_sys(err, BERR_INVALID, "%s: hard link to %s", path, target);
                } else if (r != -ENOENT)
                        return r;
                if (attempt > 0 || ap->o->whiteouts != LAYER_WHITEOUTS_OVERLAY || ap->o->n_lower_fds == 0)
                        return berr_set(err, BERR_INVALID, ENOENT, "%s: hard link target %s not found", path,
                                        target);
                r = copy_up(ap, target, err);
                if (r < 0)
                        return berr_wrap(err, "%s", path);
        }
}

static int record_dir_time(struct apply *ap, const char *path, struct archive_entry *e, struct berr *err) {
        if (ap->n_dirs == ap->cap_dirs) {
                size_t cap = ap->cap_dirs ? ap->cap_dirs * 2 : 64;
                struct dir_time *n = realloc(ap->dirs, cap * sizeof(*n));
                if (!n)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                ap->dirs = n;
                ap->cap_dirs = cap;
        }
        struct dir_time *d = &ap->dirs[ap->n_dirs];
        d->path = strdup(path);
        if (!d->path)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        entry_times(e, d->ts);
        ap->n_dirs++;
        return 0;
}

static int apply_entry(struct apply *ap, struct archive_entry *e, struct berr *err) {
        const char *raw = archive_entry_pathname(e);
        if (!raw)
                raw = archive_entry_pathname_utf8(e);
        if (!raw)
                return berr_set(err, BERR_INVALID, EINVAL, "tar entry without a name");
        char path[PATH_MAX], split[PATH_MAX];
        int r = clean_path(raw, path, sizeof(path), err);
        if (r < 0)
                return r;
        mode_t type = archive_entry_filetype(e);
        bool is_hardlink = archive_entry_hardlink(e) != NULL;

        if (!path[0]) { /* the root itself: only its metadata */
                if (type != AE_IFDIR || is_hardlink)
                        return berr_set(err, BERR_INVALID, EINVAL, "%s: the layer root must be a directory", raw);
                r = apply_meta(ap, ap->root, ".", "/", e, false, err);
                return r < 0 ? r : record_dir_time(ap, "", e, err);
        }

        memcpy(split, path, strlen(path) + 1);
        const char *parent, *base;
        split_path(split, &parent, &base);
        if (ap->o->whiteouts != LAYER_WHITEOUTS_NONE && strncmp(base, WH_PREFIX, strlen(WH_PREFIX)) == 0)
                return apply_whiteout(ap, e, parent, base, err);

        r = remember(ap, path, err);
        if (r < 0)
                return r;
        _cleanup_close_ int dfd = -1;
        r = open_dir(ap, parent, true, false, &dfd, err);
        if (r < 0)
                return r;

        struct stat st;
        if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !(S_ISDIR(st.st_mode) && type == AE_IFDIR && !is_hardlink)) {
                bool new_dir = type == AE_IFDIR && !is_hardlink;
                if (ap->o->no_overwrite_dir_nondir && S_ISDIR(st.st_mode) != new_dir)
                        return berr_set(err, BERR_INVALID, EISDIR,
                                        S_ISDIR(st.st_mode) ? "cannot overwrite directory \"/%s\" with non-directory \"%s\""
                                                            : "cannot overwrite non-directory \"/%s\" with directory \"%s\"",
                                        path, raw);
                r = tree_remove_at(dfd, base, err);
                if (r < 0)
                        return r;
        }

        if (is_hardlink)
                return make_hardlink(ap, dfd, base, path, e, err);

        switch (type) {
        case AE_IFDIR:
                if (mkdirat(dfd, base, 0755) < 0 && errno != EEXIST)
                        return berr_sys(err, BERR_INTERNAL, "%s: mkdir", path);
                r = apply_meta(ap, dfd, base, path, e, false, err);
                return r < 0 ? r : record_dir_time(ap, path, e, err);
        case AE_IFREG:
                r = write_file(ap, dfd, base, path, e, err);
                if (r < 0)
                        return r;
                ap->size_bytes += (uint64_t) archive_entry_size(e);
                return apply_meta(ap, dfd, base, path, e, false, err);
        case AE_IFLNK: {
                const char *target = archive_entry_symlink(e);
                if (!target)
                        target = archive_entry_symlink_utf8(e);
                if (!target || !target[0])
                        return berr_set(err, BERR_INVALID, EINVAL, "%s: symlink without a target", path);
                /* The target is stored, never followed here: it is resolved later, inside
                 * the container's root. */
                if (symlinkat(target, dfd, base) < 0)
                        return berr_sys(err, BERR_INTERNAL, "%s: symlink", path);
                ap->size_bytes += strlen(target);
                return apply_meta(ap, dfd, base, path, e, true, err);
        }
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO:
                if (mknodat(dfd, base, type | (archive_entry_perm(e) & 07777), archive_entry_rdev(e)) < 0)
                        return berr_sys(err, errno == EPERM ? BERR_FORBIDDEN : BERR_INTERNAL, "%s: mknod", path);
                return apply_meta(ap, dfd, base, path, e, false, err);
        default:
                return berr_set(err, BERR_INVALID, EINVAL, "%s: unhandled tar entry type 0%o", path, (unsigned) type);
        }
}

static int finish_dir_times(struct apply *ap, struct berr *err) {
        for (size_t i = ap->n_dirs; i-- > 0;) {
                _cleanup_close_ int fd = fs_open_in_root(ap->root, ap->dirs[i].path, O_RDONLY | O_DIRECTORY);
                if (fd < 0) {
                        if (errno == ENOENT || errno == ENOTDIR)
                                continue; /* replaced or deleted later in the layer */
                        return berr_sys(err, BERR_INTERNAL, "%s: open", ap->dirs[i].path);
                }
                if (futimens(fd, ap->dirs[i].ts) < 0)
                        return berr_sys(err, BERR_INTERNAL, "%s: set times", ap->dirs[i].path);
        }
        return 0;
}

static int apply_entries(struct apply *ap, struct berr *err) {
        for (;;) {
                struct archive_entry *e;
                if (ap->ended)
                        return 0;
                int r = archive_read_next_header(ap->inner, &e);
                if (r == ARCHIVE_EOF)
                        return 0;
                /* Every entry whole, only the last one's padding and the end blocks missing:
                 * what the docker CLI sends for `build -f -` (its tar wrapper stops there). */
                if (r < ARCHIVE_WARN && ap->o->lenient_end && ap->entries > 0 && !ap->outer_failed &&
                    strstr(archive_error_string(ap->inner) ?: "", "Truncated") != NULL)
                        return 0;
                if (r < ARCHIVE_WARN)
                        return read_error(ap, "read layer", err);
                if (++ap->entries > ap->max_entries)
                        return berr_set(err, BERR_TOO_LARGE, EFBIG, "layer has more than %llu entries",
                                        (unsigned long long) ap->max_entries);
                if (archive_entry_size(e) > 0) {
                        ap->declared_bytes += (uint64_t) archive_entry_size(e);
                        if (ap->declared_bytes > ap->max_bytes)
                                return berr_set(err, BERR_TOO_LARGE, EFBIG,
                                                "layer declares more than %llu bytes of file data",
                                                (unsigned long long) ap->max_bytes);
                }
                r = apply_entry(ap, e, err);
                if (r < 0)
                        return r;
        }
}

/* Hash what the tar reader did not consume (end-of-archive padding) so the diff ID covers
 * the whole uncompressed stream. */
static int drain_outer(struct apply *ap, struct berr *err) {
        for (;;) {
                const void *buf;
                la_ssize_t n = 0;
                n = inner_read(ap->inner, ap, &buf);
                if (n == 0)
                        return 0;
                if (n < 0)
                        return read_error(ap, "read layer", err);
        }
}

static void apply_free(struct apply *ap) {
        if (ap->inner)
                archive_read_free(ap->inner);
        if (ap->outer)
                archive_read_free(ap->outer);
        digest_ctx_free(ap->digest);
        for (size_t i = 0; i < ap->n_dirs; i++)
                free(ap->dirs[i].path);
        free(ap->dirs);
        struct path_seen *s, *tmp;
        HASH_ITER(hh, ap->seen, s, tmp) {
                HASH_DEL(ap->seen, s);
                free(s);
        }
}

static int open_readers(struct apply *ap, int tar_fd, bool *ret_empty, struct berr *err) {
        int r = arclazy_require(err);
        if (r < 0)
                return r;
        ap->outer = archive_read_new();
        ap->inner = archive_read_new();
        if (!ap->outer || !ap->inner)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        /* Only in-process decompressors: none of these falls back to an external program
         * when the library is linked with zlib, zstd, liblzma and libbz2, as Debian's is. */
        archive_read_support_filter_gzip(ap->outer);
        archive_read_support_filter_zstd(ap->outer);
        archive_read_support_filter_xz(ap->outer);
        archive_read_support_filter_bzip2(ap->outer);
        archive_read_support_format_raw(ap->outer);
        /* libarchive cannot bid on zero bytes; Docker takes an empty stream as an empty layer. */
        struct stat st;
        if (fstat(tar_fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 && lseek(tar_fd, 0, SEEK_CUR) == 0) {
                *ret_empty = true;
                return 0;
        }
        if (archive_read_open_fd(ap->outer, tar_fd, ARCHIVE_READ_BLOCK_BYTES) != ARCHIVE_OK)
                return berr_set(err, BERR_INVALID, EINVAL, "read layer: %s", archive_error_string(ap->outer));
        struct archive_entry *raw;
        r = archive_read_next_header(ap->outer, &raw);
        if (r == ARCHIVE_EOF) {
                *ret_empty = true;
                return 0;
        }
        if (r < ARCHIVE_WARN)
                return berr_set(err, BERR_INVALID, EINVAL, "read layer: %s", archive_error_string(ap->outer));

        archive_read_support_format_tar(ap->inner);
        if (archive_read_open(ap->inner, ap, NULL, inner_read, NULL) != ARCHIVE_OK)
                return read_error(ap, "read layer", err);
        *ret_empty = false;
        return 0;
}

int layer_apply_fd(int root_fd, int tar_fd, const struct layer_apply_opts *opts, struct layer_apply_result *ret,
                   struct berr *err) {
        struct apply ap = {
                .root = root_fd,
                .o = opts,
                .max_bytes = opts->max_bytes ? opts->max_bytes : LAYER_DEFAULT_MAX_BYTES,
                .max_entries = opts->max_entries ? opts->max_entries : LAYER_DEFAULT_MAX_ENTRIES,
        };
        int r = digest_ctx_new(&ap.digest, err);
        bool empty = false;
        if (r == 0)
                r = open_readers(&ap, tar_fd, &empty, err);
        if (r == 0 && !empty) {
                r = apply_entries(&ap, err);
                if (r == 0)
                        r = drain_outer(&ap, err);
                if (r == 0)
                        r = finish_dir_times(&ap, err);
        }
        if (r == 0) {
                struct layer_apply_result res = {
                        .size_bytes = ap.size_bytes,
                        .tar_bytes = ap.tar_bytes,
                        .entries = ap.entries,
                };
                digest_ctx_final(ap.digest, res.diff_id);
                *ret = res;
        }
        apply_free(&ap);
        return r;
}
