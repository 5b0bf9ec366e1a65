/* json.h - jansson helpers that turn wrong shapes into BERR_INVALID errors. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct berr;

/* Parse @len bytes as a JSON object (empty input is an error). */
int json_parse_object(const char *buf, size_t len, json_t **ret, struct berr *err);

/* Typed field getters on an object. Each returns 0 and sets *ret when the key is present
 * with the right type, 1 (leaving *ret untouched) when the key is absent or null, and a
 * negative value with a BERR_INVALID message naming the field when the type is wrong. */
int json_get_string(json_t *obj, const char *key, const char **ret, struct berr *err);
int json_get_bool(json_t *obj, const char *key, bool *ret, struct berr *err);
int json_get_int64(json_t *obj, const char *key, int64_t *ret, struct berr *err);
int json_get_object(json_t *obj, const char *key, json_t **ret, struct berr *err);
int json_get_array(json_t *obj, const char *key, json_t **ret, struct berr *err);

/* A JSON array of strings as a NULL-terminated, newly allocated vector. */
int json_get_strv(json_t *obj, const char *key, char ***ret, struct berr *err);

/* Name of a value's JSON type, for messages: "string", "number", ... */
const char *json_type_name(const json_t *v);

/* Compact serialisation, newly allocated; NULL only on allocation failure. */
char *json_dump_compact(const json_t *v);

/* Replace, in place and through nested objects and arrays, every "" string and every 0
 * integer by one shared, immutable instance of each: an object kept for a long time (a
 * container's NetworkSettings.Networks) then holds no copy of its empty fields (measured:
 * ~0.7 KB per endpoint). Values are never changed in place in berth (only replaced), and
 * jansson's reference counts are atomic, so sharing them is safe across threads. */
void json_share_scalars(json_t *v);

/* Helpers to build objects without checking every set: a NULL value is stored as null. */
void json_set_str(json_t *obj, const char *key, const char *val);

/* Docker API filters come as {"key":["v1","v2"]} or, from the CLI, as {"key":{"v1":true}}:
 * turn the second form into the first, in place. */
void json_filters_normalize(json_t *filters);
