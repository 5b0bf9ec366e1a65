/* dist_search.c - `docker search`: the v1 search API of a registry index, asked the way
 * dockerd's registry service asks it (a _ping first, https then http for an insecure
 * registry, with dockerd's errors when neither answers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "dist_curl.h"
#include "dist_int.h"

#define SEARCH_MAX_BODY (4u << 20)
#define DOCKER_INDEX_HOST "index.docker.io"

/* dockerd's splitReposSearchTerm: a first component with a '.' or ':' (or "localhost")
 * names the index; anything else is Docker Hub's. */
static void split_term(const char *term, char index[REFERENCE_NAME_MAX + 1], const char **remote, bool *official) {
        const char *slash = strchr(term, '/');
        size_t first = slash ? (size_t) (slash - term) : strlen(term);
        bool names_index = slash && (memchr(term, '.', first) || memchr(term, ':', first) ||
                                     (first == 9 && strncmp(term, "localhost", 9) == 0));
        if (!names_index || first > REFERENCE_NAME_MAX) {
                snprintf(index, REFERENCE_NAME_MAX + 1, "%s", REFERENCE_DEFAULT_DOMAIN);
                *remote = term;
                *official = true;
        } else {
                snprintf(index, REFERENCE_NAME_MAX + 1, "%.*s", (int) first, term);
                *remote = slash + 1;
                *official = STREQ(index, REFERENCE_DEFAULT_DOMAIN) || STREQ(index, DOCKER_INDEX_HOST);
        }
        if (*official && strncmp(*remote, "library/", 8) == 0)
                *remote += 8;
}

static int get(struct dist_client *c, struct dist_conn *conn, const char *url, struct dist_resp *resp,
               struct berr *err) {
        struct dist_req rq = { .method = "GET", .url = url, .body_fd = -1, .max_body = SEARCH_MAX_BODY };
        return dist_do(c, conn, &rq, resp, err);
}

/* dockerd's newV1Endpoint: the endpoint answers a _ping (any HTTP answer will do). */
static int open_endpoint(const char *host, bool insecure, const struct dist_auth *auth, struct dist_conn *conn,
                         struct dist_client **ret, struct berr *err) {
        char base[REFERENCE_NAME_MAX + 16];
        snprintf(base, sizeof(base), "https://%s", host);
        struct dist_client *c = NULL;
        int r = dist_client_for_base(base, host, !insecure, auth, &c, err);
        if (r < 0)
                return r;
        struct dist_resp resp = { 0 };
        struct berr https_err = { 0 };
        r = get(c, conn, "/v1/_ping", &resp, &https_err);
        dist_resp_done(&resp);
        if (r == 0) {
                *ret = c;
                return 0;
        }
        dist_client_free(c);
        if (https_err.errnum == ECANCELED) {
                *err = https_err;
                return -ECANCELED;
        }
        if (!insecure)
                return berr_set(err, BERR_INVALID, EIO,
                                "invalid registry endpoint https://%s/v1/: %s. If this private registry supports only "
                                "HTTP or HTTPS with an unknown CA certificate, please add `--insecure-registry %s` to "
                                "the daemon's arguments. In the case of HTTPS, if you have access to the registry's CA "
                                "certificate, no need for the flag; simply place the CA certificate at "
                                "/etc/docker/certs.d/%s/ca.crt",
                                host, https_err.msg, host, host);
        snprintf(base, sizeof(base), "http://%s", host);
        if ((r = dist_client_for_base(base, host, false, auth, &c, err)) < 0)
                return r;
        struct berr http_err = { 0 };
        r = get(c, conn, "/v1/_ping", &resp, &http_err);
        dist_resp_done(&resp);
        if (r == 0) {
                *ret = c;
                return 0;
        }
        dist_client_free(c);
        return berr_set(err, BERR_INVALID, EIO, "invalid registry endpoint \"http://%s/v1/\". HTTPS attempt: %s. HTTP attempt: %s",
                        host, https_err.msg, http_err.msg);
}

static bool keep(const struct dist_search_opts *o, bool official, long stars) {
        if (o->is_automated == 1) /* nothing is automated any more (API 1.44) */
                return false;
        if (o->is_official >= 0 && official != (o->is_official == 1))
                return false;
        return stars >= o->stars;
}

int dist_search(const struct dist_search_opts *o, json_t **ret, struct berr *err) {
        if (o->limit < 1 || o->limit > 100)
                return berr_set(err, BERR_INVALID, EINVAL, "limit %d is outside the range of [1, 100]", o->limit);
        char index[REFERENCE_NAME_MAX + 1];
        const char *remote;
        bool official;
        split_term(o->term, index, &remote, &official);
        const char *host = official ? DOCKER_INDEX_HOST : index;
        bool insecure = !official && dist_host_is_insecure(host);

        struct dist_conn conn = { 0 };
        int r = dist_conn_open(&conn, err);
        if (r < 0)
                return r;
        struct dist_client *c = NULL;
        r = open_endpoint(host, insecure, o->auth, &conn, &c, err);
        if (r < 0) {
                dist_conn_close(&conn);
                return r;
        }
        char *q = curl_easy_escape(conn.h, remote, 0);
        char url[REFERENCE_STRING_MAX * 3 + 64];
        snprintf(url, sizeof(url), "/v1/search?q=%s&n=%d", q ? q : "", o->limit);
        curl_free(q);
        struct dist_resp resp = { 0 };
        r = get(c, &conn, url, &resp, err);
        if (r == 0 && resp.status != 200)
                r = berr_set(err, BERR_INTERNAL, EIO, "Unexpected status code %ld", resp.status);
        _cleanup_json_ json_t *body = NULL;
        if (r == 0 && !(body = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL)))
                r = berr_set(err, BERR_INTERNAL, EPROTO, "invalid search results from %s", c->ep.base);
        dist_resp_done(&resp);
        dist_client_free(c);
        dist_conn_close(&conn);
        if (r < 0)
                return r;
        json_t *out = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(body, "results"), i, e) {
                const char *name = json_string_value(json_object_get(e, "name"));
                if (!name)
                        continue;
                json_t *sc = json_object_get(e, "star_count");
                long stars = json_is_integer(sc) ? (long) json_integer_value(sc) : 0;
                bool off = json_is_true(json_object_get(e, "is_official"));
                if (!keep(o, off, stars))
                        continue;
                const char *desc = json_string_value(json_object_get(e, "description"));
                json_array_append_new(out, json_pack("{s:I, s:b, s:s, s:b, s:s}", "star_count", (json_int_t) stars,
                                                     "is_official", off, "name", name, "is_automated", 0,
                                                     "description", desc ? desc : ""));
        }
        *ret = out;
        return 0;
}
