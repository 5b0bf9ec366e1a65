/* json_check.h - check a JSON document against a table of Go types, as Go's encoding/json
 * would decode it, so that what dockerd refuses with a decode error berth refuses too
 * (with the same message) instead of storing a wrongly typed field that later breaks
 * `docker ps`, `docker images` or `docker inspect` in the clients.
 *
 * Go's rules kept here: null is accepted for any type (the field keeps its zero value);
 * unknown keys are ignored; keys match struct fields case-insensitively; integers must be
 * integral and fit their Go type; map keys are strings. */
#pragma once

#include <jansson.h>

struct berr;

enum json_kind {
        JK_STRING,
        JK_BOOL,
        JK_INT,      /* signed, .bits wide */
        JK_UINT,     /* unsigned, .bits wide */
        JK_STRSLICE, /* Docker's strslice.StrSlice: a string or an array of strings */
        JK_SLICE,    /* array of .elem */
        JK_MAP,      /* object with values of .elem */
        JK_STRUCT,   /* object with .fields; a field with a NULL name is embedded (promoted) */
        JK_EMPTY,    /* struct {}: an object, contents ignored */
        JK_ANY,      /* interface{}: anything */
};

struct json_field;

struct json_type {
        enum json_kind kind;
        const char *go;                  /* Go's name for messages: "int64", "map[string]string" */
        int bits;                        /* JK_INT, JK_UINT */
        const struct json_type *elem;    /* JK_SLICE, JK_MAP */
        const struct json_field *fields; /* JK_STRUCT, ended by an entry with a NULL type */
        const char *struct_name;         /* JK_STRUCT: Go's short name ("HostConfig") */
};

struct json_field {
        const char *name; /* as in JSON; NULL for an embedded struct */
        const struct json_type *type;
};

/* Initializers for the tables. */
#define JSON_TYPE_LEAF(k, go_name, nbits) { .kind = (k), .go = (go_name), .bits = (nbits) }
#define JSON_TYPE_SLICE(go_name, e) { .kind = JK_SLICE, .go = (go_name), .elem = (e) }
#define JSON_TYPE_MAP(go_name, e) { .kind = JK_MAP, .go = (go_name), .elem = (e) }
#define JSON_TYPE_STRUCT(go_name, name, f) { .kind = JK_STRUCT, .go = (go_name), .fields = (f), .struct_name = (name) }

/* Check @v against @t. On the first mismatch (in document order) fill @err (BERR_INVALID)
 * with Go's message, e.g. "json: cannot unmarshal number into Go struct field
 * ContainerConfigWrapper.Labels of type string", and return -EINVAL. */
int json_check_type(json_t *v, const struct json_type *t, struct berr *err);

/* Common leaf types. */
extern const struct json_type json_type_string, json_type_bool, json_type_int, json_type_int64,
        json_type_uint16, json_type_uint32, json_type_uint64, json_type_uint, json_type_duration,
        json_type_strslice, json_type_string_slice, json_type_string_map, json_type_empty_struct,
        json_type_any;
