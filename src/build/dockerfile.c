/* dockerfile.c - Dockerfile text into instructions, as the classic builder parses it:
 * parser directives (escape; syntax and others accepted and ignored), comments, line
 * continuations (empty continuation lines skipped with dockerd's warning), the command
 * word and its --flags, then each instruction's own argument rules and error messages.
 * Nothing here reads a file or expands a variable (that happens when a step runs). */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "build/dockerfile.h"
#include "common/cleanup.h"
#include "common/duration.h"
#include "common/err.h"

#define DOCKERFILE_MAX_LINE (1u << 20)

static const char *const kind_names[_DF_KIND_MAX] = {
        [DF_FROM] = "FROM",           [DF_RUN] = "RUN",         [DF_CMD] = "CMD",
        [DF_LABEL] = "LABEL",         [DF_MAINTAINER] = "MAINTAINER", [DF_EXPOSE] = "EXPOSE",
        [DF_ENV] = "ENV",             [DF_ADD] = "ADD",         [DF_COPY] = "COPY",
        [DF_ENTRYPOINT] = "ENTRYPOINT", [DF_VOLUME] = "VOLUME", [DF_USER] = "USER",
        [DF_WORKDIR] = "WORKDIR",     [DF_ARG] = "ARG",         [DF_ONBUILD] = "ONBUILD",
        [DF_STOPSIGNAL] = "STOPSIGNAL", [DF_HEALTHCHECK] = "HEALTHCHECK", [DF_SHELL] = "SHELL",
};

/* The flags each instruction takes (buildkit's instructions package); 's' string, 'b' bool. */
struct flag_spec {
        const char *name;
        char type;
};
static const struct flag_spec from_flags[] = { { "platform", 's' }, { 0 } };
static const struct flag_spec add_flags[] = { { "chown", 's' }, { "chmod", 's' }, { "link", 'b' },
                                              { "keep-git-dir", 'b' }, { "checksum", 's' }, { 0 } };
static const struct flag_spec copy_flags[] = { { "from", 's' }, { "chown", 's' }, { "chmod", 's' }, { "link", 'b' },
                                               { "parents", 'b' }, { "exclude", 's' }, { 0 } };
static const struct flag_spec health_flags[] = { { "interval", 's' }, { "timeout", 's' }, { "start-period", 's' },
                                                 { "start-interval", 's' }, { "retries", 's' }, { 0 } };
static const struct flag_spec no_flags[] = { { 0 } };

static const struct flag_spec *flags_of(enum df_kind k) {
        switch (k) {
        case DF_FROM: return from_flags;
        case DF_ADD: return add_flags;
        case DF_COPY: return copy_flags;
        case DF_HEALTHCHECK: return health_flags;
        default: return no_flags;
        }
}

const char *df_kind_name(enum df_kind k) {
        return k >= 0 && k < _DF_KIND_MAX ? kind_names[k] : "?";
}

enum df_kind df_kind_from_name(const char *name) {
        for (int i = 0; i < _DF_KIND_MAX; i++)
                if (strcasecmp(kind_names[i], name) == 0)
                        return (enum df_kind) i;
        return _DF_KIND_INVALID;
}

/* ---- small string helpers ---- */

static bool is_ws(char c) {
        return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == '\n';
}

static char *strndup_or_null(const char *s, size_t n) {
        return strndup(s, n);
}

static char *trim_dup(const char *s) {
        while (is_ws(*s))
                s++;
        size_t n = strlen(s);
        while (n > 0 && is_ws(s[n - 1]))
                n--;
        return strndup_or_null(s, n);
}

/* Arrays and strings that grow one piece at a time get room in powers of two, a capacity
 * their length alone determines (so no field records it): growing them by exactly one
 * piece per realloc() copied them whole each time, quadratic in a Dockerfile's
 * instructions, words or continuation lines (under ASan every realloc moves). @p holds
 * @used elements of @size bytes (allocated by grow(), or NULL); returns @p or a block with
 * room for @want elements, NULL (and @p untouched) if out of memory. A @used below what
 * was allocated (a length recounted with strlen()) only means an earlier realloc. */
static size_t grow_room(size_t n) {
        size_t c = 8;
        while (c < n && c <= SIZE_MAX / 2)
                c *= 2;
        return c;
}

static void *grow(void *p, size_t used, size_t want, size_t size) {
        if (p && want <= grow_room(used))
                return p;
        size_t c = grow_room(want);
        if (c < want || c > SIZE_MAX / size)
                return NULL;
        return realloc(p, c * size);
}

static int strv_push(char ***v, size_t *n, char *s) {
        if (!s)
                return -ENOMEM;
        char **nv = grow(*v, *v ? *n + 1 : 0, *n + 2, sizeof(char *));
        if (!nv) {
                free(s);
                return -ENOMEM;
        }
        nv[(*n)++] = s;
        nv[*n] = NULL;
        *v = nv;
        return 0;
}

static void strv_free_n(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

void df_instr_clear(struct df_instr *in) {
        free(in->source);
        strv_free_n(in->flag_names, in->n_flags);
        strv_free_n(in->flag_values, in->n_flags);
        strv_free_n(in->args, in->n_args);
        for (size_t i = 0; i < in->n_kv; i++) {
                free(in->kv[i].key);
                free(in->kv[i].value);
        }
        free(in->kv);
        free(in->trigger);
        memset(in, 0, sizeof(*in));
}

struct dockerfile *dockerfile_free(struct dockerfile *df) {
        if (!df)
                return NULL;
        for (size_t i = 0; i < df->n; i++)
                df_instr_clear(&df->instrs[i]);
        free(df->instrs);
        strv_free_n(df->warnings, df->n_warnings);
        free(df);
        return NULL;
}

const char *df_flag(const struct df_instr *in, const char *name) {
        const char *v = NULL;
        for (size_t i = 0; i < in->n_flags; i++)
                if (STREQ(in->flag_names[i], name))
                        v = in->flag_values[i];
        return v;
}

#define OOM(err) berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory")

/* ---- the argument forms ---- */

static int flag_push(struct df_instr *in, char *name, char *value) {
        char **nn = grow(in->flag_names, in->n_flags, in->n_flags + 1, sizeof(char *));
        if (nn)
                in->flag_names = nn;
        char **nv = nn ? grow(in->flag_values, in->n_flags, in->n_flags + 1, sizeof(char *)) : NULL;
        if (nv)
                in->flag_values = nv;
        if (!nn || !nv || !name || !value) {
                free(name);
                free(value);
                return -ENOMEM;
        }
        in->flag_names[in->n_flags] = name;
        in->flag_values[in->n_flags++] = value;
        return 0;
}

/* --flags at the start of @args (buildkit's extractBuilderFlags): words starting with
 * "--", double quotes grouping, until the first other word or a lone "--". */
static int extract_flags(const char *args, struct df_instr *in, const char **ret_rest, struct berr *err) {
        const char *p = args;
        for (;;) {
                while (is_ws(*p))
                        p++;
                if (strncmp(p, "--", 2) != 0)
                        break;
                _cleanup_free_ char *word = malloc(strlen(p) + 1);
                if (!word)
                        return OOM(err);
                size_t n = 0;
                bool quoted = false;
                for (; *p && (quoted || !is_ws(*p)); p++) {
                        if (*p == '"') {
                                quoted = !quoted;
                                continue;
                        }
                        word[n++] = *p;
                }
                word[n] = '\0';
                if (quoted)
                        return berr_set(err, BERR_INVALID, EINVAL, "unterminated quote in flag %s", word);
                if (STREQ(word, "--"))
                        break;
                const char *name = word + 2, *eq = strchr(name, '=');
                char *fname = eq ? strndup(name, (size_t) (eq - name)) : strdup(name);
                char *fval = eq ? strdup(eq + 1) : NULL;
                if (!fname || (eq && !fval)) {
                        free(fname);
                        free(fval);
                        return OOM(err);
                }
                const struct flag_spec *spec = flags_of(in->kind);
                while (spec->name && !STREQ(spec->name, fname))
                        spec++;
                int r = 0;
                if (!spec->name)
                        r = berr_set(err, BERR_INVALID, EINVAL, "unknown flag: %s", fname);
                else if (spec->type == 's' && !fval)
                        r = berr_set(err, BERR_INVALID, EINVAL, "missing a value on flag: %s", fname);
                else if (spec->type == 'b' && fval && !STREQ(fval, "") && strcasecmp(fval, "true") != 0 &&
                         strcasecmp(fval, "false") != 0)
                        r = berr_set(err, BERR_INVALID, EINVAL, "expecting boolean value for flag %s, not: %s",
                                     fname, fval);
                else if (spec->type == 's' && df_flag(in, fname))
                        r = berr_set(err, BERR_INVALID, EINVAL, "duplicate flag specified: %s", fname);
                if (r == 0 && !fval)
                        fval = strdup("true");
                if (r == 0 && flag_push(in, fname, fval) < 0)
                        return OOM(err); /* flag_push took both strings */
                if (r < 0) {
                        free(fname);
                        free(fval);
                        return r;
                }
        }
        *ret_rest = p;
        return 0;
}

/* A JSON array of strings, or false. */
static bool parse_json_array(const char *rest, struct df_instr *in, struct berr *err, int *ret_r) {
        *ret_r = 0;
        if (rest[0] != '[')
                return false;
        _cleanup_json_ json_t *a = json_loads(rest, JSON_DECODE_ANY, NULL);
        if (!json_is_array(a))
                return false;
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) if (!json_is_string(v)) return false;
        json_array_foreach(a, i, v) {
                if (strv_push(&in->args, &in->n_args, strdup(json_string_value(v))) < 0) {
                        *ret_r = OOM(err);
                        return true;
                }
        }
        in->json = true;
        return true;
}

/* parseMaybeJSON: a JSON array, or the whole (trimmed) text as one string. */
static int parse_maybe_json(const char *rest, struct df_instr *in, struct berr *err) {
        int r;
        if (parse_json_array(rest, in, err, &r))
                return r;
        if (!rest[0])
                return 0;
        return strv_push(&in->args, &in->n_args, strdup(rest)) < 0 ? OOM(err) : 0;
}

/* Whitespace-separated words, nothing else. */
static int parse_fields(const char *rest, struct df_instr *in, struct berr *err) {
        const char *p = rest;
        for (;;) {
                while (is_ws(*p))
                        p++;
                if (!*p)
                        return 0;
                const char *s = p;
                while (*p && !is_ws(*p))
                        p++;
                if (strv_push(&in->args, &in->n_args, strndup(s, (size_t) (p - s))) < 0)
                        return OOM(err);
        }
}

/* parseMaybeJSONToList: a JSON array, or whitespace-separated words. */
static int parse_maybe_json_list(const char *rest, struct df_instr *in, struct berr *err) {
        int r;
        if (parse_json_array(rest, in, err, &r))
                return r;
        return parse_fields(rest, in, err);
}

/* buildkit's parseWords: words split on unquoted whitespace, quotes and escapes kept
 * for the expansion that comes later. */
static int parse_words(const char *rest, char escape, char ***ret, size_t *ret_n, struct berr *err) {
        size_t len = strlen(rest);
        _cleanup_free_ char *word = malloc(len + 1);
        if (!word)
                return OOM(err);
        size_t n = 0;
        char quote = 0;
        bool in_word = false;
        for (size_t i = 0; i <= len; i++) {
                char c = rest[i];
                if (!in_word) {
                        if (i == len)
                                break;
                        if (is_ws(c))
                                continue;
                        in_word = true;
                }
                if (i == len || (!quote && is_ws(c))) {
                        word[n] = '\0';
                        if (strv_push(ret, ret_n, strdup(word)) < 0)
                                return OOM(err);
                        n = 0;
                        in_word = false;
                        continue;
                }
                if (c == escape && i + 1 < len) {
                        word[n++] = c;
                        word[n++] = rest[++i];
                        continue;
                }
                if (quote && c == quote)
                        quote = 0;
                else if (!quote && (c == '"' || c == '\''))
                        quote = c;
                word[n++] = c;
        }
        return 0;
}

static int kv_push(struct df_instr *in, char *key, char *value, struct berr *err) {
        struct df_kv *kv = grow(in->kv, in->n_kv, in->n_kv + 1, sizeof(*kv));
        if (kv)
                in->kv = kv;
        if (!kv || !key || (!value && in->kind != DF_ARG)) {
                free(key);
                free(value);
                return OOM(err);
        }
        in->kv = kv;
        in->kv[in->n_kv++] = (struct df_kv){ .key = key, .value = value };
        return 0;
}

/* ENV and LABEL (parseNameVal): "k=v k2=v2", or the old "k v..." form. */
static int parse_name_val(const char *rest, char escape, struct df_instr *in, struct berr *err) {
        const char *name = df_kind_name(in->kind);
        _cleanup_strv_free_ char **words = NULL;
        size_t n = 0;
        int r = parse_words(rest, escape, &words, &n, err);
        if (r < 0)
                return r;
        if (n == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "%s requires at least one argument", name);
        if (!strchr(words[0], '=')) {
                /* the old form: the first word is the key, the rest of the line the value */
                const char *p = rest;
                while (is_ws(*p))
                        p++;
                while (*p && !is_ws(*p))
                        p++;
                while (is_ws(*p))
                        p++;
                if (!*p)
                        return berr_set(err, BERR_INVALID, EINVAL, "%s must have two arguments", name);
                return kv_push(in, strdup(words[0]), strdup(p), err);
        }
        for (size_t i = 0; i < n; i++) {
                char *eq = strchr(words[i], '=');
                if (!eq)
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "Syntax error - can't find = in \"%s\". Must be of the form: name=value",
                                        words[i]);
                if (eq == words[i])
                        return berr_set(err, BERR_INVALID, EINVAL, "%s names can not be blank", name);
                r = kv_push(in, strndup(words[i], (size_t) (eq - words[i])), strdup(eq + 1), err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ARG name[=default] */
static int parse_arg(const char *rest, char escape, struct df_instr *in, struct berr *err) {
        _cleanup_strv_free_ char **words = NULL;
        size_t n = 0;
        int r = parse_words(rest, escape, &words, &n, err);
        if (r < 0)
                return r;
        if (n == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "ARG requires exactly one argument");
        for (size_t i = 0; i < n; i++) {
                char *eq = strchr(words[i], '=');
                if (eq == words[i])
                        return berr_set(err, BERR_INVALID, EINVAL, "ARG names can not be blank");
                r = kv_push(in, eq ? strndup(words[i], (size_t) (eq - words[i])) : strdup(words[i]),
                            eq ? strdup(eq + 1) : NULL, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_duration_flag(struct df_instr *in, const char *flag, const char *what, struct berr *err) {
        const char *v = df_flag(in, flag);
        if (!v || !v[0])
                return 0;
        int64_t ns;
        if (duration_parse_ns(v, &ns) < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "time: invalid duration \"%s\"", v);
        if (ns < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "%s \"%s\" cannot be negative", what, flag);
        if (ns > 0 && ns < 1000000)
                return berr_set(err, BERR_INVALID, EINVAL, "%s \"%s\" cannot be less than 1ms", what, flag);
        return 0;
}

/* HEALTHCHECK NONE | [flags] CMD command */
static int parse_healthcheck(const char *rest, struct df_instr *in, struct berr *err) {
        const char *p = rest;
        while (*p && !is_ws(*p))
                p++;
        if (p == rest)
                return berr_set(err, BERR_INVALID, EINVAL, "HEALTHCHECK requires at least one argument");
        _cleanup_free_ char *typ = strndup(rest, (size_t) (p - rest));
        if (!typ)
                return OOM(err);
        for (char *c = typ; *c; c++)
                *c = (char) toupper((unsigned char) *c);
        while (is_ws(*p))
                p++;
        if (STREQ(typ, "NONE")) {
                if (*p)
                        return berr_set(err, BERR_INVALID, EINVAL, "HEALTHCHECK NONE takes no arguments");
                return strv_push(&in->args, &in->n_args, strdup("NONE")) < 0 ? OOM(err) : 0;
        }
        if (!STREQ(typ, "CMD"))
                return berr_set(err, BERR_INVALID, EINVAL, "Unknown type \"%s\" in HEALTHCHECK (try CMD)", typ);
        struct df_instr tmp = { .kind = DF_CMD };
        int r = parse_maybe_json(p, &tmp, err);
        if (r == 0 && tmp.n_args == 0)
                r = berr_set(err, BERR_INVALID, EINVAL, "Missing command after HEALTHCHECK CMD");
        if (r == 0)
                r = strv_push(&in->args, &in->n_args, strdup(tmp.json ? "CMD" : "CMD-SHELL")) < 0 ? OOM(err) : 0;
        for (size_t i = 0; r == 0 && i < tmp.n_args; i++)
                r = strv_push(&in->args, &in->n_args, strdup(tmp.args[i])) < 0 ? OOM(err) : 0;
        in->json = tmp.json;
        df_instr_clear(&tmp);
        if (r < 0)
                return r;
        static const char *const durs[][2] = { { "interval", "Interval" }, { "timeout", "Timeout" },
                                               { "start-period", "StartPeriod" }, { "start-interval", "StartInterval" } };
        for (size_t i = 0; i < ELEMENTSOF(durs); i++)
                if ((r = check_duration_flag(in, durs[i][0], durs[i][1], err)) < 0)
                        return r;
        const char *retries = df_flag(in, "retries");
        if (retries) {
                char *end;
                errno = 0;
                long long v = strtoll(retries, &end, 10);
                if (!retries[0] || *end || errno)
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "strconv.ParseInt: parsing \"%s\": invalid syntax", retries);
                if (v < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "--retries cannot be negative (%lld)", v);
        }
        return 0;
}

static bool stage_name_ok(const char *s) {
        if (!islower((unsigned char) s[0]))
                return false;
        for (; *s; s++)
                if (!islower((unsigned char) *s) && !isdigit((unsigned char) *s) && *s != '-' && *s != '_' && *s != '.')
                        return false;
        return true;
}

static int require_args(struct df_instr *in, size_t min, bool exactly_one, struct berr *err) {
        const char *name = df_kind_name(in->kind);
        if (exactly_one && in->n_args != 1)
                return berr_set(err, BERR_INVALID, EINVAL, "%s requires exactly one argument", name);
        if (in->n_args < min)
                return berr_set(err, BERR_INVALID, EINVAL, "%s requires at least %s", name,
                                min == 1 ? "one argument" : "two arguments");
        return 0;
}

/* One command word and its text into @in (instructions.ParseInstruction). */
static int parse_instruction(const char *line, char escape, bool in_onbuild, struct df_instr *in, struct berr *err) {
        in->source = trim_dup(line);
        if (!in->source)
                return OOM(err);
        const char *p = in->source;
        const char *w = p;
        while (*p && !is_ws(*p))
                p++;
        _cleanup_free_ char *word = strndup(w, (size_t) (p - w));
        if (!word)
                return OOM(err);
        enum df_kind k = df_kind_from_name(word);
        if (k == _DF_KIND_INVALID) {
                for (char *c = word; *c; c++)
                        *c = (char) toupper((unsigned char) *c);
                return berr_set(err, BERR_INVALID, EINVAL, "unknown instruction: %s", word);
        }
        in->kind = k;
        const char *rest = p;
        int r = extract_flags(p, in, &rest, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *args = trim_dup(rest);
        if (!args)
                return OOM(err);
        switch (k) {
        case DF_FROM:
                r = parse_fields(args, in, err);
                if (r == 0 && in->n_args != 1 && !(in->n_args == 3 && strcasecmp(in->args[1], "as") == 0))
                        r = berr_set(err, BERR_INVALID, EINVAL, "FROM requires either one or three arguments");
                if (r == 0 && in->n_args == 3) {
                        for (char *c = in->args[2]; *c; c++)
                                *c = (char) tolower((unsigned char) *c);
                        if (!stage_name_ok(in->args[2]))
                                r = berr_set(err, BERR_INVALID, EINVAL,
                                             "invalid name for build stage: \"%s\", name can't start with a number or contain symbols",
                                             in->args[2]);
                }
                break;
        case DF_RUN:
                r = parse_maybe_json(args, in, err);
                if (r == 0)
                        r = require_args(in, 1, false, err);
                break;
        case DF_CMD:
        case DF_ENTRYPOINT:
                r = parse_maybe_json(args, in, err);
                break;
        case DF_SHELL:
                r = parse_maybe_json(args, in, err);
                if (r == 0 && !in->json)
                        r = berr_set(err, BERR_INVALID, EINVAL, "SHELL requires the arguments to be in JSON form");
                if (r == 0 && in->n_args == 0)
                        r = berr_set(err, BERR_INVALID, EINVAL, "SHELL requires at least one argument");
                break;
        case DF_ENV:
        case DF_LABEL:
                r = parse_name_val(args, escape, in, err);
                break;
        case DF_ARG:
                r = parse_arg(args, escape, in, err);
                break;
        case DF_MAINTAINER:
        case DF_USER:
        case DF_WORKDIR:
        case DF_STOPSIGNAL:
                /* parseString: the whole text is the one argument */
                if (args[0])
                        r = strv_push(&in->args, &in->n_args, strdup(args)) < 0 ? OOM(err) : 0;
                if (r == 0)
                        r = require_args(in, 1, true, err);
                break;
        case DF_EXPOSE:
                r = parse_fields(args, in, err);
                if (r == 0)
                        r = require_args(in, 1, false, err);
                break;
        case DF_VOLUME:
                r = parse_maybe_json_list(args, in, err);
                if (r == 0)
                        r = require_args(in, 1, false, err);
                for (size_t i = 0; r == 0 && i < in->n_args; i++) {
                        _cleanup_free_ char *t = trim_dup(in->args[i]);
                        if (!t)
                                r = OOM(err);
                        else if (!t[0])
                                r = berr_set(err, BERR_INVALID, EINVAL, "VOLUME specified can not be an empty string");
                }
                break;
        case DF_ADD:
        case DF_COPY:
                r = parse_maybe_json_list(args, in, err);
                if (r == 0 && in->n_args == 1)
                        r = berr_set(err, BERR_INVALID, EINVAL,
                                     "%s requires at least two arguments, but only one was provided. Destination could not be determined",
                                     df_kind_name(k));
                if (r == 0 && in->n_args == 0)
                        r = berr_set(err, BERR_INVALID, EINVAL, "%s requires at least two arguments", df_kind_name(k));
                break;
        case DF_HEALTHCHECK:
                r = parse_healthcheck(args, in, err);
                break;
        case DF_ONBUILD: {
                if (!args[0])
                        return berr_set(err, BERR_INVALID, EINVAL, "ONBUILD requires at least one argument");
                if (in_onbuild)
                        return berr_set(err, BERR_INVALID, EINVAL, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
                struct df_instr sub = { 0 };
                r = parse_instruction(args, escape, true, &sub, err);
                if (r == 0 && sub.kind == DF_ONBUILD)
                        r = berr_set(err, BERR_INVALID, EINVAL, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
                if (r == 0 && (sub.kind == DF_FROM || sub.kind == DF_MAINTAINER))
                        r = berr_set(err, BERR_INVALID, EINVAL, "%s isn't allowed as an ONBUILD trigger",
                                     df_kind_name(sub.kind));
                if (r == 0) {
                        in->trigger = sub.source;
                        sub.source = NULL;
                }
                df_instr_clear(&sub);
                break;
        }
        default:
                r = berr_set(err, BERR_INTERNAL, EINVAL, "unhandled instruction");
        }
        return r;
}

/* ---- lines ---- */

struct lines {
        const char *p, *end;
        int line_no;
};

/* Next physical line (without its newline and a trailing \r), or false at the end. */
static bool next_line(struct lines *l, const char **ret, size_t *ret_len) {
        if (l->p >= l->end)
                return false;
        const char *s = l->p;
        const char *nl = memchr(s, '\n', (size_t) (l->end - s));
        const char *e = nl ? nl : l->end;
        l->p = nl ? nl + 1 : l->end;
        size_t n = (size_t) (e - s);
        if (n > 0 && s[n - 1] == '\r')
                n--;
        *ret = s;
        *ret_len = n;
        l->line_no++;
        return true;
}

static bool is_comment(const char *s, size_t n) {
        size_t i = 0;
        while (i < n && is_ws(s[i]))
                i++;
        return i < n && s[i] == '#';
}

static bool is_blank(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!is_ws(s[i]))
                        return false;
        return true;
}

/* Strip a trailing "<escape>[ \t]*"; true if it was there (the line continues). */
static bool trim_continuation(char *s, char escape) {
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        if (n > 0 && s[n - 1] == escape) {
                s[n - 1] = '\0';
                return true;
        }
        return false;
}

/* "# name=value" before anything else. Returns 1 for a directive (handled), 0 otherwise. */
static int parse_directive(const char *s, size_t n, char *escape, bool *seen_escape, struct berr *err) {
        _cleanup_free_ char *line = strndup(s, n);
        if (!line)
                return OOM(err);
        char *p = line;
        if (*p != '#')
                return 0;
        p++;
        while (is_ws(*p))
                p++;
        char *name = p;
        if (!isalpha((unsigned char) *p))
                return 0;
        while (isalnum((unsigned char) *p))
                p++;
        char *name_end = p;
        while (is_ws(*p))
                p++;
        if (*p != '=')
                return 0;
        *name_end = '\0';
        p++;
        while (is_ws(*p))
                p++;
        size_t vn = strlen(p);
        while (vn > 0 && is_ws(p[vn - 1]))
                p[--vn] = '\0';
        if (vn == 0)
                return 0;
        if (strcasecmp(name, "escape") == 0) {
                if (*seen_escape)
                        return berr_set(err, BERR_INVALID, EINVAL, "only one escape parser directive can be used");
                if (!STREQ(p, "`") && !STREQ(p, "\\"))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid escape token '%s' does not match ` or \\", p);
                *escape = p[0];
                *seen_escape = true;
        }
        /* syntax, check and others: accepted and ignored, as the classic builder does */
        return 1;
}

static int add_warning(struct dockerfile *df, const char *line) {
        char *w = NULL;
        if (asprintf(&w, "[WARNING]: Empty continuation line found in:\n    %s", line) < 0)
                return -ENOMEM;
        return strv_push(&df->warnings, &df->n_warnings, w);
}

static int append(char **buf, size_t *len, const char *s, size_t n, struct berr *err) {
        if (*len + n > DOCKERFILE_MAX_LINE)
                return berr_set(err, BERR_INVALID, E2BIG, "dockerfile line too long");
        char *b = grow(*buf, *buf ? *len + 1 : 0, *len + n + 1, 1);
        if (!b)
                return OOM(err);
        memcpy(b + *len, s, n);
        *len += n;
        b[*len] = '\0';
        *buf = b;
        return 0;
}

static int push_instr(struct dockerfile *df, const char *line, int line_no, struct berr *err) {
        struct df_instr *v = grow(df->instrs, df->n, df->n + 1, sizeof(*v));
        if (!v)
                return OOM(err);
        df->instrs = v;
        struct df_instr *in = &df->instrs[df->n];
        memset(in, 0, sizeof(*in));
        in->line = line_no;
        struct berr e = { 0 };
        int r = parse_instruction(line, df->escape, false, in, &e);
        df->n++; /* cleared with the rest on failure */
        if (r < 0)
                return berr_set(err, e.kind, EINVAL, "dockerfile parse error on line %d: %s", line_no, e.msg);
        return 0;
}

static int parse_text(const char *text, size_t len, bool directives, char escape, struct dockerfile **ret,
                      struct berr *err) {
        struct dockerfile *df = calloc(1, sizeof(*df));
        if (!df)
                return OOM(err);
        df->escape = escape;
        struct lines l = { .p = text, .end = text + len };
        bool looking_for_directives = directives, seen_escape = false;
        const char *s;
        size_t n;
        int r = 0;
        while (r == 0 && next_line(&l, &s, &n)) {
                if (looking_for_directives) {
                        r = parse_directive(s, n, &df->escape, &seen_escape, err);
                        if (r < 0)
                                break;
                        if (r == 1) {
                                r = 0;
                                continue;
                        }
                        looking_for_directives = false;
                }
                if (is_comment(s, n) || is_blank(s, n))
                        continue;
                int start = l.line_no;
                while (n > 0 && is_ws(*s))
                        s++, n--;
                _cleanup_free_ char *line = NULL;
                size_t line_len = 0;
                if ((r = append(&line, &line_len, s, n, err)) < 0)
                        break;
                bool more = trim_continuation(line, df->escape);
                line_len = strlen(line);
                bool empty_cont = false;
                while (more && r == 0 && next_line(&l, &s, &n)) {
                        if (is_comment(s, n))
                                continue;
                        if (is_blank(s, n)) {
                                empty_cont = true;
                                continue;
                        }
                        _cleanup_free_ char *part = strndup(s, n);
                        if (!part) {
                                r = OOM(err);
                                break;
                        }
                        more = trim_continuation(part, df->escape);
                        r = append(&line, &line_len, part, strlen(part), err);
                }
                if (r < 0)
                        break;
                if (is_blank(line, line_len))
                        continue;
                if (empty_cont && add_warning(df, line) < 0) {
                        r = OOM(err);
                        break;
                }
                r = push_instr(df, line, start, err);
        }
        if (r < 0) {
                dockerfile_free(df);
                return r;
        }
        *ret = df;
        return 0;
}

int dockerfile_parse(const char *text, size_t len, struct dockerfile **ret, struct berr *err) {
        return parse_text(text, len, true, '\\', ret, err);
}

int dockerfile_parse_line(const char *line, char escape, struct dockerfile **ret, struct berr *err) {
        struct dockerfile *df = NULL;
        int r = parse_text(line, strlen(line), false, escape, &df, err);
        if (r < 0)
                return r;
        if (df->n != 1) {
                dockerfile_free(df);
                return berr_set(err, BERR_INVALID, EINVAL, "expected one instruction in \"%s\"", line);
        }
        *ret = df;
        return 0;
}
