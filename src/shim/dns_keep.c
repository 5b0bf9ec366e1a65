/* dns_keep.c - the container's embedded DNS sockets, kept while berthd may come and go.
 *
 * berthd binds 127.0.0.11:53 (UDP, and a TCP listener) inside the container's network
 * namespace and serves them; it hands the shim a duplicate of each (SHIM_REQ_DNS_KEEP),
 * and a restarted berthd takes them back (SHIM_REQ_DNS_GET) instead of binding anew. So the
 * address is never unbound while the container runs.
 *
 * While berthd is down (from the moment its last watch connection closes until it takes
 * the sockets back), the helper berth-dns (dns_main.c) answers A, AAAA and PTR over UDP
 * from the bundle's SHIM_DNS_NAMES snapshot; TCP connections wait in the listen backlog
 * for berthd. The shim only starts and stops it: it links no DNS library itself. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "msg.h"
#include "shim.h"

static int kept[2] = { -1, -1 }; /* [SHIM_DNS_UDP], [SHIM_DNS_TCP]: one container per shim */
static pid_t helper = -1;  /* berth-dns, while berthd is down */

static void answer(int conn, int status, const char *text, int fd) {
        struct shim_msg r;
        shim_msg_init(&r, status < 0 ? SHIM_MSG_ERROR : SHIM_MSG_STARTED);
        r.status = status;
        if (text)
                snprintf(r.text, sizeof(r.text), "%s", text);
        (void) shim_msg_send(conn, &r, fd, NULL); /* a vanished requester needs no answer */
}

static void stop_serving(void) {
        if (helper <= 0)
                return;
        (void) kill(helper, SIGKILL);
        (void) waitpid(helper, NULL, 0);
        helper = -1;
}

/* berth-dns next to this program, with the socket on fd 3 and the bundle on fd 4. We run
 * from a sealed in-memory copy (/proc/self/exe is no path): berthd's argv[0] names the file. */
static pid_t start_helper(int sock, int bundle_fd) {
        char self[4096];
        size_t n = strlen(program_invocation_name);
        if (program_invocation_name[0] != '/' || n >= sizeof(self) - 16)
                return -1;
        memcpy(self, program_invocation_name, n + 1);
        char *slash = strrchr(self, '/');
        if (!slash)
                return -1;
        strcpy(slash + 1, "berth-dns");
        pid_t pid = fork();
        if (pid != 0)
                return pid;
        /* The child: only async-signal-safe calls until execve. */
        int a = fcntl(sock, F_DUPFD, 10), b = fcntl(bundle_fd, F_DUPFD, 10); /* either may be 3 or 4 */
        if (a < 0 || b < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0) /* (dup2 clears close-on-exec) */
                _exit(127);
        close(a);
        close(b);
        char *argv[] = { self, NULL };
        char *envp[] = { NULL };
        execve(self, argv, envp);
        _exit(127);
}

void shim_dns_berthd_gone(struct shim *s) {
        for (struct shim_conn *c = s->conns; c; c = c->next)
                if (c->is_watch)
                        return; /* berthd still watches: it serves */
        if (helper > 0 || kept[SHIM_DNS_UDP] < 0)
                return;
        helper = start_helper(kept[SHIM_DNS_UDP], s->bundle_fd);
}

void shim_dns_request(struct shim *s, struct shim_conn *conn, const struct shim_msg *m, int fd) {
        int c = conn->item.fd;
        if (m->flags != SHIM_DNS_UDP && m->flags != SHIM_DNS_TCP) {
                if (fd >= 0)
                        close(fd);
                answer(c, -EINVAL, "no such DNS socket", -1);
                return;
        }
        /* berthd is here (again) and serves: the helper goes. */
        stop_serving();
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
