/* graphdriver.h - where layer contents live and how a chain of them becomes a root
 * filesystem: overlay2 (diff dirs stacked by overlayfs, with Docker's short link names)
 * and vfs (every layer a full copy of its parent plus its own changes). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "image/layer_apply.h"

struct berr;

enum graph_driver_kind {
        GRAPH_DRIVER_OVERLAY2,
        GRAPH_DRIVER_VFS,
        _GRAPH_DRIVER_MAX,
        _GRAPH_DRIVER_INVALID = -1,
};

struct graph_driver;

/* Open the driver named @name ("overlay2", "vfs") under @data_root, or pick one when @name
 * is NULL: overlay2 if an overlay mount works on the data root, vfs otherwise. Removes
 * leftovers of interrupted layer creations (temporary dirs). */
int graph_driver_open(const char *data_root, const char *name, struct graph_driver **ret, struct berr *err);
struct graph_driver *graph_driver_free(struct graph_driver *d);

const char *graph_driver_name(const struct graph_driver *d);
enum layer_whiteouts graph_driver_whiteouts(const struct graph_driver *d);

/* Create the storage for a new layer @cache_id whose parents' cache IDs are @lowers
 * (nearest first, @n_lowers may be 0). Returns an fd of the directory a layer tar is
 * applied into, and for overlay2 the fds of the lower diff dirs (for hard-link copy-up;
 * the caller closes them and frees the array). */
int graph_driver_create(struct graph_driver *d, const char *cache_id, const char *const *lowers, size_t n_lowers,
                        int *ret_apply_fd, int **ret_lower_fds, size_t *ret_n_lower_fds, struct berr *err);

/* Remove the storage of @cache_id. A missing layer is success. */
int graph_driver_remove(struct graph_driver *d, const char *cache_id, struct berr *err);

/* An fd of the directory holding @cache_id's own files (overlay2: its diff dir; vfs: the
 * layer's full tree), for reading a layer back. */
int graph_driver_open_layer(struct graph_driver *d, const char *cache_id, struct berr *err);

/* True if storage for @cache_id exists. */
bool graph_driver_exists(struct graph_driver *d, const char *cache_id);

/* Remove storage that no layer in @known (NULL-terminated cache IDs) owns: what a crash
 * between creating a layer's storage and recording it leaves behind. */
int graph_driver_gc(struct graph_driver *d, const char *const *known, size_t n_known, struct berr *err);

/* Mount the layer chain @chain (cache IDs, top first) at @target. With @rw_dir NULL the
 * mount is read-only; otherwise @rw_dir/diff and @rw_dir/work (created if missing) hold
 * the writable layer. For vfs, read-only is a bind mount of the top layer and writable a
 * copy of it into @rw_dir/diff. */
int graph_driver_mount(struct graph_driver *d, const char *const *chain, size_t n, const char *target,
                       const char *rw_dir, unsigned flags, struct berr *err);
/* An overlay whose upper filesystem is not synced: no sync at its unmount, the
 * container's own fsyncs are no-ops (overlayfs "volatile"). For a --rm container only:
 * its writable layer goes with it, and what a crash of the machine leaves of it is
 * removed at start-up. A later mount of the same layer clears the kernel's mark. */
#define GRAPH_MOUNT_VOLATILE 1u

/* --userns-remap: writable mounts (containers' roots) stack idmapped mounts of the layers
 * through @userns_fd (not owned; it must outlive the driver) and give the upper dir to
 * @root_uid:@root_gid. overlay2 only: vfs fails (it would need chowned copies). */
int graph_driver_set_idmap(struct graph_driver *d, int userns_fd, uid_t root_uid, gid_t root_gid, struct berr *err);

/* The "GraphDriver.Data" object of image inspect for @chain (top first). */
json_t *graph_driver_metadata(struct graph_driver *d, const char *const *chain, size_t n);
