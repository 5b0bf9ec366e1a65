/* shell_word.c - variable expansion in Dockerfile arguments, by the rules of the classic
 * builder's shell lexer (buildkit's frontend/dockerfile/shell): single quotes literal,
 * double quotes expanding $ with the escape character escaping only ", $ and itself,
 * unquoted escapes taking the next character literally, and $name, ${name},
 * ${name:-word}, ${name-word}, ${name:+word}, ${name+word}, ${name:?word}. In words mode
 * (EXPOSE) unquoted whitespace, including whitespace a variable brings, splits words. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "build/dockerfile.h"
#include "common/err.h"

struct buf {
        char *s;
        size_t len, cap;
};

static int buf_add(struct buf *b, char c) {
        if (b->len + 2 > b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 64;
                char *s = realloc(b->s, cap);
                if (!s)
                        return -ENOMEM;
                b->s = s;
                b->cap = cap;
        }
        b->s[b->len++] = c;
        b->s[b->len] = '\0';
        return 0;
}

static int buf_adds(struct buf *b, const char *s) {
        for (; *s; s++)
                if (buf_add(b, *s) < 0)
                        return -ENOMEM;
        return 0;
}

/* The output: one word, or words split on unquoted whitespace. */
struct out {
        bool split;
        struct buf cur;
        bool in_word;
        char **words;
        size_t n;
};

static int out_end_word(struct out *o) {
        if (!o->in_word)
                return 0;
        /* Room in powers of two, as dockerfile.c's grow(): one realloc per word copied the
         * list whole each time (quadratic in the words a split expansion makes). */
        size_t room = 8;
        while (o->words && room < o->n + 1)
                room *= 2;
        char **v = o->words;
        if (!v || o->n + 2 > room) {
                while (room < o->n + 2)
                        room *= 2;
                v = realloc(o->words, room * sizeof(char *));
        }
        if (!v)
                return -ENOMEM;
        o->words = v;
        o->words[o->n++] = o->cur.s ? o->cur.s : strdup("");
        o->words[o->n] = NULL;
        if (!o->words[o->n - 1])
                return -ENOMEM;
        o->cur = (struct buf){ 0 };
        o->in_word = false;
        return 0;
}

/* A character that may split words (unquoted text, a variable's value). */
static int out_char(struct out *o, char c) {
        if (o->split && isspace((unsigned char) c))
                return out_end_word(o);
        o->in_word = true;
        return buf_add(&o->cur, c);
}

/* A character that never splits (quoted, escaped). */
static int out_raw(struct out *o, char c) {
        o->in_word = true;
        return buf_add(&o->cur, c);
}

struct lex {
        const char *p;
        char escape;
        df_lookup_fn lookup;
        void *opaque;
        struct berr *err;
};

static int lex_word(struct lex *l, struct out *o, char stop, bool *ret_found);

static void process_name(struct lex *l, struct buf *name) {
        const char *p = l->p;
        if (isdigit((unsigned char) *p)) {
                while (isdigit((unsigned char) *p))
                        (void) buf_add(name, *p++);
        } else if (*p && strchr("@*#?-$!", *p)) {
                (void) buf_add(name, *p++);
        } else {
                while (isalnum((unsigned char) *p) || *p == '_')
                        (void) buf_add(name, *p++);
        }
        l->p = p;
}

/* After "$": the expansion into @val (a flag says whether it came from quotes). */
static int process_dollar(struct lex *l, struct buf *val) {
        struct buf name = { 0 };
        int r = 0;
        if (*l->p != '{') {
                process_name(l, &name);
                if (!name.s)
                        return buf_add(val, '$');
                const char *v = l->lookup(l->opaque, name.s);
                r = v ? buf_adds(val, v) : 0;
                free(name.s);
                return r;
        }
        l->p++;
        process_name(l, &name);
        const char *nm = name.s ? name.s : "";
        const char *v = l->lookup(l->opaque, nm);
        char c = *l->p;
        if (c == '}') {
                l->p++;
                r = v ? buf_adds(val, v) : 0;
                free(name.s);
                return r;
        }
        if (!c) {
                free(name.s);
                return berr_set(l->err, BERR_INVALID, EINVAL, "syntax error: missing '}'");
        }
        bool colon = c == ':';
        if (colon)
                c = *++l->p;
        if (c != '-' && c != '+' && c != '?') {
                free(name.s);
                if (!colon)
                        return berr_set(l->err, BERR_INVALID, EINVAL, "missing ':' in substitution");
                return berr_set(l->err, BERR_INVALID, EINVAL, "unsupported modifier (%c) in substitution", c ? c : ' ');
        }
        l->p++;
        struct out wo = { 0 };
        bool found = false;
        r = lex_word(l, &wo, '}', &found);
        if (r == 0 && !found)
                r = berr_set(l->err, BERR_INVALID, EINVAL, "syntax error: missing '}'");
        const char *word = wo.cur.s ? wo.cur.s : "";
        bool set = v && (!colon || v[0]);
        if (r == 0) {
                if (c == '-')
                        r = buf_adds(val, set ? v : word);
                else if (c == '+')
                        r = set ? buf_adds(val, word) : 0;
                else if (!set)
                        r = berr_set(l->err, BERR_INVALID, EINVAL, "%s: %s", nm,
                                     word[0] ? word : "is not allowed to be unset");
                else
                        r = buf_adds(val, v);
        }
        free(wo.cur.s);
        free(name.s);
        return r;
}

static int process_single_quote(struct lex *l, struct out *o) {
        l->p++;
        o->in_word = true;
        for (;;) {
                if (!*l->p)
                        return berr_set(l->err, BERR_INVALID, EINVAL,
                                        "unexpected end of statement while looking for matching single-quote");
                char c = *l->p++;
                if (c == '\'')
                        return 0;
                if (out_raw(o, c) < 0)
                        return -ENOMEM;
        }
}

static int process_double_quote(struct lex *l, struct out *o) {
        l->p++;
        o->in_word = true;
        for (;;) {
                char c = *l->p;
                if (!c)
                        return berr_set(l->err, BERR_INVALID, EINVAL,
                                        "unexpected end of statement while looking for matching double-quote");
                if (c == '"') {
                        l->p++;
                        return 0;
                }
                if (c == '$') {
                        l->p++;
                        struct buf v = { 0 };
                        int r = process_dollar(l, &v);
                        for (size_t i = 0; r == 0 && i < v.len; i++)
                                r = out_raw(o, v.s[i]);
                        free(v.s);
                        if (r < 0)
                                return r;
                        continue;
                }
                l->p++;
                if (c == l->escape) {
                        char n = *l->p;
                        if (!n)
                                continue; /* an escape at the end of the word is dropped */
                        if (n == '"' || n == '$' || n == l->escape) {
                                c = n;
                                l->p++;
                        }
                }
                if (out_raw(o, c) < 0)
                        return -ENOMEM;
        }
}

static int lex_word(struct lex *l, struct out *o, char stop, bool *ret_found) {
        *ret_found = false;
        while (*l->p) {
                char c = *l->p;
                int r;
                if (stop && c == stop) {
                        l->p++;
                        *ret_found = true;
                        return 0;
                }
                if (c == '\'') {
                        r = process_single_quote(l, o);
                } else if (c == '"') {
                        r = process_double_quote(l, o);
                } else if (c == '$') {
                        l->p++;
                        struct buf v = { 0 };
                        r = process_dollar(l, &v);
                        for (size_t i = 0; r == 0 && i < v.len; i++)
                                r = out_char(o, v.s[i]);
                        free(v.s);
                } else {
                        l->p++;
                        if (c == l->escape) {
                                if (!*l->p)
                                        break; /* dropped */
                                r = out_raw(o, *l->p++);
                        } else {
                                r = out_char(o, c);
                        }
                }
                if (r < 0)
                        return r == -ENOMEM ? berr_set(l->err, BERR_INTERNAL, ENOMEM, "out of memory") : r;
        }
        return 0;
}

static int expand(const char *word, char escape, df_lookup_fn lookup, void *opaque, struct out *o, struct berr *err) {
        struct lex l = { .p = word, .escape = escape, .lookup = lookup, .opaque = opaque, .err = err };
        bool found;
        int r = lex_word(&l, o, 0, &found);
        if (r == 0 && out_end_word(o) < 0)
                r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        return r;
}

static void out_free(struct out *o) {
        for (size_t i = 0; i < o->n; i++)
                free(o->words[i]);
        free(o->words);
        free(o->cur.s);
}

int df_expand_word(const char *word, char escape, df_lookup_fn lookup, void *opaque, char **ret, struct berr *err) {
        struct out o = { .split = false, .in_word = true };
        int r = expand(word, escape, lookup, opaque, &o, err);
        if (r == 0) {
                *ret = o.n > 0 ? o.words[0] : strdup("");
                if (o.n > 0)
                        o.words[0] = NULL, o.n = 0;
                if (!*ret)
                        r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        out_free(&o);
        return r;
}

int df_expand_words(const char *word, char escape, df_lookup_fn lookup, void *opaque, char ***ret, size_t *ret_n,
                    struct berr *err) {
        struct out o = { .split = true };
        int r = expand(word, escape, lookup, opaque, &o, err);
        if (r < 0) {
                out_free(&o);
                return r;
        }
        if (!o.words) {
                o.words = calloc(1, sizeof(char *));
                if (!o.words)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        free(o.cur.s);
        *ret = o.words;
        *ret_n = o.n;
        return 0;
}
