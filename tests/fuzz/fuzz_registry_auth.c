/* fuzz_registry_auth.c - a registry's WWW-Authenticate challenge, and the X-Registry-Auth
 * header a client sends (base64url JSON). */
#include "distribution/dist_int.h"
#include "distribution/distribution.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_strdup(data, size);
        struct dist_challenge ch = {};
        if (dist_challenge_parse(s, &ch) >= 0)
                dist_challenge_done(&ch);
        struct dist_auth a = {};
        struct berr err = {};
        if (dist_auth_decode(s, &a, &err) >= 0)
                dist_auth_done(&a);
        free(s);
        return 0;
}
