/* Unit tests for daemon/config.c and daemon/listen.c's spec parser: dockerd's flags,
 * daemon.json keys, the flag-and-file conflict rule, -H specs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/err.h"
#include "daemon/config.h"
#include "daemon/config_int.h"

#define STREQ_(a, b) (strcmp((a), (b)) == 0)
#include "daemon/listen.h"

static int parse(struct daemon_config *cfg, struct berr *err, int argc, char **argv) {
        daemon_config_init(cfg);
        return daemon_config_parse_args(cfg, argc, argv, err);
}

static void test_flags_long_short_and_equals(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd", "-H", "unix:///tmp/a.sock", "--host=unix:///tmp/b.sock", "-Hunix:///tmp/c.sock",
                         "--data-root", "/d", "--exec-root=/e", "--pidfile", "/p.pid", "-D", "--log-level", "warn" };
        assert_int_equal(parse(&cfg, &err, 13, argv), 0);
        assert_int_equal(cfg.n_hosts, 3);
        assert_string_equal(cfg.hosts[0], "unix:///tmp/a.sock");
        assert_string_equal(cfg.hosts[1], "unix:///tmp/b.sock");
        assert_string_equal(cfg.hosts[2], "unix:///tmp/c.sock");
        assert_string_equal(cfg.data_root, "/d");
        assert_string_equal(cfg.exec_root, "/e");
        assert_string_equal(cfg.pidfile, "/p.pid");
        assert_true(cfg.debug);
        assert_int_equal(cfg.log_level, LOG_LEVEL_WARN);
        daemon_config_done(&cfg);
}

static void test_unknown_flag_is_an_error(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd", "--bogus" };
        assert_true(parse(&cfg, &err, 2, argv) < 0);
        assert_string_equal(err.msg, "unknown flag: --bogus");
        daemon_config_done(&cfg);
}

static void test_flag_abbreviation_is_not_accepted(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd", "--data", "/x" };
        assert_true(parse(&cfg, &err, 3, argv) < 0);
        assert_non_null(strstr(err.msg, "unknown flag: --data"));
        daemon_config_done(&cfg);
}

static void test_missing_value_and_bad_level(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd", "--data-root" };
        assert_true(parse(&cfg, &err, 2, argv) < 0);
        assert_string_equal(err.msg, "flag needs an argument: --data-root");
        daemon_config_done(&cfg);
        char *argv2[] = { "berthd", "--log-level", "loud" };
        assert_true(parse(&cfg, &err, 3, argv2) < 0);
        assert_non_null(strstr(err.msg, "unable to parse logging level: loud"));
        daemon_config_done(&cfg);
}

static void test_relative_data_root_is_refused(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd", "--data-root", "rel/dir" };
        assert_true(parse(&cfg, &err, 3, argv) < 0);
        assert_non_null(strstr(err.msg, "must be an absolute path"));
        daemon_config_done(&cfg);
}

static void test_json_sets_values(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd" };
        assert_int_equal(parse(&cfg, &err, 1, argv), 0);
        const char *j = "{\"hosts\":[\"unix:///x.sock\",\"tcp://127.0.0.1:2375\"],\"data-root\":\"/dr\",\"debug\":true,"
                        "\"log-level\":\"error\",\"storage-driver\":\"vfs\"}";
        assert_int_equal(daemon_config_merge_json(&cfg, j, strlen(j), &err), 0);
        assert_int_equal(cfg.n_hosts, 2);
        assert_string_equal(cfg.hosts[1], "tcp://127.0.0.1:2375");
        assert_string_equal(cfg.data_root, "/dr");
        assert_true(cfg.debug);
        assert_int_equal(cfg.log_level, LOG_LEVEL_ERROR);
        assert_string_equal(cfg.storage_driver, "vfs");
        daemon_config_done(&cfg);
}

static void test_bridge_accept_fwmark_takes_mark_or_mark_slash_mask(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd", "--bridge-accept-fwmark", "0x2a/0xff" };
        assert_int_equal(parse(&cfg, &err, 3, argv), 0);
        assert_true(cfg.net.has_accept_fwmark);
        assert_int_equal(cfg.net.accept_fwmark, 0x2a);
        assert_int_equal(cfg.net.accept_fwmask, 0xff);
        daemon_config_done(&cfg);
        char *argv2[] = { "berthd", "--bridge-accept-fwmark", "7" };
        assert_int_equal(parse(&cfg, &err, 3, argv2), 0);
        assert_int_equal(cfg.net.accept_fwmark, 7);
        assert_int_equal(cfg.net.accept_fwmask, 0xffffffffu);
        daemon_config_done(&cfg);
        const char *bad[] = { "", "x", "1/", "1/x", "0x1ffffffff", "1/2/3", "-1", "1/-1" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char *argv3[] = { "berthd", "--bridge-accept-fwmark", (char *) bad[i] };
                assert_true(parse(&cfg, &err, 3, argv3) < 0);
                assert_non_null(strstr(err.msg, "for \"--bridge-accept-fwmark\" flag"));
                daemon_config_done(&cfg);
        }
}

static void test_default_ipc_mode_private_or_shareable(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd" };
        assert_int_equal(parse(&cfg, &err, 1, argv), 0);
        const char *j = "{\"default-ipc-mode\":\"shareable\"}";
        assert_int_equal(daemon_config_merge_json(&cfg, j, strlen(j), &err), 0);
        assert_string_equal(cfg.default_ipc_mode, "shareable");
        daemon_config_done(&cfg);
        char *argv2[] = { "berthd", "--default-ipc-mode", "host" };
        assert_true(parse(&cfg, &err, 3, argv2) < 0);
        assert_string_equal(err.msg, "invalid default IPC mode: host");
        daemon_config_done(&cfg);
}

static void test_json_unknown_key_fails(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd" };
        assert_int_equal(parse(&cfg, &err, 1, argv), 0);
        const char *j = "{\"data-root\":\"/dr\",\"frobnicate\":1}";
        assert_true(daemon_config_merge_json(&cfg, j, strlen(j), &err) < 0);
        assert_string_equal(err.msg, "the following directives don't match any configuration option: frobnicate");
        assert_null(cfg.data_root); /* nothing applied from a rejected file */
        daemon_config_done(&cfg);
}

/* Found by fuzz_daemon_json: an empty key added nothing to the message, so it was not
 * refused and the second pass dereferenced a NULL option. */
static void test_json_empty_key_is_unknown(void **s) {
        struct daemon_config cfg;
        struct berr err = {};
        char *argv[] = { "berthd" };
        assert_int_equal(parse(&cfg, &err, 1, argv), 0);
        const char *j = "{\"\":1}";
        assert_true(daemon_config_merge_json(&cfg, j, strlen(j), &err) < 0);
        assert_string_equal(err.msg, "the following directives don't match any configuration option: ");
        daemon_config_done(&cfg);
}

static void test_json_conflict_with_flag_fails(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd", "--data-root", "/flag" };
        assert_int_equal(parse(&cfg, &err, 3, argv), 0);
        const char *j = "{\"data-root\":\"/file\"}";
        assert_true(daemon_config_merge_json(&cfg, j, strlen(j), &err) < 0);
        assert_string_equal(err.msg, "the following directives are specified both as a flag and in the configuration "
                                     "file: data-root: (from flag: /flag, from file: \"/file\")");
        daemon_config_done(&cfg);
}

static void test_json_wrong_type_and_garbage(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd" };
        assert_int_equal(parse(&cfg, &err, 1, argv), 0);
        const char *j = "{\"debug\":\"yes\"}";
        assert_true(daemon_config_merge_json(&cfg, j, strlen(j), &err) < 0);
        assert_non_null(strstr(err.msg, "debug"));
        const char *g = "{\"debug\": tru";
        assert_true(daemon_config_merge_json(&cfg, g, strlen(g), &err) < 0);
        assert_non_null(strstr(err.msg, "invalid JSON"));
        const char *a = "[1,2]";
        assert_true(daemon_config_merge_json(&cfg, a, strlen(a), &err) < 0);
        daemon_config_done(&cfg);
}

static void test_defaults_follow_exec_root(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd", "--exec-root", "/tmp/xr", "--config-file", "/nonexistent/daemon.json" };
        assert_int_equal(parse(&cfg, &err, 5, argv), 0);
        /* An explicit config file that is missing is an error... */
        assert_true(daemon_config_finish(&cfg, &err) < 0);
        assert_non_null(strstr(err.msg, "/nonexistent/daemon.json"));
        daemon_config_done(&cfg);

        char tmpl[] = "/tmp/berth-cfg-XXXXXX";
        int fd = mkstemp(tmpl);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "{}", 2), 2);
        close(fd);
        char *argv2[] = { "berthd", "--exec-root", "/tmp/xr", "--config-file", tmpl };
        assert_int_equal(parse(&cfg, &err, 5, argv2), 0);
        assert_int_equal(daemon_config_finish(&cfg, &err), 0);
        assert_string_equal(cfg.pidfile, "/tmp/xr/berthd.pid");
        assert_string_equal(cfg.data_root, DAEMON_DEFAULT_DATA_ROOT);
        assert_int_equal(cfg.n_hosts, 1);
        assert_string_equal(cfg.hosts[0], DAEMON_DEFAULT_HOST);
        daemon_config_done(&cfg);
        unlink(tmpl);
}

static void test_host_spec_unix_and_bare_path(void **s) {
        struct host_spec h;
        struct berr err = { 0 };
        assert_int_equal(host_spec_parse("unix:///run/x.sock", "/def.sock", &h, &err), 0);
        assert_int_equal(h.proto, HOST_UNIX);
        assert_string_equal(h.path, "/run/x.sock");
        assert_int_equal(host_spec_parse("unix://", "/def.sock", &h, &err), 0);
        assert_string_equal(h.path, "/def.sock");
        assert_int_equal(host_spec_parse("/bare.sock", "/def.sock", &h, &err), 0);
        assert_string_equal(h.path, "/bare.sock");
        assert_true(host_spec_parse("unix://relative.sock", "/def.sock", &h, &err) < 0);
}

static void test_host_spec_tcp_plain_only_on_loopback(void **s) {
        struct host_spec h;
        struct berr err = { 0 };
        assert_int_equal(host_spec_parse("tcp://127.0.0.1:2375", "/d", &h, &err), 0);
        assert_int_equal(h.proto, HOST_TCP);
        assert_int_equal(h.port, 2375);
        assert_string_equal(h.addr, "127.0.0.1");
        assert_int_equal(host_spec_parse("tcp://[::1]:2375", "/d", &h, &err), 0);
        assert_string_equal(h.addr, "::1");
        assert_true(h.is_loopback);
        assert_int_equal(host_check_plain_tcp("tcp://[::1]:2375", &h, false, &err), 0);
        assert_int_equal(host_spec_parse("tcp://localhost:1", "/d", &h, &err), 0);
        assert_true(h.is_loopback);
        /* off loopback: parsed, but plain TCP there needs the explicit --tls=false */
        assert_int_equal(host_spec_parse("tcp://0.0.0.0:2375", "/d", &h, &err), 0);
        assert_false(h.is_loopback);
        assert_true(host_check_plain_tcp("tcp://0.0.0.0:2375", &h, false, &err) < 0);
        assert_non_null(strstr(err.msg, "refusing to listen on tcp://0.0.0.0:2375 without TLS"));
        assert_non_null(strstr(err.msg, "'--tls=false'"));
        assert_int_equal(host_check_plain_tcp("tcp://0.0.0.0:2375", &h, true, &err), 0);
        assert_int_equal(host_spec_parse("tcp://:2376", "/d", &h, &err), 0);
        assert_string_equal(h.addr, "0.0.0.0");
        assert_int_equal(host_spec_parse("tcp://10.1.2.3:2376", "/d", &h, &err), 0);
        assert_false(h.is_loopback);
        assert_true(host_spec_parse("tcp://127.0.0.1:99999", "/d", &h, &err) < 0);
        assert_true(host_spec_parse("tcp://127.0.0.1", "/d", &h, &err) < 0);
        assert_true(host_spec_parse("http://127.0.0.1:1", "/d", &h, &err) < 0);
}

static void test_host_spec_fd(void **s) {
        struct host_spec h;
        struct berr err = { 0 };
        assert_int_equal(host_spec_parse("fd://", "/d", &h, &err), 0);
        assert_int_equal(h.proto, HOST_FD);
        assert_int_equal(h.fd, -1);
        assert_int_equal(host_spec_parse("fd://3", "/d", &h, &err), 0);
        assert_int_equal(h.fd, 3);
        assert_true(host_spec_parse("fd://1", "/d", &h, &err) < 0);
}

/* ---- issue 14's options ---- */

static int finish_with(struct daemon_config *cfg, const char *json, struct berr *err) {
        char path[] = "/tmp/berth-unit-config-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, json, strlen(json)), (ssize_t) strlen(json));
        close(fd);
        free(cfg->config_file);
        cfg->config_file = strdup(path);
        cfg->config_file_given = true;
        int r = daemon_config_finish(cfg, err);
        unlink(path);
        return r;
}

static void test_o14_flags(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd", "--default-ulimit", "nofile=1024:2048", "--default-ulimit", "nproc=50",
                         "--label", "a=b", "--label=c=d", "--dns", "192.0.2.1", "--dns-search", "example.org",
                         "--dns-opt", "ndots:2", "--shutdown-timeout", "30", "--default-shm-size", "128m",
                         "--default-cgroupns-mode", "host", "--cgroup-parent", "/mine", "--no-new-privileges",
                         "--live-restore", "--experimental", "-G", "staff", "--max-download-attempts=2",
                         "--http-proxy", "http://p:3128", "--exec-opt", "native.cgroupdriver=cgroupfs", "--validate" };
        assert_int_equal(parse(&cfg, &err, (int) (sizeof(argv) / sizeof(argv[0])), argv), 0);
        const struct daemon_opts14 *o = &cfg.o14;
        assert_int_equal(o->n_ulimits, 2);
        assert_string_equal(o->ulimits[0].name, "nofile");
        assert_int_equal(o->ulimits[0].soft, 1024);
        assert_int_equal(o->ulimits[0].hard, 2048);
        assert_int_equal(o->ulimits[1].soft, 50);
        assert_int_equal(o->ulimits[1].hard, 50);
        assert_int_equal(o->n_labels, 2);
        assert_string_equal(o->labels[1], "c=d");
        assert_string_equal(o->dns[0], "192.0.2.1");
        assert_string_equal(o->dns_search[0], "example.org");
        assert_string_equal(o->dns_opts[0], "ndots:2");
        assert_int_equal(o->shutdown_timeout, 30);
        assert_int_equal(o->shm_size, 128LL << 20);
        assert_string_equal(o->cgroupns_mode, "host");
        assert_string_equal(o->cgroup_parent, "/mine");
        assert_true(o->no_new_privileges && o->live_restore && o->experimental && o->validate);
        assert_string_equal(o->group, "staff");
        assert_int_equal(o->max_download_attempts, 2);
        assert_string_equal(o->http_proxy, "http://p:3128");
        assert_int_equal(finish_with(&cfg, "{}", &err), 0);
        daemon_config_done(&cfg);
}

static void test_o14_json(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd" };
        assert_int_equal(parse(&cfg, &err, 1, argv), 0);
        assert_int_equal(cfg.o14.shm_size, 64LL << 20);
        assert_int_equal(cfg.o14.shutdown_timeout, 15);
        assert_int_equal(cfg.o14.max_download_attempts, 5);
        const char *j = "{\"default-ulimits\":{\"nofile\":{\"Name\":\"nofile\",\"Soft\":10,\"Hard\":20}},"
                        "\"labels\":[\"x=1\"],\"default-shm-size\":\"1G\",\"shutdown-timeout\":-1,"
                        "\"features\":{\"b\":false,\"a\":true},\"proxies\":{\"https-proxy\":\"http://h:1\","
                        "\"no-proxy\":\"localhost\"},\"dns\":[\"2001:db8::1\"],\"live-restore\":true,"
                        "\"max-download-attempts\":9,\"exec-opts\":[\"native.cgroupdriver=cgroupfs\"]}";
        assert_int_equal(daemon_config_merge_json(&cfg, j, strlen(j), &err), 0);
        assert_int_equal(cfg.o14.ulimits[0].hard, 20);
        assert_string_equal(cfg.o14.labels[0], "x=1");
        assert_int_equal(cfg.o14.shm_size, 1LL << 30);
        assert_int_equal(cfg.o14.shutdown_timeout, -1);
        assert_string_equal(cfg.o14.features_json, "{\"a\":true,\"b\":false}");
        assert_string_equal(cfg.o14.https_proxy, "http://h:1");
        assert_string_equal(cfg.o14.no_proxy, "localhost");
        assert_null(cfg.o14.http_proxy);
        assert_string_equal(cfg.o14.dns[0], "2001:db8::1");
        assert_true(cfg.o14.live_restore);
        assert_int_equal(cfg.o14.max_download_attempts, 9);
        daemon_config_done(&cfg);
}

/* berth's own --max-connections: a flag or a daemon.json number, 1 to 65536; 0 (unset)
 * lets the API server derive it from the open-file limit. */
static void test_max_connections(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd" };
        assert_int_equal(parse(&cfg, &err, 1, argv), 0);
        assert_int_equal(cfg.o14.max_connections, 0);
        daemon_config_done(&cfg);
        char *argv2[] = { "berthd", "--max-connections", "300" };
        assert_int_equal(parse(&cfg, &err, 3, argv2), 0);
        assert_int_equal(cfg.o14.max_connections, 300);
        daemon_config_done(&cfg);
        static const char *const bad[] = { "0", "-1", "10001", "ten", "" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char *argv3[] = { "berthd", "--max-connections", (char *) bad[i] };
                memset(&err, 0, sizeof(err));
                assert_int_equal(parse(&cfg, &err, 3, argv3), -EINVAL);
                assert_non_null(strstr(err.msg, "--max-connections"));
                daemon_config_done(&cfg);
        }
        assert_int_equal(parse(&cfg, &err, 1, argv), 0);
        const char *j = "{\"max-connections\":2000}";
        assert_int_equal(daemon_config_merge_json(&cfg, j, strlen(j), &err), 0);
        assert_int_equal(cfg.o14.max_connections, 2000);
        const char *j2 = "{\"max-connections\":\"2000\"}";
        assert_true(daemon_config_merge_json(&cfg, j2, strlen(j2), &err) < 0);
        daemon_config_done(&cfg);
}

static void test_o14_repeated_label_counts_once(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd", "--label", "x=1" };
        assert_int_equal(parse(&cfg, &err, 3, argv), 0);
        assert_int_equal(finish_with(&cfg, "{}", &err), 0);
        assert_int_equal(cfg.o14.n_labels, 1);
        daemon_config_done(&cfg);
        char *argv2[] = { "berthd", "--label", "x=1", "--label", "y=2", "--label", "x=1" };
        assert_int_equal(parse(&cfg, &err, 7, argv2), 0);
        assert_int_equal(finish_with(&cfg, "{}", &err), 0);
        assert_int_equal(cfg.o14.n_labels, 2);
        assert_string_equal(cfg.o14.labels[1], "y=2");
        daemon_config_done(&cfg);
}

static void expect_json_error(const char *j, const char *msg) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd" };
        assert_int_equal(parse(&cfg, &err, 1, argv), 0);
        int r = daemon_config_merge_json(&cfg, j, strlen(j), &err);
        if (r == 0)
                r = finish_with(&cfg, j, &err);
        assert_true(r < 0);
        if (!strstr(err.msg, msg))
                fail_msg("%s: got \"%s\", want \"%s\"", j, err.msg, msg);
        daemon_config_done(&cfg);
}

static void test_o14_bad_values(void **s) {
        expect_json_error("{\"default-cgroupns-mode\":\"shared\"}", "default cgroup namespace mode (shared) is invalid");
        expect_json_error("{\"max-download-attempts\":0}", "invalid max download attempts: 0");
        expect_json_error("{\"dns\":[\"not-an-ip\"]}", "IP address is not correctly formatted: not-an-ip");
        expect_json_error("{\"labels\":[\"novalue\"]}", "bad attribute format: novalue");
        expect_json_error("{\"default-ulimits\":{\"nofile\":{\"Soft\":3,\"Hard\":2}}}",
                          "ulimit soft limit must be less than or equal to hard limit: 3 > 2");
        expect_json_error("{\"default-ulimits\":{\"bogus\":{\"Soft\":1,\"Hard\":2}}}", "invalid ulimit type: bogus");
        expect_json_error("{\"default-shm-size\":\"lots\"}", "invalid size: 'lots'");
        expect_json_error("{\"exec-opts\":[\"native.bogus=1\"]}", "unknown option native.bogus");
        expect_json_error("{\"exec-opts\":[\"native.cgroupdriver=systemd\"]}", "native.cgroupdriver=systemd");
        expect_json_error("{\"exec-opts\":[\"native.cgroupdriver=lxc\"]}", "native.cgroupdriver option lxc not supported");
        expect_json_error("{\"selinux-enabled\":true}", "SELinux is not supported by berth");
        expect_json_error("{\"features\":{\"x\":1}}", "features.x");
        expect_json_error("{\"proxies\":{\"ftp-proxy\":\"x\"}}", "proxies.ftp-proxy");
        expect_json_error("{\"labels\":\"a=b\"}", "invalid type for labels");
        expect_json_error("{\"labels\":[\"a=1\",\"b=2\",\"a=3\"]}", "conflict labels for a=1 and a=3");
        /* dockerd's options berth lacks are named, never ignored; unknown keys stay unknown */
        expect_json_error("{\"cri-containerd\":true,\"raw-logs\":true}",
                          "the following directives are not supported by berth: cri-containerd, raw-logs");
        expect_json_error("{\"cri-containerd\":true,\"nonsense\":1}",
                          "the following directives don't match any configuration option: nonsense");
}

static void test_o14_unsupported_flag(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd", "--cri-containerd" };
        assert_true(parse(&cfg, &err, 2, argv) < 0);
        assert_string_equal(err.msg, "flag --cri-containerd is not supported by berth");
        daemon_config_done(&cfg);
        char *argv2[] = { "berthd", "--default-ulimit", "nofile" };
        assert_true(parse(&cfg, &err, 3, argv2) < 0);
        assert_string_equal(err.msg, "invalid ulimit argument: nofile");
        daemon_config_done(&cfg);
        char *argv3[] = { "berthd", "--features" }; /* daemon.json only, as in dockerd */
        assert_true(parse(&cfg, &err, 2, argv3) < 0);
        assert_string_equal(err.msg, "unknown flag: --features");
        daemon_config_done(&cfg);
        char *argv4[] = { "berthd", "--http-proxy", "http://a:1" };
        assert_int_equal(parse(&cfg, &err, 3, argv4), 0);
        const char *j = "{\"proxies\":{\"http-proxy\":\"http://b:1\"}}";
        assert_true(daemon_config_merge_json(&cfg, j, strlen(j), &err) < 0);
        assert_non_null(strstr(err.msg, "specified both as a flag and in the configuration file: proxies"));
        daemon_config_done(&cfg);
}

static void test_tls_flags_and_defaults(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        /* --tlsverify alone: TLS on, files from $DOCKER_CERT_PATH as dockerd */
        setenv("DOCKER_CERT_PATH", "/certs", 1);
        char *argv[] = { "berthd", "--tlsverify" };
        assert_int_equal(parse(&cfg, &err, 2, argv), 0);
        assert_int_equal(finish_with(&cfg, "{}", &err), 0);
        assert_int_equal(cfg.sec.tls, 1);
        assert_int_equal(cfg.sec.tlsverify, 1);
        assert_string_equal(cfg.sec.tlscacert, "/certs/ca.pem");
        assert_string_equal(cfg.sec.tlscert, "/certs/cert.pem");
        assert_string_equal(cfg.sec.tlskey, "/certs/key.pem");
        daemon_config_done(&cfg);
        /* --tlsverify=false still means TLS (without client verification), as in dockerd */
        char *argv2[] = { "berthd", "--tlsverify=false", "--tlscert", "/s/c.pem", "--tlskey=/s/k.pem" };
        assert_int_equal(parse(&cfg, &err, 5, argv2), 0);
        assert_int_equal(finish_with(&cfg, "{}", &err), 0);
        assert_int_equal(cfg.sec.tls, 1);
        assert_int_equal(cfg.sec.tlsverify, 0);
        assert_string_equal(cfg.sec.tlscert, "/s/c.pem");
        assert_string_equal(cfg.sec.tlscacert, "/certs/ca.pem");
        daemon_config_done(&cfg);
        /* --tls=false is the explicit opt-out; nothing given is -1 (not the same) */
        char *argv3[] = { "berthd", "--tls=false" };
        assert_int_equal(parse(&cfg, &err, 2, argv3), 0);
        assert_int_equal(finish_with(&cfg, "{}", &err), 0);
        assert_int_equal(cfg.sec.tls, 0);
        assert_null(cfg.sec.tlscert);
        daemon_config_done(&cfg);
        char *argv4[] = { "berthd" };
        assert_int_equal(parse(&cfg, &err, 1, argv4), 0);
        assert_int_equal(finish_with(&cfg, "{\"tls\":true,\"tlscacert\":\"/x/ca.pem\"}", &err), 0);
        assert_int_equal(cfg.sec.tls, 1);
        assert_int_equal(cfg.sec.tlsverify, -1);
        assert_string_equal(cfg.sec.tlscacert, "/x/ca.pem");
        daemon_config_done(&cfg);
        unsetenv("DOCKER_CERT_PATH");
        expect_json_error("{\"tlsverify\":\"yes\"}", "invalid type for tlsverify: expected a boolean");
        char *argv5[] = { "berthd", "--tlsverify" };
        assert_int_equal(parse(&cfg, &err, 2, argv5), 0);
        const char *j = "{\"tlsverify\":true}";
        assert_true(daemon_config_merge_json(&cfg, j, strlen(j), &err) < 0);
        assert_non_null(strstr(err.msg, "specified both as a flag and in the configuration file: tlsverify"));
        daemon_config_done(&cfg);
}

static void test_seccomp_profile_option(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd", "--seccomp-profile", "unconfined" };
        assert_int_equal(parse(&cfg, &err, 3, argv), 0);
        assert_int_equal(finish_with(&cfg, "{}", &err), 0);
        assert_string_equal(cfg.sec.seccomp_profile, "unconfined");
        assert_null(cfg.sec.seccomp_text);
        daemon_config_done(&cfg);
        expect_json_error("{\"seccomp-profile\":\"/nonexistent/p.json\"}", "opening seccomp profile (/nonexistent/p.json) failed");
        char path[] = "/tmp/berth-unit-seccomp-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        const char *bad = "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                          "{\"names\":[\"chmod\",\"fchmod\"],\"action\":\"SCMP_ACT_NOPE\"}]}";
        assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t) strlen(bad));
        close(fd);
        char j[256];
        snprintf(j, sizeof(j), "{\"seccomp-profile\":\"%s\"}", path);
        expect_json_error(j, "syscalls[1] (chmod, fchmod): unknown action \"SCMP_ACT_NOPE\"");
        unlink(path);
}

static void test_registry_flag_and_file_conflict(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd", "--registry-mirror", "https://a.example", "--max-concurrent-uploads", "2" };
        assert_int_equal(parse(&cfg, &err, 5, argv), 0);
        const char *j = "{\"registry-mirrors\":[\"https://b.example\"],\"max-concurrent-downloads\":4}";
        assert_true(daemon_config_merge_json(&cfg, j, strlen(j), &err) < 0);
        assert_string_equal(err.msg, "the following directives are specified both as a flag and in the configuration "
                                     "file: registry-mirrors: (from flag: https://a.example, from file: "
                                     "[\"https://b.example\"])");
        daemon_config_done(&cfg);
}

static void test_o14_no_key_is_both_supported_and_unsupported(void **s) {
        const char *name, *key, *help, *u;
        char sn;
        bool tv;
        size_t n = 0;
        for (size_t i = 0; daemon_config_option(i, &name, &sn, &tv, &key, &help); i++)
                for (size_t k = 0; (u = daemon_config_unsupported(k)); k++, n++)
                        if (key && STREQ_(key, u))
                                fail_msg("%s is both an option and refused as not supported", key);
        assert_true(n > 0);
}

static void test_parse_bytes(void **s) {
        assert_int_equal(config_parse_bytes("64m"), 64LL << 20);
        assert_int_equal(config_parse_bytes("64MiB"), 64LL << 20);
        assert_int_equal(config_parse_bytes("1.5k"), 1536);
        assert_int_equal(config_parse_bytes("100"), 100);
        assert_int_equal(config_parse_bytes("2 GB"), 2LL << 30);
        assert_int_equal(config_parse_bytes("m"), -1);
        assert_int_equal(config_parse_bytes("-1m"), -1);
        assert_int_equal(config_parse_bytes("12q"), -1);
}


static void test_ipv6_flags_and_json(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        char *argv[] = { "berthd", "--ipv6", "--fixed-cidr-v6", "fd00:1:2:3::/64", "--default-address-pool",
                         "base=fd00:9::/48,size=64", "--default-address-pool", "base=10.9.0.0/16,size=24", "--ip", "::" };
        assert_int_equal(parse(&cfg, &err, 10, argv), 0);
        assert_true(cfg.net.ipv6);
        assert_string_equal(cfg.net.fixed_cidr_v6, "fd00:1:2:3::/64");
        assert_int_equal(cfg.net.n_pools, 2);
        assert_string_equal(cfg.net.ip, "::");
        daemon_config_done(&cfg);
        char *bad1[] = { "berthd", "--fixed-cidr-v6", "fd00::" };
        assert_true(parse(&cfg, &err, 3, bad1) < 0);
        assert_non_null(strstr(err.msg, "invalid CIDR address: fd00::"));
        daemon_config_done(&cfg);
        char *bad2[] = { "berthd", "--ip", "::1" };
        assert_true(parse(&cfg, &err, 3, bad2) < 0);
        assert_non_null(strstr(err.msg, "IPv6 loopback"));
        daemon_config_done(&cfg);
        char *bad3[] = { "berthd", "--default-address-pool", "base=fd00::/48,size=129" };
        assert_true(parse(&cfg, &err, 3, bad3) < 0);
        daemon_config_done(&cfg);
        char *none[] = { "berthd" };
        assert_int_equal(parse(&cfg, &err, 1, none), 0);
        const char *j = "{\"ipv6\":true,\"fixed-cidr-v6\":\"fd00:5::/64\",\"ip6tables\":true,"
                        "\"default-address-pools\":[{\"base\":\"fd00:7::/48\",\"size\":64}]}";
        assert_int_equal(daemon_config_merge_json(&cfg, j, strlen(j), &err), 0);
        assert_true(cfg.net.ipv6);
        assert_string_equal(cfg.net.fixed_cidr_v6, "fd00:5::/64");
        assert_int_equal(cfg.net.n_pools, 1);
        assert_false(cfg.ip6tables_off);
        daemon_config_done(&cfg);
        /* ip6tables=false cannot be honoured: berth's one table is inet. */
        assert_int_equal(parse(&cfg, &err, 1, none), 0);
        const char *off = "{\"ip6tables\":false}";
        assert_int_equal(daemon_config_merge_json(&cfg, off, strlen(off), &err), 0);
        assert_true(cfg.ip6tables_off);
        daemon_config_done(&cfg);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_flags_long_short_and_equals),
                cmocka_unit_test(test_unknown_flag_is_an_error),
                cmocka_unit_test(test_flag_abbreviation_is_not_accepted),
                cmocka_unit_test(test_missing_value_and_bad_level),
                cmocka_unit_test(test_relative_data_root_is_refused),
                cmocka_unit_test(test_json_sets_values),
                cmocka_unit_test(test_bridge_accept_fwmark_takes_mark_or_mark_slash_mask),
                cmocka_unit_test(test_default_ipc_mode_private_or_shareable),
                cmocka_unit_test(test_json_unknown_key_fails),
                cmocka_unit_test(test_json_empty_key_is_unknown),
                cmocka_unit_test(test_json_conflict_with_flag_fails),
                cmocka_unit_test(test_json_wrong_type_and_garbage),
                cmocka_unit_test(test_defaults_follow_exec_root),
                cmocka_unit_test(test_host_spec_unix_and_bare_path),
                cmocka_unit_test(test_host_spec_tcp_plain_only_on_loopback),
                cmocka_unit_test(test_host_spec_fd),
                cmocka_unit_test(test_o14_flags),
                cmocka_unit_test(test_o14_json),
                cmocka_unit_test(test_o14_bad_values),
                cmocka_unit_test(test_o14_repeated_label_counts_once),
                cmocka_unit_test(test_o14_unsupported_flag),
                cmocka_unit_test(test_tls_flags_and_defaults),
                cmocka_unit_test(test_seccomp_profile_option),
                cmocka_unit_test(test_registry_flag_and_file_conflict),
                cmocka_unit_test(test_o14_no_key_is_both_supported_and_unsupported),
                cmocka_unit_test(test_parse_bytes),
                cmocka_unit_test(test_max_connections),
                cmocka_unit_test(test_ipv6_flags_and_json),
        };
        return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
