/* container_json.c - what `docker inspect` and `docker ps` show for a container. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "container.h"
#include "exec.h"
#include "daemon.h"
#include "image/image_store.h"

/* Seconds since the epoch of an RFC 3339 UTC time as we write them; 0 if unparsable. */
static double parse_time(const char *s) {
        struct tm tm = { 0 };
        long ns = 0;
        if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d.%ldZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                         &tm.tm_sec, &ns) < 6)
                return 0;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        return (double) timegm(&tm) + ns / 1e9;
}

/* go-units HumanDuration, which the CLI's STATUS column shows. */
static void human_duration(double secs, char *out, size_t size) {
        long s = (long) secs;
        if (s < 1)
                snprintf(out, size, "Less than a second");
        else if (s == 1)
                snprintf(out, size, "1 second");
        else if (s < 60)
                snprintf(out, size, "%ld seconds", s);
        else if (s / 60 == 1)
                snprintf(out, size, "About a minute");
        else if (s / 60 < 60)
                snprintf(out, size, "%ld minutes", s / 60);
        else {
                long h = (long) (secs / 3600 + 0.5);
                if (h == 1)
                        snprintf(out, size, "About an hour");
                else if (h < 48)
                        snprintf(out, size, "%ld hours", h);
                else if (h < 24 * 7 * 2)
                        snprintf(out, size, "%ld days", h / 24);
                else if (h < 24 * 30 * 2)
                        snprintf(out, size, "%ld weeks", h / 24 / 7);
                else if (h < 24 * 365 * 2)
                        snprintf(out, size, "%ld months", h / 24 / 30);
                else
                        snprintf(out, size, "%ld years", (long) (secs / 3600) / 24 / 365);
        }
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Caller holds c->lock. */
static void status_text(struct container *c, char *out, size_t size) {
        char dur[64];
        enum ctr_state st = ctr_state_shown(c);
        switch (st) {
        case CTR_RUNNING:
        case CTR_PAUSED:
                human_duration(now_s() - parse_time(c->started_at), dur, sizeof(dur));
                snprintf(out, size, "Up %s%s%s", dur,
                         st == CTR_PAUSED                                   ? " (Paused)"
                         : strcmp(c->health_status, "starting") == 0        ? " (health: starting)"
                         : c->health_status[0]                              ? (strcmp(c->health_status, "healthy") == 0
                                                                                       ? " (healthy)"
                                                                                       : " (unhealthy)")
                                                                            : "",
                         "");
                return;
        case CTR_RESTARTING:
                human_duration(now_s() - parse_time(c->finished_at), dur, sizeof(dur));
                snprintf(out, size, "Restarting (%d) %s ago", c->exit_code, dur);
                return;
        case CTR_REMOVING:
                snprintf(out, size, "Removal In Progress");
                return;
        case CTR_DEAD:
                snprintf(out, size, "Dead");
                return;
        case CTR_EXITED:
                if (c->finished_at[0]) {
                        human_duration(now_s() - parse_time(c->finished_at), dur, sizeof(dur));
                        snprintf(out, size, "Exited (%d) %s ago", c->exit_code, dur);
                        return;
                }
                snprintf(out, size, "Created"); /* never started */
                return;
        default:
                snprintf(out, size, "Created");
        }
}

static json_t *state_obj(struct container *c) {
        enum ctr_state s = ctr_state_shown(c);
        bool running = ctr_is_running(c);
        json_t *st = json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:s, s:s, s:s}", "Status", ctr_state_name(s),
                         "Running", running, "Paused", s == CTR_PAUSED, "Restarting", s == CTR_RESTARTING,
                         "OOMKilled", c->oom_killed, "Dead", s == CTR_DEAD, "Pid", running ? (int) c->pid : 0,
                         "ExitCode", c->exit_code, "Error", c->error ?: "", "StartedAt",
                         c->started_at[0] ? c->started_at : "0001-01-01T00:00:00Z", "FinishedAt",
                         c->finished_at[0] ? c->finished_at : "0001-01-01T00:00:00Z");
        json_t *health = health_json(c);
        if (st && health)
                json_object_set_new(st, "Health", health);
        return st;
}

json_t *ctr_inspect_json(struct daemon *d, struct container *c) {
        _cleanup_free_ char *dir = ctr_data_dir(d, c->id);
        _cleanup_free_ char *log = ctr_log_path(d, c->id);
        char resolv[4200], hostname[4200], hosts[4200];
        (void) fs_path_fmt(resolv, sizeof(resolv), "%s/resolv.conf", dir);
        (void) fs_path_fmt(hostname, sizeof(hostname), "%s/hostname", dir);
        (void) fs_path_fmt(hosts, sizeof(hosts), "%s/hosts", dir);
        pthread_mutex_lock(&c->lock);
        json_t *o = json_object();
        json_set_str(o, "Id", c->id);
        json_set_str(o, "Created", c->created);
        json_set_str(o, "Path", c->path);
        json_object_set(o, "Args", c->args);
        json_object_set_new(o, "State", state_obj(c));
        json_set_str(o, "Image", c->image_id);
        json_set_str(o, "ResolvConfPath", resolv);
        json_set_str(o, "HostnamePath", hostname);
        json_set_str(o, "HostsPath", hosts);
        json_set_str(o, "LogPath", log);
        json_set_str(o, "Name", c->name);
        json_object_set_new(o, "RestartCount", json_integer(c->restart_count));
        json_set_str(o, "Driver", d->storage_driver);
        json_set_str(o, "Platform", "linux");
        json_set_str(o, "MountLabel", "");
        json_set_str(o, "ProcessLabel", "");
        json_set_str(o, "AppArmorProfile", "");
        json_object_set_new(o, "ExecIDs", exec_ids_json(d, c->id));
        json_object_set_new(o, "HostConfig", ctr_config_encode_host_config(c->cc));
        char upper[4300], work[4300], merged[4300];
        (void) fs_path_fmt(upper, sizeof(upper), "%s/rw/diff", dir);
        (void) fs_path_fmt(work, sizeof(work), "%s/rw/work", dir);
        (void) fs_path_fmt(merged, sizeof(merged), "%s/rootfs", dir);
        json_object_set_new(o, "GraphDriver", json_pack("{s:{s:s, s:s, s:s}, s:s}", "Data", "MergedDir", merged,
                                                        "UpperDir", upper, "WorkDir", work, "Name", d->storage_driver));
        json_object_set_new(o, "Mounts", ctr_mounts_inspect(d, c));
        json_object_set_new(o, "Config", ctr_config_encode_config(c->cc));
        json_object_set_new(o, "NetworkSettings", ctr_net_settings_json(d, c));
        pthread_mutex_unlock(&c->lock);
        return o;
}

static bool filter_values_contain(json_t *vals, const char *what) {
        /* Filters come as {"key":["v1","v2"]} or the older {"key":{"v1":true}}. */
        if (json_is_array(vals)) {
                size_t i;
                json_t *v;
                json_array_foreach(vals, i, v) if (json_is_string(v) && strcmp(json_string_value(v), what) == 0) return true;
                return false;
        }
        return json_is_object(vals) && json_is_true(json_object_get(vals, what));
}

static bool label_matches(const struct strmap *labels, json_t *vals) {
        size_t i;
        json_t *v;
        _cleanup_json_ json_t *arr = json_array();
        if (json_is_object(vals)) { /* the older {"key=value": true} form */
                const char *k;
                json_object_foreach(vals, k, v) json_array_append_new(arr, json_string(k));
        } else
                json_array_extend(arr, vals);
        json_array_foreach(arr, i, v) {
                const char *f = json_string_value(v);
                if (!f)
                        return false;
                const char *eq = strchr(f, '=');
                if (!eq) {
                        if (!strmap_get(labels, f))
                                return false;
                        continue;
                }
                char key[512];
                snprintf(key, sizeof(key), "%.*s", (int) (eq - f), f);
                const char *have = strmap_get(labels, key);
                if (!have || strcmp(have, eq + 1) != 0)
                        return false;
        }
        return true;
}

static int check_filters(json_t *filters, struct berr *err) {
        static const char *const known[] = { "id", "name", "status", "label", "exited", "ancestor", "before", "since",
                                             "volume", "network", "health", "is-task", "publish", "expose" };
        const char *k;
        json_t *v;
        json_object_foreach(filters, k, v) {
                bool ok = false;
                for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                        ok |= strcmp(k, known[i]) == 0;
                if (!ok)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid filter '%s'", k);
        }
        json_t *st = json_object_get(filters, "status");
        size_t i;
        json_array_foreach(st, i, v) {
                const char *s = json_string_value(v);
                bool ok = s && (!strcmp(s, "created") || !strcmp(s, "restarting") || !strcmp(s, "running") ||
                                !strcmp(s, "removing") || !strcmp(s, "paused") || !strcmp(s, "exited") ||
                                !strcmp(s, "dead"));
                if (!ok)
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "invalid filter 'status=%s'", s ? s : "?");
        }
        return 0;
}


static bool values_match(json_t *vals, bool (*pred)(const char *v, void *ctx), void *ctx) {
        size_t i;
        json_t *e;
        json_array_foreach(vals, i, e) if (json_is_string(e) && pred(json_string_value(e), ctx)) return true;
        return false;
}

static bool expose_pred(const char *v, void *ctx) {
        const struct strv *ports = ctx;
        char key[64];
        snprintf(key, sizeof(key), "%s%s", v, strchr(v, '/') ? "" : "/tcp");
        return strv_contains(ports, key);
}

/* publish=<host port>[/<proto>]: the ports published on the host (moby's filterByPublish) */
static bool publish_pred(const char *v, void *ctx) {
        struct container *c = ctx;
        char want[32];
        snprintf(want, sizeof(want), "%s%s", v, strchr(v, '/') ? "" : "/tcp");
        _cleanup_json_ json_t *ports = ctr_net_ports_list_json(c);
        size_t i;
        json_t *p;
        json_array_foreach(ports, i, p) {
                json_t *pub = json_object_get(p, "PublicPort");
                if (!pub)
                        continue;
                char have[32];
                snprintf(have, sizeof(have), "%lld/%s", (long long) json_integer_value(pub),
                         json_string_value(json_object_get(p, "Type")) ?: "tcp");
                if (strcmp(have, want) == 0)
                        return true;
        }
        return false;
}

/* network=<name or ID (prefix)> */
static bool network_pred(const char *v, void *ctx) {
        struct container *c = ctx;
        const char *name;
        json_t *ep;
        json_object_foreach(c->networks, name, ep) {
                const char *id = json_string_value(json_object_get(ep, "NetworkID"));
                if (strcmp(name, v) == 0 || (id && *id && *v && strncmp(id, v, strlen(v)) == 0))
                        return true;
        }
        return false;
}

static bool bool_false_pred(const char *v, void *ctx) {
        return strcmp(v, "false") == 0 || strcmp(v, "0") == 0;
}

static bool health_none_pred(const char *v, void *ctx) {
        return strcmp(v, "none") == 0;
}

bool ctr_list_matches(struct container *c, json_t *filters, const struct ctr_list_filters *rf) {
        json_t *v;
        if ((v = json_object_get(filters, "ancestor"))) {
                bool any = false;
                size_t i;
                json_t *e;
                json_array_foreach(rf->ancestor_ids, i, e) any |= strcmp(json_string_value(e), c->image_id) == 0;
                json_array_foreach(v, i, e) any |= json_is_string(e) && strcmp(json_string_value(e), c->cc->cfg.image) == 0;
                if (!any)
                        return false;
        }
        if (json_object_get(filters, "before") && !(strcmp(c->created, rf->before) < 0))
                return false;
        if (json_object_get(filters, "since") && !(strcmp(c->created, rf->since) > 0))
                return false;
        /* berth has no volumes, networks, published ports or health checks yet: those
         * filters match only what that truly implies. */
        if (json_object_get(filters, "volume"))
                return false;
        if ((v = json_object_get(filters, "publish")) && !values_match(v, publish_pred, c))
                return false;
        if ((v = json_object_get(filters, "network")) && !values_match(v, network_pred, c))
                return false;
        if ((v = json_object_get(filters, "expose")) &&
            !values_match(v, expose_pred, &c->cc->cfg.exposed_ports))
                return false;
        if ((v = json_object_get(filters, "is-task")) && !values_match(v, bool_false_pred, NULL))
                return false;
        if ((v = json_object_get(filters, "health")) && !values_match(v, health_none_pred, NULL))
                return false;
        if ((v = json_object_get(filters, "status")) && !filter_values_contain(v, ctr_state_name(ctr_state_shown(c))))
                return false;
        if ((v = json_object_get(filters, "id"))) {
                bool any = false;
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e) any |= json_is_string(e) && strncmp(c->id, json_string_value(e),
                                                                                json_string_length(e)) == 0;
                if (!any)
                        return false;
        }
        if ((v = json_object_get(filters, "name"))) {
                bool any = false;
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e) any |= json_is_string(e) && strstr(c->name, json_string_value(e)) != NULL;
                if (!any)
                        return false;
        }
        if ((v = json_object_get(filters, "label")) && !label_matches(&c->cc->cfg.labels, v))
                return false;
        if ((v = json_object_get(filters, "exited"))) {
                char code[16];
                snprintf(code, sizeof(code), "%d", c->exit_code);
                if (ctr_state_shown(c) != CTR_EXITED || !filter_values_contain(v, code))
                        return false;
        }
        return true;
}

static json_t *summary(struct daemon *d, struct container *c) {
        char status[128];
        status_text(c, status, sizeof(status));
        /* The COMMAND column: path and args joined by spaces. */
        size_t cap = strlen(c->path) + 2;
        size_t i;
        json_t *a;
        json_array_foreach(c->args, i, a) cap += json_string_length(a) + 1;
        char *cmd = malloc(cap);
        if (!cmd)
                return NULL;
        strcpy(cmd, c->path);
        json_array_foreach(c->args, i, a) {
                strcat(cmd, " ");
                strcat(cmd, json_string_value(a));
        }
        const char *nm = c->cc->hc.network_mode;
        json_t *labels = json_object();
        for (size_t l = 0; labels && l < c->cc->cfg.labels.n; l++)
                json_object_set_new(labels, c->cc->cfg.labels.keys[l], json_string(c->cc->cfg.labels.vals[l]));
        json_t *o = json_pack("{s:s, s:[s], s:s, s:s, s:s, s:I, s:[], s:o, s:s, s:s, s:{s:s}, s:{s:{}}, s:[]}", "Id",
                              c->id, "Names", c->name, "Image", c->cc->cfg.image, "ImageID",
                              c->image_id, "Command", cmd, "Created", (json_int_t) parse_time(c->created), "Ports",
                              "Labels", labels, "State", ctr_state_name(ctr_state_shown(c)),
                              "Status", status, "HostConfig", "NetworkMode",
                              *nm ? nm : "default", "NetworkSettings", "Networks",
                              "Mounts");
        json_object_set_new(o, "NetworkSettings", ctr_net_list_json(c));
        json_object_set_new(o, "Ports", ctr_net_ports_list_json(c));
        json_object_set_new(o, "Mounts", ctr_mounts_inspect(d, c));
        free(cmd);
        return o;
}

/* nftw has no user pointer: the running total is per thread (nftw calls back on the
 * caller's thread and is MT-safe without FTW_CHDIR), so concurrent `--size` walks need
 * no lock and do not wait for each other. */
static __thread int64_t du_total;

static int du_visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        if (type == FTW_F && S_ISREG(st->st_mode) && st->st_nlink <= 1)
                du_total += st->st_size;
        else if (type == FTW_F && S_ISREG(st->st_mode)) /* hard links: count once, roughly */
                du_total += st->st_size / st->st_nlink;
        return 0;
}

/* Bytes in a tree, files only, without following symlinks (Docker's SizeRw). */
static int64_t tree_size(const char *path) {
        du_total = 0;
        (void) nftw(path, du_visit, 16, FTW_PHYS | FTW_MOUNT); /* an unreadable part counts 0 */
        return du_total;
}

void ctr_add_sizes(struct daemon *d, struct container *c, json_t *o) {
        _cleanup_free_ char *dir = ctr_data_dir(d, c->id);
        char diff[4300];
        (void) fs_path_fmt(diff, sizeof(diff), "%s/rw/diff", dir);
        int64_t rw = tree_size(diff);
        _cleanup_json_ json_t *img = NULL;
        int64_t image_size = 0;
        if (image_store_inspect(d->images, c->image_id, &img, NULL) == 0)
                image_size = json_integer_value(json_object_get(img, "Size"));
        json_object_set_new(o, "SizeRw", json_integer(rw));
        json_object_set_new(o, "SizeRootFs", json_integer(image_size + rw));
}

static int cmp_created_desc(const void *a, const void *b) {
        const struct container *x = *(struct container *const *) a, *y = *(struct container *const *) b;
        return strcmp(y->created, x->created);
}

static int created_of(struct daemon *d, json_t *vals, char out[40], struct berr *err) {
        const char *ref = json_string_value(json_array_get(vals, 0));
        if (!ref)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid filter value");
        struct container *o;
        int r = ctr_lookup(d, ref, &o, err);
        if (r < 0)
                return r;
        snprintf(out, 40, "%s", o->created);
        ctr_unref(d, o);
        return 0;
}

/* The containers a listing looks at, newest first, each with a reference taken. */
struct list_sel {
        struct container **v;
        size_t k;
        struct ctr_list_filters rf;
        bool has_status;
};

static int list_begin(struct daemon *d, json_t *filters, struct list_sel *ls, struct berr *err) {
        json_filters_normalize(filters);
        int r = check_filters(filters, err);
        if (r < 0)
                return r;
        ls->rf = (struct ctr_list_filters){ .ancestor_ids = json_array() };
        json_t *anc = json_object_get(filters, "ancestor");
        size_t ai;
        json_t *ae;
        json_array_foreach(anc, ai, ae) {
                char id[DIGEST_STRING_MAX];
                if (json_is_string(ae) && image_store_resolve(d->images, json_string_value(ae), id, NULL) == 0)
                        json_array_append_new(ls->rf.ancestor_ids, json_string(id));
        }
        if ((json_object_get(filters, "before") && (r = created_of(d, json_object_get(filters, "before"), ls->rf.before, err)) < 0) ||
            (json_object_get(filters, "since") && (r = created_of(d, json_object_get(filters, "since"), ls->rf.since, err)) < 0)) {
                json_decref(ls->rf.ancestor_ids);
                return r;
        }
        pthread_mutex_lock(&d->ctr_lock);
        size_t n = HASH_COUNT(d->ctrs);
        ls->v = calloc(n + 1, sizeof(*ls->v));
        ls->k = 0;
        struct container *c, *tmp;
        HASH_ITER(hh, d->ctrs, c, tmp) {
                if (!ls->v)
                        break;
                c->refs++;
                ls->v[ls->k++] = c;
        }
        pthread_mutex_unlock(&d->ctr_lock);
        if (!ls->v) {
                json_decref(ls->rf.ancestor_ids);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        qsort(ls->v, ls->k, sizeof(*ls->v), cmp_created_desc);
        ls->has_status = json_object_get(filters, "status") != NULL;
        return 0;
}

static void list_end(struct daemon *d, struct list_sel *ls) {
        free(ls->v);
        json_decref(ls->rf.ancestor_ids);
}

/* Caller holds c->lock. */
static bool list_shows(struct container *c, bool all, int limit, json_t *filters, const struct list_sel *ls) {
        bool running = ctr_is_running(c);
        return (all || running || ls->has_status || limit > 0) && ctr_list_matches(c, filters, &ls->rf) && c->state != CTR_REMOVED;
}

int ctr_list_json(struct daemon *d, bool all, int limit, bool size, json_t *filters, json_t **ret, struct berr *err) {
        struct list_sel ls;
        int r = list_begin(d, filters, &ls, err);
        if (r < 0)
                return r;
        json_t *out = json_array();
        size_t shown = 0;
        for (size_t i = 0; i < ls.k; i++) {
                struct container *c = ls.v[i];
                pthread_mutex_lock(&c->lock);
                json_t *sum = NULL;
                if (list_shows(c, all, limit, filters, &ls) && (limit <= 0 || shown < (size_t) limit)) {
                        sum = summary(d, c);
                        json_array_append(out, sum);
                        shown++;
                }
                pthread_mutex_unlock(&c->lock);
                if (sum && size)
                        ctr_add_sizes(d, c, sum);
                json_decref(sum);
                ctr_unref(d, c);
        }
        list_end(d, &ls);
        *ret = out;
        return 0;
}

/* JSON string contents of @s (ASCII text of ours: quotes, backslashes, controls). */
static void put_json_string(FILE *f, const char *s) {
        fputc('"', f);
        for (; *s; s++) {
                unsigned char ch = (unsigned char) *s;
                if (ch == '"' || ch == '\\')
                        fprintf(f, "\\%c", ch);
                else if (ch < 0x20)
                        fprintf(f, "\\u%04x", ch);
                else
                        fputc(ch, f);
        }
        fputc('"', f);
}

/* A stream into one buffer grown with realloc from a first guess of its size: unlike
 * open_memstream, which copies into a new block at each growth (a listing of 1,000
 * containers faulted in ~2 MB of fresh pages for its ~0.7 MB of text), a large block
 * grows in place (mremap) and each page is touched once. */
struct grow_buf {
        char *p;
        size_t len, cap;
};

static ssize_t grow_write(void *cookie, const char *data, size_t n) {
        struct grow_buf *b = cookie;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *q = realloc(b->p, cap);
                if (!q)
                        return -1;
                b->p = q;
                b->cap = cap;
        }
        memcpy(b->p + b->len, data, n);
        b->len += n;
        b->p[b->len] = '\0';
        return (ssize_t) n;
}

static FILE *grow_open(struct grow_buf *b, size_t guess) {
        *b = (struct grow_buf) { 0 };
        if (guess && (b->p = malloc(guess)))
                b->cap = guess;
        FILE *f = fopencookie(b, "w", (cookie_io_functions_t) { .write = grow_write });
        if (!f) {
                free(b->p);
                b->p = NULL;
        }
        return f;
}

/* The summary's text but State and Status, without its closing brace, made again only
 * when the container's record was written since (c->saves): everything in it changes
 * only with a written record (rename, start, exit, connect). Caller holds c->lock. */
static const char *summary_prefix_locked(struct daemon *d, struct container *c) {
        if (c->list_text && c->list_text_saves == c->saves)
                return c->list_text;
        json_t *o = summary(d, c);
        json_object_del(o, "State");
        json_object_del(o, "Status");
        char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        size_t len = t ? strlen(t) : 0;
        if (len < 2 || t[len - 1] != '}') {
                free(t);
                return NULL;
        }
        t[len - 1] = '\0';
        free(c->list_text);
        c->list_text = t;
        c->list_text_saves = c->saves;
        return t;
}

int ctr_list_text(struct daemon *d, bool all, int limit, json_t *filters, char **ret, size_t *ret_len,
                  struct berr *err) {
        struct list_sel ls;
        int r = list_begin(d, filters, &ls, err);
        if (r < 0)
                return r;
        struct grow_buf gb;
        FILE *f = grow_open(&gb, 64 + ls.k * 768); /* a summary is ~0.6-0.7 KB */
        if (!f) {
                for (size_t i = 0; i < ls.k; i++)
                        ctr_unref(d, ls.v[i]);
                list_end(d, &ls);
                return berr_sys(err, BERR_INTERNAL, "fopencookie");
        }
        fputc('[', f);
        size_t shown = 0;
        bool failed = false;
        for (size_t i = 0; i < ls.k; i++) {
                struct container *c = ls.v[i];
                pthread_mutex_lock(&c->lock);
                if (!failed && list_shows(c, all, limit, filters, &ls) && (limit <= 0 || shown < (size_t) limit)) {
                        const char *prefix = summary_prefix_locked(d, c);
                        if (prefix) {
                                char status[128];
                                status_text(c, status, sizeof(status));
                                fprintf(f, "%s%s,\"State\":\"%s\",\"Status\":", shown ? "," : "", prefix,
                                        ctr_state_name(ctr_state_shown(c)));
                                put_json_string(f, status);
                                fputc('}', f);
                                shown++;
                        } else
                                failed = true;
                }
                pthread_mutex_unlock(&c->lock);
                ctr_unref(d, c);
        }
        fputs("]\n", f);
        list_end(d, &ls);
        if (fclose(f) != 0 || failed || !gb.p) {
                free(gb.p);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        *ret = gb.p;
        *ret_len = gb.len;
        return 0;
}

void ctr_counts(struct daemon *d, int *total, int *running, int *paused, int *stopped) {
        *total = *running = *paused = *stopped = 0;
        pthread_mutex_lock(&d->ctr_lock);
        struct container *c, *tmp;
        HASH_ITER(hh, d->ctrs, c, tmp) {
                (*total)++;
                enum ctr_state st = ctr_state_shown(c);
                if (st == CTR_RUNNING || st == CTR_RESTARTING)
                        (*running)++;
                else if (st == CTR_PAUSED)
                        (*paused)++;
                else
                        (*stopped)++;
        }
        pthread_mutex_unlock(&d->ctr_lock);
}
