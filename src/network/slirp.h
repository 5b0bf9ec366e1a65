/* slirp.h - rootless berthd's published ports on the host: slirp4netns's API socket
 * (add_hostfwd/remove_hostfwd), as rootlesskit's slirp4netns port driver asks it. The
 * forward goes from HOST_ADDR:PORT on the host to 10.0.2.100:PORT, berthd's tap0, where
 * berth's DNAT rule takes it on to the container. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* berthd's address in its network namespace (slirp4netns --configure's default). */
#define SLIRP_GUEST_ADDR "10.0.2.100"

/* Forward @proto ("tcp", "udp") @host_addr:@port on the host to SLIRP_GUEST_ADDR:@port.
 * 0 and the forward's id in *ret_id, or -errno with slirp4netns's reason in @msg. */
int slirp_hostfwd_add(const char *api, const char *proto, const char *host_addr, uint16_t port, int *ret_id,
                      char *msg, size_t msg_size);
/* Take forward @id away (0 or -errno). */
int slirp_hostfwd_remove(const char *api, int id);
