/* logdrv.c - the shim's log drivers (see logdrv.h). Each driver formats a message as
 * dockerd's does and sends it on a socket of its own; mode=non-blocking keeps what a
 * stream receiver does not take yet in a buffer of max-buffer-size and drops beyond. */
#include "logdrv.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <zlib.h>

#include "common/cleanup.h"
#include "common/err.h"

/* libssl is loaded when a syslog driver asks for tcp+tls, not linked: linked, libcrypto's
 * relocated data made up half of every berth-shim's memory (≈ 460 of 840 KB PSS) and a
 * millisecond of its start, for a driver few containers use. The calls below go through
 * this table (same names, same types, checked against the headers). */
#define TLS_FUNCS(X)                                                                                                 \
        X(TLS_client_method) X(SSL_CTX_new) X(SSL_CTX_ctrl) X(SSL_CTX_load_verify_locations)                         \
        X(SSL_CTX_set_default_verify_paths) X(SSL_CTX_use_certificate_chain_file)                                    \
        X(SSL_CTX_use_PrivateKey_file) X(SSL_CTX_set_verify) X(SSL_CTX_free) X(SSL_new) X(SSL_set_fd)                \
        X(SSL_get_verify_mode) X(SSL_get0_param) X(SSL_set1_host) X(SSL_ctrl) X(SSL_connect) X(SSL_shutdown)         \
        X(SSL_free) X(SSL_write) X(SSL_get_error) X(X509_VERIFY_PARAM_set1_ip_asc) X(ERR_get_error)                  \
        X(ERR_error_string_n) X(ERR_clear_error)
#define TLS_DECL(f) __typeof__(&f) f;
static struct {
        TLS_FUNCS(TLS_DECL)
} tls;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static char tls_error[256];
#define TLS_STR2(x) #x
#define TLS_STR(x) TLS_STR2(x)
#define TLS_LIB "libssl.so." TLS_STR(OPENSSL_VERSION_MAJOR)

static void tls_load_once(void) {
        void *h = dlopen(TLS_LIB, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                snprintf(tls_error, sizeof(tls_error), "%s", dlerror() ?: TLS_LIB ": cannot be loaded");
                return;
        }
#define TLS_SYM(f)                                                                                                     \
        if (!(*(void **) &tls.f = dlsym(h, #f))) {                                                                     \
                snprintf(tls_error, sizeof(tls_error), "%s: no %s", TLS_LIB, #f);                                      \
                return;                                                                                                \
        }
        TLS_FUNCS(TLS_SYM)
#undef TLS_SYM
}

static int tls_load(struct berr *err) {
        pthread_once(&tls_once, tls_load_once);
        if (tls_error[0] || !tls.ERR_clear_error)
                return berr_set(err, BERR_UNAVAILABLE, ENOENT, "TLS: %s", tls_error[0] ? tls_error : "not loaded");
        return 0;
}

#define TLS_client_method (*tls.TLS_client_method)
#define SSL_CTX_new (*tls.SSL_CTX_new)
#define SSL_CTX_ctrl (*tls.SSL_CTX_ctrl)
#define SSL_CTX_load_verify_locations (*tls.SSL_CTX_load_verify_locations)
#define SSL_CTX_set_default_verify_paths (*tls.SSL_CTX_set_default_verify_paths)
#define SSL_CTX_use_certificate_chain_file (*tls.SSL_CTX_use_certificate_chain_file)
#define SSL_CTX_use_PrivateKey_file (*tls.SSL_CTX_use_PrivateKey_file)
#define SSL_CTX_set_verify (*tls.SSL_CTX_set_verify)
#define SSL_CTX_free (*tls.SSL_CTX_free)
#define SSL_new (*tls.SSL_new)
#define SSL_set_fd (*tls.SSL_set_fd)
#define SSL_get_verify_mode (*tls.SSL_get_verify_mode)
#define SSL_get0_param (*tls.SSL_get0_param)
#define SSL_set1_host (*tls.SSL_set1_host)
#define SSL_ctrl (*tls.SSL_ctrl)
#define SSL_connect (*tls.SSL_connect)
#define SSL_shutdown (*tls.SSL_shutdown)
#define SSL_free (*tls.SSL_free)
#define SSL_write (*tls.SSL_write)
#define SSL_get_error (*tls.SSL_get_error)
#define X509_VERIFY_PARAM_set1_ip_asc (*tls.X509_VERIFY_PARAM_set1_ip_asc)
#define ERR_get_error (*tls.ERR_get_error)
#define ERR_error_string_n (*tls.ERR_error_string_n)
#define ERR_clear_error (*tls.ERR_clear_error)
struct log_driver {
        const struct log_driver_ops *ops;
        json_t *cfg, *opts, *extra;
        const char *tag, *id, *name, *image_name, *image_id, *command, *created, *journal;
        char hostname[256];
        bool non_blocking;
        size_t max_buffer;
        /* the connection */
        int fd;
        SSL_CTX *ssl_ctx; /* syslog over tcp+tls */
        SSL *ssl;
        int socktype;
        char scheme[16];
        char target[512]; /* host:port or a path */
        char *pend;       /* stream bytes not sent yet (non-blocking) */
        size_t n_pend;
        int retries;      /* reconnect attempts per failure */
        unsigned retry_wait_ms;
        bool lazy;        /* fluentd-async: connect on first message */
        /* driver specifics */
        int facility;
        const char *format;
        int gelf_compress; /* 0 none, 1 gzip, 2 zlib */
        int gelf_level;
        bool subsecond;
        bool octet_counting;
        uint64_t chunk_id;
        char *buf;
        size_t buf_size;
        /* log plugins: the split line being sent, per stream (dockerd's PartialLogMetaData) */
        char partial_id[_LOG_STREAM_MAX][33];
        int partial_ordinal[_LOG_STREAM_MAX];
};

struct log_out {
        struct log_writer *file; /* json-file, or the dual-logging cache */
        struct log_driver *drv;
        char pending[_LOG_STREAM_MAX][LOG_LINE_MAX_BYTES];
        size_t n_pending[_LOG_STREAM_MAX];
};

static const char *opt(struct log_driver *d, const char *k) {
        return json_string_value(json_object_get(d->opts, k));
}

static bool opt_true(struct log_driver *d, const char *k) {
        const char *v = opt(d, k);
        return v && (!strcmp(v, "1") || !strcasecmp(v, "t") || !strcasecmp(v, "true"));
}

/* @s as a JSON string: invalid UTF-8 becomes U+FFFD, as Go's encoding/json writes it. */
static json_t *json_text(const char *s, size_t n) {
        json_t *j = json_stringn(s, n);
        if (j)
                return j;
        _cleanup_free_ char *o = malloc(3 * n + 1);
        if (!o)
                return NULL;
        size_t k = 0;
        for (size_t i = 0; i < n;) {
                size_t l = 0;
                for (size_t try = 1; try <= 4 && i + try <= n && !l; try++) {
                        json_t *t = json_stringn(s + i, try);
                        if (t)
                                l = try;
                        json_decref(t);
                }
                if (l) {
                        memcpy(o + k, s + i, l);
                        k += l;
                        i += l;
                } else {
                        memcpy(o + k, "\xef\xbf\xbd", 3);
                        k += 3;
                        i++;
                }
        }
        return json_stringn(o, k);
}

/* ---- connections ---- */

static int split_hostport(const char *s, const char *def_port, char *host, size_t hs, char *port, size_t ps) {
        const char *c = strrchr(s, ':');
        if (s[0] == '[') {
                const char *e = strchr(s, ']');
                if (!e)
                        return -EINVAL;
                snprintf(host, hs, "%.*s", (int) (e - s - 1), s + 1);
                c = e[1] == ':' ? e + 1 : NULL;
        } else
                snprintf(host, hs, "%.*s", c ? (int) (c - s) : (int) strlen(s), s);
        snprintf(port, ps, "%s", c ? c + 1 : def_port);
        return 0;
}

static void conn_close(struct log_driver *d);

static int conn_open(struct log_driver *d, struct berr *err) {
        int fd = -1;
        if (d->socktype == 0)
                return 0;
        if (!strcmp(d->scheme, "unix") || !strcmp(d->scheme, "unixgram")) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                if (strlen(d->target) >= sizeof(sa.sun_path))
                        return berr_set(err, BERR_INVALID, ENAMETOOLONG, "%s: path too long", d->target);
                strcpy(sa.sun_path, d->target);
                fd = socket(AF_UNIX, d->socktype | SOCK_CLOEXEC, 0);
                if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                        berr_sys(err, BERR_INTERNAL, "dial %s %s", d->scheme, d->target);
                        if (fd >= 0)
                                close(fd);
                        return -1;
                }
        } else {
                char host[256], port[32];
                split_hostport(d->target, "514", host, sizeof(host), port, sizeof(port));
                struct addrinfo hints = { .ai_socktype = d->socktype }, *ai = NULL;
                int g = getaddrinfo(host, port, &hints, &ai);
                if (g != 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "dial %s %s: %s", d->scheme, d->target, gai_strerror(g));
                for (struct addrinfo *a = ai; a; a = a->ai_next) {
                        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
                        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0)
                                break;
                        if (fd >= 0)
                                close(fd);
                        fd = -1;
                }
                int e = errno;
                freeaddrinfo(ai);
                if (fd < 0)
                        return berr_set(err, BERR_INTERNAL, e, "dial %s %s: %s", d->socktype == SOCK_DGRAM ? "udp" : "tcp",
                                        d->target, strerror(e));
        }
        struct timeval tv = { .tv_sec = 10 };
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)); /* blocking mode: not forever */
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)); /* the TLS handshake */
        d->fd = fd;
        if (d->ssl_ctx) {
                char host[256], port[32];
                split_hostport(d->target, "514", host, sizeof(host), port, sizeof(port));
                d->ssl = SSL_new(d->ssl_ctx);
                if (!d->ssl || SSL_set_fd(d->ssl, fd) != 1)
                        goto tls_fail;
                if (SSL_get_verify_mode(d->ssl) != SSL_VERIFY_NONE) {
                        X509_VERIFY_PARAM *vp = SSL_get0_param(d->ssl);
                        if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1 && SSL_set1_host(d->ssl, host) != 1)
                                goto tls_fail;
                        (void) SSL_set_tlsext_host_name(d->ssl, host);
                }
                if (SSL_connect(d->ssl) != 1)
                        goto tls_fail;
        }
        return 0;
tls_fail: {
        char e[256] = "handshake failed";
        unsigned long code = ERR_get_error();
        if (code)
                ERR_error_string_n(code, e, sizeof(e));
        ERR_clear_error();
        conn_close(d);
        return berr_set(err, BERR_UNAVAILABLE, EPROTO, "dial tcp+tls %s: %s", d->target, e);
}
}

static void conn_close(struct log_driver *d) {
        if (d->ssl) {
                (void) SSL_shutdown(d->ssl); /* close_notify; the peer's answer is not awaited */
                ERR_clear_error();
                SSL_free(d->ssl);
        }
        d->ssl = NULL;
        /* What the peer sent and nobody read (TLS 1.3 session tickets) would make close()
         * reset the connection, and a reset loses the log lines the peer has not read yet. */
        char sink[4096];
        if (d->fd >= 0 && d->socktype == SOCK_STREAM) {
                (void) shutdown(d->fd, SHUT_WR);
                struct pollfd pf = { .fd = d->fd, .events = POLLIN };
                for (int i = 0; i < 64 && poll(&pf, 1, 100) > 0; i++)
                        if (recv(d->fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
                                break; /* the peer's EOF (or an error): nothing left to lose */
        }
        if (d->fd >= 0)
                close(d->fd);
        d->fd = -1;
        d->n_pend = 0;
}

/* Send what is pending first; 0 when all went, 1 when some waits (non-blocking). */
static int send_all(struct log_driver *d, const char *p, size_t n) {
        while (d->ssl && n) { /* TLS: always blocking, bounded by SO_SNDTIMEO */
                int w = SSL_write(d->ssl, p, n > INT32_MAX ? INT32_MAX : (int) n);
                if (w <= 0) {
                        int e = SSL_get_error(d->ssl, w);
                        fprintf(stderr, "log driver: TLS write: SSL error %d, errno %d\n", e, errno);
                        ERR_clear_error();
                        return -EIO;
                }
                p += w;
                n -= (size_t) w;
        }
        int flags = MSG_NOSIGNAL | (d->non_blocking ? MSG_DONTWAIT : 0);
        while (n) {
                ssize_t w = send(d->fd, p, n, flags);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                n -= (size_t) w;
        }
        return 0;
}

static int stream_send(struct log_driver *d, const char *p, size_t n) {
        if (!d->non_blocking || d->ssl)
                return send_all(d, p, n);
        /* what waits goes first, then this message, the rest of which waits in turn */
        if (d->n_pend) {
                ssize_t w = send(d->fd, d->pend, d->n_pend, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                if (w > 0) {
                        memmove(d->pend, d->pend + w, d->n_pend - (size_t) w);
                        d->n_pend -= (size_t) w;
                }
        }
        ssize_t w = 0;
        if (!d->n_pend) {
                w = send(d->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                if (w < 0)
                        w = 0;
        }
        size_t left = n - (size_t) w;
        if (!left)
                return 0;
        /* The buffer is full: the message is dropped, as dockerd's ring buffer drops; one
         * that started going must end whole, or the receiver's framing breaks. */
        if (w == 0 && d->n_pend + left > d->max_buffer)
                return 0;
        char *np = realloc(d->pend, d->n_pend + left);
        if (!np)
                return 0;
        d->pend = np;
        memcpy(d->pend + d->n_pend, p + w, left);
        d->n_pend += left;
        return 0;
}

/* One message out, reconnecting a stream that broke (up to d->retries times). */
static int deliver(struct log_driver *d, const char *p, size_t n, struct berr *err) {
        for (int attempt = 0;; attempt++) {
                if (d->fd < 0) {
                        struct berr e = { 0 };
                        if (conn_open(d, &e) < 0) {
                                if (attempt >= d->retries)
                                        return berr_set(err, BERR_UNAVAILABLE, EIO, "%s", e.msg);
                                usleep(d->retry_wait_ms * 1000);
                                continue;
                        }
                }
                int r;
                if (d->socktype == SOCK_DGRAM) {
                        r = send(d->fd, p, n, MSG_NOSIGNAL | (d->non_blocking ? MSG_DONTWAIT : 0)) < 0 ? -errno : 0;
                        if (r == -EAGAIN || r == -ECONNREFUSED || r == -EMSGSIZE)
                                return 0; /* a datagram lost, as with dockerd */
                } else
                        r = stream_send(d, p, n);
                if (r == 0)
                        return 0;
                conn_close(d);
                if (attempt >= d->retries)
                        return berr_set(err, BERR_UNAVAILABLE, -r, "log %s: %s", d->ops->name, strerror(-r));
        }
}

/* ---- syslog ---- */

static const char *const facility_names[] = { "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
                                              "uucp", "cron", "authpriv", "ftp", "", "", "", "", "local0", "local1",
                                              "local2", "local3", "local4", "local5", "local6", "local7", NULL };

size_t log_syslog_format(const char *format, bool octet_counting, int facility, const char *hostname,
                         const char *tag, int pid, const struct log_msg *m, char *out, size_t size) {
        int pri = facility * 8 + (m->stream == LOG_STREAM_STDERR ? 3 : 6);
        struct tm tm;
        gmtime_r(&m->ts.tv_sec, &tm);
        char when[64];
        size_t hdr = octet_counting ? 12 : 0; /* room for "LEN " */
        if (size < hdr + 64)
                return 0;
        char *o = out + hdr;
        size_t room = size - hdr, n;
        int len = (int) m->len;
        if (!format || !*format || !strcmp(format, "rfc3164")) {
                strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm);
                if (format && *format) /* RFC3164Formatter: with the hostname */
                        n = (size_t) snprintf(o, room, "<%d>%s %s %s[%d]: %.*s\n", pri, when, hostname, tag, pid, len,
                                              m->line);
                else /* UnixFormatter, dockerd's default */
                        n = (size_t) snprintf(o, room, "<%d>%s %s[%d]: %.*s\n", pri, when, tag, pid, len, m->line);
        } else {
                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
                if (!strcmp(format, "rfc5424micro")) {
                        char frac[32];
                        snprintf(frac, sizeof(frac), ".%06d", (int) (m->ts.tv_nsec / 1000) % 1000000);
                        size_t fl = strlen(frac);
                        while (fl > 1 && frac[fl - 1] == '0')
                                frac[--fl] = 0;
                        if (fl > 1)
                                memcpy(when + strlen(when), frac, fl + 1);
                }
                strcat(when, "Z");
                n = (size_t) snprintf(o, room, "<%d>1 %s %s %s %d %s - %.*s\n", pri, when, hostname, tag, pid, tag, len,
                                      m->line);
        }
        if (n >= room)
                n = room - 1;
        if (!octet_counting)
                return n;
        char lenbuf[16];
        int l = snprintf(lenbuf, sizeof(lenbuf), "%zu ", n);
        memmove(out + l, o, n);
        memcpy(out, lenbuf, (size_t) l);
        return n + (size_t) l;
}

/* syslog-tls-*: the CA (else the system's), a client certificate and key, skip-verify. */
static int tls_setup(struct log_driver *d, struct berr *err) {
        const char *ca = opt(d, "syslog-tls-ca-cert"), *cert = opt(d, "syslog-tls-cert"), *key = opt(d, "syslog-tls-key");
        int r = tls_load(err);
        if (r < 0)
                return r;
        d->ssl_ctx = SSL_CTX_new(TLS_client_method());
        if (!d->ssl_ctx)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "TLS: out of memory");
        (void) SSL_CTX_set_min_proto_version(d->ssl_ctx, TLS1_2_VERSION);
        if (ca ? SSL_CTX_load_verify_locations(d->ssl_ctx, ca, NULL) != 1
               : SSL_CTX_set_default_verify_paths(d->ssl_ctx) != 1) {
                ERR_clear_error();
                return berr_set(err, BERR_INVALID, EINVAL, "syslog-tls-ca-cert %s: cannot be read as PEM certificates",
                                ca ? ca : "(system)");
        }
        if ((cert || key) && (!cert || !key || SSL_CTX_use_certificate_chain_file(d->ssl_ctx, cert) != 1 ||
                              SSL_CTX_use_PrivateKey_file(d->ssl_ctx, key, SSL_FILETYPE_PEM) != 1)) {
                ERR_clear_error();
                return berr_set(err, BERR_INVALID, EINVAL, "syslog-tls-cert/syslog-tls-key: cannot load the key pair");
        }
        SSL_CTX_set_verify(d->ssl_ctx, opt_true(d, "syslog-tls-skip-verify") ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
        return 0;
}

static int syslog_open(struct log_driver *d, struct berr *err) {
        const char *a = opt(d, "syslog-address");
        d->facility = 3; /* daemon */
        const char *f = opt(d, "syslog-facility");
        if (f) {
                char *end;
                long v = strtol(f, &end, 10);
                if (!*end && *f)
                        d->facility = (int) v;
                else
                        for (int i = 0; facility_names[i]; i++)
                                if (*facility_names[i] && !strcmp(facility_names[i], f))
                                        d->facility = i;
        }
        d->format = opt(d, "syslog-format");
        if (!a || !*a) { /* the local syslog, as srslog finds it */
                static const char *const paths[] = { "/dev/log", "/var/run/syslog", "/var/run/log" };
                for (size_t i = 0; i < 3; i++)
                        if (access(paths[i], F_OK) == 0) {
                                snprintf(d->target, sizeof(d->target), "%s", paths[i]);
                                break;
                        }
                if (!*d->target)
                        return berr_set(err, BERR_UNAVAILABLE, ENOENT, "Unix syslog delivery error");
                strcpy(d->scheme, "unixgram");
        } else {
                const char *p = strstr(a, "://");
                snprintf(d->scheme, sizeof(d->scheme), "%.*s", (int) (p - a), a);
                snprintf(d->target, sizeof(d->target), "%s", p + 3);
        }
        d->socktype = !strcmp(d->scheme, "udp") || !strcmp(d->scheme, "unixgram") ? SOCK_DGRAM : SOCK_STREAM;
        if (!strcmp(d->scheme, "tcp+tls")) {
                int r = tls_setup(d, err);
                if (r < 0)
                        return r;
                /* dockerd frames rfc5424 over TLS with octet counting (RFC 5425) */
                d->octet_counting = d->format && !strncmp(d->format, "rfc5424", 7);
        }
        d->retries = 1;
        d->retry_wait_ms = 100;
        int r = conn_open(d, err);
        if (r < 0 && !strcmp(d->scheme, "unixgram") && (!a || !*a)) { /* /dev/log may be a stream socket */
                d->socktype = SOCK_STREAM;
                r = conn_open(d, err);
        }
        return r;
}

static int syslog_write(struct log_driver *d, const struct log_msg *m, struct berr *err) {
        if (m->len == 0)
                return 0; /* dockerd's syslog sends no empty lines */
        size_t n = log_syslog_format(d->format, d->octet_counting, d->facility, d->hostname, d->tag, (int) getpid(), m, d->buf,
                                     d->buf_size);
        return deliver(d, d->buf, n, err);
}

static const struct log_driver_ops syslog_ops = { "syslog", syslog_open, syslog_write, NULL };

/* ---- gelf ---- */

#define GELF_CHUNK 1420
#define GELF_MAX_CHUNKS 128

static int gelf_open(struct log_driver *d, struct berr *err) {
        const char *a = opt(d, "gelf-address");
        const char *p = strstr(a, "://");
        snprintf(d->scheme, sizeof(d->scheme), "%.*s", (int) (p - a), a);
        snprintf(d->target, sizeof(d->target), "%s", p + 3);
        d->socktype = strcmp(d->scheme, "tcp") ? SOCK_DGRAM : SOCK_STREAM;
        const char *ct = opt(d, "gelf-compression-type");
        d->gelf_compress = !ct || !strcmp(ct, "gzip") ? 1 : !strcmp(ct, "zlib") ? 2 : 0;
        if (d->socktype == SOCK_STREAM)
                d->gelf_compress = 0;
        const char *lv = opt(d, "gelf-compression-level");
        d->gelf_level = lv ? atoi(lv) : 1; /* dockerd: flate.BestSpeed */
        const char *mr = opt(d, "gelf-tcp-max-reconnect"), *rd = opt(d, "gelf-tcp-reconnect-delay");
        d->retries = d->socktype == SOCK_STREAM ? (mr ? atoi(mr) : 3) : 0;
        if (d->retries < 0)
                d->retries = 1 << 20;
        d->retry_wait_ms = (unsigned) (rd ? atoi(rd) : 1) * 1000;
        d->chunk_id = ((uint64_t) getpid() << 32) ^ (uint64_t) time(NULL);
        return conn_open(d, err);
}

static json_t *gelf_message(struct log_driver *d, const struct log_msg *m) {
        char ts[64];
        snprintf(ts, sizeof(ts), "%lld.%06ld", (long long) m->ts.tv_sec, m->ts.tv_nsec / 1000);
        json_t *o = json_object();
        if (!o)
                return NULL;
        json_object_set_new(o, "version", json_string("1.1"));
        json_object_set_new(o, "host", json_string(d->hostname));
        json_object_set_new(o, "short_message", json_text(m->line, m->len));
        json_object_set_new(o, "timestamp", json_real(strtod(ts, NULL)));
        json_object_set_new(o, "level", json_integer(m->stream == LOG_STREAM_STDERR ? 3 : 6));
        json_object_set_new(o, "_container_id", json_string(d->id));
        json_object_set_new(o, "_container_name", json_string(d->name[0] == '/' ? d->name + 1 : d->name));
        json_object_set_new(o, "_image_id", json_string(d->image_id));
        json_object_set_new(o, "_image_name", json_string(d->image_name));
        json_object_set_new(o, "_command", json_string(d->command));
        json_object_set_new(o, "_tag", json_string(d->tag));
        json_object_set_new(o, "_created", json_string(d->created));

        const char *k;
        json_t *v;
        json_object_foreach(d->extra, k, v) {
                char key[300];
                snprintf(key, sizeof(key), "_%s", k);
                json_object_set(o, key, v);
        }
        return o;
}

static int gelf_write(struct log_driver *d, const struct log_msg *m, struct berr *err) {
        _cleanup_json_ json_t *o = gelf_message(d, m);
        _cleanup_free_ char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (!text)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t n = strlen(text);
        if (d->socktype == SOCK_STREAM) /* NUL-terminated frames */
                return deliver(d, text, n + 1, err);
        const char *payload = text;
        size_t plen = n;
        _cleanup_free_ char *z = NULL;
        if (d->gelf_compress) {
                z_stream zs = { 0 };
                if (deflateInit2(&zs, d->gelf_level, Z_DEFLATED, d->gelf_compress == 1 ? 31 : 15, 8,
                                 Z_DEFAULT_STRATEGY) != Z_OK)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "deflate");
                uLong cap = deflateBound(&zs, (uLong) n) + 32;
                z = malloc(cap);
                if (!z) {
                        deflateEnd(&zs);
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                }
                zs.next_in = (Bytef *) text;
                zs.avail_in = (uInt) n;
                zs.next_out = (Bytef *) z;
                zs.avail_out = (uInt) cap;
                int zr = deflate(&zs, Z_FINISH);
                plen = zs.total_out;
                deflateEnd(&zs);
                if (zr != Z_STREAM_END)
                        return berr_set(err, BERR_INTERNAL, EIO, "deflate");
                payload = z;
        }
        if (plen <= GELF_CHUNK)
                return deliver(d, payload, plen, err);
        size_t count = (plen + GELF_CHUNK - 1) / GELF_CHUNK;
        if (count > GELF_MAX_CHUNKS)
                return 0; /* too big for GELF over UDP: dropped, as dockerd's writer refuses it */
        uint64_t id = ++d->chunk_id;
        char chunk[12 + GELF_CHUNK];
        for (size_t i = 0; i < count; i++) {
                size_t take = plen - i * GELF_CHUNK < GELF_CHUNK ? plen - i * GELF_CHUNK : GELF_CHUNK;
                chunk[0] = 0x1e;
                chunk[1] = 0x0f;
                memcpy(chunk + 2, &id, 8);
                chunk[10] = (char) i;
                chunk[11] = (char) count;
                memcpy(chunk + 12, payload + i * GELF_CHUNK, take);
                int r = deliver(d, chunk, 12 + take, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const struct log_driver_ops gelf_ops = { "gelf", gelf_open, gelf_write, NULL };

/* ---- fluentd ---- */

struct mp {
        char *p;
        size_t n, cap;
        bool full;
};

static void mp_raw(struct mp *b, const void *d, size_t n) {
        if (b->n + n > b->cap) {
                b->full = true;
                return;
        }
        memcpy(b->p + b->n, d, n);
        b->n += n;
}

static void mp_be(struct mp *b, uint8_t tag, uint64_t v, int bytes) {
        uint8_t o[9];
        o[0] = tag;
        for (int i = 0; i < bytes; i++)
                o[1 + i] = (uint8_t) (v >> (8 * (bytes - 1 - i)));
        mp_raw(b, o, 1 + (size_t) bytes);
}

static void mp_str(struct mp *b, const char *s, size_t n) {
        if (n < 32) {
                uint8_t t = (uint8_t) (0xa0 | n);
                mp_raw(b, &t, 1);
        } else if (n < 256)
                mp_be(b, 0xd9, n, 1);
        else if (n < 65536)
                mp_be(b, 0xda, n, 2);
        else
                mp_be(b, 0xdb, n, 4);
        mp_raw(b, s, n);
}

static void mp_map(struct mp *b, size_t n) {
        if (n < 16) {
                uint8_t t = (uint8_t) (0x80 | n);
                mp_raw(b, &t, 1);
        } else
                mp_be(b, 0xde, n, 2);
}

size_t log_fluentd_encode(const char *tag, const struct timespec *ts, bool subsecond, json_t *record, char *out,
                          size_t size) {
        struct mp b = { out, 0, size, false };
        uint8_t arr = 0x93;
        mp_raw(&b, &arr, 1);
        mp_str(&b, tag, strlen(tag));
        if (subsecond) { /* EventTime: fixext8, type 0 */
                uint8_t h[2] = { 0xd7, 0x00 };
                mp_raw(&b, h, 2);
                uint8_t t[8];
                uint32_t s = (uint32_t) ts->tv_sec, ns = (uint32_t) ts->tv_nsec;
                for (int i = 0; i < 4; i++) {
                        t[i] = (uint8_t) (s >> (24 - 8 * i));
                        t[4 + i] = (uint8_t) (ns >> (24 - 8 * i));
                }
                mp_raw(&b, t, 8);
        } else
                mp_be(&b, 0xce, (uint64_t) ts->tv_sec, 4);
        mp_map(&b, json_object_size(record));
        const char *k;
        json_t *v;
        json_object_foreach(record, k, v) {
                mp_str(&b, k, strlen(k));
                const char *s = json_string_value(v);
                mp_str(&b, s ? s : "", s ? json_string_length(v) : 0);
        }
        return b.full ? 0 : b.n;
}

static int fluentd_open(struct log_driver *d, struct berr *err) {
        const char *a = opt(d, "fluentd-address");
        if (!a || !*a)
                a = "localhost:24224";
        const char *p = strstr(a, "://");
        if (p) {
                snprintf(d->scheme, sizeof(d->scheme), "%.*s", (int) (p - a), a);
                a = p + 3;
        } else
                strcpy(d->scheme, "tcp");
        if (!strcmp(d->scheme, "tcp") && !strchr(a, ':'))
                snprintf(d->target, sizeof(d->target), "%s:24224", a);
        else
                snprintf(d->target, sizeof(d->target), "%s", a);
        d->socktype = SOCK_STREAM;
        const char *mr = opt(d, "fluentd-max-retries"), *rw = opt(d, "fluentd-retry-wait");
        d->retries = mr ? atoi(mr) : 10;
        d->retry_wait_ms = 1000;
        if (rw) { /* a Go duration: 1s, 500ms, ... (the common cases) */
                char *end;
                double v = strtod(rw, &end);
                d->retry_wait_ms = (unsigned) (!strcmp(end, "ms") ? v : !strcmp(end, "m") ? v * 60000 : v * 1000);
        }
        d->subsecond = opt_true(d, "fluentd-sub-second-precision");
        d->lazy = opt_true(d, "fluentd-async") || opt_true(d, "fluentd-async-connect");
        if (d->lazy) {
                d->non_blocking = true; /* async: nothing waits on the receiver */
                return 0;
        }
        return conn_open(d, err);
}

static int fluentd_write(struct log_driver *d, const struct log_msg *m, struct berr *err) {
        _cleanup_json_ json_t *rec = json_pack("{s:s, s:s, s:s}", "container_id", d->id, "container_name", d->name,
                                               "source", m->stream == LOG_STREAM_STDERR ? "stderr" : "stdout");
        if (!rec || json_object_set_new(rec, "log", json_text(m->line, m->len)) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (m->partial)
                json_object_set_new(rec, "partial_message", json_string("true"));
        json_object_update_missing(rec, d->extra);
        size_t n = log_fluentd_encode(d->tag, &m->ts, d->subsecond, rec, d->buf, d->buf_size);
        if (!n)
                return 0;
        if (d->lazy && d->fd < 0) {
                struct berr e = { 0 };
                if (conn_open(d, &e) < 0)
                        return 0; /* async: the message is lost until the receiver is back */
        }
        return deliver(d, d->buf, n, err);
}

static const struct log_driver_ops fluentd_ops = { "fluentd", fluentd_open, fluentd_write, NULL };

/* ---- journald ---- */

static int journald_open(struct log_driver *d, struct berr *err) {
        struct stat st;
        if (stat(d->journal, &st) < 0 || !S_ISSOCK(st.st_mode))
                return berr_set(err, BERR_UNAVAILABLE, ENOENT, "journald is not enabled on this host");
        strcpy(d->scheme, "unixgram");
        snprintf(d->target, sizeof(d->target), "%s", d->journal);
        d->socktype = SOCK_DGRAM;
        return conn_open(d, err);
}

static void jfield(struct mp *b, const char *k, const char *v, size_t n) {
        if (memchr(v, '\n', n)) { /* KEY\n, 64-bit little-endian length, value, \n */
                mp_raw(b, k, strlen(k));
                mp_raw(b, "\n", 1);
                uint8_t l[8];
                for (int i = 0; i < 8; i++)
                        l[i] = (uint8_t) ((uint64_t) n >> (8 * i));
                mp_raw(b, l, 8);
        } else {
                mp_raw(b, k, strlen(k));
                mp_raw(b, "=", 1);
        }
        mp_raw(b, v, n);
        mp_raw(b, "\n", 1);
}

static int journald_write(struct log_driver *d, const struct log_msg *m, struct berr *err) {
        struct mp b = { d->buf, 0, d->buf_size, false };
        char id12[13];
        snprintf(id12, sizeof(id12), "%s", d->id);
        const char *name = d->name[0] == '/' ? d->name + 1 : d->name;
        jfield(&b, "MESSAGE", m->line, m->len);
        jfield(&b, "PRIORITY", m->stream == LOG_STREAM_STDERR ? "3" : "6", 1);
        jfield(&b, "CONTAINER_ID", id12, strlen(id12));
        jfield(&b, "CONTAINER_ID_FULL", d->id, strlen(d->id));
        jfield(&b, "CONTAINER_NAME", name, strlen(name));
        jfield(&b, "CONTAINER_TAG", d->tag, strlen(d->tag));
        jfield(&b, "IMAGE_NAME", d->image_name, strlen(d->image_name));
        jfield(&b, "SYSLOG_IDENTIFIER", d->tag, strlen(d->tag));
        if (m->partial)
                jfield(&b, "CONTAINER_PARTIAL_MESSAGE", "true", 4);
        const char *k;
        json_t *v;
        json_object_foreach(d->extra, k, v) {
                /* dockerd's sanitizeKeyMod: upper case, [A-Z0-9_] only, no leading '_' */
                char key[256];
                size_t o = 0;
                for (const char *p = k; *p && o < sizeof(key) - 1; p++) {
                        char c = *p;
                        if (c >= 'a' && c <= 'z')
                                c = (char) (c - 'a' + 'A');
                        else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
                                c = '_';
                        if (c == '_' && o == 0)
                                continue;
                        key[o++] = c;
                }
                key[o] = 0;
                if (o && json_is_string(v))
                        jfield(&b, key, json_string_value(v), json_string_length(v));
        }
        if (b.full)
                return 0;
        return deliver(d, b.p, b.n, err);
}

static const struct log_driver_ops journald_ops = { "journald", journald_open, journald_write, NULL };

/* ---- log plugins: dockerd's LogEntry protobuf, length-prefixed, into a FIFO ---- */

static size_t pb_varint(uint8_t *out, uint64_t v) {
        size_t n = 0;
        do {
                out[n++] = (uint8_t) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
                v >>= 7;
        } while (v);
        return n;
}

/* A length-delimited field (wire type 2). */
static size_t pb_bytes(uint8_t *out, unsigned field, const void *p, size_t len) {
        size_t n = pb_varint(out, (field << 3) | 2);
        n += pb_varint(out + n, len);
        memcpy(out + n, p, len);
        return n + len;
}

static size_t pb_uint(uint8_t *out, unsigned field, uint64_t v) {
        size_t n = pb_varint(out, field << 3);
        return n + pb_varint(out + n, v);
}

size_t log_plugin_encode(const struct log_msg *m, const char *partial_id, int ordinal, bool last, char *out,
                         size_t size) {
        /* LogEntry: source 1, time_nano 2, line 3, partial 4, partial_log_metadata 5
         * {last 1, id 2, ordinal 3}; zero values are left out, as proto3 writes them */
        const char *source = m->stream == LOG_STREAM_STDERR ? "stderr" : "stdout";
        size_t id_len = partial_id ? strlen(partial_id) : 0;
        if (size < 4 + 64 + m->len + id_len)
                return 0;
        uint8_t *b = (uint8_t *) out + 4;
        size_t n = pb_bytes(b, 1, source, strlen(source));
        int64_t nanos = (int64_t) m->ts.tv_sec * 1000000000 + m->ts.tv_nsec;
        if (nanos)
                n += pb_uint(b + n, 2, (uint64_t) nanos);
        if (m->len)
                n += pb_bytes(b + n, 3, m->line, m->len);
        if (partial_id) {
                uint8_t meta[128];
                size_t k = 0;
                if (last)
                        k += pb_uint(meta + k, 1, 1);
                k += pb_bytes(meta + k, 2, partial_id, id_len);
                if (ordinal)
                        k += pb_uint(meta + k, 3, (uint64_t) (uint32_t) ordinal);
                n += pb_uint(b + n, 4, 1);
                n += pb_bytes(b + n, 5, meta, k);
        }
        out[0] = (char) (n >> 24);
        out[1] = (char) (n >> 16);
        out[2] = (char) (n >> 8);
        out[3] = (char) n;
        return n + 4;
}

static int plugin_open(struct log_driver *d, struct berr *err) {
        const char *fifo = json_string_value(json_object_get(d->cfg, "plugin_fifo")) ?: "";
        /* read-write: never blocks on a plugin not reading yet, nor fails when it restarts */
        d->fd = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (d->fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", fifo);
        return 0;
}

#define PLUGIN_WRITE_TIMEOUT_MS 10000

static int plugin_write(struct log_driver *d, const struct log_msg *m, struct berr *err) {
        if (d->fd < 0)
                return 0; /* given up on (see below) */
        int s = m->stream == LOG_STREAM_STDERR ? 1 : 0;
        const char *pid = NULL;
        bool last = false;
        int ordinal = 0;
        if (m->partial || d->partial_id[s][0]) { /* a piece of a line longer than the buffer */
                if (!d->partial_id[s][0]) {
                        unsigned char rnd[16];
                        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd))
                                memset(rnd, 0x5a, sizeof(rnd));
                        for (int i = 0; i < 16; i++)
                                snprintf(d->partial_id[s] + 2 * i, 3, "%02x", rnd[i]);
                        d->partial_ordinal[s] = 0;
                }
                pid = d->partial_id[s];
                ordinal = ++d->partial_ordinal[s];
                last = !m->partial;
        }
        size_t n = log_plugin_encode(m, pid, ordinal, last, d->buf, d->buf_size);
        if (last)
                d->partial_id[s][0] = '\0';
        if (n == 0)
                return berr_set(err, BERR_INTERNAL, E2BIG, "log message too large");
        /* Whole records only: a plugin that stops reading for PLUGIN_WRITE_TIMEOUT_MS
         * mid-record is given up on, since the stream cannot be framed again. */
        size_t off = 0;
        while (off < n) {
                ssize_t w = write(d->fd, d->buf + off, n - off);
                if (w > 0) {
                        off += (size_t) w;
                        continue;
                }
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && errno != EAGAIN)
                        return berr_sys(err, BERR_UNAVAILABLE, "write to the log plugin");
                if (off == 0 && d->non_blocking)
                        return 0; /* mode=non-blocking: dropped */
                struct pollfd p = { .fd = d->fd, .events = POLLOUT };
                if (poll(&p, 1, PLUGIN_WRITE_TIMEOUT_MS) <= 0) {
                        close(d->fd);
                        d->fd = -1;
                        return berr_set(err, BERR_UNAVAILABLE, ETIMEDOUT,
                                        "the log plugin stopped reading: its output is no longer sent");
                }
        }
        return 0;
}

static const struct log_driver_ops plugin_ops = { "plugin", plugin_open, plugin_write, NULL };

/* ---- the router ---- */

static void driver_free(struct log_driver *d) {
        if (!d)
                return;
        if (d->ops && d->ops->close)
                d->ops->close(d);
        conn_close(d);
        if (d->ssl_ctx)
                SSL_CTX_free(d->ssl_ctx);
        free(d->pend);
        free(d->buf);
        json_decref(d->cfg);
        free(d);
}

static const char *str(json_t *cfg, const char *k) {
        const char *s = json_string_value(json_object_get(cfg, k));
        return s ? s : "";
}

int log_out_open(json_t *cfg, struct log_out **ret, struct berr *err) {
        *ret = NULL;
        const char *driver = str(cfg, "driver");
        if (!strcmp(driver, "none"))
                return 0;
        const struct log_driver_ops *ops = !strcmp(driver, "syslog")                ? &syslog_ops
                                           : !strcmp(driver, "gelf")                ? &gelf_ops
                                           : !strcmp(driver, "fluentd")             ? &fluentd_ops
                                           : !strcmp(driver, "journald")            ? &journald_ops
                                           : json_object_get(cfg, "plugin_fifo") ? &plugin_ops
                                                                                    : NULL;
        if (!ops && strcmp(driver, "json-file") && strcmp(driver, "local"))
                return berr_set(err, BERR_INVALID, EINVAL, "logger: no log driver named '%s' is registered", driver);
        struct log_out *o = calloc(1, sizeof(*o));
        if (!o)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        const char *path = json_string_value(json_object_get(cfg, "path"));
        int r;
        if (path) {
                bool local = json_is_true(json_object_get(cfg, "local"));
                if (local) { /* its own directory, as dockerd's local-logs/ */
                        _cleanup_free_ char *dir = strdup(path);
                        char *slash = dir ? strrchr(dir, '/') : NULL;
                        if (slash) {
                                *slash = 0;
                                (void) mkdir(dir, 0700);
                        }
                }
                json_int_t ms = json_integer_value(json_object_get(cfg, "max_size"));
                json_int_t mf = json_integer_value(json_object_get(cfg, "max_file"));
                if ((r = log_writer_open(path, ms, (int) mf, &o->file, err)) < 0)
                        goto fail;
                if (local)
                        log_writer_set_local(o->file, json_is_true(json_object_get(cfg, "compress")));
                json_t *extra = json_object_get(cfg, "extra");
                if (!ops && json_object_size(extra)) {
                        _cleanup_free_ char *attrs = json_dumps(extra, JSON_COMPACT | JSON_SORT_KEYS);
                        (void) log_writer_set_attrs(o->file, attrs);
                }
        }
        if (ops) {
                struct log_driver *d = calloc(1, sizeof(*d));
                if (!d) {
                        r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        goto fail;
                }
                o->drv = d;
                d->ops = ops;
                d->fd = -1;
                d->cfg = json_incref(cfg);
                d->opts = json_object_get(cfg, "opts");
                d->extra = json_object_get(cfg, "extra");
                d->tag = str(cfg, "tag");
                d->id = str(cfg, "id");
                d->name = str(cfg, "name");
                d->image_name = str(cfg, "image_name");
                d->image_id = str(cfg, "image_id");
                d->command = str(cfg, "command");
                d->created = str(cfg, "created");
                d->journal = str(cfg, "journal_socket");
                d->non_blocking = json_is_true(json_object_get(cfg, "non_blocking"));
                d->max_buffer = (size_t) json_integer_value(json_object_get(cfg, "max_buffer"));
                if (gethostname(d->hostname, sizeof(d->hostname) - 1) < 0)
                        strcpy(d->hostname, "localhost");
                d->buf_size = 6 * LOG_LINE_MAX_BYTES + 8192;
                d->buf = malloc(d->buf_size);
                if (!d->buf) {
                        r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        goto fail;
                }
                if ((r = ops->open(d, err)) < 0) {
                        berr_wrap(err, "failed to initialize logging driver");
                        goto fail;
                }
        }
        *ret = o;
        return 0;
fail:
        log_out_close(o);
        return r < 0 ? r : -1;
}

static int emit(struct log_out *o, enum log_stream s, const char *data, size_t len, struct berr *err) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int r = 0;
        if (o->file)
                r = log_writer_write(o->file, s, data, len, &ts, err);
        if (o->drv) {
                bool nl = len && data[len - 1] == '\n';
                struct log_msg m = { s, data, nl ? len - 1 : len, !nl, ts };
                struct berr e = { 0 };
                if (o->drv->ops->write(o->drv, &m, &e) < 0) {
                        fprintf(stderr, "log driver %s: %s\n", o->drv->ops->name, e.msg); /* shim.log */
                        if (r == 0)
                                r = berr_set(err, e.kind, e.errnum, "%s", e.msg);
                }
        }
        return r;
}

int log_out_feed(struct log_out *o, enum log_stream s, const char *data, size_t len, struct berr *err) {
        int res = 0;
        while (len > 0) {
                const char *nl = memchr(data, '\n', len);
                size_t take = nl ? (size_t) (nl - data) + 1 : len;
                size_t room = LOG_LINE_MAX_BYTES - o->n_pending[s];
                if (take > room)
                        take = room;
                memcpy(o->pending[s] + o->n_pending[s], data, take);
                o->n_pending[s] += take;
                data += take;
                len -= take;
                if (o->pending[s][o->n_pending[s] - 1] == '\n' || o->n_pending[s] == LOG_LINE_MAX_BYTES) {
                        int r = emit(o, s, o->pending[s], o->n_pending[s], err);
                        o->n_pending[s] = 0;
                        if (r < 0)
                                res = r; /* the rest still goes out */
                }
        }
        return res;
}

int log_out_flush(struct log_out *o, struct berr *err) {
        int res = 0;
        for (int s = 0; s < _LOG_STREAM_MAX; s++)
                if (o->n_pending[s]) {
                        int r = emit(o, s, o->pending[s], o->n_pending[s], err);
                        o->n_pending[s] = 0;
                        if (r < 0)
                                res = r;
                }
        if (o->drv && o->drv->n_pend) { /* what a slow receiver still owes: a last chance */
                o->drv->non_blocking = false;
                (void) send_all(o->drv, o->drv->pend, o->drv->n_pend);
                o->drv->n_pend = 0;
        }
        return res;
}

struct log_out *log_out_close(struct log_out *o) {
        if (!o)
                return NULL;
        log_writer_close(o->file);
        driver_free(o->drv);
        free(o);
        return NULL;
}
