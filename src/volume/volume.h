/* volume.h - the local volume store: DATA-ROOT/volumes/<name>/_data holds a volume's
 * files, DATA-ROOT/volumes/<name>/volume.json its record (name, creation time, labels,
 * whether it is anonymous, the local driver's options), written atomically. Only the
 * "local" driver exists; a volume with options (type, device, o) is mounted on its _data
 * at first use and unmounted when the caller says no one uses it. The store does not know
 * containers: in-use checks are the caller's. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct berr;
struct volume_store;

#define VOLUME_LABEL_ANONYMOUS "com.docker.volume.anonymous"

int volume_store_open(const char *data_root, struct volume_store **ret, struct berr *err);
void volume_store_free(struct volume_store *vs);

/* dockerd's rule for local volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
bool volume_name_valid(const char *name);
/* A create cut short (kill -9 between the directory and its record): a directory of
 * DATA-ROOT/volumes (@root_fd) with no volume.json and nothing in _data. Never listed,
 * and removed when the store opens; one whose _data holds anything is left alone. */
bool volume_dir_is_leftover(int root_fd, const char *name);

/* Create @name (NULL or "": a random anonymous one), or return the existing volume of
 * that name as dockerd does. @labels and @driver_opts may be NULL. *@ret (may be NULL):
 * Docker's Volume object. */
int volume_create(struct volume_store *vs, const char *name, const char *driver, json_t *labels, json_t *driver_opts,
                  bool anonymous, json_t **ret, struct berr *err);
/* 404 "get NAME: no such volume" when missing. */
int volume_inspect(struct volume_store *vs, const char *name, json_t **ret, struct berr *err);
bool volume_exists(struct volume_store *vs, const char *name);
/* Every volume, Docker's objects, in name order. */
int volume_list(struct volume_store *vs, json_t **ret, struct berr *err);
/* The directory a container binds: DATA-ROOT/volumes/<name>/_data. */
int volume_mountpoint(struct volume_store *vs, const char *name, char *out, size_t size, struct berr *err);
/* A volume with driver options: mount(2) its device on _data unless mounted already
 * ("failed to mount local volume: mount DEVICE:PATH, flags: ..., data: ...: ERROR");
 * without options nothing to do. volume_unmount: unmount it (nothing if not mounted). */
int volume_mount(struct volume_store *vs, const char *name, struct berr *err);
int volume_unmount(struct volume_store *vs, const char *name, struct berr *err);
bool volume_has_options(struct volume_store *vs, const char *name);
/* Remove the volume and its data (the caller checked it is not in use); a mounted volume
 * is unmounted first. */
int volume_remove(struct volume_store *vs, const char *name, struct berr *err);
/* Bytes under the volume's _data (for prune's SpaceReclaimed). */
unsigned long long volume_size(struct volume_store *vs, const char *name);
