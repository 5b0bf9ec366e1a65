/* tree.h - directory-tree operations relative to directory fds, never following symlinks:
 * recursive removal, whole-tree copy (the vfs driver), single-node copy (hard-link copy-up). */
#pragma once

#include <sys/stat.h>

struct berr;

/* Deepest tree these functions walk; a deeper one is an error rather than an fd exhaustion. */
#define TREE_MAX_DEPTH 512

/* rm -rf @dirfd/@name (one path component). A missing entry is success. */
int tree_remove_at(int dirfd, const char *name, struct berr *err);

/* Remove everything inside the directory @dirfd, keeping the directory itself. */
int tree_clear_dir(int dirfd, struct berr *err);

/* Copy the contents of directory @src_dirfd into the (existing, empty) directory
 * @dst_dirfd: files, dirs, symlinks, devices, FIFOs, hard links kept as hard links,
 * ownership, modes, xattrs and times. The root's own metadata is copied too. */
int tree_copy_contents(int src_dirfd, int dst_dirfd, struct berr *err);

/* Copy one non-directory node @src_dirfd/@src_name to @dst_dirfd/@dst_name (which must
 * not exist), with its metadata. Directories get only their metadata copied onto a new
 * empty directory. */
int tree_copy_node(int src_dirfd, const char *src_name, int dst_dirfd, const char *dst_name,
                   struct berr *err);

/* Copy every xattr of @src_dirfd/@src_name onto @dst_dirfd/@dst_name (symlinks included,
 * never followed). Namespaces the destination refuses (ENOTSUP, EPERM) are skipped. */
int tree_copy_xattrs(int src_dirfd, const char *src_name, int dst_dirfd, const char *dst_name,
                     struct berr *err);

/* Ownership, then mode (not for symlinks; after chown, which clears setuid bits), then
 * times of @st applied to @dirfd/@name. */
int tree_apply_stat(int dirfd, const char *name, const struct stat *st, struct berr *err);
