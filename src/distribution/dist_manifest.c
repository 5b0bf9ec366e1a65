/* dist_manifest.c - image manifests as registries serve them: telling Docker schema2, OCI
 * manifests, indexes / manifest lists and (refused) schema1 apart, choosing a platform
 * from an index, and writing the schema2 manifest of a push byte for byte as dockerd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "dist_int.h"

void dist_host_platform(const char **os, const char **arch, const char **variant) {
        *os = "linux";
#if defined(__x86_64__)
        *arch = "amd64";
        *variant = "";
#elif defined(__aarch64__)
        *arch = "arm64";
        *variant = "v8";
#elif defined(__i386__)
        *arch = "386";
        *variant = "";
#else
        *arch = "unknown";
        *variant = "";
#endif
}

static bool type_is(const char *ct, const char *mt) {
        size_t n = strlen(mt);
        return ct && strncmp(ct, mt, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

enum dist_manifest_kind dist_manifest_kind(const char *content_type, json_t *body) {
        const char *mt = json_string_value(json_object_get(body, "mediaType"));
        json_int_t version = json_integer_value(json_object_get(body, "schemaVersion"));
        if (version == 1 || type_is(content_type, MT_DOCKER_SCHEMA1) || type_is(content_type, MT_DOCKER_SCHEMA1_SIGNED) ||
            (mt && (STREQ(mt, MT_DOCKER_SCHEMA1) || STREQ(mt, MT_DOCKER_SCHEMA1_SIGNED))))
                return DIST_KIND_SCHEMA1;
        if ((mt && (STREQ(mt, MT_OCI_INDEX) || STREQ(mt, MT_DOCKER_LIST))) || type_is(content_type, MT_OCI_INDEX) ||
            type_is(content_type, MT_DOCKER_LIST))
                return DIST_KIND_INDEX;
        if ((mt && (STREQ(mt, MT_OCI_MANIFEST) || STREQ(mt, MT_DOCKER_MANIFEST))) ||
            type_is(content_type, MT_OCI_MANIFEST) || type_is(content_type, MT_DOCKER_MANIFEST))
                return DIST_KIND_MANIFEST;
        /* An OCI manifest may leave mediaType out: tell by the shape. */
        if (json_is_array(json_object_get(body, "manifests")))
                return DIST_KIND_INDEX;
        if (json_is_object(json_object_get(body, "config")) && json_is_array(json_object_get(body, "layers")))
                return DIST_KIND_MANIFEST;
        return _DIST_KIND_INVALID;
}

static int parse_descriptor(json_t *o, const char *where, struct dist_descriptor *d, struct berr *err) {
        const char *mt = json_string_value(json_object_get(o, "mediaType"));
        const char *digest = json_string_value(json_object_get(o, "digest"));
        json_t *size = json_object_get(o, "size");
        if (!json_is_object(o) || !digest || !json_is_integer(size) || json_integer_value(size) < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid manifest: bad %s descriptor", where);
        if (!digest_is_sha256(digest))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid manifest: %s digest %s is not a sha256 digest", where,
                                digest);
        snprintf(d->media_type, sizeof(d->media_type), "%s", mt ? mt : "");
        snprintf(d->digest, sizeof(d->digest), "%s", digest);
        d->size = json_integer_value(size);
        if (json_array_size(json_object_get(o, "urls")) > 0)
                d->urls = strdup(json_string_value(json_array_get(json_object_get(o, "urls"), 0)) ?: "");
        return 0;
}

void dist_manifest_done(struct dist_manifest *m) {
        if (!m)
                return;
        free(m->config.urls);
        for (size_t i = 0; i < m->n_layers; i++)
                free(m->layers[i].urls);
        free(m->layers);
        memset(m, 0, sizeof(*m));
}

static bool layer_type_ok(const char *mt) {
        static const char *const ok[] = { MT_DOCKER_LAYER, MT_OCI_LAYER, MT_OCI_LAYER_GZIP, MT_OCI_LAYER_ZSTD,
                                          "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                                          MT_DOCKER_FOREIGN_LAYER };
        if (!mt[0])
                return true;
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                if (STREQ(mt, ok[i]))
                        return true;
        return false;
}

int dist_manifest_parse(json_t *body, struct dist_manifest *ret, struct berr *err) {
        memset(ret, 0, sizeof(*ret));
        const char *mt = json_string_value(json_object_get(body, "mediaType"));
        snprintf(ret->media_type, sizeof(ret->media_type), "%s", mt ? mt : MT_OCI_MANIFEST);
        int r = parse_descriptor(json_object_get(body, "config"), "config", &ret->config, err);
        if (r < 0)
                return r;
        json_t *layers = json_object_get(body, "layers");
        if (!json_is_array(layers))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid manifest: no layers");
        size_t n = json_array_size(layers);
        if (n > DIST_MAX_LAYERS)
                return berr_set(err, BERR_INVALID, E2BIG, "invalid manifest: more than %d layers", DIST_MAX_LAYERS);
        ret->layers = calloc(n ? n : 1, sizeof(*ret->layers));
        if (!ret->layers)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                char where[32];
                snprintf(where, sizeof(where), "layer %zu", i);
                r = parse_descriptor(json_array_get(layers, i), where, &ret->layers[i], err);
                if (r < 0) {
                        dist_manifest_done(ret);
                        return r;
                }
                ret->n_layers++;
                if (!layer_type_ok(ret->layers[i].media_type)) {
                        r = berr_set(err, BERR_INVALID, EINVAL, "unsupported layer media type %s", ret->layers[i].media_type);
                        dist_manifest_done(ret);
                        return r;
                }
        }
        return 0;
}

/* amd64 variants are levels of one ISA; "v1" is what an empty one means. */
static const char *norm_variant(const char *arch, const char *v) {
        if (!v)
                return "";
        if (STREQ(arch, "amd64") && STREQ(v, "v1"))
                return "";
        if (STREQ(arch, "arm64") && STREQ(v, "v8"))
                return "";
        return v;
}

static const char *norm_arch(const char *a) {
        if (STREQ(a, "x86_64") || STREQ(a, "x86-64"))
                return "amd64";
        if (STREQ(a, "aarch64"))
                return "arm64";
        return a;
}

int dist_index_select(json_t *body, const char *os, const char *arch, const char *variant,
                      struct dist_descriptor *ret, struct berr *err) {
        json_t *manifests = json_object_get(body, "manifests");
        if (!json_is_array(manifests))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid manifest list: no manifests");
        arch = norm_arch(arch);
        const char *want_v = variant && variant[0] ? norm_variant(arch, variant) : NULL;
        size_t i;
        json_t *m;
        json_array_foreach(manifests, i, m) {
                json_t *p = json_object_get(m, "platform");
                const char *mos = json_string_value(json_object_get(p, "os"));
                const char *march = json_string_value(json_object_get(p, "architecture"));
                const char *mvar = json_string_value(json_object_get(p, "variant"));
                if (!mos || !march || !STREQ(mos, os) || !STREQ(norm_arch(march), arch))
                        continue;
                if (want_v && !STREQ(norm_variant(arch, mvar), want_v))
                        continue;
                const char *mt = json_string_value(json_object_get(m, "mediaType"));
                if (mt && !STREQ(mt, MT_OCI_MANIFEST) && !STREQ(mt, MT_DOCKER_MANIFEST))
                        continue;
                return parse_descriptor(m, "manifest", ret, err);
        }
        return berr_set(err, BERR_NOT_FOUND, ENOENT, "no matching manifest for %s/%s%s%s in the manifest list entries",
                        os, arch, want_v && want_v[0] ? "/" : "", want_v ? want_v : "");
}

static void write_descriptor(FILE *f, const struct dist_descriptor *d, const char *indent) {
        fprintf(f, "{\n%s   \"mediaType\": \"%s\",\n%s   \"size\": %lld,\n%s   \"digest\": \"%s\"\n%s}", indent,
                d->media_type, indent, (long long) d->size, indent, d->digest, indent);
}

char *dist_manifest_schema2(const struct dist_descriptor *config, const struct dist_descriptor *layers,
                            size_t n_layers) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        fprintf(f, "{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"%s\",\n   \"config\": ", MT_DOCKER_MANIFEST);
        write_descriptor(f, config, "   ");
        fputs(",\n   \"layers\": [", f);
        for (size_t i = 0; i < n_layers; i++) {
                fputs(i ? ",\n      " : "\n      ", f);
                write_descriptor(f, &layers[i], "      ");
        }
        fputs(n_layers ? "\n   ]\n}" : "]\n}", f);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}
