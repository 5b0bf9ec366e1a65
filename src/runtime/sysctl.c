/* sysctl.c - linux.sysctl: each key written to /proc/sys of a proc filesystem of the
 * runtime's own, never to whatever the container's /proc/sys path leads to.
 *
 * The container's /proc is built from spec.mounts, and a bind over /proc/sys (or over
 * one of its files) once took these writes into host files. So the values go through a
 * fresh, detached proc mount (fsopen/fsmount): nothing else is mounted in it, and each
 * open is beneath it without crossing a mount or following a link. A sysctl reads and
 * writes the namespace of the process that opens it, not of the proc instance, so the
 * values land in the container's network, IPC and UTS namespaces as before. */
#include "runtime_int.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"

/* A detached proc mount, for this process's namespaces. */
static int private_proc(struct berr *err) {
        _cleanup_close_ int fsfd = fsopen("proc", FSOPEN_CLOEXEC);
        if (fsfd < 0)
                return berr_sys(err, BERR_INTERNAL, "sysctl: open a proc filesystem");
        if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return berr_sys(err, BERR_INTERNAL, "sysctl: create a proc filesystem");
        int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (mfd < 0)
                return berr_sys(err, BERR_INTERNAL, "sysctl: mount a proc filesystem");
        return mfd;
}

static int write_one(int procfd, const char *key, const char *value, struct berr *err) {
        char path[PATH_MAX];
        int n = snprintf(path, sizeof(path), "sys/%s", key);
        if (n < 0 || (size_t) n >= sizeof(path) || strstr(key, ".."))
                return berr_set(err, BERR_INVALID, EINVAL, "sysctl \"%s\": invalid", key);
        for (char *p = path + 4; *p; p++)
                if (*p == '.')
                        *p = '/';
        struct open_how how = {
                .flags = O_WRONLY | O_TRUNC | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        _cleanup_close_ int fd = fs_openat2(procfd, path, &how);
        if (fd < 0)
                return berr_sys(err, BERR_INVALID, "sysctl \"%s\"", key);
        struct statfs sfs; /* cannot be anything else; checked because the file is written */
        if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
                return berr_set(err, BERR_INTERNAL, EXDEV, "sysctl \"%s\": not on a proc filesystem", key);
        if (write(fd, value, strlen(value)) < 0)
                return berr_sys(err, BERR_INVALID, "sysctl \"%s\" = \"%s\"", key, value);
        return 0;
}

int rt_sysctls_apply(const json_t *spec, struct berr *err) {
        return rt_sysctls_apply_some(spec, RT_SYSCTL_ALL, err);
}

int rt_sysctls_apply_some(const json_t *spec, enum rt_sysctl_which which, struct berr *err) {
        json_t *sysctls = json_object_get(json_object_get(spec, "linux"), "sysctl");
        if (!json_object_size(sysctls))
                return 0;
        _cleanup_close_ int procfd = private_proc(err);
        if (procfd < 0)
                return procfd;
        const char *key;
        json_t *val;
        json_object_foreach(sysctls, key, val) {
                bool is_net = strncmp(key, "net.", 4) == 0;
                if ((which == RT_SYSCTL_NET && !is_net) || (which == RT_SYSCTL_NOT_NET && is_net))
                        continue;
                if (!json_is_string(val))
                        return berr_set(err, BERR_INVALID, EINVAL, "sysctl \"%s\": invalid", key);
                int r = write_one(procfd, key, json_string_value(val), err);
                if (r < 0)
                        return r;
        }
        return 0;
}
