/* bpf_devices.c - the container's device rules on cgroup v2, where the kernel has no
 * devices.allow: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE on its cgroup that
 * answers every mknod and open of a device node (runc's libcontainer/cgroups/devices and
 * crun's ebpf_linux.c do the same).
 *
 * The rules are the lines berth writes to devices.allow/devices.deny on v1. They go
 * through the v1 kernel's own state machine first (a default, and exceptions that are
 * added or cut as allow and deny lines arrive; security/device_cgroup.c), so both
 * versions answer alike; the program is then a list of exceptions and the default.
 * The instructions are assembled here, a few per exception:
 *
 *     r2 = ctx->access_type & 0xffff      device type (BPF_DEVCG_DEV_*)
 *     r3 = ctx->access_type >> 16         requested access (BPF_DEVCG_ACC_*)
 *     r4 = ctx->major; r5 = ctx->minor
 *   per exception:
 *     if r2 != TYPE goto next
 *     r1 = r3 & ACCESS; if r1 != r3 goto next   (allow: every requested bit granted)
 *                       if r1 == 0 goto next    (deny: any requested bit denied)
 *     if r4 != MAJOR goto next; if r5 != MINOR goto next   ("*": no test)
 *     r0 = verdict; exit
 *   r0 = default; exit
 */
#include "bpf_devices.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"

/* ---- the v1 state machine ---- */

void rt_dev_rules_init(struct rt_dev_rules *r) {
        *r = (struct rt_dev_rules){ .default_allow = true };
}

void rt_dev_rules_done(struct rt_dev_rules *r) {
        free(r->ex);
        rt_dev_rules_init(r);
}

/* A major or minor: "*" or a decimal number the program can compare as an immediate. */
static bool parse_number(const char **p, uint32_t *ret) {
        if (**p == '*') {
                (*p)++;
                *ret = RT_DEV_ANY;
                return true;
        }
        if (!isdigit((unsigned char) **p))
                return false;
        uint64_t v = 0;
        while (isdigit((unsigned char) **p)) {
                v = v * 10 + (uint64_t) (**p - '0');
                if (v > INT32_MAX)
                        return false;
                (*p)++;
        }
        *ret = (uint32_t) v;
        return true;
}

/* "a" (the kernel reads only the first letter then) or "T MAJ:MIN ACCESS". */
static int parse_line(const char *line, bool *ret_all, struct rt_dev_exception *ret, struct berr *err) {
        if (line[0] == 'a') {
                *ret_all = true;
                return 0;
        }
        *ret_all = false;
        const char *p = line;
        struct rt_dev_exception ex = { .type = *p };
        bool ok = (ex.type == 'c' || ex.type == 'b') && *++p == ' ';
        if (ok) {
                p++;
                ok = parse_number(&p, &ex.major) && *p++ == ':' && parse_number(&p, &ex.minor) && *p++ == ' ';
        }
        for (; ok && *p; p++) {
                unsigned bit = *p == 'r' ? RT_DEV_ACC_READ : *p == 'w' ? RT_DEV_ACC_WRITE : *p == 'm' ? RT_DEV_ACC_MKNOD : 0;
                ok = bit != 0;
                ex.access |= bit;
        }
        if (!ok || ex.access == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "device rule \"%s\": want \"a\" or \"c|b MAJOR:MINOR rwm\"", line);
        *ret = ex;
        return 0;
}

static bool same_device(const struct rt_dev_exception *a, const struct rt_dev_exception *b) {
        return a->type == b->type && a->major == b->major && a->minor == b->minor;
}

int rt_dev_rules_apply(struct rt_dev_rules *r, bool allow, const char *line, struct berr *err) {
        bool all;
        struct rt_dev_exception ex;
        int rc = parse_line(line, &all, &ex, err);
        if (rc < 0)
                return rc;
        if (all) { /* a new default, and the exceptions to the old one are gone */
                free(r->ex);
                r->ex = NULL;
                r->n_ex = 0;
                r->default_allow = allow;
                return 0;
        }
        if (allow == r->default_allow) { /* what the default says anyway: cut it from exceptions */
                size_t o = 0;
                for (size_t i = 0; i < r->n_ex; i++) {
                        if (same_device(&r->ex[i], &ex))
                                r->ex[i].access &= ~ex.access;
                        if (r->ex[i].access)
                                r->ex[o++] = r->ex[i];
                }
                r->n_ex = o;
                return 0;
        }
        for (size_t i = 0; i < r->n_ex; i++)
                if (same_device(&r->ex[i], &ex)) {
                        r->ex[i].access |= ex.access;
                        return 0;
                }
        if (r->n_ex >= RT_DEV_RULES_MAX)
                return berr_set(err, BERR_INVALID, E2BIG, "too many device rules (at most %d)", RT_DEV_RULES_MAX);
        struct rt_dev_exception *grown = realloc(r->ex, (r->n_ex + 1) * sizeof(*grown));
        if (!grown)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        r->ex = grown;
        r->ex[r->n_ex++] = ex;
        return 0;
}

static bool number_matches(uint32_t rule, uint32_t v) {
        return rule == RT_DEV_ANY || rule == v;
}

bool rt_dev_rules_allows(const struct rt_dev_rules *r, char type, uint32_t major, uint32_t minor, unsigned access) {
        for (size_t i = 0; i < r->n_ex; i++) {
                const struct rt_dev_exception *e = &r->ex[i];
                if (e->type != type || !number_matches(e->major, major) || !number_matches(e->minor, minor))
                        continue;
                if (!r->default_allow && (access & ~e->access) == 0)
                        return true; /* an allow-list entry grants all that is asked */
                if (r->default_allow && (access & e->access) != 0)
                        return false; /* a deny-list entry refuses any part of it */
        }
        return r->default_allow;
}

/* ---- assembling ---- */

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
        return (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}

#define LDX_W(dst, src, off) insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0)
#define ALU32_IMM(op, dst, imm) insn(BPF_ALU | (op) | BPF_K, dst, 0, 0, imm)
#define MOV32_REG(dst, src) insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define JMP_IMM(op, dst, imm, off) insn(BPF_JMP | (op) | BPF_K, dst, 0, off, imm)
#define JMP_REG(op, dst, src, off) insn(BPF_JMP | (op) | BPF_X, dst, src, off, 0)
#define EXIT() insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

#define BLOCK_MAX 8 /* instructions of one exception, at most */

/* One exception's test: jumps to the end of the block (the next test) when it does not
 * apply, returns the verdict when it does. Jump offsets are filled in at the end. */
static size_t exception_block(const struct rt_dev_exception *e, bool allow, struct bpf_insn *b) {
        size_t n = 0;
        b[n++] = JMP_IMM(BPF_JNE, BPF_REG_2, e->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, 0);
        if (e->access != RT_DEV_ACC_ALL) { /* "rwm" covers and meets every request */
                b[n++] = MOV32_REG(BPF_REG_1, BPF_REG_3);
                b[n++] = ALU32_IMM(BPF_AND, BPF_REG_1, (int32_t) e->access);
                b[n++] = allow ? JMP_REG(BPF_JNE, BPF_REG_1, BPF_REG_3, 0) : JMP_IMM(BPF_JEQ, BPF_REG_1, 0, 0);
        }
        if (e->major != RT_DEV_ANY)
                b[n++] = JMP_IMM(BPF_JNE, BPF_REG_4, (int32_t) e->major, 0);
        if (e->minor != RT_DEV_ANY)
                b[n++] = JMP_IMM(BPF_JNE, BPF_REG_5, (int32_t) e->minor, 0);
        b[n++] = ALU32_IMM(BPF_MOV, BPF_REG_0, allow ? 1 : 0);
        b[n++] = EXIT();
        for (size_t i = 0; i < n; i++)
                if (BPF_CLASS(b[i].code) == BPF_JMP && BPF_OP(b[i].code) != BPF_EXIT)
                        b[i].off = (int16_t) (n - i - 1); /* to the first instruction after the block */
        return n;
}

int rt_dev_rules_program(const struct rt_dev_rules *r, struct bpf_insn **ret, size_t *ret_n, struct berr *err) {
        static const size_t prologue = 6, epilogue = 2;
        size_t cap = prologue + r->n_ex * BLOCK_MAX + epilogue;
        _cleanup_free_ struct bpf_insn *p = calloc(cap, sizeof(*p));
        if (!p)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t n = 0;
        /* struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; } */
        p[n++] = LDX_W(BPF_REG_2, BPF_REG_1, 0);
        p[n++] = ALU32_IMM(BPF_AND, BPF_REG_2, 0xffff);
        p[n++] = LDX_W(BPF_REG_3, BPF_REG_1, 0);
        p[n++] = ALU32_IMM(BPF_RSH, BPF_REG_3, 16);
        p[n++] = LDX_W(BPF_REG_4, BPF_REG_1, 4);
        p[n++] = LDX_W(BPF_REG_5, BPF_REG_1, 8);
        /* Exceptions all carry the verdict opposite to the default, so their order does
         * not matter; none is type "a", so none is unconditional and nothing after it is
         * unreachable (the verifier refuses unreachable instructions). */
        for (size_t i = 0; i < r->n_ex; i++)
                n += exception_block(&r->ex[i], !r->default_allow, p + n);
        p[n++] = ALU32_IMM(BPF_MOV, BPF_REG_0, r->default_allow ? 1 : 0);
        p[n++] = EXIT();
        *ret = TAKE_PTR(p);
        *ret_n = n;
        return 0;
}

/* ---- loading and attaching ---- */

static int sys_bpf(int cmd, union bpf_attr *a) {
        return (int) syscall(SYS_bpf, cmd, a, sizeof(*a));
}

/* The kernel wants a license string; the program calls no helper at all, GPL-only or not. */
static const char license[] = "berth";

static int prog_load(const struct bpf_insn *insns, size_t n, char *log, size_t log_size) {
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
        a.insns = (uint64_t) (uintptr_t) insns;
        a.insn_cnt = (uint32_t) n;
        a.license = (uint64_t) (uintptr_t) license;
        if (log) {
                a.log_buf = (uint64_t) (uintptr_t) log;
                a.log_size = (uint32_t) log_size;
                a.log_level = 1;
        }
        memcpy(a.prog_name, "berth_devices", sizeof("berth_devices"));
        return sys_bpf(BPF_PROG_LOAD, &a); /* the kernel's bpf fds are close-on-exec */
}

/* Does this kernel load device programs at all? EINVAL for ours could be either. */
static bool device_programs_supported(void) {
        const struct bpf_insn allow_all[] = { ALU32_IMM(BPF_MOV, BPF_REG_0, 1), EXIT() };
        int fd = prog_load(allow_all, ELEMENTSOF(allow_all), NULL, 0);
        if (fd < 0)
                return false;
        (void) close(fd);
        return true;
}

static int load(const struct bpf_insn *insns, size_t n, int *ret_fd, struct berr *err) {
        int fd = prog_load(insns, n, NULL, 0);
        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        int e = errno;
        if (e == ENOSYS || e == EPERM || (e == EINVAL && !device_programs_supported()))
                return berr_set(err, BERR_UNAVAILABLE, EOPNOTSUPP, "load the cgroup device program: %s", strerror(e));
        /* Ours was refused: the verifier says why (again, with its log this time). */
        char log[2048] = "";
        fd = prog_load(insns, n, log, sizeof(log));
        if (fd >= 0) { /* passed the second time round: a transient failure */
                *ret_fd = fd;
                return 0;
        }
        log[sizeof(log) - 1] = '\0';
        for (char *c = log; *c; c++)
                if (*c == '\n')
                        *c = ' ';
        return berr_set(err, BERR_INTERNAL, e, "load the cgroup device program (%zu instructions): %s%s%s", n,
                        strerror(e), log[0] ? ": " : "", log);
}

static int prog_id(int prog_fd, uint32_t *ret) {
        struct bpf_prog_info info;
        memset(&info, 0, sizeof(info));
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.info.bpf_fd = (uint32_t) prog_fd;
        a.info.info_len = sizeof(info);
        a.info.info = (uint64_t) (uintptr_t) &info;
        if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a) < 0)
                return -errno;
        *ret = info.id;
        return 0;
}

/* Every device program attached to the cgroup itself (not its parents') but @keep. */
static int detach_others(int cgroup_fd, uint32_t keep, struct berr *err) {
        uint32_t ids[64];
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.query.target_fd = (uint32_t) cgroup_fd;
        a.query.attach_type = BPF_CGROUP_DEVICE;
        a.query.prog_ids = (uint64_t) (uintptr_t) ids;
        a.query.prog_cnt = ELEMENTSOF(ids); /* the kernel attaches at most 64 per cgroup */
        if (sys_bpf(BPF_PROG_QUERY, &a) < 0)
                return berr_sys(err, BERR_INTERNAL, "list the cgroup's device programs");
        for (uint32_t i = 0; i < a.query.prog_cnt && i < ELEMENTSOF(ids); i++) {
                if (ids[i] == keep)
                        continue;
                union bpf_attr g;
                memset(&g, 0, sizeof(g));
                g.prog_id = ids[i];
                _cleanup_close_ int old = sys_bpf(BPF_PROG_GET_FD_BY_ID, &g);
                if (old < 0)
                        return berr_sys(err, BERR_INTERNAL, "open device program %u", ids[i]);
                union bpf_attr d;
                memset(&d, 0, sizeof(d));
                d.target_fd = (uint32_t) cgroup_fd;
                d.attach_bpf_fd = (uint32_t) old;
                d.attach_type = BPF_CGROUP_DEVICE;
                if (sys_bpf(BPF_PROG_DETACH, &d) < 0 && errno != ENOENT) /* ENOENT: gone meanwhile */
                        return berr_sys(err, BERR_INTERNAL, "detach device program %u", ids[i]);
        }
        return 0;
}

int rt_bpf_devices_attach(int cgroup_fd, const struct bpf_insn *insns, size_t n, struct berr *err) {
        _cleanup_close_ int prog = -1;
        int r = load(insns, n, &prog, err);
        if (r < 0)
                return r;
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.target_fd = (uint32_t) cgroup_fd;
        a.attach_bpf_fd = (uint32_t) prog;
        a.attach_type = BPF_CGROUP_DEVICE;
        a.attach_flags = BPF_F_ALLOW_MULTI;
        if (sys_bpf(BPF_PROG_ATTACH, &a) < 0)
                return berr_sys(err, BERR_INTERNAL, "attach the cgroup device program");
        uint32_t id = 0;
        r = prog_id(prog, &id);
        if (r < 0) {
                errno = -r;
                return berr_sys(err, BERR_INTERNAL, "read the device program's id");
        }
        /* The cgroup holds the program now; our fd goes. */
        return detach_others(cgroup_fd, id, err);
}
