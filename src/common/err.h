/* err.h - the one error type: an errno, a kind that decides the HTTP status, a message. */
#pragma once

#include <errno.h>
#include <stdarg.h>

enum berr_kind {
        BERR_INTERNAL,
        BERR_INVALID,
        BERR_NOT_FOUND,
        BERR_CONFLICT,
        BERR_FORBIDDEN,
        BERR_UNAUTHORIZED,
        BERR_UNAVAILABLE,
        BERR_TOO_LARGE,
        BERR_NOT_IMPLEMENTED,
        _BERR_KIND_MAX,
        _BERR_KIND_INVALID = -1,
};

#define BERR_MSG_MAX 1024

struct berr {
        int errnum;             /* positive errno, 0 if none applies */
        enum berr_kind kind;
        char msg[BERR_MSG_MAX];
};

/* Fill @e and return the negative errno (-EINVAL when @errnum is 0), so callers can
 * write `return berr_set(e, ...)`. @e may be NULL. */
int berr_set(struct berr *e, enum berr_kind kind, int errnum, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Like berr_set with errno taken from errno and ": strerror" appended. */
int berr_sys(struct berr *e, enum berr_kind kind, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Prefix context to an existing message: "pull busybox: " + old message. Returns the
 * negative errno already recorded. */
int berr_wrap(struct berr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void berr_clear(struct berr *e);

const char *berr_kind_name(enum berr_kind kind);
