/* dist_auth.c - registry credentials: X-Registry-Auth decoding, WWW-Authenticate
 * challenges, and bearer tokens fetched from the challenge's realm and cached per
 * (realm, service, scopes, user) until they expire. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uthash.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "dist_int.h"

#define AUTH_HEADER_MAX (64u << 10)
#define TOKEN_CACHE_MAX 256
#define TOKEN_DEFAULT_EXPIRY_S 60

/* ---- base64 ---- */

char *dist_base64(const void *data, size_t len) {
        char *out = malloc(4 * ((len + 2) / 3) + 1);
        if (out)
                EVP_EncodeBlock((unsigned char *) out, data, (int) len);
        return out;
}

/* base64url or standard, padded or not, into a new NUL-terminated buffer. */
static int base64_decode_any(const char *in, char **ret, size_t *ret_len) {
        size_t n = strlen(in);
        while (n > 0 && (in[n - 1] == '=' || in[n - 1] == '\n' || in[n - 1] == '\r'))
                n--;
        _cleanup_free_ char *std = malloc(n + 4);
        char *out = malloc(3 * ((n + 3) / 4) + 1);
        if (!std || !out) {
                free(out);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                std[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
        size_t pad = (4 - n % 4) % 4;
        if (pad == 3) {
                free(out);
                return -EINVAL;
        }
        memset(std + n, '=', pad);
        std[n + pad] = '\0';
        int len = EVP_DecodeBlock((unsigned char *) out, (unsigned char *) std, (int) (n + pad));
        if (len < 0) {
                free(out);
                return -EINVAL;
        }
        len -= (int) pad; /* EVP_DecodeBlock counts the padding as zero bytes */
        out[len] = '\0';
        *ret = out;
        *ret_len = (size_t) len;
        return 0;
}

/* ---- credentials ---- */

void dist_auth_done(struct dist_auth *a) {
        if (!a)
                return;
        free(a->username);
        free(a->password);
        free(a->identity_token);
        free(a->registry_token);
        free(a->server_address);
        memset(a, 0, sizeof(*a));
}

static char *dup_nonempty(json_t *obj, const char *key) {
        const char *v = json_string_value(json_object_get(obj, key));
        return v && v[0] ? strdup(v) : NULL;
}

int dist_auth_from_json(json_t *body, struct dist_auth *ret, struct berr *err) {
        memset(ret, 0, sizeof(*ret));
        if (!json_is_object(body))
                return 0;
        ret->username = dup_nonempty(body, "username");
        ret->password = dup_nonempty(body, "password");
        ret->identity_token = dup_nonempty(body, "identitytoken");
        ret->registry_token = dup_nonempty(body, "registrytoken");
        ret->server_address = dup_nonempty(body, "serveraddress");
        /* "auth" is base64(user:password), as in the CLI's config file. */
        const char *auth = json_string_value(json_object_get(body, "auth"));
        if (auth && auth[0] && !ret->username) {
                _cleanup_free_ char *plain = NULL;
                size_t len;
                if (base64_decode_any(auth, &plain, &len) == 0) {
                        char *colon = strchr(plain, ':');
                        if (colon) {
                                *colon = '\0';
                                ret->username = strdup(plain);
                                free(ret->password);
                                ret->password = strdup(colon + 1);
                        }
                }
        }
        return 0;
}

int dist_auth_decode(const char *header, struct dist_auth *ret, struct berr *err) {
        memset(ret, 0, sizeof(*ret));
        if (!header || !header[0])
                return 0;
        if (strlen(header) > AUTH_HEADER_MAX)
                return berr_set(err, BERR_INVALID, E2BIG, "X-Registry-Auth header is too large");
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (base64_decode_any(header, &text, &len) < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid X-Registry-Auth header: not base64url");
        /* dockerd ignores an undecodable body, as old clients sent "{}"-ish junk. */
        _cleanup_json_ json_t *body = json_loadb(text, len, 0, NULL);
        return dist_auth_from_json(body, ret, err);
}

/* ---- WWW-Authenticate ---- */

void dist_challenge_done(struct dist_challenge *ch) {
        free(ch->realm);
        free(ch->service);
        free(ch->scope);
        free(ch->error);
        memset(ch, 0, sizeof(*ch));
}

/* Parameters are `key="quoted \" value"` or `key=token`, separated by commas. */
int dist_challenge_parse(const char *header, struct dist_challenge *ret) {
        memset(ret, 0, sizeof(*ret));
        if (!header)
                return 0;
        while (*header == ' ')
                header++;
        const char *sp = strchr(header, ' ');
        size_t slen = sp ? (size_t) (sp - header) : strlen(header);
        if (slen == 6 && strncasecmp(header, "bearer", 6) == 0)
                ret->scheme = DIST_AUTH_BEARER;
        else if (slen == 5 && strncasecmp(header, "basic", 5) == 0)
                ret->scheme = DIST_AUTH_BASIC;
        else
                return 0;
        const char *p = sp ? sp : header + slen;
        while (*p) {
                while (*p == ' ' || *p == ',')
                        p++;
                const char *eq = strchr(p, '=');
                if (!eq)
                        break;
                char key[32];
                snprintf(key, sizeof(key), "%.*s", (int) (eq - p), p);
                p = eq + 1;
                char val[2048];
                size_t n = 0;
                if (*p == '"') {
                        p++;
                        while (*p && *p != '"') {
                                if (*p == '\\' && p[1])
                                        p++;
                                if (n + 1 < sizeof(val))
                                        val[n++] = *p;
                                p++;
                        }
                        if (*p == '"')
                                p++;
                } else {
                        while (*p && *p != ',' && *p != ' ') {
                                if (n + 1 < sizeof(val))
                                        val[n++] = *p;
                                p++;
                        }
                }
                val[n] = '\0';
                char **slot = strcasecmp(key, "realm") == 0   ? &ret->realm
                              : strcasecmp(key, "service") == 0 ? &ret->service
                              : strcasecmp(key, "scope") == 0   ? &ret->scope
                              : strcasecmp(key, "error") == 0   ? &ret->error
                                                                : NULL;
                if (slot) {
                        free(*slot);
                        *slot = strdup(val);
                }
        }
        return 0;
}

/* ---- token cache ---- */

struct token_entry {
        char *key;
        char *token;
        time_t expires;
        UT_hash_handle hh;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct token_entry *cache;

void dist_token_cache_clear(void) {
        pthread_mutex_lock(&cache_lock);
        struct token_entry *e, *tmp;
        HASH_ITER(hh, cache, e, tmp) {
                HASH_DEL(cache, e);
                free(e->key);
                free(e->token);
                free(e);
        }
        pthread_mutex_unlock(&cache_lock);
}

static char *cache_get(const char *key) {
        char *tok = NULL;
        pthread_mutex_lock(&cache_lock);
        struct token_entry *e = NULL;
        HASH_FIND_STR(cache, key, e);
        if (e && e->expires > time(NULL))
                tok = strdup(e->token);
        pthread_mutex_unlock(&cache_lock);
        return tok;
}

static void cache_put(const char *key, const char *token, long expires_in) {
        pthread_mutex_lock(&cache_lock);
        struct token_entry *e = NULL;
        HASH_FIND_STR(cache, key, e);
        if (!e && HASH_COUNT(cache) >= TOKEN_CACHE_MAX) {
                struct token_entry *x, *tmp;
                HASH_ITER(hh, cache, x, tmp) { /* full: drop everything stale, or everything */
                        HASH_DEL(cache, x);
                        free(x->key);
                        free(x->token);
                        free(x);
                }
        }
        if (!e) {
                e = calloc(1, sizeof(*e));
                if (!e || !(e->key = strdup(key))) {
                        free(e);
                        pthread_mutex_unlock(&cache_lock);
                        return;
                }
                HASH_ADD_KEYPTR(hh, cache, e->key, strlen(e->key), e);
        }
        free(e->token);
        e->token = strdup(token);
        /* Refresh a little early so a token does not expire mid-request. */
        e->expires = time(NULL) + (expires_in > 10 ? expires_in - 5 : expires_in);
        pthread_mutex_unlock(&cache_lock);
}

static size_t url_escape_into(CURL *h, FILE *f, const char *s) {
        char *e = curl_easy_escape(h, s, 0);
        if (!e)
                return 0;
        fputs(e, f);
        curl_free(e);
        return 1;
}

/* The token request URL: realm?service=..&scope=..&scope=.. */
static char *token_url(CURL *h, const char *realm, const char *service, const char *scopes, const struct dist_auth *auth,
                       bool offline) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        fputs(realm, f);
        char sep = strchr(realm, '?') ? '&' : '?';
        if (service && service[0]) {
                fprintf(f, "%cservice=", sep);
                url_escape_into(h, f, service);
                sep = '&';
        }
        _cleanup_free_ char *copy = strdup(scopes ? scopes : "");
        char *save = NULL;
        for (char *s = copy ? strtok_r(copy, " ", &save) : NULL; s; s = strtok_r(NULL, " ", &save)) {
                fprintf(f, "%cscope=", sep);
                url_escape_into(h, f, s);
                sep = '&';
        }
        if (auth && auth->username) {
                fprintf(f, "%caccount=", sep);
                url_escape_into(h, f, auth->username);
                sep = '&';
        }
        if (offline)
                fprintf(f, "%coffline_token=true&client_id=docker", sep);
        fclose(f);
        return buf;
}

static char *oauth_form(CURL *h, const char *service, const char *scopes, const struct dist_auth *auth) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        fputs("grant_type=refresh_token&client_id=docker&refresh_token=", f);
        url_escape_into(h, f, auth->identity_token);
        if (service) {
                fputs("&service=", f);
                url_escape_into(h, f, service);
        }
        if (scopes && scopes[0]) {
                fputs("&scope=", f);
                url_escape_into(h, f, scopes);
        }
        fclose(f);
        return buf;
}

/* The secrets behind a cached token, hashed into its key: a token fetched with one
 * password is never handed to a request made with another. */
static int secret_digest(const struct dist_auth *auth, char out[DIGEST_STRING_MAX], struct berr *err) {
        _cleanup_free_ char *secret = NULL;
        if (asprintf(&secret, "%s%c%s", auth && auth->password ? auth->password : "", '\0',
                     auth && auth->identity_token ? auth->identity_token : "") < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t n = (auth && auth->password ? strlen(auth->password) : 0) + 1 +
                   (auth && auth->identity_token ? strlen(auth->identity_token) : 0);
        return digest_sha256_buf(secret, n, out, err);
}

int dist_token_get(struct dist_conn *conn, const struct dist_endpoint *ep, const char *realm, const char *service,
                   const char *scopes, const struct dist_auth *auth, char **ret, char **ret_refresh,
                   struct berr *err) {
        if (ret_refresh)
                *ret_refresh = NULL;
        if (!realm || !realm[0])
                return berr_set(err, BERR_UNAUTHORIZED, EACCES, "registry %s asked for a token without a realm", ep->host);
        if (auth && auth->registry_token) {
                *ret = strdup(auth->registry_token);
                return *ret ? 0 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        char secret[DIGEST_STRING_MAX];
        int r = secret_digest(auth, secret, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *key = NULL;
        if (asprintf(&key, "%s|%s|%s|%s|%s", realm, service ? service : "", scopes ? scopes : "",
                     auth && auth->username ? auth->username : "", secret) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        /* A login checks the credentials with the token server itself, every time. */
        char *cached = ret_refresh ? NULL : cache_get(key);
        if (cached) {
                *ret = cached;
                return 0;
        }
        /* The realm is another server: the token request goes out with no registry
         * client state, only the user's credentials. */
        struct dist_client tc = { .ep = *ep };
        tc.scheme = DIST_AUTH_NONE;
        pthread_mutex_init(&tc.lock, NULL);
        struct dist_resp resp = { 0 };
        _cleanup_free_ char *url = NULL, *form = NULL, *basic = NULL;
        struct dist_req rq = { .method = "GET", .body_fd = -1, .max_body = 1u << 20, .no_auth_retry = true };
        if (auth && auth->identity_token) {
                form = oauth_form(conn->h, service, scopes, auth);
                rq.method = "POST";
                rq.url = realm;
                rq.body = form;
                rq.body_len = form ? strlen(form) : 0;
                rq.content_type = "application/x-www-form-urlencoded";
        } else {
                url = token_url(conn->h, realm, service, scopes, auth, ret_refresh != NULL);
                rq.url = url;
        }
        if (!rq.url || (auth && auth->identity_token && !form)) {
                pthread_mutex_destroy(&tc.lock);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        if (auth && auth->username && !auth->identity_token) {
                /* Basic credentials for the token server go in the request itself. */
                tc.scheme = DIST_AUTH_BASIC;
                tc.auth = auth;
        }
        r = dist_do(&tc, conn, &rq, &resp, err);
        pthread_mutex_destroy(&tc.lock);
        if (r < 0)
                return berr_wrap(err, "fetch token");
        if (resp.status != 200) {
                r = dist_resp_error(&resp, "", err);
                if (resp.status == 401 || resp.status == 403)
                        err->kind = BERR_UNAUTHORIZED;
                dist_resp_done(&resp); /* dockerd's words: the token server's error as it is */
                return r;
        }
        _cleanup_json_ json_t *doc = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
        dist_resp_done(&resp);
        const char *tok = json_string_value(json_object_get(doc, "token"));
        if (!tok || !tok[0])
                tok = json_string_value(json_object_get(doc, "access_token"));
        if (!tok || !tok[0])
                return berr_set(err, BERR_UNAUTHORIZED, EACCES, "authorization server did not include a token in the response");
        json_int_t exp = json_integer_value(json_object_get(doc, "expires_in"));
        cache_put(key, tok, exp > 0 ? (long) exp : TOKEN_DEFAULT_EXPIRY_S);
        const char *refresh = json_string_value(json_object_get(doc, "refresh_token"));
        if (ret_refresh && refresh && refresh[0]) {
                *ret_refresh = strdup(refresh);
                if (!*ret_refresh)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        *ret = strdup(tok);
        if (!*ret && ret_refresh) {
                free(*ret_refresh);
                *ret_refresh = NULL;
        }
        return *ret ? 0 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
}
