/* container_net_int.h - what container_network.c shares with container_net_json.c,
 * container_net_ports.c and container_links.c (daemon/ only): the network modes, the keys
 * of an endpoint's record berth keeps to itself, and the helpers they call. */
#pragma once

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "container.h"
#include "network/network.h"

/* Keys of an endpoint's record that inspect does not show. */
#define EP_IFNAME "BerthIfname"
/* a network driver plugin's endpoint: its link's name on the host, and its ports programmed */
#define EP_SRC_IFNAME "BerthSrcIfname"
#define EP_EXTERNAL "BerthExternal"

enum net_mode { NM_BRIDGE, NM_NONE, NM_HOST, NM_CONTAINER, NM_USER };

static inline enum net_mode mode_of(const char *nm) {
        if (!nm || !*nm || strcmp(nm, "default") == 0 || strcmp(nm, "bridge") == 0)
                return NM_BRIDGE;
        if (strcmp(nm, "none") == 0)
                return NM_NONE;
        if (strcmp(nm, "host") == 0)
                return NM_HOST;
        if (strncmp(nm, "container:", 10) == 0)
                return NM_CONTAINER;
        return NM_USER;
}

static inline const char *net_mode_str(struct container *c) {
        return c->cc->hc.network_mode;
}

static inline const char *proto_str(uint8_t p) {
        return p == IPPROTO_UDP ? "udp" : p == IPPROTO_SCTP ? "sctp" : "tcp";
}

/* The endpoint record (container_net_json.c). */
json_t *ctr_net_endpoint_new(const char *net_id, json_t *cfg);
int ctr_net_check_endpoint_config(const char *name, json_t *cfg, struct berr *err);
void ctr_net_clear_endpoint(json_t *ep);
int ctr_net_ep_from_json(json_t *ep, struct net_ep *ret);
void ctr_net_fill_endpoint(json_t *ep, const struct net_info *ni, const struct net_ep *e);

/* Published ports (container_net_ports.c). */
int ctr_net_parse_port_key(const char *key, uint16_t *ret_port, uint8_t *ret_proto);
int ctr_net_check_ports(const struct ctr_config *req, struct berr *err);
int ctr_net_publish_ports(struct daemon *d, struct container *c, json_t *networks, json_t **ret, struct berr *err);
void ctr_net_plugin_port_labels(struct container *c, json_t *portmap, json_t *exposed);
int ctr_net_program_plugin_ports(struct daemon *d, struct container *c, json_t *networks, const char *primary,
                                 struct berr *err);
int ctr_net_ports_from_record(struct container *c, struct net_port **ret, size_t *ret_n);
