/* json.c - shape-checked access to jansson values. */
#include "json.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "err.h"

const char *json_type_name(const json_t *v) {
        switch (json_typeof(v)) {
        case JSON_OBJECT: return "object";
        case JSON_ARRAY: return "array";
        case JSON_STRING: return "string";
        case JSON_INTEGER:
        case JSON_REAL: return "number";
        case JSON_TRUE:
        case JSON_FALSE: return "bool";
        case JSON_NULL: return "null";
        }
        return "unknown";
}

int json_parse_object(const char *buf, size_t len, json_t **ret, struct berr *err) {
        if (len == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "request body is empty, a JSON object is required");
        json_error_t jerr;
        json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!v)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid JSON: %s (line %d column %d)", jerr.text,
                                jerr.line, jerr.column);
        if (!json_is_object(v)) {
                berr_set(err, BERR_INVALID, EINVAL, "invalid JSON: expected an object, got %s",
                         json_type_name(v));
                json_decref(v);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static int get_typed(json_t *obj, const char *key, json_type want, const char *want_name,
                     json_t **ret, struct berr *err) {
        json_t *v = obj ? json_object_get(obj, key) : NULL;
        if (!v || json_is_null(v))
                return 1;
        int ok = json_typeof(v) == want || (want == JSON_TRUE && json_is_boolean(v)) ||
                 (want == JSON_INTEGER && json_is_real(v) && json_real_value(v) == (double) (int64_t) json_real_value(v));
        if (!ok)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid type for field %s: expected %s, got %s", key,
                                want_name, json_type_name(v));
        *ret = v;
        return 0;
}

int json_get_string(json_t *obj, const char *key, const char **ret, struct berr *err) {
        json_t *v = NULL;
        int r = get_typed(obj, key, JSON_STRING, "string", &v, err);
        if (r == 0)
                *ret = json_string_value(v);
        return r;
}

int json_get_bool(json_t *obj, const char *key, bool *ret, struct berr *err) {
        json_t *v = NULL;
        int r = get_typed(obj, key, JSON_TRUE, "bool", &v, err);
        if (r == 0)
                *ret = json_is_true(v);
        return r;
}

int json_get_int64(json_t *obj, const char *key, int64_t *ret, struct berr *err) {
        json_t *v = NULL;
        int r = get_typed(obj, key, JSON_INTEGER, "integer", &v, err);
        if (r == 0)
                *ret = json_is_integer(v) ? json_integer_value(v) : (int64_t) json_real_value(v);
        return r;
}

int json_get_object(json_t *obj, const char *key, json_t **ret, struct berr *err) {
        return get_typed(obj, key, JSON_OBJECT, "object", ret, err);
}

int json_get_array(json_t *obj, const char *key, json_t **ret, struct berr *err) {
        return get_typed(obj, key, JSON_ARRAY, "array", ret, err);
}

int json_get_strv(json_t *obj, const char *key, char ***ret, struct berr *err) {
        json_t *arr;
        int r = json_get_array(obj, key, &arr, err);
        if (r != 0)
                return r;
        size_t n = json_array_size(arr);
        _cleanup_strv_free_ char **v = calloc(n + 1, sizeof(char *));
        if (!v)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                json_t *e = json_array_get(arr, i);
                if (!json_is_string(e))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "invalid type for field %s[%zu]: expected string, got %s", key, i,
                                        json_type_name(e));
                v[i] = strdup(json_string_value(e));
                if (!v[i])
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        *ret = TAKE_PTR(v);
        return 0;
}

char *json_dump_compact(const json_t *v) {
        return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

void json_set_str(json_t *obj, const char *key, const char *val) {
        json_object_set_new(obj, key, val ? json_string(val) : json_null());
}

void json_filters_normalize(json_t *filters) {
        const char *k;
        json_t *v;
        json_object_foreach(filters, k, v) {
                if (!json_is_object(v))
                        continue;
                json_t *arr = json_array();
                const char *val;
                json_t *b;
                json_object_foreach(v, val, b) if (json_is_true(b)) json_array_append_new(arr, json_string(val));
                json_object_set_new(filters, k, arr); /* replacing a key's value is safe while iterating */
        }
}

static pthread_once_t shared_once = PTHREAD_ONCE_INIT;
static json_t *shared_empty, *shared_zero; /* never freed: referenced for the process's life */

static void shared_init(void) {
        shared_empty = json_string("");
        shared_zero = json_integer(0);
}

static json_t *shared_for(json_t *v) {
        if (json_is_string(v) && json_string_length(v) == 0)
                return shared_empty;
        if (json_is_integer(v) && json_integer_value(v) == 0)
                return shared_zero;
        return NULL;
}

static void share_scalars(json_t *v, int depth) {
        if (depth > 16)
                return;
        if (json_is_object(v)) {
                void *it = json_object_iter(v);
                while (it) {
                        json_t *x = json_object_iter_value(it);
                        json_t *s = shared_for(x);
                        if (s && s != x)
                                json_object_iter_set(v, it, s);
                        else
                                share_scalars(x, depth + 1);
                        it = json_object_iter_next(v, it);
                }
        } else if (json_is_array(v)) {
                for (size_t i = 0; i < json_array_size(v); i++) {
                        json_t *x = json_array_get(v, i);
                        json_t *s = shared_for(x);
                        if (s && s != x)
                                json_array_set(v, i, s);
                        else
                                share_scalars(x, depth + 1);
                }
        }
}

void json_share_scalars(json_t *v) {
        pthread_once(&shared_once, shared_init);
        if (shared_empty && shared_zero)
                share_scalars(v, 0);
}
