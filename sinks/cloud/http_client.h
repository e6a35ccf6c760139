/*  http_client: HTTP requests on libcurl's multi interface, for the cloud
    sinks, plus the rule that turns an answer into OK, RETRY or DROP.

    One client keeps its connections alive across requests and runs up to
    max_in_flight requests at once; submitting more is refused (-1) until
    one completes, so the caller always knows what it holds. Nothing runs
    by itself: the caller drives the client from its own loop, either

        hm_http_client_run (client, 50);          // wait up to 50 ms, then work

    or, to wait on ZeroMQ sockets and curl together,

        n = hm_http_client_pollfds (client, fds, max, &timeout);
        ... poll (or zmq_poll with the same fds) ...
        hm_http_client_perform (client);

    Completion callbacks run inside run/perform/drain, in the caller's
    thread. The client is not thread safe: one thread owns it. */
#ifndef HM_HTTP_CLIENT_H
#define HM_HTTP_CLIENT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "sink_stats.h"

typedef enum { HM_HTTP_OK = 0, HM_HTTP_RETRY = 1, HM_HTTP_DROP = 2 } hm_http_verdict_t;

typedef struct {
    long connect_timeout_ms;     /* TCP (and TLS) connect; default 5000 */
    long total_timeout_ms;       /* whole request, queueing for a connection included; 60000 */
    size_t max_in_flight;        /* requests submitted and not completed; default 16 */
    size_t max_host_connections; /* connections to one host; default max_in_flight */
    size_t max_body;             /* response body bytes kept (rest counted, dropped); 1 MiB */
    bool verbose;                /* curl's own trace to stderr */
} hm_http_options_t;

typedef struct hm_http_client_t hm_http_client_t;
typedef struct hm_http_request_t hm_http_request_t;

/* One completed request, valid only during the completion callback. */
typedef struct {
    long status;          /* HTTP status; 0 when no answer came */
    int curl_code;        /* CURLcode: CURLE_OK when an answer came */
    const char *error;    /* curl's reason when curl_code != 0, else "" */
    const char *body;     /* response body, NUL-terminated, <= max_body bytes */
    size_t body_len;      /* bytes in body */
    bool body_truncated;  /* the answer was longer than max_body */
    long new_connections; /* connections this request opened (0: one was reused) */
    const char *method;   /* the request's method */
    const char *url;      /* the request's URL */
    const char *headers;  /* "name\0value\0" pairs of the final answer */
    size_t header_count;  /* pairs in headers */
} hm_http_response_t;

typedef void (hm_http_done_fn) (const hm_http_response_t *response, void *arg);

hm_http_options_t hm_http_options_default (void);

/* Request building. A request is the caller's until submitted. */
hm_http_request_t *hm_http_request_new (const char *method, const char *url);
void hm_http_request_destroy (hm_http_request_t **self_p);
/* Adds "name: value". 0 / -1 (out of memory, or a CR/LF in name or value). */
int hm_http_request_header (hm_http_request_t *self, const char *name, const char *value);
/* Takes *body_p (malloc'd, freed with the request) and nulls it. */
void hm_http_request_take_body (hm_http_request_t *self, void **body_p, size_t len);
/* Copies the body. 0 / -1. */
int hm_http_request_copy_body (hm_http_request_t *self, const void *body, size_t len);

hm_http_client_t *hm_http_client_new (const hm_http_options_t *opts);
/* Aborts what is in flight (each callback runs once, curl_code
   CURLE_ABORTED_BY_CALLBACK) and closes the connections. Safe twice. */
void hm_http_client_destroy (hm_http_client_t **self_p);

/* Starts the request. On success takes *request_p (nulled) and calls
   done (response, arg) exactly once later. On -1 (client full: see
   hm_http_client_full; or curl refused it) the request stays the caller's. */
int hm_http_client_submit (hm_http_client_t *self, hm_http_request_t **request_p,
                           hm_http_done_fn *done, void *arg);
size_t hm_http_client_in_flight (const hm_http_client_t *self);
bool hm_http_client_full (const hm_http_client_t *self);

/* One step: does what is ready, waits up to timeout_ms for more, does
   that. Returns how many requests completed, or -1 on a curl multi error.
   Returns at once (0) when nothing is in flight: it never sleeps idle. */
int hm_http_client_run (hm_http_client_t *self, int timeout_ms);
/* Runs until nothing is in flight (0) or timeout_ms passed (-1). */
int hm_http_client_drain (hm_http_client_t *self, int timeout_ms);
/* For an outside poll loop: fills fds (POLLIN/POLLOUT as curl wants) and
   sets *timeout_ms to how long curl may wait (capped at 100 ms, as curl's
   select-style fd set can miss a descriptor >= FD_SETSIZE). Returns the
   number of fds, or -1 when more than max are needed. zmq_pollitem_t takes
   the same fds with ZMQ_POLLIN / ZMQ_POLLOUT. */
int hm_http_client_pollfds (hm_http_client_t *self, struct pollfd *fds, size_t max,
                            long *timeout_ms);
/* After the outside poll: does what is ready. Returns completions, or -1. */
int hm_http_client_perform (hm_http_client_t *self);

/* The answer's header value (case-insensitive name), or NULL. */
const char *hm_http_response_header (const hm_http_response_t *response, const char *name);

/* The service's error code: the x-ms-error-code header (Azure), the
   x-amzn-ErrorType header (AWS JSON), <Code>…</Code> (AWS and Azure XML), or
   "__type" / "code" in a JSON body. Writes "" when there is none. */
void hm_http_error_code (const hm_http_response_t *response, char *out, size_t outlen);

/* The rule (pure):
   OK     2xx.
   RETRY  every transport error (timeouts, refused, reset, DNS, TLS); 1xx/3xx;
          5xx; 408; 429; 401; 403 (credentials, clock, policy: all curable
          by an operator); 404, 409, 410, 412 (a bucket, queue or topic that
          may be created, a resource being deleted or leased); and any
          status whose error code says throttling (Throttling,
          ThrottlingException, SlowDown, RequestLimitExceeded, ServerBusy,
          ...) or authentication (SignatureDoesNotMatch, InvalidAccessKeyId,
          ExpiredToken, AuthenticationFailed, AuthorizationFailure, ...),
          since AWS sends some of those with 400.
   DROP   every other 4xx: the request itself can never succeed (400
          InvalidParameter, 413 RequestEntityTooLarge, MessageTooLarge...).
   reason gets e.g. "HTTP 503 SlowDown" or "curl: Timeout was reached". */
hm_http_verdict_t hm_http_classify (long status, int curl_code, const char *error_code,
                                    char *reason, size_t reason_len);
/* The same for a response: its status, curl code and error code, with the
   service's message (if any) added to the reason. */
hm_http_verdict_t hm_http_classify_response (const hm_http_response_t *response, char *reason,
                                             size_t reason_len);
const char *hm_http_verdict_name (hm_http_verdict_t verdict);

/* The class of a RETRY answer, for the retries-by-reason metric (pure):
   a curl timeout, 408 or a *Timeout code: timeout; any other transport
   error: connect; 429 or a throttling code: throttled; 401, 403 or an
   authentication code: auth; then by status: http_4xx, http_5xx, else
   other. */
hm_retry_class_t hm_http_retry_class (long status, int curl_code, const char *error_code);
hm_retry_class_t hm_http_retry_class_response (const hm_http_response_t *response);

#endif
