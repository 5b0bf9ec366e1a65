/* rootless.h - berthd started by an unprivileged user, as dockerd-rootless.sh runs dockerd:
 * a user namespace of the user's subordinate ids (newuidmap/newgidmap, Debian's uidmap), a
 * mount namespace of its own, and dockerd-rootless's paths. What rootless berth does not do
 * yet is refused by name (see README "Rootless"). */
#pragma once

#include <stdbool.h>

struct berr;
struct daemon_config;

/* True in the berthd that runs inside the rootless user namespace. */
bool rootless_is_child(void);

/* Before daemon_config_finish, for an unprivileged user or the rootless child: the socket
 * $XDG_RUNTIME_DIR/berth.sock, exec root $XDG_RUNTIME_DIR/berth, data root
 * $XDG_DATA_HOME/berth (~/.local/share/berth), and no bridge, no
 * firewall, no ip_forward (berthd stays in the user's network namespace, where it may not
 * change anything). Values the user gave win. */
int rootless_defaults(struct daemon_config *cfg, struct berr *err);

/* The unprivileged parent: make the user namespace (newuidmap/newgidmap with the user's
 * ranges in /etc/subuid and /etc/subgid), run berthd again in it with @argv, forward
 * SIGTERM/SIGINT/SIGHUP to it and return its exit status. Fails before forking when the
 * user has no ranges or newuidmap is missing. */
int rootless_run(char **argv, struct berr *err);
