/* system.c - GET/HEAD /_ping, GET /version, GET /info. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "common/buildinfo.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "daemon/daemon.h"
#include "plugin/plugin.h"
#include "daemon/events.h"
#include "daemon/logdrv.h"
#include "daemon/networks.h"
#include "daemon/registry.h"
#include "daemon/reload.h"

static void version_string(char *buf, size_t size, unsigned v) {
        snprintf(buf, size, "%u.%u", v / 100, v % 100);
}

int api_system_ping(struct api_request *req, struct berr *err) {
        /* The CLI negotiates from these headers on the unversioned ping. */
        api_add_header(req, "Cache-Control", "no-cache, no-store, must-revalidate");
        api_add_header(req, "Pragma", "no-cache");
        api_add_header(req, "Builder-Version", "1");
        api_add_header(req, "Swarm", "inactive"); /* as a dockerd outside any swarm */
        return api_reply_data(req, 200, "text/plain; charset=utf-8", "OK", 2);
}

static json_t *version_json(struct daemon *d) {
        char api_max[8], api_min[8];
        version_string(api_max, sizeof(api_max), API_VERSION_MAX);
        version_string(api_min, sizeof(api_min), API_VERSION_MIN);
        json_t *details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ApiVersion", api_max, "Arch",
                                    d->host.arch_go, "BuildTime", berth_build_time, "Experimental",
                                    d->cfg.o14.experimental ? "true" : "false",
                                    "GitCommit", berth_git_commit, "GoVersion", "n/a", "KernelVersion",
                                    d->host.kernel, "MinAPIVersion", api_min, "Os", "linux");
        json_t *engine = json_pack("{s:s, s:s, s:o}", "Name", "Engine", "Version", berth_version, "Details", details);
        return json_pack("{s:{s:s}, s:[o], s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Platform", "Name",
                         "berth", "Components", engine, "Version", berth_version, "ApiVersion", api_max,
                         "MinAPIVersion", api_min, "GitCommit", berth_git_commit, "GoVersion", "n/a", "Os", "linux",
                         "Arch", d->host.arch_go, "KernelVersion", d->host.kernel, "BuildTime", berth_build_time);
}

int api_system_version(struct api_request *req, struct berr *err) {
        json_t *v = version_json(req->ctx);
        if (!v)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        return api_reply_json(req, 200, v);
}

static void add_warning(json_t *warnings, bool ok, const char *text) {
        if (!ok)
                json_array_append_new(warnings, json_string(text));
}

/* The warnings dockerd prints for the same host (daemon/info_unix.go's checks). */
static json_t *info_warnings(const struct host_facts *h) {
        json_t *w = json_array();
        if (h->cgroup_none) { /* dockerd's words for its rootless cgroup driver "none" */
                json_array_append_new(w, json_string(h->cgroup_version == 2
                        ? "WARNING: Running in rootless-mode without cgroups. A cgroup v2 subtree delegated to the user "
                          "(systemd: Delegate=yes) is required to enable cgroups in rootless-mode."
                        : "WARNING: Running in rootless-mode without cgroups. To enable cgroups in rootless-mode, you "
                          "need to boot the system in cgroup v2 mode."));
                return w;
        }
        add_warning(w, h->memory_limit, "WARNING: No memory limit support");
        add_warning(w, !h->memory_limit || h->swap_limit, "WARNING: No swap limit support");
        add_warning(w, h->cpu_cfs_quota, "WARNING: No cpu cfs quota support");
        add_warning(w, h->cpu_cfs_period, "WARNING: No cpu cfs period support");
        add_warning(w, h->cpu_shares, "WARNING: No cpu shares support");
        add_warning(w, h->cpuset, "WARNING: No cpuset support");
        if (json_array_size(w) == 0) {
                json_decref(w);
                return json_null();
        }
        return w;
}

static const char *env_either(const char *a, const char *b) {
        const char *v = getenv(a);
        if (!v)
                v = getenv(b);
        return v ? v : "";
}

static json_t *info_json(struct daemon *d) {
        const struct host_facts *h = &d->host;
        struct daemon_counts c;
        daemon_get_counts(d, &c);

        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        struct tm tm;
        gmtime_r(&now.tv_sec, &tm);
        char when[64], date[32];
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(when, sizeof(when), "%s.%09ldZ", date, now.tv_nsec);
        char cgv[4];
        snprintf(cgv, sizeof(cgv), "%d", h->cgroup_version);

        _cleanup_free_ char *shim = NULL;
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = '\0';
                char *slash = strrchr(self, '/');
                if (slash)
                        *slash = '\0';
                if (asprintf(&shim, "%s/berth-shim", self) < 0)
                        shim = NULL;
        }

        json_t *driver_status = json_pack("[[s,s],[s,s]]", "Backing Filesystem", d->backing_fs, "Supports d_type", "true");
        if (strcmp(d->storage_driver, "vfs") == 0) {
                json_decref(driver_status);
                driver_status = json_array();
        }

        json_t *o = json_object();
        json_set_str(o, "ID", d->engine_id);
        json_object_set_new(o, "Containers", json_integer(c.containers));
        json_object_set_new(o, "ContainersRunning", json_integer(c.running));
        json_object_set_new(o, "ContainersPaused", json_integer(c.paused));
        json_object_set_new(o, "ContainersStopped", json_integer(c.stopped));
        json_object_set_new(o, "Images", json_integer(c.images));
        json_set_str(o, "Driver", d->storage_driver);
        json_object_set_new(o, "DriverStatus", driver_status);
        json_set_str(o, "DockerRootDir", d->cfg.data_root);
        json_t *log_drivers = json_array();
        for (size_t i = 0; logdrv_names[i]; i++)
                if (strcmp(logdrv_names[i], "none")) /* dockerd lists none nowhere either */
                        json_array_append_new(log_drivers, json_string(logdrv_names[i]));
        /* volume drivers: local and the plugins used so far; authorization: as configured */
        json_t *volume_drivers = json_pack("[s]", "local");
        json_t *active = d->plugins ? plugin_registry_active(d->plugins, PLUGIN_KIND_VOLUME) : NULL;
        json_array_extend(volume_drivers, active);
        json_decref(active);
        daemon_opts_rdlock(); /* SIGHUP may replace the list */
        json_t *authz = d->cfg.n_authz_plugins ? json_array() : json_null();
        for (size_t i = 0; i < d->cfg.n_authz_plugins; i++)
                json_array_append_new(authz, json_string(d->cfg.authz_plugins[i]));
        daemon_opts_unlock();
        /* network drivers: berth's own and the network driver plugins used so far */
        json_t *net_drivers = json_pack("[s,s,s,s,s]", "bridge", "host", "ipvlan", "macvlan", "null");
        active = d->plugins ? plugin_registry_active(d->plugins, PLUGIN_KIND_NETWORK) : NULL;
        json_array_extend(net_drivers, active);
        json_decref(active);
        json_object_set_new(o, "Plugins", json_pack("{s:o, s:o, s:o, s:o}", "Volume", volume_drivers, "Network",
                                                    net_drivers, "Authorization", authz, "Log", log_drivers));
        json_object_set_new(o, "MemoryLimit", json_boolean(h->memory_limit));
        json_object_set_new(o, "SwapLimit", json_boolean(h->swap_limit));
        json_object_set_new(o, "KernelMemoryTCP", json_boolean(h->kernel_memory_tcp));
        json_object_set_new(o, "CpuCfsPeriod", json_boolean(h->cpu_cfs_period));
        json_object_set_new(o, "CpuCfsQuota", json_boolean(h->cpu_cfs_quota));
        json_object_set_new(o, "CPUShares", json_boolean(h->cpu_shares));
        json_object_set_new(o, "CPUSet", json_boolean(h->cpuset));
        json_object_set_new(o, "PidsLimit", json_boolean(h->pids_limit));
        json_object_set_new(o, "OomKillDisable", json_boolean(h->oom_kill_disable));
        json_object_set_new(o, "IPv4Forwarding", json_boolean(h->ipv4_forwarding));
        json_object_set_new(o, "BridgeNfIptables", json_boolean(h->bridge_nf_iptables));
        json_object_set_new(o, "BridgeNfIp6tables", json_boolean(h->bridge_nf_ip6tables));
        json_object_set_new(o, "Debug", json_boolean(d->cfg.debug));
        json_object_set_new(o, "NFd", json_integer(host_count_fds()));
        json_object_set_new(o, "NGoroutines", json_integer(host_count_threads()));
        json_set_str(o, "SystemTime", when);
        json_set_str(o, "LoggingDriver", d->cfg.log_driver ? d->cfg.log_driver : "json-file");
        json_set_str(o, "CgroupDriver", "cgroupfs");
        json_set_str(o, "CgroupVersion", cgv);
        json_object_set_new(o, "NEventsListener", json_integer(events_listeners(d)));
        json_set_str(o, "KernelVersion", h->kernel);
        json_set_str(o, "OperatingSystem", h->os_name);
        json_set_str(o, "OSVersion", h->os_version);
        json_set_str(o, "OSType", "linux");
        json_set_str(o, "Architecture", h->arch_uname);
        json_object_set_new(o, "NCPU", json_integer(h->ncpu));
        json_object_set_new(o, "MemTotal", json_integer(h->mem_total_bytes));
        json_set_str(o, "IndexServerAddress", "https://index.docker.io/v1/");
        json_t *reg = daemon_registry_info(d);
        json_object_set_new(reg, "AllowNondistributableArtifactsCIDRs", json_array());
        json_object_set_new(reg, "AllowNondistributableArtifactsHostnames", json_array());
        json_object_set_new(o, "RegistryConfig", reg);
        json_object_set_new(o, "GenericResources", json_null());
        json_set_str(o, "HttpProxy", env_either("HTTP_PROXY", "http_proxy"));
        json_set_str(o, "HttpsProxy", env_either("HTTPS_PROXY", "https_proxy"));
        json_set_str(o, "NoProxy", env_either("NO_PROXY", "no_proxy"));
        json_set_str(o, "Name", h->hostname);
        json_object_set_new(o, "Labels", json_array());
        json_object_set_new(o, "ExperimentalBuild", json_false());
        json_set_str(o, "ServerVersion", berth_version);
        daemon_opts_rdlock();
        json_object_set_new(o, "Runtimes", daemon_runtimes_info(&d->cfg.runtimes, shim ? shim : "berth-shim"));
        json_set_str(o, "DefaultRuntime", daemon_runtimes_default(&d->cfg.runtimes));
        daemon_opts_unlock();
        json_object_set_new(o, "Swarm", json_pack("{s:s, s:s, s:s, s:b, s:s, s:n}", "NodeID", "", "NodeAddr", "",
                                                  "LocalNodeState", "inactive", "ControlAvailable", 0, "Error", "",
                                                  "RemoteManagers"));
        json_object_set_new(o, "LiveRestoreEnabled", json_false());
        json_set_str(o, "Isolation", "");
        json_set_str(o, "InitBinary", "");
        json_object_set_new(o, "ContainerdCommit", json_pack("{s:s, s:s}", "ID", "", "Expected", ""));
        json_object_set_new(o, "RuncCommit", json_pack("{s:s, s:s}", "ID", "", "Expected", ""));
        json_object_set_new(o, "InitCommit", json_pack("{s:s, s:s}", "ID", "", "Expected", ""));
        json_object_set_new(o, "SecurityOptions", json_array());
        json_object_set_new(o, "DefaultAddressPools", json_array());
        json_t *w = info_warnings(h), *nw = daemon_net_warnings(d);
        if (json_array_size(nw) > 0) {
                if (!json_is_array(w)) {
                        json_decref(w);
                        w = json_array();
                }
                json_array_extend(w, nw);
        }
        json_decref(nw);
        json_object_set_new(o, "Warnings", w);
        json_object_set_new(o, "CDISpecDirs", json_array());
        daemon_opts_info(d, o); /* Debug, Labels, proxies, CgroupDriver, SecurityOptions, ... */
        if (h->cgroup_none)
                json_set_str(o, "CgroupDriver", "none");
        return o;
}

int api_system_info(struct api_request *req, struct berr *err) {
        json_t *o = info_json(req->ctx);
        if (!o)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        return api_reply_json(req, 200, o);
}

/* POST /build/prune: berth has no build cache yet, so there is nothing to remove;
 * `docker system prune` calls it. */
int api_build_prune(struct api_request *req, struct berr *err) {
        (void) err;
        return api_reply_json(req, 200, json_pack("{s:n, s:i}", "CachesDeleted", "SpaceReclaimed", 0));
}
