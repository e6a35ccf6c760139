/*  send_run: hamustro-send's sending loop (see send_run.h).

    One thread drives a libcurl multi handle with a fixed set of transfer
    slots (--concurrency); each slot owns one easy handle, its body and its
    headers, so memory is bounded by the slot count and connections are
    kept alive and reused. A request answered 503 may be resent as it was
    (same body, same signature) after its Retry-After, which is what a real
    client does.

    Those sends include the ones libcurl makes by itself: when a reused
    connection dies before any answer (a server, or a balancer in front of
    one that died, closes it), libcurl sends the request again on a fresh
    connection without telling us, POST or not. The body is handed to
    libcurl through a read callback so that each such resend shows up as a
    rewind (the seek callback) and is counted. */
#include "send_run.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gz.h"
#include "send_corpus.h"
#include "send_gen.h"
#include "send_record.h"

#define SEND_MAX_RETRY_AFTER_S 60.0

/* One transfer slot. */
typedef struct {
    CURL *easy;                 /* reused for every request of the slot */
    struct curl_slist *headers; /* this request's headers */
    send_body_t body;           /* this request's body */
    hm_buf_t gz;                /* --gzip: the generated body before it is compressed */
    uint32_t attempts;          /* answers/failures so far for this request */
    uint32_t rewinds;           /* sends libcurl made again by itself (see the top) */
    size_t read_pos;            /* next body byte to hand to libcurl */
    double retry_at;            /* monotonic time of the resend; 0: not waiting */
} s_slot_t;

/* The sending run. */
struct send_run_t {
    const send_args_t *args; /* options */
    const char *secret;      /* signing secret */
    send_gen_t *gen;         /* body generator */
    CURLM *multi;            /* the event loop */
    s_slot_t *slots;         /* args->concurrency slots */
    uint32_t *free_slots;    /* stack of idle slot indices */
    uint32_t free_count;
    uint32_t waiting;               /* slots waiting for a resend */
    uint64_t started;               /* requests started (first attempts) */
    double t0;                      /* monotonic start time */
    send_record_t *record;          /* --record file or NULL */
    send_stats_t stats;             /* counters and latencies */
    volatile sig_atomic_t *signals; /* main's count of SIGINT/SIGTERM */
};

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* libcurl reads the body from here (CURLOPT_READFUNCTION). */
static size_t
s_read_body (char *buffer, size_t size, size_t nitems, void *userdata)
{
    s_slot_t *slot = (s_slot_t *)userdata;
    const hm_buf_t *b = &slot->body.body;
    size_t n = size * nitems;
    if (n > b->len - slot->read_pos)
        n = b->len - slot->read_pos;
    memcpy (buffer, b->data + slot->read_pos, n);
    slot->read_pos += n;
    return n;
}

/* libcurl rewinds the body to send it again (CURLOPT_SEEKFUNCTION). It does
   so only after it wrote some of it on a connection that then died: the
   request may have reached the server, so it counts as a send. */
static int
s_seek_body (void *userdata, curl_off_t offset, int origin)
{
    s_slot_t *slot = (s_slot_t *)userdata;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > slot->body.body.len)
        return CURL_SEEKFUNC_FAIL;
    if (slot->read_pos > 0)
        slot->rewinds++;
    slot->read_pos = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t
s_discard (char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

/* May another request start now? */
static bool
s_may_start (const send_run_t *run, double now)
{
    const send_args_t *a = run->args;
    if (*run->signals)
        return false;
    if (a->count && run->started >= a->count)
        return false;
    if (a->duration > 0 && now - run->t0 >= a->duration)
        return false;
    if (a->rate > 0 && now < run->t0 + (double)run->started / a->rate)
        return false;
    return true;
}

/* Builds a new request in a free slot and hands it to curl. */
static int
s_start (send_run_t *run, uint32_t idx)
{
    s_slot_t *slot = &run->slots[idx];
    if (send_gen_next (run->gen, &slot->body) != 0) {
        fprintf (stderr, "hamustro-send: out of memory building a body\n");
        return -1;
    }
    if (run->args->gzip) {
        /* The body goes out compressed and is signed as sent (the
           signature's md5 is over the gzip bytes, ARCHITECTURE section 2). */
        hm_buf_t plain = slot->body.body;
        slot->body.body = slot->gz;
        slot->gz = plain;
        hm_buf_reset (&slot->body.body);
        if (hm_gzip (slot->gz.data, slot->gz.len, &slot->body.body) != 0) {
            fprintf (stderr, "hamustro-send: out of memory compressing a body\n");
            return -1;
        }
    }
    char time_s[24];
    snprintf (time_s, sizeof time_s, "%lld", (long long)time (NULL));
    curl_slist_free_all (slot->headers);
    slot->headers =
        send_headers (run->args->format, run->args->sign, run->secret, &slot->body, time_s);
    if (!slot->headers) {
        fprintf (stderr, "hamustro-send: out of memory\n");
        return -1;
    }
    /* curl would otherwise send "Expect: 100-continue" above 1 KiB and wait
       a round trip for it; the collector reads the body anyway. */
    struct curl_slist *t = curl_slist_append (slot->headers, "Expect:");
    if (!t)
        return -1;
    slot->headers = t;
    if (run->args->gzip) {
        if (!(t = curl_slist_append (slot->headers, "Content-Encoding: gzip")))
            return -1;
        slot->headers = t;
    }
    curl_easy_setopt (slot->easy, CURLOPT_HTTPHEADER, slot->headers);
    curl_easy_setopt (slot->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)slot->body.body.len);
    slot->read_pos = 0;
    slot->attempts = 0;
    slot->rewinds = 0;
    slot->retry_at = 0;
    run->started++;
    if (curl_multi_add_handle (run->multi, slot->easy) != CURLM_OK)
        return -1;
    return 0;
}

static void
s_release (send_run_t *run, s_slot_t *slot)
{
    run->free_slots[run->free_count++] = (uint32_t)(slot - run->slots);
}

/* A transfer ended: count it, and resend, record or free its slot. */
static void
s_complete (send_run_t *run, CURL *easy, CURLcode result)
{
    char *priv = NULL;
    curl_easy_getinfo (easy, CURLINFO_PRIVATE, &priv);
    s_slot_t *slot = (s_slot_t *)priv;
    curl_multi_remove_handle (run->multi, easy);
    slot->attempts++;
    uint32_t sends = slot->attempts + slot->rewinds;
    long status = 0;
    if (result == CURLE_OK) {
        curl_easy_getinfo (easy, CURLINFO_RESPONSE_CODE, &status);
        curl_off_t us = 0;
        curl_easy_getinfo (easy, CURLINFO_TOTAL_TIME_T, &us);
        send_hist_add (&run->stats.latency, (uint64_t)(us > 0 ? us : 0));
    }
    if (status == 503 && slot->attempts <= run->args->retry && !*run->signals) {
        curl_off_t after = 0;
        curl_easy_getinfo (easy, CURLINFO_RETRY_AFTER, &after);
        double wait = after > 0 ? (double)after : 1.0;
        if (wait > SEND_MAX_RETRY_AFTER_S)
            wait = SEND_MAX_RETRY_AFTER_S;
        slot->retry_at = s_now () + wait;
        run->waiting++;
        run->stats.retries++;
        return;
    }
    send_stats_finish (&run->stats, status, slot->body.events, slot->body.body.len);
    run->stats.rewinds += slot->rewinds;
    if (status == 200 && run->record)
        send_record_add (run->record, &slot->body, sends);
    s_release (run, slot);
}

/* Resends due retries; returns the earliest pending retry time (0: none). */
static double
s_resend_due (send_run_t *run, double now)
{
    double next = 0;
    for (uint32_t i = 0; i < run->args->concurrency && run->waiting; i++) {
        s_slot_t *slot = &run->slots[i];
        if (slot->retry_at == 0)
            continue;
        if (*run->signals) {
            /* stopping: the request keeps its last answer (503) */
            slot->retry_at = 0;
            run->waiting--;
            send_stats_finish (&run->stats, 503, slot->body.events, slot->body.body.len);
            run->stats.rewinds += slot->rewinds;
            s_release (run, slot);
        }
        else if (slot->retry_at <= now) {
            slot->retry_at = 0;
            run->waiting--;
            slot->read_pos = 0;
            curl_multi_add_handle (run->multi, slot->easy);
        }
        else if (next == 0 || slot->retry_at < next)
            next = slot->retry_at;
    }
    return next;
}

send_run_t *
send_run_new (const send_args_t *args, const char *secret, const char *url,
              volatile sig_atomic_t *signals)
{
    send_run_t *run = calloc (1, sizeof *run);
    if (!run)
        return NULL;
    run->args = args;
    run->signals = signals;
    run->secret = secret;
    run->gen = send_gen_new (args->seed, args->format, args->min_payloads, args->max_payloads,
                             args->sessions);
    run->multi = curl_multi_init ();
    run->slots = calloc (args->concurrency, sizeof *run->slots);
    run->free_slots = calloc (args->concurrency, sizeof *run->free_slots);
    if (!run->gen || !run->multi || !run->slots || !run->free_slots)
        goto fail;
    curl_multi_setopt (run->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)args->concurrency);
    curl_multi_setopt (run->multi, CURLMOPT_MAXCONNECTS, (long)args->concurrency);
    for (uint32_t i = 0; i < args->concurrency; i++) {
        s_slot_t *slot = &run->slots[i];
        hm_buf_init (&slot->body.body, 0);
        hm_buf_init (&slot->gz, 0);
        if (!(slot->easy = curl_easy_init ()))
            goto fail;
        curl_easy_setopt (slot->easy, CURLOPT_URL, url);
        curl_easy_setopt (slot->easy, CURLOPT_POST, 1L);
        curl_easy_setopt (slot->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt (slot->easy, CURLOPT_TIMEOUT_MS, args->timeout_ms);
        curl_easy_setopt (slot->easy, CURLOPT_CONNECTTIMEOUT_MS, args->timeout_ms);
        curl_easy_setopt (slot->easy, CURLOPT_WRITEFUNCTION, s_discard);
        curl_easy_setopt (slot->easy, CURLOPT_PRIVATE, (char *)slot);
        curl_easy_setopt (slot->easy, CURLOPT_READFUNCTION, s_read_body);
        curl_easy_setopt (slot->easy, CURLOPT_READDATA, slot);
        curl_easy_setopt (slot->easy, CURLOPT_SEEKFUNCTION, s_seek_body);
        curl_easy_setopt (slot->easy, CURLOPT_SEEKDATA, slot);
        curl_easy_setopt (slot->easy, CURLOPT_USERAGENT, "hamustro-send/" HAMUSTRO_VERSION);
        if (args->cacert)
            curl_easy_setopt (slot->easy, CURLOPT_CAINFO, args->cacert);
        if (args->insecure) {
            curl_easy_setopt (slot->easy, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt (slot->easy, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        run->free_slots[run->free_count++] = args->concurrency - 1 - i;
    }
    if (args->record && !(run->record = send_record_open (args->record)))
        goto fail;
    return run;
fail:
    send_run_destroy (&run);
    return NULL;
}

int
send_run_destroy (send_run_t **self_p)
{
    send_run_t *run = self_p ? *self_p : NULL;
    if (!run)
        return 0;
    for (uint32_t i = 0; run->slots && i < run->args->concurrency; i++) {
        s_slot_t *slot = &run->slots[i];
        if (slot->easy) {
            curl_multi_remove_handle (run->multi, slot->easy);
            curl_easy_cleanup (slot->easy);
        }
        curl_slist_free_all (slot->headers);
        hm_buf_free (&slot->body.body);
        hm_buf_free (&slot->gz);
    }
    if (run->multi)
        curl_multi_cleanup (run->multi);
    int rc = send_record_close (&run->record);
    free (run->slots);
    free (run->free_slots);
    send_gen_destroy (&run->gen);
    free (run);
    *self_p = NULL;
    return rc;
}

int
send_run_go (send_run_t *run)
{
    const send_args_t *a = run->args;
    run->t0 = s_now ();
    double next_progress = run->t0 + 0.5;
    while (*run->signals < 2) {
        double now = s_now ();
        while (run->free_count && s_may_start (run, now))
            if (s_start (run, run->free_slots[--run->free_count]) != 0)
                return -1;
        double next_retry = run->waiting ? s_resend_due (run, now) : 0;
        int running = 0;
        curl_multi_perform (run->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read (run->multi, &left)))
            if (msg->msg == CURLMSG_DONE)
                s_complete (run, msg->easy_handle, msg->data.result);
        if (a->progress && now >= next_progress) {
            send_stats_progress (&run->stats, now - run->t0, stderr);
            next_progress = now + 0.5;
        }
        if (run->free_count == a->concurrency && !s_may_start (run, s_now ())) {
            bool more = !*run->signals && (!a->count || run->started < a->count) &&
                        (a->duration == 0 || s_now () - run->t0 < a->duration);
            if (!more)
                break; /* nothing in flight, nothing waiting, nothing to start */
        }
        /* Sleep until curl has work, or the next retry / rate slot / tick. */
        double wake = a->progress ? next_progress : now + 0.1;
        if (next_retry > 0 && next_retry < wake)
            wake = next_retry;
        if (a->rate > 0) {
            double slot_t = run->t0 + (double)run->started / a->rate;
            if (slot_t < wake)
                wake = slot_t;
        }
        int timeout_ms = (int)((wake - s_now ()) * 1000.0);
        if (run->free_count && s_may_start (run, s_now ()))
            timeout_ms = 0;
        if (timeout_ms < 0)
            timeout_ms = 0;
        if (timeout_ms > 100)
            timeout_ms = 100;
        curl_multi_poll (run->multi, NULL, 0, timeout_ms, NULL);
    }
    /* A second signal abandons what is in flight: those got no answer. */
    for (uint32_t i = 0; i < a->concurrency; i++)
        if (run->slots[i].retry_at > 0)
            send_stats_finish (&run->stats, 503, run->slots[i].body.events,
                               run->slots[i].body.body.len);
    uint64_t unfinished = run->started - run->stats.requests;
    for (uint64_t i = 0; i < unfinished; i++)
        send_stats_finish (&run->stats, 0, 0, 0);
    return 0;
}

double
send_run_elapsed (const send_run_t *self)
{
    return s_now () - self->t0;
}

const send_stats_t *
send_run_stats (const send_run_t *self)
{
    return &self->stats;
}
