/* images_filters.c - the `filters` query parameter and Docker's timestamps (pure decoding,
 * unit-tested in tests/unit/test_image_filters.c). */
#include "images_filters.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/duration.h"
#include "common/err.h"
#include "common/json.h"

static bool accepted_key(const char *key, const char *const *accepted) {
        for (size_t i = 0; accepted && accepted[i]; i++)
                if (STREQ(key, accepted[i]))
                        return true;
        return false;
}

int api_filters_parse(const char *text, const char *const *accepted, json_t **ret, struct berr *err) {
        json_t *out = json_object();
        if (!out)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (!text || !text[0]) {
                *ret = out;
                return 0;
        }
        _cleanup_json_ json_t *in = NULL;
        int r = json_parse_object(text, strlen(text), &in, err);
        if (r < 0) {
                json_decref(out);
                return berr_wrap(err, "invalid filters");
        }
        const char *key;
        json_t *v;
        json_object_foreach(in, key, v) {
                if (!accepted_key(key, accepted)) {
                        json_decref(out);
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid filter '%s'", key);
                }
                json_t *values = json_array();
                json_object_set_new(out, key, values);
                if (json_is_array(v)) {
                        size_t i;
                        json_t *x;
                        json_array_foreach(v, i, x) {
                                if (!json_is_string(x)) {
                                        json_decref(out);
                                        return berr_set(err, BERR_INVALID, EINVAL, "invalid filters: %s values must be strings", key);
                                }
                                json_array_append(values, x);
                        }
                } else if (json_is_object(v)) {
                        const char *val;
                        json_t *on;
                        json_object_foreach(v, val, on) {
                                if (json_is_true(on))
                                        json_array_append_new(values, json_string(val));
                        }
                } else {
                        json_decref(out);
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid filters: bad value for %s", key);
                }
        }
        *ret = out;
        return 0;
}

const char **api_filters_values(json_t *filters, const char *key) {
        json_t *values = json_object_get(filters, key);
        size_t n = json_array_size(values);
        if (n == 0)
                return NULL;
        const char **out = calloc(n + 1, sizeof(*out));
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++)
                out[i] = json_string_value(json_array_get(values, i));
        return out;
}

int api_filters_bool(json_t *filters, const char *key, int def, int *ret, struct berr *err) {
        json_t *values = json_object_get(filters, key);
        int v = -1;
        size_t i;
        json_t *x;
        json_array_foreach(values, i, x) {
                const char *s = json_string_value(x);
                int b = strcasecmp(s, "true") == 0 || STREQ(s, "1") ? 1 : strcasecmp(s, "false") == 0 || STREQ(s, "0") ? 0 : -1;
                if (b < 0 || (v >= 0 && v != b))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid filter '%s=%s'", key, s);
                v = b;
        }
        *ret = v < 0 ? def : v;
        return 0;
}

/* "YYYY-MM-DD[THH[:MM[:SS[.frac]]]][Z|±HH:MM]" */
/* Seconds and nanoseconds as one count of nanoseconds, saturated: a time past 2262 (or
 * before 1678) compares as the far future (past), as Go's time.Time would. */
static int64_t seconds_to_ns(int64_t sec, int64_t frac) {
        int64_t ns;
        if (__builtin_mul_overflow(sec, (int64_t) 1000000000, &ns) || __builtin_add_overflow(ns, frac, &ns))
                return sec < 0 ? INT64_MIN : INT64_MAX;
        return ns;
}

static int parse_date_time(const char *s, int64_t *ret_ns) {
        struct tm tm = { 0 };
        const char *p = strptime(s, "%Y-%m-%d", &tm);
        if (!p)
                return -EINVAL;
        int64_t frac = 0;
        if (*p == 'T') {
                const char *q = strptime(p + 1, "%H", &tm);
                if (!q)
                        return -EINVAL;
                p = q;
                if (*p == ':' && (q = strptime(p + 1, "%M", &tm)))
                        p = q;
                if (*p == ':' && (q = strptime(p + 1, "%S", &tm)))
                        p = q;
                if (*p == '.') {
                        int64_t scale = 100000000;
                        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
                                frac += (*p - '0') * scale;
                }
        }
        int64_t offset = 0;
        int hh, mm, n = 0;
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) == 2) {
                offset = (*p == '+' ? 1 : -1) * ((int64_t) hh * 3600 + mm * 60);
                p += 1 + n;
        }
        if (*p)
                return -EINVAL;
        *ret_ns = seconds_to_ns((int64_t) timegm(&tm) - offset, frac);
        return 0;
}

int api_parse_timestamp(const char *s, int64_t now_ns, int64_t *ret_ns, struct berr *err) {
        int64_t d;
        if (!STREQ(s, "0") && duration_parse_ns(s, &d) == 0) {
                if (__builtin_sub_overflow(now_ns, d, ret_ns))
                        *ret_ns = d < 0 ? INT64_MAX : INT64_MIN;
                return 0;
        }
        if (strchr(s, '-')) {
                if (parse_date_time(s, ret_ns) == 0)
                        return 0;
                return berr_set(err, BERR_INVALID, EINVAL, "failed to parse value as time or duration: \"%s\"", s);
        }
        char *end;
        long long sec = strtoll(s, &end, 10);
        int64_t frac = 0;
        if (end != s && *end == '.') {
                int64_t scale = 100000000;
                for (end++; *end >= '0' && *end <= '9'; end++, scale /= 10)
                        frac += (*end - '0') * scale;
        }
        if (end == s || *end)
                return berr_set(err, BERR_INVALID, EINVAL, "failed to parse value as time or duration: \"%s\"", s);
        *ret_ns = seconds_to_ns(sec, frac);
        return 0;
}
