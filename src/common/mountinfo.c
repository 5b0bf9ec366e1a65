/* mountinfo.c - reading the kernel's mount table (see mountinfo.h). */
#include "mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"

/* A host with thousands of mounts has a table of a few hundred KB. */
#define MOUNTINFO_MAX_BYTES (64u << 20)

static bool is_octal(char ch) {
        return ch >= '0' && ch <= '7';
}

int mountinfo_mount_point(const char *line, char *out, size_t size) {
        const char *p = line;
        for (int field = 0; field < 4; field++) { /* mount ID, parent ID, major:minor, root */
                while (*p == ' ')
                        p++;
                if (!*p || *p == '\n')
                        return -EINVAL;
                while (*p && *p != ' ' && *p != '\n')
                        p++;
        }
        while (*p == ' ')
                p++;
        if (*p != '/')
                return -EINVAL;
        size_t n = 0;
        while (*p && *p != ' ' && *p != '\n') {
                char ch = *p++;
                if (ch == '\\' && is_octal(p[0]) && is_octal(p[1]) && is_octal(p[2])) {
                        ch = (char) ((p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0'));
                        p += 3;
                }
                if (n + 1 >= size)
                        return -EINVAL;
                out[n++] = ch;
        }
        out[n] = '\0';
        return 0;
}

static bool is_at_or_below(const char *path, const char *prefix, size_t plen) {
        if (plen == 1 && prefix[0] == '/')
                return true;
        return strncmp(path, prefix, plen) == 0 && (path[plen] == '\0' || path[plen] == '/');
}

static int deeper_first(const void *a, const void *b) {
        size_t la = strlen(*(char *const *) a), lb = strlen(*(char *const *) b);
        return la < lb ? 1 : la > lb ? -1 : 0;
}

int mountinfo_find_under(const char *text, const char *prefix, char ***ret, size_t *ret_n, struct berr *err) {
        size_t plen = strlen(prefix);
        while (plen > 1 && prefix[plen - 1] == '/')
                plen--;
        size_t n = 0, cap = 8;
        char **list = calloc(cap, sizeof(char *));
        if (!list)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        char mp[4096];
        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n');
                if (mountinfo_mount_point(line, mp, sizeof(mp)) == 0 && is_at_or_below(mp, prefix, plen)) {
                        if (n + 2 > cap) {
                                char **nl2 = realloc(list, cap * 2 * sizeof(char *));
                                if (!nl2) {
                                        strv_free(list);
                                        return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                                }
                                list = nl2;
                                cap *= 2;
                        }
                        list[n] = strdup(mp);
                        list[n + 1] = NULL;
                        if (!list[n]) {
                                strv_free(list);
                                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
                        }
                        n++;
                }
                line = nl ? nl + 1 : NULL;
        }
        qsort(list, n, sizeof(char *), deeper_first);
        *ret = list;
        if (ret_n)
                *ret_n = n;
        return 0;
}

int mountinfo_list_under(const char *prefix, char ***ret, size_t *ret_n, struct berr *err) {
        _cleanup_free_ char *text = NULL;
        int r = fs_read_file(AT_FDCWD, "/proc/self/mountinfo", MOUNTINFO_MAX_BYTES, &text, NULL, err);
        if (r < 0)
                return r;
        return mountinfo_find_under(text, prefix, ret, ret_n, err);
}
