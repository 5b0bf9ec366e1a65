/* plugin_mgr.c - managed plugins (plugin_mgr.h): the store under DATA-ROOT/plugins, and
 * the plugin's life as a container run by berth-shim (plugin_run.c starts and stops it).
 * One lock for the list; a plugin being enabled, disabled, set or removed is marked busy
 * and the work runs outside the lock (a start waits for the plugin's socket). */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/id.h"
#include "common/json.h"
#include "common/log.h"
#include "common/tree.h"
#include "daemon.h"
#include "events.h"
#include "image/layer_apply.h"
#include "image/reference.h"
#include "plugin/plugin.h"
#include "plugin_mgr.h"
#include "plugin_mgr_int.h"
#include "volume/volume.h"

#define CONFIG_MAX_BYTES (1u << 20) /* a plugin's config.json (dockerd reads it whole, unbounded) */
#define RECORD_MAX_BYTES (4u << 20)
#define TMP_PREFIX ".tmp-"


static struct mplugin *mplugin_free(struct mplugin *p) {
        if (p)
                json_decref(p->obj);
        free(p);
        return NULL;
}

const char *mplugin_name(const struct mplugin *p) {
        return json_string_value(json_object_get(p->obj, "Name")) ?: "";
}

bool mplugin_enabled(const struct mplugin *p) {
        return json_is_true(json_object_get(p->obj, "Enabled"));
}

int pmgr_data_dir(struct daemon *d) {
        return d->pmgr ? d->pmgr->dir_fd : -1;
}

/* Write the Plugin object atomically: DATA-ROOT/plugins/<id>/config.json. */
static int save_at(int dir_fd, const char *id, json_t *obj, struct berr *err) {
        _cleanup_close_ int fd = openat(dir_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "plugin %s", id);
        _cleanup_free_ char *text = json_dumps(obj, JSON_COMPACT);
        if (!text)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = fs_write_atomic(fd, "config.json", text, strlen(text), 0600, err);
        return r < 0 ? berr_wrap(err, "failed to write atomically plugin json") : 0;
}

int pmgr_save(struct daemon *d, struct mplugin *p, struct berr *err) {
        return save_at(d->pmgr->dir_fd, p->id, p->obj, err);
}

int pmgr_save_obj(struct daemon *d, const char *id, json_t *obj, struct berr *err) {
        return save_at(d->pmgr->dir_fd, id, obj, err);
}

/* A regular file in @dir_fd, not followed if a symlink, at most @max bytes. */
static int read_regular(int dir_fd, const char *name, size_t max, char **ret, size_t *ret_len, struct berr *err) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, errno == ENOENT ? BERR_NOT_FOUND : BERR_INVALID, "%s", name);
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return berr_set(err, BERR_INVALID, EINVAL, "%s: not a regular file", name);
        if ((size_t) st.st_size > max)
                return berr_set(err, BERR_TOO_LARGE, EFBIG, "%s: larger than %zu bytes", name, max);
        _cleanup_free_ char *buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t len = 0;
        for (;;) {
                ssize_t n = read(fd, buf + len, (size_t) st.st_size + 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berr_sys(err, BERR_INTERNAL, "read %s", name);
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > (size_t) st.st_size)
                        return berr_set(err, BERR_INVALID, EFBIG, "%s: grew while read", name);
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static void set_enabled(struct plugin_mgr *m, struct mplugin *p, bool on) {
        pthread_mutex_lock(&m->lock);
        json_object_set_new(p->obj, "Enabled", json_boolean(on));
        pthread_mutex_unlock(&m->lock);
}

static int load_one(struct plugin_mgr *m, const char *id, struct berr *err) {
        _cleanup_close_ int fd = openat(m->dir_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", id);
        _cleanup_free_ char *text = NULL;
        size_t len;
        _cleanup_json_ json_t *o = NULL;
        int r = read_regular(fd, "config.json", RECORD_MAX_BYTES, &text, &len, err);
        if (r == 0)
                r = json_parse_object(text, len, &o, err);
        if (r < 0)
                return r;
        if (!json_is_string(json_object_get(o, "Name")) || !json_is_object(json_object_get(o, "Config")) ||
            strcmp(json_string_value(json_object_get(o, "Id")) ?: "", id) != 0)
                return berr_set(err, BERR_INVALID, EINVAL, "plugin %s: config.json is not a plugin record", id);
        struct mplugin *p = calloc(1, sizeof(*p));
        if (!p)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        snprintf(p->id, sizeof(p->id), "%.64s", id);
        p->watch_fd = -1;
        p->obj = TAKE_PTR(o);
        p->next = m->list;
        m->list = p;
        return 0;
}

int pmgr_open(struct daemon *d, struct berr *err) {
        struct plugin_mgr *m = calloc(1, sizeof(*m));
        if (!m)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pthread_mutex_init(&m->lock, NULL);
        pthread_cond_init(&m->cond, NULL);
        d->pmgr = m;
        char path[4200];
        if (fs_path_fmt(path, sizeof(path), "%s/plugins", d->cfg.data_root) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s/plugins: path too long", d->cfg.data_root);
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return berr_sys(err, BERR_INTERNAL, "create %s", path);
        m->dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (m->dir_fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", path);
        int dfd = dup(m->dir_fd);
        _cleanup_(closedirp) DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!dir) {
                if (dfd >= 0)
                        close(dfd);
                return berr_sys(err, BERR_INTERNAL, "read %s", path);
        }
        struct dirent *de;
        while ((de = readdir(dir))) {
                struct berr e = { 0 };
                if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
                        /* a create, pull or removal cut short: never trusted, removed */
                        if (tree_remove_at(m->dir_fd, de->d_name, &e) < 0)
                                log_warn("plugins: remove %s: %s", de->d_name, e.msg);
                        continue;
                }
                if (!id_is_full_hex(de->d_name))
                        continue;
                if (load_one(m, de->d_name, &e) < 0)
                        log_warn("plugins: skipping %s: %s", de->d_name, e.msg);
        }
        return 0;
}

void pmgr_start_enabled(struct daemon *d) {
        struct plugin_mgr *m = d->pmgr;
        bool any = false;
        for (struct mplugin *p = m->list; p; p = p->next)
                any = any || mplugin_enabled(p);
        if (!any)
                return;
        if (!d->shim_path[0]) { /* the container store sets it later; berth-shim is beside us */
                char self[4096];
                ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
                char *slash = NULL;
                if (n > 0) {
                        self[n] = '\0';
                        slash = strrchr(self, '/');
                }
                if (slash)
                        *slash = '\0';
                if (!slash || fs_path_fmt(d->shim_path, sizeof(d->shim_path), "%s/berth-shim", self) < 0) {
                        d->shim_path[0] = '\0';
                        log_warn("plugins: cannot find berth-shim; enabled plugins stay stopped");
                        return;
                }
        }
        /* dockerd starts the plugins that were enabled; one still running is taken back */
        for (struct mplugin *p = m->list; p; p = p->next) {
                if (!mplugin_enabled(p))
                        continue;
                struct berr e = { 0 };
                if (pmgr_run_restore(d, p, &e) < 0) {
                        log_warn("plugin %s: could not be enabled again: %s", mplugin_name(p), e.msg);
                        json_object_set_new(p->obj, "Enabled", json_false());
                        struct berr e2 = { 0 };
                        if (pmgr_save(d, p, &e2) < 0)
                                log_warn("plugin %s: %s", mplugin_name(p), e2.msg);
                } else
                        log_info("plugin %s enabled", mplugin_name(p));
        }
}

void pmgr_close(struct daemon *d) {
        struct plugin_mgr *m = d->pmgr;
        if (!m)
                return;
        pmgr_run_close(d);
        while (m->list) {
                struct mplugin *p = m->list;
                m->list = p->next;
                mplugin_free(p);
        }
        if (m->dir_fd >= 0)
                close(m->dir_fd);
        pthread_mutex_destroy(&m->lock);
        pthread_cond_destroy(&m->cond);
        free(m);
        d->pmgr = NULL;
}

/* dockerd's resolvePluginID: a full ID, a name (NAME means NAME:latest), an ID prefix. */
static int find_locked(struct plugin_mgr *m, const char *ref, struct mplugin **ret, struct berr *err) {
        if (id_is_full_hex(ref)) {
                for (struct mplugin *p = m->list; p; p = p->next)
                        if (strcmp(p->id, ref) == 0) {
                                *ret = p;
                                return 0;
                        }
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "plugin \"%s\" not found", ref);
        }
        struct reference r;
        struct berr e = { 0 };
        if (reference_parse_normalized(ref, &r, &e) < 0 || r.digest[0])
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "plugin \"%s\" not found", ref);
        reference_default_tag(&r);
        char name[REFERENCE_STRING_MAX];
        reference_familiar_string(&r, name);
        for (struct mplugin *p = m->list; p; p = p->next)
                if (strcmp(mplugin_name(p), name) == 0) {
                        *ret = p;
                        return 0;
                }
        struct mplugin *found = NULL;
        for (struct mplugin *p = m->list; p; p = p->next)
                if (strncmp(p->id, ref, strlen(ref)) == 0) {
                        if (found)
                                return berr_set(err, BERR_INVALID, EINVAL, "multiple plugins found for \"%s\"", ref);
                        found = p;
                }
        if (!found)
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "plugin \"%s\" not found", ref);
        *ret = found;
        return 0;
}

/* Find and mark busy (waiting out another operation on it); pmgr_release ends it. */
int pmgr_acquire(struct plugin_mgr *m, const char *ref, struct mplugin **ret, struct berr *err) {
        pthread_mutex_lock(&m->lock);
        struct mplugin *p;
        int r;
        for (;;) {
                if ((r = find_locked(m, ref, &p, err)) < 0) {
                        pthread_mutex_unlock(&m->lock);
                        return r;
                }
                if (!p->busy)
                        break;
                pthread_cond_wait(&m->cond, &m->lock);
        }
        p->busy = true;
        pthread_mutex_unlock(&m->lock);
        *ret = p;
        return 0;
}

void pmgr_release(struct plugin_mgr *m, struct mplugin *p) {
        pthread_mutex_lock(&m->lock);
        p->busy = false;
        pthread_cond_broadcast(&m->cond);
        pthread_mutex_unlock(&m->lock);
}

void pmgr_emit(struct daemon *d, struct mplugin *p, const char *action) {
        events_emit(d, "plugin", action, p->id, json_pack("{s:s}", "name", mplugin_name(p)));
}

/* ---- list, inspect ---- */

static bool capability_matches(json_t *obj, json_t *caps) {
        if (!json_array_size(caps))
                return true;
        json_t *types = json_object_get(json_object_get(json_object_get(obj, "Config"), "Interface"), "Types");
        size_t i, j;
        json_t *t, *c;
        /* dockerd: every type's capability must match a value */
        json_array_foreach(types, i, t) {
                const char *s = json_string_value(t) ?: "";
                const char *dot = strchr(s, '.'), *slash = strrchr(s, '/');
                char cap[128] = "";
                if (dot && slash > dot && (size_t) (slash - dot) < sizeof(cap))
                        snprintf(cap, sizeof(cap), "%.*s", (int) (slash - dot - 1), dot + 1);
                bool any = false;
                json_array_foreach(caps, j, c) if (json_string_value(c) && strcasestr(cap, json_string_value(c))) any = true;
                if (!any)
                        return false;
        }
        return true;
}

int pmgr_list(struct daemon *d, json_t *filters, json_t **ret, struct berr *err) {
        struct plugin_mgr *m = d->pmgr;
        json_t *en = json_object_get(filters, "enabled");
        int want = -1; /* -1 any, 0 disabled, 1 enabled */
        if (json_array_size(en) > 0) {
                size_t i;
                json_t *v;
                json_array_foreach(en, i, v) {
                        const char *s = json_string_value(v) ?: "";
                        int b = !strcmp(s, "true") || !strcmp(s, "1") ? 1 : !strcmp(s, "false") || !strcmp(s, "0") ? 0 : -2;
                        if (b == -2)
                                return berr_set(err, BERR_INVALID, EINVAL, "strconv.ParseBool: parsing \"%s\": invalid syntax", s);
                        want = b;
                }
        }
        json_t *caps = json_object_get(filters, "capability");
        json_t *out = json_array();
        if (!out)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pthread_mutex_lock(&m->lock);
        for (struct mplugin *p = m->list; p; p = p->next) {
                if (want >= 0 && mplugin_enabled(p) != (want == 1))
                        continue;
                if (!capability_matches(p->obj, caps))
                        continue;
                json_array_append_new(out, json_deep_copy(p->obj));
        }
        pthread_mutex_unlock(&m->lock);
        *ret = out;
        return 0;
}

int pmgr_inspect(struct daemon *d, const char *name, json_t **ret, struct berr *err) {
        struct plugin_mgr *m = d->pmgr;
        pthread_mutex_lock(&m->lock);
        struct mplugin *p;
        int r = find_locked(m, name, &p, err);
        if (r == 0 && !(*ret = json_deep_copy(p->obj)))
                r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pthread_mutex_unlock(&m->lock);
        return r;
}

/* ---- create ---- */

/* "name" -> "name:latest" as dockerd names a plugin (FamiliarString(TagNameOnly)). */
static int plugin_name_of(const char *repo, char out[REFERENCE_STRING_MAX], struct berr *err) {
        struct reference r;
        if (reference_parse_normalized(repo ? repo : "", &r, err) < 0) {
                err->kind = BERR_INVALID;
                return berr_wrap(err, "failed to parse reference %s", repo ? repo : "");
        }
        if (r.digest[0])
                return berr_set(err, BERR_INVALID, EINVAL, "canonical references are not permitted");
        reference_default_tag(&r);
        reference_familiar_string(&r, out);
        return 0;
}

bool pmgr_name_taken_locked(struct plugin_mgr *m, const char *name) {
        for (struct mplugin *p = m->list; p; p = p->next)
                if (strcmp(mplugin_name(p), name) == 0)
                        return true;
        return false;
}

/* A fresh ID whose first 12 digits no plugin has (the socket directory is named by them). */
static int new_id(struct plugin_mgr *m, char id[ID_HEX_LEN + 1], struct berr *err) {
        for (;;) {
                int r = id_random_hex(id, err);
                if (r < 0)
                        return r;
                bool clash = false;
                pthread_mutex_lock(&m->lock);
                for (struct mplugin *p = m->list; p; p = p->next)
                        clash = clash || strncmp(p->id, id, 12) == 0;
                pthread_mutex_unlock(&m->lock);
                if (!clash)
                        return 0;
        }
}

int pmgr_tmp_dir(struct daemon *d, char name[64], int *ret_fd, struct berr *err) {
        struct plugin_mgr *m = d->pmgr;
        char rnd[ID_HEX_LEN + 1];
        int r = id_random_hex(rnd, err);
        if (r < 0)
                return r;
        snprintf(name, 64, TMP_PREFIX "%.24s", rnd);
        if (mkdirat(m->dir_fd, name, 0700) < 0)
                return berr_sys(err, BERR_INTERNAL, "create plugin directory");
        *ret_fd = openat(m->dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (*ret_fd < 0) {
                int e = errno;
                (void) tree_remove_at(m->dir_fd, name, NULL);
                errno = e;
                return berr_sys(err, BERR_INTERNAL, "open plugin directory");
        }
        return 0;
}

void pmgr_tmp_remove(struct daemon *d, const char *name) {
        struct berr e = { 0 };
        if (tree_remove_at(d->pmgr->dir_fd, name, &e) < 0)
                log_warn("plugins: remove %s: %s (removed at the next start)", name, e.msg);
}

int pmgr_install(struct daemon *d, const char *tmp_name, int tmp_fd, const char *name, json_t *config,
                 const char *reference, struct mplugin **ret, struct berr *err) {
        struct plugin_mgr *m = d->pmgr;
        char id[ID_HEX_LEN + 1];
        int r = new_id(m, id, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *obj = plugin_object_new(id, name, config);
        if (!obj)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        json_object_set_new(obj, "PluginReference", json_string(reference ? reference : ""));
        _cleanup_free_ char *text = json_dumps(obj, JSON_COMPACT);
        if (!text)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        /* the record replaces the tar's config.json; only rootfs/ and it stay */
        if ((r = fs_write_atomic(tmp_fd, "config.json", text, strlen(text), 0600, err)) < 0)
                return r;
        /* The rootfs's files on disk before the rename publishes them: one syncfs of the data
         * root's filesystem (an install is rare; a file-by-file fsync of a rootfs is not
         * cheaper), so a power loss leaves the plugin whole or a .tmp- directory. */
        if (syncfs(tmp_fd) < 0)
                return berr_sys(err, BERR_INTERNAL, "sync plugin rootfs");
        struct mplugin *p = calloc(1, sizeof(*p));
        if (!p)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        snprintf(p->id, sizeof(p->id), "%s", id);
        p->watch_fd = -1;
        p->obj = json_incref(obj);
        pthread_mutex_lock(&m->lock);
        if (pmgr_name_taken_locked(m, name)) {
                pthread_mutex_unlock(&m->lock);
                mplugin_free(p);
                return berr_set(err, BERR_CONFLICT, EEXIST, "plugin %s already exists", name);
        }
        /* one rename makes it whole: a crash before leaves a .tmp- directory, swept at start */
        if (renameat(m->dir_fd, tmp_name, m->dir_fd, id) < 0) {
                pthread_mutex_unlock(&m->lock);
                mplugin_free(p);
                return berr_sys(err, BERR_INTERNAL, "failed to rename rootfs");
        }
        if (fsync(m->dir_fd) < 0)
                log_warn("plugins: fsync: %s", strerror(errno));
        p->next = m->list;
        m->list = p;
        pthread_mutex_unlock(&m->lock);
        if (ret)
                *ret = p;
        return 0;
}

/* The config.json of a plugin directory being made: read, bounded, checked. */
int pmgr_read_config(int dir_fd, json_t **ret, struct berr *err) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = read_regular(dir_fd, "config.json", CONFIG_MAX_BYTES, &text, &len, err);
        if (r < 0) {
                if (err->kind == BERR_NOT_FOUND)
                        return berr_set(err, BERR_INVALID, ENOENT, "config not found");
                return berr_wrap(err, "failed to parse config");
        }
        json_error_t je;
        _cleanup_json_ json_t *raw = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!raw)
                return berr_set(err, BERR_INVALID, EINVAL, "failed to parse config: %s", je.text);
        if ((r = plugin_config_normalize(raw, ret, err)) < 0)
                return berr_wrap(err, "failed to parse config");
        return 0;
}

int pmgr_create(struct daemon *d, const char *repo, int tar_fd, struct berr *err) {
        struct plugin_mgr *m = d->pmgr;
        char name[REFERENCE_STRING_MAX];
        int r = plugin_name_of(repo, name, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&m->lock);
        bool taken = pmgr_name_taken_locked(m, name);
        pthread_mutex_unlock(&m->lock);
        if (taken) /* the fast check; pmgr_install checks again under the lock */
                return berr_set(err, BERR_CONFLICT, EEXIST, "plugin %s already exists", name);
        char tmp[64];
        _cleanup_close_ int tfd = -1;
        if ((r = pmgr_tmp_dir(d, tmp, &tfd, err)) < 0)
                return r;
        struct layer_apply_opts o = { .whiteouts = LAYER_WHITEOUTS_NONE, .owner_root = false };
        struct layer_apply_result res;
        r = layer_apply_fd(tfd, tar_fd, &o, &res, err);
        _cleanup_json_ json_t *config = NULL;
        if (r == 0)
                r = pmgr_read_config(tfd, &config, err);
        if (r == 0) {
                struct stat st;
                if (fstatat(tfd, "rootfs", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        r = berr_set(err, BERR_INVALID, ENOENT, "no rootfs found");
        }
        struct mplugin *p = NULL;
        if (r == 0)
                r = pmgr_install(d, tmp, tfd, name, config, name, &p, err);
        if (r < 0) {
                pmgr_tmp_remove(d, tmp);
                return r;
        }
        pmgr_emit(d, p, "create");
        return 0;
}

/* ---- enable, disable, remove, set ---- */

int pmgr_enable(struct daemon *d, const char *name, int timeout_s, struct berr *err) {
        struct plugin_mgr *m = d->pmgr;
        struct mplugin *p;
        int r = pmgr_acquire(m, name, &p, err);
        if (r < 0)
                return r;
        if (mplugin_enabled(p))
                r = berr_set(err, BERR_CONFLICT, EBUSY, "plugin already enabled: plugin %s is enabled", mplugin_name(p));
        else
                r = pmgr_run_start(d, p, timeout_s, err);
        if (r == 0) {
                set_enabled(m, p, true);
                if ((r = pmgr_save(d, p, err)) < 0) {
                        plugin_registry_managed_state(d->plugins, mplugin_name(p), false);
                        pmgr_run_stop(d, p);
                        set_enabled(m, p, false);
                }
        }
        pmgr_release(m, p);
        if (r == 0)
                pmgr_emit(d, p, "enable");
        return r;
}

/* dockerd's reference count: the volumes made with the plugin. */
static int volumes_of(struct daemon *d, const char *name) {
        if (!d->vplugs)
                return 0;
        _cleanup_json_ json_t *recs = vplug_records(d->vplugs);
        size_t i;
        json_t *v;
        int n = 0;
        json_array_foreach(recs, i, v) n += strcmp(json_string_value(json_object_get(v, "Driver")) ?: "", name) == 0;
        return n;
}

static int disable_locked_out(struct daemon *d, struct mplugin *p, struct berr *err) {
        plugin_registry_managed_state(d->plugins, mplugin_name(p), false);
        pmgr_run_stop(d, p);
        set_enabled(d->pmgr, p, false);
        return pmgr_save(d, p, err);
}

int pmgr_disable(struct daemon *d, const char *name, bool force, struct berr *err) {
        struct plugin_mgr *m = d->pmgr;
        struct mplugin *p;
        int r = pmgr_acquire(m, name, &p, err);
        if (r < 0)
                return r;
        if (!force && volumes_of(d, mplugin_name(p)) > 0)
                r = berr_set(err, BERR_CONFLICT, EBUSY, "plugin %s is in use", mplugin_name(p));
        else if (!mplugin_enabled(p))
                r = berr_set(err, BERR_CONFLICT, EALREADY, "plugin is already disabled: plugin %s found but disabled",
                             mplugin_name(p));
        else
                r = disable_locked_out(d, p, err);
        pmgr_release(m, p);
        if (r == 0)
                pmgr_emit(d, p, "disable");
        return r;
}

int pmgr_remove(struct daemon *d, const char *name, bool force, struct berr *err) {
        struct plugin_mgr *m = d->pmgr;
        struct mplugin *p;
        int r = pmgr_acquire(m, name, &p, err);
        if (r < 0)
                return r;
        if (!force && volumes_of(d, mplugin_name(p)) > 0)
                r = berr_set(err, BERR_CONFLICT, EBUSY, "plugin %s is in use", mplugin_name(p));
        else if (!force && mplugin_enabled(p))
                r = berr_set(err, BERR_CONFLICT, EBUSY, "plugin %s is enabled", mplugin_name(p));
        if (r < 0) {
                pmgr_release(m, p);
                return r;
        }
        if (mplugin_enabled(p)) {
                struct berr e = { 0 };
                if (disable_locked_out(d, p, &e) < 0)
                        log_error("failed to disable plugin '%s': %s", mplugin_name(p), e.msg);
        }
        plugin_registry_managed_state(d->plugins, mplugin_name(p), true);
        /* atomic removal: renamed to a .tmp- name first, so a crash leaves nothing that
         * looks like a plugin */
        char tmp[64];
        snprintf(tmp, sizeof(tmp), TMP_PREFIX "rm-%.24s", p->id);
        pthread_mutex_lock(&m->lock);
        if (renameat(m->dir_fd, p->id, m->dir_fd, tmp) < 0) {
                r = berr_sys(err, BERR_INTERNAL, "failed to rename dir for atomic removal");
                p->busy = false;
                pthread_cond_broadcast(&m->cond);
                pthread_mutex_unlock(&m->lock);
                return r;
        }
        (void) fsync(m->dir_fd); /* a lost rename brings the plugin back at start, whole */
        while (p->n_watchers > 0) /* its watcher saw the stop: it lets go of the object */
                pthread_cond_wait(&m->cond, &m->lock);
        for (struct mplugin **pp = &m->list; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        break;
                }
        pthread_cond_broadcast(&m->cond);
        pthread_mutex_unlock(&m->lock);
        pmgr_emit(d, p, "remove");
        pmgr_run_cleanup(d, p);
        pmgr_tmp_remove(d, tmp);
        mplugin_free(p);
        return 0;
}

int pmgr_set(struct daemon *d, const char *name, json_t *args, struct berr *err) {
        struct plugin_mgr *m = d->pmgr;
        if (!json_is_array(args))
                return berr_set(err, BERR_INVALID, EINVAL, "json: cannot unmarshal %s into Go value of type []string",
                                json_type_name(args));
        struct mplugin *p;
        int r = pmgr_acquire(m, name, &p, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *work = json_deep_copy(p->obj);
        if (!work)
                r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (r == 0)
                r = plugin_object_set(work, args, err);
        if (r == 0)
                r = save_at(m->dir_fd, p->id, work, err);
        if (r == 0) {
                pthread_mutex_lock(&m->lock);
                json_decref(p->obj);
                p->obj = TAKE_PTR(work);
                pthread_mutex_unlock(&m->lock);
        }
        pmgr_release(m, p);
        return r;
}
