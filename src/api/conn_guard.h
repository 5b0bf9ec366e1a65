/* conn_guard.h - what one client can hold of the API server: connections past a limit are
 * marked for a 503, and a connection waiting for a request (idle keep-alive, or headers
 * still coming in) is shut once its deadline passes. Requests being served are never
 * timed: event and log streams, waits, uploads and hijacked attach/exec sessions may last
 * as long as they need. Internal to api/ (server.c drives it from libmicrohttpd's
 * connection callbacks). */
#pragma once

#include <stdbool.h>

struct berr;
struct conn_guard;
struct conn_slot;

struct conn_guard_config {
        unsigned max_connections;       /* served at once; the ones past it get a 503 */
        unsigned header_timeout_ms;     /* from accept or the end of the last request to the end of the headers */
        unsigned overflow_timeout_ms;   /* the same for a connection past the limit */
};

int conn_guard_start(const struct conn_guard_config *cfg, struct conn_guard **ret, struct berr *err);
/* Call once no connection is left (the MHD daemons are stopped). Accepts NULL. */
struct conn_guard *conn_guard_stop(struct conn_guard *g);

/* A new connection on socket @fd, waiting for its first request. NULL if out of memory
 * (the connection is then neither counted nor timed). */
struct conn_slot *conn_guard_open(struct conn_guard *g, int fd);
/* The connection is gone; called before its socket is closed. Accepts NULL. */
void conn_guard_close(struct conn_guard *g, struct conn_slot *s);

/* It was accepted while max_connections were already open. */
bool conn_slot_is_overflow(const struct conn_slot *s);
/* A request's headers are in: stop the clock until the request is over. */
void conn_slot_serving(struct conn_guard *g, struct conn_slot *s);
/* The request is over; the connection waits for the next one. */
void conn_slot_waiting(struct conn_guard *g, struct conn_slot *s);
/* The socket now belongs to an upgrade handler (attach, exec): never time it again. */
void conn_slot_hijacked(struct conn_guard *g, struct conn_slot *s);

unsigned conn_guard_max_connections(const struct conn_guard *g);
