/*  dispatch: see dispatch.h.

    Instances live in a fixed array of DISPATCH_MAX_INSTANCES slots: a
    batch in flight points at its instance's slot (route_batch_t.owner),
    and slots never move, so that pointer stays valid until the instance
    dies, which first takes its batches back. Credit is counted per slot:
    free = credit announced - batches it holds. */
#include "dispatch.h"

#include "curve.h"
#include "hm_log.h"
#include "log_lines.h"
#include "pipeline.pb-c.h"
#include "wire.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_MAX_CREDIT 1024 /* a READY asking for more is clamped */
#define S_MAX_ID 255      /* ZeroMQ routing ids are at most this long */

typedef struct {
    bool used;                   /* slot holds a live instance */
    uint8_t id[S_MAX_ID];        /* its routing id */
    size_t id_len;               /* its length */
    char name[24];               /* hex of the id, for log lines */
    uint32_t credit;             /* batches it said it can hold */
    uint32_t inflight;           /* batches it holds */
    uint64_t last_recv_ms;       /* last message from it */
    uint64_t last_send_ms;       /* last message to it */
    uint64_t delivered;          /* batches sent to it */
    bool has_stats;              /* it reported its counters (SinkStats) */
    dispatch_sink_stats_t stats; /* the last it reported */
    /* Its last warnings or errors (SinkStats.recent_errors), newest first. */
    hm_log_entry_t errors[HM_LOG_LINES_SENT];
    size_t nerrors; /* how many of errors are set */
} s_instance_t;

struct _dispatch_t {
    route_t *route;                            /* the route served (not owned) */
    const hm_config_t *cfg;                    /* heartbeat_ms, sink_timeout_ms, sink_credit */
    void *sock;                                /* ROUTER bound at the route's endpoint */
    s_instance_t inst[DISPATCH_MAX_INSTANCES]; /* instances, by slot */
    size_t ninst;                              /* live instances */
    size_t rr;                                 /* round-robin start among equally free instances */
    uint64_t delivered;                        /* batches sent */
    uint64_t redelivered;                      /* ... of which were sent before */
    uint64_t joined;                           /* instances that said READY */
    uint64_t died;                             /* instances declared dead */
    uint64_t ignored;                          /* READYs beyond DISPATCH_MAX_INSTANCES */
    uint64_t bad;                              /* malformed messages dropped */
    uint64_t stale;                            /* ACK/NACKs matching no batch (duplicates) */
    uint64_t dead_lettered;                    /* events the sinks' ACKs said were dead-lettered */
};

dispatch_t *
dispatch_new (void *zctx, route_t *route, const hm_config_t *cfg, char *errbuf, size_t errlen)
{
    const hm_route_config_t *rc = route_config (route);
    dispatch_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (errbuf, errlen, "out of memory");
        return NULL;
    }
    self->route = route;
    self->cfg = cfg;
    self->sock = zmq_socket (zctx, ZMQ_ROUTER);
    int one = 1;
    if (!self->sock || hm_wire_setup (self->sock, 1000, 1000, 0) != 0 ||
        hm_curve_apply (self->sock, cfg, true) != 0 ||
        zmq_setsockopt (self->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0 ||
        zmq_bind (self->sock, rc->endpoint) != 0) {
        snprintf (errbuf, errlen, "route %s: cannot bind %s: %s", rc->name,
                  rc->endpoint ? rc->endpoint : "(no endpoint)", zmq_strerror (zmq_errno ()));
        dispatch_destroy (&self);
        return NULL;
    }
    return self;
}

void
dispatch_destroy (dispatch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dispatch_t *self = *self_p;
    if (self->sock)
        zmq_close (self->sock);
    free (self);
    *self_p = NULL;
}

void *
dispatch_socket (dispatch_t *self)
{
    return self->sock;
}

route_t *
dispatch_route (dispatch_t *self)
{
    return self->route;
}

size_t
dispatch_instance_count (const dispatch_t *self)
{
    return self->ninst;
}

static s_instance_t *
s_find (dispatch_t *self, const uint8_t *id, size_t len)
{
    for (size_t i = 0; i < DISPATCH_MAX_INSTANCES; i++)
        if (self->inst[i].used && self->inst[i].id_len == len &&
            memcmp (self->inst[i].id, id, len) == 0)
            return &self->inst[i];
    return NULL;
}

static void
s_update_readahead (dispatch_t *self)
{
    size_t credit = 0;
    for (size_t i = 0; i < DISPATCH_MAX_INSTANCES; i++)
        if (self->inst[i].used)
            credit += self->inst[i].credit;
    /* Enough sealed batches to fill every instance, plus two ready to go;
       a route without instances holds two and stops reading: it lags, it
       does not grow. */
    route_set_readahead (self->route, credit + 2);
}

static void
s_kill (dispatch_t *self, s_instance_t *inst, const char *why)
{
    size_t n = route_requeue_owner (self->route, inst);
    hm_warn ("route %s: sink instance %s dead (%s); %zu batches back in the queue",
             route_name (self->route), inst->name, why, n);
    inst->used = false;
    self->ninst--;
    self->died++;
    s_update_readahead (self);
}

static s_instance_t *
s_join (dispatch_t *self, const uint8_t *id, size_t len, uint32_t credit, uint64_t now_ms)
{
    if (self->ninst >= DISPATCH_MAX_INSTANCES) {
        if (self->ignored++ % 1000 == 0)
            hm_warn ("route %s: READY ignored: already %d sink instances", route_name (self->route),
                     DISPATCH_MAX_INSTANCES);
        return NULL;
    }
    s_instance_t *inst = NULL;
    for (size_t i = 0; i < DISPATCH_MAX_INSTANCES && !inst; i++)
        if (!self->inst[i].used)
            inst = &self->inst[i];
    memset (inst, 0, sizeof *inst);
    inst->used = true;
    memcpy (inst->id, id, len);
    inst->id_len = len;
    size_t n = 0;
    for (size_t i = 0; i < len && n + 2 < sizeof inst->name; i++)
        n += (size_t)snprintf (inst->name + n, sizeof inst->name - n, "%02x", id[i]);
    inst->credit = credit;
    inst->last_recv_ms = now_ms;
    inst->last_send_ms = 0; /* send a heartbeat at once: it learns we are here */
    self->ninst++;
    self->joined++;
    hm_info ("route %s: sink instance %s joined (credit %u)", route_name (self->route), inst->name,
             credit);
    s_update_readahead (self);
    return inst;
}

/* A sink's SinkStats into what the metrics show. Fields an older sink
   does not send stay unset (no series); classes a newer sink knows and we
   do not count as "other"; a bucket list of another length (other bounds)
   is not ours to read, so no histogram. */
static void
s_take_stats (dispatch_sink_stats_t *out, const Hm__SinkStats *st)
{
    *out = (dispatch_sink_stats_t){.instance = st->instance,
                                   .batches = st->batches,
                                   .events = st->events,
                                   .retries = st->retries,
                                   .dead_lettered = st->dead_lettered,
                                   .held = st->held,
                                   .last_success = st->last_success,
                                   .has_attempts = st->has_attempts,
                                   .attempts = st->attempts};
    if (st->n_retries_by_reason) {
        out->has_by_reason = true;
        for (size_t i = 0; i < st->n_retries_by_reason; i++)
            out->retries_by[i < HM_RETRY_CLASSES ? i : HM_RETRY_OTHER] += st->retries_by_reason[i];
    }
    /* A sum that is no duration (NaN, negative: a broken peer) would make
       the exposition invalid: no histogram then either. */
    if (st->n_request_buckets == HM_REQUEST_BOUNDS + 1 && isfinite (st->request_seconds) &&
        st->request_seconds >= 0) {
        out->has_requests = true;
        memcpy (out->request_buckets, st->request_buckets, sizeof out->request_buckets);
        out->request_seconds = st->request_seconds;
    }
}

static void
s_handle (dispatch_t *self, const uint8_t *id, size_t id_len, const Hm__SinkMessage *m,
          uint64_t now_ms)
{
    s_instance_t *inst = s_find (self, id, id_len);
    if (inst)
        inst->last_recv_ms = now_ms;
    if (inst && m->stats) {
        const Hm__SinkStats *st = m->stats;
        inst->has_stats = true;
        s_take_stats (&inst->stats, st);
        /* None sent (an older sink, or nothing went wrong): none held. */
        inst->nerrors = hm_log_lines_take (inst->errors, HM_LOG_LINES_SENT, st->recent_errors,
                                           st->n_recent_errors, hm_log_lines_wall_ms ());
    }
    void *owner = NULL;
    switch (m->kind) {
    case HM__SINK_MESSAGE__KIND__READY: {
        uint32_t credit = m->has_credit ? m->credit : self->cfg->sink_credit;
        credit = credit < 1 ? 1 : credit > S_MAX_CREDIT ? S_MAX_CREDIT : credit;
        if (inst) {
            inst->credit = credit;
            s_update_readahead (self);
        }
        else
            s_join (self, id, id_len, credit, now_ms);
        break;
    }
    case HM__SINK_MESSAGE__KIND__ACK:
    case HM__SINK_MESSAGE__KIND__NACK: {
        if (!m->has_first_offset || !m->has_last_offset) {
            self->bad++;
            return;
        }
        bool ack = m->kind == HM__SINK_MESSAGE__KIND__ACK;
        int rc = ack ? route_ack (self->route, m->first_offset, m->last_offset, &owner)
                     : route_nack (self->route, m->first_offset, m->last_offset,
                                   now_ms + DISPATCH_NACK_DELAY_MS, &owner);
        if (rc == 0) {
            self->stale++;
            return;
        }
        if (owner) {
            s_instance_t *holder = owner;
            if (holder->inflight)
                holder->inflight--;
        }
        if (ack && m->has_dead_lettered)
            self->dead_lettered += m->dead_lettered;
        if (ack && m->has_dead_lettered && m->dead_lettered)
            hm_warn ("route %s: batch %" PRIu64 "..%" PRIu64 ": %u events dead-lettered",
                     route_name (self->route), m->first_offset, m->last_offset, m->dead_lettered);
        if (!ack)
            hm_info ("route %s: batch %" PRIu64 "..%" PRIu64 " handed back (%s)",
                     route_name (self->route), m->first_offset, m->last_offset,
                     m->reason ? m->reason : "no reason");
        break;
    }
    case HM__SINK_MESSAGE__KIND__HEARTBEAT:
    default:
        break;
    }
}

/* Receives one frame (non-blocking); *more: whether more frames follow. */
static int
s_recv_frame (void *sock, zmq_msg_t *msg, bool *more)
{
    if (zmq_msg_recv (msg, sock, ZMQ_DONTWAIT) < 0)
        return -1;
    *more = zmq_msg_more (msg);
    return 0;
}

void
dispatch_recv (dispatch_t *self, uint64_t now_ms, size_t max)
{
    for (size_t i = 0; i < max; i++) {
        zmq_msg_t id, type, body;
        zmq_msg_init (&id);
        bool more = false;
        if (s_recv_frame (self->sock, &id, &more) != 0) {
            zmq_msg_close (&id);
            return;
        }
        zmq_msg_init (&type);
        zmq_msg_init (&body);
        bool ok = more && s_recv_frame (self->sock, &type, &more) == 0 && more &&
                  s_recv_frame (self->sock, &body, &more) == 0;
        while (more) { /* drain extra frames: a malformed message */
            zmq_msg_t extra;
            zmq_msg_init (&extra);
            if (zmq_msg_recv (&extra, self->sock, ZMQ_DONTWAIT) < 0)
                more = false;
            else
                more = zmq_msg_more (&extra);
            zmq_msg_close (&extra);
            ok = false;
        }
        Hm__SinkMessage *m = NULL;
        if (ok && zmq_msg_size (&type) == strlen (HM_WIRE_SINK) &&
            memcmp (zmq_msg_data (&type), HM_WIRE_SINK, strlen (HM_WIRE_SINK)) == 0)
            m = hm__sink_message__unpack (NULL, zmq_msg_size (&body), zmq_msg_data (&body));
        if (m && zmq_msg_size (&id) <= S_MAX_ID)
            s_handle (self, zmq_msg_data (&id), zmq_msg_size (&id), m, now_ms);
        else if (self->bad++ % 1000 == 0)
            hm_warn ("route %s: malformed message from a sink dropped", route_name (self->route));
        if (m)
            hm__sink_message__free_unpacked (m, NULL);
        zmq_msg_close (&id);
        zmq_msg_close (&type);
        zmq_msg_close (&body);
    }
}

/* Sends [id][type][body]. 0, or -1 with errno (EHOSTUNREACH: gone, EAGAIN: full). */
static int
s_send (dispatch_t *self, s_instance_t *inst, const char *type, const void *body, size_t len)
{
    if (zmq_send (self->sock, inst->id, inst->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    /* Once the id frame is accepted the rest of the message goes through. */
    if (zmq_send (self->sock, type, strlen (type), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send (self->sock, body, len, ZMQ_DONTWAIT) < 0)
        return -1;
    return 0;
}

static s_instance_t *
s_pick (dispatch_t *self)
{
    s_instance_t *best = NULL;
    uint32_t best_free = 0;
    for (size_t k = 0; k < DISPATCH_MAX_INSTANCES; k++) {
        s_instance_t *inst = &self->inst[(self->rr + k) % DISPATCH_MAX_INSTANCES];
        if (inst->used && inst->credit > inst->inflight &&
            inst->credit - inst->inflight > best_free)
            best = inst, best_free = inst->credit - inst->inflight;
    }
    if (best)
        self->rr = (size_t)(best - self->inst) + 1;
    return best;
}

void
dispatch_run (dispatch_t *self, uint64_t now_ms)
{
    for (size_t i = 0; i < DISPATCH_MAX_INSTANCES; i++) {
        s_instance_t *inst = &self->inst[i];
        if (inst->used && now_ms >= inst->last_recv_ms + self->cfg->sink_timeout_ms)
            s_kill (self, inst, "silent");
    }
    route_batch_t *b;
    while ((b = route_next_ready (self->route, now_ms))) {
        s_instance_t *inst = s_pick (self);
        if (!inst)
            break;
        if (s_send (self, inst, HM_WIRE_DELIVER, b->msg, b->msg_len) != 0) {
            if (zmq_errno () == EHOSTUNREACH) {
                s_kill (self, inst, "unreachable");
                continue;
            }
            break; /* EAGAIN: its pipe is full; try again on the next round */
        }
        if (b->deliveries)
            self->redelivered++;
        route_mark_sent (self->route, b, inst);
        inst->inflight++;
        inst->delivered++;
        inst->last_send_ms = now_ms;
        self->delivered++;
    }
    uint8_t hb[16];
    Hm__SinkMessage m = HM__SINK_MESSAGE__INIT;
    m.kind = HM__SINK_MESSAGE__KIND__HEARTBEAT;
    size_t hb_len = hm__sink_message__pack (&m, hb);
    for (size_t i = 0; i < DISPATCH_MAX_INSTANCES; i++) {
        s_instance_t *inst = &self->inst[i];
        if (!inst->used || now_ms < inst->last_send_ms + self->cfg->heartbeat_ms)
            continue;
        if (s_send (self, inst, HM_WIRE_SINK, hb, hb_len) == 0)
            inst->last_send_ms = now_ms;
        else if (zmq_errno () == EHOSTUNREACH)
            s_kill (self, inst, "unreachable");
    }
}

uint64_t
dispatch_next_deadline (const dispatch_t *self)
{
    uint64_t t = UINT64_MAX;
    bool credit = false;
    for (size_t i = 0; i < DISPATCH_MAX_INSTANCES; i++) {
        const s_instance_t *inst = &self->inst[i];
        if (!inst->used)
            continue;
        uint64_t hb = inst->last_send_ms + self->cfg->heartbeat_ms;
        uint64_t dead = inst->last_recv_ms + self->cfg->sink_timeout_ms;
        t = hb < t ? hb : t;
        t = dead < t ? dead : t;
        credit |= inst->credit > inst->inflight;
    }
    if (credit) {
        uint64_t retry = route_next_retry (self->route);
        t = retry < t ? retry : t;
    }
    return t;
}

void
dispatch_forget_inflight (dispatch_t *self)
{
    for (size_t i = 0; i < DISPATCH_MAX_INSTANCES; i++)
        self->inst[i].inflight = 0;
}

void
dispatch_status (const dispatch_t *self, uint64_t now_ms, hm_buf_t *out)
{
    hm_buf_printf (out,
                   "\"delivered\":%" PRIu64 ",\"redelivered\":%" PRIu64 ",\"joined\":%" PRIu64
                   ",\"died\":%" PRIu64 ",\"ignored_ready\":%" PRIu64 ",\"malformed\":%" PRIu64
                   ",\"stale_answers\":%" PRIu64 ",\"instances\":[",
                   self->delivered, self->redelivered, self->joined, self->died, self->ignored,
                   self->bad, self->stale);
    bool first = true;
    for (size_t i = 0; i < DISPATCH_MAX_INSTANCES; i++) {
        const s_instance_t *inst = &self->inst[i];
        if (!inst->used)
            continue;
        hm_buf_printf (out,
                       "%s{\"id\":\"%s\",\"credit\":%u,\"inflight\":%u,\"delivered\":%" PRIu64
                       ",\"silent_ms\":%" PRIu64 "}",
                       first ? "" : ",", inst->name, inst->credit, inst->inflight, inst->delivered,
                       now_ms - inst->last_recv_ms);
        first = false;
    }
    hm_buf_puts (out, "]");
}

void
dispatch_counters (const dispatch_t *self, dispatch_counters_t *c)
{
    c->delivered = self->delivered;
    c->redelivered = self->redelivered;
    c->joined = self->joined;
    c->died = self->died;
    c->malformed = self->bad;
    c->stale = self->stale;
    c->dead_lettered = self->dead_lettered;
}

size_t
dispatch_sink_stats (const dispatch_t *self, dispatch_sink_stats_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < DISPATCH_MAX_INSTANCES && n < max; i++) {
        const s_instance_t *inst = &self->inst[i];
        if (!inst->used || !inst->has_stats)
            continue;
        /* Two instances claiming one number (a config mistake) would make
           duplicate series: the first one counts. */
        bool dup = false;
        for (size_t j = 0; j < n; j++)
            dup |= out[j].instance == inst->stats.instance;
        if (!dup) {
            out[n] = inst->stats;
            out[n++].inflight = inst->inflight;
        }
    }
    return n;
}

size_t
dispatch_recent_errors (const dispatch_t *self, dispatch_error_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < DISPATCH_MAX_INSTANCES; i++) {
        const s_instance_t *inst = &self->inst[i];
        for (size_t k = 0; inst->used && inst->has_stats && k < inst->nerrors && n < max; k++)
            out[n++] =
                (dispatch_error_t){.instance = inst->stats.instance, .entry = inst->errors[k]};
    }
    return n;
}
