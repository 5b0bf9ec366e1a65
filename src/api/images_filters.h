/* images_filters.h - decoding the `filters` query parameter and Docker's timestamps, as
 * the image endpoints (and any other list or prune) receive them. */
#pragma once

#include <jansson.h>
#include <stdint.h>

struct berr;

/* Docker's filters JSON in either encoding the clients use ({"k":["v"]} from old ones,
 * {"k":{"v":true}} from current ones) as {"k":["v",...]}. NULL or "" gives {}. A key not
 * in @accepted (NULL-terminated) is BERR_INVALID "invalid filter 'k'". */
int api_filters_parse(const char *text, const char *const *accepted, json_t **ret, struct berr *err);

/* The values of @key as a NULL-terminated vector of strings borrowed from @filters (free
 * only the vector), or NULL when there are none. */
const char **api_filters_values(json_t *filters, const char *key);

/* A boolean filter (dangling): 1 for "true"/"1", 0 for "false"/"0", @def when absent;
 * anything else, or both, is BERR_INVALID "invalid filter 'k=v'". */
int api_filters_bool(json_t *filters, const char *key, int def, int *ret, struct berr *err);

/* Docker's timestamp argument (until=, since=): a Go duration before @now_ns ("24h"),
 * Unix seconds with optional fraction, or an RFC 3339 date/time (the zone defaults to
 * UTC). Nanoseconds since the epoch. */
int api_parse_timestamp(const char *s, int64_t now_ns, int64_t *ret_ns, struct berr *err);
