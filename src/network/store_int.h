/* store_int.h - the network store's insides, shared by store.c and ports.c only. */
#pragma once

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "ipam.h"
#include "network.h"

struct pub {
        char ctr_id[65];
        struct net_port port;
        int fd;                 /* the bound socket that reserves the port, -1 if none */
        int hostfwd_id;         /* rootless: slirp4netns's forward from the host, -1 if none */
};

struct endpoint {
        char ctr_id[65];
        char ctr_name[256];
        struct net_ep ep;
        char **names;           /* what the embedded DNS answers with ep.ip (NULL-terminated) */
};

/* Bumped (atomically) whenever an endpoint comes or goes: the embedded DNS rewrites the
 * name snapshots the shims answer from while berthd is down (dns.c). */
extern unsigned net_names_gen;

struct network {
        struct net_info info;
        json_t *rec;            /* the inspect shape without Containers, as stored */
        bool has_v4;
        struct ipv4_net subnet;
        struct ipam_alloc alloc;
        bool has_v6;            /* EnableIPv6 with its IPv6 subnet */
        struct ipv6_net subnet6;
        struct ipam_alloc6 alloc6;
        bool icc, masquerade;
        int gw_mode4;           /* enum fw_gw_mode: gateway_mode_ipv4 */
        int gw_mode6;           /* enum fw_gw_mode: gateway_mode_ipv6 */
        int mtu;
        char parent[16];        /* macvlan/ipvlan (sublink.c): the parent link */
        bool parent_created;    /* berth made it */
        int sub_mode, sub_flags;
        bool sub_internal;      /* no route out: --internal, or no parent given */
        struct endpoint *eps;
        size_t n_eps;
        /* Plugins (remote.h): the driver is one (info.driver), and/or the addresses come
         * from an IPAM plugin (ipam_driver; "" or "default" is berth's allocator, @alloc). */
        bool remote;
        char ipam_driver[256];
        char pool_id[256];      /* the IPAM plugin's pool */
        bool gw_from_ipam;      /* the gateway was asked of the IPAM plugin: released with the network */
        char pool_id6[256];     /* its IPv6 pool (EnableIPv6) */
        bool gw6_from_ipam;
        bool ipam_wants_mac;    /* its RequiresMACAddress */
        bool busy;              /* a plugin creates or removes it now: no endpoint, no removal */
        struct network *next;
};

/* Whether @n's addresses come from an IPAM plugin. */
static inline bool net_ipam_is_remote(const struct network *n) {
        return n->ipam_driver[0] && strcmp(n->ipam_driver, "default") != 0;
}

struct net_store {
        pthread_mutex_t lock;
        const struct net_options *o;
        char *dir;              /* DATA-ROOT/network */
        char *netns_dir;        /* EXEC-ROOT/netns */
        struct network *nets;
        int mtu;                /* the default MTU */
        struct ipam_pool_spec pools[NET_MAX_POOLS];
        size_t n_pools;
        struct ipam_pool_spec6 pools6[NET_MAX_POOLS]; /* IPv6 default pools (dockerd's ULA if none given) */
        size_t n_pools6;
        char default_name[16];
        struct pub *pubs;       /* published ports (ports.c) */
        size_t n_pubs, cap_pubs;
        uint16_t next_port;     /* where the search for a free host port goes on */
        struct dns *dns;        /* the embedded DNS server (dns.c) */
        json_t *warnings;       /* for docker info, under lock */
        struct fw_watch *fw_watch; /* puts the table back after others remove it (fwwatch.c) */
        struct fwd *fwd;        /* puts the bridges in firewalld's zone (firewalld.c) */
        struct plugin_registry *plugins; /* network and IPAM driver plugins (remote.c) */
};

/* Make the kernel's port maps hold exactly s->pubs. Caller holds s->lock. */
void ports_resync_locked(struct net_store *s);
/* Whether @ip is a container address of a routed network. Caller holds s->lock. */
bool net_ip_routed_locked(struct net_store *s, uint32_t ip);
bool net_ip6_routed_locked(struct net_store *s, const uint8_t ip[16]);

/* Move @fd, one of the many long-lived descriptors the store holds (a reserved port, a
 * container's DNS socket), above FD_SETSIZE: libnftables (and ldns) still use select(),
 * which aborts berthd on a descriptor past 1023 — one 1,000-port range was enough. The
 * low numbers stay free for them. Returns the descriptor to use (@fd when it cannot move). */
static inline int fd_above_select(int fd) {
        if (fd < 0 || fd >= 1024)
                return fd;
        int hi = fcntl(fd, F_DUPFD_CLOEXEC, 1024);
        if (hi < 0)
                return fd; /* RLIMIT_NOFILE at 1024: nothing to gain */
        close(fd);
        return hi;
}

/* A network by name, full ID or unique ID prefix; caller holds s->lock. */
struct network *store_find_locked(struct net_store *s, const char *ref);
/* One network against `network ls`/prune filters (store_list.c); *bad set on a bad value. */
bool store_net_matches(struct network *n, json_t *f, struct berr *err, int *bad);
/* A label filter value ("k" or "k=v") against a network's labels. */
bool store_label_has(json_t *labels, const char *s);

int dns_open(struct net_store *s, struct berr *err);
void dns_close(struct net_store *s);

