/* spec_user.c - `--user name|uid[:group|gid]` and `--group-add` resolved against the image's
 * /etc/passwd and /etc/group, with the rules (and messages) of runc's libcontainer/user that
 * dockerd uses. The files come from a hostile image: they are opened through
 * openat2(RESOLVE_IN_ROOT) on the rootfs fd, so a symlink such as /etc/passwd -> /proc/1/root/...
 * or ../../../etc/shadow resolves inside the rootfs, never blocks (FIFO) and is size-bounded. */
#include "runtime/spec_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/err.h"

#define ID_MAX INT32_MAX               /* runc: uids and gids must be in range 0-2147483647 */
#define DB_MAX_BYTES (8u << 20)        /* a bigger /etc/passwd is not a passwd file */
#define GROUP_ADD_MAX 1024

struct passwd_entry {
        const char *name;
        long long uid, gid;
};

struct group_entry {
        const char *name;
        long long gid;
        const char *members; /* comma-separated, may be "" */
};

/* Read @path below @rootfs_fd. *ret_data NULL means "no such file": runc treats any open
 * failure as an absent file, and so do we, as well as anything that is not a regular file. */
static int read_db(int rootfs_fd, const char *path, char **ret_data, struct berr *err) {
        *ret_data = NULL;
        if (rootfs_fd < 0)
                return 0;
        struct open_how how = {
                .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        _cleanup_close_ int fd = fs_openat2(rootfs_fd, path, &how);
        if (fd < 0)
                return 0;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berr_sys(err, BERR_INTERNAL, "stat %s in the container", path);
        if (!S_ISREG(st.st_mode))
                return 0;
        if ((unsigned long long) st.st_size > DB_MAX_BYTES)
                return berr_set(err, BERR_INVALID, EFBIG, "%s in the container is larger than %u bytes", path,
                                DB_MAX_BYTES);
        _cleanup_free_ char *buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t len = 0;
        while (len < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + len, (size_t) st.st_size - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berr_sys(err, BERR_INTERNAL, "read %s in the container", path);
                if (n == 0)
                        break; /* shrank under us: use what is there */
                len += (size_t) n;
        }
        buf[len] = '\0';
        *ret_data = TAKE_PTR(buf);
        return 0;
}

/* Go's strconv.Atoi: optional sign, decimal digits, nothing else. */
static bool parse_go_int(const char *s, long long *ret) {
        if (!s || !*s)
                return false;
        const char *p = s;
        if (*p == '+' || *p == '-')
                p++;
        if (!*p)
                return false;
        for (const char *q = p; *q; q++)
                if (*q < '0' || *q > '9')
                        return false;
        errno = 0;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno || *end)
                return false;
        *ret = v;
        return true;
}

/* runc parses numeric fields ignoring conversion errors (a bad field reads as 0). */
static long long field_int(const char *s) {
        long long v;
        return parse_go_int(s, &v) ? v : 0;
}

static char *trim(char *s) {
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f')
                s++;
        size_t n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\v' || s[n - 1] == '\f'))
                s[--n] = '\0';
        return s;
}

/* Split @line at ':' into at most @max fields (missing ones are ""). Modifies @line. */
static void split_fields(char *line, char **fields, size_t max) {
        for (size_t i = 0; i < max; i++)
                fields[i] = "";
        char *p = line;
        for (size_t i = 0; i < max && p; i++) {
                fields[i] = p;
                char *c = strchr(p, ':');
                if (c)
                        *c++ = '\0';
                p = c;
        }
}

/* The next line of a buffer being consumed (modified in place); NULL at the end. */
static char *next_line(char **cursor) {
        char *line = *cursor;
        if (!line)
                return NULL;
        char *nl = strchr(line, '\n');
        if (nl)
                *nl++ = '\0';
        *cursor = nl;
        return line;
}

static bool member_of(const char *members, const char *name) {
        size_t n = strlen(name);
        for (const char *p = members; *p;) {
                const char *c = strchr(p, ',');
                size_t len = c ? (size_t) (c - p) : strlen(p);
                if (len == n && strncmp(p, name, n) == 0)
                        return true;
                if (!c)
                        break;
                p = c + 1;
        }
        return false;
}

static int append_gid(json_t *arr, long long gid) {
        return json_array_append_new(arr, json_integer(gid));
}

/* --group-add: names or numbers, in the order given, each gid once. runc collects them in
 * a Go map (random order); a stable order is the kinder reading of the same set. */
static int add_groups(char *group_db, const char *const *group_add, size_t n, json_t *gids, struct berr *err) {
        if (n > GROUP_ADD_MAX)
                return berr_set(err, BERR_INVALID, E2BIG, "too many additional groups (at most %d)", GROUP_ADD_MAX);
        size_t n_groups = 0;
        _cleanup_free_ struct group_entry *groups = NULL;
        if (group_db) {
                size_t cap = 0;
                char *cur = group_db, *line;
                while ((line = next_line(&cur))) {
                        char *l = trim(line);
                        if (!*l)
                                continue;
                        char *f[4];
                        split_fields(l, f, 4);
                        if (n_groups == cap) {
                                cap = cap ? cap * 2 : 16;
                                struct group_entry *g = realloc(groups, cap * sizeof(*g));
                                if (!g)
                                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                                groups = g;
                        }
                        groups[n_groups++] = (struct group_entry) { f[0], field_int(f[2]), f[3] };
                }
        }
        for (size_t i = 0; i < n; i++) {
                const char *ag = group_add[i];
                long long gid = -1;
                for (size_t j = 0; j < n_groups && gid < 0; j++) {
                        char num[32];
                        snprintf(num, sizeof(num), "%lld", groups[j].gid);
                        if (STREQ(groups[j].name, ag) || STREQ(num, ag))
                                gid = groups[j].gid;
                }
                if (gid < 0) {
                        if (!parse_go_int(ag, &gid))
                                return berr_set(err, BERR_INVALID, EINVAL, "Unable to find group %s", ag);
                        if (gid < 0 || gid > ID_MAX)
                                return berr_set(err, BERR_INVALID, ERANGE, "uids and gids must be in range 0-%d",
                                                ID_MAX);
                }
                bool seen = false;
                for (size_t k = 1; k < json_array_size(gids); k++) /* [0] is the primary gid */
                        if (json_integer_value(json_array_get(gids, k)) == gid)
                                seen = true;
                if (!seen && append_gid(gids, gid) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        return 0;
}

int spec_user_resolve(int rootfs_fd, const char *user, const char *const *group_add, size_t n_group_add,
                      json_t **ret_user, struct berr *err) {
        _cleanup_free_ char *spec = strdup(user ? user : "");
        if (!spec)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        char *f[2];
        split_fields(spec, f, 2);
        const char *user_arg = f[0], *group_arg = f[1];
        long long uid_arg = 0, gid_arg = 0;
        bool uid_numeric = parse_go_int(user_arg, &uid_arg);
        bool gid_numeric = parse_go_int(group_arg, &gid_arg);

        _cleanup_free_ char *passwd = NULL, *group = NULL, *group_copy = NULL;
        int r = read_db(rootfs_fd, "/etc/passwd", &passwd, err);
        if (r < 0)
                return r;
        r = read_db(rootfs_fd, "/etc/group", &group, err);
        if (r < 0)
                return r;
        if (group && !(group_copy = strdup(group)))
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");

        long long uid = 0, gid = 0;
        const char *matched = NULL; /* name of the passwd entry that matched */
        if (passwd) {
                char *cur = passwd, *line;
                while ((line = next_line(&cur))) {
                        char *l = trim(line);
                        if (!*l)
                                continue;
                        char *p[4];
                        split_fields(l, p, 4);
                        long long u = field_int(p[2]);
                        bool hit = !*user_arg ? u == 0 : uid_numeric ? u == uid_arg : STREQ(p[0], user_arg);
                        if (hit) { /* first match wins */
                                matched = p[0];
                                uid = u;
                                gid = field_int(p[3]);
                                break;
                        }
                }
        }
        if (!matched && *user_arg) {
                if (!uid_numeric)
                        return berr_set(err, BERR_INVALID, ENOENT,
                                        "unable to find user %s: no matching entries in passwd file", user_arg);
                uid = uid_arg;
                if (uid < 0 || uid > ID_MAX)
                        return berr_set(err, BERR_INVALID, ERANGE, "uids and gids must be in range 0-%d", ID_MAX);
        }

        _cleanup_json_ json_t *sgids = json_array();
        if (!sgids)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        bool group_found = false;
        if ((*group_arg || matched) && group) {
                char *cur = group, *line;
                while ((line = next_line(&cur))) {
                        char *l = trim(line);
                        if (!*l)
                                continue;
                        char *g[4];
                        split_fields(l, g, 4);
                        long long g_gid = field_int(g[2]);
                        if (!*group_arg) {
                                /* implicit form: the groups that list the user as a member */
                                if (member_of(g[3], matched) && append_gid(sgids, g_gid) < 0)
                                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        } else if (!group_found && (gid_numeric ? g_gid == gid_arg : STREQ(g[0], group_arg))) {
                                group_found = true; /* first match wins */
                                gid = g_gid;
                        }
                }
        }
        if (*group_arg && !group_found) {
                /* not in /etc/group: only a number will do */
                if (!gid_numeric)
                        return berr_set(err, BERR_INVALID, ENOENT,
                                        "unable to find group %s: no matching entries in group file", group_arg);
                gid = gid_arg;
                if (gid < 0 || gid > ID_MAX)
                        return berr_set(err, BERR_INVALID, ERANGE, "uids and gids must be in range 0-%d", ID_MAX);
        }

        /* dockerd: additionalGids = [gid] + the user's supplementary groups + --group-add */
        _cleanup_json_ json_t *gids = json_array();
        if (!gids || append_gid(gids, gid) < 0 || json_array_extend(gids, sgids) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (n_group_add > 0) {
                r = add_groups(group_copy, group_add, n_group_add, gids, err);
                if (r < 0)
                        return r;
        }
        json_t *u = json_pack("{s:I,s:I,s:O}", "uid", (json_int_t) uid, "gid", (json_int_t) gid, "additionalGids",
                              gids);
        if (!u)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        *ret_user = u;
        return 0;
}
