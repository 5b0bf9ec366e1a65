/* test_dist_auth.c - registry credentials: X-Registry-Auth decoding and WWW-Authenticate
 * challenges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "distribution/dist_int.h"

static void test_dist_auth_decodes_base64url_without_padding(void **state) {
        /* {"username":"al?ce","password":"p>w"} in base64url, padding stripped */
        const char *json = "{\"username\":\"al?ce\",\"password\":\"p>w\",\"serveraddress\":\"127.0.0.1:5000\"}";
        _cleanup_free_ char *b64 = dist_base64(json, strlen(json));
        for (char *p = b64; *p; p++)
                *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
        char *eq = strchr(b64, '=');
        if (eq)
                *eq = '\0';
        struct dist_auth a;
        struct berr err = { 0 };
        assert_int_equal(dist_auth_decode(b64, &a, &err), 0);
        assert_string_equal(a.username, "al?ce");
        assert_string_equal(a.password, "p>w");
        assert_string_equal(a.server_address, "127.0.0.1:5000");
        dist_auth_done(&a);
}

static void test_dist_auth_empty_header_is_anonymous(void **state) {
        struct dist_auth a;
        struct berr err = { 0 };
        assert_int_equal(dist_auth_decode("", &a, &err), 0);
        assert_null(a.username);
        assert_int_equal(dist_auth_decode(NULL, &a, &err), 0);
        /* "{}" as old clients send it */
        assert_int_equal(dist_auth_decode("e30=", &a, &err), 0);
        assert_null(a.username);
        assert_true(dist_auth_decode("!!!", &a, &err) < 0);
        assert_int_equal(err.kind, BERR_INVALID);
}

static void test_dist_auth_reads_auth_field(void **state) {
        json_t *body = json_pack("{s:s}", "auth", "dXNlcjpwYXNzOndpdGg6Y29sb25z"); /* user:pass:with:colons */
        struct dist_auth a;
        struct berr err = { 0 };
        assert_int_equal(dist_auth_from_json(body, &a, &err), 0);
        assert_string_equal(a.username, "user");
        assert_string_equal(a.password, "pass:with:colons");
        dist_auth_done(&a);
        json_decref(body);
}

static void test_dist_challenge_parses_bearer(void **state) {
        struct dist_challenge ch;
        dist_challenge_parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                             "scope=\"repository:library/alpine:pull,push\",error=\"insufficient_scope\"",
                             &ch);
        assert_int_equal(ch.scheme, DIST_AUTH_BEARER);
        assert_string_equal(ch.realm, "https://auth.docker.io/token");
        assert_string_equal(ch.service, "registry.docker.io");
        assert_string_equal(ch.scope, "repository:library/alpine:pull,push");
        assert_string_equal(ch.error, "insufficient_scope");
        dist_challenge_done(&ch);
}

static void test_dist_challenge_parses_basic_and_unknown(void **state) {
        struct dist_challenge ch;
        dist_challenge_parse("Basic realm=\"berth test\"", &ch);
        assert_int_equal(ch.scheme, DIST_AUTH_BASIC);
        assert_string_equal(ch.realm, "berth test");
        dist_challenge_done(&ch);
        dist_challenge_parse("bearer realm=x , service=\"a\\\"b\"", &ch);
        assert_int_equal(ch.scheme, DIST_AUTH_BEARER);
        assert_string_equal(ch.realm, "x");
        assert_string_equal(ch.service, "a\"b");
        dist_challenge_done(&ch);
        dist_challenge_parse("Negotiate abc", &ch);
        assert_int_equal(ch.scheme, DIST_AUTH_NONE);
        dist_challenge_done(&ch);
        dist_challenge_parse(NULL, &ch);
        assert_int_equal(ch.scheme, DIST_AUTH_NONE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dist_auth_decodes_base64url_without_padding),
                cmocka_unit_test(test_dist_auth_empty_header_is_anonymous),
                cmocka_unit_test(test_dist_auth_reads_auth_field),
                cmocka_unit_test(test_dist_challenge_parses_bearer),
                cmocka_unit_test(test_dist_challenge_parses_basic_and_unknown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
