/* gen-man.c - writes berthd(8) from docs/berthd.8.in and berthd's own option tables
 * (daemon/config.c, distribution/dist_config.c), so the man page lists every flag and
 * daemon.json key and cannot drift from them. Usage: gen-man TEMPLATE > berthd.8 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "daemon/config.h"
#include "distribution/distribution.h"

/* roff: a leading '.' or '\'' and every backslash and '-' need escaping */
static void roff(FILE *out, const char *s) {
        for (; *s; s++) {
                if (*s == '\\')
                        fputs("\\e", out);
                else if (*s == '-')
                        fputs("\\-", out);
                else
                        fputc(*s, out);
        }
}

static void options(FILE *out) {
        const char *name, *key, *help;
        char short_name;
        bool takes_value;
        for (size_t i = 0; daemon_config_option(i, &name, &short_name, &takes_value, &key, &help); i++) {
                fputs(".TP\n", out);
                if (name) {
                        if (short_name)
                                fprintf(out, "\\fB\\-%c\\fR, ", short_name);
                        fputs("\\fB\\-\\-", out);
                        roff(out, name);
                        fputs(takes_value ? "\\fR \\fIvalue\\fR" : "\\fR", out);
                } else
                        fputs("(daemon.json only)", out);
                if (key) {
                        fputs("  [daemon.json: \\fB", out);
                        roff(out, key);
                        fputs("\\fR]", out);
                }
                fputs("\n", out);
                roff(out, help);
                fputs("\n", out);
        }
        for (size_t i = 0; dist_config_option(i, &name, &key, &help); i++) {
                fputs(".TP\n\\fB\\-\\-", out);
                roff(out, name);
                fputs("\\fR \\fIvalue\\fR  [daemon.json: \\fB", out);
                roff(out, key);
                fputs("\\fR]\n", out);
                roff(out, help);
                fputs("\n", out);
        }
}

static void unsupported(FILE *out) {
        const char *k;
        bool first = true;
        for (size_t i = 0; (k = daemon_config_unsupported(i)); i++) {
                if (!*k)
                        continue; /* implemented since */
                fputs(first ? "\\fB" : ",\n\\fB", out);
                first = false;
                roff(out, k);
                fputs("\\fR", out);
        }
        fputs("\n", out);
}

int main(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "usage: gen-man TEMPLATE\n");
                return 2;
        }
        FILE *in = fopen(argv[1], "r");
        if (!in) {
                perror(argv[1]);
                return 1;
        }
        char line[4096];
        while (fgets(line, sizeof(line), in)) {
                if (strcmp(line, "@OPTIONS@\n") == 0)
                        options(stdout);
                else if (strcmp(line, "@UNSUPPORTED@\n") == 0)
                        unsupported(stdout);
                else if (strcmp(line, "@VERSION@\n") == 0)
                        printf(".\\\" berth %s\n", BERTH_VERSION);
                else
                        fputs(line, stdout);
        }
        fclose(in);
        return ferror(stdout) ? 1 : 0;
}
