/*  track: the ingest's decisions about a request that need no socket (see
    track.h). The code came from request.c's s_begin and s_track as it was;
    request.c now calls it. */
#include "track.h"

#include <stdio.h>
#include <string.h>

#include "collection_json.h"
#include "event.h"
#include "inflate.h"
#include "pb_read.h"
#include "signature.h"

unsigned
hm_ingest_head (const char *url, const char *method, bool stopping, hm_header_fn *header, void *ctx,
                uint64_t max_body_bytes, hm_req_kind_t *kind_p, const char **allow_p,
                const char **reason_p, uint64_t *length_p)
{
    *allow_p = NULL;
    *reason_p = "";
    *length_p = 0;
    *kind_p = hm_ingest_classify (url, method, allow_p);
    if (*kind_p == HM_REQ_NOT_FOUND) {
        *reason_p = "not found";
        return 404;
    }
    if (*kind_p == HM_REQ_BAD_METHOD) {
        *reason_p = "method not allowed";
        return 405;
    }
    if (stopping) {
        *reason_p = "server is stopping";
        return 503;
    }
    const char *length = header (ctx, "Content-Length");
    uint64_t n = 0;
    if (length && hm_ingest_parse_length (length, &n) == 0) {
        /* Refuse before reading a byte of it: MHD then closes the
           connection instead of draining the body. */
        if (n > max_body_bytes) {
            *reason_p = "body is larger than max_body_bytes";
            return 413;
        }
        *length_p = n;
    }
    return 0;
}

static unsigned
s_answer (hm_track_answer_t *a, unsigned status, hm_refusal_t refusal, const char *reason)
{
    a->status = status;
    a->refusal = refusal;
    if (reason)
        snprintf (a->reason, sizeof a->reason, "%s", reason);
    else
        a->reason[0] = '\0'; /* every accepted request: no snprintf */
    return status;
}

unsigned
hm_track_decide (const hm_config_t *cfg, hm_arena_t *arena, const hm_track_request_t *req,
                 hm_track_answer_t *a)
{
    const char *data = req->body;
    size_t len = req->body_len;
    a->reason[0] = '\0';
    a->refusal = HM_REFUSAL_NONE;
    a->kind = HM_BODY_UNSUPPORTED;
    a->col = NULL;
    a->ip[0] = '\0';
    const char *why = hm_ingest_check_signature (
        cfg->signature_required, req->header (req->ctx, HM_HEADER_TIME),
        req->header (req->ctx, HM_HEADER_SIGNATURE), data, len, cfg->shared_secret);
    char err[200] = "";
    hm_refusal_t refusal = HM_REFUSAL_SIGNATURE;
    if (!why) {
        why = hm_ingest_check_time (req->header (req->ctx, HM_HEADER_TIME), req->now_s,
                                    cfg->max_clock_skew_s, err, sizeof err);
        refusal = HM_REFUSAL_CLOCK_SKEW;
    }
    if (why)
        return s_answer (a, 401, refusal, why);
    a->kind = hm_ingest_body_kind (req->header (req->ctx, "Content-Type"));
    if (a->kind == HM_BODY_UNSUPPORTED)
        return s_answer (a, 415, HM_REFUSAL_CONTENT_TYPE,
                         "Content-Type must be application/protobuf or application/json");
    /* The signature above is over the bytes as sent; what is decoded is
       the body they inflate to, bounded by max_body_bytes as well. */
    hm_coding_t coding = hm_inflate_coding (req->header (req->ctx, "Content-Encoding"));
    if (coding == HM_CODING_UNSUPPORTED || (coding != HM_CODING_IDENTITY && !req->inflated))
        return s_answer (a, 415, HM_REFUSAL_CONTENT_ENCODING,
                         "Content-Encoding must be gzip, deflate or identity");
    if (coding != HM_CODING_IDENTITY) {
        hm_inflate_rc_t rc = hm_inflate (coding, data, len, (size_t)cfg->max_body_bytes,
                                         req->inflated, NULL, err, sizeof err);
        if (rc == HM_INFLATE_TOO_LARGE)
            return s_answer (a, 413, HM_REFUSAL_INFLATED_TOO_LARGE,
                             "body inflates to more than max_body_bytes");
        if (rc == HM_INFLATE_NO_MEMORY)
            return s_answer (a, 503, HM_REFUSAL_OVERLOAD, "out of memory");
        if (rc != HM_INFLATE_OK)
            return s_answer (a, 400, HM_REFUSAL_BAD_COMPRESSION, err);
        data = req->inflated->data;
        len = req->inflated->len;
        err[0] = '\0';
    }
    if (a->kind == HM_BODY_PROTOBUF) {
        /* Zero-copy: the collection's bytes point into data, which the
           caller keeps until hm_track_release (track.h). */
        a->col =
            (Collection *)hm_pb_read (&collection__descriptor, arena, len, (const uint8_t *)data);
        if (!a->col) {
            hm_arena_reset (arena); /* what the failed decode took */
            return s_answer (a, 400, HM_REFUSAL_DECODE, "body is not a valid protobuf Collection");
        }
        if (hm_collection_check (a->col, err, sizeof err) != 0)
            return s_answer (a, 400, HM_REFUSAL_DECODE, err);
    }
    else {
        a->col = hm_collection_from_json_in (arena, data, len, err, sizeof err);
        if (!a->col)
            return s_answer (a, 400, HM_REFUSAL_DECODE,
                             *err ? err : "body is not a valid JSON Collection");
    }
    const Collection *col = a->col;
    char session[33];
    const char *parts[4] = {(char *)col->device_id.data, (char *)col->client_id.data,
                            (char *)col->system_version.data, (char *)col->product_version.data};
    size_t lens[4] = {col->device_id.len, col->client_id.len, col->system_version.len,
                      col->product_version.len};
    hm_session_n (parts, lens, (int)col->env, session);
    if (!session[0] || !hm_bytes_eq (col->session, session, strlen (session)))
        return s_answer (a, 400, HM_REFUSAL_SESSION, "Collection's session attribute is invalid");
    if (col->n_payloads == 0)
        return s_answer (a, 204, HM_REFUSAL_NONE, NULL);
    hm_client_ip (cfg->trusted_proxies, cfg->n_trusted_proxies,
                  req->header (req->ctx, "X-Forwarded-For"), req->header (req->ctx, "X-Real-IP"),
                  req->peer, a->ip);
    return s_answer (a, 200, HM_REFUSAL_NONE, NULL);
}

void
hm_track_release (hm_arena_t *arena, hm_track_answer_t *a)
{
    /* Both decoders take from the arena, on success or failure. */
    hm_arena_reset (arena);
    a->col = NULL;
}
