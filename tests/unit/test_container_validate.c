/* test_container_validate.c - POST /containers/create bodies and image configs checked as
 * dockerd decodes and validates them: wrongly typed fields get Go's decode error, values
 * dockerd refuses at create are refused, and what clients send by default passes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "daemon/container.h"
#include "image/image_config.h"

/* The message ctr_validate_create gives for @body, or "" when it passes. */
static const char *verdict(const char *body) {
        static struct berr err;
        memset(&err, 0, sizeof(err));
        json_error_t jerr;
        _cleanup_json_ json_t *b = json_loads(body, 0, &jerr);
        assert_non_null(b);
        int r = ctr_validate_create(b, NULL, &err);
        if (r == 0)
                return "";
        assert_int_equal(err.kind, BERR_INVALID);
        return err.msg;
}

static void test_validate_wrong_types_get_go_decode_errors(void **state) {
        assert_string_equal(verdict("{\"Image\":\"busybox\",\"Labels\":{\"a\":1}}"),
                            "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Labels of type string");
        assert_string_equal(verdict("{\"HostConfig\":{\"Privileged\":\"x\"}}"),
                            "json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Privileged of type bool");
        assert_string_equal(verdict("{\"HostConfig\":{\"Memory\":\"1g\"}}"),
                            "json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64");
        assert_string_equal(verdict("{\"HostConfig\":{\"Memory\":1.5}}"),
                            "json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64");
        assert_string_equal(verdict("{\"HostConfig\":{\"BlkioWeight\":70000}}"),
                            "json: cannot unmarshal number 70000 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16");
        assert_string_equal(verdict("{\"Healthcheck\":\"x\"}"),
                            "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Healthcheck of type "
                            "v1.HealthcheckConfig");
        assert_string_equal(verdict("{\"Healthcheck\":{\"Interval\":\"1s\"}}"),
                            "json: cannot unmarshal string into Go struct field HealthcheckConfig.Healthcheck.Interval of type "
                            "time.Duration");
        assert_string_equal(verdict("{\"ExposedPorts\":{\"80/tcp\":1}}"),
                            "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.ExposedPorts of type struct {}");
        assert_string_equal(verdict("{\"Env\":[\"A=1\",2]}"),
                            "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Env of type string");
        assert_string_equal(verdict("{\"Cmd\":[\"sh\",1]}"),
                            "json: cannot unmarshal array into Go struct field ContainerConfigWrapper.Cmd of type string");
        assert_string_equal(verdict("{\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"ReadOnly\":\"yes\"}]}}"),
                            "json: cannot unmarshal string into Go struct field Mount.HostConfig.Mounts.ReadOnly of type bool");
        assert_string_equal(verdict("{\"NetworkingConfig\":{\"EndpointsConfig\":{\"n\":{\"Aliases\":\"a\"}}}}"),
                            "json: cannot unmarshal string into Go struct field EndpointSettings.NetworkingConfig.EndpointsConfig."
                            "Aliases of type []string");
        /* Go matches field names without regard to case. */
        assert_string_equal(verdict("{\"labels\":{\"a\":true}}"),
                            "json: cannot unmarshal bool into Go struct field ContainerConfigWrapper.Labels of type string");
}

static void test_validate_accepts_what_clients_send(void **state) {
        /* null anywhere, empty maps and lists, unknown fields, a string Cmd (StrSlice) */
        assert_string_equal(verdict("{\"Image\":\"busybox\",\"Labels\":null,\"Env\":null,\"Cmd\":\"true\",\"Entrypoint\":null,"
                                    "\"HostConfig\":null,\"NetworkingConfig\":null,\"Healthcheck\":null,\"Volumes\":{},"
                                    "\"ExposedPorts\":{\"80/tcp\":{}},\"NoSuchField\":[1]}"), "");
        assert_string_equal(verdict("{\"Image\":\"busybox\",\"HostConfig\":{\"Binds\":[],\"Memory\":0,\"MemorySwappiness\":null,"
                                    "\"RestartPolicy\":{\"Name\":\"\",\"MaximumRetryCount\":0},\"LogConfig\":{\"Type\":\"\","
                                    "\"Config\":{}},\"ConsoleSize\":[0,0],\"PidsLimit\":null,\"Isolation\":\"\","
                                    "\"NetworkMode\":\"default\",\"CgroupnsMode\":\"private\",\"IpcMode\":\"private\","
                                    "\"OomKillDisable\":false,\"Runtime\":\"runc\"},\"NetworkingConfig\":{\"EndpointsConfig\":{}}}"),
                            "");
        assert_string_equal(verdict("{\"Image\":\"busybox\",\"MacAddress\":\"02:42:ac:11:00:02\",\"StopSignal\":\"SIGRTMIN+3\","
                                    "\"Healthcheck\":{\"Test\":[\"NONE\"],\"Interval\":0},\"WorkingDir\":\"/app\","
                                    "\"HostConfig\":{\"ExtraHosts\":[\"h:10.0.0.1\",\"g:host-gateway\",\"six:::1\"],"
                                    "\"RestartPolicy\":{\"Name\":\"on-failure\",\"MaximumRetryCount\":3}}}"), "");
}

static void test_validate_string_strslice_becomes_array(void **state) {
        struct berr err = { 0 };
        _cleanup_json_ json_t *b = json_pack("{s:s, s:{s:s}}", "Cmd", "top", "HostConfig", "CapAdd", "NET_ADMIN");
        assert_int_equal(ctr_validate_create(b, NULL, &err), 0);
        assert_string_equal(json_string_value(json_array_get(json_object_get(b, "Cmd"), 0)), "top");
        assert_true(json_is_array(json_object_get(json_object_get(b, "HostConfig"), "CapAdd")));
}

static void test_validate_values_dockerd_refuses_at_create(void **state) {
        assert_string_equal(verdict("{\"HostConfig\":{\"Memory\":-1}}"), "Minimum memory limit allowed is 6MB");
        char body[512];
        char host[301];
        memset(host, 'h', 300);
        host[300] = '\0';
        snprintf(body, sizeof(body), "{\"Hostname\":\"%s\"}", host);
        assert_non_null(strstr(verdict(body), "is too long (maximum 64 bytes)"));
        assert_string_equal(verdict("{\"StopSignal\":\"SIGFOO\"}"), "invalid signal: SIGFOO");
        /* HostConfig.Runtime is checked against the daemon's runtimes at create
         * (ctr_runtime_defaults; tests/e2e/test_validate.py, test_runtimes.py). */
        assert_string_equal(verdict("{\"HostConfig\":{\"Runtime\":\"custom\"}}"), "");
        assert_string_equal(verdict("{\"HostConfig\":{\"Isolation\":\"bogus\"}}"),
                            "Invalid isolation: \"bogus\" - linux only supports 'default'");
        assert_string_equal(verdict("{\"MacAddress\":\"zz\"}"), "invalid MAC address zz");
        assert_string_equal(verdict("{\"HostConfig\":{\"ExtraHosts\":[\"bad\"]}}"), "bad format for add-host: \"bad\"");
        assert_string_equal(verdict("{\"HostConfig\":{\"ExtraHosts\":[\"h:1.2.3\"]}}"),
                            "invalid IP address in add-host: \"1.2.3\"");
        assert_string_equal(verdict("{\"Healthcheck\":{\"Interval\":-1}}"), "Interval in Healthcheck cannot be less than 1ms");
        assert_string_equal(verdict("{\"Healthcheck\":{\"Retries\":-1}}"), "Retries in Healthcheck cannot be negative");
        assert_string_equal(verdict("{\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"x\"}}}"),
                            "invalid restart policy: unknown policy 'x'; use one of 'no', 'always', 'on-failure', or "
                            "'unless-stopped'");
        assert_string_equal(verdict("{\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"always\",\"MaximumRetryCount\":-1}}}"),
                            "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be "
                            "negative");
        assert_string_equal(verdict("{\"WorkingDir\":\"rel\"}"),
                            "the working directory 'rel' is invalid, it needs to be an absolute path");
        assert_string_equal(verdict("{\"Env\":[\"=x\"]}"), "invalid environment variable: =x");
        assert_string_equal(verdict("{\"HostConfig\":{\"OomScoreAdj\":1001}}"),
                            "Invalid value 1001, range for oom score adj is [-1000, 1000]");
        assert_string_equal(verdict("{\"HostConfig\":{\"ShmSize\":-1}}"), "SHM size can not be less than 0");
        assert_string_equal(verdict("{\"HostConfig\":{\"IpcMode\":\"bogus\"}}"), "invalid IPC mode: bogus");
        assert_string_equal(verdict("{\"HostConfig\":{\"UTSMode\":\"bogus\"}}"), "invalid UTS mode: bogus");
}

static void test_image_config_check_refuses_wrong_types(void **state) {
        struct berr err = { 0 };
        _cleanup_json_ json_t *bad = json_loads("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Labels\":{\"a\":1},"
                                                "\"Cmd\":\"sh\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", 0, NULL);
        assert_true(image_config_check(bad, &err) < 0);
        assert_string_equal(err.msg, "invalid image config: json: cannot unmarshal number into Go struct field "
                                     "Config.config.Labels of type string");
        _cleanup_json_ json_t *hist = json_loads("{\"history\":[{\"empty_layer\":\"yes\"}]}", 0, NULL);
        assert_true(image_config_check(hist, &err) < 0);
        _cleanup_json_ json_t *good = json_loads("{\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"sh\"],\"Labels\":null,"
                                                 "\"Env\":[\"PATH=/bin\"]},\"container_config\":{},\"history\":[{\"created\":"
                                                 "\"2024-01-01T00:00:00Z\",\"empty_layer\":true}]}", 0, NULL);
        assert_int_equal(image_config_check(good, &err), 0);
}

/* The message ctr_validate_update gives for @body, or "" when it passes. */
static const char *update_verdict(const char *body) {
        static struct berr err;
        memset(&err, 0, sizeof(err));
        json_error_t jerr;
        _cleanup_json_ json_t *b = json_loads(body, 0, &jerr);
        assert_non_null(b);
        _cleanup_ctr_config_ struct ctr_config *req = NULL;
        int r = ctr_validate_update(b, &req, &err);
        if (r == 0) {
                assert_non_null(req);
                return "";
        }
        assert_int_equal(err.kind, BERR_INVALID);
        return err.msg;
}

static void test_validate_update_as_dockerd_checks_an_update(void **state) {
        assert_string_equal(update_verdict("{\"Memory\":67108864,\"MemorySwap\":134217728,\"CpuShares\":512,"
                                           "\"PidsLimit\":-1,\"RestartPolicy\":{\"Name\":\"on-failure\","
                                           "\"MaximumRetryCount\":3}}"),
                            "");
        /* an update may raise the swap alone: the memory limit may be set already */
        assert_string_equal(update_verdict("{\"MemorySwap\":134217728}"), "");
        assert_string_equal(update_verdict("{\"RestartPolicy\":null}"), "");
        assert_string_equal(update_verdict("{\"Memory\":1048576}"), "Minimum memory limit allowed is 6MB");
        assert_string_equal(update_verdict("{\"Memory\":67108864,\"MemorySwap\":33554432}"),
                            "Minimum memoryswap limit should be larger than memory limit, see usage");
        assert_string_equal(update_verdict("{\"NanoCpus\":1000000000,\"CpuPeriod\":50000}"),
                            "Conflicting options: Nano CPUs and CPU Period cannot both be set");
        assert_string_equal(update_verdict("{\"BlkioWeight\":5}"), "Range of blkio weight is from 10 to 1000");
        assert_string_equal(update_verdict("{\"RestartPolicy\":{\"Name\":\"always\",\"MaximumRetryCount\":2}}"),
                            "invalid restart policy: maximum retry count can only be used with 'on-failure'");
        assert_string_equal(update_verdict("{\"RestartPolicy\":{\"Name\":\"later\"}}"),
                            "invalid restart policy: unknown policy 'later'; use one of 'no', 'always', 'on-failure', "
                            "or 'unless-stopped'");
        assert_non_null(strstr(update_verdict("{\"Memory\":\"1g\"}"), "cannot unmarshal string"));
        assert_non_null(strstr(update_verdict("{\"RestartPolicy\":\"always\"}"), "cannot unmarshal string"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_validate_wrong_types_get_go_decode_errors),
                cmocka_unit_test(test_validate_accepts_what_clients_send),
                cmocka_unit_test(test_validate_string_strslice_becomes_array),
                cmocka_unit_test(test_validate_values_dockerd_refuses_at_create),
                cmocka_unit_test(test_validate_update_as_dockerd_checks_an_update),
                cmocka_unit_test(test_image_config_check_refuses_wrong_types),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
