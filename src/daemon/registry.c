/* registry.c - pull and push as background transfers, login and GET /distribution.
 * A pull or push runs in a thread of its own and its progress messages flow to the
 * reader through a small queue, so a slow client never holds a registry transfer and a
 * client that goes away cancels it. An error before the first message is returned to the
 * caller (the API answers it with its HTTP status, as dockerd does); later ones go in-band
 * with both "error" and "errorDetail". The transfer is shared by its thread and its
 * reader, and freed by whichever lets go last. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/registry.h"
#include "distribution/distribution.h"
#include "image/reference.h"

#define QUEUE_MAX_BYTES (8u << 20) /* progress is dropped past this if the client stalls */

enum op_kind {
        OP_PULL,
        OP_PUSH,
};

/* One pull or push: the worker writes lines, the connection reads them. */
struct daemon_transfer {
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

static void op_unref(struct daemon_transfer *o) {
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
static void op_append_locked(struct daemon_transfer *o, json_t *msg) {
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
        struct daemon_transfer *o = opaque;
        pthread_mutex_lock(&o->lock);
        op_append_locked(o, msg);
        pthread_mutex_unlock(&o->lock);
}

static bool is_cancelled(void *opaque) {
        struct daemon_transfer *o = opaque;
        pthread_mutex_lock(&o->lock);
        bool c = o->cancelled;
        pthread_mutex_unlock(&o->lock);
        return c;
}

static void op_event(struct daemon_transfer *o, const char *action) {
        char full[REFERENCE_STRING_MAX];
        const char *sep = !o->tag ? "" : digest_is_sha256(o->tag) ? "@" : ":";
        snprintf(full, sizeof(full), "%s%s%s", o->name, sep, o->tag ? o->tag : "");
        events_emit(o->d, "image", action, full, json_pack("{s:s}", "name", full));
}

static void *op_thread(void *arg) {
        struct daemon_transfer *o = arg;
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

ssize_t daemon_transfer_read(struct daemon_transfer *o, char *buf, size_t max) {
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

void daemon_transfer_close(struct daemon_transfer *o) {
        pthread_mutex_lock(&o->lock);
        o->cancelled = true; /* the client is gone (or read everything): nothing more to do */
        pthread_mutex_unlock(&o->lock);
        op_unref(o);
}

/* Start @o's worker and wait for its first message or its end. */
static int op_run(struct daemon_transfer *o, struct daemon_transfer **ret, struct berr *err) {
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
        *ret = o;
        return 0;
}

static struct daemon_transfer *op_new(struct daemon *d, enum op_kind kind, const char *auth_header, struct berr *err) {
        struct daemon_transfer *o = calloc(1, sizeof(*o));
        if (!o) {
                berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                return NULL;
        }
        pthread_mutex_init(&o->lock, NULL);
        pthread_cond_init(&o->cond, NULL);
        o->refs = 1;
        o->kind = kind;
        o->d = d;
        if (dist_auth_decode(auth_header, &o->auth, err) < 0) {
                op_unref(o);
                return NULL;
        }
        return o;
}

int daemon_image_pull(struct daemon *d, const char *from, const char *tag, const char *platform, const char *auth_header,
                      struct daemon_transfer **ret, struct berr *err) {
        struct reference ref;
        int r = reference_parse_normalized(from, &ref, err);
        if (r < 0)
                return r;
        if (tag && tag[0] && !digest_is_sha256(tag) && !reference_tag_is_valid(tag))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid reference format");
        if (platform && platform[0] && strncmp(platform, "linux", 5) != 0)
                return berr_set(err, BERR_INVALID, EINVAL, "operating system is not supported: %s", platform);
        struct daemon_transfer *o = op_new(d, OP_PULL, auth_header, err);
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
        return op_run(o, ret, err);
}

int daemon_image_push(struct daemon *d, const char *name, const char *tag, const char *auth_header,
                      struct daemon_transfer **ret, struct berr *err) {
        struct reference ref;
        int r = reference_parse_normalized(name, &ref, err);
        if (r < 0)
                return r;
        if (tag && tag[0] && !reference_tag_is_valid(tag))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid tag format");
        struct daemon_transfer *o = op_new(d, OP_PUSH, auth_header, err);
        if (!o)
                return -EINVAL;
        o->name = strdup(name);
        o->tag = tag && tag[0] ? strdup(tag) : (ref.tag[0] ? strdup(ref.tag) : NULL);
        if (!o->name) {
                op_unref(o);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        return op_run(o, ret, err);
}

int daemon_registry_login(struct daemon *d, json_t *body, char **ret_identity_token, struct berr *err) {
        struct dist_auth a;
        int r = dist_auth_from_json(body, &a, err);
        if (r < 0)
                return r;
        r = dist_login(&a, ret_identity_token, err);
        dist_auth_done(&a);
        return r;
}

int daemon_distribution_inspect(struct daemon *d, const char *name, const char *auth_header, json_t **ret,
                                struct berr *err) {
        struct dist_auth a;
        int r = dist_auth_decode(auth_header, &a, err);
        if (r < 0)
                return r;
        r = dist_inspect(name, &a, ret, err);
        dist_auth_done(&a);
        return r;
}

int daemon_image_search(struct daemon *d, const struct daemon_search_opts *o, const char *auth_header, json_t **ret,
                        struct berr *err) {
        (void) d;
        struct dist_auth a;
        int r = dist_auth_decode(auth_header, &a, err);
        if (r < 0)
                return r;
        struct dist_search_opts so = { .term = o->term, .limit = o->limit, .auth = &a, .is_official = o->is_official,
                                       .is_automated = o->is_automated, .stars = o->stars };
        r = dist_search(&so, ret, err);
        dist_auth_done(&a);
        return r;
}

json_t *daemon_registry_info(struct daemon *d) {
        return dist_config_info();
}
