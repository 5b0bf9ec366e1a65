/* container_commit.h - docker commit: a container's writable layer and configuration as a
 * new image (POST /commit). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/digest.h"

struct berr;
struct daemon;

struct ctr_commit_opts {
        bool pause;              /* pause a running container while its layer is read */
        json_t *config;          /* Config fields that override the container's, or NULL */
        const char *reference;   /* repo[:tag] or NULL */
        const char *author, *comment;
        const char *const *changes; /* Dockerfile instructions (--change) */
        size_t n_changes;
};

/* Commit the container @name_or_id: pause (if asked and running) → read the writable
 * layer into a new image → unpause; a "commit" event on success. */
int ctr_commit(struct daemon *d, const char *name_or_id, const struct ctr_commit_opts *o,
               char ret_id[DIGEST_STRING_MAX], struct berr *err);

/* Start-up: a container a commit had paused when berthd died (its record says so) is
 * thawed and shown running again; the commit itself was never acknowledged. */
void ctr_commit_recover(struct daemon *d, struct container *c);
