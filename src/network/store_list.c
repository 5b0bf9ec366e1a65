/* store_list.c - networks as the API shows them: inspect's JSON, `network ls` and
 * its filters (prune's selection too) (split from store.c, which keeps the records;
 * create, remove and prune are store_create.c's, the endpoints store_ep.c's). */
#include "network.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/cleanup.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/id.h"
#include "common/json.h"
#include "common/log.h"
#include "firewall.h"
#include "fwwatch.h"
#include "ipam.h"
#include "netlink.h"
#include "sublink.h"
#include "store_int.h"

/* ---- listing ---- */

static json_t *containers_json(struct network *n) {
        json_t *o = json_object();
        for (size_t i = 0; i < n->n_eps; i++) {
                struct endpoint *e = &n->eps[i];
                char ip[16], mac[18], cidr[24], ip6[46], cidr6[52] = "";
                ipam_format_ip4(e->ep.ip, ip);
                snprintf(cidr, sizeof(cidr), "%s/%d", ip, e->ep.prefix);
                if (e->ep.has_ip6) {
                        ipam_format_ip6(e->ep.ip6, ip6);
                        snprintf(cidr6, sizeof(cidr6), "%s/%d", ip6, e->ep.prefix6);
                }
                net_format_mac(e->ep.mac, mac);
                static const uint8_t none[6];
                if (memcmp(e->ep.mac, none, 6) == 0) /* ipvlan: the parent's */
                        mac[0] = '\0';
                json_object_set_new(o, e->ctr_id,
                                    json_pack("{s:s, s:s, s:s, s:s, s:s}", "Name", e->ctr_name, "EndpointID",
                                              e->ep.endpoint_id, "MacAddress", mac, "IPv4Address", cidr, "IPv6Address", cidr6));
        }
        return o;
}

static json_t *network_json(struct network *n, bool with_containers) {
        json_t *o = json_deep_copy(n->rec);
        json_object_del(o, "BerthBridge");
        json_object_del(o, "BerthParent");
        json_object_del(o, "BerthCreatedParent");
        json_object_del(o, "BerthIpam");
        json_object_set_new(o, "Containers", with_containers ? containers_json(n) : json_object());
        return o;
}

int net_inspect(struct net_store *s, const char *ref, bool verbose, json_t **ret, struct berr *err) {
        (void) verbose; /* verbose adds swarm services only */
        pthread_mutex_lock(&s->lock);
        struct network *n = store_find_locked(s, ref);
        if (n)
                *ret = network_json(n, true);
        pthread_mutex_unlock(&s->lock);
        if (!n)
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "network %s not found", ref);
        return 0;
}

bool store_label_has(json_t *labels, const char *s) {
        const char *eq = strchr(s, '=');
        size_t klen = eq ? (size_t) (eq - s) : strlen(s);
        const char *k;
        json_t *v;
        json_object_foreach(labels, k, v) if (strlen(k) == klen && strncmp(k, s, klen) == 0)
                return !eq || (json_is_string(v) && strcmp(json_string_value(v), eq + 1) == 0);
        return false;
}

static bool any_of(json_t *vals, bool (*match)(const char *want, const void *have), const void *have) {
        if (json_array_size(vals) == 0)
                return true;
        size_t i;
        json_t *v;
        json_array_foreach(vals, i, v) if (json_is_string(v) && match(json_string_value(v), have)) return true;
        return false;
}

static bool m_substr(const char *want, const void *have) { return strstr(have, want) != NULL; }
static bool m_prefix(const char *want, const void *have) { return strncmp(have, want, strlen(want)) == 0; }
static bool m_exact(const char *want, const void *have) { return strcmp(have, want) == 0; }

bool store_net_matches(struct network *n, json_t *f, struct berr *err, int *bad) {
        if (!any_of(json_object_get(f, "name"), m_substr, n->info.name) ||
            !any_of(json_object_get(f, "id"), m_prefix, n->info.id) ||
            !any_of(json_object_get(f, "driver"), m_exact, n->info.driver) ||
            !any_of(json_object_get(f, "scope"), m_exact, "local"))
                return false;
        size_t i;
        json_t *v;
        json_t *labels = json_object_get(n->rec, "Labels");
        json_array_foreach(json_object_get(f, "label"), i, v) if (!store_label_has(labels, json_string_value(v) ?: "")) return false;
        json_array_foreach(json_object_get(f, "label!"), i, v) if (store_label_has(labels, json_string_value(v) ?: "")) return false;
        json_array_foreach(json_object_get(f, "type"), i, v) {
                const char *t = json_string_value(v) ?: "";
                if (strcmp(t, "custom") && strcmp(t, "builtin")) {
                        *bad = berr_set(err, BERR_INVALID, EINVAL, "invalid filter: 'type'='%s'", t);
                        return false;
                }
        }
        if (json_array_size(json_object_get(f, "type")) > 0 &&
            !any_of(json_object_get(f, "type"), m_exact, n->info.predefined ? "builtin" : "custom"))
                return false;
        json_t *dangling = json_array_get(json_object_get(f, "dangling"), 0);
        if (dangling) {
                const char *d = json_string_value(dangling) ?: "";
                bool want;
                if (!strcmp(d, "true") || !strcmp(d, "1"))
                        want = true;
                else if (!strcmp(d, "false") || !strcmp(d, "0"))
                        want = false;
                else {
                        *bad = berr_set(err, BERR_INVALID, EINVAL, "invalid filter: 'dangling'='%s'", d);
                        return false;
                }
                bool is_dangling = !n->info.predefined && n->n_eps == 0;
                if (want != is_dangling)
                        return false;
        }
        return true;
}

int net_list(struct net_store *s, json_t *filters, json_t **ret, struct berr *err) {
        json_t *out = json_array();
        int bad = 0;
        pthread_mutex_lock(&s->lock);
        for (struct network *n = s->nets; n && !bad; n = n->next)
                if (store_net_matches(n, filters, err, &bad))
                        json_array_append_new(out, network_json(n, false));
        pthread_mutex_unlock(&s->lock);
        if (bad) {
                json_decref(out);
                return bad;
        }
        *ret = out;
        return 0;
}
