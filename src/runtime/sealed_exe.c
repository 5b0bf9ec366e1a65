/* sealed_exe.c - a sealed in-memory copy of an executable (CVE-2019-5736): berth-shim
 * runs from one, so the container's process, which is the shim's fork until it execve's,
 * has no /proc/<pid>/exe that leads to the host's binary. The copy cannot be written,
 * grown, shrunk or unsealed; runc does the same (libcontainer/dmz, cloned_binary.c). */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: say so, or vm.memfd_noexec may refuse the exec */
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020 /* Linux 6.3: the mode bits stay as they are */
#endif

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

static int copy_all(int from, int to, off_t size) {
        off_t done = 0;
        while (done < size) {
                ssize_t n = sendfile(to, from, NULL, (size_t) (size - done));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO; /* the file shrank under us */
                done += n;
        }
        return 0;
}

int rt_sealed_exe_open(const char *path, const char *name, int *ret_fd, struct berr *err) {
        _cleanup_close_ int src = open(path, O_RDONLY | O_CLOEXEC);
        if (src < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", path);
        struct stat st;
        if (fstat(src, &st) < 0)
                return berr_sys(err, BERR_INTERNAL, "stat %s", path);
        if (!S_ISREG(st.st_mode))
                return berr_set(err, BERR_INTERNAL, EINVAL, "%s: not a regular file", path);
        _cleanup_close_ int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
        if (fd < 0 && errno == EINVAL) /* before 6.3 */
                fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "memfd_create for a copy of %s", path);
        int r = copy_all(src, fd, st.st_size);
        if (r < 0) {
                errno = -r;
                return berr_sys(err, BERR_INTERNAL, "copy %s to memory", path);
        }
        if (fchmod(fd, 0555) < 0)
                return berr_sys(err, BERR_INTERNAL, "chmod the copy of %s", path);
        if (fcntl(fd, F_ADD_SEALS, SEALS | F_SEAL_EXEC) < 0 &&
            (errno != EINVAL || fcntl(fd, F_ADD_SEALS, SEALS) < 0))
                return berr_sys(err, BERR_INTERNAL, "seal the copy of %s", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}
