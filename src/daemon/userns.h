/* userns.h - --userns-remap: the user whose subordinate ids containers run as, the id maps
 * read from /etc/subuid and /etc/subgid, and the data root of that mapping, as dockerd's
 * setupRemappedRoot and setupDaemonRoot do them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/spec.h"

struct berr;
struct daemon;

#define USERNS_MAX_RANGES 64

struct userns_remap {
        char user[256], group[256];       /* resolved names, "dockremap:dockremap" for "default" */
        struct spec_idmap uids[USERNS_MAX_RANGES], gids[USERNS_MAX_RANGES];
        size_t n_uids, n_gids;
        uint32_t root_uid, root_gid;      /* the host ids of the container's root */
        int userns_fd;                    /* a user namespace with these maps (idmapped mounts) */
};

/* Parse one subordinate id file (/etc/subuid: "name:start:count" lines) for the user
 * @name or its id @id, as moby's idtools does: the ranges are sorted by start and given
 * consecutive container ids from 0. No range: -ENOENT (nothing written). */
int userns_parse_subid(const char *text, const char *name, uint32_t id, struct spec_idmap *out, size_t max,
                       size_t *ret_n, struct berr *err);

/* The first free range of @size ids at or after 100000 in a subordinate id file's text
 * (moby's findNextRangeStart), for a new "dockremap" user. */
uint32_t userns_next_free_start(const char *text, uint32_t size);

/* When the daemon runs with --userns-remap: resolve the user (creating "dockremap" for
 * "default"), load its ranges, make DATA-ROOT/<uid>.<gid> and make it the data root, and
 * open the user namespace of the maps. d->remap stays NULL without the option (or for
 * "root", which dockerd turns into no remapping, with a warning). */
int userns_remap_open(struct daemon *d, struct berr *err);
void userns_remap_close(struct daemon *d);

/* Container id -> host id through the maps (dockerd's ToHost): -ERANGE with dockerd's
 * message for an id no range covers. In layer_apply_opts.map_id's shape (@map_data: the
 * struct userns_remap). */
int userns_to_host(void *map_data, uint32_t id, bool is_gid, uint32_t *ret, struct berr *err);
/* Host id -> container id (docker cp out, export, commit): an id no range covers (a
 * file the host's root put there) stays as it is. */
uint32_t userns_to_container(const struct userns_remap *m, uint32_t id, bool is_gid);

/* Give @path (a container's directory, a volume's _data) to the remapped root: owner
 * root_uid:root_gid for @to_root, else root:root_gid (dockerd's 0710 directories the
 * container's root must traverse). Nothing without remapping. */
int userns_chown(const struct daemon *d, int dirfd, const char *path, bool to_root, struct berr *err);
