/* netlink.c - namespaces, bridges, veths, addresses and routes through libnl-route-3.
 *
 * Work inside a container's namespace is done from the calling thread: setns() into it,
 * open the netlink socket (a socket stays in the namespace it was created in), setns()
 * back. Namespaces are per thread, so other threads of berthd never notice. */
#include "netlink.h"

#include <fcntl.h>
#include <jansson.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vlan.h>
#include <linux/if_link.h>
#include <netlink/route/route.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/log.h"

static void sock_freep(struct nl_sock **s) {
        if (*s)
                nl_socket_free(*s);
}
#define _cleanup_nlsock_ __attribute__((cleanup(sock_freep)))
static void link_putp(struct rtnl_link **l) {
        if (*l)
                rtnl_link_put(*l);
}
#define _cleanup_link_ __attribute__((cleanup(link_putp)))

struct nl_sock *nl_route_sock(void) {
        struct nl_sock *s = nl_socket_alloc();
        if (!s)
                return NULL;
        if (nl_connect(s, NETLINK_ROUTE) < 0) {
                nl_socket_free(s);
                return NULL;
        }
        return s;
}

/* A NETLINK_ROUTE socket inside the namespace bound at @ns_path. */
struct nl_sock *nl_route_sock_in(const char *ns_path) {
        _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int target = open(ns_path, O_RDONLY | O_CLOEXEC);
        if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) < 0)
                return NULL;
        struct nl_sock *s = nl_route_sock();
        if (setns(self, CLONE_NEWNET) < 0) {
                /* This thread would serve requests in the wrong namespace: never. */
                log_error("setns back to berthd's network namespace: %s", strerror(errno));
                abort();
        }
        return s;
}

static int write_sysctl(const char *path, const char *value) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return write(fd, value, strlen(value)) < 0 ? -errno : 0;
}

static int lo_up(void) {
        _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0)
                return -errno;
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                return -errno;
        ifr.ifr_flags |= IFF_UP;
        return ioctl(s, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

/* A new network namespace with lo up (127.0.0.1, ::1) and duplicate address detection
 * off, as an fd; the calling thread is back in its own namespace when this returns. */
static int netns_make(int *ret_fd, struct berr *err) {
        _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0)
                return berr_sys(err, BERR_INTERNAL, "open own network namespace");
        if (unshare(CLONE_NEWNET) < 0)
                return berr_sys(err, BERR_INTERNAL, "new network namespace");
        int r = 0;
        int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                r = berr_sys(err, BERR_INTERNAL, "open the new network namespace");
        if (r == 0 && lo_up() < 0)
                r = berr_sys(err, BERR_INTERNAL, "bring lo up");
        /* No duplicate address detection on eth0...: it costs seconds per container and
         * the addresses are ours to give (the CNI bridge plugin pays ~2 s here). */
        (void) write_sysctl("/proc/sys/net/ipv6/conf/default/accept_dad", "0");
        (void) write_sysctl("/proc/sys/net/ipv6/conf/all/accept_dad", "0");
        if (setns(self, CLONE_NEWNET) < 0) {
                log_error("setns back to berthd's network namespace: %s", strerror(errno));
                abort();
        }
        if (r < 0) {
                if (fd >= 0)
                        close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

/* One namespace made ahead by a thread of its own, held as an fd (nothing on disk: it
 * goes with berthd), so a start binds it instead of making one: unshare(CLONE_NEWNET)
 * (the kernel runs every per-namespace init) and lo cost 1–3 ms of each start here. */
static pthread_mutex_t spare_ns_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t spare_ns_cond = PTHREAD_COND_INITIALIZER;
static int spare_ns_fd = -1;
static bool spare_ns_thread, spare_ns_wanted;

static void *spare_ns_maker(void *arg) {
        (void) arg;
        pthread_mutex_lock(&spare_ns_lock);
        for (;;) {
                while (spare_ns_fd >= 0 || !spare_ns_wanted)
                        pthread_cond_wait(&spare_ns_cond, &spare_ns_lock);
                pthread_mutex_unlock(&spare_ns_lock);
                int fd = -1;
                struct berr e = { 0 };
                if (netns_make(&fd, &e) < 0)
                        log_warn("make a spare network namespace: %s", e.msg); /* the next start tries again */
                pthread_mutex_lock(&spare_ns_lock);
                spare_ns_wanted = false;
                if (fd >= 0 && spare_ns_fd < 0)
                        spare_ns_fd = fd;
                else if (fd >= 0)
                        close(fd);
        }
        return NULL;
}

static int spare_ns_take(void) {
        pthread_mutex_lock(&spare_ns_lock);
        int fd = spare_ns_fd;
        spare_ns_fd = -1;
        spare_ns_wanted = true;
        if (!spare_ns_thread) {
                pthread_t t;
                pthread_attr_t a;
                pthread_attr_init(&a);
                pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
                pthread_attr_setstacksize(&a, 128 << 10);
                spare_ns_thread = pthread_create(&t, &a, spare_ns_maker, NULL) == 0;
                pthread_attr_destroy(&a);
        }
        pthread_cond_broadcast(&spare_ns_cond);
        pthread_mutex_unlock(&spare_ns_lock);
        return fd;
}

int nl_netns_create(const char *path, struct berr *err) {
        int fd = spare_ns_take();
        int r = fd >= 0 ? 0 : netns_make(&fd, err);
        if (r < 0)
                return r;
        int f = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0444);
        if (f < 0)
                r = berr_sys(err, BERR_INTERNAL, "create %s", path);
        else
                close(f);
        char src[64];
        snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
        if (r == 0 && mount(src, path, NULL, MS_BIND, NULL) < 0) {
                r = berr_sys(err, BERR_INTERNAL, "bind network namespace at %s", path);
                (void) unlink(path);
        }
        close(fd);
        return r;
}

void nl_netns_remove(const char *path) {
        if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                log_warn("unmount %s: %s", path, strerror(errno));
        if (unlink(path) < 0 && errno != ENOENT)
                log_warn("remove %s: %s", path, strerror(errno));
}

static struct nl_addr *addr4(uint32_t ip, int prefix) {
        uint32_t be = htonl(ip);
        struct nl_addr *a = nl_addr_build(AF_INET, &be, 4);
        if (a)
                nl_addr_set_prefixlen(a, prefix);
        return a;
}

static int add_addr4(struct nl_sock *s, int ifindex, uint32_t ip, int prefix) {
        struct rtnl_addr *a = rtnl_addr_alloc();
        struct nl_addr *local = addr4(ip, prefix);
        if (!a || !local) {
                if (a)
                        rtnl_addr_put(a);
                nl_addr_put(local);
                return -NLE_NOMEM;
        }
        rtnl_addr_set_ifindex(a, ifindex);
        rtnl_addr_set_local(a, local);
        if (prefix < 31) {
                struct nl_addr *bc = addr4(ip | ~ipam_mask4(prefix), prefix);
                if (bc) {
                        rtnl_addr_set_broadcast(a, bc);
                        nl_addr_put(bc);
                }
        }
        int r = rtnl_addr_add(s, a, 0);
        nl_addr_put(local);
        rtnl_addr_put(a);
        return r == -NLE_EXIST ? 0 : r;
}

static int add_addr6(struct nl_sock *s, int ifindex, const uint8_t ip[16], int prefix) {
        struct rtnl_addr *a = rtnl_addr_alloc();
        struct nl_addr *local = nl_addr_build(AF_INET6, ip, 16);
        if (!a || !local) {
                if (a)
                        rtnl_addr_put(a);
                nl_addr_put(local);
                return -NLE_NOMEM;
        }
        nl_addr_set_prefixlen(local, prefix);
        rtnl_addr_set_ifindex(a, ifindex);
        rtnl_addr_set_local(a, local);
        /* The addresses are ours to give: no duplicate address detection (it would keep
         * them "tentative", unusable, for a second or more). */
        rtnl_addr_set_flags(a, IFA_F_NODAD);
        int r = rtnl_addr_add(s, a, 0);
        nl_addr_put(local);
        rtnl_addr_put(a);
        return r == -NLE_EXIST ? 0 : r;
}

/* A default route (::/0 or 0.0.0.0/0) through @gw on @idx, or (@gw NULL) through the
 * device itself (ipvlan l3/l3s). */
static int add_default_route(struct nl_sock *s, int family, const void *gw, int idx) {
        struct rtnl_route *rt = rtnl_route_alloc();
        struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
        uint8_t zero[16] = { 0 };
        int len = family == AF_INET6 ? 16 : 4;
        struct nl_addr *dst = nl_addr_build(family, zero, (size_t) len);
        struct nl_addr *g = gw ? nl_addr_build(family, gw, (size_t) len) : NULL;
        int r;
        if (rt && nh && dst && (g || !gw)) {
                nl_addr_set_prefixlen(dst, 0);
                rtnl_route_set_family(rt, (uint8_t) family);
                rtnl_route_set_dst(rt, dst);
                rtnl_route_set_table(rt, RT_TABLE_MAIN);
                rtnl_route_set_protocol(rt, RTPROT_BOOT);
                rtnl_route_set_scope(rt, g ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
                if (g) {
                        nl_addr_set_prefixlen(g, len * 8);
                        rtnl_route_nh_set_gateway(nh, g);
                }
                rtnl_route_nh_set_ifindex(nh, idx);
                rtnl_route_add_nexthop(rt, nh);
                nh = NULL; /* owned by the route now */
                r = rtnl_route_add(s, rt, NLM_F_CREATE);
        } else
                r = -NLE_NOMEM;
        if (nh)
                rtnl_route_nh_free(nh);
        if (rt)
                rtnl_route_put(rt);
        nl_addr_put(dst);
        nl_addr_put(g);
        return r;
}

/* What an endpoint's link inside the container gets, whatever made the link (veth,
 * macvlan, ipvlan): up, its IPv4 address and, with has_ip6, its IPv6 one; default routes
 * through the gateways given (zero: none), or through the device (route_dev). */
struct ep_config {
        uint32_t ip, gw;
        int prefix;
        bool has_ip6;
        const uint8_t *ip6, *gw6;
        int prefix6;
        bool default_route, route_dev;
};

static int config_inside(struct nl_sock *in, const char *name, const struct ep_config *c) {
        static const uint8_t zero6[16];
        _cleanup_link_ struct rtnl_link *pl = NULL, *up = rtnl_link_alloc();
        int r = up ? rtnl_link_get_kernel(in, 0, name, &pl) : -NLE_NOMEM;
        if (r < 0)
                return r;
        int idx = rtnl_link_get_ifindex(pl);
        rtnl_link_set_flags(up, IFF_UP);
        if ((r = rtnl_link_change(in, pl, up, 0)) < 0 || (r = add_addr4(in, idx, c->ip, c->prefix)) < 0)
                return r;
        if (c->default_route && c->route_dev)
                r = add_default_route(in, AF_INET, NULL, idx);
        else if (c->default_route && c->gw) {
                uint32_t be = htonl(c->gw);
                r = add_default_route(in, AF_INET, &be, idx);
        }
        if (r < 0 || !c->has_ip6)
                return r;
        if ((r = add_addr6(in, idx, c->ip6, c->prefix6)) < 0)
                return r;
        if (c->default_route && c->route_dev)
                r = add_default_route(in, AF_INET6, NULL, idx);
        else if (c->default_route && c->gw6 && memcmp(c->gw6, zero6, 16) != 0)
                r = add_default_route(in, AF_INET6, c->gw6, idx);
        return r;
}

int nl_bridge_addr6(const char *name, const uint8_t gw[16], int prefix, struct berr *err) {
        int idx = (int) if_nametoindex(name);
        if (idx == 0)
                return berr_set(err, BERR_INTERNAL, ENODEV, "bridge %s does not exist", name);
        char path[128];
        snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
        (void) write_sysctl(path, "0");
        _cleanup_nlsock_ struct nl_sock *s = nl_route_sock();
        if (!s)
                return berr_set(err, BERR_INTERNAL, EIO, "netlink socket");
        int r = add_addr6(s, idx, gw, prefix);
        if (r < 0)
                return berr_set(err, BERR_INTERNAL, EIO, "IPv6 address on bridge %s: %s", name, nl_geterror(r));
        return 0;
}

bool nl_link_exists(const char *name) {
        return if_nametoindex(name) > 0;
}

int nl_bridge_ensure(const char *name, uint32_t gw, int prefix, int mtu, bool *ret_created, struct berr *err) {
        _cleanup_nlsock_ struct nl_sock *s = nl_route_sock();
        if (!s)
                return berr_set(err, BERR_INTERNAL, EIO, "netlink socket");
        *ret_created = false;
        int idx = (int) if_nametoindex(name);
        if (idx == 0) {
                _cleanup_link_ struct rtnl_link *l = rtnl_link_alloc();
                if (!l)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                rtnl_link_set_type(l, "bridge");
                rtnl_link_set_name(l, name);
                if (mtu > 0)
                        rtnl_link_set_mtu(l, (unsigned) mtu);
                int r = rtnl_link_add(s, l, NLM_F_CREATE | NLM_F_EXCL);
                if (r < 0 && r != -NLE_EXIST)
                        return berr_set(err, BERR_INTERNAL, EIO, "create bridge %s: %s", name, nl_geterror(r));
                *ret_created = r == 0;
                idx = (int) if_nametoindex(name);
                if (idx == 0)
                        return berr_set(err, BERR_INTERNAL, ENODEV, "bridge %s vanished", name);
        }
        if (gw) {
                int r = add_addr4(s, idx, gw, prefix);
                if (r < 0)
                        return berr_set(err, BERR_INTERNAL, EIO, "address bridge %s: %s", name, nl_geterror(r));
        }
        _cleanup_link_ struct rtnl_link *l = rtnl_link_alloc(), *cur = NULL;
        if (!l)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = rtnl_link_get_kernel(s, idx, NULL, &cur);
        if (r < 0)
                return berr_set(err, BERR_INTERNAL, EIO, "look up bridge %s: %s", name, nl_geterror(r));
        rtnl_link_set_flags(l, IFF_UP);
        r = rtnl_link_change(s, cur, l, 0);
        if (r < 0)
                return berr_set(err, BERR_INTERNAL, EIO, "bring bridge %s up: %s", name, nl_geterror(r));
        return 0;
}

struct addr_find {
        int ifindex;
        bool found;
        struct ipv4_net net;
        uint32_t ip;
};

static void addr_cb(struct nl_object *o, void *arg) {
        struct addr_find *f = arg;
        struct rtnl_addr *a = (struct rtnl_addr *) o;
        if (f->found || rtnl_addr_get_ifindex(a) != f->ifindex || rtnl_addr_get_family(a) != AF_INET)
                return;
        struct nl_addr *l = rtnl_addr_get_local(a);
        if (!l || nl_addr_get_len(l) != 4)
                return;
        uint32_t be;
        memcpy(&be, nl_addr_get_binary_addr(l), 4);
        f->ip = ntohl(be);
        f->net.prefix = (int) nl_addr_get_prefixlen(l);
        f->net.addr = f->ip & ipam_mask4(f->net.prefix);
        f->found = true;
}

int nl_link_addr4(const char *name, struct ipv4_net *ret_net, uint32_t *ret_ip) {
        int idx = (int) if_nametoindex(name);
        if (idx == 0)
                return 0;
        _cleanup_nlsock_ struct nl_sock *s = nl_route_sock();
        struct nl_cache *cache = NULL;
        if (!s || rtnl_addr_alloc_cache(s, &cache) < 0)
                return 0;
        struct addr_find f = { .ifindex = idx };
        nl_cache_foreach(cache, addr_cb, &f);
        nl_cache_free(cache);
        if (!f.found)
                return 0;
        *ret_net = f.net;
        *ret_ip = f.ip;
        return 1;
}

void nl_link_delete(const char *name) {
        _cleanup_nlsock_ struct nl_sock *s = nl_route_sock();
        _cleanup_link_ struct rtnl_link *l = rtnl_link_alloc();
        if (!s || !l)
                return;
        rtnl_link_set_name(l, name);
        int r = rtnl_link_delete(s, l);
        if (r < 0 && r != -NLE_NODEV && r != -NLE_OBJ_NOTFOUND)
                log_warn("delete link %s: %s", name, nl_geterror(r));
}

void nl_link_delete_in(const char *ns_path, const char *name) {
        _cleanup_nlsock_ struct nl_sock *s = nl_route_sock_in(ns_path);
        _cleanup_link_ struct rtnl_link *l = rtnl_link_alloc();
        if (!s || !l)
                return;
        rtnl_link_set_name(l, name);
        (void) rtnl_link_delete(s, l);
}

int nl_veth_create(const struct nl_veth_req *q, struct berr *err) {
        _cleanup_close_ int nsfd = open(q->ns_path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", q->ns_path);
        int br = (int) if_nametoindex(q->bridge);
        if (br == 0)
                return berr_set(err, BERR_INTERNAL, ENODEV, "bridge %s does not exist", q->bridge);
        _cleanup_nlsock_ struct nl_sock *s = nl_route_sock();
        if (!s)
                return berr_set(err, BERR_INTERNAL, EIO, "netlink socket");
        _cleanup_link_ struct rtnl_link *veth = rtnl_link_veth_alloc();
        if (!veth)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        struct rtnl_link *peer = rtnl_link_veth_get_peer(veth);
        rtnl_link_set_name(veth, q->host_name);
        rtnl_link_set_master(veth, br);
        rtnl_link_set_flags(veth, IFF_UP);
        /* The peer is born inside the container's namespace: no move, no rename. */
        rtnl_link_set_name(peer, q->peer_name);
        rtnl_link_set_ns_fd(peer, nsfd);
        /* Not IFF_UP here: the kernel configures the peer before the pair is linked, and
         * opening a veth without its peer fails (ENOTCONN). It goes up inside. */
        struct nl_addr *mac = nl_addr_build(AF_LLC, q->mac, 6);
        if (mac) {
                rtnl_link_set_addr(peer, mac);
                nl_addr_put(mac);
        }
        if (q->mtu > 0) {
                rtnl_link_set_mtu(veth, (unsigned) q->mtu);
                rtnl_link_set_mtu(peer, (unsigned) q->mtu);
        }
        int r = rtnl_link_add(s, veth, NLM_F_CREATE | NLM_F_EXCL);
        rtnl_link_put(peer); /* rtnl_link_veth_get_peer took a reference */
        if (r < 0)
                return berr_set(err, BERR_INTERNAL, EIO, "create veth %s: %s", q->host_name, nl_geterror(r));
        /* Hairpin: with br_netfilter loaded, a container's packet to its own published
         * port through a host address is DNATed at the bridge and must go back out of the
         * port it came in by (dockerd sets the same without its userland proxy). */
        char hp[128];
        snprintf(hp, sizeof(hp), "/sys/class/net/%s/brport/hairpin_mode", q->host_name);
        (void) write_sysctl(hp, "1");

        _cleanup_nlsock_ struct nl_sock *in = nl_route_sock_in(q->ns_path);
        struct ep_config c = { .ip = q->ip, .gw = q->gw, .prefix = q->prefix, .has_ip6 = q->has_ip6, .ip6 = q->ip6,
                               .gw6 = q->gw6, .prefix6 = q->prefix6, .default_route = q->default_route };
        r = in ? config_inside(in, q->peer_name, &c) : -NLE_FAILURE;
        if (r < 0) {
                nl_link_delete(q->host_name);
                return berr_set(err, BERR_INTERNAL, EIO, "configure %s in the container: %s", q->peer_name,
                                nl_geterror(r));
        }
        return 0;
}

int nl_default_route_mtu(void) {
        FILE *f = fopen("/proc/net/route", "re");
        if (!f)
                return 0;
        char line[512], dev[IFNAMSIZ + 1] = "";
        unsigned dst, mask;
        while (fgets(line, sizeof(line), f)) {
                char d[64];
                if (sscanf(line, "%63s %x %*x %*x %*d %*d %*d %x", d, &dst, &mask) == 3 && dst == 0 && mask == 0) {
                        snprintf(dev, sizeof(dev), "%.*s", IFNAMSIZ - 1, d); /* no name is longer */
                        break;
                }
        }
        fclose(f);
        if (!dev[0])
                return 0;
        _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%.*s", IFNAMSIZ - 1, dev);
        if (s < 0 || ioctl(s, SIOCGIFMTU, &ifr) < 0)
                return 0;
        return ifr.ifr_mtu;
}

bool nl_route_overlaps(const struct ipv4_net *n, const char *except_dev) {
        FILE *f = fopen("/proc/net/route", "re");
        if (!f)
                return false;
        char line[512];
        bool hit = false;
        while (!hit && fgets(line, sizeof(line), f)) {
                char d[64];
                unsigned dst, mask;
                if (sscanf(line, "%63s %x %*x %*x %*d %*d %*d %x", d, &dst, &mask) != 3 || mask == 0)
                        continue;
                if (except_dev && strcmp(d, except_dev) == 0)
                        continue;
                /* /proc/net/route prints the addresses in network order as a host integer. */
                struct ipv4_net r = { .addr = ntohl(dst), .prefix = __builtin_popcount(mask) };
                hit = ipam_overlap4(&r, n);
        }
        fclose(f);
        return hit;
}

bool nl_route6_overlaps(const struct ipv6_net *n) {
        FILE *f = fopen("/proc/net/ipv6_route", "re");
        if (!f)
                return false;
        char line[512];
        bool hit = false;
        while (!hit && fgets(line, sizeof(line), f)) {
                char dst[33];
                unsigned plen;
                if (sscanf(line, "%32s %x", dst, &plen) != 2 || plen == 0 || plen > 128 || strlen(dst) != 32)
                        continue;
                struct ipv6_net r = { .prefix = (int) plen };
                for (int i = 0; i < 16; i++) {
                        unsigned b;
                        if (sscanf(dst + 2 * i, "%2x", &b) != 1)
                                break;
                        r.addr[i] = (uint8_t) b;
                }
                /* Link-local and multicast routes are on every interface; not subnets. */
                if (r.addr[0] == 0xff || (r.addr[0] == 0xfe && (r.addr[1] & 0xc0) == 0x80))
                        continue;
                hit = ipam_overlap6(&r, n);
        }
        fclose(f);
        return hit;
}

struct json_t *nl_netns_stats(const char *ns_path) {
        _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int target = open(ns_path, O_RDONLY | O_CLOEXEC);
        if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) < 0)
                return NULL;
        /* The calling thread's namespace: /proc/net is /proc/self/net, the main thread's. */
        FILE *f = fopen("/proc/thread-self/net/dev", "re");
        if (setns(self, CLONE_NEWNET) < 0) {
                log_error("setns back to berthd's network namespace: %s", strerror(errno));
                abort();
        }
        if (!f)
                return NULL;
        json_t *o = json_object();
        char line[512];
        while (fgets(line, sizeof(line), f)) {
                char *colon = strchr(line, ':');
                if (!colon)
                        continue;
                *colon = '\0';
                char *name = line;
                while (*name == ' ')
                        name++;
                if (strcmp(name, "lo") == 0)
                        continue;
                unsigned long long v[16] = { 0 };
                if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                           &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12],
                           &v[13], &v[14], &v[15]) != 16)
                        continue;
                json_object_set_new(o, name,
                                    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "rx_bytes", (json_int_t) v[0],
                                              "rx_packets", (json_int_t) v[1], "rx_errors", (json_int_t) v[2],
                                              "rx_dropped", (json_int_t) v[3], "tx_bytes", (json_int_t) v[8],
                                              "tx_packets", (json_int_t) v[9], "tx_errors", (json_int_t) v[10],
                                              "tx_dropped", (json_int_t) v[11]));
        }
        fclose(f);
        return o;
}

int nl_addr4_add_in(const char *ns_path, const char *name, uint32_t ip, int prefix, struct berr *err) {
        _cleanup_nlsock_ struct nl_sock *in = nl_route_sock_in(ns_path);
        _cleanup_link_ struct rtnl_link *l = NULL;
        int r = in ? rtnl_link_get_kernel(in, 0, name, &l) : -NLE_FAILURE;
        if (r == 0)
                r = add_addr4(in, rtnl_link_get_ifindex(l), ip, prefix);
        if (r < 0)
                return berr_set(err, BERR_INTERNAL, EIO, "add an address to %s in the container: %s", name, nl_geterror(r));
        return 0;
}

/* ---- macvlan and ipvlan: parents and sub-interfaces ---- */

/* Create link @name of @kind ("dummy", "vlan" with @parent and @vid) and bring it up. */
static int link_add_up(const char *name, const char *kind, const char *parent, int vid, struct berr *err) {
        _cleanup_nlsock_ struct nl_sock *s = nl_route_sock();
        _cleanup_link_ struct rtnl_link *l = rtnl_link_alloc();
        if (!s || !l)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "netlink socket");
        int r;
        if (strcmp(kind, "vlan") == 0) {
                int pidx = (int) if_nametoindex(parent);
                if (pidx == 0)
                        return berr_set(err, BERR_INVALID, ENODEV, "failed to find master interface %s on the Docker "
                                        "host: Link not found", parent);
                rtnl_link_put(l);
                l = rtnl_link_vlan_alloc();
                if (!l)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                rtnl_link_set_link(l, pidx);
                rtnl_link_vlan_set_id(l, vid);
        } else if ((r = rtnl_link_set_type(l, kind)) < 0)
                return berr_set(err, BERR_INTERNAL, EIO, "link type %s: %s", kind, nl_geterror(r));
        rtnl_link_set_name(l, name);
        rtnl_link_set_flags(l, IFF_UP);
        r = rtnl_link_add(s, l, NLM_F_CREATE | NLM_F_EXCL);
        if (r < 0)
                return berr_set(err, BERR_INTERNAL, EIO, "failed to create %s %s link: %s", name, kind, nl_geterror(r));
        return 0;
}

int nl_dummy_create(const char *name, struct berr *err) {
        return link_add_up(name, "dummy", NULL, 0, err);
}

int nl_vlan_create(const char *name, const char *parent, int vid, struct berr *err) {
        return link_add_up(name, "vlan", parent, vid, err);
}

int nl_sublink_create(const struct nl_sublink_req *q, struct berr *err) {
        _cleanup_close_ int nsfd = open(q->ns_path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", q->ns_path);
        int pidx = (int) if_nametoindex(q->parent);
        if (pidx == 0)
                return berr_set(err, BERR_INTERNAL, ENODEV, "parent interface %s does not exist", q->parent);
        _cleanup_nlsock_ struct nl_sock *s = nl_route_sock();
        if (!s)
                return berr_set(err, BERR_INTERNAL, EIO, "netlink socket");
        /* Built by hand: libnl has no setter for ipvlan's flags. The link is born inside the
         * container's namespace (IFLA_NET_NS_FD) on a parent of this one (IFLA_LINK). */
        struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
        int r = -NLE_NOMEM;
        if (!m || nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0)
                goto out;
        bool is_ipvlan = strcmp(q->kind, "ipvlan") == 0;
        NLA_PUT_STRING(m, IFLA_IFNAME, q->name);
        NLA_PUT_U32(m, IFLA_LINK, (uint32_t) pidx);
        NLA_PUT_U32(m, IFLA_NET_NS_FD, (uint32_t) nsfd);
        if (q->mtu > 0)
                NLA_PUT_U32(m, IFLA_MTU, (uint32_t) q->mtu);
        if (!is_ipvlan && q->has_mac)
                NLA_PUT(m, IFLA_ADDRESS, 6, q->mac);
        struct nlattr *info = nla_nest_start(m, IFLA_LINKINFO);
        if (!info)
                goto out;
        NLA_PUT_STRING(m, IFLA_INFO_KIND, q->kind);
        struct nlattr *data = nla_nest_start(m, IFLA_INFO_DATA);
        if (!data)
                goto out;
        if (is_ipvlan) {
                NLA_PUT_U16(m, IFLA_IPVLAN_MODE, (uint16_t) q->mode);
                NLA_PUT_U16(m, IFLA_IPVLAN_FLAGS, (uint16_t) q->flags);
        } else
                NLA_PUT_U32(m, IFLA_MACVLAN_MODE, (uint32_t) q->mode);
        nla_nest_end(m, data);
        nla_nest_end(m, info);
        r = nl_send_auto(s, m);
        if (r >= 0)
                r = nl_wait_for_ack(s);
        goto out;
nla_put_failure:
        r = -NLE_NOMEM;
out:
        nlmsg_free(m);
        if (r < 0)
                return berr_set(err, BERR_INTERNAL, EIO, "create %s interface on %s: %s", q->kind, q->parent,
                                nl_geterror(r));
        _cleanup_nlsock_ struct nl_sock *in = nl_route_sock_in(q->ns_path);
        struct ep_config c = { .ip = q->ip, .gw = q->gw, .prefix = q->prefix, .has_ip6 = q->has_ip6, .ip6 = q->ip6,
                               .gw6 = q->gw6, .prefix6 = q->prefix6, .default_route = q->default_route,
                               .route_dev = q->route_dev };
        r = in ? config_inside(in, q->name, &c) : -NLE_FAILURE;
        if (r < 0) {
                nl_link_delete_in(q->ns_path, q->name);
                return berr_set(err, BERR_INTERNAL, EIO, "configure %s in the container: %s", q->name, nl_geterror(r));
        }
        return 0;
}
