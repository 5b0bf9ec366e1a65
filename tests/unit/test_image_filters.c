/* test_image_filters.c - decoding the `filters` query parameter in both encodings clients
 * send, boolean filters, and Docker's timestamp forms (until=). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "api/images_filters.h"
#include "common/cleanup.h"
#include "common/err.h"

static const char *const accepted[] = { "dangling", "label", "reference", "until", NULL };

static void test_filters_accepts_both_encodings(void **state) {
        json_t *f = NULL;
        struct berr err = { 0 };
        assert_int_equal(api_filters_parse("{\"label\":[\"a=b\",\"c\"],\"dangling\":{\"true\":true,\"false\":false}}",
                                           accepted, &f, &err), 0);
        _cleanup_free_ const char **labels = api_filters_values(f, "label");
        assert_string_equal(labels[0], "a=b");
        assert_string_equal(labels[1], "c");
        assert_null(labels[2]);
        int d;
        assert_int_equal(api_filters_bool(f, "dangling", -1, &d, &err), 0);
        assert_int_equal(d, 1);
        assert_null(api_filters_values(f, "reference"));
        json_decref(f);

        assert_int_equal(api_filters_parse(NULL, accepted, &f, &err), 0);
        assert_int_equal(json_object_size(f), 0);
        assert_int_equal(api_filters_bool(f, "dangling", -1, &d, &err), 0);
        assert_int_equal(d, -1);
        json_decref(f);
}

static void test_filters_refuse_unknown_keys_and_bad_values(void **state) {
        json_t *f = NULL;
        struct berr err = { 0 };
        assert_true(api_filters_parse("{\"color\":[\"red\"]}", accepted, &f, &err) < 0);
        assert_int_equal(err.kind, BERR_INVALID);
        assert_string_equal(err.msg, "invalid filter 'color'");
        assert_true(api_filters_parse("not json", accepted, &f, &err) < 0);
        assert_int_equal(err.kind, BERR_INVALID);
        assert_true(api_filters_parse("{\"label\":[1]}", accepted, &f, &err) < 0);

        assert_int_equal(api_filters_parse("{\"dangling\":[\"maybe\"]}", accepted, &f, &err), 0);
        int d;
        assert_true(api_filters_bool(f, "dangling", -1, &d, &err) < 0);
        assert_string_equal(err.msg, "invalid filter 'dangling=maybe'");
        json_decref(f);
        assert_int_equal(api_filters_parse("{\"dangling\":[\"true\",\"0\"]}", accepted, &f, &err), 0);
        assert_true(api_filters_bool(f, "dangling", -1, &d, &err) < 0);
        json_decref(f);
}

/* Found by fuzz_filters: huge values overflowed int64 nanoseconds (undefined behaviour);
 * Go refuses a duration past int64 and saturates times far from the epoch. */
static void test_timestamps_out_of_range(void **state) {
        struct berr err = {};
        int64_t t;
        const int64_t now = 1700000000LL * 1000000000LL;
        assert_int_equal(api_parse_timestamp("10007000000056000", now, &t, &err), 0);
        assert_true(t == INT64_MAX);
        assert_int_equal(api_parse_timestamp("-9999-01-01T00:00:00Z", now, &t, &err), -EINVAL);
        assert_int_equal(api_parse_timestamp("9999-01-01T00:00:00Z", now, &t, &err), 0);
        assert_true(t == INT64_MAX);
        /* 2.3e20 ns of duration: refused as Go refuses it, so it is no timestamp either */
        assert_true(api_parse_timestamp("1ms1ms00232347456789s", now, &t, &err) < 0);
        assert_true(api_parse_timestamp("99999999999h", now, &t, &err) < 0);
        /* Go's durations have no exponent */
        assert_true(api_parse_timestamp("1e3s", now, &t, &err) < 0);
        assert_int_equal(api_parse_timestamp("1.5s", now, &t, &err), 0);
        assert_true(t == now - 1500000000LL);
}

static void test_timestamps_in_every_form(void **state) {
        const int64_t now = 1800000000LL * 1000000000LL;
        int64_t t;
        struct berr err = { 0 };
        assert_int_equal(api_parse_timestamp("24h", now, &t, &err), 0);
        assert_true(t == now - 86400LL * 1000000000LL);
        assert_int_equal(api_parse_timestamp("1h30m", now, &t, &err), 0);
        assert_true(t == now - 5400LL * 1000000000LL);
        assert_int_equal(api_parse_timestamp("1700000000", now, &t, &err), 0);
        assert_true(t == 1700000000LL * 1000000000LL);
        assert_int_equal(api_parse_timestamp("1700000000.5", now, &t, &err), 0);
        assert_true(t == 1700000000LL * 1000000000LL + 500000000);
        assert_int_equal(api_parse_timestamp("2023-11-14T22:13:20Z", now, &t, &err), 0);
        assert_true(t == 1700000000LL * 1000000000LL);
        assert_int_equal(api_parse_timestamp("2023-11-14T23:13:20+01:00", now, &t, &err), 0);
        assert_true(t == 1700000000LL * 1000000000LL);
        assert_int_equal(api_parse_timestamp("2023-11-14T22:13:20.25Z", now, &t, &err), 0);
        assert_true(t == 1700000000LL * 1000000000LL + 250000000);
        assert_int_equal(api_parse_timestamp("2023-11-14", now, &t, &err), 0);
        assert_true(t == 1699920000LL * 1000000000LL);
        assert_int_equal(api_parse_timestamp("0", now, &t, &err), 0);
        assert_true(t == 0);
        assert_true(api_parse_timestamp("yesterday", now, &t, &err) < 0);
        assert_string_equal(err.msg, "failed to parse value as time or duration: \"yesterday\"");
        assert_true(api_parse_timestamp("2023-13-45", now, &t, &err) < 0);
        assert_true(api_parse_timestamp("", now, &t, &err) < 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_filters_accepts_both_encodings),
                cmocka_unit_test(test_filters_refuse_unknown_keys_and_bad_values),
                cmocka_unit_test(test_timestamps_in_every_form),
                cmocka_unit_test(test_timestamps_out_of_range),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
