/* container_ops.c - stop, kill, restart, wait, attach, resize and remove. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/log.h"
#include "container.h"
#include "daemon.h"
#include "volumes.h"
#include "events.h"
#include "exec.h"
#include "common/trace.h"
#include "common/tree.h"
#include "shim/msg.h"
#include "signals.h"
#include "volume/volume.h"

static bool is_running(struct container *c) {
        return ctr_is_running(c);
}

/* One request to the container's shim, answered by one message. */
static int shim_request(struct daemon *d, struct container *c, struct shim_msg *m, struct berr *err) {
        _cleanup_free_ char *bundle = ctr_bundle_dir(d, c->id);
        _cleanup_close_ int fd = shim_connect(bundle, err);
        if (fd < 0)
                return fd;
        int r = shim_msg_send(fd, m, -1, err);
        if (r == 0)
                r = shim_msg_recv(fd, m, NULL, err);
        if (r == 0 && m->status < 0)
                return berr_set(err, BERR_INTERNAL, -m->status, "%s", m->text);
        return r;
}

/* @ending: the signal is meant to end the container (stop's signal, SIGKILL). */
static int send_signal_ex(struct daemon *d, struct container *c, int sig, bool ending, struct berr *err) {
        struct shim_msg m;
        shim_msg_init(&m, SHIM_REQ_KILL);
        m.signal = sig;
        int r = shim_request(d, c, &m, err);
        pthread_mutex_lock(&c->lock);
        bool paused = ctr_state_shown(c) == CTR_PAUSED;
        pthread_mutex_unlock(&c->lock);
        if (r == 0 && (ending || sig == SIGKILL) && paused) {
                /* A frozen task takes no signal until thawed (as dockerd does: signal, then resume). */
                struct shim_msg t;
                struct berr e2 = { 0 };
                shim_msg_init(&t, SHIM_REQ_RESUME);
                if (shim_request(d, c, &t, &e2) < 0)
                        log_warn("container %.12s: thaw after signal %d: %s", c->id, sig, e2.msg);
                else {
                        pthread_mutex_lock(&c->lock);
                        if (c->state == CTR_PAUSED) /* "unpause" */
                                (void) ctr_set_state(d, c, CTR_RUNNING, 0, NULL); /* logs its own failure */
                        pthread_mutex_unlock(&c->lock);
                }
        }
        return r;
}

static int send_signal(struct daemon *d, struct container *c, int sig, struct berr *err) {
        return send_signal_ex(d, c, sig, false, err);
}

/* Wait (c->lock held) until the exit generation moves past @gen; false on timeout. */
static bool wait_exit_locked(struct container *c, uint64_t gen, int timeout_s) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += timeout_s;
        while (c->exit_gen == gen && is_running(c)) {
                if (timeout_s < 0)
                        pthread_cond_wait(&c->cond, &c->lock);
                else if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline) != 0)
                        return c->exit_gen != gen || !is_running(c);
        }
        return true;
}

int ctr_kill(struct daemon *d, struct container *c, const char *signal, struct berr *err) {
        int sig = SIGKILL;
        if (signal && *signal && (sig = signal_parse(signal)) < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "Invalid signal: %s", signal);
        pthread_mutex_lock(&c->lock);
        bool running = is_running(c) && ctr_state_shown(c) != CTR_RESTARTING;
        if (running)
                c->stop_requested = true; /* as dockerd: a killed container is not restarted by its policy */
        uint64_t gen = c->exit_gen;
        pthread_mutex_unlock(&c->lock);
        if (!running)
                return berr_set(err, BERR_CONFLICT, EINVAL, "Cannot kill container: %s: Container %s is not running",
                                c->name + 1, c->id);
        char num[16];
        snprintf(num, sizeof(num), "%d", sig);
        events_container(d, c, "kill", json_pack("{s:s}", "signal", num));
        int r = send_signal(d, c, sig, err);
        if (r < 0 || sig != SIGKILL)
                return r;
        /* dockerd's Kill: a SIGKILL returns once the container has stopped and its exit
         * (137) is recorded, so `docker kill c && docker rm c` works. It waits 10 s, then
         * kills once more and waits for good; so do we, bounded, never holding the lock
         * across the shim request. */
        pthread_mutex_lock(&c->lock);
        bool exited = wait_exit_locked(c, gen, 10);
        pthread_mutex_unlock(&c->lock);
        if (!exited) {
                struct berr e = { 0 };
                if (send_signal(d, c, SIGKILL, &e) < 0)
                        log_debug("kill %.12s: %s", c->id, e.msg);
                pthread_mutex_lock(&c->lock);
                exited = wait_exit_locked(c, gen, 60);
                pthread_mutex_unlock(&c->lock);
                if (!exited)
                        log_warn("container %.12s: still running 70 s after SIGKILL", c->id);
        }
        return 0;
}

int ctr_stop(struct daemon *d, struct container *c, int timeout_s, const char *signal, struct berr *err) {
        pthread_mutex_lock(&c->lock);
        if (ctr_state_shown(c) == CTR_RESTARTING) { /* waiting out its back-off: no process to signal */
                c->stop_requested = true;
                ctr_cancel_restart(d, c);
                pthread_mutex_unlock(&c->lock);
                return 0;
        }
        if (!is_running(c)) {
                pthread_mutex_unlock(&c->lock);
                return 1;
        }
        c->stop_requested = true;
        uint64_t gen = c->exit_gen;
        const char *cfg_sig = c->cc->cfg.stop_signal; /* Config: docker update never changes it */
        struct opt_i64 cfg_timeout = c->cc->cfg.stop_timeout;
        pthread_mutex_unlock(&c->lock);

        int sig = SIGTERM;
        const char *name = signal && *signal ? signal : cfg_sig;
        if (name && *name && (sig = signal_parse(name)) < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "Invalid signal: %s", name);
        if (timeout_s == INT32_MIN)
                timeout_s = cfg_timeout.set ? (int) cfg_timeout.v : 10;

        struct berr e = { 0 };
        if (send_signal_ex(d, c, sig, true, &e) < 0)
                log_debug("stop %.12s: %s", c->id, e.msg); /* it may have exited meanwhile */
        pthread_mutex_lock(&c->lock);
        bool exited = timeout_s != 0 && wait_exit_locked(c, gen, timeout_s);
        pthread_mutex_unlock(&c->lock);
        if (!exited) {
                if (send_signal(d, c, SIGKILL, &e) < 0)
                        log_debug("kill %.12s: %s", c->id, e.msg);
                pthread_mutex_lock(&c->lock);
                wait_exit_locked(c, gen, -1);
                pthread_mutex_unlock(&c->lock);
        }
        events_container(d, c, "stop", NULL);
        return 0;
}

void ctr_stop_all_for_shutdown(struct daemon *d) {
        pthread_mutex_lock(&d->ctr_lock);
        size_t n = 0, cap = HASH_COUNT(d->ctrs);
        struct container **up = calloc(cap + 1, sizeof(*up));
        struct container *c, *tmp;
        HASH_ITER(hh, d->ctrs, c, tmp) {
                if (!up || n == cap)
                        break;
                pthread_mutex_lock(&c->lock);
                bool run = is_running(c);
                pthread_mutex_unlock(&c->lock);
                if (run) {
                        c->refs++;
                        up[n++] = c;
                }
        }
        pthread_mutex_unlock(&d->ctr_lock);
        if (!up)
                return;
        /* All signalled first, so they stop together; then each is waited for (and killed
         * after its stop timeout). Not a user's stop: restart policies hold at next start. */
        for (size_t i = 0; i < n; i++) {
                struct berr e = { 0 };
                pthread_mutex_lock(&up[i]->lock);
                const char *sig = up[i]->cc->cfg.stop_signal;
                pthread_mutex_unlock(&up[i]->lock);
                if (send_signal_ex(d, up[i], sig && *sig && signal_parse(sig) > 0 ? signal_parse(sig) : SIGTERM, true, &e) < 0)
                        log_debug("stop %.12s: %s", up[i]->id, e.msg);
        }
        for (size_t i = 0; i < n; i++) {
                struct berr e = { 0 };
                log_info("stopping container %.12s: its network goes with this berthd", up[i]->id);
                (void) ctr_stop(d, up[i], INT32_MIN, NULL, &e);
                pthread_mutex_lock(&up[i]->lock);
                up[i]->stop_requested = false;
                if (ctr_save(d, up[i], &e) < 0)
                        log_warn("save container %.12s: %s", up[i]->id, e.msg);
                pthread_mutex_unlock(&up[i]->lock);
                ctr_unref(d, up[i]);
        }
        free(up);
}

int ctr_restart(struct daemon *d, struct container *c, int timeout_s, struct berr *err) {
        int r = ctr_stop(d, c, timeout_s, NULL, err);
        if (r < 0)
                return r;
        r = ctr_start(d, c, err);
        if (r == 0) {
                pthread_mutex_lock(&c->lock);
                c->restart_count = 0;
                pthread_mutex_unlock(&c->lock);
                events_container(d, c, "restart", NULL);
        }
        return r < 0 ? r : 0;
}

/* Caller holds c->lock. */
static bool wait_done(struct daemon *d, struct container *c, enum ctr_wait_condition cond, uint64_t gen) {
        if (c->state == CTR_REMOVED || d->shutting_down)
                return true;
        switch (cond) {
        case CTR_WAIT_NOT_RUNNING: return !is_running(c) && c->state != CTR_STARTING;
        case CTR_WAIT_NEXT_EXIT: return c->exit_gen != gen;
        case CTR_WAIT_REMOVED: return false;
        }
        return true;
}

int ctr_wait(struct daemon *d, struct container *c, enum ctr_wait_condition cond, int *ret_code,
             bool (*cancelled)(void *), void *arg, struct berr *err) {
        pthread_mutex_lock(&c->lock);
        uint64_t gen = c->exit_gen;
        while (!wait_done(d, c, cond, gen)) {
                struct timespec deadline;
                clock_gettime(CLOCK_REALTIME, &deadline);
                deadline.tv_sec += 1;
                if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline) != 0 && cancelled && cancelled(arg)) {
                        pthread_mutex_unlock(&c->lock);
                        return berr_set(err, BERR_UNAVAILABLE, ECANCELED, "the client went away");
                }
        }
        if (d->shutting_down) {
                pthread_mutex_unlock(&c->lock);
                return berr_set(err, BERR_UNAVAILABLE, ESHUTDOWN, "the daemon is shutting down");
        }
        *ret_code = c->exit_code;
        pthread_mutex_unlock(&c->lock);
        return 0;
}

int ctr_resize(struct daemon *d, struct container *c, unsigned rows, unsigned cols, struct berr *err) {
        pthread_mutex_lock(&c->lock);
        bool running = is_running(c);
        pthread_mutex_unlock(&c->lock);
        if (!running)
                return berr_set(err, BERR_CONFLICT, EINVAL, "Container %s is not running", c->id);
        struct shim_msg m;
        shim_msg_init(&m, SHIM_REQ_RESIZE);
        m.rows = rows;
        m.cols = cols;
        return shim_request(d, c, &m, err);
}

int ctr_pause(struct daemon *d, struct container *c, bool pause, struct berr *err) {
        pthread_mutex_lock(&c->lock);
        int r = 0;
        enum ctr_state st = ctr_state_shown(c);
        if (!is_running(c) || st == CTR_RESTARTING)
                r = berr_set(err, BERR_CONFLICT, EINVAL, "Container %s is not running", c->id);
        else if (pause && st == CTR_PAUSED)
                r = berr_set(err, BERR_CONFLICT, EALREADY, "Container %s is already paused", c->id);
        else if (!pause && st != CTR_PAUSED)
                r = berr_set(err, BERR_CONFLICT, EINVAL, "Container %s is not paused", c->id);
        else if (c->pause_busy)
                r = berr_set(err, BERR_CONFLICT, EBUSY, "Container %s is being %s already", c->id,
                             pause ? "paused" : "unpaused");
        if (r == 0)
                c->pause_busy = true;
        pthread_mutex_unlock(&c->lock);
        if (r < 0)
                return r;
        struct shim_msg m;
        shim_msg_init(&m, pause ? SHIM_REQ_PAUSE : SHIM_REQ_RESUME);
        r = shim_request(d, c, &m, err);
        pthread_mutex_lock(&c->lock);
        c->pause_busy = false;
        if (r < 0) {
                pthread_mutex_unlock(&c->lock);
                return berr_wrap(err, "Cannot %s container %s", pause ? "pause" : "unpause", c->id);
        }
        /* "pause" / "unpause", unless it exited (or was thawed by a stop) meanwhile */
        if (c->state == (pause ? CTR_RUNNING : CTR_PAUSED))
                (void) ctr_set_state(d, c, pause ? CTR_PAUSED : CTR_RUNNING, 0, NULL); /* logs its own failure */
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        return 0;
}

/* Docker's detach key syntax: "ctrl-p,ctrl-q", "ctrl-@", single characters. */
int ctr_parse_detach_keys(const char *spec, uint8_t *ret, size_t max, size_t *ret_n, struct berr *err) {
        size_t n = 0;
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", spec);
        for (char *save = NULL, *k = strtok_r(buf, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
                if (n >= max)
                        return berr_set(err, BERR_INVALID, EINVAL, "Invalid detach keys (%s) provided", spec);
                if (strncmp(k, "ctrl-", 5) == 0 && strlen(k) == 6) {
                        char ch = k[5];
                        if (ch >= 'a' && ch <= 'z')
                                ret[n++] = (uint8_t) (ch - 'a' + 1);
                        else if (ch == '@')
                                ret[n++] = 0;
                        else if (ch >= '[' && ch <= '_')
                                ret[n++] = (uint8_t) (ch - '[' + 27);
                        else
                                return berr_set(err, BERR_INVALID, EINVAL, "Invalid detach keys (%s) provided", spec);
                } else if (strlen(k) == 1)
                        ret[n++] = (uint8_t) k[0];
                else
                        return berr_set(err, BERR_INVALID, EINVAL, "Invalid detach keys (%s) provided", spec);
        }
        *ret_n = n;
        return 0;
}

/* Wait (c->lock held) until the container can take an attach stream: running, or a
 * start has created its shim. Returns 1 if this stream counts as a pre-start waiter. */
static int wait_attachable(struct daemon *d, struct container *c) {
        if (is_running(c) && c->state != CTR_STARTING)
                return 0;
        c->attach_waiters++;
        uint64_t seq = c->start_seq;
        while (!c->shim_created && c->state != CTR_REMOVED && !(is_running(c) && c->state != CTR_STARTING) &&
               c->start_seq == seq &&
               !d->shutting_down)
                pthread_cond_wait(&c->cond, &c->lock);
        return 1;
}

int ctr_attach_begin(struct daemon *d, struct container *c, int fd, const struct ctr_attach_opts *o, int *ret_conn,
                     struct berr *err) {
        *ret_conn = -1;
        struct shim_msg m;
        shim_msg_init(&m, SHIM_REQ_ATTACH);
        size_t nk = 0;
        int r = ctr_parse_detach_keys(o->detach_keys[0] ? o->detach_keys : "ctrl-p,ctrl-q", m.detach_keys,
                                      SHIM_DETACH_KEYS_MAX, &nk, err);
        if (r < 0)
                return r;
        /* As dockerd: detach keys only on a TTY; other stdin is copied byte for byte. */
        m.n_detach_keys = ctr_has_tty(c) ? (uint32_t) nk : 0;
        m.flags = (o->use_stdin ? SHIM_ATTACH_STDIN : 0) | (o->use_stdout ? SHIM_ATTACH_STDOUT : 0) |
                  (o->use_stderr ? SHIM_ATTACH_STDERR : 0) | (ctr_has_tty(c) || o->raw ? 0 : SHIM_ATTACH_MULTIPLEX);

        pthread_mutex_lock(&c->lock);
        int waiter = wait_attachable(d, c);
        /* A start that failed before its shim existed ends the stream at once. */
        bool gone = c->state == CTR_REMOVED || (!c->shim_created && !is_running(c));
        pthread_mutex_unlock(&c->lock);

        _cleanup_free_ char *bundle = ctr_bundle_dir(d, c->id);
        int conn = gone ? -1 : shim_connect(bundle, err);
        if (conn >= 0 && (r = shim_msg_send(conn, &m, fd, err)) == 0)
                r = shim_msg_recv(conn, &m, NULL, err);
        if (waiter) {
                pthread_mutex_lock(&c->lock);
                c->attach_waiters--;
                pthread_cond_broadcast(&c->cond);
                pthread_mutex_unlock(&c->lock);
        }
        if (conn < 0)
                return 0; /* the container ended before we got there: the stream is just over */
        events_container(d, c, "attach", NULL);
        if (r < 0 || m.status < 0) {
                close(conn);
                return 0;
        }
        /* The shim owns the stream now; it closes this connection when it is done. */
        *ret_conn = conn;
        return 0;
}

bool ctr_attach_ended(struct daemon *d, int conn) {
        if (conn < 0 || d->shutting_down)
                return true;
        char buf[64];
        for (;;) {
                ssize_t n = recv(conn, buf, sizeof(buf), MSG_DONTWAIT);
                if (n > 0)
                        continue;
                return n == 0 || (errno != EAGAIN && errno != EINTR);
        }
}

int ctr_attach_stream(struct daemon *d, struct container *c, int fd, const struct ctr_attach_opts *o, struct berr *err) {
        int conn;
        int r = ctr_attach_begin(d, c, fd, o, &conn, err);
        if (r < 0 || conn < 0)
                return r;
        /* Until the shim ends the stream, or the client hangs up: a client that left an
         * attach with no stdin and a quiet container would otherwise hold this thread and
         * two descriptors until the container printed or exited (closing @conn makes the
         * shim drop its copy of the client's socket). The client's socket is watched for
         * a hang-up only (POLLHUP: both directions closed), never for input, which is the
         * shim's; a client half-closing after its stdin stays attached. Wake up now and
         * then to let a daemon shutdown end the request. */
        char buf[64];
        while (!d->shutting_down) {
                struct pollfd p[2] = { { .fd = conn, .events = POLLIN }, { .fd = fd, .events = 0 } };
                int n = poll(p, 2, 1000);
                if (n < 0 && errno != EINTR)
                        break;
                if (n <= 0)
                        continue;
                if (p[1].revents & (POLLHUP | POLLERR | POLLNVAL))
                        break;
                if (p[0].revents) {
                        ssize_t k = recv(conn, buf, sizeof(buf), MSG_DONTWAIT);
                        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
                                break;
                }
        }
        close(conn);
        return 0;
}

/* c->lock held, after any kill: the last checks, then REMOVING (no copy may mount the
 * rootfs from here on) and the rootfs unmounted, verified in the mount table. While the
 * lock was let go a copy may have started or the container may not have died; removing
 * then would pull files from under them. On failure the container is left as it was. */
static int lock_for_removal(struct daemon *d, struct container *c, struct berr *err) {
        if (c->rootfs_users > 0)
                return berr_set(err, BERR_CONFLICT, EBUSY,
                                "cannot remove container \"%s\": a copy to or from it is in progress", c->name);
        if (is_running(c))
                return berr_set(err, BERR_CONFLICT, EBUSY, "cannot remove container \"%s\": it did not stop",
                                c->name);
        if (c->state == CTR_STARTING) /* started again while the lock was let go */
                return berr_set(err, BERR_CONFLICT, EBUSY, "cannot remove container \"%s\": it is being started",
                                c->name);
        enum ctr_state before = c->state;
        int r = ctr_set_state(d, c, CTR_REMOVING, 0, err);
        if (r < 0)
                return berr_wrap(err, "remove container %.12s", c->id);
        r = ctr_rootfs_detach(d, c->id, err); /* ctr_dirs_remove checks the mount table */
        if (r < 0) {
                (void) ctr_set_state(d, c, before, 0, NULL); /* logs its own failure */
                return berr_wrap(err, "remove container %.12s", c->id);
        }
        ctr_save_forget(c); /* an exit's record write still on its way is dropped: the directory goes */
        return 0;
}

int ctr_remove(struct daemon *d, struct container *c, bool force, bool volumes, struct berr *err) {
        pthread_mutex_lock(&c->lock);
        if (c->state == CTR_REMOVED || c->state == CTR_REMOVING) {
                pthread_mutex_unlock(&c->lock);
                return berr_set(err, BERR_CONFLICT, EBUSY, "removal of container %s is already in progress", c->id);
        }
        if ((is_running(c) || c->state == CTR_STARTING) && !force) {
                pthread_mutex_unlock(&c->lock);
                return berr_set(err, BERR_CONFLICT, EBUSY,
                                "cannot remove container \"%s\": container is running: stop the container before "
                                "removing or force remove", c->name);
        }
        if (c->rootfs_users > 0) {
                pthread_mutex_unlock(&c->lock);
                return berr_set(err, BERR_CONFLICT, EBUSY,
                                "cannot remove container \"%s\": a copy to or from it is in progress", c->name);
        }
        /* A start on its way ends first (running, then killed below; or failed). */
        while (c->state == CTR_STARTING && !d->shutting_down)
                pthread_cond_wait(&c->cond, &c->lock);
        if (c->state == CTR_RESTARTING) {
                c->stop_requested = true;
                ctr_cancel_restart(d, c);
        }
        bool running = is_running(c);
        uint64_t gen = c->exit_gen;
        bool durable = !c->cc->hc.auto_remove; /* ctr_dirs_remove */
        pthread_mutex_unlock(&c->lock);
        if (running) {
                struct berr e = { 0 };
                if (send_signal(d, c, SIGKILL, &e) < 0)
                        log_debug("remove %.12s: kill: %s", c->id, e.msg);
                pthread_mutex_lock(&c->lock);
                wait_exit_locked(c, gen, 30);
                pthread_mutex_unlock(&c->lock);
        }
        trace_mark("berthd remove: start");
        pthread_mutex_lock(&c->lock);
        int r = lock_for_removal(d, c, err);
        pthread_mutex_unlock(&c->lock);
        if (r < 0)
                return r;
        trace_mark("berthd remove: removing, rootfs unmounted");
        r = ctr_dirs_remove(d, c->id, durable, err);
        trace_mark("berthd remove: directories removed");
        pthread_mutex_lock(&d->ctr_lock);
        pthread_mutex_lock(&c->lock);
        ctr_save_forget(c); /* the record may be gone: write it next time */
        if (r < 0 && err->errnum != ENOENT) {
                (void) ctr_set_state(d, c, CTR_DEAD, 0, NULL); /* logs its own failure */
                pthread_mutex_unlock(&c->lock);
                pthread_mutex_unlock(&d->ctr_lock);
                return berr_wrap(err, "remove container %.12s", c->id);
        }
        HASH_DEL(d->ctrs, c);
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_unlock(&d->ctr_lock);
        exec_forget_container(d, c->id);
        if (volumes) { /* rm -v and --rm: the container's anonymous volumes go with it */
                _cleanup_json_ json_t *anon = NULL;
                (void) ctr_mounts_anonymous(d, c, &anon);
                size_t i;
                json_t *v;
                pthread_mutex_lock(&d->volume_lock);
                json_array_foreach(anon, i, v) {
                        struct berr e3 = { 0 };
                        char users[200];
                        /* another container took it up by name: it stays, as with dockerd */
                        if (ctr_volume_users(d, json_string_value(v), users, sizeof(users)) > 0)
                                continue;
                        if (daemon_volume_remove_locked(d, json_string_value(v), &e3) < 0 && e3.kind != BERR_NOT_FOUND)
                                log_warn("remove volume %s: %s", json_string_value(v), e3.msg);
                }
                pthread_mutex_unlock(&d->volume_lock);
        }
        /* As dockerd: its volumes gone, then removed (wait condition "removed") and "destroy". */
        pthread_mutex_lock(&c->lock);
        (void) ctr_set_state(d, c, CTR_REMOVED, 0, NULL); /* logs its own failure */
        pthread_mutex_unlock(&c->lock);
        ctr_unref(d, c); /* the table's reference */
        trace_mark("berthd remove: removed");
        return 0;
}
