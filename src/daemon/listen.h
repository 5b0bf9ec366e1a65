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
        bool is_loopback;   /* tcp: 127.0.0.0/8 or ::1 */
        int fd;             /* fd://N: N, or -1 for every fd systemd passed */
        const char *group;  /* unix: --group (name or number); NULL: "docker" if it exists */
};

/* Parse "unix:///p", "/p", "tcp://127.0.0.1:2375", "tcp://:2376", "fd://", "fd://3". */
int host_spec_parse(const char *spec, const char *default_unix_path, struct host_spec *ret, struct berr *err);

/* A TCP listener without TLS: fine on loopback; off it refused unless @tls_off_explicitly
 * (--tls=false, dockerd's opt-out), as dockerd now wants. */
int host_check_plain_tcp(const char *spec_text, const struct host_spec *spec, bool tls_off_explicitly,
                         struct berr *err);

/* The TLS material of --tlscert/--tlskey (and --tlscacert with --tlsverify), read and
 * checked: certificate and key parse and belong together, the CA file holds
 * certificates. PEM text, for the API server. */
struct host_tls {
        char *cert_pem, *key_pem, *ca_pem; /* ca_pem NULL: no client verification */
};
int host_tls_load(const char *ca_file, const char *cert_file, const char *key_file, bool verify_clients,
                  struct host_tls *ret, struct berr *err);
void host_tls_done(struct host_tls *t);

/* Open a listening socket for @spec. A unix socket that another process still answers on
 * is an error; a stale one is replaced. Unix sockets get mode 0660 and group "docker"
 * when that group exists. Returns the number of fds stored in @fds (fd:// may give
 * several), at most @max. */
int host_listen(const struct host_spec *spec, int *fds, size_t max, struct berr *err);
