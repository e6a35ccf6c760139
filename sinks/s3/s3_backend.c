/*  s3_backend: stores each sealed batch as one gzip'd S3 object (the
    original Hamustro's "s3" dialect).

        key     = hm_s3_object_key (blob_path, route, first, last, seal_time)
        content = every event encoded (JSON lines or CSV), gzip'd

    Up to part_size bytes (of gzip'd content) go in one PutObject; larger
    objects in a multipart upload: CreateMultipartUpload, the parts (a few
    in flight at once), CompleteMultipartUpload; any failure aborts the
    upload (best effort: a bucket lifecycle rule should clean up uploads an
    unreachable S3 left behind). Every request carries Content-MD5 and the
    signed x-amz-content-sha256 of its own body, so S3 refuses a damaged
    body instead of storing it; the object carries Content-Encoding: gzip
    and the format's Content-Type (s3_request.h).

    The key derives from the batch's offsets and seal time, so a retried
    batch overwrites the same object: S3 never holds a batch twice.

    Answers are read with hm_http_classify: RETRY (5xx, throttling, 403,
    a missing bucket, a timeout, ...) goes back to the runtime, which
    retries forever with backoff; DROP cannot happen for a well-formed PUT,
    and if S3 ever says so, the batch goes to the dead-letter file with the
    reason rather than being retried into eternity. */
#include "s3_backend.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_section.h"
#include "encode.h"
#include "gz.h"
#include "hm_log.h"
#include "http_client.h"
#include "s3_request.h"

#define S3_IN_FLIGHT 8          /* parts uploaded at once (and client connections) */
#define S3_DRAIN_SLACK_MS 30000 /* past the request timeout before the client is reset */

typedef struct {
    const hm_route_config_t *route; /* the route served (owned by the config) */
    hm_aws_section_t aws;           /* region, endpoint, credentials */
    char *bucket;                   /* the bucket */
    char *blob_path;                /* key prefix template, "" for none */
    hm_s3_location_t loc;           /* where the bucket lives (points into aws / bucket) */
    size_t part_size;               /* multipart above this many gzip'd bytes */
    hm_aws_credentials_t cred;      /* for the signer (points into aws) */
    hm_sigv4_options_t sign_opts;   /* S3's SigV4 variant */
    hm_http_options_t http_opts;    /* client options */
    hm_http_client_t *client;       /* keeps connections alive across batches */
    hm_buf_t encoded;               /* scratch: the batch encoded */
    hm_buf_t compressed;            /* scratch: the same gzip'd */
    hm_buf_t path;                  /* scratch: the object's request path */
    hm_buf_t xml;                   /* scratch: CompleteMultipartUpload document */
    hm_event_scratch_t scratch;     /* the event being encoded */
} s_s3_t;

/* One request's outcome, filled by s_on_done. */
typedef struct {
    bool done;                 /* the callback ran */
    hm_http_verdict_t verdict; /* OK / RETRY / DROP */
    char reason[256];          /* why, when not OK */
    hm_retry_class_t cls;      /* RETRY: the reason's class */
    char etag[160];            /* the ETag header (UploadPart) */
    char code[64];             /* error code of a 200 <Error> document */
    char upload_id[512];       /* CreateMultipartUpload's UploadId */
    bool want_upload_id;       /* parse UploadId out of the body */
} s_call_t;

static void s_destroy (void **state_p);

static void *
s_init (const hm_config_t *cfg, const hm_route_config_t *route, char *errbuf, size_t errlen)
{
    char prefix[512];
    hm_sink_keypath (cfg, route, prefix, sizeof prefix);
    s_s3_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (errbuf, errlen, "out of memory");
        return NULL;
    }
    self->route = route;
    hm_event_scratch_init (&self->scratch);
    hm_buf_init (&self->encoded, HM_S3_MAX_BATCH_BYTES);
    hm_buf_init (&self->compressed, HM_S3_MAX_BATCH_BYTES);
    hm_buf_init (&self->path, 0);
    hm_buf_init (&self->xml, 0);
    cJSON *section = cJSON_Parse (route->section_json ? route->section_json : "{}");
    char *addressing = NULL;
    if (!section) {
        snprintf (errbuf, errlen, "%s: section is not JSON", prefix);
        goto fail;
    }
    if (hm_aws_section_read (section, prefix, true, &self->aws, errbuf, errlen) != 0 ||
        hm_aws_string (section, prefix, "bucket", &self->bucket, errbuf, errlen) != 0 ||
        hm_aws_string (section, prefix, "blob_path", &self->blob_path, errbuf, errlen) != 0 ||
        hm_aws_string (section, prefix, "addressing", &addressing, errbuf, errlen) != 0)
        goto fail;
    if (!self->bucket || !*self->bucket || strpbrk (self->bucket, "/?#")) {
        snprintf (errbuf, errlen, "%s.bucket: %s", prefix,
                  self->bucket && *self->bucket ? "not a bucket name" : "missing");
        goto fail;
    }
    if (!self->blob_path && !(self->blob_path = strdup ("")))
        goto oom;
    char probe[1024];
    if (hm_s3_object_key (self->blob_path, route->name, 1, 1, 0, route->format, probe,
                          sizeof probe) != 0) {
        snprintf (errbuf, errlen, "%s.blob_path: longer than S3's 1024-byte keys", prefix);
        goto fail;
    }
    /* Emulators and S3-compatible stores (an endpoint) answer path-style;
       AWS itself prefers bucket.s3.region.amazonaws.com. */
    self->loc.addressing = self->aws.endpoint ? HM_S3_PATH : HM_S3_VIRTUAL;
    if (addressing && strcmp (addressing, "path") == 0)
        self->loc.addressing = HM_S3_PATH;
    else if (addressing && strcmp (addressing, "virtual") == 0)
        self->loc.addressing = HM_S3_VIRTUAL;
    else if (addressing) {
        snprintf (errbuf, errlen, "%s.addressing: must be \"path\" or \"virtual\", not \"%s\"",
                  prefix, addressing);
        goto fail;
    }
    self->loc.https = self->aws.endpoint ? self->aws.parsed.https : true;
    self->loc.host = self->aws.endpoint ? self->aws.parsed.host : NULL;
    self->loc.base_path = self->aws.endpoint ? self->aws.parsed.path : "";
    self->loc.region = self->aws.region;
    self->loc.bucket = self->bucket;

    self->part_size = HM_S3_DEFAULT_PART;
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive (section, "part_size");
    if (ps && !cJSON_IsNull (ps)) {
        /* S3 refuses parts under 5 MiB but the last; a store behind an
           endpoint (the tests' s3rver) may take less, so the multipart path
           can be exercised with small batches. */
        double min = self->aws.endpoint ? HM_S3_TEST_MIN_PART : HM_S3_MIN_PART;
        if (!cJSON_IsNumber (ps) || ps->valuedouble != (double)(uint64_t)ps->valuedouble ||
            ps->valuedouble < min || ps->valuedouble > (double)HM_S3_MAX_PART) {
            snprintf (errbuf, errlen,
                      "%s.part_size: must be a whole number of bytes from %.0f (%s) to %llu",
                      prefix, min, self->aws.endpoint ? "with an endpoint" : "S3's minimum",
                      (unsigned long long)HM_S3_MAX_PART);
            goto fail;
        }
        self->part_size = (size_t)ps->valuedouble;
        if (self->part_size < HM_S3_MIN_PART)
            hm_warn ("%s.part_size: %zu is under S3's 5 MiB minimum part: only for emulators",
                     prefix, self->part_size);
    }
    self->cred = (hm_aws_credentials_t){self->aws.access_key_id, self->aws.secret_access_key,
                                        self->aws.session_token, self->aws.region, "s3"};
    self->sign_opts = hm_sigv4_options_s3 ();
    self->http_opts = hm_http_options_default ();
    self->http_opts.max_in_flight = S3_IN_FLIGHT;
    self->http_opts.max_host_connections = S3_IN_FLIGHT;
    self->client = hm_http_client_new (&self->http_opts);
    if (!self->client)
        goto oom;
    free (addressing);
    cJSON_Delete (section);
    return self;
oom:
    snprintf (errbuf, errlen, "out of memory");
fail:
    free (addressing);
    cJSON_Delete (section);
    void *state = self;
    s_destroy (&state);
    return NULL;
}

static void
s_destroy (void **state_p)
{
    s_s3_t *self = *state_p;
    if (!self)
        return;
    hm_http_client_destroy (&self->client);
    hm_aws_section_free (&self->aws);
    free (self->bucket);
    free (self->blob_path);
    hm_buf_free (&self->encoded);
    hm_buf_free (&self->compressed);
    hm_buf_free (&self->path);
    hm_buf_free (&self->xml);
    hm_event_scratch_free (&self->scratch);
    free (self);
    *state_p = NULL;
}

static void
s_on_done (const hm_http_response_t *r, void *arg)
{
    s_call_t *call = arg;
    call->done = true;
    call->verdict = hm_http_classify_response (r, call->reason, sizeof call->reason);
    call->cls = hm_http_retry_class_response (r);
    if (call->verdict != HM_HTTP_OK)
        return;
    /* CompleteMultipartUpload (and, rarely, others) may answer 200 and put
       an error in the body, after the headers went out. */
    if (hm_s3_error_document (r->body, r->body_len, call->code, sizeof call->code)) {
        call->verdict = hm_http_classify (500, 0, call->code, call->reason, sizeof call->reason);
        call->cls = hm_http_retry_class (500, 0, call->code);
        return;
    }
    const char *etag = hm_http_response_header (r, "ETag");
    snprintf (call->etag, sizeof call->etag, "%s", etag ? etag : "");
    if (call->want_upload_id &&
        hm_s3_upload_id (r->body, r->body_len, call->upload_id, sizeof call->upload_id) != 0) {
        call->verdict = HM_HTTP_RETRY;
        call->cls = HM_RETRY_OTHER;
        snprintf (call->reason, sizeof call->reason, "no UploadId in the answer");
    }
}

/* Waits for everything in flight. If the client cannot finish (a curl
   error, or far past the timeouts), it is reset: that completes every
   request (aborted) so no callback can run later on a dead s_call_t. */
static void
s_wait (s_s3_t *self)
{
    if (hm_http_client_drain (self->client,
                              (int)(self->http_opts.total_timeout_ms + S3_DRAIN_SLACK_MS)) == 0)
        return;
    hm_warn ("s3: requests did not finish: connections reset");
    hm_http_client_destroy (&self->client);
    self->client = hm_http_client_new (&self->http_opts);
}

/* Signs and submits one request to the object (query NULL for none).
   -1 (call->reason set) when it could not be built or submitted. */
static int
s_submit (s_s3_t *self, const char *method, const char *host, const char *query,
          const hm_sigv4_header_t *headers, size_t count, const void *body, size_t len,
          s_call_t *call)
{
    char err[256];
    call->cls = HM_RETRY_OTHER; /* until an answer says otherwise */
    if (!self->client) {
        snprintf (call->reason, sizeof call->reason, "no HTTP client (out of memory)");
        return -1;
    }
    hm_http_request_t *req =
        hm_aws_request (method, self->loc.https, host, self->path.data, query, headers, count, body,
                        len, &self->cred, &self->sign_opts, err, sizeof err);
    if (!req) {
        snprintf (call->reason, sizeof call->reason, "%s: %.200s", method, err);
        return -1;
    }
    if (hm_http_client_submit (self->client, &req, s_on_done, call) != 0) {
        hm_http_request_destroy (&req);
        snprintf (call->reason, sizeof call->reason, "%s: cannot submit the request", method);
        return -1;
    }
    return 0;
}

/* One request, waited for. Returns its verdict (RETRY when not sent). */
static hm_http_verdict_t
s_call (s_s3_t *self, const char *method, const char *host, const char *query,
        const hm_sigv4_header_t *headers, size_t count, const void *body, size_t len,
        s_call_t *call)
{
    if (s_submit (self, method, host, query, headers, count, body, len, call) != 0)
        return HM_HTTP_RETRY;
    s_wait (self);
    if (!call->done) {
        snprintf (call->reason, sizeof call->reason, "%s: no answer", method);
        call->cls = HM_RETRY_TIMEOUT; /* far past the timeouts */
        return HM_HTTP_RETRY;
    }
    return call->verdict;
}

static hm_sink_status_t
s_status (hm_sink_result_t *result, hm_http_verdict_t verdict, const char *what,
          const s_call_t *call)
{
    const char *reason = call ? call->reason : "failed";
    if (verdict == HM_HTTP_DROP)
        return hm_sink_drop (result, "%s refused by S3: %s", what, reason);
    return hm_sink_retry_as (result, call ? call->cls : HM_RETRY_OTHER, "%s: %s", what, reason);
}

static hm_sink_status_t
s_put_object (s_s3_t *self, const char *host, const char *type, hm_sink_result_t *result)
{
    char md5[25];
    hm_s3_content_md5 (self->compressed.data, self->compressed.len, md5);
    hm_sigv4_header_t h[] = {
        {"Content-Type", type}, {"Content-Encoding", "gzip"}, {"Content-MD5", md5}};
    s_call_t call = {0};
    hm_http_verdict_t v =
        s_call (self, "PUT", host, NULL, h, 3, self->compressed.data, self->compressed.len, &call);
    return v == HM_HTTP_OK ? HM_SINK_OK : s_status (result, v, "PutObject", &call);
}

static void
s_abort_upload (s_s3_t *self, const char *host, const char *query)
{
    s_call_t call = {0};
    if (s_call (self, "DELETE", host, query, NULL, 0, NULL, 0, &call) != HM_HTTP_OK)
        hm_warn ("s3: AbortMultipartUpload %s?%s: %s (the upload stays until a lifecycle rule "
                 "removes it)",
                 self->path.data, query, call.reason);
}

/* Uploads every part, up to S3_IN_FLIGHT at once. OK or a verdict with
   the first failure's reason in *failed. */
static hm_http_verdict_t
s_upload_parts (s_s3_t *self, const char *host, const char *enc_id, s_call_t *calls, size_t parts,
                size_t part_len, s_call_t **failed)
{
    size_t next = 0, finished = 0;
    hm_http_verdict_t verdict = HM_HTTP_OK;
    while (finished < parts) {
        /* Stop submitting after the first failure; wait for the rest. */
        while (verdict == HM_HTTP_OK && next < parts && self->client &&
               !hm_http_client_full (self->client)) {
            size_t off = next * part_len;
            size_t len =
                self->compressed.len - off < part_len ? self->compressed.len - off : part_len;
            char md5[25], query[700];
            hm_s3_content_md5 (self->compressed.data + off, len, md5);
            snprintf (query, sizeof query, "partNumber=%zu&uploadId=%s", next + 1, enc_id);
            hm_sigv4_header_t h[] = {{"Content-MD5", md5}};
            if (s_submit (self, "PUT", host, query, h, 1, self->compressed.data + off, len,
                          &calls[next]) != 0) {
                calls[next].done = true;
                calls[next].verdict = HM_HTTP_RETRY;
            }
            next++;
        }
        size_t in_flight = self->client ? hm_http_client_in_flight (self->client) : 0;
        if (in_flight > 0 && hm_http_client_run (self->client, 100) < 0) {
            s_wait (self);
        }
        finished = 0;
        for (size_t i = 0; i < next; i++) {
            if (!calls[i].done)
                continue;
            finished++;
            if (calls[i].verdict != HM_HTTP_OK && verdict == HM_HTTP_OK) {
                verdict = calls[i].verdict;
                *failed = &calls[i];
            }
        }
        if (verdict != HM_HTTP_OK &&
            (!self->client || hm_http_client_in_flight (self->client) == 0))
            break;
        if (!self->client)
            break;
    }
    if (verdict == HM_HTTP_OK && finished < parts) {
        verdict = HM_HTTP_RETRY;
        snprintf (calls[0].reason, sizeof calls[0].reason, "no HTTP client (out of memory)");
        calls[0].cls = HM_RETRY_OTHER;
        *failed = &calls[0];
    }
    return verdict;
}

static hm_sink_status_t
s_multipart (s_s3_t *self, const char *host, const char *key, const char *type,
             hm_sink_result_t *result)
{
    size_t part_len;
    size_t parts = hm_s3_part_plan (self->compressed.len, self->part_size, &part_len);
    hm_sigv4_header_t h[] = {{"Content-Type", type}, {"Content-Encoding", "gzip"}};
    s_call_t create = {.want_upload_id = true};
    hm_http_verdict_t v = s_call (self, "POST", host, "uploads", h, 2, NULL, 0, &create);
    if (v != HM_HTTP_OK)
        return s_status (result, v, "CreateMultipartUpload", &create);

    hm_buf_t enc;
    hm_buf_init (&enc, 0);
    char query[700];
    s_call_t *calls = calloc (parts, sizeof *calls);
    char **etags = calloc (parts, sizeof *etags);
    hm_sink_status_t status;
    if (hm_sigv4_uri_encode (&enc, create.upload_id, strlen (create.upload_id), false) != 0 ||
        !calls || !etags) {
        status = hm_sink_retry (result, "multipart: out of memory");
        goto abort;
    }
    snprintf (query, sizeof query, "uploadId=%s", enc.data);
    s_call_t *failed = NULL;
    v = s_upload_parts (self, host, enc.data, calls, parts, part_len, &failed);
    if (v != HM_HTTP_OK) {
        status = s_status (result, v, "UploadPart", failed);
        goto abort;
    }
    for (size_t i = 0; i < parts; i++) {
        if (!calls[i].etag[0]) {
            status = hm_sink_retry (result, "UploadPart %zu: no ETag in the answer", i + 1);
            goto abort;
        }
        etags[i] = calls[i].etag;
    }
    if (hm_s3_complete_body (&self->xml, etags, parts) != 0) {
        status = hm_sink_retry (result, "multipart: out of memory");
        goto abort;
    }
    hm_sigv4_header_t ch[] = {{"Content-Type", "application/xml"}};
    s_call_t complete = {0};
    v = s_call (self, "POST", host, query, ch, 1, self->xml.data, self->xml.len, &complete);
    if (v != HM_HTTP_OK) {
        status = s_status (result, v, "CompleteMultipartUpload", &complete);
        goto abort;
    }
    free (calls);
    free (etags);
    hm_buf_free (&enc);
    /* Multipart objects are large and few: worth a line each. */
    hm_info ("stored s3://%s/%s: %zu bytes in %zu parts (multipart)", self->bucket, key,
             self->compressed.len, parts);
    return HM_SINK_OK;
abort:
    if (enc.data)
        s_abort_upload (self, host, query);
    free (calls);
    free (etags);
    hm_buf_free (&enc);
    return status;
}

static hm_sink_status_t
s_deliver (void *state, const hm_batch_t *batch, hm_sink_result_t *result)
{
    s_s3_t *self = state;
    const hm_route_config_t *route = self->route;
    if (batch->n_events == 0)
        return HM_SINK_OK;
    char key[1100], host[600];
    if (hm_s3_object_key (self->blob_path, route->name, batch->first_offset, batch->last_offset,
                          batch->seal_time, route->format, key, sizeof key) != 0)
        return hm_sink_retry (result, "the object key is too long");
    if (hm_s3_target (&self->loc, key, host, sizeof host, &self->path) != 0)
        return hm_sink_retry (result, "the object's host or path is too long");

    hm_buf_reset (&self->encoded);
    for (size_t i = 0; i < batch->n_events; i++) {
        const Hm__Event *e = hm_batch_event (batch, i, &self->scratch);
        if (!e || hm_encode (&self->encoded, e, route->format) != 0)
            return hm_sink_retry (result, "encoding event %zu: over %u bytes or out of memory", i,
                                  HM_S3_MAX_BATCH_BYTES);
    }
    hm_buf_reset (&self->compressed);
    if (hm_gzip (self->encoded.data, self->encoded.len, &self->compressed) != 0)
        return hm_sink_retry (result, "gzip: out of memory");

    const char *type = hm_s3_content_type (route->format);
    hm_sink_status_t status = self->compressed.len <= self->part_size
                                  ? s_put_object (self, host, type, result)
                                  : s_multipart (self, host, key, type, result);
    if (status == HM_SINK_OK)
        hm_debug ("stored s3://%s/%s (%zu bytes, %zu events)", self->bucket, key,
                  self->compressed.len, batch->n_events);
    /* Keep memory bounded between batches: a huge batch's buffers go. */
    if (self->encoded.cap > (64u << 20)) {
        hm_buf_free (&self->encoded);
        hm_buf_free (&self->compressed);
    }
    return status;
}

const hm_sink_backend_t hm_s3_backend = {
    .kind = "s3",
    .init = s_init,
    .deliver = s_deliver,
    .destroy = s_destroy,
};
