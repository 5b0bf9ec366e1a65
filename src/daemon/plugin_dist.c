/* plugin_dist.c - managed plugins and registries (plugin_mgr.h's second half): privileges,
 * install (pull), upgrade and push through distribution/'s plugin client. A pull builds
 * the plugin in a DATA-ROOT/plugins/.tmp- directory (rootfs/ from the layers, the
 * record) and publishes it with one rename, so a kill mid-pull leaves only what start-up
 * sweeps. A push sends the rootfs as one gzipped tar (GNU tar walks it, zlib compresses). */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/tree.h"
#include "daemon.h"
#include "distribution/distribution.h"
#include "image/layer_apply.h"
#include "image/reference.h"
#include "plugin/plugin.h"
#include "plugin_mgr.h"
#include "plugin_mgr_int.h"

extern char **environ;

struct pull_ctx {
        int rootfs_fd;
        pmgr_progress_fn progress;
        void *opaque;
};

static void forward(void *opaque, json_t *msg) {
        struct pull_ctx *c = opaque;
        if (c->progress)
                c->progress(c->opaque, msg);
}

/* Each layer onto rootfs/ (whiteouts delete from what earlier layers made). */
static int apply(void *opaque, int fd, const char *digest, struct berr *err) {
        struct pull_ctx *c = opaque;
        struct layer_apply_opts o = { .whiteouts = LAYER_WHITEOUTS_DELETE };
        struct layer_apply_result res;
        int r = layer_apply_fd(c->rootfs_fd, fd, &o, &res, err);
        return r < 0 ? berr_wrap(err, "layer %s", digest) : 0;
}

/* dockerd's parseRemoteRef: a digest with a tag keeps the digest (the tag names it). */
static int parse_remote(const char *remote, struct reference *ref, char tag[REFERENCE_TAG_MAX + 1], struct berr *err) {
        tag[0] = '\0';
        int r = reference_parse_normalized(remote ? remote : "", ref, err);
        if (r < 0) {
                err->kind = BERR_INVALID;
                return r;
        }
        if (ref->digest[0]) {
                snprintf(tag, REFERENCE_TAG_MAX + 1, "%s", ref->tag);
                ref->tag[0] = '\0';
        } else
                reference_default_tag(ref);
        return 0;
}

/* dockerd's getName. */
static int local_name(const struct reference *remote, const char *tag, const char *name, char out[REFERENCE_STRING_MAX],
                      struct berr *err) {
        if (!name || !*name) {
                struct reference t = *remote;
                if (t.digest[0]) {
                        t.digest[0] = '\0';
                        snprintf(t.tag, sizeof(t.tag), "%s", tag[0] ? tag : REFERENCE_DEFAULT_TAG);
                }
                reference_familiar_string(&t, out);
                return 0;
        }
        struct reference l;
        if (reference_parse_normalized(name, &l, err) < 0)
                return -EINVAL; /* dockerd answers the parse error as it is */
        if (l.digest[0])
                return berr_set(err, BERR_INTERNAL, EINVAL, "cannot use digest in plugin tag");
        reference_default_tag(&l);
        reference_familiar_string(&l, out);
        return 0;
}

int pmgr_privileges(struct daemon *d, const char *remote, const char *auth_header, json_t **ret, struct berr *err) {
        (void) d;
        struct reference ref;
        char tag[REFERENCE_TAG_MAX + 1], full[REFERENCE_STRING_MAX];
        int r = parse_remote(remote, &ref, tag, err);
        if (r < 0)
                return r;
        reference_string(&ref, full);
        struct dist_auth auth = { 0 };
        if ((r = dist_auth_decode(auth_header, &auth, err)) < 0)
                return r;
        struct dist_plugin_opts o = { .remote = full, .auth = &auth };
        _cleanup_json_ json_t *raw = NULL, *cfg = NULL;
        char manifest[DIGEST_STRING_MAX];
        r = dist_plugin_pull(&o, &raw, manifest, err);
        dist_auth_done(&auth);
        if (r < 0)
                return r;
        if ((r = plugin_config_normalize(raw, &cfg, err)) < 0)
                return berr_wrap(err, "error unmarshaling plugin config for %s", full);
        *ret = plugin_config_privileges(cfg);
        return *ret ? 0 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
}

/* Fetch @remote into a new .tmp- directory: rootfs/ and the checked config. */
static int fetch_into_tmp(struct daemon *d, const char *full, const char *auth_header, json_t *granted,
                          pmgr_progress_fn progress, void *opaque, char tmp[64], int *ret_fd, json_t **ret_config,
                          struct berr *err) {
        struct dist_auth auth = { 0 };
        int r = dist_auth_decode(auth_header, &auth, err);
        if (r < 0)
                return r;
        _cleanup_close_ int tfd = -1;
        if ((r = pmgr_tmp_dir(d, tmp, &tfd, err)) < 0) {
                dist_auth_done(&auth);
                return r;
        }
        struct pull_ctx c = { .rootfs_fd = -1, .progress = progress, .opaque = opaque };
        _cleanup_json_ json_t *raw = NULL, *cfg = NULL;
        char manifest[DIGEST_STRING_MAX];
        if (mkdirat(tfd, "rootfs", 0755) < 0 ||
            (c.rootfs_fd = openat(tfd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                r = berr_sys(err, BERR_INTERNAL, "create rootfs");
        if (r == 0) {
                struct dist_plugin_opts o = { .remote = full, .auth = &auth, .progress = forward, .opaque = &c,
                                              .layer = apply };
                r = dist_plugin_pull(&o, &raw, manifest, err);
        }
        if (c.rootfs_fd >= 0)
                close(c.rootfs_fd);
        dist_auth_done(&auth);
        if (r == 0 && (r = plugin_config_normalize(raw, &cfg, err)) < 0)
                berr_wrap(err, "failed to parse config");
        if (r == 0) {
                _cleanup_json_ json_t *need = plugin_config_privileges(cfg);
                r = plugin_privileges_check(need, granted, err);
        }
        if (r < 0) {
                pmgr_tmp_remove(d, tmp);
                return r;
        }
        *ret_fd = TAKE_FD(tfd);
        *ret_config = TAKE_PTR(cfg);
        return 0;
}

int pmgr_pull(struct daemon *d, const char *remote, const char *name, const char *auth_header, json_t *granted,
              pmgr_progress_fn progress, void *opaque, char ret_name[600], struct berr *err) {
        struct reference ref;
        char tag[REFERENCE_TAG_MAX + 1], full[REFERENCE_STRING_MAX], local[REFERENCE_STRING_MAX];
        int r = parse_remote(remote, &ref, tag, err);
        if (r == 0)
                r = local_name(&ref, tag, name, local, err);
        if (r < 0)
                return r;
        reference_string(&ref, full);
        snprintf(ret_name, 600, "%s", local);
        pthread_mutex_lock(&d->pmgr->lock);
        bool taken = pmgr_name_taken_locked(d->pmgr, local);
        pthread_mutex_unlock(&d->pmgr->lock);
        if (taken) /* errdefs.InvalidParameter(alreadyExistsError) */
                return berr_set(err, BERR_INVALID, EEXIST, "plugin %s already exists", local);
        char tmp[64];
        int tfd = -1;
        _cleanup_json_ json_t *cfg = NULL;
        if ((r = fetch_into_tmp(d, full, auth_header, granted, progress, opaque, tmp, &tfd, &cfg, err)) < 0)
                return r;
        struct mplugin *p = NULL;
        r = pmgr_install(d, tmp, tfd, local, cfg, full, &p, err);
        close(tfd);
        if (r < 0) {
                if (err->kind == BERR_CONFLICT)
                        err->kind = BERR_INVALID;
                pmgr_tmp_remove(d, tmp);
                return r;
        }
        pmgr_emit(d, p, "pull");
        return 0;
}

int pmgr_upgrade(struct daemon *d, const char *name, const char *remote, const char *auth_header, json_t *granted,
                 pmgr_progress_fn progress, void *opaque, struct berr *err) {
        struct plugin_mgr *m = d->pmgr;
        struct reference ref;
        char tag[REFERENCE_TAG_MAX + 1], full[REFERENCE_STRING_MAX];
        int r = parse_remote(remote, &ref, tag, err);
        if (r < 0)
                return r;
        reference_string(&ref, full);
        struct mplugin *p;
        if ((r = pmgr_acquire(m, name, &p, err)) < 0)
                return r;
        if (mplugin_enabled(p)) {
                r = berr_set(err, BERR_CONFLICT, EBUSY, "plugin must be disabled before upgrading: plugin %s is enabled",
                             mplugin_name(p));
                pmgr_release(m, p);
                return r;
        }
        char tmp[64];
        int tfd = -1;
        _cleanup_json_ json_t *cfg = NULL;
        if ((r = fetch_into_tmp(d, full, auth_header, granted, progress, opaque, tmp, &tfd, &cfg, err)) < 0) {
                pmgr_release(m, p);
                return r;
        }
        /* the new rootfs on disk before the renames publish it (see pmgr_install) */
        if (syncfs(tfd) < 0) {
                r = berr_sys(err, BERR_INTERNAL, "sync plugin rootfs");
                close(tfd);
                pmgr_tmp_remove(d, tmp);
                pmgr_release(m, p);
                return r;
        }
        close(tfd);
        /* rootfs -> .tmp-old-<id> (swept at start if we die), the new one in, then the record */
        char old[80];
        snprintf(old, sizeof(old), ".tmp-old-%.24s", p->id);
        _cleanup_close_ int pfd = openat(m->dir_fd, p->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_json_ json_t *work = json_deep_copy(p->obj);
        char newroot[160];
        snprintf(newroot, sizeof(newroot), "%s/rootfs", tmp);
        if (pfd < 0 || !work)
                r = berr_sys(err, BERR_INTERNAL, "plugin %s", p->id);
        else if (renameat(pfd, "rootfs", m->dir_fd, old) < 0)
                r = berr_sys(err, BERR_INTERNAL, "error backing up plugin data before upgrade");
        else if (renameat(m->dir_fd, newroot, pfd, "rootfs") < 0) {
                r = berr_sys(err, BERR_INTERNAL, "error upgrading");
                (void) renameat(m->dir_fd, old, pfd, "rootfs"); /* back as it was */
        }
        if (r == 0) {
                json_object_set(work, "Config", cfg);
                json_object_set_new(work, "PluginReference", json_string(full));
                r = pmgr_save_obj(d, p->id, work, err);
                /* the record stays the old one: so does the rootfs (the new one back to the
                 * temporary directory, removed below; the old one in place again) */
                if (r < 0 && renameat(pfd, "rootfs", m->dir_fd, newroot) == 0)
                        (void) renameat(m->dir_fd, old, pfd, "rootfs");
        }
        pmgr_tmp_remove(d, tmp);
        pmgr_tmp_remove(d, old);
        if (r == 0) {
                pthread_mutex_lock(&m->lock);
                json_decref(p->obj);
                p->obj = TAKE_PTR(work);
                pthread_mutex_unlock(&m->lock);
        }
        pmgr_release(m, p);
        return r;
}

/* ---- push ---- */

/* `tar -C ROOTFS -cf - .` (GNU tar, numeric owners) gzipped into an unnamed file; its
 * digest and size. */
static int rootfs_layer(const char *rootfs, int *ret_fd, char digest[DIGEST_STRING_MAX],
                        char diff_id[DIGEST_STRING_MAX], int64_t *ret_size, struct berr *err) {
        int pp[2];
        if (pipe2(pp, O_CLOEXEC) < 0)
                return berr_sys(err, BERR_INTERNAL, "pipe");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pp[1], 1);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        char *argv[] = { "tar", "--numeric-owner", "--xattrs", "-C", (char *) rootfs, "-cf", "-", ".", NULL };
        pid_t pid;
        int r = posix_spawnp(&pid, "tar", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pp[1]);
        if (r != 0) {
                close(pp[0]);
                errno = r;
                return berr_sys(err, BERR_INTERNAL, "run tar");
        }
        _cleanup_close_ int in = pp[0];
        _cleanup_close_ int out = open("/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        struct digest_ctx *dc = NULL, *uc = NULL;
        z_stream z = { 0 };
        bool z_ok = false;
        int64_t size = 0;
        r = out < 0 ? berr_sys(err, BERR_INTERNAL, "temporary file") : digest_ctx_new(&dc, err);
        if (r == 0)
                r = digest_ctx_new(&uc, err);
        if (r == 0) {
                z_ok = deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) == Z_OK;
                if (!z_ok)
                        r = berr_set(err, BERR_INTERNAL, ENOMEM, "deflateInit2");
        }
        unsigned char *inb = malloc(65536), *outb = malloc(65536);
        if (r == 0 && (!inb || !outb))
                r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        bool eof = false;
        while (r == 0 && !eof) {
                ssize_t n = read(in, inb, 65536);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = berr_sys(err, BERR_INTERNAL, "read tar");
                        break;
                }
                eof = n == 0;
                digest_ctx_update(uc, inb, (size_t) n);
                z.next_in = inb;
                z.avail_in = (uInt) n;
                do {
                        z.next_out = outb;
                        z.avail_out = 65536;
                        int zr = deflate(&z, eof ? Z_FINISH : Z_NO_FLUSH);
                        if (zr == Z_STREAM_ERROR) {
                                r = berr_set(err, BERR_INTERNAL, EIO, "deflate");
                                break;
                        }
                        size_t have = 65536 - z.avail_out;
                        if (have && fs_write_all(out, outb, have) < 0) {
                                r = berr_sys(err, BERR_INTERNAL, "write layer");
                                break;
                        }
                        digest_ctx_update(dc, outb, have);
                        size += (int64_t) have;
                } while (z.avail_out == 0);
        }
        free(inb);
        free(outb);
        if (z_ok)
                deflateEnd(&z);
        close(in);
        in = -1;
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (r == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
                r = berr_set(err, BERR_INTERNAL, EIO, "tar of the plugin's rootfs failed (status %d)", status);
        if (dc) {
                digest_ctx_final(dc, digest);
                digest_ctx_free(dc);
        }
        if (uc) {
                digest_ctx_final(uc, diff_id);
                digest_ctx_free(uc);
        }
        if (r == 0 && lseek(out, 0, SEEK_SET) < 0)
                r = berr_sys(err, BERR_INTERNAL, "seek");
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(out);
        *ret_size = size;
        return 0;
}

int pmgr_push(struct daemon *d, const char *name, const char *auth_header, pmgr_progress_fn progress, void *opaque,
              struct berr *err) {
        struct plugin_mgr *m = d->pmgr;
        struct mplugin *p;
        int r = pmgr_acquire(m, name, &p, err);
        if (r < 0)
                return r;
        char rootfs[4200], digest[DIGEST_STRING_MAX], diff_id[DIGEST_STRING_MAX], manifest[DIGEST_STRING_MAX], full[REFERENCE_STRING_MAX];
        struct reference ref;
        int64_t size = 0;
        _cleanup_close_ int lfd = -1;
        _cleanup_free_ char *config = NULL;
        _cleanup_json_ json_t *cfg = NULL;
        struct dist_auth auth = { 0 };
        if (reference_parse_normalized(mplugin_name(p), &ref, err) < 0) {
                berr_wrap(err, "plugin has invalid name %s for push", mplugin_name(p));
                r = -EINVAL;
                goto out;
        }
        reference_string(&ref, full);
        if (fs_path_fmt(rootfs, sizeof(rootfs), "%s/plugins/%s/rootfs", d->cfg.data_root, p->id) < 0) {
                r = berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "path too long");
                goto out;
        }
        if ((r = rootfs_layer(rootfs, &lfd, digest, diff_id, &size, err)) < 0)
                goto out;
        /* the config blob: the plugin's config with its rootfs's diff ID, as dockerd's */
        cfg = json_deep_copy(json_object_get(p->obj, "Config"));
        if (!cfg) {
                r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                goto out;
        }
        json_object_set_new(cfg, "rootfs", json_pack("{s:s, s:[s]}", "type", "layers", "diff_ids", diff_id));
        config = json_dumps(cfg, JSON_COMPACT);
        if (!config) {
                r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                goto out;
        }
        if ((r = dist_auth_decode(auth_header, &auth, err)) < 0)
                goto out;
        struct dist_plugin_opts o = { .remote = full, .auth = &auth, .progress = progress, .opaque = opaque };
        r = dist_plugin_push(&o, config, strlen(config), lfd, digest, size, manifest, err);
        dist_auth_done(&auth);
out:
        pmgr_release(m, p);
        if (r == 0)
                pmgr_emit(d, p, "push");
        return r;
}
