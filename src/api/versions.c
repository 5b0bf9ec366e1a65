/* versions.c - the API version table (see versions.h) and the code that applies it. The
 * entries follow moby's docs/api/version-history.md for what berth serves, 1.24 to 1.45;
 * changes documented as "not versioned" apply to every version and are not here. */
#include "versions.h"

#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "http.h"

#define ALL_BEFORE(v) 0, (v)
#define FROM(v) (v), 1000

const struct api_vrule api_vrules[] = {
        /* ---- POST /containers/create ---- */
        { ALL_BEFORE(125), "POST", "/containers/create", VR_BODY_DROP, "HostConfig.AutoRemove", NULL,
          "1.25: AutoRemove (--rm in the daemon); older clients remove the container themselves" },
        { ALL_BEFORE(140), "POST", "/containers/create", VR_BODY_DEFAULT, "HostConfig.IpcMode", "shareable",
          "1.40: the default IpcMode became private; older clients expect shareable" },
        { ALL_BEFORE(142), "POST", "/containers/create", VR_BODY_DROP, "HostConfig.ConsoleSize", NULL,
          "1.42: create respects HostConfig.ConsoleSize" },
        { FROM(142), "POST", "/containers/create", VR_BODY_DROP, "HostConfig.KernelMemory", NULL,
          "1.42: KernelMemory is ignored on 1.42 and up" },
        { ALL_BEFORE(143), "POST", "/containers/create", VR_BODY_DROP, "HostConfig.Annotations", NULL,
          "1.43: create accepts HostConfig.Annotations" },
        { ALL_BEFORE(144), "POST", "/containers/create", VR_BODY_DROP, "Healthcheck.StartInterval", NULL,
          "1.44: HealthConfig.StartInterval" },
        { ALL_BEFORE(144), "POST", "/containers/create", VR_BODY_DROP,
          "HostConfig.Mounts.[].BindOptions.ReadOnlyNonRecursive", NULL,
          "1.44: BindOptions.ReadOnlyNonRecursive" },
        /* ---- container operations ---- */
        { ALL_BEFORE(140), "POST", "/containers/{id}/update", VR_BODY_DROP, "PidsLimit", NULL,
          "1.40: update accepts PidsLimit" },
        { FROM(142), "POST", "/containers/{id}/update", VR_BODY_DROP, "KernelMemory", NULL,
          "1.42: KernelMemory is ignored on 1.42 and up" },
        { ALL_BEFORE(142), "POST", "/containers/{id}/stop", VR_QUERY_IGNORE, "signal", NULL,
          "1.42: stop and restart accept a signal parameter" },
        { ALL_BEFORE(142), "POST", "/containers/{id}/restart", VR_QUERY_IGNORE, "signal", NULL,
          "1.42: stop and restart accept a signal parameter" },
        { ALL_BEFORE(130), "POST", "/containers/{id}/wait", VR_QUERY_IGNORE, "condition", NULL,
          "1.30: wait conditions" },
        { ALL_BEFORE(142), "GET", "/containers/{id}/attach/ws", VR_QUERY_FORCE, "stdin", "1",
          "1.42: attach/ws honours stdin, stdout and stderr; before, every stream is attached" },
        { ALL_BEFORE(142), "GET", "/containers/{id}/attach/ws", VR_QUERY_FORCE, "stdout", "1",
          "1.42: attach/ws honours stdin, stdout and stderr; before, every stream is attached" },
        { ALL_BEFORE(142), "GET", "/containers/{id}/attach/ws", VR_QUERY_FORCE, "stderr", "1",
          "1.42: attach/ws honours stdin, stdout and stderr; before, every stream is attached" },
        { ALL_BEFORE(128), "GET", "/containers/{id}/attach/ws", VR_VALUE, "frames", "text",
          "1.28: attach/ws sends binary frames; before, text frames" },
        { ALL_BEFORE(142), "POST", "/containers/{id}/exec", VR_BODY_DROP, "ConsoleSize", NULL,
          "1.42: exec accepts ConsoleSize" },
        { ALL_BEFORE(142), "POST", "/exec/{id}/start", VR_BODY_DROP, "ConsoleSize", NULL,
          "1.42: exec accepts ConsoleSize" },
        { ALL_BEFORE(145), "GET", "/containers/{id}/json", VR_RESP_SHORT_ALIAS, "NetworkSettings.Networks", NULL,
          "1.45: Aliases no longer contain the short container ID" },
        /* ---- images ---- */
        { ALL_BEFORE(143), "GET", "/images/json", VR_RESP_NONE_REFS, "[]", NULL,
          "1.43: untagged images have empty RepoTags and RepoDigests, no <none> placeholders" },
        { FROM(144), "GET", "/images/json", VR_RESP_DROP, "[].VirtualSize", NULL,
          "1.44: VirtualSize is omitted" },
        { FROM(144), "GET", "/images/{name*}/json", VR_RESP_DROP, "VirtualSize", NULL,
          "1.44: VirtualSize is omitted" },
        { FROM(145), "GET", "/images/{name*}/json", VR_RESP_DROP, "Container", NULL,
          "1.45: image inspect no longer includes Container and ContainerConfig" },
        { FROM(145), "GET", "/images/{name*}/json", VR_RESP_DROP, "ContainerConfig", NULL,
          "1.45: image inspect no longer includes Container and ContainerConfig" },
        { ALL_BEFORE(143), "GET", "/system/df", VR_RESP_NONE_REFS, "Images.[]", NULL,
          "1.43: untagged images have empty RepoTags and RepoDigests, no <none> placeholders" },
        { FROM(144), "GET", "/system/df", VR_RESP_DROP, "Images.[].VirtualSize", NULL,
          "1.44: VirtualSize is omitted" },
        { ALL_BEFORE(141), "GET", "/images/json", VR_FILTER_QUERY, "filter", "reference",
          "1.41: the filter parameter (a reference) is gone; filters=reference is its place" },
        /* ---- volumes ---- */
        { ALL_BEFORE(142), "POST", "/volumes/prune", VR_FILTER_ADD, "all", "true",
          "1.42: prune removes only anonymous volumes unless all=true; before, named ones too" },
};
const size_t api_n_vrules = sizeof(api_vrules) / sizeof(api_vrules[0]);

static bool applies(const struct api_vrule *r, const struct api_route *route, unsigned version,
                    enum api_vrule_kind kind) {
        return route && r->kind == kind && version >= r->from && version < r->until &&
               STREQ(r->method, route->method) && STREQ(r->pattern, route->pattern);
}

static void none_refs(json_t *img) {
        if (json_array_size(json_object_get(img, "RepoTags")) == 0 &&
            json_array_size(json_object_get(img, "RepoDigests")) == 0) {
                json_object_set_new(img, "RepoTags", json_pack("[s]", "<none>:<none>"));
                json_object_set_new(img, "RepoDigests", json_pack("[s]", "<none>@<none>"));
        }
}

/* moby's NetworkMode.IsUserDefined: not the default networks nor another's namespace. */
static bool user_defined(const char *net) {
        return !STREQ(net, "default") && !STREQ(net, "bridge") && !STREQ(net, "host") && !STREQ(net, "none") &&
               strncmp(net, "container:", 10) != 0;
}

static void short_alias(json_t *networks, const char *id) {
        if (!id || strlen(id) < 12)
                return;
        char short_id[13];
        snprintf(short_id, sizeof(short_id), "%s", id);
        const char *name;
        json_t *ep;
        json_object_foreach(networks, name, ep) {
                if (!json_is_object(ep) || !user_defined(name))
                        continue;
                json_t *aliases = json_object_get(ep, "Aliases");
                if (!json_is_array(aliases)) {
                        aliases = json_array();
                        json_object_set_new(ep, "Aliases", aliases);
                }
                size_t i;
                json_t *a;
                bool have = false;
                json_array_foreach(aliases, i, a) have = have || (json_is_string(a) && STREQ(json_string_value(a), short_id));
                if (!have)
                        json_array_append_new(aliases, json_string(short_id));
        }
}

/* Walk @path ("A.B", "[]" for every element) from @v and apply @r at its end. @root: the
 * whole document (the short alias needs the container's Id). */
static void walk(json_t *v, const char *path, const struct api_vrule *r, json_t *root) {
        if (!v)
                return;
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t) (dot - path) : strlen(path);
        char seg[128];
        if (len >= sizeof(seg))
                return;
        memcpy(seg, path, len);
        seg[len] = '\0';
        bool last = !dot;
        if (STREQ(seg, "[]")) {
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e) {
                        if (!last)
                                walk(e, dot + 1, r, root);
                        else if (r->kind == VR_RESP_NONE_REFS)
                                none_refs(e);
                }
                return;
        }
        if (!json_is_object(v))
                return;
        if (!last) {
                walk(json_object_get(v, seg), dot + 1, r, root);
                return;
        }
        switch (r->kind) {
        case VR_BODY_DROP:
        case VR_RESP_DROP:
                json_object_del(v, seg);
                break;
        case VR_BODY_DEFAULT: {
                const char *s = json_string_value(json_object_get(v, seg));
                if (!s || !*s)
                        json_object_set_new(v, seg, json_string(r->value));
                break;
        }
        case VR_RESP_SHORT_ALIAS:
                short_alias(json_object_get(v, seg), json_string_value(json_object_get(root, "Id")));
                break;
        case VR_RESP_NONE_REFS:
                none_refs(json_object_get(v, seg));
                break;
        default:
                break;
        }
}

/* Body rules whose path starts at an embedded HostConfig also create it when missing:
 * a default must apply to a request that sent no HostConfig at all. */
static void ensure_parents(json_t *body, const char *path) {
        const char *dot = strchr(path, '.');
        if (!dot || strchr(dot + 1, '.'))
                return;
        char seg[64];
        size_t len = (size_t) (dot - path);
        if (len >= sizeof(seg))
                return;
        memcpy(seg, path, len);
        seg[len] = '\0';
        json_t *p = json_object_get(body, seg);
        if (!p || json_is_null(p))
                json_object_set_new(body, seg, json_object());
}

void api_versions_body(const struct api_route *route, unsigned version, json_t *body) {
        for (size_t i = 0; i < api_n_vrules; i++) {
                const struct api_vrule *r = &api_vrules[i];
                if (applies(r, route, version, VR_BODY_DROP))
                        walk(body, r->path, r, body);
                else if (applies(r, route, version, VR_BODY_DEFAULT)) {
                        ensure_parents(body, r->path);
                        walk(body, r->path, r, body);
                }
        }
}

void api_versions_answer(const struct api_route *route, unsigned version, json_t *answer) {
        for (size_t i = 0; i < api_n_vrules; i++) {
                const struct api_vrule *r = &api_vrules[i];
                if (applies(r, route, version, VR_RESP_DROP) || applies(r, route, version, VR_RESP_NONE_REFS) ||
                    applies(r, route, version, VR_RESP_SHORT_ALIAS))
                        walk(answer, r->path, r, answer);
        }
}

bool api_versions_shapes_answer(const struct api_route *route, unsigned version) {
        for (size_t i = 0; i < api_n_vrules; i++) {
                const struct api_vrule *r = &api_vrules[i];
                if (applies(r, route, version, VR_RESP_DROP) || applies(r, route, version, VR_RESP_NONE_REFS) ||
                    applies(r, route, version, VR_RESP_SHORT_ALIAS))
                        return true;
        }
        return false;
}

void api_versions_filters(const struct api_route *route, unsigned version, json_t *filters, struct api_request *req) {
        for (size_t i = 0; i < api_n_vrules; i++) {
                const struct api_vrule *r = &api_vrules[i];
                if (applies(r, route, version, VR_FILTER_ADD) && !json_object_get(filters, r->path))
                        json_object_set_new(filters, r->path, json_pack("[s]", r->value));
                const char *q = req && applies(r, route, version, VR_FILTER_QUERY) ? api_query(req, r->path) : NULL;
                if (q && *q) {
                        json_t *vals = json_object_get(filters, r->value);
                        if (!json_is_array(vals)) {
                                vals = json_array();
                                json_object_set_new(filters, r->value, vals);
                        }
                        json_array_append_new(vals, json_string(q));
                }
        }
}

bool api_versions_query(const struct api_route *route, unsigned version, const char *key, const char **ret) {
        for (size_t i = 0; i < api_n_vrules; i++) {
                const struct api_vrule *r = &api_vrules[i];
                if (!STREQ(r->path, key))
                        continue;
                if (applies(r, route, version, VR_QUERY_IGNORE)) {
                        *ret = NULL;
                        return true;
                }
                if (applies(r, route, version, VR_QUERY_FORCE)) {
                        *ret = r->value;
                        return true;
                }
        }
        return false;
}

const char *api_versions_value(const struct api_route *route, unsigned version, const char *key, const char *def) {
        for (size_t i = 0; i < api_n_vrules; i++) {
                const struct api_vrule *r = &api_vrules[i];
                if (applies(r, route, version, VR_VALUE) && STREQ(r->path, key))
                        return r->value;
        }
        return def;
}
