/*  worker: see worker.h. This file is the loop; the ZeroMQ side is in
    worker_router.c and the HTTP callbacks are in request.c.

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
/* libmicrohttpd's log: at most this many lines per window per thread. */
#define S_MHD_LOG_LINES 10
#define S_MHD_LOG_WINDOW_MS 10000
/* How often a drained worker checks whether the others are done. */
#define S_DRAIN_TICK_MS 20
#define S_DECODE_BLOCK (64u << 10) /* kept decode arena: a typical Collection, decoded */

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
static void
s_mhd_log (void *cls, const char *fmt, va_list ap)
{
    /* Rate-limited: a client that hangs up mid-request, or the police
       closing a thousand slow ones, makes one line each. */
    ingest_worker_t *self = cls;
    int64_t now = hm_now_ms ();
    if (now - self->mhd_log_window >= S_MHD_LOG_WINDOW_MS) {
        if (self->mhd_log_held)
            hm_warn ("http: %llu more libmicrohttpd messages were not logged",
                     (unsigned long long)self->mhd_log_held);
        self->mhd_log_window = now;
        self->mhd_log_lines = 0;
        self->mhd_log_held = 0;
    }
    if (self->mhd_log_lines >= S_MHD_LOG_LINES) {
        self->mhd_log_held++;
        return;
    }
    self->mhd_log_lines++;
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

/* ingest.name, or HOSTNAME:PORT: unique per host and port without any
   config, and within the label rules (config.h) once cut and cleaned. */
static void
s_report_name (const hm_config_t *cfg, char *out, size_t cap)
{
    if (cfg->ingest_name) {
        snprintf (out, cap, "%s", cfg->ingest_name);
        return;
    }
    char host[256] = "ingest";
    if (gethostname (host, sizeof host) != 0 || !*host)
        snprintf (host, sizeof host, "ingest");
    host[sizeof host - 1] = '\0';
    char port[8];
    snprintf (port, sizeof port, ":%u", (unsigned)cfg->port);
    size_t keep = cap - 1 - strlen (port);
    snprintf (out, cap, "%.*s%s", (int)keep, host, port);
    for (char *p = out; *p; p++)
        if (!hm_config_label_ok (p, 1))
            *p = '-';
}

ingest_worker_t *
ingest_worker_new (const hm_config_t *cfg, void *zmq_ctx, unsigned index, unsigned threads,
                   atomic_uint *undrained, atomic_uint *unlinked, hm_ingest_stats_t *stats,
                   ingest_tls_t *tls, const struct sockaddr *addr, socklen_t addr_len, char *errbuf,
                   size_t errlen)
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
    self->unlinked = unlinked;
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
    hm_police_init (&self->police, connections);
    s_report_name (cfg, self->report_name, sizeof self->report_name);
    hm_buf_init (&self->out, 0);
    hm_arena_init (&self->decode, S_DECODE_BLOCK);
    hm_buf_init (&self->events, 0);
    hm_buf_init (&self->scratch, 0);
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
    self->dealer =
        hm_worker_dealer_new (zmq_ctx, cfg, cfg->router_endpoint,
                              (int)hm_pending_capacity (self->pending), monitor, &self->monitor);
    if (!self->dealer) {
        snprintf (errbuf, errlen, "router endpoint %s: %s", cfg->router_endpoint,
                  zmq_strerror (zmq_errno ()));
        goto fail;
    }
    self->control =
        hm_worker_dealer_new (zmq_ctx, cfg, cfg->control_endpoint, HM_CONTROL_MAX, NULL, NULL);
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
        flags, 0, NULL, NULL, hm_police_access, self, MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)addr, MHD_OPTION_LISTENING_ADDRESS_REUSE,
        (unsigned int)1, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)S_CONNECTION_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, hm_police_completed, self, MHD_OPTION_NOTIFY_CONNECTION,
        hm_police_connection, self, MHD_OPTION_ARRAY, tls_options, MHD_OPTION_END);
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
    if (index == 0)
        hm_info ("counters reported to the router every %d ms as ingest_instance=\"%s\"",
                 HM_REPORT_MS, self->report_name);
    return self;
fail:
    ingest_worker_destroy (&self);
    return NULL;
}

/* Answers every waiter of control request req with a failure. */
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
    /* Thread 0 reports the counters to the router every HM_REPORT_MS. */
    if (self->index == 0 && (deadline < 0 || self->report_ms + HM_REPORT_MS < deadline))
        deadline = self->report_ms + HM_REPORT_MS;
    int64_t police = hm_police_next (self);
    if (police >= 0 && (deadline < 0 || police < deadline))
        deadline = police;
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
            hm_worker_router_drain (self);
        if (items[3].revents & ZMQ_POLLIN)
            hm_worker_monitor_drain (self);
        if (control && (items[4].revents & ZMQ_POLLIN))
            hm_worker_control_drain (self);
        hm_worker_expire (self, hm_now_ms ());
        if (self->index == 0 && hm_now_ms () >= self->report_ms + HM_REPORT_MS)
            hm_worker_report (self, hm_now_ms ());
        /* MHD_run reads requests (each adds its events to this turn's
           batch), then the batch goes out as one message. A failed send
           resumes its connections after MHD_run: run it again so their 503
           goes out now rather than at the next wake-up. */
        do {
            self->resumed = false;
            bool full = self->police.count >= self->police.limit;
            MHD_run (self->daemon);
            hm_worker_batch_flush (self);
            /* At its limit MHD takes its listener out of its epoll set, and
               puts it back only at the start of a run: a run that freed
               slots is followed by another, so that the clients waiting in
               the backlog get in now rather than at the next timeout. */
            if (full && self->police.count < self->police.limit)
                self->resumed = true;
        } while (self->resumed);
        /* Slow clients: what it shuts down, the next MHD_run drops. */
        hm_police_run (self, hm_now_ms ());
    }
    /* Whatever still waits (the grace period ran out) is answered 503 and
       resumed, so that no connection stays suspended when MHD stops. */
    hm_batch_t *b;
    hm_worker_batch_flush (self);
    while ((b = hm_pending_pop (self->pending)))
        hm_worker_batch_finish (self, b, 503, HM_REFUSAL_STOPPING, "server is stopping");
    if (self->control_count)
        hm_worker_control_reset (self, "server is stopping");
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
    hm_buf_free (&self->events);
    hm_buf_free (&self->scratch);
    free (self);
    *self_p = NULL;
}
