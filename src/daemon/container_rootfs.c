/* container_rootfs.c - a container's root filesystem mount and the removal of its
 * directories. Whether a rootfs is mounted is read from the kernel's mount table, never
 * from a flag alone: after kill -9 of berthd only the kernel knows. Nothing is deleted
 * while anything is mounted under the container's directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/mountinfo.h"
#include "container.h"
#include "daemon.h"
#include "image/image_store.h"
#include "common/trace.h"
#include "common/tree.h"

/* Unmounting one layer can uncover another (a rootfs mounted twice by an older berthd). */
#define UNMOUNT_ROUNDS 8

/* The mount points at or under @path. The table names them by their resolved paths, so
 * @path is resolved first (a data root reached through a symlink, say); a path that does
 * not exist has nothing mounted on it. */
static int mounts_under(const char *path, char ***ret, size_t *ret_n, struct berr *err) {
        _cleanup_free_ char *real = realpath(path, NULL);
        if (!real && errno != ENOENT)
                return berr_sys(err, BERR_INTERNAL, "resolve %s", path);
        if (!real) {
                *ret = calloc(1, sizeof(char *));
                *ret_n = 0;
                return *ret ? 0 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        return mountinfo_list_under(real, ret, ret_n, err);
}

static int is_mount_point(const char *path, bool *ret, struct berr *err) {
        /* The kernel says so in O(1) (Linux 5.8); the mount table grows with every running
         * container, and reading it made each start slower than the one before. */
        struct statx sx;
        if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) == 0 &&
            (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) {
                *ret = (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
                return 0;
        }
        _cleanup_free_ char *real = realpath(path, NULL);
        if (!real)
                return berr_sys(err, BERR_INTERNAL, "resolve %s", path);
        _cleanup_strv_free_ char **list = NULL;
        size_t n;
        int r = mountinfo_list_under(real, &list, &n, err);
        if (r < 0)
                return r;
        *ret = false;
        for (size_t i = 0; i < n; i++)
                if (strcmp(list[i], real) == 0)
                        *ret = true;
        return 0;
}

int ctr_rootfs_mount(struct daemon *d, struct container *c, struct berr *err) {
        _cleanup_free_ char *dir = ctr_data_dir(d, c->id);
        if (!dir)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        char rootfs[4200], rw[4200];
        if (fs_path_fmt(rootfs, sizeof(rootfs), "%s/rootfs", dir) < 0 || fs_path_fmt(rw, sizeof(rw), "%s/rw", dir) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s: path too long", dir);
        if (mkdir(rootfs, 0755) < 0 && errno != EEXIST)
                return berr_sys(err, BERR_INTERNAL, "create %s", rootfs);
        bool mounted = false;
        int r = is_mount_point(rootfs, &mounted, err);
        if (r < 0)
                return r;
        /* Already there (a copy holds it, or a crash left it): one overlay per rootfs. */
        /* A --rm container's layer goes with it: no sync of the disk at its unmount
         * (IMAGE_MOUNT_VOLATILE; 2–6 ms of each docker run --rm here). */
        unsigned flags = c->cc->hc.auto_remove ? IMAGE_MOUNT_VOLATILE : 0;
        if (!mounted && (r = image_store_mount_rootfs(d->images, c->image_id, rootfs, rw, flags, err)) < 0)
                return r;
        return 0;
}

int ctr_rootfs_unmount(struct daemon *d, const char *id, struct berr *err) {
        _cleanup_free_ char *dir = ctr_data_dir(d, id);
        if (!dir)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (int round = 0;; round++) {
                _cleanup_strv_free_ char **list = NULL;
                size_t n;
                int r = mounts_under(dir, &list, &n, err);
                if (r < 0)
                        return r;
                if (n == 0)
                        return 0;
                if (round == UNMOUNT_ROUNDS)
                        return berr_set(err, BERR_INTERNAL, EBUSY, "unmount %s: still mounted", list[0]);
                /* Deepest first; detached lazily, so an fd a copy still holds stays valid. */
                for (size_t i = 0; i < n; i++)
                        if (umount2(list[i], MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
                                return berr_sys(err, BERR_INTERNAL, "unmount %s", list[i]);
        }
}

/* The rootfs overlay is the only mount berthd makes under a container's directory (docker
 * cp reads volumes at their sources), and MNT_DETACH takes whatever is under it along: on
 * the exit path and a removal's first step, detach it while statx says it is a mount root,
 * without reading the mount table, which lists every running container (a read of it per
 * exit grew with their number). ctr_rootfs_unmount, which checks the table, stays what a
 * removal does before it deletes the directory. */
int ctr_rootfs_detach(struct daemon *d, const char *id, struct berr *err) {
        _cleanup_free_ char *dir = ctr_data_dir(d, id);
        char rootfs[4200];
        if (!dir || fs_path_fmt(rootfs, sizeof(rootfs), "%s/rootfs", dir) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s/rootfs: path too long (or out of memory)",
                                dir ? dir : "");
        for (int round = 0; round < UNMOUNT_ROUNDS; round++) {
                struct statx sx;
                if (statx(AT_FDCWD, rootfs, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) < 0)
                        return errno == ENOENT ? 0 : ctr_rootfs_unmount(d, id, err);
                if (!(sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
                        return ctr_rootfs_unmount(d, id, err); /* a kernel before 5.8 */
                if (!(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
                        return 0;
                if (umount2(rootfs, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
                        return berr_sys(err, BERR_INTERNAL, "unmount %s", rootfs);
        }
        return ctr_rootfs_unmount(d, id, err);
}

void ctr_rootfs_wait_detached(struct container *c) {
        while (c->rootfs_detaching)
                pthread_cond_wait(&c->cond, &c->lock);
}

void ctr_unmount_rootfs(struct daemon *d, struct container *c) {
        struct berr e = { 0 };
        if (ctr_rootfs_detach(d, c->id, &e) < 0)
                log_warn("container %.12s: %s", c->id, e.msg);
}

int ctr_dirs_remove(struct daemon *d, const char *id, bool durable, struct berr *err) {
        _cleanup_free_ char *data = fs_path_join(d->cfg.data_root, "containers");
        _cleanup_free_ char *run = fs_path_join(d->cfg.exec_root, "containers");
        if (!data || !run)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = ctr_rootfs_unmount(d, id, err);
        if (r < 0)
                return r;
        struct berr e = { 0 };
        trace_mark("berthd remove: container layer unmounted");
        bool runtime_deleting = ctr_runtime_delete_pending(d, id); /* the bundle's lock, before it goes */
        /* Renamed aside and deleted by a thread (container_trash.c): nothing is mounted
         * under them any more (verified just above). */
        if (ctr_trash(run, id, false, &e) < 0)
                log_warn("remove the bundle of %.12s: %s", id, e.msg);
        if (!runtime_deleting)
                ctr_runtime_state_remove(d, id);
        trace_mark("berthd remove: bundle removed");
        /* The record goes with its directory in one rename: a removal cut short leaves
         * either the whole container or a ".rm-<id>" that the next start-up deletes.
         * Not durable (a --rm container's): what a crash of the machine brings back,
         * the start-up removes again. */
        r = ctr_trash(data, id, durable, err);
        trace_mark("berthd remove: record unlinked");
        return r;
}
