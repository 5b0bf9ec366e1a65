/* registry.c - plugin discovery (dockerd's pkg/plugins localRegistry: spec files and
 * sockets by name), activation once per plugin, and calls with dockerd's retries. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "plugin.h"
#include "plugin_int.h"

#define MAX_DIRS 8
#define SPEC_MAX_BYTES (64u << 10)
/* Activating the plugins of a directory scan (GetAll) must not stall `docker volume ls`
 * on one that accepts and never answers. */
#define SCAN_ACTIVATE_TIMEOUT_MS 10000
#define ACTIVATE_TIMEOUT_MS 30000

struct plugin {
        struct plugin_spec spec;
        struct plugin_pool *pool; /* kept-alive connections */
        char *implements[PLUGIN_MAX_IMPLEMENTS];
        size_t n_implements;
        struct plugin_registry *reg;
        struct plugin *next;
        /* Managed plugins (plugin_registry_put_managed): kept in the list for the daemon's
         * life like the others (callers hold pointers), skipped once disabled or removed. */
        bool is_managed, is_disabled, is_removed;
        char *rootfs, *prop_mount, *prop_root; /* managed: where its paths are on the host */
};

struct plugin_registry {
        char *socket_dirs[MAX_DIRS];
        char *spec_dirs[MAX_DIRS];
        size_t n_socket_dirs, n_spec_dirs;
        unsigned retry_seconds;
        pthread_mutex_t lock;
        struct plugin *active; /* activated, kept for the daemon's life as dockerd does */
};

static void free_plugin(struct plugin *p) {
        plugin_pool_free(p->pool);
        free(p->rootfs);
        free(p->prop_mount);
        free(p->prop_root);
        for (size_t i = 0; i < p->n_implements; i++)
                free(p->implements[i]);
        free(p);
}

unsigned plugin_backoff_seconds(unsigned retries) {
        unsigned b = 1;
        while (b < PLUGIN_RETRY_SECONDS && retries > 0) {
                b *= 2;
                retries--;
        }
        return b > PLUGIN_RETRY_SECONDS ? PLUGIN_RETRY_SECONDS : b;
}

static double elapsed_s(const struct timespec *start) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double) (now.tv_sec - start->tv_sec) + (double) (now.tv_nsec - start->tv_nsec) / 1e9;
}

/* dockerd's abort(): give up when the next wait would end past the window. */
static bool retry_wait(struct plugin_registry *reg, const struct timespec *start, unsigned *retries) {
        unsigned off = plugin_backoff_seconds(*retries);
        if ((double) off + elapsed_s(start) >= (double) reg->retry_seconds)
                return false;
        (*retries)++;
        struct timespec ts = { .tv_sec = off };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        return true;
}

static bool name_ok(const char *name) {
        size_t n = name ? strlen(name) : 0;
        return n > 0 && n < 200 && name[0] != '.' && !strchr(name, '/');
}

static int add_dir(char **dirs, size_t *n, const char *path) {
        if (*n >= MAX_DIRS)
                return 0;
        dirs[*n] = strdup(path);
        if (!dirs[*n])
                return -ENOMEM;
        (*n)++;
        return 0;
}

int plugin_registry_new(const char *exec_root, struct plugin_registry **ret, struct berr *err) {
        struct plugin_registry *reg = calloc(1, sizeof(*reg));
        if (!reg)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pthread_mutex_init(&reg->lock, NULL);
        reg->retry_seconds = PLUGIN_RETRY_SECONDS;
        const char *rs = getenv("BERTH_PLUGIN_RETRY_SECONDS");
        if (rs && *rs) {
                char *end;
                unsigned long v = strtoul(rs, &end, 10);
                if (!*end && v <= PLUGIN_RETRY_SECONDS)
                        reg->retry_seconds = (unsigned) v;
        }
        char own[4096];
        bool has_own = exec_root && fs_path_fmt(own, sizeof(own), "%s/plugins", exec_root) == 0;
        int r = 0;
        r |= add_dir(reg->socket_dirs, &reg->n_socket_dirs, "/run/docker/plugins");
        if (has_own)
                r |= add_dir(reg->socket_dirs, &reg->n_socket_dirs, own);
        r |= add_dir(reg->spec_dirs, &reg->n_spec_dirs, "/etc/docker/plugins");
        r |= add_dir(reg->spec_dirs, &reg->n_spec_dirs, "/usr/lib/docker/plugins");
        r |= add_dir(reg->spec_dirs, &reg->n_spec_dirs, "/etc/berth/plugins");
        if (has_own)
                r |= add_dir(reg->spec_dirs, &reg->n_spec_dirs, own);
        if (r < 0) {
                plugin_registry_free(reg);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        *ret = reg;
        return 0;
}

struct plugin_registry *plugin_registry_free(struct plugin_registry *reg) {
        if (!reg)
                return NULL;
        for (size_t i = 0; i < reg->n_socket_dirs; i++)
                free(reg->socket_dirs[i]);
        for (size_t i = 0; i < reg->n_spec_dirs; i++)
                free(reg->spec_dirs[i]);
        while (reg->active) {
                struct plugin *p = reg->active;
                reg->active = p->next;
                free_plugin(p);
        }
        pthread_mutex_destroy(&reg->lock);
        free(reg);
        return NULL;
}

int plugin_spec_parse(const char *name, const char *ext, const char *text, size_t len, struct plugin_spec *ret,
                      struct berr *err) {
        struct plugin_spec s = { 0 };
        snprintf(s.name, sizeof(s.name), "%s", name);
        if (strcmp(ext, ".json") == 0) {
                _cleanup_json_ json_t *o = NULL;
                int r = json_parse_object(text, len, &o, err);
                if (r < 0)
                        return berr_wrap(err, "plugin %s: spec", name);
                json_t *addr = json_object_get(o, "Addr");
                if (addr && !json_is_string(addr) && !json_is_null(addr))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "plugin %s: json: cannot unmarshal %s into Go struct field Plugin.Addr of type string",
                                        name, json_type_name(addr));
                json_t *tls = json_object_get(o, "TLSConfig");
                if (tls && !json_is_object(tls) && !json_is_null(tls))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "plugin %s: json: cannot unmarshal %s into Go struct field Plugin.TLSConfig",
                                        name, json_type_name(tls));
                s.has_tls = json_is_object(tls);
                const char *a = json_string_value(addr) ?: "";
                if (strlen(a) >= sizeof(s.addr))
                        return berr_set(err, BERR_INVALID, ENAMETOOLONG, "plugin %s: address too long", name);
                snprintf(s.addr, sizeof(s.addr), "%s", a);
        } else {
                /* strings.TrimSpace, then a URL with a scheme */
                size_t b = 0, e = len;
                while (b < e && strchr(" \t\r\n\v\f", text[b]))
                        b++;
                while (e > b && strchr(" \t\r\n\v\f", text[e - 1]))
                        e--;
                if (e - b >= sizeof(s.addr))
                        return berr_set(err, BERR_INVALID, ENAMETOOLONG, "plugin %s: address too long", name);
                if (memchr(text + b, '\0', e - b) || memchr(text + b, '\n', e - b))
                        return berr_set(err, BERR_INVALID, EINVAL, "plugin %s: invalid control character in URL", name);
                memcpy(s.addr, text + b, e - b);
                s.addr[e - b] = '\0';
        }
        const char *colon = strstr(s.addr, "://");
        if (!colon || colon == s.addr)
                return berr_set(err, BERR_INVALID, EINVAL, "Unknown protocol");
        for (const char *c = s.addr; c < colon; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '+' ||
                      *c == '-' || *c == '.'))
                        return berr_set(err, BERR_INVALID, EINVAL, "Unknown protocol");
        *ret = s;
        return 0;
}

static bool is_socket(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

int plugin_registry_lookup(struct plugin_registry *reg, const char *name, struct plugin_spec *ret, struct berr *err) {
        if (!name_ok(name))
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "plugin \"%s\" not found", name ? name : "");
        char path[4096];
        for (size_t i = 0; i < reg->n_socket_dirs; i++)
                for (int sub = 0; sub < 2; sub++) {
                        if ((sub ? fs_path_fmt(path, sizeof(path), "%s/%s/%s.sock", reg->socket_dirs[i], name, name)
                                 : fs_path_fmt(path, sizeof(path), "%s/%s.sock", reg->socket_dirs[i], name)) < 0)
                                continue;
                        if (is_socket(path)) {
                                struct plugin_spec s = { 0 };
                                snprintf(s.name, sizeof(s.name), "%s", name);
                                if (fs_path_fmt(s.addr, sizeof(s.addr), "unix://%s", path) < 0)
                                        continue;
                                *ret = s;
                                return 0;
                        }
                }
        static const char *const exts[] = { ".spec", ".json" };
        for (size_t i = 0; i < reg->n_spec_dirs; i++)
                for (size_t x = 0; x < 2; x++)
                        for (int sub = 0; sub < 2; sub++) {
                                if ((sub ? fs_path_fmt(path, sizeof(path), "%s/%s/%s%s", reg->spec_dirs[i], name, name, exts[x])
                                         : fs_path_fmt(path, sizeof(path), "%s/%s%s", reg->spec_dirs[i], name, exts[x])) < 0)
                                        continue;
                                struct stat st;
                                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                                        continue;
                                _cleanup_free_ char *text = NULL;
                                size_t len;
                                int r = fs_read_file(AT_FDCWD, path, SPEC_MAX_BYTES, &text, &len, err);
                                if (r < 0)
                                        return r;
                                return plugin_spec_parse(name, exts[x], text, len, ret, err);
                        }
        return berr_set(err, BERR_NOT_FOUND, ENOENT, "plugin \"%s\" not found", name);
}

static void scan_add(json_t *names, const char *name) {
        size_t i;
        json_t *v;
        json_array_foreach(names, i, v) if (strcmp(json_string_value(v), name) == 0) return;
        json_array_append_new(names, json_string(name));
}

/* One directory: entries NAME.ext, or subdirectories NAME/ holding NAME.ext. */
static void scan_dir(const char *dir, bool sockets, json_t *names) {
        DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *de;
        char path[4096];
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                const char *n = de->d_name;
                if (fs_path_fmt(path, sizeof(path), "%s/%s", dir, n) < 0)
                        continue;
                struct stat st;
                if (stat(path, &st) < 0)
                        continue;
                static const char *const spec_exts[] = { ".spec", ".json" };
                if (S_ISDIR(st.st_mode)) {
                        char inner[4096];
                        bool found = false;
                        if (sockets)
                                found = fs_path_fmt(inner, sizeof(inner), "%s/%s.sock", path, n) == 0 && is_socket(inner);
                        for (size_t x = 0; !sockets && !found && x < 2; x++)
                                found = fs_path_fmt(inner, sizeof(inner), "%s/%s%s", path, n, spec_exts[x]) == 0 &&
                                        access(inner, F_OK) == 0;
                        if (found && name_ok(n))
                                scan_add(names, n);
                        continue;
                }
                const char *dot = strrchr(n, '.');
                if (!dot || dot == n)
                        continue;
                bool match = sockets ? S_ISSOCK(st.st_mode) : (strcmp(dot, ".spec") == 0 || strcmp(dot, ".json") == 0);
                if (!match)
                        continue;
                char base[256];
                snprintf(base, sizeof(base), "%.*s", (int) (dot - n), n);
                if (name_ok(base))
                        scan_add(names, base);
        }
        closedir(d);
}

json_t *plugin_registry_scan(struct plugin_registry *reg) {
        json_t *names = json_array();
        for (size_t i = 0; names && i < reg->n_socket_dirs; i++)
                scan_dir(reg->socket_dirs[i], true, names);
        for (size_t i = 0; names && i < reg->n_spec_dirs; i++)
                scan_dir(reg->spec_dirs[i], false, names);
        return names;
}

const char *plugin_name(const struct plugin *p) {
        return p->spec.name;
}

bool plugin_implements(const struct plugin *p, const char *kind) {
        for (size_t i = 0; i < p->n_implements; i++)
                if (strcmp(p->implements[i], kind) == 0)
                        return true;
        return false;
}

/* One call with dockerd's retry: only while nothing was sent (the plugin is not there or
 * not listening yet); a request that left is never repeated. */
static int call_addr(struct plugin_registry *reg, const struct plugin_spec *spec, struct plugin_pool *pool,
                     const char *method, json_t *args, long timeout_ms, bool retry, json_t **ret, struct berr *err) {
        _cleanup_free_ char *body = args ? json_dumps(args, JSON_COMPACT) : NULL;
        if (args && !body)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        char path[512];
        if (fs_path_fmt(path, sizeof(path), "/%s", method) < 0)
                return berr_set(err, BERR_INVALID, E2BIG, "plugin method name too long");
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        unsigned retries = 0;
        int status;
        _cleanup_free_ char *resp = NULL;
        size_t resp_len;
        for (;;) {
                bool sent;
                int r = pool ? plugin_http_post_pooled(pool, spec->addr, path, body ? body : "", body ? strlen(body) : 0,
                                                       timeout_ms, &status, &resp, &resp_len, &sent, err)
                             : plugin_http_post(spec->addr, path, body ? body : "", body ? strlen(body) : 0, timeout_ms,
                                                &status, &resp, &resp_len, &sent, err);
                if (r == 0)
                        break;
                if (sent || !retry || err->kind != BERR_UNAVAILABLE)
                        return r;
                unsigned off = plugin_backoff_seconds(retries);
                if (!retry_wait(reg, &start, &retries))
                        return r;
                log_debug("Unable to connect to plugin: %s/%s: %s, retried after %us", spec->name, method, err->msg, off);
        }
        if (status != 200) {
                /* The answer's Err, else its text (dockerd's statusError). */
                _cleanup_json_ json_t *o = json_loadb(resp, resp_len, 0, NULL);
                const char *e = json_string_value(json_object_get(o, "Err"));
                enum berr_kind kind = status == 404 ? BERR_NOT_FOUND : BERR_INTERNAL;
                if (e && *e)
                        return berr_set(err, kind, EIO, "%s: %s", method, e);
                return berr_set(err, kind, EIO, "%s: %.*s", method, (int) (resp_len > 512 ? 512 : resp_len), resp);
        }
        if (ret) {
                json_error_t je;
                json_t *o = json_loadb(resp, resp_len, JSON_DECODE_ANY, &je);
                if (!o)
                        return berr_set(err, BERR_INTERNAL, EPROTO, "%s: error reading plugin resp: %s", method, je.text);
                *ret = o;
        }
        return 0;
}

int plugin_call(struct plugin *p, const char *method, json_t *args, long timeout_ms, json_t **ret, struct berr *err) {
        return call_addr(p->reg, &p->spec, p->pool, method, args, timeout_ms, true, ret, err);
}

/* A managed plugin answers to its name and, for NAME:latest, to NAME (dockerd's lookup
 * normalizes the reference). */
static bool managed_name_is(const struct plugin *p, const char *name) {
        size_t n = strlen(name);
        return strcmp(p->spec.name, name) == 0 ||
               (strncmp(p->spec.name, name, n) == 0 && strcmp(p->spec.name + n, ":latest") == 0);
}

static struct plugin *find_active(struct plugin_registry *reg, const char *name) {
        for (struct plugin *p = reg->active; p; p = p->next) {
                if (p->is_managed) {
                        if (!p->is_disabled && !p->is_removed && managed_name_is(p, name))
                                return p;
                        continue;
                }
                if (strcmp(p->spec.name, name) == 0)
                        return p;
        }
        return NULL;
}

/* A managed plugin by that name that is disabled (dockerd does not fall back to a legacy
 * plugin then). */
static struct plugin *find_disabled_managed(struct plugin_registry *reg, const char *name) {
        for (struct plugin *p = reg->active; p; p = p->next)
                if (p->is_managed && p->is_disabled && !p->is_removed && managed_name_is(p, name))
                        return p;
        return NULL;
}

/* Plugin.Activate; the activated plugin joins the registry (or the one another thread
 * activated meanwhile is used). */
static int activate(struct plugin_registry *reg, const struct plugin_spec *spec, bool retry, long timeout_ms,
                    struct plugin **ret, struct berr *err) {
        _cleanup_json_ json_t *m = NULL;
        int r = call_addr(reg, spec, NULL, "Plugin.Activate", NULL, timeout_ms, retry, &m, err);
        if (r < 0)
                return r;
        json_t *impl = json_object_get(m, "Implements");
        if (!json_is_object(m) || (impl && !json_is_array(impl) && !json_is_null(impl)))
                return berr_set(err, BERR_INTERNAL, EPROTO, "Plugin.Activate: error reading plugin resp: not a manifest");
        struct plugin *p = calloc(1, sizeof(*p));
        if (!p)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        p->spec = *spec;
        p->reg = reg;
        p->pool = plugin_pool_new();
        if (!p->pool) {
                free(p);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        size_t i;
        json_t *v;
        json_array_foreach(impl, i, v) {
                if (!json_is_string(v) || p->n_implements >= PLUGIN_MAX_IMPLEMENTS)
                        continue;
                p->implements[p->n_implements] = strdup(json_string_value(v));
                if (p->implements[p->n_implements])
                        p->n_implements++;
        }
        pthread_mutex_lock(&reg->lock);
        struct plugin *have = find_active(reg, spec->name);
        if (have)
                free_plugin(p);
        else {
                p->next = reg->active;
                reg->active = p;
                have = p;
        }
        pthread_mutex_unlock(&reg->lock);
        *ret = have;
        return 0;
}

static int get_plugin(struct plugin_registry *reg, const char *name, const char *kind, bool retry, struct plugin **ret,
                      struct berr *err) {
        if (!name || !*name)
                return berr_set(err, BERR_INVALID, EINVAL, "Unable to find plugin without name");
        pthread_mutex_lock(&reg->lock);
        struct plugin *p = find_active(reg, name);
        bool is_off = !p && find_disabled_managed(reg, name);
        pthread_mutex_unlock(&reg->lock);
        if (is_off)
                return berr_set(err, BERR_CONFLICT, EBUSY, "plugin %s found but disabled", name);
        if (!p) {
                struct plugin_spec spec;
                struct timespec start;
                clock_gettime(CLOCK_MONOTONIC, &start);
                unsigned retries = 0;
                for (;;) {
                        int r = plugin_registry_lookup(reg, name, &spec, err);
                        if (r == 0)
                                break;
                        if (err->kind != BERR_NOT_FOUND || !name_ok(name) || !retry)
                                return r;
                        unsigned off = plugin_backoff_seconds(retries);
                        if (!retry_wait(reg, &start, &retries))
                                return r;
                        log_debug("Unable to locate plugin: %s, retried after %us", name, off);
                }
                int r = activate(reg, &spec, retry, ACTIVATE_TIMEOUT_MS, &p, err);
                if (r < 0) {
                        err->kind = BERR_INTERNAL; /* errdefs.System */
                        return berr_wrap(err, "legacy plugin");
                }
        }
        if (!plugin_implements(p, kind))
                return berr_set(err, BERR_INTERNAL, ENOTSUP, "legacy plugin: Plugin does not implement the requested driver");
        *ret = p;
        return 0;
}

int plugin_get(struct plugin_registry *reg, const char *name, const char *kind, struct plugin **ret, struct berr *err) {
        return get_plugin(reg, name, kind, true, ret, err);
}

int plugin_get_now(struct plugin_registry *reg, const char *name, const char *kind, struct plugin **ret,
                   struct berr *err) {
        return get_plugin(reg, name, kind, false, ret, err);
}

int plugin_get_all(struct plugin_registry *reg, const char *kind, struct plugin ***ret, size_t *ret_n,
                   struct berr *err) {
        _cleanup_json_ json_t *names = plugin_registry_scan(reg);
        if (!names)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        struct plugin **out = calloc(json_array_size(names) + 1, sizeof(*out));
        if (!out)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t n = 0, i;
        json_t *v;
        json_array_foreach(names, i, v) {
                const char *name = json_string_value(v);
                pthread_mutex_lock(&reg->lock);
                struct plugin *p = find_active(reg, name);
                pthread_mutex_unlock(&reg->lock);
                if (!p) {
                        struct plugin_spec spec;
                        struct berr e = { 0 };
                        if (plugin_registry_lookup(reg, name, &spec, &e) < 0 ||
                            activate(reg, &spec, false, SCAN_ACTIVATE_TIMEOUT_MS, &p, &e) < 0) {
                                log_debug("plugin %s: %s", name, e.msg); /* dockerd logs it and goes on */
                                continue;
                        }
                }
                if (plugin_implements(p, kind))
                        out[n++] = p;
        }
        /* and the enabled managed plugins, which no directory holds */
        pthread_mutex_lock(&reg->lock);
        size_t n_managed = 0;
        for (struct plugin *p = reg->active; p; p = p->next)
                n_managed += p->is_managed;
        struct plugin **grown = n_managed ? realloc(out, (n + n_managed + 1) * sizeof(*out)) : out;
        if (grown) {
                out = grown;
                for (struct plugin *p = reg->active; p && n_managed; p = p->next)
                        if (p->is_managed && !p->is_disabled && !p->is_removed && plugin_implements(p, kind))
                                out[n++] = p;
        }
        pthread_mutex_unlock(&reg->lock);
        *ret = out;
        *ret_n = n;
        return 0;
}

json_t *plugin_registry_active(struct plugin_registry *reg, const char *kind) {
        json_t *out = json_array();
        pthread_mutex_lock(&reg->lock);
        for (struct plugin *p = reg->active; p && out; p = p->next)
                if (plugin_implements(p, kind) && !p->is_disabled && !p->is_removed)
                        json_array_append_new(out, json_string(p->spec.name));
        pthread_mutex_unlock(&reg->lock);
        return out;
}

const char *plugin_addr(const struct plugin *p) {
        return p->spec.addr;
}

int plugin_registry_put_managed(struct plugin_registry *reg, const char *name, const char *addr,
                                const char *const *kinds, size_t n_kinds, const struct plugin_scope *scope,
                                long timeout_ms, struct berr *err) {
        struct plugin_spec spec = { 0 };
        if (strlen(name) >= sizeof(spec.name) || fs_path_fmt(spec.addr, sizeof(spec.addr), "%s", addr) < 0)
                return berr_set(err, BERR_INVALID, ENAMETOOLONG, "plugin %s: name or address too long", name);
        snprintf(spec.name, sizeof(spec.name), "%s", name);
        /* the handshake: a plugin that does not answer it is not enabled */
        _cleanup_json_ json_t *m = NULL;
        int r = call_addr(reg, &spec, NULL, "Plugin.Activate", NULL, timeout_ms, false, &m, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&reg->lock);
        struct plugin *p = NULL;
        for (struct plugin *q = reg->active; q; q = q->next)
                if (q->is_managed && strcmp(q->spec.name, name) == 0 && strcmp(q->spec.addr, spec.addr) == 0) {
                        p = q;
                        break;
                }
        if (p) {
                p->is_disabled = p->is_removed = false;
                pthread_mutex_unlock(&reg->lock);
                return 0;
        }
        /* another plugin of that name before (removed, then made again): leave it removed */
        for (struct plugin *q = reg->active; q; q = q->next)
                if (q->is_managed && strcmp(q->spec.name, name) == 0)
                        q->is_removed = true;
        p = calloc(1, sizeof(*p));
        if (p)
                p->pool = plugin_pool_new();
        if (!p || !p->pool) {
                free(p);
                pthread_mutex_unlock(&reg->lock);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        p->spec = spec;
        p->reg = reg;
        p->is_managed = true;
        p->rootfs = strdup(scope->rootfs);
        p->prop_mount = strdup(scope->prop_mount ? scope->prop_mount : "");
        p->prop_root = strdup(scope->prop_root ? scope->prop_root : "");
        if (!p->rootfs || !p->prop_mount || !p->prop_root) {
                free_plugin(p);
                pthread_mutex_unlock(&reg->lock);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n_kinds && p->n_implements < PLUGIN_MAX_IMPLEMENTS; i++)
                if ((p->implements[p->n_implements] = strdup(kinds[i])))
                        p->n_implements++;
        p->next = reg->active;
        reg->active = p;
        pthread_mutex_unlock(&reg->lock);
        return 0;
}

void plugin_registry_managed_state(struct plugin_registry *reg, const char *name, bool is_removed) {
        pthread_mutex_lock(&reg->lock);
        for (struct plugin *p = reg->active; p; p = p->next)
                if (p->is_managed && strcmp(p->spec.name, name) == 0) {
                        p->is_disabled = true;
                        p->is_removed = p->is_removed || is_removed;
                }
        pthread_mutex_unlock(&reg->lock);
}

int plugin_scoped_path(const struct plugin *p, const char *path, char *out, size_t size) {
        if (!p->is_managed)
                return fs_path_fmt(out, size, "%s", path);
        size_t n = strlen(p->prop_mount);
        if (n && strncmp(path, p->prop_mount, n) == 0 && (path[n] == '/' || path[n] == '\0'))
                return fs_host_path_in_root(p->prop_root, path + n, out, size);
        return fs_host_path_in_root(p->rootfs, path, out, size);
}

bool plugin_is_managed(const struct plugin *p) {
        return p->is_managed;
}
