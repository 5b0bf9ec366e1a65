/* image_save.c - `docker save`: the archive Docker >= 25 writes, produced on demand as the
 * client reads it. Everything but the layer tars (configs, manifests, index files) is
 * small and built when the save is opened; each layer tar is reassembled from its
 * tar-split record while it is sent (layer_split.h), so memory stays flat whatever the
 * image size. The outer tar is ustar written here: a header per file is all it takes.
 *
 * Layout (sorted as Docker's walk of its temporary directory writes it):
 *   blobs/  blobs/sha256/  blobs/sha256/<hex>   configs, OCI manifests, layer tars
 *   index.json     OCI index, one descriptor per tag (io.containerd.image.name + ref.name)
 *   manifest.json  docker-archive index: Config, RepoTags, Layers (paths into blobs/)
 *   oci-layout     {"imageLayoutVersion":"1.0.0"}
 *   repositories   legacy {"name":{"tag":"<top layer hex>"}} */
#include "image_store_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "image/layer_split.h"

#define BLOCK 512
#define MAX_TAGS_PER_IMAGE 1024
#define CONFIG_MAX_BYTES (16u << 20)
#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar"

struct save_img {
        char id[DIGEST_STRING_MAX];
        struct reference *tags;
        size_t n_tags;
        char *config;
        size_t config_len;
        int64_t created;
        struct layer *top; /* one reference held until image_save_free */
        const struct layer **layers; /* base first */
        size_t n_layers;
        char manifest_digest[DIGEST_STRING_MAX];
        size_t manifest_len;
};

enum part_kind { PART_MEM, PART_LAYER };

struct part {
        enum part_kind kind;
        char name[96];
        unsigned char *data; /* PART_MEM: header + contents + padding; PART_LAYER: the header */
        size_t len;
        const struct layer *layer;
        uint64_t size;
};

struct image_save {
        struct image_store *s;
        struct save_img *imgs;
        size_t n_imgs;
        struct part *parts;
        size_t n_parts, cap_parts;
        /* Reading position. */
        size_t cur;
        uint64_t off; /* within the current part: header, then body, then padding */
        struct layer_split_reader *reader;
};

/* ---- ustar headers ---- */

static void put_octal(unsigned char *f, size_t n, uint64_t v) {
        char tmp[32];
        snprintf(tmp, sizeof(tmp), "%0*llo", (int) (n - 1), (unsigned long long) v);
        memcpy(f, tmp, n - 1);
        f[n - 1] = '\0';
}

static void tar_header(unsigned char h[BLOCK], const char *name, char type, unsigned mode, uint64_t size,
                       int64_t mtime) {
        memset(h, 0, BLOCK);
        memcpy(h, name, strnlen(name, 100));
        put_octal(h + 100, 8, mode);
        put_octal(h + 108, 8, 0);
        put_octal(h + 116, 8, 0);
        if (size < 077777777777ULL) {
                put_octal(h + 124, 12, size);
        } else { /* base-256, as GNU and Go write sizes past 8 GB */
                h[124] = 0x80;
                for (int i = 11; i > 0; i--, size >>= 8)
                        h[124 + i] = (unsigned char) size;
        }
        put_octal(h + 136, 12, mtime > 0 ? (uint64_t) mtime : 0);
        h[156] = (unsigned char) type;
        memcpy(h + 257, "ustar\0" "00", 8);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (size_t i = 0; i < BLOCK; i++)
                sum += h[i];
        char chk[8];
        snprintf(chk, sizeof(chk), "%06o", sum);
        memcpy(h + 148, chk, 6);
        h[154] = '\0';
        h[155] = ' ';
}

static size_t padding(uint64_t size) {
        return (size_t) ((BLOCK - size % BLOCK) % BLOCK);
}

static struct part *new_part(struct image_save *sv, struct berr *err) {
        if (sv->n_parts == sv->cap_parts) {
                size_t cap = sv->cap_parts ? sv->cap_parts * 2 : 32;
                struct part *p = realloc(sv->parts, cap * sizeof(*p));
                if (!p) {
                        berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        return NULL;
                }
                sv->parts = p;
                sv->cap_parts = cap;
        }
        struct part *p = &sv->parts[sv->n_parts++];
        memset(p, 0, sizeof(*p));
        return p;
}

static int add_mem(struct image_save *sv, const char *name, char type, const void *data, size_t len, int64_t mtime,
                   struct berr *err) {
        struct part *p = new_part(sv, err);
        if (!p)
                return -ENOMEM;
        p->kind = PART_MEM;
        snprintf(p->name, sizeof(p->name), "%s", name);
        p->len = BLOCK + len + padding(len);
        p->data = calloc(1, p->len);
        if (!p->data) {
                sv->n_parts--;
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        tar_header(p->data, name, type, type == '5' ? 0755 : 0644, len, mtime);
        if (len)
                memcpy(p->data + BLOCK, data, len);
        return 0;
}

static int add_json(struct image_save *sv, const char *name, json_t *doc, bool newline, int64_t mtime,
                    struct berr *err) {
        _cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t len = strlen(text);
        if (newline) { /* Go's json.Encoder ends with one */
                char *t = realloc(text, len + 2);
                if (!t)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                text = t;
                text[len++] = '\n';
                text[len] = '\0';
        }
        return add_mem(sv, name, '0', text, len, mtime, err);
}

static bool has_part(struct image_save *sv, const char *name) {
        for (size_t i = 0; i < sv->n_parts; i++)
                if (STREQ(sv->parts[i].name, name))
                        return true;
        return false;
}

static int add_layer(struct image_save *sv, const struct layer *l, int64_t mtime, struct berr *err) {
        char name[96];
        snprintf(name, sizeof(name), "blobs/sha256/%s", digest_hex(l->diff_id));
        if (has_part(sv, name))
                return 0;
        struct layer_split_reader *r = NULL;
        int rc = layer_store_open_tar(sv->s->layers, l, &r, err);
        if (rc < 0)
                return rc;
        uint64_t size = layer_split_reader_size(r);
        layer_split_reader_free(r);
        struct part *p = new_part(sv, err);
        if (!p)
                return -ENOMEM;
        p->kind = PART_LAYER;
        snprintf(p->name, sizeof(p->name), "%s", name);
        p->layer = l;
        p->size = size;
        p->len = BLOCK;
        p->data = malloc(BLOCK);
        if (!p->data) {
                sv->n_parts--;
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        tar_header(p->data, name, '0', 0644, size, mtime);
        return 0;
}

/* ---- which images, with which tags (dockerd's tarexport parseNames) ---- */

static struct save_img *find_img(struct image_save *sv, const char *id) {
        for (size_t i = 0; i < sv->n_imgs; i++)
                if (STREQ(sv->imgs[i].id, id))
                        return &sv->imgs[i];
        return NULL;
}

static int add_assoc(struct image_save *sv, struct image *img, const struct reference *tag, struct berr *err) {
        struct save_img *si = find_img(sv, img->id);
        if (!si) {
                struct save_img *n = realloc(sv->imgs, (sv->n_imgs + 1) * sizeof(*n));
                if (!n)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                sv->imgs = n;
                si = &sv->imgs[sv->n_imgs++];
                memset(si, 0, sizeof(*si));
                memcpy(si->id, img->id, DIGEST_STRING_MAX);
                si->top = img->top;
                if (si->top)
                        layer_ref(si->top);
        }
        if (!tag || !tag->tag[0] || tag->digest[0])
                return 0; /* digests are not saved as names */
        for (size_t i = 0; i < si->n_tags; i++)
                if (STREQ(si->tags[i].domain, tag->domain) && STREQ(si->tags[i].path, tag->path) &&
                    STREQ(si->tags[i].tag, tag->tag))
                        return 0;
        if (si->n_tags >= MAX_TAGS_PER_IMAGE)
                return berr_set(err, BERR_INVALID, E2BIG, "image %s has too many tags to save", img->id);
        struct reference *t = realloc(si->tags, (si->n_tags + 1) * sizeof(*t));
        if (!t)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        si->tags = t;
        si->tags[si->n_tags++] = *tag;
        return 0;
}

static int compare_ref_names(const void *a, const void *b) {
        return strcmp((*(struct image_ref *const *) a)->name, (*(struct image_ref *const *) b)->name);
}

/* A bare repository name: every tag it has, sorted; 0 if it has none. */
static int add_repository(struct image_save *sv, const struct reference *repo, size_t *ret_n, struct berr *err) {
        struct image_store *s = sv->s;
        size_t n = HASH_COUNT(s->refs), k = 0;
        _cleanup_free_ struct image_ref **hits = n ? calloc(n, sizeof(*hits)) : NULL;
        struct image_ref *ref, *tmp;
        HASH_ITER(hh, s->refs, ref, tmp) {
                struct reference p;
                if (hits && reference_parse_normalized(ref->name, &p, NULL) == 0 && STREQ(p.domain, repo->domain) &&
                    STREQ(p.path, repo->path))
                        hits[k++] = ref;
        }
        if (k)
                qsort(hits, k, sizeof(*hits), compare_ref_names);
        for (size_t i = 0; i < k; i++) {
                struct reference p;
                struct image *img = image_find_locked(s, hits[i]->id);
                if (!img || reference_parse_normalized(hits[i]->name, &p, NULL) < 0)
                        continue;
                int r = add_assoc(sv, img, &p, err);
                if (r < 0)
                        return r;
        }
        *ret_n = k;
        return 0;
}

static int add_name(struct image_save *sv, const char *name, struct berr *err) {
        struct image_store *s = sv->s;
        struct image *img;
        if (reference_is_full_id(name) || digest_is_sha256(name)) {
                int r = image_resolve_locked(s, name, &img, err);
                return r < 0 ? r : add_assoc(sv, img, NULL, err);
        }
        struct reference ref;
        int r = reference_parse_normalized(name, &ref, err);
        if (r < 0)
                return r;
        if (!ref.tag[0] && !ref.digest[0]) {
                size_t n = 0;
                r = add_repository(sv, &ref, &n, err);
                if (r < 0 || n > 0)
                        return r;
                r = image_resolve_locked(s, name, &img, err); /* an ID prefix */
                return r < 0 ? r : add_assoc(sv, img, NULL, err);
        }
        r = image_resolve_locked(s, name, &img, err);
        if (r < 0)
                return r;
        struct image_ref *hit = image_find_ref_locked(s, &ref);
        return add_assoc(sv, img, hit ? &ref : NULL, err);
}

/* ---- the small files ---- */

static int fill_image(struct image_save *sv, struct save_img *si, struct berr *err) {
        struct image_store *s = sv->s;
        char path[DIGEST_STRING_MAX + 16];
        int r = fs_path_fmt(path, sizeof(path), "%s/config", digest_hex(si->id));
        if (r < 0)
                return berr_set(err, BERR_INTERNAL, -r, "image %s: bad id", si->id);
        r = fs_read_file(s->records_fd, path, CONFIG_MAX_BYTES, &si->config, &si->config_len, err);
        if (r < 0)
                return berr_wrap(err, "image %s", si->id);
        struct image *img = image_find_locked(s, si->id);
        si->created = img ? image_created_unix(img->config) : 0;
        for (const struct layer *l = si->top; l; l = l->parent)
                si->n_layers++;
        si->layers = calloc(si->n_layers ? si->n_layers : 1, sizeof(*si->layers));
        if (!si->layers)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t i = si->n_layers;
        for (const struct layer *l = si->top; l; l = l->parent)
                si->layers[--i] = l;
        return 0;
}

static json_t *descriptor(const char *media_type, const char *digest, uint64_t size) {
        return json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest", digest, "size", (json_int_t) size);
}

static int add_manifest(struct image_save *sv, struct save_img *si, struct berr *err) {
        json_t *layers = json_array();
        for (size_t i = 0; layers && i < si->n_layers; i++) {
                const struct layer *l = si->layers[i];
                uint64_t size = 0;
                for (size_t k = 0; k < sv->n_parts; k++)
                        if (sv->parts[k].kind == PART_LAYER && STREQ(sv->parts[k].layer->diff_id, l->diff_id))
                                size = sv->parts[k].size;
                json_array_append_new(layers, descriptor(MT_LAYER, l->diff_id, size));
        }
        _cleanup_json_ json_t *m = json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2, "mediaType", MT_MANIFEST,
                                             "config", descriptor(MT_CONFIG, si->id, si->config_len), "layers",
                                             layers ? layers : json_array());
        _cleanup_free_ char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
        if (!text)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        si->manifest_len = strlen(text);
        int r = digest_sha256_buf(text, si->manifest_len, si->manifest_digest, err);
        if (r < 0)
                return r;
        char name[96];
        snprintf(name, sizeof(name), "blobs/sha256/%s", digest_hex(si->manifest_digest));
        return has_part(sv, name) ? 0 : add_mem(sv, name, '0', text, si->manifest_len, si->created, err);
}

static int add_index_files(struct image_save *sv, struct berr *err) {
        int64_t now = (int64_t) time(NULL);
        _cleanup_json_ json_t *manifests = json_array(), *items = json_array(), *repos = json_object();
        if (!manifests || !items || !repos)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (size_t i = 0; i < sv->n_imgs; i++) {
                struct save_img *si = &sv->imgs[i];
                json_t *tags = si->n_tags ? json_array() : json_null();
                for (size_t t = 0; t < si->n_tags; t++) {
                        char full[REFERENCE_STRING_MAX], fam[REFERENCE_STRING_MAX], repo[REFERENCE_STRING_MAX];
                        reference_string(&si->tags[t], full);
                        reference_familiar_string(&si->tags[t], fam);
                        reference_familiar_name(&si->tags[t], repo);
                        json_array_append_new(tags, json_string(fam));
                        json_t *d = descriptor(MT_MANIFEST, si->manifest_digest, si->manifest_len);
                        json_object_set_new(d, "annotations",
                                            json_pack("{s:s, s:s}", "io.containerd.image.name", full,
                                                      "org.opencontainers.image.ref.name", si->tags[t].tag));
                        json_array_append_new(manifests, d);
                        if (si->n_layers) {
                                json_t *r = json_object_get(repos, repo);
                                if (!r)
                                        json_object_set_new(repos, repo, r = json_object());
                                json_object_set_new(r, si->tags[t].tag,
                                                    json_string(digest_hex(si->layers[si->n_layers - 1]->diff_id)));
                        }
                }
                if (!si->n_tags)
                        json_array_append_new(manifests, descriptor(MT_MANIFEST, si->manifest_digest, si->manifest_len));
                char config[96];
                snprintf(config, sizeof(config), "blobs/sha256/%s", digest_hex(si->id));
                json_t *layers = json_array();
                for (size_t l = 0; l < si->n_layers; l++) {
                        char p[96];
                        snprintf(p, sizeof(p), "blobs/sha256/%s", digest_hex(si->layers[l]->diff_id));
                        json_array_append_new(layers, json_string(p));
                }
                json_array_append_new(items, json_pack("{s:s, s:o, s:o}", "Config", config, "RepoTags", tags, "Layers",
                                                       layers));
        }
        _cleanup_json_ json_t *index = json_pack("{s:i, s:s, s:O}", "schemaVersion", 2, "mediaType", MT_INDEX,
                                                 "manifests", manifests);
        _cleanup_json_ json_t *layout = json_pack("{s:s}", "imageLayoutVersion", "1.0.0");
        if (!index || !layout)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        int r = add_json(sv, "index.json", index, true, now, err);
        if (r == 0)
                r = add_json(sv, "manifest.json", items, true, now, err);
        if (r == 0)
                r = add_json(sv, "oci-layout", layout, false, now, err);
        if (r == 0 && json_object_size(repos))
                r = add_json(sv, "repositories", repos, true, now, err);
        return r;
}

static int compare_parts(const void *a, const void *b) {
        return strcmp(((const struct part *) a)->name, ((const struct part *) b)->name);
}

static int build_locked(struct image_save *sv, const char *const *names, size_t n_names, struct berr *err) {
        for (size_t i = 0; i < n_names; i++) {
                int r = add_name(sv, names[i], err);
                if (r < 0)
                        return r;
        }
        int64_t now = (int64_t) time(NULL);
        int r = add_mem(sv, "blobs/", '5', NULL, 0, now, err);
        if (r == 0)
                r = add_mem(sv, "blobs/sha256/", '5', NULL, 0, now, err);
        for (size_t i = 0; r == 0 && i < sv->n_imgs; i++) {
                struct save_img *si = &sv->imgs[i];
                char name[96];
                r = fill_image(sv, si, err);
                snprintf(name, sizeof(name), "blobs/sha256/%s", digest_hex(si->id));
                if (r == 0 && !has_part(sv, name))
                        r = add_mem(sv, name, '0', si->config, si->config_len, si->created, err);
                for (size_t l = 0; r == 0 && l < si->n_layers; l++)
                        r = add_layer(sv, si->layers[l], si->created, err);
                if (r == 0)
                        r = add_manifest(sv, si, err);
        }
        if (r < 0)
                return r;
        /* The directories first, then the blobs by name; the index files after them. */
        qsort(sv->parts + 2, sv->n_parts - 2, sizeof(*sv->parts), compare_parts);
        r = add_index_files(sv, err);
        if (r < 0)
                return r;
        struct part *p = new_part(sv, err); /* the end of the archive: two zero blocks */
        if (!p)
                return -ENOMEM;
        p->kind = PART_MEM;
        p->len = 2 * BLOCK;
        p->data = calloc(1, p->len);
        if (!p->data)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        return 0;
}

int image_store_save_open(struct image_store *s, const char *const *names, size_t n_names,
                          struct image_save **ret, struct berr *err) {
        struct image_save *sv = calloc(1, sizeof(*sv));
        if (!sv)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        sv->s = s;
        pthread_mutex_lock(&s->lock);
        int r = build_locked(sv, names, n_names, err);
        pthread_mutex_unlock(&s->lock);
        if (r < 0) {
                image_save_free(sv);
                return r;
        }
        *ret = sv;
        return 0;
}

struct image_save *image_save_free(struct image_save *sv) {
        if (!sv)
                return NULL;
        layer_split_reader_free(sv->reader);
        for (size_t i = 0; i < sv->n_parts; i++)
                free(sv->parts[i].data);
        free(sv->parts);
        pthread_mutex_lock(&sv->s->lock);
        for (size_t i = 0; i < sv->n_imgs; i++)
                if (sv->imgs[i].top) /* the image may be gone by now: this frees what only the save held */
                        (void) layer_store_release(sv->s->layers, sv->imgs[i].top, NULL, NULL);
        pthread_mutex_unlock(&sv->s->lock);
        for (size_t i = 0; i < sv->n_imgs; i++) {
                free(sv->imgs[i].tags);
                free(sv->imgs[i].config);
                free(sv->imgs[i].layers);
        }
        free(sv->imgs);
        free(sv);
        return NULL;
}

size_t image_save_count(const struct image_save *sv) {
        return sv->n_imgs;
}

const char *image_save_image_id(const struct image_save *sv, size_t i) {
        return i < sv->n_imgs ? sv->imgs[i].id : "";
}

/* ---- reading ---- */

static ssize_t read_layer_part(struct image_save *sv, struct part *p, char *buf, size_t max, struct berr *err) {
        if (sv->off < BLOCK) {
                size_t n = BLOCK - (size_t) sv->off;
                if (n > max)
                        n = max;
                memcpy(buf, p->data + sv->off, n);
                return (ssize_t) n;
        }
        uint64_t body_end = BLOCK + p->size;
        if (sv->off < body_end) {
                if (!sv->reader) {
                        int r = layer_store_open_tar(sv->s->layers, p->layer, &sv->reader, err);
                        if (r < 0)
                                return r;
                }
                ssize_t n = layer_split_read(sv->reader, buf, max, err);
                if (n < 0)
                        return n;
                if (n == 0 || sv->off + (uint64_t) n > body_end)
                        return berr_set(err, BERR_INTERNAL, EIO, "layer %s: tar length changed", p->layer->diff_id);
                if (sv->off + (uint64_t) n == body_end) {
                        /* Read to its end so the reader checks the diff ID. */
                        char probe[1];
                        ssize_t z = layer_split_read(sv->reader, probe, sizeof(probe), err);
                        if (z != 0)
                                return z < 0 ? z : berr_set(err, BERR_INTERNAL, EIO, "layer %s: tar length changed",
                                                            p->layer->diff_id);
                        sv->reader = layer_split_reader_free(sv->reader);
                }
                return n;
        }
        size_t n = (size_t) (body_end + padding(p->size) - sv->off);
        if (n > max)
                n = max;
        memset(buf, 0, n);
        return (ssize_t) n;
}

ssize_t image_save_read(struct image_save *sv, char *buf, size_t max, struct berr *err) {
        size_t out = 0;
        while (out < max && sv->cur < sv->n_parts) {
                struct part *p = &sv->parts[sv->cur];
                uint64_t total = p->kind == PART_MEM ? p->len : BLOCK + p->size + padding(p->size);
                if (sv->off == total) {
                        sv->cur++;
                        sv->off = 0;
                        continue;
                }
                ssize_t n;
                if (p->kind == PART_MEM) {
                        n = (ssize_t) ((p->len - sv->off) < max - out ? (p->len - sv->off) : max - out);
                        memcpy(buf + out, p->data + sv->off, (size_t) n);
                } else {
                        n = read_layer_part(sv, p, buf + out, max - out, err);
                        if (n < 0)
                                return n;
                }
                sv->off += (uint64_t) n;
                out += (size_t) n;
        }
        return (ssize_t) out;
}
