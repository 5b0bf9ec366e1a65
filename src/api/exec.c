/* exec.c - POST /containers/{id}/exec, POST /exec/{id}/start, GET /exec/{id}/json,
 * POST /exec/{id}/resize. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "daemon/container.h"
#include "daemon/exec.h"
#include "http.h"

/* Go's decoder matches keys to fields case-insensitively (the exact name first), and
 * clients rely on it: docker-py sends the exec's "detachKeys". Rename such keys to the
 * field's name, keeping an exact one when both are there. */
static void go_field_names(json_t *body, const char *const *fields) {
        for (const char *const *f = fields; *f; f++) {
                if (json_object_get(body, *f))
                        continue;
                const char *key;
                json_t *v;
                json_object_foreach(body, key, v) {
                        if (strcasecmp(key, *f) == 0) {
                                json_object_set(body, *f, v);
                                json_object_del(body, key);
                                break;
                        }
                }
        }
}

int api_containers_exec(struct api_request *req, struct berr *err) {
        static const char *const exec_fields[] = { "User", "Privileged", "Tty", "ConsoleSize", "AttachStdin",
                                                   "AttachStderr", "AttachStdout", "Detach", "DetachKeys", "Env",
                                                   "WorkingDir", "Cmd", NULL };
        _cleanup_json_ json_t *body = NULL;
        int r = api_body_json(req, &body, err);
        if (r < 0)
                return r;
        go_field_names(body, exec_fields);
        struct container *c;
        if ((r = ctr_lookup(req->ctx, req->params[0], &c, err)) < 0)
                return r;
        char id[65];
        r = exec_create(req->ctx, c, body, id, err);
        ctr_unref(req->ctx, c);
        if (r < 0)
                return r;
        return api_reply_json(req, 201, json_pack("{s:s}", "Id", id));
}

struct start_ctx {
        struct daemon *d;
        struct container *c;
        char id[65];
};

static void start_run(void *p, int fd, const char *extra, size_t extra_len) {
        struct start_ctx *s = p;
        struct berr err = { 0 };
        (void) extra; /* Docker clients send nothing before the 101 */
        (void) extra_len;
        /* docker-py reads the stream from under its buffered HTTP reader: output that came
         * with the 101's headers was lost to it (an exec of `echo` printed nothing, about
         * one in 40 here, more as the exec got faster). The wait comes once the exec is
         * prepared, just before the process is asked for, so the two overlap. */
        (void) exec_run_hooked(s->d, s->id, s->c, fd, api_wait_headers_read, &err);
}

static void start_free(void *p) {
        struct start_ctx *s = p;
        ctr_unref(s->d, s->c);
        free(s);
}

/* Without an upgrade (dockerode's hijack:false), dockerd still answers with the raw
 * stream: the answer relays what exec_run_relayed's socket carries as an ordinary
 * streamed body. */
static ssize_t relay_read(void *p, char *buf, size_t max) {
        int fd = (int) (intptr_t) p;
        for (;;) {
                ssize_t n = read(fd, buf, max);
                if (n < 0 && errno == EINTR)
                        continue;
                return n < 0 ? -1 : n;
        }
}

static void relay_free(void *p) {
        close((int) (intptr_t) p); /* a client that left: the shim's writes fail, the exec goes on */
}

static int start_relayed(struct api_request *req, struct start_ctx *s, bool tty, struct berr *err) {
        int fd;
        int r = exec_run_relayed(s->d, s->id, s->c, &fd, err);
        free(s); /* its container reference went to exec_run_relayed */
        if (r < 0)
                return r;
        return api_reply_stream(req, 200, tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream",
                                relay_read, relay_free, (void *) (intptr_t) fd);
}

int api_exec_start(struct api_request *req, struct berr *err) {
        static const char *const start_fields[] = { "Detach", "Tty", "ConsoleSize", NULL };
        _cleanup_json_ json_t *body = NULL;
        int r = api_body_json(req, &body, err);
        if (r < 0)
                return r;
        go_field_names(body, start_fields);
        bool detach = json_is_true(json_object_get(body, "Detach"));
        const char *up = api_header(req, "Upgrade");
        bool upgrade = up && strcasecmp(up, "tcp") == 0;
        struct start_ctx *s = calloc(1, sizeof(*s));
        if (!s)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        snprintf(s->id, sizeof(s->id), "%s", req->params[0]);
        s->d = req->ctx;
        bool tty = json_is_true(json_object_get(body, "Tty")); /* the stream's framing, as dockerd */
        unsigned rows = 0, cols = 0;
        json_t *cs = json_object_get(body, "ConsoleSize");
        if (json_is_array(cs) && json_array_size(cs) == 2) {
                json_int_t h = json_integer_value(json_array_get(cs, 0)), w = json_integer_value(json_array_get(cs, 1));
                if (h < 0 || w < 0 || h > 65535 || w > 65535) {
                        free(s);
                        return berr_set(err, BERR_INVALID, EINVAL, "ConsoleSize out of range");
                }
                rows = (unsigned) h;
                cols = (unsigned) w;
        }
        if ((r = exec_claim(req->ctx, req->params[0], rows, cols, tty, &s->c, err)) < 0) {
                free(s);
                return r;
        }
        if (detach) {
                r = exec_run(s->d, s->id, s->c, -1, err);
                start_free(s);
                return r < 0 ? r : api_reply_empty(req, 200);
        }
        if (!upgrade)
                return start_relayed(req, s, tty, err);
        return api_reply_upgrade(req, tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream",
                                 start_run, start_free, s);
}

int api_exec_inspect(struct api_request *req, struct berr *err) {
        json_t *o = NULL;
        int r = exec_inspect(req->ctx, req->params[0], &o, err);
        return r < 0 ? r : api_reply_json(req, 200, o);
}

int api_exec_resize(struct api_request *req, struct berr *err) {
        int64_t h, w;
        int r;
        if ((r = api_query_int(req, "h", 0, &h, err)) < 0 || (r = api_query_int(req, "w", 0, &w, err)) < 0)
                return r;
        if (h < 0 || w < 0 || h > 65535 || w > 65535)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid resize: h=%lld w=%lld", (long long) h, (long long) w);
        r = exec_resize(req->ctx, req->params[0], (unsigned) h, (unsigned) w, err);
        return r < 0 ? r : api_reply_empty(req, 200);
}
