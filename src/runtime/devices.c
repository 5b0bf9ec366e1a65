/* devices.c - /dev inside the container: the default device nodes and linux.devices
 * (mknod, or a bind mount of the host's node where mknod is refused), the /dev/fd and
 * /dev/std* links, /dev/ptmx, /dev/console for a terminal; and the devices-cgroup rules
 * (the spec's, then runc's default allow list, which dockerd relies on), as v1 lines that
 * v2 turns into an eBPF program (bpf_devices.c). */
#include "runtime_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"

struct dev_node {
        const char *path;
        char type; /* 'c' 'b' 'p' */
        unsigned major, minor;
        mode_t mode;
        uid_t uid;
        gid_t gid;
};

/* runc's default devices (libcontainer/specconv AllowedDevices with a path). */
static const struct dev_node default_nodes[] = {
        { "/dev/null", 'c', 1, 3, 0666, 0, 0 },    { "/dev/zero", 'c', 1, 5, 0666, 0, 0 },
        { "/dev/full", 'c', 1, 7, 0666, 0, 0 },    { "/dev/random", 'c', 1, 8, 0666, 0, 0 },
        { "/dev/urandom", 'c', 1, 9, 0666, 0, 0 }, { "/dev/tty", 'c', 5, 0, 0666, 0, 0 },
};

/* runc's default cgroup allow list, appended after the spec's rules. */
static const char *const default_allow[] = {
        "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 1:5 rwm",
        "c 1:9 rwm", "c 5:1 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm",
};

static const struct {
        const char *link, *target;
} default_links[] = {
        { "/dev/fd", "/proc/self/fd" },         { "/dev/stdin", "/proc/self/fd/0" },
        { "/dev/stdout", "/proc/self/fd/1" },   { "/dev/stderr", "/proc/self/fd/2" },
        { "/dev/ptmx", "pts/ptmx" },
};

static int split_parent(int rootfd, const char *path, int *ret_dirfd, const char **ret_name, struct berr *err) {
        const char *slash = strrchr(path, '/');
        if (!slash || !slash[1])
                return berr_set(err, BERR_INVALID, EINVAL, "device path \"%s\": not absolute", path);
        _cleanup_free_ char *dir = strndup(path, (size_t) (slash - path) + 1);
        if (!dir)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = rt_resolve_in_root(rootfd, dir, RT_RESOLVE_MKDIR, ret_dirfd, NULL, err);
        if (r < 0)
                return r;
        /* An O_PATH fd cannot be used with mknodat; reopen it as a real directory fd. */
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", *ret_dirfd);
        int d = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int e = errno;
        (void) close(*ret_dirfd);
        if (d < 0) {
                errno = e;
                return berr_sys(err, BERR_INTERNAL, "open %s", dir);
        }
        *ret_dirfd = d;
        *ret_name = slash + 1;
        return 0;
}

/* Bind the host's node of the same path over an empty file: what works where mknod does not. */
static int bind_host_node(int dirfd, const char *name, const char *host_path, struct berr *err) {
        _cleanup_close_ int f = openat(dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0000);
        if (f < 0 && errno != EEXIST)
                return berr_sys(err, BERR_INTERNAL, "create %s", host_path);
        _cleanup_close_ int tree = open_tree(AT_FDCWD, host_path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return berr_sys(err, BERR_INTERNAL, "bind %s from the host", host_path);
        if (move_mount(tree, "", dirfd, name, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return berr_sys(err, BERR_INTERNAL, "mount %s to %s", host_path, host_path);
        return 0;
}

static int create_node(int rootfd, const struct dev_node *d, struct berr *err) {
        _cleanup_close_ int dirfd = -1;
        const char *name;
        int r = split_parent(rootfd, d->path, &dirfd, &name, err);
        if (r < 0)
                return r;
        mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
        (void) unlinkat(dirfd, name, 0); /* an image may ship its own /dev entries: ours win */
        if (mknodat(dirfd, name, type | (d->mode & 07777), makedev(d->major, d->minor)) < 0) {
                if (errno != EPERM)
                        return berr_sys(err, BERR_INTERNAL, "mknod %s", d->path);
                return bind_host_node(dirfd, name, d->path, err);
        }
        if (fchmodat(dirfd, name, d->mode & 07777, 0) < 0)
                return berr_sys(err, BERR_INTERNAL, "chmod %s", d->path);
        if (fchownat(dirfd, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return berr_sys(err, BERR_INTERNAL, "chown %s", d->path);
        return 0;
}

static int parse_device(const json_t *e, struct dev_node *d, struct berr *err) {
        const char *path = json_string_value(json_object_get(e, "path"));
        const char *type = json_string_value(json_object_get(e, "type"));
        if (!path || path[0] != '/' || !type || strlen(type) != 1 || !strchr("cbup", type[0]))
                return berr_set(err, BERR_INVALID, EINVAL, "linux.devices: bad entry (path \"%s\", type \"%s\")",
                                path ? path : "", type ? type : "");
        json_t *mode = json_object_get(e, "fileMode");
        *d = (struct dev_node){
                .path = path,
                .type = type[0] == 'u' ? 'c' : type[0],
                .major = (unsigned) json_integer_value(json_object_get(e, "major")),
                .minor = (unsigned) json_integer_value(json_object_get(e, "minor")),
                .mode = json_is_integer(mode) ? (mode_t) json_integer_value(mode) : 0666,
                .uid = (uid_t) json_integer_value(json_object_get(e, "uid")),
                .gid = (gid_t) json_integer_value(json_object_get(e, "gid")),
        };
        return 0;
}

static int console_setup(int rootfd, const struct rt_stdio *io, struct berr *err) {
        _cleanup_close_ int dirfd = -1;
        const char *name;
        int r = split_parent(rootfd, "/dev/console", &dirfd, &name, err);
        if (r < 0)
                return r;
        _cleanup_close_ int f = openat(dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0000);
        if (f < 0)
                return berr_sys(err, BERR_INTERNAL, "create /dev/console");
        /* The pty slave is fd 0 by now (stdio is set up before the mounts). The fd's mount
         * is the host namespace's, which cannot be cloned from here; its path names the
         * same node in our copy of the host's mounts (we have not pivoted yet). */
        char tty[64];
        int e = ttyname_r(0, tty, sizeof(tty));
        if (e != 0) {
                errno = e;
                return berr_sys(err, BERR_INTERNAL, "name of the terminal");
        }
        _cleanup_close_ int tree = open_tree(AT_FDCWD, tty, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return berr_sys(err, BERR_INTERNAL, "bind the terminal to /dev/console");
        if (move_mount(tree, "", dirfd, name, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return berr_sys(err, BERR_INTERNAL, "mount the terminal to /dev/console");
        return 0;
}

int rt_devices_setup(int rootfd, const json_t *spec, const struct rt_stdio *io, struct berr *err) {
        json_t *list = json_object_get(json_object_get(spec, "linux"), "devices");
        for (size_t i = 0; i < ELEMENTSOF(default_nodes); i++) {
                bool overridden = false;
                size_t j;
                json_t *e;
                json_array_foreach(list, j, e) if (json_is_string(json_object_get(e, "path")) &&
                                                  STREQ(json_string_value(json_object_get(e, "path")), default_nodes[i].path))
                        overridden = true;
                if (overridden)
                        continue;
                int r = create_node(rootfd, &default_nodes[i], err);
                if (r < 0)
                        return r;
        }
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e) {
                struct dev_node d;
                int r = parse_device(e, &d, err);
                if (r == 0)
                        r = create_node(rootfd, &d, err);
                if (r < 0)
                        return r;
        }
        for (size_t k = 0; k < ELEMENTSOF(default_links); k++) {
                _cleanup_close_ int dirfd = -1;
                const char *name;
                int r = split_parent(rootfd, default_links[k].link, &dirfd, &name, err);
                if (r < 0)
                        return r;
                if (symlinkat(default_links[k].target, dirfd, name) < 0 && errno != EEXIST)
                        return berr_sys(err, BERR_INTERNAL, "symlink %s %s", default_links[k].target,
                                        default_links[k].link);
        }
        if (access("/proc/kcore", F_OK) == 0) {
                _cleanup_close_ int dirfd = -1;
                const char *name;
                int r = split_parent(rootfd, "/dev/core", &dirfd, &name, err);
                if (r < 0)
                        return r;
                if (symlinkat("/proc/kcore", dirfd, name) < 0 && errno != EEXIST)
                        return berr_sys(err, BERR_INTERNAL, "symlink /proc/kcore /dev/core");
        }
        if (io && io->terminal && !io->console_in_container) /* else rt_proc_setup_console */
                return console_setup(rootfd, io, err);
        return 0;
}

static int rule_line(const json_t *e, char *buf, size_t size, bool *ret_allow, struct berr *err) {
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *access = json_string_value(json_object_get(e, "access"));
        json_t *maj = json_object_get(e, "major"), *min = json_object_get(e, "minor");
        if (!type || !type[0])
                type = "a";
        if (strlen(type) != 1 || !strchr("acbu", type[0]))
                return berr_set(err, BERR_INVALID, EINVAL, "linux.resources.devices: bad type \"%s\"", type);
        if (!access || !access[0])
                access = "rwm";
        if (strspn(access, "rwm") != strlen(access))
                return berr_set(err, BERR_INVALID, EINVAL, "linux.resources.devices: bad access \"%s\"", access);
        char smaj[24] = "*", smin[24] = "*";
        if (json_is_integer(maj) && json_integer_value(maj) >= 0)
                snprintf(smaj, sizeof(smaj), "%lld", (long long) json_integer_value(maj));
        if (json_is_integer(min) && json_integer_value(min) >= 0)
                snprintf(smin, sizeof(smin), "%lld", (long long) json_integer_value(min));
        if (type[0] == 'a')
                snprintf(buf, size, "a");
        else
                snprintf(buf, size, "%c %s:%s %s", type[0] == 'u' ? 'c' : type[0], smaj, smin, access);
        *ret_allow = json_is_true(json_object_get(e, "allow"));
        return 0;
}

int rt_devices_cgroup_rules(const json_t *resources, int (*fn)(bool allow, const char *line, void *userdata),
                            void *userdata, struct berr *err) {
        json_t *list = json_object_get(resources, "devices");
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e) {
                char line[96];
                bool allow = false;
                int r = rule_line(e, line, sizeof(line), &allow, err);
                if (r == 0)
                        r = fn(allow, line, userdata);
                if (r < 0)
                        return r;
        }
        for (size_t k = 0; k < ELEMENTSOF(default_allow); k++) {
                int r = fn(true, default_allow[k], userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}
