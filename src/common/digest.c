/* digest.c - sha256 through nettle (already loaded by gnutls, which libmicrohttpd needs).
 * OpenSSL's EVP was used before: its first sha256 initialises the default provider and
 * faults in ~2 MB of libcrypto, resident in berthd for good (bench/README.md). */
#include "digest.h"

#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "id.h"

struct digest_ctx {
        struct sha256_ctx sha;
};

int digest_ctx_new(struct digest_ctx **ret, struct berr *err) {
        struct digest_ctx *d = calloc(1, sizeof(*d));
        if (!d)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "sha256: out of memory");
        sha256_init(&d->sha);
        *ret = d;
        return 0;
}

void digest_ctx_update(struct digest_ctx *d, const void *data, size_t len) {
        sha256_update(&d->sha, len, data);
}

static void hex_out(const uint8_t md[SHA256_DIGEST_SIZE], char out[DIGEST_STRING_MAX]) {
        static const char hex[] = "0123456789abcdef";
        memcpy(out, "sha256:", 7);
        for (unsigned int i = 0; i < SHA256_DIGEST_SIZE; i++) {
                out[7 + 2 * i] = hex[md[i] >> 4];
                out[7 + 2 * i + 1] = hex[md[i] & 15];
        }
        out[7 + DIGEST_HEX_LEN] = '\0';
}

void digest_ctx_final(struct digest_ctx *d, char out[DIGEST_STRING_MAX]) {
        uint8_t md[SHA256_DIGEST_SIZE];
        sha256_digest(&d->sha, sizeof(md), md);
        hex_out(md, out);
}

struct digest_ctx *digest_ctx_free(struct digest_ctx *d) {
        free(d);
        return NULL;
}

int digest_sha256_buf(const void *data, size_t len, char out[DIGEST_STRING_MAX], struct berr *err) {
        struct sha256_ctx sha;
        uint8_t md[SHA256_DIGEST_SIZE];
        sha256_init(&sha);
        sha256_update(&sha, len, data);
        sha256_digest(&sha, sizeof(md), md);
        hex_out(md, out);
        return 0;
}

void digest_sha256_raw(const void *data, size_t len, unsigned char out[32]) {
        struct sha256_ctx sha;
        sha256_init(&sha);
        sha256_update(&sha, len, data);
        sha256_digest(&sha, SHA256_DIGEST_SIZE, out);
}

bool digest_is_sha256(const char *s) {
        return s && strncmp(s, "sha256:", 7) == 0 && id_is_full_hex(s + 7);
}

const char *digest_hex(const char *digest) {
        return strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest;
}
