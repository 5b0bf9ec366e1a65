/* Unit tests for the times `docker logs --since/--until`, the prune `until` filter and the
 * json-file "time" field are read with (ctr_logs_parse_time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>

#include "daemon/container_logs.h"

static int64_t parsed(const char *s) {
        int64_t ns = 12345;
        assert_int_equal(ctr_logs_parse_time(s, &ns), 0);
        return ns;
}

static void test_times_and_unix_seconds(void **state) {
        (void) state;
        assert_true(parsed("2026-12-03T12:00:02.123456789Z") == 1796299202123456789LL);
        assert_true(parsed("2026-12-03T12:00:02Z") == 1796299202000000000LL);
        assert_true(parsed("1700000000.5") == 1700000000500000000LL);
        assert_true(parsed("0") == 0);
        int64_t ns;
        assert_int_equal(ctr_logs_parse_time("yesterday", &ns), -EINVAL);
        assert_int_equal(ctr_logs_parse_time("nan", &ns), -EINVAL);
        assert_int_equal(ctr_logs_parse_time("inf", &ns), -EINVAL);
}

/* Times int64 nanoseconds cannot hold saturate instead of overflowing (found by
 * fuzz_logs_read: a json-file line with the time "16-2202-03T12:00:02.123456789Z"; the
 * API's since/until and prune's until=3000-01-01 took the same path). */
static void test_times_out_of_range_saturate(void **state) {
        (void) state;
        assert_true(parsed("3000-01-01T00:00:00Z") == INT64_MAX);
        assert_true(parsed("16-2202-03T12:00:02.123456789Z") == INT64_MIN);
        assert_true(parsed("0199-01-01T00:00:00Z") == INT64_MIN);
        assert_true(parsed("99999999999") == INT64_MAX);
        assert_true(parsed("-99999999999.5") == INT64_MIN);
        assert_true(parsed("1e300") == INT64_MAX);
        assert_true(parsed("9223372035.5") == 9223372035500000000LL);
        assert_true(parsed("2262-04-11T23:47:15Z") == 9223372035000000000LL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_times_and_unix_seconds),
                cmocka_unit_test(test_times_out_of_range_saturate),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
