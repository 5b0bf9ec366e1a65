/* layer_store.c - chain-ID keyed layer records, their reference counts, and the order of
 * writes that keeps a crash harmless: driver storage first, then the metadata directory
 * written under a temporary name and renamed into place; anything else found at start-up
 * is garbage and removed. */
#include "layer_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/id.h"
#include "common/log.h"
#include "image/layer_apply.h"
#include "image/layer_split.h"
#include "common/tree.h"

#define TMP_PREFIX ".tmp-"
#define MAX_CHAIN 1024
#define SPLIT_FILE "tar-split" /* layer_split.h: gives the layer tar back for `docker save` */

struct layer_store {
        struct graph_driver *driver;
        int dir_fd; /* layers/sha256 */
        struct layer *layers;
};

int layer_chain_id(const char *parent_chain_id, const char *diff_id, char out[DIGEST_STRING_MAX],
                   struct berr *err) {
        if (!parent_chain_id) {
                memcpy(out, diff_id, DIGEST_STRING_MAX);
                out[DIGEST_STRING_MAX - 1] = '\0';
                return 0;
        }
        char buf[2 * DIGEST_STRING_MAX + 1];
        int n = snprintf(buf, sizeof(buf), "%s %s", parent_chain_id, diff_id);
        return digest_sha256_buf(buf, (size_t) n, out, err);
}

struct layer *layer_store_get(struct layer_store *ls, const char *chain_id) {
        struct layer *l = NULL;
        HASH_FIND_STR(ls->layers, chain_id, l);
        return l;
}

void layer_ref(struct layer *l) {
        l->refs++;
}

static int read_small(int dirfd, const char *name, char *out, size_t size, bool optional, struct berr *err) {
        _cleanup_free_ char *data = NULL;
        size_t len;
        struct berr e2;
        int r = fs_read_file(dirfd, name, size - 1, &data, &len, optional ? &e2 : err);
        if (r < 0)
                return (optional && r == -ENOENT) ? 1 : r;
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' '))
                data[--len] = '\0';
        memcpy(out, data, len + 1);
        return 0;
}

/* One layers/sha256/<hex> directory into @l; parent left as its chain ID in @ret_parent. */
static int load_one(struct layer_store *ls, const char *hex, struct layer *l, char ret_parent[DIGEST_STRING_MAX],
                    struct berr *err) {
        _cleanup_close_ int fd = openat(ls->dir_fd, hex, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open layer %s", hex);
        char size[32];
        int r = read_small(fd, "diff", l->diff_id, sizeof(l->diff_id), false, err);
        if (r == 0)
                r = read_small(fd, "cache-id", l->cache_id, sizeof(l->cache_id), false, err);
        if (r == 0)
                r = read_small(fd, "size", size, sizeof(size), false, err);
        if (r < 0)
                return r;
        ret_parent[0] = '\0';
        r = read_small(fd, "parent", ret_parent, DIGEST_STRING_MAX, true, err);
        if (r < 0)
                return r;
        snprintf(l->chain_id, sizeof(l->chain_id), "sha256:%.64s", hex);
        l->size_bytes = strtoull(size, NULL, 10);
        if (!digest_is_sha256(l->diff_id) || !id_is_full_hex(l->cache_id) ||
            (ret_parent[0] && !digest_is_sha256(ret_parent)))
                return berr_set(err, BERR_INTERNAL, EINVAL, "layer %s: corrupt metadata", hex);
        return 0;
}

static int remove_record(struct layer_store *ls, const char *hex, struct berr *err) {
        /* Renamed away first, so a crash half-way leaves a temporary dir, not a layer. */
        char tmp[128];
        snprintf(tmp, sizeof(tmp), TMP_PREFIX "rm-%s", hex);
        if (renameat(ls->dir_fd, hex, ls->dir_fd, tmp) < 0 && errno != ENOENT)
                return berr_sys(err, BERR_INTERNAL, "remove layer %s", hex);
        return tree_remove_at(ls->dir_fd, tmp, err);
}

static int load_all(struct layer_store *ls, struct berr *err) {
        int fd = dup(ls->dir_fd);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "dup");
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return berr_sys(err, BERR_INTERNAL, "opendir layers");
        }
        /* Parents are linked in a second pass; keep their IDs meanwhile. */
        struct pending {
                struct layer *l;
                char parent[DIGEST_STRING_MAX];
        } *pend = NULL;
        size_t n = 0, cap = 0;
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.') {
                        if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
                                (void) tree_remove_at(ls->dir_fd, de->d_name, NULL); /* retried next start */
                        continue;
                }
                struct layer *l = calloc(1, sizeof(*l));
                if (n == cap) {
                        cap = cap ? cap * 2 : 32;
                        struct pending *np = realloc(pend, cap * sizeof(*np));
                        if (!np) {
                                free(l);
                                l = NULL;
                        } else
                                pend = np;
                }
                if (!l) {
                        r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        break;
                }
                struct berr lerr;
                if (!id_is_full_hex(de->d_name) || load_one(ls, de->d_name, l, pend[n].parent, &lerr) < 0 ||
                    !graph_driver_exists(ls->driver, l->cache_id)) {
                        log_debug("layer store: removing incomplete layer %s", de->d_name);
                        free(l);
                        (void) remove_record(ls, de->d_name, NULL); /* garbage; retried next start */
                        continue;
                }
                HASH_ADD_STR(ls->layers, chain_id, l);
                pend[n++].l = l;
        }
        for (size_t i = 0; r == 0 && i < n; i++) {
                if (!pend[i].parent[0])
                        continue;
                struct layer *p = layer_store_get(ls, pend[i].parent);
                if (!p) {
                        /* Its parent is gone: unusable. Left with no parent and no refs, so
                         * the gc after image loading removes it. */
                        log_debug("layer store: layer %s lost its parent %s", pend[i].l->chain_id, pend[i].parent);
                        pend[i].l->refs = 0;
                        continue;
                }
                pend[i].l->parent = p;
                p->refs++;
        }
        free(pend);
        return r;
}

int layer_store_open(const char *data_root, struct graph_driver *driver, struct layer_store **ret,
                     struct berr *err) {
        _cleanup_free_ char *dir = fs_path_join(data_root, "layers/sha256");
        if (!dir)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = fs_mkdir_p(dir, 0700, err);
        if (r < 0)
                return r;
        struct layer_store *ls = calloc(1, sizeof(*ls));
        if (!ls)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        ls->driver = driver;
        ls->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ls->dir_fd < 0) {
                r = berr_sys(err, BERR_INTERNAL, "open %s", dir);
                layer_store_free(ls);
                return r;
        }
        r = load_all(ls, err);
        if (r < 0) {
                layer_store_free(ls);
                return r;
        }
        *ret = ls;
        return 0;
}

struct layer_store *layer_store_free(struct layer_store *ls) {
        if (!ls)
                return NULL;
        struct layer *l, *tmp;
        HASH_ITER(hh, ls->layers, l, tmp) {
                HASH_DEL(ls->layers, l);
                free(l);
        }
        if (ls->dir_fd >= 0)
                close(ls->dir_fd);
        free(ls);
        return NULL;
}

size_t layer_chain_cache_ids(const struct layer *top, const char **out, size_t max) {
        size_t n = 0;
        for (const struct layer *l = top; l; l = l->parent) {
                if (n < max)
                        out[n] = l->cache_id;
                n++;
        }
        return n;
}

uint64_t layer_chain_size(const struct layer *top) {
        uint64_t s = 0;
        for (const struct layer *l = top; l; l = l->parent)
                s += l->size_bytes;
        return s;
}

static void split_tmp_name(const struct layer *l, char out[128]) {
        snprintf(out, 128, TMP_PREFIX "split-%s", l->cache_id);
}

static int write_record(struct layer_store *ls, const struct layer *l, struct berr *err) {
        const char *hex = digest_hex(l->chain_id);
        char tmp[128], size[32], split[128];
        snprintf(tmp, sizeof(tmp), TMP_PREFIX "new-%s", hex);
        (void) tree_remove_at(ls->dir_fd, tmp, NULL); /* a leftover of an earlier attempt */
        if (mkdirat(ls->dir_fd, tmp, 0700) < 0)
                return berr_sys(err, BERR_INTERNAL, "create layer record %s", tmp);
        _cleanup_close_ int fd = openat(ls->dir_fd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", tmp);
        snprintf(size, sizeof(size), "%" PRIu64, l->size_bytes);
        split_tmp_name(l, split);
        int r = 0;
        if (renameat(ls->dir_fd, split, fd, SPLIT_FILE) < 0)
                r = berr_sys(err, BERR_INTERNAL, "record tar-split of layer %s", l->chain_id);
        if (r == 0)
                r = fs_write_atomic(fd, "diff", l->diff_id, strlen(l->diff_id), 0644, err);
        if (r == 0)
                r = fs_write_atomic(fd, "cache-id", l->cache_id, strlen(l->cache_id), 0644, err);
        if (r == 0)
                r = fs_write_atomic(fd, "size", size, strlen(size), 0644, err);
        if (r == 0 && l->parent)
                r = fs_write_atomic(fd, "parent", l->parent->chain_id, strlen(l->parent->chain_id), 0644, err);
        if (r == 0 && renameat(ls->dir_fd, tmp, ls->dir_fd, hex) < 0)
                r = berr_sys(err, BERR_INTERNAL, "record layer %s", l->chain_id);
        if (r == 0 && fsync(ls->dir_fd) < 0)
                r = berr_sys(err, BERR_INTERNAL, "fsync layers directory");
        if (r < 0)
                (void) tree_remove_at(ls->dir_fd, tmp, NULL); /* the first error is the one to report */
        return r;
}

static void remove_split_tmp(struct layer_store *ls, const struct layer *l) {
        char split[128];
        split_tmp_name(l, split);
        (void) unlinkat(ls->dir_fd, split, 0); /* absent after a rename; else garbage removed at start-up */
}

/* The tar-split record of a layer being applied: a temporary file in the layers dir,
 * moved into the record by write_record(). */
static int open_split_tmp(struct layer_store *ls, const struct layer *l, struct berr *err) {
        char split[128];
        split_tmp_name(l, split);
        int fd = openat(ls->dir_fd, split, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "create %s", split);
        return fd;
}

/* Apply into fresh driver storage; on success @l holds the diff ID, size and cache ID,
 * and the tar-split record waits in its temporary file. */
static int apply_new(struct layer_store *ls, struct layer *parent, int tar_fd, struct layer *l, struct berr *err) {
        int r = id_random_hex(l->cache_id, err);
        if (r < 0)
                return r;
        const char *lowers[MAX_CHAIN];
        size_t n = layer_chain_cache_ids(parent, lowers, MAX_CHAIN);
        if (n > MAX_CHAIN)
                return berr_set(err, BERR_INVALID, E2BIG, "image has more than %d layers", MAX_CHAIN);
        _cleanup_close_ int apply_fd = -1;
        int *lower_fds = NULL;
        size_t n_lower_fds = 0;
        r = graph_driver_create(ls->driver, l->cache_id, lowers, n, &apply_fd, &lower_fds, &n_lower_fds, err);
        if (r < 0)
                return r;
        struct layer_split_writer *split = NULL;
        _cleanup_close_ int split_fd = open_split_tmp(ls, l, err);
        r = split_fd < 0 ? split_fd : layer_split_writer_new(split_fd, &split, err);
        if (r < 0) {
                for (size_t i = 0; i < n_lower_fds; i++)
                        close(lower_fds[i]);
                free(lower_fds);
                (void) graph_driver_remove(ls->driver, l->cache_id, NULL); /* report the first error */
                remove_split_tmp(ls, l);
                return r;
        }
        struct layer_apply_opts opts = {
                .whiteouts = graph_driver_whiteouts(ls->driver),
                .lower_fds = lower_fds,
                .n_lower_fds = n_lower_fds,
                .split = split,
        };
        struct layer_apply_result res;
        r = layer_apply_fd(apply_fd, tar_fd, &opts, &res, err);
        for (size_t i = 0; i < n_lower_fds; i++)
                close(lower_fds[i]);
        free(lower_fds);
        if (r == 0)
                r = layer_split_writer_finish(split, err);
        layer_split_writer_free(split);
        if (r == 0 && (fsync(apply_fd) < 0 || fsync(split_fd) < 0))
                r = berr_sys(err, BERR_INTERNAL, "fsync layer");
        if (r < 0) {
                (void) graph_driver_remove(ls->driver, l->cache_id, NULL); /* report the apply error */
                remove_split_tmp(ls, l);
                return r;
        }
        memcpy(l->diff_id, res.diff_id, sizeof(l->diff_id));
        l->size_bytes = res.size_bytes;
        return 0;
}

int layer_store_prepare(struct layer_store *ls, struct layer *parent, int tar_fd, struct layer **ret,
                        struct berr *err) {
        struct layer *l = calloc(1, sizeof(*l));
        if (!l)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = apply_new(ls, parent, tar_fd, l, err);
        if (r < 0) {
                free(l);
                return r;
        }
        l->parent = parent; /* no reference yet: the caller's pins it until commit or abort */
        *ret = l;
        return 0;
}

const char *layer_prepared_diff_id(const struct layer *prepared) {
        return prepared->diff_id;
}

void layer_store_abort(struct layer_store *ls, struct layer *prepared) {
        if (!prepared)
                return;
        (void) graph_driver_remove(ls->driver, prepared->cache_id, NULL); /* else garbage the start-up gc removes */
        remove_split_tmp(ls, prepared);
        free(prepared);
}

int layer_store_commit(struct layer_store *ls, struct layer *l, const char *expected_diff_id, struct layer **ret,
                       struct berr *err) {
        struct layer *parent = l->parent;
        int r = 0;
        if (expected_diff_id && !STREQ(l->diff_id, expected_diff_id))
                r = berr_set(err, BERR_INVALID, EINVAL, "layer diff ID mismatch: expected %s, got %s", expected_diff_id,
                             l->diff_id);
        if (r == 0)
                r = layer_chain_id(parent ? parent->chain_id : NULL, l->diff_id, l->chain_id, err);
        if (r == 0) {
                struct layer *have = layer_store_get(ls, l->chain_id);
                if (have) { /* same content registered meanwhile: keep the one we have */
                        layer_store_abort(ls, l); /* unreferenced copy */
                        layer_ref(have);
                        *ret = have;
                        return 0;
                }
                r = write_record(ls, l, err);
        }
        if (r < 0) {
                layer_store_abort(ls, l);
                return r;
        }
        if (parent)
                layer_ref(parent);
        l->refs = 1;
        HASH_ADD_STR(ls->layers, chain_id, l);
        *ret = l;
        return 0;
}

int layer_store_register(struct layer_store *ls, struct layer *parent, int tar_fd, const char *expected_diff_id,
                         struct layer **ret, struct berr *err) {
        char chain[DIGEST_STRING_MAX];
        int r;
        if (expected_diff_id) {
                if (!digest_is_sha256(expected_diff_id))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid diff ID %s", expected_diff_id);
                r = layer_chain_id(parent ? parent->chain_id : NULL, expected_diff_id, chain, err);
                if (r < 0)
                        return r;
                struct layer *have = layer_store_get(ls, chain);
                if (have) {
                        layer_ref(have);
                        *ret = have;
                        return 0;
                }
        }
        struct layer *l = NULL;
        r = layer_store_prepare(ls, parent, tar_fd, &l, err);
        if (r < 0)
                return r;
        return layer_store_commit(ls, l, expected_diff_id, ret, err);
}

static int remove_layer(struct layer_store *ls, struct layer *l, struct berr *err) {
        int r = remove_record(ls, digest_hex(l->chain_id), err);
        if (r < 0)
                return r;
        r = graph_driver_remove(ls->driver, l->cache_id, err);
        if (r < 0)
                return r;
        HASH_DEL(ls->layers, l);
        free(l);
        return 0;
}

int layer_store_release(struct layer_store *ls, struct layer *l, json_t *deleted, struct berr *err) {
        while (l) {
                if (l->refs > 0)
                        l->refs--;
                if (l->refs > 0)
                        return 0;
                struct layer *parent = l->parent;
                if (deleted)
                        json_array_append_new(deleted, json_string(l->chain_id));
                int r = remove_layer(ls, l, err);
                if (r < 0)
                        return r;
                l = parent;
        }
        return 0;
}

int layer_store_gc(struct layer_store *ls, struct berr *err) {
        bool again = true;
        while (again) {
                again = false;
                struct layer *l, *tmp;
                HASH_ITER(hh, ls->layers, l, tmp) {
                        if (l->refs > 0)
                                continue;
                        log_debug("layer store: removing unreferenced layer %s", l->chain_id);
                        struct layer *parent = l->parent;
                        int r = remove_layer(ls, l, err);
                        if (r < 0)
                                return r;
                        if (parent && parent->refs > 0)
                                parent->refs--;
                        again = true;
                        break; /* the iteration's next pointer may be the parent just changed */
                }
        }
        size_t n = HASH_COUNT(ls->layers), i = 0;
        _cleanup_free_ const char **known = calloc(n + 1, sizeof(char *));
        if (!known)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        struct layer *l, *tmp;
        HASH_ITER(hh, ls->layers, l, tmp)
                known[i++] = l->cache_id;
        return graph_driver_gc(ls->driver, known, n, err);
}

int layer_store_open_tar(struct layer_store *ls, const struct layer *l, struct layer_split_reader **ret,
                         struct berr *err) {
        char path[128];
        if (fs_path_fmt(path, sizeof(path), "%s/" SPLIT_FILE, digest_hex(l->chain_id)) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "layer path too long");
        _cleanup_close_ int split_fd = openat(ls->dir_fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (split_fd < 0) {
                if (errno == ENOENT)
                        return berr_set(err, BERR_INTERNAL, ENOENT,
                                        "layer %s cannot be exported: it was stored without a tar-split record",
                                        l->diff_id);
                return berr_sys(err, BERR_INTERNAL, "open %s", path);
        }
        _cleanup_close_ int root_fd = graph_driver_open_layer(ls->driver, l->cache_id, err);
        if (root_fd < 0)
                return root_fd;
        return layer_split_reader_new(split_fd, root_fd, l->diff_id, ret, err);
}

uint64_t layer_store_total_size(struct layer_store *ls) {
        uint64_t total = 0;
        struct layer *l, *tmp;
        HASH_ITER(hh, ls->layers, l, tmp)
                total += l->size_bytes;
        return total;
}
