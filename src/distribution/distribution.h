/* distribution.h - the registry client: pull, push, login and manifest inspect against
 * registries speaking the Docker Registry HTTP API v2 / OCI distribution-spec, over
 * libcurl, on top of the image store (image/image_registry.h). Progress is reported as
 * Docker's JSON progress messages through a callback, so the API layer only forwards
 * them. Registry settings (mirrors, insecure registries, concurrency, certificates) are
 * process-wide, set once at start-up from flags and daemon.json. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct berr;
struct image_store;

/* ---- configuration (dockerd's flag names and daemon.json keys) ---- */

#define DIST_DEFAULT_MAX_DOWNLOADS 3
#define DIST_DEFAULT_MAX_UPLOADS 5
#define DIST_DEFAULT_MAX_DOWNLOAD_ATTEMPTS 5
#define DIST_MAX_LIST 64
#define DIST_DEFAULT_CERTS_DIR "/etc/berth/certs.d"
#define DIST_DOCKER_CERTS_DIR "/etc/docker/certs.d"

struct dist_config {
        char *mirrors[DIST_MAX_LIST];            /* "https://mirror.example" */
        size_t n_mirrors;
        char *insecure[DIST_MAX_LIST];           /* "host:port" or CIDR "10.0.0.0/8" */
        size_t n_insecure;
        int max_downloads;
        int max_uploads;
        char *certs_dir;                         /* berth's own; NULL: DIST_DEFAULT_CERTS_DIR */
        int max_download_attempts;               /* per blob or manifest fetch */
        char *http_proxy, *https_proxy, *no_proxy; /* "proxies" of daemon.json; NULL: the environment's */
};

/* The process-wide settings (defaults until changed). */
struct dist_config *dist_config(void);

/* Hooks for daemon/config.c. Each returns 1 when @name / @key is a registry option and was
 * applied, 0 when it is not one of ours (so the caller goes on), negative on a bad value.
 * Flags: --registry-mirror URL (repeatable), --insecure-registry HOST (repeatable),
 * --max-concurrent-downloads N, --max-concurrent-uploads N, --registry-certs-dir DIR.
 * daemon.json: "registry-mirrors" [..], "insecure-registries" [..],
 * "max-concurrent-downloads" n, "max-concurrent-uploads" n, "registry-certs-dir" "..". */
int dist_config_flag(const char *name, const char *value, struct berr *err);
int dist_config_json(const char *key, json_t *value, struct berr *err);
/* True if @name is one of the flags above that takes a value (all of them do). */
bool dist_config_is_flag(const char *name);
/* True if @key is one of the daemon.json keys above. */
bool dist_config_is_json_key(const char *key);
/* Option @i (from 0 until false): flag, daemon.json key, help (for the man page). */
bool dist_config_option(size_t i, const char **flag, const char **json_key, const char **help);
/* The flag lines for --help. */
const char *dist_config_usage(void);
/* Values for `docker info` (RegistryConfig): a new object. */
json_t *dist_config_info(void);
/* The lists (mirrors, insecure registries, proxies) change on reload: read them under this. */
void dist_config_rdlock(void);
void dist_config_unlock(void);
/* SIGHUP: between begin and end the parsing hooks write to a staging copy; end(true) swaps
 * in what dockerd reloads (mirrors, insecure registries, concurrency, download attempts,
 * proxies), end(false) drops it. Main thread only. */
void dist_config_stage_begin(void);
void dist_config_stage_end(bool commit);
/* max-download-attempts and proxies (daemon/config.c parses them). */
int dist_config_set_transfer(int max_download_attempts, const char *http_proxy, const char *https_proxy,
                             const char *no_proxy, struct berr *err);
int dist_config_max_download_attempts(void);

/* ---- credentials ---- */

struct dist_auth {
        char *username;
        char *password;
        char *identity_token; /* OAuth2 refresh token from an earlier login */
        char *registry_token; /* a bearer token to use as is */
        char *server_address;
};

/* Decode X-Registry-Auth (base64url JSON AuthConfig, padded or not). An empty or absent
 * header gives empty credentials. */
int dist_auth_decode(const char *header, struct dist_auth *ret, struct berr *err);
/* From a POST /auth body. */
int dist_auth_from_json(json_t *body, struct dist_auth *ret, struct berr *err);
void dist_auth_done(struct dist_auth *a);

/* ---- operations ---- */

/* Receives each progress message (a borrowed JSON object, Docker's format). */
typedef void (*dist_progress_fn)(void *opaque, json_t *msg);
/* Asked now and then; true stops the operation (the client went away). */
typedef bool (*dist_cancelled_fn)(void *opaque);

struct dist_pull_opts {
        const char *name;     /* fromImage: "busybox", "127.0.0.1:5000/a/b", may carry :tag or @digest */
        const char *tag;      /* tag or digest; NULL or "" with all_tags pulls every tag */
        const char *platform; /* "linux/amd64[/variant]" or NULL for the host's */
        bool all_tags;
        const struct dist_auth *auth;
        dist_progress_fn progress;
        dist_cancelled_fn cancelled;
        void *opaque;
};

/* `docker pull`. Errors before the first progress message are the caller's to answer as
 * an HTTP error; later ones go in-band (the caller decides by whether it has sent any). */
int dist_pull(struct image_store *s, const struct dist_pull_opts *o, struct berr *err);

struct dist_push_opts {
        const char *name;     /* the image name: "127.0.0.1:5000/busybox" */
        const char *tag;      /* NULL or "": every tag of the repository */
        const struct dist_auth *auth;
        dist_progress_fn progress;
        dist_cancelled_fn cancelled;
        void *opaque;
};

/* `docker push`. */
int dist_push(struct image_store *s, const struct dist_push_opts *o, struct berr *err);

/* GET /images/search: the v1 search API (GET /v1/search?q=&n=) of the index the term
 * names (docker.io's index.docker.io unless it starts with a registry host), as dockerd's
 * registry service asks it, https first and plain http for an insecure registry. *@ret:
 * Docker's SearchResult array, filtered. */
struct dist_search_opts {
        const char *term;
        int limit;                /* 1..100 */
        const struct dist_auth *auth;
        int is_official;          /* -1: no filter; 0, 1 */
        int is_automated;         /* -1: no filter; 0, 1 (nothing is automated any more) */
        long stars;               /* at least this many stars */
};
int dist_search(const struct dist_search_opts *o, json_t **ret, struct berr *err);

/* `docker login`: check @auth against the registry @auth->server_address (default
 * docker.io). On success *@ret_identity_token is a refresh token or "" (caller frees). */
int dist_login(const struct dist_auth *auth, char **ret_identity_token, struct berr *err);

/* GET /distribution/{name}/json: {Descriptor{mediaType,digest,size}, Platforms[]}. */
int dist_inspect(const char *name, const struct dist_auth *auth, json_t **ret, struct berr *err);

/* One HTTP(S) GET of @url into @out_fd (docker build's remote context and ADD <url>). */
struct dist_fetch_opts {
        const char *url;
        int out_fd;
        uint64_t max_bytes;
        const char *proxy;    /* NULL: the environment's http_proxy/https_proxy */
        const char *no_proxy; /* NULL: the environment's */
        bool (*cancelled)(void *opaque);
        void *opaque;
};
struct dist_fetch_result {
        char content_type[128];
        char effective_url[2048];
        int64_t last_modified; /* seconds since the epoch, -1 when the server gave none */
        uint64_t bytes;
};
int dist_fetch(const struct dist_fetch_opts *o, struct dist_fetch_result *ret, struct berr *err);

/* ---- managed plugins (dist_plugin.c) ---- */

#define DIST_MT_PLUGIN_CONFIG "application/vnd.docker.plugin.v1+json"

struct dist_plugin_opts {
        const char *remote; /* "127.0.0.1:5000/p", with :tag or @digest (":latest" when neither) */
        const struct dist_auth *auth;
        dist_progress_fn progress; /* NULL: none */
        dist_cancelled_fn cancelled;
        void *opaque;
        /* pull: each rootfs layer, verified, as a file at offset 0 (gzipped or plain tar);
         * NULL: only the config is fetched (GET /plugins/privileges) */
        int (*layer)(void *opaque, int fd, const char *digest, struct berr *err);
};
/* The plugin's manifest (its config's media type must be DIST_MT_PLUGIN_CONFIG, else
 * dockerd's "did not find plugin config for specified reference X"), its config.json
 * into *@ret_config, its layers through @layer. */
int dist_plugin_pull(const struct dist_plugin_opts *o, json_t **ret_config, char ret_manifest[72],
                     struct berr *err);
/* Upload the rootfs layer (@layer_fd, gzipped tar of @layer_size bytes) and the config
 * blob, then the schema2 manifest under the reference's tag. */
int dist_plugin_push(const struct dist_plugin_opts *o, const char *config, size_t config_len, int layer_fd,
                     const char *layer_digest, int64_t layer_size, char ret_manifest[72], struct berr *err);

/* Rootless berthd in slirp4netns's namespace: @open makes the registry connections'
 * sockets (socket(2)'s arguments; an fd or -errno) in the user's network namespace, where
 * a registry on the host's 127.0.0.1 is. Before any registry operation. */
void dist_curl_set_socket_opener(int (*open)(int family, int type, int protocol));
