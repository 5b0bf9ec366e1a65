/* plugins.c - the managed-plugin endpoints (`docker plugin install/create/enable/...`).
 * berth runs legacy plugins (found in the plugin directories, plugin/plugin.h) but has no
 * managed plugins: installing or creating one is refused as not supported, and every
 * named plugin is one that does not exist, as dockerd answers for an unknown name. */
#include <stdio.h>

#include "api.h"
#include "common/err.h"
#include "http.h"

#define NO_MANAGED \
        "managed plugins (docker plugin install/create) are not supported by berth; legacy plugins in " \
        "/run/docker/plugins, /etc/docker/plugins and /usr/lib/docker/plugins are"

/* GET /plugins/privileges, POST /plugins/pull, POST /plugins/create */
int api_plugins_unsupported(struct api_request *req, struct berr *err) {
        (void) req;
        return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, NO_MANAGED);
}

/* GET /plugins/{name}/json, DELETE /plugins/{name}, POST /plugins/{name}/(enable|disable|
 * push|set|upgrade): no managed plugin has that name. */
int api_plugins_named(struct api_request *req, struct berr *err) {
        return berr_set(err, BERR_NOT_FOUND, ENOENT, "plugin \"%s\" not found", req->params[0]);
}
