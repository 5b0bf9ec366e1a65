/* main.c - berthd: parse flags and daemon.json, open the daemon, serve the Docker Engine
 * API until SIGTERM or SIGINT. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "common/buildinfo.h"
#include "common/err.h"
#include "common/log.h"
#include "daemon/check.h"
#include "daemon/config.h"
#include "daemon/container.h"
#include "daemon/daemon.h"
#include "daemon/metrics_server.h"
#include "daemon/notify.h"
#include "daemon/reload.h"
#include "daemon/rootless.h"

/* Each API connection is a descriptor (and a streaming one often two), and the usual soft
 * limit of 1,024 is what let a thousand idle clients lock everyone out. Raise the soft
 * limit to the hard one, as Go programs (dockerd among them) do at start. Children should
 * not inherit it: a container's default `ulimit -n` stays what berthd was started with, so
 * the original value goes to berth-shim in BERTH_NOFILE_SOFT and the shim restores it. */
static void raise_nofile_limit(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == rl.rlim_max)
                return;
        char orig[32];
        snprintf(orig, sizeof(orig), "%llu", (unsigned long long) rl.rlim_cur);
        rlim_t cur = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
                log_warn("cannot raise the open-file limit from %llu: %s", (unsigned long long) cur, strerror(errno));
                return;
        }
        if (setenv("BERTH_NOFILE_SOFT", orig, 1) < 0)
                log_warn("cannot pass the open-file limit on to containers: %s", strerror(errno));
}

static int fail(const char *msg) {
        fprintf(stderr, "berthd: %s\n", msg);
        return 1;
}

/* dockerd's shutdown-timeout: a shutdown that takes longer is forced (-1: no limit). */
static void *shutdown_watchdog(void *arg) {
        int secs = *(int *) arg;
        struct timespec ts = { .tv_sec = secs };
        while (nanosleep(&ts, &ts) < 0)
                ;
        log_error("Force shutdown daemon: not done after shutdown-timeout (%d s)", secs);
        _exit(1);
        return NULL;
}

int main(int argc, char **argv) {
        struct daemon d = { .pidfile_fd = -1 };
        struct berr err = { 0 };
        int r;

        /* Every connection is a thread; left to itself glibc gives threads their own malloc
         * arenas (up to 8 per core), and each keeps the memory it once held. Two arenas keep
         * the daemon's RSS flat as containers and clients come and go. */
        mallopt(M_ARENA_MAX, 2);
        /* A fixed mmap threshold: large blocks (a listing of 1,000 containers is ~1 MB of
         * text) are mapped and unmapped on their own. Left dynamic, glibc raises the
         * threshold to the largest block freed and the trim threshold to twice that, and a
         * second arena's top then keeps megabytes resident after one listing (measured:
         * 2.7 MB at 1,000 containers, bench/README.md). */
        mallopt(M_MMAP_THRESHOLD, 128 << 10);

        /* berthd --check [--repair]: its own flags, taken out before dockerd's are parsed. */
        struct check_opts check;
        int want_check = daemon_check_args(&argc, argv, &check, &err);
        if (want_check < 0) {
                fprintf(stderr, "berthd: %s\nSee 'berthd --help'.\n", err.msg);
                return 125;
        }
        daemon_config_init(&d.cfg);
        r = daemon_config_parse_args(&d.cfg, argc, argv, &err);
        if (r < 0) {
                daemon_config_done(&d.cfg);
                fprintf(stderr, "berthd: %s\nSee 'berthd --help'.\n", err.msg);
                return 125;
        }
        if (d.cfg.show_help) {
                fputs(daemon_config_usage(), stdout);
                daemon_config_done(&d.cfg);
                return 0;
        }
        if (d.cfg.show_version) {
                printf("berth version %s, build %s\n", berth_version, berth_git_commit);
                daemon_config_done(&d.cfg);
                return 0;
        }
        /* An unprivileged user's berthd runs itself again in a user namespace of the
         * user's subordinate ids (rootless.c), with dockerd-rootless's paths. */
        d.rootless = rootless_is_child();
        if (d.rootless)
                rootless_child_init();
        r = geteuid() != 0 || d.rootless ? rootless_defaults(&d.cfg, &err) : 0;
        if (r == 0)
                r = daemon_config_finish(&d.cfg, &err);
        if (r == 0 && d.rootless && d.cfg.userns_remap)
                r = berr_set(&err, BERR_INVALID, EINVAL, "--userns-remap is not supported in rootless mode");
        if (r == 0)
                r = daemon_opts_start(&d.cfg, &err);
        if (r < 0) {
                daemon_config_done(&d.cfg);
                return fail(err.msg);
        }
        if (d.cfg.o14.validate) { /* dockerd --validate */
                fprintf(stderr, "configuration OK\n");
                daemon_config_done(&d.cfg);
                return 0;
        }
        if (geteuid() != 0) { /* the unprivileged parent: it waits for the berthd inside */
                r = rootless_run(argv, d.cfg.exec_root, &err);
                daemon_config_done(&d.cfg);
                return r < 0 ? fail(err.msg) : r;
        }
        log_set_level(d.cfg.log_level);
        if (want_check) {
                r = daemon_check(&d.cfg, &check, &err);
                daemon_config_done(&d.cfg);
                if (r < 0) {
                        fprintf(stderr, "berthd: %s\n", err.msg);
                        return 2;
                }
                return r; /* 1: inconsistent */
        }
        log_info("Starting up");
        raise_nofile_limit(); /* before any thread: setenv is not thread-safe */

        /* Signals are taken synchronously by this thread; block them before any thread
         * exists so every thread inherits the mask. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);

        int status = 1;
        struct api_server *srv = NULL;
        struct metrics_server *metrics = NULL;
        int fds[DAEMON_MAX_HOSTS * 4];
        size_t n_fds = 0;
        r = daemon_open(&d, &err);
        if (r < 0) {
                fail(err.msg);
                goto out;
        }
        r = daemon_open_listeners(&d, fds, sizeof(fds) / sizeof(fds[0]), &n_fds, &err);
        if (r < 0) {
                fail(err.msg);
                goto out;
        }
        r = api_start(&d, fds, n_fds, &srv, &err);
        if (r < 0) {
                fail(err.msg);
                goto out;
        }
        r = metrics_server_start(&d, &metrics, &err);
        if (r < 0) {
                fail(err.msg);
                goto out;
        }
        log_info("Daemon has completed initialization");
        if ((r = daemon_notify("READY=1")) < 0)
                log_warn("cannot notify the service manager: %s", strerror(-r));

        for (;;) {
                int sig = 0;
                if (sigwait(&set, &sig) != 0)
                        continue;
                if (sig == SIGHUP) {
                        /* Running containers are not touched; a bad file keeps the old
                         * configuration (logged by daemon_reload). */
                        (void) daemon_notify_reloading();
                        (void) daemon_reload(&d, argc, argv);
                        (void) daemon_notify("READY=1");
                        continue;
                }
                log_info("Processing signal '%s'", sig == SIGTERM ? "terminated" : "interrupt");
                break;
        }
        status = 0;
        (void) daemon_notify("STOPPING=1");
        static int timeout;
        timeout = d.cfg.o14.shutdown_timeout;
        pthread_t watchdog;
        if (timeout >= 0 && pthread_create(&watchdog, NULL, shutdown_watchdog, &timeout) == 0)
                pthread_detach(watchdog);
        /* rootless: the network namespace, its bridges and slirp4netns end with this
         * process; containers left running would be cut off from them */
        if (d.rootless && d.cfg.net.hostfwd_api)
                ctr_stop_all_for_shutdown(&d);
out:
        daemon_begin_shutdown(&d);
        metrics_server_stop(metrics);
        srv = api_server_stop(srv);
        daemon_close(&d);
        daemon_config_done(&d.cfg);
        if (status == 0)
                log_info("Daemon shutdown complete");
        return status;
}
