/* build.h - docker build with the classic builder (POST /build): the build context (an
 * uploaded tar, streamed to a private directory), .dockerignore, and the builder that
 * runs a Dockerfile's steps as containers and commits them into the image store. The
 * API handler decodes the query into struct build_opts and calls build_start; the
 * answer is the stream build_read gives. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct berr;
struct daemon;

/* ---- .dockerignore (dockerignore.c) ---- */

struct dockerignore;
int dockerignore_parse(const char *text, size_t len, struct dockerignore **ret, struct berr *err);
void dockerignore_free(struct dockerignore *di);
/* Whether @path (relative to the context) is excluded: it or a parent directory matches,
 * and no later '!' exception matches it. */
bool dockerignore_excluded(const struct dockerignore *di, const char *path);
bool dockerignore_has_exceptions(const struct dockerignore *di);
/* Remove what @di excludes from the context tree at @root_fd (context.c). */
int build_context_apply_ignore(int root_fd, const struct dockerignore *di, struct berr *err);
/* Go's filepath.Match, with '**' for any number of directories. */
bool dockerignore_glob(const char *pattern, const char *path);

/* ---- the build ---- */

#define BUILD_MAX_TAGS 64
#define BUILD_MAX_EXTRA_HOSTS 64

struct build_opts {
        const char *dockerfile;        /* path in the context; NULL: "Dockerfile" */
        const char *remote;            /* a context to download (http or https), or NULL */
        const char *tags[BUILD_MAX_TAGS];
        size_t n_tags;
        bool quiet, no_cache, rm, force_rm, pull;
        json_t *build_args;            /* {"NAME": "value" or null}, or NULL */
        json_t *labels;                /* {"k": "v"}, or NULL */
        const char *target;
        const char *network_mode;
        const char *extra_hosts[BUILD_MAX_EXTRA_HOSTS];
        size_t n_extra_hosts;
        int64_t memory, memory_swap, cpu_shares, cpu_period, cpu_quota, shm_size;
        const char *cpuset_cpus, *cpuset_mems;
        const char *cgroup_parent;
        json_t *ulimits;               /* [{"Name", "Soft", "Hard"}], or NULL */
        const char *auth_config;       /* X-Registry-Config, for FROM pulls; may be NULL */
        /* Asked once the context was read: false (the client went away) builds nothing. */
        bool (*complete)(void *opaque);
        void *opaque;
};

struct build_job;

/* Read the context from @context_fd (tar, gzip, bzip2 or xz) into a private directory,
 * apply .dockerignore, parse the Dockerfile and check the options; errors here come
 * back with their kind (dockerd answers them with an HTTP status). Then the steps run in
 * a thread of their own; their output is read with build_read (JSON messages,
 * "\r\n"-terminated, as dockerd's) until 0, and build_close ends it (a build still
 * running is cancelled: its container killed and removed, nothing left behind). */
int build_start(struct daemon *d, const struct build_opts *o, int context_fd, struct build_job **ret,
                struct berr *err);
/* -EAGAIN when nothing came within @timeout_ms (the caller checks its client is there). */
ssize_t build_read(struct build_job *j, char *buf, size_t max, int timeout_ms);
/* Cancels a build still running and returns once it has cleaned up. */
void build_close(struct build_job *j);
