/* test_build_ignore.c - .dockerignore patterns as moby's patternmatcher reads and matches
 * them (filepath.Match syntax, '**', '!' exceptions, parents), and their application to
 * a context directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build/build.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/tree.h"

static struct dockerignore *parse(const char *text) {
        struct dockerignore *di = NULL;
        struct berr err = { 0 };
        if (dockerignore_parse(text, strlen(text), &di, &err) < 0)
                fail_msg("%s", err.msg);
        return di;
}

static void test_glob_is_go_filepath_match(void **state) {
        assert_true(dockerignore_glob("*.md", "a.md"));
        assert_false(dockerignore_glob("*.md", "dir/a.md"));
        assert_true(dockerignore_glob("dir/*.md", "dir/a.md"));
        assert_true(dockerignore_glob("a?c", "abc"));
        assert_false(dockerignore_glob("a?c", "a/c"));
        assert_true(dockerignore_glob("[a-c]x", "bx"));
        assert_false(dockerignore_glob("[^a-c]x", "bx"));
        assert_true(dockerignore_glob("[^a-c]x", "dx"));
        assert_true(dockerignore_glob("\\*x", "*x"));
        assert_false(dockerignore_glob("\\*x", "ax"));
        assert_false(dockerignore_glob("[a-", "a")); /* a bad pattern matches nothing */
}

static void test_glob_double_star_spans_directories(void **state) {
        assert_true(dockerignore_glob("**/*.go", "a.go"));
        assert_true(dockerignore_glob("**/*.go", "x/y/a.go"));
        assert_true(dockerignore_glob("a/**/b", "a/b"));
        assert_true(dockerignore_glob("a/**/b", "a/x/y/b"));
        assert_false(dockerignore_glob("a/**/b", "ab"));
        assert_true(dockerignore_glob("**", "anything/at/all"));
        assert_true(dockerignore_glob("dir/**", "dir/x"));
}

static void test_excluded_with_exceptions_and_parents(void **state) {
        struct dockerignore *di = parse("# comment\n\n*.md\n!important.md\n/logs/\n./tmp/../cache\n**/*.o\n  spaced  \n");
        assert_true(dockerignore_excluded(di, "notes.md"));
        assert_false(dockerignore_excluded(di, "important.md"));
        assert_false(dockerignore_excluded(di, "sub/notes.md")); /* '*' stays in its directory */
        assert_true(dockerignore_excluded(di, "logs"));
        assert_true(dockerignore_excluded(di, "logs/a/b.log")); /* a parent matches */
        assert_true(dockerignore_excluded(di, "cache/x"));
        assert_true(dockerignore_excluded(di, "deep/er/x.o"));
        assert_true(dockerignore_excluded(di, "spaced"));
        assert_false(dockerignore_excluded(di, "Dockerfile"));
        assert_false(dockerignore_excluded(di, "# comment"));
        assert_true(dockerignore_has_exceptions(di));
        dockerignore_free(di);
        /* the last matching pattern wins */
        di = parse("!keep\n*\n");
        assert_true(dockerignore_excluded(di, "keep"));
        dockerignore_free(di);
        di = parse("dir\n!dir/keep\n");
        assert_true(dockerignore_excluded(di, "dir/other"));
        assert_false(dockerignore_excluded(di, "dir/keep"));
        dockerignore_free(di);
        assert_false(dockerignore_excluded(NULL, "x"));
}

/* Many stars against a long name backtrack exponentially: the match gives up in bounded
 * time instead of holding the build (found by fuzz_dockerignore's slowing down). */
static void test_glob_pathological_patterns_are_bounded(void **state) {
        (void) state;
        char name[201];
        memset(name, 'a', 200);
        name[200] = '\0';
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_false(dockerignore_glob("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", name));
        assert_false(dockerignore_glob("**/**/**/**/**/**/**/**/**/**/b", "a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/c"));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 2000);
        /* ordinary patterns are unaffected */
        assert_true(dockerignore_glob("*a*b", "xaxb"));
        assert_true(dockerignore_glob("**/b", "a/a/a/b"));
}

/* A pattern of many stars that must search a long first directory before it matches the
 * second: a naive search spends its step budget on the first and wrongly answers "no
 * match"; dockerd (a regexp) excludes the file. */
static void test_glob_many_stars_still_match_after_a_long_search(void **state) {
        (void) state;
        char name[128];
        snprintf(name, sizeof(name), "%s/%s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaab/c");
        assert_true(dockerignore_glob("**/*a*a*a*a*a*a*a*a*a*a*b/c", name));
        assert_false(dockerignore_glob("**/*a*a*a*a*a*a*a*a*a*a*b/d", name));
        struct dockerignore *di = NULL;
        struct berr err = {};
        static const char text[] = "**/*a*a*a*a*a*a*a*a*a*a*b\n";
        assert_int_equal(dockerignore_parse(text, strlen(text), &di, &err), 0);
        assert_true(dockerignore_excluded(di, name));
        assert_false(dockerignore_excluded(di, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/c"));
        dockerignore_free(di);
}

static void touch(int dfd, const char *path) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = buf; (p = strchr(p, '/')); p++) {
                *p = '\0';
                (void) mkdirat(dfd, buf, 0755);
                *p = '/';
        }
        int fd = openat(dfd, path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
}

static bool exists(int dfd, const char *path) {
        struct stat st;
        return fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void test_apply_removes_excluded_keeps_exceptions(void **state) {
        char dir[] = "/tmp/berth-ignore-XXXXXX";
        assert_non_null(mkdtemp(dir));
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        touch(dfd, "Dockerfile");
        touch(dfd, "a.md");
        touch(dfd, "keep.md");
        touch(dfd, "logs/x.log");
        touch(dfd, "logs/keep.log");
        touch(dfd, "build/out/bin");
        struct dockerignore *di = parse("*.md\n!keep.md\nlogs\n!logs/keep.log\nbuild\n");
        struct berr err = { 0 };
        assert_int_equal(build_context_apply_ignore(dfd, di, &err), 0);
        dockerignore_free(di);
        assert_true(exists(dfd, "Dockerfile"));
        assert_false(exists(dfd, "a.md"));
        assert_true(exists(dfd, "keep.md"));
        assert_false(exists(dfd, "logs/x.log"));
        assert_true(exists(dfd, "logs/keep.log"));
        assert_false(exists(dfd, "build"));
        assert_int_equal(tree_clear_dir(dfd, NULL), 0);
        close(dfd);
        rmdir(dir);
}

/* Thousands of patterns, every one kept in order: the last that matches decides. */
static void test_many_patterns_all_kept(void **state) {
        size_t cap = 1 << 16, len = 0;
        char *text = malloc(cap);
        assert_non_null(text);
        for (int i = 0; i < 3000; i++)
                len += (size_t) snprintf(text + len, cap - len, "%sdir%d/*.tmp\n", i % 2 ? "!" : "", i);
        struct dockerignore *di = parse(text);
        assert_true(dockerignore_has_exceptions(di));
        char path[64];
        for (int i = 0; i < 3000; i += 111) {
                snprintf(path, sizeof(path), "dir%d/x.tmp", i);
                assert_int_equal(dockerignore_excluded(di, path), i % 2 == 0);
        }
        assert_false(dockerignore_excluded(di, "dir3000/x.tmp"));
        dockerignore_free(di);
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_glob_is_go_filepath_match),
                cmocka_unit_test(test_glob_double_star_spans_directories),
                cmocka_unit_test(test_excluded_with_exceptions_and_parents),
                cmocka_unit_test(test_apply_removes_excluded_keeps_exceptions),
                cmocka_unit_test(test_glob_pathological_patterns_are_bounded),
                cmocka_unit_test(test_glob_many_stars_still_match_after_a_long_search),
                cmocka_unit_test(test_many_patterns_all_kept),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
