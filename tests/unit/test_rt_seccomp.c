/* test_rt_seccomp.c - the OCI seccomp object compiled to BPF: rules take effect in a
 * forked child, the memory and disk caches hit on the same profile, bad profiles fail
 * with a message naming the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "runtime/runtime_int.h"

#define FIXTURE "tests/fixtures/oci-runtime-spec/busybox-sleep.config.json"

static const char deny_mkdir[] =
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\","
        " \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"],"
        " \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\", \"no_such_syscall\"], \"action\": \"SCMP_ACT_ERRNO\","
        " \"errnoRet\": 1}]}";

/* The same profile with its keys in another order: the cache key is canonical. */
static const char deny_mkdir_reordered[] =
        "{\"syscalls\": [{\"errnoRet\": 1, \"action\": \"SCMP_ACT_ERRNO\","
        " \"names\": [\"mkdir\", \"mkdirat\", \"no_such_syscall\"]}],"
        " \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"],"
        " \"defaultAction\": \"SCMP_ACT_ALLOW\"}";

static json_t *parse(const char *s) {
        json_error_t je;
        json_t *j = json_loads(s, 0, &je);
        if (!j)
                fail_msg("%s", je.text);
        return j;
}

/* Run @check in a child that loaded @p; returns the child's exit code. */
static int in_child(const struct rt_seccomp *p, int (*check)(void)) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct berr e;
                if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0 || rt_seccomp_load(p, &e) < 0)
                        _exit(100);
                _exit(check());
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static int check_mkdir_denied(void) {
        char dir[64];
        snprintf(dir, sizeof(dir), "/var/tmp/berth-seccomp-%d", (int) getpid());
        if (mkdir(dir, 0700) == 0) {
                rmdir(dir);
                return 1;
        }
        if (errno != EPERM)
                return 2;
        return getpid() > 0 ? 0 : 3; /* everything else still works */
}

static void test_rt_seccomp_errno_rule_denies_in_child(void **state) {
        rt_seccomp_cache_clear();
        json_t *prof = parse(deny_mkdir);
        const struct rt_seccomp *p = NULL;
        bool cached = true;
        struct berr e = { 0 };
        unsigned before = rt_seccomp_compile_count();
        if (rt_seccomp_compile(prof, &p, &cached, &e) < 0)
                fail_msg("%s", e.msg);
        assert_false(cached);
        assert_int_equal(rt_seccomp_compile_count(), before + 1);
        assert_true(p->len > 0);
        assert_int_equal(strlen(p->key), 32); /* hash128_hex */
        assert_int_equal(in_child(p, check_mkdir_denied), 0);
        json_decref(prof);
}

static void test_rt_seccomp_second_compile_hits_cache(void **state) {
        rt_seccomp_cache_clear();
        json_t *a = parse(deny_mkdir), *b = parse(deny_mkdir_reordered);
        const struct rt_seccomp *pa = NULL, *pb = NULL;
        bool cached;
        struct berr e = { 0 };
        assert_int_equal(rt_seccomp_compile(a, &pa, &cached, &e), 0);
        assert_false(cached);
        unsigned n = rt_seccomp_compile_count();
        assert_int_equal(rt_seccomp_compile(b, &pb, &cached, &e), 0);
        assert_true(cached);
        assert_ptr_equal(pa, pb);
        assert_int_equal(rt_seccomp_compile_count(), n);
        json_decref(a);
        json_decref(b);
}

static int check_docker_default(void) {
        if (syscall(SYS_unshare, 0) != -1 || errno != EPERM) /* not in the default allow list */
                return 1;
        if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS) /* errnoRet 38 in the profile */
                return 2;
        if (syscall(SYS_personality, 0xffffffffUL) < 0) /* allowed by an argument rule */
                return 3;
        return 0;
}

static void test_rt_seccomp_docker_default_profile(void **state) {
        json_error_t je;
        json_t *spec = json_load_file(FIXTURE, 0, &je);
        if (!spec)
                fail_msg("%s: %s", FIXTURE, je.text);
        const struct rt_seccomp *p = NULL;
        struct berr e = { 0 };
        if (rt_seccomp_compile(json_object_get(json_object_get(spec, "linux"), "seccomp"), &p, NULL, &e) < 0)
                fail_msg("%s", e.msg);
        assert_int_equal(in_child(p, check_docker_default), 0);
        json_decref(spec);
}

/* Enough names for the binary tree layout (seccomp.c): the syscalls named are denied, their
 * neighbours by number and the rest still work. */
static const char deny_many[] =
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\","
        " \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"],"
        " \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\", \"chmod\", \"fchmod\", \"fchmodat\", \"rename\","
        " \"renameat\", \"renameat2\", \"symlink\", \"symlinkat\", \"link\", \"linkat\"],"
        " \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1},"
        " {\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 5,"
        " \"args\": [{\"index\": 0, \"value\": 7, \"op\": \"SCMP_CMP_EQ\"}]}]}";

static int check_many_denied(void) {
        if (check_mkdir_denied() != 0)
                return 1;
        if (syscall(SYS_renameat2, AT_FDCWD, "/nonexistent-a", AT_FDCWD, "/nonexistent-b", 0) != -1 || errno != EPERM)
                return 2;
        if (syscall(SYS_linkat, AT_FDCWD, "/nonexistent-a", AT_FDCWD, "/nonexistent-b", 0) != -1 || errno != EPERM)
                return 3;
        /* rmdir (84) sits between mkdir (83) and link (86): allowed, so the kernel answers */
        if (syscall(SYS_rmdir, "/nonexistent-berth-dir") != -1 || errno != ENOENT)
                return 4;
        if (syscall(SYS_getppid, 7) != -1 || errno != 5) /* an argument rule */
                return 5;
        if (syscall(SYS_getppid, 8) <= 0)
                return 6;
        return getpid() > 0 && syscall(SYS_close_range, 1000, 1001, 0) == 0 ? 0 : 7;
}

static void test_rt_seccomp_many_rules_deny_exactly(void **state) {
        rt_seccomp_cache_clear();
        json_t *prof = parse(deny_many);
        const struct rt_seccomp *p = NULL;
        struct berr e = { 0 };
        if (rt_seccomp_compile(prof, &p, NULL, &e) < 0)
                fail_msg("%s", e.msg);
        assert_int_equal(in_child(p, check_many_denied), 0);
        json_decref(prof);
        rt_seccomp_cache_clear();
}

/* No rules at all: a chain, not a tree (with no rules, libseccomp before 2.5.4 made a tree
 * that ignored the default action: every syscall was killed). */
static int check_allowed(void) {
        return getppid() > 0 && syscall(SYS_close_range, 1000, 1001, 0) == 0 ? 0 : 1;
}

static void test_rt_seccomp_no_rules_default_action(void **state) {
        rt_seccomp_cache_clear();
        json_t *prof = parse("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86_64\"]}");
        const struct rt_seccomp *p = NULL;
        struct berr e = { 0 };
        if (rt_seccomp_compile(prof, &p, NULL, &e) < 0)
                fail_msg("%s", e.msg);
        assert_int_equal(in_child(p, check_allowed), 0);
        json_decref(prof);
        rt_seccomp_cache_clear();
}

static void test_rt_seccomp_disk_cache_survives_memory_clear(void **state) {
        char dir[64];
        snprintf(dir, sizeof(dir), "/var/tmp/berth-sc-XXXXXX");
        assert_non_null(mkdtemp(dir));
        rt_set_seccomp_cache_dir(dir);
        rt_seccomp_cache_clear();
        json_t *prof = parse(deny_mkdir);
        const struct rt_seccomp *p = NULL;
        bool cached;
        struct berr e = { 0 };
        assert_int_equal(rt_seccomp_compile(prof, &p, &cached, &e), 0);
        assert_false(cached);
        char key[65];
        snprintf(key, sizeof(key), "%s", p->key);
        rt_seccomp_cache_clear(); /* as a new shim process would start */
        unsigned n = rt_seccomp_compile_count();
        assert_int_equal(rt_seccomp_compile(prof, &p, &cached, &e), 0);
        assert_true(cached);
        assert_int_equal(rt_seccomp_compile_count(), n);
        assert_int_equal(in_child(p, check_mkdir_denied), 0);
        char file[160];
        snprintf(file, sizeof(file), "%s/%s.bpf", dir, key);
        assert_int_equal(unlink(file), 0);
        assert_int_equal(rmdir(dir), 0);
        rt_set_seccomp_cache_dir(NULL);
        rt_seccomp_cache_clear();
        json_decref(prof);
}

static void test_rt_seccomp_bad_profiles_name_the_problem(void **state) {
        static const struct {
                const char *json, *msg;
        } cases[] = {
                { "{\"defaultAction\": \"SCMP_ACT_NOPE\"}", "seccomp: unknown action \"SCMP_ACT_NOPE\"" },
                { "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_VAX\"]}",
                  "seccomp: unknown architecture \"SCMP_ARCH_VAX\"" },
                { "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": "
                  "\"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_ALMOST\"}]}]}",
                  "seccomp: unknown operator \"SCMP_CMP_ALMOST\"" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                json_t *prof = parse(cases[i].json);
                const struct rt_seccomp *p = NULL;
                struct berr e = { 0 };
                assert_true(rt_seccomp_compile(prof, &p, NULL, &e) < 0);
                assert_string_equal(e.msg, cases[i].msg);
                json_decref(prof);
        }
        rt_seccomp_cache_clear();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rt_seccomp_errno_rule_denies_in_child),
                cmocka_unit_test(test_rt_seccomp_second_compile_hits_cache),
                cmocka_unit_test(test_rt_seccomp_docker_default_profile),
                cmocka_unit_test(test_rt_seccomp_many_rules_deny_exactly),
                cmocka_unit_test(test_rt_seccomp_no_rules_default_action),
                cmocka_unit_test(test_rt_seccomp_disk_cache_survives_memory_clear),
                cmocka_unit_test(test_rt_seccomp_bad_profiles_name_the_problem),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
