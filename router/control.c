/*  control: the router's control socket (see server_priv.h): flush seals
    every open batch, status reports the log, the counters and every
    route as JSON, replay moves a route back to an offset. */
#include "server_priv.h"

#include "hm_buf.h"
#include "hm_log.h"
#include "pipeline.pb-c.h"
#include "wire.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define S_CONTROL_MAX 16 /* control requests per iteration */

static void
s_status_json (server_t *self, hm_buf_t *out)
{
    uint64_t now = server_now_ms (), durable = rlog_durable_seq (self->log);
    hm_buf_printf (out,
                   "{\"version\":\"%s\",\"uptime_s\":%" PRIu64 ",\"durability\":\"%s\","
                   "\"log\":{\"first_seq\":%" PRIu64 ",\"next_seq\":%" PRIu64
                   ",\"durable_seq\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"max_bytes\":%" PRIu64
                   ",\"segments\":%zu,\"full\":%s,\"pending_replies\":%zu",
                   HAMUSTRO_VERSION, (now - self->started_ms) / 1000,
                   self->cfg->durability == HM_DURABILITY_WRITE ? "write" : "fsync",
                   rlog_first_seq (self->log), rlog_next_seq (self->log), durable,
                   rlog_bytes (self->log), rlog_max_bytes (self->log),
                   rlog_segment_count (self->log), self->full ? "true" : "false", self->pend_count);
    /* The log's failure paths (ARCHITECTURE section 4): failed (appends refused
       until it is cut back), failures, refused, recover_errors; damaged places found. */
    hm_buf_printf (
        out,
        ",\"failed\":%s,\"failures\":%" PRIu64 ",\"refused\":%" PRIu64
        ",\"recover_errors\":%" PRIu64 ",\"damaged\":%" PRIu64 ",\"damaged_records\":%" PRIu64 "},",
        self->log_failed ? "true" : "false", self->c.log_failures, self->c.refused,
        self->c.recover_errors, rlog_damaged (self->log), rlog_damaged_records (self->log));
    /* Inject's JSON refusals and the JSON tap: their own objects (openfmt). */
    hm_buf_printf (out,
                   "\"inject\":{\"refused\":%" PRIu64 "},\"tap_json\":{\"enabled\":%s"
                   ",\"dropped\":%" PRIu64 ",\"held_bytes\":%" PRIu64 "},",
                   self->c.inject_refused, self->tapjq ? "true" : "false",
                   self->tapjq ? tap_dropped (self->tapjq) : 0,
                   self->tapjq ? tap_held_bytes (self->tapjq) : 0);
    /* The disk reserve (server_disk.c): appends are refused while it is
       not held; releases (given back for a state save), made (again),
       refused (appends answered ERROR meanwhile). */
    hm_buf_printf (out,
                   "\"reserve\":{\"held\":%s,\"releases\":%" PRIu64 ",\"made\":%" PRIu64
                   ",\"refused\":%" PRIu64 "},",
                   self->reserve_held ? "true" : "false", self->c.reserve_releases,
                   self->c.reserve_made, self->c.reserve_refused);
    /* The ingests' last reports (ingests.h). */
    hm_buf_puts (out, "\"ingests\":");
    ingests_status_json (self->ingests, out, now);
    hm_buf_puts (out, ",");
    server_status_errors (self, out, now);
    hm_buf_puts (out, ",");
    const s_counters_t *c = &self->c;
    hm_buf_printf (out,
                   "\"counters\":{\"appended\":%" PRIu64 ",\"events\":%" PRIu64
                   ",\"injected\":%" PRIu64 ",\"full\":%" PRIu64 ",\"errors\":%" PRIu64
                   ",\"malformed\":%" PRIu64 ",\"write_errors\":%" PRIu64
                   ",\"sync_errors\":%" PRIu64 ",\"rounds\":%" PRIu64 ",\"fsyncs\":%" PRIu64
                   ",\"tap_dropped\":%" PRIu64 ",\"tap_held_bytes\":%" PRIu64
                   ",\"segments_deleted\":%" PRIu64 ",\"curve_refused\":%" PRIu64 "},\"routes\":[",
                   c->appended, c->events, c->injected, c->full, c->errors, c->malformed,
                   c->write_errors, c->sync_errors, c->rounds,
                   syncer_syncs (self->syncer) + rlog_syncs (self->log), tap_dropped (self->tapq),
                   tap_held_bytes (self->tapq), c->deleted, hm_zap_refused (self->zap));
    for (size_t i = 0; i < self->nroutes; i++) {
        route_stats_t st;
        route_stats (self->routes[i], &st);
        const hm_route_config_t *rc = route_config (self->routes[i]);
        hm_buf_printf (out,
                       "%s{\"name\":\"%s\",\"sink\":\"%s\",\"committed\":%" PRIu64
                       ",\"lag\":%" PRIu64 ",\"read_next\":%" PRIu64
                       ",\"sealed\":%zu,\"queued\":%zu,\"inflight\":%zu,\"loading\":%zu"
                       ",\"open_events\":%u,\"records\":%" PRIu64 ",\"undecodable\":%" PRIu64
                       ",\"events_in\":%" PRIu64 ",\"events_kept\":%" PRIu64
                       ",\"batches_sealed\":%" PRIu64 ",\"batches_acked\":%" PRIu64
                       ",\"nacks\":%" PRIu64 ",\"requeued\":%" PRIu64 ",\"save_errors\":%" PRIu64
                       ",\"missing\":%" PRIu64 ",\"read_errors\":%" PRIu64
                       ",\"alloc_failures\":%" PRIu64 ",",
                       i ? "," : "", rc->name, rc->sink, st.committed,
                       durable > st.committed ? durable - st.committed : 0, st.read_next,
                       st.batches, st.queued, st.inflight, st.loading, st.open_events, st.records,
                       st.undecodable, st.events_in, st.events_kept, st.sealed, st.acked, st.nacked,
                       st.requeued, st.save_errors, st.missing, st.read_errors, st.alloc_failures);
        dispatch_status (self->disp[i], now, out);
        hm_buf_puts (out, "}");
    }
    hm_buf_puts (out, "]}");
}

static void
s_control_reply (server_t *self, zmq_msg_t *id, bool ok, const char *reason, const char *json)
{
    Hm__ControlReply r = HM__CONTROL_REPLY__INIT;
    r.ok = ok;
    r.reason = (char *)reason;
    r.status_json = (char *)json;
    hm_wire_send (self->control, zmq_msg_data (id), zmq_msg_size (id), HM_WIRE_CONTROLLED, &r.base,
                  ZMQ_DONTWAIT);
}

void
server_control (server_t *self, uint64_t now)
{
    for (int k = 0; k < S_CONTROL_MAX; k++) {
        zmq_msg_t id, type, body;
        zmq_msg_init (&id);
        zmq_msg_init (&type);
        zmq_msg_init (&body);
        int rc = server_recv_request (self->control, true, &id, &type, &body);
        Hm__ControlRequest *req = NULL;
        if (rc == 1 && zmq_msg_size (&type) == strlen (HM_WIRE_CONTROL) &&
            memcmp (zmq_msg_data (&type), HM_WIRE_CONTROL, strlen (HM_WIRE_CONTROL)) == 0)
            req = hm__control_request__unpack (NULL, zmq_msg_size (&body), zmq_msg_data (&body));
        if (rc == 0)
            k = S_CONTROL_MAX;
        else if (!req) {
            self->c.malformed++;
            s_control_reply (self, &id, false, "malformed control request", NULL);
        }
        else if (req->command == HM__CONTROL_REQUEST__COMMAND__FLUSH) {
            /* Flush covers every record appended before it (inject has
               no acknowledgement to wait for): finish the sync in
               progress, read everything durable, then seal. */
            if (rlog_durable_seq (self->log) + 1 < rlog_next_seq (self->log)) {
                int err;
                syncer_wait (self->syncer, &err);
                server_on_synced (self);
            }
            uint64_t durable = rlog_durable_seq (self->log);
            for (size_t i = 0; i < self->nroutes; i++) {
                while (route_pump (self->routes[i], durable, now, S_PUMP_MAX) == S_PUMP_MAX)
                    ;
                route_flush_upto (self->routes[i], durable);
            }
            server_routes_work (self, now);
            hm_info ("control: flush");
            s_control_reply (self, &id, true, NULL, NULL);
        }
        else if (req->command == HM__CONTROL_REQUEST__COMMAND__STATUS) {
            hm_buf_t json;
            hm_buf_init (&json, 0);
            s_status_json (self, &json);
            s_control_reply (self, &id, true, NULL, json.data);
            hm_buf_free (&json);
        }
        else if (req->command == HM__CONTROL_REQUEST__COMMAND__REPLAY) {
            char reason[256] = "";
            size_t i = 0;
            while (req->route && i < self->nroutes &&
                   strcmp (route_name (self->routes[i]), req->route) != 0)
                i++;
            uint64_t off = req->has_offset ? req->offset : 0;
            if (!req->route || i == self->nroutes)
                snprintf (reason, sizeof reason, "no route named \"%.64s\"",
                          req->route ? req->route : "");
            else if (off < rlog_first_seq (self->log) || off > rlog_next_seq (self->log))
                snprintf (reason, sizeof reason,
                          "offset %" PRIu64 " is not in the log (it holds %" PRIu64 "..%" PRIu64
                          ")",
                          off, rlog_first_seq (self->log), rlog_next_seq (self->log) - 1);
            else {
                int rc = route_replay (self->routes[i], off);
                /* Segments are deleted behind saved_commit (server.c): lower
                   it before answering, or until the next periodic save a
                   second route's progress could delete the segments this
                   replay reads (issue 18 item 7). The state file says so
                   already; if its save failed, the route in memory was
                   rewound all the same. */
                uint64_t committed = route_committed (self->routes[i]);
                if (committed < self->saved_commit[i])
                    self->saved_commit[i] = committed;
                if (rc != 0)
                    snprintf (reason, sizeof reason, "cannot save the route's state");
                else
                    dispatch_forget_inflight (self->disp[i]);
            }
            s_control_reply (self, &id, !*reason, *reason ? reason : NULL, NULL);
        }
        else
            s_control_reply (self, &id, false, "unknown command", NULL);
        if (req)
            hm__control_request__free_unpacked (req, NULL);
        zmq_msg_close (&id);
        zmq_msg_close (&type);
        zmq_msg_close (&body);
    }
}
