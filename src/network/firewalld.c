/* firewalld.c - berth's bridges in firewalld's "docker" zone, over the system bus with
 * sd-bus (see firewalld.h).
 *
 * The zone is named "docker", as dockerd names it, so that a host moving from dockerd to
 * berth keeps its firewalld configuration true (rules users added to that zone, and the
 * documentation that tells them to); the policy is dockerd 27's "docker-forwarding" (any
 * zone may forward to the docker zone). A zone and policy made by dockerd are used as
 * they are.
 *
 * libsystemd is loaded by the thread (dlopen), not linked: berthd starts no slower and
 * carries none of it where no system bus answers or firewalld is not installed. With
 * firewalld installed but not running the thread stays, waiting for its name to appear
 * (NameOwnerChanged), so a firewalld started after berthd still gets the bridges (dockerd
 * looks only at its own start). Nothing is asked of a firewalld that is not running (no
 * bus activation). */
#include "firewalld.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define SD_SONAME "libsystemd.so.0"
#define FWD_NAME "org.fedoraproject.FirewallD1"
#define FWD_PATH "/org/fedoraproject/FirewallD1"
#define FWD_CONFIG_PATH FWD_PATH "/config"
#define DBUS_NAME "org.freedesktop.DBus"
#define DBUS_PATH "/org/freedesktop/DBus"
#define ZONE "docker"
#define POLICY "docker-forwarding"
#define CALL_USEC (10ULL * 1000 * 1000) /* firewalld answers slowly while it reloads */

#define SD_FUNCS(X)                                                                                                  \
        X(sd_bus_open_system)                                                                                         \
        X(sd_bus_flush_close_unref)                                                                                   \
        X(sd_bus_add_match)                                                                                           \
        X(sd_bus_get_fd)                                                                                              \
        X(sd_bus_get_events)                                                                                          \
        X(sd_bus_get_timeout)                                                                                         \
        X(sd_bus_process)                                                                                             \
        X(sd_bus_message_new_method_call)                                                                             \
        X(sd_bus_message_appendv)                                                                                     \
        X(sd_bus_message_set_auto_start)                                                                              \
        X(sd_bus_call)                                                                                                \
        X(sd_bus_message_read)                                                                                        \
        X(sd_bus_message_read_strv)                                                                                   \
        X(sd_bus_message_unref)                                                                                       \
        X(sd_bus_error_free)                                                                                          \
        X(sd_bus_error_has_name)

struct sd_api {
        void *h;
#define SD_FIELD(name) __typeof__(name) *name;
        SD_FUNCS(SD_FIELD)
#undef SD_FIELD
};

struct fwd {
        pthread_t thread;
        int wake[2];
        pthread_mutex_t lock;
        char **want;  /* the bridges that belong in the zone (NULL-terminated), under lock */
        bool changed; /* want changed since the thread last read it, under lock */
        bool stop;    /* under lock */

        /* The thread's own. */
        struct sd_api sd;
        sd_bus *bus;
        bool running;       /* firewalld has its name on the bus */
        bool setup_needed;  /* (again) make sure of the zone and the policy */
        bool resync_needed; /* firewalld reloaded: put the bridges back */
        bool zone_retried;  /* the zone was found missing and made again once */
        char **applied;     /* what this thread last put in the zone */
};

static void strv_free(char **v) {
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

static bool strv_has(char *const *v, const char *s) {
        for (; v && *v; v++)
                if (strcmp(*v, s) == 0)
                        return true;
        return false;
}

static char **strv_copy(const char *const *v, size_t n) {
        char **c = calloc(n + 1, sizeof(*c));
        for (size_t i = 0; c && i < n; i++)
                if (!(c[i] = strdup(v[i]))) {
                        strv_free(c);
                        return NULL;
                }
        return c;
}

static int sd_load(struct sd_api *a) {
        a->h = dlopen(SD_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!a->h) {
                log_debug("firewalld: %s not loaded: %s", SD_SONAME, dlerror());
                return -ENOSYS;
        }
#define SD_SYM(name)                                                                                                 \
        if (!(a->name = (__typeof__(a->name)) dlsym(a->h, #name))) {                                                  \
                log_warn("firewalld: %s has no %s", SD_SONAME, #name);                                                \
                dlclose(a->h);                                                                                        \
                a->h = NULL;                                                                                          \
                return -ENOSYS;                                                                                       \
        }
        SD_FUNCS(SD_SYM)
#undef SD_SYM
        return 0;
}

static const char *emsg(const sd_bus_error *e, int r) {
        return e->message ? e->message : e->name ? e->name : strerror(-r);
}

/* Call @member of @iface on @dest's object @path with arguments @types, ... (NULL: none);
 * the reply in *reply when wanted. Never starts a service that is not running. */
static int call(struct fwd *f, const char *dest, const char *path, const char *iface, const char *member, sd_bus_error *e,
                sd_bus_message **reply, const char *types, ...) {
        sd_bus_message *m = NULL;
        int r = f->sd.sd_bus_message_new_method_call(f->bus, &m, dest, path, iface, member);
        if (r >= 0)
                r = f->sd.sd_bus_message_set_auto_start(m, 0);
        if (r >= 0 && types) {
                va_list ap;
                va_start(ap, types);
                r = f->sd.sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r >= 0)
                r = f->sd.sd_bus_call(f->bus, m, CALL_USEC, e, reply);
        f->sd.sd_bus_message_unref(m);
        return r;
}

/* A call answering a list of strings (NULL-terminated, newly allocated in *ret). */
static int call_strv(struct fwd *f, const char *member, const char *zone, char ***ret, sd_bus_error *e) {
        sd_bus_message *reply = NULL;
        int r = zone ? call(f, FWD_NAME, FWD_PATH, FWD_NAME ".zone", member, e, &reply, "s", zone)
                     : call(f, FWD_NAME, FWD_PATH, FWD_NAME ".zone", member, e, &reply, NULL);
        if (r >= 0)
                r = f->sd.sd_bus_message_read_strv(reply, ret);
        f->sd.sd_bus_message_unref(reply);
        return r;
}

static bool firewalld_error(const sd_bus_error *e, const char *code) {
        return e->message && strncmp(e->message, code, strlen(code)) == 0;
}

/* The zone (target ACCEPT) and the forwarding policy, made in firewalld's permanent
 * configuration when missing, then a reload so that they take effect. */
static void setup(struct fwd *f) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char **zones = NULL;
        bool added = false;
        int r = call_strv(f, "getZones", NULL, &zones, &e);
        if (r < 0) {
                log_warn("firewalld: list its zones: %s", emsg(&e, r));
                goto out;
        }
        if (!strv_has(zones, ZONE)) {
                /* The zone settings tuple firewalld has taken since its first versions
                 * (addZone; addZone2 needs 0.9): version, short name, description, unused,
                 * target, services, ports, ICMP blocks, masquerade, forward ports,
                 * interfaces, sources, rich rules, protocols, source ports, ICMP block
                 * inversion. */
                r = call(f, FWD_NAME, FWD_CONFIG_PATH, FWD_NAME ".config", "addZone", &e, NULL,
                         "s(sssbsasa(ss)asba(ssss)asasasasa(ss)b)", ZONE, "1.0", ZONE,
                         "bridge network interfaces of Docker Engines (dockerd, berth)", 0, "ACCEPT", 0, 0, 0, 0, 0, 0,
                         0, 0, 0, 0, 0);
                if (r < 0 && !firewalld_error(&e, "NAME_CONFLICT")) {
                        log_warn("firewalld: create zone %s: %s", ZONE, emsg(&e, r));
                        goto out;
                }
                f->sd.sd_bus_error_free(&e);
                added = true; /* made now, or made before but not yet loaded: a reload either way */
                if (r >= 0)
                        log_info("firewalld: created zone %s for berth's bridges", ZONE);
        }
        r = call(f, FWD_NAME, FWD_CONFIG_PATH, FWD_NAME ".config", "addPolicy", &e, NULL, "sa{sv}", POLICY, 5, "version",
                 "s", "1.0", "description", "s",
                 "forwarding from any zone to the bridges of Docker Engines (dockerd, berth)", "ingress_zones", "as", 1, "ANY",
                 "egress_zones", "as", 1, ZONE, "target", "s", "ACCEPT");
        if (r >= 0) {
                added = true;
                log_info("firewalld: created policy %s", POLICY);
        } else if (!firewalld_error(&e, "NAME_CONFLICT") && !f->sd.sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_METHOD))
                log_warn("firewalld: create policy %s: %s", POLICY, emsg(&e, r)); /* the zone still helps */
        f->sd.sd_bus_error_free(&e);
        if (added && (r = call(f, FWD_NAME, FWD_PATH, FWD_NAME, "reload", &e, NULL, NULL)) < 0)
                log_warn("firewalld: reload after adding zone %s: %s", ZONE, emsg(&e, r));
out:
        f->sd.sd_bus_error_free(&e);
        strv_free(zones);
}

/* Make the zone hold the bridges berth wants there; take out the ones this thread put
 * there that are gone. Interfaces others put in the zone are left alone. */
static void sync_zone(struct fwd *f) {
        pthread_mutex_lock(&f->lock);
        size_t n = 0;
        while (f->want && f->want[n])
                n++;
        char **want = strv_copy((const char *const *) f->want, n);
        f->changed = false;
        pthread_mutex_unlock(&f->lock);
        if (!want) {
                log_warn("firewalld: out of memory");
                return;
        }
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char **have = NULL;
        int r = call_strv(f, "getInterfaces", ZONE, &have, &e);
        if (r < 0 && firewalld_error(&e, "INVALID_ZONE") && !f->zone_retried) {
                /* Someone deleted the zone (and reloaded): make it again, once. */
                f->zone_retried = true;
                f->setup_needed = f->resync_needed = true;
                goto out;
        }
        if (r < 0) {
                log_warn("firewalld: interfaces of zone %s: %s", ZONE, emsg(&e, r));
                goto out;
        }
        f->zone_retried = false;
        for (char **w = want; *w; w++) {
                if (strv_has(have, *w))
                        continue;
                r = call(f, FWD_NAME, FWD_PATH, FWD_NAME ".zone", "addInterface", &e, NULL, "ss", ZONE, *w);
                if (r < 0 && !firewalld_error(&e, "ZONE_ALREADY_SET"))
                        log_warn("firewalld: add %s to zone %s: %s", *w, ZONE, emsg(&e, r));
                else
                        log_debug("firewalld: %s is in zone %s", *w, ZONE);
                f->sd.sd_bus_error_free(&e);
        }
        for (char **a = f->applied; a && *a; a++) {
                if (strv_has(want, *a) || !strv_has(have, *a))
                        continue;
                r = call(f, FWD_NAME, FWD_PATH, FWD_NAME ".zone", "removeInterface", &e, NULL, "ss", ZONE, *a);
                if (r < 0 && !firewalld_error(&e, "UNKNOWN_INTERFACE"))
                        log_warn("firewalld: remove %s from zone %s: %s", *a, ZONE, emsg(&e, r));
                else
                        log_debug("firewalld: %s left zone %s", *a, ZONE);
                f->sd.sd_bus_error_free(&e);
        }
        strv_free(f->applied);
        f->applied = want;
        want = NULL;
out:
        f->sd.sd_bus_error_free(&e);
        strv_free(have);
        strv_free(want);
}

static int on_reloaded(sd_bus_message *m, void *arg, sd_bus_error *e) {
        (void) m;
        (void) e;
        struct fwd *f = arg;
        log_info("firewalld reloaded: putting berth's bridges back in zone %s", ZONE);
        f->resync_needed = true;
        return 0;
}

static int on_owner(sd_bus_message *m, void *arg, sd_bus_error *e) {
        (void) e;
        struct fwd *f = arg;
        const char *name, *old_owner, *new_owner;
        if (f->sd.sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || strcmp(name, FWD_NAME) != 0)
                return 0;
        f->running = *new_owner != '\0';
        if (f->running) {
                log_info("firewalld started: putting berth's bridges in zone %s", ZONE);
                f->setup_needed = f->resync_needed = true;
        }
        return 0;
}

/* berthd in a user namespace (rootless): its bridges live in a network namespace of its
 * own, which the host's firewalld does not filter. */
static bool in_user_namespace(void) {
        FILE *fp = fopen("/proc/self/uid_map", "re");
        if (!fp)
                return false;
        unsigned long inner = 1, outer = 1, count = 0;
        int n = fscanf(fp, "%lu %lu %lu", &inner, &outer, &count);
        fclose(fp);
        return n != 3 || inner != 0 || outer != 0 || count != 4294967295UL;
}

/* Whether a system bus may answer: a unix socket path that does not exist (the usual case
 * on hosts without D-Bus) is known without loading libsystemd. */
static bool bus_may_exist(void) {
        const char *a = secure_getenv("DBUS_SYSTEM_BUS_ADDRESS");
        if (!a || !*a)
                a = "unix:path=/run/dbus/system_bus_socket";
        if (strncmp(a, "unix:path=", 10) != 0)
                return true; /* another transport, or several addresses: sd-bus decides */
        char path[256];
        size_t len = strcspn(a + 10, ",;");
        if (len >= sizeof(path) || memchr(a + 10, '%', len))
                return true; /* escaped: sd-bus decides */
        memcpy(path, a + 10, len);
        path[len] = '\0';
        return access(path, F_OK) == 0;
}

static int64_t now_usec(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t) t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void loop(struct fwd *f) {
        for (;;) {
                int r;
                while ((r = f->sd.sd_bus_process(f->bus, NULL)) > 0)
                        ;
                if (r < 0) {
                        log_warn("firewalld: lost the system bus (%s): berth's bridges are no longer put back in zone %s",
                                 strerror(-r), ZONE);
                        return;
                }
                pthread_mutex_lock(&f->lock);
                bool stop = f->stop, changed = f->changed;
                if (!f->running)
                        f->changed = false;
                pthread_mutex_unlock(&f->lock);
                if (stop)
                        return;
                if (f->running && f->setup_needed) {
                        f->setup_needed = false;
                        setup(f);
                        continue; /* signals may have come in during the calls */
                }
                if (f->running && (changed || f->resync_needed)) {
                        f->resync_needed = false;
                        sync_zone(f);
                        continue;
                }
                uint64_t until = UINT64_MAX;
                int timeout = -1;
                if (f->sd.sd_bus_get_timeout(f->bus, &until) >= 0 && until != UINT64_MAX) {
                        int64_t left = (int64_t) until - now_usec();
                        timeout = left <= 0 ? 0 : (int) (left / 1000 + 1);
                }
                int ev = f->sd.sd_bus_get_events(f->bus);
                struct pollfd p[2] = { { .fd = f->sd.sd_bus_get_fd(f->bus), .events = (short) (ev > 0 ? ev : 0) },
                                       { .fd = f->wake[0], .events = POLLIN } };
                if (poll(p, 2, timeout) < 0 && errno != EINTR) {
                        log_warn("firewalld: poll: %s", strerror(errno));
                        return;
                }
                if (p[1].revents) {
                        char buf[64];
                        while (read(f->wake[0], buf, sizeof(buf)) > 0)
                                ;
                }
        }
}

static void *run(void *arg) {
        struct fwd *f = arg;
        if (in_user_namespace() || !bus_may_exist()) {
                log_debug("firewalld: no system bus");
                return NULL;
        }
        /* Behind the daemon's own start-up work, which runs beside this thread. */
        (void) setpriority(PRIO_PROCESS, (id_t) gettid(), 10);
        if (sd_load(&f->sd) < 0)
                return NULL;
        int r = f->sd.sd_bus_open_system(&f->bus);
        if (r < 0) {
                log_debug("firewalld: no system bus (%s)", strerror(-r));
                goto out;
        }
        r = f->sd.sd_bus_add_match(f->bus, NULL,
                                   "type='signal',sender='" FWD_NAME "',path='" FWD_PATH "',interface='" FWD_NAME
                                   "',member='Reloaded'",
                                   on_reloaded, f);
        if (r >= 0)
                r = f->sd.sd_bus_add_match(f->bus, NULL,
                                           "type='signal',sender='" DBUS_NAME "',path='" DBUS_PATH "',interface='" DBUS_NAME
                                           "',member='NameOwnerChanged',arg0='" FWD_NAME "'",
                                           on_owner, f);
        if (r < 0) {
                log_debug("firewalld: watch the system bus: %s", strerror(-r));
                goto out;
        }
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int has = 0;
        r = call(f, DBUS_NAME, DBUS_PATH, DBUS_NAME, "NameHasOwner", &e, &reply, "s", FWD_NAME);
        if (r >= 0)
                r = f->sd.sd_bus_message_read(reply, "b", &has);
        f->sd.sd_bus_message_unref(reply);
        f->sd.sd_bus_error_free(&e);
        if (r < 0) {
                log_debug("firewalld: ask the system bus: %s", strerror(-r));
                goto out;
        }
        if (!has) {
                /* Not running. Installed (its name is activatable: the bus knows its
                 * service file), it may start later: stay and watch for it. Not installed:
                 * let go of the bus and of libsystemd (~1.4 MB of RSS, measured). */
                char **names = NULL;
                r = call(f, DBUS_NAME, DBUS_PATH, DBUS_NAME, "ListActivatableNames", &e, &reply, NULL);
                if (r >= 0)
                        r = f->sd.sd_bus_message_read_strv(reply, &names);
                f->sd.sd_bus_message_unref(reply);
                f->sd.sd_bus_error_free(&e);
                bool installed = r >= 0 && strv_has(names, FWD_NAME);
                strv_free(names);
                if (!installed) {
                        log_debug("firewalld is not installed");
                        goto out;
                }
                log_debug("firewalld is installed, not running: watching for it");
        } else
                log_info("firewalld is running: berth's bridges go in its zone %s", ZONE);
        f->running = has;
        f->setup_needed = f->resync_needed = has;
        loop(f);
out:
        if (f->bus)
                f->bus = f->sd.sd_bus_flush_close_unref(f->bus);
        dlclose(f->sd.h);
        f->sd.h = NULL;
        return NULL;
}

struct fwd *fwd_start(void) {
        struct fwd *f = calloc(1, sizeof(*f));
        if (!f)
                return NULL;
        pthread_mutex_init(&f->lock, NULL);
        if (pipe2(f->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
                log_warn("firewalld: pipe: %s", strerror(errno));
                pthread_mutex_destroy(&f->lock);
                free(f);
                return NULL;
        }
        int r = pthread_create(&f->thread, NULL, run, f);
        if (r != 0) {
                log_warn("firewalld: thread: %s", strerror(r));
                close(f->wake[0]);
                close(f->wake[1]);
                pthread_mutex_destroy(&f->lock);
                free(f);
                return NULL;
        }
        return f;
}

void fwd_set_interfaces(struct fwd *f, const char *const *names, size_t n) {
        if (!f)
                return;
        char **c = strv_copy(names, n);
        if (!c) {
                log_warn("firewalld: out of memory");
                return;
        }
        pthread_mutex_lock(&f->lock);
        strv_free(f->want);
        f->want = c;
        f->changed = true;
        pthread_mutex_unlock(&f->lock);
        (void) !write(f->wake[1], "x", 1);
}

void fwd_stop(struct fwd *f) {
        if (!f)
                return;
        pthread_mutex_lock(&f->lock);
        f->stop = true;
        pthread_mutex_unlock(&f->lock);
        (void) !write(f->wake[1], "x", 1);
        pthread_join(f->thread, NULL);
        close(f->wake[0]);
        close(f->wake[1]);
        strv_free(f->want);
        strv_free(f->applied);
        pthread_mutex_destroy(&f->lock);
        free(f);
}
