/* dist_http.c - the registry HTTP client over libcurl: choosing an endpoint for a registry
 * (mirrors, https, then plain http for insecure ones, probed with GET /v2/), requests with
 * the registry's credentials and one retry after a 401 challenge, response headers the
 * protocol needs, bodies to memory or to a sink, and registry errors turned into
 * messages. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "dist_int.h"

#define CONNECT_TIMEOUT_S 15L
#define LOW_SPEED_TIME_S 30L /* a transfer with no progress this long is cut */
#define DEFAULT_MAX_BODY (4u << 20)
#define DOCKER_HUB_HOST "registry-1.docker.io"

int dist_conn_open(struct dist_conn *c, struct berr *err) {
        c->h = NULL;
        int r = dist_curl_load(err); /* the first registry operation maps libcurl */
        if (r < 0)
                return r;
        c->h = curl_easy_init();
        if (!c->h)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "cannot create an HTTP client");
        return 0;
}

void dist_conn_close(struct dist_conn *c) {
        if (c->h)
                curl_easy_cleanup(c->h);
        c->h = NULL;
}

void dist_resp_done(struct dist_resp *r) {
        free(r->body);
        free(r->location);
        free(r->www_authenticate);
        memset(r, 0, sizeof(*r));
}

/* ---- one transfer ---- */

struct xfer {
        struct dist_client *c;
        const struct dist_req *rq;
        struct dist_resp *resp;
        size_t body_cap;
        int64_t sent; /* fd uploads: offset */
        bool too_large;
};

static void set_str(char *dst, size_t size, const char *v, size_t len) {
        while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
                len--;
        while (len > 0 && *v == ' ') {
                v++;
                len--;
        }
        snprintf(dst, size, "%.*s", (int) len, v);
}

static char *dup_str(const char *v, size_t len) {
        char buf[8192];
        set_str(buf, sizeof(buf), v, len);
        return strdup(buf);
}

static size_t on_header(char *data, size_t size, size_t n, void *opaque) {
        struct xfer *x = opaque;
        size_t len = size * n;
        struct dist_resp *r = x->resp;
        if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
                /* A new response (after a redirect or 100 Continue): forget the last one's. */
                free(r->location);
                free(r->www_authenticate);
                r->location = r->www_authenticate = NULL;
                r->content_type[0] = r->digest[0] = r->range[0] = '\0';
                r->content_length = -1;
                return len;
        }
        const char *colon = memchr(data, ':', len);
        if (!colon)
                return len;
        size_t klen = (size_t) (colon - data);
        const char *v = colon + 1;
        size_t vlen = len - klen - 1;
#define IS(name) (klen == strlen(name) && strncasecmp(data, name, klen) == 0)
        if (IS("Content-Type"))
                set_str(r->content_type, sizeof(r->content_type), v, vlen);
        else if (IS("Docker-Content-Digest"))
                set_str(r->digest, sizeof(r->digest), v, vlen);
        else if (IS("Range"))
                set_str(r->range, sizeof(r->range), v, vlen);
        else if (IS("Location")) {
                free(r->location);
                r->location = dup_str(v, vlen);
        } else if (IS("WWW-Authenticate")) {
                free(r->www_authenticate);
                r->www_authenticate = dup_str(v, vlen);
        } else if (IS("Content-Length")) {
                char buf[32];
                set_str(buf, sizeof(buf), v, vlen);
                r->content_length = strtoll(buf, NULL, 10);
        }
#undef IS
        return len;
}

struct xfer_conn {
        struct xfer x;
        CURL *h;
};

static size_t on_body_conn(char *data, size_t size, size_t n, void *opaque) {
        struct xfer_conn *xc = opaque;
        struct xfer *x = &xc->x;
        size_t len = size * n;
        long status = 0;
        (void) curl_easy_getinfo(xc->h, CURLINFO_RESPONSE_CODE, &status); /* known once headers are in */
        if (status >= 200 && status < 300 && x->rq->sink) {
                errno = 0;
                size_t took = x->rq->sink(x->rq->sink_opaque, data, len);
                if (took != len) {
                        x->resp->sink_failed = true;
                        x->resp->sink_errno = errno; /* the write's own reason (ENOSPC), or 0 */
                }
                return took;
        }
        size_t max = status >= 200 && status < 300 ? (x->rq->max_body ? x->rq->max_body : DEFAULT_MAX_BODY)
                                                   : DIST_ERROR_BODY_MAX;
        struct dist_resp *r = x->resp;
        if (r->body_len + len > max) {
                x->too_large = true;
                return 0;
        }
        if (r->body_len + len + 1 > x->body_cap) {
                size_t cap = x->body_cap ? x->body_cap : 16384;
                while (cap < r->body_len + len + 1)
                        cap *= 2;
                char *b = realloc(r->body, cap);
                if (!b)
                        return 0;
                r->body = b;
                x->body_cap = cap;
        }
        memcpy(r->body + r->body_len, data, len);
        r->body_len += len;
        r->body[r->body_len] = '\0';
        return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *opaque) {
        struct xfer_conn *xc = opaque;
        struct xfer *x = &xc->x;
        const struct dist_req *rq = x->rq;
        size_t max = size * n;
        if (x->sent >= rq->body_fd_len)
                return 0;
        if ((int64_t) max > rq->body_fd_len - x->sent)
                max = (size_t) (rq->body_fd_len - x->sent);
        ssize_t got;
        do
                got = pread(rq->body_fd, buf, max, rq->body_fd_offset + x->sent);
        while (got < 0 && errno == EINTR);
        if (got <= 0)
                return CURL_READFUNC_ABORT; /* the file shrank or failed */
        x->sent += got;
        if (rq->on_upload)
                rq->on_upload(rq->upload_opaque, x->sent);
        return (size_t) got;
}

static int on_xferinfo(void *opaque, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
        struct xfer_conn *xc = opaque;
        struct dist_client *c = xc->x.c;
        return c && c->cancelled && c->cancelled(c->opaque) ? 1 : 0;
}

/* The Authorization header for the client's current credentials ("" for none). */
static void auth_header(struct dist_client *c, char *out, size_t size) {
        out[0] = '\0';
        pthread_mutex_lock(&c->lock);
        if (c->scheme == DIST_AUTH_BEARER && c->token)
                snprintf(out, size, "Authorization: Bearer %s", c->token);
        else if (c->scheme == DIST_AUTH_BASIC && c->auth && c->auth->username) {
                _cleanup_free_ char *pair = NULL;
                if (asprintf(&pair, "%s:%s", c->auth->username, c->auth->password ? c->auth->password : "") >= 0) {
                        _cleanup_free_ char *b64 = dist_base64(pair, strlen(pair));
                        if (b64)
                                snprintf(out, size, "Authorization: Basic %s", b64);
                }
        }
        pthread_mutex_unlock(&c->lock);
}

static int perform(struct dist_client *c, struct dist_conn *conn, const struct dist_req *rq, struct dist_resp *resp,
                   struct berr *err) {
        CURL *h = conn->h;
        curl_easy_reset(h);
        dist_resp_done(resp);
        resp->content_length = -1;
        struct xfer_conn xc = { .x = { .c = c, .rq = rq, .resp = resp }, .h = h };
        char url[8192];
        if (strncmp(rq->url, "http://", 7) == 0 || strncmp(rq->url, "https://", 8) == 0)
                snprintf(url, sizeof(url), "%s", rq->url);
        else
                snprintf(url, sizeof(url), "%s%s", c->ep.base, rq->url);

        struct curl_slist *hdrs = NULL;
        char line[8192];
        if (rq->accept) {
                snprintf(line, sizeof(line), "Accept: %s", rq->accept);
                hdrs = curl_slist_append(hdrs, line);
        }
        if (rq->content_type) {
                snprintf(line, sizeof(line), "Content-Type: %s", rq->content_type);
                hdrs = curl_slist_append(hdrs, line);
        }
        if (rq->range) {
                snprintf(line, sizeof(line), "Range: %s", rq->range);
                hdrs = curl_slist_append(hdrs, line);
        }
        if (rq->content_range) {
                snprintf(line, sizeof(line), "Content-Range: %s", rq->content_range);
                hdrs = curl_slist_append(hdrs, line);
        }
        auth_header(c, line, sizeof(line));
        if (line[0])
                hdrs = curl_slist_append(hdrs, line);
        hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
        hdrs = curl_slist_append(hdrs, "Docker-Distribution-Api-Version: registry/2.0");

        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "docker/26.1.5 go/go1.21 os/linux arch/amd64 (berth)");
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_TIME_S);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, rq->no_redirect ? 0L : 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
        /* Redirects to storage must not carry the registry's Authorization (curl drops
         * custom Authorization headers on a change of host unless told otherwise). */
        curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        /* daemon.json "proxies" win over the environment (dockerd sets its environment
         * from them); without them curl reads http_proxy, https_proxy and no_proxy. */
        dist_config_rdlock();
        const struct dist_config *pc = dist_config();
        const char *proxy = strncmp(url, "https:", 6) == 0 ? pc->https_proxy : pc->http_proxy;
        if (proxy)
                curl_easy_setopt(h, CURLOPT_PROXY, proxy);
        if (pc->no_proxy)
                curl_easy_setopt(h, CURLOPT_NOPROXY, pc->no_proxy);
        dist_config_unlock();
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &xc.x);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body_conn);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &xc);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &xc);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->ep.verify_tls ? 1L : 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->ep.verify_tls ? 2L : 0L);
        if (c->ep.ca_file[0])
                curl_easy_setopt(h, CURLOPT_CAINFO, c->ep.ca_file);
        if (c->ep.cert_file[0]) {
                curl_easy_setopt(h, CURLOPT_SSLCERT, c->ep.cert_file);
                curl_easy_setopt(h, CURLOPT_SSLKEY, c->ep.key_file);
        }
        if (STREQ(rq->method, "HEAD"))
                curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        else if (rq->body_fd >= 0) {
                curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
                curl_easy_setopt(h, CURLOPT_READDATA, &xc);
                curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t) rq->body_fd_len);
                if (!STREQ(rq->method, "PUT"))
                        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
        } else if (STREQ(rq->method, "POST") || STREQ(rq->method, "PUT") || STREQ(rq->method, "PATCH")) {
                curl_easy_setopt(h, CURLOPT_POST, 1L);
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? (const char *) rq->body : "");
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) rq->body_len);
                if (!STREQ(rq->method, "POST"))
                        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
        } else if (!STREQ(rq->method, "GET"))
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);

        CURLcode cr = curl_easy_perform(h);
        curl_slist_free_all(hdrs);
        (void) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        if (cr == CURLE_ABORTED_BY_CALLBACK)
                return berr_set(err, BERR_UNAVAILABLE, ECANCELED, "operation cancelled");
        if (xc.x.too_large)
                return berr_set(err, BERR_INVALID, EFBIG, "%s %s: response too large", rq->method, url);
        if (cr == CURLE_WRITE_ERROR && resp->sink_failed && resp->sink_errno)
                return berr_set(err, BERR_INTERNAL, resp->sink_errno, "%s %s: cannot store the response: %s", rq->method,
                                url, strerror(resp->sink_errno));
        if (cr == CURLE_WRITE_ERROR && resp->sink_failed)
                return berr_set(err, BERR_INTERNAL, EIO, "%s %s: cannot store the response", rq->method, url);
        if (cr != CURLE_OK) {
                /* Go's wording, which users know from dockerd: Get "URL": reason */
                char method[16];
                snprintf(method, sizeof(method), "%c%s", rq->method[0], rq->method + 1);
                for (char *p = method + 1; *p; p++)
                        *p = (char) (*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
                const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cr);
                /* Certificate failures in Go's words, which scripts grep for. */
                if (cr == CURLE_PEER_FAILED_VERIFICATION && strstr(why, "local issuer"))
                        why = "tls: failed to verify certificate: x509: certificate signed by unknown authority";
                else if (cr == CURLE_PEER_FAILED_VERIFICATION && strstr(why, "expired"))
                        why = "tls: failed to verify certificate: x509: certificate has expired or is not yet valid";
                /* A refused connection as Go's dialer words it, with the address it dialled. */
                char dial[REFERENCE_NAME_MAX + 64];
                long os_errno = 0;
                if (cr == CURLE_COULDNT_CONNECT && curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK &&
                    os_errno == ECONNREFUSED) {
                        /* libcurl keeps no address of a failed connect: the URL's host and port. */
                        const char *hp = strstr(url, "://");
                        bool tls = strncmp(url, "https:", 6) == 0;
                        if (hp) {
                                hp += 3;
                                size_t len = strcspn(hp, "/?");
                                const char *close = hp[0] == '[' ? memchr(hp, ']', len) : NULL;
                                const char *colon = close ? (close[1] == ':' ? close + 1 : NULL) : memchr(hp, ':', len);
                                size_t hlen = colon ? (size_t) (colon - hp) : len;
                                if (colon)
                                        snprintf(dial, sizeof(dial), "dial tcp %.*s: connect: connection refused", (int) len,
                                                 hp);
                                else
                                        snprintf(dial, sizeof(dial), "dial tcp %.*s:%s: connect: connection refused",
                                                 (int) hlen, hp, tls ? "443" : "80");
                                why = dial;
                        }
                }
                return berr_set(err, BERR_UNAVAILABLE, EIO, "%s \"%s\": %s", method, url, why);
        }
        return 0;
}

/* After a 401: learn the challenge and get credentials for it. Returns 1 when a retry
 * may succeed, 0 when not. */
static int handle_challenge(struct dist_client *c, struct dist_conn *conn, const struct dist_resp *resp,
                            struct berr *err) {
        struct dist_challenge ch;
        dist_challenge_parse(resp->www_authenticate, &ch);
        int r = 0;
        if (ch.scheme == DIST_AUTH_BASIC) {
                pthread_mutex_lock(&c->lock);
                bool had = c->scheme == DIST_AUTH_BASIC;
                c->scheme = DIST_AUTH_BASIC;
                pthread_mutex_unlock(&c->lock);
                r = !had && c->auth && c->auth->username ? 1 : 0;
        } else if (ch.scheme == DIST_AUTH_BEARER) {
                pthread_mutex_lock(&c->lock);
                free(c->realm);
                free(c->service);
                c->realm = ch.realm ? strdup(ch.realm) : NULL;
                c->service = ch.service ? strdup(ch.service) : NULL;
                _cleanup_free_ char *realm = c->realm ? strdup(c->realm) : NULL;
                _cleanup_free_ char *service = c->service ? strdup(c->service) : NULL;
                _cleanup_free_ char *scopes = c->scopes ? strdup(c->scopes) : NULL;
                _cleanup_free_ char *old = c->token ? strdup(c->token) : NULL;
                pthread_mutex_unlock(&c->lock);
                char *tok = NULL;
                r = dist_token_get(conn, &c->ep, realm, service, scopes, c->auth, &tok, NULL, err);
                if (r == 0) {
                        pthread_mutex_lock(&c->lock);
                        free(c->token);
                        c->token = tok;
                        c->scheme = DIST_AUTH_BEARER;
                        pthread_mutex_unlock(&c->lock);
                        /* The same token refused again: retrying cannot help. */
                        r = old && STREQ(old, tok) ? 0 : 1;
                }
        }
        dist_challenge_done(&ch);
        return r;
}

int dist_do(struct dist_client *c, struct dist_conn *conn, const struct dist_req *rq, struct dist_resp *resp,
            struct berr *err) {
        int r = perform(c, conn, rq, resp, err);
        if (r < 0 || resp->status != 401 || rq->no_auth_retry)
                return r;
        r = handle_challenge(c, conn, resp, err);
        if (r <= 0)
                return r; /* the 401 stands (or the token fetch failed) */
        return perform(c, conn, rq, resp, err);
}

int dist_resp_error(const struct dist_resp *r, const char *what, struct berr *err) {
        enum berr_kind kind = r->status == 401   ? BERR_UNAUTHORIZED
                              : r->status == 403 ? BERR_FORBIDDEN
                              : r->status == 404 ? BERR_NOT_FOUND
                              : r->status == 429 || r->status >= 500 ? BERR_UNAVAILABLE
                                                                     : BERR_INVALID;
        char text[768] = "";
        _cleanup_json_ json_t *doc = r->body ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
        json_t *errors = json_object_get(doc, "errors");
        size_t i;
        json_t *e;
        size_t n = 0;
        json_array_foreach(errors, i, e) {
                const char *code = json_string_value(json_object_get(e, "code"));
                const char *msg = json_string_value(json_object_get(e, "message"));
                if (!msg)
                        continue;
                /* distribution's errcode.Error: "code: message" with the code lower-cased and spaced */
                char lc[64] = "";
                for (size_t k = 0; code && code[k] && k + 1 < sizeof(lc); k++)
                        lc[k] = code[k] == '_' ? ' ' : (char) (code[k] >= 'A' && code[k] <= 'Z' ? code[k] - 'A' + 'a' : code[k]);
                n += (size_t) snprintf(text + n, n < sizeof(text) ? sizeof(text) - n : 0, "%s%s%s%s", n ? ", " : "",
                                       lc[0] ? lc : "", lc[0] ? ": " : "", msg);
                if (n >= sizeof(text))
                        break;
        }
        const char *details = json_string_value(json_object_get(doc, "details"));
        if (!text[0] && details && details[0]) /* token servers (Docker Hub's): {"details": "..."} */
                snprintf(text, sizeof(text), "%s: %s",
                         r->status == 401 ? "unauthorized" : r->status == 429 ? "toomanyrequests" : "unknown", details);
        if (!text[0] && (r->status == 401 || r->status == 403))
                /* A HEAD answer has no body: distribution's words for the usual cause. */
                snprintf(text, sizeof(text), "%s", r->status == 401 ? "unauthorized: authentication required"
                                                                  : "denied: requested access to the resource is denied");
        if (!text[0]) {
                const char *reason = r->status == 401   ? "Unauthorized"
                                     : r->status == 403 ? "Forbidden"
                                     : r->status == 404 ? "Not Found"
                                     : r->status == 429 ? "Too Many Requests"
                                     : r->status >= 500 ? "Internal Server Error"
                                                        : "Bad Request";
                snprintf(text, sizeof(text), "unexpected status from registry: %ld %s", r->status, reason);
        }
        return berr_set(err, kind, kind == BERR_NOT_FOUND ? ENOENT : EIO, "%s%s%s", what, what[0] ? ": " : "", text);
}

/* ---- endpoints ---- */

void dist_client_add_scope(struct dist_client *c, const char *repo, const char *actions) {
        char scope[REFERENCE_NAME_MAX + 64];
        snprintf(scope, sizeof(scope), "repository:%s:%s", repo, actions);
        pthread_mutex_lock(&c->lock);
        if (!c->scopes || !strstr(c->scopes, scope)) {
                char *n = NULL;
                if (asprintf(&n, "%s%s%s", c->scopes ? c->scopes : "", c->scopes ? " " : "", scope) >= 0) {
                        free(c->scopes);
                        c->scopes = n;
                        /* The token does not cover the new scope: the next 401 fetches one that does. */
                        free(c->token);
                        c->token = NULL;
                }
        }
        pthread_mutex_unlock(&c->lock);
}

struct dist_client *dist_client_free(struct dist_client *c) {
        if (!c)
                return NULL;
        pthread_mutex_destroy(&c->lock);
        free(c->realm);
        free(c->service);
        free(c->scopes);
        free(c->token);
        free(c);
        return NULL;
}

/* Probe GET /v2/ on @ep. Any HTTP answer means the endpoint speaks; a 401 tells how to
 * authenticate. */
static int ping(struct dist_client *c, struct dist_conn *conn, struct berr *err) {
        struct dist_resp resp = { 0 };
        struct dist_req rq = { .method = "GET", .url = "/v2/", .body_fd = -1, .no_auth_retry = true };
        int r = perform(c, conn, &rq, &resp, err);
        if (r == 0 && resp.status == 401) {
                struct dist_challenge ch;
                dist_challenge_parse(resp.www_authenticate, &ch);
                pthread_mutex_lock(&c->lock);
                if (ch.scheme == DIST_AUTH_BASIC)
                        c->scheme = DIST_AUTH_BASIC;
                else if (ch.scheme == DIST_AUTH_BEARER) {
                        free(c->realm);
                        free(c->service);
                        c->realm = TAKE_PTR(ch.realm);
                        c->service = TAKE_PTR(ch.service);
                }
                pthread_mutex_unlock(&c->lock);
                dist_challenge_done(&ch);
        }
        dist_resp_done(&resp);
        return r;
}

int dist_client_for_base(const char *base, const char *host, bool verify, const struct dist_auth *auth,
                         struct dist_client **ret, struct berr *err) {
        struct dist_client *c = calloc(1, sizeof(*c));
        if (!c)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pthread_mutex_init(&c->lock, NULL);
        snprintf(c->registry, sizeof(c->registry), "%s", host);
        snprintf(c->ep.base, sizeof(c->ep.base), "%s", base);
        snprintf(c->ep.host, sizeof(c->ep.host), "%s", host);
        c->ep.verify_tls = verify;
        c->auth = auth;
        dist_endpoint_certs(&c->ep);
        *ret = c;
        return 0;
}

int dist_client_open(const struct reference *ref, const struct dist_auth *auth, const char *actions,
                     bool use_mirrors, dist_cancelled_fn cancelled, void *opaque, struct dist_client **ret,
                     struct berr *err) {
        return dist_client_open_from(ref, auth, actions, use_mirrors ? 0 : SIZE_MAX, cancelled, opaque, ret, err);
}

int dist_client_open_from(const struct reference *ref, const struct dist_auth *auth, const char *actions,
                          size_t first_mirror, dist_cancelled_fn cancelled, void *opaque, struct dist_client **ret,
                          struct berr *err) {
        struct dist_client *c = calloc(1, sizeof(*c));
        if (!c)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pthread_mutex_init(&c->lock, NULL);
        snprintf(c->registry, sizeof(c->registry), "%s", ref->domain);
        snprintf(c->repo, sizeof(c->repo), "%s", ref->path);
        c->auth = auth;
        c->cancelled = cancelled;
        c->opaque = opaque;
        if (ref->path[0] && actions[0])
                dist_client_add_scope(c, ref->path, actions);

        /* Candidates in dockerd's order. */
        struct cand {
                char base[REFERENCE_NAME_MAX + 16];
                char host[REFERENCE_NAME_MAX + 1];
                bool verify, mirror;
                size_t mirror_index;
        } cands[DIST_MAX_LIST + 2];
        size_t n = 0;
        bool hub = STREQ(ref->domain, REFERENCE_DEFAULT_DOMAIN);
        struct dist_config *cfg = dist_config();
        dist_config_rdlock();
        if (hub)
                for (size_t i = first_mirror; i < cfg->n_mirrors && n < DIST_MAX_LIST; i++) {
                        const char *m = cfg->mirrors[i];
                        const char *h = strstr(m, "://") + 3;
                        snprintf(cands[n].base, sizeof(cands[n].base), "%s", m);
                        snprintf(cands[n].host, sizeof(cands[n].host), "%.*s", (int) strcspn(h, "/"), h);
                        cands[n].verify = !dist_host_is_insecure(cands[n].host);
                        cands[n].mirror = true;
                        cands[n].mirror_index = i;
                        n++;
                }
        dist_config_unlock();
        const char *host = hub ? DOCKER_HUB_HOST : ref->domain;
        bool insecure = !hub && dist_host_is_insecure(host);
        snprintf(cands[n].base, sizeof(cands[n].base), "https://%s", host);
        snprintf(cands[n].host, sizeof(cands[n].host), "%s", host);
        cands[n].verify = !insecure;
        cands[n].mirror = false;
        n++;
        if (insecure) {
                snprintf(cands[n].base, sizeof(cands[n].base), "http://%s", host);
                snprintf(cands[n].host, sizeof(cands[n].host), "%s", host);
                cands[n].verify = false;
                cands[n].mirror = false;
                n++;
        }

        struct dist_conn conn = { 0 };
        int r = dist_conn_open(&conn, err);
        for (size_t i = 0; r == 0 && i < n; i++) {
                _Static_assert(sizeof(c->ep.base) == sizeof(cands[i].base) && sizeof(c->ep.host) == sizeof(cands[i].host),
                               "a candidate fits the endpoint");
                memcpy(c->ep.base, cands[i].base, sizeof(c->ep.base));
                memcpy(c->ep.host, cands[i].host, sizeof(c->ep.host));
                c->ep.verify_tls = cands[i].verify;
                c->ep.is_mirror = cands[i].mirror;
                c->ep.mirror_index = cands[i].mirror ? cands[i].mirror_index : 0;
                dist_endpoint_certs(&c->ep);
                struct berr perr = { 0 };
                if (ping(c, &conn, &perr) == 0) {
                        dist_conn_close(&conn);
                        *ret = c;
                        return 0;
                }
                *err = perr; /* the last endpoint's failure is the one reported */
                r = perr.errnum == ECANCELED ? -ECANCELED : 0;
                if (i + 1 == n)
                        r = -(err->errnum ? err->errnum : EIO);
        }
        dist_conn_close(&conn);
        dist_client_free(c);
        return r < 0 ? r : berr_set(err, BERR_UNAVAILABLE, EIO, "no endpoint for %s", ref->domain);
}
