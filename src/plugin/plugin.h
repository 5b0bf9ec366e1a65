/* plugin.h - Docker's (legacy, "v1") plugins as dockerd's pkg/plugins finds and calls
 * them: a plugin NAME is a unix socket NAME.sock, or a spec file NAME.spec (a URL) or
 * NAME.json ({"Name", "Addr", "TLSConfig"}), each either in a plugin directory or in a
 * subdirectory NAME/ of it. Sockets are looked for in /run/docker/plugins and
 * EXEC-ROOT/plugins, spec files in /etc/docker/plugins, /usr/lib/docker/plugins,
 * /etc/berth/plugins and EXEC-ROOT/plugins, in that order. A plugin is activated once
 * (POST /Plugin.Activate answers {"Implements": [...]}) and kept; every call is an HTTP/1.1
 * POST of JSON to /Method with dockerd's Accept header, on a unix socket or TCP. When the
 * plugin cannot be reached (no spec, or nothing accepts the connection) a call retries with
 * dockerd's back-off (1 s, 2 s, 4 s, ... up to 30 s in all); a call that reached the plugin
 * is never sent twice. Answers are bounded (PLUGIN_MAX_RESPONSE). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct berr;
struct plugin_registry;
struct plugin;

#define PLUGIN_MAX_RESPONSE (16u << 20)
#define PLUGIN_MAX_IMPLEMENTS 16
/* dockerd's defaultTimeOut: the whole retry window, in seconds. BERTH_PLUGIN_RETRY_SECONDS
 * (0..30) shortens it, for tests of a plugin that is gone. */
#define PLUGIN_RETRY_SECONDS 30

/* The kinds a plugin implements, as Plugin.Activate names them. */
#define PLUGIN_KIND_VOLUME "VolumeDriver"
#define PLUGIN_KIND_AUTHZ "authz"
#define PLUGIN_KIND_LOG "LogDriver"
#define PLUGIN_KIND_NETWORK "NetworkDriver"
#define PLUGIN_KIND_IPAM "IpamDriver"

/* A plugin's address from its spec, as dockerd reads spec files. */
struct plugin_spec {
        char name[256];
        char addr[4096]; /* "unix:///path", "tcp://host:port", "http://..." */
        bool has_tls;    /* TLSConfig given (https needs it; berth has no TLS client here) */
};

/* Parse a spec file's text: @ext is ".spec" (a URL, spaces trimmed; no scheme is
 * "Unknown protocol") or ".json" (dockerd's Plugin JSON). */
int plugin_spec_parse(const char *name, const char *ext, const char *text, size_t len, struct plugin_spec *ret,
                      struct berr *err);

/* The directories searched: sockets (NULL-terminated) and spec files. @exec_root adds
 * EXEC-ROOT/plugins to both. */
int plugin_registry_new(const char *exec_root, struct plugin_registry **ret, struct berr *err);
struct plugin_registry *plugin_registry_free(struct plugin_registry *reg);

/* Find @name in the directories (no activation). BERR_NOT_FOUND when there is none. */
int plugin_registry_lookup(struct plugin_registry *reg, const char *name, struct plugin_spec *ret, struct berr *err);

/* Every plugin name the directories hold (dockerd's Scan), a JSON array of strings. */
json_t *plugin_registry_scan(struct plugin_registry *reg);

/* dockerd's plugins.Get through its plugin store: found (retrying while it is not there,
 * up to the window), activated once, and implementing @kind. Errors as dockerd words
 * them: `plugin "NAME" not found` (BERR_NOT_FOUND), "legacy plugin: " and a failed
 * activation's error, "legacy plugin: Plugin does not implement the requested driver".
 * The plugin stays owned by the registry. */
int plugin_get(struct plugin_registry *reg, const char *name, const char *kind, struct plugin **ret, struct berr *err);
/* plugin_get without waiting: looked up and activated once, for start-up, where a plugin
 * that is not there must not hold the daemon for the whole window. */
int plugin_get_now(struct plugin_registry *reg, const char *name, const char *kind, struct plugin **ret,
                   struct berr *err);

/* dockerd's plugins.GetAll: every plugin in the directories that activates (no retry)
 * and implements @kind. *@ret is a malloc'd array of *@ret_n pointers (may be empty). */
int plugin_get_all(struct plugin_registry *reg, const char *kind, struct plugin ***ret, size_t *ret_n,
                   struct berr *err);

/* The names of the plugins activated so far that implement @kind (dockerd's driver lists
 * in `docker info`), a JSON array. */
json_t *plugin_registry_active(struct plugin_registry *reg, const char *kind);

const char *plugin_name(const struct plugin *p);
bool plugin_implements(const struct plugin *p, const char *kind);

/* POST /@method with @args (NULL: no body) and decode the answer into *@ret (NULL if not
 * wanted). @timeout_ms bounds one attempt from connect to the last byte (0: none beyond
 * the retry window for connecting). A status other than 200 is an error with the
 * answer's "Err" (or its text): "METHOD: MESSAGE". */
int plugin_call(struct plugin *p, const char *method, json_t *args, long timeout_ms, json_t **ret, struct berr *err);

/* The HTTP layer, for tests: one POST to @addr; *@ret_status and the body (NUL-terminated,
 * malloc'd). Nothing is retried here. Returns -ECONNREFUSED/-ENOENT style values, with
 * @ret_sent telling whether the request left (then it must not be sent again). */
int plugin_http_post(const char *addr, const char *path, const char *body, size_t body_len, long timeout_ms,
                     int *ret_status, char **ret_body, size_t *ret_len, bool *ret_sent, struct berr *err);

/* Parse an HTTP/1.x response held whole in @buf (Content-Length, chunked, or up to EOF):
 * the status and the body, decoded in place. For tests and plugin_http_post. */
int plugin_http_parse_response(char *buf, size_t len, int *ret_status, char **ret_body, size_t *ret_body_len,
                               struct berr *err);

/* The back-off before retry @retries (0, 1, ...): 1, 2, 4, ... seconds, at most 30. */
unsigned plugin_backoff_seconds(unsigned retries);

/* The plugin's address ("unix:///...", "tcp://..."). */
const char *plugin_addr(const struct plugin *p);

/* A call whose answer is a stream (LogDriver.ReadLogs): POST /@method with @args, the
 * headers read (a status other than 200 is the call's error); then the body (chunked or
 * not) a piece at a time. No retry: the plugin is running, it was just asked. */
struct plugin_stream;
int plugin_stream_open(struct plugin *p, const char *method, json_t *args, struct plugin_stream **ret, struct berr *err);
/* Up to @max bytes of the body: >0, 0 at its end, -ETIMEDOUT when nothing came within
 * @timeout_ms (-1: wait), another negative errno when the stream broke. */
ssize_t plugin_stream_read(struct plugin_stream *s, void *buf, size_t max, int timeout_ms);
void plugin_stream_close(struct plugin_stream *s);

/* ---- managed plugins (`docker plugin ...`): the daemon's plugin manager runs them; here
 * they join the lookup (managed_config.c has their configuration) ---- */

/* A managed plugin now enabled, listening at @addr ("unix:///..."): Plugin.Activate is
 * asked once (no retry: the manager waited for the socket), then plugin_get finds it
 * under @name (and NAME for NAME:latest), implementing @kinds (from its config's
 * Interface.Types, as dockerd takes them). */
struct plugin_scope {
        const char *rootfs;     /* the plugin's root on the host */
        const char *prop_mount; /* Config.PropagatedMount inside ("" or NULL: none) */
        const char *prop_root;  /* where that is on the host */
};
int plugin_registry_put_managed(struct plugin_registry *reg, const char *name, const char *addr,
                                const char *const *kinds, size_t n_kinds, const struct plugin_scope *scope,
                                long timeout_ms, struct berr *err);
/* A path a plugin answered (a volume's Mountpoint) as the host sees it: unchanged for a
 * legacy plugin; for a managed one under its propagated mount's directory or its rootfs
 * (dockerd's ScopedPath). */
int plugin_scoped_path(const struct plugin *p, const char *path, char *out, size_t size);
bool plugin_is_managed(const struct plugin *p);
/* Disabled (plugin_get: `plugin NAME found but disabled`, 409), or removed (not found).
 * The object stays allocated: callers may hold it. */
void plugin_registry_managed_state(struct plugin_registry *reg, const char *name, bool is_removed);

/* A plugin's config.json (api/types/plugin Config) checked against Go's types and
 * rewritten with every field (the zero values where absent), as dockerd's inspect shows
 * it. Errors: BERR_INVALID with Go's unmarshal words. */
int plugin_config_normalize(json_t *in, json_t **ret, struct berr *err);
/* The registry kinds (PLUGIN_KIND_*) of its Interface.Types ("docker.volumedriver/1.0"). */
size_t plugin_config_kinds(json_t *config, const char **out, size_t max);
/* The Plugin object (Id, Name, Enabled false, Settings from the config, PluginReference
 * "", Config): what GET /plugins lists and the store keeps. */
json_t *plugin_object_new(const char *id, const char *name, json_t *config);
/* `docker plugin set` (dockerd's Plugin.Set): each "name[.field][=value]" of @args on a
 * disabled plugin's Env, Mounts' Source, Devices' Path or Args, only where Settable;
 * dockerd's messages. All or nothing. */
int plugin_object_set(json_t *obj, json_t *args, struct berr *err);
/* The privileges an install must grant (dockerd's computePrivileges), and the check of
 * what a client granted against them ("incorrect privileges"). */
json_t *plugin_config_privileges(json_t *config);
int plugin_privileges_check(json_t *required, json_t *granted, struct berr *err);
