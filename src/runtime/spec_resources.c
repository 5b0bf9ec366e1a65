/* spec_resources.c - linux.resources from HostConfig (--memory, --memory-swap,
 * --memory-reservation, --memory-swappiness, --oom-kill-disable, --cpus, --cpu-shares,
 * --cpu-period/--cpu-quota, --cpu-rt-*, --cpuset-cpus/-mems, --pids-limit, --blkio-*), with
 * the checks and messages of dockerd's verifyPlatformContainerResources and the defaults of
 * its adaptContainerSettings (MemorySwap = 2 x Memory, OomKillDisable = false). */
#include "runtime/spec_int.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"

#define MIN_MEMORY_BYTES (6 * 1024 * 1024) /* dockerd's linuxMinMemory */
#define CPUSET_MAX 8192
#define BLKIO_DEVICES_MAX 256

static int online_count(void) {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof(set), &set) == 0)
                return CPU_COUNT(&set);
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (int) n : 1;
}

/* parsers.ParseUintList: "0-3,5" -> bits. false on a malformed list. */
static bool parse_uint_list(const char *s, bool *bits, size_t max) {
        if (!*s)
                return false;
        const char *p = s;
        for (;;) {
                char *end;
                if (*p < '0' || *p > '9')
                        return false;
                unsigned long lo = strtoul(p, &end, 10), hi = lo;
                p = end;
                if (*p == '-') {
                        p++;
                        if (*p < '0' || *p > '9')
                                return false;
                        hi = strtoul(p, &end, 10);
                        p = end;
                }
                if (hi < lo || hi >= max)
                        return false;
                for (unsigned long i = lo; i <= hi; i++)
                        bits[i] = true;
                if (!*p)
                        return true;
                if (*p++ != ',')
                        return false;
        }
}

static void read_online(const char *path, const char *fallback, char *buf, size_t size) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f || !fgets(buf, (int) size, f))
                snprintf(buf, size, "%s", fallback);
        buf[strcspn(buf, "\n")] = '\0';
}

static int check_cpuset(const char *requested, const char *online_path, const char *what, const char *unavailable,
                        struct berr *err) {
        bool *w = calloc(CPUSET_MAX, 1), *h = calloc(CPUSET_MAX, 1); /* too big for a thread's stack */
        if (!w || !h) {
                free(w);
                free(h);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        char online[256];
        read_online(online_path, "0", online, sizeof(online));
        int r = 0;
        if (!parse_uint_list(requested, w, CPUSET_MAX))
                r = berr_set(err, BERR_INVALID, EINVAL, "Invalid value %s for cpuset %s", requested, what);
        else if (parse_uint_list(online, h, CPUSET_MAX))
                for (size_t i = 0; i < CPUSET_MAX && r == 0; i++)
                        if (w[i] && !h[i])
                                r = berr_set(err, BERR_INVALID, EINVAL, "%s - requested %s, available: %s", unavailable,
                                             requested, online);
        free(w);
        free(h);
        return r;
}

/* One of the blkio lists: @n devices, the i-th at path(i) with value(i). */
struct blkio_list {
        const char *key;
        size_t n;
        const char *(*path)(const struct ctr_host_config *hc, size_t i);
        int64_t (*value)(const struct ctr_host_config *hc, size_t i);
};

static int blkio_devices(const struct ctr_host_config *hc, const struct blkio_list *l, const char *out_key, json_t **ret,
                         struct berr *err) {
        *ret = NULL;
        const char *key = l->key;
        if (l->n == 0)
                return 0;
        if (l->n > BLKIO_DEVICES_MAX)
                return berr_set(err, BERR_INVALID, E2BIG, "%s: too many devices", key);
        _cleanup_json_ json_t *out = json_array();
        for (size_t i = 0; i < l->n; i++) {
                const char *path = l->path(hc, i);
                int64_t value = l->value(hc, i);
                struct stat st;
                char buf[128];
                if (!path || stat(path, &st) < 0)
                        return berr_set(err, BERR_INVALID, path ? errno : EINVAL, "%s: stat %s: %s", key, path ? path : "",
                                        spec_go_strerror(path ? errno : EINVAL, buf));
                json_t *d = json_pack("{s:I,s:I,s:I}", "major", (json_int_t) major(st.st_rdev), "minor",
                                      (json_int_t) minor(st.st_rdev), out_key, (json_int_t) value);
                if (json_array_append_new(out, d) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static int memory_build(const struct ctr_host_config *hc, bool update, json_t **ret, struct berr *err) {
        int64_t mem = hc->memory, swap = hc->memory_swap, reservation = hc->memory_reservation;
        int64_t swappiness = hc->memory_swappiness.set ? hc->memory_swappiness.v : -1;
        bool oom_kill_disable = hc->oom_kill_disable.v;

        if (mem != 0 && mem < MIN_MEMORY_BYTES)
                return berr_set(err, BERR_INVALID, EINVAL, "Minimum memory limit allowed is 6MB");
        if (mem > 0 && swap > 0 && swap < mem)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "Minimum memoryswap limit should be larger than memory limit, see usage");
        if (mem == 0 && swap > 0 && !update) /* an update may raise the swap of a memory limit set before */
                return berr_set(err, BERR_INVALID, EINVAL,
                                "You should always set the Memory limit when using Memoryswap limit, see usage");
        if (swappiness != -1 && (swappiness < 0 || swappiness > 100))
                return berr_set(err, BERR_INVALID, EINVAL,
                                "Invalid value: %lld, valid memory swappiness range is 0-100", (long long) swappiness);
        if (mem > 0 && reservation > 0 && reservation > mem)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "Minimum memory limit can not be less than memory reservation limit, see usage");
        if (reservation != 0 && reservation < MIN_MEMORY_BYTES)
                return berr_set(err, BERR_INVALID, EINVAL, "Minimum memory reservation allowed is 6MB");
        if (mem > 0 && swap == 0) /* adaptContainerSettings: swap defaults to twice the memory */
                swap = mem > INT64_MAX / 2 ? INT64_MAX : mem * 2;

        json_t *m = json_object();
        if (!m)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (mem > 0)
                json_object_set_new(m, "limit", json_integer(mem));
        if (reservation > 0)
                json_object_set_new(m, "reservation", json_integer(reservation));
        if (swap > 0)
                json_object_set_new(m, "swap", json_integer(swap));
        if (swappiness >= 0)
                json_object_set_new(m, "swappiness", json_integer(swappiness));
        json_object_set_new(m, "disableOOMKiller", json_boolean(oom_kill_disable));
        *ret = m;
        return 0;
}

static int cpu_build(const struct ctr_host_config *hc, json_t **ret, struct berr *err) {
        int64_t nano = hc->nano_cpus, shares = hc->cpu_shares, period = hc->cpu_period, quota = hc->cpu_quota,
                rt_period = hc->cpu_realtime_period, rt_runtime = hc->cpu_realtime_runtime;
        const char *cpus = hc->cpuset_cpus, *mems = hc->cpuset_mems;
        int r;

        if (nano > 0 && period > 0)
                return berr_set(err, BERR_INVALID, EINVAL, "Conflicting options: Nano CPUs and CPU Period cannot both be set");
        if (nano > 0 && quota > 0)
                return berr_set(err, BERR_INVALID, EINVAL, "Conflicting options: Nano CPUs and CPU Quota cannot both be set");
        int ncpu = online_count();
        if (nano < 0 || nano > (int64_t) ncpu * 1000000000LL)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu);
        if (period != 0 && (period < 1000 || period > 1000000))
                return berr_set(err, BERR_INVALID, EINVAL,
                                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
        if (quota > 0 && quota < 1000)
                return berr_set(err, BERR_INVALID, EINVAL, "CPU cfs quota can not be less than 1ms (i.e. 1000)");
        if (shares < 0)
                return berr_set(err, BERR_INVALID, EINVAL, "shares: invalid argument");
        if (cpus && *cpus &&
            (r = check_cpuset(cpus, "/sys/devices/system/cpu/online", "cpus", "Requested CPUs are not available", err)) < 0)
                return r;
        if (mems && *mems &&
            (r = check_cpuset(mems, "/sys/devices/system/node/online", "mems",
                              "Requested memory nodes are not available", err)) < 0)
                return r;

        json_t *c = json_pack("{s:I}", "shares", (json_int_t) shares);
        if (!c)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (nano > 0) { /* sched-bwc: a 100 ms period, the quota its share of it */
                json_object_set_new(c, "quota", json_integer(nano * 100000 / 1000000000));
                json_object_set_new(c, "period", json_integer(100000));
        }
        if (period != 0)
                json_object_set_new(c, "period", json_integer(period));
        if (quota != 0)
                json_object_set_new(c, "quota", json_integer(quota));
        if (rt_runtime != 0)
                json_object_set_new(c, "realtimeRuntime", json_integer(rt_runtime));
        if (rt_period != 0)
                json_object_set_new(c, "realtimePeriod", json_integer(rt_period));
        if (cpus && *cpus)
                json_object_set_new(c, "cpus", json_string(cpus));
        if (mems && *mems)
                json_object_set_new(c, "mems", json_string(mems));
        *ret = c;
        return 0;
}

static const char *weight_path(const struct ctr_host_config *hc, size_t i) {
        return hc->blkio_weight_device[i].path;
}
static int64_t weight_value(const struct ctr_host_config *hc, size_t i) {
        return hc->blkio_weight_device[i].weight;
}
#define THROTTLE(list)                                                                        \
        static const char *list##_path(const struct ctr_host_config *hc, size_t i) {          \
                return hc->list.v[i].path;                                                    \
        }                                                                                     \
        static int64_t list##_value(const struct ctr_host_config *hc, size_t i) {             \
                return (int64_t) hc->list.v[i].rate;                                          \
        }
THROTTLE(blkio_device_read_bps)
THROTTLE(blkio_device_write_bps)
THROTTLE(blkio_device_read_iops)
THROTTLE(blkio_device_write_iops)

static int blkio_build(const struct ctr_host_config *hc, json_t **ret, struct berr *err) {
        int64_t weight = hc->blkio_weight;
        int r;
        if (weight > 0 && (weight < 10 || weight > 1000))
                return berr_set(err, BERR_INVALID, EINVAL, "Range of blkio weight is from 10 to 1000");
        _cleanup_json_ json_t *b = json_pack("{s:I}", "weight", (json_int_t) weight);
        if (!b)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        const struct {
                struct blkio_list l;
                const char *out_key, *spec_key;
        } lists[] = {
                { { "BlkioWeightDevice", hc->n_blkio_weight_device, weight_path, weight_value }, "weight", "weightDevice" },
                { { "BlkioDeviceReadBps", hc->blkio_device_read_bps.n, blkio_device_read_bps_path,
                    blkio_device_read_bps_value }, "rate", "throttleReadBpsDevice" },
                { { "BlkioDeviceWriteBps", hc->blkio_device_write_bps.n, blkio_device_write_bps_path,
                    blkio_device_write_bps_value }, "rate", "throttleWriteBpsDevice" },
                { { "BlkioDeviceReadIOps", hc->blkio_device_read_iops.n, blkio_device_read_iops_path,
                    blkio_device_read_iops_value }, "rate", "throttleReadIOPSDevice" },
                { { "BlkioDeviceWriteIOps", hc->blkio_device_write_iops.n, blkio_device_write_iops_path,
                    blkio_device_write_iops_value }, "rate", "throttleWriteIOPSDevice" },
        };
        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                json_t *devs = NULL;
                r = blkio_devices(hc, &lists[i].l, lists[i].out_key, &devs, err);
                if (r < 0)
                        return r;
                if (devs)
                        json_object_set_new(b, lists[i].spec_key, devs);
        }
        *ret = TAKE_PTR(b);
        return 0;
}

int spec_resources_build(const struct ctr_host_config *hc, json_t *device_rules, json_t **ret_resources, struct berr *err) {
        _cleanup_json_ json_t *memory = NULL, *cpu = NULL, *blkio = NULL;
        int r;
        if ((r = memory_build(hc, false, &memory, err)) < 0 || (r = cpu_build(hc, &cpu, err)) < 0 ||
            (r = blkio_build(hc, &blkio, err)) < 0)
                return r;
        int64_t pids = hc->pids_limit.v;
        bool has_pids = hc->pids_limit.set;

        json_t *res = json_object();
        if (!res)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        json_object_set(res, "devices", device_rules);
        json_object_set_new(res, "memory", TAKE_PTR(memory));
        json_object_set_new(res, "cpu", TAKE_PTR(cpu));
        if (has_pids) /* 0 and negative mean "unlimited", which runc spells -1 */
                json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t) (pids > 0 ? pids : -1)));
        json_object_set_new(res, "blockIO", TAKE_PTR(blkio));
        *ret_resources = res;
        return 0;
}

int spec_check_resources(const struct ctr_host_config *host_config, struct berr *err) {
        _cleanup_json_ json_t *resources = NULL;
        return spec_resources_build(host_config, NULL, &resources, err);
}

int spec_check_update_resources(const struct ctr_host_config *req, struct berr *err) {
        _cleanup_json_ json_t *memory = NULL, *cpu = NULL, *blkio = NULL;
        int r;
        if ((r = memory_build(req, true, &memory, err)) < 0 || (r = cpu_build(req, &cpu, err)) < 0 ||
            (r = blkio_build(req, &blkio, err)) < 0)
                return r;
        return 0;
}

/* Only what @req changes, with the values of @now (the configuration after the update):
 * the cgroup keeps everything else as it is. CFS quota and period go together (v2 writes
 * them as one file, cpu.max). */
json_t *spec_update_resources(const struct ctr_host_config *req, const struct ctr_host_config *now) {
        _cleanup_json_ json_t *res = json_object(), *mem = json_object(), *cpu = json_object();
        if (!res || !mem || !cpu)
                return NULL;
        bool fail = false;
        if (req->memory != 0)
                fail |= json_object_set_new(mem, "limit", json_integer(now->memory)) < 0;
        if (req->memory_swap != 0)
                fail |= json_object_set_new(mem, "swap", json_integer(now->memory_swap)) < 0;
        if (req->memory_reservation != 0)
                fail |= json_object_set_new(mem, "reservation", json_integer(now->memory_reservation)) < 0;
        if (req->cpu_shares != 0)
                fail |= json_object_set_new(cpu, "shares", json_integer(now->cpu_shares)) < 0;
        if (req->nano_cpus != 0 || req->cpu_period != 0 || req->cpu_quota != 0) {
                int64_t period = now->cpu_period ? now->cpu_period : 100000, quota = now->cpu_quota ? now->cpu_quota : -1;
                if (now->nano_cpus > 0) {
                        period = 100000;
                        quota = now->nano_cpus * 100000 / 1000000000;
                }
                fail |= json_object_set_new(cpu, "period", json_integer(period)) < 0;
                fail |= json_object_set_new(cpu, "quota", json_integer(quota)) < 0;
        }
        if (*req->cpuset_cpus)
                fail |= json_object_set_new(cpu, "cpus", json_string(now->cpuset_cpus)) < 0;
        if (*req->cpuset_mems)
                fail |= json_object_set_new(cpu, "mems", json_string(now->cpuset_mems)) < 0;
        if (req->pids_limit.set) /* 0 and negative: unlimited */
                fail |= json_object_set_new(res, "pids", json_pack("{s:I}", "limit",
                                                                   (json_int_t) (now->pids_limit.v > 0 ? now->pids_limit.v : -1))) < 0;
        if (req->blkio_weight != 0)
                fail |= json_object_set_new(res, "blockIO", json_pack("{s:I}", "weight", (json_int_t) now->blkio_weight)) < 0;
        fail |= json_object_set(res, "memory", mem) < 0 || json_object_set(res, "cpu", cpu) < 0;
        return fail ? NULL : TAKE_PTR(res);
}
