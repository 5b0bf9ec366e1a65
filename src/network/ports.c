/* ports.c - published ports: a bound socket per TCP/UDP host port held by berthd (so no
 * other program takes it, and two containers cannot publish the same one) and an element
 * per port in berth's DNAT maps, added and removed in one transaction per container. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/log.h"
#include "firewall.h"
#include "ipam.h"
#include "network.h"
#include "slirp.h"
#include "store_int.h"

static const char *proto_name(uint8_t p) {
        return p == IPPROTO_UDP ? "udp" : p == IPPROTO_SCTP ? "sctp" : "tcp";
}

static void ephemeral_range(uint16_t *lo, uint16_t *hi) {
        *lo = 32768;
        *hi = 60999;
        FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
        unsigned a, b;
        if (f && fscanf(f, "%u %u", &a, &b) == 2 && a > 0 && a <= b && b <= 65535) {
                *lo = (uint16_t) a;
                *hi = (uint16_t) b;
        }
        if (f)
                fclose(f);
}

/* Caller holds s->lock: is (proto, port) published by some container on @p's host address
 * or on every address of its family? */
static struct pub *held(struct net_store *s, const struct net_port *p, uint16_t port) {
        for (size_t i = 0; i < s->n_pubs; i++) {
                struct net_port *q = &s->pubs[i].port;
                if (q->proto != p->proto || q->host_port != port || q->v6 != p->v6)
                        continue;
                if (p->v6 ? ipam_ip6_is_zero(q->host_ip6) || ipam_ip6_is_zero(p->host_ip6) ||
                                    memcmp(q->host_ip6, p->host_ip6, 16) == 0
                          : !q->host_ip || !p->host_ip || q->host_ip == p->host_ip)
                        return &s->pubs[i];
        }
        return NULL;
}

/* The host address of @p as dockerd prints it in its messages ("0.0.0.0", "::"). */
static void host_text(const struct net_port *p, char out[46]) {
        if (p->v6)
                ipam_format_ip6(p->host_ip6, out);
        else
                ipam_format_ip4(p->host_ip, out);
}

/* -errno from bind(2); the socket in *ret_fd (-1 for SCTP: nothing to hold). @any
 * (rootless, IPv4): the port on every address of berthd's namespace, where slirp4netns
 * brings every host address's forward in on tap0 (the host's addresses are not there). */
static int reserve(const struct net_port *p, uint16_t port, bool any, bool listening, int *ret_fd) {
        *ret_fd = -1;
        if (p->proto == IPPROTO_SCTP)
                return 0;
        int fd = socket(p->v6 ? AF_INET6 : AF_INET, (p->proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* No SO_REUSEADDR: Linux lets two SO_REUSEADDR sockets share a port while neither
         * listens, so a server that sets it (most do) could take the port from us. */
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(any ? 0 : p->host_ip) };
        struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
        memcpy(sa6.sin6_addr.s6_addr, p->host_ip6, 16);
        int one = 1;
        /* [::] holds the IPv6 port only: the IPv4 one is a binding of its own. */
        if (p->v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
                int e = -errno;
                close(fd);
                return e;
        }
        if (p->v6 ? bind(fd, (struct sockaddr *) &sa6, sizeof(sa6)) < 0 : bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int e = -errno;
                close(fd);
                return e;
        }
        /* @listening (rootless with pasta): pasta forwards the ports that listen here; the
         * DNAT rules take every connection before this socket could (it accepts none) */
        if (listening && p->proto == IPPROTO_TCP && listen(fd, 1) < 0) {
                int e = -errno;
                close(fd);
                return e;
        }
        *ret_fd = fd_above_select(fd);
        return 0;
}

static int pub_add(struct net_store *s, const char *ctr_id, const struct net_port *p, int fd) {
        if (s->n_pubs == s->cap_pubs) {
                size_t cap = s->cap_pubs ? s->cap_pubs * 2 : 64;
                struct pub *np = realloc(s->pubs, cap * sizeof(*np));
                if (!np)
                        return -ENOMEM;
                s->pubs = np;
                s->cap_pubs = cap;
        }
        struct pub *e = &s->pubs[s->n_pubs++];
        snprintf(e->ctr_id, sizeof(e->ctr_id), "%s", ctr_id);
        e->port = *p;
        e->fd = fd;
        e->hostfwd_id = -1;
        return 0;
}

/* Rootless: slirp4netns forwards @e's host address and port from the host to berthd's
 * tap0, where the DNAT rule takes it (0 or -errno, @err set). IPv6 bindings are held in
 * berthd's namespace only: slirp4netns runs without IPv6. Caller holds s->lock. */
static int hostfwd_add_locked(struct net_store *s, struct pub *e, struct berr *err) {
        const struct net_port *p = &e->port;
        static const uint8_t any6[16];
        char ip[46], msg[256];
        host_text(p, ip);
        /* pasta forwards, on every host address, the TCP ports that listen in berthd's
         * namespace (reserve); it has nothing to ask for another address or protocol */
        if (s->o->hostfwd_pasta && p->proto != IPPROTO_TCP)
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "rootless with pasta: publishing a %s port is not "
                                "supported by berth (pasta forwards the tcp ports listening in berthd's namespace; "
                                "slirp4netns forwards udp too)", proto_name(p->proto));
        if (s->o->hostfwd_pasta && (p->v6 ? memcmp(p->host_ip6, any6, 16) != 0 : p->host_ip != 0))
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "rootless with pasta: publishing on host address %s "
                                "is not supported by berth (pasta forwards a published port on every host address; "
                                "slirp4netns binds the one asked for)", ip);
        if (!s->o->hostfwd_api || s->o->hostfwd_pasta || p->v6)
                return 0;
        if (p->proto == IPPROTO_SCTP)
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "rootless: publishing an sctp port is not supported by "
                                "berth (slirp4netns forwards tcp and udp only)");
        int r = slirp_hostfwd_add(s->o->hostfwd_api, proto_name(p->proto), ip, p->host_port, &e->hostfwd_id, msg,
                                  sizeof(msg));
        if (r < 0)
                return berr_set(err, BERR_CONFLICT, -r, "rootless: slirp4netns could not forward %s %s:%u from the host: %s",
                                proto_name(p->proto), ip, p->host_port, msg);
        return 0;
}

static void hostfwd_remove_locked(struct net_store *s, struct pub *e) {
        if (e->hostfwd_id < 0 || !s->o->hostfwd_api)
                return;
        int r = slirp_hostfwd_remove(s->o->hostfwd_api, e->hostfwd_id);
        if (r < 0)
                log_warn("container %.12s: remove slirp4netns forward of port %u: %s", e->ctr_id, e->port.host_port,
                         strerror(-r));
        e->hostfwd_id = -1;
}

static void to_fw(struct net_store *s, const struct net_port *p, struct fw_port *f) {
        /* Rootless: the host address is slirp4netns's to bind on the host; in berthd's
         * namespace the port comes in on tap0, to any of its addresses (as rootlesskit
         * binds the child's side on 0.0.0.0). */
        uint32_t host_ip = s->o->hostfwd_api && !p->v6 ? 0 : p->host_ip;
        *f = (struct fw_port) { .proto = p->proto, .v6 = p->v6, .host_ip = host_ip, .host_port = p->host_port,
                                .ctr_ip = p->ctr_ip, .ctr_port = p->ctr_port, .routed = net_ip_routed_locked(s, p->ctr_ip),
                                .routed6 = p->v6 && net_ip6_routed_locked(s, p->ctr_ip6) };
        memcpy(f->host_ip6, p->host_ip6, 16);
        memcpy(f->ctr_ip6, p->ctr_ip6, 16);
}

static int fw_change(struct net_store *s, const struct net_port *p, size_t n, bool add, struct berr *err) {
        if (!s->o->iptables || n == 0)
                return 0;
        struct fw_port *f = calloc(n, sizeof(*f));
        if (!f)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
                to_fw(s, &p[i], &f[i]);
        int r = fw_ports(s->o->table, f, n, add, err);
        if (r < 0 && !add) /* some were gone already: take the others one by one */
                for (size_t i = 0; i < n; i++) {
                        struct berr e = { 0 };
                        (void) fw_ports(s->o->table, &f[i], 1, false, &e);
                }
        free(f);
        return r;
}

/* Drop the container's entries from the table; their sockets close. Caller holds s->lock. */
static void forget_locked(struct net_store *s, const char *ctr_id, struct net_port **ret, size_t *ret_n) {
        size_t k = 0, n = 0;
        struct net_port *out = ret ? calloc(s->n_pubs + 1, sizeof(*out)) : NULL;
        for (size_t i = 0; i < s->n_pubs; i++) {
                if (strcmp(s->pubs[i].ctr_id, ctr_id) == 0) {
                        hostfwd_remove_locked(s, &s->pubs[i]);
                        if (s->pubs[i].fd >= 0)
                                close(s->pubs[i].fd);
                        if (out)
                                out[n++] = s->pubs[i].port;
                        continue;
                }
                s->pubs[k++] = s->pubs[i];
        }
        s->n_pubs = k;
        if (ret) {
                *ret = out;
                *ret_n = n;
        }
}

int net_publish(struct net_store *s, const char *ctr_id, struct net_port *p, size_t n, struct berr *err) {
        if (n == 0)
                return 0;
        uint16_t elo, ehi;
        ephemeral_range(&elo, &ehi);
        pthread_mutex_lock(&s->lock);
        int r = 0;
        size_t done = 0;
        for (; done < n && r == 0; done++) {
                struct net_port *q = &p[done];
                char ip[46];
                host_text(q, ip);
                bool any = q->host_lo == 0;
                uint16_t lo = any ? elo : q->host_lo, hi = any ? ehi : q->host_hi;
                /* The IPv6 twin of an IPv4 binding (one HostIp "" gives both) gets the same
                 * host port, as dockerd gives them. */
                const struct net_port *tw = done > 0 ? &p[done - 1] : NULL;
                if (q->v6 && tw && !tw->v6 && tw->proto == q->proto && tw->ctr_port == q->ctr_port &&
                    tw->host_lo == q->host_lo && tw->host_hi == q->host_hi && tw->host_port) {
                        lo = hi = tw->host_port;
                        any = false;
                }
                uint32_t span = (uint32_t) hi - lo + 1;
                uint32_t start = 0;
                if (any || hi > lo) /* Docker's allocator: go on from the last port given */
                        start = s->next_port >= lo && s->next_port <= hi ? (uint32_t) (s->next_port - lo) : 0;
                int last = 0;
                bool ours = false;
                q->host_port = 0;
                for (uint32_t i = 0; i < span; i++) {
                        uint16_t port = (uint16_t) (lo + (start + i) % span);
                        if (held(s, q, port)) {
                                ours = true;
                                continue;
                        }
                        int fd;
                        last = reserve(q, port, s->o->hostfwd_api != NULL, s->o->hostfwd_pasta, &fd);
                        if (last < 0)
                                continue;
                        q->host_port = port;
                        if (pub_add(s, ctr_id, q, fd) < 0) {
                                if (fd >= 0)
                                        close(fd);
                                q->host_port = 0;
                                last = -ENOMEM;
                                break;
                        }
                        if (any || hi > lo)
                                s->next_port = (uint16_t) (port + 1);
                        break;
                }
                if (q->host_port) {
                        r = hostfwd_add_locked(s, &s->pubs[s->n_pubs - 1], err);
                        continue;
                }
                if (hi == lo && ours)
                        r = berr_set(err, BERR_CONFLICT, EADDRINUSE, "Bind for %s:%u failed: port is already allocated", ip,
                                     lo);
                else if (hi == lo)
                        r = berr_set(err, BERR_CONFLICT, -last, "Error starting userland proxy: listen %s%c %s%s%s:%u: bind: %s",
                                     proto_name(q->proto), q->v6 ? '6' : '4', q->v6 ? "[" : "", ip, q->v6 ? "]" : "", lo,
                                     strerror(-last));
                else
                        r = berr_set(err, BERR_CONFLICT, EADDRINUSE, "Bind for %s:%u-%u failed: port is already allocated",
                                     ip, lo, hi);
        }
        if (r == 0)
                r = fw_change(s, p, n, true, err);
        if (r < 0) {
                struct net_port *gone = NULL;
                size_t ng = 0;
                forget_locked(s, ctr_id, &gone, &ng);
                free(gone);
        }
        pthread_mutex_unlock(&s->lock);
        if (r < 0)
                berr_wrap(err, "driver failed programming external connectivity on endpoint %.12s", ctr_id);
        return r;
}

void net_unpublish(struct net_store *s, const char *ctr_id) {
        pthread_mutex_lock(&s->lock);
        struct net_port *gone = NULL;
        size_t n = 0;
        forget_locked(s, ctr_id, &gone, &n);
        struct berr e = { 0 };
        (void) fw_change(s, gone, n, false, &e);
        pthread_mutex_unlock(&s->lock);
        free(gone);
}

void net_republish(struct net_store *s, const char *ctr_id, const struct net_port *p, size_t n) {
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < n; i++) {
                int fd = -1;
                if (reserve(&p[i], p[i].host_port, s->o->hostfwd_api != NULL, s->o->hostfwd_pasta, &fd) < 0)
                        log_warn("container %.12s: port %u/%s could not be reserved again", ctr_id, p[i].host_port,
                                 proto_name(p[i].proto));
                if (pub_add(s, ctr_id, &p[i], fd) < 0) {
                        if (fd >= 0)
                                close(fd);
                        continue;
                }
                struct berr e = { 0 };
                if (hostfwd_add_locked(s, &s->pubs[s->n_pubs - 1], &e) < 0)
                        log_warn("container %.12s: %s", ctr_id, e.msg);
        }
        struct berr e = { 0 };
        if (fw_change(s, p, n, true, &e) < 0) /* they should be there already; make sure */
                log_warn("container %.12s: restore published ports: %s", ctr_id, e.msg);
        pthread_mutex_unlock(&s->lock);
}

void net_ports_resync(struct net_store *s) {
        if (!s->o->iptables)
                return;
        pthread_mutex_lock(&s->lock);
        ports_resync_locked(s);
        pthread_mutex_unlock(&s->lock);
        fw_session_end(); /* opened by net_store_open on this thread */
}

void ports_resync_locked(struct net_store *s) {
        struct fw_port *f = calloc(s->n_pubs + 1, sizeof(*f));
        if (!f)
                return;
        for (size_t i = 0; i < s->n_pubs; i++)
                to_fw(s, &s->pubs[i].port, &f[i]);
        struct berr e = { 0 };
        if (fw_ports_replace(s->o->table, f, s->n_pubs, &e) < 0)
                log_warn("resync published ports: %s", e.msg);
        free(f);
}
