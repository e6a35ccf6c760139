/*  police: see police.h.

    MHD tells us little about a connection between its start and its first
    access callback (the head is then whole): no callback per byte. The
    head deadline of a new connection therefore runs from its start. For a
    keep-alive connection between requests, the kernel tells when data last
    arrived (TCP_INFO's tcpi_last_data_recv): data newer than the end of the
    last request means the next head has begun, and its deadline runs from
    there (seen at the next sweep, so up to one tick late: lenient, never
    early). Body bytes are counted as MHD hands them to the access handler. */
#include "worker_priv.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hm_log.h"

/* How often deadlines are looked at while connections are open: the
   deadlines are seconds, a tick late is within their slack. */
#define S_TICK_MS 250
/* One summary line of closed connections per this, at most. */
#define S_LOG_EVERY_MS 10000
/* Data that arrived this long after a request's end starts the next head
   (TCP_INFO counts in jiffies: the margin absorbs their rounding). */
#define S_NEW_DATA_MARGIN_MS 50

static const char *const s_why_names[HM_POLICE_KINDS] = {"head deadline", "body rate",
                                                         "linger deadline", "table full"};

void
hm_police_init (hm_police_t *self, unsigned limit)
{
    memset (self, 0, sizeof *self);
    self->limit = limit ? limit : 1;
}

static int
s_fd (ingest_conn_t *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (c->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}

/* --- the books, kept by the callbacks ---------------------------------- */

enum MHD_Result
hm_police_access (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                  const char *version, const char *upload_data, size_t *upload_data_size,
                  void **con_cls)
{
    bool first = *con_cls == NULL;
    size_t bytes = *upload_data_size;
    enum MHD_Result rc = hm_request_access (cls, connection, url, method, version, upload_data,
                                            upload_data_size, con_cls);
    ingest_conn_t *c = *con_cls;
    if (!c)
        return rc;
    hm_police_conn_t *p = &c->police;
    int64_t now = hm_now_ms ();
    if (first) {
        p->head_start = -1;
        p->body_start = now;
        p->body_bytes = 0;
        p->linger_start = -1;
        p->handed = false;
    }
    p->body_bytes += bytes - *upload_data_size;
    /* Handed to the router: exempt until it completes, also in the moment
       between the router's answer (state DONE again, resumed) and MHD
       queueing it. */
    if (c->state == HM_CONN_WAIT)
        p->handed = true;
    /* Decided before the body's end: what still comes is dropped, for
       linger_timeout at most. */
    if (c->state == HM_CONN_DONE && p->linger_start < 0)
        p->linger_start = now;
    return rc;
}

void
hm_police_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
                     enum MHD_RequestTerminationCode toe)
{
    ingest_conn_t *c = *con_cls;
    hm_request_completed (cls, connection, con_cls, toe);
    if (!c)
        return;
    hm_police_conn_t *p = &c->police;
    p->idle_since = hm_now_ms ();
    p->head_start = p->body_start = p->linger_start = -1;
    p->body_bytes = 0;
    p->handed = false;
}

void
hm_police_connection (void *cls, struct MHD_Connection *connection, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe)
{
    ingest_worker_t *w = cls;
    hm_police_t *self = &w->police;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        ingest_conn_t *c = *socket_context;
        hm_police_conn_t *p = &c->police;
        if (p->prev)
            p->prev->police.next = p->next;
        else
            self->conns = p->next;
        if (p->next)
            p->next->police.prev = p->prev;
        self->count--;
        if (p->closing)
            self->closing--;
    }
    hm_request_connection (cls, connection, socket_context, toe);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED && *socket_context) {
        ingest_conn_t *c = *socket_context;
        hm_police_conn_t *p = &c->police;
        memset (p, 0, sizeof *p);
        p->head_start = hm_now_ms ();
        p->body_start = p->linger_start = p->idle_since = -1;
        p->next = self->conns;
        if (self->conns)
            self->conns->police.prev = c;
        self->conns = c;
        self->count++;
        /* A full table is dealt with at once, not at the next tick. */
        if (self->count >= self->limit)
            self->next_sweep = 0;
    }
}

/* --- deadlines ---------------------------------------------------------- */

/* The connection's deadline (ms) and why; -1: it has none the police
   enforces (idle, or exempt). *evict_at: its place in the eviction order
   when the table is full (-1: never evicted). */
static int64_t
s_deadline (ingest_worker_t *w, ingest_conn_t *c, int64_t now, hm_police_why_t *why,
            int64_t *evict_at)
{
    const hm_config_t *cfg = w->cfg;
    hm_police_conn_t *p = &c->police;
    *evict_at = -1;
    if (p->closing || p->handed)
        return -1;
    switch (c->state) {
    case HM_CONN_WAIT:   /* the router has it: only its answer ends it */
    case HM_CONN_QUEUED: /* being answered: MHD's idle timeout covers a stuck reader */
        return -1;
    case HM_CONN_IDLE:
        if (p->head_start < 0 && p->idle_since >= 0) {
            /* Keep-alive: has the next head begun? */
            struct tcp_info info;
            socklen_t len = sizeof info;
            int fd = s_fd (c);
            if (fd >= 0 && getsockopt (fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0) {
                int64_t last = now - (int64_t)info.tcpi_last_data_recv;
                if (last > p->idle_since + S_NEW_DATA_MARGIN_MS)
                    p->head_start = last;
            }
        }
        if (p->head_start < 0) {
            /* Idle between requests: MHD's connection_timeout closes it. */
            *evict_at = p->idle_since + (int64_t)cfg->connection_timeout_s * 1000;
            return -1;
        }
        *why = HM_POLICE_HEAD;
        *evict_at = p->head_start + (int64_t)cfg->header_timeout_s * 1000;
        return *evict_at;
    case HM_CONN_BODY:
    case HM_CONN_DONE:
    default: {
        if (p->body_start < 0)
            return -1;
        /* mod_reqtimeout's rule: body_timeout, plus one second per
           body_min_rate bytes received. */
        int64_t d = p->body_start + (int64_t)cfg->body_timeout_s * 1000;
        if (cfg->body_min_rate)
            d += (int64_t)(p->body_bytes * 1000 / cfg->body_min_rate);
        *why = HM_POLICE_BODY;
        if (c->state == HM_CONN_DONE && p->linger_start >= 0) {
            int64_t linger = p->linger_start + (int64_t)cfg->linger_timeout_s * 1000;
            if (linger < d) {
                d = linger;
                *why = HM_POLICE_LINGER;
            }
        }
        *evict_at = d;
        return d;
    }
    }
}

static void
s_close (ingest_worker_t *w, ingest_conn_t *c, hm_police_why_t why)
{
    hm_police_t *self = &w->police;
    int fd = s_fd (c);
    /* shutdown, not close: the fd stays MHD's; it reads the end of the
       stream and drops the connection (and its callbacks run) as for a
       client that went away. */
    if (fd < 0 || shutdown (fd, SHUT_RDWR) != 0)
        return;
    c->police.closing = true;
    self->closing++;
    self->unlogged[why]++;
    hm_ingest_stats_closed (w->stats, why);
}

typedef struct {
    int64_t at;       /* eviction order: earliest first */
    ingest_conn_t *c; /* the connection */
} s_candidate_t;

static int
s_candidate_cmp (const void *a, const void *b)
{
    int64_t x = ((const s_candidate_t *)a)->at, y = ((const s_candidate_t *)b)->at;
    return x < y ? -1 : x > y;
}

void
hm_police_run (ingest_worker_t *w, int64_t now)
{
    hm_police_t *self = &w->police;
    /* Not on every turn while full: a table full of requests the police
       may not touch (all waiting for the router) would cost a sweep per
       turn. A new connection that fills it asks for a sweep (next_sweep 0),
       else the tick comes. */
    if (now < self->next_sweep)
        return;
    bool full = self->count >= self->limit;
    self->next_sweep = now + S_TICK_MS;
    s_candidate_t *candidates = full ? malloc (self->count * sizeof *candidates) : NULL;
    size_t n = 0;
    for (ingest_conn_t *c = self->conns; c; c = c->police.next) {
        hm_police_why_t why = HM_POLICE_HEAD;
        int64_t evict_at;
        int64_t deadline = s_deadline (w, c, now, &why, &evict_at);
        if (deadline >= 0 && deadline <= now)
            s_close (w, c, why);
        else if (candidates && evict_at >= 0)
            candidates[n++] = (s_candidate_t){evict_at, c};
    }
    /* Full: make room for a sixteenth of the table (with what the
       deadlines closed above), slowest first. */
    if (candidates) {
        unsigned room = self->limit / 16 ? self->limit / 16 : 1;
        qsort (candidates, n, sizeof *candidates, s_candidate_cmp);
        for (size_t i = 0; i < n && self->closing < room; i++)
            s_close (w, candidates[i].c, HM_POLICE_FULL);
        free (candidates);
    }
    uint64_t total = 0;
    for (int i = 0; i < HM_POLICE_KINDS; i++)
        total += self->unlogged[i];
    if (total && now >= self->log_next) {
        char detail[160] = "";
        size_t len = 0;
        for (int i = 0; i < HM_POLICE_KINDS && len < sizeof detail; i++)
            if (self->unlogged[i])
                len += (size_t)snprintf (detail + len, sizeof detail - len, "%s%s: %llu",
                                         len ? ", " : "", s_why_names[i],
                                         (unsigned long long)self->unlogged[i]);
        hm_warn ("closed %llu slow connection%s (%s)%s", (unsigned long long)total,
                 total == 1 ? "" : "s", detail,
                 self->log_next ? "; at most one such line per 10 s" : "");
        memset (self->unlogged, 0, sizeof self->unlogged);
        self->log_next = now + S_LOG_EVERY_MS;
    }
}

int64_t
hm_police_next (ingest_worker_t *w)
{
    return w->police.count ? w->police.next_sweep : -1;
}
_Static_assert(HM_POLICE_KINDS == HM_STATS_CLOSED, "one stats counter per reason");
