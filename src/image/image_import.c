/* image_import.c - `docker import`: one layer from a tar stream and a new config, with the
 * `--change` Dockerfile instructions applied as dockerd's BuildFromConfig does (CMD,
 * ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR,
 * with Dockerfile quoting and $VAR expansion from the config's Env). The stream is spooled
 * to an unnamed temporary file first, so the store's lock is not held while a client
 * uploads. */
#include "image_store_int.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"

#define MAX_CHANGE_BYTES (64u << 10)
#define MAX_WORDS 4096

/* ---- a growable string ---- */

struct sbuf {
        char *s;
        size_t len, cap;
        bool oom;
};

static void sb_putn(struct sbuf *b, const char *p, size_t n) {
        if (b->oom)
                return;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 64;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *s = realloc(b->s, cap);
                if (!s) {
                        b->oom = true;
                        return;
                }
                b->s = s;
                b->cap = cap;
        }
        memcpy(b->s + b->len, p, n);
        b->len += n;
        b->s[b->len] = '\0';
}

static void sb_putc(struct sbuf *b, char c) {
        sb_putn(b, &c, 1);
}

/* ---- Dockerfile words ---- */

static const char *env_lookup(json_t *env, const char *name, size_t len) {
        size_t i;
        json_t *v;
        json_array_foreach(env, i, v) {
                const char *e = json_string_value(v);
                if (e && strncmp(e, name, len) == 0 && e[len] == '=')
                        return e + len + 1;
        }
        return NULL;
}

static bool is_name_char(char c) {
        return isalnum((unsigned char) c) || c == '_';
}

/* $NAME, ${NAME}, ${NAME:-word}, ${NAME:+word} at @p (just past the '$'); returns the
 * characters consumed. */
static size_t expand_var(const char *p, json_t *env, struct sbuf *out) {
        if (*p == '{') {
                const char *end = strchr(p, '}');
                if (!end)
                        return 0;
                const char *name = p + 1;
                size_t nlen = 0;
                while (name + nlen < end && is_name_char(name[nlen]))
                        nlen++;
                const char *val = env_lookup(env, name, nlen);
                const char *mod = name + nlen;
                if (mod + 1 < end && mod[0] == ':' && (mod[1] == '-' || mod[1] == '+')) {
                        const char *word = mod + 2;
                        size_t wlen = (size_t) (end - word);
                        if (mod[1] == '-')
                                val ? sb_putn(out, val, strlen(val)) : sb_putn(out, word, wlen);
                        else if (val && *val)
                                sb_putn(out, word, wlen);
                } else if (val) {
                        sb_putn(out, val, strlen(val));
                }
                return (size_t) (end - p) + 1;
        }
        size_t n = 0;
        while (is_name_char(p[n]))
                n++;
        if (n == 0)
                return 0;
        const char *val = env_lookup(env, p, n);
        if (val)
                sb_putn(out, val, strlen(val));
        return n;
}

/* Split into words by Dockerfile rules: whitespace separates, quotes group ('...' literal,
 * "..." with \-escapes), a backslash escapes, $VAR expands when @env is given. With
 * @one_word, whitespace outside quotes is kept (the value of legacy `ENV key value`). */
static int split_words(const char *s, json_t *env, bool one_word, char ***ret, size_t *ret_n, struct berr *err) {
        char **words = calloc(MAX_WORDS + 1, sizeof(char *));
        if (!words)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t n = 0;
        struct sbuf cur = { 0 };
        bool in_word = false;
        int r = 0;
        for (const char *p = s;; p++) {
                char c = *p;
                if (c == '\0' || (!one_word && isspace((unsigned char) c))) {
                        if (in_word) {
                                if (n == MAX_WORDS) {
                                        r = berr_set(err, BERR_INVALID, E2BIG, "too many words in %s", s);
                                        break;
                                }
                                sb_putn(&cur, "", 0);
                                words[n++] = cur.s ? cur.s : strdup("");
                                cur = (struct sbuf){ 0 };
                                in_word = false;
                        }
                        if (c == '\0')
                                break;
                        continue;
                }
                in_word = true;
                if (c == '\\' && p[1]) {
                        sb_putc(&cur, *++p);
                } else if (c == '\'') {
                        const char *end = strchr(p + 1, '\'');
                        if (!end) {
                                r = berr_set(err, BERR_INVALID, EINVAL, "unexpected end of statement while looking for matching single-quote");
                                break;
                        }
                        sb_putn(&cur, p + 1, (size_t) (end - p - 1));
                        p = end;
                } else if (c == '"') {
                        for (p++; *p && *p != '"'; p++) {
                                if (*p == '\\' && (p[1] == '"' || p[1] == '\\' || p[1] == '$'))
                                        sb_putc(&cur, *++p);
                                else if (*p == '$' && env && p[1]) {
                                        size_t used = expand_var(p + 1, env, &cur);
                                        if (used)
                                                p += used;
                                        else
                                                sb_putc(&cur, '$');
                                } else
                                        sb_putc(&cur, *p);
                        }
                        if (!*p) {
                                r = berr_set(err, BERR_INVALID, EINVAL, "unexpected end of statement while looking for matching double-quote");
                                break;
                        }
                } else if (c == '$' && env && p[1]) {
                        size_t used = expand_var(p + 1, env, &cur);
                        if (used)
                                p += used;
                        else
                                sb_putc(&cur, '$');
                } else {
                        sb_putc(&cur, c);
                }
                if (cur.oom) {
                        r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        break;
                }
        }
        free(cur.s);
        if (r < 0 || cur.oom) {
                strv_free(words);
                return r < 0 ? r : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        *ret = words;
        *ret_n = n;
        return 0;
}

/* ---- instructions ---- */

struct change_state {
        bool cmd_set;
};

static json_t *config_array(json_t *config, const char *key) {
        json_t *a = json_object_get(config, key);
        if (!json_is_array(a)) {
                a = json_array();
                json_object_set_new(config, key, a);
        }
        return a;
}

static json_t *config_object(json_t *config, const char *key) {
        json_t *o = json_object_get(config, key);
        if (!json_is_object(o)) {
                o = json_object();
                json_object_set_new(config, key, o);
        }
        return o;
}

/* ["a","b"] when @args is a JSON array of strings, else NULL (the shell form). */
static json_t *json_form(const char *args) {
        if (args[0] != '[')
                return NULL;
        json_t *a = json_loads(args, 0, NULL);
        if (!json_is_array(a)) {
                json_decref(a);
                return NULL;
        }
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) {
                if (!json_is_string(v)) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

static json_t *command_form(json_t *config, const char *args) {
        json_t *a = json_form(args);
        if (a)
                return a;
        json_t *shell = json_object_get(config, "Shell");
        a = json_is_array(shell) && json_array_size(shell) ? json_deep_copy(shell) : json_pack("[s,s]", "/bin/sh", "-c");
        if (a)
                json_array_append_new(a, json_string(args));
        return a;
}

static void env_set(json_t *env, const char *key, const char *value) {
        size_t klen = strlen(key), i;
        json_t *v;
        _cleanup_free_ char *entry = NULL;
        if (asprintf(&entry, "%s=%s", key, value) < 0)
                return;
        json_array_foreach(env, i, v) {
                const char *e = json_string_value(v);
                if (e && strncmp(e, key, klen) == 0 && e[klen] == '=') {
                        json_array_set_new(env, i, json_string(entry));
                        return;
                }
        }
        json_array_append_new(env, json_string(entry));
}

/* ENV and LABEL: `k=v k2="v 2"`, or the legacy `k value with spaces`. */
static int key_values(json_t *config, const char *what, const char *args, bool is_env, struct berr *err) {
        json_t *env = json_object_get(config, "Env");
        _cleanup_strv_free_ char **words = NULL;
        size_t n;
        int r = split_words(args, env, false, &words, &n, err);
        if (r < 0)
                return r;
        if (n == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "%s requires at least one argument", what);
        bool legacy = !strchr(words[0], '=');
        if (legacy) {
                const char *rest = args;
                while (*rest && !isspace((unsigned char) *rest))
                        rest++;
                while (isspace((unsigned char) *rest))
                        rest++;
                if (!*rest)
                        return berr_set(err, BERR_INVALID, EINVAL, "%s must have two arguments", what);
                _cleanup_strv_free_ char **value = NULL;
                size_t nv;
                r = split_words(rest, env, true, &value, &nv, err);
                if (r < 0)
                        return r;
                if (is_env)
                        env_set(config_array(config, "Env"), words[0], nv ? value[0] : "");
                else
                        json_object_set_new(config_object(config, "Labels"), words[0], json_string(nv ? value[0] : ""));
                return 0;
        }
        for (size_t i = 0; i < n; i++) {
                char *eq = strchr(words[i], '=');
                if (!eq || eq == words[i])
                        return berr_set(err, BERR_INVALID, EINVAL, "%s names can not be blank", what);
                *eq = '\0';
                if (is_env)
                        env_set(config_array(config, "Env"), words[i], eq + 1);
                else
                        json_object_set_new(config_object(config, "Labels"), words[i], json_string(eq + 1));
        }
        return 0;
}

static int expose(json_t *config, const char *args, struct berr *err) {
        _cleanup_strv_free_ char **words = NULL;
        size_t n;
        int r = split_words(args, json_object_get(config, "Env"), false, &words, &n, err);
        if (r < 0)
                return r;
        if (n == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "EXPOSE requires at least one argument");
        json_t *ports = config_object(config, "ExposedPorts");
        for (size_t i = 0; i < n; i++) {
                char *slash = strchr(words[i], '/');
                char proto[8] = "tcp";
                if (slash) {
                        *slash = '\0';
                        if (slash[1])
                                snprintf(proto, sizeof(proto), "%s", slash + 1);
                }
                for (char *c = proto; *c; c++)
                        *c = (char) tolower((unsigned char) *c);
                if (!STREQ(proto, "tcp") && !STREQ(proto, "udp") && !STREQ(proto, "sctp"))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid proto: %s", proto);
                char *end;
                unsigned long lo = strtoul(words[i], &end, 10), hi = lo;
                if (*end == '-')
                        hi = strtoul(end + 1, &end, 10);
                if (end == words[i] || *end || lo == 0 || hi > 65535 || hi < lo)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid containerPort: %s", words[i]);
                for (unsigned long p = lo; p <= hi; p++) {
                        char key[32];
                        snprintf(key, sizeof(key), "%lu/%s", p, proto);
                        json_object_set_new(ports, key, json_object());
                }
        }
        return 0;
}

static int volume(json_t *config, const char *args, struct berr *err) {
        json_t *vols = config_object(config, "Volumes");
        _cleanup_json_ json_t *a = json_form(args);
        if (a) {
                size_t i;
                json_t *v;
                json_array_foreach(a, i, v) {
                        if (!*json_string_value(v))
                                return berr_set(err, BERR_INVALID, EINVAL, "VOLUME specified can not be an empty string");
                        json_object_set_new(vols, json_string_value(v), json_object());
                }
                return 0;
        }
        _cleanup_strv_free_ char **words = NULL;
        size_t n;
        int r = split_words(args, json_object_get(config, "Env"), false, &words, &n, err);
        if (r < 0)
                return r;
        if (n == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "VOLUME requires at least one argument");
        for (size_t i = 0; i < n; i++)
                json_object_set_new(vols, words[i], json_object());
        return 0;
}

static int one_word(json_t *config, const char *what, const char *args, char **ret, struct berr *err) {
        _cleanup_strv_free_ char **words = NULL;
        size_t n;
        int r = split_words(args, json_object_get(config, "Env"), true, &words, &n, err);
        if (r < 0)
                return r;
        if (n != 1 || !words[0][0])
                return berr_set(err, BERR_INVALID, EINVAL, "%s requires exactly one argument", what);
        *ret = strdup(words[0]);
        return *ret ? 0 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
}

static int workdir(json_t *config, const char *args, struct berr *err) {
        _cleanup_free_ char *dir = NULL;
        int r = one_word(config, "WORKDIR", args, &dir, err);
        if (r < 0)
                return r;
        const char *cur = image_config_str(config, "WorkingDir");
        _cleanup_free_ char *path = NULL;
        if (dir[0] == '/')
                path = strdup(dir);
        else if (asprintf(&path, "%s/%s", cur[0] ? cur : "", dir) < 0)
                path = NULL;
        if (!path)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        /* filepath.Clean, as far as it matters here: no doubled or trailing slashes. */
        char *w = path;
        for (const char *p = path; *p; p++)
                if (!(*p == '/' && (w > path && w[-1] == '/')))
                        *w++ = *p;
        *w = '\0';
        if (w > path + 1 && w[-1] == '/')
                w[-1] = '\0';
        json_object_set_new(config, "WorkingDir", json_string(path[0] == '/' ? path : "/"));
        return 0;
}

static bool valid_signal(const char *s) {
        static const char *const names[] = { "HUP",  "INT",  "QUIT", "ILL",  "TRAP", "ABRT", "BUS",    "FPE",
                                             "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM",   "STKFLT",
                                             "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",    "XCPU",
                                             "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR",  "SYS",   "POLL" };
        char *end;
        long n = strtol(s, &end, 10);
        if (*s && !*end)
                return n > 0 && n <= 64;
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcasecmp(s, names[i]) == 0)
                        return true;
        return false;
}

static int healthcheck(json_t *config, const char *args, struct berr *err) {
        json_t *hc = json_object();
        if (!hc)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        const char *p = args;
        while (strncmp(p, "--", 2) == 0) {
                const char *end = p;
                while (*end && !isspace((unsigned char) *end))
                        end++;
                _cleanup_free_ char *flag = strndup(p + 2, (size_t) (end - p - 2));
                char *eq = flag ? strchr(flag, '=') : NULL;
                if (!eq) {
                        json_decref(hc);
                        return berr_set(err, BERR_INVALID, EINVAL, "HEALTHCHECK: bad flag %.*s", (int) (end - p), p);
                }
                *eq = '\0';
                static const struct {
                        const char *flag, *key;
                } durations[] = { { "interval", "Interval" }, { "timeout", "Timeout" },
                                  { "start-period", "StartPeriod" }, { "start-interval", "StartInterval" } };
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(durations); i++) {
                        int64_t ns;
                        if (!STREQ(flag, durations[i].flag))
                                continue;
                        known = true;
                        if (duration_parse_ns(eq + 1, &ns) < 0) {
                                json_decref(hc);
                                return berr_set(err, BERR_INVALID, EINVAL, "HEALTHCHECK: invalid --%s: %s", flag, eq + 1);
                        }
                        json_object_set_new(hc, durations[i].key, json_integer(ns));
                }
                if (STREQ(flag, "retries")) {
                        char *e;
                        long n = strtol(eq + 1, &e, 10);
                        if (*e || n < 0) {
                                json_decref(hc);
                                return berr_set(err, BERR_INVALID, EINVAL, "HEALTHCHECK: invalid --retries: %s", eq + 1);
                        }
                        json_object_set_new(hc, "Retries", json_integer(n));
                        known = true;
                }
                if (!known) {
                        json_decref(hc);
                        return berr_set(err, BERR_INVALID, EINVAL, "HEALTHCHECK: unknown flag: %s", flag);
                }
                for (p = end; isspace((unsigned char) *p); p++)
                        ;
        }
        if (strncasecmp(p, "NONE", 4) == 0 && !p[4]) {
                json_object_set_new(hc, "Test", json_pack("[s]", "NONE"));
        } else if (strncasecmp(p, "CMD", 3) == 0 && isspace((unsigned char) p[3])) {
                const char *cmd = p + 4;
                while (isspace((unsigned char) *cmd))
                        cmd++;
                json_t *a = json_form(cmd);
                if (a)
                        json_array_insert_new(a, 0, json_string("CMD"));
                else
                        a = json_pack("[s,s]", "CMD-SHELL", cmd);
                json_object_set_new(hc, "Test", a);
        } else {
                json_decref(hc);
                return berr_set(err, BERR_INVALID, EINVAL, "Unknown type \"%s\" in HEALTHCHECK (try CMD)", p);
        }
        json_object_set_new(config, "Healthcheck", hc);
        return 0;
}

static int apply_one(json_t *config, const char *change, struct change_state *st, struct berr *err) {
        if (strlen(change) > MAX_CHANGE_BYTES)
                return berr_set(err, BERR_INVALID, E2BIG, "change too long");
        while (isspace((unsigned char) *change))
                change++;
        const char *sp = change;
        while (*sp && !isspace((unsigned char) *sp))
                sp++;
        char cmd[16];
        size_t clen = (size_t) (sp - change);
        if (clen == 0 || clen >= sizeof(cmd))
                return berr_set(err, BERR_INVALID, EINVAL, "%.*s is not a valid change command", (int) (clen < 64 ? clen : 64),
                                change);
        for (size_t i = 0; i < clen; i++)
                cmd[i] = (char) toupper((unsigned char) change[i]);
        cmd[clen] = '\0';
        while (isspace((unsigned char) *sp))
                sp++;
        _cleanup_free_ char *args = strdup(sp);
        if (!args)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (size_t n = strlen(args); n > 0 && isspace((unsigned char) args[n - 1]);)
                args[--n] = '\0';

        if (STREQ(cmd, "CMD") || STREQ(cmd, "ENTRYPOINT")) {
                bool is_cmd = STREQ(cmd, "CMD");
                json_t *a = command_form(config, args);
                if (!a)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                json_object_set_new(config, is_cmd ? "Cmd" : "Entrypoint", a);
                if (is_cmd)
                        st->cmd_set = true;
                else if (!st->cmd_set) /* a new ENTRYPOINT drops an inherited CMD */
                        json_object_set_new(config, "Cmd", json_null());
                return 0;
        }
        if (!args[0] && !STREQ(cmd, "ONBUILD"))
                return berr_set(err, BERR_INVALID, EINVAL, "%s requires at least one argument", cmd);
        if (STREQ(cmd, "ENV"))
                return key_values(config, "ENV", args, true, err);
        if (STREQ(cmd, "LABEL"))
                return key_values(config, "LABEL", args, false, err);
        if (STREQ(cmd, "EXPOSE"))
                return expose(config, args, err);
        if (STREQ(cmd, "VOLUME"))
                return volume(config, args, err);
        if (STREQ(cmd, "WORKDIR"))
                return workdir(config, args, err);
        if (STREQ(cmd, "HEALTHCHECK"))
                return healthcheck(config, args, err);
        if (STREQ(cmd, "USER") || STREQ(cmd, "STOPSIGNAL")) {
                _cleanup_free_ char *v = NULL;
                int r = one_word(config, cmd, args, &v, err);
                if (r < 0)
                        return r;
                if (STREQ(cmd, "STOPSIGNAL") && !valid_signal(v))
                        return berr_set(err, BERR_INVALID, EINVAL, "Invalid signal: %s", v);
                json_object_set_new(config, STREQ(cmd, "USER") ? "User" : "StopSignal", json_string(v));
                return 0;
        }
        if (STREQ(cmd, "ONBUILD")) {
                if (!args[0])
                        return berr_set(err, BERR_INVALID, EINVAL, "ONBUILD requires at least one argument");
                if (strncasecmp(args, "ONBUILD", 7) == 0 && (!args[7] || isspace((unsigned char) args[7])))
                        return berr_set(err, BERR_INVALID, EINVAL, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
                _cleanup_free_ char *trigger = strdup(args);
                if (!trigger)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                for (char *c = trigger; *c && !isspace((unsigned char) *c); c++)
                        *c = (char) toupper((unsigned char) *c);
                json_array_append_new(config_array(config, "OnBuild"), json_string(trigger));
                return 0;
        }
        return berr_set(err, BERR_INVALID, EINVAL, "%s is not a valid change command", cmd);
}

int image_config_apply_change(json_t *config, const char *change, struct berr *err) {
        struct change_state st = { 0 };
        return apply_one(config, change, &st, err);
}

static int apply_changes(json_t *config, const char *const *changes, size_t n, struct berr *err) {
        struct change_state st = { 0 };
        for (size_t i = 0; i < n; i++) {
                int r = apply_one(config, changes[i], &st, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- the image ---- */

static json_t *empty_container_config(void) {
        return json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:n, s:n, s:s, s:n, s:s, s:n, s:n, s:n}",
                         "Hostname", "", "Domainname", "", "User", "", "AttachStdin", 0, "AttachStdout", 0,
                         "AttachStderr", 0, "Tty", 0, "OpenStdin", 0, "StdinOnce", 0, "Env", "Cmd", "Image", "",
                         "Volumes", "WorkingDir", "", "Entrypoint", "OnBuild", "Labels");
}

static int build_config(const struct image_import_opts *o, const char *diff_id, char **ret, struct berr *err) {
        _cleanup_json_ json_t *config = empty_container_config();
        if (!config)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = apply_changes(config, o->changes, o->n_changes, err);
        if (r < 0)
                return r;
        char created[64];
        clock_now_rfc3339(created);
        _cleanup_free_ char *dflt = NULL;
        const char *msg = o->message && o->message[0] ? o->message : NULL;
        if (!msg && asprintf(&dflt, "Imported from %s", o->source ? o->source : "-") >= 0)
                msg = dflt;
        _cleanup_json_ json_t *img = json_pack("{s:s, s:s, s:s, s:O, s:s, s:{s:s, s:[s]}, s:[{s:s, s:s}]}",
                                               "architecture", o->architecture ? o->architecture : image_host_arch(),
                                               "comment", msg ? msg : "", "created", created, "config", config, "os",
                                               o->os ? o->os : "linux", "rootfs", "type", "layers", "diff_ids", diff_id,
                                               "history", "created", created, "comment", msg ? msg : "");
        if (!img)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (o->variant && o->variant[0])
                json_object_set_new(img, "variant", json_string(o->variant));
        *ret = json_dumps(img, JSON_COMPACT);
        return *ret ? 0 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
}

static int spool(struct image_store *s, int fd, int *ret_fd, struct berr *err) {
        _cleanup_close_ int tmp = open(s->tmp_dir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
        if (tmp < 0)
                return berr_sys(err, BERR_INTERNAL, "create a temporary file in %s", s->tmp_dir);
        char buf[128 * 1024];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berr_sys(err, BERR_INVALID, "read the imported archive");
                if (n == 0)
                        break;
                int w = fs_write_all(tmp, buf, (size_t) n);
                if (w < 0) {
                        errno = -w;
                        return berr_sys(err, BERR_INTERNAL, "spool the imported archive");
                }
        }
        if (lseek(tmp, 0, SEEK_SET) < 0)
                return berr_sys(err, BERR_INTERNAL, "seek");
        *ret_fd = TAKE_FD(tmp);
        return 0;
}

int image_store_import(struct image_store *s, int fd, const struct image_import_opts *o,
                       char ret_id[DIGEST_STRING_MAX], struct berr *err) {
        struct reference ref;
        bool tagged = o->reference && o->reference[0];
        int r = tagged ? reference_parse_with_default_tag(o->reference, &ref, err) : 0;
        if (r < 0)
                return r;
        if (tagged && ref.digest[0])
                return berr_set(err, BERR_INVALID, EINVAL, "cannot import digest reference");
        /* Check the changes before reading anything. */
        _cleanup_json_ json_t *probe = empty_container_config();
        if (!probe)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        r = apply_changes(probe, o->changes, o->n_changes, err);
        if (r < 0)
                return r;

        _cleanup_close_ int spooled = -1;
        r = spool(s, fd, &spooled, err);
        if (r < 0)
                return r;
        if (o->complete && !o->complete(o->opaque))
                return berr_set(err, BERR_INVALID, EPIPE, "the imported archive was cut short: the client went away");

        pthread_mutex_lock(&s->lock);
        struct layer *top = NULL;
        r = layer_store_register(s->layers, NULL, spooled, NULL, &top, err);
        _cleanup_free_ char *config = NULL;
        if (r == 0)
                r = build_config(o, top->diff_id, &config, err);
        if (r < 0 && top)
                (void) layer_store_release(s->layers, top, NULL, NULL); /* report the first error */
        if (r == 0)
                r = image_store_add_locked(s, config, strlen(config), top, ret_id, err); /* takes the layer */
        if (r == 0 && tagged)
                r = image_store_set_ref_locked(s, &ref, ret_id, NULL, NULL, err);
        pthread_mutex_unlock(&s->lock);
        return r;
}

int image_store_commit(struct image_store *s, const char *parent_id, int tar_fd, const struct image_commit_opts *o,
                       char ret_id[DIGEST_STRING_MAX], struct berr *err) {
        struct reference ref;
        bool tagged = o->reference && o->reference[0];
        int r = tagged ? reference_parse_with_default_tag(o->reference, &ref, err) : 0;
        if (r < 0)
                return r;
        if (tagged && ref.digest[0])
                return berr_set(err, BERR_INVALID, EINVAL, "cannot commit to a digest reference");
        _cleanup_json_ json_t *cfg = json_deep_copy(o->container_config);
        if (!cfg)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        r = apply_changes(cfg, o->changes, o->n_changes, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&s->lock);
        struct image *parent = NULL;
        r = image_resolve_locked(s, parent_id, &parent, err);
        struct layer *top = NULL;
        if (r == 0)
                r = layer_store_register(s->layers, parent->top, tar_fd, NULL, &top, err);
        _cleanup_json_ json_t *img = NULL;
        if (r == 0) {
                img = json_deep_copy(parent->config);
                char created[64];
                clock_now_rfc3339(created);
                json_t *rootfs = json_object_get(img, "rootfs");
                json_t *ids = json_object_get(rootfs, "diff_ids");
                if (!json_is_array(ids)) {
                        ids = json_array();
                        json_object_set_new(rootfs, "diff_ids", ids);
                }
                json_array_append_new(ids, json_string(top->diff_id));
                json_t *hist = json_object_get(img, "history");
                if (!json_is_array(hist)) {
                        hist = json_array();
                        json_object_set_new(img, "history", hist);
                }
                json_t *h = json_pack("{s:s}", "created", created);
                if (o->author && o->author[0])
                        json_object_set_new(h, "author", json_string(o->author));
                if (o->created_by && o->created_by[0])
                        json_object_set_new(h, "created_by", json_string(o->created_by));
                if (o->comment && o->comment[0])
                        json_object_set_new(h, "comment", json_string(o->comment));
                json_array_append_new(hist, h);
                json_object_set(img, "config", cfg);
                json_object_set_new(img, "created", json_string(created));
                json_object_set_new(img, "container", json_string(o->container_id ? o->container_id : ""));
                json_object_set_new(img, "author", json_string(o->author ? o->author : ""));
                json_object_set_new(img, "comment", json_string(o->comment ? o->comment : ""));
                /* As dockerd's commit: the committing container's configuration, which
                 * image inspect shows as ContainerConfig before API 1.45. */
                json_object_set(img, "container_config", o->container_config);
        }
        _cleanup_free_ char *text = img ? json_dumps(img, JSON_COMPACT) : NULL;
        if (r == 0 && !text)
                r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (r < 0 && top)
                (void) layer_store_release(s->layers, top, NULL, NULL);
        if (r == 0)
                r = image_store_add_locked(s, text, strlen(text), top, ret_id, err); /* takes the layer */
        if (r == 0 && tagged)
                r = image_store_set_ref_locked(s, &ref, ret_id, NULL, NULL, err);
        pthread_mutex_unlock(&s->lock);
        return r;
}
