/* seccomp_profile.h - Docker's seccomp profile format (the default profile, or the text of
 * `--security-opt seccomp=<file>` that the CLI sends) -> the OCI linux.seccomp object for
 * one container, as dockerd's profiles/seccomp setupSeccomp does it. */
#pragma once

#include <jansson.h>
#include <stddef.h>

struct berr;

/* Docker's default profile text (moby/profiles seccomp/v0.2.3), from the generated
 * seccomp_default_profile.c. */
extern const char seccomp_default_profile_json[];
extern const size_t seccomp_default_profile_json_len;

/* The default profile, parsed once per process (thread-safe). *ret is borrowed, lives as
 * long as the process, and must not be modified. */
int seccomp_default_profile(const json_t **ret, struct berr *err);

/* Parse and shape-check a profile in Docker's format. Bad input fails with BERR_INVALID
 * "Decoding seccomp profile failed: ...". */
int seccomp_profile_parse(const char *text, size_t len, json_t **ret, struct berr *err);

/* Keep the rules of @docker_profile whose includes/excludes match the container's
 * capabilities (@caps, its bounding set, "CAP_..." names), @arch (uname's "x86_64", or Go's
 * "amd64"; NULL: this machine) and @kernel_release ("6.1.0-..."; NULL: this kernel), flatten
 * archMap into "architectures", and return the OCI object {defaultAction, defaultErrnoRet?,
 * architectures, flags?, listenerPath?, syscalls: [{names, action, errnoRet?, args?}]}.
 * *ret_oci_seccomp is NULL (no filter) for a profile with neither defaultAction nor
 * syscalls, as in Docker. */
int seccomp_profile_to_oci(const json_t *docker_profile, const char *const *caps, size_t n_caps, const char *arch,
                           const char *kernel_release, json_t **ret_oci_seccomp, struct berr *err);
