/* copy.c - the layers COPY, ADD and WORKDIR make, without a container: the sources are
 * resolved inside the context (or a stage's or image's root filesystem, mounted
 * read-only), every step with openat2 RESOLVE_IN_ROOT so no path and no symlink leads
 * out; the destination is resolved in the stage's image, mounted read-only the same way.
 * A first pass hashes what would be copied (names, modes, owners, link targets,
 * contents; not times) for the build cache, as the classic builder's source hash; on a
 * miss a second pass writes the layer tar, which the image store applies. ADD unpacks a
 * local tar archive (plain, gzip, bzip2, xz) through the layer applier into a scratch
 * directory first, so a hostile archive cannot escape either. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/build_int.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/id.h"
#include "common/json.h"
#include "common/tree.h"
#include "daemon/daemon.h"
#include "distribution/distribution.h"
#include "image/image_store.h"
#include "image/layer_apply.h"

#define COPY_MAX_DEPTH 256
#define COPY_MAX_SOURCES 4096

/* ---- scratch directories and mounts ---- */

int build_scratch_dir(struct build_job *j, const char *prefix, char name[64], int *ret_fd, struct berr *err) {
        if (!j->ctx)
                return berr_set(err, BERR_INTERNAL, EINVAL, "no build directory");
        snprintf(name, 64, "%s-%u", prefix, ++j->seq);
        if (mkdirat(j->ctx->dir_fd, name, 0755) < 0)
                return berr_sys(err, BERR_INTERNAL, "create %s/%s", j->ctx->dir, name);
        if (ret_fd) {
                *ret_fd = openat(j->ctx->dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (*ret_fd < 0)
                        return berr_sys(err, BERR_INTERNAL, "open %s/%s", j->ctx->dir, name);
        }
        return 0;
}

int build_mount_image(struct build_job *j, const char *image_id, struct image_mount *m, struct berr *err) {
        memset(m, 0, sizeof(*m));
        m->fd = -1;
        char name[64];
        int r = build_scratch_dir(j, "mnt", name, NULL, err);
        if (r < 0)
                return r;
        if (fs_path_fmt(m->path, sizeof(m->path), "%s/%s", j->ctx->dir, name) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "path too long");
        bool has_layers = false;
        if (image_id && image_id[0]) {
                _cleanup_json_ json_t *cfg = NULL;
                char chain[DIGEST_STRING_MAX];
                r = image_store_config(j->d->images, image_id, &cfg, chain, err);
                if (r < 0)
                        return r;
                has_layers = chain[0] != '\0';
        }
        if (has_layers) {
                r = image_store_mount_rootfs(j->d->images, image_id, m->path, NULL, 0, err);
                if (r < 0)
                        return r;
                m->mounted = true;
        }
        m->fd = open(m->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (m->fd < 0) {
                r = berr_sys(err, BERR_INTERNAL, "open %s", m->path);
                build_unmount_image(j, m);
                return r;
        }
        /* Detached at once: the fd keeps the filesystem reachable, and no mount point is
         * left in DATA-ROOT/tmp (which start-up empties) if berthd dies mid-step. */
        if (m->mounted && umount2(m->path, MNT_DETACH) == 0)
                m->mounted = false;
        return 0;
}

void build_unmount_image(struct build_job *j, struct image_mount *m) {
        if (m->fd >= 0)
                close(m->fd);
        m->fd = -1;
        if (m->mounted)
                (void) umount2(m->path, MNT_DETACH); /* read-only; nothing to flush */
        m->mounted = false;
        if (m->path[0])
                (void) rmdir(m->path); /* the job's directory goes whole at the end anyway */
        m->path[0] = '\0';
}

/* ---- owners ---- */

struct owner {
        bool set;     /* --chown given: everything gets uid:gid */
        uid_t uid;
        gid_t gid;
};

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isdigit((unsigned char) *s))
                        return false;
        return true;
}

/* Find @name in the colon-separated file @path of the image: its third field. */
static int lookup_id(int root_fd, const char *path, const char *name, unsigned *ret) {
        _cleanup_close_ int fd = fs_open_in_root(root_fd, path, O_RDONLY);
        if (fd < 0)
                return -ENOENT;
        _cleanup_fclose_ FILE *f = fdopen(fd, "r");
        if (!f)
                return -ENOMEM;
        fd = -1;
        char line[1024];
        size_t n = strlen(name);
        while (fgets(line, sizeof(line), f)) {
                if (strncmp(line, name, n) != 0 || line[n] != ':')
                        continue;
                char *p = strchr(line + n + 1, ':');
                if (!p)
                        continue;
                *ret = (unsigned) strtoul(p + 1, NULL, 10);
                return 0;
        }
        return -ENOENT;
}

static int parse_chown(const char *spec, int root_fd, struct owner *o, struct berr *err) {
        _cleanup_free_ char *s = strdup(spec);
        if (!s)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        char *group = strchr(s, ':');
        if (group)
                *group++ = '\0';
        unsigned uid = 0, gid = 0;
        if (all_digits(s))
                uid = (unsigned) strtoul(s, NULL, 10);
        else if (lookup_id(root_fd, "/etc/passwd", s, &uid) < 0)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "unable to convert uid/gid chown string to host mapping: can't find uid for user %s: no such user: %s",
                                s, s);
        if (!group) {
                gid = uid;
                /* a user name without a group takes the user's primary group */
                if (!all_digits(s)) {
                        _cleanup_close_ int fd = fs_open_in_root(root_fd, "/etc/passwd", O_RDONLY);
                        _cleanup_fclose_ FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
                        if (f) {
                                fd = -1;
                                char line[1024];
                                size_t n = strlen(s);
                                while (fgets(line, sizeof(line), f))
                                        if (strncmp(line, s, n) == 0 && line[n] == ':') {
                                                char *p = strchr(line + n + 1, ':');
                                                char *q = p ? strchr(p + 1, ':') : NULL;
                                                if (q)
                                                        gid = (unsigned) strtoul(q + 1, NULL, 10);
                                                break;
                                        }
                        }
                }
        } else if (all_digits(group)) {
                gid = (unsigned) strtoul(group, NULL, 10);
        } else if (lookup_id(root_fd, "/etc/group", group, &gid) < 0) {
                return berr_set(err, BERR_INVALID, EINVAL,
                                "unable to convert uid/gid chown string to host mapping: can't find gid for group %s: no such group: %s",
                                group, group);
        }
        o->set = true;
        o->uid = uid;
        o->gid = gid;
        return 0;
}

/* ---- the layer's entries ---- */

struct copy {
        struct build_job *j;
        struct tarw tar;
        struct owner owner;
        int image_fd;      /* the stage's image, for what exists already */
        char **made;       /* directories the layer already has an entry for */
        size_t n_made;
        char *err_msg;
};

static void copy_clear(struct copy *c) {
        for (size_t i = 0; i < c->n_made; i++)
                free(c->made[i]);
        free(c->made);
}

static bool exists_in_image(struct copy *c, const char *abs_path) {
        if (c->image_fd < 0)
                return false;
        _cleanup_close_ int fd = fs_open_in_root(c->image_fd, abs_path, O_PATH);
        return fd >= 0;
}

static bool made(struct copy *c, const char *name) {
        for (size_t i = 0; i < c->n_made; i++)
                if (STREQ(c->made[i], name))
                        return true;
        return false;
}

static void mark_made(struct copy *c, const char *name) {
        char **v = realloc(c->made, (c->n_made + 1) * sizeof(char *));
        if (!v)
                return;
        c->made = v;
        c->made[c->n_made] = strdup(name);
        if (c->made[c->n_made])
                c->n_made++;
}

/* Directory entries for the parents of @dest ("/a/b/c" -> "a", "a/b") that neither the
 * image nor this layer has yet: 0755, owned by the --chown owner or root. */
static void make_parents(struct copy *c, const char *dest, bool including_self) {
        char path[4096];
        snprintf(path, sizeof(path), "%s", dest);
        size_t len = strlen(path);
        for (size_t i = 1; i <= len; i++) {
                if (path[i] != '/' && path[i] != '\0')
                        continue;
                if (path[i] == '\0' && !including_self)
                        break;
                char save = path[i];
                path[i] = '\0';
                if (!made(c, path + 1) && !exists_in_image(c, path)) {
                        tarw_header(&c->tar, path + 1, 0755, c->owner.uid, c->owner.gid, '5', NULL, 0, 0);
                        mark_made(c, path + 1);
                }
                path[i] = save;
        }
}

static int emit_file(struct copy *c, int fd, const struct stat *st, const char *name, struct berr *err) {
        uid_t uid = c->owner.set ? c->owner.uid : 0;
        gid_t gid = c->owner.set ? c->owner.gid : 0;
        tarw_header(&c->tar, name, st->st_mode, uid, gid, '0', NULL, (uint64_t) st->st_size, st->st_mtim.tv_sec);
        char buf[65536];
        uint64_t left = (uint64_t) st->st_size;
        while (left > 0) {
                ssize_t n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return berr_set(err, BERR_INTERNAL, n < 0 ? errno : EIO, "read %s: %s", name,
                                        n < 0 ? strerror(errno) : "file changed while it was copied");
                tarw_data(&c->tar, buf, (size_t) n);
                left -= (uint64_t) n;
        }
        tarw_pad(&c->tar, (uint64_t) st->st_size);
        return c->tar.failed ? berr_set(err, BERR_INTERNAL, EIO, "write the layer: %s", strerror(errno)) : 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int list_dir(int dfd, char ***ret, size_t *ret_n, struct berr *err) {
        int fd2 = dup(dfd);
        if (fd2 < 0)
                return berr_sys(err, BERR_INTERNAL, "dup");
        _cleanup_closedir_ DIR *dir = fdopendir(fd2);
        if (!dir) {
                close(fd2);
                return berr_sys(err, BERR_INTERNAL, "read directory");
        }
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(dir))) {
                if (STREQ(de->d_name, ".") || STREQ(de->d_name, ".."))
                        continue;
                char **v = realloc(names, (n + 2) * sizeof(char *));
                if (!v) {
                        strv_free(names);
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                }
                names = v;
                names[n] = strdup(de->d_name);
                names[++n] = NULL;
        }
        if (names)
                qsort(names, n, sizeof(char *), cmp_str);
        *ret = names;
        *ret_n = n;
        return 0;
}

/* The contents of directory @dfd under @prefix ("app/dir"); owners kept when @keep_owner
 * (an unpacked archive), else root or --chown. */
static int emit_tree(struct copy *c, int dfd, const char *prefix, bool keep_owner, int depth, struct berr *err) {
        if (depth > COPY_MAX_DEPTH)
                return berr_set(err, BERR_INVALID, ELOOP, "%s: directories nested too deep", prefix);
        if (job_cancelled(c->j))
                return berr_set(err, BERR_UNAVAILABLE, ECANCELED, "Build cancelled");
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0;
        int r = list_dir(dfd, &names, &n, err);
        for (size_t i = 0; r == 0 && i < n; i++) {
                _cleanup_free_ char *name = NULL;
                if (asprintf(&name, "%s%s%s", prefix, prefix[0] ? "/" : "", names[i]) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                struct stat st;
                if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return berr_sys(err, BERR_INTERNAL, "stat %s", name);
                uid_t uid = c->owner.set ? c->owner.uid : keep_owner ? st.st_uid : 0;
                gid_t gid = c->owner.set ? c->owner.gid : keep_owner ? st.st_gid : 0;
                if (S_ISDIR(st.st_mode)) {
                        tarw_header(&c->tar, name, st.st_mode, uid, gid, '5', NULL, 0, st.st_mtim.tv_sec);
                        mark_made(c, name);
                        _cleanup_close_ int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                return berr_sys(err, BERR_INTERNAL, "open %s", name);
                        r = emit_tree(c, sub, name, keep_owner, depth + 1, err);
                } else if (S_ISREG(st.st_mode)) {
                        _cleanup_close_ int fd = openat(dfd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0)
                                return berr_sys(err, BERR_INTERNAL, "open %s", name);
                        struct owner save = c->owner;
                        if (keep_owner && !c->owner.set)
                                c->owner = (struct owner){ .set = true, .uid = st.st_uid, .gid = st.st_gid };
                        r = emit_file(c, fd, &st, name, err);
                        c->owner = save;
                } else if (S_ISLNK(st.st_mode)) {
                        char target[4096];
                        ssize_t len = readlinkat(dfd, names[i], target, sizeof(target) - 1);
                        if (len < 0)
                                return berr_sys(err, BERR_INTERNAL, "readlink %s", name);
                        target[len] = '\0';
                        tarw_header(&c->tar, name, 0777, uid, gid, '2', target, 0, st.st_mtim.tv_sec);
                }
                /* devices, fifos and sockets are not copied */
        }
        return r;
}

/* ---- sources ---- */

struct source {
        char *rel;      /* cleaned, relative to the source root; "" for the root */
        bool is_dir;
        int root_fd;    /* ADD <url>: the download's directory; -1: the copy's source root */
};

static bool has_wildcard(const char *s) {
        return strpbrk(s, "*?[") != NULL;
}

/* "a/./b/" -> "a/b"; false if it climbs out of the root. */
static bool clean_rel(const char *in, char *out, size_t size) {
        char tmp[4200];
        snprintf(tmp, sizeof(tmp), "/%s", in);
        char abs[4096];
        /* refuse ".." that would leave the root before cleaning clamps it */
        int depth = 0;
        const char *p = in;
        while (*p) {
                while (*p == '/')
                        p++;
                const char *e = p;
                while (*e && *e != '/')
                        e++;
                if (e - p == 2 && p[0] == '.' && p[1] == '.') {
                        if (--depth < 0)
                                return false;
                } else if (e > p && !(e - p == 1 && p[0] == '.')) {
                        depth++;
                }
                p = e;
        }
        fs_clean_abs_path(tmp, abs, sizeof(abs));
        snprintf(out, size, "%s", abs + 1);
        return true;
}

static int add_source(struct source **v, size_t *n, const char *rel, bool is_dir, struct berr *err) {
        if (*n >= COPY_MAX_SOURCES)
                return berr_set(err, BERR_INVALID, E2BIG, "too many source files");
        struct source *nv = realloc(*v, (*n + 1) * sizeof(**v));
        if (!nv)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        *v = nv;
        nv[*n].rel = strdup(rel);
        nv[*n].is_dir = is_dir;
        nv[*n].root_fd = -1;
        if (!nv[*n].rel)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        (*n)++;
        return 0;
}

static int glob_walk(int dfd, const char *prefix, const char *pattern, struct source **v, size_t *n, int depth,
                     struct berr *err) {
        if (depth > COPY_MAX_DEPTH)
                return 0;
        _cleanup_strv_free_ char **names = NULL;
        size_t count = 0;
        int r = list_dir(dfd, &names, &count, err);
        for (size_t i = 0; r == 0 && i < count; i++) {
                _cleanup_free_ char *rel = NULL;
                if (asprintf(&rel, "%s%s%s", prefix, prefix[0] ? "/" : "", names[i]) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                struct stat st;
                if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (dockerignore_glob(pattern, rel)) {
                        struct stat target;
                        bool is_dir = S_ISDIR(st.st_mode) ||
                                      (S_ISLNK(st.st_mode) && fstatat(dfd, names[i], &target, 0) == 0 && S_ISDIR(target.st_mode));
                        r = add_source(v, n, rel, is_dir, err);
                        continue;
                }
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0)
                                r = glob_walk(sub, rel, pattern, v, n, depth + 1, err);
                }
        }
        return r;
}

static bool is_url(const char *s) {
        return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* An archive the classic builder unpacks: tar, or tar inside gzip, bzip2 or xz. */
static bool looks_like_archive(int fd) {
        unsigned char b[512];
        ssize_t n = pread(fd, b, sizeof(b), 0);
        if (n < 6)
                return false;
        if (b[0] == 0x1f && b[1] == 0x8b)
                return true;
        if (b[0] == 'B' && b[1] == 'Z' && b[2] == 'h')
                return true;
        if (memcmp(b, "\xfd" "7zXZ\0", 6) == 0)
                return true;
        return n == 512 && memcmp(b + 257, "ustar", 5) == 0;
}

/* Resolve the absolute path @in through the symlinks the image has (a destination under
 * /bin in an image where /bin -> usr/bin is /usr/bin/...), staying in its root as
 * RESOLVE_IN_ROOT would; components that do not exist are kept as they are. */
static int resolve_in_image(int root_fd, const char *in, char out[4096], struct berr *err) {
        char todo[8192], done[4096] = "";
        snprintf(todo, sizeof(todo), "%s", in);
        int hops = 0;
        char *p = todo;
        while (*p) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                char *e = p;
                while (*e && *e != '/')
                        e++;
                char comp[256];
                size_t n = (size_t) (e - p);
                if (n >= sizeof(comp))
                        return berr_set(err, BERR_INVALID, ENAMETOOLONG, "path too long: %s", in);
                memcpy(comp, p, n);
                comp[n] = '\0';
                p = e;
                if (STREQ(comp, "."))
                        continue;
                if (STREQ(comp, "..")) {
                        char *slash = strrchr(done, '/');
                        if (slash)
                                *slash = '\0';
                        continue;
                }
                char cand[4096];
                if (fs_path_fmt(cand, sizeof(cand), "%s/%s", done, comp) < 0)
                        return berr_set(err, BERR_INVALID, ENAMETOOLONG, "path too long: %s", in);
                char target[4096];
                ssize_t len = -1;
                if (root_fd >= 0) {
                        _cleanup_close_ int dir = fs_open_in_root(root_fd, done[0] ? done : "/", O_PATH | O_DIRECTORY);
                        if (dir >= 0)
                                len = readlinkat(dir, comp, target, sizeof(target) - 1);
                }
                if (len < 0) { /* not a symlink, or not there: taken as it is */
                        snprintf(done, sizeof(done), "%s", cand);
                        continue;
                }
                if (++hops > 40)
                        return berr_set(err, BERR_INVALID, ELOOP, "too many levels of symbolic links in %s", in);
                target[len] = '\0';
                char rest[8192];
                if (strlen(target) + 1 + strlen(p) >= sizeof(rest))
                        return berr_set(err, BERR_INVALID, ENAMETOOLONG, "path too long: %s", in);
                memcpy(rest, target, (size_t) len);
                rest[len] = '/';
                memcpy(rest + len + 1, p, strlen(p) + 1);
                if (target[0] == '/')
                        done[0] = '\0';
                memcpy(todo, rest, strlen(rest) + 1);
                p = todo;
        }
        snprintf(out, 4096, "%s", done[0] ? done : "/");
        return 0;
}

/* ---- COPY / ADD ---- */

struct copy_job {
        struct source *src;
        size_t n_src;
        int src_root;       /* context, or a mounted stage/image */
        char dest[4096];    /* absolute, cleaned */
        bool dest_is_dir;
        bool is_add;
};

/* Write (or, with no fd, only hash) the entries of every source. */
static int emit_sources(struct copy *c, struct copy_job *cj, bool unpack, struct berr *err) {
        int r = 0;
        if (cj->dest_is_dir)
                make_parents(c, cj->dest, true);
        else
                make_parents(c, cj->dest, false);
        for (size_t i = 0; r == 0 && i < cj->n_src; i++) {
                const struct source *s = &cj->src[i];
                _cleanup_close_ int fd = fs_open_in_root(s->root_fd >= 0 ? s->root_fd : cj->src_root, s->rel, O_RDONLY);
                if (fd < 0)
                        return berr_set(err, BERR_NOT_FOUND, errno,
                                        "file not found in build context or excluded by .dockerignore: stat %s: file does not exist",
                                        s->rel[0] ? s->rel : ".");
                struct stat st;
                if (fstat(fd, &st) < 0)
                        return berr_sys(err, BERR_INTERNAL, "stat %s", s->rel);
                const char *dest_rel = cj->dest + 1;
                if (S_ISDIR(st.st_mode)) {
                        r = emit_tree(c, fd, dest_rel, false, 0, err);
                        continue;
                }
                if (!S_ISREG(st.st_mode))
                        continue;
                if (cj->is_add && unpack && s->root_fd < 0 && looks_like_archive(fd)) {
                        char name[64];
                        _cleanup_close_ int dfd = -1;
                        r = build_scratch_dir(c->j, "add", name, &dfd, err);
                        if (r < 0)
                                return r;
                        struct layer_apply_opts o = { .whiteouts = LAYER_WHITEOUTS_NONE };
                        struct layer_apply_result res;
                        struct berr e = { 0 };
                        if (lseek(fd, 0, SEEK_SET) == 0 && layer_apply_fd(dfd, fd, &o, &res, &e) == 0) {
                                make_parents(c, cj->dest, true);
                                r = emit_tree(c, dfd, dest_rel, true, 0, err);
                                (void) tree_remove_at(c->j->ctx->dir_fd, name, NULL); /* the job's dir goes at the end too */
                                continue;
                        }
                        (void) tree_remove_at(c->j->ctx->dir_fd, name, NULL);
                        if (lseek(fd, 0, SEEK_SET) != 0)
                                return berr_sys(err, BERR_INTERNAL, "seek %s", s->rel);
                        /* not an archive after all: copied as a file, as dockerd */
                }
                _cleanup_free_ char *name = NULL;
                const char *base = strrchr(s->rel, '/');
                base = base ? base + 1 : s->rel;
                if (cj->dest_is_dir) {
                        if (asprintf(&name, "%s%s%s", dest_rel, dest_rel[0] ? "/" : "", base) < 0)
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                } else {
                        name = strdup(dest_rel);
                        if (!name)
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                }
                r = emit_file(c, fd, &st, name, err);
        }
        return r;
}

static int stage_or_image_root(struct build_job *j, const char *from, struct image_mount *m, struct berr *err) {
        const char *id = NULL;
        char resolved[DIGEST_STRING_MAX];
        char *end;
        unsigned long idx = strtoul(from, &end, 10);
        if (from[0] && !*end) {
                if (idx >= j->n_stages)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid from flag value %s: refers to current build stage",
                                        from);
                id = j->stages[idx].id;
        }
        for (size_t i = 0; !id && i < j->n_stages; i++)
                if (j->stages[i].name && strcasecmp(j->stages[i].name, from) == 0)
                        id = j->stages[i].id;
        if (!id) { /* an image, pulled if it is not here, as FROM's */
                int r = build_resolve_image(j, from, NULL, resolved, err);
                if (r < 0)
                        return berr_wrap(err, "invalid from flag value %s", from);
                id = resolved;
        }
        return build_mount_image(j, id, m, err);
}

static void free_sources(struct source *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].rel);
                if (v[i].root_fd >= 0)
                        close(v[i].root_fd);
        }
        free(v);
}

/* The proxy for @url from the build's arguments (HTTP_PROXY, https_proxy, ...), or NULL
 * for the daemon's environment. */
static const char *proxy_arg(struct build_job *j, const char *upper, const char *lower) {
        const char *v = json_string_value(json_object_get(j->o.build_args, upper));
        return v ? v : json_string_value(json_object_get(j->o.build_args, lower));
}

static bool download_cancelled(void *opaque) {
        return job_cancelled(opaque);
}

/* ADD <url>: the file downloaded into a scratch directory of its own, named as the URL's
 * last path element, mode 0600 and the server's Last-Modified time, as dockerd's. */
static int download_source(struct build_job *j, const char *url, struct copy_job *cj, struct berr *err) {
        char name[64];
        _cleanup_close_ int dfd = -1;
        int r = build_scratch_dir(j, "url", name, &dfd, err);
        if (r < 0)
                return r;
        const char *path = strstr(url, "://");
        path = path ? strchr(path + 3, '/') : NULL;
        char base[256] = "";
        if (path) {
                size_t n = strcspn(path, "?#");
                const char *b = path + n;
                while (b > path && b[-1] != '/')
                        b--;
                snprintf(base, sizeof(base), "%.*s", (int) (path + n - b), b);
        }
        if (!base[0] || STREQ(base, ".") || STREQ(base, ".."))
                return berr_set(err, BERR_INVALID, EINVAL, "cannot determine filename from url: %s", url);
        _cleanup_close_ int fd = openat(dfd, base, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "create %s", base);
        bool https = strncmp(url, "https://", 8) == 0;
        struct dist_fetch_opts fo = {
                .url = url,
                .out_fd = fd,
                .max_bytes = 64ULL << 30,
                .proxy = https ? proxy_arg(j, "HTTPS_PROXY", "https_proxy") : proxy_arg(j, "HTTP_PROXY", "http_proxy"),
                .no_proxy = proxy_arg(j, "NO_PROXY", "no_proxy"),
                .cancelled = download_cancelled,
                .opaque = j,
        };
        struct dist_fetch_result res;
        r = dist_fetch(&fo, &res, err);
        if (r < 0)
                return r;
        if (res.last_modified > 0) {
                struct timespec ts[2] = { { .tv_sec = res.last_modified }, { .tv_sec = res.last_modified } };
                (void) futimens(fd, ts); /* the time is not part of the cache key */
        }
        r = add_source(&cj->src, &cj->n_src, base, false, err);
        if (r == 0)
                cj->src[cj->n_src - 1].root_fd = TAKE_FD(dfd);
        return r;
}

static int resolve_sources(struct build_job *j, struct stage_state *st, const struct df_instr *in, bool is_add,
                           struct copy_job *cj, char ***ret_words, struct berr *err) {
        const char *name = df_kind_name(in->kind);
        char **words = calloc(in->n_args + 1, sizeof(char *));
        if (!words)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        *ret_words = words;
        for (size_t i = 0; i < in->n_args; i++) {
                int r = stage_expand(st, in->args[i], &words[i], err);
                if (r < 0)
                        return r;
        }
        const char *dest = words[in->n_args - 1];
        for (size_t i = 0; i + 1 < in->n_args; i++) {
                const char *s = words[i];
                if (is_url(s)) {
                        if (!is_add)
                                return berr_set(err, BERR_INVALID, EINVAL, "source can't be a URL for %s", name);
                        int r = download_source(j, s, cj, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                char rel[4096];
                if (!clean_rel(s, rel, sizeof(rel)))
                        return berr_set(err, BERR_FORBIDDEN, EPERM, "forbidden path outside the build context: %s ()", s);
                if (has_wildcard(rel)) {
                        size_t before = cj->n_src;
                        _cleanup_close_ int root = fs_open_in_root(cj->src_root, "", O_RDONLY | O_DIRECTORY);
                        int r = root < 0 ? berr_sys(err, BERR_INTERNAL, "open the build context")
                                         : glob_walk(root, "", rel, &cj->src, &cj->n_src, 0, err);
                        if (r < 0)
                                return r;
                        if (cj->n_src == before)
                                return berr_set(err, BERR_NOT_FOUND, ENOENT, "no source files were specified");
                        continue;
                }
                _cleanup_close_ int fd = fs_open_in_root(cj->src_root, rel, O_PATH);
                struct stat sst;
                if (fd < 0 || fstat(fd, &sst) < 0)
                        return berr_set(err, BERR_NOT_FOUND, ENOENT,
                                        "file not found in build context or excluded by .dockerignore: stat %s: file does not exist",
                                        rel[0] ? rel : ".");
                int r = add_source(&cj->src, &cj->n_src, rel, S_ISDIR(sst.st_mode), err);
                if (r < 0)
                        return r;
        }
        if (cj->n_src > 1 && dest[strlen(dest) - 1] != '/')
                return berr_set(err, BERR_INVALID, EINVAL,
                                "When using %s with more than one source file, the destination must be a directory and end with a /",
                                name);
        const char *wd = json_string_value(json_object_get(st->config, "WorkingDir"));
        _cleanup_free_ char *joined = NULL;
        if (asprintf(&joined, "%s/%s", dest[0] == '/' ? "" : (wd && wd[0] ? wd : "/"), dest) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        fs_clean_abs_path(joined, cj->dest, sizeof(cj->dest));
        size_t dl = strlen(dest);
        cj->dest_is_dir = dest[dl - 1] == '/' || (dl >= 2 && STREQ(dest + dl - 2, "/.")) || STREQ(dest, ".") ||
                          cj->n_src > 1;
        return 0;
}

/* "file:<hex>", "dir:<hex>" or "multi:<hex>", as the classic builder names its sources */
static void source_label(struct copy_job *cj, const char *sum, char out[128]) {
        const char *hex = strncmp(sum, "sha256:", 7) == 0 ? sum + 7 : sum;
        const char *kind = cj->n_src > 1 ? "multi" : cj->src[0].is_dir ? "dir" : "file";
        snprintf(out, 128, "%s:%s", kind, hex);
}

static int write_layer(struct build_job *j, struct stage_state *st, struct copy *c, struct copy_job *cj,
                       const char *workdir, json_t *probe, struct berr *err) {
        _cleanup_close_ int fd = openat(j->ctx->dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "create the layer file");
        int r = tarw_init(&c->tar, fd, err);
        for (size_t i = 0; i < c->n_made; i++)
                free(c->made[i]);
        c->n_made = 0;
        if (r == 0)
                r = cj ? emit_sources(c, cj, true, err) : 0;
        char sum[DIGEST_STRING_MAX];
        if (r == 0 && !cj)
                make_parents(c, workdir, true);
        tarw_done(&c->tar, sum);
        if (r == 0 && c->tar.failed)
                r = berr_sys(err, BERR_INTERNAL, "write the layer");
        if (r == 0 && lseek(fd, 0, SEEK_SET) != 0)
                r = berr_sys(err, BERR_INTERNAL, "seek the layer");
        if (r == 0)
                r = build_commit(j, st, c->tar.entries ? fd : -1, probe, NULL, err);
        return r;
}

int build_copy(struct build_job *j, struct stage_state *st, const struct df_instr *in, struct berr *err) {
        bool is_add = in->kind == DF_ADD;
        static const char *const buildkit_only[] = { "chmod", "link", "parents", "exclude", "checksum", "keep-git-dir" };
        for (size_t i = 0; i < ELEMENTSOF(buildkit_only); i++)
                if (df_flag(in, buildkit_only[i]))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "the --%s option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled",
                                        buildkit_only[i]);
        struct copy_job cj = { .is_add = is_add, .src_root = j->ctx->root_fd };
        struct image_mount from = { .fd = -1 }, image = { .fd = -1 };
        struct copy c = { .j = j, .image_fd = -1 };
        _cleanup_strv_free_ char **words = NULL;
        int r = 0;
        const char *from_flag = df_flag(in, "from");
        if (from_flag) {
                r = stage_or_image_root(j, from_flag, &from, err);
                if (r == 0)
                        cj.src_root = from.fd;
        }
        if (r == 0)
                r = resolve_sources(j, st, in, is_add, &cj, &words, err);
        if (r == 0)
                r = build_mount_image(j, st->image_id, &image, err);
        if (r == 0) {
                c.image_fd = image.fd;
                const char *chown = df_flag(in, "chown");
                if (chown && chown[0]) {
                        _cleanup_free_ char *spec = NULL;
                        r = stage_expand(st, chown, &spec, err);
                        if (r == 0)
                                r = parse_chown(spec, image.fd, &c.owner, err);
                }
        }
        if (r == 0 && !cj.dest_is_dir && cj.n_src == 1 && !cj.src[0].is_dir) {
                /* a single file onto an existing directory goes into it */
                _cleanup_close_ int fd = fs_open_in_root(image.fd, cj.dest, O_PATH | O_DIRECTORY);
                if (fd >= 0)
                        cj.dest_is_dir = true;
        }
        if (r == 0 && cj.n_src == 1 && cj.src[0].is_dir)
                cj.dest_is_dir = true;
        if (r == 0) { /* the destination through the image's symlinks (a file's own name stays) */
                char resolved[4096];
                char *slash = strrchr(cj.dest, '/');
                if (cj.dest_is_dir || !slash) {
                        r = resolve_in_image(image.fd, cj.dest, resolved, err);
                } else {
                        char dir[4096];
                        snprintf(dir, sizeof(dir), "%.*s", (int) (slash - cj.dest), cj.dest);
                        r = resolve_in_image(image.fd, dir[0] ? dir : "/", resolved, err);
                        if (r == 0) {
                                char joined[4096];
                                r = fs_path_fmt(joined, sizeof(joined), "%s/%s", STREQ(resolved, "/") ? "" : resolved,
                                                slash + 1);
                                if (r == 0)
                                        snprintf(resolved, sizeof(resolved), "%s", joined);
                                else
                                        r = berr_set(err, BERR_INVALID, ENAMETOOLONG, "path too long");
                        }
                }
                if (r == 0)
                        snprintf(cj.dest, sizeof(cj.dest), "%s", resolved);
        }
        /* pass 1: the content checksum, for the cache */
        char sum[DIGEST_STRING_MAX] = "";
        if (r == 0) {
                r = tarw_init(&c.tar, -1, err);
                if (r == 0)
                        r = emit_sources(&c, &cj, false, err);
                tarw_done(&c.tar, sum);
        }
        _cleanup_json_ json_t *probe = NULL;
        if (r == 0) {
                char label[128];
                source_label(&cj, sum, label);
                _cleanup_free_ char *comment = NULL;
                if (asprintf(&comment, "#(nop) %s %s in %s ", df_kind_name(in->kind), label, words[in->n_args - 1]) < 0)
                        r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                json_t *cmd = r == 0 ? json_deep_copy(stage_shell(st)) : NULL;
                if (cmd) {
                        json_array_append_new(cmd, json_string(comment));
                        probe = build_probe_config(st, cmd);
                        json_decref(cmd);
                }
                if (r == 0 && !probe)
                        r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        if (r == 0 && !build_probe_cache(j, st, probe))
                r = write_layer(j, st, &c, &cj, NULL, probe, err); /* pass 2 */
        copy_clear(&c);
        build_unmount_image(j, &image);
        build_unmount_image(j, &from);
        free_sources(cj.src, cj.n_src);
        if (r < 0 && err && strncmp(err->msg, df_kind_name(in->kind), strlen(df_kind_name(in->kind))) != 0)
                berr_wrap(err, "%s failed", df_kind_name(in->kind));
        return r;
}

int build_workdir_layer(struct build_job *j, struct stage_state *st, const char *dir, json_t *probe, struct berr *err) {
        struct image_mount image = { .fd = -1 };
        int r = build_mount_image(j, st->image_id, &image, err);
        if (r < 0)
                return r;
        struct copy c = { .j = j, .image_fd = image.fd };
        _cleanup_close_ int fd = fs_open_in_root(image.fd, dir, O_PATH | O_DIRECTORY);
        bool exists = fd >= 0;
        char hex[ID_HEX_LEN + 1];
        r = id_random_hex(hex, err);
        if (r < 0) {
                build_unmount_image(j, &image);
                return r;
        }
        hex[12] = '\0';
        job_say(j, " ---> Running in %s\n", hex);
        char resolved[4096];
        if (exists)
                r = build_commit(j, st, -1, probe, NULL, err);
        else if ((r = resolve_in_image(image.fd, dir, resolved, err)) == 0) /* made where the image's links lead */
                r = write_layer(j, st, &c, NULL, resolved, probe, err);
        if (r == 0 && (j->o.rm || j->o.force_rm))
                job_say(j, "Removing intermediate container %s\n", hex);
        copy_clear(&c);
        build_unmount_image(j, &image);
        return r;
}
