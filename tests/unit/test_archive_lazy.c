/* Unit tests for image/archive_lazy.c: libarchive is loaded by the first constructor and
 * closed (unmapped) once no object made by one has lived for the idle time, then loaded
 * again by the next. This binary does not link libarchive itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/err.h"
#include "image/archive_lazy.h"

static bool mapped(void) {
        FILE *f = fopen("/proc/self/maps", "r");
        assert_non_null(f);
        char line[512];
        bool found = false;
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, "/libarchive.so") != NULL;
        fclose(f);
        return found;
}

static void sleep_ms(long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static bool wait_closed(void) {
        for (int i = 0; i < 200 && arclazy_is_loaded(); i++)
                sleep_ms(10);
        return !arclazy_is_loaded();
}

static void test_closed_when_idle_and_loaded_again(void **s) {
        arclazy_set_idle_s(0.05);
        assert_false(arclazy_is_loaded());
        assert_false(mapped());
        struct archive *a = archive_read_new();
        assert_non_null(a);
        assert_true(arclazy_is_loaded());
        assert_true(mapped());
        assert_int_equal(archive_read_support_format_tar(a), ARCHIVE_OK);
        assert_int_equal(archive_read_free(a), ARCHIVE_OK);
        assert_true(wait_closed());
        assert_false(mapped());

        /* again: a writer and an entry */
        struct archive *w = archive_write_new();
        struct archive_entry *e = archive_entry_new();
        assert_non_null(w);
        assert_non_null(e);
        archive_entry_set_pathname(e, "x");
        assert_string_equal(archive_entry_pathname(e), "x");
        archive_entry_free(e);
        sleep_ms(200); /* the writer still lives: the library stays */
        assert_true(arclazy_is_loaded());
        assert_int_equal(archive_write_free(w), ARCHIVE_OK);
        assert_true(wait_closed());
        assert_false(mapped());
        assert_int_equal(archive_read_free(NULL), ARCHIVE_OK); /* counts nothing */
        assert_false(arclazy_is_loaded());
}

static void test_require_loads(void **s) {
        struct berr err = { 0 };
        arclazy_set_idle_s(0.05);
        assert_int_equal(arclazy_require(&err), 0);
        assert_true(arclazy_is_loaded());
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_closed_when_idle_and_loaded_again),
                cmocka_unit_test(test_require_loads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
