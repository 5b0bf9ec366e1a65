/* test_ctr_config.c - the typed container configuration (src/runtime/ctr_config.c): a
 * create body with every field of the swagger's ContainerConfig and HostConfig (API 1.45)
 * set to something other than its zero value goes through the struct and comes back out
 * of the encoder unchanged; an empty body comes out with dockerd's defaults; null and []
 * stay apart; modes decode to their enums; a record written by an older berth (the
 * client's HostConfig as sent) still decodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "runtime/ctr_config.h"

/* The field names of the swagger's definitions, in its order (engine-api v1.45). */
static const char *const swagger_container_config[] = {
        "Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "ExposedPorts", "Tty",
        "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck", "ArgsEscaped", "Image", "Volumes", "WorkingDir",
        "Entrypoint", "NetworkDisabled", "MacAddress", "OnBuild", "Labels", "StopSignal", "StopTimeout", "Shell", NULL,
};

static const char *const swagger_host_config[] = {
        "CpuShares", "Memory", "CgroupParent", "BlkioWeight", "BlkioWeightDevice", "BlkioDeviceReadBps",
        "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps", "CpuPeriod", "CpuQuota",
        "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems", "Devices", "DeviceCgroupRules",
        "DeviceRequests", "KernelMemoryTCP", "MemoryReservation", "MemorySwap", "MemorySwappiness", "NanoCpus",
        "OomKillDisable", "Init", "PidsLimit", "Ulimits", "CpuCount", "CpuPercent", "IOMaximumIOps",
        "IOMaximumBandwidth", "Binds", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings", "RestartPolicy",
        "AutoRemove", "VolumeDriver", "VolumesFrom", "Mounts", "ConsoleSize", "Annotations", "CapAdd", "CapDrop",
        "CgroupnsMode", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd", "IpcMode", "Cgroup", "Links",
        "OomScoreAdj", "PidMode", "Privileged", "PublishAllPorts", "ReadonlyRootfs", "SecurityOpt", "StorageOpt",
        "Tmpfs", "UTSMode", "UsernsMode", "ShmSize", "Sysctls", "Runtime", "Isolation", "MaskedPaths",
        "ReadonlyPaths", NULL,
};

static const char full_config[] = "{"
        "\"Hostname\": \"h1\", \"Domainname\": \"example.org\", \"User\": \"1000:1000\","
        "\"AttachStdin\": true, \"AttachStdout\": true, \"AttachStderr\": true,"
        "\"ExposedPorts\": {\"80/tcp\": {}, \"53/udp\": {}}, \"Tty\": true, \"OpenStdin\": true, \"StdinOnce\": true,"
        "\"Env\": [\"A=1\", \"B\"], \"Cmd\": [\"sh\", \"-c\", \"true\"],"
        "\"Healthcheck\": {\"Test\": [\"CMD\", \"true\"], \"Interval\": 2000000000, \"Timeout\": 3000000000,"
        "  \"Retries\": 4, \"StartPeriod\": 5000000000, \"StartInterval\": 6000000000},"
        "\"ArgsEscaped\": true, \"Image\": \"busybox\", \"Volumes\": {\"/data\": {}}, \"WorkingDir\": \"/w\","
        "\"Entrypoint\": [\"/bin/init\"], \"NetworkDisabled\": true, \"MacAddress\": \"02:42:ac:11:00:02\","
        "\"OnBuild\": [\"RUN true\"], \"Labels\": {\"a\": \"b\"}, \"StopSignal\": \"SIGUSR1\", \"StopTimeout\": 7,"
        "\"Shell\": [\"/bin/sh\", \"-c\"]"
        "}";

static const char full_host_config[] = "{"
        "\"CpuShares\": 512, \"Memory\": 67108864, \"CgroupParent\": \"/p\", \"BlkioWeight\": 300,"
        "\"BlkioWeightDevice\": [{\"Path\": \"/dev/sda\", \"Weight\": 200}],"
        "\"BlkioDeviceReadBps\": [{\"Path\": \"/dev/sda\", \"Rate\": 1000}],"
        "\"BlkioDeviceWriteBps\": [{\"Path\": \"/dev/sda\", \"Rate\": 2000}],"
        "\"BlkioDeviceReadIOps\": [{\"Path\": \"/dev/sda\", \"Rate\": 30}],"
        "\"BlkioDeviceWriteIOps\": [{\"Path\": \"/dev/sda\", \"Rate\": 40}],"
        "\"CpuPeriod\": 100000, \"CpuQuota\": 50000, \"CpuRealtimePeriod\": 1000000, \"CpuRealtimeRuntime\": 950000,"
        "\"CpusetCpus\": \"0-1\", \"CpusetMems\": \"0\","
        "\"Devices\": [{\"PathOnHost\": \"/dev/null\", \"PathInContainer\": \"/dev/n\", \"CgroupPermissions\": \"rwm\"}],"
        "\"DeviceCgroupRules\": [\"c 1:3 rwm\"],"
        "\"DeviceRequests\": [{\"Driver\": \"nvidia\", \"Count\": -1, \"DeviceIDs\": [\"0\"],"
        "  \"Capabilities\": [[\"gpu\", \"compute\"]], \"Options\": {\"k\": \"v\"}}],"
        "\"KernelMemoryTCP\": 1048576, \"MemoryReservation\": 33554432, \"MemorySwap\": 134217728,"
        "\"MemorySwappiness\": 10, \"NanoCpus\": 500000000, \"OomKillDisable\": true, \"Init\": true,"
        "\"PidsLimit\": 100, \"Ulimits\": [{\"Name\": \"nofile\", \"Hard\": 2048, \"Soft\": 1024}],"
        "\"CpuCount\": 2, \"CpuPercent\": 50, \"IOMaximumIOps\": 10, \"IOMaximumBandwidth\": 20,"
        "\"Binds\": [\"/src:/dst:ro\"], \"ContainerIDFile\": \"/tmp/cid\","
        "\"LogConfig\": {\"Type\": \"json-file\", \"Config\": {\"max-size\": \"10m\"}},"
        "\"NetworkMode\": \"mynet\","
        "\"PortBindings\": {\"80/tcp\": [{\"HostIp\": \"127.0.0.1\", \"HostPort\": \"8080\"}], \"53/udp\": []},"
        "\"RestartPolicy\": {\"Name\": \"on-failure\", \"MaximumRetryCount\": 3},"
        "\"AutoRemove\": true, \"VolumeDriver\": \"local\", \"VolumesFrom\": [\"other:ro\"],"
        "\"Mounts\": [{\"Type\": \"bind\", \"Source\": \"/a\", \"Target\": \"/b\", \"ReadOnly\": true,"
        "  \"Consistency\": \"cached\", \"BindOptions\": {\"Propagation\": \"rslave\", \"NonRecursive\": true,"
        "  \"CreateMountpoint\": true, \"ReadOnlyNonRecursive\": true, \"ReadOnlyForceRecursive\": true}},"
        " {\"Type\": \"volume\", \"Source\": \"v\", \"Target\": \"/v\", \"VolumeOptions\": {\"NoCopy\": true,"
        "  \"Labels\": {\"l\": \"1\"}, \"Subpath\": \"sub\", \"DriverConfig\": {\"Name\": \"local\", \"Options\": {\"o\": \"x\"}}}},"
        " {\"Type\": \"tmpfs\", \"Target\": \"/t\", \"TmpfsOptions\": {\"SizeBytes\": 4096, \"Mode\": 448,"
        "  \"Options\": [[\"noexec\"], [\"uid\", \"1000\"]]}}],"
        "\"ConsoleSize\": [24, 80], \"Annotations\": {\"an\": \"no\"}, \"CapAdd\": [\"NET_ADMIN\"],"
        "\"CapDrop\": [\"MKNOD\"], \"CgroupnsMode\": \"private\", \"Dns\": [\"10.0.0.1\"],"
        "\"DnsOptions\": [\"ndots:2\"], \"DnsSearch\": [\"example.org\"], \"ExtraHosts\": [\"h:10.0.0.2\"],"
        "\"GroupAdd\": [\"audio\"], \"IpcMode\": \"shareable\", \"Cgroup\": \"c\", \"Links\": [\"/a:/b/a\"],"
        "\"OomScoreAdj\": 100, \"PidMode\": \"host\", \"Privileged\": true, \"PublishAllPorts\": true,"
        "\"ReadonlyRootfs\": true, \"SecurityOpt\": [\"no-new-privileges\"], \"StorageOpt\": {\"size\": \"1G\"},"
        "\"Tmpfs\": {\"/run\": \"rw\"}, \"UTSMode\": \"host\", \"UsernsMode\": \"host\", \"ShmSize\": 1048576,"
        "\"Sysctls\": {\"net.ipv4.ip_forward\": \"1\"}, \"Runtime\": \"runc\", \"Isolation\": \"default\","
        "\"MaskedPaths\": [\"/proc/kcore\"], \"ReadonlyPaths\": [\"/proc/sys\"]"
        "}";

static json_t *parse(const char *s) {
        json_error_t e;
        json_t *v = json_loads(s, 0, &e);
        if (!v)
                fail_msg("bad test JSON at %d: %s", e.position, e.text);
        return v;
}

static void assert_field(json_t *want, json_t *got, const char *obj, const char *name) {
        json_t *w = json_object_get(want, name), *g = json_object_get(got, name);
        if (!g || !json_equal(w, g)) {
                char *ws = json_dumps(w, JSON_ENCODE_ANY), *gs = g ? json_dumps(g, JSON_ENCODE_ANY) : NULL;
                fail_msg("%s.%s: sent %s, encoded %s", obj, name, ws, gs ? gs : "(missing)");
        }
}

static void test_round_trip_every_field(void **state) {
        (void) state;
        json_t *cfg = parse(full_config), *hc = parse(full_host_config);
        /* the test's own bodies name every swagger field, none left at its zero value */
        for (size_t i = 0; swagger_container_config[i]; i++)
                assert_non_null(json_object_get(cfg, swagger_container_config[i]));
        for (size_t i = 0; swagger_host_config[i]; i++)
                assert_non_null(json_object_get(hc, swagger_host_config[i]));

        struct ctr_config *c = NULL;
        struct berr err = { 0 };
        assert_int_equal(ctr_config_decode(cfg, hc, NULL, &c, &err), 0);
        json_t *ecfg = ctr_config_encode_config(c), *ehc = ctr_config_encode_host_config(c);
        for (size_t i = 0; swagger_container_config[i]; i++)
                assert_field(cfg, ecfg, "Config", swagger_container_config[i]);
        for (size_t i = 0; swagger_host_config[i]; i++)
                assert_field(hc, ehc, "HostConfig", swagger_host_config[i]);

        /* ... and a second trip (a record written, then loaded) changes nothing */
        struct ctr_config *c2 = NULL;
        assert_int_equal(ctr_config_decode(ecfg, ehc, NULL, &c2, &err), 0);
        json_t *ecfg2 = ctr_config_encode_config(c2), *ehc2 = ctr_config_encode_host_config(c2);
        assert_true(json_equal(ecfg, ecfg2));
        assert_true(json_equal(ehc, ehc2));

        /* typed reads */
        assert_int_equal(c->hc.net_mode, CTR_NET_USER);
        assert_int_equal(c->hc.ipc_mode, CTR_IPC_SHAREABLE);
        assert_int_equal(c->hc.pid_mode, CTR_PID_HOST);
        assert_int_equal(c->hc.uts_mode, CTR_UTS_HOST);
        assert_int_equal(c->hc.cgroupns_mode, CTR_CGROUPNS_PRIVATE);
        assert_int_equal(c->hc.restart_policy.name, CTR_RESTART_ON_FAILURE);
        assert_int_equal(c->hc.restart_policy.maximum_retry_count, 3);
        assert_int_equal(c->hc.log_config.driver, CTR_LOG_JSON_FILE);
        assert_string_equal(strmap_get(&c->hc.log_config.config, "max-size"), "10m");
        assert_int_equal(c->hc.n_port_bindings, 2);
        assert_true(ctr_config_publishes_ports(c));
        assert_int_equal(c->hc.n_mounts, 3);
        assert_int_equal(c->hc.mounts[2].tmpfs.mode, 0700);
        assert_int_equal(c->hc.ulimits[0].soft, 1024);
        assert_true(c->hc.memory_swappiness.set);
        assert_int_equal(c->hc.memory_swappiness.v, 10);
        assert_int_equal(c->cfg.env.n, 2);
        assert_string_equal(c->cfg.env.v[1], "B");
        assert_int_equal(c->cfg.healthcheck.retries, 4);
        assert_true(c->cfg.stop_timeout.set);
        assert_true(strv_contains(&c->cfg.exposed_ports, "53/udp"));

        json_decref(ecfg2);
        json_decref(ehc2);
        ctr_config_free(c2);
        json_decref(ecfg);
        json_decref(ehc);
        ctr_config_free(c);
        json_decref(cfg);
        json_decref(hc);
}

/* What dockerd shows for a create that set nothing. */
static void test_defaults(void **state) {
        (void) state;
        json_t *cfg = parse("{\"Image\": \"busybox\"}");
        struct ctr_config *c = NULL;
        struct berr err = { 0 };
        assert_int_equal(ctr_config_decode(cfg, NULL, NULL, &c, &err), 0);
        json_t *ehc = ctr_config_encode_host_config(c), *ecfg = ctr_config_encode_config(c);
        json_t *want_hc = parse("{\"NetworkMode\": \"default\", \"PortBindings\": {},"
                                " \"RestartPolicy\": {\"Name\": \"no\", \"MaximumRetryCount\": 0},"
                                " \"LogConfig\": {\"Type\": \"json-file\", \"Config\": {}}, \"Binds\": null,"
                                " \"ConsoleSize\": [0, 0], \"MemorySwappiness\": null, \"OomKillDisable\": null,"
                                " \"PidsLimit\": null, \"Ulimits\": [], \"Devices\": [], \"BlkioWeightDevice\": [],"
                                " \"BlkioDeviceReadBps\": [], \"DeviceRequests\": null, \"ShmSize\": 0, \"Privileged\": false,"
                                " \"IpcMode\": \"\", \"Dns\": null}");
        const char *k;
        json_t *v;
        json_object_foreach(want_hc, k, v) assert_field(want_hc, ehc, "HostConfig", k);
        /* omitempty fields stay out */
        static const char *const absent_hc[] = { "Annotations", "StorageOpt", "Tmpfs", "Sysctls", "Runtime", "Mounts",
                                                 "Init", "KernelMemory", "KernelMemoryTCP" };
        for (size_t i = 0; i < sizeof(absent_hc) / sizeof(absent_hc[0]); i++)
                if (json_object_get(ehc, absent_hc[i]))
                        fail_msg("HostConfig.%s should be left out", absent_hc[i]);
        static const char *const absent_cfg[] = { "ExposedPorts", "Healthcheck", "ArgsEscaped", "NetworkDisabled",
                                                  "MacAddress", "StopSignal", "StopTimeout", "Shell" };
        for (size_t i = 0; i < sizeof(absent_cfg) / sizeof(absent_cfg[0]); i++)
                if (json_object_get(ecfg, absent_cfg[i]))
                        fail_msg("Config.%s should be left out", absent_cfg[i]);
        assert_true(json_is_null(json_object_get(ecfg, "Cmd")));
        assert_true(json_is_null(json_object_get(ecfg, "Volumes")));
        assert_string_equal(json_string_value(json_object_get(ecfg, "Image")), "busybox");
        assert_int_equal(c->hc.net_mode, CTR_NET_DEFAULT);
        assert_int_equal(c->hc.restart_policy.name, CTR_RESTART_UNSET);
        assert_false(ctr_config_publishes_ports(c));
        json_decref(want_hc);
        json_decref(ehc);
        json_decref(ecfg);
        ctr_config_free(c);
        json_decref(cfg);
}

static void test_null_and_empty_stay_apart(void **state) {
        (void) state;
        json_t *cfg = parse("{\"Cmd\": [], \"Env\": null, \"Labels\": {}}");
        json_t *hc = parse("{\"Dns\": [], \"CapAdd\": null, \"PortBindings\": {\"80/tcp\": null}}");
        struct ctr_config *c = NULL;
        struct berr err = { 0 };
        assert_int_equal(ctr_config_decode(cfg, hc, NULL, &c, &err), 0);
        json_t *ecfg = ctr_config_encode_config(c), *ehc = ctr_config_encode_host_config(c);
        assert_int_equal(json_array_size(json_object_get(ecfg, "Cmd")), 0);
        assert_true(json_is_array(json_object_get(ecfg, "Cmd")));
        assert_true(json_is_null(json_object_get(ecfg, "Env")));
        assert_true(json_is_object(json_object_get(ecfg, "Labels")));
        assert_true(json_is_array(json_object_get(ehc, "Dns")));
        assert_true(json_is_null(json_object_get(ehc, "CapAdd")));
        assert_true(json_is_null(json_object_get(json_object_get(ehc, "PortBindings"), "80/tcp")));
        assert_false(ctr_config_publishes_ports(c));
        json_decref(ecfg);
        json_decref(ehc);
        ctr_config_free(c);
        json_decref(cfg);
        json_decref(hc);
}

static void test_modes(void **state) {
        (void) state;
        static const struct {
                const char *hc;
                enum ctr_net_mode net;
                const char *ref;
                enum ctr_ipc_mode ipc;
                enum ctr_pid_mode pid;
        } cases[] = {
                { "{\"NetworkMode\": \"default\"}", CTR_NET_DEFAULT, NULL, CTR_IPC_DEFAULT, CTR_PID_DEFAULT },
                { "{\"NetworkMode\": \"bridge\", \"IpcMode\": \"host\"}", CTR_NET_BRIDGE, NULL, CTR_IPC_HOST, CTR_PID_DEFAULT },
                { "{\"NetworkMode\": \"none\", \"IpcMode\": \"none\"}", CTR_NET_NONE, NULL, CTR_IPC_NONE, CTR_PID_DEFAULT },
                { "{\"NetworkMode\": \"host\", \"IpcMode\": \"private\"}", CTR_NET_HOST, NULL, CTR_IPC_PRIVATE, CTR_PID_DEFAULT },
                { "{\"NetworkMode\": \"container:web\", \"IpcMode\": \"container:db\", \"PidMode\": \"container:x\"}",
                  CTR_NET_CONTAINER, "web", CTR_IPC_CONTAINER, CTR_PID_CONTAINER },
                { "{\"IpcMode\": \"container:\", \"PidMode\": \"bogus\"}", CTR_NET_DEFAULT, NULL, CTR_IPC_INVALID,
                  CTR_PID_INVALID },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                json_t *hc = parse(cases[i].hc);
                struct ctr_config *c = NULL;
                struct berr err = { 0 };
                assert_int_equal(ctr_config_decode(NULL, hc, NULL, &c, &err), 0);
                assert_int_equal(c->hc.net_mode, cases[i].net);
                if (cases[i].ref)
                        assert_string_equal(c->hc.network_mode_ref, cases[i].ref);
                assert_int_equal(c->hc.ipc_mode, cases[i].ipc);
                assert_int_equal(c->hc.pid_mode, cases[i].pid);
                if (c->hc.ipc_mode == CTR_IPC_CONTAINER)
                        assert_string_equal(c->hc.ipc_mode_ref, "db");
                ctr_config_free(c);
                json_decref(hc);
        }
        static const struct {
                const char *rp;
                enum ctr_restart want;
                const char *shown;
        } restarts[] = {
                { "{}", CTR_RESTART_UNSET, "no" },
                { "{\"RestartPolicy\": {}}", CTR_RESTART_EMPTY, "" },
                { "{\"RestartPolicy\": {\"Name\": \"always\"}}", CTR_RESTART_ALWAYS, "always" },
                { "{\"RestartPolicy\": {\"Name\": \"unless-stopped\"}}", CTR_RESTART_UNLESS_STOPPED, "unless-stopped" },
                { "{\"RestartPolicy\": {\"Name\": \"sometimes\"}}", CTR_RESTART_INVALID, "sometimes" },
        };
        for (size_t i = 0; i < sizeof(restarts) / sizeof(restarts[0]); i++) {
                json_t *hc = parse(restarts[i].rp);
                struct ctr_config *c = NULL;
                struct berr err = { 0 };
                assert_int_equal(ctr_config_decode(NULL, hc, NULL, &c, &err), 0);
                assert_int_equal(c->hc.restart_policy.name, restarts[i].want);
                json_t *e = ctr_config_encode_host_config(c);
                assert_string_equal(json_string_value(json_object_get(json_object_get(e, "RestartPolicy"), "Name")),
                                    restarts[i].shown);
                json_decref(e);
                ctr_config_free(c);
                json_decref(hc);
        }
}

/* A record an older berth wrote: hostconfig.json is the client's HostConfig as sent (no
 * defaults, a log driver left empty, CapAdd as the CLI sends it). */
static void test_old_record(void **state) {
        (void) state;
        json_t *hc = parse("{\"NetworkMode\": \"\", \"LogConfig\": {\"Type\": \"\", \"Config\": {}},"
                           " \"RestartPolicy\": {\"Name\": \"unless-stopped\", \"MaximumRetryCount\": 0},"
                           " \"PortBindings\": {\"80/tcp\": [{\"HostIp\": \"\", \"HostPort\": \"8080\"}]},"
                           " \"Binds\": [\"vol:/data\"], \"unknown-key\": 1}");
        json_t *cfg = parse("{\"Image\": \"busybox\", \"Cmd\": [\"top\"], \"Env\": [\"PATH=/bin\"]}");
        struct ctr_config *c = NULL;
        struct berr err = { 0 };
        assert_int_equal(ctr_config_decode(cfg, hc, NULL, &c, &err), 0);
        assert_int_equal(c->hc.log_config.driver, CTR_LOG_JSON_FILE);
        assert_string_equal(c->hc.log_config.type, "json-file");
        assert_int_equal(c->hc.net_mode, CTR_NET_DEFAULT);
        assert_int_equal(c->hc.restart_policy.name, CTR_RESTART_UNLESS_STOPPED);
        assert_string_equal(c->hc.port_bindings[0].b[0].host_port, "8080");
        assert_string_equal(c->hc.binds.v[0], "vol:/data");
        assert_string_equal(c->cfg.cmd.v[0], "top");
        ctr_config_free(c);
        json_decref(hc);
        json_decref(cfg);
}

static void test_endpoints(void **state) {
        (void) state;
        json_t *nc = parse("{\"EndpointsConfig\": {\"net1\": {\"IPAMConfig\": {\"IPv4Address\": \"10.1.0.5\"},"
                           " \"Aliases\": [\"web\"], \"MacAddress\": \"02:42:ac:11:00:09\", \"DriverOpts\": {\"a\": \"b\"}},"
                           " \"net2\": {}}}");
        struct ctr_config *c = NULL;
        struct berr err = { 0 };
        assert_int_equal(ctr_config_decode(NULL, NULL, nc, &c, &err), 0);
        assert_int_equal(c->n_endpoints, 2);
        const struct ctr_endpoint_config *e = &c->endpoints[0];
        assert_string_equal(e->name, "net1");
        assert_true(e->ipam_set);
        assert_string_equal(e->ipv4_address, "10.1.0.5");
        assert_string_equal(e->aliases.v[0], "web");
        json_t *enc = ctr_config_encode_endpoint(e);
        assert_string_equal(json_string_value(json_object_get(json_object_get(enc, "IPAMConfig"), "IPv4Address")),
                            "10.1.0.5");
        assert_string_equal(json_string_value(json_object_get(enc, "MacAddress")), "02:42:ac:11:00:09");
        json_decref(enc);
        assert_false(c->endpoints[1].ipam_set);
        ctr_config_free(c);
        json_decref(nc);
}

/* dockerd's merge of the request's Config with the image's (daemon/commit.go merge). */
static void merge(const char *mine, const char *image, json_t **ret) {
        json_t *m = parse(mine), *i = parse(image);
        struct ctr_config *c = NULL, *img = NULL;
        struct berr err = { 0 };
        assert_int_equal(ctr_config_decode(m, NULL, NULL, &c, &err), 0);
        assert_int_equal(ctr_config_decode(i, NULL, NULL, &img, &err), 0);
        assert_int_equal(ctr_config_merge_image(&c->cfg, &img->cfg), 0);
        *ret = ctr_config_encode_config(c);
        ctr_config_free(c);
        ctr_config_free(img);
        json_decref(m);
        json_decref(i);
}

static void assert_json_text(json_t *got, const char *key, const char *want_text) {
        json_t *want = json_loads(want_text, JSON_DECODE_ANY, NULL);
        assert_non_null(want);
        if (!json_equal(json_object_get(got, key), want)) {
                char *g = json_dumps(json_object_get(got, key), JSON_ENCODE_ANY);
                fail_msg("%s: got %s, want %s", key, g, want_text);
        }
        json_decref(want);
}

static void test_merge_image(void **state) {
        (void) state;
        static const char image[] = "{\"Entrypoint\": [\"/ep\"], \"Cmd\": [\"serve\"], \"Env\": [\"PATH=/bin\", \"A=img\","
                                    " \"B=img\"], \"WorkingDir\": \"/app\", \"User\": \"nobody\", \"StopSignal\": \"SIGQUIT\","
                                    " \"Healthcheck\": {\"Test\": [\"CMD\", \"true\"], \"Retries\": 2},"
                                    " \"Labels\": {\"a\": \"img\", \"b\": \"img\"}, \"ExposedPorts\": {\"80/tcp\": {}},"
                                    " \"Volumes\": {\"/data\": {}}, \"Shell\": [\"/bin/bash\", \"-c\"], \"OnBuild\": null}";
        json_t *o;
        /* nothing given: all from the image; Labels, Env always set */
        merge("{\"Image\": \"x\"}", image, &o);
        assert_json_text(o, "Entrypoint", "[\"/ep\"]");
        assert_json_text(o, "Cmd", "[\"serve\"]");
        assert_json_text(o, "Env", "[\"PATH=/bin\", \"A=img\", \"B=img\"]");
        assert_json_text(o, "WorkingDir", "\"/app\"");
        assert_json_text(o, "User", "\"nobody\"");
        assert_json_text(o, "StopSignal", "\"SIGQUIT\"");
        assert_json_text(o, "Healthcheck", "{\"Test\": [\"CMD\", \"true\"], \"Retries\": 2}");
        assert_json_text(o, "Labels", "{\"a\": \"img\", \"b\": \"img\"}");
        assert_json_text(o, "ExposedPorts", "{\"80/tcp\": {}}");
        assert_json_text(o, "Volumes", "{\"/data\": {}}");
        assert_json_text(o, "Shell", "[\"/bin/bash\", \"-c\"]");
        assert_json_text(o, "OnBuild", "null");
        json_decref(o);
        /* the request's win; a bare KEY stays (and replaces the image's KEY=...); a Cmd alone keeps
         * the image's entrypoint; maps are unions */
        merge("{\"Cmd\": [\"sh\"], \"Env\": [\"A=me\", \"B\", \"C=me\"], \"WorkingDir\": \"/w\","
              " \"Healthcheck\": {\"Test\": [\"NONE\"]}, \"Labels\": {\"b\": \"me\", \"c\": \"me\"},"
              " \"ExposedPorts\": {\"53/udp\": {}}, \"Volumes\": {\"/data\": {}, \"/more\": {}}}", image, &o);
        assert_json_text(o, "Entrypoint", "[\"/ep\"]");
        assert_json_text(o, "Cmd", "[\"sh\"]");
        assert_json_text(o, "Env", "[\"PATH=/bin\", \"A=me\", \"B\", \"C=me\"]");
        assert_json_text(o, "WorkingDir", "\"/w\"");
        assert_json_text(o, "Healthcheck", "{\"Test\": [\"NONE\"]}");
        assert_json_text(o, "Labels", "{\"a\": \"img\", \"b\": \"me\", \"c\": \"me\"}");
        assert_json_text(o, "ExposedPorts", "{\"80/tcp\": {}, \"53/udp\": {}}");
        assert_json_text(o, "Volumes", "{\"/data\": {}, \"/more\": {}}");
        json_decref(o);
        /* an Entrypoint given drops the image's Cmd; [""] resets the entrypoint */
        merge("{\"Entrypoint\": [\"/other\"]}", image, &o);
        assert_json_text(o, "Entrypoint", "[\"/other\"]");
        assert_json_text(o, "Cmd", "null");
        json_decref(o);
        merge("{\"Entrypoint\": [\"\"], \"Cmd\": [\"ls\"]}", image, &o);
        assert_json_text(o, "Entrypoint", "null");
        assert_json_text(o, "Cmd", "[\"ls\"]");
        json_decref(o);
        /* an image config of the wrong shapes (hostile input) merges as if empty where wrong */
        merge("{\"Cmd\": [\"true\"]}", "{\"Env\": \"A=1\", \"Labels\": [1], \"Entrypoint\": 7, \"User\": {}}", &o);
        assert_json_text(o, "Env", "[\"A=1\"]");
        assert_json_text(o, "Labels", "{}");
        assert_json_text(o, "Entrypoint", "null");
        assert_json_text(o, "User", "\"\"");
        json_decref(o);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip_every_field), cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_null_and_empty_stay_apart), cmocka_unit_test(test_modes),
                cmocka_unit_test(test_old_record), cmocka_unit_test(test_endpoints),
                cmocka_unit_test(test_merge_image),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
