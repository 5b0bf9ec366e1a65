/* test_ctr_state.c - the container state machine (src/daemon/container_state.c): every
 * legal transition, its event and whether it writes the record; illegal ones refused by
 * ctr_set_state() with the state left as it was; what Docker is shown meanwhile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "daemon/container.h"

struct expect {
        enum ctr_state from, to;
        const char *event;
        bool saves;
};

/* The whole table, as the code before it behaved (and dockerd's state.go). */
static const struct expect legal[] = {
        { CTR_NEW, CTR_CREATED, "create", true },
        { CTR_NEW, CTR_RUNNING, NULL, false },
        { CTR_NEW, CTR_PAUSED, NULL, false },
        { CTR_NEW, CTR_RESTARTING, NULL, false },
        { CTR_NEW, CTR_REMOVING, NULL, false },
        { CTR_NEW, CTR_EXITED, NULL, false },
        { CTR_NEW, CTR_DEAD, NULL, false },
        { CTR_CREATED, CTR_STARTING, NULL, false },
        { CTR_EXITED, CTR_STARTING, NULL, false },
        { CTR_RESTARTING, CTR_STARTING, NULL, false },
        { CTR_DEAD, CTR_STARTING, NULL, false },
        { CTR_STARTING, CTR_RUNNING, "start", true },
        { CTR_STARTING, CTR_CREATED, NULL, true },
        { CTR_STARTING, CTR_EXITED, NULL, true },
        { CTR_STARTING, CTR_RESTARTING, NULL, true },
        { CTR_STARTING, CTR_DEAD, NULL, true },
        { CTR_RUNNING, CTR_PAUSED, "pause", true },
        { CTR_PAUSED, CTR_RUNNING, "unpause", true },
        { CTR_RUNNING, CTR_EXITED, "die", true },
        { CTR_PAUSED, CTR_EXITED, "die", true },
        { CTR_EXITED, CTR_RESTARTING, NULL, false },
        { CTR_RESTARTING, CTR_EXITED, NULL, true },
        { CTR_CREATED, CTR_REMOVING, NULL, false },
        { CTR_EXITED, CTR_REMOVING, NULL, false },
        { CTR_DEAD, CTR_REMOVING, NULL, false },
        { CTR_REMOVING, CTR_CREATED, NULL, false },
        { CTR_REMOVING, CTR_EXITED, NULL, false },
        { CTR_REMOVING, CTR_DEAD, NULL, false },
        { CTR_REMOVING, CTR_REMOVED, "destroy", false },
};

static const struct expect *find_legal(enum ctr_state from, enum ctr_state to) {
        for (size_t i = 0; i < sizeof(legal) / sizeof(legal[0]); i++)
                if (legal[i].from == from && legal[i].to == to)
                        return &legal[i];
        return NULL;
}

static struct container *fake(enum ctr_state s) {
        struct container *c = calloc(1, sizeof(*c));
        assert_non_null(c);
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->cond, NULL);
        strcpy(c->id, "0123456789abcdef");
        if (s == CTR_STARTING) {
                assert_int_equal(ctr_set_state(NULL, c, CTR_CREATED, CTR_STATE_QUIET, NULL), 0);
                assert_int_equal(ctr_set_state(NULL, c, CTR_STARTING, CTR_STATE_QUIET, NULL), 0);
        } else if (s == CTR_REMOVED) {
                assert_int_equal(ctr_set_state(NULL, c, CTR_EXITED, CTR_STATE_QUIET, NULL), 0);
                assert_int_equal(ctr_set_state(NULL, c, CTR_REMOVING, CTR_STATE_QUIET, NULL), 0);
                assert_int_equal(ctr_set_state(NULL, c, CTR_REMOVED, CTR_STATE_QUIET, NULL), 0);
        } else if (s != CTR_NEW) {
                assert_int_equal(ctr_set_state(NULL, c, s, CTR_STATE_QUIET, NULL), 0);
        }
        assert_int_equal(c->state, s);
        return c;
}

static void unfake(struct container *c) {
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->cond);
        free(c);
}

static void test_ctr_state_table_has_each_legal_transition_with_its_event(void **state) {
        for (size_t i = 0; i < sizeof(legal) / sizeof(legal[0]); i++) {
                const struct expect *e = &legal[i];
                assert_true(ctr_state_transition_ok(e->from, e->to));
                const char *ev = ctr_state_event(e->from, e->to);
                if (e->event)
                        assert_string_equal(ev, e->event);
                else
                        assert_null(ev);
                assert_int_equal(ctr_state_saves(e->from, e->to), e->saves);
        }
}

/* Every pair not listed above is refused, identity included. */
static void test_ctr_state_table_refuses_everything_else(void **state) {
        int refused = 0;
        for (int from = 0; from < _CTR_STATE_MAX; from++)
                for (int to = 0; to < _CTR_STATE_MAX; to++)
                        if (!find_legal(from, to)) {
                                assert_false(ctr_state_transition_ok(from, to));
                                assert_null(ctr_state_event(from, to));
                                assert_false(ctr_state_saves(from, to));
                                refused++;
                        }
        assert_int_equal(refused, _CTR_STATE_MAX * _CTR_STATE_MAX - (int) (sizeof(legal) / sizeof(legal[0])));
}

static void test_ctr_state_notable_illegal_transitions(void **state) {
        assert_false(ctr_state_transition_ok(CTR_CREATED, CTR_RUNNING)); /* only through STARTING */
        assert_false(ctr_state_transition_ok(CTR_EXITED, CTR_RUNNING));
        assert_false(ctr_state_transition_ok(CTR_CREATED, CTR_PAUSED));
        assert_false(ctr_state_transition_ok(CTR_EXITED, CTR_PAUSED));
        assert_false(ctr_state_transition_ok(CTR_RUNNING, CTR_REMOVING)); /* killed first */
        assert_false(ctr_state_transition_ok(CTR_PAUSED, CTR_REMOVING));
        assert_false(ctr_state_transition_ok(CTR_STARTING, CTR_REMOVING)); /* the start ends first */
        assert_false(ctr_state_transition_ok(CTR_RESTARTING, CTR_REMOVING)); /* called off first */
        assert_false(ctr_state_transition_ok(CTR_REMOVING, CTR_RUNNING));
        assert_false(ctr_state_transition_ok(CTR_REMOVING, CTR_STARTING));
        assert_false(ctr_state_transition_ok(CTR_RUNNING, CTR_RESTARTING)); /* an exit comes between */
        assert_false(ctr_state_transition_ok(CTR_RUNNING, CTR_CREATED));
        assert_false(ctr_state_transition_ok(CTR_PAUSED, CTR_PAUSED));
        assert_false(ctr_state_transition_ok(CTR_RUNNING, CTR_STARTING));
        assert_false(ctr_state_transition_ok(CTR_PAUSED, CTR_STARTING));
        assert_false(ctr_state_transition_ok(CTR_STARTING, CTR_STARTING));
        assert_false(ctr_state_transition_ok(CTR_STARTING, CTR_PAUSED));
        assert_false(ctr_state_transition_ok(CTR_EXITED, CTR_CREATED));
        assert_false(ctr_state_transition_ok(CTR_CREATED, CTR_EXITED));
        assert_false(ctr_state_transition_ok(CTR_DEAD, CTR_EXITED));
        for (int s = 0; s < _CTR_STATE_MAX; s++) {
                assert_false(ctr_state_transition_ok(CTR_REMOVED, s)); /* the end */
                assert_false(ctr_state_transition_ok(s, CTR_NEW));     /* the beginning */
        }
}

/* ctr_set_state (quiet, so no daemon is needed): legal ones change the state, illegal
 * ones leave it and say -EINVAL. Transition by transition, from every state. */
static void test_ctr_set_state_applies_legal_and_refuses_illegal(void **state) {
        for (int from = 0; from < _CTR_STATE_MAX; from++)
                for (int to = 0; to < _CTR_STATE_MAX; to++) {
                        struct container *c = fake(from);
                        struct berr err = { 0 };
                        int r = ctr_set_state(NULL, c, to, CTR_STATE_QUIET, &err);
                        if (find_legal(from, to)) {
                                assert_int_equal(r, 0);
                                assert_int_equal(c->state, to);
                        } else {
                                assert_int_equal(r, -EINVAL);
                                assert_int_equal(c->state, from);
                                assert_non_null(strstr(err.msg, "illegal state change"));
                        }
                        unfake(c);
                }
}

static void test_ctr_state_starting_shows_where_it_started(void **state) {
        static const enum ctr_state starts[] = { CTR_CREATED, CTR_EXITED, CTR_RESTARTING, CTR_DEAD };
        for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
                struct container *c = fake(starts[i]);
                assert_int_equal(ctr_set_state(NULL, c, CTR_STARTING, CTR_STATE_QUIET, NULL), 0);
                assert_int_equal(c->start_from, starts[i]);
                assert_int_equal(ctr_state_shown(c), starts[i]);
                assert_int_equal(ctr_is_running(c), starts[i] == CTR_RESTARTING);
                assert_int_equal(ctr_set_state(NULL, c, c->start_from, CTR_STATE_QUIET, NULL), 0); /* a failed start */
                assert_int_equal(c->state, starts[i]);
                unfake(c);
        }
}

static void test_ctr_state_shown_names_are_dockers(void **state) {
        for (int s = 0; s < _CTR_STATE_MAX; s++) {
                struct container *c = fake(s);
                enum ctr_state shown = ctr_state_shown(c);
                assert_true(shown >= CTR_CREATED && shown <= CTR_DEAD);
                assert_int_equal(ctr_state_from_name(ctr_state_name(shown)), shown);
                unfake(c);
        }
        struct container *c = fake(CTR_REMOVED);
        assert_int_equal(ctr_state_shown(c), CTR_REMOVING);
        assert_false(ctr_is_running(c));
        unfake(c);
        /* berth's own states are never read back from a record */
        assert_int_equal(ctr_state_from_name("starting"), _CTR_STATE_INVALID);
        assert_int_equal(ctr_state_from_name("removed"), _CTR_STATE_INVALID);
        assert_int_equal(ctr_state_from_name("new"), _CTR_STATE_INVALID);
        assert_int_equal(ctr_state_from_name(NULL), _CTR_STATE_INVALID);
        assert_int_equal(ctr_state_from_name("exited"), CTR_EXITED);
}

static void test_ctr_state_running_is_dockers_running(void **state) {
        for (int s = 0; s < _CTR_STATE_MAX; s++) {
                struct container *c = fake(s);
                bool want = s == CTR_RUNNING || s == CTR_PAUSED || s == CTR_RESTARTING;
                assert_int_equal(ctr_is_running(c), want);
                unfake(c);
        }
}

/* A restart called off while its start is on its way: the start goes on, EXITED shows. */
static void test_ctr_cancel_restart_during_its_start(void **state) {
        struct container *c = fake(CTR_RESTARTING);
        assert_int_equal(ctr_set_state(NULL, c, CTR_STARTING, CTR_STATE_QUIET, NULL), 0);
        assert_int_equal(ctr_state_shown(c), CTR_RESTARTING);
        c->start_from = CTR_EXITED; /* what ctr_cancel_restart does, without the record write */
        assert_int_equal(c->state, CTR_STARTING);
        assert_int_equal(ctr_state_shown(c), CTR_EXITED);
        assert_false(ctr_is_running(c));
        assert_int_equal(ctr_set_state(NULL, c, CTR_RUNNING, CTR_STATE_QUIET, NULL), 0);
        unfake(c);
}

int main(void) {
        log_set_level(LOG_LEVEL_FATAL); /* the refusals below are logged at error level */
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ctr_state_table_has_each_legal_transition_with_its_event),
                cmocka_unit_test(test_ctr_state_table_refuses_everything_else),
                cmocka_unit_test(test_ctr_state_notable_illegal_transitions),
                cmocka_unit_test(test_ctr_set_state_applies_legal_and_refuses_illegal),
                cmocka_unit_test(test_ctr_state_starting_shows_where_it_started),
                cmocka_unit_test(test_ctr_state_shown_names_are_dockers),
                cmocka_unit_test(test_ctr_state_running_is_dockers_running),
                cmocka_unit_test(test_ctr_cancel_restart_during_its_start),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
