/* hash.h - a fast non-cryptographic 128-bit hash for cache keys (not for content
 * addressing: image digests use common/digest.h). Kept out of OpenSSL on purpose: linking
 * libcrypto into berth-shim for one cache key cost ~1.4 MB of RSS per container. */
#pragma once

#include <stddef.h>

/* 32 lowercase hex digits of two independent 64-bit hashes of @data. */
void hash128_hex(const void *data, size_t len, char out[33]);
