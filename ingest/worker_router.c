/*  worker_router: the ZeroMQ side of an ingest thread (see worker.h): the
    DEALERs to the router's append and control endpoints, the coalescing of
    one turn's track requests into one AppendRequest, and the replies that
    resume waiting connections. The loop that drives it is in worker.c. */
#include "worker_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "curve.h"
#include "event.h"
#include "hm_log.h"
#include "pipeline.pb-c.h"
#include "wire.h"

/* A turn's AppendRequest is sent early once it holds this many bytes (a
   single request may still make a larger one on its own). */
#define S_BATCH_BYTES (1u << 20)
/* AppendRequest field tags: batch_id = 1 (varint), events = 2 (bytes). */
#define S_TAG_BATCH_ID 0x08
#define S_TAG_EVENT 0x12
/* A request's events and the writer's scratch keep their room up to this
   size for the next request; a larger one (a rare big request) is given
   back once its events are in the batch. */
#define S_KEEP_EVENTS_BYTES (256u << 10)

void *
hm_worker_dealer_new (void *zmq_ctx, const hm_config_t *cfg, const char *endpoint, int hwm,
                      const char *monitor_endpoint, void **monitor_p)
{
    void *socket = zmq_socket (zmq_ctx, ZMQ_DEALER);
    if (!socket)
        return NULL;
    int one = 1;
    if (hm_wire_setup (socket, hwm, hwm, 0) != 0 ||
        zmq_setsockopt (socket, ZMQ_IMMEDIATE, &one, sizeof one) != 0 ||
        hm_curve_apply (socket, cfg, false) != 0)
        goto fail;
    if (monitor_p) {
        if (zmq_socket_monitor (socket, monitor_endpoint,
                                ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) != 0)
            goto fail;
        *monitor_p = zmq_socket (zmq_ctx, ZMQ_PAIR);
        if (!*monitor_p || hm_wire_setup (*monitor_p, 1000, 1000, 0) != 0 ||
            zmq_connect (*monitor_p, monitor_endpoint) != 0)
            goto fail;
    }
    if (zmq_connect (socket, endpoint) != 0)
        goto fail;
    return socket;
fail:
    zmq_socket_monitor (socket, NULL, 0); /* before its receiver: see ingest_worker_destroy */
    if (monitor_p && *monitor_p) {
        zmq_close (*monitor_p);
        *monitor_p = NULL;
    }
    zmq_close (socket);
    return NULL;
}

/* Monitor events: [16-bit event, 32-bit value][endpoint]. */
void
hm_worker_monitor_drain (ingest_worker_t *self)
{
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    while (zmq_msg_recv (&frame, self->monitor, ZMQ_DONTWAIT) >= 0) {
        bool more = zmq_msg_more (&frame);
        if (zmq_msg_size (&frame) == 6) {
            uint16_t event;
            memcpy (&event, zmq_msg_data (&frame), sizeof event);
            if (event == ZMQ_EVENT_CONNECTED) {
                if (self->append_links++ == 0)
                    atomic_fetch_sub (self->unlinked, 1);
            }
            else if (event == ZMQ_EVENT_DISCONNECTED && self->append_links) {
                if (--self->append_links == 0)
                    atomic_fetch_add (self->unlinked, 1);
            }
            hm_debug ("router append socket: %s (%u up)",
                      event == ZMQ_EVENT_CONNECTED ? "connected" : "disconnected",
                      self->append_links);
        }
        while (more && zmq_msg_recv (&frame, self->monitor, ZMQ_DONTWAIT) >= 0)
            more = zmq_msg_more (&frame);
    }
    zmq_msg_close (&frame);
}

static void
s_control_fail (hm_control_req_t *req, const char *reason)
{
    ingest_conn_t *c = req->waiters;
    req->waiters = NULL;
    while (c) {
        ingest_conn_t *next = c->next_waiter;
        c->next_waiter = NULL;
        hm_request_finish (c, 503,
                           req->command == HM__CONTROL_REQUEST__COMMAND__STATUS
                               ? HM_BODY_HEALTH_DOWN
                               : HM_BODY_NONE,
                           reason);
        c = next;
    }
}

/* Fails every control request in flight and starts a fresh socket: the
   control protocol has no request ids, so after a lost reply only a new
   socket guarantees that the next reply answers the next request. */
void
hm_worker_control_reset (ingest_worker_t *self, const char *reason)
{
    for (unsigned i = 0; i < self->control_count; i++)
        s_control_fail (&self->control_reqs[(self->control_head + i) % HM_CONTROL_MAX], reason);
    self->control_head = self->control_count = 0;
    if (self->control)
        zmq_close (self->control);
    self->control = hm_worker_dealer_new (self->zmq_ctx, self->cfg, self->cfg->control_endpoint,
                                          HM_CONTROL_MAX, NULL, NULL);
    if (!self->control)
        hm_error ("control endpoint %s: %s", self->cfg->control_endpoint,
                  zmq_strerror (zmq_errno ()));
}

int
hm_worker_control (ingest_worker_t *self, ingest_conn_t *conn, int command)
{
    bool status = command == HM__CONTROL_REQUEST__COMMAND__STATUS;
    hm_answer_body_t fail_body = status ? HM_BODY_HEALTH_DOWN : HM_BODY_NONE;
    /* Health checks arriving while a STATUS is already out share its reply. */
    if (status && self->control_count) {
        hm_control_req_t *last =
            &self->control_reqs[(self->control_head + self->control_count - 1) % HM_CONTROL_MAX];
        if (last->command == command) {
            conn->next_waiter = last->waiters;
            last->waiters = conn;
            return 0;
        }
    }
    if (self->control_count == HM_CONTROL_MAX) {
        hm_request_finish (conn, 503, fail_body, "too many control requests in flight");
        return -1;
    }
    if (!self->control)
        hm_worker_control_reset (self, "router not reachable");
    Hm__ControlRequest req = HM__CONTROL_REQUEST__INIT;
    req.command = (Hm__ControlRequest__Command)command;
    if (!self->control ||
        hm_wire_send (self->control, NULL, 0, HM_WIRE_CONTROL, &req.base, ZMQ_DONTWAIT) != 0) {
        hm_request_finish (conn, 503, fail_body, "router not reachable");
        return -1;
    }
    hm_control_req_t *entry =
        &self->control_reqs[(self->control_head + self->control_count) % HM_CONTROL_MAX];
    entry->command = command;
    entry->deadline = hm_now_ms () + (status ? HM_HEALTH_TIMEOUT_MS : self->cfg->router_timeout_ms);
    conn->next_waiter = NULL;
    entry->waiters = conn;
    self->control_count++;
    return 0;
}

void
hm_worker_forget (ingest_worker_t *self, ingest_conn_t *conn)
{
    for (unsigned i = 0; i < self->control_count; i++) {
        hm_control_req_t *req = &self->control_reqs[(self->control_head + i) % HM_CONTROL_MAX];
        for (ingest_conn_t **p = &req->waiters; *p; p = &(*p)->next_waiter)
            if (*p == conn) {
                *p = conn->next_waiter;
                conn->next_waiter = NULL;
                return;
            }
    }
}

/* --- coalescing: one AppendRequest per turn of the loop ----------------- */

static size_t
s_put_varint (uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

/* Answers every connection of batch (taken out of the pending table, or
   never put in it) and recycles it. */
void
hm_worker_batch_finish (ingest_worker_t *self, hm_batch_t *batch, unsigned status, hm_refusal_t why,
                        const char *reason)
{
    ingest_conn_t *c = batch->conns;
    if (c)
        self->resumed = true;
    while (c) {
        ingest_conn_t *next = c->batch_next;
        c->batch = NULL;
        c->batch_prev = c->batch_next = NULL;
        hm_request_refuse (c, status, why, reason);
        c = next;
    }
    batch->conns = NULL;
    batch->count = 0;
    batch->next = self->free_batches;
    self->free_batches = batch;
}

/* Sends the turn's AppendRequest, if any, at once. (Holding it while an
   earlier one is in flight, to make fewer and bigger messages, was
   measured: slower, ~17k vs ~21k req/s, the wait costs more than the
   messages.) DONTWAIT: with ZMQ_IMMEDIATE the
   send fails at once when no router is connected or its queue (SNDHWM) is
   full; the clients are told 503 and retry later. */
void
hm_worker_batch_flush (ingest_worker_t *self)
{
    hm_batch_t *batch = self->open_batch;
    if (!batch)
        return;
    self->open_batch = NULL;
    if (batch->count == 0) {
        /* Every waiter went away before the send: nothing to ask for. */
        hm_pending_take (self->pending, batch->id);
        hm_worker_batch_finish (self, batch, 503, HM_REFUSAL_NONE, NULL);
        return;
    }
    /* A multipart message is queued whole or not at all: once the first
       frame is accepted, the second is too. zmq_send copies the bytes. */
    if (zmq_send (self->dealer, HM_WIRE_APPEND, strlen (HM_WIRE_APPEND),
                  ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send (self->dealer, self->out.data, self->out.len, ZMQ_DONTWAIT) < 0) {
        int err = zmq_errno ();
        hm_pending_take (self->pending, batch->id);
        hm_worker_batch_finish (self, batch, 503, HM_REFUSAL_ROUTER_UNREACHABLE,
                                err == EAGAIN ? "router not reachable or busy"
                                              : "could not send to the router");
    }
    hm_buf_reset (&self->out);
}

static int s_append_events (ingest_worker_t *self, ingest_conn_t *conn, size_t need);

int
hm_worker_append (ingest_worker_t *self, ingest_conn_t *conn, const Collection *col, const char *ip)
{
    /* Written once into a scratch buffer, not straight into out: the size
       decides whether out is sent first. */
    hm_buf_reset (&self->events);
    int rc = -1;
    if (hm_events_write (&self->events, col, ip, self->cfg->masked_ip, S_TAG_EVENT,
                         &self->scratch) != 0)
        hm_request_refuse (conn, 503, HM_REFUSAL_OVERLOAD, "out of memory");
    else
        rc = s_append_events (self, conn, self->events.len);
    if (self->events.cap > S_KEEP_EVENTS_BYTES)
        hm_buf_free (&self->events);
    if (self->scratch.cap > S_KEEP_EVENTS_BYTES)
        hm_buf_free (&self->scratch);
    return rc;
}

/* hm_worker_append's second half: self->events (need bytes) into the open
   batch, opening one (or sending the full one first) as needed. */
static int
s_append_events (ingest_worker_t *self, ingest_conn_t *conn, size_t need)
{
    if (self->open_batch && self->out.len + need > S_BATCH_BYTES)
        hm_worker_batch_flush (self);
    if (!self->open_batch) {
        hm_batch_t *batch = self->free_batches;
        if (batch)
            self->free_batches = batch->next;
        else if (!(batch = calloc (1, sizeof *batch))) {
            hm_request_refuse (conn, 503, HM_REFUSAL_OVERLOAD, "out of memory");
            return -1;
        }
        batch->conns = NULL;
        batch->count = 0;
        batch->next = NULL;
        if (hm_pending_add (self->pending, batch, hm_now_ms () + self->cfg->router_timeout_ms,
                            &batch->id) != 0) {
            batch->next = self->free_batches;
            self->free_batches = batch;
            hm_request_refuse (conn, 503, HM_REFUSAL_OVERLOAD,
                               "too many requests waiting for the router");
            return -1;
        }
        hm_buf_reset (&self->out);
        uint8_t head[11];
        head[0] = S_TAG_BATCH_ID;
        size_t hl = 1 + s_put_varint (head + 1, batch->id);
        if (hm_buf_append (&self->out, head, hl) != 0) {
            hm_pending_take (self->pending, batch->id);
            hm_worker_batch_finish (self, batch, 503, HM_REFUSAL_NONE, NULL);
            hm_request_refuse (conn, 503, HM_REFUSAL_OVERLOAD, "out of memory");
            return -1;
        }
        self->open_batch = batch;
    }
    if (hm_buf_append (&self->out, self->events.data, need) != 0) {
        hm_request_refuse (conn, 503, HM_REFUSAL_OVERLOAD, "out of memory");
        return -1;
    }
    hm_batch_t *batch = self->open_batch;
    conn->batch = batch;
    conn->batch_prev = NULL;
    conn->batch_next = batch->conns;
    if (batch->conns)
        batch->conns->batch_prev = conn;
    batch->conns = conn;
    batch->count++;
    return 0;
}

void
hm_worker_unbatch (ingest_worker_t *self, ingest_conn_t *conn)
{
    hm_batch_t *batch = conn->batch;
    if (!batch)
        return;
    if (conn->batch_prev)
        conn->batch_prev->batch_next = conn->batch_next;
    else
        batch->conns = conn->batch_next;
    if (conn->batch_next)
        conn->batch_next->batch_prev = conn->batch_prev;
    conn->batch = NULL;
    conn->batch_prev = conn->batch_next = NULL;
    batch->count--;
    /* A sent batch nobody waits for any more is forgotten; its late reply
       is then ignored as stale. The open one is dealt with at the flush. */
    if (batch->count == 0 && batch != self->open_batch) {
        hm_pending_take (self->pending, batch->id);
        hm_worker_batch_finish (self, batch, 503, HM_REFUSAL_NONE, NULL);
    }
}

/* Receives one multipart message: its type frame and first body frame
   (extra frames are dropped). Returns 0, or -1 when nothing is waiting. */
static int
s_recv (void *socket, zmq_msg_t *type, zmq_msg_t *body, bool *has_body)
{
    zmq_msg_init (type);
    zmq_msg_init (body);
    *has_body = false;
    if (zmq_msg_recv (type, socket, ZMQ_DONTWAIT) < 0)
        return -1;
    /* The parts of a multipart message arrive together, so DONTWAIT
       cannot miss them. */
    if (zmq_msg_more (type) && zmq_msg_recv (body, socket, ZMQ_DONTWAIT) >= 0)
        *has_body = true;
    while (*has_body && zmq_msg_more (body)) {
        zmq_msg_t extra;
        zmq_msg_init (&extra);
        int rc = zmq_msg_recv (&extra, socket, ZMQ_DONTWAIT);
        bool more = rc >= 0 && zmq_msg_more (&extra);
        zmq_msg_close (&extra);
        if (!more)
            break;
    }
    return 0;
}

static bool
s_type_is (zmq_msg_t *type, const char *expected)
{
    size_t n = strlen (expected);
    return zmq_msg_size (type) == n && memcmp (zmq_msg_data (type), expected, n) == 0;
}

/* Replies from the router: each resumes the connection waiting for it. */
void
hm_worker_router_drain (ingest_worker_t *self)
{
    zmq_msg_t type, body;
    bool has_body;
    while (s_recv (self->dealer, &type, &body, &has_body) == 0) {
        if (s_type_is (&type, HM_WIRE_APPENDED) && has_body) {
            Hm__AppendReply *reply =
                hm__append_reply__unpack (NULL, zmq_msg_size (&body), zmq_msg_data (&body));
            hm_batch_t *b = reply ? hm_pending_take (self->pending, reply->batch_id) : NULL;
            if (!reply)
                hm_warn ("router sent an invalid AppendReply");
            else if (!b)
                /* Its clients were told 503 already and will send it again. */
                hm_debug ("late reply for batch %llu ignored", (unsigned long long)reply->batch_id);
            else if (reply->status == HM__APPEND_REPLY__STATUS__OK)
                hm_worker_batch_finish (self, b, 200, HM_REFUSAL_NONE, NULL);
            else if (reply->status == HM__APPEND_REPLY__STATUS__FULL)
                hm_worker_batch_finish (self, b, 503, HM_REFUSAL_LOG_FULL, "log full");
            else
                hm_worker_batch_finish (self, b, 503, HM_REFUSAL_ROUTER_ERROR,
                                        reply->reason && *reply->reason ? reply->reason
                                                                        : "router error");
            if (reply)
                hm__append_reply__free_unpacked (reply, NULL);
        }
        else
            hm_warn ("unexpected message from the router (%zu bytes of type)",
                     zmq_msg_size (&type));
        zmq_msg_close (&type);
        zmq_msg_close (&body);
    }
    zmq_msg_close (&type);
    zmq_msg_close (&body);
}

/* Control replies answer the oldest control request in flight. */
void
hm_worker_control_drain (ingest_worker_t *self)
{
    zmq_msg_t type, body;
    bool has_body;
    while (self->control && s_recv (self->control, &type, &body, &has_body) == 0) {
        Hm__ControlReply *reply = NULL;
        if (s_type_is (&type, HM_WIRE_CONTROLLED) && has_body)
            reply = hm__control_reply__unpack (NULL, zmq_msg_size (&body), zmq_msg_data (&body));
        zmq_msg_close (&type);
        zmq_msg_close (&body);
        if (!self->control_count) {
            hm_warn ("control reply with no request in flight ignored");
        }
        else {
            hm_control_req_t *req = &self->control_reqs[self->control_head];
            self->control_head = (self->control_head + 1) % HM_CONTROL_MAX;
            self->control_count--;
            bool status = req->command == HM__CONTROL_REQUEST__COMMAND__STATUS;
            if (reply && reply->ok) {
                if (status)
                    self->health_ok_until = hm_now_ms () + HM_HEALTH_CACHE_MS;
                for (ingest_conn_t *c = req->waiters, *next; c; c = next) {
                    next = c->next_waiter;
                    c->next_waiter = NULL;
                    hm_request_finish (c, 200, status ? HM_BODY_HEALTH_UP : HM_BODY_FLUSHED, NULL);
                }
                req->waiters = NULL;
            }
            else
                s_control_fail (req, !reply                            ? "invalid control reply"
                                     : reply->reason && *reply->reason ? reply->reason
                                     : status                          ? "router not ready"
                                                                       : "flush failed");
        }
        if (reply)
            hm__control_reply__free_unpacked (reply, NULL);
    }
    zmq_msg_close (&type);
    zmq_msg_close (&body);
}

/* The counters go on the append socket: the link the ingest already has,
   so the router (one scrape target per host) exports them without a port
   per ingest. DONTWAIT: with no router up, or its queue full, this report
   is skipped and the next one, a second later, carries the same totals. */
void
hm_worker_report (ingest_worker_t *self, int64_t now)
{
    self->report_ms = now;
    uint8_t body[HM_STATS_REPORT_MAX];
    size_t len = hm_ingest_stats_report (self->stats, self->report_name, now, body, sizeof body);
    if (len == 0)
        return;
    if (zmq_send (self->dealer, HM_WIRE_INGEST, strlen (HM_WIRE_INGEST),
                  ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return;
    zmq_send (self->dealer, body, len, ZMQ_DONTWAIT);
}

/* Answers what waited too long. */
void
hm_worker_expire (ingest_worker_t *self, int64_t now)
{
    hm_batch_t *b;
    while ((b = hm_pending_expire (self->pending, now)))
        hm_worker_batch_finish (self, b, 503, HM_REFUSAL_ROUTER_TIMEOUT,
                                "router did not answer in time");
    for (unsigned i = 0; i < self->control_count; i++)
        if (self->control_reqs[(self->control_head + i) % HM_CONTROL_MAX].deadline <= now) {
            hm_worker_control_reset (self, "router not reachable");
            break;
        }
}

/* How long the loop may sleep: MHD's timeout cut to the next deadline. */
