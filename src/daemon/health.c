/* health.c - HEALTHCHECK: while a container with a health check runs, a thread of its
 * own probes it every interval with an exec of the test command (exec_probe), keeps the
 * last five results, counts the failing streak and turns the status to healthy or
 * unhealthy as dockerd does, announcing changes as health_status events. Probes pause
 * while the container is paused; failures in the start period do not count. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "container.h"
#include "daemon.h"
#include "events.h"
#include "exec.h"

#define HEALTH_LOG_KEEP 5
#define HEALTH_OUTPUT_MAX 4096 /* dockerd's maxOutputLen */
#define SEC 1000000000LL

struct health_cfg {
        json_t *cmd; /* the argv to run */
        int64_t interval_ns, timeout_ns, start_period_ns, start_interval_ns;
        int retries;
};

/* The effective test: NULL without one (none in the config or the image, or NONE). */
static json_t *test_argv(const struct ctr_healthcheck *hc) {
        const struct strv *test = &hc->test;
        const char *kind = strv_get(test, 0);
        if (!kind || strcmp(kind, "NONE") == 0)
                return NULL;
        if (strcmp(kind, "CMD") == 0 && test->n > 1) {
                json_t *a = json_array();
                for (size_t i = 1; a && i < test->n; i++)
                        json_array_append_new(a, json_string(test->v[i]));
                return a;
        }
        if (strcmp(kind, "CMD-SHELL") == 0 && test->n > 1)
                return json_pack("[s, s, s]", "/bin/sh", "-c", test->v[1]);
        return NULL;
}

static int64_t dur(int64_t v, int64_t def) {
        return v > 0 ? v : def;
}

bool health_configured(struct container *c) {
        json_t *a = test_argv(&c->cc->cfg.healthcheck);
        json_decref(a);
        return a != NULL;
}

static int64_t mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * SEC + ts.tv_nsec;
}

/* Go's time.Duration String() for the values a health check has: "30s", "1.5s", "300ms". */
static void go_duration(int64_t ns, char *out, size_t size) {
        if (ns < SEC && ns % 1000000 == 0) {
                snprintf(out, size, "%lldms", (long long) (ns / 1000000));
                return;
        }
        char buf[40];
        snprintf(buf, sizeof(buf), "%lld.%09lld", (long long) (ns / SEC), (long long) (ns % SEC));
        size_t n = strlen(buf);
        while (n > 0 && buf[n - 1] == '0')
                buf[--n] = '\0';
        if (n > 0 && buf[n - 1] == '.')
                buf[--n] = '\0';
        snprintf(out, size, "%ss", buf);
}

struct health_run {
        struct daemon *d;
        struct container *c;
        struct health_cfg cfg;
        uint64_t exit_gen;
};

/* Wait @ns on the container's condvar (c->lock held); false when the run is over. */
static bool wait_locked(struct health_run *h, int64_t ns) {
        struct container *c = h->c;
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += (time_t) (ns / SEC);
        deadline.tv_nsec += (long) (ns % SEC);
        if (deadline.tv_nsec >= SEC) {
                deadline.tv_sec++;
                deadline.tv_nsec -= SEC;
        }
        for (;;) {
                if (h->d->shutting_down || c->exit_gen != h->exit_gen ||
                    (c->state != CTR_RUNNING && c->state != CTR_PAUSED))
                        return false;
                if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline) != 0)
                        return !(h->d->shutting_down || c->exit_gen != h->exit_gen ||
                                 (c->state != CTR_RUNNING && c->state != CTR_PAUSED));
        }
}

static void record(struct health_run *h, const char *start, int code, const char *output, bool in_start_period) {
        struct container *c = h->c;
        char end[48];
        ctr_now(end);
        char old[16];
        pthread_mutex_lock(&c->lock);
        snprintf(old, sizeof(old), "%s", c->health_status);
        if (!c->health_log)
                c->health_log = json_array();
        json_array_append_new(c->health_log, json_pack("{s:s, s:s, s:i, s:s}", "Start", start, "End", end, "ExitCode", code,
                                                       "Output", output));
        while (json_array_size(c->health_log) > HEALTH_LOG_KEEP)
                json_array_remove(c->health_log, 0);
        if (code == 0) {
                c->health_failing = 0;
                snprintf(c->health_status, sizeof(c->health_status), "healthy");
        } else if (!(in_start_period && strcmp(c->health_status, "starting") == 0)) {
                c->health_failing++;
                if (c->health_failing >= h->cfg.retries)
                        snprintf(c->health_status, sizeof(c->health_status), "unhealthy");
        }
        bool changed = strcmp(old, c->health_status) != 0;
        char now[16];
        snprintf(now, sizeof(now), "%s", c->health_status);
        pthread_mutex_unlock(&c->lock);
        if (changed) {
                char action[48];
                snprintf(action, sizeof(action), "health_status: %s", now);
                events_container(h->d, c, action, NULL);
        }
}

static void *health_thread(void *arg) {
        struct health_run *h = arg;
        struct container *c = h->c;
        int64_t started = mono_ns();
        pthread_mutex_lock(&c->lock);
        for (;;) {
                bool in_start = mono_ns() - started < h->cfg.start_period_ns;
                int64_t wait = in_start && h->cfg.start_interval_ns > 0 ? h->cfg.start_interval_ns : h->cfg.interval_ns;
                if (!wait_locked(h, wait))
                        break;
                if (c->state == CTR_PAUSED)
                        continue; /* dockerd does not probe a paused container */
                pthread_mutex_unlock(&c->lock);
                char start[48], out[HEALTH_OUTPUT_MAX + 1];
                ctr_now(start);
                int code = -1;
                struct berr err = { 0 };
                int64_t timeout_ms = h->cfg.timeout_ns / 1000000;
                int r = exec_probe(h->d, c, h->cfg.cmd, (int) (timeout_ms > 0 ? timeout_ms : 1), &code, out, sizeof(out), &err);
                if (r < 0 && err.errnum == ETIMEDOUT) {
                        char d[48]; /* go_duration of any int64: up to 40 characters */
                        go_duration(h->cfg.timeout_ns, d, sizeof(d));
                        snprintf(out, sizeof(out), "Health check exceeded timeout (%s)", d);
                }
                else if (r < 0)
                        snprintf(out, sizeof(out), "%s", err.msg);
                if (r < 0 && code == 0)
                        code = -1;
                if (!h->d->shutting_down)
                        record(h, start, code, out, mono_ns() - started < h->cfg.start_period_ns);
                pthread_mutex_lock(&c->lock);
        }
        c->health_running = false;
        pthread_mutex_unlock(&c->lock);
        json_decref(h->cfg.cmd);
        struct daemon *d = h->d;
        ctr_unref(d, c);
        free(h);
        atomic_fetch_sub(&d->health_threads, 1);
        return NULL;
}

void health_start(struct daemon *d, struct container *c) {
        const struct ctr_healthcheck *hc = &c->cc->cfg.healthcheck;
        json_t *cmd = test_argv(hc);
        if (!cmd)
                return;
        struct health_run *h = calloc(1, sizeof(*h));
        if (!h) {
                json_decref(cmd);
                return;
        }
        h->d = d;
        h->c = c;
        h->cfg.cmd = cmd;
        h->cfg.interval_ns = dur(hc->interval_ns, 30 * SEC);
        h->cfg.timeout_ns = dur(hc->timeout_ns, 30 * SEC);
        h->cfg.start_period_ns = dur(hc->start_period_ns, 0);
        h->cfg.start_interval_ns = dur(hc->start_interval_ns, 5 * SEC);
        int64_t retries = hc->retries;
        h->cfg.retries = retries > 0 ? (int) retries : 3;
        pthread_mutex_lock(&c->lock);
        if (c->health_running) {
                pthread_mutex_unlock(&c->lock);
                json_decref(cmd);
                free(h);
                return;
        }
        c->health_running = true;
        h->exit_gen = c->exit_gen;
        snprintf(c->health_status, sizeof(c->health_status), "starting");
        c->health_failing = 0;
        json_decref(c->health_log);
        c->health_log = json_array();
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_lock(&d->ctr_lock);
        c->refs++;
        pthread_mutex_unlock(&d->ctr_lock);
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 128 * 1024);
        pthread_t t;
        atomic_fetch_add(&d->health_threads, 1);
        if (pthread_create(&t, &a, health_thread, h) != 0) {
                atomic_fetch_sub(&d->health_threads, 1);
                log_warn("container %.12s: cannot start its health checks", c->id);
                pthread_mutex_lock(&c->lock);
                c->health_running = false;
                pthread_mutex_unlock(&c->lock);
                json_decref(cmd);
                free(h);
                ctr_unref(d, c);
        }
        pthread_attr_destroy(&a);
}

json_t *health_json(struct container *c) {
        if (!c->health_status[0])
                return NULL;
        return json_pack("{s:s, s:i, s:o}", "Status", c->health_status, "FailingStreak", c->health_failing, "Log",
                         c->health_log ? json_deep_copy(c->health_log) : json_array());
}

void health_wait_all(struct daemon *d) {
        for (int i = 0; i < 500 && atomic_load(&d->health_threads) > 0; i++) {
                struct timespec ts = { 0, 10 * 1000000L };
                nanosleep(&ts, NULL);
        }
}
