/* distribution.c - the registry endpoints: pull (POST /images/create?fromImage=, reached
 * through api_images_create), push (POST /images/{name}/push), login (POST /auth) and
 * GET /distribution/{name}/json. Pull and push are transfers the daemon runs in the
 * background (daemon/registry.c); the response streams their progress as it comes, and
 * a client that goes away cancels them. An error before the first message is answered
 * with its HTTP status, as dockerd does. */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "api.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "daemon/registry.h"

static ssize_t transfer_read(void *ctx, char *buf, size_t max) {
        return daemon_transfer_read(ctx, buf, max);
}

static void transfer_close(void *ctx) {
        daemon_transfer_close(ctx);
}

/* ---- POST /images/create?fromImage=&tag=&platform= ---- */

int api_images_pull(struct api_request *req, struct berr *err) {
        const char *from = api_query(req, "fromImage");
        if (!from || !from[0])
                return berr_set(err, BERR_INVALID, EINVAL, "fromImage is required");
        struct daemon_transfer *t;
        int r = daemon_image_pull(req->ctx, from, api_query(req, "tag"), api_query(req, "platform"),
                                  api_header(req, "X-Registry-Auth"), &t, err);
        if (r < 0)
                return r;
        return api_reply_stream(req, 200, "application/json", transfer_read, transfer_close, t);
}

/* ---- POST /images/{name}/push?tag= ---- */

int api_images_push(struct api_request *req, struct berr *err) {
        struct daemon_transfer *t;
        int r = daemon_image_push(req->ctx, req->params[0] ? req->params[0] : "", api_query(req, "tag"),
                                  api_header(req, "X-Registry-Auth"), &t, err);
        if (r < 0)
                return r;
        return api_reply_stream(req, 200, "application/json", transfer_read, transfer_close, t);
}

/* ---- POST /auth ---- */

int api_auth(struct api_request *req, struct berr *err) {
        _cleanup_json_ json_t *body = NULL;
        /* dockerd decodes /auth without looking at Content-Type */
        int r = json_parse_object(req->body, req->body_len, &body, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *identity = NULL;
        r = daemon_registry_login(req->ctx, body, &identity, err);
        if (r < 0)
                return r;
        return api_reply_json(req, 200, json_pack("{s:s, s:s}", "Status", "Login Succeeded", "IdentityToken",
                                                  identity ? identity : ""));
}

/* ---- GET /distribution/{name}/json ---- */

int api_distribution_inspect(struct api_request *req, struct berr *err) {
        json_t *out = NULL;
        int r = daemon_distribution_inspect(req->ctx, req->params[0] ? req->params[0] : "",
                                            api_header(req, "X-Registry-Auth"), &out, err);
        if (r < 0)
                return r;
        return api_reply_json(req, 200, out);
}

/* GET /images/search?term=&limit=&filters= */
static int search_bool(json_t *filters, const char *key, int *ret, struct berr *err) {
        *ret = -1;
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(filters, key), i, v) {
                const char *s = json_string_value(v);
                if (s && (STREQ(s, "true") || STREQ(s, "1")))
                        *ret = 1;
                else if (s && (STREQ(s, "false") || STREQ(s, "0")))
                        *ret = 0;
                else
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid filter '%s=%s'", key, s ? s : "");
        }
        return 0;
}

int api_images_search(struct api_request *req, struct berr *err) {
        static const char *const allowed[] = { "is-automated", "is-official", "stars", NULL };
        int64_t limit;
        int r = api_query_int(req, "limit", 0, &limit, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *filters = NULL;
        if ((r = api_query_filters(req, allowed, &filters, err)) < 0)
                return r;
        const char *term = api_query(req, "term");
        struct daemon_search_opts o = { .term = term ? term : "", .limit = limit == 0 ? 25 : limit < 0 || limit > 1000 ? -1 : (int) limit };
        if ((r = search_bool(filters, "is-official", &o.is_official, err)) < 0 ||
            (r = search_bool(filters, "is-automated", &o.is_automated, err)) < 0)
                return r;
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(filters, "stars"), i, v) {
                const char *s = json_string_value(v);
                char *end = NULL;
                long n = s ? strtol(s, &end, 10) : 0;
                if (!s || !*s || *end)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid filter 'stars=%s'", s ? s : "");
                if (n > o.stars)
                        o.stars = n;
        }
        json_t *out = NULL;
        if ((r = daemon_image_search(req->ctx, &o, api_header(req, "X-Registry-Auth"), &out, err)) < 0)
                return r;
        return api_reply_json(req, 200, out);
}
