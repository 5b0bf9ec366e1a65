/* bpf_devices.h - cgroup v2 device rules as an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE):
 * the v1 devices cgroup's semantics computed here, the program hand-assembled from them,
 * loaded and attached to the container's cgroup (as runc and crun do). */
#pragma once

#include <linux/bpf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* The kernel's BPF_DEVCG_ACC_* bits, the access of a request or a rule. */
enum {
        RT_DEV_ACC_MKNOD = BPF_DEVCG_ACC_MKNOD,
        RT_DEV_ACC_READ = BPF_DEVCG_ACC_READ,
        RT_DEV_ACC_WRITE = BPF_DEVCG_ACC_WRITE,
        RT_DEV_ACC_ALL = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE,
};

#define RT_DEV_ANY UINT32_MAX /* "*" as a major or minor */
#define RT_DEV_RULES_MAX 1024 /* exceptions; dockerd's defaults are a dozen */

struct rt_dev_exception {
        char type; /* 'c' or 'b' */
        uint32_t major, minor;
        unsigned access;
};

/* What a v1 devices cgroup holds: a default and the exceptions to it. */
struct rt_dev_rules {
        bool default_allow;
        struct rt_dev_exception *ex;
        size_t n_ex;
};

/* A new cgroup under an unrestricted parent: everything allowed, no exceptions. */
void rt_dev_rules_init(struct rt_dev_rules *r);
void rt_dev_rules_done(struct rt_dev_rules *r);

/* One line as written to devices.allow (@allow) or devices.deny: "a", "c 1:3 rwm",
 * "b *:* m". The state changes as the kernel's would. */
int rt_dev_rules_apply(struct rt_dev_rules *r, bool allow, const char *line, struct berr *err);

/* The v1 kernel's answer to a request of @access (RT_DEV_ACC_*) on a @type ('c', 'b')
 * device: the reference the program must agree with. */
bool rt_dev_rules_allows(const struct rt_dev_rules *r, char type, uint32_t major, uint32_t minor, unsigned access);

/* The program: returns 1 (allow) or 0 for a struct bpf_cgroup_dev_ctx. Free *ret. */
int rt_dev_rules_program(const struct rt_dev_rules *r, struct bpf_insn **ret, size_t *ret_n, struct berr *err);

/* Load @insns and attach them to the cgroup dir @cgroup_fd (BPF_F_ALLOW_MULTI), then
 * detach every other device program there (a restart, an update): only ever more
 * restrictive in between. -EOPNOTSUPP when this kernel or our privileges run no device
 * programs (no bpf(), no CAP_BPF in our user namespace): the caller fails closed. */
int rt_bpf_devices_attach(int cgroup_fd, const struct bpf_insn *insns, size_t n, struct berr *err);
