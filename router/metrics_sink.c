/*  metrics_sink: the per sink instance block of the router's Prometheus
    text: what each instance reported with its last message (SinkStats),
    plus the router's own count of the batches it has in flight there.
    Labelled route, sink and sink_instance="ROUTE:N" (its --route NAME:N;
    not "instance", which Prometheus sets to the scrape target). A series a
    sink did not send (an older sink: no attempts, reasons or histogram) is
    left out rather than shown as 0. Runs on the loop, like metrics_text. */
#include "server_priv.h"

#include "hm_buf.h"
#include "prom.h"
#include "sink_stats.h"

#include <stdio.h>
#include <stdlib.h>

#define S_HIST "hamustro_sink_backend_request_seconds"

typedef struct {
    const hm_route_config_t *rc; /* the instance's route */
    dispatch_sink_stats_t st;    /* its report */
    char labels[512]; /* route="..",sink="..",sink_instance="..": names are <= 64 bytes */
} s_inst_t;

/* Every reporting instance of every route, at most max. */
static size_t
s_collect (server_t *self, size_t nroutes, s_inst_t *all, size_t max)
{
    dispatch_sink_stats_t st[DISPATCH_MAX_INSTANCES];
    hm_buf_t lb;
    hm_buf_init (&lb, 0);
    size_t n = 0;
    for (size_t r = 0; r < nroutes; r++) {
        const hm_route_config_t *rc = route_config (self->routes[r]);
        size_t k = dispatch_sink_stats (self->disp[r], st, DISPATCH_MAX_INSTANCES);
        for (size_t j = 0; j < k && n < max; j++) {
            char inst[96];
            snprintf (inst, sizeof inst, "%s:%u", rc->name, st[j].instance);
            hm_buf_reset (&lb);
            hm_prom_label (&lb, "route", rc->name);
            hm_prom_label (&lb, "sink", rc->sink);
            hm_prom_label (&lb, "sink_instance", inst);
            all[n].rc = rc;
            all[n].st = st[j];
            snprintf (all[n].labels, sizeof all[n].labels, "%s", lb.data ? lb.data : "");
            n++;
        }
    }
    hm_buf_free (&lb);
    return n;
}

/* The counters and gauges every sink sends, one family at a time. */
static void
s_plain (hm_buf_t *out, const s_inst_t *all, size_t n)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"hamustro_sink_batches_total", "counter", "Batches the sink instance stored."},
        {"hamustro_sink_events_total", "counter", "Events in the batches it stored."},
        {"hamustro_sink_retries_total", "counter", "Failed attempts it retried."},
        {"hamustro_sink_dead_lettered_total", "counter",
         "Events it wrote to the route's dead-letter file."},
        {"hamustro_sink_batches_held", "gauge",
         "Batches the instance holds now (its own count, batches kept over a reconnect "
         "included)."},
        {"hamustro_sink_batches_in_flight", "gauge",
         "Batches the router sent to the instance and has no answer for (the router's count)."},
        {"hamustro_sink_last_success_timestamp_seconds", "gauge",
         "When it last stored a batch (epoch seconds; 0: never)."},
    };
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        hm_prom_family (out, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < n; i++) {
            const dispatch_sink_stats_t *s = &all[i].st;
            uint64_t v[] = {s->batches, s->events,   s->retries,     s->dead_lettered,
                            s->held,    s->inflight, s->last_success};
            hm_prom_u64 (out, fam[f].name, all[i].labels, v[f]);
        }
    }
}

/* Attempts, retries by reason class, and the attempts' latency histogram:
   newer sinks only. */
static void
s_requests (hm_buf_t *out, const s_inst_t *all, size_t n)
{
    hm_prom_family (out, "hamustro_sink_attempts_total", "counter",
                    "Attempts at storing a batch: backend requests (file sink: writing a "
                    "batch's file), successful or not.");
    for (size_t i = 0; i < n; i++)
        if (all[i].st.has_attempts)
            hm_prom_u64 (out, "hamustro_sink_attempts_total", all[i].labels, all[i].st.attempts);

    hm_prom_family (out, "hamustro_sink_retries_by_reason_total", "counter",
                    "Failed attempts it retried, by reason class (connect, timeout, throttled, "
                    "auth, http_4xx, http_5xx, io, other).");
    for (size_t i = 0; i < n; i++) {
        if (!all[i].st.has_by_reason)
            continue;
        for (size_t c = 0; c < HM_RETRY_CLASSES; c++)
            hm_prom_u64_by (out, "hamustro_sink_retries_by_reason_total", all[i].labels, "reason",
                            hm_retry_class_name ((hm_retry_class_t)c), all[i].st.retries_by[c]);
    }

    hm_prom_family (out, S_HIST, "histogram",
                    "Duration of its attempts at storing a batch (backend requests; file sink: "
                    "encode, write, fsync and rename a batch's file).");
    for (size_t i = 0; i < n; i++)
        if (all[i].st.has_requests)
            hm_prom_histogram (out, S_HIST, all[i].labels, hm_request_bounds, HM_REQUEST_BOUNDS,
                               all[i].st.request_buckets, all[i].st.request_seconds);
}

void
server_metrics_sinks (server_t *self, hm_buf_t *out, size_t nroutes)
{
    /* One entry per live instance (those that reported are among them),
       on the heap: under a kilobyte each. */
    size_t max = 0;
    for (size_t r = 0; r < nroutes; r++)
        max += dispatch_instance_count (self->disp[r]);
    s_inst_t *all = max ? calloc (max, sizeof *all) : NULL;
    if (!all)
        return; /* out of memory: this scrape goes without the sink block */
    size_t n = s_collect (self, nroutes, all, max);
    s_plain (out, all, n);
    s_requests (out, all, n);
    free (all);
}
