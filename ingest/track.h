/*  track: what the ingest decides about a request without its sockets,
    moved out of request.c so a fuzz target (tests/fuzz/fuzz_request.c) and
    unit tests drive the same code: the answer decided from the request
    line and headers (hm_ingest_head), and a track request's answer from
    its headers and whole body (hm_track_decide): signature, Content-Type,
    decode, the collection's checks and the client IP of its events.
    Headers are read through a lookup function (libmicrohttpd's in the
    ingest), so a header a later check reads needs no new parameter. */
#ifndef HM_INGEST_TRACK_H
#define HM_INGEST_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "config.h"
#include "hm_buf.h"
#include "ingest_http.h"
#include "payload.pb-c.h"
#include "refusal.h"

/* A request header's value by name (case-insensitive), NULL when absent. */
typedef const char *hm_header_fn (void *ctx, const char *name);

/* The answer decided from the request line and headers alone (404, 405,
   503 while stopping, 413 for a Content-Length past max_body_bytes), or 0
   when the body is to be read. *kind_p gets the request's kind, *allow_p
   the Allow value of a 405 (else NULL), *reason_p the reason of an answer,
   *length_p the Content-Length when it is valid (else 0). */
unsigned hm_ingest_head (const char *url, const char *method, bool stopping, hm_header_fn *header,
                         void *ctx, uint64_t max_body_bytes, hm_req_kind_t *kind_p,
                         const char **allow_p, const char **reason_p, uint64_t *length_p);

/* A track request with its whole body. */
typedef struct {
    hm_header_fn *header;
    void *ctx;        /* passed to header */
    const char *peer; /* the socket's address as text, "" when unknown */
    const char *body; /* not NULL; as sent (the signature covers these bytes) */
    size_t body_len;
    int64_t now_s;      /* the clock for max_clock_skew_s (epoch seconds) */
    hm_buf_t *inflated; /* scratch for a Content-Encoding'd body, bounded by max_body_bytes;
                           NULL: such a body is refused with 415 */
} hm_track_request_t;

/* The decision. Status 200 means col holds events to send (ip: the client
   IP for events without one); 204, 400, 401, 413 (a body that inflates past
   max_body_bytes), 415 and 503 carry a reason. */
typedef struct {
    unsigned status;
    hm_refusal_t refusal; /* the cause of a refusal (refusal.h) */
    char reason[200];
    hm_body_kind_t kind;
    Collection *col; /* decoded (else NULL); freed by hm_track_release. A protobuf
                        one points into body (or inflated): keep them until then */
    char ip[64];
} hm_track_answer_t;

/* Decides a track request. The body (protobuf or JSON) is decoded into
   arena. Returns answer->status. Call hm_track_release after, whatever the status. */
unsigned hm_track_decide (const hm_config_t *cfg, hm_arena_t *arena, const hm_track_request_t *req,
                          hm_track_answer_t *answer);

/* Frees what hm_track_decide decoded. */
void hm_track_release (hm_arena_t *arena, hm_track_answer_t *answer);

#endif
