/* clock.h - the wall clock as Docker writes it (RFC 3339 with nanoseconds, UTC). */
#pragma once

/* "2006-01-02T15:04:05.999999999Z" for now. */
void clock_now_rfc3339(char out[40]);
