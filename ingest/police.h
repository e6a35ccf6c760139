/*  police: an ingest thread's defence against slow clients, in the manner
    of nginx's client_header_timeout / client_body_timeout and Apache's
    mod_reqtimeout. libmicrohttpd's own timeout counts idle time only, so a
    client that sends one byte a second is never idle and holds its slot
    forever; 1,100 of them fill max_connections. The police watches every
    connection of its thread and closes (shutdown(2) on its socket; MHD then
    sees the end of the stream and drops it):

    - a request head that is not whole within ingest.header_timeout of its
      first byte (of the connection's start for a new connection);
    - a body that, after ingest.body_timeout, averages less than
      ingest.body_min_rate bytes/s since its head arrived;
    - the rest of a body read and dropped after an early answer (lingering
      close, see request.c) past ingest.linger_timeout;
    - when the thread's table is full: the unfinished requests and idle
      keep-alive connections closest to their own deadline (the slowest, or
      oldest), a sixteenth of the table at a time, so that clients waiting
      in the listen backlog get in.

    A request handed to the router (waiting for its durable answer) or
    whose answer is being sent is never closed by the police. */
#ifndef HM_INGEST_POLICE_H
#define HM_INGEST_POLICE_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct ingest_worker_t ingest_worker_t;
typedef struct ingest_conn_t ingest_conn_t;

/* Why the police closed a connection (stats.h counts each). */
typedef enum {
    HM_POLICE_HEAD = 0, /* head not whole within header_timeout */
    HM_POLICE_BODY,     /* body below body_min_rate after body_timeout */
    HM_POLICE_LINGER,   /* dropped body still coming after linger_timeout */
    HM_POLICE_FULL,     /* table full: the slowest went first */
    HM_POLICE_KINDS,
} hm_police_why_t;

/* Per connection (a field of ingest_conn_t). */
typedef struct {
    ingest_conn_t *prev;  /* neighbours in the thread's list of connections */
    ingest_conn_t *next;  /* ... */
    int64_t head_start;   /* ms: the head being read began; -1: none (idle) */
    int64_t body_start;   /* ms: the head was whole; -1: no request */
    uint64_t body_bytes;  /* body bytes received by this request */
    int64_t linger_start; /* ms: the answer was decided early, the rest is dropped; -1 */
    int64_t idle_since;   /* ms: the last request completed (keep-alive); -1: none yet */
    bool handed;          /* this request went to the router (or a control request): exempt */
    bool closing;         /* shut down, MHD has not dropped it yet */
} hm_police_conn_t;

/* Per thread (a field of ingest_worker_t). */
typedef struct {
    ingest_conn_t *conns;               /* every connection of the thread */
    unsigned count;                     /* how many */
    unsigned closing;                   /* of which shut down and not yet dropped */
    unsigned limit;                     /* the thread's connection limit */
    int64_t next_sweep;                 /* ms: when to look at deadlines again */
    int64_t log_next;                   /* ms: the next summary log line may go then */
    uint64_t unlogged[HM_POLICE_KINDS]; /* closed since the last summary line */
} hm_police_t;

/* Sets the limit (the thread's share of max_connections). */
void hm_police_init (hm_police_t *self, unsigned limit);

/* libmicrohttpd callbacks (cls is the worker): they keep the police's
   books and hand on to request.c's callbacks. */
enum MHD_Result hm_police_access (void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls);
void hm_police_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
                          enum MHD_RequestTerminationCode toe);
void hm_police_connection (void *cls, struct MHD_Connection *connection, void **socket_context,
                           enum MHD_ConnectionNotificationCode toe);

/* After each MHD_run: closes what is overdue (at most every tick) and,
   when the table is full, the slowest. */
void hm_police_run (ingest_worker_t *w, int64_t now);
/* When hm_police_run next has work (ms, monotonic), or -1: none. */
int64_t hm_police_next (ingest_worker_t *w);

#endif
