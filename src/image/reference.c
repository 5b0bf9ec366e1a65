/* reference.c - the grammar of distribution/reference, matched by hand.
 *
 *   reference        := name [ ":" tag ] [ "@" digest ]
 *   name             := [domain '/'] path-component ['/' path-component]*
 *   domain           := host [':' port-number]
 *   host             := domain-component ['.' domain-component]* | '[' ipv6 ']'
 *   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
 *   path-component   := /[a-z0-9]+/ [separator /[a-z0-9]+/]*,  separator := [_.] | __ | -+
 *   tag              := /[\w][\w.-]{0,127}/
 *   digest           := algorithm ":" /[0-9a-fA-F]{32,}/, then checked as go-digest does
 *
 * The domain is split off first the way Docker's splitDockerDomain does (the first
 * component is a domain only if it contains '.' or ':', is "localhost", or has uppercase),
 * so the rest of the grammar runs on a known domain and a known remainder. */
#include "reference.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

#define INVALID_FORMAT "invalid reference format"

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c) {
        return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_word(char c) {
        return is_alnum(c) || c == '_';
}

static bool is_hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Match one path-component at *p; advance past it. */
static bool match_path_component(const char **p) {
        const char *s = *p;
        if (!is_lower_alnum(*s))
                return false;
        for (;;) {
                while (is_lower_alnum(*s))
                        s++;
                const char *sep = s;
                if (*s == '.' || (*s == '_' && s[1] != '_'))
                        s++;
                else if (*s == '_' && s[1] == '_')
                        s += 2;
                else if (*s == '-')
                        while (*s == '-')
                                s++;
                else
                        break;
                if (!is_lower_alnum(*s)) {
                        s = sep; /* a separator must be followed by alnum */
                        break;
                }
        }
        *p = s;
        return true;
}

static bool match_domain_component(const char **p, const char *end) {
        const char *s = *p;
        if (s >= end || !is_alnum(*s))
                return false;
        const char *last_alnum = s;
        while (s < end && (is_alnum(*s) || *s == '-')) {
                if (is_alnum(*s))
                        last_alnum = s;
                s++;
        }
        /* A trailing run of '-' is not part of the component. */
        *p = last_alnum + 1;
        return true;
}

/* The whole [start, end) must be a domain. */
static bool match_domain(const char *start, const char *end) {
        const char *s = start;
        if (s < end && *s == '[') {
                s++;
                const char *h = s;
                while (s < end && (is_hex(*s) || *s == ':'))
                        s++;
                if (s == h || s >= end || *s != ']')
                        return false;
                s++;
        } else {
                if (!match_domain_component(&s, end))
                        return false;
                while (s < end && *s == '.') {
                        s++;
                        if (!match_domain_component(&s, end))
                                return false;
                }
        }
        if (s < end && *s == ':') {
                s++;
                const char *port = s;
                while (s < end && isdigit((unsigned char) *s))
                        s++;
                if (s == port)
                        return false;
        }
        return s == end;
}

static bool match_tag(const char *s, size_t len) {
        if (len == 0 || len > REFERENCE_TAG_MAX || !is_word(s[0]))
                return false;
        for (size_t i = 1; i < len; i++)
                if (!is_word(s[i]) && s[i] != '.' && s[i] != '-')
                        return false;
        return true;
}

/* The regexp-level digest shape; go-digest's stricter checks come after. */
static bool match_digest_shape(const char *s) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
                return false;
        for (;;) {
                s++;
                while (is_alnum(*s))
                        s++;
                if (*s == ':')
                        break;
                if (!strchr("+._-", *s) || *s == '\0')
                        return false;
                s++;
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
                        return false;
        }
        s++;
        size_t n = 0;
        while (is_hex(s[n]))
                n++;
        return n >= 32 && s[n] == '\0';
}

struct split {
        const char *path;
        size_t path_len;
        const char *tag; /* NULL if absent */
        size_t tag_len;
        const char *digest; /* NULL if absent; runs to the end */
};

/* Match `path-component ('/' path-component)* [':' tag] ['@' digest]` on the remainder. */
static bool match_remainder(const char *s, struct split *out) {
        const char *p = s;
        *out = (struct split){ .path = s };
        if (!match_path_component(&p))
                return false;
        while (*p == '/') {
                p++;
                if (!match_path_component(&p))
                        return false;
        }
        out->path_len = (size_t) (p - s);
        if (*p == ':') {
                const char *t = ++p;
                while (*p && *p != '@')
                        p++;
                if (!match_tag(t, (size_t) (p - t)))
                        return false;
                out->tag = t;
                out->tag_len = (size_t) (p - t);
        }
        if (*p == '@') {
                p++;
                if (!match_digest_shape(p))
                        return false;
                out->digest = p;
                return true;
        }
        return *p == '\0';
}

int reference_digest_validate(const char *digest, struct berr *err) {
        static const struct {
                const char *name;
                size_t hex_len;
        } algos[] = { { "sha256", 64 }, { "sha384", 96 }, { "sha512", 128 } };
        const char *colon = strchr(digest, ':');
        if (!colon || colon == digest || colon[1] == '\0')
                return berr_set(err, BERR_INVALID, EINVAL, "invalid checksum digest format");
        size_t alen = (size_t) (colon - digest);
        const char *hex = colon + 1;
        for (size_t i = 0; i < sizeof(algos) / sizeof(algos[0]); i++) {
                if (strlen(algos[i].name) != alen || strncmp(algos[i].name, digest, alen) != 0)
                        continue;
                if (strlen(hex) != algos[i].hex_len)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid checksum digest length");
                for (const char *h = hex; *h; h++)
                        if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f')))
                                return berr_set(err, BERR_INVALID, EINVAL, "invalid checksum digest format");
                return 0;
        }
        return berr_set(err, BERR_INVALID, EINVAL, "unsupported digest algorithm");
}

bool reference_tag_is_valid(const char *tag) {
        return tag && match_tag(tag, strlen(tag));
}

bool reference_is_full_id(const char *s) {
        size_t n = 0;
        for (; s[n]; n++)
                if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
                        return false;
        return n == 64;
}

/* Docker's splitDockerDomain. @ret_domain gets the domain (NUL-terminated), the remainder
 * is returned through @ret_rest, with "library/" added for official images. */
static int split_docker_domain(const char *s, char *ret_domain, size_t domain_size, char *ret_rest,
                               size_t rest_size) {
        const char *slash = strchr(s, '/');
        bool has_domain = false;
        if (slash) {
                size_t n = (size_t) (slash - s);
                bool dot_or_colon = memchr(s, '.', n) || memchr(s, ':', n);
                bool localhost = n == 9 && strncmp(s, "localhost", 9) == 0;
                bool upper = false;
                for (size_t i = 0; i < n; i++)
                        if (s[i] >= 'A' && s[i] <= 'Z')
                                upper = true;
                has_domain = dot_or_colon || localhost || upper;
        }
        const char *rest = s;
        if (has_domain) {
                size_t n = (size_t) (slash - s);
                if (n >= domain_size)
                        return -1;
                memcpy(ret_domain, s, n);
                ret_domain[n] = '\0';
                rest = slash + 1;
                if (strcmp(ret_domain, "index.docker.io") == 0)
                        strcpy(ret_domain, REFERENCE_DEFAULT_DOMAIN);
        } else
                strcpy(ret_domain, REFERENCE_DEFAULT_DOMAIN);
        bool official = strcmp(ret_domain, REFERENCE_DEFAULT_DOMAIN) == 0 && !strchr(rest, '/');
        int n = snprintf(ret_rest, rest_size, "%s%s", official ? "library/" : "", rest);
        return (n < 0 || (size_t) n >= rest_size) ? -1 : 0;
}

int reference_parse_normalized(const char *s, struct reference *ret, struct berr *err) {
        if (reference_is_full_id(s))
                return berr_set(err, BERR_INVALID, EINVAL,
                                "invalid repository name (%s), cannot specify 64-byte hexadecimal strings", s);

        /* Anything longer than this cannot be valid; it also bounds the buffers below. */
        if (strlen(s) >= REFERENCE_STRING_MAX)
                return berr_set(err, BERR_INVALID, EINVAL, INVALID_FORMAT);
        char domain[REFERENCE_STRING_MAX], rest[REFERENCE_STRING_MAX + 16];
        if (split_docker_domain(s, domain, sizeof(domain), rest, sizeof(rest)) < 0)
                return berr_set(err, BERR_INVALID, EINVAL, INVALID_FORMAT);

        size_t remote_len = strcspn(rest, ":");
        for (size_t i = 0; i < remote_len; i++)
                if (rest[i] >= 'A' && rest[i] <= 'Z')
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        INVALID_FORMAT ": repository name (%.*s) must be lowercase",
                                        (int) remote_len, rest);

        struct split sp;
        if (!match_domain(domain, domain + strlen(domain)) || !match_remainder(rest, &sp)) {
                /* Docker tells "must be lowercase" apart by matching the lowercased string;
                 * uppercase before the tag was already reported above, and the tag, digest
                 * and domain all allow uppercase, so nothing else can be case. */
                return berr_set(err, BERR_INVALID, EINVAL, INVALID_FORMAT);
        }

        if (strlen(domain) + 1 + sp.path_len > REFERENCE_NAME_MAX)
                return berr_set(err, BERR_INVALID, EINVAL,
                                INVALID_FORMAT ": repository name must not be more than %d characters",
                                REFERENCE_NAME_MAX);
        if (sp.digest) {
                if (strlen(sp.digest) > REFERENCE_DIGEST_MAX)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid checksum digest length");
                int r = reference_digest_validate(sp.digest, err);
                if (r < 0)
                        return r;
        }

        /* The length checks above bound every part; memcpy keeps that visible. */
        struct reference ref = { 0 };
        memcpy(ref.domain, domain, strlen(domain));
        memcpy(ref.path, sp.path, sp.path_len);
        if (sp.tag)
                memcpy(ref.tag, sp.tag, sp.tag_len);
        if (sp.digest)
                memcpy(ref.digest, sp.digest, strlen(sp.digest));
        *ret = ref;
        return 0;
}

void reference_default_tag(struct reference *ref) {
        if (ref->tag[0] == '\0' && ref->digest[0] == '\0')
                strcpy(ref->tag, REFERENCE_DEFAULT_TAG);
}

int reference_parse_with_default_tag(const char *s, struct reference *ret, struct berr *err) {
        int r = reference_parse_normalized(s, ret, err);
        if (r < 0)
                return r;
        reference_default_tag(ret);
        return 0;
}

void reference_name(const struct reference *ref, char out[REFERENCE_STRING_MAX]) {
        snprintf(out, REFERENCE_STRING_MAX, "%s/%s", ref->domain, ref->path);
}

static void append_tag_digest(const struct reference *ref, char out[REFERENCE_STRING_MAX]) {
        size_t n = strlen(out);
        if (ref->tag[0])
                n += (size_t) snprintf(out + n, REFERENCE_STRING_MAX - n, ":%s", ref->tag);
        if (ref->digest[0] && n < REFERENCE_STRING_MAX)
                snprintf(out + n, REFERENCE_STRING_MAX - n, "@%s", ref->digest);
}

void reference_string(const struct reference *ref, char out[REFERENCE_STRING_MAX]) {
        reference_name(ref, out);
        append_tag_digest(ref, out);
}

void reference_familiar_name(const struct reference *ref, char out[REFERENCE_STRING_MAX]) {
        if (strcmp(ref->domain, REFERENCE_DEFAULT_DOMAIN) != 0) {
                reference_name(ref, out);
                return;
        }
        const char *p = ref->path;
        if (strncmp(p, "library/", 8) == 0 && !strchr(p + 8, '/'))
                p += 8;
        snprintf(out, REFERENCE_STRING_MAX, "%s", p);
}

void reference_familiar_string(const struct reference *ref, char out[REFERENCE_STRING_MAX]) {
        reference_familiar_name(ref, out);
        append_tag_digest(ref, out);
}
