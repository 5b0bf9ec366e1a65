/* container_state.c - the container state machine: the table of legal transitions and
 * ctr_set_state(), the one place a container's state changes (after systemd's
 * service_set_state()): check the transition, record it, wake waiters, emit its event. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "container.h"
#include "events.h"

static const char *const state_names[_CTR_STATE_MAX] = {
        [CTR_NEW] = "new",         [CTR_CREATED] = "created",   [CTR_RUNNING] = "running",
        [CTR_PAUSED] = "paused",   [CTR_RESTARTING] = "restarting", [CTR_REMOVING] = "removing",
        [CTR_EXITED] = "exited",   [CTR_DEAD] = "dead",         [CTR_STARTING] = "starting",
        [CTR_REMOVED] = "removed",
};

const char *ctr_state_name(enum ctr_state s) {
        return s >= 0 && s < _CTR_STATE_MAX ? state_names[s] : "unknown";
}

static bool is_docker_state(enum ctr_state s) {
        return s >= CTR_CREATED && s <= CTR_DEAD;
}

enum ctr_state ctr_state_from_name(const char *name) {
        for (int i = 0; name && i < _CTR_STATE_MAX; i++)
                if (is_docker_state(i) && strcmp(name, state_names[i]) == 0)
                        return i;
        return _CTR_STATE_INVALID;
}

enum transition_flags {
        T_SAVE = 1 << 0, /* the record changes: write it */
};

/* Every legal transition; anything else is refused. Derived from what the code did before
 * this table existed and from dockerd's state.go. */
static const struct transition {
        enum ctr_state from, to;
        const char *event; /* Docker's event for it */
        unsigned flags;
} transitions[] = {
        /* docker create; a record loaded at start-up (QUIET) may hold any of Docker's states */
        { CTR_NEW, CTR_CREATED, "create", T_SAVE },
        { CTR_NEW, CTR_RUNNING, NULL, 0 },
        { CTR_NEW, CTR_PAUSED, NULL, 0 },
        { CTR_NEW, CTR_RESTARTING, NULL, 0 },
        { CTR_NEW, CTR_REMOVING, NULL, 0 },
        { CTR_NEW, CTR_EXITED, NULL, 0 },
        { CTR_NEW, CTR_DEAD, NULL, 0 },
        /* docker start, a restart policy, a daemon-start restart. The record keeps showing
         * the old state: nothing to write until the start ends. */
        { CTR_CREATED, CTR_STARTING, NULL, 0 },
        { CTR_EXITED, CTR_STARTING, NULL, 0 },
        { CTR_RESTARTING, CTR_STARTING, NULL, 0 },
        { CTR_DEAD, CTR_STARTING, NULL, 0 },
        /* the start ends: running; or, the init could not execve, created (as dockerd); or it
         * failed before the shim ran anything, back where it started (or exited, when a
         * restart was called off meanwhile). */
        { CTR_STARTING, CTR_RUNNING, "start", T_SAVE },
        { CTR_STARTING, CTR_CREATED, NULL, T_SAVE },
        { CTR_STARTING, CTR_EXITED, NULL, T_SAVE },
        { CTR_STARTING, CTR_RESTARTING, NULL, T_SAVE },
        { CTR_STARTING, CTR_DEAD, NULL, T_SAVE },
        /* docker pause / unpause (and the thaw after a stop's signal) */
        { CTR_RUNNING, CTR_PAUSED, "pause", T_SAVE },
        { CTR_PAUSED, CTR_RUNNING, "unpause", T_SAVE },
        /* the init exited (monitor.c) */
        { CTR_RUNNING, CTR_EXITED, "die", T_SAVE },
        { CTR_PAUSED, CTR_EXITED, "die", T_SAVE },
        /* a restart policy's back-off; not written: a pending restart dies with berthd */
        { CTR_EXITED, CTR_RESTARTING, NULL, 0 },
        /* called off (stop, removal) or its start failed; no process, no "die" */
        { CTR_RESTARTING, CTR_EXITED, NULL, T_SAVE },
        /* docker rm: nothing is written from here on, the record is being taken away */
        { CTR_CREATED, CTR_REMOVING, NULL, 0 },
        { CTR_EXITED, CTR_REMOVING, NULL, 0 },
        { CTR_DEAD, CTR_REMOVING, NULL, 0 },
        { CTR_REMOVING, CTR_CREATED, NULL, 0 }, /* the rootfs would not unmount: left as it was */
        { CTR_REMOVING, CTR_EXITED, NULL, 0 },
        { CTR_REMOVING, CTR_DEAD, NULL, 0 },    /* the directories would not go */
        { CTR_REMOVING, CTR_REMOVED, "destroy", 0 },
};

static const struct transition *find(enum ctr_state from, enum ctr_state to) {
        for (size_t i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++)
                if (transitions[i].from == from && transitions[i].to == to)
                        return &transitions[i];
        return NULL;
}

bool ctr_state_transition_ok(enum ctr_state from, enum ctr_state to) {
        return find(from, to) != NULL;
}

const char *ctr_state_event(enum ctr_state from, enum ctr_state to) {
        const struct transition *t = find(from, to);
        return t ? t->event : NULL;
}

bool ctr_state_saves(enum ctr_state from, enum ctr_state to) {
        const struct transition *t = find(from, to);
        return t && (t->flags & T_SAVE);
}

enum ctr_state ctr_state_shown(const struct container *c) {
        switch (c->state) {
        case CTR_STARTING: return c->start_from;
        case CTR_REMOVED: return CTR_REMOVING;
        case CTR_NEW: return CTR_CREATED;
        default: return c->state;
        }
}

bool ctr_is_running(const struct container *c) {
        enum ctr_state s = ctr_state_shown(c);
        return s == CTR_RUNNING || s == CTR_PAUSED || s == CTR_RESTARTING;
}

static void emit(struct daemon *d, struct container *c, const char *event) {
        json_t *attrs = NULL;
        if (strcmp(event, "die") == 0) {
                char code[16];
                snprintf(code, sizeof(code), "%d", c->exit_code);
                attrs = json_pack("{s:s}", "exitCode", code);
        }
        events_container(d, c, event, attrs);
}

int ctr_set_state(struct daemon *d, struct container *c, enum ctr_state to, unsigned flags, struct berr *err) {
        enum ctr_state from = c->state;
        const struct transition *t = find(from, to);
        if (!t) {
                log_error("container %.12s: illegal state change %s -> %s refused", c->id, ctr_state_name(from),
                          ctr_state_name(to));
                return berr_set(err, BERR_INTERNAL, EINVAL, "container %.12s: illegal state change %s -> %s", c->id,
                                ctr_state_name(from), ctr_state_name(to));
        }
        if (to == CTR_STARTING)
                c->start_from = from;
        c->state = to;
        int r = 0;
        if (!(flags & (CTR_STATE_QUIET | CTR_STATE_NO_SAVE)) && (t->flags & T_SAVE)) {
                struct berr e = { 0 };
                r = ctr_save_state(d, c, &e);
                if (r < 0) {
                        log_warn("save container %.12s: %s", c->id, e.msg);
                        if (err)
                                *err = e;
                        if (from == CTR_NEW) {
                                c->state = from;
                                return r;
                        }
                }
        }
        pthread_cond_broadcast(&c->cond);
        if (!(flags & CTR_STATE_QUIET) && t->event)
                emit(d, c, t->event);
        return r;
}

void ctr_cancel_restart(struct daemon *d, struct container *c) {
        if (c->state == CTR_RESTARTING) {
                (void) ctr_set_state(d, c, CTR_EXITED, 0, NULL); /* logs its own failure */
                return;
        }
        if (c->state != CTR_STARTING || c->start_from != CTR_RESTARTING)
                return;
        /* Its start goes on (as before this table): what it shows meanwhile is EXITED. */
        c->start_from = CTR_EXITED;
        struct berr e = { 0 };
        if (ctr_save(d, c, &e) < 0)
                log_warn("save container %.12s: %s", c->id, e.msg);
        pthread_cond_broadcast(&c->cond);
}
