/* Unit tests for common/tree's removal: it empties whole trees, and it refuses to walk into
 * a mount point (a container's rootfs still mounted after a crash) rather than deleting the
 * files of the mounted filesystem. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/fs.h"
#include "common/tree.h"

static char dir[64];

static int setup(void **s) {
        (void) s;
        snprintf(dir, sizeof(dir), "/var/tmp/berth-tree-XXXXXX");
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **s) {
        (void) s;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void make_file(const char *path) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
}

static void test_remove_at_path_removes_whole_tree(void **s) {
        (void) s;
        char p[256];
        snprintf(p, sizeof(p), "%s/t1", dir);
        assert_int_equal(mkdir(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/t1/a", dir);
        assert_int_equal(mkdir(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/t1/a/f", dir);
        make_file(p);
        snprintf(p, sizeof(p), "%s/t1/l", dir);
        assert_int_equal(symlink("/etc", p), 0);
        struct berr err = { 0 };
        snprintf(p, sizeof(p), "%s/t1", dir);
        assert_int_equal(tree_remove_at(AT_FDCWD, p, &err), 0);
        assert_int_equal(access(p, F_OK), -1);
        assert_int_equal(tree_remove_at(AT_FDCWD, p, &err), 0); /* missing is success */
}

/* @kind: a bind mount of the same filesystem (only openat2's RESOLVE_NO_XDEV sees it) or
 * a tmpfs (another device). */
static void check_refuses_mount(const char *kind) {
        char tree[256], mnt[256], src[256], victim[256];
        assert_int_equal(fs_path_fmt(tree, sizeof(tree), "%s/%s", dir, kind), 0);
        assert_int_equal(fs_path_fmt(mnt, sizeof(mnt), "%s/rootfs", tree), 0);
        assert_int_equal(fs_path_fmt(src, sizeof(src), "%s/%s-src", dir, kind), 0);
        assert_int_equal(mkdir(tree, 0755), 0);
        assert_int_equal(mkdir(mnt, 0755), 0);
        assert_int_equal(mkdir(src, 0755), 0);
        int r = strcmp(kind, "bind") == 0 ? mount(src, mnt, NULL, MS_BIND, NULL) : mount("tmpfs", mnt, "tmpfs", 0, NULL);
        if (r < 0) {
                print_message("%s mount not permitted here (%s): skipped\n", kind, strerror(errno));
                skip();
        }
        assert_int_equal(fs_path_fmt(victim, sizeof(victim), "%s/precious", mnt), 0);
        make_file(victim);
        struct berr err = { 0 };
        r = tree_remove_at(AT_FDCWD, tree, &err);
        assert_true(r < 0);
        assert_int_equal(err.errnum, EBUSY);
        assert_non_null(strstr(err.msg, "mounted"));
        assert_int_equal(access(victim, F_OK), 0); /* nothing deleted through the mount */
        assert_int_equal(umount2(mnt, MNT_DETACH), 0);
        assert_int_equal(tree_remove_at(AT_FDCWD, tree, &err), 0);
        assert_int_equal(tree_remove_at(AT_FDCWD, src, &err), 0);
}

static void test_remove_refuses_to_cross_a_bind_mount(void **s) {
        (void) s;
        check_refuses_mount("bind");
}

static void test_remove_refuses_to_cross_another_filesystem(void **s) {
        (void) s;
        check_refuses_mount("tmpfs");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_remove_at_path_removes_whole_tree),
                cmocka_unit_test(test_remove_refuses_to_cross_a_bind_mount),
                cmocka_unit_test(test_remove_refuses_to_cross_another_filesystem),
        };
        return cmocka_run_group_tests_name("tree", tests, setup, teardown);
}
