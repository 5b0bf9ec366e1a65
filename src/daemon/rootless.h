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

/* In the rootless child, first: registry connections' sockets come from the parent, in
 * the user's network namespace (a registry on the host's 127.0.0.1 is reachable). */
void rootless_child_init(void);

/* The rootless child's delegated cgroup v2 subtree ("/user.slice/.../berth.service", the
 * hierarchy on /sys/fs/cgroup of berthd's mount namespace): containers' cgroups go under
 * it. NULL without one (and in a rootful berthd). */
const char *rootless_cgroup_subtree(void);
/* The cgroup whose cgroup.controllers list what the containers may be limited by (the
 * subtree's leaf, a sibling of theirs), for `docker info`; "/sys/fs/cgroup" without one. */
const char *rootless_cgroup_facts_dir(void);

/* socket(2) for a TCP socket of the user's network namespace (rootless with slirp4netns:
 * made by the parent), else of our own; an fd or -errno. */
int rootless_host_socket(int family, int type, int protocol);

/* Before daemon_config_finish, for an unprivileged user or the rootless child: the socket
 * $XDG_RUNTIME_DIR/berth.sock, exec root $XDG_RUNTIME_DIR/berth, data root
 * $XDG_DATA_HOME/berth (~/.local/share/berth). In slirp4netns's namespace (rootless_run)
 * networking is as rootful; without slirp4netns: no bridge, no firewall, no ip_forward
 * (berthd stays in the user's network namespace, where it may not change anything). Values
 * the user gave win. */
int rootless_defaults(struct daemon_config *cfg, struct berr *err);

/* The unprivileged parent: make the user namespace (newuidmap/newgidmap with the user's
 * ranges in /etc/subuid and /etc/subgid), run berthd again in it with @argv, forward
 * SIGTERM/SIGINT/SIGHUP to it and return its exit status. Fails before forking when the
 * user has no ranges or newuidmap is missing. With slirp4netns in PATH the child also gets
 * a network namespace of its own, connected to the host by slirp4netns (started here
 * against the child, API socket @exec_root/slirp4netns.sock, stopped when berthd exits). */
int rootless_run(char **argv, const char *exec_root, struct berr *err);
