/* clock.c - see clock.h. */
#include "clock.h"

#include <stdio.h>
#include <time.h>

void clock_now_rfc3339(char out[40]) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char d[24];
        strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out, 40, "%s.%09ldZ", d, ts.tv_nsec);
}
