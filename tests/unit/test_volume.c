/* Unit tests for the local volume store and the parsing of -v / --mount / VOLUME. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "common/err.h"
#include "daemon/container.h"
#include "volume/volume.h"

static char dir[64];

static int setup(void **s) {
        (void) s;
        snprintf(dir, sizeof(dir), "/tmp/berth-vol-XXXXXX");
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **s) {
        (void) s;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void test_names(void **s) {
        (void) s;
        assert_true(volume_name_valid("ab"));
        assert_true(volume_name_valid("my_vol-1.data"));
        assert_false(volume_name_valid("a"));
        assert_false(volume_name_valid("_ab"));
        assert_false(volume_name_valid("a/b"));
        assert_false(volume_name_valid(".."));
        assert_false(volume_name_valid("bad!name"));
}

static void test_store(void **s) {
        (void) s;
        struct volume_store *vs = NULL;
        struct berr err = { 0 };
        assert_int_equal(volume_store_open(dir, &vs, &err), 0);
        json_t *v = NULL;
        json_t *labels = json_pack("{s:s}", "k", "v");
        assert_int_equal(volume_create(vs, "data1", "local", labels, NULL, false, &v, &err), 0);
        assert_string_equal(json_string_value(json_object_get(v, "Name")), "data1");
        assert_string_equal(json_string_value(json_object_get(json_object_get(v, "Labels"), "k")), "v");
        const char *created = json_string_value(json_object_get(v, "CreatedAt"));
        char mp[4096];
        assert_int_equal(volume_mountpoint(vs, "data1", mp, sizeof(mp), &err), 0);
        struct stat st;
        assert_int_equal(stat(mp, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        /* Creating it again hands back the same volume. */
        json_t *again = NULL;
        assert_int_equal(volume_create(vs, "data1", NULL, NULL, NULL, false, &again, &err), 0);
        assert_string_equal(json_string_value(json_object_get(again, "CreatedAt")), created);
        json_decref(again);
        json_decref(v);
        json_decref(labels);
        /* Anonymous: a 64-hex name and the label. */
        assert_int_equal(volume_create(vs, NULL, NULL, NULL, NULL, false, &v, &err), 0);
        const char *anon = json_string_value(json_object_get(v, "Name"));
        assert_int_equal(strlen(anon), 64);
        assert_non_null(json_object_get(json_object_get(v, "Labels"), VOLUME_LABEL_ANONYMOUS));
        json_t *list = NULL;
        assert_int_equal(volume_list(vs, &list, &err), 0);
        assert_int_equal(json_array_size(list), 2);
        json_decref(list);
        assert_int_equal(volume_remove(vs, anon, &err), 0);
        json_decref(v);
        /* Errors. */
        assert_true(volume_create(vs, "x!", NULL, NULL, NULL, false, NULL, &err) < 0);
        assert_int_equal(err.kind, BERR_INVALID);
        assert_true(volume_create(vs, "data2", "nfs", NULL, NULL, false, NULL, &err) < 0);
        assert_int_equal(err.kind, BERR_NOT_FOUND);
        /* The local driver's options: dockerd's checks; kept in the record and shown. */
        static const struct {
                const char *opts, *msg;
        } bad_opts[] = {
                { "{\"type\": \"tmpfs\"}", "missing required option: \"device\"" },
                { "{\"o\": \"size=1m\", \"device\": \"tmpfs\"}", "missing required option: \"type\"" },
                { "{\"foo\": \"bar\"}", "invalid option: \"foo\"" },
                { "{\"size\": \"1m\"}", "quota size requested but no quota support" },
        };
        for (size_t i = 0; i < sizeof(bad_opts) / sizeof(bad_opts[0]); i++) {
                json_error_t je;
                json_t *opts = json_loads(bad_opts[i].opts, 0, &je);
                assert_true(volume_create(vs, "data2", NULL, NULL, opts, false, NULL, &err) < 0);
                assert_int_equal(err.kind, BERR_INVALID);
                assert_string_equal(err.msg, bad_opts[i].msg);
                json_decref(opts);
                assert_false(volume_exists(vs, "data2"));
        }
        json_t *opts = json_pack("{s:s, s:s, s:s}", "type", "tmpfs", "device", "tmpfs", "o", "size=1m");
        assert_int_equal(volume_create(vs, "data3", NULL, NULL, opts, false, &v, &err), 0);
        assert_true(json_equal(json_object_get(v, "Options"), opts));
        assert_true(volume_has_options(vs, "data3"));
        assert_false(volume_has_options(vs, "data1"));
        json_decref(v);
        json_decref(opts);
        assert_int_equal(volume_remove(vs, "data3", &err), 0);
        assert_true(volume_inspect(vs, "nope", &v, &err) < 0);
        assert_int_equal(err.kind, BERR_NOT_FOUND);
        assert_string_equal(err.msg, "get nope: no such volume");
        assert_true(volume_inspect(vs, "../etc", &v, &err) < 0);
        assert_int_equal(volume_remove(vs, "data1", &err), 0);
        assert_false(volume_exists(vs, "data1"));
        volume_store_free(vs);
}

static int parse(const char *config, const char *hc, json_t **ret, struct berr *err) {
        json_t *c = json_loads(config, 0, NULL), *h = json_loads(hc, 0, NULL);
        struct ctr_config *cc = NULL;
        int r = ctr_config_decode(c, h, NULL, &cc, err);
        if (r == 0)
                r = ctr_mounts_parse(cc, ret, err);
        ctr_config_free(cc);
        json_decref(c);
        json_decref(h);
        return r;
}

static void test_mount_specs(void **s) {
        (void) s;
        struct berr err = { 0 };
        json_t *l = NULL;
        assert_int_equal(parse("{\"Volumes\": {\"/img\": {}, \"/b/\": {}}}",
                               "{\"Binds\": [\"/tmp:/b:ro,rshared\", \"vol:/v:nocopy\", \"/anon\"]}", &l, &err),
                         0);
        assert_int_equal(json_array_size(l), 4); /* /b/ from VOLUME is covered by the bind */
        json_t *b = json_array_get(l, 0);
        assert_string_equal(json_string_value(json_object_get(b, "Type")), "bind");
        assert_string_equal(json_string_value(json_object_get(b, "Destination")), "/b");
        assert_false(json_is_true(json_object_get(b, "RW")));
        assert_string_equal(json_string_value(json_object_get(b, "Propagation")), "rshared");
        json_t *v = json_array_get(l, 1);
        assert_string_equal(json_string_value(json_object_get(v, "Type")), "volume");
        assert_string_equal(json_string_value(json_object_get(v, "Name")), "vol");
        assert_string_equal(json_string_value(json_object_get(json_array_get(l, 3), "Destination")), "/img");
        json_decref(l);

        /* --mount type=tmpfs: dockerd's ConvertTmpfsOptions text (size in the largest unit that divides it) */
        assert_int_equal(parse("{}",
                               "{\"Mounts\": [{\"Type\": \"tmpfs\", \"Target\": \"/t\", \"ReadOnly\": true, "
                               "\"TmpfsOptions\": {\"SizeBytes\": 1572864, \"Mode\": 1016, \"Options\": [[\"exec\"]]}}], "
                               "\"VolumesFrom\": [\"other:ro\"]}",
                               &l, &err),
                         0);
        assert_int_equal(json_array_size(l), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "_tmpfs")),
                            "ro,mode=1770,size=1536k,exec");
        json_decref(l);

        static const struct {
                const char *hc, *msg;
        } bad[] = {
                { "{\"Binds\": [\"/tmp:rel\"]}", "mount path must be absolute" },
                { "{\"Binds\": [\"/tmp:/x/..\"]}", "destination can't be '/'" },
                { "{\"Binds\": [\"/tmp:/x:bogus\"]}", "invalid mode: bogus" },
                { "{\"Binds\": [\"/tmp:/x\", \"/etc:/x/\"]}", "Duplicate mount point: /x" },
                { "{\"Binds\": [\"a:b:c:d\"]}", "invalid volume specification" },
                { "{\"Binds\": [\"x!:/x\"]}", "invalid characters" },
                { "{\"Mounts\": [{\"Type\": \"tmpfs\", \"Target\": \"/t\", \"BindOptions\": {}}]}",
                  "invalid mount config for type \"tmpfs\": field BindOptions must not be specified" },
                { "{\"Mounts\": [{\"Type\": \"volume\", \"Source\": \"v\", \"Target\": \"/t\", "
                  "\"VolumeOptions\": {\"Subpath\": \"a/../../b\"}}]}",
                  "subpath must be a relative path within the volume" },
                { "{\"Mounts\": [{\"Type\": \"npipe\", \"Source\": \"x\", \"Target\": \"/t\"}]}", "not supported by berth yet" },
                { "{\"Mounts\": [{\"Type\": \"bind\", \"Source\": \"/nonexistent-berth\", \"Target\": \"/t\"}]}",
                  "bind source path does not exist" },
                { "{\"VolumesFrom\": [\"other:rshared\"]}", "invalid mode: rshared" },
                { "{\"VolumesFrom\": [\"other:ro,rw\"]}", "invalid mode: ro,rw" },
                { "{\"VolumesFrom\": [\"\"]}", "volumes-from specification cannot be an empty string" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                l = NULL;
                err = (struct berr){ 0 };
                assert_true(parse("{}", bad[i].hc, &l, &err) < 0);
                if (!strstr(err.msg, bad[i].msg))
                        fail_msg("%s: got \"%s\"", bad[i].hc, err.msg);
                assert_null(l);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_store),
                cmocka_unit_test(test_mount_specs),
        };
        return cmocka_run_group_tests_name("volume", tests, setup, teardown);
}
