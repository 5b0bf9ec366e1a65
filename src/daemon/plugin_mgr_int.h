/* plugin_mgr_int.h - the plugin manager's own: the store (plugin_mgr.c) and running a
 * plugin as a container (plugin_run.c). */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "common/id.h"

struct berr;
struct daemon;

struct plugin_mgr {
        pthread_mutex_t lock;
        pthread_cond_t cond; /* a busy plugin is free again */
        struct mplugin *list;
        int dir_fd; /* DATA-ROOT/plugins */
        int n_watchers; /* threads waiting for a plugin's exit (plugin_run.c) */
        bool is_closing;
};

struct mplugin {
        char id[ID_HEX_LEN + 1];
        json_t *obj; /* the Plugin object (GET /plugins/{name}/json), as DATA-ROOT/plugins/<id>/config.json */
        bool busy;   /* an operation holds it (outside the manager's lock) */
        unsigned run_gen; /* bumped by each start and stop: a watcher of an older run lets go */
        int watch_fd;     /* the running plugin's shim watch connection, or -1 (its watcher's) */
        int n_watchers;   /* watcher threads that still use this object */
        struct mplugin *next;
};

const char *mplugin_name(const struct mplugin *p);
/* Find a plugin by name, ID or ID prefix and hold it (waiting out another operation on
 * it); pmgr_release lets go. */
int pmgr_acquire(struct plugin_mgr *m, const char *ref, struct mplugin **ret, struct berr *err);
void pmgr_release(struct plugin_mgr *m, struct mplugin *p);
bool pmgr_name_taken_locked(struct plugin_mgr *m, const char *name);
/* A "plugin" event (create, enable, disable, remove, pull, push). */
void pmgr_emit(struct daemon *d, struct mplugin *p, const char *action);
bool mplugin_enabled(const struct mplugin *p);
int pmgr_save(struct daemon *d, struct mplugin *p, struct berr *err);
int pmgr_save_obj(struct daemon *d, const char *id, json_t *obj, struct berr *err);
/* DATA-ROOT/plugins, open. */
int pmgr_data_dir(struct daemon *d);

/* A new DATA-ROOT/plugins/.tmp-XXX directory, for a plugin being made (swept at start). */
int pmgr_tmp_dir(struct daemon *d, char name[64], int *ret_fd, struct berr *err);
void pmgr_tmp_remove(struct daemon *d, const char *name);
/* Its config.json, bounded and checked (dockerd's "config not found", "failed to parse
 * config: ..."). */
int pmgr_read_config(int dir_fd, json_t **ret, struct berr *err);
/* The directory @tmp_name (rootfs/ in it) becomes plugin @name with @config: the record
 * is written into it and one rename publishes it. 409 when the name is taken. */
int pmgr_install(struct daemon *d, const char *tmp_name, int tmp_fd, const char *name, json_t *config,
                 const char *reference, struct mplugin **ret, struct berr *err);

/* plugin_run.c: start the plugin's container, wait for its socket, Plugin.Activate, join
 * the registry. On failure nothing runs. */
int pmgr_run_start(struct daemon *d, struct mplugin *p, int timeout_s, struct berr *err);
/* At berthd's start: a plugin still running is taken back, else started. */
int pmgr_run_restore(struct daemon *d, struct mplugin *p, struct berr *err);
/* SIGTERM, 10 s, SIGKILL (dockerd's shutdownPlugin), then its run directories go. */
void pmgr_run_stop(struct daemon *d, struct mplugin *p);
/* What a removed plugin leaves in the exec root. */
void pmgr_run_cleanup(struct daemon *d, struct mplugin *p);
/* berthd stops: the watchers let go (the plugins keep running, as containers do). */
void pmgr_run_close(struct daemon *d);
