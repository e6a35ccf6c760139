/*  refusal: why the ingest refused a request, where the status code alone
    does not say it (a 401 is a bad signature or a clock out of the replay
    window; a 503 a full log, a failed one, a slow or unreachable router).
    The ingest counts its refusals by these causes and reports them to the
    router, which exports them as hamustro_ingest_refusals_total{reason}:
    the names below are the label values, so the set is bounded and a
    name the router does not know is not exported (ARCHITECTURE section 3). */
#ifndef HM_REFUSAL_H
#define HM_REFUSAL_H

typedef enum {
    HM_REFUSAL_NONE = 0,           /* not refused, or no cause worth telling apart */
    HM_REFUSAL_SIGNATURE,          /* 401: signature headers missing or wrong */
    HM_REFUSAL_CLOCK_SKEW,         /* 401: X-Hamustro-Time outside max_clock_skew_s */
    HM_REFUSAL_CONTENT_TYPE,       /* 415: not protobuf or JSON */
    HM_REFUSAL_CONTENT_ENCODING,   /* 415: not gzip, deflate or identity */
    HM_REFUSAL_BODY_TOO_LARGE,     /* 413: the body as sent is over max_body_bytes */
    HM_REFUSAL_INFLATED_TOO_LARGE, /* 413: it inflates past max_body_bytes */
    HM_REFUSAL_BAD_COMPRESSION,    /* 400: corrupt or truncated compressed data */
    HM_REFUSAL_DECODE,             /* 400: not a valid Collection */
    HM_REFUSAL_SESSION,            /* 400: the session is not the hash of its fields */
    HM_REFUSAL_LOG_FULL,           /* 503: the router answered FULL */
    HM_REFUSAL_ROUTER_ERROR,       /* 503: the router answered ERROR (log failed, no room) */
    HM_REFUSAL_ROUTER_TIMEOUT,     /* 503: no answer within router_timeout_ms */
    HM_REFUSAL_ROUTER_UNREACHABLE, /* 503: no router connected, or its queue full */
    HM_REFUSAL_OVERLOAD,           /* 503: too many requests waiting, or out of memory */
    HM_REFUSAL_STOPPING,           /* 503: the ingest is stopping */
    HM_REFUSAL_KINDS,
} hm_refusal_t;

/* Label value of each cause; [HM_REFUSAL_NONE] is NULL. */
extern const char *const hm_refusal_names[HM_REFUSAL_KINDS];

/* The cause with this name, or HM_REFUSAL_NONE. */
hm_refusal_t hm_refusal_by_name (const char *name);

#endif
