/* dockerfile.h - the Dockerfile parser: text in, instructions out, no I/O. It follows the
 * classic builder's two passes (buildkit's frontend/dockerfile parser and instructions
 * packages, which dockerd's classic builder uses): lines (directives, comments,
 * continuations) into nodes, then nodes into checked instructions with their flags; and
 * the shell-word rules that expand $v, ${v}, ${v:-w}, ${v:+w} and quotes in arguments. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct berr;

enum df_kind {
        DF_FROM,
        DF_RUN,
        DF_CMD,
        DF_LABEL,
        DF_MAINTAINER,
        DF_EXPOSE,
        DF_ENV,
        DF_ADD,
        DF_COPY,
        DF_ENTRYPOINT,
        DF_VOLUME,
        DF_USER,
        DF_WORKDIR,
        DF_ARG,
        DF_ONBUILD,
        DF_STOPSIGNAL,
        DF_HEALTHCHECK,
        DF_SHELL,
        _DF_KIND_MAX,
        _DF_KIND_INVALID = -1,
};

/* "FROM", "RUN", ... */
const char *df_kind_name(enum df_kind k);
/* Case-insensitive; _DF_KIND_INVALID for an unknown word. */
enum df_kind df_kind_from_name(const char *name);

struct df_kv {
        char *key;
        char *value;    /* NULL: ARG without a default */
};

struct df_instr {
        enum df_kind kind;
        int line;          /* first line, 1-based */
        char *source;      /* the text as the "Step N/M : ..." line shows it */
        char **flag_names; /* "from", "chown", ... as written (without "--") */
        char **flag_values;
        size_t n_flags;
        bool json;         /* exec (JSON) form */
        char **args;       /* RUN/CMD/ENTRYPOINT/SHELL: the JSON strings, or one shell string;
                            * others: the words (quotes kept: expand them with df_expand_word) */
        size_t n_args;
        struct df_kv *kv;  /* ENV, LABEL, ARG */
        size_t n_kv;
        char *trigger;     /* ONBUILD: the trigger's text ("RUN echo hi") */
        /* HEALTHCHECK: args hold the test (["NONE"] or ["CMD"|"CMD-SHELL", ...]) */
};

struct dockerfile {
        struct df_instr *instrs;
        size_t n;
        char escape;      /* '\\' or '`' */
        char **warnings;  /* dockerd's "[WARNING]: ..." texts, without the newline */
        size_t n_warnings;
};

/* Parse @text (@len bytes). Errors are BERR_INVALID with dockerd's wording, e.g.
 * "dockerfile parse error on line 3: unknown instruction: FOO". */
int dockerfile_parse(const char *text, size_t len, struct dockerfile **ret, struct berr *err);
struct dockerfile *dockerfile_free(struct dockerfile *df);

/* Parse one line (an ONBUILD trigger, a --change); the result is n == 1. */
int dockerfile_parse_line(const char *line, char escape, struct dockerfile **ret, struct berr *err);

/* The value of flag --@name (the last one given), or NULL. A flag given without "="
 * reads as "true". */
const char *df_flag(const struct df_instr *in, const char *name);

void df_instr_clear(struct df_instr *in);

/* ---- shell words (shell_word.c) ---- */

/* Look a variable up: its value, or NULL when unset. */
typedef const char *(*df_lookup_fn)(void *opaque, const char *name);

/* Expand one word as dockerd's ProcessWord: quotes removed, escapes applied, $v, ${v},
 * ${v:-w}, ${v-w}, ${v:+w}, ${v+w}, ${v:?w} substituted. *ret is malloc'ed. */
int df_expand_word(const char *word, char escape, df_lookup_fn lookup, void *opaque, char **ret, struct berr *err);

/* As df_expand_word, then split on unquoted whitespace (ProcessWords, for EXPOSE). */
int df_expand_words(const char *word, char escape, df_lookup_fn lookup, void *opaque, char ***ret, size_t *ret_n,
                    struct berr *err);
