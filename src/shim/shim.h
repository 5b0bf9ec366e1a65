/* shim.h - berth-shim's state: one container, its stdio, its log, its clients. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "logdrv.h"
#include "protocol.h"

struct rt_container;
struct rt_stdio;
struct oci_rt;

struct shim_options {
        char *id;
        json_t *log;         /* shim.json's "log": the driver and its options (logdrv.h) */
        bool tty, open_stdin, stdin_once;
        bool autostart; /* shim.json "autostart": start the init once created (protocol.h) */
};

/* What an epoll event points at. */
enum shim_item_kind {
        ITEM_SYNC,
        ITEM_PIDFD,
        ITEM_STDOUT,
        ITEM_STDERR,
        ITEM_STDIN,
        ITEM_LISTEN,
        ITEM_CONN,
        ITEM_CLIENT,
        ITEM_EXEC_PIDFD, /* exec.c: ptr is the struct shim_exec */
        ITEM_EXEC_OUT,
        ITEM_EXEC_ERR,
        ITEM_EXEC_STDIN,
        ITEM_EXEC_CLIENT,
};

struct shim_exec;
struct berr;

struct shim_item {
        enum shim_item_kind kind;
        int fd;
        void *ptr;
};

/* A control connection on shim.sock. */
struct shim_conn {
        struct shim_item item;
        bool is_watch;
        struct shim_client *client; /* an attach stream tied to this connection */
        struct shim_exec *exec;     /* an exec reporting its exit on this connection */
        struct shim_conn *next;
};

/* An attach stream: the client's socket as berthd received it. */
struct shim_client {
        struct shim_item item;
        uint32_t flags;
        uint8_t detach_keys[SHIM_DETACH_KEYS_MAX];
        size_t n_detach_keys, detach_matched;
        bool stdin_done;
        struct shim_conn *conn;
        struct shim_client *next;
};

struct shim {
        int bundle_fd;
        struct shim_options opt;
        struct rt_container *ctr; /* the built-in runtime's container, or */
        struct oci_rt *oci;       /* an external OCI runtime's (oci_runtime.h) */
        pid_t init_pid;
        int epfd;
        struct shim_item sync, pidfd, out, errp, in, listen;
        int pty_master; /* -1 without a TTY */
        struct log_out *log;
        struct shim_conn *conns;
        struct shim_client *clients;
        struct shim_exec *execs;
        char stdin_buf[65536];
        size_t stdin_len;
        bool exited;
        bool frozen; /* paused: no exec may join a frozen cgroup */
        bool output_watched; /* out and errp joined the epoll set before the create (main.c) */
};

/* io.c */
int shim_io_setup(struct shim *s, int ctr_fds[3], struct berr *err);
int shim_io_set_console(struct shim *s, int master, struct berr *err);
int shim_loop(struct shim *s);
/* After the start has been answered: give back what start-up used (main.c). */
void shim_release_startup_memory(void);
int shim_add_client(struct shim *s, struct shim_conn *conn, int fd, const struct shim_msg *m);
void shim_drain_and_close(struct shim *s);
int shim_ep_add(struct shim *s, struct shim_item *it, uint32_t events);
int shim_ep_set(struct shim *s, struct shim_item *it, uint32_t events); /* 0: out of the set */
/* One piece of output to a client: with @multiplex, Docker's 8-byte header first
 * (@stream 1 stdout, 2 stderr). 0 or -errno. */
int shim_write_frame(int fd, int stream, const void *data, size_t len, bool multiplex);
void shim_conn_close(struct shim *s, struct shim_conn *c);
/* Client input through the detach-key matcher: ordinary bytes go to @out (up to @cap);
 * true once the whole sequence was seen (the rest of @in is dropped). */
bool shim_detach_feed(const uint8_t *keys, size_t n_keys, size_t *matched, const char *in, size_t n, char *out,
                      size_t *len, size_t cap);

/* dns_keep.c: SHIM_REQ_DNS_KEEP and _GET (takes @fd); berthd's watch connection closed
 * (if it was the last, berth-dns answers names until berthd is back). */
void shim_dns_request(struct shim *s, struct shim_conn *conn, const struct shim_msg *m, int fd);
void shim_dns_berthd_gone(struct shim *s);

/* exec.c */
int shim_exec_start(struct shim *s, struct shim_conn *conn, const struct shim_msg *m, int fd, struct berr *err);
pid_t shim_exec_pid(struct shim_conn *conn);
int shim_exec_resize(struct shim *s, const char *id, unsigned rows, unsigned cols);
int shim_exec_kill(struct shim *s, const char *id, int sig);
void shim_exec_event(struct shim *s, struct shim_item *it);
void shim_exec_conn_gone(struct shim_exec *e);
void shim_exec_finish_all(struct shim *s);

/* oci_runtime.c: the container's runtime, the built-in one or an external OCI runtime
 * (s->oci). create fills s->init_pid and s->pidfd.fd; *ret_console: the pty master with a
 * TTY (owned by the runtime's object), else -1. */
int shim_rt_create(struct shim *s, const char *bundle, const json_t *spec, const struct rt_stdio *io, int *ret_console,
                   struct berr *err);
int shim_rt_start(struct shim *s, struct berr *err);
int shim_rt_kill(struct shim *s, int sig, bool all, struct berr *err);
int shim_rt_pause(struct shim *s, bool pause, struct berr *err);
int shim_rt_exec(struct shim *s, const char *exec_id, const json_t *process, const struct rt_stdio *io, unsigned rows,
                 unsigned cols, pid_t *ret_pid, int *ret_pidfd, int *ret_console, struct berr *err);
int shim_rt_update(struct shim *s, struct berr *err); /* SHIM_REQ_UPDATE: external runtimes only */
bool shim_rt_oom_killed(struct shim *s);
int shim_rt_destroy(struct shim *s, struct berr *err);
bool shim_rt_ready(const struct shim *s); /* created (exec and kill have something to act on) */
