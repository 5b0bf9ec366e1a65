/* container_stats.h - GET /containers/{id}/stats. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct berr;
struct daemon;
struct container;
struct ctr_stats_reader;

/* Takes over the reference on @c. @stream: an object a second until the client leaves
 * or the container stops; else one. @one_shot (with !stream): no wait for a previous
 * sample, so precpu_stats is empty, as in dockerd. */
int ctr_stats_open(struct daemon *d, struct container *c, bool stream, bool one_shot, int client_fd,
                   struct ctr_stats_reader **ret, struct berr *err);
ssize_t ctr_stats_read(struct ctr_stats_reader *r, char *buf, size_t max);
void ctr_stats_free(struct ctr_stats_reader *r);
