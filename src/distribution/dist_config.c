/* dist_config.c - registry settings (mirrors, insecure registries, transfer concurrency,
 * certificate directories) with the parsing hooks daemon/config.c calls, dockerd's rule
 * for which registries are insecure, per-host TLS material, and the daemon-wide bound on
 * concurrent layer transfers. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "dist_int.h"

static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slot_cond = PTHREAD_COND_INITIALIZER;

static struct dist_config config = {
        .max_downloads = DIST_DEFAULT_MAX_DOWNLOADS,
        .max_uploads = DIST_DEFAULT_MAX_UPLOADS,
        .max_download_attempts = DIST_DEFAULT_MAX_DOWNLOAD_ATTEMPTS,
};
/* Where the parsing hooks write: the live settings at start, a staging copy while SIGHUP
 * re-reads the configuration (only the main thread parses). Readers of the lists take
 * config_lock; a reload swaps them under it. */
static struct dist_config staging;
static struct dist_config *target = &config;
static pthread_rwlock_t config_lock = PTHREAD_RWLOCK_INITIALIZER;

struct dist_config *dist_config(void) {
        return &config;
}

void dist_config_rdlock(void) {
        pthread_rwlock_rdlock(&config_lock);
}

void dist_config_unlock(void) {
        pthread_rwlock_unlock(&config_lock);
}

static void config_free_lists(struct dist_config *c) {
        for (size_t i = 0; i < c->n_mirrors; i++)
                free(c->mirrors[i]);
        for (size_t i = 0; i < c->n_insecure; i++)
                free(c->insecure[i]);
        c->n_mirrors = c->n_insecure = 0;
        free(c->certs_dir);
        free(c->http_proxy);
        free(c->https_proxy);
        free(c->no_proxy);
        c->certs_dir = c->http_proxy = c->https_proxy = c->no_proxy = NULL;
}

void dist_config_stage_begin(void) {
        config_free_lists(&staging);
        memset(&staging, 0, sizeof(staging));
        staging.max_downloads = DIST_DEFAULT_MAX_DOWNLOADS;
        staging.max_uploads = DIST_DEFAULT_MAX_UPLOADS;
        staging.max_download_attempts = DIST_DEFAULT_MAX_DOWNLOAD_ATTEMPTS;
        target = &staging;
}

#define SWAP(a, b) do { typeof(a) t__ = (a); (a) = (b); (b) = t__; } while (0)

void dist_config_stage_end(bool commit) {
        target = &config;
        if (commit) {
                /* What dockerd reloads: mirrors, insecure registries, concurrency, attempts,
                 * proxies. registry-certs-dir stays as it was at start. */
                pthread_rwlock_wrlock(&config_lock);
                SWAP(config.n_mirrors, staging.n_mirrors);
                SWAP(config.n_insecure, staging.n_insecure);
                for (size_t i = 0; i < DIST_MAX_LIST; i++) {
                        SWAP(config.mirrors[i], staging.mirrors[i]);
                        SWAP(config.insecure[i], staging.insecure[i]);
                }
                SWAP(config.http_proxy, staging.http_proxy);
                SWAP(config.https_proxy, staging.https_proxy);
                SWAP(config.no_proxy, staging.no_proxy);
                config.max_downloads = staging.max_downloads;
                config.max_uploads = staging.max_uploads;
                config.max_download_attempts = staging.max_download_attempts;
                pthread_rwlock_unlock(&config_lock);
                pthread_mutex_lock(&slot_lock);
                pthread_cond_broadcast(&slot_cond); /* a larger limit frees waiters */
                pthread_mutex_unlock(&slot_lock);
        }
        config_free_lists(&staging);
}

static int dup_or_null(char **slot, const char *v, struct berr *err) {
        free(*slot);
        *slot = NULL;
        if (v && *v && !(*slot = strdup(v)))
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        return 0;
}

int dist_config_set_transfer(int max_download_attempts, const char *http_proxy, const char *https_proxy,
                             const char *no_proxy, struct berr *err) {
        if (target == &config)
                pthread_rwlock_wrlock(&config_lock);
        target->max_download_attempts = max_download_attempts;
        int r = dup_or_null(&target->http_proxy, http_proxy, err);
        if (r == 0)
                r = dup_or_null(&target->https_proxy, https_proxy, err);
        if (r == 0)
                r = dup_or_null(&target->no_proxy, no_proxy, err);
        if (target == &config)
                pthread_rwlock_unlock(&config_lock);
        return r;
}

int dist_config_max_download_attempts(void) {
        return config.max_download_attempts > 0 ? config.max_download_attempts : DIST_DEFAULT_MAX_DOWNLOAD_ATTEMPTS;
}

enum dist_opt {
        DOPT_MIRROR,
        DOPT_INSECURE,
        DOPT_MAX_DOWNLOADS,
        DOPT_MAX_UPLOADS,
        DOPT_CERTS_DIR,
        _DOPT_MAX,
        _DOPT_INVALID = -1,
};

static const struct {
        enum dist_opt id;
        const char *flag;
        const char *json_key;
        const char *help;
} dist_opts[] = {
        { DOPT_MIRROR, "registry-mirror", "registry-mirrors", "Preferred registry mirror (repeatable)" },
        { DOPT_INSECURE, "insecure-registry", "insecure-registries", "Enable insecure registry communication (repeatable; host:port or CIDR)" },
        { DOPT_MAX_DOWNLOADS, "max-concurrent-downloads", "max-concurrent-downloads", "Set the max concurrent downloads (default 3)" },
        { DOPT_MAX_UPLOADS, "max-concurrent-uploads", "max-concurrent-uploads", "Set the max concurrent uploads (default 5)" },
        { DOPT_CERTS_DIR, "registry-certs-dir", "registry-certs-dir", "Per-registry TLS material, <dir>/<host:port>/{ca.crt,client.cert,client.key} (default " DIST_DEFAULT_CERTS_DIR "; " DIST_DOCKER_CERTS_DIR " is also read)" },
};

const char *dist_config_usage(void) {
        static char text[2048];
        if (text[0])
                return text;
        size_t n = 0;
        for (size_t i = 0; i < ELEMENTSOF(dist_opts) && n < sizeof(text); i++) {
                char left[64];
                snprintf(left, sizeof(left), "    --%s string", dist_opts[i].flag);
                n += (size_t) snprintf(text + n, sizeof(text) - n, "  %-28s %s\n", left, dist_opts[i].help);
        }
        return text;
}

bool dist_config_option(size_t i, const char **flag, const char **json_key, const char **help) {
        if (i >= ELEMENTSOF(dist_opts))
                return false;
        *flag = dist_opts[i].flag;
        *json_key = dist_opts[i].json_key;
        *help = dist_opts[i].help;
        return true;
}

static int find_opt(const char *name, bool json) {
        for (size_t i = 0; i < ELEMENTSOF(dist_opts); i++)
                if (STREQ(json ? dist_opts[i].json_key : dist_opts[i].flag, name))
                        return (int) dist_opts[i].id;
        return _DOPT_INVALID;
}

bool dist_config_is_flag(const char *name) {
        return find_opt(name, false) != _DOPT_INVALID;
}

bool dist_config_is_json_key(const char *key) {
        return find_opt(key, true) != _DOPT_INVALID;
}

static int add_to_list(char **list, size_t *n, const char *v, const char *what, struct berr *err) {
        if (*n >= DIST_MAX_LIST)
                return berr_set(err, BERR_INVALID, E2BIG, "too many %s (at most %d)", what, DIST_MAX_LIST);
        for (size_t i = 0; i < *n; i++)
                if (STREQ(list[i], v))
                        return 0;
        if (!(list[*n] = strdup(v)))
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        (*n)++;
        return 0;
}

/* dockerd's ValidateMirror: an http(s) URL with no path, query or credentials. */
static int check_mirror(const char *v, struct berr *err) {
        const char *rest = NULL;
        if (strncmp(v, "https://", 8) == 0)
                rest = v + 8;
        else if (strncmp(v, "http://", 7) == 0)
                rest = v + 7;
        if (!rest || !rest[0] || strchr(rest, '@') || strchr(rest, '?'))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid mirror: \"%s\" is not a valid URI", v);
        const char *slash = strchr(rest, '/');
        if (slash && slash[1])
                return berr_set(err, BERR_INVALID, EINVAL, "invalid mirror: path, query, or fragment at end of the URI \"%s\"", v);
        return 0;
}

static int check_insecure(const char *v, struct berr *err) {
        if (strstr(v, "://"))
                return berr_set(err, BERR_INVALID, EINVAL, "insecure registry %s should not contain '://'", v);
        if (!v[0])
                return berr_set(err, BERR_INVALID, EINVAL, "insecure registry must not be empty");
        return 0;
}

static int set_count(int *slot, const char *name, long long v, struct berr *err) {
        if (v < 1 || v > 1024)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid %s: %lld (must be between 1 and 1024)", name, v);
        *slot = (int) v;
        return 0;
}

static int apply_string(enum dist_opt id, const char *name, const char *v, struct berr *err) {
        int r;
        switch (id) {
        case DOPT_MIRROR: {
                char buf[512];
                snprintf(buf, sizeof(buf), "%s", v);
                size_t n = strlen(buf);
                while (n > 0 && buf[n - 1] == '/')
                        buf[--n] = '\0';
                r = check_mirror(v, err);
                return r < 0 ? r : add_to_list(target->mirrors, &target->n_mirrors, buf, "registry mirrors", err);
        }
        case DOPT_INSECURE:
                r = check_insecure(v, err);
                return r < 0 ? r : add_to_list(target->insecure, &target->n_insecure, v, "insecure registries", err);
        case DOPT_MAX_DOWNLOADS:
        case DOPT_MAX_UPLOADS: {
                char *end = NULL;
                long long n = strtoll(v, &end, 10);
                if (!v[0] || *end)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid argument \"%s\" for \"--%s\" flag", v, name);
                return set_count(id == DOPT_MAX_DOWNLOADS ? &target->max_downloads : &target->max_uploads, name, n, err);
        }
        case DOPT_CERTS_DIR:
                if (v[0] != '/')
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid registry-certs-dir \"%s\": must be an absolute path", v);
                free(target->certs_dir);
                target->certs_dir = strdup(v);
                return target->certs_dir ? 0 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        default:
                return berr_set(err, BERR_INTERNAL, EINVAL, "unhandled registry option");
        }
}

int dist_config_flag(const char *name, const char *value, struct berr *err) {
        int id = find_opt(name, false);
        if (id == _DOPT_INVALID)
                return 0;
        int r = apply_string((enum dist_opt) id, name, value ? value : "", err);
        return r < 0 ? r : 1;
}

int dist_config_json(const char *key, json_t *v, struct berr *err) {
        int id = find_opt(key, true);
        if (id == _DOPT_INVALID)
                return 0;
        int r = 0;
        switch ((enum dist_opt) id) {
        case DOPT_MIRROR:
        case DOPT_INSECURE: {
                if (!json_is_array(v))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid type for %s: expected an array of strings", key);
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e) {
                        if (!json_is_string(e))
                                return berr_set(err, BERR_INVALID, EINVAL, "invalid type for %s: expected an array of strings",
                                                key);
                        r = apply_string((enum dist_opt) id, key, json_string_value(e), err);
                        if (r < 0)
                                return r;
                }
                return 1;
        }
        case DOPT_MAX_DOWNLOADS:
        case DOPT_MAX_UPLOADS:
                if (!json_is_integer(v))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid type for %s: expected an integer", key);
                r = set_count(id == DOPT_MAX_DOWNLOADS ? &target->max_downloads : &target->max_uploads, key,
                              (long long) json_integer_value(v), err);
                return r < 0 ? r : 1;
        case DOPT_CERTS_DIR:
                if (!json_is_string(v))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid type for %s: expected a string", key);
                r = apply_string(DOPT_CERTS_DIR, key, json_string_value(v), err);
                return r < 0 ? r : 1;
        default:
                return berr_set(err, BERR_INTERNAL, EINVAL, "unhandled registry option");
        }
}

json_t *dist_config_info(void) {
        dist_config_rdlock();
        json_t *cidrs = json_array(), *mirrors = json_array(), *index = json_object();
        json_array_append_new(cidrs, json_string("127.0.0.0/8"));
        json_array_append_new(cidrs, json_string("::1/128"));
        for (size_t i = 0; i < config.n_insecure; i++)
                if (strchr(config.insecure[i], '/'))
                        json_array_append_new(cidrs, json_string(config.insecure[i]));
        /* dockerd's ValidateMirror normalises to exactly one trailing slash; the list keeps
         * none (URLs are built by appending "/v2/..."). */
        for (size_t i = 0; i < config.n_mirrors; i++) {
                char m[520];
                snprintf(m, sizeof(m), "%s/", config.mirrors[i]);
                json_array_append_new(mirrors, json_string(m));
        }
        json_object_set_new(index, "docker.io", json_pack("{s:s, s:O, s:b, s:b}", "Name", "docker.io", "Mirrors", mirrors,
                                                          "Secure", 1, "Official", 1));
        for (size_t i = 0; i < config.n_insecure; i++)
                if (!strchr(config.insecure[i], '/'))
                        json_object_set_new(index, config.insecure[i],
                                            json_pack("{s:s, s:[], s:b, s:b}", "Name", config.insecure[i], "Mirrors",
                                                      "Secure", 0, "Official", 0));
        json_t *info = json_pack("{s:o, s:o, s:o}", "InsecureRegistryCIDRs", cidrs, "IndexConfigs", index, "Mirrors",
                                 mirrors);
        dist_config_unlock();
        return info;
}

/* ---- insecure registries ---- */

static void split_host_port(const char *host, char out[256]) {
        if (host[0] == '[') {
                const char *end = strchr(host, ']');
                snprintf(out, 256, "%.*s", end ? (int) (end - host - 1) : (int) strlen(host + 1), host + 1);
                return;
        }
        const char *colon = strrchr(host, ':');
        snprintf(out, 256, "%.*s", colon ? (int) (colon - host) : (int) strlen(host), host);
}

/* Is @addr inside "a.b.c.d/n" or "x::/n"? */
static bool cidr_contains(const char *cidr, const struct sockaddr *addr) {
        char net[128];
        const char *slash = strchr(cidr, '/');
        if (!slash)
                return false;
        snprintf(net, sizeof(net), "%.*s", (int) (slash - cidr), cidr);
        int bits = atoi(slash + 1);
        unsigned char want[16], have[16];
        size_t len;
        if (addr->sa_family == AF_INET && inet_pton(AF_INET, net, want) == 1) {
                memcpy(have, &((const struct sockaddr_in *) addr)->sin_addr, 4);
                len = 4;
        } else if (addr->sa_family == AF_INET6 && inet_pton(AF_INET6, net, want) == 1) {
                memcpy(have, &((const struct sockaddr_in6 *) addr)->sin6_addr, 16);
                len = 16;
        } else
                return false;
        if (bits < 0 || (size_t) bits > len * 8)
                return false;
        for (int i = 0; i < bits; i++) {
                unsigned char m = (unsigned char) (0x80u >> (i % 8));
                if ((want[i / 8] & m) != (have[i / 8] & m))
                        return false;
        }
        return true;
}

static bool host_is_insecure(const char *host);

bool dist_host_is_insecure(const char *host) {
        dist_config_rdlock();
        bool r = host_is_insecure(host);
        dist_config_unlock();
        return r;
}

static bool host_is_insecure(const char *host) {
        char name[256];
        split_host_port(host, name);
        for (size_t i = 0; i < config.n_insecure; i++)
                if (STREQ(config.insecure[i], host) || STREQ(config.insecure[i], name))
                        return true;
        /* dockerd resolves the name and checks each address against the insecure CIDRs
         * (loopback is always one). Only numeric and local names are resolved here: a
         * registry name is not looked up in DNS just to decide this. */
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
        struct addrinfo *res = NULL;
        if (getaddrinfo(name, NULL, &hints, &res) != 0)
                return false;
        bool insecure = false;
        for (struct addrinfo *a = res; a && !insecure; a = a->ai_next) {
                if (cidr_contains("127.0.0.0/8", a->ai_addr) || cidr_contains("::1/128", a->ai_addr))
                        insecure = true;
                for (size_t i = 0; i < config.n_insecure && !insecure; i++)
                        if (strchr(config.insecure[i], '/') && cidr_contains(config.insecure[i], a->ai_addr))
                                insecure = true;
        }
        freeaddrinfo(res);
        return insecure;
}

/* ---- certificates: <dir>/<host>/{*.crt, *.cert + *.key} ---- */

static bool certs_from(struct dist_endpoint *ep, const char *base) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/%s", base, ep->host);
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d)
                return false;
        bool found = false;
        struct dirent *e;
        while ((e = readdir(d))) {
                size_t n = strlen(e->d_name);
                if (n > 4 && STREQ(e->d_name + n - 4, ".crt") && (!ep->ca_file[0] || STREQ(e->d_name, "ca.crt"))) {
                        /* a path too long to open is as good as none */
                        if (fs_path_fmt(ep->ca_file, sizeof(ep->ca_file), "%s/%s", dir, e->d_name) == 0)
                                found = true;
                } else if (n > 5 && STREQ(e->d_name + n - 5, ".cert")) {
                        if (fs_path_fmt(ep->cert_file, sizeof(ep->cert_file), "%s/%s", dir, e->d_name) == 0 &&
                            fs_path_fmt(ep->key_file, sizeof(ep->key_file), "%s/%.*s.key", dir, (int) (n - 5),
                                        e->d_name) == 0)
                                found = true;
                        else
                                ep->cert_file[0] = ep->key_file[0] = '\0';
                }
        }
        return found;
}

void dist_endpoint_certs(struct dist_endpoint *ep) {
        ep->ca_file[0] = ep->cert_file[0] = ep->key_file[0] = '\0';
        if (!certs_from(ep, config.certs_dir ? config.certs_dir : DIST_DEFAULT_CERTS_DIR))
                (void) certs_from(ep, DIST_DOCKER_CERTS_DIR);
}

/* ---- transfer slots ---- */

static int slots_used[2];

static int slot_limit(bool upload) {
        return upload ? config.max_uploads : config.max_downloads;
}

bool dist_slot_try_acquire(bool upload) {
        pthread_mutex_lock(&slot_lock);
        bool ok = slots_used[upload] < slot_limit(upload);
        if (ok)
                slots_used[upload]++;
        pthread_mutex_unlock(&slot_lock);
        return ok;
}

void dist_slot_acquire(bool upload) {
        pthread_mutex_lock(&slot_lock);
        while (slots_used[upload] >= slot_limit(upload))
                pthread_cond_wait(&slot_cond, &slot_lock);
        slots_used[upload]++;
        pthread_mutex_unlock(&slot_lock);
}

void dist_slot_release(bool upload) {
        pthread_mutex_lock(&slot_lock);
        slots_used[upload]--;
        pthread_cond_broadcast(&slot_cond);
        pthread_mutex_unlock(&slot_lock);
}
