/* daemon.c - berthd's lifetime: pidfile, roots, engine ID, listeners, HTTP server. */
#include "daemon.h"
#include "userns.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/id.h"
#include "common/log.h"
#include "check.h"
#include "container.h"
#include "events.h"
#include "plugin_mgr.h"
#include "plugin/plugin.h"
#include "volume/volume.h"
#include "image/image_store.h"
#include "listen.h"
#include "rootless.h"
#include "network/network.h"

static int lock_pidfile(struct daemon *d, struct berr *err) {
        const char *path = d->cfg.pidfile;
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                int r = fs_mkdir_p(dir, 0711, err);
                if (r < 0)
                        return r;
        }
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open pidfile %s", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                char buf[32] = "";
                ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
                buf[n > 0 ? n : 0] = '\0';
                buf[strcspn(buf, "\n")] = '\0';
                return berr_set(err, BERR_CONFLICT, EBUSY,
                                "pid file found, ensure berthd is not running or delete %s: process with PID %s is still running",
                                path, buf[0] ? buf : "?");
        }
        char pid[32];
        int n = snprintf(pid, sizeof(pid), "%d", (int) getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t) n, 0) != n)
                return berr_sys(err, BERR_INTERNAL, "write pidfile %s", path);
        d->pidfile_fd = TAKE_FD(fd);
        return 0;
}

static int load_engine_id(struct daemon *d, int data_fd, struct berr *err) {
        _cleanup_free_ char *text = NULL;
        int r = fs_read_file(data_fd, "engine-id", 64, &text, NULL, err);
        if (r == 0) {
                text[strcspn(text, "\n")] = '\0';
                if (strlen(text) == 36) {
                        memcpy(d->engine_id, text, 37);
                        return 0;
                }
                log_warn("engine-id file is malformed, writing a new one");
        } else if (r != -ENOENT)
                return r;
        r = id_random_uuid(d->engine_id, err);
        if (r < 0)
                return r;
        return fs_write_atomic(data_fd, "engine-id", d->engine_id, 36, 0600, err);
}

int daemon_open(struct daemon *d, struct berr *err) {
        int r;
        d->pidfile_fd = -1;
        clock_gettime(CLOCK_REALTIME, &d->started);
        r = lock_pidfile(d, err);
        if (r < 0)
                return r;
        /* With --userns-remap the data root becomes DATA-ROOT/<uid>.<gid>, as dockerd's. */
        r = userns_remap_open(d, err);
        if (r < 0)
                return r;
        r = fs_mkdir_p(d->cfg.data_root, 0711, err);
        if (r < 0)
                return berr_wrap(err, "data root");
        r = fs_mkdir_p(d->cfg.exec_root, 0711, err);
        if (r < 0)
                return berr_wrap(err, "exec root");
        _cleanup_close_ int data_fd = open(d->cfg.data_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (data_fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", d->cfg.data_root);
        r = load_engine_id(d, data_fd, err);
        if (r < 0)
                return r;
        /* rootless.c: what the delegated subtree hands on to the containers, or nothing */
        host_facts_read(&d->host, d->rootless ? rootless_cgroup_facts_dir() : "/sys/fs/cgroup", "/etc/os-release");
        if (d->rootless && !rootless_cgroup_subtree())
                host_facts_no_cgroups(&d->host);
        /* The quick part of `berthd --check`: what a crash left is logged; opening the
         * stores then removes what nothing references. */
        (void) daemon_check_startup(&d->cfg);
        /* The store picks overlay2 when it can mount it on the data root, else vfs. */
        r = image_store_open(d->cfg.data_root, d->cfg.storage_driver, &d->images, err);
        if (r < 0)
                return berr_wrap(err, "image store");
        snprintf(d->storage_driver, sizeof(d->storage_driver), "%s", image_store_driver_name(d->images));
        if (d->remap && (r = image_store_set_idmap(d->images, d->remap->userns_fd, d->remap->root_uid,
                                                   d->remap->root_gid, err)) < 0)
                return r;
        snprintf(d->backing_fs, sizeof(d->backing_fs), "%s", host_fs_name(d->cfg.data_root));
        pthread_mutex_init(&d->volume_lock, NULL);
        pthread_mutex_init(&d->exec_lock, NULL);
        r = volume_store_open(d->cfg.data_root, &d->volumes, err);
        if (r < 0)
                return berr_wrap(err, "volume store");
        r = plugin_registry_new(d->cfg.exec_root, &d->plugins, err);
        if (r == 0)
                r = vplug_open(d->cfg.data_root, d->plugins, &d->vplugs, err);
        if (r < 0)
                return berr_wrap(err, "plugins");
        /* managed plugins (the enabled ones start below) */
        if ((r = pmgr_open(d, err)) < 0)
                return berr_wrap(err, "managed plugins");
        if (d->remap)
                volume_store_set_owner(d->volumes, d->remap->root_uid, d->remap->root_gid);
        ctr_log_plugins_init(d);
        /* enabled managed plugins run before the authorization plugins are looked for: one of
         * them may be one (dockerd's plugin manager is up before validateAuthzPlugins) */
        pmgr_start_enabled(d);
        /* dockerd's validateAuthzPlugins: each authorization plugin must be there at start */
        for (size_t i = 0; i < d->cfg.n_authz_plugins; i++) {
                struct plugin *p;
                if ((r = plugin_get(d->plugins, d->cfg.authz_plugins[i], PLUGIN_KIND_AUTHZ, &p, err)) < 0)
                        return berr_wrap(err, "failed to validate authorization plugin");
        }
        if (!d->cfg.net.table) {
                /* berth's nftables table: "berth", or one per exec root for other daemons. */
                char h[33], name[32];
                hash128_hex(d->cfg.exec_root, strlen(d->cfg.exec_root), h);
                if (strcmp(d->cfg.exec_root, DAEMON_DEFAULT_EXEC_ROOT) == 0)
                        snprintf(name, sizeof(name), "berth");
                else
                        snprintf(name, sizeof(name), "berth_%.8s", h);
                d->cfg.net.table = strdup(name);
                if (!d->cfg.net.table)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        snprintf(d->cfg.net.host_id, sizeof(d->cfg.net.host_id), "%s", d->engine_id);
        r = net_store_open(&d->cfg.net, d->cfg.data_root, d->cfg.exec_root, &d->nets, err);
        if (r < 0)
                return berr_wrap(err, "networks");
        net_store_set_plugins(d->nets, d->plugins); /* network and IPAM driver plugins */
        if (events_init(d) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        r = ctr_store_open(d, err);
        if (r < 0)
                return berr_wrap(err, "containers");
        d->ctr_store_opened = true;
        return 0;
}

/* A TCP socket (-H tcp://, or one systemd passed with fd://) gets TLS when it is on. */
static bool is_tcp_socket(int fd) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        return getsockname(fd, (struct sockaddr *) &ss, &len) == 0 && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}

/* dockerd's warnings for a TCP listener clients need no certificate for. */
static void warn_unauthenticated(const char *host) {
        log_warn("Binding to IP address without --tlsverify is insecure and gives root access on this machine to "
                 "everyone who has access to your network. host=\"%s\"", host);
        log_warn("Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be "
                 "safe out there! host=\"%s\"", host);
}

int daemon_open_listeners(struct daemon *d, int *fds, size_t max, size_t *ret_n, struct berr *err) {
        size_t n_fds = 0;
        int r = 0;
        char default_path[128];
        snprintf(default_path, sizeof(default_path), "%s", &DAEMON_DEFAULT_HOST[strlen("unix://")]);
        const struct daemon_sec_opts *sec = &d->cfg.sec;
        bool tls = sec->tls == 1, verify = tls && sec->tlsverify == 1;
        if (max > DAEMON_MAX_LISTEN_FDS)
                max = DAEMON_MAX_LISTEN_FDS;
        /* dockerd loads the TLS files whenever TLS is on, with a TCP listener or not */
        if (tls && !d->tls.cert_pem &&
            (r = host_tls_load(sec->tlscacert, sec->tlscert, sec->tlskey, verify, &d->tls, err)) < 0)
                return r;

        for (size_t i = 0; i < d->cfg.n_hosts; i++) {
                struct host_spec spec;
                r = host_spec_parse(d->cfg.hosts[i], default_path, &spec, err);
                if (r < 0)
                        goto fail;
                if (!tls && (r = host_check_plain_tcp(d->cfg.hosts[i], &spec, sec->tls == 0, err)) < 0)
                        goto fail;
                spec.group = d->cfg.o14.group;
                r = host_listen(&spec, fds + n_fds, max - n_fds, err);
                if (r < 0)
                        goto fail;
                for (int k = 0; k < r; k++)
                        d->listen_tls[n_fds + (size_t) k] = tls && is_tcp_socket(fds[n_fds + (size_t) k]);
                n_fds += (size_t) r;
                if (spec.proto == HOST_UNIX && d->n_owned_sockets < DAEMON_MAX_HOSTS) {
                        d->owned_sockets[d->n_owned_sockets] = strdup(spec.path);
                        if (d->owned_sockets[d->n_owned_sockets])
                                d->n_owned_sockets++;
                }
                if (spec.proto == HOST_TCP && !verify)
                        warn_unauthenticated(d->cfg.hosts[i]);
                if (spec.proto == HOST_TCP && !tls && !spec.is_loopback)
                        log_warn("API listens on %s without TLS: --tls=false was given explicitly", d->cfg.hosts[i]);
                log_info("API listen on %s%s", spec.proto == HOST_UNIX ? spec.path : d->cfg.hosts[i],
                         spec.proto != HOST_TCP ? "" : verify ? " (TLS, clients verified)" : tls ? " (TLS)" : "");
        }
        *ret_n = n_fds;
        return 0;
fail:
        for (size_t i = 0; i < n_fds; i++)
                close(fds[i]);
        return r;
}

void daemon_close(struct daemon *d) {
        for (size_t i = 0; i < d->n_owned_sockets; i++) {
                (void) unlink(d->owned_sockets[i]); /* already gone is fine */
                free(d->owned_sockets[i]);
        }
        d->n_owned_sockets = 0;
        host_tls_done(&d->tls);
        /* Running containers stay up (their shims are detached): only our side closes.
         * With none running, nothing needs berth's firewall rules any more. */
        if (d->ctr_store_opened) {
                int total, running, paused, stopped;
                ctr_counts(d, &total, &running, &paused, &stopped);
                if (running + paused == 0)
                        net_store_remove_rules(d->nets);
                ctr_store_close(d);
        }
        events_close(d);
        d->images = image_store_free(d->images);
        volume_store_free(d->volumes);
        d->volumes = NULL;
        vplug_free(d->vplugs);
        d->vplugs = NULL;
        pmgr_close(d);
        d->plugins = plugin_registry_free(d->plugins);
        net_store_close(d->nets);
        d->nets = NULL;
        if (d->pidfile_fd >= 0) {
                (void) unlink(d->cfg.pidfile);
                close(d->pidfile_fd);
                d->pidfile_fd = -1;
        }
        userns_remap_close(d);
}

void daemon_get_counts(struct daemon *d, struct daemon_counts *ret) {
        memset(ret, 0, sizeof(*ret));
        ctr_counts(d, &ret->containers, &ret->running, &ret->paused, &ret->stopped);
        json_t *list = NULL;
        if (d->images && image_store_list(d->images, &list, NULL) == 0) {
                ret->images = (int) json_array_size(list);
                json_decref(list);
        }
}

void daemon_begin_shutdown(struct daemon *d) {
        d->shutting_down = true;
        events_shutdown(d);
        if (d->ctr_store_opened)
                ctr_wake_all(d);
}
