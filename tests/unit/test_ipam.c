/* Unit tests for IPv4 and IPv6 arithmetic, default address pools and the per-subnet allocators. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "network/ipam.h"

static uint32_t ip(const char *s) {
        uint32_t v = 0;
        assert_int_equal(ipam_parse_ip4(s, &v), 0);
        return v;
}

static void test_parse_and_format(void **state) {
        (void) state;
        struct ipv4_net n;
        uint32_t host;
        assert_int_equal(ipam_parse_cidr4("10.1.2.3/24", false, &n, &host), 0);
        assert_int_equal(n.addr, ip("10.1.2.0"));
        assert_int_equal(n.prefix, 24);
        assert_int_equal(host, ip("10.1.2.3"));
        assert_int_equal(ipam_parse_cidr4("10.1.2.3/24", true, &n, NULL), -EINVAL); /* host bits set */
        assert_int_equal(ipam_parse_cidr4("10.1.2.0/24", true, &n, NULL), 0);
        const char *bad[] = { "10.1.2.0", "10.1.2.0/", "10.1.2.0/33", "10.1.2.0/-1", "10.1.2/24", "x/24",
                              "10.1.2.0/24x", "::1/64", "" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(ipam_parse_cidr4(bad[i], false, &n, NULL), -EINVAL);
        char out[20];
        struct ipv4_net m = { .addr = ip("172.17.0.0"), .prefix = 16 };
        ipam_format_cidr4(&m, out);
        assert_string_equal(out, "172.17.0.0/16");
        char o16[16];
        ipam_format_ip4(ip("255.255.255.255"), o16);
        assert_string_equal(o16, "255.255.255.255");
}

static void test_overlap_and_contains(void **state) {
        (void) state;
        struct ipv4_net a = { ip("10.0.0.0"), 8 }, b = { ip("10.5.0.0"), 16 }, c = { ip("11.0.0.0"), 8 };
        assert_true(ipam_overlap4(&a, &b));
        assert_true(ipam_overlap4(&b, &a));
        assert_false(ipam_overlap4(&a, &c));
        assert_true(ipam_contains4(&b, ip("10.5.255.255")));
        assert_false(ipam_contains4(&b, ip("10.6.0.0")));
        struct ipv4_net all = { 0, 0 };
        assert_true(ipam_overlap4(&all, &c));
        assert_int_equal(ipam_mask4(0), 0);
        assert_int_equal(ipam_mask4(32), 0xffffffffu);
}

static void test_pool_spec_and_pick(void **state) {
        (void) state;
        struct ipam_pool_spec p;
        assert_int_equal(ipam_parse_pool_spec("base=10.10.0.0/16,size=24", &p), 0);
        assert_int_equal(p.base.addr, ip("10.10.0.0"));
        assert_int_equal(p.size, 24);
        assert_int_equal(ipam_parse_pool_spec("size=24,base=10.10.0.0/16", &p), 0);
        assert_int_equal(ipam_parse_pool_spec("base=10.10.0.0/16", &p), -EINVAL);
        assert_int_equal(ipam_parse_pool_spec("base=10.10.0.0/16,size=8", &p), -EINVAL); /* bigger than base */
        assert_int_equal(ipam_parse_pool_spec("base=10.10.0.0/16,size=24,x=1", &p), -EINVAL);
        assert_int_equal(ipam_parse_pool_spec("base=10.10.0.0/16,size=24", &p), 0);
        struct ipv4_net used[2] = { { ip("10.10.0.0"), 24 }, { ip("10.10.1.0"), 25 } }, got;
        assert_int_equal(ipam_pick_subnet(&p, used, 2, &got), 0);
        assert_int_equal(got.addr, ip("10.10.2.0"));
        assert_int_equal(got.prefix, 24);
        struct ipam_pool_spec tiny;
        assert_int_equal(ipam_parse_pool_spec("base=10.20.0.0/23,size=24", &tiny), 0);
        struct ipv4_net both[2] = { { ip("10.20.0.0"), 24 }, { ip("10.20.1.0"), 24 } };
        assert_int_equal(ipam_pick_subnet(&tiny, both, 2, &got), -ENOSPC);
}

static void test_alloc_serial_release_and_reserved(void **state) {
        (void) state;
        struct ipv4_net sub = { ip("10.1.0.0"), 29 }; /* .0 network, .7 broadcast */
        struct ipam_alloc a;
        assert_int_equal(ipam_alloc_init(&a, &sub, NULL, ip("10.1.0.1")), 0);
        uint32_t got[8];
        for (int i = 0; i < 5; i++)
                assert_int_equal(ipam_alloc_take(&a, 0, &got[i]), 0);
        assert_int_equal(got[0], ip("10.1.0.2"));
        assert_int_equal(got[4], ip("10.1.0.6"));
        assert_int_equal(ipam_alloc_take(&a, 0, &got[5]), -ENOSPC);
        /* Docker's serial order: a released address is handed out after the others. */
        ipam_alloc_release(&a, ip("10.1.0.3"));
        assert_int_equal(ipam_alloc_take(&a, 0, &got[5]), 0);
        assert_int_equal(got[5], ip("10.1.0.3"));
        /* The gateway, network and broadcast addresses are never released or handed out. */
        ipam_alloc_release(&a, ip("10.1.0.1"));
        ipam_alloc_release(&a, ip("10.1.0.0"));
        ipam_alloc_release(&a, ip("10.1.0.7"));
        assert_true(ipam_alloc_is_taken(&a, ip("10.1.0.1")));
        assert_int_equal(ipam_alloc_take(&a, 0, &got[6]), -ENOSPC);
        ipam_alloc_done(&a);
}

static void test_alloc_wanted_and_range(void **state) {
        (void) state;
        struct ipv4_net sub = { ip("10.2.0.0"), 24 }, range = { ip("10.2.0.128"), 25 };
        struct ipam_alloc a;
        assert_int_equal(ipam_alloc_init(&a, &sub, &range, ip("10.2.0.1")), 0);
        uint32_t got;
        assert_int_equal(ipam_alloc_take(&a, 0, &got), 0);
        assert_int_equal(got, ip("10.2.0.128")); /* dynamic addresses come from the range */
        assert_int_equal(ipam_alloc_take(&a, ip("10.2.0.50"), &got), 0); /* a fixed one may be outside it */
        assert_int_equal(ipam_alloc_take(&a, ip("10.2.0.50"), &got), -EEXIST);
        assert_int_equal(ipam_alloc_take(&a, ip("10.2.0.1"), &got), -EEXIST); /* the gateway */
        assert_int_equal(ipam_alloc_take(&a, ip("10.3.0.5"), &got), -ERANGE);
        ipam_alloc_done(&a);
        struct ipv4_net outside = { ip("10.9.0.0"), 25 };
        assert_int_equal(ipam_alloc_init(&a, &sub, &outside, 0), -ERANGE);
        struct ipv4_net huge = { ip("10.0.0.0"), 7 };
        assert_int_equal(ipam_alloc_init(&a, &huge, NULL, 0), -E2BIG);
}


static void test_alloc_aux_reserved(void **state) {
        (void) state;
        struct ipv4_net sub = { ip("10.3.0.0"), 29 };
        struct ipam_alloc a;
        assert_int_equal(ipam_alloc_init(&a, &sub, NULL, ip("10.3.0.1")), 0);
        assert_int_equal(ipam_alloc_reserve(&a, ip("10.3.0.2")), 0);
        assert_int_equal(ipam_alloc_reserve(&a, ip("10.3.0.2")), -EEXIST);
        assert_int_equal(ipam_alloc_reserve(&a, ip("10.4.0.2")), -ERANGE);
        uint32_t got;
        assert_int_equal(ipam_alloc_take(&a, 0, &got), 0);
        assert_int_equal(got, ip("10.3.0.3")); /* the auxiliary address is skipped */
        ipam_alloc_release(&a, ip("10.3.0.2")); /* and never given back */
        assert_true(ipam_alloc_is_taken(&a, ip("10.3.0.2")));
        assert_int_equal(ipam_alloc_take(&a, ip("10.3.0.2"), &got), -EEXIST);
        ipam_alloc_done(&a);
}

static void ip6(const char *s, uint8_t out[16]) {
        assert_int_equal(ipam_parse_ip6(s, out), 0);
}

static void test_ip6_parse_and_format(void **state) {
        (void) state;
        struct ipv6_net n;
        uint8_t host[16], want[16];
        assert_int_equal(ipam_parse_cidr6("fd12:3456:789a:1::5/64", false, &n, host), 0);
        ip6("fd12:3456:789a:1::", want);
        assert_memory_equal(n.addr, want, 16);
        assert_int_equal(n.prefix, 64);
        ip6("fd12:3456:789a:1::5", want);
        assert_memory_equal(host, want, 16);
        assert_int_equal(ipam_parse_cidr6("fd12:3456:789a:1::5/64", true, &n, NULL), -EINVAL);
        const char *bad[] = { "fd00::", "fd00::/", "fd00::/129", "fd00::/-1", "10.0.0.0/8", "fd00::/64x", "zz::/64", "" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(ipam_parse_cidr6(bad[i], false, &n, NULL), -EINVAL);
        uint8_t x[16];
        assert_int_equal(ipam_parse_ip6("10.0.0.1", x), -EINVAL);
        char out[50];
        assert_int_equal(ipam_parse_cidr6("FD00:0:0:0:0:0:0:0/48", true, &n, NULL), 0);
        ipam_format_cidr6(&n, out);
        assert_string_equal(out, "fd00::/48"); /* canonical, as Go prints it */
        uint8_t gw[16];
        ipam_ip6_add(&n, 1, gw);
        char g[46];
        ipam_format_ip6(gw, g);
        assert_string_equal(g, "fd00::1");
        struct ipv6_net a, b, c;
        assert_int_equal(ipam_parse_cidr6("fd00::/48", true, &a, NULL), 0);
        assert_int_equal(ipam_parse_cidr6("fd00:0:0:5::/64", true, &b, NULL), 0);
        assert_int_equal(ipam_parse_cidr6("fd01::/64", true, &c, NULL), 0);
        assert_true(ipam_overlap6(&a, &b));
        assert_true(ipam_overlap6(&b, &a));
        assert_false(ipam_overlap6(&a, &c));
        ip6("fd00:0:0:5:ffff:ffff:ffff:ffff", x);
        assert_true(ipam_contains6(&b, x));
        ip6("fd00:0:0:6::", x);
        assert_false(ipam_contains6(&b, x));
}

static void test_ip6_pools(void **state) {
        (void) state;
        assert_true(ipam_pool_spec_is6("base=fd00::/48,size=64"));
        assert_true(ipam_pool_spec_is6("size=64,base=fd00::/48"));
        assert_false(ipam_pool_spec_is6("base=10.0.0.0/8,size=24"));
        struct ipam_pool_spec6 p;
        assert_int_equal(ipam_parse_pool_spec6("base=fd00:1::/48,size=64", &p), 0);
        assert_int_equal(p.size, 64);
        assert_int_equal(ipam_parse_pool_spec6("base=fd00:1::/48,size=40", &p), -EINVAL);
        assert_int_equal(ipam_parse_pool_spec6("base=fd00:1::/48,size=129", &p), -EINVAL);
        assert_int_equal(ipam_parse_pool_spec6("base=fd00:1::/48,size=64", &p), 0);
        struct ipv6_net used[2], got;
        assert_int_equal(ipam_parse_cidr6("fd00:1::/64", true, &used[0], NULL), 0);
        /* A larger used network is skipped whole, without stepping through its /64s. */
        assert_int_equal(ipam_parse_cidr6("fd00:1:0:0::/52", true, &used[1], NULL), 0);
        assert_int_equal(ipam_pick_subnet6(&p, used, 2, &got), 0);
        char out[50];
        ipam_format_cidr6(&got, out);
        assert_string_equal(out, "fd00:1:0:1000::/64");
        struct ipam_pool_spec6 tiny;
        assert_int_equal(ipam_parse_pool_spec6("base=fd00:2::/63,size=64", &tiny), 0);
        struct ipv6_net full;
        assert_int_equal(ipam_parse_cidr6("fd00:2::/63", true, &full, NULL), 0);
        assert_int_equal(ipam_pick_subnet6(&tiny, &full, 1, &got), -ENOSPC);
        /* dockerd's derived ULA pool: the values of moby's own test. */
        struct ipam_pool_spec6 ula;
        ipam_ula_pool("", &ula);
        ipam_format_cidr6(&ula.base, out);
        assert_string_equal(out, "fd42:98fc:1c14::/48");
        assert_int_equal(ula.size, 64);
        ipam_ula_pool("499d4bc0-b0b3-416f-b1ee-cf6486315593", &ula);
        ipam_format_cidr6(&ula.base, out);
        assert_string_equal(out, "fd62:fb69:18af::/48");
}

static void test_ip6_alloc(void **state) {
        (void) state;
        struct ipv6_net sub;
        assert_int_equal(ipam_parse_cidr6("fd00:5::/64", true, &sub, NULL), 0);
        uint8_t gw[16], aux[16], got[16], want[16];
        ip6("fd00:5::1", gw);
        ip6("fd00:5::3", aux);
        struct ipam_alloc6 a;
        assert_int_equal(ipam_alloc6_init(&a, &sub, NULL, gw), 0);
        assert_int_equal(ipam_alloc6_reserve(&a, aux), 0);
        char s[46];
        assert_int_equal(ipam_alloc6_take(&a, NULL, got), 0);
        ipam_format_ip6(got, s);
        assert_string_equal(s, "fd00:5::2"); /* not ::0 (anycast), not ::1 (gateway) */
        assert_int_equal(ipam_alloc6_take(&a, NULL, got), 0);
        ipam_format_ip6(got, s);
        assert_string_equal(s, "fd00:5::4"); /* the auxiliary address is skipped */
        ip6("fd00:5::2", want);
        assert_int_equal(ipam_alloc6_take(&a, want, got), -EEXIST);
        assert_int_equal(ipam_alloc6_take(&a, gw, got), -EEXIST);
        ip6("fd00:6::2", want);
        assert_int_equal(ipam_alloc6_take(&a, want, got), -ERANGE);
        ip6("fd00:5::ffff:1", want);
        assert_int_equal(ipam_alloc6_take(&a, want, got), 0);
        assert_true(ipam_alloc6_is_taken(&a, want));
        ipam_alloc6_release(&a, want);
        assert_false(ipam_alloc6_is_taken(&a, want));
        ipam_alloc6_release(&a, aux); /* never given back */
        ipam_alloc6_release(&a, gw);
        assert_true(ipam_alloc6_is_taken(&a, aux));
        assert_true(ipam_alloc6_is_taken(&a, gw));
        /* Serial: a released address comes back after the others. */
        ip6("fd00:5::2", want);
        ipam_alloc6_release(&a, want);
        assert_int_equal(ipam_alloc6_take(&a, NULL, got), 0);
        ipam_format_ip6(got, s);
        assert_string_equal(s, "fd00:5::5");
        ipam_alloc6_done(&a);

        /* A range, and a small subnet that fills up. */
        struct ipv6_net small, range;
        assert_int_equal(ipam_parse_cidr6("fd00:7::/126", true, &small, NULL), 0);
        assert_int_equal(ipam_parse_cidr6("fd00:7::2/127", true, &range, NULL), 0);
        ip6("fd00:7::1", gw);
        assert_int_equal(ipam_alloc6_init(&a, &small, &range, gw), 0);
        assert_int_equal(ipam_alloc6_take(&a, NULL, got), 0);
        ipam_format_ip6(got, s);
        assert_string_equal(s, "fd00:7::2");
        assert_int_equal(ipam_alloc6_take(&a, NULL, got), 0);
        ipam_format_ip6(got, s);
        assert_string_equal(s, "fd00:7::3");
        assert_int_equal(ipam_alloc6_take(&a, NULL, got), -ENOSPC);
        ipam_alloc6_done(&a);
        struct ipv6_net outside;
        assert_int_equal(ipam_parse_cidr6("fd00:8::/127", true, &outside, NULL), 0);
        assert_int_equal(ipam_alloc6_init(&a, &small, &outside, NULL), -ERANGE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_and_format),
                cmocka_unit_test(test_overlap_and_contains),
                cmocka_unit_test(test_pool_spec_and_pick),
                cmocka_unit_test(test_alloc_serial_release_and_reserved),
                cmocka_unit_test(test_alloc_wanted_and_range),
                cmocka_unit_test(test_alloc_aux_reserved),
                cmocka_unit_test(test_ip6_parse_and_format),
                cmocka_unit_test(test_ip6_pools),
                cmocka_unit_test(test_ip6_alloc),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
