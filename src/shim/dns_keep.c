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
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "msg.h"
#include "shim.h"

#define NAMES_MAX_BYTES (4 << 20)
#define DNS_TTL 600
#define MAX_ANSWERS 32

static int kept[2] = { -1, -1 }; /* [SHIM_DNS_UDP], [SHIM_DNS_TCP]: one container per shim */
static struct shim_item dns_item = { .kind = ITEM_DNS, .fd = -1 };
static bool serving;

/* The snapshot as read: its text, split into lines of three words, and what it was. */
static struct {
        char *text;
        char **lines; /* "kind name value", NUL-separated words */
        size_t n;
        struct stat st;
} names;

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
        if (fstatat(s->bundle_fd, SHIM_DNS_NAMES, &st, 0) < 0) {
                memset(&st, 0, sizeof(st));
        }
        if (st.st_ino == names.st.st_ino && st.st_size == names.st.st_size &&
            st.st_mtim.tv_sec == names.st.st_mtim.tv_sec && st.st_mtim.tv_nsec == names.st.st_mtim.tv_nsec)
                return;
        free(names.text);
        free(names.lines);
        names.text = NULL;
        names.lines = NULL;
        names.n = 0;
        names.st = st;
        if (!st.st_ino)
                return;
        size_t len = 0;
        struct berr err = { 0 };
        if (fs_read_file(s->bundle_fd, SHIM_DNS_NAMES, NAMES_MAX_BYTES, &names.text, &len, &err) < 0)
                return;
        if (strncmp(names.text, "berth-dns-names 1\n", 18) != 0)
                return; /* a format this shim does not know: answer nothing */
        size_t cap = 0;
        for (size_t i = 0; i < len; i++)
                cap += names.text[i] == '\n';
        names.lines = calloc(cap + 1, sizeof(char *));
        if (!names.lines)
                return;
        char *save = NULL;
        for (char *line = strtok_r(names.text + 18, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                /* three words, split in place */
                char *a = line, *b = strchr(a, ' '), *c = b ? strchr(b + 1, ' ') : NULL;
                if (!b || !c || strchr(c + 1, ' ') || names.n >= cap)
                        continue;
                *b = *c = '\0';
                names.lines[names.n++] = line;
        }
}

static const char *word(const char *line, int i) {
        while (i-- > 0)
                line += strlen(line) + 1;
        return line;
}

static bool same_name(const char *a, const char *q) {
        size_t la = strlen(a), lq = strlen(q);
        if (la && a[la - 1] == '.')
                la--;
        if (lq && q[lq - 1] == '.')
                lq--;
        return la == lq && strncasecmp(a, q, la) == 0;
}

static void push(ldns_pkt *a, const char *name, const char *type, const char *value) {
        char rr[1024];
        ldns_rr *r = NULL;
        snprintf(rr, sizeof(rr), "%s %d IN %s %s%s", name, DNS_TTL, type, value, strcmp(type, "PTR") == 0 ? "." : "");
        if (ldns_rr_new_frm_str(&r, rr, 0, NULL, NULL) == LDNS_STATUS_OK)
                ldns_pkt_push_rr(a, LDNS_SECTION_ANSWER, r);
}

/* The answer for @q from the snapshot, NULL if the name is not there. */
static ldns_pkt *answer_from_names(const ldns_pkt *q) {
        ldns_rr *qr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
        ldns_rr_type type = ldns_rr_get_type(qr);
        if (ldns_rr_get_class(qr) != LDNS_RR_CLASS_IN)
                return NULL;
        _cleanup_free_ char *name = ldns_rdf2str(ldns_rr_owner(qr));
        if (!name)
                return NULL;
        const char *want = type == LDNS_RR_TYPE_PTR ? "ptr" : NULL;
        bool found = false;
        ldns_pkt *a = ldns_pkt_new();
        if (!a)
                return NULL;
        size_t n = 0;
        for (size_t i = 0; i < names.n && n < MAX_ANSWERS; i++) {
                const char *kind = names.lines[i];
                if (!same_name(word(kind, 1), name))
                        continue;
                if (want ? strcmp(kind, want) != 0 : strcmp(kind, "ptr") == 0)
                        continue;
                found = true;
                bool a4 = strcmp(kind, "a") == 0, a6 = strcmp(kind, "aaaa") == 0;
                if (want) {
                        push(a, name, "PTR", word(kind, 2));
                        n++;
                        break; /* one name per address, as berthd answers */
                } else if ((a4 && (type == LDNS_RR_TYPE_A || type == LDNS_RR_TYPE_ANY)) ||
                           (a6 && (type == LDNS_RR_TYPE_AAAA || type == LDNS_RR_TYPE_ANY))) {
                        push(a, name, a4 ? "A" : "AAAA", word(kind, 2));
                        n++;
                }
        }
        if (!found) {
                ldns_pkt_free(a);
                return NULL;
        }
        /* The name exists; with no record of the type asked, the answer is empty (NOERROR). */
        ldns_pkt_set_id(a, ldns_pkt_id(q));
        ldns_pkt_set_qr(a, true);
        ldns_pkt_set_aa(a, true);
        ldns_pkt_set_rd(a, ldns_pkt_rd(q));
        ldns_pkt_set_ra(a, true);
        ldns_pkt_set_opcode(a, LDNS_PACKET_QUERY);
        ldns_pkt_set_rcode(a, LDNS_RCODE_NOERROR);
        ldns_pkt_push_rr(a, LDNS_SECTION_QUESTION, ldns_rr_clone(qr));
        return a;
}

/* One datagram, if any: false when there was none. */
static bool serve_one(struct shim *s, int fd) {
        uint8_t buf[4096];
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof(from);
        ssize_t len = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *) &from, &fromlen);
        if (len < 0)
                return false;
        ldns_pkt *q = NULL;
        if (len < 12 || ldns_wire2pkt(&q, buf, (size_t) len) != LDNS_STATUS_OK)
                return true;
        ldns_rr_list *ql = ldns_pkt_question(q);
        if (!ldns_pkt_qr(q) && ldns_pkt_get_opcode(q) == LDNS_PACKET_QUERY && ql && ldns_rr_list_rr_count(ql) == 1) {
                names_reload(s);
                ldns_pkt *a = answer_from_names(q);
                uint8_t *wire = NULL;
                size_t wlen = 0;
                if (a && ldns_pkt2wire(&wire, a, &wlen) == LDNS_STATUS_OK && wlen <= 512)
                        (void) sendto(fd, wire, wlen, MSG_DONTWAIT, (struct sockaddr *) &from, fromlen);
                free(wire);
                ldns_pkt_free(a);
        }
        ldns_pkt_free(q);
        return true;
}

void shim_dns_event(struct shim *s) {
        for (int i = 0; serving && i < 64 && serve_one(s, dns_item.fd); i++) /* then the others get a turn */
                ;
}
