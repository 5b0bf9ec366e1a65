/* fuzz_layer_split.c - tar-split: a layer applied onto a scratch root while its stream is
 * recorded (layer_split.h), then given back from the record and the files the layer left.
 * The reassembled stream either has the layer's length and diff ID (the reader checks the
 * digest as it goes) or the reader says why not (a path written twice in one layer, a
 * sparse file): it never ends "successfully" with other bytes. With the first byte's top
 * bit set the input is read as a record itself (a damaged data root): the reader may
 * refuse it but must not crash, leak, or read anything outside the layer's root. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/tree.h"
#include "fuzz.h"
#include "image/layer_apply.h"
#include "image/layer_split.h"

static int scratch_fd = -1;
static int root_fd = -1;

static void setup(void) {
        char tmpl[256];
        snprintf(tmpl, sizeof(tmpl), "%s/berth-fuzz-split-XXXXXX", fuzz_tmpdir());
        if (!mkdtemp(tmpl))
                abort();
        scratch_fd = open(tmpl, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (scratch_fd < 0 || mkdirat(scratch_fd, "root", 0755) < 0)
                abort();
        root_fd = openat(scratch_fd, "root", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (root_fd < 0)
                abort();
        /* Beside the root: a record that names ../secret must not reach it. */
        int s = openat(scratch_fd, "secret", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (s < 0 || write(s, "outside", 7) != 7)
                abort();
        close(s);
}

static int memfd_with(const uint8_t *data, size_t size) {
        int fd = memfd_create("fuzz", MFD_CLOEXEC);
        if (fd < 0 || (size && write(fd, data, size) != (ssize_t) size))
                abort();
        lseek(fd, 0, SEEK_SET);
        return fd;
}

/* Read everything; returns the byte count, or -1 if the reader refused. */
static int64_t read_all(struct layer_split_reader *r) {
        char buf[16384];
        int64_t total = 0;
        for (;;) {
                struct berr err = {};
                ssize_t n = layer_split_read(r, buf, sizeof(buf), &err);
                if (n == 0)
                        return total;
                if (n < 0) {
                        if (!err.msg[0])
                                abort(); /* a refusal says why */
                        return -1;
                }
                total += n;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (scratch_fd < 0)
                setup();
        if (size < 1)
                return 0;
        struct berr err = {};
        if (data[0] & 0x80) {
                /* The input is a record; the diff ID it must match is the empty stream's. */
                int rec = memfd_with(data + 1, size - 1);
                struct layer_split_reader *r = NULL;
                if (layer_split_reader_new(rec, root_fd,
                                           "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", &r,
                                           &err) == 0) {
                        (void) read_all(r);
                        layer_split_reader_free(r);
                }
                close(rec);
                return 0;
        }
        int tar_fd = memfd_with(data + 1, size - 1);
        int rec = memfd_create("record", MFD_CLOEXEC);
        struct layer_split_writer *w = NULL;
        if (rec < 0 || layer_split_writer_new(rec, &w, &err) < 0)
                abort();
        struct layer_apply_opts opts = {
                .whiteouts = data[0] & 1 ? LAYER_WHITEOUTS_OVERLAY : LAYER_WHITEOUTS_NONE,
                .split = w,
                .max_bytes = 64 << 20,
                .max_entries = 10000,
        };
        struct layer_apply_result res;
        int applied = layer_apply_fd(root_fd, tar_fd, &opts, &res, &err);
        int finished = layer_split_writer_finish(w, &err);
        layer_split_writer_free(w);
        close(tar_fd);
        if (applied == 0 && finished == 0) {
                lseek(rec, 0, SEEK_SET);
                struct layer_split_reader *r = NULL;
                if (layer_split_reader_new(rec, root_fd, res.diff_id, &r, &err) == 0) {
                        if (layer_split_reader_size(r) != res.tar_bytes) {
                                fprintf(stderr, "record length %llu, stream %llu\n",
                                        (unsigned long long) layer_split_reader_size(r),
                                        (unsigned long long) res.tar_bytes);
                                abort();
                        }
                        int64_t n = read_all(r);
                        if (n >= 0 && (uint64_t) n != res.tar_bytes)
                                abort(); /* "success" with a stream of another length */
                        layer_split_reader_free(r);
                }
        }
        close(rec);
        if (tree_clear_dir(root_fd, &err) < 0) {
                fprintf(stderr, "cannot empty the scratch root: %s\n", err.msg);
                abort();
        }
        return 0;
}
