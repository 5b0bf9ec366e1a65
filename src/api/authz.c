/* authz.c - authorization plugins (--authorization-plugin), as dockerd's
 * pkg/authorization: every request of a matched route goes to each plugin in order
 * (AuthZPlugin.AuthZReq) before its handler runs, and its answer (AuthZPlugin.AuthZRes)
 * before it is sent. A denial is 403 "authorization denied by plugin NAME: MSG"; a plugin
 * that cannot be reached or answers an error fails the request closed (500, "plugin NAME
 * failed with error: ..."). The request record sent is dockerd's authorization.Request:
 * User and UserAuthNMethod ("TLS") from the client certificate, RequestMethod,
 * RequestUri, RequestBody (base64 by JSON; only JSON bodies under 1 MiB, never for
 * .../auth), RequestHeaders without Authorization, X-Registry-Auth and X-Registry-Config;
 * the response adds ResponseStatusCode, ResponseHeaders and, for JSON answers given whole,
 * ResponseBody. Differs from dockerd in one way: a streamed or upgraded answer (logs -f,
 * attach) is shown to AuthZRes with its headers before it starts, so a plugin's "no"
 * stops it, where dockerd asks only after the stream ended. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "daemon/daemon.h"
#include "daemon/reload.h"
#include "http.h"
#include "plugin/plugin.h"

#define MAX_BODY_BYTES (1u << 20)          /* dockerd's maxBodySize */
#define MAX_RESPONSE_BODY_BYTES (64u << 10) /* dockerd's maxBufferSize */
/* dockerd waits for an authorization plugin without a bound; berth bounds a call. */
#define AUTHZ_TIMEOUT_MS 60000

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* dockerd's sendBody: not for .../auth, and only for application/json. */
static bool send_body(const char *uri, const char *content_type) {
        char path[4096];
        snprintf(path, sizeof(path), "%.*s", (int) strcspn(uri, "?"), uri);
        if (ends_with(path, "/auth"))
                return false;
        if (!content_type)
                return false;
        size_t n = strcspn(content_type, ";");
        while (n > 0 && content_type[n - 1] == ' ')
                n--;
        return n == strlen("application/json") && strncasecmp(content_type, "application/json", n) == 0;
}

static json_t *base64(const void *data, size_t len) {
        size_t out_len = 4 * ((len + 2) / 3) + 1;
        _cleanup_free_ unsigned char *out = malloc(out_len);
        if (!out)
                return NULL;
        int n = EVP_EncodeBlock(out, data, (int) len);
        return n < 0 ? NULL : json_stringn((const char *) out, (size_t) n);
}

static bool hidden_header(const char *k) {
        return strcasecmp(k, "Authorization") == 0 || strcasecmp(k, "X-Registry-Config") == 0 ||
               strcasecmp(k, "X-Registry-Auth") == 0;
}

/* Go's http.Header keys are canonical ("content-type" -> "Content-Type"). */
static json_t *flat_headers(json_t *headers) {
        json_t *out = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(headers, k, v) {
                if (hidden_header(k))
                        continue;
                char key[256];
                snprintf(key, sizeof(key), "%s", k);
                bool up = true;
                for (char *c = key; *c; c++) {
                        if (up && *c >= 'a' && *c <= 'z')
                                *c = (char) (*c - 'a' + 'A');
                        else if (!up && *c >= 'A' && *c <= 'Z')
                                *c = (char) (*c - 'A' + 'a');
                        up = *c == '-';
                }
                json_object_set(out, key, v);
        }
        return out;
}

/* Ask each plugin in turn: 0 when all allow. The list is copied first: SIGHUP may
 * replace it meanwhile. */
static int ask(struct daemon *d, const char *method, json_t *record, struct berr *err) {
        char names[DAEMON_MAX_LIST][256];
        size_t n = 0;
        daemon_opts_rdlock();
        for (; n < d->cfg.n_authz_plugins && n < DAEMON_MAX_LIST; n++)
                snprintf(names[n], sizeof(names[n]), "%s", d->cfg.authz_plugins[n]);
        daemon_opts_unlock();
        for (size_t i = 0; i < n; i++) {
                const char *name = names[i];
                struct plugin *p;
                struct berr e = { 0 };
                _cleanup_json_ json_t *res = NULL;
                if (plugin_get(d->plugins, name, PLUGIN_KIND_AUTHZ, &p, &e) < 0 ||
                    plugin_call(p, method, record, AUTHZ_TIMEOUT_MS, &res, &e) < 0)
                        return berr_set(err, BERR_INTERNAL, EIO, "plugin %s failed with error: %s", name, e.msg);
                const char *perr = json_string_value(json_object_get(res, "Err"));
                if (perr && *perr)
                        return berr_set(err, BERR_INTERNAL, EIO, "plugin %s failed with error: %s", name, perr);
                if (!json_is_true(json_object_get(res, "Allow")))
                        return berr_set(err, BERR_FORBIDDEN, EACCES, "authorization denied by plugin %s: %s", name,
                                        json_string_value(json_object_get(res, "Msg")) ?: "");
        }
        return 0;
}

static int authz_request(void *ctx, struct api_request *req, json_t *headers, struct berr *err) {
        struct daemon *d = ctx;
        json_t *rec = json_pack("{s:s, s:s}", "RequestMethod", req->method, "RequestUri", req->raw_uri);
        if (!rec)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        req->authz = rec; /* freed with the request */
        if (req->peer_user && *req->peer_user) {
                json_object_set_new(rec, "User", json_string(req->peer_user));
                json_object_set_new(rec, "UserAuthNMethod", json_string("TLS"));
        }
        const char *ct = json_string_value(json_object_get(headers, "Content-Type"));
        if (!ct) { /* MHD keeps the client's spelling */
                const char *k;
                json_t *v;
                json_object_foreach(headers, k, v) if (strcasecmp(k, "Content-Type") == 0) ct = json_string_value(v);
        }
        if (req->body && req->body_len > 0 && req->body_len < MAX_BODY_BYTES && send_body(req->raw_uri, ct))
                json_object_set_new(rec, "RequestBody", base64(req->body, req->body_len));
        json_t *flat = flat_headers(headers);
        if (json_object_size(flat))
                json_object_set_new(rec, "RequestHeaders", flat);
        else
                json_decref(flat);
        return ask(d, "AuthZPlugin.AuthZReq", rec, err);
}

static int authz_response(void *ctx, struct api_request *req, unsigned status, json_t *headers, const char *body,
                          size_t body_len, struct berr *err) {
        struct daemon *d = ctx;
        if (!req->authz)
                return 0;
        _cleanup_json_ json_t *rec = json_copy(req->authz);
        if (!rec)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        json_object_set_new(rec, "ResponseStatusCode", json_integer(status));
        json_t *flat = flat_headers(headers);
        json_object_set_new(rec, "ResponseHeaders", flat);
        if (body && body_len > 0 && body_len <= MAX_RESPONSE_BODY_BYTES &&
            send_body(req->raw_uri, json_string_value(json_object_get(flat, "Content-Type"))))
                json_object_set_new(rec, "ResponseBody", base64(body, body_len));
        return ask(d, "AuthZPlugin.AuthZRes", rec, err);
}

static bool authz_active(void *ctx) {
        struct daemon *d = ctx;
        daemon_opts_rdlock();
        bool any = d->cfg.n_authz_plugins > 0;
        daemon_opts_unlock();
        return any;
}

const struct api_authz_hooks *api_authz_hooks(struct daemon *d) {
        static struct api_authz_hooks hooks = { .active = authz_active, .request = authz_request,
                                                .response = authz_response };
        hooks.ctx = d;
        return &hooks;
}
