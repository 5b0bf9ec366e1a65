/* shim_exe.h - what berthd execs to start a berth-shim: a sealed copy, made once. */
#pragma once

#include <stddef.h>

#include "common/err.h"

struct daemon;

/* "/proc/self/fd/N" of a sealed memfd copy of d->shim_path, made at the first call and
 * kept for the life of berthd (runtime/sealed_exe.c says why). */
int shim_exec_path(struct daemon *d, char *buf, size_t size, struct berr *err);
