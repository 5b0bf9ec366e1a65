/* build_int.h - what the files of build/ share; not a public header. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "build/build.h"
#include "common/digest.h"

struct berr;

/* ---- a tar writer (tarw.c) for the layers COPY, ADD and WORKDIR make ---- */

/* Entries go to @fd when it is >= 0 and into the content checksum in any case: names,
 * modes, owners, link targets and contents, never times (the build cache's key). */
struct tarw {
        int fd;
        bool failed;
        struct digest_ctx *hash;
        uint64_t entries;
};
int tarw_init(struct tarw *t, int fd, struct berr *err);
void tarw_done(struct tarw *t, char ret_sum[DIGEST_STRING_MAX]); /* frees the hash; writes the end blocks */
/* A header: @type '0' file, '2' symlink, '5' directory; @size for files. */
void tarw_header(struct tarw *t, const char *name, mode_t perm, uid_t uid, gid_t gid, char type, const char *link,
                 uint64_t size, int64_t mtime);
void tarw_data(struct tarw *t, const void *p, size_t n);
void tarw_pad(struct tarw *t, uint64_t size);

/* ---- the context (context.c) ---- */

struct build_context {
        char *dir;      /* the job's private directory under DATA-ROOT/tmp */
        int dir_fd;
        int root_fd;    /* dir/context */
        char *dockerfile;
        size_t dockerfile_len;
};

#define BUILD_DOCKERFILE_MAX (4u << 20)

/* Where the context comes from: the upload on @fd, or @remote (an http(s) URL). */
struct context_source {
        int fd;
        const char *remote;
        bool (*cancelled)(void *opaque);
        void *opaque;
};

/* Make @tmp_parent/build-<random>/context from @src, apply .dockerignore and read the
 * Dockerfile named @dockerfile (NULL: "Dockerfile", or "dockerfile"). */
int build_context_open(const char *tmp_parent, const struct context_source *src, const char *dockerfile,
                       struct build_context **ret, struct berr *err);
bool build_is_git_url(const char *s);
/* Remove the directory and everything in it. Accepts NULL. */
void build_context_free(struct build_context *c);

/* ---- the job (job.c) ---- */

#include <jansson.h>
#include <pthread.h>

#include "build/dockerfile.h"

struct stage_result {
        char *name; /* "AS name", or NULL */
        char id[DIGEST_STRING_MAX];
};

/* What a stage carries from step to step (dockerd's dispatchState). */
struct stage_state {
        char image_id[DIGEST_STRING_MAX]; /* "" for scratch before its first step */
        bool has_from;
        json_t *config;                   /* the run config: Docker's container.Config */
        char *author;                     /* MAINTAINER */
        json_t *args;                     /* ARGs declared in the stage: {name: value or null} */
        bool cmd_set;
        bool cache_busted;
        char escape;
};

struct build_job {
        /* the output queue, shared by the build thread and the reader */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        char *buf;
        size_t len, cap, off;
        bool started, done, cancelled;
        int refs;
        char *quiet_buf; /* -q: what would have been said, given out only with an error */
        size_t quiet_len;

        struct daemon *d;
        struct build_opts o;
        char *strings[8 + BUILD_MAX_TAGS + BUILD_MAX_EXTRA_HOSTS]; /* the options' strings, owned */
        size_t n_strings;
        struct build_context *ctx;
        struct dockerfile *df;
        size_t first_stage; /* index in df of the first FROM */
        size_t end;         /* instructions [0, end) run: up to the target's end */

        int step, total;
        struct stage_result *stages;
        size_t n_stages;
        json_t *meta_args;  /* ARGs before the first FROM: {name: value or null} */
        json_t *args_used;  /* build args some ARG consumed: {name: true} */
        unsigned seq;       /* names of the job's scratch directories */
        char container_id[65]; /* the step's container while one exists */
        int fail_code;      /* a RUN's exit code, for the error's "code" */
};

/* Output. */
void job_say(struct build_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void job_stderr(struct build_job *j, const char *text, size_t n);
void job_stdout(struct build_job *j, const char *text, size_t n);
void job_message(struct build_job *j, json_t *msg); /* steals @msg; progress and aux go as they are */
bool job_cancelled(struct build_job *j);

/* Variable lookup for a stage's arguments: its Env, then its ARGs. */
const char *stage_lookup(void *opaque, const char *name);
int stage_expand(struct stage_state *st, const char *word, char **ret, struct berr *err);
json_t *stage_shell(struct stage_state *st); /* borrowed: SHELL or ["/bin/sh", "-c"] */

/* FROM's image (and COPY --from's): a stage's result, a local image, or pulled
 * (always with `pull`); progress goes to the build's output (job.c). */
int build_resolve_image(struct build_job *j, const char *name, const char *platform, char ret_id[DIGEST_STRING_MAX],
                        struct berr *err);

/* Steps (dispatch.c): run one instruction of a stage. */
int build_dispatch(struct build_job *j, struct stage_state *st, const struct df_instr *in, struct berr *err);
/* Commit a metadata-only step (an empty_layer history entry) unless the cache has it. */
int build_commit_meta(struct build_job *j, struct stage_state *st, const char *comment, struct berr *err);
/* The cache: whether a child of the stage's image matches @probe; if so it becomes the
 * stage's image and " ---> Using cache" is said. */
bool build_probe_cache(struct build_job *j, struct stage_state *st, json_t *probe);
/* Commit a layer (tar on @tar_fd, or -1) with @probe as the cache key. */
int build_commit(struct build_job *j, struct stage_state *st, int tar_fd, json_t *probe, const char *container_id,
                 struct berr *err);
json_t *build_probe_config(struct stage_state *st, json_t *cmd);

/* RUN (run.c) */
int build_run(struct build_job *j, struct stage_state *st, const struct df_instr *in, struct berr *err);

/* COPY, ADD and WORKDIR's layers (copy.c) */
int build_copy(struct build_job *j, struct stage_state *st, const struct df_instr *in, struct berr *err);
int build_workdir_layer(struct build_job *j, struct stage_state *st, const char *dir, json_t *probe, struct berr *err);

/* An image's root filesystem, mounted read-only in the job's directory (an empty
 * directory for an image without layers). */
struct image_mount {
        char path[4096];
        int fd; /* O_PATH of the root */
        bool mounted;
};
int build_mount_image(struct build_job *j, const char *image_id, struct image_mount *m, struct berr *err);
void build_unmount_image(struct build_job *j, struct image_mount *m);
/* A fresh scratch directory in the job's directory: its name into @name. */
int build_scratch_dir(struct build_job *j, const char *prefix, char name[64], int *ret_fd, struct berr *err);
