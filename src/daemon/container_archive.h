/* container_archive.h - docker cp out of a container (GET/HEAD /containers/{id}/archive). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

struct berr;
struct daemon;
struct container;
struct ctr_archive;

/* Resolve @path in @c's view (404 "Could not find the file ..." when missing) and stat
 * it. Takes over the reference on @c. */
int ctr_archive_open(struct daemon *d, struct container *c, const char *path, struct ctr_archive **ret, struct berr *err);
/* X-Docker-Container-Path-Stat: base64 of {"name","size","mode","mtime","linkTarget"}. */
const char *ctr_archive_stat_header(struct ctr_archive *a);
/* Start writing the tar stream; then read it until 0. */
int ctr_archive_start(struct ctr_archive *a, struct berr *err);
ssize_t ctr_archive_read(struct ctr_archive *a, char *buf, size_t max);
void ctr_archive_free(struct ctr_archive *a);
/* PUT /containers/{id}/archive: extract the tar read from @tar_fd (plain or compressed)
 * into the existing directory @path of the container's view. Without @copy_uidgid every
 * file is owned by root, as docker cp without -a. */
int ctr_archive_extract(struct daemon *d, struct container *c, const char *path, int tar_fd, bool no_overwrite_dir_nondir,
                        bool copy_uidgid, struct berr *err);
/* GET /containers/{id}/export: the root filesystem as a tar; then ctr_archive_start/read/free. */
int ctr_export_open(struct daemon *d, struct container *c, struct ctr_archive **ret, struct berr *err);
/* docker commit: the container's writable layer (the overlay upper dir) as a layer tar,
 * whiteouts in AUFS form; then ctr_archive_start and read ctr_archive_fd. */
int ctr_commit_layer_open(struct daemon *d, struct container *c, struct ctr_archive **ret, struct berr *err);
int ctr_archive_fd(struct ctr_archive *a);
/* GET /containers/{id}/changes: [{"Path", "Kind"}] (0 modified, 1 added, 2 deleted). */
int ctr_changes(struct daemon *d, struct container *c, json_t **ret, struct berr *err);
