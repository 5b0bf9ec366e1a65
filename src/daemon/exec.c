/* exec.c - docker exec instances. Create records the configuration; start builds the
 * OCI process from the container's own (capabilities, seccomp, rlimits, no-new-privs
 * as the container has them) with the exec's command, environment, user and working
 * directory, leaves it in the bundle for the shim, and hands the client's stream to the
 * shim with SHIM_REQ_EXEC. The shim reports the exit on the same connection. */
#include "exec.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/id.h"
#include "common/json.h"
#include "common/log.h"
#include "common/trace.h"
#include "container.h"
#include "daemon.h"
#include "events.h"
#include "exit_code.h"
#include "runtime/caps.h"
#include "runtime/spec.h"
#include "runtime/runtime.h"
#include "shim/msg.h"

#define EXEC_KEEP_EXITED_S 300     /* exited instances stay inspectable this long */
#define EXEC_KEEP_UNSTARTED_S 3600 /* and created ones that were never started */

struct exec_rec {
        char id[65];
        char ctr_id[65];
        json_t *cmd; /* array of strings, non-empty */
        json_t *env; /* array of strings or NULL */
        char *user, *workdir;
        char detach_keys[64];
        bool tty, attach_stdin, attach_stdout, attach_stderr, privileged;
        bool raw_stream; /* the start's Tty: no stream headers (dockerd frames by the start request) */
        unsigned rows, cols;
        /* state, under d->exec_lock */
        bool started, running, has_exit;
        int exit_code;
        pid_t pid;
        time_t created, ended;
        UT_hash_handle hh;
};


static void rec_free(struct exec_rec *e) {
        json_decref(e->cmd);
        json_decref(e->env);
        free(e->user);
        free(e->workdir);
        free(e);
}

/* dockerd's conditions for exec: running, and not paused. */
static int check_execable(struct container *c, struct berr *err) {
        pthread_mutex_lock(&c->lock);
        enum ctr_state st = ctr_state_shown(c);
        pthread_mutex_unlock(&c->lock);
        if (st == CTR_PAUSED)
                return berr_set(err, BERR_CONFLICT, EBUSY, "Container %s is paused, unpause the container before exec", c->id);
        if (st != CTR_RUNNING)
                return berr_set(err, BERR_CONFLICT, EINVAL, "Container %s is not running", c->id);
        return 0;
}

/* Exited instances are kept a while for inspect; older ones go (d->exec_lock held). */
static void gc_locked(struct daemon *d) {
        time_t now = time(NULL);
        struct exec_rec *e, *tmp;
        HASH_ITER(hh, d->execs, e, tmp) {
                bool stale = e->has_exit ? now - e->ended > EXEC_KEEP_EXITED_S
                                         : !e->started && now - e->created > EXEC_KEEP_UNSTARTED_S;
                if (stale && !e->running) {
                        HASH_DEL(d->execs, e);
                        rec_free(e);
                }
        }
}

static int strings_array(json_t *v, const char *what, bool required, json_t **ret, struct berr *err) {
        *ret = NULL;
        if (!v || json_is_null(v)) {
                if (required)
                        return berr_set(err, BERR_INVALID, EINVAL, "No exec command specified");
                return 0;
        }
        size_t i;
        json_t *s;
        if (!json_is_array(v))
                return berr_set(err, BERR_INVALID, EINVAL, "%s must be an array of strings", what);
        json_array_foreach(v, i, s) if (!json_is_string(s)) return berr_set(err, BERR_INVALID, EINVAL,
                                                                             "%s must be an array of strings", what);
        if (required && json_array_size(v) == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "No exec command specified");
        *ret = json_incref(v);
        return 0;
}

static int console_size(json_t *body, unsigned *rows, unsigned *cols, struct berr *err) {
        json_t *cs = json_object_get(body, "ConsoleSize");
        if (!cs || json_is_null(cs))
                return 0;
        if (!json_is_array(cs) || json_array_size(cs) != 2 || !json_is_integer(json_array_get(cs, 0)) ||
            !json_is_integer(json_array_get(cs, 1)))
                return berr_set(err, BERR_INVALID, EINVAL, "ConsoleSize must be an array of two integers");
        json_int_t h = json_integer_value(json_array_get(cs, 0)), w = json_integer_value(json_array_get(cs, 1));
        if (h < 0 || w < 0 || h > 65535 || w > 65535)
                return berr_set(err, BERR_INVALID, EINVAL, "ConsoleSize out of range");
        *rows = (unsigned) h;
        *cols = (unsigned) w;
        return 0;
}

static json_t *event_extra(const struct exec_rec *e) {
        return json_pack("{s:s}", "execID", e->id);
}

/* "exec_create: sh -c echo hi", as dockerd names the action. */
static void emit(struct daemon *d, struct container *c, const char *what, const struct exec_rec *e, json_t *extra) {
        char action[512];
        int n = snprintf(action, sizeof(action), "%s:", what);
        size_t i;
        json_t *a;
        json_array_foreach(e->cmd, i, a) {
                if (n < 0 || (size_t) n >= sizeof(action))
                        break;
                n += snprintf(action + n, sizeof(action) - (size_t) n, " %s", json_string_value(a));
        }
        json_t *x = extra ? extra : event_extra(e);
        events_container(d, c, action, x);
}

int exec_create(struct daemon *d, struct container *c, json_t *body, char ret_id[65], struct berr *err) {
        int r = check_execable(c, err);
        if (r < 0)
                return r;
        struct exec_rec *e = calloc(1, sizeof(*e));
        if (!e)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        r = strings_array(json_object_get(body, "Cmd"), "Cmd", true, &e->cmd, err);
        if (r == 0)
                r = strings_array(json_object_get(body, "Env"), "Env", false, &e->env, err);
        if (r == 0)
                r = console_size(body, &e->rows, &e->cols, err);
        const char *user = json_string_value(json_object_get(body, "User"));
        const char *wd = json_string_value(json_object_get(body, "WorkingDir"));
        const char *keys = json_string_value(json_object_get(body, "DetachKeys"));
        if (r == 0 && wd && wd[0] && wd[0] != '/')
                r = berr_set(err, BERR_INVALID, EINVAL, "the working directory '%s' is invalid, it needs to be an absolute path", wd);
        if (r == 0 && keys && keys[0]) {
                uint8_t tmp[SHIM_DETACH_KEYS_MAX];
                size_t n;
                if (ctr_parse_detach_keys(keys, tmp, sizeof(tmp), &n, err) < 0) /* dockerd's wording for exec */
                        r = berr_set(err, BERR_INVALID, EINVAL, "Invalid escape keys (%s) provided", keys);
        }
        if (r == 0 && user && strlen(user) > 256)
                r = berr_set(err, BERR_INVALID, EINVAL, "invalid user");
        if (r == 0)
                r = id_random_hex(e->id, err);
        if (r < 0) {
                rec_free(e);
                return r;
        }
        snprintf(e->ctr_id, sizeof(e->ctr_id), "%s", c->id);
        snprintf(e->detach_keys, sizeof(e->detach_keys), "%s", keys ? keys : "");
        e->user = strdup(user ? user : "");
        e->workdir = strdup(wd ? wd : "");
        e->tty = json_is_true(json_object_get(body, "Tty"));
        e->privileged = json_is_true(json_object_get(body, "Privileged"));
        e->attach_stdin = json_is_true(json_object_get(body, "AttachStdin"));
        e->attach_stdout = json_is_true(json_object_get(body, "AttachStdout"));
        e->attach_stderr = json_is_true(json_object_get(body, "AttachStderr"));
        if (!e->user || !e->workdir) {
                rec_free(e);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        e->created = time(NULL);
        pthread_mutex_lock(&d->exec_lock);
        gc_locked(d);
        HASH_ADD_STR(d->execs, id, e);
        pthread_mutex_unlock(&d->exec_lock);
        memcpy(ret_id, e->id, 65);
        /* A removal that ran meanwhile did not see this one. */
        pthread_mutex_lock(&c->lock);
        /* REMOVING too: its execs are forgotten before it is marked removed */
        bool removed = c->state == CTR_REMOVING || c->state == CTR_REMOVED;
        pthread_mutex_unlock(&c->lock);
        if (removed) {
                exec_forget_container(d, c->id);
                return berr_set(err, BERR_CONFLICT, EINVAL, "Container %s is not running", c->id);
        }
        emit(d, c, "exec_create", e, NULL);
        return 0;
}

/* Threads that outlive their request (detached waits, relays) are counted, so a shutdown
 * waits for them before the state they use goes. */
static void exec_thread_enter(struct daemon *d) {
        atomic_fetch_add(&d->exec_threads, 1);
}

static void exec_thread_leave(struct daemon *d) {
        atomic_fetch_sub(&d->exec_threads, 1);
}

int exec_claim(struct daemon *d, const char *id, unsigned rows, unsigned cols, bool start_tty, struct container **ret_c,
               struct berr *err) {
        pthread_mutex_lock(&d->exec_lock);
        struct exec_rec *e = NULL;
        HASH_FIND_STR(d->execs, id, e);
        char ctr_id[65] = "";
        int r = 0;
        if (!e)
                r = berr_set(err, BERR_NOT_FOUND, ENOENT, "No such exec instance: %s", id);
        else if (e->running)
                r = berr_set(err, BERR_CONFLICT, EBUSY, "Error: Exec command %s is already running", id);
        else if (e->started)
                r = berr_set(err, BERR_CONFLICT, EALREADY, "Error: Exec command %s has already run", id);
        else {
                e->started = true;
                e->raw_stream = start_tty;
                if (rows && cols) { /* the start's ConsoleSize wins over the create's */
                        e->rows = rows;
                        e->cols = cols;
                }
                memcpy(ctr_id, e->ctr_id, sizeof(ctr_id));
        }
        pthread_mutex_unlock(&d->exec_lock);
        if (r < 0)
                return r;
        struct container *c = NULL;
        r = ctr_lookup(d, ctr_id, &c, err);
        if (r == 0 && (r = check_execable(c, err)) < 0)
                ctr_unref(d, c);
        if (r < 0) {
                pthread_mutex_lock(&d->exec_lock);
                HASH_FIND_STR(d->execs, id, e);
                if (e)
                        e->started = false;
                pthread_mutex_unlock(&d->exec_lock);
                return r;
        }
        *ret_c = c;
        return 0;
}

/* "KEY=value" replaces an entry of the same KEY, else is appended. */
static void env_set(json_t *env, const char *kv) {
        size_t klen = strcspn(kv, "=");
        size_t i;
        json_t *v;
        json_array_foreach(env, i, v) {
                const char *s = json_string_value(v);
                if (s && strncmp(s, kv, klen) == 0 && (s[klen] == '=' || s[klen] == '\0')) {
                        json_array_set_new(env, i, json_string(kv));
                        return;
                }
        }
        json_array_append_new(env, json_string(kv));
}

static void env_unset(json_t *env, const char *key) {
        size_t klen = strlen(key);
        for (size_t i = json_array_size(env); i-- > 0;) {
                const char *s = json_string_value(json_array_get(env, i));
                if (s && strncmp(s, key, klen) == 0 && s[klen] == '=')
                        json_array_remove(env, i);
        }
}

/* -u: resolved in the container's /etc/passwd and /etc/group, with the container's
 * --group-add groups as dockerd adds them. */
static int resolve_user(struct daemon *d, const struct exec_rec *e, json_t *p, struct berr *err) {
        _cleanup_free_ char *dir = ctr_data_dir(d, e->ctr_id);
        _cleanup_free_ char *rootfs = NULL;
        if (!dir || asprintf(&rootfs, "%s/rootfs", dir) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        _cleanup_close_ int rfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", rootfs);
        const char *groups[64];
        size_t ng = 0;
        struct container *c = NULL;
        struct berr e2 = { 0 };
        _cleanup_json_ json_t *ga = NULL;
        if (ctr_lookup(d, e->ctr_id, &c, &e2) == 0) {
                ga = strv_to_json(&c->cc->hc.group_add);
                ctr_unref(d, c);
        }
        size_t i;
        json_t *g;
        json_array_foreach(ga, i, g) if (json_is_string(g) && ng < 64) groups[ng++] = json_string_value(g);
        json_t *user = NULL;
        int r = spec_user_resolve(rfd, e->user, groups, ng, &user, err);
        if (r < 0)
                return r;
        json_object_set_new(p, "user", user);
        return 0;
}

/* The spec's process of @c's current run: from c->exec_process when this run had an exec
 * already, else from config.json (kept for the next). The run is told by start_seq, read
 * before the file: a start bumps it after its config.json is written, so the text is of
 * that run or a later one, and a later one's is never used under the earlier number. */
static int spec_process(struct container *c, const char *bundle, json_t **ret, struct berr *err) {
        pthread_mutex_lock(&c->lock);
        uint64_t seq = c->start_seq;
        _cleanup_free_ char *text = c->exec_process && c->exec_process_seq == seq ? strdup(c->exec_process) : NULL;
        pthread_mutex_unlock(&c->lock);
        json_error_t je;
        if (text) {
                json_t *p = json_loads(text, 0, &je);
                if (json_is_object(p)) {
                        *ret = p;
                        return 0;
                }
                json_decref(p); /* cannot be: it was made from an object */
        }
        _cleanup_free_ char *spec_path = NULL;
        if (asprintf(&spec_path, "%s/config.json", bundle) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        _cleanup_json_ json_t *spec = json_load_file(spec_path, 0, &je);
        json_t *proc = json_object_get(spec, "process");
        if (!json_is_object(proc))
                return berr_set(err, BERR_INTERNAL, EINVAL, "container %s: no process in its bundle: %s", c->id, je.text);
        char *keep = json_dumps(proc, JSON_COMPACT);
        if (keep) {
                pthread_mutex_lock(&c->lock);
                free(c->exec_process);
                c->exec_process = keep;
                c->exec_process_seq = seq;
                pthread_mutex_unlock(&c->lock);
        }
        *ret = json_deep_copy(proc);
        return *ret ? 0 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
}

/* The OCI process for @e: the container's, with the exec's own fields. */
static int build_process(struct daemon *d, struct container *c, const struct exec_rec *e, const char *bundle,
                         json_t **ret, struct berr *err) {
        _cleanup_json_ json_t *p = NULL; /* ours: changed below */
        int r = spec_process(c, bundle, &p, err);
        if (r < 0)
                return r;
        json_object_set(p, "args", e->cmd);
        json_t *env = json_object_get(p, "env");
        if (!json_is_array(env)) {
                env = json_array();
                json_object_set_new(p, "env", env);
        }
        /* dockerd builds an exec's environment anew: TERM only when the exec has a TTY. */
        env_unset(env, "TERM");
        if (e->tty)
                env_set(env, "TERM=xterm");
        if (e->user[0]) {
                r = resolve_user(d, e, p, err);
                if (r < 0)
                        return r;
                env_unset(env, "HOME"); /* the runtime finds the new user's, unless -e sets one */
        }
        size_t i;
        json_t *v;
        json_array_foreach(e->env, i, v) env_set(env, json_string_value(v));
        json_object_set_new(p, "terminal", json_boolean(e->tty));
        if (e->privileged) {
                /* dockerd: every capability in the bounding, permitted and effective sets. The
                 * container's seccomp profile and device rules still apply. */
                json_t *all = json_array();
                for (int cap = 0; cap <= caps_last(); cap++)
                        json_array_append_new(all, json_string(caps_to_name(cap)));
                json_object_set_new(p, "capabilities",
                                    json_pack("{s:O, s:O, s:o}", "bounding", all, "permitted", all, "effective", all));
        }
        json_object_del(p, "consoleSize");
        if (e->workdir[0])
                json_object_set_new(p, "cwd", json_string(e->workdir));
        *ret = TAKE_PTR(p);
        return 0;
}

/* Dumped to memory and written in one write(2): json_dumpfd writes token by token. */
static int write_process(const char *bundle, const char *id, json_t *p, struct berr *err) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/" SHIM_EXEC_FILE_PREFIX "%s.json", bundle, id) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        _cleanup_free_ char *text = json_dumps(p, JSON_COMPACT);
        if (!text)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "create %s", path);
        if (fs_write_all(fd, text, strlen(text)) < 0) {
                (void) unlink(path);
                return berr_set(err, BERR_INTERNAL, EIO, "write %s", path);
        }
        return 0;
}

static void record_start(struct daemon *d, const char *id, pid_t pid) {
        pthread_mutex_lock(&d->exec_lock);
        struct exec_rec *e = NULL;
        HASH_FIND_STR(d->execs, id, e);
        if (e) {
                e->running = true;
                e->pid = pid;
        }
        pthread_mutex_unlock(&d->exec_lock);
}

static void record_exit(struct daemon *d, struct container *c, const char *id, int code, bool emit_die) {
        pthread_mutex_lock(&d->exec_lock);
        struct exec_rec *e = NULL;
        HASH_FIND_STR(d->execs, id, e);
        json_t *cmd = NULL;
        if (e) {
                e->running = false;
                e->has_exit = true;
                e->exit_code = code;
                e->ended = time(NULL);
                cmd = json_incref(e->cmd);
        }
        pthread_mutex_unlock(&d->exec_lock);
        if (!cmd)
                return;
        if (emit_die) {
                struct exec_rec tmp = { .cmd = cmd };
                snprintf(tmp.id, sizeof(tmp.id), "%s", id);
                char code_s[16];
                snprintf(code_s, sizeof(code_s), "%d", code);
                emit(d, c, "exec_die", &tmp, json_pack("{s:s, s:s}", "execID", id, "exitCode", code_s));
        }
        json_decref(cmd);
}

struct waiter {
        struct daemon *d;
        struct container *c;
        char id[65];
        int conn;
        int stream; /* the client's stream, -1 when detached */
};

/* Wait on the shim connection for the exit (or the client's detach). */
static void wait_exit(struct waiter *w) {
        struct timeval tv = { .tv_sec = 1 };
        (void) setsockopt(w->conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        for (;;) {
                struct shim_msg m;
                struct berr e2 = { 0 };
                int r = shim_msg_recv(w->conn, &m, NULL, &e2);
                if (r < 0 && (e2.errnum == EAGAIN || e2.errnum == EWOULDBLOCK || e2.errnum == EINTR)) {
                        if (w->d->shutting_down)
                                return;
                        continue;
                }
                if (r < 0) { /* the shim went away without a word: it was killed */
                        record_exit(w->d, w->c, w->id, 137, true);
                        return;
                }
                if (m.type == SHIM_MSG_DETACHED) {
                        if (w->stream >= 0)
                                (void) shutdown(w->stream, SHUT_RDWR);
                        continue;
                }
                if (m.type == SHIM_MSG_EXITED) {
                        trace_mark("berthd exec EXITED received");
                        record_exit(w->d, w->c, w->id, m.status, true);
                        return;
                }
        }
}

static void *detached_waiter(void *arg) {
        struct waiter *w = arg;
        struct daemon *d = w->d;
        wait_exit(w);
        close(w->conn);
        ctr_unref(w->d, w->c);
        free(w);
        atomic_fetch_sub(&d->exec_threads, 1);
        return NULL;
}

/* Write an error to the client's stream, framed as stdout unless it is a raw stream. */
static void stream_error(int fd, bool raw, const char *msg) {
        char text[1200];
        int n = snprintf(text, sizeof(text), "%s\r\n", msg);
        if (n < 0)
                return;
        size_t len = (size_t) n < sizeof(text) ? (size_t) n : sizeof(text) - 1;
        if (!raw) {
                unsigned char h[8] = { 1, 0, 0, 0, (unsigned char) (len >> 24), (unsigned char) (len >> 16),
                                       (unsigned char) (len >> 8), (unsigned char) len };
                (void) !send(fd, h, sizeof(h), MSG_NOSIGNAL);
        }
        (void) !send(fd, text, len, MSG_NOSIGNAL);
}

int exec_run(struct daemon *d, const char *id, struct container *c, int fd, struct berr *err) {
        return exec_run_hooked(d, id, c, fd, NULL, err);
}

int exec_run_hooked(struct daemon *d, const char *id, struct container *c, int fd, void (*before_start)(int fd),
                    struct berr *err) {
        struct exec_rec snap = { 0 };
        json_t *cmd = NULL, *env = NULL;
        char user[260] = "", workdir[4096] = "";
        pthread_mutex_lock(&d->exec_lock);
        struct exec_rec *e = NULL;
        HASH_FIND_STR(d->execs, id, e);
        if (e) {
                snap = *e;
                cmd = json_incref(e->cmd);
                env = json_incref(e->env);
                snprintf(user, sizeof(user), "%s", e->user);
                snprintf(workdir, sizeof(workdir), "%s", e->workdir);
        }
        pthread_mutex_unlock(&d->exec_lock);
        if (!e)
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "No such exec instance: %s", id);
        snap.cmd = cmd;
        snap.env = env;
        snap.user = user;
        snap.workdir = workdir;

        rt_cgroup_attach_warm(); /* the shim's attach of the process waits for no RCU grace period */
        trace_mark("berthd exec start");
        _cleanup_free_ char *bundle = ctr_bundle_dir(d, c->id);
        _cleanup_json_ json_t *process = NULL;
        int r = bundle ? build_process(d, c, &snap, bundle, &process, err) : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (r == 0)
                r = write_process(bundle, id, process, err);
        trace_mark("berthd exec process built and written");
        int conn = -1;
        struct shim_msg m;
        if (r == 0) {
                conn = shim_connect(bundle, err);
                r = conn < 0 ? conn : 0;
        }
        if (r == 0) {
                shim_msg_init(&m, SHIM_REQ_EXEC);
                snprintf(m.text, sizeof(m.text), "%s", id);
                m.flags = (snap.attach_stdin ? SHIM_ATTACH_STDIN : 0) | (snap.attach_stdout ? SHIM_ATTACH_STDOUT : 0) |
                          (snap.attach_stderr ? SHIM_ATTACH_STDERR : 0) | (snap.tty ? SHIM_EXEC_TTY : 0) |
                          (snap.raw_stream ? 0 : SHIM_ATTACH_MULTIPLEX);
                m.rows = snap.rows;
                m.cols = snap.cols;
                size_t nk = 0;
                r = ctr_parse_detach_keys(snap.detach_keys[0] ? snap.detach_keys : "ctrl-p,ctrl-q", m.detach_keys,
                                          SHIM_DETACH_KEYS_MAX, &nk, err);
                m.n_detach_keys = snap.tty ? (uint32_t) nk : 0; /* binary-safe stdin without a TTY */
        }
        trace_mark("berthd exec shim connected");
        if (before_start && fd >= 0) { /* also before an error goes to the stream */
                before_start(fd);
                trace_mark("berthd exec client ready");
        }
        if (r == 0)
                r = shim_msg_send(conn, &m, fd, err);
        if (r == 0)
                r = shim_msg_recv(conn, &m, NULL, err);
        trace_mark("berthd exec STARTED received");
        /* dockerd records 126 for every exec that did not start, a command that is not
         * there included (only a container's start translates the errno: `docker run` of
         * one is 127), and writes the runtime's error to the stream. */
        int code = CTR_EXIT_CANNOT_INVOKE;
        if (r == 0 && m.type != SHIM_MSG_STARTED)
                r = berr_set(err, BERR_INTERNAL, m.status < 0 ? -m.status : EIO,
                             "OCI runtime exec failed: exec failed: unable to start container process: %s: unknown", m.text);
        if (r < 0) {
                _cleanup_free_ char *path = NULL;
                if (bundle && asprintf(&path, "%s/" SHIM_EXEC_FILE_PREFIX "%s.json", bundle, id) >= 0)
                        (void) unlink(path); /* the shim takes it when it got that far */
                if (conn >= 0)
                        close(conn);
                record_exit(d, c, id, code, false);
                if (fd >= 0)
                        stream_error(fd, snap.raw_stream, err->msg);
                json_decref(cmd);
                json_decref(env);
                return r;
        }
        record_start(d, id, m.pid);
        emit(d, c, "exec_start", &snap, NULL);
        json_decref(cmd);
        json_decref(env);

        struct waiter *w = calloc(1, sizeof(*w));
        if (!w) {
                close(conn);
                record_exit(d, c, id, 137, false); /* its end can no longer be seen */
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        *w = (struct waiter){ .d = d, .c = c, .conn = conn, .stream = fd };
        snprintf(w->id, sizeof(w->id), "%s", id);
        if (fd >= 0) {
                wait_exit(w);
                close(conn);
                free(w);
                return 0;
        }
        /* Detached: the exit is recorded by a thread of its own, which holds a reference. */
        pthread_mutex_lock(&d->ctr_lock);
        c->refs++;
        pthread_mutex_unlock(&d->ctr_lock);
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 64 * 1024);
        atomic_fetch_add(&d->exec_threads, 1);
        if (pthread_create(&t, &a, detached_waiter, w) != 0) {
                atomic_fetch_sub(&d->exec_threads, 1);
                close(conn);
                record_exit(d, c, id, 137, false);
                ctr_unref(d, c);
                free(w);
        }
        pthread_attr_destroy(&a);
        return 0;
}

int exec_inspect(struct daemon *d, const char *id, json_t **ret, struct berr *err) {
        pthread_mutex_lock(&d->exec_lock);
        struct exec_rec *e = NULL;
        HASH_FIND_STR(d->execs, id, e);
        json_t *o = NULL;
        if (e) {
                json_t *args = json_array();
                for (size_t i = 1; i < json_array_size(e->cmd); i++)
                        json_array_append(args, json_array_get(e->cmd, i));
                /* dockerd keeps DetachKeys as the parsed bytes ([]byte: base64 in JSON, "" for
                 * none given) and ProcessConfig.user with omitempty. */
                uint8_t keys[SHIM_DETACH_KEYS_MAX];
                size_t nk = 0;
                char keys64[4 * ((SHIM_DETACH_KEYS_MAX + 2) / 3) + 1] = "";
                struct berr ke = { 0 };
                if (e->detach_keys[0] && ctr_parse_detach_keys(e->detach_keys, keys, sizeof(keys), &nk, &ke) == 0)
                        EVP_EncodeBlock((unsigned char *) keys64, keys, (int) nk);
                json_t *pc = json_pack("{s:o, s:O, s:b, s:b}", "arguments", args, "entrypoint", json_array_get(e->cmd, 0),
                                       "privileged", e->privileged, "tty", e->tty);
                if (pc && e->user[0])
                        json_object_set_new(pc, "user", json_string(e->user));
                o = json_pack("{s:b, s:s, s:s, s:o, s:s, s:b, s:b, s:b, s:o, s:b, s:i}", "CanRemove", 0, "ContainerID",
                              e->ctr_id, "DetachKeys", keys64, "ExitCode",
                              e->has_exit ? json_integer(e->exit_code) : json_null(), "ID", e->id, "OpenStderr",
                              e->attach_stderr, "OpenStdin", e->attach_stdin, "OpenStdout", e->attach_stdout,
                              "ProcessConfig", pc, "Running", e->running, "Pid", (int) e->pid);
        }
        pthread_mutex_unlock(&d->exec_lock);
        if (!e)
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "No such exec instance: %s", id);
        if (!o)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        *ret = o;
        return 0;
}

int exec_resize(struct daemon *d, const char *id, unsigned rows, unsigned cols, struct berr *err) {
        pthread_mutex_lock(&d->exec_lock);
        struct exec_rec *e = NULL;
        HASH_FIND_STR(d->execs, id, e);
        char ctr_id[65] = "";
        bool running = e && e->running;
        if (e)
                memcpy(ctr_id, e->ctr_id, sizeof(ctr_id));
        pthread_mutex_unlock(&d->exec_lock);
        if (!e)
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "No such exec instance: %s", id);
        if (!running)
                return berr_set(err, BERR_CONFLICT, EINVAL, "Exec %s is not running", id);
        _cleanup_free_ char *bundle = ctr_bundle_dir(d, ctr_id);
        _cleanup_close_ int conn = bundle ? shim_connect(bundle, err) : -1;
        if (conn < 0)
                return bundle ? conn : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        struct shim_msg m;
        shim_msg_init(&m, SHIM_REQ_RESIZE);
        snprintf(m.text, sizeof(m.text), "%s", id);
        m.rows = rows;
        m.cols = cols;
        int r = shim_msg_send(conn, &m, -1, err);
        if (r == 0)
                r = shim_msg_recv(conn, &m, NULL, err);
        if (r == 0 && m.status < 0)
                return berr_set(err, m.status == -ESRCH ? BERR_CONFLICT : m.status == -ENOTTY ? BERR_INVALID : BERR_INTERNAL,
                                -m.status, "%s", m.status == -ENOTTY ? "the exec has no TTY" : m.text);
        return r;
}

json_t *exec_ids_json(struct daemon *d, const char *ctr_id) {
        json_t *a = NULL;
        pthread_mutex_lock(&d->exec_lock);
        struct exec_rec *e, *tmp;
        HASH_ITER(hh, d->execs, e, tmp) {
                if (!e->has_exit && strcmp(e->ctr_id, ctr_id) == 0) { /* created or running, as dockerd */
                        if (!a)
                                a = json_array();
                        json_array_append_new(a, json_string(e->id));
                }
        }
        pthread_mutex_unlock(&d->exec_lock);
        return a ? a : json_null();
}

void exec_forget_container(struct daemon *d, const char *ctr_id) {
        pthread_mutex_lock(&d->exec_lock);
        struct exec_rec *e, *tmp;
        HASH_ITER(hh, d->execs, e, tmp) {
                if (strcmp(e->ctr_id, ctr_id) == 0) {
                        HASH_DEL(d->execs, e);
                        rec_free(e);
                }
        }
        pthread_mutex_unlock(&d->exec_lock);
}

void exec_forget_all(struct daemon *d) {
        /* Waiters notice the shutdown within a second (their receive timeout). */
        for (int i = 0; i < 300 && atomic_load(&d->exec_threads) > 0; i++) {
                struct timespec ts = { 0, 10 * 1000000L };
                nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&d->exec_lock);
        struct exec_rec *e, *tmp;
        HASH_ITER(hh, d->execs, e, tmp) {
                HASH_DEL(d->execs, e);
                rec_free(e);
        }
        pthread_mutex_unlock(&d->exec_lock);
}

/* ---- exec start without a hijacked stream ---- */

struct relay_run {
        struct daemon *d;
        struct container *c;
        char id[65];
        int fd;
};

static void *relay_thread(void *p) {
        struct relay_run *r = p;
        struct berr err = { 0 };
        (void) exec_run(r->d, r->id, r->c, r->fd, &err); /* errors went to the stream */
        close(r->fd); /* EOF for the reader */
        ctr_unref(r->d, r->c);
        struct daemon *d = r->d;
        free(r);
        exec_thread_leave(d);
        return NULL;
}

int exec_run_relayed(struct daemon *d, const char *id, struct container *c, int *ret_fd, struct berr *err) {
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                ctr_unref(d, c);
                return berr_sys(err, BERR_INTERNAL, "socketpair");
        }
        (void) shutdown(sp[0], SHUT_WR); /* no stdin this way */
        struct relay_run *r = calloc(1, sizeof(*r));
        if (!r) {
                close(sp[0]);
                close(sp[1]);
                ctr_unref(d, c);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        *r = (struct relay_run){ .d = d, .c = c, .fd = sp[1] };
        snprintf(r->id, sizeof(r->id), "%s", id);
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        exec_thread_enter(d);
        int e = pthread_create(&t, &a, relay_thread, r);
        pthread_attr_destroy(&a);
        if (e != 0) {
                exec_thread_leave(d);
                close(sp[0]);
                close(sp[1]);
                ctr_unref(d, c);
                free(r);
                return berr_set(err, BERR_INTERNAL, e, "cannot start the exec");
        }
        *ret_fd = sp[0];
        return 0;
}

/* ---- health-check probes: an exec that nobody sees (not listed, no events) ---- */

/* Frames of the multiplexed stream in @buf[0..*len): their payloads, up to @max bytes,
 * go to @out; what is left of an incomplete frame stays at the start of @buf. */
static void demux(char *buf, size_t *len, char *out, size_t *out_len, size_t max) {
        size_t off = 0;
        while (*len - off >= 8) {
                uint32_t n = ((uint32_t) (unsigned char) buf[off + 4] << 24) | ((uint32_t) (unsigned char) buf[off + 5] << 16) |
                             ((uint32_t) (unsigned char) buf[off + 6] << 8) | (uint32_t) (unsigned char) buf[off + 7];
                if (*len - off - 8 < n)
                        break;
                size_t take = n < max - *out_len ? n : max - *out_len;
                memcpy(out + *out_len, buf + off + 8, take);
                *out_len += take;
                off += 8 + n;
        }
        memmove(buf, buf + off, *len - off);
        *len -= off;
}

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int exec_probe(struct daemon *d, struct container *c, json_t *cmd, int timeout_ms, int *ret_code, char *out,
               size_t out_size, struct berr *err) {
        struct exec_rec e = { 0 };
        int r = id_random_hex(e.id, err);
        if (r < 0)
                return r;
        snprintf(e.ctr_id, sizeof(e.ctr_id), "%s", c->id);
        e.cmd = cmd;
        e.user = (char *) "";
        e.workdir = (char *) "";
        e.attach_stdout = e.attach_stderr = true;
        _cleanup_free_ char *bundle = ctr_bundle_dir(d, c->id);
        _cleanup_json_ json_t *process = NULL;
        r = bundle ? build_process(d, c, &e, bundle, &process, err) : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (r == 0)
                r = write_process(bundle, e.id, process, err);
        if (r < 0)
                return r;
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return berr_sys(err, BERR_INTERNAL, "socketpair");
        (void) shutdown(sp[0], SHUT_WR); /* no stdin */
        _cleanup_close_ int rd = sp[0];
        _cleanup_close_ int conn = shim_connect(bundle, err);
        struct shim_msg m;
        if (conn < 0) {
                close(sp[1]);
                return conn;
        }
        shim_msg_init(&m, SHIM_REQ_EXEC);
        snprintf(m.text, sizeof(m.text), "%s", e.id);
        m.flags = SHIM_ATTACH_STDOUT | SHIM_ATTACH_STDERR | SHIM_ATTACH_MULTIPLEX;
        r = shim_msg_send(conn, &m, sp[1], err);
        close(sp[1]);
        if (r == 0)
                r = shim_msg_recv(conn, &m, NULL, err);
        if (r == 0 && m.type != SHIM_MSG_STARTED)
                r = berr_set(err, BERR_INVALID, m.status < 0 ? -m.status : EIO, "%s", m.text);
        if (r < 0) {
                char path[4200];
                if (fs_path_fmt(path, sizeof(path), "%s/" SHIM_EXEC_FILE_PREFIX "%s.json", bundle, e.id) == 0)
                        (void) unlink(path);
                return r;
        }
        /* Output until EOF (the shim lets go after the exit), the exit on the connection. */
        int64_t deadline = mono_ms() + timeout_ms;
        char buf[8192];
        size_t len = 0, out_len = 0;
        bool timed_out = false, eof = false;
        while (!eof) {
                int64_t left = deadline - mono_ms();
                if (left <= 0 || d->shutting_down) {
                        timed_out = true;
                        break;
                }
                struct pollfd pf = { .fd = rd, .events = POLLIN };
                int n = poll(&pf, 1, left > 200 ? 200 : (int) left);
                if (n <= 0)
                        continue;
                ssize_t k = read(rd, buf + len, sizeof(buf) - len);
                if (k <= 0) {
                        eof = true;
                        break;
                }
                len += (size_t) k;
                demux(buf, &len, out, &out_len, out_size - 1);
                if (len == sizeof(buf)) /* a frame larger than we keep: drop the buffer */
                        len = 0;
        }
        out[out_len] = '\0';
        if (timed_out) {
                /* Kill it through the shim, then collect the exit as usual. */
                _cleanup_close_ int k = shim_connect(bundle, err);
                struct shim_msg km;
                shim_msg_init(&km, SHIM_REQ_KILL);
                km.signal = SIGKILL;
                snprintf(km.text, sizeof(km.text), "%s", e.id);
                if (k >= 0 && shim_msg_send(k, &km, -1, err) == 0)
                        (void) shim_msg_recv(k, &km, NULL, err);
        }
        struct timeval tv = { .tv_sec = 5 };
        (void) setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        int code = -1;
        for (;;) {
                r = shim_msg_recv(conn, &m, NULL, err);
                if (r < 0)
                        break;
                if (m.type == SHIM_MSG_EXITED) {
                        code = m.status;
                        break;
                }
        }
        *ret_code = timed_out ? -1 : code;
        if (timed_out)
                return berr_set(err, BERR_UNAVAILABLE, ETIMEDOUT, "Health check exceeded timeout (%dms)", timeout_ms);
        return code < 0 ? berr_set(err, BERR_INTERNAL, EIO, "the health check's exit was not reported") : 0;
}
