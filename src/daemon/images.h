/* images.h - the daemon's image operations: the image store's work plus what only the
 * daemon knows, namely which containers use an image (rmi conflicts, prune, `docker
 * system df`), and the image events (load, import, tag, untag, delete, save, prune) that
 * GET /events reports, as dockerd words them. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "image/image_store.h"
#include "image/reference.h"

struct berr;
struct daemon;

/* POST /images/load: image_store_load_archive_checked plus a "load" event per image.
 * @progress (may be NULL): per-layer "Loading layer" progress. */
int daemon_image_load(struct daemon *d, int fd, image_load_line_fn line, image_load_progress_fn progress, void *opaque,
                      bool (*complete)(void *opaque), struct berr *err);

/* POST /images/create?fromSrc=: image_store_import plus an "import" event. */
int daemon_image_import(struct daemon *d, int fd, const struct image_import_opts *o, char ret_id[DIGEST_STRING_MAX],
                        struct berr *err);

/* POST /images/{name}/tag: image_store_tag plus a "tag" event. */
int daemon_image_tag(struct daemon *d, const char *source, const char *target, struct berr *err);

/* DELETE /images/{name}: image_store_delete with the containers' usage; "untag" and
 * "delete" events. */
int daemon_image_delete(struct daemon *d, const char *name_or_id, bool force, json_t **ret_items, struct berr *err);

/* POST /images/prune: images no container uses; a "prune" event with what was reclaimed. */
int daemon_image_prune(struct daemon *d, const struct image_filters *f, json_t **ret, struct berr *err);

/* GET /images/get: image_store_save_open plus a "save" event per image. */
int daemon_image_save_open(struct daemon *d, const char *const *names, size_t n, struct image_save **ret,
                           struct berr *err);

/* The image list with each image's container count (`docker system df`). */
int daemon_image_list_with_containers(struct daemon *d, struct image_list_opts *o, json_t **ret, struct berr *err);

/* GET /images/json: the image summaries passing o->filters. */
int daemon_image_list(struct daemon *d, const struct image_list_opts *o, json_t **ret, struct berr *err);
/* GET /images/{name}/json */
int daemon_image_inspect(struct daemon *d, const char *name_or_id, json_t **ret, struct berr *err);
/* GET /images/{name}/history */
int daemon_image_history(struct daemon *d, const char *name_or_id, json_t **ret, struct berr *err);
/* Bytes in every layer (LayersSize of `docker system df`). */
int64_t daemon_image_layers_size(struct daemon *d);

/* Docker's RepoTagReference: @repo (which may carry a tag) plus an optional @tag, as the
 * normalized name:tag the tag and import operations take; "" when @repo is empty. */
int daemon_image_repo_tag(const char *repo, const char *tag, char out[REFERENCE_STRING_MAX], struct berr *err);
