/* versions.h - what each API version changes in what berth serves, as one table.
 *
 * Handlers and the daemon speak the newest API (1.45). A request made at an older version
 * gets the older behaviour and shapes through the rules of versions.c, applied by the HTTP
 * layer where it decodes and encodes: the request body (api_body_json), query parameters
 * (api_query, api_query_filters) and the JSON answer (api_reply_json). Each rule names the
 * route it applies to, the versions it applies at and moby's version-history line it
 * follows. No handler tests the version itself. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

struct api_route;

enum api_vrule_kind {
        VR_BODY_DROP,        /* request body: the field at @path is ignored */
        VR_BODY_DEFAULT,     /* request body: the string field at @path is @value when absent or "" */
        VR_QUERY_IGNORE,     /* query parameter @path is ignored */
        VR_QUERY_FORCE,      /* query parameter @path reads as @value */
        VR_FILTER_ADD,       /* filters: key @path gets the value @value */
        VR_FILTER_QUERY,     /* filters: key @value gets the value of query parameter @path */
        VR_RESP_DROP,        /* answer: the field at @path is left out */
        VR_RESP_NONE_REFS,   /* answer: untagged images (at @path) show "<none>:<none>" and "<none>@<none>" */
        VR_RESP_SHORT_ALIAS, /* answer: the short container ID among the Aliases of user-defined networks */
        VR_VALUE,            /* a setting the handler asks for by name (@path) reads as @value */
};

struct api_vrule {
        unsigned from, until; /* applies when from <= version < until (major*100 + minor) */
        const char *method, *pattern; /* the route, as in the route table */
        enum api_vrule_kind kind;
        const char *path;  /* "HostConfig.ConsoleSize"; "[]" steps into every array element */
        const char *value;
        const char *why;   /* the version-history entry */
};

extern const struct api_vrule api_vrules[];
extern const size_t api_n_vrules;

/* Apply the body, answer or filter rules of @route at @version to @v (in place). */
void api_versions_body(const struct api_route *route, unsigned version, json_t *body);
void api_versions_answer(const struct api_route *route, unsigned version, json_t *answer);
/* Whether any answer rule applies (a handler that sends text it did not build as JSON
 * must then take the JSON way). */
bool api_versions_shapes_answer(const struct api_route *route, unsigned version);
struct api_request;
/* @req (may be NULL) gives the query parameters VR_FILTER_QUERY rules read. */
void api_versions_filters(const struct api_route *route, unsigned version, json_t *filters, struct api_request *req);
/* Query rules: *@ret is what parameter @key reads as (NULL: absent). Returns true when a
 * rule decided it, false when the request's own value stands. */
/* VR_VALUE rules: what setting @key is at @version, or @def. */
const char *api_versions_value(const struct api_route *route, unsigned version, const char *key, const char *def);
bool api_versions_query(const struct api_route *route, unsigned version, const char *key, const char **ret);
