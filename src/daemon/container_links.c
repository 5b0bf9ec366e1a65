/* container_links.c - legacy links (--link name[:alias]): the /etc/hosts entries and
 * environment variables a container gets from the containers it links to, and `docker rm
 * --link` (split from container_network.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/json.h"
#include "container.h"
#include "container_net_int.h"
#include "daemon.h"

/* ---- legacy links (--link name[:alias]) ---- */

/* "NAME" -> "NAME_" upper-cased, '-' and '.' as '_', for the variables dockerd gives. */
static void env_prefix(const char *alias, char *out, size_t size) {
        size_t n = 0;
        for (const char *p = alias; *p && n + 1 < size; p++)
                out[n++] = (*p == '-' || *p == '.') ? '_' : (char) toupper((unsigned char) *p);
        out[n] = '\0';
}

/* The alias of a link spec: "name:alias", "/name:/me/alias", or "name" (its own name). */
static void link_alias(const char *spec, char *out, size_t size) {
        const char *colon = strchr(spec, ':');
        const char *a = colon ? colon + 1 : spec;
        const char *slash = strrchr(a, '/');
        if (colon)
                snprintf(out, size, "%s", slash ? slash + 1 : a);
        else
                snprintf(out, size, "%s", a[0] == '/' ? a + 1 : a);
}

int ctr_remove_link(struct daemon *d, const char *ref, struct berr *err) {
        char name[512];
        if (!ref || !*ref || strlen(ref) >= sizeof(name) - 1)
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "No such container: %s", ref ? ref : "");
        snprintf(name, sizeof(name), "%s%s", ref[0] == '/' ? "" : "/", ref);
        char *slash = strrchr(name, '/');
        struct container *c = NULL;
        if (slash == name) { /* "/db": a container's own name, which is no link */
                int r = ctr_lookup(d, name + 1, &c, err);
                if (r < 0)
                        return r;
                ctr_unref(d, c);
                return berr_set(err, BERR_INTERNAL, EINVAL, "Conflict, cannot remove the default link name of the container");
        }
        *slash = '\0'; /* name + 1: the parent; slash + 1: the alias */
        struct berr ignored = { 0 };
        if (ctr_lookup(d, name + 1, &c, &ignored) < 0) /* no parent: no such link name either */
                return berr_set(err, BERR_NOT_FOUND, ENOENT, "No such container: %s", ref);
        pthread_mutex_lock(&c->lock);
        struct strv *links = &c->cc->hc.links;
        size_t i = 0;
        for (; i < links->n; i++) {
                char alias[256];
                link_alias(links->v[i], alias, sizeof(alias));
                if (strcmp(alias, slash + 1) == 0)
                        break;
        }
        int r = 0;
        if (i == links->n)
                r = berr_set(err, BERR_NOT_FOUND, ENOENT, "No such container: %s", ref);
        else {
                char *gone = links->v[i];
                memmove(&links->v[i], &links->v[i + 1], (links->n - i - 1) * sizeof(char *));
                links->n--;
                bool was_set = links->set;
                links->set = links->n > 0; /* inspect shows null for no links, as dockerd */
                /* A running parent keeps its /etc/hosts entry and variables (as with
                 * dockerd); its next start has no link. */
                r = ctr_save(d, c, err);
                if (r < 0) { /* nothing changed */
                        memmove(&links->v[i + 1], &links->v[i], (links->n - i) * sizeof(char *));
                        links->v[i] = gone;
                        links->n++;
                        links->set = was_set;
                } else
                        free(gone);
        }
        pthread_mutex_unlock(&c->lock);
        ctr_unref(d, c);
        return r;
}

int ctr_net_links(struct daemon *d, struct container *c, json_t **ret_env, json_t **ret_hosts, struct berr *err) {
        json_t *env = json_array(), *hosts = json_array();
        for (size_t li = 0; li < c->cc->hc.links.n; li++) {
                const char *spec = c->cc->hc.links.v[li];
                if (!*spec)
                        continue;
                /* "name:alias", or the API's "/name:/me/alias" */
                char name[256], alias[256];
                const char *colon = strchr(spec, ':');
                snprintf(name, sizeof(name), "%.*s", colon ? (int) (colon - spec) : (int) strlen(spec), spec);
                const char *a = colon ? colon + 1 : name;
                const char *slash = strrchr(a, '/');
                snprintf(alias, sizeof(alias), "%s", slash ? slash + 1 : a);
                const char *nm = name[0] == '/' ? name + 1 : name;
                struct container *o = NULL;
                int r = ctr_lookup(d, nm, &o, err);
                if (r < 0) {
                        json_decref(env);
                        json_decref(hosts);
                        return berr_set(err, BERR_INVALID, ENOENT, "could not get container for %s", nm);
                }
                pthread_mutex_lock(&o->lock);
                bool running = ctr_state_shown(o) == CTR_RUNNING || ctr_state_shown(o) == CTR_PAUSED;
                char ip[16] = "";
                json_t *ep = json_object_get(o->networks, "bridge");
                if (!ep) { /* a user network: the first it shares with this container */
                        const char *k;
                        json_t *v;
                        json_object_foreach(o->networks, k, v) if (!ep && json_object_get(c->networks, k)) ep = v;
                }
                snprintf(ip, sizeof(ip), "%s", json_string_value(json_object_get(ep, "IPAddress")) ?: "");
                char oname[256], oid[13];
                snprintf(oname, sizeof(oname), "%s", o->name + 1);
                snprintf(oid, sizeof(oid), "%.12s", o->id);
                json_t *oenv = strv_to_json(&o->cc->cfg.env);
                json_t *exposed = json_object(); /* the keys matter, as in Config.ExposedPorts */
                for (size_t x = 0; exposed && x < o->cc->cfg.exposed_ports.n; x++)
                        json_object_set_new(exposed, o->cc->cfg.exposed_ports.v[x], json_object());
                pthread_mutex_unlock(&o->lock);
                ctr_unref(d, o);
                if (!running || !ip[0]) {
                        json_decref(oenv);
                        json_decref(exposed);
                        json_decref(env);
                        json_decref(hosts);
                        return berr_set(err, BERR_CONFLICT, EINVAL, "Cannot link to a non running container: /%s AS %s/%s",
                                        oname, c->name, alias);
                }
                json_array_append_new(hosts, json_sprintf("%s\t%s %s %s", ip, alias, oid, oname));
                char pre[256];
                env_prefix(alias, pre, sizeof(pre));
                json_array_append_new(env, json_sprintf("%s_NAME=%s/%s", pre, c->name, alias));
                /* Ports, lowest first, as dockerd sorts them. */
                uint32_t keys[256];
                size_t nk = 0;
                const char *k;
                json_t *v;
                json_object_foreach(exposed, k, v) {
                        uint16_t port;
                        uint8_t proto;
                        if (nk < ELEMENTSOF(keys) && ctr_net_parse_port_key(k, &port, &proto) == 0)
                                keys[nk++] = (uint32_t) port << 8 | proto;
                }
                for (size_t x = 1; x < nk; x++)
                        for (size_t y = x; y > 0 && keys[y - 1] > keys[y]; y--) {
                                uint32_t t = keys[y];
                                keys[y] = keys[y - 1];
                                keys[y - 1] = t;
                        }
                for (size_t x = 0; x < nk; x++) {
                        unsigned port = keys[x] >> 8;
                        const char *proto = proto_str((uint8_t) (keys[x] & 0xff));
                        char up[8];
                        snprintf(up, sizeof(up), "%s", proto);
                        for (char *p = up; *p; p++)
                                *p = (char) toupper((unsigned char) *p);
                        if (x == 0)
                                json_array_append_new(env, json_sprintf("%s_PORT=%s://%s:%u", pre, proto, ip, port));
                        json_array_append_new(env, json_sprintf("%s_PORT_%u_%s=%s://%s:%u", pre, port, up, proto, ip, port));
                        json_array_append_new(env, json_sprintf("%s_PORT_%u_%s_ADDR=%s", pre, port, up, ip));
                        json_array_append_new(env, json_sprintf("%s_PORT_%u_%s_PORT=%u", pre, port, up, port));
                        json_array_append_new(env, json_sprintf("%s_PORT_%u_%s_PROTO=%s", pre, port, up, proto));
                }
                size_t ei;
                json_array_foreach(oenv, ei, v) {
                        const char *e = json_string_value(v);
                        const char *eq = e ? strchr(e, '=') : NULL;
                        if (!eq || (eq - e == 4 && strncmp(e, "HOME", 4) == 0) || (eq - e == 4 && strncmp(e, "PATH", 4) == 0))
                                continue;
                        json_array_append_new(env, json_sprintf("%s_ENV_%s", pre, e));
                }
                json_decref(oenv);
                json_decref(exposed);
        }
        *ret_env = env;
        *ret_hosts = hosts;
        return 0;
}
