/* images.c - image operations at the daemon level (see images.h).
 *
 * The image store calls usage() and count() with its own lock held, so they take only the
 * container table's lock (the order image store -> containers) and read each container's
 * image and state as ctr_counts() does, without its per-container lock: nothing that holds
 * the table lock waits on the image store. */
#include "images.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "container.h"
#include "daemon.h"
#include "events.h"
#include "image/reference.h"

static enum image_usage usage(void *opaque, const char *image_id, char ret_container_id[65]) {
        struct daemon *d = opaque;
        enum image_usage u = IMAGE_UNUSED;
        if (!d->ctr_store_opened)
                return u;
        pthread_mutex_lock(&d->ctr_lock);
        struct container *c, *tmp;
        HASH_ITER(hh, d->ctrs, c, tmp) {
                if (!STREQ(c->image_id, image_id))
                        continue;
                bool running = ctr_is_running(c);
                if (running || u == IMAGE_UNUSED) {
                        snprintf(ret_container_id, 65, "%s", c->id);
                        u = running ? IMAGE_USED_BY_RUNNING : IMAGE_USED_BY_STOPPED;
                }
                if (running)
                        break;
        }
        pthread_mutex_unlock(&d->ctr_lock);
        return u;
}

static int count(void *opaque, const char *image_id) {
        struct daemon *d = opaque;
        int n = 0;
        if (!d->ctr_store_opened)
                return 0;
        pthread_mutex_lock(&d->ctr_lock);
        struct container *c, *tmp;
        HASH_ITER(hh, d->ctrs, c, tmp)
                if (STREQ(c->image_id, image_id))
                        n++;
        pthread_mutex_unlock(&d->ctr_lock);
        return n;
}

/* dockerd's LogImageEvent: the image's labels (while it still exists) and a name. */
static void image_event(struct daemon *d, const char *id, const char *name, const char *action) {
        json_t *attrs = json_object();
        _cleanup_json_ json_t *config = NULL;
        char chain[DIGEST_STRING_MAX];
        if (attrs && image_store_config(d->images, id, &config, chain, NULL) == 0) {
                json_t *labels = json_object_get(json_object_get(config, "config"), "Labels");
                const char *k;
                json_t *v;
                json_object_foreach(labels, k, v)
                        if (json_is_string(v))
                                json_object_set(attrs, k, v);
        }
        if (attrs && name)
                json_object_set_new(attrs, "name", json_string(name));
        events_emit(d, "image", action, id, attrs);
}

/* ---- load ---- */

struct load_watch {
        image_load_line_fn line;
        bool (*complete)(void *opaque);
        image_load_progress_fn progress;
        void *opaque;
        char **loaded; /* names or IDs from the "Loaded image" lines */
        size_t n;
};

static void watch_line(void *opaque, const char *line) {
        struct load_watch *w = opaque;
        static const char *const prefixes[] = { "Loaded image: ", "Loaded image ID: " };
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
                size_t n = strlen(prefixes[i]);
                if (strncmp(line, prefixes[i], n) != 0)
                        continue;
                char **v = realloc(w->loaded, (w->n + 1) * sizeof(*v));
                if (v) {
                        w->loaded = v;
                        if ((v[w->n] = strdup(line + n)))
                                w->n++;
                }
        }
        if (w->line)
                w->line(w->opaque, line);
}

static bool watch_complete(void *opaque) {
        struct load_watch *w = opaque;
        return !w->complete || w->complete(w->opaque);
}

static void watch_progress(void *opaque, const char *short_id, uint64_t current, uint64_t total) {
        struct load_watch *w = opaque;
        if (w->progress)
                w->progress(w->opaque, short_id, current, total);
}

int daemon_image_load(struct daemon *d, int fd, image_load_line_fn line, image_load_progress_fn progress, void *opaque,
                      bool (*complete)(void *opaque), struct berr *err) {
        struct load_watch w = { .line = line, .progress = progress, .complete = complete, .opaque = opaque };
        int r = image_store_load_archive_checked(d->images, fd, watch_line, progress ? watch_progress : NULL, &w,
                                                 watch_complete, err);
        for (size_t i = 0; i < w.n; i++) {
                char id[DIGEST_STRING_MAX];
                if (r == 0 && image_store_resolve(d->images, w.loaded[i], id, NULL) == 0)
                        image_event(d, id, id, "load");
                free(w.loaded[i]);
        }
        free(w.loaded);
        return r;
}

/* ---- import, tag ---- */

int daemon_image_import(struct daemon *d, int fd, const struct image_import_opts *o, char ret_id[DIGEST_STRING_MAX],
                        struct berr *err) {
        int r = image_store_import(d->images, fd, o, ret_id, err);
        if (r == 0)
                image_event(d, ret_id, ret_id, "import");
        return r;
}

int daemon_image_tag(struct daemon *d, const char *source, const char *target, struct berr *err) {
        char id[DIGEST_STRING_MAX];
        int r = image_store_resolve(d->images, source, id, err);
        if (r == 0)
                r = image_store_tag(d->images, source, target, err);
        if (r < 0)
                return r;
        struct reference ref;
        char name[REFERENCE_STRING_MAX];
        if (reference_parse_with_default_tag(target, &ref, NULL) == 0) {
                reference_familiar_string(&ref, name);
                image_event(d, id, name, "tag");
        }
        return 0;
}

/* ---- delete, prune ---- */

int daemon_image_delete(struct daemon *d, const char *name_or_id, bool force, json_t **ret_items, struct berr *err) {
        char id[DIGEST_STRING_MAX];
        int r = image_store_resolve(d->images, name_or_id, id, err);
        if (r == 0)
                r = image_store_delete(d->images, name_or_id, force, usage, d, ret_items, err);
        if (r < 0)
                return r;
        size_t i;
        json_t *item;
        json_array_foreach(*ret_items, i, item) {
                if (json_object_get(item, "Untagged"))
                        image_event(d, id, id, "untag");
                else if (STREQ(json_string_value(json_object_get(item, "Deleted")) ?: "", id))
                        image_event(d, id, id, "delete");
        }
        return 0;
}

int daemon_image_prune(struct daemon *d, const struct image_filters *f, json_t **ret, struct berr *err) {
        int r = image_store_prune(d->images, f, usage, d, ret, err);
        if (r < 0)
                return r;
        char reclaimed[32];
        snprintf(reclaimed, sizeof(reclaimed), "%lld",
                 (long long) json_integer_value(json_object_get(*ret, "SpaceReclaimed")));
        events_emit(d, "image", "prune", "", json_pack("{s:s}", "reclaimed", reclaimed));
        return 0;
}

/* ---- save, list ---- */

int daemon_image_save_open(struct daemon *d, const char *const *names, size_t n, struct image_save **ret,
                           struct berr *err) {
        int r = image_store_save_open(d->images, names, n, ret, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < image_save_count(*ret); i++)
                image_event(d, image_save_image_id(*ret, i), image_save_image_id(*ret, i), "save");
        return 0;
}

int daemon_image_list_with_containers(struct daemon *d, struct image_list_opts *o, json_t **ret, struct berr *err) {
        o->containers = count;
        o->opaque = d;
        return image_store_list_filtered(d->images, o, ret, err);
}

int daemon_image_list(struct daemon *d, const struct image_list_opts *o, json_t **ret, struct berr *err) {
        return image_store_list_filtered(d->images, o, ret, err);
}

int daemon_image_inspect(struct daemon *d, const char *name_or_id, json_t **ret, struct berr *err) {
        return image_store_inspect(d->images, name_or_id, ret, err);
}

int daemon_image_history(struct daemon *d, const char *name_or_id, json_t **ret, struct berr *err) {
        return image_store_history(d->images, name_or_id, ret, err);
}

int64_t daemon_image_layers_size(struct daemon *d) {
        return image_store_layers_size(d->images);
}

int daemon_image_repo_tag(const char *repo, const char *tag, char out[REFERENCE_STRING_MAX], struct berr *err) {
        out[0] = '\0';
        if (!repo || !repo[0])
                return 0;
        struct reference ref;
        int r = reference_parse_normalized(repo, &ref, err);
        if (r < 0)
                return r;
        if (ref.digest[0])
                return berr_set(err, BERR_INVALID, EINVAL, "cannot tag with a digest");
        if (tag && tag[0]) {
                if (!reference_tag_is_valid(tag))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid tag format");
                snprintf(ref.tag, sizeof(ref.tag), "%s", tag);
        }
        reference_default_tag(&ref);
        reference_string(&ref, out);
        return 0;
}
