/*  ingest_http: the pure parts of the ingest's HTTP API (ARCHITECTURE
    section 2), kept apart from libmicrohttpd and ZeroMQ so they can be
    unit-tested: which endpoint a request is for, what its Content-Type
    means, whether its signature headers pass, how a router's answer maps
    to an HTTP status, and how an error body is written. */
#ifndef HM_INGEST_HTTP_H
#define HM_INGEST_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HM_PATH_TRACK "/api/v1/track"
#define HM_PATH_HEALTH "/api/health"
#define HM_PATH_FLUSH "/api/flush"
#define HM_PATH_STATS "/api/stats"

#define HM_HEADER_TIME "X-Hamustro-Time"
#define HM_HEADER_SIGNATURE "X-Hamustro-Signature"
#define HM_HEADER_MAINTENANCE_KEY "X-Hamustro-Maintenance-Key"

/* What a request asks for, from its path and method. */
typedef enum {
    HM_REQ_TRACK = 0,  /* POST /api/v1/track */
    HM_REQ_HEALTH,     /* GET or HEAD /api/health */
    HM_REQ_FLUSH,      /* POST /api/flush */
    HM_REQ_STATS,      /* GET or HEAD /api/stats */
    HM_REQ_NOT_FOUND,  /* 404: unknown path */
    HM_REQ_BAD_METHOD, /* 405: known path, wrong method; see allow */
} hm_req_kind_t;

/* Classifies a request. A query string ("?...") is ignored. For
   HM_REQ_BAD_METHOD, *allow_p (if not NULL) gets the Allow header value. */
hm_req_kind_t hm_ingest_classify (const char *url, const char *method, const char **allow_p);

/* How a track body is encoded, from its Content-Type. */
typedef enum {
    HM_BODY_UNSUPPORTED = 0, /* missing or anything else: 415 */
    HM_BODY_PROTOBUF,        /* application/protobuf, application/x-protobuf */
    HM_BODY_JSON,            /* application/json */
} hm_body_kind_t;

/* The mime type before any ';', trimmed, compared case-insensitively.
   content_type may be NULL. */
hm_body_kind_t hm_ingest_body_kind (const char *content_type);

/* Parses a Content-Length value: decimal digits only (surrounding blanks
   allowed). Returns 0 and the value, or -1 when malformed or overflowing. */
int hm_ingest_parse_length (const char *text, uint64_t *value_p);

/* Checks the signature headers of a track request. time and signature are
   the header values (NULL when absent; "" counts as absent). When neither
   is sent and the signature is optional, the request passes. Returns NULL
   when it passes, else the reason for the 401 answer. */
const char *hm_ingest_check_signature (bool required, const char *time, const char *signature,
                                       const void *body, size_t body_len, const char *secret);

/* The replay window (max_clock_skew_s): checks the X-Hamustro-Time of a
   request whose signature passed against now_s (epoch seconds). Passes
   when max_skew_s is 0 (off), when time is NULL or "" (an unsigned
   request under "signature": "optional", which has nothing to replay),
   or when |time - now_s| <= max_skew_s. Else returns the reason for the
   401 answer, written into why (cap bytes): not epoch seconds, or how far
   ahead of or behind the server's clock the time is. */
const char *hm_ingest_check_time (const char *time, int64_t now_s, uint32_t max_skew_s, char *why,
                                  size_t cap);

/* Checks the maintenance key header against sha256hex(key) (key_hex, 64
   chars) in constant time. true when it matches. */
bool hm_ingest_maintenance_key_ok (const char *header, const char *key_hex);

/* The HTTP status for a router AppendReply status (0 OK, 1 FULL, 2 ERROR,
   anything else is treated as ERROR): 200 or 503. */
unsigned hm_ingest_append_status (int reply_status);

/* Writes {"error":"<reason>"} with reason escaped as a JSON string (and cut
   to fit). Returns the length written (always < cap; cap must be >= 16). */
size_t hm_ingest_error_json (char *out, size_t cap, const char *reason);

/* The Reason-Phrase-ish short name of a status we send, for log lines. */
const char *hm_ingest_status_name (unsigned status);

#endif
