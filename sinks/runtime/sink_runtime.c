/*  sink_runtime: the loop every sink program runs (see sink.h for the
    backend contract, ARCHITECTURE section 3 for the protocol).

    The main thread owns the DEALER to the router: it says READY with its
    credit, takes Delivery messages into a queue bounded by that credit,
    heartbeats, notices a silent router and reconnects, and answers ACK or
    NACK per batch. A worker thread (a czmq actor) runs the backend, one
    attempt at a time, so a long upload never stops the heartbeats. The two
    talk over the actor pipe by passing job pointers: while a job is on the
    worker (worker_busy) the main thread only reads its batch's offsets and
    never frees it or the fields the worker writes (status, result).

    A failed attempt is retried forever, each job on its own timer: capped
    exponential backoff with full jitter (backoff.h). The loop never sleeps;
    it waits in zmq_poll with a timeout that ends at the next thing due. */
#include "hm_signal.h"
#include "sink.h"

#include <czmq.h>
#include <errno.h> /* program_invocation_short_name */
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "backoff.h"
#include "curve.h"
#include "delivery_decode.h"
#include "hm_log.h"
#include "log_lines.h"
#include "wire.h"

#define STATS_EVERY_MS 60000         /* counters are logged this often when they changed */
#define RETRY_LOG_EVERY_MS 5000      /* at most one retry log line this often, per process */
#define SHUTDOWN_LINGER_MS 1000      /* time the final ACK/NACKs get to leave */
#define SOCKET_HWM 1000              /* we send a handful of messages per batch: never reached */
#define S_DELIVERY_BLOCK (64u << 10) /* first block of a delivery's decode arena */
#define S_SPARE_MAX (16u << 20)      /* a larger decode block is not kept for the next batch */

static volatile sig_atomic_t s_interrupted = 0;

static void
s_on_signal (int sig)
{
    (void)sig;
    s_interrupted = 1;
}

/* One batch held by this instance. */
typedef struct {
    hm_batch_t batch;        /* decoded into arena (hm_batch_unpack) */
    hm_arena_t arena;        /* owns batch's route and spans or events */
    zframe_t *frame;         /* the packed Delivery: batch's spans and bytes point into it */
    uint32_t attempts;       /* failed attempts so far */
    int64_t next_at;         /* monotonic ms before which it is not attempted */
    hm_sink_status_t status; /* worker's answer: OK (stored) or RETRY */
    uint32_t dead_lettered;  /* OK: events written to the dead-letter file */
    uint32_t generation;     /* socket generation it arrived on (see s_send_ready) */
    hm_sink_result_t result; /* worker's scratch; reason of the last RETRY */
} s_job_t;

/* What the worker thread needs; read-only for it. */
typedef struct {
    const hm_sink_backend_t *backend; /* the backend */
    void *state;                      /* its state (only the worker uses it after init) */
    const hm_route_config_t *route;   /* the route served */
} s_worker_args_t;

typedef struct {
    hm_config_t *cfg;                 /* whole config (owned) */
    const hm_route_config_t *route;   /* the route served, inside cfg */
    uint32_t instance;                /* --route NAME:N: N, else 0 (shown in the log only) */
    const hm_sink_backend_t *backend; /* what stores batches */
    s_worker_args_t worker_args;      /* handed to the worker */
    zactor_t *worker;                 /* runs the backend */
    zsock_t *dealer;                  /* to the router's route endpoint */
    s_job_t **jobs;                   /* held batches, oldest first */
    size_t job_count;                 /* entries used in jobs */
    size_t credit;                    /* capacity of jobs = cfg->sink_credit */
    bool worker_busy;                 /* a job is on the worker */
    uint32_t generation;              /* bumped by every (re)connect */
    int64_t last_sent;                /* monotonic ms of our last message to the router */
    int64_t last_heard;               /* ... of the router's last message to us */
    uint64_t rng;                     /* jitter source (splitmix64 state) */
    int64_t retry_log_at;             /* next time a retry may be logged */
    uint64_t retry_log_suppressed;    /* retry lines not logged since the last one */
    int64_t stats_at;                 /* next time counters may be logged */
    uint64_t batches, events, retries, dead_lettered; /* counters */
    uint64_t logged_sum;   /* batches+retries+dead_lettered at the last stats line */
    uint64_t last_success; /* epoch seconds of the last stored batch (0: none) */
    uint64_t attempts;     /* tries at a batch (backend deliver calls), each timed below */
    uint64_t retries_by[HM_RETRY_CLASSES];           /* retries by the class of their reason */
    uint64_t request_buckets[HM_REQUEST_BOUNDS + 1]; /* attempts by duration (not cumulative) */
    double request_seconds;                          /* the attempts' durations added up */
    /* The arena of the last job done, its largest block kept for the next
       delivery: fresh pages each time cost CPU in page faults (issue #17:
       ~8 % when a batch's decoded events took MBs; now its spans, 16 bytes
       an event, and the events of a batch protobuf-c had to unpack). */
    hm_arena_t spare;
    bool have_spare;
} s_sink_t;

/* splitmix64: enough for jitter, and every instance gets its own seed. */
static uint64_t
s_random (s_sink_t *self)
{
    uint64_t z = (self->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ---------------------------------------------------------------- worker */

static void
s_worker (zsock_t *pipe, void *args_)
{
    s_worker_args_t *args = args_;
    /* Signals belong to the main thread: a blocking receive here must not
       be cut short by SIGTERM, or by SIGHUP (hm_log: reopen the logfile). */
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGTERM);
    sigaddset (&set, SIGINT);
    sigaddset (&set, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &set, NULL);
    zsock_signal (pipe, 0);
    while (true) {
        char *command = NULL;
        void *ptr = NULL;
        if (zsock_recv (pipe, "sp", &command, &ptr) != 0)
            break;
        bool term = command && streq (command, "$TERM");
        free (command);
        if (term)
            break;
        s_job_t *job = ptr;
        if (!job)
            continue;
        job->status = hm_sink_attempt (args->backend, args->state, args->route, &job->batch,
                                       &job->result, &job->dead_lettered);
        zsock_send (pipe, "sp", "DONE", job);
    }
    /* czmq actor threads are detached: OpenSSL's per-thread state (the
       backend hashes names) would be freed by a thread-exit destructor
       that may run after the process has exited, which LeakSanitizer
       reports. Free it here, while the main thread waits for us. */
    OPENSSL_thread_stop ();
}

/* ------------------------------------------------------------ messaging */

static int
s_send_sink (s_sink_t *self, Hm__SinkMessage *msg)
{
    if (!self->dealer)
        return -1; /* a reconnect failed: the router will requeue on its own */
    /* Every message carries the counters, so the router's metrics stay
       current even while a busy sink sends no heartbeat. */
    Hm__SinkStats st = HM__SINK_STATS__INIT;
    st.has_instance = st.has_batches = st.has_events = st.has_retries = true;
    st.has_dead_lettered = st.has_held = st.has_last_success = true;
    st.instance = self->instance;
    st.batches = self->batches;
    st.events = self->events;
    st.retries = self->retries;
    st.dead_lettered = self->dead_lettered;
    st.held = (uint32_t)self->job_count;
    st.last_success = self->last_success;
    st.has_attempts = true;
    st.attempts = self->attempts;
    st.n_retries_by_reason = HM_RETRY_CLASSES;
    st.retries_by_reason = self->retries_by;
    st.n_request_buckets = HM_REQUEST_BOUNDS + 1;
    st.request_buckets = self->request_buckets;
    st.has_request_seconds = true;
    st.request_seconds = self->request_seconds;
    /* What went wrong lately, so `hamustro-ctl status` shows it without
       anyone reading this host's log. */
    hm_log_entry_t recent[HM_LOG_LINES_SENT];
    Hm__LogLine lines[HM_LOG_LINES_SENT], *line_p[HM_LOG_LINES_SENT];
    st.n_recent_errors = hm_log_lines_fill (recent, lines, line_p, hm_log_lines_wall_ms ());
    st.recent_errors = line_p;
    msg->stats = &st;
    int rc = hm_wire_send (zsock_resolve (self->dealer), NULL, 0, HM_WIRE_SINK,
                           (const ProtobufCMessage *)msg, ZMQ_DONTWAIT);
    msg->stats = NULL; /* st is gone after this call */
    if (rc == 0)
        self->last_sent = zclock_mono ();
    else
        hm_error ("send to router failed: %s", zmq_strerror (zmq_errno ()));
    return rc;
}

/* READY with the credit we can offer this socket. Batches still held
   from before a reconnect count against the router's old instance, not
   the new one: offering their slots now would let the router send more
   than we can hold, and never offering them would shrink our credit for
   good. So we offer what they leave, and say READY again each time one
   of them is settled (the router takes a repeated READY as new credit). */
static void
s_send_ready (s_sink_t *self)
{
    size_t old = 0;
    for (size_t i = 0; i < self->job_count; i++)
        old += self->jobs[i]->generation != self->generation;
    Hm__SinkMessage msg = HM__SINK_MESSAGE__INIT;
    msg.kind = HM__SINK_MESSAGE__KIND__READY;
    msg.has_credit = 1;
    msg.credit = (uint32_t)(self->credit - old);
    s_send_sink (self, &msg);
}

static void
s_send_answer (s_sink_t *self, const hm_batch_t *batch, bool ack, uint32_t dead, const char *reason)
{
    Hm__SinkMessage msg = HM__SINK_MESSAGE__INIT;
    msg.kind = ack ? HM__SINK_MESSAGE__KIND__ACK : HM__SINK_MESSAGE__KIND__NACK;
    msg.has_first_offset = msg.has_last_offset = 1;
    msg.first_offset = batch->first_offset;
    msg.last_offset = batch->last_offset;
    if (ack) {
        msg.has_dead_lettered = 1;
        msg.dead_lettered = dead;
    }
    else
        msg.reason = (char *)reason;
    s_send_sink (self, &msg);
}

static int
s_connect (s_sink_t *self)
{
    zsock_destroy (&self->dealer);
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer) {
        hm_error ("cannot create socket");
        return -1;
    }
    if (hm_wire_setup (zsock_resolve (self->dealer), SOCKET_HWM, SOCKET_HWM, 0) != 0 ||
        hm_curve_apply (zsock_resolve (self->dealer), self->cfg, false) != 0 ||
        zsock_connect (self->dealer, "%s", self->route->endpoint) != 0) {
        hm_error ("cannot connect to %s: %s", self->route->endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&self->dealer);
        return -1;
    }
    /* A fresh start for liveness: the router gets sink_timeout_ms to speak. */
    self->last_heard = zclock_mono ();
    self->generation++;
    s_send_ready (self);
    return 0;
}

/* ------------------------------------------------------------------ jobs */

static void
s_job_destroy (s_job_t **job_p)
{
    s_job_t *job = *job_p;
    if (!job)
        return;
    hm_arena_destroy (&job->arena);
    zframe_destroy (&job->frame);
    hm_sink_result_free (&job->result);
    free (job);
    *job_p = NULL;
}

static void
s_job_remove (s_sink_t *self, s_job_t *job)
{
    bool old = job->generation != self->generation;
    for (size_t i = 0; i < self->job_count; i++)
        if (self->jobs[i] == job) {
            memmove (&self->jobs[i], &self->jobs[i + 1],
                     (self->job_count - i - 1) * sizeof *self->jobs);
            self->job_count--;
            break;
        }
    if (!self->have_spare) {
        hm_arena_move (&self->spare, &job->arena);
        hm_arena_reset_keep_largest (&self->spare, S_SPARE_MAX);
        self->have_spare = true;
    }
    s_job_destroy (&job);
    if (old)
        s_send_ready (self);
}

static s_job_t *
s_job_held (s_sink_t *self, const hm_batch_t *batch)
{
    for (size_t i = 0; i < self->job_count; i++)
        if (self->jobs[i]->batch.first_offset == batch->first_offset &&
            self->jobs[i]->batch.last_offset == batch->last_offset)
            return self->jobs[i];
    return NULL;
}

/* Takes one Delivery into the queue, with the arena it was decoded into
   (emptied) and the frame it points into (*frame_p becomes NULL), or hands
   it straight back (the caller still holds both and frees them). */
static void
s_take_delivery (s_sink_t *self, const hm_batch_t *batch, hm_arena_t *arena, zframe_t **frame_p)
{
    if (!streq (batch->route, self->route->name)) {
        hm_error ("delivery %" PRIu64 "..%" PRIu64 " is for route '%s', not ours: handed back",
                  batch->first_offset, batch->last_offset, batch->route);
        s_send_answer (self, batch, false, 0, "wrong route");
        return;
    }
    s_job_t *held = s_job_held (self, batch);
    if (held) {
        /* The router gave it again after a reconnect: our one ACK settles
           both, and it now counts against the new instance's credit. */
        hm_debug ("batch %" PRIu64 "..%" PRIu64 " already held", batch->first_offset,
                  batch->last_offset);
        if (held->generation != self->generation) {
            held->generation = self->generation;
            s_send_ready (self);
        }
        return;
    }
    if (self->job_count >= self->credit) {
        hm_warn ("batch %" PRIu64 "..%" PRIu64 " over our credit of %zu: handed back",
                 batch->first_offset, batch->last_offset, self->credit);
        s_send_answer (self, batch, false, 0, "over credit");
        return;
    }
    s_job_t *job = calloc (1, sizeof *job);
    if (!job) {
        s_send_answer (self, batch, false, 0, "out of memory");
        return;
    }
    job->batch = *batch;
    hm_arena_move (&job->arena, arena);
    job->frame = *frame_p;
    *frame_p = NULL;
    job->generation = self->generation;
    job->next_at = zclock_mono ();
    hm_sink_result_init (&job->result);
    self->jobs[self->job_count++] = job;
    hm_debug ("batch %" PRIu64 "..%" PRIu64 ": %zu events", batch->first_offset, batch->last_offset,
              batch->n_events);
}

/* Reads everything waiting on the DEALER. Garbage is logged and dropped. */
static void
s_read_router (s_sink_t *self)
{
    while (true) {
        zmq_pollitem_t item = {zsock_resolve (self->dealer), 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, 0) <= 0 || !(item.revents & ZMQ_POLLIN))
            return;
        zmsg_t *msg = zmsg_recv (self->dealer);
        if (!msg)
            return;
        self->last_heard = zclock_mono ();
        zframe_t *type = zmsg_first (msg);
        zframe_t *body = zmsg_next (msg);
        if (zmsg_size (msg) != 2) {
            hm_warn ("dropped a message of %zu frames from the router", zmsg_size (msg));
        }
        else if (zframe_streq (type, HM_WIRE_DELIVER)) {
            hm_arena_t arena;
            if (self->have_spare) {
                hm_arena_move (&arena, &self->spare);
                self->have_spare = false;
            }
            else
                hm_arena_init (&arena, S_DELIVERY_BLOCK);
            /* Taken out of msg: a job keeps it, its events point into it. */
            zmsg_remove (msg, body);
            hm_batch_t batch;
            if (hm_batch_unpack (&arena, zframe_data (body), zframe_size (body), &batch) == 0)
                s_take_delivery (self, &batch, &arena, &body);
            else
                hm_warn ("dropped an undecodable delivery (%zu bytes)", zframe_size (body));
            hm_arena_destroy (&arena); /* empty when the batch became a job */
            zframe_destroy (&body);    /* NULL likewise */
        }
        else if (zframe_streq (type, HM_WIRE_SINK)) {
            Hm__SinkMessage *sm =
                hm__sink_message__unpack (NULL, zframe_size (body), zframe_data (body));
            if (!sm)
                hm_warn ("dropped an undecodable sink message");
            else if (sm->kind != HM__SINK_MESSAGE__KIND__HEARTBEAT)
                hm_warn ("dropped an unexpected sink message of kind %d", (int)sm->kind);
            hm__sink_message__free_unpacked (sm, NULL);
        }
        else {
            char *name = zframe_strdup (type);
            hm_warn ("dropped a message of unknown type '%.40s'", name ? name : "?");
            free (name);
        }
        zmsg_destroy (&msg);
    }
}

/* Puts the oldest job that is due on the worker, if the worker is free. */
static void
s_start_job (s_sink_t *self, int64_t now)
{
    if (self->worker_busy)
        return;
    for (size_t i = 0; i < self->job_count; i++) {
        s_job_t *job = self->jobs[i];
        if (job->next_at <= now) {
            self->worker_busy = true;
            zsock_send (self->worker, "sp", "JOB", job);
            return;
        }
    }
}

static void
s_log_retry (s_sink_t *self, const s_job_t *job, uint32_t delay, int64_t now)
{
    if (now < self->retry_log_at) {
        self->retry_log_suppressed++;
        return;
    }
    char suppressed[64] = "";
    if (self->retry_log_suppressed)
        snprintf (suppressed, sizeof suppressed, " (%" PRIu64 " more failures not logged)",
                  self->retry_log_suppressed);
    hm_warn ("batch %" PRIu64 "..%" PRIu64 " attempt %" PRIu32 " failed: %s; retry in %" PRIu32
             " ms%s",
             job->batch.first_offset, job->batch.last_offset, job->attempts, job->result.reason,
             delay, suppressed);
    self->retry_log_suppressed = 0;
    self->retry_log_at = now + RETRY_LOG_EVERY_MS;
}

/* The worker is done with job: ACK it or schedule its next attempt. */
static void
s_job_done (s_sink_t *self, s_job_t *job)
{
    self->worker_busy = false;
    int64_t now = zclock_mono ();
    /* Every finished attempt, stored or not, is one timed backend request. */
    self->attempts++;
    self->request_buckets[hm_request_bucket (job->result.seconds)]++;
    self->request_seconds += job->result.seconds;
    if (job->status == HM_SINK_OK) {
        /* Counted before the ACK, which carries them (s_send_sink). */
        self->batches++;
        self->events += job->batch.n_events;
        self->dead_lettered += job->dead_lettered;
        self->last_success = (uint64_t)time (NULL);
        s_send_answer (self, &job->batch, true, job->dead_lettered, NULL);
        if (job->dead_lettered)
            hm_warn ("batch %" PRIu64 "..%" PRIu64 ": %" PRIu32 " events dead-lettered to %s",
                     job->batch.first_offset, job->batch.last_offset, job->dead_lettered,
                     self->route->dead_letter);
        hm_debug ("batch %" PRIu64 "..%" PRIu64 " stored", job->batch.first_offset,
                  job->batch.last_offset);
        s_job_remove (self, job);
        return;
    }
    uint32_t delay = hm_backoff_delay (self->cfg->retry_min_ms, self->cfg->retry_max_ms,
                                       job->attempts, s_random (self));
    job->attempts++;
    job->next_at = now + delay;
    self->retries++;
    self->retries_by[job->result.retry_class < HM_RETRY_CLASSES ? job->result.retry_class
                                                                : HM_RETRY_OTHER]++;
    s_log_retry (self, job, delay, now);
}

static void
s_log_stats (s_sink_t *self, bool always)
{
    uint64_t sum = self->batches + self->retries + self->dead_lettered;
    if (!always && sum == self->logged_sum)
        return;
    self->logged_sum = sum;
    hm_info ("delivered %" PRIu64 " batches, %" PRIu64 " events; %" PRIu64 " retries; %" PRIu64
             " events dead-lettered; holding %zu",
             self->batches, self->events, self->retries, self->dead_lettered, self->job_count);
}

/* ------------------------------------------------------------ lifecycle */

static void
s_usage (FILE *out, const char *kind)
{
    fprintf (out,
             "Usage: %s [--config FILE] [--route NAME[:N]] [--verbose]\n"
             "Serves one route of the router: takes its sealed batches and stores them.\n"
             "  --config FILE  pipeline config (default: $HAMUSTRO_CONFIG, else built-in)\n"
             "  --route NAME   route to serve (default: the only route with sink \"%s\")\n"
             "  --route NAME:N the same, as instance N of the route's \"instances\"\n"
             "  --verbose      log every batch\n"
             "  --help, --version\n",
             program_invocation_short_name, kind);
}

/* Picks the route: the named one, or the only one this backend serves. */
static const hm_route_config_t *
s_pick_route (const hm_config_t *cfg, const char *kind, const char *name)
{
    if (name) {
        const hm_route_config_t *route = hm_config_route (cfg, name);
        if (!route)
            fprintf (stderr, "%s: no route '%s'\n", cfg->path, name);
        else if (!streq (route->sink, kind)) {
            fprintf (stderr, "%s: route '%s' has sink '%s', this program is the %s sink\n",
                     cfg->path, name, route->sink, kind);
            route = NULL;
        }
        return route;
    }
    const hm_route_config_t *found = NULL;
    for (size_t i = 0; i < cfg->route_count; i++) {
        if (!streq (cfg->routes[i].sink, kind))
            continue;
        if (found) {
            fprintf (stderr,
                     "%s: several routes use the %s sink ('%s', '%s'...): pick one with --route\n",
                     cfg->path, kind, found->name, cfg->routes[i].name);
            return NULL;
        }
        found = &cfg->routes[i];
    }
    if (!found)
        fprintf (stderr, "%s: no route uses the %s sink\n", cfg->path, kind);
    return found;
}

/* Parses arguments and loads the config. Returns -1 to continue, else an
   exit code. */
static int
s_setup (s_sink_t *self, int argc, char **argv, bool *verbose)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"route", required_argument, NULL, 'r'},
        {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0}};
    const char *kind = self->backend->kind;
    const char *config_path = getenv ("HAMUSTRO_CONFIG");
    const char *route_arg = NULL;
    int c;
    while ((c = getopt_long (argc, argv, "c:r:vhV", options, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'r':
            route_arg = optarg;
            break;
        case 'v':
            *verbose = true;
            break;
        case 'h':
            s_usage (stdout, kind);
            return 0;
        case 'V':
            /* The program's own name: blob-sink serves "abs", queue-sink "aqs". */
            printf ("%s %s\n", program_invocation_short_name, HAMUSTRO_VERSION);
            return 0;
        default:
            s_usage (stderr, kind);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "unexpected argument '%s'\n", argv[optind]);
        s_usage (stderr, kind);
        return 2;
    }
    char errbuf[512];
    char route_name[128];
    if (route_arg && hm_config_route_arg (route_arg, route_name, sizeof route_name, &self->instance,
                                          errbuf, sizeof errbuf) != 0) {
        fprintf (stderr, "%s\n", errbuf);
        return 2;
    }
    self->cfg =
        hm_config_load (config_path && *config_path ? config_path : NULL, errbuf, sizeof errbuf);
    if (!self->cfg || hm_curve_check (self->cfg, false, errbuf, sizeof errbuf) != 0) {
        fprintf (stderr, "%s\n", errbuf);
        hm_config_destroy (&self->cfg);
        return 1;
    }
    self->route = s_pick_route (self->cfg, kind, route_arg ? route_name : NULL);
    if (!self->route)
        return 1;
    if (self->instance > self->route->instances) {
        fprintf (stderr,
                 "%s: route '%s' has %" PRIu32 " instances, there is no instance %" PRIu32 "\n",
                 self->cfg->path, self->route->name, self->route->instances, self->instance);
        return 1;
    }
    if (self->cfg->sink_credit == 0) {
        fprintf (stderr, "%s: sink.credit must be at least 1\n", self->cfg->path);
        return 1;
    }
    return -1;
}

/* Waits for the job on the worker to finish its attempt (shutdown). */
static void
s_drain_worker (s_sink_t *self)
{
    while (self->worker_busy) {
        char *command = NULL;
        void *ptr = NULL;
        if (zsock_recv (self->worker, "sp", &command, &ptr) != 0) {
            if (zmq_errno () == EINTR)
                continue;
            hm_error ("lost the worker: %s", zmq_strerror (zmq_errno ()));
            return;
        }
        free (command);
        if (ptr)
            s_job_done (self, ptr);
    }
}

static int64_t
s_min (int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static void
s_run (s_sink_t *self)
{
    const int64_t heartbeat = self->cfg->heartbeat_ms ? self->cfg->heartbeat_ms : 1000;
    const int64_t timeout = self->cfg->sink_timeout_ms ? self->cfg->sink_timeout_ms : 5000;
    self->stats_at = zclock_mono () + STATS_EVERY_MS;
    while (!s_interrupted) {
        int64_t now = zclock_mono ();
        s_start_job (self, now);

        int64_t wake = s_min (self->last_sent + heartbeat, self->last_heard + timeout);
        wake = s_min (wake, self->stats_at);
        if (!self->worker_busy)
            for (size_t i = 0; i < self->job_count; i++)
                wake = s_min (wake, self->jobs[i]->next_at);
        zmq_pollitem_t items[] = {{zsock_resolve (self->dealer), 0, ZMQ_POLLIN, 0},
                                  {zsock_resolve (self->worker), 0, ZMQ_POLLIN, 0}};
        long wait = wake > now ? (long)(wake - now) : 0;
        int rc = zmq_poll (items, 2, wait);
        if (rc < 0) {
            if (zmq_errno () == EINTR)
                continue;
            hm_error ("poll: %s", zmq_strerror (zmq_errno ()));
            break;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            char *command = NULL;
            void *ptr = NULL;
            if (zsock_recv (self->worker, "sp", &command, &ptr) == 0 && ptr)
                s_job_done (self, ptr);
            free (command);
        }
        if (items[0].revents & ZMQ_POLLIN)
            s_read_router (self);

        now = zclock_mono ();
        if (now - self->last_heard >= timeout) {
            hm_warn ("nothing from the router at %s for %" PRId64 " ms: reconnecting",
                     self->route->endpoint, now - self->last_heard);
            if (s_connect (self) != 0)
                break;
        }
        else if (now - self->last_sent >= heartbeat) {
            Hm__SinkMessage msg = HM__SINK_MESSAGE__INIT;
            msg.kind = HM__SINK_MESSAGE__KIND__HEARTBEAT;
            s_send_sink (self, &msg);
        }
        if (now >= self->stats_at) {
            s_log_stats (self, false);
            self->stats_at = now + STATS_EVERY_MS;
        }
    }
}

/* Shutdown: finish the attempt in progress, hand back everything not
   stored, give those messages a moment to leave. */
static void
s_shutdown (s_sink_t *self)
{
    s_drain_worker (self);
    /* Not s_job_remove: a stopping sink must not say READY again. */
    for (size_t i = 0; i < self->job_count; i++) {
        s_send_answer (self, &self->jobs[i]->batch, false, 0, "shutting down");
        s_job_destroy (&self->jobs[i]);
    }
    self->job_count = 0;
    if (self->dealer) {
        int linger = SHUTDOWN_LINGER_MS;
        zmq_setsockopt (zsock_resolve (self->dealer), ZMQ_LINGER, &linger, sizeof linger);
        zsock_destroy (&self->dealer);
    }
}

int
hm_sink_main (int argc, char **argv, const hm_sink_backend_t *backend)
{
    s_sink_t self_;
    s_sink_t *self = &self_;
    memset (self, 0, sizeof *self);
    self->backend = backend;
    /* Memory: a batch is a few MB several times over (the Delivery, the
       encoded and the gzip'd file; its events are decoded one at a time).
       Those buffers come from the heap and their pages stay mapped for the
       next batch, up to 32 MiB kept free (the trim threshold): a buffer
       mmap'd afresh per batch is faulted in page by page, each fault a trip
       to the hypervisor on a VM, and ZeroMQ's receive of each Delivery
       alone made that ~17 % of the file sink's CPU (issue 17: CPU per
       request ~28 -> ~14 us, peak RSS +2.5-3.5 MiB, bench/RESULTS.md). Two arenas
       instead of one per thread stop the worker thread from holding a
       second copy of the heap. The router does the same (router/main.c). */
    mallopt (M_MMAP_THRESHOLD, 32 << 20);
    mallopt (M_TRIM_THRESHOLD, 32 << 20);
    mallopt (M_ARENA_MAX, 2);
    bool verbose = false;
    int code = s_setup (self, argc, argv, &verbose);
    if (code >= 0) {
        hm_config_destroy (&self->cfg);
        return code;
    }
    char ident[128];
    /* Instance N of a route says so in every line: two of them share one log. */
    if (self->instance)
        snprintf (ident, sizeof ident, "sink:%s:%s:%" PRIu32, backend->kind, self->route->name,
                  self->instance);
    else
        snprintf (ident, sizeof ident, "sink:%s:%s", backend->kind, self->route->name);
    hm_log_init (ident, verbose ? HM_LOG_DEBUG : HM_LOG_INFO);
    if (hm_log_open_file (self->cfg->logfile) != 0)
        fprintf (stderr, "cannot open logfile %s: using stderr\n", self->cfg->logfile);

    /* Our own handlers, not czmq's: they only set a flag, and must be in
       place before the first czmq socket. No SA_RESTART, so a blocking
       poll returns EINTR. */
    zsys_handler_set (NULL);
    hm_signal_on_stop (s_on_signal);

    char errbuf[512] = "";
    void *state = backend->init (self->cfg, self->route, errbuf, sizeof errbuf);
    if (!state) {
        hm_error ("cannot start: %s", errbuf);
        hm_config_destroy (&self->cfg);
        return 1;
    }
    self->credit = self->cfg->sink_credit;
    self->jobs = calloc (self->credit, sizeof *self->jobs);
    self->rng = (uint64_t)zclock_time () ^ ((uint64_t)getpid () << 32);
    self->worker_args = (s_worker_args_t){backend, state, self->route};
    self->worker = self->jobs ? zactor_new (s_worker, &self->worker_args) : NULL;
    if (!self->worker || s_connect (self) != 0) {
        hm_error ("cannot start the worker or the socket");
        code = 1;
    }
    else {
        if (self->instance)
            hm_info ("serving route '%s' as instance %" PRIu32 " of %" PRIu32
                     " from %s (credit %zu)",
                     self->route->name, self->instance, self->route->instances,
                     self->route->endpoint, self->credit);
        else
            hm_info ("serving route '%s' from %s (credit %zu)", self->route->name,
                     self->route->endpoint, self->credit);
        s_run (self);
        s_shutdown (self);
        s_log_stats (self, true);
        code = 0;
    }
    zactor_destroy (&self->worker);
    zsock_destroy (&self->dealer);
    for (size_t i = 0; i < self->job_count; i++)
        s_job_destroy (&self->jobs[i]);
    if (self->have_spare)
        hm_arena_destroy (&self->spare);
    free (self->jobs);
    backend->destroy (&state);
    hm_config_destroy (&self->cfg);
    return code;
}
