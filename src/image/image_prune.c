/* image_prune.c - `docker image prune`: delete the images no container uses, dangling ones
 * only unless asked for all, as dockerd's ImagesPrune does: an image with references is
 * untagged first (each "Untagged" reported), then deleted with the layers nothing else
 * holds. */
#include "image_store_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"

struct usage {
        image_usage_fn fn;
        void *opaque;
};

static bool in_use(const struct usage *u, const struct image *img) {
        char cid[65] = "";
        return u->fn && u->fn(u->opaque, img->id, cid) != IMAGE_UNUSED;
}

/* The IDs to prune, collected first: deleting changes the table being walked. */
static int candidates(struct image_store *s, const struct image_filters *f, const struct usage *u,
                      char (**ret)[DIGEST_STRING_MAX], size_t *ret_n, struct berr *err) {
        int64_t before = 0, since = 0;
        int r = image_filters_times_locked(s, f, &before, &since, err);
        if (r < 0)
                return r;
        bool dangling_only = !f || f->dangling != 0; /* unset means dangling=true here */
        size_t n = 0, cap = HASH_COUNT(s->images);
        char(*ids)[DIGEST_STRING_MAX] = calloc(cap ? cap : 1, sizeof(*ids));
        if (!ids)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        struct image *img, *tmp;
        HASH_ITER(hh, s->images, img, tmp) {
                if (in_use(u, img) || !image_filters_match_locked(s, img, f, before, since))
                        continue;
                if (dangling_only && image_refs_of(s, img->id, NULL, 0) > 0)
                        continue;
                if (image_has_children_locked(s, img->id))
                        continue; /* a build's intermediate image goes with its last child, as dockerd's */
                memcpy(ids[n++], img->id, DIGEST_STRING_MAX);
        }
        *ret = ids;
        *ret_n = n;
        return 0;
}

static int prune_locked(struct image_store *s, const struct image_filters *f, const struct usage *u, json_t *items,
                        struct berr *err) {
        char(*ids)[DIGEST_STRING_MAX] = NULL;
        size_t n = 0;
        int r = candidates(s, f, u, &ids, &n, err);
        for (size_t i = 0; r == 0 && i < n; i++) {
                struct image *img = image_find_locked(s, ids[i]);
                if (!img)
                        continue;
                struct image_ref *ref[1];
                while (r == 0 && image_refs_of(s, img->id, ref, 1) > 0)
                        r = image_remove_ref_locked(s, ref[0], items, err);
                char parent[DIGEST_STRING_MAX];
                snprintf(parent, sizeof(parent), "%s", img->parent);
                if (r == 0)
                        r = image_delete_locked(s, img, items, err);
                /* its untagged parents nothing else uses or builds on */
                while (r == 0 && parent[0]) {
                        struct image *p = image_find_locked(s, parent);
                        if (!p || image_refs_of(s, p->id, NULL, 0) > 0 || image_has_children_locked(s, p->id) ||
                            in_use(u, p))
                                break;
                        snprintf(parent, sizeof(parent), "%s", p->parent);
                        r = image_delete_locked(s, p, items, err);
                }
        }
        free(ids);
        return r;
}

int image_store_prune(struct image_store *s, const struct image_filters *f, image_usage_fn usage, void *opaque,
                      json_t **ret, struct berr *err) {
        struct usage u = { usage, opaque };
        _cleanup_json_ json_t *items = json_array();
        if (!items)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pthread_mutex_lock(&s->lock);
        uint64_t before = layer_store_total_size(s->layers);
        int r = prune_locked(s, f, &u, items, err);
        uint64_t after = layer_store_total_size(s->layers);
        pthread_mutex_unlock(&s->lock);
        if (r < 0)
                return r;
        *ret = json_pack("{s:O, s:I}", "ImagesDeleted", json_array_size(items) ? items : json_null(), "SpaceReclaimed",
                         (json_int_t) (before - after));
        if (!*ret)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        return 0;
}
