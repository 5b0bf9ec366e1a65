/* Unit tests for common/digest.c (sha256 through nettle): FIPS 180-2's examples, one shot
 * and streamed in uneven pieces, and the raw form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/digest.h"
#include "common/err.h"

#define ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define TWO_BLOCKS "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define TWO_BLOCKS_IN "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
#define MILLION_A "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static void test_one_shot_fips_vectors(void **s) {
        struct berr err = { 0 };
        char out[DIGEST_STRING_MAX];
        assert_int_equal(digest_sha256_buf("abc", 3, out, &err), 0);
        assert_string_equal(out, ABC);
        assert_int_equal(digest_sha256_buf("", 0, out, &err), 0);
        assert_string_equal(out, EMPTY);
        assert_int_equal(digest_sha256_buf(TWO_BLOCKS_IN, strlen(TWO_BLOCKS_IN), out, &err), 0);
        assert_string_equal(out, TWO_BLOCKS);
        assert_true(digest_is_sha256(out));
        assert_string_equal(digest_hex(out), TWO_BLOCKS + 7);
}

static void test_streamed_in_pieces_is_the_same(void **s) {
        struct berr err = { 0 };
        struct digest_ctx *d = NULL;
        assert_int_equal(digest_ctx_new(&d, &err), 0);
        /* a million 'a' in pieces of 1, 63, 64, 65, ... bytes: every block boundary case */
        char *a = malloc(1100); /* steps go up to 1,059 */
        assert_non_null(a);
        memset(a, 'a', 1100);
        size_t left = 1000000, step = 1;
        while (left) {
                size_t n = step < left ? step : left;
                digest_ctx_update(d, a, n);
                left -= n;
                step = step % 997 + 63;
        }
        char out[DIGEST_STRING_MAX];
        digest_ctx_final(d, out);
        assert_null(digest_ctx_free(d));
        free(a);
        assert_string_equal(out, MILLION_A);
}

static void test_raw_is_the_hex_digest(void **s) {
        unsigned char raw[32];
        digest_sha256_raw("abc", 3, raw);
        char hex[65];
        for (int i = 0; i < 32; i++)
                sprintf(hex + 2 * i, "%02x", raw[i]);
        assert_string_equal(hex, ABC + 7);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_shot_fips_vectors),
                cmocka_unit_test(test_streamed_in_pieces_is_the_same),
                cmocka_unit_test(test_raw_is_the_hex_digest),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
