/* container_trash.c - a removed container's directories deleted off the request path.
 *
 * Deleting a container's directories (its record, /etc files, log, the overlay's upper and
 * work trees, its bundle) was most of `docker rm`: 25–30 ms here, where the data root's
 * ext4 is mounted with `discard` and without a journal, so every unlink of a file with
 * blocks and every rmdir waits for a discard on the disk (1–2 ms each, measured; about 30
 * per container). A removal now renames each directory to ".rm-<id>" beside it (one
 * rename: from then on the container is gone, its ID free, and nothing at start-up loads
 * or checks it as a container: ids are hex, dot entries are skipped) and a thread of its
 * own deletes the renamed trees; the request answers after the renames. containerd's
 * snapshotters remove asynchronously the same way.
 *
 * What a crash (kill -9, or of the machine) leaves half deleted is a ".rm-<id>" that the
 * next start-up queues again (ctr_trash_found); `berthd --check` reports one as an orphan.
 * The daemon's shutdown waits (bounded) for the queue, so a clean stop leaves none. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/tree.h"
#include "container.h"

struct trash_item {
        char *path; /* the renamed directory, absolute */
        bool sync_parent; /* fsync its parent first (ctr_trash did that already: unused there) */
        struct trash_item *next;
};

static pthread_mutex_t trash_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t trash_cond = PTHREAD_COND_INITIALIZER; /* work queued, or work done */
static struct trash_item *trash_head, **trash_tail = &trash_head;
static unsigned trash_busy;
static bool trash_started;

static void delete_item(struct trash_item *t) {
        char *slash = strrchr(t->path, '/');
        if (!slash || slash == t->path)
                return;
        *slash = '\0';
        _cleanup_close_ int pfd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        *slash = '/';
        if (pfd < 0)
                return; /* the root itself went (a test's cleanup) */
        if (t->sync_parent)
                (void) fsync(pfd); /* the rename away from the record's name */
        struct berr e = { 0 };
        if (tree_remove_at(pfd, slash + 1, &e) < 0)
                log_warn("remove %s: %s (retried at the next start-up)", t->path, e.msg);
}

static void *trash_main(void *arg) {
        (void) arg;
        /* Behind the requests' own disk work: the discards of these deletions went ahead
         * of the next create's and start's fsyncs (A/B: create 10.5 -> 14.2 ms). The idle
         * I/O class (mq-deadline, bfq honour it) and a lower CPU priority, this thread only. */
        (void) syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0 /* this thread */,
                       (3 << 13) /* IOPRIO_CLASS_IDLE */);
        (void) setpriority(PRIO_PROCESS, (id_t) syscall(SYS_gettid), 10);
        pthread_mutex_lock(&trash_lock);
        for (;;) {
                while (!trash_head)
                        pthread_cond_wait(&trash_cond, &trash_lock);
                struct trash_item *t = trash_head;
                trash_head = t->next;
                if (!trash_head)
                        trash_tail = &trash_head;
                trash_busy++;
                pthread_mutex_unlock(&trash_lock);
                delete_item(t);
                free(t->path);
                free(t);
                pthread_mutex_lock(&trash_lock);
                trash_busy--;
                pthread_cond_broadcast(&trash_cond);
        }
        return NULL;
}

/* Caller holds trash_lock. */
static void start_locked(void) {
        if (trash_started)
                return;
        pthread_t th;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        trash_started = pthread_create(&th, &a, trash_main, NULL) == 0;
        pthread_attr_destroy(&a);
}

void ctr_trash_start(void) {
        pthread_mutex_lock(&trash_lock);
        start_locked();
        pthread_mutex_unlock(&trash_lock);
}

/* Takes @path. false: not queued (no thread, out of memory): the caller deletes it. */
static bool enqueue(char *path, bool sync_parent) {
        struct trash_item *t = calloc(1, sizeof(*t));
        if (!t)
                return false;
        t->path = path;
        t->sync_parent = sync_parent;
        pthread_mutex_lock(&trash_lock);
        start_locked();
        if (!trash_started) {
                pthread_mutex_unlock(&trash_lock);
                free(t);
                return false;
        }
        *trash_tail = t;
        trash_tail = &t->next;
        pthread_cond_broadcast(&trash_cond);
        pthread_mutex_unlock(&trash_lock);
        return true;
}

int ctr_trash(const char *parent, const char *id, bool sync_parent, struct berr *err) {
        char from[4200], to[4200];
        if (fs_path_fmt(from, sizeof(from), "%s/%s", parent, id) < 0 ||
            fs_path_fmt(to, sizeof(to), "%s/" CTR_TRASH_PREFIX "%s", parent, id) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s/%s: path too long", parent, id);
        if (rename(from, to) < 0) {
                if (errno == ENOENT)
                        return 0;
                /* ENOTEMPTY/EEXIST: a ".rm-<id>" left by a crash is still there; delete in place */
                if (errno != ENOTEMPTY && errno != EEXIST)
                        return berr_sys(err, BERR_INTERNAL, "rename %s", from);
                return tree_remove_at(AT_FDCWD, from, err);
        }
        /* The rename away from the record's name is durable before the removal answers: a
         * `docker rm` acknowledged must not bring the container back after a crash of the
         * machine (with `rm -v` its anonymous volumes are gone already). One fsync of the
         * parent; the deletions stay off the request's path. */
        if (sync_parent) {
                _cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (pfd < 0 || fsync(pfd) < 0) /* renamed already: the removal goes on */
                        log_warn("sync %s after removing %.12s: %s", parent, id, strerror(errno));
        }
        char *p = strdup(to);
        if (p && enqueue(p, false))
                return 0;
        free(p);
        return tree_remove_at(AT_FDCWD, to, err);
}

void ctr_trash_found(const char *parent, const char *name) {
        if (strncmp(name, CTR_TRASH_PREFIX, strlen(CTR_TRASH_PREFIX)) != 0)
                return;
        char *p = NULL;
        if (asprintf(&p, "%s/%s", parent, name) < 0)
                return;
        log_info("finishing the removal of %s", p);
        if (!enqueue(p, false)) {
                struct berr e = { 0 };
                if (tree_remove_at(AT_FDCWD, p, &e) < 0)
                        log_warn("remove %s: %s", p, e.msg);
                free(p);
        }
}

void ctr_trash_flush(int timeout_s) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += timeout_s;
        pthread_mutex_lock(&trash_lock);
        while ((trash_head || trash_busy) && trash_started)
                if (pthread_cond_timedwait(&trash_cond, &trash_lock, &deadline) != 0)
                        break;
        pthread_mutex_unlock(&trash_lock);
}
