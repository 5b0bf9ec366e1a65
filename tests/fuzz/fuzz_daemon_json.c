/* fuzz_daemon_json.c - daemon.json as an administrator (or a bad editor) leaves it. */
#include "daemon/config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct daemon_config cfg;
        struct berr err = {};
        daemon_config_init(&cfg);
        (void) daemon_config_merge_json(&cfg, (const char *) data, size, &err);
        daemon_config_done(&cfg);
        return 0;
}
