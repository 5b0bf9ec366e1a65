/* dist_plugin.c - managed plugins on a registry (docker plugin install/push/upgrade, GET
 * /plugins/privileges), as dockerd's plugin manager moves them: a schema2 manifest whose
 * config blob has the media type application/vnd.docker.plugin.v1+json (the plugin's
 * config.json) and whose layers are the rootfs (gzipped tars). Pulled blobs are verified
 * against their digests and handed over as files; nothing touches the image store. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/err.h"
#include "common/fs.h"
#include "dist_int.h"
#include "distribution.h"

#define ACCEPT_PLUGIN MT_DOCKER_MANIFEST ", " MT_OCI_MANIFEST
#define LAYER_MAX_BYTES (8ULL << 30)

static void say(const struct dist_plugin_opts *o, const char *id, const char *status) {
        if (o->progress)
                dist_progress_status(o->progress, o->opaque, id, status);
}

static int open_client(const struct dist_plugin_opts *o, const char *actions, struct reference *ref,
                       struct dist_client **ret, struct berr *err) {
        int r = reference_parse_normalized(o->remote, ref, err);
        if (r < 0)
                return r;
        if (!ref->digest[0])
                reference_default_tag(ref);
        return dist_client_open(ref, o->auth, actions, false, o->cancelled, o->opaque, ret, err);
}

/* GET a small blob or manifest, whole, checked against @want (or the registry's digest). */
static int get_small(struct dist_client *c, struct dist_conn *conn, const char *url, const char *accept,
                     const char *want, size_t max, struct dist_resp *resp, char got[DIGEST_STRING_MAX], const char *what,
                     struct berr *err) {
        struct dist_req rq = { .method = "GET", .url = url, .accept = accept, .body_fd = -1, .max_body = max };
        int r = dist_do(c, conn, &rq, resp, err);
        if (r < 0)
                return r;
        if (resp->status != 200)
                return dist_resp_error(resp, what, err);
        if ((r = digest_sha256_buf(resp->body ? resp->body : "", resp->body_len, got, err)) < 0)
                return r;
        if (want && strcmp(want, got) != 0)
                return berr_set(err, BERR_INVALID, EINVAL, "%s: digest mismatch: expected %s, got %s", what, want, got);
        if (!want && digest_is_sha256(resp->digest) && strcmp(resp->digest, got) != 0)
                return berr_set(err, BERR_INVALID, EINVAL, "%s: digest mismatch: registry says %s, content is %s", what,
                                resp->digest, got);
        return 0;
}

struct blob_sink {
        int fd;
        struct digest_ctx *d;
        uint64_t got;
        int errnum;
};

static size_t blob_write(void *opaque, const char *data, size_t len) {
        struct blob_sink *k = opaque;
        if (k->got + len > LAYER_MAX_BYTES) {
                k->errnum = EFBIG;
                return 0;
        }
        if (fs_write_all(k->fd, data, len) < 0) {
                k->errnum = errno;
                return 0;
        }
        digest_ctx_update(k->d, data, len);
        k->got += len;
        return len;
}

/* A layer blob into an unnamed temporary file, verified. */
static int get_layer(struct dist_client *c, struct dist_conn *conn, const struct dist_descriptor *l, int *ret_fd,
                     struct berr *err) {
        char url[REFERENCE_NAME_MAX + 128];
        snprintf(url, sizeof(url), "/v2/%s/blobs/%s", c->repo, l->digest);
        _cleanup_close_ int fd = open("/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
                fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "temporary file for layer %s", l->digest);
        struct blob_sink k = { .fd = fd };
        int r = digest_ctx_new(&k.d, err);
        if (r < 0)
                return r;
        struct dist_req rq = { .method = "GET", .url = url, .body_fd = -1, .sink = blob_write, .sink_opaque = &k };
        struct dist_resp resp = { 0 };
        r = dist_do(c, conn, &rq, &resp, err);
        if (r == 0 && resp.status != 200)
                r = dist_resp_error(&resp, "download layer", err);
        dist_resp_done(&resp);
        char got[DIGEST_STRING_MAX];
        digest_ctx_final(k.d, got);
        digest_ctx_free(k.d);
        if (r == 0 && k.errnum)
                r = berr_set(err, BERR_INTERNAL, k.errnum, "layer %s: %s", l->digest, strerror(k.errnum));
        if (r == 0 && strcmp(got, l->digest) != 0)
                r = berr_set(err, BERR_INVALID, EINVAL, "layer %s: digest mismatch: got %s", l->digest, got);
        if (r == 0 && lseek(fd, 0, SEEK_SET) < 0)
                r = berr_sys(err, BERR_INTERNAL, "seek");
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int dist_plugin_pull(const struct dist_plugin_opts *o, json_t **ret_config, char ret_manifest[DIGEST_STRING_MAX],
                     struct berr *err) {
        struct reference ref;
        struct dist_client *c = NULL;
        int r = open_client(o, "pull", &ref, &c, err);
        if (r < 0)
                return r;
        struct dist_conn conn = { 0 };
        struct dist_manifest m = { 0 };
        struct dist_resp resp = { 0 };
        char url[REFERENCE_NAME_MAX + 256], got[DIGEST_STRING_MAX], what[REFERENCE_STRING_MAX];
        reference_familiar_string(&ref, what);
        if ((r = dist_conn_open(&conn, err)) < 0)
                goto out;
        const char *tag_or_digest = ref.digest[0] ? ref.digest : ref.tag;
        snprintf(url, sizeof(url), "/v2/%s/manifests/%s", c->repo, tag_or_digest);
        r = get_small(c, &conn, url, ACCEPT_PLUGIN, ref.digest[0] ? ref.digest : NULL, DIST_MANIFEST_MAX, &resp, got,
                      what, err);
        if (r < 0)
                goto out;
        memcpy(ret_manifest, got, DIGEST_STRING_MAX);
        {
                _cleanup_json_ json_t *body = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
                dist_resp_done(&resp);
                if (!json_is_object(body)) {
                        r = berr_set(err, BERR_INVALID, EINVAL, "%s: manifest is not a JSON object", what);
                        goto out;
                }
                /* the layer types an image may have are the only ones a plugin's rootfs has */
                if ((r = dist_manifest_parse(body, &m, err)) < 0)
                        goto out;
        }
        if (strcmp(m.config.media_type, DIST_MT_PLUGIN_CONFIG) != 0) {
                r = berr_set(err, BERR_INVALID, EINVAL, "did not find plugin config for specified reference %s", what);
                goto out;
        }
        snprintf(url, sizeof(url), "/v2/%s/blobs/%s", c->repo, m.config.digest);
        if ((r = get_small(c, &conn, url, NULL, m.config.digest, DIST_CONFIG_MAX, &resp, got, "plugin config", err)) < 0)
                goto out;
        {
                json_error_t je;
                json_t *cfg = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, &je);
                dist_resp_done(&resp);
                if (!json_is_object(cfg)) {
                        json_decref(cfg);
                        r = berr_set(err, BERR_INVALID, EINVAL, "failed to parse config: %s", cfg ? "not an object" : je.text);
                        goto out;
                }
                *ret_config = cfg;
        }
        for (size_t i = 0; o->layer && i < m.n_layers; i++) {
                char sid[16];
                dist_short_id(m.layers[i].digest, sid);
                say(o, sid, "Downloading");
                int fd = -1;
                if ((r = get_layer(c, &conn, &m.layers[i], &fd, err)) < 0 ||
                    (r = o->layer(o->opaque, fd, m.layers[i].digest, err)) < 0) {
                        if (fd >= 0)
                                close(fd);
                        json_decref(*ret_config);
                        *ret_config = NULL;
                        goto out;
                }
                close(fd);
                say(o, sid, "Download complete");
        }
        if (o->layer) {
                char line[DIGEST_STRING_MAX + 16];
                snprintf(line, sizeof(line), "Digest: %s", ret_manifest);
                say(o, NULL, line);
        }
        r = 0;
out:
        dist_resp_done(&resp);
        dist_manifest_done(&m);
        dist_conn_close(&conn);
        dist_client_free(c);
        return r;
}

static int blob_exists(struct dist_client *c, struct dist_conn *conn, const char *digest, struct berr *err) {
        char url[REFERENCE_NAME_MAX + 128];
        snprintf(url, sizeof(url), "/v2/%s/blobs/%s", c->repo, digest);
        struct dist_req rq = { .method = "HEAD", .url = url, .body_fd = -1 };
        struct dist_resp resp = { 0 };
        int r = dist_do(c, conn, &rq, &resp, err);
        if (r == 0)
                r = resp.status == 200 ? 1 : resp.status == 404 ? 0 : dist_resp_error(&resp, "check blob", err);
        dist_resp_done(&resp);
        return r;
}

/* POST an upload, PUT the whole blob (from memory or @fd). */
static int upload(struct dist_client *c, struct dist_conn *conn, const char *digest, const void *mem, int fd,
                  int64_t size, struct berr *err) {
        int r = blob_exists(c, conn, digest, err);
        if (r != 0)
                return r < 0 ? r : 0;
        char url[REFERENCE_NAME_MAX + 128];
        snprintf(url, sizeof(url), "/v2/%s/blobs/uploads/", c->repo);
        struct dist_req rq = { .method = "POST", .url = url, .body_fd = -1, .no_redirect = true };
        struct dist_resp resp = { 0 };
        if ((r = dist_do(c, conn, &rq, &resp, err)) < 0)
                return r;
        if (resp.status != 202 || !resp.location) {
                r = dist_resp_error(&resp, "start upload", err);
                dist_resp_done(&resp);
                return r;
        }
        /* Location: absolute, or a path on the endpoint (dist_do takes both) */
        const char *loc = resp.location;
        size_t n = strcspn(loc, "#");
        _cleanup_free_ char *put = NULL;
        if (asprintf(&put, "%.*s%cdigest=%s", (int) n, loc, memchr(loc, '?', n) ? '&' : '?', digest) < 0) {
                dist_resp_done(&resp);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        dist_resp_done(&resp);
        struct dist_req pq = { .method = "PUT", .url = put, .content_type = "application/octet-stream",
                               .body_fd = mem ? -1 : fd, .body_fd_len = size, .body = mem,
                               .body_len = mem ? (size_t) size : 0, .no_redirect = true };
        struct dist_resp presp = { 0 };
        r = dist_do(c, conn, &pq, &presp, err);
        if (r == 0 && presp.status != 201)
                r = dist_resp_error(&presp, "upload", err);
        dist_resp_done(&presp);
        return r;
}

int dist_plugin_push(const struct dist_plugin_opts *o, const char *config, size_t config_len, int layer_fd,
                     const char *layer_digest, int64_t layer_size, char ret_manifest[DIGEST_STRING_MAX],
                     struct berr *err) {
        struct reference ref;
        struct dist_client *c = NULL;
        int r = open_client(o, "pull,push", &ref, &c, err);
        if (r < 0)
                return r;
        if (ref.digest[0]) {
                dist_client_free(c);
                return berr_set(err, BERR_INVALID, EINVAL, "cannot push a digest reference");
        }
        struct dist_conn conn = { 0 };
        struct dist_descriptor cd = { .size = (int64_t) config_len }, ld = { .size = layer_size };
        snprintf(cd.media_type, sizeof(cd.media_type), "%s", DIST_MT_PLUGIN_CONFIG);
        snprintf(ld.media_type, sizeof(ld.media_type), "%s", MT_DOCKER_LAYER);
        snprintf(ld.digest, sizeof(ld.digest), "%s", layer_digest);
        _cleanup_free_ char *manifest = NULL;
        char sid[16];
        if ((r = digest_sha256_buf(config, config_len, cd.digest, err)) < 0 || (r = dist_conn_open(&conn, err)) < 0)
                goto out;
        dist_short_id(layer_digest, sid);
        say(o, sid, "Preparing");
        if ((r = upload(c, &conn, layer_digest, NULL, layer_fd, layer_size, err)) < 0)
                goto out;
        say(o, sid, "Pushed");
        if ((r = upload(c, &conn, cd.digest, config, -1, (int64_t) config_len, err)) < 0)
                goto out;
        if (!(manifest = dist_manifest_schema2(&cd, &ld, 1))) {
                r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                goto out;
        }
        if ((r = digest_sha256_buf(manifest, strlen(manifest), ret_manifest, err)) < 0)
                goto out;
        char url[REFERENCE_NAME_MAX + 256];
        snprintf(url, sizeof(url), "/v2/%s/manifests/%s", c->repo, ref.tag);
        struct dist_req rq = { .method = "PUT", .url = url, .content_type = MT_DOCKER_MANIFEST, .body = manifest,
                               .body_len = strlen(manifest), .body_fd = -1 };
        struct dist_resp resp = { 0 };
        r = dist_do(c, &conn, &rq, &resp, err);
        if (r == 0 && resp.status != 201)
                r = dist_resp_error(&resp, "put manifest", err);
        dist_resp_done(&resp);
        if (r == 0 && o->progress) {
                char line[REFERENCE_TAG_MAX + DIGEST_STRING_MAX + 64];
                snprintf(line, sizeof(line), "%s: digest: %s size: %zu", ref.tag, ret_manifest, strlen(manifest));
                say(o, NULL, line);
        }
out:
        dist_conn_close(&conn);
        dist_client_free(c);
        return r;
}
