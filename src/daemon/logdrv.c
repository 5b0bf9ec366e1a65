/* logdrv.c - log drivers on berthd's side: options checked as dockerd's ValidateLogOpts
 * and each driver's validator do, tags and extra attributes made here once, the rest
 * handed to the shim, which writes (see logdrv.h, src/shim/logdrv.c). */
#include "logdrv.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"

#define INVALID(...) berr_set(err, BERR_INVALID, EINVAL, __VA_ARGS__)

const char *const logdrv_names[] = { "fluentd", "gelf", "journald", "json-file", "local", "none", "syslog", NULL };

static struct {
        int (*fn)(void *ctx, const char *name);
        void *ctx;
} plugin_lookup;

void logdrv_set_plugin_lookup(int (*fn)(void *ctx, const char *name), void *ctx) {
        plugin_lookup.fn = fn;
        plugin_lookup.ctx = ctx;
}

bool logdrv_is_builtin(const char *type) {
        for (size_t i = 0; logdrv_names[i]; i++)
                if (strcmp(type, logdrv_names[i]) == 0)
                        return true;
        return false;
}

/* dockerd's drivers berth has not (yet): named honestly. */
static const char *const missing_drivers[] = { "awslogs", "splunk", "etwlogs", "gcplogs", "logentries", NULL };

static const char *const common_keys[] = { "tag", "labels", "labels-regex", "env", "env-regex", NULL };
static const char *const json_file_keys[] = { "max-file", "max-size", "compress", NULL };
static const char *const syslog_keys[] = { "syslog-address", "syslog-facility", "syslog-tls-ca-cert",
                                           "syslog-tls-cert", "syslog-tls-key", "syslog-tls-skip-verify",
                                           "syslog-format", NULL };
static const char *const gelf_keys[] = { "gelf-address", "gelf-compression-type", "gelf-compression-level",
                                         "gelf-tcp-max-reconnect", "gelf-tcp-reconnect-delay", NULL };
static const char *const fluentd_keys[] = { "fluentd-address", "fluentd-async", "fluentd-async-connect",
                                            "fluentd-buffer-limit", "fluentd-retry-wait", "fluentd-max-retries",
                                            "fluentd-sub-second-precision", "fluentd-request-ack",
                                            "fluentd-write-timeout", NULL };
static const char *const journald_keys[] = { NULL };
static const char *const local_keys[] = { "max-file", "max-size", "compress", NULL };

static bool in_list(const char *s, const char *const *list) {
        for (; *list; list++)
                if (strcmp(s, *list) == 0)
                        return true;
        return false;
}

static const char *get(char *const *keys, char *const *vals, size_t n, const char *k) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(keys[i], k) == 0)
                        return vals[i];
        return NULL;
}

/* go-units RAMInBytes: "20m", "1.5GiB", "512" (binary multiples). */
static int ram_in_bytes(const char *s, int64_t *ret) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno || v < 0)
                return -EINVAL;
        while (*end == ' ')
                end++;
        double mult = 1;
        switch (tolower((unsigned char) *end)) {
        case 'k': mult = 1024.0; end++; break;
        case 'm': mult = 1024.0 * 1024; end++; break;
        case 'g': mult = 1024.0 * 1024 * 1024; end++; break;
        case 't': mult = 1024.0 * 1024 * 1024 * 1024; end++; break;
        case 'p': mult = 1024.0 * 1024 * 1024 * 1024 * 1024; end++; break;
        case 0: break;
        default:
                if (tolower((unsigned char) *end) != 'b')
                        return -EINVAL;
        }
        if (mult > 1 && tolower((unsigned char) *end) == 'i')
                end++;
        if (tolower((unsigned char) *end) == 'b')
                end++;
        if (*end || v * mult > 9e18)
                return -EINVAL;
        *ret = (int64_t) (v * mult);
        return 0;
}

/* Go's strconv.ParseBool. */
static int parse_bool(const char *s, bool *ret) {
        static const char *const t[] = { "1", "t", "T", "true", "TRUE", "True", NULL };
        static const char *const f[] = { "0", "f", "F", "false", "FALSE", "False", NULL };
        if (in_list(s, t))
                return *ret = true, 0;
        if (in_list(s, f))
                return *ret = false, 0;
        return -EINVAL;
}

static int parse_int(const char *s, long long *ret) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (!*s || *end || errno)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int check_regex(const char *k, const char *v, struct berr *err) {
        regex_t re;
        if (regcomp(&re, v, REG_EXTENDED | REG_NOSUB) != 0)
                return INVALID("error parsing regexp: invalid %s: `%s`", k, v);
        regfree(&re);
        return 0;
}

static const char *const facilities[] = { "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
                                          "uucp", "cron", "authpriv", "ftp", "", "", "", "", "local0", "local1",
                                          "local2", "local3", "local4", "local5", "local6", "local7", NULL };

static int facility_code(const char *v) {
        long long n;
        if (parse_int(v, &n) == 0)
                return n >= 0 && n <= 23 && *facilities[n] ? (int) n : -1;
        for (int i = 0; facilities[i]; i++)
                if (*facilities[i] && strcmp(facilities[i], v) == 0)
                        return i;
        return -1;
}

/* "scheme://host:port" or "scheme:///path": 0, with the scheme and rest in @scheme/@rest. */
static bool split_url(const char *v, char *scheme, size_t ssize, const char **rest) {
        const char *p = strstr(v, "://");
        if (!p || (size_t) (p - v) >= ssize)
                return false;
        memcpy(scheme, v, (size_t) (p - v));
        scheme[p - v] = 0;
        *rest = p + 3;
        return true;
}

static int check_syslog(char *const *keys, char *const *vals, size_t n, struct berr *err) {
        const char *a = get(keys, vals, n, "syslog-address");
        if (a && *a) {
                char scheme[32];
                const char *rest;
                if (!split_url(a, scheme, sizeof(scheme), &rest))
                        return INVALID("unsupported scheme: '%s'", a);
                if (strcmp(scheme, "unix") && strcmp(scheme, "unixgram") && strcmp(scheme, "udp") &&
                    strcmp(scheme, "tcp") && strcmp(scheme, "tcp+tls"))
                        return INVALID("unsupported scheme: '%s'", scheme);
                if (!*rest)
                        return INVALID("syslog-address: no host or path in '%s'", a);
        }
        const char *f = get(keys, vals, n, "syslog-facility");
        if (f && facility_code(f) < 0)
                return INVALID("invalid syslog facility");
        const char *fmt = get(keys, vals, n, "syslog-format");
        if (fmt && *fmt && strcmp(fmt, "rfc3164") && strcmp(fmt, "rfc5424") && strcmp(fmt, "rfc5424micro"))
                return INVALID("Invalid syslog format: %s. Valid formats are rfc3164 and rfc5424", fmt);
        const char *sv = get(keys, vals, n, "syslog-tls-skip-verify");
        bool b;
        if (sv && parse_bool(sv, &b) < 0)
                return INVALID("strconv.ParseBool: parsing \"%s\": invalid syntax", sv);
        return 0;
}

static int check_gelf(char *const *keys, char *const *vals, size_t n, struct berr *err) {
        const char *a = get(keys, vals, n, "gelf-address");
        char scheme[32];
        const char *rest;
        if (!a)
                return INVALID("gelf-address is a required parameter");
        if (!split_url(a, scheme, sizeof(scheme), &rest) || (strcmp(scheme, "udp") && strcmp(scheme, "tcp")))
                return INVALID("gelf: endpoint needs to be TCP or UDP");
        if (!strchr(rest, ':'))
                return INVALID("gelf: please provide gelf-address as proto://host:port");
        bool tcp = strcmp(scheme, "tcp") == 0;
        long long v;
        const char *s;
        if ((s = get(keys, vals, n, "gelf-compression-level")) && (parse_int(s, &v) < 0 || v < -1 || v > 9))
                return INVALID("gelf-compression-level must be between -1 and 9");
        if ((s = get(keys, vals, n, "gelf-compression-type")) && strcmp(s, "gzip") && strcmp(s, "zlib") &&
            strcmp(s, "none"))
                return INVALID("Unknown gelf compression type: %s", s);
        if ((s = get(keys, vals, n, "gelf-tcp-max-reconnect"))) {
                if (!tcp)
                        return INVALID("gelf-tcp-max-reconnect is only valid for TCP");
                if (parse_int(s, &v) < 0 || v < -1)
                        return INVALID("gelf-tcp-max-reconnect must be a positive integer");
        }
        if ((s = get(keys, vals, n, "gelf-tcp-reconnect-delay"))) {
                if (!tcp)
                        return INVALID("gelf-tcp-reconnect-delay is only valid for TCP");
                if (parse_int(s, &v) < 0 || v < 0)
                        return INVALID("gelf-tcp-reconnect-delay must be a positive integer");
        }
        if (tcp && (s = get(keys, vals, n, "gelf-compression-type")) && strcmp(s, "none"))
                return INVALID("gelf-compression-type is only valid for UDP"); /* dockerd's words */
        return 0;
}

static int check_fluentd(char *const *keys, char *const *vals, size_t n, struct berr *err) {
        const char *a = get(keys, vals, n, "fluentd-address");
        if (a && *a) {
                char scheme[32];
                const char *rest;
                if (split_url(a, scheme, sizeof(scheme), &rest)) {
                        if (strcmp(scheme, "tcp") && strcmp(scheme, "unix") && strcmp(scheme, "tls"))
                                return INVALID("unsupported scheme: '%s'", scheme);
                        if (strcmp(scheme, "tls") == 0)
                                return INVALID("fluentd-address %s: TLS is not supported by berth", a);
                }
        }
        static const char *const bools[] = { "fluentd-async", "fluentd-async-connect", "fluentd-sub-second-precision",
                                             "fluentd-request-ack" };
        bool b;
        for (size_t i = 0; i < sizeof(bools) / sizeof(*bools); i++) {
                const char *s = get(keys, vals, n, bools[i]);
                if (s && parse_bool(s, &b) < 0)
                        return INVALID("strconv.ParseBool: parsing \"%s\": invalid syntax", s);
        }
        const char *s;
        int64_t sz;
        long long v;
        if ((s = get(keys, vals, n, "fluentd-buffer-limit")) && ram_in_bytes(s, &sz) < 0)
                return INVALID("invalid size: '%s'", s);
        if ((s = get(keys, vals, n, "fluentd-max-retries")) && (parse_int(s, &v) < 0 || v < 0))
                return INVALID("strconv.ParseUint: parsing \"%s\": invalid syntax", s);
        if ((s = get(keys, vals, n, "fluentd-retry-wait")) && !strchr("0123456789", *s))
                return INVALID("time: invalid duration \"%s\"", s);
        if ((s = get(keys, vals, n, "fluentd-request-ack")) && parse_bool(s, &b) == 0 && b)
                return INVALID("log opt 'fluentd-request-ack' is not supported by berth");
        if ((s = get(keys, vals, n, "fluentd-write-timeout")))
                return INVALID("log opt 'fluentd-write-timeout' is not supported by berth");
        return 0;
}

static bool host_is_loopback(const char *hostport) {
        if (strncmp(hostport, "localhost", 9) == 0 && (hostport[9] == ':' || hostport[9] == '\0' || hostport[9] == '/'))
                return true;
        return strncmp(hostport, "127.", 4) == 0 || strncmp(hostport, "[::1]", 5) == 0;
}

const char *logdrv_loopback_address(const char *type, char *const *keys, char *const *vals, size_t n) {
        const char *a = NULL;
        char scheme[32];
        const char *rest = NULL;
        if (strcmp(type, "syslog") == 0 || strcmp(type, "gelf") == 0) {
                a = get(keys, vals, n, strcmp(type, "syslog") == 0 ? "syslog-address" : "gelf-address");
                if (!a || !split_url(a, scheme, sizeof(scheme), &rest) || strncmp(scheme, "unix", 4) == 0)
                        return NULL; /* syslog's default is /dev/log */
        } else if (strcmp(type, "fluentd") == 0) {
                a = get(keys, vals, n, "fluentd-address");
                if (!a || !*a)
                        return "localhost:24224"; /* fluentd's default */
                if (split_url(a, scheme, sizeof(scheme), &rest) && strcmp(scheme, "unix") == 0)
                        return NULL;
                if (!rest)
                        rest = a;
        } else
                return NULL;
        return host_is_loopback(rest) ? a : NULL;
}

static int check_json_file(char *const *keys, char *const *vals, size_t n, struct berr *err) {
        const char *s;
        int64_t sz;
        long long v;
        bool b;
        if ((s = get(keys, vals, n, "max-size")) && ram_in_bytes(s, &sz) < 0)
                return INVALID("invalid size: '%s'", s);
        if ((s = get(keys, vals, n, "max-file"))) {
                if (parse_int(s, &v) < 0)
                        return INVALID("strconv.Atoi: parsing \"%s\": invalid syntax", s);
                if (v < 1)
                        return INVALID("max-file cannot be less than 1");
        }
        if ((s = get(keys, vals, n, "compress"))) {
                if (parse_bool(s, &b) < 0)
                        return INVALID("error reading compress log option: strconv.ParseBool: parsing \"%s\": invalid syntax", s);
                if (b)
                        return INVALID("log opt 'compress' is not supported by berth's json-file driver");
        }
        return 0;
}

static int check_cache(char *const *keys, char *const *vals, size_t n, struct berr *err) {
        const char *s;
        bool b;
        int64_t sz;
        long long v;
        if ((s = get(keys, vals, n, "cache-disabled")) && parse_bool(s, &b) < 0)
                return INVALID("invalid value for option cache-disabled: %s", s);
        if ((s = get(keys, vals, n, "cache-max-size")) && (ram_in_bytes(s, &sz) < 0 || sz <= 0))
                return INVALID("invalid value for option cache-max-size: %s", s);
        if ((s = get(keys, vals, n, "cache-max-file")) && (parse_int(s, &v) < 0 || v < 1))
                return INVALID("invalid value for option cache-max-file: %s", s);
        if ((s = get(keys, vals, n, "cache-compress"))) {
                if (parse_bool(s, &b) < 0)
                        return INVALID("invalid value for option cache-compress: %s", s);
                if (b)
                        return INVALID("log opt 'cache-compress=true' is not supported by berth (the cache is not compressed)");
        }
        return 0;
}

int logdrv_validate(const char *type, char *const *keys, char *const *vals, size_t n, struct berr *err) {
        if (strcmp(type, "none") == 0)
                return 0; /* dockerd checks nothing for none */
        const char *mode = get(keys, vals, n, "mode");
        if (mode && *mode && strcmp(mode, "blocking") && strcmp(mode, "non-blocking"))
                return INVALID("logger: logging mode not supported: %s", mode);
        const char *mbs = get(keys, vals, n, "max-buffer-size");
        int64_t sz;
        if (mbs) {
                if (!mode || strcmp(mode, "non-blocking"))
                        return INVALID("logger: max-buffer-size option is only supported with 'mode=non-blocking'");
                if (ram_in_bytes(mbs, &sz) < 0)
                        return INVALID("error parsing option max-buffer-size: invalid size: '%s'", mbs);
        }
        int r = check_cache(keys, vals, n, err);
        if (r < 0)
                return r;
        const char *const *own;
        if (strcmp(type, "json-file") == 0)
                own = json_file_keys;
        else if (strcmp(type, "syslog") == 0)
                own = syslog_keys;
        else if (strcmp(type, "gelf") == 0)
                own = gelf_keys;
        else if (strcmp(type, "fluentd") == 0)
                own = fluentd_keys;
        else if (strcmp(type, "journald") == 0)
                own = journald_keys;
        else if (strcmp(type, "local") == 0)
                own = local_keys;
        else if (in_list(type, missing_drivers))
                return INVALID("logging driver \"%s\" is not supported by berth (%s)", type,
                               "fluentd, gelf, journald, json-file, local, none, syslog");
        else if (plugin_lookup.fn && plugin_lookup.fn(plugin_lookup.ctx, type) == 0)
                return 0; /* a log plugin: its options are its own to check (at StartLogging) */
        else
                return INVALID("logger: no log driver named '%s' is registered", type);
        for (size_t i = 0; i < n; i++) {
                const char *k = keys[i];
                if (in_list(k, own) || (own != local_keys && in_list(k, common_keys)) || strcmp(k, "mode") == 0 ||
                    strcmp(k, "max-buffer-size") == 0 || strncmp(k, "cache-", 6) == 0)
                        continue;
                return INVALID("unknown log opt '%s' for %s log driver", k, type);
        }
        for (size_t i = 0; i < n; i++)
                if ((strcmp(keys[i], "labels-regex") == 0 || strcmp(keys[i], "env-regex") == 0) &&
                    (r = check_regex(keys[i], vals[i], err)) < 0)
                        return r;
        if (strcmp(type, "local") == 0) {
                const char *s;
                int64_t bytes;
                long long v;
                bool b;
                if ((s = get(keys, vals, n, "max-size")) && (ram_in_bytes(s, &bytes) < 0))
                        return INVALID("invalid size: '%s'", s);
                if ((s = get(keys, vals, n, "max-file")) && (parse_int(s, &v) < 0 || v < 1))
                        return INVALID("max-file cannot be less than 1");
                if ((s = get(keys, vals, n, "compress")) && parse_bool(s, &b) < 0)
                        return INVALID("error reading compress log option: strconv.ParseBool: parsing \"%s\": invalid syntax", s);
                return 0;
        }
        if (strcmp(type, "json-file") == 0)
                return check_json_file(keys, vals, n, err);
        if (strcmp(type, "syslog") == 0)
                return check_syslog(keys, vals, n, err);
        if (strcmp(type, "gelf") == 0)
                return check_gelf(keys, vals, n, err);
        if (strcmp(type, "fluentd") == 0)
                return check_fluentd(keys, vals, n, err);
        return 0;
}

static void short_hex(const char *id, char out[13]) {
        const char *c = id ? strchr(id, ':') : NULL;
        snprintf(out, 13, "%s", c ? c + 1 : id ? id : "");
}

int logdrv_expand_tag(const char *tmpl, const struct logdrv_info *info, char **ret, struct berr *err) {
        if (!tmpl || !*tmpl)
                tmpl = "{{.ID}}";
        size_t cap = strlen(tmpl) + 512, len = 0;
        _cleanup_free_ char *out = malloc(cap);
        if (!out)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        char id12[13], img12[13];
        short_hex(info->id, id12);
        short_hex(info->image_id, img12);
        const char *name = info->name ? info->name : "";
        if (*name == '/')
                name++;
        for (const char *p = tmpl; *p;) {
                const char *val = NULL;
                size_t vlen = 0;
                const char *open = strstr(p, "{{");
                if (!open) {
                        val = p;
                        vlen = strlen(p);
                        p += vlen;
                } else if (open > p) {
                        val = p;
                        vlen = (size_t) (open - p);
                        p = open;
                } else {
                        const char *q = p + 2, *close = strstr(q, "}}");
                        if (!close)
                                return INVALID("template: log-tag:1: unclosed action");
                        while (*q == ' ')
                                q++;
                        const char *e = close;
                        while (e > q && e[-1] == ' ')
                                e--;
                        char field[64];
                        if (*q != '.' || (size_t) (e - q) >= sizeof(field))
                                return INVALID("template: log-tag:1: function \"%.*s\" not defined", (int) (e - q), q);
                        memcpy(field, q + 1, (size_t) (e - q - 1));
                        field[e - q - 1] = 0;
                        if (strcmp(field, "ID") == 0)
                                val = id12;
                        else if (strcmp(field, "FullID") == 0)
                                val = info->id;
                        else if (strcmp(field, "Name") == 0)
                                val = name;
                        else if (strcmp(field, "ImageName") == 0)
                                val = info->image_name;
                        else if (strcmp(field, "ImageID") == 0)
                                val = img12;
                        else if (strcmp(field, "ImageFullID") == 0)
                                val = info->image_id;
                        else if (strcmp(field, "DaemonName") == 0)
                                val = "docker";
                        else
                                return INVALID("template: log-tag:1:%d: executing \"log-tag\" at <.%s>: can't evaluate "
                                               "field %s in type *logger.Info",
                                               (int) (q - tmpl) + 1, field, field);
                        if (!val)
                                val = "";
                        vlen = strlen(val);
                        p = close + 2;
                }
                if (len + vlen + 1 > cap) {
                        cap = (len + vlen + 1) * 2;
                        char *n2 = realloc(out, cap);
                        if (!n2)
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        out = n2;
                }
                memcpy(out + len, val, vlen);
                len += vlen;
        }
        out[len] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

static bool listed(const char *list, const char *k) {
        size_t kl = strlen(k);
        for (const char *p = list; p && *p;) {
                const char *c = strchr(p, ',');
                size_t l = c ? (size_t) (c - p) : strlen(p);
                if (l == kl && memcmp(p, k, l) == 0)
                        return true;
                p = c ? c + 1 : NULL;
        }
        return false;
}

/* dockerd's Info.ExtraAttributes: labels, labels-regex, env, env-regex. */
static int extra_attributes(char *const *keys, char *const *vals, size_t n, const struct logdrv_info *info,
                            json_t *extra, struct berr *err) {
        const char *labels = get(keys, vals, n, "labels"), *lre = get(keys, vals, n, "labels-regex");
        const char *env = get(keys, vals, n, "env"), *ere = get(keys, vals, n, "env-regex");
        regex_t re;
        const char *k;
        json_t *v;
        bool have_re = lre && regcomp(&re, lre, REG_EXTENDED | REG_NOSUB) == 0;
        json_object_foreach(info->labels, k, v) {
                if (!json_is_string(v))
                        continue;
                if (listed(labels, k) || (have_re && regexec(&re, k, 0, NULL, 0) == 0))
                        json_object_set(extra, k, v);
        }
        if (have_re)
                regfree(&re);
        have_re = ere && regcomp(&re, ere, REG_EXTENDED | REG_NOSUB) == 0;
        size_t i;
        json_array_foreach(info->env, i, v) {
                const char *s = json_string_value(v);
                const char *eq = s ? strchr(s, '=') : NULL;
                if (!eq)
                        continue;
                char key[256];
                if ((size_t) (eq - s) >= sizeof(key))
                        continue;
                memcpy(key, s, (size_t) (eq - s));
                key[eq - s] = 0;
                if (listed(env, key) || (have_re && regexec(&re, key, 0, NULL, 0) == 0))
                        json_object_set_new(extra, key, json_string(eq + 1));
        }
        if (have_re)
                regfree(&re);
        (void) err;
        return 0;
}

char *logdrv_local_path(const char *json_log_path) {
        const char *slash = strrchr(json_log_path, '/');
        char *p;
        if (asprintf(&p, "%.*s/local-logs/container.log", slash ? (int) (slash - json_log_path) : 1,
                     slash ? json_log_path : ".") < 0)
                return NULL;
        return p;
}

bool logdrv_readable(const char *type, char *const *keys, char *const *vals, size_t n) {
        if (strcmp(type, "none") == 0)
                return false;
        if (strcmp(type, "json-file") == 0 || strcmp(type, "local") == 0)
                return true;
        const char *s = get(keys, vals, n, "cache-disabled");
        bool b = false;
        return !(s && parse_bool(s, &b) == 0 && b);
}

int64_t logdrv_max_file(const char *type, char *const *keys, char *const *vals, size_t n) {
        bool own_file = strcmp(type, "json-file") == 0 || strcmp(type, "local") == 0;
        const char *s = get(keys, vals, n, own_file ? "max-file" : "cache-max-file");
        long long v;
        if (s && parse_int(s, &v) == 0)
                return v;
        return strcmp(type, "json-file") == 0 ? 1 : 5; /* dockerd's defaults (local, the cache: 5) */
}

int logdrv_shim_options(const char *type, char *const *keys, char *const *vals, size_t n,
                        const struct logdrv_info *info, const char *log_path, json_t **ret, struct berr *err) {
        int r = logdrv_validate(type, keys, vals, n, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *o = json_object(), *opts = json_object(), *extra = json_object();
        if (!o || !opts || !extra)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
                json_object_set_new(opts, keys[i], json_string(vals[i]));
        _cleanup_free_ char *tag = NULL;
        const char *tmpl = get(keys, vals, n, "tag");
        if ((r = logdrv_expand_tag(tmpl, info, &tag, err)) < 0 || (r = extra_attributes(keys, vals, n, info, extra, err)) < 0)
                return r;
        bool json_file = strcmp(type, "json-file") == 0;
        if (json_file && tmpl)
                json_object_set_new(extra, "tag", json_string(tag));
        int64_t max_size = 0, max_file = 1;
        const char *path = NULL;
        _cleanup_free_ char *local_path = NULL;
        if (json_file) {
                const char *s = get(keys, vals, n, "max-size");
                if (s)
                        (void) ram_in_bytes(s, &max_size);
                max_file = logdrv_max_file(type, keys, vals, n);
                path = log_path;
        } else if (strcmp(type, "local") == 0) { /* dockerd's defaults: 20m, 5 files, compressed */
                const char *s = get(keys, vals, n, "max-size");
                bool b = true;
                max_size = 20 * 1024 * 1024;
                max_file = logdrv_max_file(type, keys, vals, n);
                if (s)
                        (void) ram_in_bytes(s, &max_size);
                if ((s = get(keys, vals, n, "compress")))
                        (void) parse_bool(s, &b);
                local_path = logdrv_local_path(log_path);
                if (!local_path)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                path = local_path;
                json_object_set_new(o, "local", json_true());
                json_object_set_new(o, "compress", json_boolean(b));
        } else if (logdrv_readable(type, keys, vals, n)) {
                /* dual logging: a local cache `docker logs` reads (dockerd's defaults) */
                const char *s;
                max_size = 20 * 1024 * 1024;
                max_file = logdrv_max_file(type, keys, vals, n);
                if ((s = get(keys, vals, n, "cache-max-size")))
                        (void) ram_in_bytes(s, &max_size);
                path = log_path;
        }
        int64_t buf = 1024 * 1024; /* dockerd's default max-buffer-size */
        const char *mbs = get(keys, vals, n, "max-buffer-size"), *mode = get(keys, vals, n, "mode");
        const char *fbl = get(keys, vals, n, "fluentd-buffer-limit");
        if (mbs)
                (void) ram_in_bytes(mbs, &buf);
        else if (fbl) /* fluentd-async keeps up to this much for a receiver that is slow or away */
                (void) ram_in_bytes(fbl, &buf);
        const char *journal = getenv("BERTH_TEST_JOURNAL_SOCKET");
        const char *name = info->name ? info->name : "";
        if (json_object_set_new(o, "driver", json_string(type)) < 0 ||
            json_object_set_new(o, "tag", json_string(tag)) < 0 || json_object_set(o, "opts", opts) < 0 ||
            json_object_set(o, "extra", extra) < 0 || json_object_set_new(o, "path", path ? json_string(path) : json_null()) < 0 ||
            json_object_set_new(o, "max_size", json_integer(max_size)) < 0 ||
            json_object_set_new(o, "max_file", json_integer(max_file)) < 0 ||
            json_object_set_new(o, "non_blocking", json_boolean(mode && strcmp(mode, "non-blocking") == 0)) < 0 ||
            json_object_set_new(o, "max_buffer", json_integer(buf)) < 0 ||
            json_object_set_new(o, "id", json_string(info->id)) < 0 ||
            json_object_set_new(o, "name", json_string(*name == '/' ? name : "")) < 0 ||
            json_object_set_new(o, "image_name", json_string(info->image_name ? info->image_name : "")) < 0 ||
            json_object_set_new(o, "image_id", json_string(info->image_id ? info->image_id : "")) < 0 ||
            json_object_set_new(o, "command", json_string(info->command ? info->command : "")) < 0 ||
            json_object_set_new(o, "created", json_string(info->created ? info->created : "")) < 0 ||
            json_object_set_new(o, "journal_socket", json_string(journal ? journal : "/run/systemd/journal/socket")) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (*name != '/') { /* the name with its slash, as dockerd's fluentd record has it */
                char slashed[300];
                snprintf(slashed, sizeof(slashed), "/%s", name);
                json_object_set_new(o, "name", json_string(slashed));
        }
        *ret = TAKE_PTR(o);
        return 0;
}
