/* websocket.h - the pieces of RFC 6455 the websocket attach needs: the handshake's accept
 * key, frame headers out, and frames in (masked by the client), bounded. Pure functions. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
        WS_OP_CONT = 0x0,
        WS_OP_TEXT = 0x1,
        WS_OP_BINARY = 0x2,
        WS_OP_CLOSE = 0x8,
        WS_OP_PING = 0x9,
        WS_OP_PONG = 0xA,
};

#define WS_MAX_PAYLOAD (1u << 20) /* a larger frame from a client is refused */

/* Sec-WebSocket-Accept for the client's Sec-WebSocket-Key: base64(SHA-1(key + GUID)). */
void ws_accept_key(const char *key, char out[29]);
/* A valid Sec-WebSocket-Key: base64 of 16 bytes. */
bool ws_key_valid(const char *key);

/* The header of an unmasked final frame of @op carrying @len bytes; returns its size. */
size_t ws_frame_header(uint8_t op, uint64_t len, uint8_t hdr[10]);

struct ws_frame {
        uint8_t op;
        bool fin;
        uint8_t *payload; /* inside the buffer given to ws_parse, unmasked in place */
        size_t len;
};

/* One frame from the start of @buf[0..n): 1 and *consumed when it is whole (its payload
 * unmasked in place), 0 when more bytes are needed, -EMSGSIZE past WS_MAX_PAYLOAD,
 * -EPROTO for reserved bits. */
int ws_parse(uint8_t *buf, size_t n, size_t *consumed, struct ws_frame *f);
