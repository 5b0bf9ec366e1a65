/* test_rt_cgroup_delegate.c - rootless berthd's delegated cgroup v2 subtree on fake trees
 * in a temp dir: its own cgroup from /proc/self/cgroup, the cgroup2 mount from mountinfo,
 * the ownership that says "delegated", moving the processes into the leaf, enabling the
 * controllers for the children; and the container side: only missing controllers are
 * enabled, a limit whose controller is not there is refused by name. */
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
#include "common/fs.h"
#include "runtime/runtime.h"
#include "runtime/runtime_int.h"

static char root[64];

static int setup(void **state) {
        (void) state;
        snprintf(root, sizeof(root), "/var/tmp/berth-cgd-XXXXXX");
        return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state) {
        (void) state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *rel, const char *text) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        char *slash = strrchr(p, '/');
        *slash = '\0';
        struct berr e;
        assert_int_equal(fs_mkdir_p(p, 0755, &e), 0);
        *slash = '/';
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static char *get(const char *rel) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        char *got = NULL;
        struct berr e;
        if (fs_read_file(AT_FDCWD, p, 4096, &got, NULL, &e) < 0)
                fail_msg("%s", e.msg);
        return got;
}

static bool exists(const char *rel) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        return access(p, F_OK) == 0;
}

/* A delegated cgroup as systemd leaves it: its files, a few controllers to hand on. */
static void fake_subtree(const char *rel, const char *controllers, const char *procs) {
        char p[256];
        static const char *const files[] = { "cgroup.procs", "cgroup.subtree_control", "cgroup.threads",
                                             "cgroup.controllers" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                snprintf(p, sizeof(p), "%s/%s", rel, files[i]);
                put(p, i == 0 ? procs : i == 3 ? controllers : "");
        }
}

static void test_rt_cgroup2_own_path_reads_the_unified_line(void **state) {
        (void) state;
        struct berr e = { 0 };
        _cleanup_free_ char *p = NULL;
        const char *hybrid = "9:name=systemd:/user.slice\n4:memory:/user.slice/x\n0::/user.slice/user-1000.slice/"
                             "user@1000.service/app.slice/berth.service\n";
        assert_int_equal(rt_cgroup2_own_path(hybrid, &p, &e), 0);
        assert_string_equal(p, "/user.slice/user-1000.slice/user@1000.service/app.slice/berth.service");
        free(p);
        p = NULL;
        assert_int_equal(rt_cgroup2_own_path("0::/\n", &p, &e), 0);
        assert_string_equal(p, "/");
        static const char *const bad[] = { "4:memory:/a\n", "", "0::/gone (deleted)\n", "0::/a/../b\n", "0::\n" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *q = NULL;
                assert_int_equal(rt_cgroup2_own_path(bad[i], &q, &e), -ENOENT);
                assert_null(q);
        }
}

static void test_rt_cgroup2_mount_point_takes_a_whole_hierarchy(void **state) {
        (void) state;
        struct berr e = { 0 };
        _cleanup_free_ char *m = NULL;
        /* hybrid: v1 tmpfs on /sys/fs/cgroup, v2 at .../unified; a bind of a subtree is no use */
        const char *hybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
                             "40 31 0:38 /sub /mnt/sub rw,relatime - cgroup2 cgroup2 rw\n"
                             "41 31 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
                             "42 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
                             "43 23 0:38 / /tmp/my\\040cg rw,relatime - cgroup2 cgroup2 rw\n";
        assert_int_equal(rt_cgroup2_mount_point(hybrid, &m, &e), 0);
        assert_string_equal(m, "/sys/fs/cgroup/unified");
        free(m);
        m = NULL;
        /* pure v2: /sys/fs/cgroup, even listed after another mount of it */
        const char *pure = "50 23 0:38 / /tmp/my\\040cg rw - cgroup2 cgroup2 rw\n"
                           "51 23 0:38 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_int_equal(rt_cgroup2_mount_point(pure, &m, &e), 0);
        assert_string_equal(m, "/sys/fs/cgroup");
        free(m);
        m = NULL;
        assert_int_equal(rt_cgroup2_mount_point("43 23 0:38 / /tmp/my\\040cg rw - cgroup2 cgroup2 rw\n", &m, &e), 0);
        assert_string_equal(m, "/tmp/my cg"); /* octal escapes decoded */
        free(m);
        m = NULL;
        assert_int_equal(rt_cgroup2_mount_point("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n", &m, &e), -ENOENT);
        assert_null(m);
        assert_string_equal(e.msg, "no cgroup v2 hierarchy is mounted");
}

static void test_rt_cgroup_delegate_refuses_what_is_not_the_users(void **state) {
        (void) state;
        struct berr e = { 0 };
        struct rt_cgroup_delegation dg = { 0 };
        fake_subtree("user.slice/session-1.scope", "cpu memory pids", "77\n");
        uid_t other = geteuid() + 4242; /* the files are ours: not delegated to someone else */
        assert_int_equal(rt_cgroup_delegate(root, "/user.slice/session-1.scope", other, "berthd", &dg, &e), -EACCES);
        assert_non_null(strstr(e.msg, "cgroup /user.slice/session-1.scope is not delegated to uid"));
        assert_null(dg.path);
        /* nothing was touched: no leaf, no process moved, no controller enabled */
        assert_false(exists("user.slice/session-1.scope/berthd"));
        _cleanup_free_ char *on = get("user.slice/session-1.scope/cgroup.subtree_control");
        assert_string_equal(on, "");
        assert_int_equal(rt_cgroup_delegate(root, "/", geteuid(), "berthd", &dg, &e), -EACCES);
        assert_string_equal(e.msg, "berthd runs in the root cgroup, which is never delegated");
        /* a delegated dir whose cgroup.subtree_control is still root's is not delegated */
        fake_subtree("half", "memory", "");
        char p[256];
        snprintf(p, sizeof(p), "%s/half/cgroup.subtree_control", root);
        if (geteuid() == 0) {
                assert_int_equal(chown(p, 4242, 4242), 0);
                assert_int_equal(rt_cgroup_delegate(root, "/half", 0, "berthd", &dg, &e), -EACCES);
                assert_non_null(strstr(e.msg, "cgroup.subtree_control belongs to uid 4242"));
        }
}

static void test_rt_cgroup_delegate_enables_the_missing_controllers(void **state) {
        (void) state;
        struct berr e = { 0 };
        struct rt_cgroup_delegation dg = { 0 };
        fake_subtree("u/berth.service", "cpu io memory pids", "");
        put("u/berth.service/cgroup.subtree_control", "memory\n");
        assert_int_equal(rt_cgroup_delegate(root, "/u/berth.service", geteuid(), "berthd", &dg, &e), 0);
        assert_string_equal(dg.mount, root);
        assert_string_equal(dg.path, "/u/berth.service");
        /* a fake file keeps what was written last: the kernel would list all four */
        assert_string_equal(dg.controllers, "+cpu +io +pids");
        assert_false(exists("u/berth.service/berthd")); /* no process to move: no leaf */
        rt_cgroup_delegation_done(&dg);
        assert_null(dg.path);
        /* started again from that leaf: the same subtree, nothing nested deeper */
        fake_subtree("u/berth.service/berthd", "cpu io memory pids", "4321\n");
        assert_int_equal(rt_cgroup_delegate(root, "/u/berth.service/berthd", geteuid(), "berthd", &dg, &e), 0);
        assert_string_equal(dg.path, "/u/berth.service");
        assert_false(exists("u/berth.service/berthd/berthd"));
        rt_cgroup_delegation_done(&dg);
}

static void test_rt_cgroup_delegate_moves_processes_into_the_leaf(void **state) {
        (void) state;
        struct berr e = { 0 };
        struct rt_cgroup_delegation dg = { 0 };
        fake_subtree("u/b.service", "pids", "1234\n");
        put("u/b.service/berthd/cgroup.procs", "");
        /* the fake cgroup.procs never empties as the kernel's would: moved, then a clear
         * error after a bounded number of rounds instead of a hang */
        assert_int_equal(rt_cgroup_delegate(root, "/u/b.service", geteuid(), "berthd", &dg, &e), -EBUSY);
        assert_string_equal(e.msg, "cgroup /u/b.service: processes keep appearing in it while they are moved into "
                                   "/u/b.service/berthd");
        _cleanup_free_ char *moved = get("u/b.service/berthd/cgroup.procs");
        assert_string_equal(moved, "1234");
        _cleanup_free_ char *on = get("u/b.service/cgroup.subtree_control");
        assert_string_equal(on, ""); /* controllers only once the cgroup holds no process */
        assert_null(dg.path);
}

static void test_rt_cgroup_v2_enables_only_what_a_level_lacks(void **state) {
        (void) state;
        struct berr e = { 0 };
        put("cgroup.controllers", "cpu memory pids\n");
        put("cgroup.subtree_control", "cpu memory pids\n"); /* all on: not written again */
        put("sub/cgroup.controllers", "cpu memory pids\n");
        put("sub/cgroup.subtree_control", "memory\n");
        struct rt_cgroup *cg = NULL;
        assert_int_equal(rt_cgroup_open(root, "/sub/berth/c1", &cg, &e), 0);
        put("sub/berth/cgroup.controllers", "cpu memory pids\n");
        put("sub/berth/cgroup.subtree_control", "");
        assert_int_equal(rt_cgroup_create(cg, NULL, &e), 0);
        _cleanup_free_ char *top = get("cgroup.subtree_control"), *sub = get("sub/cgroup.subtree_control"),
                           *berth = get("sub/berth/cgroup.subtree_control");
        assert_string_equal(top, "cpu memory pids\n");
        assert_string_equal(sub, "+cpu +pids");
        assert_string_equal(berth, "+cpu +memory +pids");
        rt_cgroup_free(cg);
}

static void test_rt_cgroup_v2_limit_without_its_controller_is_refused(void **state) {
        (void) state;
        struct berr e = { 0 };
        put("cgroup.controllers", "cpu\n");
        put("cgroup.subtree_control", "cpu\n");
        put("c1/cgroup.controllers", "cpu\n");
        put("c1/cpu.max", "");
        struct rt_cgroup *cg = NULL;
        assert_int_equal(rt_cgroup_open(root, "/c1", &cg, &e), 0);
        json_t *res = json_loads("{\"memory\": {\"limit\": 67108864}}", 0, NULL);
        assert_int_equal(rt_cgroup_create(cg, res, &e), -ENOTSUP);
        assert_non_null(strstr(e.msg, "memory limits need the memory cgroup controller, which is not enabled ("));
        assert_non_null(strstr(e.msg, "/c1 has: cpu)"));
        assert_false(exists("c1/memory.max"));
        json_decref(res);
        res = json_loads("{\"pids\": {\"limit\": 10}}", 0, NULL);
        assert_int_equal(rt_cgroup_apply(cg, res, &e), -ENOTSUP);
        assert_non_null(strstr(e.msg, "a pids limit needs the pids cgroup controller"));
        json_decref(res);
        /* what the controller that is there does still works; -1 (no limit) needs nothing */
        res = json_loads("{\"cpu\": {\"quota\": 50000, \"period\": 100000}, \"memory\": {\"limit\": -1}}", 0, NULL);
        assert_int_equal(rt_cgroup_apply(cg, res, &e), 0);
        _cleanup_free_ char *max = get("c1/cpu.max");
        assert_string_equal(max, "50000 100000");
        json_decref(res);
        rt_cgroup_free(cg);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rt_cgroup2_own_path_reads_the_unified_line),
                cmocka_unit_test(test_rt_cgroup2_mount_point_takes_a_whole_hierarchy),
                cmocka_unit_test_setup_teardown(test_rt_cgroup_delegate_refuses_what_is_not_the_users, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rt_cgroup_delegate_enables_the_missing_controllers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rt_cgroup_delegate_moves_processes_into_the_leaf, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rt_cgroup_v2_enables_only_what_a_level_lacks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rt_cgroup_v2_limit_without_its_controller_is_refused, setup,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
