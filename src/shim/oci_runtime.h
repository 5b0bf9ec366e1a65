/* oci_runtime.h - an external OCI runtime (runc, crun, runsc, ...) driven by berth-shim
 * through the OCI runtime command line, instead of the in-process runtime (runtime.h).
 *
 * berthd names the runtime in shim.json: "runtime": {"name": "runc", "path": "/usr/sbin/runc",
 * "args": [runtimeArgs...], "root": "EXEC-ROOT/runtime-runc"}. The shim then runs
 *   PATH [args] --root ROOT --log BUNDLE/runtime.log --log-format json COMMAND ...
 * with COMMAND one of create (--bundle, --pid-file, --console-socket with a TTY), start,
 * kill [--all], pause, resume, exec (--process, --pid-file, --detach, --console-socket),
 * update --resources and delete --force. The shim stays the parent (child subreaper) of
 * the container's init and of exec processes once the runtime command has exited, so it
 * waits for them and records their exit status exactly as with the built-in runtime. stdio:
 * the shim's pipes are the runtime's own (runc passes them through to the process), or the
 * pty master it receives on a console socket of its own with a TTY. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct berr;
struct rt_stdio;

struct oci_rt {
        char *name, *path, *root;
        char **args; /* runtimeArgs, NULL-terminated */
        size_t n_args;
        char *id;
        char *bundle;   /* absolute */
        int bundle_fd;  /* not owned */
        char *log_path; /* BUNDLE/runtime.log */
        char *cgroups_path; /* the spec's linux.cgroupsPath (OOM kills are read there) */
        pid_t pid;      /* the container's init, once created */
        int pidfd;
        int console; /* the pty master with a TTY, else -1 */
        bool started;
};

#define OCI_RT_MAX_ARGS 64
#define OCI_RT_LOG_NAME "runtime.log"

/* shim.json's "runtime" object; @bundle must be absolute. */
int oci_rt_parse(const json_t *o, const char *id, const char *bundle, int bundle_fd, struct oci_rt **ret,
                 struct berr *err);
struct oci_rt *oci_rt_free(struct oci_rt *rt); /* accepts NULL, returns NULL */

/* The full argv for @cmd (a NULL-terminated list of words: the command and its options):
 * PATH ARGS... --root ROOT --log LOG --log-format json CMD...; an array of borrowed
 * strings (free the array only). */
int oci_rt_argv(const struct oci_rt *rt, const char *const *cmd, char ***ret, struct berr *err);

/* The last error a runtime wrote to its JSON log (lines {"level":"error","msg":...}) into
 * @buf; false when there is none. */
bool oci_rt_log_error(const char *text, size_t len, char *buf, size_t size);

/* The errno a runtime's message stands for, for Docker's exit codes (127: not found,
 * 126: cannot invoke): ENOENT, EACCES, EISDIR, ENOTDIR, ESRCH (not running), else EIO. */
int oci_rt_errno_of(const char *msg);

/* What the runtime said without the wrappers runc puts around the cause ("runc create
 * failed: ", "exec failed: ", "unable to start container process: "). */
const char *oci_rt_strip_prefixes(const char *msg);

/* @spec: the bundle's config.json as berthd wrote it (already on disk). */
int oci_rt_create(struct oci_rt *rt, const json_t *spec, const struct rt_stdio *io, struct berr *err);
int oci_rt_start(struct oci_rt *rt, struct berr *err);
int oci_rt_kill(struct oci_rt *rt, int sig, bool all, struct berr *err);
int oci_rt_pause(struct oci_rt *rt, bool pause, struct berr *err);
/* @exec_id names the process file; @rows, @cols (0: none) the first size of its TTY. The
 * process becomes the caller's child once the runtime exited (*ret_pidfd owned by the
 * caller). */
int oci_rt_exec(struct oci_rt *rt, const char *exec_id, const json_t *process, const struct rt_stdio *io,
                unsigned rows, unsigned cols, pid_t *ret_pid, int *ret_pidfd, int *ret_console, struct berr *err);
/* docker update: `update --resources FILE` (@name: a file in the bundle holding an OCI
 * linux.resources object). */
int oci_rt_update(struct oci_rt *rt, const char *name, struct berr *err);
bool oci_rt_oom_killed(struct oci_rt *rt);
/* After the init has exited: delete --force (kills what is left, removes the cgroup and the
 * runtime's state). */
int oci_rt_delete(struct oci_rt *rt, struct berr *err);
/* The delete once the exit is recorded (exit.json), the shim's last act: closes every
 * descriptor (berthd's watch connections, shim.sock: berthd has the exit at once) and
 * spawns the runtime with the bundle's SHIM_RUNTIME_LOCK_NAME held, without waiting for
 * it (a Go binary's start: ~10 ms); the next create of the same ID waits for the lock.
 * Falls back to oci_rt_delete when it cannot. */
void oci_rt_delete_detached(struct oci_rt *rt);
