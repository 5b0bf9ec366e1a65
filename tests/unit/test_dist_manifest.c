/* test_dist_manifest.c - manifest kinds, platform selection from an index, the schema2
 * manifest written byte for byte as dockerd, progress sizes, registry settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "distribution/dist_int.h"

static void test_dist_manifest_kind_from_type_and_body(void **state) {
        json_t *m = json_pack("{s:i, s:s}", "schemaVersion", 2, "mediaType", MT_DOCKER_MANIFEST);
        assert_int_equal(dist_manifest_kind(NULL, m), DIST_KIND_MANIFEST);
        json_decref(m);
        m = json_pack("{s:i}", "schemaVersion", 1);
        assert_int_equal(dist_manifest_kind("application/json", m), DIST_KIND_SCHEMA1);
        json_decref(m);
        m = json_pack("{s:i, s:[]}", "schemaVersion", 2, "manifests");
        assert_int_equal(dist_manifest_kind(NULL, m), DIST_KIND_INDEX);
        assert_int_equal(dist_manifest_kind(MT_DOCKER_SCHEMA1_SIGNED, m), DIST_KIND_SCHEMA1);
        json_decref(m);
        m = json_pack("{s:i, s:{}, s:[]}", "schemaVersion", 2, "config", "layers");
        assert_int_equal(dist_manifest_kind(MT_OCI_MANIFEST "; charset=utf-8", m), DIST_KIND_MANIFEST);
        json_decref(m);
        m = json_object();
        assert_int_equal(dist_manifest_kind("text/html", m), _DIST_KIND_INVALID);
        json_decref(m);
}

#define D(c) "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
        c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

static void test_dist_index_selects_linux_amd64(void **state) {
        json_t *idx = json_pack("{s:[{s:s, s:s, s:i, s:{s:s, s:s, s:s}}, {s:s, s:s, s:i, s:{s:s, s:s}},"
                                " {s:s, s:s, s:i, s:{s:s, s:s}}]}",
                                "manifests", "mediaType", MT_OCI_MANIFEST, "digest", D("a"), "size", 10, "platform",
                                "os", "linux", "architecture", "arm64", "variant", "v8", "mediaType", MT_OCI_MANIFEST,
                                "digest", D("b"), "size", 11, "platform", "os", "linux", "architecture", "amd64",
                                "mediaType", MT_OCI_MANIFEST, "digest", D("c"), "size", 12, "platform", "os",
                                "unknown", "architecture", "unknown");
        struct dist_descriptor d = { 0 };
        struct berr err = { 0 };
        assert_int_equal(dist_index_select(idx, "linux", "amd64", "", &d, &err), 0);
        assert_string_equal(d.digest, D("b"));
        assert_int_equal(d.size, 11);
        assert_int_equal(dist_index_select(idx, "linux", "arm64", "", &d, &err), 0);
        assert_string_equal(d.digest, D("a"));
        assert_int_equal(dist_index_select(idx, "linux", "aarch64", "v8", &d, &err), 0);
        assert_string_equal(d.digest, D("a"));
        assert_true(dist_index_select(idx, "linux", "s390x", "", &d, &err) < 0);
        assert_int_equal(err.kind, BERR_NOT_FOUND);
        assert_string_equal(err.msg, "no matching manifest for linux/s390x in the manifest list entries");
        json_decref(idx);
}

static void test_dist_manifest_parse_rejects_bad_layers(void **state) {
        json_t *m = json_pack("{s:i, s:{s:s, s:s, s:i}, s:[{s:s, s:s, s:i}]}", "schemaVersion", 2, "config", "mediaType",
                              MT_DOCKER_CONFIG, "digest", D("a"), "size", 3, "layers", "mediaType", "text/plain",
                              "digest", D("b"), "size", 4);
        struct dist_manifest man;
        struct berr err = { 0 };
        assert_true(dist_manifest_parse(m, &man, &err) < 0);
        assert_string_equal(err.msg, "unsupported layer media type text/plain");
        json_object_set_new(json_array_get(json_object_get(m, "layers"), 0), "mediaType", json_string(MT_OCI_LAYER_ZSTD));
        assert_int_equal(dist_manifest_parse(m, &man, &err), 0);
        assert_int_equal(man.n_layers, 1);
        assert_int_equal(man.layers[0].size, 4);
        dist_manifest_done(&man);
        json_object_set_new(json_object_get(m, "config"), "digest", json_string("md5:abc"));
        assert_true(dist_manifest_parse(m, &man, &err) < 0);
        json_decref(m);
}

/* The manifest the reference engine pushed, rebuilt from its parts, byte for byte. */
static void test_dist_schema2_matches_dockerd_bytes(void **state) {
        _cleanup_free_ char *want = NULL;
        size_t len;
        struct berr err = { 0 };
        if (fs_read_file(AT_FDCWD, "tests/fixtures/registry/layered.manifest.json", 1 << 20, &want, &len, &err) < 0)
                skip();
        json_t *m = json_loadb(want, len, 0, NULL);
        struct dist_manifest man;
        assert_int_equal(dist_manifest_parse(m, &man, &err), 0);
        _cleanup_free_ char *got = dist_manifest_schema2(&man.config, man.layers, man.n_layers);
        assert_string_equal(got, want);
        dist_manifest_done(&man);
        json_decref(m);
        struct dist_descriptor cfg = { .media_type = MT_DOCKER_CONFIG, .digest = D("f"), .size = 2 };
        _cleanup_free_ char *empty = dist_manifest_schema2(&cfg, NULL, 0);
        assert_non_null(strstr(empty, "\"layers\": []\n}"));
}

static void test_dist_human_size_as_go_units(void **state) {
        char b[32];
        dist_human_size(1068612, b);
        assert_string_equal(b, "1.069MB");
        dist_human_size(999, b);
        assert_string_equal(b, "999B");
        dist_human_size(22100, b);
        assert_string_equal(b, "22.1kB");
        dist_short_id("sha256:f6f9cf8c10167e8de0b55be948c8cbf1735da10c3a9cad575568b76d4d360c79", b);
        assert_string_equal(b, "f6f9cf8c1016");
}

static void test_dist_config_hooks_take_registry_options(void **state) {
        struct berr err = { 0 };
        assert_int_equal(dist_config_flag("max-concurrent-downloads", "7", &err), 1);
        assert_int_equal(dist_config()->max_downloads, 7);
        assert_true(dist_config_flag("max-concurrent-downloads", "0", &err) < 0);
        assert_true(dist_config_flag("max-concurrent-uploads", "x", &err) < 0);
        assert_int_equal(dist_config_flag("data-root", "/x", &err), 0);
        assert_int_equal(dist_config_flag("insecure-registry", "myreg:5000", &err), 1);
        assert_true(dist_config_flag("insecure-registry", "http://x", &err) < 0);
        assert_true(dist_config_flag("registry-mirror", "https://m.example/path", &err) < 0);
        assert_int_equal(dist_config_flag("registry-mirror", "https://m.example/", &err), 1);
        assert_string_equal(dist_config()->mirrors[0], "https://m.example");
        json_t *v = json_pack("[s, s]", "10.1.0.0/16", "other:443");
        assert_int_equal(dist_config_json("insecure-registries", v, &err), 1);
        json_decref(v);
        v = json_integer(2);
        assert_int_equal(dist_config_json("max-concurrent-uploads", v, &err), 1);
        assert_int_equal(dist_config()->max_uploads, 2);
        json_decref(v);
        v = json_string("3");
        assert_true(dist_config_json("max-concurrent-uploads", v, &err) < 0);
        assert_int_equal(dist_config_json("debug", v, &err), 0);
        json_decref(v);
        assert_true(dist_config_is_json_key("registry-mirrors"));
        assert_false(dist_config_is_json_key("hosts"));
        assert_true(dist_config_is_flag("insecure-registry"));
}

static void test_dist_insecure_hosts_as_dockerd(void **state) {
        assert_true(dist_host_is_insecure("127.0.0.1:5000"));
        assert_true(dist_host_is_insecure("localhost:5000"));
        assert_true(dist_host_is_insecure("[::1]:5000"));
        assert_true(dist_host_is_insecure("myreg:5000"));    /* listed above */
        assert_true(dist_host_is_insecure("10.1.2.3:5000")); /* in 10.1.0.0/16 */
        assert_false(dist_host_is_insecure("10.2.0.1:5000"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dist_manifest_kind_from_type_and_body),
                cmocka_unit_test(test_dist_index_selects_linux_amd64),
                cmocka_unit_test(test_dist_manifest_parse_rejects_bad_layers),
                cmocka_unit_test(test_dist_schema2_matches_dockerd_bytes),
                cmocka_unit_test(test_dist_human_size_as_go_units),
                cmocka_unit_test(test_dist_config_hooks_take_registry_options),
                cmocka_unit_test(test_dist_insecure_hosts_as_dockerd),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
