/* reload.c - container defaults from daemon options, their `docker info` fields, and the
 * SIGHUP reload. */
#include "reload.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/log.h"
#include "daemon.h"
#include "distribution/distribution.h"
#include "events.h"
#include "plugin/plugin.h"
#include "runtime/ctr_config.h"

static pthread_rwlock_t opts_lock = PTHREAD_RWLOCK_INITIALIZER;

void daemon_opts_rdlock(void) {
        pthread_rwlock_rdlock(&opts_lock);
}

void daemon_opts_unlock(void) {
        pthread_rwlock_unlock(&opts_lock);
}

int daemon_opts_start(struct daemon_config *cfg, struct berr *err) {
        const struct daemon_opts14 *o = &cfg->o14;
        return dist_config_set_transfer(o->max_download_attempts, o->http_proxy, o->https_proxy, o->no_proxy, err);
}

static json_t *strings_json(char *const *list, size_t n) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++)
                json_array_append_new(a, json_string(list[i]));
        return a;
}

/* Attribute values are strings; lists are JSON text, as dockerd's reload event has them. */
static void attr_json(json_t *attrs, const char *key, json_t *v) {
        _cleanup_free_ char *s = json_dumps(v, JSON_COMPACT);
        json_decref(v);
        if (s)
                json_object_set_new(attrs, key, json_string(s));
}

static void attr_int(json_t *attrs, const char *key, long long v) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld", v);
        json_object_set_new(attrs, key, json_string(buf));
}

static json_t *reload_attrs(struct daemon *d) {
        const struct daemon_opts14 *o = &d->cfg.o14;
        const struct dist_config *dc = dist_config();
        json_t *a = json_object();
        json_object_set_new(a, "debug", json_string(d->cfg.debug ? "true" : "false"));
        json_object_set_new(a, "log-level", json_string(log_level_to_string(d->cfg.log_level)));
        attr_json(a, "labels", strings_json(o->labels, o->n_labels));
        json_object_set_new(a, "live-restore", json_string(o->live_restore ? "true" : "false"));
        attr_int(a, "shutdown-timeout", o->shutdown_timeout);
        attr_int(a, "max-download-attempts", o->max_download_attempts);
        json_object_set_new(a, "features", json_string(o->features_json ? o->features_json : "{}"));
        dist_config_rdlock();
        attr_json(a, "registry-mirrors", strings_json(dc->mirrors, dc->n_mirrors));
        attr_json(a, "insecure-registries", strings_json(dc->insecure, dc->n_insecure));
        attr_int(a, "max-concurrent-downloads", dc->max_downloads);
        attr_int(a, "max-concurrent-uploads", dc->max_uploads);
        dist_config_unlock();
        json_object_set_new(a, "name", json_string(d->host.hostname));
        return a;
}

int daemon_reload(struct daemon *d, int argc, char **argv) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        struct daemon_config next;
        struct berr err = { 0 };
        daemon_config_init(&next);
        dist_config_stage_begin();
        int r = daemon_config_parse_args(&next, argc, argv, &err);
        if (r >= 0)
                r = daemon_config_finish(&next, &err);
        if (r >= 0)
                r = daemon_opts_start(&next, &err); /* into the staging copy */
        /* authorization-plugins: each found, as at start (dockerd's validateAuthzPlugins) */
        for (size_t i = 0; r >= 0 && i < next.n_authz_plugins; i++) {
                struct plugin *p;
                if ((r = plugin_get(d->plugins, next.authz_plugins[i], PLUGIN_KIND_AUTHZ, &p, &err)) < 0)
                        berr_wrap(&err, "failed to validate authorization plugin");
        }
        if (r < 0) {
                dist_config_stage_end(false);
                daemon_config_done(&next);
                log_error("Error reconfiguring the daemon: %s", err.msg);
                return r;
        }
        pthread_rwlock_wrlock(&opts_lock);
        daemon_config_take_reloadable(&d->cfg, &next);
        for (size_t i = 0; i < DAEMON_MAX_LIST; i++) { /* the authorization plugins, in order */
                char *t = d->cfg.authz_plugins[i];
                d->cfg.authz_plugins[i] = next.authz_plugins[i];
                next.authz_plugins[i] = t;
        }
        size_t n_authz = d->cfg.n_authz_plugins;
        d->cfg.n_authz_plugins = next.n_authz_plugins;
        next.n_authz_plugins = n_authz;
        pthread_rwlock_unlock(&opts_lock);
        dist_config_stage_end(true);
        log_set_level(d->cfg.log_level);
        daemon_config_done(&next);

        json_t *attrs = reload_attrs(d);
        _cleanup_free_ char *text = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long us = (long) ((t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000L);
        log_info("Reloaded configuration in %ld us: %s", us, text ? text : "{}");
        events_emit(d, "daemon", "reload", d->engine_id, attrs);
        return 0;
}

/* ---- container defaults ---- */

/* A daemon list into an empty one of the container's. */
static int set_strings(struct strv *s, char *const *list, size_t n) {
        if (!n || s->n)
                return 0;
        for (size_t i = 0; i < n; i++) {
                int r = strv_append(s, list[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int daemon_opts_apply_create(struct daemon *d, struct ctr_config *cc) {
        const struct daemon_opts14 *o = &d->cfg.o14;
        struct ctr_host_config *hc = &cc->hc;
        int r = 0;
        if (hc->shm_size == 0)
                hc->shm_size = o->shm_size;
        if (!*hc->cgroupns_mode_text && o->cgroupns_mode &&
            (r = ctr_config_set_string(cc, &hc->cgroupns_mode_text, o->cgroupns_mode)) < 0)
                return r;
        if (!*hc->cgroup_parent && o->cgroup_parent &&
            (r = ctr_config_set_string(cc, &hc->cgroup_parent, o->cgroup_parent)) < 0)
                return r;
        if ((r = set_strings(&hc->dns, o->dns, o->n_dns)) < 0 ||
            (r = set_strings(&hc->dns_options, o->dns_opts, o->n_dns_opts)) < 0 ||
            (r = set_strings(&hc->dns_search, o->dns_search, o->n_dns_search)) < 0)
                return r;
        if (o->no_new_privileges) {
                /* dockerd: the container's own no-new-privileges[=false] wins */
                bool mentioned = false;
                for (size_t i = 0; i < hc->security_opt.n; i++)
                        mentioned |= strncmp(hc->security_opt.v[i], "no-new-privileges", 17) == 0;
                if (!mentioned && (r = strv_append(&hc->security_opt, "no-new-privileges")) < 0)
                        return r;
        }
        /* the container's own ulimits win, name by name (dockerd's mergeUlimits) */
        for (size_t k = 0; k < o->n_ulimits; k++) {
                bool have = false;
                for (size_t i = 0; i < hc->n_ulimits; i++)
                        have |= STREQ(hc->ulimits[i].name, o->ulimits[k].name);
                if (!have && (r = ctr_config_add_ulimit(hc, o->ulimits[k].name, o->ulimits[k].soft,
                                                        o->ulimits[k].hard)) < 0)
                        return r;
        }
        return 0;
}

/* ---- docker info ---- */

/* dockerd masks a proxy URL's credentials: http://xxxxx:xxxxx@host */
static json_t *masked_proxy(const char *conf, const char *env1, const char *env2) {
        const char *v = conf;
        if (!v)
                v = getenv(env1);
        if (!v)
                v = getenv(env2);
        if (!v)
                return json_string("");
        const char *at = strchr(v, '@'), *scheme = strstr(v, "://");
        if (!at || !scheme || at < scheme)
                return json_string(v);
        char buf[1024];
        snprintf(buf, sizeof(buf), "%.*s://xxxxx:xxxxx%s", (int) (scheme - v), v, at);
        return json_string(buf);
}

void daemon_opts_info(struct daemon *d, json_t *info) {
        const struct daemon_opts14 *o = &d->cfg.o14;
        daemon_opts_rdlock();
        json_object_set_new(info, "Debug", json_boolean(d->cfg.debug));
        json_object_set_new(info, "Labels", strings_json(o->labels, o->n_labels));
        const struct dist_config *dc = dist_config();
        dist_config_rdlock();
        json_object_set_new(info, "HttpProxy", masked_proxy(dc->http_proxy, "HTTP_PROXY", "http_proxy"));
        json_object_set_new(info, "HttpsProxy", masked_proxy(dc->https_proxy, "HTTPS_PROXY", "https_proxy"));
        json_object_set_new(info, "NoProxy", masked_proxy(dc->no_proxy, "NO_PROXY", "no_proxy"));
        dist_config_unlock();
        daemon_opts_unlock();
        json_object_set_new(info, "ExperimentalBuild", json_boolean(o->experimental));
        json_object_set_new(info, "LiveRestoreEnabled", json_boolean(o->live_restore));
        json_object_set_new(info, "CgroupDriver", json_string(o->cgroup_driver));

        json_object_set_new(info, "SecurityOptions", daemon_security_options(d));

        json_t *pools = json_array();
        for (size_t i = 0; i < d->cfg.net.n_pools; i++) {
                char base[64] = "";
                int size = 0;
                if (sscanf(d->cfg.net.pools[i], "base=%63[^,],size=%d", base, &size) == 2)
                        json_array_append_new(pools, json_pack("{s:s, s:i}", "Base", base, "Size", size));
        }
        json_object_set_new(info, "DefaultAddressPools", pools);
        json_object_set_new(info, "InitBinary", json_string("berth-init"));

        /* dockerd's fillAPIInfo: a warning for each TCP listener without TLS, or with TLS
         * but no client verification */
        json_t *w = json_object_get(info, "Warnings");
        for (size_t i = 0; i < d->cfg.n_hosts; i++) {
                const char *h = d->cfg.hosts[i];
                bool tls = d->cfg.sec.tls == 1, verify = d->cfg.sec.tlsverify == 1;
                if (strncmp(h, "tcp://", 6) != 0 || (tls && verify))
                        continue;
                if (!json_is_array(w)) {
                        w = json_array();
                        json_object_set_new(info, "Warnings", w);
                }
                char text[512];
                snprintf(text, sizeof(text),
                         "WARNING: API is accessible on %s://%s without %s.\n"
                         "         Access to the remote API is equivalent to root access on the host. Refer\n"
                         "         to the 'Docker daemon attack surface' section in the documentation for\n"
                         "         more information: https://docs.docker.com/go/attack-surface/",
                         tls ? "https" : "http", h + 6, tls ? "TLS client verification" : "encryption");
                json_array_append_new(w, json_string(text));
        }
}

json_t *daemon_security_options(struct daemon *d) {
        const struct daemon_opts14 *o = &d->cfg.o14;
        const char *seccomp = d->cfg.sec.seccomp_profile ? d->cfg.sec.seccomp_profile : "builtin";
        json_t *sec = json_array();
        if (!sec)
                return NULL;
        char text[4200];
        snprintf(text, sizeof(text), "name=seccomp,profile=%s", seccomp);
        json_array_append_new(sec, json_string(text));
        if (d->remap) /* dockerd: --userns-remap in effect */
                json_array_append_new(sec, json_string("name=userns"));
        if (d->rootless)
                json_array_append_new(sec, json_string("name=rootless"));
        const char *cgns = o->cgroupns_mode ? o->cgroupns_mode : d->host.cgroup_version == 2 ? "private" : "host";
        if (STREQ(cgns, "private") && access("/proc/self/ns/cgroup", F_OK) == 0)
                json_array_append_new(sec, json_string("name=cgroupns"));
        if (o->no_new_privileges)
                json_array_append_new(sec, json_string("name=no-new-privileges"));
        return sec;
}
