/* image_store.h - the local image store the daemon talks to: image records by image ID
 * (sha256 of the config bytes) under image/sha256/, references (name:tag, name@digest) in
 * image/references.json, layers through the layer store and graph driver. One lock
 * serialises every call; none blocks on the network. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

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

/* `docker rmi` with Docker's semantics: by name, untag (and delete when it was the last
 * reference); by ID, delete (untagging a single repository's references, or all of them
 * with @force). Conflicts are BERR_CONFLICT with Docker's "conflict: unable to delete ..."
 * wording. *@ret_items is the array of {"Untagged": ...} / {"Deleted": ...} objects the
 * API returns. @usage may be NULL (nothing uses images). */
int image_store_delete(struct image_store *s, const char *name_or_id, bool force, image_usage_fn usage,
                       void *opaque, json_t **ret_items, struct berr *err);

/* Mount the root filesystem of an image at @target: read-only when @rw_dir is NULL, else
 * with @rw_dir/{diff,work} as the writable layer. The caller unmounts (umount2). */
int image_store_mount_rootfs(struct image_store *s, const char *name_or_id, const char *target, const char *rw_dir,
                             struct berr *err);
