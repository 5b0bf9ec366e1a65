/* job.c - one docker build: the context and Dockerfile checked before anything is said
 * (so errors there get an HTTP status, as dockerd's), then the stages run in a thread of
 * their own while the connection reads their output from a queue, as a pull's progress.
 * The output is the classic builder's stream: "Step N/M : ...", " ---> <id>", the aux
 * image ID after each stage, "Successfully built/tagged", or the failing step's error.
 * A client that goes away cancels the build; whatever the outcome, the step's container,
 * its mounts and the job's directory are gone when the thread ends. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "build/build_int.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "daemon/container.h"
#include "daemon/daemon.h"
#include "daemon/images.h"
#include "distribution/distribution.h"
#include "image/image_store.h"
#include "image/reference.h"

#define QUEUE_MAX_BYTES (8u << 20)

static const char *const proxy_args[] = { "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                                          "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", NULL };

/* ---- output ---- */

static void append_locked(struct build_job *j, const char *text, size_t n) {
        if (j->off > 0 && j->off == j->len)
                j->off = j->len = 0;
        if (j->len + n + 1 > j->cap) {
                if (j->off > 0) {
                        memmove(j->buf, j->buf + j->off, j->len - j->off);
                        j->len -= j->off;
                        j->off = 0;
                }
                size_t cap = j->cap ? j->cap : 4096;
                while (cap < j->len + n + 1)
                        cap *= 2;
                char *b = realloc(j->buf, cap);
                if (!b)
                        return;
                j->buf = b;
                j->cap = cap;
        }
        memcpy(j->buf + j->len, text, n);
        j->len += n;
        j->started = true;
        pthread_cond_broadcast(&j->cond);
}

/* One message line; @quietable ones are held back under -q. */
static void emit(struct build_job *j, json_t *msg, bool quietable) {
        _cleanup_json_ json_t *owned = msg;
        _cleanup_free_ char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
        if (!text)
                return;
        size_t n = strlen(text);
        pthread_mutex_lock(&j->lock);
        if (quietable && j->o.quiet) {
                char *b = realloc(j->quiet_buf, j->quiet_len + n + 3);
                if (b && j->quiet_len + n < QUEUE_MAX_BYTES) {
                        memcpy(b + j->quiet_len, text, n);
                        memcpy(b + j->quiet_len + n, "\r\n", 2);
                        j->quiet_len += n + 2;
                }
                if (b)
                        j->quiet_buf = b;
        } else if (j->len - j->off + n <= QUEUE_MAX_BYTES || json_object_get(msg, "errorDetail")) {
                append_locked(j, text, n);
                append_locked(j, "\r\n", 2);
        }
        pthread_mutex_unlock(&j->lock);
}

void job_message(struct build_job *j, json_t *msg) {
        emit(j, msg, true);
}

void job_say(struct build_job *j, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *text = NULL;
        int n = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (n >= 0)
                emit(j, json_pack("{s:s}", "stream", text), true);
}

void job_stdout(struct build_job *j, const char *text, size_t n) {
        emit(j, json_pack("{s:s%}", "stream", text, n), true);
}

/* dockerd's stderr writer colours what it passes red. */
void job_stderr(struct build_job *j, const char *text, size_t n) {
        _cleanup_free_ char *s = malloc(n + 16);
        if (!s)
                return;
        memcpy(s, "\033[91m", 5);
        memcpy(s + 5, text, n);
        memcpy(s + 5 + n, "\033[0m", 4);
        emit(j, json_pack("{s:s%}", "stream", s, n + 9), true);
}

bool job_cancelled(struct build_job *j) {
        pthread_mutex_lock(&j->lock);
        bool c = j->cancelled || j->d->shutting_down;
        pthread_mutex_unlock(&j->lock);
        return c;
}

static void job_error(struct build_job *j, const struct berr *e, int code) {
        pthread_mutex_lock(&j->lock);
        if (j->quiet_len) /* -q: what was held back goes out before the error, as dockerd's */
                append_locked(j, j->quiet_buf, j->quiet_len);
        j->quiet_len = 0;
        pthread_mutex_unlock(&j->lock);
        json_t *detail = code ? json_pack("{s:i, s:s}", "code", code, "message", e->msg)
                              : json_pack("{s:s}", "message", e->msg);
        emit(j, json_pack("{s:o, s:s}", "errorDetail", detail, "error", e->msg), false);
}

/* ---- the job's lifetime ---- */

static void job_unref(struct build_job *j) {
        pthread_mutex_lock(&j->lock);
        bool last = --j->refs == 0;
        pthread_mutex_unlock(&j->lock);
        if (!last)
                return;
        pthread_mutex_destroy(&j->lock);
        pthread_cond_destroy(&j->cond);
        free(j->buf);
        free(j->quiet_buf);
        build_context_free(j->ctx);
        dockerfile_free(j->df);
        for (size_t i = 0; i < j->n_stages; i++)
                free(j->stages[i].name);
        free(j->stages);
        json_decref(j->meta_args);
        json_decref(j->args_used);
        json_decref(j->o.build_args);
        json_decref(j->o.labels);
        json_decref(j->o.ulimits);
        for (size_t i = 0; i < j->n_strings; i++)
                free(j->strings[i]);
        free(j);
}

ssize_t build_read(struct build_job *j, char *buf, size_t max, int timeout_ms) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&j->lock);
        while (j->off == j->len && !j->done)
                if (pthread_cond_timedwait(&j->cond, &j->lock, &deadline) != 0 && j->off == j->len && !j->done) {
                        pthread_mutex_unlock(&j->lock);
                        return -EAGAIN;
                }
        size_t n = j->len - j->off;
        if (n > max)
                n = max;
        memcpy(buf, j->buf + j->off, n);
        j->off += n;
        pthread_mutex_unlock(&j->lock);
        return (ssize_t) n;
}

void build_close(struct build_job *j) {
        if (!j)
                return;
        pthread_mutex_lock(&j->lock);
        j->cancelled = true;
        /* Wait for the build to have cleaned up (its step's container killed and removed,
         * its directory gone): the connection stays in flight until then, so a berthd
         * stopping waits for it rather than freeing what the build still uses. */
        while (!j->done)
                pthread_cond_wait(&j->cond, &j->lock);
        pthread_mutex_unlock(&j->lock);
        job_unref(j);
}

static const char *own(struct build_job *j, const char *s) {
        if (!s || j->n_strings >= ELEMENTSOF(j->strings))
                return NULL;
        char *c = strdup(s);
        if (c)
                j->strings[j->n_strings++] = c;
        return c;
}

/* ---- ARGs ---- */

static bool is_proxy_arg(const char *name) {
        for (size_t i = 0; proxy_args[i]; i++)
                if (STREQ(proxy_args[i], name))
                        return true;
        return false;
}

/* An ARG's value: the build argument the client gave, or its default. */
static json_t *arg_value(struct build_job *j, const char *name, const char *dflt) {
        json_t *given = json_object_get(j->o.build_args, name);
        if (json_is_string(given)) {
                json_object_set_new(j->args_used, name, json_true());
                return json_string(json_string_value(given));
        }
        if (given)
                json_object_set_new(j->args_used, name, json_true());
        return dflt ? json_string(dflt) : json_null();
}

static const char *meta_lookup(void *opaque, const char *name) {
        struct build_job *j = opaque;
        return json_string_value(json_object_get(j->meta_args, name));
}

static int meta_arg(struct build_job *j, const struct df_instr *in, struct berr *err) {
        for (size_t i = 0; i < in->n_kv; i++) {
                _cleanup_free_ char *key = NULL, *val = NULL;
                int r = df_expand_word(in->kv[i].key, j->df->escape, meta_lookup, j, &key, err);
                if (r == 0 && in->kv[i].value)
                        r = df_expand_word(in->kv[i].value, j->df->escape, meta_lookup, j, &val, err);
                if (r < 0)
                        return r;
                json_object_set_new(j->meta_args, key, arg_value(j, key, val));
        }
        return 0;
}

/* ---- stages ---- */

static json_t *empty_config(void) {
        return json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:n, s:n, s:s, s:n, s:s, s:n, s:n, s:n}",
                         "Hostname", "", "Domainname", "", "User", "", "AttachStdin", 0, "AttachStdout", 0,
                         "AttachStderr", 0, "Tty", 0, "OpenStdin", 0, "StdinOnce", 0, "Env", "Cmd", "Image", "",
                         "Volumes", "WorkingDir", "", "Entrypoint", "OnBuild", "Labels");
}

static void short_id(const char *id, char out[13]) {
        const char *hex = strncmp(id, "sha256:", 7) == 0 ? id + 7 : id;
        snprintf(out, 13, "%.12s", hex);
}

static void say_image(struct build_job *j, struct stage_state *st) {
        char s[13];
        short_id(st->image_id, s);
        job_say(j, " ---> %s\n", s);
}

static bool pull_cancelled(void *opaque) {
        return job_cancelled(opaque);
}

static void pull_progress(void *opaque, json_t *msg) {
        struct build_job *j = opaque;
        emit(j, json_incref(msg), true);
}

/* X-Registry-Config: base64url JSON of {"registry": AuthConfig}; the entry for @domain
 * (Docker Hub's is keyed "https://index.docker.io/v1/"), or none. */
static int registry_auth(struct build_job *j, const char *domain, struct dist_auth *ret, struct berr *err) {
        const char *h = j->o.auth_config;
        if (!h || !h[0])
                return 0;
        size_t n = strlen(h);
        if (n > (1u << 20))
                return berr_set(err, BERR_INVALID, E2BIG, "X-Registry-Config is too large");
        _cleanup_free_ char *b64 = malloc(n + 4), *raw = malloc(n + 4);
        if (!b64 || !raw)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                b64[k++] = h[i] == '-' ? '+' : h[i] == '_' ? '/' : h[i];
        while (k % 4)
                b64[k++] = '=';
        b64[k] = '\0';
        int len = EVP_DecodeBlock((unsigned char *) raw, (const unsigned char *) b64, (int) k);
        if (len < 0)
                return 0; /* dockerd ignores a config it cannot decode */
        while (len > 0 && raw[len - 1] == '\0')
                len--;
        _cleanup_json_ json_t *all = json_loadb(raw, (size_t) len, 0, NULL);
        if (!json_is_object(all))
                return 0;
        bool hub = STREQ(domain, "docker.io");
        const char *key;
        json_t *v;
        json_object_foreach(all, key, v) {
                const char *k2 = key;
                if (strncmp(k2, "https://", 8) == 0)
                        k2 += 8;
                else if (strncmp(k2, "http://", 7) == 0)
                        k2 += 7;
                size_t kl = strcspn(k2, "/");
                bool match = (strlen(domain) == kl && strncmp(k2, domain, kl) == 0) ||
                             (hub && ((kl == 15 && strncmp(k2, "index.docker.io", 15) == 0) ||
                                      (kl == 20 && strncmp(k2, "registry-1.docker.io", 20) == 0)));
                if (match && json_is_object(v))
                        return dist_auth_from_json(v, ret, err);
        }
        return 0;
}

/* FROM's image: a stage's result, a local image, or pulled (always with `pull`). */
int build_resolve_image(struct build_job *j, const char *name, const char *platform, char ret_id[DIGEST_STRING_MAX],
                        struct berr *err) {
        for (size_t i = j->n_stages; i-- > 0;)
                if (j->stages[i].name && strcasecmp(j->stages[i].name, name) == 0) {
                        snprintf(ret_id, DIGEST_STRING_MAX, "%s", j->stages[i].id);
                        return 0;
                }
        struct berr e = { 0 };
        if (!j->o.pull && image_store_resolve(j->d->images, name, ret_id, &e) == 0)
                return 0;
        struct reference ref;
        int r = reference_parse_normalized(name, &ref, err);
        if (r < 0)
                return r;
        struct dist_auth auth = { 0 };
        r = registry_auth(j, ref.domain, &auth, err);
        if (r < 0)
                return r;
        struct dist_pull_opts po = {
                .name = name,
                .tag = ref.digest[0] ? ref.digest : ref.tag[0] ? ref.tag : "latest",
                .platform = platform,
                .auth = &auth,
                .progress = pull_progress,
                .cancelled = pull_cancelled,
                .opaque = j,
        };
        r = dist_pull(j->d->images, &po, err);
        dist_auth_done(&auth);
        if (r < 0)
                return r;
        return image_store_resolve(j->d->images, name, ret_id, err);
}

static int set_default_path(json_t *config) {
        json_t *env = json_object_get(config, "Env");
        size_t i;
        json_t *v;
        json_array_foreach(env, i, v) if (strncmp(json_string_value(v) ?: "", "PATH=", 5) == 0) return 0;
        if (!json_is_array(env)) {
                env = json_array();
                json_object_set_new(config, "Env", env);
        }
        return json_array_append_new(env, json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
}

static int run_triggers(struct build_job *j, struct stage_state *st, struct berr *err) {
        json_t *triggers = json_object_get(st->config, "OnBuild");
        size_t n = json_array_size(triggers);
        if (n == 0)
                return 0;
        _cleanup_json_ json_t *list = json_incref(triggers);
        json_object_set_new(st->config, "OnBuild", json_null()); /* children do not inherit them */
        job_say(j, "# Executing %zu build trigger%s\n", n, n > 1 ? "s" : "");
        size_t i;
        json_t *t;
        json_array_foreach(list, i, t) {
                struct dockerfile *one = NULL;
                int r = dockerfile_parse_line(json_string_value(t) ?: "", st->escape, &one, err);
                if (r == 0 && (one->instrs[0].kind == DF_ONBUILD || one->instrs[0].kind == DF_FROM ||
                               one->instrs[0].kind == DF_MAINTAINER))
                        r = berr_set(err, BERR_INVALID, EINVAL, "%s isn't allowed as an ONBUILD trigger",
                                     df_kind_name(one->instrs[0].kind));
                if (r == 0)
                        r = build_dispatch(j, st, &one->instrs[0], err);
                dockerfile_free(one);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int init_stage(struct build_job *j, struct stage_state *st, const struct df_instr *from, struct berr *err) {
        _cleanup_free_ char *name = NULL;
        int r = df_expand_word(from->args[0], j->df->escape, meta_lookup, j, &name, err);
        if (r < 0)
                return r;
        const char *platform = df_flag(from, "platform");
        st->has_from = true;
        st->escape = j->df->escape;
        st->args = json_object();
        if (!st->args)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (strcasecmp(name, "scratch") == 0) {
                st->image_id[0] = '\0';
                st->config = empty_config();
        } else {
                if (!name[0])
                        return berr_set(err, BERR_INVALID, EINVAL, "base name (%s) should not be blank", from->args[0]);
                r = build_resolve_image(j, name, platform, st->image_id, err);
                if (r < 0)
                        return r;
                _cleanup_json_ json_t *img = NULL;
                char chain[DIGEST_STRING_MAX];
                r = image_store_config(j->d->images, st->image_id, &img, chain, err);
                if (r < 0)
                        return r;
                json_t *c = json_object_get(img, "config");
                st->config = json_is_object(c) ? json_deep_copy(c) : empty_config();
        }
        if (!st->config)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        set_default_path(st->config);
        json_object_set_new(st->config, "Image", json_string(st->image_id));
        return run_triggers(j, st, err);
}

static void stage_clear(struct stage_state *st) {
        json_decref(st->config);
        json_decref(st->args);
        free(st->author);
        memset(st, 0, sizeof(*st));
}

static int record_stage(struct build_job *j, const struct df_instr *from, const char *id, struct berr *err) {
        struct stage_result *v = realloc(j->stages, (j->n_stages + 1) * sizeof(*v));
        if (!v)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        j->stages = v;
        v[j->n_stages].name = from->n_args == 3 ? strdup(from->args[2]) : NULL;
        snprintf(v[j->n_stages].id, DIGEST_STRING_MAX, "%s", id);
        j->n_stages++;
        return 0;
}

static void step_line(struct build_job *j, const char *source) {
        job_say(j, "Step %d/%d : %s\n", ++j->step, j->total, source);
}

static int run_stages(struct build_job *j, char ret_id[DIGEST_STRING_MAX], struct berr *err) {
        struct dockerfile *df = j->df;
        for (size_t i = 0; i < j->first_stage; i++) {
                step_line(j, df->instrs[i].source);
                int r = meta_arg(j, &df->instrs[i], err);
                if (r < 0)
                        return r;
        }
        ret_id[0] = '\0';
        struct stage_state st = { 0 };
        int r = 0;
        for (size_t i = j->first_stage; r == 0 && i < j->end;) {
                const struct df_instr *from = &df->instrs[i];
                if (from->n_args == 3)
                        for (size_t k = 0; k < j->n_stages; k++)
                                if (j->stages[k].name && STREQ(j->stages[k].name, from->args[2]))
                                        return berr_set(err, BERR_INVALID, EINVAL, "duplicate name %s", from->args[2]);
                step_line(j, from->source);
                stage_clear(&st);
                r = init_stage(j, &st, from, err);
                if (r < 0)
                        break;
                say_image(j, &st);
                size_t k = i + 1;
                for (; r == 0 && k < j->end && df->instrs[k].kind != DF_FROM; k++) {
                        if (job_cancelled(j)) {
                                job_say(j, "Build cancelled\n");
                                r = berr_set(err, BERR_UNAVAILABLE, ECANCELED, "Build cancelled");
                                break;
                        }
                        step_line(j, df->instrs[k].source);
                        r = build_dispatch(j, &st, &df->instrs[k], err);
                        if (r == 0)
                                say_image(j, &st);
                }
                bool last = k >= j->end;
                if (r == 0 && last && j->o.labels && json_object_size(j->o.labels) > 0) {
                        /* --label: LABEL steps on the last stage, sorted by key as dockerd's */
                        const char *key;
                        json_t *v;
                        _cleanup_free_ const char **keys = calloc(json_object_size(j->o.labels), sizeof(char *));
                        size_t n = 0;
                        json_object_foreach(j->o.labels, key, v) if (keys) keys[n++] = key;
                        for (size_t a = 0; keys && a < n; a++)
                                for (size_t b = a + 1; b < n; b++)
                                        if (strcmp(keys[a], keys[b]) > 0) {
                                                const char *t = keys[a];
                                                keys[a] = keys[b];
                                                keys[b] = t;
                                        }
                        for (size_t a = 0; r == 0 && keys && a < n; a++) {
                                const char *val = json_string_value(json_object_get(j->o.labels, keys[a])) ?: "";
                                _cleanup_free_ char *line = NULL;
                                if (asprintf(&line, "LABEL \"%s\"=\"%s\"", keys[a], val) < 0)
                                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                                job_say(j, "Step %d/%d : LABEL %s=%s\n", ++j->step, j->total, keys[a], val);
                                json_t *labels = json_object_get(st.config, "Labels");
                                if (!json_is_object(labels)) {
                                        labels = json_object();
                                        json_object_set_new(st.config, "Labels", labels);
                                }
                                json_object_set_new(labels, keys[a], json_string(val));
                                _cleanup_free_ char *comment = NULL;
                                if (asprintf(&comment, "LABEL %s=%s", keys[a], val) < 0)
                                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                                r = build_commit_meta(j, &st, comment, err);
                                if (r == 0)
                                        say_image(j, &st);
                        }
                }
                if (r < 0)
                        break;
                if (st.image_id[0]) /* the aux message with the stage's image, as dockerd's emitImageID */
                        emit(j, json_pack("{s:{s:s}}", "aux", "ID", st.image_id), true);
                r = record_stage(j, from, st.image_id, err);
                snprintf(ret_id, DIGEST_STRING_MAX, "%s", st.image_id);
                i = k;
        }
        stage_clear(&st);
        return r;
}

/* "[Warning] One or more build-args [A B] were not consumed" */
static void warn_unused_args(struct build_job *j) {
        const char *key;
        json_t *v;
        _cleanup_free_ char *list = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&list, &len);
        if (!f)
                return;
        int n = 0;
        json_object_foreach(j->o.build_args, key, v) {
                if (json_object_get(j->args_used, key) || is_proxy_arg(key))
                        continue;
                fprintf(f, "%s%s", n++ ? " " : "", key);
        }
        fclose(f);
        if (n)
                job_say(j, "[Warning] One or more build-args [%s] were not consumed\n", list);
}

static int tag_image(struct build_job *j, const char *id, struct berr *err) {
        for (size_t i = 0; i < j->o.n_tags; i++) {
                int r = daemon_image_tag(j->d, id, j->o.tags[i], err);
                if (r < 0)
                        return r;
                struct reference ref;
                char fam[REFERENCE_STRING_MAX];
                if (reference_parse_with_default_tag(j->o.tags[i], &ref, NULL) == 0) {
                        reference_familiar_string(&ref, fam);
                        job_say(j, "Successfully tagged %s\n", fam);
                }
        }
        return 0;
}

static void *build_thread(void *arg) {
        struct build_job *j = arg;
        struct berr err = { 0 };
        char id[DIGEST_STRING_MAX] = "";
        int r = run_stages(j, id, &err);
        if (r == 0 && !id[0])
                r = berr_set(&err, BERR_INVALID, EINVAL, "No image was generated. Is your Dockerfile empty?");
        if (r == 0) {
                warn_unused_args(j);
                char s[13];
                short_id(id, s);
                job_say(j, "Successfully built %s\n", s);
                r = tag_image(j, id, &err);
        }
        if (r == 0 && j->o.quiet)
                emit(j, json_pack("{s:s+}", "stream", id, "\n"), false);
        if (r < 0) {
                log_info("build failed: %s", err.msg);
                job_error(j, &err, j->fail_code);
        }
        /* the job's directory goes now, not when the reader lets go */
        build_context_free(j->ctx);
        j->ctx = NULL;
        pthread_mutex_lock(&j->lock);
        j->done = true;
        pthread_cond_broadcast(&j->cond);
        pthread_mutex_unlock(&j->lock);
        job_unref(j);
        return NULL;
}

/* ---- start ---- */

static int check_options(struct build_job *j, struct berr *err) {
        for (size_t i = 0; i < j->o.n_tags; i++) {
                struct reference ref;
                int r = reference_parse_with_default_tag(j->o.tags[i], &ref, err);
                if (r < 0)
                        return r;
                if (ref.digest[0])
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid reference format");
        }
        struct dockerfile *df = j->df;
        size_t first = 0;
        while (first < df->n && df->instrs[first].kind == DF_ARG)
                first++;
        if (first < df->n && df->instrs[first].kind != DF_FROM)
                return berr_set(err, BERR_INVALID, EINVAL,
                                "no build stage in current context"); /* buildkit's instructions.Parse */
        if (first == df->n)
                return berr_set(err, BERR_INVALID, EINVAL, "file with no instructions");
        j->first_stage = first;
        j->end = df->n;
        if (j->o.target && j->o.target[0]) {
                bool found = false;
                for (size_t i = first; i < df->n; i++) {
                        const struct df_instr *in = &df->instrs[i];
                        if (in->kind != DF_FROM)
                                continue;
                        if (found) {
                                j->end = i;
                                break;
                        }
                        if (in->n_args == 3 && strcasecmp(in->args[2], j->o.target) == 0)
                                found = true;
                }
                if (!found)
                        return berr_set(err, BERR_INVALID, EINVAL, "failed to reach build target %s in Dockerfile",
                                        j->o.target);
        }
        j->total = (int) j->end;
        if (j->o.labels)
                j->total += (int) json_object_size(j->o.labels);
        return 0;
}

int build_start(struct daemon *d, const struct build_opts *o, int context_fd, struct build_job **ret,
                struct berr *err) {
        struct build_job *j = calloc(1, sizeof(*j));
        if (!j)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pthread_mutex_init(&j->lock, NULL);
        pthread_cond_init(&j->cond, NULL);
        j->refs = 1;
        j->d = d;
        j->o = *o;
        j->o.build_args = o->build_args ? json_incref(o->build_args) : json_object();
        j->o.labels = o->labels ? json_incref(o->labels) : NULL;
        j->o.dockerfile = own(j, o->dockerfile);
        j->o.target = own(j, o->target);
        j->o.network_mode = own(j, o->network_mode);
        j->o.cpuset_cpus = own(j, o->cpuset_cpus);
        j->o.cpuset_mems = own(j, o->cpuset_mems);
        j->o.cgroup_parent = own(j, o->cgroup_parent);
        j->o.ulimits = o->ulimits ? json_incref(o->ulimits) : NULL;
        j->o.auth_config = own(j, o->auth_config);
        for (size_t i = 0; i < o->n_tags; i++)
                j->o.tags[i] = own(j, o->tags[i]);
        for (size_t i = 0; i < o->n_extra_hosts; i++)
                j->o.extra_hosts[i] = own(j, o->extra_hosts[i]);
        j->meta_args = json_object();
        j->args_used = json_object();
        int r = 0;
        if (!j->meta_args || !j->args_used || !j->o.build_args)
                r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        _cleanup_free_ char *tmp = r == 0 ? fs_path_join(d->cfg.data_root, "tmp") : NULL;
        if (r == 0 && !tmp)
                r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        struct context_source src = { .fd = context_fd, .remote = o->remote && o->remote[0] ? o->remote : NULL };
        if (r == 0 && src.remote && !build_is_git_url(src.remote) && strncmp(src.remote, "http://", 7) != 0 &&
            strncmp(src.remote, "https://", 8) != 0)
                r = berr_set(err, BERR_INVALID, EINVAL, "remote context must be an http or https URL: %s", src.remote);
        if (r == 0)
                r = build_context_open(tmp, &src, o->dockerfile, &j->ctx, err);
        if (r == 0 && o->complete && !o->complete(o->opaque))
                r = berr_set(err, BERR_INVALID, ECANCELED, "the build context was cut short");
        if (r == 0)
                r = dockerfile_parse(j->ctx->dockerfile, j->ctx->dockerfile_len, &j->df, err);
        if (r == 0)
                r = check_options(j, err);
        if (r < 0) {
                job_unref(j);
                return r;
        }
        for (size_t i = 0; i < j->df->n_warnings; i++) {
                _cleanup_free_ char *w = NULL;
                if (asprintf(&w, "%s\n", j->df->warnings[i]) >= 0)
                        job_stderr(j, w, strlen(w));
        }
        if (j->df->n_warnings) {
                static const char more[] = "[WARNING]: Empty continuation lines will become errors in a future release.\n";
                job_stderr(j, more, strlen(more));
        }
        j->refs = 2;
        pthread_t t;
        r = pthread_create(&t, NULL, build_thread, j);
        if (r != 0) {
                j->refs = 1;
                job_unref(j);
                return berr_set(err, BERR_INTERNAL, r, "cannot start the build thread");
        }
        pthread_detach(t);
        *ret = j;
        return 0;
}
