/* listen.h - the daemon's API sockets: -H specs parsed and opened as dockerd does. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct berr;

enum host_proto {
        HOST_UNIX,
        HOST_TCP,
        HOST_FD,
        _HOST_PROTO_MAX,
        _HOST_PROTO_INVALID = -1,
};

struct host_spec {
        enum host_proto proto;
        char path[108];     /* unix: socket path (sun_path's size) */
        char addr[64];      /* tcp: numeric address */
        unsigned port;      /* tcp */
        int fd;             /* fd://N: N, or -1 for every fd systemd passed */
        const char *group;  /* unix: --group (name or number); NULL: "docker" if it exists */
};

/* Parse "unix:///p", "/p", "tcp://127.0.0.1:2375", "fd://", "fd://3". A TCP address off
 * loopback is refused: there is no TLS yet. */
int host_spec_parse(const char *spec, const char *default_unix_path, struct host_spec *ret, struct berr *err);

/* Open a listening socket for @spec. A unix socket that another process still answers on
 * is an error; a stale one is replaced. Unix sockets get mode 0660 and group "docker"
 * when that group exists. Returns the number of fds stored in @fds (fd:// may give
 * several), at most @max. */
int host_listen(const struct host_spec *spec, int *fds, size_t max, struct berr *err);
