/*  dispatch: the sink side of one route (ARCHITECTURE section 3).

    Binds a ROUTER at the route's endpoint. Sink instances connect DEALERs
    and say READY with a credit; sealed batches go to the instance with the
    most free credit; ACK/NACK are matched by (first, last) from any
    instance. Heartbeats both ways: an instance silent for sink_timeout_ms
    is dead and its batches go back to the front of the queue. With
    ZMQ_ROUTER_MANDATORY a send to an identity that vanished fails instead
    of disappearing, and the instance is treated as dead at once. */
#ifndef HM_ROUTER_DISPATCH_H
#define HM_ROUTER_DISPATCH_H

#include "config.h"
#include "hm_buf.h"
#include "hm_log.h"
#include "route.h"
#include "sink_stats.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISPATCH_MAX_INSTANCES 64  /* more READYs than this are ignored (logged) */
#define DISPATCH_NACK_DELAY_MS 100 /* a NACKed batch waits this long before going out again */

typedef struct _dispatch_t dispatch_t;

/* zctx: the libzmq context. NULL with the reason in errbuf on error. */
dispatch_t *dispatch_new (void *zctx, route_t *route, const hm_config_t *cfg, char *errbuf,
                          size_t errlen);
void dispatch_destroy (dispatch_t **self_p);

void *dispatch_socket (dispatch_t *self);
route_t *dispatch_route (dispatch_t *self);
/* Handles up to max messages from sink instances. */
void dispatch_recv (dispatch_t *self, uint64_t now_ms, size_t max);
/* Expires silent instances, sends ready batches, sends heartbeats. */
void dispatch_run (dispatch_t *self, uint64_t now_ms);
/* Monotonic time when dispatch_run has something to do. */
uint64_t dispatch_next_deadline (const dispatch_t *self);
/* After route_replay: the route forgot its batches, so do we. */
void dispatch_forget_inflight (dispatch_t *self);
/* Live sink instances. */
size_t dispatch_instance_count (const dispatch_t *self);
/* Appends the dispatcher's part of a route's STATUS JSON (no braces). */
void dispatch_status (const dispatch_t *self, uint64_t now_ms, hm_buf_t *out);

typedef struct {
    uint64_t delivered;     /* batches sent */
    uint64_t redelivered;   /* ... of which were sent before */
    uint64_t joined;        /* instances that said READY */
    uint64_t died;          /* instances declared dead */
    uint64_t malformed;     /* sink messages that failed validation */
    uint64_t stale;         /* answers for batches no longer in flight */
    uint64_t dead_lettered; /* events the sinks' ACKs said were dead-lettered */
} dispatch_counters_t;
/* What a sink instance reported about itself (SinkStats). */
typedef struct {
    uint32_t instance;      /* its --route NAME:N number */
    uint64_t batches;       /* batches stored */
    uint64_t events;        /* events in them */
    uint64_t retries;       /* failed attempts, retried */
    uint64_t dead_lettered; /* events dead-lettered */
    uint32_t held;          /* batches it holds */
    uint64_t last_success;  /* epoch seconds of its last stored batch (0: none) */
    /* Sent by newer sinks only (SinkStats 8..11); has_* false: not sent. */
    bool has_attempts;                               /* attempts was sent */
    uint64_t attempts;                               /* tries at a batch */
    bool has_by_reason;                              /* retries_by was sent */
    uint64_t retries_by[HM_RETRY_CLASSES];           /* retries by reason class */
    bool has_requests;                               /* the histogram was sent */
    uint64_t request_buckets[HM_REQUEST_BOUNDS + 1]; /* attempts by duration */
    double request_seconds;                          /* their durations added up */
    uint32_t inflight; /* the router's count: batches sent to it, not answered */
} dispatch_sink_stats_t;
/* The connected instances' last reports, one per instance number, at most
   max; returns how many. */
size_t dispatch_sink_stats (const dispatch_t *self, dispatch_sink_stats_t *out, size_t max);

/* A sink instance's last warnings or errors (SinkStats.recent_errors). */
typedef struct {
    uint32_t instance;    /* its --route NAME:N number */
    hm_log_entry_t entry; /* the line, its time on the router's clock */
} dispatch_error_t;
/* The connected instances' recent errors, at most max; returns how many. */
size_t dispatch_recent_errors (const dispatch_t *self, dispatch_error_t *out, size_t max);

/* The dispatcher's counters, for the metrics. */
void dispatch_counters (const dispatch_t *self, dispatch_counters_t *c);

#endif
