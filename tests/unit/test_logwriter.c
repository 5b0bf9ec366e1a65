/* Unit tests for the json-file log writer: escaping, line splitting, rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "common/err.h"
#include "shim/logwriter.h"

static char dir[64];
static char path[128];

static int setup(void **s) {
        snprintf(dir, sizeof(dir), "/tmp/berth-log-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        snprintf(path, sizeof(path), "%s/c-json.log", dir);
        return 0;
}

static int teardown(void **s) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static json_t *line_n(const char *p, int n) {
        FILE *f = fopen(p, "r");
        char *buf = NULL;
        size_t cap = 0;
        json_t *v = NULL;
        for (int i = 0; getline(&buf, &cap, f) > 0; i++)
                if (i == n) {
                        v = json_loads(buf, 0, NULL);
                        break;
                }
        free(buf);
        fclose(f);
        return v;
}

static int count_lines(const char *p) {
        FILE *f = fopen(p, "r");
        if (!f)
                return -1;
        int n = 0, c;
        while ((c = fgetc(f)) != EOF)
                n += c == '\n';
        fclose(f);
        return n;
}

static void test_escape_like_docker(void **s) {
        char out[256];
        log_json_escape("a\"b\\c\n<&>\x01", 10, out);
        assert_string_equal(out, "a\\\"b\\\\c\\n\\u003c\\u0026\\u003e\\u0001");
        log_json_escape("\xff\xc3\xa9", 3, out); /* invalid byte, then é */
        assert_string_equal(out, "\\ufffd\xc3\xa9");
        log_json_escape("\xe2\x80\xa8", 3, out);
        assert_string_equal(out, "\\u2028");
}

static void test_lines_and_streams(void **s) {
        struct log_writer *w;
        struct berr err = { 0 };
        assert_int_equal(log_writer_open(path, 0, 1, &w, &err), 0);
        assert_int_equal(log_writer_feed(w, LOG_STREAM_STDOUT, "hel", 3, &err), 0);
        assert_int_equal(log_writer_feed(w, LOG_STREAM_STDERR, "oops\n", 5, &err), 0);
        assert_int_equal(log_writer_feed(w, LOG_STREAM_STDOUT, "lo\nworld\nrest", 13, &err), 0);
        assert_int_equal(log_writer_flush(w, &err), 0);
        log_writer_close(w);
        assert_int_equal(count_lines(path), 4);
        json_t *l0 = line_n(path, 0), *l1 = line_n(path, 1), *l3 = line_n(path, 3);
        assert_string_equal(json_string_value(json_object_get(l0, "log")), "oops\n");
        assert_string_equal(json_string_value(json_object_get(l0, "stream")), "stderr");
        assert_string_equal(json_string_value(json_object_get(l1, "log")), "hello\n");
        assert_string_equal(json_string_value(json_object_get(l1, "stream")), "stdout");
        assert_string_equal(json_string_value(json_object_get(l3, "log")), "rest");
        const char *t = json_string_value(json_object_get(l1, "time"));
        assert_int_equal(strlen(t), 30); /* 2026-11-28T14:14:26.123456789Z */
        assert_int_equal(t[29], 'Z');
        json_decref(l0);
        json_decref(l1);
        json_decref(l3);
}

static void test_long_line_split_at_16k(void **s) {
        struct log_writer *w;
        struct berr err = { 0 };
        unlink(path);
        assert_int_equal(log_writer_open(path, 0, 1, &w, &err), 0);
        size_t n = 40000;
        char *big = malloc(n + 1);
        memset(big, 'x', n);
        big[n] = '\n';
        assert_int_equal(log_writer_feed(w, LOG_STREAM_STDOUT, big, n + 1, &err), 0);
        log_writer_close(w);
        free(big);
        assert_int_equal(count_lines(path), 3);
        json_t *l0 = line_n(path, 0), *l2 = line_n(path, 2);
        assert_int_equal(strlen(json_string_value(json_object_get(l0, "log"))), 16384);
        assert_int_equal(strlen(json_string_value(json_object_get(l2, "log"))), 40001 - 2 * 16384);
        json_decref(l0);
        json_decref(l2);
}

static void test_rotation_keeps_max_files(void **s) {
        struct log_writer *w;
        struct berr err = { 0 };
        unlink(path);
        assert_int_equal(log_writer_open(path, 1000, 3, &w, &err), 0);
        char line[101];
        memset(line, 'y', 99);
        line[99] = '\n';
        for (int i = 0; i < 100; i++)
                assert_int_equal(log_writer_feed(w, LOG_STREAM_STDOUT, line, 100, &err), 0);
        log_writer_close(w);
        char p1[160], p2[160], p3[160];
        snprintf(p1, sizeof(p1), "%s.1", path);
        snprintf(p2, sizeof(p2), "%s.2", path);
        snprintf(p3, sizeof(p3), "%s.3", path);
        struct stat st;
        assert_int_equal(stat(p1, &st), 0);
        assert_true(st.st_size >= 1000 && st.st_size < 1200);
        assert_int_equal(stat(p2, &st), 0);
        assert_int_not_equal(stat(p3, &st), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_size < 1000);
}

/* A disk that fills in the middle of a line (RLIMIT_FSIZE gives the same short write and
 * error as ENOSPC): the part written is cut off again, so the lines after it, once there
 * is room, still read back as JSON. */
static void test_line_cut_by_a_full_disk_is_dropped(void **s) {
        struct log_writer *w = NULL;
        struct berr err = { 0 };
        char cut[160]; /* a log of its own */
        snprintf(cut, sizeof(cut), "%s/cut-json.log", dir);
        assert_int_equal(log_writer_open(cut, 0, 1, &w, &err), 0);
        assert_int_equal(log_writer_feed(w, LOG_STREAM_STDOUT, "first\n", 6, &err), 0);
        struct stat st;
        assert_int_equal(stat(cut, &st), 0);
        struct rlimit old, lim;
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
        lim = old;
        lim.rlim_cur = (rlim_t) st.st_size + 20; /* room for part of the next line only */
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
        int r = log_writer_feed(w, LOG_STREAM_STDOUT, "second, which does not fit\n", 27, &err);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
        signal(SIGXFSZ, prev);
        assert_true(r < 0);
        struct stat st2;
        assert_int_equal(stat(cut, &st2), 0);
        assert_int_equal(st2.st_size, st.st_size); /* nothing of the cut line stays */
        assert_int_equal(log_writer_feed(w, LOG_STREAM_STDOUT, "third\n", 6, &err), 0);
        log_writer_close(w);
        assert_int_equal(count_lines(cut), 2);
        json_t *v = line_n(cut, 1);
        assert_non_null(v);
        assert_string_equal(json_string_value(json_object_get(v, "log")), "third\n");
        json_decref(v);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escape_like_docker),
                cmocka_unit_test(test_lines_and_streams),
                cmocka_unit_test(test_long_line_split_at_16k),
                cmocka_unit_test(test_rotation_keeps_max_files),
                cmocka_unit_test(test_line_cut_by_a_full_disk_is_dropped),
        };
        return cmocka_run_group_tests_name("logwriter", tests, setup, teardown);
}
