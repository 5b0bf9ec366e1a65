/* dispatch.c - what each instruction does to a stage, as dockerd's classic builder
 * (builder/dockerfile/dispatchers.go): the metadata instructions change the run config
 * and commit an empty_layer step whose history reads "/bin/sh -c #(nop)  CMD [...]";
 * RUN, COPY, ADD and WORKDIR make layers (run.c, copy.c). Every commit is first looked
 * up in the build cache: a child of the stage's image whose container_config (the run
 * config with the step's command) is the same. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "build/build_int.h"
#include "common/cleanup.h"
#include "common/duration.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/id.h"
#include "common/json.h"
#include "daemon/daemon.h"
#include "daemon/signals.h"
#include "image/image_store.h"

/* ---- variables ---- */

const char *stage_lookup(void *opaque, const char *name) {
        struct stage_state *st = opaque;
        size_t n = strlen(name), i;
        json_t *v;
        json_array_foreach(json_object_get(st->config, "Env"), i, v) {
                const char *e = json_string_value(v);
                if (e && strncmp(e, name, n) == 0 && e[n] == '=')
                        return e + n + 1;
        }
        return json_string_value(json_object_get(st->args, name));
}

int stage_expand(struct stage_state *st, const char *word, char **ret, struct berr *err) {
        return df_expand_word(word, st->escape, stage_lookup, st, ret, err);
}

json_t *stage_shell(struct stage_state *st) {
        static json_t *dflt;
        json_t *sh = json_object_get(st->config, "Shell");
        if (json_is_array(sh) && json_array_size(sh) > 0)
                return sh;
        if (!dflt)
                dflt = json_pack("[s, s]", "/bin/sh", "-c"); /* built once, never freed */
        return dflt;
}

/* ---- Go's %q ---- */

static void go_quote_str(FILE *f, const char *s) {
        fputc('"', f);
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (c == '"' || c == '\\')
                        fprintf(f, "\\%c", c);
                else if (c == '\n')
                        fputs("\\n", f);
                else if (c == '\t')
                        fputs("\\t", f);
                else if (c == '\r')
                        fputs("\\r", f);
                else if (c < 0x20 || c == 0x7f)
                        fprintf(f, "\\x%02x", c);
                else
                        fputc(c, f);
        }
        fputc('"', f);
}

/* fmt's %q of a []string: ["a" "b"] */
static void go_quote_list(FILE *f, json_t *a) {
        fputc('[', f);
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) {
                if (i)
                        fputc(' ', f);
                go_quote_str(f, json_string_value(v) ?: "");
        }
        fputc(']', f);
}

/* Go's time.Duration.String() */
static void go_duration(FILE *f, int64_t ns) {
        if (ns == 0) {
                fputs("0s", f);
                return;
        }
        if (ns < 0) {
                fputc('-', f);
                ns = -ns;
        }
        if (ns < 1000000000) {
                const char *unit = "ns";
                int64_t div = 1;
                if (ns >= 1000000)
                        unit = "ms", div = 1000000;
                else if (ns >= 1000)
                        unit = "µs", div = 1000;
                fprintf(f, "%lld", (long long) (ns / div));
                int64_t frac = ns % div;
                if (frac) {
                        char digits[16];
                        int w = div == 1000000 ? 6 : 3;
                        snprintf(digits, sizeof(digits), "%0*lld", w, (long long) frac);
                        for (int k = w - 1; k > 0 && digits[k] == '0'; k--)
                                digits[k] = '\0';
                        fprintf(f, ".%s", digits);
                }
                fputs(unit, f);
                return;
        }
        int64_t h = ns / 3600000000000LL, m = ns / 60000000000LL % 60, s = ns / 1000000000 % 60, frac = ns % 1000000000;
        if (h)
                fprintf(f, "%lldh", (long long) h);
        if (h || m)
                fprintf(f, "%lldm", (long long) m);
        fprintf(f, "%lld", (long long) s);
        if (frac) {
                char digits[16];
                snprintf(digits, sizeof(digits), "%09lld", (long long) frac);
                for (int k = 8; k > 0 && digits[k] == '0'; k--)
                        digits[k] = '\0';
                fprintf(f, ".%s", digits);
        }
        fputc('s', f);
}

/* ---- cache and commit ---- */

json_t *build_probe_config(struct stage_state *st, json_t *cmd) {
        json_t *c = json_deep_copy(st->config);
        if (c)
                json_object_set(c, "Cmd", cmd);
        return c;
}

bool build_probe_cache(struct build_job *j, struct stage_state *st, json_t *probe) {
        if (j->o.no_cache || st->cache_busted)
                return false;
        char id[DIGEST_STRING_MAX];
        if (image_store_build_cache(j->d->images, st->image_id, probe, id) != 1) {
                st->cache_busted = true;
                return false;
        }
        job_say(j, " ---> Using cache\n");
        snprintf(st->image_id, sizeof(st->image_id), "%s", id);
        json_object_set_new(st->config, "Image", json_string(st->image_id));
        return true;
}

int build_commit(struct build_job *j, struct stage_state *st, int tar_fd, json_t *probe, const char *container_id,
                 struct berr *err) {
        _cleanup_free_ char *created_by = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&created_by, &len);
        if (!f)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(probe, "Cmd"), i, v) fprintf(f, "%s%s", i ? " " : "", json_string_value(v) ?: "");
        fclose(f);
        struct image_build_step step = {
                .parent_id = st->image_id,
                .tar_fd = tar_fd,
                .config = st->config,
                .container_config = probe,
                .created_by = created_by,
                .author = st->author,
                .container_id = container_id,
        };
        char id[DIGEST_STRING_MAX];
        int r = image_store_build_step(j->d->images, &step, id, err);
        if (r < 0)
                return r;
        snprintf(st->image_id, sizeof(st->image_id), "%s", id);
        json_object_set_new(st->config, "Image", json_string(st->image_id));
        return 0;
}

int build_commit_meta(struct build_job *j, struct stage_state *st, const char *comment, struct berr *err) {
        json_t *cmd = json_deep_copy(stage_shell(st));
        json_array_append_new(cmd, json_string("#(nop) "));
        json_array_append_new(cmd, json_string(comment));
        _cleanup_json_ json_t *owned = cmd;
        _cleanup_json_ json_t *probe = build_probe_config(st, cmd);
        if (!probe)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (build_probe_cache(j, st, probe))
                return 0;
        /* dockerd commits these through a container it creates and removes at once; the
         * image is the same without one, so berth names the step with a fresh ID only. */
        char hex[ID_HEX_LEN + 1];
        int r = id_random_hex(hex, err);
        if (r < 0)
                return r;
        job_say(j, " ---> Running in %.12s\n", hex);
        r = build_commit(j, st, -1, probe, hex, err);
        if (r == 0 && (j->o.rm || j->o.force_rm))
                job_say(j, "Removing intermediate container %.12s\n", hex);
        return r;
}

/* ---- the metadata instructions ---- */

static json_t *object_field(json_t *config, const char *key) {
        json_t *o = json_object_get(config, key);
        if (!json_is_object(o)) {
                o = json_object();
                json_object_set_new(config, key, o);
        }
        return o;
}

static void env_set(json_t *config, const char *key, const char *value) {
        json_t *env = json_object_get(config, "Env");
        if (!json_is_array(env)) {
                env = json_array();
                json_object_set_new(config, "Env", env);
        }
        _cleanup_free_ char *kv = NULL;
        if (asprintf(&kv, "%s=%s", key, value) < 0)
                return;
        size_t n = strlen(key), i;
        json_t *v;
        json_array_foreach(env, i, v) {
                const char *e = json_string_value(v);
                if (e && strncmp(e, key, n) == 0 && e[n] == '=') {
                        json_array_set_new(env, i, json_string(kv));
                        return;
                }
        }
        json_array_append_new(env, json_string(kv));
}

static int dispatch_kv(struct build_job *j, struct stage_state *st, const struct df_instr *in, struct berr *err) {
        _cleanup_free_ char *comment = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&comment, &len);
        if (!f)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        fputs(in->kind == DF_ENV ? "ENV" : "LABEL", f);
        int r = 0;
        for (size_t i = 0; r == 0 && i < in->n_kv; i++) {
                _cleanup_free_ char *k = NULL, *v = NULL;
                r = stage_expand(st, in->kv[i].key, &k, err);
                if (r == 0)
                        r = stage_expand(st, in->kv[i].value, &v, err);
                if (r < 0)
                        break;
                if (in->kind == DF_ENV) {
                        env_set(st->config, k, v);
                        fprintf(f, " %s=%s", k, v);
                } else {
                        json_object_set_new(object_field(st->config, "Labels"), k, json_string(v));
                        fprintf(f, " %s=%s", k, v);
                }
        }
        fclose(f);
        return r < 0 ? r : build_commit_meta(j, st, comment, err);
}

static json_t *command_of(struct stage_state *st, const struct df_instr *in) {
        json_t *cmd = json_array();
        if (!in->json && in->n_args > 0)
                json_array_extend(cmd, stage_shell(st));
        for (size_t i = 0; i < in->n_args; i++)
                json_array_append_new(cmd, json_string(in->args[i]));
        return cmd;
}

static int dispatch_cmd_like(struct build_job *j, struct stage_state *st, const struct df_instr *in, struct berr *err) {
        json_t *cmd = command_of(st, in);
        if (!cmd)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        const char *key = in->kind == DF_CMD ? "Cmd" : in->kind == DF_ENTRYPOINT ? "Entrypoint" : "Shell";
        if (in->kind == DF_ENTRYPOINT && in->n_args == 0)
                json_object_set_new(st->config, key, json_null());
        else
                json_object_set(st->config, key, cmd);
        if (in->kind == DF_CMD)
                st->cmd_set = true;
        if (in->kind == DF_ENTRYPOINT && !st->cmd_set)
                json_object_set_new(st->config, "Cmd", json_null()); /* the image's CMD goes with a new ENTRYPOINT */
        _cleanup_free_ char *comment = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&comment, &len);
        if (!f) {
                json_decref(cmd);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        fprintf(f, "%s ", df_kind_name(in->kind));
        go_quote_list(f, cmd);
        fclose(f);
        json_decref(cmd);
        return build_commit_meta(j, st, comment, err);
}

static int dispatch_expose(struct build_job *j, struct stage_state *st, const struct df_instr *in, struct berr *err) {
        json_t *ports = object_field(st->config, "ExposedPorts");
        _cleanup_json_ json_t *given = json_array();
        for (size_t i = 0; i < in->n_args; i++) {
                char **words = NULL;
                size_t n = 0;
                int r = df_expand_words(in->args[i], st->escape, stage_lookup, st, &words, &n, err);
                if (r < 0)
                        return r;
                for (size_t w = 0; w < n; w++) {
                        char port[128];
                        const char *p = words[w];
                        char *slash = strchr(p, '/');
                        const char *proto = slash ? slash + 1 : "tcp";
                        size_t num_len = slash ? (size_t) (slash - p) : strlen(p);
                        bool ok = num_len > 0 && num_len < 64;
                        for (size_t c = 0; ok && c < num_len; c++)
                                ok = isdigit((unsigned char) p[c]) || p[c] == '-';
                        if (!ok || (!STREQ(proto, "tcp") && !STREQ(proto, "udp") && !STREQ(proto, "sctp"))) {
                                r = berr_set(err, BERR_INVALID, EINVAL, "invalid containerPort: %s", p);
                                strv_free(words);
                                return r;
                        }
                        snprintf(port, sizeof(port), "%.*s/%s", (int) num_len, p, proto);
                        json_object_set_new(ports, port, json_object());
                        json_array_append_new(given, json_string(p));
                }
                strv_free(words);
        }
        /* the ports as written, as dockerd's "EXPOSE " + strings.Join(ports, " ") */
        _cleanup_free_ char *comment = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&comment, &len);
        if (!f)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        fputs("EXPOSE", f);
        size_t i;
        json_t *v;
        json_array_foreach(given, i, v) fprintf(f, " %s", json_string_value(v));
        fclose(f);
        return build_commit_meta(j, st, comment, err);
}

static int dispatch_volume(struct build_job *j, struct stage_state *st, const struct df_instr *in, struct berr *err) {
        json_t *vols = object_field(st->config, "Volumes");
        _cleanup_json_ json_t *list = json_array();
        for (size_t i = 0; i < in->n_args; i++) {
                _cleanup_free_ char *v = NULL;
                int r = stage_expand(st, in->args[i], &v, err);
                if (r < 0)
                        return r;
                if (!v[0])
                        return berr_set(err, BERR_INVALID, EINVAL, "VOLUME specified can not be an empty string");
                json_object_set_new(vols, v, json_object());
                json_array_append_new(list, json_string(v));
        }
        _cleanup_free_ char *comment = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&comment, &len);
        if (!f)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        fputs("VOLUME [", f); /* fmt's %v of a []string */
        size_t k;
        json_t *e;
        json_array_foreach(list, k, e) fprintf(f, "%s%s", k ? " " : "", json_string_value(e));
        fputc(']', f);
        fclose(f);
        return build_commit_meta(j, st, comment, err);
}

static int dispatch_healthcheck(struct build_job *j, struct stage_state *st, const struct df_instr *in,
                                struct berr *err) {
        json_t *test = json_array();
        for (size_t i = 0; i < in->n_args; i++)
                json_array_append_new(test, json_string(in->args[i]));
        json_t *hc = json_pack("{s:o}", "Test", test);
        static const char *const durs[][2] = { { "interval", "Interval" }, { "timeout", "Timeout" },
                                               { "start-period", "StartPeriod" }, { "start-interval", "StartInterval" } };
        int64_t ns[4] = { 0 };
        for (size_t i = 0; i < 4; i++) {
                const char *v = df_flag(in, durs[i][0]);
                if (v && v[0] && duration_parse_ns(v, &ns[i]) == 0 && ns[i])
                        json_object_set_new(hc, durs[i][1], json_integer(ns[i]));
        }
        long long retries = 0;
        const char *rv = df_flag(in, "retries");
        if (rv)
                retries = strtoll(rv, NULL, 10);
        if (retries)
                json_object_set_new(hc, "Retries", json_integer(retries));
        json_object_set(st->config, "Healthcheck", hc);
        _cleanup_free_ char *comment = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&comment, &len);
        if (!f) {
                json_decref(hc);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        /* fmt's %q of dockerd 20.10's *HealthConfig: &{["CMD-SHELL" "x"] "5s" "0s" "0s" '\x03'} */
        fputs("HEALTHCHECK &{", f);
        go_quote_list(f, test);
        for (size_t i = 0; i < 3; i++) {
                fputs(" \"", f);
                go_duration(f, ns[i]);
                fputc('"', f);
        }
        if (retries >= 32 && retries < 127 && retries != '\'' && retries != '\\')
                fprintf(f, " '%c'}", (char) retries);
        else
                fprintf(f, " '\\x%02llx'}", retries & 0xff);
        fclose(f);
        json_decref(hc);
        return build_commit_meta(j, st, comment, err);
}

static int dispatch_arg(struct build_job *j, struct stage_state *st, const struct df_instr *in, struct berr *err) {
        _cleanup_free_ char *comment = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&comment, &len);
        if (!f)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        fputs("ARG", f);
        int r = 0;
        for (size_t i = 0; r == 0 && i < in->n_kv; i++) {
                _cleanup_free_ char *k = NULL, *v = NULL;
                r = stage_expand(st, in->kv[i].key, &k, err);
                if (r == 0 && in->kv[i].value)
                        r = stage_expand(st, in->kv[i].value, &v, err);
                if (r < 0)
                        break;
                /* without a default, the value of the same ARG before FROM */
                const char *dflt = v ? v : json_string_value(json_object_get(j->meta_args, k));
                json_t *given = json_object_get(j->o.build_args, k);
                if (given)
                        json_object_set_new(j->args_used, k, json_true());
                const char *val = json_is_string(given) ? json_string_value(given) : dflt;
                json_object_set_new(st->args, k, val ? json_string(val) : json_null());
                fprintf(f, " %s", k);
                if (v)
                        fprintf(f, "=%s", v);
        }
        fclose(f);
        return r < 0 ? r : build_commit_meta(j, st, comment, err);
}

static int dispatch_simple(struct build_job *j, struct stage_state *st, const struct df_instr *in, struct berr *err) {
        _cleanup_free_ char *v = NULL;
        int r = stage_expand(st, in->args[0], &v, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *comment = NULL;
        switch (in->kind) {
        case DF_USER:
                json_object_set_new(st->config, "User", json_string(v));
                break;
        case DF_MAINTAINER:
                free(st->author);
                st->author = strdup(v);
                break;
        case DF_STOPSIGNAL:
                if (signal_parse(v) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "Invalid signal: %s", v);
                json_object_set_new(st->config, "StopSignal", json_string(v));
                break;
        default:
                break;
        }
        if (asprintf(&comment, "%s %s", df_kind_name(in->kind), v) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        return build_commit_meta(j, st, comment, err);
}

/* WORKDIR: the path (relative to the current one), and the directory made in a layer
 * when the image lacks it. */
static int dispatch_workdir(struct build_job *j, struct stage_state *st, const struct df_instr *in, struct berr *err) {
        _cleanup_free_ char *v = NULL;
        int r = stage_expand(st, in->args[0], &v, err);
        if (r < 0)
                return r;
        const char *cur = json_string_value(json_object_get(st->config, "WorkingDir"));
        _cleanup_free_ char *joined = NULL;
        if (asprintf(&joined, "%s/%s", v[0] == '/' ? "" : (cur && cur[0] ? cur : "/"), v) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        char clean[4096];
        fs_clean_abs_path(joined, clean, sizeof(clean));
        json_object_set_new(st->config, "WorkingDir", json_string(clean));
        _cleanup_free_ char *comment = NULL;
        if (asprintf(&comment, "WORKDIR %s", clean) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        /* one "#(nop) WORKDIR ..." word, as dockerd's withCmdCommentString */
        json_t *cmd = json_deep_copy(stage_shell(st));
        _cleanup_free_ char *nop = NULL;
        if (asprintf(&nop, "#(nop) %s", comment) < 0)
                nop = NULL;
        json_array_append_new(cmd, json_string(nop ? nop : ""));
        _cleanup_json_ json_t *owned = cmd;
        _cleanup_json_ json_t *probe = build_probe_config(st, cmd);
        if (!probe || !nop)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (build_probe_cache(j, st, probe))
                return 0;
        return build_workdir_layer(j, st, clean, probe, err);
}

int build_dispatch(struct build_job *j, struct stage_state *st, const struct df_instr *in, struct berr *err) {
        switch (in->kind) {
        case DF_ENV:
        case DF_LABEL:
                return dispatch_kv(j, st, in, err);
        case DF_CMD:
        case DF_ENTRYPOINT:
        case DF_SHELL:
                return dispatch_cmd_like(j, st, in, err);
        case DF_EXPOSE:
                return dispatch_expose(j, st, in, err);
        case DF_VOLUME:
                return dispatch_volume(j, st, in, err);
        case DF_HEALTHCHECK:
                return dispatch_healthcheck(j, st, in, err);
        case DF_ARG:
                return dispatch_arg(j, st, in, err);
        case DF_USER:
        case DF_MAINTAINER:
        case DF_STOPSIGNAL:
                return dispatch_simple(j, st, in, err);
        case DF_WORKDIR:
                return dispatch_workdir(j, st, in, err);
        case DF_ONBUILD: {
                json_t *ob = json_object_get(st->config, "OnBuild");
                if (!json_is_array(ob)) {
                        ob = json_array();
                        json_object_set_new(st->config, "OnBuild", ob);
                }
                json_array_append_new(ob, json_string(in->trigger));
                _cleanup_free_ char *comment = NULL;
                if (asprintf(&comment, "ONBUILD %s", in->trigger) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                return build_commit_meta(j, st, comment, err);
        }
        case DF_RUN:
                return build_run(j, st, in, err);
        case DF_ADD:
        case DF_COPY:
                return build_copy(j, st, in, err);
        case DF_FROM:
        default:
                return berr_set(err, BERR_INTERNAL, EINVAL, "unexpected %s", df_kind_name(in->kind));
        }
}
