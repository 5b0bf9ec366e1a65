/* hash.c - FNV-1a 64 and a multiply/xorshift mix, side by side, as one 128-bit key. */
#include "hash.h"

#include <stdint.h>
#include <stdio.h>

static uint64_t mix64(uint64_t x) {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53ULL;
        x ^= x >> 33;
        return x;
}

void hash128_hex(const void *data, size_t len, char out[33]) {
        const unsigned char *p = data;
        uint64_t a = 0xcbf29ce484222325ULL, b = 0x9e3779b97f4a7c15ULL ^ len;
        for (size_t i = 0; i < len; i++) {
                a = (a ^ p[i]) * 0x100000001b3ULL;
                b = mix64(b + p[i] + i);
        }
        snprintf(out, 33, "%016llx%016llx", (unsigned long long) mix64(a), (unsigned long long) b);
}
