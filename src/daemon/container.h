/* container.h - the container store and state machine: records on disk under
 * DATA-ROOT/containers/<id>/, the live state in memory, and the operations the API calls
 * (create, start, stop, kill, wait, attach, logs, remove, list, inspect).
 *
 * Locks: the store lock (d->ctr_lock) guards the table and names; each container has its
 * own mutex + condvar. Take store -> container, never the reverse, and never hold either
 * across a blocking call to a shim. */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uthash.h>

#include "runtime/ctr_config.h"

struct berr;
struct daemon;

/* HostConfig.Runtime for a create that names none: the name `docker info` gives as
 * DefaultRuntime. */
#define CTR_DEFAULT_RUNTIME "berth"
/* At create (container_start.c): HostConfig.Runtime names a runtime the daemon has, or
 * becomes the daemon's default (--default-runtime); dockerd's 400 otherwise. */
struct daemon;
struct container;
int ctr_runtime_defaults(struct daemon *d, struct ctr_config *cc, struct berr *err);
/* At removal: what an external runtime kept of the container under EXEC-ROOT/runtime-*
 * (only there when its shim was killed before `delete`). */
void ctr_runtime_state_remove(struct daemon *d, const char *id);
/* The shim's deferred `RUNTIME delete` of @id runs (it holds the bundle's runtime lock,
 * shim/protocol.h): the runtime's state is its to remove. */
bool ctr_runtime_delete_pending(struct daemon *d, const char *id);
/* Run by an external OCI runtime (not the built-in one)? */
bool ctr_runtime_is_external(const struct ctr_config *cc);
/* docker update of a running container of an external runtime: @resources (an OCI
 * linux.resources object) through its shim to the runtime's `update --resources`. */
int ctr_runtime_update(struct daemon *d, struct container *c, const json_t *resources, struct berr *err);

/* A container's states (container_state.c holds the table of legal transitions). The
 * seven in the middle are Docker's State.Status; NEW, STARTING and REMOVED are berth's
 * own steps around them, never written to a record nor shown as such. */
enum ctr_state {
        CTR_NEW,        /* allocated, no record yet (calloc's zero) */
        CTR_CREATED,
        CTR_RUNNING,
        CTR_PAUSED,
        CTR_RESTARTING,
        CTR_REMOVING,
        CTR_EXITED,
        CTR_DEAD,
        CTR_STARTING,   /* a start is on its way; Docker still sees c->start_from */
        CTR_REMOVED,    /* out of the table and off the disk; references may remain */
        _CTR_STATE_MAX,
        _CTR_STATE_INVALID = -1,
};

const char *ctr_state_name(enum ctr_state s); /* Docker's: "created", "running", ...; berth's own for the rest */
enum ctr_state ctr_state_from_name(const char *name); /* Docker's names only; _CTR_STATE_INVALID otherwise */

/* The transition table, pure: whether @from -> @to is legal, the Docker event that goes
 * with it (NULL for none) and whether it writes the container's record. */
bool ctr_state_transition_ok(enum ctr_state from, enum ctr_state to);
const char *ctr_state_event(enum ctr_state from, enum ctr_state to);
bool ctr_state_saves(enum ctr_state from, enum ctr_state to);

struct container {
        char id[65];
        char name[256]; /* with the leading '/' */
        char image_id[80];
        char created[40];
        struct ctr_config *cc; /* Config (merged with the image's) + HostConfig, typed; inspect and the record
                                * are encoded from it. Copy-on-write: docker update replaces the pointer under
                                * c->lock (ctr_config_replace) and never changes a config in place, so a
                                * holder of a reference may read it without c->lock; a reader that needs two
                                * fields an update changes to agree loads c->cc once, or holds c->lock. */
        struct ctr_config **cc_retired; /* replaced configs, freed when no one else can hold them */
        json_t *mounts_from;   /* --volumes-from: the lenders' mounts, resolved at create (NULL: none); fixed */
        size_t n_cc_retired;
        json_t *networks;    /* NetworkSettings.Networks: {name: EndpointSettings}, under lock */
        json_t *ports;       /* NetworkSettings.Ports while it runs: {"80/tcp": [{HostIp, HostPort}] or null} */
        char *path;          /* Path and Args as inspect shows them */
        json_t *args;

        /* State, guarded by lock. */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        enum ctr_state state;      /* assigned by ctr_set_state() only */
        enum ctr_state start_from; /* while STARTING: the state Docker shows (and the record holds) */
        pid_t pid;
        int exit_code;
        bool oom_killed;
        char *error; /* a start error whole (up to BERR_MSG_MAX), as the client got it; NULL: none.
                      * Set by ctr_set_error only: most containers never have one (1 KB each saved) */
        char started_at[40];
        char finished_at[40];
        int restart_count;
        bool shim_created;      /* the shim has created the init, START not sent yet */
        int attach_waiters;     /* attach streams to hand to the shim before START */
        uint64_t start_seq;     /* bumps when a start attempt ends, so waiters see failures */
        uint64_t exit_gen;      /* bumps at every exit, for wait next-exit */
        int rootfs_users;       /* docker cp holds the root filesystem mounted (container_archive.c) */
        bool rootfs_detaching;  /* an exit detaches the rootfs after its waiters were woken: no mount meanwhile */
        bool stop_requested;    /* by stop/kill from a user: no restart policy, unless-stopped stays down */
        bool pause_busy;        /* a pause or unpause is on its way to the shim */
        bool commit_pause;      /* a commit pauses it: in the record, so a crash mid-commit is thawed at start-up */
        /* health (health.c), under lock */
        char health_status[16];  /* "starting", "healthy", "unhealthy"; "" without a check */
        int health_failing;
        json_t *health_log;      /* the last results, Docker's HealthcheckResult objects */
        bool health_running;     /* a thread probes it */
        int watch_fd;           /* the monitor's connection to the shim, -1 without a shim */
        int restart_delay_ms;   /* restart policy back-off, 0 before the first restart */

        /* ps (container_json.c), under lock: the record's write count, and the summary's
         * text made at list_text_saves writes (State and Status are added per listing). */
        uint64_t saves;
        char *list_text;
        uint64_t list_text_saves;
        /* exec.c, under lock: the spec's process of the run numbered exec_process_seq (its
         * start_seq), as JSON text, kept from the run's first exec so the next ones parse
         * it and not the whole config.json (seccomp profile, mounts: ~10 KB, 0.3 ms). NULL
         * until a run has had an exec. */
        char *exec_process;
        uint64_t exec_process_seq;
        /* ctr_save: save_seq (under lock) numbers each text of the record as it is made;
         * the texts are written under save_lock (taken after lock, or without it), a text
         * older than the last one made never (ctr_save_finish). Under save_lock: hashes
         * (common/hash.h) of the texts of config.json and hostconfig.json this process last
         * wrote and fsync'd; "" when unknown (loaded, or a removal took the record away).
         * An unchanged file is not written again. */
        pthread_mutex_t save_lock;
        uint64_t save_seq;
        char saved_cfg_hash[33], saved_hc_hash[33];

        int refs;               /* guarded by the store lock */
        UT_hash_handle hh;
};

/* The state machine (container_state.c). Caller holds c->lock (or the container is not
 * shared yet). ctr_set_state: an illegal transition is logged and refused (-EINVAL);
 * otherwise the state changes, the record is written if the table says so, waiters are
 * woken and the transition's event is emitted, in that order. A write failure is logged
 * and returned; the change stands, except out of NEW (a create whose record could not be
 * written did not happen). CTR_STATE_QUIET: start-up bookkeeping (a record loaded, a
 * start the record missed): nothing written, no event. */
#define CTR_STATE_QUIET (1u << 0)
/* CTR_STATE_NO_SAVE: the event and the wake-up, but the caller writes the record itself
 * (ctr_save_prepare under the lock, ctr_save_finish after it). */
#define CTR_STATE_NO_SAVE (1u << 1)
int ctr_set_state(struct daemon *d, struct container *c, enum ctr_state to, unsigned flags, struct berr *err);
/* A pending restart is called off (a stop, a removal, an exit during its start): the
 * state goes RESTARTING -> EXITED; if the restart's start is already on its way, the
 * state that start shows does, and the start goes on. */
void ctr_cancel_restart(struct daemon *d, struct container *c);
/* What Docker shows (State.Status, ps, the record): STARTING shows the state it started
 * from, REMOVED shows "removing". */
enum ctr_state ctr_state_shown(const struct container *c);
/* Docker's State.Running: running, paused or restarting, as shown. */
bool ctr_is_running(const struct container *c);

/* State.Error: @msg (NULL or "": none), kept up to BERR_MSG_MAX - 1 bytes. Caller holds c->lock
 * (or the container is not shared yet). */
void ctr_set_error(struct container *c, const char *msg);

/* Store lifetime. */
int ctr_store_open(struct daemon *d, struct berr *err);   /* load records, re-adopt shims */
void ctr_store_close(struct daemon *d);
/* One record of DATA-ROOT/containers/@id read on its own, outside the table (the store
 * checker, check.c): no shim is asked, nothing is written. ctr_record_free frees it. */
int ctr_record_load(struct daemon *d, const char *id, struct container **ret, struct berr *err);
void ctr_record_free(struct container *c);
void ctr_wake_all(struct daemon *d); /* shutdown: broadcast every container's condvar */

/* Find by full ID, unique ID prefix, or name; the result holds a reference. */
int ctr_lookup(struct daemon *d, const char *ref, struct container **ret, struct berr *err);
void ctr_unref(struct daemon *d, struct container *c);

/* POST /containers/create: @body is the request (Config fields + HostConfig). */
int ctr_create(struct daemon *d, const char *name, json_t *body, char ret_id[65], json_t **ret_warnings,
               struct berr *err);
/* container_validate.c: the create request checked as dockerd checks it (field types as
 * Go decodes them, then values), before anything is stored. Cmd, Entrypoint, Shell,
 * CapAdd and CapDrop given as one string become one-element arrays in @body. */
int ctr_validate_create(json_t *body, struct ctr_config **ret_req, struct berr *err); /* @ret_req: NULL, or the decoded request */
/* The values of a decoded create request (ctr_validate_create's second half). */
int ctr_config_validate(const struct ctr_config *cc, struct berr *err);
/* POST /containers/{id}/update (container_update.c): the body (Resources and RestartPolicy)
 * checked as dockerd checks it, then applied: the record at once, the cgroup of a running
 * or paused container at once, a stopped one's at its next start. ctr_validate_update
 * (container_validate.c): the body's types and values; *@ret_req holds only what it
 * changes. *@ret_warnings: an array (null for none), as dockerd's ContainerUpdateOKBody. */
int ctr_validate_update(json_t *body, struct ctr_config **ret_req, struct berr *err);
int ctr_update(struct daemon *d, struct container *c, json_t *body, json_t **ret_warnings, struct berr *err);
int ctr_start(struct daemon *d, struct container *c, struct berr *err);                 /* 1: already running */
int ctr_stop(struct daemon *d, struct container *c, int timeout_s, const char *signal, struct berr *err); /* 1: not running */
/* At shutdown of a rootless berthd in slirp4netns's namespace (which goes with it): stop
 * every running container as dockerd stops them without live-restore. */
void ctr_stop_all_for_shutdown(struct daemon *d);
int ctr_kill(struct daemon *d, struct container *c, const char *signal, struct berr *err);
int ctr_restart(struct daemon *d, struct container *c, int timeout_s, struct berr *err);
int ctr_remove(struct daemon *d, struct container *c, bool force, bool volumes, struct berr *err);
int ctr_rename(struct daemon *d, struct container *c, const char *new_name, struct berr *err);
int ctr_resize(struct daemon *d, struct container *c, unsigned rows, unsigned cols, struct berr *err);
/* docker pause (@pause) / unpause: the shim freezes or thaws the container's cgroup. */
int ctr_pause(struct daemon *d, struct container *c, bool pause, struct berr *err);
/* GET /containers/{id}/top: {"Titles": [...], "Processes": [[...], ...]} from `ps @ps_args`
 * (default "-ef") on the host, the lines of the container's processes only. */
int ctr_top(struct daemon *d, struct container *c, const char *ps_args, json_t **ret, struct berr *err);

enum ctr_wait_condition { CTR_WAIT_NOT_RUNNING, CTR_WAIT_NEXT_EXIT, CTR_WAIT_REMOVED };
/* Block until the condition holds; *ret_code is the exit code. */
/* @cancelled (may be NULL) is asked about once a second, e.g. whether the client left. */
int ctr_wait(struct daemon *d, struct container *c, enum ctr_wait_condition cond, int *ret_code,
             bool (*cancelled)(void *), void *arg, struct berr *err);

/* Attach the raw client stream @fd (blocking) to the container's stdio; returns when
 * the stream ends (container exit, detach, client gone). */
struct ctr_attach_opts {
        bool use_stdin, use_stdout, use_stderr;
        bool raw;             /* no stream headers even without a TTY (the websocket attach) */
        char detach_keys[64]; /* "ctrl-p,ctrl-q" form, "" for the default */
};
int ctr_attach_stream(struct daemon *d, struct container *c, int fd, const struct ctr_attach_opts *o, struct berr *err);
/* The same in two steps, for a caller that relays the stream itself: hand @fd to the
 * shim (*ret_conn: the connection that ends with the stream, -1 when there is nothing to
 * wait for), then poll *ret_conn and ask ctr_attach_ended (never blocks) whether the
 * stream is over; close *ret_conn after. */
int ctr_attach_begin(struct daemon *d, struct container *c, int fd, const struct ctr_attach_opts *o, int *ret_conn,
                     struct berr *err);
bool ctr_attach_ended(struct daemon *d, int conn);
int ctr_parse_detach_keys(const char *spec, uint8_t *ret, size_t max, size_t *ret_n, struct berr *err);

/* JSON for the API. */
json_t *ctr_inspect_json(struct daemon *d, struct container *c);
int ctr_list_json(struct daemon *d, bool all, int limit, bool size, json_t *filters, json_t **ret, struct berr *err);
/* One container against ps's @filters (normalized: {"key": ["value", ...]}, checked by
 * ctr_list_json), reading its typed configuration and state; @rf holds the values that
 * name other objects, resolved once per listing. Caller holds c->lock. */
struct ctr_list_filters {
        json_t *ancestor_ids;       /* image IDs of the "ancestor" values */
        char before[40], since[40]; /* Created of the containers named, "" if not given */
};
bool ctr_list_matches(struct container *c, json_t *filters, const struct ctr_list_filters *rf);
/* The same listing (without sizes) as JSON text, "[...]\n": each container's summary is
 * kept as text between writes of its record, so a listing never rebuilds what did not
 * change (GET /containers/json with hundreds of containers). */
int ctr_list_text(struct daemon *d, bool all, int limit, json_t *filters, char **ret, size_t *ret_len,
                  struct berr *err);
/* SizeRw and SizeRootFs, for ps -s and inspect --size. */
void ctr_add_sizes(struct daemon *d, struct container *c, json_t *o);
void ctr_counts(struct daemon *d, int *total, int *running, int *paused, int *stopped);
bool ctr_has_tty(struct container *c);
/* HostConfig.LogConfig: the driver ("json-file" for none named) and its options, borrowed
 * from the container's typed configuration; ctr_log_config_done clears it. 0. */
struct ctr_log_cfg {
        const char *type;
        char **keys, **vals;
        size_t n;
};
int ctr_log_config(const struct ctr_config *cc, struct ctr_log_cfg *ret);
/* --log-driver / --log-opt into a create request's HostConfig (JSON, before it is decoded),
 * then the whole LogConfig checked as dockerd does. */
int ctr_log_config_defaults(struct daemon *d, json_t *host_config, struct berr *err);
void ctr_log_config_done(struct ctr_log_cfg *lc);
/* Log driver plugins (logplugin.c): the lookup logdrv.c uses, set once at start; at a
 * start, the FIFO and LogDriver.StartLogging for a plugin driver (@logo: shim.json's "log",
 * which gets "plugin_fifo"); when the run ended, LogDriver.StopLogging. */
void ctr_log_plugins_init(struct daemon *d);
int ctr_log_plugin_start(struct daemon *d, struct container *c, json_t *logo, struct berr *err);
void ctr_log_plugin_stop(struct daemon *d, struct container *c);
/* `docker logs` of a container whose log plugin reads logs back (Capabilities ReadLogs):
 * the LogDriver.ReadLogs stream of length-prefixed LogEntry records; *@ret NULL when the
 * driver is no such plugin (the local cache is read then). */
struct ctr_logs_opts;
struct plugin_stream;
int ctr_log_plugin_reader(struct daemon *d, struct container *c, const struct ctr_logs_opts *o,
                          struct plugin_stream **ret, struct berr *err);

/* Paths. */
char *ctr_data_dir(struct daemon *d, const char *id);
char *ctr_bundle_dir(struct daemon *d, const char *id);
char *ctr_log_path(struct daemon *d, const char *id);

/* Mounts (container_mounts.c): HostConfig.Binds and .Mounts and Config.Volumes checked as
 * dockerd does; Docker's MountPoint list for inspect; the volumes a container needs,
 * created with it; OCI mounts for the spec (a missing -v source directory is created, an
 * empty volume gets the image's content at its path). */
int ctr_mounts_parse(const struct ctr_config *cc, json_t **ret, struct berr *err);
json_t *ctr_mounts_inspect(struct daemon *d, struct container *c);
/* The same with berth's own keys ("_subpath": the part of the volume mounted), for docker
 * cp; ctr_mounts_open_subpath: an O_PATH fd of @sub resolved inside @volume_dir. */
json_t *ctr_mounts_list(struct daemon *d, struct container *c);
int ctr_mounts_open_subpath(const char *volume_dir, const char *sub, struct berr *err);
int ctr_mounts_create_volumes(struct daemon *d, struct container *c, struct berr *err);
int ctr_mounts_oci(struct daemon *d, struct container *c, const char *rootfs, json_t **ret, struct berr *err);
/* --volumes-from at create: the mounts of each container named (a missing one is dockerd's
 * "No such container"), read-only where asked, later ones winning on a destination;
 * *@ret NULL when none is named. ctr_mounts_from_load: the record's copy, well-formed
 * entries only. */
int ctr_mounts_resolve_from(struct daemon *d, const struct ctr_config *cc, json_t **ret, struct berr *err);
json_t *ctr_mounts_from_load(json_t *rec_list);
/* Names of the container's anonymous volumes (removed with rm -v and --rm). */
int ctr_mounts_anonymous(struct daemon *d, struct container *c, json_t **ret);
bool ctr_mounts_uses_volume(struct daemon *d, struct container *c, const char *name);
/* After a run (no lock held): the volumes with driver options it used that no other
 * running, paused or starting container uses are unmounted, as dockerd's local driver
 * does when a volume's last user goes. */
void ctr_mounts_release(struct daemon *d, struct container *c);
/* How many containers (any state) use volume @name; their IDs in @out, ", "-separated. */
int ctr_volume_users(struct daemon *d, const char *name, char *out, size_t size);
/* Every volume any container uses, with how many: {"name": count}. *@ret_all_known is
 * false if a container's mounts could not be read (then nothing may be pruned). */
json_t *ctr_volumes_in_use(struct daemon *d, bool *ret_all_known);
/* At start, once the containers are restored: the plugin volume mounts of containers
 * that stopped (or vanished) while berthd was down are unmounted, once each. */
void ctr_mounts_recover_plugins(struct daemon *d);

/* HEALTHCHECK (health.c): start probing a running container that has a health check;
 * the thread ends with the run. health_json: State.Health (c->lock held), NULL without. */
void health_start(struct daemon *d, struct container *c);
json_t *health_json(struct container *c);
void health_wait_all(struct daemon *d);

/* Networks (container_network.c, with container_net_json.c, container_net_ports.c and
 * container_links.c): the one place network modes are resolved. */
/* At create: NetworkMode + NetworkingConfig -> the Networks record. */
/* @body: the create request, for NetworkingConfig; @req: the same request decoded. */
int ctr_net_config(struct daemon *d, json_t *body, const struct ctr_config *req, json_t **ret, struct berr *err);
/* At start: the namespace the runtime joins (@ns_path "" for the host's). */
int ctr_net_start(struct daemon *d, struct container *c, char *ns_path, size_t size, struct berr *err);
/* At exit or a failed start (c->lock held or the container not yet shared). */
void ctr_net_stop(struct daemon *d, struct container *c);
/* After a berthd restart, for a running container. */
void ctr_net_restore(struct daemon *d, struct container *c);
/* Its embedded DNS again: once every running container's endpoints are restored (a query
 * waiting in a kept socket is answered at once, and must find every name). */
void ctr_net_restore_dns(struct daemon *d, struct container *c);
/* container_dns.c: the embedded DNS sockets kept by the container's shim. Hand them over
 * once the shim runs (and after every net_dns_attach of a running container); take them
 * back after a berthd restart (0: served again, on the same sockets). */
void ctr_dns_hand_to_shim(struct daemon *d, struct container *c);
int ctr_dns_take_from_shim(struct daemon *d, struct container *c, const char *ns, const char *const *servers,
                           struct berr *err);
void ctr_net_primary_ip(struct container *c, char out[16]);
void ctr_net_primary_ip6(struct container *c, char out[46]);
/* Whether /etc/resolv.conf names the embedded DNS server (127.0.0.11). */
/* Whether one of the container's endpoints is on a network whose driver or IPAM driver is a
 * plugin. Caller holds c->lock. */
bool ctr_net_uses_plugins(struct daemon *d, struct container *c);
bool ctr_net_embedded_dns(struct container *c);
void ctr_net_host_gateway(struct daemon *d, struct container *c, char out[16]);
/* --link name[:alias]: the variables and /etc/hosts lines dockerd gives (the linked
 * container must run); arrays of strings. */
/* DELETE /containers/{id}?link=true (docker rm --link /parent/alias): the parent forgets
 * its link (dockerd's errors: the container's own name is "Conflict, cannot remove the
 * default link name of the container"; an unknown link name is not found). */
int ctr_remove_link(struct daemon *d, const char *ref, struct berr *err);
int ctr_net_links(struct daemon *d, struct container *c, json_t **ret_env, json_t **ret_hosts, struct berr *err);
int ctr_rewrite_resolv_conf(struct daemon *d, struct container *c, struct berr *err); /* c->lock held */
bool ctr_net_is_host(struct container *c);
/* PidMode / IpcMode "container:<x>": /proc/<pid>/ns/pid and ns/ipc of running x, and
 * x's /dev/shm for the IPC case ("" when the mode is not container:). */
int ctr_join_ns_paths(struct daemon *d, struct container *c, char pid_ns[64], char ipc_ns[64], char shm[80],
                      struct berr *err);
bool ctr_net_on(struct container *c, const char *net_id, const char *net_name);
json_t *ctr_net_settings_json(struct daemon *d, struct container *c); /* c->lock held */
json_t *ctr_net_list_json(struct container *c);                       /* c->lock held */
json_t *ctr_net_ports_list_json(struct container *c);                 /* ps "Ports", c->lock held */
json_t *ctr_net_stats(struct daemon *d, struct container *c);
int ctr_net_connect(struct daemon *d, struct container *c, const char *ref, json_t *cfg, struct berr *err);
int ctr_net_disconnect(struct daemon *d, struct container *c, const char *ref, bool force, struct berr *err);
/* The network API's daemon side (create, remove, prune): networks.h. */

/* Internal to the container module (container*.c, monitor.c). */
/* c->lock held: @cc becomes c->cc (taken; -ENOMEM leaves it with the caller); the old one
 * is kept (retired), since a thread holding a reference may still read it without the lock. ctr_config_revert: the last retired one
 * comes back (a record that could not be written). ctr_config_reclaim (no lock held): the
 * retired configs are freed when only the table and the caller hold the container. */
int ctr_config_replace(struct container *c, struct ctr_config *cc);
void ctr_config_revert(struct container *c);
void ctr_config_reclaim(struct daemon *d, struct container *c);
int ctr_cgroup_dir(pid_t pid, const char *controller, char *out, size_t size);
int ctr_save(struct daemon *d, struct container *c, struct berr *err);
/* ctr_save in two halves: the texts made under c->lock (prepare), written later without
 * it (finish: skipped when a newer text was made meanwhile, which its maker writes). The
 * exit path writes the record after the waiters were woken. ctr_save_forget (c->lock
 * held): no text made so far is written any more, none is being written on return (a
 * removal takes the directory away). */
struct ctr_save_job {
        char *text, *hc;
        uint64_t seq;
        bool state_change; /* a state change only (running, exited): one fsync (fs_write_atomic_update) */
};
int ctr_save_prepare(struct daemon *d, struct container *c, struct ctr_save_job *job, struct berr *err);
int ctr_save_finish(struct daemon *d, struct container *c, struct ctr_save_job *job, struct berr *err);
void ctr_save_forget(struct container *c);
/* ctr_save for a state change (ctr_set_state): a record this process wrote before gets its
 * new version with one fsync. Every other change (rename, update, connect) is ctr_save's,
 * durable as DESIGN.md's "State on disk" asks. Caller holds c->lock. */
int ctr_save_state(struct daemon *d, struct container *c, struct berr *err);
void ctr_handle_exit(struct daemon *d, struct container *c);
int monitor_start(struct daemon *d, struct berr *err);
void monitor_stop(struct daemon *d);
int monitor_watch(struct daemon *d, struct container *c, int fd, struct berr *err);
void ctr_now(char out[40]);
void ctr_maybe_restart(struct daemon *d, struct container *c);  /* after an exit */
/* The policy's decision after an exit the user did not ask for, and Docker's back-off
 * before the restart (@prev_ms 0 before the first; @run_s how long the run lasted). */
bool ctr_restart_policy_wants(enum ctr_restart policy, int64_t max_retries, int exit_code, int restart_count);
int ctr_restart_backoff_ms(int prev_ms, double run_s);
void ctr_start_policy_containers(struct daemon *d);              /* at daemon start */
/* Root filesystems (container_rootfs.c), as the kernel's mount table has them. */
int ctr_rootfs_mount(struct daemon *d, struct container *c, struct berr *err); /* c->lock held; never twice */
int ctr_rootfs_unmount(struct daemon *d, const char *id, struct berr *err);    /* all under its dir, verified */
int ctr_rootfs_detach(struct daemon *d, const char *id, struct berr *err);     /* its rootfs, by statx, no table */
void ctr_unmount_rootfs(struct daemon *d, struct container *c); /* caller holds c->lock; logs a failure */
/* c->lock held: wait while an exit still detaches the rootfs (before mounting it again). */
void ctr_rootfs_wait_detached(struct container *c);
/* Remove the container's directories: unmount (verified), its bundle, its record, the rest. */
int ctr_dirs_remove(struct daemon *d, const char *id, bool durable, struct berr *err);
/* container_trash.c: @parent/@id renamed to @parent/.rm-@id and deleted by a thread of its
 * own (with @sync_parent, @parent is fsync'd first). ctr_trash_found: at start-up, a
 * ".rm-" entry of @parent (what a crash left half deleted) is queued; other names are
 * ignored. ctr_trash_flush: wait (at most @timeout_s) until the queue is done. */
#define CTR_TRASH_PREFIX ".rm-"
int ctr_trash(const char *parent, const char *id, bool sync_parent, struct berr *err);
void ctr_trash_found(const char *parent, const char *name);
void ctr_trash_flush(int timeout_s);
/* The deleting thread, started with the store (not at the first removal: berthd's thread
 * count is then the same before and after one, as the load tests check). */
void ctr_trash_start(void);
/* Start-up after a crash (container_recover.c). ctr_recover_dir: 1 if DATA-ROOT/containers/
 * @id had no complete record and was removed (skip it). ctr_recover_stopped: for a loaded
 * container the record says is not running: true if a shim still ran it (a start cut
 * short: killed, and its exit handled as any other), else its rootfs is unmounted and
 * stale shim files go. ctr_recover_orphans: bundles of no container are removed. */
int ctr_recover_dir(struct daemon *d, const char *id);
bool ctr_recover_stopped(struct daemon *d, struct container *c);
void ctr_recover_orphans(struct daemon *d);
