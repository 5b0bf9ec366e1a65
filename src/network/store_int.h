/* store_int.h - the network store's insides, shared by its files (store*.c, ports.c, dns.c,
 * sublink.c) only. */
#pragma once

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipam.h"
#include "network.h"
#include "remote.h"

#define MAX_AUX_ADDRESSES 4096

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
        /* Addresses of endpoints that left, not yet given back (their veth is being
         * deleted: store_ep.c, linkreap.c), and the signal that one came back. */
        unsigned releases_pending;
        pthread_cond_t released;
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

/* ---- shared by the store's files (store.c, store_create.c, store_remote.c, store_ep.c) ---- */

static inline void names_free(char **v) {
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

/* What an IPAM plugin gave a network being made. */
struct ipam_grant {
        struct remote_pool pool;
        char space[REMOTE_ID_MAX];
        uint32_t gateway;
        bool gw_from_ipam, wants_mac;
        uint32_t aux[MAX_AUX_ADDRESSES];
        size_t n_aux;
        bool has6;              /* --ipv6: a second pool, asked with V6 */
        struct remote_pool pool6;
        uint8_t gateway6[16];
        bool gw6_from_ipam;
};

/* What a network's plugins need to hear of its end, copied out of the store. */
struct net_plugins {
        char id[65], driver[256], ipam_driver[256], pool_id[256], pool_id6[256];
        bool remote, remote_ipam;
        uint32_t gw;            /* the gateway to release (asked of the IPAM plugin), else 0 */
        bool has_gw6;
        uint8_t gw6[16];
        uint32_t *aux;
        size_t n_aux;
};

/* A network's record and memory (store.c); callers hold s->lock or are alone. */
void store_network_free(struct network *n);
int store_network_from_record(struct net_store *s, struct network *n, struct berr *err);
int store_save_record(struct net_store *s, struct network *n, struct berr *err);
void store_remove_record(struct net_store *s, const char *id);
/* The bridge device of a bridge network, and its removal if berth made it (store.c). */
int store_bring_up(struct net_store *s, struct network *n, struct berr *err);
void store_drop_bridge(struct net_store *s, struct network *n);
/* berth's nftables table from the networks (store.c). Caller holds s->lock or is alone. */
int store_apply_firewall(struct net_store *s, struct berr *err);
/* host, none and the default bridge, at open (store_create.c). */
int store_ensure_predefined(struct net_store *s, struct berr *err);

/* IPAM and network driver plugins (store_remote.c): never called under s->lock. */
int store_ipam_release_addr(struct net_store *s, const char *driver, const char *pool_id, uint32_t ip,
                            struct berr *err);
int store_ipam_release_addr6(struct net_store *s, const char *driver, const char *pool_id, const uint8_t ip6[16],
                             struct berr *err);
int store_ipam_plugin_grant(struct net_store *s, const char *driver, const char *subnet, const char *range,
                            const char *gw, bool want_gw, json_t *aux, json_t *opts, struct ipam_grant *g,
                            struct berr *err);
int store_ipam_plugin_grant6(struct net_store *s, const char *driver, const char *subnet, const char *range,
                             const char *gw, json_t *opts, struct ipam_grant *g, struct berr *err);
void store_ipam_grant_give_back(struct net_store *s, const char *driver, const struct ipam_grant *g);
/* Copied under s->lock; the teardown is called without it. */
void store_net_plugins_of(struct network *n, struct net_plugins *p);
int store_net_plugins_teardown(struct net_store *s, struct net_plugins *p, struct berr *err);
