/* remote.c - calls to network and IPAM driver plugins (remote.h) through the plugin
 * registry: dockerd's plugins.Get for the kind, one POST per call, and an answer's
 * {"Err"} (network drivers) or {"Error"} (IPAM drivers) worded as libnetwork words it,
 * "remote: MESSAGE". A status other than 200 is plugin_call's "METHOD: MESSAGE". The
 * network store never holds its lock across these calls. */
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "plugin/plugin.h"
#include "remote.h"

/* dockerd's plugin client has no per-call timeout beyond its HTTP client's (none for
 * network drivers); a plugin that hangs must not hold a container start for ever. */
#define REMOTE_TIMEOUT_MS (2 * 60 * 1000)

static int find(struct plugin_registry *reg, const char *name, const char *kind, struct plugin **ret, struct berr *err) {
        if (!reg)
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "plugin \"%s\" not found", name);
        return plugin_get(reg, name, kind, ret, err);
}

static int call(struct plugin_registry *reg, const char *name, const char *kind, const char *method, json_t *args,
                json_t **ret, struct berr *err) {
        struct plugin *p;
        int r = find(reg, name, kind, &p, err);
        if (r < 0) {
                json_decref(args);
                return r;
        }
        char full[128];
        snprintf(full, sizeof(full), "%s.%s", kind, method);
        json_t *o = NULL;
        r = plugin_call(p, full, args, REMOTE_TIMEOUT_MS, &o, err);
        json_decref(args);
        if (r < 0)
                return r;
        const char *e = remote_answer_error(o);
        if (e) {
                r = berr_set(err, BERR_INTERNAL, EIO, "remote: %s", e);
                json_decref(o);
                return r;
        }
        if (ret)
                *ret = o ? o : json_object();
        else
                json_decref(o);
        return 0;
}

int remote_driver_call(struct plugin_registry *reg, const char *driver, const char *method, json_t *args,
                       json_t **ret, struct berr *err) {
        return call(reg, driver, PLUGIN_KIND_NETWORK, method, args, ret, err);
}

int remote_ipam_call(struct plugin_registry *reg, const char *driver, const char *method, json_t *args,
                     json_t **ret, struct berr *err) {
        return call(reg, driver, PLUGIN_KIND_IPAM, method, args, ret, err);
}

int remote_driver_find(struct plugin_registry *reg, const char *name, struct berr *err) {
        struct plugin *p;
        return find(reg, name, PLUGIN_KIND_NETWORK, &p, err);
}

int remote_ipam_find(struct plugin_registry *reg, const char *name, struct berr *err) {
        struct plugin *p;
        return find(reg, name, PLUGIN_KIND_IPAM, &p, err);
}
