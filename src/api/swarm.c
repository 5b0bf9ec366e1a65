/* swarm.c - the swarm-mode endpoints (swarm, nodes, services, tasks, secrets, configs) and
 * the plugin list, answered as a dockerd that never joined a swarm and has no plugins
 * answers them. berth has no swarm mode: init and join are refused as not supported. */
#include "api.h"
#include "common/err.h"

/* dockerd's errNoManager for a node outside any swarm (503). */
#define NOT_A_MANAGER                                                                                          \
        "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this " \
        "node to swarm and try again."

int api_swarm_not_manager(struct api_request *req, struct berr *err) {
        (void) req;
        return berr_set(err, BERR_UNAVAILABLE, ENOTCONN, NOT_A_MANAGER);
}

/* POST /swarm/leave: dockerd's errNoSwarm. */
int api_swarm_leave(struct api_request *req, struct berr *err) {
        (void) req;
        return berr_set(err, BERR_UNAVAILABLE, ENOTCONN, "This node is not part of a swarm");
}

/* POST /swarm/init, /swarm/join: a dockerd would make or join a swarm; berth cannot. */
int api_swarm_unsupported(struct api_request *req, struct berr *err) {
        (void) req;
        return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "swarm mode is not supported by berth");
}

