/* digest.c - sha256 through OpenSSL's EVP interface. */
#include "digest.h"

#include <openssl/evp.h>
#include <string.h>

#include "err.h"
#include "id.h"

struct digest_ctx {
        EVP_MD_CTX *md;
};

int digest_ctx_new(struct digest_ctx **ret, struct berr *err) {
        struct digest_ctx *d = calloc(1, sizeof(*d));
        if (!d)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "sha256: out of memory");
        d->md = EVP_MD_CTX_new();
        if (!d->md || EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) != 1) {
                digest_ctx_free(d);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "sha256: cannot initialise digest");
        }
        *ret = d;
        return 0;
}

void digest_ctx_update(struct digest_ctx *d, const void *data, size_t len) {
        /* EVP_DigestUpdate on an initialised sha256 context only fails on a NULL context. */
        (void) EVP_DigestUpdate(d->md, data, len);
}

void digest_ctx_final(struct digest_ctx *d, char out[DIGEST_STRING_MAX]) {
        static const char hex[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        (void) EVP_DigestFinal_ex(d->md, md, &n);
        memcpy(out, "sha256:", 7);
        for (unsigned int i = 0; i < n && i < DIGEST_HEX_LEN / 2; i++) {
                out[7 + 2 * i] = hex[md[i] >> 4];
                out[7 + 2 * i + 1] = hex[md[i] & 15];
        }
        out[7 + DIGEST_HEX_LEN] = '\0';
}

struct digest_ctx *digest_ctx_free(struct digest_ctx *d) {
        if (!d)
                return NULL;
        EVP_MD_CTX_free(d->md);
        free(d);
        return NULL;
}

int digest_sha256_buf(const void *data, size_t len, char out[DIGEST_STRING_MAX], struct berr *err) {
        struct digest_ctx *d = NULL;
        int r = digest_ctx_new(&d, err);
        if (r < 0)
                return r;
        digest_ctx_update(d, data, len);
        digest_ctx_final(d, out);
        digest_ctx_free(d);
        return 0;
}

bool digest_is_sha256(const char *s) {
        return s && strncmp(s, "sha256:", 7) == 0 && id_is_full_hex(s + 7);
}

const char *digest_hex(const char *digest) {
        return strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest;
}
