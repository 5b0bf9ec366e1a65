/* metrics.c - the API request counters of --metrics-addr. */
#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_SERIES 512

static const double buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60 };
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct series {
        const char *method, *route;
        unsigned status;
        unsigned long long count;
        double sum;
        unsigned long long le[N_BUCKETS];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct series table[MAX_SERIES];
static size_t n_series;
static unsigned long long dropped;

void metrics_http_observe(const char *method, const char *route, unsigned status, double seconds) {
        if (!method)
                return;
        if (!route)
                route = "unmatched";
        pthread_mutex_lock(&lock);
        struct series *s = NULL;
        for (size_t i = 0; i < n_series && !s; i++)
                if (table[i].status == status && strcmp(table[i].route, route) == 0 && strcmp(table[i].method, method) == 0)
                        s = &table[i];
        if (!s && n_series < MAX_SERIES) {
                s = &table[n_series++];
                s->method = strcmp(method, "GET") == 0 ? "GET" : strcmp(method, "POST") == 0 ? "POST"
                                                       : strcmp(method, "DELETE") == 0 ? "DELETE"
                                                       : strcmp(method, "HEAD") == 0 ? "HEAD"
                                                       : strcmp(method, "PUT") == 0 ? "PUT" : "OTHER";
                s->route = route;
                s->status = status;
        }
        if (s) {
                s->count++;
                s->sum += seconds;
                for (size_t b = 0; b < N_BUCKETS; b++)
                        if (seconds <= buckets[b])
                                s->le[b]++;
        } else
                dropped++;
        pthread_mutex_unlock(&lock);
}

/* ---- events by type and action ---- */

#define MAX_EVENT_SERIES 256

static struct {
        char type[16], action[32];
        unsigned long long count;
} ev_table[MAX_EVENT_SERIES];
static size_t n_ev;

void metrics_event_observe(const char *type, const char *action) {
        if (!type || !action)
                return;
        char t[16], a[32];
        snprintf(t, sizeof(t), "%s", type);
        snprintf(a, sizeof(a), "%.*s", (int) strcspn(action, ":"), action);
        pthread_mutex_lock(&lock);
        size_t i;
        for (i = 0; i < n_ev; i++)
                if (strcmp(ev_table[i].type, t) == 0 && strcmp(ev_table[i].action, a) == 0)
                        break;
        if (i == n_ev && n_ev < MAX_EVENT_SERIES) {
                memcpy(ev_table[i].type, t, sizeof(t));
                memcpy(ev_table[i].action, a, sizeof(a));
                n_ev++;
        }
        if (i < n_ev)
                ev_table[i].count++;
        pthread_mutex_unlock(&lock);
}

void metrics_events_write(FILE *f) {
        pthread_mutex_lock(&lock);
        fputs("# HELP berth_events_by_action_total Events emitted, by object type and action (container actions, "
              "image pulls and pushes, ...).\n# TYPE berth_events_by_action_total counter\n", f);
        for (size_t i = 0; i < n_ev; i++) {
                fputs("berth_events_by_action_total{type=\"", f);
                metrics_write_label(f, ev_table[i].type);
                fputs("\",action=\"", f);
                metrics_write_label(f, ev_table[i].action);
                fprintf(f, "\"} %llu\n", ev_table[i].count);
        }
        pthread_mutex_unlock(&lock);
}

void metrics_write_label(FILE *f, const char *v) {
        for (; v && *v; v++) {
                if (*v == '\\' || *v == '"')
                        fputc('\\', f);
                if (*v == '\n') {
                        fputs("\\n", f);
                        continue;
                }
                fputc(*v, f);
        }
}

static void labels(FILE *f, const struct series *s) {
        fprintf(f, "method=\"%s\",route=\"", s->method);
        metrics_write_label(f, s->route);
        fprintf(f, "\",code=\"%u\"", s->status);
}

void metrics_http_write(FILE *f) {
        pthread_mutex_lock(&lock);
        fputs("# HELP berth_http_requests_total API requests served, by method, route and status.\n"
              "# TYPE berth_http_requests_total counter\n", f);
        for (size_t i = 0; i < n_series; i++) {
                fputs("berth_http_requests_total{", f);
                labels(f, &table[i]);
                fprintf(f, "} %llu\n", table[i].count);
        }
        fputs("# HELP berth_http_request_duration_seconds Time to serve an API request, by method, route and status.\n"
              "# TYPE berth_http_request_duration_seconds histogram\n", f);
        for (size_t i = 0; i < n_series; i++) {
                for (size_t b = 0; b < N_BUCKETS; b++) {
                        fputs("berth_http_request_duration_seconds_bucket{", f);
                        labels(f, &table[i]);
                        fprintf(f, ",le=\"%g\"} %llu\n", buckets[b], table[i].le[b]);
                }
                fputs("berth_http_request_duration_seconds_bucket{", f);
                labels(f, &table[i]);
                fprintf(f, ",le=\"+Inf\"} %llu\n", table[i].count);
                fputs("berth_http_request_duration_seconds_sum{", f);
                labels(f, &table[i]);
                fprintf(f, "} %.9f\n", table[i].sum);
                fputs("berth_http_request_duration_seconds_count{", f);
                labels(f, &table[i]);
                fprintf(f, "} %llu\n", table[i].count);
        }
        fprintf(f, "# HELP berth_http_requests_unrecorded_total API requests past the series limit.\n"
                   "# TYPE berth_http_requests_unrecorded_total counter\nberth_http_requests_unrecorded_total %llu\n",
                dropped);
        pthread_mutex_unlock(&lock);
}
