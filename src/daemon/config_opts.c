/* config_opts.c - the daemon options of issue 14: container defaults (ulimits, shm size,
 * cgroup namespace, cgroup parent, no-new-privileges, DNS), daemon settings (labels,
 * exec-opts, live-restore, shutdown-timeout, experimental, features, selinux-enabled,
 * group, max-download-attempts, proxies), with dockerd's names and checks. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "config_int.h"
#include "common/fs.h"
#include "runtime/spec.h"

static const char *const ulimit_names[] = { "core",   "cpu",     "data",     "fsize",  "locks",
                                            "memlock", "msgqueue", "nice",   "nofile", "nproc",
                                            "rss",    "rtprio",  "rttime",   "sigpending", "stack" };

void opts14_init(struct daemon_opts14 *o) {
        memset(o, 0, sizeof(*o));
        o->shm_size = DAEMON_DEFAULT_SHM_SIZE;
        o->shutdown_timeout = DAEMON_DEFAULT_SHUTDOWN_TIMEOUT;
        o->max_download_attempts = DAEMON_DEFAULT_MAX_DOWNLOAD_ATTEMPTS;
        snprintf(o->cgroup_driver, sizeof(o->cgroup_driver), "cgroupfs");
}

static void free_list(char **list, size_t *n) {
        for (size_t i = 0; i < *n; i++)
                free(list[i]);
        *n = 0;
}

void opts14_done(struct daemon_opts14 *o) {
        free(o->cgroupns_mode);
        free(o->cgroup_parent);
        free_list(o->exec_opts, &o->n_exec_opts);
        free_list(o->labels, &o->n_labels);
        free(o->features_json);
        free(o->group);
        free_list(o->dns, &o->n_dns);
        free_list(o->dns_opts, &o->n_dns_opts);
        free_list(o->dns_search, &o->n_dns_search);
        free(o->http_proxy);
        free(o->https_proxy);
        free(o->no_proxy);
        free(o->metrics_addr);
        memset(o, 0, sizeof(*o));
}

static int set_str(char **slot, const char *v, struct berr *err) {
        char *dup = strdup(v);
        if (!dup)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        free(*slot);
        *slot = dup;
        return 0;
}

static int add_list(char **list, size_t *n, const char *v, const char *what, struct berr *err) {
        if (*n >= DAEMON_MAX_LIST)
                return berr_set(err, BERR_INVALID, E2BIG, "too many %s: at most %d", what, DAEMON_MAX_LIST);
        if (!(list[*n] = strdup(v)))
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        (*n)++;
        return 0;
}

long long config_parse_bytes(const char *s) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno || v < 0 || !isdigit((unsigned char) s[0]))
                return -1;
        while (*end == ' ')
                end++;
        long long mult = 1;
        switch (tolower((unsigned char) *end)) {
        case 'k': mult = 1LL << 10; end++; break;
        case 'm': mult = 1LL << 20; end++; break;
        case 'g': mult = 1LL << 30; end++; break;
        case 't': mult = 1LL << 40; end++; break;
        case 'p': mult = 1LL << 50; end++; break;
        default: break;
        }
        if (mult > 1 && tolower((unsigned char) *end) == 'i')
                end++;
        if (tolower((unsigned char) *end) == 'b')
                end++;
        if (*end || v * (double) mult > 9.0e18)
                return -1;
        return (long long) (v * (double) mult);
}

int config_parse_loopback_addr(const char *v, struct sockaddr_storage *ss, socklen_t *len, struct berr *err) {
        char host[64];
        const char *colon = strrchr(v, ':');
        char *end;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || !colon[1] || *end || port < 1 || port > 65535 || (size_t) (colon - v) >= sizeof(host))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid metrics-addr \"%s\": want HOST:PORT", v);
        snprintf(host, sizeof(host), "%.*s", (int) (colon - v), v);
        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
                memmove(host, host + 1, strlen(host));
                host[strlen(host) - 1] = '\0';
        }
        if (STREQ(host, "localhost"))
                snprintf(host, sizeof(host), "127.0.0.1");
        memset(ss, 0, sizeof(*ss));
        struct sockaddr_in *a4 = (struct sockaddr_in *) ss;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *) ss;
        if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
                a4->sin_family = AF_INET;
                a4->sin_port = htons((uint16_t) port);
                *len = sizeof(*a4);
                if ((ntohl(a4->sin_addr.s_addr) >> 24) == 127)
                        return 0;
        } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
                a6->sin6_family = AF_INET6;
                a6->sin6_port = htons((uint16_t) port);
                *len = sizeof(*a6);
                if (IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
                        return 0;
        } else
                return berr_set(err, BERR_INVALID, EINVAL, "invalid metrics-addr \"%s\": want a numeric address", v);
        return berr_set(err, BERR_INVALID, EINVAL,
                        "metrics-addr %s is not a loopback address: berth serves metrics on loopback only (no TLS yet)", v);
}

static bool valid_ulimit_name(const char *n) {
        for (size_t i = 0; i < ELEMENTSOF(ulimit_names); i++)
                if (STREQ(n, ulimit_names[i]))
                        return true;
        return false;
}

static int add_ulimit(struct daemon_opts14 *o, const char *name, long long soft, long long hard, struct berr *err) {
        if (!valid_ulimit_name(name))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid ulimit type: %s", name);
        if (soft < -1 || hard < -1)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid ulimit %s: negative limit", name);
        if (hard != -1 && (soft == -1 || soft > hard))
                return berr_set(err, BERR_INVALID, EINVAL,
                                "ulimit soft limit must be less than or equal to hard limit: %lld > %lld", soft, hard);
        size_t i;
        for (i = 0; i < o->n_ulimits; i++)
                if (STREQ(o->ulimits[i].name, name))
                        break; /* a later one replaces it */
        if (i == o->n_ulimits) {
                if (o->n_ulimits >= DAEMON_MAX_LIST)
                        return berr_set(err, BERR_INVALID, E2BIG, "too many default ulimits");
                o->n_ulimits++;
        }
        snprintf(o->ulimits[i].name, sizeof(o->ulimits[i].name), "%s", name);
        o->ulimits[i].soft = soft;
        o->ulimits[i].hard = hard;
        return 0;
}

static bool parse_ll(const char *s, long long *ret) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (!*s || *end || errno)
                return false;
        *ret = v;
        return true;
}

/* go-units ParseUlimit: NAME=SOFT[:HARD] */
static int parse_ulimit_flag(struct daemon_opts14 *o, const char *v, struct berr *err) {
        const char *eq = strchr(v, '=');
        if (!eq || eq == v)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid ulimit argument: %s", v);
        char name[32], a[32] = "", b[32] = "";
        snprintf(name, sizeof(name), "%.*s", (int) (eq - v), v);
        const char *colon = strchr(eq + 1, ':');
        if (colon) {
                snprintf(a, sizeof(a), "%.*s", (int) (colon - eq - 1), eq + 1);
                snprintf(b, sizeof(b), "%s", colon + 1);
        } else {
                snprintf(a, sizeof(a), "%s", eq + 1);
                snprintf(b, sizeof(b), "%s", eq + 1);
        }
        long long soft, hard;
        if (!valid_ulimit_name(name))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid ulimit type: %s", name);
        if (!parse_ll(a, &soft) || !parse_ll(b, &hard))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid ulimit argument: %s", v);
        return add_ulimit(o, name, soft, hard, err);
}

static int check_ip(const char *v, struct berr *err) {
        unsigned char buf[16];
        if (inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1)
                return 0;
        return berr_set(err, BERR_INVALID, EINVAL, "IP address is not correctly formatted: %s", v);
}

/* dockerd's ValidateDNSSearch: "." or a domain name of at most 255 characters. */
static int check_dns_search(const char *v, struct berr *err) {
        size_t n = strlen(v);
        bool ok = n > 0 && n <= 255 && v[0] != '.' && v[0] != '-' && v[n - 1] != '-';
        for (size_t i = 0; ok && i < n; i++)
                ok = isalnum((unsigned char) v[i]) || v[i] == '-' || v[i] == '.' || v[i] == '_';
        if (STREQ(v, "."))
                ok = true;
        return ok ? 0 : berr_set(err, BERR_INVALID, EINVAL, "%s is not a valid domain", v);
}

int apply_bool14(struct daemon_opts14 *o, enum config_opt id, bool v) {
        switch (id) {
        case OPT_VALIDATE: o->validate = v; return 0;
        case OPT_LIVE_RESTORE: o->live_restore = v; return 0;
        case OPT_EXPERIMENTAL: o->experimental = v; return 0;
        case OPT_NO_NEW_PRIVILEGES: o->no_new_privileges = v; return 0;
        case OPT_SELINUX_ENABLED: o->selinux_enabled = v; return 0;
        default: return 0;
        }
}

int apply14(struct daemon_opts14 *o, enum config_opt id, const char *value, struct berr *err) {
        long long n;
        switch (id) {
        case OPT_VALIDATE:
        case OPT_LIVE_RESTORE:
        case OPT_EXPERIMENTAL:
        case OPT_NO_NEW_PRIVILEGES:
        case OPT_SELINUX_ENABLED:
                return apply_bool14(o, id, true);
        case OPT_DEFAULT_ULIMIT:
                return parse_ulimit_flag(o, value, err);
        case OPT_DEFAULT_SHM_SIZE:
                n = config_parse_bytes(value);
                if (n <= 0)
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "invalid argument \"%s\" for \"--default-shm-size\" flag: invalid size: '%s'", value,
                                        value);
                o->shm_size = n;
                return 0;
        case OPT_DEFAULT_CGROUPNS_MODE:
                if (!STREQ(value, "host") && !STREQ(value, "private"))
                        return berr_set(err, BERR_INVALID, EINVAL, "default cgroup namespace mode (%s) is invalid", value);
                return set_str(&o->cgroupns_mode, value, err);
        case OPT_CGROUP_PARENT:
                if (value[0] != '/' || strstr(value, "/../") || (strlen(value) >= 3 && STREQ(value + strlen(value) - 3, "/..")))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "invalid cgroup-parent \"%s\": must be an absolute cgroup path without \"..\"", value);
                return set_str(&o->cgroup_parent, value, err);
        case OPT_EXEC_OPT:
                if (!strchr(value, '='))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid exec-opt (%s): must be key=value", value);
                return add_list(o->exec_opts, &o->n_exec_opts, value, "exec-opts", err);
        case OPT_LABEL: {
                const char *eq = strchr(value, '=');
                if (!eq || eq == value)
                        return berr_set(err, BERR_INVALID, EINVAL, "bad attribute format: %s", value);
                return add_list(o->labels, &o->n_labels, value, "labels", err);
        }
        case OPT_SHUTDOWN_TIMEOUT:
                if (!parse_ll(value, &n) || n < -1 || n > 1000000)
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "invalid argument \"%s\" for \"--shutdown-timeout\" flag: want seconds (-1: no limit)",
                                        value);
                o->shutdown_timeout = (int) n;
                return 0;
        case OPT_GROUP:
                if (!value[0])
                        return berr_set(err, BERR_INVALID, EINVAL, "group must not be empty");
                return set_str(&o->group, value, err);
        case OPT_DNS:
                return check_ip(value, err) ?: add_list(o->dns, &o->n_dns, value, "dns servers", err);
        case OPT_DNS_OPT:
                if (!value[0] || strchr(value, ' ') || strchr(value, '\n'))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid dns-opt \"%s\"", value);
                return add_list(o->dns_opts, &o->n_dns_opts, value, "dns options", err);
        case OPT_DNS_SEARCH:
                return check_dns_search(value, err) ?: add_list(o->dns_search, &o->n_dns_search, value, "dns search domains", err);
        case OPT_MAX_DOWNLOAD_ATTEMPTS:
                if (!parse_ll(value, &n) || n <= 0 || n > 1000)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid max download attempts: %s", value);
                o->max_download_attempts = (int) n;
                return 0;
        case OPT_MAX_CONNECTIONS:
                /* Each connection is a thread (a stack and its guard: two of the 65,530
                         * mappings a process gets by default), and half as many again are
                         * accepted past the limit to be told 503. */
                if (!parse_ll(value, &n) || n < 1 || n > 10000)
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "invalid argument \"%s\" for \"--max-connections\" flag: want 1 to 10000", value);
                o->max_connections = (unsigned) n;
                return 0;
        case OPT_HTTP_PROXY:
        case OPT_HTTPS_PROXY:
        case OPT_NO_PROXY:
                if (strchr(value, '\n') || strchr(value, ' '))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid proxy setting \"%s\"", value);
                if (!*value) { /* "": not set (the environment's applies) */
                        char **slot = id == OPT_HTTP_PROXY ? &o->http_proxy : id == OPT_HTTPS_PROXY ? &o->https_proxy : &o->no_proxy;
                        free(*slot);
                        *slot = NULL;
                        return 0;
                }
                return set_str(id == OPT_HTTP_PROXY ? &o->http_proxy : id == OPT_HTTPS_PROXY ? &o->https_proxy : &o->no_proxy,
                               value, err);
        case OPT_METRICS_ADDR: {
                struct sockaddr_storage ss;
                socklen_t len;
                if (config_parse_loopback_addr(value, &ss, &len, err) < 0)
                        return -EINVAL;
                return set_str(&o->metrics_addr, value, err);
        }
        default:
                return berr_set(err, BERR_INTERNAL, EINVAL, "unhandled option %d", id);
        }
}

static int json_strings(struct daemon_config *cfg, enum config_opt id, const char *key, json_t *v, struct berr *err) {
        if (!json_is_array(v))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid type for %s: expected an array of strings", key);
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
                if (!json_is_string(e))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid type for %s: expected an array of strings", key);
                int r = apply14(&cfg->o14, id, json_string_value(e), err);
                if (r < 0)
                        return r;
        }
        return 1;
}

static int json_int(struct daemon_config *cfg, enum config_opt id, const char *key, json_t *v, struct berr *err) {
        if (!json_is_integer(v))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid type for %s: expected a number", key);
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld", (long long) json_integer_value(v));
        int r = apply14(&cfg->o14, id, buf, err);
        return r < 0 ? r : 1;
}

int merge14(struct daemon_config *cfg, enum config_opt id, const char *key, json_t *v, struct berr *err) {
        struct daemon_opts14 *o = &cfg->o14;
        int r;
        switch (id) {
        case OPT_EXEC_OPT:
        case OPT_LABEL:
        case OPT_DNS:
        case OPT_DNS_OPT:
        case OPT_DNS_SEARCH:
                return json_strings(cfg, id, key, v, err);
        case OPT_SHUTDOWN_TIMEOUT:
        case OPT_MAX_DOWNLOAD_ATTEMPTS:
        case OPT_MAX_CONNECTIONS:
                return json_int(cfg, id, key, v, err);
        case OPT_DEFAULT_SHM_SIZE:
                /* dockerd's MemBytes: "64M" (or a number of bytes) */
                if (json_is_integer(v)) {
                        if (json_integer_value(v) <= 0)
                                return berr_set(err, BERR_INVALID, EINVAL, "invalid default-shm-size: %lld",
                                                (long long) json_integer_value(v));
                        o->shm_size = (long long) json_integer_value(v);
                        return 1;
                }
                if (!json_is_string(v))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid type for %s: expected a string", key);
                r = apply14(o, id, json_string_value(v), err);
                return r < 0 ? r : 1;
        case OPT_DEFAULT_ULIMIT: {
                /* {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}} */
                if (!json_is_object(v))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "invalid type for default-ulimits: expected {\"NAME\": {\"Name\", \"Soft\", \"Hard\"}}");
                const char *name;
                json_t *u;
                json_object_foreach(v, name, u) {
                        json_t *soft = json_object_get(u, "Soft"), *hard = json_object_get(u, "Hard");
                        const char *inner = json_string_value(json_object_get(u, "Name"));
                        if (!json_is_object(u) || !json_is_integer(soft) || !json_is_integer(hard))
                                return berr_set(err, BERR_INVALID, EINVAL,
                                                "invalid default-ulimits entry %s: want {\"Name\", \"Soft\", \"Hard\"}", name);
                        if (inner && !STREQ(inner, name))
                                return berr_set(err, BERR_INVALID, EINVAL,
                                                "invalid default-ulimits entry %s: its Name is %s", name, inner);
                        r = add_ulimit(o, name, (long long) json_integer_value(soft), (long long) json_integer_value(hard),
                                       err);
                        if (r < 0)
                                return r;
                }
                return 1;
        }
        case OPT_FEATURES: {
                if (!json_is_object(v))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid type for features: expected an object of booleans");
                const char *name;
                json_t *f;
                json_object_foreach(v, name, f) if (!json_is_boolean(f)) return berr_set(
                        err, BERR_INVALID, EINVAL, "invalid type for features.%s: expected a boolean", name);
                free(o->features_json);
                o->features_json = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
                return o->features_json ? 1 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        case OPT_PROXIES: {
                if (!json_is_object(v))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid type for proxies: expected an object");
                static const struct {
                        const char *key;
                        enum config_opt id;
                } sub[] = { { "http-proxy", OPT_HTTP_PROXY }, { "https-proxy", OPT_HTTPS_PROXY }, { "no-proxy", OPT_NO_PROXY } };
                const char *name;
                json_t *p;
                json_object_foreach(v, name, p) {
                        size_t k;
                        for (k = 0; k < ELEMENTSOF(sub) && !STREQ(sub[k].key, name); k++)
                                ;
                        if (k == ELEMENTSOF(sub))
                                return berr_set(err, BERR_INVALID, EINVAL,
                                                "the following directives don't match any configuration option: proxies.%s",
                                                name);
                        if (!json_is_string(p))
                                return berr_set(err, BERR_INVALID, EINVAL, "invalid type for proxies.%s: expected a string",
                                                name);
                        r = apply14(o, sub[k].id, json_string_value(p), err);
                        if (r < 0)
                                return r;
                }
                return 1;
        }
        default:
                return 0;
        }
}

int finish14(struct daemon_opts14 *o, struct berr *err) {
        /* dockerd's GetConflictFreeLabels: a repeated label goes, a key with two values fails */
        for (size_t i = 0; i < o->n_labels; i++)
                for (size_t k = i + 1; k < o->n_labels; k++) {
                        size_t ki = strcspn(o->labels[i], "="), kk = strcspn(o->labels[k], "=");
                        if (ki != kk || strncmp(o->labels[i], o->labels[k], ki) != 0)
                                continue;
                        if (!STREQ(o->labels[i], o->labels[k]))
                                return berr_set(err, BERR_INVALID, EINVAL, "conflict labels for %s and %s", o->labels[i],
                                                o->labels[k]);
                        free(o->labels[k]);
                        memmove(&o->labels[k], &o->labels[k + 1], (o->n_labels - k - 1) * sizeof(o->labels[0]));
                        o->n_labels--;
                        k--;
                }
        if (o->selinux_enabled)
                return berr_set(err, BERR_INVALID, ENOTSUP, "selinux-enabled: SELinux is not supported by berth");
        for (size_t i = 0; i < o->n_exec_opts; i++) {
                const char *e = o->exec_opts[i];
                const char *eq = strchr(e, '=');
                char key[64];
                snprintf(key, sizeof(key), "%.*s", (int) (eq - e), e);
                for (char *c = key; *c; c++)
                        *c = (char) tolower((unsigned char) *c);
                const char *val = eq + 1;
                if (!STREQ(key, "native.cgroupdriver"))
                        return berr_set(err, BERR_INVALID, EINVAL, "unknown option %s", key);
                if (STREQ(val, "cgroupfs"))
                        continue;
                if (STREQ(val, "systemd")) {
                        if (access("/run/systemd/system", F_OK) < 0)
                                return berr_set(err, BERR_INVALID, EINVAL,
                                                "native.cgroupdriver=systemd: systemd is not running on this host");
                        return berr_set(err, BERR_INVALID, ENOTSUP,
                                        "native.cgroupdriver=systemd is not supported by berth: use cgroupfs");
                }
                return berr_set(err, BERR_INVALID, EINVAL, "native.cgroupdriver option %s not supported", val);
        }
        return 0;
}

/* ---- issue 16: TLS files, --seccomp-profile ---- */

void sec_opts_init(struct daemon_sec_opts *o) {
        memset(o, 0, sizeof(*o));
        o->tls = o->tlsverify = -1;
}

void sec_opts_done(struct daemon_sec_opts *o) {
        free(o->tlscacert);
        free(o->tlscert);
        free(o->tlskey);
        free(o->seccomp_profile);
        free(o->seccomp_text);
        memset(o, 0, sizeof(*o));
}

int apply_sec(struct daemon_sec_opts *o, enum config_opt id, const char *value, struct berr *err) {
        switch (id) {
        case OPT_TLSCACERT: return set_str(&o->tlscacert, value, err);
        case OPT_TLSCERT: return set_str(&o->tlscert, value, err);
        case OPT_TLSKEY: return set_str(&o->tlskey, value, err);
        case OPT_SECCOMP_PROFILE:
                if (!*value)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid seccomp-profile \"\": want a path, \"unconfined\" "
                                        "or \"builtin\"");
                return set_str(&o->seccomp_profile, value, err);
        default:
                return berr_set(err, BERR_INTERNAL, EINVAL, "unhandled option %d", id);
        }
}

/* dockerd's default for a certificate file: $DOCKER_CERT_PATH, else the client's
 * configuration directory ($DOCKER_CONFIG, else ~/.docker). */
static int default_cert_path(char **slot, const char *file, struct berr *err) {
        if (*slot)
                return 0;
        const char *dir = getenv("DOCKER_CERT_PATH");
        if (!dir || !*dir)
                dir = getenv("DOCKER_CONFIG");
        _cleanup_free_ char *home_dir = NULL;
        if (!dir || !*dir) {
                const char *home = getenv("HOME");
                if (asprintf(&home_dir, "%s/.docker", home && *home ? home : "/root") < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                dir = home_dir;
        }
        _cleanup_free_ char *p = fs_path_join(dir, file);
        if (!p)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        *slot = TAKE_PTR(p);
        return 0;
}

int finish_sec(struct daemon_sec_opts *o, struct berr *err) {
        int r;
        if (o->tlsverify >= 0) /* dockerd: --tlsverify given at all, even =false, means TLS */
                o->tls = 1;
        if (o->tls == 1 && ((r = default_cert_path(&o->tlscacert, "ca.pem", err)) < 0 ||
                            (r = default_cert_path(&o->tlscert, "cert.pem", err)) < 0 ||
                            (r = default_cert_path(&o->tlskey, "key.pem", err)) < 0))
                return r;
        const char *p = o->seccomp_profile;
        if (!p || STREQ(p, "builtin") || STREQ(p, "unconfined"))
                return 0;
        /* dockerd reads the file once, at start; berth also checks it now rather than at
         * each container's start. */
        size_t len = 0;
        free(o->seccomp_text);
        o->seccomp_text = NULL;
        r = fs_read_file(AT_FDCWD, p, 1 << 20, &o->seccomp_text, &len, err);
        if (r < 0)
                return berr_wrap(err, "opening seccomp profile (%s) failed", p);
        r = spec_check_seccomp_profile(o->seccomp_text, len, err);
        if (r < 0)
                return berr_wrap(err, "seccomp profile %s", p);
        return 0;
}

/* ---- reload ---- */

#define MOVE(field) do { typeof(cfg->field) tmp__ = cfg->field; cfg->field = next->field; next->field = tmp__; } while (0)

void daemon_config_take_reloadable(struct daemon_config *cfg, struct daemon_config *next) {
        /* debug and log-level; labels, shutdown-timeout, features, max-download-attempts,
         * proxies (the registry's own keys are reloaded by the distribution module) */
        cfg->debug = next->debug;
        cfg->log_level = next->log_level;
        struct daemon_opts14 *a = &cfg->o14, *b = &next->o14;
        for (size_t i = 0; i < DAEMON_MAX_LIST; i++) {
                char *t = a->labels[i];
                a->labels[i] = b->labels[i];
                b->labels[i] = t;
        }
        size_t n = a->n_labels;
        a->n_labels = b->n_labels;
        b->n_labels = n;
        a->shutdown_timeout = b->shutdown_timeout;
        a->max_download_attempts = b->max_download_attempts;
        MOVE(o14.features_json);
        MOVE(o14.http_proxy);
        MOVE(o14.https_proxy);
        MOVE(o14.no_proxy);
        MOVE(runtimes); /* runtimes and default-runtime, as dockerd reloads them */
}
