/* Unit tests for the store checker (berthd --check): a fake data root built here, with a
 * whole image (one layer), then damage one kind at a time: orphans, a corrupted blob, a
 * layer whose files no longer give its diff ID, a container record naming a missing
 * image, a reference to a missing image. */
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

#include "common/digest.h"
#include "common/err.h"
#include "common/fs.h"
#include "daemon/check.h"
#include "daemon/config.h"
#include "image/image_store.h"

static char dir[64];
static char image_id[DIGEST_STRING_MAX];

static void put(const char *rel, const char *text) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        char *slash = strrchr(p, '/');
        *slash = '\0';
        assert_int_equal(fs_mkdir_p(p, 0700, NULL), 0);
        *slash = '/';
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void mkdirs(const char *rel) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        assert_int_equal(fs_mkdir_p(p, 0700, NULL), 0);
}

static bool exists(const char *rel) {
        char p[512];
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        return lstat(p, &st) == 0;
}

/* One layer holding the file "hello" (its tar made by hand: a ustar header and 512
 * bytes of content, then two zero blocks), registered through the real image store by
 * an import, so the records are exactly what berthd writes. */
static void build_store(void) {
        struct image_store *s = NULL;
        struct berr err = { 0 };
        assert_int_equal(image_store_open(dir, "vfs", &s, &err), 0);
        char tar[512 * 4] = { 0 };
        char *h = tar;
        strcpy(h, "hello");
        strcpy(h + 100, "0000644");
        strcpy(h + 108, "0000000");
        strcpy(h + 116, "0000000");
        strcpy(h + 124, "00000000003");
        strcpy(h + 136, "00000000000");
        h[156] = '0';
        memcpy(h + 257, "ustar\00000", 8);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (int i = 0; i < 512; i++)
                sum += (unsigned char) h[i];
        snprintf(h + 148, 8, "%06o", sum);
        memcpy(tar + 512, "hi\n", 3);
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        assert_int_equal(write(fds[1], tar, sizeof(tar)), (ssize_t) sizeof(tar));
        close(fds[1]);
        struct image_import_opts o = { .reference = "fake:1", .source = "-" };
        assert_int_equal(image_store_import(s, fds[0], &o, image_id, &err), 0);
        close(fds[0]);
        image_store_free(s);
        /* A blob as a pull keeps it, and its digest. */
        char digest[DIGEST_STRING_MAX], rel[128];
        assert_int_equal(digest_sha256_buf("blob-bytes", 10, digest, NULL), 0);
        snprintf(rel, sizeof(rel), "blobs/sha256/%s", digest_hex(digest));
        put(rel, "blob-bytes");
}

static int setup(void **st) {
        (void) st;
        snprintf(dir, sizeof(dir), "/tmp/berth-check-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        build_store();
        return 0;
}

static int teardown(void **st) {
        (void) st;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

/* Run the checker on the fake roots; its report into @out (caller frees). */
static int run_check(enum check_mode mode, bool repair, char **out) {
        struct daemon_config cfg;
        daemon_config_init(&cfg);
        free(cfg.data_root);
        free(cfg.exec_root);
        free(cfg.pidfile);
        char p[128];
        cfg.data_root = strdup(dir);
        snprintf(p, sizeof(p), "%s-exec", dir);
        cfg.exec_root = strdup(p);
        snprintf(p, sizeof(p), "%s/berthd.pid", dir);
        cfg.pidfile = strdup(p);
        size_t len;
        FILE *f = open_memstream(out, &len);
        struct check_opts o = { .mode = mode, .repair = repair, .out = f };
        struct berr err = { 0 };
        int r = daemon_check(&cfg, &o, &err);
        fclose(f);
        daemon_config_done(&cfg);
        return r;
}

static void test_check_fresh_store_is_clean(void **st) {
        (void) st;
        char *out = NULL;
        assert_int_equal(run_check(CHECK_FULL, false, &out), 0);
        assert_non_null(strstr(out, "1 images, 1 layers, 1 blobs, 1 references"));
        assert_non_null(strstr(out, "result: clean"));
        assert_false(exists("berthd.pid")); /* the lock it took is not left behind */
        free(out);
}

static void test_check_reports_orphans_and_repair_removes_them(void **st) {
        (void) st;
        mkdirs("vfs/dir/0123456789012345678901234567890123456789012345678901234567890123");
        put("tmp/blob-Xy12", "partial");
        mkdirs("layers/sha256/.tmp-new-abc");
        mkdirs("image/sha256/.tmp-new-abc");
        char *out = NULL;
        assert_int_equal(run_check(CHECK_QUICK, false, &out), 1);
        assert_non_null(strstr(out, "orphan   vfs/dir/0123456789012345678901234567890123456789012345678901234567890123: "
                                    "layer storage no layer record owns\n"));
        assert_non_null(strstr(out, "orphan   tmp/blob-Xy12: spool file"));
        assert_non_null(strstr(out, "orphan   layers/sha256/.tmp-new-abc: temporary file"));
        assert_non_null(strstr(out, "orphan   image/sha256/.tmp-new-abc: temporary file"));
        assert_non_null(strstr(out, "result: inconsistent: 0 problems, 4 orphans, 0 stale"));
        assert_true(exists("tmp/blob-Xy12")); /* a check alone changes nothing */
        free(out);
        assert_int_equal(run_check(CHECK_QUICK, true, &out), 0);
        assert_non_null(strstr(out, "spool file of an interrupted load, pull or build (repaired)"));
        assert_non_null(strstr(out, "repaired: 4"));
        assert_false(exists("tmp/blob-Xy12"));
        assert_false(exists("vfs/dir/0123456789012345678901234567890123456789012345678901234567890123"));
        free(out);
        assert_int_equal(run_check(CHECK_FULL, false, &out), 0);
        free(out);
}

static void test_check_full_finds_a_corrupted_blob_quick_does_not(void **st) {
        (void) st;
        char digest[DIGEST_STRING_MAX], rel[128];
        assert_int_equal(digest_sha256_buf("blob-bytes", 10, digest, NULL), 0);
        snprintf(rel, sizeof(rel), "blobs/sha256/%s", digest_hex(digest));
        put(rel, "blob-byteZ");
        char *out = NULL;
        assert_int_equal(run_check(CHECK_QUICK, false, &out), 0);
        free(out);
        assert_int_equal(run_check(CHECK_FULL, false, &out), 1);
        char want[256];
        snprintf(want, sizeof(want), "problem  %s: content hashes to sha256:", rel);
        assert_non_null(strstr(out, want));
        free(out);
        /* Repair drops it: a pull fetches it again, a push compresses the layer anew. */
        assert_int_equal(run_check(CHECK_FULL, true, &out), 0);
        assert_false(exists(rel));
        free(out);
}

static void test_check_full_finds_a_layer_whose_files_changed(void **st) {
        (void) st;
        char *out = NULL;
        /* The vfs layer's one file, changed behind the store's back (same size). */
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "for f in %s/vfs/dir/*/hello; do printf 'ho\\n' > $f; done", dir);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(run_check(CHECK_QUICK, false, &out), 0);
        free(out);
        assert_int_equal(run_check(CHECK_FULL, false, &out), 1);
        assert_non_null(strstr(out, ": content does not match diff ID sha256:"));
        free(out);
        /* Repair never removes a layer an image uses. */
        assert_int_equal(run_check(CHECK_FULL, true, &out), 1);
        assert_null(strstr(out, "(repaired)"));
        free(out);
}

static void test_check_container_naming_a_missing_image(void **st) {
        (void) st;
        const char *cid = "c0ffee0000000000000000000000000000000000000000000000000000000000";
        char rel[256], rec[512];
        snprintf(rel, sizeof(rel), "containers/%s/config.json", cid);
        snprintf(rec, sizeof(rec),
                 "{\"ID\":\"%s\",\"Name\":\"/x\",\"Image\":\"sha256:%064d\",\"Config\":{\"Image\":\"x\"},"
                 "\"State\":{\"Status\":\"exited\"}}",
                 cid, 7);
        put(rel, rec);
        snprintf(rel, sizeof(rel), "containers/%s/hostconfig.json", cid);
        put(rel, "{}");
        /* And one whose record is cut short: an orphan start-up removes. */
        put("containers/d00d000000000000000000000000000000000000000000000000000000000000/hostname", "x");
        char *out = NULL;
        assert_int_equal(run_check(CHECK_QUICK, false, &out), 1);
        char want[256];
        snprintf(want, sizeof(want), "problem  containers/%s: its image sha256:%064d is not stored", cid, 7);
        assert_non_null(strstr(out, want));
        assert_non_null(strstr(out, "orphan   containers/d00d000000000000000000000000000000000000000000000000000000000000: "
                                    "container directory without a complete record"));
        free(out);
        assert_int_equal(run_check(CHECK_QUICK, true, &out), 1);
        assert_true(exists("containers/c0ffee0000000000000000000000000000000000000000000000000000000000/config.json"));
        assert_false(exists("containers/d00d000000000000000000000000000000000000000000000000000000000000"));
        free(out);
}

static void test_check_reference_to_a_missing_image(void **st) {
        (void) st;
        char rel[256];
        snprintf(rel, sizeof(rel), "image/sha256/%s/config", digest_hex(image_id));
        put(rel, "{\"changed\": true}");
        char *out = NULL;
        assert_int_equal(run_check(CHECK_QUICK, false, &out), 1);
        char want[256];
        snprintf(want, sizeof(want), "problem  image/sha256/%s: its config hashes to sha256:", digest_hex(image_id));
        assert_non_null(strstr(out, want));
        snprintf(want, sizeof(want), "problem  image/references.json: fake:1 names image %s, which is not stored",
                 image_id);
        assert_non_null(strstr(out, want));
        free(out);
}

static void test_check_volume_cut_short_and_volume_with_data(void **st) {
        (void) st;
        mkdirs("volumes/whole/_data");
        put("volumes/whole/volume.json", "{\"Name\":\"whole\"}");
        mkdirs("volumes/halfmade/_data");
        put("volumes/userdata/_data/precious", "keep me");
        char *out = NULL;
        assert_int_equal(run_check(CHECK_QUICK, false, &out), 1);
        assert_non_null(strstr(out, "orphan   volumes/halfmade: volume directory without a record and with no data"));
        assert_non_null(strstr(out, "problem  volumes/userdata: volume directory without its record (volume.json) holds "
                                    "data: left alone"));
        assert_non_null(strstr(out, " 1 volumes,"));
        free(out);
        assert_int_equal(run_check(CHECK_QUICK, true, &out), 1);
        assert_false(exists("volumes/halfmade"));
        assert_true(exists("volumes/userdata/_data/precious")); /* never user data */
        assert_true(exists("volumes/whole/_data"));
        free(out);
}

static void test_check_temporary_files_of_atomic_writes(void **st) {
        (void) st;
        put("network/.tmp-f3249f53cd24.json.24968", "{\"Id\":");
        put("image/.tmp-references.json.77", "{");
        put("network/.tmp-not-ours", "x"); /* no .PID: not fs_write_atomic's, left alone */
        char *out = NULL;
        assert_int_equal(run_check(CHECK_QUICK, false, &out), 1);
        assert_non_null(strstr(out, "orphan   network/.tmp-f3249f53cd24.json.24968: temporary file of a write cut short"));
        assert_non_null(strstr(out, "orphan   image/.tmp-references.json.77: temporary file of a write cut short"));
        assert_null(strstr(out, "tmp-not-ours"));
        assert_non_null(strstr(out, " 0 networks")); /* a temporary file is no network record */
        free(out);
        /* berthd's start-up removes them (nothing else ever would). */
        struct daemon_config cfg;
        daemon_config_init(&cfg);
        free(cfg.data_root);
        cfg.data_root = strdup(dir);
        assert_int_equal(daemon_check_startup(&cfg), 2);
        daemon_config_done(&cfg);
        assert_false(exists("network/.tmp-f3249f53cd24.json.24968"));
        assert_false(exists("image/.tmp-references.json.77"));
        assert_true(exists("network/.tmp-not-ours"));
}

static void test_check_args(void **st) {
        (void) st;
        char *argv1[] = { "berthd", "--data-root", "/x", "--check=quick", "--repair", NULL };
        int argc = 5;
        struct check_opts o;
        struct berr err = { 0 };
        assert_int_equal(daemon_check_args(&argc, argv1, &o, &err), 1);
        assert_int_equal(argc, 3);
        assert_int_equal(o.mode, CHECK_QUICK);
        assert_true(o.repair);
        assert_null(argv1[3]);
        char *argv2[] = { "berthd", "--repair", NULL };
        argc = 2;
        assert_true(daemon_check_args(&argc, argv2, &o, &err) < 0);
        assert_string_equal(err.msg, "--repair is only valid with --check");
        char *argv3[] = { "berthd", "-D", NULL };
        argc = 2;
        assert_int_equal(daemon_check_args(&argc, argv3, &o, &err), 0);
        assert_int_equal(argc, 2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_check_fresh_store_is_clean, setup, teardown),
                cmocka_unit_test_setup_teardown(test_check_reports_orphans_and_repair_removes_them, setup, teardown),
                cmocka_unit_test_setup_teardown(test_check_full_finds_a_corrupted_blob_quick_does_not, setup, teardown),
                cmocka_unit_test_setup_teardown(test_check_full_finds_a_layer_whose_files_changed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_check_container_naming_a_missing_image, setup, teardown),
                cmocka_unit_test_setup_teardown(test_check_reference_to_a_missing_image, setup, teardown),
                cmocka_unit_test_setup_teardown(test_check_volume_cut_short_and_volume_with_data, setup, teardown),
                cmocka_unit_test_setup_teardown(test_check_temporary_files_of_atomic_writes, setup, teardown),
                cmocka_unit_test(test_check_args),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
