/* id.c - random identifiers from getrandom(2). */
#include "id.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "err.h"

static int fill_random(void *buf, size_t len, struct berr *err) {
        size_t got = 0;
        while (got < len) {
                ssize_t n = getrandom((char *) buf + got, len - got, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return berr_sys(err, BERR_INTERNAL, "getrandom");
                }
                got += (size_t) n;
        }
        return 0;
}

int id_random_hex(char out[ID_HEX_LEN + 1], struct berr *err) {
        static const char hex[] = "0123456789abcdef";
        for (;;) {
                unsigned char raw[ID_HEX_LEN / 2];
                int r = fill_random(raw, sizeof(raw), err);
                if (r < 0)
                        return r;
                int has_letter = 0;
                for (size_t i = 0; i < sizeof(raw); i++) {
                        out[2 * i] = hex[raw[i] >> 4];
                        out[2 * i + 1] = hex[raw[i] & 15];
                }
                out[ID_HEX_LEN] = '\0';
                for (size_t i = 0; i < ID_HEX_LEN; i++)
                        if (out[i] >= 'a')
                                has_letter = 1;
                if (has_letter)
                        return 0;
        }
}

int id_random_uuid(char out[37], struct berr *err) {
        unsigned char b[16];
        int r = fill_random(b, sizeof(b), err);
        if (r < 0)
                return r;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                 b[14], b[15]);
        return 0;
}

int id_is_full_hex(const char *s) {
        size_t n = 0;
        for (; s[n]; n++)
                if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
                        return 0;
        return n == ID_HEX_LEN;
}
