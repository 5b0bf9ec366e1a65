/* msg.h - send and receive one struct shim_msg, optionally with one fd (SCM_RIGHTS), on a
 * SOCK_SEQPACKET socket. Shared by berth-shim and berthd. */
#pragma once

#include "protocol.h"

struct berr;

void shim_msg_init(struct shim_msg *m, enum shim_msg_type type);

/* @fd < 0: no fd. */
int shim_msg_send(int sock, const struct shim_msg *m, int fd, struct berr *err);

/* Receives one message; *ret_fd is the passed fd or -1. Returns 0 on a message, -EPIPE
 * on EOF, another negative errno on error or a malformed message. */
int shim_msg_recv(int sock, struct shim_msg *m, int *ret_fd, struct berr *err);

/* Connect to @bundle_dir/shim.sock however long the path: through /proc/self/fd. */
int shim_connect(const char *bundle_dir, struct berr *err);
