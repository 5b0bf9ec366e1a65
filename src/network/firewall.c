/* firewall.c - berth's nftables table, written as nft's own language through libnftables
 * and committed as one transaction (the kernel applies it whole or not at all).
 *
 * The forward chain accepts what berth's networks need and drops what Docker forbids:
 * traffic between two networks, anything in or out of an --internal network, and new
 * connections from outside to container addresses (published ports arrive DNATed and are
 * accepted by "ct status dnat"). An accept here ends only this chain: a DROP in another
 * table's chain on the same hook still drops the packet. */
#include "firewall.h"
#include "fwwatch.h"

#include <dlfcn.h>
#include <malloc.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* libnftables (with libnftnl, libmnl, libgmp, libxtables) is opened for each batch and
 * closed after it: linked for good it cost berthd ~2 MB of idle RSS (measured), and
 * batches are rare (start-up, network changes, a container's published ports). */
#define NFT_SONAME "libnftables.so.1"

struct nft_api {
        void *h;
        struct nft_ctx *(*ctx_new)(uint32_t);
        void (*ctx_free)(struct nft_ctx *);
        int (*buffer_output)(struct nft_ctx *);
        int (*buffer_error)(struct nft_ctx *);
        int (*run_cmd)(struct nft_ctx *, const char *);
        const char *(*get_error)(struct nft_ctx *);
        const char *(*get_output)(struct nft_ctx *);
        void (*set_output_flags)(struct nft_ctx *, unsigned int);
};

static int nft_open(struct nft_api *a, struct berr *err) {
        a->h = dlopen(NFT_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!a->h)
                return berr_set(err, BERR_INTERNAL, ENOSYS, "load %s: %s", NFT_SONAME, dlerror());
        a->ctx_new = (__typeof__(a->ctx_new)) dlsym(a->h, "nft_ctx_new");
        a->ctx_free = (__typeof__(a->ctx_free)) dlsym(a->h, "nft_ctx_free");
        a->buffer_output = (__typeof__(a->buffer_output)) dlsym(a->h, "nft_ctx_buffer_output");
        a->buffer_error = (__typeof__(a->buffer_error)) dlsym(a->h, "nft_ctx_buffer_error");
        a->run_cmd = (__typeof__(a->run_cmd)) dlsym(a->h, "nft_run_cmd_from_buffer");
        a->get_error = (__typeof__(a->get_error)) dlsym(a->h, "nft_ctx_get_error_buffer");
        a->get_output = (__typeof__(a->get_output)) dlsym(a->h, "nft_ctx_get_output_buffer");
        a->set_output_flags = (__typeof__(a->set_output_flags)) dlsym(a->h, "nft_ctx_output_set_flags");
        if (!a->get_output || !a->set_output_flags || !a->ctx_new || !a->ctx_free || !a->buffer_output || !a->buffer_error || !a->run_cmd || !a->get_error) {
                dlclose(a->h);
                return berr_set(err, BERR_INTERNAL, ENOSYS, "%s: a symbol is missing", NFT_SONAME);
        }
        return 0;
}

/* Run @cmds; with @json_out, the output as JSON (newly allocated) in *json_out. */
static int run_out(const char *cmds, char **json_out, struct berr *err);

static int run(const char *cmds, struct berr *err) {
        return run_out(cmds, NULL, err);
}

/* Several batches in a row on this thread share one loaded library and context (start-up
 * runs three): fw_session_begin/fw_session_end. */
static __thread struct nft_session {
        struct nft_api a;
        struct nft_ctx *ctx;
} *session;

static int session_open(struct nft_session *x, struct berr *err) {
        int r = nft_open(&x->a, err);
        if (r < 0)
                return r;
        x->ctx = x->a.ctx_new(NFT_CTX_DEFAULT);
        if (!x->ctx) {
                dlclose(x->a.h);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "nftables context");
        }
        x->a.buffer_output(x->ctx);
        x->a.buffer_error(x->ctx);
        return 0;
}

static void session_close(struct nft_session *x) {
        x->a.ctx_free(x->ctx);
        dlclose(x->a.h);
        /* libnftables reads the kernel's whole ruleset into its cache: give the freed
         * memory back rather than keep it in this thread's arena (measured: +30 MB). */
        malloc_trim(0);
}

int fw_session_begin(struct berr *err) {
        if (session)
                return 0;
        struct nft_session *x = calloc(1, sizeof(*x));
        if (!x)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = session_open(x, err);
        if (r < 0) {
                free(x);
                return r;
        }
        session = x;
        return 0;
}

void fw_session_end(void) {
        if (!session)
                return;
        session_close(session);
        free(session);
        session = NULL;
}

static int run_out(const char *cmds, char **json_out, struct berr *err) {
        struct nft_session one, *x = session;
        int r;
        if (!x) {
                if ((r = session_open(&one, err)) < 0)
                        return r;
                x = &one;
        }
        struct nft_api a = x->a;
        struct nft_ctx *ctx = x->ctx;
        a.set_output_flags(ctx, json_out ? NFT_CTX_OUTPUT_JSON : 0);
        fw_watch_note_own_thread();
        r = a.run_cmd(ctx, cmds);
        if (r == 0 && json_out) {
                const char *o = a.get_output(ctx);
                *json_out = strdup(o ? o : "");
        }
        if (r != 0) {
                const char *e = a.get_error(ctx);
                berr_set(err, BERR_INTERNAL, EIO, "nftables: %.*s", (int) strcspn(e ? e : "", "\n"), e ? e : "");
                log_debug("nftables input was:\n%s", cmds);
        }
        if (x == &one)
                session_close(&one);
        return r != 0 ? -EIO : 0;
}

/* Run what @b holds and free it. */
static int run_sb(struct sbuf *b, struct berr *err) {
        if (b->oom) {
                free(b->p);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        int r = run(b->p, err);
        free(b->p);
        return r;
}

static const char *proto_name(uint8_t p) {
        return p == IPPROTO_UDP ? "udp" : p == IPPROTO_SCTP ? "sctp" : "tcp";
}

/* Chains are replaced with "add chain" + "flush chain" + rules; sets and maps are only
 * declared ("add" of what exists changes nothing), so published ports survive. */
enum fw_gw_mode fw_gw_mode_from_string(const char *s) {
        static const char *const names[_FW_GW_MAX] = { [FW_GW_NAT] = "nat", [FW_GW_NAT_UNPROTECTED] = "nat-unprotected",
                                                       [FW_GW_ROUTED] = "routed" };
        if (!s || !*s)
                return FW_GW_NAT;
        for (int i = 0; i < _FW_GW_MAX; i++)
                if (strcmp(s, names[i]) == 0)
                        return (enum fw_gw_mode) i;
        return _FW_GW_INVALID;
}

int fw_apply(const char *table, const struct fw_net *nets, size_t n, const struct fw_mark *accept, struct berr *err) {
        struct sbuf b = { 0 };
        const char *t = table;
        sb_add(&b, "add table inet %s\n", t);
        sb_add(&b, "add set inet %s bridges { type ifname; }\nflush set inet %s bridges\n", t, t);
        if (n > 0) {
                sb_add(&b, "add element inet %s bridges { ", t);
                for (size_t i = 0; i < n; i++)
                        sb_add(&b, "%s\"%s\"", i ? ", " : "", nets[i].bridge);
                sb_add(&b, " }\n");
        }
        sb_add(&b, "add map inet %s pub_any { type inet_proto . inet_service : ipv4_addr . inet_service; }\n", t);
        sb_add(&b, "add map inet %s pub_ip { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }\n",
               t);
        sb_add(&b, "add map inet %s pub6_any { type inet_proto . inet_service : ipv6_addr . inet_service; }\n", t);
        sb_add(&b, "add map inet %s pub6_ip { type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service; }\n",
               t);
        /* Containers of routed networks are reached directly on their published ports. */
        sb_add(&b, "add set inet %s routed_open { type ipv4_addr . inet_proto . inet_service; }\n", t);
        sb_add(&b, "add set inet %s routed6_open { type ipv6_addr . inet_proto . inet_service; }\n", t);

        /* "admin" is the administrator's (dockerd's DOCKER-USER): berth creates it and never
         * flushes it; every forwarded packet to or from a berth bridge passes it first. */
        sb_add(&b, "add chain inet %s admin\n", t);
        sb_add(&b, "add chain inet %s forward { type filter hook forward priority filter; policy accept; }\n", t);
        sb_add(&b, "flush chain inet %s forward\n", t);
        if (n > 0) {
                sb_add(&b, "add rule inet %s forward iifname @bridges jump admin\n", t);
                sb_add(&b, "add rule inet %s forward oifname @bridges jump admin\n", t);
                if (accept && accept->on) /* --bridge-accept-fwmark: before any decision of berth's */
                        for (int dir = 0; dir < 2; dir++)
                                sb_add(&b, "add rule inet %s forward %s @bridges meta mark & 0x%x == 0x%x accept\n", t,
                                       dir ? "oifname" : "iifname", accept->mask, accept->mark & accept->mask);
        }
        /* Order matters: every decision about traffic inside one bridge first, then the
         * drops (--internal, other networks), then the accepts, so no network's accept
         * comes before another network's drop whatever order they were made in. */
        for (size_t i = 0; i < n; i++)
                sb_add(&b, "add rule inet %s forward iifname \"%s\" oifname \"%s\" %s\n", t, nets[i].bridge,
                       nets[i].bridge, nets[i].icc ? "accept" : "drop");
        for (size_t i = 0; i < n; i++)
                if (nets[i].internal) {
                        sb_add(&b, "add rule inet %s forward iifname \"%s\" drop\n", t, nets[i].bridge);
                        sb_add(&b, "add rule inet %s forward oifname \"%s\" drop\n", t, nets[i].bridge);
                }
        if (n > 0) {
                /* Published ports are meant to be reached, from other networks too. */
                sb_add(&b, "add rule inet %s forward oifname @bridges ct status dnat accept\n", t);
                sb_add(&b, "add rule inet %s forward iifname @bridges oifname @bridges drop\n", t);
                /* From outside: what each network's gateway mode lets in directly. */
                for (size_t i = 0; i < n; i++) {
                        /* Each family has its own mode (gateway_mode_ipv4, gateway_mode_ipv6). */
                        if (nets[i].has_v6 && nets[i].gw_mode6 == FW_GW_NAT_UNPROTECTED)
                                sb_add(&b, "add rule inet %s forward oifname \"%s\" meta nfproto ipv6 accept\n", t,
                                       nets[i].bridge);
                        else if (nets[i].has_v6 && nets[i].gw_mode6 == FW_GW_ROUTED) {
                                sb_add(&b, "add rule inet %s forward oifname \"%s\" ip6 daddr . meta l4proto . th dport "
                                       "@routed6_open accept\n", t, nets[i].bridge);
                                sb_add(&b, "add rule inet %s forward oifname \"%s\" meta l4proto ipv6-icmp accept\n", t,
                                       nets[i].bridge);
                        }
                        if (nets[i].gw_mode == FW_GW_NAT_UNPROTECTED)
                                sb_add(&b, "add rule inet %s forward oifname \"%s\" meta nfproto ipv4 accept\n", t,
                                       nets[i].bridge);
                        else if (nets[i].gw_mode == FW_GW_ROUTED) {
                                sb_add(&b, "add rule inet %s forward oifname \"%s\" ip daddr . meta l4proto . th dport "
                                       "@routed_open accept\n", t, nets[i].bridge);
                                sb_add(&b, "add rule inet %s forward oifname \"%s\" meta l4proto icmp accept\n", t,
                                       nets[i].bridge);
                        }
                }
                sb_add(&b, "add rule inet %s forward iifname @bridges accept\n", t);
                sb_add(&b, "add rule inet %s forward oifname @bridges ct state established,related accept\n", t);
                sb_add(&b, "add rule inet %s forward oifname @bridges drop\n", t);
        }

        /* Published ports: DNAT for what arrives (other hosts, containers through a host
         * address) and for what the host sends itself, 127.0.0.1 included. */
        static const char *const nat_chains[][2] = { { "prerouting", "prerouting priority dstnat" },
                                                     { "output", "output priority -100" } };
        for (size_t c = 0; c < ELEMENTSOF(nat_chains); c++) {
                sb_add(&b, "add chain inet %s %s { type nat hook %s; policy accept; }\n", t, nat_chains[c][0],
                       nat_chains[c][1]);
                sb_add(&b, "flush chain inet %s %s\n", t, nat_chains[c][0]);
                sb_add(&b, "add rule inet %s %s fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map "
                       "@pub_ip\n", t, nat_chains[c][0]);
                sb_add(&b, "add rule inet %s %s meta nfproto ipv4 fib daddr type local dnat ip to meta l4proto . th dport "
                       "map @pub_any\n", t, nat_chains[c][0]);
                /* IPv6: no route_localnet exists, so ::1 cannot be forwarded out of lo (as in
                 * dockerd without its userland proxy); every other local address can. */
                sb_add(&b, "add rule inet %s %s fib daddr type local dnat ip6 to ip6 daddr . meta l4proto . th dport map "
                       "@pub6_ip\n", t, nat_chains[c][0]);
                sb_add(&b, "add rule inet %s %s meta nfproto ipv6 fib daddr type local dnat ip6 to meta l4proto . th dport "
                       "map @pub6_any\n", t, nat_chains[c][0]);
        }
        /* route_localnet lets 127.0.0.1 be DNATed out of the bridges; then nothing may
         * arrive for 127.0.0.0/8 on another interface (the CVE-2020-8558 class). */
        sb_add(&b, "add chain inet %s raw_prerouting { type filter hook prerouting priority raw; policy accept; }\n", t);
        sb_add(&b, "flush chain inet %s raw_prerouting\n", t);
        sb_add(&b, "add rule inet %s raw_prerouting iifname != \"lo\" ip daddr 127.0.0.0/8 drop\n", t);
        /* Docker 28's direct-routing protection: other hosts cannot address the containers
         * of a "nat" network (dropped before conntrack), only its published ports. */
        for (size_t i = 0; i < n; i++) {
                if (nets[i].gw_mode != FW_GW_NAT)
                        continue;
                char cidr[20], gw[16];
                ipam_format_cidr4(&nets[i].subnet, cidr);
                ipam_format_ip4(nets[i].gateway, gw);
                sb_add(&b, "add rule inet %s raw_prerouting iifname != \"%s\" ip daddr %s ip daddr != %s drop\n", t,
                       nets[i].bridge, cidr, gw);
        }
        for (size_t i = 0; i < n; i++) {
                if (!nets[i].has_v6 || nets[i].gw_mode6 != FW_GW_NAT)
                        continue;
                char cidr6[50], gw6[46];
                ipam_format_cidr6(&nets[i].subnet6, cidr6);
                ipam_format_ip6(nets[i].gateway6, gw6);
                sb_add(&b, "add rule inet %s raw_prerouting iifname != \"%s\" ip6 daddr %s ip6 daddr != %s drop\n", t,
                       nets[i].bridge, cidr6, gw6);
        }

        sb_add(&b, "add chain inet %s postrouting { type nat hook postrouting priority srcnat; policy accept; }\n", t);
        sb_add(&b, "flush chain inet %s postrouting\n", t);
        for (size_t i = 0; i < n; i++) {
                const struct fw_net *w = &nets[i];
                /* The host's own 127.0.0.1 and a container reaching a published port of its
                 * own network through a host address need an answer that comes back here.
                 * (Not "iifname": with br_netfilter such packets are bridged, and the bridge
                 * path has no input device at postrouting.) */
                char cidr[20];
                ipam_format_cidr4(&w->subnet, cidr);
                sb_add(&b, "add rule inet %s postrouting oifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n", t, w->bridge);
                sb_add(&b, "add rule inet %s postrouting oifname \"%s\" ip saddr %s ct status dnat masquerade\n", t,
                       w->bridge, cidr);
                char cidr6[50] = "";
                if (w->has_v6) {
                        ipam_format_cidr6(&w->subnet6, cidr6);
                        sb_add(&b, "add rule inet %s postrouting oifname \"%s\" ip6 saddr %s ct status dnat masquerade\n", t,
                               w->bridge, cidr6);
                }
                if (w->internal || !w->masquerade)
                        continue;
                /* gateway_mode_ipv4=routed: IPv4 leaves unmasqueraded (IPv6 has a mode of its own) */
                if (w->gw_mode != FW_GW_ROUTED)
                        sb_add(&b, "add rule inet %s postrouting ip saddr %s oifname != \"%s\" masquerade\n", t, cidr,
                               w->bridge);
                /* dockerd masquerades IPv6 too since ip6tables is on by default (27), but
                 * not from a gateway_mode_ipv6=routed network. */
                if (w->has_v6 && w->gw_mode6 != FW_GW_ROUTED)
                        sb_add(&b, "add rule inet %s postrouting ip6 saddr %s oifname != \"%s\" masquerade\n", t, cidr6,
                               w->bridge);
        }
        return run_sb(&b, err);
}

static void port_elements(struct sbuf *b, const char *table, const struct fw_port *p, size_t n, bool add);

int fw_ports_replace(const char *table, const struct fw_port *p, size_t n, struct berr *err) {
        struct sbuf b = { 0 };
        sb_add(&b, "flush map inet %s pub_any\nflush map inet %s pub_ip\nflush set inet %s routed_open\n", table, table,
               table);
        sb_add(&b, "flush map inet %s pub6_any\nflush map inet %s pub6_ip\nflush set inet %s routed6_open\n", table,
               table, table);
        port_elements(&b, table, p, n, true);
        return run_sb(&b, err);
}

/* A container's ports go in at its start and out at its exit, so they are on the path of
 * `docker run -p` twice. A context of their own is kept while they come (closed after
 * PORT_SESSION_IDLE_S without use by a thread of its own, so an idle berthd keeps the
 * library unloaded): measured with `-p 127.0.0.1::80`, opening a context and reading
 * the kernel's tables into its cache cost 2–20 ms per batch, and freeing it (closing its
 * netlink socket waits for the nftables commit lock, which every other program's batch
 * holds) 6–40 ms; a batch in a warm context costs about 0.5 ms. */
#define PORT_SESSION_IDLE_S 2
static pthread_mutex_t port_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t port_cond = PTHREAD_COND_INITIALIZER;
static struct nft_session *port_session;
static time_t port_used;
static bool port_closer;

static void *port_session_closer(void *arg) {
        (void) arg;
        pthread_mutex_lock(&port_lock);
        for (;;) {
                while (!port_session)
                        pthread_cond_wait(&port_cond, &port_lock);
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                if (ts.tv_sec - port_used < PORT_SESSION_IDLE_S) {
                        pthread_mutex_unlock(&port_lock);
                        sleep(1);
                        pthread_mutex_lock(&port_lock);
                        continue;
                }
                struct nft_session *x = port_session;
                port_session = NULL;
                pthread_mutex_unlock(&port_lock);
                session_close(x);
                free(x);
                pthread_mutex_lock(&port_lock);
        }
        return NULL;
}

int fw_ports(const char *table, const struct fw_port *p, size_t n, bool add, struct berr *err) {
        if (n == 0)
                return 0;
        struct sbuf b = { 0 };
        port_elements(&b, table, p, n, add);
        if (b.oom || session) /* a session of this thread's own (start-up) is used as before */
                return run_sb(&b, err);
        pthread_mutex_lock(&port_lock);
        if (!port_closer) {
                pthread_t t;
                pthread_attr_t a;
                pthread_attr_init(&a);
                pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
                pthread_attr_setstacksize(&a, 64 << 10);
                port_closer = pthread_create(&t, &a, port_session_closer, NULL) == 0;
                pthread_attr_destroy(&a);
        }
        if (!port_session && port_closer) {
                struct nft_session *x = calloc(1, sizeof(*x));
                if (x && session_open(x, err) == 0)
                        port_session = x;
                else
                        free(x);
                pthread_cond_broadcast(&port_cond);
        }
        int r;
        if (port_session) {
                session = port_session; /* run_out uses it on this thread, under port_lock */
                r = run(b.p, err);
                session = NULL;
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                port_used = ts.tv_sec;
                free(b.p);
        } else
                r = run_sb(&b, err);
        pthread_mutex_unlock(&port_lock);
        return r;
}

/* One command per map or set with all its elements: nft parses and checks one command of
 * a thousand elements much faster than a thousand commands (a 1,000-port range). */
static void port_elements(struct sbuf *b, const char *table, const struct fw_port *p, size_t n, bool add) {
        static const char *const sets[] = { "pub_ip", "pub_any", "routed_open", "pub6_ip", "pub6_any", "routed6_open" };
        for (size_t k = 0; k < ELEMENTSOF(sets); k++) {
                bool any = false;
                for (size_t i = 0; i < n; i++) {
                        size_t which = p[i].v6 ? (p[i].routed6 ? 5 : ipam_ip6_is_zero(p[i].host_ip6) ? 4 : 3)
                                               : p[i].routed ? 2 : p[i].host_ip ? 0 : 1;
                        if (which != k)
                                continue;
                        char hip[46], cip[46];
                        if (p[i].v6) {
                                ipam_format_ip6(p[i].host_ip6, hip);
                                ipam_format_ip6(p[i].ctr_ip6, cip);
                        } else {
                                ipam_format_ip4(p[i].host_ip, hip);
                                ipam_format_ip4(p[i].ctr_ip, cip);
                        }
                        sb_add(b, "%s", any ? ", " : add ? "add element inet " : "delete element inet ");
                        if (!any)
                                sb_add(b, "%s %s { ", table, sets[k]);
                        any = true;
                        if (k == 2 || k == 5)
                                sb_add(b, "%s . %s . %u", cip, proto_name(p[i].proto), p[i].ctr_port);
                        else {
                                if (k == 0 || k == 3)
                                        sb_add(b, "%s . ", hip);
                                sb_add(b, "%s . %u", proto_name(p[i].proto), p[i].host_port);
                                if (add)
                                        sb_add(b, " : %s . %u", cip, p[i].ctr_port);
                        }
                }
                if (any)
                        sb_add(b, " }\n");
        }
}

void fw_remove(const char *table) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "add table inet %s\ndelete table inet %s\n", table, table);
        struct berr e = { 0 };
        if (run(cmd, &e) < 0)
                log_warn("remove nftables table %s: %s", table, e.msg);
}

int fw_forward_drops(const char *table, char ***ret) {
        _cleanup_free_ char *out = NULL;
        struct berr e = { 0 };
        *ret = NULL;
        if (run_out("list chains", &out, &e) < 0 || !out)
                return -EIO;
        json_error_t je;
        json_t *root = json_loads(out, 0, &je);
        json_t *list = json_object_get(root, "nftables");
        size_t n = 0, i;
        json_t *v;
        char **res = calloc(json_array_size(list) + 1, sizeof(*res));
        json_array_foreach(list, i, v) {
                json_t *c = json_object_get(v, "chain");
                const char *hook = json_string_value(json_object_get(c, "hook"));
                const char *policy = json_string_value(json_object_get(c, "policy"));
                const char *fam = json_string_value(json_object_get(c, "family"));
                const char *tab = json_string_value(json_object_get(c, "table"));
                const char *name = json_string_value(json_object_get(c, "name"));
                if (!res || !hook || !policy || !fam || !tab || !name || strcmp(hook, "forward") || strcmp(policy, "drop"))
                        continue;
                if (strcmp(fam, "inet") == 0 && strcmp(tab, table) == 0)
                        continue;
                if (asprintf(&res[n], "%s %s %s", fam, tab, name) >= 0)
                        n++;
                else
                        res[n] = NULL;
        }
        json_decref(root);
        *ret = res;
        return (int) n;
}
