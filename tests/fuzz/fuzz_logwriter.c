/* fuzz_logwriter.c - a container's output (any bytes, cut into writes anywhere, on both
 * streams) through the json-file writer with rotation: every line written must be a JSON
 * object `docker logs` can read back, with a valid UTF-8 "log" string. */
#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

#include "fuzz.h"
#include "shim/logwriter.h"

static char dir[256];
static char path[300];

static void check_file(const char *p) {
        FILE *f = fopen(p, "r");
        if (!f)
                return; /* rotated away */
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) {
                json_error_t je;
                json_t *o = json_loadb(line, (size_t) n, JSON_ALLOW_NUL, &je);
                if (!json_is_object(o) || !json_is_string(json_object_get(o, "log")) ||
                    !json_is_string(json_object_get(o, "stream")) || !json_is_string(json_object_get(o, "time"))) {
                        fprintf(stderr, "bad log line (%s): %.*s\n", je.text, (int) n, line);
                        abort();
                }
                json_decref(o);
        }
        free(line);
        fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!path[0]) {
                snprintf(dir, sizeof(dir), "%s/berth-fuzz-log-XXXXXX", fuzz_tmpdir());
                if (!mkdtemp(dir))
                        abort();
                snprintf(path, sizeof(path), "%s/ctr-json.log", dir);
        }
        struct log_writer *w = NULL;
        struct berr err = {};
        if (log_writer_open(path, 4096, 2, &w, &err) < 0)
                abort();
        /* Each chunk: one control byte (stream and length), then the bytes. */
        size_t i = 0;
        while (i < size) {
                uint8_t c = data[i++];
                size_t len = (size_t) (c & 0x7f) * 37;
                if (len > size - i)
                        len = size - i;
                if (log_writer_feed(w, (c & 0x80) ? LOG_STREAM_STDERR : LOG_STREAM_STDOUT, (const char *) data + i, len,
                                    &err) < 0)
                        abort();
                i += len;
        }
        if (log_writer_flush(w, &err) < 0)
                abort();
        log_writer_close(w);
        check_file(path);
        char rotated[320];
        snprintf(rotated, sizeof(rotated), "%s.1", path);
        check_file(rotated);
        unlink(path);
        unlink(rotated);
        return 0;
}
