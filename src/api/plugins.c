/* plugins.c - the managed-plugin endpoints (`docker plugin create/enable/disable/inspect/
 * ls/rm/set`): decode, one call into daemon/plugin_mgr.h, encode. Installing from and
 * pushing to a registry (pull, privileges, push, upgrade) are not supported yet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "daemon/plugin_mgr.h"
#include "http.h"

#define NO_REGISTRY \
        "installing, upgrading and pushing managed plugins through a registry is not supported by berth; " \
        "docker plugin create is"

/* GET /plugins/privileges, POST /plugins/pull, POST /plugins/{name}/(push|upgrade) */
int api_plugins_unsupported(struct api_request *req, struct berr *err) {
        (void) req;
        return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, NO_REGISTRY);
}

/* GET /plugins */
int api_plugins_ls(struct api_request *req, struct berr *err) {
        static const char *const allowed[] = { "enabled", "capability", NULL };
        _cleanup_json_ json_t *filters = NULL;
        int r = api_query_filters(req, allowed, &filters, err);
        if (r < 0)
                return r;
        json_t *out = NULL;
        if ((r = pmgr_list(req->ctx, filters, &out, err)) < 0)
                return r;
        return api_reply_json(req, 200, out);
}

/* GET /plugins/{name}/json */
int api_plugins_inspect(struct api_request *req, struct berr *err) {
        json_t *out = NULL;
        int r = pmgr_inspect(req->ctx, req->params[0], &out, err);
        if (r < 0)
                return r;
        return api_reply_json(req, 200, out);
}

/* POST /plugins/create?name= (the body: a tar of config.json and rootfs/) */
int api_plugins_create(struct api_request *req, struct berr *err) {
        int r = pmgr_create(req->ctx, api_query(req, "name"), req->body_fd, err);
        if (r < 0)
                return r;
        return api_reply_empty(req, 204);
}

/* POST /plugins/{name}/enable?timeout= */
int api_plugins_enable(struct api_request *req, struct berr *err) {
        const char *t = api_query(req, "timeout");
        char *end = NULL;
        long timeout = t ? strtol(t, &end, 10) : 0;
        if (!t || !*t || *end || timeout < 0 || timeout > 3600) /* strconv.Atoi, as dockerd parses it */
                return berr_set(err, BERR_INVALID, EINVAL, "strconv.Atoi: parsing \"%s\": invalid syntax", t ? t : "");
        int r = pmgr_enable(req->ctx, req->params[0], (int) timeout, err);
        if (r < 0)
                return r;
        return api_reply_empty(req, 200);
}

/* POST /plugins/{name}/disable?force= */
int api_plugins_disable(struct api_request *req, struct berr *err) {
        bool force;
        int r = api_query_bool(req, "force", false, &force, err);
        if (r == 0)
                r = pmgr_disable(req->ctx, req->params[0], force, err);
        if (r < 0)
                return r;
        return api_reply_empty(req, 200);
}

/* DELETE /plugins/{name}?force= */
int api_plugins_remove(struct api_request *req, struct berr *err) {
        bool force;
        int r = api_query_bool(req, "force", false, &force, err);
        if (r == 0)
                r = pmgr_remove(req->ctx, req->params[0], force, err);
        if (r < 0)
                return r;
        return api_reply_empty(req, 200);
}

/* POST /plugins/{name}/set (the body: ["NAME=value", ...]) */
int api_plugins_set(struct api_request *req, struct berr *err) {
        json_error_t je;
        _cleanup_json_ json_t *args = req->body && req->body_len ? json_loadb(req->body, req->body_len, 0, &je) : NULL;
        if (req->body && req->body_len && !args)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid JSON: %s", je.text);
        int r = pmgr_set(req->ctx, req->params[0], args ? args : json_array(), err);
        if (r < 0)
                return r;
        return api_reply_empty(req, 204);
}
