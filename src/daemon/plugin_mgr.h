/* plugin_mgr.h - managed plugins (`docker plugin create/enable/disable/inspect/ls/rm/set`),
 * as dockerd's plugin manager keeps and runs them: DATA-ROOT/plugins/<id>/config.json (the
 * Plugin object) and rootfs/, each enabled plugin a container run through berth-shim with
 * its socket directory EXEC-ROOT/mp/<id12> bound at /run/docker/plugins, joined to the
 * plugin registry once it answered Plugin.Activate. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

struct berr;
struct daemon;

/* Load the store (removing what an interrupted create left). */
int pmgr_open(struct daemon *d, struct berr *err);
/* Start the plugins that were enabled (one still running from before is taken back); one
 * that fails is logged and recorded disabled. Before the authorization plugins are looked
 * for (one may be a managed plugin), as dockerd's plugin manager starts first. */
void pmgr_start_enabled(struct daemon *d);
/* Forget the store; running plugins stay up (their shims are detached), as containers. */
void pmgr_close(struct daemon *d);

/* GET /plugins: every plugin, filtered by "enabled" and "capability" (already checked
 * keys). */
int pmgr_list(struct daemon *d, json_t *filters, json_t **ret, struct berr *err);
/* GET /plugins/{name}/json: by name (NAME means NAME:latest), full ID or ID prefix. */
int pmgr_inspect(struct daemon *d, const char *name, json_t **ret, struct berr *err);
/* POST /plugins/create?name=: the tar on @tar_fd holds config.json and rootfs/. */
int pmgr_create(struct daemon *d, const char *name, int tar_fd, struct berr *err);
int pmgr_enable(struct daemon *d, const char *name, int timeout_s, struct berr *err);
int pmgr_disable(struct daemon *d, const char *name, bool force, struct berr *err);
int pmgr_remove(struct daemon *d, const char *name, bool force, struct berr *err);
/* POST /plugins/{name}/set: @args a JSON array of "name[.field]=value" strings. */
int pmgr_set(struct daemon *d, const char *name, json_t *args, struct berr *err);

/* ---- registries (plugin_dist.c) ---- */

/* Progress messages (Docker's JSON), borrowed. */
typedef void (*pmgr_progress_fn)(void *opaque, json_t *msg);

/* GET /plugins/privileges?remote=: what installing @remote needs granted. */
int pmgr_privileges(struct daemon *d, const char *remote, const char *auth_header, json_t **ret, struct berr *err);
/* POST /plugins/pull?remote=&name=: install (disabled) with @granted privileges, which
 * must be those the plugin needs. *@ret_name: the plugin's name (Docker-Plugin-Name). */
int pmgr_pull(struct daemon *d, const char *remote, const char *name, const char *auth_header, json_t *granted,
              pmgr_progress_fn progress, void *opaque, char ret_name[600], struct berr *err);
/* POST /plugins/{name}/upgrade?remote=: a disabled plugin's rootfs and config replaced. */
int pmgr_upgrade(struct daemon *d, const char *name, const char *remote, const char *auth_header, json_t *granted,
                 pmgr_progress_fn progress, void *opaque, struct berr *err);
/* POST /plugins/{name}/push: config blob and the rootfs as one gzipped layer. */
int pmgr_push(struct daemon *d, const char *name, const char *auth_header, pmgr_progress_fn progress, void *opaque,
              struct berr *err);
