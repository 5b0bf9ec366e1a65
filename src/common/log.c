/* log.c - the daemon's line logger. Lines are built whole and written with one write(2) so
 * threads never interleave inside a line. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LOG_LEVEL_INFO;

static const char *const level_names[_LOG_LEVEL_MAX] = {
        [LOG_LEVEL_DEBUG] = "debug", [LOG_LEVEL_INFO] = "info", [LOG_LEVEL_WARN] = "warn",
        [LOG_LEVEL_ERROR] = "error", [LOG_LEVEL_FATAL] = "fatal",
};

enum log_level log_level_from_string(const char *s) {
        for (int i = 0; i < _LOG_LEVEL_MAX; i++)
                if (strcasecmp(s, level_names[i]) == 0)
                        return i;
        return _LOG_LEVEL_INVALID;
}

const char *log_level_to_string(enum log_level l) {
        return (l >= 0 && l < _LOG_LEVEL_MAX) ? level_names[l] : "unknown";
}

void log_set_level(enum log_level l) {
        current_level = l;
}

enum log_level log_get_level(void) {
        return current_level;
}

void log_emit(enum log_level l, const char *fields, const char *fmt, ...) {
        if (l < current_level)
                return;
        char msg[2048], line[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        char when[40];
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);

        /* Quote the message as logfmt does; escape quotes and backslashes only. */
        char quoted[2 * sizeof(msg)];
        size_t q = 0;
        for (const char *p = msg; *p && q + 2 < sizeof(quoted); p++) {
                if (*p == '"' || *p == '\\')
                        quoted[q++] = '\\';
                quoted[q++] = *p == '\n' ? ' ' : *p;
        }
        quoted[q] = '\0';

        int n = snprintf(line, sizeof(line), "time=\"%s.%09ldZ\" level=%s msg=\"%s\"%s%s\n", when,
                         ts.tv_nsec, level_names[l], quoted, fields ? " " : "", fields ? fields : "");
        if (n < 0)
                return;
        if ((size_t) n >= sizeof(line)) {
                n = sizeof(line) - 1;
                line[n - 1] = '\n';
        }
        /* Nothing useful can be done if stderr is gone. */
        (void) !write(STDERR_FILENO, line, n);
}
