/* image_push.c - the image store's side of a push: an image's config and layers with the
 * compressed blob each is known by (or a gzip of its tar made now and kept, so the next
 * push sends the same bytes), the repositories a blob is in, and the RepoDigest a push
 * adds. The uploads themselves are distribution/'s. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "image/archive_lazy.h"
#include "image/image_registry.h"
#include "image/image_store_int.h"
#include "image/layer_split.h"

#define MAX_LAYERS 1024
#define COPY_BUF (256u << 10)


static int info_locked(struct image_store *s, const char *name_or_id, struct image_push_info *pi, struct berr *err) {
        struct image *img;
        int r = image_resolve_locked(s, name_or_id, &img, err);
        if (r < 0)
                return r;
        memcpy(pi->id, img->id, sizeof(pi->id));
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "sha256/%s/config", digest_hex(img->id));
        r = fs_read_file(s->image_dir_fd, p, 16u << 20, &pi->config, &pi->config_len, err);
        if (r < 0)
                return r;
        size_t n = 0;
        for (struct layer *l = img->top; l; l = l->parent)
                n++;
        if (n > MAX_LAYERS)
                return berr_set(err, BERR_INVALID, E2BIG, "image has more than %d layers", MAX_LAYERS);
        pi->layers = calloc(n ? n : 1, sizeof(*pi->layers));
        if (!pi->layers)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pi->n_layers = n;
        size_t i = n;
        for (struct layer *l = img->top; l; l = l->parent) {
                struct image_push_layer *pl = &pi->layers[--i];
                pl->layer = l;
                memcpy(pl->diff_id, l->diff_id, sizeof(pl->diff_id));
        }
        if (img->top) {
                layer_ref(img->top);
                pi->top = img->top;
        }
        return 0;
}

int image_push_info_get(struct image_store *s, const char *name_or_id, struct image_push_info **ret,
                        struct berr *err) {
        struct image_push_info *pi = calloc(1, sizeof(*pi));
        if (!pi)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pthread_mutex_lock(&s->lock);
        int r = info_locked(s, name_or_id, pi, err);
        pthread_mutex_unlock(&s->lock);
        if (r < 0) {
                image_push_info_free(s, pi);
                return r;
        }
        for (size_t i = 0; i < pi->n_layers; i++)
                image_registry_fill_layer_meta(s, &pi->layers[i]);
        *ret = pi;
        return 0;
}

struct image_push_info *image_push_info_free(struct image_store *s, struct image_push_info *pi) {
        if (!pi)
                return NULL;
        if (pi->top)
                image_pull_layer_release(s, pi->top);
        for (size_t i = 0; i < pi->n_layers; i++) {
                for (size_t j = 0; j < pi->layers[i].n_sources; j++)
                        free(pi->layers[i].sources[j]);
                free(pi->layers[i].sources);
        }
        free(pi->layers);
        free(pi->config);
        free(pi);
        return NULL;
}

/* ---- gzip of a stored layer's tar ---- */

struct gz_out {
        int fd;
        struct digest_ctx *d;
        int64_t size;
};

static la_ssize_t gz_write(struct archive *a, void *opaque, const void *buf, size_t len) {
        struct gz_out *o = opaque;
        int r = fs_write_all(o->fd, buf, len);
        if (r < 0) {
                archive_set_error(a, -r, "write blob");
                return -1;
        }
        digest_ctx_update(o->d, buf, len);
        o->size += (int64_t) len;
        return (la_ssize_t) len;
}

static int gzip_layer(struct image_store *s, const struct layer *l, int out_fd, char ret_digest[DIGEST_STRING_MAX],
                      int64_t *ret_size, struct berr *err) {
        _cleanup_(layer_split_reader_freep) struct layer_split_reader *rd = NULL;
        int r = layer_store_open_tar(s->layers, l, &rd, err);
        if (r < 0)
                return r;
        _cleanup_(digest_ctx_freep) struct digest_ctx *d = NULL;
        r = digest_ctx_new(&d, err);
        if (r < 0)
                return r;
        struct gz_out o = { .fd = out_fd, .d = d };
        r = arclazy_require(err);
        if (r < 0)
                return r;
        struct archive *a = archive_write_new();
        if (!a)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        struct archive_entry *e = archive_entry_new();
        _cleanup_free_ char *buf = malloc(COPY_BUF);
        if (!e || !buf) {
                archive_entry_free(e);
                archive_write_free(a);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        archive_entry_set_pathname(e, "layer.tar");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, (la_int64_t) layer_split_reader_size(rd));
        /* No block padding: the output is a gzip stream, not a tape archive. */
        if (archive_write_add_filter_gzip(a) != ARCHIVE_OK || archive_write_set_format_raw(a) != ARCHIVE_OK ||
            archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
            archive_write_open(a, &o, NULL, gz_write, NULL) != ARCHIVE_OK ||
            archive_write_header(a, e) != ARCHIVE_OK)
                r = berr_set(err, BERR_INTERNAL, EIO, "gzip layer %s: %s", l->diff_id, archive_error_string(a));
        while (r == 0) {
                ssize_t n = layer_split_read(rd, buf, COPY_BUF, err);
                if (n < 0)
                        r = (int) n;
                if (n <= 0)
                        break;
                if (archive_write_data(a, buf, (size_t) n) != n)
                        r = berr_set(err, BERR_INTERNAL, EIO, "gzip layer %s: %s", l->diff_id, archive_error_string(a));
        }
        if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
                r = berr_set(err, BERR_INTERNAL, EIO, "gzip layer %s: %s", l->diff_id, archive_error_string(a));
        archive_entry_free(e);
        archive_write_free(a);
        if (r < 0)
                return r;
        digest_ctx_final(d, ret_digest);
        *ret_size = o.size;
        return 0;
}

int image_push_compress_layer(struct image_store *s, struct image_push_layer *l, struct berr *err) {
        char tmp[PATH_MAX];
        _cleanup_close_ int fd = -1;
        int r = image_blob_tmp(s, tmp, &fd, err);
        if (r < 0)
                return r;
        char digest[DIGEST_STRING_MAX];
        int64_t size = 0;
        r = gzip_layer(s, l->layer, fd, digest, &size, err);
        if (r == 0)
                r = image_blob_commit(s, tmp, digest, err);
        if (r < 0) {
                (void) unlink(tmp);
                return berr_wrap(err, "compress layer %s", l->diff_id);
        }
        memcpy(l->digest, digest, sizeof(l->digest));
        snprintf(l->media_type, sizeof(l->media_type), "%s", IMAGE_MEDIA_LAYER_GZIP);
        l->size = size;
        /* An empty source repository: the blob is ours and in no registry yet. */
        return image_push_record_source(s, l->diff_id, digest, IMAGE_MEDIA_LAYER_GZIP, size, "", err);
}

/* ---- references ---- */

int image_push_repo_tags(struct image_store *s, const struct reference *repo, json_t **ret, struct berr *err) {
        json_t *out = json_array();
        if (!out)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pthread_mutex_lock(&s->lock);
        struct image_ref *ref, *tmp;
        HASH_ITER(hh, s->refs, ref, tmp) {
                struct reference p;
                if (reference_parse_normalized(ref->name, &p, NULL) < 0 || !p.tag[0] || p.digest[0])
                        continue;
                if (STREQ(p.domain, repo->domain) && STREQ(p.path, repo->path))
                        json_array_append_new(out, json_string(ref->name));
        }
        pthread_mutex_unlock(&s->lock);
        *ret = out;
        return 0;
}

int image_push_add_digest_ref(struct image_store *s, const struct reference *digest_ref, const char *id,
                              struct berr *err) {
        pthread_mutex_lock(&s->lock);
        int r = 0;
        if (image_find_locked(s, id)) {
                struct image_ref *have = image_find_ref_locked(s, digest_ref);
                if (!have || !STREQ(have->id, id))
                        r = image_store_set_ref_locked(s, digest_ref, id, NULL, NULL, err);
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}
