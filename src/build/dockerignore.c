/* dockerignore.c - .dockerignore patterns as moby's ignorefile and patternmatcher read
 * and match them: one pattern a line, '#' comments, cleaned like filepath.Clean with a
 * leading '/' dropped, '!' exceptions evaluated in order (the last match wins), Go's
 * filepath.Match syntax ('*', '?', '[...]', '\' escapes) plus '**' for any number of
 * directories, and a path excluded when a pattern matches it or one of its parents. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "build/build.h"
#include "common/cleanup.h"
#include "common/err.h"

struct di_pattern {
        char *glob;
        bool exclusion;
};

struct dockerignore {
        struct di_pattern *p;
        size_t n, cap; /* cap doubles: one realloc per pattern was quadratic in the file */
        bool has_exceptions;
};

/* filepath.Clean for a relative or absolute path, in place; "" becomes ".". */
static void clean_path(char *s) {
        bool abs = s[0] == '/';
        char *out = s, *w = s;
        if (abs)
                *w++ = '/';
        char *base = w;
        char *p = s + (abs ? 1 : 0);
        while (*p) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                char *e = p;
                while (*e && *e != '/')
                        e++;
                size_t n = (size_t) (e - p);
                if (n == 1 && p[0] == '.') {
                        /* skip */
                } else if (n == 2 && p[0] == '.' && p[1] == '.') {
                        /* back up one element, unless there is none to drop */
                        char *last = w;
                        while (last > base && last[-1] != '/')
                                last--;
                        bool is_dotdot = (size_t) (w - last) == 2 && last[0] == '.' && last[1] == '.';
                        if (w > base && !is_dotdot) {
                                w = last > base ? last - 1 : base;
                        } else if (!abs) {
                                if (w > base)
                                        *w++ = '/';
                                *w++ = '.';
                                *w++ = '.';
                        }
                } else {
                        if (w > base)
                                *w++ = '/';
                        memmove(w, p, n);
                        w += n;
                }
                p = e;
        }
        *w = '\0';
        if (!out[0])
                strcpy(out, ".");
}

void dockerignore_free(struct dockerignore *di) {
        if (!di)
                return;
        for (size_t i = 0; i < di->n; i++)
                free(di->p[i].glob);
        free(di->p);
        free(di);
}

int dockerignore_parse(const char *text, size_t len, struct dockerignore **ret, struct berr *err) {
        struct dockerignore *di = calloc(1, sizeof(*di));
        if (!di)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        const char *p = text, *end = text + len;
        if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
                p += 3;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *e = nl ? nl : end;
                _cleanup_free_ char *line = strndup(p, (size_t) (e - p));
                p = nl ? nl + 1 : end;
                if (!line) {
                        dockerignore_free(di);
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                }
                if (line[0] == '#')
                        continue;
                char *s = line;
                while (*s == ' ' || *s == '\t' || *s == '\r')
                        s++;
                size_t n = strlen(s);
                while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                        s[--n] = '\0';
                if (!*s)
                        continue;
                bool exclusion = false;
                if (*s == '!') {
                        exclusion = true;
                        s++;
                        while (*s == ' ' || *s == '\t')
                                s++;
                }
                if (*s) {
                        clean_path(s);
                        if (s[0] == '/' && s[1])
                                s++;
                }
                struct di_pattern *np = di->p;
                if (di->n == di->cap) {
                        size_t cap = di->cap ? di->cap * 2 : 16;
                        np = realloc(di->p, cap * sizeof(*np));
                        if (np) {
                                di->p = np;
                                di->cap = cap;
                        }
                }
                char *g = strdup(s);
                if (!np || !g) {
                        free(g);
                        dockerignore_free(di);
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                }
                di->p[di->n++] = (struct di_pattern){ .glob = g, .exclusion = exclusion };
                if (exclusion)
                        di->has_exceptions = true;
        }
        *ret = di;
        return 0;
}

/* A character class at @p ('[' already seen): whether @c is in it; *@ret_end after ']'. */
static bool match_class(const char *p, char c, const char **ret_end, bool *ret_ok) {
        bool negate = false, found = false;
        if (*p == '^') {
                negate = true;
                p++;
        }
        bool first = true;
        while (*p && (first || *p != ']')) {
                first = false;
                char lo = *p;
                if (lo == '\\' && p[1])
                        lo = *++p;
                p++;
                char hi = lo;
                if (*p == '-' && p[1] && p[1] != ']') {
                        hi = p[1];
                        if (hi == '\\' && p[2])
                                hi = *(p += 1 + 1);
                        else
                                p++;
                        p++;
                }
                if (lo <= c && c <= hi)
                        found = true;
        }
        if (*p != ']') {
                *ret_ok = false; /* a malformed class matches nothing, as Go's ErrBadPattern */
                return false;
        }
        *ret_end = p + 1;
        *ret_ok = true;
        return found != negate;
}

/* Steps one match may take: a pattern of many stars against a long name backtracks
 * exponentially when tried naively (dockerd compiles patterns to linear regexps). Once a
 * match starts backtracking, the (pattern, name) positions that failed are remembered, so
 * each is tried once and matching takes polynomial time; the budget stays as a backstop
 * for hostile contexts (a remote git repository's .dockerignore, COPY wildcards) where the
 * positions are too many to remember: past it the name does not match. */
#define GLOB_BUDGET 200000UL
#define GLOB_MEMO_AFTER 64UL             /* steps before failures are remembered */
#define GLOB_MEMO_MAX_BITS (1UL << 23) /* 1 MiB of failed positions at most */

struct glob_ctx {
        const char *p0, *s0;
        size_t s_positions; /* strlen(s0) + 1 */
        size_t bits;        /* (strlen(p0) + 1) * s_positions */
        unsigned char *failed;
        unsigned long steps;
};

static bool glob_rec(struct glob_ctx *c, const char *p, const char *s);

/* Whether @p matches all of @s, starting at these positions. */
static bool glob_here(struct glob_ctx *c, const char *p, const char *s) {
        while (*p) {
                if (p[0] == '*' && p[1] == '*') {
                        const char *rest = p + 2;
                        if (*rest == '/')
                                rest++;
                        if (!*rest)
                                return true;
                        if (glob_rec(c, rest, s))
                                return true;
                        for (const char *q = s; *q; q++)
                                if (*q == '/' && glob_rec(c, rest, q + 1))
                                        return true;
                        return false;
                }
                if (*p == '*') {
                        p++;
                        for (const char *q = s;; q++) {
                                if (glob_rec(c, p, q))
                                        return true;
                                if (!*q || *q == '/')
                                        return false;
                        }
                }
                if (!*s)
                        return false;
                if (*p == '?') {
                        if (*s == '/')
                                return false;
                        p++, s++;
                        continue;
                }
                if (*p == '[') {
                        const char *end;
                        bool ok;
                        if (*s == '/' || !match_class(p + 1, *s, &end, &ok) || !ok)
                                return false;
                        p = end;
                        s++;
                        continue;
                }
                if (*p == '\\' && p[1])
                        p++;
                if (*p != *s)
                        return false;
                p++, s++;
        }
        return !*s;
}

static bool glob_rec(struct glob_ctx *c, const char *p, const char *s) {
        if (c->steps >= GLOB_BUDGET)
                return false;
        c->steps++;
        if (!c->failed && c->steps == GLOB_MEMO_AFTER && c->bits <= GLOB_MEMO_MAX_BITS)
                c->failed = calloc((c->bits + 7) / 8, 1); /* without memory: no memo, the budget holds */
        size_t key = (size_t) (p - c->p0) * c->s_positions + (size_t) (s - c->s0);
        if (c->failed && (c->failed[key / 8] & (1u << (key % 8))))
                return false;
        bool m = glob_here(c, p, s);
        if (!m && c->failed)
                c->failed[key / 8] |= (unsigned char) (1u << (key % 8));
        return m;
}

/* Go's filepath.Match, with '**' spanning directories. */
bool dockerignore_glob(const char *p, const char *s) {
        size_t pl = strlen(p), sl = strlen(s);
        struct glob_ctx c = { .p0 = p, .s0 = s, .s_positions = sl + 1 };
        if (pl + 1 <= GLOB_MEMO_MAX_BITS / (sl + 1))
                c.bits = (pl + 1) * (sl + 1);
        else
                c.bits = GLOB_MEMO_MAX_BITS + 1; /* too many to remember */
        bool m = glob_rec(&c, p, s);
        free(c.failed);
        return m;
}

bool dockerignore_excluded(const struct dockerignore *di, const char *path) {
        if (!di)
                return false;
        _cleanup_free_ char *file = strdup(path);
        if (!file)
                return false;
        clean_path(file);
        bool matched = false;
        for (size_t i = 0; i < di->n; i++) {
                const struct di_pattern *pat = &di->p[i];
                if (pat->exclusion != matched)
                        continue;
                bool m = dockerignore_glob(pat->glob, file);
                /* or one of its parent directories */
                for (char *slash = file; !m && (slash = strchr(slash, '/')); slash++) {
                        *slash = '\0';
                        m = dockerignore_glob(pat->glob, file);
                        *slash = '/';
                }
                if (m)
                        matched = !pat->exclusion;
        }
        return matched;
}

bool dockerignore_has_exceptions(const struct dockerignore *di) {
        return di && di->has_exceptions;
}
