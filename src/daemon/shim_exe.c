/* shim_exe.c - berth-shim is started from a sealed in-memory copy of the binary, made
 * once per berthd: the container's process is a fork of the shim until it execve's, and
 * with --privileged (CAP_SYS_PTRACE) a process of the container could otherwise open the
 * host's berth-shim through /proc/<pid>/exe in that window (CVE-2019-5736). The copy
 * costs one read of the file per berthd start, nothing per container. */
#include "shim_exe.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "daemon.h"
#include "runtime/runtime.h"

int shim_exec_path(struct daemon *d, char *buf, size_t size, struct berr *err) {
        static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        static int fd = -1;
        int r = 0;
        pthread_mutex_lock(&lock);
        if (fd < 0) {
                int got = -1;
                r = rt_sealed_exe_open(d->shim_path, "berth-shim", &got, err);
                /* Above the fds spawn_shim sets up in the child (0-3), or a dup2 there
                 * would replace it before the execve. */
                if (r == 0 && got < 10) {
                        fd = fcntl(got, F_DUPFD_CLOEXEC, 10);
                        if (fd < 0)
                                r = berr_sys(err, BERR_INTERNAL, "fcntl");
                        (void) close(got);
                } else if (r == 0)
                        fd = got;
        }
        pthread_mutex_unlock(&lock);
        if (r < 0)
                return berr_wrap(err, "start %s from a sealed copy", d->shim_path);
        snprintf(buf, size, "/proc/self/fd/%d", fd);
        return 0;
}
