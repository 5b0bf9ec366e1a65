/* test_bpf_devices.c - the cgroup v2 device program: the v1 state machine it is built
 * from, the generated instructions run through a small interpreter of the subset the
 * generator emits (with the verifier's structural checks: every instruction reachable,
 * jumps in range, r0 set before exit) and compared with the v1 answer on a grid of
 * requests; and, as root, the program loaded into the kernel and attached to a cgroup of
 * a cgroup2 mount of the test's own, where mknod and open must obey it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "runtime/bpf_devices.h"
#include "runtime/runtime_int.h"

/* ---- the interpreter ---- */

struct dev_ctx {
        uint32_t access_type, major, minor;
};

/* The verifier's structural checks, for the subset we emit. */
static void check_structure(const struct bpf_insn *p, size_t n) {
        assert_true(n > 0 && n <= 4096);
        bool *seen = calloc(n, 1);
        assert_non_null(seen);
        size_t todo[4096], nt = 0;
        todo[nt++] = 0;
        while (nt) {
                size_t pc = todo[--nt];
                assert_true(pc < n);
                if (seen[pc])
                        continue;
                seen[pc] = true;
                uint8_t cls = BPF_CLASS(p[pc].code);
                if (cls == BPF_JMP && BPF_OP(p[pc].code) == BPF_EXIT)
                        continue;
                if (cls == BPF_JMP) {
                        long t = (long) pc + 1 + p[pc].off;
                        assert_true(t > (long) pc && t < (long) n); /* forward only: no loops */
                        todo[nt++] = (size_t) t;
                }
                assert_true(pc + 1 < n); /* no falling off the end */
                todo[nt++] = pc + 1;
        }
        for (size_t i = 0; i < n; i++)
                if (!seen[i])
                        fail_msg("instruction %zu is unreachable (the verifier refuses that)", i);
        free(seen);
}

static int run_program(const struct bpf_insn *p, size_t n, const struct dev_ctx *ctx) {
        uint64_t r[11] = { 0 };
        bool is_ctx[11] = { false }, init[11] = { false };
        is_ctx[1] = init[1] = true;
        for (size_t pc = 0, steps = 0; steps < 100000; steps++) {
                assert_true(pc < n);
                const struct bpf_insn *i = &p[pc];
                uint8_t cls = BPF_CLASS(i->code), op = BPF_OP(i->code);
                assert_true(i->dst_reg < 11 && i->src_reg < 11);
                if (cls == BPF_LDX) {
                        assert_int_equal(i->code, BPF_LDX | BPF_W | BPF_MEM);
                        assert_true(is_ctx[i->src_reg]);
                        assert_true(i->off >= 0 && i->off <= 8 && i->off % 4 == 0);
                        uint32_t v;
                        memcpy(&v, (const char *) ctx + i->off, 4);
                        r[i->dst_reg] = v;
                        is_ctx[i->dst_reg] = false;
                        init[i->dst_reg] = true;
                        pc++;
                } else if (cls == BPF_ALU) {
                        uint32_t src = BPF_SRC(i->code) == BPF_X ? (uint32_t) r[i->src_reg] : (uint32_t) i->imm;
                        if (BPF_SRC(i->code) == BPF_X)
                                assert_true(init[i->src_reg] && !is_ctx[i->src_reg]);
                        uint32_t dst = (uint32_t) r[i->dst_reg];
                        if (op != BPF_MOV)
                                assert_true(init[i->dst_reg] && !is_ctx[i->dst_reg]);
                        switch (op) {
                        case BPF_MOV: dst = src; break;
                        case BPF_AND: dst &= src; break;
                        case BPF_RSH: assert_true(src < 32); dst >>= src; break;
                        default: fail_msg("ALU op 0x%x is not one the generator emits", op);
                        }
                        r[i->dst_reg] = dst; /* 32-bit ALU zero-extends */
                        is_ctx[i->dst_reg] = false;
                        init[i->dst_reg] = true;
                        pc++;
                } else if (cls == BPF_JMP && op == BPF_EXIT) {
                        assert_true(init[0]);
                        return (int) r[0];
                } else if (cls == BPF_JMP) {
                        assert_true(init[i->dst_reg] && !is_ctx[i->dst_reg]);
                        uint64_t a = r[i->dst_reg];
                        uint64_t b = BPF_SRC(i->code) == BPF_X ? r[i->src_reg] : (uint64_t) (int64_t) i->imm;
                        bool taken;
                        switch (op) {
                        case BPF_JNE: taken = a != b; break;
                        case BPF_JEQ: taken = a == b; break;
                        default: fail_msg("jump op 0x%x is not one the generator emits", op); return -1;
                        }
                        pc += 1 + (taken ? (size_t) i->off : 0);
                } else
                        fail_msg("instruction class 0x%x is not one the generator emits", cls);
        }
        fail_msg("the program did not end");
        return -1;
}

static int verdict(const struct bpf_insn *p, size_t n, char type, uint32_t major, uint32_t minor, unsigned access) {
        struct dev_ctx ctx = { .access_type = (access << 16) | (type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK),
                               .major = major, .minor = minor };
        return run_program(p, n, &ctx);
}

/* The program and the v1 reference agree on every request of a grid around the rules. */
static void assert_program_matches_v1(const struct rt_dev_rules *rules, const struct bpf_insn *p, size_t n) {
        static const uint32_t majors[] = { 0, 1, 4, 5, 7, 8, 10, 136, 4095 };
        static const uint32_t minors[] = { 0, 1, 2, 3, 5, 7, 8, 9, 200, 229, 1048575 };
        static const char types[] = { 'c', 'b' };
        for (size_t t = 0; t < 2; t++)
                for (size_t a = 0; a < ELEMENTSOF(majors); a++)
                        for (size_t b = 0; b < ELEMENTSOF(minors); b++)
                                for (unsigned acc = 1; acc <= RT_DEV_ACC_ALL; acc++) {
                                        bool want = rt_dev_rules_allows(rules, types[t], majors[a], minors[b], acc);
                                        int got = verdict(p, n, types[t], majors[a], minors[b], acc);
                                        if (got != (want ? 1 : 0))
                                                fail_msg("%c %u:%u access %u: program says %d, v1 says %d", types[t],
                                                         majors[a], minors[b], acc, got, want);
                                }
}

struct built {
        struct rt_dev_rules rules;
        struct bpf_insn *prog;
        size_t n;
};

static int collect(bool allow, const char *line, void *userdata) {
        struct built *b = userdata;
        struct berr e;
        int r = rt_dev_rules_apply(&b->rules, allow, line, &e);
        if (r < 0)
                fail_msg("%s: %s", line, e.msg);
        return r;
}

/* The rules the runtime writes for a spec's linux.resources (the spec's, then runc's
 * default allow list), through the same path as cgroups.c. */
static void build_from_spec(struct built *b, const char *resources_json) {
        json_error_t je;
        json_t *res = json_loads(resources_json, 0, &je);
        assert_non_null(res);
        rt_dev_rules_init(&b->rules);
        struct berr e;
        assert_int_equal(rt_devices_cgroup_rules(res, collect, b, &e), 0);
        json_decref(res);
        if (rt_dev_rules_program(&b->rules, &b->prog, &b->n, &e) < 0)
                fail_msg("%s", e.msg);
        check_structure(b->prog, b->n);
        assert_program_matches_v1(&b->rules, b->prog, b->n);
}

static void built_done(struct built *b) {
        rt_dev_rules_done(&b->rules);
        free(b->prog);
}

#define R RT_DEV_ACC_READ
#define W RT_DEV_ACC_WRITE
#define M RT_DEV_ACC_MKNOD

static void test_bpf_devices_docker_defaults_and_a_device_cgroup_rule(void **state) {
        struct built b;
        /* dockerd: deny everything, then --device-cgroup-rule 'c 10:229 r'. */
        build_from_spec(&b, "{\"devices\": [{\"allow\": false, \"access\": \"rwm\"},"
                            " {\"allow\": true, \"type\": \"c\", \"major\": 10, \"minor\": 229, \"access\": \"r\"}]}");
        assert_false(b.rules.default_allow);
        assert_int_equal(verdict(b.prog, b.n, 'c', 1, 3, R | W), 1);  /* /dev/null */
        assert_int_equal(verdict(b.prog, b.n, 'c', 136, 7, R | W), 1); /* a pty */
        assert_int_equal(verdict(b.prog, b.n, 'c', 10, 229, R), 1);
        assert_int_equal(verdict(b.prog, b.n, 'c', 10, 229, W), 0);
        assert_int_equal(verdict(b.prog, b.n, 'c', 10, 229, R | W), 0);
        assert_int_equal(verdict(b.prog, b.n, 'c', 10, 229, M), 1); /* "c *:* m" */
        assert_int_equal(verdict(b.prog, b.n, 'b', 8, 0, M), 1);    /* "b *:* m" */
        assert_int_equal(verdict(b.prog, b.n, 'b', 8, 0, R), 0);
        assert_int_equal(verdict(b.prog, b.n, 'b', 7, 0, R | W), 0);
        assert_int_equal(verdict(b.prog, b.n, 'c', 1, 1, R), 0); /* /dev/mem */
        assert_int_equal(verdict(b.prog, b.n, 'c', 4, 1, W), 0);
        built_done(&b);
}

static void test_bpf_devices_privileged_allows_everything(void **state) {
        struct built b;
        build_from_spec(&b, "{\"devices\": [{\"allow\": true, \"access\": \"rwm\"}]}");
        assert_true(b.rules.default_allow);
        assert_int_equal(b.rules.n_ex, 0);
        assert_int_equal(verdict(b.prog, b.n, 'b', 8, 0, R | W | M), 1);
        assert_int_equal(verdict(b.prog, b.n, 'c', 1, 1, R | W), 1);
        built_done(&b);
}

static void test_bpf_devices_deny_list_refuses_any_denied_bit(void **state) {
        struct built b = { 0 };
        struct berr e;
        rt_dev_rules_init(&b.rules);
        assert_int_equal(rt_dev_rules_apply(&b.rules, false, "c 1:3 w", &e), 0);
        assert_int_equal(rt_dev_rules_apply(&b.rules, false, "b *:* m", &e), 0);
        assert_int_equal(rt_dev_rules_program(&b.rules, &b.prog, &b.n, &e), 0);
        check_structure(b.prog, b.n);
        assert_program_matches_v1(&b.rules, b.prog, b.n);
        assert_int_equal(verdict(b.prog, b.n, 'c', 1, 3, R), 1);
        assert_int_equal(verdict(b.prog, b.n, 'c', 1, 3, R | W), 0); /* partly denied: denied */
        assert_int_equal(verdict(b.prog, b.n, 'c', 1, 5, R | W), 1);
        assert_int_equal(verdict(b.prog, b.n, 'b', 7, 0, M), 0);
        assert_int_equal(verdict(b.prog, b.n, 'b', 7, 0, R), 1);
        free(b.prog);
        /* Allowing what the default allows cuts the deny entry. */
        assert_int_equal(rt_dev_rules_apply(&b.rules, true, "c 1:3 w", &e), 0);
        assert_int_equal(b.rules.n_ex, 1);
        assert_int_equal(rt_dev_rules_program(&b.rules, &b.prog, &b.n, &e), 0);
        assert_program_matches_v1(&b.rules, b.prog, b.n);
        assert_int_equal(verdict(b.prog, b.n, 'c', 1, 3, R | W), 1);
        built_done(&b);
}

static void test_bpf_devices_exceptions_merge_and_cut_as_v1(void **state) {
        struct rt_dev_rules r;
        struct berr e;
        rt_dev_rules_init(&r);
        assert_int_equal(rt_dev_rules_apply(&r, true, "c 1:3 r", &e), 0); /* allow-all: nothing to add */
        assert_int_equal(r.n_ex, 0);
        assert_int_equal(rt_dev_rules_apply(&r, false, "a", &e), 0);
        assert_false(r.default_allow);
        assert_int_equal(rt_dev_rules_apply(&r, true, "c 1:3 r", &e), 0);
        assert_int_equal(rt_dev_rules_apply(&r, true, "c 1:3 w", &e), 0);
        assert_int_equal(r.n_ex, 1);
        assert_int_equal(r.ex[0].access, R | W);
        assert_int_equal(rt_dev_rules_apply(&r, false, "c 1:3 r", &e), 0);
        assert_int_equal(r.ex[0].access, W);
        /* A deny of a wildcard does not cut a specific entry (v1 compares them exactly). */
        assert_int_equal(rt_dev_rules_apply(&r, false, "c *:* w", &e), 0);
        assert_int_equal(r.n_ex, 1);
        assert_int_equal(rt_dev_rules_apply(&r, false, "c 1:3 w", &e), 0);
        assert_int_equal(r.n_ex, 0);
        assert_int_equal(rt_dev_rules_apply(&r, true, "a", &e), 0);
        assert_true(r.default_allow);
        rt_dev_rules_done(&r);
}

static void test_bpf_devices_rejects_bad_rules(void **state) {
        static const char *const bad[] = { "x 1:3 r", "c 1:3", "c 1:3 ", "c 1:3 rx", "c 1 r", "c 1:3rw",
                                           "c 2147483648:1 r", "c 99999999999:1 r", "c -1:3 r", "", "c :3 r" };
        struct rt_dev_rules r;
        rt_dev_rules_init(&r);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct berr e;
                if (rt_dev_rules_apply(&r, false, bad[i], &e) != -EINVAL)
                        fail_msg("\"%s\" was accepted", bad[i]);
                assert_non_null(strstr(e.msg, "device rule"));
        }
        assert_true(r.default_allow);
        assert_int_equal(r.n_ex, 0);
        struct berr e;
        assert_int_equal(rt_dev_rules_apply(&r, false, "a", &e), 0);
        char line[64];
        for (int i = 0; i < RT_DEV_RULES_MAX; i++) {
                snprintf(line, sizeof(line), "c 200:%d r", i);
                assert_int_equal(rt_dev_rules_apply(&r, true, line, &e), 0);
        }
        assert_int_equal(rt_dev_rules_apply(&r, true, "c 201:0 r", &e), -E2BIG);
        assert_int_equal(rt_dev_rules_apply(&r, true, "c 200:5 w", &e), 0); /* merging needs no room */
        rt_dev_rules_done(&r);
}

/* ---- the kernel ---- */

static char mnt[64], cgdir[128], nodes[64];

static int kernel_setup(void **state) {
        *state = NULL;
        if (geteuid() != 0)
                return 0;
        snprintf(mnt, sizeof(mnt), "/tmp/berth-bpfdev-XXXXXX");
        snprintf(nodes, sizeof(nodes), "/var/tmp/berth-bpfdev-n-XXXXXX");
        if (!mkdtemp(mnt) || !mkdtemp(nodes))
                return -1;
        if (mount("none", mnt, "cgroup2", 0, NULL) < 0) {
                rmdir(mnt);
                mnt[0] = '\0';
                return 0;
        }
        snprintf(cgdir, sizeof(cgdir), "%s/berth-bpfdev-%d", mnt, (int) getpid());
        if (mkdir(cgdir, 0755) < 0)
                return -1;
        *state = cgdir;
        return 0;
}

static int kernel_teardown(void **state) {
        if (geteuid() != 0)
                return 0;
        if (cgdir[0])
                (void) rmdir(cgdir);
        if (mnt[0]) {
                (void) umount2(mnt, MNT_DETACH);
                (void) rmdir(mnt);
        }
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", nodes);
        return system(cmd) == 0 ? 0 : -1;
}

/* In a child inside the cgroup: bit 0 mknod c 1:3, bit 1 mknod c 1:5, bit 2 open the
 * host-made c 1:5 node for reading, bit 3 for writing; each bit set when it worked. */
static int probe_in_cgroup(const char *dir) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char p[256];
                snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
                int fd = open(p, O_WRONLY | O_CLOEXEC);
                if (fd < 0 || write(fd, "0", 1) != 1)
                        _exit(100);
                close(fd);
                int bits = 0;
                char a[128], b[128], c[128];
                snprintf(a, sizeof(a), "%s/null-%d", nodes, (int) getpid());
                snprintf(b, sizeof(b), "%s/zero-%d", nodes, (int) getpid());
                snprintf(c, sizeof(c), "%s/zero", nodes);
                if (mknod(a, S_IFCHR | 0600, makedev(1, 3)) == 0)
                        bits |= 1;
                if (mknod(b, S_IFCHR | 0600, makedev(1, 5)) == 0)
                        bits |= 2;
                else if (errno != EPERM)
                        _exit(101);
                fd = open(c, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                        bits |= 4;
                        close(fd);
                }
                fd = open(c, O_WRONLY | O_CLOEXEC);
                if (fd >= 0) {
                        bits |= 8;
                        close(fd);
                } else if (errno != EPERM)
                        _exit(102);
                unlink(a);
                unlink(b);
                _exit(bits);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static uint32_t attached_count(const char *dir) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        uint32_t ids[64];
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.query.target_fd = (uint32_t) fd;
        a.query.attach_type = BPF_CGROUP_DEVICE;
        a.query.prog_ids = (uint64_t) (uintptr_t) ids;
        a.query.prog_cnt = 64;
        assert_int_equal(syscall(SYS_bpf, BPF_PROG_QUERY, &a, sizeof(a)), 0);
        return a.query.prog_cnt;
}

static void attach_rules(const char *dir, const char *const *lines, size_t n_lines, const bool *allow) {
        struct rt_dev_rules r;
        struct berr e;
        rt_dev_rules_init(&r);
        for (size_t i = 0; i < n_lines; i++)
                assert_int_equal(rt_dev_rules_apply(&r, allow[i], lines[i], &e), 0);
        _cleanup_free_ struct bpf_insn *prog = NULL;
        size_t n;
        assert_int_equal(rt_dev_rules_program(&r, &prog, &n, &e), 0);
        rt_dev_rules_done(&r);
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        if (rt_bpf_devices_attach(fd, prog, n, &e) < 0)
                fail_msg("%s", e.msg);
}

static void test_bpf_devices_kernel_enforces_and_replaces(void **state) {
        if (!*state)
                skip(); /* not root, or no cgroup2 mount possible here */
        char zero[128];
        snprintf(zero, sizeof(zero), "%s/zero", nodes);
        assert_int_equal(mknod(zero, S_IFCHR | 0666, makedev(1, 5)), 0);
        assert_int_equal(probe_in_cgroup(cgdir), 1 | 2 | 4 | 8); /* nothing attached yet */

        static const char *const lines[] = { "a", "c 1:3 rwm", "c 1:5 r" };
        static const bool allow[] = { false, true, true };
        attach_rules(cgdir, lines, 3, allow);
        assert_int_equal(attached_count(cgdir), 1);
        /* mknod 1:3 works, mknod 1:5 (no m) is refused, reading 1:5 works, writing not. */
        assert_int_equal(probe_in_cgroup(cgdir), 1 | 4);

        /* Applying again (a restart, an update) replaces the program. */
        static const char *const all[] = { "a" };
        static const bool yes[] = { true };
        attach_rules(cgdir, all, 1, yes);
        assert_int_equal(attached_count(cgdir), 1);
        assert_int_equal(probe_in_cgroup(cgdir), 1 | 2 | 4 | 8);
        unlink(zero);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bpf_devices_docker_defaults_and_a_device_cgroup_rule),
                cmocka_unit_test(test_bpf_devices_privileged_allows_everything),
                cmocka_unit_test(test_bpf_devices_deny_list_refuses_any_denied_bit),
                cmocka_unit_test(test_bpf_devices_exceptions_merge_and_cut_as_v1),
                cmocka_unit_test(test_bpf_devices_rejects_bad_rules),
                cmocka_unit_test_setup_teardown(test_bpf_devices_kernel_enforces_and_replaces, kernel_setup,
                                                kernel_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
