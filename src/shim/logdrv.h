/* logdrv.h - berth-shim's log drivers: the container's output cut into messages (lines,
 * 16 KiB pieces) and handed to the driver berthd configured in shim.json's "log" object
 * (src/daemon/logdrv.c makes it): json-file, syslog, gelf, fluentd or journald, with a
 * json-file cache beside network drivers so `docker logs` still works (dual logging). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "logwriter.h"

struct berr;

/* A message as a driver gets it: the line without its '\n' (@partial: none came). */
struct log_msg {
        enum log_stream stream;
        const char *line;
        size_t len;
        bool partial;
        struct timespec ts;
};

struct log_driver;
struct log_driver_ops {
        const char *name;
        int (*open)(struct log_driver *d, struct berr *err);
        int (*write)(struct log_driver *d, const struct log_msg *m, struct berr *err);
        void (*close)(struct log_driver *d);
};

struct log_out;

/* @cfg: shim.json's "log". NULL *ret for the none driver. Fails as the container's start
 * would under dockerd (a receiver that cannot be reached, no journal). */
int log_out_open(json_t *cfg, struct log_out **ret, struct berr *err);
int log_out_feed(struct log_out *o, enum log_stream s, const char *data, size_t len, struct berr *err);
int log_out_flush(struct log_out *o, struct berr *err);
struct log_out *log_out_close(struct log_out *o);

/* Formatting, for the unit tests. */
/* A syslog message for @m as dockerd's formats write it (@format "", "rfc3164", "rfc5424",
 * "rfc5424micro"), framed for @octet_counting; returns its length in @out (@size). */
size_t log_syslog_format(const char *format, bool octet_counting, int facility, const char *hostname,
                         const char *tag, int pid, const struct log_msg *m, char *out, size_t size);
/* A log plugin's record: dockerd's LogEntry protobuf with its 4-byte big-endian length
 * before it; @partial_id (NULL: a whole line) names the split line @m is piece @ordinal
 * of, @last its end. Its length, 0 if it does not fit @size. */
size_t log_plugin_encode(const struct log_msg *m, const char *partial_id, int ordinal, bool last, char *out,
                         size_t size);
/* One MessagePack [tag, time, record] for the forward protocol into @out; its length, 0 if
 * it does not fit. */
size_t log_fluentd_encode(const char *tag, const struct timespec *ts, bool subsecond, json_t *record, char *out,
                          size_t size);
