/* router.c - pure request routing: API version prefixes, route patterns, error statuses.
 * No I/O here, so all of it is unit-tested. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "http.h"

int api_version_parse(const char *s, unsigned *ret) {
        unsigned major = 0, minor = 0;
        const char *p = s;
        int digits = 0;
        if (!s)
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++, digits++)
                if (digits > 3 || (major = major * 10 + (unsigned) (*p - '0')) > 99)
                        return -EINVAL;
        if (digits == 0 || *p != '.')
                return -EINVAL;
        p++;
        digits = 0;
        for (; *p >= '0' && *p <= '9'; p++, digits++)
                if (digits > 1 || (minor = minor * 10 + (unsigned) (*p - '0')) > 99)
                        return -EINVAL;
        if (digits == 0 || *p != '\0')
                return -EINVAL;
        *ret = major * 100 + minor;
        return 0;
}

int api_version_strip(const char *url, unsigned *ret_version, const char **ret_path, struct berr *err) {
        if (url[0] != '/' || url[1] != 'v' || !(url[2] >= '0' && url[2] <= '9')) {
                *ret_version = API_VERSION_MAX;
                *ret_path = url;
                return 0;
        }
        const char *end = strchr(url + 2, '/');
        size_t len = end ? (size_t) (end - (url + 2)) : strlen(url + 2);
        char vs[16];
        if (len >= sizeof(vs))
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "page not found");
        memcpy(vs, url + 2, len);
        vs[len] = '\0';
        unsigned v;
        if (api_version_parse(vs, &v) < 0)
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "page not found");
        if (v > API_VERSION_MAX)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "client version %s is too new. Maximum supported API version is %u.%u", vs,
                                API_VERSION_MAX / 100, API_VERSION_MAX % 100);
        if (v < API_VERSION_MIN)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "client version %s is too old. Minimum supported API version is %u.%u, please upgrade your client to a newer version",
                                vs, API_VERSION_MIN / 100, API_VERSION_MIN % 100);
        *ret_version = v;
        *ret_path = end ? end : "/";
        return 0;
}

/* Match @pat against @path, both starting after a '/'. {x} takes one segment, {x*} one or
 * more (the shortest that lets the rest match, so "/images/{name*}/json" takes
 * "library/busybox" from "/images/library/busybox/json"). */
static bool match_from(const char *pat, const char *path, char *params[API_MAX_PARAMS], int n_params) {
        for (;;) {
                if (*pat == '\0')
                        return *path == '\0';
                if (*pat != '{') {
                        if (*pat != *path)
                                return false;
                        pat++;
                        path++;
                        continue;
                }
                const char *close = strchr(pat, '}');
                if (!close || n_params >= API_MAX_PARAMS)
                        return false;
                bool multi = close[-1] == '*';
                const char *rest = close + 1;
                /* Try every end of the capture from the shortest; one segment unless multi. */
                for (const char *end = path; *end; ) {
                        end++;
                        if (*end != '\0' && *end != '/')
                                continue;
                        if (end == path)
                                return false;
                        if (match_from(rest, end, params, n_params + 1)) {
                                params[n_params] = strndup(path, (size_t) (end - path));
                                return params[n_params] != NULL;
                        }
                        if (!multi || *end == '\0')
                                return false;
                }
                return false;
        }
}

enum api_match api_route_match(const struct api_route *routes, size_t n_routes, const char *method,
                               const char *path, const struct api_route **ret_route,
                               char *params[API_MAX_PARAMS]) {
        bool path_seen = false;
        const char *want = STREQ(method, "HEAD") ? "GET" : NULL;

        /* Exact method first (HEAD routes beat the GET fallback), then HEAD→GET. */
        for (int pass = 0; pass < 2; pass++) {
                const char *m = pass == 0 ? method : want;
                if (!m)
                        break;
                for (size_t i = 0; i < n_routes; i++) {
                        char *got[API_MAX_PARAMS] = { 0 };
                        if (!match_from(routes[i].pattern, path, got, 0))
                                continue;
                        path_seen = true;
                        if (!STREQ(routes[i].method, m)) {
                                for (int k = 0; k < API_MAX_PARAMS; k++)
                                        free(got[k]);
                                continue;
                        }
                        memcpy(params, got, sizeof(got));
                        *ret_route = &routes[i];
                        return API_MATCH_OK;
                }
        }
        return path_seen ? API_MATCH_BAD_METHOD : API_MATCH_NO_PATH;
}

unsigned api_status_for_kind(int kind) {
        static const unsigned status[_BERR_KIND_MAX] = {
                [BERR_INTERNAL] = 500,  [BERR_INVALID] = 400,     [BERR_NOT_FOUND] = 404,
                [BERR_CONFLICT] = 409,  [BERR_FORBIDDEN] = 403,   [BERR_UNAUTHORIZED] = 401,
                [BERR_UNAVAILABLE] = 503, [BERR_TOO_LARGE] = 413, [BERR_NOT_IMPLEMENTED] = 501,
        };
        if (kind < 0 || kind >= _BERR_KIND_MAX)
                return 500;
        return status[kind];
}
