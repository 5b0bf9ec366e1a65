/* context.c - the build context: the uploaded tar (plain, gzip, bzip2 or xz) unpacked as
 * it streams in into a private directory under DATA-ROOT/tmp (which berthd empties at
 * start-up, so a crash leaves nothing for long), through the layer applier that treats
 * archives as hostile (every path resolved in the root with openat2 RESOLVE_IN_ROOT,
 * bounded in bytes and entries); then .dockerignore applied to it and the Dockerfile
 * read from it, resolved inside it as dockerd resolves the `dockerfile` parameter. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build/build_int.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/id.h"
#include "common/tree.h"
#include "distribution/distribution.h"
#include "image/layer_apply.h"

#define CONTEXT_MAX_BYTES (32ULL << 30)
#define CONTEXT_MAX_ENTRIES 1000000ULL
#define IGNORE_MAX_BYTES (1u << 20)

void build_context_free(struct build_context *c) {
        if (!c)
                return;
        if (c->root_fd >= 0)
                close(c->root_fd);
        if (c->dir_fd >= 0)
                close(c->dir_fd);
        if (c->dir) {
                /* The directory's own parent, then its name: remove it whole. */
                char *slash = strrchr(c->dir, '/');
                if (slash) {
                        *slash = '\0';
                        _cleanup_close_ int pfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (pfd >= 0)
                                (void) tree_remove_at(pfd, slash + 1, NULL); /* best effort: DATA-ROOT/tmp is emptied at start-up */
                }
        }
        free(c->dir);
        free(c->dockerfile);
        free(c);
}

/* Walk @dfd (the directory at @rel in the context) removing what .dockerignore excludes. */
static int ignore_walk(int dfd, const char *rel, const struct dockerignore *di, int depth, struct berr *err) {
        if (depth > 256)
                return berr_set(err, BERR_INVALID, ELOOP, "build context: directories nested too deep");
        int fd2 = dup(dfd);
        if (fd2 < 0)
                return berr_sys(err, BERR_INTERNAL, "dup");
        _cleanup_closedir_ DIR *dir = fdopendir(fd2);
        if (!dir) {
                close(fd2);
                return berr_sys(err, BERR_INTERNAL, "read build context");
        }
        /* Names first: removing while reading a directory may skip entries. */
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        while ((de = readdir(dir))) {
                if (STREQ(de->d_name, ".") || STREQ(de->d_name, ".."))
                        continue;
                if (n + 2 > cap) {
                        cap = cap ? cap * 2 : 32;
                        char **v = realloc(names, cap * sizeof(char *));
                        if (!v)
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        names = v;
                }
                names[n] = strdup(de->d_name);
                if (!names[n])
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                names[++n] = NULL;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s%s%s", rel, rel[0] ? "/" : "", names[i]) < 0)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                struct stat st;
                if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                bool excluded = dockerignore_excluded(di, path);
                if (S_ISDIR(st.st_mode) && (!excluded || dockerignore_has_exceptions(di))) {
                        _cleanup_close_ int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                return berr_sys(err, BERR_INTERNAL, "open %s in the build context", path);
                        int r = ignore_walk(sub, path, di, depth + 1, err);
                        if (r < 0)
                                return r;
                        if (excluded)
                                (void) unlinkat(dfd, names[i], AT_REMOVEDIR); /* kept if an exception is inside */
                        continue;
                }
                if (excluded) {
                        int r = tree_remove_at(dfd, names[i], err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int build_context_apply_ignore(int root_fd, const struct dockerignore *di, struct berr *err) {
        return ignore_walk(root_fd, "", di, 0, err);
}

static int read_in_root(int root_fd, const char *path, size_t max, char **ret, size_t *ret_len, struct berr *err) {
        _cleanup_close_ int fd = fs_open_in_root(root_fd, path, O_RDONLY);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berr_sys(err, BERR_INTERNAL, "stat %s", path);
        if (!S_ISREG(st.st_mode))
                return -EISDIR;
        if ((uint64_t) st.st_size > max)
                return berr_set(err, BERR_TOO_LARGE, EFBIG, "%s: larger than %zu bytes", path, max);
        _cleanup_free_ char *buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        size_t len = 0;
        for (;;) {
                ssize_t n = read(fd, buf + len, (size_t) st.st_size - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berr_sys(err, BERR_INTERNAL, "read %s", path);
                if (n == 0 || (len += (size_t) n) == (size_t) st.st_size)
                        break;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static int read_dockerfile(struct build_context *c, const char *name, struct berr *err) {
        const char *want = name && name[0] ? name : "Dockerfile";
        int r = read_in_root(c->root_fd, want, BUILD_DOCKERFILE_MAX, &c->dockerfile, &c->dockerfile_len, err);
        if ((r == -ENOENT || r == -EISDIR) && STREQ(want, "Dockerfile"))
                r = read_in_root(c->root_fd, "dockerfile", BUILD_DOCKERFILE_MAX, &c->dockerfile, &c->dockerfile_len,
                                 err);
        if (r == -ENOENT || r == -EISDIR || r == -ENOTDIR || r == -ELOOP)
                return berr_set(err, BERR_INVALID, ENOENT, "Cannot locate specified Dockerfile: %s", want);
        if (r < 0 && err && !err->msg[0])
                return berr_set(err, BERR_INTERNAL, -r, "read the Dockerfile %s", want);
        if (r < 0)
                return r;
        if (c->dockerfile_len == 0)
                return berr_set(err, BERR_INVALID, EINVAL, "the Dockerfile (%s) cannot be empty", want);
        return 0;
}

/* docker's urlutil.IsGitURL */
bool build_is_git_url(const char *s) {
        if (strncmp(s, "git://", 6) == 0 || strncmp(s, "git@", 4) == 0 || strncmp(s, "github.com/", 11) == 0)
                return true;
        if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
                return false;
        size_t n = strcspn(s, "#");
        return n >= 4 && strncmp(s + n - 4, ".git", 4) == 0;
}

/* Run git with @argv in @dir_fd (via /proc/self/fd), its output kept for the error. */
static int run_git(int dir_fd, const char *const *argv, struct berr *err) {
        char cwd[64];
        snprintf(cwd, sizeof(cwd), "/proc/self/fd/%d", dir_fd);
        int out[2];
        if (pipe2(out, O_CLOEXEC) < 0)
                return berr_sys(err, BERR_INTERNAL, "pipe");
        pid_t pid = fork();
        if (pid < 0) {
                close(out[0]);
                close(out[1]);
                return berr_sys(err, BERR_INTERNAL, "fork");
        }
        if (pid == 0) {
                if (chdir(cwd) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0)
                        _exit(127);
                int devnull = open("/dev/null", O_RDONLY);
                if (devnull >= 0)
                        dup2(devnull, 0);
                /* no prompt for credentials, no system or user configuration, never file:// */
                static char *const env[] = { "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "HOME=/nonexistent",
                                             "GIT_PROTOCOL_FROM_USER=0", "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
                execve("/usr/bin/git", (char *const *) argv, env);
                _exit(127);
        }
        close(out[1]);
        char buf[512];
        size_t len = 0;
        for (;;) {
                ssize_t n = read(out[0], len < sizeof(buf) - 1 ? buf + len : buf, len < sizeof(buf) - 1 ? sizeof(buf) - 1 - len : sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (len < sizeof(buf) - 1)
                        len += (size_t) n;
        }
        buf[len < sizeof(buf) ? len : sizeof(buf) - 1] = '\0';
        close(out[0]);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                size_t n = strlen(buf);
                while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
                        buf[--n] = '\0';
                return berr_set(err, BERR_INVALID, EIO, "error fetching: %s", buf[0] ? buf : "git failed");
        }
        return 0;
}

/* A git context, as dockerd's gitutils: URL#ref:subdir, fetched shallow when the server
 * can, checked out with its submodules into the context directory. */
static int clone_git(struct build_context *c, const char *spec, struct berr *err) {
        _cleanup_free_ char *url = NULL;
        if (strncmp(spec, "github.com/", 11) == 0) {
                if (asprintf(&url, "https://%s", spec) < 0)
                        url = NULL;
        } else {
                url = strdup(spec);
        }
        if (!url)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        char *frag = strchr(url, '#');
        const char *ref = "HEAD", *subdir = "";
        if (frag) {
                *frag++ = '\0';
                char *colon = strchr(frag, ':');
                if (colon) {
                        *colon = '\0';
                        subdir = colon + 1;
                }
                if (frag[0])
                        ref = frag;
        }
        if (ref[0] == '-' || url[0] == '-')
                return berr_set(err, BERR_INVALID, EINVAL, "invalid git URL: %s", spec);
        static const char *const protos = "protocol.allow=never";
        const char *init[] = { "git", "init", "-q", NULL };
        const char *remote[] = { "git", "remote", "add", "origin", url, NULL };
        const char *shallow[] = { "git", "-c", protos, "-c", "protocol.https.allow=always", "-c", "protocol.http.allow=always",
                                  "-c", "protocol.git.allow=always", "-c", "protocol.ssh.allow=always",
                                  "fetch", "-q", "--depth", "1", "origin", ref, NULL };
        const char *full[] = { "git", "-c", protos, "-c", "protocol.https.allow=always", "-c", "protocol.http.allow=always",
                               "-c", "protocol.git.allow=always", "-c", "protocol.ssh.allow=always",
                               "fetch", "-q", "origin", ref, NULL };
        const char *checkout[] = { "git", "checkout", "-q", "FETCH_HEAD", NULL };
        const char *submodules[] = { "git", "-c", protos, "-c", "protocol.https.allow=always", "-c", "protocol.http.allow=always",
                                     "-c", "protocol.git.allow=always", "-c", "protocol.ssh.allow=always",
                                     "submodule", "update", "-q", "--init", "--recursive", "--depth=1", NULL };
        int r = run_git(c->root_fd, init, err);
        if (r == 0)
                r = run_git(c->root_fd, remote, err);
        if (r == 0 && run_git(c->root_fd, shallow, NULL) < 0) /* the dumb http protocol has no shallow fetch */
                r = run_git(c->root_fd, full, err);
        if (r == 0)
                r = run_git(c->root_fd, checkout, err);
        if (r == 0)
                r = run_git(c->root_fd, submodules, err);
        if (r == 0 && subdir[0]) {
                int sub = fs_open_in_root(c->root_fd, subdir, O_RDONLY | O_DIRECTORY);
                if (sub < 0)
                        return berr_set(err, BERR_INVALID, errno, "error setting git context, not a directory: %s", subdir);
                close(c->root_fd);
                c->root_fd = sub;
        }
        return r;
}

/* A remote context: a tar (maybe compressed) unpacked like an upload, or, served as
 * text/plain, the Dockerfile alone with an empty context, as dockerd's. */
static int fetch_remote(struct build_context *c, const struct context_source *src, int *ret_tar_fd,
                        struct berr *err) {
        *ret_tar_fd = -1;
        _cleanup_close_ int fd = openat(c->dir_fd, "remote-context", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
                return berr_sys(err, BERR_INTERNAL, "create the download file");
        struct dist_fetch_opts fo = {
                .url = src->remote,
                .out_fd = fd,
                .max_bytes = CONTEXT_MAX_BYTES,
                .cancelled = src->cancelled,
                .opaque = src->opaque,
        };
        struct dist_fetch_result res;
        int r = dist_fetch(&fo, &res, err);
        if (r < 0)
                return r;
        if (strncmp(res.content_type, "text/plain", 10) == 0) {
                if (res.bytes > BUILD_DOCKERFILE_MAX)
                        return berr_set(err, BERR_TOO_LARGE, EFBIG, "the Dockerfile is larger than %u bytes",
                                        BUILD_DOCKERFILE_MAX);
                c->dockerfile = malloc(res.bytes + 1);
                if (!c->dockerfile)
                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                ssize_t n = pread(fd, c->dockerfile, res.bytes, 0);
                if (n < 0 || (uint64_t) n != res.bytes)
                        return berr_sys(err, BERR_INTERNAL, "read the downloaded Dockerfile");
                c->dockerfile[n] = '\0';
                c->dockerfile_len = (size_t) n;
                return 0;
        }
        if (lseek(fd, 0, SEEK_SET) != 0)
                return berr_sys(err, BERR_INTERNAL, "seek the download");
        *ret_tar_fd = TAKE_FD(fd);
        return 0;
}

int build_context_open(const char *tmp_parent, const struct context_source *src, const char *dockerfile,
                       struct build_context **ret, struct berr *err) {
        struct build_context *c = calloc(1, sizeof(*c));
        if (!c)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        c->dir_fd = c->root_fd = -1;
        char hex[ID_HEX_LEN + 1];
        int r = id_random_hex(hex, err);
        if (r == 0 && asprintf(&c->dir, "%s/build-%.16s", tmp_parent, hex) < 0) {
                c->dir = NULL;
                r = berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        }
        if (r == 0) {
                /* Each job's directory in a block group of its own (ext4's Orlov): files
                 * created where thousands were just deleted crawl otherwise (see
                 * "inode groups" in docs/architecture.md); 2,000 files took 4 s. */
                _cleanup_close_ int tfd = open(tmp_parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (tfd >= 0)
                        (void) fs_spread_subdirs(tfd); /* best effort: only ext4 has the flag */
        }
        if (r == 0 && mkdir(c->dir, 0700) < 0) {
                r = berr_sys(err, BERR_INTERNAL, "create %s", c->dir);
                free(c->dir);
                c->dir = NULL;
        }
        if (r == 0 && ((c->dir_fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
                       mkdirat(c->dir_fd, "context", 0755) < 0 ||
                       (c->root_fd = openat(c->dir_fd, "context", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0))
                r = berr_sys(err, BERR_INTERNAL, "create the build context in %s", c->dir);
        int fd = src->fd;
        _cleanup_close_ int remote_fd = -1;
        if (r == 0 && src->remote && build_is_git_url(src->remote)) {
                r = clone_git(c, src->remote, err);
                fd = -1;
        } else if (r == 0 && src->remote) {
                r = fetch_remote(c, src, &remote_fd, err);
                fd = remote_fd;
        }
        if (r == 0 && fd >= 0) {
                struct layer_apply_opts o = {
                        .whiteouts = LAYER_WHITEOUTS_NONE,
                        .owner_root = true,
                        .lenient_end = true,
                        .max_bytes = CONTEXT_MAX_BYTES,
                        .max_entries = CONTEXT_MAX_ENTRIES,
                };
                struct layer_apply_result res;
                struct berr e = { 0 };
                r = layer_apply_fd(c->root_fd, fd, &o, &res, &e);
                if (r < 0)
                        r = berr_set(err, e.kind == BERR_INTERNAL ? BERR_INVALID : e.kind, EINVAL,
                                     "failed to read the build context: %s", e.msg);
        }
        if (r == 0 && !c->dockerfile)
                r = read_dockerfile(c, dockerfile, err);
        if (r == 0 && c->dockerfile_len == 0)
                r = berr_set(err, BERR_INVALID, EINVAL, "the Dockerfile (%s) cannot be empty",
                             dockerfile && dockerfile[0] ? dockerfile : "Dockerfile");
        if (r == 0) {
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                int rr = read_in_root(c->root_fd, ".dockerignore", IGNORE_MAX_BYTES, &text, &len, err);
                if (rr == 0) {
                        struct dockerignore *di = NULL;
                        r = dockerignore_parse(text, len, &di, err);
                        if (r == 0)
                                r = build_context_apply_ignore(c->root_fd, di, err);
                        dockerignore_free(di);
                } else if (rr != -ENOENT && rr != -EISDIR) {
                        r = rr;
                }
        }
        if (r < 0) {
                build_context_free(c);
                return r;
        }
        *ret = c;
        return 0;
}
