/* dist_progress.c - Docker's JSON progress messages for pull and push: status lines keyed
 * by a short layer ID, byte progress with progressDetail and the preformatted bar that
 * older clients print. */
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "dist_int.h"

void dist_human_size(int64_t n, char out[32]) {
        static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB" };
        double v = (double) n;
        size_t u = 0;
        while (v >= 1000.0 && u + 1 < ELEMENTSOF(units)) {
                v /= 1000.0;
                u++;
        }
        snprintf(out, 32, "%.4g%s", v, units[u]);
}

void dist_short_id(const char *digest, char out[16]) {
        snprintf(out, 16, "%.12s", digest_hex(digest));
}

void dist_progress_status(dist_progress_fn fn, void *opaque, const char *id, const char *status) {
        if (!fn)
                return;
        _cleanup_json_ json_t *m = json_pack("{s:s}", "status", status);
        if (!m)
                return;
        if (id) {
                json_object_set_new(m, "progressDetail", json_object());
                json_object_set_new(m, "id", json_string(id));
        }
        fn(opaque, m);
}

/* moby's JSONProgress.String() for a 110-column terminal. */
static void bar(int64_t current, int64_t total, char out[128]) {
        char cur[32], tot[32];
        dist_human_size(current, cur);
        if (total <= 0) {
                snprintf(out, 128, "%8s", cur);
                return;
        }
        dist_human_size(total, tot);
        int width = 50;
        int done = current >= total ? width : (int) ((double) current / (double) total * width);
        char b[52]; /* width '=', or fewer and a '>', and the NUL */
        int k = 0;
        for (int i = 0; i < done; i++)
                b[k++] = '=';
        if (done < width)
                b[k++] = '>';
        while (k < width)
                b[k++] = ' ';
        b[k] = '\0';
        snprintf(out, 128, "[%s] %8s/%s", b, cur, tot);
}

void dist_progress_bytes(dist_progress_fn fn, void *opaque, const char *id, const char *status, int64_t current,
                         int64_t total) {
        if (!fn)
                return;
        char text[128];
        bar(current, total, text);
        _cleanup_json_ json_t *m = json_pack("{s:s, s:{s:I, s:I}, s:s, s:s}", "status", status, "progressDetail",
                                             "current", (json_int_t) current, "total", (json_int_t) total, "progress",
                                             text, "id", id);
        if (m)
                fn(opaque, m);
}
