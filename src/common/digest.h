/* digest.h - sha256 digests (nettle), streaming and one-shot, as "sha256:<hex>" strings. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct berr;

#define DIGEST_HEX_LEN 64
/* "sha256:" + 64 hex + NUL */
#define DIGEST_STRING_MAX (7 + DIGEST_HEX_LEN + 1)

struct digest_ctx; /* opaque streaming sha256 state */

int digest_ctx_new(struct digest_ctx **ret, struct berr *err);
void digest_ctx_update(struct digest_ctx *d, const void *data, size_t len);
/* Write "sha256:<hex>" into @out. The context may not be updated afterwards. */
void digest_ctx_final(struct digest_ctx *d, char out[DIGEST_STRING_MAX]);
struct digest_ctx *digest_ctx_free(struct digest_ctx *d);

/* One shot over a buffer: "sha256:<hex>". */
int digest_sha256_buf(const void *data, size_t len, char out[DIGEST_STRING_MAX], struct berr *err);

/* One shot, the 32 raw bytes. */
void digest_sha256_raw(const void *data, size_t len, unsigned char out[32]);

/* True for "sha256:" followed by exactly 64 lowercase hex digits. */
bool digest_is_sha256(const char *s);

/* The hex part of "sha256:<hex>" (the string itself if it has no "sha256:" prefix). */
const char *digest_hex(const char *digest);

static inline void digest_ctx_freep(struct digest_ctx **d) {
        digest_ctx_free(*d);
}
