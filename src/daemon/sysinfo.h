/* sysinfo.h - facts about the host that `docker info` and `docker version` report. Read
 * once at start-up (static ones) or on demand (counters). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct host_facts {
        char kernel[128];         /* uname release */
        char arch_uname[65];      /* x86_64 (as long as utsname's machine) */
        char arch_go[65];         /* amd64 */
        char os_name[128];        /* PRETTY_NAME from os-release */
        char os_version[64];      /* VERSION_ID */
        char hostname[256];
        int ncpu;
        int64_t mem_total_bytes;
        int cgroup_version;       /* 1 or 2 */

        /* Resource controls the kernel offers, for info's capability booleans. */
        bool memory_limit, swap_limit, kernel_memory_tcp, cpu_cfs_period, cpu_cfs_quota, cpu_shares,
                cpuset, pids_limit, oom_kill_disable;
        bool blkio_weight; /* blkio.weight or blkio.bfq.weight (v1), the io controller (v2) */
        bool ipv4_forwarding, bridge_nf_iptables, bridge_nf_ip6tables;
        bool cgroup_none; /* rootless without a delegated cgroup: containers get none (driver "none") */
};

/* @cgroup_root is normally "/sys/fs/cgroup"; tests pass a fake tree. */
int host_facts_read(struct host_facts *f, const char *cgroup_root, const char *os_release_path);

/* Rootless without a delegated cgroup subtree: no resource control at all, as dockerd's
 * cgroup driver "none" reports it. */
void host_facts_no_cgroups(struct host_facts *f);

/* Number of open fds and threads of this process. */
int host_count_fds(void);
int host_count_threads(void);

/* Backing filesystem name of @path as Docker's overlay2 reports it: extfs, xfs, tmpfs, ... */
const char *host_fs_name(const char *path);
