/* test_image_import.c - `docker import --change` instructions applied to a config as
 * dockerd does, and import into a store: the layer, the config, the tag, and nothing left
 * when the stream was cut short. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "image/image_store.h"
#include "common/tree.h"

static json_t *config_with(const char *const *changes, size_t n) {
        json_t *c = json_pack("{s:[s], s:n, s:s}", "Env", "PATH=/usr/bin:/bin", "Cmd", "WorkingDir", "");
        for (size_t i = 0; i < n; i++) {
                struct berr err = { 0 };
                if (image_config_apply_change(c, changes[i], &err) < 0)
                        fail_msg("%s: %s", changes[i], err.msg);
        }
        return c;
}

static void assert_json(json_t *v, const char *want) {
        _cleanup_free_ char *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        assert_string_equal(got, want);
}

static void test_image_change_cmd_and_entrypoint_forms(void **state) {
        const char *ch[] = { "CMD [\"sh\", \"-c\", \"echo hi\"]", "entrypoint /bin/run --flag" };
        _cleanup_json_ json_t *c = config_with(ch, 1);
        assert_json(json_object_get(c, "Cmd"), "[\"sh\",\"-c\",\"echo hi\"]");
        struct berr err = { 0 };
        assert_int_equal(image_config_apply_change(c, ch[1], &err), 0);
        assert_json(json_object_get(c, "Entrypoint"), "[\"/bin/sh\",\"-c\",\"/bin/run --flag\"]");
        assert_int_equal(image_config_apply_change(c, "CMD echo $HOME", &err), 0);
        assert_json(json_object_get(c, "Cmd"), "[\"/bin/sh\",\"-c\",\"echo $HOME\"]"); /* no expansion in CMD */
}

static void test_image_change_env_forms_quotes_and_expansion(void **state) {
        const char *ch[] = { "ENV A=1 B=\"two words\" C='$lit'", "ENV PATH=/app/bin:$PATH", "ENV LEGACY value with spaces",
                             "ENV A=${A}0 D=${NOPE:-dflt} E=${A:+set}" };
        _cleanup_json_ json_t *c = config_with(ch, 4);
        assert_json(json_object_get(c, "Env"), "[\"PATH=/app/bin:/usr/bin:/bin\",\"A=10\",\"B=two words\",\"C=$lit\","
                                               "\"LEGACY=value with spaces\",\"D=dflt\",\"E=set\"]");
}

static void test_image_change_label_expose_volume_workdir_user_stopsignal(void **state) {
        const char *ch[] = { "LABEL a=b \"c d\"=e",   "EXPOSE 80 53/udp 8000-8002/TCP", "VOLUME /data /logs",
                             "VOLUME [\"/json\"]",    "WORKDIR /app",                   "WORKDIR sub//dir/",
                             "USER nobody:nogroup",   "STOPSIGNAL SIGQUIT",             "ONBUILD run echo x",
                             "HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost" };
        _cleanup_json_ json_t *c = config_with(ch, ELEMENTSOF(ch));
        assert_json(json_object_get(c, "Labels"), "{\"a\":\"b\",\"c d\":\"e\"}");
        assert_json(json_object_get(c, "ExposedPorts"),
                    "{\"53/udp\":{},\"80/tcp\":{},\"8000/tcp\":{},\"8001/tcp\":{},\"8002/tcp\":{}}");
        assert_json(json_object_get(c, "Volumes"), "{\"/data\":{},\"/json\":{},\"/logs\":{}}");
        assert_json(json_object_get(c, "WorkingDir"), "\"/app/sub/dir\"");
        assert_json(json_object_get(c, "User"), "\"nobody:nogroup\"");
        assert_json(json_object_get(c, "StopSignal"), "\"SIGQUIT\"");
        assert_json(json_object_get(c, "OnBuild"), "[\"RUN echo x\"]");
        assert_json(json_object_get(c, "Healthcheck"),
                    "{\"Interval\":5000000000,\"Retries\":2,\"Test\":[\"CMD-SHELL\",\"wget -q localhost\"]}");
}

static void test_image_change_refuses_what_dockerd_refuses(void **state) {
        _cleanup_json_ json_t *c = config_with(NULL, 0);
        struct berr err = { 0 };
        assert_true(image_config_apply_change(c, "RUN echo hi", &err) < 0);
        assert_int_equal(err.kind, BERR_INVALID);
        assert_string_equal(err.msg, "RUN is not a valid change command");
        assert_true(image_config_apply_change(c, "FROM scratch", &err) < 0);
        assert_true(image_config_apply_change(c, "EXPOSE 99999", &err) < 0);
        assert_true(image_config_apply_change(c, "EXPOSE 80/xtp", &err) < 0);
        assert_true(image_config_apply_change(c, "STOPSIGNAL SIGNOPE", &err) < 0);
        assert_true(image_config_apply_change(c, "ENV", &err) < 0);
        assert_true(image_config_apply_change(c, "ENV A=\"unterminated", &err) < 0);
        assert_true(image_config_apply_change(c, "ONBUILD ONBUILD RUN x", &err) < 0);
        assert_true(image_config_apply_change(c, "", &err) < 0);
}

/* ---- import into a store ---- */

struct fixture {
        char root[64];
        struct image_store *s;
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        snprintf(f->root, sizeof(f->root), "/var/tmp/berth-import-XXXXXX");
        assert_non_null(mkdtemp(f->root));
        struct berr err = { 0 };
        if (image_store_open(f->root, "vfs", &f->s, &err) < 0)
                fail_msg("open: %s", err.msg);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        image_store_free(f->s);
        assert_int_equal(tree_remove_at(AT_FDCWD, f->root, NULL), 0);
        free(f);
        return 0;
}

static int tar_fd(void) {
        char path[] = "/var/tmp/berth-import-tar-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        unlink(path);
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        archive_write_add_filter_gzip(a);
        assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, "etc/hello");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, 3);
        archive_write_header(a, e);
        archive_write_data(a, "hi\n", 3);
        archive_entry_free(e);
        archive_write_close(a);
        archive_write_free(a);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

static bool cut_short(void *opaque) {
        return false;
}

static void test_image_import_makes_tagged_image_with_changes(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = tar_fd();
        const char *changes[] = { "CMD [\"/bin/sh\"]", "ENV A=b" };
        struct image_import_opts o = { .reference = "docker.io/library/imp:1", .message = "hello",
                                       .source = "-", .changes = changes, .n_changes = 2 };
        char id[DIGEST_STRING_MAX];
        struct berr err = { 0 };
        if (image_store_import(f->s, fd, &o, id, &err) < 0)
                fail_msg("import: %s", err.msg);
        char got[DIGEST_STRING_MAX];
        assert_int_equal(image_store_resolve(f->s, "imp:1", got, NULL), 0);
        assert_string_equal(got, id);
        _cleanup_json_ json_t *ins = NULL;
        assert_int_equal(image_store_inspect(f->s, "imp:1", &ins, NULL), 0);
        assert_string_equal(json_string_value(json_object_get(ins, "Comment")), "hello");
        json_t *cfg = json_object_get(ins, "Config");
        assert_json(json_object_get(cfg, "Cmd"), "[\"/bin/sh\"]");
        assert_json(json_object_get(cfg, "Env"), "[\"A=b\"]");
        assert_int_equal(json_integer_value(json_object_get(ins, "Size")), 3);
        _cleanup_json_ json_t *h = NULL;
        assert_int_equal(image_store_history(f->s, "imp:1", &h, NULL), 0);
        assert_int_equal(json_array_size(h), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "Comment")), "hello");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(h, 0), "Size")), 3);

        /* Bad changes are refused before anything is read or stored. */
        const char *bad[] = { "RUN x" };
        o.changes = bad;
        o.n_changes = 1;
        assert_true(image_store_import(f->s, fd, &o, id, &err) < 0);
        assert_string_equal(err.msg, "RUN is not a valid change command");
}

static void test_image_import_cut_short_leaves_nothing(void **state) {
        struct fixture *f = *state;
        _cleanup_close_ int fd = tar_fd();
        struct image_import_opts o = { .reference = "imp:2", .source = "-", .complete = cut_short };
        char id[DIGEST_STRING_MAX];
        struct berr err = { 0 };
        assert_true(image_store_import(f->s, fd, &o, id, &err) < 0);
        assert_non_null(strstr(err.msg, "cut short"));
        _cleanup_json_ json_t *list = NULL;
        assert_int_equal(image_store_list(f->s, &list, NULL), 0);
        assert_int_equal(json_array_size(list), 0);
        assert_int_equal(image_store_layers_size(f->s), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_image_change_cmd_and_entrypoint_forms),
                cmocka_unit_test(test_image_change_env_forms_quotes_and_expansion),
                cmocka_unit_test(test_image_change_label_expose_volume_workdir_user_stopsignal),
                cmocka_unit_test(test_image_change_refuses_what_dockerd_refuses),
                cmocka_unit_test_setup_teardown(test_image_import_makes_tagged_image_with_changes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_import_cut_short_leaves_nothing, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
