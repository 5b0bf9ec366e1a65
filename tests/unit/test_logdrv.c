/* Unit tests for the log drivers: dockerd's option checks and tag templates (berthd's
 * side), syslog formats and the forward protocol's MessagePack (the shim's side). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "common/err.h"
#include "daemon/logdrv.h"
#include "shim/logdrv.h"

/* "k=v" pairs to the arrays logdrv_validate takes; the message (or "") it answers. */
static const char *check(const char *type, const char *const *kv) {
        static char msg[BERR_MSG_MAX];
        char *keys[16] = { 0 }, *vals[16] = { 0 };
        size_t n = 0;
        for (; kv && kv[n]; n++) {
                const char *eq = strchr(kv[n], '=');
                keys[n] = strndup(kv[n], (size_t) (eq - kv[n]));
                vals[n] = strdup(eq + 1);
        }
        struct berr err = { 0 };
        int r = logdrv_validate(type, keys, vals, n, &err);
        snprintf(msg, sizeof(msg), "%s", r < 0 ? err.msg : "");
        for (size_t i = 0; i < n; i++) {
                free(keys[i]);
                free(vals[i]);
        }
        return msg;
}

#define KV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_validate_like_dockerd(void **s) {
        assert_string_equal(check("json-file", NULL), "");
        assert_string_equal(check("bogus", NULL), "logger: no log driver named 'bogus' is registered");
        assert_string_equal(check("syslog", KV("max-size=1m")), "unknown log opt 'max-size' for syslog log driver");
        assert_string_equal(check("json-file", KV("syslog-address=udp://x")),
                            "unknown log opt 'syslog-address' for json-file log driver");
        assert_string_equal(check("none", KV("anything=1")), "");
        assert_string_equal(check("json-file", KV("mode=later")), "logger: logging mode not supported: later");
        assert_string_equal(check("json-file", KV("max-buffer-size=1m")),
                            "logger: max-buffer-size option is only supported with 'mode=non-blocking'");
        assert_string_equal(check("gelf", KV("mode=non-blocking", "max-buffer-size=1m", "gelf-address=udp://h:1")), "");
        assert_string_equal(check("gelf", NULL), "gelf-address is a required parameter");
        assert_string_equal(check("gelf", KV("gelf-address=http://h:1")), "gelf: endpoint needs to be TCP or UDP");
        assert_string_equal(check("gelf", KV("gelf-address=udp://h:1", "gelf-compression-type=lz4")),
                            "Unknown gelf compression type: lz4");
        assert_string_equal(check("gelf", KV("gelf-address=udp://h:1", "gelf-tcp-max-reconnect=2")),
                            "gelf-tcp-max-reconnect is only valid for TCP");
        assert_string_equal(check("syslog", KV("syslog-facility=nope")), "invalid syslog facility");
        assert_string_equal(check("syslog", KV("syslog-facility=local7", "syslog-format=rfc5424micro", "tag={{.Name}}",
                                               "labels=a", "env-regex=^A")),
                            "");
        assert_string_equal(check("fluentd", KV("fluentd-async=maybe")),
                            "strconv.ParseBool: parsing \"maybe\": invalid syntax");
        assert_string_equal(check("journald", KV("labels-regex=(")), "error parsing regexp: invalid labels-regex: `(`");
        assert_string_equal(check("journald", KV("cache-max-file=0")), "invalid value for option cache-max-file: 0");
        assert_non_null(strstr(check("gcplogs", NULL), "not supported by berth"));
        assert_string_equal(check("local", KV("max-size=10m", "max-file=2", "compress=false")), "");
        assert_string_equal(check("local", KV("labels=a")), "unknown log opt 'labels' for local log driver");
        assert_string_equal(check("local", KV("max-file=0")), "max-file cannot be less than 1");
        assert_string_equal(check("syslog", KV("syslog-address=tcp+tls://h:1", "syslog-tls-skip-verify=true")), "");
        assert_string_equal(check("syslog", KV("syslog-tls-skip-verify=yes")),
                            "strconv.ParseBool: parsing \"yes\": invalid syntax");
}

static void test_tag_templates(void **s) {
        struct logdrv_info info = { .id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                                    .name = "/web",
                                    .image_name = "busybox:latest",
                                    .image_id = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210" };
        struct berr err = { 0 };
        char *t = NULL;
        assert_int_equal(logdrv_expand_tag(NULL, &info, &t, &err), 0);
        assert_string_equal(t, "0123456789ab");
        free(t);
        assert_int_equal(logdrv_expand_tag("{{.Name}}/{{ .ImageName }}/{{.ImageID}}/{{.DaemonName}}", &info, &t, &err), 0);
        assert_string_equal(t, "web/busybox:latest/fedcba987654/docker");
        free(t);
        assert_int_equal(logdrv_expand_tag("x{{.FullID}}", &info, &t, &err), 0);
        assert_string_equal(t, "x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        free(t);
        t = NULL;
        assert_true(logdrv_expand_tag("{{.Bogus}}", &info, &t, &err) < 0);
        assert_non_null(strstr(err.msg, "can't evaluate field Bogus"));
        assert_true(logdrv_expand_tag("{{.Name", &info, &t, &err) < 0);
        assert_null(t);
}

static void test_syslog_formats(void **s) {
        struct log_msg m = { .stream = LOG_STREAM_STDERR, .line = "boom", .len = 4, .ts = { 1700000000, 123456000 } };
        char out[512];
        size_t n = log_syslog_format("", false, 3, "host", "tag", 42, &m, out, sizeof(out));
        out[n] = 0;
        assert_string_equal(out, "<27>Nov 14 22:13:20 tag[42]: boom\n");
        n = log_syslog_format("rfc3164", false, 16, "host", "tag", 42, &m, out, sizeof(out));
        out[n] = 0;
        assert_string_equal(out, "<131>Nov 14 22:13:20 host tag[42]: boom\n");
        m.stream = LOG_STREAM_STDOUT;
        n = log_syslog_format("rfc5424", false, 3, "host", "tag", 42, &m, out, sizeof(out));
        out[n] = 0;
        assert_string_equal(out, "<30>1 2023-11-14T22:13:20Z host tag 42 tag - boom\n");
        n = log_syslog_format("rfc5424micro", true, 3, "host", "tag", 42, &m, out, sizeof(out));
        out[n] = 0;
        assert_string_equal(out, "57 <30>1 2023-11-14T22:13:20.123456Z host tag 42 tag - boom\n");
}

static void test_fluentd_msgpack(void **s) {
        json_t *rec = json_pack("{s:s, s:s}", "log", "hi", "source", "stdout");
        struct timespec ts = { 0x01020304, 5 };
        unsigned char out[128];
        size_t n = log_fluentd_encode("t", &ts, false, rec, (char *) out, sizeof(out));
        static const unsigned char want[] = { 0x93, 0xa1, 't', 0xce, 1, 2, 3, 4, 0x82, 0xa3, 'l', 'o', 'g', 0xa2, 'h',
                                              'i', 0xa6, 's', 'o', 'u', 'r', 'c', 'e', 0xa6, 's', 't', 'd', 'o', 'u', 't' };
        assert_int_equal(n, sizeof(want));
        assert_memory_equal(out, want, sizeof(want));
        n = log_fluentd_encode("t", &ts, true, rec, (char *) out, sizeof(out));
        static const unsigned char evt[] = { 0xd7, 0x00, 1, 2, 3, 4, 0, 0, 0, 5 };
        assert_memory_equal(out + 3, evt, sizeof(evt));
        assert_int_equal(log_fluentd_encode("t", &ts, true, rec, (char *) out, 10), 0); /* does not fit */
        json_decref(rec);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_validate_like_dockerd),
                cmocka_unit_test(test_tag_templates),
                cmocka_unit_test(test_syslog_formats),
                cmocka_unit_test(test_fluentd_msgpack),
        };
        return cmocka_run_group_tests_name("logdrv", tests, NULL, NULL);
}
