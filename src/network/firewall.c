/* firewall.c - berth's nftables table, written as nft's own language through libnftables
 * and committed as one transaction (the kernel applies it whole or not at all).
 *
 * The forward chain accepts what berth's networks need and drops what Docker forbids:
 * traffic between two networks, anything in or out of an --internal network, and new
 * connections from outside to container addresses (published ports arrive DNATed and are
 * accepted by "ct status dnat"). An accept here ends only this chain: a DROP in another
 * table's chain on the same hook still drops the packet. */
#include "firewall.h"

#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/log.h"

struct sbuf {
        char *p;
        size_t len, cap;
        bool oom;
};

__attribute__((format(printf, 2, 3))) static void sb_add(struct sbuf *b, const char *fmt, ...) {
        va_list ap;
        for (;;) {
                va_start(ap, fmt);
                int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
                va_end(ap);
                if (n < 0) {
                        b->oom = true;
                        return;
                }
                if (b->p && b->len + (size_t) n < b->cap) {
                        b->len += (size_t) n;
                        return;
                }
                size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t) n;
                char *np = realloc(b->p, cap);
                if (!np) {
                        b->oom = true;
                        return;
                }
                b->p = np;
                b->cap = cap;
        }
}

static int run(const char *cmds, struct berr *err) {
        struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!ctx)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "nftables context");
        nft_ctx_buffer_output(ctx);
        nft_ctx_buffer_error(ctx);
        int r = nft_run_cmd_from_buffer(ctx, cmds);
        if (r != 0) {
                const char *e = nft_ctx_get_error_buffer(ctx);
                berr_set(err, BERR_INTERNAL, EIO, "nftables: %.*s", (int) strcspn(e ? e : "", "\n"), e ? e : "");
                log_debug("nftables input was:\n%s", cmds);
        }
        nft_ctx_free(ctx);
        return r != 0 ? -EIO : 0;
}

int fw_apply(const char *table, const struct fw_net *nets, size_t n, struct berr *err) {
        struct sbuf b = { 0 };
        /* "add" then "delete" makes the delete safe when the table is new; the new table
         * follows in the same transaction. */
        sb_add(&b, "add table inet %s\ndelete table inet %s\n", table, table);
        if (n == 0)
                goto apply;
        sb_add(&b, "table inet %s {\n", table);
        sb_add(&b, "  set bridges { type ifname; elements = { ");
        for (size_t i = 0; i < n; i++)
                sb_add(&b, "%s\"%s\"", i ? ", " : "", nets[i].bridge);
        sb_add(&b, " } }\n");
        sb_add(&b, "  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
        for (size_t i = 0; i < n; i++) {
                const struct fw_net *w = &nets[i];
                const char *br = w->bridge;
                sb_add(&b, "    iifname \"%s\" oifname \"%s\" %s\n", br, br, w->icc ? "accept" : "drop");
                if (w->internal) {
                        sb_add(&b, "    iifname \"%s\" drop\n    oifname \"%s\" drop\n", br, br);
                        continue;
                }
                sb_add(&b, "    iifname \"%s\" oifname @bridges drop\n", br);
                sb_add(&b, "    iifname \"%s\" accept\n", br);
                sb_add(&b, "    oifname \"%s\" ct state established,related accept\n", br);
                sb_add(&b, "    oifname \"%s\" ct status dnat accept\n", br);
                sb_add(&b, "    oifname \"%s\" drop\n", br);
        }
        sb_add(&b, "  }\n");
        sb_add(&b, "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        for (size_t i = 0; i < n; i++) {
                const struct fw_net *w = &nets[i];
                if (w->internal || !w->masquerade)
                        continue;
                char cidr[20];
                ipam_format_cidr4(&w->subnet, cidr);
                sb_add(&b, "    ip saddr %s oifname != \"%s\" masquerade\n", cidr, w->bridge);
        }
        sb_add(&b, "  }\n}\n");
apply:
        if (b.oom) {
                free(b.p);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        int r = run(b.p, err);
        free(b.p);
        return r;
}

void fw_remove(const char *table) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "add table inet %s\ndelete table inet %s\n", table, table);
        struct berr e = { 0 };
        if (run(cmd, &e) < 0)
                log_warn("remove nftables table %s: %s", table, e.msg);
}
