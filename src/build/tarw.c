/* tarw.c - a small ustar writer (with pax records for long names and big sizes) for the
 * layers build steps make, hashing what the build cache compares as it goes. Written by
 * hand like container_archive.c's: libarchive's writer is not part of image/'s public
 * face, and these layers need only files, directories and symlinks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/build_int.h"
#include "common/err.h"
#include "common/fs.h"

static void out(struct tarw *t, const void *p, size_t n) {
        if (t->fd >= 0 && !t->failed && fs_write_all(t->fd, p, n) < 0)
                t->failed = true;
}

static void octal(char *field, size_t width, unsigned long long v) {
        field[width - 1] = '\0';
        for (size_t i = width - 1; i-- > 0; v >>= 3)
                field[i] = (char) ('0' + (v & 7));
}

static void checksum(unsigned char *h) {
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (int i = 0; i < 512; i++)
                sum += h[i];
        snprintf((char *) h + 148, 8, "%06o", sum);
        h[155] = ' ';
}

void tarw_pad(struct tarw *t, uint64_t size) {
        static const char zero[512];
        if (size % 512)
                out(t, zero, 512 - size % 512);
}

static bool pax_add(char **recs, size_t *len, const char *key, const char *value) {
        size_t body = strlen(key) + strlen(value) + 3;
        size_t n = body + 1;
        for (;;) {
                char d[24];
                size_t total = body + (size_t) snprintf(d, sizeof(d), "%zu", n);
                if (total == n)
                        break;
                n = total;
        }
        char *grown = realloc(*recs, *len + n + 1);
        if (!grown)
                return false;
        *recs = grown;
        snprintf(*recs + *len, n + 1, "%zu %s=%s\n", n, key, value);
        *len += n;
        return true;
}

int tarw_init(struct tarw *t, int fd, struct berr *err) {
        memset(t, 0, sizeof(*t));
        t->fd = fd;
        return digest_ctx_new(&t->hash, err);
}

void tarw_done(struct tarw *t, char ret_sum[DIGEST_STRING_MAX]) {
        static const char zero[1024];
        out(t, zero, sizeof(zero));
        if (t->hash)
                digest_ctx_final(t->hash, ret_sum);
        t->hash = digest_ctx_free(t->hash);
}

void tarw_header(struct tarw *t, const char *name, mode_t perm, uid_t uid, gid_t gid, char type, const char *link,
                 uint64_t size, int64_t mtime) {
        char key[64];
        int kn = snprintf(key, sizeof(key), "%c %o %u %u %llu ", type, (unsigned) (perm & 07777), (unsigned) uid,
                          (unsigned) gid, (unsigned long long) size);
        digest_ctx_update(t->hash, key, (size_t) kn);
        digest_ctx_update(t->hash, name, strlen(name) + 1);
        if (link)
                digest_ctx_update(t->hash, link, strlen(link) + 1);
        t->entries++;
        if (t->fd < 0)
                return;
        bool long_name = strlen(name) > 99, long_link = link && strlen(link) > 99, big = size > 077777777777ULL;
        bool big_ids = uid > 07777777 || gid > 07777777;
        unsigned long long mt = mtime > 0 && mtime < 077777777777LL ? (unsigned long long) mtime : 0;
        if (long_name || long_link || big || big_ids) {
                char *recs = NULL;
                size_t n = 0;
                char num[32];
                bool ok = true;
                if (long_name)
                        ok = ok && pax_add(&recs, &n, "path", name);
                if (long_link)
                        ok = ok && pax_add(&recs, &n, "linkpath", link);
                if (big) {
                        snprintf(num, sizeof(num), "%llu", (unsigned long long) size);
                        ok = ok && pax_add(&recs, &n, "size", num);
                }
                if (big_ids) {
                        snprintf(num, sizeof(num), "%u", (unsigned) uid);
                        ok = ok && pax_add(&recs, &n, "uid", num);
                        snprintf(num, sizeof(num), "%u", (unsigned) gid);
                        ok = ok && pax_add(&recs, &n, "gid", num);
                }
                if (!ok) {
                        free(recs);
                        t->failed = true;
                        return;
                }
                unsigned char ph[512] = { 0 };
                snprintf((char *) ph, 100, "PaxHeaders/%.80s", name);
                octal((char *) ph + 100, 8, 0644);
                octal((char *) ph + 108, 8, 0);
                octal((char *) ph + 116, 8, 0);
                octal((char *) ph + 124, 12, n);
                octal((char *) ph + 136, 12, mt);
                ph[156] = 'x';
                memcpy(ph + 257, "ustar\0" "00", 8);
                checksum(ph);
                out(t, ph, 512);
                out(t, recs, n);
                tarw_pad(t, n);
                free(recs);
        }
        unsigned char h[512] = { 0 };
        snprintf((char *) h, 100, "%.99s", name);
        octal((char *) h + 100, 8, perm & 07777);
        octal((char *) h + 108, 8, big_ids ? 0 : uid);
        octal((char *) h + 116, 8, big_ids ? 0 : gid);
        octal((char *) h + 124, 12, big ? 0 : size);
        octal((char *) h + 136, 12, mt);
        h[156] = (unsigned char) type;
        if (link)
                snprintf((char *) h + 157, 100, "%.99s", link);
        memcpy(h + 257, "ustar\0" "00", 8);
        checksum(h);
        out(t, h, 512);
}

void tarw_data(struct tarw *t, const void *p, size_t n) {
        digest_ctx_update(t->hash, p, n);
        out(t, p, n);
}
