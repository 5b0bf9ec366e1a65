/* image_store.h - the local image store the daemon talks to: image records by image ID
 * (sha256 of the config bytes) under image/sha256/, references (name:tag, name@digest) in
 * image/references.json, layers through the layer store and graph driver. One lock
 * serialises every call; none blocks on the network. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/digest.h"

struct berr;
struct image_store;

/* Open (creating if needed) the store under @data_root with graph driver @driver
 * ("overlay2", "vfs", or NULL to pick overlay2 when it mounts there, else vfs). Leftovers
 * of interrupted loads (temporary dirs, layers no image uses) are removed. */
int image_store_open(const char *data_root, const char *driver, struct image_store **ret, struct berr *err);
struct image_store *image_store_free(struct image_store *s);

const char *image_store_driver_name(const struct image_store *s);

/* Called once per output line of a load ("Loaded image: busybox:latest"). */
typedef void (*image_load_line_fn)(void *opaque, const char *line);
/* A load's per-layer progress, as dockerd's "Loading layer": @short_id is the diff ID's
 * first 12 hex digits; @current of @total bytes of the layer's tar. Layers already stored
 * are not loaded and get none. */
typedef void (*image_load_progress_fn)(void *opaque, const char *short_id, uint64_t current, uint64_t total);

/* `docker load`: read a docker-archive (manifest.json) or OCI image layout (index.json)
 * tar, optionally gzip/zstd/xz/bzip2 compressed, from @fd, streaming (a pipe is fine): the
 * members are spooled to a temporary dir under the data root, never held in memory. Each
 * image is all-or-nothing: on error no layer, reference or temporary file of it remains. */
int image_store_load_archive(struct image_store *s, int fd, image_load_line_fn line, void *opaque,
                             struct berr *err);

/* Docker's image lookup: a name (normalised, default tag latest), a full ID with or
 * without "sha256:", or a unique ID prefix. BERR_NOT_FOUND "No such image: X" otherwise. */
int image_store_resolve(struct image_store *s, const char *name_or_id, char ret_id[DIGEST_STRING_MAX],
                        struct berr *err);

/* GET /images/json: an array of image summaries (RepoTags/RepoDigests empty, not
 * "<none>:<none>", for dangling images: that is version-dependent and the API layer's). */
int image_store_list(struct image_store *s, json_t **ret, struct berr *err);

/* GET /images/{name}/json: Docker's image inspect object. */
int image_store_inspect(struct image_store *s, const char *name_or_id, json_t **ret, struct berr *err);

/* The image config object (shared reference; caller decrefs) and its top layer chain ID
 * ("" when the image has no layers). */
int image_store_config(struct image_store *s, const char *name_or_id, json_t **ret_config,
                       char ret_chain_id[DIGEST_STRING_MAX], struct berr *err);

/* `docker tag SOURCE TARGET`: TARGET gets the default tag when it has none. */
int image_store_tag(struct image_store *s, const char *source, const char *target, struct berr *err);

/* How the daemon tells the store that containers use an image. */
enum image_usage {
        IMAGE_UNUSED,
        IMAGE_USED_BY_STOPPED,
        IMAGE_USED_BY_RUNNING,
};
typedef enum image_usage (*image_usage_fn)(void *opaque, const char *image_id, char ret_container_id[65]);
/* How many containers use an image (for `docker system df`). Like image_usage_fn, called
 * with the image store's lock held: it must not call back into the image store (the lock
 * order is image store -> containers). */
typedef int (*image_count_fn)(void *opaque, const char *image_id);

/* `docker rmi` with Docker's semantics: by name, untag (and delete when it was the last
 * reference); by ID, delete (untagging a single repository's references, or all of them
 * with @force). Conflicts are BERR_CONFLICT with Docker's "conflict: unable to delete ..."
 * wording. *@ret_items is the array of {"Untagged": ...} / {"Deleted": ...} objects the
 * API returns. @usage may be NULL (nothing uses images). */
int image_store_delete(struct image_store *s, const char *name_or_id, bool force, image_usage_fn usage,
                       void *opaque, json_t **ret_items, struct berr *err);

/* --userns-remap: containers' roots see the layers through @userns_fd's mapping
 * (graph_driver_set_idmap). */
int image_store_set_idmap(struct image_store *s, int userns_fd, uid_t root_uid, gid_t root_gid, struct berr *err);

/* Mount the root filesystem of an image at @target: read-only when @rw_dir is NULL, else
 * with @rw_dir/{diff,work} as the writable layer (@flags: GRAPH_MOUNT_*). The caller
 * unmounts (umount2). */
int image_store_mount_rootfs(struct image_store *s, const char *name_or_id, const char *target, const char *rw_dir,
                             unsigned flags, struct berr *err);
/* For image_store_mount_rootfs: graphdriver.h's GRAPH_MOUNT_VOLATILE (what it means). */
#define IMAGE_MOUNT_VOLATILE 1u

/* ---- listing, history, prune, disk usage (image_query.c, image_prune.c) ---- */

/* The filters of `docker images` and `docker image prune`, decoded. NULL-terminated
 * string lists may be NULL. */
struct image_filters {
        int dangling;                  /* -1: any, 0: tagged only, 1: dangling only */
        const char *const *labels;     /* "key" or "key=value": every one must match */
        const char *const *labels_not; /* label!=: none may match */
        const char *const *references; /* globs on the familiar name or name:tag: any may match */
        const char *before, *since;    /* images created before / after this one */
        bool has_until;
        int64_t until_ns;              /* created before this time (ns since the epoch) */
};

struct image_list_opts {
        bool shared_size;          /* SharedSize: the size of the layers other images use too */
        image_count_fn containers; /* Containers: counted when set, else -1 */
        void *opaque;
        const struct image_filters *filters; /* may be NULL */
        bool hide_intermediate;    /* `docker images` without -a: untagged images with children left out */
};

/* GET /images/json with filters, newest first. RepoTags/RepoDigests are empty for
 * dangling images (placeholders are the API's business). Labels, before and since as
 * Docker does; `before`/`since` naming no image is BERR_NOT_FOUND. */
int image_store_list_filtered(struct image_store *s, const struct image_list_opts *o, json_t **ret,
                              struct berr *err);

/* GET /images/{name}/history: newest first; the top entry has the image ID and its tags,
 * the others "<missing>" (their images are not stored here, as with any pulled image). */
int image_store_history(struct image_store *s, const char *name_or_id, json_t **ret, struct berr *err);

/* POST /images/prune: delete images no container uses (@usage may be NULL) that pass @f
 * (dangling 1 or -1: only dangling ones; 0: all, as `-a`), untagging them first. *@ret is
 * Docker's {"ImagesDeleted": [...] or null, "SpaceReclaimed": bytes}. */
int image_store_prune(struct image_store *s, const struct image_filters *f, image_usage_fn usage, void *opaque,
                      json_t **ret, struct berr *err);

/* Sum of the sizes of all stored layers. */
int64_t image_store_layers_size(struct image_store *s);

/* ---- load with a stream that may be cut short (the HTTP upload) ---- */

/* As image_store_load_archive; @complete is asked once the whole stream was read, and
 * false (the client went away, so EOF came early) loads nothing. */
int image_store_load_archive_checked(struct image_store *s, int fd, image_load_line_fn line,
                                     image_load_progress_fn progress, void *opaque, bool (*complete)(void *opaque),
                                     struct berr *err);

/* ---- save (image_save.c) ---- */

/* `docker save`: the archive is produced as it is read, with no temporary copy: the
 * docker-archive files (manifest.json, repositories) and an OCI image layout (oci-layout,
 * index.json, blobs/sha256/: configs, manifests, uncompressed layer tars, each stored
 * once) as Docker >= 25 writes them. Names are resolved at open (BERR_NOT_FOUND for a
 * missing one; a bare repository name takes all its tags); the layers are held until
 * image_save_free, so a concurrent rmi does not cut the archive short. */
struct image_save;
int image_store_save_open(struct image_store *s, const char *const *names, size_t n_names,
                          struct image_save **ret, struct berr *err);
/* Up to @max bytes of the archive; 0 at its end, negative on error. */
ssize_t image_save_read(struct image_save *sv, char *buf, size_t max, struct berr *err);
/* The images in the archive, by ID. */
size_t image_save_count(const struct image_save *sv);
const char *image_save_image_id(const struct image_save *sv, size_t i);
struct image_save *image_save_free(struct image_save *sv);

/* ---- import (image_import.c) ---- */

struct image_import_opts {
        const char *reference; /* "repo[:tag]" to tag the new image with, or NULL */
        const char *message;   /* the history comment; default "Imported from <source>" */
        const char *source;    /* "-" for the request body, or the URL it came from */
        const char *const *changes; /* Dockerfile instructions: CMD, ENTRYPOINT, ENV, ... */
        size_t n_changes;
        const char *os, *architecture, *variant; /* NULL: the host's */
        /* Asked after the layer was read: false (the stream was cut short) imports nothing. */
        bool (*complete)(void *opaque);
        void *opaque;
};

/* `docker import`: one layer from the tar (optionally compressed) read from @fd, a fresh
 * config with @changes applied. */
int image_store_import(struct image_store *s, int fd, const struct image_import_opts *o,
                       char ret_id[DIGEST_STRING_MAX], struct berr *err);

/* `docker commit`: a new image on top of @parent_id (the container's image) with one more
 * layer, the tar read from @tar_fd, and @container_config (the container's Config, with
 * @changes applied) as its config; history and diff IDs extend the parent's. */
struct image_commit_opts {
        json_t *container_config;
        const char *container_id;
        const char *created_by; /* the container's command, for the history entry */
        const char *author, *comment;
        const char *reference;  /* repo[:tag] or NULL */
        const char *const *changes;
        size_t n_changes;
};
int image_store_commit(struct image_store *s, const char *parent_id, int tar_fd, const struct image_commit_opts *o,
                       char ret_id[DIGEST_STRING_MAX], struct berr *err);

/* fds of the image's layer directories (overlay2 diff dirs), top first, for read-only
 * lookups (docker diff); *ret is malloc'ed, each fd the caller's to close. */
int image_store_layer_fds(struct image_store *s, const char *name_or_id, int **ret, size_t *ret_n, struct berr *err);

/* Apply one `--change` instruction to a container config object (Docker's Config:
 * "Cmd", "Env", ...), as dockerd's BuildFromConfig does. BERR_INVALID for anything
 * else ("X is not a valid change command"). */
int image_config_apply_change(json_t *config, const char *change, struct berr *err);

/* ---- docker build (image_build.c) ---- */

/* One step of a build: a child of @parent_id ("" or NULL: from scratch) with @config as
 * its Config, @container_config kept as the classic builder's cache key, a history entry
 * @created_by, and the layer read from @tar_fd (-1: no layer, an empty_layer entry). The
 * image records its parent (inspect's Parent, the list's ParentId). */
struct image_build_step {
        const char *parent_id;
        int tar_fd;
        json_t *config;
        json_t *container_config;
        const char *created_by;
        const char *author;        /* MAINTAINER, or NULL */
        const char *container_id;  /* the step's container, or NULL */
};
int image_store_build_step(struct image_store *s, const struct image_build_step *o, char ret_id[DIGEST_STRING_MAX],
                           struct berr *err);
/* The build cache: a child of @parent_id ("" for scratch) whose container_config equals
 * @container_config. Returns 1 and its ID, or 0 when there is none. */
int image_store_build_cache(struct image_store *s, const char *parent_id, json_t *container_config,
                            char ret_id[DIGEST_STRING_MAX]);
/* --cache-from, as dockerd's image cache with sources (@sources: image IDs): a local
 * cache hit counts only when it leads to a source; otherwise a source whose history
 * continues @parent_id's with this step (its created_by, the words of @container_config's
 * Cmd) gives the step's image: the source itself when the step is its last, else a new
 * image of @parent_id plus that history entry and its layer, with @config. Returns 1 and
 * the ID, 0 when there is none. */
int image_store_build_cache_from(struct image_store *s, const char *parent_id, const char *const *sources,
                                 size_t n_sources, json_t *container_config, json_t *config,
                                 char ret_id[DIGEST_STRING_MAX], struct berr *err);
/* The host's architecture in Go's words ("amd64", "arm64", ...). */
const char *image_host_arch(void);

/* ---- offline check (image_check.c, for `berthd --check`) ---- */

/* What the checker found: something inconsistent (a record that does not hash to its
 * name, a reference to something not stored), or something nothing references (what a
 * crash leaves and image_store_open removes). */
enum image_finding {
        IMAGE_FINDING_PROBLEM,
        IMAGE_FINDING_ORPHAN,
};
/* @path is relative to the data root. */
typedef void (*image_check_fn)(void *opaque, enum image_finding kind, const char *path, const char *msg);

struct image_check_opts {
        bool full;   /* read every layer back to its diff ID and hash every blob */
        bool repair; /* remove blobs whose content does not match their digest */
        image_check_fn report;
        void *opaque;
};

struct image_check_stats {
        size_t images, layers, blobs, refs;
};

/* Check the image store under @data_root without opening it (nothing is removed or
 * rewritten but what @o->repair says). The IDs of the images found whole are set as keys
 * of the JSON object @ret_image_ids. */
int image_store_check(const char *data_root, const struct image_check_opts *o, json_t *ret_image_ids,
                      struct image_check_stats *ret_stats, struct berr *err);
