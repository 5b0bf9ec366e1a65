/* volume.c - the local volume store (volume.h). */
#include "volume.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/id.h"
#include "common/json.h"
#include "common/tree.h"

#define RECORD "volume.json"
#define RECORD_MAX (1u << 20)

struct volume_store {
        char *root; /* DATA-ROOT/volumes */
        int root_fd;
        pthread_mutex_t lock; /* create/remove of one name at a time */
        bool has_owner;       /* --userns-remap: _data belongs to the remapped root */
        uid_t owner_uid;
        gid_t owner_gid;
};

void volume_store_set_owner(struct volume_store *vs, uid_t uid, gid_t gid) {
        vs->has_owner = true;
        vs->owner_uid = uid;
        vs->owner_gid = gid;
}

bool volume_name_valid(const char *name) {
        size_t n = strlen(name);
        if (n < 2 || n > 255)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
                        return false;
        }
        return true;
}

bool volume_dir_is_leftover(int root_fd, const char *name) {
        char path[512];
        struct stat st;
        if (name[0] == '.' || !volume_name_valid(name) || fs_path_fmt(path, sizeof(path), "%s/" RECORD, name) < 0 ||
            fstatat(root_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
                return false;
        if (fs_path_fmt(path, sizeof(path), "%s/_data", name) < 0)
                return false;
        int fd = openat(root_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return false;
        }
        bool empty = true;
        struct dirent *de;
        while (empty && (de = readdir(d)))
                empty = de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2]));
        closedir(d);
        return empty;
}

int volume_store_open(const char *data_root, struct volume_store **ret, struct berr *err) {
        struct volume_store *vs = calloc(1, sizeof(*vs));
        if (!vs)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        vs->root_fd = -1;
        pthread_mutex_init(&vs->lock, NULL);
        vs->root = fs_path_join(data_root, "volumes");
        int r = vs->root ? fs_mkdir_p(vs->root, 0701, err) : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (r == 0) {
                vs->root_fd = open(vs->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (vs->root_fd < 0)
                        r = berr_sys(err, BERR_INTERNAL, "open %s", vs->root);
        }
        if (r < 0) {
                volume_store_free(vs);
                return r;
        }
        (void) fs_spread_subdirs(vs->root_fd); /* volumes come and go like layers */
        /* Sweep what removals left behind when they were cut short. */
        int dfd = openat(vs->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d && dfd >= 0)
                close(dfd);
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (strncmp(de->d_name, ".rm-", 4) == 0 || volume_dir_is_leftover(vs->root_fd, de->d_name)) {
                        struct berr e2 = { 0 };
                        (void) tree_remove_at(vs->root_fd, de->d_name, &e2);
                }
        if (d)
                closedir(d);
        *ret = vs;
        return 0;
}

void volume_store_free(struct volume_store *vs) {
        if (!vs)
                return;
        if (vs->root_fd >= 0)
                close(vs->root_fd);
        pthread_mutex_destroy(&vs->lock);
        free(vs->root);
        free(vs);
}

static int read_record(struct volume_store *vs, const char *name, json_t **ret, struct berr *err) {
        char path[512];
        if (fs_path_fmt(path, sizeof(path), "%s/" RECORD, name) < 0)
                return berr_set(err, BERR_INVALID, ENAMETOOLONG, "volume name too long: %s", name);
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = fs_read_file(vs->root_fd, path, RECORD_MAX, &text, &len, err);
        if (r < 0)
                return err->errnum == ENOENT ? berr_set(err, BERR_NOT_FOUND, ENOENT, "get %s: no such volume", name) : r;
        return json_parse_object(text, len, ret, err);
}

static json_t *volume_json(struct volume_store *vs, const char *name, json_t *rec) {
        char mp[4096];
        (void) fs_path_fmt(mp, sizeof(mp), "%s/%s/_data", vs->root, name); /* shown only: "" if too long */
        json_t *labels = json_object_get(rec, "Labels"), *opts = json_object_get(rec, "Options");
        return json_pack("{s:O, s:s, s:O, s:s, s:s, s:O, s:s}", "CreatedAt", json_object_get(rec, "CreatedAt"), "Driver",
                         "local", "Labels", json_is_object(labels) ? labels : json_null(), "Mountpoint", mp, "Name", name,
                         "Options", json_object_size(opts) ? opts : json_null(), "Scope", "local");
}

/* The local driver's options, as dockerd's validateOpts: type, device and o (size needs
 * quota support, which berth has not); each of type and device needs the other, o both. */
static int check_driver_opts(json_t *opts, struct berr *err) {
        static const char *const valid[] = { "type", "device", "o", "size" };
        const char *key;
        json_t *v;
        json_object_foreach(opts, key, v) {
                bool ok = false;
                for (size_t i = 0; i < ELEMENTSOF(valid); i++)
                        ok |= strcmp(key, valid[i]) == 0;
                if (!ok)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid option: \"%s\"", key);
                if (!json_is_string(v) || strlen(json_string_value(v)) > 4096)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid option: \"%s\"", key);
        }
        if (json_object_get(opts, "size"))
                return berr_set(err, BERR_INVALID, EINVAL, "quota size requested but no quota support");
        static const struct {
                const char *opt, *needs[2];
        } mandatory[] = { { "device", { "type", NULL } }, { "type", { "device", NULL } }, { "o", { "device", "type" } } };
        for (size_t i = 0; i < ELEMENTSOF(mandatory); i++) {
                if (!json_object_get(opts, mandatory[i].opt))
                        continue;
                for (size_t j = 0; j < 2 && mandatory[i].needs[j]; j++)
                        if (!json_object_get(opts, mandatory[i].needs[j]))
                                return berr_set(err, BERR_INVALID, EINVAL, "missing required option: \"%s\"",
                                                mandatory[i].needs[j]);
        }
        return 0;
}

static void now_rfc3339(char out[40]) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int volume_create(struct volume_store *vs, const char *name, const char *driver, json_t *labels, json_t *driver_opts,
                  bool anonymous, json_t **ret, struct berr *err) {
        if (driver && driver[0] && strcmp(driver, "local") != 0)
                return berr_set(err, BERR_NOT_FOUND, ENOENT,
                                "error looking up volume plugin %s: plugin \"%s\" not found", driver, driver);
        if (driver_opts && !json_is_null(driver_opts) && !json_is_object(driver_opts))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid type for field DriverOpts");
        int r0 = json_object_size(driver_opts) ? check_driver_opts(driver_opts, err) : 0;
        if (r0 < 0)
                return r0;
        if (labels && !json_is_null(labels) && !json_is_object(labels))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid type for field Labels");
        char gen[ID_HEX_LEN + 1];
        if (!name || !name[0]) {
                int r = id_random_hex(gen, err);
                if (r < 0)
                        return r;
                name = gen;
                anonymous = true;
        }
        if (!volume_name_valid(name))
                return berr_set(err, BERR_INVALID, EINVAL,
                                "create %s: \"%s\" includes invalid characters for a local volume name, only "
                                "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, "
                                "use absolute path",
                                name, name);
        pthread_mutex_lock(&vs->lock);
        json_t *rec = NULL;
        struct berr e2 = { 0 };
        int r = read_record(vs, name, &rec, &e2);
        if (r < 0 && e2.kind != BERR_NOT_FOUND) { /* unreadable is not missing: touch nothing */
                pthread_mutex_unlock(&vs->lock);
                *err = e2;
                return r;
        }
        if (r == 0) { /* exists: dockerd hands back the existing volume */
                pthread_mutex_unlock(&vs->lock);
                if (ret)
                        *ret = volume_json(vs, name, rec);
                json_decref(rec);
                return 0;
        }
        char created[40];
        now_rfc3339(created);
        json_t *lab = json_is_object(labels) ? json_deep_copy(labels) : json_object();
        if (anonymous)
                json_object_set_new(lab, VOLUME_LABEL_ANONYMOUS, json_string(""));
        rec = json_pack("{s:s, s:s, s:o, s:b}", "Name", name, "CreatedAt", created, "Labels", lab, "Anonymous", anonymous);
        if (rec && json_object_size(driver_opts))
                json_object_set_new(rec, "Options", json_deep_copy(driver_opts));
        char data[512];
        bool made = false;
        r = 0;
        if (fs_path_fmt(data, sizeof(data), "%s/_data", name) < 0)
                r = berr_set(err, BERR_INVALID, ENAMETOOLONG, "volume name too long: %s", name);
        else if (mkdirat(vs->root_fd, name, 0701) == 0)
                made = true;
        else if (errno == EEXIST) {
                /* A directory without a record is a leftover (a crash mid-create): start clean. */
                r = tree_remove_at(vs->root_fd, name, err);
                if (r == 0 && mkdirat(vs->root_fd, name, 0701) < 0)
                        r = berr_sys(err, BERR_INTERNAL, "create volume %s", name);
                made = r == 0;
        } else
                r = berr_sys(err, BERR_INTERNAL, "create volume %s", name);
        if (r < 0)
                ;
        else if (mkdirat(vs->root_fd, data, 0755) < 0)
                r = berr_sys(err, BERR_INTERNAL, "create volume %s", name);
        else if (vs->has_owner && fchownat(vs->root_fd, data, vs->owner_uid, vs->owner_gid, AT_SYMLINK_NOFOLLOW) < 0)
                r = berr_sys(err, BERR_INTERNAL, "create volume %s: chown to the remapped root", name);
        else {
                _cleanup_free_ char *text = json_dumps(rec, JSON_COMPACT);
                char path[512];
                if (fs_path_fmt(path, sizeof(path), "%s/" RECORD, name) < 0)
                        r = berr_set(err, BERR_INVALID, ENAMETOOLONG, "volume name too long: %s", name);
                else
                        r = text ? fs_write_atomic(vs->root_fd, path, text, strlen(text), 0600, err)
                                 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        if (r < 0 && made) {
                struct berr e3;
                (void) tree_remove_at(vs->root_fd, name, &e3);
        } else if (r == 0 && ret)
                *ret = volume_json(vs, name, rec);
        json_decref(rec);
        pthread_mutex_unlock(&vs->lock);
        return r;
}

int volume_inspect(struct volume_store *vs, const char *name, json_t **ret, struct berr *err) {
        if (!volume_name_valid(name))
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "get %s: no such volume", name);
        _cleanup_json_ json_t *rec = NULL;
        int r = read_record(vs, name, &rec, err);
        if (r < 0)
                return r;
        *ret = volume_json(vs, name, rec);
        return 0;
}

bool volume_exists(struct volume_store *vs, const char *name) {
        json_t *v = NULL;
        struct berr e = { 0 };
        if (volume_inspect(vs, name, &v, &e) < 0)
                return false;
        json_decref(v);
        return true;
}

int volume_list(struct volume_store *vs, json_t **ret, struct berr *err) {
        int fd = openat(vs->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", vs->root);
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return berr_sys(err, BERR_INTERNAL, "open %s", vs->root);
        }
        json_t *out = json_array();
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!volume_name_valid(de->d_name))
                        continue;
                json_t *v = NULL;
                struct berr e = { 0 };
                if (volume_inspect(vs, de->d_name, &v, &e) == 0)
                        json_array_append_new(out, v);
        }
        closedir(d);
        /* name order, for stable output */
        size_t n = json_array_size(out);
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0; j--) {
                        json_t *a = json_array_get(out, j - 1), *b = json_array_get(out, j);
                        if (strcmp(json_string_value(json_object_get(a, "Name")), json_string_value(json_object_get(b, "Name"))) <= 0)
                                break;
                        json_incref(a);
                        json_array_set(out, j - 1, b);
                        json_array_set_new(out, j, a);
                }
        *ret = out;
        return 0;
}

int volume_mountpoint(struct volume_store *vs, const char *name, char *out, size_t size, struct berr *err) {
        if (!volume_name_valid(name))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid volume name %s", name);
        if (fs_path_fmt(out, size, "%s/%s/_data", vs->root, name) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s/%s/_data: path too long", vs->root, name);
        return 0;
}

/* Whether @path is the root of a mount (statx's STATX_ATTR_MOUNT_ROOT). */
static bool is_mount_root(int dirfd, const char *path) {
        struct statx stx;
        if (statx(dirfd, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
                return false;
        return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* moby's mount.parseOptions: the flags mount(2) takes, the rest its data. */
static const struct {
        const char *name;
        bool clear;
        unsigned long flag;
} mount_flags[] = {
        { "defaults", false, 0 },      { "ro", false, MS_RDONLY },       { "rw", true, MS_RDONLY },
        { "suid", true, MS_NOSUID },   { "nosuid", false, MS_NOSUID },   { "dev", true, MS_NODEV },
        { "nodev", false, MS_NODEV },  { "exec", true, MS_NOEXEC },      { "noexec", false, MS_NOEXEC },
        { "sync", false, MS_SYNCHRONOUS }, { "async", true, MS_SYNCHRONOUS }, { "dirsync", false, MS_DIRSYNC },
        { "mand", false, MS_MANDLOCK }, { "nomand", true, MS_MANDLOCK }, { "atime", true, MS_NOATIME },
        { "noatime", false, MS_NOATIME }, { "diratime", true, MS_NODIRATIME }, { "nodiratime", false, MS_NODIRATIME },
        { "bind", false, MS_BIND },    { "rbind", false, MS_BIND | MS_REC }, { "relatime", false, MS_RELATIME },
        { "norelatime", true, MS_RELATIME }, { "strictatime", false, MS_STRICTATIME },
        { "nostrictatime", true, MS_STRICTATIME },
};
static const struct {
        const char *name;
        unsigned long flag;
} propagation_flags[] = {
        { "private", MS_PRIVATE },   { "rprivate", MS_PRIVATE | MS_REC }, { "shared", MS_SHARED },
        { "rshared", MS_SHARED | MS_REC }, { "slave", MS_SLAVE }, { "rslave", MS_SLAVE | MS_REC },
        { "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
};

static void parse_mount_options(const char *o, unsigned long *ret_flags, unsigned long *ret_prop, char *data,
                                size_t size) {
        unsigned long flags = 0, prop = 0;
        size_t n = 0;
        data[0] = '\0';
        _cleanup_free_ char *copy = strdup(o);
        for (char *save = NULL, *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
                bool done = false;
                for (size_t i = 0; i < ELEMENTSOF(mount_flags) && !done; i++)
                        if (strcmp(t, mount_flags[i].name) == 0) {
                                flags = mount_flags[i].clear ? flags & ~mount_flags[i].flag : flags | mount_flags[i].flag;
                                done = true;
                        }
                for (size_t i = 0; i < ELEMENTSOF(propagation_flags) && !done; i++)
                        if (strcmp(t, propagation_flags[i].name) == 0) {
                                prop = propagation_flags[i].flag;
                                done = true;
                        }
                if (!done)
                        n += (size_t) snprintf(data + n, n < size ? size - n : 0, "%s%s", n ? "," : "", t);
        }
        if (n >= size)
                data[size - 1] = '\0';
        *ret_flags = flags;
        *ret_prop = prop;
}

int volume_mount(struct volume_store *vs, const char *name, struct berr *err) {
        if (!volume_name_valid(name))
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "get %s: no such volume", name);
        pthread_mutex_lock(&vs->lock);
        _cleanup_json_ json_t *rec = NULL;
        int r = read_record(vs, name, &rec, err);
        json_t *opts = json_object_get(rec, "Options");
        char data_rel[512], path[4096];
        if (r < 0 || !json_object_size(opts) || fs_path_fmt(data_rel, sizeof(data_rel), "%s/_data", name) < 0 ||
            fs_path_fmt(path, sizeof(path), "%s/%s/_data", vs->root, name) < 0 || is_mount_root(vs->root_fd, data_rel)) {
                pthread_mutex_unlock(&vs->lock);
                return r;
        }
        const char *type = json_string_value(json_object_get(opts, "type")) ?: "";
        const char *device = json_string_value(json_object_get(opts, "device")) ?: "";
        const char *o = json_string_value(json_object_get(opts, "o")) ?: "";
        unsigned long flags, prop;
        char data[4200];
        parse_mount_options(o, &flags, &prop, data, sizeof(data));
        if (!*device)
                r = berr_set(err, BERR_INVALID, EINVAL, "missing device in volume options");
        else if (mount(device, path, type, flags, data) < 0 || (prop && mount(NULL, path, NULL, prop, NULL) < 0)) {
                char buf[128];
                int e = errno;
                /* moby's mount error, the password of a cifs mount hidden */
                char shown[4200];
                snprintf(shown, sizeof(shown), "%s", data);
                char *pw = strstr(shown, "password=");
                if (pw) {
                        char *end = strchr(pw, ',');
                        snprintf(pw + 9, sizeof(shown) - (size_t) (pw + 9 - shown), "********%s", end ? end : "");
                }
                r = berr_set(err, BERR_INTERNAL, e, "failed to mount local volume: mount %s:%s, flags: %#lx, data: %s: %s",
                             device, path, flags, shown, strerror_r(e, buf, sizeof(buf)));
        }
        pthread_mutex_unlock(&vs->lock);
        return r;
}

bool volume_has_options(struct volume_store *vs, const char *name) {
        _cleanup_json_ json_t *rec = NULL;
        struct berr e = { 0 };
        return volume_name_valid(name) && read_record(vs, name, &rec, &e) == 0 &&
               json_object_size(json_object_get(rec, "Options")) > 0;
}

/* Caller holds vs->lock. */
static int unmount_data(struct volume_store *vs, const char *name, struct berr *err) {
        char data_rel[512], path[4096];
        if (fs_path_fmt(data_rel, sizeof(data_rel), "%s/_data", name) < 0 ||
            fs_path_fmt(path, sizeof(path), "%s/%s/_data", vs->root, name) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "volume name too long: %s", name);
        for (int i = 0; i < 16 && is_mount_root(vs->root_fd, data_rel); i++)
                if (umount2(path, UMOUNT_NOFOLLOW) < 0)
                        return berr_sys(err, BERR_CONFLICT, "unmount volume %s", name);
        return 0;
}

int volume_unmount(struct volume_store *vs, const char *name, struct berr *err) {
        if (!volume_name_valid(name))
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "get %s: no such volume", name);
        pthread_mutex_lock(&vs->lock);
        int r = unmount_data(vs, name, err);
        pthread_mutex_unlock(&vs->lock);
        return r;
}

int volume_remove(struct volume_store *vs, const char *name, struct berr *err) {
        if (!volume_name_valid(name))
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "get %s: no such volume", name);
        pthread_mutex_lock(&vs->lock);
        json_t *rec = NULL;
        int r = read_record(vs, name, &rec, err);
        json_decref(rec);
        if (r == 0) /* a volume with options may still be mounted (no container used it since a crash) */
                r = unmount_data(vs, name, err);
        if (r == 0) {
                /* Out of the name space first (".rm-..." is no valid name), then deleted: a
                 * crash part-way leaves no half volume under its name; the leftover is
                 * swept at the next start. */
                char gone[128], rnd[ID_HEX_LEN + 1];
                r = id_random_hex(rnd, err);
                snprintf(gone, sizeof(gone), ".rm-%.16s", rnd);
                if (r == 0 && renameat(vs->root_fd, name, vs->root_fd, gone) < 0)
                        r = berr_sys(err, BERR_INTERNAL, "remove volume %s", name);
                if (r == 0) {
                        struct berr e2 = { 0 };
                        if (tree_remove_at(vs->root_fd, gone, &e2) < 0)
                                fprintf(stderr, "berthd: volume %s: removing its data: %s (left in %s)\n", name, e2.msg, gone);
                }
        }
        pthread_mutex_unlock(&vs->lock);
        return r;
}

static unsigned long long du(int dir_fd, int depth) {
        if (depth > TREE_MAX_DEPTH)
                return 0;
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return 0;
        }
        unsigned long long sum = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0) {
                                sum += du(sub, depth + 1);
                                close(sub);
                        }
                } else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
                        sum += (unsigned long long) st.st_size;
        }
        closedir(d);
        return sum;
}

unsigned long long volume_size(struct volume_store *vs, const char *name) {
        char data[512];
        int fd = volume_name_valid(name) && fs_path_fmt(data, sizeof(data), "%s/_data", name) == 0
                         ? openat(vs->root_fd, data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                         : -1;
        if (fd < 0)
                return 0;
        unsigned long long n = du(fd, 0);
        close(fd);
        return n;
}
