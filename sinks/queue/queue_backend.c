/*  queue_backend: puts each event of a sealed batch as one message on an
    Azure Storage queue (the original Hamustro's "aqs" dialect).

        POST {endpoint}/{queue}/messages
        <QueueMessage><MessageText>base64 (JSON line)</MessageText></QueueMessage>

    The JSON line is the event as the JSON lines format writes it, without
    its newline. Up to HM_QUEUE_IN_FLIGHT Put Message requests run at once
    on keep-alive connections.

    Delivery is at least once. A batch is OK only when every event was put
    (2xx) or dead-lettered: an event whose message text is over 64 KiB as
    sent, or that the service refuses for good (a 4xx that no waiting can
    cure, see hm_http_classify). Any other failure (403, 5xx, the service
    away) makes the whole batch RETRY; the events already put are
    remembered for the next attempt at the same batch, so a retry only
    sends what is missing. Only the latest failed batch is remembered: if
    the runtime interleaves another, the first one's retry puts its events
    again (duplicates, which (session, nr) identifies downstream). */
#include "queue_backend.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "digest.h"
#include "encode.h"
#include "hm_log.h"

/* An event's JSON line is bounded by the router's record size; this only
   keeps one pathological event from taking the memory. */
#define S_MAX_LINE (16u << 20)

typedef struct {
    const hm_route_config_t *route; /* the route served (owned by the config) */
    hm_azure_account_t acct;        /* account, key, endpoint */
    char *path;                     /* "/queue/messages" */
    hm_queue_encoding_t encoding;   /* message text encoding */
    hm_http_options_t http_opts;    /* for (re)creating http */
    hm_http_client_t *http;         /* keep-alive connections to the service */
    hm_buf_t line;                  /* scratch: one event's JSON line */
    hm_buf_t body;                  /* scratch: one request body */
    hm_event_scratch_t scratch;     /* the event being encoded */
    /* Events put of the latest batch that failed (memo across retries): */
    uint64_t memo_first; /* its first offset */
    uint64_t memo_last;  /* its last offset */
    size_t memo_count;   /* its events; 0: no memo */
    uint8_t *put;        /* put[i]: event i is in the queue */
    /* The attempt in progress: */
    const hm_batch_t *batch;              /* the batch */
    hm_sink_result_t *result;             /* where dead letters go */
    bool retry;                           /* some answer said RETRY */
    bool failed;                          /* out of memory while building or recording */
    char reason[HM_SINK_REASON_MAX - 64]; /* the first RETRY's reason */
    hm_retry_class_t cls;                 /* ... and its class */
} s_queue_t;

/* --- messages -------------------------------------------------------------- */

int
hm_queue_xml_escape (hm_buf_t *out, const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        const char *esc = s[i] == '&'    ? "&amp;"
                          : s[i] == '<'  ? "&lt;"
                          : s[i] == '>'  ? "&gt;"
                          : s[i] == '\r' ? "&#13;" /* a raw CR would be read as LF */
                                         : NULL;
        if (!esc)
            continue;
        if (hm_buf_append (out, s + start, i - start) != 0 || hm_buf_puts (out, esc) != 0)
            return -1;
        start = i + 1;
    }
    return hm_buf_append (out, s + start, len - start);
}

size_t
hm_queue_text_size (const char *line, size_t len, hm_queue_encoding_t encoding)
{
    if (encoding == HM_QUEUE_BASE64)
        return (len + 2) / 3 * 4;
    size_t n = len;
    for (size_t i = 0; i < len; i++)
        n += line[i] == '&' ? 4 : (line[i] == '<' || line[i] == '>') ? 3 : line[i] == '\r' ? 4 : 0;
    return n;
}

int
hm_queue_message_body (hm_buf_t *out, const char *line, size_t len, hm_queue_encoding_t encoding)
{
    if (hm_buf_puts (out, "<QueueMessage><MessageText>") != 0)
        return -1;
    if (encoding == HM_QUEUE_BASE64) {
        size_t n = (len + 2) / 3 * 4;
        if (hm_buf_reserve (out, n + 1) != 0)
            return -1;
        out->len += hm_base64_encode (line, len, out->data + out->len);
        out->data[out->len] = '\0';
    }
    else if (hm_queue_xml_escape (out, line, len) != 0)
        return -1;
    return hm_buf_puts (out, "</MessageText></QueueMessage>");
}

/* --- init ------------------------------------------------------------------ */

static void
s_destroy (void **state_p)
{
    s_queue_t *self = *state_p;
    if (!self)
        return;
    hm_http_client_destroy (&self->http);
    hm_azure_account_free (&self->acct);
    free (self->path);
    free (self->put);
    hm_buf_free (&self->line);
    hm_buf_free (&self->body);
    hm_event_scratch_free (&self->scratch);
    free (self);
    *state_p = NULL;
}

static int
s_configure (s_queue_t *self, const hm_config_t *cfg, const hm_route_config_t *route,
             const cJSON *section, char *errbuf, size_t errlen)
{
    char keypath[512];
    hm_sink_keypath (cfg, route, keypath, sizeof keypath);
    const char *queue, *encoding;
    hm_azure_keys_t keys;
    if (hm_azure_section_keys (section, keypath, &keys, errbuf, errlen) ||
        hm_azure_section_string (section, "queue_name", keypath, &queue, errbuf, errlen) ||
        hm_azure_section_string (section, "encoding", keypath, &encoding, errbuf, errlen) ||
        hm_azure_check_name (queue, keypath, "queue_name", "queue", errbuf, errlen))
        return -1;
    if (!encoding || strcmp (encoding, "base64") == 0)
        self->encoding = HM_QUEUE_BASE64;
    else if (strcmp (encoding, "xml") == 0)
        self->encoding = HM_QUEUE_XML;
    else {
        snprintf (errbuf, errlen, "%s.encoding: must be \"base64\" or \"xml\", not \"%s\"", keypath,
                  encoding);
        return -1;
    }
    if (hm_azure_account_from_keys (&self->acct, HM_AZURE_QUEUE, &keys, keypath, errbuf, errlen) !=
        0)
        return -1;
    size_t n = strlen (queue) + 16;
    if (!(self->path = malloc (n))) {
        snprintf (errbuf, errlen, "out of memory");
        return -1;
    }
    snprintf (self->path, n, "/%s/messages", queue);
    return 0;
}

static void *
s_init (const hm_config_t *cfg, const hm_route_config_t *route, char *errbuf, size_t errlen)
{
    s_queue_t *self = calloc (1, sizeof *self);
    cJSON *section = cJSON_Parse (route->section_json ? route->section_json : "{}");
    if (!self || !section) {
        snprintf (errbuf, errlen, "route '%s': out of memory", route->name);
        goto fail;
    }
    self->route = route;
    hm_event_scratch_init (&self->scratch);
    hm_buf_init (&self->line, S_MAX_LINE);
    hm_buf_init (&self->body, 0);
    if (s_configure (self, cfg, route, section, errbuf, errlen) != 0)
        goto fail;
    self->http_opts = hm_http_options_default ();
    self->http_opts.max_in_flight = HM_QUEUE_IN_FLIGHT;
    self->http_opts.total_timeout_ms = 30000;
    self->http_opts.max_body = 16 * 1024;
    if (!(self->http = hm_http_client_new (&self->http_opts))) {
        snprintf (errbuf, errlen, "route '%s': cannot create the HTTP client", route->name);
        goto fail;
    }
    hm_info ("queue sink: %s%s%s (%s messages)", self->acct.base, self->acct.prefix, self->path,
             self->encoding == HM_QUEUE_BASE64 ? "base64" : "xml");
    cJSON_Delete (section);
    return self;
fail:
    cJSON_Delete (section);
    void *state = self;
    s_destroy (&state);
    return NULL;
}

/* --- delivery -------------------------------------------------------------- */

static int
s_make (void *arg, size_t index, hm_http_request_t **req_p)
{
    s_queue_t *self = arg;
    if (self->put[index])
        return 0; /* put by an earlier attempt at this batch */
    hm_buf_reset (&self->line);
    const Hm__Event *e = hm_batch_event (self->batch, index, &self->scratch);
    if (!e)
        goto oom;
    if (hm_encode_json (&self->line, e) != 0) {
        /* Over S_MAX_LINE: no message could ever hold it. */
        if (hm_sink_dead_letter (self->result, index,
                                 "event's JSON line is over %u bytes; a queue message holds %u",
                                 S_MAX_LINE, HM_QUEUE_MAX_TEXT) != 0)
            goto oom;
        return 0;
    }
    size_t len = self->line.len;
    if (len > 0 && self->line.data[len - 1] == '\n')
        len--;
    size_t text = hm_queue_text_size (self->line.data, len, self->encoding);
    if (text > HM_QUEUE_MAX_TEXT) {
        if (hm_sink_dead_letter (self->result, index,
                                 "message text is %zu bytes (%s of a %zu-byte JSON line), over "
                                 "the queue's limit of %u bytes (64 KiB)",
                                 text, self->encoding == HM_QUEUE_BASE64 ? "base64" : "xml", len,
                                 HM_QUEUE_MAX_TEXT) != 0)
            goto oom;
        return 0;
    }
    hm_buf_reset (&self->body);
    if (hm_queue_message_body (&self->body, self->line.data, len, self->encoding) != 0)
        goto oom;
    static const hm_sharedkey_header_t h[] = {{"Content-Type", "application/xml"}};
    *req_p = hm_azure_request_new (&self->acct, "POST", self->path, NULL, h, 1, self->body.data,
                                   self->body.len, false, time (NULL));
    if (*req_p)
        return 1;
oom:
    self->failed = true;
    return -1;
}

static int
s_done (void *arg, size_t index, const hm_http_response_t *response)
{
    s_queue_t *self = arg;
    char reason[HM_SINK_REASON_MAX - 128];
    hm_http_verdict_t v = hm_http_classify_response (response, reason, sizeof reason);
    if (v == HM_HTTP_OK) {
        self->put[index] = 1;
        return 0;
    }
    if (v == HM_HTTP_DROP) {
        if (hm_sink_dead_letter (self->result, index, "Put Message: %s", reason) != 0)
            self->failed = true;
        return 0;
    }
    if (!self->retry) {
        snprintf (self->reason, sizeof self->reason, "Put Message: %s", reason);
        self->cls = hm_http_retry_class_response (response);
    }
    self->retry = true;
    return 1; /* the rest would fail the same way: stop sending */
}

static hm_sink_status_t
s_deliver (void *state, const hm_batch_t *batch, hm_sink_result_t *result)
{
    s_queue_t *self = state;
    if (batch->n_events == 0)
        return HM_SINK_OK;
    if (self->memo_count != batch->n_events || self->memo_first != batch->first_offset ||
        self->memo_last != batch->last_offset) {
        uint8_t *put = calloc (batch->n_events, 1);
        if (!put)
            return hm_sink_retry (result, "out of memory");
        free (self->put);
        self->put = put;
        self->memo_first = batch->first_offset;
        self->memo_last = batch->last_offset;
        self->memo_count = batch->n_events;
    }
    self->batch = batch;
    self->result = result;
    self->retry = self->failed = false;
    self->reason[0] = '\0';
    int rc =
        hm_azure_run_all (&self->http, &self->http_opts, batch->n_events, s_make, s_done, self);
    self->batch = NULL;
    self->result = NULL;
    if (self->retry) {
        size_t put = 0;
        for (size_t i = 0; i < batch->n_events; i++)
            put += self->put[i];
        return hm_sink_retry_as (result, self->cls, "%s (%zu of %zu events put so far)",
                                 self->reason, put, batch->n_events);
    }
    if (self->failed || rc != 0)
        return hm_sink_retry (result, "cannot build or run the requests (out of memory?)");
    /* Done with this batch: forget it, so a later redelivery (a lost ACK)
       is put again rather than silently skipped. */
    self->memo_count = 0;
    if (self->body.cap > (1u << 20))
        hm_buf_free (&self->body);
    if (self->line.cap > (1u << 20))
        hm_buf_free (&self->line);
    return HM_SINK_OK;
}

const hm_sink_backend_t hm_queue_backend = {
    .kind = "aqs",
    .init = s_init,
    .deliver = s_deliver,
    .destroy = s_destroy,
};
