/* seccomp.c - linux.seccomp (the OCI form dockerd writes from its profile) compiled with
 * libseccomp to a BPF program, cached by a 128-bit hash of the profile's canonical JSON so a
 * second container with the same profile loads the program without compiling: in memory
 * for the life of the process, and on disk when rt_set_seccomp_cache_dir named a
 * directory (the shim is one process per container, so the disk cache is what makes the
 * second `docker run` cheap). The program is loaded with seccomp(2) directly, so the
 * container's process needs no libseccomp state after fork. */
#include "runtime_int.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <dlfcn.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/hash.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"

/* libseccomp is only needed to compile a profile. The usual start finds the filter in the
 * cache, so the library is loaded on the first compilation instead of at exec: mapped at
 * start it cost every running container's shim ~130 KB of PSS for nothing. */
static struct {
        scmp_filter_ctx (*init)(uint32_t def_action);
        void (*release)(scmp_filter_ctx ctx);
        int (*arch_add)(scmp_filter_ctx ctx, uint32_t arch_token);
        int (*rule_add_array)(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int arg_cnt,
                              const struct scmp_arg_cmp *arg_array);
        int (*export_bpf)(const scmp_filter_ctx ctx, int fd);
        int (*syscall_resolve_name)(const char *name);
        int (*attr_set)(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value);
} lsc;
static pthread_once_t lsc_once = PTHREAD_ONCE_INIT;
static char lsc_error[256];

static void lsc_load(void) {
        void *h = dlopen("libseccomp.so.2", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                snprintf(lsc_error, sizeof(lsc_error), "%s", dlerror());
                return;
        }
        static const struct {
                const char *name;
                void **slot;
        } syms[] = {
                { "seccomp_init", (void **) &lsc.init },
                { "seccomp_release", (void **) &lsc.release },
                { "seccomp_arch_add", (void **) &lsc.arch_add },
                { "seccomp_rule_add_array", (void **) &lsc.rule_add_array },
                { "seccomp_export_bpf", (void **) &lsc.export_bpf },
                { "seccomp_syscall_resolve_name", (void **) &lsc.syscall_resolve_name },
                { "seccomp_attr_set", (void **) &lsc.attr_set },
        };
        for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
                *syms[i].slot = dlsym(h, syms[i].name);
                if (!*syms[i].slot) {
                        snprintf(lsc_error, sizeof(lsc_error), "%s: %s", syms[i].name, dlerror());
                        return;
                }
        }
}

static int lsc_require(struct berr *err) {
        pthread_once(&lsc_once, lsc_load);
        if (lsc_error[0])
                return berr_set(err, BERR_INTERNAL, ELIBACC, "seccomp: cannot load libseccomp.so.2: %s", lsc_error);
        return 0;
}

#define seccomp_init (lsc.init)
#define seccomp_release (lsc.release)
#define seccomp_arch_add (lsc.arch_add)
#define seccomp_rule_add_array (lsc.rule_add_array)
#define seccomp_export_bpf (lsc.export_bpf)
#define seccomp_syscall_resolve_name (lsc.syscall_resolve_name)
#define seccomp_attr_set (lsc.attr_set)

#define MAX_CACHED 64
#define MAX_BPF_BYTES (4096 * sizeof(struct sock_filter)) /* BPF_MAXINSNS */

struct cache_entry {
        struct rt_seccomp prog;
        struct cache_entry *next;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_entry *cache_head;
static size_t cache_len;
static unsigned compile_count;
static char *cache_dir;

void rt_set_seccomp_cache_dir(const char *dir) {
        pthread_mutex_lock(&cache_lock);
        free(cache_dir);
        cache_dir = dir ? strdup(dir) : NULL;
        pthread_mutex_unlock(&cache_lock);
}

unsigned rt_seccomp_compile_count(void) {
        pthread_mutex_lock(&cache_lock);
        unsigned n = compile_count;
        pthread_mutex_unlock(&cache_lock);
        return n;
}

void rt_seccomp_cache_clear(void) {
        pthread_mutex_lock(&cache_lock);
        while (cache_head) {
                struct cache_entry *e = cache_head;
                cache_head = e->next;
                free(e->prog.filter);
                free(e);
        }
        cache_len = 0;
        pthread_mutex_unlock(&cache_lock);
}

/* ---- the profile ---- */

static const struct {
        const char *name;
        uint32_t token;
} arches[] = {
        { "SCMP_ARCH_X86", SCMP_ARCH_X86 },         { "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64 },
        { "SCMP_ARCH_X32", SCMP_ARCH_X32 },         { "SCMP_ARCH_ARM", SCMP_ARCH_ARM },
        { "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64 }, { "SCMP_ARCH_MIPS", SCMP_ARCH_MIPS },
        { "SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64 },   { "SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32 },
        { "SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL },   { "SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64 },
        { "SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32 }, { "SCMP_ARCH_PPC", SCMP_ARCH_PPC },
        { "SCMP_ARCH_PPC64", SCMP_ARCH_PPC64 },     { "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE },
        { "SCMP_ARCH_S390", SCMP_ARCH_S390 },       { "SCMP_ARCH_S390X", SCMP_ARCH_S390X },
        { "SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64 },
};

static const struct {
        const char *name;
        enum scmp_compare op;
} ops[] = {
        { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT }, { "SCMP_CMP_LE", SCMP_CMP_LE },
        { "SCMP_CMP_EQ", SCMP_CMP_EQ }, { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
        { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static const struct {
        const char *name;
        unsigned flag;
} filter_flags[] = {
        { "SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC },
        { "SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG },
        { "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW },
#ifdef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        { "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV },
#endif
};

static int parse_action(const char *name, const json_t *errno_ret, uint32_t *ret, struct berr *err) {
        uint32_t e = json_is_integer(errno_ret) ? (uint32_t) json_integer_value(errno_ret) : EPERM;
        if (!name)
                return berr_set(err, BERR_INVALID, EINVAL, "seccomp: missing action");
        if (STREQ(name, "SCMP_ACT_ALLOW"))
                *ret = SCMP_ACT_ALLOW;
        else if (STREQ(name, "SCMP_ACT_ERRNO"))
                *ret = SCMP_ACT_ERRNO(e);
        else if (STREQ(name, "SCMP_ACT_KILL") || STREQ(name, "SCMP_ACT_KILL_THREAD"))
                *ret = SCMP_ACT_KILL_THREAD;
        else if (STREQ(name, "SCMP_ACT_KILL_PROCESS"))
                *ret = SCMP_ACT_KILL_PROCESS;
        else if (STREQ(name, "SCMP_ACT_TRAP"))
                *ret = SCMP_ACT_TRAP;
        else if (STREQ(name, "SCMP_ACT_TRACE"))
                *ret = SCMP_ACT_TRACE(e);
        else if (STREQ(name, "SCMP_ACT_LOG"))
                *ret = SCMP_ACT_LOG;
        else if (STREQ(name, "SCMP_ACT_NOTIFY"))
                return berr_set(err, BERR_NOT_IMPLEMENTED, EOPNOTSUPP, "seccomp: SCMP_ACT_NOTIFY is not supported");
        else
                return berr_set(err, BERR_INVALID, EINVAL, "seccomp: unknown action \"%s\"", name);
        return 0;
}

static int parse_arg(const json_t *a, struct scmp_arg_cmp *c, struct berr *err) {
        const char *op = json_string_value(json_object_get(a, "op"));
        json_t *index = json_object_get(a, "index");
        if (!op || !json_is_integer(index) || json_integer_value(index) < 0 || json_integer_value(index) > 5)
                return berr_set(err, BERR_INVALID, EINVAL, "seccomp: bad syscall argument condition");
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if (STREQ(ops[i].name, op)) {
                        *c = (struct scmp_arg_cmp){
                                .arg = (unsigned) json_integer_value(index),
                                .op = ops[i].op,
                                .datum_a = (scmp_datum_t) json_integer_value(json_object_get(a, "value")),
                                .datum_b = (scmp_datum_t) json_integer_value(json_object_get(a, "valueTwo")),
                        };
                        return 0;
                }
        return berr_set(err, BERR_INVALID, EINVAL, "seccomp: unknown operator \"%s\"", op);
}

/* One syscall group. Conditions on distinct arguments are ANDed in one rule; libseccomp
 * cannot AND two conditions on the same argument, so then each becomes its own rule (an
 * OR), as runc does. */
static int add_group(scmp_filter_ctx ctx, const json_t *g, uint32_t default_action, struct berr *err) {
        uint32_t action;
        int r = parse_action(json_string_value(json_object_get(g, "action")), json_object_get(g, "errnoRet"), &action, err);
        if (r < 0)
                return r;
        if (action == default_action)
                return 0;
        json_t *args = json_object_get(g, "args");
        size_t n_args = json_array_size(args);
        if (n_args > 6)
                return berr_set(err, BERR_INVALID, EINVAL, "seccomp: more than 6 argument conditions");
        struct scmp_arg_cmp conds[6];
        bool seen[6] = { false }, repeated = false;
        for (size_t i = 0; i < n_args; i++) {
                r = parse_arg(json_array_get(args, i), &conds[i], err);
                if (r < 0)
                        return r;
                repeated |= seen[conds[i].arg];
                seen[conds[i].arg] = true;
        }
        size_t i;
        json_t *name;
        json_array_foreach(json_object_get(g, "names"), i, name) {
                const char *s = json_string_value(name);
                int nr = s ? seccomp_syscall_resolve_name(s) : __NR_SCMP_ERROR;
                if (nr == __NR_SCMP_ERROR)
                        continue; /* unknown to this libseccomp/arch: nothing to filter */
                if (!repeated)
                        r = seccomp_rule_add_array(ctx, action, nr, (unsigned) n_args, n_args ? conds : NULL);
                else
                        for (size_t k = 0; r == 0 && k < n_args; k++)
                                r = seccomp_rule_add_array(ctx, action, nr, 1, &conds[k]);
                if (r < 0) {
                        errno = -r;
                        return berr_sys(err, BERR_INVALID, "seccomp: add rule for %s", s);
                }
        }
        return 0;
}

static void seccomp_releasep(scmp_filter_ctx *c) {
        if (*c)
                seccomp_release(*c);
}

#define BINTREE_MIN_SYSCALLS 8

static size_t syscall_names(const json_t *profile) {
        size_t i, n = 0;
        json_t *g;
        json_array_foreach(json_object_get(profile, "syscalls"), i, g) {
                n += json_array_size(json_object_get(g, "names"));
        }
        return n;
}

static int compile(const json_t *profile, bool bintree, struct rt_seccomp *out, struct berr *err) {
        uint32_t def;
        int r = lsc_require(err);
        if (r < 0)
                return r;
        r = parse_action(json_string_value(json_object_get(profile, "defaultAction")),
                             json_object_get(profile, "defaultErrnoRet"), &def, err);
        if (r < 0)
                return r;
        if (json_is_string(json_object_get(profile, "listenerPath")))
                return berr_set(err, BERR_NOT_IMPLEMENTED, EOPNOTSUPP, "seccomp: listenerPath is not supported");
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(def);
        if (!ctx)
                return berr_set(err, BERR_INVALID, EINVAL, "seccomp: cannot initialise a filter");
        /* A binary tree sorted by syscall number, not libseccomp's default chain of tests:
         * with Docker's default profile (about 1,000 instructions) the kernel's load of the
         * chain took ~1.1 ms of every start and exec here (most of it the action cache it
         * computes by running the filter for each syscall number), the tree ~0.4 ms, and
         * every syscall the container makes walks O(log n) tests instead of O(n). As runc
         * does (opencontainers/runc#3405), only with enough syscalls to gain from it: with
         * no rules at all, libseccomp before 2.5.4 ignored the default action
         * (seccomp/libseccomp#370). A library without the attribute keeps the chain. */
        if (bintree)
                (void) seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(profile, "architectures"), i, v) {
                const char *a = json_string_value(v);
                uint32_t token = 0;
                for (size_t k = 0; a && k < ELEMENTSOF(arches); k++)
                        if (STREQ(arches[k].name, a))
                                token = arches[k].token;
                if (!token)
                        return berr_set(err, BERR_INVALID, EINVAL, "seccomp: unknown architecture \"%s\"", a ? a : "");
                r = seccomp_arch_add(ctx, token);
                if (r < 0 && r != -EEXIST) {
                        errno = -r;
                        return berr_sys(err, BERR_INVALID, "seccomp: add architecture %s", a);
                }
        }
        json_array_foreach(json_object_get(profile, "flags"), i, v) {
                const char *f = json_string_value(v);
                bool known = false;
                for (size_t k = 0; f && k < ELEMENTSOF(filter_flags); k++)
                        if (STREQ(filter_flags[k].name, f)) {
                                out->flags |= filter_flags[k].flag;
                                known = true;
                        }
                if (!known)
                        return berr_set(err, BERR_INVALID, EINVAL, "seccomp: unknown flag \"%s\"", f ? f : "");
        }
        json_array_foreach(json_object_get(profile, "syscalls"), i, v) {
                r = add_group(ctx, v, def, err);
                if (r < 0)
                        return r;
        }
        /* libseccomp 2.5 exports to an fd only: a memfd keeps it in memory. */
        _cleanup_close_ int mfd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
        if (mfd < 0)
                return berr_sys(err, BERR_INTERNAL, "seccomp: memfd_create");
        r = seccomp_export_bpf(ctx, mfd);
        if (r < 0) {
                errno = -r;
                return berr_sys(err, BERR_INTERNAL, "seccomp: export the filter");
        }
        off_t size = lseek(mfd, 0, SEEK_END);
        if (size <= 0 || (size_t) size > MAX_BPF_BYTES || size % sizeof(struct sock_filter))
                return berr_set(err, BERR_INVALID, E2BIG, "seccomp: the compiled filter has a bad size (%lld bytes)",
                                (long long) size);
        out->filter = malloc((size_t) size);
        if (!out->filter)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (pread(mfd, out->filter, (size_t) size, 0) != size) {
                free(out->filter);
                out->filter = NULL;
                return berr_sys(err, BERR_INTERNAL, "seccomp: read the filter back");
        }
        out->len = (unsigned short) (size / sizeof(struct sock_filter));
        return 0;
}

/* ---- the cache ---- */

static int profile_key(const json_t *profile, char key[65], struct berr *err) {
        _cleanup_free_ char *text = json_dumps(profile, JSON_COMPACT | JSON_SORT_KEYS);
        if (!text)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        /* The same JSON compiles differently with another libseccomp (or another choice of
         * layout, "bintree" since the binary tree): part of the key. */
        /* The version the headers describe: asking the library would load it even when the
         * cache answers. Debian ships headers and library from one source package. */
        const struct scmp_version v = { SCMP_VER_MAJOR, SCMP_VER_MINOR, SCMP_VER_MICRO }, *ver = &v;
        _cleanup_free_ char *keyed = NULL;
        if (asprintf(&keyed, "libseccomp %u.%u.%u bintree\n%s", ver ? ver->major : 0, ver ? ver->minor : 0,
                     ver ? ver->micro : 0, text) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        hash128_hex(keyed, strlen(keyed), key);
        return 0;
}

/* Disk cache file: a 4-byte flags word, then the BPF program. */
static bool disk_load(const char *dir, const char *key, struct rt_seccomp *out) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%s.bpf", dir, key) < 0)
                return false;
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        struct berr e;
        if (fs_read_file(AT_FDCWD, path, MAX_BPF_BYTES + 4, &data, &len, &e) < 0)
                return false;
        if (len <= 4 || (len - 4) % sizeof(struct sock_filter))
                return false;
        out->filter = malloc(len - 4);
        if (!out->filter)
                return false;
        memcpy(&out->flags, data, 4);
        memcpy(out->filter, data + 4, len - 4);
        out->len = (unsigned short) ((len - 4) / sizeof(struct sock_filter));
        return true;
}

static void disk_store(const char *dir, const char *key, const struct rt_seccomp *p) {
        size_t len = 4 + p->len * sizeof(struct sock_filter);
        _cleanup_free_ char *data = malloc(len);
        _cleanup_free_ char *name = NULL;
        if (!data || asprintf(&name, "%s/%s.bpf", dir, key) < 0)
                return;
        memcpy(data, &p->flags, 4);
        memcpy(data + 4, p->filter, len - 4);
        struct berr e;
        if (fs_write_atomic(AT_FDCWD, name, data, len, 0600, &e) < 0)
                log_debug("seccomp cache: %s", e.msg); /* a cache: compiling again next time is fine */
}

int rt_seccomp_compile(const json_t *profile, const struct rt_seccomp **ret, bool *ret_cached, struct berr *err) {
        char key[65];
        int r = profile_key(profile, key, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&cache_lock);
        for (struct cache_entry *e = cache_head; e; e = e->next)
                if (STREQ(e->prog.key, key)) {
                        pthread_mutex_unlock(&cache_lock);
                        *ret = &e->prog;
                        if (ret_cached)
                                *ret_cached = true;
                        return 0;
                }
        _cleanup_free_ char *dir = cache_dir ? strdup(cache_dir) : NULL;
        pthread_mutex_unlock(&cache_lock);

        struct cache_entry *e = calloc(1, sizeof(*e));
        if (!e)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        bool from_disk = dir && disk_load(dir, key, &e->prog);
        if (!from_disk) {
                /* The tree is longer than the chain: one that no longer fits the kernel's
                 * limit is made as a chain. */
                bool bintree = syscall_names(profile) >= BINTREE_MIN_SYSCALLS;
                r = compile(profile, bintree, &e->prog, err);
                if (r < 0 && bintree && err->errnum == E2BIG)
                        r = compile(profile, false, &e->prog, err);
                if (r < 0) {
                        free(e);
                        return r;
                }
                if (dir)
                        disk_store(dir, key, &e->prog);
        }
        snprintf(e->prog.key, sizeof(e->prog.key), "%s", key);

        pthread_mutex_lock(&cache_lock);
        if (!from_disk)
                compile_count++;
        if (cache_len >= MAX_CACHED) {
                /* Bounded: past the limit the program is handed out uncached and kept for
                 * the process's life (a shim sees one or two profiles; this is a guard). */
                pthread_mutex_unlock(&cache_lock);
                *ret = &e->prog;
                if (ret_cached)
                        *ret_cached = from_disk;
                return 0;
        }
        e->next = cache_head;
        cache_head = e;
        cache_len++;
        pthread_mutex_unlock(&cache_lock);
        *ret = &e->prog;
        if (ret_cached)
                *ret_cached = from_disk;
        return 0;
}

int rt_seccomp_load(const struct rt_seccomp *p, struct berr *err) {
        struct sock_fprog prog = { .len = p->len, .filter = p->filter };
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->flags, &prog) < 0)
                return berr_sys(err, BERR_INTERNAL, "load seccomp filter");
        return 0;
}
