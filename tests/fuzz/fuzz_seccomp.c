/* fuzz_seccomp.c - a Docker seccomp profile given with --security-opt seccomp=<file>: parsed,
 * filtered for the container's capabilities and the host, and compiled to BPF. */
#include <jansson.h>
#include <stdio.h>

#include "fuzz.h"
#include "runtime/runtime_int.h"
#include "runtime/seccomp_profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const caps[] = { "CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN" };
        struct berr err = {};
        json_t *profile = NULL;
        if (seccomp_profile_parse((const char *) data, size, &profile, &err) < 0)
                return 0;
        json_t *oci = NULL;
        if (seccomp_profile_to_oci(profile, caps, 3, "amd64", "6.1.0", &oci, &err) >= 0) {
                const struct rt_seccomp *prog;
                bool cached;
                if (rt_seccomp_compile(oci, &prog, &cached, &err) < 0 && getenv("FUZZ_DEBUG"))
                        fprintf(stderr, "compile: %s\n", err.msg);
                rt_seccomp_cache_clear();
                json_decref(oci);
        }
        json_decref(profile);
        return 0;
}
