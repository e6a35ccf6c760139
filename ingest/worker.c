/*  worker: see worker.h. This file is the loop and the ZeroMQ side; the
    HTTP callbacks are in request.c.

    One turn of the loop: zmq_poll on {router DEALER, control DEALER, MHD's
    epoll fd, wake eventfd} with MHD's timeout shortened to the next
    deadline; drain every reply that arrived (each resumes a suspended
    connection); expire what is overdue; then MHD_run, which reads new
    requests (sending to the router from inside the handler) and writes the
    answers of resumed connections. zmq_poll on the socket itself checks
    ZMQ_EVENTS before sleeping, so the edge-triggered ZMQ_FD never loses a
    wake-up even though MHD_run sends on the socket between two polls. */
#include "worker_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "curve.h"
#include "digest.h"
#include "hm_log.h"
#include "pipeline.pb-c.h"
#include "wire.h"

#define S_HEALTH_UP "{\"up\":true,\"router\":true}"
#define S_FLUSHED "{\"flushed\":true}"
/* Request headers and MHD's read/write buffers per connection; bodies are
   kept in our own buffer, bounded by max_body_bytes. MHD clears this pool
   after every request, so it is kept small. */
#define S_CONNECTION_MEMORY (16u << 10)
/* How often a drained worker checks whether the others are done. */
#define S_DRAIN_TICK_MS 20
/* A turn's AppendRequest is sent early once it holds this many bytes (a
   single request may still make a larger one on its own). */
#define S_BATCH_BYTES (1u << 20)
#define S_DECODE_BLOCK (64u << 10) /* kept decode arena: a typical Collection, decoded */
/* AppendRequest field tags: batch_id = 1 (varint), events = 2 (bytes). */
#define S_TAG_BATCH_ID 0x08
#define S_TAG_EVENT 0x12

int64_t
hm_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A DEALER with explicit bounds. ZMQ_IMMEDIATE: while no router is
   connected a send fails at once (EAGAIN) instead of queueing requests
   that would reach a router long after their clients were told 503.
   monitor_p, if not NULL, gets a PAIR socket with the DEALER's connect and
   disconnect events, set up before the connect so none is missed. */
static void *
s_dealer_new (void *zmq_ctx, const hm_config_t *cfg, const char *endpoint, int hwm,
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
static void
s_monitor_drain (ingest_worker_t *self)
{
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    while (zmq_msg_recv (&frame, self->monitor, ZMQ_DONTWAIT) >= 0) {
        bool more = zmq_msg_more (&frame);
        if (zmq_msg_size (&frame) == 6) {
            uint16_t event;
            memcpy (&event, zmq_msg_data (&frame), sizeof event);
            if (event == ZMQ_EVENT_CONNECTED)
                self->append_links++;
            else if (event == ZMQ_EVENT_DISCONNECTED && self->append_links)
                self->append_links--;
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
s_mhd_log (void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf (line, sizeof line, fmt, ap);
    size_t n = strlen (line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    hm_warn ("http: %s", line);
}

static struct MHD_Response *
s_static_response (const char *body, bool json)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer (strlen (body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (r && json)
        MHD_add_response_header (r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return r;
}

ingest_worker_t *
ingest_worker_new (const hm_config_t *cfg, void *zmq_ctx, unsigned index, unsigned threads,
                   atomic_uint *undrained, hm_ingest_stats_t *stats, ingest_tls_t *tls,
                   const struct sockaddr *addr, socklen_t addr_len, char *errbuf, size_t errlen)
{
    (void)addr_len;
    ingest_worker_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (errbuf, errlen, "out of memory");
        return NULL;
    }
    self->cfg = cfg;
    self->index = index;
    self->zmq_ctx = zmq_ctx;
    self->undrained = undrained;
    self->stats = stats;
    self->tls = tls;
    self->epoll_fd = -1;
    unsigned connections = threads ? cfg->max_connections / threads : cfg->max_connections;
    if (connections == 0)
        connections = 1;
    if (cfg->maintenance_key && *cfg->maintenance_key) {
        self->flush_enabled = true;
        hm_sha256_hex (cfg->maintenance_key, strlen (cfg->maintenance_key), self->flush_key_hex);
    }
    hm_buf_init (&self->out, 0);
    hm_arena_init (&self->decode, S_DECODE_BLOCK);
    self->wake_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->pending = hm_pending_new (connections, (uint16_t)index);
    self->resp_ok = s_static_response ("", false);
    self->resp_no_content = s_static_response ("", false);
    self->resp_health_up = s_static_response (S_HEALTH_UP, true);
    self->resp_flushed = s_static_response (S_FLUSHED, true);
    if (self->wake_fd < 0 || !self->pending || !self->resp_ok || !self->resp_no_content ||
        !self->resp_health_up || !self->resp_flushed) {
        snprintf (errbuf, errlen, "out of resources: %s", strerror (errno));
        goto fail;
    }
    /* The append socket's links are watched: with ZMQ_IMMEDIATE a send
       fails while none is up, so /api/health must not say up before one is. */
    char monitor[64];
    snprintf (monitor, sizeof monitor, "inproc://ingest-append-monitor-%u", index);
    self->dealer = s_dealer_new (zmq_ctx, cfg, cfg->router_endpoint,
                                 (int)hm_pending_capacity (self->pending), monitor, &self->monitor);
    if (!self->dealer) {
        snprintf (errbuf, errlen, "router endpoint %s: %s", cfg->router_endpoint,
                  zmq_strerror (zmq_errno ()));
        goto fail;
    }
    self->control = s_dealer_new (zmq_ctx, cfg, cfg->control_endpoint, HM_CONTROL_MAX, NULL, NULL);
    if (!self->control) {
        snprintf (errbuf, errlen, "control endpoint %s: %s", cfg->control_endpoint,
                  zmq_strerror (zmq_errno ()));
        goto fail;
    }
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO | MHD_USE_ERROR_LOG |
                     (addr->sa_family == AF_INET6 ? MHD_USE_IPv6 : 0) | (tls ? MHD_USE_TLS : 0);
    /* TLS: the pair comes from tls.c's callback, so SIGHUP can replace it. */
    struct MHD_OptionItem tls_options[] = {
        {tls ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_END, 0, (void *)ingest_tls_retrieve},
        {MHD_OPTION_END, 0, NULL}};
    /* Every thread listens on the same address: the kernel spreads new
       connections over the threads' sockets (SO_REUSEPORT). */
    self->daemon = MHD_start_daemon (
        flags, 0, NULL, NULL, hm_request_access, self, MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)addr, MHD_OPTION_LISTENING_ADDRESS_REUSE,
        (unsigned int)1, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)S_CONNECTION_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, hm_request_completed, self, MHD_OPTION_NOTIFY_CONNECTION,
        hm_request_connection, self, MHD_OPTION_ARRAY, tls_options, MHD_OPTION_END);
    if (!self->daemon) {
        snprintf (errbuf, errlen, "cannot listen on %s:%u: %s", cfg->host, cfg->port,
                  strerror (errno));
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info) {
        snprintf (errbuf, errlen, "libmicrohttpd has no epoll fd");
        goto fail;
    }
    self->epoll_fd = info->epoll_fd;
    return self;
fail:
    ingest_worker_destroy (&self);
    return NULL;
}

/* Answers every waiter of control request req with a failure. */
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
static void
s_control_reset (ingest_worker_t *self, const char *reason)
{
    for (unsigned i = 0; i < self->control_count; i++)
        s_control_fail (&self->control_reqs[(self->control_head + i) % HM_CONTROL_MAX], reason);
    self->control_head = self->control_count = 0;
    if (self->control)
        zmq_close (self->control);
    self->control = s_dealer_new (self->zmq_ctx, self->cfg, self->cfg->control_endpoint,
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
        s_control_reset (self, "router not reachable");
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
static void
s_batch_finish (ingest_worker_t *self, hm_batch_t *batch, unsigned status, const char *reason)
{
    ingest_conn_t *c = batch->conns;
    if (c)
        self->resumed = true;
    while (c) {
        ingest_conn_t *next = c->batch_next;
        c->batch = NULL;
        c->batch_prev = c->batch_next = NULL;
        hm_request_finish (c, status, HM_BODY_NONE, reason);
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
static void
s_batch_flush (ingest_worker_t *self)
{
    hm_batch_t *batch = self->open_batch;
    if (!batch)
        return;
    self->open_batch = NULL;
    if (batch->count == 0) {
        /* Every waiter went away before the send: nothing to ask for. */
        hm_pending_take (self->pending, batch->id);
        s_batch_finish (self, batch, 503, NULL);
        return;
    }
    /* A multipart message is queued whole or not at all: once the first
       frame is accepted, the second is too. zmq_send copies the bytes. */
    if (zmq_send (self->dealer, HM_WIRE_APPEND, strlen (HM_WIRE_APPEND),
                  ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send (self->dealer, self->out.data, self->out.len, ZMQ_DONTWAIT) < 0) {
        int err = zmq_errno ();
        hm_pending_take (self->pending, batch->id);
        s_batch_finish (self, batch, 503,
                        err == EAGAIN ? "router not reachable or busy"
                                      : "could not send to the router");
    }
    hm_buf_reset (&self->out);
}

int
hm_worker_append (ingest_worker_t *self, ingest_conn_t *conn, Hm__Event *events, size_t n)
{
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = hm__event__get_packed_size (&events[i]);
        need += 1 + 10 + len;
    }
    if (self->open_batch && self->out.len + need > S_BATCH_BYTES)
        s_batch_flush (self);
    if (!self->open_batch) {
        hm_batch_t *batch = self->free_batches;
        if (batch)
            self->free_batches = batch->next;
        else if (!(batch = calloc (1, sizeof *batch))) {
            hm_request_finish (conn, 503, HM_BODY_NONE, "out of memory");
            return -1;
        }
        batch->conns = NULL;
        batch->count = 0;
        batch->next = NULL;
        if (hm_pending_add (self->pending, batch, hm_now_ms () + self->cfg->router_timeout_ms,
                            &batch->id) != 0) {
            batch->next = self->free_batches;
            self->free_batches = batch;
            hm_request_finish (conn, 503, HM_BODY_NONE, "too many requests waiting for the router");
            return -1;
        }
        hm_buf_reset (&self->out);
        uint8_t head[11];
        head[0] = S_TAG_BATCH_ID;
        size_t hl = 1 + s_put_varint (head + 1, batch->id);
        if (hm_buf_append (&self->out, head, hl) != 0) {
            hm_pending_take (self->pending, batch->id);
            s_batch_finish (self, batch, 503, NULL);
            hm_request_finish (conn, 503, HM_BODY_NONE, "out of memory");
            return -1;
        }
        self->open_batch = batch;
    }
    if (hm_buf_reserve (&self->out, need) != 0) {
        hm_request_finish (conn, 503, HM_BODY_NONE, "out of memory");
        return -1;
    }
    uint8_t *p = (uint8_t *)self->out.data + self->out.len;
    for (size_t i = 0; i < n; i++) {
        size_t len = hm__event__get_packed_size (&events[i]);
        *p++ = S_TAG_EVENT;
        p += s_put_varint (p, len);
        p += hm__event__pack (&events[i], p);
    }
    self->out.len = (size_t)(p - (uint8_t *)self->out.data);
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
        s_batch_finish (self, batch, 503, NULL);
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
static void
s_router_drain (ingest_worker_t *self)
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
                s_batch_finish (self, b, 200, NULL);
            else if (reply->status == HM__APPEND_REPLY__STATUS__FULL)
                s_batch_finish (self, b, 503, "log full");
            else
                s_batch_finish (self, b, 503,
                                reply->reason && *reply->reason ? reply->reason : "router error");
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
static void
s_control_drain (ingest_worker_t *self)
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

/* Answers what waited too long. */
static void
s_expire (ingest_worker_t *self, int64_t now)
{
    hm_batch_t *b;
    while ((b = hm_pending_expire (self->pending, now)))
        s_batch_finish (self, b, 503, "router did not answer in time");
    for (unsigned i = 0; i < self->control_count; i++)
        if (self->control_reqs[(self->control_head + i) % HM_CONTROL_MAX].deadline <= now) {
            s_control_reset (self, "router not reachable");
            break;
        }
}

/* How long the loop may sleep: MHD's timeout cut to the next deadline. */
static long
s_timeout (ingest_worker_t *self, int64_t now)
{
    long timeout = -1;
    MHD_UNSIGNED_LONG_LONG mhd;
    if (MHD_get_timeout (self->daemon, &mhd) == MHD_YES)
        timeout = mhd > 60000 ? 60000 : (long)mhd;
    int64_t deadline = hm_pending_next_deadline (self->pending);
    for (unsigned i = 0; i < self->control_count; i++) {
        int64_t d = self->control_reqs[(self->control_head + i) % HM_CONTROL_MAX].deadline;
        if (deadline < 0 || d < deadline)
            deadline = d;
    }
    if (self->stopping && (deadline < 0 || self->grace_deadline < deadline))
        deadline = self->grace_deadline;
    /* A drained worker waits for the others: look again soon. */
    if (self->drained && (deadline < 0 || now + S_DRAIN_TICK_MS < deadline))
        deadline = now + S_DRAIN_TICK_MS;
    if (deadline >= 0) {
        long wait = deadline > now ? (long)(deadline - now) : 0;
        if (timeout < 0 || wait < timeout)
            timeout = wait;
    }
    return timeout;
}

/* SIGTERM: no new connections; requests on open connections get 503; the
   batches already sent get their router's answer (or the deadline). */
static void
s_begin_stop (ingest_worker_t *self)
{
    self->stopping = true;
    self->grace_deadline = hm_now_ms () + self->cfg->router_timeout_ms + 1000;
    MHD_socket listener = MHD_quiesce_daemon (self->daemon);
    if (listener != MHD_INVALID_SOCKET)
        close (listener);
}

/* Whether the loop may end: this worker has nothing in flight and no
   other worker has either (or the grace period is over). */
static bool
s_drained (ingest_worker_t *self, int64_t now)
{
    if (now >= self->grace_deadline)
        return true;
    bool idle = hm_pending_size (self->pending) == 0 && self->control_count == 0 &&
                self->active_requests == 0;
    if (idle && !self->drained) {
        self->drained = true;
        atomic_fetch_sub (self->undrained, 1);
    }
    return idle && atomic_load (self->undrained) == 0;
}

static void *
s_run (void *arg)
{
    ingest_worker_t *self = arg;
    char name[16];
    snprintf (name, sizeof name, "ingest/%u", self->index);
    pthread_setname_np (pthread_self (), name);
    self->result = 0;
    while (true) {
        if (!self->stopping && atomic_load (&self->stop_requested))
            s_begin_stop (self);
        int64_t now = hm_now_ms ();
        if (self->stopping && s_drained (self, now))
            break;
        /* The control socket is only polled while a request is out on it
           (a reply can come only then): one zmq socket less per turn. */
        bool control = self->control && self->control_count;
        zmq_pollitem_t items[5] = {
            {self->dealer, 0, ZMQ_POLLIN, 0},      /* router replies */
            {NULL, self->epoll_fd, ZMQ_POLLIN, 0}, /* HTTP (MHD's epoll fd) */
            {NULL, self->wake_fd, ZMQ_POLLIN, 0},  /* ingest_worker_stop */
            {self->monitor, 0, ZMQ_POLLIN, 0},     /* append socket links */
            {self->control, 0, ZMQ_POLLIN, 0},     /* control replies (last: optional) */
        };
        if (zmq_poll (items, control ? 5 : 4, s_timeout (self, now)) < 0) {
            if (zmq_errno () == EINTR)
                continue;
            hm_error ("poll: %s", zmq_strerror (zmq_errno ()));
            self->result = -1;
            break;
        }
        if (items[2].revents & ZMQ_POLLIN) {
            uint64_t value;
            ssize_t rc = read (self->wake_fd, &value, sizeof value);
            (void)rc;
        }
        if (items[0].revents & ZMQ_POLLIN)
            s_router_drain (self);
        if (items[3].revents & ZMQ_POLLIN)
            s_monitor_drain (self);
        if (control && (items[4].revents & ZMQ_POLLIN))
            s_control_drain (self);
        s_expire (self, hm_now_ms ());
        /* MHD_run reads requests (each adds its events to this turn's
           batch), then the batch goes out as one message. A failed send
           resumes its connections after MHD_run: run it again so their 503
           goes out now rather than at the next wake-up. */
        do {
            self->resumed = false;
            MHD_run (self->daemon);
            s_batch_flush (self);
        } while (self->resumed);
    }
    /* Whatever still waits (the grace period ran out) is answered 503 and
       resumed, so that no connection stays suspended when MHD stops. */
    hm_batch_t *b;
    s_batch_flush (self);
    while ((b = hm_pending_pop (self->pending)))
        s_batch_finish (self, b, 503, "server is stopping");
    if (self->control_count)
        s_control_reset (self, "server is stopping");
    MHD_run (self->daemon);
    if (!self->drained) {
        self->drained = true;
        atomic_fetch_sub (self->undrained, 1);
    }
    atomic_store (&self->finished, true);
    return NULL;
}

int
ingest_worker_start (ingest_worker_t *self)
{
    if (pthread_create (&self->thread, NULL, s_run, self) != 0)
        return -1;
    self->started = true;
    return 0;
}

void
ingest_worker_stop (ingest_worker_t *self)
{
    atomic_store (&self->stop_requested, true);
    uint64_t one = 1;
    ssize_t rc = write (self->wake_fd, &one, sizeof one);
    (void)rc;
}

bool
ingest_worker_finished (ingest_worker_t *self)
{
    return atomic_load (&self->finished);
}

int
ingest_worker_join (ingest_worker_t *self)
{
    if (!self->started)
        return 0;
    pthread_join (self->thread, NULL);
    self->started = false;
    return self->result;
}

void
ingest_worker_destroy (ingest_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ingest_worker_t *self = *self_p;
    ingest_worker_join (self);
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    /* The monitor stops before its receiving socket closes: libzmq's I/O
       thread sends each event blocking, holding the monitor's lock, and a
       PAIR with no peer never takes it (the router going away at the same
       moment sent one), so the other order hung the stop for good. */
    if (self->dealer)
        zmq_socket_monitor (self->dealer, NULL, 0);
    if (self->monitor)
        zmq_close (self->monitor);
    if (self->dealer)
        zmq_close (self->dealer);
    if (self->control)
        zmq_close (self->control);
    if (self->wake_fd >= 0)
        close (self->wake_fd);
    struct MHD_Response *responses[] = {self->resp_ok, self->resp_no_content, self->resp_health_up,
                                        self->resp_flushed};
    for (size_t i = 0; i < sizeof responses / sizeof responses[0]; i++)
        if (responses[i])
            MHD_destroy_response (responses[i]);
    hm_pending_destroy (&self->pending);
    while (self->free_batches) {
        hm_batch_t *next = self->free_batches->next;
        free (self->free_batches);
        self->free_batches = next;
    }
    hm_buf_free (&self->out);
    hm_arena_destroy (&self->decode);
    free (self);
    *self_p = NULL;
}
