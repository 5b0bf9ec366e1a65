/* fuzz_logs_read.c - `docker logs` reading a container's log back (container_logs.c): the
 * json-file driver's lines (JSON, one per line, possibly torn) or the local driver's
 * length-prefixed protobuf entries, from the live file and one rotated file, with tail,
 * timestamps and stream selection. The log files are berth's own, but what they hold is
 * the container's output and whatever a damaged data root left: the reader must neither
 * crash nor leak, whatever the bytes. The first byte picks the driver and options, the
 * second where the input splits between the rotated file and the live one. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/container.h"
#include "daemon/container_logs.h"
#include "daemon/daemon.h"
#include "daemon/logdrv.h"
#include "fuzz.h"
#include "runtime/ctr_config.h"

static struct daemon *d;
static char dir[512];

static void setup(void) {
        d = calloc(1, sizeof(*d));
        if (!d)
                abort();
        char tmpl[256];
        snprintf(tmpl, sizeof(tmpl), "%s/berth-fuzz-logs-XXXXXX", fuzz_tmpdir());
        if (!mkdtemp(tmpl))
                abort();
        d->cfg.data_root = strdup(tmpl);
        snprintf(dir, sizeof(dir), "%s/containers", tmpl);
        if (mkdir(dir, 0700) < 0)
                abort();
        snprintf(dir, sizeof(dir), "%s/containers/fuzz", tmpl);
        if (mkdir(dir, 0700) < 0)
                abort();
        char local[600];
        snprintf(local, sizeof(local), "%s/local-logs", dir);
        if (mkdir(local, 0700) < 0)
                abort();
}

static void put(const char *path, const uint8_t *data, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || (size && write(fd, data, size) != (ssize_t) size))
                abort();
        close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!d)
                setup();
        if (size < 2)
                return 0;
        uint8_t opt = data[0];
        size_t split = size > 2 ? data[1] % (size - 1) : 0;
        const uint8_t *body = data + 2;
        size_t n = size - 2;
        if (split > n)
                split = n;
        bool local = opt & 1;
        char live[700], rotated[720];
        if (local)
                snprintf(live, sizeof(live), "%s/local-logs/container.log", dir);
        else
                snprintf(live, sizeof(live), "%s/fuzz-json.log", dir);
        snprintf(rotated, sizeof(rotated), "%s.1", live);
        put(rotated, body, split);
        put(live, body + split, n - split);

        struct ctr_config cc = {};
        cc.hc.log_config.type = local ? "local" : "json-file";
        /* json-file keeps one file unless told more: two, so the rotated one is read (the
         * local driver keeps five by default). */
        static char *keys[] = { "max-file" }, *vals[] = { "2" };
        if (!local)
                cc.hc.log_config.config = (struct strmap){ .keys = keys, .vals = vals, .n = 1 };
        struct container c = {};
        snprintf(c.id, sizeof(c.id), "fuzz");
        c.cc = &cc;
        c.refs = 2; /* the reader drops one; the other is this frame's */
        pthread_mutex_init(&c.lock, NULL);
        static const long tails[] = { -1, 0, 1, 3 };
        struct ctr_logs_opts o = {
                .want_stdout = !(opt & 2) || (opt & 4),
                .want_stderr = (opt & 2) != 0,
                .timestamps = (opt & 8) != 0,
                .details = (opt & 16) != 0,
                .tail = tails[(opt >> 5) & 3],
                .since_ns = (opt & 0x80) ? 1700000000000000000LL : 0,
                .client_fd = -1,
        };
        struct ctr_log_reader *r = NULL;
        struct berr err = {};
        if (ctr_logs_open(d, &c, &o, &r, &err) == 0) {
                char buf[4096];
                while (ctr_logs_read(r, buf, sizeof(buf)) > 0)
                        ;
                ctr_logs_free(r);
        }
        pthread_mutex_destroy(&c.lock);
        unlink(rotated);
        return 0;
}
