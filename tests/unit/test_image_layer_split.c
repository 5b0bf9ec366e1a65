/* test_image_layer_split.c - a layer tar recorded while it is applied comes back byte for
 * byte from the record and the applied files, for the tar dialects layers come in (PAX,
 * GNU long names, ustar prefixes, odd trailers); a changed file is caught. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/err.h"
#include "image/layer_apply.h"
#include "image/layer_split.h"
#include "common/tree.h"

struct buf {
        char *data;
        size_t len, cap;
};

static void buf_put(struct buf *b, const void *p, size_t n) {
        if (b->len + n > b->cap) {
                b->cap = (b->len + n) * 2;
                b->data = realloc(b->data, b->cap);
        }
        memcpy(b->data + b->len, p, n);
        b->len += n;
}

static la_ssize_t mem_write(struct archive *a, void *opaque, const void *p, size_t n) {
        buf_put(opaque, p, n);
        return (la_ssize_t) n;
}

static void add_file(struct archive *a, const char *name, const char *data, size_t len, mode_t mode) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, mode);
        archive_entry_set_size(e, (la_int64_t) len);
        archive_entry_set_mtime(e, 1700000000, 0);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (len)
                assert_int_equal(archive_write_data(a, data, len), (la_ssize_t) len);
        archive_entry_free(e);
}

static void add_other(struct archive *a, const char *name, mode_t type, const char *link, bool hard) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        if (hard) {
                archive_entry_set_hardlink(e, link);
        } else {
                archive_entry_set_filetype(e, type);
                if (link)
                        archive_entry_set_symlink(e, link);
        }
        archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0777);
        archive_entry_set_mtime(e, 1700000000, 0);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        archive_entry_free(e);
}

/* A layer with every kind of entry; @format is an archive_write_set_format_* function. */
static struct buf make_layer(int (*format)(struct archive *)) {
        struct buf b = { 0 };
        struct archive *a = archive_write_new();
        format(a);
        archive_write_set_bytes_in_last_block(a, 1);
        assert_int_equal(archive_write_open(a, &b, NULL, mem_write, NULL), ARCHIVE_OK);
        static char big[100000];
        for (size_t i = 0; i < sizeof(big); i++)
                big[i] = (char) (i * 7 + i / 13);
        add_other(a, "etc", AE_IFDIR, NULL, false);
        add_file(a, "etc/empty", "", 0, 0644);
        add_file(a, "etc/511", big, 511, 0644);
        add_file(a, "etc/512", big, 512, 0600);
        add_file(a, "etc/513", big, 513, 04755);
        add_file(a, "etc/big", big, sizeof(big), 0644);
        add_other(a, "etc/link", AE_IFLNK, "big", false);
        add_other(a, "etc/hard", 0, "etc/big", true);
        add_file(a, "etc/.wh.gone", "", 0, 0644);
        char longname[300];
        snprintf(longname, sizeof(longname), "%s/%s/file-with-a-long-name.txt",
                 "a-directory-whose-name-is-quite-long-to-need-more-room-than-one-hundred",
                 "and-another-level-that-pushes-past-the-ustar-limit-of-the-name-field");
        add_other(a, "a-directory-whose-name-is-quite-long-to-need-more-room-than-one-hundred", AE_IFDIR, NULL, false);
        char d2[250];
        snprintf(d2, sizeof(d2), "%.*s", (int) (strrchr(longname, '/') - longname), longname);
        add_other(a, d2, AE_IFDIR, NULL, false);
        add_file(a, longname, big, 1234, 0644);
        archive_write_close(a);
        archive_write_free(a);
        return b;
}

struct applied {
        char dir[64];
        char split[80];
        struct layer_apply_result res;
};

static void apply_with_split(const struct buf *tar, struct applied *ap) {
        snprintf(ap->dir, sizeof(ap->dir), "/var/tmp/berth-split-XXXXXX");
        assert_non_null(mkdtemp(ap->dir));
        char root[96];
        snprintf(root, sizeof(root), "%s/root", ap->dir);
        assert_int_equal(mkdir(root, 0755), 0);
        snprintf(ap->split, sizeof(ap->split), "%s/split", ap->dir);
        _cleanup_close_ int sfd = open(ap->split, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        assert_true(sfd >= 0);
        char tarpath[96];
        snprintf(tarpath, sizeof(tarpath), "%s/layer.tar", ap->dir);
        _cleanup_close_ int tfd = open(tarpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        assert_true(write(tfd, tar->data, tar->len) == (ssize_t) tar->len);
        assert_int_equal(lseek(tfd, 0, SEEK_SET), 0);
        _cleanup_close_ int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct layer_split_writer *w = NULL;
        struct berr err = { 0 };
        assert_int_equal(layer_split_writer_new(sfd, &w, &err), 0);
        struct layer_apply_opts opts = { .whiteouts = LAYER_WHITEOUTS_OVERLAY, .split = w };
        if (layer_apply_fd(rfd, tfd, &opts, &ap->res, &err) < 0)
                fail_msg("apply: %s", err.msg);
        assert_int_equal(layer_split_writer_finish(w, &err), 0);
        layer_split_writer_free(w);
}

/* Reassemble; returns 0 and the bytes, or the error. */
static int reassemble(struct applied *ap, struct buf *out, struct berr *err) {
        char root[96];
        snprintf(root, sizeof(root), "%s/root", ap->dir);
        _cleanup_close_ int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int sfd = open(ap->split, O_RDONLY | O_CLOEXEC);
        struct layer_split_reader *r = NULL;
        int rc = layer_split_reader_new(sfd, rfd, ap->res.diff_id, &r, err);
        if (rc < 0)
                return rc;
        assert_int_equal(layer_split_reader_size(r), ap->res.tar_bytes);
        char chunk[7000]; /* an odd size, so reads straddle records */
        for (;;) {
                ssize_t n = layer_split_read(r, chunk, sizeof(chunk), err);
                if (n < 0) {
                        layer_split_reader_free(r);
                        return (int) n;
                }
                if (n == 0)
                        break;
                buf_put(out, chunk, (size_t) n);
        }
        layer_split_reader_free(r);
        return 0;
}

static void cleanup_applied(struct applied *ap) {
        assert_int_equal(tree_remove_at(AT_FDCWD, ap->dir, NULL), 0);
}

static void check_roundtrip(struct buf tar) {
        struct applied ap;
        apply_with_split(&tar, &ap);
        struct buf out = { 0 };
        struct berr err = { 0 };
        if (reassemble(&ap, &out, &err) < 0)
                fail_msg("reassemble: %s", err.msg);
        assert_int_equal(out.len, tar.len);
        assert_memory_equal(out.data, tar.data, tar.len);
        /* The record holds headers, not contents. */
        struct stat st;
        assert_int_equal(stat(ap.split, &st), 0);
        assert_true(tar.len == 0 || (size_t) st.st_size < tar.len / 4);
        cleanup_applied(&ap);
        free(out.data);
        free(tar.data);
}

static void test_layer_split_reproduces_pax_layer(void **state) {
        check_roundtrip(make_layer(archive_write_set_format_pax_restricted));
}

static void test_layer_split_reproduces_gnu_long_names(void **state) {
        check_roundtrip(make_layer(archive_write_set_format_gnutar));
}

static void test_layer_split_reproduces_ustar_prefix(void **state) {
        /* ustar splits long paths into prefix + name; libarchive's ustar refuses names over
         * 255, so keep to the entries that fit. */
        struct buf b = { 0 };
        struct archive *a = archive_write_new();
        archive_write_set_format_ustar(a);
        assert_int_equal(archive_write_open(a, &b, NULL, mem_write, NULL), ARCHIVE_OK);
        const char *dir = "prefix-part-that-is-long-enough-to-push-the-name-over-one-hundred-characters-in-total";
        add_other(a, dir, AE_IFDIR, NULL, false);
        char name[200];
        snprintf(name, sizeof(name), "%s/the-file-itself-with-its-own-name.bin", dir);
        add_file(a, name, "0123456789", 10, 0644);
        archive_write_close(a);
        archive_write_free(a);
        check_roundtrip(b);
}

static void test_layer_split_keeps_trailer_and_odd_bytes(void **state) {
        struct buf b = make_layer(archive_write_set_format_pax_restricted);
        /* Go's tar writer and others end differently; what follows the end blocks counts too. */
        char tail[1500];
        memset(tail, 0, sizeof(tail));
        memcpy(tail + 1100, "junk after the end", 18);
        buf_put(&b, tail, sizeof(tail));
        check_roundtrip(b);
}

static void test_layer_split_empty_stream(void **state) {
        struct buf b = { 0 };
        check_roundtrip(b);
}

static void test_layer_split_detects_changed_file(void **state) {
        struct buf tar = make_layer(archive_write_set_format_pax_restricted);
        struct applied ap;
        apply_with_split(&tar, &ap);
        char p[160];
        snprintf(p, sizeof(p), "%s/root/etc/513", ap.dir);
        int fd = open(p, O_WRONLY);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, "X", 1, 100), 1);
        close(fd);
        struct buf out = { 0 };
        struct berr err = { 0 };
        assert_true(reassemble(&ap, &out, &err) < 0);
        assert_non_null(strstr(err.msg, "changed"));
        /* A file that is gone is an error too, not a short tar. */
        assert_int_equal(unlink(p), 0);
        out.len = 0;
        assert_true(reassemble(&ap, &out, &err) < 0);
        cleanup_applied(&ap);
        free(out.data);
        free(tar.data);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_layer_split_reproduces_pax_layer),
                cmocka_unit_test(test_layer_split_reproduces_gnu_long_names),
                cmocka_unit_test(test_layer_split_reproduces_ustar_prefix),
                cmocka_unit_test(test_layer_split_keeps_trailer_and_odd_bytes),
                cmocka_unit_test(test_layer_split_empty_stream),
                cmocka_unit_test(test_layer_split_detects_changed_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
