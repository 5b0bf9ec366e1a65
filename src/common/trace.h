/* trace.h - start-up timestamps for profiling (bench/README.md "Where a start's time goes").
 *
 * With BERTH_TRACE=FILE in berthd's environment, trace_mark() appends one line
 * "SECONDS.NANOSECONDS PID WHAT" (CLOCK_MONOTONIC, one clock for every process) to FILE.
 * berth-shim inherits the environment, and the container's init inherits the shim's
 * descriptor until its execve (close-on-exec), so one file holds the whole path from the
 * request to the container's first instruction. Without BERTH_TRACE it costs one branch. */
#pragma once

void trace_mark(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* After a close of every descriptor (the container's init does one): open FILE again.
 * Only where paths still resolve on the host. */
void trace_reopen(void);

/* The file's descriptor, -1 when tracing is off: a process that closes every descriptor
 * where host paths no longer resolve (an exec joining a container) keeps this one. */
int trace_file_fd(void);
