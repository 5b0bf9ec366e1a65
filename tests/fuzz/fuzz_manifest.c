/* fuzz_manifest.c - what a registry answers for a manifest: an image manifest (Docker
 * schema2 or OCI), an index, or something else, with the Content-Type it claims. */
#include <jansson.h>

#include "distribution/dist_int.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const types[] = {
                "application/vnd.docker.distribution.manifest.v2+json",
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json",
                "application/vnd.oci.image.index.v1+json",
                "application/json",
                "",
        };
        if (size < 1)
                return 0;
        const char *type = types[data[0] % 6];
        json_t *body = json_loadb((const char *) data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
        if (!body)
                return 0;
        struct berr err = {};
        switch (dist_manifest_kind(type, body)) {
        case DIST_KIND_MANIFEST: {
                struct dist_manifest m = {};
                if (dist_manifest_parse(body, &m, &err) >= 0)
                        dist_manifest_done(&m);
                break;
        }
        case DIST_KIND_INDEX: {
                struct dist_descriptor d = {};
                if (dist_index_select(body, "linux", "amd64", NULL, &d, &err) >= 0)
                        free(d.urls);
                break;
        }
        default:
                break;
        }
        json_decref(body);
        return 0;
}
