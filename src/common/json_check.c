/* json_check.c - JSON checked against Go type tables (see json_check.h). */
#include "json_check.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "err.h"

const struct json_type json_type_string = JSON_TYPE_LEAF(JK_STRING, "string", 0);
const struct json_type json_type_bool = JSON_TYPE_LEAF(JK_BOOL, "bool", 0);
const struct json_type json_type_int = JSON_TYPE_LEAF(JK_INT, "int", 64);
const struct json_type json_type_int64 = JSON_TYPE_LEAF(JK_INT, "int64", 64);
const struct json_type json_type_uint16 = JSON_TYPE_LEAF(JK_UINT, "uint16", 16);
const struct json_type json_type_uint32 = JSON_TYPE_LEAF(JK_UINT, "uint32", 32);
const struct json_type json_type_uint64 = JSON_TYPE_LEAF(JK_UINT, "uint64", 64);
const struct json_type json_type_uint = JSON_TYPE_LEAF(JK_UINT, "uint", 64);
const struct json_type json_type_duration = JSON_TYPE_LEAF(JK_INT, "time.Duration", 64);
const struct json_type json_type_strslice = JSON_TYPE_LEAF(JK_STRSLICE, "strslice.StrSlice", 0);
const struct json_type json_type_string_slice = JSON_TYPE_SLICE("[]string", &json_type_string);
const struct json_type json_type_string_map = JSON_TYPE_MAP("map[string]string", &json_type_string);
const struct json_type json_type_empty_struct = JSON_TYPE_LEAF(JK_EMPTY, "struct {}", 0);
const struct json_type json_type_any = JSON_TYPE_LEAF(JK_ANY, "interface {}", 0);

/* Where the decoder is, for Go's message: the innermost struct being decoded and the
 * path of field names from the top (map keys and array indexes are not part of it). */
struct where {
        const char *struct_name;
        char path[256];
};

/* Go's words for a JSON value in "cannot unmarshal X". */
static const char *value_word(const json_t *v) {
        switch (json_typeof(v)) {
        case JSON_OBJECT: return "object";
        case JSON_ARRAY: return "array";
        case JSON_STRING: return "string";
        case JSON_TRUE:
        case JSON_FALSE: return "bool";
        default: return "number";
        }
}

static int mismatch(const struct where *w, const char *value, const char *go, struct berr *err) {
        if (w->struct_name)
                return berr_set(err, BERR_INVALID, EINVAL, "json: cannot unmarshal %s into Go struct field %s.%s of type %s",
                                value, w->struct_name, w->path, go);
        return berr_set(err, BERR_INVALID, EINVAL, "json: cannot unmarshal %s into Go value of type %s", value, go);
}

/* A number that is not integral or does not fit: Go quotes it ("number 1.5"). */
static int bad_number(const struct where *w, const json_t *v, const struct json_type *t, struct berr *err) {
        _cleanup_free_ char *text = json_dumps(v, JSON_ENCODE_ANY);
        char word[96];
        snprintf(word, sizeof(word), "number %s", text ? text : "");
        return mismatch(w, word, t->go, err);
}

static bool int_fits(json_int_t n, const struct json_type *t) {
        if (t->kind == JK_UINT) {
                if (n < 0)
                        return false;
                return t->bits >= 63 || (uint64_t) n < (UINT64_C(1) << t->bits);
        }
        if (t->bits >= 64)
                return true;
        json_int_t lim = (json_int_t) 1 << (t->bits - 1);
        return n >= -lim && n < lim;
}

static const struct json_field *find_field(const struct json_field *fields, const char *key, bool fold) {
        for (const struct json_field *f = fields; f->type; f++) {
                if (!f->name) {
                        const struct json_field *in = find_field(f->type->fields, key, fold);
                        if (in)
                                return in;
                } else if (fold ? strcasecmp(f->name, key) == 0 : strcmp(f->name, key) == 0)
                        return f;
        }
        return NULL;
}

static int check(json_t *v, const struct json_type *t, struct where *w, struct berr *err);

static int check_struct(json_t *v, const struct json_type *t, struct where *w, struct berr *err) {
        const char *key;
        json_t *val;
        json_object_foreach(v, key, val) {
                /* Go prefers the exact name and then any that differs only in case. */
                const struct json_field *f = find_field(t->fields, key, false) ?: find_field(t->fields, key, true);
                if (!f)
                        continue;
                struct where inner = { .struct_name = t->struct_name };
                int n = snprintf(inner.path, sizeof(inner.path), "%s%s%s", w->path, w->path[0] ? "." : "", f->name);
                if (n >= (int) sizeof(inner.path)) /* it only names the field in a message: say it is cut */
                        memcpy(inner.path + sizeof(inner.path) - 4, "...", 4);
                int r = check(val, f->type, &inner, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check(json_t *v, const struct json_type *t, struct where *w, struct berr *err) {
        if (json_is_null(v) || t->kind == JK_ANY)
                return 0;
        size_t i;
        json_t *e;
        const char *key;
        switch (t->kind) {
        case JK_STRING:
                return json_is_string(v) ? 0 : mismatch(w, value_word(v), t->go, err);
        case JK_BOOL:
                return json_is_boolean(v) ? 0 : mismatch(w, value_word(v), t->go, err);
        case JK_INT:
        case JK_UINT:
                if (json_is_integer(v))
                        return int_fits(json_integer_value(v), t) ? 0 : bad_number(w, v, t, err);
                if (json_is_real(v))
                        return bad_number(w, v, t, err);
                return mismatch(w, value_word(v), t->go, err);
        case JK_STRSLICE:
                /* StrSlice decodes an array of strings, or else a single string; the error
                 * is the second attempt's. */
                if (json_is_string(v))
                        return 0;
                if (json_is_array(v)) {
                        json_array_foreach(v, i, e) if (!json_is_string(e) && !json_is_null(e)) return mismatch(
                                w, "array", "string", err);
                        return 0;
                }
                return mismatch(w, value_word(v), "string", err);
        case JK_SLICE:
                if (!json_is_array(v))
                        return mismatch(w, value_word(v), t->go, err);
                json_array_foreach(v, i, e) {
                        int r = check(e, t->elem, w, err);
                        if (r < 0)
                                return r;
                }
                return 0;
        case JK_MAP:
                if (!json_is_object(v))
                        return mismatch(w, value_word(v), t->go, err);
                json_object_foreach(v, key, e) {
                        int r = check(e, t->elem, w, err);
                        if (r < 0)
                                return r;
                }
                return 0;
        case JK_EMPTY:
                return json_is_object(v) ? 0 : mismatch(w, value_word(v), t->go, err);
        case JK_STRUCT:
                return json_is_object(v) ? check_struct(v, t, w, err) : mismatch(w, value_word(v), t->go, err);
        case JK_ANY:
                return 0;
        }
        return 0;
}

int json_check_type(json_t *v, const struct json_type *t, struct berr *err) {
        struct where w = { 0 };
        return check(v, t, &w, err);
}
