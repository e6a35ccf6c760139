/*  send_stats: hamustro-send's counters and latency histogram, and the
    progress line and summary it prints from them. The histogram is
    log-linear (16 sub-buckets per power of two, so a percentile is within
    about 6% of the truth) and has a fixed size however long the run. */
#ifndef SEND_STATS_H
#define SEND_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SEND_HIST_BUCKETS 1024

typedef struct {
    uint64_t counts[SEND_HIST_BUCKETS]; /* samples per bucket */
    uint64_t total;                     /* samples */
    uint64_t max;                       /* largest sample, exact */
} send_hist_t;

void send_hist_add (send_hist_t *self, uint64_t value);
/* The value at quantile q (0..1), the midpoint of its bucket capped by the
   maximum; 0 without samples. */
uint64_t send_hist_quantile (const send_hist_t *self, double q);

typedef struct {
    uint64_t requests;        /* requests finished (answered finally, or failed) */
    uint64_t status[600];     /* final HTTP status of each request, by code */
    uint64_t errors;          /* requests without an HTTP answer (transport errors) */
    uint64_t retries;         /* 503 answers that were retried */
    uint64_t rewinds;         /* sends libcurl repeated on a fresh connection by itself */
    uint64_t events_sent;     /* events in finished requests */
    uint64_t events_accepted; /* events in requests answered 200 */
    uint64_t bytes_sent;      /* body bytes of finished requests (first attempt) */
    send_hist_t latency;      /* microseconds, one sample per HTTP answer */
} send_stats_t;

/* Records the final outcome of one request; status 0 means transport error. */
void send_stats_finish (send_stats_t *self, long status, uint32_t events, uint64_t bytes);

/* "\r  12.5 s  12345 req  987 req/s  200:12340 503:5 err:0" without a newline. */
void send_stats_progress (const send_stats_t *self, double elapsed, FILE *out);
/* The final summary, as text or as one JSON object. */
void send_stats_summary (const send_stats_t *self, double elapsed, bool json, FILE *out);

#endif
