/* firewall.h - berth's nftables table (internal to src/network/). Everything berth adds to
 * the firewall lives in one table of its own (family inet), replaced in one transaction
 * whenever the set of networks changes; berth never touches another program's tables. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ipam.h"

struct berr;

/* com.docker.network.bridge.gateway_mode_ipv4 (Docker 28). */
enum fw_gw_mode {
        FW_GW_NAT,             /* masquerade out, published ports DNATed, no direct access from outside */
        FW_GW_NAT_UNPROTECTED, /* the same, but direct access from outside is not filtered */
        FW_GW_ROUTED,          /* no NAT: reachable directly, on published container ports (and ICMP) only */
        _FW_GW_MAX,
        _FW_GW_INVALID = -1,
};
enum fw_gw_mode fw_gw_mode_from_string(const char *s);

struct fw_net {
        const char *bridge;
        struct ipv4_net subnet;
        bool has_v6;
        struct ipv6_net subnet6;
        bool internal, masquerade, icc;
        enum fw_gw_mode gw_mode;
        uint32_t gateway;     /* the bridge's address (0: none) */
};

/* --bridge-accept-fwmark: forwarded packets to or from berth's bridges with mark & mask ==
 * mark are accepted, whatever berth's own rules would say. */
struct fw_mark {
        bool on;
        uint32_t mark, mask;
};

/* Put table @table in the shape @nets need: its chains are replaced in one transaction,
 * its maps of published ports are kept (they live on across a berthd restart). */
int fw_apply(const char *table, const struct fw_net *nets, size_t n, const struct fw_mark *accept, struct berr *err);
void fw_remove(const char *table);
/* Batches run on this thread between begin and end share one loaded libnftables. */
int fw_session_begin(struct berr *err);
void fw_session_end(void);

/* One published port as a map element. */
struct fw_port {
        uint8_t proto;
        bool v6;          /* host_ip6 and ctr_ip6 instead of host_ip and ctr_ip */
        uint8_t host_ip6[16]; /* all zero: any local address */
        uint8_t ctr_ip6[16];
        uint32_t host_ip; /* 0: any local address */
        uint16_t host_port;
        uint32_t ctr_ip;
        uint16_t ctr_port;
        bool routed;      /* the container is on a routed network: opened, not DNATed */
};
/* Add (@add) or delete the elements of @p, in one transaction. */
int fw_ports(const char *table, const struct fw_port *p, size_t n, bool add, struct berr *err);
/* Flush both port maps and fill them with @p, in one transaction. */
int fw_ports_replace(const char *table, const struct fw_port *p, size_t n, struct berr *err);
/* Base chains of other tables on the forward hook with a drop policy ("family table chain",
 * NULL-terminated, newly allocated): they drop container traffic whatever berth accepts. */
int fw_forward_drops(const char *table, char ***ret);
