/* test_image_save.c - save (the archive's files, byte-exact blobs, shared layers once,
 * a round trip through load, an rmi racing a save), history against the reference
 * engine's answer, list filters and prune, on stores loaded from the fixtures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/err.h"
#include "common/fs.h"
#include "image/image_store.h"
#include "common/tree.h"

#define FIX "tests/fixtures/"
#define BUSYBOX_ID "sha256:1753f6f850bd793fb12d6eb8f3c47c9b91eefa519a95aeaf492d02ac5fc14ef5"
#define LAYERED_ID "sha256:98f2b9df14be82434877634cf433aaa092a6212299ac028eafa7e21738450bb1"
#define BASE_DIFF "3be376e228c9f11cdb8aeae0776cac3191907e5d893faae07e12fe9b0c832002"

struct fixture {
        char root[64];
        struct image_store *s;
};

static struct image_store *open_store(char root[64]) {
        snprintf(root, 64, "/var/tmp/berth-save-XXXXXX");
        assert_non_null(mkdtemp(root));
        struct image_store *s = NULL;
        struct berr err = { 0 };
        if (image_store_open(root, NULL, &s, &err) < 0)
                fail_msg("open: %s", err.msg);
        return s;
}

static void load_path(struct image_store *s, const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        struct berr err = { 0 };
        if (image_store_load_archive(s, fd, NULL, NULL, &err) < 0)
                fail_msg("load %s: %s", path, err.msg);
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        f->s = open_store(f->root);
        load_path(f->s, FIX "busybox-docker-archive.tar");
        load_path(f->s, FIX "layered-docker-archive.tar");
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

struct archive_file {
        char name[128];
        char *data;
        size_t len;
};

struct saved {
        struct archive_file files[64];
        size_t n;
        char *raw;
        size_t raw_len;
};

static void saved_free(struct saved *sv) {
        for (size_t i = 0; i < sv->n; i++)
                free(sv->files[i].data);
        free(sv->raw);
}

/* Save @names, reading in odd-sized pieces, and unpack the result in memory. */
static void save(struct image_store *s, const char *const *names, size_t n, struct saved *out) {
        memset(out, 0, sizeof(*out));
        struct image_save *sv = NULL;
        struct berr err = { 0 };
        if (image_store_save_open(s, names, n, &sv, &err) < 0)
                fail_msg("save: %s", err.msg);
        assert_true(image_save_count(sv) >= 1 && image_save_count(sv) <= n);
        assert_true(strncmp(image_save_image_id(sv, 0), "sha256:", 7) == 0);
        size_t cap = 1 << 20;
        out->raw = malloc(cap);
        for (;;) {
                if (out->raw_len + 3001 > cap)
                        out->raw = realloc(out->raw, cap *= 2);
                ssize_t got = image_save_read(sv, out->raw + out->raw_len, 3001, &err);
                if (got < 0)
                        fail_msg("read: %s", err.msg);
                if (got == 0)
                        break;
                out->raw_len += (size_t) got;
        }
        image_save_free(sv);
        assert_int_equal(out->raw_len % 512, 0);
        struct archive *a = archive_read_new();
        archive_read_support_format_tar(a);
        assert_int_equal(archive_read_open_memory(a, out->raw, out->raw_len), ARCHIVE_OK);
        struct archive_entry *e;
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                struct archive_file *file = &out->files[out->n++];
                snprintf(file->name, sizeof(file->name), "%s", archive_entry_pathname(e));
                file->len = (size_t) archive_entry_size(e);
                file->data = malloc(file->len + 1);
                assert_int_equal(archive_read_data(a, file->data, file->len), (la_ssize_t) file->len);
                file->data[file->len] = '\0';
        }
        archive_read_free(a);
}

static struct archive_file *find(struct saved *sv, const char *name) {
        for (size_t i = 0; i < sv->n; i++)
                if (STREQ(sv->files[i].name, name))
                        return &sv->files[i];
        return NULL;
}

static void test_image_save_writes_docker_and_oci_layout_with_exact_blobs(void **state) {
        struct fixture *f = *state;
        const char *names[] = { "busybox", "layered:latest" };
        struct saved sv;
        save(f->s, names, 2, &sv);
        /* Directories, 2 configs, 3 layers (the base once), 2 manifests, 4 index files. */
        assert_int_equal(sv.n, 2 + 2 + 3 + 2 + 4);
        assert_string_equal(sv.files[0].name, "blobs/");
        assert_string_equal(sv.files[1].name, "blobs/sha256/");
        assert_string_equal(sv.files[sv.n - 4].name, "index.json");
        assert_string_equal(sv.files[sv.n - 1].name, "repositories");
        for (size_t i = 2; i < sv.n - 4; i++) {
                char d[DIGEST_STRING_MAX];
                assert_int_equal(digest_sha256_buf(sv.files[i].data, sv.files[i].len, d, NULL), 0);
                assert_string_equal(d + 7, sv.files[i].name + strlen("blobs/sha256/"));
        }
        assert_non_null(find(&sv, "blobs/sha256/" BASE_DIFF));
        json_t *m = json_loads(find(&sv, "manifest.json")->data, 0, NULL);
        assert_int_equal(json_array_size(m), 2);
        json_t *bb = json_array_get(m, 0);
        assert_string_equal(json_string_value(json_object_get(bb, "Config")) + strlen("blobs/sha256/"), BUSYBOX_ID + 7);
        assert_string_equal(json_string_value(json_array_get(json_object_get(bb, "RepoTags"), 0)), "busybox:latest");
        assert_int_equal(json_array_size(json_object_get(json_array_get(m, 1), "Layers")), 3);
        json_decref(m);
        json_t *idx = json_loads(find(&sv, "index.json")->data, 0, NULL);
        json_t *d0 = json_array_get(json_object_get(idx, "manifests"), 0);
        assert_string_equal(json_string_value(json_object_get(json_object_get(d0, "annotations"), "io.containerd.image.name")),
                            "docker.io/library/busybox:latest");
        json_decref(idx);
        assert_string_equal(find(&sv, "oci-layout")->data, "{\"imageLayoutVersion\":\"1.0.0\"}");
        assert_string_equal(find(&sv, "repositories")->data,
                            "{\"busybox\":{\"latest\":\"" BASE_DIFF "\"},\"layered\":{\"latest\":"
                            "\"2b6636303a92692b9c6f25234b06644565294441f06aaa87aca211200e1bc4cf\"}}\n");

        /* Round trip: a fresh store loads it to the same IDs and tags. */
        char root2[64];
        struct image_store *s2 = open_store(root2);
        char path[128];
        snprintf(path, sizeof(path), "%s/saved.tar", root2);
        assert_int_equal(fs_write_atomic(AT_FDCWD, path, sv.raw, sv.raw_len, 0600, NULL), 0);
        load_path(s2, path);
        char id[DIGEST_STRING_MAX];
        assert_int_equal(image_store_resolve(s2, "busybox:latest", id, NULL), 0);
        assert_string_equal(id, BUSYBOX_ID);
        assert_int_equal(image_store_resolve(s2, "layered:latest", id, NULL), 0);
        assert_string_equal(id, LAYERED_ID);
        image_store_free(s2);
        assert_int_equal(tree_remove_at(AT_FDCWD, root2, NULL), 0);
        saved_free(&sv);
}

static void test_image_save_by_id_and_by_repository(void **state) {
        struct fixture *f = *state;
        assert_int_equal(image_store_tag(f->s, "busybox", "busybox:other", NULL), 0);
        struct saved sv;
        const char *by_repo[] = { "busybox" };
        save(f->s, by_repo, 1, &sv);
        json_t *m = json_loads(find(&sv, "manifest.json")->data, 0, NULL);
        json_t *tags = json_object_get(json_array_get(m, 0), "RepoTags");
        assert_int_equal(json_array_size(tags), 2);
        assert_string_equal(json_string_value(json_array_get(tags, 0)), "busybox:latest");
        assert_string_equal(json_string_value(json_array_get(tags, 1)), "busybox:other");
        json_decref(m);
        saved_free(&sv);

        const char *by_id[] = { "1753f6f850bd" };
        save(f->s, by_id, 1, &sv);
        m = json_loads(find(&sv, "manifest.json")->data, 0, NULL);
        assert_true(json_is_null(json_object_get(json_array_get(m, 0), "RepoTags")));
        assert_null(find(&sv, "repositories"));
        json_decref(m);
        saved_free(&sv);

        struct image_save *x = NULL;
        struct berr err = { 0 };
        const char *missing[] = { "busybox", "nope:1" };
        assert_true(image_store_save_open(f->s, missing, 2, &x, &err) < 0);
        assert_int_equal(err.kind, BERR_NOT_FOUND);
        assert_string_equal(err.msg, "No such image: nope:1");
}

static void test_image_save_survives_rmi_while_streaming(void **state) {
        struct fixture *f = *state;
        json_t *items = NULL;
        assert_int_equal(image_store_delete(f->s, "busybox", false, NULL, NULL, &items, NULL), 0);
        json_decref(items);
        const char *names[] = { "layered" };
        struct image_save *sv = NULL;
        struct berr err = { 0 };
        assert_int_equal(image_store_save_open(f->s, names, 1, &sv, &err), 0);
        char buf[4096];
        assert_true(image_save_read(sv, buf, sizeof(buf), &err) > 0);
        assert_int_equal(image_store_delete(f->s, "layered", false, NULL, NULL, &items, &err), 0);
        assert_int_equal(json_array_size(items), 2); /* untag + image: the layers are still held */
        json_decref(items);
        size_t total = sizeof(buf);
        ssize_t n;
        while ((n = image_save_read(sv, buf, sizeof(buf), &err)) > 0)
                total += (size_t) n;
        if (n < 0)
                fail_msg("read: %s", err.msg);
        assert_true(total > 2000000);
        image_save_free(sv);
        assert_int_equal(image_store_layers_size(f->s), 0); /* released with the save */
}

static void test_image_history_matches_reference_engine(void **state) {
        struct fixture *f = *state;
        assert_int_equal(image_store_tag(f->s, "layered", "127.0.0.1:5000/layered:latest", NULL), 0);
        _cleanup_json_ json_t *h = NULL;
        assert_int_equal(image_store_history(f->s, "layered", &h, NULL), 0);
        _cleanup_json_ json_t *want = json_load_file(FIX "api-1.41/image-history-layered.json", 0, NULL);
        assert_non_null(want);
        _cleanup_free_ char *a = json_dumps(h, JSON_SORT_KEYS | JSON_COMPACT);
        _cleanup_free_ char *b = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
        assert_string_equal(a, b);
}

static size_t count_list(struct image_store *s, const struct image_filters *fl, json_t **ret) {
        struct image_list_opts o = { .filters = fl };
        struct berr err = { 0 };
        if (image_store_list_filtered(s, &o, ret, &err) < 0)
                fail_msg("list: %s", err.msg);
        return json_array_size(*ret);
}

static void test_image_list_filters(void **state) {
        struct fixture *f = *state;
        json_t *l = NULL;
        struct image_filters fl = { .dangling = -1 };
        assert_int_equal(count_list(f->s, &fl, &l), 2);
        /* Newest first. */
        assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "Id")), LAYERED_ID);
        json_decref(l);

        const char *labels[] = { "org.example.berth.fixture=layered", NULL };
        fl.labels = labels;
        assert_int_equal(count_list(f->s, &fl, &l), 1);
        json_decref(l);
        const char *key_only[] = { "org.example.berth.note", NULL };
        fl.labels = key_only;
        assert_int_equal(count_list(f->s, &fl, &l), 1);
        json_decref(l);
        fl.labels = NULL;

        assert_int_equal(image_store_tag(f->s, "busybox", "example.com/tools/busybox:1", NULL), 0);
        const char *refs[] = { "busy*", NULL };
        fl.references = refs;
        assert_int_equal(count_list(f->s, &fl, &l), 1);
        json_t *tags = json_object_get(json_array_get(l, 0), "RepoTags");
        assert_int_equal(json_array_size(tags), 1); /* only what matched */
        assert_string_equal(json_string_value(json_array_get(tags, 0)), "busybox:latest");
        json_decref(l);
        const char *refs2[] = { "example.com/*/*:1", NULL };
        fl.references = refs2;
        assert_int_equal(count_list(f->s, &fl, &l), 1);
        json_decref(l);
        fl.references = NULL;

        fl.before = "layered";
        assert_int_equal(count_list(f->s, &fl, &l), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "Id")), BUSYBOX_ID);
        json_decref(l);
        fl.before = NULL;
        fl.since = "busybox";
        assert_int_equal(count_list(f->s, &fl, &l), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "Id")), LAYERED_ID);
        json_decref(l);
        fl.since = "nope";
        struct image_list_opts o = { .filters = &fl };
        struct berr err = { 0 };
        assert_true(image_store_list_filtered(f->s, &o, &l, &err) < 0);
        assert_int_equal(err.kind, BERR_NOT_FOUND);
        fl.since = NULL;

        /* Dangling: untag busybox entirely. */
        json_t *items;
        assert_int_equal(image_store_delete(f->s, "busybox", false, NULL, NULL, &items, NULL), 0);
        json_decref(items);
        assert_int_equal(image_store_delete(f->s, "example.com/tools/busybox:1", false, NULL, NULL, &items, NULL), 0);
        json_decref(items);
        /* By name, and busybox used by nothing: deleted. Load it again, then untag only. */
        load_path(f->s, FIX "busybox-docker-archive.tar");
        assert_int_equal(image_store_tag(f->s, "busybox", "keep:1", NULL), 0);
        assert_int_equal(image_store_delete(f->s, "busybox", false, NULL, NULL, &items, NULL), 0);
        json_decref(items);
        assert_int_equal(image_store_delete(f->s, "keep:1", false, NULL, NULL, &items, NULL), 0);
        json_decref(items);
        load_path(f->s, FIX "busybox-oci-layout.tar"); /* untagged: "Loaded image ID" */
        fl.dangling = 1;
        assert_int_equal(count_list(f->s, &fl, &l), 1);
        assert_int_equal(json_array_size(json_object_get(json_array_get(l, 0), "RepoTags")), 0);
        json_decref(l);
        fl.dangling = 0;
        assert_int_equal(count_list(f->s, &fl, &l), 1);
        json_decref(l);

        struct image_list_opts shared = { .shared_size = true };
        assert_int_equal(image_store_list_filtered(f->s, &shared, &l, &err), 0);
        json_t *img;
        size_t i;
        json_array_foreach(l, i, img)
                assert_int_equal(json_integer_value(json_object_get(img, "SharedSize")), 1985573);
        json_decref(l);
}

static void test_image_prune_dangling_then_all(void **state) {
        struct fixture *f = *state;
        load_path(f->s, FIX "busybox-oci-layout.tar"); /* a dangling third image on the same base */
        _cleanup_json_ json_t *r1 = NULL;
        struct image_filters dangling = { .dangling = 1 };
        struct berr err = { 0 };
        assert_int_equal(image_store_prune(f->s, &dangling, NULL, NULL, &r1, &err), 0);
        json_t *del = json_object_get(r1, "ImagesDeleted");
        assert_int_equal(json_array_size(del), 1);
        assert_non_null(json_object_get(json_array_get(del, 0), "Deleted"));
        assert_int_equal(json_integer_value(json_object_get(r1, "SpaceReclaimed")), 0); /* its layer is shared */

        _cleanup_json_ json_t *r2 = NULL;
        assert_int_equal(image_store_prune(f->s, &dangling, NULL, NULL, &r2, &err), 0);
        assert_true(json_is_null(json_object_get(r2, "ImagesDeleted")));

        /* -a, but only what the label picks, then everything. */
        const char *labels[] = { "org.example.berth.fixture", NULL };
        struct image_filters all_labelled = { .dangling = 0, .labels = labels };
        _cleanup_json_ json_t *r3 = NULL;
        assert_int_equal(image_store_prune(f->s, &all_labelled, NULL, NULL, &r3, &err), 0);
        del = json_object_get(r3, "ImagesDeleted");
        assert_string_equal(json_string_value(json_object_get(json_array_get(del, 0), "Untagged")), "layered:latest");
        assert_string_equal(json_string_value(json_object_get(json_array_get(del, 1), "Deleted")), LAYERED_ID);
        assert_int_equal(json_integer_value(json_object_get(r3, "SpaceReclaimed")), 94);
        struct image_filters all = { .dangling = 0 };
        _cleanup_json_ json_t *r4 = NULL;
        assert_int_equal(image_store_prune(f->s, &all, NULL, NULL, &r4, &err), 0);
        assert_int_equal(json_integer_value(json_object_get(r4, "SpaceReclaimed")), 1985573);
        assert_int_equal(image_store_layers_size(f->s), 0);
}

static enum image_usage uses_layered(void *opaque, const char *id, char cid[65]) {
        snprintf(cid, 65, "%064d", 7);
        return STREQ(id, LAYERED_ID) ? IMAGE_USED_BY_RUNNING : IMAGE_UNUSED;
}

static void test_image_prune_skips_images_containers_use(void **state) {
        struct fixture *f = *state;
        struct image_filters all = { .dangling = 0 };
        _cleanup_json_ json_t *r = NULL;
        assert_int_equal(image_store_prune(f->s, &all, uses_layered, NULL, &r, NULL), 0);
        json_t *del = json_object_get(r, "ImagesDeleted");
        assert_int_equal(json_array_size(del), 2); /* busybox untagged and deleted, its layer kept */
        char id[DIGEST_STRING_MAX];
        assert_int_equal(image_store_resolve(f->s, "layered", id, NULL), 0);
        json_t *items = NULL;
        struct berr err = { 0 };
        /* dockerd's rmi while a container runs the image: by name, only when forced, and
         * then only the name goes; by ID, never. */
        assert_true(image_store_delete(f->s, "layered", false, uses_layered, NULL, &items, &err) < 0);
        assert_int_equal(err.kind, BERR_CONFLICT);
        assert_string_equal(err.msg, "conflict: unable to remove repository reference \"layered\" (must force) - "
                                     "container 000000000000 is using its referenced image 98f2b9df14be");
        assert_int_equal(image_store_delete(f->s, "layered", true, uses_layered, NULL, &items, &err), 0);
        assert_int_equal(json_array_size(items), 1);
        json_decref(items);
        assert_int_equal(image_store_resolve(f->s, LAYERED_ID, id, NULL), 0);
        assert_true(image_store_delete(f->s, LAYERED_ID, true, uses_layered, NULL, &items, &err) < 0);
        assert_int_equal(err.kind, BERR_CONFLICT);
        assert_string_equal(err.msg, "conflict: unable to delete 98f2b9df14be (cannot be forced) - image is being used "
                                     "by running container 000000000000");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_image_save_writes_docker_and_oci_layout_with_exact_blobs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_save_by_id_and_by_repository, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_save_survives_rmi_while_streaming, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_history_matches_reference_engine, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_list_filters, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_prune_dangling_then_all, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_prune_skips_images_containers_use, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
