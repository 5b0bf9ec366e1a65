/* image_registry.h - what the registry client (distribution/) needs from the image store:
 * the content store of blobs kept as pulled (blobs/sha256/<hex>: manifests, configs,
 * compressed layers, so a push re-sends the same bytes), layers registered from a verified
 * blob, the all-or-nothing commit of a pulled image with its references (tag and
 * RepoDigest), and the distribution metadata that maps a diff ID to the compressed blob
 * that carries it and the repositories it was seen in (for skips and cross-repo mounts).
 * Nothing here touches the network: the callers download (or stream) and hand the bytes
 * over. */
#pragma once

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/digest.h"
#include "image/reference.h"

struct berr;
struct image_store;
struct layer;

#define IMAGE_MEDIA_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* ---- content store ---- */

/* A new empty temporary file for a blob being downloaded or produced: under the store's
 * spool dir (same filesystem as blobs/, removed at start-up if left over). The caller
 * unlinks it unless image_blob_commit took it. */
int image_blob_tmp(struct image_store *s, char ret_path[PATH_MAX], int *ret_fd, struct berr *err);

/* Move a verified temporary file into blobs/sha256/<hex> (fsync'd). An existing blob with
 * that digest is kept and the file removed. */
int image_blob_commit(struct image_store *s, const char *tmp_path, const char *digest, struct berr *err);

/* Open blobs/sha256/<hex> for reading (BERR_NOT_FOUND if absent). */
int image_blob_open(struct image_store *s, const char *digest, int *ret_fd, uint64_t *ret_size, struct berr *err);
bool image_blob_exists(struct image_store *s, const char *digest);
/* Read a small blob whole (manifests, configs): at most @max bytes. */
int image_blob_read(struct image_store *s, const char *digest, size_t max, char **ret_data, size_t *ret_len,
                    struct berr *err);

/* ---- pull ---- */

/* ChainID(parent, diff) as the layer store computes it (@parent_chain_id NULL for a base). */
int image_chain_id(const char *parent_chain_id, const char *diff_id, char out[DIGEST_STRING_MAX], struct berr *err);

/* True if the layer chain @chain_id is stored (a pull reports "Already exists"). */
bool image_store_has_layer(struct image_store *s, const char *chain_id);
/* True if an image with this ID (config digest) is stored. */
bool image_store_has_image(struct image_store *s, const char *id);

/* Register the layer with diff ID @diff_id on top of @parent (NULL for the base) from the
 * blob file @fd (compressed or not), or take the stored one when the chain exists (then @fd
 * may be -1). The caller gets a reference on the result; its reference on @parent stays.
 * Takes the store lock for the duration of the apply (local disk only). */
int image_pull_layer(struct image_store *s, struct layer *parent, int fd, const char *diff_id, struct layer **ret,
                     struct berr *err);
/* The same in steps, so that a layer is applied while it downloads, without the store
 * lock (layer_store.h): prepare applies the tar read from @fd on top of @parent (which
 * the caller keeps referenced until commit or abort) into storage nobody sees yet;
 * commit, under the lock, checks the diff ID against @diff_id and records the layer (or
 * takes the one stored meanwhile with the same chain ID), giving the caller a reference;
 * the prepared layer is consumed whatever the outcome. Abort discards a prepared layer
 * (accepts NULL). Commit only once the compressed blob's digest has been verified. */
int image_pull_layer_prepare(struct image_store *s, struct layer *parent, int fd, struct layer **ret,
                             struct berr *err);
int image_pull_layer_commit(struct image_store *s, struct layer *prepared, const char *diff_id, struct layer **ret,
                            struct berr *err);
void image_pull_layer_abort(struct image_store *s, struct layer *prepared);
/* Drop a reference image_pull_layer gave. Accepts NULL. */
void image_pull_layer_release(struct image_store *s, struct layer *l);

/* A blob downloaded into a temporary file, verified, to be moved into the content store
 * when the image commits. */
struct image_pull_blob {
        const char *tmp_path; /* NULL: already in the store */
        const char *digest;
};

/* One layer of the pulled manifest, for the distribution metadata. */
struct image_pull_layer_meta {
        const char *diff_id;
        const char *digest; /* the compressed blob */
        const char *media_type;
        int64_t size;
};

struct image_pull_commit {
        const char *image_id; /* with config NULL: an image already stored, only referenced anew */
        const char *config; /* the verified config bytes */
        size_t config_len;
        struct layer *top;  /* the caller's reference passes to the image (even on error) */
        const struct reference *tag_ref;    /* name:tag to point at the image, or NULL */
        const struct reference *digest_ref; /* name@manifest-digest (RepoDigests), or NULL */
        const struct image_pull_blob *blobs; /* moved into blobs/sha256 */
        size_t n_blobs;
        const struct image_pull_layer_meta *layers;
        size_t n_layers;
        const char *source_repository; /* "127.0.0.1:5000/busybox": where a push may mount from */
};

/* Record the pulled image, its references and blobs in one locked step. *@ret_updated is
 * false when the reference already named this very image (dockerd's "Image is up to
 * date"). On error nothing of the image is kept (the blobs' temporary files are the
 * caller's to remove). */
int image_pull_commit(struct image_store *s, const struct image_pull_commit *c, char ret_id[DIGEST_STRING_MAX],
                      bool *ret_updated, struct berr *err);

/* ---- push ---- */

/* What the store knows of one layer of an image being pushed. */
struct image_push_layer {
        char diff_id[DIGEST_STRING_MAX];
        struct layer *layer;   /* the layer (a reference on the image's top keeps it alive) */
        char digest[DIGEST_STRING_MAX]; /* compressed blob in the content store, "" if none */
        char media_type[128];
        int64_t size;
        char **sources;        /* repositories ("host/path") this blob was pulled from or pushed to */
        size_t n_sources;
};

struct image_push_info {
        char id[DIGEST_STRING_MAX];
        char *config;          /* config bytes */
        size_t config_len;
        struct layer *top;     /* one reference, held until image_push_info_free */
        struct image_push_layer *layers;
        size_t n_layers;
};

/* Resolve @name_or_id and gather its config and layers, holding a reference on its layers
 * so that an rmi meanwhile does not pull them away. */
int image_push_info_get(struct image_store *s, const char *name_or_id, struct image_push_info **ret,
                        struct berr *err);
struct image_push_info *image_push_info_free(struct image_store *s, struct image_push_info *pi);

/* Fill @l's digest, media type, size and sources from the distribution metadata: the
 * newest blob recorded for its diff ID that is in the content store ("" if none). */
void image_registry_fill_layer_meta(struct image_store *s, struct image_push_layer *l);

/* For a layer with no compressed blob (a loaded or committed image): gzip its tar into
 * the content store and record the mapping, filling @l's digest, size and media type. */
int image_push_compress_layer(struct image_store *s, struct image_push_layer *l, struct berr *err);

/* Remember that blob @digest (diff ID @diff_id) is now in repository @repo. */
int image_push_record_source(struct image_store *s, const char *diff_id, const char *digest,
                             const char *media_type, int64_t size, const char *repo, struct berr *err);

/* Tags of the repository @repo_name ("host/path", normalised without tag), sorted; for a
 * push of all tags. Returned as a JSON array of full reference strings. */
int image_push_repo_tags(struct image_store *s, const struct reference *repo, json_t **ret, struct berr *err);

/* Add the RepoDigest @digest_ref to the image @id after a push. */
int image_push_add_digest_ref(struct image_store *s, const struct reference *digest_ref, const char *id,
                              struct berr *err);
