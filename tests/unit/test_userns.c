/* Unit tests for daemon/userns.c: /etc/subuid and /etc/subgid read as moby's idtools reads
 * them (the user's ranges by name or uid, sorted, given consecutive container ids), and the
 * next free range for a new "dockremap" user. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "daemon/userns.h"

static void test_subid_ranges_of_the_user_sorted_and_consecutive(void **s) {
        (void) s;
        const char *text = "other:100000:65536\n"
                           "berth:400000:1000\n"
                           "# a comment\n"
                           "  berth:200000:65536\n"
                           "1001:500000:10\n"   /* by uid */
                           "berth:bad:10\n"     /* skipped, as shadow's tools do */
                           "berth:600000:0\n"   /* an empty range is no range */
                           "berth:200000:65536\n"; /* the same line twice is one range */
        struct spec_idmap m[8];
        size_t n = 0;
        struct berr err = { 0 };
        assert_int_equal(userns_parse_subid(text, "berth", 1001, m, 8, &n, &err), 0);
        assert_int_equal(n, 3);
        assert_int_equal(m[0].container_id, 0);
        assert_int_equal(m[0].host_id, 200000);
        assert_int_equal(m[0].size, 65536);
        assert_int_equal(m[1].container_id, 65536);
        assert_int_equal(m[1].host_id, 400000);
        assert_int_equal(m[1].size, 1000);
        assert_int_equal(m[2].container_id, 66536);
        assert_int_equal(m[2].host_id, 500000);
}

static void test_subid_no_range_is_enoent(void **s) {
        (void) s;
        struct spec_idmap m[4];
        size_t n = 7;
        struct berr err = { 0 };
        assert_int_equal(userns_parse_subid("other:100000:65536\n", "berth", 1001, m, 4, &n, &err), -ENOENT);
        assert_int_equal(n, 7);
        assert_int_equal(userns_parse_subid(NULL, "berth", 1001, m, 4, &n, &err), -ENOENT);
        /* a prefix of the name is not the name */
        assert_int_equal(userns_parse_subid("berthx:100000:65536\n", "berth", 1001, m, 4, &n, &err), -ENOENT);
}

static void test_subid_too_many_ranges_fail(void **s) {
        (void) s;
        char text[4096] = "";
        for (int i = 0; i < 10; i++) {
                char line[64];
                snprintf(line, sizeof(line), "berth:%d:10\n", 100000 + i * 100);
                strcat(text, line);
        }
        struct spec_idmap m[4];
        size_t n = 0;
        struct berr err = { 0 };
        assert_true(userns_parse_subid(text, "berth", 1001, m, 4, &n, &err) < 0);
        assert_int_equal(err.kind, BERR_INVALID);
}

static void test_next_free_range_skips_the_taken_ones(void **s) {
        (void) s;
        assert_int_equal(userns_next_free_start(NULL, 65536), 100000);
        assert_int_equal(userns_next_free_start("", 65536), 100000);
        assert_int_equal(userns_next_free_start("a:100000:65536\n", 65536), 165536);
        /* a gap big enough between two ranges is used */
        assert_int_equal(userns_next_free_start("a:100000:65536\nb:300000:65536\n", 65536), 165536);
        assert_int_equal(userns_next_free_start("a:100000:65536\nb:200000:65536\n", 65536), 265536);
        /* ranges below the default start do not matter */
        assert_int_equal(userns_next_free_start("a:1000:5000\n", 65536), 100000);
        /* no room left below 2^32 */
        assert_int_equal(userns_next_free_start("a:100000:4294867000\n", 65536), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_subid_ranges_of_the_user_sorted_and_consecutive),
                cmocka_unit_test(test_subid_no_range_is_enoent),
                cmocka_unit_test(test_subid_too_many_ranges_fail),
                cmocka_unit_test(test_next_free_range_skips_the_taken_ones),
        };
        return cmocka_run_group_tests_name("userns", tests, NULL, NULL);
}
