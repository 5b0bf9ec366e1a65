/* container_mounts.c - a container's mounts as dockerd parses and reports them: bind
 * mounts (-v /host:/ctr[:opts], --mount type=bind), named volumes (-v name:/ctr,
 * --mount type=volume,src=name) and anonymous ones (-v /ctr, --mount type=volume without
 * a source, the image's VOLUME paths). An anonymous volume's name is derived from the
 * container's ID and the path, so nothing more needs recording. Volumes are created with
 * the container; at start an empty volume gets a copy of what the image has at its path.
 * --volumes-from copies another container's bind and volume mounts at create (kept in the
 * record, so they outlive that container). A volume of a volume plugin (--volume-driver,
 * --mount volume-driver=, or an existing plugin volume by name) is created through the
 * plugin and mounted per container mount (volume/vplugin.c); other --mount types are
 * refused with a clear error. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <dirent.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "container.h"
#include "daemon.h"
#include "common/tree.h"
#include "runtime/spec.h"
#include "volume/volume.h"

static bool is_propagation(const char *s) {
        static const char *const p[] = { "private", "rprivate", "shared", "rshared", "slave", "rslave" };
        for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
                if (strcmp(s, p[i]) == 0)
                        return true;
        return false;
}

static int check_destination(const char *dst, struct berr *err) {
        if (!dst || dst[0] != '/')
                return berr_set(err, BERR_INVALID, EINVAL,
                                "invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute",
                                dst ? dst : "");
        char c[4096];
        fs_clean_abs_path(dst, c, sizeof(c));
        if (strcmp(c, "/") == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid specification: destination can't be '/'");
        return 0;
}
static json_t *mount_point(const char *type, const char *name, const char *src, const char *dst_raw, const char *mode,
                           bool rw, const char *propagation, bool create_src, bool recursive, bool nocopy) {
        char dst[4096];
        fs_clean_abs_path(dst_raw, dst, sizeof(dst));
        json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:b, s:b, s:b}", "Type", type, "Source", src ? src : "",
                              "Destination", dst, "Mode", mode, "RW", rw, "Propagation", propagation, "_create", create_src,
                              "_recursive", recursive, "_nocopy", nocopy);
        if (name) {
                json_object_set_new(m, "Name", json_string(name));
                json_object_set_new(m, "Driver", json_string("local"));
        }
        return m;
}

/* The name of @ctr_id's anonymous volume at @dst: a digest of the two. */
static void anonymous_name(const char *ctr_id, const char *dst_raw, char out[65]) {
        char dst[4096], key[4200], digest[DIGEST_STRING_MAX];
        fs_clean_abs_path(dst_raw, dst, sizeof(dst));
        snprintf(key, sizeof(key), "%s:%s", ctr_id, dst);
        struct berr e = { 0 };
        if (digest_sha256_buf(key, strlen(key), digest, &e) < 0)
                snprintf(out, 65, "%s", "0000000000000000000000000000000000000000000000000000000000000000");
        else
                snprintf(out, 65, "%s", digest + strlen("sha256:"));
}

static int volume_mode(const char *spec, const char *opts, bool *rw, bool *nocopy, struct berr *err) {
        char ob[256];
        snprintf(ob, sizeof(ob), "%s", opts);
        for (char *save = NULL, *o = strtok_r(ob, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
                if (strcmp(o, "ro") == 0)
                        *rw = false;
                else if (strcmp(o, "rw") == 0)
                        *rw = true;
                else if (strcmp(o, "nocopy") == 0)
                        *nocopy = true;
                else if (strcmp(o, "z") && strcmp(o, "Z") && strcmp(o, "consistent") && strcmp(o, "cached") &&
                         strcmp(o, "delegated") && !is_propagation(o))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid mode: %s", o);
        }
        (void) spec;
        return 0;
}

/* "-v /src:/dst[:opt,opt]", "-v name:/dst[:opts]", "-v /dst" */
static int parse_bind(const char *ctr_id, const char *spec, json_t *out, struct berr *err) {
        char buf[8192];
        if (strlen(spec) >= sizeof(buf))
                return berr_set(err, BERR_INVALID, E2BIG, "invalid volume specification: '%.64s...'", spec);
        snprintf(buf, sizeof(buf), "%s", spec);
        char *parts[4] = { 0 };
        size_t n = 0;
        char *rest = buf;
        for (char *t; (t = strsep(&rest, ":"));) {
                if (!t[0]) /* "$UNSET:/data": dockerd's words */
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid spec: %s: empty section between colons", spec);
                if (n == 3)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid volume specification: '%s'", spec);
                parts[n++] = t;
        }
        if (n == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid volume specification: '%s'", spec);
        if (n == 1) { /* an anonymous volume */
                int r = check_destination(parts[0], err);
                if (r < 0)
                        return r;
                char name[65];
                anonymous_name(ctr_id, parts[0], name);
                json_array_append_new(out, mount_point("volume", name, NULL, parts[0], "", true, "", false, true, false));
                return 0;
        }
        const char *src = parts[0], *dst = parts[1], *opts = n == 3 ? parts[2] : "";
        int r = check_destination(dst, err);
        if (r < 0)
                return r;
        if (src[0] != '/') { /* a named volume */
                if (!volume_name_valid(src))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "create %s: \"%s\" includes invalid characters for a local volume name, only "
                                        "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host "
                                        "directory, use absolute path",
                                        src, src);
                bool rw = true, nocopy = false;
                if ((r = volume_mode(spec, opts, &rw, &nocopy, err)) < 0)
                        return r;
                json_array_append_new(out, mount_point("volume", src, NULL, dst, opts[0] ? opts : "z", rw, "", false, true,
                                                       nocopy));
                return 0;
        }
        bool rw = true;
        char prop[16] = "rprivate";
        char ob[256];
        snprintf(ob, sizeof(ob), "%s", opts);
        for (char *save = NULL, *o = strtok_r(ob, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
                if (strcmp(o, "ro") == 0)
                        rw = false;
                else if (strcmp(o, "rw") == 0)
                        rw = true;
                else if (is_propagation(o))
                        snprintf(prop, sizeof(prop), "%s", o);
                else if (strcmp(o, "z") && strcmp(o, "Z") && strcmp(o, "consistent") && strcmp(o, "cached") &&
                         strcmp(o, "delegated"))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid mode: %s", o);
        }
        json_array_append_new(out, mount_point("bind", NULL, src, dst, opts, rw, prop, true, true, false));
        return 0;
}

#define MOUNT_CONFIG(...) mount_config_error(err, type, __VA_ARGS__)
static int mount_config_error(struct berr *err, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int mount_config_error(struct berr *err, const char *type, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return berr_set(err, BERR_INVALID, EINVAL, "invalid mount config for type \"%s\": %s", type, msg);
}

/* Go's filepath.IsLocal: relative, not empty, and not leaving its root ("..", "a/../.."). */
static bool path_is_local(const char *p) {
        if (!*p || *p == '/')
                return false;
        int depth = 0;
        for (const char *s = p; *s;) {
                const char *e = strchr(s, '/');
                size_t n = e ? (size_t) (e - s) : strlen(s);
                if (n == 2 && s[0] == '.' && s[1] == '.') {
                        if (--depth < 0)
                                return false;
                } else if (n > 0 && !(n == 1 && s[0] == '.'))
                        depth++;
                s += n;
                while (*s == '/')
                        s++;
        }
        return true;
}

/* mount.TmpfsOptions as dockerd's ConvertTmpfsOptions writes them: ro, mode (octal), size
 * with the largest unit that divides it, then exec/noexec. */
static int tmpfs_data(const struct ctr_mount *m, char *out, size_t size, struct berr *err) {
        const char *type = "tmpfs";
        size_t o = 0;
        out[0] = '\0';
#define ADD(...) (o += (size_t) snprintf(out + o, o < size ? size - o : 0, __VA_ARGS__))
        if (m->read_only)
                ADD("%sro", o ? "," : "");
        if (m->tmpfs.mode)
                ADD("%smode=%o", o ? "," : "", (unsigned) m->tmpfs.mode);
        if (m->tmpfs.size_bytes) {
                int64_t v = m->tmpfs.size_bytes;
                const char *suffix = "";
                static const struct {
                        const char *s;
                        int64_t div;
                } units[] = { { "g", 1LL << 30 }, { "m", 1LL << 20 }, { "k", 1LL << 10 } };
                for (size_t i = 0; i < ELEMENTSOF(units); i++)
                        if (v % units[i].div == 0) {
                                v /= units[i].div;
                                suffix = units[i].s;
                                break;
                        }
                ADD("%ssize=%lld%s", o ? "," : "", (long long) v, suffix);
        }
        for (size_t i = 0; i < m->tmpfs.n_options; i++) {
                const struct strv *opt = &m->tmpfs.options[i];
                if (opt->n < 1 || opt->n > 2)
                        return MOUNT_CONFIG("invalid option array length");
                if (strcmp(opt->v[0], "exec") && strcmp(opt->v[0], "noexec"))
                        return MOUNT_CONFIG("invalid option: %s", opt->v[0]);
                if (opt->n == 1)
                        ADD("%s%s", o ? "," : "", opt->v[0]);
                else
                        ADD("%s%s=%s", o ? "," : "", opt->v[0], opt->v[1]);
        }
#undef ADD
        if (o >= size)
                return MOUNT_CONFIG("options too long");
        return 0;
}

/* HostConfig.Mounts[i] (--mount), checked as dockerd's validateMountConfigImpl */
static int parse_mount(const char *ctr_id, const struct ctr_mount *m, json_t *out, bool check_sources,
                       struct berr *err) {
        const char *type = m->type, *src = m->source, *dst = m->target;
        if (!type[0])
                return berr_set(err, BERR_INVALID, EINVAL, "invalid mount config: mount type unknown");
        if (strcmp(type, "tmpfs") == 0) {
                int r = check_destination(dst, err);
                if (r < 0)
                        return r;
                if (m->bind.set)
                        return MOUNT_CONFIG("field BindOptions must not be specified");
                if (m->volume.set)
                        return MOUNT_CONFIG("field VolumeOptions must not be specified");
                if (src && src[0])
                        return MOUNT_CONFIG("field Source must not be specified");
                char data[512];
                if ((r = tmpfs_data(m, data, sizeof(data), err)) < 0)
                        return r;
                _cleanup_json_ json_t *opts = NULL; /* checked now, made again at start */
                if ((r = spec_tmpfs_options(data, &opts, err)) < 0)
                        return r;
                json_t *mp = mount_point("tmpfs", NULL, "", dst, "", !m->read_only, "", false, false, false);
                json_object_set_new(mp, "_tmpfs", json_string(data));
                json_array_append_new(out, mp);
                return 0;
        }
        if (strcmp(type, "volume") == 0) {
                int r = check_destination(dst, err);
                if (r < 0)
                        return r;
                if (m->bind.set)
                        return MOUNT_CONFIG("field BindOptions must not be specified");
                if (m->tmpfs.set)
                        return MOUNT_CONFIG("field TmpfsOptions must not be specified");
                const char *sub = m->volume.subpath;
                if (sub && sub[0]) {
                        if (!src || !src[0])
                                return MOUNT_CONFIG("must not set Subpath when using anonymous volumes");
                        if (!path_is_local(sub))
                                return MOUNT_CONFIG("subpath must be a relative path within the volume");
                }
                const char *drv = m->volume.driver_name;
                char anon[65];
                const char *name = src;
                if (!name || !name[0]) {
                        anonymous_name(ctr_id, dst, anon);
                        name = anon;
                } else if (!volume_name_valid(name))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "create %s: \"%s\" includes invalid characters for a local volume name", name, name);
                json_t *mp = mount_point("volume", name, NULL, dst, "", !m->read_only, "", false, true, m->volume.no_copy);
                if (sub && sub[0]) /* no copy-up into a part of a volume */
                        json_object_set_new(mp, "_subpath", json_string(sub));
                json_object_set_new(mp, "_driver", json_string(drv && drv[0] ? drv : "local"));
                if (m->volume.driver_options.n > 0) { /* volume-opt: the volume is made with them */
                        json_t *o = json_object();
                        for (size_t i = 0; o && i < m->volume.driver_options.n; i++)
                                json_object_set_new(o, m->volume.driver_options.keys[i],
                                                    json_string(m->volume.driver_options.vals[i]));
                        json_object_set_new(mp, "_opts", o);
                }
                json_array_append_new(out, mp);
                return 0;
        }
        if (strcmp(type, "bind") != 0)
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP,
                                "--mount type=%s is not supported by berth yet (bind, volume and tmpfs are)", type);
        if (!src || !src[0])
                return berr_set(err, BERR_INVALID, EINVAL, "invalid mount config for type \"bind\": field Source must not be empty");
        if (m->volume.set)
                return MOUNT_CONFIG("field VolumeOptions must not be specified");
        if (m->tmpfs.set)
                return MOUNT_CONFIG("field TmpfsOptions must not be specified");
        if (src[0] != '/')
                return berr_set(err, BERR_INVALID, EINVAL,
                                "invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute", src);
        int r = check_destination(dst, err);
        if (r < 0)
                return r;
        const char *prop = m->bind.propagation;
        if (prop && prop[0] && !is_propagation(prop))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid mount config for type \"bind\": invalid propagation mode: %s", prop);
        struct stat st;
        bool create = m->bind.create_mountpoint; /* bind-create-src: made at start, as -v does */
        if (check_sources && !create && stat(src, &st) < 0)
                return berr_set(err, BERR_INVALID, errno,
                                "invalid mount config for type \"bind\": bind source path does not exist: %s", src);
        bool recursive = !m->bind.non_recursive;
        json_t *mp = mount_point("bind", NULL, src, dst, "", !m->read_only, prop && prop[0] ? prop : "rprivate", create,
                                 recursive, false);
        /* bind-recursive=readonly: every mount below read-only too (mount_setattr AT_RECURSIVE) */
        if (m->read_only && m->bind.readonly_force_recursive)
                json_object_set_new(mp, "_rro", json_true());
        json_array_append_new(out, mp);
        return 0;
}

static bool has_destination(json_t *list, const char *dst_raw) {
        char dst[4096];
        fs_clean_abs_path(dst_raw, dst, sizeof(dst));
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m) if (strcmp(json_string_value(json_object_get(m, "Destination")), dst) == 0) return true;
        return false;
}

/* parser.ParseVolumesFrom: "container[:mode]", the mode rw or ro (and SELinux's z/Z, which
 * mean nothing here); propagation and copy modes are refused. *@ret_rw: not ro. */
static int parse_volumes_from(const char *spec, char *ret_ref, size_t size, bool *ret_rw, struct berr *err) {
        if (!*spec)
                return berr_set(err, BERR_INVALID, EINVAL, "volumes-from specification cannot be an empty string");
        const char *colon = strchr(spec, ':');
        size_t n = colon ? (size_t) (colon - spec) : strlen(spec);
        if (n >= size)
                return berr_set(err, BERR_INVALID, E2BIG, "No such container: %.64s...", spec);
        memcpy(ret_ref, spec, n);
        ret_ref[n] = '\0';
        *ret_rw = true;
        if (!colon || !colon[1])
                return 0;
        const char *mode = colon + 1;
        char mb[256];
        if (strlen(mode) >= sizeof(mb))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid mode: %.64s...", mode);
        snprintf(mb, sizeof(mb), "%s", mode);
        int n_rw = 0, n_label = 0, n_consistency = 0; /* one of each kind */
        for (char *save = NULL, *o = strtok_r(mb, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
                if (strcmp(o, "ro") == 0 || strcmp(o, "rw") == 0) {
                        n_rw++;
                        *ret_rw = strcmp(o, "rw") == 0;
                } else if (strcmp(o, "z") == 0 || strcmp(o, "Z") == 0)
                        n_label++;
                else if (strcmp(o, "consistent") == 0 || strcmp(o, "cached") == 0 || strcmp(o, "delegated") == 0)
                        n_consistency++;
                else /* propagation and copy modes too: not while importing another's mounts */
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid mode: %s", mode);
        }
        if (n_rw > 1 || n_label > 1 || n_consistency > 1)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid mode: %s", mode);
        return 0;
}

/* The mounts another container lends (*@from, resolved at create): after -v and --mount,
 * which win on the same destination, as dockerd's registerMountPoints. */
static void add_from(json_t *out, json_t *from) {
        size_t i;
        json_t *m;
        json_array_foreach(from, i, m) {
                const char *dst = json_string_value(json_object_get(m, "Destination"));
                char clean[4096];
                fs_clean_abs_path(dst, clean, sizeof(clean));
                size_t j;
                json_t *o;
                bool taken = false;
                json_array_foreach(out, j, o) taken |= strcmp(json_string_value(json_object_get(o, "Destination")), clean) == 0;
                if (!taken)
                        json_array_append_new(out, json_deep_copy(m));
        }
}

/* The driver a named or anonymous volume is asked for where none was set yet ("local"
 * when @drv is empty): the existing volume's driver wins at create (volume_driver_for). */
static void set_requested_driver(json_t *list, const char *drv) {
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m) if (json_object_get(m, "Name") && !json_object_get(m, "_driver") &&
                                           !json_is_true(json_object_get(m, "_from")))
                json_object_set_new(m, "_driver", json_string(drv && drv[0] ? drv : "local"));
}

static int parse_all(const char *ctr_id, const struct ctr_config *cc, json_t *from, bool check_sources, json_t **ret,
                     struct berr *err) {
        _cleanup_json_ json_t *out = json_array();
        const struct ctr_host_config *hc = &cc->hc;
        for (size_t i = 0; i < hc->volumes_from.n; i++) {
                char ref[256];
                bool rw;
                int r = parse_volumes_from(hc->volumes_from.v[i], ref, sizeof(ref), &rw, err);
                if (r < 0)
                        return r;
        }
        const char *drv = hc->volume_driver;
        for (size_t i = 0; i < hc->binds.n; i++) {
                int r = parse_bind(ctr_id, hc->binds.v[i], out, err);
                if (r < 0)
                        return r;
        }
        set_requested_driver(out, drv); /* -v's volumes: --volume-driver */
        for (size_t i = 0; i < hc->n_mounts; i++) {
                int r = parse_mount(ctr_id, &hc->mounts[i], out, check_sources, err);
                if (r < 0)
                        return r;
        }
        add_from(out, from);
        /* Config.Volumes (the image's VOLUME, -v /path): anonymous volumes where nothing
         * else is mounted. */
        for (size_t i = 0; i < cc->cfg.volumes.n; i++) {
                const char *path = cc->cfg.volumes.v[i];
                if (path[0] != '/' || has_destination(out, path))
                        continue;
                char name[65];
                anonymous_name(ctr_id, path, name);
                json_array_append_new(out, mount_point("volume", name, NULL, path, "", true, "", false, true, false));
        }
        set_requested_driver(out, drv); /* the image's VOLUMEs too, as dockerd */
        /* Two mounts on one destination: dockerd's message. */
        for (size_t a = 0; a < json_array_size(out); a++)
                for (size_t b = a + 1; b < json_array_size(out); b++) {
                        const char *da = json_string_value(json_object_get(json_array_get(out, a), "Destination"));
                        const char *db = json_string_value(json_object_get(json_array_get(out, b), "Destination"));
                        if (strcmp(da, db) == 0)
                                return berr_set(err, BERR_INVALID, EINVAL, "Duplicate mount point: %s", da);
                }
        *ret = TAKE_PTR(out);
        return 0;
}

int ctr_mounts_parse(const struct ctr_config *cc, json_t **ret, struct berr *err) {
        return parse_all("", cc, NULL, true, ret, err);
}

/* The driver of volume @name for a mount asking for @requested: an existing volume's
 * own driver when the mount asks for none in particular ("local"), as dockerd's store
 * finds volumes by name; a volume of one driver asked for with another is dockerd's name
 * conflict. Into @out ("local" or a plugin's name). */
static int volume_driver_for(struct daemon *d, const char *name, const char *requested, char *out, size_t size,
                             struct berr *err) {
        const char *want = requested && requested[0] ? requested : "local";
        char have[256];
        if (volume_exists(d->volumes, name))
                snprintf(have, sizeof(have), "local");
        else if (!vplug_driver_of(d->vplugs, name, have, sizeof(have))) {
                snprintf(out, size, "%s", want);
                return 0;
        }
        if (strcmp(want, "local") != 0 && strcmp(want, have) != 0)
                return berr_set(err, BERR_CONFLICT, EEXIST,
                                "create %s: driver '%s' already has volume '%s': volume name must be unique", name, have, name);
        snprintf(out, size, "%s", have);
        return 0;
}

static bool is_plugin_volume(struct daemon *d, const char *name, char *drv, size_t size) {
        return d->vplugs && !volume_exists(d->volumes, name) && vplug_driver_of(d->vplugs, name, drv, size);
}

static void fill_sources(struct daemon *d, json_t *list) {
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m) {
                const char *name = json_string_value(json_object_get(m, "Name"));
                char mp[4096], drv[256];
                struct berr e = { 0 };
                if (name && is_plugin_volume(d, name, drv, sizeof(drv))) {
                        if (vplug_mountpoint(d->vplugs, name, mp, sizeof(mp)))
                                json_object_set_new(m, "Source", json_string(mp));
                        json_object_set_new(m, "Driver", json_string(drv));
                } else if (name && d->volumes && volume_mountpoint(d->volumes, name, mp, sizeof(mp), &e) == 0)
                        json_object_set_new(m, "Source", json_string(mp));
        }
}

json_t *ctr_mounts_list(struct daemon *d, struct container *c) {
        json_t *list = NULL;
        struct berr e = { 0 };
        if (parse_all(c->id, c->cc, c->mounts_from, false, &list, &e) < 0)
                return json_array();
        fill_sources(d, list);
        return list;
}

json_t *ctr_mounts_inspect(struct daemon *d, struct container *c) {
        json_t *list = ctr_mounts_list(d, c);
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m) {
                json_object_del(m, "_create");
                json_object_del(m, "_recursive");
                json_object_del(m, "_nocopy");
                json_object_del(m, "_from");
                json_object_del(m, "_tmpfs");
                json_object_del(m, "_rro");
                json_object_del(m, "_subpath");
                json_object_del(m, "_opts");
                json_object_del(m, "_driver");
        }
        return list;
}

int ctr_mounts_create_volumes(struct daemon *d, struct container *c, struct berr *err) {
        _cleanup_json_ json_t *list = NULL;
        int r = parse_all(c->id, c->cc, c->mounts_from, false, &list, err);
        if (r < 0)
                return r;
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m) {
                const char *name = json_string_value(json_object_get(m, "Name"));
                if (!name || json_is_true(json_object_get(m, "_from"))) /* the lender's: it exists */
                        continue;
                char anon[65], drv[256];
                anonymous_name(c->id, json_string_value(json_object_get(m, "Destination")), anon);
                bool anonymous = strcmp(anon, name) == 0;
                r = volume_driver_for(d, name, json_string_value(json_object_get(m, "_driver")), drv, sizeof(drv), err);
                if (r == 0 && strcmp(drv, "local") == 0)
                        r = volume_create(d->volumes, name, "local", NULL, json_object_get(m, "_opts"), anonymous, NULL, err);
                else if (r == 0) {
                        json_t *labels = anonymous ? json_pack("{s:s}", VOLUME_LABEL_ANONYMOUS, "") : NULL;
                        r = vplug_create(d->vplugs, name, drv, labels, json_object_get(m, "_opts"), NULL, err);
                        json_decref(labels);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int ctr_mounts_anonymous(struct daemon *d, struct container *c, json_t **ret) {
        _cleanup_json_ json_t *list = NULL;
        struct berr e = { 0 };
        *ret = json_array();
        if (parse_all(c->id, c->cc, c->mounts_from, false, &list, &e) < 0)
                return 0;
        (void) d;
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m) {
                const char *name = json_string_value(json_object_get(m, "Name"));
                char anon[65];
                if (!name)
                        continue;
                anonymous_name(c->id, json_string_value(json_object_get(m, "Destination")), anon);
                if (strcmp(anon, name) == 0)
                        json_array_append_new(*ret, json_string(name));
        }
        return 0;
}

bool ctr_mounts_uses_volume(struct daemon *d, struct container *c, const char *name) {
        _cleanup_json_ json_t *list = NULL;
        struct berr e = { 0 };
        (void) d;
        if (parse_all(c->id, c->cc, c->mounts_from, false, &list, &e) < 0)
                return true; /* cannot tell: in use, so nothing gets removed */
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m) {
                const char *n = json_string_value(json_object_get(m, "Name"));
                if (n && strcmp(n, name) == 0)
                        return true;
        }
        return false;
}

static bool dir_empty(int fd) {
        int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *dir = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
        if (!dir) {
                if (dup_fd >= 0)
                        close(dup_fd);
                return false;
        }
        bool empty = true;
        struct dirent *de;
        while (empty && (de = readdir(dir)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        empty = false;
        closedir(dir);
        return empty;
}

/* dockerd's copy-up: an empty volume gets what the image has at the mount path (a
 * directory, resolved inside the container's root). */
static int copy_up(int rootfs_fd, const char *dst, const char *mountpoint, struct berr *err) {
        _cleanup_close_ int vfd = open(mountpoint, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (vfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", mountpoint);
        if (!dir_empty(vfd))
                return 0;
        /* Symlinks on the way resolve inside the root, as dockerd follows them there. */
        _cleanup_close_ int sfd = fs_open_in_root(rootfs_fd, dst + 1, O_RDONLY | O_DIRECTORY);
        if (sfd < 0 && (errno == ENOENT || errno == ENOTDIR))
                return 0; /* nothing there, or not a directory: nothing to copy */
        if (sfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s in the container to copy it into its volume", dst);
        int r = tree_copy_contents(sfd, vfd, err);
        return r < 0 ? berr_wrap(err, "copy image content into volume at %s", dst) : 0;
}

int ctr_mounts_open_subpath(const char *volume_dir, const char *sub, struct berr *err) {
        _cleanup_close_ int vfd = open(volume_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (vfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", volume_dir);
        int fd = fs_open_in_root(vfd, sub, O_PATH);
        if (fd < 0) {
                char buf[128];
                int e = errno;
                return berr_set(err, BERR_INVALID, e, "cannot access path %s/%s: %s", volume_dir, sub,
                                strerror_r(e, buf, sizeof(buf)));
        }
        return fd;
}

/* volume-subpath: the path resolved inside the volume (a link there cannot leave it) and
 * bound on a mount point of berth's own, DATA-ROOT/containers/<id>/subpath/<k>, from the fd
 * (/proc/self/fd/N names exactly what was opened). The runtime binds that: a container
 * that shares the volume cannot swap a step of the path for a link meanwhile. Unmounted
 * with everything under the container's directory at removal, or before the next start. */
static int subpath_bind(struct daemon *d, struct container *c, size_t k, const char *volume_dir, const char *sub,
                        char *out, size_t size, struct berr *err) {
        _cleanup_close_ int fd = ctr_mounts_open_subpath(volume_dir, sub, err);
        if (fd < 0)
                return fd;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berr_sys(err, BERR_INTERNAL, "stat %s/%s", volume_dir, sub);
        _cleanup_free_ char *dir = ctr_data_dir(d, c->id);
        char base[4200], target[4300], proc[64];
        if (!dir || fs_path_fmt(base, sizeof(base), "%s/subpath", dir) < 0 ||
            fs_path_fmt(target, sizeof(target), "%s/%zu", base, k) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "container directory: path too long");
        if (mkdir(base, 0700) < 0 && errno != EEXIST)
                return berr_sys(err, BERR_INTERNAL, "mkdir %s", base);
        while (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) /* a previous run's */
                ;
        /* the mount point is of the kind of what it takes: made again if the kind changed */
        struct stat tst;
        if (lstat(target, &tst) == 0 && (S_ISDIR(tst.st_mode) != S_ISDIR(st.st_mode) || S_ISLNK(tst.st_mode)) &&
            (S_ISDIR(tst.st_mode) ? rmdir(target) : unlink(target)) < 0)
                return berr_sys(err, BERR_INTERNAL, "remove %s", target);
        if (S_ISDIR(st.st_mode)) {
                if (mkdir(target, 0700) < 0 && errno != EEXIST)
                        return berr_sys(err, BERR_INTERNAL, "mkdir %s", target);
        } else {
                int tfd = open(target, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (tfd < 0)
                        return berr_sys(err, BERR_INTERNAL, "create %s", target);
                close(tfd);
        }
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        if (mount(proc, target, NULL, MS_BIND, NULL) < 0)
                return berr_sys(err, BERR_INTERNAL, "bind %s/%s", volume_dir, sub);
        return fs_path_fmt(out, size, "%s", target) < 0 ? berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "path too long") : 0;
}

int ctr_mounts_oci(struct daemon *d, struct container *c, const char *rootfs, json_t **ret, struct berr *err) {
        _cleanup_json_ json_t *list = NULL;
        int r = parse_all(c->id, c->cc, c->mounts_from, false, &list, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *oci = json_array();
        _cleanup_close_ int rootfs_fd = -1;
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m) {
                const char *name = json_string_value(json_object_get(m, "Name"));
                const char *dst = json_string_value(json_object_get(m, "Destination"));
                char src[4096];
                const char *tmpfs = json_string_value(json_object_get(m, "_tmpfs"));
                if (tmpfs) { /* --mount type=tmpfs: as dockerd's, its options over the defaults */
                        json_t *opts = NULL;
                        if ((r = spec_tmpfs_options(tmpfs, &opts, err)) < 0)
                                return r;
                        json_array_append_new(oci, json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", "tmpfs",
                                                             "source", "tmpfs", "options", opts));
                        continue;
                }
                char drv[256];
                if (name && !json_is_true(json_object_get(m, "_from")) &&
                    (r = volume_driver_for(d, name, json_string_value(json_object_get(m, "_driver")), drv, sizeof(drv), err)) < 0)
                        return r;
                if (name && (json_is_true(json_object_get(m, "_from")) ? is_plugin_volume(d, name, drv, sizeof(drv))
                                                                         : strcmp(drv, "local") != 0)) {
                        /* a plugin's volume: made again if removed meanwhile, then mounted
                         * under a mount ID of this container's own */
                        if (!vplug_driver_of(d->vplugs, name, NULL, 0))
                                r = vplug_create(d->vplugs, name, drv, NULL, json_object_get(m, "_opts"), NULL, err);
                        if (r == 0)
                                r = vplug_mount(d->vplugs, name, c->id, dst, src, sizeof(src), err);
                        if (r < 0) {
                                berr_wrap(err, "error while mounting volume ''");
                                return r;
                        }
                        /* volume-subpath: only that path of the plugin's volume, and no
                         * copy-up into it, as for a local volume */
                        char users[64];
                        const char *sub = json_string_value(json_object_get(m, "_subpath"));
                        if (sub) {
                                char vdir[4096];
                                snprintf(vdir, sizeof(vdir), "%s", src);
                                if ((r = subpath_bind(d, c, i, vdir, sub, src, sizeof(src), err)) < 0)
                                        return r;
                        } else if (!json_is_true(json_object_get(m, "_nocopy")) &&
                                   ctr_volume_users(d, name, users, sizeof(users)) <= 1) {
                                if (rootfs_fd < 0)
                                        rootfs_fd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                                if (rootfs_fd < 0)
                                        r = berr_sys(err, BERR_INTERNAL, "open %s", rootfs);
                                else
                                        r = copy_up(rootfs_fd, dst, src, err);
                                if (r < 0)
                                        return r;
                        }
                } else if (name) {
                        char anon[65];
                        anonymous_name(c->id, dst, anon);
                        /* removed meanwhile (volume rm -f): made again, as dockerd does */
                        r = volume_create(d->volumes, name, "local", NULL, NULL, strcmp(anon, name) == 0, NULL, err);
                        if (r == 0)
                                r = volume_mountpoint(d->volumes, name, src, sizeof(src), err);
                        if (r == 0) { /* a volume with options: its device mounted at first use */
                                pthread_mutex_lock(&d->volume_lock);
                                r = volume_mount(d->volumes, name, err);
                                pthread_mutex_unlock(&d->volume_lock);
                                if (r < 0)
                                        return berr_wrap(err, "error while mounting volume '%s'", src);
                        }
                        /* Copy-up only into a volume no other container uses: one that could
                         * write into it while we copy must not steer where our links go. */
                        char users[64];
                        const char *sub = json_string_value(json_object_get(m, "_subpath"));
                        if (r == 0 && sub) {
                                char vdir[4096];
                                snprintf(vdir, sizeof(vdir), "%s", src);
                                r = subpath_bind(d, c, i, vdir, sub, src, sizeof(src), err);
                        } else if (r == 0 && !json_is_true(json_object_get(m, "_nocopy")) &&
                                   ctr_volume_users(d, name, users, sizeof(users)) <= 1) {
                                if (rootfs_fd < 0)
                                        rootfs_fd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                                if (rootfs_fd < 0)
                                        r = berr_sys(err, BERR_INTERNAL, "open %s", rootfs);
                                else
                                        r = copy_up(rootfs_fd, dst, src, err);
                        }
                        if (r < 0)
                                return r;
                } else {
                        snprintf(src, sizeof(src), "%s", json_string_value(json_object_get(m, "Source")));
                        struct stat st;
                        if (stat(src, &st) < 0) {
                                if (errno != ENOENT || !json_is_true(json_object_get(m, "_create")))
                                        return berr_set(err, BERR_INVALID, errno,
                                                        "invalid mount config for type \"bind\": bind source path does not exist: %s",
                                                        src);
                                /* -v creates a missing host directory, as dockerd does. */
                                r = fs_mkdir_p(src, 0755, err);
                                if (r < 0)
                                        return berr_wrap(err, "error while creating mount source path '%s'", src);
                        }
                }
                json_t *opts = json_array();
                json_array_append_new(opts, json_string(json_is_true(json_object_get(m, "_recursive")) ? "rbind" : "bind"));
                const char *prop = json_string_value(json_object_get(m, "Propagation"));
                json_array_append_new(opts, json_string(prop && prop[0] ? prop : "rprivate"));
                if (!json_is_true(json_object_get(m, "RW")))
                        json_array_append_new(opts, json_string(json_is_true(json_object_get(m, "_rro")) ? "rro" : "ro"));
                json_array_append_new(oci, json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", "bind", "source",
                                                     src, "options", opts));
        }
        *ret = TAKE_PTR(oci);
        return 0;
}

int ctr_volume_users(struct daemon *d, const char *name, char *out, size_t size) {
        int n = 0;
        size_t len = 0;
        out[0] = '\0';
        pthread_mutex_lock(&d->ctr_lock);
        struct container *c, *tmp;
        HASH_ITER(hh, d->ctrs, c, tmp) {
                if (!ctr_mounts_uses_volume(d, c, name))
                        continue;
                int k = snprintf(out + len, size - len, "%s%s", n ? ", " : "", c->id);
                if (k > 0 && (size_t) k < size - len)
                        len += (size_t) k;
                n++;
        }
        pthread_mutex_unlock(&d->ctr_lock);
        return n;
}

json_t *ctr_volumes_in_use(struct daemon *d, bool *ret_all_known) {
        json_t *used = json_object();
        *ret_all_known = true;
        pthread_mutex_lock(&d->ctr_lock);
        struct container *c, *tmp;
        HASH_ITER(hh, d->ctrs, c, tmp) {
                _cleanup_json_ json_t *list = NULL;
                struct berr e = { 0 };
                if (parse_all(c->id, c->cc, c->mounts_from, false, &list, &e) < 0) {
                        *ret_all_known = false; /* a prune must not go on: it cannot tell */
                        continue;
                }
                size_t i;
                json_t *m;
                json_array_foreach(list, i, m) {
                        const char *n = json_string_value(json_object_get(m, "Name"));
                        if (n)
                                json_object_set_new(used, n, json_integer(json_integer_value(json_object_get(used, n)) + 1));
                }
        }
        pthread_mutex_unlock(&d->ctr_lock);
        return used;
}

/* A lent mount as the record keeps it: what parse_all makes, checked again when read back. */
static bool from_entry_ok(json_t *m) {
        const char *type = json_string_value(json_object_get(m, "Type"));
        const char *dst = json_string_value(json_object_get(m, "Destination"));
        const char *src = json_string_value(json_object_get(m, "Source"));
        const char *name = json_string_value(json_object_get(m, "Name"));
        if (!type || !dst || dst[0] != '/' || !json_is_boolean(json_object_get(m, "RW")) ||
            !json_is_string(json_object_get(m, "Propagation")) || !json_is_string(json_object_get(m, "Mode")))
                return false;
        if (strcmp(type, "volume") == 0)
                return name && volume_name_valid(name);
        return strcmp(type, "bind") == 0 && !name && src && src[0] == '/';
}

json_t *ctr_mounts_from_load(json_t *rec_list) {
        json_t *out = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(rec_list, i, m) if (out && from_entry_ok(m)) json_array_append(out, m);
        return out;
}

int ctr_mounts_resolve_from(struct daemon *d, const struct ctr_config *cc, json_t **ret, struct berr *err) {
        *ret = NULL;
        const struct strv *vf = &cc->hc.volumes_from;
        if (vf->n == 0)
                return 0;
        _cleanup_json_ json_t *out = json_array();
        if (!out)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (size_t i = 0; i < vf->n; i++) {
                char ref[256];
                bool rw;
                int r = parse_volumes_from(vf->v[i], ref, sizeof(ref), &rw, err);
                if (r < 0)
                        return r;
                struct container *src = NULL;
                if ((r = ctr_lookup(d, ref, &src, err)) < 0) {
                        err->kind = BERR_INVALID; /* dockerd: "No such container: x", an invalid parameter */
                        return r;
                }
                _cleanup_json_ json_t *list = NULL;
                r = parse_all(src->id, src->cc, src->mounts_from, false, &list, err);
                ctr_unref(d, src);
                if (r < 0)
                        return r;
                size_t j;
                json_t *m;
                json_array_foreach(list, j, m) {
                        if (strcmp(json_string_value(json_object_get(m, "Type")), "tmpfs") == 0)
                                continue; /* binds and volumes only */
                        /* the lender's access mode, read-only if asked; no copy-up (CopyData false) */
                        json_object_set_new(m, "RW", json_boolean(json_is_true(json_object_get(m, "RW")) && rw));
                        json_object_set_new(m, "Mode", json_string(""));
                        json_object_set_new(m, "_create", json_false());
                        json_object_set_new(m, "_nocopy", json_true());
                        json_object_set_new(m, "_from", json_true());
                        if (json_object_get(m, "Name"))
                                json_object_set_new(m, "Source", json_string(""));
                        /* a later --volumes-from wins on the same destination */
                        const char *dst = json_string_value(json_object_get(m, "Destination"));
                        for (size_t k = 0; k < json_array_size(out); k++)
                                if (strcmp(json_string_value(json_object_get(json_array_get(out, k), "Destination")), dst) == 0) {
                                        json_array_remove(out, k);
                                        break;
                                }
                        if (json_array_append(out, m) < 0)
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                }
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* Whether a container other than @c that is running, paused or starting uses volume @name.
 * Caller holds d->volume_lock (no start mounts a volume meanwhile). */
static bool used_by_another_run(struct daemon *d, struct container *c, const char *name) {
        bool used = false;
        pthread_mutex_lock(&d->ctr_lock);
        struct container *o, *tmp;
        HASH_ITER(hh, d->ctrs, o, tmp) {
                if (o == c || used)
                        continue;
                pthread_mutex_lock(&o->lock);
                enum ctr_state st = o->state;
                pthread_mutex_unlock(&o->lock);
                if ((st == CTR_RUNNING || st == CTR_PAUSED || st == CTR_STARTING) && ctr_mounts_uses_volume(d, o, name))
                        used = true;
        }
        pthread_mutex_unlock(&d->ctr_lock);
        return used;
}

void ctr_mounts_release(struct daemon *d, struct container *c) {
        _cleanup_json_ json_t *list = NULL;
        struct berr e = { 0 };
        /* Plugin volumes: each mount this container holds, unmounted once (from the
         * records, so it does not depend on the config parsing) */
        if (d->vplugs && vplug_release_container(d->vplugs, c->id, &e) < 0)
                log_warn("%s (kept; tried again at the next start of berthd)", e.msg);
        if (parse_all(c->id, c->cc, c->mounts_from, false, &list, &e) < 0)
                return;
        pthread_mutex_lock(&d->volume_lock);
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m) {
                const char *name = json_string_value(json_object_get(m, "Name"));
                if (!name || !volume_has_options(d->volumes, name) || used_by_another_run(d, c, name))
                        continue;
                if (volume_unmount(d->volumes, name, &e) < 0)
                        log_warn("unmount volume %s: %s", name, e.msg);
        }
        pthread_mutex_unlock(&d->volume_lock);
}

static bool container_runs(void *ctx, const char *ctr_id) {
        struct daemon *d = ctx;
        bool up = false;
        pthread_mutex_lock(&d->ctr_lock);
        struct container *c = NULL;
        HASH_FIND_STR(d->ctrs, ctr_id, c);
        if (c) {
                pthread_mutex_lock(&c->lock);
                up = c->state == CTR_RUNNING || c->state == CTR_PAUSED || c->state == CTR_STARTING;
                pthread_mutex_unlock(&c->lock);
        }
        pthread_mutex_unlock(&d->ctr_lock);
        return up;
}

void ctr_mounts_recover_plugins(struct daemon *d) {
        struct berr e = { 0 };
        if (d->vplugs && vplug_recover(d->vplugs, container_runs, d, &e) < 0)
                log_warn("%s (kept; tried again at the next start of berthd)", e.msg);
}
