/* vol_driver.c - a tiny volume driver for the managed-plugin tests (test_managed_plugins.py
 * compiles it with `gcc -static` into the plugin's rootfs). It serves Docker's plugin
 * protocol (HTTP/1.1 POST, one request per connection) on the unix socket argv[1]:
 * Plugin.Activate and VolumeDriver.*, each volume a directory /data/NAME holding a file
 * "greeting" with $GREETING (so `docker plugin set GREETING=...` shows in a container),
 * each call appended to /data/calls.log as "METHOD NAME [ID]". argv[2..] are the plugin's
 * Args, written to /data/args at start, with its /proc/self/status in /data/status; when
 * a directory /hostdir is there (a plugin mount) it writes /hostdir/touched. As a log
 * driver (LogDriver.StartLogging) a child process copies the FIFO it is named, raw
 * LogEntry records, into /data/<fifo name>.log. As an authorization plugin it allows
 * every request but those whose URI holds "denyme". Single-threaded; the test's traffic
 * is tiny. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define ROOT "/data"

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "w");
        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

static void log_call(const char *method, const char *name, const char *id) {
        FILE *f = fopen(ROOT "/calls.log", "a");
        if (f) {
                fprintf(f, "%s %s%s%s\n", method, name, id[0] ? " " : "", id);
                fclose(f);
        }
}

/* The string value of "key" in a flat JSON object (enough for Name and ID). */
static void json_str(const char *body, const char *key, char *out, size_t size) {
        char pat[64];
        snprintf(pat, sizeof(pat), "\"%s\":\"", key);
        out[0] = '\0';
        const char *p = strstr(body, pat);
        if (!p)
                return;
        p += strlen(pat);
        size_t n = 0;
        while (*p && *p != '"' && n + 1 < size)
                out[n++] = *p++;
        out[n] = '\0';
}

static int name_ok(const char *name) {
        return name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

static void remove_tree(const char *path) {
        DIR *d = opendir(path);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                                continue;
                        char sub[4096];
                        snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
                        struct stat st;
                        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
                                remove_tree(sub);
                        else
                                unlink(sub);
                }
                closedir(d);
        }
        rmdir(path);
}

static void reply(int fd, const char *json) {
        char head[256];
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.plugins.v1+json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                         strlen(json));
        if (write(fd, head, (size_t) n) < 0 || write(fd, json, strlen(json)) < 0)
                return;
}

/* LogDriver.StartLogging: a child reads the FIFO until the writer is done. */
static void start_logging(const char *body) {
        char file[512], dst[600];
        json_str(body, "File", file, sizeof(file));
        const char *base = strrchr(file, '/');
        if (!file[0] || !base || strstr(file, ".."))
                return;
        snprintf(dst, sizeof(dst), ROOT "/%s.log", base + 1);
        if (fork() != 0)
                return;
        int in = open(file, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_APPEND, 0644);
        char buf[4096];
        ssize_t n;
        while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, (size_t) n) != n)
                        break;
        _exit(0);
}

static void handle(int fd, const char *method, const char *body) {
        char name[256], id[128], path[512], out[8192];
        if (!strcmp(method, "LogDriver.StartLogging")) {
                start_logging(body);
                reply(fd, "{\"Err\":\"\"}");
                return;
        }
        if (!strcmp(method, "AuthZPlugin.AuthZReq") || !strcmp(method, "AuthZPlugin.AuthZRes")) {
                char uri[1024];
                json_str(body, "RequestUri", uri, sizeof(uri));
                reply(fd, strstr(uri, "denyme") ? "{\"Allow\":false,\"Msg\":\"no denyme here\"}" : "{\"Allow\":true}");
                return;
        }
        if (!strcmp(method, "LogDriver.StopLogging")) {
                reply(fd, "{\"Err\":\"\"}");
                return;
        }
        if (!strcmp(method, "LogDriver.Capabilities")) {
                reply(fd, "{\"Cap\":{\"ReadLogs\":false}}");
                return;
        }
        json_str(body, "Name", name, sizeof(name));
        json_str(body, "ID", id, sizeof(id));
        snprintf(path, sizeof(path), ROOT "/%s", name);
        if (!strcmp(method, "Plugin.Activate")) {
                reply(fd, "{\"Implements\":[\"VolumeDriver\",\"LogDriver\",\"authz\"]}");
                return;
        }
        if (!strcmp(method, "VolumeDriver.Capabilities")) {
                reply(fd, "{\"Capabilities\":{\"Scope\":\"local\"}}");
                return;
        }
        if (!strcmp(method, "VolumeDriver.List")) {
                strcpy(out, "{\"Volumes\":[");
                DIR *d = opendir(ROOT);
                struct dirent *de;
                int first = 1;
                while (d && (de = readdir(d))) {
                        char p2[512];
                        struct stat st;
                        snprintf(p2, sizeof(p2), ROOT "/%s", de->d_name);
                        if (de->d_name[0] == '.' || stat(p2, &st) < 0 || !S_ISDIR(st.st_mode))
                                continue;
                        if (strlen(out) + 2 * strlen(de->d_name) + 64 >= sizeof(out))
                                break;
                        sprintf(out + strlen(out), "%s{\"Name\":\"%s\",\"Mountpoint\":\"" ROOT "/%s\"}", first ? "" : ",",
                                de->d_name, de->d_name);
                        first = 0;
                }
                if (d)
                        closedir(d);
                strcat(out, "],\"Err\":\"\"}");
                reply(fd, out);
                return;
        }
        if (!name_ok(name)) {
                reply(fd, "{\"Err\":\"bad volume name\"}");
                return;
        }
        log_call(method, name, id);
        struct stat st;
        int exists = stat(path, &st) == 0;
        if (!strcmp(method, "VolumeDriver.Create")) {
                mkdir(path, 0755);
                char g[600];
                snprintf(g, sizeof(g), "%s/greeting", path);
                write_file(g, getenv("GREETING") ? getenv("GREETING") : "");
                reply(fd, "{\"Err\":\"\"}");
        } else if (!strcmp(method, "VolumeDriver.Remove")) {
                remove_tree(path);
                reply(fd, "{\"Err\":\"\"}");
        } else if (!exists) {
                reply(fd, "{\"Err\":\"no such volume\"}");
        } else if (!strcmp(method, "VolumeDriver.Mount") || !strcmp(method, "VolumeDriver.Path")) {
                snprintf(out, sizeof(out), "{\"Mountpoint\":\"%s\",\"Err\":\"\"}", path);
                reply(fd, out);
        } else if (!strcmp(method, "VolumeDriver.Get")) {
                snprintf(out, sizeof(out), "{\"Volume\":{\"Name\":\"%s\",\"Mountpoint\":\"%s\"},\"Err\":\"\"}", name, path);
                reply(fd, out);
        } else if (!strcmp(method, "VolumeDriver.Unmount")) {
                reply(fd, "{\"Err\":\"\"}");
        } else {
                reply(fd, "{\"Err\":\"unknown method\"}");
        }
}

static void serve(int fd) {
        char buf[65536];
        size_t len = 0;
        char *end = NULL;
        while (len + 1 < sizeof(buf)) {
                ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
                if (n <= 0)
                        return;
                len += (size_t) n;
                buf[len] = '\0';
                if ((end = strstr(buf, "\r\n\r\n")))
                        break;
        }
        if (!end)
                return;
        size_t want = 0;
        const char *cl = strcasestr(buf, "\r\nContent-Length:");
        if (cl)
                want = strtoul(cl + 17, NULL, 10);
        size_t body_at = (size_t) (end + 4 - buf);
        while (len < body_at + want && len + 1 < sizeof(buf)) {
                ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
                if (n <= 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        char method[128] = "";
        if (sscanf(buf, "POST /%127s", method) != 1)
                return;
        handle(fd, method, buf + body_at);
}

static void on_term(int sig) {
        (void) sig;
        _exit(0); /* pid 1 of its namespace: SIGTERM needs a handler to end it */
}

int main(int argc, char **argv) {
        const char *sock = argc > 1 ? argv[1] : "/run/docker/plugins/vd.sock";
        signal(SIGPIPE, SIG_IGN);
        signal(SIGCHLD, SIG_IGN); /* the log copiers reap themselves */
        signal(SIGTERM, on_term);
        mkdir(ROOT, 0755);
        char args[1024] = "";
        for (int i = 2; i < argc; i++) {
                strncat(args, argv[i], sizeof(args) - strlen(args) - 2);
                strcat(args, i + 1 < argc ? " " : "");
        }
        write_file(ROOT "/args", args);
        FILE *st = fopen("/proc/self/status", "r");
        if (st) {
                char text[8192];
                size_t n = fread(text, 1, sizeof(text) - 1, st);
                text[n] = '\0';
                fclose(st);
                write_file(ROOT "/status", text);
        }
        struct stat hs;
        if (stat("/hostdir", &hs) == 0 && S_ISDIR(hs.st_mode))
                write_file("/hostdir/touched", "plugin was here\n");
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
        unlink(sock);
        if (s < 0 || bind(s, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(s, 64) < 0) {
                perror("listen");
                return 1;
        }
        printf("vol_driver listening on %s\n", sock);
        fflush(stdout);
        for (;;) {
                int c = accept(s, NULL, NULL);
                if (c < 0) {
                        if (errno == EINTR)
                                continue;
                        return 1;
                }
                serve(c);
                close(c);
        }
}
