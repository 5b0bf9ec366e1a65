/* test_signals.c - signal names and numbers as `docker kill -s`, StopSignal and the API take
 * them. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "daemon/signals.h"

static void test_names_numbers_and_realtime(void **state) {
        assert_int_equal(signal_parse("KILL"), SIGKILL);
        assert_int_equal(signal_parse("SIGTERM"), SIGTERM);
        assert_int_equal(signal_parse("sigusr1"), SIGUSR1);
        assert_int_equal(signal_parse("9"), SIGKILL);
        assert_int_equal(signal_parse("SIGRTMIN"), SIGRTMIN);
        assert_int_equal(signal_parse("RTMIN+3"), SIGRTMIN + 3);
        assert_int_equal(signal_parse("SIGRTMAX-2"), SIGRTMAX - 2);
}

static void test_bad_signals_are_refused(void **state) {
        assert_int_equal(signal_parse(""), -1);
        assert_int_equal(signal_parse("0"), -1);
        assert_int_equal(signal_parse("65"), -1);
        assert_int_equal(signal_parse("SIGFOO"), -1);
        assert_int_equal(signal_parse("RTMAX+1"), -1);
        assert_int_equal(signal_parse("RTMIN-1"), -1);
        /* found by fuzz_create_body: the offset overflowed before the range check */
        assert_int_equal(signal_parse("RTMIN+9223372036854775807"), -1);
        assert_int_equal(signal_parse("RTMAX-9223372036854775808"), -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names_numbers_and_realtime),
                cmocka_unit_test(test_bad_signals_are_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
