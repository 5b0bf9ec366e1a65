/* firewall.h - berth's nftables table (internal to src/network/). Everything berth adds to
 * the firewall lives in one table of its own (family inet), replaced in one transaction
 * whenever the set of networks changes; berth never touches another program's tables. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ipam.h"

struct berr;

struct fw_net {
        const char *bridge;
        struct ipv4_net subnet;
        bool internal, masquerade, icc;
};

/* Replace table @table with the rules @nets need (no networks: the table goes). */
int fw_apply(const char *table, const struct fw_net *nets, size_t n, struct berr *err);
void fw_remove(const char *table);
