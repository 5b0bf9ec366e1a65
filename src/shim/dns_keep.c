/* dns_keep.c - the container's embedded DNS sockets, kept while berthd may come and go.
 *
 * berthd binds 127.0.0.11:53 (UDP, and a TCP listener) inside the container's network
 * namespace and serves them; it hands the shim a duplicate of each (SHIM_REQ_DNS_KEEP),
 * and a restarted berthd takes them back (SHIM_REQ_DNS_GET) instead of binding anew. So the
 * address is never unbound while the container runs.
 *
 * While berthd is down (from the moment its last watch connection closes until it takes
 * the sockets back), the shim answers A, AAAA and PTR queries over UDP for the names in the
 * bundle's SHIM_DNS_NAMES snapshot, which berthd keeps up to date (re-read when it
 * changes). Anything else is left unanswered (the client asks again, and a berthd that is
 * back answers or forwards it); TCP connections wait in the listen backlog for berthd.
 * Messages are parsed and built with ldns: they come from the container. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "dns_names.h"
#include "msg.h"
#include "shim.h"

#define NAMES_MAX_BYTES (4 << 20)

static int kept[2] = { -1, -1 }; /* [SHIM_DNS_UDP], [SHIM_DNS_TCP]: one container per shim */
static struct shim_item dns_item = { .kind = ITEM_DNS, .fd = -1 };
static bool serving;

/* The snapshot as read, and which file it was. */
static struct dns_names names;
static struct stat names_st;

static void answer(int conn, int status, const char *text, int fd) {
        struct shim_msg r;
        shim_msg_init(&r, status < 0 ? SHIM_MSG_ERROR : SHIM_MSG_STARTED);
        r.status = status;
        if (text)
                snprintf(r.text, sizeof(r.text), "%s", text);
        (void) shim_msg_send(conn, &r, fd, NULL); /* a vanished requester needs no answer */
}

static void stop_serving(struct shim *s) {
        if (!serving)
                return;
        (void) epoll_ctl(s->epfd, EPOLL_CTL_DEL, dns_item.fd, NULL);
        dns_item.fd = -1;
        serving = false;
}

void shim_dns_berthd_gone(struct shim *s) {
        for (struct shim_conn *c = s->conns; c; c = c->next)
                if (c->is_watch)
                        return; /* berthd still watches: it serves */
        if (serving || kept[SHIM_DNS_UDP] < 0)
                return;
        dns_item.fd = kept[SHIM_DNS_UDP];
        serving = shim_ep_add(s, &dns_item, EPOLLIN) == 0;
}

void shim_dns_request(struct shim *s, struct shim_conn *conn, const struct shim_msg *m, int fd) {
        int c = conn->item.fd;
        if (m->flags != SHIM_DNS_UDP && m->flags != SHIM_DNS_TCP) {
                if (fd >= 0)
                        close(fd);
                answer(c, -EINVAL, "no such DNS socket", -1);
                return;
        }
        /* berthd is here (again) and serves: the shim only keeps. */
        stop_serving(s);
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

/* ---- answering from the snapshot ---- */

static void names_reload(struct shim *s) {
        struct stat st;
        if (fstatat(s->bundle_fd, SHIM_DNS_NAMES, &st, 0) < 0)
                memset(&st, 0, sizeof(st));
        if (st.st_ino == names_st.st_ino && st.st_size == names_st.st_size &&
            st.st_mtim.tv_sec == names_st.st_mtim.tv_sec && st.st_mtim.tv_nsec == names_st.st_mtim.tv_nsec)
                return;
        dns_names_free(&names);
        names_st = st;
        char *text = NULL;
        size_t len = 0;
        struct berr err = { 0 };
        if (st.st_ino && fs_read_file(s->bundle_fd, SHIM_DNS_NAMES, NAMES_MAX_BYTES, &text, &len, &err) == 0 &&
            dns_names_parse(&names, text) < 0)
                dns_names_free(&names);
}

/* One datagram, if any: false when there was none. */
static bool serve_one(struct shim *s, int fd) {
        uint8_t buf[4096];
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof(from);
        ssize_t len = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *) &from, &fromlen);
        if (len < 0)
                return false;
        names_reload(s);
        size_t wlen = 0;
        _cleanup_free_ uint8_t *wire = dns_names_answer(&names, buf, (size_t) len, &wlen);
        if (wire)
                (void) sendto(fd, wire, wlen, MSG_DONTWAIT, (struct sockaddr *) &from, fromlen);
        return true;
}

void shim_dns_event(struct shim *s) {
        for (int i = 0; serving && i < 64 && serve_one(s, dns_item.fd); i++) /* then the others get a turn */
                ;
}
