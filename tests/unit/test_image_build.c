/* test_image_build.c - the image store's side of docker build: a step's image as a child
 * (Parent, history, empty_layer steps, an empty tar collapsed), the cache lookup by
 * container_config, rmi of a built image taking its untagged parents, and --cache-from
 * through history. */
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
#include "common/tree.h"
#include "image/image_store.h"

#define BUSYBOX_ID "sha256:1753f6f850bd793fb12d6eb8f3c47c9b91eefa519a95aeaf492d02ac5fc14ef5"

struct fixture {
        char root[64];
        struct image_store *s;
};

static void no_line(void *opaque, const char *line) {
        (void) opaque;
        (void) line;
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        snprintf(f->root, sizeof(f->root), "/var/tmp/berth-build-store-XXXXXX");
        assert_non_null(mkdtemp(f->root));
        struct berr err = { 0 };
        if (image_store_open(f->root, "overlay2", &f->s, &err) < 0)
                fail_msg("open: %s", err.msg);
        _cleanup_close_ int fd = open("tests/fixtures/busybox-docker-archive.tar", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        if (image_store_load_archive(f->s, fd, no_line, NULL, &err) < 0)
                fail_msg("load: %s", err.msg);
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

/* A layer tar in a temporary file: one file @name with @data, or no entry at all. */
static int layer_file(const char *name, const char *data) {
        char path[] = "/var/tmp/berth-layer-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        unlink(path);
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
        if (name) {
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, name);
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_perm(e, 0644);
                archive_entry_set_size(e, (la_int64_t) strlen(data));
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                assert_int_equal(archive_write_data(a, data, strlen(data)), (la_ssize_t) strlen(data));
                archive_entry_free(e);
        }
        archive_write_close(a);
        archive_write_free(a);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

static json_t *probe(const char *cmd) {
        return json_pack("{s:[s, s, s], s:s}", "Cmd", "/bin/sh", "-c", cmd, "Image", "");
}

static void step(struct fixture *f, const char *parent, int tar_fd, const char *cmd, char id[DIGEST_STRING_MAX]) {
        _cleanup_json_ json_t *cfg = json_pack("{s:[s]}", "Cmd", "sh");
        _cleanup_json_ json_t *p = probe(cmd);
        struct image_build_step o = { .parent_id = parent, .tar_fd = tar_fd, .config = cfg, .container_config = p,
                                      .created_by = cmd };
        struct berr err = { 0 };
        if (image_store_build_step(f->s, &o, id, &err) < 0)
                fail_msg("step %s: %s", cmd, err.msg);
}

static json_t *inspect(struct fixture *f, const char *id) {
        json_t *o = NULL;
        struct berr err = { 0 };
        if (image_store_inspect(f->s, id, &o, &err) < 0)
                fail_msg("inspect %s: %s", id, err.msg);
        return o;
}

static void test_build_step_records_parent_history_and_layers(void **state) {
        struct fixture *f = *state;
        char meta[DIGEST_STRING_MAX], layer[DIGEST_STRING_MAX], empty[DIGEST_STRING_MAX];
        step(f, BUSYBOX_ID, -1, "#(nop)  ENV A=1", meta);
        _cleanup_close_ int fd = layer_file("hello.txt", "hello\n");
        step(f, meta, fd, "echo hello > /hello.txt", layer);
        _cleanup_close_ int efd = layer_file(NULL, NULL);
        step(f, layer, efd, "true", empty);

        _cleanup_json_ json_t *m = inspect(f, meta), *l = inspect(f, layer), *e = inspect(f, empty);
        assert_string_equal(json_string_value(json_object_get(m, "Parent")), BUSYBOX_ID);
        assert_string_equal(json_string_value(json_object_get(l, "Parent")), meta);
        assert_int_equal(json_array_size(json_object_get(json_object_get(m, "RootFS"), "Layers")), 1);
        assert_int_equal(json_array_size(json_object_get(json_object_get(l, "RootFS"), "Layers")), 2);
        /* a step whose tar has no entry adds no layer: an empty_layer history entry */
        assert_int_equal(json_array_size(json_object_get(json_object_get(e, "RootFS"), "Layers")), 2);
        _cleanup_json_ json_t *hist = NULL;
        struct berr err = { 0 };
        assert_int_equal(image_store_history(f->s, empty, &hist, &err), 0);
        assert_string_equal(json_string_value(json_object_get(json_array_get(hist, 0), "CreatedBy")), "true");
        assert_string_equal(json_string_value(json_object_get(json_array_get(hist, 2), "CreatedBy")), "#(nop)  ENV A=1");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(hist, 2), "Size")), 0);
}

static void test_build_cache_finds_the_child_with_the_same_container_config(void **state) {
        struct fixture *f = *state;
        char a[DIGEST_STRING_MAX], hit[DIGEST_STRING_MAX];
        step(f, BUSYBOX_ID, -1, "#(nop)  LABEL x=1", a);
        _cleanup_json_ json_t *same = probe("#(nop)  LABEL x=1"), *other = probe("#(nop)  LABEL x=2");
        assert_int_equal(image_store_build_cache(f->s, BUSYBOX_ID, same, hit), 1);
        assert_string_equal(hit, a);
        assert_int_equal(image_store_build_cache(f->s, BUSYBOX_ID, other, hit), 0);
        assert_int_equal(image_store_build_cache(f->s, a, same, hit), 0); /* not a child of itself */
}

static void test_rmi_of_a_built_image_takes_its_untagged_parents(void **state) {
        struct fixture *f = *state;
        char a[DIGEST_STRING_MAX], b[DIGEST_STRING_MAX], c[DIGEST_STRING_MAX];
        step(f, BUSYBOX_ID, -1, "#(nop)  ENV A=1", a);
        step(f, a, -1, "#(nop)  ENV B=2", b);
        step(f, b, -1, "#(nop)  ENV C=3", c);
        struct berr err = { 0 };
        assert_int_equal(image_store_tag(f->s, c, "built:1", &err), 0);
        json_t *items = NULL;
        /* an image others were built on cannot go */
        assert_true(image_store_delete(f->s, b, false, NULL, NULL, &items, &err) < 0);
        assert_int_equal(err.kind, BERR_CONFLICT);
        assert_non_null(strstr(err.msg, "image has dependent child images"));
        assert_int_equal(image_store_delete(f->s, "built:1", false, NULL, NULL, &items, &err), 0);
        /* Untagged built:1, then c, b and a deleted; busybox (tagged) stays */
        assert_int_equal(json_array_size(items), 4);
        json_decref(items);
        char id[DIGEST_STRING_MAX];
        assert_true(image_store_resolve(f->s, a, id, &err) < 0);
        assert_int_equal(image_store_resolve(f->s, "busybox", id, &err), 0);
}

static void test_cache_from_follows_the_source_history(void **state) {
        struct fixture *f = *state;
        char a[DIGEST_STRING_MAX], b[DIGEST_STRING_MAX], got[DIGEST_STRING_MAX];
        step(f, BUSYBOX_ID, -1, "#(nop)  ENV A=1", a);
        _cleanup_close_ int fd = layer_file("x", "x\n");
        step(f, a, fd, "echo x > /x", b);
        const char *sources[] = { b };
        _cleanup_json_ json_t *cfg = json_pack("{s:[s]}", "Cmd", "sh");
        _cleanup_json_ json_t *p1 = probe("#(nop)  ENV A=1"), *p2 = probe("echo x > /x"), *px = probe("echo y");
        struct berr err = { 0 };
        /* the local cache leads to the source: used as it is */
        assert_int_equal(image_store_build_cache_from(f->s, BUSYBOX_ID, sources, 1, p1, cfg, got, &err), 1);
        assert_string_equal(got, a);
        /* the last step of the source is the source itself */
        assert_int_equal(image_store_build_cache_from(f->s, a, sources, 1, p2, cfg, got, &err), 1);
        assert_string_equal(got, b);
        assert_int_equal(image_store_build_cache_from(f->s, a, sources, 1, px, cfg, got, &err), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_build_step_records_parent_history_and_layers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_build_cache_finds_the_child_with_the_same_container_config, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_rmi_of_a_built_image_takes_its_untagged_parents, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cache_from_follows_the_source_history, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
