/* plugin_int.h - the plugin module's own: kept-alive connections (http.c) for the
 * registry's calls (registry.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct berr;
struct plugin_pool;

struct plugin_pool *plugin_pool_new(void);
void plugin_pool_free(struct plugin_pool *p);
/* plugin_http_post on a kept connection of @pool (or a new one, kept afterwards when the
 * plugin allows). A kept connection the plugin had closed is replaced once, before any
 * answer came (the request was not taken). */
int plugin_http_post_pooled(struct plugin_pool *pool, const char *addr, const char *path, const char *body,
                            size_t body_len, long timeout_ms, int *ret_status, char **ret_body, size_t *ret_len,
                            bool *ret_sent, struct berr *err);
