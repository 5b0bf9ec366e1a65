/* cgroup_warm.c - the first cgroup attach of a start without its wait for RCU.
 *
 * Moving a process into a cgroup (a write to cgroup.procs, on every hierarchy of cgroup
 * v1) takes the kernel's global cgroup_threadgroup_rwsem for writing. That per-cpu rwsem
 * switches its readers (every fork) to the slow path first, which waits for an RCU grace
 * period (rcu_sync_enter) unless a writer held it within the last grace period. Measured
 * here (6.18, 2 cores, loaded): the first write 4–13 ms, a second one right after it
 * 0.03–0.05 ms. The shim's attach of a container's init was such a first write, and the
 * init waits for it before READY: 3–7 ms of every start went to the grace period.
 *
 * berthd calls rt_cgroup_attach_warm() when a start (or an exec) begins: a thread of its
 * own writes berthd's own pid into berthd's own cgroup.procs (a move to where it is: the
 * kernel takes the lock and moves nothing). The grace period runs while berthd prepares
 * the bundle and the shim forks; the shim's attach a few milliseconds later finds the
 * rwsem in its writer mode and does not wait. The kernel holds cgroup_mutex through that
 * wait, so a cgroup mkdir meanwhile would wait instead (measured: the shim's "cgroup
 * created" went from 1.4 to 4.9 ms): for a start, berthd makes the container's cgroup
 * directories first (rt_cgroup_attach_warm_at; the shim's mkdirs then find them, which
 * takes no lock). The lock is global (every hierarchy, v1
 * and v2), so one write warms them all. The kernel's `favordynmods` cgroup mount option
 * does this for good (readers always slow); it is the host's choice, not ours. Where
 * berthd may not write its cgroup.procs (rootless), nothing happens. */
#include "runtime_int.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"

static pthread_mutex_t warm_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t warm_cond = PTHREAD_COND_INITIALIZER;
static bool warm_started, warm_wanted, warm_disabled;
static int warm_fd = -1;

/* Our own cgroup.procs, on the first hierarchy of /proc/self/cgroup that is mounted where
 * Debian and systemd mount them. */
static int open_own_procs(void) {
        FILE *f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return -1;
        char line[4200];
        int fd = -1;
        while (fd < 0 && fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c2 = '\0';
                const char *ctrls = c1 + 1, *path = c2 + 1;
                char p[4600];
                if (!*ctrls) { /* 0::/path: cgroup v2, alone or beside v1 */
                        if (fs_path_fmt(p, sizeof(p), "/sys/fs/cgroup/unified%s/cgroup.procs", path) == 0)
                                fd = open(p, O_WRONLY | O_CLOEXEC);
                        if (fd < 0 && fs_path_fmt(p, sizeof(p), "/sys/fs/cgroup%s/cgroup.procs", path) == 0)
                                fd = open(p, O_WRONLY | O_CLOEXEC);
                } else if (!strchr(ctrls, ',') && !strchr(ctrls, '=')) { /* pids, memory, ... */
                        if (fs_path_fmt(p, sizeof(p), "/sys/fs/cgroup/%s%s/cgroup.procs", ctrls, path) == 0)
                                fd = open(p, O_WRONLY | O_CLOEXEC);
                }
        }
        fclose(f);
        return fd;
}

static void *warm_main(void *arg) {
        (void) arg;
        char pid[16];
        int n = snprintf(pid, sizeof(pid), "%d", (int) getpid());
        pthread_mutex_lock(&warm_lock);
        for (;;) {
                while (!warm_wanted)
                        pthread_cond_wait(&warm_cond, &warm_lock);
                warm_wanted = false;
                pthread_mutex_unlock(&warm_lock);
                bool ok = write(warm_fd, pid, (size_t) n) == n; /* blocks for the grace period */
                pthread_mutex_lock(&warm_lock);
                if (!ok) { /* not allowed after all: stop trying */
                        warm_disabled = true;
                        break;
                }
        }
        pthread_mutex_unlock(&warm_lock);
        return NULL;
}

void rt_cgroup_attach_warm(void) {
        pthread_mutex_lock(&warm_lock);
        if (!warm_started && !warm_disabled) {
                warm_fd = open_own_procs();
                pthread_t t;
                pthread_attr_t a;
                pthread_attr_init(&a);
                pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
                warm_started = warm_fd >= 0 && pthread_create(&t, &a, warm_main, NULL) == 0;
                pthread_attr_destroy(&a);
                warm_disabled = !warm_started;
                if (!warm_started && warm_fd >= 0) {
                        close(warm_fd);
                        warm_fd = -1;
                }
        }
        if (warm_started && !warm_disabled) {
                warm_wanted = true;
                pthread_cond_signal(&warm_cond);
        }
        pthread_mutex_unlock(&warm_lock);
}

void rt_cgroup_attach_warm_at(const char *root, const char *cgroups_path) {
        struct rt_cgroup *cg = NULL;
        struct berr e = { 0 };
        if (rt_cgroup_open(root, cgroups_path, &cg, &e) == 0) {
                (void) rt_cgroup_create(cg, NULL, &e); /* rootless, or no cgroup: the shim decides */
                rt_cgroup_free(cg);
        }
        rt_cgroup_attach_warm();
}

void rt_cgroup_forget_at(const char *root, const char *cgroups_path) {
        struct rt_cgroup *cg = NULL;
        struct berr e = { 0 };
        if (rt_cgroup_open(root, cgroups_path, &cg, &e) < 0)
                return;
        for (size_t i = 0; i < cg->n_hier; i++)
                (void) rmdir(cg->hier[i].dir); /* EBUSY: in use after all (a shim runs it) */
        rt_cgroup_free(cg);
}
