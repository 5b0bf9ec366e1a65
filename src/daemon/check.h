/* check.h - `berthd --check [--repair]`: the data root verified offline (check.c). */
#pragma once

#include <stdbool.h>
#include <stdio.h>

struct berr;
struct daemon_config;

enum check_mode {
        CHECK_QUICK, /* records, references, presence: no content is read */
        CHECK_FULL,  /* and every layer read back to its diff ID, every blob hashed */
};

struct check_opts {
        enum check_mode mode;
        bool repair; /* remove what nothing references (never a volume), then check again */
        FILE *out;   /* the report */
};

/* Check the data root and exec root of @cfg while no berthd runs on them (its pid file
 * is locked for the duration; a running berthd is BERR_CONFLICT). Writes one line per
 * finding and a summary to @o->out. Returns 0 when the store is consistent, 1 when it is
 * not (after the repair, with @o->repair), negative on an error that stopped the check. */
int daemon_check(struct daemon_config *cfg, const struct check_opts *o, struct berr *err);

/* The quick check at start-up, before the stores are opened: what it finds is logged
 * (the stores then remove what nothing references as they open). Returns how many
 * findings were logged. */
int daemon_check_startup(struct daemon_config *cfg);

/* `--check`, `--check=quick|full` and `--repair` taken out of @argv (they are berthd's
 * own, not dockerd's flags): 1 if a check was asked for, 0 if not, negative (with @err)
 * for a bad value or --repair without --check. @argc is updated. */
int daemon_check_args(int *argc, char **argv, struct check_opts *ret, struct berr *err);
