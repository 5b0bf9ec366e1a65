/* fuzz_dockerfile.c - a Dockerfile from the build context: parsed (directives, continuations,
 * JSON and shell forms, flags), then every word of every instruction through dockerd's
 * shell-word expansion, ONBUILD triggers through the one-line parser. */
#include "build/dockerfile.h"
#include "fuzz.h"

static const char *lookup(void *opaque, const char *name) {
        (void) opaque;
        if (name[0] == 'A')
                return "value with spaces";
        if (name[0] == 'E')
                return "";
        return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct dockerfile *df = NULL;
        struct berr err = {};
        if (dockerfile_parse((const char *) data, size, &df, &err) < 0)
                return 0;
        for (size_t i = 0; i < df->n; i++) {
                const struct df_instr *in = &df->instrs[i];
                for (size_t k = 0; k < in->n_args; k++) {
                        char *w = NULL;
                        if (df_expand_word(in->args[k], df->escape, lookup, NULL, &w, &err) >= 0)
                                free(w);
                        char **words = NULL;
                        size_t n = 0;
                        if (df_expand_words(in->args[k], df->escape, lookup, NULL, &words, &n, &err) >= 0) {
                                for (size_t j = 0; j < n; j++)
                                        free(words[j]);
                                free(words);
                        }
                }
                (void) df_flag(in, "from");
                if (in->trigger) {
                        struct dockerfile *t = NULL;
                        if (dockerfile_parse_line(in->trigger, df->escape, &t, &err) >= 0)
                                dockerfile_free(t);
                }
        }
        dockerfile_free(df);
        return 0;
}
