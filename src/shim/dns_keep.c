/* dns_keep.c - the container's embedded DNS sockets, kept while berthd may come and go.
 *
 * berthd binds 127.0.0.11:53 (UDP, and a TCP listener) inside the container's network
 * namespace and serves them; it hands the shim a duplicate of each (SHIM_REQ_DNS_KEEP),
 * and a restarted berthd takes them back (SHIM_REQ_DNS_GET) instead of binding anew. So the
 * address is never unbound while the container runs: queries sent while berthd is down
 * wait in the socket's buffer (TCP connections in the listen backlog) and are answered
 * once it is back. The shim never reads them. They close when the shim exits. */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "msg.h"
#include "shim.h"

static int kept[2] = { -1, -1 }; /* [SHIM_DNS_UDP], [SHIM_DNS_TCP]: one container per shim */

static void answer(int conn, int status, const char *text, int fd) {
        struct shim_msg r;
        shim_msg_init(&r, status < 0 ? SHIM_MSG_ERROR : SHIM_MSG_STARTED);
        r.status = status;
        if (text)
                snprintf(r.text, sizeof(r.text), "%s", text);
        (void) shim_msg_send(conn, &r, fd, NULL); /* a vanished requester needs no answer */
}

void shim_dns_request(struct shim_conn *conn, const struct shim_msg *m, int fd) {
        int c = conn->item.fd;
        if (m->flags != SHIM_DNS_UDP && m->flags != SHIM_DNS_TCP) {
                if (fd >= 0)
                        close(fd);
                answer(c, -EINVAL, "no such DNS socket", -1);
                return;
        }
        int *slot = &kept[m->flags];
        if (m->type == SHIM_REQ_DNS_KEEP) {
                int type = 0;
                socklen_t len = sizeof(type);
                if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
                    type != (m->flags == SHIM_DNS_UDP ? SOCK_DGRAM : SOCK_STREAM)) {
                        if (fd >= 0)
                                close(fd);
                        answer(c, -EINVAL, "not a DNS socket", -1);
                        return;
                }
                if (*slot >= 0)
                        close(*slot);
                *slot = fd; /* received with MSG_CMSG_CLOEXEC: no exec'd process inherits it */
                answer(c, 0, NULL, -1);
                return;
        }
        if (fd >= 0)
                close(fd);
        if (*slot < 0)
                answer(c, -ENOENT, "no DNS socket kept", -1);
        else
                answer(c, 0, NULL, *slot); /* the shim keeps its own: berthd gets a duplicate */
}
