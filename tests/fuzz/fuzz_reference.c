/* fuzz_reference.c - image references as `docker pull`, `tag` and create bodies give them. */
#include "fuzz.h"
#include "image/reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_strdup(data, size);
        struct reference ref = {};
        struct berr err = {};
        if (reference_parse_normalized(s, &ref, &err) >= 0) {
                char buf[REFERENCE_STRING_MAX];
                reference_string(&ref, buf);
                reference_familiar_string(&ref, buf);
        }
        (void) reference_tag_is_valid(s);
        (void) reference_is_full_id(s);
        (void) reference_digest_validate(s, &err);
        free(s);
        return 0;
}
