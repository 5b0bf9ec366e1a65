/* runtime.c - create/start/exec/kill/destroy: the order of the steps, and the sync
 * protocol between the shim (parent) and the container's process (child).
 *
 * create: the parent compiles seccomp, creates the cgroup and applies linux.resources,
 * then forks the child into the container's pid namespace (namespaces.c says why fork).
 * It sends GO, then writes the child's pid into the cgroup and sends CGROUP; meanwhile the
 * child joins/creates its namespaces (waiting for CGROUP before a new cgroup namespace,
 * whose root must be the container's cgroup, and in any case before START), sets up
 * stdio, closes every inherited fd, builds its root (mounts.c), hostname, sysctls (sysctl.c),
 * masked and read-only paths, rlimits, no_new_privs, capabilities and
 * user, cwd, looks up the executable, and sends READY (or ERROR and exits).
 * start: the parent sends START; the child loads seccomp (as late as possible), drops the
 * last capability it kept for that, and execve's. The sync socket is CLOEXEC, so EOF
 * means the execve succeeded, and an ERROR message carries the failure. With start_early
 * (the shim's autostart without a TTY: nothing to do between READY and the execve) START
 * is queued right behind CGROUP and the child goes on from READY without waiting; an
 * exec's START always goes behind GO.
 *
 * CVE-2019-5736 (overwriting the runtime binary through /proc/<pid>/exe): the child is
 * the shim's image until it execve's, so it makes itself non-dumpable at once; /proc/<pid>
 * of a non-dumpable process (exe, fd, cwd, root) is reachable only with CAP_SYS_PTRACE in
 * the host's user namespace, which a container does not get by default. With
 * --privileged it has it; so berthd starts the shim from a sealed memfd copy
 * (sealed_exe.c), and that copy is all /proc/<pid>/exe leads to: it cannot be written.
 * The child opens no fd to the shim binary and closes every inherited fd (close_range)
 * before anything of the container's runs; the init execve's the user's binary after
 * pivot_root, so /proc/1/exe inside is the user's program. An exec'd process does the
 * same. */
#include "common/trace.h"
#include "runtime_int.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "common/log.h"
#include "common/trace.h"

#define DESTROY_TIMEOUT_MS 10000

struct rt_container {
        char *id;
        pid_t pid;
        int pidfd;
        int sync_fd; /* parent end, until start */
        int console; /* pty master (console_in_container), else -1 */
        /* No spec is kept: exec needs only its process, the namespaces of the init, the
         * cgroup and the compiled filter, so the shim can free the whole spec (its
         * linux.seccomp alone is most of a running shim's heap) after create. */
        struct rt_cgroup *cg;
        const struct rt_seccomp *seccomp; /* owned by the seccomp cache */
        bool started;
        bool start_sent; /* create sent START behind CGROUP (start_early) */
        bool drop_mknod; /* device rules cannot be enforced: no new device nodes either */
        bool has_userns; /* the init is in a user namespace of its own: execs join it */
};

/* ---- sync messages ---- */

/* @pass_fd >= 0 travels with the message (SCM_RIGHTS). */
static int sync_send_fd(int fd, enum rt_sync_type type, const struct berr *e, int pass_fd) {
        struct rt_sync_msg m = { .type = type };
        if (e) {
                m.errnum = e->errnum;
                m.kind = e->kind;
                memcpy(m.msg, e->msg, sizeof(m.msg));
                m.msg[sizeof(m.msg) - 1] = '\0';
        }
        size_t len = e ? sizeof(m) : offsetof(struct rt_sync_msg, msg);
        struct iovec iov = { .iov_base = &m, .iov_len = len };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } cbuf;
        memset(&cbuf, 0, sizeof(cbuf));
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (pass_fd >= 0) {
                mh.msg_control = cbuf.buf;
                mh.msg_controllen = sizeof(cbuf.buf);
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
        }
        for (;;) {
                ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
                if (n >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

static int sync_send(int fd, enum rt_sync_type type, const struct berr *e) {
        return sync_send_fd(fd, type, e, -1);
}

/* 1: a message; 0: EOF; <0: error. A passed fd lands in *ret_fd (CLOEXEC) when @ret_fd
 * is not NULL, else it is closed. */
static int sync_recv_fd(int fd, struct rt_sync_msg *m, int *ret_fd) {
        if (ret_fd)
                *ret_fd = -1;
        int resets = 0;
        for (;;) {
                memset(m, 0, sizeof(*m));
                struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(int))];
                } cbuf;
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
                                     .msg_controllen = sizeof(cbuf.buf) };
                ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
                if (n > 0) {
                        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
                                    cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
                                        int got;
                                        memcpy(&got, CMSG_DATA(cm), sizeof(int));
                                        if (ret_fd && *ret_fd < 0)
                                                *ret_fd = got;
                                        else
                                                (void) close(got);
                                }
                }
                if (n > 0) {
                        if ((size_t) n < offsetof(struct rt_sync_msg, msg))
                                return -EBADMSG;
                        m->msg[sizeof(m->msg) - 1] = '\0';
                        return 1;
                }
                if (n == 0)
                        return 0;
                /* The other side exited with something of ours unread (a failed child that
                 * never read CGROUP): the kernel reports ECONNRESET once, possibly ahead of
                 * the message it sent before exiting. Reading again gets that message. */
                if (errno == ECONNRESET && resets++ == 0)
                        continue;
                if (errno != EINTR)
                        return -errno;
        }
}

static int sync_recv(int fd, struct rt_sync_msg *m) {
        return sync_recv_fd(fd, m, NULL);
}

/* ---- the child ---- */

struct child_ctx {
        bool is_exec;
        const json_t *spec;    /* the container's spec (create only) */
        const json_t *process; /* the process to run */
        const char *rootfs;
        const struct rt_stdio *io;
        int sync_fd;
        const struct rt_namespaces *ns; /* create */
        const struct rt_cgroup *cg;
        const struct rt_seccomp *seccomp;
        bool cgroup_msg; /* create: the parent sends CGROUP once it attached us */
        bool drop_mknod;
        bool has_userns; /* a user namespace is joined: some steps need the host's privileges first */
        bool exec_pid_in_child; /* exec, rootless: the child joins the pid namespace and forks */
        pid_t init_pid; /* exec */
        int init_pidfd;
};

/* True if the device rules end up allowing everything (--privileged): a last rule
 * {"allow": true, "access": "rwm"} without type or numbers, as dockerd writes it. */
static bool devices_all_allowed(const json_t *resources) {
        json_t *rules = json_object_get(resources, "devices");
        size_t n = json_array_size(rules);
        if (n == 0)
                return true; /* no rules at all: nothing is restricted */
        for (size_t i = n; i-- > 0;) {
                json_t *r = json_array_get(rules, i);
                const char *type = json_string_value(json_object_get(r, "type"));
                bool any_type = !type || strcmp(type, "a") == 0;
                if (any_type && !json_object_get(r, "major") && !json_object_get(r, "minor"))
                        return json_is_true(json_object_get(r, "allow"));
        }
        return false;
}

static void reset_signals(void) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        for (int s = 1; s < NSIG; s++)
                if (s != SIGKILL && s != SIGSTOP)
                        (void) sigaction(s, &sa, NULL); /* EINVAL for the libc-reserved ones */
        sigset_t none;
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
}

static int set_hostname(const struct child_ctx *c, struct berr *err) {
        const char *host = json_string_value(json_object_get(c->spec, "hostname"));
        const char *domain = json_string_value(json_object_get(c->spec, "domainname"));
        bool has_uts = c->ns->is_new[RT_NS_UTS] || c->ns->fd[RT_NS_UTS] >= 0;
        if ((host && host[0]) || (domain && domain[0])) {
                if (!has_uts)
                        return berr_set(err, BERR_INVALID, EINVAL, "unable to set hostname without a private UTS namespace");
        }
        if (host && host[0] && sethostname(host, strlen(host)) < 0)
                return berr_sys(err, BERR_INVALID, "set hostname \"%s\"", host);
        if (domain && domain[0] && setdomainname(domain, strlen(domain)) < 0)
                return berr_sys(err, BERR_INVALID, "set domainname \"%s\"", domain);
        return 0;
}

/* What child_setup hands to child_exec. */
struct child_state {
        char *path;        /* the executable, looked up */
        char *home;        /* "HOME=..." to add to process.env, or NULL */
        struct rt_caps *caps;
        bool kept_admin;   /* CAP_SYS_ADMIN kept for loading seccomp */
        int console;       /* the pty master for the parent (console_in_container), else -1 */
        bool in_cgroup;    /* CGROUP received (or not expected) */
        bool early_done;   /* oom_score_adj and rlimits set before joining the user namespace */
        bool net_sysctls_done; /* "net.*" sysctls written before joining the user namespace */
};

struct cgroup_wait {
        const struct child_ctx *c;
        struct child_state *st;
};

/* Wait until the parent has put us into the container's cgroup: needed before a new
 * cgroup namespace (its root is our cgroup then) and before START (the limits apply
 * before anything of the user's runs). The parent attaches us while we set up. */
static int child_wait_cgroup(void *userdata, struct berr *err) {
        struct cgroup_wait *w = userdata;
        (void) err;
        if (w->st->in_cgroup || !w->c->cgroup_msg)
                return 0;
        struct rt_sync_msg m;
        int r = sync_recv(w->c->sync_fd, &m);
        if (r <= 0 || m.type != RT_SYNC_CGROUP)
                _exit(1); /* the parent went away or gave up (a failed attach: it reports) */
        w->st->in_cgroup = true;
        return 0;
}

/* Just before the user namespace is joined: what needs the host's privileges. Raising a
 * hard rlimit or lowering oom_score_adj needs CAP_SYS_RESOURCE in the host's user namespace
 * (runc sets both from the parent for that reason), and a network namespace berthd made
 * belongs to the host's user namespace, so its sysctls are written now. */
static int child_before_userns(void *userdata, struct berr *err) {
        struct cgroup_wait *w = userdata;
        int r = rt_proc_set_oom_score_adj(w->c->process, err);
        if (r == 0)
                r = rt_proc_set_rlimits(w->c->process, err);
        if (r < 0)
                return r;
        w->st->early_done = true;
        if (!w->c->is_exec && w->c->ns->fd[RT_NS_NET] >= 0) {
                r = rt_sysctls_apply_some(w->c->spec, RT_SYSCTL_NET, err);
                w->st->net_sysctls_done = r == 0;
        }
        return r;
}

static void child_state_done(struct child_state *st) {
        free(st->path);
        free(st->home);
        rt_caps_free(st->caps);
        if (st->console >= 0)
                (void) close(st->console);
        st->console = -1;
}

/* pid_in_child: the pid namespace just made in the user namespace takes our children, so
 * the init is our child, forked once we are in the container's cgroup (it inherits it).
 * We tell the parent its pid and leave; the shim, a child subreaper, becomes its parent.
 * Returns in the init only. */
static int child_fork_init(const struct child_ctx *c, struct child_state *st, struct berr *err) {
        struct cgroup_wait w = { .c = c, .st = st };
        (void) child_wait_cgroup(&w, err);
        /* The pid goes first on the sync socket: the init waits until we have sent it. */
        int sent[2];
        if (pipe2(sent, O_CLOEXEC) < 0)
                return berr_sys(err, BERR_INTERNAL, "pipe");
        pid_t pid = fork();
        if (pid < 0) {
                int r = berr_sys(err, BERR_INTERNAL, "fork the container's init into its pid namespace");
                (void) close(sent[0]);
                (void) close(sent[1]);
                return r;
        }
        if (pid == 0) {
                (void) close(sent[1]);
                char ch;
                while (read(sent[0], &ch, 1) < 0 && errno == EINTR)
                        ; /* EOF: our parent sent the pid and is gone */
                (void) close(sent[0]);
                return 0;
        }
        struct berr e = { .errnum = (int) pid };
        (void) sync_send(c->sync_fd, RT_SYNC_PID, &e); /* on failure the parent sees EOF */
        _exit(0);
}

static int child_setup(const struct child_ctx *c, struct child_state *st, struct berr *err) {
        int r;
        struct cgroup_wait w = { .c = c, .st = st };
        trace_mark("init GO received");
        if (c->is_exec) {
                r = c->has_userns ? child_before_userns(&w, err) : 0;
                if (r == 0)
                        r = rt_ns_exec_join(c->init_pid, c->init_pidfd, err);
                if (r == 0 && c->exec_pid_in_child) {
                        if (setns(c->init_pidfd, CLONE_NEWPID) < 0)
                                r = berr_sys(err, BERR_INTERNAL, "join the pid namespace of pid %d", (int) c->init_pid);
                        else
                                r = child_fork_init(c, st, err);
                }
        } else
                r = rt_ns_child_setup(c->ns, child_wait_cgroup, child_before_userns, &w, err);
        if (r == 0 && !c->is_exec && c->ns->pid_in_child)
                r = child_fork_init(c, st, err);
        if (r < 0)
                return r;
        trace_mark("init namespaces joined/created");
        r = rt_proc_setup_stdio(c->io, err);
        if (r < 0)
                return r;
        /* Nothing of the shim's may reach the container (CVE-2024-21626: a leaked fd to a
         * host directory as cwd). Only the sync socket stays, and it is CLOEXEC. */
        int tfd = c->is_exec ? trace_file_fd() : -1; /* -1 unless BERTH_TRACE (a developer's tool) */
        if (tfd > 2 && tfd != c->sync_fd) {
                /* Keep it beside the sync socket until the execve (CLOEXEC) to see the exec's
                 * steps: host paths no longer resolve here. */
                unsigned lo = (unsigned) (tfd < c->sync_fd ? tfd : c->sync_fd);
                unsigned hi = (unsigned) (tfd < c->sync_fd ? c->sync_fd : tfd);
                r = (lo > 3 && close_range(3, lo - 1, 0) < 0) || (hi > lo + 1 && close_range(lo + 1, hi - 1, 0) < 0) ||
                                    close_range(hi + 1, ~0U, 0) < 0
                            ? berr_sys(err, BERR_INTERNAL, "close inherited file descriptors")
                            : 0;
        } else
                r = rt_proc_close_fds(c->sync_fd, err);
        if (r < 0)
                return r;
        if (!c->is_exec) /* still the host's paths: pivot_root comes later */
                trace_reopen();
        trace_mark("init stdio set, fds closed");
        if (!c->is_exec) {
                struct rt_mount_ctx m = {
                        .spec = c->spec,
                        .rootfs = c->rootfs,
                        .cg = c->cg,
                        .has_new_cgroupns = c->ns->is_new[RT_NS_CGROUP],
                        .io = c->io,
                };
                r = rt_mounts_setup_rootfs(&m, err);
                trace_mark("init rootfs mounted, pivot_root done");
                /* runc's order: the console after pivot_root, on the container's devpts. */
                if (r == 0 && c->io->terminal && c->io->console_in_container)
                        r = rt_proc_setup_console(&st->console, err);
                if (r == 0)
                        r = set_hostname(c, err);
                if (r == 0)
                        r = rt_sysctls_apply_some(c->spec, st->net_sysctls_done ? RT_SYSCTL_NOT_NET : RT_SYSCTL_ALL,
                                                  err);
                /* Before the root may become read-only. */
                if (r == 0)
                        r = rt_proc_create_cwd(c->process, err);
                if (r == 0)
                        r = rt_mounts_finalize(c->spec, err);
                if (r < 0)
                        return r;
                trace_mark("init mounts finalized");
        } else if (c->io->terminal && c->io->console_in_container) {
                r = rt_proc_exec_console(&st->console, err);
                if (r < 0)
                        return r;
        }
        /* Read as root, before the user change: the file may not be readable by the user. */
        r = rt_proc_home_env(c->process, &st->home, err);
        if (r < 0)
                return r;
        r = st->early_done ? 0 : rt_proc_set_oom_score_adj(c->process, err);
        if (r == 0 && !st->early_done)
                r = rt_proc_set_rlimits(c->process, err);
        if (r < 0)
                return r;
        bool nnp = json_is_true(json_object_get(c->process, "noNewPrivileges"));
        if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
                return berr_sys(err, BERR_INTERNAL, "set no_new_privs");

        r = rt_caps_parse(c->process, &st->caps, err);
        if (r < 0)
                return r;
        if (c->drop_mknod)
                rt_caps_drop(st->caps, CAP_MKNOD);
        const struct rt_caps *caps = st->caps;
        r = rt_caps_apply_bounding(caps, err);
        if (r == 0)
                r = rt_proc_set_user(c->process, err);
        /* Without no_new_privs, loading seccomp needs CAP_SYS_ADMIN: keep it until then. */
        st->kept_admin = c->seccomp && !nnp;
        if (r == 0)
                r = rt_caps_apply(caps, st->kept_admin ? CAP_SYS_ADMIN : -1, err);
        if (r < 0)
                return r;
        (void) rt_proc_set_umask(c->process, err);
        r = rt_proc_chdir(c->process, err);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **args = NULL, **env = NULL;
        r = json_get_strv((json_t *) c->process, "args", &args, err);
        if (r == 0)
                r = json_get_strv((json_t *) c->process, "env", &env, err);
        if (r < 0)
                return r;
        if (!args || !args[0])
                return berr_set(err, BERR_INVALID, EINVAL, "process.args must not be empty");
        r = rt_proc_lookpath(args[0], env, &st->path, err);
        trace_mark("init user, caps, rlimits set; command found");
        return r;
}

static int child_exec(const struct child_ctx *c, const struct child_state *st, struct berr *err) {
        _cleanup_strv_free_ char **args = NULL, **env = NULL;
        int r = json_get_strv((json_t *) c->process, "args", &args, err);
        if (r == 0)
                r = json_get_strv((json_t *) c->process, "env", &env, err);
        if (r < 0)
                return r;
        size_t n_env = 0;
        while (env && env[n_env])
                n_env++;
        char **grown = realloc(env, (n_env + 2) * sizeof(char *));
        if (!grown)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        env = grown;
        env[n_env] = NULL;
        if (st->home) { /* runc adds HOME when the spec has none; dockerd relies on that */
                env[n_env] = strdup(st->home);
                if (!env[n_env])
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                env[++n_env] = NULL;
        }
        const struct rt_caps *caps = st->caps;
        const char *path = st->path;
        bool kept_admin = st->kept_admin;
        if (c->seccomp) {
                r = rt_seccomp_load(c->seccomp, err);
                if (r < 0)
                        return r;
        }
        if (kept_admin) {
                r = rt_caps_apply(caps, -1, err);
                if (r < 0)
                        return r;
        }
        r = rt_caps_apply_ambient(caps, err);
        if (r < 0)
                return r;
        trace_mark("init seccomp loaded: execve");
        execve(path, args, env);
        return berr_set(err, errno == ENOENT ? BERR_NOT_FOUND : BERR_INVALID, errno, "exec %s: %s", path,
                        rt_proc_strerror(errno));
}

/* Never returns. */
static void __attribute__((noreturn)) child_main(const struct child_ctx *c) {
        struct berr err = { 0 };
        struct rt_sync_msg m;
        struct child_state st = { .console = -1 };
        /* Non-dumpable at once: /proc/<pid>/exe is still the shim (CVE-2019-5736). */
        (void) prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L);
        reset_signals();
        int r = sync_recv(c->sync_fd, &m);
        if (r <= 0 || m.type != RT_SYNC_GO)
                _exit(1); /* the parent went away or gave up */
        r = child_setup(c, &st, &err);
        if (r < 0)
                goto fail;
        if (sync_send_fd(c->sync_fd, RT_SYNC_READY, NULL, st.console) < 0)
                _exit(1);
        if (st.console >= 0) /* the parent has its copy; ours must not reach the process */
                (void) close(st.console);
        st.console = -1;
        /* In the cgroup before anything of the user's runs: CGROUP comes before START. Not
         * waited for before READY, which the parent reads only once its attach is done
         * anyway: one wake-up of each side less (about 1.5 ms of a start under load). */
        struct cgroup_wait w = { .c = c, .st = &st };
        (void) child_wait_cgroup(&w, &err);
        r = sync_recv(c->sync_fd, &m);
        if (r <= 0 || m.type != RT_SYNC_START)
                _exit(1);
        trace_mark("init START received");
        (void) child_exec(c, &st, &err);
fail:
        (void) sync_send(c->sync_fd, RT_SYNC_ERROR, &err);
        child_state_done(&st);
        _exit(127);
}

/* ---- the parent ---- */

static int msg_to_err(const struct rt_sync_msg *m, struct berr *err) {
        return berr_set(err, (enum berr_kind) m->kind, m->errnum ? m->errnum : EINVAL, "%s", m->msg);
}

/* Wait for READY (or ERROR, or the child's death). A console master sent with READY goes
 * to *ret_console when not NULL. */
static int wait_ready(int fd, int *ret_console, struct berr *err) {
        struct rt_sync_msg m;
        int got = -1;
        int r = sync_recv_fd(fd, &m, &got);
        if (got >= 0 && (r != 1 || m.type != RT_SYNC_READY || !ret_console)) {
                (void) close(got);
                got = -1;
        }
        if (ret_console)
                *ret_console = got;
        if (r < 0) {
                errno = -r;
                return berr_sys(err, BERR_INTERNAL, "read from the container's process");
        }
        if (r == 0)
                return berr_set(err, BERR_INTERNAL, EPIPE, "the container's process exited during setup");
        if (m.type == RT_SYNC_ERROR)
                return msg_to_err(&m, err);
        if (m.type != RT_SYNC_READY)
                return berr_set(err, BERR_INTERNAL, EBADMSG, "unexpected message %u from the container's process", m.type);
        return 0;
}

/* pid_in_child: the child forked the init (or the exec'd process) and went; reap the
 * child and follow its child, ours now (child subreaper): nothing else can reap it. */
static int wait_forked_pid(int fd, pid_t *pid, int *pidfd, struct berr *err) {
        struct rt_sync_msg m;
        int r = sync_recv(fd, &m);
        if (r < 0) {
                errno = -r;
                return berr_sys(err, BERR_INTERNAL, "read from the container's process");
        }
        if (r == 0)
                return berr_set(err, BERR_INTERNAL, EPIPE, "the container's process exited during setup");
        if (m.type == RT_SYNC_ERROR)
                return msg_to_err(&m, err);
        if (m.type != RT_SYNC_PID || m.errnum <= 0)
                return berr_set(err, BERR_INTERNAL, EBADMSG, "unexpected message %u from the container's process", m.type);
        while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
                ;
        (void) close(*pidfd);
        *pid = (pid_t) m.errnum;
        *pidfd = pidfd_open(*pid, 0);
        if (*pidfd < 0)
                return berr_sys(err, BERR_INTERNAL, "pidfd_open %d", (int) *pid);
        return 0;
}

/* After START: EOF means execve succeeded (the socket is CLOEXEC). */
static int wait_exec(int fd, struct berr *err) {
        struct rt_sync_msg m;
        int r = sync_recv(fd, &m);
        if (r < 0) {
                errno = -r;
                return berr_sys(err, BERR_INTERNAL, "read from the container's process");
        }
        if (r == 1 && m.type == RT_SYNC_ERROR)
                return msg_to_err(&m, err);
        if (r == 1)
                return berr_set(err, BERR_INTERNAL, EBADMSG, "unexpected message %u from the container's process", m.type);
        return 0;
}

static void kill_and_reap(pid_t pid, int pidfd) {
        if (pidfd >= 0)
                (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0); /* ESRCH: already dead */
        else if (pid > 0)
                (void) kill(pid, SIGKILL);
        if (pid > 0)
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
}

/* Fork the child in the right pid namespace; returns the pid in the parent. */
static int spawn(const struct child_ctx *c, const struct rt_namespaces *ns, int join_pidfd, int parent_fd,
                 pid_t *ret_pid, int *ret_pidfd, struct berr *err) {
        int saved = -1;
        int r = rt_ns_pid_enter(ns, join_pidfd, &saved, err);
        if (r < 0)
                return r;
        pid_t pid = fork();
        if (pid == 0) {
                /* Our copy of the parent's end would hide the parent's death from us. */
                (void) close(parent_fd);
                child_main(c);
        }
        int fork_errno = errno;
        r = rt_ns_pid_leave(saved, err);
        if (pid < 0) {
                errno = fork_errno;
                return berr_sys(err, BERR_INTERNAL, "fork the container's process");
        }
        int pidfd = pidfd_open(pid, 0);
        if (r < 0 || pidfd < 0) {
                if (r == 0)
                        r = berr_sys(err, BERR_INTERNAL, "pidfd_open %d", (int) pid);
                kill_and_reap(pid, -1);
                return r;
        }
        *ret_pid = pid;
        *ret_pidfd = pidfd;
        return 0;
}

static bool nonzero(const json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);
        return (json_is_integer(v) && json_integer_value(v) > 0) || (json_is_string(v) && json_string_length(v)) ||
               (json_is_array(v) && json_array_size(v)) || (json_is_object(v) && json_object_size(v));
}

/* Any limit beyond the device rules (dockerd writes 0 or -1 for "none"). */
static bool resources_limit(const json_t *res) {
        static const char *const memory[] = { "limit", "reservation", "swap", "kernel", "kernelTCP" };
        static const char *const cpu[] = { "shares", "quota", "realtimeRuntime", "cpus", "mems" };
        static const char *const blkio[] = { "weight", "leafWeight", "weightDevice", "throttleReadBpsDevice",
                                             "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice" };
        for (size_t i = 0; i < ELEMENTSOF(memory); i++)
                if (nonzero(json_object_get(res, "memory"), memory[i]))
                        return true;
        for (size_t i = 0; i < ELEMENTSOF(cpu); i++)
                if (nonzero(json_object_get(res, "cpu"), cpu[i]))
                        return true;
        for (size_t i = 0; i < ELEMENTSOF(blkio); i++)
                if (nonzero(json_object_get(res, "blockIO"), blkio[i]))
                        return true;
        return nonzero(json_object_get(res, "pids"), "limit") || nonzero(res, "hugepageLimits") || nonzero(res, "unified");
}

/* Rootless without a delegated cgroup (the container's would be under a root-owned dir):
 * run without one, as rootless dockerd does on cgroup v1, unless limits were asked for. */
static int cgroup_unavailable(struct rt_container *c, const json_t *resources, int r, struct berr *err) {
        if (!(r == -EACCES || r == -EPERM || r == -EROFS) || !rt_in_user_namespace())
                return r;
        if (resources_limit(resources)) {
                char why[BERR_MSG_MAX];
                snprintf(why, sizeof(why), "%s", err->msg);
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "rootless: resource limits need a cgroup delegated to "
                                "the user (%s)", why);
        }
        c->cg = rt_cgroup_free(c->cg);
        return 0;
}

static int resolve_rootfs(const char *bundle_dir, const json_t *spec, char **ret, struct berr *err) {
        const char *root = json_string_value(json_object_get(json_object_get(spec, "root"), "path"));
        if (!root || !root[0])
                return berr_set(err, BERR_INVALID, EINVAL, "root.path is missing");
        _cleanup_free_ char *joined = NULL;
        if (root[0] != '/' && asprintf(&joined, "%s/%s", bundle_dir ? bundle_dir : ".", root) < 0)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        char *real = realpath(joined ? joined : root, NULL);
        if (!real)
                return berr_sys(err, BERR_INVALID, "rootfs %s", joined ? joined : root);
        *ret = real;
        return 0;
}

int rt_container_create(const char *id, const char *bundle_dir, const json_t *spec, const struct rt_stdio *io,
                        struct rt_container **ret, struct berr *err) {
        return rt_container_create_ex(id, bundle_dir, spec, io, false, ret, err);
}

int rt_container_create_ex(const char *id, const char *bundle_dir, const json_t *spec, const struct rt_stdio *io,
                           bool start_early, struct rt_container **ret, struct berr *err) {
        const json_t *process = json_object_get(spec, "process");
        if (!json_is_object(process))
                return berr_set(err, BERR_INVALID, EINVAL, "spec has no process");
        /* Declared before the first `goto fail`: a jump past a cleanup variable's
         * initialisation would free garbage on the way out. */
        _cleanup_free_ char *rootfs = NULL, *default_path = NULL;
        int r = resolve_rootfs(bundle_dir, spec, &rootfs, err);
        if (r < 0)
                return r;
        struct rt_container *c = calloc(1, sizeof(*c));
        if (!c || !(c->id = strdup(id))) {
                free(c);
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        c->pidfd = c->sync_fd = c->console = -1;
        struct rt_namespaces ns;
        r = rt_ns_parse(spec, &ns, err);
        if (r == 0)
                r = rt_userns_prepare(spec, &ns, err);
        if (r < 0) {
                rt_ns_close(&ns);
                rt_container_free(c);
                return r;
        }
        c->has_userns = ns.fd[RT_NS_USER] >= 0;
        json_t *lnx = json_object_get(spec, "linux");
        json_t *profile = json_object_get(lnx, "seccomp");
        if (json_is_object(profile)) {
                r = rt_seccomp_compile(profile, &c->seccomp, NULL, err);
                if (r < 0)
                        goto fail;
        }
        trace_mark("shim seccomp filter ready");
        const char *cg_path = json_string_value(json_object_get(lnx, "cgroupsPath"));
        if (!cg_path || !cg_path[0]) {
                if (asprintf(&default_path, "/berth/%s", id) < 0) {
                        r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        goto fail;
                }
                cg_path = default_path;
        }
        r = rt_cgroup_open("/sys/fs/cgroup", cg_path, &c->cg, err);
        if (r == 0)
                r = rt_cgroup_create(c->cg, json_object_get(lnx, "resources"), err);
        if (r < 0)
                r = cgroup_unavailable(c, json_object_get(lnx, "resources"), r, err);
        if (r < 0)
                goto fail;
        /* cgroup v2 without a device program (the kernel or our user namespace runs none):
         * fail closed. Unless the container may use every device anyway (--privileged), it
         * loses CAP_MKNOD, so it cannot make nodes for host devices the rules would deny. */
        c->drop_mknod = (r > 0 || !c->cg) && !devices_all_allowed(json_object_get(lnx, "resources"));
        trace_mark("shim cgroup created");

        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
                r = berr_sys(err, BERR_INTERNAL, "socketpair");
                goto fail;
        }
        struct child_ctx cc = {
                .spec = spec, .process = process, .rootfs = rootfs, .io = io, .sync_fd = sp[1],
                .ns = &ns, .cg = c->cg, .seccomp = c->seccomp, .cgroup_msg = true, .drop_mknod = c->drop_mknod,
                .has_userns = c->has_userns,
        };
        c->sync_fd = sp[0];
        r = spawn(&cc, &ns, -1, sp[0], &c->pid, &c->pidfd, err);
        (void) close(sp[1]);
        if (r < 0)
                goto fail;
        trace_mark("shim init forked");
        /* GO first: the child sets up its namespaces and root while we attach it to the
         * cgroup (the first write to a v1 cgroup.procs can wait for an RCU grace period);
         * it waits for CGROUP before a new cgroup namespace and before READY. */
        r = sync_send(c->sync_fd, RT_SYNC_GO, NULL);
        if (r < 0) {
                errno = -r;
                r = berr_sys(err, BERR_INTERNAL, "start the container's process");
        }
        if (r == 0 && c->cg)
                r = rt_cgroup_add_pid(c->cg, c->pid, err);
        trace_mark("shim init added to the cgroup");
        /* A child that already failed has gone: EPIPE here, and wait_ready reads its ERROR. */
        if (r == 0)
                (void) sync_send(c->sync_fd, RT_SYNC_CGROUP, NULL);
        /* start_early: START right behind CGROUP, as an exec's goes behind GO; the init reads
         * it after READY. Not when the init forks into its pid namespace (rootless): the
         * socket is read by its child after the fork, and the pid comes first. */
        if (r == 0 && start_early && !ns.pid_in_child) {
                (void) sync_send(c->sync_fd, RT_SYNC_START, NULL); /* EPIPE: wait_ready reads the ERROR */
                c->start_sent = true;
        }
        if (r == 0 && ns.pid_in_child)
                r = wait_forked_pid(c->sync_fd, &c->pid, &c->pidfd, err);
        if (r == 0)
                r = wait_ready(c->sync_fd, &c->console, err);
        trace_mark("shim READY received");
        if (r == 0 && io->terminal && io->console_in_container && c->console < 0)
                r = berr_set(err, BERR_INTERNAL, EBADMSG, "the container's process sent no console");
        if (r < 0)
                goto fail;
        rt_ns_close(&ns);
        *ret = c;
        return 0;
fail:
        rt_ns_close(&ns);
        if (c->pid > 0)
                kill_and_reap(c->pid, c->pidfd);
        c->pid = 0;
        if (c->cg) {
                struct berr e2;
                if (rt_cgroup_kill_all(c->cg, DESTROY_TIMEOUT_MS, &e2) < 0 || rt_cgroup_remove(c->cg, &e2) < 0)
                        log_debug("cleanup after failed create: %s", e2.msg);
        }
        rt_container_free(c);
        return r;
}

int rt_container_start(struct rt_container *c, struct berr *err) {
        if (c->started || c->sync_fd < 0)
                return berr_set(err, BERR_CONFLICT, EALREADY, "container %s already started", c->id);
        c->started = true;
        int r = c->start_sent ? 0 : sync_send(c->sync_fd, RT_SYNC_START, NULL);
        if (r < 0) {
                errno = -r;
                r = berr_sys(err, BERR_INTERNAL, "start container %s", c->id);
        } else
                r = wait_exec(c->sync_fd, err);
        (void) close(c->sync_fd);
        c->sync_fd = -1;
        return r;
}

pid_t rt_container_pid(const struct rt_container *c) {
        return c->pid;
}

int rt_container_pidfd(const struct rt_container *c) {
        return c->pidfd;
}

int rt_container_console(const struct rt_container *c) {
        return c->console;
}

#define EXEC_SETUP_TIMEOUT_S 30

int rt_container_exec(struct rt_container *c, const json_t *process, const struct rt_stdio *io, pid_t *ret_pid,
                      int *ret_pidfd, int *ret_console, struct berr *err) {
        if (!json_is_object(process))
                return berr_set(err, BERR_INVALID, EINVAL, "exec: no process");
        if (c->pid <= 0 || c->pidfd < 0)
                return berr_set(err, BERR_CONFLICT, ESRCH, "container %s is not running", c->id);
        bool console = io && io->terminal && io->console_in_container;
        if (console && !ret_console)
                return berr_set(err, BERR_INVALID, EINVAL, "exec: a console needs somewhere to go");
        if (ret_console)
                *ret_console = -1;
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return berr_sys(err, BERR_INTERNAL, "socketpair");
        _cleanup_close_ int fd = sp[0];
        struct rt_namespaces none;
        memset(&none, 0, sizeof(none));
        for (int i = 0; i < _RT_NS_MAX; i++)
                none.fd[i] = -1;
        struct child_ctx cc = {
                .is_exec = true, .spec = NULL, .process = process, .io = io, .sync_fd = sp[1],
                .ns = &none, .cg = c->cg, .seccomp = c->seccomp, .init_pid = c->pid, .init_pidfd = c->pidfd,
                .drop_mknod = c->drop_mknod, .has_userns = c->has_userns,
                /* rootless: the shim could not return to its own pid namespace */
                .exec_pid_in_child = rt_in_user_namespace(),
        };
        pid_t pid = 0;
        int pidfd = -1;
        int r = spawn(&cc, &none, cc.exec_pid_in_child ? -1 : c->pidfd, sp[0], &pid, &pidfd, err);
        (void) close(sp[1]);
        if (r < 0)
                return r;
        trace_mark("shim exec forked");
        /* The caller (the shim) serves every other request of the container from one
         * thread: a process that never gets ready must not hold it for ever. */
        struct timeval tv = { .tv_sec = EXEC_SETUP_TIMEOUT_S };
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        /* GO first, as for create: the process joins the container's namespaces while we
         * attach it to the cgroup (a v1 cgroup.procs write can wait for an RCU grace
         * period). It is in the cgroup before START, so before its execve.
         * A process that forks into the pid namespace (rootless) is attached first: its
         * child must be born in the cgroup. */
        struct berr cg_err = { 0 };
        int cg_r = 0;
        bool cg_first = cc.exec_pid_in_child;
        if (cg_first && c->cg)
                cg_r = rt_cgroup_add_pid(c->cg, pid, &cg_err);
        r = sync_send(fd, RT_SYNC_GO, NULL) < 0 ? berr_sys(err, BERR_INTERNAL, "start the exec process") : 0;
        if (!cg_first && r == 0 && c->cg)
                cg_r = rt_cgroup_add_pid(c->cg, pid, &cg_err);
        trace_mark("shim exec added to the cgroup");
        /* START right behind GO once the process is in the cgroup: it finds START waiting
         * when it has set up and execve's without a round trip through us (the caller
         * watches its output from before, shim/exec.c). Not when it forks into the pid
         * namespace (rootless): its child reads the socket after the fork. */
        bool started = false;
        if (r == 0 && cg_r == 0 && !cc.exec_pid_in_child) {
                /* EPIPE: it failed already; wait_ready reads its ERROR, the better message */
                (void) sync_send(fd, RT_SYNC_START, NULL);
                started = true;
        }
        int master = -1;
        if (r == 0 && cc.exec_pid_in_child)
                r = wait_forked_pid(fd, &pid, &pidfd, err);
        if (r == 0)
                r = wait_ready(fd, console ? &master : NULL, err); /* a setup error is the better message */
        if (r == 0 && cg_r < 0) {
                *err = cg_err;
                r = cg_r;
        }
        if (r == 0 && console && master < 0)
                r = berr_set(err, BERR_INTERNAL, EBADMSG, "the exec process sent no console");
        if (r == 0 && !started && sync_send(fd, RT_SYNC_START, NULL) < 0)
                r = berr_sys(err, BERR_INTERNAL, "start the exec process");
        trace_mark("shim exec READY received");
        if (r == 0)
                r = wait_exec(fd, err);
        if (r < 0) {
                kill_and_reap(pid, pidfd);
                (void) close(pidfd);
                if (master >= 0)
                        (void) close(master);
                return r;
        }
        *ret_pid = pid;
        *ret_pidfd = pidfd;
        if (ret_console)
                *ret_console = master;
        return 0;
}

int rt_container_kill(struct rt_container *c, int sig, bool all, struct berr *err) {
        if (all && c->cg) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0;
                int r = rt_cgroup_pids(c->cg, &pids, &n, err);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++)
                        if (pids[i] > 0 && kill(pids[i], sig) < 0 && errno != ESRCH)
                                return berr_sys(err, BERR_INTERNAL, "kill %d", (int) pids[i]);
                return 0;
        }
        if (c->pidfd < 0)
                return berr_set(err, BERR_CONFLICT, ESRCH, "container %s is not running", c->id);
        if (pidfd_send_signal(c->pidfd, sig, NULL, 0) < 0)
                return berr_sys(err, errno == ESRCH ? BERR_CONFLICT : BERR_INTERNAL, "kill container %s", c->id);
        return 0;
}

int rt_container_pause(struct rt_container *c, bool pause, struct berr *err) {
        if (!c->cg)
                return berr_set(err, BERR_UNAVAILABLE, ENOTSUP, "container %s has no cgroup: pause is not possible", c->id);
        return rt_cgroup_freeze(c->cg, pause, err);
}

bool rt_container_oom_killed(struct rt_container *c) {
        return c->cg && rt_cgroup_oom_killed(c->cg);
}

bool rt_cgroup_path_oom_killed(const char *root, const char *cgroups_path) {
        struct rt_cgroup *cg = NULL;
        struct berr e = { 0 };
        if (rt_cgroup_open(root, cgroups_path, &cg, &e) < 0)
                return false;
        bool oom = rt_cgroup_oom_killed(cg);
        rt_cgroup_free(cg);
        return oom;
}

int rt_container_destroy(struct rt_container *c, struct berr *err) {
        if (!c->cg)
                return 0;
        int r = rt_cgroup_kill_all(c->cg, DESTROY_TIMEOUT_MS, err);
        if (r == 0)
                r = rt_cgroup_remove(c->cg, err);
        return r < 0 ? berr_wrap(err, "destroy container %s", c->id) : 0;
}

struct rt_container *rt_container_free(struct rt_container *c) {
        if (!c)
                return NULL;
        if (c->pidfd >= 0)
                (void) close(c->pidfd);
        if (c->sync_fd >= 0)
                (void) close(c->sync_fd);
        if (c->console >= 0)
                (void) close(c->console);
        rt_cgroup_free(c->cg);
        free(c->id);
        free(c);
        return NULL;
}
