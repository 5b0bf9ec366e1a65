/* dns_main.c - berth-dns: answers a container's embedded DNS queries while berthd is down.
 *
 * Started by the container's shim (dns_keep.c) when berthd's last watch connection closes,
 * with the UDP socket bound to 127.0.0.11:53 in the container's namespace on fd 3 and the
 * bundle directory on fd 4; killed when berthd takes the socket back, and with the shim.
 * It answers A, AAAA and PTR from the bundle's SHIM_DNS_NAMES snapshot (re-read when it
 * changes) and nothing else. A program of its own so that the shim, which lives as long
 * as its container, links neither ldns nor the OpenSSL it brings (~0.5 MB of private
 * memory per shim), and so that a fault here cannot take the container's supervisor down. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "dns_names.h"
#include "protocol.h"

#define SOCK_FD 3
#define BUNDLE_FD 4
#define NAMES_MAX_BYTES (4 << 20)

static struct dns_names names;
static struct stat names_st;

static void names_reload(void) {
        struct stat st;
        if (fstatat(BUNDLE_FD, SHIM_DNS_NAMES, &st, 0) < 0)
                memset(&st, 0, sizeof(st));
        if (st.st_ino == names_st.st_ino && st.st_size == names_st.st_size &&
            st.st_mtim.tv_sec == names_st.st_mtim.tv_sec && st.st_mtim.tv_nsec == names_st.st_mtim.tv_nsec)
                return;
        dns_names_free(&names);
        names_st = st;
        char *text = NULL;
        size_t len = 0;
        struct berr err = { 0 };
        if (st.st_ino && fs_read_file(BUNDLE_FD, SHIM_DNS_NAMES, NAMES_MAX_BYTES, &text, &len, &err) == 0 &&
            dns_names_parse(&names, text) < 0)
                dns_names_free(&names);
}

int main(int argc, char **argv) {
        int type = 0;
        socklen_t tl = sizeof(type);
        if (argc != 1 || getsockopt(SOCK_FD, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_DGRAM ||
            fcntl(BUNDLE_FD, F_GETFD) < 0) {
                fprintf(stderr, "usage: berth-dns (started by berth-shim: a UDP socket on fd 3, the bundle on fd 4)\n");
                return 2;
        }
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
                return 0; /* the shim is gone already */
        for (;;) {
                struct pollfd p = { .fd = SOCK_FD, .events = POLLIN };
                if (poll(&p, 1, -1) < 0 && errno != EINTR)
                        return 1;
                uint8_t buf[4096];
                struct sockaddr_storage from;
                socklen_t fromlen = sizeof(from);
                ssize_t len = recvfrom(SOCK_FD, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *) &from, &fromlen);
                if (len < 0)
                        continue;
                names_reload();
                size_t wlen = 0;
                _cleanup_free_ uint8_t *wire = dns_names_answer(&names, buf, (size_t) len, &wlen);
                if (wire)
                        (void) sendto(SOCK_FD, wire, wlen, MSG_DONTWAIT, (struct sockaddr *) &from, fromlen);
        }
}
