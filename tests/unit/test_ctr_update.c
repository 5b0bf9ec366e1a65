/* test_ctr_update.c - docker update's copy-on-write of a container's configuration
 * (src/daemon/container.c): a replaced config stays readable while anyone else holds the
 * container, a revert brings the previous one back, and retired configs are freed once only
 * the table and the updater hold it (ASan checks the reads and that nothing leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>

#include "common/err.h"
#include "daemon/container.h"
#include "daemon/daemon.h"

static struct ctr_config *config_with_memory(int64_t mem) {
        struct berr err = { 0 };
        json_t *c = json_object(), *h = json_pack("{s:I}", "Memory", (json_int_t) mem);
        struct ctr_config *cc = NULL;
        assert_int_equal(ctr_config_decode(c, h, NULL, &cc, &err), 0);
        json_decref(c);
        json_decref(h);
        return cc;
}

static void test_update_replaces_config_copy_on_write(void **state) {
        (void) state;
        struct daemon *d = calloc(1, sizeof(*d));
        assert_non_null(d);
        pthread_mutex_init(&d->ctr_lock, NULL);
        struct container *c = calloc(1, sizeof(*c));
        assert_non_null(c);
        pthread_mutex_init(&c->lock, NULL);
        c->refs = 3; /* the table's, a reader's, the updater's */
        c->cc = config_with_memory(64 << 20);
        const struct ctr_config *held = c->cc; /* a reader without the lock */

        pthread_mutex_lock(&c->lock);
        assert_int_equal(ctr_config_replace(c, config_with_memory(128 << 20)), 0);
        pthread_mutex_unlock(&c->lock);
        assert_int_equal(c->cc->hc.memory, 128 << 20);
        ctr_config_reclaim(d, c); /* someone else holds it: the old config stays */
        assert_int_equal(c->n_cc_retired, 1);
        assert_int_equal(held->hc.memory, 64 << 20);

        /* a record that could not be written: the previous config is current again */
        pthread_mutex_lock(&c->lock);
        ctr_config_revert(c);
        pthread_mutex_unlock(&c->lock);
        assert_ptr_equal(c->cc, held);
        assert_int_equal(c->n_cc_retired, 1); /* the new one, which a reader may have seen */

        c->refs = 2; /* the reader went */
        ctr_config_reclaim(d, c);
        assert_int_equal(c->n_cc_retired, 0);
        assert_null(c->cc_retired);
        assert_int_equal(c->cc->hc.memory, 64 << 20);

        ctr_config_free(c->cc);
        pthread_mutex_destroy(&c->lock);
        free(c);
        pthread_mutex_destroy(&d->ctr_lock);
        free(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_update_replaces_config_copy_on_write),
        };
        return cmocka_run_group_tests_name("ctr_update", tests, NULL, NULL);
}
