/* spec.h - Docker container configuration -> OCI runtime spec (config.json), as dockerd
 * generates it (compare ../shared/fixtures/oci-runtime-spec/). Pure translation: no
 * process is started here. Runs in berthd at container start. */
#pragma once

#include <jansson.h>

struct berr;

struct spec_input {
        const char *id;          /* 64-hex container ID */
        json_t *config;          /* Docker Config, already merged with the image's config at create
                                  * (Cmd, Entrypoint, Env, WorkingDir, User, Tty, OpenStdin, Hostname,
                                  * Domainname, StopSignal, Labels, ExposedPorts, Volumes) */
        json_t *host_config;     /* Docker HostConfig as the client sent it (validated here) */
        const char *rootfs_path; /* absolute path of the mounted root filesystem */
        int rootfs_fd;           /* fd of the same dir, to read /etc/passwd and /etc/group safely */
        const char *hostname_path, *hosts_path, *resolv_conf_path; /* files bind-mounted over /etc/... */
        const char *shm_path;    /* NULL: a private tmpfs on /dev/shm sized by HostConfig.ShmSize */
        const char *netns_path;  /* NULL: a new network namespace (loopback only) */
        const char *cgroup_parent; /* default "/berth" -> cgroupsPath "/berth/<id>" */
        json_t *mounts;          /* prepared bind/volume/tmpfs mounts: array of OCI mount objects, or NULL */
};

/* Build the OCI spec. Bad HostConfig values (unknown capability, bad ulimit, --device
 * path missing, user not in the image's /etc/passwd, ...) fail with BERR_INVALID and a
 * message like Docker's. */
int spec_generate(const struct spec_input *in, json_t **ret_spec, struct berr *err);
