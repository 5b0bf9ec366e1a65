/* test_rt_cgroup.c - cgroup logic on fake trees in a temp dir: v2 controller enabling and
 * resource files, v1 hierarchy discovery and paths, OOM accounting, device rules, and the
 * value conversions (cpus -> quota/period, shares -> weight, blkio -> io weight). */
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
#include "runtime/runtime_int.h"
#include "runtime/spec.h"

static char root[64];

static int setup(void **state) {
        snprintf(root, sizeof(root), "/var/tmp/berth-cg-XXXXXX");
        return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state) {
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

static void assert_file(const char *rel, const char *want) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        _cleanup_free_ char *got = NULL;
        struct berr e;
        if (fs_read_file(AT_FDCWD, p, 4096, &got, NULL, &e) < 0)
                fail_msg("%s", e.msg);
        assert_string_equal(got, want);
}

static json_t *resources(void) {
        json_error_t je;
        json_t *r = json_loads("{\"memory\": {\"limit\": 33554432, \"swap\": 67108864, \"reservation\": 16777216},"
                               " \"cpu\": {\"shares\": 1024, \"quota\": 150000, \"period\": 100000, \"cpus\": \"0-1\"},"
                               " \"pids\": {\"limit\": 20}, \"blockIO\": {\"weight\": 500}}",
                               0, &je);
        assert_non_null(r);
        return r;
}

static void test_rt_cgroup_v2_enables_controllers_and_writes_limits(void **state) {
        put("cgroup.controllers", "cpuset cpu io memory pids\n");
        put("cgroup.subtree_control", "");
        static const char *const files[] = { "memory.max", "memory.swap.max", "memory.low", "cpu.weight", "cpu.max",
                                             "cpuset.cpus", "pids.max", "io.weight", "cgroup.procs", "memory.events" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                char rel[128];
                snprintf(rel, sizeof(rel), "berth/c1/%s", files[i]);
                put(rel, "");
        }
        struct rt_cgroup *cg = NULL;
        struct berr e = { 0 };
        if (rt_cgroup_open(root, "berth//c1/", &cg, &e) < 0)
                fail_msg("%s", e.msg);
        assert_int_equal(cg->mode, RT_CGROUP_V2);
        assert_string_equal(cg->path, "/berth/c1");
        char want[256];
        snprintf(want, sizeof(want), "%s/berth/c1", root);
        assert_string_equal(rt_cgroup_dir_of(cg, "memory"), want);

        json_t *res = resources();
        if (rt_cgroup_create(cg, res, &e) < 0)
                fail_msg("%s", e.msg);
        json_decref(res);
        assert_file("cgroup.subtree_control", "+cpuset +cpu +io +memory +pids");
        assert_file("berth/c1/memory.max", "33554432");
        assert_file("berth/c1/memory.swap.max", "33554432"); /* OCI swap is memory+swap */
        assert_file("berth/c1/memory.low", "16777216");
        assert_file("berth/c1/cpu.weight", "39");
        assert_file("berth/c1/cpu.max", "150000 100000");
        assert_file("berth/c1/cpuset.cpus", "0-1");
        assert_file("berth/c1/pids.max", "20");
        assert_file("berth/c1/io.weight", "default 4950");

        assert_int_equal(rt_cgroup_add_pid(cg, 1234, &e), 0);
        assert_file("berth/c1/cgroup.procs", "1234");
        put("berth/c1/cgroup.procs", "12\n34\n");
        pid_t *pids = NULL;
        size_t n = 0;
        assert_int_equal(rt_cgroup_pids(cg, &pids, &n, &e), 0);
        assert_int_equal(n, 2);
        assert_int_equal(pids[0], 12);
        assert_int_equal(pids[1], 34);
        free(pids);

        put("berth/c1/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n");
        assert_false(rt_cgroup_oom_killed(cg));
        put("berth/c1/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\noom_group_kill 0\n");
        assert_true(rt_cgroup_oom_killed(cg));
        rt_cgroup_free(cg);
}

static void test_rt_cgroup_v2_unlimited_values(void **state) {
        put("cgroup.controllers", "memory pids cpu\n");
        put("cgroup.subtree_control", "");
        put("c2/memory.max", "");
        put("c2/memory.swap.max", "");
        put("c2/pids.max", "");
        put("c2/cpu.max", "");
        struct rt_cgroup *cg = NULL;
        struct berr e = { 0 };
        assert_int_equal(rt_cgroup_open(root, "/c2", &cg, &e), 0);
        json_error_t je;
        json_t *res = json_loads("{\"memory\": {\"limit\": -1, \"swap\": -1}, \"pids\": {\"limit\": -1},"
                                 " \"cpu\": {\"period\": 50000}}",
                                 0, &je);
        if (rt_cgroup_create(cg, res, &e) < 0)
                fail_msg("%s", e.msg);
        json_decref(res);
        assert_file("c2/memory.max", "max");
        assert_file("c2/memory.swap.max", "max");
        assert_file("c2/pids.max", "max");
        assert_file("c2/cpu.max", "max 50000");
        rt_cgroup_free(cg);
}

static void test_rt_cgroup_v1_finds_hierarchies_and_paths(void **state) {
        put("memory/cgroup.procs", "");
        put("cpu,cpuacct/cgroup.procs", "");
        put("pids/cgroup.procs", "");
        put("unified/cgroup.procs", ""); /* the hybrid v2 mount: not a v1 hierarchy */
        put("unified/cgroup.controllers", "");
        char p[256];
        snprintf(p, sizeof(p), "%s/cpu", root);
        assert_int_equal(symlink("cpu,cpuacct", p), 0);
        snprintf(p, sizeof(p), "%s/cpuacct", root);
        assert_int_equal(symlink("cpu,cpuacct", p), 0);

        struct rt_cgroup *cg = NULL;
        struct berr e = { 0 };
        if (rt_cgroup_open(root, "/berth/abc", &cg, &e) < 0)
                fail_msg("%s", e.msg);
        assert_int_equal(cg->mode, RT_CGROUP_V1);
        assert_int_equal(cg->n_hier, 3);
        assert_string_equal(cg->hier[0].name, "cpu,cpuacct");
        assert_string_equal(cg->hier[1].name, "memory");
        assert_string_equal(cg->hier[2].name, "pids");
        char want[256];
        snprintf(want, sizeof(want), "%s/cpu,cpuacct/berth/abc", root);
        assert_string_equal(rt_cgroup_dir_of(cg, "cpu"), want);
        assert_string_equal(rt_cgroup_dir_of(cg, "cpuacct"), want);
        snprintf(want, sizeof(want), "%s/memory/berth/abc", root);
        assert_string_equal(rt_cgroup_dir_of(cg, "memory"), want);
        assert_null(rt_cgroup_dir_of(cg, "blkio"));

        put("memory/berth/abc/memory.limit_in_bytes", "");
        put("memory/berth/abc/memory.memsw.limit_in_bytes", "");
        put("memory/berth/abc/memory.soft_limit_in_bytes", "");
        put("cpu,cpuacct/berth/abc/cpu.shares", "");
        put("cpu,cpuacct/berth/abc/cpu.cfs_quota_us", "");
        put("cpu,cpuacct/berth/abc/cpu.cfs_period_us", "");
        put("pids/berth/abc/pids.max", "");
        json_error_t je;
        json_t *res = json_loads("{\"memory\": {\"limit\": 33554432, \"swap\": 67108864},"
                                 " \"cpu\": {\"shares\": 512, \"quota\": 50000, \"period\": 100000},"
                                 " \"pids\": {\"limit\": 20}}",
                                 0, &je);
        if (rt_cgroup_create(cg, res, &e) < 0)
                fail_msg("%s", e.msg);
        json_decref(res);
        assert_file("memory/berth/abc/memory.limit_in_bytes", "33554432");
        assert_file("memory/berth/abc/memory.memsw.limit_in_bytes", "67108864");
        assert_file("cpu,cpuacct/berth/abc/cpu.shares", "512");
        assert_file("cpu,cpuacct/berth/abc/cpu.cfs_quota_us", "50000");
        assert_file("cpu,cpuacct/berth/abc/cpu.cfs_period_us", "100000");
        assert_file("pids/berth/abc/pids.max", "20");

        put("memory/berth/abc/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
        assert_false(rt_cgroup_oom_killed(cg));
        put("memory/berth/abc/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
        assert_true(rt_cgroup_oom_killed(cg));

        /* blkio weight asked for, blkio not mounted: an error, not silence. */
        res = json_loads("{\"blockIO\": {\"weight\": 300}}", 0, &je);
        assert_true(rt_cgroup_apply(cg, res, &e) < 0);
        assert_non_null(strstr(e.msg, "blkio"));
        json_decref(res);
        rt_cgroup_free(cg);
}

/* docker update: only what the request changes reaches the files, with the values after
 * the update; quota and period go together (v2 writes them as one file). */
static struct ctr_host_config update_hc(void) {
        struct ctr_host_config hc;
        memset(&hc, 0, sizeof(hc));
        hc.cpuset_cpus = (char *) "";
        hc.cpuset_mems = (char *) "";
        return hc;
}

static void test_rt_cgroup_v2_update_writes_only_what_changes(void **state) {
        put("cgroup.controllers", "cpuset cpu io memory pids\n");
        put("berth/u1/memory.max", "max");
        put("berth/u1/memory.swap.max", "max");
        put("berth/u1/memory.low", "0");
        put("berth/u1/cpu.max", "max 100000");
        put("berth/u1/cpu.weight", "100");
        put("berth/u1/pids.max", "20");
        put("berth/u1/cpuset.cpus", "");
        struct ctr_host_config req = update_hc(), now = update_hc();
        req.memory = now.memory = 64 << 20;
        req.memory_swap = now.memory_swap = 128 << 20;
        req.nano_cpus = now.nano_cpus = 500000000;
        req.pids_limit.set = now.pids_limit.set = true; /* 0: unlimited */
        req.cpuset_cpus = now.cpuset_cpus = (char *) "0";
        json_t *res = spec_update_resources(&req, &now);
        assert_non_null(res);
        struct berr e = { 0 };
        if (rt_cgroup_update(root, "/berth/u1", res, &e) < 0)
                fail_msg("%s", e.msg);
        json_decref(res);
        assert_file("berth/u1/memory.max", "67108864");
        assert_file("berth/u1/memory.swap.max", "67108864");
        assert_file("berth/u1/cpu.max", "50000 100000");
        assert_file("berth/u1/pids.max", "max");
        assert_file("berth/u1/cpuset.cpus", "0");
        assert_file("berth/u1/cpu.weight", "100"); /* not asked for: untouched */
        assert_file("berth/u1/memory.low", "0");

        /* a period alone keeps the quota set before; shares become a weight */
        req = update_hc();
        now = update_hc();
        req.cpu_period = now.cpu_period = 50000;
        now.cpu_quota = 25000;
        req.cpu_shares = now.cpu_shares = 512;
        res = spec_update_resources(&req, &now);
        if (rt_cgroup_update(root, "/berth/u1", res, &e) < 0)
                fail_msg("%s", e.msg);
        json_decref(res);
        assert_file("berth/u1/cpu.max", "25000 50000");
        assert_file("berth/u1/cpu.weight", "20");
        assert_file("berth/u1/memory.max", "67108864");
}

static void test_rt_cgroup_v1_update_writes_only_what_changes(void **state) {
        put("memory/cgroup.procs", "");
        put("pids/cgroup.procs", "");
        put("memory/berth/u2/memory.limit_in_bytes", "50331648");
        put("memory/berth/u2/memory.memsw.limit_in_bytes", "100663296");
        put("memory/berth/u2/memory.soft_limit_in_bytes", "0");
        put("pids/berth/u2/pids.max", "max");
        struct ctr_host_config req = update_hc(), now = update_hc();
        req.memory_reservation = now.memory_reservation = 32 << 20;
        req.pids_limit.set = now.pids_limit.set = true;
        req.pids_limit.v = now.pids_limit.v = 30;
        now.memory = 48 << 20;
        json_t *res = spec_update_resources(&req, &now);
        struct berr e = { 0 };
        if (rt_cgroup_update(root, "/berth/u2", res, &e) < 0)
                fail_msg("%s", e.msg);
        json_decref(res);
        assert_file("memory/berth/u2/memory.soft_limit_in_bytes", "33554432");
        assert_file("pids/berth/u2/pids.max", "30");
        assert_file("memory/berth/u2/memory.limit_in_bytes", "50331648"); /* not asked for */
        assert_file("memory/berth/u2/memory.memsw.limit_in_bytes", "100663296");

        /* a controller that is not mounted is an error, not silence */
        req = update_hc();
        now = update_hc();
        req.cpu_shares = now.cpu_shares = 512;
        res = spec_update_resources(&req, &now);
        assert_true(rt_cgroup_update(root, "/berth/u2", res, &e) < 0);
        json_decref(res);
}

static void test_rt_cgroup_path_must_stay_below_root(void **state) {
        put("cgroup.controllers", "memory\n");
        struct rt_cgroup *cg = NULL;
        struct berr e = { 0 };
        assert_true(rt_cgroup_open(root, "/berth/../../etc", &cg, &e) < 0);
        assert_int_equal(e.kind, BERR_INVALID);
        assert_true(rt_cgroup_open(root, "/", &cg, &e) < 0);
}

struct rules {
        char text[1024];
};

static int collect(bool allow, const char *line, void *userdata) {
        struct rules *r = userdata;
        size_t n = strlen(r->text);
        snprintf(r->text + n, sizeof(r->text) - n, "%s %s\n", allow ? "allow" : "deny", line);
        return 0;
}

static void test_rt_cgroup_v1_device_rules_follow_spec_then_defaults(void **state) {
        json_error_t je;
        json_t *res = json_loads("{\"devices\": [{\"allow\": false, \"access\": \"rwm\"},"
                                 " {\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 5, \"access\": \"rwm\"},"
                                 " {\"allow\": false, \"type\": \"c\", \"major\": 10, \"minor\": 229, \"access\": \"rwm\"}]}",
                                 0, &je);
        struct rules r = { "" };
        struct berr e;
        assert_int_equal(rt_devices_cgroup_rules(res, collect, &r, &e), 0);
        json_decref(res);
        static const char head[] = "deny a\nallow c 1:5 rwm\ndeny c 10:229 rwm\nallow c *:* m\nallow b *:* m\n";
        if (strncmp(r.text, head, strlen(head)) != 0)
                fail_msg("%s", r.text);
        assert_non_null(strstr(r.text, "allow c 136:* rwm\n"));
}

static void test_rt_cgroup_value_conversions(void **state) {
        int64_t quota;
        uint64_t period;
        rt_cgroup_cpus_to_quota(1500000000, &quota, &period); /* --cpus 1.5 */
        assert_int_equal(quota, 150000);
        assert_int_equal(period, 100000);
        rt_cgroup_cpus_to_quota(1000000, &quota, &period); /* --cpus 0.001: the kernel's 1ms floor */
        assert_int_equal(quota, 1000);
        rt_cgroup_cpus_to_quota(0, &quota, &period);
        assert_int_equal(quota, -1);

        assert_int_equal(rt_cgroup_shares_to_weight(0), 0);
        assert_int_equal(rt_cgroup_shares_to_weight(2), 1);
        assert_int_equal(rt_cgroup_shares_to_weight(1024), 39);
        assert_int_equal(rt_cgroup_shares_to_weight(262144), 10000);

        assert_int_equal(rt_cgroup_blkio_to_io_weight(0), 0);
        assert_int_equal(rt_cgroup_blkio_to_io_weight(10), 1);
        assert_int_equal(rt_cgroup_blkio_to_io_weight(500), 4950);
        assert_int_equal(rt_cgroup_blkio_to_io_weight(1000), 10000);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_rt_cgroup_v2_enables_controllers_and_writes_limits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rt_cgroup_v2_unlimited_values, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rt_cgroup_v1_finds_hierarchies_and_paths, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rt_cgroup_path_must_stay_below_root, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rt_cgroup_v2_update_writes_only_what_changes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rt_cgroup_v1_update_writes_only_what_changes, setup, teardown),
                cmocka_unit_test(test_rt_cgroup_v1_device_rules_follow_spec_then_defaults),
                cmocka_unit_test(test_rt_cgroup_value_conversions),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
