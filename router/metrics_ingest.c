/*  metrics_ingest: the ingests' counters as Prometheus text, from the last
    report of each (ingests.h). Every series is labelled
    ingest_instance="NAME" (ingest.name; not "instance", which Prometheus
    sets to the scrape target). Names follow the ingest's GET /api/stats
    (ARCHITECTURE section 2) in Prometheus's units. */
#include "ingests.h"

#include "prom.h"
#include "refusal.h"

#include <stdio.h>

#include "ingests_priv.h"

typedef uint64_t (*s_field_fn) (const Hm__IngestStats *st);

static uint64_t
s_track (const Hm__IngestStats *st)
{
    return st->track_accepted;
}

static uint64_t
s_events (const Hm__IngestStats *st)
{
    return st->events_accepted;
}

static uint64_t
s_connections (const Hm__IngestStats *st)
{
    return st->connections;
}

static uint64_t
s_uptime (const Hm__IngestStats *st)
{
    return st->uptime_ms / 1000;
}

/* label set: ingest_instance="NAME"; lb.data is it. */
static void
s_labels (hm_buf_t *lb, const Hm__IngestStats *st)
{
    hm_buf_reset (lb);
    hm_prom_label (lb, "ingest_instance", st->name);
}

void
ingests_metrics_text (ingests_t *self, hm_buf_t *out, uint64_t now)
{
    static const struct {
        const char *name, *type, *help;
        s_field_fn get;
    } plain[] = {
        {"hamustro_ingest_accepted_requests_total", "counter",
         "Track requests answered 200 (their events are durable in the router's log).", s_track},
        {"hamustro_ingest_accepted_events_total", "counter",
         "Events in the track requests answered 200.", s_events},
        {"hamustro_ingest_connections", "gauge", "Client connections open.", s_connections},
        {"hamustro_ingest_uptime_seconds", "gauge", "Seconds since the ingest started.", s_uptime},
    };
    ingests_expire (self, now);
    hm_buf_t lb;
    hm_buf_init (&lb, 0);
    const char *name = "hamustro_ingest_responses_total";
    hm_prom_family (out, name, "counter",
                    "Answers by HTTP status code (\"other\": a code the ingest does not count "
                    "on its own).");
    for (size_t i = 0; i < self->count; i++) {
        const Hm__IngestStats *st = self->held[i].stats;
        s_labels (&lb, st);
        for (size_t a = 0; a < st->n_answers; a++) {
            char code[16];
            if (st->answers[a]->code)
                snprintf (code, sizeof code, "%u", st->answers[a]->code);
            else
                snprintf (code, sizeof code, "other");
            hm_prom_u64_by (out, name, lb.data, "code", code, st->answers[a]->count);
        }
    }
    for (size_t f = 0; f < sizeof plain / sizeof plain[0]; f++) {
        hm_prom_family (out, plain[f].name, plain[f].type, plain[f].help);
        for (size_t i = 0; i < self->count; i++) {
            s_labels (&lb, self->held[i].stats);
            hm_prom_u64 (out, plain[f].name, lb.data, plain[f].get (self->held[i].stats));
        }
    }
    /* The police's closes (ingest/police.h), by why. */
    name = "hamustro_ingest_closed_slow_total";
    hm_prom_family (out, name, "counter",
                    "Client connections closed as too slow: head past header_timeout, body "
                    "below body_min_rate, dropped body past linger_timeout, slowest while the "
                    "connection table was full.");
    for (size_t i = 0; i < self->count; i++) {
        const Hm__IngestStats *st = self->held[i].stats;
        const char *why[] = {"head", "body", "linger", "full"};
        uint64_t v[] = {st->closed_head, st->closed_body, st->closed_linger, st->closed_full};
        s_labels (&lb, st);
        for (size_t k = 0; k < 4; k++)
            hm_prom_u64_by (out, name, lb.data, "reason", why[k], v[k]);
    }
    /* Refusals by cause: only the causes this router knows (refusal.h). */
    name = "hamustro_ingest_refusals_total";
    hm_prom_family (out, name, "counter",
                    "Requests the ingest refused, by cause (the status code alone does not say "
                    "it: a 401 is a bad signature or a clock outside max_clock_skew_s, a 503 a "
                    "full or failed log, a slow or unreachable router, ...).");
    for (size_t i = 0; i < self->count; i++) {
        const Hm__IngestStats *st = self->held[i].stats;
        s_labels (&lb, st);
        for (size_t k = 0; k < st->n_refusals; k++)
            if (hm_refusal_by_name (st->refusals[k]->reason) != HM_REFUSAL_NONE)
                hm_prom_u64_by (out, name, lb.data, "reason", st->refusals[k]->reason,
                                st->refusals[k]->count);
    }
    /* The ingest's buckets are its own (validated by ingests.c); the
       report carries counts per bucket, the format wants them cumulative. */
    name = "hamustro_ingest_request_duration_seconds";
    hm_prom_family (out, name, "histogram",
                    "Time from a request's head to its answer (a track request waits for the "
                    "router's durable answer).");
    for (size_t i = 0; i < self->count; i++) {
        const Hm__IngestStats *st = self->held[i].stats;
        /* ingests.c checked: one count more than bounds, or neither. */
        static const uint64_t none[1] = {0};
        s_labels (&lb, st);
        hm_prom_histogram (out, name, lb.data, st->latency_bounds, st->n_latency_bounds,
                           st->n_latency_counts ? st->latency_counts : none, st->latency_sum);
    }
    hm_prom_family (out, "hamustro_router_ingests", "gauge",
                    "Ingests whose counters this router holds (reported within the last 10 s).");
    hm_prom_u64 (out, "hamustro_router_ingests", NULL, self->count);
    hm_prom_family (out, "hamustro_router_ingest_reports_total", "counter",
                    "Ingest counter reports kept.");
    hm_prom_u64 (out, "hamustro_router_ingest_reports_total", NULL, self->reports);
    hm_prom_family (out, "hamustro_router_ingest_reports_dropped_total", "counter",
                    "Ingest counter reports dropped because 64 other ingests were held.");
    hm_prom_u64 (out, "hamustro_router_ingest_reports_dropped_total", NULL, self->dropped);
    hm_buf_free (&lb);
}
