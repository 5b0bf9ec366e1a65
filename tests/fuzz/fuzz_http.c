/* fuzz_http.c - raw bytes on the API socket, as a client sends them: libmicrohttpd parses
 * the request line, headers and chunked framing, and berth's server glue (server.c: the
 * version prefix, the route table, Content-Length checks, bodies gathered to a bound or
 * streamed to a handler thread, errors decided before the body is drained) and its query
 * and header helpers (booleans, integers, filters, repeated values) see what it made of
 * them. One API server runs for the whole fuzzing process; each input is one connection
 * that sends the input, closes its sending side and reads the answer to the end. */
#include <errno.h>
#include <poll.h>
#include <sanitizer/allocator_interface.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/http.h"
#include "fuzz.h"

static int h_query(struct api_request *req, struct berr *err) {
        bool b;
        int64_t n;
        json_t *filters = NULL;
        const char *vals[8];
        int r;
        if ((r = api_query_bool(req, "all", false, &b, err)) < 0 || (r = api_query_int(req, "n", -1, &n, err)) < 0 ||
            (r = api_query_filters(req, NULL, &filters, err)) < 0)
                return r;
        size_t nv = api_query_values(req, "x", vals, 8);
        const char *auth = api_header(req, "X-Registry-Auth");
        json_t *o = json_pack("{s:b,s:I,s:o,s:I,s:b,s:s?}", "all", b, "n", (json_int_t) n, "filters", filters, "nx",
                              (json_int_t) nv, "auth", auth != NULL, "param", req->params[0]);
        return api_reply_json(req, 200, o);
}

static int h_body(struct api_request *req, struct berr *err) {
        json_t *body = NULL;
        int r = api_body_json(req, &body, err);
        if (r < 0)
                return r;
        return api_reply_json(req, 201, body);
}

static int h_stream(struct api_request *req, struct berr *err) {
        char buf[4096];
        size_t total = 0;
        ssize_t n;
        while ((n = read(req->body_fd, buf, sizeof(buf))) > 0)
                total += (size_t) n;
        return api_reply_json(req, 200, json_pack("{s:I,s:b}", "bytes", (json_int_t) total, "complete",
                                                  api_body_complete(req)));
}

static int h_ping(struct api_request *req, struct berr *err) {
        return api_reply_data(req, 200, "text/plain", "OK", 2);
}

static const struct api_route routes[] = {
        { "GET", "/_ping", h_ping, 0 },
        { "HEAD", "/_ping", h_ping, 0 },
        { "GET", "/things/{id}/json", h_query, 0 },
        { "GET", "/things/json", h_query, 0 },
        { "POST", "/things/create", h_body, 4096 },
        { "PUT", "/things/{id}/archive", h_stream, API_BODY_STREAM },
};

static char sock_path[108];

/* Blocks allocated and not yet freed, in every thread. The server frees a connection's
 * state in its own threads after the client has seen the answer end; an input that returns
 * before that looks to libFuzzer like one that leaked (more mallocs than frees), and each
 * such input costs a full leak scan of the process (two thirds of the run time). So each
 * input waits, briefly and boundedly, until the server has freed what it allocated; a
 * real leak still shows (the count never comes back) and is still checked by libFuzzer. */
static atomic_long live_blocks;

static void on_malloc(const volatile void *p, size_t n) {
        (void) p, (void) n;
        atomic_fetch_add_explicit(&live_blocks, 1, memory_order_relaxed);
}

static void on_free(const volatile void *p) {
        (void) p;
        atomic_fetch_sub_explicit(&live_blocks, 1, memory_order_relaxed);
}

static void start_server(void) {
        snprintf(sock_path, sizeof(sock_path), "%s/fuzz-http-%d.sock", fuzz_tmpdir(), (int) getpid());
        unlink(sock_path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
        if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(fd, 64) < 0)
                abort();
        struct api_server_config cfg = {
                .routes = routes,
                .n_routes = sizeof(routes) / sizeof(routes[0]),
                .max_body_bytes = 4096,
                .server_header = "berth-fuzz",
                .max_connections = 64,
                .header_timeout_ms = 2000,
        };
        struct api_server *srv;
        struct berr err = { 0 };
        if (api_server_start(&cfg, &fd, 1, &srv, &err) < 0)
                abort();
        /* It serves until the process ends. */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static bool started;
        if (!started) {
                __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
                start_server();
                started = true;
        }
        long live_before = atomic_load(&live_blocks);
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
        if (s < 0 || connect(s, (struct sockaddr *) &a, sizeof(a)) < 0)
                abort(); /* the server must keep accepting */
        size_t off = 0;
        char buf[65536];
        /* Send while reading, so a large answer cannot block both sides. */
        while (off < size) {
                struct pollfd p = { .fd = s, .events = POLLOUT | POLLIN };
                if (poll(&p, 1, -1) < 0) {
                        if (errno == EINTR)
                                continue; /* libFuzzer's timeout timer (SIGALRM) */
                        abort(); /* a server that stops reading and writing: libFuzzer's -timeout */
                }
                if (p.revents & POLLIN) {
                        ssize_t n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
                        if (n <= 0)
                                break; /* it answered and closed */
                }
                if (p.revents & POLLOUT) {
                        ssize_t n = send(s, data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
                        if (n < 0)
                                break; /* it closed: what it had was enough to refuse */
                        off += (size_t) n;
                }
                if (p.revents & (POLLHUP | POLLERR))
                        break;
        }
        (void) shutdown(s, SHUT_WR);
        for (;;) {
                /* No limit of our own: a server that neither answers nor closes is a hang,
                 * which libFuzzer's -timeout reports with the input. (A 5 s limit here
                 * fired on a busy machine where a niced run got no CPU for that long; the
                 * input passed on its own.) */
                struct pollfd p = { .fd = s, .events = POLLIN };
                if (poll(&p, 1, -1) < 0) {
                        if (errno == EINTR)
                                continue; /* libFuzzer's timeout timer (SIGALRM) */
                        abort();
                }
                ssize_t n = recv(s, buf, sizeof(buf), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
        }
        close(s);
        for (int i = 0; i < 2000 && atomic_load(&live_blocks) > live_before; i++)
                usleep(50); /* at most ~0.1 s: then libFuzzer's own leak check decides */
        return 0;
}
