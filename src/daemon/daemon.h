/* daemon.h - the daemon object: configuration, identity, host facts and the lifetime of
 * berthd (open, serve, shut down). One instance per process. */
#pragma once

#include <stdbool.h>
#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "listen.h"
#include "sysinfo.h"

struct berr;
struct image_store;
struct container;
struct events_bus;
struct exec_rec;
struct userns_remap;

#define DAEMON_MAX_LISTEN_FDS (DAEMON_MAX_HOSTS * 4) /* fd:// may give several per host */

struct daemon {
        struct daemon_config cfg;
        struct host_facts host;
        char engine_id[37];         /* UUID persisted in DATA-ROOT/engine-id */
        char storage_driver[16];    /* overlay2 or vfs */
        char backing_fs[32];
        int pidfile_fd;
        char *owned_sockets[DAEMON_MAX_HOSTS]; /* unix sockets we created, removed at exit */
        size_t n_owned_sockets;
        /* TLS (--tls/--tlsverify): the PEM material, and which of the fds
         * daemon_open_listeners gave out (in order) serve it: the TCP ones. */
        struct host_tls tls;
        bool listen_tls[DAEMON_MAX_LISTEN_FDS];
        struct timespec started;
        struct image_store *images;
        struct volume_store *volumes;
        struct plugin_registry *plugins; /* legacy plugins by name (plugin/plugin.h) */
        struct vplug_store *vplugs;      /* volumes of volume plugins */
        struct plugin_mgr *pmgr;         /* managed plugins (plugin_mgr.h) */
        struct net_store *nets;
        /* Held from a volume's in-use check to its removal, and by a create from making its
         * volumes to entering the table: nothing is removed that a container is about to
         * use. Order: volume_lock, then ctr_lock. */
        pthread_mutex_t volume_lock;

        /* Containers (container.h): the table and its lock, the monitor thread. */
        pthread_mutex_t ctr_lock;
        struct container *ctrs;
        int monitor_epfd;
        int monitor_wake[2];
        pthread_t monitor_thread;
        bool monitor_running;
        bool ctr_store_opened;
        char shim_path[4096];
        struct events_bus *events;
        /* Exec instances (exec.c) by ID, under exec_lock; exec_threads counts the detached
         * threads that still use them, which shutdown waits for. */
        pthread_mutex_t exec_lock;
        struct exec_rec *execs;
        _Atomic int exec_threads;
        /* Health-check threads running (health.c): shutdown waits for them. */
        _Atomic int health_threads;
        volatile bool shutting_down; /* set once; blocking waits give up */
        struct userns_remap *remap;  /* --userns-remap (userns.c); NULL: containers run as the host's root */
        bool rootless;               /* berthd runs in an unprivileged user's namespace (rootless.c) */
};

/* Counts for `docker info`: filled by the container and image stores as they land. */
struct daemon_counts {
        int containers, running, paused, stopped;
        int images;
};

/* Lock the pidfile, create the roots, load or create the engine ID. */
int daemon_open(struct daemon *d, struct berr *err);
/* Open every -H listener; the fds go to the API server. */
int daemon_open_listeners(struct daemon *d, int *fds, size_t max, size_t *ret_n, struct berr *err);
/* Remove the sockets and the pidfile (after the API server has stopped). */
void daemon_close(struct daemon *d);

void daemon_get_counts(struct daemon *d, struct daemon_counts *ret);

/* Before the HTTP server stops: wake every request that waits (wait, events, logs -f,
 * attach) so its connection can end. */
void daemon_begin_shutdown(struct daemon *d);
