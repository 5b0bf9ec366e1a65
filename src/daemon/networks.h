/* networks.h - the network store's read side for the API (list, inspect, warnings for
 * `docker info`). Create, remove, prune, connect and disconnect change containers too and
 * live with them (container.h, container_network.c). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

struct berr;
struct daemon;

/* GET /networks: the records passing @filters. */
int daemon_net_list(struct daemon *d, json_t *filters, json_t **ret, struct berr *err);
/* GET /networks/{id} */
int daemon_net_inspect(struct daemon *d, const char *ref, bool verbose, json_t **ret, struct berr *err);
/* docker info Warnings about the firewall (net_warnings). */
json_t *daemon_net_warnings(struct daemon *d);
