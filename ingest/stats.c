/*  stats: see stats.h. */
#include "stats.h"

#include <inttypes.h>
#include <stdio.h>

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
