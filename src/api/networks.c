/* networks.c - GET /networks, GET /networks/{id}, POST /networks/create,
 * DELETE /networks/{id}, POST /networks/prune, POST /networks/{id}/connect and
 * /disconnect. Decode, one daemon call, encode. */
#include <string.h>
#include <time.h>

#include "api.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "daemon/container.h"
#include "daemon/daemon.h"
#include "daemon/networks.h"
#include "http.h"
#include "images_filters.h"

int api_networks_list(struct api_request *req, struct berr *err) {
        static const char *const allowed[] = { "dangling", "driver", "id", "label", "name", "scope", "type", NULL };
        _cleanup_json_ json_t *filters = NULL;
        int r = api_query_filters(req, allowed, &filters, err);
        if (r < 0)
                return r;
        struct daemon *d = req->ctx;
        json_t *out = NULL;
        if ((r = daemon_net_list(d, filters, &out, err)) < 0)
                return r;
        return api_reply_json(req, 200, out);
}

int api_networks_inspect(struct api_request *req, struct berr *err) {
        struct daemon *d = req->ctx;
        bool verbose;
        int r = api_query_bool(req, "verbose", false, &verbose, err);
        if (r < 0)
                return r;
        const char *scope = api_query(req, "scope");
        if (scope && *scope && strcmp(scope, "local") != 0)
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "network %s not found", req->params[0]);
        json_t *out = NULL;
        if ((r = daemon_net_inspect(d, req->params[0], verbose, &out, err)) < 0)
                return r;
        return api_reply_json(req, 200, out);
}

int api_networks_create(struct api_request *req, struct berr *err) {
        _cleanup_json_ json_t *body = NULL;
        int r = api_body_json(req, &body, err);
        if (r < 0)
                return r;
        struct daemon *d = req->ctx;
        char id[65], warning[256];
        if ((r = daemon_net_create(d, body, id, warning, err)) < 0)
                return r;
        return api_reply_json(req, 201, json_pack("{s:s, s:s}", "Id", id, "Warning", warning));
}

int api_networks_delete(struct api_request *req, struct berr *err) {
        struct daemon *d = req->ctx;
        int r = daemon_net_remove(d, req->params[0], err);
        return r < 0 ? r : api_reply_empty(req, 204);
}

int api_networks_prune(struct api_request *req, struct berr *err) {
        static const char *const allowed[] = { "until", "label", "label!", NULL };
        _cleanup_json_ json_t *filters = NULL;
        int r = api_query_filters(req, allowed, &filters, err);
        if (r < 0)
                return r;
        /* until= as every prune reads it: a duration, Unix seconds or RFC 3339. */
        int64_t until_ns = 0;
        const char *until = json_string_value(json_array_get(json_object_get(filters, "until"), 0));
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (until && (r = api_parse_timestamp(until, (int64_t) now.tv_sec * 1000000000 + now.tv_nsec, &until_ns, err)) < 0)
                return r;
        struct daemon *d = req->ctx;
        json_t *deleted = NULL;
        if ((r = daemon_net_prune(d, filters, until_ns, &deleted, err)) < 0)
                return r;
        if (json_array_size(deleted) == 0) {
                json_decref(deleted);
                deleted = json_null();
        }
        return api_reply_json(req, 200, json_pack("{s:o}", "NetworksDeleted", deleted));
}

static int connect_or_disconnect(struct api_request *req, bool connect, struct berr *err) {
        _cleanup_json_ json_t *body = NULL;
        int r = api_body_json(req, &body, err);
        if (r < 0)
                return r;
        struct daemon *d = req->ctx;
        const char *ref = NULL;
        if ((r = json_get_string(body, "Container", &ref, err)) < 0)
                return r;
        if (!ref || !*ref)
                return berr_set(err, BERR_INVALID, EINVAL, "no container specified");
        struct container *c = NULL;
        if ((r = ctr_lookup(d, ref, &c, err)) < 0)
                return r;
        if (connect)
                r = ctr_net_connect(d, c, req->params[0], json_object_get(body, "EndpointConfig"), err);
        else
                r = ctr_net_disconnect(d, c, req->params[0], json_is_true(json_object_get(body, "Force")), err);
        ctr_unref(d, c);
        return r < 0 ? r : api_reply_empty(req, 200);
}

int api_networks_connect(struct api_request *req, struct berr *err) {
        return connect_or_disconnect(req, true, err);
}

int api_networks_disconnect(struct api_request *req, struct berr *err) {
        return connect_or_disconnect(req, false, err);
}
