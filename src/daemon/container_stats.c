/* container_stats.c - GET /containers/{id}/stats: the container's cgroup counters in
 * dockerd's StatsJSON shape (cgroup v1 and v2), one object a second while streaming,
 * each with the previous sample as precpu_stats so clients compute CPU %. */
#define _GNU_SOURCE 1
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "container.h"
#include "daemon.h"
#include "rootless.h"
#include "container_stats.h"

#define STATS_INTERVAL_MS 1000

struct sample {
        bool valid;
        char read[40];
        uint64_t cpu_total, cpu_user, cpu_sys, system;
        json_t *percpu; /* v1 only, else NULL */
        uint32_t online;
        uint64_t periods, throttled_periods, throttled_time;
};

struct ctr_stats_reader {
        struct daemon *d;
        struct container *c;
        bool stream, one_shot;
        int client_fd;
        bool done;
        struct sample pre;
        char *pending;
        size_t pending_len, pending_off;
        int emitted;
};

static uint64_t read_u64(const char *dir, const char *file, bool *ok) {
        char p[2400];
        (void) fs_path_fmt(p, sizeof(p), "%s/%s", dir, file); /* "" when too long: reads as absent */
        _cleanup_free_ char *t = NULL;
        size_t len;
        struct berr e = { 0 };
        if (!dir[0] || fs_read_file(AT_FDCWD, p, 4096, &t, &len, &e) < 0) {
                if (ok)
                        *ok = false;
                return 0;
        }
        if (ok)
                *ok = strncmp(t, "max", 3) != 0;
        return strtoull(t, NULL, 10);
}

static char *read_text(const char *dir, const char *file) {
        char p[2400];
        (void) fs_path_fmt(p, sizeof(p), "%s/%s", dir, file); /* "" when too long: reads as absent */
        char *t = NULL;
        size_t len;
        struct berr e = { 0 };
        if (!dir[0] || fs_read_file(AT_FDCWD, p, 1 << 20, &t, &len, &e) < 0)
                return NULL;
        return t;
}

/* "key value" lines into an object of integers. */
static json_t *keyed(const char *text) {
        json_t *o = json_object();
        _cleanup_free_ char *copy = text ? strdup(text) : NULL;
        for (char *save = NULL, *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
                char key[128];
                unsigned long long v;
                if (sscanf(l, "%127s %llu", key, &v) == 2)
                        json_object_set_new(o, key, json_integer((json_int_t) v));
        }
        return o;
}

static uint64_t keyed_get(json_t *o, const char *k) {
        return (uint64_t) json_integer_value(json_object_get(o, k));
}

/* Host CPU time from /proc/stat's first line, in nanoseconds (dockerd's system_cpu_usage). */
static uint64_t system_usage(uint32_t *online) {
        _cleanup_free_ char *t = NULL;
        size_t len;
        struct berr e = { 0 };
        *online = 0;
        if (fs_read_file(AT_FDCWD, "/proc/stat", 1 << 20, &t, &len, &e) < 0)
                return 0;
        uint64_t sum = 0;
        char *save = NULL;
        for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (strncmp(l, "cpu ", 4) == 0) {
                        char *p = l + 4;
                        for (int i = 0; i < 7; i++) { /* user nice system idle iowait irq softirq */
                                char *end;
                                unsigned long long v = strtoull(p, &end, 10);
                                if (end == p)
                                        break;
                                sum += v;
                                p = end;
                        }
                } else if (strncmp(l, "cpu", 3) == 0 && l[3] >= '0' && l[3] <= '9')
                        (*online)++;
        }
        long hz = sysconf(_SC_CLK_TCK);
        return sum * (1000000000ull / (uint64_t) (hz > 0 ? hz : 100));
}

static json_t *cpu_json(const struct sample *s) {
        json_t *usage = json_pack("{s:I, s:I, s:I}", "total_usage", (json_int_t) s->cpu_total, "usage_in_kernelmode",
                                  (json_int_t) s->cpu_sys, "usage_in_usermode", (json_int_t) s->cpu_user);
        if (s->percpu)
                json_object_set(usage, "percpu_usage", s->percpu);
        json_t *o = json_pack("{s:o, s:{s:I, s:I, s:I}}", "cpu_usage", usage, "throttling_data", "periods",
                              (json_int_t) s->periods, "throttled_periods", (json_int_t) s->throttled_periods,
                              "throttled_time", (json_int_t) s->throttled_time);
        if (s->valid) {
                json_object_set_new(o, "system_cpu_usage", json_integer((json_int_t) s->system));
                json_object_set_new(o, "online_cpus", json_integer(s->online));
        }
        return o;
}

static void sample_free(struct sample *s) {
        json_decref(s->percpu);
        memset(s, 0, sizeof(*s));
}

/* blkio v1 "8:0 Read 4096" lines -> [{"major":8,"minor":0,"op":"read","value":4096}] */
static json_t *blkio_v1(const char *text) {
        if (!text)
                return json_null();
        json_t *a = json_array();
        _cleanup_free_ char *copy = strdup(text);
        for (char *save = NULL, *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
                unsigned maj, min;
                char op[32];
                unsigned long long v;
                if (sscanf(l, "%u:%u %31s %llu", &maj, &min, op, &v) == 4)
                        json_array_append_new(a, json_pack("{s:i, s:i, s:s, s:I}", "major", maj, "minor", min, "op", op,
                                                           "value", (json_int_t) v));
        }
        if (json_array_size(a) == 0) {
                json_decref(a);
                return json_null();
        }
        return a;
}

/* v2 io.stat "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." -> the same shape, ops "read"/"write". */
static json_t *blkio_v2(const char *text) {
        if (!text)
                return json_null();
        json_t *a = json_array();
        _cleanup_free_ char *copy = strdup(text);
        for (char *save = NULL, *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
                unsigned maj, min;
                int off = 0;
                if (sscanf(l, "%u:%u%n", &maj, &min, &off) != 2)
                        continue;
                unsigned long long rb = 0, wb = 0;
                const char *p;
                if ((p = strstr(l + off, "rbytes=")))
                        rb = strtoull(p + 7, NULL, 10);
                if ((p = strstr(l + off, "wbytes=")))
                        wb = strtoull(p + 7, NULL, 10);
                json_array_append_new(a, json_pack("{s:i, s:i, s:s, s:I}", "major", maj, "minor", min, "op", "read",
                                                   "value", (json_int_t) rb));
                json_array_append_new(a, json_pack("{s:i, s:i, s:s, s:I}", "major", maj, "minor", min, "op", "write",
                                                   "value", (json_int_t) wb));
        }
        if (json_array_size(a) == 0) {
                json_decref(a);
                return json_null();
        }
        return a;
}

/* dockerd: a limit above the machine's memory (none set) reports the machine's memory. */
static uint64_t clamp_to_machine(uint64_t lim) {
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        uint64_t machine = pages > 0 && psz > 0 ? (uint64_t) pages * (uint64_t) psz : 0;
        return machine && (lim == 0 || lim > machine) ? machine : lim;
}

/* Take a sample of @pid's cgroups into @s; the rest of the object into *@ret. */
static json_t *take(pid_t pid, struct sample *s) {
        memset(s, 0, sizeof(*s));
        ctr_now(s->read);
        char cpu[2200] = "", mem[2200] = "", pids[2200] = "", blk[2200] = "", v2[2200] = "";
        /* no cpuacct hierarchy: ctr_cgroup_dir gave the v2 cgroup (pure v2, rootless.c's too) */
        char probe[2300];
        bool is_v2 = ctr_cgroup_dir(pid, "cpuacct", cpu, sizeof(cpu)) < 0 ||
                     (fs_path_fmt(probe, sizeof(probe), "%s/cgroup.controllers", cpu) == 0 && access(probe, F_OK) == 0);
        if (is_v2) {
                if (ctr_cgroup_dir(pid, "", v2, sizeof(v2)) < 0)
                        return NULL;
        } else {
                (void) ctr_cgroup_dir(pid, "memory", mem, sizeof(mem));
                (void) ctr_cgroup_dir(pid, "pids", pids, sizeof(pids));
                (void) ctr_cgroup_dir(pid, "blkio", blk, sizeof(blk));
        }
        s->valid = true;
        s->system = system_usage(&s->online);
        json_t *memory, *pids_o, *blkio;
        if (!is_v2) {
                s->cpu_total = read_u64(cpu, "cpuacct.usage", NULL);
                _cleanup_free_ char *stat = read_text(cpu, "cpuacct.stat");
                _cleanup_json_ json_t *st = keyed(stat);
                long hz = sysconf(_SC_CLK_TCK);
                uint64_t tick = 1000000000ull / (uint64_t) (hz > 0 ? hz : 100);
                s->cpu_user = keyed_get(st, "user") * tick;
                s->cpu_sys = keyed_get(st, "system") * tick;
                _cleanup_free_ char *per = read_text(cpu, "cpuacct.usage_percpu");
                if (per) {
                        s->percpu = json_array();
                        char *p = per;
                        for (;;) {
                                char *end;
                                unsigned long long v = strtoull(p, &end, 10);
                                if (end == p)
                                        break;
                                json_array_append_new(s->percpu, json_integer((json_int_t) v));
                                p = end;
                        }
                }
                char cpudir[2200] = "";
                if (ctr_cgroup_dir(pid, "cpu", cpudir, sizeof(cpudir)) == 0) {
                        _cleanup_free_ char *th = read_text(cpudir, "cpu.stat");
                        _cleanup_json_ json_t *t = keyed(th);
                        s->periods = keyed_get(t, "nr_periods");
                        s->throttled_periods = keyed_get(t, "nr_throttled");
                        s->throttled_time = keyed_get(t, "throttled_time");
                }
                _cleanup_free_ char *ms = read_text(mem, "memory.stat");
                json_t *mstats = keyed(ms);
                memory = json_pack("{s:I, s:I, s:o, s:I}", "usage", (json_int_t) read_u64(mem, "memory.usage_in_bytes", NULL),
                                   "max_usage", (json_int_t) read_u64(mem, "memory.max_usage_in_bytes", NULL), "stats",
                                   mstats, "limit", (json_int_t) clamp_to_machine(read_u64(mem, "memory.limit_in_bytes", NULL)));
                bool lim_ok = true;
                uint64_t lim = read_u64(pids, "pids.max", &lim_ok);
                pids_o = json_pack("{s:I}", "current", (json_int_t) read_u64(pids, "pids.current", NULL));
                if (lim_ok && lim)
                        json_object_set_new(pids_o, "limit", json_integer((json_int_t) lim));
                _cleanup_free_ char *io = read_text(blk, "blkio.throttle.io_service_bytes_recursive");
                _cleanup_free_ char *ios = read_text(blk, "blkio.throttle.io_serviced_recursive");
                blkio = json_pack("{s:o, s:o, s:n, s:n, s:n, s:n, s:n, s:n}", "io_service_bytes_recursive", blkio_v1(io),
                                  "io_serviced_recursive", blkio_v1(ios), "io_queue_recursive", "io_service_time_recursive",
                                  "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive", "sectors_recursive");
        } else {
                _cleanup_free_ char *cs = read_text(v2, "cpu.stat");
                _cleanup_json_ json_t *c = keyed(cs);
                s->cpu_total = keyed_get(c, "usage_usec") * 1000;
                s->cpu_user = keyed_get(c, "user_usec") * 1000;
                s->cpu_sys = keyed_get(c, "system_usec") * 1000;
                s->periods = keyed_get(c, "nr_periods");
                s->throttled_periods = keyed_get(c, "nr_throttled");
                s->throttled_time = keyed_get(c, "throttled_usec") * 1000;
                _cleanup_free_ char *ms = read_text(v2, "memory.stat");
                json_t *mstats = keyed(ms);
                bool lim_ok = true;
                uint64_t lim = read_u64(v2, "memory.max", &lim_ok);
                lim = clamp_to_machine(lim_ok ? lim : 0);
                memory = json_pack("{s:I, s:o, s:I}", "usage", (json_int_t) read_u64(v2, "memory.current", NULL), "stats",
                                   mstats, "limit", (json_int_t) lim);
                bool pl_ok = true;
                uint64_t pl = read_u64(v2, "pids.max", &pl_ok);
                pids_o = json_pack("{s:I}", "current", (json_int_t) read_u64(v2, "pids.current", NULL));
                if (pl_ok && pl)
                        json_object_set_new(pids_o, "limit", json_integer((json_int_t) pl));
                _cleanup_free_ char *io = read_text(v2, "io.stat");
                blkio = json_pack("{s:o, s:n, s:n, s:n, s:n, s:n, s:n, s:n}", "io_service_bytes_recursive", blkio_v2(io),
                                  "io_serviced_recursive", "io_queue_recursive", "io_service_time_recursive",
                                  "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive", "sectors_recursive");
        }
        return json_pack("{s:o, s:o, s:o}", "memory_stats", memory, "pids_stats", pids_o, "blkio_stats", blkio);
}

/* The zero object of a container that is not running (dockerd sends one, then ends). */
static json_t *blank(void) {
        return json_pack("{s:{}, s:{}, s:{s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n}}", "memory_stats", "pids_stats",
                         "blkio_stats", "io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
                         "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
                         "io_time_recursive", "sectors_recursive");
}

static bool running_pid(struct container *c, pid_t *pid) {
        pthread_mutex_lock(&c->lock);
        bool r = (c->state == CTR_RUNNING || c->state == CTR_PAUSED) && c->pid > 0;
        *pid = c->pid;
        pthread_mutex_unlock(&c->lock);
        return r;
}

/* One StatsJSON object (a text line) for the next sample. */
static char *next_object(struct ctr_stats_reader *r) {
        pid_t pid = 0;
        struct sample cur = { 0 };
        json_t *o = NULL;
        if (running_pid(r->c, &pid))
                o = take(pid, &cur);
        if (!o) {
                o = blank();
                r->done = true;
                ctr_now(cur.read);
        }
        json_object_set_new(o, "read", json_string(cur.read));
        json_object_set_new(o, "preread", json_string(r->pre.read[0] ? r->pre.read : "0001-01-01T00:00:00Z"));
        json_object_set_new(o, "num_procs", json_integer(0));
        json_object_set_new(o, "storage_stats", json_object());
        json_object_set_new(o, "cpu_stats", cpu_json(&cur));
        json_object_set_new(o, "precpu_stats", cpu_json(&r->pre));
        /* Per-interface counters of the container's namespace (NET I/O in docker stats). */
        json_t *nets = r->done ? NULL : ctr_net_stats(r->d, r->c);
        if (nets && json_object_size(nets) > 0)
                json_object_set_new(o, "networks", nets);
        else
                json_decref(nets);
        json_object_set_new(o, "name", json_string(r->c->name));
        json_object_set_new(o, "id", json_string(r->c->id));
        char *text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        sample_free(&r->pre);
        r->pre = cur;
        return text;
}

static bool peer_closed(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLRDHUP };
        return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* Sleep @ms in small steps; false when the client left or berthd stops. */
static bool pause_ms(struct ctr_stats_reader *r, int ms) {
        for (int waited = 0; waited < ms; waited += 100) {
                if (r->d->shutting_down || (r->client_fd >= 0 && peer_closed(r->client_fd)))
                        return false;
                struct timespec ts = { 0, 100 * 1000000L };
                nanosleep(&ts, NULL);
        }
        return true;
}

int ctr_stats_open(struct daemon *d, struct container *c, bool stream, bool one_shot, int client_fd,
                   struct ctr_stats_reader **ret, struct berr *err) {
        /* rootless.c without a delegated cgroup subtree: containers run without a cgroup of
         * their own; the counters of the one they share with berthd would be the user's
         * session's, not theirs */
        if (d->rootless && !rootless_cgroup_subtree())
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "rootless: container stats need a cgroup delegated to "
                                "the user (a cgroup v2 subtree, as systemd's Delegate=yes gives one): berthd started "
                                "without one");
        struct ctr_stats_reader *r = calloc(1, sizeof(*r));
        if (!r)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        r->d = d;
        r->c = c;
        r->stream = stream;
        r->one_shot = one_shot;
        r->client_fd = client_fd;
        *ret = r;
        return 0;
}

ssize_t ctr_stats_read(struct ctr_stats_reader *r, char *buf, size_t max) {
        while (r->pending_off >= r->pending_len) {
                free(r->pending);
                r->pending = NULL;
                r->pending_len = r->pending_off = 0;
                if (r->done || (!r->stream && r->emitted > 0))
                        return 0;
                pid_t pid;
                if (r->emitted == 0 && !r->one_shot && running_pid(r->c, &pid)) {
                        /* A first sample to compare with, as dockerd's collector has one. */
                        struct sample s0;
                        json_decref(take(pid, &s0));
                        r->pre = s0;
                        if (!pause_ms(r, STATS_INTERVAL_MS))
                                return -1;
                } else if (r->emitted > 0 && !pause_ms(r, STATS_INTERVAL_MS))
                        return -1;
                char *text = next_object(r);
                if (!text)
                        return -1;
                size_t n = strlen(text);
                r->pending = realloc(text, n + 2);
                if (!r->pending) {
                        free(text);
                        return -1;
                }
                r->pending[n] = '\n';
                r->pending[n + 1] = '\0';
                r->pending_len = n + 1;
                r->emitted++;
        }
        size_t n = r->pending_len - r->pending_off;
        if (n > max)
                n = max;
        memcpy(buf, r->pending + r->pending_off, n);
        r->pending_off += n;
        return (ssize_t) n;
}

void ctr_stats_free(struct ctr_stats_reader *r) {
        if (!r)
                return;
        sample_free(&r->pre);
        free(r->pending);
        ctr_unref(r->d, r->c);
        free(r);
}
