/* exec.c - docker exec inside berth-shim: run a process in the container (the runtime
 * joins its namespaces and cgroup), copy its output to the client's stream (framed
 * unless it has a TTY), the client's input to its stdin, and report its exit on the
 * control connection berthd asked on. Output of exec processes is not logged. */
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/id.h"
#include "common/trace.h"
#include "msg.h"
#include "runtime/runtime.h"
#include "shim.h"

/* As the bundle's config.json (main.c): a process with a large environment is as big. */
#define EXEC_SPEC_MAX (16u << 20)

struct shim_exec {
        char id[65];
        struct shim_item pidfd, out, errp, in, client;
        int pty;                 /* the pty master (also out.fd), -1 without a TTY */
        struct shim_conn *conn;  /* where the exit goes; NULL once berthd left */
        pid_t pid;
        uint32_t flags;
        uint8_t detach_keys[SHIM_DETACH_KEYS_MAX];
        size_t n_detach_keys, detach_matched;
        bool stdin_done; /* the client closed its side */
        bool watched;    /* out and errp were in the epoll set before the process ran */
        char buf[8192]; /* client input on its way to stdin */
        size_t len;
        struct shim_exec *next;
};

static void set_nonblock(int fd) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
                (void) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void item_close(struct shim *s, struct shim_item *it) {
        if (it->fd < 0)
                return;
        (void) epoll_ctl(s->epfd, EPOLL_CTL_DEL, it->fd, NULL);
        close(it->fd);
        it->fd = -1;
}

static void send_conn(struct shim_exec *e, uint32_t type, int status) {
        if (!e->conn)
                return;
        struct shim_msg m;
        shim_msg_init(&m, type);
        m.status = status;
        m.pid = e->pid;
        (void) shim_msg_send(e->conn->item.fd, &m, -1, NULL);
}

/* The client is gone or detached: stop writing to it and reading from it. */
static void drop_client(struct shim *s, struct shim_exec *e, bool detached) {
        if (e->client.fd < 0)
                return;
        item_close(s, &e->client);
        if (detached)
                send_conn(e, SHIM_MSG_DETACHED, 0);
}

static void close_stdin(struct shim *s, struct shim_exec *e) {
        if (e->in.fd < 0)
                return;
        if (e->pty >= 0) {
                /* A TTY's stdin is the master itself: an end-of-file character ends it. */
                char eot = 4;
                (void) !write(e->pty, &eot, 1);
                (void) epoll_ctl(s->epfd, EPOLL_CTL_DEL, e->in.fd, NULL);
                close(e->in.fd);
                e->in.fd = -1;
        } else
                item_close(s, &e->in);
        e->len = 0;
}

static void send_output(struct shim *s, struct shim_exec *e, int stream, const char *data, size_t len) {
        uint32_t want = stream == 1 ? SHIM_ATTACH_STDOUT : SHIM_ATTACH_STDERR;
        if (e->client.fd < 0 || !(e->flags & want))
                return;
        int r = shim_write_frame(e->client.fd, stream, data, len, e->flags & SHIM_ATTACH_MULTIPLEX);
        if (r < 0)
                drop_client(s, e, false);
}

/* Read what an output has; 1 at EOF (or EIO: a pty whose other side is gone). */
static int pump(struct shim *s, struct shim_exec *e, struct shim_item *it) {
        char buf[16384];
        int stream = it == &e->errp ? 2 : 1;
        for (;;) {
                ssize_t n = read(it->fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                if (n <= 0)
                        return 1;
                send_output(s, e, stream, buf, (size_t) n);
        }
}

static void flush_stdin(struct shim *s, struct shim_exec *e) {
        while (e->len && e->in.fd >= 0) {
                ssize_t n = write(e->in.fd, e->buf, e->len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        /* Full: wait for room (the pty's own dup for a TTY), stop reading the
                         * client meanwhile. */
                        (void) shim_ep_set(s, &e->in, EPOLLOUT);
                        if (e->client.fd >= 0)
                                (void) shim_ep_set(s, &e->client, 0);
                        return;
                }
                if (n < 0) { /* the process closed its stdin */
                        close_stdin(s, e);
                        break;
                }
                memmove(e->buf, e->buf + n, e->len - (size_t) n);
                e->len -= (size_t) n;
        }
        if (e->in.fd >= 0)
                (void) shim_ep_set(s, &e->in, 0);
        if (e->client.fd >= 0)
                (void) shim_ep_set(s, &e->client, e->in.fd >= 0 && !e->stdin_done ? EPOLLIN : 0);
}

static void client_input(struct shim *s, struct shim_exec *e) {
        char buf[4096];
        size_t room = sizeof(e->buf) - e->len;
        if (room == 0)
                return;
        ssize_t n = read(e->client.fd, buf, room < sizeof(buf) ? room : sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) { /* the client closed its side: so does the process's stdin */
                e->stdin_done = true;
                (void) shim_ep_set(s, &e->client, 0);
                flush_stdin(s, e);
                close_stdin(s, e);
                return;
        }
        if (shim_detach_feed(e->detach_keys, e->n_detach_keys, &e->detach_matched, buf, (size_t) n, e->buf, &e->len,
                             sizeof(e->buf))) {
                flush_stdin(s, e);
                drop_client(s, e, true);
                return;
        }
        flush_stdin(s, e);
}

static void exec_free(struct shim *s, struct shim_exec *e) {
        for (struct shim_exec **pp = &s->execs; *pp; pp = &(*pp)->next)
                if (*pp == e) {
                        *pp = e->next;
                        break;
                }
        item_close(s, &e->pidfd);
        item_close(s, &e->client);
        close_stdin(s, e);
        item_close(s, &e->out);
        item_close(s, &e->errp);
        if (e->conn) {
                e->conn->exec = NULL;
                shim_conn_close(s, e->conn);
        }
        free(e);
}

/* The process has ended (or is being made to): collect its status, send what its
 * outputs still hold, report, and let go. */
static void finish(struct shim *s, struct shim_exec *e, bool kill_it) {
        if (kill_it && e->pidfd.fd >= 0)
                (void) pidfd_send_signal(e->pidfd.fd, SIGKILL, NULL, 0);
        siginfo_t si = { 0 };
        int code = 137;
        if (waitid(P_PID, (id_t) e->pid, &si, WEXITED) == 0)
                code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
        for (int round = 0; round < 2; round++) {
                if (e->out.fd >= 0 && pump(s, e, &e->out))
                        item_close(s, &e->out);
                if (e->errp.fd >= 0 && pump(s, e, &e->errp))
                        item_close(s, &e->errp);
        }
        /* Our copy of the stream goes first; berthd records the exit, then closes its own. */
        item_close(s, &e->client);
        send_conn(e, SHIM_MSG_EXITED, code);
        trace_mark("shim exec EXITED sent");
        exec_free(s, e);
}

/* The file is read whole in one go and parsed from memory: jansson's json_loadfd reads
 * one byte per read(2) (0.5 ms of every exec). */
static int read_process(struct shim *s, const char *id, json_t **ret, struct berr *err) {
        char name[128];
        snprintf(name, sizeof(name), SHIM_EXEC_FILE_PREFIX "%s.json", id);
        _cleanup_close_ int fd = openat(s->bundle_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, BERR_NOT_FOUND, "exec %s: process", id);
        (void) unlinkat(s->bundle_fd, name, 0);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berr_sys(err, BERR_INTERNAL, "exec %s: process", id);
        if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (size_t) st.st_size > EXEC_SPEC_MAX)
                return berr_set(err, BERR_INVALID, EINVAL, "exec %s: bad process: %lld bytes", id, (long long) st.st_size);
        size_t want = (size_t) st.st_size, len = 0;
        _cleanup_free_ char *buf = malloc(want);
        if (!buf)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        while (len < want) {
                ssize_t n = read(fd, buf + len, want - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berr_sys(err, BERR_INTERNAL, "exec %s: read the process", id);
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        json_error_t je;
        _cleanup_json_ json_t *p = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(p))
                return berr_set(err, BERR_INVALID, EINVAL, "exec %s: bad process: %s", id, p ? "not an object" : je.text);
        *ret = TAKE_PTR(p);
        return 0;
}

static int make_pipe(int fds[2], struct berr *err) {
        return pipe2(fds, O_CLOEXEC) < 0 ? berr_sys(err, BERR_INTERNAL, "pipe") : 0;
}

static int spawn(struct shim *s, struct shim_exec *e, const json_t *process, bool has_client, const struct shim_msg *m,
                 struct berr *err) {
        int p_out[2] = { -1, -1 }, p_err[2] = { -1, -1 }, p_in[2] = { -1, -1 };
        bool tty = e->flags & SHIM_EXEC_TTY;
        struct rt_stdio io = { .in = -1, .out = -1, .err = -1, .terminal = tty, .console_in_container = tty };
        int r = 0;
        if (!tty && has_client) {
                r = make_pipe(p_out, err);
                if (r == 0)
                        r = make_pipe(p_err, err);
                if (r == 0 && (e->flags & SHIM_ATTACH_STDIN))
                        r = make_pipe(p_in, err);
                io.out = p_out[1];
                io.err = p_err[1];
                io.in = p_in[0];
                /* Watched before the process can write (the runtime lets it execve without
                 * waiting for us): the loop sees stdout and stderr become readable in the
                 * order they were written, not in the order we register them. */
                if (r == 0) {
                        e->out.fd = p_out[0];
                        e->errp.fd = p_err[0];
                        p_out[0] = p_err[0] = -1;
                        set_nonblock(e->out.fd);
                        set_nonblock(e->errp.fd);
                        e->watched = true;
                        if (shim_ep_add(s, &e->out, EPOLLIN) < 0 || shim_ep_add(s, &e->errp, EPOLLIN) < 0)
                                r = berr_sys(err, BERR_INTERNAL, "epoll");
                }
        }
        /* The streams nobody reads or feeds: the host's /dev/null, opened here. The process
         * would open the container's, which the container may have made a FIFO. */
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (r == 0 && devnull < 0)
                r = berr_sys(err, BERR_INTERNAL, "open /dev/null");
        if (io.in < 0)
                io.in = devnull;
        if (io.out < 0)
                io.out = devnull;
        if (io.err < 0)
                io.err = devnull;
        int pidfd = -1, master = -1;
        if (r == 0)
                r = shim_rt_exec(s, e->id, process, &io, m->rows, m->cols, &e->pid, &pidfd, tty ? &master : NULL, err);
        if (devnull >= 0)
                close(devnull);
        /* The process holds its ends now; ours must go so EOF can arrive. */
        if (p_out[1] >= 0)
                close(p_out[1]);
        if (p_err[1] >= 0)
                close(p_err[1]);
        if (p_in[0] >= 0)
                close(p_in[0]);
        if (r < 0) {
                if (p_out[0] >= 0)
                        close(p_out[0]);
                if (p_err[0] >= 0)
                        close(p_err[0]);
                if (p_in[1] >= 0)
                        close(p_in[1]);
                item_close(s, &e->out);
                item_close(s, &e->errp);
                e->watched = false;
                return r;
        }
        e->pidfd.fd = pidfd;
        if (tty) {
                e->pty = master;
                if (has_client) {
                        e->out.fd = master;
                        if (e->flags & SHIM_ATTACH_STDIN)
                                e->in.fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
                } else
                        e->out.fd = master; /* read and dropped: a full pty would block the process */
                if (m->rows && m->cols) {
                        struct winsize ws = { .ws_row = (unsigned short) m->rows, .ws_col = (unsigned short) m->cols };
                        (void) ioctl(master, TIOCSWINSZ, &ws);
                }
        } else {
                if (!e->watched) {
                        e->out.fd = p_out[0];
                        e->errp.fd = p_err[0];
                }
                e->in.fd = p_in[1];
        }
        if (e->out.fd >= 0)
                set_nonblock(e->out.fd);
        if (e->errp.fd >= 0)
                set_nonblock(e->errp.fd);
        if (e->in.fd >= 0)
                set_nonblock(e->in.fd);
        return 0;
}

int shim_exec_start(struct shim *s, struct shim_conn *conn, const struct shim_msg *m, int fd, struct berr *err) {
        if (!id_is_full_hex(m->text))
                return berr_set(err, BERR_INVALID, EINVAL, "exec: bad ID");
        if (s->exited || !shim_rt_ready(s))
                return berr_set(err, BERR_CONFLICT, ESRCH, "the container is not running");
        trace_mark("shim exec request");
        _cleanup_json_ json_t *process = NULL;
        int r = read_process(s, m->text, &process, err);
        if (r < 0)
                return r;
        trace_mark("shim exec process read");
        struct shim_exec *e = calloc(1, sizeof(*e));
        if (!e)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        memcpy(e->id, m->text, sizeof(e->id) - 1); /* a full hex ID (checked above): 64 characters */
        e->id[sizeof(e->id) - 1] = '\0';
        e->pty = -1;
        e->pidfd = (struct shim_item){ .kind = ITEM_EXEC_PIDFD, .fd = -1, .ptr = e };
        e->out = (struct shim_item){ .kind = ITEM_EXEC_OUT, .fd = -1, .ptr = e };
        e->errp = (struct shim_item){ .kind = ITEM_EXEC_ERR, .fd = -1, .ptr = e };
        e->in = (struct shim_item){ .kind = ITEM_EXEC_STDIN, .fd = -1, .ptr = e };
        e->client = (struct shim_item){ .kind = ITEM_EXEC_CLIENT, .fd = -1, .ptr = e };
        e->flags = m->flags;
        /* Detach keys only with a TTY, as dockerd: other streams are binary-safe. */
        e->n_detach_keys = !(m->flags & SHIM_EXEC_TTY)                 ? 0
                           : m->n_detach_keys > SHIM_DETACH_KEYS_MAX ? SHIM_DETACH_KEYS_MAX
                                                                     : m->n_detach_keys;
        memcpy(e->detach_keys, m->detach_keys, e->n_detach_keys);
        r = spawn(s, e, process, fd >= 0, m, err);
        trace_mark("shim exec process running");
        if (r < 0) {
                free(e);
                return r;
        }
        if (fd >= 0) {
                e->client.fd = fd;
                /* A reader that stops reading must not stall the shim for ever. */
                struct timeval tv = { .tv_sec = 30 };
                (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        }
        e->conn = conn;
        conn->exec = e;
        e->next = s->execs;
        s->execs = e;
        if (shim_ep_add(s, &e->pidfd, EPOLLIN) < 0 ||
            (!e->watched && e->out.fd >= 0 && shim_ep_add(s, &e->out, EPOLLIN) < 0) ||
            (!e->watched && e->errp.fd >= 0 && shim_ep_add(s, &e->errp, EPOLLIN) < 0) ||
            (e->client.fd >= 0 && e->in.fd >= 0 && shim_ep_add(s, &e->client, EPOLLIN) < 0)) {
                r = berr_sys(err, BERR_INTERNAL, "epoll");
                e->client.fd = -1; /* the caller closes it */
                e->conn = NULL;
                conn->exec = NULL;
                finish(s, e, true);
                return r;
        }
        return 0;
}

/* Answered STARTED only after shim_exec_start; the pid goes with it. */
pid_t shim_exec_pid(struct shim_conn *conn) {
        return conn->exec ? conn->exec->pid : 0;
}

int shim_exec_resize(struct shim *s, const char *id, unsigned rows, unsigned cols) {
        for (struct shim_exec *e = s->execs; e; e = e->next)
                if (strcmp(e->id, id) == 0) {
                        if (e->pty < 0)
                                return -ENOTTY;
                        struct winsize ws = { .ws_row = (unsigned short) rows, .ws_col = (unsigned short) cols };
                        return ioctl(e->pty, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
                }
        return -ESRCH;
}

int shim_exec_kill(struct shim *s, const char *id, int sig) {
        for (struct shim_exec *e = s->execs; e; e = e->next)
                if (strcmp(e->id, id) == 0)
                        return e->pidfd.fd >= 0 && pidfd_send_signal(e->pidfd.fd, sig, NULL, 0) < 0 ? -errno : 0;
        return -ESRCH;
}

void shim_exec_event(struct shim *s, struct shim_item *it) {
        struct shim_exec *e = it->ptr;
        switch (it->kind) {
        case ITEM_EXEC_PIDFD:
                trace_mark("shim exec process exited (pidfd)");
                finish(s, e, false);
                return;
        case ITEM_EXEC_OUT:
        case ITEM_EXEC_ERR:
                if (pump(s, e, it)) {
                        if (it == &e->out && e->pty >= 0) {
                                /* The pty stays ours (resize) until the process is reaped. */
                                (void) epoll_ctl(s->epfd, EPOLL_CTL_DEL, it->fd, NULL);
                        } else
                                item_close(s, it);
                }
                return;
        case ITEM_EXEC_STDIN:
                flush_stdin(s, e);
                return;
        case ITEM_EXEC_CLIENT:
                client_input(s, e);
                return;
        default:
                return;
        }
}

void shim_exec_conn_gone(struct shim_exec *e) {
        e->conn = NULL;
}

/* The container's init has exited: its exec processes go with it. */
void shim_exec_finish_all(struct shim *s) {
        while (s->execs)
                finish(s, s->execs, true);
}
