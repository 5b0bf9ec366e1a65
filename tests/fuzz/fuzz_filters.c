/* fuzz_filters.c - the `filters` query parameter of every list and prune endpoint, and the
 * timestamps of `since`/`until`. */
#include <jansson.h>

#include "api/images_filters.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const accepted[] = { "label", "name", "id", "until", "dangling", NULL };
        char *s = fuzz_strdup(data, size);
        struct berr err = {};
        json_t *f = NULL;
        if (api_filters_parse(s, accepted, &f, &err) >= 0) {
                const char **v = api_filters_values(f, "label");
                free(v);
                int b;
                (void) api_filters_bool(f, "dangling", -1, &b, &err);
                json_decref(f);
        }
        int64_t ns;
        (void) api_parse_timestamp(s, 1700000000000000000LL, &ns, &err);
        free(s);
        return 0;
}
