/* firewalld.h - berth's bridges in firewalld's "docker" zone (internal to src/network/).
 *
 * When firewalld runs, its own nftables table rejects forwarded traffic of interfaces in no
 * zone that allows it, whatever berth's table accepts. As dockerd, berth puts its bridges
 * in a zone "docker" (target ACCEPT, created when missing, with dockerd 27's
 * "docker-forwarding" policy) and puts them back after firewalld reloads or restarts. All
 * of it runs on a thread of its own, over the system bus ($DBUS_SYSTEM_BUS_ADDRESS), with
 * libsystemd's sd-bus loaded there: without a system bus or firewalld nothing happens and
 * berthd's start does not wait for any of it. */
#pragma once

#include <stddef.h>

struct fwd;

/* Start the thread; NULL when it cannot be (berthd goes on without it). */
struct fwd *fwd_start(void);
/* The bridges that belong in the zone now (copied): the thread adds the new ones and
 * takes out those no longer named. NULL @f: nothing. */
void fwd_set_interfaces(struct fwd *f, const char *const *names, size_t n);
/* Stop and free (NULL is fine). The bridges stay in the zone (they outlive berthd). */
void fwd_stop(struct fwd *f);
