/*  request: the HTTP side of an ingest thread, as libmicrohttpd callbacks.

    MHD calls the access handler once with the headers, once per piece of
    body, and once more with nothing when the body is complete. A track
    request is decided on that last call: verified, decoded, turned into
    events and sent to the router; the connection is then suspended until
    the router's reply (or the deadline) resumes it, and MHD calls the
    handler again, which queues the answer. Every answer goes through
    s_queue, so all error bodies, headers and log lines come from one place.

    The success path does not log, builds no response (200 and 204 are
    shared, built once) and reuses the connection's body buffer. */
#include "worker_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zmq.h>

#include "event.h"
#include "hm_log.h"
#include "inflate.h"
#include "payload.pb-c.h"
#include "pipeline.pb-c.h"
#include "track.h"
#include "wire.h"

/* An idle connection keeps a body buffer up to this size for its next
   request; a larger one (from a rare big request) is given back. */
#define S_KEEP_BODY_BYTES (64u << 10)

/* Monotonic microseconds: the latency histogram starts at 0.1 ms. */
static uint64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
s_decide (ingest_conn_t *c, unsigned status, hm_answer_body_t body, const char *reason)
{
    c->status = status;
    c->answer_body = body;
    /* Every answer passes here: no snprintf for the common empty reason. */
    if (reason && *reason)
        snprintf (c->reason, sizeof c->reason, "%s", reason);
    else
        c->reason[0] = '\0';
    c->state = HM_CONN_DONE;
}

static void
s_suspend (ingest_conn_t *c)
{
    c->state = HM_CONN_WAIT;
    c->suspended = true;
    MHD_suspend_connection (c->connection);
}

void
hm_request_finish (ingest_conn_t *conn, unsigned status, hm_answer_body_t body, const char *reason)
{
    s_decide (conn, status, body, reason);
    if (conn->suspended) {
        conn->suspended = false;
        /* MHD calls the access handler again on its next run, which queues
           the answer decided above. */
        MHD_resume_connection (conn->connection);
    }
}

void
hm_request_refuse (ingest_conn_t *conn, unsigned status, hm_refusal_t why, const char *reason)
{
    conn->refusal = why;
    hm_request_finish (conn, status, HM_BODY_NONE, reason);
}

/* Queues the decided answer. Error answers are built here (JSON body,
   Content-Type, Retry-After, Allow) and logged once. */
static enum MHD_Result
s_queue (ingest_conn_t *c)
{
    ingest_worker_t *w = c->worker;
    struct MHD_Response *response = NULL;
    bool shared = true;
    c->state = HM_CONN_QUEUED;
    hm_ingest_stats_count (w->stats, c->status, c->kind == HM_REQ_TRACK && c->status == 200,
                           c->events);
    uint64_t now_us = s_now_us ();
    hm_ingest_stats_latency (w->stats, now_us > c->head_us ? now_us - c->head_us : 0);
    hm_ingest_stats_refused (w->stats, c->refusal);
    if (c->status == 200 && c->answer_body == HM_BODY_STATS) {
        char body[HM_STATS_JSON_MAX];
        size_t len = hm_ingest_stats_json (w->stats, hm_now_ms (), body, sizeof body);
        response = MHD_create_response_from_buffer (len, body, MHD_RESPMEM_MUST_COPY);
        if (!response)
            return MHD_NO;
        shared = false;
        MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    }
    else if (c->status == 200) {
        response = c->answer_body == HM_BODY_HEALTH_UP ? w->resp_health_up
                   : c->answer_body == HM_BODY_FLUSHED ? w->resp_flushed
                                                       : w->resp_ok;
    }
    else if (c->status == 204)
        response = w->resp_no_content;
    else {
        char body[sizeof c->reason * 6 + 64];
        size_t len = hm_ingest_error_json (body, sizeof body - 16, c->reason);
        if (c->answer_body == HM_BODY_HEALTH_DOWN) {
            /* {"error":...} becomes {"up":false,"error":...} */
            memmove (body + 11, body, len + 1);
            memcpy (body, "{\"up\":false,", 12);
            len += 11;
        }
        response = MHD_create_response_from_buffer (len, body, MHD_RESPMEM_MUST_COPY);
        if (!response)
            return MHD_NO;
        shared = false;
        MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        if (c->status == 503) {
            char seconds[16];
            snprintf (seconds, sizeof seconds, "%u", w->cfg->retry_after_s);
            MHD_add_response_header (response, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
        }
        if (c->allow)
            MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, c->allow);
        if (w->stopping)
            MHD_add_response_header (response, MHD_HTTP_HEADER_CONNECTION, "close");
        hm_warn ("%u %s: %s", c->status, c->url ? c->url : "?", c->reason);
    }
    enum MHD_Result rc = MHD_queue_response (c->connection, c->status, response);
    if (!shared)
        MHD_destroy_response (response);
    return rc;
}

static const char *
s_header (ingest_conn_t *c, const char *name)
{
    return MHD_lookup_connection_value (c->connection, MHD_HEADER_KIND, name);
}

/* hm_ingest_head's header lookup: libmicrohttpd's. */
static const char *
s_header_plain (void *ctx, const char *name)
{
    return s_header (ctx, name);
}

/* Every X-Forwarded-For line of a request, joined in order with ", " as
   RFC 9110 says repeated fields combine. A proxy (HAProxy's option
   forwardfor) adds its own line after the client's, so reading only the
   first line, as libmicrohttpd's lookup does, would read the client's
   claim. Bound: 2 KiB; a longer list becomes "-" (no address), so the
   trusted peer itself is recorded (common/client_ip.h). */
#define S_XFF_MAX 2048

typedef struct {
    ingest_conn_t *conn;
    char xff[S_XFF_MAX];
    size_t len;
    bool any, overflow;
} s_headers_t;

static enum MHD_Result
s_xff_line (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    s_headers_t *h = cls;
    if (!key || !value || strcasecmp (key, "X-Forwarded-For") != 0 || h->overflow)
        return MHD_YES;
    size_t add = strlen (value) + (h->any ? 2 : 0);
    if (h->len + add >= sizeof h->xff) {
        h->overflow = true;
        return MHD_YES;
    }
    if (h->any)
        memcpy (h->xff + h->len, ", ", 2);
    memcpy (h->xff + h->len + (h->any ? 2 : 0), value, strlen (value) + 1);
    h->len += add;
    h->any = true;
    return MHD_YES;
}

/* hm_track_decide's header lookup: libmicrohttpd's, X-Forwarded-For joined. */
static const char *
s_header_fn (void *ctx, const char *name)
{
    s_headers_t *h = ctx;
    if (strcasecmp (name, "X-Forwarded-For") != 0)
        return s_header (h->conn, name);
    h->len = 0;
    h->any = h->overflow = false;
    h->xff[0] = '\0';
    MHD_get_connection_values (h->conn->connection, MHD_HEADER_KIND, s_xff_line, h);
    if (h->overflow)
        return "-";
    return h->any ? h->xff : NULL;
}

/* Turns a valid collection into events and adds them to this turn's
   AppendRequest (worker.c sends it once MHD_run returns). */
static void
s_track_send (ingest_conn_t *c, const Collection *col, const char *ip)
{
    if (hm_worker_append (c->worker, c, col, ip) == 0) {
        c->events = col->n_payloads;
        s_suspend (c);
    }
}

/* POST /api/v1/track with its whole body: decided by hm_track_decide
   (track.c). */
static void
s_track (ingest_conn_t *c)
{
    ingest_worker_t *w = c->worker;
    if (w->stopping) {
        c->refusal = HM_REFUSAL_STOPPING;
        s_decide (c, 503, HM_BODY_NONE, "server is stopping");
        return;
    }
    s_headers_t headers = {.conn = c};
    hm_track_request_t req = {
        s_header_fn,          &headers,    c->peer, c->body.data ? c->body.data : "", c->body.len,
        (int64_t)time (NULL), &c->inflated};
    hm_track_answer_t answer;
    if (hm_track_decide (w->cfg, &w->decode, &req, &answer) == 200)
        s_track_send (c, answer.col, answer.ip);
    else {
        c->refusal = answer.refusal;
        s_decide (c, answer.status, HM_BODY_NONE, answer.reason);
    }
    hm_track_release (&w->decode, &answer);
}

/* GET/HEAD /api/health */
static void
s_health (ingest_conn_t *c)
{
    ingest_worker_t *w = c->worker;
    if (w->stopping)
        s_decide (c, 503, HM_BODY_HEALTH_DOWN, "server is stopping");
    /* The control socket may connect before the append socket does; up
       means a track request would be taken now, on whichever thread it
       lands, so every thread's append socket must be linked. */
    else if (!w->append_links || atomic_load (w->unlinked) != 0)
        s_decide (c, 503, HM_BODY_HEALTH_DOWN, "router not connected");
    else if (hm_now_ms () < w->health_ok_until)
        s_decide (c, 200, HM_BODY_HEALTH_UP, NULL);
    else if (hm_worker_control (w, c, HM__CONTROL_REQUEST__COMMAND__STATUS) == 0)
        s_suspend (c);
}

/* The maintenance endpoints' key check: true if the request may go on,
   else its answer is decided (503 without a configured key, 401). */
static bool
s_maintenance_key_ok (ingest_conn_t *c)
{
    ingest_worker_t *w = c->worker;
    if (!w->flush_enabled)
        s_decide (c, 503, HM_BODY_NONE, "no maintenance_key is configured");
    else if (!hm_ingest_maintenance_key_ok (s_header (c, HM_HEADER_MAINTENANCE_KEY),
                                            w->flush_key_hex))
        s_decide (c, 401, HM_BODY_NONE, "X-Hamustro-Maintenance-Key header is invalid");
    else
        return true;
    return false;
}

/* POST /api/flush */
static void
s_flush (ingest_conn_t *c)
{
    ingest_worker_t *w = c->worker;
    if (!s_maintenance_key_ok (c))
        return;
    if (w->stopping)
        s_decide (c, 503, HM_BODY_NONE, "server is stopping");
    else if (hm_worker_control (w, c, HM__CONTROL_REQUEST__COMMAND__FLUSH) == 0)
        s_suspend (c);
}

/* GET/HEAD /api/stats: the counters, behind the maintenance key as flush is
   (they tell how much traffic a deployment takes). */
static void
s_stats (ingest_conn_t *c)
{
    if (s_maintenance_key_ok (c))
        s_decide (c, 200, HM_BODY_STATS, NULL);
}

static bool
s_has_body (ingest_conn_t *c)
{
    const char *length = s_header (c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n = 0;
    if (s_header (c, MHD_HTTP_HEADER_TRANSFER_ENCODING))
        return true;
    return length && (hm_ingest_parse_length (length, &n) != 0 || n > 0);
}

/* The first callback of a request: only the headers are known. Decides
   what can be decided without the body. */
static void
s_begin (ingest_conn_t *c, const char *url, const char *method)
{
    ingest_worker_t *w = c->worker;
    c->url = url;
    c->head_us = s_now_us ();
    c->refusal = HM_REFUSAL_NONE;
    c->status = 0;
    c->answer_body = HM_BODY_NONE;
    c->allow = NULL;
    c->reason[0] = '\0';
    c->suspended = false;
    c->batch = NULL;
    c->discarded = 0;
    c->events = 0;
    c->next_waiter = NULL;
    hm_buf_reset (&c->body);
    const char *reason = "";
    uint64_t n = 0;
    unsigned status = hm_ingest_head (url, method, w->stopping, s_header_plain, c,
                                      w->cfg->max_body_bytes, &c->kind, &c->allow, &reason, &n);
    if (status) {
        /* From the head alone: a Content-Length past the bound, or stopping. */
        c->refusal = status == 413   ? HM_REFUSAL_BODY_TOO_LARGE
                     : status == 503 ? HM_REFUSAL_STOPPING
                                     : HM_REFUSAL_NONE;
        s_decide (c, status,
                  status == 503 && c->kind == HM_REQ_HEALTH ? HM_BODY_HEALTH_DOWN : HM_BODY_NONE,
                  reason);
        return;
    }
    if (n && hm_buf_reserve (&c->body, (size_t)n) != 0) {
        s_decide (c, 503, HM_BODY_NONE, "out of memory");
        return;
    }
    c->state = HM_CONN_BODY;
}

/* The last callback of a request's body: decides or starts waiting. */
static void
s_body_done (ingest_conn_t *c)
{
    switch (c->kind) {
    case HM_REQ_TRACK:
        s_track (c);
        break;
    case HM_REQ_HEALTH:
        s_health (c);
        break;
    case HM_REQ_FLUSH:
        s_flush (c);
        break;
    case HM_REQ_STATS:
        s_stats (c);
        break;
    default:
        s_decide (c, 404, HM_BODY_NONE, "not found");
        break;
    }
}

/* Whether a request answered from its headers alone has its body read
   and dropped before the answer goes out (nginx's lingering close): a
   client that sends its whole body before reading (no Expect:
   100-continue: Python's urllib, most mobile SDKs) would otherwise see a
   reset, as the kernel resets a connection closed with unread data, and
   send the same request again. Not when the client waits for the answer
   (Expect: 100-continue), for a body announced past linger_max_bytes, nor
   while stopping: the answer then goes out at once and MHD closes the
   connection without reading the body. The police (police.h) bounds the
   time, s_discard the bytes. */
static bool
s_linger (ingest_conn_t *c)
{
    const hm_config_t *cfg = c->worker->cfg;
    const char *expect = s_header (c, MHD_HTTP_HEADER_EXPECT);
    const char *length = s_header (c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n = 0;
    if (c->worker->stopping || cfg->linger_max_bytes == 0 || cfg->linger_timeout_s == 0 ||
        (expect && strcasecmp (expect, "100-continue") == 0))
        return false;
    return !length || (hm_ingest_parse_length (length, &n) == 0 && n <= cfg->linger_max_bytes);
}

/* Drops body bytes of a request whose answer is decided. Reading is
   bounded: past linger_max_bytes, the connection is closed instead. */
static enum MHD_Result
s_discard (ingest_conn_t *c, const char *url, size_t *upload_data_size)
{
    c->discarded += *upload_data_size;
    *upload_data_size = 0;
    if (c->discarded <= c->worker->cfg->linger_max_bytes)
        return MHD_YES;
    hm_warn ("%u %s: %s; body still coming, closing the connection", c->status, url, c->reason);
    return MHD_NO;
}

enum MHD_Result
hm_request_access (void *cls, struct MHD_Connection *connection, const char *url,
                   const char *method, const char *version, const char *upload_data,
                   size_t *upload_data_size, void **con_cls)
{
    ingest_worker_t *w = cls;
    ingest_conn_t *c = *con_cls;
    (void)version;
    if (!c) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info (connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        c = info ? info->socket_context : NULL;
        if (!c)
            return MHD_NO; /* out of memory when the connection started */
        *con_cls = c;
        w->active_requests++;
        s_begin (c, url, method);
        /* An answer decided from the headers alone goes out on the next
           call, after the body (read and dropped), if any; now if the body
           is not to be read (s_linger): MHD then closes the connection. */
        if (c->state == HM_CONN_DONE && s_has_body (c) && !s_linger (c))
            return s_queue (c);
        return MHD_YES;
    }
    switch (c->state) {
    case HM_CONN_BODY:
        if (*upload_data_size) {
            size_t n = *upload_data_size;
            *upload_data_size = 0;
            if (hm_buf_append (&c->body, upload_data, n) == 0)
                return MHD_YES;
            /* A chunked body went past the bound. libmicrohttpd 0.9.75 takes
               no answer in the middle of a body, so the rest is dropped and
               413 goes out at its end (or the connection is closed if the
               body keeps coming, see s_discard). */
            c->refusal = HM_REFUSAL_BODY_TOO_LARGE;
            s_decide (c, 413, HM_BODY_NONE, "body is larger than max_body_bytes");
            c->discarded = n;
            return MHD_YES;
        }
        s_body_done (c);
        return c->state == HM_CONN_DONE ? s_queue (c) : MHD_YES;
    case HM_CONN_DONE:
        if (*upload_data_size)
            return s_discard (c, url, upload_data_size);
        return s_queue (c);
    case HM_CONN_QUEUED:
    case HM_CONN_WAIT:
    case HM_CONN_IDLE:
    default:
        *upload_data_size = 0;
        return MHD_YES;
    }
}

void
hm_request_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    ingest_worker_t *w = cls;
    ingest_conn_t *c = *con_cls;
    (void)connection;
    (void)toe;
    if (!c)
        return;
    if (w->active_requests)
        w->active_requests--;
    /* A request that ends while it waits (MHD gave up on it) must not stay
       where a reply could find it. */
    if (c->state == HM_CONN_WAIT) {
        if (c->batch)
            hm_worker_unbatch (w, c);
        hm_worker_forget (w, c);
    }
    c->state = HM_CONN_IDLE;
    c->url = NULL;
    c->suspended = false;
    if (c->body.cap > S_KEEP_BODY_BYTES)
        hm_buf_free (&c->body);
    else
        hm_buf_reset (&c->body);
    if (c->inflated.cap > S_KEEP_BODY_BYTES)
        hm_buf_free (&c->inflated);
    else
        hm_buf_reset (&c->inflated);
    *con_cls = NULL;
}

void
hm_request_connection (void *cls, struct MHD_Connection *connection, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe)
{
    ingest_worker_t *w = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        ingest_conn_t *c = calloc (1, sizeof *c);
        if (!c)
            return;
        c->worker = w;
        c->connection = connection;
        hm_buf_init (&c->body, (size_t)w->cfg->max_body_bytes);
        hm_buf_init (&c->inflated, (size_t)w->cfg->max_body_bytes + 1);
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = info ? info->client_addr : NULL;
        if (sa && sa->sa_family == AF_INET)
            inet_ntop (AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->peer,
                       sizeof c->peer);
        else if (sa && sa->sa_family == AF_INET6)
            inet_ntop (AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, c->peer,
                       sizeof c->peer);
        *socket_context = c;
        hm_ingest_stats_connection (w->stats, +1);
    }
    else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        ingest_conn_t *c = *socket_context;
        if (!c)
            return;
        hm_ingest_stats_connection (w->stats, -1);
        hm_buf_free (&c->body);
        hm_buf_free (&c->inflated);
        ingest_tls_release (&c->tls_ref); /* before MHD ends the TLS session: see tls.h */
        free (c);
        *socket_context = NULL;
    }
}
