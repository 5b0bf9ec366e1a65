/* test_reference.c - reference parsing, normalisation and familiar names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "image/reference.h"

static void assert_normalizes(const char *in, const char *full, const char *familiar) {
        struct reference ref;
        struct berr err = { 0 };
        char buf[REFERENCE_STRING_MAX];
        int r = reference_parse_with_default_tag(in, &ref, &err);
        if (r < 0)
                fail_msg("%s: %s", in, err.msg);
        reference_string(&ref, buf);
        assert_string_equal(buf, full);
        reference_familiar_string(&ref, buf);
        assert_string_equal(buf, familiar);
}

static void assert_invalid(const char *in, const char *msg) {
        struct reference ref;
        struct berr err = { 0 };
        int r = reference_parse_normalized(in, &ref, &err);
        if (r >= 0)
                fail_msg("%s: accepted", in);
        assert_int_equal(err.kind, BERR_INVALID);
        assert_string_equal(err.msg, msg);
}

static void test_reference_normalizes_official_image(void **state) {
        assert_normalizes("busybox", "docker.io/library/busybox:latest", "busybox:latest");
        assert_normalizes("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36");
        assert_normalizes("library/busybox", "docker.io/library/busybox:latest", "busybox:latest");
        assert_normalizes("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest");
        assert_normalizes("index.docker.io/library/busybox", "docker.io/library/busybox:latest",
                          "busybox:latest");
}

static void test_reference_normalizes_user_repo(void **state) {
        assert_normalizes("foo/bar", "docker.io/foo/bar:latest", "foo/bar:latest");
        assert_normalizes("docker.io/foo/bar:v1", "docker.io/foo/bar:v1", "foo/bar:v1");
        assert_normalizes("foo/bar/baz", "docker.io/foo/bar/baz:latest", "foo/bar/baz:latest");
        /* library/ is stripped only for a two-component name */
        assert_normalizes("library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest");
}

static void test_reference_keeps_registry_host_and_port(void **state) {
        assert_normalizes("host:5000/a/b:tag", "host:5000/a/b:tag", "host:5000/a/b:tag");
        assert_normalizes("127.0.0.1:5000/busybox", "127.0.0.1:5000/busybox:latest",
                          "127.0.0.1:5000/busybox:latest");
        assert_normalizes("localhost/foo", "localhost/foo:latest", "localhost/foo:latest");
        assert_normalizes("quay.io/a-b/c_d.e__f---g", "quay.io/a-b/c_d.e__f---g:latest",
                          "quay.io/a-b/c_d.e__f---g:latest");
        assert_normalizes("[::1]:5000/x", "[::1]:5000/x:latest", "[::1]:5000/x:latest");
        /* An uppercase first component is a domain, as in Docker. */
        assert_normalizes("Foo/bar", "Foo/bar:latest", "Foo/bar:latest");
}

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_reference_digest_and_tag_digest(void **state) {
        assert_normalizes("busybox@sha256:" HEX64, "docker.io/library/busybox@sha256:" HEX64,
                          "busybox@sha256:" HEX64);
        assert_normalizes("busybox:1@sha256:" HEX64, "docker.io/library/busybox:1@sha256:" HEX64,
                          "busybox:1@sha256:" HEX64);
        struct reference ref;
        assert_int_equal(reference_parse_normalized("h:1/x@sha256:" HEX64, &ref, NULL), 0);
        assert_string_equal(ref.domain, "h:1");
        assert_string_equal(ref.path, "x");
        assert_string_equal(ref.tag, "");
        assert_string_equal(ref.digest, "sha256:" HEX64);
}

static void test_reference_no_default_tag_without_asking(void **state) {
        struct reference ref;
        char buf[REFERENCE_STRING_MAX];
        assert_int_equal(reference_parse_normalized("busybox", &ref, NULL), 0);
        reference_string(&ref, buf);
        assert_string_equal(buf, "docker.io/library/busybox");
        reference_familiar_name(&ref, buf);
        assert_string_equal(buf, "busybox");
        reference_name(&ref, buf);
        assert_string_equal(buf, "docker.io/library/busybox");
}

static void test_reference_rejects_uppercase_repository(void **state) {
        assert_invalid("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase");
        assert_invalid("foo/Bar:tag", "invalid reference format: repository name (foo/Bar) must be lowercase");
        assert_invalid("host:5000/Ab", "invalid reference format: repository name (Ab) must be lowercase");
}

static void test_reference_rejects_bad_format(void **state) {
        const char *bad[] = {
                "", ":tag", "busybox:", "busybox@", "a//b", "a/", "/a", "-a", "a-", "a..b", "a___b",
                "busybox:-tag", "busybox:t@g", "busybox@sha256:abc", "host:port/x", "a b",
                "busybox:" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "ho-.st/x", "[zz]/x",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_invalid(bad[i], "invalid reference format");
}

static void test_reference_rejects_bad_digest(void **state) {
        assert_invalid("busybox@sha256:0123456789abcdef0123456789abcdef01", "invalid checksum digest length");
        assert_invalid("busybox@sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
                       "invalid checksum digest format");
        assert_invalid("busybox@md5:0123456789abcdef0123456789abcdef", "unsupported digest algorithm");
        assert_int_equal(reference_digest_validate("sha256:" HEX64, NULL), 0);
        assert_true(reference_digest_validate("sha256", NULL) < 0);
}

static void test_reference_rejects_id_and_long_name(void **state) {
        assert_invalid(HEX64, "invalid repository name (" HEX64 "), cannot specify 64-byte hexadecimal strings");
        char name[300];
        memset(name, 'a', 260);
        name[260] = '\0';
        assert_invalid(name, "invalid reference format: repository name must not be more than 255 characters");
        assert_true(reference_is_full_id(HEX64));
        assert_false(reference_is_full_id("abc"));
}

static void test_reference_tag_validation(void **state) {
        assert_true(reference_tag_is_valid("latest"));
        assert_true(reference_tag_is_valid("V1.2-rc_3"));
        assert_true(reference_tag_is_valid("_x"));
        assert_false(reference_tag_is_valid(""));
        assert_false(reference_tag_is_valid(".x"));
        assert_false(reference_tag_is_valid("a/b"));
        assert_false(reference_tag_is_valid(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reference_normalizes_official_image),
                cmocka_unit_test(test_reference_normalizes_user_repo),
                cmocka_unit_test(test_reference_keeps_registry_host_and_port),
                cmocka_unit_test(test_reference_digest_and_tag_digest),
                cmocka_unit_test(test_reference_no_default_tag_without_asking),
                cmocka_unit_test(test_reference_rejects_uppercase_repository),
                cmocka_unit_test(test_reference_rejects_bad_format),
                cmocka_unit_test(test_reference_rejects_bad_digest),
                cmocka_unit_test(test_reference_rejects_id_and_long_name),
                cmocka_unit_test(test_reference_tag_validation),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
