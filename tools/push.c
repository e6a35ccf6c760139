/*  hamustro-push: pipes events from stdin into a router.

    Reads one JSON item per line (see push_parse.h), groups the events into
    AppendRequests of --batch events (or 4 MiB), and sends them to the
    router over a DEALER with at most WINDOW requests unacknowledged. A
    request answered FULL or ERROR, or not answered within --timeout, is
    sent again with backoff, up to --retries times; after that its events
    count as failed. At the end a summary goes to stderr, and the exit code
    says whether every event of the input was acknowledged (0), not (1), or
    the arguments or config were wrong (2).

    stdin is read with read() on its descriptor and polled together with the
    socket: a partial batch is sent as soon as the input pauses, so
    `tail -f log | hamustro-push` does not hold events back. A resent
    request keeps its batch id; the router may then hold the events twice
    (at least once), never zero times. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "backoff.h"
#include "config.h"
#include "curve.h"
#include "hm_buf.h"
#include "hm_signal.h"
#include "push_parse.h"
#include "tool_config.h"
#include "tool_recv.h"
#include "wire.h"

#define WINDOW 16                    /* unacknowledged requests at most */
#define MAX_LINE (16u << 20)         /* longer input lines are rejected */
#define MAX_REQUEST_BYTES (4u << 20) /* a request is closed at this many event bytes */
#define MAX_BAD_SHOWN 100            /* bad lines listed in the summary */
#define RETRY_MIN_MS 200             /* backoff of resends */
#define RETRY_MAX_MS 5000

static volatile sig_atomic_t s_interrupted = 0;

static void
s_on_signal (int sig)
{
    (void)sig;
    s_interrupted = 1;
}

typedef enum { S_QUEUED, S_SENT, S_BACKOFF } s_state_t;

/* One AppendRequest in the window. */
typedef struct {
    bool used;         /* slot holds a request */
    uint64_t batch_id; /* echoed by the router */
    uint8_t *packed;   /* the AppendRequest, kept for resends */
    size_t packed_len; /* its size */
    uint32_t events;   /* events in it */
    uint32_t attempts; /* attempts started */
    s_state_t state;   /* where it is */
    int64_t deadline;  /* S_QUEUED/S_SENT: the attempt fails at this time */
    int64_t retry_at;  /* S_BACKOFF: next attempt at this time */
    char reason[160];  /* why the last attempt failed */
} s_request_t;

typedef struct {
    void *ctx, *sock;           /* ZeroMQ context and DEALER */
    uint32_t batch, retries;    /* options */
    uint32_t timeout_ms;        /* per attempt */
    bool verbose;               /* log every request */
    s_request_t window[WINDOW]; /* requests in flight */
    size_t in_window;           /* used slots */
    uint64_t next_batch_id;     /* ids are sequential per run */
    Hm__Event **pending;        /* events not yet in a request (owned) */
    size_t n_pending, cap_pending;
    size_t pending_bytes;              /* their packed size */
    hm_buf_t line;                     /* the line being read */
    bool skipping;                     /* discarding the rest of an overlong line */
    bool eof;                          /* stdin is done */
    uint64_t lineno;                   /* lines read */
    uint64_t bad, sent, acked, failed; /* counters: lines, events, events, events */
    hm_buf_t bad_report;               /* first MAX_BAD_SHOWN bad lines, for the summary */
    uint64_t rng;                      /* jitter */
} s_push_t;

static int64_t
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
s_random (s_push_t *self)
{
    uint64_t z = (self->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void
s_bad_line (s_push_t *self, const char *reason)
{
    self->bad++;
    if (self->bad <= MAX_BAD_SHOWN)
        hm_buf_printf (&self->bad_report, "  line %" PRIu64 ": %s\n", self->lineno, reason);
}

/* ---------------------------------------------------------------- input */

static void
s_take_line (s_push_t *self, const char *line, size_t len)
{
    self->lineno++;
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    size_t start = 0;
    while (start < len && (line[start] == ' ' || line[start] == '\t'))
        start++;
    if (start == len)
        return; /* blank lines are allowed and ignored */
    Hm__Event **events = NULL;
    size_t n = 0;
    char errbuf[256];
    if (push_parse_line (line + start, len - start, &events, &n, errbuf, sizeof errbuf) != 0) {
        s_bad_line (self, errbuf);
        return;
    }
    if (self->n_pending + n > self->cap_pending) {
        size_t cap = self->cap_pending ? self->cap_pending : 256;
        while (cap < self->n_pending + n)
            cap *= 2;
        Hm__Event **grown = realloc (self->pending, cap * sizeof *grown);
        if (!grown) {
            for (size_t i = 0; i < n; i++)
                hm__event__free_unpacked (events[i], NULL);
            free (events);
            s_bad_line (self, "out of memory");
            return;
        }
        self->pending = grown;
        self->cap_pending = cap;
    }
    for (size_t i = 0; i < n; i++) {
        self->pending[self->n_pending++] = events[i];
        self->pending_bytes += hm__event__get_packed_size (events[i]);
    }
    free (events);
}

/* Reads what stdin has (one read()) and takes every complete line. */
static void
s_read_input (s_push_t *self)
{
    char chunk[65536];
    ssize_t n = read (STDIN_FILENO, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
        return;
    if (n <= 0) {
        if (n < 0)
            fprintf (stderr, "hamustro-push: reading stdin: %s\n", strerror (errno));
        self->eof = true;
        if (self->skipping) {
            self->skipping = false;
            self->lineno++;
        }
        else if (self->line.len > 0)
            s_take_line (self, self->line.data, self->line.len);
        hm_buf_reset (&self->line);
        return;
    }
    const char *p = chunk, *end = chunk + n;
    while (p < end) {
        const char *nl = memchr (p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (!self->skipping && hm_buf_append (&self->line, p, len) != 0) {
            /* Over MAX_LINE: report once, drop the rest of the line. */
            self->lineno++;
            s_bad_line (self, "line too long");
            self->lineno--;
            self->skipping = true;
            hm_buf_reset (&self->line);
        }
        if (!nl)
            break;
        if (self->skipping) {
            self->skipping = false;
            self->lineno++;
        }
        else
            s_take_line (self, self->line.data ? self->line.data : "", self->line.len);
        hm_buf_reset (&self->line);
        p = nl + 1;
    }
}

/* -------------------------------------------------------------- requests */

static void
s_attempt (s_push_t *self, s_request_t *r, int64_t now)
{
    r->attempts++;
    r->state = S_QUEUED;
    r->deadline = now + self->timeout_ms;
}

/* Sends queued requests while the socket takes them. */
static void
s_send_queued (s_push_t *self)
{
    for (size_t i = 0; i < WINDOW; i++) {
        s_request_t *r = &self->window[i];
        if (!r->used || r->state != S_QUEUED)
            continue;
        /* ZMQ_IMMEDIATE: EAGAIN means no router connected yet; the request
           stays queued until the socket is writable or its deadline. */
        if (zmq_send (self->sock, HM_WIRE_APPEND, strlen (HM_WIRE_APPEND),
                      ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            return;
        zmq_send (self->sock, r->packed, r->packed_len, ZMQ_DONTWAIT);
        r->state = S_SENT;
        if (self->verbose)
            fprintf (stderr,
                     "hamustro-push: sent batch %" PRIu64 " (%" PRIu32 " events, attempt %" PRIu32
                     ")\n",
                     r->batch_id, r->events, r->attempts);
    }
}

/* Closes a request of up to batch events from the pending ones. */
static void
s_make_request (s_push_t *self)
{
    s_request_t *r = NULL;
    for (size_t i = 0; i < WINDOW && !r; i++)
        if (!self->window[i].used)
            r = &self->window[i];
    size_t n = 0, bytes = 0;
    while (n < self->n_pending && n < self->batch &&
           (n == 0 || bytes + hm__event__get_packed_size (self->pending[n]) <= MAX_REQUEST_BYTES))
        bytes += hm__event__get_packed_size (self->pending[n++]);

    Hm__AppendRequest req = HM__APPEND_REQUEST__INIT;
    req.batch_id = ++self->next_batch_id;
    req.n_events = n;
    req.events = self->pending;
    size_t size = hm__append_request__get_packed_size (&req);
    uint8_t *packed = malloc (size ? size : 1);
    if (packed)
        hm__append_request__pack (&req, packed);
    for (size_t i = 0; i < n; i++)
        hm__event__free_unpacked (self->pending[i], NULL);
    memmove (self->pending, self->pending + n, (self->n_pending - n) * sizeof *self->pending);
    self->n_pending -= n;
    self->pending_bytes -= bytes;
    self->sent += n;
    if (!packed) {
        self->failed += n;
        fprintf (stderr, "hamustro-push: out of memory: %zu events lost\n", n);
        return;
    }
    memset (r, 0, sizeof *r);
    r->used = true;
    r->batch_id = req.batch_id;
    r->packed = packed;
    r->packed_len = size;
    r->events = (uint32_t)n;
    self->in_window++;
    s_attempt (self, r, s_now ());
}

static void
s_retire (s_push_t *self, s_request_t *r)
{
    free (r->packed);
    memset (r, 0, sizeof *r);
    self->in_window--;
}

/* An attempt failed: back off and try again, or give up. */
static void
s_failed_attempt (s_push_t *self, s_request_t *r, const char *reason, int64_t now)
{
    snprintf (r->reason, sizeof r->reason, "%s", reason);
    if (r->attempts > self->retries) {
        fprintf (stderr,
                 "hamustro-push: batch %" PRIu64 " (%" PRIu32 " events) failed after %" PRIu32
                 " attempts: %s\n",
                 r->batch_id, r->events, r->attempts, reason);
        self->failed += r->events;
        s_retire (self, r);
        return;
    }
    uint32_t delay =
        hm_backoff_delay (RETRY_MIN_MS, RETRY_MAX_MS, r->attempts - 1, s_random (self));
    if (self->verbose)
        fprintf (stderr,
                 "hamustro-push: batch %" PRIu64 " attempt %" PRIu32 ": %s; retry in %" PRIu32
                 " ms\n",
                 r->batch_id, r->attempts, reason, delay);
    r->state = S_BACKOFF;
    r->retry_at = now + delay;
}

static void
s_handle_reply (s_push_t *self, const Hm__AppendReply *reply)
{
    for (size_t i = 0; i < WINDOW; i++) {
        s_request_t *r = &self->window[i];
        /* Late answers to a request already retired or resent are ignored. */
        if (!r->used || r->batch_id != reply->batch_id || r->state != S_SENT)
            continue;
        if (reply->status == HM__APPEND_REPLY__STATUS__OK) {
            self->acked += r->events;
            if (self->verbose)
                fprintf (stderr, "hamustro-push: batch %" PRIu64 " at offset %" PRIu64 "\n",
                         r->batch_id, reply->offset);
            s_retire (self, r);
        }
        else {
            char reason[160];
            snprintf (reason, sizeof reason, "router answered %s%s%.100s",
                      reply->status == HM__APPEND_REPLY__STATUS__FULL ? "FULL" : "ERROR",
                      reply->reason ? ": " : "", reply->reason ? reply->reason : "");
            s_failed_attempt (self, r, reason, s_now ());
        }
        return;
    }
}

static void
s_read_replies (s_push_t *self)
{
    zmq_msg_t parts[2];
    int frames;
    while ((frames = hm_tool_recv (self->sock, parts, 2, ZMQ_DONTWAIT, &s_interrupted)) > 0) {
        Hm__AppendReply *reply = NULL;
        if (frames == 2 && hm_tool_frame_is (&parts[0], HM_WIRE_APPENDED))
            reply =
                hm__append_reply__unpack (NULL, zmq_msg_size (&parts[1]), zmq_msg_data (&parts[1]));
        for (int i = 0; i < frames && i < 2; i++)
            zmq_msg_close (&parts[i]);
        if (!reply) {
            fprintf (stderr, "hamustro-push: dropped an unexpected message from the router\n");
            continue;
        }
        s_handle_reply (self, reply);
        hm__append_reply__free_unpacked (reply, NULL);
    }
}

/* Deadlines and backoff timers. Returns the next time something is due. */
static int64_t
s_timers (s_push_t *self, int64_t now)
{
    int64_t next = now + 60000;
    for (size_t i = 0; i < WINDOW; i++) {
        s_request_t *r = &self->window[i];
        if (!r->used)
            continue;
        if (r->state == S_BACKOFF && now >= r->retry_at)
            s_attempt (self, r, now);
        else if (r->state != S_BACKOFF && now >= r->deadline)
            s_failed_attempt (self, r,
                              r->state == S_QUEUED ? "no router connected (timeout)"
                                                   : "no answer (timeout)",
                              now);
        if (!r->used)
            continue;
        int64_t due = r->state == S_BACKOFF ? r->retry_at : r->deadline;
        if (due < next)
            next = due;
    }
    return next;
}

/* ------------------------------------------------------------------ main */

static void
s_run (s_push_t *self)
{
    while (!s_interrupted) {
        /* Close requests: full ones always, a partial one when the input
           pauses or ends. */
        while (self->in_window < WINDOW && self->n_pending >= self->batch)
            s_make_request (self);
        bool want_input = !self->eof && self->in_window < WINDOW && self->n_pending < self->batch;
        if (self->eof && self->n_pending == 0 && self->in_window == 0)
            break;
        s_send_queued (self);

        int64_t now = s_now ();
        int64_t next = s_timers (self, now);
        bool queued = false;
        for (size_t i = 0; i < WINDOW; i++)
            queued |= self->window[i].used && self->window[i].state == S_QUEUED;
        zmq_pollitem_t items[2] = {
            {self->sock, 0, (short)(ZMQ_POLLIN | (queued ? ZMQ_POLLOUT : 0)), 0},
            {NULL, STDIN_FILENO, ZMQ_POLLIN, 0}};
        long wait = next > now ? (long)(next - now) : 0;
        /* A partial batch waits for more input only if none is there now. */
        if (self->n_pending > 0 && self->in_window < WINDOW)
            wait = 0;
        int rc = zmq_poll (items, want_input ? 2 : 1, wait);
        if (rc < 0) {
            if (zmq_errno () == EINTR)
                continue;
            fprintf (stderr, "hamustro-push: poll: %s\n", zmq_strerror (zmq_errno ()));
            break;
        }
        if (items[0].revents & ZMQ_POLLIN)
            s_read_replies (self);
        if (want_input && (items[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
            s_read_input (self);
        else if (self->n_pending > 0 && self->in_window < WINDOW)
            s_make_request (self);
        s_timers (self, s_now ());
    }
}

static void
s_usage (FILE *out)
{
    fprintf (out, "Usage: hamustro-push [options] < events.jsonl\n"
                  "Sends events to a router, one JSON item per line: a Collection in the\n"
                  "protobuf JSON mapping (with \"payloads\"), or one flat event with the output\n"
                  "field names (device_id, client_id, session, nr, env, system_version,\n"
                  "product_version, at, timezone, event, ..., parameters).\n"
                  "  --config FILE    pipeline config (default: $HAMUSTRO_CONFIG, else built-in)\n"
                  "  --endpoint EP    router endpoint (default: the config's)\n"
                  "  --batch N        events per request (default 100)\n"
                  "  --timeout MS     wait this long for each answer (default 10000)\n"
                  "  --retries N      resend a failed request up to N times (default 5)\n"
                  "  --verbose        report every request\n"
                  "  --help, --version\n"
                  "Exit status: 0 every event acknowledged, 1 not, 2 usage or config error.\n");
}

static int
s_parse_u32 (const char *text, uint32_t min, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul (text, &end, 10);
    if (errno || end == text || *end || v < min || v > UINT32_MAX || text[0] == '-')
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static void
s_summary (s_push_t *self)
{
    fprintf (stderr,
             "hamustro-push: %" PRIu64 " lines read, %" PRIu64 " bad, %" PRIu64
             " events sent, %" PRIu64 " acknowledged, %" PRIu64 " failed\n",
             self->lineno, self->bad, self->sent, self->acked, self->failed);
    if (self->bad_report.len)
        fputs (self->bad_report.data, stderr);
    if (self->bad > MAX_BAD_SHOWN)
        fprintf (stderr, "  ... and %" PRIu64 " more bad lines\n", self->bad - MAX_BAD_SHOWN);
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"endpoint", required_argument, NULL, 'e'},
                                            {"batch", required_argument, NULL, 'b'},
                                            {"timeout", required_argument, NULL, 't'},
                                            {"retries", required_argument, NULL, 'r'},
                                            {"verbose", no_argument, NULL, 'v'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, 'V'},
                                            {NULL, 0, NULL, 0}};
    s_push_t self_;
    s_push_t *self = &self_;
    memset (self, 0, sizeof *self);
    self->batch = 100;
    self->timeout_ms = 10000;
    self->retries = 5;
    const char *config_path = getenv ("HAMUSTRO_CONFIG");
    const char *endpoint = NULL;
    int c;
    while ((c = getopt_long (argc, argv, "c:e:b:t:r:vhV", options, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'e':
            endpoint = optarg;
            break;
        case 'b':
            bad = s_parse_u32 (optarg, 1, &self->batch);
            break;
        case 't':
            bad = s_parse_u32 (optarg, 1, &self->timeout_ms);
            break;
        case 'r':
            bad = s_parse_u32 (optarg, 0, &self->retries);
            break;
        case 'v':
            self->verbose = true;
            break;
        case 'h':
            s_usage (stdout);
            return 0;
        case 'V':
            printf ("hamustro-push %s\n", HAMUSTRO_VERSION);
            return 0;
        default:
            s_usage (stderr);
            return 2;
        }
        if (bad) {
            fprintf (stderr, "hamustro-push: bad value '%s' for --%s\n", optarg,
                     c == 'b'   ? "batch"
                     : c == 't' ? "timeout"
                                : "retries");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "hamustro-push: unexpected argument '%s'\n", argv[optind]);
        s_usage (stderr);
        return 2;
    }
    hm_config_t *cfg = hm_tool_config ("hamustro-push", config_path);
    if (!cfg)
        return 2;
    if (!endpoint)
        endpoint = cfg->router_endpoint;

    hm_signal_on_stop (s_on_signal);

    int code = 2;
    int immediate = 1;
    self->ctx = zmq_ctx_new ();
    self->sock = self->ctx ? zmq_socket (self->ctx, ZMQ_DEALER) : NULL;
    if (!self->sock || hm_wire_setup (self->sock, WINDOW * 2, 1000, 0) != 0 ||
        zmq_setsockopt (self->sock, ZMQ_IMMEDIATE, &immediate, sizeof immediate) != 0 ||
        hm_curve_apply (self->sock, cfg, false) != 0 || zmq_connect (self->sock, endpoint) != 0) {
        fprintf (stderr, "hamustro-push: cannot connect to %s: %s\n", endpoint,
                 zmq_strerror (zmq_errno ()));
        goto done;
    }
    hm_buf_init (&self->line, MAX_LINE);
    hm_buf_init (&self->bad_report, 0);
    self->rng = (uint64_t)time (NULL) ^ ((uint64_t)getpid () << 32);
    s_run (self);
    if (s_interrupted) {
        /* What is still in flight may or may not have been stored: count it as failed. */
        for (size_t i = 0; i < WINDOW; i++)
            if (self->window[i].used) {
                self->failed += self->window[i].events;
                s_retire (self, &self->window[i]);
            }
        fprintf (stderr, "hamustro-push: interrupted\n");
    }
    s_summary (self);
    code = (self->bad == 0 && self->failed == 0 && self->acked == self->sent && !s_interrupted) ? 0
                                                                                                : 1;
done:
    for (size_t i = 0; i < self->n_pending; i++)
        hm__event__free_unpacked (self->pending[i], NULL);
    free (self->pending);
    hm_buf_free (&self->line);
    hm_buf_free (&self->bad_report);
    if (self->sock)
        zmq_close (self->sock);
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    hm_config_destroy (&cfg);
    return code;
}
