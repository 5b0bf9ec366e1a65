/* Unit tests for common/fs: atomic writes, bounded reads, mkdir -p, and the inode
 * allocator hint on layer directories. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/fs.h"

static char dir[64];

static int setup(void **s) {
        (void) s;
        /* /var/tmp: on disk (ext4 on the test machines), unlike a tmpfs /tmp */
        snprintf(dir, sizeof(dir), "/var/tmp/berth-fs-XXXXXX");
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **s) {
        (void) s;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void test_write_atomic_then_read(void **s) {
        (void) s;
        struct berr err = { 0 };
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(fs_write_atomic(dfd, "a.json", "{\"x\":1}", 7, 0600, &err), 0);
        assert_int_equal(fs_write_atomic(dfd, "a.json", "{}", 2, 0600, &err), 0); /* replaces */
        char *data = NULL;
        size_t len = 0;
        assert_int_equal(fs_read_file(dfd, "a.json", 16, &data, &len, &err), 0);
        assert_int_equal(len, 2);
        assert_string_equal(data, "{}");
        free(data);
        struct stat st;
        assert_int_equal(fstatat(dfd, "a.json", &st, 0), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        close(dfd);
}

/* The non-durable variant: the same atomic replacement (mode, content, no temporary file
 * left beside it), and a symlink in its place is replaced, never followed. */
static void test_write_replace(void **s) {
        (void) s;
        struct berr err = { 0 };
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(symlinkat("/etc/passwd", dfd, "r.txt"), 0);
        assert_int_equal(fs_write_replace(dfd, "r.txt", "one\n", 4, 0644, &err), 0);
        assert_int_equal(fs_write_replace(dfd, "r.txt", "two", 3, 0644, &err), 0);
        char *data = NULL;
        size_t len = 0;
        assert_int_equal(fs_read_file(dfd, "r.txt", 16, &data, &len, &err), 0);
        assert_int_equal(len, 3);
        assert_string_equal(data, "two");
        free(data);
        struct stat st;
        assert_int_equal(fstatat(dfd, "r.txt", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0644);
        DIR *dp = fdopendir(dup(dfd));
        assert_non_null(dp);
        struct dirent *de;
        while ((de = readdir(dp)))
                assert_false(strncmp(de->d_name, ".tmp-", 5) == 0);
        closedir(dp);
        close(dfd);
}

struct drain {
        int fd;
        size_t got;
};

static void *drain_pipe(void *arg) {
        struct drain *d = arg;
        char buf[4096];
        ssize_t n;
        while ((n = read(d->fd, buf, sizeof(buf))) > 0)
                d->got += (size_t) n;
        return NULL;
}

/* More than a pipe holds goes out in several short writes, all of it; a reader that is
 * gone is -EPIPE (SIGPIPE ignored, as berthd and the shim do). */
static void test_write_all_short_writes_and_epipe(void **s) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        struct drain d = { .fd = p[0] };
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, drain_pipe, &d), 0);
        size_t len = 1 << 20;
        char *big = calloc(1, len);
        assert_non_null(big);
        assert_int_equal(fs_write_all(p[1], big, len), 0);
        close(p[1]);
        pthread_join(t, NULL);
        close(p[0]);
        assert_int_equal(d.got, len);
        free(big);

        void (*old)(int) = signal(SIGPIPE, SIG_IGN);
        assert_int_equal(pipe(p), 0);
        close(p[0]);
        assert_int_equal(fs_write_all(p[1], "x", 1), -EPIPE);
        close(p[1]);
        signal(SIGPIPE, old);
}

static void test_path_fmt_refuses_truncation(void **s) {
        char buf[16];
        assert_int_equal(fs_path_fmt(buf, sizeof(buf), "%s/%s", "/run", "x"), 0);
        assert_string_equal(buf, "/run/x");
        /* exactly full: 15 characters and the NUL */
        assert_int_equal(fs_path_fmt(buf, sizeof(buf), "%s/%s", "/run/berth", "abcd"), 0);
        assert_string_equal(buf, "/run/berth/abcd");
        /* one more is an error and leaves no cut-off path behind */
        assert_int_equal(fs_path_fmt(buf, sizeof(buf), "%s/%s", "/run/berth", "abcde"), -ENAMETOOLONG);
        assert_string_equal(buf, "");
}

static void test_read_file_bounded(void **s) {
        (void) s;
        struct berr err = { 0 };
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(fs_write_atomic(dfd, "big", "0123456789", 10, 0600, &err), 0);
        char *data = NULL;
        size_t len = 0;
        int r = fs_read_file(dfd, "big", 9, &data, &len, &err);
        assert_true(r < 0);
        assert_int_equal(err.errnum, EFBIG);
        assert_null(data);
        assert_int_equal(fs_read_file(dfd, "big", 10, &data, &len, &err), 0);
        assert_int_equal(len, 10);
        free(data);
        close(dfd);
}

static void test_mkdir_p(void **s) {
        (void) s;
        char p[160];
        struct berr err = { 0 };
        struct stat st;
        /* several missing components, then the same path again, then one more level */
        snprintf(p, sizeof(p), "%s/mk/a/b/c", dir);
        assert_int_equal(fs_mkdir_p(p, 0700, &err), 0);
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(fs_mkdir_p(p, 0700, &err), 0);
        snprintf(p, sizeof(p), "%s/mk/a/b/c/d", dir);
        assert_int_equal(fs_mkdir_p(p, 0700, &err), 0);
        assert_int_equal(stat(p, &st), 0);
        /* a file where the directory should be, at the end or in the middle */
        snprintf(p, sizeof(p), "%s/mk/file", dir);
        int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);
        assert_true(fs_mkdir_p(p, 0700, &err) < 0);
        assert_int_equal(err.errnum, ENOTDIR);
        snprintf(p, sizeof(p), "%s/mk/file/x/y", dir);
        assert_true(fs_mkdir_p(p, 0700, &err) < 0);
}

static void test_spread_subdirs(void **s) {
        (void) s;
        char sub[128];
        snprintf(sub, sizeof(sub), "%s/layers/a/b", dir);
        struct berr err = { 0 };
        assert_int_equal(fs_mkdir_p(sub, 0710, &err), 0);
        snprintf(sub, sizeof(sub), "%s/layers", dir);
        int fd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        struct statfs sf;
        assert_int_equal(fstatfs(fd, &sf), 0);
        bool set = fs_spread_subdirs(fd);
        if (sf.f_type == EXT4_SUPER_MAGIC)
                assert_true(set); /* ext2/3/4 all report this magic and know the flag */
        int flags = 0;
        if (set) {
                assert_int_equal(ioctl(fd, FS_IOC_GETFLAGS, &flags), 0);
                assert_true(flags & FS_TOPDIR_FL);
                assert_true(fs_spread_subdirs(fd)); /* idempotent */
        } else {
                print_message("fs_spread_subdirs: not supported on fs type 0x%lx here\n", (unsigned long) sf.f_type);
        }
        close(fd);
        /* A directory on a filesystem without the flag is left alone, without error. */
        fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_false(fs_spread_subdirs(fd));
        close(fd);
}

/* A plugin's answer resolved inside its rootfs: symlinks out of it and ".." stay in. */
static void test_host_path_in_root(void **state) {
        (void) state;
        char root[128], p[256], out[4096];
        snprintf(root, sizeof(root), "%s/rootfs", dir);
        assert_int_equal(mkdir(root, 0755), 0);
        snprintf(p, sizeof(p), "%s/data", root);
        assert_int_equal(symlink("/", p), 0); /* data -> / : the host's root were it followed */
        snprintf(p, sizeof(p), "%s/vol", root);
        assert_int_equal(mkdir(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/abs", root);
        assert_int_equal(symlink("/etc", p), 0); /* abs -> /etc: the rootfs's /etc, missing */

        char want[4096];
        assert_int_equal(fs_host_path_in_root(root, "/vol", out, sizeof(out)), 0);
        snprintf(want, sizeof(want), "%s/vol", root);
        assert_string_equal(out, want);
        /* through the symlink to "/": the rootfs itself, then the rest */
        assert_int_equal(fs_host_path_in_root(root, "/data/vol", out, sizeof(out)), 0);
        assert_string_equal(out, want);
        assert_int_equal(fs_host_path_in_root(root, "/data/etc/passwd", out, sizeof(out)), 0);
        snprintf(want, sizeof(want), "%s/etc/passwd", root);
        assert_string_equal(out, want);
        /* a part that does not exist yet is appended to what does */
        assert_int_equal(fs_host_path_in_root(root, "/vol/run/docker/logging", out, sizeof(out)), 0);
        snprintf(want, sizeof(want), "%s/vol/run/docker/logging", root);
        assert_string_equal(out, want);
        /* ".." is refused, however it is spelled */
        assert_int_equal(fs_host_path_in_root(root, "/../../etc", out, sizeof(out)), -EINVAL);
        assert_int_equal(fs_host_path_in_root(root, "/vol/../..", out, sizeof(out)), -EINVAL);
        assert_int_equal(fs_host_path_in_root(root, "..", out, sizeof(out)), -EINVAL);
        /* the root itself */
        assert_int_equal(fs_host_path_in_root(root, "/", out, sizeof(out)), 0);
        assert_string_equal(out, root);
        /* a symlink that leads nowhere inside the root is refused, not handed out (the
         * host would follow it to its own /etc) */
        assert_int_equal(fs_host_path_in_root(root, "/abs", out, sizeof(out)), -ELOOP);
        assert_int_equal(fs_host_path_in_root(root, "/abs/x", out, sizeof(out)), -ELOOP);
        snprintf(p, sizeof(p), "%s/etc", root);
        assert_int_equal(mkdir(p, 0755), 0);
        assert_int_equal(fs_host_path_in_root(root, "/abs/x", out, sizeof(out)), 0);
        snprintf(want, sizeof(want), "%s/etc/x", root);
        assert_string_equal(out, want);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_write_atomic_then_read),
                cmocka_unit_test(test_write_replace),
                cmocka_unit_test(test_read_file_bounded),
                cmocka_unit_test(test_write_all_short_writes_and_epipe),
                cmocka_unit_test(test_mkdir_p),
                cmocka_unit_test(test_spread_subdirs),
                cmocka_unit_test_setup_teardown(test_host_path_in_root, setup, teardown),
                cmocka_unit_test(test_path_fmt_refuses_truncation),
        };
        return cmocka_run_group_tests_name("fs", tests, setup, teardown);
}
