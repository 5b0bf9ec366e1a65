/* container_mounts.c - bind mounts from HostConfig.Binds (-v /host:/ctr[:opts]) and
 * HostConfig.Mounts (--mount type=bind,...), as dockerd parses and reports them. Named
 * and anonymous volumes, volumes-from and --mount types other than bind are refused with
 * a clear error: berth has no volume store yet, and ignoring them would lose data. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "container.h"

#define NO_VOLUMES "volumes are not supported by berth yet (bind mounts are: -v /host/path:/container/path)"

static bool is_propagation(const char *s) {
        static const char *const p[] = { "private", "rprivate", "shared", "rshared", "slave", "rslave" };
        for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
                if (strcmp(s, p[i]) == 0)
                        return true;
        return false;
}

static void clean_path(const char *in, char *out, size_t size);

static int check_destination(const char *dst, struct berr *err) {
        if (!dst || dst[0] != '/')
                return berr_set(err, BERR_INVALID, EINVAL,
                                "invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute",
                                dst ? dst : "");
        char c[4096];
        clean_path(dst, c, sizeof(c));
        if (strcmp(c, "/") == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid specification: destination can't be '/'");
        return 0;
}

/* filepath.Clean for an absolute path: no "//", ".", ".." or trailing "/". */
static void clean_path(const char *in, char *out, size_t size) {
        size_t n = 0;
        out[0] = '\0';
        char buf[4096];
        snprintf(buf, sizeof(buf), "%s", in);
        for (char *save = NULL, *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
                if (strcmp(t, ".") == 0)
                        continue;
                if (strcmp(t, "..") == 0) {
                        char *slash = strrchr(out, '/');
                        n = slash ? (size_t) (slash - out) : 0;
                        out[n] = '\0';
                        continue;
                }
                int k = snprintf(out + n, size - n, "/%s", t);
                if (k < 0 || (size_t) k >= size - n)
                        break;
                n += (size_t) k;
        }
        if (n == 0)
                snprintf(out, size, "/");
}

static json_t *mount_point(const char *src, const char *dst_raw, const char *mode, bool rw, const char *propagation,
                           bool create_src, bool recursive) {
        char dst[4096];
        clean_path(dst_raw, dst, sizeof(dst));
        return json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:b, s:b}", "Type", "bind", "Source", src, "Destination", dst,
                         "Mode", mode, "RW", rw, "Propagation", propagation, "_create", create_src, "_recursive",
                         recursive);
}

/* "-v /src:/dst[:opt,opt]" */
static int parse_bind(const char *spec, json_t *out, struct berr *err) {
        char buf[8192];
        if (strlen(spec) >= sizeof(buf))
                return berr_set(err, BERR_INVALID, E2BIG, "invalid volume specification: '%.64s...'", spec);
        snprintf(buf, sizeof(buf), "%s", spec);
        char *parts[4] = { 0 };
        size_t n = 0;
        for (char *save = NULL, *t = strtok_r(buf, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
                if (n == 3)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid volume specification: '%s'", spec);
                parts[n++] = t;
        }
        if (n == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid volume specification: '%s'", spec);
        if (n == 1 || parts[0][0] != '/')
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "%s: %s", spec, NO_VOLUMES);
        const char *src = parts[0], *dst = parts[1], *opts = n == 3 ? parts[2] : "";
        int r = check_destination(dst, err);
        if (r < 0)
                return r;
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
        json_array_append_new(out, mount_point(src, dst, opts, rw, prop, true, true));
        return 0;
}

/* HostConfig.Mounts[i] (--mount) */
static int parse_mount(json_t *m, json_t *out, bool check_sources, struct berr *err) {
        if (!json_is_object(m))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid mount config: expected an object");
        const char *type = json_string_value(json_object_get(m, "Type"));
        const char *src = json_string_value(json_object_get(m, "Source"));
        const char *dst = json_string_value(json_object_get(m, "Target"));
        if (!type || !type[0])
                return berr_set(err, BERR_INVALID, EINVAL, "invalid mount config: mount type unknown");
        if (strcmp(type, "volume") == 0)
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "--mount type=volume: %s", NO_VOLUMES);
        if (strcmp(type, "bind") != 0)
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP,
                                "--mount type=%s is not supported by berth yet (type=bind is; --tmpfs for tmpfs)", type);
        if (!src || !src[0])
                return berr_set(err, BERR_INVALID, EINVAL, "invalid mount config for type \"bind\": field Source must not be empty");
        if (src[0] != '/')
                return berr_set(err, BERR_INVALID, EINVAL,
                                "invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute", src);
        int r = check_destination(dst, err);
        if (r < 0)
                return r;
        struct stat st;
        if (check_sources && stat(src, &st) < 0)
                return berr_set(err, BERR_INVALID, errno,
                                "invalid mount config for type \"bind\": bind source path does not exist: %s", src);
        json_t *bo = json_object_get(m, "BindOptions");
        const char *prop = json_string_value(json_object_get(bo, "Propagation"));
        if (prop && prop[0] && !is_propagation(prop))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid mount config for type \"bind\": invalid propagation mode: %s", prop);
        bool recursive = !json_is_true(json_object_get(bo, "NonRecursive"));
        json_array_append_new(out, mount_point(src, dst, "", !json_is_true(json_object_get(m, "ReadOnly")),
                                               prop && prop[0] ? prop : "rprivate", false, recursive));
        return 0;
}

static int parse_all(json_t *host_config, bool check_sources, json_t **ret, struct berr *err) {
        _cleanup_json_ json_t *out = json_array();
        json_t *v;
        size_t i;
        json_t *vf = json_object_get(host_config, "VolumesFrom");
        if (json_array_size(vf) > 0)
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "--volumes-from: %s", NO_VOLUMES);
        const char *drv = json_string_value(json_object_get(host_config, "VolumeDriver"));
        if (drv && drv[0])
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "--volume-driver: %s", NO_VOLUMES);
        json_t *binds = json_object_get(host_config, "Binds");
        if (binds && !json_is_null(binds) && !json_is_array(binds))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid type for field HostConfig.Binds");
        json_array_foreach(binds, i, v) {
                if (!json_is_string(v))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid type for field HostConfig.Binds[%zu]", i);
                int r = parse_bind(json_string_value(v), out, err);
                if (r < 0)
                        return r;
        }
        json_t *mounts = json_object_get(host_config, "Mounts");
        if (mounts && !json_is_null(mounts) && !json_is_array(mounts))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid type for field HostConfig.Mounts");
        json_array_foreach(mounts, i, v) {
                int r = parse_mount(v, out, check_sources, err);
                if (r < 0)
                        return r;
        }
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

int ctr_mounts_parse(json_t *host_config, json_t **ret, struct berr *err) {
        return parse_all(host_config, true, ret, err);
}

json_t *ctr_mounts_inspect(json_t *host_config) {
        json_t *list = NULL;
        struct berr e = { 0 };
        if (parse_all(host_config, false, &list, &e) < 0)
                return json_array();
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m) {
                json_object_del(m, "_create");
                json_object_del(m, "_recursive");
        }
        return list;
}

int ctr_mounts_oci(json_t *host_config, json_t **ret, struct berr *err) {
        _cleanup_json_ json_t *list = NULL;
        int r = parse_all(host_config, false, &list, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *oci = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m) {
                const char *src = json_string_value(json_object_get(m, "Source"));
                struct stat st;
                if (stat(src, &st) < 0) {
                        if (errno != ENOENT || !json_is_true(json_object_get(m, "_create")))
                                return berr_set(err, BERR_INVALID, errno,
                                                "invalid mount config for type \"bind\": bind source path does not exist: %s", src);
                        /* -v creates a missing host directory, as dockerd does. */
                        r = fs_mkdir_p(src, 0755, err);
                        if (r < 0)
                                return berr_wrap(err, "error while creating mount source path '%s'", src);
                }
                json_t *opts = json_array();
                json_array_append_new(opts, json_string(json_is_true(json_object_get(m, "_recursive")) ? "rbind" : "bind"));
                json_array_append_new(opts, json_string(json_string_value(json_object_get(m, "Propagation"))));
                if (!json_is_true(json_object_get(m, "RW")))
                        json_array_append_new(opts, json_string("ro"));
                json_array_append_new(oci, json_pack("{s:O, s:s, s:O, s:o}", "destination", json_object_get(m, "Destination"),
                                                     "type", "bind", "source", json_object_get(m, "Source"), "options", opts));
        }
        *ret = TAKE_PTR(oci);
        return 0;
}
