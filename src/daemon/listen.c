/* listen.c - parse -H host specs and open the listening sockets. */
#include "listen.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "rootless.h"

/* Connections waiting to be accepted. Each accepted connection costs the API server a
 * thread start, so a burst of clients can outrun it; with a short queue the next client's
 * non-blocking connect (the Go client's) fails with EAGAIN. Go's own listeners take the
 * kernel's maximum (net.core.somaxconn, 4096 by default); so do we (the kernel caps it). */
#define LISTEN_BACKLOG 4096


static int is_loopback(const char *addr) {
        struct in_addr a4;
        struct in6_addr a6;
        if (inet_pton(AF_INET, addr, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        if (inet_pton(AF_INET6, addr, &a6) == 1)
                return IN6_IS_ADDR_LOOPBACK(&a6);
        return 0;
}

int host_spec_parse(const char *spec, const char *default_unix_path, struct host_spec *ret, struct berr *err) {
        struct host_spec h = { .fd = -1 };
        if (STREQ(spec, "") || STREQ(spec, "unix://"))
                spec = default_unix_path;
        if (strncmp(spec, "unix://", 7) == 0 || spec[0] == '/') {
                const char *p = spec[0] == '/' ? spec : spec + 7;
                if (p[0] != '/')
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid bind address (%s): unix socket path must be absolute", spec);
                if (strlen(p) >= sizeof(h.path))
                        return berr_set(err, BERR_INVALID, ENAMETOOLONG,
                                        "invalid bind address (%s): unix socket path longer than %zu bytes", spec,
                                        sizeof(h.path) - 1);
                h.proto = HOST_UNIX;
                strcpy(h.path, p);
        } else if (strncmp(spec, "tcp://", 6) == 0) {
                const char *hp = spec + 6;
                const char *colon = strrchr(hp, ':');
                if (!colon)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid bind address (%s): missing port", spec);
                size_t alen = (size_t) (colon - hp);
                if (alen >= 2 && hp[0] == '[' && hp[alen - 1] == ']') {
                        hp++;
                        alen -= 2;
                }
                if (alen >= sizeof(h.addr))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid bind address (%s)", spec);
                memcpy(h.addr, hp, alen);
                h.addr[alen] = '\0';
                if (alen == 0)
                        strcpy(h.addr, "0.0.0.0");
                if (STREQ(h.addr, "localhost"))
                        strcpy(h.addr, "127.0.0.1");
                char *end;
                unsigned long port = strtoul(colon + 1, &end, 10);
                if (!colon[1] || *end || port == 0 || port > 65535)
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid bind address (%s): bad port", spec);
                h.is_loopback = is_loopback(h.addr);
                h.proto = HOST_TCP;
                h.port = (unsigned) port;
        } else if (strncmp(spec, "fd://", 5) == 0) {
                h.proto = HOST_FD;
                if (spec[5]) {
                        char *end;
                        long fd = strtol(spec + 5, &end, 10);
                        if (*end || fd < 3)
                                return berr_set(err, BERR_INVALID, EINVAL, "invalid bind address (%s): bad fd", spec);
                        h.fd = (int) fd;
                }
        } else
                return berr_set(err, BERR_INVALID, EINVAL,
                                "invalid bind address (%s): only unix://, tcp:// and fd:// are supported", spec);
        *ret = h;
        return 0;
}

int host_check_plain_tcp(const char *spec_text, const struct host_spec *spec, bool tls_off_explicitly,
                         struct berr *err) {
        if (spec->proto != HOST_TCP || spec->is_loopback || tls_off_explicitly)
                return 0;
        /* dockerd (23+) slows its start by 15 s here and says the support will go; berth
         * refuses outright: whoever reaches this port is root on the host. */
        return berr_set(err, BERR_INVALID, EPERM,
                        "refusing to listen on %s without TLS: binding to an IP address without --tlsverify is insecure "
                        "and gives root access on this machine to everyone who has access to your network; use "
                        "--tlsverify (with --tlscacert, --tlscert, --tlskey), or override this by explicitly specifying "
                        "'--tls=false'",
                        spec_text);
}

#define PEM_MAX_BYTES (1u << 20)

static int read_pem(const char *path, char **ret, struct berr *err) {
        size_t len;
        int r = fs_read_file(AT_FDCWD, path, PEM_MAX_BYTES, ret, &len, err);
        if (r < 0)
                return r;
        if (strlen(*ret) != len) { /* a NUL inside: not PEM */
                free(*ret);
                *ret = NULL;
                return berr_set(err, BERR_INVALID, EINVAL, "%s: not a PEM file", path);
        }
        return 0;
}

/* OpenSSL parses here only to give a clear message at start; GnuTLS (libmicrohttpd's) is
 * what serves. */
static int check_key_pair(const char *cert_file, const char *cert_pem, const char *key_file, const char *key_pem,
                          struct berr *err) {
        BIO *b = BIO_new_mem_buf(cert_pem, -1);
        X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        b = BIO_new_mem_buf(key_pem, -1);
        EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        int r = 0;
        if (!x)
                r = berr_set(err, BERR_INVALID, EINVAL, "could not load X509 key pair (cert: \"%s\", key: \"%s\"): "
                             "failed to find any PEM data in certificate input", cert_file, key_file);
        else if (!k)
                r = berr_set(err, BERR_INVALID, EINVAL, "could not load X509 key pair (cert: \"%s\", key: \"%s\"): "
                             "failed to find any PEM data in key input (is the key encrypted?)", cert_file, key_file);
        else if (X509_check_private_key(x, k) != 1)
                r = berr_set(err, BERR_INVALID, EINVAL, "could not load X509 key pair (cert: \"%s\", key: \"%s\"): "
                             "private key does not match public key", cert_file, key_file);
        X509_free(x);
        EVP_PKEY_free(k);
        ERR_clear_error();
        return r;
}

static int check_ca(const char *ca_file, const char *ca_pem, struct berr *err) {
        BIO *b = BIO_new_mem_buf(ca_pem, -1);
        X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        bool ok = x != NULL;
        X509_free(x);
        ERR_clear_error();
        return ok ? 0 : berr_set(err, BERR_INVALID, EINVAL, "failed to append certificates from PEM file: \"%s\"", ca_file);
}

void host_tls_done(struct host_tls *t) {
        if (!t)
                return;
        free(t->cert_pem);
        if (t->key_pem) { /* a private key: leave no copy in freed memory */
                explicit_bzero(t->key_pem, strlen(t->key_pem));
                free(t->key_pem);
        }
        free(t->ca_pem);
        memset(t, 0, sizeof(*t));
}

/* GnuTLS computes with GMP (through nettle), and GMP calls the allocator last given to
 * mp_set_memory_functions. libnftables sets its own each time it starts, and berth's
 * firewall code loads and unloads libnftables for each batch (network/firewall.c): GMP is
 * then left calling into unmapped code, and the first TLS handshake (or key import)
 * crashes berthd. So, once TLS is on: libnftables stays loaded for good (RTLD_NODELETE, so
 * the allocator it installs stays callable) and GMP gets its default allocator back now. */
static void keep_gmp_allocator_valid(void) {
        void *h = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
        (void) h; /* not installed: then it cannot break GMP either; the handle is never closed */
        void (*set_memory_functions)(void *, void *, void *) =
                (void (*)(void *, void *, void *)) dlsym(RTLD_DEFAULT, "__gmp_set_memory_functions");
        if (set_memory_functions)
                set_memory_functions(NULL, NULL, NULL);
}

int host_tls_load(const char *ca_file, const char *cert_file, const char *key_file, bool verify_clients,
                  struct host_tls *ret, struct berr *err) {
        struct host_tls t = { 0 };
        int r;
        keep_gmp_allocator_valid();
        if ((r = read_pem(cert_file, &t.cert_pem, err)) < 0 || (r = read_pem(key_file, &t.key_pem, err)) < 0 ||
            (r = check_key_pair(cert_file, t.cert_pem, key_file, t.key_pem, err)) < 0)
                goto fail;
        if (verify_clients) {
                if ((r = read_pem(ca_file, &t.ca_pem, err)) < 0) {
                        (void) berr_wrap(err, "could not read CA certificate \"%s\"", ca_file);
                        goto fail;
                }
                if ((r = check_ca(ca_file, t.ca_pem, err)) < 0)
                        goto fail;
        }
        *ret = t;
        return 0;
fail:
        host_tls_done(&t);
        return berr_wrap(err, "invalid TLS configuration");
}

static int listen_unix(const struct host_spec *spec, struct berr *err) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strcpy(sa.sun_path, spec->path);

        struct stat st;
        if (lstat(spec->path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return berr_set(err, BERR_CONFLICT, EEXIST, "cannot listen on %s: the path exists and is not a socket",
                                        spec->path);
                _cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (probe < 0)
                        return berr_sys(err, BERR_INTERNAL, "socket");
                if (connect(probe, (struct sockaddr *) &sa, sizeof(sa)) == 0)
                        return berr_set(err, BERR_CONFLICT, EADDRINUSE,
                                        "cannot listen on unix://%s: another daemon is already serving it", spec->path);
                if (unlink(spec->path) < 0 && errno != ENOENT)
                        return berr_sys(err, BERR_INTERNAL, "remove stale socket %s", spec->path);
        }

        char dir[sizeof(spec->path)];
        strcpy(dir, spec->path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                int r = fs_mkdir_p(dir, 0711, err);
                if (r < 0)
                        return r;
        }

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "socket");
        /* Create it without group/other bits so there is no window with a wider mode. */
        mode_t old = umask(0177);
        int b = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old);
        if (b < 0)
                return berr_sys(err, BERR_INTERNAL, "bind unix://%s", spec->path);
        /* rootless: the user's socket (the host's "docker" group means nothing in our namespace) */
        struct group *g = rootless_is_child() && !spec->group ? NULL : getgrnam(spec->group ? spec->group : "docker");
        struct group by_number;
        char *end = NULL;
        if (!g && spec->group && (by_number.gr_gid = (gid_t) strtoul(spec->group, &end, 10), *spec->group && !*end))
                g = &by_number;
        if (!g && spec->group) /* only the default group may be missing */
                return berr_set(err, BERR_INVALID, ENOENT, "can't create unix socket %s: group %s not found", spec->path,
                                spec->group);
        if (g && chown(spec->path, 0, g->gr_gid) < 0)
                return berr_sys(err, BERR_INTERNAL, "chown %s", spec->path);
        if (chmod(spec->path, g ? 0660 : 0600) < 0)
                return berr_sys(err, BERR_INTERNAL, "chmod %s", spec->path);
        if (listen(fd, LISTEN_BACKLOG) < 0)
                return berr_sys(err, BERR_INTERNAL, "listen unix://%s", spec->path);
        return TAKE_FD(fd);
}

static int listen_tcp(const struct host_spec *spec, struct berr *err) {
        struct sockaddr_storage ss = { 0 };
        socklen_t len;
        int family;
        struct sockaddr_in *s4 = (struct sockaddr_in *) &ss;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &ss;
        if (inet_pton(AF_INET, spec->addr, &s4->sin_addr) == 1) {
                family = s4->sin_family = AF_INET;
                s4->sin_port = htons((uint16_t) spec->port);
                len = sizeof(*s4);
        } else if (inet_pton(AF_INET6, spec->addr, &s6->sin6_addr) == 1) {
                family = s6->sin6_family = AF_INET6;
                s6->sin6_port = htons((uint16_t) spec->port);
                len = sizeof(*s6);
        } else
                return berr_set(err, BERR_INVALID, EINVAL, "bad address %s", spec->addr);
        /* rootless: on the host's addresses, not in berthd's network namespace */
        _cleanup_close_ int fd = rootless_host_socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                errno = -fd;
                return berr_sys(err, BERR_INTERNAL, "socket");
        }
        int one = 1;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); /* only speeds restarts */
        if (bind(fd, (struct sockaddr *) &ss, len) < 0)
                return berr_sys(err, errno == EADDRINUSE ? BERR_CONFLICT : BERR_INTERNAL, "bind tcp://%s:%u", spec->addr,
                                spec->port);
        if (listen(fd, LISTEN_BACKLOG) < 0)
                return berr_sys(err, BERR_INTERNAL, "listen tcp://%s:%u", spec->addr, spec->port);
        return TAKE_FD(fd);
}

/* Sockets passed by systemd socket activation: fds 3..3+LISTEN_FDS-1 for our pid. */
static int listen_fd(const struct host_spec *spec, int *fds, size_t max, struct berr *err) {
        const char *pid = getenv("LISTEN_PID"), *n = getenv("LISTEN_FDS");
        if (!pid || !n || strtol(pid, NULL, 10) != (long) getpid())
                return berr_set(err, BERR_INVALID, ENOENT, "fd://: no sockets were passed by the service manager");
        long count = strtol(n, NULL, 10);
        if (count <= 0)
                return berr_set(err, BERR_INVALID, ENOENT, "fd://: no sockets were passed by the service manager");
        size_t got = 0;
        for (long i = 0; i < count && got < max; i++) {
                int fd = 3 + (int) i;
                if (spec->fd >= 0 && fd != spec->fd)
                        continue;
                (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
                fds[got++] = fd;
        }
        if (got == 0)
                return berr_set(err, BERR_INVALID, ENOENT, "fd://%d was not passed by the service manager", spec->fd);
        return (int) got;
}

int host_listen(const struct host_spec *spec, int *fds, size_t max, struct berr *err) {
        if (max == 0)
                return berr_set(err, BERR_INVALID, E2BIG, "too many listeners");
        int fd;
        switch (spec->proto) {
        case HOST_UNIX: fd = listen_unix(spec, err); break;
        case HOST_TCP: fd = listen_tcp(spec, err); break;
        case HOST_FD: return listen_fd(spec, fds, max, err);
        default: return berr_set(err, BERR_INTERNAL, EINVAL, "bad host spec");
        }
        if (fd < 0)
                return fd;
        fds[0] = fd;
        return 1;
}
