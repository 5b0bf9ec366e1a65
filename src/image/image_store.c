/* image_store.c - image records, references and the Docker semantics of lookup, list,
 * inspect, tag and delete. Records live in image/sha256/<hex>/{config,meta.json}, written
 * under a temporary name and renamed, so a record either exists whole or not at all;
 * references.json is rewritten atomically after each change. */
#include "image_store_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/id.h"
#include "common/json.h"
#include "common/log.h"
#include "image/image_config.h"
#include "common/tree.h"

#define CONFIG_MAX_BYTES (16u << 20)
#define REFS_FILE "references.json"
#define ZERO_TIME "0001-01-01T00:00:00Z"

static void now_rfc3339(char out[64]) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        char base[32];
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out, 64, "%s.%09ldZ", base, ts.tv_nsec);
}

int image_config_diff_ids(json_t *config, json_t **ret_diff_ids, struct berr *err) {
        json_t *rootfs = json_object_get(config, "rootfs");
        json_t *ids = rootfs ? json_object_get(rootfs, "diff_ids") : NULL;
        const char *type = json_string_value(json_object_get(rootfs, "type"));
        if (!json_is_object(rootfs) || !type || !STREQ(type, "layers") || (ids && !json_is_array(ids)))
                return berr_set(err, BERR_INVALID, EINVAL, "invalid image config: rootfs must be of type layers");
        size_t i;
        json_t *v;
        json_array_foreach(ids, i, v) {
                if (!digest_is_sha256(json_string_value(v)))
                        return berr_set(err, BERR_INVALID, EINVAL, "invalid image config: bad diff ID at index %zu", i);
        }
        *ret_diff_ids = ids;
        return 0;
}

/* The chain ID the config's diff IDs name ("" for none). */
static int config_chain_id(json_t *config, char out[DIGEST_STRING_MAX], struct berr *err) {
        json_t *ids;
        int r = image_config_diff_ids(config, &ids, err);
        if (r < 0)
                return r;
        out[0] = '\0';
        size_t i;
        json_t *v;
        json_array_foreach(ids, i, v) {
                char next[DIGEST_STRING_MAX];
                r = layer_chain_id(i ? out : NULL, json_string_value(v), next, err);
                if (r < 0)
                        return r;
                memcpy(out, next, sizeof(next));
        }
        return 0;
}

struct image *image_find_locked(struct image_store *s, const char *id) {
        struct image *img = NULL;
        HASH_FIND_STR(s->images, id, img);
        return img;
}

static void image_free(struct image *img) {
        json_decref(img->config);
        free(img);
}

static int write_meta(struct image_store *s, const struct image *img, int dirfd, struct berr *err) {
        _cleanup_json_ json_t *meta = json_pack("{s:s}", "LastTagTime", img->last_tag_time);
        if (meta && img->parent[0])
                json_object_set_new(meta, "Parent", json_string(img->parent));
        _cleanup_free_ char *text = meta ? json_dump_compact(meta) : NULL;
        if (!text)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        return fs_write_atomic(dirfd, "meta.json", text, strlen(text), 0600, err);
}

static int save_meta(struct image_store *s, const struct image *img, struct berr *err) {
        _cleanup_close_ int fd = openat(s->records_fd, digest_hex(img->id), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open image record %s", img->id);
        return write_meta(s, img, fd, err);
}

int image_save_meta_locked(struct image_store *s, const struct image *img, struct berr *err) {
        return save_meta(s, img, err);
}

static int save_refs(struct image_store *s, struct berr *err) {
        _cleanup_json_ json_t *repos = json_object();
        struct image_ref *ref, *tmp;
        HASH_ITER(hh, s->refs, ref, tmp) {
                struct reference parsed;
                char name[REFERENCE_STRING_MAX], full[REFERENCE_STRING_MAX];
                if (reference_parse_normalized(ref->name, &parsed, NULL) < 0)
                        continue;
                reference_familiar_name(&parsed, name);
                reference_familiar_string(&parsed, full);
                json_t *repo = json_object_get(repos, name);
                if (!repo) {
                        repo = json_object();
                        json_object_set_new(repos, name, repo);
                }
                json_object_set_new(repo, full, json_string(ref->id));
        }
        _cleanup_json_ json_t *doc = json_pack("{s:O}", "Repositories", repos);
        _cleanup_free_ char *text = doc ? json_dumps(doc, JSON_SORT_KEYS) : NULL;
        if (!text)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        return fs_write_atomic(s->image_dir_fd, REFS_FILE, text, strlen(text), 0600, err);
}

static int load_refs(struct image_store *s, struct berr *err) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        struct berr e2;
        int r = fs_read_file(s->image_dir_fd, REFS_FILE, 64u << 20, &text, &len, &e2);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                *err = e2;
                return r;
        }
        _cleanup_json_ json_t *doc = NULL;
        r = json_parse_object(text, len, &doc, err);
        if (r < 0)
                return berr_wrap(err, "%s", REFS_FILE);
        json_t *repos = json_object_get(doc, "Repositories");
        const char *rname, *full;
        json_t *repo, *idv;
        json_object_foreach(repos, rname, repo) {
                json_object_foreach(repo, full, idv) {
                        struct reference parsed;
                        const char *id = json_string_value(idv);
                        if (!id || !image_find_locked(s, id) || reference_parse_normalized(full, &parsed, NULL) < 0) {
                                log_debug("image store: dropping reference %s", full);
                                continue;
                        }
                        struct image_ref *ref = calloc(1, sizeof(*ref));
                        if (!ref)
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        reference_string(&parsed, ref->name);
                        snprintf(ref->id, sizeof(ref->id), "%s", id);
                        HASH_ADD_STR(s->refs, name, ref);
                }
        }
        return 0;
}

static int remove_record(struct image_store *s, const char *hex, struct berr *err) {
        char tmp[128];
        snprintf(tmp, sizeof(tmp), ".tmp-rm-%s", hex);
        if (renameat(s->records_fd, hex, s->records_fd, tmp) < 0 && errno != ENOENT)
                return berr_sys(err, BERR_INTERNAL, "remove image record %s", hex);
        return tree_remove_at(s->records_fd, tmp, err);
}

/* One image/sha256/<hex> record; 1 if it is incomplete or broken and should go. */
static int load_image(struct image_store *s, const char *hex, struct berr *err) {
        char path[128];
        _cleanup_free_ char *config = NULL, *meta_text = NULL;
        size_t len, meta_len;
        if (fs_path_fmt(path, sizeof(path), "%s/config", hex) < 0 ||
            fs_read_file(s->records_fd, path, CONFIG_MAX_BYTES, &config, &len, NULL) < 0)
                return 1;
        char id[DIGEST_STRING_MAX], chain[DIGEST_STRING_MAX];
        if (digest_sha256_buf(config, len, id, err) < 0)
                return -ENOMEM;
        if (!STREQ(digest_hex(id), hex))
                return 1;
        _cleanup_json_ json_t *cfg = NULL;
        if (json_parse_object(config, len, &cfg, NULL) < 0 || config_chain_id(cfg, chain, NULL) < 0)
                return 1;
        struct layer *top = chain[0] ? layer_store_get(s->layers, chain) : NULL;
        if (chain[0] && !top)
                return 1;
        struct image *img = calloc(1, sizeof(*img));
        if (!img)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        memcpy(img->id, id, sizeof(id));
        img->config = TAKE_PTR(cfg);
        img->top = top;
        if (top)
                layer_ref(top);
        snprintf(img->last_tag_time, sizeof(img->last_tag_time), ZERO_TIME);
        _cleanup_json_ json_t *meta = NULL;
        const char *ltt = NULL;
        if (fs_path_fmt(path, sizeof(path), "%s/meta.json", hex) == 0 &&
            fs_read_file(s->records_fd, path, 1 << 20, &meta_text, &meta_len, NULL) == 0 &&
            json_parse_object(meta_text, meta_len, &meta, NULL) == 0 &&
            json_get_string(meta, "LastTagTime", &ltt, NULL) == 0)
                snprintf(img->last_tag_time, sizeof(img->last_tag_time), "%s", ltt);
        const char *parent = NULL;
        if (meta && json_get_string(meta, "Parent", &parent, NULL) == 0 && digest_is_sha256(parent))
                snprintf(img->parent, sizeof(img->parent), "%s", parent);
        HASH_ADD_STR(s->images, id, img);
        return 0;
}

static int load_images(struct image_store *s, struct berr *err) {
        int fd = dup(s->records_fd);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "dup");
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return berr_sys(err, BERR_INTERNAL, "opendir image records");
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.') {
                        if (strncmp(de->d_name, ".tmp-", 5) == 0)
                                (void) tree_remove_at(s->records_fd, de->d_name, NULL); /* retried next start */
                        continue;
                }
                int r = id_is_full_hex(de->d_name) ? load_image(s, de->d_name, err) : 1;
                if (r < 0)
                        return r;
                if (r > 0) {
                        log_debug("image store: removing incomplete image record %s", de->d_name);
                        (void) remove_record(s, de->d_name, NULL); /* garbage; retried next start */
                }
        }
        return 0;
}

static int open_dirs(struct image_store *s, struct berr *err) {
        _cleanup_free_ char *image = fs_path_join(s->root, "image");
        _cleanup_free_ char *records = fs_path_join(s->root, "image/sha256");
        s->tmp_dir = fs_path_join(s->root, "tmp");
        if (!image || !records || !s->tmp_dir)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = fs_mkdir_p(records, 0700, err);
        if (r == 0)
                r = fs_mkdir_p(s->tmp_dir, 0700, err);
        if (r < 0)
                return r;
        s->image_dir_fd = open(image, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        s->records_fd = open(records, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->image_dir_fd < 0 || s->records_fd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", image);
        /* Spool space of loads that never finished. */
        _cleanup_close_ int tfd = open(s->tmp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tfd < 0)
                return berr_sys(err, BERR_INTERNAL, "open %s", s->tmp_dir);
        return tree_clear_dir(tfd, err);
}

int image_store_open(const char *data_root, const char *driver, struct image_store **ret, struct berr *err) {
        struct image_store *s = calloc(1, sizeof(*s));
        if (!s)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pthread_mutex_init(&s->lock, NULL);
        s->image_dir_fd = s->records_fd = -1;
        s->root = strdup(data_root);
        int r = s->root ? open_dirs(s, err) : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (r == 0)
                r = graph_driver_open(data_root, driver, &s->driver, err);
        if (r == 0)
                r = layer_store_open(data_root, s->driver, &s->layers, err);
        if (r == 0)
                r = load_images(s, err);
        if (r == 0)
                r = load_refs(s, err);
        if (r == 0)
                r = layer_store_gc(s->layers, err);
        if (r < 0) {
                image_store_free(s);
                return berr_wrap(err, "image store %s", data_root);
        }
        *ret = s;
        return 0;
}

struct image_store *image_store_free(struct image_store *s) {
        if (!s)
                return NULL;
        struct image *img, *itmp;
        HASH_ITER(hh, s->images, img, itmp) {
                HASH_DEL(s->images, img);
                image_free(img);
        }
        struct image_ref *ref, *rtmp;
        HASH_ITER(hh, s->refs, ref, rtmp) {
                HASH_DEL(s->refs, ref);
                free(ref);
        }
        layer_store_free(s->layers);
        graph_driver_free(s->driver);
        if (s->image_dir_fd >= 0)
                close(s->image_dir_fd);
        if (s->records_fd >= 0)
                close(s->records_fd);
        pthread_mutex_destroy(&s->lock);
        free(s->tmp_dir);
        free(s->root);
        free(s);
        return NULL;
}

const char *image_store_driver_name(const struct image_store *s) {
        return graph_driver_name(s->driver);
}

int image_store_add_locked(struct image_store *s, const char *config, size_t len, struct layer *top,
                           char ret_id[DIGEST_STRING_MAX], struct berr *err) {
        char id[DIGEST_STRING_MAX], chain[DIGEST_STRING_MAX];
        _cleanup_json_ json_t *cfg = NULL;
        int r = digest_sha256_buf(config, len, id, err);
        if (r == 0)
                r = json_parse_object(config, len, &cfg, err);
        if (r == 0)
                r = image_config_check(cfg, err);
        if (r == 0)
                r = config_chain_id(cfg, chain, err);
        if (r == 0 && !STREQ(chain, top ? top->chain_id : ""))
                r = berr_set(err, BERR_INVALID, EINVAL, "image %s: layers do not match the config's rootfs", id);
        struct image *have = r == 0 ? image_find_locked(s, id) : NULL;
        if (r < 0 || have) {
                if (top)
                        (void) layer_store_release(s->layers, top, NULL, NULL); /* drop the caller's reference */
                if (have)
                        memcpy(ret_id, id, DIGEST_STRING_MAX);
                return have ? 0 : r;
        }

        struct image *img = calloc(1, sizeof(*img));
        if (!img)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        memcpy(img->id, id, sizeof(id));
        img->top = top;
        snprintf(img->last_tag_time, sizeof(img->last_tag_time), ZERO_TIME);
        char tmp[128];
        snprintf(tmp, sizeof(tmp), ".tmp-new-%s", digest_hex(id));
        (void) tree_remove_at(s->records_fd, tmp, NULL); /* leftover of an earlier attempt */
        _cleanup_close_ int fd = -1;
        if (mkdirat(s->records_fd, tmp, 0700) < 0 ||
            (fd = openat(s->records_fd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                r = berr_sys(err, BERR_INTERNAL, "create image record %s", tmp);
        if (r == 0)
                r = fs_write_atomic(fd, "config", config, len, 0600, err);
        if (r == 0)
                r = write_meta(s, img, fd, err);
        if (r == 0 && renameat(s->records_fd, tmp, s->records_fd, digest_hex(id)) < 0)
                r = berr_sys(err, BERR_INTERNAL, "record image %s", id);
        if (r == 0 && fsync(s->records_fd) < 0)
                r = berr_sys(err, BERR_INTERNAL, "fsync image records");
        if (r < 0) {
                (void) tree_remove_at(s->records_fd, tmp, NULL); /* report the first error */
                if (top)
                        (void) layer_store_release(s->layers, top, NULL, NULL);
                free(img);
                return r;
        }
        img->config = TAKE_PTR(cfg);
        HASH_ADD_STR(s->images, id, img);
        memcpy(ret_id, id, DIGEST_STRING_MAX);
        return 0;
}

struct image_ref *image_find_ref_locked(struct image_store *s, const struct reference *ref) {
        char name[REFERENCE_STRING_MAX];
        reference_string(ref, name);
        struct image_ref *r = NULL;
        HASH_FIND_STR(s->refs, name, r);
        return r;
}

static int set_ref(struct image_store *s, const struct reference *ref, const char *id, char ret_old[DIGEST_STRING_MAX],
                   struct berr *err) {
        struct image_ref *have = image_find_ref_locked(s, ref);
        ret_old[0] = '\0';
        if (have) {
                if (!STREQ(have->id, id))
                        memcpy(ret_old, have->id, DIGEST_STRING_MAX);
                memcpy(have->id, id, DIGEST_STRING_MAX);
        } else {
                have = calloc(1, sizeof(*have));
                if (!have)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                reference_string(ref, have->name);
                memcpy(have->id, id, DIGEST_STRING_MAX);
                HASH_ADD_STR(s->refs, name, have);
        }
        struct image *img = image_find_locked(s, id);
        if (img) {
                now_rfc3339(img->last_tag_time);
                int r = save_meta(s, img, err);
                if (r < 0)
                        return r;
        }
        return save_refs(s, err);
}

int image_store_set_ref_locked(struct image_store *s, const struct reference *ref, const char *id,
                               image_load_line_fn line, void *opaque, struct berr *err) {
        char old[DIGEST_STRING_MAX];
        int r = set_ref(s, ref, id, old, err);
        if (r == 0 && old[0] && line) {
                char fam[REFERENCE_STRING_MAX], msg[REFERENCE_STRING_MAX + 160];
                reference_familiar_string(ref, fam);
                snprintf(msg, sizeof(msg), "The image %s already exists, renaming the old one with ID %s to empty string",
                         fam, old);
                line(opaque, msg);
        }
        return r;
}

size_t image_refs_of(struct image_store *s, const char *id, struct image_ref **out, size_t max) {
        size_t n = 0;
        struct image_ref *ref, *tmp;
        HASH_ITER(hh, s->refs, ref, tmp) {
                if (!STREQ(ref->id, id))
                        continue;
                if (n < max)
                        out[n] = ref;
                n++;
        }
        return n;
}

static int not_found(const char *name, struct berr *err) {
        return berr_set(err, BERR_NOT_FOUND, ENOENT, "No such image: %s", name);
}

/* Unique image whose hex ID starts with @prefix (an optional "sha256:" is allowed). */
static struct image *search_prefix(struct image_store *s, const char *prefix) {
        const char *hex = digest_hex(prefix);
        size_t n = strlen(hex);
        if (n == 0 || n > 64 || strspn(hex, "0123456789abcdef") != n)
                return NULL;
        struct image *img, *tmp, *hit = NULL;
        HASH_ITER(hh, s->images, img, tmp) {
                if (strncmp(digest_hex(img->id), hex, n) != 0)
                        continue;
                if (hit)
                        return NULL; /* ambiguous: Docker treats it as not found */
                hit = img;
        }
        return hit;
}

int image_resolve_locked(struct image_store *s, const char *name_or_id, struct image **ret, struct berr *err) {
        struct image *img = NULL;
        if (reference_is_full_id(name_or_id) || digest_is_sha256(name_or_id)) {
                char id[DIGEST_STRING_MAX];
                snprintf(id, sizeof(id), "sha256:%s", digest_hex(name_or_id));
                img = image_find_locked(s, id);
                if (!img)
                        return not_found(name_or_id, err);
                *ret = img;
                return 0;
        }
        struct reference ref;
        int r = reference_parse_with_default_tag(name_or_id, &ref, err);
        if (r < 0)
                return r;
        struct image_ref *hit = image_find_ref_locked(s, &ref);
        if (hit)
                img = image_find_locked(s, hit->id);
        if (!img)
                img = search_prefix(s, name_or_id);
        if (!img) {
                char fam[REFERENCE_STRING_MAX];
                reference_familiar_string(&ref, fam);
                return not_found(fam, err);
        }
        *ret = img;
        return 0;
}

int image_store_resolve(struct image_store *s, const char *name_or_id, char ret_id[DIGEST_STRING_MAX],
                        struct berr *err) {
        pthread_mutex_lock(&s->lock);
        struct image *img;
        int r = image_resolve_locked(s, name_or_id, &img, err);
        if (r == 0)
                memcpy(ret_id, img->id, DIGEST_STRING_MAX);
        pthread_mutex_unlock(&s->lock);
        return r;
}

/* RepoTags and RepoDigests of an image, familiar and sorted as Docker shows them. */
static int compare_ref_names(const void *a, const void *b) {
        return strcmp((*(struct image_ref *const *) a)->name, (*(struct image_ref *const *) b)->name);
}

void image_repo_lists(struct image_store *s, const struct image *img, json_t **ret_tags, json_t **ret_digests) {
        json_t *tags = json_array(), *digests = json_array();
        /* Docker's reference store lists them sorted by their full names. */
        size_t n = image_refs_of(s, img->id, NULL, 0);
        _cleanup_free_ struct image_ref **refs = n ? calloc(n, sizeof(*refs)) : NULL;
        if (refs) {
                image_refs_of(s, img->id, refs, n);
                qsort(refs, n, sizeof(*refs), compare_ref_names);
        }
        for (size_t i = 0; refs && i < n; i++) {
                struct reference parsed;
                char fam[REFERENCE_STRING_MAX];
                if (reference_parse_normalized(refs[i]->name, &parsed, NULL) < 0)
                        continue;
                reference_familiar_string(&parsed, fam);
                json_array_append_new(parsed.digest[0] ? digests : tags, json_string(fam));
        }
        *ret_tags = tags;
        *ret_digests = digests;
}

static json_t *config_get_or_null(json_t *config, const char *key) {
        json_t *v = json_object_get(config, key);
        return v ? json_incref(v) : json_null();
}

const char *image_config_str(json_t *config, const char *key) {
        const char *v = json_string_value(json_object_get(config, key));
        return v ? v : "";
}

static json_t *inspect_locked(struct image_store *s, struct image *img) {
        json_t *tags, *digests;
        image_repo_lists(s, img, &tags, &digests);
        const char *chain[1024];
        size_t n = layer_chain_cache_ids(img->top, chain, 1024);
        json_t *gd_data = graph_driver_metadata(s->driver, chain, n < 1024 ? n : 1024);
        json_t *diff_ids = NULL;
        (void) image_config_diff_ids(img->config, &diff_ids, NULL); /* validated when recorded */
        uint64_t size = layer_chain_size(img->top);
        json_t *o = json_pack("{s:s, s:o, s:o, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:s, s:s, s:I, s:I}",
                              "Id", img->id, "RepoTags", tags, "RepoDigests", digests, "Parent", img->parent,
                              "Comment", image_config_str(img->config, "comment"),
                              "Created", image_config_str(img->config, "created"),
                              "Container", image_config_str(img->config, "container"),
                              "ContainerConfig", config_get_or_null(img->config, "container_config"),
                              "DockerVersion", image_config_str(img->config, "docker_version"),
                              "Author", image_config_str(img->config, "author"),
                              "Config", config_get_or_null(img->config, "config"),
                              "Architecture", image_config_str(img->config, "architecture"),
                              "Os", image_config_str(img->config, "os"),
                              "Size", (json_int_t) size, "VirtualSize", (json_int_t) size);
        if (!o)
                return NULL;
        const char *variant = image_config_str(img->config, "variant");
        if (variant[0])
                json_object_set_new(o, "Variant", json_string(variant));
        const char *osv = image_config_str(img->config, "os.version");
        if (osv[0])
                json_object_set_new(o, "OsVersion", json_string(osv));
        json_object_set_new(o, "GraphDriver", json_pack("{s:o, s:s}", "Data", gd_data ? gd_data : json_null(),
                                                        "Name", graph_driver_name(s->driver)));
        json_object_set_new(o, "RootFS", json_pack("{s:s, s:O}", "Type", "layers", "Layers",
                                                   diff_ids ? diff_ids : json_array()));
        json_object_set_new(o, "Metadata", json_pack("{s:s}", "LastTagTime", img->last_tag_time));
        return o;
}

int image_store_inspect(struct image_store *s, const char *name_or_id, json_t **ret, struct berr *err) {
        pthread_mutex_lock(&s->lock);
        struct image *img;
        int r = image_resolve_locked(s, name_or_id, &img, err);
        if (r == 0) {
                *ret = inspect_locked(s, img);
                if (!*ret)
                        r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

int image_store_config(struct image_store *s, const char *name_or_id, json_t **ret_config,
                       char ret_chain_id[DIGEST_STRING_MAX], struct berr *err) {
        pthread_mutex_lock(&s->lock);
        struct image *img;
        int r = image_resolve_locked(s, name_or_id, &img, err);
        if (r == 0) {
                *ret_config = json_incref(img->config);
                snprintf(ret_chain_id, DIGEST_STRING_MAX, "%s", img->top ? img->top->chain_id : "");
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

int64_t image_created_unix(json_t *config) {
        const char *c = image_config_str(config, "created");
        struct tm tm = { 0 };
        if (!strptime(c, "%Y-%m-%dT%H:%M:%S", &tm))
                return 0;
        return (int64_t) timegm(&tm);
}

int image_store_list(struct image_store *s, json_t **ret, struct berr *err) {
        json_t *arr = json_array();
        if (!arr)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pthread_mutex_lock(&s->lock);
        struct image *img, *tmp;
        HASH_ITER(hh, s->images, img, tmp) {
                json_t *tags, *digests;
                image_repo_lists(s, img, &tags, &digests);
                json_t *cfg = json_object_get(img->config, "config");
                json_t *labels = json_object_get(cfg, "Labels");
                uint64_t size = layer_chain_size(img->top);
                json_array_append_new(
                        arr, json_pack("{s:i, s:I, s:s, s:O, s:s, s:o, s:o, s:i, s:I, s:I}", "Containers", -1,
                                       "Created", (json_int_t) image_created_unix(img->config), "Id", img->id, "Labels",
                                       labels ? labels : json_null(), "ParentId", img->parent, "RepoDigests", digests,
                                       "RepoTags", tags, "SharedSize", -1, "Size", (json_int_t) size, "VirtualSize",
                                       (json_int_t) size));
        }
        pthread_mutex_unlock(&s->lock);
        *ret = arr;
        return 0;
}

int image_store_tag(struct image_store *s, const char *source, const char *target, struct berr *err) {
        struct reference ref;
        int r = reference_parse_with_default_tag(target, &ref, err);
        if (r < 0)
                return r;
        if (ref.digest[0])
                return berr_set(err, BERR_INVALID, EINVAL, "refusing to create a tag with a digest reference");
        pthread_mutex_lock(&s->lock);
        struct image *img;
        r = image_resolve_locked(s, source, &img, err);
        if (r == 0) {
                char old[DIGEST_STRING_MAX];
                r = set_ref(s, &ref, img->id, old, err);
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

int image_remove_ref_locked(struct image_store *s, struct image_ref *ref, json_t *items, struct berr *err) {
        struct reference parsed;
        char fam[REFERENCE_STRING_MAX];
        if (reference_parse_normalized(ref->name, &parsed, NULL) == 0) {
                reference_familiar_string(&parsed, fam);
                json_array_append_new(items, json_pack("{s:s}", "Untagged", fam));
        }
        HASH_DEL(s->refs, ref);
        free(ref);
        return save_refs(s, err);
}

static int conflict(const char *id, bool hard, const char *msg, struct berr *err) {
        return berr_set(err, BERR_CONFLICT, EBUSY, "conflict: unable to delete %.12s (%s) - %s", digest_hex(id),
                        hard ? "cannot be forced" : "must be forced", msg);
}

/* Docker's checkImageDeleteConflict: a running container is a hard conflict; remaining
 * references and stopped containers are soft ones, checked when asked. */
static int check_conflict(struct image_store *s, struct image *img, bool check_refs, bool check_stopped,
                          image_usage_fn usage, void *opaque, struct berr *err) {
        char cid[65] = "";
        enum image_usage u = usage ? usage(opaque, img->id, cid) : IMAGE_UNUSED;
        char msg[160];
        if (u == IMAGE_USED_BY_RUNNING) {
                snprintf(msg, sizeof(msg), "image is being used by running container %.12s", cid);
                return conflict(img->id, true, msg, err);
        }
        struct image_ref *any[1];
        if (check_refs && image_refs_of(s, img->id, any, 1) > 0)
                return conflict(img->id, false, "image is referenced in multiple repositories", err);
        if (check_stopped && u == IMAGE_USED_BY_STOPPED) {
                snprintf(msg, sizeof(msg), "image is being used by stopped container %.12s", cid);
                return conflict(img->id, false, msg, err);
        }
        return 0;
}

/* Docker's isSingleReference: all references in one repository, at most one of them a tag. */
static bool is_single_reference(struct image_ref **refs, size_t n) {
        struct reference first, cur;
        size_t tags = 0;
        for (size_t i = 0; i < n; i++) {
                if (reference_parse_normalized(refs[i]->name, &cur, NULL) < 0)
                        return false;
                if (i == 0)
                        first = cur;
                else if (!STREQ(first.domain, cur.domain) || !STREQ(first.path, cur.path))
                        return false;
                if (!cur.digest[0])
                        tags++;
        }
        return tags <= 1;
}

int image_delete_locked(struct image_store *s, struct image *img, json_t *items, struct berr *err) {
        struct image_ref *refs[256];
        size_t n;
        while ((n = image_refs_of(s, img->id, refs, 256)) > 0) {
                int r = image_remove_ref_locked(s, refs[0], items, err);
                if (r < 0)
                        return r;
        }
        int r = remove_record(s, digest_hex(img->id), err);
        if (r < 0)
                return r;
        json_array_append_new(items, json_pack("{s:s}", "Deleted", img->id));
        HASH_DEL(s->images, img);
        _cleanup_json_ json_t *layers = json_array();
        r = img->top ? layer_store_release(s->layers, img->top, layers, err) : 0;
        image_free(img);
        size_t i;
        json_t *v;
        json_array_foreach(layers, i, v)
                json_array_append_new(items, json_pack("{s:O}", "Deleted", v));
        return r;
}

bool image_has_children_locked(struct image_store *s, const char *id) {
        struct image *img, *tmp;
        HASH_ITER(hh, s->images, img, tmp) if (STREQ(img->parent, id)) return true;
        return false;
}

static int delete_locked(struct image_store *s, const char *name_or_id, bool force, image_usage_fn usage,
                         void *opaque, json_t *items, struct berr *err) {
        struct image *img;
        int r = image_resolve_locked(s, name_or_id, &img, err);
        if (r < 0)
                return r;
        struct reference ref;
        struct image_ref *named = NULL;
        if (!reference_is_full_id(name_or_id) && !digest_is_sha256(name_or_id) &&
            reference_parse_with_default_tag(name_or_id, &ref, NULL) == 0)
                named = image_find_ref_locked(s, &ref);
        bool quiet = false;
        struct image_ref *refs[256];
        if (named) {
                /* Untagging the last name of an image a container uses would leave it
                 * dangling under the container: dockerd wants that forced. */
                size_t n = image_refs_of(s, img->id, refs, 256);
                char cid[65] = "";
                if (!force && n <= 256 && is_single_reference(refs, n) && usage &&
                    usage(opaque, img->id, cid) != IMAGE_UNUSED)
                        return berr_set(err, BERR_CONFLICT, EBUSY,
                                        "conflict: unable to remove repository reference \"%s\" (must force) - container "
                                        "%.12s is using its referenced image %.12s",
                                        name_or_id, cid, digest_hex(img->id));
                bool was_tag = !ref.digest[0];
                r = image_remove_ref_locked(s, named, items, err);
                if (r < 0)
                        return r;
                /* dockerd: when the last tag of a repository goes and only digest
                 * references of that repository remain (every pulled or pushed image has
                 * one), those go too, each reported as untagged. */
                if (was_tag) {
                        n = image_refs_of(s, img->id, refs, 256);
                        bool repo_tag_left = false;
                        for (size_t i = 0; i < n && i < 256; i++) {
                                struct reference cur;
                                if (reference_parse_normalized(refs[i]->name, &cur, NULL) == 0 && !cur.digest[0] &&
                                    STREQ(cur.domain, ref.domain) && STREQ(cur.path, ref.path))
                                        repo_tag_left = true;
                        }
                        for (size_t i = 0; !repo_tag_left && i < n && i < 256; i++) {
                                struct reference cur;
                                if (reference_parse_normalized(refs[i]->name, &cur, NULL) == 0 && cur.digest[0] &&
                                    STREQ(cur.domain, ref.domain) && STREQ(cur.path, ref.path) &&
                                    (r = image_remove_ref_locked(s, refs[i], items, err)) < 0)
                                        return r;
                        }
                }
                if (image_refs_of(s, img->id, refs, 1) > 0)
                        return 0; /* other names remain: untagging was the whole job */
                quiet = true;
        } else {
                size_t n = image_refs_of(s, img->id, refs, 256);
                if (n <= 256 && is_single_reference(refs, n)) {
                        r = check_conflict(s, img, false, !force, usage, opaque, err);
                        if (r < 0)
                                return r;
                        while (image_refs_of(s, img->id, refs, 1) > 0)
                                if ((r = image_remove_ref_locked(s, refs[0], items, err)) < 0)
                                        return r;
                }
        }
        if (image_has_children_locked(s, img->id)) {
                if (quiet)
                        return 0; /* untagged; the image stays for the images built on it */
                return berr_set(err, BERR_CONFLICT, EBUSY,
                                "conflict: unable to delete %.12s (cannot be forced) - image has dependent child images",
                                digest_hex(img->id));
        }
        r = check_conflict(s, img, !force, !force, usage, opaque, err);
        if (r < 0)
                return quiet ? 0 : r; /* untagged by name but still in use: the untag stands */
        char parent[DIGEST_STRING_MAX];
        snprintf(parent, sizeof(parent), "%s", img->parent);
        r = image_delete_locked(s, img, items, err);
        /* As dockerd: the untagged parents nothing else uses go with it (a build's
         * intermediate images). */
        while (r == 0 && parent[0]) {
                struct image *p = image_find_locked(s, parent);
                char cid[65] = "";
                if (!p || image_refs_of(s, p->id, NULL, 0) > 0 || image_has_children_locked(s, p->id) ||
                    (usage && usage(opaque, p->id, cid) != IMAGE_UNUSED))
                        break;
                snprintf(parent, sizeof(parent), "%s", p->parent);
                r = image_delete_locked(s, p, items, err);
        }
        return r;
}

int image_store_delete(struct image_store *s, const char *name_or_id, bool force, image_usage_fn usage,
                       void *opaque, json_t **ret_items, struct berr *err) {
        json_t *items = json_array();
        if (!items)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        pthread_mutex_lock(&s->lock);
        int r = delete_locked(s, name_or_id, force, usage, opaque, items, err);
        pthread_mutex_unlock(&s->lock);
        if (r < 0) {
                json_decref(items);
                return r;
        }
        *ret_items = items;
        return 0;
}

int image_store_set_idmap(struct image_store *s, int userns_fd, uid_t root_uid, gid_t root_gid, struct berr *err) {
        return graph_driver_set_idmap(s->driver, userns_fd, root_uid, root_gid, err);
}

int image_store_mount_rootfs(struct image_store *s, const char *name_or_id, const char *target, const char *rw_dir,
                             unsigned flags, struct berr *err) {
        pthread_mutex_lock(&s->lock);
        struct image *img;
        int r = image_resolve_locked(s, name_or_id, &img, err);
        if (r == 0) {
                const char *chain[1024];
                size_t n = layer_chain_cache_ids(img->top, chain, 1024);
                r = n > 1024 ? berr_set(err, BERR_INVALID, E2BIG, "image has too many layers")
                             : graph_driver_mount(s->driver, chain, n, target, rw_dir,
                                                  flags & IMAGE_MOUNT_VOLATILE ? GRAPH_MOUNT_VOLATILE : 0, err);
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

int image_store_layer_fds(struct image_store *s, const char *name_or_id, int **ret, size_t *ret_n, struct berr *err) {
        pthread_mutex_lock(&s->lock);
        struct image *img;
        int r = image_resolve_locked(s, name_or_id, &img, err);
        const char *chain[1024];
        size_t n = 0;
        if (r == 0) {
                n = layer_chain_cache_ids(img->top, chain, 1024);
                if (n > 1024)
                        r = berr_set(err, BERR_INVALID, E2BIG, "image has too many layers");
        }
        int *fds = r == 0 ? calloc(n ? n : 1, sizeof(int)) : NULL;
        if (r == 0 && !fds)
                r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t got = 0;
        for (size_t i = 0; r == 0 && i < n; i++) {
                int fd = graph_driver_open_layer(s->driver, chain[i], err);
                if (fd < 0)
                        r = fd;
                else
                        fds[got++] = fd;
        }
        pthread_mutex_unlock(&s->lock);
        if (r < 0) {
                for (size_t i = 0; i < got; i++)
                        close(fds[i]);
                free(fds);
                return r;
        }
        *ret = fds;
        *ret_n = got;
        return 0;
}
