/* websocket.c - RFC 6455 framing and handshake for the websocket attach. */
#include "websocket.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void ws_accept_key(const char *key, char out[29]) {
        char buf[128];
        int n = snprintf(buf, sizeof(buf), "%s%s", key, ws_guid);
        unsigned char sha[SHA_DIGEST_LENGTH];
        SHA1((const unsigned char *) buf, n > 0 && (size_t) n < sizeof(buf) ? (size_t) n : 0, sha);
        EVP_EncodeBlock((unsigned char *) out, sha, SHA_DIGEST_LENGTH); /* 28 characters and a NUL */
}

bool ws_key_valid(const char *key) {
        if (!key || strlen(key) != 24 || strcmp(key + 22, "==") != 0)
                return false;
        for (size_t i = 0; i < 22; i++) {
                char c = key[i];
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
                        return false;
        }
        return true;
}

size_t ws_frame_header(uint8_t op, uint64_t len, uint8_t hdr[10]) {
        hdr[0] = (uint8_t) (0x80 | (op & 0x0f));
        if (len < 126) {
                hdr[1] = (uint8_t) len;
                return 2;
        }
        if (len <= 0xffff) {
                hdr[1] = 126;
                hdr[2] = (uint8_t) (len >> 8);
                hdr[3] = (uint8_t) len;
                return 4;
        }
        hdr[1] = 127;
        for (int i = 0; i < 8; i++)
                hdr[2 + i] = (uint8_t) (len >> (56 - 8 * i));
        return 10;
}

int ws_parse(uint8_t *buf, size_t n, size_t *consumed, struct ws_frame *f) {
        if (n < 2)
                return 0;
        if (buf[0] & 0x70)
                return -EPROTO;
        bool masked = buf[1] & 0x80;
        uint64_t len = buf[1] & 0x7f;
        size_t off = 2;
        if (len == 126) {
                if (n < 4)
                        return 0;
                len = ((uint64_t) buf[2] << 8) | buf[3];
                off = 4;
        } else if (len == 127) {
                if (n < 10)
                        return 0;
                len = 0;
                for (int i = 0; i < 8; i++)
                        len = (len << 8) | buf[2 + i];
                off = 10;
        }
        if (len > WS_MAX_PAYLOAD)
                return -EMSGSIZE;
        uint8_t mask[4] = { 0 };
        if (masked) {
                if (n < off + 4)
                        return 0;
                memcpy(mask, buf + off, 4);
                off += 4;
        }
        if (n - off < len)
                return 0;
        f->fin = buf[0] & 0x80;
        f->op = buf[0] & 0x0f;
        f->payload = buf + off;
        f->len = (size_t) len;
        if (masked)
                for (size_t i = 0; i < f->len; i++)
                        f->payload[i] ^= mask[i & 3];
        *consumed = off + (size_t) len;
        return 1;
}
