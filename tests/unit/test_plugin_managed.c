/* Unit tests for managed plugins' configuration (plugin/managed_config.c): config.json
 * checked against Go's types and filled with zero values, the Plugin object's Settings,
 * `docker plugin set` with dockerd's settable rules and messages, and the privileges an
 * install must grant. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "common/err.h"
#include "plugin/plugin.h"

static const char *CONFIG =
        "{\"Description\":\"d\",\"Entrypoint\":[\"/vd\"],"
        "\"Interface\":{\"Types\":[\"docker.volumedriver/1.0\",\"docker.authz/1.0\"],\"Socket\":\"vd.sock\"},"
        "\"Network\":{\"Type\":\"host\"},\"PidHost\":true,"
        "\"Linux\":{\"Capabilities\":[\"CAP_SYS_ADMIN\"],\"Devices\":[{\"Name\":\"dev\",\"Settable\":[\"path\"],\"Path\":\"/dev/fuse\"}]},"
        "\"Mounts\":[{\"Name\":\"state\",\"Settable\":[\"source\"],\"Source\":\"/var/lib/x\",\"Destination\":\"/state\","
        "\"Type\":\"bind\",\"Options\":[\"rbind\"]},{\"Name\":\"fixed\",\"Source\":\"/etc\",\"Destination\":\"/e\"}],"
        "\"Env\":[{\"Name\":\"DEBUG\",\"Settable\":[\"value\"],\"Value\":\"0\"},{\"Name\":\"UNSET\",\"Settable\":[\"value\"]},"
        "{\"Name\":\"LOCKED\",\"Value\":\"1\"}],"
        "\"Args\":{\"Name\":\"args\",\"Settable\":[\"value\"],\"Value\":[\"-a\"]},\"Unknown\":7}";

static json_t *normalized(const char *text) {
        json_t *raw = json_loads(text, 0, NULL), *out = NULL;
        struct berr err = { 0 };
        assert_non_null(raw);
        assert_int_equal(plugin_config_normalize(raw, &out, &err), 0);
        json_decref(raw);
        return out;
}

static json_t *plugin(void) {
        json_t *cfg = normalized(CONFIG);
        json_t *o = plugin_object_new("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "p:latest", cfg);
        json_decref(cfg);
        assert_non_null(o);
        return o;
}

static void test_config_is_filled_with_go_zero_values(void **s) {
        (void) s;
        json_t *c = normalized("{\"Interface\":{\"Types\":[\"docker.volumedriver/1.0\"],\"Socket\":\"x.sock\"}}");
        assert_string_equal(json_string_value(json_object_get(c, "WorkDir")), "");
        assert_true(json_is_false(json_object_get(c, "IpcHost")));
        assert_true(json_is_null(json_object_get(c, "Mounts")));
        assert_string_equal(json_string_value(json_object_get(json_object_get(c, "Network"), "Type")), "");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "User"), "UID")), 0);
        assert_null(json_object_get(c, "Unknown"));
        /* Go's omitempty ones are left out, as dockerd's inspect does */
        assert_null(json_object_get(json_object_get(c, "Interface"), "ProtocolScheme"));
        assert_null(json_object_get(c, "rootfs"));
        assert_null(json_object_get(json_object_get(c, "User"), "UID"));
        json_decref(c);
}

static void test_config_with_wrong_types_is_refused(void **s) {
        (void) s;
        static const char *bad[] = {
                "{\"Entrypoint\":\"/vd\"}",
                "{\"Interface\":{\"Types\":[1]}}",
                "{\"Interface\":{\"Types\":[\"nodot\"]}}",
                "{\"Mounts\":[{\"Source\":5}]}",
                "{\"IpcHost\":\"yes\"}",
                "{\"User\":{\"UID\":-1}}",
                "[]",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                json_t *raw = json_loads(bad[i], JSON_DECODE_ANY, NULL), *out = NULL;
                struct berr err = { 0 };
                assert_true(plugin_config_normalize(raw, &out, &err) < 0);
                assert_null(out);
                assert_int_equal(err.kind, BERR_INVALID);
                json_decref(raw);
        }
}

static void test_config_types_name_registry_kinds(void **s) {
        (void) s;
        json_t *c = normalized(CONFIG);
        const char *kinds[4];
        assert_int_equal(plugin_config_kinds(c, kinds, 4), 2);
        assert_string_equal(kinds[0], PLUGIN_KIND_VOLUME);
        assert_string_equal(kinds[1], PLUGIN_KIND_AUTHZ);
        json_decref(c);
}

static void test_plugin_settings_start_from_the_config(void **s) {
        (void) s;
        json_t *o = plugin();
        json_t *st = json_object_get(o, "Settings");
        json_t *env = json_object_get(st, "Env");
        assert_int_equal(json_array_size(env), 2); /* UNSET has no value */
        assert_string_equal(json_string_value(json_array_get(env, 0)), "DEBUG=0");
        assert_string_equal(json_string_value(json_array_get(env, 1)), "LOCKED=1");
        assert_string_equal(json_string_value(json_array_get(json_object_get(st, "Args"), 0)), "-a");
        assert_int_equal(json_array_size(json_object_get(st, "Mounts")), 2);
        assert_int_equal(json_array_size(json_object_get(st, "Devices")), 1);
        assert_true(json_is_false(json_object_get(o, "Enabled")));
        json_decref(o);
}

static void set_ok(json_t *o, const char *arg) {
        json_t *args = json_pack("[s]", arg);
        struct berr err = { 0 };
        assert_int_equal(plugin_object_set(o, args, &err), 0);
        json_decref(args);
}

static void set_fails(json_t *o, const char *arg, const char *msg) {
        json_t *args = json_pack("[s]", arg);
        struct berr err = { 0 };
        json_t *before = json_deep_copy(o);
        assert_true(plugin_object_set(o, args, &err) < 0);
        assert_string_equal(err.msg, msg);
        assert_true(json_equal(before, o)); /* nothing changed */
        json_decref(before);
        json_decref(args);
}

static void test_set_changes_only_settable_fields(void **s) {
        (void) s;
        json_t *o = plugin();
        set_ok(o, "DEBUG=1");
        set_ok(o, "UNSET=v");
        set_ok(o, "state.source=/srv/state");
        set_ok(o, "dev=/dev/null");
        set_ok(o, "args=-x -y");
        json_t *st = json_object_get(o, "Settings");
        assert_string_equal(json_string_value(json_array_get(json_object_get(st, "Env"), 0)), "DEBUG=1");
        assert_string_equal(json_string_value(json_array_get(json_object_get(st, "Env"), 2)), "UNSET=v");
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(st, "Mounts"), 0), "Source")),
                            "/srv/state");
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(st, "Devices"), 0), "Path")),
                            "/dev/null");
        json_t *args = json_object_get(st, "Args");
        assert_int_equal(json_array_size(args), 2);
        assert_string_equal(json_string_value(json_array_get(args, 1)), "-y");

        set_fails(o, "LOCKED=2", "\"LOCKED\" is not settable");
        set_fails(o, "fixed.source=/x", "\"fixed.source\" is not settable");
        set_fails(o, "state.destination=/x", "\"state.destination\" is not settable");
        set_fails(o, "nope=1", "setting \"nope\" not found in the plugin configuration");
        set_fails(o, "=1", "invalid format, must be <name>[.<field>][=<value>]");
        json_object_set_new(o, "Enabled", json_true());
        set_fails(o, "DEBUG=2", "cannot set on an active plugin, disable plugin before setting");
        json_decref(o);
}

static void test_set_is_all_or_nothing(void **s) {
        (void) s;
        json_t *o = plugin(), *before = json_deep_copy(o);
        json_t *args = json_pack("[s, s]", "DEBUG=9", "LOCKED=2");
        struct berr err = { 0 };
        assert_true(plugin_object_set(o, args, &err) < 0);
        assert_true(json_equal(before, o));
        json_decref(args);
        json_decref(before);
        json_decref(o);
}

static void test_privileges_as_dockerd_computes_and_checks_them(void **s) {
        (void) s;
        json_t *c = normalized(CONFIG);
        json_t *p = plugin_config_privileges(c);
        /* network host, pid host, two mounts with sources, one device, capabilities */
        assert_int_equal(json_array_size(p), 6);
        assert_string_equal(json_string_value(json_object_get(json_array_get(p, 0), "Name")), "network");
        assert_string_equal(json_string_value(json_object_get(json_array_get(p, 1), "Name")), "host pid namespace");
        struct berr err = { 0 };
        assert_int_equal(plugin_privileges_check(p, p, &err), 0);
        /* granted in another order is the same */
        json_t *rev = json_array();
        for (size_t i = json_array_size(p); i-- > 0;)
                json_array_append(rev, json_array_get(p, i));
        assert_int_equal(plugin_privileges_check(p, rev, &err), 0);
        json_array_remove(rev, 0);
        assert_true(plugin_privileges_check(p, rev, &err) < 0);
        assert_string_equal(err.msg, "incorrect privileges");
        json_decref(rev);
        json_decref(p);
        json_decref(c);
}

/* ---- managed plugins in the registry: a plugin that answers every call ---- */

static int answer_lfd = -1;
static volatile int answer_stop;

static void *answer_main(void *arg) {
        (void) arg;
        while (!answer_stop) {
                struct pollfd p = { .fd = answer_lfd, .events = POLLIN };
                if (poll(&p, 1, 50) <= 0)
                        continue;
                int fd = accept(answer_lfd, NULL, NULL);
                if (fd < 0)
                        continue;
                char buf[4096];
                ssize_t n = read(fd, buf, sizeof(buf)); /* the test's requests are small */
                (void) n;
                static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 31\r\nConnection: close\r\n\r\n"
                                           "{\"Implements\":[\"VolumeDriver\"]}";
                if (write(fd, resp, sizeof(resp) - 1) < 0)
                        break;
                close(fd);
        }
        return NULL;
}

static void test_managed_plugins_join_the_lookup(void **s) {
        (void) s;
        char dir[] = "/tmp/berth-pm-XXXXXX", sock[64], addr[96];
        assert_non_null(mkdtemp(dir));
        snprintf(sock, sizeof(sock), "%s/p.sock", dir);
        snprintf(addr, sizeof(addr), "unix://%s", sock);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
        answer_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(bind(answer_lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(answer_lfd, 8), 0);
        pthread_t t;
        answer_stop = 0;
        assert_int_equal(pthread_create(&t, NULL, answer_main, NULL), 0);
        setenv("BERTH_PLUGIN_RETRY_SECONDS", "0", 1);

        struct plugin_registry *reg = NULL;
        struct berr err = { 0 };
        assert_int_equal(plugin_registry_new(dir, &reg, &err), 0);
        const char *kinds[] = { PLUGIN_KIND_VOLUME };
        char rootfs[96], prop[96];
        snprintf(rootfs, sizeof(rootfs), "%s/r", dir);
        snprintf(prop, sizeof(prop), "%s/p", dir);
        assert_int_equal(mkdir(rootfs, 0755), 0);
        assert_int_equal(mkdir(prop, 0755), 0);
        struct plugin_scope scope = { .rootfs = rootfs, .prop_mount = "/data", .prop_root = prop };
        assert_int_equal(plugin_registry_put_managed(reg, "mp:latest", addr, kinds, 1, &scope, 5000, &err), 0);
        struct plugin *p = NULL, *q = NULL;
        assert_int_equal(plugin_get_now(reg, "mp", PLUGIN_KIND_VOLUME, &p, &err), 0); /* NAME is NAME:latest */
        assert_string_equal(plugin_name(p), "mp:latest");
        assert_int_equal(plugin_get_now(reg, "mp:latest", PLUGIN_KIND_VOLUME, &q, &err), 0);
        assert_ptr_equal(p, q);
        assert_true(plugin_get_now(reg, "mp:v2", PLUGIN_KIND_VOLUME, &q, &err) < 0);
        assert_true(plugin_get_now(reg, "mp", PLUGIN_KIND_AUTHZ, &q, &err) < 0);

        char out[256], want[256];
        assert_int_equal(plugin_scoped_path(p, "/data/v1", out, sizeof(out)), 0);
        snprintf(want, sizeof(want), "%s/v1", prop);
        assert_string_equal(out, want);
        assert_int_equal(plugin_scoped_path(p, "/datax/v1", out, sizeof(out)), 0);
        snprintf(want, sizeof(want), "%s/datax/v1", rootfs);
        assert_string_equal(out, want);
        assert_int_equal(plugin_scoped_path(p, "/x", out, sizeof(out)), 0);
        snprintf(want, sizeof(want), "%s/x", rootfs);
        assert_string_equal(out, want);
        assert_int_equal(plugin_scoped_path(p, "/data/../../etc", out, sizeof(out)), -EINVAL); /* never out */

        struct plugin **all = NULL;
        size_t n = 0;
        assert_int_equal(plugin_get_all(reg, PLUGIN_KIND_VOLUME, &all, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_ptr_equal(all[0], p);
        free(all);
        json_t *active = plugin_registry_active(reg, PLUGIN_KIND_VOLUME);
        assert_int_equal(json_array_size(active), 1);
        json_decref(active);

        /* disabled: dockerd's conflict, not a fallback to the plugin directories */
        plugin_registry_managed_state(reg, "mp:latest", false);
        assert_true(plugin_get_now(reg, "mp", PLUGIN_KIND_VOLUME, &q, &err) < 0);
        assert_int_equal(err.kind, BERR_CONFLICT);
        assert_string_equal(err.msg, "plugin mp found but disabled");
        active = plugin_registry_active(reg, PLUGIN_KIND_VOLUME);
        assert_int_equal(json_array_size(active), 0);
        json_decref(active);
        assert_int_equal(plugin_get_all(reg, PLUGIN_KIND_VOLUME, &all, &n, &err), 0);
        assert_int_equal(n, 0);
        free(all);

        /* enabled again: the same object (callers may hold it) */
        assert_int_equal(plugin_registry_put_managed(reg, "mp:latest", addr, kinds, 1, &scope, 5000, &err), 0);
        assert_int_equal(plugin_get_now(reg, "mp", PLUGIN_KIND_VOLUME, &q, &err), 0);
        assert_ptr_equal(p, q);

        /* removed: not found */
        plugin_registry_managed_state(reg, "mp:latest", true);
        assert_true(plugin_get_now(reg, "mp", PLUGIN_KIND_VOLUME, &q, &err) < 0);
        assert_int_equal(err.kind, BERR_NOT_FOUND);

        plugin_registry_free(reg);
        answer_stop = 1;
        pthread_join(t, NULL);
        close(answer_lfd);
        unlink(sock);
        char plugdir[64];
        snprintf(plugdir, sizeof(plugdir), "%s/plugins", dir);
        rmdir(plugdir);
        assert_int_equal(rmdir(rootfs), 0);
        assert_int_equal(rmdir(prop), 0);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_is_filled_with_go_zero_values),
                cmocka_unit_test(test_config_with_wrong_types_is_refused),
                cmocka_unit_test(test_config_types_name_registry_kinds),
                cmocka_unit_test(test_plugin_settings_start_from_the_config),
                cmocka_unit_test(test_set_changes_only_settable_fields),
                cmocka_unit_test(test_set_is_all_or_nothing),
                cmocka_unit_test(test_privileges_as_dockerd_computes_and_checks_them),
                cmocka_unit_test(test_managed_plugins_join_the_lookup),
        };
        return cmocka_run_group_tests_name("plugin_managed", tests, NULL, NULL);
}
