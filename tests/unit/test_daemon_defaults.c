/* Unit tests for daemon/reload.c's container defaults: what the daemon options put in an
 * empty HostConfig field at create, and what a container's own settings keep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "daemon/daemon.h"
#include "daemon/reload.h"

static void daemon_with(struct daemon *d, int argc, char **argv) {
        memset(d, 0, sizeof(*d));
        struct berr err = { 0 };
        daemon_config_init(&d->cfg);
        assert_int_equal(daemon_config_parse_args(&d->cfg, argc, argv, &err), 0);
}

static void test_defaults_fill_empty_fields(void **s) {
        struct daemon d;
        char *argv[] = { "berthd", "--default-shm-size", "32m", "--default-cgroupns-mode", "host", "--cgroup-parent", "/p",
                         "--dns", "192.0.2.1", "--dns-search", "a.test", "--dns-opt", "ndots:1", "--no-new-privileges",
                         "--default-ulimit", "nofile=10:20", "--default-ulimit", "nproc=5:6" };
        daemon_with(&d, (int) (sizeof(argv) / sizeof(argv[0])), argv);
        json_t *hc = json_pack("{s:I, s:s, s:[], s:n}", "ShmSize", (json_int_t) 0, "CgroupnsMode", "", "Dns", "Ulimits");
        daemon_opts_apply_create(&d, hc);
        assert_int_equal(json_integer_value(json_object_get(hc, "ShmSize")), 32 << 20);
        assert_string_equal(json_string_value(json_object_get(hc, "CgroupnsMode")), "host");
        assert_string_equal(json_string_value(json_object_get(hc, "CgroupParent")), "/p");
        assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "Dns"), 0)), "192.0.2.1");
        assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "DnsSearch"), 0)), "a.test");
        assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "DnsOptions"), 0)), "ndots:1");
        assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "SecurityOpt"), 0)), "no-new-privileges");
        json_t *ul = json_object_get(hc, "Ulimits");
        assert_int_equal(json_array_size(ul), 2);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(ul, 0), "Hard")), 20);
        json_decref(hc);
        daemon_config_done(&d.cfg);
}

static void test_containers_own_settings_win(void **s) {
        struct daemon d;
        char *argv[] = { "berthd", "--default-shm-size", "32m", "--dns", "192.0.2.1", "--no-new-privileges",
                         "--default-ulimit", "nofile=10:20", "--default-ulimit", "nproc=5:6", "--cgroup-parent", "/p" };
        daemon_with(&d, (int) (sizeof(argv) / sizeof(argv[0])), argv);
        json_t *hc = json_pack("{s:I, s:[s], s:[s], s:[{s:s, s:I, s:I}], s:s}", "ShmSize", (json_int_t) 1024, "Dns",
                               "198.51.100.1", "SecurityOpt", "no-new-privileges=false", "Ulimits", "Name", "nofile",
                               "Soft", (json_int_t) 1, "Hard", (json_int_t) 2, "CgroupParent", "/mine");
        daemon_opts_apply_create(&d, hc);
        assert_int_equal(json_integer_value(json_object_get(hc, "ShmSize")), 1024);
        assert_int_equal(json_array_size(json_object_get(hc, "Dns")), 1);
        assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "Dns"), 0)), "198.51.100.1");
        assert_int_equal(json_array_size(json_object_get(hc, "SecurityOpt")), 1);
        assert_string_equal(json_string_value(json_object_get(hc, "CgroupParent")), "/mine");
        json_t *ul = json_object_get(hc, "Ulimits");
        assert_int_equal(json_array_size(ul), 2); /* nofile kept, nproc added */
        assert_int_equal(json_integer_value(json_object_get(json_array_get(ul, 0), "Hard")), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(ul, 1), "Name")), "nproc");
        json_decref(hc);
        daemon_config_done(&d.cfg);
}

static void test_no_options_only_shm_size(void **s) {
        struct daemon d;
        char *argv[] = { "berthd" };
        daemon_with(&d, 1, argv);
        json_t *hc = json_object();
        daemon_opts_apply_create(&d, hc);
        /* dockerd stores the daemon's default shm size in the container's HostConfig */
        assert_int_equal(json_integer_value(json_object_get(hc, "ShmSize")), 64 << 20);
        assert_int_equal(json_object_size(hc), 1);
        json_decref(hc);
        daemon_config_done(&d.cfg);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults_fill_empty_fields),
                cmocka_unit_test(test_containers_own_settings_win),
                cmocka_unit_test(test_no_options_only_shm_size),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
