/* sysinfo.c - host facts from uname, os-release, sysinfo(2), /proc and the cgroup tree. */
#include "sysinfo.h"

#include <dirent.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/magic.h>

#include "common/cleanup.h"
#include "common/fs.h"

static void read_os_release(struct host_facts *f, const char *path) {
        _cleanup_fclose_ FILE *fp = fopen(path, "re");
        snprintf(f->os_name, sizeof(f->os_name), "Linux");
        if (!fp)
                return;
        char line[512];
        while (fgets(line, sizeof(line), fp)) {
                char *eq = strchr(line, '=');
                if (!eq)
                        continue;
                *eq = '\0';
                char *v = eq + 1;
                v[strcspn(v, "\n")] = '\0';
                size_t n = strlen(v);
                if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
                        v[n - 1] = '\0';
                        v++;
                }
                if (STREQ(line, "PRETTY_NAME"))
                        snprintf(f->os_name, sizeof(f->os_name), "%s", v);
                else if (STREQ(line, "VERSION_ID"))
                        snprintf(f->os_version, sizeof(f->os_version), "%s", v);
        }
}

static bool exists_at(const char *root, const char *rel) {
        char p[512];
        return fs_path_fmt(p, sizeof(p), "%s/%s", root, rel) == 0 && access(p, F_OK) == 0;
}

static bool read_flag(const char *path) {
        char buf[8] = "";
        _cleanup_fclose_ FILE *fp = fopen(path, "re");
        return fp && fgets(buf, sizeof(buf), fp) && buf[0] == '1';
}

/* cgroup v2: a controller is usable when the root lists it in cgroup.controllers. */
static bool v2_has(const char *controllers, const char *name) {
        size_t n = strlen(name);
        for (const char *p = controllers; (p = strstr(p, name)); p += n)
                if ((p == controllers || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
                        return true;
        return false;
}

static void read_cgroup_caps(struct host_facts *f, const char *root) {
        struct statfs sfs;
        char cont[1024] = "";
        char path[512];
        (void) fs_path_fmt(path, sizeof(path), "%s/cgroup.controllers", root); /* "" when too long: not found */
        bool is_v2 = (statfs(root, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC) || access(path, F_OK) == 0;
        if (is_v2) {
                f->cgroup_version = 2;
                _cleanup_fclose_ FILE *fp = fopen(path, "re");
                if (fp && !fgets(cont, sizeof(cont), fp))
                        cont[0] = '\0';
                f->memory_limit = v2_has(cont, "memory");
                f->swap_limit = f->memory_limit;
                f->cpu_cfs_period = f->cpu_cfs_quota = f->cpu_shares = v2_has(cont, "cpu");
                f->cpuset = v2_has(cont, "cpuset");
                f->pids_limit = v2_has(cont, "pids");
                f->blkio_weight = v2_has(cont, "io");
                f->oom_kill_disable = false;
                f->kernel_memory_tcp = false;
                return;
        }
        f->cgroup_version = 1;
        f->memory_limit = exists_at(root, "memory/memory.limit_in_bytes");
        f->swap_limit = exists_at(root, "memory/memory.memsw.limit_in_bytes");
        f->kernel_memory_tcp = exists_at(root, "memory/memory.kmem.tcp.limit_in_bytes");
        f->oom_kill_disable = exists_at(root, "memory/memory.oom_control");
        f->cpu_cfs_period = exists_at(root, "cpu/cpu.cfs_period_us");
        f->cpu_cfs_quota = exists_at(root, "cpu/cpu.cfs_quota_us");
        f->cpu_shares = exists_at(root, "cpu/cpu.shares");
        f->cpuset = exists_at(root, "cpuset/cpuset.cpus");
        f->pids_limit = exists_at(root, "pids/pids.max");
        f->blkio_weight = exists_at(root, "blkio/blkio.weight") || exists_at(root, "blkio/blkio.bfq.weight");
}

static const char *go_arch(const char *m) {
        static const struct {
                const char *uname, *go;
        } table[] = {
                { "x86_64", "amd64" }, { "aarch64", "arm64" }, { "armv7l", "arm" }, { "i686", "386" },
                { "ppc64le", "ppc64le" }, { "s390x", "s390x" }, { "riscv64", "riscv64" },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (STREQ(m, table[i].uname))
                        return table[i].go;
        return m;
}

int host_facts_read(struct host_facts *f, const char *cgroup_root, const char *os_release_path) {
        memset(f, 0, sizeof(*f));
        struct utsname u;
        if (uname(&u) == 0) {
                snprintf(f->kernel, sizeof(f->kernel), "%s", u.release);
                snprintf(f->arch_uname, sizeof(f->arch_uname), "%s", u.machine);
                snprintf(f->arch_go, sizeof(f->arch_go), "%s", go_arch(u.machine));
                snprintf(f->hostname, sizeof(f->hostname), "%s", u.nodename);
        }
        read_os_release(f, os_release_path);
        cpu_set_t set;
        f->ncpu = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : (int) sysconf(_SC_NPROCESSORS_ONLN);
        struct sysinfo si;
        if (sysinfo(&si) == 0)
                f->mem_total_bytes = (int64_t) si.totalram * si.mem_unit;
        read_cgroup_caps(f, cgroup_root);
        f->ipv4_forwarding = read_flag("/proc/sys/net/ipv4/ip_forward");
        f->bridge_nf_iptables = read_flag("/proc/sys/net/bridge/bridge-nf-call-iptables");
        f->bridge_nf_ip6tables = read_flag("/proc/sys/net/bridge/bridge-nf-call-ip6tables");
        return 0;
}

void host_facts_no_cgroups(struct host_facts *f) {
        f->cgroup_none = true;
        f->memory_limit = f->swap_limit = f->kernel_memory_tcp = f->cpu_cfs_period = f->cpu_cfs_quota = false;
        f->cpu_shares = f->cpuset = f->pids_limit = f->oom_kill_disable = f->blkio_weight = false;
}

int host_count_fds(void) {
        _cleanup_closedir_ DIR *d = opendir("/proc/self/fd");
        if (!d)
                return -1;
        int n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        return n - 1; /* the directory stream's own fd */
}

int host_count_threads(void) {
        _cleanup_fclose_ FILE *fp = fopen("/proc/self/status", "re");
        char line[256];
        while (fp && fgets(line, sizeof(line), fp))
                if (strncmp(line, "Threads:", 8) == 0)
                        return atoi(line + 8);
        return -1;
}

const char *host_fs_name(const char *path) {
        struct statfs s;
        if (statfs(path, &s) < 0)
                return "<unknown>";
        switch ((unsigned long) s.f_type) {
        case EXT4_SUPER_MAGIC: return "extfs";
        case XFS_SUPER_MAGIC: return "xfs";
        case TMPFS_MAGIC: return "tmpfs";
        case BTRFS_SUPER_MAGIC: return "btrfs";
        case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
        case 0x2fc12fc1: return "zfs";
        default: return "<unknown>";
        }
}
