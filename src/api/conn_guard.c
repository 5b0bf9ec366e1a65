/* conn_guard.c - connection count and header deadlines for the API server (see
 * conn_guard.h). libmicrohttpd 0.9.75 offers only an inactivity timeout, which a client
 * sending one header line every few seconds never trips, and which would also cut an
 * `events` stream that is quiet for a while. So the deadline is ours: one reaper thread
 * shuts the socket of a connection still waiting for its request headers when its
 * deadline passes, and libmicrohttpd, reading EOF, closes the connection itself. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/err.h"
#include "conn_guard.h"

/* The reaper wakes at most this often, so many deadlines close together cost one pass. */
#define REAP_GRANULARITY_MS 250
/* Trim the heap when the count falls back to a few from at least this many. */
#define TRIM_AFTER_CONNECTIONS 256
#define TRIM_BELOW_CONNECTIONS 16

enum conn_state {
        CONN_WAITING,  /* timed: no request in progress */
        CONN_SERVING,  /* a request is being read or answered */
        CONN_HIJACKED, /* an upgrade handler owns the socket */
        CONN_SHUT,     /* the deadline passed; the socket was shut */
};

struct conn_slot {
        struct conn_slot *prev, *next;
        int fd;
        enum conn_state state;
        bool is_overflow;
        uint64_t deadline_ms;
};

struct conn_guard {
        struct conn_guard_config cfg;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        pthread_t reaper;
        bool stopping;
        unsigned n_open, n_peak; /* n_peak: since the heap was last trimmed */
        struct conn_slot *head; /* every open connection */
        uint64_t next_wake_ms;  /* when the reaper means to look again; UINT64_MAX: never */
};

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Under the lock: shut what is due, and say when the next deadline falls. */
static uint64_t reap_due(struct conn_guard *g, uint64_t now) {
        uint64_t next = UINT64_MAX;
        for (struct conn_slot *s = g->head; s; s = s->next) {
                if (s->state != CONN_WAITING)
                        continue;
                if (s->deadline_ms <= now) {
                        /* The fd is still this connection's: MHD reports the close (and we
                         * unlink the slot under this lock) before it closes the socket. */
                        (void) shutdown(s->fd, SHUT_RDWR); /* fails only if the peer already went */
                        s->state = CONN_SHUT;
                } else if (s->deadline_ms < next) {
                        next = s->deadline_ms;
                }
        }
        return next;
}

static void *reaper_main(void *arg) {
        struct conn_guard *g = arg;
        pthread_mutex_lock(&g->lock);
        while (!g->stopping) {
                uint64_t now = now_ms();
                uint64_t next = reap_due(g, now);
                if (next != UINT64_MAX && next < now + REAP_GRANULARITY_MS)
                        next = now + REAP_GRANULARITY_MS;
                g->next_wake_ms = next;
                if (next == UINT64_MAX) {
                        pthread_cond_wait(&g->wake, &g->lock);
                        continue;
                }
                struct timespec ts = { .tv_sec = (time_t) (next / 1000), .tv_nsec = (long) (next % 1000) * 1000000 };
                (void) pthread_cond_timedwait(&g->wake, &g->lock, &ts); /* ETIMEDOUT is the usual way out */
        }
        pthread_mutex_unlock(&g->lock);
        return NULL;
}

int conn_guard_start(const struct conn_guard_config *cfg, struct conn_guard **ret, struct berr *err) {
        struct conn_guard *g = calloc(1, sizeof(*g));
        if (!g)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        g->cfg = *cfg;
        g->next_wake_ms = UINT64_MAX;
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&g->wake, &ca);
        pthread_condattr_destroy(&ca);
        pthread_mutex_init(&g->lock, NULL);
        /* The reaper only loops over a list: a small stack is plenty. */
        pthread_attr_t ta;
        pthread_attr_init(&ta);
        pthread_attr_setstacksize(&ta, 64u << 10);
        int r = pthread_create(&g->reaper, &ta, reaper_main, g);
        pthread_attr_destroy(&ta);
        if (r != 0) {
                pthread_cond_destroy(&g->wake);
                pthread_mutex_destroy(&g->lock);
                free(g);
                return berr_set(err, BERR_INTERNAL, r, "cannot start the connection reaper: %s", strerror(r));
        }
        *ret = g;
        return 0;
}

struct conn_guard *conn_guard_stop(struct conn_guard *g) {
        if (!g)
                return NULL;
        pthread_mutex_lock(&g->lock);
        g->stopping = true;
        pthread_cond_signal(&g->wake);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->reaper, NULL);
        /* Every connection has ended by now; a slot left would be MHD's leak, not ours to free. */
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free(g);
        return NULL;
}

/* Under the lock: start @s's clock. */
static void start_clock(struct conn_guard *g, struct conn_slot *s) {
        s->state = CONN_WAITING;
        s->deadline_ms = now_ms() + (s->is_overflow ? g->cfg.overflow_timeout_ms : g->cfg.header_timeout_ms);
        if (s->deadline_ms < g->next_wake_ms)
                pthread_cond_signal(&g->wake);
}

struct conn_slot *conn_guard_open(struct conn_guard *g, int fd) {
        struct conn_slot *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->fd = fd;
        pthread_mutex_lock(&g->lock);
        s->is_overflow = g->n_open >= g->cfg.max_connections;
        g->n_open++;
        if (g->n_open > g->n_peak)
                g->n_peak = g->n_open;
        s->next = g->head;
        if (g->head)
                g->head->prev = s;
        g->head = s;
        start_clock(g, s);
        pthread_mutex_unlock(&g->lock);
        return s;
}

void conn_guard_close(struct conn_guard *g, struct conn_slot *s) {
        if (!s)
                return;
        pthread_mutex_lock(&g->lock);
        if (s->prev)
                s->prev->next = s->next;
        else
                g->head = s->next;
        if (s->next)
                s->next->prev = s->prev;
        g->n_open--;
        /* A few long streams (events, logs -f) may always stay: "gone" is "down to a few". */
        bool crowd_gone = g->n_open <= TRIM_BELOW_CONNECTIONS && g->n_peak >= TRIM_AFTER_CONNECTIONS;
        if (crowd_gone)
                g->n_peak = g->n_open;
        pthread_mutex_unlock(&g->lock);
        free(s);
        /* A crowd of connections leaves the heap fragmented with their small allocations;
         * give the memory back once the last one is gone, so idle RSS returns to idle. */
        if (crowd_gone)
                (void) malloc_trim(0); /* returns whether it released anything */
}

bool conn_slot_is_overflow(const struct conn_slot *s) {
        return s && s->is_overflow; /* set once, before MHD hands the connection on */
}

static void set_state(struct conn_guard *g, struct conn_slot *s, enum conn_state state) {
        if (!s)
                return;
        pthread_mutex_lock(&g->lock);
        /* A shut socket stays shut; a hijacked one is never timed again. */
        if (s->state != CONN_SHUT && s->state != CONN_HIJACKED) {
                if (state == CONN_WAITING)
                        start_clock(g, s);
                else
                        s->state = state;
        }
        pthread_mutex_unlock(&g->lock);
}

void conn_slot_serving(struct conn_guard *g, struct conn_slot *s) {
        set_state(g, s, CONN_SERVING);
}

void conn_slot_waiting(struct conn_guard *g, struct conn_slot *s) {
        set_state(g, s, CONN_WAITING);
}

void conn_slot_hijacked(struct conn_guard *g, struct conn_slot *s) {
        set_state(g, s, CONN_HIJACKED);
}

unsigned conn_guard_max_connections(const struct conn_guard *g) {
        return g->cfg.max_connections;
}
