/* spec_devices.c - linux.devices and the device cgroup rules (linux.resources.devices):
 * Docker's default allow list, --device host[:container[:perms]] (a node, or a directory of
 * nodes, created in the container from a stat of the host path), --device-cgroup-rule, and
 * --privileged (every host device, everything allowed), as dockerd's WithDevices does. */
#include "runtime/spec_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"

#define DEVICES_MAX 8192 /* bounds a --device /dev walk or a privileged container's /dev */
#define DEVICE_DEPTH_MAX 16

/* The default device cgroup rules of dockerd's spec (oci.DefaultLinuxSpec). */
static const struct {
        bool allow;
        char type;
        int major, minor;
} default_rules[] = {
        { false, 0, 0, 0 },    { true, 'c', 1, 5 }, { true, 'c', 1, 3 }, { true, 'c', 1, 9 },
        { true, 'c', 1, 8 },   { true, 'c', 5, 0 }, { true, 'c', 5, 1 }, { false, 'c', 10, 229 },
};

static json_t *rule(bool allow, const char *type, long long major, long long minor, bool has_numbers,
                    const char *access) {
        json_t *r = json_pack("{s:b}", "allow", allow);
        if (!r)
                return NULL;
        if (type)
                json_object_set_new(r, "type", json_string(type));
        if (has_numbers) {
                json_object_set_new(r, "major", json_integer(major));
                json_object_set_new(r, "minor", json_integer(minor));
        }
        json_object_set_new(r, "access", json_string(access));
        return r;
}

struct dev_list {
        json_t *devices, *rules;
        const char *perms;
};

/* runc's devices.DeviceFromPath: 1 if @path is a char/block node (appended), 0 if not a
 * device, negative errno from lstat. */
static int add_device(struct dev_list *l, const char *host_path, const char *container_path) {
        struct stat st;
        if (lstat(host_path, &st) < 0)
                return -errno;
        const char *type = S_ISCHR(st.st_mode) ? "c" : S_ISBLK(st.st_mode) ? "b" : NULL;
        if (!type)
                return 0;
        if (json_array_size(l->devices) >= DEVICES_MAX)
                return -E2BIG;
        long long major = major(st.st_rdev), minor = minor(st.st_rdev);
        json_t *d = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "path", container_path, "type", type, "major",
                              (json_int_t) major, "minor", (json_int_t) minor, "fileMode",
                              (json_int_t) (st.st_mode & 07777), "uid", (json_int_t) st.st_uid, "gid",
                              (json_int_t) st.st_gid);
        if (!d || json_array_append_new(l->devices, d) < 0)
                return -ENOMEM;
        if (l->rules && json_array_append_new(l->rules, rule(true, type, major, minor, true, l->perms)) < 0)
                return -ENOMEM;
        return 1;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

/* Every device node under @dir, as @container_dir/... . @host_walk skips what containerd's
 * HostDevices skips (pts, shm, fd, mqueue, console, lxc/udev state). */
static int walk_devices(struct dev_list *l, const char *dir, const char *container_dir, bool host_walk, int depth) {
        if (depth > DEVICE_DEPTH_MAX)
                return 0;
        struct dirent **ents = NULL;
        int n = scandir(dir, &ents, NULL, by_name);
        if (n < 0)
                return 0; /* an unreadable directory holds no devices we could add */
        int r = 0;
        for (int i = 0; i < n; i++) {
                const char *name = ents[i]->d_name;
                if (r >= 0 && !STREQ(name, ".") && !STREQ(name, "..")) {
                        _cleanup_free_ char *hp = NULL, *cp = NULL;
                        if (asprintf(&hp, "%s/%s", dir, name) < 0 || asprintf(&cp, "%s/%s", container_dir, name) < 0) {
                                r = -ENOMEM;
                        } else {
                                struct stat st;
                                if (lstat(hp, &st) == 0 && S_ISDIR(st.st_mode)) {
                                        if (!(host_walk && (STREQ(name, "pts") || STREQ(name, "shm") || STREQ(name, "fd") ||
                                                            STREQ(name, "mqueue") || STREQ(name, ".lxc") ||
                                                            STREQ(name, ".lxd-mounts") || STREQ(name, ".udev"))))
                                                r = walk_devices(l, hp, cp, host_walk, depth + 1);
                                } else if (!(host_walk && STREQ(name, "console"))) {
                                        int k = add_device(l, hp, cp);
                                        if (k == -ENOMEM || k == -E2BIG)
                                                r = k;
                                }
                        }
                }
                free(ents[i]);
        }
        free(ents);
        return r;
}

static bool valid_perms(const char *p) {
        if (!*p || strlen(p) > 3)
                return false;
        for (const char *c = p; *c; c++)
                if (!strchr("rwm", *c) || strchr(c + 1, *c))
                        return false;
        return true;
}

/* oci.DevicesFromPath for one HostConfig.Devices entry. */
static int add_mapping(struct dev_list *l, const struct ctr_device *mapping, struct berr *err) {
        const char *host = mapping->path_on_host, *container = mapping->path_in_container,
                   *perms = mapping->cgroup_permissions;
        int r;
        if (!host || !*host)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid device mapping: PathOnHost is required");
        if (!container || !*container)
                container = host;
        if (!perms || !*perms)
                perms = "rwm";
        if (!valid_perms(perms))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid device mode: %s", perms);
        if (container[0] != '/')
                return berr_set(err, BERR_INVALID, EINVAL, "%s is not an absolute path", container);
        l->perms = perms;

        char resolved[PATH_MAX];
        struct stat st;
        const char *path = host;
        if (lstat(host, &st) == 0 && S_ISLNK(st.st_mode) && realpath(host, resolved))
                path = resolved;
        r = add_device(l, path, container);
        if (r == -ENOMEM || r == -E2BIG)
                return berr_set(err, r == -ENOMEM ? BERR_INTERNAL : BERR_INVALID, -r, "adding device %s: %s", host,
                                r == -ENOMEM ? "out of memory" : "too many devices");
        if (r > 0)
                return 0;
        int lerr = -r;
        if (r == 0) { /* not a node: a directory of nodes? */
                size_t before = json_array_size(l->devices);
                if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
                        r = walk_devices(l, path, container, false, 0);
                        if (r < 0)
                                return berr_set(err, BERR_INVALID, -r, "adding devices under %s: %s", host,
                                                r == -ENOMEM ? "out of memory" : "too many devices");
                }
                if (json_array_size(l->devices) > before)
                        return 0;
                return berr_set(err, BERR_INVALID, ENODEV,
                                "error gathering device information while adding custom device \"%s\": not a device node",
                                host);
        }
        char buf[128];
        return berr_set(err, BERR_INVALID, lerr,
                        "error gathering device information while adding custom device \"%s\": %s", host,
                        spec_go_strerror(lerr, buf));
}

/* "c 1:3 rwm", "a *:* m": ^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$ */
static int parse_cgroup_rule(const char *s, json_t **ret) {
        char type = s[0];
        if (!type || !strchr("acb", type) || s[1] != ' ')
                return -EINVAL;
        const char *p = s + 2;
        long long num[2];
        for (int k = 0; k < 2; k++) {
                if (*p == '*') {
                        num[k] = -1;
                        p++;
                } else {
                        if (*p < '0' || *p > '9')
                                return -EINVAL;
                        errno = 0;
                        char *end;
                        num[k] = strtoll(p, &end, 10);
                        if (errno)
                                return -EINVAL;
                        p = end;
                }
                if (*p++ != (k == 0 ? ':' : ' '))
                        return -EINVAL;
        }
        size_t n = strlen(p);
        if (n < 1 || n > 3 || strspn(p, "rwm") != n)
                return -EINVAL;
        char t[2] = { type, 0 };
        *ret = rule(true, t, num[0], num[1], true, p);
        return *ret ? 0 : -ENOMEM;
}

int spec_devices_build(const struct ctr_host_config *hc, bool privileged, json_t **ret_devices, json_t **ret_rules,
                       struct berr *err) {
        _cleanup_json_ json_t *devices = json_array(), *rules = json_array();
        if (!devices || !rules)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        struct dev_list l = { .devices = devices, .rules = rules, .perms = "rwm" };
        int r;
        if (privileged) {
                l.rules = NULL; /* one rule allows everything */
                r = walk_devices(&l, "/dev", "/dev", true, 0);
                if (r < 0)
                        return berr_set(err, BERR_INTERNAL, -r, "listing host devices: %s",
                                        r == -ENOMEM ? "out of memory" : "too many devices");
                if (json_array_append_new(rules, rule(true, NULL, 0, 0, false, "rwm")) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        } else {
                for (size_t i = 0; i < ELEMENTSOF(default_rules); i++) {
                        char t[2] = { default_rules[i].type, 0 };
                        if (json_array_append_new(rules, rule(default_rules[i].allow, t[0] ? t : NULL, default_rules[i].major,
                                                              default_rules[i].minor, t[0] != 0, "rwm")) < 0)
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                }
                for (size_t i = 0; i < hc->n_devices; i++)
                        if ((r = add_mapping(&l, &hc->devices[i], err)) < 0)
                                return r;
                for (size_t i = 0; i < hc->device_cgroup_rules.n; i++) {
                        const char *s = hc->device_cgroup_rules.v[i];
                        json_t *rl = NULL;
                        if (parse_cgroup_rule(s, &rl) < 0)
                                return berr_set(err, BERR_INVALID, EINVAL, "invalid device cgroup rule format: '%s'", s);
                        if (json_array_append_new(rules, rl) < 0)
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                }
        }
        *ret_devices = json_array_size(devices) ? TAKE_PTR(devices) : NULL;
        *ret_rules = TAKE_PTR(rules);
        return 0;
}
