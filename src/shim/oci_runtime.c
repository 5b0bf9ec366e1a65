/* oci_runtime.c - berth-shim driving an external OCI runtime through its command line
 * (oci_runtime.h), and the shim's one entry to "the runtime" whichever it is (shim.h:
 * shim_rt_*), so main.c, io.c and exec.c do not care which one runs the container. */
#include "oci_runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/trace.h"
#include "runtime/caps.h"
#include "runtime/runtime.h"
#include "shim.h"

extern char **environ;

/* A runtime command that hangs must not hold the shim (and so its container's every
 * request) for ever. runc answers in tens of milliseconds. */
#define RT_CMD_TIMEOUT_MS 60000
#define CONSOLE_WAIT_MS 5000
#define CONSOLE_NAME "console.sock"
#define PID_NAME "runtime.pid"
#define LOCK_WAIT_MS RT_CMD_TIMEOUT_MS

struct oci_rt *oci_rt_free(struct oci_rt *rt) {
        if (!rt)
                return NULL;
        free(rt->name);
        free(rt->path);
        free(rt->root);
        free(rt->id);
        free(rt->bundle);
        free(rt->log_path);
        free(rt->cgroups_path);
        strv_free(rt->args);
        if (rt->pidfd >= 0)
                close(rt->pidfd);
        if (rt->console >= 0)
                close(rt->console);
        free(rt);
        return NULL;
}

int oci_rt_parse(const json_t *o, const char *id, const char *bundle, int bundle_fd, struct oci_rt **ret,
                 struct berr *err) {
        /* berthd's own sd_notify socket (a systemd Type=notify service), inherited: runc
         * would take it for the container's, bind a socket in its state directory (which
         * fails on a long path) and make its start wait for the container's READY=1. */
        (void) unsetenv("NOTIFY_SOCKET");
        if (!json_is_object(o))
                return berr_set(err, BERR_INVALID, EINVAL, "shim.json: \"runtime\" is not an object");
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *path = json_string_value(json_object_get(o, "path"));
        const char *root = json_string_value(json_object_get(o, "root"));
        if (!name || !*name || !path || path[0] != '/' || !root || root[0] != '/')
                return berr_set(err, BERR_INVALID, EINVAL,
                                "shim.json: a runtime needs a name, an absolute path and an absolute root");
        if (!id || !*id || !bundle || bundle[0] != '/')
                return berr_set(err, BERR_INVALID, EINVAL, "an external runtime needs an ID and an absolute bundle path");
        json_t *args = json_object_get(o, "args");
        if (args && !json_is_array(args))
                return berr_set(err, BERR_INVALID, EINVAL, "shim.json: runtime args must be an array of strings");
        size_t n = json_array_size(args);
        if (n > OCI_RT_MAX_ARGS)
                return berr_set(err, BERR_INVALID, E2BIG, "runtime %s: more than %d runtimeArgs", name, OCI_RT_MAX_ARGS);
        struct oci_rt *rt = calloc(1, sizeof(*rt));
        if (!rt)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        rt->pidfd = rt->console = -1;
        rt->bundle_fd = bundle_fd;
        rt->args = calloc(n + 1, sizeof(char *));
        bool ok = rt->args && (rt->name = strdup(name)) && (rt->path = strdup(path)) && (rt->root = strdup(root)) &&
                  (rt->id = strdup(id)) && (rt->bundle = strdup(bundle)) &&
                  asprintf(&rt->log_path, "%s/%s", bundle, OCI_RT_LOG_NAME) >= 0;
        if (!ok) {
                rt->log_path = NULL; /* asprintf leaves it undefined on failure */
                oci_rt_free(rt);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
                const char *a = json_string_value(json_array_get(args, i));
                if (!a || !(rt->args[i] = strdup(a))) {
                        oci_rt_free(rt);
                        return a ? berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory")
                                 : berr_set(err, BERR_INVALID, EINVAL, "shim.json: runtime args must be strings");
                }
                rt->n_args++;
        }
        *ret = rt;
        return 0;
}

int oci_rt_argv(const struct oci_rt *rt, const char *const *cmd, char ***ret, struct berr *err) {
        size_t n_cmd = 0;
        while (cmd[n_cmd])
                n_cmd++;
        char **v = calloc(1 + rt->n_args + 6 + n_cmd + 1, sizeof(char *));
        if (!v)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t k = 0;
        v[k++] = rt->path;
        for (size_t i = 0; i < rt->n_args; i++)
                v[k++] = rt->args[i];
        /* Global options before the command, as runc, crun and runsc take them. */
        v[k++] = (char *) "--root";
        v[k++] = rt->root;
        v[k++] = (char *) "--log";
        v[k++] = rt->log_path;
        v[k++] = (char *) "--log-format";
        v[k++] = (char *) "json";
        for (size_t i = 0; i < n_cmd; i++)
                v[k++] = (char *) cmd[i];
        v[k] = NULL;
        *ret = v;
        return 0;
}

bool oci_rt_log_error(const char *text, size_t len, char *buf, size_t size) {
        bool found = false;
        const char *p = text, *end = text + len;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t l = nl ? (size_t) (nl - p) : (size_t) (end - p);
                json_error_t je;
                json_t *o = l ? json_loadb(p, l, 0, &je) : NULL;
                const char *level = json_string_value(json_object_get(o, "level"));
                const char *msg = json_string_value(json_object_get(o, "msg"));
                if (level && msg && *msg && (STREQ(level, "error") || STREQ(level, "fatal"))) {
                        snprintf(buf, size, "%s", msg);
                        found = true;
                }
                json_decref(o);
                p += l + 1;
        }
        return found;
}

int oci_rt_errno_of(const char *msg) {
        /* The order matters: "executable file not found" is the most precise. */
        static const struct {
                const char *text;
                int errnum;
        } causes[] = {
                { "executable file not found", ENOENT }, { "no such file or directory", ENOENT },
                { "permission denied", EACCES },         { "is a directory", EISDIR },
                { "not a directory", ENOTDIR },          { "container not running", ESRCH },
                { "process already finished", ESRCH },   { "container does not exist", ESRCH },
        };
        for (size_t i = 0; i < ELEMENTSOF(causes); i++)
                if (strcasestr(msg, causes[i].text))
                        return causes[i].errnum;
        return EIO;
}

const char *oci_rt_strip_prefixes(const char *msg) {
        static const char *const prefixes[] = { "runc create failed: ", "runc exec failed: ", "exec failed: ",
                                                "unable to start container process: " };
        for (bool again = true; again;) {
                again = false;
                for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                        if (strncmp(msg, prefixes[i], strlen(prefixes[i])) == 0) {
                                msg += strlen(prefixes[i]);
                                again = true;
                        }
        }
        return msg;
}

/* Capabilities outside this process's bounding set (a host without CAP_SYS_RESOURCE, say)
 * cannot be given; the built-in runtime leaves them out, runc fails "unable to apply caps".
 * So they go from @process before the runtime sees it (--privileged lists them all).
 * Returns true when something was removed. */
static bool drop_unheld_caps(json_t *process) {
        static const char *const sets[] = { "bounding", "effective", "permitted", "inheritable", "ambient" };
        json_t *caps = json_object_get(process, "capabilities");
        bool changed = false;
        for (size_t k = 0; json_is_object(caps) && k < ELEMENTSOF(sets); k++) {
                json_t *list = json_object_get(caps, sets[k]);
                for (size_t i = json_array_size(list); i-- > 0;) {
                        int cap = caps_from_name(json_string_value(json_array_get(list, i)) ?: "");
                        if (cap >= 0 && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) {
                                json_array_remove(list, i);
                                changed = true;
                        }
                }
        }
        return changed;
}

/* Run the runtime with @cmd; @fds become its stdin, stdout, stderr (-1: /dev/null). 0 when
 * it exited 0, else the error it logged (or how it ended). */
static int run(struct oci_rt *rt, const char *const *cmd, const int fds[3], struct berr *err) {
        _cleanup_free_ char **argv = NULL;
        int r = oci_rt_argv(rt, cmd, &argv, err);
        if (r < 0)
                return r;
        (void) unlinkat(rt->bundle_fd, OCI_RT_LOG_NAME, 0); /* this command's errors only */
        int moved[3] = { -1, -1, -1 };
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        for (int i = 0; i < 3; i++) {
                int fd = fds[i];
                if (fd >= 0 && fd < 3) { /* dup2 onto a lower target would clobber it */
                        fd = moved[i] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                        if (fd < 0)
                                r = berr_sys(err, BERR_INTERNAL, "dup");
                }
                if (fd < 0)
                        posix_spawn_file_actions_addopen(&fa, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
                else
                        posix_spawn_file_actions_adddup2(&fa, fd, i);
        }
        /* The shim ignores SIGPIPE; the runtime and the process it starts must not inherit that. */
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        pid_t pid = 0;
        trace_mark("shim %s %s: spawn", rt->name, cmd[0]);
        if (r == 0) {
                int e = posix_spawn(&pid, rt->path, &fa, &attr, argv, environ);
                if (e != 0) {
                        errno = e;
                        r = berr_sys(err, BERR_INTERNAL, "run %s", rt->path);
                }
        }
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        for (int i = 0; i < 3; i++)
                if (moved[i] >= 0)
                        close(moved[i]);
        if (r < 0)
                return r;
        bool timed_out = false;
        int pfd = pidfd_open(pid, 0);
        if (pfd >= 0) {
                struct pollfd p = { .fd = pfd, .events = POLLIN };
                int n;
                do
                        n = poll(&p, 1, RT_CMD_TIMEOUT_MS);
                while (n < 0 && errno == EINTR);
                if (n == 0) {
                        (void) kill(pid, SIGKILL);
                        timed_out = true;
                }
                close(pfd);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        trace_mark("shim %s %s: exited", rt->name, cmd[0]);
        if (timed_out)
                return berr_set(err, BERR_INTERNAL, ETIMEDOUT, "%s %s: no answer in %d seconds", rt->name, cmd[0],
                                RT_CMD_TIMEOUT_MS / 1000);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        char msg[BERR_MSG_MAX];
        _cleanup_free_ char *log = NULL;
        size_t len = 0;
        if (fs_read_file(rt->bundle_fd, OCI_RT_LOG_NAME, 1 << 20, &log, &len, NULL) < 0 ||
            !oci_rt_log_error(log, len, msg, sizeof(msg))) {
                if (WIFEXITED(status))
                        snprintf(msg, sizeof(msg), "%s %s: exit status %d", rt->name, cmd[0], WEXITSTATUS(status));
                else
                        snprintf(msg, sizeof(msg), "%s %s: killed by signal %d", rt->name, cmd[0], WTERMSIG(status));
        }
        int e = oci_rt_errno_of(msg);
        return berr_set(err, e == ESRCH ? BERR_CONFLICT : BERR_INTERNAL, e, "%s", msg);
}

/* A socket in the bundle the runtime connects to, to hand over a pty master; *path is
 * the name it gets (through /proc: the bundle's own path can pass sun_path's 108 bytes). */
static int console_listen(struct oci_rt *rt, const char *name, char *path, size_t size, struct berr *err) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", rt->bundle_fd, name);
        (void) unlinkat(rt->bundle_fd, name, 0);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "socket");
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 1) < 0)
                return berr_sys(err, BERR_INTERNAL, "listen on %s", name);
        (void) fchmodat(rt->bundle_fd, name, 0600, 0);
        snprintf(path, size, "/proc/%d/fd/%d/%s", (int) getpid(), rt->bundle_fd, name);
        return TAKE_FD(fd);
}

/* The runtime has exited: the master it sent waits in the socket's queue. */
static int console_receive(int lfd, int *ret, struct berr *err) {
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        if (poll(&p, 1, CONSOLE_WAIT_MS) <= 0)
                return berr_set(err, BERR_INTERNAL, EBADMSG, "the runtime sent no console");
        _cleanup_close_ int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
                return berr_sys(err, BERR_INTERNAL, "accept the console");
        p.fd = c;
        if (poll(&p, 1, CONSOLE_WAIT_MS) <= 0)
                return berr_set(err, BERR_INTERNAL, EBADMSG, "the runtime sent no console");
        char name[4096];
        struct iovec iov = { .iov_base = name, .iov_len = sizeof(name) };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } cm;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
        ssize_t n;
        do
                n = recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        int fd = -1;
        if (n > 0)
                for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h))
                        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS && h->cmsg_len >= CMSG_LEN(sizeof(int)))
                                memcpy(&fd, CMSG_DATA(h), sizeof(int));
        if (fd < 0)
                return berr_set(err, BERR_INTERNAL, EBADMSG, "the runtime sent no console");
        *ret = fd;
        return 0;
}

static int read_pid(struct oci_rt *rt, const char *name, pid_t *ret, struct berr *err) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = fs_read_file(rt->bundle_fd, name, 64, &text, &len, err);
        if (r < 0)
                return berr_wrap(err, "%s: the runtime's pid file", rt->name);
        char *end;
        long v = strtol(text, &end, 10);
        if (end == text || v <= 1 || v > 1 << 30)
                return berr_set(err, BERR_INTERNAL, EBADMSG, "%s: bad pid file: %s", rt->name, text);
        *ret = (pid_t) v;
        return 0;
}

static void delete_force(struct oci_rt *rt) {
        const char *cmd[] = { "delete", "--force", rt->id, NULL };
        const int fds[3] = { -1, -1, -1 };
        struct berr e = { 0 };
        (void) run(rt, cmd, fds, &e); /* nothing of it left is the goal; "does not exist" is fine */
}

/* The bundle's runtime lock (protocol.h), taken with @op (LOCK_EX, maybe | LOCK_NB);
 * -1 when it cannot be had. */
static int lock_bundle(struct oci_rt *rt, int op) {
        int fd = openat(rt->bundle_fd, SHIM_RUNTIME_LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -1;
        int r;
        do
                r = flock(fd, op);
        while (r < 0 && errno == EINTR);
        if (r < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* The deferred delete of the run before (oci_rt_delete_detached) must be over before
 * this ID is created again: it would delete the new container. It is ~10 ms of a Go
 * binary; one that hangs is not waited for beyond a runtime command's timeout. */
static int wait_deferred_delete(struct oci_rt *rt) {
        for (int waited = 0;; waited += 2) {
                int fd = lock_bundle(rt, LOCK_EX | LOCK_NB);
                if (fd >= 0 || errno != EWOULDBLOCK || waited >= LOCK_WAIT_MS)
                        return fd;
                struct timespec ts = { .tv_nsec = 2 * 1000 * 1000 };
                (void) nanosleep(&ts, NULL);
        }
}

void oci_rt_delete_detached(struct oci_rt *rt) {
        /* Locked before berthd can see the exit: the lock is held by then. */
        int lk = lock_bundle(rt, LOCK_EX | LOCK_NB);
        char **argv = NULL;
        const char *cmd[] = { "delete", "--force", rt->id, NULL };
        char *log = rt->log_path;
        rt->log_path = (char *) "/dev/null"; /* the bundle may be gone (--rm) when it runs */
        struct berr e = { 0 };
        int r = lk >= 0 ? oci_rt_argv(rt, cmd, &argv, &e) : -1;
        rt->log_path = log;
        if (r == 0) {
                /* The shim ends here: every descriptor but the lock goes now (watch
                 * connections, the sync socket, shim.sock), so berthd has the exit while
                 * the runtime is being spawned, not after. */
                if (lk > 3)
                        (void) close_range(3, (unsigned) lk - 1, 0);
                (void) close_range((unsigned) lk + 1, ~0U, 0);
                rt->bundle_fd = -1;
                trace_reopen();
                (void) fcntl(lk, F_SETFD, 0); /* the runtime gets it as fd 3, and nothing else */
                posix_spawn_file_actions_t fa;
                posix_spawn_file_actions_init(&fa);
                for (int i = 0; i < 3; i++)
                        posix_spawn_file_actions_addopen(&fa, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
                if (lk != 3)
                        posix_spawn_file_actions_adddup2(&fa, lk, 3);
                posix_spawn_file_actions_addclosefrom_np(&fa, 4);
                posix_spawnattr_t attr;
                posix_spawnattr_init(&attr);
                sigset_t none, all;
                sigemptyset(&none);
                sigfillset(&all);
                posix_spawnattr_setsigmask(&attr, &none);
                posix_spawnattr_setsigdefault(&attr, &all);
                posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
                pid_t pid;
                trace_mark("shim %s delete (deferred): spawn", rt->name);
                /* This shim exits without waiting: the runtime's parent is then the
                 * subreaper above (or init). */
                r = posix_spawn(&pid, rt->path, &fa, &attr, argv, environ) == 0 ? 0 : -1;
                posix_spawn_file_actions_destroy(&fa);
                posix_spawnattr_destroy(&attr);
        }
        free(argv);
        if (lk >= 0)
                close(lk); /* the runtime's copy holds it */
        if (r < 0)
                (void) oci_rt_delete(rt, NULL);
}

int oci_rt_create(struct oci_rt *rt, const json_t *spec, const struct rt_stdio *io, struct berr *err) {
        /* Waited for, not held: no other delete of this ID comes before this run's exit,
         * and berthd's remove must not take a create for a delete under way. */
        int lk = wait_deferred_delete(rt);
        if (lk < 0 && errno == EWOULDBLOCK) /* the delete would kill the new container */
                return berr_set(err, BERR_INTERNAL, EBUSY, "%s: the delete of the container's last run is still "
                                "running", rt->name);
        if (lk >= 0)
                close(lk);
        /* The bundle's config.json as the runtime must read it. */
        _cleanup_json_ json_t *copy = json_deep_copy(spec);
        if (!copy)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        bool changed = drop_unheld_caps(json_object_get(copy, "process"));
        /* berth takes cgroupsPath from the hierarchies' roots (--cgroup-parent "foo" too);
         * runc would put a relative one under its own cgroup, where berthd reads no stats. */
        json_t *lnx = json_object_get(copy, "linux");
        const char *cg = json_string_value(json_object_get(lnx, "cgroupsPath"));
        if (cg && cg[0] != '/') {
                char *abs = NULL;
                if (asprintf(&abs, "/%s", cg) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                int sr = json_object_set_new(lnx, "cgroupsPath", json_string(abs));
                free(abs);
                if (sr < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                cg = json_string_value(json_object_get(lnx, "cgroupsPath"));
                changed = true;
        }
        if (cg && !(rt->cgroups_path = strdup(cg)))
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (changed) { /* replaced, not fsync'd: the run root's bundle, remade by every start (fs.h) */
                _cleanup_free_ char *text = json_dump_compact(copy);
                int r = text ? fs_write_replace(rt->bundle_fd, "config.json", text, strlen(text), 0644, err)
                             : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                if (r < 0)
                        return r;
        }
        /* State kept from a run whose shim was killed: the ID could not be created again. */
        char state[4200];
        if (fs_path_fmt(state, sizeof(state), "%s/%s", rt->root, rt->id) == 0 && access(state, F_OK) == 0)
                delete_force(rt);
        bool tty = io->terminal;
        char sock[128], pidfile[4200];
        _cleanup_close_ int lfd = -1;
        if (tty && (lfd = console_listen(rt, CONSOLE_NAME, sock, sizeof(sock), err)) < 0)
                return lfd;
        if (fs_path_fmt(pidfile, sizeof(pidfile), "%s/%s", rt->bundle, PID_NAME) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s: path too long", rt->bundle);
        (void) unlinkat(rt->bundle_fd, PID_NAME, 0);
        const char *cmd[10];
        size_t k = 0;
        cmd[k++] = "create";
        cmd[k++] = "--bundle";
        cmd[k++] = rt->bundle;
        cmd[k++] = "--pid-file";
        cmd[k++] = pidfile;
        if (tty) {
                cmd[k++] = "--console-socket";
                cmd[k++] = sock;
        }
        cmd[k++] = rt->id;
        cmd[k] = NULL;
        /* Without a TTY the runtime passes its stdio through to the container's init. */
        const int fds[3] = { tty ? -1 : io->in, tty ? -1 : io->out, tty ? -1 : io->err };
        int r = run(rt, cmd, fds, err);
        if (r < 0) {
                (void) unlinkat(rt->bundle_fd, CONSOLE_NAME, 0);
                delete_force(rt);
                /* dockerd's words: the runtime's message, then containerd's "unknown" code. */
                char msg[BERR_MSG_MAX];
                snprintf(msg, sizeof(msg), "%s", err->msg);
                return berr_set(err, err->kind, err->errnum, "OCI runtime create failed: %s: unknown", msg);
        }
        pid_t pid = 0;
        r = read_pid(rt, PID_NAME, &pid, err);
        if (r == 0 && (rt->pidfd = pidfd_open(pid, 0)) < 0)
                r = berr_sys(err, BERR_INTERNAL, "pidfd_open %d", (int) pid);
        if (r == 0 && tty)
                r = console_receive(lfd, &rt->console, err);
        (void) unlinkat(rt->bundle_fd, CONSOLE_NAME, 0);
        if (r < 0) {
                delete_force(rt);
                if (pid > 0)
                        while (waitpid(pid, NULL, WNOHANG) < 0 && errno == EINTR)
                                ;
                return r;
        }
        rt->pid = pid;
        return 0;
}

/* runc's `start` of a created container is the read of its state's exec.fifo: the init
 * waits writing it, and execs once read; then the FIFO goes, which is what makes runc
 * call the container running from then on (runc's libcontainer: exec(), runType()).
 * Doing that here saves the start of a Go binary (~10 ms). runc only (the file is its
 * layout; runc start's one other task, the NOTIFY_SOCKET relay, never applies: the shim
 * drops that variable). 1: started; 0: not runc's layout, `start` it is; <0: the init
 * is gone. */
static int start_by_fifo(struct oci_rt *rt, struct berr *err) {
        const char *base = strrchr(rt->path, '/');
        if (!STREQ(base ? base + 1 : rt->path, "runc") || rt->pidfd < 0)
                return 0;
        char path[4200];
        struct stat st;
        if (fs_path_fmt(path, sizeof(path), "%s/%s/exec.fifo", rt->root, rt->id) < 0 || lstat(path, &st) < 0 ||
            !S_ISFIFO(st.st_mode))
                return 0;
        /* Non-blocking: an init that died before writing must not hold the shim. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return 0;
        struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = rt->pidfd, .events = POLLIN } };
        char c;
        ssize_t n = -1;
        for (;;) {
                n = read(fd, &c, 1);
                if (n > 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                        break;
                /* 0 (no writer yet, or the writer closed) or EAGAIN: wait for the byte, or
                 * the init's end. */
                if (n == 0 && (p[1].revents & POLLIN))
                        break;
                int k = poll(p, 2, RT_CMD_TIMEOUT_MS);
                if (k == 0)
                        return berr_set(err, BERR_INTERNAL, ETIMEDOUT, "%s start: no answer in %d seconds", rt->name,
                                        RT_CMD_TIMEOUT_MS / 1000);
                if (k < 0 && errno != EINTR)
                        return berr_sys(err, BERR_INTERNAL, "poll");
                if (n == 0 && !(p[0].revents & POLLIN) && !(p[1].revents & POLLIN)) {
                        /* POLLHUP with no writer since the open: wait on the init alone. */
                        struct pollfd q = { .fd = rt->pidfd, .events = POLLIN };
                        struct timespec ts = { .tv_nsec = 1000 * 1000 };
                        if (poll(&q, 1, 0) == 0)
                                (void) nanosleep(&ts, NULL);
                }
        }
        if (n != 1)
                return berr_set(err, BERR_CONFLICT, ESRCH, "container process is already dead");
        (void) unlink(path);
        trace_mark("shim %s start: exec.fifo read", rt->name);
        return 1;
}

int oci_rt_start(struct oci_rt *rt, struct berr *err) {
        if (rt->started)
                return berr_set(err, BERR_CONFLICT, EALREADY, "container %s already started", rt->id);
        rt->started = true;
        int f = start_by_fifo(rt, err);
        if (f != 0)
                return f < 0 ? f : 0;
        const char *cmd[] = { "start", rt->id, NULL };
        const int fds[3] = { -1, -1, -1 };
        return run(rt, cmd, fds, err);
}

int oci_rt_kill(struct oci_rt *rt, int sig, bool all, struct berr *err) {
        char signum[16];
        snprintf(signum, sizeof(signum), "%d", sig);
        const char *cmd[] = { "kill", all ? "--all" : rt->id, all ? rt->id : signum, all ? signum : NULL, NULL };
        const int fds[3] = { -1, -1, -1 };
        struct berr e = { 0 };
        int r = run(rt, cmd, fds, &e);
        /* "container not running": the init has exited and its exit is on its way to berthd,
         * as a signal to the built-in runtime's not yet reaped init succeeds (docker stop
         * racing the container's own end must not fail). */
        if (r < 0 && e.errnum == ESRCH && rt->pid > 0 &&
            (strcasestr(e.msg, "not running") || strcasestr(e.msg, "already finished")))
                return 0;
        if (r < 0 && err)
                *err = e;
        return r;
}

int oci_rt_pause(struct oci_rt *rt, bool pause, struct berr *err) {
        const char *cmd[] = { pause ? "pause" : "resume", rt->id, NULL };
        const int fds[3] = { -1, -1, -1 };
        return run(rt, cmd, fds, err);
}

int oci_rt_exec(struct oci_rt *rt, const char *exec_id, const json_t *process, const struct rt_stdio *io,
                unsigned rows, unsigned cols, pid_t *ret_pid, int *ret_pidfd, int *ret_console, struct berr *err) {
        bool tty = io->terminal;
        if (tty && !ret_console)
                return berr_set(err, BERR_INVALID, EINVAL, "exec: a console needs somewhere to go");
        if (ret_console)
                *ret_console = -1;
        char pname[128], pidname[128], ppath[4200], pidpath[4200], sock[128];
        snprintf(pname, sizeof(pname), "runtime-exec-%.64s.json", exec_id);
        snprintf(pidname, sizeof(pidname), "runtime-exec-%.64s.pid", exec_id);
        if (fs_path_fmt(ppath, sizeof(ppath), "%s/%s", rt->bundle, pname) < 0 ||
            fs_path_fmt(pidpath, sizeof(pidpath), "%s/%s", rt->bundle, pidname) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s: path too long", rt->bundle);
        /* The runtime reads the whole process from the file: the terminal flag must say what
         * the shim expects (a console on the socket, or our pipes). */
        _cleanup_json_ json_t *p = json_deep_copy(process);
        _cleanup_free_ char *text = NULL;
        if (p)
                (void) drop_unheld_caps(p);
        /* The runtime sizes the pty before the process runs (the shim would be too late). */
        if (p && tty && rows && cols)
                json_object_set_new(p, "consoleSize", json_pack("{s:i, s:i}", "height", (int) rows, "width", (int) cols));
        if (!p || json_object_set_new(p, "terminal", json_boolean(tty)) < 0 || !(text = json_dump_compact(p)))
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = fs_write_replace(rt->bundle_fd, pname, text, strlen(text), 0600, err);
        if (r < 0)
                return r;
        (void) unlinkat(rt->bundle_fd, pidname, 0);
        _cleanup_close_ int lfd = -1;
        if (tty && (lfd = console_listen(rt, "console-exec.sock", sock, sizeof(sock), err)) < 0) {
                (void) unlinkat(rt->bundle_fd, pname, 0);
                return lfd;
        }
        const char *cmd[12];
        size_t k = 0;
        cmd[k++] = "exec";
        cmd[k++] = "--process";
        cmd[k++] = ppath;
        cmd[k++] = "--pid-file";
        cmd[k++] = pidpath;
        cmd[k++] = "--detach";
        if (tty) {
                cmd[k++] = "--console-socket";
                cmd[k++] = sock;
        }
        cmd[k++] = rt->id;
        cmd[k] = NULL;
        const int fds[3] = { tty ? -1 : io->in, tty ? -1 : io->out, tty ? -1 : io->err };
        r = run(rt, cmd, fds, err);
        (void) unlinkat(rt->bundle_fd, pname, 0);
        if (r < 0) {
                (void) unlinkat(rt->bundle_fd, "console-exec.sock", 0);
                char msg[BERR_MSG_MAX];
                snprintf(msg, sizeof(msg), "%s", oci_rt_strip_prefixes(err->msg));
                return berr_set(err, err->kind, err->errnum, "%s", msg);
        }
        pid_t pid = 0;
        int pidfd = -1, master = -1;
        r = read_pid(rt, pidname, &pid, err);
        (void) unlinkat(rt->bundle_fd, pidname, 0);
        /* The runtime has exited without waiting: the process is our child now (subreaper),
         * and nobody else reaps it, so the pid cannot have been reused. */
        if (r == 0 && (pidfd = pidfd_open(pid, 0)) < 0)
                r = berr_sys(err, BERR_INTERNAL, "pidfd_open %d", (int) pid);
        if (r == 0 && tty)
                r = console_receive(lfd, &master, err);
        (void) unlinkat(rt->bundle_fd, "console-exec.sock", 0);
        if (r < 0) {
                if (pidfd >= 0) {
                        (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                        close(pidfd);
                }
                if (pid > 0)
                        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                                ;
                return r;
        }
        *ret_pid = pid;
        *ret_pidfd = pidfd;
        if (ret_console)
                *ret_console = master;
        return 0;
}

int oci_rt_update(struct oci_rt *rt, const char *name, struct berr *err) {
        char path[4200];
        if (fs_path_fmt(path, sizeof(path), "%s/%s", rt->bundle, name) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s: path too long", rt->bundle);
        const char *cmd[] = { "update", "--resources", path, rt->id, NULL };
        const int fds[3] = { -1, -1, -1 };
        return run(rt, cmd, fds, err);
}

bool oci_rt_oom_killed(struct oci_rt *rt) {
        return rt->cgroups_path && rt_cgroup_path_oom_killed("/sys/fs/cgroup", rt->cgroups_path);
}

int oci_rt_delete(struct oci_rt *rt, struct berr *err) {
        const char *cmd[] = { "delete", "--force", rt->id, NULL };
        const int fds[3] = { -1, -1, -1 };
        struct berr e = { 0 };
        int r = run(rt, cmd, fds, &e);
        if (r < 0 && e.errnum != ESRCH) { /* "does not exist": nothing left to delete */
                if (err)
                        *err = e;
                return r;
        }
        return 0;
}

/* ---- the shim's runtime, whichever it is ---- */

int shim_rt_create(struct shim *s, const char *bundle, const json_t *spec, const struct rt_stdio *io, int *ret_console,
                   struct berr *err) {
        int r;
        if (s->oci) {
                r = oci_rt_create(s->oci, spec, io, err);
                if (r < 0)
                        return r;
                s->init_pid = s->oci->pid;
                s->pidfd.fd = s->oci->pidfd;
                *ret_console = s->oci->console;
                return 0;
        }
        /* Output watched already (autostart without a TTY, main.c): the init may execve as
         * soon as it is ready, without waiting for our START after its READY. */
        r = rt_container_create_ex(s->opt.id, bundle, spec, io, s->output_watched, &s->ctr, err);
        if (r < 0)
                return r;
        s->init_pid = rt_container_pid(s->ctr);
        s->pidfd.fd = rt_container_pidfd(s->ctr);
        *ret_console = rt_container_console(s->ctr);
        return 0;
}

int shim_rt_start(struct shim *s, struct berr *err) {
        return s->oci ? oci_rt_start(s->oci, err) : rt_container_start(s->ctr, err);
}

int shim_rt_kill(struct shim *s, int sig, bool all, struct berr *err) {
        return s->oci ? oci_rt_kill(s->oci, sig, all, err) : rt_container_kill(s->ctr, sig, all, err);
}

int shim_rt_pause(struct shim *s, bool pause, struct berr *err) {
        return s->oci ? oci_rt_pause(s->oci, pause, err) : rt_container_pause(s->ctr, pause, err);
}

int shim_rt_exec(struct shim *s, const char *exec_id, const json_t *process, const struct rt_stdio *io, unsigned rows,
                 unsigned cols, pid_t *ret_pid, int *ret_pidfd, int *ret_console, struct berr *err) {
        if (s->oci)
                return oci_rt_exec(s->oci, exec_id, process, io, rows, cols, ret_pid, ret_pidfd, ret_console, err);
        return rt_container_exec(s->ctr, process, io, ret_pid, ret_pidfd, ret_console, err);
}

int shim_rt_update(struct shim *s, struct berr *err) {
        if (!s->oci)
                return berr_set(err, BERR_INVALID, ENOTSUP, "the built-in runtime's cgroup is written by berthd");
        int r = oci_rt_update(s->oci, SHIM_UPDATE_NAME, err);
        (void) unlinkat(s->bundle_fd, SHIM_UPDATE_NAME, 0); /* read (or refused): done with */
        return r;
}

bool shim_rt_oom_killed(struct shim *s) {
        return s->oci ? oci_rt_oom_killed(s->oci) : rt_container_oom_killed(s->ctr);
}

int shim_rt_destroy(struct shim *s, struct berr *err) {
        return s->oci ? oci_rt_delete(s->oci, err) : rt_container_destroy(s->ctr, err);
}

bool shim_rt_ready(const struct shim *s) {
        return s->oci ? s->oci->pid > 0 : s->ctr != NULL;
}
