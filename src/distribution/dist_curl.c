/* dist_curl.c - libcurl through dlopen on first use: see dist_curl.h. */
#define DIST_CURL_IMPL
#include "dist_curl.h"
#include "distribution.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/err.h"

#define LIBCURL_SONAME "libcurl.so.4"

/* The functions used: a field of the table, the libcurl symbol. The fields' types are
 * taken from <curl/curl.h>'s own declarations. (Fields are not named curl_easy_setopt /
 * getinfo: curl's typecheck macros of those names would expand `fn.curl_easy_setopt(`.) */
#define DIST_CURL_FUNCS(X)                         \
        X(global_init, curl_global_init)           \
        X(easy_init, curl_easy_init)               \
        X(easy_cleanup, curl_easy_cleanup)         \
        X(easy_reset, curl_easy_reset)             \
        X(easy_setopt, curl_easy_setopt)           \
        X(easy_getinfo, curl_easy_getinfo)         \
        X(easy_perform, curl_easy_perform)         \
        X(easy_strerror, curl_easy_strerror)       \
        X(easy_escape, curl_easy_escape)           \
        X(free, curl_free)                         \
        X(slist_append, curl_slist_append)         \
        X(slist_free_all, curl_slist_free_all)

static struct {
#define X(field, sym) __typeof__(&sym) field;
        DIST_CURL_FUNCS(X)
#undef X
} fn;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;
static char load_error[512];

static void load(void) {
        /* RTLD_LOCAL: curl's symbols (and its libssl's) stay out of the global scope, where
         * they could bind to libcrypto users elsewhere in the daemon. Never unloaded. */
        void *lib = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
                const char *e = dlerror();
                snprintf(load_error, sizeof(load_error), "%s", e ? e : "cannot load " LIBCURL_SONAME);
                return;
        }
#define X(field, sym)                                                                                    \
        fn.field = (__typeof__(fn.field)) dlsym(lib, #sym);                                              \
        if (!fn.field) {                                                                                 \
                const char *e = dlerror();                                                               \
                snprintf(load_error, sizeof(load_error), "%s", e ? e : LIBCURL_SONAME ": no " #sym);     \
                return;                                                                                  \
        }
        DIST_CURL_FUNCS(X)
#undef X
        CURLcode r = fn.global_init(CURL_GLOBAL_DEFAULT);
        if (r != CURLE_OK) {
                snprintf(load_error, sizeof(load_error), "curl_global_init: %s", fn.easy_strerror(r));
                return;
        }
        loaded = true;
}

static bool ready(void) {
        pthread_once(&load_once, load);
        return loaded;
}

int dist_curl_load(struct berr *err) {
        if (ready())
                return 0;
        return berr_set(err, BERR_INTERNAL, ELIBACC, "registry support needs " LIBCURL_SONAME ": %s",
                        load_error);
}

static int (*socket_opener)(int family, int type, int protocol);

void dist_curl_set_socket_opener(int (*open)(int family, int type, int protocol)) {
        socket_opener = open;
}

static curl_socket_t open_socket(void *data, curlsocktype purpose, struct curl_sockaddr *a) {
        (void) data;
        (void) purpose;
        int fd = socket_opener(a->family, a->socktype, a->protocol);
        return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static void set_opener(CURL *h) {
        if (h && socket_opener)
                (void) fn.easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
}

CURL *dist_curl_easy_init(void) {
        CURL *h = ready() ? fn.easy_init() : NULL;
        set_opener(h);
        return h;
}

/* Those that take something libcurl made run only once it is loaded. */
void dist_curl_easy_cleanup(CURL *h) {
        if (h && ready())
                fn.easy_cleanup(h);
}

void dist_curl_easy_reset(CURL *h) {
        if (ready()) {
                fn.easy_reset(h);
                set_opener(h);
        }
}

typedef void (*any_fn)(void);

CURLcode dist_curl_easy_setopt(CURL *h, CURLoption option, ...) {
        if (!ready())
                return CURLE_FAILED_INIT;
        va_list ap;
        va_start(ap, option);
        CURLcode r;
        if (option < CURLOPTTYPE_OBJECTPOINT) /* LONG (and VALUES) */
                r = fn.easy_setopt(h, option, va_arg(ap, long));
        else if (option < CURLOPTTYPE_FUNCTIONPOINT) /* OBJECTPOINT, STRINGPOINT, SLISTPOINT, CBPOINT */
                r = fn.easy_setopt(h, option, va_arg(ap, void *));
        else if (option < CURLOPTTYPE_OFF_T) /* FUNCTIONPOINT */
                r = fn.easy_setopt(h, option, va_arg(ap, any_fn));
        else if (option < CURLOPTTYPE_BLOB) /* OFF_T */
                r = fn.easy_setopt(h, option, va_arg(ap, curl_off_t));
        else /* BLOB: a struct curl_blob * */
                r = fn.easy_setopt(h, option, va_arg(ap, void *));
        va_end(ap);
        return r;
}

CURLcode dist_curl_easy_getinfo(CURL *h, CURLINFO info, ...) {
        if (!ready())
                return CURLE_FAILED_INIT;
        va_list ap;
        va_start(ap, info);
        void *p = va_arg(ap, void *);
        va_end(ap);
        return fn.easy_getinfo(h, info, p);
}

CURLcode dist_curl_easy_perform(CURL *h) {
        return ready() ? fn.easy_perform(h) : CURLE_FAILED_INIT;
}

const char *dist_curl_easy_strerror(CURLcode code) {
        return ready() ? fn.easy_strerror(code) : "libcurl is not loaded";
}

char *dist_curl_easy_escape(CURL *h, const char *s, int len) {
        return ready() ? fn.easy_escape(h, s, len) : NULL;
}

void dist_curl_free(void *p) {
        if (p && ready())
                fn.free(p);
}

struct curl_slist *dist_curl_slist_append(struct curl_slist *list, const char *s) {
        return ready() ? fn.slist_append(list, s) : NULL;
}

void dist_curl_slist_free_all(struct curl_slist *list) {
        if (list && ready())
                fn.slist_free_all(list);
}
