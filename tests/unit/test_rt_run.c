/* test_rt_run.c - real containers through the in-process runtime: a busybox rootfs built
 * in a temp dir, the spec dockerd wrote for `docker run busybox sleep` (the fixture) with
 * its root, cgroup and args rewritten. Needs root; skipped otherwise. Cleans up its
 * cgroups (/<cgroup>/berth-test-<pid>), mounts (none survive: they live in the
 * containers' mount namespaces), temp dir and processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "runtime/caps.h"
#include "runtime/runtime.h"
#include "runtime/runtime_int.h"

#define FIXTURE "tests/fixtures/oci-runtime-spec/busybox-sleep.config.json"

static char tmpdir[64];
static char rootfs[128];
static char cg_parent[64];
static int counter;

static const char *const applets[] = { "sh", "echo", "cat", "id", "ls", "mkdir", "hostname", "sleep", "chown",
                                       "touch", "grep", "wc", "true", "test", "tr", "tty", "stty" };

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void copy_file(const char *from, const char *to, mode_t mode) {
        int in = open(from, O_RDONLY | O_CLOEXEC);
        assert_true(in >= 0);
        int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        assert_true(out >= 0);
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof(buf))) > 0)
                assert_int_equal(write(out, buf, (size_t) n), n);
        close(in);
        close(out);
}

static int group_setup(void **state) {
        if (geteuid() != 0)
                return 0;
        snprintf(tmpdir, sizeof(tmpdir), "/var/tmp/berth-rt-XXXXXX");
        if (!mkdtemp(tmpdir))
                return -1;
        snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmpdir);
        char p[256];
        mkdir(rootfs, 0755);
        static const char *const dirs[] = { "bin", "etc", "proc", "sys", "dev", "tmp", "root" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                snprintf(p, sizeof(p), "%s/%s", rootfs, dirs[i]);
                mkdir(p, 0755);
        }
        snprintf(p, sizeof(p), "%s/bin/busybox", rootfs);
        copy_file("/bin/busybox", p, 0755);
        for (size_t i = 0; i < ELEMENTSOF(applets); i++) {
                snprintf(p, sizeof(p), "%s/bin/%s", rootfs, applets[i]);
                if (symlink("busybox", p) < 0)
                        return -1;
        }
        snprintf(p, sizeof(p), "%s/etc/passwd", rootfs);
        write_file(p, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
        snprintf(p, sizeof(p), "%s/etc/group", rootfs);
        write_file(p, "root:x:0:\nnogroup:x:65534:\n");
        snprintf(cg_parent, sizeof(cg_parent), "berth-test-%d", (int) getpid());
        return 0;
}

static void rm_rf(const char *path) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", path);
        if (system(cmd) != 0)
                fprintf(stderr, "cleanup of %s failed\n", path);
}

static int group_teardown(void **state) {
        if (geteuid() != 0)
                return 0;
        DIR *d = opendir("/sys/fs/cgroup");
        struct dirent *de;
        while (d && (de = readdir(d))) {
                char p[512];
                snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/%s", de->d_name, cg_parent);
                (void) rmdir(p); /* only ours, only when empty */
        }
        if (d)
                closedir(d);
        if (tmpdir[0])
                rm_rf(tmpdir);
        return 0;
}

/* The fixture, pointed at our rootfs and cgroup, without the hooks and the bind mounts of
 * files that only existed on the machine that generated it. */
static json_t *make_spec(const char *id, const char *const *args) {
        json_error_t jerr;
        json_t *spec = json_load_file(FIXTURE, 0, &jerr);
        if (!spec)
                fail_msg("%s: %s", FIXTURE, jerr.text);
        json_object_del(spec, "hooks");
        json_object_set_new(json_object_get(spec, "root"), "path", json_string(rootfs));
        json_object_set_new(spec, "hostname", json_string("rt-test-host"));
        char cg[128];
        snprintf(cg, sizeof(cg), "/%s/%s", cg_parent, id);
        json_object_set_new(json_object_get(spec, "linux"), "cgroupsPath", json_string(cg));
        json_t *mounts = json_object_get(spec, "mounts");
        for (size_t i = json_array_size(mounts); i-- > 0;) {
                const char *type = json_string_value(json_object_get(json_array_get(mounts, i), "type"));
                if (type && strcmp(type, "bind") == 0)
                        json_array_remove(mounts, i);
        }
        json_t *a = json_array();
        for (size_t i = 0; args[i]; i++)
                json_array_append_new(a, json_string(args[i]));
        json_object_set_new(json_object_get(spec, "process"), "args", a);
        return spec;
}

struct result {
        int create_r, start_r;
        char msg[BERR_MSG_MAX];
        int status; /* waitpid status */
        bool oom;
        char out[8192], err[8192];
        char cg_dir[256]; /* memory hierarchy dir, to check it is gone */
};

static void drain(int out, int err, struct result *res) {
        size_t no = 0, ne = 0;
        struct pollfd p[2] = { { out, POLLIN, 0 }, { err, POLLIN, 0 } };
        int open_fds = 2;
        while (open_fds > 0) {
                if (poll(p, 2, 30000) <= 0)
                        fail_msg("container output: timeout");
                for (int i = 0; i < 2; i++) {
                        if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
                                continue;
                        char *buf = i == 0 ? res->out : res->err;
                        size_t *n = i == 0 ? &no : &ne;
                        char tmp[4096];
                        ssize_t r = read(p[i].fd, tmp, sizeof(tmp));
                        if (r <= 0) {
                                p[i].fd = -1;
                                open_fds--;
                                continue;
                        }
                        size_t room = sizeof(res->out) - 1 - *n;
                        size_t take = (size_t) r < room ? (size_t) r : room;
                        memcpy(buf + *n, tmp, take);
                        *n += take;
                        buf[*n] = '\0';
                }
        }
}

/* rt_container_create_ex's start_early for the next run_spec (the shim's autostart). */
static bool start_early;

/* create + start + collect output + wait + destroy. */
static void run_spec(const char *id, json_t *spec, struct result *res) {
        memset(res, 0, sizeof(*res));
        int po[2], pe[2];
        assert_int_equal(pipe2(po, O_CLOEXEC), 0);
        assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
        struct rt_stdio io = { .in = -1, .out = po[1], .err = pe[1] };
        struct berr err = { 0 };
        struct rt_container *c = NULL;
        snprintf(res->cg_dir, sizeof(res->cg_dir), "/sys/fs/cgroup/memory/%s/%s", cg_parent, id);
        res->create_r = rt_container_create_ex(id, tmpdir, spec, &io, start_early, &c, &err);
        start_early = false;
        close(po[1]);
        close(pe[1]);
        if (res->create_r < 0) {
                snprintf(res->msg, sizeof(res->msg), "%s", err.msg);
                close(po[0]);
                close(pe[0]);
                return;
        }
        res->start_r = rt_container_start(c, &err);
        if (res->start_r < 0)
                snprintf(res->msg, sizeof(res->msg), "%s", err.msg);
        drain(po[0], pe[0], res);
        close(po[0]);
        close(pe[0]);
        assert_int_equal(waitpid(rt_container_pid(c), &res->status, 0), rt_container_pid(c));
        res->oom = rt_container_oom_killed(c);
        if (rt_container_destroy(c, &err) < 0)
                fail_msg("destroy: %s", err.msg);
        rt_container_free(c);
        struct stat st;
        assert_int_equal(stat(res->cg_dir, &st), -1); /* destroy removed the cgroup */
}

static void run_args(const char *const *args, void (*edit)(json_t *spec), struct result *res) {
        if (geteuid() != 0)
                skip();
        char id[32];
        snprintf(id, sizeof(id), "c%d", ++counter);
        json_t *spec = make_spec(id, args);
        if (edit)
                edit(spec);
        run_spec(id, spec, res);
        json_decref(spec);
}

#define ASSERT_RAN(res)                                                                                       \
        do {                                                                                                  \
                if ((res).create_r < 0 || (res).start_r < 0)                                                  \
                        fail_msg("create %d start %d: %s", (res).create_r, (res).start_r, (res).msg);         \
        } while (0)

static int exit_code(const struct result *r) {
        return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 128 + WTERMSIG(r->status);
}

static void test_rt_run_echo_hello(void **state) {
        struct result r;
        run_args((const char *const[]){ "echo", "hello", NULL }, NULL, &r);
        ASSERT_RAN(r);
        assert_string_equal(r.out, "hello\n");
        assert_int_equal(exit_code(&r), 0);
}

static void test_rt_run_exit_code(void **state) {
        struct result r;
        run_args((const char *const[]){ "sh", "-c", "exit 3", NULL }, NULL, &r);
        ASSERT_RAN(r);
        assert_int_equal(exit_code(&r), 3);
}

static void test_rt_run_hostname_and_pid1(void **state) {
        struct result r;
        run_args((const char *const[]){ "sh", "-c", "hostname; echo $$", NULL }, NULL, &r);
        ASSERT_RAN(r);
        assert_string_equal(r.out, "rt-test-host\n1\n");
}

static void test_rt_run_default_capability_bounding_set(void **state) {
        struct result r;
        run_args((const char *const[]){ "grep", "CapBnd", "/proc/self/status", NULL }, NULL, &r);
        ASSERT_RAN(r);
        uint64_t want = 0;
        for (size_t i = 0; i < caps_docker_default_count; i++)
                want |= UINT64_C(1) << caps_from_name(caps_docker_default[i]);
        char line[64];
        snprintf(line, sizeof(line), "CapBnd:\t%016llx\n", (unsigned long long) want);
        assert_string_equal(r.out, line);
}

static void drop_all_caps(json_t *spec) {
        json_t *caps = json_object_get(json_object_get(spec, "process"), "capabilities");
        const char *key;
        json_t *v;
        json_object_foreach(caps, key, v) json_array_clear(v);
}

static void test_rt_run_cap_drop_all_makes_chown_fail(void **state) {
        struct result r;
        run_args((const char *const[]){ "sh", "-c", "touch /f && chown 65534 /f", NULL }, drop_all_caps, &r);
        ASSERT_RAN(r);
        assert_int_not_equal(exit_code(&r), 0);
        assert_non_null(strstr(r.err, "Operation not permitted"));
}

static void privileged(json_t *spec) {
        json_t *caps = json_object_get(json_object_get(spec, "process"), "capabilities");
        const char *key;
        json_t *v;
        json_object_foreach(caps, key, v) {
                json_array_clear(v);
                for (int i = 0; i <= caps_last(); i++)
                        json_array_append_new(v, json_string(caps_to_name(i)));
        }
}

static void test_rt_run_privileged_caps_beyond_host_are_dropped(void **state) {
        struct result r;
        run_args((const char *const[]){ "grep", "CapEff", "/proc/self/status", NULL }, privileged, &r);
        ASSERT_RAN(r);
        assert_non_null(strstr(r.out, "CapEff:"));
}

static void as_nobody(json_t *spec) {
        json_t *user = json_object_get(json_object_get(spec, "process"), "user");
        json_object_set_new(user, "uid", json_integer(65534));
        json_object_set_new(user, "gid", json_integer(65534));
        json_object_set_new(user, "additionalGids", json_array());
}

static void test_rt_run_user_nobody(void **state) {
        struct result r;
        run_args((const char *const[]){ "sh", "-c", "id -u; id -g", NULL }, as_nobody, &r);
        ASSERT_RAN(r);
        assert_string_equal(r.out, "65534\n65534\n");
}

static void readonly_root(json_t *spec) {
        json_object_set_new(json_object_get(spec, "root"), "readonly", json_true());
}

static void userns_edit(json_t *spec) {
        json_t *lnx = json_object_get(spec, "linux");
        json_array_append_new(json_object_get(lnx, "namespaces"), json_pack("{s:s}", "type", "user"));
        json_object_set_new(lnx, "uidMappings", json_pack("[{s:i,s:i,s:i}]", "containerID", 0, "hostID", 100000, "size", 65536));
        json_object_set_new(lnx, "gidMappings", json_pack("[{s:i,s:i,s:i}]", "containerID", 0, "hostID", 100000, "size", 65536));
        json_object_del(json_object_get(lnx, "sysctl"), "net.ipv4.ping_group_range"); /* dockerd leaves it out */
}

/* A user namespace: its root is the mapped uid, the init is pid 1 of a pid namespace the
 * user namespace owns (proc mounts), and the host's root-owned files are nobody's. The
 * caller must be a child subreaper (as the shim is): the init is forked by the first child. */
static void test_rt_run_user_namespace(void **state) {
        if (geteuid() != 0)
                skip();
        assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L), 0);
        assert_int_equal(chmod(tmpdir, 0711), 0); /* the mapped root must reach the rootfs */
        struct result r;
        run_args((const char *const[]){ "sh", "-c", "id -u; cat /proc/self/uid_map; echo $$; ls -ln /bin/busybox",
                                        NULL },
                 userns_edit, &r);
        ASSERT_RAN(r);
        char want[256];
        char *lines[4] = { 0 };
        char *save = NULL;
        lines[0] = strtok_r(r.out, "\n", &save);
        for (int i = 1; i < 4; i++)
                lines[i] = strtok_r(NULL, "\n", &save);
        assert_string_equal(lines[0], "0");
        snprintf(want, sizeof(want), "%10d %10d %10d", 0, 100000, 65536);
        assert_string_equal(lines[1], want);
        assert_string_equal(lines[2], "1");
        assert_non_null(lines[3]);
        assert_non_null(strstr(lines[3], " 65534 ")); /* the host's root is not mapped */
        assert_int_equal(exit_code(&r), 0);
}

static void test_rt_run_readonly_root_refuses_writes(void **state) {
        struct result r;
        run_args((const char *const[]){ "touch", "/x", NULL }, readonly_root, &r);
        ASSERT_RAN(r);
        assert_int_not_equal(exit_code(&r), 0);
        assert_non_null(strstr(r.err, "Read-only file system"));
}

static void test_rt_run_masked_and_readonly_paths(void **state) {
        struct result r;
        run_args((const char *const[]){ "sh", "-c",
                                        "wc -c < /proc/timer_list; ls /proc/acpi | wc -l; "
                                        "echo 1 > /proc/sys/kernel/domainname || echo ro",
                                        NULL },
                 NULL, &r);
        ASSERT_RAN(r);
        /* /proc/kcore is not in this kernel; /proc/timer_list (file) and /proc/acpi (dir) are. */
        if (strcmp(r.out, "0\n0\nro\n") != 0)
                fail_msg("out %s err %s", r.out, r.err);
}

static void test_rt_run_not_found_is_docker_error_and_no_process(void **state) {
        struct result r;
        run_args((const char *const[]){ "nope", NULL }, NULL, &r);
        assert_true(r.create_r < 0 || r.start_r < 0);
        assert_string_equal(r.msg, "exec: \"nope\": executable file not found in $PATH");
        struct stat st;
        assert_int_equal(stat(r.cg_dir, &st), -1); /* no cgroup, so no process left */
}

static void test_rt_run_directory_is_permission_denied(void **state) {
        struct result r;
        run_args((const char *const[]){ "/etc", NULL }, NULL, &r);
        assert_true(r.create_r < 0 || r.start_r < 0);
        assert_string_equal(r.msg, "exec: \"/etc\": permission denied");
}

/* START sent behind CGROUP: the process runs as soon as it is ready, start only waits for
 * its execve; its output and exit are the same, and so is an execve's failure. */
static void test_rt_run_start_early(void **state) {
        struct result r;
        start_early = true;
        run_args((const char *const[]){ "sh", "-c", "echo out; echo err >&2; exit 4", NULL }, NULL, &r);
        ASSERT_RAN(r);
        assert_string_equal(r.out, "out\n");
        assert_string_equal(r.err, "err\n");
        assert_int_equal(exit_code(&r), 4);
        /* an execve that fails after READY (START already waiting): the error, not a start */
        char bad[200];
        snprintf(bad, sizeof(bad), "%s/bin/not-a-program", rootfs);
        FILE *f = fopen(bad, "w");
        assert_non_null(f);
        fputs("\x01\x02 not an executable format\n", f);
        fclose(f);
        assert_int_equal(chmod(bad, 0755), 0);
        start_early = true;
        run_args((const char *const[]){ "/bin/not-a-program", NULL }, NULL, &r);
        assert_int_equal(r.create_r, 0);
        assert_true(r.start_r < 0);
        assert_string_equal(r.msg, "exec /bin/not-a-program: exec format error");
        assert_int_equal(unlink(bad), 0);
}

static int leaked_fd = -1;
static void cwd_through_leaked_fd(json_t *spec) {
        char cwd[64];
        snprintf(cwd, sizeof(cwd), "/proc/self/fd/%d", leaked_fd);
        json_object_set_new(json_object_get(spec, "process"), "cwd", json_string(cwd));
}

static void test_rt_run_cwd_outside_root_refused(void **state) {
        if (geteuid() != 0)
                skip();
        leaked_fd = open("/", O_RDONLY | O_DIRECTORY); /* deliberately inheritable */
        assert_true(leaked_fd >= 0);
        struct result r;
        run_args((const char *const[]){ "ls", NULL }, cwd_through_leaked_fd, &r);
        close(leaked_fd);
        assert_true(r.create_r < 0);
        assert_non_null(strstr(r.msg, "cwd"));
}

static const char *cwd_value;
static void set_cwd(json_t *spec) {
        json_object_set_new(json_object_get(spec, "process"), "cwd", json_string(cwd_value));
}
static void set_cwd_readonly_root(json_t *spec) {
        set_cwd(spec);
        readonly_root(spec);
}

static void test_rt_run_missing_cwd_is_created(void **state) {
        struct result r;
        cwd_value = "/new/dir";
        run_args((const char *const[]){ "sh", "-c", "pwd; ls -ld /new/dir | cut -c1-10", NULL }, set_cwd, &r);
        ASSERT_RAN(r);
        assert_string_equal(r.out, "/new/dir\ndrwxr-xr-x\n");
        /* even when the root becomes read-only afterwards (dockerd creates it before) */
        cwd_value = "/other/dir";
        run_args((const char *const[]){ "sh", "-c", "pwd", NULL }, set_cwd_readonly_root, &r);
        ASSERT_RAN(r);
        assert_string_equal(r.out, "/other/dir\n");
}

static void test_rt_run_missing_cwd_through_symlink_is_created_inside_the_root(void **state) {
        if (geteuid() != 0)
                skip();
        char link[256], outside[256];
        snprintf(link, sizeof(link), "%s/escape", rootfs);
        snprintf(outside, sizeof(outside), "%s/outside-%d", tmpdir, (int) getpid());
        assert_int_equal(symlink(outside, link), 0); /* absolute: means <root><outside> inside */
        struct result r;
        cwd_value = "/escape/sub";
        run_args((const char *const[]){ "sh", "-c", "pwd", NULL }, set_cwd, &r);
        unlink(link);
        ASSERT_RAN(r);
        struct stat st;
        assert_int_equal(stat(outside, &st), -1); /* nothing created outside the root */
        char inside[512];
        snprintf(inside, sizeof(inside), "%s%s/sub", rootfs, outside);
        assert_int_equal(stat(inside, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
}

static void test_rt_run_home_from_passwd(void **state) {
        struct result r;
        run_args((const char *const[]){ "sh", "-c", "echo $HOME", NULL }, NULL, &r);
        ASSERT_RAN(r);
        assert_string_equal(r.out, "/root\n");
        run_args((const char *const[]){ "sh", "-c", "echo $HOME", NULL }, as_nobody, &r);
        ASSERT_RAN(r);
        assert_string_equal(r.out, "/nonexistent\n");
}

static void test_rt_run_no_fd_leaks(void **state) {
        if (geteuid() != 0)
                skip();
        int leak = open("/etc/hostname", O_RDONLY); /* inheritable on purpose */
        struct result r;
        run_args((const char *const[]){ "ls", "/proc/self/fd", NULL }, NULL, &r);
        close(leak);
        ASSERT_RAN(r);
        assert_string_equal(r.out, "0\n1\n2\n3\n");
}

static void memory_32m(json_t *spec) {
        json_t *res = json_object_get(json_object_get(spec, "linux"), "resources");
        json_t *mem = json_object_get(res, "memory");
        json_object_set_new(mem, "limit", json_integer(32 * 1024 * 1024));
        json_object_set_new(mem, "swap", json_integer(32 * 1024 * 1024));
}

static void test_rt_run_memory_limit_oom_killed(void **state) {
        struct result r;
        run_args((const char *const[]){ "sh", "-c", "x=a; while true; do x=$x$x; done", NULL }, memory_32m, &r);
        ASSERT_RAN(r);
        assert_true(WIFSIGNALED(r.status));
        assert_int_equal(WTERMSIG(r.status), SIGKILL);
        assert_true(r.oom);
}

static void pids_20(json_t *spec) {
        json_t *res = json_object_get(json_object_get(spec, "linux"), "resources");
        json_t *pids = json_object();
        json_object_set_new(pids, "limit", json_integer(20));
        json_object_set_new(res, "pids", pids);
}

static void test_rt_run_pids_limit_stops_fork_bomb(void **state) {
        struct result r;
        run_args((const char *const[]){ "sh", "-c",
                                        "i=0; while [ $i -lt 40 ]; do sleep 2 & i=$((i+1)); done; "
                                        "cat /sys/fs/cgroup/pids/pids.max",
                                        NULL },
                 pids_20, &r);
        ASSERT_RAN(r);
        assert_non_null(strstr(r.err, "fork"));
}

static void test_rt_run_exec_joins_namespaces(void **state) {
        if (geteuid() != 0)
                skip();
        char id[32];
        snprintf(id, sizeof(id), "c%d", ++counter);
        json_t *spec = make_spec(id, (const char *const[]){ "sleep", "30", NULL });
        struct rt_stdio io = { .in = -1, .out = -1, .err = -1 };
        struct berr err = { 0 };
        struct rt_container *c = NULL;
        if (rt_container_create(id, tmpdir, spec, &io, &c, &err) < 0 || rt_container_start(c, &err) < 0)
                fail_msg("%s", err.msg);

        int po[2];
        assert_int_equal(pipe2(po, O_CLOEXEC), 0);
        struct rt_stdio eio = { .in = -1, .out = po[1], .err = po[1] };
        json_t *proc = json_deep_copy(json_object_get(spec, "process"));
        json_t *args = json_array();
        json_array_append_new(args, json_string("sh"));
        json_array_append_new(args, json_string("-c"));
        json_array_append_new(args, json_string("hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$"));
        json_object_set_new(proc, "args", args);
        pid_t pid;
        int pidfd;
        int r = rt_container_exec(c, proc, &eio, &pid, &pidfd, NULL, &err);
        close(po[1]);
        if (r < 0)
                fail_msg("exec: %s", err.msg);
        char out[1024] = "";
        size_t n = 0;
        ssize_t k;
        while ((k = read(po[0], out + n, sizeof(out) - 1 - n)) > 0)
                n += (size_t) k;
        out[n] = '\0';
        close(po[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        close(pidfd);
        assert_string_equal(strtok(out, "\n"), "rt-test-host");
        assert_string_equal(strtok(NULL, "\n"), "sleep 30 ");
        const char *self = strtok(NULL, "\n");
        assert_non_null(self);
        assert_true(atoi(self) > 1); /* a pid of the container's namespace, not the host's */
        assert_true(atoi(self) < 100);

        /* With a TTY: a pty of the container's own devpts, handed back as the master. */
        {
                json_object_set_new(proc, "args", json_pack("[s, s, s]", "sh", "-c", "tty; stty size"));
                json_object_set_new(proc, "terminal", json_true());
                struct rt_stdio tio = { .in = -1, .out = -1, .err = -1, .terminal = true, .console_in_container = true };
                int master = -1;
                r = rt_container_exec(c, proc, &tio, &pid, &pidfd, NULL, &err);
                assert_true(r < 0); /* a console needs somewhere to go */
                r = rt_container_exec(c, proc, &tio, &pid, &pidfd, &master, &err);
                if (r < 0)
                        fail_msg("exec with a tty: %s", err.msg);
                assert_true(master >= 0);
                char tout[256] = "";
                size_t tn = 0;
                while ((k = read(master, tout + tn, sizeof(tout) - 1 - tn)) > 0)
                        tn += (size_t) k; /* EIO once the process is gone */
                tout[tn] = '\0';
                close(master);
                assert_int_equal(waitpid(pid, &status, 0), pid);
                close(pidfd);
                assert_int_equal(WEXITSTATUS(status), 0);
                assert_non_null(strstr(tout, "/dev/pts/"));
                assert_null(strstr(tout, "not a tty"));
                json_object_set_new(proc, "terminal", json_false());
        }

        /* An unknown command in exec: same wording, nothing left running. */
        json_object_set_new(proc, "args", json_pack("[s]", "nope"));
        r = rt_container_exec(c, proc, &io, &pid, &pidfd, NULL, &err);
        assert_true(r < 0);
        assert_string_equal(err.msg, "exec: \"nope\": executable file not found in $PATH");
        json_decref(proc);

        assert_int_equal(rt_container_kill(c, SIGKILL, false, &err), 0);
        assert_int_equal(waitpid(rt_container_pid(c), &status, 0), rt_container_pid(c));
        assert_false(rt_container_oom_killed(c));
        if (rt_container_destroy(c, &err) < 0)
                fail_msg("destroy: %s", err.msg);
        rt_container_free(c);
        char dir[256];
        struct stat st;
        snprintf(dir, sizeof(dir), "/sys/fs/cgroup/pids/%s/%s", cg_parent, id);
        assert_int_equal(stat(dir, &st), -1);
        json_decref(spec);
}

/* A read-only bind whose destination goes through a symlink that points at a host path:
 * it must land inside the rootfs, never on the host path. */
static char escape_dst[256];
static void bind_through_symlink(json_t *spec) {
        json_t *m = json_pack("{s:s, s:s, s:s, s:[sss]}", "destination", "/escape/mnt", "type", "bind", "source",
                              escape_dst, "options", "rbind", "ro", "rprivate");
        json_array_append_new(json_object_get(spec, "mounts"), m);
}

static void test_rt_run_bind_mount_ro_through_symlink_stays_in_root(void **state) {
        if (geteuid() != 0)
                skip();
        char data[256], link[256], p[512];
        snprintf(data, sizeof(data), "%s/data", tmpdir);
        mkdir(data, 0755);
        snprintf(p, sizeof(p), "%s/hello.txt", data);
        write_file(p, "data\n");
        snprintf(escape_dst, sizeof(escape_dst), "%s", data);
        snprintf(link, sizeof(link), "%s/escape", rootfs);
        unlink(link);
        assert_int_equal(symlink(tmpdir, link), 0); /* absolute host path: means <rootfs><tmpdir> inside */
        struct result r;
        run_args((const char *const[]){ "sh", "-c", "cat /escape/mnt/hello.txt; touch /escape/mnt/new || echo ro", NULL },
                 bind_through_symlink, &r);
        ASSERT_RAN(r);
        assert_string_equal(r.out, "data\nro\n");
        struct stat st;
        snprintf(p, sizeof(p), "%s/mnt", tmpdir);
        assert_int_equal(stat(p, &st), -1); /* nothing created on the host side */
        snprintf(p, sizeof(p), "%s%s/mnt", rootfs, tmpdir);
        assert_int_equal(stat(p, &st), 0); /* the mountpoint was made inside the rootfs */
        unlink(link);
}

static void test_rt_run_terminal(void **state) {
        if (geteuid() != 0)
                skip();
        int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        assert_true(master >= 0);
        assert_int_equal(grantpt(master), 0);
        assert_int_equal(unlockpt(master), 0);
        int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
        assert_true(slave >= 0);
        char id[32];
        snprintf(id, sizeof(id), "c%d", ++counter);
        json_t *spec = make_spec(id, (const char *const[]){ "sh", "-c",
                                                             "test -t 0 && test -t 1 && echo tty; "
                                                             "test -c /dev/console && echo console; echo $$",
                                                             NULL });
        struct rt_stdio io = { .in = slave, .out = slave, .err = slave, .terminal = true };
        struct berr err = { 0 };
        struct rt_container *c = NULL;
        if (rt_container_create(id, tmpdir, spec, &io, &c, &err) < 0 || rt_container_start(c, &err) < 0)
                fail_msg("%s", err.msg);
        close(slave);
        char out[1024] = "";
        size_t n = 0;
        ssize_t k;
        while ((k = read(master, out + n, sizeof(out) - 1 - n)) > 0) /* EIO once the slave is gone */
                n += (size_t) k;
        out[n] = '\0';
        close(master);
        int status;
        assert_int_equal(waitpid(rt_container_pid(c), &status, 0), rt_container_pid(c));
        assert_int_equal(rt_container_destroy(c, &err), 0);
        rt_container_free(c);
        json_decref(spec);
        assert_string_equal(out, "tty\r\nconsole\r\n1\r\n");
}

/* runc's console: the init opens the pty on the container's devpts and hands the master
 * back; inside, `tty` is /dev/pts/0 (docker run -it), /dev/console is that slave, and a
 * size set on the master before the start is the one the process sees. */
static void test_rt_run_console_in_container(void **state) {
        if (geteuid() != 0)
                skip();
        char id[32];
        snprintf(id, sizeof(id), "c%d", ++counter);
        json_t *spec = make_spec(id, (const char *const[]){ "sh", "-c",
                                                             "tty; test -c /dev/console && echo console; "
                                                             "ls -1 /dev/pts; stty size; echo $$",
                                                             NULL });
        struct rt_stdio io = { .in = -1, .out = -1, .err = -1, .terminal = true, .console_in_container = true };
        struct berr err = { 0 };
        struct rt_container *c = NULL;
        if (rt_container_create(id, tmpdir, spec, &io, &c, &err) < 0)
                fail_msg("%s", err.msg);
        int master = rt_container_console(c);
        assert_true(master >= 0);
        struct winsize ws = { .ws_row = 33, .ws_col = 101 };
        assert_int_equal(ioctl(master, TIOCSWINSZ, &ws), 0);
        if (rt_container_start(c, &err) < 0)
                fail_msg("%s", err.msg);
        char out[1024] = "";
        size_t n = 0;
        ssize_t k;
        while ((k = read(master, out + n, sizeof(out) - 1 - n)) > 0) /* EIO once the slave is gone */
                n += (size_t) k;
        out[n] = '\0';
        int status;
        assert_int_equal(waitpid(rt_container_pid(c), &status, 0), rt_container_pid(c));
        assert_int_equal(rt_container_destroy(c, &err), 0);
        rt_container_free(c); /* closes the master */
        json_decref(spec);
        assert_string_equal(out, "/dev/pts/0\r\nconsole\r\n0\r\nptmx\r\n33 101\r\n1\r\n");
}

static void test_rt_run_kill_all_signals_every_process(void **state) {
        if (geteuid() != 0)
                skip();
        char id[32];
        snprintf(id, sizeof(id), "c%d", ++counter);
        /* The init ignores SIGTERM (pid 1 without a handler); the children do not. */
        json_t *spec = make_spec(id, (const char *const[]){ "sh", "-c", "sleep 30 & sleep 30 & wait", NULL });
        struct rt_stdio io = { .in = -1, .out = -1, .err = -1 };
        struct berr err = { 0 };
        struct rt_container *c = NULL;
        if (rt_container_create(id, tmpdir, spec, &io, &c, &err) < 0 || rt_container_start(c, &err) < 0)
                fail_msg("%s", err.msg);
        usleep(200 * 1000);
        assert_int_equal(rt_container_kill(c, SIGKILL, true, &err), 0);
        int status;
        assert_int_equal(waitpid(rt_container_pid(c), &status, 0), rt_container_pid(c));
        assert_true(WIFSIGNALED(status));
        assert_int_equal(rt_container_destroy(c, &err), 0);
        rt_container_free(c);
        json_decref(spec);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rt_run_echo_hello),
                cmocka_unit_test(test_rt_run_start_early),
                cmocka_unit_test(test_rt_run_exit_code),
                cmocka_unit_test(test_rt_run_hostname_and_pid1),
                cmocka_unit_test(test_rt_run_default_capability_bounding_set),
                cmocka_unit_test(test_rt_run_cap_drop_all_makes_chown_fail),
                cmocka_unit_test(test_rt_run_privileged_caps_beyond_host_are_dropped),
                cmocka_unit_test(test_rt_run_user_nobody),
                cmocka_unit_test(test_rt_run_user_namespace),
                cmocka_unit_test(test_rt_run_readonly_root_refuses_writes),
                cmocka_unit_test(test_rt_run_masked_and_readonly_paths),
                cmocka_unit_test(test_rt_run_not_found_is_docker_error_and_no_process),
                cmocka_unit_test(test_rt_run_directory_is_permission_denied),
                cmocka_unit_test(test_rt_run_cwd_outside_root_refused),
                cmocka_unit_test(test_rt_run_no_fd_leaks),
                cmocka_unit_test(test_rt_run_missing_cwd_is_created),
                cmocka_unit_test(test_rt_run_missing_cwd_through_symlink_is_created_inside_the_root),
                cmocka_unit_test(test_rt_run_home_from_passwd),
                cmocka_unit_test(test_rt_run_memory_limit_oom_killed),
                cmocka_unit_test(test_rt_run_pids_limit_stops_fork_bomb),
                cmocka_unit_test(test_rt_run_exec_joins_namespaces),
                cmocka_unit_test(test_rt_run_bind_mount_ro_through_symlink_stays_in_root),
                cmocka_unit_test(test_rt_run_terminal),
                cmocka_unit_test(test_rt_run_console_in_container),
                cmocka_unit_test(test_rt_run_kill_all_signals_every_process),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
