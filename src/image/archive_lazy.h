/* archive_lazy.h - libarchive, loaded on first use and closed when idle.
 *
 * libarchive pulls in a large tree (libxml2 -> libicuuc -> libstdc++, liblzma, libzstd,
 * libbz2, liblz4, libacl, nettle ...) whose pages would count against berthd's idle RSS.
 * Files that use libarchive include this header instead of <archive.h>/<archive_entry.h>:
 * the types and constants still come from libarchive's headers, and every archive_*
 * function berth calls is redirected, by a macro, to a pointer in a table filled by
 * dlopen("libarchive.so.13") + dlsym the first time any of them is used. Binaries that
 * use this do not link libarchive; no object here has an undefined archive_* symbol.
 *
 * If the library cannot be loaded, the error is logged once, arclazy_require() fails
 * with BERR_UNAVAILABLE and the constructors (archive_read_new, archive_write_new,
 * archive_entry_new) return NULL with errno ENOSYS, so callers fail like on ENOMEM.
 * Every other function needs an object only a constructor makes; if one is reached
 * anyway it logs and aborts rather than jump through a NULL pointer.
 *
 * A function not in ARCLAZY_FUNCS below is a link error for berthd (undefined
 * reference): add it to the list. */
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>

struct berr;

#ifndef ARCLAZY_SONAME /* overridable only to test a missing library */
#define ARCLAZY_SONAME "libarchive.so.13"
#endif

/* X(name): every libarchive function src/ calls. */
#define ARCLAZY_FUNCS(X)                                                                  \
        X(archive_entry_atime)                                                            \
        X(archive_entry_atime_is_set)                                                     \
        X(archive_entry_atime_nsec)                                                       \
        X(archive_entry_filetype)                                                         \
        X(archive_entry_free)                                                             \
        X(archive_entry_gid)                                                              \
        X(archive_entry_hardlink)                                                         \
        X(archive_entry_mtime)                                                            \
        X(archive_entry_mtime_nsec)                                                       \
        X(archive_entry_new)                                                              \
        X(archive_entry_pathname)                                                         \
        X(archive_entry_pathname_utf8)                                                    \
        X(archive_entry_perm)                                                             \
        X(archive_entry_rdev)                                                             \
        X(archive_entry_set_filetype)                                                     \
        X(archive_entry_set_pathname)                                                     \
        X(archive_entry_set_size)                                                         \
        X(archive_entry_size)                                                             \
        X(archive_entry_symlink)                                                          \
        X(archive_entry_symlink_utf8)                                                     \
        X(archive_entry_uid)                                                              \
        X(archive_entry_xattr_next)                                                       \
        X(archive_entry_xattr_reset)                                                      \
        X(archive_error_string)                                                           \
        X(archive_read_data_block)                                                        \
        X(archive_read_free)                                                              \
        X(archive_read_new)                                                               \
        X(archive_read_next_header)                                                       \
        X(archive_read_open)                                                              \
        X(archive_read_open_fd)                                                           \
        X(archive_read_support_filter_bzip2)                                              \
        X(archive_read_support_filter_gzip)                                               \
        X(archive_read_support_filter_xz)                                                 \
        X(archive_read_support_filter_zstd)                                               \
        X(archive_read_support_format_raw)                                                \
        X(archive_read_support_format_tar)                                                \
        X(archive_set_error)                                                              \
        X(archive_write_add_filter_gzip)                                                  \
        X(archive_write_close)                                                            \
        X(archive_write_data)                                                             \
        X(archive_write_free)                                                             \
        X(archive_write_header)                                                           \
        X(archive_write_new)                                                              \
        X(archive_write_open)                                                             \
        X(archive_write_set_bytes_per_block)                                              \
        X(archive_write_set_format_raw)

/* One pointer per function, typed from libarchive's own prototype. */
struct arclazy_table {
#define ARCLAZY_FIELD(name) __typeof__(&name) name;
        ARCLAZY_FUNCS(ARCLAZY_FIELD)
#undef ARCLAZY_FIELD
};

/* The constructors and destructors, counted: libarchive (and the tree it pulls in, ~2.3 MB
 * of berthd's RSS) is closed again ARCLAZY_IDLE_S seconds after the last object made by a
 * constructor is freed, and loaded again by the next constructor. Every other function
 * needs a live object, so the library is loaded whenever one of them is called. */
#define ARCLAZY_IDLE_S 10
struct archive *arclazy_read_new(void);
struct archive *arclazy_write_new(void);
struct archive_entry *arclazy_entry_new(void);
int arclazy_read_free(struct archive *a);
int arclazy_write_free(struct archive *a);
void arclazy_entry_free(struct archive_entry *e);
/* Tests: whether libarchive is mapped now; the idle time before it is closed. */
bool arclazy_is_loaded(void);
void arclazy_set_idle_s(double s);

/* Loads libarchive if it is not (thread-safe); never NULL. */
const struct arclazy_table *arclazy(void);

/* 0 if libarchive is loaded (loading it if needed); otherwise a BERR_UNAVAILABLE error
 * naming the library and dlerror()'s reason. Call before the first archive_*_new() of an
 * operation so a missing library is a clear error, not "out of memory". */
int arclazy_require(struct berr *err);

/* The read size given to archive_read_open_fd(): 64 KiB, the pipe and socket buffer size
 * an archive arrives in. A 128 KiB buffer (plus its allocator's header) is past what
 * ASan's allocator serves from its size classes (and glibc's first mmap threshold): every
 * layer and archive opened mapped, faulted in and unmapped a buffer of its own (up to a
 * tenth of the CPU time per input of fuzz_image_load and fuzz_layer_apply). */
#define ARCHIVE_READ_BLOCK_BYTES (64 * 1024)

#ifndef ARCLAZY_IMPL
#define ARCLAZY_REDIRECT(name) (arclazy()->name)
#define archive_entry_atime ARCLAZY_REDIRECT(archive_entry_atime)
#define archive_entry_atime_is_set ARCLAZY_REDIRECT(archive_entry_atime_is_set)
#define archive_entry_atime_nsec ARCLAZY_REDIRECT(archive_entry_atime_nsec)
#define archive_entry_filetype ARCLAZY_REDIRECT(archive_entry_filetype)
#define archive_entry_free arclazy_entry_free
#define archive_entry_gid ARCLAZY_REDIRECT(archive_entry_gid)
#define archive_entry_hardlink ARCLAZY_REDIRECT(archive_entry_hardlink)
#define archive_entry_mtime ARCLAZY_REDIRECT(archive_entry_mtime)
#define archive_entry_mtime_nsec ARCLAZY_REDIRECT(archive_entry_mtime_nsec)
#define archive_entry_new arclazy_entry_new
#define archive_entry_pathname ARCLAZY_REDIRECT(archive_entry_pathname)
#define archive_entry_pathname_utf8 ARCLAZY_REDIRECT(archive_entry_pathname_utf8)
#define archive_entry_perm ARCLAZY_REDIRECT(archive_entry_perm)
#define archive_entry_rdev ARCLAZY_REDIRECT(archive_entry_rdev)
#define archive_entry_set_filetype ARCLAZY_REDIRECT(archive_entry_set_filetype)
#define archive_entry_set_pathname ARCLAZY_REDIRECT(archive_entry_set_pathname)
#define archive_entry_set_size ARCLAZY_REDIRECT(archive_entry_set_size)
#define archive_entry_size ARCLAZY_REDIRECT(archive_entry_size)
#define archive_entry_symlink ARCLAZY_REDIRECT(archive_entry_symlink)
#define archive_entry_symlink_utf8 ARCLAZY_REDIRECT(archive_entry_symlink_utf8)
#define archive_entry_uid ARCLAZY_REDIRECT(archive_entry_uid)
#define archive_entry_xattr_next ARCLAZY_REDIRECT(archive_entry_xattr_next)
#define archive_entry_xattr_reset ARCLAZY_REDIRECT(archive_entry_xattr_reset)
#define archive_error_string ARCLAZY_REDIRECT(archive_error_string)
#define archive_read_data_block ARCLAZY_REDIRECT(archive_read_data_block)
#define archive_read_free arclazy_read_free
#define archive_read_new arclazy_read_new
#define archive_read_next_header ARCLAZY_REDIRECT(archive_read_next_header)
#define archive_read_open ARCLAZY_REDIRECT(archive_read_open)
#define archive_read_open_fd ARCLAZY_REDIRECT(archive_read_open_fd)
#define archive_read_support_filter_bzip2 ARCLAZY_REDIRECT(archive_read_support_filter_bzip2)
#define archive_read_support_filter_gzip ARCLAZY_REDIRECT(archive_read_support_filter_gzip)
#define archive_read_support_filter_xz ARCLAZY_REDIRECT(archive_read_support_filter_xz)
#define archive_read_support_filter_zstd ARCLAZY_REDIRECT(archive_read_support_filter_zstd)
#define archive_read_support_format_raw ARCLAZY_REDIRECT(archive_read_support_format_raw)
#define archive_read_support_format_tar ARCLAZY_REDIRECT(archive_read_support_format_tar)
#define archive_set_error ARCLAZY_REDIRECT(archive_set_error)
#define archive_write_add_filter_gzip ARCLAZY_REDIRECT(archive_write_add_filter_gzip)
#define archive_write_close ARCLAZY_REDIRECT(archive_write_close)
#define archive_write_data ARCLAZY_REDIRECT(archive_write_data)
#define archive_write_free arclazy_write_free
#define archive_write_header ARCLAZY_REDIRECT(archive_write_header)
#define archive_write_new arclazy_write_new
#define archive_write_open ARCLAZY_REDIRECT(archive_write_open)
#define archive_write_set_bytes_per_block ARCLAZY_REDIRECT(archive_write_set_bytes_per_block)
#define archive_write_set_format_raw ARCLAZY_REDIRECT(archive_write_set_format_raw)
#endif
