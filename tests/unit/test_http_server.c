/* Tests of the HTTP layer over a real unix socket: common headers, JSON errors, body
 * bounds, query decoding, chunked streaming and connection upgrade. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <signal.h>

#include "api/http.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"

static char sock_path[108];
static struct api_server *srv;
/* A second server with small limits, for the connection limit and header deadline. */
#define TIGHT_MAX_CONNECTIONS 4
#define TIGHT_HEADER_TIMEOUT_MS 400
static char tight_path[108];
/* a server with an authorization middleware that allows everything */
static struct api_server *authzsrv;
static char authz_path[108];
static struct api_server *tight;

/* --- handlers under test --- */

static int h_hello(struct api_request *req, struct berr *err) {
        return api_reply_json(req, 200, json_pack("{s:s, s:i}", "hello", req->params[0] ? req->params[0] : "", "v",
                                                  (int) req->version));
}

static int h_echo_body(struct api_request *req, struct berr *err) {
        _cleanup_json_ json_t *body = NULL;
        int r = api_body_json(req, &body, err);
        if (r < 0)
                return r;
        const char *name = NULL;
        r = json_get_string(body, "Name", &name, err);
        if (r < 0)
                return r;
        bool all;
        r = api_query_bool(req, "all", false, &all, err);
        if (r < 0)
                return r;
        return api_reply_json(req, 201, json_pack("{s:s, s:b}", "Name", name ? name : "", "all", all));
}

static int h_fail(struct api_request *req, struct berr *err) {
        return berr_set(err, BERR_CONFLICT, EEXIST, "name \"x\" is already in use");
}

/* The stream gives three chunks; the second waits until the test releases it, to show
 * that headers and the first chunk arrive before the handler has finished. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open;
static int stream_freed;

static ssize_t stream_read(void *ctx, char *buf, size_t max) {
        int *n = ctx;
        (*n)++;
        if (*n == 2) {
                pthread_mutex_lock(&gate_lock);
                while (!gate_open)
                        pthread_cond_wait(&gate_cond, &gate_lock);
                pthread_mutex_unlock(&gate_lock);
        }
        if (*n > 3)
                return 0;
        return snprintf(buf, max, "{\"part\":%d}\n", *n);
}

static void stream_free(void *ctx) {
        free(ctx);
        __atomic_store_n(&stream_freed, 1, __ATOMIC_SEQ_CST);
}

static int h_stream(struct api_request *req, struct berr *err) {
        int *n = calloc(1, sizeof(int));
        return api_reply_stream(req, 200, "application/json", stream_read, stream_free, n);
}

/* Upgrade: echo what the client sends, upper-cased, until it half-closes, then say bye. */
static void upgrade_run(void *ctx, int fd, const char *extra, size_t extra_len) {
        char buf[256];
        if (extra_len)
                (void) !write(fd, extra, extra_len);
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n <= 0)
                        break;
                for (ssize_t i = 0; i < n; i++)
                        if (buf[i] >= 'a' && buf[i] <= 'z')
                                buf[i] -= 32;
                (void) !write(fd, buf, (size_t) n);
        }
        (void) !write(fd, "bye", 3);
}

static int h_upgrade(struct api_request *req, struct berr *err) {
        return api_reply_upgrade(req, "application/vnd.docker.raw-stream", upgrade_run, NULL, NULL);
}

/* Streamed upload: count the bytes read from body_fd (optionally stopping after @stop_after
 * with an error), report whether the whole body came and the repeated query values. */
static int upload_done;
static int upload_complete = -1;
static size_t upload_bytes;

static int read_upload(struct api_request *req, size_t stop_after, size_t *ret_n) {
        char buf[65536];
        size_t total = 0;
        for (;;) {
                size_t want = sizeof(buf);
                if (stop_after && stop_after - total < want)
                        want = stop_after - total;
                if (want == 0)
                        break;
                ssize_t n = read(req->body_fd, buf, want);
                if (n < 0)
                        return -1;
                if (n == 0)
                        break;
                total += (size_t) n;
        }
        *ret_n = total;
        return 0;
}

static int h_upload(struct api_request *req, struct berr *err) {
        size_t n = 0;
        assert_int_equal(read_upload(req, 0, &n), 0);
        bool complete = api_body_complete(req);
        const char *names[4];
        size_t n_names = api_query_values(req, "names", names, 4);
        json_t *jn = json_array();
        for (size_t i = 0; i < n_names && i < 4; i++)
                json_array_append_new(jn, json_string(names[i]));
        __atomic_store_n(&upload_bytes, n, __ATOMIC_SEQ_CST);
        __atomic_store_n(&upload_complete, complete ? 1 : 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&upload_done, 1, __ATOMIC_SEQ_CST);
        const char *ct = api_header(req, "content-type");
        return api_reply_json(req, 200, json_pack("{s:I, s:b, s:o, s:s}", "bytes", (json_int_t) n, "complete",
                                                  complete, "names", jn, "type", ct ? ct : ""));
}

static int h_upload_early(struct api_request *req, struct berr *err) {
        size_t n = 0;
        assert_int_equal(read_upload(req, 10, &n), 0);
        return berr_set(err, BERR_INVALID, EINVAL, "bad archive after %zu bytes", n);
}

/* Answers after longer than the tight server's header deadline. */
static int h_slow(struct api_request *req, struct berr *err) {
        usleep(3 * TIGHT_HEADER_TIMEOUT_MS * 1000);
        return api_reply_json(req, 200, json_pack("{s:b}", "slow", 1));
}

static const struct api_route routes[] = {
        { "GET", "/slow", h_slow, 0 },
        { "POST", "/upload", h_upload, API_BODY_STREAM },
        { "POST", "/upload-early", h_upload_early, API_BODY_STREAM },
        { "GET", "/hello/{name}", h_hello, 0 },
        { "POST", "/echo", h_echo_body, 64 },
        { "POST", "/fail", h_fail, 0 },
        { "GET", "/stream", h_stream, 0 },
        { "POST", "/upgrade", h_upgrade, 0 },
};

/* --- a tiny client --- */

static int dial_path(const char *path) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strcpy(sa.sun_path, path);
        assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return fd;
}

static int dial(void) {
        return dial_path(sock_path);
}

static void send_all(int fd, const char *s, size_t n) {
        while (n) {
                ssize_t w = write(fd, s, n);
                assert_true(w > 0);
                s += w;
                n -= (size_t) w;
        }
}

/* Read until EOF (the requests say Connection: close). */
static char *read_all(int fd) {
        size_t cap = 1 << 16, len = 0;
        char *buf = malloc(cap);
        for (;;) {
                if (len + 1 == cap)
                        buf = realloc(buf, cap *= 2);
                ssize_t n = read(fd, buf + len, cap - len - 1);
                if (n <= 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        return buf;
}

static char *roundtrip(const char *request) {
        int fd = dial();
        send_all(fd, request, strlen(request));
        char *resp = read_all(fd);
        close(fd);
        return resp;
}

static int status_of(const char *resp) {
        int st = 0;
        sscanf(resp, "HTTP/1.1 %d", &st);
        return st;
}

static const char *body_of(const char *resp) {
        const char *b = strstr(resp, "\r\n\r\n");
        return b ? b + 4 : "";
}

/* --- tests --- */

static void test_json_reply_has_docker_headers(void **s) {
        _cleanup_free_ char *r = roundtrip("GET /v1.30/hello/world HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
        assert_int_equal(status_of(r), 200);
        assert_non_null(strstr(r, "API-Version: 1.45\r\n"));
        assert_non_null(strstr(r, "OSType: linux\r\n"));
        assert_non_null(strstr(r, "Docker-Experimental: false\r\n"));
        assert_non_null(strstr(r, "Server: test\r\n"));
        assert_non_null(strstr(r, "Content-Type: application/json"));
        assert_string_equal(body_of(r), "{\"hello\":\"world\",\"v\":130}\n");
}

static void test_unknown_path_and_method(void **s) {
        _cleanup_free_ char *r = roundtrip("GET /nope HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
        assert_int_equal(status_of(r), 404);
        assert_string_equal(body_of(r), "{\"message\":\"page not found\"}\n");
        _cleanup_free_ char *r2 = roundtrip("DELETE /hello/x HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
        assert_int_equal(status_of(r2), 405);
        assert_non_null(strstr(r2, "API-Version: 1.45"));
}

static void test_handler_error_kind_maps_to_status(void **s) {
        _cleanup_free_ char *r = roundtrip(
                "POST /fail HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        assert_int_equal(status_of(r), 409);
        assert_string_equal(body_of(r), "{\"message\":\"name \\\"x\\\" is already in use\"}\n");
}

static void test_body_within_bound_and_query_bool(void **s) {
        _cleanup_free_ char *r = roundtrip("POST /echo?all=1 HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n"
                                           "Content-Length: 14\r\nConnection: close\r\n\r\n{\"Name\":\"abc\"}");
        assert_int_equal(status_of(r), 201);
        assert_string_equal(body_of(r), "{\"Name\":\"abc\",\"all\":true}\n");
        _cleanup_free_ char *r2 = roundtrip("POST /echo?all=maybe HTTP/1.1\r\nHost: d\r\nContent-Length: 14\r\nContent-Type: application/json\r\n"
                                            "Connection: close\r\n\r\n{\"Name\":\"abc\"}");
        assert_int_equal(status_of(r2), 400);
        assert_non_null(strstr(body_of(r2), "all"));
}

static void test_body_wrong_shape_is_400(void **s) {
        _cleanup_free_ char *r = roundtrip("POST /echo HTTP/1.1\r\nHost: d\r\nContent-Length: 10\r\nContent-Type: application/json\r\n"
                                           "Connection: close\r\n\r\n{\"Name\":5}");
        assert_int_equal(status_of(r), 400);
        assert_string_equal(body_of(r), "{\"message\":\"invalid type for field Name: expected string, got number\"}\n");
        _cleanup_free_ char *r2 = roundtrip("POST /echo HTTP/1.1\r\nHost: d\r\nContent-Length: 5\r\nContent-Type: application/json\r\n"
                                            "Connection: close\r\n\r\n[1,2]");
        assert_int_equal(status_of(r2), 400);
        _cleanup_free_ char *r3 = roundtrip("POST /echo HTTP/1.1\r\nHost: d\r\nContent-Length: 4\r\nContent-Type: application/json\r\n"
                                            "Connection: close\r\n\r\n{\"a\"");
        assert_int_equal(status_of(r3), 400);
        assert_non_null(strstr(body_of(r3), "invalid JSON"));
}

static void test_json_body_needs_json_content_type(void **s) {
        _cleanup_free_ char *r = roundtrip("POST /echo HTTP/1.1\r\nHost: d\r\nContent-Type: text/plain\r\n"
                                           "Content-Length: 14\r\nConnection: close\r\n\r\n{\"Name\":\"abc\"}");
        assert_int_equal(status_of(r), 400);
        assert_string_equal(body_of(r), "{\"message\":\"unsupported Content-Type header (text/plain): must be "
                                        "'application/json'\"}\n");
        _cleanup_free_ char *r2 = roundtrip("POST /echo HTTP/1.1\r\nHost: d\r\nContent-Length: 14\r\n"
                                            "Connection: close\r\n\r\n{\"Name\":\"abc\"}");
        assert_int_equal(status_of(r2), 400);
        assert_non_null(strstr(body_of(r2), "malformed Content-Type header"));
        _cleanup_free_ char *r3 = roundtrip("POST /echo HTTP/1.1\r\nHost: d\r\nContent-Type: Application/JSON; charset=utf-8\r\n"
                                            "Content-Length: 14\r\nConnection: close\r\n\r\n{\"Name\":\"abc\"}");
        assert_int_equal(status_of(r3), 201);
        _cleanup_free_ char *r4 = roundtrip("POST /echo HTTP/1.1\r\nHost: d\r\nContent-Type:   \r\n"
                                            "Content-Length: 14\r\nConnection: close\r\n\r\n{\"Name\":\"abc\"}");
        assert_int_equal(status_of(r4), 400);
}

static void test_body_over_bound_by_content_length_is_413(void **s) {
        _cleanup_free_ char *r = roundtrip("POST /echo HTTP/1.1\r\nHost: d\r\nContent-Length: 100000000\r\n"
                                           "Connection: close\r\n\r\n");
        assert_int_equal(status_of(r), 413);
        assert_non_null(strstr(body_of(r), "request body too large"));
}

static void test_chunked_body_over_bound_is_413(void **s) {
        char req[1024];
        char chunk[200];
        memset(chunk, 'x', sizeof(chunk) - 1);
        chunk[sizeof(chunk) - 1] = '\0';
        snprintf(req, sizeof(req),
                 "POST /echo HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                 "%zx\r\n%s\r\n0\r\n\r\n", strlen(chunk), chunk);
        _cleanup_free_ char *r = roundtrip(req);
        assert_int_equal(status_of(r), 413);
}

static void test_stream_sends_headers_before_body_is_done(void **s) {
        int fd = dial();
        const char *req = "GET /stream HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n";
        send_all(fd, req, strlen(req));
        /* Headers and the first chunk come while the second is still held back. */
        char buf[4096] = "";
        size_t len = 0;
        while (!strstr(buf, "{\"part\":1}")) {
                ssize_t n = read(fd, buf + len, sizeof(buf) - len - 1);
                assert_true(n > 0);
                len += (size_t) n;
                buf[len] = '\0';
        }
        assert_int_equal(status_of(buf), 200);
        assert_non_null(strstr(buf, "Transfer-Encoding: chunked"));
        assert_null(strstr(buf, "{\"part\":2}"));
        pthread_mutex_lock(&gate_lock);
        gate_open = 1;
        pthread_cond_broadcast(&gate_cond);
        pthread_mutex_unlock(&gate_lock);
        char *rest = read_all(fd);
        assert_non_null(strstr(rest, "{\"part\":2}"));
        assert_non_null(strstr(rest, "{\"part\":3}"));
        assert_non_null(strstr(rest, "\r\n0\r\n\r\n")); /* the terminating chunk */
        free(rest);
        close(fd);
        for (int i = 0; i < 200 && !__atomic_load_n(&stream_freed, __ATOMIC_SEQ_CST); i++)
                usleep(5000);
        assert_true(__atomic_load_n(&stream_freed, __ATOMIC_SEQ_CST));
}

static void test_upgrade_gives_raw_stream_with_half_close(void **s) {
        int fd = dial();
        const char *req = "POST /upgrade HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\nConnection: Upgrade\r\n"
                          "Upgrade: tcp\r\n\r\n";
        send_all(fd, req, strlen(req));
        char buf[4096] = "";
        size_t len = 0;
        while (!strstr(buf, "\r\n\r\n")) {
                ssize_t n = read(fd, buf + len, sizeof(buf) - len - 1);
                assert_true(n > 0);
                len += (size_t) n;
                buf[len] = '\0';
        }
        assert_int_equal(status_of(buf), 101);
        assert_non_null(strstr(buf, "Upgrade: tcp"));
        send_all(fd, "hello", 5);
        char got[16] = "";
        size_t g = 0;
        while (g < 5) {
                ssize_t n = read(fd, got + g, 5 - g);
                assert_true(n > 0);
                g += (size_t) n;
        }
        assert_string_equal(got, "HELLO");
        /* stdin closed: the server still writes after our half-close. */
        shutdown(fd, SHUT_WR);
        char *rest = read_all(fd);
        assert_string_equal(rest, "bye");
        free(rest);
        close(fd);
}

static void send_chunked(int fd, size_t total) {
        char chunk[65536];
        memset(chunk, 'z', sizeof(chunk));
        while (total > 0) {
                size_t n = total < sizeof(chunk) ? total : sizeof(chunk);
                char head[32];
                snprintf(head, sizeof(head), "%zx\r\n", n);
                send_all(fd, head, strlen(head));
                send_all(fd, chunk, n);
                send_all(fd, "\r\n", 2);
                total -= n;
        }
        send_all(fd, "0\r\n\r\n", 5);
}

static void test_stream_body_reaches_handler_thread_whole(void **s) {
        /* 40 MB, more than the default body bound: streamed, not gathered. */
        size_t total = 40u << 20;
        int fd = dial();
        const char *req = "POST /upload?names=a%2Fb&names=c+d HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"
                          "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        send_all(fd, req, strlen(req));
        send_chunked(fd, total);
        _cleanup_free_ char *r = read_all(fd);
        close(fd);
        assert_int_equal(status_of(r), 200);
        char want[256];
        snprintf(want, sizeof(want),
                 "{\"bytes\":%zu,\"complete\":true,\"names\":[\"a/b\",\"c d\"],\"type\":\"application/x-tar\"}\n", total);
        assert_string_equal(body_of(r), want);
        assert_non_null(strstr(r, "API-Version: 1.45"));
}

static void test_stream_body_empty_and_content_length(void **s) {
        _cleanup_free_ char *r = roundtrip("POST /upload HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        assert_int_equal(status_of(r), 200);
        assert_non_null(strstr(body_of(r), "\"bytes\":0,\"complete\":true"));
        _cleanup_free_ char *r2 = roundtrip("POST /upload HTTP/1.1\r\nHost: d\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
        assert_non_null(strstr(body_of(r2), "\"bytes\":5,\"complete\":true"));
}

static void test_stream_body_handler_stopping_early_still_answers(void **s) {
        /* The handler gives up after 10 bytes; the client, still sending 3 MB, reads its error. */
        size_t total = 3u << 20;
        int fd = dial();
        char req[256];
        snprintf(req, sizeof(req), "POST /upload-early HTTP/1.1\r\nHost: d\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                 total);
        send_all(fd, req, strlen(req));
        char chunk[65536];
        memset(chunk, 'q', sizeof(chunk));
        for (size_t left = total; left > 0;) {
                size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
                send_all(fd, chunk, n);
                left -= n;
        }
        _cleanup_free_ char *r = read_all(fd);
        close(fd);
        assert_int_equal(status_of(r), 400);
        assert_string_equal(body_of(r), "{\"message\":\"bad archive after 10 bytes\"}\n");
}

static void test_stream_body_client_going_away_is_not_complete(void **s) {
        __atomic_store_n(&upload_done, 0, __ATOMIC_SEQ_CST);
        int fd = dial();
        const char *req = "POST /upload HTTP/1.1\r\nHost: d\r\nContent-Length: 1000000\r\n\r\n";
        send_all(fd, req, strlen(req));
        send_all(fd, "partial", 7);
        usleep(50000);
        close(fd);
        for (int i = 0; i < 400 && !__atomic_load_n(&upload_done, __ATOMIC_SEQ_CST); i++)
                usleep(5000);
        assert_true(__atomic_load_n(&upload_done, __ATOMIC_SEQ_CST));
        assert_int_equal(__atomic_load_n(&upload_complete, __ATOMIC_SEQ_CST), 0);
        assert_int_equal(__atomic_load_n(&upload_bytes, __ATOMIC_SEQ_CST), 7);
        /* And the server still serves. */
        _cleanup_free_ char *r = roundtrip("GET /hello/x HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
        assert_int_equal(status_of(r), 200);
}

static void test_garbage_request_line_then_server_still_serves(void **s) {
        /* Malformed text gets 400; binary junk gets the connection closed (no hang). */
        _cleanup_free_ char *r = roundtrip("hello world\r\n\r\n");
        assert_int_equal(status_of(r), 400);
        _cleanup_free_ char *r1 = roundtrip("\x01\x02\xff\xfe garbage\r\n\r\n");
        assert_true(r1[0] == '\0' || status_of(r1) == 400);
        _cleanup_free_ char *r2 = roundtrip("GET /hello/again HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
        assert_int_equal(status_of(r2), 200);
}

/* --- connection limit and header deadline (the tight server) --- */

static long ms_since(const struct timespec *t0) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Read until EOF; the time it took, in ms. */
static long ms_until_eof(int fd, char **ret) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        char *r = read_all(fd);
        long ms = ms_since(&t0);
        if (ret)
                *ret = r;
        else
                free(r);
        return ms;
}

static char *tight_roundtrip(const char *request) {
        int fd = dial_path(tight_path);
        send_all(fd, request, strlen(request));
        char *resp = read_all(fd);
        close(fd);
        return resp;
}

static void test_idle_connection_is_shut_at_the_header_deadline(void **s) {
        int fd = dial_path(tight_path);
        _cleanup_free_ char *r = NULL;
        long ms = ms_until_eof(fd, &r);
        close(fd);
        assert_string_equal(r, ""); /* closed without an answer, as Go's server does */
        assert_true(ms >= TIGHT_HEADER_TIMEOUT_MS - 50);
        assert_true(ms < TIGHT_HEADER_TIMEOUT_MS + 1500);
}

static void test_slow_headers_do_not_reset_the_deadline(void **s) {
        /* One header line every 100 ms: never idle for long, still shut at the deadline. */
        int fd = dial_path(tight_path);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        const char *line = "GET /hello/x HTTP/1.1\r\nHost: d\r\n";
        send_all(fd, line, strlen(line));
        bool shut = false;
        for (int i = 0; i < 40 && !shut; i++) {
                usleep(100 * 1000);
                shut = send(fd, "X-A: b\r\n", strlen("X-A: b\r\n"), MSG_NOSIGNAL) < 0;
        }
        long ms = ms_since(&t0);
        char *rest = read_all(fd); /* EOF once shut */
        assert_string_equal(rest, "");
        free(rest);
        close(fd);
        assert_true(shut);
        assert_true(ms < TIGHT_HEADER_TIMEOUT_MS + 2000);
}

static void test_kept_alive_connection_is_shut_when_idle(void **s) {
        int fd = dial_path(tight_path);
        const char *req = "GET /hello/a HTTP/1.1\r\nHost: d\r\n\r\n";
        send_all(fd, req, strlen(req));
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof(buf) - 1); /* one small answer: one read */
        assert_true(n > 0);
        buf[n] = '\0';
        assert_int_equal(status_of(buf), 200);
        long ms = ms_until_eof(fd, NULL);
        close(fd);
        assert_true(ms >= TIGHT_HEADER_TIMEOUT_MS - 50);
        assert_true(ms < TIGHT_HEADER_TIMEOUT_MS + 1500);
}

static void test_requests_being_served_are_not_timed(void **s) {
        /* A handler slower than the header deadline still answers ... */
        _cleanup_free_ char *r = tight_roundtrip("GET /slow HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
        assert_int_equal(status_of(r), 200);
        /* ... and an upgraded stream quiet for longer than it lives on. */
        int fd = dial_path(tight_path);
        const char *req = "POST /upgrade HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\nConnection: Upgrade\r\n"
                          "Upgrade: tcp\r\n\r\n";
        send_all(fd, req, strlen(req));
        char buf[4096] = "";
        size_t len = 0;
        while (!strstr(buf, "\r\n\r\n")) {
                ssize_t n = read(fd, buf + len, sizeof(buf) - len - 1);
                assert_true(n > 0);
                len += (size_t) n;
                buf[len] = '\0';
        }
        assert_int_equal(status_of(buf), 101);
        usleep(3 * TIGHT_HEADER_TIMEOUT_MS * 1000);
        send_all(fd, "late", 4);
        shutdown(fd, SHUT_WR);
        char *rest = read_all(fd);
        assert_string_equal(rest, "LATEbye");
        free(rest);
        close(fd);
}

static void test_connections_past_the_limit_get_503(void **s) {
        int held[TIGHT_MAX_CONNECTIONS];
        for (int i = 0; i < TIGHT_MAX_CONNECTIONS; i++)
                held[i] = dial_path(tight_path);
        usleep(50 * 1000); /* let the server accept them all */
        _cleanup_free_ char *r = tight_roundtrip("GET /hello/x HTTP/1.1\r\nHost: d\r\n\r\n");
        assert_int_equal(status_of(r), 503);
        assert_non_null(strstr(r, "Connection: close\r\n"));
        assert_non_null(strstr(body_of(r), "\"message\":\"too many connections"));
        for (int i = 0; i < TIGHT_MAX_CONNECTIONS; i++)
                close(held[i]);
        _cleanup_free_ char *r2 = NULL;
        for (int i = 0; i < 100; i++) { /* until the server has seen the closes */
                free(r2);
                r2 = tight_roundtrip("GET /hello/y HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n");
                if (status_of(r2) == 200)
                        break;
                usleep(10 * 1000);
        }
        assert_int_equal(status_of(r2), 200);
}

static bool authz_active(void *ctx) {
        (void) ctx;
        return true;
}

static int authz_allow(void *ctx, struct api_request *req, json_t *headers, struct berr *err) {
        (void) ctx, (void) req, (void) headers, (void) err;
        return 0;
}

static int authz_allow_res(void *ctx, struct api_request *req, unsigned status, json_t *headers, const char *body,
                           size_t body_len, struct berr *err) {
        (void) ctx, (void) req, (void) status, (void) headers, (void) body, (void) body_len, (void) err;
        return 0;
}

static const struct api_authz_hooks allow_all = { authz_active, authz_allow, authz_allow_res, NULL };

/* With authorization active the request target is kept from the request line on: a
 * connection that ends before its headers are in must not leak it (LeakSanitizer in
 * make unit-san), and requests after it are served as before. */
static void test_connection_ending_after_its_request_line_leaks_nothing(void **s) {
        (void) s;
        for (int i = 0; i < 5; i++) {
                int fd = dial_path(authz_path);
                const char *part = "GET /v1.30/hello/world?i=1 HTTP/1.1\r\nHost: x\r\n";
                send_all(fd, part, strlen(part));
                usleep(50 * 1000);
                close(fd);
        }
        usleep(100 * 1000);
        int fd = dial_path(authz_path);
        const char *req = "GET /v1.30/hello/world HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        send_all(fd, req, strlen(req));
        char *resp = read_all(fd);
        close(fd);
        assert_int_equal(status_of(resp), 200);
        free(resp);
}

static int setup(void **s) {
        signal(SIGPIPE, SIG_IGN); /* as berthd does: a client gone shows as EPIPE */
        snprintf(sock_path, sizeof(sock_path), "/tmp/berth-http-test-%d.sock", (int) getpid());
        unlink(sock_path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strcpy(sa.sun_path, sock_path);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
                return -1;
        struct api_server_config cfg = { .routes = routes, .n_routes = sizeof(routes) / sizeof(routes[0]),
                                         .server_header = "test" };
        struct berr err = { 0 };
        if (api_server_start(&cfg, &fd, 1, &srv, &err) < 0)
                return -1;

        snprintf(tight_path, sizeof(tight_path), "/tmp/berth-http-test-%d-tight.sock", (int) getpid());
        unlink(tight_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        strcpy(sa.sun_path, tight_path);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
                return -1;
        cfg.max_connections = TIGHT_MAX_CONNECTIONS;
        cfg.header_timeout_ms = TIGHT_HEADER_TIMEOUT_MS;
        if (api_server_start(&cfg, &fd, 1, &tight, &err) < 0)
                return -1;

        snprintf(authz_path, sizeof(authz_path), "/tmp/berth-http-test-%d-authz.sock", (int) getpid());
        unlink(authz_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        strcpy(sa.sun_path, authz_path);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
                return -1;
        struct api_server_config acfg = { .routes = routes, .n_routes = sizeof(routes) / sizeof(routes[0]),
                                          .server_header = "test", .authz = &allow_all };
        return api_server_start(&acfg, &fd, 1, &authzsrv, &err);
}

static int teardown(void **s) {
        srv = api_server_stop(srv);
        tight = api_server_stop(tight);
        authzsrv = api_server_stop(authzsrv);
        unlink(sock_path);
        unlink(tight_path);
        unlink(authz_path);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json_reply_has_docker_headers),
                cmocka_unit_test(test_unknown_path_and_method),
                cmocka_unit_test(test_handler_error_kind_maps_to_status),
                cmocka_unit_test(test_body_within_bound_and_query_bool),
                cmocka_unit_test(test_body_wrong_shape_is_400),
                cmocka_unit_test(test_json_body_needs_json_content_type),
                cmocka_unit_test(test_body_over_bound_by_content_length_is_413),
                cmocka_unit_test(test_chunked_body_over_bound_is_413),
                cmocka_unit_test(test_stream_sends_headers_before_body_is_done),
                cmocka_unit_test(test_upgrade_gives_raw_stream_with_half_close),
                cmocka_unit_test(test_garbage_request_line_then_server_still_serves),
                cmocka_unit_test(test_stream_body_reaches_handler_thread_whole),
                cmocka_unit_test(test_stream_body_empty_and_content_length),
                cmocka_unit_test(test_stream_body_handler_stopping_early_still_answers),
                cmocka_unit_test(test_stream_body_client_going_away_is_not_complete),
                cmocka_unit_test(test_idle_connection_is_shut_at_the_header_deadline),
                cmocka_unit_test(test_slow_headers_do_not_reset_the_deadline),
                cmocka_unit_test(test_kept_alive_connection_is_shut_when_idle),
                cmocka_unit_test(test_requests_being_served_are_not_timed),
                cmocka_unit_test(test_connections_past_the_limit_get_503),
                cmocka_unit_test(test_connection_ending_after_its_request_line_leaks_nothing),
        };
        return cmocka_run_group_tests_name("http_server", tests, setup, teardown);
}
