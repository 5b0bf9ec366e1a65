/* test_sealed_exe.c - the sealed in-memory copy berthd starts berth-shim from: the same
 * bytes, sealed against every change, executable, and refused for what is no file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "runtime/runtime.h"

#define PROGRAM "/bin/true"

static void test_sealed_exe_is_an_exact_sealed_copy(void **state) {
        int fd = -1;
        struct berr e;
        if (rt_sealed_exe_open(PROGRAM, "berth-test", &fd, &e) < 0)
                fail_msg("%s", e.msg);
        assert_true(fd >= 0);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        int seals = fcntl(fd, F_GET_SEALS);
        assert_true(seals >= 0);
        int want = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
        assert_int_equal(seals & want, want);

        /* the same bytes */
        _cleanup_free_ char *orig = NULL, *copy = NULL;
        size_t n_orig = 0, n_copy = 0;
        assert_int_equal(fs_read_file(AT_FDCWD, PROGRAM, 64 << 20, &orig, &n_orig, &e), 0);
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        assert_int_equal(fs_read_file(AT_FDCWD, proc, 64 << 20, &copy, &n_copy, &e), 0);
        assert_int_equal(n_copy, n_orig);
        assert_memory_equal(copy, orig, n_orig);

        /* no change of any kind, through this fd or a new one */
        assert_int_equal(pwrite(fd, "x", 1, 0), -1);
        assert_int_equal(errno, EPERM);
        assert_int_equal(ftruncate(fd, 1), -1);
        assert_int_equal(ftruncate(fd, (off_t) n_orig + 4096), -1);
        assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), -1); /* F_SEAL_SEAL: no more seals, none removed */
        int w = open(proc, O_WRONLY | O_CLOEXEC);
        if (w >= 0) {
                assert_int_equal(write(w, "x", 1), -1);
                assert_int_equal(errno, EPERM);
                close(w);
        }
        assert_true(mmap(NULL, 4096, PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);

        /* and it runs */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char *argv[] = { "true", NULL }, *envp[] = { NULL };
                execve(proc, argv, envp);
                _exit(99);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        close(fd);
}

static void test_sealed_exe_refuses_what_is_no_file(void **state) {
        int fd = -1;
        struct berr e;
        assert_true(rt_sealed_exe_open("/nonexistent/berth-shim", "x", &fd, &e) < 0);
        assert_non_null(strstr(e.msg, "/nonexistent/berth-shim"));
        assert_true(rt_sealed_exe_open("/", "x", &fd, &e) < 0);
        assert_int_equal(fd, -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sealed_exe_is_an_exact_sealed_copy),
                cmocka_unit_test(test_sealed_exe_refuses_what_is_no_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
