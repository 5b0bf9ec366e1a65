/* events.c - GET /events: the event bus as a stream of JSON lines, with since, until and
 * the type/event/container/image/label filters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "images_filters.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "daemon/daemon.h"
#include "daemon/events.h"

struct events_stream {
        struct events_sub *sub;
        int client_fd;
        json_t *filters;
        char *pending;
        size_t len, pos;
};

static bool any_matches(json_t *vals, const char *have) {
        if (!have)
                return false;
        if (json_is_object(vals))
                return json_is_true(json_object_get(vals, have));
        size_t i;
        json_t *v;
        json_array_foreach(vals, i, v) if (json_is_string(v) && strcmp(json_string_value(v), have) == 0) return true;
        return false;
}

static bool prefix_match(const char *f, const char *id, const char *name) {
        return f && ((id && strncmp(id, f, strlen(f)) == 0) || (name && strcmp(name, f) == 0));
}

/* @vals: ["a", "b"] or the CLI's {"a": true, "b": true}. */
static bool prefix_matches(json_t *vals, const char *id, const char *name) {
        if (json_is_object(vals)) {
                const char *k;
                json_t *v;
                json_object_foreach(vals, k, v) if (json_is_true(v) && prefix_match(k, id, name)) return true;
                return false;
        }
        size_t i;
        json_t *v;
        json_array_foreach(vals, i, v) if (prefix_match(json_string_value(v), id, name)) return true;
        return false;
}

static bool event_matches(json_t *filters, json_t *ev) {
        json_t *v;
        json_t *actor = json_object_get(ev, "Actor");
        json_t *attrs = json_object_get(actor, "Attributes");
        const char *type = json_string_value(json_object_get(ev, "Type"));
        const char *action = json_string_value(json_object_get(ev, "Action"));
        const char *id = json_string_value(json_object_get(actor, "ID"));
        if ((v = json_object_get(filters, "type")) && !any_matches(v, type))
                return false;
        if ((v = json_object_get(filters, "event")) && !any_matches(v, action))
                return false;
        if ((v = json_object_get(filters, "container")) &&
            (strcmp(type, "container") != 0 || !prefix_matches(v, id, json_string_value(json_object_get(attrs, "name")))))
                return false;
        if ((v = json_object_get(filters, "image")) &&
            !prefix_matches(v, strcmp(type, "image") == 0 ? id : NULL, json_string_value(json_object_get(attrs, "image"))))
                return false;
        if ((v = json_object_get(filters, "label"))) {
                size_t i;
                json_t *f;
                json_array_foreach(v, i, f) {
                        const char *s = json_string_value(f);
                        if (!s)
                                return false;
                        const char *eq = strchr(s, '=');
                        char key[256];
                        snprintf(key, sizeof(key), "%.*s", eq ? (int) (eq - s) : (int) strlen(s), s);
                        const char *have = json_string_value(json_object_get(attrs, key));
                        if (!have || (eq && strcmp(have, eq + 1) != 0))
                                return false;
                }
        }
        return true;
}

static ssize_t events_read(void *p, char *buf, size_t max) {
        struct events_stream *s = p;
        for (;;) {
                if (s->pending && s->pos < s->len) {
                        size_t n = s->len - s->pos < max ? s->len - s->pos : max;
                        memcpy(buf, s->pending + s->pos, n);
                        s->pos += n;
                        return (ssize_t) n;
                }
                free(s->pending);
                s->pending = NULL;
                bool timed_out;
                char *line = events_next(s->sub, 1000, &timed_out);
                if (!line && timed_out) {
                        if (api_fd_peer_closed(s->client_fd))
                                return -1; /* the client left: free this thread */
                        continue;
                }
                if (!line)
                        return 0;
                json_t *ev = json_loads(line, 0, NULL);
                bool keep = ev && event_matches(s->filters, ev);
                json_decref(ev);
                if (!keep) {
                        free(line);
                        continue;
                }
                s->len = strlen(line) + 1;
                s->pending = realloc(line, s->len + 1);
                s->pending[s->len - 1] = '\n';
                s->pos = 0;
        }
}

static void events_free(void *p) {
        struct events_stream *s = p;
        events_unsubscribe(s->sub);
        json_decref(s->filters);
        free(s->pending);
        free(s);
}

int api_system_events(struct api_request *req, struct berr *err) {
        int64_t since = 0, until = 0;
        const char *sv = api_query(req, "since"), *uv = api_query(req, "until");
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t now_ns = (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
        if (sv && *sv && api_parse_timestamp(sv, now_ns, &since, err) < 0)
                return berr_wrap(err, "invalid value for since");
        if (sv && *sv && since <= 0)
                since = 1; /* since the epoch: the whole history (0 means "only new") */
        if (uv && *uv && api_parse_timestamp(uv, now_ns, &until, err) < 0)
                return berr_wrap(err, "invalid value for until");
        json_t *filters = NULL;
        int r = api_query_filters(req, NULL, &filters, err);
        if (r < 0)
                return r;
        struct events_stream *s = calloc(1, sizeof(*s));
        if (!s || !(s->sub = events_subscribe(req->ctx, since, until))) {
                free(s);
                json_decref(filters);
                return berr_set(err, BERR_UNAVAILABLE, ENOMEM, "events are not available");
        }
        s->filters = filters;
        s->client_fd = api_client_fd(req);
        return api_reply_stream(req, 200, "application/json", events_read, events_free, s);
}
