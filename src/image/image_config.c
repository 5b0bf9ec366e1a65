/* image_config.c - Go type tables of container.Config and image.Image (moby v26, API 1.45). */
#include "image_config.h"

#include "common/err.h"

/* dockerspec.HealthcheckConfig (container.HealthConfig). */
static const struct json_field healthcheck_fields[] = {
        { "Test", &json_type_string_slice },
        { "Interval", &json_type_duration },
        { "Timeout", &json_type_duration },
        { "StartPeriod", &json_type_duration },
        { "StartInterval", &json_type_duration },
        { "Retries", &json_type_int },
        { 0 },
};
static const struct json_type healthcheck_type = JSON_TYPE_STRUCT("v1.HealthcheckConfig", "HealthcheckConfig", healthcheck_fields);
static const struct json_type port_set_type = JSON_TYPE_MAP("nat.PortSet", &json_type_empty_struct);
static const struct json_type volume_set_type = JSON_TYPE_MAP("map[string]struct {}", &json_type_empty_struct);

static const struct json_field config_fields[] = {
        { "Hostname", &json_type_string },
        { "Domainname", &json_type_string },
        { "User", &json_type_string },
        { "AttachStdin", &json_type_bool },
        { "AttachStdout", &json_type_bool },
        { "AttachStderr", &json_type_bool },
        { "ExposedPorts", &port_set_type },
        { "Tty", &json_type_bool },
        { "OpenStdin", &json_type_bool },
        { "StdinOnce", &json_type_bool },
        { "Env", &json_type_string_slice },
        { "Cmd", &json_type_strslice },
        { "Healthcheck", &healthcheck_type },
        { "ArgsEscaped", &json_type_bool },
        { "Image", &json_type_string },
        { "Volumes", &volume_set_type },
        { "WorkingDir", &json_type_string },
        { "Entrypoint", &json_type_strslice },
        { "NetworkDisabled", &json_type_bool },
        { "MacAddress", &json_type_string },
        { "OnBuild", &json_type_string_slice },
        { "Labels", &json_type_string_map },
        { "StopSignal", &json_type_string },
        { "StopTimeout", &json_type_int },
        { "Shell", &json_type_strslice },
        { 0 },
};
const struct json_type image_container_config_type = JSON_TYPE_STRUCT("container.Config", "Config", config_fields);

static const struct json_type time_type = JSON_TYPE_LEAF(JK_STRING, "time.Time", 0);

static const struct json_field rootfs_fields[] = {
        { "type", &json_type_string },
        { "diff_ids", &json_type_string_slice },
        { 0 },
};
static const struct json_type rootfs_type = JSON_TYPE_STRUCT("image.RootFS", "RootFS", rootfs_fields);

static const struct json_field history_fields[] = {
        { "created", &time_type },
        { "author", &json_type_string },
        { "created_by", &json_type_string },
        { "comment", &json_type_string },
        { "empty_layer", &json_type_bool },
        { 0 },
};
static const struct json_type history_type = JSON_TYPE_STRUCT("image.History", "History", history_fields);
static const struct json_type history_list_type = JSON_TYPE_SLICE("[]image.History", &history_type);

static const struct json_field image_fields[] = {
        { "id", &json_type_string },
        { "parent", &json_type_string },
        { "comment", &json_type_string },
        { "created", &time_type },
        { "container", &json_type_string },
        { "container_config", &image_container_config_type },
        { "docker_version", &json_type_string },
        { "author", &json_type_string },
        { "config", &image_container_config_type },
        { "architecture", &json_type_string },
        { "variant", &json_type_string },
        { "os", &json_type_string },
        { "Size", &json_type_int64 },
        { "rootfs", &rootfs_type },
        { "history", &history_list_type },
        { "os.version", &json_type_string },
        { "os.features", &json_type_string_slice },
        { 0 },
};
static const struct json_type image_type = JSON_TYPE_STRUCT("image.Image", "Image", image_fields);

int image_config_check(json_t *config, struct berr *err) {
        int r = json_check_type(config, &image_type, err);
        return r < 0 ? berr_wrap(err, "invalid image config") : 0;
}
