/* volumes.c - volume create, list, inspect, remove and prune for the API: the volume
 * store's calls, the containers' usage of each volume, and d->volume_lock around every
 * in-use check that leads to a removal. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
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
                json_array_foreach(drivers, i, f) if (json_is_string(f) && strcmp(json_string_value(f), "local") == 0) any = true;
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
        return volume_create(d->volumes, name, driver, labels, driver_opts, false, ret, err);
}

int daemon_volume_list(struct daemon *d, json_t *filters, json_t **ret, struct berr *err) {
        _cleanup_json_ json_t *all = NULL;
        int r = volume_list(d->volumes, &all, err);
        if (r < 0)
                return r;
        json_t *out = json_array();
        size_t i;
        json_t *v;
        bool known;
        _cleanup_json_ json_t *used = ctr_volumes_in_use(d, &known);
        json_array_foreach(all, i, v) if (volume_matches(used, filters, v)) json_array_append(out, v);
        *ret = out;
        return 0;
}

int daemon_volume_inspect(struct daemon *d, const char *name, json_t **ret, struct berr *err) {
        return volume_inspect(d->volumes, name, ret, err);
}

int daemon_volume_remove(struct daemon *d, const char *name, bool force, struct berr *err) {
        char users[1024];
        int r;
        pthread_mutex_lock(&d->volume_lock);
        if (volume_exists(d->volumes, name) && ctr_volume_users(d, name, users, sizeof(users)) > 0)
                r = berr_set(err, BERR_CONFLICT, EBUSY, "remove %s: volume is in use - [%s]", name, users);
        else
                r = volume_remove(d->volumes, name, err);
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
