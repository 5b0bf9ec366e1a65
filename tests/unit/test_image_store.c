/* test_image_store.c - load the reference fixtures (docker-archive and OCI layout) into a
 * store on a temporary data root, check IDs, sharing, inspect, tag/rmi semantics, the
 * mounted rootfs of the layered image, clean failure on hostile archives, and restart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
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
#define BUSYBOX_OCI_CONFIG "sha256:3e19711d"

struct fixture {
        char root[64];
        struct image_store *s;
        char lines[16][256];
        int n_lines;
};

static void on_line(void *opaque, const char *line) {
        struct fixture *f = opaque;
        if (f->n_lines < 16)
                snprintf(f->lines[f->n_lines++], 256, "%s", line);
}

static int setup_driver(void **state, const char *driver) {
        struct fixture *f = calloc(1, sizeof(*f));
        snprintf(f->root, sizeof(f->root), "/var/tmp/berth-store-XXXXXX");
        assert_non_null(mkdtemp(f->root));
        struct berr err = { 0 };
        if (image_store_open(f->root, driver, &f->s, &err) < 0)
                fail_msg("open: %s", err.msg);
        *state = f;
        return 0;
}

static int setup(void **state) {
        return setup_driver(state, "overlay2");
}

static int setup_vfs(void **state) {
        return setup_driver(state, "vfs");
}

static int teardown(void **state) {
        struct fixture *f = *state;
        image_store_free(f->s);
        assert_int_equal(tree_remove_at(AT_FDCWD, f->root, NULL), 0);
        free(f);
        return 0;
}

static void load_file(struct fixture *f, const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        struct berr err = { 0 };
        f->n_lines = 0;
        if (image_store_load_archive(f->s, fd, on_line, f, &err) < 0)
                fail_msg("load %s: %s", path, err.msg);
}

static int count_entries(const char *root, const char *sub) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", root, sub);
        DIR *d = opendir(path);
        if (!d)
                return -1;
        int n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static void assert_store_empty(struct fixture *f) {
        assert_int_equal(count_entries(f->root, "layers/sha256"), 0);
        assert_int_equal(count_entries(f->root, "image/sha256"), 0);
        assert_int_equal(count_entries(f->root, "tmp"), 0);
        assert_int_equal(count_entries(f->root, "overlay2"), 1); /* only l/ */
        assert_int_equal(count_entries(f->root, "overlay2/l"), 0);
}

static void test_image_store_loads_busybox_docker_archive_with_exact_id(void **state) {
        struct fixture *f = *state;
        load_file(f, FIX "busybox-docker-archive.tar");
        assert_int_equal(f->n_lines, 1);
        assert_string_equal(f->lines[0], "Loaded image: busybox:latest");
        char id[DIGEST_STRING_MAX];
        assert_int_equal(image_store_resolve(f->s, "busybox", id, NULL), 0);
        assert_string_equal(id, BUSYBOX_ID);
        assert_int_equal(image_store_resolve(f->s, "docker.io/library/busybox:latest", id, NULL), 0);
        assert_int_equal(image_store_resolve(f->s, "1753f6f850bd", id, NULL), 0);
        assert_int_equal(image_store_resolve(f->s, BUSYBOX_ID, id, NULL), 0);
        struct berr err = { 0 };
        assert_int_equal(image_store_resolve(f->s, "busybox:nope", id, &err), -ENOENT);
        assert_int_equal(err.kind, BERR_NOT_FOUND);
        assert_string_equal(err.msg, "No such image: busybox:nope");

        _cleanup_json_ json_t *ins = NULL;
        assert_int_equal(image_store_inspect(f->s, "busybox", &ins, NULL), 0);
        assert_string_equal(json_string_value(json_object_get(ins, "Id")), BUSYBOX_ID);
        assert_string_equal(json_string_value(json_array_get(json_object_get(ins, "RepoTags"), 0)), "busybox:latest");
        assert_int_equal(json_integer_value(json_object_get(ins, "Size")), 1985573);
        assert_string_equal(json_string_value(json_object_get(ins, "Architecture")), "amd64");
        assert_string_equal(json_string_value(json_object_get(json_object_get(ins, "GraphDriver"), "Name")), "overlay2");
        json_t *layers = json_object_get(json_object_get(ins, "RootFS"), "Layers");
        assert_int_equal(json_array_size(layers), 1);
        assert_true(strncmp(json_string_value(json_array_get(layers, 0)), "sha256:3be376e2", 15) == 0);
        assert_non_null(json_object_get(json_object_get(ins, "Config"), "Cmd"));
        assert_int_equal(count_entries(f->root, "tmp"), 0);

        /* Loading again is idempotent. */
        load_file(f, FIX "busybox-docker-archive.tar");
        assert_string_equal(f->lines[0], "Loaded image: busybox:latest");
        assert_int_equal(count_entries(f->root, "layers/sha256"), 1);
}

static void mount_and_check_layered(struct fixture *f) {
        char mnt[128];
        snprintf(mnt, sizeof(mnt), "%s/mnt", f->root);
        assert_int_equal(mkdir(mnt, 0755), 0);
        struct berr err = { 0 };
        if (image_store_mount_rootfs(f->s, "layered", mnt, NULL, 0, &err) < 0)
                fail_msg("mount: %s", err.msg);
        _cleanup_close_ int m = open(mnt, O_RDONLY | O_DIRECTORY);
        struct stat st;
        int kept = fstatat(m, "app/keep/kept.txt", &st, 0);
        int deleted = fstatat(m, "app/keep/deleted.txt", &st, 0);
        int gone = fstatat(m, "app/gone", &st, 0);
        int busybox = fstatat(m, "bin/busybox", &st, 0);
        int seed = fstatat(m, "data/seed.txt", &st, 0);
        uid_t seed_uid = st.st_uid;
        int n_opq = count_entries(mnt, "app/opq");
        int has_new = faccessat(m, "app/opq/new.txt", F_OK, 0);
        close(m);
        m = -1;
        assert_int_equal(umount2(mnt, 0), 0);
        assert_int_equal(kept, 0);
        assert_int_equal(deleted, -1);
        assert_int_equal(gone, -1);
        assert_int_equal(busybox, 0);
        assert_int_equal(seed, 0);
        assert_int_equal(seed_uid, 65534);
        assert_int_equal(n_opq, 1);
        assert_int_equal(has_new, 0);
        assert_int_equal(rmdir(mnt), 0);
}

static void test_image_store_layered_shares_base_and_mounts_with_whiteouts(void **state) {
        struct fixture *f = *state;
        load_file(f, FIX "busybox-docker-archive.tar");
        load_file(f, FIX "layered-docker-archive.tar");
        assert_string_equal(f->lines[0], "Loaded image: layered:latest");
        char id[DIGEST_STRING_MAX];
        assert_int_equal(image_store_resolve(f->s, "layered:latest", id, NULL), 0);
        assert_string_equal(id, LAYERED_ID);
        assert_int_equal(count_entries(f->root, "layers/sha256"), 3); /* base layer stored once */
        assert_int_equal(count_entries(f->root, "overlay2/l"), 3);
        _cleanup_json_ json_t *ins = NULL;
        assert_int_equal(image_store_inspect(f->s, "layered", &ins, NULL), 0);
        assert_int_equal(json_integer_value(json_object_get(ins, "Size")), 1985667);
        json_t *gd = json_object_get(json_object_get(ins, "GraphDriver"), "Data");
        assert_non_null(strchr(json_string_value(json_object_get(gd, "LowerDir")), ':'));
        mount_and_check_layered(f);

        /* A writable mount over the same chain. */
        char mnt[128], rw[128];
        snprintf(mnt, sizeof(mnt), "%s/mnt2", f->root);
        snprintf(rw, sizeof(rw), "%s/rw", f->root);
        assert_int_equal(mkdir(mnt, 0755), 0);
        struct berr err = { 0 };
        if (image_store_mount_rootfs(f->s, "layered", mnt, rw, 0, &err) < 0)
                fail_msg("mount rw: %s", err.msg);
        char p[256];
        snprintf(p, sizeof(p), "%s/app/keep/kept.txt", mnt);
        int rm = unlink(p);
        assert_int_equal(umount2(mnt, 0), 0);
        assert_int_equal(rm, 0);
        snprintf(p, sizeof(p), "%s/diff/app/keep/kept.txt", rw);
        struct stat st;
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISCHR(st.st_mode)); /* the whiteout went to the upper dir, not the image */
        mount_and_check_layered(f);

        /* Volatile (a --rm container's layer): the kernel marks the work dir, and a second
         * mount of the same layer is not refused for it; what was written stays. */
        for (int round = 0; round < 2; round++) {
                if (image_store_mount_rootfs(f->s, "layered", mnt, rw, IMAGE_MOUNT_VOLATILE, &err) < 0)
                        fail_msg("mount volatile (round %d): %s", round, err.msg);
                snprintf(p, sizeof(p), "%s/volatile-%d", mnt, round);
                int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                assert_true(fd >= 0);
                assert_int_equal(fsync(fd), 0);
                close(fd);
                assert_int_equal(umount2(mnt, 0), 0);
                snprintf(p, sizeof(p), "%s/work/work/incompat/volatile", rw);
                assert_int_equal(lstat(p, &st), 0); /* mounted volatile indeed */
        }
        snprintf(p, sizeof(p), "%s/diff/volatile-0", rw);
        assert_int_equal(lstat(p, &st), 0);
        /* A mark older than this boot (the machine went down with it mounted) is not
         * cleared: the mount is refused with a message saying why. */
        snprintf(p, sizeof(p), "%s/work/work/incompat/volatile/dirty", rw);
        assert_int_equal(utimensat(AT_FDCWD, p, (struct timespec[2]) { { 1, 0 }, { 1, 0 } }, 0), 0);
        struct berr e2 = { 0 };
        assert_true(image_store_mount_rootfs(f->s, "layered", mnt, rw, IMAGE_MOUNT_VOLATILE, &e2) < 0);
        assert_non_null(strstr(e2.msg, "when the machine went down"));
        assert_int_equal(lstat(p, &st), 0);
}

static void test_image_store_vfs_driver_applies_whiteouts_by_deleting(void **state) {
        struct fixture *f = *state;
        assert_string_equal(image_store_driver_name(f->s), "vfs");
        load_file(f, FIX "layered-docker-archive.tar");
        char id[DIGEST_STRING_MAX];
        assert_int_equal(image_store_resolve(f->s, "layered", id, NULL), 0);
        assert_string_equal(id, LAYERED_ID);
        mount_and_check_layered(f);
}

static void test_image_store_loads_oci_layout(void **state) {
        struct fixture *f = *state;
        load_file(f, FIX "busybox-oci-layout.tar");
        assert_int_equal(f->n_lines, 1);
        assert_true(strncmp(f->lines[0], "Loaded image ID: " BUSYBOX_OCI_CONFIG, 17 + 15) == 0);
        /* Same diff ID as the docker-archive: the layer is shared. */
        load_file(f, FIX "busybox-docker-archive.tar");
        assert_int_equal(count_entries(f->root, "layers/sha256"), 1);
        load_file(f, FIX "layered-oci-layout.tar");
        assert_int_equal(count_entries(f->root, "layers/sha256"), 3);
        _cleanup_json_ json_t *list = NULL;
        assert_int_equal(image_store_list(f->s, &list, NULL), 0);
        assert_int_equal(json_array_size(list), 3);
}

struct pipe_writer {
        int fd;
        const char *path;
};

static void *write_pipe(void *arg) {
        struct pipe_writer *w = arg;
        int in = open(w->path, O_RDONLY);
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof(buf))) > 0)
                if (write(w->fd, buf, (size_t) n) != n)
                        break;
        close(in);
        close(w->fd);
        return NULL;
}

static void test_image_store_loads_from_a_pipe(void **state) {
        struct fixture *f = *state;
        int p[2];
        assert_int_equal(pipe(p), 0);
        struct pipe_writer w = { .fd = p[1], .path = FIX "layered-docker-archive.tar" };
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, write_pipe, &w), 0);
        struct berr err = { 0 };
        int r = image_store_load_archive(f->s, p[0], on_line, f, &err);
        pthread_join(t, NULL);
        close(p[0]);
        if (r < 0)
                fail_msg("%s", err.msg);
        char id[DIGEST_STRING_MAX];
        assert_int_equal(image_store_resolve(f->s, "layered", id, NULL), 0);
        assert_string_equal(id, LAYERED_ID);
}

static void assert_item(json_t *items, size_t i, const char *key, const char *val) {
        json_t *it = json_array_get(items, i);
        if (!it || !json_string_value(json_object_get(it, key)))
                fail_msg("item %zu has no %s", i, key);
        assert_string_equal(json_string_value(json_object_get(it, key)), val);
}

static enum image_usage used_by_stopped(void *opaque, const char *id, char cid[65]) {
        snprintf(cid, 65, "%s", "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
        return STREQ(id, (const char *) opaque) ? IMAGE_USED_BY_STOPPED : IMAGE_UNUSED;
}

static enum image_usage used_by_running(void *opaque, const char *id, char cid[65]) {
        snprintf(cid, 65, "%s", "fedcba0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
        return STREQ(id, (const char *) opaque) ? IMAGE_USED_BY_RUNNING : IMAGE_UNUSED;
}

static void test_image_store_tag_and_rmi_semantics(void **state) {
        struct fixture *f = *state;
        load_file(f, FIX "busybox-docker-archive.tar");
        load_file(f, FIX "layered-docker-archive.tar");
        struct berr err = { 0 };
        assert_int_equal(image_store_tag(f->s, "busybox", "foo/bar:1", &err), 0);
        assert_true(image_store_tag(f->s, "busybox", "Foo", &err) < 0);
        assert_int_equal(err.kind, BERR_INVALID);

        /* By name with other names left: untag only. */
        json_t *items = NULL;
        assert_int_equal(image_store_delete(f->s, "busybox", false, NULL, NULL, &items, &err), 0);
        assert_int_equal(json_array_size(items), 1);
        assert_item(items, 0, "Untagged", "busybox:latest");
        json_decref(items);

        /* By ID with references in two repositories: conflict unless forced. */
        assert_int_equal(image_store_tag(f->s, "1753f6f850bd", "other:2", &err), 0);
        assert_true(image_store_delete(f->s, "1753f6f8", false, NULL, NULL, &items, &err) < 0);
        assert_int_equal(err.kind, BERR_CONFLICT);
        assert_string_equal(err.msg, "conflict: unable to delete 1753f6f850bd (must be forced) - image is referenced in multiple repositories");

        /* Used by a stopped container: a name that is not the last one goes; the last one
         * only with force, as dockerd has it. */
        assert_int_equal(image_store_delete(f->s, "other:2", false, used_by_stopped, (void *) BUSYBOX_ID, &items, &err), 0);
        json_decref(items);
        assert_true(image_store_delete(f->s, "foo/bar:1", false, used_by_stopped, (void *) BUSYBOX_ID, &items, &err) < 0);
        assert_int_equal(err.kind, BERR_CONFLICT);
        assert_string_equal(err.msg, "conflict: unable to remove repository reference \"foo/bar:1\" (must force) - "
                                     "container abcdef012345 is using its referenced image 1753f6f850bd");
        /* Forced while a container runs it: only the name goes, the image stays dangling. */
        assert_int_equal(image_store_delete(f->s, "foo/bar:1", true, used_by_running, (void *) BUSYBOX_ID, &items, &err), 0);
        assert_int_equal(json_array_size(items), 1);
        json_decref(items);
        char id[DIGEST_STRING_MAX];
        assert_int_equal(image_store_resolve(f->s, BUSYBOX_ID, id, NULL), 0);
        assert_true(image_store_delete(f->s, BUSYBOX_ID, false, used_by_stopped, (void *) BUSYBOX_ID, &items, &err) < 0);
        assert_int_equal(err.kind, BERR_CONFLICT);

        /* Dangling now; delete by ID: the base layer stays (layered uses it). */
        assert_int_equal(image_store_delete(f->s, "1753f6", false, NULL, NULL, &items, &err), 0);
        assert_int_equal(json_array_size(items), 1);
        assert_item(items, 0, "Deleted", BUSYBOX_ID);
        json_decref(items);
        assert_int_equal(count_entries(f->root, "layers/sha256"), 3);
        mount_and_check_layered(f);

        /* Last name of layered: untag + delete image + its three layers. */
        assert_int_equal(image_store_delete(f->s, "layered", false, NULL, NULL, &items, &err), 0);
        assert_int_equal(json_array_size(items), 5);
        assert_item(items, 0, "Untagged", "layered:latest");
        assert_item(items, 1, "Deleted", LAYERED_ID);
        json_decref(items);
        assert_store_empty(f);
}

static void test_image_store_survives_restart_and_cleans_leftovers(void **state) {
        struct fixture *f = *state;
        load_file(f, FIX "layered-docker-archive.tar");
        assert_int_equal(image_store_tag(f->s, "layered", "127.0.0.1:5000/layered:v1", NULL), 0);
        image_store_free(f->s);
        f->s = NULL;

        /* What a kill -9 in the middle of a load leaves behind. */
        char p[256];
        snprintf(p, sizeof(p), "%s/tmp/load-abcdef", f->root);
        assert_int_equal(mkdir(p, 0700), 0);
        snprintf(p, sizeof(p), "%s/layers/sha256/.tmp-new-1234", f->root);
        assert_int_equal(mkdir(p, 0700), 0);
        snprintf(p, sizeof(p), "%s/overlay2/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", f->root);
        assert_int_equal(mkdir(p, 0700), 0);
        snprintf(p, sizeof(p), "%s/image/sha256/.tmp-new-5678", f->root);
        assert_int_equal(mkdir(p, 0700), 0);

        struct berr err = { 0 };
        if (image_store_open(f->root, NULL, &f->s, &err) < 0)
                fail_msg("reopen: %s", err.msg);
        assert_string_equal(image_store_driver_name(f->s), "overlay2");
        char id[DIGEST_STRING_MAX];
        assert_int_equal(image_store_resolve(f->s, "127.0.0.1:5000/layered:v1", id, NULL), 0);
        assert_string_equal(id, LAYERED_ID);
        assert_int_equal(count_entries(f->root, "tmp"), 0);
        assert_int_equal(count_entries(f->root, "overlay2"), 4); /* three layers and l/ */
        snprintf(p, sizeof(p), "%s/layers/sha256/.tmp-new-1234", f->root);
        assert_int_equal(access(p, F_OK), -1);
        mount_and_check_layered(f);
}

/* A docker-archive written here: one config naming @diff_id, one layer.tar, and a
 * manifest naming @layer_name. */
static void make_archive(const char *path, const char *diff_id, const char *layer_name, bool include_layer) {
        /* The layer: a tar holding one file. */
        char layer[10240];
        size_t layer_len = 0;
        struct archive *la = archive_write_new();
        archive_write_set_format_pax_restricted(la);
        assert_int_equal(archive_write_open_memory(la, layer, sizeof(layer), &layer_len), ARCHIVE_OK);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, "hello.txt");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, 6);
        archive_write_header(la, e);
        archive_write_data(la, "hello\n", 6);
        archive_entry_free(e);
        archive_write_close(la);
        archive_write_free(la);
        char real_diff[DIGEST_STRING_MAX];
        assert_int_equal(digest_sha256_buf(layer, layer_len, real_diff, NULL), 0);

        char config[512], manifest[512];
        snprintf(config, sizeof(config),
                 "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                 diff_id ? diff_id : real_diff);
        snprintf(manifest, sizeof(manifest), "[{\"Config\":\"config.json\",\"RepoTags\":[\"hostile:1\"],\"Layers\":[\"%s\"]}]",
                 layer_name);
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
        struct {
                const char *name;
                const char *data;
                size_t len;
        } files[] = { { "l1/layer.tar", layer, layer_len }, { "config.json", config, strlen(config) },
                      { "manifest.json", manifest, strlen(manifest) } };
        for (size_t i = include_layer ? 0 : 1; i < ELEMENTSOF(files); i++) {
                e = archive_entry_new();
                archive_entry_set_pathname(e, files[i].name);
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_perm(e, 0644);
                archive_entry_set_size(e, (la_int64_t) files[i].len);
                archive_write_header(a, e);
                archive_write_data(a, files[i].data, files[i].len);
                archive_entry_free(e);
        }
        archive_write_close(a);
        archive_write_free(a);
}

static void assert_load_fails(struct fixture *f, const char *path, const char *msg_part) {
        _cleanup_close_ int fd = open(path, O_RDONLY);
        struct berr err = { 0 };
        assert_true(image_store_load_archive(f->s, fd, NULL, NULL, &err) < 0);
        assert_int_equal(err.kind, BERR_INVALID);
        if (!strstr(err.msg, msg_part))
                fail_msg("error \"%s\" lacks \"%s\"", err.msg, msg_part);
        assert_store_empty(f);
        char id[DIGEST_STRING_MAX];
        assert_true(image_store_resolve(f->s, "hostile:1", id, NULL) < 0);
}

static void test_image_store_refuses_hostile_archives_leaving_nothing(void **state) {
        struct fixture *f = *state;
        char path[128];
        snprintf(path, sizeof(path), "%s/../berth-hostile-%d.tar", f->root, (int) getpid());

        make_archive(path, NULL, "l1/layer.tar", true); /* sane: loads */
        _cleanup_close_ int fd = open(path, O_RDONLY);
        struct berr err = { 0 };
        if (image_store_load_archive(f->s, fd, NULL, NULL, &err) < 0)
                fail_msg("%s", err.msg);
        json_t *items;
        assert_int_equal(image_store_delete(f->s, "hostile:1", false, NULL, NULL, &items, &err), 0);
        json_decref(items);
        assert_store_empty(f);

        make_archive(path, "sha256:0000000000000000000000000000000000000000000000000000000000000000", "l1/layer.tar",
                     true);
        assert_load_fails(f, path, "diff ID mismatch");
        make_archive(path, NULL, "l1/missing.tar", true);
        assert_load_fails(f, path, "not found");
        make_archive(path, NULL, "l1/layer.tar", false);
        assert_load_fails(f, path, "not found");

        /* Truncated archive. */
        make_archive(path, NULL, "l1/layer.tar", true);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(truncate(path, st.st_size / 3), 0);
        assert_load_fails(f, path, "");
        unlink(path);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_image_store_loads_busybox_docker_archive_with_exact_id, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_store_layered_shares_base_and_mounts_with_whiteouts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_store_vfs_driver_applies_whiteouts_by_deleting, setup_vfs, teardown),
                cmocka_unit_test_setup_teardown(test_image_store_loads_oci_layout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_store_loads_from_a_pipe, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_store_tag_and_rmi_semantics, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_store_survives_restart_and_cleans_leftovers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_store_refuses_hostile_archives_leaving_nothing, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
