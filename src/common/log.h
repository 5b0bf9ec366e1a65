/* log.h - one line per event: `time=… level=… msg="…" key=value`, to stderr. */
#pragma once

enum log_level {
        LOG_LEVEL_DEBUG,
        LOG_LEVEL_INFO,
        LOG_LEVEL_WARN,
        LOG_LEVEL_ERROR,
        LOG_LEVEL_FATAL,
        _LOG_LEVEL_MAX,
        _LOG_LEVEL_INVALID = -1,
};

/* dockerd's names: debug, info, warn, error, fatal. Returns _LOG_LEVEL_INVALID if unknown. */
enum log_level log_level_from_string(const char *s);
const char *log_level_to_string(enum log_level l);
void log_set_level(enum log_level l);
enum log_level log_get_level(void);

/* @fields is an optional preformatted "key=value key=value" tail. */
void log_emit(enum log_level l, const char *fields, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_emit(LOG_LEVEL_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_emit(LOG_LEVEL_INFO, NULL, __VA_ARGS__)
#define log_warn(...) log_emit(LOG_LEVEL_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_emit(LOG_LEVEL_ERROR, NULL, __VA_ARGS__)
