/*  worker: one event-loop thread of hamustro-ingest. It owns an HTTP
    daemon (libmicrohttpd, external epoll mode) listening on the shared
    host:port with SO_REUSEPORT, a DEALER to the router's append endpoint
    and a DEALER to its control endpoint, and waits on all of them in one
    zmq_poll. Because the HTTP loop and the sockets live in the same thread,
    a request handler can send to the router directly and a router reply can
    resume the waiting connection directly: no locks, no hand-offs. */
#ifndef HM_INGEST_WORKER_H
#define HM_INGEST_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "stats.h"
#include "tls.h"

typedef struct ingest_worker_t ingest_worker_t;

/* Creates the worker's daemon (bound to addr) and sockets; nothing runs
   yet. zmq_ctx is shared by all workers. undrained is shared too: it starts
   at the number of workers, each one that has nothing left in flight after
   a stop decrements it, and a worker leaves only when it reaches 0, so
   idle connections keep getting 503 while any thread still drains.
   unlinked (shared) starts at the number of workers too: a worker whose
   append socket gains its first router link decrements it and increments
   it when it loses its last, so /api/health says up only when a request
   would be taken whichever thread it lands on. tls
   (shared, not owned; tls.h) makes the daemon speak only HTTPS. NULL
   with a reason in errbuf. */
ingest_worker_t *ingest_worker_new (const hm_config_t *cfg, void *zmq_ctx, unsigned index,
                                    unsigned threads, atomic_uint *undrained, atomic_uint *unlinked,
                                    hm_ingest_stats_t *stats, ingest_tls_t *tls,
                                    const struct sockaddr *addr, socklen_t addr_len, char *errbuf,
                                    size_t errlen);
/* Monotonic clock in ms (the ingest's one clock: deadlines, uptime). */
int64_t hm_now_ms (void);
/* Starts the thread. 0 or -1. */
int ingest_worker_start (ingest_worker_t *self);
/* Asks the thread to stop gracefully (any thread may call this). */
void ingest_worker_stop (ingest_worker_t *self);
/* True once the thread has left its loop (it stopped, or failed). */
bool ingest_worker_finished (ingest_worker_t *self);
/* Waits for the thread; returns its result (0 clean, -1 failure). */
int ingest_worker_join (ingest_worker_t *self);
void ingest_worker_destroy (ingest_worker_t **self_p);

#endif
