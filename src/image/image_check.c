/* image_check.c - the image side of `berthd --check`: reads the data root's image store
 * (layers/, image/, the graph driver's storage, blobs/, tmp/) without opening it, so
 * nothing is removed or rewritten while it looks, and reports what is inconsistent
 * (a record that does not hash to its name, a reference to something not stored) and
 * what nothing references (the leftovers image_store_open removes at start-up). The
 * full mode also reads every layer back through its tar-split record (the diff ID must
 * come out) and hashes every blob. Repairing is image_store_open's job; the only thing
 * removed here is a blob whose content does not match its digest, which nothing else
 * removes (pull and push treat a missing blob as not yet there). */
#include <dirent.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/id.h"
#include "common/json.h"
#include "image/image_store_int.h"
#include "image/layer_split.h"

#define CONFIG_MAX_BYTES (16u << 20)

struct ck_layer {
        char chain_id[DIGEST_STRING_MAX];
        char diff_id[DIGEST_STRING_MAX];
        char cache_id[65];
        char parent[DIGEST_STRING_MAX];
        bool used;
        UT_hash_handle hh;
};

struct ck {
        const struct image_check_opts *o;
        const char *root;
        int root_fd;
        char driver_dir[32]; /* "overlay2" or "vfs/dir" */
        struct ck_layer *layers;
        json_t *images; /* good image IDs -> true */
        struct image_check_stats st;
};

static void report(struct ck *k, enum image_finding kind, const char *path, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void report(struct ck *k, enum image_finding kind, const char *path, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        k->o->report(k->o->opaque, kind, path, msg);
}

static bool is_dot(const char *n) {
        return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

/* A small text file of a layer record, trailing blanks dropped; 1 when absent. */
static int read_small(int dirfd, const char *name, char *out, size_t size) {
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r = fs_read_file(dirfd, name, size - 1, &data, &len, NULL);
        if (r < 0)
                return r == -ENOENT ? 1 : r;
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' '))
                data[--len] = '\0';
        memcpy(out, data, len + 1);
        return 0;
}

static DIR *open_dir(struct ck *k, const char *rel) {
        int fd = openat(k->root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        DIR *d = fdopendir(fd);
        if (!d)
                close(fd);
        return d;
}

static bool storage_exists(struct ck *k, const char *cache_id) {
        char p[PATH_MAX];
        struct stat st;
        return fs_path_fmt(p, sizeof(p), "%s/%s", k->driver_dir, cache_id) == 0 &&
               fstatat(k->root_fd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static int check_layer_record(struct ck *k, int dirfd, const char *hex) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "layers/sha256/%s", hex);
        if (!id_is_full_hex(hex)) {
                report(k, IMAGE_FINDING_ORPHAN, path, "not a layer record");
                return 0;
        }
        _cleanup_close_ int fd = openat(dirfd, hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct ck_layer *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        char size[32];
        if (fd < 0 || read_small(fd, "diff", l->diff_id, sizeof(l->diff_id)) != 0 ||
            read_small(fd, "cache-id", l->cache_id, sizeof(l->cache_id)) != 0 ||
            read_small(fd, "size", size, sizeof(size)) != 0 || read_small(fd, "parent", l->parent, sizeof(l->parent)) < 0 ||
            !digest_is_sha256(l->diff_id) || !id_is_full_hex(l->cache_id) ||
            (l->parent[0] && !digest_is_sha256(l->parent))) {
                report(k, IMAGE_FINDING_ORPHAN, path, "incomplete or corrupt layer record");
                free(l);
                return 0;
        }
        snprintf(l->chain_id, sizeof(l->chain_id), "sha256:%.64s", hex);
        if (!storage_exists(k, l->cache_id)) {
                report(k, IMAGE_FINDING_ORPHAN, path, "its storage %s/%s is missing", k->driver_dir, l->cache_id);
                free(l);
                return 0;
        }
        HASH_ADD_STR(k->layers, chain_id, l);
        return 0;
}

static int scan_layers(struct ck *k) {
        _cleanup_closedir_ DIR *d = open_dir(k, "layers/sha256");
        if (!d)
                return 0; /* a fresh data root */
        struct dirent *de;
        while ((de = readdir(d))) {
                if (is_dot(de->d_name))
                        continue;
                if (strncmp(de->d_name, ".tmp-", 5) == 0) {
                        char p[PATH_MAX];
                        snprintf(p, sizeof(p), "layers/sha256/%s", de->d_name);
                        report(k, IMAGE_FINDING_ORPHAN, p, "temporary file of an interrupted layer write");
                        continue;
                }
                int r = check_layer_record(k, dirfd(d), de->d_name);
                if (r < 0)
                        return r;
        }
        /* Parents and chain IDs: ChainID(parent, diff) must be the record's name. */
        struct ck_layer *l, *tmp;
        HASH_ITER(hh, k->layers, l, tmp) {
                char path[PATH_MAX], chain[DIGEST_STRING_MAX];
                snprintf(path, sizeof(path), "layers/sha256/%s", digest_hex(l->chain_id));
                struct ck_layer *p = NULL;
                if (l->parent[0]) {
                        HASH_FIND_STR(k->layers, l->parent, p);
                        if (!p)
                                report(k, IMAGE_FINDING_PROBLEM, path, "its parent layer %s is not stored", l->parent);
                }
                if (layer_chain_id(l->parent[0] ? l->parent : NULL, l->diff_id, chain, NULL) == 0 &&
                    !STREQ(chain, l->chain_id))
                        report(k, IMAGE_FINDING_PROBLEM, path, "diff ID %s with parent %s gives chain ID %s", l->diff_id,
                               l->parent[0] ? l->parent : "(none)", chain);
                k->st.layers++;
        }
        return 0;
}

static void mark_used(struct ck *k, const char *chain_id) {
        for (int depth = 0; chain_id && chain_id[0] && depth < 4096; depth++) {
                struct ck_layer *l = NULL;
                HASH_FIND_STR(k->layers, chain_id, l);
                if (!l || l->used)
                        return;
                l->used = true;
                chain_id = l->parent;
        }
}

/* The chain ID a config's rootfs names ("" for none); -1 if the config is not valid. */
static int config_chain(const char *text, size_t len, char out[DIGEST_STRING_MAX]) {
        _cleanup_json_ json_t *cfg = NULL;
        json_t *ids;
        if (json_parse_object(text, len, &cfg, NULL) < 0 || image_config_diff_ids(cfg, &ids, NULL) < 0)
                return -1;
        out[0] = '\0';
        size_t i;
        json_t *v;
        json_array_foreach(ids, i, v) {
                char next[DIGEST_STRING_MAX];
                if (layer_chain_id(i ? out : NULL, json_string_value(v), next, NULL) < 0)
                        return -1;
                memcpy(out, next, sizeof(next));
        }
        return 0;
}

static int check_image_record(struct ck *k, int dirfd, const char *hex) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "image/sha256/%s", hex);
        if (!id_is_full_hex(hex)) {
                report(k, IMAGE_FINDING_ORPHAN, path, "not an image record");
                return 0;
        }
        char rel[PATH_MAX];
        snprintf(rel, sizeof(rel), "%s/config", hex);
        _cleanup_free_ char *config = NULL;
        size_t len;
        if (fs_read_file(dirfd, rel, CONFIG_MAX_BYTES, &config, &len, NULL) < 0) {
                report(k, IMAGE_FINDING_ORPHAN, path, "incomplete image record (no config)");
                return 0;
        }
        char id[DIGEST_STRING_MAX], chain[DIGEST_STRING_MAX];
        if (digest_sha256_buf(config, len, id, NULL) < 0)
                return -ENOMEM;
        if (!STREQ(digest_hex(id), hex)) {
                report(k, IMAGE_FINDING_PROBLEM, path, "its config hashes to %s", id);
                return 0;
        }
        if (config_chain(config, len, chain) < 0) {
                report(k, IMAGE_FINDING_PROBLEM, path, "its config is not a valid image config");
                return 0;
        }
        if (chain[0]) {
                struct ck_layer *l = NULL;
                HASH_FIND_STR(k->layers, chain, l);
                if (!l) {
                        report(k, IMAGE_FINDING_PROBLEM, path, "its top layer %s is not stored", chain);
                        return 0;
                }
                mark_used(k, chain);
        }
        json_object_set_new(k->images, id, json_true());
        k->st.images++;
        return 0;
}

static int scan_images(struct ck *k) {
        _cleanup_closedir_ DIR *d = open_dir(k, "image/sha256");
        if (!d)
                return 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (is_dot(de->d_name))
                        continue;
                if (strncmp(de->d_name, ".tmp-", 5) == 0) {
                        char p[PATH_MAX];
                        snprintf(p, sizeof(p), "image/sha256/%s", de->d_name);
                        report(k, IMAGE_FINDING_ORPHAN, p, "temporary file of an interrupted image write");
                        continue;
                }
                int r = check_image_record(k, dirfd(d), de->d_name);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void check_refs(struct ck *k) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = fs_read_file(k->root_fd, "image/references.json", 64u << 20, &text, &len, NULL);
        if (r == -ENOENT)
                return;
        _cleanup_json_ json_t *doc = NULL;
        if (r < 0 || json_parse_object(text, len, &doc, NULL) < 0) {
                report(k, IMAGE_FINDING_PROBLEM, "image/references.json", "cannot be read as JSON");
                return;
        }
        const char *repo_name, *full;
        json_t *repo, *idv;
        json_object_foreach(json_object_get(doc, "Repositories"), repo_name, repo) {
                json_object_foreach(repo, full, idv) {
                        const char *id = json_string_value(idv);
                        k->st.refs++;
                        if (!id || !json_object_get(k->images, id))
                                report(k, IMAGE_FINDING_PROBLEM, "image/references.json",
                                       "%s names image %s, which is not stored", full, id ? id : "(not a string)");
                }
        }
}

static void check_unused_layers(struct ck *k) {
        struct ck_layer *l, *tmp;
        HASH_ITER(hh, k->layers, l, tmp) {
                if (l->used)
                        continue;
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "layers/sha256/%s", digest_hex(l->chain_id));
                report(k, IMAGE_FINDING_ORPHAN, path, "no image uses this layer");
        }
}

static bool known_cache_id(struct ck *k, const char *name) {
        struct ck_layer *l, *tmp;
        HASH_ITER(hh, k->layers, l, tmp) if (STREQ(l->cache_id, name)) return true;
        return false;
}

static void check_storage(struct ck *k) {
        _cleanup_closedir_ DIR *d = open_dir(k, k->driver_dir);
        if (!d)
                return;
        bool overlay = STREQ(k->driver_dir, "overlay2");
        struct dirent *de;
        while ((de = readdir(d))) {
                if (is_dot(de->d_name) || (overlay && STREQ(de->d_name, "l")) || known_cache_id(k, de->d_name))
                        continue;
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "%s/%s", k->driver_dir, de->d_name);
                report(k, IMAGE_FINDING_ORPHAN, p, "layer storage no layer record owns");
        }
        if (!overlay)
                return;
        _cleanup_closedir_ DIR *ld = open_dir(k, "overlay2/l");
        while (ld && (de = readdir(ld))) {
                struct stat st;
                if (de->d_name[0] == '.')
                        continue;
                if (fstatat(dirfd(ld), de->d_name, &st, 0) < 0 && errno == ENOENT) {
                        char p[PATH_MAX];
                        snprintf(p, sizeof(p), "overlay2/l/%s", de->d_name);
                        report(k, IMAGE_FINDING_ORPHAN, p, "short link to a layer that is gone");
                }
        }
}

/* Full mode: the layer's tar, rebuilt from its tar-split record and its files, must hash
 * to its diff ID (layer_split_read checks it at the end). */
static void check_layer_content(struct ck *k, struct ck_layer *l) {
        char path[PATH_MAX], rel[PATH_MAX + 16];
        snprintf(path, sizeof(path), "layers/sha256/%s", digest_hex(l->chain_id));
        snprintf(rel, sizeof(rel), "%s/tar-split", path);
        _cleanup_close_ int split_fd = openat(k->root_fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (split_fd < 0)
                return; /* stored without one (an older berth): nothing to rebuild it from */
        if (fs_path_fmt(rel, sizeof(rel), "%s/%s%s", k->driver_dir, l->cache_id,
                        STREQ(k->driver_dir, "overlay2") ? "/diff" : "") < 0)
                return;
        _cleanup_close_ int root_fd = openat(k->root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct berr e = { 0 };
        struct layer_split_reader *rd = NULL;
        int r = root_fd < 0 ? berr_sys(&e, BERR_INTERNAL, "open %s", rel)
                            : layer_split_reader_new(split_fd, root_fd, l->diff_id, &rd, &e);
        char buf[1 << 16];
        ssize_t n = 0;
        while (r == 0 && (n = layer_split_read(rd, buf, sizeof(buf), &e)) > 0)
                ;
        if (r == 0 && n < 0)
                r = (int) n;
        layer_split_reader_free(rd);
        if (r < 0)
                report(k, IMAGE_FINDING_PROBLEM, path, "content does not match diff ID %s: %s", l->diff_id, e.msg);
}

/* 1 when the file's content hashes to @hex. */
static int blob_matches(int dirfd, const char *hex, char ret_digest[DIGEST_STRING_MAX]) {
        _cleanup_close_ int fd = openat(dirfd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        _cleanup_(digest_ctx_freep) struct digest_ctx *dc = NULL;
        if (digest_ctx_new(&dc, NULL) < 0)
                return -ENOMEM;
        char buf[1 << 16];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                digest_ctx_update(dc, buf, (size_t) n);
        if (n < 0)
                return -errno;
        digest_ctx_final(dc, ret_digest);
        return STREQ(digest_hex(ret_digest), hex);
}

static void check_blobs(struct ck *k) {
        _cleanup_closedir_ DIR *d = open_dir(k, "blobs/sha256");
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (is_dot(de->d_name))
                        continue;
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "blobs/sha256/%s", de->d_name);
                struct stat st;
                if (!id_is_full_hex(de->d_name) || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode)) {
                        report(k, IMAGE_FINDING_ORPHAN, p, "not a blob");
                        continue;
                }
                k->st.blobs++;
                if (!k->o->full)
                        continue;
                char got[DIGEST_STRING_MAX];
                int r = blob_matches(dirfd(d), de->d_name, got);
                if (r == 1)
                        continue;
                if (r == 0)
                        report(k, IMAGE_FINDING_PROBLEM, p, "content hashes to %s", got);
                else
                        report(k, IMAGE_FINDING_PROBLEM, p, "cannot be read: %s", strerror(-r));
                if (k->o->repair && unlinkat(dirfd(d), de->d_name, 0) < 0)
                        report(k, IMAGE_FINDING_PROBLEM, p, "cannot be removed: %s", strerror(errno));
        }
}

static void check_tmp(struct ck *k) {
        _cleanup_closedir_ DIR *d = open_dir(k, "tmp");
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (is_dot(de->d_name))
                        continue;
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "tmp/%s", de->d_name);
                report(k, IMAGE_FINDING_ORPHAN, p, "spool file of an interrupted load, pull or build");
        }
}

int image_store_check(const char *data_root, const struct image_check_opts *o, json_t *ret_image_ids,
                      struct image_check_stats *ret_stats, struct berr *err) {
        struct ck k = { .o = o, .root = data_root, .images = ret_image_ids };
        k.root_fd = open(data_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (k.root_fd < 0)
                return berr_sys(err, BERR_NOT_FOUND, "open %s", data_root);
        struct stat st;
        snprintf(k.driver_dir, sizeof(k.driver_dir), "%s",
                 fstatat(k.root_fd, "vfs/dir", &st, 0) == 0 && fstatat(k.root_fd, "overlay2/l", &st, 0) < 0 ? "vfs/dir"
                                                                                                          : "overlay2");
        int r = scan_layers(&k);
        if (r == 0)
                r = scan_images(&k);
        if (r == 0) {
                check_refs(&k);
                check_unused_layers(&k);
                check_storage(&k);
                struct ck_layer *l, *tmp;
                HASH_ITER(hh, k.layers, l, tmp) if (o->full && l->used) check_layer_content(&k, l);
                check_blobs(&k);
                check_tmp(&k);
        }
        struct ck_layer *l, *tmp;
        HASH_ITER(hh, k.layers, l, tmp) {
                HASH_DEL(k.layers, l);
                free(l);
        }
        close(k.root_fd);
        if (r < 0)
                return berr_set(err, BERR_INTERNAL, -r, "check image store: %s", strerror(-r));
        *ret_stats = k.st;
        return 0;
}
