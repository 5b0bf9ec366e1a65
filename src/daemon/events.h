/* events.h - the daemon's event bus: a bounded history plus live subscribers, served by
 * GET /events. Emitters never block on slow readers. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct daemon;

/* dockerd keeps the last 256 (daemon/events/events.go, eventsLimit); 1,024 here cost ~350 KB
 * of text once a daemon had seen as many events (measured at 1,000 containers). */
#define EVENTS_HISTORY 256

/* Record an event; @attrs (stolen, may be NULL) are the Actor's attributes. */
void events_emit(struct daemon *d, const char *type, const char *action, const char *id, json_t *attrs);

/* Emit a container event with Docker's attributes (image, name, labels, plus @extra). */
struct container;
void events_container(struct daemon *d, struct container *c, const char *action, json_t *extra);

struct events_sub;
/* Subscribe from @since_ns (0: only new events; history replayed if since is set) to
 * @until_ns (0: no end). */
struct events_sub *events_subscribe(struct daemon *d, int64_t since_ns, int64_t until_ns);
/* Next event as a JSON text line, blocking up to @timeout_ms (-1: for ever); NULL when
 * @until has passed or the bus closes, and NULL with *timed_out set on a timeout. */
char *events_next(struct events_sub *s, int timeout_ms, bool *timed_out);
void events_unsubscribe(struct events_sub *s);

int events_init(struct daemon *d);
/* Wake every subscriber with end-of-stream (before the HTTP server stops). */
void events_shutdown(struct daemon *d);
void events_close(struct daemon *d);
int events_listeners(struct daemon *d);
/* Events emitted since start (for --metrics-addr). */
uint64_t events_emitted(struct daemon *d);
