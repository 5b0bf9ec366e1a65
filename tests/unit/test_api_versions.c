/* Unit tests for api/versions.c: the version table names real routes and sane versions,
 * and each kind of rule changes bodies, answers, filters and queries as it says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/api.h"
#include "api/versions.h"

static const struct api_route *route(const char *method, const char *pattern) {
        for (size_t i = 0; i < api_n_routes; i++)
                if (strcmp(api_routes[i].method, method) == 0 && strcmp(api_routes[i].pattern, pattern) == 0)
                        return &api_routes[i];
        return NULL;
}

static void test_every_rule_names_a_served_route_and_versions_in_range(void **s) {
        for (size_t i = 0; i < api_n_vrules; i++) {
                const struct api_vrule *r = &api_vrules[i];
                if (!route(r->method, r->pattern))
                        fail_msg("rule %zu: no route %s %s", i, r->method, r->pattern);
                assert_true(r->from < r->until);
                assert_true(r->from == 0 || (r->from > API_VERSION_MIN && r->from <= API_VERSION_MAX));
                assert_true(r->until == 1000 || (r->until > API_VERSION_MIN && r->until <= API_VERSION_MAX));
                assert_non_null(r->path);
                assert_non_null(r->why);
        }
}

static json_t *parse(const char *s) {
        json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        return v;
}

static void assert_json(json_t *v, const char *want) {
        json_t *w = parse(want);
        if (!json_equal(v, w)) {
                char *got = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
                fail_msg("got %s, want %s", got, want);
        }
        json_decref(w);
}

static void test_image_inspect_keeps_legacy_fields_before_their_removal(void **s) {
        const struct api_route *r = route("GET", "/images/{name*}/json");
        const char *full = "{\"Id\":\"x\",\"Container\":\"c\",\"ContainerConfig\":{},\"Size\":5,\"VirtualSize\":5}";
        json_t *v = parse(full);
        api_versions_answer(r, 141, v);
        assert_json(v, full);
        api_versions_answer(r, 144, v);
        assert_json(v, "{\"Id\":\"x\",\"Container\":\"c\",\"ContainerConfig\":{},\"Size\":5}");
        json_decref(v);
        v = parse(full);
        api_versions_answer(r, 145, v);
        assert_json(v, "{\"Id\":\"x\",\"Size\":5}");
        json_decref(v);
}

static void test_image_list_placeholders_and_virtual_size(void **s) {
        const struct api_route *r = route("GET", "/images/json");
        json_t *v = parse("[{\"RepoTags\":[],\"RepoDigests\":[],\"VirtualSize\":1},{\"RepoTags\":[\"a:b\"],\"RepoDigests\":[],\"VirtualSize\":2}]");
        api_versions_answer(r, 141, v);
        assert_json(v, "[{\"RepoTags\":[\"<none>:<none>\"],\"RepoDigests\":[\"<none>@<none>\"],\"VirtualSize\":1},"
                       "{\"RepoTags\":[\"a:b\"],\"RepoDigests\":[],\"VirtualSize\":2}]");
        json_decref(v);
        v = parse("{\"Images\":[{\"RepoTags\":[],\"RepoDigests\":[],\"VirtualSize\":1}]}");
        api_versions_answer(route("GET", "/system/df"), 145, v);
        assert_json(v, "{\"Images\":[{\"RepoTags\":[],\"RepoDigests\":[]}]}");
        json_decref(v);
}

static void test_create_body_rules(void **s) {
        const struct api_route *r = route("POST", "/containers/create");
        json_t *v = parse("{\"Image\":\"i\",\"Healthcheck\":{\"StartInterval\":5,\"Interval\":1},"
                          "\"HostConfig\":{\"ConsoleSize\":[1,2],\"AutoRemove\":true,\"KernelMemory\":9}}");
        api_versions_body(r, 124, v);
        assert_json(v, "{\"Image\":\"i\",\"Healthcheck\":{\"Interval\":1},"
                       "\"HostConfig\":{\"KernelMemory\":9,\"IpcMode\":\"shareable\"}}");
        json_decref(v);
        v = parse("{\"Image\":\"i\"}");
        api_versions_body(r, 139, v);
        assert_json(v, "{\"Image\":\"i\",\"HostConfig\":{\"IpcMode\":\"shareable\"}}");
        json_decref(v);
        v = parse("{\"Image\":\"i\",\"HostConfig\":{\"IpcMode\":\"private\",\"KernelMemory\":9,\"ConsoleSize\":[1,2]}}");
        api_versions_body(r, 145, v);
        assert_json(v, "{\"Image\":\"i\",\"HostConfig\":{\"IpcMode\":\"private\",\"ConsoleSize\":[1,2]}}");
        json_decref(v);
}

static void test_volume_prune_filters_and_stop_signal(void **s) {
        const struct api_route *r = route("POST", "/volumes/prune");
        json_t *f = parse("{}");
        api_versions_filters(r, 141, f, NULL);
        assert_json(f, "{\"all\":[\"true\"]}");
        json_decref(f);
        f = parse("{\"all\":[\"false\"]}");
        api_versions_filters(r, 141, f, NULL);
        assert_json(f, "{\"all\":[\"false\"]}");
        json_decref(f);
        f = parse("{}");
        api_versions_filters(r, 142, f, NULL);
        assert_json(f, "{}");
        json_decref(f);
        const char *v = "x";
        assert_true(api_versions_query(route("POST", "/containers/{id}/stop"), 141, "signal", &v));
        assert_null(v);
        assert_false(api_versions_query(route("POST", "/containers/{id}/stop"), 142, "signal", &v));
        assert_false(api_versions_query(route("POST", "/containers/{id}/kill"), 141, "signal", &v));
}

static void test_aliases_get_the_short_id_on_user_networks_only(void **s) {
        const struct api_route *r = route("GET", "/containers/{id}/json");
        const char *doc = "{\"Id\":\"0123456789abcdef\",\"NetworkSettings\":{\"Networks\":{"
                          "\"bridge\":{\"Aliases\":null},\"mynet\":{\"Aliases\":[\"web\"]},\"other\":{\"Aliases\":null}}}}";
        json_t *v = parse(doc);
        api_versions_answer(r, 145, v);
        assert_json(v, doc);
        api_versions_answer(r, 144, v);
        assert_json(v, "{\"Id\":\"0123456789abcdef\",\"NetworkSettings\":{\"Networks\":{\"bridge\":{\"Aliases\":null},"
                       "\"mynet\":{\"Aliases\":[\"web\",\"0123456789ab\"]},\"other\":{\"Aliases\":[\"0123456789ab\"]}}}}");
        json_decref(v);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_rule_names_a_served_route_and_versions_in_range),
                cmocka_unit_test(test_image_inspect_keeps_legacy_fields_before_their_removal),
                cmocka_unit_test(test_image_list_placeholders_and_virtual_size),
                cmocka_unit_test(test_create_body_rules),
                cmocka_unit_test(test_volume_prune_filters_and_stop_signal),
                cmocka_unit_test(test_aliases_get_the_short_id_on_user_networks_only),
        };
        return cmocka_run_group_tests_name("api_versions", tests, NULL, NULL);
}
