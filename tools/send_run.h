/*  send_run: hamustro-send's HTTP sending loop. Builds, signs and POSTs
    bodies from a send_gen on --concurrency kept-alive connections (libcurl
    multi), at most --rate a second, for --count requests or --duration
    seconds, resends a 503 after its Retry-After up to --retry times, counts
    every answer in a send_stats and records what a 200 acknowledged in the
    --record file (send_record). */
#ifndef SEND_RUN_H
#define SEND_RUN_H

#include <signal.h>

#include "send_args.h"
#include "send_stats.h"

typedef struct send_run_t send_run_t;

/* A run of args (kept, not copied) to url, signed with secret. signals is
   main's count of SIGINT/SIGTERM: the first stops new requests, the
   second abandons those in flight. NULL on failure (out of memory, or the
   --record file cannot be opened, said on stderr). */
send_run_t *send_run_new (const send_args_t *args, const char *secret, const char *url,
                          volatile sig_atomic_t *signals);

/* The send loop; returns when every request has ended or on a second
   signal (0), or -1 when a request could not be built (out of memory). */
int send_run_go (send_run_t *self);

/* Seconds since send_run_go started. */
double send_run_elapsed (const send_run_t *self);

/* The counters and latencies so far. */
const send_stats_t *send_run_stats (const send_run_t *self);

/* Frees the run and closes the record file; nulls *self_p, safe on NULL.
   -1 when the record file could not be written (said on stderr). */
int send_run_destroy (send_run_t **self_p);

#endif
