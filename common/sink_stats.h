/*  sink_stats: what a sink instance and the router agree on about the
    counters in SinkStats (proto/pipeline.proto) beyond plain numbers: the
    retry reason classes, in the order of SinkStats.retries_by_reason, and
    the bounds of the backend request latency histogram, in the order of
    SinkStats.request_buckets. Both orders are part of the wire contract:
    classes are only ever appended (a router folds classes it does not know
    into "other"), and other bounds need a new field number (a router
    ignores a bucket list of another length). */
#ifndef HM_SINK_STATS_H
#define HM_SINK_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Why an attempt at a batch failed and is retried. */
typedef enum {
    HM_RETRY_CONNECT = 0, /* no connection: DNS, refused, reset, TLS handshake, send/receive */
    HM_RETRY_TIMEOUT,     /* the request took too long (curl timeout, HTTP 408, *Timeout codes) */
    HM_RETRY_THROTTLED,   /* the service asked us to slow down (429, Throttling, SlowDown...) */
    HM_RETRY_AUTH,        /* credentials, clock skew or permissions (401, 403, auth codes) */
    HM_RETRY_HTTP_4XX,    /* another 4xx worth retrying (404 missing bucket, 409, 412...) */
    HM_RETRY_HTTP_5XX,    /* a 5xx */
    HM_RETRY_IO,          /* a local file: open, write, fsync, rename (file sink, dead letters) */
    HM_RETRY_OTHER,       /* anything else: out of memory, an object name too long... */
    HM_RETRY_CLASSES
} hm_retry_class_t;

/* "connect", "timeout", ... the label value of a class. */
const char *hm_retry_class_name (hm_retry_class_t cls);

/* Upper bounds (seconds) of the backend request latency histogram's
   buckets, 1 ms to 60 s; SinkStats.request_buckets has one count per bound
   plus one for slower requests (+Inf), not cumulative. */
#define HM_REQUEST_BOUNDS 15
extern const double hm_request_bounds[HM_REQUEST_BOUNDS];

/* Index in request_buckets of a request that took seconds. */
size_t hm_request_bucket (double seconds);

#endif
