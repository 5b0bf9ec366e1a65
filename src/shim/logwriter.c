/* logwriter.c - json-file log lines and rotation. */
#include "logwriter.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/cleanup.h"
#include "common/err.h"

struct log_writer {
        char *path;
        int fd;
        int64_t size;
        int64_t max_size;
        int max_files;
        char pending[_LOG_STREAM_MAX][LOG_LINE_MAX_BYTES];
        size_t n_pending[_LOG_STREAM_MAX];
        char *scratch; /* one encoded line */
        char *attrs;   /* ,"attrs":{...} or NULL */
        bool local;    /* dockerd's local format: protobuf entries, rotated files gzipped */
        bool compress;
};

/* dockerd's local driver: each entry a LogEntry protobuf (source = 1, time_nano = 2,
 * line = 3, partial = 4) between two big-endian 32-bit lengths. */
static size_t put_varint(uint8_t *o, uint64_t v) {
        size_t n = 0;
        do {
                o[n++] = (uint8_t) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
                v >>= 7;
        } while (v);
        return n;
}

static size_t local_entry(uint8_t *o, enum log_stream s, const char *data, size_t len, const struct timespec *ts) {
        bool partial = !(len && data[len - 1] == '\n');
        if (!partial)
                len--;
        const char *src = s == LOG_STREAM_STDERR ? "stderr" : "stdout";
        size_t n = 4;
        o[n++] = 0x0a;
        o[n++] = 6;
        memcpy(o + n, src, 6);
        n += 6;
        o[n++] = 0x10;
        n += put_varint(o + n, (uint64_t) ts->tv_sec * 1000000000ULL + (uint64_t) ts->tv_nsec);
        o[n++] = 0x1a;
        n += put_varint(o + n, len);
        memcpy(o + n, data, len);
        n += len;
        if (partial) {
                o[n++] = 0x20;
                o[n++] = 1;
        }
        uint32_t size = (uint32_t) (n - 4);
        for (int i = 0; i < 4; i++)
                o[i] = o[n + (size_t) i] = (uint8_t) (size >> (24 - 8 * i));
        return n + 4;
}

void log_writer_set_local(struct log_writer *w, bool compress) {
        w->local = true;
        w->compress = compress;
}

/* @from gzipped into @to (then @from removed): rotated local files. */
static void gzip_file(const char *from, const char *to) {
        FILE *in = fopen(from, "re");
        gzFile out = in ? gzopen(to, "wb") : NULL;
        char buf[65536];
        size_t n;
        bool ok = out != NULL;
        while (ok && (n = fread(buf, 1, sizeof(buf), in)) > 0)
                ok = gzwrite(out, buf, (unsigned) n) == (int) n;
        if (out && gzclose(out) != Z_OK)
                ok = false;
        if (in)
                fclose(in);
        if (ok)
                (void) unlink(from);
        else
                (void) unlink(to);
}

static const char *const stream_names[_LOG_STREAM_MAX] = { "stdout", "stderr" };

void log_format_time(const struct timespec *ts, char out[40]) {
        struct tm tm;
        gmtime_r(&ts->tv_sec, &tm);
        char date[24];
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out, 40, "%s.%09ldZ", date, ts->tv_nsec);
}

/* Length of the valid UTF-8 sequence at @s (1-4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
        unsigned c = s[0];
        size_t len;
        unsigned min;
        uint32_t cp;
        if (c < 0x80)
                return 1;
        if ((c & 0xe0) == 0xc0) {
                len = 2;
                cp = c & 0x1f;
                min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
                len = 3;
                cp = c & 0x0f;
                min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
                len = 4;
                cp = c & 0x07;
                min = 0x10000;
        } else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

size_t log_json_escape(const char *s, size_t len, char *out) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = (const unsigned char *) s;
        size_t o = 0;
        for (size_t i = 0; i < len;) {
                unsigned c = p[i];
                if (c >= 0x80) {
                        size_t l = utf8_len(p + i, len - i);
                        if (l == 0) {
                                memcpy(out + o, "\\ufffd", 6);
                                o += 6;
                                i++;
                                continue;
                        }
                        /* U+2028 and U+2029 are E2 80 A8 / E2 80 A9 */
                        if (l == 3 && c == 0xe2 && p[i + 1] == 0x80 && (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
                                memcpy(out + o, p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
                                o += 6;
                        } else {
                                memcpy(out + o, p + i, l);
                                o += l;
                        }
                        i += l;
                        continue;
                }
                switch (c) {
                case '"': out[o++] = '\\'; out[o++] = '"'; break;
                case '\\': out[o++] = '\\'; out[o++] = '\\'; break;
                case '\n': out[o++] = '\\'; out[o++] = 'n'; break;
                case '\r': out[o++] = '\\'; out[o++] = 'r'; break;
                case '\t': out[o++] = '\\'; out[o++] = 't'; break;
                default:
                        if (c < 0x20 || c == '<' || c == '>' || c == '&') {
                                memcpy(out + o, "\\u00", 4);
                                out[o + 4] = hex[c >> 4];
                                out[o + 5] = hex[c & 15];
                                o += 6;
                        } else
                                out[o++] = (char) c;
                }
                i++;
        }
        out[o] = '\0';
        return o;
}

static int open_log(struct log_writer *w, struct berr *err) {
        w->fd = open(w->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (w->fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open log %s", w->path);
        struct stat st;
        w->size = fstat(w->fd, &st) == 0 ? st.st_size : 0;
        return 0;
}

static int rotate(struct log_writer *w, struct berr *err) {
        close(w->fd);
        w->fd = -1;
        if (w->max_files <= 1) {
                if (truncate(w->path, 0) < 0)
                        return berr_sys(err, BERR_INTERNAL, "truncate log %s", w->path);
                return open_log(w, err);
        }
        char from[4096], to[4096];
        const char *gz = w->local && w->compress ? ".gz" : "";
        for (int i = w->max_files - 1; i >= 1; i--) {
                snprintf(to, sizeof(to), "%s.%d%s", w->path, i, i == 1 ? "" : gz);
                if (i == 1)
                        snprintf(from, sizeof(from), "%s", w->path);
                else
                        snprintf(from, sizeof(from), "%s.%d%s", w->path, i - 1, i - 1 == 1 ? gz : gz);
                if (rename(from, to) < 0 && errno != ENOENT)
                        return berr_sys(err, BERR_INTERNAL, "rotate log %s", from);
        }
        if (*gz) { /* the newest rotated file is compressed last, once renamed */
                snprintf(from, sizeof(from), "%s.1", w->path);
                snprintf(to, sizeof(to), "%s.1.gz", w->path);
                gzip_file(from, to);
        }
        return open_log(w, err);
}

int log_writer_set_attrs(struct log_writer *w, const char *attrs_json) {
        free(w->attrs);
        w->attrs = NULL;
        if (!attrs_json || strlen(attrs_json) > 4096)
                return 0; /* no attrs (or too many to fit the line's scratch space) */
        return asprintf(&w->attrs, ",\"attrs\":%s", attrs_json) < 0 ? -ENOMEM : 0;
}

int log_writer_write(struct log_writer *w, enum log_stream s, const char *data, size_t len, const struct timespec *ts,
                     struct berr *err) {
        char when[40];
        char *o = w->scratch;
        size_t n;
        if (w->local) {
                n = local_entry((uint8_t *) o, s, data, len, ts);
                goto out;
        }
        log_format_time(ts, when);
        n = (size_t) sprintf(o, "{\"log\":\"");
        n += log_json_escape(data, len, o + n);
        n += (size_t) sprintf(o + n, "\",\"stream\":\"%s\"%s,\"time\":\"%s\"}\n", stream_names[s],
                              w->attrs ? w->attrs : "", when);
out:;
        const char *p = o;
        size_t left = n;
        while (left) {
                ssize_t wr = write(w->fd, p, left);
                if (wr < 0) {
                        if (errno == EINTR)
                                continue;
                        int e = errno;
                        /* A full disk takes part of a line: cut it off again, or the next
                         * line would be glued to it and neither read back as JSON. */
                        if (left < n && ftruncate(w->fd, w->size) < 0)
                                w->size += (int64_t) (n - left); /* it stays: count it */
                        errno = e;
                        return berr_sys(err, BERR_INTERNAL, "write log %s", w->path);
                }
                p += wr;
                left -= (size_t) wr;
        }
        w->size += (int64_t) n;
        if (w->max_size > 0 && w->size >= w->max_size)
                return rotate(w, err);
        return 0;
}

static int write_line(struct log_writer *w, enum log_stream s, const char *data, size_t len, struct berr *err) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return log_writer_write(w, s, data, len, &ts, err);
}

int log_writer_open(const char *path, int64_t max_size_bytes, int max_files, struct log_writer **ret,
                    struct berr *err) {
        struct log_writer *w = calloc(1, sizeof(*w));
        if (!w)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        w->fd = -1;
        w->path = strdup(path);
        w->max_size = max_size_bytes;
        w->max_files = max_files < 1 ? 1 : max_files;
        w->scratch = malloc(6 * LOG_LINE_MAX_BYTES + 256 + 4200);
        if (!w->path || !w->scratch) {
                log_writer_close(w);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        int r = open_log(w, err);
        if (r < 0) {
                log_writer_close(w);
                return r;
        }
        *ret = w;
        return 0;
}

int log_writer_feed(struct log_writer *w, enum log_stream s, const char *data, size_t len, struct berr *err) {
        while (len > 0) {
                const char *nl = memchr(data, '\n', len);
                size_t take = nl ? (size_t) (nl - data) + 1 : len;
                size_t room = LOG_LINE_MAX_BYTES - w->n_pending[s];
                if (take > room)
                        take = room;
                memcpy(w->pending[s] + w->n_pending[s], data, take);
                w->n_pending[s] += take;
                data += take;
                len -= take;
                bool line_done = w->pending[s][w->n_pending[s] - 1] == '\n';
                if (line_done || w->n_pending[s] == LOG_LINE_MAX_BYTES) {
                        int r = write_line(w, s, w->pending[s], w->n_pending[s], err);
                        w->n_pending[s] = 0;
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int log_writer_flush(struct log_writer *w, struct berr *err) {
        for (int s = 0; s < _LOG_STREAM_MAX; s++)
                if (w->n_pending[s]) {
                        int r = write_line(w, s, w->pending[s], w->n_pending[s], err);
                        w->n_pending[s] = 0;
                        if (r < 0)
                                return r;
                }
        return 0;
}

struct log_writer *log_writer_close(struct log_writer *w) {
        if (!w)
                return NULL;
        if (w->fd >= 0)
                close(w->fd);
        free(w->path);
        free(w->scratch);
        free(w->attrs);
        free(w);
        return NULL;
}
