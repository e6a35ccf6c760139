/*  server: see server.h.

    The append path is one "round" per loop iteration: drain up to
    S_ROUND_MAX requests (or S_ROUND_BYTES) from the append and inject
    sockets, validate each, write them all with one pwritev, publish them
    on the tap, fdatasync once and answer them all (group commit: what
    arrives during the sync is the next round). In "write" durability the
    replies go out after the write and the syncer thread syncs behind. A record's
    bytes are the received ZeroMQ frame itself: written from it, then the
    same frame is handed to the tap socket, never copied.

    Routes only read records that are durable, so whatever a sink got can
    never be lost by a crash and reused under the same offsets. The control
    socket's requests are handled in control.c. */
#include "server.h"

#include "delivery_decode.h"
#include "dispatch.h"
#include "fsutil.h"
#include "hm_buf.h"
#include "hm_log.h"
#include "ingests.h"
#include "inject_json.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.pb-c.h"
#include "route.h"
#include "scan.h"
#include "syncer.h"
#include "tap.h"
#include "wire.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "server_priv.h"

#define S_ROUND_BYTES (4u << 20) /* bytes written per round at most */
#define S_DRAIN_MS 10000         /* at shutdown, how long sealed batches may take to be acked */
#define S_FAILING_LOG_MS 10000   /* while log writes keep failing, one line per this */
#define S_RECOVER_MS 1000        /* while the log is failed, a cut back is tried this often */

uint64_t
server_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- replies ------------------------------------------------------------- */

/* Sends [id][HM/APPENDED/1][AppendReply]; consumes id. */
static void
s_reply (server_t *self, zmq_msg_t *id, uint64_t batch_id, Hm__AppendReply__Status status,
         uint64_t seq, const char *reason)
{
    Hm__AppendReply r = HM__APPEND_REPLY__INIT;
    r.batch_id = batch_id;
    r.status = status;
    if (seq) {
        r.has_offset = true;
        r.offset = seq;
    }
    char why[256];
    if (reason) {
        snprintf (why, sizeof why, "%s", reason); /* bounds the packed size */
        r.reason = why;
    }
    uint8_t buf[512];
    size_t len = hm__append_reply__pack (&r, buf);
    /* The append socket is not ROUTER_MANDATORY: a reply to a client that
       went away is dropped by ZeroMQ, which is what we want. */
    if (zmq_msg_send (id, self->front, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (id);
        return;
    }
    zmq_send (self->front, HM_WIRE_APPENDED, strlen (HM_WIRE_APPENDED), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (self->front, buf, len, ZMQ_DONTWAIT);
}

/* Answers every pending reply up to durable OK, the rest (if failed) ERROR. */
static void
s_settle (server_t *self, uint64_t durable, const char *fail_reason)
{
    while (self->pend_count) {
        s_pending_t *p = &self->pend[self->pend_head];
        if (p->seq <= durable)
            s_reply (self, &p->id, p->batch_id, HM__APPEND_REPLY__STATUS__OK, p->seq, NULL);
        else if (fail_reason) {
            s_reply (self, &p->id, p->batch_id, HM__APPEND_REPLY__STATUS__ERROR, 0, fail_reason);
            self->c.errors++;
        }
        else
            break;
        self->pend_head = (self->pend_head + 1) % S_PENDING_MAX;
        self->pend_count--;
    }
}

static void s_sync_failed (server_t *self, int err);

void
server_on_synced (server_t *self)
{
    int err = 0;
    uint64_t done = syncer_poll (self->syncer, &err);
    rlog_set_durable (self->log, done);
    if (!err) {
        s_settle (self, rlog_durable_seq (self->log), NULL);
        return;
    }
    s_sync_failed (self, err);
}

/* Cuts the log back to its durable mark after a failed sync or cut back
   (rlog_failed). Until that succeeds every append is answered ERROR (503)
   and this is tried again every S_RECOVER_MS. Why refuse rather than go
   on or retry the sync: after a failed fdatasync the kernel may have
   dropped the pages it could not write and marked them clean, so a retried
   fdatasync succeeds without them (PostgreSQL's "fsyncgate", 2018); and
   appending over a tail that could not be cut would write past records
   whose writeback failed, or into a hole. Why not exit: the durable mark
   is known only to this process; after a restart the scan would read the
   failed tail back from the page cache as valid, durable records. */
static void
s_recover (server_t *self, uint64_t now)
{
    self->recover_ms = now;
    uint64_t durable = rlog_durable_seq (self->log);
    if (rlog_truncate_after (self->log, durable) != 0) {
        self->c.recover_errors++;
        if (self->c.recover_errors == 1 || self->c.recover_errors % 60 == 0)
            hm_error ("log: cannot cut back to the last good sync (%" PRIu64 "): %s; appends "
                      "answered ERROR until it can (%" PRIu64 " tries so far)",
                      durable, strerror (errno), self->c.recover_errors);
        return;
    }
    if (self->log_failed) {
        self->log_failed = false;
        hm_info ("log: cut back to %" PRIu64 " (the last good sync); accepting appends again",
                 durable);
    }
}

/* The log failed (a sync, a roll's sync or a cut back): what was not
   durable is dropped and answered ERROR, appends stop until it is cut back. */
static void
s_log_failed (server_t *self, const char *what, int err)
{
    uint64_t durable = rlog_durable_seq (self->log);
    self->c.log_failures++;
    self->log_failed = true;
    rlog_sync_failed (self->log);
    hm_error ("log: %s failed: %s; records after %" PRIu64 " are dropped (those not answered "
              "yet get ERROR) and appends are refused until the log is cut back there",
              what, strerror (err), durable);
    char reason[128];
    snprintf (reason, sizeof reason, "log %s failed: %s", what, strerror (err));
    s_settle (self, durable, reason);
    syncer_reset (self->syncer, durable);
    s_recover (self, server_now_ms ());
}

static void
s_sync_failed (server_t *self, int err)
{
    self->c.sync_errors++;
    s_log_failed (self, "sync", err);
}

/* --- the append round ---------------------------------------------------- */

int
server_recv_request (void *sock, bool routed, zmq_msg_t *id, zmq_msg_t *type, zmq_msg_t *body)
{
    zmq_msg_t *want[3] = {id, type, body};
    int first = routed ? 0 : 1, got = 0;
    bool more = true;
    for (int i = first; i < 3 && more; i++) {
        if (zmq_msg_recv (want[i], sock, ZMQ_DONTWAIT) < 0)
            return i == first ? 0 : -1;
        more = zmq_msg_more (want[i]);
        got++;
    }
    /* Inject's single-frame message is JSON text (inject_json.h): in type. */
    if (!routed && got == 1 && !more)
        return 2;
    if (got != 3 - first || more) {
        while (more) {
            zmq_msg_t extra;
            zmq_msg_init (&extra);
            more = zmq_msg_recv (&extra, sock, ZMQ_DONTWAIT) >= 0 && zmq_msg_more (&extra);
            zmq_msg_close (&extra);
        }
        return -1;
    }
    return 1;
}

static bool
s_type_is (zmq_msg_t *type, const char *expected)
{
    size_t n = strlen (expected);
    return zmq_msg_size (type) == n && memcmp (zmq_msg_data (type), expected, n) == 0;
}

/* An ingest's IngestStats: one that does not pass is counted as
   malformed and logged like a malformed append (the first 10, then every
   1000th). */
static void
s_ingest_report (server_t *self, zmq_msg_t *body)
{
    const char *why = NULL;
    if (ingests_report (self->ingests, zmq_msg_data (body), zmq_msg_size (body), server_now_ms (),
                        &why) >= 0)
        return;
    self->c.malformed++;
    if (self->c.malformed <= 10 || self->c.malformed % 1000 == 0)
        hm_warn ("ingest counters refused (%s); %" PRIu64 " malformed messages so far", why,
                 self->c.malformed);
}

/* Takes one request into round slot n. Returns 1 taken, 0 none waiting,
   -1 answered/dropped (malformed, FULL, or refused). */
static int
s_take (server_t *self, void *sock, bool routed, size_t n, uint64_t *planned)
{
    s_append_t *a = &self->round[n];
    zmq_msg_t type;
    zmq_msg_init (&a->id);
    zmq_msg_init (&type);
    zmq_msg_init (&a->body);
    int rc = server_recv_request (sock, routed, &a->id, &type, &a->body);
    if (rc == 0) {
        zmq_msg_close (&a->id);
        zmq_msg_close (&type);
        zmq_msg_close (&a->body);
        return 0;
    }
    /* An ingest's counters (ingests.h): kept for /metrics, never answered. */
    if (rc == 1 && routed && s_type_is (&type, HM_WIRE_INGEST)) {
        s_ingest_report (self, &a->body);
        zmq_msg_close (&a->id);
        zmq_msg_close (&type);
        zmq_msg_close (&a->body);
        return -1;
    }
    bool json = false;
    if (rc == 2) {
        char jwhy[160];
        size_t jn = 0;
        zmq_msg_close (&a->body);
        if (inject_json_request (zmq_msg_data (&type), zmq_msg_size (&type), &a->body, &jn, jwhy,
                                 sizeof jwhy) != 0) {
            /* Fire-and-forget: nobody to answer, so count and log (rate-limited). */
            self->c.inject_refused++;
            if (self->c.inject_refused <= 10 || self->c.inject_refused % 1000 == 0)
                hm_warn ("inject: message refused (%s); %" PRIu64 " so far", jwhy,
                         self->c.inject_refused);
            zmq_msg_close (&a->id);
            zmq_msg_close (&type);
            return -1;
        }
        json = true;
        rc = 1;
    }
    const char *why = rc < 0 ? "wrong number of frames" : NULL;
    size_t len = zmq_msg_size (&a->body);
    /* Checked in place; protobuf-c decides what that check is not sure of. */
    bool decoded = false, in_place = false;
    uint64_t batch_id = 0;
    size_t nevents = 0;
    if (len <= RLOG_MAX_PAYLOAD) {
        if (hm_append_check (zmq_msg_data (&a->body), len, &batch_id, &nevents) == 0)
            decoded = in_place = true;
        else {
            Hm__AppendRequest *req =
                hm__append_request__unpack (&self->decode.pb, len, zmq_msg_data (&a->body));
            if (req)
                decoded = true, batch_id = req->batch_id, nevents = req->n_events;
            hm_arena_reset (&self->decode); /* only the validation needed the decode */
        }
    }
    if (!why && !json &&
        (zmq_msg_size (&type) != strlen (HM_WIRE_APPEND) ||
         memcmp (zmq_msg_data (&type), HM_WIRE_APPEND, strlen (HM_WIRE_APPEND)) != 0))
        why = "unknown message type";
    if (!why && !decoded)
        why = "AppendRequest does not decode";
    /* The routes read records with scan.c, stricter than protobuf-c: refuse
       here what they could not read later, or it would be acknowledged and
       then skipped. */
    /* (hm_append_check is at least as strict: what it took passes.) */
    if (!why && !in_place && scan_record_ok (zmq_msg_data (&a->body), len) != 0)
        why = "AppendRequest has a field the router cannot read (field number out of range)";
    zmq_msg_close (&type);
    a->reply = routed;
    a->batch_id = batch_id;
    if (!why && self->log_failed) {
        self->c.refused++;
        if (routed) {
            s_reply (self, &a->id, a->batch_id, HM__APPEND_REPLY__STATUS__ERROR, 0,
                     "log failed (a sync or a cut back failed): not accepting appends yet");
            self->c.errors++;
        }
        else
            zmq_msg_close (&a->id);
        zmq_msg_close (&a->body);
        return -1;
    }
    /* The disk's room is the state saves' until the reserve is back
       (server_disk.c); the client resends after its 503. */
    const char *no_room = why ? NULL : server_reserve_refusal (self);
    if (no_room) {
        if (routed) {
            s_reply (self, &a->id, a->batch_id, HM__APPEND_REPLY__STATUS__ERROR, 0, no_room);
            self->c.errors++;
        }
        else
            zmq_msg_close (&a->id);
        zmq_msg_close (&a->body);
        return -1;
    }
    if (!why && !rlog_has_room (self->log, *planned, len)) {
        if (!self->full)
            hm_warn ("log: full (%" PRIu64 " of %" PRIu64 " bytes): answering FULL until routes "
                     "catch up",
                     rlog_bytes (self->log), rlog_max_bytes (self->log));
        self->full = true;
        self->c.full++;
        if (routed)
            s_reply (self, &a->id, a->batch_id, HM__APPEND_REPLY__STATUS__FULL, 0,
                     "log full: the slowest route is behind");
        else
            zmq_msg_close (&a->id);
        zmq_msg_close (&a->body);
        return -1;
    }
    if (why) {
        self->c.malformed++;
        if (routed && decoded) {
            s_reply (self, &a->id, a->batch_id, HM__APPEND_REPLY__STATUS__ERROR, 0, why);
            self->c.errors++;
        }
        else {
            if (self->c.malformed <= 10 || self->c.malformed % 1000 == 0)
                hm_warn ("append: malformed message dropped (%s); %" PRIu64 " so far", why,
                         self->c.malformed);
            zmq_msg_close (&a->id);
        }
        zmq_msg_close (&a->body);
        return -1;
    }
    *planned += RLOG_HEADER + len;
    self->payloads[n] = (struct iovec){zmq_msg_data (&a->body), len};
    self->c.events += nevents;
    return 1;
}

/* Reads a round from both append sockets, writes it, posts the sync. */
static void
s_append_round (server_t *self)
{
    uint64_t planned = 0;
    size_t n = 0, injected = 0, handled = 0;
    void *socks[2] = {self->front, self->inject};
    for (int s = 0; s < 2; s++) {
        while (n < S_ROUND_MAX && planned < S_ROUND_BYTES && handled < 4 * S_ROUND_MAX &&
               (s == 1 || self->pend_count + n < S_PENDING_MAX)) {
            int rc = s_take (self, socks[s], s == 0, n, &planned);
            if (rc == 0)
                break;
            handled++;
            if (rc == 1) {
                n++;
                injected += s == 1;
            }
        }
    }
    if (n == 0)
        return;
    /* A roll needs the old segment durable first: let the syncer finish so
       its report (and any failure) goes through the one path below. */
    if (rlog_needs_roll (self->log) &&
        rlog_durable_seq (self->log) + 1 < rlog_next_seq (self->log)) {
        int err;
        syncer_wait (self->syncer, &err);
        server_on_synced (self);
    }
    uint64_t first = 0;
    if (rlog_append (self->log, self->payloads, n, &first) != 0) {
        int err = errno;
        self->c.write_errors++;
        if (rlog_failed (self->log) && !self->log_failed)
            s_log_failed (self, "write or roll", err); /* this round is answered below */
        /* A full disk fails every round: one line when it starts, then one
           every S_FAILING_LOG_MS with the count (write_errors counts all). */
        uint64_t now = server_now_ms ();
        if (self->failing_writes++ == 0 || now >= self->failing_logged_ms + S_FAILING_LOG_MS) {
            hm_error ("log: write of %zu records failed: %s; answered ERROR (%" PRIu64
                      " failed rounds so far)",
                      n, strerror (err), self->failing_writes);
            self->failing_logged_ms = now;
        }
        char reason[128];
        snprintf (reason, sizeof reason, "log write failed: %s", strerror (err));
        for (size_t i = 0; i < n; i++) {
            s_append_t *a = &self->round[i];
            if (a->reply) {
                s_reply (self, &a->id, a->batch_id, HM__APPEND_REPLY__STATUS__ERROR, 0, reason);
                self->c.errors++;
            }
            else
                zmq_msg_close (&a->id);
            zmq_msg_close (&a->body);
        }
        return;
    }
    if (self->failing_writes) {
        hm_info ("log: writes succeed again after %" PRIu64 " failed rounds", self->failing_writes);
        self->failing_writes = 0;
    }
    self->c.rounds++;
    self->c.appended += n;
    self->c.injected += injected;
    bool ack_now = self->cfg->durability == HM_DURABILITY_WRITE;
    for (size_t i = 0; i < n; i++) {
        s_append_t *a = &self->round[i];
        uint64_t seq = first + i;
        /* Tap: best effort, bounded in bytes (tap.h); takes body. */
        if (self->tapjq) /* before tap_publish takes body */
            tap_publish_json (self->tapjq, zmq_msg_data (&a->body), zmq_msg_size (&a->body));
        tap_publish (self->tapq, seq, &a->body);
        if (!a->reply)
            zmq_msg_close (&a->id);
        else if (ack_now)
            s_reply (self, &a->id, a->batch_id, HM__APPEND_REPLY__STATUS__OK, seq, NULL);
        else {
            s_pending_t *p = &self->pend[(self->pend_head + self->pend_count) % S_PENDING_MAX];
            zmq_msg_init (&p->id);
            zmq_msg_move (&p->id, &a->id);
            zmq_msg_close (&a->id);
            p->batch_id = a->batch_id;
            p->seq = seq;
            self->pend_count++;
        }
    }
    /* "fsync": the round is synced right here, on the loop's thread, and
       answered. Why not on the syncer thread, overlapping the next round's
       write: measured on 2 cores shared with the HTTP side, the hand-off
       (a futex wake there, an eventfd wake back) cost more than the overlap
       gained, ~17k vs ~21k req/s; requests arriving during the sync wait
       in the socket's queue and form the next group, so it is still group
       commit. The syncer stays for "write" durability (interval syncs) and
       for syncer_wait at a roll, a flush and shutdown. */
    if (!ack_now) {
        double t0 = sync_hist_now ();
        int rc = rlog_fdatasync (self->log, rlog_fd (self->log));
        int err = errno;
        sync_hist_observe (&self->round_syncs, sync_hist_now () - t0);
        if (rc != 0) {
            errno = err;
            s_sync_failed (self, errno ? errno : EIO);
            return;
        }
        rlog_set_durable (self->log, first + n - 1);
        s_settle (self, rlog_durable_seq (self->log), NULL);
        return;
    }
    if (syncer_post (self->syncer, rlog_fd (self->log), rlog_segment_first (self->log),
                     first + n - 1) != 0)
        hm_error ("log: cannot hand the segment to the syncer: %s", strerror (errno));
}

/* --- routes ---------------------------------------------------------------- */

bool
server_routes_work (server_t *self, uint64_t now)
{
    bool busy = false;
    uint64_t durable = rlog_durable_seq (self->log);
    uint64_t min_commit = durable;
    for (size_t i = 0; i < self->nroutes; i++) {
        route_t *r = self->routes[i];
        int n = route_pump (r, durable, now, S_PUMP_MAX);
        if (n == S_PUMP_MAX)
            busy = true;
        route_tick (r, now);
        /* Seals reach the state file before their batches leave. */
        if (now >= server_save_due (self, i))
            server_route_save (self, i, now);
        dispatch_run (self->disp[i], now);
        /* Why the saved offset, not the one in memory: after a crash the
           route starts again from its state file and rebuilds the batches
           it had sealed from the log, so the log must still hold every
           record past that offset. Deleting up to the in-memory offset lost
           them: a rebuilt batch then lacked its first records and its file
           was rewritten without them. */
        if (self->saved_commit[i] < min_commit)
            min_commit = self->saved_commit[i];
    }
    int deleted = rlog_delete_upto (self->log, min_commit);
    if (deleted > 0) {
        self->c.deleted += (uint64_t)deleted;
        hm_debug ("log: deleted %d segments (all routes committed %" PRIu64 ")", deleted,
                  min_commit);
    }
    server_reserve_tick (self, now, deleted > 0);
    if (self->log_failed && now >= self->recover_ms + S_RECOVER_MS)
        s_recover (self, now);
    if (self->full && rlog_has_room (self->log, 0, 64 << 10)) {
        self->full = false;
        hm_info ("log: room again (%" PRIu64 " bytes); accepting appends", rlog_bytes (self->log));
    }
    return busy;
}

/* --- the loop ------------------------------------------------------------ */

/* Polls once and handles what arrived. appends: also read the append
   sockets. Returns -1 if poll failed for good. */
static int
s_iterate (server_t *self, bool appends, long max_timeout, bool *busy)
{
    uint64_t now = server_now_ms (), next = now + (uint64_t)max_timeout;
    for (size_t i = 0; i < self->nroutes; i++) {
        uint64_t t = route_next_deadline (self->routes[i]);
        next = t < next ? t : next;
        t = dispatch_next_deadline (self->disp[i]);
        next = t < next ? t : next;
        t = server_save_due (self, i);
        next = t < next ? t : next;
    }
    uint64_t t = server_reserve_due (self);
    next = t < next ? t : next;
    if (self->metrics && self->metrics_ms + METRICS_PERIOD_MS < next)
        next = self->metrics_ms + METRICS_PERIOD_MS;
    long timeout = *busy ? 0 : next > now ? (long)(next - now) : 0;
    /* Stop reading appends while too many replies wait for a sync. */
    bool room = self->pend_count + S_ROUND_MAX <= S_PENDING_MAX;
    self->items[1].events = appends && room ? ZMQ_POLLIN : 0;
    self->items[2].events = appends ? ZMQ_POLLIN : 0;
    int rc = zmq_poll (self->items, (int)self->nitems, timeout);
    if (rc < 0 && zmq_errno () == EINTR)
        return 0;
    if (rc < 0) {
        hm_error ("poll failed: %s", zmq_strerror (zmq_errno ()));
        return -1;
    }
    now = server_now_ms ();
    if (self->items[0].revents & ZMQ_POLLIN)
        server_on_synced (self);
    if (appends && ((self->items[1].revents | self->items[2].revents) & ZMQ_POLLIN))
        s_append_round (self);
    for (size_t i = 0; i < self->nroutes; i++)
        if (self->items[4 + i].revents & ZMQ_POLLIN)
            dispatch_recv (self->disp[i], now, 1000);
    if (self->items[3].revents & ZMQ_POLLIN)
        server_control (self, now);
    *busy = server_routes_work (self, now);
    if (self->metrics && now >= self->metrics_ms + METRICS_PERIOD_MS) {
        hm_buf_t text;
        hm_buf_init (&text, 0);
        server_metrics_text (self, &text);
        ingests_metrics_text (self->ingests, &text, now);
        metrics_publish (self->metrics, &text);
        hm_buf_free (&text);
        self->metrics_ms = now;
    }
    return 0;
}

/* Shutdown: seals every open batch and hands sealed batches to the sink
   instances still connected, until each route is committed to the end
   of the log, has no instance left, or S_DRAIN_MS passed. What is not
   acknowledged by then stays sealed in the route's state file and goes
   out, unchanged, after the next start. */
static void
s_drain (server_t *self, volatile sig_atomic_t *stop)
{
    uint64_t deadline = server_now_ms () + S_DRAIN_MS;
    bool busy = false, logged = false;
    for (;;) {
        uint64_t now = server_now_ms (), durable = rlog_durable_seq (self->log);
        bool waiting = false;
        for (size_t i = 0; i < self->nroutes; i++) {
            route_t *r = self->routes[i];
            while (route_pump (r, durable, now, S_PUMP_MAX) == S_PUMP_MAX)
                ;
            route_flush (r);
            if (dispatch_instance_count (self->disp[i]) > 0 && route_committed (r) < durable)
                waiting = true;
        }
        if (!waiting || now >= deadline || *stop >= 2)
            break;
        if (!logged)
            hm_info ("stopping: handing sealed batches to the sinks (at most %d ms)", S_DRAIN_MS);
        logged = true;
        if (s_iterate (self, false, 100, &busy) != 0)
            break;
    }
}

int
server_run (server_t *self, volatile sig_atomic_t *stop)
{
    bool busy = false;
    while (!*stop)
        if (s_iterate (self, true, 1000, &busy) != 0)
            return -1;
    /* Shutdown: no new appends; what was written gets its answer. */
    int err = 0;
    syncer_wait (self->syncer, &err);
    server_on_synced (self);
    s_drain (self, stop);
    for (size_t i = 0; i < self->nroutes; i++)
        if (route_needs_save (self->routes[i], false))
            route_save (self->routes[i]);
    hm_info ("stopping: log %" PRIu64 "..%" PRIu64 " durable, %" PRIu64 " records appended",
             rlog_first_seq (self->log), rlog_durable_seq (self->log), self->c.appended);
    return 0;
}
