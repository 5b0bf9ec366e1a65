/* dns.c - the embedded DNS server at 127.0.0.11:53 of containers on user networks.
 *
 * One thread in berthd serves every container: for each, a UDP socket is created inside
 * the container's network namespace (setns in the calling thread, socket, bind, setns
 * back: a socket stays in the namespace it was made in) and added to one epoll set.
 * Names of containers on the asker's networks (container names, aliases, hostnames, short
 * IDs) are answered here, A, AAAA and PTR (in-addr.arpa and ip6.arpa); every other query
 * is forwarded, from berthd's own namespace, to the host's resolvers (IPv4 or IPv6; so
 * 127.0.0.53 works), by a short-lived thread so a
 * slow upstream holds up no one. Messages are parsed and built with ldns: they are
 * hostile input. The sockets outlive berthd in the container's shim, which answers local
 * names from the snapshot written here while berthd is down (docs/architecture.md). */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <net/if.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "network.h"
#include "store_int.h"

#define DNS_MAX_FORWARDS 64
#define DNS_MAX_FORWARDS_PER_CTR 8
#define DNS_UPSTREAM_TIMEOUT_MS 2000
#define DNS_TTL 600
#define DNS_SNAPSHOT_MS 200 /* how soon a name change reaches the shims' snapshots */

unsigned net_names_gen;

struct dns_sock {
        char ctr_id[65];
        int fd;
        int tfd;                /* the TCP listener on 127.0.0.11:53 */
        int *inflight;          /* forwards of this container in flight (shared with them) */
        struct sockaddr_in6 ups[3]; /* --dns servers (IPv4 ones as sockaddr_in), dialled from the container's namespace */
        size_t n_ups;
        char ns_path[4200];
        char *snap_dir, *snap_name; /* where the shim reads the names while berthd is down */
        uint64_t snap_hash;         /* of the text written there last */
        struct dns_sock *next;
};

struct dns {
        struct net_store *s;
        int epfd;
        int wake[2];
        pthread_t thread;
        bool running;
        pthread_mutex_t lock; /* the socket list */
        struct dns_sock *socks;
        unsigned snap_gen;    /* net_names_gen the snapshots were written at (atomic) */
        int forwards;         /* in flight (atomic) */
};

/* ---- names ---- */

static bool name_eq(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        if (la && a[la - 1] == '.')
                la--;
        if (lb && b[lb - 1] == '.')
                lb--;
        return la == lb && strncasecmp(a, b, la) == 0;
}

static bool on_network(const struct network *w, const char *ctr_id) {
        for (size_t i = 0; i < w->n_eps; i++)
                if (strcmp(w->eps[i].ctr_id, ctr_id) == 0)
                        return true;
        return false;
}

/* IPv6 addresses for @name as seen from container @asker (its networks only). Caller holds s->lock. */
static size_t lookup6_locked(struct net_store *s, const char *asker, const char *name, uint8_t (*out)[16], size_t max) {
        size_t n = 0;
        for (struct network *w = s->nets; w; w = w->next) {
                if (w->info.predefined || !on_network(w, asker))
                        continue;
                for (size_t i = 0; i < w->n_eps; i++) {
                        struct endpoint *e = &w->eps[i];
                        bool hit = false;
                        for (char **p = e->names; p && *p && !hit; p++)
                                hit = name_eq(*p, name);
                        if (!hit || !e->ep.has_ip6)
                                continue;
                        bool dup = false;
                        for (size_t k = 0; k < n; k++)
                                dup |= memcmp(out[k], e->ep.ip6, 16) == 0;
                        if (!dup && n < max)
                                memcpy(out[n++], e->ep.ip6, 16);
                }
        }
        return n;
}

/* Addresses for @name as seen from container @asker (its networks only). Caller holds s->lock. */
static size_t lookup_locked(struct net_store *s, const char *asker, const char *name, uint32_t *out, size_t max) {
        size_t n = 0;
        for (struct network *w = s->nets; w; w = w->next) {
                if (w->info.predefined || !on_network(w, asker))
                        continue;
                for (size_t i = 0; i < w->n_eps; i++) {
                        struct endpoint *e = &w->eps[i];
                        bool hit = false;
                        for (char **p = e->names; p && *p && !hit; p++)
                                hit = name_eq(*p, name);
                        if (!hit)
                                continue;
                        bool dup = false;
                        for (size_t k = 0; k < n; k++)
                                dup |= out[k] == e->ep.ip;
                        if (!dup && n < max)
                                out[n++] = e->ep.ip;
                }
        }
        return n;
}

/* Whether @asker has a way out: an endpoint on a network that is not --internal. A
 * container on internal networks only gets no upstream answers (moby 26's fix for
 * CVE-2024-29018: names were a channel out of an internal network). */
static bool can_forward_locked(struct net_store *s, const char *asker) {
        for (struct network *w = s->nets; w; w = w->next) {
                if (!w->info.internal && on_network(w, asker))
                        return true;
        }
        return false;
}

/* The container name for a PTR query of an address (@ip6 NULL: @ip) on the asker's networks. */
static bool reverse_locked(struct net_store *s, const char *asker, uint32_t ip, const uint8_t *ip6, char *out,
                           size_t size) {
        for (struct network *w = s->nets; w; w = w->next) {
                if (w->info.predefined || !on_network(w, asker))
                        continue;
                for (size_t i = 0; i < w->n_eps; i++)
                        if (ip6 ? w->eps[i].ep.has_ip6 && memcmp(w->eps[i].ep.ip6, ip6, 16) == 0 : w->eps[i].ep.ip == ip) {
                                snprintf(out, size, "%s.%s.", w->eps[i].ctr_name, w->info.name);
                                return true;
                        }
        }
        return false;
}

static bool parse_ptr4(const char *name, uint32_t *ret) {
        unsigned a, b, c, d;
        char tail[32];
        if (sscanf(name, "%u.%u.%u.%u.%31s", &d, &c, &b, &a, tail) != 5 || strncasecmp(tail, "in-addr.arpa", 12) != 0 ||
            a > 255 || b > 255 || c > 255 || d > 255)
                return false;
        *ret = a << 24 | b << 16 | c << 8 | d;
        return true;
}

/* "b.a.9.8.[...].0.d.f.ip6.arpa." (32 nibbles, lowest first) */
static bool parse_ptr6(const char *name, uint8_t ret[16]) {
        const char *p = name;
        uint8_t a[16] = { 0 };
        for (int i = 0; i < 32; i++) {
                int v;
                char c = (char) tolower((unsigned char) p[0]);
                if (c >= '0' && c <= '9')
                        v = c - '0';
                else if (c >= 'a' && c <= 'f')
                        v = c - 'a' + 10;
                else
                        return false;
                if (p[1] != '.')
                        return false;
                int nib = 31 - i; /* the first label is the lowest nibble */
                a[nib / 2] |= (uint8_t) (nib % 2 ? v : v << 4);
                p += 2;
        }
        if (strcasecmp(p, "ip6.arpa.") != 0 && strcasecmp(p, "ip6.arpa") != 0)
                return false;
        memcpy(ret, a, 16);
        return true;
}

/* ---- answers ---- */

static void reply_pkt(int fd, const struct sockaddr_storage *to, socklen_t tolen, ldns_pkt *p) {
        uint8_t *wire = NULL;
        size_t len = 0;
        if (ldns_pkt2wire(&wire, p, &len) == LDNS_STATUS_OK) {
                if (len > 512) { /* UDP without EDNS: say truncated, send the header and question */
                        ldns_pkt_set_tc(p, true);
                        ldns_rr_list_deep_free(ldns_pkt_answer(p));
                        ldns_pkt_set_answer(p, ldns_rr_list_new());
                        ldns_pkt_set_ancount(p, 0);
                        free(wire);
                        wire = NULL;
                        if (ldns_pkt2wire(&wire, p, &len) != LDNS_STATUS_OK)
                                return;
                }
                (void) sendto(fd, wire, len, MSG_DONTWAIT, (const struct sockaddr *) to, tolen);
        }
        free(wire);
}

static ldns_pkt *answer_for(const ldns_pkt *q, uint8_t rcode) {
        ldns_pkt *a = ldns_pkt_new();
        if (!a)
                return NULL;
        ldns_pkt_set_id(a, ldns_pkt_id(q));
        ldns_pkt_set_qr(a, true);
        ldns_pkt_set_rd(a, ldns_pkt_rd(q));
        ldns_pkt_set_ra(a, true);
        ldns_pkt_set_opcode(a, LDNS_PACKET_QUERY);
        ldns_pkt_set_rcode(a, rcode);
        ldns_rr_list *ql = ldns_pkt_question(q);
        if (ql && ldns_rr_list_rr_count(ql) > 0) {
                ldns_pkt_push_rr(a, LDNS_SECTION_QUESTION, ldns_rr_clone(ldns_rr_list_rr(ql, 0)));
        }
        return a;
}

/* ---- forwarding ---- */

/* Text to an upstream address on port 53 (IPv4 or IPv6): 0, or -1 if neither. */
static int upstream_addr(const char *ip, struct sockaddr_in6 *out) {
        memset(out, 0, sizeof(*out));
        struct sockaddr_in *o4 = (struct sockaddr_in *) out;
        char buf[64];
        snprintf(buf, sizeof(buf), "%s", ip);
        char *pct = strchr(buf, '%');
        unsigned scope = 0;
        if (pct) { /* fe80::1%eth0: a link-local server names its interface */
                *pct = '\0';
                scope = if_nametoindex(pct + 1);
                if (!scope)
                        return -1;
        }
        if (!pct && inet_pton(AF_INET, buf, &o4->sin_addr) == 1) {
                o4->sin_family = AF_INET;
                o4->sin_port = htons(53);
                return 0;
        }
        if (inet_pton(AF_INET6, buf, &out->sin6_addr) == 1) {
                out->sin6_family = AF_INET6;
                out->sin6_port = htons(53);
                out->sin6_scope_id = scope;
                return 0;
        }
        return -1;
}

static socklen_t sa_len(const struct sockaddr_in6 *a) {
        return a->sin6_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static size_t upstreams(struct sockaddr_in6 *out, size_t max) {
        FILE *f = fopen("/etc/resolv.conf", "re");
        if (!f)
                return 0;
        char line[512];
        size_t n = 0;
        while (n < max && fgets(line, sizeof(line), f)) {
                char ip[64];
                if (sscanf(line, "nameserver %63s", ip) != 1)
                        continue;
                if (upstream_addr(ip, &out[n]) == 0)
                        n++;
        }
        fclose(f);
        return n;
}

static ldns_pkt *parse_query(const uint8_t *buf, size_t len);
static ldns_pkt *local_answer(struct net_store *s, const char *asker, const ldns_pkt *q, bool *ret_may_forward);

/* A container's forward counter: [0] forwards in flight, [1] references (its socket entry
 * and each forward); freed by the last reference. */
static void inflight_put(int *c) {
        __atomic_sub_fetch(&c[0], 1, __ATOMIC_SEQ_CST);
        if (__atomic_sub_fetch(&c[1], 1, __ATOMIC_SEQ_CST) == 0)
                free(c);
}

static void inflight_unref(int *c) {
        if (c && __atomic_sub_fetch(&c[1], 1, __ATOMIC_SEQ_CST) == 0)
                free(c);
}

/* An unbound socket of @type inside the namespace at @ns_path (-1 on failure). */
static int socket_type_in(const char *ns_path, int family, int type) {
        _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int target = open(ns_path, O_RDONLY | O_CLOEXEC);
        if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) < 0)
                return -1;
        int fd = socket(family, type | SOCK_CLOEXEC, 0);
        if (setns(self, CLONE_NEWNET) < 0) {
                log_error("setns back to berthd's network namespace: %s", strerror(errno));
                abort();
        }
        return fd;
}

struct forward {
        struct dns *dns;
        int conn_fd;             /* TCP: the client's connection (the query is read from it); -1: UDP */
        char ctr_id[65];
        int *inflight;           /* the container's count, freed by whoever drops it to -1 */
        int reply_fd;            /* a dup of the container's socket */
        struct sockaddr_in6 ups[3]; /* IPv4 servers are sockaddr_in in the same room */
        size_t n_ups;            /* 0: the host's resolvers, from berthd's namespace */
        char ns_path[4200];
        struct sockaddr_storage from;
        socklen_t fromlen;
        uint8_t query[4096];
        size_t len;
};

/* Read exactly @len bytes within the deadline. */
static bool read_full(int fd, uint8_t *buf, size_t len, int timeout_ms) {
        size_t got = 0;
        while (got < len) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, timeout_ms) <= 0)
                        return false;
                ssize_t n = read(fd, buf + got, len - got);
                if (n <= 0)
                        return false;
                got += (size_t) n;
        }
        return true;
}

static void write_framed(int fd, const uint8_t *msg, size_t len) {
        uint8_t hdr[2] = { (uint8_t) (len >> 8), (uint8_t) len };
        struct iovec iov[2] = { { hdr, 2 }, { (void *) msg, len } };
        (void) !writev(fd, iov, 2);
}

/* One exchange with an upstream; the answer's length, or -1. */
static ssize_t ask_upstream(const struct forward *f, const struct sockaddr_in6 *up, bool tcp, uint8_t *buf, size_t max) {
        int type = tcp ? SOCK_STREAM : SOCK_DGRAM;
        int family = up->sin6_family;
        _cleanup_close_ int s = f->n_ups ? socket_type_in(f->ns_path, family, type) : socket(family, type | SOCK_CLOEXEC, 0);
        if (s < 0)
                return -1;
        struct timeval tv = { .tv_sec = DNS_UPSTREAM_TIMEOUT_MS / 1000, .tv_usec = (DNS_UPSTREAM_TIMEOUT_MS % 1000) * 1000 };
        (void) setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(s, (const struct sockaddr *) up, sa_len(up)) < 0)
                return -1;
        if (tcp) {
                write_framed(s, f->query, f->len);
                uint8_t hdr[2];
                if (!read_full(s, hdr, 2, DNS_UPSTREAM_TIMEOUT_MS))
                        return -1;
                size_t n = (size_t) hdr[0] << 8 | hdr[1];
                if (n > max || !read_full(s, buf, n, DNS_UPSTREAM_TIMEOUT_MS))
                        return -1;
                return (ssize_t) n;
        }
        if (send(s, f->query, f->len, 0) < 0)
                return -1;
        struct pollfd p = { .fd = s, .events = POLLIN };
        if (poll(&p, 1, DNS_UPSTREAM_TIMEOUT_MS) <= 0)
                return -1;
        return recv(s, buf, max, 0);
}

static void answer_back(struct forward *f, const uint8_t *msg, size_t len) {
        if (f->conn_fd >= 0)
                write_framed(f->conn_fd, msg, len);
        else
                (void) sendto(f->reply_fd, msg, len, MSG_DONTWAIT, (struct sockaddr *) &f->from, f->fromlen);
}

static void answer_pkt_back(struct forward *f, ldns_pkt *a) {
        if (f->conn_fd < 0) {
                reply_pkt(f->reply_fd, &f->from, f->fromlen, a);
                return;
        }
        uint8_t *wire = NULL;
        size_t len = 0;
        if (ldns_pkt2wire(&wire, a, &len) == LDNS_STATUS_OK && len <= 65535)
                write_framed(f->conn_fd, wire, len);
        free(wire);
}

static void *forward_main(void *arg) {
        struct forward *f = arg;
        bool tcp = f->conn_fd >= 0;
        _cleanup_free_ uint8_t *buf = NULL;
        if (tcp) {
                /* The query: two bytes of length, then the message. */
                uint8_t hdr[2];
                ldns_pkt *q = NULL, *a = NULL;
                bool may_forward = false;
                if (read_full(f->conn_fd, hdr, 2, 5000)) {
                        f->len = (size_t) hdr[0] << 8 | hdr[1];
                        if (f->len >= 12 && f->len <= sizeof(f->query) && read_full(f->conn_fd, f->query, f->len, 5000))
                                q = parse_query(f->query, f->len);
                }
                if (q) {
                        a = local_answer(f->dns->s, f->ctr_id, q, &may_forward);
                        if (!a && !may_forward)
                                a = answer_for(q, LDNS_RCODE_REFUSED);
                        if (a)
                                answer_pkt_back(f, a);
                }
                ldns_pkt_free(a);
                ldns_pkt_free(q);
                if (!q || a)
                        goto done;
        }
        struct sockaddr_in6 ups[3];
        size_t n = f->n_ups;
        if (n)
                memcpy(ups, f->ups, sizeof(ups));
        else
                n = upstreams(ups, ELEMENTSOF(ups));
        buf = malloc(65535);
        if (!buf)
                goto done;
        ssize_t got = -1;
        for (size_t i = 0; i < n && got < 0; i++) {
                /* UDP first; a TCP client's query goes again over TCP only when the UDP
                 * answer was truncated (not every upstream serves TCP). */
                got = ask_upstream(f, &ups[i], false, buf, 4096);
                if (tcp && got >= 4 && (buf[2] & 0x02))
                        got = ask_upstream(f, &ups[i], true, buf, 65535);
                if (got >= 4) {
                        /* SERVFAIL and REFUSED: try the next upstream. */
                        uint8_t rcode = buf[3] & 0x0f;
                        if ((rcode == LDNS_RCODE_SERVFAIL || rcode == LDNS_RCODE_REFUSED) && i + 1 < n)
                                got = -1;
                }
        }
        if (got >= 12 && memcmp(buf, f->query, 2) == 0)
                answer_back(f, buf, (size_t) got);
        else {
                ldns_pkt *q = NULL;
                if (ldns_wire2pkt(&q, f->query, f->len) == LDNS_STATUS_OK) {
                        ldns_pkt *a = answer_for(q, LDNS_RCODE_SERVFAIL);
                        if (a)
                                answer_pkt_back(f, a);
                        ldns_pkt_free(a);
                }
                ldns_pkt_free(q);
        }
done:
        if (f->reply_fd >= 0)
                close(f->reply_fd);
        if (f->conn_fd >= 0)
                close(f->conn_fd);
        inflight_put(f->inflight);
        __atomic_sub_fetch(&f->dns->forwards, 1, __ATOMIC_SEQ_CST);
        free(f);
        return NULL;
}

/* Hand a query to a worker: a UDP query to forward (@conn_fd -1), or a TCP connection to
 * read one query from and answer (@conn_fd; the worker owns it). */
static void forward(struct dns *dns, struct dns_sock *ds, int conn_fd, const struct sockaddr_storage *from,
                    socklen_t fromlen, const uint8_t *q, size_t len) {
        /* Called with dns->lock held: the counts are atomic, not locked. A container gets
         * DNS_MAX_FORWARDS_PER_CTR of the DNS_MAX_FORWARDS at most, so one flooding with
         * slow names leaves the others theirs. Over the limits the query goes unanswered
         * (UDP clients retry) or the connection is closed. */
        if (__atomic_add_fetch(ds->inflight, 1, __ATOMIC_SEQ_CST) > DNS_MAX_FORWARDS_PER_CTR) {
                __atomic_sub_fetch(ds->inflight, 1, __ATOMIC_SEQ_CST);
                if (conn_fd >= 0)
                        close(conn_fd);
                return;
        }
        if (__atomic_add_fetch(&dns->forwards, 1, __ATOMIC_SEQ_CST) > DNS_MAX_FORWARDS) {
                __atomic_sub_fetch(&dns->forwards, 1, __ATOMIC_SEQ_CST);
                __atomic_sub_fetch(ds->inflight, 1, __ATOMIC_SEQ_CST);
                if (conn_fd >= 0)
                        close(conn_fd);
                return;
        }
        struct forward *f = calloc(1, sizeof(*f));
        if (f) {
                f->dns = dns;
                f->conn_fd = conn_fd;
                snprintf(f->ctr_id, sizeof(f->ctr_id), "%s", ds->ctr_id);
                f->inflight = ds->inflight;
                f->n_ups = ds->n_ups;
                memcpy(f->ups, ds->ups, sizeof(f->ups));
                snprintf(f->ns_path, sizeof(f->ns_path), "%s", ds->ns_path);
                __atomic_add_fetch(&ds->inflight[1], 1, __ATOMIC_SEQ_CST); /* a reference */
                f->reply_fd = conn_fd >= 0 ? -1 : fcntl(ds->fd, F_DUPFD_CLOEXEC, 3);
                if (from)
                        f->from = *from;
                f->fromlen = fromlen;
                if (q && len <= sizeof(f->query)) {
                        memcpy(f->query, q, len);
                        f->len = len;
                }
        }
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        pthread_t t;
        if (!f || (conn_fd < 0 && f->reply_fd < 0) || pthread_create(&t, &attr, forward_main, f) != 0) {
                if (f && f->reply_fd >= 0)
                        close(f->reply_fd);
                if (conn_fd >= 0)
                        close(conn_fd);
                if (f)
                        inflight_put(f->inflight);
                else
                        __atomic_sub_fetch(ds->inflight, 1, __ATOMIC_SEQ_CST);
                free(f);
                __atomic_sub_fetch(&dns->forwards, 1, __ATOMIC_SEQ_CST);
        }
        pthread_attr_destroy(&attr);
}

/* ---- name snapshots for the shims ----
 *
 * While berthd is down, the container's shim answers A, AAAA and PTR from a text file
 * berthd keeps next to the bundle ("berth-dns-names 1", then one record a line:
 * "a NAME IPV4", "aaaa NAME IPV6", "ptr REVERSE-NAME TARGET"), rewritten (atomically)
 * whenever an endpoint comes or goes. */

static bool snap_word_ok(const char *w) {
        if (!*w || strlen(w) > 253)
                return false;
        for (const char *p = w; *p; p++)
                if ((unsigned char) *p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

/* The snapshot for @asker (what local_answer would answer). Caller holds s->lock. */
static char *snapshot_locked(struct net_store *s, const char *asker) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        fputs("berth-dns-names 1\n", f);
        for (struct network *w = s->nets; w; w = w->next) {
                if (w->info.predefined || !on_network(w, asker))
                        continue;
                for (size_t i = 0; i < w->n_eps; i++) {
                        struct endpoint *e = &w->eps[i];
                        uint32_t ip = e->ep.ip;
                        char ip6[INET6_ADDRSTRLEN] = "";
                        if (e->ep.has_ip6)
                                inet_ntop(AF_INET6, e->ep.ip6, ip6, sizeof(ip6));
                        for (char **p = e->names; p && *p; p++) {
                                if (!snap_word_ok(*p))
                                        continue;
                                if (ip)
                                        fprintf(f, "a %s %u.%u.%u.%u\n", *p, ip >> 24, (ip >> 16) & 0xff,
                                                (ip >> 8) & 0xff, ip & 0xff);
                                if (ip6[0])
                                        fprintf(f, "aaaa %s %s\n", *p, ip6);
                        }
                        if (!snap_word_ok(e->ctr_name) || !snap_word_ok(w->info.name))
                                continue;
                        if (ip)
                                fprintf(f, "ptr %u.%u.%u.%u.in-addr.arpa %s.%s\n", ip & 0xff, (ip >> 8) & 0xff,
                                        (ip >> 16) & 0xff, ip >> 24, e->ctr_name, w->info.name);
                        if (e->ep.has_ip6) {
                                fputs("ptr ", f);
                                for (int k = 15; k >= 0; k--)
                                        fprintf(f, "%x.%x.", e->ep.ip6[k] & 0xf, e->ep.ip6[k] >> 4);
                                fprintf(f, "ip6.arpa %s.%s\n", e->ctr_name, w->info.name);
                        }
                }
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static uint64_t fnv1a(const char *t) {
        uint64_t h = 14695981039346656037ull;
        for (; *t; t++)
                h = (h ^ (unsigned char) *t) * 1099511628211ull;
        return h;
}

/* A snapshot to write: built under the locks, written after them. */
struct snap_job {
        char *dir, *name, *text, ctr_id[13];
        struct snap_job *next;
};

/* Queue @x's snapshot if it changed (@force: anyway). Caller holds dns->lock. */
static void snapshot_queue_locked(struct net_store *s, struct dns_sock *x, bool force, struct snap_job **jobs) {
        if (!x->snap_dir)
                return;
        pthread_mutex_lock(&s->lock);
        char *text = snapshot_locked(s, x->ctr_id);
        pthread_mutex_unlock(&s->lock);
        uint64_t h = text ? fnv1a(text) : 0;
        struct snap_job *j = text && (force || h != x->snap_hash) ? calloc(1, sizeof(*j)) : NULL;
        if (j) {
                j->dir = strdup(x->snap_dir);
                j->name = strdup(x->snap_name);
                j->text = text;
                text = NULL;
                snprintf(j->ctr_id, sizeof(j->ctr_id), "%.12s", x->ctr_id);
                j->next = *jobs;
                *jobs = j;
                x->snap_hash = h;
        }
        free(text);
}

static void snapshots_write(struct snap_job *jobs) {
        while (jobs) {
                struct snap_job *j = jobs;
                jobs = j->next;
                struct berr e = { 0 };
                _cleanup_close_ int dfd = j->dir ? open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
                if (dfd < 0 || !j->name || fs_write_atomic(dfd, j->name, j->text, strlen(j->text), 0644, &e) < 0)
                        log_debug("dns: name snapshot for container %s: %s", j->ctr_id, e.msg[0] ? e.msg : "cannot write");
                free(j->dir);
                free(j->name);
                free(j->text);
                free(j);
        }
}

/* Rewrite the snapshots that changed if an endpoint came or went: those of containers
 * on other networks stay as they are. */
static void snapshots_refresh(struct dns *dns) {
        unsigned gen = __atomic_load_n(&net_names_gen, __ATOMIC_SEQ_CST);
        if (gen == __atomic_load_n(&dns->snap_gen, __ATOMIC_SEQ_CST))
                return;
        struct snap_job *jobs = NULL;
        pthread_mutex_lock(&dns->lock);
        __atomic_store_n(&dns->snap_gen, gen, __ATOMIC_SEQ_CST);
        for (struct dns_sock *x = dns->socks; x; x = x->next)
                snapshot_queue_locked(dns->s, x, false, &jobs);
        pthread_mutex_unlock(&dns->lock);
        snapshots_write(jobs); /* (a container gone meanwhile: its bundle may be gone too) */
}

int net_dns_snapshot_to(struct net_store *s, const char *ctr_id, const char *dir, const char *name) {
        struct dns *dns = s->dns;
        if (!dns)
                return -ENOENT;
        int r = -ENOENT;
        struct snap_job *jobs = NULL;
        pthread_mutex_lock(&dns->lock);
        for (struct dns_sock *x = dns->socks; x; x = x->next)
                if (strcmp(x->ctr_id, ctr_id) == 0) {
                        free(x->snap_dir);
                        free(x->snap_name);
                        x->snap_dir = strdup(dir);
                        x->snap_name = strdup(name);
                        if (!x->snap_dir || !x->snap_name) {
                                x->snap_dir = mfree(x->snap_dir);
                                x->snap_name = mfree(x->snap_name);
                                r = -ENOMEM;
                                break;
                        }
                        snapshot_queue_locked(s, x, true, &jobs);
                        r = 0;
                        break;
                }
        pthread_mutex_unlock(&dns->lock);
        snapshots_write(jobs);
        return r;
}

/* ---- the loop ---- */

static void shuffle(uint32_t *v, size_t n) {
        for (size_t i = n; i > 1; i--) {
                uint32_t r;
                if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
                        r = (uint32_t) i * 2654435761u;
                size_t j = r % i;
                uint32_t t = v[i - 1];
                v[i - 1] = v[j];
                v[j] = t;
        }
}

static void shuffle6(uint8_t (*v)[16], size_t n) {
        for (size_t i = n; i > 1; i--) {
                uint32_t r;
                if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
                        r = (uint32_t) i * 2654435761u;
                size_t j = r % i;
                uint8_t t[16];
                memcpy(t, v[i - 1], 16);
                memcpy(v[i - 1], v[j], 16);
                memcpy(v[j], t, 16);
        }
}

/* Parse a query: NULL when it is not one berth answers (not DNS, a response, another
 * opcode, not exactly one question). */
static ldns_pkt *parse_query(const uint8_t *buf, size_t len) {
        ldns_pkt *q = NULL;
        if (len < 12 || ldns_wire2pkt(&q, buf, len) != LDNS_STATUS_OK)
                return NULL;
        ldns_rr_list *ql = ldns_pkt_question(q);
        if (ldns_pkt_qr(q) || ldns_pkt_get_opcode(q) != LDNS_PACKET_QUERY || !ql || ldns_rr_list_rr_count(ql) != 1) {
                ldns_pkt_free(q);
                return NULL;
        }
        return q;
}

/* The answer from the network store, or NULL when the name is not a container's: then
 * *ret_may_forward says whether the asker may have it forwarded. */
static ldns_pkt *local_answer(struct net_store *s, const char *asker, const ldns_pkt *q, bool *ret_may_forward) {
        ldns_rr *qr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
        ldns_rr_type type = ldns_rr_get_type(qr);
        char *name = ldns_rdf2str(ldns_rr_owner(qr));
        if (!name) {
                *ret_may_forward = false;
                return answer_for(q, LDNS_RCODE_SERVFAIL);
        }
        uint32_t ips[32];
        uint8_t ips6[32][16];
        size_t n = 0, n6 = 0;
        uint32_t ptr_ip = 0;
        uint8_t ptr_ip6[16];
        char ptr_name[600] = "";
        bool ptr6 = type == LDNS_RR_TYPE_PTR && parse_ptr6(name, ptr_ip6);
        bool is_ptr = ptr6 || (type == LDNS_RR_TYPE_PTR && parse_ptr4(name, &ptr_ip));
        pthread_mutex_lock(&s->lock);
        if (is_ptr)
                is_ptr = reverse_locked(s, asker, ptr_ip, ptr6 ? ptr_ip6 : NULL, ptr_name, sizeof(ptr_name));
        else {
                n = lookup_locked(s, asker, name, ips, ELEMENTSOF(ips));
                n6 = lookup6_locked(s, asker, name, ips6, ELEMENTSOF(ips6));
        }
        *ret_may_forward = can_forward_locked(s, asker);
        pthread_mutex_unlock(&s->lock);
        if (!is_ptr && n == 0 && n6 == 0) {
                free(name);
                return NULL;
        }
        ldns_pkt *a = answer_for(q, LDNS_RCODE_NOERROR);
        if (a) {
                ldns_pkt_set_aa(a, true);
                char rr[800];
                if (is_ptr) {
                        snprintf(rr, sizeof(rr), "%s %d IN PTR %s", name, DNS_TTL, ptr_name);
                        ldns_rr *r = NULL;
                        if (ldns_rr_new_frm_str(&r, rr, 0, NULL, NULL) == LDNS_STATUS_OK)
                                ldns_pkt_push_rr(a, LDNS_SECTION_ANSWER, r);
                } else if (type == LDNS_RR_TYPE_A || type == LDNS_RR_TYPE_ANY) {
                        shuffle(ips, n); /* several containers share an alias: round robin */
                        for (size_t i = 0; i < n; i++) {
                                char ip[16];
                                snprintf(ip, sizeof(ip), "%u.%u.%u.%u", ips[i] >> 24, (ips[i] >> 16) & 0xff,
                                         (ips[i] >> 8) & 0xff, ips[i] & 0xff);
                                snprintf(rr, sizeof(rr), "%s %d IN A %s", name, DNS_TTL, ip);
                                ldns_rr *r = NULL;
                                if (ldns_rr_new_frm_str(&r, rr, 0, NULL, NULL) == LDNS_STATUS_OK)
                                        ldns_pkt_push_rr(a, LDNS_SECTION_ANSWER, r);
                        }
                }
                if (type == LDNS_RR_TYPE_AAAA || type == LDNS_RR_TYPE_ANY) {
                        shuffle6(ips6, n6);
                        for (size_t i = 0; i < n6; i++) {
                                char ip[46];
                                inet_ntop(AF_INET6, ips6[i], ip, sizeof(ip));
                                snprintf(rr, sizeof(rr), "%s %d IN AAAA %s", name, DNS_TTL, ip);
                                ldns_rr *r = NULL;
                                if (ldns_rr_new_frm_str(&r, rr, 0, NULL, NULL) == LDNS_STATUS_OK)
                                        ldns_pkt_push_rr(a, LDNS_SECTION_ANSWER, r);
                        }
                }
                /* Others (and AAAA of a container without IPv6): the name exists, no such record. */
        }
        free(name);
        return a;
}

static void serve_one(struct dns *dns, struct dns_sock *ds) {
        uint8_t buf[4096];
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof(from);
        ssize_t len = recvfrom(ds->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *) &from, &fromlen);
        if (len < 12)
                return;
        ldns_pkt *q = parse_query(buf, (size_t) len);
        if (!q)
                return; /* no answer to what is not a query */
        bool may_forward;
        ldns_pkt *a = local_answer(dns->s, ds->ctr_id, q, &may_forward);
        if (!a && may_forward)
                forward(dns, ds, -1, &from, fromlen, buf, (size_t) len);
        else {
                if (!a)
                        a = answer_for(q, LDNS_RCODE_REFUSED);
                if (a)
                        reply_pkt(ds->fd, &from, fromlen, a);
        }
        ldns_pkt_free(a);
        ldns_pkt_free(q);
}

/* A TCP connection on 127.0.0.11:53: one query, answered in a worker of its own. */
static void serve_tcp(struct dns *dns, struct dns_sock *ds) {
        int c = accept4(ds->tfd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
                return;
        forward(dns, ds, c, NULL, 0, NULL, 0);
}

static void *dns_main(void *arg) {
        struct dns *dns = arg;
        for (;;) {
                struct epoll_event ev[16];
                int n = epoll_wait(dns->epfd, ev, ELEMENTSOF(ev), DNS_SNAPSHOT_MS);
                snapshots_refresh(dns);
                for (int i = 0; i < n; i++) {
                        if (ev[i].data.ptr == NULL)
                                return NULL;
                        pthread_mutex_lock(&dns->lock);
                        /* The entry may have gone since epoll_wait: find it by identity. */
                        struct dns_sock *ds = NULL;
                        bool tcp = false;
                        for (struct dns_sock *x = dns->socks; x; x = x->next) {
                                if (x == ev[i].data.ptr)
                                        ds = x;
                                else if ((void *) &x->tfd == ev[i].data.ptr) {
                                        ds = x;
                                        tcp = true;
                                }
                        }
                        if (ds && tcp)
                                serve_tcp(dns, ds);
                        else if (ds)
                                serve_one(dns, ds);
                        pthread_mutex_unlock(&dns->lock);
                }
        }
}

int dns_open(struct net_store *s, struct berr *err) {
        struct dns *dns = calloc(1, sizeof(*dns));
        if (!dns)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        dns->s = s;
        dns->wake[0] = dns->wake[1] = -1;
        pthread_mutex_init(&dns->lock, NULL);
        dns->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (dns->epfd < 0 || pipe2(dns->wake, O_CLOEXEC) < 0) {
                int r = berr_sys(err, BERR_INTERNAL, "dns: epoll");
                if (dns->epfd >= 0)
                        close(dns->epfd);
                free(dns);
                return r;
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
        (void) epoll_ctl(dns->epfd, EPOLL_CTL_ADD, dns->wake[0], &ev);
        s->dns = dns;
        return 0;
}

static int start_thread(struct dns *dns) {
        if (dns->running)
                return 0;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        int r = pthread_create(&dns->thread, &attr, dns_main, dns);
        pthread_attr_destroy(&attr);
        if (r != 0)
                return -r;
        dns->running = true;
        return 0;
}

void dns_close(struct net_store *s) {
        struct dns *dns = s->dns;
        if (!dns)
                return;
        if (dns->running) {
                (void) !write(dns->wake[1], "x", 1);
                pthread_join(dns->thread, NULL);
        }
        /* Forwarders in flight finish within their timeout; wait for them. */
        /* Each forwarder ends within 3 upstreams x DNS_UPSTREAM_TIMEOUT_MS. */
        for (int i = 0; i < 200; i++) {
                if (__atomic_load_n(&dns->forwards, __ATOMIC_SEQ_CST) == 0)
                        break;
                usleep(50 * 1000);
        }
        if (__atomic_load_n(&dns->forwards, __ATOMIC_SEQ_CST) != 0) {
                log_warn("dns: forwarders still running at shutdown; leaving their state in memory");
                s->dns = NULL;
                return;
        }
        while (dns->socks) {
                struct dns_sock *x = dns->socks;
                dns->socks = x->next;
                close(x->fd);
                close(x->tfd);
                inflight_unref(x->inflight);
                free(x->snap_dir);
                free(x->snap_name);
                free(x);
        }
        close(dns->epfd);
        close(dns->wake[0]);
        close(dns->wake[1]);
        pthread_mutex_destroy(&dns->lock);
        free(dns);
        s->dns = NULL;
}

/* A socket of @type bound to 127.0.0.11:53 inside the namespace at @ns_path (listening
 * for TCP); -errno on failure. */
static int socket_in(const char *ns_path, int type) {
        _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int target = open(ns_path, O_RDONLY | O_CLOEXEC);
        if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) < 0)
                return -errno;
        int fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int e = fd < 0 ? -errno : 0;
        if (fd >= 0) {
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53) };
                inet_pton(AF_INET, "127.0.0.11", &sa.sin_addr);
                if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || (type == SOCK_STREAM && listen(fd, 16) < 0)) {
                        e = -errno;
                        close(fd);
                        fd = -1;
                }
        }
        if (setns(self, CLONE_NEWNET) < 0) {
                log_error("setns back to berthd's network namespace: %s", strerror(errno));
                abort();
        }
        return fd >= 0 ? fd_above_select(fd) : e;
}

/* Serve @fd (UDP) and @tfd (TCP listener), both bound to 127.0.0.11:53 in the container's
 * namespace; takes them (closed on failure). */
static int attach_fds(struct net_store *s, const char *ctr_id, const char *ns_path, const char *const *servers, int fd,
                      int tfd, struct berr *err) {
        struct dns *dns = s->dns;
        struct dns_sock *x = calloc(1, sizeof(*x));
        if (!x) {
                close(fd);
                close(tfd);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        snprintf(x->ctr_id, sizeof(x->ctr_id), "%s", ctr_id);
        x->fd = fd;
        x->tfd = tfd;
        x->inflight = calloc(2, sizeof(int));
        if (!x->inflight) {
                close(fd);
                close(tfd);
                free(x);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        x->inflight[1] = 1;
        snprintf(x->ns_path, sizeof(x->ns_path), "%s", ns_path);
        for (size_t i = 0; servers && servers[i] && x->n_ups < ELEMENTSOF(x->ups); i++)
                if (upstream_addr(servers[i], &x->ups[x->n_ups]) == 0)
                        x->n_ups++;
        pthread_mutex_lock(&dns->lock);
        x->next = dns->socks;
        dns->socks = x;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = x };
        struct epoll_event tev = { .events = EPOLLIN, .data.ptr = &x->tfd };
        int r = epoll_ctl(dns->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 || epoll_ctl(dns->epfd, EPOLL_CTL_ADD, tfd, &tev) < 0
                        ? -errno
                        : start_thread(dns);
        pthread_mutex_unlock(&dns->lock);
        if (r < 0) {
                net_dns_detach(s, ctr_id);
                return berr_set(err, BERR_INTERNAL, -r, "embedded DNS server: %s", strerror(-r));
        }
        return 0;
}

int net_dns_attach(struct net_store *s, const char *ctr_id, const char *ns_path, const char *const *servers,
                   struct berr *err) {
        struct dns *dns = s->dns;
        if (!dns)
                return 0;
        net_dns_detach(s, ctr_id);
        int fd = socket_in(ns_path, SOCK_DGRAM);
        if (fd < 0)
                return berr_set(err, BERR_INTERNAL, -fd, "embedded DNS server: bind 127.0.0.11:53: %s", strerror(-fd));
        int tfd = socket_in(ns_path, SOCK_STREAM);
        if (tfd < 0) {
                close(fd);
                return berr_set(err, BERR_INTERNAL, -tfd, "embedded DNS server: listen on 127.0.0.11:53/tcp: %s",
                                strerror(-tfd));
        }
        return attach_fds(s, ctr_id, ns_path, servers, fd, tfd, err);
}

/* Whether @fd is an IPv4 socket of @type bound to 127.0.0.11:53 (and listening, for TCP). */
bool net_dns_socket_ok(int fd, int type) {
        int v = 0;
        socklen_t len = sizeof(v);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != type)
                return false;
        len = sizeof(v);
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 || v != AF_INET)
                return false;
        len = sizeof(v);
        if (type == SOCK_STREAM && (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v))
                return false;
        struct sockaddr_in sa;
        len = sizeof(sa);
        if (getsockname(fd, (struct sockaddr *) &sa, &len) < 0 || len != sizeof(sa) || sa.sin_family != AF_INET)
                return false;
        return sa.sin_port == htons(53) && sa.sin_addr.s_addr == htonl(0x7f00000b);
}

int net_dns_adopt(struct net_store *s, const char *ctr_id, const char *ns_path, const char *const *servers, int fd,
                  int tfd, struct berr *err) {
        if (!s->dns || !net_dns_socket_ok(fd, SOCK_DGRAM) || !net_dns_socket_ok(tfd, SOCK_STREAM)) {
                close(fd);
                close(tfd);
                return s->dns ? berr_set(err, BERR_INVALID, EINVAL, "embedded DNS server: not the sockets of 127.0.0.11:53")
                              : 0;
        }
        net_dns_detach(s, ctr_id);
        /* Nonblocking is a property of the open file: the kept socket had it already. */
        (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        (void) fcntl(tfd, F_SETFL, fcntl(tfd, F_GETFL) | O_NONBLOCK);
        fd = fd_above_select(fd);
        tfd = fd_above_select(tfd);
        return attach_fds(s, ctr_id, ns_path, servers, fd, tfd, err);
}

int net_dns_dup_fds(struct net_store *s, const char *ctr_id, int *ret_fd, int *ret_tfd) {
        struct dns *dns = s->dns;
        *ret_fd = *ret_tfd = -1;
        if (!dns)
                return -ENOENT;
        int r = -ENOENT;
        pthread_mutex_lock(&dns->lock);
        for (struct dns_sock *x = dns->socks; x; x = x->next)
                if (strcmp(x->ctr_id, ctr_id) == 0) {
                        *ret_fd = fcntl(x->fd, F_DUPFD_CLOEXEC, 3);
                        *ret_tfd = fcntl(x->tfd, F_DUPFD_CLOEXEC, 3);
                        r = *ret_fd < 0 || *ret_tfd < 0 ? -errno : 0;
                        break;
                }
        pthread_mutex_unlock(&dns->lock);
        if (r < 0) {
                if (*ret_fd >= 0)
                        close(*ret_fd);
                if (*ret_tfd >= 0)
                        close(*ret_tfd);
                *ret_fd = *ret_tfd = -1;
        }
        return r;
}

void net_dns_detach(struct net_store *s, const char *ctr_id) {
        struct dns *dns = s->dns;
        if (!dns)
                return;
        pthread_mutex_lock(&dns->lock);
        for (struct dns_sock **pp = &dns->socks; *pp;) {
                struct dns_sock *x = *pp;
                if (strcmp(x->ctr_id, ctr_id) != 0) {
                        pp = &x->next;
                        continue;
                }
                *pp = x->next;
                (void) epoll_ctl(dns->epfd, EPOLL_CTL_DEL, x->fd, NULL);
                (void) epoll_ctl(dns->epfd, EPOLL_CTL_DEL, x->tfd, NULL);
                close(x->fd);
                close(x->tfd);
                inflight_unref(x->inflight);
                free(x->snap_dir);
                free(x->snap_name);
                free(x);
        }
        pthread_mutex_unlock(&dns->lock);
}
