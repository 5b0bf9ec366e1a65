/* fs.h - safe filesystem operations: atomic writes, bounded reads, directory creation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct berr;

/* Write all @len bytes to @fd (a blocking one), retrying after EINTR and short writes.
 * Returns 0 or a negative errno. berthd and berth-shim ignore SIGPIPE, so a closed pipe
 * or socket is -EPIPE. */
int fs_write_all(int fd, const void *data, size_t len);

/* Write @len bytes to @dirfd/@name atomically: temporary file in the same directory,
 * fsync, rename, fsync of the directory. @dirfd may be AT_FDCWD. */
int fs_write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                    struct berr *err);

/* A new version of a record that is on disk already (written durably before): the new
 * text is fsync'd before the rename, the rename itself is not. After a crash of the
 * machine the record is the old version or the new one, each complete (what dockerd's
 * atomic writer gives: one fsync, not two). For state changes of a container record
 * (running, exited), where the old state is one the start-up recovery handles. */
int fs_write_atomic_update(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                           struct berr *err);

/* The same without the two fsyncs: readers see the old or the new text, never a mix, but
 * a crash of the machine may lose the write. For files that are written again before they
 * are needed after a reboot (the run root's bundle, a container's /etc files, which every
 * start regenerates), that live in the run root (a tmpfs, one boot long: the shim's
 * exit.json, which only has to outlive berthd, not the machine) or are informative only:
 * each fsync costs milliseconds, much more on a busy disk, and a start wrote seven of them.
 * Records that must survive a crash of the machine (the container record) keep
 * fs_write_atomic (DESIGN.md "State on disk"). */
int fs_write_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                     struct berr *err);

/* Read a whole file of at most @max_bytes; the result is NUL-terminated. A larger file
 * is an error (EFBIG), never a truncated read. */
int fs_read_file(int dirfd, const char *name, size_t max_bytes, char **ret_data, size_t *ret_len,
                 struct berr *err);

/* mkdir -p with @mode for the directories it creates. */
int fs_mkdir_p(const char *path, mode_t mode, struct berr *err);

/* True when this process is not in the host's user namespace (rootless berthd): overlayfs
 * then keeps its attributes as user.overlay.* ("userxattr"), trusted.* being the host's. */
bool fs_in_user_namespace(void);
/* "trusted.overlay.opaque", or "user.overlay.opaque" in a user namespace. */
const char *fs_overlay_opaque_xattr(void);

/* Mark directory @fd as the top of directory hierarchies for the filesystem's inode
 * allocator (ext2/3/4's FS_TOPDIR_FL, `chattr +T`): each new subdirectory then goes to
 * a block group of its own instead of the parent's. Layer and container trees are
 * created and removed wholesale; without it they all share one group, and on ext4
 * without a journal every inode allocation there walks past each inode freed in the
 * last minutes (recently_deleted()), so a pull after an rmi crawls. Best effort:
 * returns whether the flag is set; filesystems without the flag are left alone. */
bool fs_spread_subdirs(int fd);

/* openat2(@root, @path, @flags | O_CLOEXEC) with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS:
 * every step, symlinks included, stays inside @root ("" means @root itself). -1/errno. */
int fs_open_in_root(int root, const char *path, int flags);
/* openat2(2), retried on EAGAIN (a rename or mount anywhere on the host during a lookup
 * through "..": the kernel cannot then vouch for the resolution, and openat2(2) says to
 * retry). Returns the fd, or -1 with errno set. */
struct open_how;
int fs_openat2(int dirfd, const char *path, const struct open_how *how);

/* @rel (a path a plugin answered, inside its rootfs @base) as the host sees it, every step
 * resolved inside @base: a symlink "/data -> /" or a "/../.." must not lead out. The
 * longest part of it that exists is resolved by openat2(RESOLVE_IN_ROOT), the rest (made
 * later: a directory the caller creates) appended; a ".." step is refused (-EINVAL).
 * 0, or a negative errno. */
int fs_host_path_in_root(const char *base, const char *rel, char *out, size_t size);

/* Go's filepath.Clean for an absolute path into @out: no "//", "." or ".." steps and no
 * trailing "/" ("/" for nothing). */
void fs_clean_abs_path(const char *in, char *out, size_t size);

/* Build a path into the fixed buffer @buf with printf's @fmt ("%s/rootfs",
 * "%s/containers/%s"): 0, or -ENAMETOOLONG when it does not fit, and then @buf is ""
 * so a cut-off path can never be used by mistake. The one checked way to build a path
 * into an array; fs_path_join allocates instead. */
int fs_path_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Join two path parts with exactly one '/'. Returns NULL only on allocation failure. */
char *fs_path_join(const char *a, const char *b);
