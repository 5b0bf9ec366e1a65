/* cleanup.h - scope-bound release of memory, fds, FILEs and JSON values. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>

static inline void freep(void *p) {
        free(*(void **) p);
}

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                /* close() errors on a read-only or already-flushed fd carry no information we
                 * could act on; writers fsync and check before letting go. */
                (void) close(*fd);
                errno = saved;
        }
}

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}

static inline void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

static inline void berth_json_decrefp(json_t **j) {
        json_decref(*j);
}

/* Free and return NULL, for `p = mfree(p);`. */
static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline json_t *json_decref_null(json_t *j) {
        json_decref(j);
        return NULL;
}

static inline void strv_free(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

static inline void strv_freep(char ***v) {
        strv_free(*v);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)
#define _cleanup_json_ _cleanup_(berth_json_decrefp)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Hand ownership on: returns the value and leaves NULL / -1 behind. */
#define TAKE_PTR(p)                          \
        ({                                   \
                __typeof__(p) _taken_ = (p); \
                (p) = NULL;                  \
                _taken_;                     \
        })
#define TAKE_FD(fd)                   \
        ({                            \
                int _taken_fd_ = (fd); \
                (fd) = -1;            \
                _taken_fd_;           \
        })

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define STREQ(a, b) (strcmp((a), (b)) == 0)
