/* dist_curl.h - libcurl, loaded on first use. berthd does not link libcurl: its tree
 * (libssl, krb5, ldap, nghttp2, ssh2, ...) would be mapped, and count in the daemon's
 * RSS, from start-up even when no registry is ever contacted. Instead libcurl.so.4 is
 * dlopen()ed by the first registry operation and every curl function is called through a
 * table filled by dlsym().
 *
 * <curl/curl.h> still provides the types and constants. The curl_* names used in
 * distribution/ are redirected below to the dist_curl_* wrappers, so the call sites read
 * as plain libcurl; a file that wants curl must include this header, not <curl/curl.h>.
 * (The redirect costs curl's GCC type checks of curl_easy_setopt/getinfo arguments.) */
#pragma once

#include <curl/curl.h>

struct berr;

/* Load libcurl and run curl_global_init, once. 0, or an error "registry support needs
 * libcurl.so.4: <why>" when it cannot be loaded. The wrappers below load it too and fail
 * as libcurl would (NULL, CURLE_FAILED_INIT) when it is missing; dist_conn_open calls this
 * first to give the message. */
int dist_curl_load(struct berr *err);

/* dist_curl_set_socket_opener: declared in distribution.h (the daemon calls it). */

CURL *dist_curl_easy_init(void);
void dist_curl_easy_cleanup(CURL *h);
void dist_curl_easy_reset(CURL *h);
/* The one argument is read by the option's type: long, object pointer, function
 * pointer, curl_off_t or blob pointer. */
CURLcode dist_curl_easy_setopt(CURL *h, CURLoption option, ...);
/* The one argument is a pointer to the result, whatever the info's type. */
CURLcode dist_curl_easy_getinfo(CURL *h, CURLINFO info, ...);
CURLcode dist_curl_easy_perform(CURL *h);
const char *dist_curl_easy_strerror(CURLcode code);
char *dist_curl_easy_escape(CURL *h, const char *s, int len);
void dist_curl_free(void *p);
struct curl_slist *dist_curl_slist_append(struct curl_slist *list, const char *s);
void dist_curl_slist_free_all(struct curl_slist *list);

#ifndef DIST_CURL_IMPL
/* curl's typecheck-gcc.h makes these two function-like macros. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_easy_init dist_curl_easy_init
#define curl_easy_cleanup dist_curl_easy_cleanup
#define curl_easy_reset dist_curl_easy_reset
#define curl_easy_setopt dist_curl_easy_setopt
#define curl_easy_getinfo dist_curl_easy_getinfo
#define curl_easy_perform dist_curl_easy_perform
#define curl_easy_strerror dist_curl_easy_strerror
#define curl_easy_escape dist_curl_easy_escape
#define curl_free dist_curl_free
#define curl_slist_append dist_curl_slist_append
#define curl_slist_free_all dist_curl_slist_free_all
/* Called only by dist_curl.c, once, after loading. */
#define curl_global_init curl_global_init_is_done_by_dist_curl_load
#endif
