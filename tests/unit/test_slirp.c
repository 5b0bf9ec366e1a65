/* Unit tests for slirp4netns's API client (network/slirp.c): the requests rootless berthd
 * sends for a published port, and what it makes of the answers, against a fake API
 * socket that records one request and answers as it is told. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "network/slirp.h"

struct fake {
        char dir[64];
        char path[100];
        int fd;
        const char *answer;    /* what the fake slirp4netns says */
        char request[4096];    /* what it was asked */
        pthread_t thread;
};

static void *serve(void *arg) {
        struct fake *f = arg;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
                return NULL;
        size_t n = 0;
        ssize_t g;
        while (n < sizeof(f->request) - 1 && (g = read(c, f->request + n, sizeof(f->request) - 1 - n)) > 0)
                n += (size_t) g;
        f->request[n] = '\0';
        if (write(c, f->answer, strlen(f->answer)) < 0) {
                /* the client went: the test says so */
        }
        close(c);
        return NULL;
}

static void fake_start(struct fake *f, const char *answer) {
        memset(f, 0, sizeof(*f));
        snprintf(f->dir, sizeof(f->dir), "/tmp/berth-slirp-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/api.sock", f->dir);
        f->answer = answer;
        f->fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(f->fd >= 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
        assert_int_equal(bind(f->fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(f->fd, 1), 0);
        assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
}

static json_t *fake_done(struct fake *f) {
        pthread_join(f->thread, NULL);
        close(f->fd);
        unlink(f->path);
        rmdir(f->dir);
        return json_loads(f->request, 0, NULL);
}

static void test_add_asks_for_the_forward_to_tap0(void **state) {
        (void) state;
        struct fake f;
        fake_start(&f, "{\"return\": {\"id\": 7}}");
        int id = -1;
        char msg[256] = "";
        assert_int_equal(slirp_hostfwd_add(f.path, "tcp", "127.0.0.1", 8080, &id, msg, sizeof(msg)), 0);
        assert_int_equal(id, 7);
        json_t *q = fake_done(&f);
        assert_non_null(q);
        assert_string_equal(json_string_value(json_object_get(q, "execute")), "add_hostfwd");
        json_t *a = json_object_get(q, "arguments");
        assert_string_equal(json_string_value(json_object_get(a, "proto")), "tcp");
        assert_string_equal(json_string_value(json_object_get(a, "host_addr")), "127.0.0.1");
        assert_int_equal(json_integer_value(json_object_get(a, "host_port")), 8080);
        assert_string_equal(json_string_value(json_object_get(a, "guest_addr")), "10.0.2.100");
        assert_int_equal(json_integer_value(json_object_get(a, "guest_port")), 8080);
        json_decref(q);
}

static void test_remove_names_the_forward(void **state) {
        (void) state;
        struct fake f;
        fake_start(&f, "{\"return\": {}}");
        assert_int_equal(slirp_hostfwd_remove(f.path, 7), 0);
        json_t *q = fake_done(&f);
        assert_non_null(q);
        assert_string_equal(json_string_value(json_object_get(q, "execute")), "remove_hostfwd");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(q, "arguments"), "id")), 7);
        json_decref(q);
}

static void test_refusals_and_nonsense_are_errors(void **state) {
        (void) state;
        struct fake f;
        int id = 5;
        char msg[256] = "";
        fake_start(&f, "{\"error\": {\"desc\": \"bad request: add_hostfwd: slirp_add_hostfwd failed\"}}");
        assert_int_equal(slirp_hostfwd_add(f.path, "udp", "0.0.0.0", 53, &id, msg, sizeof(msg)), -EADDRINUSE);
        assert_int_equal(id, -1);
        assert_string_equal(msg, "bad request: add_hostfwd: slirp_add_hostfwd failed");
        json_decref(fake_done(&f));

        fake_start(&f, "not json");
        assert_int_equal(slirp_hostfwd_add(f.path, "tcp", "127.0.0.1", 1, &id, msg, sizeof(msg)), -EPROTO);
        json_decref(fake_done(&f));

        fake_start(&f, "{\"return\": {\"id\": \"seven\"}}");
        assert_int_equal(slirp_hostfwd_add(f.path, "tcp", "127.0.0.1", 1, &id, msg, sizeof(msg)), -EPROTO);
        assert_string_equal(msg, "slirp4netns answered no forward id");
        json_decref(fake_done(&f));

        /* nobody listening */
        assert_true(slirp_hostfwd_add("/nonexistent/berth/api.sock", "tcp", "127.0.0.1", 1, &id, msg, sizeof(msg)) < 0);
        assert_non_null(strstr(msg, "connect /nonexistent/berth/api.sock"));
        assert_true(slirp_hostfwd_remove("/nonexistent/berth/api.sock", 1) < 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_add_asks_for_the_forward_to_tap0),
                cmocka_unit_test(test_remove_names_the_forward),
                cmocka_unit_test(test_refusals_and_nonsense_are_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
