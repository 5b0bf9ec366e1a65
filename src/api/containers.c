/* containers.c - the /containers endpoints: decode, call the container module, encode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <time.h>

#include "api.h"
#include "images_filters.h"
#include "common/cleanup.h"
#include "common/duration.h"
#include "common/err.h"
#include "common/json.h"
#include "daemon/container.h"
#include "daemon/events.h"
#include "daemon/container_stats.h"
#include "daemon/container_archive.h"
#include "daemon/container_commit.h"
#include "daemon/container_logs.h"
#include "daemon/daemon.h"
#include "versions.h"
#include "websocket.h"

/* The container named in the path, with a reference the caller drops. */
static int path_container(struct api_request *req, struct container **ret, struct berr *err) {
        return ctr_lookup(req->ctx, req->params[0], ret, err);
}

int api_containers_create(struct api_request *req, struct berr *err) {
        _cleanup_json_ json_t *body = NULL;
        int r = api_body_json(req, &body, err);
        if (r < 0)
                return r;
        char id[65];
        json_t *warnings = NULL;
        r = ctr_create(req->ctx, api_query(req, "name"), body, id, &warnings, err);
        if (r < 0)
                return r;
        return api_reply_json(req, 201, json_pack("{s:s, s:o}", "Id", id, "Warnings", warnings));
}

int api_containers_list(struct api_request *req, struct berr *err) {
        bool all, size;
        int64_t limit;
        int r;
        _cleanup_json_ json_t *filters = NULL;
        if ((r = api_query_bool(req, "all", false, &all, err)) < 0 || (r = api_query_int(req, "limit", -1, &limit, err)) < 0 ||
            (r = api_query_bool(req, "size", false, &size, err)) < 0 ||
            (r = api_query_filters(req, NULL, &filters, err)) < 0)
                return r;
        if (!size && !api_versions_shapes_answer(req->route, req->version)) {
                /* The fast way: summaries kept as text between changes. */
                char *text = NULL;
                size_t len = 0;
                if ((r = ctr_list_text(req->ctx, all, (int) limit, filters, &text, &len, err)) < 0)
                        return r;
                return api_reply_take(req, 200, "application/json", text, len);
        }
        json_t *list;
        if ((r = ctr_list_json(req->ctx, all, (int) limit, size, filters, &list, err)) < 0)
                return r;
        return api_reply_json(req, 200, list);
}

int api_containers_inspect(struct api_request *req, struct berr *err) {
        struct container *c;
        int r = path_container(req, &c, err);
        if (r < 0)
                return r;
        bool size;
        if ((r = api_query_bool(req, "size", false, &size, err)) < 0) {
                ctr_unref(req->ctx, c);
                return r;
        }
        json_t *o = ctr_inspect_json(req->ctx, c);
        if (size)
                ctr_add_sizes(req->ctx, c, o);
        ctr_unref(req->ctx, c);
        return api_reply_json(req, 200, o);
}

int api_containers_start(struct api_request *req, struct berr *err) {
        struct container *c;
        int r = path_container(req, &c, err);
        if (r < 0)
                return r;
        r = ctr_start(req->ctx, c, err);
        ctr_unref(req->ctx, c);
        if (r < 0)
                return r;
        return api_reply_empty(req, r == 1 ? 304 : 204);
}

static int timeout_param(struct api_request *req, int *ret, struct berr *err) {
        int64_t t;
        int r = api_query_int(req, "t", INT32_MIN, &t, err);
        if (r < 0)
                return r;
        *ret = (int) t;
        return 0;
}

int api_containers_stop(struct api_request *req, struct berr *err) {
        struct container *c;
        int t, r;
        if ((r = timeout_param(req, &t, err)) < 0 || (r = path_container(req, &c, err)) < 0)
                return r;
        r = ctr_stop(req->ctx, c, t, api_query(req, "signal"), err);
        ctr_unref(req->ctx, c);
        if (r < 0)
                return r;
        return api_reply_empty(req, r == 1 ? 304 : 204);
}

int api_containers_restart(struct api_request *req, struct berr *err) {
        struct container *c;
        int t, r;
        if ((r = timeout_param(req, &t, err)) < 0 || (r = path_container(req, &c, err)) < 0)
                return r;
        r = ctr_restart(req->ctx, c, t, err);
        ctr_unref(req->ctx, c);
        return r < 0 ? r : api_reply_empty(req, 204);
}

int api_containers_kill(struct api_request *req, struct berr *err) {
        struct container *c;
        int r = path_container(req, &c, err);
        if (r < 0)
                return r;
        r = ctr_kill(req->ctx, c, api_query(req, "signal"), err);
        ctr_unref(req->ctx, c);
        return r < 0 ? r : api_reply_empty(req, 204);
}

int api_containers_delete(struct api_request *req, struct berr *err) {
        bool force, volumes, link;
        struct container *c;
        int r;
        if ((r = api_query_bool(req, "force", false, &force, err)) < 0 ||
            (r = api_query_bool(req, "v", false, &volumes, err)) < 0 ||
            (r = api_query_bool(req, "link", false, &link, err)) < 0)
                return r;
        if (link) { /* the container stays; a legacy link goes */
                r = ctr_remove_link(req->ctx, req->params[0], err);
                return r < 0 ? r : api_reply_empty(req, 204);
        }
        if ((r = path_container(req, &c, err)) < 0)
                return r;
        r = ctr_remove(req->ctx, c, force, volumes, err);
        ctr_unref(req->ctx, c);
        return r < 0 ? r : api_reply_empty(req, 204);
}

int api_containers_resize(struct api_request *req, struct berr *err) {
        int64_t h, w;
        struct container *c;
        int r;
        if ((r = api_query_int(req, "h", 0, &h, err)) < 0 || (r = api_query_int(req, "w", 0, &w, err)) < 0)
                return r;
        if (h < 0 || w < 0 || h > 65535 || w > 65535)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid terminal size %lldx%lld", (long long) h, (long long) w);
        if ((r = path_container(req, &c, err)) < 0)
                return r;
        r = ctr_resize(req->ctx, c, (unsigned) h, (unsigned) w, err);
        ctr_unref(req->ctx, c);
        return r < 0 ? r : api_reply_empty(req, 200);
}

struct wait_ctx {
        struct daemon *d;
        struct container *c;
        enum ctr_wait_condition cond;
        int client_fd;
        bool sent;
};

static bool client_gone(void *p) {
        return api_fd_peer_closed(*(int *) p);
}

static ssize_t wait_read(void *p, char *buf, size_t max) {
        struct wait_ctx *w = p;
        if (w->sent)
                return 0;
        int code = 0;
        struct berr err = { 0 };
        /* `docker run -d` asks to wait and then goes away: do not hold a thread for it. */
        if (ctr_wait(w->d, w->c, w->cond, &code, client_gone, &w->client_fd, &err) < 0 && err.errnum == ECANCELED)
                return -1;
        w->sent = true;
        return snprintf(buf, max, "{\"Error\":null,\"StatusCode\":%d}\n", code);
}

static void wait_free(void *p) {
        struct wait_ctx *w = p;
        ctr_unref(w->d, w->c);
        free(w);
}

int api_containers_wait(struct api_request *req, struct berr *err) {
        const char *cond = api_query(req, "condition");
        enum ctr_wait_condition wc = CTR_WAIT_NOT_RUNNING;
        if (cond && *cond) {
                if (strcmp(cond, "next-exit") == 0)
                        wc = CTR_WAIT_NEXT_EXIT;
                else if (strcmp(cond, "removed") == 0)
                        wc = CTR_WAIT_REMOVED;
                else if (strcmp(cond, "not-running") != 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid condition: \"%s\"", cond);
        }
        struct container *c;
        int r = path_container(req, &c, err);
        if (r < 0)
                return r;
        struct wait_ctx *w = calloc(1, sizeof(*w));
        if (!w) {
                ctr_unref(req->ctx, c);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        *w = (struct wait_ctx){ .d = req->ctx, .c = c, .cond = wc, .client_fd = api_client_fd(req) };
        return api_reply_stream(req, 200, "application/json", wait_read, wait_free, w);
}

struct attach_ctx {
        struct daemon *d;
        struct container *c;
        struct ctr_attach_opts o;
        struct ctr_log_reader *logs; /* logs=1: what was logged so far, sent first */
        bool stream;
};

/* logs=1: the output logged so far, framed as the attach stream is (both come framed
 * by the same rule: 8-byte headers without a TTY). */
static bool send_logs(struct ctr_log_reader *lr, int fd) {
        char buf[16384];
        for (;;) {
                ssize_t n = ctr_logs_read(lr, buf, sizeof(buf));
                if (n <= 0)
                        return n == 0;
                for (ssize_t off = 0; off < n;) {
                        ssize_t k = send(fd, buf + off, (size_t) (n - off), MSG_NOSIGNAL);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k <= 0)
                                return false;
                        off += k;
                }
        }
}

/* Wait (up to a second) until the client has read what was sent, i.e. the 101's headers.
 * docker-py reads the stream from the raw socket under its buffered HTTP reader: bytes that
 * arrive with the headers land in that buffer and are lost to it. dockerd's logs come
 * milliseconds after its headers; ours would come at once. For a unix socket SIOCOUTQ
 * counts the bytes the peer has not read yet (for TCP: not acknowledged, close enough). */
void api_wait_headers_read(int fd) {
        /* Fine steps first: the client usually reads its headers within a few hundred
         * microseconds, and an exec waits for this before it starts its process. */
        for (int i = 0; i < 1100; i++) {
                int queued = 0;
                if (ioctl(fd, SIOCOUTQ, &queued) < 0 || queued <= 0)
                        return;
                struct timespec ts = { 0, i < 100 ? 50000L : 1000000L };
                nanosleep(&ts, NULL);
        }
}

static void attach_run(void *p, int fd, const char *extra, size_t extra_len) {
        struct attach_ctx *a = p;
        struct berr err = { 0 };
        /* Bytes the client sent right after its request are stdin we cannot push back
         * into the socket; Docker clients send nothing before the 101. */
        (void) extra;
        (void) extra_len;
        if (a->logs) {
                api_wait_headers_read(fd);
                if (!send_logs(a->logs, fd))
                        return;
        }
        if (a->stream)
                (void) ctr_attach_stream(a->d, a->c, fd, &a->o, &err);
}

static void attach_free(void *p) {
        struct attach_ctx *a = p;
        ctr_logs_free(a->logs);
        ctr_unref(a->d, a->c);
        free(a);
}

/* Without an upgrade dockerd still answers with the stream, as a plain body. */
static ssize_t attach_plain_read(void *p, char *buf, size_t max) {
        struct attach_ctx *a = p;
        return a->logs ? ctr_logs_read(a->logs, buf, max) : 0;
}

int api_containers_attach(struct api_request *req, struct berr *err) {
        bool stream, in, out, errs, logs;
        int r;
        if ((r = api_query_bool(req, "stream", false, &stream, err)) < 0 ||
            (r = api_query_bool(req, "stdin", false, &in, err)) < 0 ||
            (r = api_query_bool(req, "stdout", false, &out, err)) < 0 ||
            (r = api_query_bool(req, "stderr", false, &errs, err)) < 0 ||
            (r = api_query_bool(req, "logs", false, &logs, err)) < 0)
                return r;
        const char *up = api_header(req, "Upgrade");
        bool upgrade = up && strcasecmp(up, "tcp") == 0;
        if (stream && !upgrade)
                return berr_set(err, BERR_INVALID, EINVAL, "attach needs a connection upgrade (Upgrade: tcp)");
        struct attach_ctx *a = calloc(1, sizeof(*a));
        if (!a)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        a->d = req->ctx;
        a->o.use_stdin = in;
        a->o.use_stdout = out;
        a->o.use_stderr = errs;
        const char *keys = api_query(req, "detachKeys");
        snprintf(a->o.detach_keys, sizeof(a->o.detach_keys), "%s", keys ? keys : "");
        if (keys && *keys) {
                uint8_t tmp[16];
                size_t n;
                if ((r = ctr_parse_detach_keys(keys, tmp, sizeof(tmp), &n, err)) < 0) {
                        free(a);
                        return r;
                }
        }
        if ((r = path_container(req, &a->c, err)) < 0) {
                free(a);
                return r;
        }
        a->stream = stream;
        if (logs && (out || errs)) {
                /* The reader holds a reference of its own. */
                struct ctr_logs_opts lo = { .tail = -1, .client_fd = -1, .want_stdout = out, .want_stderr = errs };
                struct container *lc;
                if ((r = path_container(req, &lc, err)) < 0) {
                        attach_free(a);
                        return r;
                }
                if ((r = ctr_logs_open(req->ctx, lc, &lo, &a->logs, err)) < 0) {
                        ctr_unref(req->ctx, lc);
                        attach_free(a);
                        return r;
                }
        }
        const char *ct = ctr_has_tty(a->c) ? "application/vnd.docker.raw-stream"
                                           : "application/vnd.docker.multiplexed-stream";
        if (!upgrade)
                return api_reply_stream(req, 200, ct, attach_plain_read, attach_free, a);
        return api_reply_upgrade(req, ct, attach_run, attach_free, a);
}

static ssize_t logs_read(void *p, char *buf, size_t max) {
        return ctr_logs_read(p, buf, max);
}

static void logs_free(void *p) {
        ctr_logs_free(p);
}

int api_containers_logs(struct api_request *req, struct berr *err) {
        struct ctr_logs_opts o = { .tail = -1, .client_fd = -1 };
        int r;
        if ((r = api_query_bool(req, "stdout", false, &o.want_stdout, err)) < 0 ||
            (r = api_query_bool(req, "stderr", false, &o.want_stderr, err)) < 0 ||
            (r = api_query_bool(req, "follow", false, &o.follow, err)) < 0 ||
            (r = api_query_bool(req, "timestamps", false, &o.timestamps, err)) < 0 ||
            (r = api_query_bool(req, "details", false, &o.details, err)) < 0)
                return r;
        if (!o.want_stdout && !o.want_stderr)
                return berr_set(err, BERR_INVALID, EINVAL, "Bad parameters: you must choose at least one stream");
        /* dockerd: whatever is not a count (negative, "all", garbage) means every line */
        const char *tail = api_query(req, "tail");
        if (tail && *tail) {
                char *end;
                errno = 0;
                long n = strtol(tail, &end, 10);
                if (!*end && !errno && n >= 0 && n <= INT32_MAX)
                        o.tail = n;
        }
        const char *since = api_query(req, "since"), *until = api_query(req, "until");
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t now_ns = (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
        if (since && *since && strcmp(since, "0") && api_parse_timestamp(since, now_ns, &o.since_ns, err) < 0)
                return berr_wrap(err, "invalid value for since");
        if (until && *until && strcmp(until, "0") && api_parse_timestamp(until, now_ns, &o.until_ns, err) < 0)
                return berr_wrap(err, "invalid value for until");
        struct container *c;
        if ((r = path_container(req, &c, err)) < 0)
                return r;
        struct ctr_log_reader *lr;
        o.client_fd = api_client_fd(req);
        if ((r = ctr_logs_open(req->ctx, c, &o, &lr, err)) < 0) {
                ctr_unref(req->ctx, c);
                return r;
        }
        const char *ct = ctr_has_tty(c) ? "application/vnd.docker.raw-stream"
                                        : "application/vnd.docker.multiplexed-stream";
        return api_reply_stream(req, 200, ct, logs_read, logs_free, lr);
}

int api_containers_rename(struct api_request *req, struct berr *err) {
        struct container *c;
        int r = path_container(req, &c, err);
        if (r < 0)
                return r;
        r = ctr_rename(req->ctx, c, api_query(req, "name"), err);
        ctr_unref(req->ctx, c);
        return r < 0 ? r : api_reply_empty(req, 204);
}

static int pause_or_unpause(struct api_request *req, bool pause, struct berr *err) {
        struct container *c;
        int r = path_container(req, &c, err);
        if (r < 0)
                return r;
        r = ctr_pause(req->ctx, c, pause, err);
        ctr_unref(req->ctx, c);
        return r < 0 ? r : api_reply_empty(req, 204);
}

int api_containers_pause(struct api_request *req, struct berr *err) {
        return pause_or_unpause(req, true, err);
}

int api_containers_unpause(struct api_request *req, struct berr *err) {
        return pause_or_unpause(req, false, err);
}

int api_containers_top(struct api_request *req, struct berr *err) {
        struct container *c;
        int r = path_container(req, &c, err);
        if (r < 0)
                return r;
        json_t *o = NULL;
        r = ctr_top(req->ctx, c, api_query(req, "ps_args"), &o, err);
        ctr_unref(req->ctx, c);
        return r < 0 ? r : api_reply_json(req, 200, o);
}

static ssize_t stats_read(void *p, char *buf, size_t max) {
        return ctr_stats_read(p, buf, max);
}

static void stats_free(void *p) {
        ctr_stats_free(p);
}

int api_containers_stats(struct api_request *req, struct berr *err) {
        bool stream, one_shot;
        int r;
        if ((r = api_query_bool(req, "stream", true, &stream, err)) < 0 ||
            (r = api_query_bool(req, "one-shot", false, &one_shot, err)) < 0)
                return r;
        if (one_shot && stream)
                return berr_set(err, BERR_INVALID, EINVAL, "cannot have stream=true and one-shot=true");
        struct container *c;
        if ((r = path_container(req, &c, err)) < 0)
                return r;
        struct ctr_stats_reader *sr;
        if ((r = ctr_stats_open(req->ctx, c, stream, one_shot, api_client_fd(req), &sr, err)) < 0) {
                ctr_unref(req->ctx, c);
                return r;
        }
        return api_reply_stream(req, 200, "application/json", stats_read, stats_free, sr);
}

static ssize_t archive_read(void *p, char *buf, size_t max) {
        return ctr_archive_read(p, buf, max);
}

static void archive_free(void *p) {
        ctr_archive_free(p);
}

/* GET and HEAD /containers/{id}/archive?path= */
int api_containers_archive_get(struct api_request *req, struct berr *err) {
        const char *path = api_query(req, "path");
        struct container *c;
        int r = path_container(req, &c, err);
        if (r < 0)
                return r;
        struct ctr_archive *a;
        if ((r = ctr_archive_open(req->ctx, c, path, &a, err)) < 0)
                return r;
        api_add_header(req, "X-Docker-Container-Path-Stat", ctr_archive_stat_header(a));
        if (req->is_head) {
                r = api_reply_empty(req, 200);
                ctr_archive_free(a);
                return r;
        }
        events_container(req->ctx, c, "archive-path", NULL);
        if ((r = ctr_archive_start(a, err)) < 0) {
                ctr_archive_free(a);
                return r;
        }
        return api_reply_stream(req, 200, "application/x-tar", archive_read, archive_free, a);
}

int api_containers_archive_put(struct api_request *req, struct berr *err) {
        bool no_overwrite, copy_uidgid;
        int r;
        if ((r = api_query_bool(req, "noOverwriteDirNonDir", false, &no_overwrite, err)) < 0 ||
            (r = api_query_bool(req, "copyUIDGID", false, &copy_uidgid, err)) < 0)
                return r;
        struct container *c;
        if ((r = path_container(req, &c, err)) < 0)
                return r;
        r = ctr_archive_extract(req->ctx, c, api_query(req, "path"), req->body_fd, no_overwrite, copy_uidgid, err);
        if (r == 0 && !api_body_complete(req)) /* the client left: what arrived may end on a block boundary */
                r = berr_set(err, BERR_INVALID, EPIPE, "the upload ended early: the copy is incomplete");
        if (r == 0)
                events_container(req->ctx, c, "extract-to-dir", NULL);
        ctr_unref(req->ctx, c);
        return r < 0 ? r : api_reply_empty(req, 200);
}

int api_containers_export(struct api_request *req, struct berr *err) {
        struct container *c;
        int r = path_container(req, &c, err);
        if (r < 0)
                return r;
        struct ctr_archive *a;
        if ((r = ctr_export_open(req->ctx, c, &a, err)) < 0)
                return r;
        if ((r = ctr_archive_start(a, err)) < 0) {
                ctr_archive_free(a);
                return r;
        }
        events_container(req->ctx, c, "export", NULL);
        return api_reply_stream(req, 200, "application/octet-stream", archive_read, archive_free, a);
}

/* A Go duration ("24h", "1h30m": that long ago) or a time ctr_logs_parse_time reads -> ns
 * since the epoch, as dockerd's until filter. */
static int until_ns(const char *s, int64_t *ret) {
        int64_t d;
        if (duration_parse_ns(s, &d) == 0) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                *ret = (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec - d;
                return 0;
        }
        return ctr_logs_parse_time(s, ret);
}

/* POST /containers/prune: every container that is not running (created, exited, dead),
 * filtered by until= and label=/label!= as dockerd does. */
int api_containers_prune(struct api_request *req, struct berr *err) {
        static const char *const allowed[] = { "until", "label", "label!", NULL };
        _cleanup_json_ json_t *filters = NULL;
        int r = api_query_filters(req, allowed, &filters, err);
        if (r < 0)
                return r;
        int64_t until = 0;
        const char *u = json_string_value(json_array_get(json_object_get(filters, "until"), 0));
        if (json_object_get(filters, "until") && (!u || until_ns(u, &until) < 0))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid filter 'until=%s'", u ? u : "");
        _cleanup_json_ json_t *list_filters = json_object();
        if (json_object_get(filters, "label"))
                json_object_set(list_filters, "label", json_object_get(filters, "label"));
        json_t *label_not = json_incref(json_object_get(filters, "label!"));
        _cleanup_json_ json_t *list = NULL;
        r = ctr_list_json(req->ctx, true, -1, true, list_filters, &list, err);
        if (r < 0) {
                json_decref(label_not);
                return r;
        }
        json_t *deleted = json_array();
        json_int_t reclaimed = 0;
        size_t i;
        json_t *c;
        json_array_foreach(list, i, c) {
                const char *state = json_string_value(json_object_get(c, "State"));
                if (!state || !strcmp(state, "running") || !strcmp(state, "paused") || !strcmp(state, "restarting") ||
                    !strcmp(state, "removing"))
                        continue;
                if (until && (int64_t) json_integer_value(json_object_get(c, "Created")) * 1000000000LL >= until)
                        continue;
                json_t *labels = json_object_get(c, "Labels");
                bool excluded = false;
                size_t k;
                json_t *ln;
                json_array_foreach(label_not, k, ln) {
                        const char *s = json_string_value(ln);
                        const char *eq = s ? strchr(s, '=') : NULL;
                        char lk[256];
                        snprintf(lk, sizeof(lk), "%.*s", eq ? (int) (eq - s) : (int) strlen(s ? s : ""), s ? s : "");
                        const char *have = json_string_value(json_object_get(labels, lk));
                        if (have && (!eq || strcmp(have, eq + 1) == 0))
                                excluded = true;
                }
                if (excluded)
                        continue;
                const char *id = json_string_value(json_object_get(c, "Id"));
                struct container *ct = NULL;
                struct berr e = { 0 };
                if (ctr_lookup(req->ctx, id, &ct, &e) < 0)
                        continue;
                if (ctr_remove(req->ctx, ct, false, false, &e) == 0) {
                        json_array_append_new(deleted, json_string(id));
                        reclaimed += json_integer_value(json_object_get(c, "SizeRw"));
                }
                ctr_unref(req->ctx, ct);
        }
        json_decref(label_not);
        if (json_array_size(deleted) == 0) {
                json_decref(deleted);
                deleted = json_null();
        }
        return api_reply_json(req, 200, json_pack("{s:o, s:I}", "ContainersDeleted", deleted, "SpaceReclaimed", reclaimed));
}

/* POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes= (body: a Config
 * whose fields override the container's) */
int api_commit(struct api_request *req, struct berr *err) {
        bool pause;
        int r = api_query_bool(req, "pause", true, &pause, err);
        if (r < 0)
                return r;
        const char *cname = api_query(req, "container");
        if (!cname || !cname[0])
                return berr_set(err, BERR_INVALID, EINVAL, "No container name or ID supplied");
        _cleanup_json_ json_t *body = NULL;
        if (req->body && req->body_len > 0 && strncmp(req->body, "null", 4) != 0 && (r = api_body_json(req, &body, err)) < 0)
                return r;
        const char *repo = api_query(req, "repo"), *tag = api_query(req, "tag");
        char ref[512] = "";
        if (repo && repo[0])
                snprintf(ref, sizeof(ref), "%s%s%s", repo, tag && tag[0] ? ":" : "", tag && tag[0] ? tag : "");
        else if (tag && tag[0])
                return berr_set(err, BERR_INVALID, EINVAL, "tag without a repository");
        const char *changes[64];
        size_t n_changes = api_query_values(req, "changes", changes, 64);
        if (n_changes > 64)
                return berr_set(err, BERR_INVALID, E2BIG, "too many changes");
        struct ctr_commit_opts o = {
                .pause = pause,
                .config = body,
                .reference = ref[0] ? ref : NULL,
                .author = api_query(req, "author"),
                .comment = api_query(req, "comment"),
                .changes = changes,
                .n_changes = n_changes,
        };
        char new_id[DIGEST_STRING_MAX];
        r = ctr_commit(req->ctx, cname, &o, new_id, err);
        return r < 0 ? r : api_reply_json(req, 201, json_pack("{s:s}", "Id", new_id));
}

int api_containers_changes(struct api_request *req, struct berr *err) {
        struct container *c;
        int r = path_container(req, &c, err);
        if (r < 0)
                return r;
        json_t *o = NULL;
        r = ctr_changes(req->ctx, c, &o, err);
        ctr_unref(req->ctx, c);
        return r < 0 ? r : api_reply_json(req, 200, o);
}

/* ---- GET /containers/{id}/attach/ws: the attach over a websocket (RFC 6455) ----
 * As dockerd: the streams are not multiplexed (raw bytes, stdout and stderr alike), one
 * websocket message per read, binary frames (text before API 1.28, versions.c); stdin
 * comes as the client's messages. */

struct ws_ctx {
        struct daemon *d;
        struct container *c;
        struct ctr_attach_opts o;
        struct ctr_log_reader *logs;
        bool stream, tty;
        uint8_t op;
        char accept[29];
};

static bool ws_send(int fd, uint8_t op, const void *data, size_t len) {
        uint8_t hdr[10];
        size_t h = ws_frame_header(op, len, hdr);
        struct iovec iov[2] = { { hdr, h }, { (void *) data, len } };
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
        size_t left = h + len;
        while (left > 0) {
                ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                left -= (size_t) n;
                while (mh.msg_iovlen > 0 && (size_t) n >= mh.msg_iov[0].iov_len) {
                        n -= (ssize_t) mh.msg_iov[0].iov_len;
                        mh.msg_iov++;
                        mh.msg_iovlen--;
                }
                if (mh.msg_iovlen > 0) {
                        mh.msg_iov[0].iov_base = (char *) mh.msg_iov[0].iov_base + n;
                        mh.msg_iov[0].iov_len -= (size_t) n;
                }
        }
        return true;
}

static void ws_close(int fd, uint16_t code) {
        uint8_t b[2] = { (uint8_t) (code >> 8), (uint8_t) code };
        (void) ws_send(fd, WS_OP_CLOSE, b, sizeof(b));
}

/* logs=1: the log so far, without stream headers (the reader frames them without a TTY). */
static bool ws_send_logs(struct ws_ctx *a, int fd) {
        char buf[16384];
        char *frame = NULL;
        size_t have = 0, cap = 0;
        bool ok = true;
        for (;;) {
                ssize_t n = ctr_logs_read(a->logs, buf, sizeof(buf));
                if (n <= 0)
                        break;
                if (a->tty) {
                        if (!(ok = ws_send(fd, a->op, buf, (size_t) n)))
                                break;
                        continue;
                }
                if (have + (size_t) n > cap) {
                        size_t nc = (have + (size_t) n) * 2;
                        char *p = realloc(frame, nc);
                        if (!p) {
                                ok = false;
                                break;
                        }
                        frame = p;
                        cap = nc;
                }
                memcpy(frame + have, buf, (size_t) n);
                have += (size_t) n;
                size_t off = 0;
                while (have - off >= 8) {
                        const unsigned char *h = (const unsigned char *) frame + off;
                        size_t len = ((size_t) h[4] << 24) | ((size_t) h[5] << 16) | ((size_t) h[6] << 8) | h[7];
                        if (have - off - 8 < len)
                                break;
                        if (!(ok = ws_send(fd, a->op, frame + off + 8, len)))
                                break;
                        off += 8 + len;
                }
                memmove(frame, frame + off, have - off);
                have -= off;
                if (!ok)
                        break;
        }
        free(frame);
        return ok;
}

/* Relay between the client's websocket and the stream the shim writes to (@s). */
static void ws_relay(struct ws_ctx *a, int fd, int s, int conn) {
        uint8_t *in = malloc(WS_MAX_PAYLOAD + 16);
        size_t in_len = 0;
        char out[16384];
        bool client_open = true, stream_open = true;
        while (in && stream_open) {
                struct pollfd p[3] = { { .fd = client_open ? fd : -1, .events = POLLIN },
                                       { .fd = s, .events = POLLIN },
                                       { .fd = conn, .events = POLLIN } };
                int n = poll(p, 3, 1000);
                if (n < 0 && errno != EINTR)
                        break;
                if (p[1].revents) {
                        ssize_t k = read(s, out, sizeof(out));
                        if (k <= 0)
                                stream_open = false; /* the shim let go: the container ended or detached */
                        else if (!ws_send(fd, a->op, out, (size_t) k))
                                break;
                        continue;
                }
                if (p[0].revents) {
                        ssize_t k = read(fd, in + in_len, WS_MAX_PAYLOAD + 16 - in_len);
                        if (k <= 0) {
                                client_open = false;
                                (void) shutdown(s, SHUT_WR);
                                break; /* nobody left to write to */
                        }
                        in_len += (size_t) k;
                        for (;;) {
                                struct ws_frame f;
                                size_t used = 0;
                                int r = ws_parse(in, in_len, &used, &f);
                                if (r < 0) {
                                        ws_close(fd, r == -EMSGSIZE ? 1009 : 1002);
                                        goto out;
                                }
                                if (r == 0)
                                        break;
                                if (f.op == WS_OP_CLOSE) {
                                        ws_close(fd, 1000);
                                        goto out;
                                }
                                if (f.op == WS_OP_PING)
                                        (void) ws_send(fd, WS_OP_PONG, f.payload, f.len);
                                else if ((f.op == WS_OP_TEXT || f.op == WS_OP_BINARY || f.op == WS_OP_CONT) &&
                                         a->o.use_stdin && f.len > 0) {
                                        for (size_t off = 0; off < f.len;) {
                                                ssize_t w = send(s, f.payload + off, f.len - off, MSG_NOSIGNAL);
                                                if (w < 0 && errno == EINTR)
                                                        continue;
                                                if (w <= 0)
                                                        break;
                                                off += (size_t) w;
                                        }
                                }
                                memmove(in, in + used, in_len - used);
                                in_len -= used;
                        }
                        continue;
                }
                if (ctr_attach_ended(a->d, conn)) {
                        /* What the shim wrote before it let go is still to be read. */
                        ssize_t k;
                        while ((k = recv(s, out, sizeof(out), MSG_DONTWAIT)) > 0)
                                if (!ws_send(fd, a->op, out, (size_t) k))
                                        break;
                        break;
                }
        }
        ws_close(fd, 1000);
out:
        free(in);
}

static void ws_run(void *p, int fd, const char *extra, size_t extra_len) {
        struct ws_ctx *a = p;
        (void) extra; /* a websocket client sends nothing before the 101 */
        (void) extra_len;
        if (a->logs) {
                api_wait_headers_read(fd);
                if (!ws_send_logs(a, fd))
                        return;
        }
        if (!a->stream) {
                ws_close(fd, 1000);
                return;
        }
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                ws_close(fd, 1011);
                return;
        }
        a->o.raw = true;
        int conn = -1;
        struct berr err = { 0 };
        int r = ctr_attach_begin(a->d, a->c, sp[1], &a->o, &conn, &err);
        close(sp[1]); /* the shim has its own copy */
        if (r == 0 && conn >= 0)
                ws_relay(a, fd, sp[0], conn);
        else
                ws_close(fd, r < 0 ? 1011 : 1000);
        if (conn >= 0)
                close(conn);
        close(sp[0]);
}

static void ws_free(void *p) {
        struct ws_ctx *a = p;
        ctr_logs_free(a->logs);
        ctr_unref(a->d, a->c);
        free(a);
}

int api_containers_attach_ws(struct api_request *req, struct berr *err) {
        bool stream, in, out, errs, logs;
        int r;
        if ((r = api_query_bool(req, "stream", false, &stream, err)) < 0 ||
            (r = api_query_bool(req, "stdin", false, &in, err)) < 0 ||
            (r = api_query_bool(req, "stdout", false, &out, err)) < 0 ||
            (r = api_query_bool(req, "stderr", false, &errs, err)) < 0 ||
            (r = api_query_bool(req, "logs", false, &logs, err)) < 0)
                return r;
        const char *up = api_header(req, "Upgrade"), *key = api_header(req, "Sec-WebSocket-Key"),
                   *wsv = api_header(req, "Sec-WebSocket-Version");
        if (!up || strcasecmp(up, "websocket") != 0)
                return berr_set(err, BERR_INVALID, EINVAL, "websocket: the client is not using the websocket protocol");
        if (!ws_key_valid(key))
                return berr_set(err, BERR_INVALID, EINVAL, "websocket: invalid Sec-WebSocket-Key");
        if (!wsv || strcmp(wsv, "13") != 0)
                return berr_set(err, BERR_INVALID, EINVAL, "websocket: unsupported version (Sec-WebSocket-Version 13)");
        struct ws_ctx *a = calloc(1, sizeof(*a));
        if (!a)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        a->d = req->ctx;
        a->o.use_stdin = in;
        a->o.use_stdout = out;
        a->o.use_stderr = errs;
        a->stream = stream;
        const char *keys = api_query(req, "detachKeys");
        snprintf(a->o.detach_keys, sizeof(a->o.detach_keys), "%s", keys ? keys : "");
        if (keys && *keys) {
                uint8_t tmp[16];
                size_t n;
                if ((r = ctr_parse_detach_keys(keys, tmp, sizeof(tmp), &n, err)) < 0) {
                        free(a);
                        return r;
                }
        }
        if ((r = path_container(req, &a->c, err)) < 0) {
                free(a);
                return r;
        }
        a->tty = ctr_has_tty(a->c);
        a->op = STREQ(api_versions_value(req->route, req->version, "frames", "binary"), "text") ? WS_OP_TEXT
                                                                                                  : WS_OP_BINARY;
        if (logs && (out || errs)) {
                struct ctr_logs_opts lo = { .tail = -1, .client_fd = -1, .want_stdout = out, .want_stderr = errs };
                struct container *lc;
                if ((r = path_container(req, &lc, err)) < 0) {
                        ws_free(a);
                        return r;
                }
                if ((r = ctr_logs_open(req->ctx, lc, &lo, &a->logs, err)) < 0) {
                        ctr_unref(req->ctx, lc);
                        ws_free(a);
                        return r;
                }
        }
        ws_accept_key(key, a->accept);
        api_add_header(req, "Sec-WebSocket-Accept", a->accept);
        return api_reply_upgrade_to(req, "websocket", NULL, ws_run, ws_free, a);
}

/* POST /containers/{id}/update (docker update) */
int api_containers_update(struct api_request *req, struct berr *err) {
        _cleanup_json_ json_t *body = NULL;
        int r = api_body_json(req, &body, err);
        if (r < 0)
                return r;
        struct container *c;
        if ((r = path_container(req, &c, err)) < 0)
                return r;
        json_t *warnings = NULL;
        r = ctr_update(req->ctx, c, body, &warnings, err);
        ctr_unref(req->ctx, c);
        if (r < 0)
                return r;
        return api_reply_json(req, 200, json_pack("{s:o}", "Warnings", warnings));
}
