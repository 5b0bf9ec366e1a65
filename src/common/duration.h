/* duration.h - Go durations ("30s", "1m30s", "500ms", "-2h"), as the Docker API writes them. */
#pragma once

#include <stdint.h>

/* Parse @s into nanoseconds: -EINVAL for anything Go's time.ParseDuration refuses. */
int duration_parse_ns(const char *s, int64_t *ret);
