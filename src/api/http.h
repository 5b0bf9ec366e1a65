/* http.h - the HTTP layer's public face: the request a handler sees, the ways it can answer
 * (JSON, plain body, chunked stream, connection upgrade), and the server that routes to it.
 * Built on libmicrohttpd in thread-per-connection mode, so handlers may block. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct berr;
struct MHD_Connection;

#define API_VERSION_MAX 145   /* 1.45, as major*100 + minor */
#define API_VERSION_MIN 124   /* 1.24 */
#define API_MAX_PARAMS 4
#define API_MAX_EXTRA_HEADERS 8

/* Parse "1.45" into 145. Returns -EINVAL for anything else. */
int api_version_parse(const char *s, unsigned *ret);

/* Split "/v1.45/containers/json" into version 145 and "/containers/json". An unversioned
 * path gets API_VERSION_MAX. A versioned prefix out of range fills @err with Docker's
 * "client version X is too new/old" message. */
int api_version_strip(const char *url, unsigned *ret_version, const char **ret_path, struct berr *err);

struct api_request;
typedef int (*api_handler_fn)(struct api_request *req, struct berr *err);

struct api_route {
        const char *method;  /* "GET", "POST", ... */
        const char *pattern; /* "/containers/{id}/json": {x} matches one non-empty segment */
        api_handler_fn handler;
        size_t max_body_bytes; /* 0: the server default; API_BODY_STREAM: see below */
};

/* A route whose max_body_bytes is API_BODY_STREAM reads its request body as a stream
 * (`docker load`, `docker import`): no bound, nothing gathered in memory. Its handler runs
 * in a thread of its own as soon as the headers are in and reads the upload from
 * req->body_fd (a blocking socket) until EOF, while the connection's thread feeds it. The
 * answer it gives is sent once the upload has ended (or the handler stopped reading and
 * the rest was drained). After EOF, api_body_complete() tells a whole body from one the
 * client cut short by going away. */
#define API_BODY_STREAM SIZE_MAX

enum api_match {
        API_MATCH_OK,
        API_MATCH_NO_PATH,
        API_MATCH_BAD_METHOD,
};

/* Find the route for @method and @path; on a match fill @params (decoded, each at most
 * one path segment, owned by the caller: free them). HEAD falls back to GET. */
enum api_match api_route_match(const struct api_route *routes, size_t n_routes, const char *method,
                               const char *path, const struct api_route **ret_route,
                               char *params[API_MAX_PARAMS]);

/* HTTP status for an error kind: the one place that decides it. */
unsigned api_status_for_kind(int kind);

struct api_request {
        struct MHD_Connection *conn;
        const char *method;
        const char *path;      /* without the version prefix */
        unsigned version;      /* negotiated API version, 124..145 */
        char *params[API_MAX_PARAMS];
        const struct api_route *route;
        void *ctx;             /* the server's user context (the daemon) */

        char *body;            /* NUL-terminated; NULL if none */
        size_t body_len;
        size_t body_cap;
        size_t body_max;
        bool body_too_large;
        bool is_head;
        bool responded;
        unsigned status;       /* status of the answer, for logging */
        const char *extra_headers[API_MAX_EXTRA_HEADERS][2];
        int n_extra_headers;
        int body_fd;           /* API_BODY_STREAM routes: the upload; -1 otherwise */
        const char *raw_uri;   /* the request target as sent ("/v1.45/containers/json?all=1") */
        /* The subject common name of the client's TLS certificate, NULL without one: the
         * TLS listener sets it; the authorization plugins get it as User ("TLS"). */
        const char *peer_user;
        json_t *authz;         /* the authorization middleware's request record (api/authz.c) */
};

/* Add a header to the answer this request will get; @name and @value must outlive the
 * request (string literals or request-owned memory). */
void api_add_header(struct api_request *req, const char *name, const char *value);

/* Query string access. */
const char *api_query(struct api_request *req, const char *key);
/* Every value of a repeated key (`names=a&names=b`), in order, into @out (at most @max).
 * Returns how many there are, which may exceed @max. */
size_t api_query_values(struct api_request *req, const char *key, const char **out, size_t max);
/* Docker's boolean query values: "1", "true", "True" are true; "", "0", "false" false;
 * absent gives @def. Anything else is 400. */
int api_query_bool(struct api_request *req, const char *key, bool def, bool *ret, struct berr *err);
int api_query_int(struct api_request *req, const char *key, int64_t def, int64_t *ret, struct berr *err);
const char *api_header(struct api_request *req, const char *name);
/* The "filters" query parameter as an object of string arrays (the CLI's map form turned
 * into that); a key not in @allowed (NULL-terminated; NULL: any) is a 400 "invalid filter
 * 'key'", as in dockerd. An absent parameter is an empty object. */
int api_query_filters(struct api_request *req, const char *const *allowed, json_t **ret, struct berr *err);

/* API_BODY_STREAM routes: true once the whole body has arrived. Read it after body_fd
 * gave EOF: false then means the client went away mid-upload. */
bool api_body_complete(struct api_request *req);

/* The client's socket, to notice from a long wait that the client has gone away. */
int api_client_fd(struct api_request *req);
/* True when the peer of @fd has closed its end (or the socket failed). Never blocks. */
bool api_fd_peer_closed(int fd);

/* The body as a JSON object (400 when it is not one, or not declared application/json
 * as dockerd's CheckForJSON requires). */
int api_body_json(struct api_request *req, json_t **ret, struct berr *err);

/* Answers. Each returns 0 on success or a negative errno if it could not be queued. */
int api_reply_json(struct api_request *req, unsigned status, json_t *body); /* steals body */
int api_reply_data(struct api_request *req, unsigned status, const char *content_type, const void *data,
                   size_t len);
/* The same, taking @data (malloc'd): freed once sent, or at once on failure. */
int api_reply_take(struct api_request *req, unsigned status, const char *content_type, char *data, size_t len);
int api_reply_empty(struct api_request *req, unsigned status);
int api_reply_error(struct api_request *req, unsigned status, const char *message);
int api_reply_berr(struct api_request *req, const struct berr *err);

/* Chunked streaming body: @read fills @buf with up to @max bytes and returns the count,
 * 0 at the end of the stream or a negative value to abort the connection. It runs in the
 * connection's thread and may block until it has data. @free_ctx releases @ctx once the
 * response is done (also if the client went away). */
typedef ssize_t (*api_stream_read_fn)(void *ctx, char *buf, size_t max);
int api_reply_stream(struct api_request *req, unsigned status, const char *content_type,
                     api_stream_read_fn read, void (*free_ctx)(void *), void *ctx);

/* Upgrade to a raw stream with 101 Switching Protocols ("Upgrade: tcp" as the Docker API
 * does). @run is called in the connection's thread with a blocking socket and any bytes the
 * client sent past the request; when it returns the connection is closed. */
typedef void (*api_upgrade_fn)(void *ctx, int fd, const char *extra, size_t extra_len);
/* In an upgraded connection's run function: wait (up to a second) until the client has
 * read the 101's headers, before anything else is written to @fd (containers.c). */
void api_wait_headers_read(int fd);
int api_reply_upgrade(struct api_request *req, const char *content_type, api_upgrade_fn run,
                      void (*free_ctx)(void *), void *ctx);
/* The same with another protocol in the Upgrade header ("websocket"). */
int api_reply_upgrade_to(struct api_request *req, const char *protocol, const char *content_type, api_upgrade_fn run,
                         void (*free_ctx)(void *), void *ctx);

/* An authorization middleware (api/authz.c, dockerd's pkg/authorization): @request runs
 * before the handler of every matched route, with the request's headers; a negative
 * return answers its error (403 for a denial) and the handler never runs. @response runs
 * as the handler answers, before anything is sent: status, headers and, for answers given
 * whole, the body (NULL for streams and upgrades). A negative return replaces a successful
 * answer with the error; an error answer stays the handler's, as dockerd keeps it. */
struct api_authz_hooks {
        bool (*active)(void *ctx); /* any plugin configured now (SIGHUP may change it) */
        int (*request)(void *ctx, struct api_request *req, json_t *headers, struct berr *err);
        int (*response)(void *ctx, struct api_request *req, unsigned status, json_t *headers, const char *body,
                        size_t body_len, struct berr *err);
        void *ctx;
};

/* The verified client certificate of a request on a TLS listener with client verification
 * (--tlsverify): its subject as an RFC 4514 string (the certificate's last RDN first: for
 * "/CN=alice/O=example" it is "O=example,CN=alice"), and its common
 * name (what dockerd hands authorization plugins as the user). NULL when the request came
 * without a client certificate (unix socket, plain TCP, --tls without --tlsverify). Valid
 * for the request's life. */
const char *api_request_peer_subject(struct api_request *req);
const char *api_request_peer_common_name(struct api_request *req);

/* TLS for some of the listeners: PEM text, read by the daemon. */
struct api_tls {
        const char *cert_pem, *key_pem; /* the server's certificate (chain) and key */
        const char *ca_pem;             /* clients must present a certificate it signed, checked
                                         * in the handshake; NULL: no client certificates */
};

/* The server. */
struct api_server_config {
        const struct api_route *routes;
        size_t n_routes;
        void *ctx;                 /* handed to handlers as req->ctx */
        size_t max_body_bytes;     /* default bound on request bodies */
        const char *server_header; /* "berth/0.1.0 (linux)" */
        /* 0: the defaults (api_server_start) — tests set them small. */
        unsigned max_connections;   /* served at once; more are answered 503 */
        unsigned header_timeout_ms; /* idle keep-alive plus the time to send a request's headers */
        const struct api_authz_hooks *authz; /* NULL: no authorization plugins */
        const struct api_tls *tls;  /* NULL: no TLS anywhere */
        const bool *listen_tls;     /* per listening fd: serve it with @tls (NULL: none) */
};

struct api_server;

/* Serve on already-bound, listening sockets (ownership of the fds passes to the server). */
int api_server_start(const struct api_server_config *cfg, const int *listen_fds, size_t n_fds,
                     struct api_server **ret, struct berr *err);
/* Stop accepting, wait for in-flight connections to end, free. Accepts NULL. */
struct api_server *api_server_stop(struct api_server *srv);
