/*  stats: the ingest's counters, shared by its threads, answered at
    GET /api/stats (with the maintenance key) and reported to the router
    about once a second (IngestStats, ARCHITECTURE section 3), which
    exports them as Prometheus metrics. Each answer is counted once,
    by status, when it is queued; a track request answered 200 also counts
    its events. Relaxed atomics: each counter is exact, the set is not one
    snapshot (a reader may see a request's answer counted before its events). */
#ifndef HM_INGEST_STATS_H
#define HM_INGEST_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "refusal.h"

/* One slot per status the ingest answers (200, 204, 400, 401, 404, 405,
   413, 415, 503; the JSON lists them in that order) and one, "other", for
   any else. */
#define HM_STATS_SLOTS 10
/* Slow connections closed by the police (police.h): head deadline, body
   rate, linger deadline, table full; the JSON's "closed_slow". */
#define HM_STATS_CLOSED 4

/* The request latency histogram (head whole to answer queued): upper
   bounds in microseconds, 0.1 ms to 10 s, and one bucket past the last. */
#define HM_STATS_LATENCY_BOUNDS 16
extern const uint64_t hm_ingest_latency_bounds_us[HM_STATS_LATENCY_BOUNDS];

typedef struct {
    atomic_uint_fast64_t answers[HM_STATS_SLOTS];              /* answers by status slot */
    atomic_uint_fast64_t latency[HM_STATS_LATENCY_BOUNDS + 1]; /* answers by latency bucket */
    atomic_uint_fast64_t latency_sum_us;                       /* their latencies, summed */
    atomic_uint_fast64_t connections;                          /* client connections open now */
    atomic_uint_fast64_t refusals[HM_REFUSAL_KINDS];           /* refused requests by cause */
    atomic_uint_fast64_t track_accepted;                       /* POST /api/v1/track answered 200 */
    atomic_uint_fast64_t events_accepted;                      /* events in those */
    atomic_uint_fast64_t closed[HM_STATS_CLOSED]; /* slow connections closed, by police.h's why */
    int64_t started_ms;                           /* monotonic ms at start */
} hm_ingest_stats_t;

/* Zeroes the counters; uptime counts from now_ms (monotonic, hm_now_ms). */
void hm_ingest_stats_init (hm_ingest_stats_t *self, int64_t now_ms);
/* One answer with this status; track_ok: it answers a track request with
   200, and its events count as accepted too. */
void hm_ingest_stats_count (hm_ingest_stats_t *self, unsigned status, int track_ok,
                            uint64_t events);
/* One answer's latency (from the request's head to its answer). */
void hm_ingest_stats_latency (hm_ingest_stats_t *self, uint64_t us);
/* One request refused for this cause (HM_REFUSAL_NONE: not counted). */
void hm_ingest_stats_refused (hm_ingest_stats_t *self, hm_refusal_t why);
/* A client connection opened (+1) or closed (-1). */
void hm_ingest_stats_connection (hm_ingest_stats_t *self, int delta);
/* The counters as a packed IngestStats (proto/pipeline.proto) named name,
   with the process's last warnings or errors (common/log_lines.h: at most
   2 of 240 bytes), into out; returns its length, or 0 if cap is too small
   (HM_STATS_REPORT_MAX is always enough). */
#define HM_STATS_REPORT_MAX 4096
size_t hm_ingest_stats_report (hm_ingest_stats_t *self, const char *name, int64_t now_ms,
                               uint8_t *out, size_t cap);
/* One connection closed by the police; why: hm_police_why_t. */
void hm_ingest_stats_closed (hm_ingest_stats_t *self, int why);
/* The counters as one JSON object, NUL-terminated; returns its length, or
   0 if cap is too small (HM_STATS_JSON_MAX is always enough). */
#define HM_STATS_JSON_MAX 1024
size_t hm_ingest_stats_json (hm_ingest_stats_t *self, int64_t now_ms, char *out, size_t cap);

#endif
