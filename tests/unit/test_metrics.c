/* Unit tests for common/metrics.c: the API request counters and histograms, events by
 * action, label escaping, and the bound on series. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/metrics.h"

static char *dump(void (*fn)(FILE *)) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_non_null(f);
        fn(f);
        fclose(f);
        return buf;
}

static void test_http_counts_and_buckets(void **s) {
        metrics_http_observe("GET", "/info", 200, 0.003);
        metrics_http_observe("GET", "/info", 200, 0.2);
        metrics_http_observe("POST", "/containers/create", 201, 3.0);
        metrics_http_observe("PATCH", NULL, 404, 0.001);
        char *t = dump(metrics_http_write);
        assert_non_null(strstr(t, "berth_http_requests_total{method=\"GET\",route=\"/info\",code=\"200\"} 2\n"));
        assert_non_null(strstr(t, "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"/info\",code=\"200\","
                                  "le=\"0.005\"} 1\n"));
        assert_non_null(strstr(t, "berth_http_request_duration_seconds_bucket{method=\"GET\",route=\"/info\",code=\"200\","
                                  "le=\"0.25\"} 2\n"));
        assert_non_null(strstr(t, "berth_http_request_duration_seconds_bucket{method=\"POST\",route=\"/containers/create\","
                                  "code=\"201\",le=\"2.5\"} 0\n"));
        assert_non_null(strstr(t, "berth_http_request_duration_seconds_bucket{method=\"POST\",route=\"/containers/create\","
                                  "code=\"201\",le=\"+Inf\"} 1\n"));
        assert_non_null(strstr(t, "berth_http_request_duration_seconds_sum{method=\"POST\",route=\"/containers/create\","
                                  "code=\"201\"} 3.000000000\n"));
        /* an unknown method and an unmatched path keep the label set bounded */
        assert_non_null(strstr(t, "berth_http_requests_total{method=\"OTHER\",route=\"unmatched\",code=\"404\"} 1\n"));
        assert_non_null(strstr(t, "# TYPE berth_http_request_duration_seconds histogram\n"));
        free(t);
}

static void test_series_are_bounded(void **s) {
        for (unsigned i = 0; i < 2000; i++)
                metrics_http_observe("GET", "/_ping", 100 + i, 0.001);
        char *t = dump(metrics_http_write);
        size_t n = 0;
        for (const char *p = t; (p = strstr(p, "berth_http_requests_total{")); p++)
                n++;
        assert_true(n <= 512);
        assert_null(strstr(t, "berth_http_requests_unrecorded_total 0\n"));
        free(t);
}

static void write_label(FILE *f) {
        metrics_write_label(f, "a\"b\\c\nd");
}

static void test_label_escaping(void **s) {
        char *t = dump(write_label);
        assert_string_equal(t, "a\\\"b\\\\c\\nd");
        free(t);
}

static void test_events_by_action(void **s) {
        metrics_event_observe("container", "create");
        metrics_event_observe("container", "exec_start: sh -c true");
        metrics_event_observe("container", "exec_start: ls");
        metrics_event_observe("image", "pull");
        char *t = dump(metrics_events_write);
        assert_non_null(strstr(t, "berth_events_by_action_total{type=\"container\",action=\"create\"} 1\n"));
        assert_non_null(strstr(t, "berth_events_by_action_total{type=\"container\",action=\"exec_start\"} 2\n"));
        assert_non_null(strstr(t, "berth_events_by_action_total{type=\"image\",action=\"pull\"} 1\n"));
        free(t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_http_counts_and_buckets),
                cmocka_unit_test(test_series_are_bounded),
                cmocka_unit_test(test_label_escaping),
                cmocka_unit_test(test_events_by_action),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
