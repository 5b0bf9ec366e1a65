/* managed_config.c - a managed plugin's configuration as dockerd reads it (api/types/plugin
 * Config, the config.json of a plugin's rootfs tarball or its registry config blob): the
 * JSON checked field by field against Go's types and rewritten with every field present,
 * as dockerd's inspect shows it; the Plugin object with its Settings; `docker plugin set`
 * (dockerd's v2/settable.go rules); the privileges an install must grant. Pure JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "plugin.h"

#define MAX_ITEMS 256 /* mounts, devices, env entries, capabilities, args: a bound on hostile configs */

enum ftype { F_STR, F_STR_OR_NULL, F_BOOL, F_STRV, F_OBJ, F_ARR_OBJ, F_UINT32 };

struct field {
        const char *key;
        enum ftype type;
        const struct field *sub; /* F_OBJ, F_ARR_OBJ: the element's fields (NULL-keyed end) */
        const char *go;          /* Go type for the message */
};

static const struct field f_settable_env[] = {
        { "Name", F_STR, NULL, "string" },           { "Description", F_STR, NULL, "string" },
        { "Settable", F_STRV, NULL, "[]string" },    { "Value", F_STR_OR_NULL, NULL, "string" },
        { NULL, 0, NULL, NULL },
};
static const struct field f_mount[] = {
        { "Name", F_STR, NULL, "string" },         { "Description", F_STR, NULL, "string" },
        { "Settable", F_STRV, NULL, "[]string" },  { "Source", F_STR_OR_NULL, NULL, "string" },
        { "Destination", F_STR, NULL, "string" },  { "Type", F_STR, NULL, "string" },
        { "Options", F_STRV, NULL, "[]string" },   { NULL, 0, NULL, NULL },
};
static const struct field f_device[] = {
        { "Name", F_STR, NULL, "string" },        { "Description", F_STR, NULL, "string" },
        { "Settable", F_STRV, NULL, "[]string" }, { "Path", F_STR_OR_NULL, NULL, "string" },
        { NULL, 0, NULL, NULL },
};
static const struct field f_args[] = {
        { "Name", F_STR, NULL, "string" },        { "Description", F_STR, NULL, "string" },
        { "Settable", F_STRV, NULL, "[]string" }, { "Value", F_STRV, NULL, "[]string" },
        { NULL, 0, NULL, NULL },
};
static const struct field f_interface[] = {
        { "Types", F_STRV, NULL, "[]types.PluginInterfaceType" },
        { "Socket", F_STR, NULL, "string" },
        { "ProtocolScheme", F_STR, NULL, "string" },
        { NULL, 0, NULL, NULL },
};
static const struct field f_user[] = {
        { "UID", F_UINT32, NULL, "uint32" }, { "GID", F_UINT32, NULL, "uint32" }, { NULL, 0, NULL, NULL },
};
static const struct field f_network[] = { { "Type", F_STR, NULL, "string" }, { NULL, 0, NULL, NULL } };
static const struct field f_linux[] = {
        { "Capabilities", F_STRV, NULL, "[]string" },
        { "AllowAllDevices", F_BOOL, NULL, "bool" },
        { "Devices", F_ARR_OBJ, f_device, "[]types.PluginDevice" },
        { NULL, 0, NULL, NULL },
};
static const struct field f_rootfs[] = {
        { "type", F_STR, NULL, "string" }, { "diff_ids", F_STRV, NULL, "[]string" }, { NULL, 0, NULL, NULL },
};
static const struct field f_config[] = {
        { "DockerVersion", F_STR, NULL, "string" },
        { "Description", F_STR, NULL, "string" },
        { "Documentation", F_STR, NULL, "string" },
        { "Interface", F_OBJ, f_interface, "types.PluginConfigInterface" },
        { "Entrypoint", F_STRV, NULL, "[]string" },
        { "WorkDir", F_STR, NULL, "string" },
        { "User", F_OBJ, f_user, "types.PluginConfigUser" },
        { "Network", F_OBJ, f_network, "types.PluginConfigNetwork" },
        { "Linux", F_OBJ, f_linux, "types.PluginConfigLinux" },
        { "PropagatedMount", F_STR, NULL, "string" },
        { "IpcHost", F_BOOL, NULL, "bool" },
        { "PidHost", F_BOOL, NULL, "bool" },
        { "Mounts", F_ARR_OBJ, f_mount, "[]types.PluginMount" },
        { "Env", F_ARR_OBJ, f_settable_env, "[]types.PluginEnv" },
        { "Args", F_OBJ, f_args, "types.PluginConfigArgs" },
        { "rootfs", F_OBJ, f_rootfs, "types.PluginConfigRootfs" },
        { NULL, 0, NULL, NULL },
};

static int type_error(const char *path, const json_t *v, const char *go, struct berr *err) {
        return berr_set(err, BERR_INVALID, EINVAL, "json: cannot unmarshal %s into Go struct field %s of type %s",
                        json_type_name(v), path, go);
}

static int normalize_obj(json_t *in, const struct field *fields, const char *path, json_t **ret, struct berr *err);

/* One field's value checked and copied (absent or null: the Go zero value). */
static int normalize_value(json_t *v, const struct field *f, const char *path, json_t **ret, struct berr *err) {
        bool absent = !v || json_is_null(v);
        switch (f->type) {
        case F_STR:
                if (!absent && !json_is_string(v))
                        return type_error(path, v, f->go, err);
                *ret = json_string(absent ? "" : json_string_value(v));
                break;
        case F_STR_OR_NULL:
                if (!absent && !json_is_string(v))
                        return type_error(path, v, f->go, err);
                *ret = absent ? json_null() : json_string(json_string_value(v));
                break;
        case F_BOOL:
                if (!absent && !json_is_boolean(v))
                        return type_error(path, v, f->go, err);
                *ret = json_boolean(!absent && json_is_true(v));
                break;
        case F_UINT32:
                if (!absent && (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0xffffffffLL))
                        return type_error(path, v, f->go, err);
                *ret = json_integer(absent ? 0 : json_integer_value(v));
                break;
        case F_STRV: {
                if (!absent && !json_is_array(v))
                        return type_error(path, v, f->go, err);
                if (json_array_size(v) > MAX_ITEMS)
                        return berr_set(err, BERR_INVALID, E2BIG, "%s: more than %d entries", path, MAX_ITEMS);
                json_t *a = absent ? json_null() : json_array();
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e) {
                        if (!json_is_string(e)) {
                                json_decref(a);
                                return type_error(path, e, "string", err);
                        }
                        json_array_append_new(a, json_string(json_string_value(e)));
                }
                *ret = a;
                break;
        }
        case F_OBJ:
                if (!absent && !json_is_object(v))
                        return type_error(path, v, f->go, err);
                return normalize_obj(absent ? NULL : v, f->sub, path, ret, err);
        case F_ARR_OBJ: {
                if (!absent && !json_is_array(v))
                        return type_error(path, v, f->go, err);
                if (json_array_size(v) > MAX_ITEMS)
                        return berr_set(err, BERR_INVALID, E2BIG, "%s: more than %d entries", path, MAX_ITEMS);
                json_t *a = absent ? json_null() : json_array();
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e) {
                        json_t *o = NULL;
                        if (!json_is_object(e)) {
                                json_decref(a);
                                return type_error(path, e, f->go + 2, err);
                        }
                        int r = normalize_obj(e, f->sub, path, &o, err);
                        if (r < 0) {
                                json_decref(a);
                                return r;
                        }
                        json_array_append_new(a, o);
                }
                *ret = a;
                break;
        }
        }
        if (!*ret)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        return 0;
}

static int normalize_obj(json_t *in, const struct field *fields, const char *path, json_t **ret, struct berr *err) {
        _cleanup_json_ json_t *out = json_object();
        if (!out)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (const struct field *f = fields; f->key; f++) {
                char sub[256];
                snprintf(sub, sizeof(sub), "%s.%s", path, f->key);
                json_t *v = NULL;
                int r = normalize_value(in ? json_object_get(in, f->key) : NULL, f, sub, &v, err);
                if (r < 0)
                        return r;
                json_object_set_new(out, f->key, v);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* "docker.volumedriver/1.0": prefix, capability, version (dockerd's CapabilityID). */
static int parse_type(const char *t, char *cap, size_t size) {
        const char *dot = strchr(t, '.'), *slash = strrchr(t, '/');
        if (!dot || !slash || slash < dot || (size_t) (slash - dot - 1) >= size || slash == dot + 1)
                return -EINVAL;
        memcpy(cap, dot + 1, (size_t) (slash - dot - 1));
        cap[slash - dot - 1] = '\0';
        return 0;
}

int plugin_config_normalize(json_t *in, json_t **ret, struct berr *err) {
        if (!json_is_object(in))
                return berr_set(err, BERR_INVALID, EINVAL, "json: cannot unmarshal %s into Go value of type types.PluginConfig",
                                json_type_name(in));
        _cleanup_json_ json_t *out = NULL;
        int r = normalize_obj(in, f_config, "PluginConfig", &out, err);
        if (r < 0)
                return r;
        json_t *types = json_object_get(json_object_get(out, "Interface"), "Types");
        size_t i;
        json_t *t;
        json_array_foreach(types, i, t) {
                char cap[128];
                if (parse_type(json_string_value(t), cap, sizeof(cap)) < 0)
                        return berr_set(err, BERR_INVALID, EINVAL, "Invalid capability format: %s",
                                        json_string_value(t));
        }
        /* Go's omitempty fields, as dockerd's inspect leaves them out */
        const char *dv = json_string_value(json_object_get(out, "DockerVersion"));
        if (dv && !*dv)
                json_object_del(out, "DockerVersion");
        json_t *itf = json_object_get(out, "Interface");
        if (!*(json_string_value(json_object_get(itf, "ProtocolScheme")) ?: ""))
                json_object_del(itf, "ProtocolScheme");
        json_t *user = json_object_get(out, "User");
        for (int k = 0; k < 2; k++)
                if (json_integer_value(json_object_get(user, k ? "GID" : "UID")) == 0)
                        json_object_del(user, k ? "GID" : "UID");
        json_t *rootfs = json_object_get(in, "rootfs");
        if (!rootfs || json_is_null(rootfs))
                json_object_del(out, "rootfs");
        else if (!*(json_string_value(json_object_get(json_object_get(out, "rootfs"), "type")) ?: ""))
                json_object_del(json_object_get(out, "rootfs"), "type");
        *ret = TAKE_PTR(out);
        return 0;
}

/* A plugin's type names its registry kind: "docker.volumedriver/1.0" -> VolumeDriver. */
static const struct {
        const char *cap, *kind;
} kinds[] = {
        { "volumedriver", PLUGIN_KIND_VOLUME },       { "authz", PLUGIN_KIND_AUTHZ },
        { "logdriver", PLUGIN_KIND_LOG },             { "networkdriver", PLUGIN_KIND_NETWORK },
        { "ipamdriver", PLUGIN_KIND_IPAM },
};

size_t plugin_config_kinds(json_t *config, const char **out, size_t max) {
        json_t *types = json_object_get(json_object_get(config, "Interface"), "Types");
        size_t n = 0, i;
        json_t *t;
        json_array_foreach(types, i, t) {
                char cap[128];
                const char *s = json_string_value(t);
                if (!s || strncmp(s, "docker.", 7) != 0 || parse_type(s, cap, sizeof(cap)) < 0)
                        continue;
                for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
                        if (strcasecmp(cap, kinds[k].cap) == 0 && n < max)
                                out[n++] = kinds[k].kind;
        }
        return n;
}

json_t *plugin_object_new(const char *id, const char *name, json_t *config) {
        json_t *settings = json_object();
        json_t *mounts = json_deep_copy(json_object_get(config, "Mounts"));
        json_t *devices = json_deep_copy(json_object_get(json_object_get(config, "Linux"), "Devices"));
        json_t *env = json_array();
        json_t *args = json_deep_copy(json_object_get(json_object_get(config, "Args"), "Value"));
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(config, "Env"), i, e) {
                const char *v = json_string_value(json_object_get(e, "Value"));
                if (!v)
                        continue;
                char *s = NULL;
                if (asprintf(&s, "%s=%s", json_string_value(json_object_get(e, "Name")), v) < 0)
                        continue;
                json_array_append_new(env, json_string(s));
                free(s);
        }
        /* dockerd makes them with make(): empty arrays, never null */
        json_object_set_new(settings, "Mounts", json_is_array(mounts) ? mounts : (json_decref(mounts), json_array()));
        json_object_set_new(settings, "Env", env);
        json_object_set_new(settings, "Args", json_is_array(args) ? args : (json_decref(args), json_array()));
        json_object_set_new(settings, "Devices", json_is_array(devices) ? devices : (json_decref(devices), json_array()));
        return json_pack("{s:s, s:s, s:b, s:o, s:s, s:O}", "Id", id, "Name", name, "Enabled", 0, "Settings", settings,
                         "PluginReference", "", "Config", config);
}

static const char *const allowed_env[] = { "value", NULL };
static const char *const allowed_args[] = { "value", NULL };
static const char *const allowed_devices[] = { "path", NULL };
static const char *const allowed_mounts[] = { "source", NULL };

static bool strv_json_has(json_t *a, const char *s) {
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) if (json_string_value(v) && strcmp(json_string_value(v), s) == 0) return true;
        return false;
}

/* dockerd's isSettable: the field named (or the only settable one) must be allowed for
 * the kind and listed in the entry's Settable. */
static int is_settable(char *field, size_t fsize, const char *const *allowed, json_t *settable, bool *ret,
                       struct berr *err) {
        if (!field[0]) {
                if (json_array_size(settable) == 1)
                        snprintf(field, fsize, "%s", json_string_value(json_array_get(settable, 0)) ?: "");
                else if (json_array_size(settable) > 1)
                        return berr_set(err, BERR_INTERNAL, EINVAL, "multiple fields are settable, one must be specified");
        }
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
                if (strcmp(*a, field) == 0)
                        ok = true;
        *ret = ok && strv_json_has(settable, field);
        return 0;
}

static void update_env(json_t *env, const char *name, const char *value) {
        char *s = NULL;
        if (asprintf(&s, "%s=%s", name, value) < 0)
                return;
        size_t i, nl = strlen(name);
        json_t *v;
        json_array_foreach(env, i, v) {
                const char *e = json_string_value(v);
                if (e && strncmp(e, name, nl) == 0 && (e[nl] == '=' || e[nl] == '\0')) {
                        json_array_set_new(env, i, json_string(s));
                        free(s);
                        return;
                }
        }
        json_array_append_new(env, json_string(s));
        free(s);
}

/* The entry of @arr named @name, and its index. */
static json_t *named(json_t *arr, const char *name, size_t *ret_i) {
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v) {
                const char *n = json_string_value(json_object_get(v, "Name"));
                if (n && strcmp(n, name) == 0) {
                        *ret_i = i;
                        return v;
                }
        }
        return NULL;
}

static int set_one(json_t *obj, const char *arg, struct berr *err) {
        json_t *config = json_object_get(obj, "Config"), *settings = json_object_get(obj, "Settings");
        const char *eq = strchr(arg, '=');
        if (eq == arg)
                return berr_set(err, BERR_INTERNAL, EINVAL, "invalid format, must be <name>[.<field>][=<value>]");
        char name[512], field[128] = "", pretty[700];
        const char *value = eq ? eq + 1 : "";
        size_t nlen = eq ? (size_t) (eq - arg) : strlen(arg);
        if (nlen >= sizeof(name))
                return berr_set(err, BERR_INVALID, ENAMETOOLONG, "setting name too long");
        memcpy(name, arg, nlen);
        name[nlen] = '\0';
        char *dot = strrchr(name, '.');
        if (dot && dot > name) {
                snprintf(field, sizeof(field), "%s", dot + 1);
                *dot = '\0';
        }
        bool ok;
        int r;
        size_t idx;
        json_t *e;
#define PRETTY() (snprintf(pretty, sizeof(pretty), field[0] ? "%s.%s" : "%s%s", name, field), pretty)
        if ((e = named(json_object_get(config, "Env"), name, &idx))) {
                if ((r = is_settable(field, sizeof(field), allowed_env, json_object_get(e, "Settable"), &ok, err)) < 0)
                        return r;
                if (!ok)
                        return berr_set(err, BERR_INTERNAL, EINVAL, "\"%s\" is not settable", PRETTY());
                update_env(json_object_get(settings, "Env"), name, value);
                return 0;
        }
        if ((e = named(json_object_get(config, "Mounts"), name, &idx))) {
                if ((r = is_settable(field, sizeof(field), allowed_mounts, json_object_get(e, "Settable"), &ok, err)) < 0)
                        return r;
                if (!ok)
                        return berr_set(err, BERR_INTERNAL, EINVAL, "\"%s\" is not settable", PRETTY());
                if (!json_is_string(json_object_get(e, "Source")))
                        return berr_set(err, BERR_INTERNAL, EINVAL, "plugin config has no mount source");
                /* dockerd's Settings share the Source pointer with Config: both change */
                json_object_set_new(e, "Source", json_string(value));
                json_t *s = json_array_get(json_object_get(settings, "Mounts"), idx);
                if (s)
                        json_object_set_new(s, "Source", json_string(value));
                return 0;
        }
        if ((e = named(json_object_get(json_object_get(config, "Linux"), "Devices"), name, &idx))) {
                if ((r = is_settable(field, sizeof(field), allowed_devices, json_object_get(e, "Settable"), &ok, err)) < 0)
                        return r;
                if (!ok)
                        return berr_set(err, BERR_INTERNAL, EINVAL, "\"%s\" is not settable", PRETTY());
                if (!json_is_string(json_object_get(e, "Path")))
                        return berr_set(err, BERR_INTERNAL, EINVAL, "plugin config has no device path");
                json_object_set_new(e, "Path", json_string(value));
                json_t *s = json_array_get(json_object_get(settings, "Devices"), idx);
                if (s)
                        json_object_set_new(s, "Path", json_string(value));
                return 0;
        }
        json_t *args = json_object_get(config, "Args");
        const char *an = json_string_value(json_object_get(args, "Name"));
        if (an && strcmp(an, name) == 0) {
                if ((r = is_settable(field, sizeof(field), allowed_args, json_object_get(args, "Settable"), &ok, err)) < 0)
                        return r;
                if (!ok)
                        return berr_set(err, BERR_INTERNAL, EINVAL, "\"%s\" is not settable", PRETTY());
                /* strings.Split(value, " ") */
                json_t *a = json_array();
                const char *p = value;
                for (;;) {
                        const char *sp = strchr(p, ' ');
                        size_t l = sp ? (size_t) (sp - p) : strlen(p);
                        json_array_append_new(a, json_stringn(p, l));
                        if (!sp || json_array_size(a) > MAX_ITEMS)
                                break;
                        p = sp + 1;
                }
                json_object_set_new(settings, "Args", a);
                return 0;
        }
#undef PRETTY
        return berr_set(err, BERR_INTERNAL, EINVAL, "setting \"%s\" not found in the plugin configuration", name);
}

int plugin_object_set(json_t *obj, json_t *args, struct berr *err) {
        if (json_is_true(json_object_get(obj, "Enabled")))
                return berr_set(err, BERR_INTERNAL, EBUSY, "cannot set on an active plugin, disable plugin before setting");
        /* all or nothing: a copy takes the changes, then replaces the object's */
        _cleanup_json_ json_t *work = json_deep_copy(obj);
        if (!work)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t i;
        json_t *a;
        json_array_foreach(args, i, a) {
                if (!json_is_string(a))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "json: cannot unmarshal %s into Go value of type string", json_type_name(a));
                int r = set_one(work, json_string_value(a), err);
                if (r < 0)
                        return r;
        }
        json_object_set(obj, "Config", json_object_get(work, "Config"));
        json_object_set(obj, "Settings", json_object_get(work, "Settings"));
        return 0;
}

static void add_priv(json_t *out, const char *name, const char *desc, json_t *value) {
        json_array_append_new(out, json_pack("{s:s, s:s, s:o}", "Name", name, "Description", desc, "Value", value));
}

json_t *plugin_config_privileges(json_t *c) {
        json_t *out = json_array();
        const char *net = json_string_value(json_object_get(json_object_get(c, "Network"), "Type")) ?: "";
        if (*net && strcmp(net, "null") != 0 && strcmp(net, "bridge") != 0)
                add_priv(out, "network", "permissions to access a network", json_pack("[s]", net));
        if (json_is_true(json_object_get(c, "IpcHost")))
                add_priv(out, "host ipc namespace", "allow access to host ipc namespace", json_pack("[s]", "true"));
        if (json_is_true(json_object_get(c, "PidHost")))
                add_priv(out, "host pid namespace", "allow access to host pid namespace", json_pack("[s]", "true"));
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(c, "Mounts"), i, m) {
                const char *src = json_string_value(json_object_get(m, "Source"));
                if (src)
                        add_priv(out, "mount", "host path to mount", json_pack("[s]", src));
        }
        json_t *lx = json_object_get(c, "Linux");
        json_array_foreach(json_object_get(lx, "Devices"), i, m) {
                const char *p = json_string_value(json_object_get(m, "Path"));
                if (p)
                        add_priv(out, "device", "host device to access", json_pack("[s]", p));
        }
        if (json_is_true(json_object_get(lx, "AllowAllDevices")))
                add_priv(out, "allow-all-devices", "allow 'rwm' access to all devices", json_pack("[s]", "true"));
        json_t *caps = json_object_get(lx, "Capabilities");
        if (json_array_size(caps) > 0)
                add_priv(out, "capabilities", "list of additional capabilities required", json_deep_copy(caps));
        return out;
}

/* dockerd's normalizePrivileges: by name, values sorted, so order does not matter. */
static int cmp_str(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static char *priv_key(json_t *p) {
        json_t *v = json_object_get(p, "Value");
        size_t n = json_array_size(v), len = strlen(json_string_value(json_object_get(p, "Name")) ?: "") + 2;
        if (n > MAX_ITEMS)
                return NULL;
        const char **vals = calloc(n + 1, sizeof(*vals));
        if (!vals)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                vals[i] = json_string_value(json_array_get(v, i)) ?: "";
                len += strlen(vals[i]) + 1;
        }
        qsort(vals, n, sizeof(*vals), cmp_str);
        char *s = malloc(len);
        if (s) {
                strcpy(s, json_string_value(json_object_get(p, "Name")) ?: "");
                strcat(s, "\n");
                for (size_t i = 0; i < n; i++) {
                        strcat(s, vals[i]);
                        strcat(s, "\n");
                }
        }
        free(vals);
        return s;
}

int plugin_privileges_check(json_t *required, json_t *granted, struct berr *err) {
        if (granted && !json_is_array(granted) && !json_is_null(granted))
                return berr_set(err, BERR_INVALID, EINVAL, "json: cannot unmarshal %s into Go value of type types.PluginPrivileges",
                                json_type_name(granted));
        size_t nr = json_array_size(required), ng = json_array_size(granted);
        if (ng > MAX_ITEMS)
                return berr_set(err, BERR_INVALID, E2BIG, "too many privileges");
        bool ok = nr == ng;
        for (size_t i = 0; ok && i < nr; i++) {
                _cleanup_free_ char *want = priv_key(json_array_get(required, i));
                bool found = false;
                for (size_t j = 0; want && !found && j < ng; j++) {
                        json_t *g = json_array_get(granted, j);
                        if (!json_is_object(g))
                                continue;
                        _cleanup_free_ char *have = priv_key(g);
                        found = have && strcmp(have, want) == 0;
                }
                ok = found;
        }
        if (!ok)
                return berr_set(err, BERR_INTERNAL, EPERM, "incorrect privileges"); /* errors.New: 500 */
        return 0;
}
