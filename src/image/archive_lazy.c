/* archive_lazy.c - load libarchive on first use, close it when idle; see archive_lazy.h. */
#define ARCLAZY_IMPL
#include "image/archive_lazy.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"

/* lock guards everything below; state is also read without it (the fast path). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int state;              /* 0: not loaded (a failed load is tried again at the next use), 1: loaded */
static void *handle;
static struct arclazy_table table;     /* the library's functions while loaded */
static struct arclazy_table missing;   /* what callers get when it could not be */
static char load_error[512];
static long live;                      /* objects made by the constructors, not freed yet */
static struct timespec idle_since;     /* CLOCK_MONOTONIC when live last came to 0 */
static bool reaper;                    /* a thread waits to close the library */
static double idle_s = ARCLAZY_IDLE_S;

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

static pthread_once_t missing_once = PTHREAD_ONCE_INIT;

static void missing_init(void) {
#define ARCLAZY_MISSING(name) missing.name = (__typeof__(missing.name)) missing_abort;
        ARCLAZY_FUNCS(ARCLAZY_MISSING)
#undef ARCLAZY_MISSING
        missing.archive_read_new = missing_new;
        missing.archive_write_new = missing_new;
        missing.archive_entry_new = missing_entry_new;
        missing.archive_error_string = missing_error_string;
}

static void load_locked(void) {
        if (atomic_load(&state) != 0)
                return;
        /* RTLD_LOCAL: nothing else resolves against it. */
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
                if (!bad) {
                        handle = h;
                        atomic_store(&state, 1);
                        log_debug("loaded %s", ARCLAZY_SONAME);
                        return;
                }
                snprintf(load_error, sizeof(load_error), "%s: symbol %s not found", ARCLAZY_SONAME, bad);
                dlclose(h);
        }
        log_error("cannot load %s, image archives are unavailable: %s", ARCLAZY_SONAME, load_error);
        pthread_once(&missing_once, missing_init); /* written once: another thread may hold it */
        /* state stays 0: a failure that passes (EMFILE, ENOMEM) must not leave pulls,
         * loads and pushes unavailable until a restart, now that the library is loaded
         * again after every idle close. */
}

static double since_idle_s(void) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double) (now.tv_sec - idle_since.tv_sec) + (double) (now.tv_nsec - idle_since.tv_nsec) / 1e9;
}

/* Closes the library once it has had no object for ARCLAZY_IDLE_S seconds. */
static void *reap(void *arg) {
        pthread_mutex_lock(&lock);
        for (;;) {
                if (live > 0 || atomic_load(&state) != 1)
                        break;
                double left = idle_s - since_idle_s();
                if (left <= 0) {
                        atomic_store(&state, 0);
                        memset(&table, 0, sizeof(table));
                        dlclose(handle);
                        handle = NULL;
                        log_debug("closed %s: idle", ARCLAZY_SONAME);
                        break;
                }
                pthread_mutex_unlock(&lock);
                struct timespec ts = { .tv_sec = (time_t) left, .tv_nsec = (long) ((left - (double) (time_t) left) * 1e9) };
                while (nanosleep(&ts, &ts) < 0)
                        ;
                pthread_mutex_lock(&lock);
        }
        reaper = false;
        pthread_mutex_unlock(&lock);
        return NULL;
}

/* Caller holds lock: a constructor's object is counted, or was not made. */
static void made_locked(const void *obj) {
        if (obj)
                live++;
}

static void freed(void) {
        pthread_mutex_lock(&lock);
        if (--live == 0 && atomic_load(&state) == 1) {
                clock_gettime(CLOCK_MONOTONIC, &idle_since);
                if (!reaper) {
                        pthread_attr_t a;
                        pthread_t t;
                        pthread_attr_init(&a);
                        pthread_attr_setstacksize(&a, 64 << 10);
                        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
                        reaper = pthread_create(&t, &a, reap, NULL) == 0; /* else: it stays loaded */
                        pthread_attr_destroy(&a);
                }
        }
        pthread_mutex_unlock(&lock);
}

const struct arclazy_table *arclazy(void) {
        int s = atomic_load(&state);
        if (s == 0) {
                pthread_mutex_lock(&lock);
                load_locked();
                s = atomic_load(&state);
                pthread_mutex_unlock(&lock);
        }
        return s == 1 ? &table : &missing;
}

/* The constructors run under lock, so the library cannot be closed under them. */
#define ARCLAZY_CTOR(type, fn)                                                            \
        type *arclazy_##fn(void) {                                                        \
                pthread_mutex_lock(&lock);                                                \
                load_locked();                                                            \
                type *o = atomic_load(&state) == 1 ? table.archive_##fn() : missing.archive_##fn(); \
                made_locked(o);                                                           \
                pthread_mutex_unlock(&lock);                                              \
                return o;                                                                 \
        }
ARCLAZY_CTOR(struct archive, read_new)
ARCLAZY_CTOR(struct archive, write_new)
ARCLAZY_CTOR(struct archive_entry, entry_new)
#undef ARCLAZY_CTOR

/* An object exists only while the library is loaded: its own free needs no lock. */
int arclazy_read_free(struct archive *a) {
        if (!a)
                return ARCHIVE_OK;
        int r = table.archive_read_free(a);
        freed();
        return r;
}

int arclazy_write_free(struct archive *a) {
        if (!a)
                return ARCHIVE_OK;
        int r = table.archive_write_free(a);
        freed();
        return r;
}

void arclazy_entry_free(struct archive_entry *e) {
        if (!e)
                return;
        table.archive_entry_free(e);
        freed();
}

void arclazy_set_idle_s(double s) {
        pthread_mutex_lock(&lock);
        idle_s = s;
        pthread_mutex_unlock(&lock);
}

bool arclazy_is_loaded(void) {
        return atomic_load(&state) == 1;
}

int arclazy_require(struct berr *err) {
        if (arclazy() != &missing)
                return 0;
        char why[sizeof(load_error)];
        pthread_mutex_lock(&lock);
        snprintf(why, sizeof(why), "%s", load_error);
        pthread_mutex_unlock(&lock);
        return berr_set(err, BERR_UNAVAILABLE, ENOSYS, "image archives are unavailable: cannot load %s: %s",
                        ARCLAZY_SONAME, why);
}
