/* volumes.c - POST /volumes/create, GET /volumes, GET /volumes/{name},
 * DELETE /volumes/{name}, POST /volumes/prune. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "common/json_check.h"
#include "daemon/volumes.h"
#include "http.h"

/* volume.CreateOptions as dockerd decodes it: a wrongly typed field is Go's decode error,
 * never a record that breaks `docker volume ls`. */
static const struct json_field create_options_fields[] = {
        { "Name", &json_type_string },
        { "Driver", &json_type_string },
        { "DriverOpts", &json_type_string_map },
        { "Labels", &json_type_string_map },
        { "ClusterVolumeSpec", &json_type_any },
        { 0 },
};
static const struct json_type create_options_type =
        JSON_TYPE_STRUCT("volume.CreateOptions", "CreateOptions", create_options_fields);

int api_volumes_create(struct api_request *req, struct berr *err) {
        _cleanup_json_ json_t *body = NULL;
        int r = api_body_json(req, &body, err);
        if (r == 0)
                r = json_check_type(body, &create_options_type, err);
        if (r < 0)
                return r;
        json_t *v = NULL;
        r = daemon_volume_create(req->ctx, json_string_value(json_object_get(body, "Name")),
                                 json_string_value(json_object_get(body, "Driver")), json_object_get(body, "Labels"),
                                 json_object_get(body, "DriverOpts"), &v, err);
        return r < 0 ? r : api_reply_json(req, 201, v);
}

int api_volumes_list(struct api_request *req, struct berr *err) {
        static const char *const allowed[] = { "dangling", "driver", "label", "name", NULL };
        _cleanup_json_ json_t *filters = NULL;
        int r = api_query_filters(req, allowed, &filters, err);
        if (r < 0)
                return r;
        json_t *out = NULL;
        if ((r = daemon_volume_list(req->ctx, filters, &out, err)) < 0)
                return r;
        return api_reply_json(req, 200, json_pack("{s:o, s:n}", "Volumes", out, "Warnings"));
}

int api_volumes_inspect(struct api_request *req, struct berr *err) {
        json_t *v = NULL;
        int r = daemon_volume_inspect(req->ctx, req->params[0], &v, err);
        return r < 0 ? r : api_reply_json(req, 200, v);
}

int api_volumes_delete(struct api_request *req, struct berr *err) {
        bool force;
        int r = api_query_bool(req, "force", false, &force, err);
        if (r < 0)
                return r;
        r = daemon_volume_remove(req->ctx, req->params[0], force, err);
        return r < 0 ? r : api_reply_empty(req, 204);
}

int api_volumes_prune(struct api_request *req, struct berr *err) {
        static const char *const allowed[] = { "label", "label!", "all", NULL };
        _cleanup_json_ json_t *filters = NULL;
        int r = api_query_filters(req, allowed, &filters, err);
        if (r < 0)
                return r;
        json_t *out = NULL;
        if ((r = daemon_volume_prune(req->ctx, filters, &out, err)) < 0)
                return r;
        return api_reply_json(req, 200, out);
}
