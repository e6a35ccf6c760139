/*  blob_backend: stores each sealed batch as one block blob in Azure
    Storage (the original Hamustro's "abs" dialect).

        blob    = hm_path_expand (blob_path, seal_time) + hm_batch_name (..., gz)
        content = every event encoded (JSON lines or CSV), gzip'd
        type    = application/x-ndjson (JSON lines, as the S3 sink) or text/csv;
                  content encoding gzip

    Up to part_size bytes (after gzip) go in one Put Blob; larger content
    is cut into blocks (Put Block, several at once) committed by one Put
    Block List. Either way the blob appears whole or not at all, and a
    redelivered batch has the same name, so a retry replaces it.

    Block ids are the same for every attempt at a blob ("block 0", "block
    1", ...): a retry's blocks replace the uncommitted blocks of an earlier
    attempt, and because gzip here is deterministic (no timestamp in the
    header) even two instances racing on one batch upload identical bytes
    under each id. Uncommitted blocks the service throws away after a week.

    Every answer goes through hm_http_classify: 2xx is OK; 403 (a wrong
    key), 404 (a container not created yet), 5xx, timeouts and a stopped
    service are RETRY, without limit, in the runtime; any other 4xx means
    this batch's request can never succeed and is DROP (dead-lettered). */
#include "blob_backend.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "digest.h"
#include "encode.h"
#include "gz.h"
#include "hm_log.h"
#include "pathname.h"

typedef struct {
    const hm_route_config_t *route; /* the route served (owned by the config) */
    hm_azure_account_t acct;        /* account, key, endpoint */
    char *container;                /* container name */
    char *blob_path;                /* name template before the batch name, may be "" */
    uint64_t part_size;             /* above this (gzip'd) use blocks */
    hm_http_options_t http_opts;    /* for (re)creating http */
    hm_http_client_t *http;         /* keep-alive connections to the service */
    hm_buf_t encoded;               /* scratch: the batch encoded */
    hm_buf_t compressed;            /* scratch: the same gzip'd */
    hm_event_scratch_t scratch;     /* the event being encoded */
    /* The blob being uploaded by one deliver: */
    const char *path;                     /* "/container/name", encoded */
    size_t part;                          /* bytes per block */
    size_t parts;                         /* blocks */
    hm_http_verdict_t verdict;            /* worst answer so far */
    char reason[HM_SINK_REASON_MAX - 64]; /* its reason */
    hm_retry_class_t cls;                 /* RETRY: the reason's class */
} s_blob_t;

const char *
hm_blob_content_type (hm_format_t format)
{
    return format == HM_FORMAT_CSV ? "text/csv" : "application/x-ndjson";
}

void
hm_blob_block_id (size_t index, char out[33])
{
    char raw[24];
    /* 21 bytes: base64 without padding, 28 characters, for every index
       below a million (the service allows 50,000 blocks). */
    snprintf (raw, sizeof raw, "hamustro-block-%06zu", index % 1000000);
    hm_base64_encode (raw, strlen (raw), out);
}

int
hm_blob_block_list_xml (hm_buf_t *out, size_t count)
{
    if (hm_buf_puts (out, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>") != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        char id[33];
        hm_blob_block_id (i, id);
        if (hm_buf_printf (out, "<Latest>%s</Latest>", id) != 0)
            return -1;
    }
    return hm_buf_puts (out, "</BlockList>");
}

int
hm_blob_path (hm_buf_t *out, const char *container, const char *name)
{
    if (hm_buf_printf (out, "/%s/", container) != 0)
        return -1;
    /* "a//b" and a leading '/' would name another blob than the template
       says on some clients; the service keeps them, so do we. */
    return hm_azure_encode_path (out, name);
}

size_t
hm_blob_parts (size_t len, uint64_t part_size, size_t *part)
{
    uint64_t p = part_size ? part_size : HM_BLOB_DEFAULT_PART_SIZE;
    if (len == 0) {
        *part = (size_t)p;
        return 1;
    }
    if ((len + p - 1) / p > HM_BLOB_MAX_BLOCKS)
        p = (len + HM_BLOB_MAX_BLOCKS - 1) / HM_BLOB_MAX_BLOCKS;
    *part = (size_t)p;
    return (size_t)((len + p - 1) / p);
}

/* --- init ------------------------------------------------------------------ */

static void
s_destroy (void **state_p)
{
    s_blob_t *self = *state_p;
    if (!self)
        return;
    hm_http_client_destroy (&self->http);
    hm_azure_account_free (&self->acct);
    free (self->container);
    free (self->blob_path);
    hm_buf_free (&self->encoded);
    hm_buf_free (&self->compressed);
    hm_event_scratch_free (&self->scratch);
    free (self);
    *state_p = NULL;
}

static int
s_configure (s_blob_t *self, const hm_config_t *cfg, const hm_route_config_t *route,
             const cJSON *section, char *errbuf, size_t errlen)
{
    char keypath[512];
    hm_sink_keypath (cfg, route, keypath, sizeof keypath);
    const char *container, *blob_path;
    hm_azure_keys_t keys;
    if (hm_azure_section_keys (section, keypath, &keys, errbuf, errlen) ||
        hm_azure_section_string (section, "container", keypath, &container, errbuf, errlen) ||
        hm_azure_section_string (section, "blob_path", keypath, &blob_path, errbuf, errlen) ||
        hm_azure_check_name (container, keypath, "container", "container", errbuf, errlen))
        return -1;
    char probe[4096];
    if (hm_path_expand (blob_path ? blob_path : "", 0, probe, sizeof probe) != 0 ||
        strlen (probe) > 900) {
        /* The service's limit is 1024 characters for the whole name. */
        snprintf (errbuf, errlen, "%s.blob_path: longer than 900 characters", keypath);
        return -1;
    }
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive (section, "part_size");
    self->part_size = HM_BLOB_DEFAULT_PART_SIZE;
    if (ps && !cJSON_IsNull (ps)) {
        double v = cJSON_IsNumber (ps) ? ps->valuedouble : -1;
        if (v < 1 || v > (double)HM_BLOB_MAX_PART_SIZE || v != (double)(uint64_t)v) {
            snprintf (errbuf, errlen, "%s.part_size: must be a whole number of bytes in [1, %llu]",
                      keypath, (unsigned long long)HM_BLOB_MAX_PART_SIZE);
            return -1;
        }
        self->part_size = (uint64_t)v;
    }
    if (hm_azure_account_from_keys (&self->acct, HM_AZURE_BLOB, &keys, keypath, errbuf, errlen) !=
        0)
        return -1;
    self->container = strdup (container);
    self->blob_path = strdup (blob_path ? blob_path : "");
    if (!self->container || !self->blob_path) {
        snprintf (errbuf, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static void *
s_init (const hm_config_t *cfg, const hm_route_config_t *route, char *errbuf, size_t errlen)
{
    s_blob_t *self = calloc (1, sizeof *self);
    cJSON *section = cJSON_Parse (route->section_json ? route->section_json : "{}");
    if (!self || !section) {
        snprintf (errbuf, errlen, "route '%s': out of memory", route->name);
        goto fail;
    }
    self->route = route;
    hm_event_scratch_init (&self->scratch);
    hm_buf_init (&self->encoded, HM_BLOB_MAX_BATCH_BYTES);
    hm_buf_init (&self->compressed, HM_BLOB_MAX_BATCH_BYTES);
    if (s_configure (self, cfg, route, section, errbuf, errlen) != 0)
        goto fail;
    self->http_opts = hm_http_options_default ();
    self->http_opts.max_in_flight = HM_BLOB_IN_FLIGHT;
    /* A whole block at a slow link: give each request five minutes. */
    self->http_opts.total_timeout_ms = 300000;
    self->http_opts.max_body = 64 * 1024;
    if (!(self->http = hm_http_client_new (&self->http_opts))) {
        snprintf (errbuf, errlen, "route '%s': cannot create the HTTP client", route->name);
        goto fail;
    }
    hm_info ("blob sink: %s%s/%s/%s (part size %" PRIu64 " bytes)", self->acct.base,
             self->acct.prefix, self->container, self->blob_path, self->part_size);
    cJSON_Delete (section);
    return self;
fail:
    cJSON_Delete (section);
    void *state = self;
    s_destroy (&state);
    return NULL;
}

/* --- upload ---------------------------------------------------------------- */

/* Keeps the worst verdict of the answers (RETRY over DROP over OK) and
   the reason of the first one that made it so. */
static int
s_note (s_blob_t *self, const char *what, const hm_http_response_t *response)
{
    char reason[HM_SINK_REASON_MAX - 128];
    hm_http_verdict_t v = hm_http_classify_response (response, reason, sizeof reason);
    if (v == HM_HTTP_OK)
        return 0;
    bool worse = self->verdict == HM_HTTP_OK || (v == HM_HTTP_RETRY && self->verdict != v);
    if (worse) {
        self->verdict = v;
        snprintf (self->reason, sizeof self->reason, "%s: %s", what, reason);
        self->cls = hm_http_retry_class_response (response);
    }
    return 1; /* stop: the blob cannot be complete in this attempt */
}

/* The blob's properties, sent with Put Blob and with Put Block List. */
static void
s_content_headers (const s_blob_t *self, hm_sharedkey_header_t *h)
{
    h[0] = (hm_sharedkey_header_t){"x-ms-blob-content-encoding", "gzip"};
    h[1] = (hm_sharedkey_header_t){"x-ms-blob-content-type",
                                   hm_blob_content_type (self->route->format)};
}

static int
s_make_whole (void *arg, size_t index, hm_http_request_t **req_p)
{
    s_blob_t *self = arg;
    (void)index;
    hm_sharedkey_header_t h[3];
    s_content_headers (self, h);
    h[2] = (hm_sharedkey_header_t){"x-ms-blob-type", "BlockBlob"};
    *req_p = hm_azure_request_new (&self->acct, "PUT", self->path, NULL, h, 3,
                                   self->compressed.data, self->compressed.len, true, time (NULL));
    return *req_p ? 1 : -1;
}

static int
s_done_whole (void *arg, size_t index, const hm_http_response_t *response)
{
    (void)index;
    return s_note (arg, "Put Blob", response);
}

static int
s_make_block (void *arg, size_t index, hm_http_request_t **req_p)
{
    s_blob_t *self = arg;
    char id[33], query[128];
    hm_blob_block_id (index, id);
    hm_buf_t q;
    hm_buf_init (&q, sizeof query - 1);
    if (hm_buf_puts (&q, "comp=block&blockid=") != 0 || hm_azure_encode_query (&q, id) != 0) {
        hm_buf_free (&q);
        return -1;
    }
    snprintf (query, sizeof query, "%s", q.data);
    hm_buf_free (&q);
    size_t off = index * self->part;
    size_t len = self->compressed.len - off < self->part ? self->compressed.len - off : self->part;
    *req_p = hm_azure_request_new (&self->acct, "PUT", self->path, query, NULL, 0,
                                   self->compressed.data + off, len, true, time (NULL));
    return *req_p ? 1 : -1;
}

static int
s_done_block (void *arg, size_t index, const hm_http_response_t *response)
{
    char what[64];
    snprintf (what, sizeof what, "Put Block %zu", index);
    return s_note (arg, what, response);
}

static int
s_make_list (void *arg, size_t index, hm_http_request_t **req_p)
{
    s_blob_t *self = arg;
    (void)index;
    hm_buf_t xml;
    hm_buf_init (&xml, 0);
    char md5[25];
    hm_azure_md5_base64 (self->compressed.data, self->compressed.len, md5);
    hm_sharedkey_header_t h[3];
    s_content_headers (self, h);
    /* The whole blob's MD5, kept as its Content-MD5 property like Put Blob's. */
    h[2] = (hm_sharedkey_header_t){"x-ms-blob-content-md5", md5};
    *req_p = NULL;
    if (hm_blob_block_list_xml (&xml, self->parts) == 0)
        *req_p = hm_azure_request_new (&self->acct, "PUT", self->path, "comp=blocklist", h, 3,
                                       xml.data, xml.len, true, time (NULL));
    hm_buf_free (&xml);
    return *req_p ? 1 : -1;
}

static int
s_done_list (void *arg, size_t index, const hm_http_response_t *response)
{
    (void)index;
    return s_note (arg, "Put Block List", response);
}

/* Runs the requests; OK, RETRY or DROP from what the service answered. */
static hm_sink_status_t
s_run (s_blob_t *self, size_t count, hm_azure_make_fn *make, hm_azure_done_fn *done,
       hm_sink_result_t *result)
{
    if (hm_azure_run_all (&self->http, &self->http_opts, count, make, done, self) != 0 &&
        self->verdict == HM_HTTP_OK)
        return hm_sink_retry (result, "cannot build or run the requests (out of memory?)");
    if (self->verdict == HM_HTTP_RETRY)
        return hm_sink_retry_as (result, self->cls, "%s", self->reason);
    if (self->verdict == HM_HTTP_DROP)
        return hm_sink_drop (result, "%s", self->reason);
    return HM_SINK_OK;
}

static hm_sink_status_t
s_deliver (void *state, const hm_batch_t *batch, hm_sink_result_t *result)
{
    s_blob_t *self = state;
    const hm_route_config_t *route = self->route;
    if (batch->n_events == 0)
        return HM_SINK_OK;

    char dir[4096], name[256];
    if (hm_path_expand (self->blob_path, batch->seal_time, dir, sizeof dir) != 0)
        return hm_sink_retry (result, "blob_path expands to more than %zu bytes", sizeof dir);
    if (hm_batch_name (route->name, batch->first_offset, batch->last_offset, batch->seal_time,
                       route->format, true, name, sizeof name) != 0)
        return hm_sink_retry (result, "cannot build the blob name");
    hm_buf_t full, path;
    hm_buf_init (&full, 0);
    hm_buf_init (&path, 0);
    if (hm_buf_printf (&full, "%s%s", dir, name) != 0 ||
        hm_blob_path (&path, self->container, full.data) != 0) {
        hm_buf_free (&full);
        hm_buf_free (&path);
        return hm_sink_retry (result, "out of memory");
    }
    hm_buf_free (&full);

    hm_sink_status_t status = HM_SINK_OK;
    hm_buf_reset (&self->encoded);
    hm_buf_reset (&self->compressed);
    for (size_t i = 0; i < batch->n_events && status == HM_SINK_OK; i++) {
        const Hm__Event *e = hm_batch_event (batch, i, &self->scratch);
        if (!e || hm_encode (&self->encoded, e, route->format) != 0)
            status = hm_sink_retry (result, "encoding event %zu: over %u bytes or out of memory", i,
                                    HM_BLOB_MAX_BATCH_BYTES);
    }
    if (status == HM_SINK_OK &&
        hm_gzip (self->encoded.data, self->encoded.len, &self->compressed) != 0)
        status = hm_sink_retry (result, "gzip: out of memory");

    if (status == HM_SINK_OK) {
        self->path = path.data;
        self->verdict = HM_HTTP_OK;
        self->reason[0] = '\0';
        self->cls = HM_RETRY_OTHER;
        if (self->compressed.len <= self->part_size)
            status = s_run (self, 1, s_make_whole, s_done_whole, result);
        else {
            self->parts = hm_blob_parts (self->compressed.len, self->part_size, &self->part);
            status = s_run (self, self->parts, s_make_block, s_done_block, result);
            if (status == HM_SINK_OK)
                status = s_run (self, 1, s_make_list, s_done_list, result);
        }
        self->path = NULL;
    }
    if (status == HM_SINK_OK)
        hm_debug ("put %s (%zu events, %zu bytes gzip'd)", path.data, batch->n_events,
                  self->compressed.len);
    hm_buf_free (&path);
    /* Keep memory bounded between batches: a huge batch's buffers go. */
    if (self->encoded.cap > (16u << 20)) {
        hm_buf_free (&self->encoded);
        hm_buf_free (&self->compressed);
    }
    return status;
}

const hm_sink_backend_t hm_blob_backend = {
    .kind = "abs",
    .init = s_init,
    .deliver = s_deliver,
    .destroy = s_destroy,
};
