/* container_start.c - starting a container: root filesystem, /etc files, the OCI bundle,
 * the shim and its start-up handshake (shim/protocol.h). */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/trace.h"
#include "common/tree.h"
#include "logdrv.h"
#include "container.h"
#include "daemon.h"
#include "events.h"
#include "exit_code.h"
#include "image/image_store.h"
#include "reload.h"
#include "rootless.h"
#include "runtime/runtime.h"
#include "runtime/spec.h"
#include "shim/msg.h"
#include "shim_exe.h"
#include "userns.h"

extern char **environ;

#define SHIM_START_TIMEOUT_S 60
#define ATTACH_HANDOFF_TIMEOUT_S 10

/* The files a start writes are made again by the next start (the /etc files) or live in
 * the run root (the bundle): replaced atomically, not fsync'd (fs.h says why). */
static int write_file(const char *dir, const char *name, const char *text, struct berr *err) {
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", dir);
        return fs_write_replace(dfd, name, text, strlen(text), 0644, err);
}

/* A growing text. */
struct text {
        char *p;
        size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void text_add(struct text *t, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *s = NULL;
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if (t->len + (size_t) n + 1 > t->cap) {
                size_t cap = (t->cap + (size_t) n + 1) * 2;
                char *np = realloc(t->p, cap);
                if (!np) {
                        free(s);
                        return;
                }
                t->p = np;
                t->cap = cap;
        }
        memcpy(t->p + t->len, s, (size_t) n + 1);
        t->len += (size_t) n;
        free(s);
}

static bool is_loopback_ns(const char *a) {
        return strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0;
}

/* /etc/resolv.conf as dockerd writes it: the host's search and options, its nameservers
 * without loopback ones (they do not answer inside the container's namespace; Google's
 * when none is left, as dockerd), or --dns/--dns-search/--dns-option; on user networks
 * the embedded server 127.0.0.11 (which forwards to the host's resolvers). */
static bool only_loopback_nameservers(const char *text) {
        bool any = false, other = false;
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                char ns[64];
                if (sscanf(l, "nameserver %63s", ns) == 1) {
                        any = true;
                        other |= !is_loopback_ns(ns);
                }
        }
        return any && !other;
}

static char *container_resolv_conf(struct container *c) {
        _cleanup_free_ char *host = NULL;
        size_t len;
        if (fs_read_file(AT_FDCWD, "/etc/resolv.conf", 1 << 16, &host, &len, NULL) < 0)
                host = strdup("");
        /* systemd-resolved's stub (127.0.0.53) means nothing in a container: its upstream
         * servers are in /run/systemd/resolve/resolv.conf, which dockerd reads then. */
        if (host && only_loopback_nameservers(host)) {
                char *sd = NULL;
                if (fs_read_file(AT_FDCWD, "/run/systemd/resolve/resolv.conf", 1 << 16, &sd, &len, NULL) == 0) {
                        free(host);
                        host = sd;
                }
        }
        if (!host)
                return NULL;
        const struct strv *dns = &c->cc->hc.dns, *search = &c->cc->hc.dns_search, *opts = &c->cc->hc.dns_options;
        bool embedded = ctr_net_embedded_dns(c);
        struct text t = { 0 };
        text_add(&t, "%s", "");
        struct text ns = { 0 }, se = { 0 }, op = { 0 };
        text_add(&ns, "%s", "");
        text_add(&se, "%s", "");
        text_add(&op, "%s", "");
        for (char *save = NULL, *line = strtok_r(host, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char word[32], rest[1024];
                if (sscanf(line, "%31s %1023[^\n]", word, rest) != 2)
                        continue;
                if (strcmp(word, "nameserver") == 0 && !is_loopback_ns(rest) && dns->n == 0)
                        text_add(&ns, "nameserver %s\n", rest);
                else if ((strcmp(word, "search") == 0 || strcmp(word, "domain") == 0) && search->n == 0)
                        text_add(&se, "search %s\n", rest);
                else if (strcmp(word, "options") == 0 && opts->n == 0)
                        text_add(&op, "options %s\n", rest);
        }
        for (size_t i = 0; i < dns->n; i++)
                text_add(&ns, "nameserver %s\n", dns->v[i]);
        if (search->n > 0) {
                text_add(&se, "search");
                for (size_t i = 0; i < search->n; i++)
                        text_add(&se, " %s", search->v[i]);
                text_add(&se, "\n");
        }
        if (opts->n > 0) {
                text_add(&op, "options");
                for (size_t i = 0; i < opts->n; i++)
                        text_add(&op, " %s", opts->v[i]);
                text_add(&op, "\n");
        }
        if (embedded) {
                text_add(&t, "nameserver 127.0.0.11\n%s%s", se.p ?: "", op.p ?: "");
                if (!op.p || !strstr(op.p, "ndots:"))
                        text_add(&t, "options ndots:0\n");
        } else {
                if (!ns.p || !*ns.p)
                        text_add(&ns, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
                text_add(&t, "%s%s%s", ns.p ?: "", se.p ?: "", op.p ?: "");
        }
        free(ns.p);
        free(se.p);
        free(op.p);
        return t.p;
}

/* /etc/hosts: localhost lines, the container's address with its name, --add-host, --link. */
static char *container_hosts(struct daemon *d, struct container *c, json_t *link_lines) {
        const char *host = c->cc->cfg.hostname, *domain = c->cc->cfg.domainname;
        char ip[16], ip6[46];
        ctr_net_primary_ip(c, ip);
        ctr_net_primary_ip6(c, ip6);
        struct text t = { 0 };
        text_add(&t, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
                     "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n");
        for (size_t i = 0; i < c->cc->hc.extra_hosts.n; i++) {
                const char *e = c->cc->hc.extra_hosts.v[i];
                const char *sep = strpbrk(e, ":=");
                if (!sep)
                        continue;
                const char *addr = sep + 1;
                char gw[16];
                if (strcmp(addr, "host-gateway") == 0) {
                        ctr_net_host_gateway(d, c, gw);
                        addr = gw;
                }
                text_add(&t, "%s\t%.*s\n", addr, (int) (sep - e), e);
        }
        size_t i;
        json_t *v;
        json_array_foreach(link_lines, i, v) text_add(&t, "%s\n", json_string_value(v));
        if (domain && *domain)
                text_add(&t, "%s\t%s.%s %s\n", ip[0] ? ip : "127.0.1.1", host, domain, host);
        else
                text_add(&t, "%s\t%s\n", ip[0] ? ip : "127.0.1.1", host);
        /* On a network with IPv6, the container's IPv6 address too, as dockerd adds it. */
        if (ip6[0] && domain && *domain)
                text_add(&t, "%s\t%s.%s %s\n", ip6, host, domain, host);
        else if (ip6[0])
                text_add(&t, "%s\t%s\n", ip6, host);
        return t.p;
}

/* A running container's /etc/resolv.conf after it joined or left a user network: written in
 * place (the file is bind-mounted, so a rename would not reach the container). */
int ctr_rewrite_resolv_conf(struct daemon *d, struct container *c, struct berr *err) {
        _cleanup_free_ char *dir = ctr_data_dir(d, c->id);
        _cleanup_free_ char *text = container_resolv_conf(c);
        if (!dir || !text)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int fd = dfd >= 0 ? openat(dfd, "resolv.conf", O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC) : -1;
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s/resolv.conf", dir);
        size_t len = strlen(text);
        if (write(fd, text, len) != (ssize_t) len)
                return berr_sys(err, BERR_INTERNAL, "write %s/resolv.conf", dir);
        return 0;
}

static int prepare_files(struct daemon *d, struct container *c, const char *dir, struct berr *err) {
        const char *host = c->cc->cfg.hostname;
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s\n", host);
        int r = write_file(dir, "hostname", buf, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *link_env = NULL, *link_hosts = NULL;
        if ((r = ctr_net_links(d, c, &link_env, &link_hosts, err)) < 0)
                return r;
        _cleanup_free_ char *hosts = container_hosts(d, c, link_hosts);
        _cleanup_free_ char *resolv = container_resolv_conf(c);
        if (!hosts || !resolv)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if ((r = write_file(dir, "hosts", hosts, err)) < 0 || (r = write_file(dir, "resolv.conf", resolv, err)) < 0)
                return r;
        /* --userns-remap: the container's root owns them, as with dockerd */
        static const char *const files[] = { "hostname", "hosts", "resolv.conf" };
        _cleanup_close_ int dfd = d->remap ? open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
        for (size_t i = 0; dfd >= 0 && i < ELEMENTSOF(files); i++)
                if ((r = userns_chown(d, dfd, files[i], true, err)) < 0)
                        return r;
        return 0;
}

int ctr_runtime_defaults(struct daemon *d, struct ctr_config *cc, struct berr *err) {
        daemon_opts_rdlock();
        const char *name = *cc->hc.runtime ? cc->hc.runtime : daemon_runtimes_default(&d->cfg.runtimes);
        bool known = daemon_runtimes_known(&d->cfg.runtimes, name);
        int r = known && !*cc->hc.runtime ? ctr_config_set_string(cc, &cc->hc.runtime, name) : 0;
        daemon_opts_unlock();
        if (!known)
                return berr_set(err, BERR_INVALID, EINVAL, "unknown or invalid runtime name: %s", cc->hc.runtime);
        return r < 0 ? berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory") : 0;
}

void ctr_runtime_state_remove(struct daemon *d, const char *id) {
        _cleanup_closedir_ DIR *dir = opendir(d->cfg.exec_root);
        struct dirent *de;
        while (dir && (de = readdir(dir)))
                if (strncmp(de->d_name, "runtime-", 8) == 0 && de->d_type == DT_DIR) {
                        char path[4200];
                        struct berr e = { 0 };
                        if (fs_path_fmt(path, sizeof(path), "%s/%s/%s", d->cfg.exec_root, de->d_name, id) == 0 &&
                            access(path, F_OK) == 0 && tree_remove_at(AT_FDCWD, path, &e) < 0)
                                log_warn("remove %s: %s", path, e.msg);
                }
}

bool ctr_runtime_delete_pending(struct daemon *d, const char *id) {
        _cleanup_free_ char *bundle = ctr_bundle_dir(d, id);
        char path[4200];
        if (!bundle || fs_path_fmt(path, sizeof(path), "%s/%s", bundle, SHIM_RUNTIME_LOCK_NAME) < 0)
                return false;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        return fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
}

bool ctr_runtime_is_external(const struct ctr_config *cc) {
        return *cc->hc.runtime && !STREQ(cc->hc.runtime, DAEMON_BUILTIN_RUNTIME);
}

/* The runtime answers in milliseconds; a hung one must not hold the container's lock
 * (and the monitor waiting for it) long: the shim gives up on it after a minute anyway. */
#define RUNTIME_UPDATE_TIMEOUT_S 10

int ctr_runtime_update(struct daemon *d, struct container *c, const json_t *resources, struct berr *err) {
        _cleanup_free_ char *bundle = ctr_bundle_dir(d, c->id);
        _cleanup_free_ char *text = json_dump_compact(resources);
        if (!bundle || !text)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = write_file(bundle, SHIM_UPDATE_NAME, text, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = shim_connect(bundle, err);
        if (fd < 0)
                return fd;
        struct timeval tv = { .tv_sec = RUNTIME_UPDATE_TIMEOUT_S };
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)); /* without it: the shim's own bound */
        struct shim_msg m;
        shim_msg_init(&m, SHIM_REQ_UPDATE);
        r = shim_msg_send(fd, &m, -1, err);
        if (r == 0)
                r = shim_msg_recv(fd, &m, NULL, err);
        if (r == 0 && m.status < 0)
                r = berr_set(err, BERR_INTERNAL, -m.status, "%s", m.text);
        return r;
}

/* shim.json's "runtime" for a container of an external OCI runtime (shim/oci_runtime.h):
 * the binary looked up now (as dockerd does at each start), its runtimeArgs, and a state
 * directory of berth's own under the exec root (never the /run/runc of a dockerd beside
 * us). NULL in *ret for the built-in runtime. */
static int shim_runtime_options(struct daemon *d, struct container *c, json_t **ret, struct berr *err) {
        *ret = NULL;
        const char *name = c->cc->hc.runtime;
        if (!*name || STREQ(name, DAEMON_BUILTIN_RUNTIME))
                return 0;
        daemon_opts_rdlock();
        const struct daemon_runtime *rt = daemon_runtimes_find(&d->cfg.runtimes, name);
        char path[4200], root[4200];
        int r = 0;
        json_t *o = NULL;
        if (!rt)
                r = berr_set(err, BERR_INVALID, EINVAL, "unknown or invalid runtime name: %s", name);
        else if ((r = daemon_runtime_lookpath(rt->path, getenv("PATH"), path, sizeof(path), err)) < 0)
                berr_wrap(err, "error while looking up the specified runtime path");
        else if (fs_path_fmt(root, sizeof(root), "%s/runtime-%s", d->cfg.exec_root, name) < 0)
                r = berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s: path too long", d->cfg.exec_root);
        else {
                json_t *args = json_array();
                for (size_t i = 0; args && i < rt->n_args; i++)
                        json_array_append_new(args, json_string(rt->args[i]));
                o = json_pack("{s:s, s:s, s:o, s:s}", "name", name, "path", path, "args", args, "root", root);
                if (!o)
                        r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        daemon_opts_unlock();
        *ret = o;
        return r;
}

static int write_shim_options(struct daemon *d, struct container *c, const char *bundle, bool autostart,
                              struct berr *err) {
        struct ctr_log_cfg lc;
        if (ctr_log_config(c->cc, &lc) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        _cleanup_free_ char *log = ctr_log_path(d, c->id);
        _cleanup_free_ char *command = NULL;
        json_t *a;
        size_t i;
        size_t clen = strlen(c->path ? c->path : "") + 1;
        json_array_foreach(c->args, i, a) clen += json_string_length(a) + 1;
        if ((command = malloc(clen + 1))) {
                strcpy(command, c->path ? c->path : "");
                json_array_foreach(c->args, i, a) {
                        strcat(command, " ");
                        strcat(command, json_string_value(a) ?: "");
                }
        }
        /* The labels and env the drivers may copy (labels=, env=), as inspect shows them. */
        _cleanup_json_ json_t *cfg = ctr_config_encode_config(c->cc);
        if (!cfg) {
                ctr_log_config_done(&lc);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        struct logdrv_info info = { .id = c->id, .name = c->name, .image_name = c->cc->cfg.image,
                                    .image_id = c->image_id, .command = command, .created = c->created,
                                    .labels = json_object_get(cfg, "Labels"), .env = json_object_get(cfg, "Env") };
        _cleanup_json_ json_t *logo = NULL;
        int r = logdrv_shim_options(lc.type, lc.keys, lc.vals, lc.n, &info, log, &logo, err);
        ctr_log_config_done(&lc);
        if (r == 0)
                r = ctr_log_plugin_start(d, c, logo, err); /* a log plugin: its FIFO, StartLogging */
        if (r < 0)
                return r;
        char cache[4200];
        if (fs_path_fmt(cache, sizeof(cache), "%s/seccomp", d->cfg.exec_root) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s/seccomp: path too long", d->cfg.exec_root);
        _cleanup_json_ json_t *runtime = NULL;
        if ((r = shim_runtime_options(d, c, &runtime, err)) < 0)
                return r;
        _cleanup_json_ json_t *o = json_pack("{s:s, s:s, s:O, s:b, s:b, s:b}", "id", c->id, "seccomp_cache_dir", cache,
                                             "log", logo, "tty", ctr_has_tty(c),
                                             "open_stdin", c->cc->cfg.open_stdin, "stdin_once", c->cc->cfg.stdin_once);
        if (o && runtime)
                json_object_set(o, "runtime", runtime);
        if (o && autostart)
                json_object_set_new(o, "autostart", json_true());
        _cleanup_free_ char *text = json_dumps(o, JSON_COMPACT);
        return write_file(bundle, SHIM_OPTIONS_NAME, text, err);
}

/* @cgpath (CGPATH_MAX): the cgroup made ahead for the shim (rt_cgroup_attach_warm_at), or "". */
#define CGPATH_MAX 4200
static int write_spec(struct daemon *d, struct container *c, const char *dir, const char *rootfs, const char *bundle,
                      const char *netns, char *cgpath, struct berr *err) {
        _cleanup_close_ int rfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", rootfs);
        char hostname[4200], hosts[4200], resolv[4200];
        if (fs_path_fmt(hostname, sizeof(hostname), "%s/hostname", dir) < 0 ||
            fs_path_fmt(hosts, sizeof(hosts), "%s/hosts", dir) < 0 ||
            fs_path_fmt(resolv, sizeof(resolv), "%s/resolv.conf", dir) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s: path too long", dir);
        /* --init: our own reaper, next to berth-shim, runs as pid 1 (/sbin/docker-init). */
        char init_path[4200];
        snprintf(init_path, sizeof(init_path), "%s", d->shim_path);
        char *slash = strrchr(init_path, '/');
        snprintf(slash + 1, sizeof(init_path) - (size_t) (slash + 1 - init_path), "berth-init");
        bool want_init = c->cc->hc.init.v;
        if (want_init && access(init_path, X_OK) < 0)
                return berr_sys(err, BERR_INTERNAL, "--init needs %s", init_path);
        /* --link: the linked containers' variables join the process environment (the
         * container's own win: spec_generate applies them after these). */
        _cleanup_json_ json_t *link_env = NULL, *link_hosts = NULL;
        int lr = ctr_net_links(d, c, &link_env, &link_hosts, err);
        if (lr < 0)
                return lr;
        size_t n_link = json_array_size(link_env);
        _cleanup_free_ const char **links = calloc(n_link + 1, sizeof(char *));
        if (!links)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (size_t i = 0; i < n_link; i++)
                links[i] = json_string_value(json_array_get(link_env, i)) ?: "";
        struct spec_input in = {
                .id = c->id,
                .cc = c->cc,
                .link_env = links,
                .n_link_env = n_link,
                .rootfs_path = rootfs,
                .rootfs_fd = rfd,
                .hostname_path = hostname,
                .hosts_path = hosts,
                .resolv_conf_path = resolv,
                .cgroup_parent = "/berth",
                .cgroup_base = rootless_cgroup_subtree(),
                .init_path = want_init ? init_path : NULL,
                .netns_path = netns && *netns ? netns : NULL,
        };
        /* --pid / --ipc container:<x>: that container's namespaces (the pod pattern). */
        char pid_ns[64], ipc_ns[64], shm[80];
        int r = ctr_join_ns_paths(d, c, pid_ns, ipc_ns, shm, err);
        if (r < 0)
                return r;
        in.pid_ns_path = pid_ns[0] ? pid_ns : NULL;
        in.ipc_ns_path = ipc_ns[0] ? ipc_ns : NULL;
        in.shm_path = shm[0] ? shm : NULL;
        in.default_seccomp = d->cfg.sec.seccomp_text ? d->cfg.sec.seccomp_text : d->cfg.sec.seccomp_profile;
        _cleanup_json_ json_t *spec = NULL, *mounts = NULL;
        r = ctr_mounts_oci(d, c, rootfs, &mounts, err);
        if (r < 0)
                return r;
        in.mounts = mounts;
        in.in_userns = d->rootless;
        if (d->remap) {
                in.uid_maps = d->remap->uids;
                in.n_uid_maps = d->remap->n_uids;
                in.gid_maps = d->remap->gids;
                in.n_gid_maps = d->remap->n_gids;
        }
        r = spec_generate(&in, &spec, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *text = json_dumps(spec, JSON_COMPACT);
        if (!text)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "encode OCI spec");
        if ((r = write_file(bundle, "config.json", text, err)) < 0)
                return r;
        /* The cgroup now, then the kernel's attach lock warmed while the shim sets up
         * (runtime/cgroup_warm.c): the shim's attach of the init, which the init waits
         * for, then waits for no RCU grace period (3–7 ms here). After config.json: a
         * crash from here on leaves a bundle that names the cgroup, which the start-up
         * removes (ctr_recover_stopped). */
        const char *cgp = json_string_value(json_object_get(json_object_get(spec, "linux"), "cgroupsPath"));
        if (cgp && !ctr_runtime_is_external(c->cc) && strlen(cgp) < CGPATH_MAX) {
                rt_cgroup_attach_warm_at("/sys/fs/cgroup", cgp);
                snprintf(cgpath, CGPATH_MAX, "%s", cgp);
        }
        return 0;
}

/* Run the shim with the sync socket on fd 3; it detaches, so it is reaped here at once.
 * @bundle NULL: a spare (shim/protocol.h), its stderr /dev/null until it has a bundle. */
static int spawn_shim(struct daemon *d, const char *bundle, int *ret_sync, struct berr *err) {
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return berr_sys(err, BERR_INTERNAL, "socketpair");
        _cleanup_close_ int mine = sp[0], theirs = sp[1];
        if (theirs == 3) { /* dup2(3, 3) would leave close-on-exec set */
                int moved = fcntl(theirs, F_DUPFD_CLOEXEC, 10);
                if (moved < 0)
                        return berr_sys(err, BERR_INTERNAL, "fcntl");
                close(theirs);
                theirs = moved;
        }
        char log[4200] = "/dev/null";
        if (bundle && fs_path_fmt(log, sizeof(log), "%s/shim.log", bundle) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s/shim.log: path too long", bundle);
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
        char *argv[] = { d->shim_path, bundle ? (char *) bundle : "--spare", NULL };
        pid_t pid;
        char exe[64];
        int r = shim_exec_path(d, exe, sizeof(exe), err);
        if (r < 0) {
                posix_spawn_file_actions_destroy(&fa);
                posix_spawnattr_destroy(&attr);
                return r;
        }
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
        struct timeval tv = { .tv_sec = SHIM_START_TIMEOUT_S };
        (void) setsockopt(mine, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        *ret_sync = TAKE_FD(mine);
        return 0;
}

/* One spare shim, started ahead by a thread of its own, so that a start hands it the
 * bundle instead of waiting for an exec, the dynamic linker and the shim's detach (about
 * 4 ms of a 15–20 ms start here; bench/README.md). Taken by the next start, made again
 * after it. If berthd stops or dies the spare reads EOF and exits; it never holds a
 * container. */
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t spare_cond = PTHREAD_COND_INITIALIZER;
static int spare_fd = -1;
static bool spare_thread, spare_wanted;

static void *spare_maker(void *arg) {
        struct daemon *d = arg;
        pthread_mutex_lock(&spare_lock);
        while (!d->shutting_down) {
                if (spare_fd >= 0 || !spare_wanted) {
                        pthread_cond_wait(&spare_cond, &spare_lock);
                        continue;
                }
                pthread_mutex_unlock(&spare_lock);
                /* The start's answer goes out first: signalled as ctr_start returns, the
                 * spawn (fork, exec, dynamic linking) took the CPU from the thread that
                 * sends the 204 (2.3 ms between "answered" and the client's wake-up in the
                 * trace, under load). The next start comes later than this anyway. */
                struct timespec pause = { 0, 3 * 1000 * 1000 };
                (void) nanosleep(&pause, NULL);
                int fd = -1;
                struct berr e = { 0 };
                if (spawn_shim(d, NULL, &fd, &e) < 0)
                        log_warn("start a spare shim: %s", e.msg); /* the next start tries again */
                pthread_mutex_lock(&spare_lock);
                spare_wanted = false;
                if (fd >= 0 && spare_fd < 0 && !d->shutting_down)
                        spare_fd = fd;
                else if (fd >= 0)
                        close(fd);
        }
        if (spare_fd >= 0)
                close(spare_fd);
        spare_fd = -1;
        pthread_mutex_unlock(&spare_lock);
        return NULL;
}

/* A shim for @bundle: the spare when there is one (and a new spare is asked for), else
 * one started now. */
static int get_shim(struct daemon *d, const char *bundle, int *ret_sync, struct berr *err) {
        pthread_mutex_lock(&spare_lock);
        int fd = spare_fd;
        spare_fd = -1;
        pthread_mutex_unlock(&spare_lock);
        if (fd >= 0 && strlen(bundle) < SHIM_MSG_TEXT_MAX) {
                struct shim_msg m;
                shim_msg_init(&m, SHIM_REQ_BUNDLE);
                snprintf(m.text, sizeof(m.text), "%s", bundle);
                struct berr e = { 0 };
                if (shim_msg_send(fd, &m, -1, &e) == 0) {
                        *ret_sync = fd;
                        return 0;
                }
                log_warn("spare shim: %s; starting another", e.msg); /* it died: killed by someone */
        }
        if (fd >= 0)
                close(fd);
        return spawn_shim(d, bundle, ret_sync, err);
}

/* The next spare is made once a start has been answered (ctr_start), not while it runs:
 * its exec and dynamic linking took a CPU from the start's own processes on the 2-core
 * machines (the trace showed the new spare's "shim main" in the middle of the start). */
static void spare_refill(struct daemon *d) {
        pthread_mutex_lock(&spare_lock);
        if (spare_fd < 0 && !d->shutting_down) {
                spare_wanted = true;
                if (!spare_thread) {
                        pthread_t t;
                        pthread_attr_t a;
                        pthread_attr_init(&a);
                        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
                        spare_thread = pthread_create(&t, &a, spare_maker, d) == 0;
                        pthread_attr_destroy(&a);
                }
                pthread_cond_broadcast(&spare_cond);
        }
        pthread_mutex_unlock(&spare_lock);
}

/* Everything up to a created (not yet started) init. */
static int prepare_and_spawn(struct daemon *d, struct container *c, const char *netns, bool autostart,
                             int *ret_sync, pid_t *ret_pid, char *cgpath, struct berr *err) {
        _cleanup_free_ char *dir = ctr_data_dir(d, c->id);
        _cleanup_free_ char *bundle = ctr_bundle_dir(d, c->id);
        char rootfs[4200];
        if (!dir || !bundle || fs_path_fmt(rootfs, sizeof(rootfs), "%s/rootfs", dir) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s/rootfs: path too long (or out of memory)",
                                dir ? dir : "");
        int r;
        if (mkdir(bundle, 0700) < 0 && errno != EEXIST)
                return berr_sys(err, BERR_INTERNAL, "create %s", bundle);
        _cleanup_close_ int bfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (bfd >= 0) { /* leftovers of the previous run */
                (void) unlinkat(bfd, SHIM_EXIT_NAME, 0);
                (void) unlinkat(bfd, SHIM_SOCK_NAME, 0);
        }
        pthread_mutex_lock(&c->lock); /* docker cp may mount it too */
        ctr_rootfs_wait_detached(c); /* the last run's exit may still detach it */
        r = ctr_rootfs_mount(d, c, err);
        pthread_mutex_unlock(&c->lock);
        if (r < 0)
                return r;
        trace_mark("berthd rootfs mounted");
        /* dockerd's marker file, which scripts test to know they run in a container. */
        _cleanup_close_ int rfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rfd >= 0) {
                int f = openat(rfd, ".dockerenv", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0755);
                if (f >= 0 && d->remap && (r = userns_chown(d, f, "", true, err)) < 0) {
                        close(f);
                        return r;
                }
                if (f >= 0)
                        close(f);
        }
        if ((r = prepare_files(d, c, dir, err)) < 0)
                return r;
        trace_mark("berthd /etc files written");
        if ((r = write_spec(d, c, dir, rootfs, bundle, netns, cgpath, err)) < 0)
                return r;
        trace_mark("berthd config.json written");
        if ((r = write_shim_options(d, c, bundle, autostart, err)) < 0)
                return r;
        trace_mark("berthd shim.json written");
        int sync = -1;
        if ((r = get_shim(d, bundle, &sync, err)) < 0)
                return r;
        trace_mark("berthd shim spawned and reaped");
        struct shim_msg m;
        r = shim_msg_recv(sync, &m, NULL, err);
        trace_mark("berthd CREATED received");
        if (r < 0) {
                close(sync);
                return berr_wrap(err, "start container: the shim did not answer (see %s/shim.log)", bundle);
        }
        if (m.type != SHIM_MSG_CREATED) {
                close(sync);
                /* The runtime looks the command up before the init is released (as runc
                 * does), so "executable file not found" (ENOENT) arrives here. A command
                 * that cannot run is the user's error (400), anything else ours (500). */
                int errnum = m.status < 0 ? -m.status : EIO;
                bool is_cmd_error = ctr_exit_code_for_errno(errnum, CTR_EXIT_START_UNKNOWN) != CTR_EXIT_START_UNKNOWN;
                return berr_set(err, is_cmd_error ? BERR_INVALID : BERR_INTERNAL, errnum, "%s",
                                m.text[0] ? m.text : "the shim failed to create the container");
        }
        *ret_sync = sync;
        *ret_pid = m.pid;
        return 0;
}

/* Let attach streams waiting for this start reach the shim before the init runs. */
static void hand_off_attaches(struct container *c, pid_t pid) {
        pthread_mutex_lock(&c->lock);
        c->shim_created = true;
        c->pid = pid;
        pthread_cond_broadcast(&c->cond);
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += ATTACH_HANDOFF_TIMEOUT_S;
        while (c->attach_waiters > 0)
                if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline) != 0)
                        break;
        c->shim_created = false;
        pthread_mutex_unlock(&c->lock);
}

static int start(struct daemon *d, struct container *c, struct berr *err);

int ctr_start(struct daemon *d, struct container *c, struct berr *err) {
        int r = start(d, c, err);
        spare_refill(d);
        return r;
}

static int start(struct daemon *d, struct container *c, struct berr *err) {
        int r0;
        pthread_mutex_lock(&c->lock);
        if (c->state == CTR_REMOVED || c->state == CTR_REMOVING) {
                pthread_mutex_unlock(&c->lock);
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "No such container: %s", c->id);
        }
        if (c->state == CTR_PAUSED) { /* as dockerd: 409, not 304 */
                pthread_mutex_unlock(&c->lock);
                return berr_set(err, BERR_CONFLICT, EBUSY, "cannot start a paused container, try unpause instead");
        }
        if (c->state == CTR_RUNNING || c->state == CTR_STARTING) {
                pthread_mutex_unlock(&c->lock);
                return 1;
        }
        if ((r0 = ctr_set_state(d, c, CTR_STARTING, 0, err)) < 0) {
                pthread_mutex_unlock(&c->lock);
                return r0;
        }
        c->stop_requested = false;
        /* No attach stream waits for this start, and the client said at create it would
         * attach none (AttachStdout etc. false: docker run -d, docker-py's detach=True, a
         * bare API create): the shim starts the init as soon as it is created, without a
         * START round trip. The Attach flags count because the CLI's attach registers as
         * a waiter only after its 101, which the CLI follows with the start at once. An
         * attach that comes anyway waits for RUNNING (wait_attachable). */
        const struct ctr_config *cc = c->cc;
        bool autostart = c->attach_waiters == 0 && !cc->cfg.attach_stdin && !cc->cfg.attach_stdout &&
                         !cc->cfg.attach_stderr;
        pthread_mutex_unlock(&c->lock);
        trace_mark("berthd start %.12s: state starting", c->id);
        /* StartedAt is taken before the process is released: the shim stamps FinishedAt
         * after it exits, so a command as short as `true` cannot finish before it started. */
        char started_at[40];
        ctr_now(started_at);

        int sync = -1;
        char cgpath[CGPATH_MAX] = "";
        pid_t pid = 0;
        _cleanup_free_ char *bundle = ctr_bundle_dir(d, c->id);
        char netns[4200];
        int r = ctr_net_start(d, c, netns, sizeof(netns), err);
        trace_mark("berthd network set up");
        if (r == 0) {
                /* What a crash from here on leaves is rolled back at start-up
                 * (ctr_store_open) without this start's addresses in the record: the
                 * namespace is removed and takes its links with it, IPAM is made from the
                 * running containers' records, published ports from the same
                 * (net_ports_resync). A plugin's endpoint or address is the exception: only
                 * the plugin can release it, so the record names it before anything runs
                 * with it. (Saving them always cost two fsyncs of every bridge start.) */
                pthread_mutex_lock(&c->lock);
                if (ctr_net_uses_plugins(d, c))
                        r = ctr_save(d, c, err);
                pthread_mutex_unlock(&c->lock);
                trace_mark("berthd record saved");
                if (r == 0)
                        r = prepare_and_spawn(d, c, netns, autostart, &sync, &pid, cgpath, err);
                if (r < 0) {
                        pthread_mutex_lock(&c->lock);
                        ctr_net_stop(d, c);
                        pthread_mutex_unlock(&c->lock);
                }
        }
        if (r < 0)
                goto fail;

        struct shim_msg m;
        if (!autostart) {
                hand_off_attaches(c, pid);
                ctr_dns_hand_to_shim(d, c); /* the embedded DNS outlives a berthd restart */
                ctr_now(started_at);
                /* The start-up socket stays open as the monitor's watch connection
                 * (SHIM_START_WATCH): it reaches EOF when the shim has gone, whatever START's
                 * answer (or none, if the shim died: the monitor then records that). */
                shim_msg_init(&m, SHIM_REQ_START);
                m.flags = SHIM_START_WATCH;
                trace_mark("berthd START sent");
                r = shim_msg_send(sync, &m, -1, err);
        } else
                r = 0; /* the shim started the init on its own: STARTED or ERROR follows CREATED */
        if (r == 0)
                r = shim_msg_recv(sync, &m, NULL, err);
        int watch = sync;
        trace_mark("berthd STARTED received");

        pthread_mutex_lock(&c->lock);
        if (r == 0 && m.type == SHIM_MSG_STARTED) {
                c->pid = pid;
                c->exit_code = 0;
                c->oom_killed = false;
                ctr_set_error(c, NULL);
                memcpy(c->started_at, started_at, sizeof(c->started_at));
                c->start_seq++;
                /* Running (written, "start") before the monitor can see the exit: a command
                 * as short as `true` may end at once, and its exit must get the full
                 * treatment (die event, --rm, restart policy). */
                (void) ctr_set_state(d, c, CTR_RUNNING, 0, NULL); /* logs its own failure */
        }
        pthread_mutex_unlock(&c->lock);

        /* From here the monitor owns the exit, whenever it comes. */
        struct berr e = { 0 };
        if (monitor_watch(d, c, watch, &e) < 0) {
                log_error("watch container %.12s: %s", c->id, e.msg);
                close(watch);
        }
        if (r == 0 && m.type == SHIM_MSG_STARTED && autostart)
                ctr_dns_hand_to_shim(d, c); /* the embedded DNS outlives a berthd restart */
        if (r == 0 && m.type == SHIM_MSG_STARTED)
                health_start(d, c);
        trace_mark("berthd start %.12s: running, answered", c->id);

        if (r < 0 || m.type != SHIM_MSG_STARTED) {
                char msg[BERR_MSG_MAX];
                snprintf(msg, sizeof(msg), "%s", r < 0 ? err->msg : m.text);
                int errnum = r < 0 ? err->errnum : m.status < 0 ? -m.status : EIO;
                /* The init could not execve; it exits and the monitor records that. Docker
                 * keeps such a container "created" with the error and exit code. */
                pthread_mutex_lock(&c->lock);
                struct timespec deadline;
                clock_gettime(CLOCK_REALTIME, &deadline);
                deadline.tv_sec += 10;
                while (c->watch_fd >= 0)
                        if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline) != 0)
                                break;
                c->exit_code = ctr_exit_code_for_errno(errnum, CTR_EXIT_START_UNKNOWN);
                ctr_set_error(c, msg);
                c->start_seq++;
                (void) ctr_set_state(d, c, CTR_CREATED, 0, NULL); /* logs its own failure */
                bool auto_remove = c->cc->hc.auto_remove;
                pthread_mutex_unlock(&c->lock);
                if (auto_remove && ctr_remove(d, c, true, true, &e) < 0)
                        log_warn("auto-remove %.12s: %s", c->id, e.msg);
                return berr_set(err, BERR_INVALID, errnum, "failed to create task for container: %s", msg);
        }
        return 0;

fail:
        if (cgpath[0]) /* made ahead for a shim that did not take it (or removed it: ENOENT) */
                rt_cgroup_forget_at("/sys/fs/cgroup", cgpath);
        pthread_mutex_lock(&c->lock);
        ctr_net_stop(d, c);
        ctr_unmount_rootfs(d, c);
        c->start_seq++;
        ctr_set_error(c, err->msg);
        if (err->kind == BERR_INVALID)
                c->exit_code = ctr_exit_code_for_errno(err->errnum, CTR_EXIT_START_UNKNOWN);
        struct berr e2 = { 0 };
        (void) ctr_set_state(d, c, c->start_from, 0, NULL); /* back where it started; logs its own failure */
        bool auto_remove = c->cc->hc.auto_remove;
        pthread_mutex_unlock(&c->lock);
        ctr_mounts_release(d, c); /* what the start had mounted (plugin volumes, volumes with options) */
        ctr_log_plugin_stop(d, c); /* a log plugin told to start logging is told to stop */
        if (auto_remove && ctr_remove(d, c, true, true, &e2) < 0)
                log_warn("auto-remove %.12s: %s", c->id, e2.msg);
        if (err->kind == BERR_INVALID)
                berr_wrap(err, "failed to create task for container");
        return r;
}
