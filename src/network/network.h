/* network.h - networks: the store of networks (bridge, host, none and user-defined bridge
 * networks), their addresses (IPAM), the kernel objects behind them (bridges, veth pairs,
 * network namespaces bound under EXEC-ROOT/netns/) and berth's nftables table.
 *
 * The store knows networks and the endpoints of running containers; it knows nothing of
 * containers beyond an ID and a name. daemon/ decides when a container joins or leaves.
 * Records: DATA-ROOT/network/<id>.json, one per network, written atomically. Endpoints are
 * not stored here: they live in the container records and are handed back with
 * net_restore() when berthd starts again. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct berr;

#define NET_MAX_POOLS 16

/* The daemon's network options: dockerd's flag names. */
struct net_options {
        char *bridge;         /* -b/--bridge: the default network's bridge ("docker0"); "none": no default bridge */
        char *bip;            /* --bip: the default bridge's address, CIDR ("172.17.0.1/16") */
        char *fixed_cidr;     /* --fixed-cidr: where the default bridge's containers get addresses */
        bool ipv6;            /* --ipv6: IPv6 on the default bridge */
        char *fixed_cidr_v6;  /* --fixed-cidr-v6: its IPv6 subnet (else one from the pools) */
        char host_id[40];     /* the engine ID: dockerd derives its default IPv6 pool from it */
        char *default_gateway; /* --default-gateway */
        char *pools[NET_MAX_POOLS]; /* --default-address-pool base=CIDR,size=N (IPv4 or IPv6 bases) */
        size_t n_pools;
        int mtu;              /* --mtu; 0: the MTU of the host's default-route interface */
        bool iptables;        /* --iptables: berth manages its nftables table */
        bool ip_masq, icc, ip_forward;
        char *ip;             /* --ip: default host address of published ports */
        char *table;          /* nftables table name (derived from the exec root) */
        bool has_accept_fwmark; /* --bridge-accept-fwmark mark[/mask]: forwarded packets so marked are accepted */
        uint32_t accept_fwmark, accept_fwmask;
        char *hostfwd_api;    /* rootless: slirp4netns's API socket, which forwards published ports from the host
                               * ("pasta" with hostfwd_pasta); NULL: berthd has no network namespace of its own */
        bool hostfwd_pasta;   /* rootless with pasta: it forwards every TCP port listening in berthd's namespace */
};
void net_options_init(struct net_options *o);
/* A bridge name berth accepts: 1-15 of [A-Za-z0-9_.-], not "." or "..". */
bool net_valid_bridge_name(const char *name);
void net_options_done(struct net_options *o);

struct net_store;

int net_store_open(const struct net_options *o, const char *data_root, const char *exec_root,
                   struct net_store **ret, struct berr *err);
void net_store_close(struct net_store *s);
/* At a clean shutdown with no container running: berth's table goes. */
void net_store_remove_rules(struct net_store *s);

/* What daemon/ needs to know of a network. */
struct net_info {
        char id[65];
        char name[256];
        char driver[256];     /* "bridge", "host", "null", "macvlan", "ipvlan", or a plugin's name */
        char bridge[16];      /* bridge device, bridge driver only */
        bool predefined, internal, attachable;
        bool ipv6;            /* EnableIPv6, with an IPv6 subnet */
        char host_binding_ipv4[64];
};
/* Drivers whose networks give containers an address and a link: bridge, macvlan, ipvlan
 * and network driver plugins (everything but host and null). */
bool net_driver_has_endpoints(const char *driver);
/* A driver name that is not one of berth's own: a network driver plugin's. */
bool net_driver_is_remote(const char *driver);
/* Network and IPAM driver plugins (libnetwork's remote drivers) are found and called
 * through @reg (plugin.h); without it every driver name but berth's own is "not found". */
struct plugin_registry;
void net_store_set_plugins(struct net_store *s, struct plugin_registry *reg);
/* Docker's lookup order: full ID, exact name, unique ID prefix. 404 "network X not found". */
int net_find(struct net_store *s, const char *ref, struct net_info *ret, struct berr *err);
/* Whether network @ref's driver or its IPAM driver is a plugin (what a crash would leave
 * with a plugin is released only through the container's record). */
bool net_uses_plugins(struct net_store *s, const char *ref);
/* The default network for NetworkMode "default"/"bridge": the name ("bridge", or "none"
 * when the daemon runs with --bridge none). */
const char *net_default_name(struct net_store *s);
/* The default bridge's address ("" without one). */
void net_default_gateway(struct net_store *s, char out[16]);
/* docker info Warnings about the firewall (another table's FORWARD drop policy). */
json_t *net_warnings(struct net_store *s);

/* POST /networks/create: Docker's NetworkCreateRequest. *ret_warning may be "" */
int net_create(struct net_store *s, json_t *req, char ret_id[65], char ret_warning[256], struct berr *err);
/* DELETE /networks/{id}: *ret is filled for the destroy event. */
int net_remove(struct net_store *s, const char *ref, struct net_info *ret, struct berr *err);
/* GET /networks, GET /networks/{id} (Docker's shapes, Containers filled from endpoints). */
int net_list(struct net_store *s, json_t *filters, json_t **ret, struct berr *err);
int net_inspect(struct net_store *s, const char *ref, bool verbose, json_t **ret, struct berr *err);
/* POST /networks/prune: user networks without endpoints (as dockerd: a stopped container
 * does not keep one), made before @until_ns (0: any time), matching the label filters. */
int net_prune(struct net_store *s, json_t *filters, int64_t until_ns, json_t **ret_deleted, json_t **ret_ids,
              struct berr *err);

/* One container's attachment to one network while it runs. */
struct net_ep {
        char endpoint_id[65];
        char ifname[16];      /* inside the container: eth0, eth1, ... */
        uint32_t ip, gateway; /* host byte order */
        int prefix;
        uint8_t mac[6];
        bool has_ip6;         /* on a network with IPv6 */
        uint8_t ip6[16], gateway6[16]; /* network byte order */
        int prefix6;
        /* A network driver plugin's endpoint, kept in the container's record so a berthd
         * started again can still give the link back and revoke the ports: */
        char src_name[16];    /* the link the driver made (Join's SrcName) */
        bool external;        /* ProgramExternalConnectivity was called */
};
struct net_join_req {
        const char *ctr_id, *ctr_name;
        const char *ns_path;  /* the container's bound network namespace */
        const char *ifname;
        const char *want_ip;  /* --ip, NULL/"": any */
        const char *want_ip6; /* --ip6, NULL/"": any (networks with IPv6 only) */
        const char *want_mac; /* --mac-address, NULL/"": random */
        bool default_route;   /* the first network gives the default route */
        const char *const *dns_names; /* names the embedded DNS gives this address (NULL-terminated) */
        /* For a network driver plugin: the container's ports as libnetwork labels them in
         * CreateEndpoint's and Join's options (PortBinding and TransportPort arrays; NULL: none). */
        json_t *portmap, *exposed;
};
/* Address, veth pair and routes for a container on network @net_id. */
int net_join(struct net_store *s, const char *net_id, const struct net_join_req *q, struct net_ep *ret,
             struct berr *err);
/* --link-local-ip: one more address on the container's interface @ifname (a /16 for
 * 169.254.0.0/16, else a /32), as dockerd adds them. */
int net_add_link_local(const char *ns_path, const char *ifname, const char *ip, struct berr *err);
/* The veth goes (if it still exists) and the address returns to the pool. Idempotent. */
void net_leave(struct net_store *s, const char *net_id, const char *ctr_id, const char *ns_path,
               const char *ifname);
/* After a berthd restart: a running container's endpoint, from its record. */
int net_restore(struct net_store *s, const char *net_id, const char *ctr_id, const char *ctr_name,
                const struct net_ep *ep, const char *const *dns_names, struct berr *err);

/* The embedded DNS server at 127.0.0.11 inside the container's namespace (user networks). */
/* @servers: the container's --dns (IPv4 or IPv6, NULL-terminated, may be NULL): upstreams dialled
 * from inside its namespace, as dockerd does; else the host's, from berthd's. */
int net_dns_attach(struct net_store *s, const char *ctr_id, const char *ns_path, const char *const *servers,
                   struct berr *err);
void net_dns_detach(struct net_store *s, const char *ctr_id);
/* The same server on sockets that outlived a berthd (kept by the container's shim):
 * @fd UDP, @tfd the TCP listener, both bound to 127.0.0.11:53 in the container's
 * namespace. Takes both fds (closed on failure: then call net_dns_attach). */
int net_dns_adopt(struct net_store *s, const char *ctr_id, const char *ns_path, const char *const *servers, int fd,
                  int tfd, struct berr *err);
/* Duplicates (CLOEXEC) of the container's two sockets, for its shim to keep; -ENOENT. */
int net_dns_dup_fds(struct net_store *s, const char *ctr_id, int *ret_fd, int *ret_tfd);
/* Keep @dir/@name (the shim's bundle) holding the names the container's DNS answers, for
 * its shim to answer from while berthd is down; written now and whenever endpoints change. */
int net_dns_snapshot_to(struct net_store *s, const char *ctr_id, const char *dir, const char *name);
/* Whether @fd is an IPv4 socket of @type (SOCK_DGRAM, SOCK_STREAM listening) bound to 127.0.0.11:53. */
bool net_dns_socket_ok(int fd, int type);

/* The container's network namespace, bound at EXEC-ROOT/netns/<id>, lo up. */
int net_sandbox_create(struct net_store *s, const char *ctr_id, char *path, size_t size, struct berr *err);
void net_sandbox_path(struct net_store *s, const char *ctr_id, char *path, size_t size);
void net_sandbox_remove(struct net_store *s, const char *ctr_id);
/* Docker's stats "networks" object for the namespace at @path (NULL on failure). */
json_t *net_sandbox_stats(const char *path);

/* Formatting helpers for daemon/. */
void net_format_ip(uint32_t ip, char out[16]);
void net_format_ip6(const uint8_t ip[16], char out[46]);
int net_parse_ip6(const char *s, uint8_t ip[16]);
void net_format_mac(const uint8_t mac[6], char out[18]);
int net_parse_mac(const char *s, uint8_t mac[6]);

/* A network driver plugin's endpoint of the container's gateway network (1: programmed,
 * record it in net_ep.external; 0: no plugin driver, or one without the method): the ports the
 * container publishes and exposes go to the driver (ProgramExternalConnectivity with
 * libnetwork's com.docker.network.portmap and .endpoint.exposedports), which publishes
 * them itself; berth forwards nothing there. @portmap and @exposed are libnetwork's
 * PortBinding and TransportPort arrays. A driver without the method is fine (libnetwork
 * does not require it yet). RevokeExternalConnectivity comes with net_leave. */
int net_program_external(struct net_store *s, const char *net_id, const char *ctr_id, json_t *portmap, json_t *exposed,
                         struct berr *err);

/* Published ports: the kernel forwards them (DNAT in berth's table: from other hosts, from
 * containers through a host address, and from the host itself, 127.0.0.1 included), and
 * berthd holds a bound socket per TCP/UDP port so no other program takes it. */
struct net_port {
        uint8_t proto;          /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP */
        bool v6;                /* an IPv6 binding: host_ip6 and ctr_ip6 (host_ip, ctr_ip unused) */
        uint8_t host_ip6[16];   /* all zero: every IPv6 address of the host */
        uint8_t ctr_ip6[16];
        uint32_t host_ip;       /* 0: every IPv4 address of the host */
        uint16_t host_lo, host_hi; /* the host port wanted: one, a range to pick from, or 0-0 for any */
        uint16_t host_port;     /* the one given, set by net_publish */
        uint32_t ctr_ip;
        uint16_t ctr_port;
};
/* Reserve and forward every port of @p (all or nothing). Docker's messages on conflicts. */
int net_publish(struct net_store *s, const char *ctr_id, struct net_port *p, size_t n, struct berr *err);
/* Forwarding and reservations of the container go (idempotent). */
void net_unpublish(struct net_store *s, const char *ctr_id);
/* After a berthd restart, for a running container: the rules are still in the kernel;
 * take the reservations again (best effort) and remember the ports. */
void net_republish(struct net_store *s, const char *ctr_id, const struct net_port *p, size_t n);
/* Make the kernel's port maps hold exactly the ports the store knows (after restores). */
void net_ports_resync(struct net_store *s);
