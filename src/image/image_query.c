/* image_query.c - the read-only views of the image store beyond inspect: the filtered
 * image list (`docker images`), history, and the sizes `docker system df` reports. */
#include "image_store_int.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/err.h"

int64_t image_time_ns(const char *c) {
        struct tm tm = { 0 };
        const char *rest = strptime(c, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!rest)
                return 0;
        int64_t ns = (int64_t) timegm(&tm) * 1000000000;
        if (*rest == '.') {
                int64_t scale = 100000000;
                for (rest++; *rest >= '0' && *rest <= '9'; rest++, scale /= 10)
                        ns += (*rest - '0') * scale;
        }
        /* "+hh:mm" / "-hh:mm": Go writes local offsets when an image was built so. */
        int hh, mm;
        if ((*rest == '+' || *rest == '-') && sscanf(rest + 1, "%2d:%2d", &hh, &mm) == 2)
                ns -= (*rest == '+' ? 1 : -1) * ((int64_t) hh * 3600 + mm * 60) * 1000000000;
        return ns;
}

int64_t image_created_ns(json_t *config) {
        return image_time_ns(image_config_str(config, "created"));
}

static bool labels_match(json_t *labels, const char *const *want, bool negate) {
        for (size_t i = 0; want && want[i]; i++) {
                const char *eq = strchr(want[i], '=');
                _cleanup_free_ char *key = eq ? strndup(want[i], (size_t) (eq - want[i])) : strdup(want[i]);
                const char *have = key ? json_string_value(json_object_get(labels, key)) : NULL;
                bool hit = have && (!eq || STREQ(have, eq + 1));
                if (hit == negate)
                        return false;
        }
        return true;
}

/* Docker's reference.FamiliarMatch: the pattern against name:tag, then the name alone. */
static bool reference_matches(const char *const *patterns, const struct reference *ref) {
        char full[REFERENCE_STRING_MAX], name[REFERENCE_STRING_MAX];
        reference_familiar_string(ref, full);
        reference_familiar_name(ref, name);
        for (size_t i = 0; patterns[i]; i++)
                if (fnmatch(patterns[i], full, FNM_PATHNAME) == 0 || fnmatch(patterns[i], name, FNM_PATHNAME) == 0)
                        return true;
        return false;
}

static int compare_refs(const void *a, const void *b) {
        return strcmp((*(struct image_ref *const *) a)->name, (*(struct image_ref *const *) b)->name);
}

/* RepoTags and RepoDigests restricted to the references the filter names. */
static void filtered_repo_lists(struct image_store *s, const struct image *img, const char *const *patterns,
                                json_t **ret_tags, json_t **ret_digests) {
        if (!patterns) {
                image_repo_lists(s, img, ret_tags, ret_digests);
                return;
        }
        json_t *tags = json_array(), *digests = json_array();
        size_t n = image_refs_of(s, img->id, NULL, 0);
        _cleanup_free_ struct image_ref **refs = n ? calloc(n, sizeof(*refs)) : NULL;
        if (refs) {
                image_refs_of(s, img->id, refs, n);
                qsort(refs, n, sizeof(*refs), compare_refs);
        }
        for (size_t i = 0; refs && i < n; i++) {
                struct reference parsed;
                char fam[REFERENCE_STRING_MAX];
                if (reference_parse_normalized(refs[i]->name, &parsed, NULL) < 0 || !reference_matches(patterns, &parsed))
                        continue;
                reference_familiar_string(&parsed, fam);
                json_array_append_new(parsed.digest[0] ? digests : tags, json_string(fam));
        }
        *ret_tags = tags;
        *ret_digests = digests;
}

static int created_of(struct image_store *s, const char *name, int64_t *ret, struct berr *err) {
        struct image *img;
        int r = image_resolve_locked(s, name, &img, err);
        if (r == 0)
                *ret = image_created_ns(img->config);
        return r;
}

bool image_filters_match_locked(struct image_store *s, struct image *img, const struct image_filters *f,
                                int64_t before_ns, int64_t since_ns) {
        if (!f)
                return true;
        json_t *labels = json_object_get(json_object_get(img->config, "config"), "Labels");
        if (!labels_match(labels, f->labels, false) || !labels_match(labels, f->labels_not, true))
                return false;
        int64_t created = image_created_ns(img->config);
        if (f->before && created >= before_ns)
                return false;
        if (f->since && created <= since_ns)
                return false;
        if (f->has_until && created >= f->until_ns)
                return false;
        return true;
}

int image_filters_times_locked(struct image_store *s, const struct image_filters *f, int64_t *ret_before,
                               int64_t *ret_since, struct berr *err) {
        *ret_before = *ret_since = 0;
        int r = 0;
        if (f && f->before)
                r = created_of(s, f->before, ret_before, err);
        if (r == 0 && f && f->since)
                r = created_of(s, f->since, ret_since, err);
        return r;
}

/* How many images use each layer, for SharedSize. */
struct layer_use {
        const struct layer *l;
        unsigned images;
        UT_hash_handle hh;
};

static struct layer_use *count_layer_use(struct image_store *s) {
        struct layer_use *uses = NULL;
        struct image *img, *tmp;
        HASH_ITER(hh, s->images, img, tmp) {
                for (const struct layer *l = img->top; l; l = l->parent) {
                        struct layer_use *u = NULL;
                        HASH_FIND_PTR(uses, &l, u);
                        if (!u) {
                                u = calloc(1, sizeof(*u));
                                if (!u)
                                        continue; /* SharedSize then undercounts; nothing else depends on it */
                                u->l = l;
                                HASH_ADD_PTR(uses, l, u);
                        }
                        u->images++;
                }
        }
        return uses;
}

static void free_layer_use(struct layer_use *uses) {
        struct layer_use *u, *tmp;
        HASH_ITER(hh, uses, u, tmp) {
                HASH_DEL(uses, u);
                free(u);
        }
}

static int64_t shared_size(struct layer_use *uses, const struct image *img) {
        int64_t total = 0;
        for (const struct layer *l = img->top; l; l = l->parent) {
                struct layer_use *u = NULL;
                HASH_FIND_PTR(uses, &l, u);
                if (u && u->images > 1)
                        total += (int64_t) l->size_bytes;
        }
        return total;
}

static int compare_created_desc(const void *a, const void *b) {
        json_t *x = *(json_t *const *) a, *y = *(json_t *const *) b;
        json_int_t cx = json_integer_value(json_object_get(x, "Created"));
        json_int_t cy = json_integer_value(json_object_get(y, "Created"));
        if (cx != cy)
                return cx > cy ? -1 : 1;
        return strcmp(json_string_value(json_object_get(x, "Id")), json_string_value(json_object_get(y, "Id")));
}

static json_t *summary(struct image_store *s, struct image *img, json_t *tags, json_t *digests, int containers,
                       int64_t shared) {
        json_t *labels = json_object_get(json_object_get(img->config, "config"), "Labels");
        json_int_t size = (json_int_t) layer_chain_size(img->top);
        return json_pack("{s:i, s:I, s:s, s:O, s:s, s:o, s:o, s:I, s:I, s:I}", "Containers", containers, "Created",
                         (json_int_t) image_created_unix(img->config), "Id", img->id, "Labels",
                         json_is_object(labels) ? labels : json_null(), "ParentId", img->parent, "RepoDigests", digests,
                         "RepoTags", tags, "SharedSize", (json_int_t) shared, "Size", size, "VirtualSize", size);
}

static int list_locked(struct image_store *s, const struct image_list_opts *o, json_t *out, struct berr *err) {
        const struct image_filters *f = o->filters;
        int64_t before = 0, since = 0;
        int r = image_filters_times_locked(s, f, &before, &since, err);
        if (r < 0)
                return r;
        struct layer_use *uses = o->shared_size ? count_layer_use(s) : NULL;
        struct image *img, *tmp;
        HASH_ITER(hh, s->images, img, tmp) {
                if (!image_filters_match_locked(s, img, f, before, since))
                        continue;
                json_t *tags, *digests;
                filtered_repo_lists(s, img, f ? f->references : NULL, &tags, &digests);
                bool untagged = json_array_size(tags) == 0 && json_array_size(digests) == 0;
                int dangling = f ? f->dangling : -1;
                bool skip = untagged ? (dangling == 0 || (f && f->references)) : (dangling == 1 && json_array_size(tags));
                if (!skip && untagged && o->hide_intermediate && image_has_children_locked(s, img->id))
                        skip = true;
                if (skip) {
                        json_decref(tags);
                        json_decref(digests);
                        continue;
                }
                int containers = o->containers ? o->containers(o->opaque, img->id) : -1;
                json_t *sum = summary(s, img, tags, digests, containers, uses ? shared_size(uses, img) : -1);
                if (!sum || json_array_append_new(out, sum) < 0) {
                        r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        break;
                }
        }
        free_layer_use(uses);
        return r;
}

int image_store_list_filtered(struct image_store *s, const struct image_list_opts *o, json_t **ret,
                              struct berr *err) {
        json_t *out = json_array();
        if (!out)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pthread_mutex_lock(&s->lock);
        int r = list_locked(s, o, out, err);
        pthread_mutex_unlock(&s->lock);
        if (r < 0) {
                json_decref(out);
                return r;
        }
        size_t n = json_array_size(out);
        _cleanup_free_ json_t **items = n ? calloc(n, sizeof(*items)) : NULL;
        if (items) {
                for (size_t i = 0; i < n; i++)
                        items[i] = json_incref(json_array_get(out, i));
                qsort(items, n, sizeof(*items), compare_created_desc);
                json_array_clear(out);
                for (size_t i = 0; i < n; i++)
                        json_array_append_new(out, items[i]);
        }
        *ret = out;
        return 0;
}

/* ---- history ---- */

static int64_t history_created(json_t *entry) {
        int64_t ns = image_time_ns(image_config_str(entry, "created"));
        return ns >= 0 ? ns / 1000000000 : -((-ns + 999999999) / 1000000000);
}

static int history_locked(struct image_store *s, struct image *img, json_t *out, struct berr *err) {
        json_t *diff_ids = NULL;
        (void) image_config_diff_ids(img->config, &diff_ids, NULL); /* validated when recorded */
        json_t *history = json_object_get(img->config, "history");
        char chain[DIGEST_STRING_MAX] = "";
        size_t layer_i = 0, i;
        json_t *h;
        json_array_foreach(history, i, h) {
                int64_t size = 0;
                if (!json_is_true(json_object_get(h, "empty_layer"))) {
                        const char *diff = json_string_value(json_array_get(diff_ids, layer_i));
                        if (!diff)
                                return berr_set(err, BERR_INTERNAL, EINVAL,
                                                "image %s: too many non-empty layers in History section", img->id);
                        char next[DIGEST_STRING_MAX];
                        int r = layer_chain_id(layer_i ? chain : NULL, diff, next, err);
                        if (r < 0)
                                return r;
                        memcpy(chain, next, sizeof(chain));
                        struct layer *l = layer_store_get(s->layers, chain);
                        size = l ? (int64_t) l->size_bytes : 0;
                        layer_i++;
                }
                json_t *item = json_pack("{s:s, s:I, s:s, s:s, s:I, s:n}", "Comment", image_config_str(h, "comment"),
                                         "Created", (json_int_t) history_created(h), "CreatedBy",
                                         image_config_str(h, "created_by"), "Id", "<missing>", "Size",
                                         (json_int_t) size, "Tags");
                if (!item || json_array_insert_new(out, 0, item) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        json_t *top = json_array_get(out, 0);
        if (top) {
                json_t *tags, *digests;
                image_repo_lists(s, img, &tags, &digests);
                json_decref(digests);
                json_object_set_new(top, "Id", json_string(img->id));
                json_object_set_new(top, "Tags", json_array_size(tags) ? tags : json_null());
                if (!json_array_size(tags))
                        json_decref(tags);
        }
        return 0;
}

int image_store_history(struct image_store *s, const char *name_or_id, json_t **ret, struct berr *err) {
        json_t *out = json_array();
        if (!out)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pthread_mutex_lock(&s->lock);
        struct image *img;
        int r = image_resolve_locked(s, name_or_id, &img, err);
        if (r == 0)
                r = history_locked(s, img, out, err);
        pthread_mutex_unlock(&s->lock);
        if (r < 0) {
                json_decref(out);
                return r;
        }
        *ret = out;
        return 0;
}

int64_t image_store_layers_size(struct image_store *s) {
        pthread_mutex_lock(&s->lock);
        int64_t total = (int64_t) layer_store_total_size(s->layers);
        pthread_mutex_unlock(&s->lock);
        return total;
}
