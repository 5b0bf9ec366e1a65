/* spec.h - Docker container configuration -> OCI runtime spec (config.json), as dockerd
 * generates it (compare tests/fixtures/oci-runtime-spec/). Pure translation: no
 * process is started here. Runs in berthd at container start. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/ctr_config.h"

struct berr;

/* One range of an id map: container ids [container_id, container_id + size) are host ids
 * [host_id, host_id + size). */
struct spec_idmap {
        uint32_t container_id, host_id, size;
};

struct spec_input {
        const char *id;          /* 64-hex container ID */
        const struct ctr_config *cc; /* Docker Config (merged with the image's at create) and HostConfig;
                                  * values are checked here too */
        const char *const *link_env; /* --link's variables (n_link_env), before Config.Env's, which win */
        size_t n_link_env;
        const char *rootfs_path; /* absolute path of the mounted root filesystem */
        int rootfs_fd;           /* fd of the same dir, to read /etc/passwd and /etc/group safely;
                                  * -1: no files, so only numeric --user values resolve */
        const char *hostname_path, *hosts_path, *resolv_conf_path; /* files bind-mounted over /etc/...;
                                  * NULL: that bind is left out */
        const char *shm_path;    /* NULL: a private tmpfs on /dev/shm sized by HostConfig.ShmSize
                                  * (IpcMode "host" then binds the host's /dev/shm); else a bind of it */
        const char *netns_path;  /* NULL: a new network namespace (loopback only); also the path
                                  * to join for NetworkMode "container:<x>" (required then) */
        const char *cgroup_parent; /* default "/berth" -> cgroupsPath "/berth/<id>";
                                  * HostConfig.CgroupParent overrides it as in dockerd */
        const char *cgroup_base;   /* rootless: the delegated cgroup both go under
                                  * ("/user.slice/.../berth.service"); NULL: the root */
        json_t *mounts;          /* prepared bind/volume/tmpfs mounts: array of OCI mount objects, or NULL */

        /* Added by spec.c's author (all optional, NULL when unused): */
        const char *pid_ns_path; /* PidMode "container:<x>": /proc/<pid>/ns/pid of that container */
        const char *ipc_ns_path; /* IpcMode "container:<x>": /proc/<pid>/ns/ipc of that container */
        const char *init_path;   /* HostConfig.Init with a private pid namespace: this binary is
                                  * bind-mounted read-only at /sbin/docker-init and process.args
                                  * become ["/sbin/docker-init", "--", ...] as dockerd does. NULL:
                                  * only the annotation SPEC_ANNOTATION_INIT records the request. */
        /* --userns-remap: the daemon's id maps (n_uid_maps 0: no remapping). With them, a
         * container whose UsernsMode is not "host" gets a user namespace with these maps,
         * or joins that of the container whose network, IPC or PID namespace it shares
         * (dockerd: sharing those needs the same user namespace). */
        const struct spec_idmap *uid_maps, *gid_maps;
        size_t n_uid_maps, n_gid_maps;
        const char *default_seccomp; /* the daemon's --seccomp-profile for containers that name
                                  * none: NULL or "builtin" (Docker's default), "unconfined",
                                  * or a profile's JSON text */
        bool in_userns;          /* berthd itself runs in a user namespace (rootless) */
};

/* Set to "true" in spec.annotations when HostConfig.Init asks for an init process. */
#define SPEC_ANNOTATION_INIT "io.berth.init"

/* dockerd's refusals for a container that would get a user namespace (@remapped: the
 * daemon runs with --userns-remap): --privileged, --network host and --pid host need
 * --userns=host. UsernsMode must be "" or "host". Checked at create and at start. */
int spec_check_userns(const struct ctr_host_config *hc, bool remapped, struct berr *err);
/* HostConfig.SecurityOpt checked at create as dockerd's parseSecurityOpt does ("invalid
 * --security-opt 2: ..."), with a seccomp=<profile JSON> decoded and its rules checked. */
int spec_check_security_opts(const struct ctr_host_config *host_config, struct berr *err);
/* A profile in Docker's format: its shape, and each rule's action, operators, indexes,
 * architectures and flags; the message names the bad rule ("syscalls[3] (chmod): unknown
 * action ..."). */
int spec_check_seccomp_profile(const char *text, size_t len, struct berr *err);

/* Build the OCI spec. Bad HostConfig values (unknown capability, bad ulimit, --device
 * path missing, user not in the image's /etc/passwd, ...) fail with BERR_INVALID and a
 * message like Docker's. */
int spec_generate(const struct spec_input *in, json_t **ret_spec, struct berr *err);

/* The resource limits of a HostConfig (memory, CPU, block I/O, pids) checked as
 * spec_generate checks them, so that create refuses what start would (dockerd checks
 * them at create too). */
int spec_check_resources(const struct ctr_host_config *host_config, struct berr *err);
/* docker update: the request's resources (@req, a HostConfig holding only them) checked as
 * dockerd's verifyPlatformContainerResources does for an update (a swap may come without a
 * memory limit: the container's may be set already). */
int spec_check_update_resources(const struct ctr_host_config *req, struct berr *err);
/* docker update of a running container: the linux.resources to write to its cgroup, only
 * what @req changes, with the values of @now (the configuration after the update). NULL on
 * ENOMEM. */
json_t *spec_update_resources(const struct ctr_host_config *req, const struct ctr_host_config *now);

/* Docker's mount.MergeTmpfsOptions over "noexec,nosuid,nodev,rprivate" + @data: later
 * options win, duplicates go, unknown options fail ("invalid tmpfs option ..."). For
 * --tmpfs here, and --mount type=tmpfs in the daemon's prepared mounts. */
int spec_tmpfs_options(const char *data, json_t **ret_options, struct berr *err);

/* Resolve a Docker user ("", "name", "uid", "name:group", "uid:gid", ...) plus the
 * --group-add entries against the image's /etc/passwd and /etc/group, read through
 * openat2(RESOLVE_IN_ROOT) on @rootfs_fd (-1: no files), as runc's libcontainer/user does
 * for dockerd. *ret_user is an OCI process.user object {uid, gid, additionalGids}; docker
 * exec --user needs the same. Unknown names fail with BERR_INVALID, e.g.
 * "unable to find user xyz: no matching entries in passwd file". */
int spec_user_resolve(int rootfs_fd, const char *user, const char *const *group_add, size_t n_group_add,
                      json_t **ret_user, struct berr *err);

/* Docker's default masked and read-only paths (NULL-terminated), which dockerd also
 * stores in HostConfig.MaskedPaths / ReadonlyPaths at create for non-privileged containers. */
extern const char *const spec_default_masked_paths[];
extern const char *const spec_default_readonly_paths[];
