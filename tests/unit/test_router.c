/* Unit tests for api/router.c: version prefixes, route patterns, error statuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/http.h"
#include "common/err.h"

static int h(struct api_request *req, struct berr *err) { return 0; }

static const struct api_route routes[] = {
        { "GET", "/_ping", h, 0 },
        { "HEAD", "/_ping", h, 0 },
        { "GET", "/containers/json", h, 0 },
        { "GET", "/containers/{id}/json", h, 0 },
        { "POST", "/containers/{id}/start", h, 0 },
        { "DELETE", "/containers/{id}", h, 0 },
        { "GET", "/images/{name*}/json", h, 0 },
        { "POST", "/images/{name*}/tag", h, 0 },
        { "GET", "/info", h, 0 },
};

static void free_params(char *p[API_MAX_PARAMS]) {
        for (int i = 0; i < API_MAX_PARAMS; i++)
                free(p[i]);
}

static enum api_match match(const char *method, const char *path, const struct api_route **r, char *p[API_MAX_PARAMS]) {
        memset(p, 0, sizeof(char *) * API_MAX_PARAMS);
        return api_route_match(routes, sizeof(routes) / sizeof(routes[0]), method, path, r, p);
}

static void test_version_parse_accepts_major_minor(void **s) {
        unsigned v;
        assert_int_equal(api_version_parse("1.45", &v), 0);
        assert_int_equal(v, 145);
        assert_int_equal(api_version_parse("1.24", &v), 0);
        assert_int_equal(v, 124);
        assert_int_equal(api_version_parse("1.9", &v), 0);
        assert_int_equal(v, 109);
}

static void test_version_parse_rejects_garbage(void **s) {
        unsigned v;
        const char *bad[] = { "", "1", "1.", ".45", "1.45.1", "a.b", "1.456", "-1.2", "1.4x" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_true(api_version_parse(bad[i], &v) < 0);
}

static void test_version_strip_unversioned_gets_max(void **s) {
        unsigned v;
        const char *path;
        struct berr err = { 0 };
        assert_int_equal(api_version_strip("/_ping", &v, &path, &err), 0);
        assert_int_equal(v, API_VERSION_MAX);
        assert_string_equal(path, "/_ping");
}

static void test_version_strip_in_range(void **s) {
        unsigned v;
        const char *path;
        struct berr err = { 0 };
        assert_int_equal(api_version_strip("/v1.41/containers/json", &v, &path, &err), 0);
        assert_int_equal(v, 141);
        assert_string_equal(path, "/containers/json");
}

static void test_version_strip_too_new_is_docker_message(void **s) {
        unsigned v;
        const char *path;
        struct berr err = { 0 };
        assert_true(api_version_strip("/v1.99/info", &v, &path, &err) < 0);
        assert_int_equal(err.kind, BERR_INVALID);
        assert_string_equal(err.msg, "client version 1.99 is too new. Maximum supported API version is 1.45");
        assert_int_equal(api_status_for_kind(err.kind), 400);
}

static void test_version_strip_too_old(void **s) {
        unsigned v;
        const char *path;
        struct berr err = { 0 };
        assert_true(api_version_strip("/v1.12/info", &v, &path, &err) < 0);
        assert_non_null(strstr(err.msg, "client version 1.12 is too old. Minimum supported API version is 1.24"));
}

static void test_version_strip_garbage_prefix_is_not_found(void **s) {
        unsigned v;
        const char *path;
        struct berr err = { 0 };
        assert_true(api_version_strip("/v1.x/info", &v, &path, &err) < 0);
        assert_int_equal(err.kind, BERR_NOT_FOUND);
}

static void test_route_exact(void **s) {
        const struct api_route *r;
        char *p[API_MAX_PARAMS];
        assert_int_equal(match("GET", "/containers/json", &r, p), API_MATCH_OK);
        assert_ptr_equal(r, &routes[2]);
        assert_null(p[0]);
}

static void test_route_literal_beats_nothing_and_params_capture(void **s) {
        const struct api_route *r;
        char *p[API_MAX_PARAMS];
        assert_int_equal(match("GET", "/containers/abc123/json", &r, p), API_MATCH_OK);
        assert_ptr_equal(r, &routes[3]);
        assert_string_equal(p[0], "abc123");
        free_params(p);
}

static void test_route_single_segment_param_does_not_span_slash(void **s) {
        const struct api_route *r;
        char *p[API_MAX_PARAMS];
        assert_int_equal(match("GET", "/containers/a/b/json", &r, p), API_MATCH_NO_PATH);
        assert_int_equal(match("DELETE", "/containers/", &r, p), API_MATCH_NO_PATH);
}

static void test_route_multi_segment_param_takes_image_names(void **s) {
        const struct api_route *r;
        char *p[API_MAX_PARAMS];
        assert_int_equal(match("GET", "/images/localhost:5000/library/busybox:1.0/json", &r, p), API_MATCH_OK);
        assert_string_equal(p[0], "localhost:5000/library/busybox:1.0");
        free_params(p);
        assert_int_equal(match("POST", "/images/busybox/tag", &r, p), API_MATCH_OK);
        assert_string_equal(p[0], "busybox");
        free_params(p);
}

static void test_route_wrong_method_is_405(void **s) {
        const struct api_route *r;
        char *p[API_MAX_PARAMS];
        assert_int_equal(match("POST", "/info", &r, p), API_MATCH_BAD_METHOD);
        assert_int_equal(match("GET", "/containers/x/start", &r, p), API_MATCH_BAD_METHOD);
}

static void test_route_head_prefers_head_route_and_falls_back_to_get(void **s) {
        const struct api_route *r;
        char *p[API_MAX_PARAMS];
        assert_int_equal(match("HEAD", "/_ping", &r, p), API_MATCH_OK);
        assert_ptr_equal(r, &routes[1]);
        assert_int_equal(match("HEAD", "/info", &r, p), API_MATCH_OK);
        assert_ptr_equal(r, &routes[8]);
}

static void test_route_unknown_path(void **s) {
        const struct api_route *r;
        char *p[API_MAX_PARAMS];
        assert_int_equal(match("GET", "/nope", &r, p), API_MATCH_NO_PATH);
        assert_int_equal(match("GET", "/info/", &r, p), API_MATCH_NO_PATH);
        assert_int_equal(match("GET", "", &r, p), API_MATCH_NO_PATH);
}

static void test_status_for_every_kind(void **s) {
        assert_int_equal(api_status_for_kind(BERR_INVALID), 400);
        assert_int_equal(api_status_for_kind(BERR_UNAUTHORIZED), 401);
        assert_int_equal(api_status_for_kind(BERR_FORBIDDEN), 403);
        assert_int_equal(api_status_for_kind(BERR_NOT_FOUND), 404);
        assert_int_equal(api_status_for_kind(BERR_CONFLICT), 409);
        assert_int_equal(api_status_for_kind(BERR_TOO_LARGE), 413);
        assert_int_equal(api_status_for_kind(BERR_INTERNAL), 500);
        assert_int_equal(api_status_for_kind(BERR_NOT_IMPLEMENTED), 501);
        assert_int_equal(api_status_for_kind(BERR_UNAVAILABLE), 503);
        assert_int_equal(api_status_for_kind(-7), 500);
        assert_int_equal(api_status_for_kind(_BERR_KIND_MAX), 500);
}

static void test_berr_wrap_prefixes_context(void **s) {
        struct berr err = { 0 };
        int r = berr_set(&err, BERR_NOT_FOUND, ENOENT, "layer %s: missing", "sha256:ab");
        assert_int_equal(r, -ENOENT);
        r = berr_wrap(&err, "pull %s", "busybox");
        assert_int_equal(r, -ENOENT);
        assert_string_equal(err.msg, "pull busybox: layer sha256:ab: missing");
        assert_int_equal(err.kind, BERR_NOT_FOUND);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_version_parse_accepts_major_minor),
                cmocka_unit_test(test_version_parse_rejects_garbage),
                cmocka_unit_test(test_version_strip_unversioned_gets_max),
                cmocka_unit_test(test_version_strip_in_range),
                cmocka_unit_test(test_version_strip_too_new_is_docker_message),
                cmocka_unit_test(test_version_strip_too_old),
                cmocka_unit_test(test_version_strip_garbage_prefix_is_not_found),
                cmocka_unit_test(test_route_exact),
                cmocka_unit_test(test_route_literal_beats_nothing_and_params_capture),
                cmocka_unit_test(test_route_single_segment_param_does_not_span_slash),
                cmocka_unit_test(test_route_multi_segment_param_takes_image_names),
                cmocka_unit_test(test_route_wrong_method_is_405),
                cmocka_unit_test(test_route_head_prefers_head_route_and_falls_back_to_get),
                cmocka_unit_test(test_route_unknown_path),
                cmocka_unit_test(test_status_for_every_kind),
                cmocka_unit_test(test_berr_wrap_prefixes_context),
        };
        return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
