/* plugin_run.c - a managed plugin run as a container, as dockerd's plugin/v2 InitSpec
 * describes it: the plugin's rootfs as root, Entrypoint + Settings.Args, PATH and
 * Settings.Env, WorkDir, the default capabilities plus Linux.Capabilities, its mounts and
 * devices, host network/pid/ipc when asked, EXEC-ROOT/mp/<id12> bound at
 * /run/docker/plugins (where it makes Interface.Socket). The OCI spec comes from the same
 * translation as a container's (a Docker config made from the plugin's), adjusted; the
 * bundle is EXEC-ROOT/plugin-bundles/<id>, run by berth-shim like a container's, with the
 * plugin's output in plugin-json.log there. The shim is detached: a plugin outlives a
 * berthd restart, which takes it back. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/tree.h"
#include "daemon.h"
#include "plugin/plugin.h"
#include "plugin_mgr_int.h"
#include "runtime/ctr_config.h"
#include "runtime/spec.h"
#include "shim/msg.h"
#include "shim_exe.h"

#define SOCKET_WAIT_MS 10000   /* dockerd: 0.5 s, then 3 tries 3 s apart */
#define SHUTDOWN_WAIT_MS 10000 /* dockerd's shutdownTimeout, after SIGTERM and after SIGKILL */
#define SHIM_ANSWER_S 60
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define PLUGIN_LOG_NAME "plugin-json.log"

extern char **environ;

struct run_paths {
        char bundle[4200]; /* EXEC-ROOT/plugin-bundles/<id> */
        char sock_dir[4200]; /* EXEC-ROOT/mp/<id12>: short, sun_path is 108 bytes */
        char rootfs[4200];
        char prop[4200];   /* DATA-ROOT/plugins/<id>/propagated-mount */
        char sock[4200];   /* sock_dir/Interface.Socket */
};

static int paths_of(struct daemon *d, struct mplugin *p, struct run_paths *ps, struct berr *err) {
        json_t *cfg = json_object_get(p->obj, "Config");
        const char *sock = json_string_value(json_object_get(json_object_get(cfg, "Interface"), "Socket")) ?: "";
        if (fs_path_fmt(ps->bundle, sizeof(ps->bundle), "%s/plugin-bundles/%s", d->cfg.exec_root, p->id) < 0 ||
            fs_path_fmt(ps->sock_dir, sizeof(ps->sock_dir), "%s/mp/%.12s", d->cfg.exec_root, p->id) < 0 ||
            fs_path_fmt(ps->rootfs, sizeof(ps->rootfs), "%s/plugins/%s/rootfs", d->cfg.data_root, p->id) < 0 ||
            fs_path_fmt(ps->prop, sizeof(ps->prop), "%s/plugins/%s/propagated-mount", d->cfg.data_root, p->id) < 0 ||
            fs_path_fmt(ps->sock, sizeof(ps->sock), "%s/%s", ps->sock_dir, sock) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "plugin %s: path too long", p->id);
        return 0;
}

static bool socket_name_ok(const char *s) {
        return s && *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && strlen(s) < 64;
}

/* ---- the spec ---- */

static json_t *mount_obj(const char *src, const char *dst, const char *type, json_t *options) {
        return json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", type && *type ? type : "none", "source", src,
                         "options", options ? options : json_array());
}

/* The Docker config and host config the plugin amounts to, for the container translation. */
static int docker_config(json_t *cfg, json_t *settings, json_t **ret_cfg, json_t **ret_hc, struct berr *err) {
        json_t *lx = json_object_get(cfg, "Linux");
        const char *net = json_string_value(json_object_get(json_object_get(cfg, "Network"), "Type")) ?: "";
        json_t *devices = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(settings, "Devices"), i, v) {
                const char *path = json_string_value(json_object_get(v, "Path"));
                if (!path)
                        return json_decref(devices), berr_set(err, BERR_INVALID, EINVAL, "device path is not specified");
                json_array_append_new(devices, json_pack("{s:s, s:s, s:s}", "PathOnHost", path, "PathInContainer", path,
                                                         "CgroupPermissions", "rwm"));
        }
        json_t *caps = json_object_get(lx, "Capabilities");
        *ret_hc = json_pack("{s:s, s:s, s:s, s:O, s:o, s:[s], s:I}", "NetworkMode", strcmp(net, "host") == 0 ? "host" : "none",
                            "PidMode", json_is_true(json_object_get(cfg, "PidHost")) ? "host" : "",
                            "IpcMode", json_is_true(json_object_get(cfg, "IpcHost")) ? "host" : "private", "CapAdd",
                            caps ? caps : json_null(), "Devices", devices, "SecurityOpt", "seccomp=unconfined", "ShmSize",
                            (json_int_t) 64 << 20);
        /* the command is replaced after the translation (Entrypoint + Settings.Args) */
        *ret_cfg = json_pack("{s:s, s:[s]}", "WorkingDir", "/", "Entrypoint", "/plugin");
        if (!*ret_hc || !*ret_cfg)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        return 0;
}

static int build_spec(struct daemon *d, struct mplugin *p, const struct run_paths *ps, json_t **ret, struct berr *err) {
        json_t *cfg = json_object_get(p->obj, "Config"), *settings = json_object_get(p->obj, "Settings");
        _cleanup_json_ json_t *dcfg = NULL, *dhc = NULL;
        int r = docker_config(cfg, settings, &dcfg, &dhc, err);
        if (r < 0)
                return r;
        struct ctr_config *cc = NULL;
        if ((r = ctr_config_decode(dcfg, dhc, NULL, &cc, err)) < 0)
                return berr_wrap(err, "plugin %s", mplugin_name(p));
        _cleanup_json_ json_t *mounts = json_array();
        const char *prop = json_string_value(json_object_get(cfg, "PropagatedMount")) ?: "";
        if (*prop)
                json_array_append_new(mounts, mount_obj(ps->prop, prop, "bind", json_pack("[s,s,s]", "rbind", "rw", "rshared")));
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(settings, "Mounts"), i, m) {
                const char *src = json_string_value(json_object_get(m, "Source"));
                const char *dst = json_string_value(json_object_get(m, "Destination")) ?: "";
                if (!src) {
                        ctr_config_free(cc);
                        return berr_set(err, BERR_INVALID, EINVAL, "mount source is not specified");
                }
                if (*dst != '/') {
                        ctr_config_free(cc);
                        return berr_set(err, BERR_INVALID, EINVAL, "mount destination %s is not absolute", dst);
                }
                json_t *opts = json_deep_copy(json_object_get(m, "Options"));
                json_array_append_new(mounts, mount_obj(src, dst, json_string_value(json_object_get(m, "Type")),
                                                        json_is_array(opts) ? opts : (json_decref(opts), NULL)));
        }
        json_array_append_new(mounts, mount_obj(ps->sock_dir, "/run/docker/plugins", "bind", json_pack("[s,s]", "rbind", "rshared")));
        const char *net = json_string_value(json_object_get(json_object_get(cfg, "Network"), "Type")) ?: "";
        if (*net) { /* dockerd binds the host's files for any network type */
                json_array_append_new(mounts, mount_obj("/etc/hosts", "/etc/hosts", "bind", json_pack("[s,s]", "rbind", "ro")));
                json_array_append_new(mounts,
                                      mount_obj("/etc/resolv.conf", "/etc/resolv.conf", "bind", json_pack("[s,s]", "rbind", "ro")));
        }
        _cleanup_close_ int rfd = open(ps->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0) {
                ctr_config_free(cc);
                return berr_sys(err, BERR_INTERNAL, "open %s", ps->rootfs);
        }
        struct spec_input in = {
                .id = p->id,
                .cc = cc,
                .rootfs_path = ps->rootfs,
                .rootfs_fd = rfd,
                .cgroup_parent = "/berth-plugins",
                .mounts = mounts,
                .default_seccomp = "unconfined",
                .in_userns = d->rootless,
        };
        _cleanup_json_ json_t *spec = NULL;
        r = spec_generate(&in, &spec, err);
        ctr_config_free(cc);
        if (r < 0)
                return berr_wrap(err, "plugin %s", mplugin_name(p));
        /* the process as dockerd's InitSpec makes it */
        json_t *proc = json_object_get(spec, "process");
        json_t *args = json_array(), *env = json_array();
        json_t *v;
        json_array_foreach(json_object_get(cfg, "Entrypoint"), i, v) json_array_append(args, v);
        json_array_foreach(json_object_get(settings, "Args"), i, v) json_array_append(args, v);
        if (json_array_size(args) == 0) {
                json_decref(args);
                json_decref(env);
                return berr_set(err, BERR_INVALID, EINVAL, "plugin %s: no Entrypoint", mplugin_name(p));
        }
        json_array_append_new(env, json_string("PATH=" DEFAULT_PATH));
        json_array_foreach(json_object_get(settings, "Env"), i, v) json_array_append(env, v);
        json_object_set_new(proc, "args", args);
        json_object_set_new(proc, "env", env);
        const char *wd = json_string_value(json_object_get(cfg, "WorkDir")) ?: "";
        json_object_set_new(proc, "cwd", json_string(*wd ? wd : "/"));
        json_object_set_new(proc, "terminal", json_false());
        json_t *lx = json_object_get(spec, "linux");
        if (json_is_true(json_object_get(json_object_get(cfg, "Linux"), "AllowAllDevices"))) {
                json_t *res = json_object_get(lx, "resources");
                if (!res)
                        json_object_set_new(lx, "resources", res = json_object());
                json_object_set_new(res, "devices", json_pack("[{s:b, s:s}]", "allow", 1, "access", "rwm"));
        }
        if (*prop)
                json_object_set_new(lx, "rootfsPropagation", json_string("rshared"));
        *ret = TAKE_PTR(spec);
        return 0;
}

/* ---- the shim ---- */

static int write_bundle(struct daemon *d, struct mplugin *p, const struct run_paths *ps, json_t *spec, struct berr *err) {
        _cleanup_close_ int bfd = open(ps->bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (bfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", ps->bundle);
        _cleanup_free_ char *text = json_dumps(spec, JSON_COMPACT);
        char log[4300], cache[4200];
        if (fs_path_fmt(log, sizeof(log), "%s/%s", ps->bundle, PLUGIN_LOG_NAME) < 0 ||
            fs_path_fmt(cache, sizeof(cache), "%s/seccomp", d->cfg.exec_root) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s: path too long", ps->bundle);
        _cleanup_json_ json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s, s:I, s:I}, s:b, s:b, s:b}", "id", p->id,
                                             "seccomp_cache_dir", cache, "log", "driver", "json-file", "path", log,
                                             "max_size", (json_int_t) 10 << 20, "max_file", (json_int_t) 1, "tty", 0,
                                             "open_stdin", 0, "stdin_once", 0);
        _cleanup_free_ char *opts = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (!text || !opts)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = fs_write_replace(bfd, "config.json", text, strlen(text), 0600, err);
        if (r == 0)
                r = fs_write_replace(bfd, SHIM_OPTIONS_NAME, opts, strlen(opts), 0600, err);
        (void) unlinkat(bfd, SHIM_EXIT_NAME, 0);
        (void) unlinkat(bfd, SHIM_SOCK_NAME, 0);
        return r;
}

/* berth-shim BUNDLE with the start-up socket on fd 3 (as a container's start does). */
static int spawn_shim(struct daemon *d, const char *bundle, int *ret_sync, struct berr *err) {
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return berr_sys(err, BERR_INTERNAL, "socketpair");
        _cleanup_close_ int mine = sp[0], theirs = sp[1];
        if (theirs == 3) {
                int moved = fcntl(theirs, F_DUPFD_CLOEXEC, 10);
                if (moved < 0)
                        return berr_sys(err, BERR_INTERNAL, "fcntl");
                close(theirs);
                theirs = moved;
        }
        char log[4300];
        if (fs_path_fmt(log, sizeof(log), "%s/shim.log", bundle) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s/shim.log: path too long", bundle);
        char exe[64];
        int r = shim_exec_path(d, exe, sizeof(exe), err);
        if (r < 0)
                return r;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        posix_spawn_file_actions_adddup2(&fa, theirs, 3);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t none, dfl;
        sigemptyset(&none);
        sigfillset(&dfl);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &dfl);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        char *argv[] = { d->shim_path, (char *) bundle, NULL };
        pid_t pid;
        r = posix_spawn(&pid, exe, &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r != 0) {
                errno = r;
                return berr_sys(err, BERR_INTERNAL, "start %s", d->shim_path);
        }
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        struct timeval tv = { .tv_sec = SHIM_ANSWER_S };
        (void) setsockopt(mine, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        *ret_sync = TAKE_FD(mine);
        return 0;
}

static int shim_start(struct daemon *d, const char *bundle, struct berr *err) {
        _cleanup_close_ int sync = -1;
        int r = spawn_shim(d, bundle, &sync, err);
        if (r < 0)
                return r;
        struct shim_msg m;
        if ((r = shim_msg_recv(sync, &m, NULL, err)) < 0)
                return berr_wrap(err, "the shim did not answer (see %s/shim.log)", bundle);
        if (m.type != SHIM_MSG_CREATED)
                return berr_set(err, BERR_INTERNAL, m.status < 0 ? -m.status : EIO, "%s",
                                m.text[0] ? m.text : "the shim failed to create the plugin's container");
        shim_msg_init(&m, SHIM_REQ_START);
        if ((r = shim_msg_send(sync, &m, -1, err)) < 0 || (r = shim_msg_recv(sync, &m, NULL, err)) < 0)
                return r;
        if (m.type != SHIM_MSG_STARTED)
                return berr_set(err, BERR_INTERNAL, m.status < 0 ? -m.status : EIO, "%s",
                                m.text[0] ? m.text : "the plugin did not start");
        return 0;
}

/* A connection that ends when the shim does (SHIM_REQ_WATCH); -1 when no shim runs. */
static int shim_watch(const char *bundle) {
        struct berr e = { 0 };
        int fd = shim_connect(bundle, &e);
        if (fd < 0)
                return -1;
        struct shim_msg m;
        shim_msg_init(&m, SHIM_REQ_WATCH);
        if (shim_msg_send(fd, &m, -1, &e) < 0 || shim_msg_recv(fd, &m, NULL, &e) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

static void shim_signal(const char *bundle, int sig) {
        struct berr e = { 0 };
        _cleanup_close_ int fd = shim_connect(bundle, &e);
        if (fd < 0)
                return;
        struct shim_msg m;
        shim_msg_init(&m, SHIM_REQ_KILL);
        m.signal = sig;
        if (shim_msg_send(fd, &m, -1, &e) == 0)
                (void) shim_msg_recv(fd, &m, NULL, &e); /* gone meanwhile: the watch sees it */
}

/* @timeout_ms -1: as long as it takes. */
static bool wait_eof(int fd, int timeout_ms) {
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                clock_gettime(CLOCK_MONOTONIC, &now);
                long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
                if (timeout_ms >= 0 && spent >= timeout_ms)
                        return false;
                int n = poll(&pf, 1, timeout_ms < 0 ? -1 : (int) (timeout_ms - spent));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0;
                char buf[sizeof(struct shim_msg)];
                ssize_t got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
                        return true;
        }
}

/* dockerd's shutdownPlugin: SIGTERM, up to 10 s, SIGKILL, up to 10 s. */
static void shutdown_shim(const char *bundle) {
        _cleanup_close_ int w = shim_watch(bundle);
        if (w < 0)
                return;
        shim_signal(bundle, SIGTERM);
        if (wait_eof(w, SHUTDOWN_WAIT_MS))
                return;
        shim_signal(bundle, SIGKILL);
        if (!wait_eof(w, SHUTDOWN_WAIT_MS))
                log_warn("plugin bundle %s: the plugin did not stop", bundle);
}

/* The plugin's socket accepts (dockerd dials it before calling it ready); the plugin's
 * exit first fails at once with what it wrote. */
static int wait_socket(const struct run_paths *ps, int timeout_ms, struct berr *err) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(ps->sock) >= sizeof(sa.sun_path))
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s: socket path too long", ps->sock);
        memcpy(sa.sun_path, ps->sock, strlen(ps->sock) + 1);
        char exit_path[4300];
        if (fs_path_fmt(exit_path, sizeof(exit_path), "%s/%s", ps->bundle, SHIM_EXIT_NAME) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "path too long");
        for (int waited = 0;; waited += 20) {
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return berr_sys(err, BERR_INTERNAL, "socket");
                int r = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
                close(fd);
                if (r == 0)
                        return 0;
                if (access(exit_path, F_OK) == 0) {
                        char logp[4300];
                        _cleanup_free_ char *text = NULL;
                        size_t len = 0;
                        struct berr e = { 0 };
                        if (fs_path_fmt(logp, sizeof(logp), "%s/%s", ps->bundle, PLUGIN_LOG_NAME) == 0)
                                (void) fs_read_file(AT_FDCWD, logp, 64 << 10, &text, &len, &e);
                        const char *tail = text && len > 300 ? text + len - 300 : text ? text : "";
                        return berr_set(err, BERR_INTERNAL, ECHILD, "plugin exited before its socket was ready: %s", tail);
                }
                if (waited >= timeout_ms)
                        return berr_set(err, BERR_INTERNAL, ETIMEDOUT, "dial unix %s: connect: no such file or directory",
                                        ps->sock);
                struct timespec ts = { .tv_nsec = 20 * 1000000L };
                nanosleep(&ts, NULL);
        }
}

static int join_registry(struct daemon *d, struct mplugin *p, const struct run_paths *ps, int timeout_s,
                         struct berr *err) {
        const char *kinds[PLUGIN_MAX_IMPLEMENTS];
        size_t n = plugin_config_kinds(json_object_get(p->obj, "Config"), kinds, PLUGIN_MAX_IMPLEMENTS);
        char addr[4300];
        if (fs_path_fmt(addr, sizeof(addr), "unix://%s", ps->sock) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "path too long");
        long timeout_ms = timeout_s > 0 ? (long) timeout_s * 1000 : 30000;
        const char *prop = json_string_value(json_object_get(json_object_get(p->obj, "Config"), "PropagatedMount"));
        struct plugin_scope scope = { .rootfs = ps->rootfs, .prop_mount = prop, .prop_root = ps->prop };
        return plugin_registry_put_managed(d->plugins, mplugin_name(p), addr, kinds, n, &scope, timeout_ms, err);
}

/* rm -rf of an absolute path: its parent opened, the last component removed. */
static void remove_path(const char *path) {
        char parent[4200];
        snprintf(parent, sizeof(parent), "%s", path);
        char *slash = strrchr(parent, '/');
        if (!slash || slash == parent)
                return;
        *slash = '\0';
        _cleanup_close_ int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct berr e = { 0 };
        if (fd >= 0 && tree_remove_at(fd, slash + 1, &e) < 0)
                log_debug("plugin: remove %s: %s", path, e.msg);
}

static void remove_run_dirs(const struct run_paths *ps) {
        remove_path(ps->bundle);
        remove_path(ps->sock_dir);
}

/* dockerd's MakeRShared on the propagated mount's directory, so mounts the plugin makes
 * there reach the host (volumes it serves). */
static int prepare_propagated(struct mplugin *p, const struct run_paths *ps, struct berr *err) {
        const char *prop = json_string_value(json_object_get(json_object_get(p->obj, "Config"), "PropagatedMount")) ?: "";
        if (!*prop)
                return 0;
        if (mkdir(ps->prop, 0755) < 0 && errno != EEXIST)
                return berr_sys(err, BERR_INTERNAL, "create %s", ps->prop);
        if (mount(ps->prop, ps->prop, NULL, MS_BIND | MS_REC, NULL) < 0 ||
            mount(NULL, ps->prop, NULL, MS_SHARED | MS_REC, NULL) < 0)
                return berr_sys(err, BERR_INTERNAL, "error setting up propagated mount dir");
        return 0;
}

static void release_propagated(const struct run_paths *ps) {
        (void) umount2(ps->prop, MNT_DETACH); /* not mounted (no PropagatedMount) is fine */
}

/* ---- a plugin that exits is started again (dockerd's controller.restart) ---- */

struct watch_arg {
        struct daemon *d;
        struct mplugin *p;
        unsigned gen;
        int fd;
};

static void watcher_done(struct plugin_mgr *m, struct mplugin *p) {
        m->n_watchers--;
        p->n_watchers--;
        pthread_cond_broadcast(&m->cond);
        pthread_mutex_unlock(&m->lock);
}

static void *watcher(void *arg) {
        struct watch_arg a = *(struct watch_arg *) arg;
        free(arg);
        struct plugin_mgr *m = a.d->pmgr;
        (void) wait_eof(a.fd, -1);
        pthread_mutex_lock(&m->lock);
        if (a.p->watch_fd == a.fd)
                a.p->watch_fd = -1;
        close(a.fd);
        /* stopped on purpose (disable, remove, a new run) or berthd is stopping */
        while (!m->is_closing && a.p->run_gen == a.gen && a.p->busy)
                pthread_cond_wait(&m->cond, &m->lock);
        if (m->is_closing || a.p->run_gen != a.gen || !mplugin_enabled(a.p)) {
                watcher_done(m, a.p);
                return NULL;
        }
        a.p->busy = true;
        pthread_mutex_unlock(&m->lock);
        /* it stays in the registry meanwhile: calls retry connecting, as while it starts */
        log_warn("plugin %s exited; starting it again", mplugin_name(a.p));
        struct timespec ts = { .tv_sec = 1 };
        nanosleep(&ts, NULL);
        struct berr e = { 0 };
        int r = pmgr_run_start(a.d, a.p, 0, &e);
        pthread_mutex_lock(&m->lock);
        if (r < 0) {
                log_error("plugin %s could not be started again, disabled: %s", mplugin_name(a.p), e.msg);
                plugin_registry_managed_state(a.d->plugins, mplugin_name(a.p), false);
                json_object_set_new(a.p->obj, "Enabled", json_false());
        }
        a.p->busy = false;
        pthread_mutex_unlock(&m->lock);
        if (r < 0 && pmgr_save(a.d, a.p, &e) < 0)
                log_error("plugin %s: %s", mplugin_name(a.p), e.msg);
        pthread_mutex_lock(&m->lock);
        watcher_done(m, a.p);
        return NULL;
}

static void start_watcher(struct daemon *d, struct mplugin *p, const char *bundle) {
        struct plugin_mgr *m = d->pmgr;
        int fd = shim_watch(bundle);
        struct watch_arg *a = fd >= 0 ? calloc(1, sizeof(*a)) : NULL;
        if (!a) {
                if (fd >= 0)
                        close(fd);
                log_warn("plugin %s: cannot watch it (it is not started again if it exits)", mplugin_name(p));
                return;
        }
        pthread_mutex_lock(&m->lock);
        a->d = d;
        a->p = p;
        a->gen = ++p->run_gen;
        a->fd = fd;
        p->watch_fd = fd;
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, watcher, a) == 0) {
                m->n_watchers++;
                p->n_watchers++;
        }
        else {
                p->watch_fd = -1;
                close(fd);
                free(a);
        }
        pthread_attr_destroy(&attr);
        pthread_mutex_unlock(&m->lock);
}

/* Whatever watches this run lets go (the shim's exit is ours). */
static void forget_watcher(struct daemon *d, struct mplugin *p) {
        struct plugin_mgr *m = d->pmgr;
        pthread_mutex_lock(&m->lock);
        p->run_gen++;
        if (p->watch_fd >= 0)
                (void) shutdown(p->watch_fd, SHUT_RDWR); /* the watcher wakes, sees the new gen */
        pthread_mutex_unlock(&m->lock);
}

void pmgr_run_close(struct daemon *d) {
        struct plugin_mgr *m = d->pmgr;
        pthread_mutex_lock(&m->lock);
        m->is_closing = true;
        for (struct mplugin *p = m->list; p; p = p->next)
                if (p->watch_fd >= 0)
                        (void) shutdown(p->watch_fd, SHUT_RDWR);
        pthread_cond_broadcast(&m->cond);
        while (m->n_watchers > 0)
                pthread_cond_wait(&m->cond, &m->lock);
        pthread_mutex_unlock(&m->lock);
}

int pmgr_run_start(struct daemon *d, struct mplugin *p, int timeout_s, struct berr *err) {
        struct run_paths ps;
        int r = paths_of(d, p, &ps, err);
        if (r < 0)
                return r;
        const char *sock = json_string_value(json_object_get(json_object_get(json_object_get(p->obj, "Config"), "Interface"),
                                                             "Socket"));
        if (!socket_name_ok(sock))
                return berr_set(err, BERR_INVALID, EINVAL, "plugin %s: Interface.Socket must be a file name",
                                mplugin_name(p));
        char dir[4200];
        shutdown_shim(ps.bundle); /* a leftover from a run berthd lost track of */
        remove_run_dirs(&ps);
        if (fs_path_fmt(dir, sizeof(dir), "%s/plugin-bundles", d->cfg.exec_root) < 0 ||
            (mkdir(dir, 0700) < 0 && errno != EEXIST) || (mkdir(ps.bundle, 0700) < 0 && errno != EEXIST))
                return berr_sys(err, BERR_INTERNAL, "create %s", ps.bundle);
        if (fs_path_fmt(dir, sizeof(dir), "%s/mp", d->cfg.exec_root) < 0 || (mkdir(dir, 0700) < 0 && errno != EEXIST) ||
            (mkdir(ps.sock_dir, 0700) < 0 && errno != EEXIST))
                return berr_sys(err, BERR_INTERNAL, "create %s", ps.sock_dir);
        _cleanup_json_ json_t *spec = NULL;
        if ((r = build_spec(d, p, &ps, &spec, err)) < 0 || (r = prepare_propagated(p, &ps, err)) < 0 ||
            (r = write_bundle(d, p, &ps, spec, err)) < 0)
                goto fail;
        if ((r = shim_start(d, ps.bundle, err)) < 0)
                goto fail;
        if ((r = wait_socket(&ps, SOCKET_WAIT_MS, err)) < 0 || (r = join_registry(d, p, &ps, timeout_s, err)) < 0) {
                shutdown_shim(ps.bundle);
                goto fail;
        }
        start_watcher(d, p, ps.bundle);
        return 0;
fail:
        release_propagated(&ps);
        remove_run_dirs(&ps);
        return r;
}

int pmgr_run_restore(struct daemon *d, struct mplugin *p, struct berr *err) {
        struct run_paths ps;
        int r = paths_of(d, p, &ps, err);
        if (r < 0)
                return r;
        _cleanup_close_ int w = shim_watch(ps.bundle);
        if (w >= 0 && wait_socket(&ps, 2000, err) == 0 && join_registry(d, p, &ps, 0, err) == 0) {
                start_watcher(d, p, ps.bundle);
                return 0; /* it kept running while berthd was away */
        }
        return pmgr_run_start(d, p, 0, err);
}

void pmgr_run_stop(struct daemon *d, struct mplugin *p) {
        struct run_paths ps;
        struct berr e = { 0 };
        if (paths_of(d, p, &ps, &e) < 0)
                return;
        forget_watcher(d, p);
        shutdown_shim(ps.bundle);
        release_propagated(&ps);
        remove_run_dirs(&ps);
}

void pmgr_run_cleanup(struct daemon *d, struct mplugin *p) {
        pmgr_run_stop(d, p);
}
