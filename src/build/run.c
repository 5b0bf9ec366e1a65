/* run.c - RUN: the command runs in a container made from the stage's image through the
 * same create/start path as `docker run` (so the same isolation), its output read live
 * from an attach stream set up before the start, then the container's writable layer is
 * committed as the step's image and the container removed. The run config gets the
 * build arguments as environment; the cache key (the stored container_config) carries
 * them as dockerd does, "|N A=1 B=2 /bin/sh -c ...". */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/build_int.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "daemon/container.h"
#include "daemon/container_archive.h"
#include "daemon/daemon.h"
#include "image/image_store.h"

static const char *const proxy_args[] = { "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                                          "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", NULL };

static bool env_has(json_t *env, const char *key) {
        size_t n = strlen(key), i;
        json_t *v;
        json_array_foreach(env, i, v) {
                const char *e = json_string_value(v);
                if (e && strncmp(e, key, n) == 0 && e[n] == '=')
                        return true;
        }
        return false;
}

static int cmp_json_str(const void *a, const void *b) {
        return strcmp(json_string_value(*(json_t *const *) a), json_string_value(*(json_t *const *) b));
}

/* The stage's ARGs with values that no ENV overrides, "k=v", sorted; and the proxy
 * arguments given (kept out of the cache key and history). */
static void build_arg_env(struct build_job *j, struct stage_state *st, json_t **ret_args, json_t **ret_proxies) {
        json_t *env = json_object_get(st->config, "Env");
        json_t *args = json_array(), *proxies = json_array();
        const char *key;
        json_t *v;
        json_object_foreach(st->args, key, v) {
                if (!json_is_string(v) || env_has(env, key))
                        continue;
                char *kv = NULL;
                if (asprintf(&kv, "%s=%s", key, json_string_value(v)) >= 0)
                        json_array_append_new(args, json_string(kv));
                free(kv);
        }
        for (size_t i = 0; proxy_args[i]; i++) {
                json_t *given = json_object_get(j->o.build_args, proxy_args[i]);
                if (!json_is_string(given) || json_object_get(st->args, proxy_args[i]) || env_has(env, proxy_args[i]))
                        continue;
                char *kv = NULL;
                if (asprintf(&kv, "%s=%s", proxy_args[i], json_string_value(given)) >= 0)
                        json_array_append_new(proxies, json_string(kv));
                free(kv);
        }
        size_t n = json_array_size(args);
        if (n > 1) {
                json_t **items = calloc(n, sizeof(json_t *));
                if (items) {
                        for (size_t i = 0; i < n; i++)
                                items[i] = json_incref(json_array_get(args, i));
                        qsort(items, n, sizeof(json_t *), cmp_json_str);
                        json_array_clear(args);
                        for (size_t i = 0; i < n; i++)
                                json_array_append_new(args, items[i]);
                        free(items);
                }
        }
        *ret_args = args;
        *ret_proxies = proxies;
}

static json_t *host_config(struct build_job *j) {
        json_t *hc = json_object();
        if (!hc)
                return NULL;
        if (j->o.network_mode && j->o.network_mode[0])
                json_object_set_new(hc, "NetworkMode", json_string(j->o.network_mode));
        if (j->o.n_extra_hosts) {
                json_t *eh = json_array();
                for (size_t i = 0; i < j->o.n_extra_hosts; i++)
                        json_array_append_new(eh, json_string(j->o.extra_hosts[i]));
                json_object_set_new(hc, "ExtraHosts", eh);
        }
        if (j->o.memory)
                json_object_set_new(hc, "Memory", json_integer(j->o.memory));
        if (j->o.memory_swap)
                json_object_set_new(hc, "MemorySwap", json_integer(j->o.memory_swap));
        if (j->o.cpu_shares)
                json_object_set_new(hc, "CpuShares", json_integer(j->o.cpu_shares));
        if (j->o.cpu_period)
                json_object_set_new(hc, "CpuPeriod", json_integer(j->o.cpu_period));
        if (j->o.cpu_quota)
                json_object_set_new(hc, "CpuQuota", json_integer(j->o.cpu_quota));
        if (j->o.shm_size)
                json_object_set_new(hc, "ShmSize", json_integer(j->o.shm_size));
        if (j->o.cpuset_cpus && j->o.cpuset_cpus[0])
                json_object_set_new(hc, "CpusetCpus", json_string(j->o.cpuset_cpus));
        if (j->o.cpuset_mems && j->o.cpuset_mems[0])
                json_object_set_new(hc, "CpusetMems", json_string(j->o.cpuset_mems));
        if (j->o.cgroup_parent && j->o.cgroup_parent[0])
                json_object_set_new(hc, "CgroupParent", json_string(j->o.cgroup_parent));
        if (j->o.ulimits)
                json_object_set(hc, "Ulimits", j->o.ulimits);
        return hc;
}

/* ---- the attach stream ---- */

struct attach {
        struct daemon *d;
        struct container *c;
        int fd;
        int result;
};

static void *attach_thread(void *arg) {
        struct attach *a = arg;
        struct ctr_attach_opts o = { .use_stdout = true, .use_stderr = true };
        struct berr err = { 0 };
        a->result = ctr_attach_stream(a->d, a->c, a->fd, &o, &err);
        close(a->fd); /* the shim has its own copy; ours ends with the stream */
        a->fd = -1;
        return NULL;
}

/* Copy the multiplexed stream (8-byte headers: stream, 0, 0, 0, big-endian length) out
 * as build output until EOF; stop early if the build is cancelled. */
static void relay_output(struct build_job *j, int fd) {
        char hdr[8];
        size_t have = 0;
        _cleanup_free_ char *buf = malloc(32768);
        if (!buf)
                return;
        size_t want = 0, got = 0;
        int stream = 1;
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int pr = poll(&p, 1, 1000);
                if (pr == 0) {
                        if (job_cancelled(j))
                                return;
                        continue;
                }
                if (pr < 0 && errno == EINTR)
                        continue;
                if (pr < 0)
                        return;
                if (have < 8) {
                        ssize_t n = read(fd, hdr + have, 8 - have);
                        if (n <= 0)
                                return;
                        have += (size_t) n;
                        if (have == 8) {
                                stream = hdr[0];
                                want = ((size_t) (unsigned char) hdr[4] << 24) | ((size_t) (unsigned char) hdr[5] << 16) |
                                       ((size_t) (unsigned char) hdr[6] << 8) | (unsigned char) hdr[7];
                                got = 0;
                                if (want == 0)
                                        have = 0;
                        }
                        continue;
                }
                size_t chunk = want - got < 32768 ? want - got : 32768;
                ssize_t n = read(fd, buf, chunk);
                if (n <= 0)
                        return;
                got += (size_t) n;
                if (stream == 2)
                        job_stderr(j, buf, (size_t) n);
                else
                        job_stdout(j, buf, (size_t) n);
                if (got == want)
                        have = 0;
        }
}

/* Start @c with its output going to the build, and wait for its exit code. */
static int run_container(struct build_job *j, struct container *c, int *ret_code, struct berr *err) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return berr_sys(err, BERR_INTERNAL, "socketpair");
        struct attach a = { .d = j->d, .c = c, .fd = sv[1] };
        pthread_t t;
        if (pthread_create(&t, NULL, attach_thread, &a) != 0) {
                close(sv[0]);
                close(sv[1]);
                return berr_set(err, BERR_INTERNAL, EAGAIN, "cannot start the attach thread");
        }
        /* the start hands its stdio to the attach streams waiting for it: be one first */
        pthread_mutex_lock(&c->lock);
        while (c->attach_waiters == 0 && a.fd >= 0) {
                pthread_mutex_unlock(&c->lock);
                usleep(1000);
                pthread_mutex_lock(&c->lock);
        }
        pthread_mutex_unlock(&c->lock);
        int r = ctr_start(j->d, c, err);
        if (r >= 0)
                relay_output(j, sv[0]);
        if (r >= 0 && job_cancelled(j)) {
                struct berr ke = { 0 };
                (void) ctr_kill(j->d, c, "KILL", &ke); /* the build is over: so is its step */
        }
        int code = -1;
        if (r >= 0)
                r = ctr_wait(j->d, c, CTR_WAIT_NOT_RUNNING, &code, NULL, NULL, err);
        if (r < 0) { /* the attach stream must end before the thread can */
                struct berr ke = { 0 };
                (void) ctr_kill(j->d, c, "KILL", &ke);
        }
        shutdown(sv[0], SHUT_RDWR);
        close(sv[0]);
        pthread_join(t, NULL);
        *ret_code = code;
        return r < 0 ? r : 0;
}

static void remove_container(struct build_job *j, struct container *c, bool say) {
        struct berr e = { 0 };
        char id[65];
        snprintf(id, sizeof(id), "%s", c->id);
        if (ctr_remove(j->d, c, true, true, &e) < 0) {
                job_say(j, "Error removing intermediate container %.12s: %s\n", id, e.msg);
                log_info("build: remove container %s: %s", id, e.msg);
        } else if (say) {
                job_say(j, "Removing intermediate container %.12s\n", id);
        }
        j->container_id[0] = '\0';
}

/* Whether directory @fd holds only what start made for the container's mounts (the
 * entries dockerd keeps in its init layer): a RUN that changed nothing then commits an
 * empty_layer step, as dockerd's does. */
static bool only_placeholders(int fd, bool in_etc) {
        int fd2 = dup(fd);
        DIR *d = fd2 >= 0 ? fdopendir(fd2) : NULL;
        if (!d) {
                if (fd2 >= 0)
                        close(fd2);
                return false;
        }
        bool ok = true;
        struct dirent *de;
        while (ok && (de = readdir(d))) {
                const char *n = de->d_name;
                if (STREQ(n, ".") || STREQ(n, ".."))
                        continue;
                struct stat st;
                if (fstatat(fd, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        ok = false;
                        break;
                }
                if (in_etc) {
                        ok = S_ISREG(st.st_mode) && st.st_size == 0 &&
                             (STREQ(n, "hostname") || STREQ(n, "hosts") || STREQ(n, "resolv.conf"));
                } else if (STREQ(n, "etc") && S_ISDIR(st.st_mode)) {
                        int sub = openat(fd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        ok = sub >= 0 && only_placeholders(sub, true);
                        if (sub >= 0)
                                close(sub);
                } else {
                        ok = (STREQ(n, ".dockerenv") && S_ISREG(st.st_mode) && st.st_size == 0) ||
                             ((STREQ(n, "dev") || STREQ(n, "proc") || STREQ(n, "sys")) && S_ISDIR(st.st_mode));
                }
        }
        closedir(d);
        return ok;
}

static bool layer_is_empty(struct build_job *j, struct container *c) {
        _cleanup_free_ char *dir = ctr_data_dir(j->d, c->id);
        char upper[4200];
        if (!dir || fs_path_fmt(upper, sizeof(upper), "%s/rw/diff", dir) < 0)
                return false;
        _cleanup_close_ int fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd >= 0 && only_placeholders(fd, false);
}

static int commit_container(struct build_job *j, struct stage_state *st, struct container *c, json_t *probe,
                            struct berr *err) {
        if (layer_is_empty(j, c))
                return build_commit(j, st, -1, probe, c->id, err);
        pthread_mutex_lock(&j->d->ctr_lock);
        c->refs++; /* one for the archive, which takes it over */
        pthread_mutex_unlock(&j->d->ctr_lock);
        struct ctr_archive *a = NULL;
        int r = ctr_commit_layer_open(j->d, c, &a, err);
        if (r == 0)
                r = ctr_archive_start(a, err);
        if (r == 0)
                r = build_commit(j, st, ctr_archive_fd(a), probe, c->id, err);
        ctr_archive_free(a);
        return r;
}

int build_run(struct build_job *j, struct stage_state *st, const struct df_instr *in, struct berr *err) {
        if (!st->image_id[0])
                return berr_set(err, BERR_INVALID, EINVAL, "Please provide a source image with `from` prior to run");
        _cleanup_json_ json_t *cmd = json_array();
        if (!in->json)
                json_array_extend(cmd, stage_shell(st));
        for (size_t i = 0; i < in->n_args; i++)
                json_array_append_new(cmd, json_string(in->args[i]));
        _cleanup_json_ json_t *args = NULL, *proxies = NULL;
        build_arg_env(j, st, &args, &proxies);
        /* the cache key: the command, prefixed with the build arguments it sees */
        _cleanup_json_ json_t *save_cmd = json_array();
        if (json_array_size(args) > 0) {
                char n[24];
                snprintf(n, sizeof(n), "|%zu", json_array_size(args));
                json_array_append_new(save_cmd, json_string(n));
                json_array_extend(save_cmd, args);
        }
        json_array_extend(save_cmd, cmd);
        _cleanup_json_ json_t *probe = build_probe_config(st, save_cmd);
        if (!probe || !cmd || !args)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        json_object_set_new(probe, "Entrypoint", json_null());
        if (build_probe_cache(j, st, probe))
                return 0;

        _cleanup_json_ json_t *body = json_deep_copy(st->config);
        if (!body)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        json_object_set(body, "Cmd", cmd);
        json_object_set_new(body, "Entrypoint", json_pack("[s]", ""));
        json_t *env = json_object_get(body, "Env");
        if (!json_is_array(env)) {
                env = json_array();
                json_object_set_new(body, "Env", env);
        }
        json_array_extend(env, args);
        json_array_extend(env, proxies);
        json_object_set_new(body, "Healthcheck", json_pack("{s:[s]}", "Test", "NONE"));
        json_object_set_new(body, "Image", json_string(st->image_id));
        json_object_set_new(body, "AttachStdout", json_true());
        json_object_set_new(body, "AttachStderr", json_true());
        json_object_set_new(body, "HostConfig", host_config(j));
        json_object_del(body, "OnBuild");
        char id[65];
        json_t *warnings = NULL;
        int r = ctr_create(j->d, NULL, body, id, &warnings, err);
        json_decref(warnings);
        if (r < 0)
                return r;
        snprintf(j->container_id, sizeof(j->container_id), "%s", id);
        struct container *c;
        r = ctr_lookup(j->d, id, &c, err);
        if (r < 0)
                return r;
        job_say(j, " ---> Running in %.12s\n", id);
        int code = 0;
        r = run_container(j, c, &code, err);
        if (r == 0 && job_cancelled(j))
                r = berr_set(err, BERR_UNAVAILABLE, ECANCELED, "Build cancelled");
        if (r == 0 && code != 0) {
                _cleanup_free_ char *line = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&line, &len);
                if (f) {
                        size_t i;
                        json_t *v;
                        json_array_foreach(cmd, i, v) fprintf(f, "%s%s", i ? " " : "", json_string_value(v));
                        fclose(f);
                }
                j->fail_code = code;
                r = berr_set(err, BERR_INVALID, EINVAL, "The command '%s' returned a non-zero code: %d", line ? line : "",
                             code);
        }
        if (r == 0)
                r = commit_container(j, st, c, probe, err);
        /* dockerd keeps a failed step's container unless forcerm; berth leaves nothing
         * behind a failed build (issue 12), so it goes either way */
        if (r < 0 || j->o.rm || j->o.force_rm)
                remove_container(j, c, r == 0);
        else
                j->container_id[0] = '\0'; /* --rm=false keeps it, as dockerd */
        ctr_unref(j->d, c);
        return r;
}
