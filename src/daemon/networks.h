/* networks.h - the network API's daemon side: the store's read side (list, inspect,
 * warnings for `docker info`, networks.c) and create, remove and prune, which change
 * containers too and live with them (container_network.c; connect and disconnect are
 * container operations, container.h). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct berr;
struct daemon;

/* GET /networks: the records passing @filters. */
int daemon_net_list(struct daemon *d, json_t *filters, json_t **ret, struct berr *err);
/* GET /networks/{id} */
int daemon_net_inspect(struct daemon *d, const char *ref, bool verbose, json_t **ret, struct berr *err);
/* docker info Warnings about the firewall (net_warnings). */
json_t *daemon_net_warnings(struct daemon *d);
/* The store's work plus events (container_network.c). */
int daemon_net_create(struct daemon *d, json_t *req, char ret_id[65], char ret_warning[256], struct berr *err);
int daemon_net_remove(struct daemon *d, const char *ref, struct berr *err);
int daemon_net_prune(struct daemon *d, json_t *filters, int64_t until_ns, json_t **ret_deleted, struct berr *err);
