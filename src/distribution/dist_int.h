/* dist_int.h - what the files of distribution/ share: the registry HTTP client (endpoints,
 * requests with the 401 -> credentials -> retry dance), auth challenges and the token
 * cache, manifests, and progress messages. Not a public header. */
#pragma once

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/digest.h"
#include "distribution/dist_curl.h" /* libcurl, loaded on first use */
#include "distribution/distribution.h"
#include "image/reference.h"

struct berr;

#define DIST_MANIFEST_MAX (4u << 20)
#define DIST_CONFIG_MAX (16u << 20)
#define DIST_ERROR_BODY_MAX (64u << 10)
#define DIST_MAX_LAYERS 256

/* ---- media types ---- */
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_DOCKER_FOREIGN_LAYER "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"

/* ---- endpoints and the client of one repository ---- */

struct dist_endpoint {
        char host[REFERENCE_NAME_MAX + 1]; /* "127.0.0.1:5000", "registry-1.docker.io" */
        char base[REFERENCE_NAME_MAX + 16]; /* "https://127.0.0.1:5000" */
        bool verify_tls;
        char ca_file[PATH_MAX];
        char cert_file[PATH_MAX];
        char key_file[PATH_MAX];
        bool is_mirror;
        size_t mirror_index; /* which of the configured mirrors, when is_mirror */
};

enum dist_auth_scheme {
        DIST_AUTH_NONE,
        DIST_AUTH_BASIC,
        DIST_AUTH_BEARER,
};

struct dist_client {
        struct dist_endpoint ep;
        char registry[REFERENCE_NAME_MAX + 1]; /* the reference's domain: "docker.io", "127.0.0.1:5000" */
        char repo[REFERENCE_NAME_MAX + 1];     /* "library/busybox" */
        const struct dist_auth *auth;
        dist_cancelled_fn cancelled;
        void *opaque;

        pthread_mutex_t lock; /* what follows, shared by parallel transfers */
        enum dist_auth_scheme scheme;
        char *realm, *service;
        char *scopes; /* space separated: "repository:a/b:pull,push repository:c:pull" */
        char *token;
};

/* One curl handle, used by one thread at a time (keeps its connection alive). */
struct dist_conn {
        CURL *h;
};

int dist_conn_open(struct dist_conn *c, struct berr *err);
void dist_conn_close(struct dist_conn *c);

/* Open a client for repository @ref on its registry: pick the endpoint (mirrors for
 * docker.io pulls when @use_mirrors, then https, then plain http for insecure
 * registries) by probing GET /v2/, and remember the auth challenge it answered with.
 * @actions is "pull" or "pull,push". */
int dist_client_open(const struct reference *ref, const struct dist_auth *auth, const char *actions,
                     bool use_mirrors, dist_cancelled_fn cancelled, void *opaque, struct dist_client **ret,
                     struct berr *err);
/* The same, trying the configured mirrors from @first_mirror on (0: all of them; the
 * number of mirrors or more: none), for the fallback from a mirror that failed a pull. */
int dist_client_open_from(const struct reference *ref, const struct dist_auth *auth, const char *actions,
                          size_t first_mirror, dist_cancelled_fn cancelled, void *opaque, struct dist_client **ret,
                          struct berr *err);
struct dist_client *dist_client_free(struct dist_client *c);
/* Add a scope (a mount's source repository) for the next token. */
void dist_client_add_scope(struct dist_client *c, const char *repo, const char *actions);

struct dist_req {
        const char *method;       /* GET, HEAD, PUT, POST, PATCH */
        const char *url;          /* "/v2/..." relative to the endpoint, or absolute */
        const char *accept;
        const char *content_type;
        const char *range;        /* "bytes=N-" */
        const char *content_range; /* "start-end" (inclusive), chunked upload PATCHes */
        const void *body;         /* request body from memory ... */
        size_t body_len;
        int body_fd;              /* ... or from this fd (when >= 0), body_fd_len bytes */
        int64_t body_fd_len;
        int64_t body_fd_offset;   /* where in body_fd the body starts */
        /* A 2xx response body goes here (else to memory up to max_body); return the count
         * taken, anything else aborts. */
        size_t (*sink)(void *opaque, const char *data, size_t len);
        void *sink_opaque;
        size_t max_body;
        /* Upload progress (bytes sent so far). */
        void (*on_upload)(void *opaque, int64_t sent);
        void *upload_opaque;
        bool no_redirect;
        bool no_auth_retry; /* a 401 is the answer (token requests, login checks) */
};

struct dist_resp {
        long status;
        char *body;
        size_t body_len;
        char content_type[256];
        char digest[DIGEST_STRING_MAX + 16]; /* Docker-Content-Digest */
        char *location;
        char *www_authenticate;
        char range[64];
        int64_t content_length;
        bool sink_failed;
        int sink_errno; /* why the sink refused, when a system call said (ENOSPC) */
};

/* Perform @rq with the client's credentials; on 401 read the challenge, get credentials
 * for it (token from the realm, or Basic) and try once more. Transport failures are
 * BERR_UNAVAILABLE; HTTP statuses are left to the caller (resp->status). */
int dist_do(struct dist_client *c, struct dist_conn *conn, const struct dist_req *rq, struct dist_resp *resp,
            struct berr *err);
void dist_resp_done(struct dist_resp *r);
/* An error from a registry answer: its {"errors":[{code,message}]} text when there is
 * one, the status otherwise, with the kind the status implies; @what is the context. */
int dist_resp_error(const struct dist_resp *r, const char *what, struct berr *err);

/* ---- auth (dist_auth.c) ---- */

struct dist_challenge {
        enum dist_auth_scheme scheme;
        char *realm;
        char *service;
        char *scope;
        char *error; /* error="insufficient_scope" */
};

/* Parse a WWW-Authenticate value: `Bearer realm="...",service="...",scope="..."` or
 * `Basic realm="..."`. Unknown schemes give DIST_AUTH_NONE. */
int dist_challenge_parse(const char *header, struct dist_challenge *ret);
void dist_challenge_done(struct dist_challenge *ch);

/* A token for @scopes (space separated) from @realm: from the cache while it is fresh,
 * else fetched (GET realm?service=&scope=..., Basic credentials when there are some, or
 * the OAuth2 POST form with an identity token). *@ret is newly allocated. With
 * @ret_refresh (login), the cache is bypassed, the GET asks for an offline token
 * (offline_token=true&client_id=docker, as dockerd's login does) and *@ret_refresh is
 * the refresh_token the server gave (the user's identity token from then on), or NULL. */
int dist_token_get(struct dist_conn *conn, const struct dist_endpoint *ep, const char *realm, const char *service,
                   const char *scopes, const struct dist_auth *auth, char **ret, char **ret_refresh,
                   struct berr *err);
/* Forget cached tokens (tests). */
void dist_token_cache_clear(void);

/* base64 (standard alphabet, padded) of @len bytes; newly allocated. */
char *dist_base64(const void *data, size_t len);

/* ---- TLS and insecure registries (dist_config.c) ---- */

/* Whether @host ("h:port") is insecure: listed in insecure-registries (name or CIDR) or a
 * loopback address, as dockerd decides. */
bool dist_host_is_insecure(const char *host);
/* Fill the endpoint's CA / client certificate from <certs dir>/<host>/ (berth's, then
 * /etc/docker/certs.d). */
void dist_endpoint_certs(struct dist_endpoint *ep);
/* A client for the endpoint @base ("https://host[:port]") as is, without probing it. */
int dist_client_for_base(const char *base, const char *host, bool verify, const struct dist_auth *auth,
                         struct dist_client **ret, struct berr *err);
/* The semaphore bounding concurrent layer transfers across the daemon. */
void dist_slot_acquire(bool upload);
bool dist_slot_try_acquire(bool upload);
void dist_slot_release(bool upload);

/* ---- manifests (dist_manifest.c) ---- */

struct dist_descriptor {
        char media_type[128];
        char digest[DIGEST_STRING_MAX];
        int64_t size;
        char *urls; /* foreign layers: not supported, kept for the message */
};

struct dist_manifest {
        char media_type[128];
        struct dist_descriptor config;
        struct dist_descriptor *layers;
        size_t n_layers;
};

enum dist_manifest_kind {
        DIST_KIND_MANIFEST,
        DIST_KIND_INDEX,
        DIST_KIND_SCHEMA1,
        _DIST_KIND_MAX,
        _DIST_KIND_INVALID = -1,
};

/* What a manifest body is, from the Content-Type and the body's own mediaType /
 * schemaVersion. */
enum dist_manifest_kind dist_manifest_kind(const char *content_type, json_t *body);
/* Parse a schema2 / OCI image manifest. */
int dist_manifest_parse(json_t *body, struct dist_manifest *ret, struct berr *err);
void dist_manifest_done(struct dist_manifest *m);
/* Choose from an index the manifest for @os/@arch/@variant (variant NULL: any, preferring
 * the host's default), as containerd's platform matcher orders them. */
int dist_index_select(json_t *body, const char *os, const char *arch, const char *variant,
                      struct dist_descriptor *ret, struct berr *err);
/* The Docker schema2 manifest for a config and layers, formatted byte for byte as dockerd
 * writes it (Go's MarshalIndent with three spaces), so a pushed image's digest is stable. */
char *dist_manifest_schema2(const struct dist_descriptor *config, const struct dist_descriptor *layers,
                            size_t n_layers);
/* The host's platform: "linux", "amd64", variant or "". */
void dist_host_platform(const char **os, const char **arch, const char **variant);

/* ---- progress (dist_progress.c) ---- */

/* "1.069MB" as Go's units.HumanSize. */
void dist_human_size(int64_t n, char out[32]);
/* The 12-hex-digit short form of a digest, as the progress ids show layers. */
void dist_short_id(const char *digest, char out[16]);
/* Emit {"status", "id"?, "progressDetail"{}} */
void dist_progress_status(dist_progress_fn fn, void *opaque, const char *id, const char *status);
/* Emit {"status", "id", "progressDetail":{current,total}, "progress":"[==>  ] a/b"} */
void dist_progress_bytes(dist_progress_fn fn, void *opaque, const char *id, const char *status, int64_t current,
                         int64_t total);
