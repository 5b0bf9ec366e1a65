/* container_recover.c - start-up after a crash. kill -9 of berthd can cut short a create
 * (a directory without its record), a start (the rootfs mounted and maybe a shim running
 * while the record still says "created" or "exited") or a removal (the record gone, files
 * left). Before the API serves anyone each is finished or rolled back. The kernel's mount
 * table and the files on disk are the truth here, never a flag of the old daemon. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/id.h"
#include "common/json.h"
#include "common/log.h"
#include "container.h"
#include "daemon.h"
#include "common/tree.h"
#include "runtime/runtime.h"
#include "shim/msg.h"
#include "shim/protocol.h"

/* A SIGKILLed container and its shim are gone in milliseconds; a stuck one must not hold up start-up. */
#define SHIM_EXIT_TIMEOUT_MS 10000

int ctr_recover_dir(struct daemon *d, const char *id) {
        _cleanup_free_ char *dir = ctr_data_dir(d, id);
        _cleanup_close_ int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        if (dfd < 0)
                return 0; /* loading it reports why */
        /* ctr_save writes hostconfig.json, then config.json; ctr_dirs_remove unlinks
         * config.json first. Either file missing: a create or a removal was cut short. */
        if (faccessat(dfd, "config.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
            faccessat(dfd, "hostconfig.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return 0;
        log_warn("container %.12s has no complete record (a create or removal was cut short): removing it", id);
        struct berr e = { 0 };
        if (ctr_dirs_remove(d, id, true, &e) < 0)
                log_error("remove container %.12s: %s", id, e.msg);
        return 1;
}

/* SIGKILL the container of the shim serving @bundle and wait (bounded) until the shim has
 * recorded the exit and gone. */
static int kill_and_wait(const char *bundle, struct berr *err) {
        _cleanup_close_ int watch = shim_connect(bundle, err);
        if (watch < 0)
                return watch;
        struct shim_msg m;
        shim_msg_init(&m, SHIM_REQ_WATCH);
        int r = shim_msg_send(watch, &m, -1, err);
        if (r == 0)
                r = shim_msg_recv(watch, &m, NULL, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = shim_connect(bundle, err);
        if (fd >= 0) { /* gone meanwhile: the watch below sees EOF at once */
                shim_msg_init(&m, SHIM_REQ_KILL);
                m.signal = SIGKILL;
                if (shim_msg_send(fd, &m, -1, err) == 0)
                        (void) shim_msg_recv(fd, &m, NULL, err); /* ESRCH: already ending */
        }
        for (int waited_ms = 0; waited_ms < SHIM_EXIT_TIMEOUT_MS; waited_ms += 100) {
                struct pollfd p = { .fd = watch, .events = POLLIN | POLLRDHUP };
                if (poll(&p, 1, 100) <= 0)
                        continue;
                char buf[64];
                ssize_t n = recv(watch, buf, sizeof(buf), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                        return 0;
        }
        return berr_set(err, BERR_INTERNAL, ETIMEDOUT, "its shim did not exit after SIGKILL");
}

bool ctr_recover_stopped(struct daemon *d, struct container *c) {
        _cleanup_free_ char *bundle = ctr_bundle_dir(d, c->id);
        _cleanup_close_ int bfd = bundle ? open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        struct berr e = { 0 };
        int fd = bfd >= 0 ? shim_connect(bundle, &e) : -1;
        if (fd >= 0) {
                /* berthd died between the shim's creation and recording the start: the run
                 * was never acknowledged to the client nor recorded (its network endpoints
                 * included), so it is rolled back: the container is killed and its exit
                 * recorded as any other (networks left, rootfs unmounted, restart policy). */
                close(fd);
                log_warn("container %.12s was being started as berthd stopped: stopping it", c->id);
                if (kill_and_wait(bundle, &e) < 0)
                        log_error("container %.12s: %s", c->id, e.msg);
                pthread_mutex_lock(&c->lock);
                /* The start the record missed, so that ctr_handle_exit records the end of a run. */
                if (ctr_set_state(d, c, CTR_STARTING, CTR_STATE_QUIET, &e) == 0)
                        (void) ctr_set_state(d, c, CTR_RUNNING, CTR_STATE_QUIET, &e);
                pthread_mutex_unlock(&c->lock);
                ctr_handle_exit(d, c);
                return true;
        }
        /* No shim: what a cut-short start left behind goes, its mount first, and the
         * cgroup berthd makes ahead of the shim (empty: a directory in use stays). */
        pthread_mutex_lock(&c->lock);
        if (bfd >= 0) {
                (void) unlinkat(bfd, SHIM_EXIT_NAME, 0); /* a never-started init's; the record stands */
                (void) unlinkat(bfd, SHIM_SOCK_NAME, 0);
                _cleanup_free_ char *text = NULL;
                _cleanup_json_ json_t *spec = NULL;
                size_t len;
                const char *cgp = NULL;
                if (!ctr_runtime_is_external(c->cc) && fs_read_file(bfd, "config.json", 16 << 20, &text, &len, &e) == 0 &&
                    json_parse_object(text, len, &spec, &e) == 0)
                        cgp = json_string_value(json_object_get(json_object_get(spec, "linux"), "cgroupsPath"));
                if (cgp)
                        rt_cgroup_forget_at("/sys/fs/cgroup", cgp);
        }
        ctr_unmount_rootfs(d, c);
        pthread_mutex_unlock(&c->lock);
        return false;
}

static bool data_dir_exists(struct daemon *d, const char *id) {
        _cleanup_free_ char *dir = ctr_data_dir(d, id);
        struct stat st;
        return dir && lstat(dir, &st) == 0;
}

void ctr_recover_orphans(struct daemon *d) {
        _cleanup_free_ char *run = fs_path_join(d->cfg.exec_root, "containers");
        _cleanup_closedir_ DIR *dir = run ? opendir(run) : NULL;
        if (!dir) {
                log_warn("open %s: %s", run ? run : "exec root", strerror(errno));
                return;
        }
        struct dirent *de;
        while ((de = readdir(dir))) {
                if (de->d_name[0] == '.') {
                        ctr_trash_found(run, de->d_name); /* a removal a crash cut short */
                        continue;
                }
                if (!id_is_full_hex(de->d_name)) {
                        log_warn("%s/%s is not a container's bundle; left alone", run, de->d_name);
                        continue;
                }
                struct container *c;
                HASH_FIND_STR(d->ctrs, de->d_name, c);
                if (c || data_dir_exists(d, de->d_name)) /* a record that did not load keeps its bundle */
                        continue;
                _cleanup_free_ char *bundle = fs_path_join(run, de->d_name);
                struct berr e = { 0 };
                int fd = bundle ? shim_connect(bundle, &e) : -1;
                if (fd >= 0) {
                        close(fd);
                        log_error("container %.12s has no record but its shim runs; its bundle is left alone",
                                  de->d_name);
                        continue;
                }
                log_warn("removing the bundle of container %.12s, which has no record", de->d_name);
                if (!bundle || tree_remove_at(dirfd(dir), de->d_name, &e) < 0)
                        log_error("remove %s/%s: %s", run, de->d_name, e.msg);
        }
}
