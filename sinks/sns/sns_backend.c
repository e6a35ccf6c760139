/*  sns_backend: publishes every event of a sealed batch as one SNS
    message (the original Hamustro's "sns" dialect): the event's JSON line,
    without its newline, is the message.

    Events go out in PublishBatch requests (Query API, form-encoded POST,
    SigV4 service "sns"): up to 10 entries and 256 KiB of messages per
    request, up to SNS_IN_FLIGHT requests at once on one keep-alive client.
    Every event of the batch ends in one of three states:

        published     in the answer's Successful list
        dead          over 256 KiB (never sent), or Failed with SenderFault
                      true (SNS says the message itself is wrong): goes to
                      the route's dead-letter file with SNS's code and message
        not yet       Failed with SenderFault false, or its request failed
                      in a way that can pass (5xx, throttling, 403, a
                      timeout): the attempt answers RETRY

    A request refused as a whole (a DROP answer: 400 that is not about
    credentials or throttling) does not condemn its neighbours: its entries
    are sent again one per request, and only an entry refused alone is
    dead-lettered.

    At least once, never lost: the batch is OK only when every event is
    published or dead. Between the runtime's retries the backend remembers
    which events of a batch were already published (a few batches, by their
    offsets), so a retry sends only the rest; if that memory is lost (an
    evicted entry, a restart, another instance) events are published again,
    which at-least-once allows, and (session, nr) lets consumers
    deduplicate. FIFO topics (ARN ending in ".fifo") get MessageGroupId =
    session and MessageDeduplicationId = sha256hex(session:nr), so SNS
    itself drops such repeats within its deduplication window. */
#include "sns_backend.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_section.h"
#include "encode.h"
#include "hm_log.h"
#include "http_client.h"
#include "sns_request.h"

#define SNS_IN_FLIGHT 32                  /* PublishBatch requests at once */
#define SNS_PROGRESS_SLOTS 16             /* batches whose progress is remembered */
#define SNS_MAX_BATCH_BYTES (1024u << 20) /* JSON lines of one batch in memory */
#define SNS_MAX_BODY (4u << 20)           /* one request's form body (3 x 256 KiB encoded) */
#define SNS_RUN_MS 100                    /* one wait of the HTTP client */

typedef enum { S_PENDING = 0, S_PUBLISHED = 1, S_DEAD = 2 } s_state_t;

/* What has become of one batch's events, kept across attempts. */
typedef struct {
    uint64_t first, last; /* the batch's offsets (its identity) */
    size_t n;             /* events in it; 0: slot free */
    uint8_t *state;       /* s_state_t per event */
    char **reason;        /* S_DEAD: why (owned), else NULL */
    uint64_t used;        /* last attempt's tick (least recently used goes first) */
} s_progress_t;

/* Per attempt, per event. */
enum { A_IDLE = 0, A_FAILED = 1, A_SOLO = 2 };

typedef struct {
    const hm_route_config_t *route;   /* the route served (owned by the config) */
    hm_aws_section_t aws;             /* region, endpoint, credentials */
    char *topic_arn;                  /* where messages go */
    bool fifo;                        /* topic_arn ends in .fifo */
    char region[64];                  /* signing region (section, env, or the ARN's) */
    bool https;                       /* scheme of the endpoint */
    char host[256];                   /* Host of the endpoint */
    char path[512];                   /* path of the endpoint ("/" for AWS's) */
    hm_aws_credentials_t cred;        /* for the signer (points into aws / region) */
    hm_sigv4_options_t sign_opts;     /* SigV4 for a query API */
    hm_http_options_t http_opts;      /* client options */
    hm_http_client_t *client;         /* keeps connections alive across batches */
    hm_buf_t lines;                   /* scratch: the batch's JSON lines */
    hm_buf_t body;                    /* scratch: one request's form body */
    hm_event_scratch_t scratch;       /* the event being read */
    size_t *off;                      /* scratch: event i's line starts at lines.data + off[i] */
    size_t *len;                      /* scratch: ... and has len[i] bytes (no newline) */
    uint8_t *attempt;                 /* scratch: A_* per event */
    size_t *queue;                    /* scratch: events to send, 2 n (each requeued once) */
    char (*group)[HM_SNS_MAX_ID + 1]; /* scratch: FIFO group ids */
    char (*dedup)[HM_SNS_MAX_ID + 1]; /* scratch: FIFO dedup ids */
    size_t scratch_cap;               /* events the scratch arrays hold */
    s_progress_t progress[SNS_PROGRESS_SLOTS]; /* batches being retried */
    uint64_t tick;                             /* attempt counter for progress LRU */
    size_t failed_now;                         /* events that failed this attempt */
    char first_reason[256];                    /* the first failure of this attempt */
    hm_retry_class_t first_class;              /* ... and its class */
} s_sns_t;

/* One PublishBatch in flight. */
typedef struct {
    s_sns_t *self;                  /* the backend */
    s_progress_t *pr;               /* the batch */
    size_t idx[HM_SNS_MAX_ENTRIES]; /* its events */
    size_t n;                       /* entries used in idx */
    size_t *requeue;                /* where a split request's entries go */
    size_t *queue_len;              /* ... and the queue's length */
} s_req_t;

static void s_destroy (void **state_p);

static void *
s_init (const hm_config_t *cfg, const hm_route_config_t *route, char *errbuf, size_t errlen)
{
    char prefix[512];
    hm_sink_keypath (cfg, route, prefix, sizeof prefix);
    s_sns_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (errbuf, errlen, "out of memory");
        return NULL;
    }
    self->route = route;
    hm_event_scratch_init (&self->scratch);
    hm_buf_init (&self->lines, SNS_MAX_BATCH_BYTES);
    hm_buf_init (&self->body, SNS_MAX_BODY);
    cJSON *section = cJSON_Parse (route->section_json ? route->section_json : "{}");
    if (!section) {
        snprintf (errbuf, errlen, "%s: section is not JSON", prefix);
        goto fail;
    }
    if (hm_aws_section_read (section, prefix, false, &self->aws, errbuf, errlen) != 0 ||
        hm_aws_string (section, prefix, "topic_arn", &self->topic_arn, errbuf, errlen) != 0)
        goto fail;
    char arn_region[64];
    if (!self->topic_arn ||
        hm_sns_topic_region (self->topic_arn, arn_region, sizeof arn_region) != 0 ||
        strpbrk (self->topic_arn, " \t\r\n")) {
        snprintf (errbuf, errlen, "%s.topic_arn: %s", prefix,
                  self->topic_arn ? "not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
                                  : "missing");
        goto fail;
    }
    self->fifo = hm_sns_topic_is_fifo (self->topic_arn);
    snprintf (self->region, sizeof self->region, "%s",
              self->aws.region ? self->aws.region : arn_region);
    if (self->aws.endpoint) {
        self->https = self->aws.parsed.https;
        snprintf (self->host, sizeof self->host, "%s", self->aws.parsed.host);
        /* parsed.path has no trailing '/' and fits in 511 bytes */
        size_t plen = strlen (self->aws.parsed.path);
        if (plen + 2 > sizeof self->path) {
            snprintf (errbuf, errlen, "%s.endpoint: path too long", prefix);
            goto fail;
        }
        memcpy (self->path, self->aws.parsed.path, plen);
        memcpy (self->path + plen, "/", 2);
    }
    else {
        self->https = true;
        snprintf (self->host, sizeof self->host, "sns.%s.amazonaws.com", self->region);
        snprintf (self->path, sizeof self->path, "/");
    }
    self->cred = (hm_aws_credentials_t){self->aws.access_key_id, self->aws.secret_access_key,
                                        self->aws.session_token, self->region, "sns"};
    self->sign_opts = hm_sigv4_options_default ();
    self->http_opts = hm_http_options_default ();
    self->http_opts.max_in_flight = SNS_IN_FLIGHT;
    self->http_opts.max_host_connections = SNS_IN_FLIGHT;
    self->client = hm_http_client_new (&self->http_opts);
    if (!self->client) {
        snprintf (errbuf, errlen, "out of memory");
        goto fail;
    }
    cJSON_Delete (section);
    return self;
fail:
    cJSON_Delete (section);
    void *state = self;
    s_destroy (&state);
    return NULL;
}

static void
s_progress_clear (s_progress_t *pr)
{
    for (size_t i = 0; pr->reason && i < pr->n; i++)
        free (pr->reason[i]);
    free (pr->reason);
    free (pr->state);
    memset (pr, 0, sizeof *pr);
}

static void
s_destroy (void **state_p)
{
    s_sns_t *self = *state_p;
    if (!self)
        return;
    hm_http_client_destroy (&self->client);
    hm_aws_section_free (&self->aws);
    free (self->topic_arn);
    hm_buf_free (&self->lines);
    hm_buf_free (&self->body);
    hm_event_scratch_free (&self->scratch);
    free (self->off);
    free (self->len);
    free (self->attempt);
    free (self->queue);
    free (self->group);
    free (self->dedup);
    for (size_t i = 0; i < SNS_PROGRESS_SLOTS; i++)
        s_progress_clear (&self->progress[i]);
    free (self);
    *state_p = NULL;
}

/* The batch's progress: remembered from an earlier attempt, or new (the
   least recently used slot is forgotten: its events may be sent twice). */
static s_progress_t *
s_progress (s_sns_t *self, const hm_batch_t *batch)
{
    s_progress_t *slot = &self->progress[0];
    for (size_t i = 0; i < SNS_PROGRESS_SLOTS; i++) {
        s_progress_t *pr = &self->progress[i];
        if (pr->n == batch->n_events && pr->first == batch->first_offset &&
            pr->last == batch->last_offset) {
            pr->used = ++self->tick;
            return pr;
        }
        if (pr->n == 0 || (slot->n != 0 && pr->used < slot->used))
            slot = pr;
    }
    s_progress_clear (slot);
    slot->state = calloc (batch->n_events, 1);
    slot->reason = calloc (batch->n_events, sizeof *slot->reason);
    if (!slot->state || !slot->reason) {
        s_progress_clear (slot);
        return NULL;
    }
    slot->first = batch->first_offset;
    slot->last = batch->last_offset;
    slot->n = batch->n_events;
    slot->used = ++self->tick;
    return slot;
}

static int
s_mark_dead (s_progress_t *pr, size_t i, const char *fmt, const char *a, const char *b)
{
    char reason[512];
    snprintf (reason, sizeof reason, fmt, a, b);
    free (pr->reason[i]);
    pr->reason[i] = strdup (reason);
    pr->state[i] = S_DEAD;
    return pr->reason[i] ? 0 : -1;
}

static int
s_scratch (s_sns_t *self, size_t n)
{
    if (n <= self->scratch_cap)
        return 0;
    free (self->off);
    free (self->len);
    free (self->attempt);
    free (self->queue);
    free (self->group);
    free (self->dedup);
    self->off = malloc (n * sizeof *self->off);
    self->len = malloc (n * sizeof *self->len);
    self->attempt = malloc (n);
    self->queue = malloc (2 * n * sizeof *self->queue);
    self->group = self->fifo ? malloc (n * sizeof *self->group) : NULL;
    self->dedup = self->fifo ? malloc (n * sizeof *self->dedup) : NULL;
    if (!self->off || !self->len || !self->attempt || !self->queue ||
        (self->fifo && (!self->group || !self->dedup))) {
        self->scratch_cap = 0;
        return -1;
    }
    self->scratch_cap = n;
    return 0;
}

static void
s_failed (s_sns_t *self, size_t i, hm_retry_class_t cls, const char *reason)
{
    if (self->attempt[i] != A_FAILED)
        self->failed_now++;
    self->attempt[i] = A_FAILED;
    /* The first reason of an attempt is what the retry log shows; a long
       one is cut to fit. */
    if (!self->first_reason[0]) {
        size_t n = strnlen (reason, sizeof self->first_reason - 1);
        memcpy (self->first_reason, reason, n);
        self->first_reason[n] = '\0';
        self->first_class = cls;
    }
}

static void
s_on_done (const hm_http_response_t *r, void *arg)
{
    s_req_t *req = arg;
    s_sns_t *self = req->self;
    s_progress_t *pr = req->pr;
    char reason[300];
    hm_http_verdict_t v = hm_http_classify_response (r, reason, sizeof reason);
    if (v == HM_HTTP_DROP && req->n > 1) {
        /* Refused as a whole: one bad entry may be the cause. Try each alone. */
        for (size_t k = 0; k < req->n; k++) {
            self->attempt[req->idx[k]] = A_SOLO;
            req->requeue[(*req->queue_len)++] = req->idx[k];
        }
        free (req);
        return;
    }
    if (v == HM_HTTP_DROP) {
        if (s_mark_dead (pr, req->idx[0], "SNS refused the message: %s%s", reason, "") != 0)
            s_failed (self, req->idx[0], HM_RETRY_OTHER, "out of memory");
        free (req);
        return;
    }
    if (v == HM_HTTP_RETRY) {
        for (size_t k = 0; k < req->n; k++)
            s_failed (self, req->idx[k], hm_http_retry_class_response (r), reason);
        free (req);
        return;
    }
    hm_sns_outcome_t out[2 * HM_SNS_MAX_ENTRIES];
    long got = hm_sns_parse_batch_reply (r->body, r->body_len, out, 2 * HM_SNS_MAX_ENTRIES);
    for (size_t k = 0; k < req->n; k++) {
        size_t i = req->idx[k];
        const hm_sns_outcome_t *o = NULL;
        for (long j = 0; j < got && !o; j++)
            if (out[j].index == i)
                o = &out[j];
        if (!o)
            s_failed (self, i, HM_RETRY_OTHER,
                      got < 0 ? "PublishBatch: unreadable answer"
                              : "PublishBatch: entry missing from the answer");
        else if (o->ok)
            pr->state[i] = S_PUBLISHED;
        else if (o->sender_fault) {
            if (s_mark_dead (pr, i, "SNS refused the message: %s: %s", o->code, o->message) != 0)
                s_failed (self, i, HM_RETRY_OTHER, "out of memory");
        }
        else {
            char why[400];
            snprintf (why, sizeof why, "PublishBatch entry failed: %s: %s", o->code, o->message);
            s_failed (self, i, hm_http_retry_class (500, 0, o->code), why);
        }
    }
    free (req);
}

/* Builds and submits the next request from queue[*head..*queue_len).
   0, or -1 (reason in first_reason; the entries are marked failed). */
static int
s_submit_next (s_sns_t *self, s_progress_t *pr, size_t *head, size_t *queue_len)
{
    hm_sns_entry_t entries[HM_SNS_MAX_ENTRIES];
    size_t count = 0;
    /* A solo entry goes alone; others are packed up to SNS's limits. */
    bool solo = self->attempt[self->queue[*head]] == A_SOLO;
    for (size_t q = *head; q < *queue_len && count < HM_SNS_MAX_ENTRIES; q++) {
        size_t i = self->queue[q];
        if ((self->attempt[i] == A_SOLO) != solo || (solo && count == 1))
            break;
        entries[count++] = (hm_sns_entry_t){i, self->lines.data + self->off[i], self->len[i],
                                            self->fifo ? self->group[i] : NULL,
                                            self->fifo ? self->dedup[i] : NULL};
    }
    count = hm_sns_pack (entries, count);
    *head += count;
    s_req_t *req = calloc (1, sizeof *req);
    hm_http_request_t *http = NULL;
    char err[256] = "out of memory";
    hm_buf_reset (&self->body);
    hm_sigv4_header_t h[] = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    if (req) {
        req->self = self;
        req->pr = pr;
        req->n = count;
        for (size_t k = 0; k < count; k++)
            req->idx[k] = entries[k].index;
        req->requeue = self->queue;
        req->queue_len = queue_len;
    }
    if (req && hm_sns_batch_body (&self->body, self->topic_arn, entries, count) == 0)
        http = hm_aws_request ("POST", self->https, self->host, self->path, NULL, h, 1,
                               self->body.data, self->body.len, &self->cred, &self->sign_opts, err,
                               sizeof err);
    if (http && hm_http_client_submit (self->client, &http, s_on_done, req) == 0)
        return 0;
    hm_http_request_destroy (&http);
    free (req);
    for (size_t k = 0; k < count; k++)
        s_failed (self, entries[k].index, HM_RETRY_OTHER, err);
    return -1;
}

static hm_sink_status_t
s_deliver (void *state, const hm_batch_t *batch, hm_sink_result_t *result)
{
    s_sns_t *self = state;
    size_t n = batch->n_events;
    if (n == 0)
        return HM_SINK_OK;
    if (!self->client && !(self->client = hm_http_client_new (&self->http_opts)))
        return hm_sink_retry (result, "no HTTP client (out of memory)");
    s_progress_t *pr = s_progress (self, batch);
    if (!pr || s_scratch (self, n) != 0)
        return hm_sink_retry (result, "out of memory");

    hm_buf_reset (&self->lines);
    for (size_t i = 0; i < n; i++) {
        self->off[i] = self->lines.len;
        const Hm__Event *e = hm_batch_event (batch, i, &self->scratch);
        if (!e || hm_encode_json (&self->lines, e) != 0)
            return hm_sink_retry (result, "encoding event %zu: over %u bytes or out of memory", i,
                                  SNS_MAX_BATCH_BYTES);
        self->len[i] = self->lines.len - self->off[i] - 1; /* without the newline */
    }
    self->failed_now = 0;
    self->first_reason[0] = '\0';
    self->first_class = HM_RETRY_OTHER;
    size_t queue_len = 0, head = 0;
    for (size_t i = 0; i < n; i++) {
        self->attempt[i] = A_IDLE;
        if (pr->state[i] != S_PENDING)
            continue;
        if (self->len[i] > HM_SNS_MAX_MESSAGE) {
            char size[64];
            snprintf (size, sizeof size, "%zu", self->len[i]);
            if (s_mark_dead (pr, i, "message of %s bytes is over SNS's %s-byte limit", size,
                             "262144") != 0)
                return hm_sink_retry (result, "out of memory");
            continue;
        }
        if (self->fifo) {
            const Hm__Event *e = hm_batch_event (batch, i, &self->scratch);
            if (!e)
                return hm_sink_retry (result, "out of memory");
            hm_sns_fifo_ids (e->has_session ? (const char *)e->session.data : NULL, e->session.len,
                             e->nr, self->group[i], self->dedup[i]);
        }
        self->queue[queue_len++] = i;
    }

    /* Keep the client full until every entry has an answer. Callbacks may
       put entries back on the queue (a request split after a DROP). */
    while (true) {
        while (head < queue_len && !hm_http_client_full (self->client))
            s_submit_next (self, pr, &head, &queue_len);
        if (hm_http_client_in_flight (self->client) == 0 && head >= queue_len)
            break;
        if (hm_http_client_run (self->client, SNS_RUN_MS) < 0) {
            /* Resetting completes (aborts) every request: each callback runs
               once, and the aborted entries count as failed. */
            hm_warn ("sns: HTTP client error: connections reset");
            hm_http_client_destroy (&self->client);
            self->client = hm_http_client_new (&self->http_opts);
            for (; head < queue_len; head++)
                s_failed (self, self->queue[head], HM_RETRY_CONNECT, "HTTP client reset");
            if (!self->client)
                break;
        }
    }

    size_t published = 0, dead = 0;
    for (size_t i = 0; i < n; i++) {
        if (pr->state[i] == S_PUBLISHED)
            published++;
        else if (pr->state[i] == S_DEAD) {
            dead++;
            if (hm_sink_dead_letter (result, i, "%s", pr->reason[i]) != 0)
                return hm_sink_retry (result, "out of memory");
        }
    }
    if (published + dead < n)
        return hm_sink_retry_as (result, self->first_class,
                                 "%zu of %zu events not published yet: %s", n - published - dead, n,
                                 self->first_reason[0] ? self->first_reason : "no answer");
    s_progress_clear (pr);
    if (self->lines.cap > (64u << 20))
        hm_buf_free (&self->lines);
    return HM_SINK_OK;
}

const hm_sink_backend_t hm_sns_backend = {
    .kind = "sns",
    .init = s_init,
    .deliver = s_deliver,
    .destroy = s_destroy,
};
