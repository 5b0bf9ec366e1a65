/* volumes.c - volume create, list, inspect, remove and prune for the API: the volume
 * store's calls, the containers' usage of each volume, and d->volume_lock around every
 * in-use check that leads to a removal. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/id.h"
#include "common/json.h"
#include "common/log.h"
#include "daemon/container.h"
#include "daemon/daemon.h"
#include "daemon/volumes.h"
#include "volume/volume.h"

static bool filter_bool(json_t *filters, const char *key, int *ret) {
        json_t *v = json_array_get(json_object_get(filters, key), 0);
        const char *s = json_string_value(v);
        if (!s)
                return false;
        *ret = strcmp(s, "true") == 0 || strcmp(s, "1") == 0;
        return true;
}

static bool label_has(json_t *labels, const char *s) {
        const char *eq = s ? strchr(s, '=') : NULL;
        char key[256];
        snprintf(key, sizeof(key), "%.*s", eq ? (int) (eq - s) : (int) strlen(s ? s : ""), s ? s : "");
        const char *have = json_string_value(json_object_get(labels, key));
        return have && (!eq || strcmp(have, eq + 1) == 0);
}

/* label=k[=v] (all must match), label!=k[=v] (none may) */
static bool labels_match(json_t *filters, json_t *labels) {
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(filters, "label"), i, f) if (!label_has(labels, json_string_value(f))) return false;
        json_array_foreach(json_object_get(filters, "label!"), i, f) if (label_has(labels, json_string_value(f))) return false;
        return true;
}

static bool volume_matches(json_t *used, json_t *filters, json_t *v) {
        const char *name = json_string_value(json_object_get(v, "Name"));
        size_t i;
        json_t *f;
        json_t *names = json_object_get(filters, "name");
        if (json_array_size(names) > 0) {
                bool any = false;
                json_array_foreach(names, i, f) if (json_is_string(f) && strstr(name, json_string_value(f))) any = true;
                if (!any)
                        return false;
        }
        json_t *drivers = json_object_get(filters, "driver");
        if (json_array_size(drivers) > 0) {
                bool any = false;
                const char *drv = json_string_value(json_object_get(v, "Driver")) ?: "local";
                json_array_foreach(drivers, i, f) if (json_is_string(f) && strcmp(json_string_value(f), drv) == 0) any = true;
                if (!any)
                        return false;
        }
        if (!labels_match(filters, json_object_get(v, "Labels")))
                return false;
        int dangling;
        if (filter_bool(filters, "dangling", &dangling)) {
                if (dangling == (json_object_get(used, name) != NULL))
                        return false;
        }
        return true;
}

int daemon_volume_create(struct daemon *d, const char *name, const char *driver, json_t *labels, json_t *driver_opts,
                         json_t **ret, struct berr *err) {
        bool local = !driver || !driver[0] || strcmp(driver, "local") == 0;
        char have[256];
        if (name && name[0]) { /* one name, one driver (dockerd's name conflict) */
                bool in_local = volume_exists(d->volumes, name);
                bool in_plugin = !in_local && vplug_driver_of(d->vplugs, name, have, sizeof(have));
                if (in_local)
                        snprintf(have, sizeof(have), "local");
                if ((in_local || in_plugin) && strcmp(have, local ? "local" : driver) != 0)
                        return berr_set(err, BERR_CONFLICT, EEXIST,
                                        "create %s: driver '%s' already has volume '%s': volume name must be unique", name, have,
                                        name);
        }
        if (local)
                return volume_create(d->volumes, name, driver, labels, driver_opts, false, ret, err);
        char gen[ID_HEX_LEN + 1];
        json_t *lab = NULL;
        if (!name || !name[0]) { /* an anonymous volume of the plugin */
                int r = id_random_hex(gen, err);
                if (r < 0)
                        return r;
                name = gen;
                lab = json_is_object(labels) ? json_deep_copy(labels) : json_object();
                json_object_set_new(lab, VOLUME_LABEL_ANONYMOUS, json_string(""));
        }
        int r = vplug_create(d->vplugs, name, driver, lab ? lab : labels, driver_opts, ret, err);
        json_decref(lab);
        return r;
}

int daemon_volume_list(struct daemon *d, json_t *filters, json_t **ret, struct berr *err) {
        _cleanup_json_ json_t *all = NULL;
        int r = volume_list(d->volumes, &all, err);
        if (r < 0)
                return r;
        /* and every volume plugin's (a plugin that fails is only logged) */
        _cleanup_json_ json_t *plugged = NULL, *warnings = NULL;
        struct berr pe = { 0 };
        if (vplug_list(d->vplugs, &plugged, &warnings, &pe) < 0)
                log_warn("volume plugins: %s", pe.msg);
        size_t i;
        json_t *v;
        json_array_foreach(warnings, i, v) log_warn("volume plugins: %s", json_string_value(v));
        json_array_foreach(plugged, i, v) {
                const char *name = json_string_value(json_object_get(v, "Name"));
                if (!volume_exists(d->volumes, name)) /* a local volume of that name is berth's own */
                        json_array_append(all, v);
        }
        json_t *out = json_array();
        bool known;
        _cleanup_json_ json_t *used = ctr_volumes_in_use(d, &known);
        json_array_foreach(all, i, v) if (volume_matches(used, filters, v)) json_array_append(out, v);
        *ret = out;
        return 0;
}

int daemon_volume_inspect(struct daemon *d, const char *name, json_t **ret, struct berr *err) {
        int r = volume_inspect(d->volumes, name, ret, err);
        if (r < 0 && err->kind == BERR_NOT_FOUND) {
                struct berr pe = { 0 };
                if ((r = vplug_inspect(d->vplugs, name, ret, &pe)) < 0 && pe.kind != BERR_NOT_FOUND)
                        *err = pe; /* the plugin's own failure, else "no such volume" */
        }
        return r;
}

int daemon_volume_remove_locked(struct daemon *d, const char *name, struct berr *err) {
        if (!volume_exists(d->volumes, name) && vplug_driver_of(d->vplugs, name, NULL, 0))
                return vplug_remove(d->vplugs, name, err);
        return volume_remove(d->volumes, name, err);
}

int daemon_volume_remove(struct daemon *d, const char *name, bool force, struct berr *err) {
        char users[1024];
        int r;
        pthread_mutex_lock(&d->volume_lock);
        if ((volume_exists(d->volumes, name) || vplug_driver_of(d->vplugs, name, NULL, 0)) &&
            ctr_volume_users(d, name, users, sizeof(users)) > 0)
                r = berr_set(err, BERR_CONFLICT, EBUSY, "remove %s: volume is in use - [%s]", name, users);
        else
                r = daemon_volume_remove_locked(d, name, err);
        pthread_mutex_unlock(&d->volume_lock);
        if (r < 0 && force && err->kind == BERR_NOT_FOUND)
                r = 0;
        return r;
}

int daemon_volume_prune(struct daemon *d, json_t *filters, json_t **ret, struct berr *err) {
        int all = 0;
        (void) filter_bool(filters, "all", &all);
        _cleanup_json_ json_t *vols = NULL;
        int r = volume_list(d->volumes, &vols, err);
        if (r < 0)
                return r;
        json_t *deleted = json_array();
        json_int_t reclaimed = 0;
        size_t i;
        json_t *v;
        /* Under volume_lock no container can take up a volume, so one look at what is in use
         * holds for the whole prune. */
        pthread_mutex_lock(&d->volume_lock);
        bool known;
        _cleanup_json_ json_t *used = ctr_volumes_in_use(d, &known);
        if (!known) {
                pthread_mutex_unlock(&d->volume_lock);
                json_decref(deleted);
                return berr_set(err, BERR_INTERNAL, EIO, "cannot tell which volumes are in use: a container's mounts are unreadable");
        }
        json_array_foreach(vols, i, v) {
                const char *name = json_string_value(json_object_get(v, "Name"));
                json_t *labels = json_object_get(v, "Labels");
                /* API 1.42: only anonymous volumes unless all=true */
                if (!all && !json_object_get(labels, VOLUME_LABEL_ANONYMOUS))
                        continue;
                if (!labels_match(filters, labels))
                        continue;
                if (json_object_get(used, name))
                        continue;
                unsigned long long size = volume_size(d->volumes, name);
                struct berr e = { 0 };
                if (volume_remove(d->volumes, name, &e) == 0) {
                        json_array_append_new(deleted, json_string(name));
                        reclaimed += (json_int_t) size;
                }
        }
        /* and the volumes of volume plugins berth made (their space is the plugin's) */
        _cleanup_json_ json_t *plugged = vplug_records(d->vplugs);
        json_array_foreach(plugged, i, v) {
                const char *name = json_string_value(json_object_get(v, "Name"));
                json_t *labels = json_object_get(v, "Labels");
                if (volume_exists(d->volumes, name) || json_object_get(used, name) ||
                    (!all && !json_object_get(labels, VOLUME_LABEL_ANONYMOUS)) || !labels_match(filters, labels))
                        continue;
                struct berr e = { 0 };
                if (vplug_remove(d->vplugs, name, &e) == 0)
                        json_array_append_new(deleted, json_string(name));
                else
                        log_warn("prune volume %s: %s", name, e.msg);
        }
        pthread_mutex_unlock(&d->volume_lock);
        if (json_array_size(deleted) == 0) {
                json_decref(deleted);
                deleted = json_null();
        }
        *ret = json_pack("{s:o, s:I}", "VolumesDeleted", deleted, "SpaceReclaimed", reclaimed);
        return 0;
}

int daemon_volume_list_with_usage(struct daemon *d, json_t **ret, struct berr *err) {
        json_t *vols = NULL;
        int r = volume_list(d->volumes, &vols, err);
        if (r < 0)
                return r;
        size_t i;
        json_t *v;
        bool known;
        _cleanup_json_ json_t *used = ctr_volumes_in_use(d, &known);
        json_array_foreach(vols, i, v) {
                const char *name = json_string_value(json_object_get(v, "Name"));
                json_object_set_new(v, "UsageData",
                                    json_pack("{s:I, s:I}", "Size", (json_int_t) volume_size(d->volumes, name),
                                              "RefCount", json_integer_value(json_object_get(used, name))));
        }
        *ret = vols;
        return 0;
}
