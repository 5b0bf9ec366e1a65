/* container_top.c - GET /containers/{id}/top: run `ps` on the host with the client's
 * arguments and keep the lines of the container's processes, as dockerd does. The
 * container's processes are those of its init's cgroup (read from /proc/<pid>/cgroup), or
 * rootless without a delegated cgroup, where it has none of its own, of its init's pid
 * namespace. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "container.h"
#include "daemon.h"
#include "rootless.h"

#define PS_OUTPUT_MAX (8u << 20)
#define PS_ARGS_MAX 64

extern char **environ;

/* The directory of @pid's cgroup for the v1 @controller, or its v2 cgroup ("" as
 * @controller, or when the controller is not mounted as v1). 0, or -ENOENT. */
int ctr_cgroup_dir(pid_t pid, const char *controller, char *out, size_t size) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) pid);
        _cleanup_free_ char *text = NULL;
        size_t len;
        struct berr e = { 0 };
        if (fs_read_file(AT_FDCWD, path, 1 << 16, &text, &len, &e) < 0)
                return -ENOENT;
        char v2[2048] = "";
        out[0] = '\0';
        for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && !out[0]; l = strtok_r(NULL, "\n", &save)) {
                char *c1 = strchr(l, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2 || c2[1] != '/' || strstr(c2 + 1, ".."))
                        continue;
                *c2 = '\0';
                const char *list = c1 + 1, *cg = c2 + 1;
                if (!list[0]) {
                        snprintf(v2, sizeof(v2), "%s", cg);
                        continue;
                }
                size_t n = strlen(controller);
                const char *p = n ? strstr(list, controller) : NULL;
                if (p && (p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ',')) {
                        snprintf(out, size, "/sys/fs/cgroup/%s%s", list, cg);
                        if (access(out, F_OK) < 0) /* rootless.c: the v2 hierarchy is mounted there instead */
                                out[0] = '\0';
                }
        }
        if (!out[0] && v2[0]) {
                /* pure v2 at /sys/fs/cgroup, or hybrid with v2 at /sys/fs/cgroup/unified */
                snprintf(out, size, "/sys/fs/cgroup%s", v2);
                char probe[2200];
                (void) fs_path_fmt(probe, sizeof(probe), "%s/cgroup.procs", out);
                if (access(probe, R_OK) < 0)
                        snprintf(out, size, "/sys/fs/cgroup/unified%s", v2);
        }
        return out[0] ? 0 : -ENOENT;
}

/* The pids of @init's cgroup. */
static int cgroup_pids(pid_t init, int **ret, size_t *ret_n, struct berr *err) {
        static const char *const ctrls[] = { "pids", "freezer", "memory", "cpuacct", "devices", "" };
        char dir[2200] = "";
        for (size_t i = 0; i < sizeof(ctrls) / sizeof(ctrls[0]); i++)
                if (ctr_cgroup_dir(init, ctrls[i], dir, sizeof(dir)) == 0)
                        break;
        if (!dir[0])
                return berr_set(err, BERR_INTERNAL, ENOENT, "cannot find the cgroup of process %d", (int) init);
        char procs[2300];
        if (fs_path_fmt(procs, sizeof(procs), "%s/cgroup.procs", dir) < 0)
                return berr_set(err, BERR_INTERNAL, ENAMETOOLONG, "%s/cgroup.procs: path too long", dir);
        size_t len;
        _cleanup_free_ char *list = NULL;
        int r = fs_read_file(AT_FDCWD, procs, 4u << 20, &list, &len, err);
        if (r < 0)
                return r;
        size_t n = 0, cap = 16;
        int *pids = malloc(cap * sizeof(*pids));
        if (!pids)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        for (char *save = NULL, *t = strtok_r(list, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
                if (n == cap) {
                        int *np = realloc(pids, (cap *= 2) * sizeof(*pids));
                        if (!np) {
                                free(pids);
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        }
                        pids = np;
                }
                pids[n++] = atoi(t);
        }
        *ret = pids;
        *ret_n = n;
        return 0;
}

/* Rootless, a container has no cgroup of its own (none is delegated): its processes are
 * those in its init's pid namespace, found by the namespace of every process in /proc. */
static int pidns_pids(pid_t init, int **ret, size_t *ret_n, struct berr *err) {
        char path[64];
        struct stat want;
        snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int) init);
        if (stat(path, &want) < 0)
                return berr_sys(err, BERR_INTERNAL, "pid namespace of process %d", (int) init);
        _cleanup_closedir_ DIR *dir = opendir("/proc");
        if (!dir)
                return berr_sys(err, BERR_INTERNAL, "open /proc");
        size_t n = 0, cap = 16;
        _cleanup_free_ int *pids = malloc(cap * sizeof(*pids));
        if (!pids)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        struct dirent *de;
        while ((de = readdir(dir))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                struct stat st;
                if (*end || pid <= 0 || snprintf(path, sizeof(path), "/proc/%ld/ns/pid", pid) < 0 || stat(path, &st) < 0 ||
                    st.st_ino != want.st_ino || st.st_dev != want.st_dev)
                        continue; /* gone meanwhile, or another namespace's */
                if (n == cap) {
                        int *np = realloc(pids, (cap *= 2) * sizeof(*pids));
                        if (!np)
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        pids = np;
                }
                pids[n++] = (int) pid;
        }
        *ret = TAKE_PTR(pids);
        *ret_n = n;
        return 0;
}

/* Run ps with @args (split on spaces, as dockerd does); its output in *ret. */
static int run_ps(const char *ps_args, char **ret, struct berr *err) {
        _cleanup_free_ char *copy = strdup(ps_args);
        if (!copy)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        char *argv[PS_ARGS_MAX + 2];
        size_t argc = 0;
        argv[argc++] = (char *) "ps";
        for (char *save = NULL, *a = strtok_r(copy, " ", &save); a; a = strtok_r(NULL, " ", &save)) {
                if (argc > PS_ARGS_MAX)
                        return berr_set(err, BERR_INVALID, E2BIG, "too many ps arguments");
                argv[argc++] = a;
        }
        argv[argc] = NULL;
        int out[2], errp[2];
        if (pipe2(out, O_CLOEXEC) < 0)
                return berr_sys(err, BERR_INTERNAL, "pipe");
        if (pipe2(errp, O_CLOEXEC) < 0) {
                close(out[0]);
                close(out[1]);
                return berr_sys(err, BERR_INTERNAL, "pipe");
        }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
        pid_t pid;
        int e = posix_spawnp(&pid, "ps", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(out[1]);
        close(errp[1]);
        if (e != 0) {
                close(out[0]);
                close(errp[0]);
                return berr_set(err, BERR_INTERNAL, e, "Error running ps: exec: \"ps\": %s", strerror(e));
        }
        char *buf = malloc(PS_OUTPUT_MAX + 1);
        char ebuf[1024];
        size_t n = 0, en = 0;
        bool too_big = false;
        struct pollfd pf[2] = { { .fd = out[0], .events = POLLIN }, { .fd = errp[0], .events = POLLIN } };
        while (buf && (pf[0].fd >= 0 || pf[1].fd >= 0)) {
                if (poll(pf, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < 2; i++) {
                        if (pf[i].fd < 0 || !pf[i].revents)
                                continue;
                        char tmp[8192];
                        ssize_t k = read(pf[i].fd, tmp, sizeof(tmp));
                        if (k <= 0) {
                                close(pf[i].fd);
                                pf[i].fd = -1;
                                continue;
                        }
                        if (i == 0) {
                                if (n + (size_t) k > PS_OUTPUT_MAX)
                                        too_big = true;
                                else {
                                        memcpy(buf + n, tmp, (size_t) k);
                                        n += (size_t) k;
                                }
                        } else if (en < sizeof(ebuf) - 1) {
                                size_t take = (size_t) k < sizeof(ebuf) - 1 - en ? (size_t) k : sizeof(ebuf) - 1 - en;
                                memcpy(ebuf + en, tmp, take);
                                en += take;
                        }
                }
        }
        for (int i = 0; i < 2; i++)
                if (pf[i].fd >= 0)
                        close(pf[i].fd);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        ebuf[en] = '\0';
        while (en > 0 && (ebuf[en - 1] == '\n' || ebuf[en - 1] == ' '))
                ebuf[--en] = '\0';
        if (!buf)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        if (too_big) {
                free(buf);
                return berr_set(err, BERR_INTERNAL, EFBIG, "Error running ps: output too large");
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                free(buf);
                return berr_set(err, BERR_INTERNAL, EIO, "Error running ps: exit status %d: %s",
                                WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), ebuf);
        }
        buf[n] = '\0';
        *ret = buf;
        return 0;
}

static json_t *fields_row(char **f, size_t nf, size_t n_titles) {
        json_t *row = json_array();
        for (size_t i = 0; i + 1 < n_titles && i < nf; i++)
                json_array_append_new(row, json_string(f[i]));
        /* The last column takes the rest of the line (the command with its arguments). */
        size_t len = 0;
        for (size_t i = n_titles - 1; i < nf; i++)
                len += strlen(f[i]) + 1;
        char *last = calloc(1, len + 1);
        for (size_t i = n_titles - 1; last && i < nf; i++) {
                if (i > n_titles - 1)
                        strcat(last, " ");
                strcat(last, f[i]);
        }
        json_array_append_new(row, json_string(last ? last : ""));
        free(last);
        return row;
}

static size_t split_fields(char *line, char **f, size_t max) {
        size_t n = 0;
        for (char *save = NULL, *t = strtok_r(line, " \t", &save); t && n < max; t = strtok_r(NULL, " \t", &save))
                f[n++] = t;
        return n;
}

/* dockerd's parsePSOutput: the PID column picks the container's lines; a thread line
 * ("-" as PID, with `ps m`) follows its process. */
static int parse_ps(char *out, const int *pids, size_t n_pids, json_t **ret, struct berr *err) {
        char *save = NULL;
        char *header = strtok_r(out, "\n", &save);
        if (!header)
                return berr_set(err, BERR_INTERNAL, EINVAL, "Couldn't find PID field in ps output");
        char *titles[256];
        size_t nt = split_fields(header, titles, 256);
        ssize_t pid_idx = -1;
        for (size_t i = 0; i < nt; i++)
                if (strcmp(titles[i], "PID") == 0) {
                        pid_idx = (ssize_t) i;
                        break;
                }
        if (pid_idx < 0)
                return berr_set(err, BERR_INTERNAL, EINVAL, "Couldn't find PID field in ps output");
        _cleanup_json_ json_t *jt = json_array();
        for (size_t i = 0; i < nt; i++)
                json_array_append_new(jt, json_string(titles[i]));
        _cleanup_json_ json_t *procs = json_array();
        bool prev_in = false;
        for (char *l = strtok_r(NULL, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *f[1024];
                size_t nf = split_fields(l, f, 1024);
                if (nf == 0)
                        continue;
                if ((size_t) pid_idx >= nf)
                        continue;
                if (strcmp(f[pid_idx], "-") == 0) {
                        if (prev_in)
                                json_array_append_new(procs, fields_row(f, nf, nt));
                        continue;
                }
                char *end;
                long p = strtol(f[pid_idx], &end, 10);
                if (*end)
                        return berr_set(err, BERR_INTERNAL, EINVAL, "Unexpected pid '%s'", f[pid_idx]);
                prev_in = false;
                for (size_t i = 0; i < n_pids; i++)
                        if (pids[i] == p) {
                                prev_in = true;
                                break;
                        }
                if (prev_in)
                        json_array_append_new(procs, fields_row(f, nf, nt));
        }
        *ret = json_pack("{s:O, s:O}", "Titles", jt, "Processes", procs);
        return *ret ? 0 : berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
}

int ctr_top(struct daemon *d, struct container *c, const char *ps_args, json_t **ret, struct berr *err) {
        pthread_mutex_lock(&c->lock);
        enum ctr_state st = ctr_state_shown(c);
        pid_t init = c->pid;
        pthread_mutex_unlock(&c->lock);
        if (st == CTR_RESTARTING)
                return berr_set(err, BERR_CONFLICT, EINVAL, "Container %s is restarting, wait until the container is running",
                                c->id);
        if ((st != CTR_RUNNING && st != CTR_PAUSED) || init <= 0)
                return berr_set(err, BERR_CONFLICT, EINVAL, "Container %s is not running", c->id);
        _cleanup_free_ int *pids = NULL;
        size_t n = 0;
        int r = d->rootless && !rootless_cgroup_subtree() ? pidns_pids(init, &pids, &n, err)
                                                           : cgroup_pids(init, &pids, &n, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *out = NULL;
        r = run_ps(ps_args && ps_args[0] ? ps_args : "-ef", &out, err);
        if (r < 0)
                return r;
        return parse_ps(out, pids, n, ret, err);
}
