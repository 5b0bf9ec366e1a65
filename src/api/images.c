/* images.c - the Image endpoints: load, save (get), import (create?fromSrc), list,
 * inspect, history, tag, delete, prune, and the image part of /system/df. Each decodes the
 * request, calls the image store, and encodes the answer the way the API version asks
 * (placeholders and deprecated fields come and go with it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "versions.h"
#include "daemon/container.h"
#include "daemon/daemon.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "daemon/images.h"
#include "daemon/volumes.h"
#include "images_filters.h"

#define MAX_NAMES 1024
#define MAX_CHANGES 256

static const char *param_name(struct api_request *req) {
        return req->params[0] ? req->params[0] : "";
}

/* ---- JSON message streams (load, import): one object per line, "\r\n" as dockerd ---- */

struct messages {
        char *buf;
        size_t len;
        FILE *f;
};

static int messages_open(struct messages *m, struct berr *err) {
        m->buf = NULL;
        m->len = 0;
        m->f = open_memstream(&m->buf, &m->len);
        return m->f ? 0 : berr_sys(err, BERR_INTERNAL, "open_memstream");
}

static void messages_add(struct messages *m, json_t *msg) {
        _cleanup_json_ json_t *owned = msg;
        _cleanup_free_ char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
        if (text)
                fprintf(m->f, "%s\r\n", text);
}

static void messages_add_error(struct messages *m, const char *text) {
        messages_add(m, json_pack("{s:{s:s}, s:s}", "errorDetail", "message", text, "error", text));
}

struct messages_body {
        char *buf;
        size_t len, off;
};

static ssize_t messages_read(void *p, char *buf, size_t max) {
        struct messages_body *b = p;
        size_t n = b->len - b->off < max ? b->len - b->off : max;
        memcpy(buf, b->buf + b->off, n);
        b->off += n;
        return (ssize_t) n;
}

static void messages_free(void *p) {
        struct messages_body *b = p;
        free(b->buf);
        free(b);
}

/* Chunked, as dockerd streams it: docker-py decodes a chunked answer line by line, and a
 * whole body as one JSON document (which several messages are not). */
static int messages_reply(struct api_request *req, struct messages *m) {
        fclose(m->f);
        m->f = NULL;
        struct messages_body *b = calloc(1, sizeof(*b));
        if (!b) {
                free(m->buf);
                m->buf = NULL;
                return -ENOMEM;
        }
        b->buf = m->buf;
        b->len = m->buf ? m->len : 0;
        m->buf = NULL;
        return api_reply_stream(req, 200, "application/json", messages_read, messages_free, b);
}

/* ---- POST /images/load ---- */

struct load_ctx {
        struct api_request *req;
        struct messages *out;
};

static void on_load_line(void *opaque, const char *line) {
        struct load_ctx *c = opaque;
        _cleanup_free_ char *text = NULL;
        if (asprintf(&text, "%s\n", line) >= 0)
                messages_add(c->out, json_pack("{s:s}", "stream", text));
}

/* Go's units.HumanSize: decimal units, four significant digits ("1.069MB", "32.77kB"). */
static void human_size(uint64_t n, char *out, size_t size) {
        static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB" };
        double v = (double) n;
        size_t u = 0;
        while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
                v /= 1000;
                u++;
        }
        snprintf(out, size, "%.4g%s", v, units[u]);
}

/* dockerd's "Loading layer" message (streamformatter's JSON progress; the daemon renders
 * no bar, only the numbers, the CLI draws the bar from progressDetail). */
static void on_load_progress(void *opaque, const char *short_id, uint64_t current, uint64_t total) {
        struct load_ctx *c = opaque;
        char cur[32], tot[32], text[80];
        human_size(current, cur, sizeof(cur));
        human_size(total, tot, sizeof(tot));
        snprintf(text, sizeof(text), "%8s/%s", cur, tot);
        messages_add(c->out, json_pack("{s:s, s:{s:I, s:I}, s:s, s:s}", "status", "Loading layer", "progressDetail",
                                       "current", (json_int_t) current, "total", (json_int_t) total, "progress",
                                       current || total ? text : "", "id", short_id));
}

static bool load_complete(void *opaque) {
        struct load_ctx *c = opaque;
        return api_body_complete(c->req);
}

int api_images_load(struct api_request *req, struct berr *err) {
        bool quiet;
        int r = api_query_bool(req, "quiet", false, &quiet, err);
        if (r < 0)
                return r;
        struct messages out;
        r = messages_open(&out, err);
        if (r < 0)
                return r;
        struct load_ctx c = { .req = req, .out = &out };
        struct berr lerr = { 0 };
        r = daemon_image_load(req->ctx, req->body_fd, on_load_line, quiet ? NULL : on_load_progress, &c, load_complete,
                              &lerr);
        if (r < 0) {
                /* As dockerd: the status is 200 and the error is a message in the stream. */
                log_info("image load failed: %s", lerr.msg);
                messages_add_error(&out, lerr.msg);
        }
        return messages_reply(req, &out);
}

/* ---- POST /images/create?fromSrc= (import) ---- */

static bool import_complete(void *opaque) {
        return api_body_complete(opaque);
}

/* "linux/amd64[/v8]" into its parts (NULL when absent). */
static int split_platform(const char *p, char buf[128], const char **os, const char **arch, const char **variant,
                          struct berr *err) {
        *os = *arch = *variant = NULL;
        if (!p || !p[0])
                return 0;
        snprintf(buf, 128, "%s", p);
        char *save = NULL;
        *os = strtok_r(buf, "/", &save);
        *arch = strtok_r(NULL, "/", &save);
        *variant = strtok_r(NULL, "/", &save);
        if (!*os || strtok_r(NULL, "/", &save))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid platform: %s", p);
        if (!STREQ(*os, "linux"))
                return berr_set(err, BERR_INVALID, EINVAL, "operating system is not supported: %s", *os);
        return 0;
}

int api_images_create(struct api_request *req, struct berr *err) {
        const char *from_image = api_query(req, "fromImage");
        const char *from_src = api_query(req, "fromSrc");
        if (from_image && from_image[0])
                return api_images_pull(req, err);
        if (!from_src || !from_src[0])
                return berr_set(err, BERR_INVALID, EINVAL, "fromImage or fromSrc is required");
        if (!STREQ(from_src, "-"))
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOSYS, "importing from a URL is not supported: send the archive as the request body (fromSrc=-)");
        char ref[REFERENCE_STRING_MAX], plat[128];
        int r = daemon_image_repo_tag(api_query(req, "repo"), api_query(req, "tag"), ref, err);
        if (r < 0)
                return r;
        struct image_import_opts o = {
                .reference = ref[0] ? ref : NULL,
                .message = api_query(req, "message"),
                .source = from_src,
                .complete = import_complete,
                .opaque = req,
        };
        r = split_platform(api_query(req, "platform"), plat, &o.os, &o.architecture, &o.variant, err);
        if (r < 0)
                return r;
        const char *changes[MAX_CHANGES];
        size_t n = api_query_values(req, "changes", changes, MAX_CHANGES);
        if (n > MAX_CHANGES)
                return berr_set(err, BERR_INVALID, E2BIG, "too many changes (at most %d)", MAX_CHANGES);
        o.changes = changes;
        o.n_changes = n;
        char id[DIGEST_STRING_MAX];
        r = daemon_image_import(req->ctx, req->body_fd, &o, id, err);
        if (r < 0)
                return r; /* nothing was sent yet: a plain error, as dockerd answers then */
        struct messages out;
        r = messages_open(&out, err);
        if (r < 0)
                return r;
        messages_add(&out, json_pack("{s:s}", "status", id));
        return messages_reply(req, &out);
}

/* ---- GET /images/{name}/get, GET /images/get?names= ---- */

static ssize_t save_read(void *ctx, char *buf, size_t max) {
        struct berr err = { 0 };
        ssize_t n = image_save_read(ctx, buf, max, &err);
        if (n < 0)
                log_error("image save: %s", err.msg); /* the client sees the archive cut short */
        return n;
}

static void save_free(void *ctx) {
        image_save_free(ctx);
}

int api_images_get(struct api_request *req, struct berr *err) {
        const char *names[MAX_NAMES];
        size_t n;
        if (req->params[0]) {
                names[0] = req->params[0];
                n = 1;
        } else {
                n = api_query_values(req, "names", names, MAX_NAMES);
                if (n > MAX_NAMES)
                        return berr_set(err, BERR_INVALID, E2BIG, "too many names (at most %d)", MAX_NAMES);
        }
        struct image_save *sv;
        int r = daemon_image_save_open(req->ctx, names, n, &sv, err);
        if (r < 0)
                return r;
        return api_reply_stream(req, 200, "application/x-tar", save_read, save_free, sv);
}

/* ---- GET /images/json ---- */

static const char *const list_filters[] = { "before", "dangling", "label", "reference", "since", "until", NULL };

struct decoded_filters {
        json_t *json;
        const char **labels, **labels_not, **refs, **before, **since, **until;
        struct image_filters f;
};

static void decoded_filters_free(struct decoded_filters *d) {
        json_decref(d->json);
        free(d->labels);
        free(d->labels_not);
        free(d->refs);
        free(d->before);
        free(d->since);
        free(d->until);
}

static int decode_filters(struct api_request *req, const char *const *accepted, int dangling_default,
                          struct decoded_filters *d, struct berr *err) {
        memset(d, 0, sizeof(*d));
        int r = api_filters_parse(api_query(req, "filters"), accepted, &d->json, err);
        if (r < 0)
                return r;
        api_versions_filters(req->route, req->version, d->json, req); /* older versions' filter parameters */
        r = api_filters_bool(d->json, "dangling", dangling_default, &d->f.dangling, err);
        if (r < 0)
                return r;
        d->labels = api_filters_values(d->json, "label");
        d->labels_not = api_filters_values(d->json, "label!");
        d->refs = api_filters_values(d->json, "reference");
        d->before = api_filters_values(d->json, "before");
        d->since = api_filters_values(d->json, "since");
        d->until = api_filters_values(d->json, "until");
        d->f.labels = d->labels;
        d->f.labels_not = d->labels_not;
        d->f.references = d->refs;
        d->f.before = d->before ? d->before[0] : NULL;
        d->f.since = d->since ? d->since[0] : NULL;
        if (d->until) {
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                int64_t now_ns = (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
                r = api_parse_timestamp(d->until[0], now_ns, &d->f.until_ns, err);
                if (r < 0)
                        return r;
                d->f.has_until = true;
        }
        return 0;
}

int api_images_list(struct api_request *req, struct berr *err) {
        bool all, digests, shared;
        int r = api_query_bool(req, "all", false, &all, err);
        if (r == 0)
                r = api_query_bool(req, "digests", false, &digests, err);
        if (r == 0)
                r = api_query_bool(req, "shared-size", false, &shared, err);
        if (r < 0)
                return r;
        struct decoded_filters d;
        r = decode_filters(req, list_filters, -1, &d, err);
        json_t *list = NULL;
        if (r == 0) {
                struct image_list_opts o = { .shared_size = shared, .filters = &d.f, .hide_intermediate = !all };
                r = daemon_image_list(req->ctx, &o, &list, err);
        }
        decoded_filters_free(&d);
        if (r < 0)
                return r;
        return api_reply_json(req, 200, list); /* versions.c shapes it for older versions */
}

/* ---- GET /images/{name}/json, /history ---- */

int api_images_inspect(struct api_request *req, struct berr *err) {
        json_t *o;
        int r = daemon_image_inspect(req->ctx, param_name(req), &o, err);
        if (r < 0)
                return r;
        return api_reply_json(req, 200, o); /* versions.c shapes it for older versions */
}

int api_images_history(struct api_request *req, struct berr *err) {
        json_t *h;
        int r = daemon_image_history(req->ctx, param_name(req), &h, err);
        if (r < 0)
                return r;
        return api_reply_json(req, 200, h);
}

/* ---- POST /images/{name}/tag ---- */

int api_images_tag(struct api_request *req, struct berr *err) {
        const char *repo = api_query(req, "repo");
        if (!repo || !repo[0])
                return berr_set(err, BERR_INVALID, EINVAL, "repository name must have at least one component");
        char target[REFERENCE_STRING_MAX];
        int r = daemon_image_repo_tag(repo, api_query(req, "tag"), target, err);
        if (r < 0)
                return r;
        r = daemon_image_tag(req->ctx, param_name(req), target, err);
        if (r < 0)
                return r;
        return api_reply_empty(req, 201);
}

/* ---- DELETE /images/{name} ---- */

int api_images_delete(struct api_request *req, struct berr *err) {
        bool force, noprune;
        int r = api_query_bool(req, "force", false, &force, err);
        if (r == 0) /* no parent chains are stored, so there is nothing for noprune to keep */
                r = api_query_bool(req, "noprune", false, &noprune, err);
        if (r < 0)
                return r;
        json_t *items;
        r = daemon_image_delete(req->ctx, param_name(req), force, &items, err);
        if (r < 0)
                return r;
        return api_reply_json(req, 200, items);
}

/* ---- POST /images/prune ---- */

static const char *const prune_filters[] = { "dangling", "label", "label!", "until", NULL };

int api_images_prune(struct api_request *req, struct berr *err) {
        struct decoded_filters d;
        int r = decode_filters(req, prune_filters, 1, &d, err);
        json_t *out = NULL;
        if (r == 0)
                r = daemon_image_prune(req->ctx, &d.f, &out, err);
        decoded_filters_free(&d);
        if (r < 0)
                return r;
        return api_reply_json(req, 200, out);
}

/* ---- GET /system/df ---- */

static bool df_wants(struct api_request *req, const char *type) {
        const char *types[8];
        size_t n = api_query_values(req, "type", types, 8);
        if (n == 0)
                return true;
        for (size_t i = 0; i < n && i < 8; i++)
                if (STREQ(types[i], type))
                        return true;
        return false;
}

int api_system_df(struct api_request *req, struct berr *err) {
        json_t *o = json_object();
        if (!o)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (df_wants(req, "image")) {
                json_t *images = NULL;
                struct image_list_opts opts = { .shared_size = true, .hide_intermediate = true }; /* as dockerd: no -a */
                int r = daemon_image_list_with_containers(req->ctx, &opts, &images, err);
                if (r < 0) {
                        json_decref(o);
                        return r;
                }
                json_object_set_new(o, "LayersSize", json_integer(daemon_image_layers_size(req->ctx)));
                json_object_set_new(o, "Images", images);
        }
        struct daemon *d = req->ctx;
        if (df_wants(req, "container")) {
                json_t *ctrs = NULL;
                _cleanup_json_ json_t *none = json_object();
                int r = ctr_list_json(d, true, -1, true, none, &ctrs, err);
                if (r < 0) {
                        json_decref(o);
                        return r;
                }
                json_object_set_new(o, "Containers", ctrs);
        }
        if (df_wants(req, "volume")) {
                json_t *vols = NULL;
                int r = daemon_volume_list_with_usage(d, &vols, err);
                if (r < 0) {
                        json_decref(o);
                        return r;
                }
                json_object_set_new(o, "Volumes", vols);
        }
        /* No builder yet: no build cache. */
        if (df_wants(req, "build-cache"))
                json_object_set_new(o, "BuildCache", json_array());
        return api_reply_json(req, 200, o);
}
