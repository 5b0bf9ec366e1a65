/* volume.h - the local volume store: DATA-ROOT/volumes/<name>/_data holds a volume's
 * files, DATA-ROOT/volumes/<name>/volume.json its record (name, creation time, labels,
 * whether it is anonymous, the local driver's options), written atomically. Only the
 * "local" driver exists; a volume with options (type, device, o) is mounted on its _data
 * at first use and unmounted when the caller says no one uses it. The store does not know
 * containers: in-use checks are the caller's. */
#pragma once

#include <sys/types.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct berr;
struct volume_store;

#define VOLUME_LABEL_ANONYMOUS "com.docker.volume.anonymous"

int volume_store_open(const char *data_root, struct volume_store **ret, struct berr *err);
/* --userns-remap: new volumes' _data directories belong to @uid:@gid (the remapped root). */
void volume_store_set_owner(struct volume_store *vs, uid_t uid, gid_t gid);
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

/* ---- volumes of volume plugins (vplugin.c) ---- */
struct vplug_store;
struct plugin_registry;

/* DATA-ROOT/plugin-volumes: one record per volume a plugin holds for berth. */
int vplug_open(const char *data_root, struct plugin_registry *reg, struct vplug_store **ret, struct berr *err);
void vplug_free(struct vplug_store *vs);
/* Names a plugin volume may have (a file name: no '/', no leading '.', no control characters). */
bool vplug_name_valid(const char *name);
/* Whether berth has a record of plugin volume @name; its driver into @out. */
bool vplug_driver_of(struct vplug_store *vs, const char *name, char *out, size_t size);
/* VolumeDriver.Create on @driver's plugin, then the record; an existing volume of the same
 * driver is handed back, one of another driver is a conflict. Unknown driver: dockerd's
 * `error looking up volume plugin NAME: plugin "NAME" not found` (404). */
int vplug_create(struct vplug_store *vs, const char *name, const char *driver, json_t *labels, json_t *opts,
                 json_t **ret, struct berr *err);
/* Docker's Volume object with the driver's Get (Mountpoint, CreatedAt, Status); a name
 * berth has no record of is looked for in every volume plugin, as dockerd does. */
int vplug_inspect(struct vplug_store *vs, const char *name, json_t **ret, struct berr *err);
/* Every volume of every volume plugin (VolumeDriver.List); a plugin that fails adds a
 * warning instead. */
int vplug_list(struct vplug_store *vs, json_t **ret, json_t **ret_warnings, struct berr *err);
/* VolumeDriver.Remove and the record (409 while a container holds a mount of it). */
int vplug_remove(struct vplug_store *vs, const char *name, struct berr *err);
/* Mount @name for container @ctr_id at @dst (one mount ID per container mount); the
 * plugin's mount point into @out. */
int vplug_mount(struct vplug_store *vs, const char *name, const char *ctr_id, const char *dst, char *out, size_t size,
                struct berr *err);
/* Unmount every mount container @ctr_id holds (once each); -EIO and the first failure in
 * @err if one could not be (it stays recorded, for vplug_recover at the next start). */
int vplug_release_container(struct vplug_store *vs, const char *ctr_id, struct berr *err);
/* After a restart: unmount the mounts of containers that @alive says no longer run. */
int vplug_recover(struct vplug_store *vs, bool (*alive)(void *ctx, const char *ctr_id), void *ctx, struct berr *err);
/* The mount point last reported for @name ("" if none); false without a record. */
bool vplug_mountpoint(struct vplug_store *vs, const char *name, char *out, size_t size);
/* How many container mounts of @name are held. */
int vplug_mount_count(struct vplug_store *vs, const char *name);
/* The volumes berth has records of: [{"Name", "Driver", "Labels"}] (for prune). */
json_t *vplug_records(struct vplug_store *vs);
