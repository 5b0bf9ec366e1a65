/* fwwatch.c - puts berth's nftables table back when another program takes it away.
 *
 * `nft flush ruleset`, a firewalld reload, an admin's `nft delete table` or a distribution's
 * firewall script would leave containers without published ports, NAT and isolation until
 * berthd restarts (dockerd has the same hole; podman added a command for it). A thread
 * listens to the kernel's nftables notifications (NFNLGRP_NFTABLES on a netlink socket of
 * its own): each transaction ends with a NEWGEN message naming the thread that committed
 * it. A transaction of another process that deleted anything of berth's table (the table,
 * a chain, rules, sets, map elements) makes the table be written again from berthd's
 * state, once things have been quiet for a moment (debounce); so does a base chain with a
 * drop policy in another table coming or going (the forward-drop warnings are worked out
 * again then). Transactions of berthd's own
 * threads are never acted on, so berth's own changes cannot loop. Rules an administrator
 * removes from the "admin" chain are theirs to remove. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "fwwatch.h"

#define DEBOUNCE_MS 150
#define DEBOUNCE_MAX_MS 1000

struct fw_watch {
        pthread_t thread;
        int fd;
        int stop[2];
        char table[128];
        void (*reapply)(void *arg, bool only_if_warned);
        void *arg;
};

static int64_t now_ms(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t) t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Attribute @type of an nftables message (after its nfgenmsg), or NULL. */
static const struct nlattr *attr(const struct nlmsghdr *h, uint16_t type) {
        size_t off = NLMSG_LENGTH(sizeof(struct nfgenmsg));
        off = NLMSG_ALIGN(off);
        while (off + NLA_HDRLEN <= h->nlmsg_len) {
                const struct nlattr *a = (const struct nlattr *) ((const char *) h + off);
                if (a->nla_len < NLA_HDRLEN || off + a->nla_len > h->nlmsg_len)
                        return NULL;
                if ((a->nla_type & NLA_TYPE_MASK) == type)
                        return a;
                off += NLA_ALIGN(a->nla_len);
        }
        return NULL;
}

static bool attr_is(const struct nlmsghdr *h, uint16_t type, const char *want) {
        const struct nlattr *a = attr(h, type);
        if (!a)
                return false;
        size_t len = a->nla_len - NLA_HDRLEN;
        const char *v = (const char *) a + NLA_HDRLEN;
        size_t wl = strlen(want);
        return (len == wl + 1 && v[wl] == '\0' && memcmp(v, want, wl) == 0) || (len == wl && memcmp(v, want, wl) == 0);
}

/* A base chain with a drop policy. Only those: every berthd on the host (and many other
 * programs) re-adds its accept-policy base chains at each change, and acting on those
 * would have berthds answer each other's changes for ever. */
static bool is_drop_policy(const struct nlmsghdr *h) {
        const struct nlattr *a = attr(h, NFTA_CHAIN_POLICY);
        if (!a || a->nla_len < NLA_HDRLEN + 4 || !attr(h, NFTA_CHAIN_HOOK))
                return false;
        uint32_t be;
        memcpy(&be, (const char *) a + NLA_HDRLEN, 4);
        return ntohl(be) == NF_DROP;
}

/* The threads that changed the ruleset lately, newest last (a ring): a thread that
 * committed and exited before its notification was read is still known as ours. */
#define OWN_RING 256
static _Atomic uint32_t own_ring[OWN_RING];
static _Atomic unsigned own_next;

void fw_watch_note_own_thread(void) {
        uint32_t tid = (uint32_t) gettid();
        for (unsigned i = 0; i < OWN_RING; i++)
                if (atomic_load(&own_ring[i]) == tid)
                        return;
        atomic_store(&own_ring[atomic_fetch_add(&own_next, 1) % OWN_RING], tid);
}

/* Whether thread @tid is one of berthd's. */
static bool is_own_thread(uint32_t tid) {
        for (unsigned i = 0; i < OWN_RING; i++)
                if (atomic_load(&own_ring[i]) == tid)
                        return true;
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/task/%u", tid);
        return access(path, F_OK) == 0;
}

/* What a transaction did that matters here. */
enum {
        SEEN_OURS = 1,       /* deleted something of berth's table, or made a drop-policy base chain */
        SEEN_OTHER_TABLE = 2, /* deleted another table (a drop-policy chain may have gone with it) */
        SEEN_LOST = 4,        /* notifications were lost (ENOBUFS): what changed is unknown */
};

/* One message: *touched gathers SEEN_* of the transaction so far; returns them at the end
 * of a foreign transaction (0 otherwise). */
static int on_message(struct fw_watch *w, const struct nlmsghdr *h, int *touched) {
        if (NFNL_SUBSYS_ID(h->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
                return false;
        switch (NFNL_MSG_TYPE(h->nlmsg_type)) {
        case NFT_MSG_DELRULE:
                /* The admin chain's rules are the administrator's. */
                if (attr_is(h, NFTA_RULE_TABLE, w->table) && !attr_is(h, NFTA_RULE_CHAIN, "admin"))
                        *touched |= SEEN_OURS;
                return 0;
        case NFT_MSG_NEWCHAIN:
        case NFT_MSG_DELCHAIN:
                /* Another table's base chain came, went or changed its policy (a FORWARD
                 * DROP of ufw, firewalld, iptables): the warnings of docker info are
                 * worked out again with the table. */
                if (attr_is(h, NFTA_CHAIN_TABLE, w->table) ? NFNL_MSG_TYPE(h->nlmsg_type) == NFT_MSG_DELCHAIN
                                                           : is_drop_policy(h))
                        *touched |= SEEN_OURS;
                return 0;
        case NFT_MSG_DELTABLE:
                *touched |= attr_is(h, NFTA_TABLE_NAME, w->table) ? SEEN_OURS : SEEN_OTHER_TABLE;
                return 0;
        case NFT_MSG_DELSET:
        case NFT_MSG_DELSETELEM:
        case NFT_MSG_DELOBJ:
        case NFT_MSG_DELFLOWTABLE:
                /* The table's name is attribute 1 of each of these. */
                if (attr_is(h, 1, w->table))
                        *touched |= SEEN_OURS;
                return 0;
        case NFT_MSG_NEWGEN: {
                int was = *touched;
                *touched = 0;
                const struct nlattr *pid = attr(h, NFTA_GEN_PROC_PID);
                if (!was)
                        return 0;
                if (pid && pid->nla_len >= NLA_HDRLEN + 4) {
                        uint32_t be;
                        memcpy(&be, (const char *) pid + NLA_HDRLEN, 4);
                        if (is_own_thread(ntohl(be)))
                                return 0;
                }
                return was;
        }
        default:
                return 0;
        }
}

static void *watch_main(void *arg) {
        struct fw_watch *w = arg;
        static char buf[1 << 16];
        int touched = 0, pending = 0;
        int64_t due = 0, first = 0;
        for (;;) {
                int timeout = -1;
                if (due) {
                        int64_t left = due - now_ms();
                        timeout = left > 0 ? (int) left : 0;
                }
                struct pollfd p[2] = { { .fd = w->fd, .events = POLLIN }, { .fd = w->stop[0], .events = POLLIN } };
                int n = poll(p, 2, timeout);
                if (n < 0 && errno != EINTR)
                        break;
                if (p[1].revents)
                        break;
                if (due && now_ms() >= due) {
                        due = first = 0;
                        if (pending & SEEN_OURS)
                                log_info("nftables table %s was changed by another program: putting berth's rules back",
                                         w->table);
                        else if (pending & SEEN_LOST) /* it may have been changed: put it back all the same */
                                log_info("nftables notifications were lost (the ruleset changed faster than they were "
                                         "read): applying table %s again",
                                         w->table);
                        w->reapply(w->arg, !(pending & (SEEN_OURS | SEEN_LOST)));
                        pending = 0;
                        continue;
                }
                if (!(p[0].revents & POLLIN))
                        continue;
                ssize_t len = recv(w->fd, buf, sizeof(buf), MSG_DONTWAIT);
                int foreign = 0;
                if (len < 0) {
                        if (errno != ENOBUFS)
                                continue;
                        /* Notifications were lost: what they said is unknown, so look again. */
                        touched = 0;
                        foreign = SEEN_LOST;
                } else {
                        for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK(h, (size_t) len);
                             h = NLMSG_NEXT(h, len))
                                foreign |= on_message(w, h, &touched);
                }
                pending |= foreign;
                if (foreign) {
                        int64_t t = now_ms();
                        if (!first)
                                first = t;
                        due = t + DEBOUNCE_MS < first + DEBOUNCE_MAX_MS ? t + DEBOUNCE_MS : first + DEBOUNCE_MAX_MS;
                }
        }
        return NULL;
}

int fw_watch_start(const char *table, void (*reapply)(void *, bool), void *arg, struct fw_watch **ret, struct berr *err) {
        struct fw_watch *w = calloc(1, sizeof(*w));
        if (!w)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        snprintf(w->table, sizeof(w->table), "%s", table);
        w->reapply = reapply;
        w->arg = arg;
        w->stop[0] = w->stop[1] = -1;
        w->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        int r = 0;
        if (w->fd < 0)
                r = berr_sys(err, BERR_INTERNAL, "netfilter netlink socket");
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1u << (NFNLGRP_NFTABLES - 1) };
        if (r == 0 && bind(w->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                r = berr_sys(err, BERR_INTERNAL, "listen to nftables notifications");
        /* Room for a big transaction's notifications (a map of thousands of ports). */
        int size = 8 << 20;
        if (r == 0 && setsockopt(w->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
                (void) setsockopt(w->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)); /* best effort: ENOBUFS is handled */
        if (r == 0 && pipe2(w->stop, O_CLOEXEC) < 0)
                r = berr_sys(err, BERR_INTERNAL, "pipe");
        if (r == 0 && (errno = pthread_create(&w->thread, NULL, watch_main, w)) != 0)
                r = berr_sys(err, BERR_INTERNAL, "start the nftables watcher");
        if (r < 0) {
                if (w->fd >= 0)
                        close(w->fd);
                if (w->stop[0] >= 0) {
                        close(w->stop[0]);
                        close(w->stop[1]);
                }
                free(w);
                return r;
        }
        *ret = w;
        return 0;
}

void fw_watch_stop(struct fw_watch *w) {
        if (!w)
                return;
        if (write(w->stop[1], "x", 1) < 0)
                log_warn("stop the nftables watcher: %s", strerror(errno));
        pthread_join(w->thread, NULL);
        close(w->fd);
        close(w->stop[0]);
        close(w->stop[1]);
        free(w);
}
