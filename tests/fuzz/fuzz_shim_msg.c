/* fuzz_shim_msg.c - a message on a shim socket as the receiver reads it (shim_msg_recv:
 * berthd reads the shim's answers, berth-shim reads berthd's requests; a container that
 * got at a shim's socket could write anything). Any datagram either gives a message with
 * the magic and a NUL-terminated text, or an error. */
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "shim/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        int sp[2];
        if (size > 65536 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return 0;
        int sndbuf = 1 << 20;
        (void) setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        if (send(sp[1], data, size, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t) size) {
                if (size == 0)
                        close(sp[1]), sp[1] = -1; /* an empty datagram reads as EOF anyway */
                struct shim_msg m;
                int fd = -2;
                struct berr err = { 0 };
                if (shim_msg_recv(sp[0], &m, &fd, &err) == 0) {
                        if (m.magic != SHIM_MAGIC || memchr(m.text, '\0', sizeof(m.text)) == NULL || fd != -1)
                                abort();
                } else if (!err.msg[0]) {
                        abort(); /* every failure says why */
                }
        }
        close(sp[0]);
        if (sp[1] >= 0)
                close(sp[1]);
        return 0;
}
