/* build.c - POST /build: the query decoded into the builder's options (what berth does
 * not do answers in words), the upload handed to build_start as the context, and the
 * builder's messages streamed back. Errors found before the first message (a bad
 * option, an unreadable context, a Dockerfile that does not parse) get their HTTP status,
 * as dockerd's; later ones arrive in the stream. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

#include "api.h"
#include "build/build.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "daemon/daemon.h"

/* buildargs and labels: a JSON object of strings (buildargs values may be null). */
static int query_map(struct api_request *req, const char *key, bool nulls, json_t **ret, struct berr *err) {
        *ret = NULL;
        const char *v = api_query(req, key);
        if (!v || !v[0])
                return 0;
        json_error_t je;
        json_t *o = json_loads(v, JSON_DECODE_ANY, &je);
        if (!json_is_object(o)) {
                json_decref(o);
                return berr_set(err, BERR_INVALID, EINVAL, "failed to parse %s: %s", key, je.text);
        }
        const char *k;
        json_t *x;
        json_object_foreach(o, k, x) if (!json_is_string(x) && !(nulls && json_is_null(x))) {
                json_decref(o);
                return berr_set(err, BERR_INVALID, EINVAL, "failed to parse %s: json: cannot unmarshal into Go value of type string",
                                key);
        }
        *ret = o;
        return 0;
}

static const char *host_arch(void) {
        static char arch[65];
        struct utsname u;
        if (uname(&u) < 0)
                return "amd64";
        if (strcmp(u.machine, "x86_64") == 0)
                return "amd64";
        if (strcmp(u.machine, "aarch64") == 0)
                return "arm64";
        snprintf(arch, sizeof(arch), "%s", u.machine);
        return arch;
}

/* The classic builder builds for the host only. */
static int check_platform(const char *p, struct berr *err) {
        if (!p || !p[0])
                return 0;
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", p);
        char *arch = strchr(buf, '/');
        if (arch)
                *arch++ = '\0';
        char *variant = arch ? strchr(arch, '/') : NULL;
        if (variant)
                *variant++ = '\0';
        if (strcasecmp(buf, "linux") != 0)
                return berr_set(err, BERR_INVALID, EINVAL, "\"%s\": operating system is not supported", p);
        if (arch && arch[0] && strcmp(arch, host_arch()) != 0)
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP,
                                "building for platform %s is not supported by berth: it builds for the host's, linux/%s",
                                p, host_arch());
        return 0;
}

/* ulimits: a JSON array of {"Name", "Soft", "Hard"} (create checks the values). */
static int query_ulimits(struct api_request *req, json_t **ret, struct berr *err) {
        *ret = NULL;
        const char *v = api_query(req, "ulimits");
        if (!v || !v[0])
                return 0;
        json_error_t je;
        json_t *a = json_loads(v, JSON_DECODE_ANY, &je);
        if (json_is_null(a)) {
                json_decref(a);
                return 0;
        }
        if (!json_is_array(a)) {
                json_decref(a);
                return berr_set(err, BERR_INVALID, EINVAL, "failed to parse ulimits: %s", je.text);
        }
        *ret = a;
        return 0;
}

/* cachefrom: a JSON array of image names; *@ret keeps the strings alive. */
static int query_cache_from(struct api_request *req, struct build_opts *o, json_t **ret, struct berr *err) {
        *ret = NULL;
        const char *v = api_query(req, "cachefrom");
        if (!v || !v[0])
                return 0;
        json_error_t je;
        json_t *a = json_loads(v, JSON_DECODE_ANY, &je);
        if (json_is_null(a)) {
                json_decref(a);
                return 0;
        }
        if (!json_is_array(a)) {
                json_decref(a);
                return berr_set(err, BERR_INVALID, EINVAL, "failed to parse cachefrom: %s", je.text);
        }
        size_t i;
        json_t *x;
        json_array_foreach(a, i, x) {
                if (!json_is_string(x) || o->n_cache_from >= BUILD_MAX_TAGS) {
                        json_decref(a);
                        return berr_set(err, BERR_INVALID, EINVAL, "failed to parse cachefrom: a list of up to %d image names",
                                        BUILD_MAX_TAGS);
                }
                o->cache_from[o->n_cache_from++] = json_string_value(x);
        }
        *ret = a;
        return 0;
}

static int decode(struct api_request *req, struct build_opts *o, json_t **args, json_t **labels, struct berr *err) {
        int r;
        o->remote = api_query(req, "remote");
        const char *version = api_query(req, "version");
        if (version && STREQ(version, "2"))
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP,
                                "BuildKit is not supported by berth: use the classic builder (DOCKER_BUILDKIT=0)");
        const char *outputs = api_query(req, "outputs");
        if (outputs && outputs[0] && !STREQ(outputs, "[]") && !STREQ(outputs, "null"))
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "build outputs are not supported by berth");
        bool squash;
        if ((r = api_query_bool(req, "squash", false, &squash, err)) < 0)
                return r;
        if (squash) { /* dockerd: squash needs its experimental mode */
                const struct daemon *d = req->ctx;
                if (!d->cfg.o14.experimental)
                        return berr_set(err, BERR_INVALID, EINVAL, "squash is only supported with experimental mode");
                return berr_set(err, BERR_NOT_IMPLEMENTED, ENOTSUP, "squash is not supported by berth yet");
        }
        const char *isolation = api_query(req, "isolation");
        if (isolation && isolation[0] && strcasecmp(isolation, "default") != 0)
                return berr_set(err, BERR_INVALID, EINVAL, "Unsupported isolation: \"%s\"", isolation);
        if ((r = check_platform(api_query(req, "platform"), err)) < 0)
                return r;
        o->dockerfile = api_query(req, "dockerfile");
        o->n_tags = api_query_values(req, "t", o->tags, BUILD_MAX_TAGS);
        if (o->n_tags > BUILD_MAX_TAGS)
                return berr_set(err, BERR_INVALID, E2BIG, "too many tags");
        o->n_extra_hosts = api_query_values(req, "extrahosts", o->extra_hosts, BUILD_MAX_EXTRA_HOSTS);
        if (o->n_extra_hosts > BUILD_MAX_EXTRA_HOSTS)
                return berr_set(err, BERR_INVALID, E2BIG, "too many extra hosts");
        if ((r = api_query_bool(req, "q", false, &o->quiet, err)) < 0 ||
            (r = api_query_bool(req, "nocache", false, &o->no_cache, err)) < 0 ||
            (r = api_query_bool(req, "rm", true, &o->rm, err)) < 0 ||
            (r = api_query_bool(req, "forcerm", false, &o->force_rm, err)) < 0 ||
            (r = api_query_bool(req, "pull", false, &o->pull, err)) < 0 ||
            (r = api_query_int(req, "memory", 0, &o->memory, err)) < 0 ||
            (r = api_query_int(req, "memswap", 0, &o->memory_swap, err)) < 0 ||
            (r = api_query_int(req, "cpushares", 0, &o->cpu_shares, err)) < 0 ||
            (r = api_query_int(req, "cpuperiod", 0, &o->cpu_period, err)) < 0 ||
            (r = api_query_int(req, "cpuquota", 0, &o->cpu_quota, err)) < 0 ||
            (r = api_query_int(req, "shmsize", 0, &o->shm_size, err)) < 0)
                return r;
        o->cpuset_cpus = api_query(req, "cpusetcpus");
        o->cpuset_mems = api_query(req, "cpusetmems");
        o->cgroup_parent = api_query(req, "cgroupparent");
        o->target = api_query(req, "target");
        o->network_mode = api_query(req, "networkmode");
        o->auth_config = api_header(req, "X-Registry-Config");
        if ((r = query_map(req, "buildargs", true, args, err)) < 0 || (r = query_map(req, "labels", false, labels, err)) < 0)
                return r;
        o->build_args = *args;
        o->labels = *labels;
        return 0;
}

static bool upload_complete(void *opaque) {
        return api_body_complete(opaque);
}

struct build_stream {
        struct build_job *job;
        int client_fd;
};

/* Output as it comes; a client that went away while the build said nothing (a long
 * RUN) is noticed here, and aborting the response cancels the build. */
static ssize_t build_stream_read(void *ctx, char *buf, size_t max) {
        struct build_stream *bs = ctx;
        for (;;) {
                ssize_t n = build_read(bs->job, buf, max, 1000);
                if (n != -EAGAIN)
                        return n;
                if (api_fd_peer_closed(bs->client_fd))
                        return -1;
        }
}

static void build_stream_close(void *ctx) {
        struct build_stream *bs = ctx;
        build_close(bs->job);
        free(bs);
}

int api_build(struct api_request *req, struct berr *err) {
        struct build_opts o = { 0 };
        _cleanup_json_ json_t *args = NULL, *labels = NULL, *ulimits = NULL, *cache_from = NULL;
        int r = decode(req, &o, &args, &labels, err);
        if (r == 0)
                r = query_ulimits(req, &ulimits, err);
        if (r == 0)
                r = query_cache_from(req, &o, &cache_from, err);
        if (r < 0)
                return r;
        o.ulimits = ulimits;
        o.complete = upload_complete;
        o.opaque = req;
        struct build_stream *bs = calloc(1, sizeof(*bs));
        if (!bs)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        bs->client_fd = api_client_fd(req);
        r = build_start(req->ctx, &o, req->body_fd, &bs->job, err);
        if (r < 0) {
                free(bs);
                return r;
        }
        return api_reply_stream(req, 200, "application/json", build_stream_read, build_stream_close, bs);
}
