/*  metrics_text: renders the router's counters, its log and every route
    as Prometheus text (metrics.h serves it). Runs on the loop, which owns
    all of this state, so nothing here needs a lock. */
#include "server_priv.h"

#include "hm_buf.h"
#include "prom.h"

#include <stdio.h>
#include <time.h>

/* One family with one unlabelled sample. */
static void
s_one (hm_buf_t *out, const char *name, const char *type, const char *help, uint64_t v)
{
    hm_prom_family (out, name, type, help);
    hm_prom_u64 (out, name, NULL, v);
}

#define S_ROUTE_MAX 64 /* = the config's bound on routes (HM_CONFIG_MAX_ROUTES) */

void
server_metrics_text (server_t *self, hm_buf_t *out)
{
    const s_counters_t *c = &self->c;
    uint64_t now = server_now_ms (), durable = rlog_durable_seq (self->log);
    hm_buf_t lb;
    hm_buf_init (&lb, 0);
    hm_prom_label (&lb, "version", HAMUSTRO_VERSION);
    hm_prom_family (out, "hamustro_router_info", "gauge", "The router's version (always 1).");
    hm_prom_u64 (out, "hamustro_router_info", lb.data, 1);
    s_one (out, "hamustro_router_uptime_seconds", "gauge", "Seconds since the router started.",
           (now - self->started_ms) / 1000);
    s_one (out, "hamustro_router_appends_total", "counter",
           "Records appended to the log (one per accepted request or inject message).",
           c->appended);
    s_one (out, "hamustro_router_events_total", "counter", "Events in the records appended.",
           c->events);
    s_one (out, "hamustro_router_injected_total", "counter",
           "Records appended that came through the inject socket.", c->injected);
    s_one (out, "hamustro_router_full_total", "counter",
           "Append requests answered FULL (the log is over max_log_bytes) or inject messages "
           "dropped for it.",
           c->full);
    s_one (out, "hamustro_router_errors_total", "counter", "Append requests answered ERROR.",
           c->errors);
    s_one (out, "hamustro_router_malformed_total", "counter",
           "Messages (appends, control requests) that failed validation.", c->malformed);
    s_one (out, "hamustro_router_write_errors_total", "counter", "Failed writes to the log.",
           c->write_errors);
    s_one (out, "hamustro_router_sync_errors_total", "counter", "Failed fdatasync calls.",
           c->sync_errors);
    s_one (out, "hamustro_router_group_commits_total", "counter",
           "Group-commit rounds written to the log.", c->rounds);
    s_one (out, "hamustro_router_fsyncs_total", "counter",
           "fdatasync calls on the log: the loop's (group commits, rolls, cut backs) and the "
           "sync thread's (the status JSON's fsyncs).",
           syncer_syncs (self->syncer) + rlog_syncs (self->log));
    /* Both kinds of group-commit sync: the loop's ("fsync" durability)
       and the sync thread's ("write" durability, rolls, shutdown). */
    sync_hist_t lat;
    syncer_latency (self->syncer, &lat);
    hm_prom_family (out, "hamustro_router_fdatasync_seconds", "histogram",
                    "Duration of the log's group-commit fdatasync calls.");
    uint64_t counts[SYNCER_BUCKETS + 1], in_bounds = 0;
    for (size_t i = 0; i < SYNCER_BUCKETS; i++) {
        counts[i] = lat.bucket[i] + self->round_syncs.bucket[i];
        in_bounds += counts[i];
    }
    /* count is every sync: those over the last bound are the rest. */
    counts[SYNCER_BUCKETS] = lat.count + self->round_syncs.count - in_bounds;
    hm_prom_histogram (out, "hamustro_router_fdatasync_seconds", NULL, syncer_bucket_s,
                       SYNCER_BUCKETS, counts, lat.sum_s + self->round_syncs.sum_s);
    s_one (out, "hamustro_router_tap_dropped_total", "counter",
           "Records the tap dropped because its bound was reached.", tap_dropped (self->tapq));
    s_one (out, "hamustro_router_tap_held_bytes", "gauge", "Bytes the tap holds for subscribers.",
           tap_held_bytes (self->tapq));
    s_one (out, "hamustro_router_curve_refused_total", "counter",
           "CurveZMQ connections refused (key not in allowed_clients).",
           hm_zap_refused (self->zap));
    s_one (out, "hamustro_router_pending_replies", "gauge",
           "Append replies waiting for the log to be durable.", self->pend_count);
    s_one (out, "hamustro_log_bytes", "gauge", "Bytes the log's segments use.",
           rlog_bytes (self->log));
    s_one (out, "hamustro_log_max_bytes", "gauge",
           "The log's bound (router.max_log_bytes); above it appends are answered FULL.",
           rlog_max_bytes (self->log));
    s_one (out, "hamustro_log_segments", "gauge", "Log segments on disk.",
           rlog_segment_count (self->log));
    s_one (out, "hamustro_log_segments_deleted_total", "counter",
           "Log segments deleted behind every route (or handed to the deleting thread).",
           c->deleted);
    s_one (out, "hamustro_log_segment_delete_errors_total", "counter",
           "Delivered log segments the deleting thread could not unlink; they stay until the "
           "router's next start.",
           rlog_reap_failures (self->log));
    s_one (out, "hamustro_log_full", "gauge", "1 while the log is over its bound.", self->full);
    s_one (out, "hamustro_log_failed", "gauge",
           "1 while the log is failed (appends refused until it is cut back).", self->log_failed);
    s_one (out, "hamustro_log_failures_total", "counter",
           "Times the log failed (a sync, a roll's sync, a cut back).", c->log_failures);
    s_one (out, "hamustro_log_refused_total", "counter",
           "Append requests answered ERROR while the log was failed.", c->refused);
    s_one (out, "hamustro_log_recover_errors_total", "counter",
           "Cut backs that failed while the log was failed.", c->recover_errors);
    s_one (out, "hamustro_log_damaged_total", "counter", "Damaged places found in the log.",
           rlog_damaged (self->log));
    s_one (out, "hamustro_log_damaged_records_total", "counter",
           "Records lost to damage found in the log.", rlog_damaged_records (self->log));
    s_one (out, "hamustro_log_first_seq", "gauge", "First record still in the log.",
           rlog_first_seq (self->log));
    s_one (out, "hamustro_log_durable_seq", "gauge", "Last record known durable.", durable);

    /* Per route: the label sets first, then one family at a time (the
       format wants a family's samples together). */
    size_t n = self->nroutes < S_ROUTE_MAX ? self->nroutes : S_ROUTE_MAX;
    hm_buf_t labels[S_ROUTE_MAX];
    route_stats_t st[S_ROUTE_MAX];
    dispatch_counters_t dc[S_ROUTE_MAX];
    uint64_t instances[S_ROUTE_MAX];
    for (size_t i = 0; i < n; i++) {
        const hm_route_config_t *rc = route_config (self->routes[i]);
        hm_buf_init (&labels[i], 0);
        hm_prom_label (&labels[i], "route", rc->name);
        hm_prom_label (&labels[i], "sink", rc->sink);
        route_stats (self->routes[i], &st[i]);
        dispatch_counters (self->disp[i], &dc[i]);
        instances[i] = dispatch_instance_count (self->disp[i]);
    }
#define S_ROUTE_FAMILY(name, type, help, expr)                                                     \
    do {                                                                                           \
        hm_prom_family (out, name, type, help);                                                    \
        for (size_t i = 0; i < n; i++)                                                             \
            hm_prom_u64 (out, name, labels[i].data, (expr));                                       \
    } while (0)
    S_ROUTE_FAMILY ("hamustro_route_events_in_total", "counter",
                    "Events the route read from the log.", st[i].events_in);
    S_ROUTE_FAMILY ("hamustro_route_events_accepted_total", "counter",
                    "Events the route kept (passed its filter) to deliver.", st[i].events_kept);
    S_ROUTE_FAMILY ("hamustro_route_events_acked_total", "counter",
                    "Events in batches the sink acknowledged (delivered or dead-lettered).",
                    st[i].events_acked);
    S_ROUTE_FAMILY ("hamustro_route_events_dead_lettered_total", "counter",
                    "Events the sink acknowledged as written to its dead-letter file.",
                    dc[i].dead_lettered);
    S_ROUTE_FAMILY (
        "hamustro_route_events_delivered_total", "counter",
        "Events the sink acknowledged as delivered (acked minus dead-lettered).",
        st[i].events_acked > dc[i].dead_lettered ? st[i].events_acked - dc[i].dead_lettered : 0);
    S_ROUTE_FAMILY ("hamustro_route_records_total", "counter", "Log records the route read.",
                    st[i].records);
    S_ROUTE_FAMILY ("hamustro_route_undecodable_total", "counter",
                    "Log records skipped because they did not decode.", st[i].undecodable);
    S_ROUTE_FAMILY ("hamustro_route_batches_sealed_total", "counter", "Batches sealed.",
                    st[i].sealed);
    S_ROUTE_FAMILY ("hamustro_route_batches_acked_total", "counter",
                    "Batches the sink acknowledged.", st[i].acked);
    S_ROUTE_FAMILY ("hamustro_route_batches_sent_total", "counter",
                    "Batches sent to a sink instance.", dc[i].delivered);
    S_ROUTE_FAMILY ("hamustro_route_redeliveries_total", "counter",
                    "Batches sent again (after a NACK or a dead instance).", dc[i].redelivered);
    S_ROUTE_FAMILY ("hamustro_route_nacks_total", "counter", "NACKs received from sinks.",
                    st[i].nacked);
    S_ROUTE_FAMILY ("hamustro_route_requeued_total", "counter",
                    "Batches taken back from dead sink instances.", st[i].requeued);
    S_ROUTE_FAMILY ("hamustro_route_sink_joined_total", "counter",
                    "Sink instances that said READY.", dc[i].joined);
    S_ROUTE_FAMILY ("hamustro_route_sink_died_total", "counter",
                    "Sink instances declared dead (silent past sink_timeout_ms).", dc[i].died);
    S_ROUTE_FAMILY ("hamustro_route_sink_malformed_total", "counter",
                    "Sink messages that failed validation.", dc[i].malformed);
    S_ROUTE_FAMILY ("hamustro_route_save_errors_total", "counter",
                    "Failed writes of the route's state file.", st[i].save_errors);
    S_ROUTE_FAMILY ("hamustro_route_read_errors_total", "counter",
                    "Reads of the log that failed or found damage (the route stopped).",
                    st[i].read_errors);
    S_ROUTE_FAMILY ("hamustro_route_alloc_failures_total", "counter",
                    "Records that could not be taken for want of memory (the route stopped).",
                    st[i].alloc_failures);
    S_ROUTE_FAMILY ("hamustro_route_sink_instances", "gauge", "Sink instances connected.",
                    instances[i]);
    S_ROUTE_FAMILY ("hamustro_route_lag_events", "gauge",
                    "Events read and kept but not acknowledged (open and sealed batches).",
                    st[i].pending_events + st[i].open_events);
    S_ROUTE_FAMILY ("hamustro_route_lag_records", "gauge",
                    "Durable log records the route has not had acknowledged.",
                    durable > st[i].committed ? durable - st[i].committed : 0);
    S_ROUTE_FAMILY ("hamustro_route_batches_queued", "gauge", "Sealed batches waiting for a sink.",
                    st[i].queued);
    S_ROUTE_FAMILY ("hamustro_route_batches_inflight", "gauge", "Batches sent, not answered yet.",
                    st[i].inflight);
    S_ROUTE_FAMILY ("hamustro_route_committed_seq", "gauge",
                    "End of the route's acknowledged prefix of the log.", st[i].committed);
    /* Age of the oldest event not acknowledged: the oldest unacknowledged
       sealed batch's seal time (its events are older by at most max_age),
       else the open batch's first read. */
    uint64_t wall = (uint64_t)time (NULL);
    hm_prom_family (out, "hamustro_route_lag_seconds", "gauge",
                    "Age of the oldest event not acknowledged by the route's sink (0: none).");
    for (size_t i = 0; i < n; i++) {
        double age = 0;
        if (st[i].oldest_seal)
            age = wall > st[i].oldest_seal ? (double)(wall - st[i].oldest_seal) : 0;
        if (st[i].open_events && now > st[i].open_since_ms) {
            double open_age = (double)(now - st[i].open_since_ms) / 1000.0;
            age = open_age > age ? open_age : age;
        }
        hm_prom_f64 (out, "hamustro_route_lag_seconds", labels[i].data, age);
    }
#undef S_ROUTE_FAMILY
    server_metrics_sinks (self, out, n);
    for (size_t i = 0; i < n; i++)
        hm_buf_free (&labels[i]);
    hm_buf_free (&lb);
}
