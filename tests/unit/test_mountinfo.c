/* Unit tests for common/mountinfo: the mount point field, its escapes, and which mounts
 * lie at or below a path (what berthd unmounts before it removes a container). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/mountinfo.h"

#define ROOTFS "/var/lib/berth/containers/0123abcd/rootfs"

static const char table[] =
        "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/root rw\n"
        "25 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n"
        "301 22 0:52 / " ROOTFS " rw,relatime shared:150 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w\n"
        "302 301 0:53 / " ROOTFS "/proc rw - proc proc rw\n"
        "303 22 0:54 / " ROOTFS " rw,relatime - overlay overlay rw\n"
        "304 22 0:55 / /var/lib/berth/containers/0123abcdef/rootfs rw - overlay overlay rw\n"
        "305 22 259:1 /srv /mnt/with\\040space rw - ext4 /dev/root rw\n";

static void test_mount_point_decodes_octal_escapes(void **s) {
        (void) s;
        char mp[64];
        assert_int_equal(mountinfo_mount_point("305 22 259:1 /srv /mnt/with\\040space\\011tab\\134 rw - ext4 x rw", mp,
                                               sizeof(mp)), 0);
        assert_string_equal(mp, "/mnt/with space\ttab\\");
        assert_int_equal(mountinfo_mount_point("25 22 0:21 / /proc rw - proc proc rw", mp, sizeof(mp)), 0);
        assert_string_equal(mp, "/proc");
}

static void test_mount_point_rejects_short_or_long_lines(void **s) {
        (void) s;
        char mp[8];
        assert_int_equal(mountinfo_mount_point("25 22 0:21 /", mp, sizeof(mp)), -EINVAL);
        assert_int_equal(mountinfo_mount_point("", mp, sizeof(mp)), -EINVAL);
        assert_int_equal(mountinfo_mount_point("25 22 0:21 / /a/long/path rw", mp, sizeof(mp)), -EINVAL);
}

static void test_find_under_lists_stacked_and_nested_mounts_deepest_first(void **s) {
        (void) s;
        struct berr err = { 0 };
        char **list = NULL;
        size_t n = 99;
        assert_int_equal(mountinfo_find_under(table, "/var/lib/berth/containers/0123abcd", &list, &n, &err), 0);
        assert_int_equal(n, 3); /* rootfs twice (stacked), its /proc; not the ID that only shares a prefix */
        assert_string_equal(list[0], ROOTFS "/proc");
        assert_string_equal(list[1], ROOTFS);
        assert_string_equal(list[2], ROOTFS);
        assert_null(list[3]);
        strv_free(list);
}

static void test_find_under_matches_whole_components(void **s) {
        (void) s;
        struct berr err = { 0 };
        char **list = NULL;
        size_t n = 99;
        assert_int_equal(mountinfo_find_under(table, "/var/lib/berth/containers/0123abcdef/", &list, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_string_equal(list[0], "/var/lib/berth/containers/0123abcdef/rootfs");
        strv_free(list);
        assert_int_equal(mountinfo_find_under(table, "/var/lib/ber", &list, &n, &err), 0);
        assert_int_equal(n, 0);
        assert_null(list[0]);
        strv_free(list);
        assert_int_equal(mountinfo_find_under(table, "/mnt/with space", &list, &n, &err), 0);
        assert_int_equal(n, 1);
        strv_free(list);
}

static void test_list_under_reads_this_process_table(void **s) {
        (void) s;
        struct berr err = { 0 };
        char **list = NULL;
        size_t n = 0;
        assert_int_equal(mountinfo_list_under("/", &list, &n, &err), 0);
        assert_true(n >= 1);
        assert_string_equal(list[n - 1], "/"); /* the shortest comes last */
        strv_free(list);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mount_point_decodes_octal_escapes),
                cmocka_unit_test(test_mount_point_rejects_short_or_long_lines),
                cmocka_unit_test(test_find_under_lists_stacked_and_nested_mounts_deepest_first),
                cmocka_unit_test(test_find_under_matches_whole_components),
                cmocka_unit_test(test_list_under_reads_this_process_table),
        };
        return cmocka_run_group_tests_name("mountinfo", tests, NULL, NULL);
}
