/* fwwatch.c - puts berth's nftables table back when another program takes it away.
 *
 * `nft flush ruleset`, a firewalld reload, an admin's `nft delete table` or a distribution's
 * firewall script would leave containers without published ports, NAT and isolation until
 * berthd restarts (dockerd has the same hole; podman added a command for it). A thread
 * listens to the kernel's nftables notifications (NFNLGRP_NFTABLES on a netlink socket of
 * its own): each transaction ends with a NEWGEN message naming the thread that committed
 * it. A transaction of another process that deleted anything of berth's table (the table,
 * a chain, rules, sets, map elements) makes the table be written again from berthd's
 * state, once things have been quiet for a moment (debounce). Transactions of berthd's own
 * threads are never acted on, so berth's own changes cannot loop. Rules an administrator
 * removes from the "admin" chain are theirs to remove. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
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
        void (*reapply)(void *arg);
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

/* Whether thread @tid is one of berthd's. */
static bool is_own_thread(uint32_t tid) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/task/%u", tid);
        return access(path, F_OK) == 0;
}

/* One message: *touched says whether the transaction so far deleted something of ours;
 * returns true at the end of a foreign transaction that did. */
static bool on_message(struct fw_watch *w, const struct nlmsghdr *h, bool *touched) {
        if (NFNL_SUBSYS_ID(h->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
                return false;
        switch (NFNL_MSG_TYPE(h->nlmsg_type)) {
        case NFT_MSG_DELRULE:
                /* The admin chain's rules are the administrator's. */
                if (attr_is(h, NFTA_RULE_TABLE, w->table) && !attr_is(h, NFTA_RULE_CHAIN, "admin"))
                        *touched = true;
                return false;
        case NFT_MSG_DELTABLE:
        case NFT_MSG_DELCHAIN:
        case NFT_MSG_DELSET:
        case NFT_MSG_DELSETELEM:
        case NFT_MSG_DELOBJ:
        case NFT_MSG_DELFLOWTABLE:
                /* The table's name is attribute 1 of each of these. */
                if (attr_is(h, 1, w->table))
                        *touched = true;
                return false;
        case NFT_MSG_NEWGEN: {
                bool was = *touched;
                *touched = false;
                const struct nlattr *pid = attr(h, NFTA_GEN_PROC_PID);
                if (!was)
                        return false;
                if (pid && pid->nla_len >= NLA_HDRLEN + 4) {
                        uint32_t be;
                        memcpy(&be, (const char *) pid + NLA_HDRLEN, 4);
                        if (is_own_thread(ntohl(be)))
                                return false;
                }
                return true;
        }
        default:
                return false;
        }
}

static void *watch_main(void *arg) {
        struct fw_watch *w = arg;
        static char buf[1 << 16];
        bool touched = false;
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
                        log_info("nftables table %s was changed by another program: putting berth's rules back", w->table);
                        w->reapply(w->arg);
                        continue;
                }
                if (!(p[0].revents & POLLIN))
                        continue;
                ssize_t len = recv(w->fd, buf, sizeof(buf), MSG_DONTWAIT);
                bool foreign = false;
                if (len < 0) {
                        if (errno != ENOBUFS)
                                continue;
                        /* Notifications were lost: what they said is unknown, so look again. */
                        touched = false;
                        foreign = true;
                } else {
                        for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK(h, (size_t) len);
                             h = NLMSG_NEXT(h, len))
                                foreign |= on_message(w, h, &touched);
                }
                if (foreign) {
                        int64_t t = now_ms();
                        if (!first)
                                first = t;
                        due = t + DEBOUNCE_MS < first + DEBOUNCE_MAX_MS ? t + DEBOUNCE_MS : first + DEBOUNCE_MAX_MS;
                }
        }
        return NULL;
}

int fw_watch_start(const char *table, void (*reapply)(void *), void *arg, struct fw_watch **ret, struct berr *err) {
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
