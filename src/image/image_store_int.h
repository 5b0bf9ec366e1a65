/* image_store_int.h - what image_store.c shares with image_load.c; not a public header. */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <uthash.h>

#include "image/graphdriver.h"
#include "image/image_store.h"
#include "image/layer_store.h"
#include "image/reference.h"

struct image {
        char id[DIGEST_STRING_MAX];
        json_t *config;
        struct layer *top; /* holds one reference; NULL for an image without layers */
        char last_tag_time[64];
        char parent[DIGEST_STRING_MAX]; /* the image it was built on (docker build), "" for none */
        UT_hash_handle hh;
};

struct image_ref {
        char name[REFERENCE_STRING_MAX]; /* normalised: docker.io/library/busybox:latest */
        char id[DIGEST_STRING_MAX];
        UT_hash_handle hh;
};

struct image_store {
        pthread_mutex_t lock;
        char *root;
        char *tmp_dir; /* <root>/tmp: spool space for loads */
        int image_dir_fd; /* <root>/image */
        int records_fd;   /* <root>/image/sha256 */
        struct graph_driver *driver;
        struct layer_store *layers;
        struct image *images;
        struct image_ref *refs;
};

/* Record an image from its config bytes. The caller's reference on @top passes to the
 * image (or is dropped if the image already existed). Lock held. */
int image_store_add_locked(struct image_store *s, const char *config, size_t len, struct layer *top,
                           char ret_id[DIGEST_STRING_MAX], struct berr *err);

/* Whether an image records @id as its parent (docker build's chain). Lock held. */
bool image_has_children_locked(struct image_store *s, const char *id);

/* Write the image's meta.json again (LastTagTime, Parent). Lock held. */
int image_save_meta_locked(struct image_store *s, const struct image *img, struct berr *err);

/* Point @ref at @id, as load does: a reference moved away from another image is reported
 * through @line the way dockerd words it. Lock held. */
int image_store_set_ref_locked(struct image_store *s, const struct reference *ref, const char *id,
                               image_load_line_fn line, void *opaque, struct berr *err);

/* Validate a config's rootfs and return its diff IDs (borrowed from @config). */
int image_config_diff_ids(json_t *config, json_t **ret_diff_ids, struct berr *err);

/* Lookups and edits shared by the files of the image store; all with the lock held. */
struct image *image_find_locked(struct image_store *s, const char *id);
struct image_ref *image_find_ref_locked(struct image_store *s, const struct reference *ref);
int image_resolve_locked(struct image_store *s, const char *name_or_id, struct image **ret, struct berr *err);
/* References to @id into @out (at most @max; @out may be NULL); returns how many there are. */
size_t image_refs_of(struct image_store *s, const char *id, struct image_ref **out, size_t max);
/* RepoTags and RepoDigests, familiar, in Docker's order. */
void image_repo_lists(struct image_store *s, const struct image *img, json_t **ret_tags, json_t **ret_digests);
/* Drop one reference, appending {"Untagged": name} to @items. */
int image_remove_ref_locked(struct image_store *s, struct image_ref *ref, json_t *items, struct berr *err);
/* Delete an image and its references, appending what went to @items; frees @img. */
int image_delete_locked(struct image_store *s, struct image *img, json_t *items, struct berr *err);

/* Reading the config. */
const char *image_config_str(json_t *config, const char *key); /* "" when absent */
int64_t image_created_unix(json_t *config);
/* RFC 3339 time (Go's, with fraction and offset) in ns since the epoch; 0 if unparsable. */
int64_t image_time_ns(const char *rfc3339);
int64_t image_created_ns(json_t *config);

/* Filters (image_query.c): resolve before/since once, then test each image. */
int image_filters_times_locked(struct image_store *s, const struct image_filters *f, int64_t *ret_before_ns,
                               int64_t *ret_since_ns, struct berr *err);
bool image_filters_match_locked(struct image_store *s, struct image *img, const struct image_filters *f,
                                int64_t before_ns, int64_t since_ns);
