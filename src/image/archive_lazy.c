/* archive_lazy.c - load libarchive on first use; see archive_lazy.h. */
#define ARCLAZY_IMPL
#include "image/archive_lazy.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/log.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct arclazy_table table;     /* the library's functions, once loaded */
static struct arclazy_table missing;   /* what callers get when it could not be */
static bool loaded;
static char load_error[512];

/* Reached only through an object no constructor could have made: a bug, not an input. */
static void missing_abort(void) {
        log_error("libarchive function called but %s could not be loaded: %s", ARCLAZY_SONAME, load_error);
        abort();
}

static struct archive *missing_new(void) {
        errno = ENOSYS;
        return NULL;
}

static struct archive_entry *missing_entry_new(void) {
        errno = ENOSYS;
        return NULL;
}

static const char *missing_error_string(struct archive *a) {
        return "libarchive is not available";
}

static void load(void) {
        /* RTLD_LOCAL: nothing else resolves against it; never closed once loaded. */
        void *h = dlopen(ARCLAZY_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                const char *e = dlerror();
                snprintf(load_error, sizeof(load_error), "%s", e ? e : "dlopen failed");
        } else {
                const char *bad = NULL;
#define ARCLAZY_SYM(name)                                                                 \
        if (!bad && !(table.name = (__typeof__(table.name)) dlsym(h, #name)))               \
                bad = #name;
                ARCLAZY_FUNCS(ARCLAZY_SYM)
#undef ARCLAZY_SYM
                if (bad) {
                        snprintf(load_error, sizeof(load_error), "%s: symbol %s not found", ARCLAZY_SONAME, bad);
                        dlclose(h);
                } else
                        loaded = true;
        }
        if (loaded) {
                log_debug("loaded %s", ARCLAZY_SONAME);
                return;
        }
        log_error("cannot load %s, image archives are unavailable: %s", ARCLAZY_SONAME, load_error);
#define ARCLAZY_MISSING(name) missing.name = (__typeof__(missing.name)) missing_abort;
        ARCLAZY_FUNCS(ARCLAZY_MISSING)
#undef ARCLAZY_MISSING
        missing.archive_read_new = missing_new;
        missing.archive_write_new = missing_new;
        missing.archive_entry_new = missing_entry_new;
        missing.archive_error_string = missing_error_string;
}

const struct arclazy_table *arclazy(void) {
        pthread_once(&once, load);
        return loaded ? &table : &missing;
}

int arclazy_require(struct berr *err) {
        pthread_once(&once, load);
        if (loaded)
                return 0;
        return berr_set(err, BERR_UNAVAILABLE, ENOSYS, "image archives are unavailable: cannot load %s: %s",
                        ARCLAZY_SONAME, load_error);
}
