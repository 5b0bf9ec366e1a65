/* fuzz_websocket.c - what a websocket attach client sends: frames parsed one after another
 * from one buffer, as the relay does; every frame must lie inside the buffer; and the
 * handshake key check and accept key on the same bytes. */
#include <stdio.h>

#include "api/websocket.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t *buf = malloc(size ? size : 1);
        if (!buf)
                abort();
        memcpy(buf, data, size);
        size_t off = 0;
        for (;;) {
                size_t used = 0;
                struct ws_frame f;
                int r = ws_parse(buf + off, size - off, &used, &f);
                if (r <= 0)
                        break;
                if (used == 0 || used > size - off || f.len > WS_MAX_PAYLOAD ||
                    (f.len && (f.payload < buf + off || f.payload + f.len > buf + off + used))) {
                        fprintf(stderr, "frame outside its bytes: used %zu of %zu, len %zu\n", used, size - off, f.len);
                        abort();
                }
                off += used;
        }
        char *key = fuzz_strdup(data, size < 64 ? size : 64);
        if (ws_key_valid(key)) {
                char out[29];
                ws_accept_key(key, out);
        }
        free(key);
        uint8_t hdr[10];
        uint64_t len = 0;
        memcpy(&len, data, size < 8 ? size : 8);
        if (ws_frame_header(size ? data[0] & 0xf : 1, len, hdr) > 10)
                abort();
        free(buf);
        return 0;
}
