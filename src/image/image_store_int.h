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

/* Point @ref at @id, as load does: a reference moved away from another image is reported
 * through @line the way dockerd words it. Lock held. */
int image_store_set_ref_locked(struct image_store *s, const struct reference *ref, const char *id,
                               image_load_line_fn line, void *opaque, struct berr *err);

/* Validate a config's rootfs and return its diff IDs (borrowed from @config). */
int image_config_diff_ids(json_t *config, json_t **ret_diff_ids, struct berr *err);
