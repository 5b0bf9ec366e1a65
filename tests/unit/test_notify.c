/* Unit tests for daemon/notify.c: sd_notify's datagram to $NOTIFY_SOCKET, by path and in
 * the abstract namespace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/notify.h"

static int bind_dgram(const char *name, bool abstract) {
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(name);
        memcpy(sa.sun_path + (abstract ? 1 : 0), name, n);
        socklen_t len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, len), 0);
        struct timeval tv = { .tv_sec = 2 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        return fd;
}

static void recv_is(int fd, const char *want) {
        char buf[256];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        assert_true(n > 0);
        buf[n] = '\0';
        assert_string_equal(buf, want);
}

static void test_path_socket(void **s) {
        char path[64];
        snprintf(path, sizeof(path), "/tmp/berth-unit-notify-%d", (int) getpid());
        unlink(path);
        int fd = bind_dgram(path, false);
        setenv("NOTIFY_SOCKET", path, 1);
        assert_int_equal(daemon_notify("READY=1"), 0);
        recv_is(fd, "READY=1");
        assert_int_equal(daemon_notify("STOPPING=1"), 0);
        recv_is(fd, "STOPPING=1");
        close(fd);
        unlink(path);
        /* nobody listening any more: an error, not a crash */
        assert_true(daemon_notify("READY=1") < 0);
        unsetenv("NOTIFY_SOCKET");
}

static void test_abstract_socket_and_reloading(void **s) {
        char name[64], env[66];
        snprintf(name, sizeof(name), "berth-unit-notify-%d", (int) getpid());
        int fd = bind_dgram(name, true);
        snprintf(env, sizeof(env), "@%s", name);
        setenv("NOTIFY_SOCKET", env, 1);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        unsigned long long before = (unsigned long long) ts.tv_sec * 1000000ULL + (unsigned long long) ts.tv_nsec / 1000;
        assert_int_equal(daemon_notify_reloading(), 0);
        char buf[256];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        assert_true(n > 0);
        buf[n] = '\0';
        unsigned long long usec = 0;
        assert_int_equal(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu", &usec), 1);
        assert_true(usec >= before && usec < before + 5000000ULL);
        close(fd);
        unsetenv("NOTIFY_SOCKET");
}

static void test_unset_or_unsupported(void **s) {
        unsetenv("NOTIFY_SOCKET");
        assert_int_equal(daemon_notify("READY=1"), 0);
        setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
        assert_true(daemon_notify("READY=1") < 0);
        unsetenv("NOTIFY_SOCKET");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_path_socket),
                cmocka_unit_test(test_abstract_socket_and_reloading),
                cmocka_unit_test(test_unset_or_unsupported),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
