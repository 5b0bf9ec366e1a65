/* test_seccomp_profile.c - Docker's seccomp profile format -> OCI linux.seccomp: rule
 * selection by capability, architecture and kernel, archMap flattening, parse errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "runtime/caps.h"
#include "runtime/seccomp_profile.h"

static json_t *convert(const char *const *caps, size_t n, const char *arch, const char *kernel) {
        const json_t *p = NULL;
        struct berr err = { 0 };
        if (seccomp_default_profile(&p, &err) < 0)
                fail_msg("%s", err.msg);
        json_t *out = NULL;
        if (seccomp_profile_to_oci(p, caps, n, arch, kernel, &out, &err) < 0)
                fail_msg("%s", err.msg);
        assert_non_null(out);
        return out;
}

static json_t *default_caps(const char *arch, const char *kernel) {
        return convert(caps_docker_default, caps_docker_default_count, arch, kernel);
}

/* The rule that lists @name, and how many do. */
static json_t *rule_for(json_t *oci, const char *name, size_t *ret_count) {
        json_t *found = NULL;
        size_t count = 0, i, k;
        json_t *r, *n;
        json_array_foreach(json_object_get(oci, "syscalls"), i, r) {
                json_array_foreach(json_object_get(r, "names"), k, n) {
                        if (strcmp(json_string_value(n), name) == 0) {
                                if (!found)
                                        found = r;
                                count++;
                        }
                }
        }
        if (ret_count)
                *ret_count = count;
        return found;
}

static void test_seccomp_default_profile_embedded_unchanged(void **state) {
        /* the generated file holds the bytes of src/runtime/seccomp-default.json */
        FILE *f = fopen("src/runtime/seccomp-default.json", "rb");
        assert_non_null(f);
        char *buf = malloc(seccomp_default_profile_json_len + 2);
        size_t n = fread(buf, 1, seccomp_default_profile_json_len + 1, f);
        fclose(f);
        assert_int_equal(n, seccomp_default_profile_json_len);
        assert_memory_equal(buf, seccomp_default_profile_json, n);
        free(buf);
}

static void test_seccomp_default_caps_amd64(void **state) {
        json_t *o = default_caps("x86_64", "6.1.0-13-amd64");
        assert_string_equal(json_string_value(json_object_get(o, "defaultAction")), "SCMP_ACT_ERRNO");
        assert_int_equal(json_integer_value(json_object_get(o, "defaultErrnoRet")), 1);
        json_t *archs = json_pack("[sss]", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32");
        assert_true(json_equal(json_object_get(o, "architectures"), archs));
        json_decref(archs);
        /* 33 rules in the profile; for amd64, default caps and a new kernel: the big allow list,
         * ptrace group, 3 socket, 5 personality, arch_prctl, modify_ldt, clone (masked),
         * clone3 (ENOSYS), chroot (CAP_SYS_CHROOT) = 15 */
        assert_int_equal(json_array_size(json_object_get(o, "syscalls")), 15);
        size_t count;
        json_t *r = rule_for(o, "clone3", &count);
        assert_int_equal(count, 1);
        assert_string_equal(json_string_value(json_object_get(r, "action")), "SCMP_ACT_ERRNO");
        assert_int_equal(json_integer_value(json_object_get(r, "errnoRet")), 38);
        r = rule_for(o, "clone", &count);
        assert_int_equal(count, 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "args"), 0), "op")),
                            "SCMP_CMP_MASKED_EQ");
        assert_non_null(rule_for(o, "arch_prctl", NULL));
        assert_non_null(rule_for(o, "chroot", NULL));
        assert_null(rule_for(o, "mount", NULL));       /* CAP_SYS_ADMIN only */
        assert_null(rule_for(o, "reboot", NULL));      /* CAP_SYS_BOOT only */
        assert_null(rule_for(o, "io_uring_setup", NULL));
        assert_null(rule_for(o, "s390_runtime_instr", NULL));
        /* comments and includes/excludes are gone; no empty args */
        size_t i;
        json_array_foreach(json_object_get(o, "syscalls"), i, r) {
                assert_null(json_object_get(r, "includes"));
                assert_null(json_object_get(r, "excludes"));
                assert_null(json_object_get(r, "comment"));
                if (json_object_get(r, "args"))
                        assert_true(json_array_size(json_object_get(r, "args")) > 0);
        }
        json_decref(o);
}

static void test_seccomp_sys_admin_unlocks_clone_and_mount(void **state) {
        const char *caps[] = { "CAP_CHOWN", "CAP_SYS_ADMIN" };
        json_t *o = convert(caps, 2, "amd64", "6.1");
        size_t count;
        json_t *r = rule_for(o, "clone", &count);
        assert_int_equal(count, 1); /* the unrestricted one from the SYS_ADMIN rule */
        assert_null(json_object_get(r, "args"));
        r = rule_for(o, "clone3", &count);
        assert_string_equal(json_string_value(json_object_get(r, "action")), "SCMP_ACT_ALLOW");
        assert_non_null(rule_for(o, "mount", NULL));
        assert_null(rule_for(o, "chroot", NULL)); /* no CAP_SYS_CHROOT */
        json_decref(o);
}

static void test_seccomp_min_kernel(void **state) {
        json_t *o = default_caps("x86_64", "4.4.0");
        assert_null(rule_for(o, "ptrace", NULL)); /* minKernel 4.8 */
        json_decref(o);
        o = default_caps("x86_64", "4.8.1");
        assert_non_null(rule_for(o, "ptrace", NULL));
        json_decref(o);
}

static void test_seccomp_arch_aarch64(void **state) {
        json_t *o = default_caps("aarch64", "6.1");
        json_t *archs = json_pack("[ss]", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM");
        assert_true(json_equal(json_object_get(o, "architectures"), archs));
        json_decref(archs);
        assert_null(rule_for(o, "arch_prctl", NULL));
        assert_non_null(rule_for(o, "arm_fadvise64_64", NULL));
        json_decref(o);
        o = default_caps("riscv64", "6.1"); /* archMap entry without sub-architectures */
        archs = json_pack("[s]", "SCMP_ARCH_RISCV64");
        assert_true(json_equal(json_object_get(o, "architectures"), archs));
        json_decref(archs);
        json_decref(o);
}

static json_t *convert_text(const char *text, struct berr *err, int *ret_r) {
        json_t *p = NULL, *out = NULL;
        *ret_r = seccomp_profile_parse(text, strlen(text), &p, err);
        if (*ret_r < 0)
                return NULL;
        *ret_r = seccomp_profile_to_oci(p, caps_docker_default, caps_docker_default_count, "x86_64", "6.1", &out, err);
        json_decref(p);
        return out;
}

static void test_seccomp_custom_profile(void **state) {
        struct berr err = { 0 };
        int r;
        json_t *o = convert_text("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86_64\"], "
                                 "\"syscalls\": [{\"name\": \"mkdir\", \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13, "
                                 "\"args\": [{\"index\": 1, \"value\": 7, \"valueTwo\": 0, \"op\": \"SCMP_CMP_EQ\"}]}, "
                                 "{\"names\": [\"chmod\"], \"action\": \"SCMP_ACT_ERRNO\", \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}}]}",
                                 &err, &r);
        assert_int_equal(r, 0);
        json_t *want = json_loads("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86_64\"], "
                                  "\"syscalls\": [{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13, "
                                  "\"args\": [{\"index\": 1, \"value\": 7, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                                  0, NULL);
        assert_true(json_equal(o, want));
        json_decref(want);
        json_decref(o);

        /* nothing in it: no filter at all, as in Docker */
        o = convert_text("{}", &err, &r);
        assert_int_equal(r, 0);
        assert_null(o);
}

static void test_seccomp_bad_profiles(void **state) {
        static const struct {
                const char *text, *msg_prefix;
        } bad[] = {
                { "{nope", "Decoding seccomp profile failed: " },
                { "[]", "Decoding seccomp profile failed: expected a JSON object, got array" },
                { "{\"syscalls\": {}}", "Decoding seccomp profile failed: syscalls: expected an array" },
                { "{\"syscalls\": [{\"names\": [1]}]}", "Decoding seccomp profile failed: syscalls[0]: bad type" },
                { "{\"syscalls\": [{\"name\": \"a\", \"names\": [\"b\"]}]}", "use either 'name' or 'names'" },
                { "{\"architectures\": [\"SCMP_ARCH_X86\"], \"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\"}]}",
                  "both 'architectures' and 'archMap' are specified in the seccomp profile" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"a\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"minKernel\": \"x\"}}]}",
                  "Decoding seccomp profile failed: invalid kernel version: x" },
                { "{\"syscalls\": [{\"names\": [\"a\"], \"args\": [{\"index\": -1, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                  "Decoding seccomp profile failed: syscalls[0].args" },
                /* values libseccomp would refuse at start: named with their rule at once */
                { "{\"defaultAction\": \"SCMP_ACT_DENY\"}", "invalid seccomp profile: defaultAction: unknown action \"SCMP_ACT_DENY\"" },
                { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"}, "
                  "{\"names\": [\"mkdir\", \"rmdir\"], \"action\": \"SCMP_ACT_ALOW\"}]}",
                  "invalid seccomp profile: syscalls[1] (mkdir, rmdir): unknown action \"SCMP_ACT_ALOW\"" },
                { "{\"syscalls\": [{\"name\": \"mkdir\", \"action\": \"SCMP_ACT_ERRNO\", "
                  "\"args\": [{\"index\": 1, \"value\": 0, \"op\": \"SCMP_CMP_EQUAL\"}]}]}",
                  "invalid seccomp profile: syscalls[0] (mkdir): unknown operator \"SCMP_CMP_EQUAL\"" },
                { "{\"syscalls\": [{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\", "
                  "\"args\": [{\"index\": 6, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                  "invalid seccomp profile: syscalls[0] (mkdir): argument index out of range (0-5) \"6\"" },
                { "{\"syscalls\": [{\"names\": [\"mkdir\"]}]}", "invalid seccomp profile: syscalls[0] (mkdir): missing action" },
                { "{\"architectures\": [\"SCMP_ARCH_VAX\"]}",
                  "invalid seccomp profile: architectures[0]: unknown architecture \"SCMP_ARCH_VAX\"" },
                { "{\"flags\": [\"SECCOMP_FILTER_FLAG_FAST\"]}", "invalid seccomp profile: flags[0]: unknown flag" },
                { "{\"syscalls\": [{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}",
                  "invalid seccomp profile: syscalls[0] (mkdir): action not supported by berth \"SCMP_ACT_NOTIFY\"" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct berr err = { 0 };
                int r;
                json_t *o = convert_text(bad[i].text, &err, &r);
                if (r >= 0)
                        fail_msg("accepted: %s", bad[i].text);
                assert_null(o);
                assert_int_equal(err.kind, BERR_INVALID);
                if (strncmp(err.msg, bad[i].msg_prefix, strlen(bad[i].msg_prefix)) != 0)
                        fail_msg("%s: got \"%s\"", bad[i].text, err.msg);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_seccomp_default_profile_embedded_unchanged),
                cmocka_unit_test(test_seccomp_default_caps_amd64),
                cmocka_unit_test(test_seccomp_sys_admin_unlocks_clone_and_mount),
                cmocka_unit_test(test_seccomp_min_kernel),
                cmocka_unit_test(test_seccomp_arch_aarch64),
                cmocka_unit_test(test_seccomp_custom_profile),
                cmocka_unit_test(test_seccomp_bad_profiles),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
