/* container.c - the container table: records on disk, lookup by ID/prefix/name, names,
 * create (merging the image's config), and the JSON that ps and inspect show. */
#include "container.h"
#include "exec.h"
#include "volume/volume.h"
#include "network/network.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/id.h"
#include "common/json.h"
#include "common/log.h"
#include "daemon.h"
#include "events.h"
#include "image/image_store.h"
#include "common/tree.h"
#include "logdrv.h"
#include "reload.h"
#include "container_commit.h"
#include "common/clock.h"
#include "shim/msg.h"
#include "userns.h"

void ctr_now(char out[40]) {
        clock_now_rfc3339(out);
}

char *ctr_data_dir(struct daemon *d, const char *id) {
        char *p;
        return asprintf(&p, "%s/containers/%s", d->cfg.data_root, id) < 0 ? NULL : p;
}

char *ctr_bundle_dir(struct daemon *d, const char *id) {
        char *p;
        return asprintf(&p, "%s/containers/%s", d->cfg.exec_root, id) < 0 ? NULL : p;
}

char *ctr_log_path(struct daemon *d, const char *id) {
        char *p;
        return asprintf(&p, "%s/containers/%s/%s-json.log", d->cfg.data_root, id, id) < 0 ? NULL : p;
}

bool ctr_has_tty(struct container *c) {
        return c->cc->cfg.tty;
}

static struct container *ctr_new(void) {
        struct container *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        pthread_mutex_init(&c->lock, NULL);
        pthread_mutex_init(&c->save_lock, NULL);
        pthread_cond_init(&c->cond, NULL);
        c->watch_fd = -1;
        c->networks = json_object();
        c->refs = 1; /* the table's */
        return c;
}

static void free_retired(struct ctr_config **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                ctr_config_free(v[i]);
        free(v);
}

void ctr_set_error(struct container *c, const char *msg) {
        free(c->error);
        c->error = msg && msg[0] ? strndup(msg, BERR_MSG_MAX - 1) : NULL; /* ENOMEM: no error shown */
}

static void ctr_free(struct container *c) {
        if (!c)
                return;
        ctr_config_free(c->cc);
        free_retired(c->cc_retired, c->n_cc_retired);
        json_decref(c->mounts_from);
        json_decref(c->args);
        json_decref(c->health_log);
        json_decref(c->networks);
        json_decref(c->ports);
        free(c->path);
        free(c->list_text);
        free(c->exec_process);
        free(c->error);
        pthread_mutex_destroy(&c->lock);
        pthread_mutex_destroy(&c->save_lock);
        pthread_cond_destroy(&c->cond);
        free(c);
}

void ctr_unref(struct daemon *d, struct container *c) {
        if (!c)
                return;
        pthread_mutex_lock(&d->ctr_lock);
        bool last = --c->refs == 0;
        pthread_mutex_unlock(&d->ctr_lock);
        if (last)
                ctr_free(c);
}

/* ---- configuration replaced by docker update (copy-on-write) ---- */

int ctr_config_replace(struct container *c, struct ctr_config *cc) {
        /* Keeping the old config is what makes the swap safe: without room for it, nothing changes. */
        struct ctr_config **v = realloc(c->cc_retired, (c->n_cc_retired + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        c->cc_retired = v;
        v[c->n_cc_retired++] = c->cc;
        __atomic_store_n(&c->cc, cc, __ATOMIC_RELEASE);
        return 0;
}

void ctr_config_revert(struct container *c) {
        if (c->n_cc_retired == 0)
                return;
        struct ctr_config *prev = c->cc_retired[c->n_cc_retired - 1];
        c->cc_retired[c->n_cc_retired - 1] = c->cc; /* stays retired: readers may hold it */
        __atomic_store_n(&c->cc, prev, __ATOMIC_RELEASE);
}

void ctr_config_reclaim(struct daemon *d, struct container *c) {
        struct ctr_config **v = NULL;
        size_t n = 0;
        pthread_mutex_lock(&d->ctr_lock);
        /* Every thread that reads c->cc holds a reference (or the store lock, held here):
         * with only the table's and ours, no one can still hold a retired config. */
        if (c->refs <= 2) {
                pthread_mutex_lock(&c->lock);
                v = c->cc_retired;
                n = c->n_cc_retired;
                c->cc_retired = NULL;
                c->n_cc_retired = 0;
                pthread_mutex_unlock(&c->lock);
        }
        pthread_mutex_unlock(&d->ctr_lock);
        free_retired(v, n);
}

/* ---- persistence ---- */

static json_t *state_json(struct container *c) {
        enum ctr_state st = ctr_state_shown(c);
        bool running = ctr_is_running(c);
        return json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:s, s:s, s:s}", "Status",
                         ctr_state_name(st), "Running", running, "Paused", st == CTR_PAUSED, "Restarting",
                         st == CTR_RESTARTING, "OOMKilled", c->oom_killed, "Dead", st == CTR_DEAD,
                         "RemovalInProgress", 0, "Pid", running ? (int) c->pid : 0, "ExitCode", c->exit_code, "Error",
                         c->error ?: "", "StartedAt", c->started_at[0] ? c->started_at : "0001-01-01T00:00:00Z",
                         "FinishedAt", c->finished_at[0] ? c->finished_at : "0001-01-01T00:00:00Z");
}

/* Caller holds c->lock. */
int ctr_save_prepare(struct daemon *d, struct container *c, struct ctr_save_job *job, struct berr *err) {
        memset(job, 0, sizeof(*job));
        c->saves++; /* what ps shows may have changed (container_json.c) */
        _cleanup_json_ json_t *hcj = ctr_config_encode_host_config(c->cc);
        _cleanup_json_ json_t *rec = json_pack("{s:s, s:s, s:s, s:O, s:o, s:o, s:s, s:s, s:i, s:s, s:b}", "ID", c->id,
                                               "Created", c->created, "Path", c->path ? c->path : "", "Args",
                                               c->args, "Config", ctr_config_encode_config(c->cc), "State",
                                               state_json(c), "Image",
                                               c->image_id, "Name", c->name, "RestartCount", c->restart_count,
                                               "Driver", d->storage_driver, "HasBeenManuallyStopped",
                                               c->stop_requested);
        if (rec)
                json_object_set_new(rec, "NetworkSettings", json_pack("{s:O, s:O}", "Networks", c->networks, "Ports",
                                                                      c->ports ? c->ports : json_null()));
        if (rec && c->mounts_from)
                json_object_set(rec, "MountPointsFrom", c->mounts_from);
        if (rec && c->commit_pause)
                json_object_set_new(rec, "BerthCommitPause", json_true());
        if (!rec || !hcj)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "encode container record");
        job->text = json_dumps(rec, JSON_COMPACT);
        job->hc = json_dumps(hcj, JSON_COMPACT);
        if (!job->text || !job->hc) {
                job->text = mfree(job->text);
                job->hc = mfree(job->hc);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "encode container record");
        }
        job->seq = __atomic_add_fetch(&c->save_seq, 1, __ATOMIC_SEQ_CST);
        return 0;
}

/* Caller holds save_lock. */
static int save_write(struct daemon *d, struct container *c, const char *text, const char *hc, bool state_change,
                      struct berr *err) {
        _cleanup_free_ char *dir = ctr_data_dir(d, c->id);
        if (!dir)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        /* What this process wrote and fsync'd before, unchanged, is on disk already: each
         * fs_write_atomic costs two fsyncs, and a start saved the same hostconfig.json
         * twice (and, with --network none, the same record before and after the network). */
        char hc_hash[33], cfg_hash[33];
        hash128_hex(hc, strlen(hc), hc_hash);
        hash128_hex(text, strlen(text), cfg_hash);
        bool hc_same = strcmp(hc_hash, c->saved_hc_hash) == 0, cfg_same = strcmp(cfg_hash, c->saved_cfg_hash) == 0;
        if (hc_same && cfg_same)
                return 0;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", dir);
        int r = 0;
        /* A record this process wrote before (durably) gets its new version of a state
         * change with one fsync instead of two (fs_write_atomic_update): a state (running,
         * exited) read back after a crash of the machine is the old one or the new one, and
         * start-up recovery handles either. A rename, an update or a connect keeps both. */
        if (!hc_same) {
                bool had = state_change && c->saved_hc_hash[0] != '\0';
                c->saved_hc_hash[0] = '\0';
                r = (had ? fs_write_atomic_update : fs_write_atomic)(dfd, "hostconfig.json", hc, strlen(hc), 0600, err);
                if (r == 0)
                        memcpy(c->saved_hc_hash, hc_hash, sizeof(hc_hash));
        }
        if (r == 0 && !cfg_same) {
                bool had = state_change && c->saved_cfg_hash[0] != '\0';
                c->saved_cfg_hash[0] = '\0';
                r = (had ? fs_write_atomic_update : fs_write_atomic)(dfd, "config.json", text, strlen(text), 0600, err);
                if (r == 0)
                        memcpy(c->saved_cfg_hash, cfg_hash, sizeof(cfg_hash));
        }
        return r;
}

int ctr_save_finish(struct daemon *d, struct container *c, struct ctr_save_job *job, struct berr *err) {
        int r = 0;
        pthread_mutex_lock(&c->save_lock);
        /* A newer text was made meanwhile: its maker writes it (after us, in order). */
        if (job->text && job->seq == __atomic_load_n(&c->save_seq, __ATOMIC_SEQ_CST))
                r = save_write(d, c, job->text, job->hc, job->state_change, err);
        pthread_mutex_unlock(&c->save_lock);
        job->text = mfree(job->text);
        job->hc = mfree(job->hc);
        return r;
}

void ctr_save_forget(struct container *c) {
        __atomic_add_fetch(&c->save_seq, 1, __ATOMIC_SEQ_CST);
        pthread_mutex_lock(&c->save_lock); /* a write on its way ends first */
        c->saved_cfg_hash[0] = c->saved_hc_hash[0] = '\0'; /* the record may be gone: write it next time */
        pthread_mutex_unlock(&c->save_lock);
}

static int save_now(struct daemon *d, struct container *c, bool state_change, struct berr *err) {
        struct ctr_save_job job;
        int r = ctr_save_prepare(d, c, &job, err);
        job.state_change = state_change;
        if (r == 0)
                r = ctr_save_finish(d, c, &job, err);
        return r;
}

/* Caller holds c->lock. */
int ctr_save(struct daemon *d, struct container *c, struct berr *err) {
        return save_now(d, c, false, err);
}

int ctr_save_state(struct daemon *d, struct container *c, struct berr *err) {
        return save_now(d, c, true, err);
}

/* The daemon's defaults for what a create (or an older record) left empty, as dockerd
 * fills them in at create. LogConfig.Type "" is the default driver already (decoder). */
static int config_defaults(struct ctr_config *cc, struct berr *err) {
        if (!*cc->hc.runtime) {
                free(cc->hc.runtime);
                if (!(cc->hc.runtime = strdup(CTR_DEFAULT_RUNTIME)))
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        return 0;
}

static int load_one(struct daemon *d, const char *id, struct container **ret, struct berr *err) {
        if (strlen(id) >= sizeof(((struct container *) NULL)->id))
                return berr_set(err, BERR_INVALID, EINVAL, "%s is not a container ID", id);
        _cleanup_free_ char *dir = ctr_data_dir(d, id);
        _cleanup_close_ int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        if (dfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open container %s", id);
        _cleanup_free_ char *text = NULL, *hc = NULL;
        size_t len, hlen;
        _cleanup_json_ json_t *rec = NULL, *hcj = NULL;
        int r;
        if ((r = fs_read_file(dfd, "config.json", 16 << 20, &text, &len, err)) < 0 ||
            (r = json_parse_object(text, len, &rec, err)) < 0 ||
            (r = fs_read_file(dfd, "hostconfig.json", 16 << 20, &hc, &hlen, err)) < 0 ||
            (r = json_parse_object(hc, hlen, &hcj, err)) < 0)
                return r;
        struct container *c = ctr_new();
        if (!c)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        json_t *st = json_object_get(rec, "State");
        memcpy(c->id, id, strlen(id) + 1); /* fits: checked on entry */
        snprintf(c->name, sizeof(c->name), "%s", json_string_value(json_object_get(rec, "Name")) ?: "");
        snprintf(c->image_id, sizeof(c->image_id), "%s", json_string_value(json_object_get(rec, "Image")) ?: "");
        snprintf(c->created, sizeof(c->created), "%s", json_string_value(json_object_get(rec, "Created")) ?: "");
        json_t *rec_cfg = json_object_get(rec, "Config");
        if (!json_is_object(rec_cfg)) {
                ctr_free(c);
                return berr_set(err, BERR_INTERNAL, EINVAL, "container %s: record has no Config", id);
        }
        /* Records of an older berth hold the client's HostConfig as sent: the decoder
         * takes both, and the daemon's defaults fill what that left empty. */
        if ((r = ctr_config_decode(rec_cfg, hcj, NULL, &c->cc, err)) < 0 || (r = config_defaults(c->cc, err)) < 0) {
                ctr_free(c);
                return r;
        }
        json_t *from = json_object_get(rec, "MountPointsFrom");
        if (json_is_array(from) && !(c->mounts_from = ctr_mounts_from_load(from))) {
                ctr_free(c);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        c->path = strdup(json_string_value(json_object_get(rec, "Path")) ?: "");
        c->args = json_incref(json_object_get(rec, "Args"));
        if (!c->args)
                c->args = json_array();
        json_t *nets = json_object_get(json_object_get(rec, "NetworkSettings"), "Networks");
        if (json_is_object(nets)) {
                json_decref(c->networks);
                c->networks = json_incref(nets);
                json_share_scalars(c->networks);
        }
        json_t *ports = json_object_get(json_object_get(rec, "NetworkSettings"), "Ports");
        if (json_is_object(ports))
                c->ports = json_incref(ports);
        c->restart_count = (int) json_integer_value(json_object_get(rec, "RestartCount"));
        c->stop_requested = json_is_true(json_object_get(rec, "HasBeenManuallyStopped"));
        c->commit_pause = json_is_true(json_object_get(rec, "BerthCommitPause"));
        enum ctr_state s = ctr_state_from_name(json_string_value(json_object_get(st, "Status")));
        (void) ctr_set_state(d, c, s == _CTR_STATE_INVALID ? CTR_EXITED : s, CTR_STATE_QUIET, NULL); /* NEW -> any */
        c->pid = (pid_t) json_integer_value(json_object_get(st, "Pid"));
        c->exit_code = (int) json_integer_value(json_object_get(st, "ExitCode"));
        c->oom_killed = json_is_true(json_object_get(st, "OOMKilled"));
        ctr_set_error(c, json_string_value(json_object_get(st, "Error")));
        const char *sa = json_string_value(json_object_get(st, "StartedAt"));
        const char *fa = json_string_value(json_object_get(st, "FinishedAt"));
        if (sa && strncmp(sa, "0001-", 5) != 0)
                snprintf(c->started_at, sizeof(c->started_at), "%s", sa);
        if (fa && strncmp(fa, "0001-", 5) != 0)
                snprintf(c->finished_at, sizeof(c->finished_at), "%s", fa);
        *ret = c;
        return 0;
}

int ctr_record_load(struct daemon *d, const char *id, struct container **ret, struct berr *err) {
        return load_one(d, id, ret, err);
}

void ctr_record_free(struct container *c) {
        ctr_free(c);
}

/* A container that was running when berthd stopped: find its shim again, or its exit
 * record if it ended meanwhile. */
static void readopt(struct daemon *d, struct container *c) {
        struct berr err = { 0 };
        _cleanup_free_ char *bundle = ctr_bundle_dir(d, c->id);
        int fd = bundle ? shim_connect(bundle, &err) : -1;
        if (fd >= 0) {
                struct shim_msg m;
                shim_msg_init(&m, SHIM_REQ_WATCH);
                if (shim_msg_send(fd, &m, -1, &err) == 0 && shim_msg_recv(fd, &m, NULL, &err) == 0 &&
                    monitor_watch(d, c, fd, &err) == 0) {
                        log_info("re-adopted running container %.12s (pid %d)", c->id, (int) c->pid);
                        health_start(d, c);
                        return;
                }
                close(fd);
        }
        /* The shim is gone: its exit record (if any) says how the container ended. */
        ctr_handle_exit(d, c);
}

/* As dockerd's restore: a --rm container that is not running (it ended while berthd was
 * down, a crash cut its removal short, or it was never started) is removed. This is also
 * what lets an AutoRemove container's exit and removal skip their fsyncs (monitor.c,
 * ctr_remove): whatever a crash of the machine brings back of one goes here. */
static void remove_stopped_auto_remove(struct daemon *d) {
        size_t n = 0, cap = 0;
        struct container **v = NULL, *c, *tmp;
        pthread_mutex_lock(&d->ctr_lock);
        HASH_ITER(hh, d->ctrs, c, tmp) {
                pthread_mutex_lock(&c->lock);
                bool gone = c->cc->hc.auto_remove && (c->state == CTR_CREATED || c->state == CTR_EXITED ||
                                                      c->state == CTR_DEAD);
                pthread_mutex_unlock(&c->lock);
                if (!gone)
                        continue;
                if (n == cap) {
                        size_t nc = cap ? cap * 2 : 16;
                        struct container **nv = realloc(v, nc * sizeof(*v));
                        if (!nv)
                                break;
                        v = nv, cap = nc;
                }
                c->refs++;
                v[n++] = c;
        }
        pthread_mutex_unlock(&d->ctr_lock);
        for (size_t i = 0; i < n; i++) {
                struct berr e = { 0 };
                log_info("removing container %.12s: it was started with --rm and is not running", v[i]->id);
                if (ctr_remove(d, v[i], true, true, &e) < 0)
                        log_warn("remove container %.12s: %s", v[i]->id, e.msg);
                ctr_unref(d, v[i]);
        }
        free(v);
}

int ctr_store_open(struct daemon *d, struct berr *err) {
        pthread_mutex_init(&d->ctr_lock, NULL);
        _cleanup_free_ char *root = fs_path_join(d->cfg.data_root, "containers");
        _cleanup_free_ char *run = fs_path_join(d->cfg.exec_root, "containers");
        int r;
        if (!root || !run)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if ((r = fs_mkdir_p(root, 0710, err)) < 0 || (r = fs_mkdir_p(run, 0711, err)) < 0 ||
            (r = userns_chown(d, AT_FDCWD, root, false, err)) < 0)
                return r;
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
                return berr_sys(err, BERR_INTERNAL, "readlink /proc/self/exe");
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        *slash = '\0';
        if ((r = fs_path_fmt(d->shim_path, sizeof(d->shim_path), "%s/berth-shim", self)) < 0)
                return berr_set(err, BERR_INTERNAL, -r, "%s/berth-shim: path too long", self);
        if ((r = monitor_start(d, err)) < 0)
                return r;

        ctr_trash_start();
        _cleanup_closedir_ DIR *dir = opendir(root);
        if (!dir)
                return berr_sys(err, BERR_INTERNAL, "open %s", root);
        (void) fs_spread_subdirs(dirfd(dir)); /* rw layers come and go like image layers */
        struct dirent *de;
        while ((de = readdir(dir))) {
                if (!id_is_full_hex(de->d_name)) {
                        if (de->d_name[0] != '.')
                                log_warn("%s/%s is not a container; left alone", root, de->d_name);
                        ctr_trash_found(root, de->d_name); /* a removal a crash cut short */
                        continue;
                }
                if (ctr_recover_dir(d, de->d_name))
                        continue;
                struct container *c = NULL;
                struct berr e = { 0 };
                if (load_one(d, de->d_name, &c, &e) < 0) {
                        log_warn("skipping container %.12s: %s", de->d_name, e.msg);
                        continue;
                }
                HASH_ADD_STR(d->ctrs, id, c);
                if (c->state == CTR_RESTARTING) /* its pending restart died with the old daemon */
                        (void) ctr_set_state(d, c, CTR_EXITED, CTR_STATE_QUIET, NULL);
                if (c->state == CTR_RUNNING || c->state == CTR_PAUSED) {
                        ctr_net_restore(d, c);
                        /* readopt may find it ended and, for --rm, remove it: hold it till done */
                        pthread_mutex_lock(&d->ctr_lock);
                        c->refs++;
                        pthread_mutex_unlock(&d->ctr_lock);
                        readopt(d, c);
                        ctr_commit_recover(d, c);
                        ctr_unref(d, c);
                } else if (!ctr_recover_stopped(d, c)) {
                        /* What a crash between start and exit left: addresses, veth, namespace.
                         * (Its DNAT entries go with the resync below.) */
                        ctr_net_stop(d, c);
                        struct berr se = { 0 };
                        pthread_mutex_lock(&c->lock);
                        if (ctr_save(d, c, &se) < 0)
                                log_warn("save container %.12s: %s", c->id, se.msg);
                        pthread_mutex_unlock(&c->lock);
                }
        }
        struct container *c, *tmp;
        HASH_ITER(hh, d->ctrs, c, tmp) {
                pthread_mutex_lock(&c->lock); /* the monitor may have seen it exit */
                bool up = c->state == CTR_RUNNING || c->state == CTR_PAUSED;
                pthread_mutex_unlock(&c->lock);
                if (up)
                        ctr_net_restore_dns(d, c);
        }
        ctr_recover_orphans(d);
        ctr_mounts_recover_plugins(d);
        /* The kernel's port maps now say exactly what the running containers publish:
         * entries of containers that died or never finished starting go. */
        net_ports_resync(d->nets);
        remove_stopped_auto_remove(d);
        ctr_start_policy_containers(d);
        return 0;
}

void ctr_store_close(struct daemon *d) {
        d->shutting_down = true;
        ctr_wake_all(d);
        health_wait_all(d); /* they see the shutdown and let go of their containers */
        monitor_stop(d);
        ctr_trash_flush(10); /* removed containers' directories: none left for the next start-up */
        exec_forget_all(d);
        struct container *c, *tmp;
        HASH_ITER(hh, d->ctrs, c, tmp) {
                HASH_DEL(d->ctrs, c);
                if (c->watch_fd >= 0) {
                        close(c->watch_fd);
                        c->watch_fd = -1;
                        ctr_unref(d, c); /* the monitor's (monitor_watch): its thread has gone */
                }
                ctr_unref(d, c);
        }
}

void ctr_wake_all(struct daemon *d) {
        pthread_mutex_lock(&d->ctr_lock);
        struct container *c, *tmp;
        HASH_ITER(hh, d->ctrs, c, tmp) {
                pthread_mutex_lock(&c->lock);
                pthread_cond_broadcast(&c->cond);
                pthread_mutex_unlock(&c->lock);
        }
        pthread_mutex_unlock(&d->ctr_lock);
}

/* ---- lookup ---- */

/* Caller holds the store lock. Docker's order: full ID, exact name, unique ID prefix. */
static struct container *find_locked(struct daemon *d, const char *ref, bool *ambiguous) {
        struct container *c, *tmp, *hit = NULL;
        *ambiguous = false;
        HASH_FIND_STR(d->ctrs, ref, c);
        if (c)
                return c;
        const char *bare = ref[0] == '/' ? ref + 1 : ref;
        HASH_ITER(hh, d->ctrs, c, tmp)
                if (strcmp(c->name + 1, bare) == 0)
                        return c;
        size_t n = strlen(ref);
        if (n == 0)
                return NULL;
        HASH_ITER(hh, d->ctrs, c, tmp)
                if (strncmp(c->id, ref, n) == 0) {
                        if (hit) {
                                *ambiguous = true;
                                return NULL;
                        }
                        hit = c;
                }
        return hit;
}

int ctr_lookup(struct daemon *d, const char *ref, struct container **ret, struct berr *err) {
        bool ambiguous;
        pthread_mutex_lock(&d->ctr_lock);
        struct container *c = find_locked(d, ref, &ambiguous);
        if (c)
                c->refs++;
        pthread_mutex_unlock(&d->ctr_lock);
        if (ambiguous)
                return berr_set(err, BERR_INVALID, EINVAL, "multiple IDs found with provided prefix: %s", ref);
        if (!c)
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "No such container: %s", ref);
        *ret = c;
        return 0;
}

/* ---- create ---- */

static bool valid_name(const char *n) {
        /* Docker: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
        if (!((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') || (n[0] >= '0' && n[0] <= '9')))
                return false;
        if (!n[1])
                return false;
        for (const char *p = n + 1; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                      *p == '.' || *p == '-'))
                        return false;
        return strlen(n) < 200;
}

static const char *const adjectives[] = {
        "admiring", "agitated", "amazing", "angry", "awesome", "blissful", "bold", "boring", "brave", "busy",
        "charming", "clever", "compassionate", "competent", "confident", "cool", "dazzling", "determined",
        "eager", "ecstatic", "elastic", "elated", "elegant", "epic", "exciting", "fervent", "festive", "focused",
        "friendly", "gallant", "gifted", "goofy", "gracious", "happy", "hopeful", "hungry", "jolly", "keen",
        "kind", "laughing", "loving", "lucid", "modest", "musing", "nervous", "nice", "nifty", "optimistic",
        "peaceful", "pedantic", "practical", "priceless", "quirky", "relaxed", "serene", "sharp", "silly",
        "sleepy", "stoic", "sweet", "tender", "trusting", "upbeat", "vibrant", "wizardly", "youthful", "zealous",
};
static const char *const surnames[] = {
        "albattani", "allen", "archimedes", "babbage", "banach", "bardeen", "bell", "boole", "borg", "bose",
        "carson", "cerf", "clarke", "curie", "darwin", "dijkstra", "einstein", "euclid", "euler", "fermat",
        "feynman", "franklin", "galileo", "gauss", "goldberg", "hamilton", "hawking", "hopper", "hypatia",
        "johnson", "kepler", "knuth", "lamport", "lovelace", "mccarthy", "meitner", "newton", "noether",
        "pascal", "pasteur", "perlman", "ritchie", "shannon", "thompson", "torvalds", "turing", "wilson",
        "wozniak", "wright", "yalow",
};

static void random_name(struct daemon *d, char out[256]) {
        for (int attempt = 0;; attempt++) {
                unsigned char r[3];
                if (getrandom(r, sizeof(r), 0) != (ssize_t) sizeof(r))
                        r[0] = r[1] = r[2] = (unsigned char) attempt;
                const char *a = adjectives[r[0] % (sizeof(adjectives) / sizeof(adjectives[0]))];
                const char *s = surnames[r[1] % (sizeof(surnames) / sizeof(surnames[0]))];
                if (attempt == 0)
                        snprintf(out, 256, "/%s_%s", a, s);
                else
                        snprintf(out, 256, "/%s_%s%d", a, s, r[2] % 10);
                bool amb;
                if (!find_locked(d, out + 1, &amb))
                        return;
        }
}




/* The one place LogConfig is read (see container.h): the typed configuration's. An empty
 * Type (a record from before create filled it in) is dockerd's default, json-file. */
int ctr_log_config(const struct ctr_config *cc, struct ctr_log_cfg *ret) {
        const char *type = cc->hc.log_config.type;
        *ret = (struct ctr_log_cfg){ .type = type && *type ? type : "json-file", .keys = cc->hc.log_config.config.keys,
                                     .vals = cc->hc.log_config.config.vals, .n = cc->hc.log_config.config.n };
        return 0;
}

void ctr_log_config_done(struct ctr_log_cfg *lc) {
        lc->keys = lc->vals = NULL;
        lc->n = 0;
}

/* --log-driver / --log-opt, checked at create as dockerd does (logdrv.c), after the
 * daemon's defaults went in as dockerd's mergeAndVerifyLogConfig does: its driver for an
 * empty Type, its options under the container's own when the driver is the default one. */
int ctr_log_config_defaults(struct daemon *d, json_t *hc, struct berr *err) {
        const char *def = d->cfg.log_driver ? d->cfg.log_driver : "json-file";
        json_t *lc = json_object_get(hc, "LogConfig");
        if (!json_is_object(lc)) {
                lc = json_object();
                json_object_set_new(hc, "LogConfig", lc);
        }
        const char *type = json_string_value(json_object_get(lc, "Type"));
        if (!type || !*type) {
                json_object_set_new(lc, "Type", json_string(def));
                type = def;
        }
        json_t *cfg = json_object_get(lc, "Config");
        if (!json_is_object(cfg)) {
                cfg = json_object();
                json_object_set_new(lc, "Config", cfg);
        }
        if (strcmp(type, def) == 0)
                for (size_t i = 0; i < d->cfg.n_log_opts; i++)
                        if (!json_object_get(cfg, d->cfg.log_opt_keys[i]))
                                json_object_set_new(cfg, d->cfg.log_opt_keys[i], json_string(d->cfg.log_opt_vals[i]));
        size_t n = json_object_size(cfg), k = 0;
        _cleanup_free_ char **keys = calloc(n + 1, sizeof(char *)), **vals = calloc(n + 1, sizeof(char *));
        if (!keys || !vals)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        const char *key;
        json_t *v;
        json_object_foreach(cfg, key, v) {
                if (!json_is_string(v))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid type for LogConfig.Config[%s]: want a string", key);
                keys[k] = (char *) key;
                vals[k++] = (char *) json_string_value(v);
        }
        int r = logdrv_validate(type, keys, vals, k, err);
        /* rootless.c: the shim sends from berthd's network namespace, whose loopback is
         * not the host's (slirp4netns runs --disable-host-loopback) */
        const char *lo = r == 0 && d->rootless && d->cfg.net.hostfwd_api ? logdrv_loopback_address(type, keys, vals, k) : NULL;
        if (lo)
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "rootless: log driver %s cannot reach %s on the host's "
                                "loopback from berthd's network namespace: not supported by berth", type, lo);
        return r;
}


static void drop_anonymous_volumes(struct daemon *d, struct container *c) {
        _cleanup_json_ json_t *anon = NULL;
        (void) ctr_mounts_anonymous(d, c, &anon);
        size_t i;
        json_t *v;
        json_array_foreach(anon, i, v) {
                struct berr e = { 0 };
                (void) volume_remove(d->volumes, json_string_value(v), &e);
        }
}

/* dockerd's verifyPlatformContainerResources for a host that cannot apply a limit: rootless
 * berthd without a delegated cgroup (host.cgroup_none) runs containers without a cgroup of
 * their own, so each limit asked for is dropped with dockerd's warning (the CLI prints them
 * as "WARNING: ..."), and NanoCPUs is refused as dockerd refuses it. */
static int discard_unsupported_resources(const struct host_facts *h, struct ctr_host_config *hc, json_t *warnings,
                                         struct berr *err) {
#define WARN(s) json_array_append_new(warnings, json_string(s))
        if (hc->memory > 0 && !h->memory_limit) {
                WARN("Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation "
                     "discarded.");
                hc->memory = 0;
                hc->memory_swap = -1;
        }
        if (hc->memory > 0 && hc->memory_swap != -1 && !h->swap_limit) {
                WARN("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited "
                     "without swap.");
                hc->memory_swap = -1;
        }
        if (hc->memory == 0 && hc->memory_swap > 0 && !h->memory_limit)
                hc->memory_swap = 0;
        if (hc->memory_swappiness.set && hc->memory_swappiness.v != -1 && !h->memory_limit) {
                WARN("Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory "
                     "swappiness discarded.");
                hc->memory_swappiness.set = false;
        }
        if (hc->memory_reservation > 0 && !h->memory_limit) {
                WARN("Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. "
                     "Limitation discarded.");
                hc->memory_reservation = 0;
        }
        if (hc->kernel_memory > 0 && !h->memory_limit) {
                WARN("Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. "
                     "Limitation discarded.");
                hc->kernel_memory = 0;
        }
        if (hc->oom_kill_disable.set && !h->oom_kill_disable) {
                if (hc->oom_kill_disable.v)
                        WARN("Your kernel does not support OomKillDisable. OomKillDisable discarded.");
                hc->oom_kill_disable.set = false;
        }
        if (hc->pids_limit.set && !h->pids_limit) {
                if (hc->pids_limit.v > 0)
                        WARN("Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs "
                             "limit discarded.");
                hc->pids_limit.set = false;
        }
        if (hc->nano_cpus > 0 && (!h->cpu_cfs_period || !h->cpu_cfs_quota))
                return berr_set(err, BERR_INVALID, EINVAL, "NanoCPUs can not be set, as your kernel does not support CPU "
                                "CFS scheduler or the cgroup is not mounted");
        if (hc->cpu_shares > 0 && !h->cpu_shares) {
                WARN("Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.");
                hc->cpu_shares = 0;
        }
        if (hc->cpu_period > 0 && !h->cpu_cfs_period) {
                WARN("Your kernel does not support CPU cfs period or the cgroup is not mounted. Period discarded.");
                hc->cpu_period = 0;
        }
        if (hc->cpu_quota > 0 && !h->cpu_cfs_quota) {
                WARN("Your kernel does not support CPU cfs quota or the cgroup is not mounted. Quota discarded.");
                hc->cpu_quota = 0;
        }
        if (((hc->cpuset_cpus && *hc->cpuset_cpus) || (hc->cpuset_mems && *hc->cpuset_mems)) && !h->cpuset) {
                WARN("Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.");
                if (hc->cpuset_cpus)
                        hc->cpuset_cpus[0] = '\0';
                if (hc->cpuset_mems)
                        hc->cpuset_mems[0] = '\0';
        }
        if (hc->blkio_weight > 0 && !h->blkio_weight) {
                WARN("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.");
                hc->blkio_weight = 0;
        }
        if (hc->n_blkio_weight_device > 0 && !h->blkio_weight) {
                WARN("Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device "
                     "discarded.");
                for (size_t i = 0; i < hc->n_blkio_weight_device; i++)
                        free(hc->blkio_weight_device[i].path);
                free(hc->blkio_weight_device);
                hc->blkio_weight_device = NULL;
                hc->n_blkio_weight_device = 0; /* "[]", as dockerd leaves it */
        }
        static const struct {
                size_t off;
                const char *warning;
        } throttles[] = {
                { offsetof(struct ctr_host_config, blkio_device_read_bps),
                  "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS "
                  "read limit discarded." },
                { offsetof(struct ctr_host_config, blkio_device_write_bps),
                  "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS "
                  "write limit discarded." },
                { offsetof(struct ctr_host_config, blkio_device_read_iops),
                  "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read "
                  "limit discarded." },
                { offsetof(struct ctr_host_config, blkio_device_write_iops),
                  "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS "
                  "write limit discarded." },
        };
        for (size_t i = 0; i < ELEMENTSOF(throttles); i++) {
                struct ctr_throttle_list *t = (struct ctr_throttle_list *) ((char *) hc + throttles[i].off);
                if (t->n > 0) {
                        WARN(throttles[i].warning);
                        for (size_t j = 0; j < t->n; j++)
                                free(t->v[j].path);
                        free(t->v);
                        t->v = NULL;
                        t->n = 0; /* "[]", as dockerd leaves it */
                }
        }
#undef WARN
        return 0;
}

int ctr_create(struct daemon *d, const char *name, json_t *body, char ret_id[65], json_t **ret_warnings,
               struct berr *err) {
        _cleanup_ctr_config_ struct ctr_config *req = NULL; /* the request, decoded */
        int r = ctr_validate_create(body, &req, err);
        if (r < 0)
                return r;
        if ((r = spec_check_userns(&req->hc, d->remap != NULL, err)) < 0)
                return r;
        /* rootless.c without slirp4netns: berthd stays in the user's network namespace,
         * with no way to give a container an interface there */
        enum ctr_net_mode nm = req->hc.net_mode;
        if (d->rootless && !d->cfg.net.hostfwd_api && nm != CTR_NET_NONE && nm != CTR_NET_HOST && nm != CTR_NET_CONTAINER)
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "rootless berth supports only --network none, host or "
                                "container:<name> without slirp4netns (Debian package slirp4netns) and /dev/net/tun: network \"%s\" is not supported "
                                "by berth", *req->hc.network_mode ? req->hc.network_mode : "default");
        const char *image = req->cfg.image;
        if (!*image)
                return berr_set(err, BERR_INVALID, EINVAL, "No image was specified");
        if (name && *name) {
                const char *n = name[0] == '/' ? name + 1 : name;
                if (!valid_name(n))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", n);
        }

        _cleanup_json_ json_t *img_cfg = NULL;
        char chain[DIGEST_STRING_MAX], image_id[DIGEST_STRING_MAX];
        if ((r = image_store_resolve(d->images, image, image_id, err)) < 0 ||
            (r = image_store_config(d->images, image_id, &img_cfg, chain, err)) < 0)
                return r;
        /* dockerd's check at create: an image for another OS (one loaded from a Windows
         * host, say) would fail later, or run a binary it was not built for. An image
         * without "os" is the host's, as in dockerd. */
        const char *image_os = json_string_value(json_object_get(img_cfg, "os"));
        if (image_os && *image_os && strcasecmp(image_os, "linux") != 0)
                return berr_set(err, BERR_INVALID, EINVAL, "image operating system \"%s\" cannot be used on this platform",
                                image_os);
        /* The image's config is a Config too (hostile input: the decoder takes what has the
         * right type, the rest as zero values). */
        _cleanup_ctr_config_ struct ctr_config *img = NULL;
        if ((r = ctr_config_decode(json_object_get(img_cfg, "config"), NULL, NULL, &img, err)) < 0)
                return r;

        /* The daemon's --log-driver/--log-opt into the request's LogConfig (only an empty
         * Type tells "the default" apart, so before decoding), checked as a whole. */
        json_t *hc_in = json_object_get(body, "HostConfig");
        _cleanup_json_ json_t *hc = json_is_object(hc_in) ? json_deep_copy(hc_in) : json_object();
        if (!hc)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if ((r = ctr_log_config_defaults(d, hc, err)) < 0)
                return r;

        struct container *c = ctr_new();
        if (!c)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        /* The container's Config: what the client sent, defaulted from the image. */
        if ((r = id_random_hex(c->id, err)) < 0 ||
            (r = ctr_config_decode(body, hc, json_object_get(body, "NetworkingConfig"), &c->cc, err)) < 0 ||
            (r = ctr_runtime_defaults(d, c->cc, err)) < 0 || (r = config_defaults(c->cc, err)) < 0) {
                ctr_free(c);
                return r;
        }
        /* The daemon's defaults into what the request left empty (reload.c: ShmSize,
         * CgroupnsMode, CgroupParent, Ulimits, SecurityOpt, Dns*), and its default-ipc-mode
         * for a container that asks for none, as dockerd records them at create (an older
         * record keeps what it had). */
        if (daemon_opts_apply_create(d, c->cc) < 0 ||
            (c->cc->hc.ipc_mode == CTR_IPC_DEFAULT &&
             ctr_config_set_ipc_mode(c->cc, d->cfg.default_ipc_mode ? d->cfg.default_ipc_mode : "private") < 0)) {
                ctr_free(c);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        _cleanup_json_ json_t *warnings = json_array();
        if (!warnings) {
                ctr_free(c);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        if (d->host.cgroup_none && (r = discard_unsupported_resources(&d->host, &c->cc->hc, warnings, err)) < 0) {
                ctr_free(c);
                return r;
        }
        struct ctr_config_cfg *cfg = &c->cc->cfg;
        if ((r = ctr_config_merge_image(cfg, &img->cfg)) < 0) {
                ctr_free(c);
                return berr_set(err, BERR_INTERNAL, -r, "out of memory");
        }
        /* Path and Args: the entrypoint and command together. */
        size_t argc = cfg->entrypoint.n + cfg->cmd.n;
        if (argc == 0) {
                ctr_free(c);
                return berr_set(err, BERR_INVALID, EINVAL, "no command specified");
        }
        if (!*cfg->hostname) {
                free(cfg->hostname);
                if (asprintf(&cfg->hostname, "%.12s", c->id) < 0)
                        cfg->hostname = NULL;
        }
        c->path = strdup(cfg->entrypoint.n ? cfg->entrypoint.v[0] : cfg->cmd.v[0]);
        c->args = json_array();
        for (size_t i = 1; c->args && i < argc; i++)
                json_array_append_new(c->args, json_string(i < cfg->entrypoint.n ? cfg->entrypoint.v[i]
                                                                                  : cfg->cmd.v[i - cfg->entrypoint.n]));
        if (!cfg->hostname || !c->path || !c->args) {
                ctr_free(c);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        snprintf(c->image_id, sizeof(c->image_id), "%s", image_id);
        ctr_now(c->created);
        json_decref(c->networks);
        c->networks = NULL;
        if ((r = ctr_net_config(d, body, req, &c->networks, err)) < 0) {
                ctr_free(c);
                return r;
        }
        json_share_scalars(c->networks);

        _cleanup_free_ char *dir = ctr_data_dir(d, c->id);
        if (!dir || mkdir(dir, 0710) < 0) {
                ctr_free(c);
                return berr_sys(err, BERR_INTERNAL, "create container directory");
        }
        /* dockerd: root:<remapped gid> 0710, for the container's root to reach its files */
        if ((r = userns_chown(d, AT_FDCWD, dir, false, err)) < 0) {
                (void) rmdir(dir);
                ctr_free(c);
                return r;
        }
        /* Its volumes, named and anonymous, exist from now on, as with dockerd; none may be
         * removed before the container is in the table (see volume_lock). */
        pthread_mutex_lock(&d->volume_lock);
        /* --volumes-from under the volume lock: a lender's volume cannot go meanwhile */
        r = ctr_mounts_resolve_from(d, c->cc, &c->mounts_from, err);
        if (r == 0)
                r = ctr_mounts_create_volumes(d, c, err);
        if (r < 0) {
                drop_anonymous_volumes(d, c);
                pthread_mutex_unlock(&d->volume_lock);
                (void) rmdir(dir);
                ctr_free(c);
                return r;
        }

        /* Name and table entry together, under the store lock, so names stay unique. */
        pthread_mutex_lock(&d->ctr_lock);
        bool amb;
        struct container *other = NULL;
        if (name && *name) {
                snprintf(c->name, sizeof(c->name), "/%s", name[0] == '/' ? name + 1 : name);
                struct container *o, *tmp;
                HASH_ITER(hh, d->ctrs, o, tmp) if (strcmp(o->name, c->name) == 0) other = o;
        } else
                random_name(d, c->name);
        (void) amb;
        if (other) {
                pthread_mutex_unlock(&d->ctr_lock);
                berr_set(err, BERR_CONFLICT, EEXIST,
                         "Conflict. The container name \"%s\" is already in use by container \"%s\". You have to "
                         "remove (or rename) that container to be able to reuse that name.",
                         c->name, other->id);
                drop_anonymous_volumes(d, c);
                pthread_mutex_unlock(&d->volume_lock);
                (void) rmdir(dir);
                ctr_free(c);
                return -EEXIST;
        }
        /* Written, then "create": a client that sees the event finds it once the store lock goes. */
        pthread_mutex_lock(&c->lock);
        r = ctr_set_state(d, c, CTR_CREATED, 0, err);
        pthread_mutex_unlock(&c->lock);
        if (r < 0) {
                pthread_mutex_unlock(&d->ctr_lock);
                drop_anonymous_volumes(d, c);
                pthread_mutex_unlock(&d->volume_lock);
                struct berr e2 = { 0 };
                (void) tree_remove_at(AT_FDCWD, dir, &e2); /* best effort: the create already failed */
                ctr_free(c);
                return r;
        }
        HASH_ADD_STR(d->ctrs, id, c);
        pthread_mutex_unlock(&d->ctr_lock);
        pthread_mutex_unlock(&d->volume_lock);
        memcpy(ret_id, c->id, 65);
        *ret_warnings = warnings;
        warnings = NULL;
        if (c->cc->hc.net_mode == CTR_NET_HOST && (c->cc->hc.n_port_bindings > 0 || c->cc->hc.publish_all_ports))
                json_array_append_new(*ret_warnings, json_string("Published ports are discarded when using host network mode"));
        return 0;
}

int ctr_rename(struct daemon *d, struct container *c, const char *new_name, struct berr *err) {
        const char *n = new_name && new_name[0] == '/' ? new_name + 1 : new_name;
        if (!n || !*n)
                return berr_set(err, BERR_INVALID, EINVAL, "Neither old nor new names may be empty");
        if (!valid_name(n))
                return berr_set(err, BERR_INVALID, EINVAL,
                                "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", n);
        char full[256], old[256];
        snprintf(full, sizeof(full), "/%s", n);
        pthread_mutex_lock(&d->ctr_lock);
        struct container *o, *tmp;
        HASH_ITER(hh, d->ctrs, o, tmp) {
                if (o != c && strcmp(o->name, full) == 0) {
                        pthread_mutex_unlock(&d->ctr_lock);
                        return berr_set(err, BERR_CONFLICT, EEXIST,
                                        "Conflict. The container name \"%s\" is already in use by container \"%s\". You "
                                        "have to remove (or rename) that container to be able to reuse that name.",
                                        full, o->id);
                }
        }
        pthread_mutex_lock(&c->lock);
        if (strcmp(c->name, full) == 0) {
                pthread_mutex_unlock(&c->lock);
                pthread_mutex_unlock(&d->ctr_lock);
                return berr_set(err, BERR_INVALID, EINVAL, "Renaming a container with the same name as its current name");
        }
        snprintf(old, sizeof(old), "%s", c->name);
        snprintf(c->name, sizeof(c->name), "%s", full);
        int r = ctr_save(d, c, err);
        if (r < 0)
                snprintf(c->name, sizeof(c->name), "%s", old);
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_unlock(&d->ctr_lock);
        if (r == 0)
                events_container(d, c, "rename", json_pack("{s:s}", "oldName", old));
        return r;
}
