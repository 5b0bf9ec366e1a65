/* config_runtimes.c - OCI runtimes besides the built-in one: --add-runtime, daemon.json
 * "runtimes", --default-runtime, runc registered when it is installed, with dockerd's
 * checks and messages (daemon/config, opts/runtime.go). berth-shim runs them
 * (src/shim/oci_runtime.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"

static void runtime_done(struct daemon_runtime *rt) {
        free(rt->name);
        free(rt->path);
        strv_free(rt->args);
        memset(rt, 0, sizeof(*rt));
}

void daemon_runtimes_done(struct daemon_runtimes *r) {
        for (size_t i = 0; i < r->n; i++)
                runtime_done(&r->v[i]);
        free(r->default_name);
        memset(r, 0, sizeof(*r));
}

/* The name becomes a directory (EXEC-ROOT/runtime-NAME, the runtime's state): no slash,
 * no dot-only names. */
static bool valid_name(const char *n) {
        if (!*n || strlen(n) > 64 || STREQ(n, ".") || STREQ(n, ".."))
                return false;
        for (const char *p = n; *p; p++)
                if (!isalnum((unsigned char) *p) && *p != '_' && *p != '.' && *p != '-')
                        return false;
        return true;
}

/* dockerd lists runc under containerd's name for its shim too; so does berth. */
#define RUNC_V2_NAME "io.containerd.runc.v2"

static bool reserved(const char *name) {
        return STREQ(name, DAEMON_BUILTIN_RUNTIME) || STREQ(name, "runc") || STREQ(name, RUNC_V2_NAME);
}

/* Takes @args (NULL: none), also when it fails. */
static int add(struct daemon_runtimes *r, const char *name, const char *path, char **args, struct berr *err) {
        int e = 0;
        if (reserved(name))
                e = berr_set(err, BERR_INVALID, EINVAL, "runtime name '%s' is reserved", name);
        else if (!valid_name(name))
                e = berr_set(err, BERR_INVALID, EINVAL,
                             "invalid runtime name '%s': only [a-zA-Z0-9_.-] are allowed, at most 64", name);
        else if (daemon_runtimes_find(r, name))
                e = berr_set(err, BERR_INVALID, EINVAL, "runtime '%s' was already defined", name);
        else if (r->n >= DAEMON_MAX_RUNTIMES)
                e = berr_set(err, BERR_INVALID, E2BIG, "too many runtimes: at most %d", DAEMON_MAX_RUNTIMES);
        if (e < 0) {
                strv_free(args);
                return e;
        }
        struct daemon_runtime *rt = &r->v[r->n];
        rt->args = args ? args : calloc(1, sizeof(char *));
        rt->name = strdup(name);
        rt->path = strdup(path);
        if (!rt->name || !rt->path || !rt->args) {
                runtime_done(rt);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        while (rt->args[rt->n_args])
                rt->n_args++;
        r->n++;
        return 0;
}

static char *trim(char *s) {
        while (isspace((unsigned char) *s))
                s++;
        size_t n = strlen(s);
        while (n && isspace((unsigned char) s[n - 1]))
                s[--n] = '\0';
        return s;
}

int daemon_runtimes_add_flag(struct daemon_runtimes *r, const char *value, struct berr *err) {
        _cleanup_free_ char *copy = strdup(value);
        if (!copy)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        char *eq = strchr(copy, '=');
        if (!eq)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid runtime argument: %s", value);
        *eq = '\0';
        char *name = trim(copy), *path = trim(eq + 1);
        if (!*name || !*path)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid runtime argument: %s", value);
        for (char *p = name; *p; p++) /* dockerd lower-cases the flag's names */
                *p = (char) tolower((unsigned char) *p);
        return add(r, name, path, NULL, err);
}

int daemon_runtimes_merge_json(struct daemon_runtimes *r, const json_t *v, struct berr *err) {
        if (!json_is_object(v))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid type for runtimes: expected an object");
        const char *name;
        json_t *o;
        json_object_foreach((json_t *) v, name, o) {
                if (!json_is_object(o))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid type for runtimes.%s: expected an object", name);
                const char *key;
                json_t *kv;
                json_object_foreach(o, key, kv) {
                        if (STREQ(key, "runtimeType") || STREQ(key, "options"))
                                return berr_set(err, BERR_INVALID, ENOTSUP,
                                                "runtime %s: %s is not supported by berth: it runs OCI runtimes by "
                                                "path (\"path\", \"runtimeArgs\"), without containerd shims", name, key);
                        if (!STREQ(key, "path") && !STREQ(key, "runtimeArgs"))
                                return berr_set(err, BERR_INVALID, EINVAL, "runtime %s: unknown key \"%s\"", name, key);
                }
                json_t *path = json_object_get(o, "path");
                if (path && !json_is_string(path))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid type for runtimes.%s.path: expected a string",
                                        name);
                if (!path || !*json_string_value(path))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "runtime %s: either a runtimeType or a path must be configured", name);
                json_t *args = json_object_get(o, "runtimeArgs");
                if (args && !json_is_array(args))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "invalid type for runtimes.%s.runtimeArgs: expected an array of strings", name);
                size_t n = json_array_size(args);
                if (n > DAEMON_MAX_RUNTIME_ARGS)
                        return berr_set(err, BERR_INVALID, E2BIG, "runtime %s: at most %d runtimeArgs", name,
                                        DAEMON_MAX_RUNTIME_ARGS);
                char **list = calloc(n + 1, sizeof(char *));
                if (!list)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                for (size_t i = 0; i < n; i++) {
                        const char *a = json_string_value(json_array_get(args, i));
                        if (!a || !(list[i] = strdup(a))) {
                                strv_free(list);
                                return a ? berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory")
                                         : berr_set(err, BERR_INVALID, EINVAL,
                                                    "invalid type for runtimes.%s.runtimeArgs: expected an array of strings",
                                                    name);
                        }
                }
                int rr = add(r, name, json_string_value(path), list, err);
                if (rr < 0)
                        return rr;
        }
        return 0;
}

int daemon_runtimes_set_default(struct daemon_runtimes *r, const char *name, struct berr *err) {
        char *dup = strdup(name);
        if (!dup)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        free(r->default_name);
        r->default_name = dup;
        return 0;
}

int daemon_runtime_lookpath(const char *path, const char *path_env, char *out, size_t size, struct berr *err) {
        struct stat st;
        if (strchr(path, '/')) {
                if (stat(path, &st) < 0) {
                        int e = errno;
                        char why[128];
                        snprintf(why, sizeof(why), "%s", strerror(e));
                        why[0] = (char) tolower((unsigned char) why[0]); /* as Go spells it */
                        return berr_set(err, BERR_INVALID, e, "exec: \"%s\": stat %s: %s", path, path, why);
                }
                if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0)
                        return berr_set(err, BERR_INVALID, EACCES, "exec: \"%s\": permission denied", path);
                if (path[0] == '/')
                        return fs_path_fmt(out, size, "%s", path) < 0
                                       ? berr_set(err, BERR_INVALID, ENAMETOOLONG, "%s: path too long", path)
                                       : 0;
                _cleanup_free_ char *abs = realpath(path, NULL);
                if (!abs || fs_path_fmt(out, size, "%s", abs) < 0)
                        return berr_set(err, BERR_INVALID, ENAMETOOLONG, "%s: cannot make it absolute", path);
                return 0;
        }
        for (const char *p = path_env, *colon; p; p = colon ? colon + 1 : NULL) {
                colon = strchr(p, ':');
                size_t len = colon ? (size_t) (colon - p) : strlen(p);
                char cand[4200];
                /* An empty or relative entry is the working directory: none of a daemon's business. */
                if (len && p[0] == '/' && fs_path_fmt(cand, sizeof(cand), "%.*s/%s", (int) len, p, path) == 0 &&
                    stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
                        return fs_path_fmt(out, size, "%s", cand) < 0
                                       ? berr_set(err, BERR_INVALID, ENAMETOOLONG, "%s: path too long", cand)
                                       : 0;
        }
        return berr_set(err, BERR_INVALID, ENOENT, "exec: \"%s\": executable file not found in $PATH", path);
}

int daemon_runtimes_finish(struct daemon_runtimes *r, const char *path_env, struct berr *err) {
        char found[4200];
        struct berr e = { 0 };
        /* dockerd always has runc (its default, also named after containerd's shim for it);
         * berth has it when it is installed. */
        static const char *const names[] = { RUNC_V2_NAME, "runc" };
        bool have_runc = daemon_runtime_lookpath("runc", path_env, found, sizeof(found), &e) == 0;
        for (size_t i = 0; have_runc && i < ELEMENTSOF(names); i++) {
                if (daemon_runtimes_find(r, names[i]))
                        continue;
                if (r->n >= DAEMON_MAX_RUNTIMES)
                        return berr_set(err, BERR_INVALID, E2BIG, "too many runtimes: at most %d", DAEMON_MAX_RUNTIMES);
                struct daemon_runtime *rt = &r->v[r->n];
                rt->name = strdup(names[i]);
                rt->path = strdup("runc");
                rt->args = calloc(1, sizeof(char *));
                rt->automatic = true;
                if (!rt->name || !rt->path || !rt->args) {
                        runtime_done(rt);
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                }
                r->n++;
        }
        if (r->default_name && !daemon_runtimes_known(r, r->default_name))
                return berr_set(err, BERR_INVALID, EINVAL, "specified default runtime '%s' does not exist", r->default_name);
        return 0;
}

const struct daemon_runtime *daemon_runtimes_find(const struct daemon_runtimes *r, const char *name) {
        for (size_t i = 0; i < r->n; i++)
                if (STREQ(r->v[i].name, name))
                        return &r->v[i];
        return NULL;
}

const char *daemon_runtimes_default(const struct daemon_runtimes *r) {
        return r->default_name ? r->default_name : DAEMON_BUILTIN_RUNTIME;
}

bool daemon_runtimes_known(const struct daemon_runtimes *r, const char *name) {
        return STREQ(name, DAEMON_BUILTIN_RUNTIME) || daemon_runtimes_find(r, name);
}

json_t *daemon_runtimes_info(const struct daemon_runtimes *r, const char *builtin_path) {
        json_t *o = json_object();
        if (!o)
                return NULL;
        json_object_set_new(o, DAEMON_BUILTIN_RUNTIME, json_pack("{s:s}", "path", builtin_path));
        for (size_t i = 0; i < r->n; i++) {
                json_t *rt = json_pack("{s:s}", "path", r->v[i].path);
                if (rt && r->v[i].n_args) {
                        json_t *a = json_array();
                        for (size_t k = 0; a && k < r->v[i].n_args; k++)
                                json_array_append_new(a, json_string(r->v[i].args[k]));
                        json_object_set_new(rt, "runtimeArgs", a);
                }
                json_object_set_new(o, r->v[i].name, rt);
        }
        return o;
}
