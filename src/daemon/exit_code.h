/* exit_code.h - the exit code Docker records when a container's or an exec's command
 * could not be run, decided from the errno the runtime reported (carried in
 * shim_msg.status), never from the wording of the message. */
#pragma once

/* dockerd's codes (daemon/start.go exitUnknown, daemon/exec.go, translateContainerdStartErr). */
enum {
        CTR_EXIT_CANNOT_INVOKE = 126, /* the command is there but cannot be run */
        CTR_EXIT_NOT_FOUND = 127,     /* the command (or a path on the way) is not there */
        CTR_EXIT_START_UNKNOWN = 128, /* a container start failed for another reason */
};

/* 127 for ENOENT and ENOTDIR, 126 for EACCES and EISDIR, as dockerd translates the
 * runtime's errors; @fallback for anything else (CTR_EXIT_START_UNKNOWN for a container
 * start, CTR_EXIT_CANNOT_INVOKE for an exec). @errnum is positive; 0 gives @fallback. */
int ctr_exit_code_for_errno(int errnum, int fallback);
