/* rootless.c - berthd for an unprivileged user (dockerd-rootless.sh and rootlesskit's
 * part, in-process). The user's berthd forks a child that unshares a user namespace; the
 * setuid helpers newuidmap and newgidmap map container id 0 to the user and 1.. to the
 * user's subordinate ranges; the child becomes the namespace's root, takes a mount
 * namespace of its own (overlay and bind mounts are then its to make) and executes berthd
 * again, which sees _BERTH_ROOTLESS and runs as usual with rootless defaults. The parent
 * stays, forwards SIGTERM/SIGINT/SIGHUP and exits with the child's status.
 *
 * Not done (refused by name where a user would meet it): networks other than none and
 * host (no slirp4netns/pasta yet: berthd stays in the user's network namespace, so
 * published ports are not forwarded either), cgroup limits (containers run without a cgroup
 * of their own when none is delegated). Layers are overlayfs in the user namespace, with
 * its attributes as user.overlay.* (common/fs.c). */
#include "rootless.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "config.h"
#include "userns.h"

#define ROOTLESS_ENV "_BERTH_ROOTLESS"
#define SUBID_FILE_MAX (4u << 20)

extern char **environ;

bool rootless_is_child(void) {
        const char *v = getenv(ROOTLESS_ENV);
        return v && STREQ(v, "1");
}

static int set_default(char **slot, const char *value, struct berr *err) {
        if (*slot)
                return 0;
        *slot = strdup(value);
        return *slot ? 0 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
}

int rootless_defaults(struct daemon_config *cfg, struct berr *err) {
        const char *run = getenv("XDG_RUNTIME_DIR");
        if (!run || run[0] != '/')
                return berr_set(err, BERR_INVALID, EINVAL, "rootless: XDG_RUNTIME_DIR must be set to the user's runtime "
                                "directory (as for dockerd-rootless.sh)");
        const char *data = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
        _cleanup_free_ char *sock = NULL, *exec_root = NULL, *data_root = NULL;
        if (asprintf(&sock, "unix://%s/berth.sock", run) < 0 || asprintf(&exec_root, "%s/berth", run) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (data && data[0] == '/' ? asprintf(&data_root, "%s/berth", data) < 0
            : home && home[0] == '/' ? asprintf(&data_root, "%s/.local/share/berth", home) < 0
                                     : (data_root = NULL, true))
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (!data_root)
                return berr_set(err, BERR_INVALID, EINVAL, "rootless: HOME or XDG_DATA_HOME must be set");
        int r = 0;
        if (cfg->n_hosts == 0) {
                cfg->hosts[0] = TAKE_PTR(sock);
                cfg->n_hosts = 1;
        }
        if ((r = set_default(&cfg->exec_root, exec_root, err)) < 0 || (r = set_default(&cfg->data_root, data_root, err)) < 0 ||
            (r = set_default(&cfg->net.bridge, "none", err)) < 0)
                return r;
        /* The user's network namespace is not ours to change: no rules, no forwarding. */
        if (!cfg->set_by_flag[OPT_IPTABLES])
                cfg->net.iptables = false;
        if (!cfg->set_by_flag[OPT_IP_MASQ])
                cfg->net.ip_masq = false;
        if (!cfg->set_by_flag[OPT_IP_FORWARD])
                cfg->net.ip_forward = false;
        return 0;
}

static int run_map_tool(const char *tool, pid_t pid, uint32_t own, const struct spec_idmap *m, size_t n,
                        struct berr *err) {
        char *argv[8 + 3 * USERNS_MAX_RANGES];
        char buf[3 + 3 * USERNS_MAX_RANGES][16];
        size_t a = 0, b = 0;
        argv[a++] = (char *) tool;
        snprintf(buf[b], 16, "%d", (int) pid);
        argv[a++] = buf[b++];
        argv[a++] = "0"; /* the namespace's root is the user */
        snprintf(buf[b], 16, "%u", own);
        argv[a++] = buf[b++];
        argv[a++] = "1";
        for (size_t i = 0; i < n; i++) {
                snprintf(buf[b], 16, "%u", m[i].container_id + 1); /* 1.. are the subordinate ids */
                argv[a++] = buf[b++];
                snprintf(buf[b], 16, "%u", m[i].host_id);
                argv[a++] = buf[b++];
                snprintf(buf[b], 16, "%u", m[i].size);
                argv[a++] = buf[b++];
        }
        argv[a] = NULL;
        pid_t p;
        int e = posix_spawnp(&p, tool, NULL, NULL, argv, environ);
        if (e != 0) {
                errno = e;
                return berr_sys(err, BERR_INVALID, "rootless: run %s (Debian package uidmap)", tool);
        }
        int status = 0;
        while (waitpid(p, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return berr_set(err, BERR_INVALID, EPERM, "rootless: %s %d failed (status %d): see its message above",
                                tool, (int) pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 0;
}

static int load_ranges(const char *file, const char *name, uint32_t id, struct spec_idmap *m, size_t *n,
                       struct berr *err) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = fs_read_file(AT_FDCWD, file, SUBID_FILE_MAX, &text, &len, err);
        if (r < 0 && r != -ENOENT)
                return r;
        r = userns_parse_subid(text, name, id, m, USERNS_MAX_RANGES, n, err);
        if (r == -ENOENT)
                return berr_set(err, BERR_INVALID, ENOENT, "rootless: no subordinate ids for %s in %s (add a range, e.g. "
                                "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s)", name, file, name);
        return r;
}

/* The child, between fork and exec: only async-signal-safe calls until execve. */
static void __attribute__((noreturn)) child(char **argv, int ready_w, int go_r) {
        char c = 0;
        if (unshare(CLONE_NEWUSER) < 0)
                c = 1;
        (void) !write(ready_w, &c, 1);
        if (c)
                _exit(125);
        if (read(go_r, &c, 1) != 1 || c != 0)
                _exit(125); /* the maps could not be written: the parent says why */
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                _exit(125);
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
        /* Mounts (the layers, the containers' roots) are this namespace's only. */
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
                _exit(125);
        (void) setenv(ROOTLESS_ENV, "1", 1);
        execv("/proc/self/exe", argv);
        _exit(127);
}

int rootless_run(char **argv, struct berr *err) {
        uid_t uid = getuid();
        gid_t gid = getgid();
        struct passwd *pw = getpwuid(uid);
        if (!pw)
                return berr_set(err, BERR_INVALID, ENOENT, "rootless: uid %u has no entry in /etc/passwd", (unsigned) uid);
        struct spec_idmap uids[USERNS_MAX_RANGES], gids[USERNS_MAX_RANGES];
        size_t n_uids = 0, n_gids = 0;
        int r = load_ranges("/etc/subuid", pw->pw_name, uid, uids, &n_uids, err);
        if (r == 0)
                r = load_ranges("/etc/subgid", pw->pw_name, uid, gids, &n_gids, err);
        if (r < 0)
                return r;
        int ready[2], go[2];
        if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
                return berr_sys(err, BERR_INTERNAL, "pipe");
        pid_t pid = fork();
        if (pid < 0)
                return berr_sys(err, BERR_INTERNAL, "fork");
        if (pid == 0)
                child(argv, ready[1], go[0]);
        (void) close(ready[1]);
        (void) close(go[0]);
        char c = 1;
        if (read(ready[0], &c, 1) != 1 || c != 0) {
                (void) close(go[1]);
                (void) waitpid(pid, NULL, 0);
                return berr_set(err, BERR_INVALID, EPERM, "rootless: cannot create a user namespace (are unprivileged "
                                "user namespaces allowed? sysctl kernel.unprivileged_userns_clone / user.max_user_namespaces)");
        }
        r = run_map_tool("newuidmap", pid, uid, uids, n_uids, err);
        if (r == 0)
                r = run_map_tool("newgidmap", pid, gid, gids, n_gids, err);
        c = r == 0 ? 0 : 1;
        (void) !write(go[1], &c, 1);
        (void) close(go[1]);
        (void) close(ready[0]);
        if (r < 0) {
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        sigprocmask(SIG_BLOCK, &set, NULL);
        for (;;) {
                int status;
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                struct timespec ts = { .tv_nsec = 100 * 1000 * 1000 };
                int sig = sigtimedwait(&set, NULL, &ts);
                if (sig > 0)
                        (void) kill(pid, sig);
        }
}
