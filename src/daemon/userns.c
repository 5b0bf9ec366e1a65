/* userns.c - --userns-remap (dockerd's setupRemappedRoot, parseRemappedRoot and
 * setupDaemonRoot): the user and group named by the option, "dockremap" created for
 * "default" with subordinate ranges of its own, the maps from /etc/subuid and
 * /etc/subgid, the data root DATA-ROOT/<uid>.<gid> of that mapping (so images and
 * containers of another mapping are not seen), and one user namespace with the maps whose
 * fd makes the idmapped mounts of image layers (they stay owned by 0 on disk: no chown of
 * a layer, ever). */
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "daemon.h"
#include "runtime/runtime.h"

#define DEFAULT_REMAP_USER "dockremap"
#define SUBID_FILE_MAX (4u << 20)
#define DEFAULT_RANGE_START 100000u
#define DEFAULT_RANGE_SIZE 65536u

extern char **environ;

/* ---- /etc/subuid and /etc/subgid ---- */

struct range {
        uint32_t start, count;
};

static int cmp_range(const void *a, const void *b) {
        const struct range *x = a, *y = b;
        return x->start < y->start ? -1 : x->start > y->start;
}

/* "name:start:count" with start and count decimal, count > 0; false for anything else. */
static bool parse_line(char *line, char **ret_name, struct range *ret) {
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c1 || !c2 || strchr(c2 + 1, ':'))
                return false;
        *c1 = *c2 = '\0';
        char *end;
        errno = 0;
        unsigned long long start = strtoull(c1 + 1, &end, 10);
        if (errno || end == c1 + 1 || *end || start > UINT32_MAX)
                return false;
        unsigned long long count = strtoull(c2 + 1, &end, 10);
        if (errno || end == c2 + 1 || *end || count == 0 || count > UINT32_MAX || start + count - 1 > UINT32_MAX)
                return false;
        *ret_name = line;
        *ret = (struct range) { (uint32_t) start, (uint32_t) count };
        return true;
}

/* Every range of the file (@name NULL) or of @name / @id. */
static int read_ranges(const char *text, const char *name, uint32_t id, struct range *out, size_t max, size_t *ret_n,
                       struct berr *err) {
        _cleanup_free_ char *copy = strdup(text ? text : "");
        if (!copy)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        char idstr[16];
        snprintf(idstr, sizeof(idstr), "%u", id);
        size_t n = 0;
        for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                while (*line == ' ' || *line == '\t')
                        line++;
                if (!*line || *line == '#')
                        continue;
                char *who;
                struct range rg;
                if (!parse_line(line, &who, &rg))
                        continue; /* shadow's tools skip what they cannot read too */
                if (name && !STREQ(who, name) && !STREQ(who, idstr))
                        continue;
                if (n == max)
                        return berr_set(err, BERR_INVALID, E2BIG, "more than %zu subordinate id ranges", max);
                out[n++] = rg;
        }
        qsort(out, n, sizeof(*out), cmp_range);
        size_t k = 0; /* the same line twice is one range (the kernel refuses overlaps) */
        for (size_t i = 0; i < n; i++)
                if (k == 0 || out[i].start != out[k - 1].start || out[i].count != out[k - 1].count)
                        out[k++] = out[i];
        *ret_n = k;
        return 0;
}

int userns_parse_subid(const char *text, const char *name, uint32_t id, struct spec_idmap *out, size_t max,
                       size_t *ret_n, struct berr *err) {
        struct range rg[USERNS_MAX_RANGES];
        size_t n = 0;
        int r = read_ranges(text, name, id, rg, max < USERNS_MAX_RANGES ? max : USERNS_MAX_RANGES, &n, err);
        if (r < 0)
                return r;
        if (n == 0)
                return -ENOENT;
        uint64_t next = 0;
        for (size_t i = 0; i < n; i++) {
                if (next + rg[i].count > (uint64_t) UINT32_MAX + 1)
                        return berr_set(err, BERR_INVALID, ERANGE, "subordinate id ranges of %s: more than 2^32 ids", name);
                out[i] = (struct spec_idmap) { (uint32_t) next, rg[i].start, rg[i].count };
                next += rg[i].count;
        }
        *ret_n = n;
        return 0;
}

uint32_t userns_next_free_start(const char *text, uint32_t size) {
        struct range rg[1024];
        size_t n = 0;
        struct berr e;
        if (read_ranges(text, NULL, 0, rg, ELEMENTSOF(rg), &n, &e) < 0)
                n = 0;
        uint64_t start = DEFAULT_RANGE_START;
        for (size_t i = 0; i < n; i++) {
                uint64_t s = rg[i].start, end = s + rg[i].count;
                if (start + size <= s)
                        break; /* fits before this one */
                if (end > start)
                        start = end;
        }
        return start + size - 1 > UINT32_MAX ? 0 : (uint32_t) start;
}

/* ---- users ---- */

static int run_tool(char *const argv[], struct berr *err) {
        pid_t pid;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0) {
                errno = r;
                return berr_sys(err, BERR_INTERNAL, "run %s", argv[0]);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return berr_set(err, BERR_INTERNAL, EIO, "%s %s failed (status %d)", argv[0], argv[1] ? argv[1] : "",
                                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 0;
}

/* Append "name:start:count" to @path (the file may not exist yet). */
static int append_range(const char *path, const char *name, uint32_t start, uint32_t count, struct berr *err) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", path);
        char line[300];
        int n = snprintf(line, sizeof(line), "%s:%u:%u\n", name, start, count);
        if (write(fd, line, (size_t) n) != n)
                return berr_sys(err, BERR_INTERNAL, "write %s", path);
        return 0;
}

/* moby's createSubordinateRanges: a free range of 65536 in each file unless the user has
 * one. usermod --add-subuids/--add-subgids when it can, else the line written directly. */
static int add_ranges(const char *name, uint32_t uid, struct berr *err) {
        static const char *const files[] = { "/etc/subuid", "/etc/subgid" };
        static const char *const flags[] = { "-v", "-w" };
        for (size_t i = 0; i < 2; i++) {
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                int r = fs_read_file(AT_FDCWD, files[i], SUBID_FILE_MAX, &text, &len, err);
                if (r < 0 && r != -ENOENT)
                        return r;
                struct spec_idmap m[USERNS_MAX_RANGES];
                size_t n = 0;
                r = userns_parse_subid(text, name, uid, m, ELEMENTSOF(m), &n, err);
                if (r == 0)
                        continue;
                if (r != -ENOENT)
                        return r;
                uint32_t start = userns_next_free_start(text, DEFAULT_RANGE_SIZE);
                if (!start)
                        return berr_set(err, BERR_INTERNAL, ERANGE, "no free range of subordinate ids in %s", files[i]);
                char spec[64];
                snprintf(spec, sizeof(spec), "%u-%u", start, start + DEFAULT_RANGE_SIZE - 1);
                char *argv[] = { "usermod", (char *) flags[i], spec, (char *) name, NULL };
                struct berr e2;
                if (run_tool(argv, &e2) < 0) {
                        log_debug("%s; writing %s directly", e2.msg, files[i]);
                        r = append_range(files[i], name, start, DEFAULT_RANGE_SIZE, err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* moby's AddNamespaceRangesUser("dockremap"): useradd -r -s /bin/false, then ranges. */
static int create_default_user(struct berr *err) {
        char *argv[] = { "useradd", "-r", "-s", "/bin/false", DEFAULT_REMAP_USER, NULL };
        int r = run_tool(argv, err);
        if (r < 0)
                return berr_wrap(err, "Error during \"%s\" user creation: error adding user \"%s\"", DEFAULT_REMAP_USER,
                                 DEFAULT_REMAP_USER);
        struct passwd *pw = getpwnam(DEFAULT_REMAP_USER);
        if (!pw)
                return berr_set(err, BERR_INTERNAL, ENOENT, "Error during \"%s\" user creation: no such user after useradd",
                                DEFAULT_REMAP_USER);
        r = add_ranges(DEFAULT_REMAP_USER, pw->pw_uid, err);
        return r < 0 ? berr_wrap(err, "Error during \"%s\" user creation", DEFAULT_REMAP_USER) : 0;
}

/* strconv.ParseInt(s, 10, 32) with a non-negative result. */
static bool parse_id(const char *s, uint32_t *ret) {
        if (!*s)
                return false;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || *end || v < 0 || v > INT32_MAX)
                return false;
        *ret = (uint32_t) v;
        return true;
}

/* dockerd's parseRemappedRoot: the user and group names (messages as dockerd's). */
static int parse_remapped_root(const char *spec, char *user, char *group, struct berr *err) {
        char part[2][256] = { "", "" };
        const char *colon = strchr(spec, ':');
        if (colon && strchr(colon + 1, ':'))
                return berr_set(err, BERR_INVALID, EINVAL, "Invalid user/group specification in --userns-remap: \"%s\"", spec);
        snprintf(part[0], sizeof(part[0]), "%.*s", colon ? (int) (colon - spec) : (int) strlen(spec), spec);
        if (colon)
                snprintf(part[1], sizeof(part[1]), "%s", colon + 1);
        uint32_t id;
        if (parse_id(part[0], &id)) {
                struct passwd *pw = getpwuid(id);
                if (!pw)
                        return berr_set(err, BERR_INVALID, ENOENT, "Uid %u has no entry in /etc/passwd", id);
                snprintf(user, 256, "%s", pw->pw_name);
                if (!colon) {
                        struct group *gr = getgrgid(id);
                        if (!gr)
                                return berr_set(err, BERR_INVALID, ENOENT, "Gid %u has no entry in /etc/group", id);
                        snprintf(group, 256, "%s", gr->gr_name);
                }
        } else {
                bool is_default = STREQ(part[0], "default");
                const char *lookup = is_default ? DEFAULT_REMAP_USER : part[0];
                struct passwd *pw = getpwnam(lookup);
                if (!pw && !is_default)
                        return berr_set(err, BERR_INVALID, ENOENT, "Error during uid lookup for \"%s\": user not found", lookup);
                if (!pw) {
                        int r = create_default_user(err);
                        if (r < 0)
                                return r;
                        snprintf(user, 256, "%s", DEFAULT_REMAP_USER);
                        snprintf(group, 256, "%s", DEFAULT_REMAP_USER);
                        return 0;
                }
                snprintf(user, 256, "%s", pw->pw_name);
                if (!colon) {
                        struct group *gr = getgrnam(lookup);
                        if (!gr)
                                return berr_set(err, BERR_INVALID, ENOENT, "Error during gid lookup for \"%s\": group not found",
                                                lookup);
                        snprintf(group, 256, "%s", gr->gr_name);
                }
        }
        if (colon) {
                if (parse_id(part[1], &id)) {
                        struct group *gr = getgrgid(id);
                        if (!gr)
                                return berr_set(err, BERR_INVALID, ENOENT, "Gid %u has no entry in /etc/passwd", id);
                        snprintf(group, 256, "%s", gr->gr_name);
                } else {
                        if (!getgrnam(part[1]))
                                return berr_set(err, BERR_INVALID, ENOENT,
                                                "Error during groupname lookup for \"%s\": group not found", part[1]);
                        snprintf(group, 256, "%s", part[1]);
                }
        }
        return 0;
}

/* moby's LoadIdentityMapping: both files are read for the user (name or uid). */
static int load_maps(struct userns_remap *m, struct berr *err) {
        struct passwd *pw = getpwnam(m->user);
        if (!pw)
                return berr_set(err, BERR_INVALID, ENOENT, "Can't create ID mappings: user \"%s\" not found", m->user);
        static const char *const files[] = { "/etc/subuid", "/etc/subgid" };
        for (size_t i = 0; i < 2; i++) {
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                int r = fs_read_file(AT_FDCWD, files[i], SUBID_FILE_MAX, &text, &len, err);
                if (r < 0 && r != -ENOENT)
                        return berr_wrap(err, "Can't create ID mappings");
                r = userns_parse_subid(text, m->user, pw->pw_uid, i ? m->gids : m->uids, USERNS_MAX_RANGES,
                                       i ? &m->n_gids : &m->n_uids, err);
                if (r == -ENOENT)
                        return berr_set(err, BERR_INVALID, ENOENT, "Can't create ID mappings: no %s ranges found for %s \"%s\"",
                                        i ? "subgid" : "subuid", i ? "group" : "user", m->user);
                if (r < 0)
                        return berr_wrap(err, "Can't create ID mappings");
        }
        m->root_uid = m->uids[0].host_id; /* container id 0: the lowest range's start */
        m->root_gid = m->gids[0].host_id;
        return 0;
}

static void map_text(const struct spec_idmap *m, size_t n, char *buf, size_t size) {
        size_t len = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < n && len < size; i++)
                len += (size_t) snprintf(buf + len, size - len, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
}

/* ---- the data root ---- */

/* dockerd's canAccess: o+x, or the owner's or group's x bit for the remapped root. */
static bool can_traverse(const struct stat *st, uint32_t uid, uint32_t gid) {
        return (st->st_mode & 0001) || (st->st_uid == uid && (st->st_mode & 0100)) ||
               (st->st_gid == gid && (st->st_mode & 0010));
}

static int setup_data_root(struct daemon *d, struct userns_remap *m, struct berr *err) {
        const char *base = d->cfg.data_root;
        int r = fs_mkdir_p(base, 0711, err);
        if (r < 0)
                return berr_wrap(err, "data root");
        if (chmod(base, 0711) < 0 || chown(base, 0, m->root_gid) < 0)
                return berr_sys(err, BERR_INTERNAL, "could not create or set daemon root permissions: %s", base);
        _cleanup_free_ char *sub = NULL;
        if (asprintf(&sub, "%s/%u.%u", base, m->root_uid, m->root_gid) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (mkdir(sub, 0710) < 0 && errno != EEXIST)
                return berr_sys(err, BERR_INTERNAL, "Cannot create daemon root: %s", sub);
        if (chown(sub, 0, m->root_gid) < 0)
                return berr_sys(err, BERR_INTERNAL, "Cannot create daemon root: %s", sub);
        /* Every directory above must let the remapped root through: a container's start
         * would fail there later, so fail now, with dockerd's message. */
        _cleanup_free_ char *dir = realpath(sub, NULL);
        if (!dir)
                return berr_sys(err, BERR_INTERNAL, "resolve %s", sub);
        for (char *slash; (slash = strrchr(dir, '/')) && slash != dir;) {
                *slash = '\0';
                struct stat st;
                if (stat(dir, &st) < 0 || !can_traverse(&st, m->root_uid, m->root_gid))
                        return berr_set(err, BERR_INVALID, EACCES,
                                        "a subdirectory in your graphroot path (%s) restricts access to the remapped root "
                                        "uid/gid; please fix by allowing 'o+x' permissions on existing directories",
                                        sub);
        }
        free(d->cfg.data_root);
        d->cfg.data_root = TAKE_PTR(sub);
        return 0;
}

int userns_remap_open(struct daemon *d, struct berr *err) {
        d->remap = NULL;
        if (!d->cfg.userns_remap)
                return 0;
        _cleanup_free_ struct userns_remap *m = calloc(1, sizeof(*m));
        if (!m)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        m->userns_fd = -1;
        int r = parse_remapped_root(d->cfg.userns_remap, m->user, m->group, err);
        if (r < 0)
                return r;
        if (STREQ(m->user, "root")) {
                log_warn("User namespaces: root cannot be remapped with itself; user namespaces are OFF");
                return 0;
        }
        log_info("User namespaces: ID ranges will be mapped to subuid/subgid ranges of: %s", m->user);
        r = load_maps(m, err);
        if (r < 0)
                return r;
        char uid_map[USERNS_MAX_RANGES * 40], gid_map[USERNS_MAX_RANGES * 40];
        map_text(m->uids, m->n_uids, uid_map, sizeof(uid_map));
        map_text(m->gids, m->n_gids, gid_map, sizeof(gid_map));
        r = rt_userns_new(uid_map, gid_map, &m->userns_fd, err);
        if (r < 0)
                return berr_wrap(err, "user namespace of --userns-remap %s", d->cfg.userns_remap);
        r = setup_data_root(d, m, err);
        if (r < 0) {
                (void) close(m->userns_fd);
                return r;
        }
        d->remap = TAKE_PTR(m);
        return 0;
}

void userns_remap_close(struct daemon *d) {
        if (!d->remap)
                return;
        if (d->remap->userns_fd >= 0)
                (void) close(d->remap->userns_fd);
        free(d->remap);
        d->remap = NULL;
}

int userns_to_host(void *map_data, uint32_t id, bool is_gid, uint32_t *ret, struct berr *err) {
        const struct userns_remap *m = map_data;
        const struct spec_idmap *r = is_gid ? m->gids : m->uids;
        size_t n = is_gid ? m->n_gids : m->n_uids;
        for (size_t i = 0; i < n; i++)
                if (id >= r[i].container_id && id - r[i].container_id < r[i].size) {
                        *ret = r[i].host_id + (id - r[i].container_id);
                        return 0;
                }
        return berr_set(err, BERR_INVALID, ERANGE, "Container ID %u cannot be mapped to a host ID", id);
}

uint32_t userns_to_container(const struct userns_remap *m, uint32_t id, bool is_gid) {
        const struct spec_idmap *r = is_gid ? m->gids : m->uids;
        size_t n = is_gid ? m->n_gids : m->n_uids;
        for (size_t i = 0; i < n; i++)
                if (id >= r[i].host_id && id - r[i].host_id < r[i].size)
                        return r[i].container_id + (id - r[i].host_id);
        return id;
}

int userns_chown(const struct daemon *d, int dirfd, const char *path, bool to_root, struct berr *err) {
        if (!d->remap)
                return 0;
        uid_t uid = to_root ? d->remap->root_uid : 0;
        if (fchownat(dirfd, path, uid, d->remap->root_gid, AT_SYMLINK_NOFOLLOW | (path[0] ? 0 : AT_EMPTY_PATH)) < 0)
                return berr_sys(err, BERR_INTERNAL, "chown %s to the remapped root", path[0] ? path : "directory");
        return 0;
}
