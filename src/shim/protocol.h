/* protocol.h - what berthd and berth-shim say to each other (DESIGN.md "Processes").
 *
 * Files in the container's bundle directory (RUN-ROOT/containers/<id>/):
 *   config.json  the OCI spec (berthd writes it)
 *   shim.json    the shim's options (berthd writes it): see struct shim_options; with
 *                "runtime" an external OCI runtime runs the container (oci_runtime.h);
 *                "autostart": no START comes (see Start-up)
 *   shim.sock    the shim's control socket (SOCK_SEQPACKET), bound relative to the bundle
 *   shim.pid     the shim's pid; init.pid the container init's pid (shim writes them)
 *   exit.json    the exit record, written atomically when the container has exited:
 *                {"ExitCode":N,"OOMKilled":b,"FinishedAt":"RFC3339Nano","Error":"..."}
 *                berthd deletes it once recorded (it survives a berthd restart).
 *   runtime.lock an external runtime's container: held (flock) by the shim's deferred
 *                `RUNTIME delete`, which runs after exit.json, once berthd saw the exit;
 *                the next create waits for it, and berthd leaves the runtime's state
 *                to it while held (oci_runtime.h).
 *
 * Start-up: berthd runs `berth-shim BUNDLE-DIR` with a SOCK_SEQPACKET socketpair on fd 3.
 * The shim detaches (setsid, double fork), creates the container (init waits before
 * execve) and sends SHIM_MSG_CREATED with the init's pid. berthd may then pass attach
 * streams (SHIM_REQ_ATTACH with the fd) so no output is missed, and sends SHIM_REQ_START.
 * (With "autostart": true in shim.json, berthd had no attach stream to hand over and sends
 * no START: the shim starts the init as soon as it has sent CREATED and watches its
 * output, one round trip less; STARTED or ERROR follows CREATED, fd 3 as with
 * SHIM_START_WATCH.)
 * The shim answers SHIM_MSG_STARTED or SHIM_MSG_ERROR and closes fd 3, or, when START
 * had SHIM_START_WATCH in its flags, keeps fd 3 as a control connection that is already
 * a watch (as after SHIM_REQ_WATCH): berthd's monitor needs no connection of its own, one
 * connect and round trip less per start. Later requests come on shim.sock, one
 * fixed-size message each, answered by one struct shim_resp.
 *
 * A spare: berthd may start `berth-shim --spare` before it has a container for it. It
 * detaches as above and waits on fd 3 for SHIM_REQ_BUNDLE (text: the bundle directory),
 * then goes on as if started with that directory; EOF first (berthd stopped, or gave the
 * spare up) ends it. Starting a shim (exec, dynamic linking, detaching) was the largest
 * step of a container's start; a spare takes it off the critical path.
 */
#pragma once

#include <stdint.h>

#define SHIM_MAGIC 0x62727468u /* "brth" */
#define SHIM_SOCK_NAME "shim.sock"
#define SHIM_EXIT_NAME "exit.json"
#define SHIM_OPTIONS_NAME "shim.json"
#define SHIM_PID_NAME "shim.pid"
#define SHIM_INIT_PID_NAME "init.pid"
#define SHIM_UPDATE_NAME "update.json"
#define SHIM_RUNTIME_LOCK_NAME "runtime.lock"

enum shim_msg_type {
        SHIM_MSG_CREATED = 1, /* shim -> berthd: pid = init's pid */
        SHIM_MSG_STARTED,     /* shim -> berthd */
        SHIM_MSG_ERROR,       /* shim -> berthd: message */
        SHIM_REQ_START,       /* berthd -> shim (on fd 3 only) */
        SHIM_REQ_ATTACH,      /* + one fd: the client's stream; flags SHIM_ATTACH_* */
        SHIM_REQ_KILL,        /* signal; with text set: that exec's process only */
        SHIM_REQ_RESIZE,      /* rows, cols */
        SHIM_REQ_WATCH,       /* keep the connection; it reaches EOF when the shim exits */
        SHIM_REQ_CLOSE_STDIN, /* close the container's stdin */
        /* docker exec. text: the exec ID; the process (an OCI "process" object) waits in
         * the bundle's exec-<ID>.json, which the shim reads and removes. flags: SHIM_ATTACH_*
         * for the streams the client wants, SHIM_EXEC_TTY; rows/cols: the first console
         * size (0: none); detach keys as for ATTACH; + the client's stream as the fd
         * (none: detached, stdio is /dev/null). Answered by STARTED (pid) or ERROR; the
         * connection stays open and gets EXITED (status: the exit code, 128+signal when
         * killed) once the process has ended and its output went out. The shim closes its
         * copy of the stream first: the client sees EOF when berthd closes its own. */
        SHIM_REQ_EXEC,
        SHIM_MSG_EXITED,
        SHIM_MSG_DETACHED, /* exec: the client detached (detach keys); EXITED follows later */
        SHIM_REQ_PAUSE,    /* freeze the container's cgroup (docker pause) */
        SHIM_REQ_RESUME,   /* thaw it (docker unpause) */
        /* The embedded DNS server's sockets outlive berthd in the shim (dns_keep.c).
         * KEEP + one fd: keep it (flags SHIM_DNS_UDP or SHIM_DNS_TCP; replaces the one kept
         * before). GET (flags): answered by STARTED with that fd, or ERROR -ENOENT. */
        SHIM_REQ_DNS_KEEP,
        SHIM_REQ_DNS_GET,
        SHIM_REQ_BUNDLE, /* berthd -> a spare shim (fd 3): text = the bundle directory */
        /* docker update of a container run by an external OCI runtime: the new values (an
         * OCI linux.resources object) wait in the bundle's SHIM_UPDATE_NAME; the shim runs
         * the runtime's `update --resources`. (The built-in runtime's cgroup is written by
         * berthd itself: rt_cgroup_update.) */
        SHIM_REQ_UPDATE,
        _SHIM_MSG_MAX,
};
/* SHIM_REQ_RESIZE with text set: resize that exec's TTY instead of the container's. */
#define SHIM_EXEC_FILE_PREFIX "exec-"

enum {
        SHIM_ATTACH_STDIN = 1 << 0,
        SHIM_ATTACH_STDOUT = 1 << 1,
        SHIM_ATTACH_STDERR = 1 << 2,
        SHIM_ATTACH_MULTIPLEX = 1 << 3, /* 8-byte stream headers (no TTY) */
        SHIM_EXEC_TTY = 1 << 4,         /* exec: a pty of the container's devpts */
        SHIM_START_WATCH = 1 << 5,      /* START: fd 3 stays open as a watch connection */
};

enum { SHIM_DNS_UDP = 0, SHIM_DNS_TCP = 1 };
/* In the bundle: the names the shim answers while berthd is down (written by berthd). */
#define SHIM_DNS_NAMES "dns-names"

#define SHIM_DETACH_KEYS_MAX 16
#define SHIM_MSG_TEXT_MAX 1024

struct shim_msg {
        uint32_t magic;
        uint32_t type;
        int32_t pid;
        int32_t signal;
        uint32_t flags;
        uint32_t rows, cols;
        int32_t status;                           /* 0 or a negative errno */
        uint8_t detach_keys[SHIM_DETACH_KEYS_MAX]; /* raw bytes */
        uint32_t n_detach_keys;
        char text[SHIM_MSG_TEXT_MAX];             /* error message, NUL-terminated */
};
