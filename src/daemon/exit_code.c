/* exit_code.c - errno of a failed start or exec -> the exit code Docker records. */
#include "exit_code.h"

#include <errno.h>
#include <stddef.h>

/* dockerd matches the runtime's message against these errors' strerror text; we have
 * the errno itself. ENOEXEC ("exec format error") is not among them: dockerd records
 * exitUnknown for a start that fails so, and its exec default (126) for an exec. */
static const struct {
        int errnum;
        int code;
} codes[] = {
        { ENOENT, CTR_EXIT_NOT_FOUND },      /* "executable file not found", "no such file or directory" */
        { ENOTDIR, CTR_EXIT_NOT_FOUND },     /* a path component (or a mount target) is a file */
        { EACCES, CTR_EXIT_CANNOT_INVOKE },  /* no x bit, or a directory (Go's LookPath before 1.21) */
        { EISDIR, CTR_EXIT_CANNOT_INVOKE },  /* a directory, as Go 1.20+ reports it */
};

int ctr_exit_code_for_errno(int errnum, int fallback) {
        for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
                if (codes[i].errnum == errnum)
                        return codes[i].code;
        return fallback;
}
