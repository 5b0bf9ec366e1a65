/* slirp.c - slirp4netns's API socket: one JSON request per connection, one JSON answer
 * ({"return": {...}} or {"error": {"desc": "..."}}), then slirp4netns closes it. */
#include "slirp.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"

#define SLIRP_ANSWER_MAX 4096

/* Send @req, the answer into *ret (0 or -errno; @msg says why). */
static int call(const char *api, json_t *req, json_t **ret, char *msg, size_t msg_size) {
        *ret = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(api) >= sizeof(sa.sun_path)) {
                snprintf(msg, msg_size, "API socket path too long");
                return -ENAMETOOLONG;
        }
        memcpy(sa.sun_path, api, strlen(api) + 1);
        _cleanup_free_ char *text = json_dumps(req, JSON_COMPACT);
        if (!text) {
                snprintf(msg, msg_size, "out of memory");
                return -ENOMEM;
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                snprintf(msg, msg_size, "socket: %s", strerror(errno));
                return -errno;
        }
        struct timeval tv = { .tv_sec = 5 };
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        int r = 0;
        size_t len = strlen(text), off = 0;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = -errno;
                snprintf(msg, msg_size, "connect %s: %s", api, strerror(errno));
        }
        while (r == 0 && off < len) {
                ssize_t w = send(fd, text + off, len - off, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        r = w < 0 ? -errno : -EIO;
                        snprintf(msg, msg_size, "write to %s: %s", api, strerror(-r));
                }
                off += w > 0 ? (size_t) w : 0;
        }
        if (r == 0)
                (void) shutdown(fd, SHUT_WR);
        char buf[SLIRP_ANSWER_MAX + 1];
        size_t n = 0;
        while (r == 0 && n < SLIRP_ANSWER_MAX) {
                ssize_t g = read(fd, buf + n, SLIRP_ANSWER_MAX - n);
                if (g < 0 && errno == EINTR)
                        continue;
                if (g < 0) {
                        r = -errno;
                        snprintf(msg, msg_size, "read from %s: %s", api, strerror(errno));
                }
                if (g <= 0)
                        break;
                n += (size_t) g;
        }
        close(fd);
        if (r < 0)
                return r;
        buf[n] = '\0';
        json_error_t je;
        json_t *ans = json_loadb(buf, n, 0, &je);
        if (!json_is_object(ans)) {
                json_decref(ans);
                snprintf(msg, msg_size, "slirp4netns gave no JSON answer");
                return -EPROTO;
        }
        json_t *e = json_object_get(ans, "error");
        if (e) {
                const char *d = json_string_value(json_object_get(e, "desc"));
                snprintf(msg, msg_size, "%s", d ? d : "slirp4netns refused");
                json_decref(ans);
                return -EADDRINUSE;
        }
        *ret = ans;
        return 0;
}

int slirp_hostfwd_add(const char *api, const char *proto, const char *host_addr, uint16_t port, int *ret_id,
                      char *msg, size_t msg_size) {
        *ret_id = -1;
        _cleanup_json_ json_t *req = json_pack("{s:s, s:{s:s, s:s, s:i, s:s, s:i}}", "execute", "add_hostfwd", "arguments",
                                               "proto", proto, "host_addr", host_addr, "host_port", (int) port,
                                               "guest_addr", SLIRP_GUEST_ADDR, "guest_port", (int) port);
        if (!req) {
                snprintf(msg, msg_size, "out of memory");
                return -ENOMEM;
        }
        _cleanup_json_ json_t *ans = NULL;
        int r = call(api, req, &ans, msg, msg_size);
        if (r < 0)
                return r;
        json_t *id = json_object_get(json_object_get(ans, "return"), "id");
        if (!json_is_integer(id)) {
                snprintf(msg, msg_size, "slirp4netns answered no forward id");
                return -EPROTO;
        }
        *ret_id = (int) json_integer_value(id);
        return 0;
}

int slirp_hostfwd_remove(const char *api, int id) {
        _cleanup_json_ json_t *req = json_pack("{s:s, s:{s:i}}", "execute", "remove_hostfwd", "arguments", "id", id);
        if (!req)
                return -ENOMEM;
        _cleanup_json_ json_t *ans = NULL;
        char msg[256];
        return call(api, req, &ans, msg, sizeof(msg));
}
