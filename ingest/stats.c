/*  stats: see stats.h. */
#include "stats.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "log_lines.h"
#include "pipeline.pb-c.h"

const uint64_t hm_ingest_latency_bounds_us[HM_STATS_LATENCY_BOUNDS] = {
    100,   250,    500,    1000,   2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

static const unsigned s_statuses[] = {200, 204, 400, 401, 404, 405, 413, 415, 503};
#define S_KNOWN (sizeof s_statuses / sizeof s_statuses[0])
_Static_assert(S_KNOWN + 1 == HM_STATS_SLOTS, "one slot per status and one for the rest");

void
hm_ingest_stats_init (hm_ingest_stats_t *self, int64_t now_ms)
{
    for (size_t i = 0; i < HM_STATS_SLOTS; i++)
        atomic_init (&self->answers[i], 0);
    atomic_init (&self->track_accepted, 0);
    atomic_init (&self->events_accepted, 0);
    for (size_t i = 0; i < HM_STATS_CLOSED; i++)
        atomic_init (&self->closed[i], 0);
    for (size_t i = 0; i <= HM_STATS_LATENCY_BOUNDS; i++)
        atomic_init (&self->latency[i], 0);
    atomic_init (&self->latency_sum_us, 0);
    atomic_init (&self->connections, 0);
    for (size_t i = 0; i < HM_REFUSAL_KINDS; i++)
        atomic_init (&self->refusals[i], 0);
    self->started_ms = now_ms;
}

void
hm_ingest_stats_count (hm_ingest_stats_t *self, unsigned status, int track_ok, uint64_t events)
{
    size_t slot = 0;
    while (slot < S_KNOWN && s_statuses[slot] != status)
        slot++;
    atomic_fetch_add_explicit (&self->answers[slot], 1, memory_order_relaxed);
    if (track_ok) {
        atomic_fetch_add_explicit (&self->track_accepted, 1, memory_order_relaxed);
        atomic_fetch_add_explicit (&self->events_accepted, events, memory_order_relaxed);
    }
}

void
hm_ingest_stats_latency (hm_ingest_stats_t *self, uint64_t us)
{
    size_t b = 0;
    while (b < HM_STATS_LATENCY_BOUNDS && us > hm_ingest_latency_bounds_us[b])
        b++;
    atomic_fetch_add_explicit (&self->latency[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit (&self->latency_sum_us, us, memory_order_relaxed);
}

void
hm_ingest_stats_refused (hm_ingest_stats_t *self, hm_refusal_t why)
{
    if (why > HM_REFUSAL_NONE && why < HM_REFUSAL_KINDS)
        atomic_fetch_add_explicit (&self->refusals[why], 1, memory_order_relaxed);
}

void
hm_ingest_stats_connection (hm_ingest_stats_t *self, int delta)
{
    if (delta > 0)
        atomic_fetch_add_explicit (&self->connections, 1, memory_order_relaxed);
    else
        atomic_fetch_sub_explicit (&self->connections, 1, memory_order_relaxed);
}

static uint64_t
s_load (atomic_uint_fast64_t *v)
{
    return (uint64_t)atomic_load_explicit (v, memory_order_relaxed);
}

size_t
hm_ingest_stats_report (hm_ingest_stats_t *self, const char *name, int64_t now_ms, uint8_t *out,
                        size_t cap)
{
    Hm__IngestStats r = HM__INGEST_STATS__INIT;
    Hm__IngestAnswers answers[HM_STATS_SLOTS], *answer_p[HM_STATS_SLOTS];
    for (size_t i = 0; i < HM_STATS_SLOTS; i++) {
        hm__ingest_answers__init (&answers[i]);
        answers[i].has_code = answers[i].has_count = true;
        answers[i].code = i < S_KNOWN ? s_statuses[i] : 0; /* 0: any other */
        answers[i].count = s_load (&self->answers[i]);
        answer_p[i] = &answers[i];
    }
    Hm__IngestRefusals refusals[HM_REFUSAL_KINDS], *refusal_p[HM_REFUSAL_KINDS];
    size_t nref = 0;
    for (int i = HM_REFUSAL_NONE + 1; i < HM_REFUSAL_KINDS; i++, nref++) {
        hm__ingest_refusals__init (&refusals[nref]);
        refusals[nref].reason = (char *)hm_refusal_names[i];
        refusals[nref].has_count = true;
        refusals[nref].count = s_load (&self->refusals[i]);
        refusal_p[nref] = &refusals[nref];
    }
    r.n_refusals = nref;
    r.refusals = refusal_p;
    double bounds[HM_STATS_LATENCY_BOUNDS];
    uint64_t counts[HM_STATS_LATENCY_BOUNDS + 1];
    for (size_t i = 0; i < HM_STATS_LATENCY_BOUNDS; i++)
        bounds[i] = (double)hm_ingest_latency_bounds_us[i] / 1e6;
    for (size_t i = 0; i <= HM_STATS_LATENCY_BOUNDS; i++)
        counts[i] = s_load (&self->latency[i]);
    r.name = (char *)name;
    r.n_answers = HM_STATS_SLOTS;
    r.answers = answer_p;
    r.has_track_accepted = r.has_events_accepted = true;
    r.track_accepted = s_load (&self->track_accepted);
    r.events_accepted = s_load (&self->events_accepted);
    r.has_closed_head = r.has_closed_body = r.has_closed_linger = r.has_closed_full = true;
    r.closed_head = s_load (&self->closed[0]);
    r.closed_body = s_load (&self->closed[1]);
    r.closed_linger = s_load (&self->closed[2]);
    r.closed_full = s_load (&self->closed[3]);
    r.has_connections = true;
    r.connections = (uint32_t)s_load (&self->connections);
    r.n_latency_bounds = HM_STATS_LATENCY_BOUNDS;
    r.latency_bounds = bounds;
    r.n_latency_counts = HM_STATS_LATENCY_BOUNDS + 1;
    r.latency_counts = counts;
    r.has_latency_sum = true;
    r.latency_sum = (double)s_load (&self->latency_sum_us) / 1e6;
    /* The ingest's last warnings or errors, for `hamustro-ctl status`. */
    hm_log_entry_t recent[HM_LOG_LINES_SENT];
    Hm__LogLine lines[HM_LOG_LINES_SENT], *line_p[HM_LOG_LINES_SENT];
    r.n_recent_errors = hm_log_lines_fill (recent, lines, line_p, hm_log_lines_wall_ms ());
    r.recent_errors = line_p;
    r.has_uptime_ms = true;
    r.uptime_ms = now_ms > self->started_ms ? (uint64_t)now_ms - (uint64_t)self->started_ms : 0;
    if (hm__ingest_stats__get_packed_size (&r) > cap)
        return 0;
    return hm__ingest_stats__pack (&r, out);
}

void
hm_ingest_stats_closed (hm_ingest_stats_t *self, int why)
{
    if (why >= 0 && why < HM_STATS_CLOSED)
        atomic_fetch_add_explicit (&self->closed[why], 1, memory_order_relaxed);
}

size_t
hm_ingest_stats_json (hm_ingest_stats_t *self, int64_t now_ms, char *out, size_t cap)
{
    uint64_t answers[HM_STATS_SLOTS], total = 0;
    for (size_t i = 0; i < HM_STATS_SLOTS; i++) {
        answers[i] = atomic_load_explicit (&self->answers[i], memory_order_relaxed);
        total += answers[i];
    }
    /* Unsigned: the difference of any two int64 fits, without overflow. */
    uint64_t up =
        now_ms > self->started_ms ? ((uint64_t)now_ms - (uint64_t)self->started_ms) / 1000 : 0;
    size_t len = 0;
    int n = snprintf (out, cap, "{\"uptime_s\":%" PRIu64 ",\"requests\":%" PRIu64 ",\"answers\":{",
                      up, total);
    for (size_t i = 0; n >= 0 && (size_t)n < cap - len && i < HM_STATS_SLOTS; i++) {
        len += (size_t)n;
        if (i < S_KNOWN)
            n = snprintf (out + len, cap - len, "%s\"%u\":%" PRIu64, i ? "," : "", s_statuses[i],
                          answers[i]);
        else
            n = snprintf (out + len, cap - len, ",\"other\":%" PRIu64, answers[i]);
    }
    if (n < 0 || (size_t)n >= cap - len)
        return 0;
    len += (size_t)n;
    n = snprintf (out + len, cap - len,
                  "},\"track_accepted\":%" PRIu64 ",\"events_accepted\":%" PRIu64
                  ",\"closed_slow\":{\"head\":%" PRIu64 ",\"body\":%" PRIu64 ",\"linger\":%" PRIu64
                  ",\"full\":%" PRIu64 "}}",
                  (uint64_t)atomic_load_explicit (&self->track_accepted, memory_order_relaxed),
                  (uint64_t)atomic_load_explicit (&self->events_accepted, memory_order_relaxed),
                  (uint64_t)atomic_load_explicit (&self->closed[0], memory_order_relaxed),
                  (uint64_t)atomic_load_explicit (&self->closed[1], memory_order_relaxed),
                  (uint64_t)atomic_load_explicit (&self->closed[2], memory_order_relaxed),
                  (uint64_t)atomic_load_explicit (&self->closed[3], memory_order_relaxed));
    if (n < 0 || (size_t)n >= cap - len)
        return 0;
    return len + (size_t)n;
}
