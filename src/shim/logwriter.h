/* logwriter.h - Docker's json-file log driver: one {"log","stream","time"} object per
 * line, lines over 16 KiB split, rotation by max-size/max-file. Used by berth-shim. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct berr;

#define LOG_LINE_MAX_BYTES (16 * 1024)

enum log_stream { LOG_STREAM_STDOUT, LOG_STREAM_STDERR, _LOG_STREAM_MAX };

struct log_writer;

/* @max_size_bytes 0: no rotation. @max_files counts the live file (Docker's max-file). */
int log_writer_open(const char *path, int64_t max_size_bytes, int max_files, struct log_writer **ret,
                    struct berr *err);

/* Feed raw output of a stream; complete lines (and 16 KiB pieces) are written at once,
 * the rest waits for more. */
int log_writer_feed(struct log_writer *w, enum log_stream s, const char *data, size_t len, struct berr *err);

/* Write what is pending for every stream (at EOF). */
int log_writer_flush(struct log_writer *w, struct berr *err);

/* One piece of a line (up to LOG_LINE_MAX_BYTES, its '\n' included if complete) stamped @ts. */
int log_writer_write(struct log_writer *w, enum log_stream s, const char *data, size_t len, const struct timespec *ts,
                     struct berr *err);

/* dockerd's local format instead of json-file lines (@compress: rotated files gzipped). */
void log_writer_set_local(struct log_writer *w, bool compress);

/* json-file's "attrs" (labels, env, tag) for every line from now on: a JSON object text. */
int log_writer_set_attrs(struct log_writer *w, const char *attrs_json);

struct log_writer *log_writer_close(struct log_writer *w);

/* Append @len bytes of @s as a JSON string body (no quotes) escaped as Docker's jsonlog
 * does: \", \\, \n, \r, \t, \u00XX for other controls, \u003c \u003e \u0026 for < > &,
 * \u2028 \u2029, and U+FFFD for invalid UTF-8. Returns bytes written to @out, which
 * must hold at least 6 * @len + 1 bytes. */
size_t log_json_escape(const char *s, size_t len, char *out);

/* RFC 3339 with nanoseconds in UTC, as Docker writes "time": 2026-11-28T14:14:26.123456789Z */
void log_format_time(const struct timespec *ts, char out[40]);
