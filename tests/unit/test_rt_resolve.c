/* test_rt_resolve.c - mount destinations resolved inside a container root: symlinks
 * (relative, absolute, through "..") never lead out of it, missing mountpoints are
 * created inside it, loops end. The hostile-image cases behind CVE-2015-3627 and
 * CVE-2021-30465. No root needed. */
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
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "runtime/runtime_int.h"

static char dir[64], root[96], outside[96];
static int rootfd = -1;

static int setup(void **state) {
        snprintf(dir, sizeof(dir), "/var/tmp/berth-resolve-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        snprintf(root, sizeof(root), "%s/root", dir);
        snprintf(outside, sizeof(outside), "%s/outside", dir);
        if (mkdir(root, 0755) < 0 || mkdir(outside, 0755) < 0)
                return -1;
        rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        return rootfd < 0 ? -1 : 0;
}

static int teardown(void **state) {
        close(rootfd);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void link_in_root(const char *target, const char *name) {
        assert_int_equal(symlinkat(target, rootfd, name), 0);
}

static void assert_resolves(const char *path, enum rt_resolve how, const char *want) {
        int fd = -1;
        _cleanup_free_ char *got = NULL;
        struct berr e = { 0 };
        if (rt_resolve_in_root(rootfd, path, how, &fd, &got, &e) < 0)
                fail_msg("%s: %s", path, e.msg);
        assert_string_equal(got, want);
        close(fd);
}

static void assert_nothing_outside(void) {
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s')\"", outside);
        assert_int_equal(system(cmd), 0);
}

static void test_rt_resolve_creates_missing_mountpoints(void **state) {
        assert_resolves("/a/b/c", RT_RESOLVE_MKDIR, "/a/b/c");
        assert_resolves("/etc/hosts", RT_RESOLVE_MKFILE, "/etc/hosts");
        struct stat st;
        assert_int_equal(fstatat(rootfd, "a/b/c", &st, 0), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(fstatat(rootfd, "etc/hosts", &st, 0), 0);
        assert_true(S_ISREG(st.st_mode));
}

static void test_rt_resolve_dotdot_stops_at_root(void **state) {
        assert_resolves("/../../../x", RT_RESOLVE_MKDIR, "/x");
        assert_resolves("/x/../../..", RT_RESOLVE_EXISTING, "/");
        assert_nothing_outside();
}

static void test_rt_resolve_absolute_symlink_stays_inside(void **state) {
        link_in_root(outside, "evil"); /* the host path of outside/: means <root><outside> inside */
        char want[256];
        snprintf(want, sizeof(want), "%s/x", outside);
        assert_resolves("/evil/x", RT_RESOLVE_MKDIR, want);
        assert_nothing_outside();
}

static void test_rt_resolve_relative_symlink_cannot_climb_out(void **state) {
        link_in_root("../../../../../../outside", "up");
        assert_resolves("/up/file", RT_RESOLVE_MKFILE, "/outside/file");
        assert_nothing_outside();
        struct stat st;
        assert_int_equal(fstatat(rootfd, "outside/file", &st, 0), 0);
}

static void test_rt_resolve_dangling_final_symlink_is_created_inside(void **state) {
        assert_int_equal(mkdirat(rootfd, "etc", 0755), 0);
        link_in_root("/run/systemd/resolve/stub-resolv.conf", "etc/resolv.conf");
        assert_resolves("/etc/resolv.conf", RT_RESOLVE_MKFILE, "/run/systemd/resolve/stub-resolv.conf");
}

static void test_rt_resolve_symlink_loop_ends(void **state) {
        link_in_root("b", "a");
        link_in_root("a", "b");
        int fd = -1;
        struct berr e = { 0 };
        assert_true(rt_resolve_in_root(rootfd, "/a/x", RT_RESOLVE_MKDIR, &fd, NULL, &e) < 0);
        assert_int_equal(e.errnum, ELOOP);
}

static void test_rt_resolve_existing_only_reports_missing(void **state) {
        int fd = -1;
        struct berr e = { 0 };
        assert_int_equal(rt_resolve_in_root(rootfd, "/proc/kcore", RT_RESOLVE_EXISTING, &fd, NULL, &e), -ENOENT);
        assert_int_equal(e.kind, BERR_NOT_FOUND);
}

static void test_rt_resolve_file_in_the_middle_is_not_a_directory(void **state) {
        int f = openat(rootfd, "file", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(f >= 0);
        close(f);
        int fd = -1;
        struct berr e = { 0 };
        assert_true(rt_resolve_in_root(rootfd, "/file/x", RT_RESOLVE_MKDIR, &fd, NULL, &e) < 0);
        assert_int_equal(e.errnum, ENOTDIR);
}

static void assert_proc_refused(const char *dest, bool is_procfs, const char *msg) {
        struct berr e = { 0 };
        assert_true(rt_mount_check_proc(dest, is_procfs, &e) < 0);
        assert_string_equal(e.msg, msg);
}

/* runc's checkProcMount: nothing but proc on /proc, only the lxcfs files inside it. */
static void test_rt_mount_check_proc_refuses_mounts_inside_proc(void **state) {
        struct berr e = { 0 };
        assert_int_equal(rt_mount_check_proc("/proc", true, &e), 0);
        assert_int_equal(rt_mount_check_proc("/proc/uptime", false, &e), 0);
        assert_int_equal(rt_mount_check_proc("/proc/sys/kernel/ns_last_pid", false, &e), 0);
        assert_int_equal(rt_mount_check_proc("/procfs", false, &e), 0);
        assert_int_equal(rt_mount_check_proc("/data/proc/sys", false, &e), 0);
        assert_int_equal(rt_mount_check_proc("/proc/../etc", false, &e), 0);
        assert_proc_refused("/proc", false, "\"/proc\" cannot be mounted because it is not of type proc");
        assert_proc_refused("/proc/", false, "\"/proc\" cannot be mounted because it is not of type proc");
        assert_proc_refused("/proc/sys", false, "\"/proc/sys\" cannot be mounted because it is inside /proc");
        assert_proc_refused("/proc/sys", true, "\"/proc/sys\" cannot be mounted because it is inside /proc");
        assert_proc_refused("//proc/./sys/", false, "\"/proc/sys\" cannot be mounted because it is inside /proc");
        assert_proc_refused("/etc/../proc/sys/net", false, "\"/proc/sys/net\" cannot be mounted because it is inside /proc");
        assert_proc_refused("/proc/sys/kernel", false, "\"/proc/sys/kernel\" cannot be mounted because it is inside /proc");
        assert_proc_refused("/proc/uptime/x", false, "\"/proc/uptime/x\" cannot be mounted because it is inside /proc");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_rt_resolve_creates_missing_mountpoints, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rt_resolve_dotdot_stops_at_root, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rt_resolve_absolute_symlink_stays_inside, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rt_resolve_relative_symlink_cannot_climb_out, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rt_resolve_dangling_final_symlink_is_created_inside, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rt_resolve_symlink_loop_ends, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rt_resolve_existing_only_reports_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rt_resolve_file_in_the_middle_is_not_a_directory, setup, teardown),
                cmocka_unit_test(test_rt_mount_check_proc_refuses_mounts_inside_proc),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
