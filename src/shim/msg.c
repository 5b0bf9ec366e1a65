/* msg.c - fixed-size shim messages with fd passing. */
#include "msg.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"

void shim_msg_init(struct shim_msg *m, enum shim_msg_type type) {
        memset(m, 0, sizeof(*m));
        m->magic = SHIM_MAGIC;
        m->type = type;
}

int shim_msg_send(int sock, const struct shim_msg *m, int fd, struct berr *err) {
        struct iovec iov = { .iov_base = (void *) m, .iov_len = sizeof(*m) };
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (fd >= 0) {
                memset(&u, 0, sizeof(u));
                mh.msg_control = u.buf;
                mh.msg_controllen = sizeof(u.buf);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof(int));
        }
        for (;;) {
                ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berr_sys(err, BERR_UNAVAILABLE, "send to shim");
                if ((size_t) n != sizeof(*m))
                        return berr_set(err, BERR_INTERNAL, EIO, "send to shim: short write");
                return 0;
        }
}

int shim_msg_recv(int sock, struct shim_msg *m, int *ret_fd, struct berr *err) {
        struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
        if (ret_fd)
                *ret_fd = -1;
        ssize_t n;
        int resets = 0;
        /* ECONNRESET: the peer exited with something of ours unread; the kernel may say so
         * ahead of the message it sent before exiting, which a second read gets. */
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && (errno == EINTR || (errno == ECONNRESET && resets++ == 0)));
        if (n < 0)
                return berr_sys(err, BERR_UNAVAILABLE, "receive from shim");
        if (n == 0)
                return berr_set(err, BERR_UNAVAILABLE, EPIPE, "shim closed the connection");
        int fd = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int)))
                        memcpy(&fd, CMSG_DATA(c), sizeof(int));
        if ((size_t) n != sizeof(*m) || m->magic != SHIM_MAGIC || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
                if (fd >= 0)
                        close(fd);
                return berr_set(err, BERR_INTERNAL, EPROTO, "malformed shim message");
        }
        m->text[SHIM_MSG_TEXT_MAX - 1] = '\0';
        if (ret_fd)
                *ret_fd = fd;
        else if (fd >= 0)
                close(fd);
        return 0;
}

int shim_connect(const char *bundle_dir, struct berr *err) {
        _cleanup_close_ int dfd = open(bundle_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berr_sys(err, errno == ENOENT ? BERR_NOT_FOUND : BERR_INTERNAL, "open %s", bundle_dir);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd, SHIM_SOCK_NAME);
        _cleanup_close_ int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (s < 0)
                return berr_sys(err, BERR_INTERNAL, "socket");
        if (connect(s, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return berr_sys(err, BERR_UNAVAILABLE, "connect to shim of %s", bundle_dir);
        return TAKE_FD(s);
}
