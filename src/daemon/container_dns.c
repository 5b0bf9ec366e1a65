/* container_dns.c - the embedded DNS server's sockets live on in the container's shim
 * (docs/architecture.md, "Embedded DNS"): berthd hands the shim a duplicate of each
 * once the shim runs, and takes them back when it restarts, so 127.0.0.11:53 stays bound
 * while berthd is down and queries wait in the socket until it is back. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/log.h"
#include "container.h"
#include "daemon.h"
#include "network/network.h"
#include "shim/msg.h"

/* One request on @conn, with @fd (or -1); the answer's fd in *ret_fd (if asked). */
static int dns_exchange(int conn, enum shim_msg_type type, uint32_t which, int fd, int *ret_fd, struct berr *err) {
        struct shim_msg m;
        shim_msg_init(&m, type);
        m.flags = which;
        int r = shim_msg_send(conn, &m, fd, err);
        if (r == 0)
                r = shim_msg_recv(conn, &m, ret_fd, err);
        if (r == 0 && (m.type != SHIM_MSG_STARTED || m.status < 0)) {
                if (ret_fd && *ret_fd >= 0) {
                        close(*ret_fd);
                        *ret_fd = -1;
                }
                r = berr_set(err, BERR_UNAVAILABLE, m.status < 0 ? -m.status : EPROTO, "shim: %s", m.text);
        }
        return r;
}

void ctr_dns_hand_to_shim(struct daemon *d, struct container *c) {
        _cleanup_close_ int fd = -1, tfd = -1;
        if (net_dns_dup_fds(d->nets, c->id, &fd, &tfd) < 0)
                return; /* no embedded DNS for this container */
        _cleanup_free_ char *bundle = ctr_bundle_dir(d, c->id);
        struct berr err = { 0 };
        _cleanup_close_ int conn = bundle ? shim_connect(bundle, &err) : -1;
        if (conn < 0 || dns_exchange(conn, SHIM_REQ_DNS_KEEP, SHIM_DNS_UDP, fd, NULL, &err) < 0 ||
            dns_exchange(conn, SHIM_REQ_DNS_KEEP, SHIM_DNS_TCP, tfd, NULL, &err) < 0) {
                log_warn("container %.12s: the shim keeps no DNS sockets (names stop resolving while berthd is "
                         "down): %s", c->id, bundle ? err.msg : "out of memory");
                return;
        }
        int r = net_dns_snapshot_to(d->nets, c->id, bundle, SHIM_DNS_NAMES);
        if (r < 0)
                log_warn("container %.12s: DNS name snapshot: %s", c->id, strerror(-r));
}

int ctr_dns_take_from_shim(struct daemon *d, struct container *c, const char *ns, const char *const *servers,
                           struct berr *err) {
        _cleanup_free_ char *bundle = ctr_bundle_dir(d, c->id);
        if (!bundle)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        _cleanup_close_ int conn = shim_connect(bundle, err);
        if (conn < 0)
                return conn;
        int fd = -1, tfd = -1;
        int r = dns_exchange(conn, SHIM_REQ_DNS_GET, SHIM_DNS_UDP, -1, &fd, err);
        if (r == 0)
                r = dns_exchange(conn, SHIM_REQ_DNS_GET, SHIM_DNS_TCP, -1, &tfd, err);
        if (r == 0 && (fd < 0 || tfd < 0))
                r = berr_set(err, BERR_INTERNAL, EPROTO, "shim: no socket in its answer");
        if (r < 0) {
                if (fd >= 0)
                        close(fd);
                if (tfd >= 0)
                        close(tfd);
                return r;
        }
        r = net_dns_adopt(d->nets, c->id, ns, servers, fd, tfd, err); /* takes both */
        if (r < 0)
                return r;
        if ((r = net_dns_snapshot_to(d->nets, c->id, bundle, SHIM_DNS_NAMES)) < 0)
                log_warn("container %.12s: DNS name snapshot: %s", c->id, strerror(-r));
        return 0;
}
