/* test_ctr_restart.c - the restart policy (src/daemon/restart.c) over the typed
 * configuration: which exits each policy restarts, on-failure's retry count, and Docker's
 * back-off (100 ms doubling to a minute, reset by a run of 10 s). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/err.h"
#include "daemon/container.h"

static void test_policy_decisions(void **state) {
        (void) state;
        static const struct {
                enum ctr_restart policy;
                int64_t max;
                int exit_code, count;
                bool want;
        } cases[] = {
                { CTR_RESTART_UNSET, 0, 1, 0, false },        { CTR_RESTART_EMPTY, 0, 1, 0, false },
                { CTR_RESTART_NO, 0, 137, 0, false },         { CTR_RESTART_ALWAYS, 0, 0, 0, true },
                { CTR_RESTART_ALWAYS, 0, 1, 1000, true },     { CTR_RESTART_UNLESS_STOPPED, 0, 0, 5, true },
                { CTR_RESTART_ON_FAILURE, 0, 0, 0, false },   { CTR_RESTART_ON_FAILURE, 0, 1, 99, true },
                { CTR_RESTART_ON_FAILURE, 3, 2, 2, true },    { CTR_RESTART_ON_FAILURE, 3, 2, 3, false },
                { CTR_RESTART_INVALID, 0, 1, 0, false },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                if (ctr_restart_policy_wants(cases[i].policy, cases[i].max, cases[i].exit_code, cases[i].count) !=
                    cases[i].want)
                        fail_msg("case %zu: policy %d max %lld exit %d count %d: want %d", i, (int) cases[i].policy,
                                 (long long) cases[i].max, cases[i].exit_code, cases[i].count, cases[i].want);
}

/* The policy as decoded from a create body, end to end with the decoder. */
static void test_policy_from_host_config(void **state) {
        (void) state;
        json_t *hc = json_loads("{\"RestartPolicy\": {\"Name\": \"on-failure\", \"MaximumRetryCount\": 2}}", 0, NULL);
        struct ctr_config *cc = NULL;
        struct berr err = { 0 };
        assert_int_equal(ctr_config_decode(NULL, hc, NULL, &cc, &err), 0);
        const struct ctr_host_config *h = &cc->hc;
        assert_true(ctr_restart_policy_wants(h->restart_policy.name, h->restart_policy.maximum_retry_count, 3, 1));
        assert_false(ctr_restart_policy_wants(h->restart_policy.name, h->restart_policy.maximum_retry_count, 3, 2));
        assert_false(ctr_restart_policy_wants(h->restart_policy.name, h->restart_policy.maximum_retry_count, 0, 0));
        ctr_config_free(cc);
        json_decref(hc);
}

static void test_backoff(void **state) {
        (void) state;
        int d = ctr_restart_backoff_ms(0, 0.0);
        assert_int_equal(d, 100);
        const int want[] = { 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000 };
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                d = ctr_restart_backoff_ms(d, 0.5);
                assert_int_equal(d, want[i]);
        }
        /* a run of 10 s or more starts over; 9.9 s does not */
        assert_int_equal(ctr_restart_backoff_ms(60000, 10.0), 100);
        assert_int_equal(ctr_restart_backoff_ms(3200, 9.9), 6400);
        assert_int_equal(ctr_restart_backoff_ms(-5, 1.0), 100);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_policy_decisions),
                cmocka_unit_test(test_policy_from_host_config),
                cmocka_unit_test(test_backoff),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
