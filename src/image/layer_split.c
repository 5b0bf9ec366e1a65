/* layer_split.c - record and reassemble layer tars (see layer_split.h).
 *
 * The record is a small binary file:
 *   "BERTHSPLIT1\n", then records, then 'E' + u64 length of the whole stream.
 *   'R' u32 n, n bytes   raw bytes of the stream (headers, PAX records, odd padding)
 *   'Z' u32 n            n zero bytes (padding, end-of-archive blocks)
 *   'F' u64 n, u16 len, name   n bytes: the contents of the regular file @name in the layer
 * Integers are little-endian. The writer follows the tar structure with its own small
 * block parser, independently of the extractor: where it cannot be sure a file's bytes
 * can be read back unchanged (sparse files, whiteouts, names it cannot follow) it keeps
 * them raw, and the reader's diff ID check catches anything else (a path written twice in
 * one layer), as Docker's tar-split does. */
#include "layer_split.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/err.h"

#define SPLIT_MAGIC "BERTHSPLIT1\n"
#define SPLIT_MAGIC_LEN 12
#define SPLIT_TRAILER_LEN 9
#define OUT_BUF 65536
#define META_MAX (1u << 20) /* PAX / GNU long-name payloads parsed at most this big */
#define BLOCK 512

enum split_state {
        ST_HEADER,
        ST_FILE,    /* a regular file's contents: referenced, not recorded */
        ST_RAW,     /* any other payload: recorded */
        ST_PAD,
        ST_TRAILER, /* after the end-of-archive block: all recorded */
};

struct layer_split_writer {
        int fd;
        int error; /* first errno */
        uint64_t total;
        unsigned char out[OUT_BUF];
        size_t out_len;

        enum split_state st;
        unsigned char hdr[BLOCK];
        size_t hdr_len;
        uint64_t size, left, pad;

        char meta_type; /* 'x' or 'L' while its payload is kept */
        char *meta;
        size_t meta_len;
        bool meta_overflow;

        /* From PAX and GNU records, for the next entry. */
        char *pax_name, *gnu_name;
        int64_t pax_size; /* -1: none */
        bool next_raw;
};

static void put_le(unsigned char *p, uint64_t v, int n) {
        for (int i = 0; i < n; i++)
                p[i] = (unsigned char) (v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n) {
        uint64_t v = 0;
        for (int i = n - 1; i >= 0; i--)
                v = (v << 8) | p[i];
        return v;
}

static void flush_out(struct layer_split_writer *w) {
        for (size_t off = 0; off < w->out_len && !w->error;) {
                ssize_t n = write(w->fd, w->out + off, w->out_len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        w->error = errno;
                else
                        off += (size_t) n;
        }
        w->out_len = 0;
}

static void out_put(struct layer_split_writer *w, const void *data, size_t len) {
        const unsigned char *p = data;
        while (len > 0 && !w->error) {
                if (w->out_len == OUT_BUF)
                        flush_out(w);
                size_t n = OUT_BUF - w->out_len;
                if (n > len)
                        n = len;
                memcpy(w->out + w->out_len, p, n);
                w->out_len += n;
                p += n;
                len -= n;
        }
}

static void emit_raw(struct layer_split_writer *w, const void *data, size_t len) {
        while (len > 0) {
                size_t n = len > UINT32_MAX ? UINT32_MAX : len;
                unsigned char h[5] = { 'R' };
                put_le(h + 1, n, 4);
                out_put(w, h, sizeof(h));
                out_put(w, data, n);
                data = (const char *) data + n;
                len -= n;
        }
}

static void emit_zeros(struct layer_split_writer *w, size_t n) {
        unsigned char h[5] = { 'Z' };
        put_le(h + 1, n, 4);
        out_put(w, h, sizeof(h));
}

static bool all_zero(const unsigned char *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

static void emit_maybe_zeros(struct layer_split_writer *w, const unsigned char *p, size_t n) {
        if (all_zero(p, n))
                emit_zeros(w, n);
        else
                emit_raw(w, p, n);
}

static void emit_file(struct layer_split_writer *w, uint64_t size, const char *name) {
        size_t len = strlen(name);
        unsigned char h[11] = { 'F' };
        put_le(h + 1, size, 8);
        put_le(h + 9, len, 2);
        out_put(w, h, sizeof(h));
        out_put(w, name, len);
}

int layer_split_writer_new(int fd, struct layer_split_writer **ret, struct berr *err) {
        struct layer_split_writer *w = calloc(1, sizeof(*w));
        if (!w)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        w->fd = fd;
        w->pax_size = -1;
        out_put(w, SPLIT_MAGIC, SPLIT_MAGIC_LEN);
        *ret = w;
        return 0;
}

struct layer_split_writer *layer_split_writer_free(struct layer_split_writer *w) {
        if (!w)
                return NULL;
        free(w->meta);
        free(w->pax_name);
        free(w->gnu_name);
        free(w);
        return NULL;
}

/* Tar numeric field: octal text, or base-256 when the high bit of the first byte is set. */
static bool parse_number(const unsigned char *f, size_t n, uint64_t *ret) {
        uint64_t v = 0;
        if (f[0] & 0x80) {
                if (f[0] & 0x40)
                        return false; /* negative */
                v = f[0] & 0x3f;
                for (size_t i = 1; i < n; i++) {
                        if (v >> 55)
                                return false;
                        v = (v << 8) | f[i];
                }
                *ret = v;
                return true;
        }
        size_t i = 0;
        while (i < n && (f[i] == ' ' || f[i] == '\0'))
                i++;
        for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
                if (v >> 60)
                        return false;
                v = (v << 3) | (uint64_t) (f[i] - '0');
        }
        *ret = v;
        return true;
}

static void clear_next(struct layer_split_writer *w) {
        free(w->pax_name);
        free(w->gnu_name);
        w->pax_name = w->gnu_name = NULL;
        w->pax_size = -1;
        w->next_raw = false;
}

/* PAX extended header records: "<len> <key>=<value>\n". */
static void parse_pax(struct layer_split_writer *w) {
        if (!w->meta)
                return; /* an empty header: no records (and NULL + 0 is undefined) */
        const char *p = w->meta, *end = w->meta + w->meta_len;
        while (p < end) {
                char *sp;
                unsigned long len = strtoul(p, &sp, 10);
                if (sp == p || *sp != ' ' || len == 0 || len > (size_t) (end - p)) {
                        w->next_raw = true; /* unparsable: keep the next payload as it is */
                        return;
                }
                const char *rec_end = p + len;
                const char *key = sp + 1;
                const char *eq = memchr(key, '=', (size_t) (rec_end - key));
                if (eq && rec_end[-1] == '\n') {
                        size_t klen = (size_t) (eq - key), vlen = (size_t) (rec_end - 1 - (eq + 1));
                        if (klen == 4 && memcmp(key, "path", 4) == 0) {
                                free(w->pax_name);
                                w->pax_name = strndup(eq + 1, vlen);
                                if (!w->pax_name || strlen(w->pax_name) != vlen)
                                        w->next_raw = true;
                        } else if (klen == 4 && memcmp(key, "size", 4) == 0) {
                                char num[32];
                                uint64_t v = 0;
                                if (vlen >= sizeof(num)) {
                                        w->next_raw = true;
                                } else {
                                        memcpy(num, eq + 1, vlen);
                                        num[vlen] = '\0';
                                        char *e;
                                        v = strtoull(num, &e, 10);
                                        if (*e)
                                                w->next_raw = true;
                                        else
                                                w->pax_size = (int64_t) v;
                                }
                        } else if (klen > 11 && memcmp(key, "GNU.sparse.", 11) == 0) {
                                w->next_raw = true;
                        }
                }
                p = rec_end;
        }
}

static void finish_meta(struct layer_split_writer *w) {
        if (w->meta_overflow) {
                w->next_raw = true;
        } else if (w->meta_type == 'x') {
                parse_pax(w);
        } else if (w->meta_type == 'L') {
                free(w->gnu_name);
                w->gnu_name = strndup(w->meta ? w->meta : "", w->meta_len);
                if (!w->gnu_name)
                        w->next_raw = true;
        }
        w->meta_type = 0;
        w->meta_len = 0;
        w->meta_overflow = false;
}

static void keep_meta(struct layer_split_writer *w, const unsigned char *p, size_t n) {
        if (w->meta_overflow)
                return;
        if (w->meta_len + n > META_MAX) {
                w->meta_overflow = true;
                return;
        }
        char *m = realloc(w->meta, w->meta_len + n + 1);
        if (!m) {
                w->meta_overflow = true;
                return;
        }
        w->meta = m;
        memcpy(w->meta + w->meta_len, p, n);
        w->meta_len += n;
        w->meta[w->meta_len] = '\0'; /* parse_pax's strtoul stops here at the latest */
}

/* The ustar name of a header: prefix/name for POSIX ustar, name alone otherwise. */
static char *header_name(const unsigned char *h) {
        char name[101], prefix[156];
        memcpy(name, h, 100);
        name[100] = '\0';
        prefix[0] = '\0';
        if (memcmp(h + 257, "ustar\0", 6) == 0) {
                memcpy(prefix, h + 345, 155);
                prefix[155] = '\0';
        }
        char *out = NULL;
        if (asprintf(&out, "%s%s%s", prefix, prefix[0] ? "/" : "", name) < 0)
                return NULL;
        return out;
}

static bool is_whiteout_name(const char *name) {
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        return strncmp(base, ".wh.", 4) == 0;
}

static void start_payload(struct layer_split_writer *w, enum split_state st) {
        w->left = w->size;
        w->pad = (BLOCK - w->size % BLOCK) % BLOCK;
        w->st = w->size ? st : (w->pad ? ST_PAD : ST_HEADER);
}

static void on_header(struct layer_split_writer *w) {
        if (all_zero(w->hdr, BLOCK)) {
                /* The end of the archive, as the extractor sees it: the rest is kept raw. */
                emit_zeros(w, BLOCK);
                w->st = ST_TRAILER;
                return;
        }
        emit_raw(w, w->hdr, BLOCK);
        uint64_t size;
        if (!parse_number(w->hdr + 124, 12, &size)) {
                w->st = ST_TRAILER; /* the extractor refuses this archive anyway */
                return;
        }
        char type = (char) w->hdr[156];
        bool is_regular = type == '0' || type == '\0' || type == '7';
        if (is_regular && w->pax_size >= 0)
                size = (uint64_t) w->pax_size;
        w->size = size;
        if (type == 'x' || type == 'L') {
                w->meta_type = type;
                w->meta_len = 0;
                w->meta_overflow = false;
                start_payload(w, ST_RAW);
                if (w->st != ST_RAW)
                        finish_meta(w);
                return;
        }
        if (type == 'g' || type == 'K') { /* global PAX, GNU long link name: the next entry still follows */
                start_payload(w, ST_RAW);
                return;
        }
        if (!is_regular || size == 0) {
                clear_next(w);
                start_payload(w, ST_RAW);
                return;
        }
        _cleanup_free_ char *ustar = NULL;
        const char *name = w->pax_name ? w->pax_name : w->gnu_name;
        if (!name)
                name = ustar = header_name(w->hdr);
        bool raw = w->next_raw || !name || !name[0] || strlen(name) > UINT16_MAX || name[strlen(name) - 1] == '/' ||
                   is_whiteout_name(name);
        if (!raw)
                emit_file(w, size, name);
        clear_next(w);
        start_payload(w, raw ? ST_RAW : ST_FILE);
}

void layer_split_feed(struct layer_split_writer *w, const void *data, size_t len) {
        const unsigned char *p = data;
        w->total += len;
        while (len > 0 && !w->error) {
                size_t n;
                switch (w->st) {
                case ST_HEADER:
                        n = BLOCK - w->hdr_len;
                        if (n > len)
                                n = len;
                        memcpy(w->hdr + w->hdr_len, p, n);
                        w->hdr_len += n;
                        if (w->hdr_len == BLOCK) {
                                w->hdr_len = 0;
                                on_header(w);
                        }
                        break;
                case ST_FILE:
                case ST_RAW:
                        n = w->left < len ? (size_t) w->left : len;
                        if (w->st == ST_RAW) {
                                emit_raw(w, p, n);
                                if (w->meta_type)
                                        keep_meta(w, p, n);
                        }
                        w->left -= n;
                        if (w->left == 0) {
                                if (w->meta_type)
                                        finish_meta(w);
                                w->st = w->pad ? ST_PAD : ST_HEADER;
                        }
                        break;
                case ST_PAD:
                        n = w->pad < len ? (size_t) w->pad : len;
                        emit_maybe_zeros(w, p, n);
                        w->pad -= n;
                        if (w->pad == 0)
                                w->st = ST_HEADER;
                        break;
                case ST_TRAILER:
                default:
                        n = len;
                        emit_maybe_zeros(w, p, n);
                        break;
                }
                p += n;
                len -= n;
        }
}

int layer_split_writer_finish(struct layer_split_writer *w, struct berr *err) {
        if (w->hdr_len > 0) /* a partial header at the very end: the bytes as they came */
                emit_raw(w, w->hdr, w->hdr_len);
        w->hdr_len = 0;
        unsigned char t[SPLIT_TRAILER_LEN] = { 'E' };
        put_le(t + 1, w->total, 8);
        out_put(w, t, sizeof(t));
        flush_out(w);
        if (w->error) {
                errno = w->error;
                return berr_sys(err, BERR_INTERNAL, "write tar-split record");
        }
        return 0;
}

/* ---- reassembly ---- */

struct layer_split_reader {
        FILE *split;
        int root_fd;
        uint64_t size, produced;
        uint64_t data_end, consumed; /* of the record region of the split file */
        struct digest_ctx *digest;
        char diff_id[DIGEST_STRING_MAX];
        char cur; /* record being read, 0 between records */
        uint64_t left;
        int file_fd;
        bool checked;
};

struct layer_split_reader *layer_split_reader_free(struct layer_split_reader *r) {
        if (!r)
                return NULL;
        if (r->split)
                fclose(r->split);
        if (r->root_fd >= 0)
                close(r->root_fd);
        if (r->file_fd >= 0)
                close(r->file_fd);
        digest_ctx_free(r->digest);
        free(r);
        return NULL;
}

int layer_split_reader_new(int split_fd, int root_fd, const char *diff_id, struct layer_split_reader **ret,
                           struct berr *err) {
        struct layer_split_reader *r = calloc(1, sizeof(*r));
        if (!r)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        r->root_fd = r->file_fd = -1;
        snprintf(r->diff_id, sizeof(r->diff_id), "%s", diff_id);
        int sfd = fcntl(split_fd, F_DUPFD_CLOEXEC, 3);
        r->root_fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
        if (sfd < 0 || r->root_fd < 0) {
                if (sfd >= 0)
                        close(sfd);
                layer_split_reader_free(r);
                return berr_sys(err, BERR_INTERNAL, "dup");
        }
        struct stat st;
        unsigned char magic[SPLIT_MAGIC_LEN], t[SPLIT_TRAILER_LEN];
        int rc = 0;
        if (fstat(sfd, &st) < 0 || st.st_size < SPLIT_MAGIC_LEN + SPLIT_TRAILER_LEN ||
            pread(sfd, magic, sizeof(magic), 0) != (ssize_t) sizeof(magic) ||
            memcmp(magic, SPLIT_MAGIC, SPLIT_MAGIC_LEN) != 0 ||
            pread(sfd, t, sizeof(t), st.st_size - SPLIT_TRAILER_LEN) != (ssize_t) sizeof(t) || t[0] != 'E')
                rc = berr_set(err, BERR_INTERNAL, EINVAL, "layer %s: corrupt tar-split record", diff_id);
        if (rc == 0 && lseek(sfd, SPLIT_MAGIC_LEN, SEEK_SET) < 0)
                rc = berr_sys(err, BERR_INTERNAL, "seek tar-split record");
        if (rc == 0 && !(r->split = fdopen(sfd, "r")))
                rc = berr_sys(err, BERR_INTERNAL, "fdopen");
        if (rc == 0)
                sfd = -1;
        if (rc == 0)
                rc = digest_ctx_new(&r->digest, err);
        if (sfd >= 0)
                close(sfd);
        if (rc < 0) {
                layer_split_reader_free(r);
                return rc;
        }
        r->size = get_le(t + 1, 8);
        r->data_end = (uint64_t) st.st_size - SPLIT_MAGIC_LEN - SPLIT_TRAILER_LEN;
        *ret = r;
        return 0;
}

uint64_t layer_split_reader_size(const struct layer_split_reader *r) {
        return r->size;
}

static int split_get(struct layer_split_reader *r, void *buf, size_t n, struct berr *err) {
        if (n > r->data_end - r->consumed || fread(buf, 1, n, r->split) != n)
                return berr_set(err, BERR_INTERNAL, EINVAL, "layer %s: truncated tar-split record", r->diff_id);
        r->consumed += n;
        return 0;
}

static int open_payload(struct layer_split_reader *r, const char *name, struct berr *err) {
        while (name[0] == '/')
                name++;
        struct open_how how = {
                .flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        int fd = fs_openat2(r->root_fd, name[0] ? name : ".", &how);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "layer %s: %s", r->diff_id, name);
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return berr_set(err, BERR_INTERNAL, EINVAL, "layer %s: %s is no longer a regular file", r->diff_id,
                                name);
        }
        return fd;
}

static int next_record(struct layer_split_reader *r, struct berr *err) {
        unsigned char tag, h[10];
        int rc = split_get(r, &tag, 1, err);
        if (rc < 0)
                return rc;
        switch (tag) {
        case 'R':
        case 'Z':
                rc = split_get(r, h, 4, err);
                r->left = get_le(h, 4);
                break;
        case 'F': {
                rc = split_get(r, h, 10, err);
                if (rc < 0)
                        return rc;
                r->left = get_le(h, 8);
                size_t len = (size_t) get_le(h + 8, 2);
                _cleanup_free_ char *name = malloc(len + 1);
                if (!name)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                rc = split_get(r, name, len, err);
                if (rc < 0)
                        return rc;
                name[len] = '\0';
                if (strlen(name) != len)
                        return berr_set(err, BERR_INTERNAL, EINVAL, "layer %s: corrupt tar-split record", r->diff_id);
                r->file_fd = open_payload(r, name, err);
                if (r->file_fd < 0)
                        return r->file_fd;
                break;
        }
        default:
                return berr_set(err, BERR_INTERNAL, EINVAL, "layer %s: corrupt tar-split record", r->diff_id);
        }
        if (rc == 0)
                r->cur = (char) tag;
        return rc;
}

static int check_end(struct layer_split_reader *r, struct berr *err) {
        char got[DIGEST_STRING_MAX];
        digest_ctx_final(r->digest, got);
        r->checked = true;
        if (r->produced != r->size || !STREQ(got, r->diff_id))
                return berr_set(err, BERR_INTERNAL, EIO,
                                "layer %s: its files changed since it was stored (reassembled as %s)", r->diff_id, got);
        return 0;
}

ssize_t layer_split_read(struct layer_split_reader *r, void *buf, size_t max, struct berr *err) {
        unsigned char *out = buf;
        size_t n_out = 0;
        while (n_out < max) {
                if (!r->cur) {
                        if (r->consumed == r->data_end)
                                break;
                        int rc = next_record(r, err);
                        if (rc < 0)
                                return rc;
                        continue;
                }
                size_t n = max - n_out;
                if (n > r->left)
                        n = (size_t) r->left;
                if (r->cur == 'R') {
                        int rc = split_get(r, out + n_out, n, err);
                        if (rc < 0)
                                return rc;
                } else if (r->cur == 'Z') {
                        memset(out + n_out, 0, n);
                } else {
                        ssize_t got = read(r->file_fd, out + n_out, n);
                        if (got < 0 && errno == EINTR)
                                continue;
                        if (got < 0)
                                return berr_sys(err, BERR_INTERNAL, "layer %s: read", r->diff_id);
                        if (got == 0)
                                return berr_set(err, BERR_INTERNAL, EIO, "layer %s: a file is shorter than stored",
                                                r->diff_id);
                        n = (size_t) got;
                }
                n_out += n;
                r->left -= n;
                if (r->left == 0) {
                        if (r->file_fd >= 0) {
                                close(r->file_fd);
                                r->file_fd = -1;
                        }
                        r->cur = 0;
                }
        }
        digest_ctx_update(r->digest, out, n_out);
        r->produced += n_out;
        /* Checked with the last bytes still held back: a mismatch never gives a whole tar. */
        if (!r->cur && r->consumed == r->data_end && !r->checked) {
                int rc = check_end(r, err);
                if (rc < 0)
                        return rc;
        }
        return (ssize_t) n_out;
}
