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

static void now_rfc3339(char out[64]) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        char base[32];
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out, 64, "%s.%09ldZ", base, ts.tv_nsec);
}

/* The new image's config object, from the parent's (or a scratch one). */
static json_t *child_config(struct image *parent, const struct image_build_step *o, const char *diff_id) {
        json_t *img = parent ? json_deep_copy(parent->config)
                             : json_pack("{s:s, s:s, s:{s:s, s:[]}, s:[]}", "architecture", image_host_arch(), "os",
                                         "linux", "rootfs", "type", "layers", "diff_ids", "history");
        if (!img)
                return NULL;
        char created[64];
        now_rfc3339(created);
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
