/*  send_args: hamustro-send's command line: the options, their defaults and
    bounds, and --help. Parsing only: what an option means is up to the
    sending loop (send_run), the corpus writer (send_corpus) and main. */
#ifndef SEND_ARGS_H
#define SEND_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "send_gen.h"

#define SEND_MAX_CONCURRENCY 10000

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
} send_args_t;

/* Fills a from argv: 0 to run; 1 when done (--help or --version printed);
   -1 on bad arguments, with the reason on stderr. */
int send_args_parse (int argc, char **argv, send_args_t *a);

#endif
