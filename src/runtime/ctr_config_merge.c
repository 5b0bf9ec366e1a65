/* ctr_config_merge.c - the container's Config at create: the request's merged with the
 * image's, as dockerd's daemon/commit.go merge does it (see ctr_config_merge_image in
 * ctr_config.h), on the typed structs. */
#include "runtime/ctr_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int strv_copy(struct strv *dst, const struct strv *src) {
        strv_clear(dst);
        dst->set = src->set;
        if (!src->n)
                return 0;
        if (!(dst->v = calloc(src->n, sizeof(char *))))
                return -ENOMEM;
        for (size_t i = 0; i < src->n; i++) {
                if (!(dst->v[i] = strdup(src->v[i])))
                        return -ENOMEM;
                dst->n++;
        }
        return 0;
}

static int str_default(char **mine, const char *theirs) {
        if (**mine || !*theirs)
                return 0;
        free(*mine);
        return (*mine = strdup(theirs)) ? 0 : -ENOMEM;
}

static size_t env_key_len(const char *e) {
        return strcspn(e, "=");
}

/* The image's entries not overridden by @mine's (by key), then all of @mine's. */
static int env_merge(struct strv *mine, const struct strv *img) {
        struct strv out = { .set = true };
        size_t n = mine->n + img->n;
        if (n && !(out.v = calloc(n, sizeof(char *))))
                return -ENOMEM;
        for (size_t i = 0; i < img->n; i++) {
                const char *e = img->v[i];
                size_t k = env_key_len(e);
                bool overridden = false;
                for (size_t j = 0; j < mine->n && !overridden; j++)
                        overridden = strncmp(e, mine->v[j], k) == 0 && (mine->v[j][k] == '=' || mine->v[j][k] == '\0');
                if (!overridden && !(out.v[out.n++] = strdup(e))) {
                        strv_clear(&out);
                        return -ENOMEM;
                }
        }
        for (size_t j = 0; j < mine->n; j++) { /* moved, not copied */
                out.v[out.n++] = mine->v[j];
                mine->v[j] = NULL;
        }
        strv_clear(mine);
        *mine = out;
        return 0;
}

/* Keys of the image first, then the request's new ones; a key in both keeps the request's value. */
static int keyset_merge(struct strv *mine, const struct strv *img) {
        if (!img->set)
                return 0;
        struct strv out = { .set = true };
        size_t n = mine->n + img->n;
        if (n && !(out.v = calloc(n, sizeof(char *))))
                return -ENOMEM;
        for (size_t i = 0; i < img->n; i++)
                if (!(out.v[out.n++] = strdup(img->v[i]))) {
                        strv_clear(&out);
                        return -ENOMEM;
                }
        for (size_t j = 0; j < mine->n; j++)
                if (!strv_contains(img, mine->v[j])) {
                        out.v[out.n++] = mine->v[j];
                        mine->v[j] = NULL;
                }
        strv_clear(mine);
        *mine = out;
        return 0;
}

static int strmap_merge(struct strmap *mine, const struct strmap *img) {
        if (!img->set)
                return 0;
        struct strmap out = { .set = true };
        size_t n = mine->n + img->n;
        if (n && (!(out.keys = calloc(n, sizeof(char *))) || !(out.vals = calloc(n, sizeof(char *))))) {
                strmap_clear(&out);
                return -ENOMEM;
        }
        for (size_t i = 0; i < img->n; i++) {
                const char *v = strmap_get(mine, img->keys[i]);
                out.keys[out.n] = strdup(img->keys[i]);
                out.vals[out.n] = strdup(v ? v : img->vals[i]);
                if (!out.keys[out.n++] || !out.vals[out.n - 1]) {
                        strmap_clear(&out);
                        return -ENOMEM;
                }
        }
        for (size_t j = 0; j < mine->n; j++)
                if (!strmap_get(img, mine->keys[j])) {
                        out.keys[out.n] = mine->keys[j];
                        out.vals[out.n++] = mine->vals[j];
                        mine->keys[j] = mine->vals[j] = NULL;
                }
        strmap_clear(mine);
        *mine = out;
        return 0;
}

int ctr_config_merge_image(struct ctr_config_cfg *c, const struct ctr_config_cfg *img) {
        int r = 0;
        bool ep_given = c->entrypoint.set;
        if (ep_given && c->entrypoint.n == 1 && !*c->entrypoint.v[0])
                strv_clear(&c->entrypoint); /* --entrypoint "" resets it: null */
        else if (!ep_given)
                r = strv_copy(&c->entrypoint, &img->entrypoint);
        if (r == 0 && c->cmd.n == 0 && !ep_given)
                r = strv_copy(&c->cmd, &img->cmd);
        if (r == 0)
                r = env_merge(&c->env, &img->env);
        if (r == 0 && (r = str_default(&c->working_dir, img->working_dir)) == 0 &&
            (r = str_default(&c->user, img->user)) == 0)
                r = str_default(&c->stop_signal, img->stop_signal);
        if (r == 0 && !c->healthcheck.set && img->healthcheck.set) {
                strv_clear(&c->healthcheck.test);
                struct strv test = { 0 };
                r = strv_copy(&test, &img->healthcheck.test);
                c->healthcheck = img->healthcheck;
                c->healthcheck.test = test;
        }
        if (r == 0 && !c->shell.set)
                r = strv_copy(&c->shell, &img->shell);
        if (r == 0 && !c->on_build.set)
                r = strv_copy(&c->on_build, &img->on_build);
        if (r == 0 && (r = strmap_merge(&c->labels, &img->labels)) == 0 &&
            (r = keyset_merge(&c->exposed_ports, &img->exposed_ports)) == 0)
                r = keyset_merge(&c->volumes, &img->volumes);
        c->labels.set = true;
        return r;
}
