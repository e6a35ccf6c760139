/*  ingests: the last counters each hamustro-ingest reported to this router
    (IngestStats, frame type HM/INGEST/1, on the append socket about once
    a second; ARCHITECTURE section 3), kept so the router's /metrics covers
    the ingests too: one scrape target per host. A report is the ingest's
    totals since it started, so only the last one per ingest is kept,
    keyed by its name (ingest.name, the ingest_instance label), not by
    ZeroMQ identity: an ingest that reconnects keeps its series.

    Bounds: at most INGESTS_MAX ingests at once; a report from one more is
    dropped and counted (its series are missing until another ingest goes
    silent). An ingest that sent nothing for INGESTS_SILENT_MS (stopped,
    disconnected, or a router it no longer reaches) is forgotten, so its
    series leave /metrics. A report that does not pass validation is
    refused whole, with the reason, never partly kept. */
#ifndef HM_ROUTER_INGESTS_H
#define HM_ROUTER_INGESTS_H

#include "hm_buf.h"
#include "hm_log.h"

#include <stddef.h>
#include <stdint.h>

#define INGESTS_MAX 64          /* ingests remembered at once */
#define INGESTS_SILENT_MS 10000 /* forgotten after this long without a report */
#define INGESTS_ANSWERS_MAX 16  /* status codes per report at most */
#define INGESTS_BUCKETS_MAX 32  /* latency histogram bounds per report at most */
#define INGESTS_REFUSALS_MAX 64 /* refusal causes per report at most */

typedef struct _ingests_t ingests_t;

ingests_t *ingests_new (void);
void ingests_destroy (ingests_t **self_p);

/* Takes one packed IngestStats received at now (monotonic ms). Returns 0
   kept, 1 dropped because INGESTS_MAX others are held (counted), or -1
   malformed with the reason in *why (the caller counts and logs it). */
int ingests_report (ingests_t *self, const void *data, size_t len, uint64_t now, const char **why);

/* Forgets the ingests silent for INGESTS_SILENT_MS by now. */
void ingests_expire (ingests_t *self, uint64_t now);

/* How many are held now, reports kept so far, reports dropped at the bound. */
size_t ingests_count (const ingests_t *self);
uint64_t ingests_reports (const ingests_t *self);
uint64_t ingests_dropped (const ingests_t *self);

/* The ingests held as a JSON array for the status JSON (hamustro-ctl
   status): per ingest its name, answers by code, accepted requests and
   events, connections open and how long ago it reported. */
void ingests_status_json (ingests_t *self, hm_buf_t *out, uint64_t now);

/* An ingest's last warnings or errors (IngestStats.recent_errors). */
typedef struct {
    char name[65];        /* its ingest.name (label rules: nothing to escape) */
    hm_log_entry_t entry; /* the line, its time on the router's clock */
} ingests_error_t;
/* The held ingests' recent errors, at most max (HM_LOG_LINES_SENT each);
   now: monotonic ms, wall_ms: the wall clock at now. Returns how many. */
size_t ingests_recent_errors (const ingests_t *self, uint64_t now, uint64_t wall_ms,
                              ingests_error_t *out, size_t max);

/* metrics_ingest.c: the hamustro_ingest_* families from the last report of
   each ingest held (expired ones forgotten first), labelled
   ingest_instance. */
void ingests_metrics_text (ingests_t *self, hm_buf_t *out, uint64_t now);

#endif
