/* test_ctr_filters.c - `docker ps --filter` over a container's typed configuration and
 * state (ctr_list_matches, src/daemon/container_json.c): label (key, key=value, several
 * meaning all), expose, ancestor by name, name, id, status, exited, network, before/since,
 * and the filters berth answers as dockerd does without the feature (is-task, health). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "daemon/container.h"

static struct container *make(const char *id, const char *name, const char *created, const char *config,
                              enum ctr_state state, int exit_code) {
        struct container *c = calloc(1, sizeof(*c));
        assert_non_null(c);
        snprintf(c->id, sizeof(c->id), "%s", id);
        snprintf(c->name, sizeof(c->name), "%s", name);
        snprintf(c->created, sizeof(c->created), "%s", created);
        snprintf(c->image_id, sizeof(c->image_id), "sha256:%064d", 7);
        json_t *cfg = json_loads(config, 0, NULL);
        assert_non_null(cfg);
        struct berr err = { 0 };
        assert_int_equal(ctr_config_decode(cfg, NULL, NULL, &c->cc, &err), 0);
        json_decref(cfg);
        c->networks = json_pack("{s:{s:s}}", "mynet", "NetworkID", "abcdef0123");
        c->exit_code = exit_code;
        assert_int_equal(ctr_set_state(NULL, c, state, CTR_STATE_QUIET, NULL), 0);
        return c;
}

static void destroy(struct container *c) {
        ctr_config_free(c->cc);
        json_decref(c->networks);
        free(c);
}

static bool match(struct container *c, const char *filters, const struct ctr_list_filters *rf) {
        json_t *f = json_loads(filters, 0, NULL);
        assert_non_null(f);
        bool m = ctr_list_matches(c, f, rf);
        json_decref(f);
        return m;
}

static void test_filters(void **state) {
        (void) state;
        struct ctr_list_filters rf = { .ancestor_ids = json_array() };
        struct container *web = make("aaaa1111", "/web", "2026-01-02T00:00:00Z",
                                     "{\"Image\": \"busybox:latest\", \"Labels\": {\"tier\": \"front\", \"x\": \"\"},"
                                     " \"ExposedPorts\": {\"80/tcp\": {}, \"53/udp\": {}}}",
                                     CTR_RUNNING, 0);
        struct container *job = make("bbbb2222", "/nightly-job", "2026-01-01T00:00:00Z",
                                     "{\"Image\": \"layered\", \"Labels\": {\"tier\": \"back\"}}", CTR_EXITED, 3);

        assert_true(match(web, "{}", &rf));
        /* labels: a key, key=value, and every value given must match */
        assert_true(match(web, "{\"label\": [\"tier\"]}", &rf));
        assert_true(match(web, "{\"label\": [\"tier=front\"]}", &rf));
        assert_false(match(job, "{\"label\": [\"tier=front\"]}", &rf));
        assert_true(match(web, "{\"label\": [\"tier=front\", \"x\"]}", &rf));
        assert_false(match(web, "{\"label\": [\"tier=front\", \"y\"]}", &rf));
        assert_true(match(web, "{\"label\": [\"x=\"]}", &rf));
        /* expose: port[/proto], tcp by default */
        assert_true(match(web, "{\"expose\": [\"80\"]}", &rf));
        assert_true(match(web, "{\"expose\": [\"53/udp\"]}", &rf));
        assert_false(match(web, "{\"expose\": [\"53\"]}", &rf));
        assert_false(match(job, "{\"expose\": [\"80/tcp\"]}", &rf));
        /* ancestor by the name the container was made from */
        assert_true(match(web, "{\"ancestor\": [\"busybox:latest\"]}", &rf));
        assert_false(match(job, "{\"ancestor\": [\"busybox:latest\"]}", &rf));
        /* ancestor by image ID (resolved by the listing) */
        json_array_append_new(rf.ancestor_ids, json_string(job->image_id));
        assert_true(match(job, "{\"ancestor\": [\"nothing-by-this-name\"]}", &rf));
        json_array_clear(rf.ancestor_ids);
        /* name (substring), id (prefix) */
        assert_true(match(job, "{\"name\": [\"nightly\"]}", &rf));
        assert_false(match(web, "{\"name\": [\"nightly\"]}", &rf));
        assert_true(match(job, "{\"id\": [\"bbbb\"]}", &rf));
        assert_false(match(job, "{\"id\": [\"2222\"]}", &rf));
        /* status and exited */
        assert_true(match(web, "{\"status\": [\"running\"]}", &rf));
        assert_true(match(job, "{\"status\": [\"exited\", \"dead\"]}", &rf));
        assert_true(match(job, "{\"exited\": [\"3\"]}", &rf));
        assert_false(match(job, "{\"exited\": [\"0\"]}", &rf));
        assert_false(match(web, "{\"exited\": [\"0\"]}", &rf)); /* running: no exit code to match */
        /* network by name or ID prefix */
        assert_true(match(web, "{\"network\": [\"mynet\"]}", &rf));
        assert_true(match(web, "{\"network\": [\"abcdef\"]}", &rf));
        assert_false(match(web, "{\"network\": [\"bridge\"]}", &rf));
        /* before / since: by Created */
        snprintf(rf.before, sizeof(rf.before), "%s", web->created);
        assert_true(match(job, "{\"before\": [\"web\"]}", &rf));
        assert_false(match(web, "{\"before\": [\"web\"]}", &rf));
        snprintf(rf.since, sizeof(rf.since), "%s", job->created);
        assert_true(match(web, "{\"since\": [\"nightly-job\"]}", &rf));
        assert_false(match(job, "{\"since\": [\"nightly-job\"]}", &rf));
        /* no tasks, no health checks here */
        assert_true(match(web, "{\"is-task\": [\"false\"]}", &rf));
        assert_false(match(web, "{\"is-task\": [\"true\"]}", &rf));
        assert_true(match(web, "{\"health\": [\"none\"]}", &rf));
        /* several filters: all of them */
        assert_true(match(web, "{\"label\": [\"tier\"], \"status\": [\"running\"], \"expose\": [\"80\"]}", &rf));
        assert_false(match(web, "{\"label\": [\"tier\"], \"status\": [\"exited\"]}", &rf));

        json_decref(rf.ancestor_ids);
        destroy(web);
        destroy(job);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_filters),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
