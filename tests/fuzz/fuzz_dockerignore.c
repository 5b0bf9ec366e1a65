/* fuzz_dockerignore.c - a .dockerignore (Go filepath.Match patterns, `**`, `!` exceptions)
 * matched against paths; the input is the file, a NUL, then paths separated by newlines. */
#include "build/build.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *nul = memchr(data, 0, size);
        size_t flen = nul ? (size_t) (nul - data) : size;
        struct dockerignore *di = NULL;
        struct berr err = {};
        if (dockerignore_parse((const char *) data, flen, &di, &err) < 0)
                return 0;
        char *paths = fuzz_strdup(nul ? nul + 1 : data + size, nul ? size - flen - 1 : 0);
        char *save = NULL;
        for (char *p = strtok_r(paths, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
                (void) dockerignore_excluded(di, p);
                (void) dockerignore_glob(p, "a/b/c.txt");
        }
        (void) dockerignore_has_exceptions(di);
        free(paths);
        dockerignore_free(di);
        return 0;
}
