/* Unit tests for the OCI runtimes: daemon/config_runtimes.c (--add-runtime, daemon.json
 * "runtimes", --default-runtime, runc found in PATH, docker info's Runtimes) and the
 * shim's runtime command line (shim/oci_runtime.c: argv, the runtime's JSON log, errno). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "daemon/config.h"
#include "shim/oci_runtime.h"

static void test_add_runtime_flag(void **s) {
        struct daemon_runtimes r = { 0 };
        struct berr err = { 0 };
        assert_int_equal(daemon_runtimes_add_flag(&r, " Crun = /usr/bin/crun ", &err), 0);
        const struct daemon_runtime *rt = daemon_runtimes_find(&r, "crun");
        assert_non_null(rt); /* dockerd trims and lower-cases the flag's name */
        assert_string_equal(rt->path, "/usr/bin/crun");
        assert_int_equal(rt->n_args, 0);
        assert_null(rt->args[0]);
        assert_true(daemon_runtimes_add_flag(&r, "noequals", &err) < 0);
        assert_string_equal(err.msg, "invalid runtime argument: noequals");
        assert_true(daemon_runtimes_add_flag(&r, "x=", &err) < 0);
        assert_string_equal(err.msg, "invalid runtime argument: x=");
        assert_true(daemon_runtimes_add_flag(&r, "runc=/opt/runc", &err) < 0);
        assert_string_equal(err.msg, "runtime name 'runc' is reserved");
        assert_true(daemon_runtimes_add_flag(&r, "io.containerd.runc.v2=/opt/x", &err) < 0);
        assert_string_equal(err.msg, "runtime name 'io.containerd.runc.v2' is reserved");
        assert_true(daemon_runtimes_add_flag(&r, "berth=/opt/x", &err) < 0);
        assert_string_equal(err.msg, "runtime name 'berth' is reserved");
        assert_true(daemon_runtimes_add_flag(&r, "crun=/other", &err) < 0);
        assert_string_equal(err.msg, "runtime 'crun' was already defined");
        assert_true(daemon_runtimes_add_flag(&r, "../up=/x", &err) < 0); /* the name becomes a directory */
        assert_non_null(strstr(err.msg, "invalid runtime name '../up'"));
        assert_int_equal(r.n, 1);
        daemon_runtimes_done(&r);
}

static int merge(struct daemon_runtimes *r, const char *text, struct berr *err) {
        json_error_t je;
        _cleanup_json_ json_t *v = json_loads(text, 0, &je);
        assert_non_null(v);
        return daemon_runtimes_merge_json(r, v, err);
}

static void test_daemon_json_runtimes(void **s) {
        struct daemon_runtimes r = { 0 };
        struct berr err = { 0 };
        assert_int_equal(merge(&r, "{\"kata\": {\"path\": \"/opt/kata\", \"runtimeArgs\": [\"--debug\", \"--x=1\"]},"
                                   "\"plain\": {\"path\": \"crun\"}}", &err), 0);
        const struct daemon_runtime *k = daemon_runtimes_find(&r, "kata");
        assert_non_null(k);
        assert_int_equal(k->n_args, 2);
        assert_string_equal(k->args[0], "--debug");
        assert_string_equal(k->args[1], "--x=1");
        assert_null(k->args[2]);
        assert_string_equal(daemon_runtimes_find(&r, "plain")->path, "crun");

        static const struct {
                const char *json, *msg;
        } bad[] = {
                { "[]", "invalid type for runtimes: expected an object" },
                { "{\"a\": 1}", "invalid type for runtimes.a: expected an object" },
                { "{\"a\": {}}", "runtime a: either a runtimeType or a path must be configured" },
                { "{\"a\": {\"path\": \"\"}}", "runtime a: either a runtimeType or a path must be configured" },
                { "{\"a\": {\"path\": 3}}", "invalid type for runtimes.a.path: expected a string" },
                { "{\"a\": {\"runtimeType\": \"io.containerd.runsc.v1\"}}",
                  "runtime a: runtimeType is not supported by berth: it runs OCI runtimes by path (\"path\", "
                  "\"runtimeArgs\"), without containerd shims" },
                { "{\"a\": {\"path\": \"/x\", \"options\": {}}}", NULL },
                { "{\"a\": {\"path\": \"/x\", \"runtimeArgs\": \"-d\"}}",
                  "invalid type for runtimes.a.runtimeArgs: expected an array of strings" },
                { "{\"a\": {\"path\": \"/x\", \"runtimeArgs\": [1]}}",
                  "invalid type for runtimes.a.runtimeArgs: expected an array of strings" },
                { "{\"a\": {\"path\": \"/x\", \"bogus\": 1}}", "runtime a: unknown key \"bogus\"" },
                { "{\"runc\": {\"path\": \"/x\"}}", "runtime name 'runc' is reserved" },
                { "{\"kata\": {\"path\": \"/x\"}}", "runtime 'kata' was already defined" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(&err, 0, sizeof(err));
                assert_true(merge(&r, bad[i].json, &err) < 0);
                if (bad[i].msg)
                        assert_string_equal(err.msg, bad[i].msg);
                else
                        assert_non_null(strstr(err.msg, "not supported by berth"));
        }
        assert_int_equal(r.n, 2); /* nothing of a refused entry stays */
        daemon_runtimes_done(&r);
}

/* A directory with an executable "runc" in it (a fake: only looked up, never run). */
static char *fake_bin(void) {
        char tmpl[] = "/tmp/berth-unit-rt-XXXXXX";
        char *dir = mkdtemp(tmpl);
        assert_non_null(dir);
        char path[256];
        snprintf(path, sizeof(path), "%s/runc", dir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("#!/bin/sh\n", f);
        fclose(f);
        assert_int_equal(chmod(path, 0755), 0);
        return strdup(dir);
}

static void rm_fake_bin(char *dir) {
        char path[256];
        snprintf(path, sizeof(path), "%s/runc", dir);
        unlink(path);
        rmdir(dir);
        free(dir);
}

static void test_runc_registered_when_found_and_default(void **s) {
        _cleanup_free_ char *dir = fake_bin();
        char path_env[512];
        snprintf(path_env, sizeof(path_env), "/nonexistent::relative:%s", dir);
        struct daemon_runtimes r = { 0 };
        struct berr err = { 0 };
        assert_int_equal(daemon_runtimes_finish(&r, path_env, &err), 0);
        const struct daemon_runtime *rc = daemon_runtimes_find(&r, "runc");
        assert_non_null(rc);
        assert_true(rc->automatic);
        assert_string_equal(rc->path, "runc"); /* as dockerd shows it; looked up at each start */
        const struct daemon_runtime *v2 = daemon_runtimes_find(&r, "io.containerd.runc.v2");
        assert_non_null(v2); /* dockerd's other name for it */
        assert_true(v2->automatic);
        assert_string_equal(v2->path, "runc");
        assert_string_equal(daemon_runtimes_default(&r), "berth");
        assert_true(daemon_runtimes_known(&r, "berth") && daemon_runtimes_known(&r, "runc"));
        assert_false(daemon_runtimes_known(&r, "nope"));
        assert_null(daemon_runtimes_find(&r, "berth")); /* the built-in one is no external runtime */
        daemon_runtimes_done(&r);

        /* not installed: not registered, and not a default either */
        memset(&r, 0, sizeof(r));
        assert_int_equal(daemon_runtimes_set_default(&r, "runc", &err), 0);
        assert_true(daemon_runtimes_finish(&r, "/nonexistent", &err) < 0);
        assert_string_equal(err.msg, "specified default runtime 'runc' does not exist");
        daemon_runtimes_done(&r);

        memset(&r, 0, sizeof(r));
        assert_int_equal(daemon_runtimes_set_default(&r, "runc", &err), 0);
        assert_int_equal(daemon_runtimes_finish(&r, path_env, &err), 0);
        assert_string_equal(daemon_runtimes_default(&r), "runc");
        daemon_runtimes_done(&r);

        memset(&r, 0, sizeof(r));
        assert_int_equal(daemon_runtimes_set_default(&r, "berth", &err), 0);
        assert_int_equal(daemon_runtimes_finish(&r, "", &err), 0);
        assert_int_equal(r.n, 0);
        daemon_runtimes_done(&r);

        char out[4200];
        assert_int_equal(daemon_runtime_lookpath("runc", path_env, out, sizeof(out), &err), 0);
        char want[300];
        snprintf(want, sizeof(want), "%s/runc", dir);
        assert_string_equal(out, want);
        assert_int_equal(daemon_runtime_lookpath(want, NULL, out, sizeof(out), &err), 0);
        assert_string_equal(out, want);
        assert_true(daemon_runtime_lookpath("runc", "/nonexistent", out, sizeof(out), &err) < 0);
        assert_string_equal(err.msg, "exec: \"runc\": executable file not found in $PATH");
        assert_true(daemon_runtime_lookpath("/nonexistent/runc", NULL, out, sizeof(out), &err) < 0);
        assert_string_equal(err.msg, "exec: \"/nonexistent/runc\": stat /nonexistent/runc: no such file or directory");
        assert_true(daemon_runtime_lookpath("/tmp", NULL, out, sizeof(out), &err) < 0);
        assert_string_equal(err.msg, "exec: \"/tmp\": permission denied");
        rm_fake_bin(TAKE_PTR(dir));
}

static void test_info_json(void **s) {
        struct daemon_runtimes r = { 0 };
        struct berr err = { 0 };
        assert_int_equal(merge(&r, "{\"kata\": {\"path\": \"/opt/kata\", \"runtimeArgs\": [\"--debug\"]}}", &err), 0);
        assert_int_equal(daemon_runtimes_add_flag(&r, "crun=/usr/bin/crun", &err), 0);
        _cleanup_json_ json_t *o = daemon_runtimes_info(&r, "/usr/lib/berth/berth-shim");
        _cleanup_free_ char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(text, "{\"berth\":{\"path\":\"/usr/lib/berth/berth-shim\"},\"crun\":{\"path\":\"/usr/bin/crun\"},"
                                  "\"kata\":{\"path\":\"/opt/kata\",\"runtimeArgs\":[\"--debug\"]}}");
        daemon_runtimes_done(&r);
}

/* Through the whole configuration: flags, daemon.json, the flag-and-file rule. */
static void test_config_keys_and_flags(void **s) {
        struct daemon_config cfg;
        struct berr err = { 0 };
        daemon_config_init(&cfg);
        char *argv[] = { "berthd", "--add-runtime", "crun=/usr/bin/crun", "--default-runtime", "crun" };
        assert_int_equal(daemon_config_parse_args(&cfg, 5, argv, &err), 0);
        assert_string_equal(daemon_runtimes_default(&cfg.runtimes), "crun");
        const char *file = "{\"runtimes\": {\"kata\": {\"path\": \"/opt/kata\"}}}";
        assert_true(daemon_config_merge_json(&cfg, file, strlen(file), &err) < 0);
        assert_non_null(strstr(err.msg, "specified both as a flag and in the configuration file: runtimes"));
        daemon_config_done(&cfg);

        daemon_config_init(&cfg);
        file = "{\"runtimes\": {\"kata\": {\"path\": \"/opt/kata\", \"runtimeArgs\": [\"-d\"]}}, \"default-runtime\": \"kata\"}";
        assert_int_equal(daemon_config_merge_json(&cfg, file, strlen(file), &err), 0);
        assert_string_equal(daemon_runtimes_default(&cfg.runtimes), "kata");
        assert_string_equal(daemon_runtimes_find(&cfg.runtimes, "kata")->args[0], "-d");
        daemon_config_done(&cfg);
}

static struct oci_rt *make_rt(const char *json) {
        json_error_t je;
        _cleanup_json_ json_t *o = json_loads(json, 0, &je);
        assert_non_null(o);
        struct oci_rt *rt = NULL;
        struct berr err = { 0 };
        assert_int_equal(oci_rt_parse(o, "abc", "/run/berth/containers/abc", -1, &rt, &err), 0);
        return rt;
}

static char *join(char **v) {
        size_t n = 1;
        for (char **p = v; *p; p++)
                n += strlen(*p) + 1;
        char *s = calloc(1, n);
        for (char **p = v; *p; p++) {
                if (p != v)
                        strcat(s, " ");
                strcat(s, *p);
        }
        return s;
}

static void test_oci_argv(void **s) {
        struct oci_rt *rt = make_rt("{\"name\": \"kata\", \"path\": \"/opt/kata\", \"args\": [\"--debug\", \"--systemd-cgroup\"],"
                                    " \"root\": \"/run/berth/runtime-kata\"}");
        const char *cmd[] = { "kill", "--all", "abc", "9", NULL };
        char **argv = NULL;
        struct berr err = { 0 };
        assert_int_equal(oci_rt_argv(rt, cmd, &argv, &err), 0);
        _cleanup_free_ char *line = join(argv);
        /* runtimeArgs first (as dockerd's wrapper script passes them), then the global
         * options every OCI runtime takes, then the command */
        assert_string_equal(line, "/opt/kata --debug --systemd-cgroup --root /run/berth/runtime-kata --log "
                                  "/run/berth/containers/abc/runtime.log --log-format json kill --all abc 9");
        free(argv);
        oci_rt_free(rt);

        rt = make_rt("{\"name\": \"runc\", \"path\": \"/usr/sbin/runc\", \"root\": \"/r\"}");
        const char *start[] = { "start", "abc", NULL };
        assert_int_equal(oci_rt_argv(rt, start, &argv, &err), 0);
        _cleanup_free_ char *line2 = join(argv);
        assert_string_equal(line2, "/usr/sbin/runc --root /r --log /run/berth/containers/abc/runtime.log --log-format json "
                                   "start abc");
        free(argv);
        oci_rt_free(rt);
}

static void test_oci_parse_refuses(void **s) {
        static const char *const bad[] = {
                "[]",
                "{\"path\": \"/x\", \"root\": \"/r\"}",
                "{\"name\": \"n\", \"path\": \"relative\", \"root\": \"/r\"}",
                "{\"name\": \"n\", \"path\": \"/x\", \"root\": \"r\"}",
                "{\"name\": \"n\", \"path\": \"/x\", \"root\": \"/r\", \"args\": \"-d\"}",
                "{\"name\": \"n\", \"path\": \"/x\", \"root\": \"/r\", \"args\": [1]}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                json_error_t je;
                _cleanup_json_ json_t *o = json_loads(bad[i], 0, &je);
                struct oci_rt *rt = NULL;
                struct berr err = { 0 };
                assert_true(oci_rt_parse(o, "abc", "/b", -1, &rt, &err) < 0);
                assert_null(rt);
        }
        json_error_t je;
        _cleanup_json_ json_t *o = json_loads("{\"name\": \"n\", \"path\": \"/x\", \"root\": \"/r\"}", 0, &je);
        struct oci_rt *rt = NULL;
        struct berr err = { 0 };
        assert_true(oci_rt_parse(o, "abc", "relative/bundle", -1, &rt, &err) < 0);
}

static void test_oci_log_and_errors(void **s) {
        const char *log = "{\"level\":\"debug\",\"msg\":\"nsexec started\",\"time\":\"t\"}\n"
                          "not json at all\n"
                          "{\"level\":\"error\",\"msg\":\"first\",\"time\":\"t\"}\n"
                          "{\"level\":\"warning\",\"msg\":\"later warning\"}\n"
                          "{\"level\":\"error\",\"msg\":\"runc create failed: unable to start container process: exec: "
                          "\\\"nope\\\": executable file not found in $PATH\",\"time\":\"t\"}\n";
        char buf[512];
        assert_true(oci_rt_log_error(log, strlen(log), buf, sizeof(buf)));
        assert_string_equal(buf, "runc create failed: unable to start container process: exec: \"nope\": executable file "
                                 "not found in $PATH");
        assert_string_equal(oci_rt_strip_prefixes(buf), "exec: \"nope\": executable file not found in $PATH");
        assert_string_equal(oci_rt_strip_prefixes("exec failed: unable to start container process: exec: \"/etc\": "
                                                  "permission denied"),
                            "exec: \"/etc\": permission denied");
        assert_string_equal(oci_rt_strip_prefixes("container not running"), "container not running");
        assert_false(oci_rt_log_error("", 0, buf, sizeof(buf)));
        const char *only_debug = "{\"level\":\"debug\",\"msg\":\"x\"}";
        assert_false(oci_rt_log_error(only_debug, strlen(only_debug), buf, sizeof(buf)));

        assert_int_equal(oci_rt_errno_of("exec: \"nope\": executable file not found in $PATH"), ENOENT);
        assert_int_equal(oci_rt_errno_of("exec: \"/x\": stat /x: no such file or directory"), ENOENT);
        assert_int_equal(oci_rt_errno_of("exec: \"/etc\": permission denied"), EACCES);
        assert_int_equal(oci_rt_errno_of("exec: \"/bin\": is a directory"), EISDIR);
        assert_int_equal(oci_rt_errno_of("cannot kill container: container not running"), ESRCH);
        assert_int_equal(oci_rt_errno_of("unable to apply cgroup configuration"), EIO);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_add_runtime_flag),
                cmocka_unit_test(test_daemon_json_runtimes),
                cmocka_unit_test(test_runc_registered_when_found_and_default),
                cmocka_unit_test(test_info_json),
                cmocka_unit_test(test_config_keys_and_flags),
                cmocka_unit_test(test_oci_argv),
                cmocka_unit_test(test_oci_parse_refuses),
                cmocka_unit_test(test_oci_log_and_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
