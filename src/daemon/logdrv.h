/* logdrv.h - log drivers on berthd's side: --log-driver/--log-opt checked at create as
 * dockerd does, and the "log" object of shim.json the shim's drivers work from
 * (src/shim/logdrv.c writes). The options come as parallel key/value arrays so the
 * caller may hold them as JSON or as a typed map. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct berr;

/* The container facts tags and extra attributes are made of. */
struct logdrv_info {
        const char *id;         /* 64 hex */
        const char *name;       /* with or without the leading '/' */
        const char *image_name; /* Config.Image as given */
        const char *image_id;   /* "sha256:..." */
        const char *command;    /* Path and Args joined by spaces (gelf's _command) */
        const char *created;    /* RFC 3339 */
        json_t *labels;         /* Config.Labels (object or NULL) */
        json_t *env;            /* Config.Env (array or NULL) */
};

/* Drivers berthd has (docker info's Plugins.Log), NULL-terminated. */
extern const char *const logdrv_names[];

/* dockerd's ValidateLogOpts for driver @type (never NULL or ""): unknown drivers and
 * options, bad values. 0 or a BERR_INVALID (BERR_NOT_IMPLEMENTED for what berth lacks). */
int logdrv_validate(const char *type, char *const *keys, char *const *vals, size_t n, struct berr *err);

/* The address driver @type's options make it send to when that is on the host's loopback
 * (localhost, 127.x, [::1]; fluentd's default localhost:24224), else NULL. */
const char *logdrv_loopback_address(const char *type, char *const *keys, char *const *vals, size_t n);

/* Go template @tmpl ("{{.ID}}" when NULL or "") expanded for @info into a new string. */
int logdrv_expand_tag(const char *tmpl, const struct logdrv_info *info, char **ret, struct berr *err);

/* The shim's "log" object for a validated configuration; @log_path is where json-file
 * (or the dual-logging cache) goes. */
int logdrv_shim_options(const char *type, char *const *keys, char *const *vals, size_t n,
                        const struct logdrv_info *info, const char *log_path, json_t **ret, struct berr *err);

/* Where the local driver writes, beside the json-file log at @json_log_path. */
char *logdrv_local_path(const char *json_log_path);

/* How many files a readable configuration keeps (max-file, or the cache's cache-max-file;
 * dockerd's defaults): the live one and the rotated ones .1 to .N-1. */
int64_t logdrv_max_file(const char *type, char *const *keys, char *const *vals, size_t n);

/* Whether `docker logs` can read this configuration back (json-file, or a cache). */
bool logdrv_readable(const char *type, char *const *keys, char *const *vals, size_t n);

/* Log driver plugins (daemon/logplugin.c): @fn answers 0 when @name is a plugin that
 * implements LogDriver; a driver that is not built in is looked up there. */
void logdrv_set_plugin_lookup(int (*fn)(void *ctx, const char *name), void *ctx);
bool logdrv_is_builtin(const char *type);
