/* main.c - berth-init: the container's pid 1 for `docker run --init` (mounted read-only at
 * /sbin/docker-init, run as `docker-init -- CMD ARGS...`, as dockerd runs tini). It forks the
 * command, forwards every signal it receives to it, reaps every child the kernel re-parents
 * to it (pid 1 of a pid namespace inherits all orphans), and exits with the command's
 * status (128+N when a signal N ended it), as tini does.
 *
 * Statically linked and free of the rest of berth: it runs inside images that have no libc
 * (busybox). All signals stay blocked in this process and are taken with sigtimedwait, so
 * nothing is lost between a fork and a wait and no handler runs at an awkward moment. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INIT_VERSION "0.1.0"

/* Faults are about this process itself; blocking them would make a fault loop forever.
 * SIGTTIN/SIGTTOU are ignored so tcsetpgrp from the background works (tini does the same). */
static const int unblocked[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS, SIGTTIN, SIGTTOU };

static void usage(FILE *f) {
        fprintf(f, "usage: berth-init [--] COMMAND [ARG...]\n"
                   "Runs COMMAND as its child, forwards signals to it, reaps zombies, and exits with its status.\n");
}

/* In the child: a process group of its own, in the terminal's foreground if there is one,
 * and the signal state it would have had without us. */
static void __attribute__((noreturn)) exec_child(char **argv, const sigset_t *orig_mask) {
        if (setpgid(0, 0) < 0)
                fprintf(stderr, "berth-init: setpgid: %s\n", strerror(errno));
        /* ENOTTY/ENXIO: no terminal, nothing to hand over. */
        if (tcsetpgrp(STDIN_FILENO, getpgrp()) < 0 && errno != ENOTTY && errno != ENXIO && errno != EBADF)
                fprintf(stderr, "berth-init: tcsetpgrp: %s\n", strerror(errno));
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        (void) sigaction(SIGTTIN, &dfl, NULL);
        (void) sigaction(SIGTTOU, &dfl, NULL);
        (void) sigprocmask(SIG_SETMASK, orig_mask, NULL);
        execvp(argv[0], argv);
        int e = errno;
        fprintf(stderr, "berth-init: exec %s: %s\n", argv[0], strerror(e));
        _exit(e == ENOENT ? 127 : e == EACCES ? 126 : 1);
}

/* Reap every exited child; record the command's status. */
static void reap(pid_t child, bool *child_done, int *exit_code) {
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                if (pid <= 0)
                        return; /* 0: children left, none exited; -1 ECHILD: none left */
                if (pid != child)
                        continue;
                *child_done = true;
                if (WIFEXITED(status))
                        *exit_code = WEXITSTATUS(status);
                else if (WIFSIGNALED(status))
                        *exit_code = 128 + WTERMSIG(status);
        }
}

int main(int argc, char **argv) {
        int first = 1;
        if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-v") == 0)) {
                printf("berth-init version %s\n", INIT_VERSION);
                return 0;
        }
        if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
                usage(stdout);
                return 0;
        }
        if (argc > first && strcmp(argv[first], "--") == 0)
                first++;
        if (first >= argc) {
                usage(stderr);
                return 1;
        }
        /* Not pid 1 (run outside a pid namespace): orphans of the command come to us anyway. */
        if (getpid() != 1)
                (void) prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L);

        sigset_t all, orig;
        sigfillset(&all);
        for (size_t i = 0; i < sizeof(unblocked) / sizeof(unblocked[0]); i++)
                sigdelset(&all, unblocked[i]);
        if (sigprocmask(SIG_SETMASK, &all, &orig) < 0) {
                fprintf(stderr, "berth-init: sigprocmask: %s\n", strerror(errno));
                return 1;
        }
        struct sigaction ign = { .sa_handler = SIG_IGN };
        (void) sigaction(SIGTTIN, &ign, NULL);
        (void) sigaction(SIGTTOU, &ign, NULL);

        pid_t child = fork();
        if (child < 0) {
                fprintf(stderr, "berth-init: fork: %s\n", strerror(errno));
                return 1;
        }
        if (child == 0)
                exec_child(argv + first, &orig);

        bool child_done = false;
        int exit_code = 1;
        while (!child_done) {
                /* A timeout bounds how long a missed SIGCHLD could delay reaping. */
                struct timespec ts = { .tv_sec = 1 };
                siginfo_t si;
                int sig = sigtimedwait(&all, &si, &ts);
                if (sig < 0) {
                        if (errno != EAGAIN && errno != EINTR) {
                                fprintf(stderr, "berth-init: sigtimedwait: %s\n", strerror(errno));
                                return 1;
                        }
                } else if (sig != SIGCHLD) {
                        /* ESRCH: the command is gone and reaped below */
                        if (kill(child, sig) < 0 && errno != ESRCH)
                                fprintf(stderr, "berth-init: forward signal %d: %s\n", sig, strerror(errno));
                }
                reap(child, &child_done, &exit_code);
        }
        /* Zombies that are already there go with us; living orphans are killed with the
         * pid namespace when pid 1 exits. */
        bool ignored = false;
        int ignored_code = 0;
        reap(0, &ignored, &ignored_code);
        return exit_code;
}
