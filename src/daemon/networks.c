/* networks.c - the API's read-only calls into the network store (see networks.h), so
 * handlers reach the network module only through daemon/. */
#include "networks.h"

#include "daemon.h"
#include "network/network.h"

int daemon_net_list(struct daemon *d, json_t *filters, json_t **ret, struct berr *err) {
        return net_list(d->nets, filters, ret, err);
}

int daemon_net_inspect(struct daemon *d, const char *ref, bool verbose, json_t **ret, struct berr *err) {
        return net_inspect(d->nets, ref, verbose, ret, err);
}

json_t *daemon_net_warnings(struct daemon *d) {
        return net_warnings(d->nets);
}
