/* check.c - `berthd --check [--repair]`: the data root verified offline. The image side
 * is image_store_check (image/image_check.c); here the containers (records parse, their
 * image and volumes exist, running ones have a shim), the mounts, bundles and network
 * namespaces that belong to no container, the volumes and networks records, and IPAM
 * (the addresses of running containers lie in their networks' subnets, once each).
 *
 * --repair does not remove anything of its own: it runs what berthd runs at start-up for
 * the same leftovers (ctr_dirs_remove for a container cut short, image_store_open for
 * layers, records and spool files nothing references), unmounts mounts of nothing and
 * removes bundles no shim serves, then checks again; what the second pass no longer finds
 * is reported as repaired. Volumes are never removed. */
#include "check.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/id.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mountinfo.h"
#include "common/tree.h"
#include "container.h"
#include "daemon.h"
#include "image/image_store.h"
#include "shim/msg.h"
#include "volume/volume.h"

enum finding_kind {
        FINDING_PROBLEM, /* inconsistent: nothing at start-up fixes it */
        FINDING_ORPHAN,  /* nothing references it: --repair (and mostly start-up) removes it */
        FINDING_STALE,   /* a crash's trace berthd finishes at start-up (a shim gone) */
        _FINDING_MAX,
};

static const char *const kind_names[_FINDING_MAX] = { "problem", "orphan", "stale" };

/* What a repair does about a finding, decided when it is found. */
enum fix {
        FIX_NONE,
        FIX_STORE_OPEN, /* image_store_open removes it */
        FIX_CTR_DIR,    /* ctr_dirs_remove */
        FIX_UNMOUNT,    /* a mount point of nothing: detach it */
        FIX_BUNDLE,     /* a bundle no shim serves, a removed container's directory: remove it */
        FIX_NETNS,      /* a netns bind mount of no running container: detach and unlink */
        FIX_VOLUME_STORE_OPEN, /* volume_store_open removes it (an empty volume directory with no record) */
        FIX_UNLINK,     /* the temporary file of an atomic write cut short: unlinked (at start-up too) */
};

struct finding {
        enum finding_kind kind;
        enum fix fix;
        char *path;
        char *msg;
        char *arg; /* what the fix works on: an ID or an absolute path */
        struct finding *next;
};

struct checker {
        struct daemon d; /* only cfg is set: the helpers that build paths take a daemon */
        const struct check_opts *o;
        struct finding *head, **tail;
        json_t *images;   /* good image IDs */
        json_t *networks; /* id -> [subnet...] */
        json_t *running;  /* container id -> true */
        struct image_check_stats ist;
        size_t containers, volumes, n_networks;
        bool for_startup;
};

static void add(struct checker *k, enum finding_kind kind, enum fix fix, const char *arg, const char *path,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void add(struct checker *k, enum finding_kind kind, enum fix fix, const char *arg, const char *path,
                const char *fmt, ...) {
        struct finding *f = calloc(1, sizeof(*f));
        if (!f)
                return;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&f->msg, fmt, ap) < 0)
                f->msg = NULL;
        va_end(ap);
        f->kind = kind;
        f->fix = fix;
        f->path = strdup(path);
        f->arg = arg ? strdup(arg) : NULL;
        *k->tail = f;
        k->tail = &f->next;
}

static void findings_free(struct finding *f) {
        while (f) {
                struct finding *next = f->next;
                free(f->path);
                free(f->msg);
                free(f->arg);
                free(f);
                f = next;
        }
}

static void on_image_finding(void *opaque, enum image_finding kind, const char *path, const char *msg) {
        struct checker *k = opaque;
        if (kind == IMAGE_FINDING_PROBLEM)
                add(k, FINDING_PROBLEM, FIX_NONE, NULL, path, "%s", msg);
        else
                add(k, FINDING_ORPHAN, FIX_STORE_OPEN, NULL, path, "%s", msg);
}

static bool is_dot(const char *n) {
        return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

static DIR *open_dir2(const char *a, const char *b) {
        _cleanup_free_ char *p = fs_path_join(a, b);
        return p ? opendir(p) : NULL;
}

/* ---- networks and IPAM ---- */

static void check_networks(struct checker *k) {
        const char *root = k->d.cfg.data_root;
        _cleanup_closedir_ DIR *d = open_dir2(root, "network");
        struct dirent *de;
        while (d && (de = readdir(d))) {
                size_t n = strlen(de->d_name);
                if (is_dot(de->d_name) || n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
                        continue;
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "network/%s", de->d_name);
                _cleanup_free_ char *text = NULL;
                size_t len;
                _cleanup_json_ json_t *rec = NULL;
                const char *id = NULL;
                if (fs_read_file(dirfd(d), de->d_name, 4u << 20, &text, &len, NULL) < 0 ||
                    json_parse_object(text, len, &rec, NULL) < 0 || json_get_string(rec, "Id", &id, NULL) < 0) {
                        add(k, FINDING_PROBLEM, FIX_NONE, NULL, path, "network record cannot be read");
                        continue;
                }
                json_t *subnets = json_array();
                size_t i;
                json_t *cfg;
                json_array_foreach(json_object_get(json_object_get(rec, "IPAM"), "Config"), i, cfg) {
                        const char *sub = json_string_value(json_object_get(cfg, "Subnet"));
                        if (sub)
                                json_array_append_new(subnets, json_string(sub));
                }
                json_object_set_new(k->networks, id, subnets);
                k->n_networks++;
        }
}

/* Whether @ip lies in @cidr (either family). */
static bool cidr_contains(const char *cidr, const char *ip) {
        char net[64];
        const char *slash = strchr(cidr, '/');
        if (!slash || (size_t) (slash - cidr) >= sizeof(net))
                return false;
        memcpy(net, cidr, (size_t) (slash - cidr));
        net[slash - cidr] = '\0';
        int prefix = atoi(slash + 1);
        unsigned char a[16], b[16];
        int fam = strchr(net, ':') ? AF_INET6 : AF_INET;
        int bytes = fam == AF_INET6 ? 16 : 4;
        if (inet_pton(fam, net, a) != 1 || inet_pton(fam, ip, b) != 1 || prefix < 0 || prefix > bytes * 8)
                return false;
        for (int bit = 0; bit < prefix; bit++) {
                unsigned char m = (unsigned char) (0x80 >> (bit % 8));
                if ((a[bit / 8] & m) != (b[bit / 8] & m))
                        return false;
        }
        return true;
}

/* One running container's endpoints against the network records; @seen maps
 * "network-id ip" to the container that holds it. */
static void check_endpoints(struct checker *k, struct container *c, const char *path, json_t *seen) {
        const char *name;
        json_t *ep;
        json_object_foreach(c->networks, name, ep) {
                const char *nid = json_string_value(json_object_get(ep, "NetworkID"));
                const char *ips[2] = { json_string_value(json_object_get(ep, "IPAddress")),
                                       json_string_value(json_object_get(ep, "GlobalIPv6Address")) };
                if (!nid || !nid[0])
                        continue;
                json_t *subnets = json_object_get(k->networks, nid);
                if (!subnets) {
                        add(k, FINDING_PROBLEM, FIX_NONE, NULL, path, "endpoint on network %s (%.12s), which does not exist",
                            name, nid);
                        continue;
                }
                for (int f = 0; f < 2; f++) {
                        if (!ips[f] || !ips[f][0])
                                continue;
                        bool inside = false;
                        size_t i;
                        json_t *s;
                        json_array_foreach(subnets, i, s) inside = inside || cidr_contains(json_string_value(s), ips[f]);
                        if (!inside)
                                add(k, FINDING_PROBLEM, FIX_NONE, NULL, path, "address %s is outside network %s's subnets",
                                    ips[f], name);
                        char key[256];
                        snprintf(key, sizeof(key), "%s %s", nid, ips[f]);
                        const char *other = json_string_value(json_object_get(seen, key));
                        if (other)
                                add(k, FINDING_PROBLEM, FIX_NONE, NULL, path,
                                    "address %s on network %s is also container %.12s's", ips[f], name, other);
                        else
                                json_object_set_new(seen, key, json_string(c->id));
                }
        }
}

/* ---- containers ---- */

static bool shim_answers(struct checker *k, const char *id) {
        _cleanup_free_ char *bundle = ctr_bundle_dir(&k->d, id);
        struct berr e = { 0 };
        int fd = bundle ? shim_connect(bundle, &e) : -1;
        if (fd < 0)
                return false;
        close(fd);
        return true;
}

static bool volume_present(struct checker *k, const char *name) {
        char p[PATH_MAX];
        struct stat st;
        return fs_path_fmt(p, sizeof(p), "%s/volumes/%s/volume.json", k->d.cfg.data_root, name) == 0 &&
               stat(p, &st) == 0;
}

static void check_container(struct checker *k, int dirfd, const char *id, json_t *seen) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "containers/%s", id);
        if (faccessat(dirfd, "config.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0 ||
            faccessat(dirfd, "hostconfig.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
                add(k, FINDING_ORPHAN, FIX_CTR_DIR, id, path, "container directory without a complete record (a create or "
                                                              "removal cut short)");
                return;
        }
        struct container *c = NULL;
        struct berr e = { 0 };
        if (ctr_record_load(&k->d, id, &c, &e) < 0) {
                add(k, FINDING_PROBLEM, FIX_NONE, NULL, path, "record cannot be read: %s", e.msg);
                return;
        }
        k->containers++;
        if (c->image_id[0] && !json_object_get(k->images, c->image_id))
                add(k, FINDING_PROBLEM, FIX_NONE, NULL, path, "its image %s is not stored", c->image_id);
        _cleanup_json_ json_t *mounts = ctr_mounts_list(&k->d, c);
        size_t i;
        json_t *m;
        json_array_foreach(mounts, i, m) {
                const char *vol = json_string_value(json_object_get(m, "Name"));
                if (vol && STREQ(json_string_value(json_object_get(m, "Type")) ?: "", "volume") &&
                    !volume_present(k, vol))
                        add(k, FINDING_PROBLEM, FIX_NONE, NULL, path, "its volume %s does not exist", vol);
        }
        bool up = c->state == CTR_RUNNING || c->state == CTR_PAUSED;
        if (up) {
                json_object_set_new(k->running, id, json_true());
                if (!shim_answers(k, id))
                        add(k, FINDING_STALE, FIX_NONE, NULL, path,
                            "recorded %s but its shim is gone (berthd records the exit at start-up)", ctr_state_name(c->state));
                else
                        check_endpoints(k, c, path, seen);
        }
        ctr_record_free(c);
}

/* A ".rm-<id>" (container_trash.c) that a crash left half deleted: the next start-up
 * deletes it. */
static void trash_leftover(struct checker *k, const char *root, const char *name) {
        if (strncmp(name, CTR_TRASH_PREFIX, strlen(CTR_TRASH_PREFIX)) != 0 || !id_is_full_hex(name + strlen(CTR_TRASH_PREFIX)))
                return;
        char abs[PATH_MAX], rel[PATH_MAX];
        snprintf(abs, sizeof(abs), "%s/containers/%s", root, name);
        snprintf(rel, sizeof(rel), "%s/containers/%s", root == k->d.cfg.data_root ? "" : root, name);
        add(k, FINDING_ORPHAN, FIX_BUNDLE, abs, root == k->d.cfg.data_root ? rel + 1 : abs,
            "directory of a removed container, its deletion cut short");
}

static void check_containers(struct checker *k) {
        _cleanup_json_ json_t *seen = json_object();
        _cleanup_closedir_ DIR *d = open_dir2(k->d.cfg.data_root, "containers");
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (!id_is_full_hex(de->d_name)) {
                        trash_leftover(k, k->d.cfg.data_root, de->d_name);
                        continue; /* not berth's: start-up leaves it alone too */
                }
                _cleanup_close_ int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd >= 0)
                        check_container(k, fd, de->d_name, seen);
        }
}

/* Mounts under DATA-ROOT/containers/<id>/ of a container that does not run. */
static void check_mounts(struct checker *k) {
        _cleanup_free_ char *prefix = fs_path_join(k->d.cfg.data_root, "containers");
        _cleanup_strv_free_ char **points = NULL;
        size_t n = 0;
        if (!prefix || mountinfo_list_under(prefix, &points, &n, NULL) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                const char *rest = points[i] + strlen(prefix);
                char id[65] = "";
                if (rest[0] == '/')
                        snprintf(id, sizeof(id), "%.64s", rest + 1);
                if (id_is_full_hex(id) && json_object_get(k->running, id))
                        continue;
                add(k, FINDING_ORPHAN, FIX_UNMOUNT, points[i], points[i] + strlen(k->d.cfg.data_root) + 1,
                    "mounted, but no running container uses it");
        }
}

/* Bundles (EXEC-ROOT/containers/<id>) and network namespaces (EXEC-ROOT/netns/<id>). */
static void check_exec_root(struct checker *k) {
        const char *exec = k->d.cfg.exec_root;
        _cleanup_closedir_ DIR *d = open_dir2(exec, "containers");
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (!id_is_full_hex(de->d_name)) {
                        trash_leftover(k, exec, de->d_name);
                        continue;
                }
                char data[PATH_MAX], path[PATH_MAX];
                struct stat st;
                snprintf(data, sizeof(data), "%s/containers/%s", k->d.cfg.data_root, de->d_name);
                if (lstat(data, &st) == 0)
                        continue; /* a record (or one that did not load) keeps its bundle */
                snprintf(path, sizeof(path), "%s/containers/%s", exec, de->d_name);
                if (shim_answers(k, de->d_name))
                        add(k, FINDING_PROBLEM, FIX_NONE, NULL, path, "a shim runs for a container with no record");
                else
                        add(k, FINDING_ORPHAN, FIX_BUNDLE, path, path, "bundle of a container with no record");
        }
        _cleanup_closedir_ DIR *nd = open_dir2(exec, "netns");
        while (nd && (de = readdir(nd))) {
                if (!id_is_full_hex(de->d_name) || json_object_get(k->running, de->d_name))
                        continue;
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/netns/%s", exec, de->d_name);
                add(k, FINDING_ORPHAN, FIX_NETNS, path, path, "network namespace of no running container");
        }
}

static void check_volumes(struct checker *k) {
        _cleanup_closedir_ DIR *d = open_dir2(k->d.cfg.data_root, "volumes");
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (is_dot(de->d_name) || de->d_name[0] == '.')
                        continue;
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "volumes/%s", de->d_name);
                if (volume_present(k, de->d_name))
                        k->volumes++;
                else if (volume_dir_is_leftover(dirfd(d), de->d_name))
                        add(k, FINDING_ORPHAN, FIX_VOLUME_STORE_OPEN, NULL, path,
                            "volume directory without a record and with no data (a create cut short)");
                else
                        add(k, FINDING_PROBLEM, FIX_NONE, NULL, path, "volume directory without its record (volume.json) "
                                                                      "holds data: left alone");
        }
}

/* ---- temporary files of atomic writes ---- */

/* fs_write_atomic writes ".tmp-NAME.PID" and renames it over NAME: one that kill -9 cut
 * short stays, and nothing else ever names it. */
static bool is_atomic_tmp(const char *name) {
        if (strncmp(name, ".tmp-", 5) != 0)
                return false;
        const char *dot = strrchr(name + 5, '.');
        if (!dot || !dot[1])
                return false;
        for (const char *p = dot + 1; *p; p++)
                if (*p < '0' || *p > '9')
                        return false;
        return true;
}

static void scan_tmp_in(struct checker *k, const char *rel) {
        char dir[PATH_MAX];
        if (fs_path_fmt(dir, sizeof(dir), "%s%s%s", k->d.cfg.data_root, rel[0] ? "/" : "", rel) < 0)
                return;
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
                struct stat st;
                if (!is_atomic_tmp(de->d_name) || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                char path[PATH_MAX], abs[PATH_MAX + 300];
                snprintf(path, sizeof(path), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
                snprintf(abs, sizeof(abs), "%s/%s", dir, de->d_name);
                add(k, FINDING_ORPHAN, FIX_UNLINK, abs, path, "temporary file of a write cut short");
        }
}

/* The directories whose records are written with fs_write_atomic, but the image store's
 * record directories (image_store_check reports their leftovers). */
static void check_atomic_tmp(struct checker *k) {
        static const char *const dirs[] = { "", "image", "network", "distribution/v2metadata-by-diffid/sha256" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                scan_tmp_in(k, dirs[i]);
        static const char *const per_entry[] = { "containers", "volumes", "plugins" };
        for (size_t i = 0; i < ELEMENTSOF(per_entry); i++) {
                _cleanup_closedir_ DIR *d = open_dir2(k->d.cfg.data_root, per_entry[i]);
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        char rel[PATH_MAX];
                        snprintf(rel, sizeof(rel), "%s/%s", per_entry[i], de->d_name);
                        scan_tmp_in(k, rel);
                }
        }
}

/* ---- the passes ---- */

static const char *detect_driver(const char *data_root) {
        char p[PATH_MAX];
        struct stat st;
        if (fs_path_fmt(p, sizeof(p), "%s/vfs/dir", data_root) == 0 && stat(p, &st) == 0 &&
            fs_path_fmt(p, sizeof(p), "%s/overlay2/l", data_root) == 0 && stat(p, &st) < 0)
                return "vfs";
        return "overlay2";
}

static int run_pass(struct checker *k, bool repair_blobs, struct berr *err) {
        k->head = NULL;
        k->tail = &k->head;
        k->containers = k->volumes = k->n_networks = 0;
        json_object_clear(k->images);
        json_object_clear(k->networks);
        json_object_clear(k->running);
        snprintf(k->d.storage_driver, sizeof(k->d.storage_driver), "%s", detect_driver(k->d.cfg.data_root));
        struct image_check_opts io = {
                .full = k->o->mode == CHECK_FULL,
                .repair = repair_blobs,
                .report = on_image_finding,
                .opaque = k,
        };
        int r = image_store_check(k->d.cfg.data_root, &io, k->images, &k->ist, err);
        if (r < 0)
                return r;
        check_volumes(k);
        check_atomic_tmp(k);
        if (k->for_startup)
                return 0; /* containers, mounts, bundles: ctr_store_open loads and sorts them out */
        check_networks(k);
        check_containers(k);
        check_mounts(k);
        check_exec_root(k);
        return 0;
}

static void repair(struct checker *k) {
        bool store_open = false, volume_open = false;
        for (struct finding *f = k->head; f; f = f->next) {
                struct berr e = { 0 };
                switch (f->fix) {
                case FIX_STORE_OPEN:
                        store_open = true;
                        break;
                case FIX_CTR_DIR:
                        if (ctr_dirs_remove(&k->d, f->arg, true, &e) < 0)
                                fprintf(k->o->out, "repair: %s: %s\n", f->path, e.msg);
                        break;
                case FIX_UNMOUNT:
                        if (umount2(f->arg, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                                fprintf(k->o->out, "repair: unmount %s: %s\n", f->arg, strerror(errno));
                        break;
                case FIX_NETNS:
                        (void) umount2(f->arg, MNT_DETACH); /* not mounted any more is fine */
                        if (unlink(f->arg) < 0 && errno != ENOENT)
                                fprintf(k->o->out, "repair: remove %s: %s\n", f->arg, strerror(errno));
                        break;
                case FIX_BUNDLE:
                        if (tree_remove_at(AT_FDCWD, f->arg, &e) < 0)
                                fprintf(k->o->out, "repair: %s\n", e.msg);
                        break;
                case FIX_VOLUME_STORE_OPEN:
                        volume_open = true;
                        break;
                case FIX_UNLINK:
                        if (unlink(f->arg) < 0 && errno != ENOENT)
                                fprintf(k->o->out, "repair: remove %s: %s\n", f->arg, strerror(errno));
                        break;
                case FIX_NONE:
                        break;
                }
        }
        ctr_trash_flush(120); /* what ctr_dirs_remove queued is deleted before we exit */
        if (volume_open) {
                struct volume_store *vs = NULL;
                struct berr e = { 0 };
                if (volume_store_open(k->d.cfg.data_root, &vs, &e) < 0)
                        fprintf(k->o->out, "repair: volume store: %s\n", e.msg);
                volume_store_free(vs);
        }
        if (!store_open)
                return;
        /* What berthd's start-up removes: spool files, half-written records, layers no
         * image uses, storage no layer owns. */
        struct image_store *s = NULL;
        struct berr e = { 0 };
        if (image_store_open(k->d.cfg.data_root, k->d.storage_driver, &s, &e) < 0)
                fprintf(k->o->out, "repair: image store: %s\n", e.msg);
        image_store_free(s);
}

static bool same(const struct finding *a, const struct finding *b) {
        return a->kind == b->kind && STREQ(a->path ?: "", b->path ?: "") && STREQ(a->msg ?: "", b->msg ?: "");
}

static bool listed(const struct finding *list, const struct finding *f) {
        for (; list; list = list->next)
                if (same(list, f))
                        return true;
        return false;
}

static void print_finding(FILE *out, const struct finding *f, const char *suffix) {
        fprintf(out, "%-8s %s: %s%s\n", kind_names[f->kind], f->path ?: "?", f->msg ?: "?", suffix);
}

/* The pid file is berthd's lock on its roots: held, a daemon runs on them. */
static int lock_roots(struct daemon_config *cfg, int *ret_fd, bool *ret_created, struct berr *err) {
        bool created = access(cfg->pidfile, F_OK) < 0;
        int fd = open(cfg->pidfile, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open pid file %s", cfg->pidfile);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                char buf[32] = "";
                ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
                buf[n > 0 ? n : 0] = '\0';
                buf[strcspn(buf, "\n")] = '\0';
                close(fd);
                return berr_set(err, BERR_CONFLICT, EBUSY,
                                "berthd (PID %s) is running on %s (pid file %s is locked): stop it before checking",
                                buf[0] ? buf : "?", cfg->data_root, cfg->pidfile);
        }
        *ret_fd = fd;
        *ret_created = created;
        return 0;
}

static size_t count(const struct finding *f, enum finding_kind kind) {
        size_t n = 0;
        for (; f; f = f->next)
                n += f->kind == kind;
        return n;
}

int daemon_check(struct daemon_config *cfg, const struct check_opts *o, struct berr *err) {
        struct stat st;
        if (stat(cfg->data_root, &st) < 0)
                return berr_sys(err, BERR_NOT_FOUND, "data root %s", cfg->data_root);
        int lock_fd = -1;
        bool created = false;
        int r = lock_roots(cfg, &lock_fd, &created, err);
        if (r < 0)
                return r;
        struct checker k = { .o = o };
        k.d.cfg = *cfg; /* borrowed strings: the copy is never freed */
        k.d.pidfile_fd = -1;
        pthread_mutex_init(&k.d.ctr_lock, NULL);
        k.images = json_object();
        k.networks = json_object();
        k.running = json_object();
        r = run_pass(&k, o->repair, err);
        struct finding *before = NULL;
        if (r == 0 && o->repair && k.head) {
                repair(&k);
                before = k.head;
                r = run_pass(&k, false, err);
        }
        if (r == 0) {
                FILE *out = o->out;
                for (struct finding *f = before; f; f = f->next)
                        print_finding(out, f, listed(k.head, f) ? "" : " (repaired)");
                for (struct finding *f = k.head; f; f = f->next)
                        if (!listed(before, f))
                                print_finding(out, f, "");
                fprintf(out, "checked %s (%s): %zu images, %zu layers, %zu blobs, %zu references, %zu containers, "
                             "%zu volumes, %zu networks\n",
                        cfg->data_root, o->mode == CHECK_FULL ? "full" : "quick", k.ist.images, k.ist.layers,
                        k.ist.blobs, k.ist.refs, k.containers, k.volumes, k.n_networks);
                size_t problems = count(k.head, FINDING_PROBLEM), orphans = count(k.head, FINDING_ORPHAN),
                       stale = count(k.head, FINDING_STALE), fixed = 0;
                for (struct finding *f = before; f; f = f->next)
                        fixed += !listed(k.head, f);
                if (!k.head)
                        fprintf(out, "result: clean%s\n", fixed ? "" : "");
                else
                        fprintf(out, "result: inconsistent: %zu problems, %zu orphans, %zu stale\n", problems, orphans,
                                stale);
                if (o->repair)
                        fprintf(out, "repaired: %zu\n", fixed);
                r = k.head ? 1 : 0;
        }
        findings_free(before);
        findings_free(k.head);
        json_decref(k.images);
        json_decref(k.networks);
        json_decref(k.running);
        pthread_mutex_destroy(&k.d.ctr_lock);
        if (created)
                (void) unlink(cfg->pidfile); /* ours: berthd makes its own */
        close(lock_fd);
        return r;
}

int daemon_check_startup(struct daemon_config *cfg) {
        struct check_opts o = { .mode = CHECK_QUICK };
        struct checker k = { .o = &o, .for_startup = true };
        k.d.cfg = *cfg;
        k.d.pidfile_fd = -1;
        pthread_mutex_init(&k.d.ctr_lock, NULL);
        k.images = json_object();
        k.networks = json_object();
        k.running = json_object();
        struct berr e = { 0 };
        int n = 0;
        if (run_pass(&k, false, &e) < 0)
                log_warn("store check: %s", e.msg);
        for (struct finding *f = k.head; f; f = f->next, n++) {
                if (f->fix == FIX_UNLINK) {
                        /* No writer runs yet: nothing else would ever remove it. */
                        if (unlink(f->arg) < 0 && errno != ENOENT)
                                log_warn("store check: remove %s: %s", f->path, strerror(errno));
                        else
                                log_info("store check: %s: %s: removed", f->path, f->msg);
                } else if (f->kind == FINDING_PROBLEM)
                        log_warn("store check: %s: %s", f->path, f->msg);
                else if (f->fix == FIX_STORE_OPEN || f->fix == FIX_CTR_DIR || f->fix == FIX_VOLUME_STORE_OPEN)
                        log_info("store check: %s: %s: removing it", f->path, f->msg);
                else
                        log_info("store check: %s: %s", f->path, f->msg);
        }
        findings_free(k.head);
        json_decref(k.images);
        json_decref(k.networks);
        json_decref(k.running);
        pthread_mutex_destroy(&k.d.ctr_lock);
        return n;
}

int daemon_check_args(int *argc, char **argv, struct check_opts *ret, struct berr *err) {
        bool check = false, repair = false;
        enum check_mode mode = CHECK_FULL;
        int out = 1;
        for (int i = 1; i < *argc; i++) {
                const char *a = argv[i];
                if (STREQ(a, "--")) {
                        for (; i < *argc; i++)
                                argv[out++] = argv[i];
                        break;
                }
                if (STREQ(a, "--check") || STREQ(a, "--check=full")) {
                        check = true;
                        mode = CHECK_FULL;
                } else if (STREQ(a, "--check=quick")) {
                        check = true;
                        mode = CHECK_QUICK;
                } else if (strncmp(a, "--check=", 8) == 0) {
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid value \"%s\" for flag --check: quick or full",
                                        a + 8);
                } else if (STREQ(a, "--repair")) {
                        repair = true;
                } else {
                        argv[out++] = argv[i];
                }
        }
        argv[out] = NULL;
        *argc = out;
        if (repair && !check)
                return berr_set(err, BERR_INVALID, EINVAL, "--repair is only valid with --check");
        ret->mode = mode;
        ret->repair = repair;
        ret->out = stdout;
        return check ? 1 : 0;
}
