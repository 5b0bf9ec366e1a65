/* Unit tests for libnetwork's remote driver messages (network/remote_msg.c): the requests
 * berth sends network and IPAM driver plugins, and how their answers are read — with
 * libnetwork's words for the answers it cannot use. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "network/remote.h"

static json_t *J(const char *text) {
        json_error_t je;
        json_t *o = json_loads(text, 0, &je);
        assert_non_null(o);
        return o;
}

static uint32_t ip4(const char *s) {
        uint32_t v;
        assert_int_equal(ipam_parse_ip4(s, &v), 0);
        return v;
}

static void test_answer_error_reads_err_and_error(void **state) {
        (void) state;
        json_t *a = J("{\"Err\": \"no fabric\"}"), *b = J("{\"Error\": \"pool exhausted\"}"), *c = J("{\"Err\": \"\"}");
        assert_string_equal(remote_answer_error(a), "no fabric");
        assert_string_equal(remote_answer_error(b), "pool exhausted");
        assert_null(remote_answer_error(c));
        assert_null(remote_answer_error(NULL));
        json_decref(a);
        json_decref(b);
        json_decref(c);
}

static void test_capabilities_take_local_or_global_only(void **state) {
        (void) state;
        char scope[8];
        struct berr err = { 0 };
        json_t *ok = J("{\"Scope\": \"global\"}"), *bad = J("{\"Scope\": \"galaxy\"}"), *none = J("{}");
        assert_int_equal(remote_parse_capabilities(ok, scope, &err), 0);
        assert_string_equal(scope, "global");
        assert_true(remote_parse_capabilities(bad, scope, &err) < 0);
        assert_string_equal(err.msg, "invalid capability: expecting 'local' or 'global', got galaxy");
        assert_true(remote_parse_capabilities(none, scope, &err) < 0);
        json_decref(ok);
        json_decref(bad);
        json_decref(none);
}

static void test_create_network_request_carries_options_and_pool(void **state) {
        (void) state;
        json_t *opts = J("{\"foo\": \"bar\"}"), *aux = J("{\"printer\": \"10.9.0.5\"}");
        struct ipv4_net pool = { ip4("10.9.0.0"), 24 };
        json_t *req = remote_create_network_req("abc", opts, true, "space", &pool, ip4("10.9.0.1"), aux, NULL, NULL);
        json_t *want = J("{\"NetworkID\": \"abc\", \"Options\": {\"com.docker.network.generic\": {\"foo\": \"bar\"}, "
                         "\"com.docker.network.enable_ipv6\": false, \"com.docker.network.internal\": true}, "
                         "\"IPv4Data\": [{\"AddressSpace\": \"space\", \"Pool\": \"10.9.0.0/24\", \"Gateway\": "
                         "\"10.9.0.1/24\", \"AuxAddresses\": {\"printer\": \"10.9.0.5/24\"}}], \"IPv6Data\": []}");
        assert_true(json_equal(req, want));
        json_decref(req);
        json_decref(want);
        /* no options, no gateway, not internal */
        req = remote_create_network_req("abc", NULL, false, "", &pool, 0, NULL, NULL, NULL);
        want = J("{\"NetworkID\": \"abc\", \"Options\": {\"com.docker.network.generic\": {}, "
                 "\"com.docker.network.enable_ipv6\": false}, \"IPv4Data\": [{\"AddressSpace\": \"\", \"Pool\": "
                 "\"10.9.0.0/24\", \"AuxAddresses\": {}}], \"IPv6Data\": []}");
        assert_true(json_equal(req, want));
        json_decref(req);
        json_decref(want);
        /* --ipv6: the IPv6 pool and gateway, and enable_ipv6 */
        struct ipv6_net pool6;
        uint8_t gw6[16];
        assert_int_equal(ipam_parse_cidr6("fd09::/64", true, &pool6, NULL), 0);
        assert_int_equal(ipam_parse_ip6("fd09::1", gw6), 0);
        req = remote_create_network_req("abc", NULL, false, "", &pool, 0, NULL, &pool6, gw6);
        want = J("{\"NetworkID\": \"abc\", \"Options\": {\"com.docker.network.generic\": {}, "
                 "\"com.docker.network.enable_ipv6\": true}, \"IPv4Data\": [{\"AddressSpace\": \"\", \"Pool\": "
                 "\"10.9.0.0/24\", \"AuxAddresses\": {}}], \"IPv6Data\": [{\"AddressSpace\": \"\", \"Pool\": "
                 "\"fd09::/64\", \"Gateway\": \"fd09::1/64\", \"AuxAddresses\": {}}]}");
        assert_true(json_equal(req, want));
        json_decref(req);
        json_decref(want);
        json_decref(opts);
        json_decref(aux);
}

static void test_pool_answer_with_and_without_gateway(void **state) {
        (void) state;
        struct remote_pool p;
        struct berr err = { 0 };
        json_t *a = J("{\"PoolID\": \"p1\", \"Pool\": \"10.9.0.0/24\", \"Data\": {\"com.docker.network.gateway\": "
                      "\"10.9.0.254/24\"}}");
        assert_int_equal(remote_parse_pool(a, false, &p, &err), 0);
        assert_string_equal(p.id, "p1");
        assert_int_equal(p.pool.addr, ip4("10.9.0.0"));
        assert_int_equal(p.pool.prefix, 24);
        assert_int_equal(p.gateway, ip4("10.9.0.254"));
        json_decref(a);
        a = J("{\"PoolID\": \"p2\", \"Pool\": \"10.9.0.7/24\"}"); /* host bits: cleared, as Go's ParseCIDR */
        assert_int_equal(remote_parse_pool(a, false, &p, &err), 0);
        assert_int_equal(p.pool.addr, ip4("10.9.0.0"));
        assert_int_equal(p.gateway, 0);
        json_decref(a);
}

static void test_pool_answer_ipv6(void **state) {
        (void) state;
        struct remote_pool p;
        struct berr err = { 0 };
        uint8_t gw[16];
        json_t *a = J("{\"PoolID\": \"p6\", \"Pool\": \"fd09::/64\", \"Data\": {\"com.docker.network.gateway\": "
                      "\"fd09::fe/64\"}}");
        assert_int_equal(remote_parse_pool(a, true, &p, &err), 0);
        assert_string_equal(p.id, "p6");
        assert_int_equal(p.pool6.prefix, 64);
        assert_int_equal(ipam_parse_ip6("fd09::fe", gw), 0);
        assert_memory_equal(p.gateway6, gw, 16);
        json_decref(a);
        uint8_t ip6[16];
        int prefix;
        a = J("{\"Address\": \"fd09::a/64\"}");
        assert_int_equal(remote_parse_address6(a, ip6, &prefix, &err), 0);
        assert_int_equal(prefix, 64);
        assert_int_equal(ipam_parse_ip6("fd09::a", gw), 0);
        assert_memory_equal(ip6, gw, 16);
        uint32_t ip4v;
        assert_true(remote_parse_address(a, &ip4v, &prefix, &err) < 0); /* IPv6 where IPv4 was asked */
        json_decref(a);
        a = J("{\"Address\": \"10.9.0.1/24\"}");
        assert_true(remote_parse_address6(a, ip6, &prefix, &err) < 0);
        json_decref(a);
}

static void test_pool_answer_errors(void **state) {
        (void) state;
        struct remote_pool p;
        struct berr err = { 0 };
        json_t *a = J("{\"PoolID\": \"p\", \"Pool\": \"nonsense\"}");
        assert_true(remote_parse_pool(a, false, &p, &err) < 0);
        assert_string_equal(err.msg, "invalid CIDR address: nonsense");
        json_decref(a);
        a = J("{\"PoolID\": \"p\", \"Pool\": \"10.9.0.0/24\", \"Data\": {\"com.docker.network.gateway\": \"x\"}}");
        assert_true(remote_parse_pool(a, false, &p, &err) < 0);
        assert_non_null(strstr(err.msg, "failed to parse gateway address (x) returned by ipam driver"));
        json_decref(a);
        a = J("{\"PoolID\": 7, \"Pool\": \"10.9.0.0/24\"}");
        assert_true(remote_parse_pool(a, false, &p, &err) < 0);
        json_decref(a);
        /* a pool of the other family than asked */
        a = J("{\"PoolID\": \"p\", \"Pool\": \"fd00::/64\"}");
        assert_true(remote_parse_pool(a, false, &p, &err) < 0);
        json_decref(a);
        a = J("{\"PoolID\": \"p\", \"Pool\": \"10.9.0.0/24\"}");
        assert_true(remote_parse_pool(a, true, &p, &err) < 0);
        json_decref(a);
        char big[400];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        a = json_pack("{s:s, s:s}", "PoolID", big, "Pool", "10.9.0.0/24");
        assert_true(remote_parse_pool(a, false, &p, &err) < 0);
        json_decref(a);
}

static void test_address_answer(void **state) {
        (void) state;
        uint32_t ip;
        int prefix;
        struct berr err = { 0 };
        json_t *a = J("{\"Address\": \"10.9.0.10/24\", \"Data\": {}}");
        assert_int_equal(remote_parse_address(a, &ip, &prefix, &err), 0);
        assert_int_equal(ip, ip4("10.9.0.10"));
        assert_int_equal(prefix, 24);
        json_decref(a);
        a = J("{\"Address\": \"\"}");
        assert_true(remote_parse_address(a, &ip, &prefix, &err) < 0);
        assert_string_equal(err.msg, "No address returned");
        json_decref(a);
        a = J("{\"Address\": \"10.9.0.10\"}"); /* no prefix: not a CIDR */
        assert_true(remote_parse_address(a, &ip, &prefix, &err) < 0);
        assert_string_equal(err.msg, "invalid CIDR address: 10.9.0.10");
        json_decref(a);
}

static void test_endpoint_answer_takes_mac_refuses_other_address(void **state) {
        (void) state;
        bool has_mac;
        uint8_t mac[6];
        struct berr err = { 0 };
        json_t *a = J("{\"Interface\": {\"MacAddress\": \"02:42:be:01:02:03\"}}");
        assert_int_equal(remote_parse_endpoint(a, "10.9.0.10/24", NULL, &has_mac, mac, &err), 0);
        assert_true(has_mac);
        assert_memory_equal(mac, ((uint8_t[]) { 0x02, 0x42, 0xbe, 1, 2, 3 }), 6);
        json_decref(a);
        a = J("{}");
        assert_int_equal(remote_parse_endpoint(a, "10.9.0.10/24", NULL, &has_mac, mac, &err), 0);
        assert_false(has_mac);
        json_decref(a);
        a = J("{\"Interface\": {\"Address\": \"10.9.0.10/24\"}}"); /* the same: fine */
        assert_int_equal(remote_parse_endpoint(a, "10.9.0.10/24", NULL, &has_mac, mac, &err), 0);
        json_decref(a);
        a = J("{\"Interface\": {\"Address\": \"10.9.0.99/24\"}}");
        assert_true(remote_parse_endpoint(a, "10.9.0.10/24", NULL, &has_mac, mac, &err) < 0);
        assert_non_null(strstr(err.msg, "driver modified interface address"));
        json_decref(a);
        a = J("{\"Interface\": {\"MacAddress\": \"zz\"}}");
        assert_true(remote_parse_endpoint(a, "10.9.0.10/24", NULL, &has_mac, mac, &err) < 0);
        json_decref(a);
        /* IPv6: the address sent (written another way) is fine, another one is not */
        a = J("{\"Interface\": {\"AddressIPv6\": \"fd09:0::a/64\"}}");
        assert_int_equal(remote_parse_endpoint(a, "10.9.0.10/24", "fd09::a/64", &has_mac, mac, &err), 0);
        assert_true(remote_parse_endpoint(a, "10.9.0.10/24", "fd09::b/64", &has_mac, mac, &err) < 0);
        assert_non_null(strstr(err.msg, "driver modified interface address"));
        assert_true(remote_parse_endpoint(a, "10.9.0.10/24", NULL, &has_mac, mac, &err) < 0);
        json_decref(a);
}

static void test_join_answer_names_gateway_routes(void **state) {
        (void) state;
        struct remote_join j;
        struct berr err = { 0 };
        json_t *a = J("{\"InterfaceName\": {\"SrcName\": \"vethab12\", \"DstPrefix\": \"eth\"}, \"Gateway\": \"10.9.0.1\", "
                      "\"StaticRoutes\": [{\"Destination\": \"10.8.0.0/16\", \"RouteType\": 0, \"NextHop\": \"10.9.0.1\"}, "
                      "{\"Destination\": \"10.7.0.0/24\", \"RouteType\": 1}], \"DisableGatewayService\": true}");
        assert_int_equal(remote_parse_join(a, &j, &err), 0);
        assert_string_equal(j.src_name, "vethab12");
        assert_string_equal(j.dst_prefix, "eth");
        assert_int_equal(j.gateway, ip4("10.9.0.1"));
        assert_int_equal(j.n_routes, 2);
        assert_int_equal(j.routes[0].dst.addr, ip4("10.8.0.0"));
        assert_int_equal(j.routes[0].dst.prefix, 16);
        assert_int_equal(j.routes[0].type, 0);
        assert_int_equal(j.routes[0].next_hop, ip4("10.9.0.1"));
        assert_int_equal(j.routes[1].type, 1);
        assert_int_equal(j.routes[1].next_hop, 0);
        assert_true(j.disable_gateway_service);
        assert_false(j.has_gateway6);
        json_decref(a);
        a = J("{\"InterfaceName\": {\"SrcName\": \"v1\"}, \"GatewayIPv6\": \"fd09::1\", \"StaticRoutes\": "
              "[{\"Destination\": \"fd08::/64\", \"RouteType\": 0, \"NextHop\": \"fd09::1\"}]}");
        assert_int_equal(remote_parse_join(a, &j, &err), 0);
        uint8_t gw6[16];
        assert_int_equal(ipam_parse_ip6("fd09::1", gw6), 0);
        assert_true(j.has_gateway6);
        assert_memory_equal(j.gateway6, gw6, 16);
        assert_int_equal(j.n_routes, 1);
        assert_true(j.routes[0].v6);
        assert_int_equal(j.routes[0].dst6.prefix, 64);
        assert_memory_equal(j.routes[0].next_hop6, gw6, 16);
        assert_string_equal(j.dst_prefix, "");
        json_decref(a);
}

static void test_join_answer_errors(void **state) {
        (void) state;
        static const char *const bad[] = {
                "{\"InterfaceName\": {\"SrcName\": \"../../etc\", \"DstPrefix\": \"eth\"}}",
                "{\"InterfaceName\": {\"SrcName\": \"a-name-far-too-long\", \"DstPrefix\": \"eth\"}}",
                "{\"InterfaceName\": {\"SrcName\": \"v0\", \"DstPrefix\": \"e/th\"}}",
                "{\"InterfaceName\": \"v0\"}",
                "{\"Gateway\": \"10.9.0\"}",
                "{\"StaticRoutes\": {}}",
                "{\"StaticRoutes\": [{\"Destination\": \"10.8.0.0/16\", \"RouteType\": 0}]}",
                "{\"StaticRoutes\": [{\"Destination\": \"10.8.0.0/16\", \"RouteType\": 7, \"NextHop\": \"10.9.0.1\"}]}",
                "{\"StaticRoutes\": [{\"Destination\": \"\", \"RouteType\": 1}]}",
                "{\"StaticRoutes\": [{\"Destination\": \"10.8.0.0/16\", \"RouteType\": 0, \"NextHop\": \"x\"}]}",
                "{\"StaticRoutes\": [{\"Destination\": \"10.8.0.0/16\", \"RouteType\": 0, \"NextHop\": \"fd09::1\"}]}",
                "{\"GatewayIPv6\": \"fd09::zz\"}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct remote_join j;
                struct berr err = { 0 };
                json_t *a = J(bad[i]);
                assert_true(remote_parse_join(a, &j, &err) < 0);
                assert_true(err.msg[0] != '\0');
                json_decref(a);
        }
        struct remote_join j;
        struct berr err = { 0 };
        json_t *a = J("{\"Gateway\": \"10.9.0\"}");
        assert_true(remote_parse_join(a, &j, &err) < 0);
        assert_string_equal(err.msg, "unable to parse Gateway \"10.9.0\"");
        json_decref(a);
        /* more routes than berth takes */
        json_t *routes = json_array();
        for (int i = 0; i <= REMOTE_MAX_ROUTES; i++)
                json_array_append_new(routes, json_pack("{s:s, s:i}", "Destination", "10.8.0.0/16", "RouteType", 1));
        a = json_pack("{s:o}", "StaticRoutes", routes);
        assert_true(remote_parse_join(a, &j, &err) < 0);
        json_decref(a);
}

static void test_ifname_from_prefix(void **state) {
        (void) state;
        char out[16];
        assert_int_equal(remote_ifname("eth", "eth1", out), 0);
        assert_string_equal(out, "eth1");
        assert_int_equal(remote_ifname("", "eth2", out), 0);
        assert_string_equal(out, "eth2");
        assert_int_equal(remote_ifname("weave", "eth3", out), 0);
        assert_string_equal(out, "weave3");
        assert_int_equal(remote_ifname("net", "eth0", out), 0);
        assert_string_equal(out, "net0");
        assert_true(remote_ifname("fifteen-chars-x", "eth10", out) < 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_answer_error_reads_err_and_error),
                cmocka_unit_test(test_capabilities_take_local_or_global_only),
                cmocka_unit_test(test_create_network_request_carries_options_and_pool),
                cmocka_unit_test(test_pool_answer_with_and_without_gateway),
                cmocka_unit_test(test_pool_answer_errors),
                cmocka_unit_test(test_pool_answer_ipv6),
                cmocka_unit_test(test_address_answer),
                cmocka_unit_test(test_endpoint_answer_takes_mac_refuses_other_address),
                cmocka_unit_test(test_join_answer_names_gateway_routes),
                cmocka_unit_test(test_join_answer_errors),
                cmocka_unit_test(test_ifname_from_prefix),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
