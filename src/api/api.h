/* api.h - the Docker Engine API served for a daemon: the route table and start-up. */
#pragma once

#include <stddef.h>

#include "http.h"

struct berr;
struct daemon;

/* Serve the Docker Engine API for @d on the listening @fds (ownership passes). */
int api_start(struct daemon *d, const int *fds, size_t n_fds, struct api_server **ret, struct berr *err);

/* The authorization middleware for @d's --authorization-plugin list (inactive while the
 * list is empty; SIGHUP may change it). */
const struct api_authz_hooks *api_authz_hooks(struct daemon *d);

/* The daemon's route table. */
extern const struct api_route api_routes[];
extern const size_t api_n_routes;

/* Handlers, one file per resource group. */
int api_system_ping(struct api_request *req, struct berr *err);
int api_system_version(struct api_request *req, struct berr *err);
int api_system_info(struct api_request *req, struct berr *err);
int api_system_events(struct api_request *req, struct berr *err);
int api_containers_create(struct api_request *req, struct berr *err);
int api_containers_list(struct api_request *req, struct berr *err);
int api_containers_inspect(struct api_request *req, struct berr *err);
int api_containers_start(struct api_request *req, struct berr *err);
int api_containers_stop(struct api_request *req, struct berr *err);
int api_containers_restart(struct api_request *req, struct berr *err);
int api_containers_kill(struct api_request *req, struct berr *err);
int api_containers_delete(struct api_request *req, struct berr *err);
int api_containers_resize(struct api_request *req, struct berr *err);
int api_containers_wait(struct api_request *req, struct berr *err);
int api_containers_attach(struct api_request *req, struct berr *err);
int api_containers_attach_ws(struct api_request *req, struct berr *err);
int api_containers_logs(struct api_request *req, struct berr *err);
int api_containers_rename(struct api_request *req, struct berr *err);
int api_containers_update(struct api_request *req, struct berr *err);
int api_containers_exec(struct api_request *req, struct berr *err);
int api_containers_pause(struct api_request *req, struct berr *err);
int api_containers_top(struct api_request *req, struct berr *err);
int api_containers_stats(struct api_request *req, struct berr *err);
int api_containers_archive_get(struct api_request *req, struct berr *err);
int api_containers_archive_put(struct api_request *req, struct berr *err);
int api_containers_export(struct api_request *req, struct berr *err);
int api_containers_prune(struct api_request *req, struct berr *err);
int api_commit(struct api_request *req, struct berr *err);
int api_containers_changes(struct api_request *req, struct berr *err);
int api_networks_prune(struct api_request *req, struct berr *err);
int api_build_prune(struct api_request *req, struct berr *err);
int api_networks_list(struct api_request *req, struct berr *err);
int api_networks_inspect(struct api_request *req, struct berr *err);
int api_networks_create(struct api_request *req, struct berr *err);
int api_networks_delete(struct api_request *req, struct berr *err);
int api_networks_connect(struct api_request *req, struct berr *err);
int api_networks_disconnect(struct api_request *req, struct berr *err);
/* swarm.c: a daemon outside any swarm. */
int api_swarm_not_manager(struct api_request *req, struct berr *err);
int api_swarm_leave(struct api_request *req, struct berr *err);
int api_swarm_unsupported(struct api_request *req, struct berr *err);
/* plugins.c: managed plugins (daemon/plugin_mgr.h). */
int api_plugins_privileges(struct api_request *req, struct berr *err);
int api_plugins_pull(struct api_request *req, struct berr *err);
int api_plugins_upgrade(struct api_request *req, struct berr *err);
int api_plugins_push(struct api_request *req, struct berr *err);
int api_plugins_ls(struct api_request *req, struct berr *err);
int api_plugins_inspect(struct api_request *req, struct berr *err);
int api_plugins_create(struct api_request *req, struct berr *err);
int api_plugins_enable(struct api_request *req, struct berr *err);
int api_plugins_disable(struct api_request *req, struct berr *err);
int api_plugins_remove(struct api_request *req, struct berr *err);
int api_plugins_set(struct api_request *req, struct berr *err);
int api_build(struct api_request *req, struct berr *err);
int api_volumes_create(struct api_request *req, struct berr *err);
int api_volumes_list(struct api_request *req, struct berr *err);
int api_volumes_inspect(struct api_request *req, struct berr *err);
int api_volumes_delete(struct api_request *req, struct berr *err);
int api_volumes_prune(struct api_request *req, struct berr *err);
int api_containers_unpause(struct api_request *req, struct berr *err);
int api_exec_start(struct api_request *req, struct berr *err);
int api_exec_inspect(struct api_request *req, struct berr *err);
int api_exec_resize(struct api_request *req, struct berr *err);
int api_images_load(struct api_request *req, struct berr *err);
int api_images_create(struct api_request *req, struct berr *err);
int api_images_get(struct api_request *req, struct berr *err);
int api_images_list(struct api_request *req, struct berr *err);
int api_images_inspect(struct api_request *req, struct berr *err);
int api_images_history(struct api_request *req, struct berr *err);
int api_images_tag(struct api_request *req, struct berr *err);
int api_images_delete(struct api_request *req, struct berr *err);
int api_images_prune(struct api_request *req, struct berr *err);
int api_system_df(struct api_request *req, struct berr *err);
/* distribution.c: pull is reached through api_images_create when fromImage is set. */
int api_images_pull(struct api_request *req, struct berr *err);
int api_images_push(struct api_request *req, struct berr *err);
int api_auth(struct api_request *req, struct berr *err);
int api_distribution_inspect(struct api_request *req, struct berr *err);
int api_images_search(struct api_request *req, struct berr *err);
