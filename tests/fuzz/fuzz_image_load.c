/* fuzz_image_load.c - `docker load` of a hostile archive: a docker-archive (manifest.json,
 * configs, layers) or an OCI image layout (index.json, blobs), any compression, into a
 * store of its own. Each image is all-or-nothing: after a failed load no temporary
 * directory may remain under the store's tmp dir. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "image/image_store.h"

static struct image_store *store;
static char root[256];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct berr err = {};
        if (!store) {
                snprintf(root, sizeof(root), "%s/berth-fuzz-load-XXXXXX", fuzz_tmpdir());
                if (!mkdtemp(root) || image_store_open(root, "vfs", &store, &err) < 0) {
                        fprintf(stderr, "store: %s\n", err.msg);
                        abort();
                }
        }
        int fd = memfd_create("archive", MFD_CLOEXEC);
        if (fd < 0 || (size && write(fd, data, size) != (ssize_t) size))
                abort();
        lseek(fd, 0, SEEK_SET);
        if (image_store_load_archive(store, fd, NULL, NULL, &err) < 0 && getenv("FUZZ_DEBUG"))
                fprintf(stderr, "load: %s\n", err.msg);
        close(fd);
        /* Nothing of the load may remain in <root>/tmp, whatever happened. */
        char tmp[300];
        snprintf(tmp, sizeof(tmp), "%s/tmp", root);
        DIR *d = opendir(tmp);
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (de->d_name[0] != '.') {
                        fprintf(stderr, "a load left %s/%s behind\n", tmp, de->d_name);
                        abort();
                }
        if (d)
                closedir(d);
        return 0;
}
