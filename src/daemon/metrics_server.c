/* metrics_server.c - the engine's metrics for Prometheus: dockerd's engine_daemon_*
 * names where dockerd has the metric, berth_* for berth's own, process_* as Prometheus'
 * process collector names them. */
#include "metrics_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buildinfo.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/log.h"
#include "common/metrics.h"
#include "config_int.h"
#include "daemon.h"
#include "events.h"
#include "rootless.h"

struct metrics_server {
        struct daemon *d;
        int fd;
        int stop_pipe[2];
        pthread_t thread;
};

static void gauge(FILE *f, const char *name, const char *help, const char *type) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void process_metrics(FILE *f, struct daemon *d) {
        long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
        unsigned long utime = 0, stime = 0, vsize = 0;
        long rss = 0;
        char buf[2048];
        FILE *s = fopen("/proc/self/stat", "re");
        if (s) {
                if (fgets(buf, sizeof(buf), s)) {
                        char *p = strrchr(buf, ')');
                        /* fields after the name: state(3) ... utime(14) stime(15) ... vsize(23) rss(24) */
                        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d "
                                               "%*u %lu %ld", &utime, &stime, &vsize, &rss) != 4)
                                utime = stime = vsize = 0, rss = 0;
                }
                fclose(s);
        }
        gauge(f, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter");
        fprintf(f, "process_cpu_seconds_total %.2f\n", tick > 0 ? (double) (utime + stime) / (double) tick : 0.0);
        gauge(f, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge");
        fprintf(f, "process_resident_memory_bytes %ld\n", rss * page);
        gauge(f, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge");
        fprintf(f, "process_virtual_memory_bytes %lu\n", vsize);
        gauge(f, "process_open_fds", "Number of open file descriptors.", "gauge");
        fprintf(f, "process_open_fds %d\n", host_count_fds());
        gauge(f, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge");
        fprintf(f, "process_start_time_seconds %.3f\n", (double) d->started.tv_sec + (double) d->started.tv_nsec / 1e9);
}

static void engine_metrics(FILE *f, struct daemon *d) {
        gauge(f, "engine_daemon_engine_info", "The information related to the engine and the OS it is running on",
              "gauge");
        fputs("engine_daemon_engine_info{architecture=\"", f);
        metrics_write_label(f, d->host.arch_uname);
        fputs("\",commit=\"", f);
        metrics_write_label(f, berth_git_commit);
        fputs("\",daemon_id=\"", f);
        metrics_write_label(f, d->engine_id);
        fputs("\",graphdriver=\"", f);
        metrics_write_label(f, d->storage_driver);
        fputs("\",kernel=\"", f);
        metrics_write_label(f, d->host.kernel);
        fputs("\",os=\"", f);
        metrics_write_label(f, d->host.os_name);
        fputs("\",os_type=\"linux\",version=\"", f);
        metrics_write_label(f, berth_version);
        fputs("\"} 1\n", f);

        struct daemon_counts c;
        daemon_get_counts(d, &c);
        gauge(f, "engine_daemon_container_states_containers", "The count of containers in various states", "gauge");
        fprintf(f, "engine_daemon_container_states_containers{state=\"paused\"} %d\n", c.paused);
        fprintf(f, "engine_daemon_container_states_containers{state=\"running\"} %d\n", c.running);
        fprintf(f, "engine_daemon_container_states_containers{state=\"stopped\"} %d\n", c.stopped);
        gauge(f, "berth_shims_alive", "Container supervisors (berth-shim) alive: one per running or paused container",
              "gauge");
        fprintf(f, "berth_shims_alive %d\n", c.running + c.paused);
        gauge(f, "berth_images", "Images in the image store", "gauge");
        fprintf(f, "berth_images %d\n", c.images);
        gauge(f, "engine_daemon_events_total", "The number of events logged", "counter");
        fprintf(f, "engine_daemon_events_total %llu\n", (unsigned long long) events_emitted(d));
        gauge(f, "engine_daemon_events_subscribers_total", "The number of current subscribers to events", "gauge");
        fprintf(f, "engine_daemon_events_subscribers_total %d\n", events_listeners(d));
}

/* One request per connection, closed after the answer; a slow or silent client is
 * dropped after 2 s. */
static void serve(struct metrics_server *m, int c) {
        struct timeval tv = { .tv_sec = 2 };
        (void) setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        char req[4096];
        size_t n = 0;
        while (n < sizeof(req) - 1) {
                ssize_t r = recv(c, req + n, sizeof(req) - 1 - n, 0);
                if (r <= 0)
                        return;
                n += (size_t) r;
                req[n] = '\0';
                if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
                        break;
        }
        req[n] = '\0';
        _cleanup_free_ char *body = NULL;
        size_t len = 0;
        const char *status = "200 OK", *type = "text/plain; version=0.0.4; charset=utf-8";
        bool head = strncmp(req, "HEAD ", 5) == 0;
        if (strncmp(req, "GET /metrics ", 13) == 0 || strncmp(req, "GET /metrics?", 13) == 0 ||
            strncmp(req, "HEAD /metrics ", 14) == 0) {
                FILE *f = open_memstream(&body, &len);
                if (!f)
                        return;
                engine_metrics(f, m->d);
                metrics_http_write(f);
                metrics_events_write(f);
                process_metrics(f, m->d);
                fclose(f);
        } else {
                status = "404 Not Found";
                type = "text/plain; charset=utf-8";
                body = strdup("404 page not found\n");
                len = body ? strlen(body) : 0;
        }
        char hdr[256];
        int h = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                         status, type, len);
        if (send(c, hdr, (size_t) h, MSG_NOSIGNAL) != h || head)
                return;
        for (size_t off = 0; off < len;) {
                ssize_t w = send(c, body + off, len - off, MSG_NOSIGNAL);
                if (w <= 0)
                        return;
                off += (size_t) w;
        }
}

static void *run(void *arg) {
        struct metrics_server *m = arg;
        for (;;) {
                struct pollfd p[2] = { { .fd = m->fd, .events = POLLIN }, { .fd = m->stop_pipe[0], .events = POLLIN } };
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents)
                        break;
                int c = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        continue;
                serve(m, c);
                close(c);
        }
        return NULL;
}

int metrics_server_start(struct daemon *d, struct metrics_server **ret, struct berr *err) {
        *ret = NULL;
        const char *addr = d->cfg.o14.metrics_addr;
        if (!addr)
                return 0;
        struct sockaddr_storage ss;
        socklen_t len;
        int r = config_parse_loopback_addr(addr, &ss, &len, err);
        if (r < 0)
                return r;
        /* rootless: the host's loopback, not berthd's network namespace's */
        _cleanup_close_ int fd = rootless_host_socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                errno = -fd;
                return berr_sys(err, BERR_INTERNAL, "metrics socket");
        }
        int one = 1;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *) &ss, len) < 0 || listen(fd, 64) < 0)
                return berr_sys(err, BERR_INTERNAL, "listen on metrics-addr %s", addr);
        struct metrics_server *m = calloc(1, sizeof(*m));
        if (!m)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        m->d = d;
        if (pipe2(m->stop_pipe, O_CLOEXEC) < 0) {
                free(m);
                return berr_sys(err, BERR_INTERNAL, "pipe");
        }
        m->fd = TAKE_FD(fd);
        if (pthread_create(&m->thread, NULL, run, m) != 0) {
                close(m->fd);
                close(m->stop_pipe[0]);
                close(m->stop_pipe[1]);
                free(m);
                return berr_set(err, BERR_INTERNAL, EAGAIN, "cannot start the metrics thread");
        }
        log_info("Metrics API listening on %s", addr);
        *ret = m;
        return 0;
}

void metrics_server_stop(struct metrics_server *m) {
        if (!m)
                return;
        (void) !write(m->stop_pipe[1], "x", 1);
        pthread_join(m->thread, NULL);
        close(m->fd);
        close(m->stop_pipe[0]);
        close(m->stop_pipe[1]);
        free(m);
}
