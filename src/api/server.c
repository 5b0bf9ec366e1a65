/* server.c - the libmicrohttpd glue: one MHD daemon per listening socket, thread per
 * connection, request bodies gathered up to a bound (or streamed to a handler thread for
 * API_BODY_STREAM routes), and the answer helpers of http.h. */
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <poll.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "conn_guard.h"
#include "http.h"
#include "versions.h"

#define DEFAULT_MAX_BODY_BYTES (16u << 20)
/* Per-connection memory pool: bounds the request line plus headers. Docker's Go server
 * allows 1 MB of headers; clients send at most a few KB (X-Registry-Auth/Config). Pages
 * of the pool are only touched as they are used, but a streaming answer touches about
 * half of it: with 256 KB a held `events` stream cost 160 KB of RSS, with 64 KB 57 KB
 * (tests/load/test_connections.py reports the figure). */
#define CONNECTION_MEMORY_BYTES (64u << 10)

/* Connections: without a limit of its own libmicrohttpd takes FD_SETSIZE - 4 (1,020)
 * and silently closes any connection past it, so a thousand idle clients locked everyone
 * out. The default limit is half the descriptors left after FD_RESERVE (a streaming
 * connection often holds a second descriptor: an upload pipe, a shim socket), at most
 * MAX_CONNECTIONS, each a thread. Past it libmicrohttpd still accepts OVERFLOW_SHARE more,
 * only to answer them 503 quickly; their headers get OVERFLOW_TIMEOUT_MS. */
#define FD_RESERVE 256
#define MIN_CONNECTIONS 32
#define MAX_CONNECTIONS 4096
#define OVERFLOW_SHARE 2 /* half as many again */
/* From accept, or from the end of the previous request on a kept-alive connection, until
 * the next request's headers are in. A request being served is never timed. */
#define HEADER_TIMEOUT_MS 60000
#define OVERFLOW_TIMEOUT_MS 2000
/* Each connection is a thread; its stack is touched (counted in RSS) only as deep as the
 * handlers go, a few pages. */
#define CONNECTION_STACK_BYTES (1u << 20)
/* TLS 1.2 and 1.3 only, as dockerd's server (go-connections' tlsconfig.ServerDefault). */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE"

/* One per listening socket: what its connections need to know (on_connection's cls). */
struct listener {
        struct api_server *srv;
        bool tls, verify_clients;
};

struct api_server {
        struct api_server_config cfg;
        struct MHD_Daemon **daemons;
        struct listener *listeners;
        size_t n_daemons;
        struct conn_guard *guard;
};

static void add_common_headers(struct api_server *srv, struct MHD_Response *resp) {
        char v[16];
        snprintf(v, sizeof(v), "%u.%u", API_VERSION_MAX / 100, API_VERSION_MAX % 100);
        MHD_add_response_header(resp, "Server", srv->cfg.server_header ? srv->cfg.server_header : "berth");
        MHD_add_response_header(resp, "API-Version", v);
        MHD_add_response_header(resp, "OSType", "linux");
        MHD_add_response_header(resp, "Docker-Experimental", "false");
}

/* Request objects carry their server so answer helpers can add the common headers. */
struct request_full {
        struct api_request pub;
        struct api_server *srv;
        struct timespec started; /* for --metrics-addr's latency histogram */
        /* An error decided before the body was read (unknown path, bad version). It is sent
         * once the body has been drained: answering early and closing with unread input
         * makes the kernel reset the connection, and the client sees "broken pipe" instead
         * of the message. */
        unsigned pending_status;
        char pending_message[BERR_MSG_MAX];
        size_t drained_bytes;

        /* API_BODY_STREAM routes: the handler runs in @worker reading pub.body_fd, the
         * connection thread writes the upload to @body_wfd. The handler's answer is kept
         * in @deferred (MHD queues responses only from the connection's thread) and
         * queued once the worker has been joined. Query and headers are copied first, so
         * the worker never reads MHD's lists while the connection thread parses. */
        struct conn_slot *slot;
        bool has_worker, worker_joined, answered;
        pthread_t worker;
        int body_wfd;
        bool body_complete; /* atomic: set before body_wfd is closed */
        bool defer;
        struct MHD_Response *deferred;
        unsigned deferred_status;
        struct kv {
                enum MHD_ValueKind kind;
                char *key, *value;
        } *kvs;
        size_t n_kvs;
        char *raw_uri;
        bool authz_checked, authz_res_done; /* the authorization middleware's two passes */
        char *peer_subject, *peer_cn; /* the verified client certificate's (TLS listeners) */
};

/* Past this much discarded body, stop draining: answer and close. */
#define MAX_DRAIN_BYTES (64u << 20)

static struct api_server *srv_of(struct api_request *req) {
        return ((struct request_full *) req)->srv;
}

void api_add_header(struct api_request *req, const char *name, const char *value) {
        if (req->n_extra_headers >= API_MAX_EXTRA_HEADERS)
                return;
        req->extra_headers[req->n_extra_headers][0] = name;
        req->extra_headers[req->n_extra_headers][1] = value;
        req->n_extra_headers++;
}

static int queue(struct api_request *req, unsigned status, struct MHD_Response *resp) {
        if (!resp)
                return -ENOMEM;
        add_common_headers(srv_of(req), resp);
        for (int i = 0; i < req->n_extra_headers; i++)
                MHD_add_response_header(resp, req->extra_headers[i][0], req->extra_headers[i][1]);
        struct request_full *rf = (struct request_full *) req;
        if (rf->defer) {
                if (rf->deferred) {
                        MHD_destroy_response(resp);
                        return -EALREADY;
                }
                rf->deferred = resp;
                rf->deferred_status = status;
                req->responded = true;
                req->status = status;
                return 0;
        }
        enum MHD_Result ok = MHD_queue_response(req->conn, status, resp);
        MHD_destroy_response(resp);
        if (ok != MHD_YES)
                return -EIO;
        req->responded = true;
        req->status = status;
        return 0;
}

/* The answer's headers as the authorization plugins see them. */
static json_t *answer_headers(struct api_request *req, const char *content_type, const char *upgrade) {
        struct api_server *srv = srv_of(req);
        char v[16];
        snprintf(v, sizeof(v), "%u.%u", API_VERSION_MAX / 100, API_VERSION_MAX % 100);
        json_t *h = json_pack("{s:s, s:s, s:s, s:s}", "Server", srv->cfg.server_header ? srv->cfg.server_header : "berth",
                              "Api-Version", v, "Ostype", "linux", "Docker-Experimental", "false");
        if (h && content_type)
                json_object_set_new(h, "Content-Type", json_string(content_type));
        if (h && upgrade)
                json_object_set_new(h, "Upgrade", json_string(upgrade));
        for (int i = 0; h && i < req->n_extra_headers; i++)
                json_object_set_new(h, req->extra_headers[i][0], json_string(req->extra_headers[i][1]));
        return h;
}

/* dockerd's AuthZRes on an answer about to be queued: 0 to send it, 1 when it was
 * replaced by the middleware's error, negative when even that could not be queued. */
static int authz_answer(struct api_request *req, unsigned status, const char *content_type, const char *upgrade,
                        const void *body, size_t len) {
        struct request_full *rf = (struct request_full *) req;
        const struct api_authz_hooks *h = rf->srv->cfg.authz;
        if (!h || !rf->authz_checked || rf->authz_res_done)
                return 0;
        rf->authz_res_done = true;
        _cleanup_json_ json_t *hdr = answer_headers(req, content_type, upgrade);
        struct berr err = { 0 };
        int r = h->response(h->ctx, req, status, hdr, body, len, &err);
        if (r == 0 || status >= 400)
                return 0;
        r = api_reply_berr(req, &err);
        return r < 0 ? r : 1;
}

int api_reply_data(struct api_request *req, unsigned status, const char *content_type, const void *data,
                   size_t len) {
        int a = authz_answer(req, status, content_type, NULL, data, len);
        if (a != 0)
                return a < 0 ? a : 0;
        struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *) data, MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return -ENOMEM;
        if (content_type)
                MHD_add_response_header(resp, "Content-Type", content_type);
        return queue(req, status, resp);
}

int api_reply_take(struct api_request *req, unsigned status, const char *content_type, char *data, size_t len) {
        int a = authz_answer(req, status, content_type, NULL, data, len);
        if (a != 0) {
                free(data);
                return a < 0 ? a : 0;
        }
        /* MHD frees it once sent: no copy, and no second large block to fault in */
        struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(data);
                return -ENOMEM;
        }
        if (content_type)
                MHD_add_response_header(resp, "Content-Type", content_type);
        return queue(req, status, resp);
}

int api_reply_empty(struct api_request *req, unsigned status) {
        return api_reply_data(req, status, NULL, "", 0);
}

int api_reply_json(struct api_request *req, unsigned status, json_t *body) {
        _cleanup_json_ json_t *owned = body;
        if (status < 300)
                api_versions_answer(req->route, req->version, body); /* the shapes of older versions */
        char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
                return -ENOMEM;
        size_t len = strlen(text);
        /* Docker's encoder ends every JSON body with a newline. */
        char *nl = realloc(text, len + 2);
        if (!nl) {
                free(text);
                return -ENOMEM;
        }
        text = nl;
        text[len] = '\n';
        text[len + 1] = '\0';
        return api_reply_take(req, status, "application/json", text, len + 1);
}

int api_reply_error(struct api_request *req, unsigned status, const char *message) {
        json_t *o = json_pack("{s:s}", "message", message);
        if (!o)
                return -ENOMEM;
        return api_reply_json(req, status, o);
}

int api_reply_berr(struct api_request *req, const struct berr *err) {
        return api_reply_error(req, api_status_for_kind(err->kind), err->msg[0] ? err->msg : "internal error");
}

struct stream {
        api_stream_read_fn read;
        void (*free_ctx)(void *);
        void *ctx;
};

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
        struct stream *s = cls;
        ssize_t n = s->read(s->ctx, buf, max);
        if (n == 0)
                return MHD_CONTENT_READER_END_OF_STREAM;
        if (n < 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        return n;
}

static void stream_free(void *cls) {
        struct stream *s = cls;
        if (s->free_ctx)
                s->free_ctx(s->ctx);
        free(s);
}

int api_reply_stream(struct api_request *req, unsigned status, const char *content_type,
                     api_stream_read_fn read, void (*free_ctx)(void *), void *ctx) {
        int a = authz_answer(req, status, content_type, NULL, NULL, 0);
        if (a != 0) {
                if (free_ctx)
                        free_ctx(ctx);
                return a < 0 ? a : 0;
        }
        struct stream *s = calloc(1, sizeof(*s));
        if (!s) {
                if (free_ctx)
                        free_ctx(ctx);
                return -ENOMEM;
        }
        *s = (struct stream){ .read = read, .free_ctx = free_ctx, .ctx = ctx };
        struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_reader, s,
                                                                      stream_free);
        if (!resp) {
                stream_free(s);
                return -ENOMEM;
        }
        if (content_type)
                MHD_add_response_header(resp, "Content-Type", content_type);
        return queue(req, status, resp);
}

struct upgrade {
        api_upgrade_fn run;
        void (*free_ctx)(void *);
        void *ctx;
        /* TLS: the handler runs in a thread of its own (upgrade_cb); what it needs is copied. */
        int sock;
        char *extra;
        size_t extra_len;
};

static void upgrade_run(struct upgrade *u, int sock, const char *extra, size_t extra_len,
                        struct MHD_UpgradeResponseHandle *urh) {
        /* MHD hands the socket over non-blocking; the stream code wants plain blocking I/O. */
        int fl = fcntl(sock, F_GETFL);
        if (fl >= 0)
                (void) fcntl(sock, F_SETFL, fl & ~O_NONBLOCK);
        u->run(u->ctx, sock, extra, extra_len);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        if (u->free_ctx)
                u->free_ctx(u->ctx);
        free(u);
}

static void *upgrade_thread(void *arg) {
        struct upgrade *u = arg;
        int fl = fcntl(u->sock, F_GETFL);
        if (fl >= 0)
                (void) fcntl(u->sock, F_SETFL, fl & ~O_NONBLOCK);
        u->run(u->ctx, u->sock, u->extra, u->extra_len);
        (void) shutdown(u->sock, SHUT_RDWR); /* the pump reads EOF: the session is over */
        return NULL;
}

/* The TLS side of an upgraded connection, in the connection's thread: records from the
 * client are decrypted into a socketpair the handler reads, what the handler writes is
 * encrypted to the client. libmicrohttpd 0.9.75 has a forwarder of its own, but it never
 * passes a client's half-close on (close_notify, as `docker run -i` sends when its stdin
 * ends) to the handler, which then waits for ever; here a close_notify is a shutdown of
 * the pair's write side, as EOF is on a plain connection. GnuTLS does all of the TLS.
 * Both directions have a buffer of their own and nothing blocks but poll(): a handler
 * that is not taking stdin (the container's stdin pipe is full) must not stop its output
 * from reaching the client, or both would wait on each other. */
static void tls_pump(gnutls_session_t s, int tcp_fd, int pair_fd) {
        char in[16384], out[16384]; /* in: client -> handler, out: handler -> client */
        size_t in_len = 0, in_off = 0, out_len = 0, out_off = 0;
        bool client_open = true, handler_open = true, in_shut = false;
        int fl = fcntl(pair_fd, F_GETFL);
        if (fl >= 0)
                (void) fcntl(pair_fd, F_SETFL, fl | O_NONBLOCK);
        for (;;) {
                bool progress = false;
                if (client_open && in_len == 0) {
                        ssize_t n = gnutls_record_recv(s, in, sizeof(in));
                        if (n > 0) {
                                in_len = (size_t) n;
                                in_off = 0;
                                progress = true;
                        } else if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED) {
                                /* close_notify, EOF or a TLS error: the client has stopped sending */
                                client_open = false;
                                progress = true;
                                if (n < 0 && n != GNUTLS_E_PREMATURE_TERMINATION && gnutls_error_is_fatal((int) n))
                                        break; /* nothing more can be sent either */
                        }
                }
                if (in_off < in_len) {
                        ssize_t w = send(pair_fd, in + in_off, in_len - in_off, MSG_NOSIGNAL | MSG_DONTWAIT);
                        if (w > 0) {
                                in_off += (size_t) w;
                                if (in_off == in_len)
                                        in_off = in_len = 0;
                                progress = true;
                        } else if (w < 0 && errno != EAGAIN && errno != EINTR)
                                break; /* the handler closed its end */
                }
                if (!client_open && in_len == 0 && !in_shut) {
                        (void) shutdown(pair_fd, SHUT_WR);
                        in_shut = true;
                }
                if (handler_open && out_len == 0) {
                        ssize_t n = recv(pair_fd, out, sizeof(out), MSG_DONTWAIT);
                        if (n > 0) {
                                out_len = (size_t) n;
                                out_off = 0;
                                progress = true;
                        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                                handler_open = false;
                                progress = true;
                        }
                }
                if (out_off < out_len) {
                        /* after GNUTLS_E_AGAIN the same data is passed again, as GnuTLS wants */
                        ssize_t n = gnutls_record_send(s, out + out_off, out_len - out_off);
                        if (n > 0) {
                                out_off += (size_t) n;
                                if (out_off == out_len)
                                        out_off = out_len = 0;
                                progress = true;
                        } else if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
                                break; /* the client is gone */
                }
                if (!handler_open && out_len == 0)
                        break;
                if (progress)
                        continue;
                struct pollfd p[2] = {
                        { .fd = tcp_fd,
                          .events = (short) ((client_open && in_len == 0 ? POLLIN : 0) | (out_len ? POLLOUT : 0)) },
                        { .fd = pair_fd,
                          .events = (short) ((in_len ? POLLOUT : 0) | (handler_open && out_len == 0 ? POLLIN : 0)) },
                };
                for (int i = 0; i < 2; i++)
                        if (!p[i].events)
                                p[i].fd = -1; /* a hang-up nobody waits for must not wake us for ever */
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        break;
        }
        (void) gnutls_bye(s, GNUTLS_SHUT_WR); /* an error only means the client is gone */
}

/* On a plain connection the handler gets the client's socket and runs right here, in the
 * connection's thread. On a TLS connection the handler runs in a thread of its own with
 * one end of a socketpair, and this thread pumps the TLS session (tls_pump). */
static void upgrade_cb(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra, size_t extra_len,
                       MHD_socket sock, struct MHD_UpgradeResponseHandle *urh) {
        struct upgrade *u = cls;
        const union MHD_ConnectionInfo *tls = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        const union MHD_ConnectionInfo *fdi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!tls || !tls->tls_session) {
                upgrade_run(u, sock, extra, extra_len, urh);
                return;
        }
        /* libmicrohttpd's own pair (@sock) is not used: shut, so its forwarder has nothing to do */
        (void) shutdown(sock, SHUT_RDWR);
        int sv[2] = { -1, -1 };
        pthread_t t;
        bool started = false;
        if (fdi && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
                u->sock = sv[0];
                u->extra_len = extra_len;
                u->extra = extra_len ? malloc(extra_len) : NULL;
                if (extra_len && u->extra)
                        memcpy(u->extra, extra, extra_len);
                started = (!extra_len || u->extra) && pthread_create(&t, NULL, upgrade_thread, u) == 0;
        }
        if (started) {
                tls_pump(tls->tls_session, (int) fdi->connect_fd, sv[1]);
                (void) shutdown(sv[1], SHUT_RDWR); /* a handler still writing gets an error and ends */
                pthread_join(t, NULL);
        } else
                log_error("cannot start the session of an upgraded TLS connection");
        if (sv[0] >= 0)
                close(sv[0]);
        if (sv[1] >= 0)
                close(sv[1]);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        if (u->free_ctx)
                u->free_ctx(u->ctx);
        free(u->extra);
        free(u);
}

int api_reply_upgrade(struct api_request *req, const char *content_type, api_upgrade_fn run,
                      void (*free_ctx)(void *), void *ctx) {
        return api_reply_upgrade_to(req, "tcp", content_type, run, free_ctx, ctx);
}

int api_reply_upgrade_to(struct api_request *req, const char *protocol, const char *content_type, api_upgrade_fn run,
                         void (*free_ctx)(void *), void *ctx) {
        int a = authz_answer(req, MHD_HTTP_SWITCHING_PROTOCOLS, content_type, protocol, NULL, 0);
        if (a != 0) {
                if (free_ctx)
                        free_ctx(ctx);
                return a < 0 ? a : 0;
        }
        struct upgrade *u = calloc(1, sizeof(*u));
        if (!u) {
                if (free_ctx)
                        free_ctx(ctx);
                return -ENOMEM;
        }
        *u = (struct upgrade){ .run = run, .free_ctx = free_ctx, .ctx = ctx };
        struct MHD_Response *resp = MHD_create_response_for_upgrade(upgrade_cb, u);
        if (!resp) {
                free(u);
                if (free_ctx)
                        free_ctx(ctx);
                return -ENOMEM;
        }
        MHD_add_response_header(resp, "Upgrade", protocol);
        if (content_type)
                MHD_add_response_header(resp, "Content-Type", content_type);
        struct request_full *rf = (struct request_full *) req;
        conn_slot_hijacked(rf->srv->guard, rf->slot); /* attach and exec sessions last as long as they last */
        int r = queue(req, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
        /* If queueing failed MHD never calls upgrade_cb; the context is lost with the
         * response, which MHD destroyed. */
        return r;
}

/* The copied values of a streaming request (see struct request_full). */
static size_t snapshot_values(struct request_full *rf, enum MHD_ValueKind kind, const char *key, const char **out,
                              size_t max) {
        size_t n = 0;
        for (size_t i = 0; i < rf->n_kvs; i++) {
                const struct kv *kv = &rf->kvs[i];
                bool same = kind == MHD_HEADER_KIND ? strcasecmp(kv->key, key) == 0 : STREQ(kv->key, key);
                if (kv->kind != kind || !same)
                        continue;
                if (n < max)
                        out[n] = kv->value;
                n++;
        }
        return n;
}

const char *api_request_peer_subject(struct api_request *req) {
        return ((struct request_full *) req)->peer_subject;
}

const char *api_request_peer_common_name(struct api_request *req) {
        return ((struct request_full *) req)->peer_cn;
}

/* The client certificate GnuTLS verified in the handshake: on a listener with client
 * verification the handshake fails without one (require_client_cert). Elsewhere a
 * certificate a client sends is never checked, so never trusted, and not looked at. */
static int peer_identity(struct request_full *rf) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(rf->pub.conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (!ci || !ci->tls_session)
                return -EPERM;
        gnutls_session_t session = ci->tls_session;
        unsigned n = 0;
        const gnutls_datum_t *certs = gnutls_certificate_get_peers(session, &n);
        if (!certs || n == 0 || gnutls_session_get_verify_cert_status(session) != 0)
                return -EPERM;
        gnutls_x509_crt_t crt;
        if (gnutls_x509_crt_init(&crt) < 0)
                return -ENOMEM;
        int r = gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 ? 0 : -EPERM;
        gnutls_datum_t dn = { 0 };
        if (r == 0 && gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
                rf->peer_subject = strndup((const char *) dn.data, dn.size);
                gnutls_free(dn.data);
        }
        /* The last CN, as Go's Subject.CommonName (what dockerd gives authorization
         * plugins as User), of any length; a CN that cannot be read fails closed. */
        unsigned last = 0;
        bool has_cn = false;
        for (unsigned i = 0; r == 0; i++) {
                size_t len = 0;
                int g = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, i, 0, NULL, &len);
                if (g == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
                        break;
                if (g != GNUTLS_E_SHORT_MEMORY_BUFFER && g != 0)
                        r = -EPERM;
                last = i;
                has_cn = true;
        }
        if (r == 0 && has_cn) {
                size_t len = 0, cap;
                char *cn = NULL;
                int g = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, last, 0, NULL, &len);
                cap = len + 1; /* the size GnuTLS asked for, and room for a NUL */
                if ((g != GNUTLS_E_SHORT_MEMORY_BUFFER && g != 0) || !(cn = calloc(1, cap)) ||
                    (len = cap, gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, last, 0, cn, &len)) != 0) {
                        free(cn);
                        r = -EPERM;
                } else {
                        cn[len < cap ? len : cap - 1] = '\0';
                        rf->peer_cn = cn;
                }
        }
        gnutls_x509_crt_deinit(crt);
        if (r == 0 && !rf->peer_subject)
                r = -ENOMEM;
        return r;
}

int api_client_fd(struct api_request *req) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        return ci ? (int) ci->connect_fd : -1;
}

bool api_fd_peer_closed(int fd) {
        if (fd < 0)
                return false;
        struct pollfd p = { .fd = fd, .events = POLLRDHUP };
        if (poll(&p, 1, 0) <= 0)
                return false;
        return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

const char *api_query(struct api_request *req, const char *key) {
        struct request_full *rf = (struct request_full *) req;
        const char *v = NULL;
        if (api_versions_query(req->route, req->version, key, &v))
                return v;
        if (rf->kvs)
                return snapshot_values(rf, MHD_GET_ARGUMENT_KIND, key, &v, 1) ? v : NULL;
        return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *api_header(struct api_request *req, const char *name) {
        struct request_full *rf = (struct request_full *) req;
        const char *v = NULL;
        if (rf->kvs)
                return snapshot_values(rf, MHD_HEADER_KIND, name, &v, 1) ? v : NULL;
        return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct values_iter {
        const char *key;
        const char **out;
        size_t max, n;
};

static enum MHD_Result collect_value(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        struct values_iter *it = cls;
        if (key && STREQ(key, it->key)) {
                if (it->n < it->max)
                        it->out[it->n] = value ? value : "";
                it->n++;
        }
        return MHD_YES;
}

size_t api_query_values(struct api_request *req, const char *key, const char **out, size_t max) {
        struct request_full *rf = (struct request_full *) req;
        if (rf->kvs)
                return snapshot_values(rf, MHD_GET_ARGUMENT_KIND, key, out, max);
        struct values_iter it = { .key = key, .out = out, .max = max };
        (void) MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_value, &it);
        return it.n;
}

bool api_body_complete(struct api_request *req) {
        return __atomic_load_n(&((struct request_full *) req)->body_complete, __ATOMIC_ACQUIRE);
}

/* dockerd decodes filters as {"key": {"value": true}}, or else the legacy
 * {"key": ["value"]}; what neither reads (a string value, say) is "invalid filter". */
static bool filters_shape_ok(json_t *o) {
        bool seen_map = false, seen_list = false;
        const char *key;
        json_t *v, *e;
        json_object_foreach(o, key, v) {
                size_t i;
                const char *k;
                if (json_is_object(v)) {
                        seen_map = true;
                        json_object_foreach(v, k, e) if (!json_is_boolean(e) && !json_is_null(e)) return false;
                } else if (json_is_array(v)) {
                        seen_list = true;
                        json_array_foreach(v, i, e) if (!json_is_string(e) && !json_is_null(e)) return false;
                } else if (!json_is_null(v))
                        return false;
        }
        return !(seen_map && seen_list);
}

int api_query_filters(struct api_request *req, const char *const *allowed, json_t **ret, struct berr *err) {
        const char *f = api_query(req, "filters");
        json_t *o = f && *f ? json_loads(f, 0, NULL) : json_object();
        if (!json_is_object(o) || !filters_shape_ok(o)) {
                json_decref(o);
                return berr_set(err, BERR_INVALID, EINVAL, "invalid filter: %s", f);
        }
        json_filters_normalize(o);
        const char *key;
        json_t *val;
        json_object_foreach(o, key, val) {
                bool ok = !allowed;
                for (size_t i = 0; allowed && allowed[i]; i++)
                        ok = ok || strcmp(key, allowed[i]) == 0;
                if (!ok) {
                        int r = berr_set(err, BERR_INVALID, EINVAL, "invalid filter '%s'", key); /* @key is @o's */
                        json_decref(o);
                        return r;
                }
        }
        api_versions_filters(req->route, req->version, o, req);
        *ret = o;
        return 0;
}

int api_query_bool(struct api_request *req, const char *key, bool def, bool *ret, struct berr *err) {
        const char *v = api_query(req, key);
        if (!v) {
                *ret = def;
                return 0;
        }
        static const char *const yes[] = { "1", "true", "True", "TRUE", "t", "T" };
        static const char *const no[] = { "", "0", "false", "False", "FALSE", "f", "F" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (STREQ(v, yes[i])) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (STREQ(v, no[i])) {
                        *ret = false;
                        return 0;
                }
        return berr_set(err, BERR_INVALID, EINVAL, "invalid value for %s: %s is not a boolean", key, v);
}

int api_query_int(struct api_request *req, const char *key, int64_t def, int64_t *ret, struct berr *err) {
        const char *v = api_query(req, key);
        if (!v || !*v) {
                *ret = def;
                return 0;
        }
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || *end)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid value for %s: %s is not an integer", key, v);
        *ret = n;
        return 0;
}

/* dockerd's CheckForJSON: a body must be declared application/json (parameters such as
 * charset allowed); no Content-Type is fine only without a body. */
static int check_json_content_type(struct api_request *req, struct berr *err) {
        const char *ct = api_header(req, "Content-Type");
        if ((!ct || !*ct) && req->body_len == 0)
                return 0;
        if (!ct)
                ct = "";
        const char *type = ct + strspn(ct, " \t");
        size_t n = strcspn(type, ";");
        while (n > 0 && (type[n - 1] == ' ' || type[n - 1] == '\t'))
                n--;
        if (n == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "malformed Content-Type header (%s): mime: no media type", ct);
        if (n != strlen("application/json") || strncasecmp(type, "application/json", n) != 0)
                return berr_set(err, BERR_INVALID, EINVAL, "unsupported Content-Type header (%s): must be 'application/json'",
                                ct);
        return 0;
}

int api_body_json(struct api_request *req, json_t **ret, struct berr *err) {
        int r = check_json_content_type(req, err);
        if (r < 0)
                return r;
        r = json_parse_object(req->body, req->body_len, ret, err);
        if (r == 0)
                api_versions_body(req->route, req->version, *ret);
        return r;
}

/* ---- streamed request bodies ---- */

struct snapshot_ctx {
        struct request_full *rf;
        size_t cap;
        bool failed;
};

static enum MHD_Result snapshot_one(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        struct snapshot_ctx *c = cls;
        struct request_full *rf = c->rf;
        if (!key)
                return MHD_YES;
        if (rf->n_kvs == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 16;
                struct kv *n = realloc(rf->kvs, cap * sizeof(*n));
                if (!n) {
                        c->failed = true;
                        return MHD_NO;
                }
                rf->kvs = n;
                c->cap = cap;
        }
        struct kv *kv = &rf->kvs[rf->n_kvs];
        kv->kind = kind;
        kv->key = strdup(key);
        kv->value = strdup(value ? value : "");
        if (!kv->key || !kv->value) {
                free(kv->key);
                free(kv->value);
                c->failed = true;
                return MHD_NO;
        }
        rf->n_kvs++;
        return MHD_YES;
}

static void *stream_worker(void *arg) {
        struct request_full *rf = arg;
        struct api_request *req = &rf->pub;
        struct berr err = { 0 };
        int r = req->route->handler(req, &err);
        if (r < 0 && !req->responded) {
                if (err.kind == BERR_INTERNAL)
                        log_error("%s %s: %s", req->method, req->path, err.msg);
                (void) api_reply_berr(req, &err); /* nothing else to say if even this fails */
        }
        if (!req->responded) {
                log_error("%s %s: handler gave no answer", req->method, req->path);
                (void) api_reply_error(req, 500, "internal error: no response");
        }
        /* The connection thread's writes now fail, and it drains the rest of the upload. */
        close(req->body_fd);
        req->body_fd = -1;
        return NULL;
}

static int start_stream(struct request_full *rf) {
        struct snapshot_ctx c = { .rf = rf };
        (void) MHD_get_connection_values(rf->pub.conn, MHD_GET_ARGUMENT_KIND | MHD_HEADER_KIND, snapshot_one, &c);
        if (c.failed)
                return -ENOMEM;
        if (!rf->kvs && !(rf->kvs = calloc(1, sizeof(*rf->kvs))))
                return -ENOMEM;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        /* Bigger buffers: fewer wake-ups while a large upload goes through. */
        int size = 1 << 20;
        (void) setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)); /* a hint */
        (void) setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        (void) shutdown(sv[0], SHUT_WR); /* one direction only */
        rf->pub.body_fd = sv[0];
        rf->body_wfd = sv[1];
        rf->defer = true;
        int r = pthread_create(&rf->worker, NULL, stream_worker, rf);
        if (r != 0) {
                close(sv[0]);
                close(sv[1]);
                rf->pub.body_fd = rf->body_wfd = -1;
                rf->defer = false;
                return -r;
        }
        rf->has_worker = true;
        return 0;
}

static void close_upload(struct request_full *rf, bool complete) {
        if (rf->body_wfd < 0)
                return;
        if (complete)
                __atomic_store_n(&rf->body_complete, true, __ATOMIC_RELEASE);
        close(rf->body_wfd);
        rf->body_wfd = -1;
}

static void join_worker(struct request_full *rf) {
        if (!rf->has_worker || rf->worker_joined)
                return;
        close_upload(rf, false);
        pthread_join(rf->worker, NULL);
        rf->worker_joined = true;
        rf->defer = false;
}

static int send_upload(int fd, const char *data, size_t len) {
        while (len > 0) {
                ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                data += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Queue the worker's answer (from the connection thread, after joining it). */
static enum MHD_Result answer_stream(struct request_full *rf) {
        join_worker(rf);
        rf->answered = true;
        struct MHD_Response *resp = TAKE_PTR(rf->deferred);
        if (!resp)
                return MHD_NO;
        enum MHD_Result ok = MHD_queue_response(rf->pub.conn, rf->deferred_status, resp);
        MHD_destroy_response(resp);
        return ok;
}

static enum MHD_Result stream_step(struct request_full *rf, const char *data, size_t *size) {
        if (rf->answered) {
                *size = 0; /* answered early: the rest of the upload is dropped */
                return MHD_YES;
        }
        if (*size == 0) {
                close_upload(rf, true);
                return answer_stream(rf);
        }
        size_t n = *size;
        *size = 0;
        if (rf->body_wfd >= 0) {
                if (send_upload(rf->body_wfd, data, n) == 0)
                        return MHD_YES;
                close_upload(rf, false); /* the handler stopped reading */
        }
        rf->drained_bytes += n;
        if (rf->drained_bytes <= MAX_DRAIN_BYTES)
                return MHD_YES;
        return answer_stream(rf);
}

static void request_free(struct request_full *rf) {
        if (!rf)
                return;
        join_worker(rf);
        if (rf->deferred)
                MHD_destroy_response(rf->deferred);
        for (size_t i = 0; i < rf->n_kvs; i++) {
                free(rf->kvs[i].key);
                free(rf->kvs[i].value);
        }
        free(rf->kvs);
        free(rf->raw_uri);
        json_decref(rf->pub.authz);
        free(rf->peer_subject);
        free(rf->peer_cn);
        for (int i = 0; i < API_MAX_PARAMS; i++)
                free(rf->pub.params[i]);
        free(rf->pub.body);
        free(rf);
}

/* A TLS connection's transport: GnuTLS reads and writes the socket through these (not
 * its own), so that a client speaking plain HTTP to the TLS port is told so, as Go's
 * server tells it ("Client sent an HTTP request to an HTTPS server."), rather than seeing
 * the connection close without a word. */
struct tls_transport {
        int fd;
        bool started; /* the first bytes were looked at */
};

/* What Go's server takes for HTTP in place of a TLS record header (@n < 5: what came so
 * far, rather than wait, spinning, for the rest). */
static bool looks_like_http(const char *b, size_t n) {
        static const char *const starts[] = { "GET /", "HEAD ", "POST ", "PUT /", "OPTIO" };
        for (size_t i = 0; i < ELEMENTSOF(starts); i++)
                if (memcmp(b, starts[i], n < 5 ? n : 5) == 0)
                        return true;
        return false;
}

static ssize_t tls_pull(gnutls_transport_ptr_t p, void *buf, size_t len) {
        struct tls_transport *t = p;
        if (!t->started) {
                char head[5];
                ssize_t n = recv(t->fd, head, sizeof(head), MSG_PEEK);
                if (n <= 0)
                        return n; /* EAGAIN (errno says so), an error, or EOF */
                t->started = true;
                if (looks_like_http(head, (size_t) n)) {
                        static const char answer[] = "HTTP/1.0 400 Bad Request\r\n\r\n"
                                                     "Client sent an HTTP request to an HTTPS server.\n";
                        (void) send(t->fd, answer, sizeof(answer) - 1, MSG_NOSIGNAL | MSG_DONTWAIT); /* best effort */
                        errno = ECONNRESET;
                        return -1;
                }
        }
        return recv(t->fd, buf, len, 0);
}

static ssize_t tls_push(gnutls_transport_ptr_t p, const void *buf, size_t len) {
        const struct tls_transport *t = p;
        return send(t->fd, buf, len, MSG_NOSIGNAL);
}

/* What berth keeps per connection (MHD's socket context). */
struct conn_ctx {
        struct conn_slot *slot;
        struct tls_transport transport;
        const struct listener *listener; /* the one that accepted it */
};

static struct conn_slot *slot_of(struct MHD_Connection *c) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        const struct conn_ctx *ctx = ci ? ci->socket_context : NULL;
        return ctx ? ctx->slot : NULL;
}

/* The listener that accepted @c, recorded when the connection started (srv->daemons is
 * complete only once every listener runs; a connection may come before). NULL if unknown. */
static const struct listener *listener_of(struct MHD_Connection *c) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        const struct conn_ctx *ctx = ci ? ci->socket_context : NULL;
        return ctx ? ctx->listener : NULL;
}

/* --tlsverify: a client without a certificate the CA signed (none, self-signed, expired,
 * another CA's) fails in the handshake, as Go's RequireAndVerifyClientCert does: GnuTLS
 * is told so on each new session, before its handshake (libmicrohttpd itself only asks
 * for a certificate and leaves the checking to the application). */
static void require_client_cert(struct MHD_Connection *c) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (!ci || !ci->tls_session)
                return;
        gnutls_session_t session = ci->tls_session;
        gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
        /* a certificate for clients: no extended key usage, or one with client auth (as Go's
         * x509 verification for RequireAndVerifyClientCert) */
        static gnutls_typed_vdata_st purpose = { .type = GNUTLS_DT_KEY_PURPOSE_OID,
                                                 .data = (unsigned char *) GNUTLS_KP_TLS_WWW_CLIENT };
        gnutls_session_set_verify_cert2(session, &purpose, 1, 0);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
        struct listener *l = cls;
        struct api_server *srv = l->srv;
        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
                const union MHD_ConnectionInfo *tls = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
                struct conn_ctx *ctx = ci ? calloc(1, sizeof(*ctx)) : NULL;
                if (ctx) {
                        ctx->slot = conn_guard_open(srv->guard, (int) ci->connect_fd);
                        ctx->transport.fd = (int) ci->connect_fd;
                        ctx->listener = l;
                }
                if (ctx && tls && tls->tls_session) {
                        gnutls_transport_set_ptr(tls->tls_session, &ctx->transport);
                        gnutls_transport_set_pull_function(tls->tls_session, tls_pull);
                        gnutls_transport_set_push_function(tls->tls_session, tls_push);
                }
                if (l->verify_clients)
                        require_client_cert(c);
                *socket_context = ctx;
                return;
        }
        struct conn_ctx *ctx = *socket_context; /* the TLS session that used it is gone */
        if (ctx)
                conn_guard_close(srv->guard, ctx->slot);
        free(ctx);
        *socket_context = NULL;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
        struct api_server *srv = cls;
        conn_slot_waiting(srv->guard, slot_of(c)); /* kept alive: the clock runs until the next request */
        struct request_full *rf = *con_cls;
        if (rf && rf->pub.status) {
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                metrics_http_observe(rf->pub.method, rf->pub.route ? rf->pub.route->pattern : NULL, rf->pub.status,
                                     (double) (now.tv_sec - rf->started.tv_sec) +
                                             (double) (now.tv_nsec - rf->started.tv_nsec) / 1e9);
        }
        if (rf)
                log_debug("%s %s -> %u%s%s%s%s", rf->pub.method, rf->pub.path ? rf->pub.path : "?", rf->pub.status,
                          toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)",
                          rf->peer_subject ? " (client certificate " : "", rf->peer_subject ? rf->peer_subject : "",
                          rf->peer_subject ? ")" : "");
        request_free(rf);
        *con_cls = NULL;
}

struct header_count {
        const char *name, *first;
        size_t n;
        bool differ;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        struct header_count *c = cls;
        if (!key || strcasecmp(key, c->name) != 0)
                return MHD_YES;
        value = value ? value : "";
        if (c->n++ == 0)
                c->first = value;
        else if (!STREQ(value, c->first))
                c->differ = true;
        return MHD_YES;
}

/* Two different Content-Length headers: libmicrohttpd frames the body by the first, a
 * proxy in front may have used another (request smuggling). Refuse, as Go's server does;
 * the same value twice is no ambiguity. The answer waits for the body as MHD framed it
 * and closes the connection, since what follows cannot be trusted to be a request. */
static bool has_conflicting_lengths(struct MHD_Connection *conn) {
        struct header_count c = { .name = MHD_HTTP_HEADER_CONTENT_LENGTH };
        (void) MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &c);
        return c.differ;
}

/* Decide, before any body is read, whether the request can be served at all. Answering
 * now makes MHD skip (and not buffer) the body. */
static int begin_request(struct api_server *srv, struct request_full *rf, const char *url) {
        struct api_request *req = &rf->pub;
        struct berr err = { 0 };
        if (conn_slot_is_overflow(rf->slot)) {
                req->path = url;
                rf->pending_status = MHD_HTTP_SERVICE_UNAVAILABLE;
                snprintf(rf->pending_message, sizeof(rf->pending_message),
                         "too many connections: the daemon serves at most %u at once, try again later",
                         conn_guard_max_connections(srv->guard));
                api_add_header(req, MHD_HTTP_HEADER_CONNECTION, "close");
                return 0;
        }
        if (has_conflicting_lengths(req->conn)) {
                req->path = url;
                rf->pending_status = MHD_HTTP_BAD_REQUEST;
                snprintf(rf->pending_message, sizeof(rf->pending_message), "conflicting Content-Length headers");
                api_add_header(req, MHD_HTTP_HEADER_CONNECTION, "close");
                return 0;
        }
        if (api_version_strip(url, &req->version, &req->path, &err) < 0) {
                req->path = url;
                rf->pending_status = api_status_for_kind(err.kind);
                snprintf(rf->pending_message, sizeof(rf->pending_message), "%s", err.msg);
                return 0;
        }
        enum api_match m = api_route_match(srv->cfg.routes, srv->cfg.n_routes, req->method, req->path, &req->route,
                                           req->params);
        if (m != API_MATCH_OK) {
                rf->pending_status = m == API_MATCH_NO_PATH ? MHD_HTTP_NOT_FOUND : MHD_HTTP_METHOD_NOT_ALLOWED;
                snprintf(rf->pending_message, sizeof(rf->pending_message), "%s",
                         m == API_MATCH_NO_PATH ? "page not found" : "method not allowed");
                return 0;
        }

        req->body_max = req->route->max_body_bytes ? req->route->max_body_bytes : srv->cfg.max_body_bytes;
        const char *cl = api_header(req, "Content-Length");
        if (cl) {
                char *end;
                errno = 0;
                unsigned long long n = strtoull(cl, &end, 10);
                if (errno || *end || n > req->body_max) {
                        char msg[128];
                        snprintf(msg, sizeof(msg), "request body too large: the limit is %zu bytes", req->body_max);
                        return api_reply_error(req, 413, msg);
                }
        }
        return 0;
}

static int take_body(struct api_request *req, const char *data, size_t len) {
        if (req->body_too_large)
                return 0;
        if (len > req->body_max - req->body_len) {
                /* Stop buffering at once: what was gathered is dropped, the rest discarded. */
                req->body_too_large = true;
                free(req->body);
                req->body = NULL;
                req->body_len = req->body_cap = 0;
                return 0;
        }
        if (req->body_len + len + 1 > req->body_cap) {
                size_t cap = req->body_cap ? req->body_cap : 4096;
                while (cap < req->body_len + len + 1)
                        cap *= 2;
                if (cap > req->body_max + 1)
                        cap = req->body_max + 1;
                char *nb = realloc(req->body, cap);
                if (!nb)
                        return -ENOMEM;
                req->body = nb;
                req->body_cap = cap;
        }
        memcpy(req->body + req->body_len, data, len);
        req->body_len += len;
        req->body[req->body_len] = '\0';
        return 0;
}

static enum MHD_Result add_request_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        if (key)
                json_object_set_new(cls, key, json_string(value ? value : ""));
        return MHD_YES;
}

/* dockerd's AuthZReq before the handler: 0 to go on, 1 when the request was refused (and
 * answered), negative when not even the refusal could be queued. */
static int authz_request(struct request_full *rf) {
        const struct api_authz_hooks *h = rf->srv->cfg.authz;
        if (!h || rf->authz_checked || !h->active(h->ctx))
                return 0;
        rf->authz_checked = true;
        _cleanup_json_ json_t *hdr = json_object();
        if (!hdr)
                return -ENOMEM;
        (void) MHD_get_connection_values(rf->pub.conn, MHD_HEADER_KIND, add_request_header, hdr);
        struct berr err = { 0 };
        if (h->request(h->ctx, &rf->pub, hdr, &err) == 0)
                return 0;
        rf->authz_res_done = true; /* the refusal is the middleware's own answer */
        log_error("AuthZRequest for %s %s returned error: %s", rf->pub.method, rf->pub.raw_uri, err.msg);
        int r = api_reply_berr(&rf->pub, &err);
        return r < 0 ? r : 1;
}

/* The request target of the request this connection thread reads (see on_request_line):
 * a thread-specific value, freed by the key's destructor if the connection ends before
 * its request is taken (thread per connection). */
static pthread_key_t current_uri_key;
static pthread_once_t current_uri_once = PTHREAD_ONCE_INIT;

static void current_uri_key_make(void) {
        if (pthread_key_create(&current_uri_key, free) != 0)
                abort(); /* at the first request: nothing works without it */
}

static char *current_uri_take(void) {
        pthread_once(&current_uri_once, current_uri_key_make);
        char *u = pthread_getspecific(current_uri_key);
        (void) pthread_setspecific(current_uri_key, NULL);
        return u;
}

static void current_uri_set(char *u) {
        free(current_uri_take());
        if (pthread_setspecific(current_uri_key, u) != 0)
                free(u);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        struct api_server *srv = cls;
        struct request_full *rf = *con_cls;

        if (!rf) {
                rf = calloc(1, sizeof(*rf));
                if (rf)
                        clock_gettime(CLOCK_MONOTONIC, &rf->started);
                if (!rf)
                        return MHD_NO;
                rf->srv = srv;
                rf->pub.conn = conn;
                rf->pub.method = method;
                rf->pub.ctx = srv->cfg.ctx;
                rf->pub.is_head = STREQ(method, "HEAD");
                rf->pub.body_fd = rf->body_wfd = -1;
                rf->raw_uri = current_uri_take();
                rf->pub.raw_uri = rf->raw_uri ? rf->raw_uri : url;
                rf->slot = slot_of(conn);
                conn_slot_serving(srv->guard, rf->slot); /* headers in: no deadline while it is served */
                *con_cls = rf; /* from here on_completed frees it */
                const struct listener *l = listener_of(conn);
                const union MHD_ConnectionInfo *tci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
                if (!l && tci && tci->tls_session) { /* cannot tell whether it must be verified: fail closed */
                        log_error("%s %s: a TLS connection of no known listener: connection closed", method, url);
                        return MHD_NO;
                }
                if (l && l->verify_clients && peer_identity(rf) < 0) {
                        /* cannot happen after the handshake's checks: fail closed all the same */
                        log_error("%s %s: a TLS client without a verified certificate: connection closed", method, url);
                        return MHD_NO;
                }
                rf->pub.peer_user = rf->peer_cn; /* the authorization plugins' User ("TLS") */
                if (begin_request(srv, rf, url) < 0)
                        return MHD_NO;
                bool streams = !rf->pending_status && !rf->pub.responded && rf->pub.route->max_body_bytes == API_BODY_STREAM;
                int a = streams ? authz_request(rf) : 0; /* an upload is no JSON: its body is not shown */
                if (a != 0)
                        return a < 0 ? MHD_NO : MHD_YES;
                if (streams && start_stream(rf) < 0) {
                        log_error("%s %s: cannot start the upload stream", method, rf->pub.path);
                        return api_reply_error(&rf->pub, 500, "internal error: cannot stream the request body") < 0
                                       ? MHD_NO
                                       : MHD_YES;
                }
                return MHD_YES;
        }
        struct api_request *req = &rf->pub;
        if (rf->has_worker)
                return stream_step(rf, upload_data, upload_data_size);

        if (*upload_data_size > 0) {
                if (rf->pending_status) {
                        rf->drained_bytes += *upload_data_size;
                        *upload_data_size = 0;
                        if (rf->drained_bytes > MAX_DRAIN_BYTES && !req->responded)
                                return api_reply_error(req, rf->pending_status, rf->pending_message) < 0 ? MHD_NO : MHD_YES;
                        return MHD_YES;
                }
                if (!req->responded && take_body(req, upload_data, *upload_data_size) < 0)
                        return MHD_NO;
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (req->responded)
                return MHD_YES;
        if (rf->pending_status)
                return api_reply_error(req, rf->pending_status, rf->pending_message) < 0 ? MHD_NO : MHD_YES;

        if (req->body_too_large) {
                char msg[128];
                snprintf(msg, sizeof(msg), "request body too large: the limit is %zu bytes", req->body_max);
                return api_reply_error(req, 413, msg) < 0 ? MHD_NO : MHD_YES;
        }

        int a = authz_request(rf);
        if (a != 0)
                return a < 0 ? MHD_NO : MHD_YES;
        struct berr err = { 0 };
        int r = req->route->handler(req, &err);
        if (r < 0 && !req->responded) {
                if (err.kind == BERR_INTERNAL)
                        log_error("%s %s: %s", method, req->path, err.msg);
                return api_reply_berr(req, &err) < 0 ? MHD_NO : MHD_YES;
        }
        if (!req->responded) {
                log_error("%s %s: handler gave no answer", method, req->path);
                return api_reply_error(req, 500, "internal error: no response") < 0 ? MHD_NO : MHD_YES;
        }
        return MHD_YES;
}

/* The socket of the request this connection thread is reading (thread per connection:
 * one thread serves one connection for its whole life). Set when the request line is in. */
static __thread int current_request_fd = -1;
static __thread bool current_request_tls; /* no plain text into a TLS stream: just shut it */

static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        current_request_fd = ci ? (int) ci->connect_fd : -1;
        struct api_server *srv = cls;
        /* only the authorization plugins need it */
        current_uri_set(srv->cfg.authz && uri && srv->cfg.authz->active(srv->cfg.authz->ctx) ? strdup(uri) : NULL);
        current_request_tls = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION) != NULL;
        return NULL; /* MHD's initial con_cls: on_request allocates its own */
}

/* libmicrohttpd 0.9.75 answers a Content-Length it cannot parse (-5, 5x, a value past
 * 2^64) from its header parser, then queues the same answer's status line and headers a
 * second time: the client reads garbage. No callback runs between the end of the headers
 * and that parser, but it logs (on the connection's thread) just before it answers. So
 * we answer there, once, as Go's server does (400), and shut the socket: MHD's own copy
 * then fails to send and it closes the connection. Matched on the log text, which this
 * libmicrohttpd does not translate; tests/e2e/test_hostile.py notices if a new version
 * changes it. */
static void refuse_bad_length(struct api_server *srv, int fd) {
        static const char body[] = "{\"message\":\"invalid Content-Length header\"}\n";
        char v[16], date[64] = "", resp[512];
        snprintf(v, sizeof(v), "%u.%u", API_VERSION_MAX / 100, API_VERSION_MAX % 100);
        time_t now = time(NULL);
        struct tm tm;
        if (gmtime_r(&now, &tm))
                strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        int n = snprintf(resp, sizeof(resp),
                         "HTTP/1.1 400 Bad Request\r\nDate: %s\r\nConnection: close\r\nContent-Type: application/json\r\n"
                         "Server: %s\r\nAPI-Version: %s\r\nOSType: linux\r\nDocker-Experimental: false\r\n"
                         "Content-Length: %zu\r\n\r\n%s",
                         date, srv->cfg.server_header ? srv->cfg.server_header : "berth", v, sizeof(body) - 1, body);
        /* A fresh socket's send buffer takes this at once; if not, the client gets nothing,
         * which is what it would get after the shutdown anyway. */
        if (n > 0 && (size_t) n < sizeof(resp) && !current_request_tls)
                (void) send(fd, resp, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void) shutdown(fd, SHUT_RDWR); /* a closed peer is fine: the connection ends either way */
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
        if (strstr(fmt, "Content-Length' header") && current_request_fd >= 0) {
                refuse_bad_length(cls, current_request_fd);
                current_request_fd = -1;
        }
        if (log_get_level() > LOG_LEVEL_DEBUG)
                return;
        char msg[512];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        size_t n = strlen(msg);
        while (n && msg[n - 1] == '\n')
                msg[--n] = '\0';
        log_debug("http: %s", msg);
}

/* See FD_RESERVE above: what the descriptor limit allows (berthd raises its soft limit to
 * the hard one at start). */
static unsigned fd_connections(void) {
        struct rlimit rl;
        rlim_t fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
        if (fds == RLIM_INFINITY || fds > (1u << 20))
                fds = 1u << 20;
        return fds > FD_RESERVE + 2 * MIN_CONNECTIONS ? (unsigned) ((fds - FD_RESERVE) / 2) : MIN_CONNECTIONS;
}

static unsigned default_max_connections(void) {
        unsigned n = fd_connections();
        return n > MAX_CONNECTIONS ? MAX_CONNECTIONS : n;
}

int api_server_start(const struct api_server_config *cfg, const int *listen_fds, size_t n_fds,
                     struct api_server **ret, struct berr *err) {
        struct api_server *srv = calloc(1, sizeof(*srv));
        if (!srv)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        srv->cfg = *cfg;
        if (!srv->cfg.max_body_bytes)
                srv->cfg.max_body_bytes = DEFAULT_MAX_BODY_BYTES;
        if (!srv->cfg.max_connections)
                srv->cfg.max_connections = default_max_connections();
        else if (srv->cfg.max_connections > fd_connections())
                log_warn("--max-connections %u is more than the open-file limit leaves room for (%u): raise the "
                         "limit (LimitNOFILE=) or connections may fail for want of descriptors",
                         srv->cfg.max_connections, fd_connections());
        if (!srv->cfg.header_timeout_ms)
                srv->cfg.header_timeout_ms = HEADER_TIMEOUT_MS;
        struct conn_guard_config gc = {
                .max_connections = srv->cfg.max_connections,
                .header_timeout_ms = srv->cfg.header_timeout_ms,
                .overflow_timeout_ms = srv->cfg.header_timeout_ms < OVERFLOW_TIMEOUT_MS ? srv->cfg.header_timeout_ms
                                                                                        : OVERFLOW_TIMEOUT_MS,
        };
        int r = conn_guard_start(&gc, &srv->guard, err);
        if (r < 0) {
                free(srv);
                return r;
        }
        srv->daemons = calloc(n_fds, sizeof(*srv->daemons));
        srv->listeners = calloc(n_fds, sizeof(*srv->listeners));
        if (!srv->daemons || !srv->listeners) {
                conn_guard_stop(srv->guard);
                free(srv->daemons);
                free(srv->listeners);
                free(srv);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        unsigned mhd_limit = srv->cfg.max_connections + srv->cfg.max_connections / OVERFLOW_SHARE + 1;
        for (size_t i = 0; i < n_fds; i++) {
                struct listener *l = &srv->listeners[i];
                l->srv = srv;
                l->tls = cfg->tls && cfg->listen_tls && cfg->listen_tls[i];
                l->verify_clients = l->tls && cfg->tls->ca_pem;
                if (l->tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
                        srv->n_daemons = i;
                        api_server_stop(srv);
                        return berr_set(err, BERR_INTERNAL, ENOTSUP,
                                        "cannot serve TLS: this libmicrohttpd is built without TLS support");
                }
                struct MHD_OptionItem tls_opts[5];
                size_t k = 0;
                if (l->tls) {
                        tls_opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *) cfg->tls->key_pem };
                        tls_opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *) cfg->tls->cert_pem };
                        tls_opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *) TLS_PRIORITIES };
                        if (l->verify_clients)
                                tls_opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0,
                                                                         (void *) cfg->tls->ca_pem };
                }
                tls_opts[k] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
                struct MHD_Daemon *d = MHD_start_daemon(
                        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                                MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG | (l->tls ? MHD_USE_TLS : 0),
                        0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
                        MHD_OPTION_URI_LOG_CALLBACK, on_request_line, srv,
                        MHD_OPTION_LISTEN_SOCKET, (MHD_socket) listen_fds[i],
                        MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
                        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                        MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
                        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) CONNECTION_MEMORY_BYTES,
                        MHD_OPTION_THREAD_STACK_SIZE, (size_t) CONNECTION_STACK_BYTES,
                        MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
                if (!d) {
                        srv->n_daemons = i;
                        api_server_stop(srv);
                        return berr_set(err, BERR_INTERNAL, EIO, "cannot start the HTTP%s server on listener %zu%s",
                                        l->tls ? "S" : "", i, l->tls ? " (is the TLS key or certificate unusable?)" : "");
                }
                srv->daemons[i] = d;
        }
        srv->n_daemons = n_fds;
        log_debug("http: at most %u connections at once, %u ms for a request's headers", srv->cfg.max_connections,
                  srv->cfg.header_timeout_ms);
        *ret = srv;
        return 0;
}

struct api_server *api_server_stop(struct api_server *srv) {
        if (!srv)
                return NULL;
        for (size_t i = 0; i < srv->n_daemons; i++) {
                /* MHD closes the listening socket it was given. */
                MHD_stop_daemon(srv->daemons[i]);
        }
        srv->guard = conn_guard_stop(srv->guard); /* after the daemons: no connection is left */
        free(srv->daemons);
        free(srv->listeners);
        free(srv);
        return NULL;
}
