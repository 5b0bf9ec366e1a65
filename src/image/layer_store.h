/* layer_store.h - read-only image layers by chain ID, stored once and shared: metadata in
 * layers/sha256/<chain-id>/{diff,parent,size,cache-id} (Docker's layerdb file names),
 * contents in the graph driver under the cache ID. Reference counted: an image holds one
 * reference on its top layer, every layer one on its parent; at zero a layer is removed. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include "common/digest.h"
#include "image/graphdriver.h"

struct berr;
struct layer_split_reader;

struct layer {
        char chain_id[DIGEST_STRING_MAX];
        char diff_id[DIGEST_STRING_MAX];
        char cache_id[65];
        uint64_t size_bytes;
        struct layer *parent;
        unsigned refs;
        UT_hash_handle hh; /* private to layer_store.c */
};

struct layer_store;

/* Load every complete layer under @data_root/layers; half-written ones are removed. Layers
 * start with only their children's references: the image store adds its own, then calls
 * layer_store_gc() to drop what no image uses (the leftovers of an interrupted load). */
int layer_store_open(const char *data_root, struct graph_driver *driver, struct layer_store **ret,
                     struct berr *err);
struct layer_store *layer_store_free(struct layer_store *ls);

/* ChainID(parent, diff) = sha256(parent + " " + diff); of a base layer, its diff ID. */
int layer_chain_id(const char *parent_chain_id, const char *diff_id, char out[DIGEST_STRING_MAX],
                   struct berr *err);

/* The layer with this chain ID, or NULL. Does not take a reference. */
struct layer *layer_store_get(struct layer_store *ls, const char *chain_id);

/* Take one more reference. */
void layer_ref(struct layer *l);

/* Apply the tar read from @tar_fd on top of @parent (NULL for a base layer) and return the
 * layer with a reference taken for the caller. If @expected_diff_id is set and a layer with
 * the resulting chain ID exists, the tar is not read at all. A diff ID that does not match
 * @expected_diff_id is an error (BERR_INVALID) and leaves nothing behind. */
int layer_store_register(struct layer_store *ls, struct layer *parent, int tar_fd, const char *expected_diff_id,
                         struct layer **ret, struct berr *err);

/* Registration in two steps, so that the apply (the slow part, fed from the network)
 * runs without the caller's lock:
 *
 * layer_store_prepare() applies the tar read from @tar_fd into fresh driver storage on
 * top of @parent, computing its diff ID. It needs no lock: it only reads @parent's chain,
 * which the caller keeps pinned with a reference until commit or abort, and writes
 * storage nobody else knows of. The prepared layer is not in the store (not visible to
 * layer_store_get); its diff ID is layer_prepared_diff_id().
 *
 * layer_store_commit() (under the lock that guards the store) records it and returns it
 * with a reference for the caller, taking one on its parent; if a layer with the same
 * chain ID appeared meanwhile the prepared storage is discarded and the existing layer
 * referenced instead. A diff ID other than @expected_diff_id (when set) is BERR_INVALID.
 * The prepared layer is consumed whatever the outcome: on error nothing is left behind.
 *
 * layer_store_abort() discards a prepared layer (no lock needed). Accepts NULL. */
int layer_store_prepare(struct layer_store *ls, struct layer *parent, int tar_fd, struct layer **ret,
                        struct berr *err);
const char *layer_prepared_diff_id(const struct layer *prepared);
int layer_store_commit(struct layer_store *ls, struct layer *prepared, const char *expected_diff_id,
                       struct layer **ret, struct berr *err);
void layer_store_abort(struct layer_store *ls, struct layer *prepared);

/* Drop one reference; layers that reach zero are removed, parents released in turn. The
 * chain IDs removed are appended to @deleted (a JSON array of strings) when not NULL. */
int layer_store_release(struct layer_store *ls, struct layer *l, json_t *deleted, struct berr *err);

/* Remove every layer nobody references, and driver storage no layer owns. */
int layer_store_gc(struct layer_store *ls, struct berr *err);

/* Cache IDs of @top and its ancestors, top first, into @out (at most @max). Returns the
 * chain length. */
size_t layer_chain_cache_ids(const struct layer *top, const char **out, size_t max);

/* Sum of the sizes of @top and its ancestors (Docker's image Size). */
uint64_t layer_chain_size(const struct layer *top);

/* The layer's tar, byte for byte as it was registered (its diff ID), for `docker save`.
 * The caller keeps a reference on @l while reading. */
int layer_store_open_tar(struct layer_store *ls, const struct layer *l, struct layer_split_reader **ret,
                         struct berr *err);

/* Sum of the sizes of every stored layer (`docker system df`'s LayersSize). */
uint64_t layer_store_total_size(struct layer_store *ls);
