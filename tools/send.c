/*  hamustro-send: builds, signs and POSTs random valid Collections to a
    collector, as a one-shot client or as a load generator, and writes
    request corpora for wrk (bench/).

    One thread drives a libcurl multi handle with a fixed set of transfer
    slots (--concurrency); each slot owns one easy handle, its body and its
    headers, so memory is bounded by the slot count and connections are
    kept alive and reused. A request answered 503 may be resent as it was
    (same body, same signature) after its Retry-After, which is what a real
    client does. --record writes (session, nr) of every event that a 200
    acknowledged, so tests can compare it with what reached the sinks, and
    how many times its request was sent when that was more than once (a
    request answered 503 may have been stored all the same: its events may
    then be stored once per send, which is the client's doing).

    Those sends include the ones libcurl makes by itself: when a reused
    connection dies before any answer (a server, or a balancer in front of
    one that died, closes it), libcurl sends the request again on a fresh
    connection without telling us, POST or not. The body is handed to
    libcurl through a read callback so that each such resend shows up as a
    rewind (the seek callback) and is counted. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "gz.h"
#include "hm_signal.h"
#include "send_corpus.h"
#include "send_gen.h"
#include "send_stats.h"

#define S_MAX_CONCURRENCY 10000
#define S_MAX_RETRY_AFTER_S 60.0

/* Set by SIGINT/SIGTERM; the first stops new requests, the second aborts. */
static volatile sig_atomic_t s_signals;

/* Parsed command line. */
typedef struct {
    const char *url;         /* NULL: from the config's ingest host/port */
    const char *config_path; /* NULL: HAMUSTRO_CONFIG, else the embedded default */
    const char *secret;      /* NULL: the config's shared_secret */
    bool sign;               /* send the signature headers */
    bool gzip;               /* send bodies with Content-Encoding: gzip */
    send_format_t format;    /* body encoding */
    uint32_t min_payloads;   /* payloads per body: uniform in [min, max] */
    uint32_t max_payloads;
    uint32_t sessions;    /* simulated devices */
    uint32_t concurrency; /* transfers in flight */
    uint64_t count;       /* requests to make; 0: no limit (then duration is set) */
    double duration;      /* seconds to keep starting requests; 0: no limit */
    double rate;          /* requests started per second at most; 0: no cap */
    uint32_t retry;       /* resends of a request answered 503 */
    long timeout_ms;      /* per attempt */
    const char *record;   /* file for "session\tnr[\tsends]" of accepted events */
    const char *corpus;   /* write bodies here instead of sending */
    const char *cacert;   /* HTTPS: trust this PEM file instead of the system's CAs */
    bool insecure;        /* HTTPS: do not verify the server's certificate */
    uint64_t seed;        /* 0: random */
    bool json_summary;    /* summary as one JSON object */
    bool progress;        /* live progress line on stderr */
} s_args_t;

/* One transfer slot. */
typedef struct {
    CURL *easy;                 /* reused for every request of the slot */
    struct curl_slist *headers; /* this request's headers */
    send_body_t body;           /* this request's body */
    hm_buf_t gz;                /* --gzip: the generated body before it is compressed */
    uint32_t attempts;          /* answers/failures so far for this request */
    uint32_t rewinds;           /* sends libcurl made again by itself (see the top) */
    size_t read_pos;            /* next body byte to hand to libcurl */
    double retry_at;            /* monotonic time of the resend; 0: not waiting */
} s_slot_t;

/* The sending run. */
typedef struct {
    const s_args_t *args; /* options */
    const char *secret;   /* signing secret */
    send_gen_t *gen;      /* body generator */
    CURLM *multi;         /* the event loop */
    s_slot_t *slots;      /* args->concurrency slots */
    uint32_t *free_slots; /* stack of idle slot indices */
    uint32_t free_count;
    uint32_t waiting;   /* slots waiting for a resend */
    uint64_t started;   /* requests started (first attempts) */
    double t0;          /* monotonic start time */
    FILE *record;       /* --record file or NULL */
    send_stats_t stats; /* counters and latencies */
} s_run_t;

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
s_on_signal (int sig)
{
    (void)sig;
    s_signals++;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
             "Usage: hamustro-send [options]\n"
             "Builds random valid Collections, signs them and POSTs them to a collector.\n"
             "\n"
             "  --url URL            target (default: http://HOST:PORT/api/v1/track from the\n"
             "                       config's ingest host/port, HAMUSTRO_HOST/PORT override)\n"
             "  --config FILE        pipeline config (default: $HAMUSTRO_CONFIG, else built-in)\n"
             "  --secret S           shared secret (default: the config's shared_secret)\n"
             "  --no-sign            send without X-Hamustro-Time/-Signature\n"
             "  --gzip               gzip each body (Content-Encoding: gzip)\n"
             "  --format F           protobuf (default) or json\n"
             "  --payloads N|MIN-MAX\n"
             "                       payloads per request (default 1-10, at most %d)\n"
             "  --sessions N         simulated devices/sessions (default 100)\n"
             "  --concurrency C      requests in flight on kept-alive connections (default 1)\n"
             "  --count N            requests to make (default 1 unless --duration)\n"
             "  --duration S         keep starting requests for S seconds\n"
             "  --rate R             start at most R requests per second\n"
             "  --retry N            resend a request answered 503 up to N times, after\n"
             "                       its Retry-After (default 0)\n"
             "  --timeout S          per-attempt timeout in seconds (default 30)\n"
             "  --cacert FILE        HTTPS: trust the CA certificate(s) in FILE (PEM)\n"
             "  --insecure           HTTPS: do not verify the server's certificate\n"
             "                       (the default URL is https when the config has tls_cert)\n"
             "  --record FILE        append \"session<TAB>nr\" of every event answered 200\n"
             "                       (<TAB>SENDS after it when its request was sent more than\n"
             "                       once: 503s resent, libcurl's resends on a new connection)\n"
             "  --corpus DIR         write --count bodies to DIR for wrk instead of sending\n"
             "                       (DIR/N.body, DIR/N.headers, DIR/corpus.txt)\n"
             "  --seed N             random seed (default: from the clock)\n"
             "  --json-summary       print the summary as one JSON object\n"
             "  --quiet              no progress line\n"
             "  --help, --version\n"
             "\n"
             "Exit status: 0 when every request got an HTTP answer (whatever the status),\n"
             "1 when some did not (connection errors, timeouts) or on I/O errors, 2 on bad\n"
             "arguments or config.\n",
             SEND_GEN_MAX_PAYLOADS);
}

/* Parses an unsigned integer in [lo, hi]; -1 with a message on error. */
static int
s_parse_u64 (const char *opt, const char *text, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull (text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < lo || v > hi) {
        fprintf (stderr, "hamustro-send: %s: expected a whole number in %llu..%llu, got '%s'\n",
                 opt, (unsigned long long)lo, (unsigned long long)hi, text);
        return -1;
    }
    *out = v;
    return 0;
}

static int
s_parse_seconds (const char *opt, const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod (text, &end);
    if (errno || end == text || *end || !(v > 0) || v > 1e7) {
        fprintf (stderr, "hamustro-send: %s: expected a positive number, got '%s'\n", opt, text);
        return -1;
    }
    *out = v;
    return 0;
}

static int
s_parse_payloads (const char *text, s_args_t *a)
{
    uint64_t lo, hi;
    const char *dash = strchr (text, '-');
    if (!dash) {
        if (s_parse_u64 ("--payloads", text, 1, SEND_GEN_MAX_PAYLOADS, &lo))
            return -1;
        a->min_payloads = a->max_payloads = (uint32_t)lo;
        return 0;
    }
    char first[32];
    size_t n = (size_t)(dash - text);
    if (n == 0 || n >= sizeof first) {
        fprintf (stderr, "hamustro-send: --payloads: expected N or MIN-MAX, got '%s'\n", text);
        return -1;
    }
    memcpy (first, text, n);
    first[n] = '\0';
    if (s_parse_u64 ("--payloads", first, 1, SEND_GEN_MAX_PAYLOADS, &lo) ||
        s_parse_u64 ("--payloads", dash + 1, 1, SEND_GEN_MAX_PAYLOADS, &hi))
        return -1;
    if (lo > hi) {
        fprintf (stderr, "hamustro-send: --payloads: MIN above MAX in '%s'\n", text);
        return -1;
    }
    a->min_payloads = (uint32_t)lo;
    a->max_payloads = (uint32_t)hi;
    return 0;
}

/* 0: run; 1: done (help/version printed); -1: bad arguments. */
static int
s_parse_args (int argc, char **argv, s_args_t *a)
{
    enum {
        O_URL = 256,
        O_CONFIG,
        O_SECRET,
        O_NOSIGN,
        O_FORMAT,
        O_PAYLOADS,
        O_SESSIONS,
        O_CONC,
        O_COUNT,
        O_DURATION,
        O_RATE,
        O_RETRY,
        O_TIMEOUT,
        O_RECORD,
        O_CORPUS,
        O_SEED,
        O_JSON,
        O_QUIET,
        O_GZIP,
        O_CACERT,
        O_INSECURE,
        O_HELP,
        O_VERSION
    };
    static const struct option opts[] = {{"url", required_argument, NULL, O_URL},
                                         {"config", required_argument, NULL, O_CONFIG},
                                         {"secret", required_argument, NULL, O_SECRET},
                                         {"no-sign", no_argument, NULL, O_NOSIGN},
                                         {"format", required_argument, NULL, O_FORMAT},
                                         {"payloads", required_argument, NULL, O_PAYLOADS},
                                         {"sessions", required_argument, NULL, O_SESSIONS},
                                         {"concurrency", required_argument, NULL, O_CONC},
                                         {"count", required_argument, NULL, O_COUNT},
                                         {"duration", required_argument, NULL, O_DURATION},
                                         {"rate", required_argument, NULL, O_RATE},
                                         {"retry", required_argument, NULL, O_RETRY},
                                         {"timeout", required_argument, NULL, O_TIMEOUT},
                                         {"record", required_argument, NULL, O_RECORD},
                                         {"corpus", required_argument, NULL, O_CORPUS},
                                         {"seed", required_argument, NULL, O_SEED},
                                         {"json-summary", no_argument, NULL, O_JSON},
                                         {"quiet", no_argument, NULL, O_QUIET},
                                         {"gzip", no_argument, NULL, O_GZIP},
                                         {"cacert", required_argument, NULL, O_CACERT},
                                         {"insecure", no_argument, NULL, O_INSECURE},
                                         {"help", no_argument, NULL, O_HELP},
                                         {"version", no_argument, NULL, O_VERSION},
                                         {NULL, 0, NULL, 0}};
    memset (a, 0, sizeof *a);
    a->sign = true;
    a->min_payloads = 1;
    a->max_payloads = 10;
    a->sessions = 100;
    a->concurrency = 1;
    a->timeout_ms = 30000;
    a->progress = isatty (STDERR_FILENO);
    bool have_count = false;
    uint64_t v;
    double d;
    int c;
    opterr = 0;
    while ((c = getopt_long (argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case O_URL:
            a->url = optarg;
            break;
        case O_CONFIG:
            a->config_path = optarg;
            break;
        case O_SECRET:
            a->secret = optarg;
            break;
        case O_NOSIGN:
            a->sign = false;
            break;
        case O_FORMAT:
            if (strcmp (optarg, "protobuf") == 0)
                a->format = SEND_FORMAT_PROTOBUF;
            else if (strcmp (optarg, "json") == 0)
                a->format = SEND_FORMAT_JSON;
            else {
                fprintf (stderr, "hamustro-send: --format: protobuf or json, got '%s'\n", optarg);
                return -1;
            }
            break;
        case O_PAYLOADS:
            if (s_parse_payloads (optarg, a))
                return -1;
            break;
        case O_SESSIONS:
            if (s_parse_u64 ("--sessions", optarg, 1, 1000000, &v))
                return -1;
            a->sessions = (uint32_t)v;
            break;
        case O_CONC:
            if (s_parse_u64 ("--concurrency", optarg, 1, S_MAX_CONCURRENCY, &v))
                return -1;
            a->concurrency = (uint32_t)v;
            break;
        case O_COUNT:
            if (s_parse_u64 ("--count", optarg, 1, UINT64_MAX / 2, &a->count))
                return -1;
            have_count = true;
            break;
        case O_DURATION:
            if (s_parse_seconds ("--duration", optarg, &a->duration))
                return -1;
            break;
        case O_RATE:
            if (s_parse_seconds ("--rate", optarg, &a->rate))
                return -1;
            break;
        case O_RETRY:
            if (s_parse_u64 ("--retry", optarg, 0, 1000, &v))
                return -1;
            a->retry = (uint32_t)v;
            break;
        case O_TIMEOUT:
            if (s_parse_seconds ("--timeout", optarg, &d))
                return -1;
            a->timeout_ms = (long)(d * 1000.0);
            break;
        case O_RECORD:
            a->record = optarg;
            break;
        case O_CACERT:
            a->cacert = optarg;
            break;
        case O_INSECURE:
            a->insecure = true;
            break;
        case O_CORPUS:
            a->corpus = optarg;
            break;
        case O_SEED:
            if (s_parse_u64 ("--seed", optarg, 1, UINT64_MAX, &a->seed))
                return -1;
            break;
        case O_JSON:
            a->json_summary = true;
            break;
        case O_QUIET:
            a->progress = false;
            break;
        case O_GZIP:
            a->gzip = true;
            break;
        case O_HELP:
            s_usage (stdout);
            return 1;
        case O_VERSION:
            printf ("hamustro-send %s\n", HAMUSTRO_VERSION);
            return 1;
        case ':':
            fprintf (stderr, "hamustro-send: %s needs a value\n", argv[optind - 1]);
            return -1;
        default:
            fprintf (stderr, "hamustro-send: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "hamustro-send: unexpected argument '%s' (see --help)\n", argv[optind]);
        return -1;
    }
    if (!have_count && a->duration == 0)
        a->count = 1;
    if (a->corpus && (!have_count || a->duration > 0)) {
        fprintf (stderr, "hamustro-send: --corpus needs --count N (and no --duration)\n");
        return -1;
    }
    if (a->corpus && a->gzip) {
        fprintf (stderr, "hamustro-send: --gzip does not apply to --corpus\n");
        return -1;
    }
    return 0;
}

/* libcurl reads the body from here (CURLOPT_READFUNCTION). */
static size_t
s_read_body (char *buffer, size_t size, size_t nitems, void *userdata)
{
    s_slot_t *slot = (s_slot_t *)userdata;
    const hm_buf_t *b = &slot->body.body;
    size_t n = size * nitems;
    if (n > b->len - slot->read_pos)
        n = b->len - slot->read_pos;
    memcpy (buffer, b->data + slot->read_pos, n);
    slot->read_pos += n;
    return n;
}

/* libcurl rewinds the body to send it again (CURLOPT_SEEKFUNCTION). It does
   so only after it wrote some of it on a connection that then died: the
   request may have reached the server, so it counts as a send. */
static int
s_seek_body (void *userdata, curl_off_t offset, int origin)
{
    s_slot_t *slot = (s_slot_t *)userdata;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > slot->body.body.len)
        return CURL_SEEKFUNC_FAIL;
    if (slot->read_pos > 0)
        slot->rewinds++;
    slot->read_pos = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t
s_discard (char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

/* May another request start now? */
static bool
s_may_start (const s_run_t *run, double now)
{
    const s_args_t *a = run->args;
    if (s_signals)
        return false;
    if (a->count && run->started >= a->count)
        return false;
    if (a->duration > 0 && now - run->t0 >= a->duration)
        return false;
    if (a->rate > 0 && now < run->t0 + (double)run->started / a->rate)
        return false;
    return true;
}

/* Builds a new request in a free slot and hands it to curl. */
static int
s_start (s_run_t *run, uint32_t idx)
{
    s_slot_t *slot = &run->slots[idx];
    if (send_gen_next (run->gen, &slot->body) != 0) {
        fprintf (stderr, "hamustro-send: out of memory building a body\n");
        return -1;
    }
    if (run->args->gzip) {
        /* The body goes out compressed and is signed as sent (the
           signature's md5 is over the gzip bytes, ARCHITECTURE section 2). */
        hm_buf_t plain = slot->body.body;
        slot->body.body = slot->gz;
        slot->gz = plain;
        hm_buf_reset (&slot->body.body);
        if (hm_gzip (slot->gz.data, slot->gz.len, &slot->body.body) != 0) {
            fprintf (stderr, "hamustro-send: out of memory compressing a body\n");
            return -1;
        }
    }
    char time_s[24];
    snprintf (time_s, sizeof time_s, "%lld", (long long)time (NULL));
    curl_slist_free_all (slot->headers);
    slot->headers =
        send_headers (run->args->format, run->args->sign, run->secret, &slot->body, time_s);
    if (!slot->headers) {
        fprintf (stderr, "hamustro-send: out of memory\n");
        return -1;
    }
    /* curl would otherwise send "Expect: 100-continue" above 1 KiB and wait
       a round trip for it; the collector reads the body anyway. */
    struct curl_slist *t = curl_slist_append (slot->headers, "Expect:");
    if (!t)
        return -1;
    slot->headers = t;
    if (run->args->gzip) {
        if (!(t = curl_slist_append (slot->headers, "Content-Encoding: gzip")))
            return -1;
        slot->headers = t;
    }
    curl_easy_setopt (slot->easy, CURLOPT_HTTPHEADER, slot->headers);
    curl_easy_setopt (slot->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)slot->body.body.len);
    slot->read_pos = 0;
    slot->attempts = 0;
    slot->rewinds = 0;
    slot->retry_at = 0;
    run->started++;
    if (curl_multi_add_handle (run->multi, slot->easy) != CURLM_OK)
        return -1;
    return 0;
}

static void
s_release (s_run_t *run, s_slot_t *slot)
{
    run->free_slots[run->free_count++] = (uint32_t)(slot - run->slots);
}

static void
s_record (s_run_t *run, const send_body_t *body, unsigned sends)
{
    if (!run->record)
        return;
    for (uint32_t k = 0; k < body->events; k++) {
        if (sends > 1)
            fprintf (run->record, "%s\t%u\t%u\n", body->session, body->first_nr + k, sends);
        else
            fprintf (run->record, "%s\t%u\n", body->session, body->first_nr + k);
    }
}

/* A transfer ended: count it, and resend, record or free its slot. */
static void
s_complete (s_run_t *run, CURL *easy, CURLcode result)
{
    char *priv = NULL;
    curl_easy_getinfo (easy, CURLINFO_PRIVATE, &priv);
    s_slot_t *slot = (s_slot_t *)priv;
    curl_multi_remove_handle (run->multi, easy);
    slot->attempts++;
    uint32_t sends = slot->attempts + slot->rewinds;
    long status = 0;
    if (result == CURLE_OK) {
        curl_easy_getinfo (easy, CURLINFO_RESPONSE_CODE, &status);
        curl_off_t us = 0;
        curl_easy_getinfo (easy, CURLINFO_TOTAL_TIME_T, &us);
        send_hist_add (&run->stats.latency, (uint64_t)(us > 0 ? us : 0));
    }
    if (status == 503 && slot->attempts <= run->args->retry && !s_signals) {
        curl_off_t after = 0;
        curl_easy_getinfo (easy, CURLINFO_RETRY_AFTER, &after);
        double wait = after > 0 ? (double)after : 1.0;
        if (wait > S_MAX_RETRY_AFTER_S)
            wait = S_MAX_RETRY_AFTER_S;
        slot->retry_at = s_now () + wait;
        run->waiting++;
        run->stats.retries++;
        return;
    }
    send_stats_finish (&run->stats, status, slot->body.events, slot->body.body.len);
    run->stats.rewinds += slot->rewinds;
    if (status == 200)
        s_record (run, &slot->body, sends);
    s_release (run, slot);
}

/* Resends due retries; returns the earliest pending retry time (0: none). */
static double
s_resend_due (s_run_t *run, double now)
{
    double next = 0;
    for (uint32_t i = 0; i < run->args->concurrency && run->waiting; i++) {
        s_slot_t *slot = &run->slots[i];
        if (slot->retry_at == 0)
            continue;
        if (s_signals) {
            /* stopping: the request keeps its last answer (503) */
            slot->retry_at = 0;
            run->waiting--;
            send_stats_finish (&run->stats, 503, slot->body.events, slot->body.body.len);
            run->stats.rewinds += slot->rewinds;
            s_release (run, slot);
        }
        else if (slot->retry_at <= now) {
            slot->retry_at = 0;
            run->waiting--;
            slot->read_pos = 0;
            curl_multi_add_handle (run->multi, slot->easy);
        }
        else if (next == 0 || slot->retry_at < next)
            next = slot->retry_at;
    }
    return next;
}

static int
s_run_init (s_run_t *run, const s_args_t *args, const char *secret, const char *url)
{
    memset (run, 0, sizeof *run);
    run->args = args;
    run->secret = secret;
    run->gen = send_gen_new (args->seed, args->format, args->min_payloads, args->max_payloads,
                             args->sessions);
    run->multi = curl_multi_init ();
    run->slots = calloc (args->concurrency, sizeof *run->slots);
    run->free_slots = calloc (args->concurrency, sizeof *run->free_slots);
    if (!run->gen || !run->multi || !run->slots || !run->free_slots)
        return -1;
    curl_multi_setopt (run->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)args->concurrency);
    curl_multi_setopt (run->multi, CURLMOPT_MAXCONNECTS, (long)args->concurrency);
    for (uint32_t i = 0; i < args->concurrency; i++) {
        s_slot_t *slot = &run->slots[i];
        hm_buf_init (&slot->body.body, 0);
        hm_buf_init (&slot->gz, 0);
        if (!(slot->easy = curl_easy_init ()))
            return -1;
        curl_easy_setopt (slot->easy, CURLOPT_URL, url);
        curl_easy_setopt (slot->easy, CURLOPT_POST, 1L);
        curl_easy_setopt (slot->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt (slot->easy, CURLOPT_TIMEOUT_MS, args->timeout_ms);
        curl_easy_setopt (slot->easy, CURLOPT_CONNECTTIMEOUT_MS, args->timeout_ms);
        curl_easy_setopt (slot->easy, CURLOPT_WRITEFUNCTION, s_discard);
        curl_easy_setopt (slot->easy, CURLOPT_PRIVATE, (char *)slot);
        curl_easy_setopt (slot->easy, CURLOPT_READFUNCTION, s_read_body);
        curl_easy_setopt (slot->easy, CURLOPT_READDATA, slot);
        curl_easy_setopt (slot->easy, CURLOPT_SEEKFUNCTION, s_seek_body);
        curl_easy_setopt (slot->easy, CURLOPT_SEEKDATA, slot);
        curl_easy_setopt (slot->easy, CURLOPT_USERAGENT, "hamustro-send/" HAMUSTRO_VERSION);
        if (args->cacert)
            curl_easy_setopt (slot->easy, CURLOPT_CAINFO, args->cacert);
        if (args->insecure) {
            curl_easy_setopt (slot->easy, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt (slot->easy, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        run->free_slots[run->free_count++] = args->concurrency - 1 - i;
    }
    if (args->record) {
        run->record = fopen (args->record, "a");
        if (!run->record) {
            fprintf (stderr, "hamustro-send: %s: %s\n", args->record, strerror (errno));
            return -1;
        }
        /* one write per megabyte, flushed at exit */
        setvbuf (run->record, NULL, _IOFBF, 1 << 20);
    }
    return 0;
}

/* Frees the run; -1 when the record file could not be written. */
static int
s_run_destroy (s_run_t *run)
{
    int rc = 0;
    for (uint32_t i = 0; run->slots && i < run->args->concurrency; i++) {
        s_slot_t *slot = &run->slots[i];
        if (slot->easy) {
            curl_multi_remove_handle (run->multi, slot->easy);
            curl_easy_cleanup (slot->easy);
        }
        curl_slist_free_all (slot->headers);
        hm_buf_free (&slot->body.body);
        hm_buf_free (&slot->gz);
    }
    if (run->multi)
        curl_multi_cleanup (run->multi);
    if (run->record && fclose (run->record) != 0) {
        fprintf (stderr, "hamustro-send: %s: %s\n", run->args->record, strerror (errno));
        rc = -1;
    }
    free (run->slots);
    free (run->free_slots);
    send_gen_destroy (&run->gen);
    return rc;
}

/* The send loop; returns when every request has ended or on a second signal. */
static int
s_run (s_run_t *run)
{
    const s_args_t *a = run->args;
    run->t0 = s_now ();
    double next_progress = run->t0 + 0.5;
    while (s_signals < 2) {
        double now = s_now ();
        while (run->free_count && s_may_start (run, now))
            if (s_start (run, run->free_slots[--run->free_count]) != 0)
                return -1;
        double next_retry = run->waiting ? s_resend_due (run, now) : 0;
        int running = 0;
        curl_multi_perform (run->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read (run->multi, &left)))
            if (msg->msg == CURLMSG_DONE)
                s_complete (run, msg->easy_handle, msg->data.result);
        if (a->progress && now >= next_progress) {
            send_stats_progress (&run->stats, now - run->t0, stderr);
            next_progress = now + 0.5;
        }
        if (run->free_count == a->concurrency && !s_may_start (run, s_now ())) {
            bool more = !s_signals && (!a->count || run->started < a->count) &&
                        (a->duration == 0 || s_now () - run->t0 < a->duration);
            if (!more)
                break; /* nothing in flight, nothing waiting, nothing to start */
        }
        /* Sleep until curl has work, or the next retry / rate slot / tick. */
        double wake = a->progress ? next_progress : now + 0.1;
        if (next_retry > 0 && next_retry < wake)
            wake = next_retry;
        if (a->rate > 0) {
            double slot_t = run->t0 + (double)run->started / a->rate;
            if (slot_t < wake)
                wake = slot_t;
        }
        int timeout_ms = (int)((wake - s_now ()) * 1000.0);
        if (run->free_count && s_may_start (run, s_now ()))
            timeout_ms = 0;
        if (timeout_ms < 0)
            timeout_ms = 0;
        if (timeout_ms > 100)
            timeout_ms = 100;
        curl_multi_poll (run->multi, NULL, 0, timeout_ms, NULL);
    }
    /* A second signal abandons what is in flight: those got no answer. */
    for (uint32_t i = 0; i < a->concurrency; i++)
        if (run->slots[i].retry_at > 0)
            send_stats_finish (&run->stats, 503, run->slots[i].body.events,
                               run->slots[i].body.body.len);
    uint64_t unfinished = run->started - run->stats.requests;
    for (uint64_t i = 0; i < unfinished; i++)
        send_stats_finish (&run->stats, 0, 0, 0);
    return 0;
}

/* The URL from the config's ingest address (HAMUSTRO_HOST/PORT applied);
   https when the ingest has a TLS certificate. */
static void
s_default_url (const hm_config_t *cfg, char *out, size_t cap)
{
    const char *host = cfg->host && cfg->host[0] ? cfg->host : "127.0.0.1";
    if (strcmp (host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp (host, "::") == 0)
        host = "::1";
    bool v6 = strchr (host, ':') != NULL;
    snprintf (out, cap, "%s://%s%s%s:%u/api/v1/track", cfg->tls_cert ? "https" : "http",
              v6 ? "[" : "", host, v6 ? "]" : "", (unsigned)cfg->port);
}

int
main (int argc, char **argv)
{
    s_args_t args;
    int rc = s_parse_args (argc, argv, &args);
    if (rc != 0)
        return rc > 0 ? 0 : 2;

    hm_config_t *cfg = NULL;
    bool need_url = !args.url && !args.corpus;
    bool need_secret = !args.secret && args.sign;
    if (need_url || need_secret) {
        const char *path = args.config_path ? args.config_path : getenv ("HAMUSTRO_CONFIG");
        if (path && !path[0])
            path = NULL;
        char err[512];
        cfg = hm_config_load (path, err, sizeof err);
        if (!cfg) {
            fprintf (stderr, "hamustro-send: config: %s\n", err);
            return 2;
        }
    }
    const char *secret = args.secret ? args.secret : cfg ? cfg->shared_secret : "";
    if (!secret)
        secret = "";
    char url[1024];
    if (args.url)
        snprintf (url, sizeof url, "%s", args.url);
    else if (cfg)
        s_default_url (cfg, url, sizeof url);

    if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf (stderr, "hamustro-send: curl_global_init failed\n");
        hm_config_destroy (&cfg);
        return 1;
    }
    if (args.corpus) {
        send_gen_t *gen = send_gen_new (args.seed, args.format, args.min_payloads,
                                        args.max_payloads, args.sessions);
        rc = gen ? send_write_corpus (args.corpus, args.count, args.format, args.sign, secret, gen)
                 : -1;
        send_gen_destroy (&gen);
        hm_config_destroy (&cfg);
        curl_global_cleanup ();
        return rc == 0 ? 0 : 1;
    }

    hm_signal_on_stop (s_on_signal);

    s_run_t run;
    rc = 0;
    if (s_run_init (&run, &args, secret, url) != 0 || s_run (&run) != 0) {
        fprintf (stderr, "hamustro-send: setup failed (out of memory?)\n");
        rc = 1;
    }
    double elapsed = s_now () - run.t0;
    if (args.progress) {
        send_stats_progress (&run.stats, elapsed, stderr);
        fputc ('\n', stderr);
    }
    if (rc == 0) {
        send_stats_summary (&run.stats, elapsed, args.json_summary, stdout);
        fflush (stdout);
        if (run.stats.errors)
            rc = 1;
    }
    if (s_run_destroy (&run) != 0)
        rc = 1;
    hm_config_destroy (&cfg);
    curl_global_cleanup ();
    return rc;
}
