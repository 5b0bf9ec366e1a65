/* capabilities.c - process.capabilities: the bounding set, then effective, permitted,
 * inheritable and ambient, with libcap. A capability this process does not hold cannot be
 * given to the container; it is dropped silently (runc does the same, which is what makes
 * --privileged work on a host whose bounding set lacks CAP_SYS_RESOURCE, as here). */
#include "runtime_int.h"

#include <linux/capability.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "common/cleanup.h"
#include "runtime/caps.h"

enum { SET_BOUNDING, SET_EFFECTIVE, SET_PERMITTED, SET_INHERITABLE, SET_AMBIENT, _SET_MAX };

static const char *const set_names[_SET_MAX] = { "bounding", "effective", "permitted", "inheritable", "ambient" };

static void cap_freep(cap_t *p) {
        if (*p)
                (void) cap_free(*p); /* frees memory only */
}

struct rt_caps {
        uint64_t set[_SET_MAX];
        bool present; /* process.capabilities exists */
        int last_cap;
};

static int kernel_last_cap(void) {
        int last = (int) cap_max_bits() - 1;
        return last > 63 ? 63 : last;
}

int rt_caps_parse(const json_t *process, struct rt_caps **ret, struct berr *err) {
        struct rt_caps *c = calloc(1, sizeof(*c));
        if (!c)
                return berr_set(err, BERR_INTERNAL, ENOMEM, "out of memory");
        c->last_cap = kernel_last_cap();
        json_t *caps = json_object_get(process, "capabilities");
        c->present = json_is_object(caps);

        /* What we can hand on: our permitted set, and the bounding set for bounding. */
        _cleanup_(cap_freep) cap_t self = cap_get_proc();
        uint64_t permitted = 0, bounding = 0;
        for (int i = 0; i <= c->last_cap; i++) {
                cap_flag_value_t v = CAP_CLEAR;
                if (self && cap_get_flag(self, (cap_value_t) i, CAP_PERMITTED, &v) == 0 && v == CAP_SET)
                        permitted |= UINT64_C(1) << i;
                if (cap_get_bound((cap_value_t) i) == 1)
                        bounding |= UINT64_C(1) << i;
        }
        for (int s = 0; s < _SET_MAX; s++) {
                json_t *list = json_object_get(caps, set_names[s]);
                size_t i;
                json_t *v;
                json_array_foreach(list, i, v) {
                        const char *name = json_string_value(v);
                        int n = name ? caps_from_name(name) : -1;
                        if (n < 0) {
                                rt_caps_free(c);
                                return berr_set(err, BERR_INVALID, EINVAL, "unknown capability \"%s\"", name ? name : "");
                        }
                        if (n > c->last_cap)
                                continue; /* newer than this kernel: it cannot be granted anyway */
                        c->set[s] |= UINT64_C(1) << n;
                }
                c->set[s] &= s == SET_BOUNDING ? bounding : permitted;
        }
        /* Ambient needs permitted and inheritable; the kernel refuses the rest. */
        c->set[SET_AMBIENT] &= c->set[SET_PERMITTED] & c->set[SET_INHERITABLE];
        *ret = c;
        return 0;
}

void rt_caps_drop(struct rt_caps *c, int cap) {
        if (!c || cap < 0 || cap > 63)
                return;
        for (int i = 0; i < _SET_MAX; i++)
                c->set[i] &= ~(UINT64_C(1) << cap);
}

struct rt_caps *rt_caps_free(struct rt_caps *c) {
        free(c);
        return NULL;
}

int rt_caps_apply_bounding(const struct rt_caps *c, struct berr *err) {
        if (!c->present)
                return 0;
        for (int i = 0; i <= c->last_cap; i++) {
                if (c->set[SET_BOUNDING] & (UINT64_C(1) << i))
                        continue;
                if (cap_get_bound((cap_value_t) i) != 1)
                        continue;
                if (cap_drop_bound((cap_value_t) i) < 0)
                        return berr_sys(err, BERR_INTERNAL, "drop %s from the bounding set", caps_to_name(i) ? caps_to_name(i) : "capability");
        }
        return 0;
}

int rt_caps_apply(const struct rt_caps *c, int keep, struct berr *err) {
        if (!c->present)
                return 0;
        _cleanup_(cap_freep) cap_t t = cap_init();
        if (!t)
                return berr_sys(err, BERR_INTERNAL, "cap_init");
        static const struct {
                int set;
                cap_flag_t flag;
        } map[] = { { SET_EFFECTIVE, CAP_EFFECTIVE }, { SET_PERMITTED, CAP_PERMITTED }, { SET_INHERITABLE, CAP_INHERITABLE } };
        for (size_t m = 0; m < ELEMENTSOF(map); m++) {
                uint64_t bits = c->set[map[m].set];
                if (keep >= 0 && map[m].flag != CAP_INHERITABLE)
                        bits |= UINT64_C(1) << keep;
                for (int i = 0; i <= c->last_cap; i++) {
                        if (!(bits & (UINT64_C(1) << i)))
                                continue;
                        cap_value_t v = (cap_value_t) i;
                        if (cap_set_flag(t, map[m].flag, 1, &v, CAP_SET) < 0)
                                return berr_sys(err, BERR_INTERNAL, "cap_set_flag");
                }
        }
        if (cap_set_proc(t) < 0)
                return berr_sys(err, BERR_INTERNAL, "apply capabilities");
        return 0;
}

int rt_caps_apply_ambient(const struct rt_caps *c, struct berr *err) {
        if (!c->present || !c->set[SET_AMBIENT])
                return 0;
        for (int i = 0; i <= c->last_cap; i++) {
                if (!(c->set[SET_AMBIENT] & (UINT64_C(1) << i)))
                        continue;
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long) i, 0L, 0L) < 0)
                        return berr_sys(err, BERR_INTERNAL, "raise ambient %s", caps_to_name(i) ? caps_to_name(i) : "capability");
        }
        return 0;
}
