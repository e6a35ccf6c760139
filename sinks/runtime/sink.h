/*  sink: the contract between the sink runtime and a sink backend.

    Every sink program (file, s3, sns, abs, aqs) is this runtime plus one
    backend. The runtime owns everything that is the same for all of them:
    arguments, config, the DEALER to the router with credit, heartbeats and
    reconnects, the queue of held batches, retry timing (capped exponential
    backoff with full jitter, no retry limit), the dead-letter file,
    counters and SIGTERM. A backend only stores one batch:

        init     (cfg, route, errbuf)  -> state, or NULL with a reason
        deliver  (state, batch, result) -> HM_SINK_OK | HM_SINK_RETRY | HM_SINK_DROP
        destroy  (&state)

    OK: the batch is safely stored (the runtime ACKs it). The backend may
    have dead-lettered single events of it with hm_sink_dead_letter (e.g. an
    SNS message over 256 KiB); the runtime writes those to the route's
    dead-letter file before the ACK.
    RETRY (hm_sink_retry): nothing of it may be assumed stored; the runtime
    calls deliver again later with the same batch. For anything that can
    pass: a disk error, a 5xx, a timeout, throttling, bad credentials.
    DROP (hm_sink_drop): the whole batch can never be accepted; every event
    of it goes to the dead-letter file with the reason.

    deliver runs on the runtime's worker thread, one batch at a time, so a
    slow upload does not stop heartbeats; it must not touch the runtime's
    sockets. It may block for as long as one attempt takes. It reads the
    batch's events with hm_batch_event, into a scratch of its own. */
#ifndef HM_SINK_H
#define HM_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "delivery_decode.h"
#include "pipeline.pb-c.h"
#include "sink_stats.h"

typedef enum { HM_SINK_OK = 0, HM_SINK_RETRY = 1, HM_SINK_DROP = 2 } hm_sink_status_t;

#define HM_SINK_REASON_MAX 512

/* One dead-lettered event of a batch. */
typedef struct {
    size_t index; /* position in the batch (hm_batch_event) */
    char *reason; /* why it can never be delivered (owned) */
} hm_sink_dead_t;

/* What one deliver attempt says beyond its status. */
typedef struct {
    char reason[HM_SINK_REASON_MAX]; /* RETRY / DROP: why */
    hm_retry_class_t retry_class;    /* RETRY: the reason's class (hm_sink_retry_as) */
    double seconds;                  /* how long deliver took (hm_sink_attempt sets it) */
    hm_sink_dead_t *dead;            /* events dead-lettered by the backend */
    size_t dead_count;               /* entries used in dead */
    size_t dead_cap;                 /* entries allocated in dead */
} hm_sink_result_t;

void hm_sink_result_init (hm_sink_result_t *self);
/* Forgets reason and dead letters (before each attempt). */
void hm_sink_result_reset (hm_sink_result_t *self);
void hm_sink_result_free (hm_sink_result_t *self);

/* Set the reason and return the status, for "return hm_sink_retry (r, ...)". */
hm_sink_status_t hm_sink_retry (hm_sink_result_t *self, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
hm_sink_status_t hm_sink_drop (hm_sink_result_t *self, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
/* hm_sink_retry with the reason's class, for the retries-by-reason metric
   (hm_sink_retry says HM_RETRY_OTHER). */
hm_sink_status_t hm_sink_retry_as (hm_sink_result_t *self, hm_retry_class_t cls, const char *fmt,
                                   ...) __attribute__ ((format (printf, 3, 4)));
/* Marks event index of the batch as undeliverable. 0, or -1 out of memory
   (the backend should then answer RETRY). */
int hm_sink_dead_letter (hm_sink_result_t *self, size_t index, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* "FILE: routes.NAME.SINK", the prefix of a backend's errors about its
   route's section (keys follow: "...SINK.KEY: reason"); out gets it. */
void hm_sink_keypath (const hm_config_t *cfg, const hm_route_config_t *route, char *out,
                      size_t cap);

typedef struct {
    const char *kind; /* "file": the route's "sink" value this backend serves */
    void *(*init) (const hm_config_t *cfg, const hm_route_config_t *route, char *errbuf,
                   size_t errlen);
    hm_sink_status_t (*deliver) (void *state, const hm_batch_t *batch, hm_sink_result_t *result);
    void (*destroy) (void **state_p);
} hm_sink_backend_t;

/* One full attempt at a batch, without any socket: deliver, then the
   dead-letter file for what the backend dropped. Returns HM_SINK_OK (the
   batch may be ACKed with *dead_lettered events dead-lettered) or
   HM_SINK_RETRY with the reason in result->reason (also when the
   dead-letter file cannot be written). Never HM_SINK_DROP. */
hm_sink_status_t hm_sink_attempt (const hm_sink_backend_t *backend, void *state,
                                  const hm_route_config_t *route, const hm_batch_t *batch,
                                  hm_sink_result_t *result, uint32_t *dead_lettered);

/* The whole sink program: parses argv, loads the config, serves the route
   until SIGTERM/SIGINT. Returns the process exit code. */
int hm_sink_main (int argc, char **argv, const hm_sink_backend_t *backend);

#endif
