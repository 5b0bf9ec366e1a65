/* fs.h - safe filesystem operations: atomic writes, bounded reads, directory creation. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

struct berr;

/* Write @len bytes to @dirfd/@name atomically: temporary file in the same directory,
 * fsync, rename, fsync of the directory. @dirfd may be AT_FDCWD. */
int fs_write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                    struct berr *err);

/* Read a whole file of at most @max_bytes; the result is NUL-terminated. A larger file
 * is an error (EFBIG), never a truncated read. */
int fs_read_file(int dirfd, const char *name, size_t max_bytes, char **ret_data, size_t *ret_len,
                 struct berr *err);

/* mkdir -p with @mode for the directories it creates. */
int fs_mkdir_p(const char *path, mode_t mode, struct berr *err);

/* Join two path parts with exactly one '/'. Returns NULL only on allocation failure. */
char *fs_path_join(const char *a, const char *b);
