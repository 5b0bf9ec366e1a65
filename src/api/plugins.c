/* plugins.c - the managed-plugin endpoints (`docker plugin create/install/enable/disable/
 * inspect/ls/rm/set/push/upgrade`, /plugins/privileges): decode, one call into
 * daemon/plugin_mgr.h, encode. Pull, push and upgrade answer a JSON progress stream; an
 * error before any progress is the HTTP answer, after it a message in the stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "daemon/plugin_mgr.h"
#include "http.h"

/* ---- progress streams ---- */

struct progress {
        char *buf;
        size_t len, off;
        FILE *f;
        bool any;
};

static void on_progress(void *opaque, json_t *msg) {
        struct progress *p = opaque;
        _cleanup_free_ char *text = json_dumps(msg, JSON_COMPACT);
        if (text && p->f) {
                fprintf(p->f, "%s\r\n", text);
                p->any = true;
        }
}

static ssize_t progress_read(void *opaque, char *buf, size_t max) {
        struct progress *p = opaque;
        size_t n = p->len - p->off < max ? p->len - p->off : max;
        memcpy(buf, p->buf + p->off, n);
        p->off += n;
        return (ssize_t) n;
}

static void progress_free(void *opaque) {
        struct progress *p = opaque;
        free(p->buf);
        free(p);
}

static struct progress *progress_new(void) {
        struct progress *p = calloc(1, sizeof(*p));
        if (p && !(p->f = open_memstream(&p->buf, &p->len))) {
                free(p);
                p = NULL;
        }
        return p;
}

/* The stream as the answer; @r < 0 with nothing sent yet: the error instead. */
static int progress_reply(struct api_request *req, struct progress *p, int r, const struct berr *err) {
        if (r < 0 && !p->any) {
                fclose(p->f);
                progress_free(p);
                return r;
        }
        if (r < 0) {
                json_t *e = json_pack("{s:{s:s}, s:s}", "errorDetail", "message", err->msg, "error", err->msg);
                on_progress(p, e);
                json_decref(e);
        }
        fclose(p->f);
        p->f = NULL;
        if (!p->buf)
                p->len = 0;
        return api_reply_stream(req, 200, "application/json", progress_read, progress_free, p);
}

/* The granted privileges: the body, a JSON array (dockerd's ReadJSON). */
static int privileges_body(struct api_request *req, json_t **ret, struct berr *err) {
        json_error_t je;
        *ret = req->body && req->body_len ? json_loadb(req->body, req->body_len, 0, &je) : json_array();
        if (!*ret)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid JSON: %s", je.text);
        return 0;
}

/* GET /plugins/privileges?remote= */
int api_plugins_privileges(struct api_request *req, struct berr *err) {
        json_t *out = NULL;
        int r = pmgr_privileges(req->ctx, api_query(req, "remote"), api_header(req, "X-Registry-Auth"), &out, err);
        if (r < 0)
                return r;
        return api_reply_json(req, 200, out);
}

/* POST /plugins/pull?remote=&name= */
int api_plugins_pull(struct api_request *req, struct berr *err) {
        _cleanup_json_ json_t *granted = NULL;
        int r = privileges_body(req, &granted, err);
        if (r < 0)
                return r;
        struct progress *p = progress_new();
        if (!p)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        char name[600] = "";
        r = pmgr_pull(req->ctx, api_query(req, "remote"), api_query(req, "name"), api_header(req, "X-Registry-Auth"),
                      granted, on_progress, p, name, err);
        /* only with the stream, answered here: an error answer is sent after this returns
         * and @name would be gone by then */
        if (name[0] && (r == 0 || p->any))
                api_add_header(req, "Docker-Plugin-Name", name);
        return progress_reply(req, p, r, err);
}

/* POST /plugins/{name}/upgrade?remote= */
int api_plugins_upgrade(struct api_request *req, struct berr *err) {
        _cleanup_json_ json_t *granted = NULL;
        int r = privileges_body(req, &granted, err);
        if (r < 0)
                return r;
        struct progress *p = progress_new();
        if (!p)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        r = pmgr_upgrade(req->ctx, req->params[0], api_query(req, "remote"), api_header(req, "X-Registry-Auth"), granted,
                         on_progress, p, err);
        api_add_header(req, "Docker-Plugin-Name", req->params[0]);
        return progress_reply(req, p, r, err);
}

/* POST /plugins/{name}/push */
int api_plugins_push(struct api_request *req, struct berr *err) {
        struct progress *p = progress_new();
        if (!p)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = pmgr_push(req->ctx, req->params[0], api_header(req, "X-Registry-Auth"), on_progress, p, err);
        return progress_reply(req, p, r, err);
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
