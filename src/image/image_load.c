/* image_load.c - `docker load`: a docker-archive (manifest.json + config + layer tars, as
 * `docker save` writes) or an OCI image layout (oci-layout, index.json, blobs/sha256/...)
 * read once from a stream. The archive cannot be seeked and its index comes last in
 * docker-archives, so every member is first spooled to a file under <data-root>/tmp (its
 * sha256 computed on the way), then images are built from the spool. Each image is
 * all-or-nothing; the spool is always removed. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "image/archive_lazy.h"
#include "image/image_store_int.h"
#include "image/image_config.h"
#include "common/tree.h"

#define MAX_MEMBERS 100000
#define MAX_JSON_BYTES (16u << 20)
#define MAX_LINK_HOPS 8

struct member {
        char *name;        /* cleaned archive path */
        char *link;        /* symlink / hard link target, cleaned; NULL for a file */
        unsigned spool_id; /* spool file "m<id>" */
        char digest[DIGEST_STRING_MAX];
        uint64_t size;
        UT_hash_handle hh;
};

struct load {
        struct image_store *s;
        char spool_path[PATH_MAX];
        int spool_fd;
        struct member *members;
        unsigned n_members;
        image_load_line_fn line;
        image_load_progress_fn progress;
        void *opaque;
};

static void say(struct load *ld, const char *fmt, const char *arg) {
        char buf[REFERENCE_STRING_MAX + 64];
        snprintf(buf, sizeof(buf), fmt, arg);
        if (ld->line)
                ld->line(ld->opaque, buf);
}

/* Archive paths compared the way the index files write them: no "./", no leading '/'. */
static char *clean_name(const char *dir, const char *name) {
        _cleanup_free_ char *joined = NULL;
        if (asprintf(&joined, "%s/%s", name[0] == '/' ? "" : dir, name) < 0)
                return NULL;
        char *out = calloc(1, strlen(joined) + 1);
        if (!out)
                return NULL;
        size_t len = 0;
        for (char *tok, *save = NULL, *p = joined; (tok = strtok_r(p, "/", &save)); p = NULL) {
                if (STREQ(tok, "."))
                        continue;
                if (STREQ(tok, "..")) {
                        char *slash = strrchr(out, '/');
                        len = slash ? (size_t) (slash - out) : 0;
                        out[len] = '\0';
                        continue;
                }
                len += (size_t) sprintf(out + len, "%s%s", len ? "/" : "", tok);
        }
        return out;
}

static struct member *find_member(struct load *ld, const char *name) {
        _cleanup_free_ char *clean = clean_name("", name);
        struct member *m = NULL;
        for (int hop = 0; clean && hop <= MAX_LINK_HOPS; hop++) {
                HASH_FIND_STR(ld->members, clean, m);
                if (!m || !m->link)
                        return m;
                free(clean);
                clean = strdup(m->link);
        }
        return NULL;
}

static int spool_entry(struct load *ld, struct archive *a, struct member *m, struct berr *err) {
        char name[32];
        snprintf(name, sizeof(name), "m%u", m->spool_id);
        _cleanup_close_ int fd = openat(ld->spool_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "spool %s", m->name);
        struct digest_ctx *d = NULL;
        int r = digest_ctx_new(&d, err);
        for (; r == 0;) {
                const void *buf;
                size_t size;
                la_int64_t off;
                int ar = archive_read_data_block(a, &buf, &size, &off);
                if (ar == ARCHIVE_EOF)
                        break;
                if (ar < ARCHIVE_WARN) {
                        r = berr_set(err, BERR_INVALID, EINVAL, "read %s: %s", m->name, archive_error_string(a));
                        break;
                }
                digest_ctx_update(d, buf, size);
                m->size += size;
                int w = fs_write_all(fd, buf, size);
                if (w < 0) {
                        errno = -w;
                        r = berr_sys(err, BERR_INTERNAL, "spool %s", m->name);
                        break;
                }
        }
        if (r == 0)
                digest_ctx_final(d, m->digest);
        digest_ctx_free(d);
        return r;
}

static int read_archive(struct load *ld, int fd, struct berr *err) {
        int r = arclazy_require(err);
        if (r < 0)
                return r;
        struct archive *a = archive_read_new();
        if (!a)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_zstd(a);
        archive_read_support_filter_xz(a);
        archive_read_support_filter_bzip2(a);
        archive_read_support_format_tar(a);
        if (archive_read_open_fd(a, fd, ARCHIVE_READ_BLOCK_BYTES) != ARCHIVE_OK)
                r = berr_set(err, BERR_INVALID, EINVAL, "invalid image archive: %s", archive_error_string(a));
        while (r == 0) {
                struct archive_entry *e;
                int ar = archive_read_next_header(a, &e);
                if (ar == ARCHIVE_EOF)
                        break;
                if (ar < ARCHIVE_WARN) {
                        r = berr_set(err, BERR_INVALID, EINVAL, "invalid image archive: %s", archive_error_string(a));
                        break;
                }
                mode_t type = archive_entry_filetype(e);
                const char *hard = archive_entry_hardlink(e);
                if (!hard && type != AE_IFREG && type != AE_IFLNK)
                        continue;
                if (ld->n_members >= MAX_MEMBERS) {
                        r = berr_set(err, BERR_TOO_LARGE, EFBIG, "image archive has more than %d files", MAX_MEMBERS);
                        break;
                }
                const char *path = archive_entry_pathname(e);
                struct member *m = calloc(1, sizeof(*m));
                if (!m || !path || !(m->name = clean_name("", path))) {
                        r = berr_set(err, BERR_INVALID, m ? EINVAL : ENOMEM, "image archive: bad member name");
                        free(m);
                        break;
                }
                m->spool_id = ld->n_members++;
                if (hard)
                        m->link = clean_name("", hard);
                else if (type == AE_IFLNK) {
                        _cleanup_free_ char *dir = strdup(m->name);
                        char *slash = dir ? strrchr(dir, '/') : NULL;
                        if (dir)
                                slash ? (void) (*slash = '\0') : (void) (dir[0] = '\0');
                        const char *target = archive_entry_symlink(e);
                        m->link = (dir && target) ? clean_name(dir, target) : NULL;
                } else
                        r = spool_entry(ld, a, m, err);
                if (r == 0 && (hard || type == AE_IFLNK) && !m->link)
                        r = berr_set(err, BERR_INVALID, EINVAL, "image archive: bad link %s", m->name);
                struct member *old = NULL;
                HASH_FIND_STR(ld->members, m->name, old);
                if (old) { /* a later member of the same name wins, as when extracting */
                        HASH_DEL(ld->members, old);
                        free(old->name);
                        free(old->link);
                        free(old);
                }
                HASH_ADD_KEYPTR(hh, ld->members, m->name, strlen(m->name), m);
        }
        archive_read_free(a);
        return r;
}

static int open_member(struct load *ld, const char *name, struct member **ret_m, struct berr *err) {
        struct member *m = find_member(ld, name);
        if (!m)
                return berr_set(err, BERR_INVALID, ENOENT, "invalid image archive: %s not found", name);
        char spool[32];
        snprintf(spool, sizeof(spool), "m%u", m->spool_id);
        int fd = openat(ld->spool_fd, spool, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open spooled %s", name);
        if (ret_m)
                *ret_m = m;
        return fd;
}

static int read_member(struct load *ld, const char *name, char **ret, size_t *ret_len, struct berr *err) {
        struct member *m = find_member(ld, name);
        if (!m)
                return berr_set(err, BERR_INVALID, ENOENT, "invalid image archive: %s not found", name);
        char spool[32];
        snprintf(spool, sizeof(spool), "m%u", m->spool_id);
        int r = fs_read_file(ld->spool_fd, spool, MAX_JSON_BYTES, ret, ret_len, err);
        return r < 0 ? berr_wrap(err, "%s", name) : 0;
}

static int read_json_member(struct load *ld, const char *name, json_t **ret, struct berr *err) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = read_member(ld, name, &text, &len, err);
        if (r < 0)
                return r;
        *ret = json_loadb(text, len, 0, NULL);
        if (!*ret)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid image archive: %s is not valid JSON", name);
        return 0;
}

/* Apply @layer_names (archive members) in order, checked against the config's diff IDs,
 * then record the image. The layers taken so far are released on any error. */
static int build_image(struct load *ld, const char *config, size_t config_len, size_t n_layers,
                       const char *(*layer_name)(void *ctx, size_t i, struct load *ld, struct berr *err), void *ctx,
                       char ret_id[DIGEST_STRING_MAX], struct berr *err) {
        _cleanup_json_ json_t *cfg = NULL;
        json_t *diff_ids;
        int r = json_parse_object(config, config_len, &cfg, err);
        if (r == 0)
                r = image_config_diff_ids(cfg, &diff_ids, err);
        if (r < 0)
                return berr_wrap(err, "invalid image config");
        if ((r = image_config_check(cfg, err)) < 0) /* before any layer is applied */
                return r;
        if (json_array_size(diff_ids) != n_layers)
                return berr_set(err, BERR_INVALID, EINVAL, "invalid manifest, layers length mismatch: expected %zu, got %zu",
                                json_array_size(diff_ids), n_layers);
        struct layer *top = NULL;
        for (size_t i = 0; i < n_layers && r == 0; i++) {
                const char *name = layer_name(ctx, i, ld, err);
                if (!name) {
                        r = -EINVAL;
                        break;
                }
                struct member *m = NULL;
                _cleanup_close_ int fd = open_member(ld, name, &m, err);
                if (fd < 0) {
                        r = fd;
                        break;
                }
                /* dockerd loads (and reports) only the layers it does not have. */
                const char *diff_id = json_string_value(json_array_get(diff_ids, i));
                char chain[DIGEST_STRING_MAX], short_id[13] = "";
                bool report = ld->progress && diff_id && strncmp(diff_id, "sha256:", 7) == 0 &&
                              layer_chain_id(top ? top->chain_id : NULL, diff_id, chain, NULL) == 0 &&
                              !layer_store_get(ld->s->layers, chain);
                if (report) {
                        snprintf(short_id, sizeof(short_id), "%s", diff_id + 7);
                        ld->progress(ld->opaque, short_id, 0, m->size);
                }
                struct layer *l;
                r = layer_store_register(ld->s->layers, top, fd, diff_id, &l, err);
                if (r == 0 && report)
                        ld->progress(ld->opaque, short_id, m->size, m->size);
                if (r < 0) {
                        berr_wrap(err, "layer %s", name);
                        break;
                }
                if (top) /* the child holds the parent now; drop ours */
                        (void) layer_store_release(ld->s->layers, top, NULL, NULL);
                top = l;
        }
        if (r < 0) {
                if (top)
                        (void) layer_store_release(ld->s->layers, top, NULL, NULL); /* removes what nobody else uses */
                return r;
        }
        return image_store_add_locked(ld->s, config, config_len, top, ret_id, err);
}

static int tag_image(struct load *ld, const char *const *names, size_t n, const char *id, struct berr *err) {
        if (n == 0) {
                say(ld, "Loaded image ID: %s", id);
                return 0;
        }
        for (size_t i = 0; i < n; i++) {
                struct reference ref;
                int r = reference_parse_with_default_tag(names[i], &ref, err);
                if (r == 0)
                        r = image_store_set_ref_locked(ld->s, &ref, id, ld->line, ld->opaque, err);
                if (r < 0)
                        return r;
                char fam[REFERENCE_STRING_MAX];
                reference_familiar_string(&ref, fam);
                say(ld, "Loaded image: %s", fam);
        }
        return 0;
}

/* ---- docker-archive ---- */

static const char *docker_layer_name(void *ctx, size_t i, struct load *ld, struct berr *err) {
        const char *name = json_string_value(json_array_get(ctx, i));
        if (!name)
                berr_set(err, BERR_INVALID, EINVAL, "invalid manifest.json: Layers[%zu] is not a string", i);
        return name;
}

static int load_docker_entry(struct load *ld, json_t *entry, struct berr *err) {
        const char *config_name = json_string_value(json_object_get(entry, "Config"));
        json_t *layers = json_object_get(entry, "Layers");
        json_t *tags = json_object_get(entry, "RepoTags");
        if (!config_name || !json_is_array(layers) || (tags && !json_is_null(tags) && !json_is_array(tags)))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid manifest.json entry");
        const char *names[64];
        size_t n = 0, i;
        json_t *v;
        json_array_foreach(tags, i, v) {
                struct reference ref;
                const char *t = json_string_value(v);
                if (!t || n == ELEMENTSOF(names))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid manifest.json: bad RepoTags");
                int r = reference_parse_normalized(t, &ref, err);
                if (r < 0)
                        return berr_wrap(err, "invalid tag %s", t);
                if (!ref.tag[0] || ref.digest[0])
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid tag %s", t);
                names[n++] = t;
        }
        _cleanup_free_ char *config = NULL;
        size_t len;
        int r = read_member(ld, config_name, &config, &len, err);
        if (r < 0)
                return r;
        char id[DIGEST_STRING_MAX];
        r = build_image(ld, config, len, json_array_size(layers), docker_layer_name, layers, id, err);
        if (r < 0)
                return r;
        return tag_image(ld, names, n, id, err);
}

/* ---- OCI image layout ---- */

static int read_blob(struct load *ld, json_t *desc, char **ret, size_t *ret_len, struct member **ret_m,
                     struct berr *err) {
        const char *digest = json_string_value(json_object_get(desc, "digest"));
        json_t *size = json_object_get(desc, "size");
        if (!digest_is_sha256(digest))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid OCI descriptor: bad digest");
        char name[DIGEST_STRING_MAX + 16];
        snprintf(name, sizeof(name), "blobs/sha256/%s", digest_hex(digest));
        struct member *m = find_member(ld, name);
        if (!m)
                return berr_set(err, BERR_INVALID, ENOENT, "invalid image archive: blob %s not found", digest);
        if (!STREQ(m->digest, digest))
                return berr_set(err, BERR_INVALID, EINVAL, "blob %s: digest mismatch (content is %s)", digest, m->digest);
        if (json_is_integer(size) && (uint64_t) json_integer_value(size) != m->size)
                return berr_set(err, BERR_INVALID, EINVAL, "blob %s: size mismatch (descriptor %lld, content %llu)",
                                digest, (long long) json_integer_value(size), (unsigned long long) m->size);
        if (ret_m)
                *ret_m = m;
        return ret ? read_member(ld, name, ret, ret_len, err) : 0;
}

static const char *oci_layer_name(void *ctx, size_t i, struct load *ld, struct berr *err) {
        struct member *m;
        if (read_blob(ld, json_array_get(ctx, i), NULL, NULL, &m, err) < 0)
                return NULL;
        return m->name;
}

static int load_oci_descriptor(struct load *ld, json_t *desc, const char *name, int depth, struct berr *err);

static int load_oci_index(struct load *ld, json_t *index, const char *name, int depth, struct berr *err) {
        json_t *manifests = json_object_get(index, "manifests"), *pick = NULL, *d;
        size_t i;
        json_array_foreach(manifests, i, d) {
                json_t *p = json_object_get(d, "platform");
                const char *os = json_string_value(json_object_get(p, "os"));
                const char *arch = json_string_value(json_object_get(p, "architecture"));
                if (!p || (os && arch && STREQ(os, "linux") && STREQ(arch, image_host_arch()))) {
                        pick = d;
                        break;
                }
        }
        if (!pick)
                return berr_set(err, BERR_INVALID, ENOENT, "no image for linux/%s in the OCI index", image_host_arch());
        return load_oci_descriptor(ld, pick, name, depth + 1, err);
}

static int load_oci_manifest(struct load *ld, json_t *manifest, const char *name, struct berr *err) {
        json_t *layers = json_object_get(manifest, "layers");
        if (!json_is_array(layers))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid OCI manifest: no layers");
        _cleanup_free_ char *config = NULL;
        size_t len;
        int r = read_blob(ld, json_object_get(manifest, "config"), &config, &len, NULL, err);
        if (r < 0)
                return berr_wrap(err, "config");
        char id[DIGEST_STRING_MAX];
        r = build_image(ld, config, len, json_array_size(layers), oci_layer_name, layers, id, err);
        if (r < 0)
                return r;
        const char *names[1] = { name };
        return tag_image(ld, names, name ? 1 : 0, id, err);
}

static int load_oci_descriptor(struct load *ld, json_t *desc, const char *name, int depth, struct berr *err) {
        if (depth > 4)
                return berr_set(err, BERR_INVALID, ELOOP, "OCI indexes nested too deep");
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = read_blob(ld, desc, &text, &len, NULL, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *doc = NULL;
        r = json_parse_object(text, len, &doc, err);
        if (r < 0)
                return berr_wrap(err, "OCI manifest");
        const char *mt = json_string_value(json_object_get(doc, "mediaType"));
        if (!mt)
                mt = json_string_value(json_object_get(desc, "mediaType"));
        if (json_is_array(json_object_get(doc, "manifests")) || (mt && strstr(mt, "index")) ||
            (mt && strstr(mt, "manifest.list")))
                return load_oci_index(ld, doc, name, depth, err);
        return load_oci_manifest(ld, doc, name, err);
}

/* The name an index entry carries: containerd's full-name annotation, or a ref.name that
 * is a whole reference (a bare "latest" names no repository). */
static const char *oci_name(json_t *desc) {
        json_t *ann = json_object_get(desc, "annotations");
        const char *n = json_string_value(json_object_get(ann, "io.containerd.image.name"));
        if (n)
                return n;
        n = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
        if (n && (strchr(n, '/') || strchr(n, ':')))
                return n;
        return NULL;
}

static int load_spooled(struct load *ld, struct berr *err) {
        _cleanup_json_ json_t *doc = NULL;
        if (find_member(ld, "manifest.json")) {
                int r = read_json_member(ld, "manifest.json", &doc, err);
                if (r < 0)
                        return r;
                if (!json_is_array(doc))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid manifest.json: not an array");
                size_t i;
                json_t *e;
                json_array_foreach(doc, i, e) {
                        r = load_docker_entry(ld, e, err);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        if (find_member(ld, "index.json")) {
                int r = read_json_member(ld, "index.json", &doc, err);
                if (r < 0)
                        return r;
                json_t *manifests = json_object_get(doc, "manifests"), *d;
                if (!json_is_array(manifests))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid index.json: no manifests");
                size_t i;
                json_array_foreach(manifests, i, d) {
                        r = load_oci_descriptor(ld, d, oci_name(d), 0, err);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        return berr_set(err, BERR_INVALID, ENOENT,
                        "invalid image archive: neither manifest.json nor an OCI index.json found");
}

static void load_free(struct load *ld) {
        struct member *m, *tmp;
        HASH_ITER(hh, ld->members, m, tmp) {
                HASH_DEL(ld->members, m);
                free(m->name);
                free(m->link);
                free(m);
        }
        if (ld->spool_fd >= 0)
                close(ld->spool_fd);
        if (ld->spool_path[0] && tree_remove_at(AT_FDCWD, ld->spool_path, NULL) < 0)
                log_debug("image load: could not remove %s (removed at next start)", ld->spool_path);
}

static int drain(int fd, struct berr *err) {
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berr_sys(err, BERR_INVALID, "read image archive");
                if (n == 0)
                        return 0;
        }
}

int image_store_load_archive(struct image_store *s, int fd, image_load_line_fn line, void *opaque,
                             struct berr *err) {
        return image_store_load_archive_checked(s, fd, line, NULL, opaque, NULL, err);
}

int image_store_load_archive_checked(struct image_store *s, int fd, image_load_line_fn line,
                                     image_load_progress_fn progress, void *opaque, bool (*complete)(void *opaque),
                                     struct berr *err) {
        struct load ld = { .s = s, .spool_fd = -1, .line = line, .progress = progress, .opaque = opaque };
        if (fs_path_fmt(ld.spool_path, sizeof(ld.spool_path), "%s/load-XXXXXX", s->tmp_dir) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "the data root's path is too long");
        if (!mkdtemp(ld.spool_path)) {
                int r = berr_sys(err, BERR_INTERNAL, "create %s", ld.spool_path);
                ld.spool_path[0] = '\0';
                return r;
        }
        ld.spool_fd = open(ld.spool_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r = ld.spool_fd < 0 ? berr_sys(err, BERR_INTERNAL, "open %s", ld.spool_path) : 0;
        /* Spooling reads the client's stream: no lock held meanwhile. */
        if (r == 0)
                r = read_archive(&ld, fd, err);
        if (r == 0 && complete) {
                /* Whether the stream was whole is known at its EOF, which may come after the
                 * archive's end blocks (padding, the end of an HTTP body). */
                r = drain(fd, err);
                if (r == 0 && !complete(opaque))
                        r = berr_set(err, BERR_INVALID, EPIPE, "the image archive was cut short: the client went away");
        }
        if (r == 0) {
                pthread_mutex_lock(&s->lock);
                r = load_spooled(&ld, err);
                pthread_mutex_unlock(&s->lock);
        }
        load_free(&ld);
        return r;
}
