/* http.c - the plugin client's HTTP/1.1: one POST per connection ("Connection: close"),
 * on a unix socket or TCP, the answer read whole up to PLUGIN_MAX_RESPONSE and framed by
 * Content-Length, chunked encoding or the end of the connection. Hand-written rather than
 * libcurl: a plugin call is one small request on a local socket, and libcurl (loaded on
 * first use, ~4 MB) would double the cost of an authorization check on every API call. */
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "plugin.h"
#include "plugin_int.h"

#define ACCEPT "application/vnd.docker.plugins.v1.2+json"

static long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before @deadline (-1: none), for poll(2). */
static int left_ms(long long deadline) {
        if (deadline < 0)
                return -1;
        long long l = deadline - now_ms();
        return l < 0 ? 0 : l > 1000000000 ? 1000000000 : (int) l;
}

static int wait_fd(int fd, short events, long long deadline) {
        struct pollfd p = { .fd = fd, .events = events };
        for (;;) {
                int n = poll(&p, 1, left_ms(deadline));
                if (n > 0)
                        return 0;
                if (n == 0)
                        return -ETIMEDOUT;
                if (errno != EINTR)
                        return -errno;
        }
}

/* Connect to @addr; *@ret_hostport gets what the Host header names. */
static int dial(const char *addr, long long deadline, char *hostport, size_t hp_size, struct berr *err) {
        if (strncmp(addr, "unix://", 7) == 0) {
                const char *path = addr + 7;
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                if (strlen(path) >= sizeof(sa.sun_path))
                        return berr_set(err, BERR_INVALID, ENAMETOOLONG, "dial unix %s: socket path too long", path);
                memcpy(sa.sun_path, path, strlen(path) + 1);
                /* Non-blocking, so a plugin that stopped accepting (its backlog full)
                 * costs no more than @deadline: a unix connect then fails with EAGAIN at
                 * once and nothing can be polled for, so it is tried again a while later. */
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0)
                        return berr_sys(err, BERR_INTERNAL, "socket");
                int r;
                for (int pause_ms = 5;; pause_ms = pause_ms < 100 ? pause_ms * 2 : 100) {
                        r = connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ? -errno : 0;
                        if (r == -EINPROGRESS) {
                                r = wait_fd(fd, POLLOUT, deadline);
                                int soerr = 0;
                                socklen_t sl = sizeof(soerr);
                                if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
                                        r = -soerr;
                        }
                        if (r != -EAGAIN && r != -EINTR)
                                break;
                        int left = left_ms(deadline);
                        if (left == 0) {
                                r = -ETIMEDOUT;
                                break;
                        }
                        (void) poll(NULL, 0, left < 0 || left > pause_ms ? pause_ms : left);
                }
                if (r < 0) {
                        close(fd);
                        errno = -r;
                        return berr_sys(err, BERR_UNAVAILABLE, "dial unix %s: connect", path);
                }
                int fl = fcntl(fd, F_GETFL);
                if (fl >= 0)
                        (void) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
                snprintf(hostport, hp_size, "plugin");
                return fd;
        }
        const char *rest = NULL;
        if (strncmp(addr, "tcp://", 6) == 0)
                rest = addr + 6;
        else if (strncmp(addr, "http://", 7) == 0)
                rest = addr + 7;
        else if (strncmp(addr, "https://", 8) == 0)
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP,
                                "%s: plugins over https are not supported by berth (use unix:// or tcp://)", addr);
        else
                return berr_set(err, BERR_INVALID, EINVAL, "%s: unknown protocol", addr);
        char hp[512];
        snprintf(hp, sizeof(hp), "%.*s", (int) strcspn(rest, "/"), rest);
        snprintf(hostport, hp_size, "%s", hp);
        char *host = hp, *port = NULL;
        if (host[0] == '[') { /* [::1]:port */
                char *close_br = strchr(host, ']');
                if (!close_br)
                        return berr_set(err, BERR_INVALID, EINVAL, "%s: bad address", addr);
                *close_br = '\0';
                host++;
                port = close_br[1] == ':' ? close_br + 2 : NULL;
        } else {
                char *colon = strrchr(host, ':');
                if (colon) {
                        *colon = '\0';
                        port = colon + 1;
                }
        }
        if (!port || !*port)
                port = "80";
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
        int g = getaddrinfo(host, port, &hints, &ai);
        if (g != 0)
                return berr_set(err, BERR_UNAVAILABLE, EHOSTUNREACH, "dial tcp %s: %s", hostport, gai_strerror(g));
        int fd = -1, e = ECONNREFUSED;
        for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
                fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0) {
                        e = errno;
                        continue;
                }
                if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
                        int r = errno == EINPROGRESS ? wait_fd(fd, POLLOUT, deadline) : -errno;
                        int soerr = 0;
                        socklen_t sl = sizeof(soerr);
                        if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
                                r = -soerr;
                        if (r < 0) {
                                e = -r;
                                close(fd);
                                fd = -1;
                                continue;
                        }
                }
                int fl = fcntl(fd, F_GETFL);
                if (fl >= 0)
                        (void) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        }
        freeaddrinfo(ai);
        if (fd < 0) {
                errno = e;
                return berr_sys(err, BERR_UNAVAILABLE, "dial tcp %s: connect", hostport);
        }
        return fd;
}

static int send_all(int fd, const char *p, size_t n, long long deadline) {
        while (n > 0) {
                int r = wait_fd(fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                p += w;
                n -= (size_t) w;
        }
        return 0;
}

static const char *find_header(char *head, const char *name) {
        size_t nl = strlen(name);
        for (char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
                char *l = line + 2;
                if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
                        l += nl + 1;
                        while (*l == ' ' || *l == '\t')
                                l++;
                        return l;
                }
        }
        return NULL;
}

/* De-chunk @p..@end in place into @out; *@ret_len: the decoded length. */
static int dechunk(char *p, char *end, size_t *ret_len) {
        char *out = p;
        size_t total = 0;
        for (;;) {
                char *eol = memmem(p, (size_t) (end - p), "\r\n", 2);
                if (!eol)
                        return -EPROTO;
                errno = 0;
                char *stop;
                unsigned long long n = strtoull(p, &stop, 16);
                if (errno || stop == p || n > (unsigned long long) (end - eol))
                        return -EPROTO;
                p = eol + 2;
                if (n == 0)
                        break;
                if ((size_t) (end - p) < n + 2)
                        return -EPROTO;
                memmove(out + total, p, n);
                total += n;
                p += n + 2;
        }
        out[total] = '\0';
        *ret_len = total;
        return 0;
}

int plugin_http_parse_response(char *buf, size_t len, int *ret_status, char **ret_body, size_t *ret_body_len,
                               struct berr *err) {
        char *end_head = memmem(buf, len, "\r\n\r\n", 4);
        if (!end_head || len < 12 || strncmp(buf, "HTTP/1.", 7) != 0)
                return berr_set(err, BERR_INTERNAL, EPROTO, "malformed HTTP response");
        *end_head = '\0';
        char *body = end_head + 4;
        char *end = buf + len;
        int status = 0;
        for (int i = 9; i < 12; i++) {
                if (buf[i] < '0' || buf[i] > '9')
                        return berr_set(err, BERR_INTERNAL, EPROTO, "malformed HTTP status line");
                status = status * 10 + (buf[i] - '0');
        }
        if (buf[8] != ' ')
                return berr_set(err, BERR_INTERNAL, EPROTO, "malformed HTTP status line");
        size_t body_len = (size_t) (end - body);
        const char *te = find_header(buf, "Transfer-Encoding");
        const char *cl = find_header(buf, "Content-Length");
        if (te && strncasecmp(te, "chunked", 7) == 0) {
                if (dechunk(body, end, &body_len) < 0)
                        return berr_set(err, BERR_INTERNAL, EPROTO, "malformed chunked HTTP body");
        } else if (cl) {
                errno = 0;
                char *stop;
                unsigned long long n = strtoull(cl, &stop, 10);
                if (errno || stop == cl || n > body_len)
                        return berr_set(err, BERR_INTERNAL, EPROTO, "HTTP body shorter than its Content-Length");
                body_len = (size_t) n;
                body[body_len] = '\0';
        } else
                *end = '\0';
        *ret_status = status;
        *ret_body = body;
        *ret_body_len = body_len;
        return 0;
}

/* Whether @buf holds a whole response already (so a plugin that keeps the connection
 * open despite "Connection: close" is not waited for). */
static bool response_complete(const char *buf, size_t len) {
        const char *eh = memmem(buf, len, "\r\n\r\n", 4);
        if (!eh)
                return false;
        size_t head_len = (size_t) (eh - buf) + 4;
        char head[8192];
        if (head_len >= sizeof(head))
                return false;
        memcpy(head, buf, head_len);
        head[head_len] = '\0';
        const char *te = find_header(head, "Transfer-Encoding");
        if (te && strncasecmp(te, "chunked", 7) == 0)
                return len >= head_len + 5 && memcmp(buf + len - 5, "0\r\n\r\n", 5) == 0;
        const char *cl = find_header(head, "Content-Length");
        return cl && len - head_len >= strtoull(cl, NULL, 10);
}

/* One request on @fd and its answer read whole. @keep_alive asks the plugin to keep the
 * connection; *@ret_reusable says whether it may be used again (HTTP/1.1, framed, no
 * "Connection: close"); *@ret_got_any whether any byte of an answer came. */
static int exchange(int fd, const char *hostport, const char *path, const char *body, size_t body_len, long long deadline,
                    bool keep_alive, int *ret_status, char **ret_body, size_t *ret_len, bool *ret_reusable,
                    bool *ret_got_any, struct berr *err) {
        *ret_reusable = *ret_got_any = false;
        char head[1024];
        int hn = snprintf(head, sizeof(head),
                          "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: berth\r\nAccept: " ACCEPT
                          "\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
                          path, hostport, body_len, keep_alive ? "" : "Connection: close\r\n");
        if (hn < 0 || (size_t) hn >= sizeof(head))
                return berr_set(err, BERR_INVALID, E2BIG, "plugin method name too long");
        int r = send_all(fd, head, (size_t) hn, deadline);
        if (r == 0 && body_len)
                r = send_all(fd, body, body_len, deadline);
        if (r < 0) {
                errno = -r;
                return berr_sys(err, BERR_INTERNAL, "Post \"http://%s%s\"", hostport, path);
        }
        size_t cap = 8192, len = 0;
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (!buf)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        bool complete = false;
        for (;;) {
                if (len == cap) {
                        if (cap >= PLUGIN_MAX_RESPONSE)
                                return berr_set(err, BERR_INTERNAL, EFBIG, "%s: plugin answer larger than %u bytes",
                                                path, PLUGIN_MAX_RESPONSE);
                        cap = cap * 2 > PLUGIN_MAX_RESPONSE ? PLUGIN_MAX_RESPONSE : cap * 2;
                        char *nb = realloc(buf, cap + 1);
                        if (!nb)
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        buf = nb;
                }
                r = wait_fd(fd, POLLIN, deadline);
                if (r < 0) {
                        errno = -r;
                        return berr_sys(err, BERR_INTERNAL, "Post \"http://%s%s\"", hostport, path);
                }
                ssize_t n = recv(fd, buf + len, cap - len, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return berr_sys(err, BERR_INTERNAL, "Post \"http://%s%s\"", hostport, path);
                }
                if (n == 0)
                        break;
                *ret_got_any = true;
                len += (size_t) n;
                if (response_complete(buf, len)) {
                        complete = true;
                        break;
                }
        }
        if (len == 0)
                return berr_set(err, BERR_INTERNAL, EPIPE, "Post \"http://%s%s\": EOF", hostport, path);
        buf[len] = '\0';
        char *eh = strstr(buf, "\r\n\r\n");
        if (keep_alive && complete && eh && strncmp(buf, "HTTP/1.1", 8) == 0) {
                *eh = '\0';
                const char *conn = find_header(buf, "Connection");
                *ret_reusable = !conn || strncasecmp(conn, "close", 5) != 0;
                *eh = '\r';
        }
        char *b;
        size_t bl;
        r = plugin_http_parse_response(buf, len, ret_status, &b, &bl, err);
        if (r < 0) {
                *ret_reusable = false;
                return r;
        }
        char *copy = malloc(bl + 1);
        if (!copy)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        memcpy(copy, b, bl);
        copy[bl] = '\0';
        *ret_body = copy;
        *ret_len = bl;
        return 0;
}

int plugin_http_post(const char *addr, const char *path, const char *body, size_t body_len, long timeout_ms,
                     int *ret_status, char **ret_body, size_t *ret_len, bool *ret_sent, struct berr *err) {
        *ret_sent = false;
        long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : -1;
        char hostport[512];
        _cleanup_close_ int fd = dial(addr, deadline, hostport, sizeof(hostport), err);
        if (fd < 0)
                return fd;
        *ret_sent = true;
        bool reusable, got_any;
        return exchange(fd, hostport, path, body, body_len, deadline, false, ret_status, ret_body, ret_len, &reusable,
                        &got_any, err);
}

/* ---- kept-alive connections: an authorization check per API call should not cost a
 * connect and, for the plugin, a new connection each time ---- */

#define POOL_MAX 8

struct plugin_pool {
        pthread_mutex_t lock;
        int fds[POOL_MAX];
        size_t n;
        char hostport[512];
};

struct plugin_pool *plugin_pool_new(void) {
        struct plugin_pool *p = calloc(1, sizeof(*p));
        if (p)
                pthread_mutex_init(&p->lock, NULL);
        return p;
}

void plugin_pool_free(struct plugin_pool *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n; i++)
                close(p->fds[i]);
        pthread_mutex_destroy(&p->lock);
        free(p);
}

/* An idle connection the plugin has not closed meanwhile, or -1. */
static int pool_take(struct plugin_pool *p) {
        pthread_mutex_lock(&p->lock);
        int fd = -1;
        while (fd < 0 && p->n > 0) {
                fd = p->fds[--p->n];
                struct pollfd pf = { .fd = fd, .events = POLLIN | POLLRDHUP };
                if (poll(&pf, 1, 0) != 0) { /* EOF or unasked bytes: not usable */
                        close(fd);
                        fd = -1;
                }
        }
        pthread_mutex_unlock(&p->lock);
        return fd;
}

static void pool_give(struct plugin_pool *p, int fd) {
        pthread_mutex_lock(&p->lock);
        if (p->n < POOL_MAX)
                p->fds[p->n++] = fd;
        else
                close(fd);
        pthread_mutex_unlock(&p->lock);
}

int plugin_http_post_pooled(struct plugin_pool *pool, const char *addr, const char *path, const char *body,
                            size_t body_len, long timeout_ms, int *ret_status, char **ret_body, size_t *ret_len,
                            bool *ret_sent, struct berr *err) {
        *ret_sent = false;
        long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : -1;
        for (int attempt = 0; attempt < 2; attempt++) {
                char hostport[512];
                int fd = pool_take(pool);
                bool reused = fd >= 0;
                if (reused) {
                        pthread_mutex_lock(&pool->lock);
                        snprintf(hostport, sizeof(hostport), "%s", pool->hostport);
                        pthread_mutex_unlock(&pool->lock);
                } else {
                        fd = dial(addr, deadline, hostport, sizeof(hostport), err);
                        if (fd < 0)
                                return fd;
                        pthread_mutex_lock(&pool->lock);
                        snprintf(pool->hostport, sizeof(pool->hostport), "%s", hostport);
                        pthread_mutex_unlock(&pool->lock);
                }
                *ret_sent = true;
                bool reusable, got_any;
                int r = exchange(fd, hostport, path, body, body_len, deadline, true, ret_status, ret_body, ret_len,
                                 &reusable, &got_any, err);
                if (r == 0 && reusable)
                        pool_give(pool, fd);
                else
                        close(fd);
                /* A kept connection the plugin closed just as it was used: nothing of an
                 * answer came, so the request was not taken; once more on a new one. Not
                 * on a timeout: the plugin may be working on it. */
                if (r < 0 && reused && !got_any &&
                    (r == -EPIPE || r == -ECONNRESET || r == -ECONNABORTED))
                        continue;
                return r;
        }
        return -EIO; /* not reached: the second attempt is on a new connection */
}

/* ---- streamed answers (LogDriver.ReadLogs) ---- */

struct plugin_stream {
        int fd;
        bool chunked, eof;
        unsigned long long chunk_left; /* bytes of the current chunk still to come */
        bool need_crlf;                 /* a chunk's data ended: its "\r\n" comes next */
        char buf[16384];
        size_t len, pos; /* raw bytes read, not handed out yet */
};

/* More raw bytes into s->buf (what was consumed is dropped first). */
static int fill(struct plugin_stream *s, int timeout_ms) {
        if (s->pos > 0) {
                memmove(s->buf, s->buf + s->pos, s->len - s->pos);
                s->len -= s->pos;
                s->pos = 0;
        }
        if (s->len == sizeof(s->buf))
                return -EPROTO;
        struct pollfd p = { .fd = s->fd, .events = POLLIN };
        int n = poll(&p, 1, timeout_ms);
        if (n == 0)
                return -ETIMEDOUT;
        if (n < 0)
                return errno == EINTR ? -ETIMEDOUT : -errno;
        ssize_t r = recv(s->fd, s->buf + s->len, sizeof(s->buf) - s->len, MSG_DONTWAIT);
        if (r < 0)
                return errno == EAGAIN || errno == EINTR ? -ETIMEDOUT : -errno;
        if (r == 0) {
                s->eof = true;
                return 0;
        }
        s->len += (size_t) r;
        return 1;
}

int plugin_stream_open(struct plugin *p, const char *method, json_t *args, struct plugin_stream **ret, struct berr *err) {
        _cleanup_free_ char *body = args ? json_dumps(args, JSON_COMPACT) : NULL;
        char hostport[512], path[512];
        if (fs_path_fmt(path, sizeof(path), "/%s", method) < 0)
                return berr_set(err, BERR_INVALID, E2BIG, "plugin method name too long");
        long long deadline = now_ms() + 60000;
        _cleanup_close_ int fd = dial(plugin_addr(p), deadline, hostport, sizeof(hostport), err);
        if (fd < 0)
                return fd;
        char head[1024];
        size_t blen = body ? strlen(body) : 0;
        int hn = snprintf(head, sizeof(head),
                          "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: berth\r\nAccept: " ACCEPT
                          "\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                          path, hostport, blen);
        int r = hn > 0 && (size_t) hn < sizeof(head) ? send_all(fd, head, (size_t) hn, deadline) : -E2BIG;
        if (r == 0 && blen)
                r = send_all(fd, body, blen, deadline);
        if (r < 0) {
                errno = -r;
                return berr_sys(err, BERR_INTERNAL, "Post \"http://%s%s\"", hostport, path);
        }
        struct plugin_stream *s = calloc(1, sizeof(*s));
        if (!s)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        s->fd = TAKE_FD(fd);
        char *eh;
        while (!(eh = memmem(s->buf, s->len, "\r\n\r\n", 4))) {
                r = s->eof ? -EPROTO : fill(s, left_ms(deadline));
                if (r < 0) {
                        plugin_stream_close(s);
                        errno = -r;
                        return berr_sys(err, BERR_INTERNAL, "%s: reading the plugin's answer", method);
                }
        }
        size_t head_len = (size_t) (eh - s->buf) + 4;
        char hdr[sizeof(s->buf) + 1];
        memcpy(hdr, s->buf, head_len);
        hdr[head_len - 2] = '\0';
        int status = strncmp(hdr, "HTTP/1.", 7) == 0 && strlen(hdr) > 12 ? atoi(hdr + 9) : 0;
        const char *te = find_header(hdr, "Transfer-Encoding");
        s->chunked = te && strncasecmp(te, "chunked", 7) == 0;
        s->pos = head_len;
        if (status != 200) {
                /* an error answer is small: read it whole for its "Err" */
                char msg[600] = "";
                size_t n = 0;
                while (!s->eof && n < sizeof(msg) - 1) {
                        ssize_t k = plugin_stream_read(s, msg + n, sizeof(msg) - 1 - n, 5000);
                        if (k <= 0)
                                break;
                        n += (size_t) k;
                }
                msg[n] = '\0';
                plugin_stream_close(s);
                _cleanup_json_ json_t *o = json_loads(msg, 0, NULL);
                const char *e = json_string_value(json_object_get(o, "Err"));
                return berr_set(err, BERR_INTERNAL, EIO, "%s: %s", method, e && *e ? e : msg);
        }
        *ret = s;
        return 0;
}

ssize_t plugin_stream_read(struct plugin_stream *s, void *out, size_t max, int timeout_ms) {
        for (;;) {
                size_t avail = s->len - s->pos;
                if (!s->chunked) {
                        if (avail) {
                                size_t n = avail < max ? avail : max;
                                memcpy(out, s->buf + s->pos, n);
                                s->pos += n;
                                return (ssize_t) n;
                        }
                } else if (s->chunk_left && avail) {
                        size_t n = avail < max ? avail : max;
                        if (n > s->chunk_left)
                                n = (size_t) s->chunk_left;
                        memcpy(out, s->buf + s->pos, n);
                        s->pos += n;
                        s->chunk_left -= n;
                        s->need_crlf = s->chunk_left == 0;
                        return (ssize_t) n;
                } else if (!s->chunk_left) {
                        const char *b = s->buf + s->pos;
                        if (s->need_crlf && avail >= 2) {
                                if (b[0] != '\r' || b[1] != '\n')
                                        return -EPROTO;
                                s->pos += 2;
                                s->need_crlf = false;
                                continue;
                        }
                        const char *eol = s->need_crlf ? NULL : memmem(b, avail, "\r\n", 2);
                        if (eol) {
                                char *stop;
                                errno = 0;
                                unsigned long long n = strtoull(b, &stop, 16);
                                if (errno || stop == b)
                                        return -EPROTO;
                                s->pos += (size_t) (eol - b) + 2;
                                if (n == 0) {
                                        s->eof = true;
                                        return 0;
                                }
                                s->chunk_left = n;
                                continue;
                        }
                }
                if (s->eof)
                        return 0;
                int r = fill(s, timeout_ms);
                if (r < 0)
                        return r;
        }
}

void plugin_stream_close(struct plugin_stream *s) {
        if (!s)
                return;
        if (s->fd >= 0)
                close(s->fd);
        free(s);
}
