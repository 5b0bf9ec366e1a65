/* distribution.c - the registry endpoints: pull (POST /images/create?fromImage=, reached
 * through api_images_create), push (POST /images/{name}/push), login (POST /auth) and
 * GET /distribution/{name}/json. Pull and push run in a thread of their own and their
 * progress messages flow to the client through a small queue, so a slow client never
 * holds a registry transfer and a client that goes away cancels it. An error before the
 * first message is answered with its HTTP status, as dockerd does; later ones go in-band
 * with both "error" and "errorDetail". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "common/cleanup.h"
#include "common/digest.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "distribution/distribution.h"
#include "image/reference.h"

#define QUEUE_MAX_BYTES (8u << 20) /* progress is dropped past this if the client stalls */

enum op_kind {
        OP_PULL,
        OP_PUSH,
};

/* One pull or push: the worker writes lines, the connection reads them. */
struct op {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        char *buf;
        size_t len, cap, off;
        bool started, done, cancelled;
        int refs;
        int result;
        struct berr err;

        enum op_kind kind;
        struct daemon *d;
        struct dist_auth auth;
        char *name, *tag, *platform;
        bool all_tags;
};

static void op_unref(struct op *o) {
        pthread_mutex_lock(&o->lock);
        bool last = --o->refs == 0;
        pthread_mutex_unlock(&o->lock);
        if (!last)
                return;
        pthread_mutex_destroy(&o->lock);
        pthread_cond_destroy(&o->cond);
        free(o->buf);
        dist_auth_done(&o->auth);
        free(o->name);
        free(o->tag);
        free(o->platform);
        free(o);
}

/* Append one message line ("\r\n" terminated, as dockerd). Lock held. */
static void op_append_locked(struct op *o, json_t *msg) {
        _cleanup_free_ char *text = json_dumps(msg, JSON_COMPACT);
        if (!text)
                return;
        size_t n = strlen(text) + 2;
        if (o->off > 0 && o->off == o->len)
                o->off = o->len = 0;
        if (o->len - o->off + n > QUEUE_MAX_BYTES && !json_object_get(msg, "errorDetail"))
                return; /* a stalled reader loses progress lines, never the outcome */
        if (o->len + n + 1 > o->cap) {
                if (o->off > 0) {
                        memmove(o->buf, o->buf + o->off, o->len - o->off);
                        o->len -= o->off;
                        o->off = 0;
                }
                size_t cap = o->cap ? o->cap : 4096;
                while (cap < o->len + n + 1)
                        cap *= 2;
                char *b = realloc(o->buf, cap);
                if (!b)
                        return;
                o->buf = b;
                o->cap = cap;
        }
        memcpy(o->buf + o->len, text, n - 2);
        memcpy(o->buf + o->len + n - 2, "\r\n", 2);
        o->len += n;
        o->started = true;
        pthread_cond_broadcast(&o->cond);
}

static void on_progress(void *opaque, json_t *msg) {
        struct op *o = opaque;
        pthread_mutex_lock(&o->lock);
        op_append_locked(o, msg);
        pthread_mutex_unlock(&o->lock);
}

static bool is_cancelled(void *opaque) {
        struct op *o = opaque;
        pthread_mutex_lock(&o->lock);
        bool c = o->cancelled;
        pthread_mutex_unlock(&o->lock);
        return c;
}

static void op_event(struct op *o, const char *action) {
        char full[REFERENCE_STRING_MAX];
        const char *sep = !o->tag ? "" : digest_is_sha256(o->tag) ? "@" : ":";
        snprintf(full, sizeof(full), "%s%s%s", o->name, sep, o->tag ? o->tag : "");
        events_emit(o->d, "image", action, full, json_pack("{s:s}", "name", full));
}

static void *op_thread(void *arg) {
        struct op *o = arg;
        struct berr err = { 0 };
        int r;
        if (o->kind == OP_PULL) {
                struct dist_pull_opts po = {
                        .name = o->name,
                        .tag = o->tag,
                        .platform = o->platform,
                        .all_tags = o->all_tags,
                        .auth = &o->auth,
                        .progress = on_progress,
                        .cancelled = is_cancelled,
                        .opaque = o,
                };
                r = dist_pull(o->d->images, &po, &err);
        } else {
                struct dist_push_opts po = {
                        .name = o->name,
                        .tag = o->tag,
                        .auth = &o->auth,
                        .progress = on_progress,
                        .cancelled = is_cancelled,
                        .opaque = o,
                };
                r = dist_push(o->d->images, &po, &err);
        }
        if (r == 0)
                op_event(o, o->kind == OP_PULL ? "pull" : "push");
        else
                log_info("%s %s: %s", o->kind == OP_PULL ? "pull" : "push", o->name, err.msg);
        pthread_mutex_lock(&o->lock);
        o->result = r;
        o->err = err;
        if (r < 0 && o->started) {
                _cleanup_json_ json_t *m = json_pack("{s:{s:s}, s:s}", "errorDetail", "message", err.msg, "error", err.msg);
                if (m)
                        op_append_locked(o, m);
        }
        o->done = true;
        pthread_cond_broadcast(&o->cond);
        pthread_mutex_unlock(&o->lock);
        op_unref(o);
        return NULL;
}

static ssize_t op_read(void *ctx, char *buf, size_t max) {
        struct op *o = ctx;
        pthread_mutex_lock(&o->lock);
        while (o->off == o->len && !o->done)
                pthread_cond_wait(&o->cond, &o->lock);
        size_t n = o->len - o->off;
        if (n > max)
                n = max;
        memcpy(buf, o->buf + o->off, n);
        o->off += n;
        pthread_mutex_unlock(&o->lock);
        return (ssize_t) n; /* 0 only when done and drained */
}

static void op_free_ctx(void *ctx) {
        struct op *o = ctx;
        pthread_mutex_lock(&o->lock);
        o->cancelled = true; /* the client is gone (or read everything): nothing more to do */
        pthread_mutex_unlock(&o->lock);
        op_unref(o);
}

/* Start @o's worker, wait for its first message or its end, and answer. */
static int op_run(struct api_request *req, struct op *o, struct berr *err) {
        o->refs = 2;
        pthread_t t;
        int r = pthread_create(&t, NULL, op_thread, o);
        if (r != 0) {
                o->refs = 1;
                op_unref(o);
                return berr_set(err, BERR_INTERNAL, r, "cannot start the transfer thread");
        }
        pthread_detach(t);
        pthread_mutex_lock(&o->lock);
        while (!o->started && !o->done)
                pthread_cond_wait(&o->cond, &o->lock);
        bool failed_early = o->done && !o->started && o->result < 0;
        if (failed_early)
                *err = o->err;
        r = o->result;
        pthread_mutex_unlock(&o->lock);
        if (failed_early) {
                op_unref(o);
                return r;
        }
        return api_reply_stream(req, 200, "application/json", op_read, op_free_ctx, o);
}

static struct op *op_new(struct api_request *req, enum op_kind kind, struct berr *err) {
        struct op *o = calloc(1, sizeof(*o));
        if (!o) {
                berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                return NULL;
        }
        pthread_mutex_init(&o->lock, NULL);
        pthread_cond_init(&o->cond, NULL);
        o->refs = 1;
        o->kind = kind;
        o->d = req->ctx;
        if (dist_auth_decode(api_header(req, "X-Registry-Auth"), &o->auth, err) < 0) {
                op_unref(o);
                return NULL;
        }
        return o;
}

/* ---- POST /images/create?fromImage=&tag=&platform= ---- */

int api_images_pull(struct api_request *req, struct berr *err) {
        const char *from = api_query(req, "fromImage");
        const char *tag = api_query(req, "tag");
        const char *platform = api_query(req, "platform");
        if (!from || !from[0])
                return berr_set(err, BERR_INVALID, EINVAL, "fromImage is required");
        struct reference ref;
        int r = reference_parse_normalized(from, &ref, err);
        if (r < 0)
                return r;
        if (tag && tag[0] && !digest_is_sha256(tag) && !reference_tag_is_valid(tag))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid reference format");
        if (platform && platform[0] && strncmp(platform, "linux", 5) != 0)
                return berr_set(err, BERR_INVALID, EINVAL, "operating system is not supported: %s", platform);
        struct op *o = op_new(req, OP_PULL, err);
        if (!o)
                return -EINVAL;
        /* dockerd: a name with neither tag nor digest, and no tag parameter, pulls every tag. */
        o->all_tags = (!tag || !tag[0]) && !ref.tag[0] && !ref.digest[0];
        o->name = strdup(from);
        o->tag = tag && tag[0] ? strdup(tag) : NULL;
        o->platform = platform && platform[0] ? strdup(platform) : NULL;
        if (!o->name) {
                op_unref(o);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        return op_run(req, o, err);
}

/* ---- POST /images/{name}/push?tag= ---- */

int api_images_push(struct api_request *req, struct berr *err) {
        const char *name = req->params[0] ? req->params[0] : "";
        const char *tag = api_query(req, "tag");
        struct reference ref;
        int r = reference_parse_normalized(name, &ref, err);
        if (r < 0)
                return r;
        if (tag && tag[0] && !reference_tag_is_valid(tag))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid tag format");
        struct op *o = op_new(req, OP_PUSH, err);
        if (!o)
                return -EINVAL;
        o->name = strdup(name);
        o->tag = tag && tag[0] ? strdup(tag) : (ref.tag[0] ? strdup(ref.tag) : NULL);
        if (!o->name) {
                op_unref(o);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        return op_run(req, o, err);
}

/* ---- POST /auth ---- */

int api_auth(struct api_request *req, struct berr *err) {
        _cleanup_json_ json_t *body = NULL;
        /* dockerd decodes /auth without looking at Content-Type */
        int r = json_parse_object(req->body, req->body_len, &body, err);
        if (r < 0)
                return r;
        struct dist_auth a;
        r = dist_auth_from_json(body, &a, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *identity = NULL;
        r = dist_login(&a, &identity, err);
        dist_auth_done(&a);
        if (r < 0)
                return r;
        return api_reply_json(req, 200, json_pack("{s:s, s:s}", "Status", "Login Succeeded", "IdentityToken",
                                                  identity ? identity : ""));
}

/* ---- GET /distribution/{name}/json ---- */

int api_distribution_inspect(struct api_request *req, struct berr *err) {
        struct dist_auth a;
        int r = dist_auth_decode(api_header(req, "X-Registry-Auth"), &a, err);
        if (r < 0)
                return r;
        json_t *out = NULL;
        r = dist_inspect(req->params[0] ? req->params[0] : "", &a, &out, err);
        dist_auth_done(&a);
        if (r < 0)
                return r;
        return api_reply_json(req, 200, out);
}
