/* events.c - event history ring and subscribers. */
#include "events.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/metrics.h"
#include "container.h"
#include "daemon.h"

struct event {
        uint64_t seq;
        int64_t time_ns;
        char *text; /* the JSON line without newline */
};

struct events_bus {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct event ring[EVENTS_HISTORY];
        uint64_t next_seq; /* seq of the next event */
        int listeners;
        bool closed;
};

struct events_sub {
        struct events_bus *bus;
        uint64_t seq; /* next seq to deliver */
        int64_t until_ns;
};

static int64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int events_init(struct daemon *d) {
        struct events_bus *b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        pthread_mutex_init(&b->lock, NULL);
        pthread_cond_init(&b->cond, NULL);
        b->next_seq = 1;
        d->events = b;
        return 0;
}

void events_shutdown(struct daemon *d) {
        struct events_bus *b = d->events;
        if (!b)
                return;
        pthread_mutex_lock(&b->lock);
        b->closed = true;
        pthread_cond_broadcast(&b->cond);
        pthread_mutex_unlock(&b->lock);
}

void events_close(struct daemon *d) {
        struct events_bus *b = d->events;
        if (!b)
                return;
        events_shutdown(d);
        pthread_mutex_lock(&b->lock);
        while (b->listeners > 0)
                pthread_cond_wait(&b->cond, &b->lock);
        pthread_mutex_unlock(&b->lock);
        for (size_t i = 0; i < EVENTS_HISTORY; i++)
                free(b->ring[i].text);
        free(b);
        d->events = NULL;
}

uint64_t events_emitted(struct daemon *d) {
        struct events_bus *b = d->events;
        if (!b)
                return 0;
        pthread_mutex_lock(&b->lock);
        uint64_t n = b->next_seq - 1;
        pthread_mutex_unlock(&b->lock);
        return n;
}

int events_listeners(struct daemon *d) {
        struct events_bus *b = d->events;
        if (!b)
                return 0;
        pthread_mutex_lock(&b->lock);
        int n = b->listeners;
        pthread_mutex_unlock(&b->lock);
        return n;
}

void events_emit(struct daemon *d, const char *type, const char *action, const char *id, json_t *attrs) {
        struct events_bus *b = d->events;
        if (!b) {
                json_decref(attrs);
                return;
        }
        metrics_event_observe(type, action);
        int64_t t = now_ns();
        json_t *o = json_object();
        if (strcmp(type, "container") == 0 || strcmp(type, "image") == 0) {
                /* the pre-1.22 fields the CLI still prints from */
                json_object_set_new(o, "status", json_string(action));
                json_object_set_new(o, "id", json_string(id));
                json_t *from = json_object_get(attrs, "image");
                if (from && strcmp(type, "container") == 0)
                        json_object_set(o, "from", from);
        }
        json_object_set_new(o, "Type", json_string(type));
        json_object_set_new(o, "Action", json_string(action));
        json_object_set_new(o, "Actor", json_pack("{s:s, s:o}", "ID", id, "Attributes", attrs ? attrs : json_object()));
        json_object_set_new(o, "scope", json_string("local"));
        json_object_set_new(o, "time", json_integer(t / 1000000000LL));
        json_object_set_new(o, "timeNano", json_integer(t));
        char *text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!text)
                return;
        pthread_mutex_lock(&b->lock);
        struct event *e = &b->ring[b->next_seq % EVENTS_HISTORY];
        free(e->text);
        e->seq = b->next_seq++;
        e->time_ns = t;
        e->text = text;
        pthread_cond_broadcast(&b->cond);
        pthread_mutex_unlock(&b->lock);
}

void events_container(struct daemon *d, struct container *c, const char *action, json_t *extra) {
        json_t *attrs = json_object();
        json_t *labels = json_object_get(c->config, "Labels");
        const char *k;
        json_t *v;
        json_object_foreach(labels, k, v) json_object_set(attrs, k, v);
        json_object_set(attrs, "image", json_object_get(c->config, "Image"));
        json_object_set_new(attrs, "name", json_string(c->name + 1));
        if (extra) {
                json_object_update(attrs, extra);
                json_decref(extra);
        }
        events_emit(d, "container", action, c->id, attrs);
}

struct events_sub *events_subscribe(struct daemon *d, int64_t since_ns, int64_t until_ns) {
        struct events_bus *b = d->events;
        struct events_sub *s = calloc(1, sizeof(*s));
        if (!s || !b) {
                free(s);
                return NULL;
        }
        s->bus = b;
        s->until_ns = until_ns;
        pthread_mutex_lock(&b->lock);
        b->listeners++;
        s->seq = b->next_seq;
        if (since_ns) {
                uint64_t oldest = b->next_seq > EVENTS_HISTORY ? b->next_seq - EVENTS_HISTORY : 1;
                for (uint64_t q = oldest; q < b->next_seq; q++)
                        if (b->ring[q % EVENTS_HISTORY].time_ns >= since_ns) {
                                s->seq = q;
                                break;
                        }
        }
        pthread_mutex_unlock(&b->lock);
        return s;
}

char *events_next(struct events_sub *s, int timeout_ms, bool *timed_out) {
        struct events_bus *b = s->bus;
        *timed_out = false;
        struct timespec limit;
        clock_gettime(CLOCK_REALTIME, &limit);
        if (timeout_ms >= 0) {
                limit.tv_sec += timeout_ms / 1000;
                limit.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
                if (limit.tv_nsec >= 1000000000L) {
                        limit.tv_sec++;
                        limit.tv_nsec -= 1000000000L;
                }
        }
        pthread_mutex_lock(&b->lock);
        for (;;) {
                if (b->closed)
                        break;
                uint64_t oldest = b->next_seq > EVENTS_HISTORY ? b->next_seq - EVENTS_HISTORY : 1;
                if (s->seq < oldest)
                        s->seq = oldest; /* a reader that fell behind loses the oldest */
                if (s->seq < b->next_seq) {
                        struct event *e = &b->ring[s->seq % EVENTS_HISTORY];
                        s->seq++;
                        if (s->until_ns && e->time_ns > s->until_ns)
                                break;
                        char *line = strdup(e->text);
                        pthread_mutex_unlock(&b->lock);
                        return line;
                }
                if (s->until_ns && now_ns() >= s->until_ns)
                        break;
                struct timespec ts = limit;
                bool bounded = timeout_ms >= 0;
                if (s->until_ns) {
                        struct timespec u = { .tv_sec = s->until_ns / 1000000000LL, .tv_nsec = s->until_ns % 1000000000LL };
                        if (!bounded || u.tv_sec < ts.tv_sec || (u.tv_sec == ts.tv_sec && u.tv_nsec < ts.tv_nsec))
                                ts = u;
                        bounded = true;
                }
                if (!bounded)
                        pthread_cond_wait(&b->cond, &b->lock);
                else if (pthread_cond_timedwait(&b->cond, &b->lock, &ts) != 0 && timeout_ms >= 0 &&
                         (!s->until_ns || now_ns() < s->until_ns)) {
                        struct timespec now;
                        clock_gettime(CLOCK_REALTIME, &now);
                        if (now.tv_sec > limit.tv_sec || (now.tv_sec == limit.tv_sec && now.tv_nsec >= limit.tv_nsec)) {
                                *timed_out = true;
                                break;
                        }
                }
        }
        pthread_mutex_unlock(&b->lock);
        return NULL;
}

void events_unsubscribe(struct events_sub *s) {
        if (!s)
                return;
        struct events_bus *b = s->bus;
        pthread_mutex_lock(&b->lock);
        b->listeners--;
        pthread_cond_broadcast(&b->cond);
        pthread_mutex_unlock(&b->lock);
        free(s);
}
