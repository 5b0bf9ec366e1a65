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

static void test_host_spec_tcp_loopback_only(void **s) {
        struct host_spec h;
        struct berr err = { 0 };
        assert_int_equal(host_spec_parse("tcp://127.0.0.1:2375", "/d", &h, &err), 0);
        assert_int_equal(h.proto, HOST_TCP);
        assert_int_equal(h.port, 2375);
        assert_string_equal(h.addr, "127.0.0.1");
        assert_int_equal(host_spec_parse("tcp://[::1]:2375", "/d", &h, &err), 0);
        assert_string_equal(h.addr, "::1");
        assert_int_equal(host_spec_parse("tcp://localhost:1", "/d", &h, &err), 0);
        assert_true(host_spec_parse("tcp://0.0.0.0:2375", "/d", &h, &err) < 0);
        assert_non_null(strstr(err.msg, "loopback"));
        assert_true(host_spec_parse("tcp://:2375", "/d", &h, &err) < 0);
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
                cmocka_unit_test(test_json_conflict_with_flag_fails),
                cmocka_unit_test(test_json_wrong_type_and_garbage),
                cmocka_unit_test(test_defaults_follow_exec_root),
                cmocka_unit_test(test_host_spec_unix_and_bare_path),
                cmocka_unit_test(test_host_spec_tcp_loopback_only),
                cmocka_unit_test(test_host_spec_fd),
        };
        return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
