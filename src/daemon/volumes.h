/* volumes.h - the daemon's volume operations: the volume store's work plus what only the
 * daemon knows, namely which containers use a volume (rm conflicts, prune, the dangling
 * filter, `docker system df`). Removal is serialised with container create by
 * d->volume_lock, so nothing is removed that a container is about to mount. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

struct berr;
struct daemon;

/* POST /volumes/create: *ret is the new (or existing) volume's record. */
int daemon_volume_create(struct daemon *d, const char *name, const char *driver, json_t *labels, json_t *driver_opts,
                         json_t **ret, struct berr *err);
/* GET /volumes: the records that pass @filters (dangling, driver, label, name). */
int daemon_volume_list(struct daemon *d, json_t *filters, json_t **ret, struct berr *err);
/* GET /volumes/{name} */
int daemon_volume_inspect(struct daemon *d, const char *name, json_t **ret, struct berr *err);
/* DELETE /volumes/{name}: BERR_CONFLICT while a container uses it; with @force a missing
 * volume is not an error. */
int daemon_volume_remove(struct daemon *d, const char *name, bool force, struct berr *err);
/* Remove a volume of any driver; the caller holds d->volume_lock and checked its use. */
int daemon_volume_remove_locked(struct daemon *d, const char *name, struct berr *err);
/* POST /volumes/prune: unused volumes passing @filters (label, label!, all); *ret is
 * {"VolumesDeleted", "SpaceReclaimed"}. */
int daemon_volume_prune(struct daemon *d, json_t *filters, json_t **ret, struct berr *err);
/* `docker system df`: every volume with its UsageData (Size, RefCount). */
int daemon_volume_list_with_usage(struct daemon *d, json_t **ret, struct berr *err);
