/* routes.c - the Engine API route table: every path berthd serves, in one place. */
#include <stdio.h>

#include "api.h"
#include "common/buildinfo.h"
#include "common/err.h"
#include "daemon/daemon.h"

const struct api_route api_routes[] = {
        { "GET", "/_ping", api_system_ping, 0 },
        { "HEAD", "/_ping", api_system_ping, 0 },
        { "GET", "/version", api_system_version, 0 },
        { "GET", "/info", api_system_info, 0 },
        { "GET", "/events", api_system_events, 0 },
        { "POST", "/containers/create", api_containers_create, 0 },
        { "GET", "/containers/json", api_containers_list, 0 },
        { "GET", "/containers/{id}/json", api_containers_inspect, 0 },
        { "POST", "/containers/{id}/start", api_containers_start, 0 },
        { "POST", "/containers/{id}/stop", api_containers_stop, 0 },
        { "POST", "/containers/{id}/restart", api_containers_restart, 0 },
        { "POST", "/containers/{id}/kill", api_containers_kill, 0 },
        { "POST", "/containers/{id}/wait", api_containers_wait, 0 },
        { "POST", "/containers/{id}/attach", api_containers_attach, 0 },
        { "GET", "/containers/{id}/logs", api_containers_logs, 0 },
        { "POST", "/containers/{id}/resize", api_containers_resize, 0 },
        { "POST", "/containers/{id}/rename", api_containers_rename, 0 },
        { "POST", "/containers/{id}/exec", api_containers_exec, 0 },
        { "POST", "/containers/{id}/pause", api_containers_pause, 0 },
        { "GET", "/containers/{id}/top", api_containers_top, 0 },
        { "GET", "/containers/{id}/stats", api_containers_stats, 0 },
        { "GET", "/containers/{id}/archive", api_containers_archive_get, 0 },
        { "HEAD", "/containers/{id}/archive", api_containers_archive_get, 0 },
        { "PUT", "/containers/{id}/archive", api_containers_archive_put, API_BODY_STREAM },
        { "GET", "/containers/{id}/export", api_containers_export, 0 },
        { "POST", "/containers/prune", api_containers_prune, 0 },
        { "POST", "/commit", api_commit, 0 },
        { "GET", "/containers/{id}/changes", api_containers_changes, 0 },
        { "POST", "/networks/prune", api_networks_prune, 0 },
        { "POST", "/build/prune", api_build_prune, 0 },
        { "GET", "/networks", api_networks_list, 0 },
        { "POST", "/networks/create", api_networks_create, 0 },
        { "GET", "/networks/{id}", api_networks_inspect, 0 },
        { "DELETE", "/networks/{id}", api_networks_delete, 0 },
        { "POST", "/networks/{id}/connect", api_networks_connect, 0 },
        { "POST", "/networks/{id}/disconnect", api_networks_disconnect, 0 },
        { "POST", "/build", api_build, API_BODY_STREAM },
        { "POST", "/volumes/create", api_volumes_create, 0 },
        { "GET", "/volumes", api_volumes_list, 0 },
        { "POST", "/volumes/prune", api_volumes_prune, 0 },
        { "GET", "/volumes/{name}", api_volumes_inspect, 0 },
        { "DELETE", "/volumes/{name}", api_volumes_delete, 0 },
        { "POST", "/containers/{id}/unpause", api_containers_unpause, 0 },
        { "POST", "/exec/{id}/start", api_exec_start, 0 },
        { "GET", "/exec/{id}/json", api_exec_inspect, 0 },
        { "POST", "/exec/{id}/resize", api_exec_resize, 0 },
        { "DELETE", "/containers/{id}", api_containers_delete, 0 },
        { "GET", "/images/json", api_images_list, 0 },
        { "POST", "/images/load", api_images_load, API_BODY_STREAM },
        { "POST", "/images/create", api_images_create, API_BODY_STREAM },
        { "POST", "/images/prune", api_images_prune, 0 },
        { "GET", "/images/get", api_images_get, 0 },
        { "GET", "/images/{name*}/json", api_images_inspect, 0 },
        { "GET", "/images/{name*}/history", api_images_history, 0 },
        { "GET", "/images/{name*}/get", api_images_get, 0 },
        { "POST", "/images/{name*}/tag", api_images_tag, 0 },
        { "DELETE", "/images/{name*}", api_images_delete, 0 },
        { "GET", "/system/df", api_system_df, 0 },
        { "POST", "/images/{name*}/push", api_images_push, 0 },
        { "POST", "/auth", api_auth, 0 },
        { "GET", "/distribution/{name*}/json", api_distribution_inspect, 0 },
};
const size_t api_n_routes = sizeof(api_routes) / sizeof(api_routes[0]);

int api_start(struct daemon *d, const int *fds, size_t n_fds, struct api_server **ret, struct berr *err) {
        static char server_header[64];
        snprintf(server_header, sizeof(server_header), "berth/%s (linux)", berth_version);
        struct api_server_config cfg = {
                .routes = api_routes,
                .n_routes = api_n_routes,
                .ctx = d,
                .server_header = server_header,
        };
        return api_server_start(&cfg, fds, n_fds, ret, err);
}
