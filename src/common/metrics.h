/* metrics.h - counters for --metrics-addr: API requests by method, route and status with
 * a latency histogram (the API server observes each request as it completes). Bounded:
 * routes are the static patterns of the route table. */
#pragma once

#include <stddef.h>
#include <stdio.h>

/* @method and @route must be static strings (the route table's); @route NULL for a path
 * no route matched. */
void metrics_http_observe(const char *method, const char *route, unsigned status, double seconds);

/* Prometheus text exposition of the counters above, appended to @f. */
void metrics_http_write(FILE *f);

/* An event emitted (container actions, image pulls and pushes, ...): counted by type and
 * action, the action cut at ':' ("exec_start: sh" counts as exec_start). */
void metrics_event_observe(const char *type, const char *action);
void metrics_events_write(FILE *f);

/* One label value escaped for the exposition format (\\, \", \n). */
void metrics_write_label(FILE *f, const char *v);
