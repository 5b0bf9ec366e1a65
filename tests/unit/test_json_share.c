/* Unit tests for common/json.c's json_share_scalars: "" and 0 become one shared instance
 * each, through nested objects and arrays; everything else and the text stay as they were. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/json.h"

static void test_empty_strings_and_zeros_are_shared(void **s) {
        json_t *a = json_pack("{s:{s:s, s:s, s:i, s:i, s:n, s:b, s:[s, i, s]}}", "none", "IPAddress", "", "Gateway", "",
                              "IPPrefixLen", 0, "Other", 7, "Links", "Flag", 1, "List", "", 0, "x");
        json_t *b = json_pack("{s:s, s:i, s:s}", "EndpointID", "", "GlobalIPv6PrefixLen", 0, "NetworkID", "abc");
        assert_non_null(a);
        assert_non_null(b);
        char *before = json_dumps(a, JSON_SORT_KEYS | JSON_COMPACT);
        json_share_scalars(a);
        json_share_scalars(b);
        char *after = json_dumps(a, JSON_SORT_KEYS | JSON_COMPACT);
        assert_string_equal(before, after); /* the text does not change */
        json_t *ep = json_object_get(a, "none");
        json_t *empty = json_object_get(ep, "IPAddress");
        json_t *zero = json_object_get(ep, "IPPrefixLen");
        assert_ptr_equal(json_object_get(ep, "Gateway"), empty);
        assert_ptr_equal(json_object_get(b, "EndpointID"), empty); /* across objects */
        assert_ptr_equal(json_object_get(b, "GlobalIPv6PrefixLen"), zero);
        assert_ptr_equal(json_array_get(json_object_get(ep, "List"), 0), empty);
        assert_ptr_equal(json_array_get(json_object_get(ep, "List"), 1), zero);
        assert_ptr_not_equal(json_object_get(ep, "Other"), zero);
        assert_string_equal(json_string_value(json_object_get(b, "NetworkID")), "abc");
        /* a value replaced in one object leaves the others alone */
        json_object_set_new(ep, "IPAddress", json_string("10.0.0.2"));
        assert_string_equal(json_string_value(json_object_get(ep, "Gateway")), "");
        assert_string_equal(json_string_value(json_object_get(b, "EndpointID")), "");
        /* a deep copy of a shared object is an ordinary one */
        json_t *c = json_deep_copy(b);
        assert_true(json_equal(b, c));
        json_decref(c);
        free(before);
        free(after);
        json_decref(a);
        json_decref(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty_strings_and_zeros_are_shared),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
