/* test_image_layer_apply.c - layer tar application: file types, metadata, compression,
 * whiteouts for both drivers, and hostile archives built here with libarchive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/err.h"
#include "common/fs.h"
#include "image/layer_apply.h"
#include "common/tree.h"

struct tent {
        const char *path;
        mode_t type;      /* AE_IFREG... ; 0 with .hardlink set for hard links */
        const char *data; /* file content, symlink target or hard link target */
        mode_t perm;
        unsigned uid, gid;
        dev_t rdev;
        int64_t size; /* declared size when different from strlen(data) (0: strlen) */
        const char *xattr;
        bool hardlink;
};

struct fixture {
        char dir[64];
        int dirfd;
        int root;
        char root_path[128];
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        snprintf(f->dir, sizeof(f->dir), "/var/tmp/berth-test-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY);
        assert_int_equal(mkdirat(f->dirfd, "root", 0755), 0);
        assert_int_equal(mkdirat(f->dirfd, "outside", 0755), 0);
        f->root = openat(f->dirfd, "root", O_RDONLY | O_DIRECTORY);
        snprintf(f->root_path, sizeof(f->root_path), "%s/root", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        close(f->root);
        close(f->dirfd);
        assert_int_equal(tree_remove_at(AT_FDCWD, f->dir, NULL), 0);
        free(f);
        return 0;
}

/* Write @ents as a pax tar to @dir/@name through @filter ("gzip", "zstd" or NULL). */
static void make_tar(struct fixture *f, const char *name, const struct tent *ents, size_t n, const char *filter) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", f->dir, name);
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        if (filter && STREQ(filter, "gzip"))
                archive_write_add_filter_gzip(a);
        else if (filter && STREQ(filter, "zstd"))
                archive_write_add_filter_zstd(a);
        assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                const struct tent *t = &ents[i];
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, t->path);
                archive_entry_set_uid(e, t->uid);
                archive_entry_set_gid(e, t->gid);
                archive_entry_set_mtime(e, 1000000000 + (time_t) i, 0);
                if (t->hardlink) {
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_hardlink(e, t->data);
                        archive_entry_set_size(e, 0);
                } else {
                        archive_entry_set_filetype(e, t->type);
                        archive_entry_set_perm(e, t->perm ? t->perm : (t->type == AE_IFDIR ? 0755 : 0644));
                        if (t->type == AE_IFLNK)
                                archive_entry_set_symlink(e, t->data);
                        if (t->type == AE_IFCHR || t->type == AE_IFBLK)
                                archive_entry_set_rdev(e, t->rdev);
                        if (t->type == AE_IFREG)
                                archive_entry_set_size(e, t->size ? t->size : (int64_t) strlen(t->data ? t->data : ""));
                }
                if (t->xattr)
                        archive_entry_xattr_add_entry(e, t->xattr, "value", 5);
                assert_true(archive_write_header(a, e) >= ARCHIVE_WARN);
                if (!t->hardlink && t->type == AE_IFREG && t->data)
                        archive_write_data(a, t->data, strlen(t->data));
                archive_entry_free(e);
        }
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
}


/* A lone ustar header claiming @size bytes followed by only a few: libarchive's writer
 * would pad the missing data, so this one is written by hand. */
static void make_lying_tar(struct fixture *f, const char *name, uint64_t size) {
        unsigned char h[512] = { 0 };
        snprintf((char *) h, 100, "huge");
        snprintf((char *) h + 100, 8, "%07o", 0644);
        snprintf((char *) h + 108, 8, "%07o", 0);
        snprintf((char *) h + 116, 8, "%07o", 0);
        snprintf((char *) h + 124, 12, "%011llo", (unsigned long long) size);
        snprintf((char *) h + 136, 12, "%011o", 0);
        h[156] = '0';
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (size_t i = 0; i < sizeof(h); i++)
                sum += h[i];
        snprintf((char *) h + 148, 8, "%06o", sum);
        char buf[512 + 100];
        memcpy(buf, h, 512);
        memset(buf + 512, 'x', 100);
        assert_int_equal(fs_write_atomic(f->dirfd, name, buf, sizeof(buf), 0644, NULL), 0);
}

static int apply_opts(struct fixture *f, const char *name, const struct layer_apply_opts *o,
                      struct layer_apply_result *res, struct berr *err) {
        _cleanup_close_ int fd = openat(f->dirfd, name, O_RDONLY);
        assert_true(fd >= 0);
        return layer_apply_fd(f->root, fd, o, res, err);
}

static int apply(struct fixture *f, const char *name, enum layer_whiteouts wh, struct layer_apply_result *res,
                 struct berr *err) {
        struct layer_apply_opts o = { .whiteouts = wh };
        return apply_opts(f, name, &o, res, err);
}

static void assert_applies(struct fixture *f, const char *name, enum layer_whiteouts wh, struct layer_apply_result *res) {
        struct berr err = { 0 };
        if (apply(f, name, wh, res, &err) < 0)
                fail_msg("apply %s: %s", name, err.msg);
}

static void file_digest(struct fixture *f, const char *name, char out[DIGEST_STRING_MAX]) {
        _cleanup_free_ char *data = NULL;
        size_t len;
        assert_int_equal(fs_read_file(f->dirfd, name, 1 << 26, &data, &len, NULL), 0);
        assert_int_equal(digest_sha256_buf(data, len, out, NULL), 0);
}

static void assert_content(int dirfd, const char *path, const char *want) {
        _cleanup_free_ char *data = NULL;
        struct berr err = { 0 };
        if (fs_read_file(dirfd, path, 1 << 20, &data, NULL, &err) < 0)
                fail_msg("%s: %s", path, err.msg);
        assert_string_equal(data, want);
}

static void assert_missing(int dirfd, const char *path) {
        struct stat st;
        if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
                fail_msg("%s exists", path);
}

static const struct tent basic[] = {
        { "./", AE_IFDIR, NULL, 0755, 0, 0, 0, 0, NULL, false },
        { "bin/", AE_IFDIR, NULL, 0711, 0, 0, 0, 0, NULL, false },
        { "bin/tool", AE_IFREG, "#!/bin/sh\necho hi\n", 04755, 1000, 1001, 0, 0, "user.test", false },
        { "bin/sh", AE_IFLNK, "tool", 0777, 0, 0, 0, 0, NULL, false },
        { "bin/tool2", 0, "bin/tool", 0, 0, 0, 0, 0, NULL, true },
        { "dev/null", AE_IFCHR, NULL, 0666, 0, 0, 0x0103, 0, NULL, false },
        { "run/fifo", AE_IFIFO, NULL, 0600, 0, 0, 0, 0, NULL, false },
        { "etc/passwd", AE_IFREG, "root:x:0:0::/root:/bin/sh\n", 0644, 0, 0, 0, 0, NULL, false },
};

static void check_basic(struct fixture *f, const struct layer_apply_result *res) {
        struct stat st;
        assert_int_equal(fstatat(f->root, "bin", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0711);
        assert_int_equal(st.st_mtime, 1000000001); /* set after its children were written */

        assert_int_equal(fstatat(f->root, "bin/tool", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 04755);
        assert_int_equal(st.st_uid, 1000);
        assert_int_equal(st.st_gid, 1001);
        assert_int_equal(st.st_mtime, 1000000002);
        assert_int_equal(st.st_nlink, 2);
        assert_content(f->root, "bin/tool", "#!/bin/sh\necho hi\n");
        char val[16] = { 0 };
        char proc[256];
        snprintf(proc, sizeof(proc), "%s/bin/tool", f->root_path);
        assert_int_equal(lgetxattr(proc, "user.test", val, sizeof(val)), 5);
        assert_string_equal(val, "value");

        char target[64] = { 0 };
        assert_int_equal(readlinkat(f->root, "bin/sh", target, sizeof(target)), 4);
        assert_string_equal(target, "tool");

        struct stat st2;
        assert_int_equal(fstatat(f->root, "bin/tool2", &st2, AT_SYMLINK_NOFOLLOW), 0);
        assert_int_equal(st2.st_ino, st.st_ino);

        assert_int_equal(fstatat(f->root, "dev/null", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(major(st.st_rdev), 1);
        assert_int_equal(minor(st.st_rdev), 3);
        assert_int_equal(fstatat(f->root, "dev", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_int_equal(st.st_mode & 07777, 0755); /* made by us, like Docker's MkdirAll */
        assert_int_equal(fstatat(f->root, "run/fifo", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISFIFO(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);

        /* size as Docker's overlay2 reports it: file bytes + symlink target lengths */
        assert_int_equal(res->size_bytes, strlen(basic[2].data) + 4 + strlen(basic[7].data));
        assert_int_equal(res->entries, ELEMENTSOF(basic));
}

static void test_layer_apply_file_types_and_metadata(void **state) {
        struct fixture *f = *state;
        make_tar(f, "l.tar", basic, ELEMENTSOF(basic), NULL);
        struct layer_apply_result res;
        assert_applies(f, "l.tar", LAYER_WHITEOUTS_OVERLAY, &res);
        check_basic(f, &res);
        char want[DIGEST_STRING_MAX];
        file_digest(f, "l.tar", want);
        assert_string_equal(res.diff_id, want);
        struct stat st;
        assert_int_equal(fstatat(f->dirfd, "l.tar", &st, 0), 0);
        assert_int_equal(res.tar_bytes, st.st_size);
}

static void test_layer_apply_gzip_and_zstd_give_uncompressed_diff_id(void **state) {
        struct fixture *f = *state;
        make_tar(f, "l.tar", basic, ELEMENTSOF(basic), NULL);
        make_tar(f, "l.tar.gz", basic, ELEMENTSOF(basic), "gzip");
        make_tar(f, "l.tar.zst", basic, ELEMENTSOF(basic), "zstd");
        char want[DIGEST_STRING_MAX], gz[DIGEST_STRING_MAX];
        file_digest(f, "l.tar", want);
        file_digest(f, "l.tar.gz", gz);
        assert_string_not_equal(want, gz);
        struct layer_apply_result res;
        assert_applies(f, "l.tar.gz", LAYER_WHITEOUTS_OVERLAY, &res);
        assert_string_equal(res.diff_id, want);
        check_basic(f, &res);
        assert_int_equal(tree_clear_dir(f->root, NULL), 0);
        assert_applies(f, "l.tar.zst", LAYER_WHITEOUTS_OVERLAY, &res);
        assert_string_equal(res.diff_id, want);
        check_basic(f, &res);
}

static void test_layer_apply_empty_stream(void **state) {
        struct fixture *f = *state;
        assert_int_equal(fs_write_atomic(f->dirfd, "empty", "", 0, 0644, NULL), 0);
        struct layer_apply_result res;
        assert_applies(f, "empty", LAYER_WHITEOUTS_OVERLAY, &res);
        assert_string_equal(res.diff_id, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_int_equal(res.entries, 0);
}

static const struct tent whiteouts[] = {
        { "a/", AE_IFDIR, NULL, 0755, 0, 0, 0, 0, NULL, false },
        { "a/.wh.gone.txt", AE_IFREG, "", 0600, 0, 0, 0, 0, NULL, false },
        { "a/.wh.gonedir", AE_IFREG, "", 0600, 0, 0, 0, 0, NULL, false },
        { "a/opq/", AE_IFDIR, NULL, 0755, 0, 0, 0, 0, NULL, false },
        { "a/opq/.wh..wh..opq", AE_IFREG, "", 0600, 0, 0, 0, 0, NULL, false },
        { "a/opq/new.txt", AE_IFREG, "new\n", 0644, 0, 0, 0, 0, NULL, false },
        { "a/.wh..wh.plnk/", AE_IFDIR, NULL, 0700, 0, 0, 0, 0, NULL, false },
};

static void test_layer_apply_whiteouts_overlay(void **state) {
        struct fixture *f = *state;
        make_tar(f, "wh.tar", whiteouts, ELEMENTSOF(whiteouts), NULL);
        struct layer_apply_result res;
        assert_applies(f, "wh.tar", LAYER_WHITEOUTS_OVERLAY, &res);
        struct stat st;
        assert_int_equal(fstatat(f->root, "a/gone.txt", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(st.st_rdev, makedev(0, 0));
        assert_int_equal(fstatat(f->root, "a/gonedir", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISCHR(st.st_mode));
        assert_missing(f->root, "a/.wh.gone.txt");
        assert_missing(f->root, "a/opq/.wh..wh..opq");
        assert_missing(f->root, "a/.wh..wh.plnk");
        char path[256], val[4] = { 0 };
        snprintf(path, sizeof(path), "%s/a/opq", f->root_path);
        assert_int_equal(getxattr(path, "trusted.overlay.opaque", val, sizeof(val)), 1);
        assert_string_equal(val, "y");
        assert_content(f->root, "a/opq/new.txt", "new\n");
}

static void test_layer_apply_whiteouts_delete_from_parent_copy(void **state) {
        struct fixture *f = *state;
        /* What the parent layer left in the vfs copy. */
        assert_int_equal(mkdirat(f->root, "a", 0755), 0);
        assert_int_equal(fs_write_atomic(f->root, "a/gone.txt", "x", 1, 0644, NULL), 0);
        assert_int_equal(fs_write_atomic(f->root, "a/kept.txt", "k", 1, 0644, NULL), 0);
        assert_int_equal(mkdirat(f->root, "a/gonedir", 0755), 0);
        assert_int_equal(fs_write_atomic(f->root, "a/gonedir/x", "x", 1, 0644, NULL), 0);
        assert_int_equal(mkdirat(f->root, "a/opq", 0755), 0);
        assert_int_equal(fs_write_atomic(f->root, "a/opq/old1.txt", "o", 1, 0644, NULL), 0);
        assert_int_equal(mkdirat(f->root, "a/opq/olddir", 0755), 0);
        make_tar(f, "wh.tar", whiteouts, ELEMENTSOF(whiteouts), NULL);
        struct layer_apply_result res;
        assert_applies(f, "wh.tar", LAYER_WHITEOUTS_DELETE, &res);
        assert_missing(f->root, "a/gone.txt");
        assert_missing(f->root, "a/gonedir");
        assert_missing(f->root, "a/opq/old1.txt");
        assert_missing(f->root, "a/opq/olddir");
        assert_missing(f->root, "a/.wh.gone.txt");
        assert_content(f->root, "a/kept.txt", "k");
        assert_content(f->root, "a/opq/new.txt", "new\n");
}

static void test_layer_apply_refuses_dotdot_escape(void **state) {
        struct fixture *f = *state;
        const struct tent t[] = { { "../outside/evil", AE_IFREG, "evil", 0644, 0, 0, 0, 0, NULL, false } };
        make_tar(f, "e.tar", t, 1, NULL);
        struct berr err = { 0 };
        struct layer_apply_result res;
        assert_true(apply(f, "e.tar", LAYER_WHITEOUTS_OVERLAY, &res, &err) < 0);
        assert_int_equal(err.kind, BERR_INVALID);
        assert_non_null(strstr(err.msg, "outside of the layer root"));
        assert_missing(f->dirfd, "outside/evil");

        const struct tent t2[] = { { "a/../../outside/evil2", AE_IFREG, "evil", 0644, 0, 0, 0, 0, NULL, false } };
        make_tar(f, "e2.tar", t2, 1, NULL);
        assert_true(apply(f, "e2.tar", LAYER_WHITEOUTS_OVERLAY, &res, &err) < 0);
        assert_missing(f->dirfd, "outside/evil2");
}

static void test_layer_apply_makes_absolute_paths_relative(void **state) {
        struct fixture *f = *state;
        const struct tent t[] = {
                { "/abs/file", AE_IFREG, "abs", 0644, 0, 0, 0, 0, NULL, false },
                { "/../../rooted", AE_IFREG, "r", 0644, 0, 0, 0, 0, NULL, false },
                { "a/./b/../c", AE_IFREG, "c", 0644, 0, 0, 0, 0, NULL, false },
        };
        make_tar(f, "abs.tar", t, ELEMENTSOF(t), NULL);
        struct layer_apply_result res;
        assert_applies(f, "abs.tar", LAYER_WHITEOUTS_OVERLAY, &res);
        assert_content(f->root, "abs/file", "abs");
        assert_content(f->root, "rooted", "r");
        assert_content(f->root, "a/c", "c");
}

static void test_layer_apply_write_through_symlink_stays_in_root(void **state) {
        struct fixture *f = *state;
        char outside[256];
        snprintf(outside, sizeof(outside), "%s/outside", f->dir);
        const struct tent t[] = {
                { "etc/", AE_IFDIR, NULL, 0755, 0, 0, 0, 0, NULL, false },
                { "up", AE_IFLNK, "../../../../..", 0777, 0, 0, 0, 0, NULL, false },
                { "abs", AE_IFLNK, "/etc", 0777, 0, 0, 0, 0, NULL, false },
                { "up/etc/pwned1", AE_IFREG, "1", 0644, 0, 0, 0, 0, NULL, false },
                { "abs/pwned2", AE_IFREG, "2", 0644, 0, 0, 0, 0, NULL, false },
        };
        make_tar(f, "s.tar", t, ELEMENTSOF(t), NULL);
        struct layer_apply_result res;
        assert_applies(f, "s.tar", LAYER_WHITEOUTS_OVERLAY, &res);
        /* Both writes landed in the layer's own /etc, not the host's. */
        assert_content(f->root, "etc/pwned1", "1");
        assert_content(f->root, "etc/pwned2", "2");
        assert_missing(AT_FDCWD, "/etc/pwned1");
        assert_missing(AT_FDCWD, "/etc/pwned2");

        /* A symlink to an absolute path outside: a write through it stays inside or fails. */
        const struct tent t2[] = {
                { "out", AE_IFLNK, outside, 0777, 0, 0, 0, 0, NULL, false },
                { "out/pwned3", AE_IFREG, "3", 0644, 0, 0, 0, 0, NULL, false },
        };
        make_tar(f, "s2.tar", t2, ELEMENTSOF(t2), NULL);
        struct berr err = { 0 };
        (void) apply(f, "s2.tar", LAYER_WHITEOUTS_OVERLAY, &res, &err); /* either outcome is fine */
        assert_missing(f->dirfd, "outside/pwned3");
}

static void test_layer_apply_refuses_hardlink_outside_root(void **state) {
        struct fixture *f = *state;
        assert_int_equal(fs_write_atomic(f->dirfd, "outside/secret", "s", 1, 0600, NULL), 0);
        const struct tent t[] = { { "h", 0, "../outside/secret", 0, 0, 0, 0, 0, NULL, true } };
        make_tar(f, "h.tar", t, 1, NULL);
        struct berr err = { 0 };
        struct layer_apply_result res;
        assert_true(apply(f, "h.tar", LAYER_WHITEOUTS_OVERLAY, &res, &err) < 0);
        assert_int_equal(err.kind, BERR_INVALID);
        assert_missing(f->root, "h");

        /* Absolute targets are inside the root: there is no /etc/passwd in this layer. */
        const struct tent t2[] = { { "h2", 0, "/etc/passwd", 0, 0, 0, 0, 0, NULL, true } };
        make_tar(f, "h2.tar", t2, 1, NULL);
        assert_true(apply(f, "h2.tar", LAYER_WHITEOUTS_OVERLAY, &res, &err) < 0);
        assert_missing(f->root, "h2");

        /* Through a symlink pointing out: resolved inside the root, so not found either. */
        char outside[256];
        snprintf(outside, sizeof(outside), "%s/outside", f->dir);
        const struct tent t3[] = {
                { "o", AE_IFLNK, outside, 0777, 0, 0, 0, 0, NULL, false },
                { "h3", 0, "o/secret", 0, 0, 0, 0, 0, NULL, true },
        };
        make_tar(f, "h3.tar", t3, ELEMENTSOF(t3), NULL);
        assert_true(apply(f, "h3.tar", LAYER_WHITEOUTS_OVERLAY, &res, &err) < 0);
        assert_missing(f->root, "h3");
        struct stat st;
        assert_int_equal(fstatat(f->dirfd, "outside/secret", &st, 0), 0);
        assert_int_equal(st.st_nlink, 1);
}

static void test_layer_apply_hardlink_to_lower_layer_copies_up(void **state) {
        struct fixture *f = *state;
        assert_int_equal(mkdirat(f->dirfd, "lower", 0755), 0);
        _cleanup_close_ int lower = openat(f->dirfd, "lower", O_RDONLY | O_DIRECTORY);
        assert_int_equal(mkdirat(lower, "bin", 0750), 0);
        assert_int_equal(fchownat(lower, "bin", 7, 8, 0), 0);
        assert_int_equal(fs_write_atomic(lower, "bin/tool", "tool", 4, 0751, NULL), 0);
        assert_int_equal(fchmodat(lower, "bin/tool", 0751, 0), 0);
        const struct tent t[] = { { "usr/tool2", 0, "bin/tool", 0, 0, 0, 0, 0, NULL, true } };
        make_tar(f, "hl.tar", t, 1, NULL);
        struct layer_apply_opts o = { .whiteouts = LAYER_WHITEOUTS_OVERLAY, .lower_fds = &lower, .n_lower_fds = 1 };
        struct layer_apply_result res;
        struct berr err = { 0 };
        if (apply_opts(f, "hl.tar", &o, &res, &err) < 0)
                fail_msg("%s", err.msg);
        struct stat a, b;
        assert_int_equal(fstatat(f->root, "bin/tool", &a, AT_SYMLINK_NOFOLLOW), 0);
        assert_int_equal(fstatat(f->root, "usr/tool2", &b, AT_SYMLINK_NOFOLLOW), 0);
        assert_int_equal(a.st_ino, b.st_ino);
        assert_int_equal(a.st_mode & 07777, 0751);
        assert_content(f->root, "usr/tool2", "tool");
        assert_int_equal(fstatat(f->root, "bin", &a, AT_SYMLINK_NOFOLLOW), 0);
        assert_int_equal(a.st_mode & 07777, 0750);
        assert_int_equal(a.st_uid, 7);

        /* Without lowers (or with vfs) the same link is an error. */
        assert_int_equal(tree_clear_dir(f->root, NULL), 0);
        assert_true(apply(f, "hl.tar", LAYER_WHITEOUTS_OVERLAY, &res, &err) < 0);
        assert_non_null(strstr(err.msg, "not found"));
}

static void test_layer_apply_refuses_truncated_gzip(void **state) {
        struct fixture *f = *state;
        char big[8192];
        for (size_t i = 0; i < sizeof(big) - 1; i++)
                big[i] = (char) ('a' + (i * 7919 % 26));
        big[sizeof(big) - 1] = '\0';
        const struct tent t[] = { { "big", AE_IFREG, big, 0644, 0, 0, 0, 0, NULL, false },
                                  { "big2", AE_IFREG, big, 0644, 0, 0, 0, 0, NULL, false } };
        make_tar(f, "t.tar.gz", t, ELEMENTSOF(t), "gzip");
        struct stat st;
        assert_int_equal(fstatat(f->dirfd, "t.tar.gz", &st, 0), 0);
        _cleanup_close_ int fd = openat(f->dirfd, "t.tar.gz", O_WRONLY);
        assert_int_equal(ftruncate(fd, st.st_size / 2), 0);
        struct berr err = { 0 };
        struct layer_apply_result res;
        assert_true(apply(f, "t.tar.gz", LAYER_WHITEOUTS_OVERLAY, &res, &err) < 0);
        assert_int_equal(err.kind, BERR_INVALID);
        assert_true(strlen(err.msg) > 0);
}

static void test_layer_apply_refuses_truncated_tar_claiming_large_file(void **state) {
        struct fixture *f = *state;
        /* Header says 4 GiB; 100 bytes follow. */
        make_lying_tar(f, "h.tar", 4ULL << 30);
        struct berr err = { 0 };
        struct layer_apply_result res;
        assert_true(apply(f, "h.tar", LAYER_WHITEOUTS_OVERLAY, &res, &err) < 0);
        assert_int_equal(err.kind, BERR_INVALID);
}

static void test_layer_apply_enforces_bounds(void **state) {
        struct fixture *f = *state;
        const struct tent t[] = {
                { "a", AE_IFREG, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0644, 0, 0, 0, 0, NULL, false },
                { "b", AE_IFREG, "b", 0644, 0, 0, 0, 0, NULL, false },
                { "c", AE_IFREG, "c", 0644, 0, 0, 0, 0, NULL, false },
        };
        make_tar(f, "b.tar", t, ELEMENTSOF(t), NULL);
        struct layer_apply_opts o = { .whiteouts = LAYER_WHITEOUTS_OVERLAY, .max_entries = 2 };
        struct berr err = { 0 };
        struct layer_apply_result res;
        assert_true(apply_opts(f, "b.tar", &o, &res, &err) < 0);
        assert_int_equal(err.kind, BERR_TOO_LARGE);
        assert_non_null(strstr(err.msg, "entries"));

        o = (struct layer_apply_opts){ .whiteouts = LAYER_WHITEOUTS_OVERLAY, .max_bytes = 100 };
        assert_int_equal(tree_clear_dir(f->root, NULL), 0);
        assert_true(apply_opts(f, "b.tar", &o, &res, &err) < 0);
        assert_int_equal(err.kind, BERR_TOO_LARGE);

        /* A declared size beyond the bound is refused before any data is read. */
        make_lying_tar(f, "h.tar", 4ULL << 30);
        o = (struct layer_apply_opts){ .whiteouts = LAYER_WHITEOUTS_OVERLAY, .max_bytes = 1 << 20 };
        assert_true(apply_opts(f, "h.tar", &o, &res, &err) < 0);
        assert_int_equal(err.kind, BERR_TOO_LARGE);
}

static void test_layer_apply_replaces_existing_entries(void **state) {
        struct fixture *f = *state;
        const struct tent t[] = {
                { "x", AE_IFREG, "file", 0644, 0, 0, 0, 0, NULL, false },
                { "x/", AE_IFDIR, NULL, 0755, 0, 0, 0, 0, NULL, false },
                { "x/y", AE_IFREG, "y", 0644, 0, 0, 0, 0, NULL, false },
                { "d/", AE_IFDIR, NULL, 0755, 0, 0, 0, 0, NULL, false },
                { "d/keep", AE_IFREG, "k", 0644, 0, 0, 0, 0, NULL, false },
                { "d/", AE_IFDIR, NULL, 0700, 0, 0, 0, 0, NULL, false },
                { "l", AE_IFLNK, "/nowhere", 0777, 0, 0, 0, 0, NULL, false },
                { "l", AE_IFREG, "now a file", 0644, 0, 0, 0, 0, NULL, false },
        };
        make_tar(f, "r.tar", t, ELEMENTSOF(t), NULL);
        struct layer_apply_result res;
        assert_applies(f, "r.tar", LAYER_WHITEOUTS_OVERLAY, &res);
        assert_content(f->root, "x/y", "y");
        assert_content(f->root, "d/keep", "k"); /* dir over dir merges */
        struct stat st;
        assert_int_equal(fstatat(f->root, "d", &st, 0), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_content(f->root, "l", "now a file");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_layer_apply_file_types_and_metadata, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_apply_gzip_and_zstd_give_uncompressed_diff_id, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_apply_empty_stream, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_apply_whiteouts_overlay, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_apply_whiteouts_delete_from_parent_copy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_apply_refuses_dotdot_escape, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_apply_makes_absolute_paths_relative, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_apply_write_through_symlink_stays_in_root, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_apply_refuses_hardlink_outside_root, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_apply_hardlink_to_lower_layer_copies_up, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_apply_refuses_truncated_gzip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_apply_refuses_truncated_tar_claiming_large_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_apply_enforces_bounds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_apply_replaces_existing_entries, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
