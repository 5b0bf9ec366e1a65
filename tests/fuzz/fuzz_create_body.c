/* fuzz_create_body.c - the body of POST /containers/create, through the checks that run
 * before anything is written (field types as Go decodes them, then dockerd's validation)
 * into the typed configuration, and back: what create accepted is encoded as inspect and
 * the record show it, and that encoding must decode and validate again (a record that
 * cannot be read back would lose the container at the next start of berthd). */
#include <jansson.h>
#include <stdio.h>

#include "daemon/container.h"
#include "fuzz.h"
#include "image/image_config.h"
#include "runtime/ctr_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_error_t jerr;
        json_t *body = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (!body)
                return 0;
        struct berr err = {};
        if (json_is_object(body)) {
                struct ctr_config *cc = NULL;
                if (ctr_validate_create(body, &cc, &err) >= 0 && cc) {
                        json_t *cfg = ctr_config_encode_config(cc);
                        json_t *hc = ctr_config_encode_host_config(cc);
                        if (!cfg || !hc)
                                abort();
                        struct ctr_config *again = NULL;
                        if (ctr_config_decode(cfg, hc, NULL, &again, &err) < 0)
                                abort();
                        json_t *cfg2 = ctr_config_encode_config(again);
                        json_t *hc2 = ctr_config_encode_host_config(again);
                        if (!json_equal(cfg, cfg2) || !json_equal(hc, hc2)) {
                                char *a = json_dumps(hc, JSON_COMPACT), *b = json_dumps(hc2, JSON_COMPACT);
                                fprintf(stderr, "the record does not read back as written:\n%s\n%s\n", a, b);
                                abort();
                        }
                        json_decref(cfg2);
                        json_decref(hc2);
                        json_decref(cfg);
                        json_decref(hc);
                        ctr_config_free(again);
                        ctr_config_free(cc);
                }
                json_t *copy = json_deep_copy(body);
                (void) image_config_check(copy, &err);
                json_decref(copy);
        }
        json_decref(body);
        return 0;
}
