/* mountinfo.h - the kernel's mount table (/proc/self/mountinfo): which paths are mount
 * points. After a crash only the kernel knows what is still mounted; berthd asks it rather
 * than trusting a flag it kept in memory. */
#pragma once

#include <stddef.h>

struct berr;

/* The mount point (fifth field) of one mountinfo line, its octal escapes (\040 for a
 * space, \011, \012, \134) decoded, into @out. -EINVAL for a line with fewer fields or
 * a mount point that does not fit. */
int mountinfo_mount_point(const char *line, char *out, size_t size);

/* The mount points in mountinfo @text that are @prefix or below it (whole components:
 * "/a/b" does not cover "/a/bc"), deepest first, so they can be unmounted in order.
 * A path mounted over more than once is listed as often. *@ret is a NULL-terminated
 * string array (strv_free); *@ret_n its length (may be 0). */
int mountinfo_find_under(const char *text, const char *prefix, char ***ret, size_t *ret_n, struct berr *err);

/* The same, from this process's current mount table. */
int mountinfo_list_under(const char *prefix, char ***ret, size_t *ret_n, struct berr *err);
