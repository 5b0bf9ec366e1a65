/* reload.c - container defaults from daemon options, their `docker info` fields, and the
 * SIGHUP reload. */
#include "reload.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/log.h"
#include "daemon.h"
#include "distribution/distribution.h"
#include "events.h"

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
        if (r < 0) {
                dist_config_stage_end(false);
                daemon_config_done(&next);
                log_error("Error reconfiguring the daemon: %s", err.msg);
                return r;
        }
        pthread_rwlock_wrlock(&opts_lock);
        daemon_config_take_reloadable(&d->cfg, &next);
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

static bool empty_array(json_t *hc, const char *key) {
        json_t *v = json_object_get(hc, key);
        return !v || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0);
}

static void set_strings(json_t *hc, const char *key, char *const *list, size_t n) {
        if (n && empty_array(hc, key))
                json_object_set_new(hc, key, strings_json(list, n));
}

void daemon_opts_apply_create(struct daemon *d, json_t *hc) {
        const struct daemon_opts14 *o = &d->cfg.o14;
        if (!hc)
                return;
        json_t *shm = json_object_get(hc, "ShmSize");
        if (!json_is_integer(shm) || json_integer_value(shm) == 0)
                json_object_set_new(hc, "ShmSize", json_integer(o->shm_size));
        const char *cgns = json_string_value(json_object_get(hc, "CgroupnsMode"));
        if ((!cgns || !*cgns) && o->cgroupns_mode)
                json_object_set_new(hc, "CgroupnsMode", json_string(o->cgroupns_mode));
        const char *parent = json_string_value(json_object_get(hc, "CgroupParent"));
        if ((!parent || !*parent) && o->cgroup_parent)
                json_object_set_new(hc, "CgroupParent", json_string(o->cgroup_parent));
        set_strings(hc, "Dns", o->dns, o->n_dns);
        set_strings(hc, "DnsOptions", o->dns_opts, o->n_dns_opts);
        set_strings(hc, "DnsSearch", o->dns_search, o->n_dns_search);
        if (o->no_new_privileges) {
                /* dockerd: the container's own no-new-privileges[=false] wins */
                json_t *so = json_object_get(hc, "SecurityOpt");
                bool mentioned = false;
                size_t i;
                json_t *v;
                json_array_foreach(so, i, v) {
                        const char *s = json_string_value(v);
                        mentioned |= s && strncmp(s, "no-new-privileges", 17) == 0;
                }
                if (!mentioned) {
                        if (!json_is_array(so)) {
                                so = json_array();
                                json_object_set_new(hc, "SecurityOpt", so);
                        }
                        json_array_append_new(so, json_string("no-new-privileges"));
                }
        }
        if (o->n_ulimits) {
                /* the container's own ulimits win, name by name (dockerd's mergeUlimits) */
                json_t *ul = json_object_get(hc, "Ulimits");
                if (!json_is_array(ul)) {
                        ul = json_array();
                        json_object_set_new(hc, "Ulimits", ul);
                }
                for (size_t k = 0; k < o->n_ulimits; k++) {
                        bool have = false;
                        size_t i;
                        json_t *v;
                        json_array_foreach(ul, i, v) {
                                const char *n = json_string_value(json_object_get(v, "Name"));
                                have |= n && STREQ(n, o->ulimits[k].name);
                        }
                        if (!have)
                                json_array_append_new(ul, json_pack("{s:s, s:I, s:I}", "Name", o->ulimits[k].name, "Soft",
                                                                    (json_int_t) o->ulimits[k].soft, "Hard",
                                                                    (json_int_t) o->ulimits[k].hard));
                }
        }
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

        /* dockerd's list, for what this host and berth have */
        json_t *sec = json_array();
        json_array_append_new(sec, json_string("name=seccomp,profile=builtin"));
        if (d->host.cgroup_version == 2)
                json_array_append_new(sec, json_string("name=cgroupns"));
        if (o->no_new_privileges)
                json_array_append_new(sec, json_string("name=no-new-privileges"));
        json_object_set_new(info, "SecurityOptions", sec);

        json_t *pools = json_array();
        for (size_t i = 0; i < d->cfg.net.n_pools; i++) {
                char base[64] = "";
                int size = 0;
                if (sscanf(d->cfg.net.pools[i], "base=%63[^,],size=%d", base, &size) == 2)
                        json_array_append_new(pools, json_pack("{s:s, s:i}", "Base", base, "Size", size));
        }
        json_object_set_new(info, "DefaultAddressPools", pools);
        json_object_set_new(info, "InitBinary", json_string("berth-init"));

        /* dockerd's warning for each TCP listener without TLS (berth has no TLS yet) */
        json_t *w = json_object_get(info, "Warnings");
        for (size_t i = 0; i < d->cfg.n_hosts; i++) {
                const char *h = d->cfg.hosts[i];
                if (strncmp(h, "tcp://", 6) != 0)
                        continue;
                if (!json_is_array(w)) {
                        w = json_array();
                        json_object_set_new(info, "Warnings", w);
                }
                char text[512];
                snprintf(text, sizeof(text),
                         "WARNING: API is accessible on http://%s without encryption.\n"
                         "         Access to the remote API is equivalent to root access on the host. Refer\n"
                         "         to the 'Docker daemon attack surface' section in the documentation for\n"
                         "         more information: https://docs.docker.com/go/attack-surface/",
                         h + 6);
                json_array_append_new(w, json_string(text));
        }
}
