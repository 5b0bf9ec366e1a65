/* graphdriver.c - overlay2 and vfs layer storage, laid out as Docker's drivers do:
 *   overlay2/<cache-id>/{diff/, link, lower, work/}   overlay2/l/<short> -> ../<cache-id>/diff
 *   vfs/dir/<cache-id>/
 * Mounting uses the new mount API with one "lowerdir+" per layer when the kernel has it
 * (6.8+), so depth is not bounded by the one-page mount-option limit; older kernels get
 * the classic option string built from the short link names. */
#include "graphdriver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/tree.h"

#define SHORT_ID_LEN 26 /* Docker's overlay2 idLength */
#define LINK_DIR "l"

struct graph_driver {
        enum graph_driver_kind kind;
        char *home;
        int home_fd;
        int idmap_userns_fd; /* --userns-remap: writable mounts see the layers through it; -1: none */
        uid_t idmap_root_uid;
        gid_t idmap_root_gid;
};

static const char *const driver_names[_GRAPH_DRIVER_MAX] = {
        [GRAPH_DRIVER_OVERLAY2] = "overlay2",
        [GRAPH_DRIVER_VFS] = "vfs",
};

const char *graph_driver_name(const struct graph_driver *d) {
        return driver_names[d->kind];
}

enum layer_whiteouts graph_driver_whiteouts(const struct graph_driver *d) {
        return d->kind == GRAPH_DRIVER_OVERLAY2 ? LAYER_WHITEOUTS_OVERLAY : LAYER_WHITEOUTS_DELETE;
}

struct graph_driver *graph_driver_free(struct graph_driver *d) {
        if (!d)
                return NULL;
        if (d->home_fd >= 0)
                close(d->home_fd);
        free(d->home);
        free(d);
        return NULL;
}

static int overlay_mount_opts(const char *target, const char *opts, struct berr *err) {
        if (strlen(opts) >= (size_t) sysconf(_SC_PAGESIZE))
                return berr_set(err, BERR_INTERNAL, E2BIG, "mount %s: too many layers for the mount options", target);
        if (mount("overlay", target, "overlay", 0, opts) < 0)
                return berr_sys(err, BERR_INTERNAL, "mount overlay on %s", target);
        return 0;
}

/* Can overlayfs (with an upper dir on this filesystem) be mounted under @home? */
static bool overlay_works(const char *home) {
        char probe[PATH_MAX];
        if (fs_path_fmt(probe, sizeof(probe), "%s/.probe-XXXXXX", home) < 0 || !mkdtemp(probe))
                return false;
        static const char *const subdirs[] = { "lower", "upper", "work", "merged" };
        char p[4][PATH_MAX + 16];
        bool ok = true;
        for (size_t i = 0; i < 4; i++) {
                if (fs_path_fmt(p[i], sizeof(p[i]), "%s/%s", probe, subdirs[i]) < 0 || mkdir(p[i], 0700) < 0)
                        ok = false;
        }
        if (ok) {
                char opts[4 * PATH_MAX + 64];
                snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s%s", p[0], p[1], p[2],
                         fs_in_user_namespace() ? ",userxattr" : "");
                ok = mount("overlay", p[3], "overlay", 0, opts) == 0;
                if (ok)
                        (void) umount2(p[3], MNT_DETACH); /* nothing was written through it */
        }
        if (tree_remove_at(AT_FDCWD, probe, NULL) < 0)
                log_debug("graphdriver: could not remove probe %s", probe);
        return ok;
}

int graph_driver_open(const char *data_root, const char *name, struct graph_driver **ret, struct berr *err) {
        enum graph_driver_kind kind = _GRAPH_DRIVER_INVALID;
        if (name) {
                for (int i = 0; i < _GRAPH_DRIVER_MAX; i++)
                        if (STREQ(name, driver_names[i]))
                                kind = i;
                if (kind == _GRAPH_DRIVER_INVALID)
                        return berr_set(err, BERR_INVALID, EINVAL, "graphdriver %s is not supported (overlay2, vfs)",
                                        name);
        }
        _cleanup_free_ char *ovl = fs_path_join(data_root, "overlay2");
        if (!ovl)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (kind == _GRAPH_DRIVER_INVALID || kind == GRAPH_DRIVER_OVERLAY2) {
                int r = fs_mkdir_p(ovl, 0710, err);
                if (r < 0)
                        return r;
                bool works = overlay_works(ovl);
                if (kind == GRAPH_DRIVER_OVERLAY2 && !works)
                        return berr_set(err, BERR_UNAVAILABLE, EINVAL,
                                        "overlay2: overlay cannot be mounted on %s (try the vfs storage driver)",
                                        data_root);
                kind = works ? GRAPH_DRIVER_OVERLAY2 : GRAPH_DRIVER_VFS;
        }
        struct graph_driver *d = calloc(1, sizeof(*d));
        if (!d)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        d->home_fd = -1;
        d->idmap_userns_fd = -1;
        d->kind = kind;
        d->home = kind == GRAPH_DRIVER_OVERLAY2 ? fs_path_join(data_root, "overlay2")
                                                : fs_path_join(data_root, "vfs/dir");
        int r = d->home ? fs_mkdir_p(d->home, 0710, err) : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (r == 0 && kind == GRAPH_DRIVER_OVERLAY2) {
                _cleanup_free_ char *l = fs_path_join(d->home, LINK_DIR);
                r = l ? fs_mkdir_p(l, 0700, err) : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        if (r == 0) {
                d->home_fd = open(d->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (d->home_fd < 0)
                        r = berr_sys(err, BERR_INTERNAL, "open %s", d->home);
                else if (!fs_spread_subdirs(d->home_fd))
                        log_debug("%s: layers share the parent's inode group (no FS_TOPDIR_FL here)", d->home);
        }
        if (r < 0) {
                graph_driver_free(d);
                return r;
        }
        *ret = d;
        return 0;
}

static int short_id(char out[SHORT_ID_LEN + 1], struct berr *err) {
        static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        unsigned char raw[SHORT_ID_LEN];
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw))
                return berr_sys(err, BERR_INTERNAL, "getrandom");
        for (size_t i = 0; i < SHORT_ID_LEN; i++)
                out[i] = b32[raw[i] & 31];
        out[SHORT_ID_LEN] = '\0';
        return 0;
}

static int read_link_name(struct graph_driver *d, const char *cache_id, char out[SHORT_ID_LEN + 1],
                          struct berr *err) {
        char path[PATH_MAX];
        if (fs_path_fmt(path, sizeof(path), "%s/link", cache_id) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "layer %s: path too long", cache_id);
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r = fs_read_file(d->home_fd, path, 64, &data, &len, err);
        if (r < 0)
                return r;
        if (len != SHORT_ID_LEN)
                return berr_set(err, BERR_INTERNAL, EINVAL, "overlay2 layer %s: bad link file", cache_id);
        memcpy(out, data, SHORT_ID_LEN + 1);
        return 0;
}

static int open_diff(struct graph_driver *d, const char *cache_id, struct berr *err) {
        char path[PATH_MAX];
        /* "" if too long: the open fails */
        (void) fs_path_fmt(path, sizeof(path), "%s%s", cache_id, d->kind == GRAPH_DRIVER_OVERLAY2 ? "/diff" : "");
        int fd = openat(d->home_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open layer %s", cache_id);
        return fd;
}

static int overlay_create(struct graph_driver *d, const char *id, const char *const *lowers, size_t n,
                          struct berr *err) {
        char path[PATH_MAX], lnk[SHORT_ID_LEN + 1], target[PATH_MAX];
        if (mkdirat(d->home_fd, id, 0710) < 0)
                return berr_sys(err, BERR_INTERNAL, "create layer %s", id);
        if (fs_path_fmt(path, sizeof(path), "%s/diff", id) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "layer %s: path too long", id);
        if (mkdirat(d->home_fd, path, 0755) < 0)
                return berr_sys(err, BERR_INTERNAL, "create layer %s", path);
        int r = short_id(lnk, err);
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), LINK_DIR "/%s", lnk);
        snprintf(target, sizeof(target), "../%s/diff", id);
        if (symlinkat(target, d->home_fd, path) < 0)
                return berr_sys(err, BERR_INTERNAL, "create %s", path);
        if (fs_path_fmt(path, sizeof(path), "%s/link", id) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "layer %s: path too long", id);
        r = fs_write_atomic(d->home_fd, path, lnk, SHORT_ID_LEN, 0644, err);
        if (r < 0 || n == 0)
                return r;

        /* "lower": the parents' short links, nearest first, as Docker writes it. */
        _cleanup_free_ char *lower = calloc(n, SHORT_ID_LEN + 3);
        if (!lower)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                r = read_link_name(d, lowers[i], lnk, err);
                if (r < 0)
                        return r;
                strcat(lower, i ? ":" LINK_DIR "/" : LINK_DIR "/");
                strcat(lower, lnk);
        }
        if (fs_path_fmt(path, sizeof(path), "%s/lower", id) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "layer %s: path too long", id);
        r = fs_write_atomic(d->home_fd, path, lower, strlen(lower), 0644, err);
        if (r < 0)
                return r;
        if (fs_path_fmt(path, sizeof(path), "%s/work", id) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "layer %s: path too long", id);
        if (mkdirat(d->home_fd, path, 0700) < 0)
                return berr_sys(err, BERR_INTERNAL, "create layer %s", path);
        return 0;
}

static void close_fds(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        free(fds);
}

int graph_driver_create(struct graph_driver *d, const char *cache_id, const char *const *lowers, size_t n_lowers,
                        int *ret_apply_fd, int **ret_lower_fds, size_t *ret_n_lower_fds, struct berr *err) {
        int r;
        *ret_lower_fds = NULL;
        *ret_n_lower_fds = 0;
        if (d->kind == GRAPH_DRIVER_OVERLAY2) {
                r = overlay_create(d, cache_id, lowers, n_lowers, err);
        } else {
                r = mkdirat(d->home_fd, cache_id, 0755) < 0 ? berr_sys(err, BERR_INTERNAL, "create layer %s", cache_id)
                                                           : 0;
                if (r == 0 && n_lowers > 0) {
                        _cleanup_close_ int src = open_diff(d, lowers[0], err);
                        _cleanup_close_ int dst = src < 0 ? -1 : open_diff(d, cache_id, err);
                        r = src < 0 ? src : dst < 0 ? dst : tree_copy_contents(src, dst, err);
                }
        }
        if (r < 0) {
                struct berr ignored;
                (void) graph_driver_remove(d, cache_id, &ignored); /* the first error is the one to report */
                return r;
        }
        _cleanup_close_ int apply_fd = open_diff(d, cache_id, err);
        if (apply_fd < 0)
                return apply_fd;
        if (d->kind == GRAPH_DRIVER_OVERLAY2 && n_lowers > 0) {
                int *fds = calloc(n_lowers, sizeof(int));
                if (!fds)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                for (size_t i = 0; i < n_lowers; i++) {
                        fds[i] = open_diff(d, lowers[i], err);
                        if (fds[i] < 0) {
                                r = fds[i];
                                close_fds(fds, i);
                                return r;
                        }
                }
                *ret_lower_fds = fds;
                *ret_n_lower_fds = n_lowers;
        }
        *ret_apply_fd = TAKE_FD(apply_fd);
        return 0;
}

int graph_driver_remove(struct graph_driver *d, const char *cache_id, struct berr *err) {
        if (d->kind == GRAPH_DRIVER_OVERLAY2) {
                char lnk[SHORT_ID_LEN + 1], path[PATH_MAX];
                struct berr ignored;
                if (read_link_name(d, cache_id, lnk, &ignored) == 0) {
                        snprintf(path, sizeof(path), LINK_DIR "/%s", lnk);
                        if (unlinkat(d->home_fd, path, 0) < 0 && errno != ENOENT)
                                return berr_sys(err, BERR_INTERNAL, "remove %s", path);
                }
        }
        return tree_remove_at(d->home_fd, cache_id, err);
}

int graph_driver_open_layer(struct graph_driver *d, const char *cache_id, struct berr *err) {
        return open_diff(d, cache_id, err);
}

bool graph_driver_exists(struct graph_driver *d, const char *cache_id) {
        struct stat st;
        return fstatat(d->home_fd, cache_id, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static bool is_known(const char *name, const char *const *known, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (STREQ(name, known[i]))
                        return true;
        return false;
}

int graph_driver_gc(struct graph_driver *d, const char *const *known, size_t n_known, struct berr *err) {
        int fd = dup(d->home_fd);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "dup");
        _cleanup_closedir_ DIR *dir = fdopendir(fd);
        if (!dir) {
                close(fd);
                return berr_sys(err, BERR_INTERNAL, "opendir %s", d->home);
        }
        struct dirent *de;
        while ((errno = 0, de = readdir(dir))) {
                if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
                        continue;
                if (STREQ(de->d_name, LINK_DIR) || is_known(de->d_name, known, n_known))
                        continue;
                log_debug("graphdriver: removing orphaned layer storage %s/%s", d->home, de->d_name);
                int r = graph_driver_remove(d, de->d_name, err);
                if (r < 0)
                        return r;
        }
        if (d->kind != GRAPH_DRIVER_OVERLAY2)
                return 0;
        /* Dangling short links: their layer is gone. */
        _cleanup_close_ int lfd = openat(d->home_fd, LINK_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (lfd < 0)
                return 0;
        int lfd2 = dup(lfd);
        _cleanup_closedir_ DIR *ld = lfd2 < 0 ? NULL : fdopendir(lfd2);
        if (!ld) {
                if (lfd2 >= 0)
                        close(lfd2);
                return berr_sys(err, BERR_INTERNAL, "opendir %s/l", d->home);
        }
        while ((de = readdir(ld))) {
                struct stat st;
                if (de->d_name[0] == '.')
                        continue;
                if (fstatat(lfd, de->d_name, &st, 0) < 0 && errno == ENOENT)
                        (void) unlinkat(lfd, de->d_name, 0); /* best effort; retried next start */
        }
        return 0;
}

static int bind_mount(const char *src, const char *target, bool ro, struct berr *err) {
        if (mount(src, target, NULL, MS_BIND, NULL) < 0)
                return berr_sys(err, BERR_INTERNAL, "bind mount %s on %s", src, target);
        if (ro && mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) {
                int r = berr_sys(err, BERR_INTERNAL, "remount %s read-only", target);
                (void) umount2(target, MNT_DETACH);
                return r;
        }
        return 0;
}

int graph_driver_set_idmap(struct graph_driver *d, int userns_fd, uid_t root_uid, gid_t root_gid, struct berr *err) {
        if (d->kind != GRAPH_DRIVER_OVERLAY2)
                return berr_set(err, BERR_INVALID, ENOTSUP, "--userns-remap needs the overlay2 storage driver: with %s every "
                                "container would need a chowned copy of its image", driver_names[d->kind]);
        d->idmap_userns_fd = userns_fd;
        d->idmap_root_uid = root_uid;
        d->idmap_root_gid = root_gid;
        return 0;
}

/* A detached mount of @path that shows its files through the idmapping of @userns_fd:
 * what is 0 on disk is the remapped root (Linux 5.12; overlayfs layers from 5.19, given
 * as fds to "lowerdir+" from 6.13). */
static int idmapped_layer(const char *path, int userns_fd, struct berr *err) {
        _cleanup_close_ int tree = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return berr_sys(err, BERR_INTERNAL, "open layer %s", path);
        struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t) userns_fd };
        if (mount_setattr(tree, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
                return berr_sys(err, BERR_INTERNAL, "idmapped mount of layer %s (--userns-remap needs a kernel and a "
                                "filesystem with idmapped mounts)", path);
        return TAKE_FD(tree);
}

static int overlay_create_and_move(int fs, const char *target, const char *upper, const char *work, bool volatile_,
                                   struct berr *err);

/* Returns 1, with nothing mounted, when the kernel lacks fsopen or "lowerdir+". */
static int overlay_mount_fsconfig(struct graph_driver *d, const char *const *chain, size_t n, const char *target,
                                  const char *upper, const char *work, bool volatile_, struct berr *err) {
        _cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fs < 0)
                return d->idmap_userns_fd >= 0 && upper ? berr_sys(err, BERR_INTERNAL, "--userns-remap: fsopen overlay") : 1;
        /* --userns-remap: the layers of a container's root are seen through the mapping,
         * so its root owns them without a chown; its own layer (upper) is in host ids. */
        bool idmapped = d->idmap_userns_fd >= 0 && upper;
        /* The detached idmapped mounts must live until the overlay is created: closing the
         * last fd of one dissolves it, and overlayfs clones them only at CMD_CREATE. */
        _cleanup_free_ int *trees = idmapped ? malloc(n * sizeof(int)) : NULL;
        size_t n_trees = 0;
        if (idmapped && !trees)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = 0;
        for (size_t i = 0; r == 0 && i < n; i++) {
                char path[PATH_MAX];
                if (fs_path_fmt(path, sizeof(path), "%s/%s/diff", d->home, chain[i]) < 0) {
                        r = berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "layer %s: path too long", chain[i]);
                        break;
                }
                if (idmapped) {
                        int tree = idmapped_layer(path, d->idmap_userns_fd, err);
                        if (tree < 0) {
                                r = tree;
                                break;
                        }
                        trees[n_trees++] = tree;
                        if (fsconfig(fs, FSCONFIG_SET_FD, "lowerdir+", NULL, tree) < 0)
                                r = berr_sys(err, BERR_INTERNAL, "mount %s: idmapped layer %s", target, chain[i]);
                        continue;
                }
                if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", path, 0) < 0)
                        return 1; /* kernel without lowerdir+: the caller falls back */
        }
        if (r == 0 && idmapped && chown(upper, d->idmap_root_uid, d->idmap_root_gid) < 0) /* the container's / */
                r = berr_sys(err, BERR_INTERNAL, "chown %s to the remapped root", upper);
        if (r == 0)
                r = overlay_create_and_move(fs, target, upper, work, volatile_, err);
        for (size_t i = 0; i < n_trees; i++)
                (void) close(trees[i]);
        return r;
}

static int overlay_create_and_move(int fs, const char *target, const char *upper, const char *work, bool volatile_,
                                   struct berr *err) {
        if (fs_in_user_namespace() && fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
                return berr_sys(err, BERR_INTERNAL, "mount %s: userxattr", target);
        if (upper && (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
                      fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0))
                return berr_sys(err, BERR_INTERNAL, "mount %s: upper dir %s", target, upper);
        if (upper && volatile_ && fsconfig(fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0) < 0)
                return berr_sys(err, BERR_INTERNAL, "mount %s: volatile", target);
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return berr_sys(err, BERR_INTERNAL, "mount overlay on %s", target);
        _cleanup_close_ int mnt = fsmount(fs, FSMOUNT_CLOEXEC, upper ? 0 : MOUNT_ATTR_RDONLY);
        if (mnt < 0)
                return berr_sys(err, BERR_INTERNAL, "mount overlay on %s", target);
        if (move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return berr_sys(err, BERR_INTERNAL, "mount overlay on %s", target);
        return 0;
}

static int overlay_mount_legacy(struct graph_driver *d, const char *const *chain, size_t n, const char *target,
                                const char *upper, const char *work, bool volatile_, struct berr *err) {
        size_t cap = n * (strlen(d->home) + SHORT_ID_LEN + 8) + 2 * PATH_MAX + 64;
        _cleanup_free_ char *opts = malloc(cap);
        if (!opts)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t len = (size_t) snprintf(opts, cap, "lowerdir=");
        for (size_t i = 0; i < n; i++) {
                char lnk[SHORT_ID_LEN + 1];
                int r = read_link_name(d, chain[i], lnk, err);
                if (r < 0)
                        return r;
                len += (size_t) snprintf(opts + len, cap - len, "%s%s/" LINK_DIR "/%s", i ? ":" : "", d->home, lnk);
        }
        if (upper)
                len += (size_t) snprintf(opts + len, cap - len, ",upperdir=%s,workdir=%s%s", upper, work,
                                         volatile_ ? ",volatile" : "");
        if (fs_in_user_namespace()) /* rootless: overlay's attributes are user.overlay.* */
                snprintf(opts + len, cap - len, ",userxattr");
        return overlay_mount_opts(target, opts, err);
}

/* The machine's boot time (/proc/stat btime), 0 when unknown. */
static time_t boot_time(void) {
        static time_t bt = -1;
        time_t v = __atomic_load_n(&bt, __ATOMIC_RELAXED);
        if (v >= 0)
                return v;
        v = 0;
        FILE *f = fopen("/proc/stat", "re");
        char line[256];
        long long x;
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "btime %lld", &x) == 1) {
                        v = (time_t) x;
                        break;
                }
        if (f)
                fclose(f);
        __atomic_store_n(&bt, v, __ATOMIC_RELAXED);
        return v;
}

int graph_driver_mount(struct graph_driver *d, const char *const *chain, size_t n, const char *target,
                       const char *rw_dir, unsigned flags, struct berr *err) {
        if (n == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "mount %s: image has no layers", target);
        char top[PATH_MAX];
        if (fs_path_fmt(top, sizeof(top), "%s/%s%s", d->home, chain[0], d->kind == GRAPH_DRIVER_OVERLAY2 ? "/diff" : "") < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "layer %s: path too long", chain[0]);
        if (!rw_dir && (d->kind == GRAPH_DRIVER_VFS || n == 1))
                return bind_mount(top, target, true, err); /* overlay needs two lowers without an upper */

        _cleanup_free_ char *upper = rw_dir ? fs_path_join(rw_dir, "diff") : NULL;
        _cleanup_free_ char *work = rw_dir ? fs_path_join(rw_dir, "work") : NULL;
        if (rw_dir) {
                if (!upper || !work)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                int r = fs_mkdir_p(upper, 0755, err);
                if (r == 0 && d->kind == GRAPH_DRIVER_OVERLAY2)
                        r = fs_mkdir_p(work, 0700, err);
                if (r < 0)
                        return r;
        }
        if (d->kind == GRAPH_DRIVER_VFS) {
                _cleanup_close_ int src = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                _cleanup_close_ int dst = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (src < 0 || dst < 0)
                        return berr_sys(err, BERR_INTERNAL, "open %s", src < 0 ? top : upper);
                struct stat st;
                if (fstatat(dst, ".", &st, 0) == 0 && st.st_nlink <= 2) { /* fresh: copy the image in once */
                        int r = tree_copy_contents(src, dst, err);
                        if (r < 0)
                                return r;
                }
                return bind_mount(upper, target, false, err);
        }
        static bool no_volatile; /* the kernel has no "volatile" (before 5.10) */
        bool volatile_ = (flags & GRAPH_MOUNT_VOLATILE) && upper && !__atomic_load_n(&no_volatile, __ATOMIC_RELAXED);
        if (upper) {
                /* A volatile mount leaves work/incompat/volatile/dirty, and overlayfs refuses the
                 * next mount while it is there (its upper may have lost writes in a crash).
                 * Volatile layers are --rm containers', which a crash of the machine
                 * removes at start-up: one mounted again since this boot (a copy before its
                 * start) lost nothing. A mark from before this boot stays, and the mount
                 * is refused with a clear message (the removal at start-up failed). */
                char mark[PATH_MAX];
                struct stat st;
                if (fs_path_fmt(mark, sizeof(mark), "%s/work/incompat/volatile/dirty", work) == 0 &&
                    lstat(mark, &st) == 0) {
                        if (st.st_mtime < boot_time())
                                return berr_set(err, BERR_INTERNAL, EUCLEAN,
                                                "mount %s: its writable layer was mounted without syncs (a --rm "
                                                "container's) when the machine went down and may have lost writes: "
                                                "remove the container", target);
                        if (unlink(mark) == 0)
                                (void) rmdir(dirname(mark));
                }
        }
        int r = overlay_mount_fsconfig(d, chain, n, target, upper, work, volatile_, err);
        if (r == 1)
                r = overlay_mount_legacy(d, chain, n, target, upper, work, volatile_, err);
        if (r < 0 && volatile_ && err && err->errnum == EINVAL) {
                /* A kernel before 5.10 knows no "volatile": mounted as any other, and
                 * not asked again. */
                struct berr e2 = { 0 };
                r = overlay_mount_fsconfig(d, chain, n, target, upper, work, false, &e2);
                if (r == 1)
                        r = overlay_mount_legacy(d, chain, n, target, upper, work, false, &e2);
                if (r == 0) {
                        __atomic_store_n(&no_volatile, true, __ATOMIC_RELAXED);
                        log_info("graphdriver: overlayfs has no \"volatile\" mounts here: --rm containers' layers are synced");
                } else if (err)
                        *err = e2;
        }
        return r;
}

json_t *graph_driver_metadata(struct graph_driver *d, const char *const *chain, size_t n) {
        if (d->kind != GRAPH_DRIVER_OVERLAY2 || n == 0)
                return NULL;
        json_t *o = json_object();
        char path[PATH_MAX];
        if (n > 1) {
                size_t cap = n * (strlen(d->home) + 80);
                char *lower = calloc(1, cap);
                if (lower) {
                        size_t len = 0;
                        for (size_t i = 1; i < n; i++)
                                len += (size_t) snprintf(lower + len, cap - len, "%s%s/%s/diff", i > 1 ? ":" : "",
                                                         d->home, chain[i]);
                        json_object_set_new(o, "LowerDir", json_string(lower));
                        free(lower);
                }
        }
        (void) fs_path_fmt(path, sizeof(path), "%s/%s/merged", d->home, chain[0]); /* shown only: "" if too long */
        json_object_set_new(o, "MergedDir", json_string(path));
        (void) fs_path_fmt(path, sizeof(path), "%s/%s/diff", d->home, chain[0]);
        json_object_set_new(o, "UpperDir", json_string(path));
        (void) fs_path_fmt(path, sizeof(path), "%s/%s/work", d->home, chain[0]);
        json_object_set_new(o, "WorkDir", json_string(path));
        return o;
}
