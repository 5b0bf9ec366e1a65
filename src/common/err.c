/* err.c - filling and wrapping struct berr. */
#include "err.h"

#include <stdio.h>
#include <string.h>

static const char *const kind_names[_BERR_KIND_MAX] = {
        [BERR_INTERNAL] = "internal",
        [BERR_INVALID] = "invalid",
        [BERR_NOT_FOUND] = "not-found",
        [BERR_CONFLICT] = "conflict",
        [BERR_FORBIDDEN] = "forbidden",
        [BERR_UNAUTHORIZED] = "unauthorized",
        [BERR_UNAVAILABLE] = "unavailable",
        [BERR_TOO_LARGE] = "too-large",
        [BERR_NOT_IMPLEMENTED] = "not-implemented",
};

const char *berr_kind_name(enum berr_kind kind) {
        if (kind < 0 || kind >= _BERR_KIND_MAX)
                return "unknown";
        return kind_names[kind];
}

static int ret_of(int errnum) {
        return errnum > 0 ? -errnum : -EINVAL;
}

int berr_set(struct berr *e, enum berr_kind kind, int errnum, const char *fmt, ...) {
        if (!e)
                return ret_of(errnum);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
        e->kind = kind;
        e->errnum = errnum;
        return ret_of(errnum);
}

int berr_sys(struct berr *e, enum berr_kind kind, const char *fmt, ...) {
        int errnum = errno;
        if (!e)
                return ret_of(errnum);
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t) n < sizeof(e->msg))
                snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(errnum));
        e->kind = kind;
        e->errnum = errnum;
        return ret_of(errnum);
}

int berr_wrap(struct berr *e, const char *fmt, ...) {
        if (!e)
                return -EINVAL;
        char prefix[BERR_MSG_MAX], old[BERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        memcpy(old, e->msg, sizeof(old));
        int n = snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, old);
        if (n >= (int) sizeof(e->msg)) /* cut short: say so rather than end mid-word */
                memcpy(e->msg + sizeof(e->msg) - 4, "...", 4);
        return ret_of(e->errnum);
}

void berr_clear(struct berr *e) {
        if (!e)
                return;
        e->errnum = 0;
        e->kind = BERR_INTERNAL;
        e->msg[0] = '\0';
}
