/* linkreap.c - veth deletions off the critical path.
 *
 * Deleting a network device waits in the kernel for RCU grace periods (unregister_netdevice:
 * 10–30 ms per veth on the 2-core test machines, measured with `ip link del`), and a
 * container's exit paid it before `wait` or `rm` could answer: most of what the default
 * bridge added to `docker run --rm` (bench/README.md). The host end of a container's veth
 * is now queued here, by interface index (ifindexes are allocated cyclically, so a later
 * device does not take a queued one's index), and deleted by one thread of its own.
 *
 * Nothing may see a device that is still being deleted. Its address: the store gives a
 * leaving endpoint's addresses back to the network only from the deletion's @done
 * callback (store_ep.c, net_leave), so an address is never on two live devices; a join that
 * finds the address it asks for taken, or none free, while some are on their way back,
 * waits for them and tries once more. Its name: a host name is the container's
 * and the network's, and a join under the same name deletes a leftover at once. So a start
 * no longer waits for the last container's deletion (it did: 14 ms of a bridge start in
 * a create/start/rm loop). The daemon's shutdown flushes the queue. The container's side
 * of the pair usually goes first anyway: its namespace is unmounted at once and the kernel
 * destroys it with its devices; the queued deletion is what holds when something else
 * keeps that namespace alive (--network container:<x>). */
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include <netlink/route/link.h>

#include "common/log.h"
#include "netlink.h"

#define REAP_MAX 1024

static pthread_mutex_t reap_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reap_cond = PTHREAD_COND_INITIALIZER; /* work queued, or work done */
struct reap_item {
        int idx;
        void (*done)(void *arg);
        void *arg;
};

static struct reap_item reap_queue[REAP_MAX];
static unsigned reap_n;       /* queued, not yet taken */
static unsigned reap_busy;    /* taken, being deleted */
static bool reap_started;

static void delete_index(int idx) {
        struct nl_sock *s = nl_socket_alloc();
        struct rtnl_link *l = rtnl_link_alloc();
        if (s && l && nl_connect(s, NETLINK_ROUTE) == 0) {
                rtnl_link_set_ifindex(l, idx);
                int r = rtnl_link_delete(s, l);
                /* gone already: its namespace was destroyed and took the pair with it */
                if (r < 0 && r != -NLE_NODEV && r != -NLE_OBJ_NOTFOUND)
                        log_warn("delete link %d: %s", idx, nl_geterror(r));
        }
        if (l)
                rtnl_link_put(l);
        if (s)
                nl_socket_free(s);
}

static void *reaper(void *arg) {
        (void) arg;
        /* Tests only: each deletion waits this long first, so that a join meets one queued. */
        const char *delay = getenv("BERTH_TEST_REAP_DELAY_MS");
        long delay_ms = delay ? strtol(delay, NULL, 10) : 0;
        pthread_mutex_lock(&reap_lock);
        for (;;) {
                while (reap_n == 0)
                        pthread_cond_wait(&reap_cond, &reap_lock);
                struct reap_item it = reap_queue[--reap_n];
                reap_busy++;
                pthread_mutex_unlock(&reap_lock);
                if (delay_ms > 0 && delay_ms <= 10000)
                        (void) nanosleep(&(struct timespec) { .tv_sec = delay_ms / 1000,
                                                              .tv_nsec = (delay_ms % 1000) * 1000000L }, NULL);
                delete_index(it.idx);
                if (it.done)
                        it.done(it.arg); /* before busy drops: a flush sees it done */
                pthread_mutex_lock(&reap_lock);
                reap_busy--;
                pthread_cond_broadcast(&reap_cond);
        }
        return NULL;
}

void nl_link_delete_later_then(const char *name, void (*done)(void *arg), void *arg) {
        int idx = (int) if_nametoindex(name);
        if (idx <= 0) {
                if (done)
                        done(arg); /* gone already */
                return;
        }
        pthread_mutex_lock(&reap_lock);
        if (!reap_started) {
                pthread_t t;
                pthread_attr_t a;
                pthread_attr_init(&a);
                pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
                pthread_attr_setstacksize(&a, 64 << 10);
                reap_started = pthread_create(&t, &a, reaper, NULL) == 0;
                pthread_attr_destroy(&a);
        }
        bool queued = reap_started && reap_n < REAP_MAX;
        if (queued) {
                reap_queue[reap_n++] = (struct reap_item) { .idx = idx, .done = done, .arg = arg };
                pthread_cond_broadcast(&reap_cond);
        }
        pthread_mutex_unlock(&reap_lock);
        if (!queued) {
                delete_index(idx); /* no thread, or a full queue: as before, at once */
                if (done)
                        done(arg);
        }
}

void nl_link_delete_later(const char *name) {
        nl_link_delete_later_then(name, NULL, NULL);
}

void nl_link_reap_flush(void) {
        pthread_mutex_lock(&reap_lock);
        while (reap_n > 0 || reap_busy > 0)
                pthread_cond_wait(&reap_cond, &reap_lock);
        pthread_mutex_unlock(&reap_lock);
}
