/* signals.c - the signal name table. */
#include "signals.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
        const char *name;
        int num;
} table[] = {
        { "ABRT", SIGABRT }, { "ALRM", SIGALRM }, { "BUS", SIGBUS }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },
        { "FPE", SIGFPE }, { "HUP", SIGHUP }, { "ILL", SIGILL }, { "INT", SIGINT }, { "IO", SIGIO },
        { "IOT", SIGIOT }, { "KILL", SIGKILL }, { "PIPE", SIGPIPE }, { "PROF", SIGPROF }, { "PWR", SIGPWR },
        { "QUIT", SIGQUIT }, { "SEGV", SIGSEGV }, { "STKFLT", SIGSTKFLT }, { "STOP", SIGSTOP }, { "SYS", SIGSYS },
        { "TERM", SIGTERM }, { "TRAP", SIGTRAP }, { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },
        { "URG", SIGURG }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "VTALRM", SIGVTALRM },
        { "WINCH", SIGWINCH }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
};

int signal_parse(const char *s) {
        if (!s || !*s)
                return -1;
        char *end;
        long n = strtol(s, &end, 10);
        if (*end == '\0')
                return n > 0 && n <= SIGRTMAX ? (int) n : -1;
        const char *bare = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                if (strcasecmp(bare, table[i].name) == 0)
                        return table[i].num;
        if (strncasecmp(bare, "RTMIN", 5) == 0 || strncasecmp(bare, "RTMAX", 5) == 0) {
                int base = strncasecmp(bare, "RTMIN", 5) == 0 ? SIGRTMIN : SIGRTMAX;
                if (!bare[5])
                        return base;
                long off = strtol(bare + 5, &end, 10);
                /* bound the offset first: RTMIN+LONG_MAX must not overflow */
                if (*end == '\0' && off >= -64 && off <= 64 && base + off >= SIGRTMIN && base + off <= SIGRTMAX)
                        return (int) (base + off);
        }
        return -1;
}
