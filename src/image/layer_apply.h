/* layer_apply.h - apply one image layer (a tar stream: plain, gzip, zstd, xz or bzip2,
 * detected from the bytes) onto a directory, converting AUFS whiteouts, and compute its
 * diff ID (sha256 of the uncompressed tar) and size while doing it. Layers are hostile
 * input: every path is resolved inside the root with openat2(RESOLVE_IN_ROOT). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/digest.h"

struct berr;
struct layer_split_writer;

enum layer_whiteouts {
        /* overlay2: `.wh.NAME` -> char device 0/0 named NAME, `.wh..wh..opq` ->
         * trusted.overlay.opaque=y on the directory. The root is the layer's own diff dir. */
        LAYER_WHITEOUTS_OVERLAY,
        /* vfs: the root is a copy of the parent's tree and whiteouts delete from it. */
        LAYER_WHITEOUTS_DELETE,
        /* Not a layer (docker cp into a container): `.wh.` names are ordinary files. */
        LAYER_WHITEOUTS_NONE,
        _LAYER_WHITEOUTS_MAX,
        _LAYER_WHITEOUTS_INVALID = -1,
};

#define LAYER_DEFAULT_MAX_BYTES (64ULL << 30) /* uncompressed stream and declared file sizes */
#define LAYER_DEFAULT_MAX_ENTRIES 1000000ULL
#define LAYER_MAX_PATH_DEPTH 256

struct layer_apply_opts {
        enum layer_whiteouts whiteouts;
        /* LAYER_WHITEOUTS_OVERLAY only: diff dirs of the lower layers, nearest first. A hard
         * link whose target is not in this layer is resolved there: the target is copied up
         * into this layer (with the metadata of any parent directories it needs), and the
         * link made to the copy, which is what the merged view shows. */
        const int *lower_fds;
        size_t n_lower_fds;
        /* When set, the uncompressed stream is recorded there (layer_split.h), so the tar
         * can be given back byte for byte. */
        struct layer_split_writer *split;
        /* docker cp without -a: everything owned by root (0:0) instead of the tar's owners. */
        bool owner_root;
        /* --userns-remap (docker cp into a container): the owner a file gets on disk, from
         * the container's id (after owner_root). Returns 0, or negative with @err set for
         * an id the mapping does not cover. NULL: ids as they are. */
        int (*map_id)(void *map_data, uint32_t id, bool is_gid, uint32_t *ret, struct berr *err);
        void *map_data;
        /* docker cp's noOverwriteDirNonDir: a directory may not replace a non-directory or
         * the other way round (BERR_INVALID, dockerd's words). */
        bool no_overwrite_dir_nondir;
        /* Accept a stream that ends right after the last entry's data, without its padding
         * and the end blocks (a build context from the docker CLI's `-f -`). */
        bool lenient_end;
        uint64_t max_bytes;   /* 0: LAYER_DEFAULT_MAX_BYTES */
        uint64_t max_entries; /* 0: LAYER_DEFAULT_MAX_ENTRIES */
};

struct layer_apply_result {
        char diff_id[DIGEST_STRING_MAX]; /* "sha256:<hex>" of the uncompressed stream */
        uint64_t size_bytes;             /* as Docker reports a layer: file and symlink sizes */
        uint64_t tar_bytes;              /* length of the uncompressed stream */
        uint64_t entries;
};

/* Apply the layer read from @tar_fd onto the directory @root_fd. On error the directory is
 * left partly written; the caller owns it and removes it. Errors: BERR_INVALID for a bad
 * or hostile archive (escaping paths, truncated or corrupt stream), BERR_TOO_LARGE past a
 * bound, BERR_FORBIDDEN when a device node cannot be created. */
int layer_apply_fd(int root_fd, int tar_fd, const struct layer_apply_opts *opts,
                   struct layer_apply_result *ret, struct berr *err);
