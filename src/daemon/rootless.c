/* rootless.c - berthd for an unprivileged user (dockerd-rootless.sh and rootlesskit's
 * part, in-process). The user's berthd forks a child that unshares a user namespace; the
 * setuid helpers newuidmap and newgidmap map container id 0 to the user and 1.. to the
 * user's subordinate ranges; the child becomes the namespace's root, takes a mount
 * namespace of its own (overlay and bind mounts are then its to make) and executes berthd
 * again, which sees _BERTH_ROOTLESS and runs as usual with rootless defaults. The parent
 * stays, forwards SIGTERM/SIGINT/SIGHUP and exits with the child's status.
 *
 * With slirp4netns in PATH (and /dev/net/tun open to the user) the child also takes a
 * network namespace of its own, as rootlesskit gives dockerd one: the parent starts
 * slirp4netns against it (tap0 10.0.2.100/24, DNS 10.0.2.3, --exit-fd so it goes when the
 * parent goes), bind-mounts a resolv.conf naming 10.0.2.3 over /etc/resolv.conf, and hands
 * berthd TCP sockets of the user's network namespace for registry connections. Bridges,
 * nftables and the embedded DNS then work in berthd's namespace as rootful; published ports
 * are forwarded from the host by slirp4netns (network/ports.c, network/slirp.c). pasta
 * (BERTHD_ROOTLESS_NET=pasta, or no slirp4netns in PATH) sets the namespace up the same
 * way and forwards the tcp ports listening in it (published ones on every host address).
 *
 * cgroups: when the parent's own cgroup v2 (/proc/self/cgroup "0::/path") is delegated to
 * the user (systemd's Delegate=yes: the dir, cgroup.procs, cgroup.subtree_control and
 * cgroup.threads are the user's), the parent moves the processes there into the leaf
 * <path>/berthd, enables the delegated controllers for the children (runtime/
 * cgroups_delegate.c) and the child bind-mounts that cgroup2 hierarchy over /sys/fs/cgroup
 * of its mount namespace (on a hybrid host it was the v1 tmpfs), so berthd, its shims and
 * their containers see a plain v2 host there: containers' cgroups are <path>/berth/<id>,
 * with limits of the delegated controllers, stats, top and pause (cgroup.freeze needs no
 * controller). Without a delegated subtree containers run without a cgroup of their own,
 * `docker info` says so as dockerd does (cgroup driver "none"), and limits, stats and
 * pause are refused by name.
 *
 * Not done (refused by name where a user would meet it): sctp ports; without slirp4netns,
 * networks other than none, host and container:<x>; log drivers sending to the host's
 * loopback (container.c). Layers are overlayfs in the user namespace, with its attributes
 * as user.overlay.* (common/fs.c). */
#include "rootless.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "config.h"
#include "distribution/distribution.h"
#include "runtime/runtime.h"
#include "userns.h"

#define ROOTLESS_ENV "_BERTH_ROOTLESS"
#define SLIRP_API_ENV "_BERTH_SLIRP4NETNS_API" /* the child's: its namespace is slirp4netns's */
#define PASTA_ENV "_BERTH_ROOTLESS_PASTA"  /* the child's: its namespace is pasta's */
#define NET_ENV "BERTHD_ROOTLESS_NET"         /* the user's choice: slirp4netns or pasta */
#define SLIRP_READY_TIMEOUT_MS 10000
#define HOST_SOCKETS_ENV "_BERTH_HOST_SOCKETS" /* the child's end of the socket broker */
#define SUBID_FILE_MAX (4u << 20)
#define CGROUP_MOUNT_ENV "_BERTH_CGROUP2_MOUNT" /* the child's: a mount of the cgroup2 hierarchy */
#define CGROUP_SUBTREE_ENV "_BERTH_CGROUP_SUBTREE" /* the child's: the delegated cgroup in it */
#define CGROUP_LEAF "berthd"                  /* berthd's own processes, beside the containers' */
#define PROC_FILE_MAX (16u << 20)

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
        const char *api = rootless_is_child() ? getenv(SLIRP_API_ENV) : NULL;
        if (api && api[0] == '/' && !cfg->net.hostfwd_api && !(cfg->net.hostfwd_api = strdup(api)))
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        const char *pasta = rootless_is_child() ? getenv(PASTA_ENV) : NULL;
        if (pasta && STREQ(pasta, "1") && !cfg->net.hostfwd_api) {
                if (!(cfg->net.hostfwd_api = strdup("pasta")))
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                cfg->net.hostfwd_pasta = true;
        }
        if (cfg->n_hosts == 0) {
                cfg->hosts[0] = TAKE_PTR(sock);
                cfg->n_hosts = 1;
        }
        if ((r = set_default(&cfg->exec_root, exec_root, err)) < 0 || (r = set_default(&cfg->data_root, data_root, err)) < 0)
                return r;
        /* In a network namespace of its own, with slirp4netns's tap0 to the host, berthd
         * has bridges, its nftables table and forwarding there as a rootful one has. */
        if (cfg->net.hostfwd_api)
                return 0;
        if ((r = set_default(&cfg->net.bridge, "none", err)) < 0)
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

/* The child, between fork and exec: only async-signal-safe calls until execve. With
 * @resolv, the child also gets a network namespace of its own (slirp4netns's, owned by its
 * user namespace) and @resolv on /etc/resolv.conf (slirp4netns's DNS, 10.0.2.3). */
static void __attribute__((noreturn)) child(char **argv, int ready_w, int go_r, const char *resolv, int socks) {
        char c = 0;
        if (unshare(CLONE_NEWUSER | (resolv ? CLONE_NEWNET : 0)) < 0)
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
        if (resolv)
                (void) mount(resolv, "/etc/resolv.conf", NULL, MS_BIND, NULL);
        if (socks >= 0) /* the socket broker's end stays open across exec */
                (void) fcntl(socks, F_SETFD, 0);
        (void) setenv(ROOTLESS_ENV, "1", 1);
        execv("/proc/self/exe", argv);
        _exit(127);
}

/* @name in PATH, or NULL. */
static char *find_in_path(const char *name) {
        const char *path = getenv("PATH");
        if (!path || !*path)
                path = "/usr/local/bin:/usr/bin:/bin";
        for (const char *p = path; *p;) {
                const char *e = strchr(p, ':');
                size_t n = e ? (size_t) (e - p) : strlen(p);
                char *f = NULL;
                if (n > 0 && asprintf(&f, "%.*s/%s", (int) n, p, name) >= 0 && access(f, X_OK) == 0)
                        return f;
                free(f);
                p += n + (e ? 1 : 0);
        }
        return NULL;
}

/* The helper that connects berthd's network namespace to the host: the user's choice in
 * BERTHD_ROOTLESS_NET (as dockerd-rootless.sh's DOCKERD_ROOTLESS_ROOTLESSKIT_NET), else
 * slirp4netns if it is in PATH, else pasta. *@ret_bin NULL: neither (berthd stays in the
 * user's network namespace: --network none, host and container:<name> only). */
static int pick_net(char **ret_bin, bool *ret_pasta, struct berr *err) {
        const char *want = getenv(NET_ENV);
        *ret_bin = NULL;
        *ret_pasta = false;
        if (want && *want && !STREQ(want, "slirp4netns") && !STREQ(want, "pasta"))
                return berr_set(err, BERR_INVALID, EINVAL, "rootless: %s=%s: the choices are slirp4netns and pasta", NET_ENV,
                                want);
        bool pasta = want && STREQ(want, "pasta");
        char *bin = find_in_path(pasta ? "pasta" : "slirp4netns");
        if (!bin && want && *want)
                return berr_set(err, BERR_INVALID, ENOENT, "rootless: %s=%s: %s is not in PATH (Debian package %s)", NET_ENV,
                                want, want, pasta ? "passt" : "slirp4netns");
        if (!bin && (bin = find_in_path("pasta")))
                pasta = true;
        *ret_bin = bin;
        *ret_pasta = pasta;
        return 0;
}

struct slirp {
        pid_t pid;
        int exit_w;   /* slirp4netns's --exit-fd: it exits when this closes (also when we die) */
        bool is_pasta; /* pid is pasta's (in the foreground: no exit fd, SIGTERM stops it) */
};

/* slirp4netns for @pid's network namespace: tap0 10.0.2.100/24, a default route through
 * 10.0.2.2 and DNS at 10.0.2.3, its API socket at @api for published ports (ports.c). */
static int slirp_start(const char *bin, const char *api, pid_t pid, struct slirp *out, struct berr *err) {
        int ex[2], rd[2];
        if (pipe2(ex, O_CLOEXEC) < 0)
                return berr_sys(err, BERR_INTERNAL, "pipe");
        if (pipe2(rd, O_CLOEXEC) < 0) {
                close(ex[0]);
                close(ex[1]);
                return berr_sys(err, BERR_INTERNAL, "pipe");
        }
        char pidtext[16], api_arg[4200];
        snprintf(pidtext, sizeof(pidtext), "%d", (int) pid);
        snprintf(api_arg, sizeof(api_arg), "--api-socket=%s", api);
        char *av[] = { (char *) bin, "--configure", "--mtu=65520", "--disable-host-loopback", api_arg, "--exit-fd=3",
                       "--ready-fd=4", pidtext, "tap0", NULL };
        (void) unlink(api); /* a stale one, of a berthd that was killed */
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, ex[0], 3);
        posix_spawn_file_actions_adddup2(&fa, rd[1], 4);
        int e = posix_spawn(&out->pid, bin, &fa, NULL, av, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(ex[0]);
        close(rd[1]);
        if (e != 0) {
                close(ex[1]);
                close(rd[0]);
                errno = e;
                return berr_sys(err, BERR_INVALID, "rootless: run %s", bin);
        }
        out->exit_w = ex[1];
        struct pollfd p = { .fd = rd[0], .events = POLLIN };
        char c = 0;
        int n = poll(&p, 1, SLIRP_READY_TIMEOUT_MS);
        bool ok = n == 1 && read(rd[0], &c, 1) == 1 && c == '1';
        close(rd[0]);
        if (!ok) {
                close(out->exit_w);
                (void) kill(out->pid, SIGKILL);
                (void) waitpid(out->pid, NULL, 0);
                return berr_set(err, BERR_INVALID, EIO, "rootless: slirp4netns did not set up the network namespace "
                                "(see its message above)");
        }
        return 0;
}

static void slirp_stop(struct slirp *sl);

/* pasta for @pid's network namespace, set up as slirp4netns's (tap0 10.0.2.100/24, the
 * default route through 10.0.2.2, DNS at 10.0.2.3, no way to the host's loopback through
 * the gateway) and forwarding from the host every TCP port that listens in it (-t auto:
 * published ports, held listening there by network/ports.c). In the foreground, as our
 * child with a parent-death signal: this pasta has no --exit-fd and outlives the
 * namespace. Ready once it wrote @pidfile. */
static int pasta_start(const char *bin, const char *pidfile, pid_t pid, struct slirp *out, struct berr *err) {
        char pidtext[16];
        snprintf(pidtext, sizeof(pidtext), "%d", (int) pid);
        /* -T stays auto: this pasta (Debian 12's) stops forwarding -t auto's ports with any
         * other -T. So the host's listening tcp ports are on our namespace's loopback too
         * (slirp4netns runs --disable-host-loopback): README says so. */
        char *av[] = { (char *) bin, "--config-net", "-a", "10.0.2.100", "-n", "24", "-g", "10.0.2.2", "--dns-forward",
                       "10.0.2.3", "--no-map-gw", "-t", "auto", "-u", "none", "-U", "none", "-I", "tap0", "-P",
                       (char *) pidfile, "-q", "-f", pidtext, NULL };
        (void) unlink(pidfile);
        pid_t parent = getpid();
        pid_t p = fork();
        if (p < 0)
                return berr_sys(err, BERR_INTERNAL, "fork");
        if (p == 0) { /* async-signal-safe only until execv */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(127);
                execv(bin, av);
                _exit(127);
        }
        *out = (struct slirp) { .pid = p, .exit_w = -1, .is_pasta = true };
        for (int waited = 0; waited < SLIRP_READY_TIMEOUT_MS; waited += 10) {
                struct stat st;
                if (stat(pidfile, &st) == 0 && st.st_size > 0)
                        return 0;
                int status;
                if (waitpid(p, &status, WNOHANG) == p) {
                        out->pid = -1;
                        return berr_set(err, BERR_INVALID, EIO, "rootless: pasta did not set up the network namespace "
                                        "(status %d: see its message above)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
                }
                struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        slirp_stop(out);
        return berr_set(err, BERR_INVALID, ETIMEDOUT, "rootless: pasta did not set up the network namespace in %d s",
                        SLIRP_READY_TIMEOUT_MS / 1000);
}

static void slirp_stop(struct slirp *sl) {
        if (sl->pid <= 0)
                return;
        if (sl->is_pasta)
                (void) kill(sl->pid, SIGTERM); /* it has no exit fd */
        if (sl->exit_w >= 0)
                close(sl->exit_w);
        struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
        for (int i = 0; i < 300; i++) {
                if (waitpid(sl->pid, NULL, WNOHANG) == sl->pid)
                        return;
                nanosleep(&ts, NULL);
        }
        (void) kill(sl->pid, SIGKILL);
        (void) waitpid(sl->pid, NULL, 0);
}

/* The socket broker: berthd in slirp4netns's namespace asks the parent, which stays in the
 * user's network namespace, for TCP sockets: registry connections (a registry on the
 * host's 127.0.0.1 is out of slirp4netns's reach, --disable-host-loopback) and the TCP API
 * and metrics listeners (bound and listening on the host's addresses). The parent
 * makes nothing but unconnected AF_INET/AF_INET6 stream sockets; berthd connects them. */
struct sock_req {
        int family, type, protocol;
};

static int host_sockets_fd = -1;
static pthread_mutex_t host_sockets_lock = PTHREAD_MUTEX_INITIALIZER;

static int host_socket(int family, int type, int protocol) {
        struct sock_req q = { family, type, protocol };
        pthread_mutex_lock(&host_sockets_lock);
        int r = -EIO;
        if (send(host_sockets_fd, &q, sizeof(q), MSG_NOSIGNAL) == (ssize_t) sizeof(q)) {
                int e = 0;
                char cbuf[CMSG_SPACE(sizeof(int))];
                struct iovec iov = { .iov_base = &e, .iov_len = sizeof(e) };
                struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
                ssize_t n = recvmsg(host_sockets_fd, &m, MSG_CMSG_CLOEXEC);
                struct cmsghdr *c = n == (ssize_t) sizeof(e) ? CMSG_FIRSTHDR(&m) : NULL;
                if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
                        memcpy(&r, CMSG_DATA(c), sizeof(int));
                else if (n == (ssize_t) sizeof(e) && e > 0)
                        r = -e;
        }
        pthread_mutex_unlock(&host_sockets_lock);
        return r;
}

int rootless_host_socket(int family, int type, int protocol) {
        if (host_sockets_fd < 0) {
                int fd = socket(family, type, protocol);
                return fd < 0 ? -errno : fd;
        }
        return host_socket(family, type, protocol);
}

static char *cgroup_subtree; /* the child's delegated cgroup, NULL without one */
static char *cgroup_leaf_dir; /* its leaf, whose cgroup.controllers are what the children get */

const char *rootless_cgroup_subtree(void) {
        return cgroup_subtree;
}

const char *rootless_cgroup_facts_dir(void) {
        return cgroup_leaf_dir ? cgroup_leaf_dir : "/sys/fs/cgroup";
}

/* The child: the parent's delegated cgroup2 hierarchy on /sys/fs/cgroup of our mount
 * namespace (unless it is there already), so everything below sees a v2 host. */
static void child_cgroup_init(void) {
        const char *mnt = getenv(CGROUP_MOUNT_ENV), *sub = getenv(CGROUP_SUBTREE_ENV);
        if (!mnt || mnt[0] != '/' || !sub || sub[0] != '/')
                return;
        struct statfs sf;
        bool is_v2 = statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
        if (!(is_v2 && STREQ(mnt, "/sys/fs/cgroup")) && mount(mnt, "/sys/fs/cgroup", NULL, MS_BIND, NULL) < 0) {
                fprintf(stderr, "berthd: rootless: cannot mount the cgroup2 hierarchy %s on /sys/fs/cgroup (%s): "
                        "containers run without cgroups\n", mnt, strerror(errno));
                return;
        }
        cgroup_subtree = strdup(sub);
        if (asprintf(&cgroup_leaf_dir, "/sys/fs/cgroup%s/" CGROUP_LEAF, sub) < 0)
                cgroup_leaf_dir = NULL;
}

void rootless_child_init(void) {
        if (rootless_is_child())
                child_cgroup_init();
        (void) unsetenv(CGROUP_MOUNT_ENV); /* not the shims' nor the containers' */
        (void) unsetenv(CGROUP_SUBTREE_ENV);
        const char *v = rootless_is_child() ? getenv(HOST_SOCKETS_ENV) : NULL;
        char *end = NULL;
        long fd = v ? strtol(v, &end, 10) : -1;
        if (!v || *end || fd < 3 || fd > 1024)
                return;
        (void) unsetenv(HOST_SOCKETS_ENV);
        (void) fcntl((int) fd, F_SETFD, FD_CLOEXEC); /* not the containers' */
        host_sockets_fd = (int) fd;
        dist_curl_set_socket_opener(host_socket);
}

/* The parent's side: one request, one answer (a socket, or an errno). */
static void serve_socket(int fd) {
        struct sock_req q;
        ssize_t n = recv(fd, &q, sizeof(q), MSG_DONTWAIT);
        if (n != (ssize_t) sizeof(q))
                return;
        int e = 0, s = -1;
        int type = q.type & ~(SOCK_CLOEXEC | SOCK_NONBLOCK);
        if ((q.family != AF_INET && q.family != AF_INET6) || type != SOCK_STREAM ||
            (q.protocol != 0 && q.protocol != IPPROTO_TCP))
                e = EPERM;
        else if ((s = socket(q.family, SOCK_STREAM | SOCK_CLOEXEC, q.protocol)) < 0)
                e = errno;
        char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
        struct iovec iov = { .iov_base = &e, .iov_len = sizeof(e) };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (s >= 0) {
                m.msg_control = cbuf;
                m.msg_controllen = sizeof(cbuf);
                struct cmsghdr *c = CMSG_FIRSTHDR(&m);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &s, sizeof(int));
        }
        (void) sendmsg(fd, &m, MSG_NOSIGNAL);
        if (s >= 0)
                close(s);
}

/* The parent, before the child: our cgroup as the subtree of berthd and its containers if
 * it is delegated to us (the child learns it from the environment); else a line on why. */
static void cgroup_delegate(uid_t uid) {
        (void) unsetenv(CGROUP_MOUNT_ENV);
        (void) unsetenv(CGROUP_SUBTREE_ENV);
        _cleanup_free_ char *self = NULL, *mounts = NULL, *path = NULL, *mnt = NULL;
        struct rt_cgroup_delegation dg = { 0 };
        struct berr e = { 0 };
        int r = fs_read_file(AT_FDCWD, "/proc/self/cgroup", PROC_FILE_MAX, &self, NULL, &e);
        if (r == 0)
                r = rt_cgroup2_own_path(self, &path, &e);
        if (r == 0)
                r = fs_read_file(AT_FDCWD, "/proc/self/mountinfo", PROC_FILE_MAX, &mounts, NULL, &e);
        if (r == 0)
                r = rt_cgroup2_mount_point(mounts, &mnt, &e);
        if (r == 0)
                r = rt_cgroup_delegate(mnt, path, uid, CGROUP_LEAF, &dg, &e);
        if (r == 0 && (setenv(CGROUP_MOUNT_ENV, dg.mount, 1) < 0 || setenv(CGROUP_SUBTREE_ENV, dg.path, 1) < 0))
                r = berr_sys(&e, BERR_INTERNAL, "setenv");
        if (r < 0)
                fprintf(stderr, "berthd: rootless: no cgroup v2 subtree delegated to the user (%s): containers run "
                        "without resource limits, stats and pause\n", e.msg);
        else
                fprintf(stderr, "berthd: rootless: containers' cgroups go under the delegated cgroup %s (controllers: "
                        "%s)\n", dg.path, dg.controllers[0] ? dg.controllers : "none");
        rt_cgroup_delegation_done(&dg);
}

int rootless_run(char **argv, const char *exec_root, struct berr *err) {
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
        /* slirp4netns's files: the API socket (pasta: its pid file) and the namespace's
         * resolv.conf */
        _cleanup_free_ char *slirp = NULL, *api = NULL, *resolv = NULL;
        bool pasta = false;
        if ((r = pick_net(&slirp, &pasta, err)) < 0)
                return r;
        if (slirp && access("/dev/net/tun", R_OK | W_OK) < 0) { /* Debian's udev rule makes it 0666 */
                fprintf(stderr, "berthd: rootless: %s cannot open /dev/net/tun (%s): berthd stays in the user's network "
                        "namespace, with --network none, host and container:<name> only\n", pasta ? "pasta" : "slirp4netns",
                        strerror(errno));
                free(slirp);
                slirp = NULL;
        }
        (void) unsetenv(SLIRP_API_ENV);
        (void) unsetenv(PASTA_ENV);
        if (slirp) {
                if (asprintf(&api, "%s/%s", exec_root, pasta ? "pasta.pid" : "slirp4netns.sock") < 0 ||
                    asprintf(&resolv, "%s/resolv.conf", exec_root) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                static const char dns[] = "nameserver 10.0.2.3\n";
                if ((r = fs_mkdir_p(exec_root, 0700, err)) < 0 ||
                    (r = fs_write_atomic(AT_FDCWD, resolv, dns, sizeof(dns) - 1, 0644, err)) < 0)
                        return r;
                if (setenv(pasta ? PASTA_ENV : SLIRP_API_ENV, pasta ? "1" : api, 1) < 0)
                        return berr_sys(err, BERR_INTERNAL, "setenv");
        }
        cgroup_delegate(uid);
        int ready[2], go[2], socks[2] = { -1, -1 };
        if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
                return berr_sys(err, BERR_INTERNAL, "pipe");
        if (slirp) {
                char fdtext[16];
                if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, socks) < 0)
                        return berr_sys(err, BERR_INTERNAL, "socketpair");
                snprintf(fdtext, sizeof(fdtext), "%d", socks[1]);
                if (setenv(HOST_SOCKETS_ENV, fdtext, 1) < 0)
                        return berr_sys(err, BERR_INTERNAL, "setenv");
        }
        pid_t pid = fork();
        if (pid < 0)
                return berr_sys(err, BERR_INTERNAL, "fork");
        if (pid == 0)
                child(argv, ready[1], go[0], resolv, socks[1]);
        if (socks[1] >= 0)
                (void) close(socks[1]);
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
        struct slirp sl = { .pid = -1, .exit_w = -1 };
        if (r == 0 && slirp)
                r = pasta ? pasta_start(slirp, api, pid, &sl, err) : slirp_start(slirp, api, pid, &sl, err);
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
                if (w == pid) {
                        slirp_stop(&sl);
                        if (api)
                                (void) unlink(api);
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                }
                struct pollfd p = { .fd = socks[0], .events = POLLIN };
                if (poll(&p, 1, 100) == 1) {
                        if (p.revents & POLLIN)
                                serve_socket(socks[0]);
                        else { /* berthd let go of it: it is on its way out */
                                (void) close(socks[0]);
                                socks[0] = -1;
                        }
                }
                struct timespec ts = { 0 };
                int sig = sigtimedwait(&set, NULL, &ts);
                if (sig > 0)
                        (void) kill(pid, sig);
        }
}
