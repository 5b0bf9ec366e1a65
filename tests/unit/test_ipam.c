/* Unit tests for IPv4 arithmetic, default address pools and the per-subnet allocator. */
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_and_format),
                cmocka_unit_test(test_overlap_and_contains),
                cmocka_unit_test(test_pool_spec_and_pick),
                cmocka_unit_test(test_alloc_serial_release_and_reserved),
                cmocka_unit_test(test_alloc_wanted_and_range),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
