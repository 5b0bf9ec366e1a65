/* spec_int.h - what the parts of spec_generate (spec.c, spec_mounts.c, spec_devices.c,
 * spec_resources.c, spec_user.c) share. Not a public header: use spec.h. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/spec.h"

struct berr;

/* The HostConfig modes several parts need, decoded and validated once by spec.c. */
struct spec_modes {
        bool privileged;
        bool readonly_rootfs;
        bool network_host;
        bool network_private;  /* not host, not container:<x> (dockerd's IsPrivate) */
        bool ipc_host, ipc_none;
        bool pid_private;
        int64_t shm_size_bytes;
};

/* spec.mounts: Docker's defaults, the daemon's prepared mounts, /etc/{resolv.conf,hostname,hosts},
 * /dev/shm and --tmpfs, ordered and filtered as dockerd's WithMounts does. @init_mount (or
 * NULL) is added among the defaults, as dockerd adds /sbin/docker-init before that step. */
int spec_mounts_build(const struct spec_input *in, const struct spec_modes *m, json_t *init_mount,
                      json_t **ret_mounts, struct berr *err);

/* linux.devices (NULL when none) and linux.resources.devices from --privileged, --device
 * and --device-cgroup-rule. */
int spec_devices_build(const struct ctr_host_config *hc, bool privileged, json_t **ret_devices, json_t **ret_rules,
                       struct berr *err);

/* Validate HostConfig's resource fields with Docker's messages and build linux.resources
 * around @device_rules (a reference is taken). */
int spec_resources_build(const struct ctr_host_config *hc, json_t *device_rules, json_t **ret_resources, struct berr *err);

/* A Docker "strslice": an array of strings or one string (older clients); absent -> empty.
 * Elements are borrowed from @obj. */
int spec_get_strslice(json_t *obj, const char *key, const char ***ret, size_t *ret_n, struct berr *err);

/* strerror() spelled as Go prints it ("no such file or directory"), for Docker's messages. */
const char *spec_go_strerror(int errnum, char buf[static 128]);
