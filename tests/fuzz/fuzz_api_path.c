/* fuzz_api_path.c - the request path as the router sees it: the version prefix, then the
 * route table with its {id} and {name*} patterns and percent-decoded parameters. */
#include "api/api.h"
#include "api/http.h"
#include "fuzz.h"

extern const size_t api_n_routes;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const methods[] = { "GET", "POST", "DELETE", "HEAD", "PUT" };
        if (size < 1)
                return 0;
        const char *method = methods[data[0] % 5];
        char *s = fuzz_strdup(data + 1, size - 1);
        struct berr err = {};
        unsigned version;
        const char *path;
        if (api_version_strip(s, &version, &path, &err) >= 0) {
                const struct api_route *route = NULL;
                char *params[API_MAX_PARAMS] = {};
                (void) api_route_match(api_routes, api_n_routes, method, path, &route, params);
                for (size_t i = 0; i < API_MAX_PARAMS; i++)
                        free(params[i]);
        }
        (void) api_version_parse(s, &version);
        free(s);
        return 0;
}
