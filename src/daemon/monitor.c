/* monitor.c - one thread watches every shim: each holds a WATCH connection that reaches
 * EOF when the shim exits, after it wrote exit.json. Exits become state changes here. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/trace.h"
#include "container.h"
#include "daemon.h"
#include "events.h"
#include "rootless.h"
#include "shim/protocol.h"

int monitor_watch(struct daemon *d, struct container *c, int fd, struct berr *err) {
        pthread_mutex_lock(&d->ctr_lock);
        c->refs++; /* the monitor's, dropped when the exit is handled */
        pthread_mutex_unlock(&d->ctr_lock);
        pthread_mutex_lock(&c->lock);
        c->watch_fd = fd;
        pthread_mutex_unlock(&c->lock);
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
        if (epoll_ctl(d->monitor_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                pthread_mutex_lock(&c->lock);
                c->watch_fd = -1;
                pthread_mutex_unlock(&c->lock);
                ctr_unref(d, c);
                return berr_sys(err, BERR_INTERNAL, "epoll_ctl");
        }
        return 0;
}

/* A frozen task takes no signal: a container paused (by the user or a commit) when its
 * shim died would keep its processes, in D state, for good, and a later start of the
 * same container put its new init into the frozen group and hung. Thaw first. */
static void thaw(const char *id) {
        char path[4096];
        (void) fs_path_fmt(path, sizeof(path), "/sys/fs/cgroup/freezer/berth/%s/freezer.state", id);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                (void) !write(fd, "THAWED", 6); /* best effort: the kill below reports nothing either */
                close(fd);
        }
        const char *base = rootless_cgroup_subtree(); /* rootless: the delegated cgroup's */
        (void) fs_path_fmt(path, sizeof(path), "/sys/fs/cgroup%s/berth/%s/cgroup.freeze", base ? base : "", id);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                (void) !write(fd, "0", 1);
                close(fd);
        }
}

/* The shim died without recording an exit: nothing supervises the container's processes
 * any more, so they go, through every cgroup hierarchy that has the container's group. */
static void kill_orphans(const char *id) {
        thaw(id);
        static const char *const roots[] = { "/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu",
                                             "/sys/fs/cgroup" };
        const char *base = rootless_cgroup_subtree();
        for (size_t i = 0; i < ELEMENTSOF(roots); i++) {
                char path[4096];
                (void) fs_path_fmt(path, sizeof(path), "%s%s/berth/%s/cgroup.procs", roots[i],
                                   base && i == ELEMENTSOF(roots) - 1 ? base : "", id);
                for (int round = 0; round < 50; round++) {
                        _cleanup_fclose_ FILE *f = fopen(path, "re");
                        if (!f)
                                break;
                        int pid, n = 0;
                        while (fscanf(f, "%d", &pid) == 1) {
                                (void) kill(pid, SIGKILL);
                                n++;
                        }
                        if (n == 0)
                                break;
                        thaw(id); /* frozen again meanwhile (a pause on its way): signals wait */
                        usleep(20000);
                }
                path[strlen(path) - strlen("/cgroup.procs")] = '\0';
                (void) rmdir(path); /* fails while other hierarchies still hold tasks; fine */
        }
        static const char *const v1[] = { "blkio", "cpu,cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory",
                                           "net_cls,net_prio", "perf_event", "pids", "systemd", "rdma", "misc" };
        for (size_t i = 0; i < ELEMENTSOF(v1); i++) {
                char path[512];
                snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/berth/%s", v1[i], id);
                (void) rmdir(path);
        }
}

void ctr_handle_exit(struct daemon *d, struct container *c) {
        _cleanup_free_ char *bundle = ctr_bundle_dir(d, c->id);
        _cleanup_close_ int bfd = bundle ? open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_t *rec = NULL;
        size_t len;
        struct berr e = { 0 };
        trace_mark("berthd exit %.12s: shim gone", c->id);
        bool have = bfd >= 0 && fs_read_file(bfd, SHIM_EXIT_NAME, 1 << 16, &text, &len, &e) == 0 &&
                    json_parse_object(text, len, &rec, &e) == 0;

        pthread_mutex_lock(&c->lock);
        if (have) {
                c->exit_code = (int) json_integer_value(json_object_get(rec, "ExitCode"));
                c->oom_killed = json_is_true(json_object_get(rec, "OOMKilled"));
                snprintf(c->finished_at, sizeof(c->finished_at), "%s",
                         json_string_value(json_object_get(rec, "FinishedAt")) ?: "");
        } else {
                /* The shim died without a record (killed): the container goes with it. */
                kill_orphans(c->id);
                c->exit_code = 137;
                ctr_now(c->finished_at);
                ctr_set_error(c, "the container's shim exited unexpectedly");
        }
        bool was_start = c->state == CTR_STARTING; /* the init never ran: ctr_start reports it */
        c->pid = 0;
        c->exit_gen++;
        if (c->watch_fd >= 0) {
                (void) epoll_ctl(d->monitor_epfd, EPOLL_CTL_DEL, c->watch_fd, NULL);
                close(c->watch_fd);
                c->watch_fd = -1;
        }
        ctr_net_stop(d, c); /* addresses, veths and the namespace go with the run */
        trace_mark("berthd exit: network torn down");
        /* The rootfs is detached after the waiters are woken: the overlay's last unmount
         * syncs its upper filesystem (the whole data-root disk: 2–12 ms here), which a
         * `wait` need not wait for. A start or a copy meanwhile waits for it. */
        c->rootfs_detaching = true;
        bool auto_remove = c->cc->hc.auto_remove && !was_start;
        if (c->oom_killed)
                events_container(d, c, "oom", NULL);
        enum ctr_state from = c->state;
        /* The record of the exit is written after the waiters are woken (a `wait` answers
         * without the record's fsync: 5–12 ms on a busy disk), and before the shim's
         * exit.json goes, so a crash in between finds that again at start-up. */
        struct ctr_save_job job = { 0 };
        struct berr se = { 0 };
        bool save_later = false;
        if (from == CTR_RUNNING || from == CTR_PAUSED || from == CTR_RESTARTING) {
                /* "die" now; logs its own failure. A --rm container's record is not
                 * written: it is removed below, and a crash before that finds its
                 * exit.json (kept) and removes it at start-up. */
                if (ctr_set_state(d, c, CTR_EXITED, CTR_STATE_NO_SAVE, NULL) == 0 && !auto_remove)
                        save_later = ctr_save_prepare(d, c, &job, &se) == 0;
                else if (auto_remove)
                        c->saves++; /* not written, but what ps shows changed (container_json.c) */
                job.state_change = true;
                if (!save_later && se.msg[0])
                        log_warn("save container %.12s: %s", c->id, se.msg);
        } else if (was_start && c->start_from == CTR_RESTARTING) {
                ctr_cancel_restart(d, c); /* written */
        } else if (ctr_save(d, c, &e) < 0) {
                log_warn("save container %.12s: %s", c->id, e.msg);
        }
        /* The table has no "die" where no run ended: a pending restart, or a record that
         * had moved on (a start that gave up waiting for this exit). */
        if (!was_start && from != CTR_RUNNING && from != CTR_PAUSED) {
                char code[16];
                snprintf(code, sizeof(code), "%d", c->exit_code);
                events_container(d, c, "die", json_pack("{s:s}", "exitCode", code));
        }
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        trace_mark("berthd exit: state exited, waiters woken");
        struct berr ue = { 0 };
        if (ctr_rootfs_detach(d, c->id, &ue) < 0)
                log_warn("container %.12s: %s", c->id, ue.msg);
        trace_mark("berthd exit: rootfs unmounted");
        if (save_later && ctr_save_finish(d, c, &job, &se) < 0)
                log_warn("save container %.12s: %s", c->id, se.msg);
        trace_mark("berthd exit: record written");
        if (bfd >= 0 && have && !auto_remove)
                (void) unlinkat(bfd, SHIM_EXIT_NAME, 0); /* recorded: the shim's record can go */
        ctr_mounts_release(d, c); /* volumes with options: unmounted when their last run ends */
        ctr_log_plugin_stop(d, c); /* a log plugin's StopLogging, once the shim let go of the FIFO */
        /* Only now may a new run start (it waits for rootfs_detaching): what the lines
         * above release is keyed by the container's ID — its exit.json, its volume plugin
         * mounts, its log plugin's FIFO — and would be the new run's. */
        pthread_mutex_lock(&c->lock);
        c->rootfs_detaching = false;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);

        if (auto_remove && ctr_remove(d, c, true, true, &e) < 0) {
                log_warn("auto-remove %.12s: %s", c->id, e.msg);
                pthread_mutex_lock(&c->lock); /* it stays: its exit is recorded after all */
                if (c->state == CTR_EXITED && ctr_save_state(d, c, &se) < 0)
                        log_warn("save container %.12s: %s", c->id, se.msg);
                pthread_mutex_unlock(&c->lock);
                if (bfd >= 0 && have)
                        (void) unlinkat(bfd, SHIM_EXIT_NAME, 0);
        } else if (!auto_remove && !was_start)
                ctr_maybe_restart(d, c);
}

static void *monitor_main(void *arg) {
        struct daemon *d = arg;
        for (;;) {
                struct epoll_event ev;
                int n = epoll_wait(d->monitor_epfd, &ev, 1, -1);
                if (n < 0)
                        continue;
                if (ev.data.ptr == NULL) /* the wake pipe: shutting down */
                        return NULL;
                struct container *c = ev.data.ptr;
                char buf[64];
                pthread_mutex_lock(&c->lock);
                int fd = c->watch_fd;
                pthread_mutex_unlock(&c->lock);
                if (fd >= 0 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                        continue; /* nothing but EOF is expected; ignore chatter */
                ctr_handle_exit(d, c);
                ctr_unref(d, c);
        }
}

int monitor_start(struct daemon *d, struct berr *err) {
        d->monitor_epfd = epoll_create1(EPOLL_CLOEXEC);
        if (d->monitor_epfd < 0 || pipe2(d->monitor_wake, O_CLOEXEC) < 0)
                return berr_sys(err, BERR_INTERNAL, "monitor");
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
        if (epoll_ctl(d->monitor_epfd, EPOLL_CTL_ADD, d->monitor_wake[0], &ev) < 0)
                return berr_sys(err, BERR_INTERNAL, "monitor");
        int r = pthread_create(&d->monitor_thread, NULL, monitor_main, d);
        if (r != 0) {
                errno = r;
                return berr_sys(err, BERR_INTERNAL, "start the monitor thread");
        }
        d->monitor_running = true;
        return 0;
}

void monitor_stop(struct daemon *d) {
        if (!d->monitor_running)
                return;
        (void) !write(d->monitor_wake[1], "x", 1);
        pthread_join(d->monitor_thread, NULL);
        close(d->monitor_wake[0]);
        close(d->monitor_wake[1]);
        close(d->monitor_epfd);
        d->monitor_running = false;
}
