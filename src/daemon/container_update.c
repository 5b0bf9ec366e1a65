/* container_update.c - docker update (POST /containers/{id}/update): a container's
 * resources and restart policy changed after create, as dockerd's daemon/update.go and
 * container.UpdateContainer do it. The new configuration is a copy of the old one with the
 * request's non-zero values in; it replaces c->cc under c->lock (copy-on-write: readers
 * that hold the old pointer without the lock keep a valid configuration, see
 * ctr_config_replace), the record is written, a running or paused container's cgroup is
 * written at once, a stopped one gets it at its next start (the spec is made from c->cc). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "container.h"
#include "daemon.h"
#include "events.h"
#include "runtime/runtime.h"
#include "runtime/spec.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define BUNDLE_SPEC_MAX (16 << 20)

/* A deep copy, through the record's own encoding (the round trip the unit tests hold). */
static int config_copy(const struct ctr_config *cc, struct ctr_config **ret, struct berr *err) {
        _cleanup_json_ json_t *cfg = ctr_config_encode_config(cc), *hc = ctr_config_encode_host_config(cc);
        if (!cfg || !hc)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        return ctr_config_decode(cfg, hc, NULL, ret, err);
}

/* container.UpdateContainer: the request's non-zero values over @now, refused where they
 * conflict with what is set already (dockerd's messages; the caller adds "Cannot update
 * container <id>: "). */
static int merge_update(struct ctr_host_config *now, const struct ctr_host_config *req, bool auto_remove,
                        struct ctr_config *owner, struct berr *err) {
        if (req->nano_cpus > 0 && now->cpu_period > 0)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set");
        if (req->nano_cpus > 0 && now->cpu_quota > 0)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set");
        if (req->cpu_period > 0 && now->nano_cpus > 0)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set");
        if (req->cpu_quota > 0 && now->nano_cpus > 0)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set");
        /* dockerd stores MemorySwap = 2 x Memory at create when none was given; berth leaves
         * it 0 and derives it at start, so it is made explicit here before it is compared. */
        if (now->memory > 0 && now->memory_swap == 0)
                now->memory_swap = now->memory > INT64_MAX / 2 ? INT64_MAX : now->memory * 2;
        if (req->blkio_weight != 0)
                now->blkio_weight = req->blkio_weight;
        if (req->cpu_shares != 0)
                now->cpu_shares = req->cpu_shares;
        if (req->nano_cpus != 0)
                now->nano_cpus = req->nano_cpus;
        if (req->cpu_period != 0)
                now->cpu_period = req->cpu_period;
        if (req->cpu_quota != 0)
                now->cpu_quota = req->cpu_quota;
        if (*req->cpuset_cpus && ctr_config_set_string(owner, &now->cpuset_cpus, req->cpuset_cpus) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (*req->cpuset_mems && ctr_config_set_string(owner, &now->cpuset_mems, req->cpuset_mems) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (req->memory != 0) {
                if (req->memory > now->memory_swap && req->memory_swap == 0)
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "Memory limit should be smaller than already set memoryswap limit, update the "
                                        "memoryswap at the same time");
                now->memory = req->memory;
        }
        if (req->memory_swap != 0)
                now->memory_swap = req->memory_swap;
        if (req->memory_reservation != 0)
                now->memory_reservation = req->memory_reservation;
        if (req->cpu_realtime_period != 0)
                now->cpu_realtime_period = req->cpu_realtime_period;
        if (req->cpu_realtime_runtime != 0)
                now->cpu_realtime_runtime = req->cpu_realtime_runtime;
        if (req->pids_limit.set)
                now->pids_limit = req->pids_limit;
        enum ctr_restart rp = req->restart_policy.name;
        if (rp != CTR_RESTART_UNSET && rp != CTR_RESTART_EMPTY) {
                if (auto_remove && rp != CTR_RESTART_NO)
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "Restart policy cannot be updated because AutoRemove is enabled for the container");
                if (ctr_config_set_string(owner, &now->restart_policy.name_text, req->restart_policy.name_text) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                now->restart_policy.name = rp;
                now->restart_policy.maximum_retry_count = req->restart_policy.maximum_retry_count;
        }
        /* What the merge made must still hold together (a swap below a raised memory). */
        if (now->memory > 0 && now->memory_swap > 0 && now->memory_swap < now->memory)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "Minimum memoryswap limit should be larger than memory limit, see usage");
        if (now->memory > 0 && now->memory_reservation > now->memory)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "Minimum memory limit can not be less than memory reservation limit, see usage");
        return 0;
}

/* The cgroup the running container was started in: linux.cgroupsPath of its bundle. */
static int running_cgroup_path(struct daemon *d, struct container *c, char **ret, struct berr *err) {
        _cleanup_free_ char *dir = ctr_bundle_dir(d, c->id);
        if (!dir)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open bundle of %s", c->id);
        _cleanup_free_ char *text = NULL;
        size_t len;
        _cleanup_json_ json_t *spec = NULL;
        int r;
        if ((r = fs_read_file(dfd, "config.json", BUNDLE_SPEC_MAX, &text, &len, err)) < 0 ||
            (r = json_parse_object(text, len, &spec, err)) < 0)
                return r;
        const char *p = json_string_value(json_object_get(json_object_get(spec, "linux"), "cgroupsPath"));
        if (!p || !*p)
                return berr_set(err, BERR_INTERNAL, ENOENT, "the bundle of %s names no cgroup", c->id);
        return (*ret = strdup(p)) ? 0 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
}

static int apply_live(struct daemon *d, struct container *c, const struct ctr_host_config *req,
                      const struct ctr_host_config *now, struct berr *err) {
        _cleanup_free_ char *cgpath = NULL;
        _cleanup_json_ json_t *res = spec_update_resources(req, now);
        if (!res)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        /* An external runtime's container: its runtime's `update` (a VM-based one keeps the
         * limits elsewhere than in our cgroup), through the shim, bounded in time. */
        if (ctr_runtime_is_external(c->cc))
                return ctr_runtime_update(d, c, res, err);
        int r = running_cgroup_path(d, c, &cgpath, err);
        return r < 0 ? r : rt_cgroup_update(CGROUP_ROOT, cgpath, res, err);
}

int ctr_update(struct daemon *d, struct container *c, json_t *body, json_t **ret_warnings, struct berr *err) {
        _cleanup_json_ json_t *warnings = json_array();
        if (!warnings)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        /* verifyPlatformContainerResources: a weight the kernel cannot take is dropped with a
         * warning before its range is checked. */
        json_t *bw = json_object_get(body, "BlkioWeight");
        if (json_is_integer(bw) && json_integer_value(bw) > 0 && json_integer_value(bw) <= UINT16_MAX && /* else Go's type error */
            !d->host.blkio_weight) {
                json_array_append_new(warnings, json_string("Your kernel does not support Block I/O weight or the cgroup "
                                                            "is not mounted. Weight discarded."));
                json_object_set_new(body, "BlkioWeight", json_integer(0));
        }
        _cleanup_ctr_config_ struct ctr_config *req = NULL;
        int r = ctr_validate_update(body, &req, err);
        if (r < 0)
                return r;
        /* dockerd's router: 0 and any negative PidsLimit mean unlimited, stored as 0 */
        if (req->hc.pids_limit.set && req->hc.pids_limit.v < 0)
                req->hc.pids_limit.v = 0;

        pthread_mutex_lock(&c->lock);
        while (c->state == CTR_STARTING) /* the spec is being made from c->cc: update what it made */
                pthread_cond_wait(&c->cond, &c->lock);
        enum ctr_state st = ctr_state_shown(c);
        _cleanup_ctr_config_ struct ctr_config *next = NULL;
        if (st == CTR_REMOVING || st == CTR_DEAD || c->state == CTR_REMOVED)
                r = berr_set(err, BERR_INTERNAL, EINVAL, "container is marked for removal and cannot be \"update\"");
        else if ((r = config_copy(c->cc, &next, err)) == 0)
                r = merge_update(&next->hc, &req->hc, c->cc->hc.auto_remove, next, err);
        /* A running or paused container's cgroup now; a restarting one's at its start. */
        if (r == 0 && (st == CTR_RUNNING || st == CTR_PAUSED))
                r = apply_live(d, c, &req->hc, &next->hc, err);
        if (r == 0 && ctr_config_replace(c, next) < 0)
                r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        else if (r == 0) {
                next = NULL; /* c->cc now */
                if ((r = ctr_save(d, c, err)) < 0)
                        ctr_config_revert(c); /* the record stays as it was */
        }
        if (r == 0)
                events_container(d, c, "update", NULL);
        pthread_mutex_unlock(&c->lock);
        if (r < 0)
                return berr_wrap(err, "Cannot update container %s", c->id);
        ctr_config_reclaim(d, c);
        *ret_warnings = json_array_size(warnings) ? TAKE_PTR(warnings) : json_null();
        return 0;
}
