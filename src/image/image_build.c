/* image_build.c - the image store's side of docker build: a step's image as a child of
 * the previous one (a new layer or an empty_layer history entry, the parent recorded in
 * the image's meta.json as dockerd keeps it beside the config), and the classic builder's
 * cache lookup among an image's children by their container_config. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/json.h"
#include "image/image_store.h"
#include "image_store_int.h"

/* sha256 of 1024 zero bytes: a tar with no entries */
#define EMPTY_TAR_DIFF_ID "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

const char *image_host_arch(void) {
        static char arch[sizeof(((struct utsname *) NULL)->machine)];
        struct utsname u;
        if (uname(&u) < 0)
                return "amd64";
        if (STREQ(u.machine, "x86_64"))
                return "amd64";
        if (STREQ(u.machine, "aarch64"))
                return "arm64";
        snprintf(arch, sizeof(arch), "%s", u.machine);
        return arch;
}

/* The new image's config object, from the parent's (or a scratch one). */
static json_t *child_config(struct image *parent, const struct image_build_step *o, const char *diff_id) {
        json_t *img = parent ? json_deep_copy(parent->config)
                             : json_pack("{s:s, s:s, s:{s:s, s:[]}, s:[]}", "architecture", image_host_arch(), "os",
                                         "linux", "rootfs", "type", "layers", "diff_ids", "history");
        if (!img)
                return NULL;
        char created[64];
        clock_now_rfc3339(created);
        json_t *rootfs = json_object_get(img, "rootfs");
        if (!json_is_object(rootfs)) {
                rootfs = json_pack("{s:s, s:[]}", "type", "layers", "diff_ids");
                json_object_set_new(img, "rootfs", rootfs);
        }
        json_t *ids = json_object_get(rootfs, "diff_ids");
        if (!json_is_array(ids)) {
                ids = json_array();
                json_object_set_new(rootfs, "diff_ids", ids);
        }
        if (diff_id)
                json_array_append_new(ids, json_string(diff_id));
        json_t *hist = json_object_get(img, "history");
        if (!json_is_array(hist)) {
                hist = json_array();
                json_object_set_new(img, "history", hist);
        }
        json_t *h = json_pack("{s:s}", "created", created);
        if (o->author && o->author[0])
                json_object_set_new(h, "author", json_string(o->author));
        if (o->created_by)
                json_object_set_new(h, "created_by", json_string(o->created_by));
        if (!diff_id)
                json_object_set_new(h, "empty_layer", json_true());
        json_array_append_new(hist, h);
        json_object_set(img, "config", o->config);
        if (o->container_config)
                json_object_set(img, "container_config", o->container_config);
        json_object_set_new(img, "created", json_string(created));
        json_object_set_new(img, "container", json_string(o->container_id ? o->container_id : ""));
        if (o->author && o->author[0])
                json_object_set_new(img, "author", json_string(o->author));
        else
                json_object_del(img, "author");
        json_object_del(img, "comment");
        json_object_del(img, "id");
        json_object_del(img, "parent");
        return img;
}

int image_store_build_step(struct image_store *s, const struct image_build_step *o, char ret_id[DIGEST_STRING_MAX],
                           struct berr *err) {
        bool scratch = !o->parent_id || !o->parent_id[0];
        pthread_mutex_lock(&s->lock);
        struct image *parent = NULL;
        int r = scratch ? 0 : image_resolve_locked(s, o->parent_id, &parent, err);
        struct layer *top = NULL;
        bool empty = o->tar_fd < 0;
        if (r == 0 && o->tar_fd >= 0) {
                r = layer_store_register(s->layers, parent ? parent->top : NULL, o->tar_fd, NULL, &top, err);
                /* a step that changed nothing is an empty_layer entry, as dockerd's */
                if (r == 0 && STREQ(top->diff_id, EMPTY_TAR_DIFF_ID)) {
                        (void) layer_store_release(s->layers, top, NULL, NULL);
                        top = NULL;
                        empty = true;
                }
        }
        if (r == 0 && empty && parent && parent->top) {
                top = parent->top;
                layer_ref(top); /* the child holds the same top layer */
        }
        _cleanup_json_ json_t *img = NULL;
        if (r == 0) {
                img = child_config(parent, o, empty ? NULL : top->diff_id);
                if (!img)
                        r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        _cleanup_free_ char *text = img ? json_dumps(img, JSON_COMPACT) : NULL;
        if (r == 0 && !text)
                r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (r < 0 && top)
                (void) layer_store_release(s->layers, top, NULL, NULL);
        char parent_id[DIGEST_STRING_MAX] = "";
        if (parent)
                snprintf(parent_id, sizeof(parent_id), "%s", parent->id);
        if (r == 0)
                r = image_store_add_locked(s, text, strlen(text), top, ret_id, err); /* takes the layer */
        if (r == 0 && parent_id[0]) {
                struct image *child = image_find_locked(s, ret_id);
                if (child && !STREQ(child->parent, parent_id)) {
                        snprintf(child->parent, sizeof(child->parent), "%s", parent_id);
                        r = image_save_meta_locked(s, child, err);
                }
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

int image_store_build_cache(struct image_store *s, const char *parent_id, json_t *container_config,
                            char ret_id[DIGEST_STRING_MAX]) {
        int found = 0;
        pthread_mutex_lock(&s->lock);
        char want[DIGEST_STRING_MAX] = "";
        struct image *parent = NULL;
        if (parent_id && parent_id[0]) {
                if (image_resolve_locked(s, parent_id, &parent, NULL) < 0) {
                        pthread_mutex_unlock(&s->lock);
                        return 0;
                }
                snprintf(want, sizeof(want), "%s", parent->id);
        }
        const char *best_created = NULL;
        struct image *img, *tmp;
        HASH_ITER(hh, s->images, img, tmp) {
                if (!STREQ(img->parent, want))
                        continue;
                json_t *cc = json_object_get(img->config, "container_config");
                if (!cc || !json_equal(cc, container_config))
                        continue;
                /* from scratch, only images without layers of their own before this step */
                const char *created = image_config_str(img->config, "created");
                if (!best_created || strcmp(created, best_created) > 0) {
                        best_created = created;
                        snprintf(ret_id, DIGEST_STRING_MAX, "%s", img->id);
                        found = 1;
                }
        }
        pthread_mutex_unlock(&s->lock);
        return found;
}

/* ---- --cache-from (dockerd's image/cache: a source image whose history continues the
 * stage's image with this very step) ---- */

static bool is_valid_parent(struct image *img, struct image *parent) {
        json_t *h = json_object_get(img->config, "history");
        if (json_array_size(h) == 0)
                return false;
        if (!parent)
                return true;
        json_t *ph = json_object_get(parent->config, "history");
        json_t *pd = json_object_get(json_object_get(parent->config, "rootfs"), "diff_ids");
        json_t *d = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
        if (json_array_size(ph) == 0 && json_array_size(pd) == 0)
                return true;
        if (json_array_size(ph) >= json_array_size(h) || json_array_size(pd) > json_array_size(d))
                return false;
        for (size_t i = 0; i < json_array_size(ph); i++)
                if (!json_equal(json_array_get(ph, i), json_array_get(h, i)))
                        return false;
        for (size_t i = 0; i < json_array_size(pd); i++)
                if (!json_equal(json_array_get(pd, i), json_array_get(d, i)))
                        return false;
        return true;
}

static bool is_parent_locked(struct image_store *s, const char *ancestor, const char *id) {
        for (int depth = 0; id && id[0] && depth < 1000; depth++) {
                struct image *img = image_find_locked(s, id);
                if (!img)
                        return false;
                if (STREQ(img->parent, ancestor))
                        return true;
                id = img->parent;
        }
        return false;
}

/* A new image: @parent plus @target's history entry @at (and its layer), @config. */
static int restore_locked(struct image_store *s, struct image *parent, struct image *target, size_t at, json_t *config,
                          char ret_id[DIGEST_STRING_MAX], struct berr *err) {
        json_t *th = json_object_get(target->config, "history");
        json_t *entry = json_array_get(th, at);
        _cleanup_json_ json_t *history = parent ? json_deep_copy(json_object_get(parent->config, "history")) : json_array();
        _cleanup_json_ json_t *diff_ids =
                parent ? json_deep_copy(json_object_get(json_object_get(parent->config, "rootfs"), "diff_ids")) : json_array();
        if (!json_is_array(history))
                history = json_decref_null(history), history = json_array();
        if (!json_is_array(diff_ids))
                diff_ids = json_decref_null(diff_ids), diff_ids = json_array();
        json_array_append(history, entry);
        struct layer *top = parent ? parent->top : NULL;
        if (!json_is_true(json_object_get(entry, "empty_layer"))) {
                /* the layer of that entry: count the non-empty entries before it */
                size_t idx = 0;
                for (size_t i = 0; i < at; i++)
                        if (!json_is_true(json_object_get(json_array_get(th, i), "empty_layer")))
                                idx++;
                json_t *tdiffs = json_object_get(json_object_get(target->config, "rootfs"), "diff_ids");
                const char *diff = json_string_value(json_array_get(tdiffs, idx));
                char chain[DIGEST_STRING_MAX];
                if (!diff || layer_chain_id(parent && parent->top ? parent->top->chain_id : NULL, diff, chain, err) < 0)
                        return berr_set(err, BERR_INTERNAL, EINVAL, "cache source %s: no layer for step %zu", target->id, at);
                top = layer_store_get(s->layers, chain);
                if (!top)
                        return berr_set(err, BERR_INTERNAL, ENOENT, "cache source %s: layer %s missing", target->id, chain);
                json_array_append_new(diff_ids, json_string(diff));
        }
        if (top)
                layer_ref(top);
        _cleanup_json_ json_t *img = json_pack("{s:s, s:s, s:O, s:O, s:{s:s, s:O}, s:O}", "architecture",
                                               image_config_str(target->config, "architecture"), "os",
                                               image_config_str(target->config, "os"), "config", config, "created",
                                               json_object_get(entry, "created") ?: json_string(""), "rootfs", "type",
                                               "layers", "diff_ids", diff_ids, "history", history);
        const char *author = image_config_str(target->config, "author");
        if (img && author[0])
                json_object_set_new(img, "author", json_string(author));
        _cleanup_free_ char *text = img ? json_dumps(img, JSON_COMPACT) : NULL;
        if (!text) {
                if (top)
                        (void) layer_store_release(s->layers, top, NULL, NULL);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        int r = image_store_add_locked(s, text, strlen(text), top, ret_id, err); /* takes the layer */
        struct image *made = r == 0 ? image_find_locked(s, ret_id) : NULL;
        if (made && parent && !STREQ(made->parent, parent->id)) {
                snprintf(made->parent, sizeof(made->parent), "%s", parent->id);
                r = image_save_meta_locked(s, made, err);
        }
        return r;
}

int image_store_build_cache_from(struct image_store *s, const char *parent_id, const char *const *sources,
                                 size_t n_sources, json_t *container_config, json_t *config,
                                 char ret_id[DIGEST_STRING_MAX], struct berr *err) {
        /* the step's command as history words it, as dockerd's isValidConfig */
        _cleanup_free_ char *created_by = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&created_by, &len);
        if (!f)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t i;
        json_t *w;
        json_array_foreach(json_object_get(container_config, "Cmd"), i, w) fprintf(f, "%s%s", i ? " " : "",
                                                                                 json_string_value(w) ?: "");
        fclose(f);
        char local[DIGEST_STRING_MAX];
        int found = image_store_build_cache(s, parent_id, container_config, local);
        pthread_mutex_lock(&s->lock);
        int r = 0;
        if (found == 1)
                for (size_t k = 0; k < n_sources; k++)
                        if (STREQ(sources[k], local) || is_parent_locked(s, local, sources[k])) {
                                snprintf(ret_id, DIGEST_STRING_MAX, "%s", local);
                                pthread_mutex_unlock(&s->lock);
                                return 1;
                        }
        struct image *parent = NULL;
        if (parent_id && parent_id[0] && image_resolve_locked(s, parent_id, &parent, NULL) < 0)
                parent = NULL;
        size_t at = parent ? json_array_size(json_object_get(parent->config, "history")) : 0;
        for (size_t k = 0; r == 0 && k < n_sources; k++) {
                struct image *target = image_find_locked(s, sources[k]);
                if (!target || !is_valid_parent(target, parent))
                        continue;
                json_t *th = json_object_get(target->config, "history");
                const char *cb = json_string_value(json_object_get(json_array_get(th, at), "created_by"));
                if (!cb || !STREQ(cb, created_by))
                        continue;
                if (at == json_array_size(th) - 1) { /* the source itself is this step's image */
                        if (parent && !STREQ(target->parent, parent->id)) {
                                snprintf(target->parent, sizeof(target->parent), "%s", parent->id);
                                r = image_save_meta_locked(s, target, err);
                        }
                        snprintf(ret_id, DIGEST_STRING_MAX, "%s", target->id);
                } else {
                        r = restore_locked(s, parent, target, at, config, ret_id, err);
                }
                pthread_mutex_unlock(&s->lock);
                return r < 0 ? r : 1;
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}
