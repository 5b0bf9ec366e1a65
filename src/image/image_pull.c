/* image_pull.c - the image store's side of a pull: the content store (blobs/sha256), layers
 * registered from verified blob files, the distribution metadata (diff ID -> compressed
 * blob and the repositories it is in) and the commit of a pulled image. The network side
 * is distribution/; by the time anything reaches here it has been downloaded and its
 * digest checked. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "image/image_registry.h"
#include "image/image_store_int.h"

#define META_MAX_BYTES (1u << 20)
#define META_MAX_SOURCES 32 /* repositories remembered per layer, newest first */

/* ---- content store ---- */

static int blobs_dir(struct image_store *s, char out[PATH_MAX], struct berr *err) {
        if (fs_path_fmt(out, PATH_MAX, "%s/blobs/sha256", s->root) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "the data root's path is too long");
        return fs_mkdir_p(out, 0700, err);
}

static int blob_path(struct image_store *s, const char *digest, char out[PATH_MAX], struct berr *err) {
        if (!digest_is_sha256(digest))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid digest %s", digest);
        if (fs_path_fmt(out, PATH_MAX, "%s/blobs/sha256/%s", s->root, digest_hex(digest)) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "the data root's path is too long");
        return 0;
}

int image_blob_tmp(struct image_store *s, char ret_path[PATH_MAX], int *ret_fd, struct berr *err) {
        if (fs_path_fmt(ret_path, PATH_MAX, "%s/blob-XXXXXX", s->tmp_dir) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "the data root's path is too long");
        int fd = mkostemp(ret_path, O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "create temporary blob in %s", s->tmp_dir);
        *ret_fd = fd;
        return 0;
}

int image_blob_commit(struct image_store *s, const char *tmp_path, const char *digest, struct berr *err) {
        char dir[PATH_MAX], dst[PATH_MAX];
        int r = blobs_dir(s, dir, err);
        if (r == 0)
                r = blob_path(s, digest, dst, err);
        if (r < 0)
                return r;
        if (access(dst, F_OK) == 0) {
                (void) unlink(tmp_path); /* same content already stored */
                return 0;
        }
        _cleanup_close_ int fd = open(tmp_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return berr_sys(err, BERR_INTERNAL, "sync blob %s", digest);
        if (rename(tmp_path, dst) < 0)
                return berr_sys(err, BERR_INTERNAL, "store blob %s", digest);
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0)
                return berr_sys(err, BERR_INTERNAL, "sync %s", dir);
        return 0;
}

int image_blob_open(struct image_store *s, const char *digest, int *ret_fd, uint64_t *ret_size, struct berr *err) {
        char p[PATH_MAX];
        int r = blob_path(s, digest, p, err);
        if (r < 0)
                return r;
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? berr_set(err, BERR_NOT_FOUND, ENOENT, "blob %s not found", digest)
                                       : berr_sys(err, BERR_INTERNAL, "open blob %s", digest);
        struct stat st;
        if (fstat(fd, &st) < 0) {
                close(fd);
                return berr_sys(err, BERR_INTERNAL, "stat blob %s", digest);
        }
        *ret_fd = fd;
        if (ret_size)
                *ret_size = (uint64_t) st.st_size;
        return 0;
}

bool image_blob_exists(struct image_store *s, const char *digest) {
        char p[PATH_MAX];
        return blob_path(s, digest, p, NULL) == 0 && access(p, F_OK) == 0;
}

int image_blob_read(struct image_store *s, const char *digest, size_t max, char **ret_data, size_t *ret_len,
                    struct berr *err) {
        char p[PATH_MAX];
        int r = blob_path(s, digest, p, err);
        if (r < 0)
                return r;
        return fs_read_file(AT_FDCWD, p, max, ret_data, ret_len, err);
}

/* ---- distribution metadata: <root>/distribution/v2metadata-by-diffid/sha256/<hex> ---- */

static int meta_path(struct image_store *s, const char *diff_id, char dir[PATH_MAX], struct berr *err) {
        (void) diff_id;
        if (fs_path_fmt(dir, PATH_MAX, "%s/distribution/v2metadata-by-diffid/sha256", s->root) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "the data root's path is too long");
        return fs_mkdir_p(dir, 0700, err);
}

/* The metadata array of @diff_id (a new empty one when there is none). */
static json_t *meta_load(struct image_store *s, const char *diff_id) {
        char dir[PATH_MAX], p[PATH_MAX + 80];
        if (meta_path(s, diff_id, dir, NULL) < 0)
                return json_array();
        if (fs_path_fmt(p, sizeof(p), "%s/%s", dir, digest_hex(diff_id)) < 0)
                return json_array();
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (fs_read_file(AT_FDCWD, p, META_MAX_BYTES, &text, &len, NULL) < 0)
                return json_array();
        json_t *v = json_loadb(text, len, 0, NULL);
        if (!json_is_array(v)) {
                json_decref(v);
                return json_array();
        }
        return v;
}

/* Put {Digest, SourceRepository, MediaType, Size} first in @diff_id's list. Lock held. */
static int meta_add_locked(struct image_store *s, const char *diff_id, const char *digest, const char *media_type,
                           int64_t size, const char *repo, struct berr *err) {
        char dir[PATH_MAX];
        int r = meta_path(s, diff_id, dir, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *arr = meta_load(s, diff_id);
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
                const char *d = json_string_value(json_object_get(e, "Digest"));
                const char *src = json_string_value(json_object_get(e, "SourceRepository"));
                if (d && src && STREQ(d, digest) && STREQ(src, repo)) {
                        json_array_remove(arr, i);
                        break;
                }
        }
        json_t *entry = json_pack("{s:s, s:s, s:s, s:I}", "Digest", digest, "SourceRepository", repo, "MediaType",
                                  media_type ? media_type : IMAGE_MEDIA_LAYER_GZIP, "Size", (json_int_t) size);
        if (!entry || json_array_insert_new(arr, 0, entry) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        while (json_array_size(arr) > META_MAX_SOURCES)
                json_array_remove(arr, json_array_size(arr) - 1);
        _cleanup_free_ char *text = json_dump_compact(arr);
        if (!text)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", dir);
        return fs_write_atomic(dfd, digest_hex(diff_id), text, strlen(text), 0600, err);
}

int image_push_record_source(struct image_store *s, const char *diff_id, const char *digest,
                             const char *media_type, int64_t size, const char *repo, struct berr *err) {
        pthread_mutex_lock(&s->lock);
        int r = meta_add_locked(s, diff_id, digest, media_type, size, repo, err);
        pthread_mutex_unlock(&s->lock);
        return r;
}

/* Fill @l's blob from the metadata: the newest entry whose blob is in the content store. */
void image_registry_fill_layer_meta(struct image_store *s, struct image_push_layer *l) {
        _cleanup_json_ json_t *arr = meta_load(s, l->diff_id);
        size_t i;
        json_t *e;
        l->digest[0] = '\0';
        json_array_foreach(arr, i, e) {
                const char *d = json_string_value(json_object_get(e, "Digest"));
                if (!d || !digest_is_sha256(d) || !image_blob_exists(s, d))
                        continue;
                if (!l->digest[0]) {
                        snprintf(l->digest, sizeof(l->digest), "%s", d);
                        const char *mt = json_string_value(json_object_get(e, "MediaType"));
                        snprintf(l->media_type, sizeof(l->media_type), "%s", mt ? mt : IMAGE_MEDIA_LAYER_GZIP);
                        l->size = json_integer_value(json_object_get(e, "Size"));
                }
                if (!STREQ(d, l->digest))
                        continue;
                const char *src = json_string_value(json_object_get(e, "SourceRepository"));
                if (!src)
                        continue;
                char **n = realloc(l->sources, (l->n_sources + 1) * sizeof(*n));
                if (!n)
                        return;
                l->sources = n;
                if ((l->sources[l->n_sources] = strdup(src)))
                        l->n_sources++;
        }
}

/* ---- layers ---- */

int image_chain_id(const char *parent_chain_id, const char *diff_id, char out[DIGEST_STRING_MAX], struct berr *err) {
        return layer_chain_id(parent_chain_id, diff_id, out, err);
}

bool image_store_has_layer(struct image_store *s, const char *chain_id) {
        pthread_mutex_lock(&s->lock);
        bool has = layer_store_get(s->layers, chain_id) != NULL;
        pthread_mutex_unlock(&s->lock);
        return has;
}

bool image_store_has_image(struct image_store *s, const char *id) {
        pthread_mutex_lock(&s->lock);
        bool has = image_find_locked(s, id) != NULL;
        pthread_mutex_unlock(&s->lock);
        return has;
}

int image_pull_layer(struct image_store *s, struct layer *parent, int fd, const char *diff_id, struct layer **ret,
                     struct berr *err) {
        pthread_mutex_lock(&s->lock);
        int r;
        char chain[DIGEST_STRING_MAX];
        r = layer_chain_id(parent ? parent->chain_id : NULL, diff_id, chain, err);
        if (r == 0 && fd < 0 && !layer_store_get(s->layers, chain))
                r = berr_set(err, BERR_INTERNAL, ENOENT, "layer %s is not stored", chain);
        if (r == 0)
                r = layer_store_register(s->layers, parent, fd, diff_id, ret, err);
        pthread_mutex_unlock(&s->lock);
        return r;
}

int image_pull_layer_prepare(struct image_store *s, struct layer *parent, int fd, struct layer **ret,
                             struct berr *err) {
        /* No lock: the caller's reference pins @parent, and the new storage is private. */
        return layer_store_prepare(s->layers, parent, fd, ret, err);
}

int image_pull_layer_commit(struct image_store *s, struct layer *prepared, const char *diff_id, struct layer **ret,
                            struct berr *err) {
        pthread_mutex_lock(&s->lock);
        int r = layer_store_commit(s->layers, prepared, diff_id, ret, err);
        pthread_mutex_unlock(&s->lock);
        return r;
}

void image_pull_layer_abort(struct image_store *s, struct layer *prepared) {
        layer_store_abort(s->layers, prepared);
}

void image_pull_layer_release(struct image_store *s, struct layer *l) {
        if (!l)
                return;
        pthread_mutex_lock(&s->lock);
        (void) layer_store_release(s->layers, l, NULL, NULL); /* removal errors leave garbage gc collects */
        pthread_mutex_unlock(&s->lock);
}

/* ---- commit ---- */

static int commit_locked(struct image_store *s, const struct image_pull_commit *c, char ret_id[DIGEST_STRING_MAX],
                         bool *ret_updated, struct berr *err) {
        char id[DIGEST_STRING_MAX];
        int r = 0;
        if (c->config)
                r = digest_sha256_buf(c->config, c->config_len, id, err);
        else if (c->image_id && digest_is_sha256(c->image_id))
                snprintf(id, sizeof(id), "%s", c->image_id);
        else
                r = berr_set(err, BERR_INTERNAL, EINVAL, "pull commit without a config");
        bool existed = r == 0 && image_find_locked(s, id) != NULL;
        if (r == 0 && !existed && !c->config)
                r = berr_set(err, BERR_NOT_FOUND, ENOENT, "image %s is no longer stored", id);
        if (r < 0 || existed) {
                if (c->top)
                        (void) layer_store_release(s->layers, c->top, NULL, NULL);
                if (r < 0)
                        return r;
                memcpy(ret_id, id, DIGEST_STRING_MAX);
        } else {
                r = image_store_add_locked(s, c->config, c->config_len, c->top, ret_id, err); /* takes c->top */
                if (r < 0)
                        return r;
        }
        /* Blobs go in before any reference names the image: a crash leaves blobs, not a
         * reference to something half there. */
        for (size_t i = 0; i < c->n_blobs && r == 0; i++)
                if (c->blobs[i].tmp_path)
                        r = image_blob_commit(s, c->blobs[i].tmp_path, c->blobs[i].digest, err);
        for (size_t i = 0; i < c->n_layers && r == 0; i++)
                r = meta_add_locked(s, c->layers[i].diff_id, c->layers[i].digest, c->layers[i].media_type,
                                    c->layers[i].size, c->source_repository, err);
        bool updated = !existed;
        const struct reference *refs[2] = { c->tag_ref, c->digest_ref };
        for (size_t i = 0; i < 2 && r == 0; i++) {
                if (!refs[i])
                        continue;
                struct image_ref *have = image_find_ref_locked(s, refs[i]);
                if (have && STREQ(have->id, ret_id))
                        continue;
                if (refs[i] == c->tag_ref || !c->tag_ref)
                        updated = true;
                r = image_store_set_ref_locked(s, refs[i], ret_id, NULL, NULL, err);
        }
        if (r < 0 && !existed) {
                struct image *img = image_find_locked(s, ret_id);
                _cleanup_json_ json_t *items = json_array();
                if (img)
                        (void) image_delete_locked(s, img, items, NULL); /* report the first error */
        }
        *ret_updated = updated;
        return r;
}

int image_pull_commit(struct image_store *s, const struct image_pull_commit *c, char ret_id[DIGEST_STRING_MAX],
                      bool *ret_updated, struct berr *err) {
        pthread_mutex_lock(&s->lock);
        int r = commit_locked(s, c, ret_id, ret_updated, err);
        pthread_mutex_unlock(&s->lock);
        return r;
}
