/* logplugin.c - log driver plugins (--log-driver NAME for a plugin implementing
 * LogDriver), as dockerd's logger/plugin.go: at each start a FIFO
 * (EXEC-ROOT/logging/<container id>) is made and handed to the plugin with
 * LogDriver.StartLogging {File, Info}; the shim writes the container's output into it as
 * length-prefixed protobuf LogEntry records (shim/logdrv.c); when the run ends
 * LogDriver.StopLogging {File} lets the plugin finish, and the FIFO goes. `docker logs`
 * reads the plugin's LogDriver.ReadLogs stream when its Capabilities say ReadLogs, else
 * the local cache beside it (dual logging), as dockerd. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "container.h"
#include "container_logs.h"
#include "daemon.h"
#include "logdrv.h"
#include "plugin/plugin.h"

#define LOG_CALL_TIMEOUT_MS 60000

static int lookup(void *ctx, const char *name) {
        struct daemon *d = ctx;
        struct plugin *p;
        struct berr e = { 0 };
        return plugin_get(d->plugins, name, PLUGIN_KIND_LOG, &p, &e);
}

void ctr_log_plugins_init(struct daemon *d) {
        logdrv_set_plugin_lookup(lookup, d);
}

static int fifo_path(struct daemon *d, const char *id, char *out, size_t size) {
        return fs_path_fmt(out, size, "%s/logging/%s", d->cfg.exec_root, id);
}

/* A managed plugin sees its own root: the FIFO is made in its /run/docker/logging and
 * named by that path (dockerd's ScopedPath of the unscoped /run/docker/logging). @dir,
 * @fifo: on the host; @file: what the plugin is told. */
#define MANAGED_LOG_DIR "/run/docker/logging"
static int fifo_paths(struct daemon *d, struct plugin *p, const char *id, char dir[4200], char fifo[4300],
                      char file[4300]) {
        if (p && plugin_is_managed(p)) {
                if (plugin_scoped_path(p, MANAGED_LOG_DIR, dir, 4200) < 0 ||
                    fs_path_fmt(fifo, 4300, "%s/%s", dir, id) < 0)
                        return -ENAMETOOLONG;
                return fs_path_fmt(file, 4300, MANAGED_LOG_DIR "/%s", id);
        }
        if (fs_path_fmt(dir, 4200, "%s/logging", d->cfg.exec_root) < 0 || fifo_path(d, id, fifo, 4300) < 0)
                return -ENAMETOOLONG;
        return fs_path_fmt(file, 4300, "%s", fifo);
}

/* dockerd's logger.Info as the plugin protocol sends it. */
static json_t *plugin_log_info(struct container *c, json_t *logo) {
        _cleanup_json_ json_t *cfg = ctr_config_encode_config(c->cc);
        const char *name = json_string_value(json_object_get(logo, "name")) ?: "";
        json_t *args = json_is_array(c->args) ? json_deep_copy(c->args) : json_array();
        json_t *env = json_object_get(cfg, "Env"), *labels = json_object_get(cfg, "Labels");
        json_t *config = json_object_get(logo, "opts");
        return json_pack("{s:O, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:O, s:O, s:s, s:s}", "Config",
                         config ? config : json_object(), "ContainerID", c->id, "ContainerName", name,
                         "ContainerEntrypoint", c->path ? c->path : "", "ContainerArgs", args, "ContainerImageID",
                         c->image_id, "ContainerImageName", c->cc->cfg.image ? c->cc->cfg.image : "",
                         "ContainerCreated", c->created, "ContainerEnv",
                         json_is_array(env) ? env : json_array(), "ContainerLabels",
                         json_is_object(labels) ? labels : json_object(), "LogPath", "", "DaemonName", "docker");
}

int ctr_log_plugin_start(struct daemon *d, struct container *c, json_t *logo, struct berr *err) {
        const char *driver = json_string_value(json_object_get(logo, "driver"));
        if (!driver || logdrv_is_builtin(driver))
                return 0;
        struct plugin *p;
        int r = plugin_get(d->plugins, driver, PLUGIN_KIND_LOG, &p, err);
        if (r < 0)
                return berr_wrap(err, "failed to initialize logging driver");
        char dir[4200], fifo[4300], file[4300];
        if (fifo_paths(d, p, c->id, dir, fifo, file) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "log fifo: path too long");
        if ((r = fs_mkdir_p(dir, 0700, err)) < 0)
                return r;
        (void) unlink(fifo); /* a previous run's */
        if (mkfifo(fifo, 0700) < 0)
                return berr_sys(err, BERR_INTERNAL, "mkfifo %s", fifo);
        _cleanup_json_ json_t *info = plugin_log_info(c, logo);
        json_t *args = json_pack("{s:s, s:O}", "File", file, "Info", info);
        _cleanup_json_ json_t *res = NULL;
        r = plugin_call(p, "LogDriver.StartLogging", args, LOG_CALL_TIMEOUT_MS, &res, err);
        json_decref(args);
        const char *perr = json_string_value(json_object_get(res, "Err"));
        if (r == 0 && perr && *perr)
                r = berr_set(err, BERR_INTERNAL, EIO, "%s", perr);
        if (r < 0) {
                (void) unlink(fifo);
                return berr_wrap(err, "failed to initialize logging driver");
        }
        json_object_set_new(logo, "plugin_fifo", json_string(fifo));
        return 0;
}

void ctr_log_plugin_stop(struct daemon *d, struct container *c) {
        struct ctr_log_cfg lc;
        if (ctr_log_config(c->cc, &lc) < 0)
                return;
        bool plugin = lc.type && !logdrv_is_builtin(lc.type);
        char driver[256];
        snprintf(driver, sizeof(driver), "%s", lc.type ? lc.type : "");
        ctr_log_config_done(&lc);
        char dir[4200], fifo[4300], file[4300];
        struct stat st;
        if (!plugin || fifo_path(d, c->id, fifo, sizeof(fifo)) < 0)
                return;
        struct plugin *p = NULL;
        struct berr e = { 0 };
        /* a managed plugin's FIFO is in its root; a plugin not found leaves the legacy path */
        if (plugin_get_now(d->plugins, driver, PLUGIN_KIND_LOG, &p, &e) == 0 && plugin_is_managed(p) &&
            fifo_paths(d, p, c->id, dir, fifo, file) < 0)
                return;
        if (!p || !plugin_is_managed(p))
                snprintf(file, sizeof(file), "%s", fifo);
        if (stat(fifo, &st) < 0)
                return;
        json_t *args = json_pack("{s:s}", "File", file);
        _cleanup_json_ json_t *res = NULL;
        if ((!p && plugin_get(d->plugins, driver, PLUGIN_KIND_LOG, &p, &e) < 0) ||
            plugin_call(p, "LogDriver.StopLogging", args, LOG_CALL_TIMEOUT_MS, &res, &e) < 0)
                log_warn("container %.12s: log plugin %s: %s", c->id, driver, e.msg);
        json_decref(args);
        (void) unlink(fifo);
}

/* Go's time.Time in JSON for @ns (0: the zero time). */
static void go_time_json(int64_t ns, char *out, size_t size) {
        if (!ns) {
                snprintf(out, size, "0001-01-01T00:00:00Z");
                return;
        }
        time_t secs = (time_t) (ns / 1000000000LL);
        struct tm tm;
        gmtime_r(&secs, &tm);
        char date[32];
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out, size, "%s.%09lldZ", date, (long long) (ns % 1000000000LL));
}

int ctr_log_plugin_reader(struct daemon *d, struct container *c, const struct ctr_logs_opts *o,
                          struct plugin_stream **ret, struct berr *err) {
        *ret = NULL;
        struct ctr_log_cfg lc;
        if (ctr_log_config(c->cc, &lc) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        _cleanup_json_ json_t *logo = json_pack("{s:{}, s:s}", "opts", "name", c->name);
        char driver[256];
        snprintf(driver, sizeof(driver), "%s", lc.type ? lc.type : "");
        for (size_t i = 0; logo && i < lc.n; i++)
                json_object_set_new(json_object_get(logo, "opts"), lc.keys[i], json_string(lc.vals[i]));
        ctr_log_config_done(&lc);
        if (!driver[0] || logdrv_is_builtin(driver))
                return 0;
        struct plugin *p;
        _cleanup_json_ json_t *caps = NULL;
        struct berr e = { 0 };
        if (plugin_get(d->plugins, driver, PLUGIN_KIND_LOG, &p, &e) < 0 ||
            plugin_call(p, "LogDriver.Capabilities", NULL, LOG_CALL_TIMEOUT_MS, &caps, &e) < 0 ||
            !json_is_true(json_object_get(json_object_get(caps, "Cap"), "ReadLogs")))
                return 0; /* the local cache then, as dockerd without ReadLogs */
        char since[64], until[64];
        go_time_json(o->since_ns, since, sizeof(since));
        go_time_json(o->until_ns, until, sizeof(until));
        if (json_string_length(json_object_get(logo, "name")) && c->name[0] != '/') {
                char slashed[300];
                snprintf(slashed, sizeof(slashed), "/%s", c->name);
                json_object_set_new(logo, "name", json_string(slashed));
        }
        _cleanup_json_ json_t *info = plugin_log_info(c, logo);
        _cleanup_json_ json_t *args = json_pack("{s:O, s:{s:s, s:s, s:I, s:b}}", "Info", info, "Config", "Since", since,
                                                "Until", until, "Tail", (json_int_t) o->tail, "Follow", o->follow);
        int r = plugin_stream_open(p, "LogDriver.ReadLogs", args, ret, err);
        return r < 0 ? berr_wrap(err, "log plugin %s", driver) : 0;
}
