/* fuzz.h - shared by the libFuzzer targets: the input as a NUL-terminated string, and an
 * error sink. Each target feeds one parser of outside input and checks nothing but that it
 * neither crashes, hangs, leaks nor trips a sanitizer. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A copy of the input with a terminating NUL (inputs may hold NULs of their own, which
 * string parsers then see as the end, as they would in a C string from the API). */
static inline char *fuzz_strdup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

/* Where a target makes its scratch directories: run.sh gives each run one of its own and
 * removes it afterwards. */
static inline const char *fuzz_tmpdir(void) {
        const char *t = getenv("BERTH_FUZZ_TMP");
        return t && *t ? t : "/tmp";
}
