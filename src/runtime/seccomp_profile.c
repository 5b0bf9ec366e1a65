/* seccomp_profile.c - Docker seccomp profile -> OCI linux.seccomp, following moby's
 * profiles/seccomp (setupSeccomp): rules are kept or dropped by their includes/excludes
 * (architectures by Go's GOARCH names, capabilities against the bounding set, minKernel
 * against the running kernel), archMap is flattened for the native architecture. The
 * filter itself is compiled by the runtime (libseccomp), not here. */
#include "runtime/seccomp_profile.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"

#define PROFILE_MAX_BYTES (1u << 20)
#define RULES_MAX 4096

/* uname -m / GOARCH -> (GOARCH, libseccomp's native architecture) */
static const struct {
        const char *machine, *goarch, *native;
} arches[] = {
        { "x86_64", "amd64", "SCMP_ARCH_X86_64" },     { "amd64", "amd64", "SCMP_ARCH_X86_64" },
        { "aarch64", "arm64", "SCMP_ARCH_AARCH64" },   { "arm64", "arm64", "SCMP_ARCH_AARCH64" },
        { "i386", "386", "SCMP_ARCH_X86" },            { "i686", "386", "SCMP_ARCH_X86" },
        { "386", "386", "SCMP_ARCH_X86" },             { "armv7l", "arm", "SCMP_ARCH_ARM" },
        { "armv6l", "arm", "SCMP_ARCH_ARM" },          { "arm", "arm", "SCMP_ARCH_ARM" },
        { "ppc64le", "ppc64le", "SCMP_ARCH_PPC64LE" }, { "ppc64", "ppc64", "SCMP_ARCH_PPC64" },
        { "s390x", "s390x", "SCMP_ARCH_S390X" },       { "riscv64", "riscv64", "SCMP_ARCH_RISCV64" },
        { "loongarch64", "loong64", "SCMP_ARCH_LOONGARCH64" }, { "loong64", "loong64", "SCMP_ARCH_LOONGARCH64" },
        { "mips64", "mips64", "SCMP_ARCH_MIPS64" },
};

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static json_t *default_profile;
static struct berr default_err;

static void parse_default(void) {
        if (seccomp_profile_parse(seccomp_default_profile_json, seccomp_default_profile_json_len, &default_profile,
                                  &default_err) < 0)
                default_profile = NULL;
}

int seccomp_default_profile(const json_t **ret, struct berr *err) {
        pthread_once(&default_once, parse_default);
        if (!default_profile) {
                if (err)
                        *err = default_err;
                return -(default_err.errnum ? default_err.errnum : EINVAL);
        }
        *ret = default_profile;
        return 0;
}

static int bad(struct berr *err, const char *fmt, const char *a, size_t i) {
        char what[256];
        snprintf(what, sizeof(what), fmt, a, i);
        return berr_set(err, BERR_INVALID, EINVAL, "Decoding seccomp profile failed: %s", what);
}

/* What libseccomp (and runc) accept in a profile: checked here so that a bad value is
 * refused when the container is created, naming its rule, not at start by the runtime. */
static const char *const action_names[] = {
        "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",
};
static const char *const op_names[] = {
        "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};
static const char *const arch_names[] = {
        "SCMP_ARCH_NATIVE", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
        "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64",
        "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
};
static const char *const flag_names[] = {
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

static bool known(const char *const *names, size_t n, const char *s) {
        for (size_t i = 0; s && i < n; i++)
                if (STREQ(names[i], s))
                        return true;
        return false;
}

/* "syscalls[3] (chmod, fchmod, ...)": which rule, in the user's words. */
static void rule_label(json_t *rule, size_t i, char *buf, size_t size) {
        size_t n = (size_t) snprintf(buf, size, "syscalls[%zu]", i);
        json_t *names = json_object_get(rule, "names");
        const char *name = json_string_value(json_object_get(rule, "name"));
        if (!json_array_size(names) && !name)
                return;
        n += (size_t) snprintf(buf + n, n < size ? size - n : 0, " (");
        if (name)
                n += (size_t) snprintf(buf + n, n < size ? size - n : 0, "%s", name);
        for (size_t k = 0; k < json_array_size(names) && k < 3; k++)
                n += (size_t) snprintf(buf + n, n < size ? size - n : 0, "%s%s", k ? ", " : "",
                                       json_string_value(json_array_get(names, k)));
        if (json_array_size(names) > 3)
                n += (size_t) snprintf(buf + n, n < size ? size - n : 0, ", ...");
        snprintf(buf + n, n < size ? size - n : 0, ")");
}

static int bad_rule(struct berr *err, json_t *rule, size_t i, const char *what, const char *value) {
        char label[160];
        rule_label(rule, i, label, sizeof(label));
        return berr_set(err, BERR_INVALID, EINVAL, "invalid seccomp profile: %s: %s \"%s\"", label, what, value);
}

static int check_values(json_t *p, struct berr *err) {
        const char *def = json_string_value(json_object_get(p, "defaultAction"));
        if (def && *def && !known(action_names, ELEMENTSOF(action_names), def))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid seccomp profile: defaultAction: unknown action \"%s\"",
                                def);
        size_t i, k;
        json_t *e, *a;
        json_array_foreach(json_object_get(p, "architectures"), i, e) {
                if (!known(arch_names, ELEMENTSOF(arch_names), json_string_value(e)))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "invalid seccomp profile: architectures[%zu]: unknown architecture \"%s\"", i,
                                        json_string_value(e));
        }
        json_array_foreach(json_object_get(p, "archMap"), i, e) {
                const char *arch = json_string_value(json_object_get(e, "architecture"));
                if (!known(arch_names, ELEMENTSOF(arch_names), arch))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "invalid seccomp profile: archMap[%zu]: unknown architecture \"%s\"", i, arch);
                json_array_foreach(json_object_get(e, "subArchitectures"), k, a) {
                        if (!known(arch_names, ELEMENTSOF(arch_names), json_string_value(a)))
                                return berr_set(err, BERR_INVALID, EINVAL,
                                                "invalid seccomp profile: archMap[%zu] (%s): unknown sub-architecture \"%s\"",
                                                i, arch, json_string_value(a));
                }
        }
        json_array_foreach(json_object_get(p, "flags"), i, e) {
                if (!known(flag_names, ELEMENTSOF(flag_names), json_string_value(e)))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid seccomp profile: flags[%zu]: unknown flag \"%s\"",
                                        i, json_string_value(e));
        }
        json_array_foreach(json_object_get(p, "syscalls"), i, e) {
                const char *action = json_string_value(json_object_get(e, "action"));
                if (!action || !*action)
                        return bad_rule(err, e, i, "missing action", "");
                if (STREQ(action, "SCMP_ACT_NOTIFY"))
                        return bad_rule(err, e, i, "action not supported by berth", action);
                if (!known(action_names, ELEMENTSOF(action_names), action))
                        return bad_rule(err, e, i, "unknown action", action);
                json_t *args = json_object_get(e, "args");
                if (json_array_size(args) > 6)
                        return bad_rule(err, e, i, "more than 6 argument conditions", "args");
                json_array_foreach(args, k, a) {
                        const char *op = json_string_value(json_object_get(a, "op"));
                        char idx[32];
                        snprintf(idx, sizeof(idx), "%lld", (long long) json_integer_value(json_object_get(a, "index")));
                        if (!known(op_names, ELEMENTSOF(op_names), op))
                                return bad_rule(err, e, i, "unknown operator", op);
                        if (json_integer_value(json_object_get(a, "index")) > 5)
                                return bad_rule(err, e, i, "argument index out of range (0-5)", idx);
                }
        }
        return 0;
}

static bool is_strv(json_t *v) {
        if (!v || json_is_null(v))
                return true;
        if (!json_is_array(v))
                return false;
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) if (!json_is_string(e)) return false;
        return true;
}

static bool is_uint(json_t *v) {
        return !v || json_is_null(v) || (json_is_integer(v) && json_integer_value(v) >= 0);
}

static bool is_str(json_t *v) {
        return !v || json_is_null(v) || json_is_string(v);
}

static int check_filter(json_t *f, const char *which, size_t i, struct berr *err) {
        if (!f || json_is_null(f))
                return 0;
        if (!json_is_object(f) || !is_strv(json_object_get(f, "caps")) || !is_strv(json_object_get(f, "arches")) ||
            !is_str(json_object_get(f, "minKernel")))
                return bad(err, "syscalls[%2$zu].%1$s: expected {caps, arches, minKernel}", which, i);
        return 0;
}

/* The shape Go's json.Unmarshal into moby's seccomp.Seccomp would accept. */
static int check_profile(json_t *p, struct berr *err) {
        if (!is_str(json_object_get(p, "defaultAction")) || !is_uint(json_object_get(p, "defaultErrnoRet")) ||
            !is_strv(json_object_get(p, "architectures")) || !is_strv(json_object_get(p, "flags")) ||
            !is_str(json_object_get(p, "listenerPath")) || !is_str(json_object_get(p, "listenerMetadata")))
                return bad(err, "bad type of a top-level field%s", "", 0);
        json_t *am = json_object_get(p, "archMap"), *sc = json_object_get(p, "syscalls");
        size_t i;
        json_t *e;
        if (am && !json_is_null(am)) {
                if (!json_is_array(am))
                        return bad(err, "archMap: expected an array%s", "", 0);
                json_array_foreach(am, i, e) {
                        if (!json_is_object(e) || !json_is_string(json_object_get(e, "architecture")) ||
                            !is_strv(json_object_get(e, "subArchitectures")))
                                return bad(err, "archMap[%2$zu]: expected {architecture, subArchitectures}%1$s", "", i);
                }
                if (json_array_size(am) && json_array_size(json_object_get(p, "architectures")))
                        return berr_set(err, BERR_INVALID, EINVAL,
                                        "both 'architectures' and 'archMap' are specified in the seccomp profile, "
                                        "use either 'architectures' or 'archMap'");
        }
        if (sc && !json_is_null(sc)) {
                if (!json_is_array(sc))
                        return bad(err, "syscalls: expected an array%s", "", 0);
                if (json_array_size(sc) > RULES_MAX)
                        return bad(err, "syscalls: more than %2$zu rules%1$s", "", RULES_MAX);
                json_array_foreach(sc, i, e) {
                        if (!json_is_object(e))
                                return bad(err, "syscalls[%2$zu]: expected an object%1$s", "", i);
                        if (!is_str(json_object_get(e, "name")) || !is_strv(json_object_get(e, "names")) ||
                            !is_str(json_object_get(e, "action")) || !is_uint(json_object_get(e, "errnoRet")) ||
                            !is_str(json_object_get(e, "comment")))
                                return bad(err, "syscalls[%2$zu]: bad type of a field%1$s", "", i);
                        int r;
                        if ((r = check_filter(json_object_get(e, "includes"), "includes", i, err)) < 0 ||
                            (r = check_filter(json_object_get(e, "excludes"), "excludes", i, err)) < 0)
                                return r;
                        json_t *args = json_object_get(e, "args"), *a;
                        size_t k;
                        if (args && !json_is_null(args)) {
                                if (!json_is_array(args))
                                        return bad(err, "syscalls[%2$zu].args: expected an array%1$s", "", i);
                                json_array_foreach(args, k, a) {
                                        if (!json_is_object(a) || !is_uint(json_object_get(a, "index")) ||
                                            !is_uint(json_object_get(a, "value")) ||
                                            !is_uint(json_object_get(a, "valueTwo")) ||
                                            !json_is_string(json_object_get(a, "op")))
                                                return bad(err, "syscalls[%2$zu].args: expected {index, value, valueTwo, op}%1$s",
                                                           "", i);
                                }
                        }
                        if (json_is_string(json_object_get(e, "name")) && json_array_size(json_object_get(e, "names")))
                                return berr_set(err, BERR_INVALID, EINVAL, "use either 'name' or 'names'");
                }
        }
        return 0;
}

int seccomp_profile_parse(const char *text, size_t len, json_t **ret, struct berr *err) {
        if (len > PROFILE_MAX_BYTES)
                return berr_set(err, BERR_INVALID, EFBIG, "Decoding seccomp profile failed: larger than %u bytes",
                                PROFILE_MAX_BYTES);
        json_error_t jerr;
        _cleanup_json_ json_t *p = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!p)
                return berr_set(err, BERR_INVALID, EINVAL, "Decoding seccomp profile failed: %s (line %d column %d)",
                                jerr.text, jerr.line, jerr.column);
        if (!json_is_object(p))
                return berr_set(err, BERR_INVALID, EINVAL,
                                "Decoding seccomp profile failed: expected a JSON object, got %s", json_type_name(p));
        int r = check_profile(p, err);
        if (r < 0 || (r = check_values(p, err)) < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

static bool in_strv(json_t *arr, const char *s) {
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) if (STREQ(json_string_value(e), s)) return true;
        return false;
}

static bool in_caps(const char *const *caps, size_t n, const char *c) {
        for (size_t i = 0; i < n; i++)
                if (STREQ(caps[i], c))
                        return true;
        return false;
}

/* "4.8" or "6.1.0-13-amd64" -> (4, 8); Docker compares kernel and major only. */
static bool parse_kernel(const char *s, int *ret_kernel, int *ret_major) {
        int k, m;
        if (!s || sscanf(s, "%d.%d", &k, &m) != 2 || k < 0 || m < 0)
                return false;
        *ret_kernel = k;
        *ret_major = m;
        return true;
}

/* Should this rule be in the container's filter? Negative on a bad minKernel. */
static int rule_applies(json_t *rule, const char *const *caps, size_t n_caps, const char *goarch, int kv, int km,
                        struct berr *err) {
        json_t *inc = json_object_get(rule, "includes"), *exc = json_object_get(rule, "excludes");
        json_t *exc_arches = json_object_get(exc, "arches"), *inc_arches = json_object_get(inc, "arches");
        if (json_array_size(exc_arches) && in_strv(exc_arches, goarch))
                return 0;
        if (json_array_size(inc_arches) && !in_strv(inc_arches, goarch))
                return 0;
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(exc, "caps"), i, c) if (in_caps(caps, n_caps, json_string_value(c))) return 0;
        const char *min_kernel = json_string_value(json_object_get(inc, "minKernel"));
        if (min_kernel) {
                int k, m;
                if (!parse_kernel(min_kernel, &k, &m))
                        return berr_set(err, BERR_INVALID, EINVAL, "Decoding seccomp profile failed: invalid kernel version: %s",
                                        min_kernel);
                if (kv < k || (kv == k && km < m))
                        return 0;
        }
        json_array_foreach(json_object_get(inc, "caps"), i, c) if (!in_caps(caps, n_caps, json_string_value(c))) return 0;
        return 1;
}

static json_t *oci_rule(json_t *rule) {
        json_t *names = json_object_get(rule, "names");
        json_t *out = json_object();
        if (!out)
                return NULL;
        if (json_array_size(names))
                json_object_set_new(out, "names", json_deep_copy(names));
        else
                json_object_set_new(out, "names", json_pack("[s]", json_string_value(json_object_get(rule, "name")) ?: ""));
        json_t *action = json_object_get(rule, "action");
        json_object_set_new(out, "action", json_string(json_string_value(action) ?: ""));
        json_t *errno_ret = json_object_get(rule, "errnoRet");
        if (json_is_integer(errno_ret))
                json_object_set_new(out, "errnoRet", json_integer(json_integer_value(errno_ret)));
        json_t *args = json_object_get(rule, "args");
        if (json_array_size(args)) {
                json_t *oargs = json_array();
                size_t i;
                json_t *a;
                json_array_foreach(args, i, a) {
                        json_t *o = json_pack("{s:I,s:I}", "index", json_integer_value(json_object_get(a, "index")),
                                              "value", json_integer_value(json_object_get(a, "value")));
                        json_int_t two = json_integer_value(json_object_get(a, "valueTwo"));
                        if (o && two)
                                json_object_set_new(o, "valueTwo", json_integer(two));
                        if (o)
                                json_object_set_new(o, "op", json_string(json_string_value(json_object_get(a, "op"))));
                        json_array_append_new(oargs, o);
                }
                json_object_set_new(out, "args", oargs);
        }
        return out;
}

int seccomp_profile_to_oci(const json_t *docker_profile, const char *const *caps, size_t n_caps, const char *arch,
                           const char *kernel_release, json_t **ret_oci_seccomp, struct berr *err) {
        json_t *p = (json_t *) docker_profile; /* jansson's getters are not const-qualified; nothing is changed */
        struct utsname uts;
        if ((!arch || !kernel_release) && uname(&uts) < 0)
                return berr_sys(err, BERR_INTERNAL, "uname");
        if (!arch)
                arch = uts.machine;
        if (!kernel_release)
                kernel_release = uts.release;
        const char *goarch = NULL, *native = NULL;
        for (size_t i = 0; i < ELEMENTSOF(arches); i++)
                if (STREQ(arches[i].machine, arch)) {
                        goarch = arches[i].goarch;
                        native = arches[i].native;
                }
        if (!goarch) /* an architecture we have no name for: no archMap entry and no arch rule can match */
                goarch = native = arch;
        int kv, km;
        if (!parse_kernel(kernel_release, &kv, &km))
                return berr_set(err, BERR_INTERNAL, EINVAL, "cannot parse the kernel release \"%s\"", kernel_release);

        json_t *sc = json_object_get(p, "syscalls");
        const char *default_action = json_string_value(json_object_get(p, "defaultAction"));
        if ((!default_action || !*default_action) && json_array_size(sc) == 0) {
                *ret_oci_seccomp = NULL; /* Docker: no default action and no rules = seccomp disabled */
                return 0;
        }

        _cleanup_json_ json_t *out = json_object();
        if (!out)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        json_object_set_new(out, "defaultAction", json_string(default_action ? default_action : ""));
        json_t *v = json_object_get(p, "defaultErrnoRet");
        if (json_is_integer(v))
                json_object_set_new(out, "defaultErrnoRet", json_integer(json_integer_value(v)));

        json_t *archs = json_array();
        json_object_set_new(out, "architectures", archs);
        json_t *old = json_object_get(p, "architectures");
        if (json_array_size(old)) {
                json_array_extend(archs, old);
        } else {
                size_t i;
                json_t *e;
                json_array_foreach(json_object_get(p, "archMap"), i, e) {
                        if (!STREQ(json_string_value(json_object_get(e, "architecture")), native))
                                continue;
                        json_array_append_new(archs, json_string(native));
                        json_array_extend(archs, json_object_get(e, "subArchitectures"));
                        break;
                }
        }
        if (json_array_size(archs) == 0)
                json_object_del(out, "architectures"); /* omitempty */
        static const char *const passthrough[] = { "flags", "listenerPath", "listenerMetadata" };
        for (size_t i = 0; i < ELEMENTSOF(passthrough); i++) {
                v = json_object_get(p, passthrough[i]);
                if (v && !json_is_null(v) && !(json_is_string(v) && !*json_string_value(v)) &&
                    !(json_is_array(v) && !json_array_size(v)))
                        json_object_set_new(out, passthrough[i], json_deep_copy(v));
        }

        json_t *rules = json_array();
        json_object_set_new(out, "syscalls", rules);
        size_t i;
        json_t *rule;
        json_array_foreach(sc, i, rule) {
                int r = rule_applies(rule, caps, n_caps, goarch, kv, km, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                if (json_array_append_new(rules, oci_rule(rule)) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        if (json_array_size(rules) == 0)
                json_object_del(out, "syscalls");
        *ret_oci_seccomp = TAKE_PTR(out);
        return 0;
}
