/* container_commit.c - docker commit: snapshot the container's Config and command under
 * its lock, pause it while its writable layer is read, and hand the layer tar to the
 * image store. The handler in api/containers.c only decodes the query and body. */
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "daemon/container.h"
#include "daemon/container_archive.h"
#include "daemon/container_commit.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "image/image_store.h"
#include "shim/msg.h"
#include "shim/protocol.h"

/* The container's command as one line, for the history entry. Container lock held. */
static char *created_by_locked(struct container *c) {
        char *created_by = NULL;
        if (asprintf(&created_by, "%s", c->path ? c->path : "") < 0)
                return NULL;
        size_t i;
        json_t *a;
        json_array_foreach(c->args, i, a) {
                char *n = NULL;
                if (asprintf(&n, "%s %s", created_by, json_string_value(a)) >= 0) {
                        free(created_by);
                        created_by = n;
                }
        }
        return created_by;
}

/* The commit's pause is over (or never happened): the mark leaves the record. */
static void commit_pause_done(struct daemon *d, struct container *c) {
        struct berr e = { 0 };
        pthread_mutex_lock(&c->lock);
        c->commit_pause = false;
        if (c->state != CTR_REMOVING && c->state != CTR_REMOVED && ctr_save(d, c, &e) < 0)
                log_warn("save container %.12s: %s", c->id, e.msg);
        pthread_mutex_unlock(&c->lock);
}

void ctr_commit_recover(struct daemon *d, struct container *c) {
        pthread_mutex_lock(&c->lock);
        bool marked = c->commit_pause;
        bool paused = c->state == CTR_PAUSED, running = c->state == CTR_RUNNING;
        pthread_mutex_unlock(&c->lock);
        if (!marked)
                return;
        struct berr e = { 0 };
        if (paused) {
                log_warn("container %.12s was paused for a commit as berthd stopped: unpausing it", c->id);
                if (ctr_pause(d, c, false, &e) < 0)
                        log_error("unpause container %.12s: %s", c->id, e.msg);
        } else if (running) {
                /* Killed between the mark and the record of the pause: the shim may have
                 * frozen it all the same. A thaw of a thawed cgroup changes nothing. */
                _cleanup_free_ char *bundle = ctr_bundle_dir(d, c->id);
                _cleanup_close_ int fd = bundle ? shim_connect(bundle, &e) : -1;
                struct shim_msg m;
                shim_msg_init(&m, SHIM_REQ_RESUME);
                if (fd < 0 || shim_msg_send(fd, &m, -1, &e) < 0 || shim_msg_recv(fd, &m, NULL, &e) < 0)
                        log_warn("thaw container %.12s: %s", c->id, e.msg);
        }
        commit_pause_done(d, c);
}

int ctr_commit(struct daemon *d, const char *name_or_id, const struct ctr_commit_opts *o,
               char ret_id[DIGEST_STRING_MAX], struct berr *err) {
        struct container *c;
        int r = ctr_lookup(d, name_or_id, &c, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&c->lock);
        bool running = c->state == CTR_RUNNING;
        _cleanup_json_ json_t *cfg = ctr_config_encode_config(c->cc);
        char image_id[80], id[65];
        snprintf(image_id, sizeof(image_id), "%s", c->image_id);
        snprintf(id, sizeof(id), "%s", c->id);
        _cleanup_free_ char *created_by = created_by_locked(c);
        pthread_mutex_unlock(&c->lock);
        const char *key;
        json_t *v;
        json_object_foreach(o->config, key, v) if (!json_is_null(v)) json_object_set(cfg, key, v);
        json_object_del(cfg, "Hostname"); /* the container's own, not the image's */
        json_object_del(cfg, "Domainname");
        bool paused_here = false;
        if (o->pause && running) {
                /* Recorded before the shim freezes it: a berthd killed from here on leaves a
                 * record that says so, and start-up thaws it (ctr_commit_recover). */
                struct berr pe = { 0 };
                pthread_mutex_lock(&c->lock);
                bool marked = !c->commit_pause && c->state == CTR_RUNNING;
                if (marked) {
                        c->commit_pause = true;
                        if (ctr_save(d, c, &pe) < 0) {
                                c->commit_pause = false;
                                marked = false;
                        }
                }
                pthread_mutex_unlock(&c->lock);
                paused_here = marked && ctr_pause(d, c, true, &pe) == 0;
                if (marked && !paused_here)
                        commit_pause_done(d, c);
        }
        pthread_mutex_lock(&d->ctr_lock);
        c->refs++; /* one for the archive */
        pthread_mutex_unlock(&d->ctr_lock);
        struct ctr_archive *a = NULL;
        r = ctr_commit_layer_open(d, c, &a, err);
        if (r == 0)
                r = ctr_archive_start(a, err);
        if (r == 0) {
                struct image_commit_opts io = {
                        .container_config = cfg,
                        .container_id = id,
                        .created_by = created_by,
                        .author = o->author,
                        .comment = o->comment,
                        .reference = o->reference,
                        .changes = o->changes,
                        .n_changes = o->n_changes,
                };
                r = image_store_commit(d->images, image_id, ctr_archive_fd(a), &io, ret_id, err);
        }
        ctr_archive_free(a);
        if (paused_here) {
                struct berr pe = { 0 };
                (void) ctr_pause(d, c, false, &pe); /* best effort: the commit stands either way */
                commit_pause_done(d, c);
        }
        if (r == 0)
                events_container(d, c, "commit", NULL);
        ctr_unref(d, c);
        return r;
}
