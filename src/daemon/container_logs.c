/* container_logs.c - the json-file log read back for `docker logs`. */
#include "container_logs.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "container.h"
#include "daemon.h"
#include "logdrv.h"
#include "plugin/plugin.h"

#define MAX_LOG_FILES 64

struct ctr_log_reader {
        struct daemon *d;
        struct container *c;
        struct ctr_logs_opts o;
        bool tty;
        char *path;
        char *files[MAX_LOG_FILES + 1]; /* oldest first; the live file last */
        size_t n_files, cur;
        FILE *fp;
        gzFile gz; /* the local driver's files (plain or gzipped) */
        bool local;
        ino_t ino;
        /* Lines ready to go out (tail keeps the last N here first). */
        char **queue;
        size_t q_len, q_cap, q_head;
        char *out;
        size_t out_len, out_pos;
        char *line;
        size_t line_cap;
        bool done;
        /* a log plugin's ReadLogs: its stream, the bytes of a record not whole yet */
        struct plugin_stream *ps;
        bool ps_eof;
        uint8_t *pbuf;
        size_t p_len, p_cap;
};

/* Whole seconds and nanoseconds -> ns since the epoch; a time past what int64 nanoseconds
 * hold (before 1677, after 2262) saturates, which keeps it before or after every log line
 * and container, as dockerd's time.Time comparisons do. */
static int64_t ns_saturated(double secs, long long frac) {
        if (secs >= (double) (INT64_MAX / 1000000000LL))
                return INT64_MAX;
        if (secs <= (double) (INT64_MIN / 1000000000LL))
                return INT64_MIN;
        return (int64_t) secs * 1000000000LL + frac; /* toward zero, as before */
}

int ctr_logs_parse_time(const char *s, int64_t *ret_ns) {
        char *end;
        double v = strtod(s, &end);
        if (end != s && *end == '\0') {
                if (!isfinite(v))
                        return -EINVAL;
                const char *dot = strchr(s, '.');
                long long ns = 0;
                if (dot) {
                        char frac[10] = "000000000";
                        for (int i = 0; i < 9 && dot[1 + i] >= '0' && dot[1 + i] <= '9'; i++)
                                frac[i] = dot[1 + i];
                        ns = atoll(frac);
                }
                *ret_ns = ns_saturated(v, ns);
                return 0;
        }
        struct tm tm = { 0 };
        long frac = 0;
        int n = sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
        if (n != 6)
                return -EINVAL;
        const char *dot = strchr(s, '.');
        if (dot) {
                char f[10] = "000000000";
                for (int i = 0; i < 9 && dot[1 + i] >= '0' && dot[1 + i] <= '9'; i++)
                        f[i] = dot[1 + i];
                frac = atol(f);
        }
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        *ret_ns = ns_saturated((double) timegm(&tm), frac);
        return 0;
}

static void queue_push(struct ctr_log_reader *r, char *framed) {
        if (r->o.tail >= 0 && r->q_len - r->q_head >= (size_t) r->o.tail) {
                if (r->o.tail == 0) {
                        free(framed);
                        return;
                }
                free(r->queue[r->q_head]);
                r->queue[r->q_head++] = NULL;
        }
        if (r->q_len == r->q_cap) {
                if (r->q_head > 0) {
                        memmove(r->queue, r->queue + r->q_head, (r->q_len - r->q_head) * sizeof(char *));
                        r->q_len -= r->q_head;
                        r->q_head = 0;
                }
                if (r->q_len == r->q_cap) {
                        r->q_cap = r->q_cap ? r->q_cap * 2 : 64;
                        r->queue = realloc(r->queue, r->q_cap * sizeof(char *));
                }
        }
        r->queue[r->q_len++] = framed;
}

/* Go's RFC3339Nano: trailing zeros of the fraction trimmed. */
static void go_time(const char *t, char *out, size_t size) {
        snprintf(out, size, "%s", t);
        char *dot = strchr(out, '.');
        char *z = strchr(out, 'Z');
        if (!dot || !z)
                return;
        char *p = z - 1;
        while (p > dot && *p == '0')
                p--;
        if (p == dot)
                p--;
        memmove(p + 1, z, strlen(z) + 1);
}

/* One entry to the bytes the client gets, or NULL if filtered out. Each framed record is
 * prefixed with its length (size_t) for the queue. @t: its RFC 3339 time. */
static char *frame_entry(struct ctr_log_reader *r, bool is_err, const char *t, const char *log, size_t log_len) {
        if (!log || (is_err && !r->o.want_stderr) || (!is_err && !r->o.want_stdout))
                return NULL;
        if (r->o.since_ns || r->o.until_ns) {
                int64_t ns = 0;
                if (!t || ctr_logs_parse_time(t, &ns) < 0)
                        return NULL;
                if ((r->o.since_ns && ns < r->o.since_ns) || (r->o.until_ns && ns > r->o.until_ns))
                        return NULL;
        }
        char ts[64] = "";
        if (r->o.timestamps && t) {
                go_time(t, ts, sizeof(ts) - 1);
                strcat(ts, " ");
        }
        size_t tl = strlen(ts);
        size_t payload = tl + log_len;
        size_t hdr = r->tty ? 0 : 8;
        char *res = malloc(sizeof(size_t) + hdr + payload);
        if (!res)
                return NULL;
        size_t total = hdr + payload;
        memcpy(res, &total, sizeof(size_t));
        unsigned char *p = (unsigned char *) res + sizeof(size_t);
        if (hdr) {
                p[0] = is_err ? 2 : 1;
                p[1] = p[2] = p[3] = 0;
                p[4] = (unsigned char) (payload >> 24);
                p[5] = (unsigned char) (payload >> 16);
                p[6] = (unsigned char) (payload >> 8);
                p[7] = (unsigned char) payload;
        }
        memcpy(p + hdr, ts, tl);
        memcpy(p + hdr + tl, log, log_len);
        return res;
}

static char *frame_line(struct ctr_log_reader *r, const char *json_line) {
        json_error_t je;
        json_t *o = json_loads(json_line, JSON_ALLOW_NUL, &je); /* the writer escapes NUL as \u0000 */
        if (!o)
                return NULL;
        const char *stream = json_string_value(json_object_get(o, "stream"));
        char *res = frame_entry(r, stream && strcmp(stream, "stderr") == 0,
                                json_string_value(json_object_get(o, "time")),
                                json_string_value(json_object_get(o, "log")),
                                json_string_length(json_object_get(o, "log")));
        json_decref(o);
        return res;
}

static bool pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
        *v = 0;
        for (int shift = 0; *p < end && shift < 64; shift += 7) {
                uint8_t b = *(*p)++;
                *v |= (uint64_t) (b & 0x7f) << shift;
                if (!(b & 0x80))
                        return true;
        }
        return false;
}

/* One LogEntry of the local driver (source 1, time_nano 2, line 3, partial 4). */
static char *frame_local(struct ctr_log_reader *r, const uint8_t *p, size_t n) {
        const uint8_t *end = p + n, *line = NULL;
        uint64_t ns = 0, line_len = 0, v;
        bool is_err = false, partial = false;
        while (p < end) {
                uint64_t key;
                if (!pb_varint(&p, end, &key))
                        return NULL;
                unsigned field = (unsigned) (key >> 3), wt = (unsigned) (key & 7);
                if (wt == 0) {
                        if (!pb_varint(&p, end, &v))
                                return NULL;
                        if (field == 2)
                                ns = v;
                        else if (field == 4)
                                partial = v != 0;
                } else if (wt == 2) {
                        if (!pb_varint(&p, end, &v) || v > (uint64_t) (end - p))
                                return NULL;
                        if (field == 1)
                                is_err = v == 6 && memcmp(p, "stderr", 6) == 0;
                        else if (field == 3) {
                                line = p;
                                line_len = v;
                        }
                        p += v;
                } else
                        return NULL;
        }
        char t[64];
        struct timespec ts = { (time_t) (ns / 1000000000ULL), (long) (ns % 1000000000ULL) };
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char date[32];
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(t, sizeof(t), "%s.%09ldZ", date, ts.tv_nsec);
        _cleanup_free_ char *text = malloc(line_len + 1);
        if (!text)
                return NULL;
        if (line_len)
                memcpy(text, line, line_len);
        if (!partial)
                text[line_len++] = '\n';
        return frame_entry(r, is_err, t, text, line_len);
}

/* The local driver's entries: complete ones are queued, a torn one waits for the rest. */
static void read_local(struct ctr_log_reader *r) {
        for (;;) {
                if (!r->gz) {
                        while (r->cur < r->n_files && !(r->gz = gzopen(r->files[r->cur], "rb")))
                                r->cur++;
                        if (!r->gz)
                                return;
                        struct stat st;
                        if (stat(r->files[r->cur], &st) == 0)
                                r->ino = st.st_ino;
                }
                for (;;) {
                        z_off_t at = gztell(r->gz);
                        uint8_t hdr[4];
                        int got = gzread(r->gz, hdr, 4);
                        uint32_t size = (uint32_t) hdr[0] << 24 | (uint32_t) hdr[1] << 16 | (uint32_t) hdr[2] << 8 | hdr[3];
                        if (got == 4 && size <= 1 << 20) {
                                _cleanup_free_ uint8_t *e = malloc(size + 4);
                                if (e && gzread(r->gz, e, size + 4) == (int) (size + 4)) {
                                        char *f = frame_local(r, e, size);
                                        if (f)
                                                queue_push(r, f);
                                        continue;
                                }
                        }
                        if (got > 0) /* torn: read it again once it is whole */
                                gzseek(r->gz, at, SEEK_SET);
                        gzclearerr(r->gz);
                        break;
                }
                if (r->cur + 1 >= r->n_files)
                        return; /* the live file: more may come */
                gzclose(r->gz);
                r->gz = NULL;
                r->cur++;
        }
}

static bool open_file(struct ctr_log_reader *r) {
        while (r->cur < r->n_files) {
                r->fp = fopen(r->files[r->cur], "re");
                if (r->fp) {
                        struct stat st;
                        if (fstat(fileno(r->fp), &st) == 0)
                                r->ino = st.st_ino;
                        return true;
                }
                r->cur++;
        }
        return false;
}

#define PLUGIN_RECORD_MAX (1u << 20)

/* What the plugin's stream has now (waiting up to @timeout_ms for each piece): whole
 * records framed and queued; the end of the stream or a broken one sets ps_eof. */
static void read_plugin(struct ctr_log_reader *r, int timeout_ms) {
        while (!r->ps_eof) {
                if (r->p_cap - r->p_len < 4096) {
                        size_t cap = r->p_cap ? r->p_cap * 2 : 65536;
                        uint8_t *nb = cap <= PLUGIN_RECORD_MAX + 4 + 65536 ? realloc(r->pbuf, cap) : NULL;
                        if (!nb) {
                                r->ps_eof = true; /* a record past any bound: the stream is not trusted */
                                return;
                        }
                        r->pbuf = nb;
                        r->p_cap = cap;
                }
                ssize_t n = plugin_stream_read(r->ps, r->pbuf + r->p_len, r->p_cap - r->p_len, timeout_ms);
                if (n == -ETIMEDOUT)
                        return;
                if (n <= 0) {
                        r->ps_eof = true;
                        return;
                }
                r->p_len += (size_t) n;
                size_t off = 0;
                while (r->p_len - off >= 4) {
                        const uint8_t *h = r->pbuf + off;
                        uint32_t size = (uint32_t) h[0] << 24 | (uint32_t) h[1] << 16 | (uint32_t) h[2] << 8 | h[3];
                        if (size > PLUGIN_RECORD_MAX) {
                                r->ps_eof = true;
                                return;
                        }
                        if (r->p_len - off < 4 + (size_t) size)
                                break;
                        char *f = frame_local(r, h + 4, size);
                        if (f)
                                queue_push(r, f);
                        off += 4 + size;
                }
                memmove(r->pbuf, r->pbuf + off, r->p_len - off);
                r->p_len -= off;
        }
}

/* Read whole lines until EOF of everything there is now. */
static void read_available(struct ctr_log_reader *r) {
        if (r->ps) {
                read_plugin(r, 0);
                return;
        }
        if (r->local) {
                read_local(r);
                return;
        }
        for (;;) {
                if (!r->fp && !open_file(r))
                        return;
                ssize_t n;
                while ((n = getline(&r->line, &r->line_cap, r->fp)) > 0) {
                        if (r->line[n - 1] != '\n') {
                                /* a line still being written: read it again next time */
                                fseeko(r->fp, -n, SEEK_CUR);
                                return;
                        }
                        char *f = frame_line(r, r->line);
                        if (f)
                                queue_push(r, f);
                }
                clearerr(r->fp);
                if (r->cur + 1 >= r->n_files)
                        return; /* the live file: more may come */
                fclose(r->fp);
                r->fp = NULL;
                r->cur++;
        }
}

static bool peer_closed(int fd) {
        if (fd < 0)
                return false;
        struct pollfd p = { .fd = fd, .events = POLLRDHUP };
        return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static bool container_running(struct container *c) {
        pthread_mutex_lock(&c->lock);
        bool running = ctr_is_running(c) || c->state == CTR_STARTING;
        pthread_mutex_unlock(&c->lock);
        return running;
}

int ctr_logs_open(struct daemon *d, struct container *c, const struct ctr_logs_opts *o, struct ctr_log_reader **ret,
                  struct berr *err) {
        struct plugin_stream *ps = NULL;
        int pr = ctr_log_plugin_reader(d, c, o, &ps, err);
        if (pr < 0)
                return pr;
        if (ps) {
                struct ctr_log_reader *r = calloc(1, sizeof(*r));
                if (!r) {
                        plugin_stream_close(ps);
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                }
                r->d = d;
                r->c = c;
                r->o = *o;
                r->tty = ctr_has_tty(c);
                r->ps = ps;
                /* without -f the plugin's answer is finite: all of it now */
                read_plugin(r, o->follow ? 100 : 30000);
                r->o.tail = -1; /* the plugin applied it */
                *ret = r;
                return 0;
        }
        struct ctr_log_cfg lc;
        if (ctr_log_config(c->cc, &lc) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        bool readable = logdrv_readable(lc.type, lc.keys, lc.vals, lc.n);
        bool local = strcmp(lc.type, "local") == 0;
        int64_t max_file = readable ? logdrv_max_file(lc.type, lc.keys, lc.vals, lc.n) : 1;
        ctr_log_config_done(&lc);
        if (!readable)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "configured logging driver does not support reading");
        struct ctr_log_reader *r = calloc(1, sizeof(*r));
        if (!r)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        r->d = d;
        r->c = c;
        r->o = *o;
        r->tty = ctr_has_tty(c);
        r->path = ctr_log_path(d, c->id);
        r->local = local;
        if (local && r->path) {
                char *lp = logdrv_local_path(r->path);
                free(r->path);
                r->path = lp;
        }
        /* Rotated files first, oldest (highest number) to newest; the local driver's are
         * gzipped (but the newest may not be yet). Only the names the configured max-file
         * rotates through, as dockerd reads them (not 63 lookups for every `docker logs`). */
        if (max_file > MAX_LOG_FILES)
                max_file = MAX_LOG_FILES;
        for (int i = (int) max_file - 1; i >= 1 && r->path; i--) {
                char *p;
                if (asprintf(&p, "%s.%d%s", r->path, i, local ? ".gz" : "") < 0)
                        continue;
                if (access(p, F_OK) == 0) {
                        r->files[r->n_files++] = p;
                        continue;
                }
                free(p);
                if (local && asprintf(&p, "%s.%d", r->path, i) >= 0) {
                        if (access(p, F_OK) == 0)
                                r->files[r->n_files++] = p;
                        else
                                free(p);
                }
        }
        r->files[r->n_files++] = strdup(r->path);
        read_available(r);
        /* tail applies to what exists now; new lines while following all go out */
        r->o.tail = -1;
        *ret = r;
        return 0;
}

ssize_t ctr_logs_read(struct ctr_log_reader *r, char *buf, size_t max) {
        for (;;) {
                if (r->out && r->out_pos < r->out_len) {
                        size_t n = r->out_len - r->out_pos;
                        if (n > max)
                                n = max;
                        memcpy(buf, r->out + sizeof(size_t) + r->out_pos, n);
                        r->out_pos += n;
                        return (ssize_t) n;
                }
                free(r->out);
                r->out = NULL;
                if (r->q_head < r->q_len) {
                        r->out = r->queue[r->q_head];
                        r->queue[r->q_head++] = NULL;
                        memcpy(&r->out_len, r->out, sizeof(size_t));
                        r->out_pos = 0;
                        continue;
                }
                r->q_head = r->q_len = 0;
                if (!r->o.follow || r->done)
                        return 0;
                bool running = container_running(r->c) && !r->d->shutting_down;
                read_available(r);
                if (r->q_len)
                        continue;
                if (!running || (r->ps && r->ps_eof)) {
                        r->done = true; /* one last read above took what the exit left */
                        continue;
                }
                /* The log may have been rotated under us. */
                struct stat st;
                if ((r->fp || r->gz) && stat(r->path, &st) == 0 && st.st_ino != r->ino) {
                        if (r->fp)
                                fclose(r->fp);
                        if (r->gz)
                                gzclose(r->gz);
                        r->fp = NULL;
                        r->gz = NULL;
                        r->cur = r->n_files - 1;
                        continue;
                }
                if (peer_closed(r->o.client_fd))
                        return -1; /* the client went away: end the stream, free the thread */
                usleep(50 * 1000);
        }
}

void ctr_logs_free(struct ctr_log_reader *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_files; i++)
                free(r->files[i]);
        for (size_t i = r->q_head; i < r->q_len; i++)
                free(r->queue[i]);
        free(r->queue);
        free(r->out);
        free(r->line);
        free(r->path);
        plugin_stream_close(r->ps);
        free(r->pbuf);
        if (r->fp)
                fclose(r->fp);
        if (r->gz)
                gzclose(r->gz);
        ctr_unref(r->d, r->c);
        free(r);
}
