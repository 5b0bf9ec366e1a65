/* Unit tests for api/websocket.c: RFC 6455's handshake example, frame headers, parsing of
 * masked client frames, bounds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "api/websocket.h"

static void test_accept_key_is_rfc6455s_example(void **s) {
        char out[29];
        ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
        assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_true(ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=="));
        assert_false(ws_key_valid("short=="));
        assert_false(ws_key_valid(NULL));
        assert_false(ws_key_valid("dGhlIHNhbXBsZSBub25jZQ!="));
}

static void test_frame_header_lengths(void **s) {
        uint8_t h[10];
        assert_int_equal(ws_frame_header(WS_OP_BINARY, 5, h), 2);
        assert_int_equal(h[0], 0x82);
        assert_int_equal(h[1], 5);
        assert_int_equal(ws_frame_header(WS_OP_TEXT, 300, h), 4);
        assert_int_equal(h[0], 0x81);
        assert_int_equal(h[1], 126);
        assert_int_equal((h[2] << 8) | h[3], 300);
        assert_int_equal(ws_frame_header(WS_OP_BINARY, 70000, h), 10);
        assert_int_equal(h[1], 127);
        assert_int_equal(h[7], 0x01);
        assert_int_equal(h[8], 0x11);
        assert_int_equal(h[9], 0x70);
}

static void test_parse_masked_frame_in_pieces(void **s) {
        /* RFC 6455 5.7: a masked text "Hello" */
        uint8_t f[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58, 0x01 };
        struct ws_frame fr;
        size_t used = 0;
        for (size_t n = 0; n < 11; n++)
                assert_int_equal(ws_parse(f, n, &used, &fr), 0);
        assert_int_equal(ws_parse(f, sizeof(f), &used, &fr), 1);
        assert_int_equal(used, 11);
        assert_int_equal(fr.op, WS_OP_TEXT);
        assert_true(fr.fin);
        assert_int_equal(fr.len, 5);
        assert_memory_equal(fr.payload, "Hello", 5);
}

static void test_parse_refuses_reserved_bits_and_huge_frames(void **s) {
        uint8_t rsv[] = { 0xc1, 0x00 };
        struct ws_frame fr;
        size_t used;
        assert_int_equal(ws_parse(rsv, sizeof(rsv), &used, &fr), -EPROTO);
        uint8_t big[] = { 0x82, 0x7f, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff };
        assert_int_equal(ws_parse(big, sizeof(big), &used, &fr), -EMSGSIZE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_accept_key_is_rfc6455s_example),
                cmocka_unit_test(test_frame_header_lengths),
                cmocka_unit_test(test_parse_masked_frame_in_pieces),
                cmocka_unit_test(test_parse_refuses_reserved_bits_and_huge_frames),
        };
        return cmocka_run_group_tests_name("websocket", tests, NULL, NULL);
}
