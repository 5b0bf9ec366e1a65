/* Unit tests for the macvlan/ipvlan drivers' options (network/sublink.c): modes, flags,
 * parents, and dockerd's words for what is wrong. */
#include <errno.h>
#include <jansson.h>
#include <linux/if_link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "network/network.h"
#include "network/sublink.h"

static int parse(const char *driver, const char *opts_json, struct sublink_cfg *c, struct berr *err) {
        json_t *o = json_loads(opts_json, 0, NULL);
        assert_non_null(o);
        int r = sublink_parse(driver, o, c, err);
        json_decref(o);
        return r;
}

static void test_defaults_are_dockerds(void **state) {
        (void) state;
        struct sublink_cfg c;
        struct berr e = { 0 };
        assert_int_equal(parse("macvlan", "{}", &c, &e), 0);
        assert_int_equal(c.mode, MACVLAN_MODE_BRIDGE);
        assert_string_equal(c.parent, "");
        assert_int_equal(parse("ipvlan", "{\"parent\": \"eth0.10\"}", &c, &e), 0);
        assert_int_equal(c.mode, IPVLAN_MODE_L2);
        assert_int_equal(c.flags, 0);
        assert_string_equal(c.parent, "eth0.10");
}

static void test_every_mode_and_flag(void **state) {
        (void) state;
        struct sublink_cfg c;
        struct berr e = { 0 };
        const struct {
                const char *driver, *opts;
                int mode, flags;
        } ok[] = {
                { "macvlan", "{\"macvlan_mode\": \"private\"}", MACVLAN_MODE_PRIVATE, 0 },
                { "macvlan", "{\"macvlan_mode\": \"vepa\"}", MACVLAN_MODE_VEPA, 0 },
                { "macvlan", "{\"macvlan_mode\": \"passthru\"}", MACVLAN_MODE_PASSTHRU, 0 },
                { "ipvlan", "{\"ipvlan_mode\": \"l3\"}", IPVLAN_MODE_L3, 0 },
                { "ipvlan", "{\"ipvlan_mode\": \"l3s\", \"ipvlan_flag\": \"vepa\"}", IPVLAN_MODE_L3S, IPVLAN_F_VEPA },
                { "ipvlan", "{\"ipvlan_flag\": \"private\"}", IPVLAN_MODE_L2, IPVLAN_F_PRIVATE },
        };
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                assert_int_equal(parse(ok[i].driver, ok[i].opts, &c, &e), 0);
                assert_int_equal(c.mode, ok[i].mode);
                assert_int_equal(c.flags, ok[i].flags);
        }
        /* The other driver's option names mean nothing (dockerd ignores them). */
        assert_int_equal(parse("macvlan", "{\"ipvlan_mode\": \"l9\"}", &c, &e), 0);
}

static void test_bad_options_have_dockerds_words(void **state) {
        (void) state;
        struct sublink_cfg c;
        const struct {
                const char *driver, *opts, *msg;
        } bad[] = {
                { "macvlan", "{\"macvlan_mode\": \"l2\"}",
                  "requested macvlan mode 'l2' is not valid, 'bridge' mode is the macvlan driver default" },
                { "ipvlan", "{\"ipvlan_mode\": \"bridge\"}",
                  "requested ipvlan mode 'bridge' is not valid, 'l2' mode is the ipvlan driver default" },
                { "ipvlan", "{\"ipvlan_flag\": \"l2\"}",
                  "requested ipvlan flag 'l2' is not valid, 'bridge' is the ipvlan driver default" },
                { "ipvlan", "{\"parent\": \"lo\"}", "loopback interface is not a valid ipvlan parent link" },
                { "macvlan", "{\"parent\": \"a-name-far-too-long\"}", "invalid parent interface name a-name-far-too-long" },
                { "macvlan", "{\"parent\": \"../x\"}", "invalid parent interface name ../x" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct berr e = { 0 };
                assert_true(parse(bad[i].driver, bad[i].opts, &c, &e) < 0);
                assert_non_null(strstr(e.msg, bad[i].msg));
        }
}

static void test_which_drivers(void **state) {
        (void) state;
        assert_true(net_driver_is_sublink("macvlan") && net_driver_is_sublink("ipvlan"));
        assert_false(net_driver_is_sublink("bridge") || net_driver_is_sublink(NULL));
        assert_true(net_driver_has_endpoints("bridge") && net_driver_has_endpoints("ipvlan"));
        assert_false(net_driver_has_endpoints("host") || net_driver_has_endpoints("null"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults_are_dockerds),
                cmocka_unit_test(test_every_mode_and_flag),
                cmocka_unit_test(test_bad_options_have_dockerds_words),
                cmocka_unit_test(test_which_drivers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
