/*  send_args: hamustro-send's command line (see send_args.h). */
#include "send_args.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
s_parse_payloads (const char *text, send_args_t *a)
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

int
send_args_parse (int argc, char **argv, send_args_t *a)
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
            if (s_parse_u64 ("--concurrency", optarg, 1, SEND_MAX_CONCURRENCY, &v))
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
