/* dist_push.c - `docker push`: for each tag, every layer's compressed blob (as pulled, or
 * gzipped now and kept) is skipped when the registry has it, mounted from another
 * repository of the same registry it is known to be in, or uploaded: in one PUT when small
 * (monolithic), else in PATCHes of PUSH_CHUNK_SIZE bytes with Content-Range, each answered
 * 202 with the session's next Location, then an empty PUT ?digest= (chunked; a registry
 * that refuses PATCH gets the monolithic PUT instead); then the config, then the schema2
 * manifest written as dockerd writes it, so the registry's digest is ours. Layers upload
 * in parallel, bounded daemon-wide by max-concurrent-uploads. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "dist_int.h"
#include "image/image_registry.h"

#define PROGRESS_INTERVAL_MS 100
/* Blobs larger than this upload in chunks of PUSH_CHUNK_SIZE. */
#define PUSH_CHUNK_THRESHOLD ((int64_t) 8 << 20)
#define PUSH_CHUNK_SIZE ((int64_t) 8 << 20)

struct push {
        struct image_store *s;
        const struct dist_push_opts *o;
        struct dist_client *c;
        struct reference ref;
        char repo_name[REFERENCE_STRING_MAX]; /* "127.0.0.1:5000/busybox" */
        pthread_mutex_t emit_lock;
        pthread_mutex_t lock;
        bool failed;
};

struct push_layer {
        struct push *p;
        struct image_push_layer *l;
        char short_id[16];
        int r;
        struct berr err;
        pthread_t thread;
        bool started;
        int64_t last_ms;
};

static void emit_json(void *opaque, json_t *msg) {
        struct push *p = opaque;
        pthread_mutex_lock(&p->emit_lock);
        if (p->o->progress)
                p->o->progress(p->o->opaque, msg);
        pthread_mutex_unlock(&p->emit_lock);
}

static void say(struct push *p, const char *id, const char *status) {
        dist_progress_status(emit_json, p, id, status);
}

static bool push_cancelled(void *opaque) {
        struct push *p = opaque;
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

/* HEAD the blob: 1 if the registry has it, 0 if not. */
static int blob_exists(struct push *p, struct dist_conn *conn, const char *digest, struct berr *err) {
        char url[REFERENCE_NAME_MAX + 128];
        snprintf(url, sizeof(url), "/v2/%s/blobs/%s", p->c->repo, digest);
        struct dist_req rq = { .method = "HEAD", .url = url, .body_fd = -1 };
        struct dist_resp resp = { 0 };
        int r = dist_do(p->c, conn, &rq, &resp, err);
        if (r == 0)
                r = resp.status == 200 ? 1 : resp.status == 404 ? 0 : dist_resp_error(&resp, "check blob", err);
        dist_resp_done(&resp);
        return r;
}

/* "<location>?digest=..." with the right separator (a fragment, which a request never
 * carries, is dropped). */
static void upload_url(const char *location, const char *digest, char *out, size_t size) {
        size_t n = strcspn(location, "#");
        snprintf(out, size, "%.*s%cdigest=%s", (int) n, location, memchr(location, '?', n) ? '&' : '?', digest);
}

/* A Location header resolved against the URL of the request it answered (@base: absolute
 * or a path on the endpoint, which dist_do accepts as it is). Newly allocated. */
static char *resolve_location(const char *base, const char *loc) {
        char *out = NULL;
        if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
                return strdup(loc);
        const char *path = base; /* where base's path starts */
        size_t scheme_len = 0;
        if (strncmp(base, "http://", 7) == 0 || strncmp(base, "https://", 8) == 0) {
                scheme_len = (size_t) (strchr(base, ':') - base) + 1; /* "http:" */
                const char *host = base + scheme_len + 2;
                path = host + strcspn(host, "/?#");
        }
        if (strncmp(loc, "//", 2) == 0) { /* network-path reference */
                if (asprintf(&out, "%.*s%s", (int) (scheme_len ? scheme_len : 5), scheme_len ? base : "http:", loc) < 0)
                        return NULL;
                return out;
        }
        if (loc[0] == '/') {
                if (asprintf(&out, "%.*s%s", (int) (path - base), base, loc) < 0)
                        return NULL;
                return out;
        }
        /* Relative to base's directory (its path up to the last '/', query dropped). */
        size_t plen = strcspn(path, "?#");
        size_t dir = plen;
        while (dir > 0 && path[dir - 1] != '/')
                dir--;
        if (loc[0] == '?') /* same path, new query */
                dir = plen;
        if (asprintf(&out, "%.*s%s%s", (int) (path - base + dir), base, dir == 0 && loc[0] != '?' ? "/" : "", loc) <
            0)
                return NULL;
        return out;
}

struct upload_progress {
        struct push_layer *pl;
        int64_t base; /* bytes sent by earlier chunks */
        int64_t total;
};

static void on_upload(void *opaque, int64_t sent) {
        struct upload_progress *u = opaque;
        int64_t t = now_ms();
        sent += u->base;
        if (t - u->pl->last_ms < PROGRESS_INTERVAL_MS && sent < u->total)
                return;
        u->pl->last_ms = t;
        dist_progress_bytes(emit_json, u->pl->p, u->pl->short_id, "Pushing", sent, u->total);
}

/* Start an upload session, or mount @digest from @from (1 when mounted). *@ret_location
 * is the session URL otherwise. */
static int start_upload(struct push *p, struct dist_conn *conn, const char *digest, const char *from,
                        char **ret_location, struct berr *err) {
        char url[2 * REFERENCE_NAME_MAX + 256];
        if (from)
                snprintf(url, sizeof(url), "/v2/%s/blobs/uploads/?mount=%s&from=%s", p->c->repo, digest, from);
        else
                snprintf(url, sizeof(url), "/v2/%s/blobs/uploads/", p->c->repo);
        struct dist_req rq = { .method = "POST", .url = url, .body_fd = -1, .no_redirect = true };
        struct dist_resp resp = { 0 };
        int r = dist_do(p->c, conn, &rq, &resp, err);
        if (r == 0) {
                if (from && resp.status == 201)
                        r = 1;
                else if (resp.status == 202 && resp.location) {
                        char base[sizeof(url) + sizeof(p->c->ep.base)];
                        snprintf(base, sizeof(base), "%s%s", p->c->ep.base, url);
                        *ret_location = resolve_location(base, resp.location);
                        r = *ret_location ? 0 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                } else
                        r = dist_resp_error(&resp, "start upload", err);
        }
        dist_resp_done(&resp);
        return r;
}

static int put_blob(struct push *p, struct dist_conn *conn, const char *location, const char *digest, int fd,
                    const void *mem, int64_t size, struct push_layer *pl, struct berr *err) {
        size_t ulen = strlen(location) + DIGEST_STRING_MAX + 16;
        _cleanup_free_ char *url = malloc(ulen);
        if (!url)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        upload_url(location, digest, url, ulen);
        struct upload_progress up = { .pl = pl, .total = size };
        struct dist_req rq = { .method = "PUT", .url = url, .content_type = "application/octet-stream",
                               .body_fd = fd, .body_fd_len = size, .body = mem, .body_len = mem ? (size_t) size : 0,
                               .on_upload = pl ? on_upload : NULL, .upload_opaque = &up, .no_redirect = true };
        struct dist_resp resp = { 0 };
        int r = dist_do(p->c, conn, &rq, &resp, err);
        if (r == 0 && resp.status != 201)
                r = dist_resp_error(&resp, "upload", err);
        dist_resp_done(&resp);
        return r;
}

/* Upload @size bytes of @fd to the session at *@location in PATCHes of PUSH_CHUNK_SIZE
 * bytes, following the Location each answers with (*@location is replaced); the caller
 * then closes the session with an empty PUT. Returns 1 when the registry refuses PATCH
 * on the first chunk (405, 404, 501: fall back to a monolithic upload). */
static int patch_blob(struct push *p, struct dist_conn *conn, char **location, int fd, int64_t size,
                      struct push_layer *pl, struct berr *err) {
        struct upload_progress up = { .pl = pl, .total = size };
        int64_t off = 0;
        while (off < size) {
                int64_t len = size - off < PUSH_CHUNK_SIZE ? size - off : PUSH_CHUNK_SIZE;
                char range[64];
                snprintf(range, sizeof(range), "%lld-%lld", (long long) off, (long long) (off + len - 1));
                up.base = off;
                struct dist_req rq = { .method = "PATCH", .url = *location, .content_type = "application/octet-stream",
                                       .content_range = range, .body_fd = fd, .body_fd_len = len,
                                       .body_fd_offset = off, .on_upload = pl ? on_upload : NULL,
                                       .upload_opaque = &up, .no_redirect = true };
                struct dist_resp resp = { 0 };
                int r = dist_do(p->c, conn, &rq, &resp, err);
                if (r < 0) {
                        dist_resp_done(&resp);
                        return r;
                }
                if (off == 0 && (resp.status == 405 || resp.status == 404 || resp.status == 501)) {
                        log_debug("push %s: PATCH refused (%ld), uploading in one request", p->repo_name, resp.status);
                        dist_resp_done(&resp);
                        return 1;
                }
                if (resp.status != 202 || !resp.location) {
                        r = dist_resp_error(&resp, "upload", err);
                        dist_resp_done(&resp);
                        return r < 0 ? r : berr_set(err, BERR_UNAVAILABLE, EIO, "upload: unexpected answer to PATCH");
                }
                /* The registry says what it has ("0-N"): continue from there. */
                int64_t next = off + len;
                long long a, b;
                const char *rg = resp.range;
                if (strncmp(rg, "bytes=", 6) == 0)
                        rg += 6;
                if (sscanf(rg, "%lld-%lld", &a, &b) == 2 && a == 0 && b + 1 <= size)
                        next = b + 1;
                if (next <= off) {
                        dist_resp_done(&resp);
                        return berr_set(err, BERR_UNAVAILABLE, EIO, "upload: the registry took none of the chunk at %lld",
                                        (long long) off);
                }
                char *loc = resolve_location(*location, resp.location);
                dist_resp_done(&resp);
                if (!loc)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                free(*location);
                *location = loc;
                off = next;
        }
        return 0;
}

/* Another repository on this registry the blob is known to be in ("" if none). */
static const char *mount_source(struct push *p, const struct image_push_layer *l, char out[REFERENCE_STRING_MAX]) {
        for (size_t i = 0; i < l->n_sources; i++) {
                struct reference src;
                if (!l->sources[i][0] || reference_parse_normalized(l->sources[i], &src, NULL) < 0)
                        continue;
                if (STREQ(src.domain, p->ref.domain) && !STREQ(src.path, p->ref.path)) {
                        snprintf(out, REFERENCE_STRING_MAX, "%s", src.path);
                        return out;
                }
        }
        return NULL;
}

static int push_layer(struct push *p, struct push_layer *pl, struct dist_conn *conn, struct berr *err) {
        struct image_push_layer *l = pl->l;
        int r = 0;
        if (!l->digest[0]) {
                r = image_push_compress_layer(p->s, l, err);
                if (r < 0)
                        return r;
        }
        r = blob_exists(p, conn, l->digest, err);
        if (r < 0)
                return r;
        if (r == 1) {
                say(p, pl->short_id, "Layer already exists");
                return image_push_record_source(p->s, l->diff_id, l->digest, l->media_type, l->size, p->repo_name, err);
        }
        char src_buf[REFERENCE_STRING_MAX];
        const char *from = mount_source(p, l, src_buf);
        _cleanup_free_ char *location = NULL;
        if (from) {
                dist_client_add_scope(p->c, from, "pull");
                r = start_upload(p, conn, l->digest, from, &location, err);
                if (r < 0)
                        return r;
                if (r == 1) {
                        char msg[REFERENCE_STRING_MAX + 32];
                        snprintf(msg, sizeof(msg), "Mounted from %s", from);
                        say(p, pl->short_id, msg);
                        return image_push_record_source(p->s, l->diff_id, l->digest, l->media_type, l->size,
                                                        p->repo_name, err);
                }
        } else {
                r = start_upload(p, conn, l->digest, NULL, &location, err);
                if (r < 0)
                        return r;
        }
        _cleanup_close_ int fd = -1;
        uint64_t size;
        r = image_blob_open(p->s, l->digest, &fd, &size, err);
        if (r < 0)
                return r;
        dist_progress_bytes(emit_json, p, pl->short_id, "Pushing", 0, (int64_t) size);
        if ((int64_t) size > PUSH_CHUNK_THRESHOLD) {
                r = patch_blob(p, conn, &location, fd, (int64_t) size, pl, err);
                if (r == 0) /* close the session: the digest, no body */
                        r = put_blob(p, conn, location, l->digest, -1, NULL, 0, NULL, err);
                else if (r == 1) { /* PATCH refused: a fresh session, one PUT */
                        free(location);
                        location = NULL;
                        r = start_upload(p, conn, l->digest, NULL, &location, err);
                        if (r == 0)
                                r = put_blob(p, conn, location, l->digest, fd, NULL, (int64_t) size, pl, err);
                }
        } else
                r = put_blob(p, conn, location, l->digest, fd, NULL, (int64_t) size, pl, err);
        if (r < 0)
                return r;
        say(p, pl->short_id, "Pushed");
        return image_push_record_source(p->s, l->diff_id, l->digest, l->media_type, l->size, p->repo_name, err);
}

static void *layer_worker(void *arg) {
        struct push_layer *pl = arg;
        struct push *p = pl->p;
        if (!dist_slot_try_acquire(true)) {
                say(p, pl->short_id, "Waiting");
                dist_slot_acquire(true);
        }
        struct dist_conn conn = { 0 };
        int r = push_cancelled(p) ? berr_set(&pl->err, BERR_UNAVAILABLE, ECANCELED, "operation cancelled")
                                  : dist_conn_open(&conn, &pl->err);
        if (r == 0)
                r = push_layer(p, pl, &conn, &pl->err);
        dist_conn_close(&conn);
        dist_slot_release(true);
        pl->r = r;
        if (r < 0) {
                pthread_mutex_lock(&p->lock);
                p->failed = true;
                pthread_mutex_unlock(&p->lock);
        }
        return NULL;
}

static const char *docker_layer_type(const char *mt) {
        if (!mt[0] || STREQ(mt, MT_OCI_LAYER_GZIP) || STREQ(mt, MT_DOCKER_LAYER))
                return MT_DOCKER_LAYER;
        return mt; /* zstd or uncompressed: keep what the blob is */
}

static int push_tag(struct push *p, struct dist_conn *conn, const char *full_ref, const char *tag, struct berr *err) {
        struct image_push_info *pi = NULL;
        int r = image_push_info_get(p->s, full_ref, &pi, err);
        if (r < 0) {
                if (err->kind == BERR_NOT_FOUND) {
                        char fam[REFERENCE_STRING_MAX];
                        struct reference rr;
                        if (reference_parse_normalized(full_ref, &rr, NULL) == 0)
                                reference_familiar_string(&rr, fam);
                        else
                                snprintf(fam, sizeof(fam), "%s", full_ref);
                        berr_set(err, BERR_NOT_FOUND, ENOENT, "An image does not exist locally with the tag: %s", fam);
                }
                return r;
        }
        struct push_layer *pls = calloc(pi->n_layers ? pi->n_layers : 1, sizeof(*pls));
        if (!pls) {
                image_push_info_free(p->s, pi);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        /* dockerd lists the layers top first. */
        for (size_t k = pi->n_layers; k-- > 0;) {
                pls[k].p = p;
                pls[k].l = &pi->layers[k];
                dist_short_id(pi->layers[k].diff_id, pls[k].short_id);
                say(p, pls[k].short_id, "Preparing");
        }
        for (size_t k = pi->n_layers; k-- > 0;) {
                if (pthread_create(&pls[k].thread, NULL, layer_worker, &pls[k]) != 0) {
                        pls[k].r = berr_set(&pls[k].err, BERR_INTERNAL, EAGAIN, "cannot start an upload thread");
                        pthread_mutex_lock(&p->lock);
                        p->failed = true;
                        pthread_mutex_unlock(&p->lock);
                        break;
                }
                pls[k].started = true;
        }
        for (size_t k = 0; k < pi->n_layers; k++)
                if (pls[k].started)
                        pthread_join(pls[k].thread, NULL);
        for (size_t k = 0; k < pi->n_layers && r == 0; k++)
                if (pls[k].r < 0 && pls[k].err.errnum != ECANCELED) {
                        *err = pls[k].err;
                        r = pls[k].r;
                }
        for (size_t k = 0; k < pi->n_layers && r == 0; k++)
                if (pls[k].r < 0) {
                        *err = pls[k].err;
                        r = pls[k].r;
                }
        free(pls);

        /* The config, then the manifest. */
        if (r == 0)
                r = blob_exists(p, conn, pi->id, err);
        if (r == 0) {
                _cleanup_free_ char *location = NULL;
                r = start_upload(p, conn, pi->id, NULL, &location, err);
                if (r == 0)
                        r = put_blob(p, conn, location, pi->id, -1, pi->config, (int64_t) pi->config_len, NULL, err);
        } else if (r == 1)
                r = 0;
        _cleanup_free_ char *manifest = NULL;
        if (r == 0) {
                struct dist_descriptor cfg = { .size = (int64_t) pi->config_len };
                snprintf(cfg.media_type, sizeof(cfg.media_type), "%s", MT_DOCKER_CONFIG);
                snprintf(cfg.digest, sizeof(cfg.digest), "%s", pi->id);
                struct dist_descriptor *ls = calloc(pi->n_layers ? pi->n_layers : 1, sizeof(*ls));
                if (!ls)
                        r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                for (size_t k = 0; ls && k < pi->n_layers; k++) {
                        snprintf(ls[k].media_type, sizeof(ls[k].media_type), "%s",
                                 docker_layer_type(pi->layers[k].media_type));
                        snprintf(ls[k].digest, sizeof(ls[k].digest), "%s", pi->layers[k].digest);
                        ls[k].size = pi->layers[k].size;
                }
                manifest = ls ? dist_manifest_schema2(&cfg, ls, pi->n_layers) : NULL;
                free(ls);
                if (r == 0 && !manifest)
                        r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        char digest[DIGEST_STRING_MAX];
        size_t mlen = manifest ? strlen(manifest) : 0;
        if (r == 0)
                r = digest_sha256_buf(manifest, mlen, digest, err);
        if (r == 0) {
                char url[REFERENCE_NAME_MAX + REFERENCE_TAG_MAX + 32];
                snprintf(url, sizeof(url), "/v2/%s/manifests/%s", p->c->repo, tag);
                struct dist_req rq = { .method = "PUT", .url = url, .content_type = MT_DOCKER_MANIFEST, .body = manifest,
                                       .body_len = mlen, .body_fd = -1, .no_redirect = true };
                struct dist_resp resp = { 0 };
                r = dist_do(p->c, conn, &rq, &resp, err);
                if (r == 0 && resp.status != 201)
                        r = dist_resp_error(&resp, "push manifest", err);
                if (r == 0 && digest_is_sha256(resp.digest) && !STREQ(resp.digest, digest))
                        log_warn("push %s: registry digest %s differs from ours %s", full_ref, resp.digest, digest);
                dist_resp_done(&resp);
        }
        if (r == 0) {
                struct reference dref = p->ref;
                dref.tag[0] = '\0';
                snprintf(dref.digest, sizeof(dref.digest), "%s", digest);
                (void) image_push_add_digest_ref(p->s, &dref, pi->id, NULL); /* the push itself succeeded */
                char msg[REFERENCE_TAG_MAX + DIGEST_STRING_MAX + 64];
                snprintf(msg, sizeof(msg), "%s: digest: %s size: %zu", tag, digest, mlen);
                say(p, NULL, msg);
                _cleanup_json_ json_t *aux = json_pack("{s:{s:s, s:s, s:I}}", "aux", "Tag", tag, "Digest", digest, "Size",
                                                       (json_int_t) mlen);
                if (aux)
                        emit_json(p, aux);
        }
        image_push_info_free(p->s, pi);
        return r;
}

int dist_push(struct image_store *s, const struct dist_push_opts *o, struct berr *err) {
        struct push p = { .s = s, .o = o };
        int r = reference_parse_normalized(o->name, &p.ref, err);
        if (r < 0)
                return r;
        p.ref.digest[0] = '\0';
        reference_name(&p.ref, p.repo_name);
        _cleanup_json_ json_t *tags = NULL;
        if (o->tag && o->tag[0]) {
                struct reference t = p.ref;
                snprintf(t.tag, sizeof(t.tag), "%s", o->tag);
                char full[REFERENCE_STRING_MAX];
                reference_string(&t, full);
                tags = json_pack("[s]", full);
        } else {
                r = image_push_repo_tags(s, &p.ref, &tags, err);
                if (r < 0)
                        return r;
                if (json_array_size(tags) == 0) {
                        char fam[REFERENCE_STRING_MAX];
                        reference_familiar_name(&p.ref, fam);
                        return berr_set(err, BERR_NOT_FOUND, ENOENT, "An image does not exist locally with the tag: %s", fam);
                }
        }
        pthread_mutex_init(&p.emit_lock, NULL);
        pthread_mutex_init(&p.lock, NULL);
        char msg[REFERENCE_STRING_MAX + 64];
        snprintf(msg, sizeof(msg), "The push refers to repository [%s]", p.repo_name);
        say(&p, NULL, msg);
        struct dist_conn conn = { 0 };
        r = dist_client_open(&p.ref, o->auth, "pull,push", false, push_cancelled, &p, &p.c, err);
        if (r == 0)
                r = dist_conn_open(&conn, err);
        size_t i;
        json_t *t;
        json_array_foreach(tags, i, t) {
                if (r < 0)
                        break;
                struct reference tr;
                if (reference_parse_normalized(json_string_value(t), &tr, NULL) < 0)
                        continue;
                r = push_tag(&p, &conn, json_string_value(t), tr.tag, err);
        }
        dist_conn_close(&conn);
        dist_client_free(p.c);
        pthread_mutex_destroy(&p.emit_lock);
        pthread_mutex_destroy(&p.lock);
        return r;
}
