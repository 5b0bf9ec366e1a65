/* trace.c - see trace.h. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "trace.h"

/* -2: not looked at yet; -1: off; otherwise the file, opened once per process (a child
 * made by fork keeps its parent's). */
static _Atomic int trace_fd = -2;

static int trace_open(void) {
        int fd = atomic_load(&trace_fd);
        if (fd != -2)
                return fd;
        const char *path = getenv("BERTH_TRACE");
        int nfd = path && *path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
        int expect = -2;
        if (!atomic_compare_exchange_strong(&trace_fd, &expect, nfd)) {
                if (nfd >= 0)
                        close(nfd); /* another thread was first */
                return expect;
        }
        return nfd;
}

void trace_mark(const char *fmt, ...) {
        int fd = trace_open();
        if (fd < 0)
                return;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        char line[256];
        int n = snprintf(line, sizeof(line), "%lld.%09ld %d ", (long long) ts.tv_sec, ts.tv_nsec, (int) getpid());
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
        va_end(ap);
        if (m < 0)
                return;
        n += m < (int) (sizeof(line) - (size_t) n - 1) ? m : (int) (sizeof(line) - (size_t) n - 2);
        line[n++] = '\n';
        (void) !write(fd, line, (size_t) n); /* O_APPEND: one line per write */
}

void trace_reopen(void) {
        if (atomic_load(&trace_fd) < 0)
                return; /* off (or never used): nothing to reopen */
        atomic_store(&trace_fd, -2);
        (void) trace_open();
}

int trace_file_fd(void) {
        return trace_open();
}
