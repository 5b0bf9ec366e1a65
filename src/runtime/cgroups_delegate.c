/* cgroups_delegate.c - rootless berthd's cgroup v2 subtree: finding its own cgroup
 * ("0::/path" in /proc/self/cgroup) and a cgroup2 mount of the whole hierarchy, deciding
 * whether that cgroup is delegated to the user (systemd's Delegate=yes chowns the dir and
 * its cgroup.procs, cgroup.subtree_control and cgroup.threads to the user), moving its
 * processes into a leaf (a v2 cgroup with processes cannot enable controllers for its
 * children: rootlesskit's --evacuate-cgroup2 does the same) and enabling the delegated
 * controllers for the children, where the containers' cgroups then go. The mount is a
 * parameter so tests run on a fake tree. */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/mountinfo.h"

#define DELEGATE_FILE_MAX (4u << 20)
#define EVACUATE_ROUNDS 50 /* processes forking meanwhile are moved in the next round */

bool rt_cgroup_controllers_has(const char *list, const char *name) {
        size_t n = strlen(name);
        if (!list || n == 0)
                return false;
        for (const char *p = list; (p = strstr(p, name)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
                        return true;
        return false;
}

int rt_cgroup2_own_path(const char *proc_cgroup, char **ret, struct berr *err) {
        for (const char *l = proc_cgroup; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, "0::", 3) != 0)
                        continue;
                size_t n = strcspn(l + 3, "\n");
                if (n == 0 || l[3] != '/')
                        break;
                /* "/a/b (deleted)" is a removed cgroup; ".." never appears in a real one */
                char *p = strndup(l + 3, n);
                if (!p)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                if (strstr(p, "/../") || strstr(p, " (deleted)") || (n >= 3 && STREQ(p + n - 3, "/.."))) {
                        free(p);
                        break;
                }
                *ret = p;
                return 0;
        }
        return berr_set(err, BERR_UNAVAILABLE, ENOENT, "no cgroup v2 path (\"0::/...\") in /proc/self/cgroup");
}

/* Field @i (0-based) of a mountinfo line, into @out (undecoded). */
static bool mi_field(const char *line, int i, char *out, size_t size) {
        const char *p = line;
        for (int f = 0;; f++) {
                while (*p == ' ')
                        p++;
                if (!*p || *p == '\n')
                        return false;
                size_t n = strcspn(p, " \n");
                if (f == i) {
                        if (n >= size)
                                return false;
                        memcpy(out, p, n);
                        out[n] = '\0';
                        return true;
                }
                p += n;
        }
}

int rt_cgroup2_mount_point(const char *mountinfo, char **ret, struct berr *err) {
        _cleanup_free_ char *found = NULL;
        for (const char *l = mountinfo; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                const char *sep = strstr(l, " - ");
                const char *eol = strchr(l, '\n');
                if (!sep || (eol && sep > eol) || strncmp(sep + 3, "cgroup2 ", 8) != 0)
                        continue;
                char root[8], mp[4096];
                /* a mount of the whole hierarchy: root "/" (a cgroup namespace's or a bind
                 * of a subtree shows another) */
                if (!mi_field(l, 3, root, sizeof(root)) || !STREQ(root, "/") ||
                    mountinfo_mount_point(l, mp, sizeof(mp)) < 0)
                        continue;
                if (STREQ(mp, "/sys/fs/cgroup")) {
                        free(found);
                        found = NULL;
                        if (!(found = strdup(mp)))
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        break;
                }
                if (!found && !(found = strdup(mp)))
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        if (!found)
                return berr_set(err, BERR_UNAVAILABLE, ENOENT, "no cgroup v2 hierarchy is mounted");
        *ret = TAKE_PTR(found);
        return 0;
}

static int read_at(const char *dir, const char *file, char **ret, struct berr *err) {
        _cleanup_free_ char *p = fs_path_join(dir, file);
        if (!p)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        return fs_read_file(AT_FDCWD, p, DELEGATE_FILE_MAX, ret, NULL, err);
}

static int write_at(const char *dir, const char *file, const char *value, struct berr *err) {
        _cleanup_free_ char *p = fs_path_join(dir, file);
        if (!p)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        _cleanup_close_ int fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", p);
        ssize_t n = write(fd, value, strlen(value));
        if (n < 0)
                return berr_sys(err, BERR_INTERNAL, "write %s to %s", value, p);
        return 0;
}

/* Delegated: the dir and the files a delegate writes belong to @uid (cgroup.threads
 * only where the kernel has it). */
static int check_owner(const char *dir, const char *path, uid_t uid, struct berr *err) {
        static const char *const files[] = { ".", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *p = fs_path_join(dir, files[i]);
                struct stat st;
                if (!p)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                if (stat(p, &st) < 0) {
                        if (errno == ENOENT && i == 3)
                                continue;
                        return berr_sys(err, BERR_UNAVAILABLE, "cgroup %s", p);
                }
                if (st.st_uid != uid)
                        return berr_set(err, BERR_UNAVAILABLE, EACCES, "cgroup %s is not delegated to uid %u (%s belongs "
                                        "to uid %u)", path, (unsigned) uid, files[i], (unsigned) st.st_uid);
        }
        return 0;
}

/* Move every process of @dir into @dir/@leaf, until none is left. */
static int evacuate(const char *dir, const char *leaf, const char *path, struct berr *err) {
        _cleanup_free_ char *to = fs_path_join(dir, leaf);
        if (!to)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        bool made = false;
        for (int round = 0; round < EVACUATE_ROUNDS; round++) {
                _cleanup_free_ char *procs = NULL;
                int r = read_at(dir, "cgroup.procs", &procs, err);
                if (r < 0)
                        return r;
                if (strspn(procs, " \n") == strlen(procs))
                        return 0;
                if (!made && mkdir(to, 0755) < 0 && errno != EEXIST)
                        return berr_sys(err, BERR_INTERNAL, "mkdir %s", to);
                made = true;
                for (char *save = NULL, *t = strtok_r(procs, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
                        r = write_at(to, "cgroup.procs", t, err);
                        if (r == -ESRCH)
                                continue; /* gone meanwhile */
                        if (r < 0)
                                return berr_wrap(err, "move the processes of cgroup %s into %s/%s", path, path, leaf);
                }
        }
        return berr_set(err, BERR_INTERNAL, EBUSY, "cgroup %s: processes keep appearing in it while they are moved into "
                        "%s/%s", path, path, leaf);
}

/* Enable for the children what @dir may hand on (cgroup.controllers) and is not yet on:
 * all in one write, else one by one (a controller the kernel refuses stays off). */
static int enable_controllers(const char *dir, char **ret, struct berr *err) {
        _cleanup_free_ char *avail = NULL, *on = NULL;
        int r = read_at(dir, "cgroup.controllers", &avail, err);
        if (r == 0)
                r = read_at(dir, "cgroup.subtree_control", &on, err);
        if (r < 0)
                return r;
        char line[512] = "";
        size_t o = 0;
        for (char *save = NULL, *t = strtok_r(avail, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
                if (!rt_cgroup_controllers_has(on, t))
                        o += (size_t) snprintf(line + o, o < sizeof(line) ? sizeof(line) - o : 0, "%s+%s", o ? " " : "", t);
        if (o >= sizeof(line))
                return berr_set(err, BERR_INTERNAL, E2BIG, "cgroup.controllers of %s: too many controllers", dir);
        struct berr e2;
        if (o > 0 && write_at(dir, "cgroup.subtree_control", line, &e2) < 0)
                for (char *save = NULL, *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save))
                        (void) write_at(dir, "cgroup.subtree_control", t, &e2); /* refused: stays off, read back below */
        free(on);
        on = NULL;
        r = read_at(dir, "cgroup.subtree_control", &on, err);
        if (r < 0)
                return r;
        on[strcspn(on, "\n")] = '\0';
        *ret = TAKE_PTR(on);
        return 0;
}

int rt_cgroup_delegate(const char *mount, const char *path, uid_t uid, const char *leaf,
                       struct rt_cgroup_delegation *ret, struct berr *err) {
        if (!path[0] || STREQ(path, "/"))
                return berr_set(err, BERR_UNAVAILABLE, EACCES, "berthd runs in the root cgroup, which is never delegated");
        _cleanup_free_ char *controllers = NULL, *m = strdup(mount), *p = strdup(path);
        if (!m || !p)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        /* Started again from the leaf of an earlier berthd (a shell moved there with it):
         * the subtree is the leaf's parent, whose controllers are on already */
        size_t n = strlen(p), ln = strlen(leaf);
        if (n > ln + 1 && p[n - ln - 1] == '/' && STREQ(p + n - ln, leaf))
                p[n - ln - 1] = '\0';
        _cleanup_free_ char *dir = fs_path_join(mount, p);
        if (!dir)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = check_owner(dir, p, uid, err);
        if (r < 0)
                return r;
        if ((r = evacuate(dir, leaf, p, err)) < 0 || (r = enable_controllers(dir, &controllers, err)) < 0)
                return r;
        ret->mount = TAKE_PTR(m);
        ret->path = TAKE_PTR(p);
        ret->controllers = TAKE_PTR(controllers);
        return 0;
}

void rt_cgroup_delegation_done(struct rt_cgroup_delegation *dg) {
        free(dg->mount);
        free(dg->path);
        free(dg->controllers);
        *dg = (struct rt_cgroup_delegation) { 0 };
}
