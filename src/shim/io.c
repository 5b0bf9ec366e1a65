/* io.c - berth-shim's event loop: container output to the log and to attached clients,
 * client stdin to the container, control requests on shim.sock, and the init's exit. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/trace.h"
#include "msg.h"
#include "runtime/runtime.h"
#include "shim.h"

static int ep_add(struct shim *s, struct shim_item *it, uint32_t events) {
        struct epoll_event ev = { .events = events, .data.ptr = it };
        return epoll_ctl(s->epfd, EPOLL_CTL_ADD, it->fd, &ev);
}

int shim_ep_add(struct shim *s, struct shim_item *it, uint32_t events) {
        return ep_add(s, it, events);
}

/* Watch @it for @events; 0 takes it out of the set (a mask of 0 would still report
 * EPOLLHUP and EPOLLERR, and a hung-up peer would spin the loop). */
int shim_ep_set(struct shim *s, struct shim_item *it, uint32_t events) {
        if (events == 0)
                return epoll_ctl(s->epfd, EPOLL_CTL_DEL, it->fd, NULL) < 0 && errno != ENOENT ? -errno : 0;
        struct epoll_event ev = { .events = events, .data.ptr = it };
        if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, it->fd, &ev) == 0)
                return 0;
        if (errno != ENOENT)
                return -errno;
        return epoll_ctl(s->epfd, EPOLL_CTL_ADD, it->fd, &ev) < 0 ? -errno : 0;
}

static void set_nonblock(int fd) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
                (void) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int make_pipe(int fds[2], struct berr *err) {
        if (pipe2(fds, O_CLOEXEC) < 0)
                return berr_sys(err, BERR_INTERNAL, "pipe");
        return 0;
}

static void io_kinds_and_nonblock(struct shim *s) {
        s->out.kind = ITEM_STDOUT;
        s->errp.kind = ITEM_STDERR;
        s->in.kind = ITEM_STDIN;
        if (s->out.fd >= 0)
                set_nonblock(s->out.fd);
        if (s->errp.fd >= 0)
                set_nonblock(s->errp.fd);
        if (s->in.fd >= 0 && s->in.fd != s->out.fd)
                set_nonblock(s->in.fd);
}

/* Create the container's stdio: pipes. @ctr_fds get the container's ends. With a TTY
 * there is nothing to create: the container opens its pty on its own devpts (runc's
 * console socket) and shim_io_set_console takes the master after the create. */
int shim_io_setup(struct shim *s, int ctr_fds[3], struct berr *err) {
        s->out.fd = s->errp.fd = s->in.fd = s->pty_master = -1;
        ctr_fds[0] = ctr_fds[1] = ctr_fds[2] = -1;
        if (!s->opt.tty) {
                int p[2];
                int r = make_pipe(p, err);
                if (r < 0)
                        return r;
                s->out.fd = p[0];
                ctr_fds[1] = p[1];
                if ((r = make_pipe(p, err)) < 0)
                        return r;
                s->errp.fd = p[0];
                ctr_fds[2] = p[1];
                if (s->opt.open_stdin) {
                        if ((r = make_pipe(p, err)) < 0)
                                return r;
                        s->in.fd = p[1];
                        ctr_fds[0] = p[0];
                }
        }
        io_kinds_and_nonblock(s);
        return 0;
}

/* The TTY case: @master (the container's pty master, owned by the container object)
 * carries output, stdin (through a dup) and resizes. */
int shim_io_set_console(struct shim *s, int master, struct berr *err) {
        if (master < 0)
                return berr_set(err, BERR_INTERNAL, EBADF, "the container has no console");
        s->pty_master = master;
        s->out.fd = master;
        if (s->opt.open_stdin) {
                s->in.fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
                if (s->in.fd < 0)
                        return berr_sys(err, BERR_INTERNAL, "dup");
        }
        io_kinds_and_nonblock(s);
        return 0;
}

static void conn_close(struct shim *s, struct shim_conn *c);

static void client_remove(struct shim *s, struct shim_client *cl) {
        for (struct shim_client **pp = &s->clients; *pp; pp = &(*pp)->next)
                if (*pp == cl) {
                        *pp = cl->next;
                        break;
                }
        (void) epoll_ctl(s->epfd, EPOLL_CTL_DEL, cl->item.fd, NULL);
        close(cl->item.fd);
        struct shim_conn *c = cl->conn;
        free(cl);
        /* Closing the control connection tells berthd the stream is finished. */
        if (c) {
                c->client = NULL;
                conn_close(s, c);
        }
}

static void conn_close(struct shim *s, struct shim_conn *c) {
        for (struct shim_conn **pp = &s->conns; *pp; pp = &(*pp)->next)
                if (*pp == c) {
                        *pp = c->next;
                        break;
                }
        (void) epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->item.fd, NULL);
        close(c->item.fd);
        if (c->client) {
                c->client->conn = NULL;
                client_remove(s, c->client);
        }
        if (c->exec) /* berthd left: the exec goes on, its exit is not reported */
                shim_exec_conn_gone(c->exec);
        bool watch = c->is_watch;
        free(c);
        if (watch)
                shim_dns_berthd_gone(s);
}

void shim_conn_close(struct shim *s, struct shim_conn *c) {
        conn_close(s, c);
}

int shim_write_frame(int fd, int stream, const void *data, size_t len, bool multiplex) {
        if (multiplex) {
                unsigned char h[8] = { (unsigned char) stream, 0, 0, 0, (unsigned char) (len >> 24),
                                       (unsigned char) (len >> 16), (unsigned char) (len >> 8), (unsigned char) len };
                int r = fs_write_all(fd, h, sizeof(h)); /* SIGPIPE is ignored (main) */
                if (r < 0)
                        return r;
        }
        return fs_write_all(fd, data, len);
}

/* Send output to every client attached to that stream, with the 8-byte header when the
 * client asked for multiplexing. A client that cannot take it is dropped. */
static void broadcast(struct shim *s, enum log_stream st, const char *data, size_t len) {
        uint32_t want = st == LOG_STREAM_STDOUT ? SHIM_ATTACH_STDOUT : SHIM_ATTACH_STDERR;
        for (struct shim_client *cl = s->clients, *next; cl; cl = next) {
                next = cl->next;
                if (!(cl->flags & want))
                        continue;
                int r = shim_write_frame(cl->item.fd, st == LOG_STREAM_STDOUT ? 1 : 2, data, len,
                                         cl->flags & SHIM_ATTACH_MULTIPLEX);
                if (r < 0)
                        client_remove(s, cl);
        }
}

/* Read what a stream has, at most @max_reads reads (0: until it is empty): a container
 * that writes without pause keeps its pipe full, and a shim reading it to the end first
 * would never get to a kill, an attach or the init's exit (with a full disk, the log's
 * failing writes made the shim exactly fast enough never to see EAGAIN). Returns 0 while
 * open, 1 at EOF. */
static int pump_output_n(struct shim *s, struct shim_item *it, unsigned max_reads) {
        char buf[32768];
        enum log_stream st = it->kind == ITEM_STDERR ? LOG_STREAM_STDERR : LOG_STREAM_STDOUT;
        for (unsigned reads = 0; max_reads == 0 || reads < max_reads; reads++) {
                ssize_t n = read(it->fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                if (n <= 0) /* EOF, or EIO from a pty whose slave side is gone */
                        return 1;
                if (s->log) {
                        struct berr e = { 0 };
                        (void) log_out_feed(s->log, st, buf, (size_t) n, &e); /* output goes on even if the log fails */
                }
                broadcast(s, st, buf, (size_t) n);
        }
        return 0; /* more may wait: epoll (level-triggered) brings the stream back */
}

/* In the loop: a bounded share (16 reads of 32 KiB), then the other events get theirs. */
static int pump_output(struct shim *s, struct shim_item *it) {
        return pump_output_n(s, it, 16);
}

static void stop_output(struct shim *s, struct shim_item *it) {
        (void) epoll_ctl(s->epfd, EPOLL_CTL_DEL, it->fd, NULL);
        if (it->fd != s->pty_master && it->fd != s->in.fd)
                close(it->fd);
        it->fd = -1;
}

static void close_stdin(struct shim *s) {
        if (s->in.fd < 0)
                return;
        (void) epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->in.fd, NULL);
        if (s->in.fd != s->pty_master)
                close(s->in.fd);
        else if (s->opt.tty) {
                /* With a TTY, "closing stdin" is an end-of-file character on the line. */
                char eot = 4;
                (void) !write(s->in.fd, &eot, 1);
        }
        s->in.fd = -1;
        s->stdin_len = 0;
}

static void clients_stdin_interest(struct shim *s, bool want) {
        for (struct shim_client *cl = s->clients; cl; cl = cl->next)
                if ((cl->flags & SHIM_ATTACH_STDIN) && !cl->stdin_done)
                        (void) shim_ep_set(s, &cl->item, want ? EPOLLIN : 0);
}

/* Push buffered stdin into the container; poll for room when the pipe is full. */
static void flush_stdin(struct shim *s) {
        if (s->in.fd < 0) {
                s->stdin_len = 0;
                return;
        }
        while (s->stdin_len) {
                ssize_t n = write(s->in.fd, s->stdin_buf, s->stdin_len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        if (s->in.fd != s->pty_master)
                                (void) shim_ep_set(s, &s->in, EPOLLOUT);
                        clients_stdin_interest(s, false);
                        return;
                }
                if (n < 0) { /* the container closed its stdin */
                        close_stdin(s);
                        return;
                }
                memmove(s->stdin_buf, s->stdin_buf + n, s->stdin_len - (size_t) n);
                s->stdin_len -= (size_t) n;
        }
        if (s->in.fd != s->pty_master)
                (void) epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->in.fd, NULL);
        clients_stdin_interest(s, true);
}

/* Input from an attached client: watch for the detach keys, queue the rest. */
static void client_input(struct shim *s, struct shim_client *cl) {
        char buf[4096];
        size_t room = sizeof(s->stdin_buf) - s->stdin_len;
        if (room == 0)
                return; /* flush_stdin stops polling clients until there is room */
        ssize_t n = read(cl->item.fd, buf, room < sizeof(buf) ? room : sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                /* The client closed its side: stdin is done, output still flows to it. */
                cl->stdin_done = true;
                (void) shim_ep_set(s, &cl->item, 0);
                if (s->opt.stdin_once)
                        close_stdin(s);
                return;
        }
        if (shim_detach_feed(cl->detach_keys, cl->n_detach_keys, &cl->detach_matched, buf, (size_t) n, s->stdin_buf,
                             &s->stdin_len, sizeof(s->stdin_buf))) {
                flush_stdin(s);
                client_remove(s, cl); /* detached: the container goes on */
                return;
        }
        flush_stdin(s);
}

bool shim_detach_feed(const uint8_t *keys, size_t n_keys, size_t *matched, const char *in, size_t n, char *out,
                      size_t *len, size_t cap) {
        for (size_t i = 0; i < n; i++) {
                uint8_t c = (uint8_t) in[i];
                if (n_keys && c == keys[*matched]) {
                        if (++*matched == n_keys)
                                return true;
                        continue;
                }
                /* A partial match that broke off is ordinary input after all. */
                for (size_t k = 0; k < *matched && *len < cap; k++)
                        out[(*len)++] = (char) keys[k];
                *matched = 0;
                if (n_keys && c == keys[0]) {
                        *matched = 1;
                        continue;
                }
                if (*len < cap)
                        out[(*len)++] = (char) c;
        }
        return false;
}

int shim_add_client(struct shim *s, struct shim_conn *conn, int fd, const struct shim_msg *m) {
        struct shim_client *cl = calloc(1, sizeof(*cl));
        if (!cl)
                return -ENOMEM;
        cl->item = (struct shim_item){ .kind = ITEM_CLIENT, .fd = fd, .ptr = cl };
        cl->flags = m->flags;
        cl->n_detach_keys = m->n_detach_keys > SHIM_DETACH_KEYS_MAX ? SHIM_DETACH_KEYS_MAX : m->n_detach_keys;
        memcpy(cl->detach_keys, m->detach_keys, cl->n_detach_keys);
        /* A reader that stops reading must not stall the container's output for ever. */
        struct timeval tv = { .tv_sec = 30 };
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        bool wants_stdin = (cl->flags & SHIM_ATTACH_STDIN) && s->in.fd >= 0;
        if (!wants_stdin)
                cl->stdin_done = true;
        if (wants_stdin && ep_add(s, &cl->item, EPOLLIN) < 0) {
                free(cl);
                return -errno;
        }
        cl->conn = conn;
        conn->client = cl;
        cl->next = s->clients;
        s->clients = cl;
        return 0;
}

static void reply(int fd, int status, const char *text) {
        struct shim_msg r;
        shim_msg_init(&r, status < 0 ? SHIM_MSG_ERROR : SHIM_MSG_STARTED);
        r.status = status;
        if (text)
                snprintf(r.text, sizeof(r.text), "%s", text);
        (void) shim_msg_send(fd, &r, -1, NULL); /* a vanished requester needs no answer */
}

static void handle_request(struct shim *s, struct shim_conn *c) {
        struct shim_msg m;
        int fd = -1;
        struct berr err = { 0 };
        if (shim_msg_recv(c->item.fd, &m, &fd, &err) < 0) {
                conn_close(s, c);
                return;
        }
        int r = 0;
        switch (m.type) {
        case SHIM_REQ_ATTACH:
                if (fd < 0 || c->client) {
                        reply(c->item.fd, -EINVAL, "attach needs exactly one stream");
                        break;
                }
                r = shim_add_client(s, c, fd, &m);
                if (r < 0) {
                        close(fd);
                        reply(c->item.fd, r, "cannot attach");
                } else
                        reply(c->item.fd, 0, NULL);
                return;
        case SHIM_REQ_KILL:
                if (m.text[0]) { /* an exec's process */
                        r = shim_exec_kill(s, m.text, m.signal);
                        reply(c->item.fd, r, r == -ESRCH ? "no such exec" : r < 0 ? "kill failed" : NULL);
                        break;
                }
                r = shim_rt_kill(s, m.signal, false, &err);
                reply(c->item.fd, r, r < 0 ? err.msg : NULL);
                break;
        case SHIM_REQ_EXEC:
                if (s->frozen) {
                        reply(c->item.fd, -EBUSY, "the container is paused");
                        break;
                }
                if (c->exec || c->client) {
                        reply(c->item.fd, -EINVAL, "one stream per connection");
                        break;
                }
                r = shim_exec_start(s, c, &m, fd, &err);
                if (r < 0) {
                        reply(c->item.fd, r, err.msg);
                        break;
                }
                struct shim_msg a;
                shim_msg_init(&a, SHIM_MSG_STARTED);
                a.pid = shim_exec_pid(c);
                (void) shim_msg_send(c->item.fd, &a, -1, NULL);
                return; /* the exec owns the stream now */
        case SHIM_REQ_RESIZE:
                if (m.text[0]) {
                        r = shim_exec_resize(s, m.text, m.rows, m.cols);
                        reply(c->item.fd, r, r == -ESRCH ? "no such exec" : r < 0 ? "resize failed" : NULL);
                        break;
                }
                if (s->pty_master < 0) {
                        reply(c->item.fd, -ENOTTY, "the container has no TTY");
                        break;
                }
                struct winsize ws = { .ws_row = (unsigned short) m.rows, .ws_col = (unsigned short) m.cols };
                r = ioctl(s->pty_master, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
                reply(c->item.fd, r, r < 0 ? "resize failed" : NULL);
                break;
        case SHIM_REQ_PAUSE:
        case SHIM_REQ_RESUME:
                r = shim_rt_pause(s, m.type == SHIM_REQ_PAUSE, &err);
                if (r == 0)
                        s->frozen = m.type == SHIM_REQ_PAUSE;
                reply(c->item.fd, r, r < 0 ? err.msg : NULL);
                break;
        case SHIM_REQ_UPDATE:
                r = shim_rt_update(s, &err);
                reply(c->item.fd, r, r < 0 ? err.msg : NULL);
                break;
        case SHIM_REQ_WATCH:
                c->is_watch = true;
                reply(c->item.fd, 0, NULL);
                break;
        case SHIM_REQ_DNS_KEEP:
        case SHIM_REQ_DNS_GET:
                shim_dns_request(s, c, &m, fd);
                return;
        case SHIM_REQ_CLOSE_STDIN:
                close_stdin(s);
                reply(c->item.fd, 0, NULL);
                break;
        default:
                reply(c->item.fd, -EINVAL, "unknown request");
        }
        if (fd >= 0)
                close(fd);
}

static void accept_conn(struct shim *s) {
        int fd = accept4(s->listen.fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
                return;
        struct shim_conn *c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return;
        }
        c->item = (struct shim_item){ .kind = ITEM_CONN, .fd = fd, .ptr = c };
        if (ep_add(s, &c->item, EPOLLIN) < 0) {
                close(fd);
                free(c);
                return;
        }
        c->next = s->conns;
        s->conns = c;
}

/* The start-up socket: START lets the init execve; its answer tells berthd whether the
 * command could be executed. EOF before START means berthd gave up: kill the init. */
static void start_now(struct shim *s, uint32_t flags);

static void handle_sync(struct shim *s) {
        struct shim_msg m;
        int fd = -1;
        struct berr err = { 0 };
        int r = shim_msg_recv(s->sync.fd, &m, &fd, &err);
        if (fd >= 0)
                close(fd);
        if (r == 0 && m.type == SHIM_REQ_START) {
                trace_mark("shim START received");
                start_now(s, m.flags);
                return;
        }
        (void) shim_rt_kill(s, SIGKILL, true, NULL);
        (void) epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->sync.fd, NULL);
        close(s->sync.fd);
        s->sync.fd = -1;
}

/* START (or shim.json's autostart): the init execve's; STARTED or ERROR on the start-up
 * socket, which then closes or, with SHIM_START_WATCH, stays as berthd's watch. */
static void start_now(struct shim *s, uint32_t flags) {
        struct berr err = { 0 };
        struct shim_msg a;
        int r = shim_rt_start(s, &err);
        trace_mark("shim execve seen (sync EOF)");
        shim_msg_init(&a, r < 0 ? SHIM_MSG_ERROR : SHIM_MSG_STARTED);
        a.status = r;
        a.pid = s->init_pid;
        if (r < 0)
                snprintf(a.text, sizeof(a.text), "%s", err.msg);
        (void) shim_msg_send(s->sync.fd, &a, -1, NULL); /* berthd reads exit.json if it is gone */
        shim_release_startup_memory();
        /* The start-up socket becomes berthd's watch connection (protocol.h). */
        struct shim_conn *c = (flags & SHIM_START_WATCH) ? calloc(1, sizeof(*c)) : NULL;
        if (c) {
                c->item = (struct shim_item){ .kind = ITEM_CONN, .fd = s->sync.fd, .ptr = c };
                c->is_watch = true;
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->item };
                if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->sync.fd, &ev) == 0) {
                        c->next = s->conns;
                        s->conns = c;
                        s->sync.fd = -1;
                        return;
                }
                free(c);
        }
        (void) epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->sync.fd, NULL);
        close(s->sync.fd);
        s->sync.fd = -1;
}

/* Run until the init has exited and its output is drained. */
int shim_loop(struct shim *s) {
        bool out_open = s->out.fd >= 0, err_open = s->errp.fd >= 0;
        s->pidfd.kind = ITEM_PIDFD;
        s->listen.kind = ITEM_LISTEN;
        s->sync.kind = ITEM_SYNC;
        if ((s->sync.fd >= 0 && ep_add(s, &s->sync, EPOLLIN) < 0) || ep_add(s, &s->pidfd, EPOLLIN) < 0 || ep_add(s, &s->listen, EPOLLIN) < 0 ||
            (out_open && !s->output_watched && ep_add(s, &s->out, EPOLLIN) < 0) ||
            (err_open && !s->output_watched && ep_add(s, &s->errp, EPOLLIN) < 0))
                return -errno;
        /* No START to wait for (berthd had no attach stream to hand over first): the
         * container's output is watched from here, so the init goes now. */
        if (s->opt.autostart && s->sync.fd >= 0) {
                s->opt.autostart = false;
                start_now(s, SHIM_START_WATCH);
        }

        while (!s->exited) {
                /* One event at a time: handling one may free the item another points at
                 * (a dropped client); epoll is level-triggered, so nothing is lost. */
                struct epoll_event evs[1];
                int n = epoll_wait(s->epfd, evs, 1, -1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                for (int i = 0; i < n; i++) {
                        struct shim_item *it = evs[i].data.ptr;
                        switch (it->kind) {
                        case ITEM_SYNC:
                                handle_sync(s);
                                break;
                        case ITEM_PIDFD:
                                trace_mark("shim init exited (pidfd)");
                                s->exited = true;
                                break;
                        case ITEM_STDOUT:
                                if (pump_output(s, it)) {
                                        stop_output(s, it);
                                        out_open = false;
                                }
                                break;
                        case ITEM_STDERR:
                                if (pump_output(s, it)) {
                                        stop_output(s, it);
                                        err_open = false;
                                }
                                break;
                        case ITEM_STDIN:
                                flush_stdin(s);
                                break;
                        case ITEM_LISTEN:
                                accept_conn(s);
                                break;
                        case ITEM_CONN:
                                handle_request(s, it->ptr);
                                break;
                        case ITEM_CLIENT:
                                client_input(s, it->ptr);
                                break;
                        case ITEM_EXEC_PIDFD:
                        case ITEM_EXEC_OUT:
                        case ITEM_EXEC_ERR:
                        case ITEM_EXEC_STDIN:
                        case ITEM_EXEC_CLIENT:
                                shim_exec_event(s, it);
                                break;
                        }
                }
        }
        return 0;
}

/* After the exit: what is still in the pipes goes out, then every client is told. */
void shim_drain_and_close(struct shim *s) {
        shim_exec_finish_all(s);
        for (int round = 0; round < 2; round++) {
                if (s->out.fd >= 0 && pump_output_n(s, &s->out, 0))
                        stop_output(s, &s->out);
                if (s->errp.fd >= 0 && pump_output_n(s, &s->errp, 0))
                        stop_output(s, &s->errp);
        }
        if (s->log) {
                struct berr e = { 0 };
                (void) log_out_flush(s->log, &e);
        }
        while (s->clients)
                client_remove(s, s->clients);
}
