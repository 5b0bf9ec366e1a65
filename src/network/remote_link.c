/* remote_link.c - the link a network driver plugin made (Join's SrcName), moved into the
 * container's namespace and configured there as dockerd's sandbox does (rename to
 * DstPrefix+N, MAC, up, address, gateway and static routes), and moved back out when the
 * container leaves, so the driver's DeleteEndpoint finds it where it made it. */
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/log.h"
#include "netlink.h"
#include "remote.h"


static void sock_freep(struct nl_sock **s) {
        if (*s)
                nl_socket_free(*s);
}
static void link_putp(struct rtnl_link **l) {
        if (*l)
                rtnl_link_put(*l);
}
#define _cleanup_sock_ __attribute__((cleanup(sock_freep)))
#define _cleanup_rlink_ __attribute__((cleanup(link_putp)))

static struct nl_addr *addr4(uint32_t ip, int prefix) {
        uint32_t be = htonl(ip);
        struct nl_addr *a = nl_addr_build(AF_INET, &be, 4);
        if (a)
                nl_addr_set_prefixlen(a, prefix);
        return a;
}

static int add_addr(struct nl_sock *s, int idx, uint32_t ip, int prefix) {
        struct rtnl_addr *a = rtnl_addr_alloc();
        struct nl_addr *local = addr4(ip, prefix);
        int r = -NLE_NOMEM;
        if (a && local) {
                rtnl_addr_set_ifindex(a, idx);
                rtnl_addr_set_local(a, local);
                if (prefix < 31) {
                        struct nl_addr *bc = addr4(ip | ~ipam_mask4(prefix), prefix);
                        if (bc) {
                                rtnl_addr_set_broadcast(a, bc);
                                nl_addr_put(bc);
                        }
                }
                r = rtnl_addr_add(s, a, 0);
        }
        nl_addr_put(local);
        if (a)
                rtnl_addr_put(a);
        return r == -NLE_EXIST ? 0 : r;
}

static int add_addr6(struct nl_sock *s, int idx, const uint8_t ip[16], int prefix) {
        struct rtnl_addr *a = rtnl_addr_alloc();
        struct nl_addr *local = nl_addr_build(AF_INET6, ip, 16);
        int r = -NLE_NOMEM;
        if (a && local) {
                nl_addr_set_prefixlen(local, prefix);
                rtnl_addr_set_ifindex(a, idx);
                rtnl_addr_set_local(a, local);
                rtnl_addr_set_flags(a, IFA_F_NODAD); /* the address is the network's to give: usable at once */
                r = rtnl_addr_add(s, a, 0);
        }
        nl_addr_put(local);
        if (a)
                rtnl_addr_put(a);
        return r == -NLE_EXIST ? 0 : r;
}

/* @d via @g (NULL: on the link itself) on link @idx; takes both addresses. */
static int add_route_addrs(struct nl_sock *s, int family, int idx, struct nl_addr *d, struct nl_addr *g, bool want_g) {
        struct rtnl_route *rt = rtnl_route_alloc();
        struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
        int r = -NLE_NOMEM;
        if (rt && nh && d && (g || !want_g)) {
                rtnl_route_set_family(rt, (uint8_t) family);
                rtnl_route_set_dst(rt, d);
                rtnl_route_set_table(rt, RT_TABLE_MAIN);
                rtnl_route_set_protocol(rt, RTPROT_BOOT);
                rtnl_route_set_scope(rt, g ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
                if (g)
                        rtnl_route_nh_set_gateway(nh, g);
                rtnl_route_nh_set_ifindex(nh, idx);
                rtnl_route_add_nexthop(rt, nh);
                nh = NULL; /* the route's now */
                r = rtnl_route_add(s, rt, NLM_F_CREATE);
        }
        if (nh)
                rtnl_route_nh_free(nh);
        if (rt)
                rtnl_route_put(rt);
        nl_addr_put(d);
        nl_addr_put(g);
        return r == -NLE_EXIST ? 0 : r;
}

/* @dst via @via (0: on the link itself) on link @idx. */
static int add_route(struct nl_sock *s, int idx, const struct ipv4_net *dst, uint32_t via) {
        return add_route_addrs(s, AF_INET, idx, addr4(dst->addr, dst->prefix), via ? addr4(via, 32) : NULL, via != 0);
}

static int add_route6(struct nl_sock *s, int idx, const struct ipv6_net *dst, const uint8_t *via) {
        struct nl_addr *d = nl_addr_build(AF_INET6, dst->addr, 16), *g = via ? nl_addr_build(AF_INET6, via, 16) : NULL;
        if (d)
                nl_addr_set_prefixlen(d, dst->prefix);
        if (g)
                nl_addr_set_prefixlen(g, 128);
        return add_route_addrs(s, AF_INET6, idx, d, g, via != NULL);
}

/* Inside: rename (the link is down after the move), MAC, up, address, routes. */
static int configure_inside(struct nl_sock *in, const struct remote_link_req *q, uint8_t ret_mac[6]) {
        _cleanup_rlink_ struct rtnl_link *l = NULL, *ch = rtnl_link_alloc();
        int r = ch ? rtnl_link_get_kernel(in, 0, q->src_name, &l) : -NLE_NOMEM;
        if (r < 0)
                return r;
        int idx = rtnl_link_get_ifindex(l);
        rtnl_link_set_name(ch, q->name);
        if (q->has_mac) {
                struct nl_addr *mac = nl_addr_build(AF_LLC, q->mac, 6);
                if (!mac)
                        return -NLE_NOMEM;
                rtnl_link_set_addr(ch, mac);
                nl_addr_put(mac);
        }
        if ((r = rtnl_link_change(in, l, ch, 0)) < 0)
                return r;
        _cleanup_rlink_ struct rtnl_link *l2 = NULL, *up = rtnl_link_alloc();
        if (!up || (r = rtnl_link_get_kernel(in, idx, NULL, &l2)) < 0)
                return up ? r : -NLE_NOMEM;
        rtnl_link_set_flags(up, IFF_UP);
        if ((r = rtnl_link_change(in, l2, up, 0)) < 0 || (r = add_addr(in, idx, q->ip, q->prefix)) < 0)
                return r;
        struct nl_addr *hw = rtnl_link_get_addr(l2);
        if (hw && nl_addr_get_len(hw) == 6)
                memcpy(ret_mac, nl_addr_get_binary_addr(hw), 6);
        if (q->has_ip6 && (r = add_addr6(in, idx, q->ip6, q->prefix6)) < 0)
                return r;
        /* The static routes first: a gateway may be reachable only through one of them. */
        for (size_t i = 0; i < q->n_routes; i++) {
                const struct remote_route *rt = &q->routes[i];
                if (rt->v6)
                        r = add_route6(in, idx, &rt->dst6, rt->type == 0 ? rt->next_hop6 : NULL);
                else
                        r = add_route(in, idx, &rt->dst, rt->type == 0 ? rt->next_hop : 0);
                if (r < 0)
                        return r;
        }
        if (q->gw) {
                struct ipv4_net any = { 0, 0 };
                if ((r = add_route(in, idx, &any, q->gw)) < 0)
                        return r;
        }
        if (q->gw6) {
                struct ipv6_net any6 = { { 0 }, 0 };
                if ((r = add_route6(in, idx, &any6, q->gw6)) < 0)
                        return r;
        }
        return 0;
}

int remote_link_move_in(const struct remote_link_req *q, uint8_t ret_mac[6], struct berr *err) {
        _cleanup_close_ int nsfd = open(q->ns_path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", q->ns_path);
        _cleanup_sock_ struct nl_sock *s = nl_route_sock();
        _cleanup_rlink_ struct rtnl_link *l = NULL, *ch = rtnl_link_alloc();
        if (!s || !ch)
                return berr_set(err, BERR_INTERNAL, EIO, "netlink socket");
        int r = rtnl_link_get_kernel(s, 0, q->src_name, &l);
        if (r < 0)
                return berr_set(err, BERR_INTERNAL, ENODEV, "failed to find interface %s on the host: %s", q->src_name,
                                nl_geterror(r));
        /* A driver hands over an interface it made for the endpoint (a veth's end, say): never
         * the host's loopback, a bridge or a port of one (the host's uplink, berth's own
         * bridge), which a hostile or broken plugin could name to cut the host off. */
        const char *type = rtnl_link_get_type(l);
        if ((rtnl_link_get_flags(l) & IFF_LOOPBACK) || rtnl_link_get_master(l) > 0 ||
            (type && strcmp(type, "bridge") == 0))
                return berr_set(err, BERR_INTERNAL, EPERM, "interface %s is not one a network driver may give a "
                                "container (a bridge, a bridge's port or loopback)", q->src_name);
        rtnl_link_set_ns_fd(ch, nsfd);
        if ((r = rtnl_link_change(s, l, ch, 0)) < 0)
                return berr_set(err, BERR_INTERNAL, EIO, "move %s into the container: %s", q->src_name, nl_geterror(r));
        _cleanup_sock_ struct nl_sock *in = nl_route_sock_in(q->ns_path);
        r = in ? configure_inside(in, q, ret_mac) : -NLE_FAILURE;
        if (r < 0) {
                remote_link_move_out(q->ns_path, q->name, q->src_name);
                return berr_set(err, BERR_INTERNAL, EIO, "configure %s in the container: %s", q->name, nl_geterror(r));
        }
        return 0;
}

void remote_link_move_out(const char *ns_path, const char *name, const char *src_name) {
        _cleanup_sock_ struct nl_sock *in = nl_route_sock_in(ns_path);
        _cleanup_rlink_ struct rtnl_link *l = NULL, *ch = rtnl_link_alloc();
        if (!in || !ch)
                return;
        /* Under its own name (a failed configure) or the container's. */
        if (rtnl_link_get_kernel(in, 0, name, &l) < 0 && (!src_name || rtnl_link_get_kernel(in, 0, src_name, &l) < 0))
                return;
        if (!src_name || !*src_name) {
                (void) rtnl_link_delete(in, l);
                return;
        }
        _cleanup_close_ int host = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        int idx = rtnl_link_get_ifindex(l);
        /* Down first: the kernel renames only a link that is down. */
        rtnl_link_unset_flags(ch, IFF_UP);
        int r = rtnl_link_change(in, l, ch, 0);
        _cleanup_rlink_ struct rtnl_link *l2 = NULL, *rn = rtnl_link_alloc(), *mv = rtnl_link_alloc();
        if (r == 0 && (!rn || !mv))
                r = -NLE_NOMEM;
        if (r == 0 && (r = rtnl_link_get_kernel(in, idx, NULL, &l2)) == 0 && strcmp(rtnl_link_get_name(l2), src_name) != 0) {
                rtnl_link_set_name(rn, src_name);
                r = rtnl_link_change(in, l2, rn, 0);
        }
        if (r == 0 && host >= 0) {
                rtnl_link_set_ns_fd(mv, host);
                r = rtnl_link_change(in, l2, mv, 0);
        }
        if (r < 0 || host < 0) {
                /* It cannot go back: it goes (a veth takes its peer with it). */
                log_debug("move %s back out of the container as %s: %s", name, src_name, nl_geterror(r));
                _cleanup_rlink_ struct rtnl_link *l3 = NULL;
                if (rtnl_link_get_kernel(in, 0, name, &l3) == 0 || rtnl_link_get_kernel(in, 0, src_name, &l3) == 0)
                        (void) rtnl_link_delete(in, l3);
        }
}
