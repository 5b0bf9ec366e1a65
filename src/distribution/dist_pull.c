/* dist_pull.c - `docker pull`: resolve the manifest (choosing a platform from an index),
 * fetch the config, download the missing layers in parallel (bounded daemon-wide by
 * max-concurrent-downloads) into temporary files while hashing them, resuming a cut
 * transfer with a Range request and retrying with back-off, and apply them in order:
 * the layer next in line is applied while it streams in (its download tees the bytes
 * into a pipe the extraction reads, besides the file), later ones spool to their files
 * and are applied from there when their turn comes. Applying runs without the image
 * store lock (image_pull_layer_prepare); a layer is recorded only once its blob's digest
 * is verified. On any failure the temporary files, prepared layer storage and the layers
 * registered so far are removed. */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "dist_int.h"
#include "image/image_registry.h"

#define BACKOFF_FIRST_MS 500
#define PROGRESS_INTERVAL_MS 100
#define ACCEPT_MANIFESTS                                                                                          \
        MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST ", " MT_OCI_INDEX ", " MT_OCI_MANIFEST

enum layer_state {
        LAYER_PENDING,
        LAYER_DONE,
        LAYER_FAILED,
};

struct pull_layer {
        struct dist_descriptor desc;
        char diff_id[DIGEST_STRING_MAX];
        char short_id[16];
        bool exists;          /* the layer chain is stored: nothing to fetch */
        bool from_store;      /* the blob is in the content store already */
        char tmp_path[PATH_MAX];
        int fd;
        enum layer_state state;
        struct berr err;
        pthread_t thread;
        bool started;
        struct pull *p;
        /* Streaming into the extraction: the write end of its pipe, set under p->lock by
         * the extraction while the download is pending and taken by the download (which
         * then closes it); stream_broken (under p->lock) when what went down the pipe is
         * not the blob (the registry restarted the body, a write failed): the extraction
         * then applies from the file. */
        int stream_w;
        bool stream_broken;
        _Atomic int64_t streamed; /* bytes sent down the pipe, for progress */
};

struct pull {
        struct image_store *s;
        const struct dist_pull_opts *o;
        struct dist_client *c;
        struct reference ref;
        pthread_mutex_t lock; /* layer states, failed */
        pthread_cond_t cond;
        bool failed;
        pthread_mutex_t emit_lock;
        struct pull_layer *layers;
        size_t n_layers;
        /* extraction progress, watched by a ticker thread */
        int extract_fd;
        struct pull_layer *extract_stream; /* or the layer streaming in */
        const char *extract_id;
        int64_t extract_total;
        bool extract_stop;
};

/* ---- progress, serialised: transfers report from their own threads ---- */

static void emit_json(void *opaque, json_t *msg) {
        struct pull *p = opaque;
        pthread_mutex_lock(&p->emit_lock);
        if (p->o->progress)
                p->o->progress(p->o->opaque, msg);
        pthread_mutex_unlock(&p->emit_lock);
}

static void say(struct pull *p, const char *id, const char *status) {
        dist_progress_status(emit_json, p, id, status);
}

static void say_bytes(struct pull *p, const char *id, const char *status, int64_t cur, int64_t total) {
        dist_progress_bytes(emit_json, p, id, status, cur, total);
}

static bool pull_cancelled(void *opaque) {
        struct pull *p = opaque;
        if (p->o->cancelled && p->o->cancelled(p->o->opaque))
                return true;
        pthread_mutex_lock(&p->lock);
        bool f = p->failed;
        pthread_mutex_unlock(&p->lock);
        return f;
}

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep @ms, waking early when the pull is cancelled. */
static void backoff(struct pull *p, int ms) {
        for (int left = ms; left > 0 && !pull_cancelled(p); left -= 50) {
                struct timespec ts = { 0, 50 * 1000000L };
                nanosleep(&ts, NULL);
        }
}

/* ---- small fetches: manifests and configs, verified ---- */

static int fetch_verified(struct pull *p, struct dist_conn *conn, const char *url, const char *accept,
                          const char *want_digest, size_t max, struct dist_resp *resp, char ret_digest[DIGEST_STRING_MAX],
                          const char *what, struct berr *err) {
        struct dist_req rq = { .method = "GET", .url = url, .accept = accept, .body_fd = -1, .max_body = max };
        int r = -EIO;
        for (int attempt = 0; attempt < dist_config_max_download_attempts(); attempt++) {
                if (attempt)
                        backoff(p, BACKOFF_FIRST_MS << (attempt - 1 < 6 ? attempt - 1 : 6));
                r = dist_do(p->c, conn, &rq, resp, err);
                bool transient = (r < 0 && err->kind == BERR_UNAVAILABLE && err->errnum != ECANCELED) ||
                                 (r == 0 && (resp->status >= 500 || resp->status == 429));
                if (!transient)
                        break;
        }
        if (r < 0)
                return r;
        if (resp->status != 200)
                return dist_resp_error(resp, what, err);
        r = digest_sha256_buf(resp->body ? resp->body : "", resp->body_len, ret_digest, err);
        if (r < 0)
                return r;
        if (want_digest && !STREQ(want_digest, ret_digest))
                return berr_set(err, BERR_INVALID, EINVAL, "%s: digest mismatch: expected %s, got %s", what, want_digest,
                                ret_digest);
        if (!want_digest && digest_is_sha256(resp->digest) && !STREQ(resp->digest, ret_digest))
                return berr_set(err, BERR_INVALID, EINVAL, "%s: digest mismatch: registry says %s, content is %s", what,
                                resp->digest, ret_digest);
        return 0;
}

/* ---- layer downloads ---- */

struct sink {
        struct pull_layer *l;
        struct dist_conn *conn;
        struct digest_ctx *d;
        int64_t got;
        int64_t start;      /* offset the current request asked for */
        bool checked_range; /* the first bytes of this response were looked at */
        int64_t last_ms;
        int sw;             /* the stream's write end once taken, else -1 */
        bool stream_off;    /* streaming stopped: never take it again */
};

/* Stop streaming; @broken: what was sent is not (a prefix of) the blob, or is cut short
 * while the download goes on, so the extraction must not use it. */
static void stream_stop(struct sink *k, bool broken) {
        if (k->sw >= 0)
                close(k->sw);
        k->sw = -1;
        k->stream_off = true;
        if (broken) {
                pthread_mutex_lock(&k->l->p->lock);
                k->l->stream_broken = true;
                pthread_mutex_unlock(&k->l->p->lock);
        }
}

static void stream_send(struct sink *k, const char *data, size_t len) {
        if (k->sw < 0)
                return;
        if (fs_write_all(k->sw, data, len) < 0) { /* EPIPE: the extraction stopped reading */
                stream_stop(k, true);
                return;
        }
        atomic_fetch_add(&k->l->streamed, (int64_t) len);
}

/* Take the stream when the extraction asked for it, and send first what the file holds. */
static void stream_take(struct sink *k) {
        struct pull_layer *l = k->l;
        if (k->stream_off || k->sw >= 0)
                return;
        pthread_mutex_lock(&l->p->lock);
        int w = l->stream_w;
        l->stream_w = -1;
        pthread_mutex_unlock(&l->p->lock);
        if (w < 0)
                return;
        k->sw = w;
        if (k->got == 0)
                return;
        char *buf = malloc(1 << 16);
        if (!buf) {
                stream_stop(k, true);
                return;
        }
        for (int64_t off = 0; off < k->got && k->sw >= 0;) {
                size_t want = (size_t) (k->got - off < (1 << 16) ? k->got - off : (1 << 16));
                ssize_t n = pread(l->fd, buf, want, off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        stream_stop(k, true);
                        break;
                }
                stream_send(k, buf, (size_t) n);
                off += n;
        }
        free(buf);
}

static size_t sink_write(void *opaque, const char *data, size_t len) {
        struct sink *k = opaque;
        struct pull_layer *l = k->l;
        if (!k->checked_range) {
                k->checked_range = true;
                long status = 0;
                (void) curl_easy_getinfo(k->conn->h, CURLINFO_RESPONSE_CODE, &status);
                if (k->start > 0 && status != 206) {
                        /* The registry ignored the Range: start again from the beginning.
                         * What was streamed cannot be taken back: the extraction falls
                         * back to the file. */
                        if (k->sw >= 0 || atomic_load(&l->streamed) > 0)
                                stream_stop(k, true);
                        if (ftruncate(l->fd, 0) < 0 || lseek(l->fd, 0, SEEK_SET) < 0)
                                return 0;
                        digest_ctx_free(k->d);
                        k->d = NULL;
                        if (digest_ctx_new(&k->d, NULL) < 0)
                                return 0;
                        k->got = 0;
                }
        }
        if (k->got + (int64_t) len > l->desc.size)
                return 0; /* more than the manifest said: refuse, it cannot verify */
        stream_take(k);
        int w = fs_write_all(l->fd, data, len);
        if (w < 0) {
                errno = -w; /* the caller reports it (a full data root: ENOSPC) */
                return 0;
        }
        stream_send(k, data, len);
        digest_ctx_update(k->d, data, len);
        k->got += (int64_t) len;
        int64_t t = now_ms();
        if (t - k->last_ms >= PROGRESS_INTERVAL_MS || k->got == l->desc.size) {
                k->last_ms = t;
                say_bytes(l->p, l->short_id, "Downloading", k->got, l->desc.size);
        }
        return len;
}

static int download_layer(struct pull *p, struct pull_layer *l, struct dist_conn *conn, struct berr *err) {
        int r = image_blob_tmp(p->s, l->tmp_path, &l->fd, err);
        if (r < 0)
                return r;
        struct sink k = { .l = l, .conn = conn, .sw = -1 };
        r = digest_ctx_new(&k.d, err);
        if (r < 0)
                return r;
        char url[REFERENCE_NAME_MAX + 128];
        snprintf(url, sizeof(url), "/v2/%s/blobs/%s", p->c->repo, l->desc.digest);
        struct dist_resp resp = { 0 };
        for (int attempt = 0;; attempt++) {
                char range[64];
                snprintf(range, sizeof(range), "bytes=%lld-", (long long) k.got);
                k.start = k.got;
                k.checked_range = false;
                struct dist_req rq = { .method = "GET", .url = url, .body_fd = -1, .sink = sink_write, .sink_opaque = &k,
                                       .range = k.got > 0 ? range : NULL };
                r = dist_do(p->c, conn, &rq, &resp, err);
                bool ok_status = r == 0 && (resp.status == 200 || resp.status == 206);
                if (ok_status && k.got == l->desc.size)
                        break;
                if (r == 0 && !ok_status && resp.status != 429 && resp.status < 500) {
                        r = dist_resp_error(&resp, "download", err);
                        break;
                }
                if (r < 0 && (err->errnum == ECANCELED || err->kind != BERR_UNAVAILABLE))
                        break;
                if (r == 0 && ok_status) /* the body ended short of the size: resume it */
                        r = berr_set(err, BERR_UNAVAILABLE, EIO, "unexpected EOF");
                if (r == 0)
                        r = dist_resp_error(&resp, "download", err);
                if (attempt + 1 >= dist_config_max_download_attempts())
                        break;
                log_debug("pull %s: layer %s: %s; retrying from byte %lld", p->c->repo, l->desc.digest, err->msg,
                          (long long) k.got);
                say(p, l->short_id, "Retrying");
                backoff(p, BACKOFF_FIRST_MS << (attempt < 6 ? attempt : 6));
                if (pull_cancelled(p)) {
                        r = berr_set(err, BERR_UNAVAILABLE, ECANCELED, "operation cancelled");
                        break;
                }
                r = 0;
        }
        dist_resp_done(&resp);
        if (r == 0) {
                say(p, l->short_id, "Verifying Checksum");
                char got[DIGEST_STRING_MAX];
                digest_ctx_final(k.d, got);
                if (!STREQ(got, l->desc.digest))
                        r = berr_set(err, BERR_INVALID, EINVAL, "filesystem layer verification failed for digest %s",
                                     l->desc.digest);
        }
        digest_ctx_free(k.d);
        /* The end of the stream (EOF for the extraction, which then waits for the verdict:
         * nothing it applied is recorded unless the digest matched). */
        stream_stop(&k, false);
        /* Made durable here, in parallel with the extraction of earlier layers, so that
         * moving it into the content store at commit costs nothing. */
        if (r == 0 && fsync(l->fd) < 0)
                r = berr_sys(err, BERR_INTERNAL, "sync layer %s", l->desc.digest);
        if (r == 0)
                say(p, l->short_id, "Download complete");
        return r;
}

static void *layer_worker(void *arg) {
        struct pull_layer *l = arg;
        struct pull *p = l->p;
        if (!dist_slot_try_acquire(false)) {
                say(p, l->short_id, "Waiting");
                dist_slot_acquire(false);
        }
        struct dist_conn conn = { 0 };
        struct berr err = { 0 };
        int r = pull_cancelled(p) ? berr_set(&err, BERR_UNAVAILABLE, ECANCELED, "operation cancelled")
                                  : dist_conn_open(&conn, &err);
        if (r == 0)
                r = download_layer(p, l, &conn, &err);
        dist_conn_close(&conn);
        dist_slot_release(false);
        pthread_mutex_lock(&p->lock);
        if (l->stream_w >= 0) { /* asked for but never taken: EOF, and apply from the file */
                close(l->stream_w);
                l->stream_w = -1;
                l->stream_broken = true;
        }
        l->state = r == 0 ? LAYER_DONE : LAYER_FAILED;
        if (r < 0) {
                l->err = err;
                p->failed = true; /* the others stop at their next check */
        }
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

/* ---- extraction ---- */

static void *extract_ticker(void *arg) {
        struct pull *p = arg;
        int64_t last = -1;
        for (;;) {
                struct timespec ts = { 0, PROGRESS_INTERVAL_MS * 1000000L };
                nanosleep(&ts, NULL);
                pthread_mutex_lock(&p->lock);
                bool stop = p->extract_stop;
                int fd = p->extract_fd;
                const char *id = p->extract_id;
                int64_t total = p->extract_total;
                /* A layer streaming in shows "Extracting" only once its download completed,
                 * as clients expect it (dockerd's order). */
                int64_t pos = p->extract_stream ? (p->extract_stream->state == LAYER_PENDING
                                                           ? -1
                                                           : atomic_load(&p->extract_stream->streamed))
                              : fd >= 0         ? (int64_t) lseek(fd, 0, SEEK_CUR)
                                                : -1;
                pthread_mutex_unlock(&p->lock);
                if (stop)
                        return NULL;
                if (pos > 0 && pos != last && id) {
                        last = pos;
                        say_bytes(p, id, "Extracting", pos > total ? total : pos, total);
                }
        }
}

/* Wait for layer @l's download; its error when it failed. */
static int wait_layer(struct pull *p, struct pull_layer *l, struct berr *err) {
        pthread_mutex_lock(&p->lock);
        while (l->state == LAYER_PENDING)
                pthread_cond_wait(&p->cond, &p->lock);
        int r = 0;
        if (l->state == LAYER_FAILED) {
                *err = l->err;
                r = -(err->errnum ? err->errnum : EIO);
        }
        pthread_mutex_unlock(&p->lock);
        return r;
}

/* The first failure among the downloads (the one that made the others stop), if any. */
static bool first_failure(struct pull *p, struct berr *err) {
        bool found = false;
        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < p->n_layers && !found; i++)
                if (p->layers[i].state == LAYER_FAILED && p->layers[i].err.errnum != ECANCELED) {
                        *err = p->layers[i].err;
                        found = true;
                }
        pthread_mutex_unlock(&p->lock);
        return found;
}

static void extract_show(struct pull *p, struct pull_layer *l, int fd, struct pull_layer *stream) {
        pthread_mutex_lock(&p->lock);
        p->extract_fd = fd;
        p->extract_stream = stream;
        p->extract_id = l ? l->short_id : NULL;
        p->extract_total = l ? l->desc.size : 0;
        pthread_mutex_unlock(&p->lock);
}

/* Apply layer @l on @top: streamed while it downloads when its download is still going,
 * else (or when the stream went wrong) from its file. Committed only after the download
 * verified the blob's digest. A download error is returned as such. */
static int apply_layer(struct pull *p, struct pull_layer *l, struct layer *top, struct layer **ret, struct berr *err) {
        struct layer *prep = NULL;
        int rfd = -1, r;
        pthread_mutex_lock(&p->lock);
        if (l->state == LAYER_PENDING && !l->from_store) {
                int fds[2];
                if (pipe2(fds, O_CLOEXEC) == 0) {
                        (void) fcntl(fds[1], F_SETPIPE_SZ, 1 << 20); /* best effort */
                        l->stream_w = fds[1];
                        rfd = fds[0];
                }
        }
        pthread_mutex_unlock(&p->lock);
        if (rfd >= 0) {
                extract_show(p, l, -1, l); /* "Extracting" waits for "Download complete" */
                struct berr perr = { 0 };
                int pr = image_pull_layer_prepare(p->s, top, rfd, &prep, &perr);
                close(rfd); /* a download still sending stops streaming (EPIPE) */
                extract_show(p, NULL, -1, NULL);
                r = wait_layer(p, l, err);
                if (r < 0) {
                        image_pull_layer_abort(p->s, prep);
                        return r;
                }
                pthread_mutex_lock(&p->lock);
                bool broken = l->stream_broken;
                pthread_mutex_unlock(&p->lock);
                if (!broken) {
                        if (pr < 0) {
                                *err = perr;
                                return berr_wrap(err, "failed to register layer");
                        }
                        r = image_pull_layer_commit(p->s, prep, l->diff_id, ret, err);
                        return r < 0 ? berr_wrap(err, "failed to register layer") : 0;
                }
                image_pull_layer_abort(p->s, prep);
                prep = NULL;
                log_debug("pull %s: layer %s: stream interrupted, applying from the downloaded file", p->c->repo,
                          l->desc.digest);
        } else {
                r = wait_layer(p, l, err);
                if (r < 0)
                        return r;
        }
        if (lseek(l->fd, 0, SEEK_SET) < 0)
                return berr_sys(err, BERR_INTERNAL, "rewind layer %s", l->desc.digest);
        say_bytes(p, l->short_id, "Extracting", 0, l->desc.size);
        extract_show(p, l, l->fd, NULL);
        r = image_pull_layer_prepare(p->s, top, l->fd, &prep, err);
        extract_show(p, NULL, -1, NULL);
        if (r == 0)
                r = image_pull_layer_commit(p->s, prep, l->diff_id, ret, err);
        return r < 0 ? berr_wrap(err, "failed to register layer") : 0;
}

static int extract_all(struct pull *p, struct layer **ret_top, struct berr *err) {
        struct layer *top = NULL;
        int r = 0;
        pthread_t ticker;
        bool ticking = pthread_create(&ticker, NULL, extract_ticker, p) == 0;
        for (size_t i = 0; i < p->n_layers && r == 0; i++) {
                struct pull_layer *l = &p->layers[i];
                struct layer *next = NULL;
                if (l->exists) {
                        r = image_pull_layer(p->s, top, -1, l->diff_id, &next, err);
                        if (r < 0)
                                berr_wrap(err, "failed to register layer");
                } else
                        r = apply_layer(p, l, top, &next, err);
                if (r < 0)
                        break;
                image_pull_layer_release(p->s, top); /* @next holds its parent now */
                top = next;
                if (!l->exists) {
                        say_bytes(p, l->short_id, "Extracting", l->desc.size, l->desc.size);
                        say(p, l->short_id, "Pull complete");
                }
        }
        pthread_mutex_lock(&p->lock);
        p->extract_stop = true;
        if (r < 0)
                p->failed = true;
        pthread_mutex_unlock(&p->lock);
        if (ticking)
                pthread_join(ticker, NULL);
        if (r < 0) {
                image_pull_layer_release(p->s, top);
                return r;
        }
        *ret_top = top;
        return 0;
}

/* ---- the pull of one manifest ---- */

static void layers_cleanup(struct pull *p) {
        pthread_mutex_lock(&p->lock);
        p->failed = p->failed || false;
        pthread_mutex_unlock(&p->lock);
        for (size_t i = 0; i < p->n_layers; i++) {
                struct pull_layer *l = &p->layers[i];
                if (l->started)
                        pthread_join(l->thread, NULL);
                if (l->fd >= 0)
                        close(l->fd);
                if (l->tmp_path[0])
                        (void) unlink(l->tmp_path); /* gone already when the commit took it */
        }
        free(p->layers);
        p->layers = NULL;
        p->n_layers = 0;
}

static int prepare_layers(struct pull *p, const struct dist_manifest *m, json_t *config, struct berr *err) {
        json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
        if (!json_is_array(diff_ids))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid image config: no rootfs.diff_ids");
        if (json_array_size(diff_ids) != m->n_layers)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid manifest: %zu layers but the config has %zu diff IDs",
                                m->n_layers, json_array_size(diff_ids));
        p->layers = calloc(m->n_layers ? m->n_layers : 1, sizeof(*p->layers));
        if (!p->layers)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        p->n_layers = m->n_layers;
        char chain[DIGEST_STRING_MAX] = "";
        for (size_t i = 0; i < m->n_layers; i++) {
                struct pull_layer *l = &p->layers[i];
                l->fd = -1;
                l->stream_w = -1;
                l->p = p;
                l->desc = m->layers[i];
                l->desc.urls = NULL;
                const char *d = json_string_value(json_array_get(diff_ids, i));
                if (!digest_is_sha256(d))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid image config: bad diff ID at index %zu", i);
                if (m->layers[i].urls)
                        return berr_set(err, BERR_INVALID, EINVAL, "foreign layers (%s) are not supported", l->desc.digest);
                snprintf(l->diff_id, sizeof(l->diff_id), "%s", d);
                dist_short_id(l->desc.digest, l->short_id);
                char next[DIGEST_STRING_MAX];
                int r = image_chain_id(i ? chain : NULL, d, next, err);
                if (r < 0)
                        return r;
                memcpy(chain, next, sizeof(chain));
                l->exists = image_store_has_layer(p->s, chain);
        }
        return 0;
}

static int start_downloads(struct pull *p, struct berr *err) {
        for (size_t i = 0; i < p->n_layers; i++) {
                struct pull_layer *l = &p->layers[i];
                if (l->exists)
                        continue;
                if (image_blob_exists(p->s, l->desc.digest)) {
                        uint64_t size;
                        int r = image_blob_open(p->s, l->desc.digest, &l->fd, &size, err);
                        if (r < 0)
                                return r;
                        l->from_store = true;
                        l->state = LAYER_DONE;
                        say(p, l->short_id, "Download complete");
                        continue;
                }
                int r = pthread_create(&l->thread, NULL, layer_worker, l);
                if (r != 0)
                        return berr_set(err, BERR_INTERNAL, r, "cannot start a download thread");
                l->started = true;
        }
        return 0;
}

struct pulled {
        char manifest_digest[DIGEST_STRING_MAX];
        char id[DIGEST_STRING_MAX];
        bool updated;
};

static int pull_image(struct pull *p, struct dist_conn *conn, const struct dist_manifest *m, const char *tag_or_digest,
                      const char *manifest_digest, struct pulled *out, struct berr *err) {
        char id[DIGEST_STRING_MAX];
        snprintf(id, sizeof(id), "%s", m->config.digest);
        _cleanup_free_ char *config = NULL;
        size_t config_len = 0;
        char config_tmp[PATH_MAX] = "";
        int r;
        bool have_image = image_store_has_image(p->s, id);

        /* "Pulling from <path>": dockerd names the repository without its registry. */
        char msg[REFERENCE_STRING_MAX + 32];
        snprintf(msg, sizeof(msg), "Pulling from %s", p->ref.path);
        say(p, tag_or_digest, msg);

        struct dist_resp resp = { 0 };
        if (!have_image) {
                char url[REFERENCE_NAME_MAX + 128], got[DIGEST_STRING_MAX];
                snprintf(url, sizeof(url), "/v2/%s/blobs/%s", p->c->repo, id);
                r = fetch_verified(p, conn, url, NULL, id, DIST_CONFIG_MAX, &resp, got, "config", err);
                if (r < 0) {
                        dist_resp_done(&resp);
                        return r;
                }
                config = TAKE_PTR(resp.body);
                config_len = resp.body_len;
                dist_resp_done(&resp);
        } else {
                r = image_blob_read(p->s, id, DIST_CONFIG_MAX, &config, &config_len, NULL);
                if (r < 0) {
                        /* A loaded image has no config blob: its record is the same bytes. */
                        config = NULL;
                }
        }

        _cleanup_json_ json_t *cfg = NULL;
        struct layer *top = NULL;
        if (!have_image) {
                r = json_parse_object(config, config_len, &cfg, err);
                if (r < 0)
                        return berr_wrap(err, "invalid image config");
                r = prepare_layers(p, m, cfg, err);
                if (r == 0) {
                        for (size_t i = 0; i < p->n_layers; i++)
                                say(p, p->layers[i].short_id, p->layers[i].exists ? "Already exists" : "Pulling fs layer");
                        r = start_downloads(p, err);
                }
                if (r == 0)
                        r = extract_all(p, &top, err);
                if (r < 0) {
                        struct berr first;
                        if (first_failure(p, &first) && err->errnum == ECANCELED)
                                *err = first;
                        pthread_mutex_lock(&p->lock);
                        p->failed = true;
                        pthread_mutex_unlock(&p->lock);
                        layers_cleanup(p);
                        return r;
                }
                /* The config goes into the content store with the layers. */
                _cleanup_close_ int cfd = -1;
                r = image_blob_tmp(p->s, config_tmp, &cfd, err);
                if (r == 0 && write(cfd, config, config_len) != (ssize_t) config_len)
                        r = berr_sys(err, BERR_INTERNAL, "write config blob");
                if (r < 0) {
                        if (config_tmp[0])
                                (void) unlink(config_tmp);
                        image_pull_layer_release(p->s, top);
                        layers_cleanup(p);
                        return r;
                }
        }

        size_t nb = 0;
        struct image_pull_blob *blobs = calloc(p->n_layers + 1, sizeof(*blobs));
        struct image_pull_layer_meta *metas = calloc(p->n_layers + 1, sizeof(*metas));
        if (!blobs || !metas) {
                free(blobs);
                free(metas);
                if (config_tmp[0])
                        (void) unlink(config_tmp);
                image_pull_layer_release(p->s, top);
                layers_cleanup(p);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        if (config_tmp[0])
                blobs[nb++] = (struct image_pull_blob){ .tmp_path = config_tmp, .digest = id };
        for (size_t i = 0; i < p->n_layers; i++) {
                struct pull_layer *l = &p->layers[i];
                if (!l->exists && !l->from_store)
                        blobs[nb++] = (struct image_pull_blob){ .tmp_path = l->tmp_path, .digest = l->desc.digest };
                metas[i] = (struct image_pull_layer_meta){ .diff_id = l->diff_id, .digest = l->desc.digest,
                                                           .media_type = l->desc.media_type, .size = l->desc.size };
        }
        struct reference tag_ref = p->ref, digest_ref = p->ref;
        tag_ref.digest[0] = '\0';
        digest_ref.tag[0] = '\0';
        snprintf(digest_ref.digest, sizeof(digest_ref.digest), "%s", manifest_digest);
        char source[REFERENCE_STRING_MAX];
        reference_name(&p->ref, source);
        struct image_pull_commit c = {
                .image_id = id,
                .config = config,
                .config_len = config_len,
                .top = top,
                .tag_ref = p->ref.tag[0] ? &tag_ref : NULL,
                .digest_ref = &digest_ref,
                .blobs = blobs,
                .n_blobs = nb,
                .layers = metas,
                .n_layers = p->n_layers,
                .source_repository = source,
        };
        r = image_pull_commit(p->s, &c, out->id, &out->updated, err);
        free(blobs);
        free(metas);
        if (config_tmp[0])
                (void) unlink(config_tmp); /* gone when committed */
        layers_cleanup(p);
        if (r < 0)
                return r;
        snprintf(out->manifest_digest, sizeof(out->manifest_digest), "%s", manifest_digest);
        return 0;
}

/* Resolve @tag_or_digest to an image manifest (through an index when there is one). */
static int resolve(struct pull *p, struct dist_conn *conn, const char *tag_or_digest, struct dist_manifest *m,
                   char ret_digest[DIGEST_STRING_MAX], struct berr *err) {
        char url[REFERENCE_NAME_MAX + 256], got[DIGEST_STRING_MAX];
        snprintf(url, sizeof(url), "/v2/%s/manifests/%s", p->c->repo, tag_or_digest);
        bool by_digest = digest_is_sha256(tag_or_digest);
        struct dist_resp resp = { 0 };
        char name[REFERENCE_STRING_MAX], what[REFERENCE_STRING_MAX + 32];
        reference_name(&p->ref, name);
        snprintf(what, sizeof(what), "%s%c%s", name, by_digest ? '@' : ':', tag_or_digest);
        int r = fetch_verified(p, conn, url, ACCEPT_MANIFESTS, by_digest ? tag_or_digest : NULL, DIST_MANIFEST_MAX, &resp,
                               got, what, err);
        if (r < 0) {
                if (resp.status == 404) {
                        /* dockerd: manifest for X not found: manifest unknown: manifest unknown */
                        char inner[BERR_MSG_MAX];
                        snprintf(inner, sizeof(inner), "%s", err->msg + strlen(what) + 2);
                        berr_set(err, BERR_NOT_FOUND, ENOENT, "manifest for %s not found: %s", what, inner);
                }
                dist_resp_done(&resp);
                return r;
        }
        memcpy(ret_digest, got, DIGEST_STRING_MAX);
        _cleanup_json_ json_t *body = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
        enum dist_manifest_kind kind = dist_manifest_kind(resp.content_type, body);
        dist_resp_done(&resp);
        if (!json_is_object(body))
                return berr_set(err, BERR_INVALID, EINVAL, "%s: manifest is not a JSON object", what);
        switch (kind) {
        case DIST_KIND_SCHEMA1:
                return berr_set(err, BERR_INVALID, EINVAL,
                                "[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, "
                                "schema 1 support has been removed. Suggest the author of %s to upgrade the image to "
                                "the OCI Format or Docker Image manifest v2, schema 2. More information at "
                                "https://docs.docker.com/go/deprecated-image-specs/",
                                what);
        case DIST_KIND_MANIFEST:
                return dist_manifest_parse(body, m, err);
        case DIST_KIND_INDEX: {
                const char *os, *arch, *variant;
                dist_host_platform(&os, &arch, &variant);
                char plat[128] = "";
                if (p->o->platform && p->o->platform[0]) {
                        snprintf(plat, sizeof(plat), "%s", p->o->platform);
                        char *save = NULL;
                        os = strtok_r(plat, "/", &save);
                        const char *a = strtok_r(NULL, "/", &save);
                        const char *v = strtok_r(NULL, "/", &save);
                        arch = a ? a : arch;
                        variant = v ? v : "";
                }
                struct dist_descriptor d;
                r = dist_index_select(body, os ? os : "linux", arch, variant, &d, err);
                free(d.urls);
                if (r < 0)
                        return r;
                snprintf(url, sizeof(url), "/v2/%s/manifests/%s", p->c->repo, d.digest);
                r = fetch_verified(p, conn, url, ACCEPT_MANIFESTS, d.digest, DIST_MANIFEST_MAX, &resp, got, what, err);
                if (r < 0) {
                        dist_resp_done(&resp);
                        return r;
                }
                _cleanup_json_ json_t *child = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
                enum dist_manifest_kind ck = dist_manifest_kind(resp.content_type, child);
                dist_resp_done(&resp);
                if (ck != DIST_KIND_MANIFEST)
                        return berr_set(err, BERR_INVALID, EINVAL, "%s: platform manifest %s is not an image manifest",
                                        what, d.digest);
                return dist_manifest_parse(child, m, err);
        }
        default:
                return berr_set(err, BERR_INVALID, EINVAL, "%s: unsupported manifest media type %s", what,
                                resp.content_type[0] ? resp.content_type : "(none)");
        }
}

static int pull_one(struct pull *p, struct dist_conn *conn, const char *tag_or_digest, struct berr *err) {
        struct dist_manifest m;
        char digest[DIGEST_STRING_MAX];
        int r = resolve(p, conn, tag_or_digest, &m, digest, err);
        if (r < 0)
                return r;
        struct pulled out = { 0 };
        bool by_digest = digest_is_sha256(tag_or_digest);
        struct reference saved = p->ref;
        if (by_digest) {
                p->ref.tag[0] = '\0';
                snprintf(p->ref.digest, sizeof(p->ref.digest), "%s", tag_or_digest);
        } else {
                p->ref.digest[0] = '\0';
                snprintf(p->ref.tag, sizeof(p->ref.tag), "%s", tag_or_digest);
        }
        r = pull_image(p, conn, &m, tag_or_digest, digest, &out, err);
        dist_manifest_done(&m);
        if (r == 0) {
                char msg[REFERENCE_STRING_MAX + 64], fam[REFERENCE_STRING_MAX];
                snprintf(msg, sizeof(msg), "Digest: %s", out.manifest_digest);
                say(p, NULL, msg);
                reference_familiar_string(&p->ref, fam);
                snprintf(msg, sizeof(msg), "Status: %s for %s",
                         out.updated ? "Downloaded newer image" : "Image is up to date", fam);
                if (!p->o->all_tags)
                        say(p, NULL, msg);
        }
        p->ref = saved;
        return r;
}

static int pull_all_tags(struct pull *p, struct dist_conn *conn, struct berr *err) {
        char url[REFERENCE_NAME_MAX + 64];
        snprintf(url, sizeof(url), "/v2/%s/tags/list", p->c->repo);
        struct dist_req rq = { .method = "GET", .url = url, .body_fd = -1 };
        struct dist_resp resp = { 0 };
        int r = dist_do(p->c, conn, &rq, &resp, err);
        if (r == 0 && resp.status != 200)
                r = dist_resp_error(&resp, "list tags", err);
        _cleanup_json_ json_t *doc = r == 0 ? json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL) : NULL;
        dist_resp_done(&resp);
        if (r < 0)
                return r;
        json_t *tags = json_object_get(doc, "tags");
        size_t i;
        json_t *t;
        json_array_foreach(tags, i, t) {
                const char *tag = json_string_value(t);
                if (!tag || !reference_tag_is_valid(tag))
                        continue;
                r = pull_one(p, conn, tag, err);
                if (r < 0)
                        return r;
        }
        char fam[REFERENCE_STRING_MAX], msg[REFERENCE_STRING_MAX + 64];
        reference_familiar_name(&p->ref, fam);
        snprintf(msg, sizeof(msg), "Status: Downloaded newer image for %s", fam);
        say(p, NULL, msg);
        return 0;
}

int dist_pull(struct image_store *s, const struct dist_pull_opts *o, struct berr *err) {
        struct pull p = { .s = s, .o = o, .extract_fd = -1 };
        int r = reference_parse_normalized(o->name, &p.ref, err);
        if (r < 0)
                return r;
        const char *tag = o->tag && o->tag[0] ? o->tag : NULL;
        char target[REFERENCE_DIGEST_MAX + REFERENCE_TAG_MAX + 2];
        if (tag) {
                if (digest_is_sha256(tag))
                        snprintf(target, sizeof(target), "%s", tag);
                else if (reference_tag_is_valid(tag))
                        snprintf(target, sizeof(target), "%s", tag);
                else
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid reference format");
        } else if (p.ref.digest[0])
                snprintf(target, sizeof(target), "%s", p.ref.digest);
        else if (p.ref.tag[0])
                snprintf(target, sizeof(target), "%s", p.ref.tag);
        else
                snprintf(target, sizeof(target), "%s", o->all_tags ? "" : REFERENCE_DEFAULT_TAG);
        pthread_mutex_init(&p.lock, NULL);
        pthread_cond_init(&p.cond, NULL);
        pthread_mutex_init(&p.emit_lock, NULL);
        struct dist_conn conn = { 0 };
        r = dist_client_open(&p.ref, o->auth, "pull", true, pull_cancelled, &p, &p.c, err);
        if (r == 0)
                r = dist_conn_open(&conn, err);
        if (r == 0)
                r = target[0] ? pull_one(&p, &conn, target, err) : pull_all_tags(&p, &conn, err);
        while (r < 0 && r != -ECANCELED && err->errnum != ECANCELED && p.c && p.c->ep.is_mirror &&
               !(o->cancelled && o->cancelled(o->opaque))) {
                /* dockerd's continueOnError: whatever goes wrong on a mirror (it lacks the image,
                 * answers an error, serves bad bytes) hands the pull to the next endpoint (the
                 * next mirror, then the upstream); the last one's answer is the one reported. */
                size_t next = p.c->ep.mirror_index + 1;
                log_info("pull %s from mirror %s failed (%s); trying the next endpoint", o->name, p.c->ep.base,
                         err->msg);
                dist_conn_close(&conn);
                conn = (struct dist_conn) { 0 };
                p.c = dist_client_free(p.c);
                p.failed = false;
                p.extract_stop = false;
                p.extract_stream = NULL;
                p.extract_id = NULL;
                p.extract_total = 0;
                *err = (struct berr) { 0 };
                r = dist_client_open_from(&p.ref, o->auth, "pull", next, pull_cancelled, &p, &p.c, err);
                if (r == 0)
                        r = dist_conn_open(&conn, err);
                if (r == 0)
                        r = target[0] ? pull_one(&p, &conn, target, err) : pull_all_tags(&p, &conn, err);
        }
        dist_conn_close(&conn);
        dist_client_free(p.c);
        pthread_mutex_destroy(&p.lock);
        pthread_cond_destroy(&p.cond);
        pthread_mutex_destroy(&p.emit_lock);
        return r;
}
