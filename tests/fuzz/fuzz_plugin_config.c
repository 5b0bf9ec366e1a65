/* fuzz_plugin_config.c - a managed plugin's config.json (from a plugin archive or a
 * registry's config blob) checked and filled in, the Plugin object made from it, its
 * privileges, and `docker plugin set` arguments: the config is the input up to the first
 * newline, each later line one "name[.field]=value" argument. */
#include <jansson.h>

#include "fuzz.h"
#include "plugin/plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_strdup(data, size);
        char *nl = strchr(s, '\n');
        if (nl)
                *nl = '\0';
        struct berr err = {};
        json_t *raw = json_loads(s, JSON_DECODE_ANY, NULL), *cfg = NULL;
        if (raw && plugin_config_normalize(raw, &cfg, &err) == 0) {
                const char *kinds[PLUGIN_MAX_IMPLEMENTS];
                (void) plugin_config_kinds(cfg, kinds, PLUGIN_MAX_IMPLEMENTS);
                json_t *priv = plugin_config_privileges(cfg);
                (void) plugin_privileges_check(priv, priv, &err);
                json_decref(priv);
                json_t *obj = plugin_object_new("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                                                "fuzz:latest", cfg);
                json_t *args = json_array();
                for (char *line = nl ? nl + 1 : NULL; line && *line;) {
                        char *end = strchr(line, '\n');
                        if (end)
                                *end = '\0';
                        json_array_append_new(args, json_string(line)); /* NULL for bad UTF-8: skipped */
                        line = end ? end + 1 : NULL;
                }
                if (obj)
                        (void) plugin_object_set(obj, args, &err);
                json_decref(args);
                json_decref(obj);
        }
        json_decref(cfg);
        json_decref(raw);
        free(s);
        return 0;
}
