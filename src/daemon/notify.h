/* notify.h - readiness for a service manager (sd_notify's protocol, written by hand): one
 * datagram of "KEY=VALUE\n" lines to the unix socket named by $NOTIFY_SOCKET (a path, or
 * "@name" in the abstract namespace). Nothing happens when the variable is unset. */
#pragma once

/* Send @state (e.g. "READY=1"). Returns 0 when sent or when there is no socket, -errno on
 * failure. */
int daemon_notify(const char *state);

/* "RELOADING=1" with the MONOTONIC_USEC systemd asks for (Type=notify-reload). */
int daemon_notify_reloading(void);
