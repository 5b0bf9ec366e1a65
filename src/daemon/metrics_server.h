/* metrics_server.h - --metrics-addr: GET /metrics in Prometheus text exposition (0.0.4)
 * on a loopback address, served by one thread of its own. */
#pragma once

struct daemon;
struct berr;
struct metrics_server;

/* NULL in *ret when no metrics-addr is configured. */
int metrics_server_start(struct daemon *d, struct metrics_server **ret, struct berr *err);
void metrics_server_stop(struct metrics_server *m);
