/* Unit tests for plugin discovery (spec files, sockets, names), the plugin client's HTTP
 * parsing and back-off, and the mount references of plugin volumes: a fake volume plugin
 * runs in a thread on a unix socket and counts the Mounts and Unmounts it gets. */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "common/err.h"
#include "common/fs.h"
#include "plugin/plugin.h"
#include "plugin/plugin_int.h"
#include "shim/logdrv.h"
#include "volume/volume.h"

static char dir[64], plugdir[128];

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static int setup(void **s) {
        (void) s;
        snprintf(dir, sizeof(dir), "/tmp/berth-plugin-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        snprintf(plugdir, sizeof(plugdir), "%s/plugins", dir);
        setenv("BERTH_PLUGIN_RETRY_SECONDS", "0", 1); /* no waiting for what is not there */
        return mkdir(plugdir, 0700);
}

static int teardown(void **s) {
        (void) s;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void test_spec_files_parse_as_dockerd_reads_them(void **s) {
        (void) s;
        struct plugin_spec spec;
        struct berr err = { 0 };
        const char *txt = "  tcp://127.0.0.1:8080 \n";
        assert_int_equal(plugin_spec_parse("p", ".spec", txt, strlen(txt), &spec, &err), 0);
        assert_string_equal(spec.addr, "tcp://127.0.0.1:8080");
        assert_string_equal(spec.name, "p");
        txt = "/run/p.sock";
        assert_true(plugin_spec_parse("p", ".spec", txt, strlen(txt), &spec, &err) < 0);
        assert_string_equal(err.msg, "Unknown protocol");
        txt = "{\"Name\": \"ignored\", \"Addr\": \"unix:///run/p.sock\", \"TLSConfig\": {\"InsecureSkipVerify\": true}}";
        assert_int_equal(plugin_spec_parse("p", ".json", txt, strlen(txt), &spec, &err), 0);
        assert_string_equal(spec.addr, "unix:///run/p.sock");
        assert_string_equal(spec.name, "p");
        assert_true(spec.has_tls);
        txt = "{\"Addr\": 5}";
        assert_true(plugin_spec_parse("p", ".json", txt, strlen(txt), &spec, &err) < 0);
        assert_non_null(strstr(err.msg, "Plugin.Addr"));
        txt = "not json";
        assert_true(plugin_spec_parse("p", ".json", txt, strlen(txt), &spec, &err) < 0);
}

static int listen_unix(const char *path) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        unlink(path);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
                return -1;
        return fd;
}

static void test_discovery_order_and_names(void **s) {
        (void) s;
        struct plugin_registry *reg = NULL;
        struct berr err = { 0 };
        assert_int_equal(plugin_registry_new(dir, &reg, &err), 0);
        char path[256];
        snprintf(path, sizeof(path), "%s/alpha.spec", plugdir);
        write_file(path, "tcp://127.0.0.1:9\n");
        snprintf(path, sizeof(path), "%s/beta", plugdir);
        assert_int_equal(mkdir(path, 0700), 0);
        snprintf(path, sizeof(path), "%s/beta/beta.json", plugdir);
        write_file(path, "{\"Addr\": \"http://127.0.0.1:10\"}");
        snprintf(path, sizeof(path), "%s/alpha.sock", plugdir); /* a socket wins over a spec */
        int lfd = listen_unix(path);
        assert_true(lfd >= 0);
        snprintf(path, sizeof(path), "%s/README.txt", plugdir);
        write_file(path, "not a plugin");

        struct plugin_spec spec;
        assert_int_equal(plugin_registry_lookup(reg, "alpha", &spec, &err), 0);
        char want[256];
        snprintf(want, sizeof(want), "unix://%s/alpha.sock", plugdir);
        assert_string_equal(spec.addr, want);
        assert_int_equal(plugin_registry_lookup(reg, "beta", &spec, &err), 0);
        assert_string_equal(spec.addr, "http://127.0.0.1:10");
        assert_true(plugin_registry_lookup(reg, "gamma", &spec, &err) < 0);
        assert_int_equal(err.kind, BERR_NOT_FOUND);
        assert_string_equal(err.msg, "plugin \"gamma\" not found");
        /* no way out of the plugin directories */
        assert_true(plugin_registry_lookup(reg, "../plugins/alpha", &spec, &err) < 0);
        assert_true(plugin_registry_lookup(reg, ".hidden", &spec, &err) < 0);

        json_t *names = plugin_registry_scan(reg);
        bool a = false, b = false, other = false;
        size_t i;
        json_t *v;
        json_array_foreach(names, i, v) {
                const char *n = json_string_value(v);
                if (strcmp(n, "alpha") == 0)
                        a = true;
                else if (strcmp(n, "beta") == 0)
                        b = true;
                else
                        other = strcmp(n, "README") == 0 || other;
        }
        assert_true(a && b && !other);
        assert_int_equal(json_array_size(names), 2); /* alpha once, though found twice */
        json_decref(names);

        /* nothing answers on alpha.sock's backlog: activation fails, no retry with a 0 s window */
        struct plugin *p;
        close(lfd);
        assert_true(plugin_get(reg, "alpha", PLUGIN_KIND_VOLUME, &p, &err) < 0);
        assert_non_null(strstr(err.msg, "legacy plugin: dial unix"));
        assert_true(plugin_get(reg, "gamma", PLUGIN_KIND_VOLUME, &p, &err) < 0);
        assert_string_equal(err.msg, "plugin \"gamma\" not found");
        snprintf(path, sizeof(path), "%s/alpha.sock", plugdir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/alpha.spec", plugdir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/beta/beta.json", plugdir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/beta", plugdir);
        rmdir(path);
        plugin_registry_free(reg);
}

static void test_http_response_framing(void **s) {
        (void) s;
        struct berr err = { 0 };
        int status;
        char *body;
        size_t len;
        char a[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA";
        assert_int_equal(plugin_http_parse_response(a, strlen(a), &status, &body, &len, &err), 0);
        assert_int_equal(status, 200);
        assert_int_equal(len, 5);
        assert_memory_equal(body, "hello", 5);
        char b[] = "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"Er\r\na\r\nr\":\"boom\"}\r\n0\r\n\r\n";
        assert_int_equal(plugin_http_parse_response(b, strlen(b), &status, &body, &len, &err), 0);
        assert_int_equal(status, 500);
        assert_string_equal(body, "{\"Err\":\"boom\"}");
        char c[] = "HTTP/1.0 200 OK\r\nServer: x\r\n\r\n{\"a\":1}";
        assert_int_equal(plugin_http_parse_response(c, strlen(c), &status, &body, &len, &err), 0);
        assert_string_equal(body, "{\"a\":1}");
        char d[] = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort";
        assert_true(plugin_http_parse_response(d, strlen(d), &status, &body, &len, &err) < 0);
        char e[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffff\r\nx";
        assert_true(plugin_http_parse_response(e, strlen(e), &status, &body, &len, &err) < 0);
        char f[] = "SSH-2.0-OpenSSH\r\n\r\n";
        assert_true(plugin_http_parse_response(f, strlen(f), &status, &body, &len, &err) < 0);
}

static void test_backoff_is_dockerds(void **s) {
        (void) s;
        const unsigned want[] = { 1, 2, 4, 8, 16, 30, 30 };
        for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
                assert_int_equal(plugin_backoff_seconds(i), want[i]);
}

/* ---- a fake volume plugin ---- */

#define MAX_CALLS 64
static struct {
        int lfd;
        volatile bool stop;
        pthread_mutex_t lock;
        char method[MAX_CALLS][64];
        char id[MAX_CALLS][80];
        int n;
} fake = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int count(const char *method, const char *id) {
        int n = 0;
        pthread_mutex_lock(&fake.lock);
        for (int i = 0; i < fake.n; i++)
                if (strcmp(fake.method[i], method) == 0 && (!id || strcmp(fake.id[i], id) == 0))
                        n++;
        pthread_mutex_unlock(&fake.lock);
        return n;
}

static void serve_one(int fd) {
        char buf[8192];
        size_t len = 0;
        char *eh = NULL;
        for (;;) {
                ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
                if (n <= 0)
                        return;
                len += (size_t) n;
                buf[len] = '\0';
                if ((eh = strstr(buf, "\r\n\r\n"))) {
                        const char *cl = strstr(buf, "Content-Length: ");
                        size_t want = cl ? strtoul(cl + 16, NULL, 10) : 0;
                        if (len >= (size_t) (eh + 4 - buf) + want)
                                break;
                }
        }
        char method[64] = "";
        sscanf(buf, "POST /%63s", method);
        json_t *req = json_loads(eh + 4, JSON_DECODE_ANY, NULL);
        pthread_mutex_lock(&fake.lock);
        if (fake.n < MAX_CALLS) {
                snprintf(fake.method[fake.n], sizeof(fake.method[0]), "%s", method);
                snprintf(fake.id[fake.n], sizeof(fake.id[0]), "%s", json_string_value(json_object_get(req, "ID")) ?: "");
                fake.n++;
        }
        pthread_mutex_unlock(&fake.lock);
        json_decref(req);
        const char *answer = "{}";
        if (strcmp(method, "Plugin.Activate") == 0)
                answer = "{\"Implements\": [\"VolumeDriver\"]}";
        else if (strcmp(method, "VolumeDriver.Mount") == 0 || strcmp(method, "VolumeDriver.Path") == 0)
                answer = "{\"Mountpoint\": \"/var/fake/vol\"}";
        char out[512];
        int n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                         strlen(answer), answer);
        (void) !write(fd, out, (size_t) n);
}

static void *fake_main(void *arg) {
        (void) arg;
        while (!fake.stop) {
                struct pollfd p = { .fd = fake.lfd, .events = POLLIN };
                if (poll(&p, 1, 50) <= 0)
                        continue;
                int fd = accept(fake.lfd, NULL, NULL);
                if (fd < 0)
                        continue;
                serve_one(fd);
                close(fd);
        }
        return NULL;
}

static bool none_alive(void *ctx, const char *id) {
        (void) ctx;
        (void) id;
        return false;
}

static bool only_b_alive(void *ctx, const char *id) {
        (void) ctx;
        return strcmp(id, "ctrb") == 0;
}

/* The record's entry of container @ctr: its mount ID and state. */
static void entry_of(const char *name, const char *key, char id[80], char state[32]) {
        char path[256];
        snprintf(path, sizeof(path), "%s/plugin-volumes/%s.json", dir, name);
        json_t *rec = json_load_file(path, 0, NULL);
        json_t *m = json_object_get(json_object_get(rec, "Mounts"), key);
        snprintf(id, 80, "%s", json_string_value(json_object_get(m, "ID")) ?: "");
        snprintf(state, 32, "%s", json_string_value(json_object_get(m, "State")) ?: "");
        json_decref(rec);
}

static void set_state(const char *name, const char *key, const char *state) {
        char path[256];
        snprintf(path, sizeof(path), "%s/plugin-volumes/%s.json", dir, name);
        json_t *rec = json_load_file(path, 0, NULL);
        json_object_set_new(json_object_get(json_object_get(rec, "Mounts"), key), "State", json_string(state));
        assert_int_equal(json_dump_file(rec, path, 0), 0);
        json_decref(rec);
}

static void test_volume_mount_references(void **s) {
        (void) s;
        char sock[256];
        snprintf(sock, sizeof(sock), "%s/fakevol.sock", plugdir);
        fake.lfd = listen_unix(sock);
        assert_true(fake.lfd >= 0);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, fake_main, NULL), 0);

        struct plugin_registry *reg = NULL;
        struct vplug_store *vs = NULL;
        struct berr err = { 0 };
        assert_int_equal(plugin_registry_new(dir, &reg, &err), 0);
        assert_int_equal(vplug_open(dir, reg, &vs, &err), 0);
        json_t *v = NULL;
        assert_int_equal(vplug_create(vs, "pv", "fakevol", NULL, NULL, &v, &err), 0);
        assert_string_equal(json_string_value(json_object_get(v, "Driver")), "fakevol");
        assert_string_equal(json_string_value(json_object_get(v, "Mountpoint")), "/var/fake/vol");
        json_decref(v);
        assert_int_equal(count("VolumeDriver.Create", NULL), 1);
        char drv[64];
        assert_true(vplug_driver_of(vs, "pv", drv, sizeof(drv)));
        assert_string_equal(drv, "fakevol");
        /* another driver for the same name is a conflict */
        assert_true(vplug_create(vs, "pv", "otherdrv", NULL, NULL, NULL, &err) < 0);
        assert_int_equal(err.kind, BERR_CONFLICT);

        char mp[256];
        assert_int_equal(vplug_mount(vs, "pv", "ctra", "/data", mp, sizeof(mp), &err), 0);
        assert_string_equal(mp, "/var/fake/vol");
        assert_int_equal(vplug_mount(vs, "pv", "ctrb", "/data", mp, sizeof(mp), &err), 0);
        /* the same container mount again (a start after a crash): no second Mount */
        assert_int_equal(vplug_mount(vs, "pv", "ctrb", "/data", mp, sizeof(mp), &err), 0);
        assert_int_equal(count("VolumeDriver.Mount", NULL), 2);
        assert_int_equal(vplug_mount_count(vs, "pv"), 2);
        char ida[80], idb[80], st[32];
        entry_of("pv", "ctra:/data", ida, st);
        assert_string_equal(st, "mounted");
        entry_of("pv", "ctrb:/data", idb, st);
        assert_string_not_equal(ida, idb);
        assert_int_equal(strlen(ida), 64);

        /* in use: not removed */
        assert_true(vplug_remove(vs, "pv", &err) < 0);
        assert_int_equal(err.kind, BERR_CONFLICT);

        /* one Unmount per mount, never twice */
        assert_int_equal(vplug_release_container(vs, "ctra", &err), 0);
        assert_int_equal(vplug_release_container(vs, "ctra", &err), 0);
        assert_int_equal(count("VolumeDriver.Unmount", ida), 1);
        assert_int_equal(count("VolumeDriver.Unmount", NULL), 1);
        assert_int_equal(vplug_mount_count(vs, "pv"), 1);

        /* recovery keeps the mounts of running containers */
        assert_int_equal(vplug_recover(vs, only_b_alive, NULL, &err), 0);
        assert_int_equal(count("VolumeDriver.Unmount", NULL), 1);

        /* a crash after "unmounting" was written: the Unmount was sent, none again */
        set_state("pv", "ctrb:/data", "unmounting");
        assert_int_equal(vplug_recover(vs, none_alive, NULL, &err), 0);
        assert_int_equal(count("VolumeDriver.Unmount", NULL), 1);
        assert_int_equal(vplug_mount_count(vs, "pv"), 0);

        /* a crash while "mounting": the plugin may hold it, so it is unmounted once */
        assert_int_equal(vplug_mount(vs, "pv", "ctrc", "/x", mp, sizeof(mp), &err), 0);
        char idc[80];
        entry_of("pv", "ctrc:/x", idc, st);
        set_state("pv", "ctrc:/x", "mounting");
        assert_int_equal(vplug_recover(vs, none_alive, NULL, &err), 0);
        assert_int_equal(vplug_recover(vs, none_alive, NULL, &err), 0);
        assert_int_equal(count("VolumeDriver.Unmount", idc), 1);
        assert_int_equal(vplug_mount_count(vs, "pv"), 0);

        assert_int_equal(vplug_remove(vs, "pv", &err), 0);
        assert_int_equal(count("VolumeDriver.Remove", NULL), 1);
        assert_false(vplug_driver_of(vs, "pv", NULL, 0));

        /* the plugin gone: a release keeps the entry for a later try */
        assert_int_equal(vplug_create(vs, "pv2", "fakevol", NULL, NULL, NULL, &err), 0);
        assert_int_equal(vplug_mount(vs, "pv2", "ctrd", "/d", mp, sizeof(mp), &err), 0);
        fake.stop = true;
        pthread_join(t, NULL);
        close(fake.lfd);
        unlink(sock);
        assert_true(vplug_release_container(vs, "ctrd", &err) < 0);
        assert_non_null(strstr(err.msg, "volume pv2: unmount for container ctrd: dial unix"));
        entry_of("pv2", "ctrd:/d", idb, st);
        assert_string_equal(st, "mounted");

        vplug_free(vs);
        plugin_registry_free(reg);
}

/* A record that is not what berth wrote (no Mounts) is skipped, not freed twice, by
 * recovery and by the listing; a record without Labels is listed with empty ones. */
static void test_malformed_volume_records_are_skipped(void **s) {
        (void) s;
        struct plugin_registry *reg = NULL;
        struct vplug_store *vs = NULL;
        struct berr err = { 0 };
        assert_int_equal(plugin_registry_new(dir, &reg, &err), 0);
        assert_int_equal(vplug_open(dir, reg, &vs, &err), 0);
        char path[256];
        snprintf(path, sizeof(path), "%s/plugin-volumes/bad.json", dir);
        write_file(path, "{\"Driver\": \"fakevol\"}");
        snprintf(path, sizeof(path), "%s/plugin-volumes/nolabels.json", dir);
        write_file(path, "{\"Driver\": \"fakevol\", \"Mounts\": {}}");
        /* the previous test left pv2 mounted by a plugin that is gone: that one fails */
        (void) vplug_recover(vs, none_alive, NULL, &err);
        assert_int_equal(vplug_release_container(vs, "ctrx", &err), 0);
        char mp[64];
        assert_false(vplug_mountpoint(vs, "bad", mp, sizeof(mp)));
        assert_int_equal(vplug_mount_count(vs, "bad"), 0);
        json_t *recs = vplug_records(vs);
        json_t *r0 = NULL, *ri;
        size_t i;
        json_array_foreach(recs, i, ri) {
                const char *n = json_string_value(json_object_get(ri, "Name"));
                assert_string_not_equal(n, "bad");
                if (strcmp(n, "nolabels") == 0)
                        r0 = ri;
        }
        assert_non_null(r0);
        assert_true(json_is_object(json_object_get(r0, "Labels")));
        assert_int_equal(json_object_size(json_object_get(r0, "Labels")), 0);
        json_decref(recs);
        unlink(path);
        snprintf(path, sizeof(path), "%s/plugin-volumes/bad.json", dir);
        unlink(path);
        vplug_free(vs);
        plugin_registry_free(reg);
}

static long long mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A plugin that no longer accepts, its backlog full: a call ends at its deadline. */
static void test_connect_to_a_stuck_plugin_keeps_the_deadline(void **s) {
        (void) s;
        char sock[256];
        snprintf(sock, sizeof(sock), "%s/stuck.sock", plugdir);
        int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        assert_true(strlen(sock) < sizeof(sa.sun_path));
        memcpy(sa.sun_path, sock, strlen(sock) + 1);
        unlink(sock);
        assert_int_equal(bind(lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(lfd, 0), 0);
        int held[64], n = 0;
        for (; n < 64; n++) { /* fill the backlog */
                held[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (connect(held[n], (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                        close(held[n]);
                        break;
                }
        }
        assert_true(n < 64);
        char addr[300];
        snprintf(addr, sizeof(addr), "unix://%s", sock);
        int status = 0;
        char *body = NULL;
        size_t len = 0;
        bool sent = false;
        struct berr err = { 0 };
        alarm(20); /* a blocking connect would hang here for ever */
        long long t0 = mono_ms();
        assert_true(plugin_http_post(addr, "/Plugin.Activate", "{}", 2, 300, &status, &body, &len, &sent, &err) < 0);
        long long took = mono_ms() - t0;
        alarm(0);
        assert_true(took >= 250 && took < 3000);
        assert_false(sent);
        assert_non_null(strstr(err.msg, "dial unix"));
        free(body);
        for (int i = 0; i < n; i++)
                close(held[i]);
        close(lfd);
        unlink(sock);
}

struct slow_srv {
        int lfd, requests;
        bool stop;
};

/* Answers the first request it gets, then only reads: counts the requests. */
static void *slow_main(void *arg) {
        struct slow_srv *sv = arg;
        struct pollfd p[8] = { { .fd = sv->lfd, .events = POLLIN } };
        int np = 1;
        while (!sv->stop) {
                if (poll(p, (nfds_t) np, 50) <= 0)
                        continue;
                if ((p[0].revents & POLLIN) && np < 8) {
                        p[np].fd = accept4(sv->lfd, NULL, NULL, SOCK_CLOEXEC);
                        p[np++].events = POLLIN;
                }
                for (int i = 1; i < np; i++) {
                        if (p[i].fd < 0 || !(p[i].revents & POLLIN))
                                continue;
                        char buf[4096];
                        ssize_t r = recv(p[i].fd, buf, sizeof(buf) - 1, 0);
                        if (r <= 0) {
                                close(p[i].fd);
                                p[i].fd = -1;
                                continue;
                        }
                        buf[r] = '\0';
                        for (char *q = buf; (q = strstr(q, "POST ")); q++)
                                if (sv->requests++ == 0) {
                                        const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
                                        assert_true(send(p[i].fd, ok, strlen(ok), MSG_NOSIGNAL) > 0);
                                }
                }
        }
        for (int i = 1; i < np; i++)
                if (p[i].fd >= 0)
                        close(p[i].fd);
        return NULL;
}

/* A request on a kept connection that times out was taken by the plugin: not sent again. */
static void test_pooled_timeout_is_not_sent_twice(void **s) {
        (void) s;
        char sock[256], addr[300];
        snprintf(sock, sizeof(sock), "%s/slow.sock", plugdir);
        snprintf(addr, sizeof(addr), "unix://%s", sock);
        struct slow_srv sv = { .lfd = listen_unix(sock) };
        assert_true(sv.lfd >= 0);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, slow_main, &sv), 0);
        struct plugin_pool *pool = plugin_pool_new();
        int status = 0;
        char *body = NULL;
        size_t len = 0;
        bool sent = false;
        struct berr err = { 0 };
        assert_int_equal(plugin_http_post_pooled(pool, addr, "/A", "{}", 2, 2000, &status, &body, &len, &sent, &err), 0);
        assert_int_equal(status, 200);
        free(body);
        body = NULL;
        assert_true(plugin_http_post_pooled(pool, addr, "/B", "{}", 2, 300, &status, &body, &len, &sent, &err) < 0);
        assert_true(sent);
        free(body);
        usleep(300 * 1000);
        sv.stop = true;
        pthread_join(t, NULL);
        assert_int_equal(sv.requests, 2);
        plugin_pool_free(pool);
        close(sv.lfd);
        unlink(sock);
}

/* Recovery at start-up does not wait the plugin window for a plugin that is not there:
 * its entries are kept for a later try. */
static void test_recovery_does_not_wait_for_absent_plugins(void **s) {
        (void) s;
        setenv("BERTH_PLUGIN_RETRY_SECONDS", "5", 1);
        struct plugin_registry *reg = NULL;
        struct vplug_store *vs = NULL;
        struct berr err = { 0 };
        assert_int_equal(plugin_registry_new(dir, &reg, &err), 0);
        setenv("BERTH_PLUGIN_RETRY_SECONDS", "0", 1);
        assert_int_equal(vplug_open(dir, reg, &vs, &err), 0);
        char path[256];
        snprintf(path, sizeof(path), "%s/plugin-volumes/gonedrvvol.json", dir);
        write_file(path, "{\"Driver\": \"gonedrv\", \"Mounts\": {"
                         "\"ctry:/a\": {\"ID\": \"1\", \"Container\": \"ctry\", \"State\": \"mounted\"},"
                         "\"ctrz:/b\": {\"ID\": \"2\", \"Container\": \"ctrz\", \"State\": \"mounted\"}}}");
        long long t0 = mono_ms();
        assert_true(vplug_recover(vs, none_alive, NULL, &err) < 0);
        assert_true(mono_ms() - t0 < 2000);
        assert_int_equal(vplug_mount_count(vs, "gonedrvvol"), 2); /* kept */
        unlink(path);
        vplug_free(vs);
        plugin_registry_free(reg);
}

static void test_log_entry_is_dockerds_protobuf(void **s) {
        (void) s;
        char out[256];
        struct log_msg m = { LOG_STREAM_STDOUT, "hi", 2, false, { 1, 5 } };
        size_t n = log_plugin_encode(&m, NULL, 0, false, out, sizeof(out));
        /* source=1 "stdout", time_nano=2 1000000005 (varint), line=3 "hi" */
        static const unsigned char want[] = { 0, 0, 0, 18, 0x0a, 6, 's', 't', 'd', 'o', 'u', 't', 0x10, 0x85, 0x94,
                                              0xeb, 0xdc, 0x03, 0x1a, 2, 'h', 'i' };
        assert_int_equal(n, sizeof(want));
        assert_memory_equal(out, want, sizeof(want));
        /* a piece of a split line: partial=4 true, metadata=5 {last=1, id=2, ordinal=3} */
        struct log_msg e = { LOG_STREAM_STDERR, "", 0, false, { 0, 0 } };
        n = log_plugin_encode(&e, "ab", 3, true, out, sizeof(out));
        static const unsigned char want2[] = { 0, 0, 0, 20, 0x0a, 6, 's', 't', 'd', 'e', 'r', 'r', 0x20, 1,
                                               0x2a, 8, 0x08, 1, 0x12, 2, 'a', 'b', 0x18, 3 };
        assert_int_equal(n, sizeof(want2));
        assert_memory_equal(out, want2, sizeof(want2));
        assert_int_equal(log_plugin_encode(&m, NULL, 0, false, out, 16), 0); /* does not fit */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spec_files_parse_as_dockerd_reads_them),
                cmocka_unit_test(test_discovery_order_and_names),
                cmocka_unit_test(test_http_response_framing),
                cmocka_unit_test(test_backoff_is_dockerds),
                cmocka_unit_test(test_connect_to_a_stuck_plugin_keeps_the_deadline),
                cmocka_unit_test(test_pooled_timeout_is_not_sent_twice),
                cmocka_unit_test(test_volume_mount_references),
                cmocka_unit_test(test_malformed_volume_records_are_skipped),
                cmocka_unit_test(test_recovery_does_not_wait_for_absent_plugins),
                cmocka_unit_test(test_log_entry_is_dockerds_protobuf),
        };
        return cmocka_run_group_tests_name("plugin", tests, setup, teardown);
}
