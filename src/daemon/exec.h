/* exec.h - docker exec: exec instances (create, start, inspect, resize). The process
 * runs under the container's shim (SHIM_REQ_EXEC); berthd keeps the instance's
 * configuration and state in memory, as dockerd does: instances do not survive a
 * berthd restart, and a container's go when it is removed. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

struct berr;
struct daemon;
struct container;

/* POST /containers/{id}/exec: @body is Docker's ExecConfig. */
int exec_create(struct daemon *d, struct container *c, json_t *body, char ret_id[65], struct berr *err);

/* POST /exec/{id}/start, first half: find the instance and claim it (409 when it ran or
 * runs already, or its container is not running). *ret_c holds a container reference.
 * @start_tty: the start request's Tty, which decides the stream's framing (raw, or
 * multiplexed with 8-byte headers) as in dockerd; the exec's own Tty decides the pty. */
int exec_claim(struct daemon *d, const char *id, unsigned rows, unsigned cols, bool start_tty, struct container **ret_c,
               struct berr *err);
/* Second half. @fd: the client's stream (hijacked), or -1 for Detach: then it returns once
 * the process runs, and a thread of its own records the exit. With a stream it returns
 * when the process has ended and its exit is recorded (or the client detached and the
 * process ended, or berthd shuts down). Errors before the process ran are written to the
 * stream as dockerd does; the return value is for Detach. */
int exec_run(struct daemon *d, const char *id, struct container *c, int fd, struct berr *err);
/* The same, calling @before_start(@fd) once the process is ready to go and just before the
 * shim is asked to run it (the API waits there for the client to have read the 101's
 * headers: the preparation overlaps that wait). */
int exec_run_hooked(struct daemon *d, const char *id, struct container *c, int fd, void (*before_start)(int fd),
                    struct berr *err);

/* Second half without a hijacked stream (dockerode's hijack:false): the process runs in a
 * thread of its own writing to a socket; *ret_fd is the other end, read until EOF (no
 * stdin). Takes over the reference on @c. */
int exec_run_relayed(struct daemon *d, const char *id, struct container *c, int *ret_fd, struct berr *err);

int exec_inspect(struct daemon *d, const char *id, json_t **ret, struct berr *err);
int exec_resize(struct daemon *d, const char *id, unsigned rows, unsigned cols, struct berr *err);

/* ExecIDs of container inspect: the running instances of @ctr_id, or JSON null. */
json_t *exec_ids_json(struct daemon *d, const char *ctr_id);
/* The container is gone: forget its instances. */
void exec_forget_container(struct daemon *d, const char *ctr_id);
/* Daemon shutdown: free every instance. */
void exec_forget_all(struct daemon *d);
/* Run @cmd in @c as a health-check probe (not listed, no events): its exit code in
 * *ret_code, the first @out_size - 1 bytes of its output (stdout and stderr) in @out.
 * Past @timeout_ms it is killed: ETIMEDOUT and *ret_code -1. */
int exec_probe(struct daemon *d, struct container *c, json_t *cmd, int timeout_ms, int *ret_code, char *out,
               size_t out_size, struct berr *err);
