/* fuzz_layer_apply.c - an image layer (any compression the applier detects) applied onto a
 * scratch root with each whiteout mode, then the root is emptied again. A layer that
 * escapes the root trips the check below: nothing may appear beside the root. */
#include <fcntl.h>
#include <stdio.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/tree.h"
#include "fuzz.h"
#include "image/layer_apply.h"

static int scratch_fd = -1; /* holds root/ and nothing else */
static int root_fd = -1;

static void setup(void) {
        char tmpl[256];
        snprintf(tmpl, sizeof(tmpl), "%s/berth-fuzz-layer-XXXXXX", fuzz_tmpdir());
        if (!mkdtemp(tmpl))
                abort();
        scratch_fd = open(tmpl, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (scratch_fd < 0 || mkdirat(scratch_fd, "root", 0755) < 0)
                abort();
        root_fd = openat(scratch_fd, "root", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (root_fd < 0)
                abort();
}

static void check_confined(void) {
        /* The scratch directory must hold only root/. */
        int fd = openat(scratch_fd, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        DIR *d = fdopendir(fd);
        if (!d)
                abort();
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "root")) {
                        fprintf(stderr, "layer escaped its root: %s\n", de->d_name);
                        abort();
                }
        closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (scratch_fd < 0)
                setup();
        if (size < 1)
                return 0;
        int tar_fd = memfd_create("layer", MFD_CLOEXEC);
        if (tar_fd < 0)
                abort();
        if (size > 1 && write(tar_fd, data + 1, size - 1) != (ssize_t) (size - 1))
                abort();
        lseek(tar_fd, 0, SEEK_SET);
        struct layer_apply_opts opts = {
                .whiteouts = data[0] % _LAYER_WHITEOUTS_MAX,
                .owner_root = data[0] & 0x10,
                .no_overwrite_dir_nondir = data[0] & 0x20,
                .max_bytes = 64 << 20,
                .max_entries = 10000,
        };
        struct layer_apply_result res;
        struct berr err = {};
        if (layer_apply_fd(root_fd, tar_fd, &opts, &res, &err) < 0 && getenv("FUZZ_DEBUG"))
                fprintf(stderr, "layer_apply: %s\n", err.msg);
        close(tar_fd);
        check_confined();
        if (tree_clear_dir(root_fd, &err) < 0) {
                fprintf(stderr, "cannot empty the scratch root: %s\n", err.msg);
                abort();
        }
        return 0;
}
