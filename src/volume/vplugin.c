/* vplugin.c - volumes of volume plugins (VolumeDriver.*, volume.h): the record of each
 * (DATA-ROOT/plugin-volumes/<name>.json: name, driver, labels, options, and the mounts
 * containers hold), the calls to the driver, and the mount references. Each container
 * mount of a volume gets a mount ID of its own; the record names it *before*
 * VolumeDriver.Mount is called and marks it "unmounting" before VolumeDriver.Unmount, so
 * after a crash (kill -9 of berthd) recovery knows which mounts may exist: an entry that
 * was mounting or mounted and whose container no longer runs is unmounted once; one
 * marked unmounting is only dropped (its Unmount had been sent). Records are written
 * atomically; the store lock is never held across a call to a plugin. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/id.h"
#include "common/json.h"
#include "plugin/plugin.h"
#include "volume.h"

#define RECORD_MAX (1u << 20)
/* dockerd's volume plugin timeouts (volume/drivers/proxy.go) */
#define LONG_TIMEOUT_MS (2 * 60 * 1000)  /* Create, Remove, Mount, Unmount */
#define SHORT_TIMEOUT_MS (1 * 60 * 1000) /* Path, Get, List, Capabilities */

struct vplug_store {
        char *root; /* DATA-ROOT/plugin-volumes */
        int root_fd;
        struct plugin_registry *reg;
        pthread_mutex_t lock; /* read-modify-write of records, @busy */
        pthread_cond_t cond;  /* an entry left @busy */
        json_t *busy;         /* "name\nkey" of the entries being mounted or unmounted now */
};

static void busy_key(const char *name, const char *key, char *out, size_t size) {
        snprintf(out, size, "%s\n%s", name, key);
}

/* Take entry @key of @name for a mount or unmount (waiting while another thread has it);
 * caller holds vs->lock. */
static void busy_take(struct vplug_store *vs, const char *name, const char *key) {
        char bk[4500];
        busy_key(name, key, bk, sizeof(bk));
        while (json_object_get(vs->busy, bk))
                pthread_cond_wait(&vs->cond, &vs->lock);
        json_object_set_new(vs->busy, bk, json_true());
}

static void busy_give(struct vplug_store *vs, const char *name, const char *key) {
        char bk[4500];
        busy_key(name, key, bk, sizeof(bk));
        pthread_mutex_lock(&vs->lock);
        json_object_del(vs->busy, bk);
        pthread_cond_broadcast(&vs->cond);
        pthread_mutex_unlock(&vs->lock);
}

bool vplug_name_valid(const char *name) {
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > 200 || name[0] == '.' || strchr(name, '/'))
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) name[i] < 0x20 || name[i] == 0x7f)
                        return false;
        return true;
}

int vplug_open(const char *data_root, struct plugin_registry *reg, struct vplug_store **ret, struct berr *err) {
        struct vplug_store *vs = calloc(1, sizeof(*vs));
        if (!vs)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        vs->root_fd = -1;
        vs->reg = reg;
        pthread_mutex_init(&vs->lock, NULL);
        pthread_cond_init(&vs->cond, NULL);
        vs->busy = json_object();
        vs->root = fs_path_join(data_root, "plugin-volumes");
        int r = vs->root && vs->busy ? fs_mkdir_p(vs->root, 0700, err) : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (r == 0 && (vs->root_fd = open(vs->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                r = berr_sys(err, BERR_INTERNAL, "open %s", vs->root);
        if (r < 0) {
                vplug_free(vs);
                return r;
        }
        *ret = vs;
        return 0;
}

void vplug_free(struct vplug_store *vs) {
        if (!vs)
                return;
        if (vs->root_fd >= 0)
                close(vs->root_fd);
        pthread_mutex_destroy(&vs->lock);
        pthread_cond_destroy(&vs->cond);
        json_decref(vs->busy);
        free(vs->root);
        free(vs);
}

static int read_record(struct vplug_store *vs, const char *name, json_t **ret, struct berr *err) {
        char path[512];
        if (!vplug_name_valid(name) || fs_path_fmt(path, sizeof(path), "%s.json", name) < 0)
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "get %s: no such volume", name);
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = fs_read_file(vs->root_fd, path, RECORD_MAX, &text, &len, err);
        if (r < 0)
                return err->errnum == ENOENT ? berr_set(err, BERR_NOT_FOUND, ENOENT, "get %s: no such volume", name) : r;
        r = json_parse_object(text, len, ret, err);
        if (r == 0 && (!json_is_string(json_object_get(*ret, "Driver")) || !json_is_object(json_object_get(*ret, "Mounts")))) {
                json_decref(*ret);
                *ret = NULL; /* callers free what they get back */
                return berr_set(err, BERR_INTERNAL, EINVAL, "volume %s: malformed record", name);
        }
        return r;
}

static int write_record(struct vplug_store *vs, const char *name, json_t *rec, struct berr *err) {
        char path[512];
        if (fs_path_fmt(path, sizeof(path), "%s.json", name) < 0)
                return berr_set(err, BERR_INVALID, ENAMETOOLONG, "volume name too long: %s", name);
        _cleanup_free_ char *text = json_dumps(rec, JSON_COMPACT);
        if (!text)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        return fs_write_atomic(vs->root_fd, path, text, strlen(text), 0600, err);
}

bool vplug_driver_of(struct vplug_store *vs, const char *name, char *out, size_t size) {
        _cleanup_json_ json_t *rec = NULL;
        struct berr e = { 0 };
        if (!vs || read_record(vs, name, &rec, &e) < 0)
                return false;
        if (out)
                snprintf(out, size, "%s", json_string_value(json_object_get(rec, "Driver")));
        return true;
}

/* A call whose answer may carry {"Err": "..."} with status 200 (the proxy's check). */
static int vcall(struct plugin *p, const char *method, json_t *args, long timeout_ms, json_t **ret, struct berr *err) {
        json_t *o = NULL;
        int r = plugin_call(p, method, args, timeout_ms, &o, err);
        json_decref(args);
        if (r < 0)
                return r;
        const char *e = json_string_value(json_object_get(o, "Err"));
        if (e && *e) {
                r = berr_set(err, BERR_INTERNAL, EIO, "%s", e);
                json_decref(o);
                return r;
        }
        if (ret)
                *ret = o;
        else
                json_decref(o);
        return 0;
}

static int get_driver_now(struct vplug_store *vs, const char *driver, bool wait, struct plugin **ret,
                          struct berr *err) {
        int r = wait ? plugin_get(vs->reg, driver, PLUGIN_KIND_VOLUME, ret, err)
                     : plugin_get_now(vs->reg, driver, PLUGIN_KIND_VOLUME, ret, err);
        return r < 0 ? berr_wrap(err, "error looking up volume plugin %s", driver) : 0;
}

static int get_driver(struct vplug_store *vs, const char *driver, struct plugin **ret, struct berr *err) {
        return get_driver_now(vs, driver, true, ret, err);
}

static const char *scope_of(struct plugin *p) {
        _cleanup_json_ json_t *o = NULL;
        struct berr e = { 0 };
        if (vcall(p, "VolumeDriver.Capabilities", json_object(), SHORT_TIMEOUT_MS, &o, &e) < 0)
                return "local"; /* dockerd: a driver without Capabilities is local */
        const char *s = json_string_value(json_object_get(json_object_get(o, "Capabilities"), "Scope"));
        return s && strcmp(s, "global") == 0 ? "global" : "local";
}

/* A driver's Mountpoint as the host sees it (a managed plugin answers in its rootfs). */
static void scope_mountpoint(struct plugin *p, json_t *drv_vol) {
        const char *mp = json_string_value(json_object_get(drv_vol, "Mountpoint"));
        char host[4096];
        if (mp && mp[0] == '/' && plugin_scoped_path(p, mp, host, sizeof(host)) == 0)
                json_object_set_new(drv_vol, "Mountpoint", json_string(host));
}

/* Docker's Volume object from our record and, when @drv_vol is given, the driver's view. */
static json_t *volume_object(json_t *rec, const char *name, const char *driver, json_t *drv_vol, const char *scope,
                             bool with_status) {
        json_t *labels = json_object_get(rec, "Labels"), *opts = json_object_get(rec, "Options");
        const char *mp = json_string_value(json_object_get(drv_vol, "Mountpoint"));
        if (!mp)
                mp = json_string_value(json_object_get(rec, "Mountpoint")) ?: "";
        json_t *v = json_pack("{s:s, s:O, s:s, s:O, s:s, s:s}", "Driver", driver, "Labels",
                              json_object_size(labels) ? labels : json_null(), "Mountpoint", mp, "Options",
                              json_object_size(opts) ? opts : json_null(), "Name", name, "Scope", scope);
        const char *created = json_string_value(json_object_get(drv_vol, "CreatedAt"));
        if (!created)
                created = json_string_value(json_object_get(rec, "CreatedAt"));
        if (created && v)
                json_object_set_new(v, "CreatedAt", json_string(created));
        json_t *status = json_object_get(drv_vol, "Status");
        if (with_status && json_is_object(status) && json_object_size(status) && v)
                json_object_set(v, "Status", status);
        return v;
}

int vplug_create(struct vplug_store *vs, const char *name, const char *driver, json_t *labels, json_t *opts,
                 json_t **ret, struct berr *err) {
        if (!vplug_name_valid(name))
                return berr_set(err, BERR_INVALID, EINVAL, "create %s: invalid volume name", name);
        _cleanup_json_ json_t *have = NULL;
        struct berr e2 = { 0 };
        if (read_record(vs, name, &have, &e2) == 0) {
                const char *hd = json_string_value(json_object_get(have, "Driver"));
                size_t dl = strlen(driver); /* a managed plugin NAME is recorded as NAME:latest */
                if (strcmp(hd, driver) != 0 && !(strncmp(hd, driver, dl) == 0 && strcmp(hd + dl, ":latest") == 0))
                        return berr_set(err, BERR_CONFLICT, EEXIST,
                                        "create %s: driver '%s' already has volume '%s': volume name must be unique", name, hd,
                                        name);
                if (ret) /* dockerd hands back the existing volume */
                        *ret = volume_object(have, name, driver, NULL, "local", false);
                return 0;
        } else if (e2.kind != BERR_NOT_FOUND) {
                *err = e2;
                return -EIO;
        }
        struct plugin *p;
        int r = get_driver(vs, driver, &p, err);
        if (r < 0)
                return r;
        driver = plugin_name(p); /* the plugin's own name, as dockerd records it (NAME:latest) */
        json_t *o = json_is_object(opts) ? json_deep_copy(opts) : json_object();
        r = vcall(p, "VolumeDriver.Create", json_pack("{s:s, s:o}", "Name", name, "Opts", o), LONG_TIMEOUT_MS, NULL, err);
        if (r < 0)
                return berr_wrap(err, "create %s", name);
        char created[40];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
        _cleanup_json_ json_t *rec = json_pack("{s:s, s:s, s:s, s:o, s:o, s:{}}", "Name", name, "Driver", driver,
                                               "CreatedAt", created, "Labels",
                                               json_is_object(labels) ? json_deep_copy(labels) : json_object(), "Options",
                                               json_is_object(opts) ? json_deep_copy(opts) : json_object(), "Mounts");
        if (!rec)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        /* dockerd's adapter asks the driver for the path (Path) when it shows the volume */
        _cleanup_json_ json_t *path = NULL;
        struct berr pe = { 0 };
        if (vcall(p, "VolumeDriver.Path", json_pack("{s:s}", "Name", name), SHORT_TIMEOUT_MS, &path, &pe) == 0 &&
            json_is_string(json_object_get(path, "Mountpoint"))) {
                char host[4096]; /* a managed plugin's path is in its rootfs (dockerd's ScopedPath) */
                if (plugin_scoped_path(p, json_string_value(json_object_get(path, "Mountpoint")), host, sizeof(host)) == 0)
                        json_object_set_new(rec, "Mountpoint", json_string(host));
        }
        pthread_mutex_lock(&vs->lock);
        r = write_record(vs, name, rec, err);
        pthread_mutex_unlock(&vs->lock);
        if (r < 0)
                return r;
        if (ret)
                *ret = volume_object(rec, name, driver, NULL, scope_of(p), false);
        return 0;
}

/* The driver that has @name among all plugins (dockerd asks each when the name is not in
 * its store). */
static int find_unrecorded(struct vplug_store *vs, const char *name, struct plugin **ret_p, json_t **ret_vol) {
        struct plugin **ps = NULL;
        size_t n = 0;
        struct berr e = { 0 };
        if (plugin_get_all(vs->reg, PLUGIN_KIND_VOLUME, &ps, &n, &e) < 0)
                return -ENOENT;
        int r = -ENOENT;
        for (size_t i = 0; i < n && r < 0; i++) {
                json_t *o = NULL;
                struct berr ge = { 0 };
                if (vcall(ps[i], "VolumeDriver.Get", json_pack("{s:s}", "Name", name), SHORT_TIMEOUT_MS, &o, &ge) == 0 &&
                    json_is_object(json_object_get(o, "Volume"))) {
                        *ret_p = ps[i];
                        *ret_vol = o;
                        r = 0;
                } else
                        json_decref(o);
        }
        free(ps);
        return r;
}

int vplug_inspect(struct vplug_store *vs, const char *name, json_t **ret, struct berr *err) {
        _cleanup_json_ json_t *rec = NULL;
        int r = read_record(vs, name, &rec, err);
        struct plugin *p = NULL;
        _cleanup_json_ json_t *got = NULL;
        if (r < 0 && err->kind == BERR_NOT_FOUND && vplug_name_valid(name)) {
                if (find_unrecorded(vs, name, &p, &got) < 0)
                        return r;
                rec = json_pack("{s:s, s:s, s:{}, s:{}, s:{}}", "Name", name, "Driver", plugin_name(p), "Labels", "Options",
                                "Mounts");
        } else if (r < 0)
                return r;
        const char *driver = json_string_value(json_object_get(rec, "Driver"));
        if (!p) {
                if ((r = get_driver(vs, driver, &p, err)) < 0)
                        return r;
                if ((r = vcall(p, "VolumeDriver.Get", json_pack("{s:s}", "Name", name), SHORT_TIMEOUT_MS, &got, err)) < 0)
                        return berr_wrap(err, "get %s", name);
        }
        scope_mountpoint(p, json_object_get(got, "Volume"));
        *ret = volume_object(rec, name, driver, json_object_get(got, "Volume"), scope_of(p), true);
        return *ret ? 0 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
}

int vplug_list(struct vplug_store *vs, json_t **ret, json_t **ret_warnings, struct berr *err) {
        struct plugin **ps = NULL;
        size_t n = 0;
        int r = plugin_get_all(vs->reg, PLUGIN_KIND_VOLUME, &ps, &n, err);
        if (r < 0)
                return r;
        json_t *out = json_array(), *warnings = json_array();
        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ json_t *o = NULL;
                struct berr e = { 0 };
                if (vcall(ps[i], "VolumeDriver.List", json_object(), SHORT_TIMEOUT_MS, &o, &e) < 0) {
                        json_array_append_new(warnings, json_string(e.msg));
                        continue;
                }
                const char *scope = scope_of(ps[i]);
                size_t k;
                json_t *v;
                json_array_foreach(json_object_get(o, "Volumes"), k, v) {
                        const char *name = json_string_value(json_object_get(v, "Name"));
                        if (!name || !vplug_name_valid(name))
                                continue;
                        _cleanup_json_ json_t *rec = NULL;
                        struct berr re = { 0 };
                        if (read_record(vs, name, &rec, &re) < 0 ||
                            strcmp(json_string_value(json_object_get(rec, "Driver")), plugin_name(ps[i])) != 0) {
                                json_decref(rec);
                                rec = json_pack("{s:{}, s:{}}", "Labels", "Options");
                        }
                        scope_mountpoint(ps[i], v);
                        json_array_append_new(out, volume_object(rec, name, plugin_name(ps[i]), v, scope, false));
                }
        }
        free(ps);
        *ret = out;
        if (ret_warnings)
                *ret_warnings = warnings;
        else
                json_decref(warnings);
        return 0;
}

int vplug_remove(struct vplug_store *vs, const char *name, struct berr *err) {
        _cleanup_json_ json_t *rec = NULL;
        int r = read_record(vs, name, &rec, err);
        if (r < 0)
                return r;
        if (json_object_size(json_object_get(rec, "Mounts")) > 0)
                return berr_set(err, BERR_CONFLICT, EBUSY, "remove %s: volume is in use", name);
        struct plugin *p;
        if ((r = get_driver(vs, json_string_value(json_object_get(rec, "Driver")), &p, err)) < 0)
                return berr_wrap(err, "remove %s", name);
        if ((r = vcall(p, "VolumeDriver.Remove", json_pack("{s:s}", "Name", name), LONG_TIMEOUT_MS, NULL, err)) < 0)
                return berr_wrap(err, "remove %s", name);
        char path[512];
        pthread_mutex_lock(&vs->lock);
        if (fs_path_fmt(path, sizeof(path), "%s.json", name) == 0 && unlinkat(vs->root_fd, path, 0) < 0 && errno != ENOENT)
                r = berr_sys(err, BERR_INTERNAL, "remove volume record %s", name);
        pthread_mutex_unlock(&vs->lock);
        return r;
}

/* Set (or with @state NULL remove) the mount entry @key of @name; *@ret_id gets the entry's
 * mount ID (a new one when it had none). */
static int set_entry_locked(struct vplug_store *vs, const char *name, const char *key, const char *ctr_id,
                            const char *state, const char *mountpoint, char ret_id[ID_HEX_LEN + 1], struct berr *err) {
        json_t *rec = NULL;
        int r = read_record(vs, name, &rec, err);
        if (r == 0) {
                json_t *mounts = json_object_get(rec, "Mounts");
                json_t *m = json_object_get(mounts, key);
                if (!state)
                        json_object_del(mounts, key);
                else {
                        if (!json_is_object(m)) {
                                char id[ID_HEX_LEN + 1];
                                if ((r = id_random_hex(id, err)) == 0) {
                                        m = json_pack("{s:s, s:s}", "ID", id, "Container", ctr_id);
                                        json_object_set_new(mounts, key, m);
                                }
                        }
                        if (r == 0) {
                                json_object_set_new(m, "State", json_string(state));
                                if (ret_id)
                                        snprintf(ret_id, ID_HEX_LEN + 1, "%s", json_string_value(json_object_get(m, "ID")) ?: "");
                        }
                }
                if (r == 0 && mountpoint)
                        json_object_set_new(rec, "Mountpoint", json_string(mountpoint));
                if (r == 0)
                        r = write_record(vs, name, rec, err);
        }
        json_decref(rec);
        return r;
}

static int set_entry(struct vplug_store *vs, const char *name, const char *key, const char *ctr_id, const char *state,
                     const char *mountpoint, char ret_id[ID_HEX_LEN + 1], struct berr *err) {
        pthread_mutex_lock(&vs->lock);
        int r = set_entry_locked(vs, name, key, ctr_id, state, mountpoint, ret_id, err);
        pthread_mutex_unlock(&vs->lock);
        return r;
}

static int mount_entry(struct vplug_store *vs, const char *name, const char *key, const char *ctr_id,
                       char id[ID_HEX_LEN + 1], char *out, size_t size, struct berr *err) {
        _cleanup_json_ json_t *rec = NULL;
        int r = read_record(vs, name, &rec, err);
        if (r < 0)
                return r;
        json_t *have = json_object_get(json_object_get(rec, "Mounts"), key);
        const char *hs = json_string_value(json_object_get(have, "State"));
        const char *hmp = json_string_value(json_object_get(rec, "Mountpoint"));
        if (hs && strcmp(hs, "mounted") == 0 && hmp && *hmp) { /* this container's mount is still up */
                snprintf(out, size, "%s", hmp);
                return 0;
        }
        struct plugin *p;
        if ((r = get_driver(vs, json_string_value(json_object_get(rec, "Driver")), &p, err)) < 0)
                return r;
        /* Named before the call: a crash after the plugin mounted leaves an entry to unmount. */
        if ((r = set_entry(vs, name, key, ctr_id, "mounting", NULL, id, err)) < 0)
                return r;
        _cleanup_json_ json_t *o = NULL;
        r = vcall(p, "VolumeDriver.Mount", json_pack("{s:s, s:s}", "Name", name, "ID", id), LONG_TIMEOUT_MS, &o, err);
        const char *mp = json_string_value(json_object_get(o, "Mountpoint"));
        char host[4096]; /* a managed plugin's path is in its rootfs (dockerd's ScopedPath) */
        if (r == 0 && (!mp || mp[0] != '/'))
                r = berr_set(err, BERR_INTERNAL, EINVAL, "VolumeDriver.Mount: the plugin answered no absolute Mountpoint");
        if (r == 0 && plugin_scoped_path(p, mp, host, sizeof(host)) < 0)
                r = berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "VolumeDriver.Mount: Mountpoint too long");
        if (r == 0)
                mp = host;
        if (r < 0) {
                struct berr e2 = { 0 };
                /* A refused Mount holds nothing (dockerd does not unmount it either). */
                (void) set_entry(vs, name, key, ctr_id, NULL, NULL, NULL, &e2);
                return r;
        }
        if ((r = set_entry(vs, name, key, ctr_id, "mounted", mp, NULL, err)) < 0)
                return r;
        if (fs_path_fmt(out, size, "%s", mp) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "volume %s: mount point too long", name);
        return 0;
}

int vplug_mount(struct vplug_store *vs, const char *name, const char *ctr_id, const char *dst, char *out, size_t size,
                struct berr *err) {
        char key[4200], id[ID_HEX_LEN + 1];
        snprintf(key, sizeof(key), "%s:%s", ctr_id, dst);
        pthread_mutex_lock(&vs->lock);
        busy_take(vs, name, key);
        pthread_mutex_unlock(&vs->lock);
        int r = mount_entry(vs, name, key, ctr_id, id, out, size, err);
        busy_give(vs, name, key);
        return r;
}

/* Unmount entry @key of @name (state "mounting" or "mounted"); an entry marked
 * "unmounting" that no thread is working on had its Unmount sent before a crash: dropped
 * without a second one. */
static int unmount_entry(struct vplug_store *vs, const char *name, const char *key, bool wait, struct berr *err) {
        pthread_mutex_lock(&vs->lock);
        busy_take(vs, name, key);
        _cleanup_json_ json_t *rec = NULL;
        int r = read_record(vs, name, &rec, err);
        json_t *m = r == 0 ? json_object_get(json_object_get(rec, "Mounts"), key) : NULL;
        char state[32] = "", ctr[128] = "", id[ID_HEX_LEN + 1] = "";
        if (m) {
                snprintf(state, sizeof(state), "%s", json_string_value(json_object_get(m, "State")) ?: "");
                snprintf(ctr, sizeof(ctr), "%s", json_string_value(json_object_get(m, "Container")) ?: "");
                snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(m, "ID")) ?: "");
                if (strcmp(state, "unmounting") == 0) {
                        r = set_entry_locked(vs, name, key, ctr, NULL, NULL, NULL, err);
                        m = NULL;
                } else
                        r = set_entry_locked(vs, name, key, ctr, "unmounting", NULL, NULL, err);
        }
        pthread_mutex_unlock(&vs->lock);
        if (r < 0 || !m) {
                busy_give(vs, name, key);
                return r;
        }
        struct plugin *p;
        r = get_driver_now(vs, json_string_value(json_object_get(rec, "Driver")), wait, &p, err);
        bool reached = r == 0;
        if (r == 0)
                r = vcall(p, "VolumeDriver.Unmount", json_pack("{s:s, s:s}", "Name", name, "ID", id), LONG_TIMEOUT_MS,
                          NULL, err);
        if (r < 0 && err->kind == BERR_UNAVAILABLE) /* the connection was never made */
                reached = false;
        struct berr e2 = { 0 };
        int r2;
        if (!reached)
                /* never reached the plugin (gone, not found): kept for a later try */
                r2 = set_entry(vs, name, key, ctr, state, NULL, NULL, &e2);
        else
                r2 = set_entry(vs, name, key, ctr, NULL, NULL, NULL, &e2);
        busy_give(vs, name, key);
        if (r == 0 && r2 < 0) {
                *err = e2;
                r = r2;
        }
        return r;
}

/* Call @fn for each (volume, entry key, container) of every record. */
static void each_entry(struct vplug_store *vs, void (*fn)(struct vplug_store *, const char *, const char *, const char *, void *),
                       void *ctx) {
        int fd = openat(vs->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        _cleanup_json_ json_t *names = json_array();
        struct dirent *de;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                if (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0 && de->d_name[0] != '.')
                        json_array_append_new(names, json_stringn(de->d_name, n - 5));
        }
        closedir(d);
        size_t i;
        json_t *nv;
        json_array_foreach(names, i, nv) {
                _cleanup_json_ json_t *rec = NULL;
                struct berr e = { 0 };
                if (read_record(vs, json_string_value(nv), &rec, &e) < 0)
                        continue;
                const char *key;
                json_t *m;
                json_object_foreach(json_object_get(rec, "Mounts"), key, m)
                        fn(vs, json_string_value(nv), key, json_string_value(json_object_get(m, "Container")) ?: "", ctx);
        }
}

struct release_ctx {
        const char *ctr_id;
        bool (*alive)(void *, const char *);
        void *alive_ctx;
        int failures;
        struct berr *err; /* the first failure */
};

static void release_one(struct vplug_store *vs, const char *name, const char *key, const char *ctr, void *arg) {
        struct release_ctx *rc = arg;
        if (rc->ctr_id ? strcmp(ctr, rc->ctr_id) != 0 : rc->alive(rc->alive_ctx, ctr))
                return;
        struct berr e = { 0 };
        /* at start-up (recovery) a plugin that is not there is not waited for: the
         * entry is kept for the next try */
        if (unmount_entry(vs, name, key, rc->ctr_id != NULL, &e) < 0) {
                if (rc->failures++ == 0 && rc->err) {
                        *rc->err = e;
                        berr_wrap(rc->err, "volume %s: unmount for container %.12s", name, ctr);
                }
        }
}

int vplug_release_container(struct vplug_store *vs, const char *ctr_id, struct berr *err) {
        struct release_ctx rc = { .ctr_id = ctr_id, .err = err };
        each_entry(vs, release_one, &rc);
        return rc.failures ? -EIO : 0;
}

int vplug_recover(struct vplug_store *vs, bool (*alive)(void *ctx, const char *ctr_id), void *ctx, struct berr *err) {
        struct release_ctx rc = { .alive = alive, .alive_ctx = ctx, .err = err };
        each_entry(vs, release_one, &rc);
        return rc.failures ? -EIO : 0;
}

bool vplug_mountpoint(struct vplug_store *vs, const char *name, char *out, size_t size) {
        _cleanup_json_ json_t *rec = NULL;
        struct berr e = { 0 };
        if (!vs || read_record(vs, name, &rec, &e) < 0)
                return false;
        snprintf(out, size, "%s", json_string_value(json_object_get(rec, "Mountpoint")) ?: "");
        return true;
}

int vplug_mount_count(struct vplug_store *vs, const char *name) {
        _cleanup_json_ json_t *rec = NULL;
        struct berr e = { 0 };
        if (read_record(vs, name, &rec, &e) < 0)
                return 0;
        return (int) json_object_size(json_object_get(rec, "Mounts"));
}

json_t *vplug_records(struct vplug_store *vs) {
        json_t *out = json_array();
        int fd = openat(vs->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return out;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                if (n <= 5 || strcmp(de->d_name + n - 5, ".json") != 0 || de->d_name[0] == '.')
                        continue;
                char name[256];
                snprintf(name, sizeof(name), "%.*s", (int) (n - 5), de->d_name);
                json_t *rec = NULL;
                struct berr e = { 0 };
                if (read_record(vs, name, &rec, &e) == 0) {
                        json_t *labels = json_object_get(rec, "Labels");
                        json_array_append_new(out, json_pack("{s:s, s:O, s:o}", "Name", name, "Driver",
                                                             json_object_get(rec, "Driver"), "Labels",
                                                             labels ? json_incref(labels) : json_object()));
                }
                json_decref(rec);
        }
        closedir(d);
        return out;
}
