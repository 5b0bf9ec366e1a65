/* duration.c - Go's time.ParseDuration, which the Docker API uses for HEALTHCHECK flags
 * and for the since/until filters. */
#include "duration.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

int duration_parse_ns(const char *s, int64_t *ret) {
        static const struct {
                const char *unit;
                int64_t ns;
        } units[] = { { "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 }, { "m", 60000000000LL },
                      { "h", 3600000000000LL } };
        int64_t total = 0;
        bool negative = *s == '-';
        if (*s == '-' || *s == '+')
                s++;
        if (!*s)
                return -EINVAL;
        if (STREQ(s, "0")) {
                *ret = 0;
                return 0;
        }
        while (*s) {
                /* Go's grammar: digits, optionally "." and digits (no exponent, no hex). */
                const char *end = s;
                size_t digits = 0, dots = 0;
                for (; isdigit((unsigned char) *end) || (*end == '.' && !dots); end++)
                        *end == '.' ? dots++ : digits++;
                if (!digits || end - s > 64)
                        return -EINVAL;
                char num[72];
                memcpy(num, s, (size_t) (end - s));
                num[end - s] = '\0';
                double v = strtod(num, NULL);
                size_t best = 0;
                int64_t mult = 0;
                for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                        size_t l = strlen(units[i].unit);
                        if (strncmp(end, units[i].unit, l) == 0 && l > best &&
                            !(l == 1 && units[i].unit[0] == 'm' && end[1] == 's')) {
                                best = l;
                                mult = units[i].ns;
                        }
                }
                if (!best)
                        return -EINVAL;
                /* Go: "invalid duration" past int64 nanoseconds. */
                double part = v * (double) mult;
                if (part >= 9.2e18 || __builtin_add_overflow(total, (int64_t) part, &total))
                        return -ERANGE;
                s = end + best;
        }
        *ret = negative ? -total : total;
        return 0;
}
