/* container_logs.h - `docker logs`: reading the json-file log back, with --tail, --since,
 * --until, -t and -f, framed for the client (8-byte headers without a TTY). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct berr;
struct daemon;
struct container;

struct ctr_logs_opts {
        bool want_stdout, want_stderr, follow, timestamps, details;
        int64_t since_ns, until_ns; /* 0: unbounded */
        long tail;                  /* -1: everything */
        int client_fd;              /* following stops when this peer has closed; -1: never */
};

struct ctr_log_reader;

int ctr_logs_open(struct daemon *d, struct container *c, const struct ctr_logs_opts *o, struct ctr_log_reader **ret,
                  struct berr *err);
/* Fill @buf; 0 at the end; blocks while following a running container. */
ssize_t ctr_logs_read(struct ctr_log_reader *r, char *buf, size_t max);
void ctr_logs_free(struct ctr_log_reader *r);

/* "1700000000.5", "1700000000" or RFC 3339 -> nanoseconds since the epoch. */
int ctr_logs_parse_time(const char *s, int64_t *ret_ns);
