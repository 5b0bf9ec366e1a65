/* main.c - berth-shim: the per-container supervisor (DESIGN.md "Processes", protocol.h).
 * Started by berthd as `berth-shim BUNDLE-DIR` with the start-up socket on fd 3; it
 * detaches, creates the container through the in-process runtime, serves shim.sock,
 * writes the log, and records the exit status in exit.json before it exits. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buildinfo.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/trace.h"
#include "msg.h"
#include "oci_runtime.h"
#include "runtime/runtime.h"
#include "shim.h"

#define SYNC_FD 3

static int read_options(struct shim *s, const char *bundle, struct berr *err) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = fs_read_file(s->bundle_fd, SHIM_OPTIONS_NAME, 1 << 20, &text, &len, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *o = NULL;
        if ((r = json_parse_object(text, len, &o, err)) < 0)
                return r;
        const char *id = NULL, *cache = NULL;
        bool b;
        if ((r = json_get_string(o, "id", &id, err)) < 0)
                return r;
        if (!id)
                return berr_set(err, BERR_INVALID, EINVAL, "shim.json: no id");
        /* Compiled seccomp filters outlive this shim there, so the next container with the
         * same profile skips the compilation (~20 ms). */
        if (json_get_string(o, "seccomp_cache_dir", &cache, err) == 0) {
                if (mkdir(cache, 0700) < 0 && errno != EEXIST)
                        cache = NULL; /* no cache then: every start compiles */
                if (cache)
                        rt_set_seccomp_cache_dir(cache);
        }
        s->opt.id = strdup(id);
        s->opt.log = json_incref(json_object_get(o, "log"));
        if (json_get_bool(o, "tty", &b, err) == 0)
                s->opt.tty = b;
        if (json_get_bool(o, "open_stdin", &b, err) == 0)
                s->opt.open_stdin = b;
        if (json_get_bool(o, "stdin_once", &b, err) == 0)
                s->opt.stdin_once = b;
        if (json_get_bool(o, "autostart", &b, err) == 0)
                s->opt.autostart = b;
        /* An external OCI runtime instead of the built-in one (oci_runtime.h). */
        json_t *rt = json_object_get(o, "runtime");
        if (rt && !json_is_null(rt)) {
                _cleanup_free_ char *abs = realpath(bundle, NULL);
                if (!abs)
                        return berr_sys(err, BERR_INTERNAL, "bundle %s", bundle);
                if ((r = oci_rt_parse(rt, id, abs, s->bundle_fd, &s->oci, err)) < 0)
                        return r;
        }
        return 0;
}

static int listen_socket(struct shim *s, struct berr *err) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", s->bundle_fd, SHIM_SOCK_NAME);
        (void) unlinkat(s->bundle_fd, SHIM_SOCK_NAME, 0); /* a leftover from a crashed shim */
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "socket");
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
                close(fd);
                return berr_sys(err, BERR_INTERNAL, "listen on %s", SHIM_SOCK_NAME);
        }
        (void) fchmodat(s->bundle_fd, SHIM_SOCK_NAME, 0600, 0);
        s->listen.fd = fd;
        return 0;
}

static void write_pid(struct shim *s, const char *name, pid_t pid) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%d", (int) pid);
        struct berr e = { 0 };
        (void) fs_write_replace(s->bundle_fd, name, buf, (size_t) n, 0644, &e); /* informative only */
}

static void send_status(int fd, enum shim_msg_type type, pid_t pid, int status, const char *text) {
        struct shim_msg m;
        shim_msg_init(&m, type);
        m.pid = pid;
        m.status = status;
        if (text)
                snprintf(m.text, sizeof(m.text), "%s", text);
        (void) shim_msg_send(fd, &m, -1, NULL); /* if berthd went away it will read exit.json */
}

static void record_exit(struct shim *s, int status) {
        int code = 0;
        char error[BERR_MSG_MAX] = "";
        if (WIFEXITED(status))
                code = WEXITSTATUS(status);
        else if (WIFSIGNALED(status))
                code = 128 + WTERMSIG(status);
        trace_mark("shim init reaped");
        bool oom = shim_rt_oom_killed(s);
        struct berr err = { 0 };
        /* An external runtime's delete waits until the exit is recorded (below). */
        if (!s->oci && shim_rt_destroy(s, &err) < 0)
                snprintf(error, sizeof(error), "%s", err.msg);
        trace_mark("shim cgroup removed");
        shim_drain_and_close(s);
        s->log = log_out_close(s->log); /* receivers get an orderly end, and what was sent */
        trace_mark("shim output drained, log closed");

        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        char when[40];
        log_format_time(&now, when);
        _cleanup_json_ json_t *o = json_pack("{s:i, s:b, s:s, s:s}", "ExitCode", code, "OOMKilled", oom, "FinishedAt",
                                             when, "Error", error);
        _cleanup_free_ char *text = o ? json_dump_compact(o) : NULL;
        /* Atomic (renamed into place), not fsync'd: the record has to outlive berthd, not
         * the machine. It lives in the run root, a tmpfs one boot long (after a reboot the
         * container is gone anyway, and a missing or empty record reads as "the shim died":
         * exit 137); the two fsyncs were 4–8 ms of every exit on a busy disk. */
        if (text)
                (void) fs_write_replace(s->bundle_fd, SHIM_EXIT_NAME, text, strlen(text), 0644, &err);
        trace_mark("shim exit.json written");
        if (s->oci) {
                /* off the exit's path: berthd has the record; every descriptor berthd
                 * watches is closed there once the delete's lock is held */
                oci_rt_delete_detached(s->oci);
                return;
        }
        /* The record is there: berthd's watch sees EOF now, not once this process has torn
         * itself down (its memory, its descriptors: a millisecond or two under load). */
        for (struct shim_conn *c = s->conns; c; c = c->next)
                if (c->is_watch)
                        (void) shutdown(c->item.fd, SHUT_RDWR);
}

/* The shim lives as long as its container: give back what start-up used (spec text,
 * seccomp compilation) so each running container costs little memory. Called once the
 * start is answered, off the start's path. */
void shim_release_startup_memory(void) {
        (void) malloc_trim(0);
}

static int run(struct shim *s, const char *bundle) {
        struct berr err = { 0 };
        int r;

        s->bundle_fd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->bundle_fd < 0) {
                berr_sys(&err, BERR_INTERNAL, "open bundle %s", bundle);
                goto fail;
        }
        trace_mark("shim detached");
        write_pid(s, SHIM_PID_NAME, getpid());
        if ((r = read_options(s, bundle, &err)) < 0)
                goto fail;
        trace_mark("shim shim.json read");
        _cleanup_free_ char *spec_text = NULL;
        size_t spec_len;
        _cleanup_json_ json_t *spec = NULL;
        if ((r = fs_read_file(s->bundle_fd, "config.json", 16 << 20, &spec_text, &spec_len, &err)) < 0 ||
            (r = json_parse_object(spec_text, spec_len, &spec, &err)) < 0)
                goto fail;
        spec_text = mfree(spec_text);
        trace_mark("shim config.json read and parsed");
        if ((r = log_out_open(s->opt.log, &s->log, &err)) < 0)
                goto fail;
        int ctr_fds[3];
        if ((r = shim_io_setup(s, ctr_fds, &err)) < 0)
                goto fail;
        s->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (s->epfd < 0 || (r = listen_socket(s, &err)) < 0)
                goto fail;

        struct rt_stdio io = { .in = ctr_fds[0], .out = ctr_fds[1], .err = ctr_fds[2], .terminal = s->opt.tty,
                               .console_in_container = s->opt.tty };
        /* autostart without a TTY: nothing must happen between the init's READY and its
         * execve (no attach stream to hand over, no console size to set), so it goes on
         * without a round trip through us (the create sends START early). Its output is
         * watched from before, as the loop would: the epoll set reports stdout and stderr
         * in the order they became readable. */
        if (s->opt.autostart && !s->opt.tty) {
                if ((s->out.fd >= 0 && shim_ep_add(s, &s->out, EPOLLIN) < 0) ||
                    (s->errp.fd >= 0 && shim_ep_add(s, &s->errp, EPOLLIN) < 0)) {
                        r = berr_sys(&err, BERR_INTERNAL, "epoll");
                        goto fail;
                }
                s->output_watched = true;
        }
        trace_mark("shim log, stdio, shim.sock ready");
        int console = -1;
        r = shim_rt_create(s, bundle, spec, &io, &console, &err);
        trace_mark("shim container created");
        /* The container holds its ends now; ours must go so EOF can arrive. */
        for (int i = 0; i < 3; i++)
                if (ctr_fds[i] >= 0 && (i == 0 || ctr_fds[i] != ctr_fds[i - 1]))
                        close(ctr_fds[i]);
        if (r < 0)
                goto fail;
        if (s->opt.tty && (r = shim_io_set_console(s, console, &err)) < 0)
                goto fail;
        if (s->opt.tty) {
                /* process.consoleSize (the client's size at create), as runc sets it: the
                 * first program must not see 0x0 until the client's resize arrives, which
                 * comes after the start and, on a busy machine, after the program asked. */
                const json_t *cs = json_object_get(json_object_get(spec, "process"), "consoleSize");
                json_int_t h = json_integer_value(json_object_get(cs, "height")),
                           w = json_integer_value(json_object_get(cs, "width"));
                if (h > 0 && w > 0 && h <= 65535 && w <= 65535) {
                        struct winsize ws = { .ws_row = (unsigned short) h, .ws_col = (unsigned short) w };
                        (void) ioctl(s->pty_master, TIOCSWINSZ, &ws);
                }
        }
        write_pid(s, SHIM_INIT_PID_NAME, s->init_pid);
        send_status(SYNC_FD, SHIM_MSG_CREATED, s->init_pid, 0, NULL);
        trace_mark("shim CREATED sent");

        /* From here the loop serves shim.sock (attach streams may arrive before the
         * start, so no output is missed) and the START request on the sync socket. */
        s->sync.fd = SYNC_FD;
        spec = json_decref_null(spec); /* most of the heap: freed, given back after the start */
        r = shim_loop(s);
        siginfo_t si = { 0 };
        int status = 0;
        if (waitid(P_PID, (id_t) s->init_pid, &si, WEXITED) == 0)
                status = si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0) : W_EXITCODE(0, si.si_status);
        record_exit(s, status);
        return 0;

fail:
        /* An external runtime's container outlives this shim unless told to go. */
        if (s->oci && s->oci->pid > 0)
                (void) shim_rt_destroy(s, NULL);
        /* The errno goes with the message: berthd decides the exit code from it. */
        send_status(SYNC_FD, SHIM_MSG_ERROR, 0, -(err.errnum > 0 ? err.errnum : EINVAL), err.msg);
        return 1;
}

/* berthd raised its open-file soft limit for its clients; containers get the one it was
 * started with (see raise_nofile_limit in src/daemon/main.c). */
static void restore_nofile_limit(void) {
        const char *v = getenv("BERTH_NOFILE_SOFT");
        struct rlimit rl;
        char *end;
        if (!v)
                return;
        errno = 0;
        unsigned long long soft = strtoull(v, &end, 10);
        if (!errno && !*end && getrlimit(RLIMIT_NOFILE, &rl) == 0 && soft <= rl.rlim_max) {
                rl.rlim_cur = (rlim_t) soft;
                (void) setrlimit(RLIMIT_NOFILE, &rl); /* lowering within the hard limit cannot fail */
        }
        (void) unsetenv("BERTH_NOFILE_SOFT"); /* only fails for a malformed name */
}

/* A spare (protocol.h): wait for the bundle directory; its shim.log becomes stderr, as
 * berthd opens it for a shim started with the directory. NULL: berthd let the spare go. */
static char *receive_bundle(void) {
        struct shim_msg m;
        struct berr err = { 0 };
        if (shim_msg_recv(SYNC_FD, &m, NULL, &err) < 0 || m.type != SHIM_REQ_BUNDLE || !m.text[0])
                return NULL;
        m.text[sizeof(m.text) - 1] = '\0';
        char log[SHIM_MSG_TEXT_MAX + 16];
        snprintf(log, sizeof(log), "%s/shim.log", m.text);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
                (void) dup2(fd, 2); /* dup2 clears close-on-exec on 2 */
                close(fd);
        }
        return strdup(m.text);
}

int main(int argc, char **argv) {
        if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-v") == 0)) {
                printf("berth-shim version %s, build %s\n", berth_version, berth_git_commit);
                return 0;
        }
        if (argc != 2 || fcntl(SYNC_FD, F_GETFD) < 0) {
                fprintf(stderr, "usage: berth-shim BUNDLE-DIR|--spare (started by berthd with its start-up socket on "
                                "fd 3)\n");
                return 2;
        }
        bool spare = strcmp(argv[1], "--spare") == 0;
        (void) fcntl(SYNC_FD, F_SETFD, FD_CLOEXEC);
        /* berthd execs a sealed copy as /proc/self/fd/N, which names us "N": our own name. */
        (void) prctl(PR_SET_NAME, "berth-shim", 0L, 0L, 0L);
        trace_mark("shim main");
        /* Large blocks (the spec's text, the log writer's 100 KB line buffer) in mappings of
         * their own: given back whole when freed, and untouched pages never resident. */
        (void) mallopt(M_MMAP_THRESHOLD, 32 << 10);
        signal(SIGPIPE, SIG_IGN);
        restore_nofile_limit();

        /* Detach: berthd reaps this process at once; the child lives on in its own
         * session, so containers outlive a berthd restart. */
        pid_t pid = fork();
        if (pid < 0)
                return 1;
        if (pid > 0)
                _exit(0);
        (void) setsid();
        (void) prctl(PR_SET_CHILD_SUBREAPER, 1);
        (void) prctl(PR_SET_PDEATHSIG, 0);

        _cleanup_free_ char *bundle = spare ? receive_bundle() : strdup(argv[1]);
        if (!bundle)
                return spare ? 0 : 1;
        trace_mark("shim has its bundle");
        /* Static, not on the stack: its 64 KB stdin buffer stays untouched (not resident)
         * until a client writes to the container's stdin; zeroed on the stack, it was a
         * quarter of each running shim's memory. */
        static struct shim s;
        s.bundle_fd = s.pty_master = s.epfd = -1;
        s.listen.fd = s.pidfd.fd = s.sync.fd = -1;
        int r = run(&s, bundle);
        return r;
}
