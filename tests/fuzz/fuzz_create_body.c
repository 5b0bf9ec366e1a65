/* fuzz_create_body.c - the body of POST /containers/create, through the checks that run
 * before anything is written: field types as Go decodes them, then dockerd's validation. */
#include <jansson.h>

#include "daemon/container.h"
#include "fuzz.h"
#include "image/image_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_error_t jerr;
        json_t *body = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (!body)
                return 0;
        struct berr err = {};
        if (json_is_object(body)) {
                (void) ctr_validate_create(body, &err);
                json_t *copy = json_deep_copy(body);
                (void) image_config_check(copy, &err);
                json_decref(copy);
        }
        json_decref(body);
        return 0;
}
