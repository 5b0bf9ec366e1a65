/* process.c - the process-level parts of an OCI "process": stdio and the controlling
 * terminal, closing inherited fds, rlimits, oom_score_adj, user and groups, umask, the
 * working directory (refused when it is not under the root: CVE-2024-21626), and Go's
 * exec.LookPath with Docker's error wording. Runs in the container's first process
 * (or an exec'd one) between fork and execve. */
#include "runtime_int.h"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"

int rt_proc_setup_stdio(const struct rt_stdio *io, struct berr *err) {
        /* A console of the container's own comes later (rt_proc_setup_console): what the
         * caller gave until then (/dev/null: opened by the caller for an exec, as the
         * container's own could be anything). */
        bool own_console = io->terminal && io->console_in_container;
        int src[3] = { io->in, io->out, io->err };
        int tmp[3] = { -1, -1, -1 };
        /* Move everything above 2 first, so that e.g. in=1 out=0 cannot clobber each other. */
        for (int i = 0; i < 3; i++) {
                if (src[i] >= 0)
                        tmp[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3);
                else
                        tmp[i] = open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
                if (tmp[i] < 0)
                        return berr_sys(err, BERR_INTERNAL, "set up stdio fd %d", i);
        }
        for (int i = 0; i < 3; i++) {
                if (dup2(tmp[i], i) < 0)
                        return berr_sys(err, BERR_INTERNAL, "dup2 stdio fd %d", i);
                (void) close(tmp[i]);
        }
        if (setsid() < 0)
                return berr_sys(err, BERR_INTERNAL, "setsid");
        if (io->terminal && !own_console && ioctl(0, TIOCSCTTY, 0) < 0)
                return berr_sys(err, BERR_INTERNAL, "make the terminal the controlling terminal");
        return 0;
}

int rt_proc_setup_console(int *ret_master, struct berr *err) {
        _cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return berr_sys(err, BERR_INTERNAL, "open /dev/ptmx");
        if (unlockpt(master) < 0)
                return berr_sys(err, BERR_INTERNAL, "unlock the pty");
        unsigned n = 0;
        if (ioctl(master, TIOCGPTN, &n) < 0)
                return berr_sys(err, BERR_INTERNAL, "number of the pty");
        char slave_path[64];
        snprintf(slave_path, sizeof(slave_path), "/dev/pts/%u", n);
        /* The peer of this very master, whatever /dev/pts holds (no path lookup). */
        _cleanup_close_ int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", slave_path);
        /* /dev/console: an empty file to bind the slave over (an image's own node is
         * mounted over as well, never opened). */
        int f = open("/dev/console", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0000);
        if (f < 0 && errno != EEXIST)
                return berr_sys(err, BERR_INTERNAL, "create /dev/console");
        if (f >= 0)
                (void) close(f);
        if (mount(slave_path, "/dev/console", NULL, MS_BIND, NULL) < 0)
                return berr_sys(err, BERR_INTERNAL, "mount %s to /dev/console", slave_path);
        for (int i = 0; i < 3; i++)
                if (dup2(slave, i) < 0)
                        return berr_sys(err, BERR_INTERNAL, "dup2 stdio fd %d", i);
        if (ioctl(0, TIOCSCTTY, 0) < 0)
                return berr_sys(err, BERR_INTERNAL, "make the terminal the controlling terminal");
        *ret_master = TAKE_FD(master);
        return 0;
}

int rt_proc_exec_console(int *ret_master, struct berr *err) {
        /* The container's own devpts instance, never a path it could have turned into
         * something else: a character device 5:2 or nothing. */
        _cleanup_close_ int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (master < 0)
                return berr_sys(err, BERR_INTERNAL, "open /dev/pts/ptmx");
        struct stat st;
        if (fstat(master, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 2)
                return berr_set(err, BERR_INTERNAL, EINVAL, "/dev/pts/ptmx in the container is not a pty multiplexer");
        int fl = fcntl(master, F_GETFL);
        if (fl < 0 || fcntl(master, F_SETFL, fl & ~O_NONBLOCK) < 0 || unlockpt(master) < 0)
                return berr_sys(err, BERR_INTERNAL, "unlock the pty");
        _cleanup_close_ int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return berr_sys(err, BERR_INTERNAL, "open the pty's peer");
        for (int i = 0; i < 3; i++)
                if (dup2(slave, i) < 0)
                        return berr_sys(err, BERR_INTERNAL, "dup2 stdio fd %d", i);
        if (ioctl(0, TIOCSCTTY, 0) < 0)
                return berr_sys(err, BERR_INTERNAL, "make the terminal the controlling terminal");
        *ret_master = TAKE_FD(master);
        return 0;
}

int rt_proc_close_fds(int keep, struct berr *err) {
        int r = 0;
        if (keep > 3)
                r = close_range(3, (unsigned) keep - 1, 0);
        if (r == 0 && keep >= 3)
                r = close_range((unsigned) keep + 1, ~0U, 0);
        else if (r == 0)
                r = close_range(3, ~0U, 0);
        if (r < 0)
                return berr_sys(err, BERR_INTERNAL, "close inherited file descriptors");
        return 0;
}

static const struct {
        const char *name;
        int resource;
} rlimits[] = {
        { "RLIMIT_AS", RLIMIT_AS },           { "RLIMIT_CORE", RLIMIT_CORE },
        { "RLIMIT_CPU", RLIMIT_CPU },         { "RLIMIT_DATA", RLIMIT_DATA },
        { "RLIMIT_FSIZE", RLIMIT_FSIZE },     { "RLIMIT_LOCKS", RLIMIT_LOCKS },
        { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
        { "RLIMIT_NICE", RLIMIT_NICE },       { "RLIMIT_NOFILE", RLIMIT_NOFILE },
        { "RLIMIT_NPROC", RLIMIT_NPROC },     { "RLIMIT_RSS", RLIMIT_RSS },
        { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },   { "RLIMIT_RTTIME", RLIMIT_RTTIME },
        { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING }, { "RLIMIT_STACK", RLIMIT_STACK },
};

int rt_proc_set_rlimits(const json_t *process, struct berr *err) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(process, "rlimits"), i, e) {
                const char *type = json_string_value(json_object_get(e, "type"));
                json_t *hard = json_object_get(e, "hard"), *soft = json_object_get(e, "soft");
                int res = -1;
                for (size_t k = 0; type && k < ELEMENTSOF(rlimits); k++)
                        if (STREQ(rlimits[k].name, type))
                                res = rlimits[k].resource;
                if (res < 0 || !json_is_integer(hard) || !json_is_integer(soft))
                        return berr_set(err, BERR_INVALID, EINVAL, "process.rlimits: bad entry \"%s\"", type ? type : "");
                struct rlimit rl = { (rlim_t) json_integer_value(soft), (rlim_t) json_integer_value(hard) };
                if (setrlimit((__rlimit_resource_t) res, &rl) < 0)
                        return berr_sys(err, BERR_INVALID, "setrlimit %s (soft %llu, hard %llu)", type,
                                        (unsigned long long) rl.rlim_cur, (unsigned long long) rl.rlim_max);
        }
        return 0;
}

int rt_proc_set_oom_score_adj(const json_t *process, struct berr *err) {
        json_t *v = json_object_get(process, "oomScoreAdj");
        if (!json_is_integer(v))
                return 0;
        _cleanup_close_ int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open /proc/self/oom_score_adj");
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%lld", (long long) json_integer_value(v));
        if (write(fd, buf, (size_t) n) != n) {
                /* Rootless under a user manager that raised ours (systemd: 100): lowering it
                 * below what a privileged writer set needs the host's CAP_SYS_RESOURCE.
                 * dockerd writes 0 when nothing was asked: that is no reason to fail. */
                if ((errno == EACCES || errno == EPERM) && json_integer_value(v) == 0 && rt_in_user_namespace())
                        return 0;
                return berr_sys(err, BERR_INTERNAL, "set oom_score_adj to %s", buf);
        }
        return 0;
}

int rt_proc_set_user(const json_t *process, struct berr *err) {
        json_t *user = json_object_get(process, "user");
        uid_t uid = (uid_t) json_integer_value(json_object_get(user, "uid"));
        gid_t gid = (gid_t) json_integer_value(json_object_get(user, "gid"));
        json_t *add = json_object_get(user, "additionalGids");
        size_t n = json_array_size(add);
        if (n > NGROUPS_MAX)
                return berr_set(err, BERR_INVALID, E2BIG, "process.user.additionalGids: too many groups");
        _cleanup_free_ gid_t *groups = calloc(n ? n : 1, sizeof(gid_t));
        if (!groups)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
                groups[i] = (gid_t) json_integer_value(json_array_get(add, i));
        if (setgroups(n, groups) < 0)
                return berr_sys(err, BERR_INTERNAL, "setgroups");
        if (setresgid(gid, gid, gid) < 0)
                return berr_sys(err, BERR_INTERNAL, "setresgid %u", (unsigned) gid);
        /* Keep the permitted set across the uid change; rt_caps_apply sets the final sets. */
        if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0)
                return berr_sys(err, BERR_INTERNAL, "prctl PR_SET_KEEPCAPS");
        if (setresuid(uid, uid, uid) < 0)
                return berr_sys(err, BERR_INTERNAL, "setresuid %u", (unsigned) uid);
        if (prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) < 0)
                return berr_sys(err, BERR_INTERNAL, "prctl PR_SET_KEEPCAPS");
        return 0;
}

#define PASSWD_MAX_BYTES (8u << 20) /* as spec_user.c: a bigger /etc/passwd is not one */

static bool env_has(const json_t *process, const char *name) {
        size_t n = strlen(name), i;
        json_t *e;
        json_array_foreach(json_object_get(process, "env"), i, e) {
                const char *s = json_string_value(e);
                if (s && strncmp(s, name, n) == 0 && s[n] == '=')
                        return true;
        }
        return false;
}

/* The home field of @uid's first entry in @text, or NULL. Modifies @text. */
static const char *passwd_home(char *text, uid_t uid) {
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *f[7] = { NULL };
                char *p = line;
                for (int i = 0; i < 7 && p; i++) {
                        f[i] = p;
                        p = strchr(p, ':');
                        if (p)
                                *p++ = '\0';
                }
                if (!f[2] || !f[5])
                        continue;
                char *end;
                errno = 0;
                unsigned long long u = strtoull(f[2], &end, 10);
                if (!errno && end != f[2] && !*end && u == (unsigned long long) uid)
                        return f[5];
        }
        return NULL;
}

int rt_proc_home_env(const json_t *process, char **ret_entry, struct berr *err) {
        *ret_entry = NULL;
        if (env_has(process, "HOME"))
                return 0;
        uid_t uid = (uid_t) json_integer_value(json_object_get(json_object_get(process, "user"), "uid"));
        _cleanup_free_ char *text = NULL;
        /* The image's file, read after pivot_root: a FIFO must not block us, nor a huge file. */
        _cleanup_close_ int fd = open("/etc/passwd", O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t) st.st_size <= PASSWD_MAX_BYTES) {
                text = malloc((size_t) st.st_size + 1);
                if (!text)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                ssize_t n = read(fd, text, (size_t) st.st_size);
                text[n > 0 ? n : 0] = '\0';
        }
        const char *home = text ? passwd_home(text, uid) : NULL;
        if (asprintf(ret_entry, "HOME=%s", home && home[0] ? home : "/") < 0) {
                *ret_entry = NULL;
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        return 0;
}

int rt_proc_create_cwd(const json_t *process, struct berr *err) {
        const char *cwd = json_string_value(json_object_get(process, "cwd"));
        if (!cwd || !cwd[0] || STREQ(cwd, "/"))
                return 0;
        if (cwd[0] != '/')
                return berr_set(err, BERR_INVALID, EINVAL, "cwd \"%s\" is not an absolute path", cwd);
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return berr_sys(err, BERR_INTERNAL, "open /");
        _cleanup_close_ int fd = -1;
        int r = rt_resolve_in_root(root, cwd, RT_RESOLVE_MKDIR, &fd, NULL, err);
        return r < 0 ? berr_wrap(err, "create the working directory %s", cwd) : 0;
}

int rt_proc_set_umask(const json_t *process, struct berr *err) {
        json_t *v = json_object_get(json_object_get(process, "user"), "umask");
        (void) umask(json_is_integer(v) ? (mode_t) (json_integer_value(v) & 0777) : 0022);
        return 0;
}

int rt_proc_chdir(const json_t *process, struct berr *err) {
        const char *cwd = json_string_value(json_object_get(process, "cwd"));
        if (!cwd || !cwd[0])
                cwd = "/";
        if (cwd[0] != '/')
                return berr_set(err, BERR_INVALID, EINVAL, "cwd \"%s\" is not an absolute path", cwd);
        if (chdir(cwd) < 0)
                return berr_sys(err, BERR_INVALID, "chdir to cwd (\"%s\") set in config.json failed", cwd);
        /* A cwd reached through a leaked fd (/proc/self/fd/N) or a bind out of the root is
         * "unreachable" from our root: glibc's getcwd reports it as ENOENT. */
        char buf[PATH_MAX];
        if (!getcwd(buf, sizeof(buf)) || buf[0] != '/')
                return berr_set(err, BERR_FORBIDDEN, EPERM,
                                "current working directory \"%s\" is outside of the container root", cwd);
        return 0;
}

const char *rt_proc_strerror(int errnum) {
        static __thread char buf[128];
        snprintf(buf, sizeof(buf), "%s", strerror(errnum));
        if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
                buf[0] = (char) (buf[0] - 'A' + 'a');
        return buf;
}

void rt_proc_quote(const char *s, char *buf, size_t size) {
        size_t o = 0;
#define PUT(c)                          \
        do {                            \
                if (o + 1 < size)       \
                        buf[o++] = (c); \
        } while (0)
        PUT('"');
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                static const char hex[] = "0123456789abcdef";
                switch (*p) {
                case '"': PUT('\\'); PUT('"'); break;
                case '\\': PUT('\\'); PUT('\\'); break;
                case '\n': PUT('\\'); PUT('n'); break;
                case '\t': PUT('\\'); PUT('t'); break;
                case '\r': PUT('\\'); PUT('r'); break;
                default:
                        if (*p < 0x20 || *p == 0x7f) {
                                PUT('\\'); PUT('x'); PUT(hex[*p >> 4]); PUT(hex[*p & 15]);
                        } else
                                PUT((char) *p);
                }
        }
        PUT('"');
#undef PUT
        buf[o < size ? o : size - 1] = '\0';
}

/* Go's findExecutable before 1.21 (what Docker's wording comes from): a directory or a
 * file without an x bit is "permission denied". */
static int find_executable(const char *file) {
        struct stat st;
        if (stat(file, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode) && (st.st_mode & 0111))
                return 0;
        return -EACCES;
}

int rt_proc_lookpath(const char *file, char *const *env, char **ret_path, struct berr *err) {
        char q[PATH_MAX + 16];
        rt_proc_quote(file, q, sizeof(q));
        if (strchr(file, '/')) {
                int r = find_executable(file);
                if (r == -EACCES)
                        return berr_set(err, BERR_INVALID, EACCES, "exec: %s: permission denied", q);
                if (r < 0)
                        return berr_set(err, r == -ENOENT ? BERR_NOT_FOUND : BERR_INVALID, -r, "exec: %s: stat %s: %s", q,
                                        file, rt_proc_strerror(-r));
                *ret_path = strdup(file);
                return *ret_path ? 0 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        const char *path = "";
        for (char *const *e = env; e && *e; e++)
                if (strncmp(*e, "PATH=", 5) == 0)
                        path = *e + 5;
        if (file[0] && path[0]) {
                for (const char *p = path;;) {
                        const char *end = strchr(p, ':');
                        size_t n = end ? (size_t) (end - p) : strlen(p);
                        _cleanup_free_ char *cand = NULL;
                        /* An empty element means the current directory, as in Go. */
                        if (asprintf(&cand, "%.*s/%s", n ? (int) n : 1, n ? p : ".", file) < 0)
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        if (find_executable(cand) == 0) {
                                *ret_path = TAKE_PTR(cand);
                                return 0;
                        }
                        if (!end)
                                break;
                        p = end + 1;
                }
        }
        return berr_set(err, BERR_NOT_FOUND, ENOENT, "exec: %s: executable file not found in $PATH", q);
}
