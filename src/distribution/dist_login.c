/* dist_login.c - `docker login` (check credentials against a registry the way dockerd's
 * loginV2 does: GET /v2/ with them, through the token server when the registry names
 * one) and GET /distribution/{name}/json (a manifest's descriptor and platforms). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "dist_int.h"

#define ACCEPT_ALL MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST ", " MT_OCI_INDEX ", " MT_OCI_MANIFEST

/* "https://index.docker.io/v1/" -> "docker.io"; "http://h:5000/x" -> "h:5000". */
static void server_host(const char *addr, char out[REFERENCE_NAME_MAX + 1]) {
        if (!addr || !addr[0])
                addr = REFERENCE_DEFAULT_DOMAIN;
        const char *p = strstr(addr, "://");
        p = p ? p + 3 : addr;
        snprintf(out, REFERENCE_NAME_MAX + 1, "%.*s", (int) strcspn(p, "/"), p);
        if (STREQ(out, "index.docker.io") || STREQ(out, "registry-1.docker.io"))
                snprintf(out, REFERENCE_NAME_MAX + 1, "%s", REFERENCE_DEFAULT_DOMAIN);
}

int dist_login(const struct dist_auth *auth, char **ret_identity_token, struct berr *err) {
        struct reference ref = { 0 };
        server_host(auth->server_address, ref.domain);
        struct dist_client *c = NULL;
        int r = dist_client_open(&ref, auth, "", false, NULL, NULL, &c, err);
        if (r < 0)
                return r;
        struct dist_conn conn = { 0 };
        r = dist_conn_open(&conn, err);
        if (r < 0) {
                dist_client_free(c);
                return r;
        }
        struct dist_resp resp = { 0 };
        struct dist_req rq = { .method = "GET", .url = "/v2/", .body_fd = -1 };
        char *refresh = NULL; /* the identity token, when the token server hands one out */
        if (c->realm) {
                /* Bearer: the token server judges the credentials. */
                char *tok = NULL;
                r = dist_token_get(&conn, &c->ep, c->realm, c->service, "", auth, &tok, &refresh, err);
                if (r == 0) {
                        pthread_mutex_lock(&c->lock);
                        free(c->token);
                        c->token = tok;
                        c->scheme = DIST_AUTH_BEARER;
                        pthread_mutex_unlock(&c->lock);
                } else if (err->kind == BERR_UNAUTHORIZED) {
                        berr_wrap(err, "Get \"%s/v2/\"", c->ep.base);
                }
        }
        if (r == 0) {
                r = dist_do(c, &conn, &rq, &resp, err);
                if (r == 0 && resp.status != 200) {
                        r = berr_set(err, resp.status == 401 ? BERR_UNAUTHORIZED : BERR_INVALID, EACCES,
                                     "login attempt to %s/v2/ failed with status: %ld %s", c->ep.base, resp.status,
                                     resp.status == 401 ? "Unauthorized" : resp.status == 403 ? "Forbidden" : "Error");
                }
        }
        dist_resp_done(&resp);
        dist_conn_close(&conn);
        dist_client_free(c);
        if (r < 0) {
                free(refresh);
                return r;
        }
        *ret_identity_token = refresh ? refresh : strdup("");
        return *ret_identity_token ? 0 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
}

/* Platforms of an index's entries, or of the single manifest's config. */
static json_t *platforms_of(struct dist_client *c, struct dist_conn *conn, json_t *body, enum dist_manifest_kind kind) {
        json_t *out = json_array();
        if (kind == DIST_KIND_INDEX) {
                size_t i;
                json_t *m;
                json_array_foreach(json_object_get(body, "manifests"), i, m) {
                        json_t *p = json_object_get(m, "platform");
                        if (json_is_object(p))
                                json_array_append(out, p);
                }
                return out;
        }
        const char *cd = json_string_value(json_object_get(json_object_get(body, "config"), "digest"));
        if (!cd || !digest_is_sha256(cd))
                return out;
        char url[REFERENCE_NAME_MAX + 128];
        snprintf(url, sizeof(url), "/v2/%s/blobs/%s", c->repo, cd);
        struct dist_req rq = { .method = "GET", .url = url, .body_fd = -1, .max_body = DIST_CONFIG_MAX };
        struct dist_resp resp = { 0 };
        struct berr e2;
        if (dist_do(c, conn, &rq, &resp, &e2) == 0 && resp.status == 200) {
                _cleanup_json_ json_t *cfg = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
                json_t *p = json_object();
                const char *keys[] = { "architecture", "os", "variant", "os.version" };
                for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                        const char *v = json_string_value(json_object_get(cfg, keys[i]));
                        if (v && v[0])
                                json_object_set_new(p, keys[i], json_string(v));
                }
                json_array_append_new(out, p);
        }
        dist_resp_done(&resp);
        return out;
}

int dist_inspect(const char *name, const struct dist_auth *auth, json_t **ret, struct berr *err) {
        struct reference ref;
        int r = reference_parse_with_default_tag(name, &ref, err);
        if (r < 0)
                return r;
        struct dist_client *c = NULL;
        r = dist_client_open(&ref, auth, "pull", true, NULL, NULL, &c, err);
        if (r < 0)
                return r;
        struct dist_conn conn = { 0 };
        r = dist_conn_open(&conn, err);
        char url[REFERENCE_NAME_MAX + 256];
        snprintf(url, sizeof(url), "/v2/%s/manifests/%s", c->repo, ref.digest[0] ? ref.digest : ref.tag);
        struct dist_req rq = { .method = "GET", .url = url, .accept = ACCEPT_ALL, .body_fd = -1,
                               .max_body = DIST_MANIFEST_MAX };
        struct dist_resp resp = { 0 };
        if (r == 0)
                r = dist_do(c, &conn, &rq, &resp, err);
        if (r == 0 && resp.status != 200) {
                char fam[REFERENCE_STRING_MAX];
                reference_familiar_string(&ref, fam);
                r = dist_resp_error(&resp, fam, err);
        }
        char digest[DIGEST_STRING_MAX];
        if (r == 0)
                r = digest_sha256_buf(resp.body ? resp.body : "", resp.body_len, digest, err);
        if (r == 0 && ref.digest[0] && !STREQ(ref.digest, digest))
                r = berr_set(err, BERR_INVALID, EINVAL, "manifest digest mismatch: expected %s, got %s", ref.digest, digest);
        if (r == 0) {
                _cleanup_json_ json_t *body = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
                enum dist_manifest_kind kind = dist_manifest_kind(resp.content_type, body);
                const char *mt = json_string_value(json_object_get(body, "mediaType"));
                char ctype[256];
                snprintf(ctype, sizeof(ctype), "%.*s", (int) strcspn(resp.content_type, ";"), resp.content_type);
                json_t *platforms = platforms_of(c, &conn, body, kind);
                *ret = json_pack("{s:{s:s, s:s, s:I}, s:o}", "Descriptor", "mediaType", mt ? mt : ctype, "digest", digest,
                                 "size", (json_int_t) resp.body_len, "Platforms", platforms);
                if (!*ret)
                        r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        dist_resp_done(&resp);
        dist_conn_close(&conn);
        dist_client_free(c);
        return r;
}
