/* cgroups.c - the container's cgroup: finding the hierarchies (v1: one mount dir per
 * controller set under /sys/fs/cgroup; v2: the unified tree), creating linux.cgroupsPath
 * in each, writing linux.resources, moving processes in, OOM accounting, killing what is
 * left and removing the dirs. The root is a parameter so tests run on a fake tree. */
#include "runtime_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "runtime/bpf_devices.h"

#define CGROUP_FILE_MAX (64 * 1024 * 1024) /* cgroup.procs of a fork bomb stays far below */

/* ---- small file helpers ---- */

static int cg_write(const char *dir, const char *file, const char *value, struct berr *err) {
        _cleanup_free_ char *p = fs_path_join(dir, file);
        if (!p)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        _cleanup_close_ int fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", p);
        size_t len = strlen(value);
        ssize_t n = write(fd, value, len);
        if (n < 0)
                return berr_sys(err, BERR_INTERNAL, "write %s to %s", value, p);
        if ((size_t) n != len)
                return berr_set(err, BERR_INTERNAL, EIO, "write %s to %s: short write", value, p);
        return 0;
}

static int cg_writef(const char *dir, const char *file, struct berr *err, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int cg_writef(const char *dir, const char *file, struct berr *err, const char *fmt, ...) {
        char buf[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        return cg_write(dir, file, buf, err);
}

static int cg_read(const char *dir, const char *file, char **ret) {
        _cleanup_free_ char *p = fs_path_join(dir, file);
        if (!p)
                return -ENOMEM;
        struct berr e;
        return fs_read_file(AT_FDCWD, p, CGROUP_FILE_MAX, ret, NULL, &e) < 0 ? -e.errnum : 0;
}

static bool cg_has(const char *dir, const char *file) {
        _cleanup_free_ char *p = fs_path_join(dir, file);
        return p && access(p, F_OK) == 0;
}

/* "key value" line in a flat-keyed file such as memory.events. */
static bool keyed_value(const char *text, const char *key, int64_t *ret) {
        size_t klen = strlen(key);
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, key, klen) == 0 && l[klen] == ' ') {
                        *ret = strtoll(l + klen + 1, NULL, 10);
                        return true;
                }
        }
        return false;
}

/* ---- finding the hierarchies ---- */

static char *clean_cgroup_path(const char *in) {
        size_t len = strlen(in);
        char *out = malloc(len + 2);
        if (!out)
                return NULL;
        size_t o = 0;
        out[o++] = '/';
        for (const char *p = in; *p;) {
                while (*p == '/')
                        p++;
                const char *s = p;
                while (*p && *p != '/')
                        p++;
                size_t n = (size_t) (p - s);
                if (n == 0 || (n == 1 && s[0] == '.'))
                        continue;
                if (n == 2 && s[0] == '.' && s[1] == '.') {
                        free(out);
                        errno = EINVAL;
                        return NULL;
                }
                if (o > 1)
                        out[o++] = '/';
                memcpy(out + o, s, n);
                o += n;
        }
        out[o] = '\0';
        return out;
}

static int add_hier(struct rt_cgroup *cg, const char *name, const char *mount_dir) {
        struct rt_cgroup_hier *h = realloc(cg->hier, (cg->n_hier + 1) * sizeof(*h));
        if (!h)
                return -ENOMEM;
        cg->hier = h;
        h = &cg->hier[cg->n_hier];
        h->name = strdup(name);
        h->dir = fs_path_join(mount_dir, cg->path);
        if (!h->name || !h->dir) {
                free(h->name);
                free(h->dir);
                return -ENOMEM;
        }
        cg->n_hier++;
        return 0;
}

static int cmp_hier(const void *a, const void *b) {
        return strcmp(((const struct rt_cgroup_hier *) a)->name, ((const struct rt_cgroup_hier *) b)->name);
}

int rt_cgroup_open(const char *root, const char *cgroups_path, struct rt_cgroup **ret, struct berr *err) {
        struct rt_cgroup *cg = calloc(1, sizeof(*cg));
        if (!cg)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        cg->root = strdup(root);
        cg->path = clean_cgroup_path(cgroups_path);
        if (!cg->root || !cg->path) {
                int e = errno;
                rt_cgroup_free(cg);
                return berr_set(err, BERR_INVALID, e, "cgroupsPath \"%s\": %s", cgroups_path,
                                e == EINVAL ? "must not contain \"..\"" : strerror(e));
        }
        if (STREQ(cg->path, "/")) {
                rt_cgroup_free(cg);
                return berr_set(err, BERR_INVALID, EINVAL, "cgroupsPath \"%s\": the root cgroup", cgroups_path);
        }
        int r = 0;
        if (cg_has(root, "cgroup.controllers")) {
                cg->mode = RT_CGROUP_V2;
                r = add_hier(cg, "", root);
        } else {
                cg->mode = RT_CGROUP_V1;
                _cleanup_closedir_ DIR *d = opendir(root);
                if (!d) {
                        r = berr_sys(err, BERR_UNAVAILABLE, "open cgroup root %s", root);
                        rt_cgroup_free(cg);
                        return r;
                }
                struct dirent *de;
                while (r == 0 && (de = readdir(d))) {
                        if (de->d_name[0] == '.' || de->d_type != DT_DIR) /* symlinks: aliases of combined mounts */
                                continue;
                        _cleanup_free_ char *mdir = fs_path_join(root, de->d_name);
                        if (!mdir)
                                r = -ENOMEM;
                        else if (cg_has(mdir, "cgroup.procs") && !cg_has(mdir, "cgroup.controllers"))
                                r = add_hier(cg, de->d_name, mdir);
                }
                if (r == 0 && cg->n_hier == 0)
                        r = berr_set(err, BERR_UNAVAILABLE, ENOENT, "no cgroup hierarchy mounted under %s", root);
                else if (r == 0)
                        qsort(cg->hier, cg->n_hier, sizeof(*cg->hier), cmp_hier);
        }
        if (r < 0) {
                if (r == -ENOMEM)
                        berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                rt_cgroup_free(cg);
                return r;
        }
        *ret = cg;
        return 0;
}

struct rt_cgroup *rt_cgroup_free(struct rt_cgroup *cg) {
        if (!cg)
                return NULL;
        for (size_t i = 0; i < cg->n_hier; i++) {
                free(cg->hier[i].name);
                free(cg->hier[i].dir);
        }
        free(cg->hier);
        free(cg->root);
        free(cg->path);
        free(cg);
        return NULL;
}

static bool name_has_controller(const char *name, const char *controller) {
        size_t n = strlen(controller);
        for (const char *p = name; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
                if (strncmp(p, controller, n) == 0 && (p[n] == ',' || p[n] == '\0'))
                        return true;
        return false;
}

const char *rt_cgroup_dir_of(const struct rt_cgroup *cg, const char *controller) {
        if (cg->mode == RT_CGROUP_V2)
                return cg->hier[0].dir;
        for (size_t i = 0; i < cg->n_hier; i++)
                if (name_has_controller(cg->hier[i].name, controller))
                        return cg->hier[i].dir;
        return NULL;
}

/* ---- creating ---- */

/* A v1 cpuset cgroup starts with empty cpus and mems and then refuses tasks (ENOSPC):
 * copy them down from the parent at each level, as runc does. */
static int cpuset_fill(const char *mount_dir, const char *path, struct berr *err) {
        _cleanup_free_ char *parent = strdup(mount_dir);
        if (!parent)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (const char *p = path; *p;) {
                while (*p == '/')
                        p++;
                const char *end = strchr(p, '/');
                size_t n = end ? (size_t) (end - p) : strlen(p);
                if (n == 0)
                        break;
                _cleanup_free_ char *dir = NULL;
                if (asprintf(&dir, "%s/%.*s", parent, (int) n, p) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
                for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                        _cleanup_free_ char *cur = NULL, *up = NULL;
                        if (cg_read(dir, files[i], &cur) < 0 || strspn(cur, " \n") != strlen(cur)) /* set already */
                                continue;
                        if (cg_read(parent, files[i], &up) < 0)
                                continue;
                        int r = cg_write(dir, files[i], up, err);
                        if (r < 0)
                                return r;
                }
                free(parent);
                parent = TAKE_PTR(dir);
                p += n;
        }
        return 0;
}

/* v2: every controller available at a level and not yet enabled there is enabled for its
 * children, down to the container's parent, so memory.max and friends exist in the
 * container's dir. Rootless, the levels above the delegated subtree are not ours: what
 * they leave off stays off (v2_controllers_check names it when a limit needs it). */
static int v2_create(const struct rt_cgroup *cg, struct berr *err) {
        _cleanup_free_ char *level = strdup(cg->root);
        if (!level)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (const char *p = cg->path; *p;) {
                while (*p == '/')
                        p++;
                const char *end = strchr(p, '/');
                size_t n = end ? (size_t) (end - p) : strlen(p);
                if (n == 0)
                        break;
                _cleanup_free_ char *avail = NULL, *on = NULL;
                if (cg_read(level, "cgroup.controllers", &avail) == 0) {
                        (void) cg_read(level, "cgroup.subtree_control", &on); /* unreadable: write them all */
                        char line[512] = "";
                        size_t o = 0;
                        for (char *save = NULL, *tok = strtok_r(avail, " \n", &save); tok;
                             tok = strtok_r(NULL, " \n", &save))
                                if (!rt_cgroup_controllers_has(on, tok))
                                        o += (size_t) snprintf(line + o, o < sizeof(line) ? sizeof(line) - o : 0,
                                                               "%s+%s", o ? " " : "", tok);
                        if (o > 0 && o < sizeof(line)) {
                                int r = cg_write(level, "cgroup.subtree_control", line, err);
                                if (r < 0 && !((r == -EACCES || r == -EPERM) && rt_in_user_namespace()))
                                        return r;
                        }
                }
                _cleanup_free_ char *next = NULL;
                if (asprintf(&next, "%s/%.*s", level, (int) n, p) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                if (mkdir(next, 0755) < 0 && errno != EEXIST)
                        return berr_sys(err, BERR_INTERNAL, "mkdir %s", next);
                free(level);
                level = TAKE_PTR(next);
                p += n;
        }
        return 0;
}

int rt_cgroup_create(struct rt_cgroup *cg, const json_t *resources, struct berr *err) {
        int r;
        if (cg->mode == RT_CGROUP_V2)
                r = v2_create(cg, err);
        else {
                r = 0;
                for (size_t i = 0; r == 0 && i < cg->n_hier; i++) {
                        r = fs_mkdir_p(cg->hier[i].dir, 0755, err);
                        if (r == 0 && name_has_controller(cg->hier[i].name, "cpuset")) {
                                _cleanup_free_ char *mdir = fs_path_join(cg->root, cg->hier[i].name);
                                r = mdir ? cpuset_fill(mdir, cg->path, err)
                                         : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        }
                }
        }
        if (r < 0)
                return berr_wrap(err, "create cgroup %s", cg->path);
        return resources ? rt_cgroup_apply(cg, resources, err) : 0;
}

/* ---- resources ---- */

void rt_cgroup_cpus_to_quota(int64_t nano_cpus, int64_t *ret_quota, uint64_t *ret_period) {
        *ret_period = 100000; /* dockerd: 100ms, the kernel's default CFS period */
        *ret_quota = nano_cpus <= 0 ? -1 : nano_cpus * 100000 / 1000000000;
        if (nano_cpus > 0 && *ret_quota < 1000) /* the kernel's minimum quota is 1ms */
                *ret_quota = 1000;
}

uint64_t rt_cgroup_shares_to_weight(uint64_t shares) {
        if (shares == 0)
                return 0;
        if (shares < 2)
                shares = 2;
        if (shares > 262144)
                shares = 262144;
        return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t rt_cgroup_blkio_to_io_weight(uint64_t w) {
        if (w == 0)
                return 0;
        if (w < 10)
                w = 10;
        if (w > 1000)
                w = 1000;
        return 1 + (w - 10) * 9999 / 990;
}

/* An integer member, 1 if absent (or null). */
static int get_i64(const json_t *o, const char *key, int64_t *ret, struct berr *err) {
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v))
                return 1;
        if (!json_is_integer(v))
                return berr_set(err, BERR_INVALID, EINVAL, "linux.resources: %s: not an integer", key);
        *ret = json_integer_value(v);
        return 0;
}

static int write_i64_if(const char *dir, const json_t *o, const char *key, const char *file, bool skip_zero,
                        bool minus_one_is_max, struct berr *err) {
        int64_t v;
        int r = get_i64(o, key, &v, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (skip_zero && v == 0)
                return 0;
        if (!dir)
                return berr_set(err, BERR_UNAVAILABLE, ENOENT, "%s: controller not mounted", file);
        if (v < 0 && minus_one_is_max) /* no limit where the controller is absent: nothing to write */
                return cg_has(dir, file) ? cg_write(dir, file, "max", err) : 0;
        return cg_writef(dir, file, err, "%" PRId64, v);
}

static int write_str_if(const char *dir, const json_t *o, const char *key, const char *file, struct berr *err) {
        const char *s = json_string_value(json_object_get(o, key));
        if (!s || !s[0])
                return 0;
        if (!dir)
                return berr_set(err, BERR_UNAVAILABLE, ENOENT, "%s: controller not mounted", file);
        return cg_write(dir, file, s, err);
}

static int v1_memory(const struct rt_cgroup *cg, const json_t *mem, struct berr *err) {
        const char *dir = rt_cgroup_dir_of(cg, "memory");
        int64_t limit = 0, swap = 0;
        bool has_limit = get_i64(mem, "limit", &limit, err) == 0, has_swap = get_i64(mem, "swap", &swap, err) == 0;
        if ((has_limit || has_swap) && !dir)
                return berr_set(err, BERR_UNAVAILABLE, ENOENT, "memory limit: the memory controller is not mounted");
        bool memsw = dir && cg_has(dir, "memory.memsw.limit_in_bytes");
        int r = 0;
        if (has_limit && limit != 0)
                r = cg_writef(dir, "memory.limit_in_bytes", err, "%" PRId64, limit);
        if (r == 0 && has_swap && swap != 0 && memsw)
                r = cg_writef(dir, "memory.memsw.limit_in_bytes", err, "%" PRId64, swap);
        if (r < 0 && has_swap && memsw) {
                /* Raising both: memsw must be raised first (it may never be below the limit). */
                r = cg_writef(dir, "memory.memsw.limit_in_bytes", err, "%" PRId64, swap);
                if (r == 0 && has_limit && limit != 0)
                        r = cg_writef(dir, "memory.limit_in_bytes", err, "%" PRId64, limit);
        }
        if (r == 0)
                r = write_i64_if(dir, mem, "reservation", "memory.soft_limit_in_bytes", true, false, err);
        int64_t swappiness;
        if (r == 0 && get_i64(mem, "swappiness", &swappiness, err) == 0 && swappiness >= 0 && swappiness <= 100)
                r = dir ? cg_writef(dir, "memory.swappiness", err, "%" PRId64, swappiness) : 0;
        if (r == 0 && json_is_true(json_object_get(mem, "disableOOMKiller")) && dir)
                r = cg_write(dir, "memory.oom_control", "1", err);
        return r;
}

static int v1_cpu(const struct rt_cgroup *cg, const json_t *cpu, struct berr *err) {
        const char *dir = rt_cgroup_dir_of(cg, "cpu");
        int r = write_i64_if(dir, cpu, "shares", "cpu.shares", true, false, err);
        if (r == 0)
                r = write_i64_if(dir, cpu, "period", "cpu.cfs_period_us", true, false, err);
        if (r == 0)
                r = write_i64_if(dir, cpu, "quota", "cpu.cfs_quota_us", true, false, err);
        if (r == 0)
                r = write_i64_if(dir, cpu, "realtimePeriod", "cpu.rt_period_us", true, false, err);
        if (r == 0)
                r = write_i64_if(dir, cpu, "realtimeRuntime", "cpu.rt_runtime_us", true, false, err);
        const char *cpuset = rt_cgroup_dir_of(cg, "cpuset");
        if (r == 0)
                r = write_str_if(cpuset, cpu, "cpus", "cpuset.cpus", err);
        if (r == 0)
                r = write_str_if(cpuset, cpu, "mems", "cpuset.mems", err);
        return r;
}

static int v1_blkio(const struct rt_cgroup *cg, const json_t *bio, struct berr *err) {
        const char *dir = rt_cgroup_dir_of(cg, "blkio");
        int64_t w;
        int r = get_i64(bio, "weight", &w, err);
        if (r < 0)
                return r;
        if (r == 0 && w != 0) {
                if (!dir)
                        return berr_set(err, BERR_UNAVAILABLE, ENOENT, "blkio weight: blkio controller not mounted");
                const char *file = cg_has(dir, "blkio.weight") ? "blkio.weight" : "blkio.bfq.weight";
                if (!cg_has(dir, file))
                        return berr_set(err, BERR_UNAVAILABLE, ENOENT,
                                        "blkio weight: neither CFQ nor BFQ weights are supported by this kernel");
                r = cg_writef(dir, file, err, "%" PRId64, w);
                if (r < 0)
                        return r;
        }
        static const struct {
                const char *key, *file;
        } throttle[] = {
                { "throttleReadBpsDevice", "blkio.throttle.read_bps_device" },
                { "throttleWriteBpsDevice", "blkio.throttle.write_bps_device" },
                { "throttleReadIOPSDevice", "blkio.throttle.read_iops_device" },
                { "throttleWriteIOPSDevice", "blkio.throttle.write_iops_device" },
        };
        for (size_t t = 0; t < ELEMENTSOF(throttle); t++) {
                size_t i;
                json_t *e;
                json_array_foreach(json_object_get(bio, throttle[t].key), i, e) {
                        if (!dir)
                                return berr_set(err, BERR_UNAVAILABLE, ENOENT, "%s: blkio not mounted", throttle[t].key);
                        r = cg_writef(dir, throttle[t].file, err, "%lld:%lld %lld",
                                      (long long) json_integer_value(json_object_get(e, "major")),
                                      (long long) json_integer_value(json_object_get(e, "minor")),
                                      (long long) json_integer_value(json_object_get(e, "rate")));
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* The rules go through one descriptor per file, opened at its first rule: the kernel
 * takes each write(2) as one rule, and a start wrote ~15 (an open, a write and a close of
 * a cgroup file each). */
struct v1_dev_files {
        const char *dir;
        struct berr *err;
        int fd[2]; /* devices.deny, devices.allow; -1 until needed */
};

static int v1_device_rule(bool allow, const char *line, void *userdata) {
        struct v1_dev_files *f = userdata;
        const char *file = allow ? "devices.allow" : "devices.deny";
        if (f->fd[allow] < 0) {
                _cleanup_free_ char *p = fs_path_join(f->dir, file);
                if (!p)
                        return berr_set(f->err, BERR_INTERNAL, ENOMEM, "out of memory");
                f->fd[allow] = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
                if (f->fd[allow] < 0)
                        return berr_sys(f->err, BERR_INTERNAL, "open %s", p);
        }
        size_t len = strlen(line);
        ssize_t n = write(f->fd[allow], line, len);
        if (n < 0)
                return berr_sys(f->err, BERR_INTERNAL, "write %s to %s/%s", line, f->dir, file);
        if ((size_t) n != len)
                return berr_set(f->err, BERR_INTERNAL, EIO, "write %s to %s/%s: short write", line, f->dir, file);
        return 0;
}

static int v1_hugetlb(const struct rt_cgroup *cg, const json_t *list, struct berr *err) {
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e) {
                const char *size = json_string_value(json_object_get(e, "pageSize"));
                const char *dir = rt_cgroup_dir_of(cg, "hugetlb");
                if (!size || !dir)
                        return berr_set(err, BERR_INVALID, EINVAL, "hugepageLimits: bad entry or hugetlb not mounted");
                char file[64];
                snprintf(file, sizeof(file), "hugetlb.%s.limit_in_bytes", size);
                int r = cg_writef(dir, file, err, "%lld",
                                  (long long) json_integer_value(json_object_get(e, "limit")));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int v1_apply(const struct rt_cgroup *cg, const json_t *res, struct berr *err) {
        json_t *unified = json_object_get(res, "unified");
        if (unified && json_object_size(unified) > 0)
                return berr_set(err, BERR_INVALID, EINVAL, "linux.resources.unified needs cgroup v2");
        int r = v1_memory(cg, json_object_get(res, "memory"), err);
        if (r == 0)
                r = v1_cpu(cg, json_object_get(res, "cpu"), err);
        if (r == 0)
                r = write_i64_if(rt_cgroup_dir_of(cg, "pids"), json_object_get(res, "pids"), "limit", "pids.max", true,
                                 true, err);
        if (r == 0)
                r = v1_blkio(cg, json_object_get(res, "blockIO"), err);
        if (r == 0)
                r = v1_hugetlb(cg, json_object_get(res, "hugepageLimits"), err);
        const char *devdir = rt_cgroup_dir_of(cg, "devices");
        if (r == 0 && devdir) {
                struct v1_dev_files f = { .dir = devdir, .err = err, .fd = { -1, -1 } };
                r = rt_devices_cgroup_rules(res, v1_device_rule, &f, err);
                for (int i = 0; i < 2; i++)
                        if (f.fd[i] >= 0)
                                close(f.fd[i]);
        }
        return r;
}

static int dev_rule_apply(bool allow, const char *line, void *userdata) {
        struct rt_dev_rules *rules = ((void **) userdata)[0];
        struct berr *err = ((void **) userdata)[1];
        return rt_dev_rules_apply(rules, allow, line, err);
}

/* v2 has no devices.allow: the same rules, as the v1 kernel would hold them, become an
 * eBPF program on the container's cgroup. 1: no program runs there (a kernel or a user
 * namespace without device programs, or a fake tree in tests): the caller fails closed. */
static int v2_devices(const char *dir, const json_t *res, struct berr *err) {
        if (!json_is_array(json_object_get(res, "devices")))
                return 0; /* docker update: the rules stay as they are */
        struct statfs sf;
        if (statfs(dir, &sf) < 0)
                return berr_sys(err, BERR_INTERNAL, "statfs %s", dir);
        if (sf.f_type != CGROUP2_SUPER_MAGIC)
                return 1;
        struct rt_dev_rules rules;
        rt_dev_rules_init(&rules);
        void *ud[2] = { &rules, err };
        _cleanup_free_ struct bpf_insn *prog = NULL;
        size_t n = 0;
        int r = rt_devices_cgroup_rules(res, dev_rule_apply, ud, err);
        if (r == 0)
                r = rt_dev_rules_program(&rules, &prog, &n, err);
        rt_dev_rules_done(&rules);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", dir);
        r = rt_bpf_devices_attach(fd, prog, n, err);
        if (r == -EOPNOTSUPP) {
                log_debug("cgroup v2 device rules: %s; containers lose CAP_MKNOD instead", err->msg);
                return 1;
        }
        return r < 0 ? berr_wrap(err, "device rules") : 0;
}

static bool positive(const json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);
        return (json_is_integer(v) && json_integer_value(v) > 0) || (json_is_string(v) && json_string_length(v) > 0);
}

/* A limit whose controller the parent did not enable for the container's cgroup (rootless:
 * one the user's subtree was not given) is refused by name, before anything is written. */
static int v2_controllers_check(const char *dir, const json_t *res, struct berr *err) {
        _cleanup_free_ char *avail = NULL;
        if (cg_read(dir, "cgroup.controllers", &avail) < 0)
                return 0; /* a fake tree without it: the writes below tell */
        const json_t *mem = json_object_get(res, "memory"), *cpu = json_object_get(res, "cpu");
        const struct {
                const char *controller, *limit;
                bool wanted;
        } needs[] = {
                { "memory", "memory limits need", positive(mem, "limit") || positive(mem, "swap") || positive(mem, "reservation") },
                { "cpu", "cpu shares and quotas need", positive(cpu, "shares") || positive(cpu, "quota") },
                { "cpuset", "cpu and memory node sets need", positive(cpu, "cpus") || positive(cpu, "mems") },
                { "pids", "a pids limit needs", positive(json_object_get(res, "pids"), "limit") },
                { "io", "a blkio weight needs", positive(json_object_get(res, "blockIO"), "weight") },
        };
        avail[strcspn(avail, "\n")] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(needs); i++)
                if (needs[i].wanted && !rt_cgroup_controllers_has(avail, needs[i].controller))
                        return berr_set(err, BERR_INVALID, ENOTSUP, "%s the %s cgroup controller, which is not %s (%s "
                                        "has: %s)", needs[i].limit, needs[i].controller,
                                        rt_in_user_namespace() ? "delegated to the user" : "enabled", dir,
                                        avail[0] ? avail : "none");
        return 0;
}

static int v2_apply(const struct rt_cgroup *cg, const json_t *res, struct berr *err) {
        const char *dir = cg->hier[0].dir;
        int rc = v2_controllers_check(dir, res, err);
        if (rc < 0)
                return rc;
        json_t *mem = json_object_get(res, "memory"), *cpu = json_object_get(res, "cpu");
        int64_t limit = 0, swap = 0, v;
        bool has_limit = get_i64(mem, "limit", &limit, err) == 0 && limit != 0;
        bool has_swap = get_i64(mem, "swap", &swap, err) == 0 && swap != 0;
        int r = 0;
        if (has_limit && limit < 0) /* no limit where the controller is absent: nothing to write */
                r = cg_has(dir, "memory.max") ? cg_write(dir, "memory.max", "max", err) : 0;
        else if (has_limit)
                r = cg_writef(dir, "memory.max", err, "%" PRId64, limit);
        /* OCI's swap is memory+swap; v2's swap.max is the swap alone. */
        if (r == 0 && has_swap && cg_has(dir, "memory.swap.max")) {
                if (swap < 0)
                        r = cg_write(dir, "memory.swap.max", "max", err);
                else if (has_limit && limit > 0 && swap >= limit)
                        r = cg_writef(dir, "memory.swap.max", err, "%" PRId64, swap - limit);
                else
                        r = berr_set(err, BERR_INVALID, EINVAL, "memory+swap limit must be at least the memory limit");
        }
        if (r == 0)
                r = write_i64_if(dir, mem, "reservation", "memory.low", true, false, err);
        if (r == 0 && get_i64(cpu, "shares", &v, err) == 0 && v > 0)
                r = cg_writef(dir, "cpu.weight", err, "%" PRIu64, rt_cgroup_shares_to_weight((uint64_t) v));
        int64_t quota = 0, period = 0;
        bool has_quota = get_i64(cpu, "quota", &quota, err) == 0 && quota != 0;
        bool has_period = get_i64(cpu, "period", &period, err) == 0 && period != 0;
        if (r == 0 && (has_quota || has_period)) {
                char q[32] = "max";
                if (quota > 0)
                        snprintf(q, sizeof(q), "%" PRId64, quota);
                r = cg_writef(dir, "cpu.max", err, "%s %" PRId64, q, has_period ? period : 100000);
        }
        if (r == 0)
                r = write_str_if(dir, cpu, "cpus", "cpuset.cpus", err);
        if (r == 0)
                r = write_str_if(dir, cpu, "mems", "cpuset.mems", err);
        if (r == 0)
                r = write_i64_if(dir, json_object_get(res, "pids"), "limit", "pids.max", true, true, err);
        if (r == 0 && get_i64(json_object_get(res, "blockIO"), "weight", &v, err) == 0 && v > 0) {
                if (cg_has(dir, "io.bfq.weight"))
                        r = cg_writef(dir, "io.bfq.weight", err, "%" PRId64, v);
                else
                        r = cg_writef(dir, "io.weight", err, "default %" PRIu64,
                                      rt_cgroup_blkio_to_io_weight((uint64_t) v));
        }
        const char *key;
        json_t *val;
        json_object_foreach(json_object_get(res, "unified"), key, val) {
                if (r < 0)
                        break;
                if (strchr(key, '/') || !json_is_string(val))
                        r = berr_set(err, BERR_INVALID, EINVAL, "linux.resources.unified: bad entry \"%s\"", key);
                else
                        r = cg_write(dir, key, json_string_value(val), err);
        }
        if (r == 0)
                r = v2_devices(dir, res, err);
        return r;
}

int rt_cgroup_apply(const struct rt_cgroup *cg, const json_t *resources, struct berr *err) {
        if (!resources)
                return 0;
        int r = cg->mode == RT_CGROUP_V2 ? v2_apply(cg, resources, err) : v1_apply(cg, resources, err);
        return r < 0 ? berr_wrap(err, "apply cgroup resources") : r;
}

int rt_cgroup_update(const char *root, const char *cgroups_path, const json_t *resources, struct berr *err) {
        struct rt_cgroup *cg = NULL;
        int r = rt_cgroup_open(root, cgroups_path, &cg, err);
        if (r < 0)
                return r;
        r = rt_cgroup_apply(cg, resources, err);
        rt_cgroup_free(cg);
        return r < 0 ? r : 0;
}

/* ---- processes ---- */

int rt_cgroup_add_pid(const struct rt_cgroup *cg, pid_t pid, struct berr *err) {
        for (size_t i = 0; i < cg->n_hier; i++) {
                int r = cg_writef(cg->hier[i].dir, "cgroup.procs", err, "%d", (int) pid);
                if (r < 0)
                        return berr_wrap(err, "join cgroup %s", cg->path);
        }
        return 0;
}

static const char *procs_dir(const struct rt_cgroup *cg) {
        const char *d = cg->mode == RT_CGROUP_V2 ? cg->hier[0].dir : rt_cgroup_dir_of(cg, "pids");
        if (!d)
                d = rt_cgroup_dir_of(cg, "memory");
        return d ? d : cg->hier[0].dir;
}

int rt_cgroup_pids(const struct rt_cgroup *cg, pid_t **ret, size_t *ret_n, struct berr *err) {
        _cleanup_free_ char *text = NULL;
        int r = cg_read(procs_dir(cg), "cgroup.procs", &text);
        if (r < 0) {
                errno = -r;
                return berr_sys(err, r == -ENOENT ? BERR_NOT_FOUND : BERR_INTERNAL, "read %s/cgroup.procs",
                                procs_dir(cg));
        }
        size_t n = 0, cap = 16;
        _cleanup_free_ pid_t *pids = malloc(cap * sizeof(*pids));
        if (!pids)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (char *save = NULL, *tok = strtok_r(text, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
                if (n == cap) {
                        pid_t *np = realloc(pids, (cap *= 2) * sizeof(*pids));
                        if (!np)
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        pids = np;
                }
                pids[n++] = (pid_t) atoi(tok);
        }
        *ret = TAKE_PTR(pids);
        *ret_n = n;
        return 0;
}

bool rt_cgroup_oom_killed(const struct rt_cgroup *cg) {
        _cleanup_free_ char *text = NULL;
        int64_t v = 0;
        if (cg->mode == RT_CGROUP_V2)
                return cg_read(cg->hier[0].dir, "memory.events", &text) == 0 && keyed_value(text, "oom_kill", &v) &&
                       v > 0;
        const char *dir = rt_cgroup_dir_of(cg, "memory");
        if (!dir || cg_read(dir, "memory.oom_control", &text) < 0)
                return false;
        if (keyed_value(text, "oom_kill", &v)) /* since 4.13 */
                return v > 0;
        return keyed_value(text, "under_oom", &v) && v > 0;
}

static void sleep_ms(int ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* v1: freeze first so nothing forks between reading cgroup.procs and the kills. */
static void v1_freeze(const struct rt_cgroup *cg, bool freeze) {
        const char *dir = rt_cgroup_dir_of(cg, "freezer");
        struct berr e;
        if (!dir || cg_write(dir, "freezer.state", freeze ? "FROZEN" : "THAWED", &e) < 0)
                return; /* best effort: the kill loop below copes with forks too */
        for (int i = 0; freeze && i < 100; i++) {
                _cleanup_free_ char *state = NULL;
                if (cg_read(dir, "freezer.state", &state) < 0 || strncmp(state, "FROZEN", 6) == 0)
                        break;
                sleep_ms(2);
        }
}

int rt_cgroup_freeze(const struct rt_cgroup *cg, bool freeze, struct berr *err) {
        const char *dir = cg->mode == RT_CGROUP_V2 ? cg->hier[0].dir : rt_cgroup_dir_of(cg, "freezer");
        if (!dir)
                return berr_set(err, BERR_UNAVAILABLE, ENOTSUP, "no freezer cgroup controller: pause is not possible");
        int r = cg->mode == RT_CGROUP_V2 ? cg_write(dir, "cgroup.freeze", freeze ? "1" : "0", err)
                                         : cg_write(dir, "freezer.state", freeze ? "FROZEN" : "THAWED", err);
        if (r < 0)
                return r;
        /* Wait until the kernel says so: pause returns with every task stopped. */
        for (int waited = 0; waited < 5000; waited += 2) {
                _cleanup_free_ char *text = NULL;
                int64_t v = -1;
                const char *file = cg->mode == RT_CGROUP_V2 ? "cgroup.events" : "freezer.state";
                int rr = cg_read(dir, file, &text);
                if (rr < 0)
                        return berr_set(err, BERR_INTERNAL, -rr, "read %s/%s: %s", dir, file, strerror(-rr));
                if (cg->mode == RT_CGROUP_V2 ? keyed_value(text, "frozen", &v) && v == (freeze ? 1 : 0)
                                             : strncmp(text, freeze ? "FROZEN" : "THAWED", 6) == 0)
                        return 0;
                sleep_ms(2);
        }
        if (freeze) { /* half-frozen helps nobody: back to running */
                struct berr e2;
                (void) cg_write(dir, cg->mode == RT_CGROUP_V2 ? "cgroup.freeze" : "freezer.state",
                                cg->mode == RT_CGROUP_V2 ? "0" : "THAWED", &e2);
        }
        return berr_set(err, BERR_INTERNAL, ETIMEDOUT, "cgroup %s did not %s in 5 s", cg->path, freeze ? "freeze" : "thaw");
}

int rt_cgroup_kill_all(const struct rt_cgroup *cg, int timeout_ms, struct berr *err) {
        if (cg->mode == RT_CGROUP_V2 && cg_has(cg->hier[0].dir, "cgroup.kill")) {
                int r = cg_write(cg->hier[0].dir, "cgroup.kill", "1", err);
                if (r < 0)
                        return r;
        }
        for (int waited = 0;; waited += 5) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0;
                int r = rt_cgroup_pids(cg, &pids, &n, err);
                if (r == -ENOENT)
                        return 0;
                if (r < 0)
                        return r;
                if (n == 0)
                        return 0;
                if (waited >= timeout_ms)
                        return berr_set(err, BERR_INTERNAL, EBUSY, "cgroup %s: %zu processes left after SIGKILL",
                                        cg->path, n);
                if (cg->mode == RT_CGROUP_V1)
                        v1_freeze(cg, true);
                for (size_t i = 0; i < n; i++)
                        if (pids[i] > 0)
                                (void) kill(pids[i], SIGKILL); /* ESRCH: already gone */
                if (cg->mode == RT_CGROUP_V1)
                        v1_freeze(cg, false);
                sleep_ms(5);
        }
}

int rt_cgroup_remove(const struct rt_cgroup *cg, struct berr *err) {
        for (size_t i = 0; i < cg->n_hier; i++) {
                for (int tries = 0;; tries++) {
                        if (rmdir(cg->hier[i].dir) == 0 || errno == ENOENT)
                                break;
                        if (errno != EBUSY || tries >= 200)
                                return berr_sys(err, BERR_INTERNAL, "remove cgroup %s", cg->hier[i].dir);
                        sleep_ms(5); /* exiting tasks leave the cgroup a moment after they die */
                }
        }
        return 0;
}
