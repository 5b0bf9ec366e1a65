/* layer_split.h - what it takes to give back a layer tar byte for byte (`docker save`
 * must reproduce the diff ID) without keeping the tar: Docker's tar-split idea. While a
 * layer is applied, every byte of the uncompressed stream that is not a regular file's
 * contents (headers, PAX records, padding, the end blocks) is recorded, and each file's
 * contents become a reference to the file the layer now holds. Reassembly reads the
 * record and those files, and checks the result against the diff ID as it goes. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/digest.h"

struct berr;

struct layer_split_writer;

/* Record into @fd (a new file, owned by the caller). */
int layer_split_writer_new(int fd, struct layer_split_writer **ret, struct berr *err);
/* Feed the next bytes of the uncompressed tar stream, all of them, in order. Errors are
 * kept and reported by finish. */
void layer_split_feed(struct layer_split_writer *w, const void *data, size_t len);
/* Flush the record and end it with the stream's length. */
int layer_split_writer_finish(struct layer_split_writer *w, struct berr *err);
struct layer_split_writer *layer_split_writer_free(struct layer_split_writer *w);

struct layer_split_reader;

/* Reassemble from the record @split_fd and the layer directory @root_fd (both dup'ed, so
 * the caller keeps its fds); the stream must hash to @diff_id. */
int layer_split_reader_new(int split_fd, int root_fd, const char *diff_id, struct layer_split_reader **ret,
                           struct berr *err);
/* Length of the tar stream (known before reading it). */
uint64_t layer_split_reader_size(const struct layer_split_reader *r);
/* Up to @max bytes of the tar; 0 at the end (after the diff ID was checked), negative on
 * error (a file changed or went missing, or the result does not hash to the diff ID). */
ssize_t layer_split_read(struct layer_split_reader *r, void *buf, size_t max, struct berr *err);
struct layer_split_reader *layer_split_reader_free(struct layer_split_reader *r);

static inline void layer_split_reader_freep(struct layer_split_reader **r) {
        layer_split_reader_free(*r);
}
