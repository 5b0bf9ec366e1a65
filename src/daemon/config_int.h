/* config_int.h - config.c's hooks into config_opts.c, which holds the options of issue
 * 14's block (container defaults, daemon settings, what SIGHUP reloads). */
#pragma once

#include <jansson.h>
#include <sys/socket.h>

#include "config.h"

void opts14_init(struct daemon_opts14 *o);
void opts14_done(struct daemon_opts14 *o);
/* A flag's or a key's value (flags given without a value for booleans). */
int apply14(struct daemon_opts14 *o, enum config_opt id, const char *value, struct berr *err);
int apply_bool14(struct daemon_opts14 *o, enum config_opt id, bool v);
/* A daemon.json key of the block: 1 when handled, 0 when not one of ours, negative on error. */
int merge14(struct daemon_config *cfg, enum config_opt id, const char *key, json_t *v, struct berr *err);
/* Checks once flags and file are merged (selinux-enabled, exec-opts). */
int finish14(struct daemon_opts14 *o, struct berr *err);
/* --metrics-addr: "127.0.0.1:9323", "[::1]:9323", "localhost:9323"; anything off loopback
 * is refused. */
int config_parse_loopback_addr(const char *v, struct sockaddr_storage *ss, socklen_t *len, struct berr *err);
/* "64m" -> 67108864 (go-units' RAMInBytes); -1 when it is not a size. */
long long config_parse_bytes(const char *s);

/* Issue 16's block (config_opts.c): TLS files and --seccomp-profile. */
void sec_opts_init(struct daemon_sec_opts *o);
void sec_opts_done(struct daemon_sec_opts *o);
int apply_sec(struct daemon_sec_opts *o, enum config_opt id, const char *value, struct berr *err);
/* dockerd's defaults for the certificate files when TLS is on, and the seccomp profile read. */
int finish_sec(struct daemon_sec_opts *o, struct berr *err);
