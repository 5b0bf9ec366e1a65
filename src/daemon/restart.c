/* restart.c - restart policies (no, always, unless-stopped, on-failure[:N]) with Docker's
 * back-off, and the containers berthd starts again when it starts. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "container.h"
#include "daemon.h"
#include "events.h"

#define BACKOFF_START_MS 100
#define BACKOFF_MAX_MS (60 * 1000)
#define BACKOFF_RESET_RUN_S 10

struct restart_job {
        struct daemon *d;
        struct container *c;
        int delay_ms;
        bool count; /* a policy restart (counts in RestartCount), not a daemon-start one */
};

static double run_seconds(struct container *c) {
        struct tm a = { 0 }, b = { 0 };
        if (sscanf(c->started_at, "%d-%d-%dT%d:%d:%d", &a.tm_year, &a.tm_mon, &a.tm_mday, &a.tm_hour, &a.tm_min,
                   &a.tm_sec) != 6 ||
            sscanf(c->finished_at, "%d-%d-%dT%d:%d:%d", &b.tm_year, &b.tm_mon, &b.tm_mday, &b.tm_hour, &b.tm_min,
                   &b.tm_sec) != 6)
                return 0;
        return difftime(timegm(&b), timegm(&a));
}

bool ctr_restart_policy_wants(enum ctr_restart policy, int64_t max_retries, int exit_code, int restart_count) {
        switch (policy) {
        case CTR_RESTART_ALWAYS:
        case CTR_RESTART_UNLESS_STOPPED:
                return true;
        case CTR_RESTART_ON_FAILURE:
                return exit_code != 0 && (max_retries == 0 || restart_count < max_retries);
        default:
                return false;
        }
}

/* Docker's back-off: 100 ms doubling to a minute, back to 100 ms after a run of 10 s. */
int ctr_restart_backoff_ms(int prev_ms, double run_s) {
        if (run_s >= BACKOFF_RESET_RUN_S || prev_ms <= 0)
                return BACKOFF_START_MS;
        return prev_ms >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : prev_ms * 2;
}

/* Caller holds c->lock. */
static bool policy_wants_restart(struct daemon *d, struct container *c) {
        if (c->stop_requested || d->shutting_down || c->state != CTR_EXITED)
                return false;
        return ctr_restart_policy_wants(c->cc->hc.restart_policy.name, c->cc->hc.restart_policy.maximum_retry_count,
                                        c->exit_code, c->restart_count);
}

static void *restart_main(void *arg) {
        struct restart_job *j = arg;
        struct timespec ts = { .tv_sec = j->delay_ms / 1000, .tv_nsec = (long) (j->delay_ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0)
                ;
        struct container *c = j->c;
        pthread_mutex_lock(&c->lock);
        bool go = j->count ? c->state == CTR_RESTARTING && !c->stop_requested && !j->d->shutting_down
                           : !j->d->shutting_down && c->state != CTR_REMOVED;
        if (go && j->count)
                c->restart_count++;
        pthread_mutex_unlock(&c->lock);
        if (go) {
                struct berr err = { 0 };
                if (ctr_start(j->d, c, &err) < 0) {
                        log_warn("restart %.12s: %s", c->id, err.msg);
                        pthread_mutex_lock(&c->lock);
                        if (c->state == CTR_RESTARTING)
                                (void) ctr_set_state(j->d, c, CTR_EXITED, 0, NULL); /* logs its own failure */
                        pthread_cond_broadcast(&c->cond);
                        pthread_mutex_unlock(&c->lock);
                }
        }
        ctr_unref(j->d, c);
        free(j);
        return NULL;
}

static void schedule(struct daemon *d, struct container *c, int delay_ms, bool count) {
        struct restart_job *j = calloc(1, sizeof(*j));
        if (!j)
                return;
        pthread_mutex_lock(&d->ctr_lock);
        c->refs++;
        pthread_mutex_unlock(&d->ctr_lock);
        *j = (struct restart_job){ .d = d, .c = c, .delay_ms = delay_ms, .count = count };
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 << 10);
        if (pthread_create(&t, &attr, restart_main, j) != 0) {
                ctr_unref(d, c);
                free(j);
        }
        pthread_attr_destroy(&attr);
}

void ctr_maybe_restart(struct daemon *d, struct container *c) {
        pthread_mutex_lock(&c->lock);
        if (!policy_wants_restart(d, c)) {
                pthread_mutex_unlock(&c->lock);
                return;
        }
        c->restart_delay_ms = ctr_restart_backoff_ms(c->restart_delay_ms, run_seconds(c));
        int delay = c->restart_delay_ms;
        (void) ctr_set_state(d, c, CTR_RESTARTING, 0, NULL); /* EXITED, checked above */
        pthread_mutex_unlock(&c->lock);
        schedule(d, c, delay, true);
}

/* At daemon start: containers with "always", or "unless-stopped" that no one stopped. */
void ctr_start_policy_containers(struct daemon *d) {
        pthread_mutex_lock(&d->ctr_lock);
        struct container *c, *tmp;
        HASH_ITER(hh, d->ctrs, c, tmp) {
                pthread_mutex_lock(&c->lock);
                enum ctr_restart policy = c->cc->hc.restart_policy.name;
                bool want = (c->state == CTR_EXITED || c->state == CTR_CREATED) && c->started_at[0] &&
                            (policy == CTR_RESTART_ALWAYS || (policy == CTR_RESTART_UNLESS_STOPPED && !c->stop_requested));
                pthread_mutex_unlock(&c->lock);
                if (want) {
                        pthread_mutex_unlock(&d->ctr_lock);
                        schedule(d, c, 0, false);
                        pthread_mutex_lock(&d->ctr_lock);
                }
        }
        pthread_mutex_unlock(&d->ctr_lock);
}
