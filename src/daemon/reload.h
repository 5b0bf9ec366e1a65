/* reload.h - issue 14's daemon options at work: container defaults applied at create,
 * `docker info` fields, and SIGHUP's reload of what dockerd reloads. */
#pragma once

#include <jansson.h>

struct daemon;
struct daemon_config;
struct berr;

/* The options a reload changes (labels, features, proxies, debug) are read under this. */
void daemon_opts_rdlock(void);
void daemon_opts_unlock(void);

/* Hand max-download-attempts and proxies to the registry client (at start). */
int daemon_opts_start(struct daemon_config *cfg, struct berr *err);

/* SIGHUP: read flags (@argc, @argv as at start) and daemon.json again; apply what dockerd
 * reloads and emit a daemon "reload" event. On any error the old configuration stays and
 * the reason is logged; returns negative then. */
int daemon_reload(struct daemon *d, int argc, char **argv);

/* At create: the daemon's defaults into an empty field of the container's decoded
 * HostConfig (ShmSize, CgroupnsMode, CgroupParent, Ulimits, SecurityOpt
 * no-new-privileges, Dns, DnsOptions, DnsSearch), as dockerd applies them. Only ENOMEM
 * fails. */
struct ctr_config;
int daemon_opts_apply_create(struct daemon *d, struct ctr_config *cc);

/* `docker info`: the fields that come from these options, set on @info. */
void daemon_opts_info(struct daemon *d, json_t *info);

/* `docker info`'s SecurityOptions, in dockerd's order (fillSecurityOptions): seccomp with
 * its profile ("builtin", "unconfined" or the --seccomp-profile path), then userns and
 * rootless (where those are on), cgroupns (containers get a private cgroup namespace by
 * default), no-new-privileges (the daemon sets it). A new entry goes here. */
json_t *daemon_security_options(struct daemon *d);
