/* spec_mounts.c - spec.mounts as dockerd's WithMounts builds it: Docker's default mounts,
 * then the container's own mounts (daemon-prepared binds and volumes, /etc/resolv.conf,
 * /etc/hostname, /etc/hosts, a shared /dev/shm, --tmpfs) sorted by depth, with the defaults
 * they cover left out, /dev/shm sized by --shm-size, and the --read-only / --privileged
 * adjustments. */
#include "runtime/spec_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"

#define USER_MOUNTS_MAX 4096
#define PATH_MAX_CLEAN 4096

struct default_mount {
        const char *destination, *type, *source;
        const char *options[8];
};

/* oci.DefaultLinuxSpec().Mounts */
static const struct default_mount default_mounts[] = {
        { "/proc", "proc", "proc", { "nosuid", "noexec", "nodev" } },
        { "/dev", "tmpfs", "tmpfs", { "nosuid", "strictatime", "mode=755", "size=65536k" } },
        { "/dev/pts", "devpts", "devpts", { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" } },
        { "/sys", "sysfs", "sysfs", { "nosuid", "noexec", "nodev", "ro" } },
        { "/sys/fs/cgroup", "cgroup", "cgroup", { "ro", "nosuid", "noexec", "nodev" } },
        { "/dev/mqueue", "mqueue", "mqueue", { "nosuid", "noexec", "nodev" } },
        { "/dev/shm", "tmpfs", "shm", { "nosuid", "noexec", "nodev", "mode=1777" } },
};

/* moby/sys/mount's flag table, reduced to what MergeTmpfsOptions needs: options that set or
 * clear the same flag share a key; all propagation and bind options share one key. */
enum { K_PROPAGATION = 1, K_RDONLY, K_NOSUID, K_NODEV, K_NOEXEC, K_SYNC, K_DIRSYNC, K_REMOUNT, K_MAND, K_NOATIME,
       K_NODIRATIME, K_RELATIME, K_STRICTATIME };

static const struct {
        const char *name;
        int key;
} tmpfs_flags[] = {
        { "ro", K_RDONLY },           { "rw", K_RDONLY },           { "suid", K_NOSUID },
        { "nosuid", K_NOSUID },       { "dev", K_NODEV },           { "nodev", K_NODEV },
        { "exec", K_NOEXEC },         { "noexec", K_NOEXEC },       { "sync", K_SYNC },
        { "async", K_SYNC },          { "dirsync", K_DIRSYNC },     { "remount", K_REMOUNT },
        { "mand", K_MAND },           { "nomand", K_MAND },         { "atime", K_NOATIME },
        { "noatime", K_NOATIME },     { "diratime", K_NODIRATIME }, { "nodiratime", K_NODIRATIME },
        { "bind", K_PROPAGATION },    { "rbind", K_PROPAGATION },   { "unbindable", K_PROPAGATION },
        { "runbindable", K_PROPAGATION }, { "private", K_PROPAGATION }, { "rprivate", K_PROPAGATION },
        { "shared", K_PROPAGATION },  { "rshared", K_PROPAGATION }, { "slave", K_PROPAGATION },
        { "rslave", K_PROPAGATION },  { "relatime", K_RELATIME },   { "norelatime", K_RELATIME },
        { "strictatime", K_STRICTATIME }, { "nostrictatime", K_STRICTATIME },
};

static const char *const tmpfs_data_keys[] = { "", "size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol" };

#define TMPFS_OPTIONS_MAX 64

static int flag_key(const char *opt) {
        for (size_t i = 0; i < ELEMENTSOF(tmpfs_flags); i++)
                if (STREQ(tmpfs_flags[i].name, opt))
                        return tmpfs_flags[i].key;
        return 0;
}

static bool valid_data_key(const char *opt, size_t key_len) {
        for (size_t i = 0; i < ELEMENTSOF(tmpfs_data_keys); i++)
                if (strlen(tmpfs_data_keys[i]) == key_len && strncmp(tmpfs_data_keys[i], opt, key_len) == 0)
                        return true;
        return false;
}

int spec_tmpfs_options(const char *data, json_t **ret_options, struct berr *err) {
        const char *opts[TMPFS_OPTIONS_MAX] = { "noexec", "nosuid", "nodev", "rprivate" };
        size_t n = 4;
        _cleanup_free_ char *copy = strdup(data ? data : "");
        if (!copy)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (*copy) { /* Go: strings.Split(data, ",") keeps empty fields */
                for (char *p = copy;;) {
                        if (n == TMPFS_OPTIONS_MAX)
                                return berr_set(err, BERR_INVALID, E2BIG, "too many tmpfs options");
                        opts[n++] = p;
                        char *c = strchr(p, ',');
                        if (!c)
                                break;
                        *c = '\0';
                        p = c + 1;
                }
        }
        /* Walk backwards so the last of conflicting options wins, then keep the original order. */
        bool keep[TMPFS_OPTIONS_MAX] = { false };
        for (size_t i = n; i-- > 0;) {
                const char *o = opts[i];
                if (STREQ(o, "defaults"))
                        continue;
                int key = flag_key(o);
                bool dup = false;
                if (key) {
                        for (size_t j = i + 1; j < n; j++)
                                if (keep[j] && flag_key(opts[j]) == key)
                                        dup = true;
                } else {
                        const char *eq = strchr(o, '=');
                        if (!eq || !valid_data_key(o, (size_t) (eq - o))) {
                                if (eq)
                                        return berr_set(err, BERR_INVALID, EINVAL, "invalid tmpfs option [\"%.*s\" \"%s\"]",
                                                        (int) (eq - o), o, eq + 1);
                                return berr_set(err, BERR_INVALID, EINVAL, "invalid tmpfs option [\"%s\"]", o);
                        }
                        size_t klen = (size_t) (eq - o);
                        for (size_t j = i + 1; j < n; j++)
                                if (keep[j] && !flag_key(opts[j]) && strncmp(opts[j], o, klen + 1) == 0)
                                        dup = true;
                }
                keep[i] = !dup;
        }
        _cleanup_json_ json_t *arr = json_array();
        if (!arr)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
                if (keep[i] && json_array_append_new(arr, json_string(opts[i])) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        *ret_options = TAKE_PTR(arr);
        return 0;
}

/* filepath.Clean for absolute paths, into @buf. */
static void clean_path(const char *in, char *buf, size_t size) {
        size_t len = 0;
        buf[len++] = '/';
        const char *p = in;
        while (*p) {
                while (*p == '/')
                        p++;
                const char *e = p;
                while (*e && *e != '/')
                        e++;
                size_t n = (size_t) (e - p);
                if (n == 0 || (n == 1 && p[0] == '.')) {
                        /* nothing */
                } else if (n == 2 && p[0] == '.' && p[1] == '.') {
                        while (len > 1 && buf[len - 1] != '/')
                                len--;
                        if (len > 1)
                                len--;
                } else if (len + n + 1 < size) {
                        if (len > 1)
                                buf[len++] = '/';
                        memcpy(buf + len, p, n);
                        len += n;
                }
                p = e;
        }
        buf[len] = '\0';
}

static size_t path_depth(const char *clean) {
        size_t d = 1;
        if (STREQ(clean, "/"))
                return d;
        for (const char *p = clean; *p; p++)
                if (*p == '/')
                        d++;
        return d;
}

static const char *dest_of(json_t *m) {
        const char *d = json_string_value(json_object_get(m, "destination"));
        return d ? d : "";
}

static json_t *strv_array(const char *const *v, size_t max) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < max && v[i]; i++)
                if (json_array_append_new(a, json_string(v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *bind_mount(const char *dest, const char *source, bool writable) {
        const char *ro[] = { "rbind", "ro", "rprivate", NULL }, *rw[] = { "rbind", "rprivate", NULL };
        return json_pack("{s:s,s:s,s:s,s:o}", "destination", dest, "type", "bind", "source", source, "options",
                         strv_array(writable ? rw : ro, 3));
}

static bool has_dest(json_t *mounts, const char *dest) {
        char a[PATH_MAX_CLEAN], b[PATH_MAX_CLEAN];
        clean_path(dest, a, sizeof(a));
        size_t i;
        json_t *m;
        json_array_foreach(mounts, i, m) {
                clean_path(dest_of(m), b, sizeof(b));
                if (STREQ(a, b))
                        return true;
        }
        return false;
}

static int validate_tmpfs_destination(const char *dest, struct berr *err) {
        if (dest[0] != '/')
                return berr_set(err, BERR_INVALID, EINVAL, "invalid mount path: '%s' mount path must be absolute", dest);
        char c[PATH_MAX_CLEAN];
        clean_path(dest, c, sizeof(c));
        if (STREQ(c, "/"))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid specification: destination can't be '/'");
        return 0;
}

/* The container's own mounts, in the order dockerd collects them before sorting. */
static int collect_user_mounts(const struct spec_input *in, const struct spec_modes *m, json_t *ms, struct berr *err) {
        if (in->mounts) {
                if (!json_is_array(in->mounts))
                        return berr_set(err, BERR_INTERNAL, EINVAL, "prepared mounts: expected an array");
                size_t i;
                json_t *mt;
                json_array_foreach(in->mounts, i, mt) {
                        if (!json_is_object(mt) || !json_is_string(json_object_get(mt, "destination")))
                                return berr_set(err, BERR_INTERNAL, EINVAL,
                                                "prepared mounts[%zu]: expected an object with a destination", i);
                        if (has_dest(ms, dest_of(mt)))
                                return berr_set(err, BERR_INVALID, EINVAL, "Duplicate mount point: %s", dest_of(mt));
                        if (json_array_append(ms, mt) < 0)
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                }
        }
        /* container.NetworkMounts: skipped where the user mounted something over them */
        const struct {
                const char *dest, *path;
        } net[] = { { "/etc/resolv.conf", in->resolv_conf_path },
                    { "/etc/hostname", in->hostname_path },
                    { "/etc/hosts", in->hosts_path } };
        for (size_t i = 0; i < ELEMENTSOF(net); i++) {
                if (!net[i].path || has_dest(ms, net[i].dest))
                        continue;
                if (json_array_append_new(ms, bind_mount(net[i].dest, net[i].path, !m->readonly_rootfs)) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        /* container.IpcMounts: a shareable or host /dev/shm */
        const char *shm = in->shm_path ? in->shm_path : m->ipc_host ? "/dev/shm" : NULL;
        if (shm && !m->ipc_none && !has_dest(ms, "/dev/shm") &&
            json_array_append_new(ms, bind_mount("/dev/shm", shm, true)) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");

        const struct strmap *tmpfs = &in->cc->hc.tmpfs;
        int r;
        {
                for (size_t ti = 0; ti < tmpfs->n; ti++) {
                        const char *dest = tmpfs->keys[ti], *data = tmpfs->vals[ti];
                        r = validate_tmpfs_destination(dest, err);
                        if (r < 0)
                                return r;
                        if (has_dest(ms, dest))
                                return berr_set(err, BERR_INVALID, EINVAL, "Duplicate mount point: %s", dest);
                        json_t *opts = NULL;
                        r = spec_tmpfs_options(data, &opts, err);
                        if (r < 0)
                                return r;
                        if (json_array_append_new(ms, json_pack("{s:s,s:s,s:s,s:o}", "destination", dest, "type",
                                                                "tmpfs", "source", "tmpfs", "options", opts)) < 0)
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                }
        }
        if (json_array_size(ms) > USER_MOUNTS_MAX)
                return berr_set(err, BERR_INVALID, E2BIG, "too many mounts (at most %d)", USER_MOUNTS_MAX);
        return 0;
}

/* Stable sort by path depth (dockerd's sort.Sort(mounts) is an insertion sort for the
 * handful of mounts a container has, so equal depths keep their order). */
static void sort_by_depth(json_t *ms) {
        size_t n = json_array_size(ms);
        for (size_t i = 1; i < n; i++) {
                for (size_t j = i; j > 0; j--) {
                        char a[PATH_MAX_CLEAN], b[PATH_MAX_CLEAN];
                        clean_path(dest_of(json_array_get(ms, j - 1)), a, sizeof(a));
                        clean_path(dest_of(json_array_get(ms, j)), b, sizeof(b));
                        if (path_depth(b) >= path_depth(a))
                                break;
                        json_t *x = json_incref(json_array_get(ms, j - 1));
                        json_array_set(ms, j - 1, json_array_get(ms, j));
                        json_array_set_new(ms, j, x);
                }
        }
}

static void remove_option(json_t *mount, const char *opt) {
        json_t *opts = json_object_get(mount, "options");
        for (size_t i = json_array_size(opts); i-- > 0;)
                if (STREQ(json_string_value(json_array_get(opts, i)) ?: "", opt))
                        json_array_remove(opts, i);
}

static bool has_option(json_t *mount, const char *opt) {
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(mount, "options"), i, o)
                if (STREQ(json_string_value(o) ?: "", opt))
                        return true;
        return false;
}

int spec_mounts_build(const struct spec_input *in, const struct spec_modes *m, json_t *init_mount,
                      json_t **ret_mounts, struct berr *err) {
        _cleanup_json_ json_t *ms = json_array(), *out = json_array();
        if (!ms || !out)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = collect_user_mounts(in, m, ms, err);
        if (r < 0)
                return r;
        sort_by_depth(ms);

        bool user_dev = has_dest(ms, "/dev");
        for (size_t i = 0; i <= ELEMENTSOF(default_mounts); i++) {
                json_t *d;
                if (i < ELEMENTSOF(default_mounts)) {
                        const struct default_mount *dm = &default_mounts[i];
                        if (has_dest(ms, dm->destination))
                                continue;
                        if (user_dev && strncmp(dm->destination, "/dev/", 5) == 0)
                                continue;
                        bool is_shm = STREQ(dm->destination, "/dev/shm");
                        if (is_shm && m->ipc_none)
                                continue;
                        d = json_pack("{s:s,s:s,s:s,s:o}", "destination", dm->destination, "type", dm->type, "source",
                                      dm->source, "options", strv_array(dm->options, ELEMENTSOF(dm->options)));
                        if (d && is_shm) {
                                char size[64];
                                snprintf(size, sizeof(size), "size=%" PRId64, m->shm_size_bytes);
                                json_array_append_new(json_object_get(d, "options"), json_string(size));
                        }
                } else if (init_mount && !has_dest(ms, dest_of(init_mount))) {
                        d = json_incref(init_mount);
                } else {
                        continue;
                }
                if (!d)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                /* --read-only: the defaults that may be read-only become so */
                const char *dest = dest_of(d);
                if (m->readonly_rootfs && !STREQ(dest, "/proc") && !STREQ(dest, "/dev/pts") &&
                    !STREQ(dest, "/dev/shm") && !STREQ(dest, "/dev/mqueue") && !STREQ(dest, "/dev") &&
                    !has_option(d, "ro"))
                        json_array_append_new(json_object_get(d, "options"), json_string("ro"));
                /* --privileged: /sys and the cgroup mount are writable */
                if (m->privileged && (STREQ(dest, "/sys") || STREQ(json_string_value(json_object_get(d, "type")) ?: "", "cgroup")))
                        remove_option(d, "ro");
                if (json_array_append_new(out, d) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        if (json_array_extend(out, ms) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        *ret_mounts = TAKE_PTR(out);
        return 0;
}
