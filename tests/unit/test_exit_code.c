/* test_exit_code.c - the exit code recorded for a command that could not be run comes
 * from the runtime's errno (as carried in shim_msg.status), the way dockerd translates
 * the runtime's errors: 127 not found, 126 cannot be invoked, the caller's fallback else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "daemon/exit_code.h"
#include "runtime/runtime_int.h"

static void test_exit_code_missing_command_is_127(void **state) {
        assert_int_equal(ctr_exit_code_for_errno(ENOENT, CTR_EXIT_START_UNKNOWN), 127);
        assert_int_equal(ctr_exit_code_for_errno(ENOENT, CTR_EXIT_CANNOT_INVOKE), 127);
        assert_int_equal(ctr_exit_code_for_errno(ENOTDIR, CTR_EXIT_START_UNKNOWN), 127);
}

static void test_exit_code_command_that_cannot_run_is_126(void **state) {
        assert_int_equal(ctr_exit_code_for_errno(EACCES, CTR_EXIT_START_UNKNOWN), 126);
        assert_int_equal(ctr_exit_code_for_errno(EISDIR, CTR_EXIT_START_UNKNOWN), 126);
        assert_int_equal(ctr_exit_code_for_errno(EACCES, CTR_EXIT_CANNOT_INVOKE), 126);
}

static void test_exit_code_other_errors_get_the_fallback(void **state) {
        /* dockerd: exitUnknown (128) for a start, 126 for an exec. */
        int others[] = { 0, EPERM, EINVAL, EIO, ENOEXEC, ENOMEM, EPIPE };
        for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
                assert_int_equal(ctr_exit_code_for_errno(others[i], CTR_EXIT_START_UNKNOWN), 128);
                assert_int_equal(ctr_exit_code_for_errno(others[i], CTR_EXIT_CANNOT_INVOKE), 126);
        }
}

/* The runtime's look-up reports the errno the mapping expects, with Docker's wording. */
static int lookpath_code(const char *file, char *const *env, struct berr *err) {
        _cleanup_free_ char *path = NULL;
        memset(err, 0, sizeof(*err));
        int r = rt_proc_lookpath(file, env, &path, err);
        if (r == 0)
                return 0;
        assert_int_equal(r, -err->errnum);
        return ctr_exit_code_for_errno(err->errnum, CTR_EXIT_START_UNKNOWN);
}

static void test_exit_code_from_runtime_lookpath(void **state) {
        char *env[] = { "PATH=/nonexistent-dir:/bin:/usr/bin", NULL };
        struct berr err;
        assert_int_equal(lookpath_code("no-such-command-here", env, &err), 127);
        assert_string_equal(err.msg, "exec: \"no-such-command-here\": executable file not found in $PATH");
        assert_int_equal(lookpath_code("/no/such/file", env, &err), 127);
        /* a directory: "permission denied", as Docker says it */
        assert_int_equal(lookpath_code("/etc", env, &err), 126);
        assert_string_equal(err.msg, "exec: \"/etc\": permission denied");
        /* a file without an x bit */
        char tmpl[] = "/tmp/berth-test-exit-code-XXXXXX";
        int fd = mkstemp(tmpl);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(chmod(tmpl, 0644), 0);
        assert_int_equal(lookpath_code(tmpl, env, &err), 126);
        assert_non_null(strstr(err.msg, "permission denied"));
        assert_int_equal(chmod(tmpl, 0755), 0);
        assert_int_equal(lookpath_code(tmpl, env, &err), 0);
        unlink(tmpl);
        assert_int_equal(lookpath_code("sh", env, &err), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exit_code_missing_command_is_127),
                cmocka_unit_test(test_exit_code_command_that_cannot_run_is_126),
                cmocka_unit_test(test_exit_code_other_errors_get_the_fallback),
                cmocka_unit_test(test_exit_code_from_runtime_lookpath),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
