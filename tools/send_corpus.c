/*  send_corpus: see send_corpus.h. */
#include "send_corpus.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "signature.h"

/* Signs body and builds its header list. NULL on out of memory. */
struct curl_slist *
send_headers (send_format_t format, bool sign, const char *secret, const send_body_t *body,
              const char *time_s)
{
    char line[128];
    struct curl_slist *h = NULL, *t;
    snprintf (line, sizeof line, "Content-Type: %s", send_format_content_type (format));
    if (!(t = curl_slist_append (h, line)))
        goto fail;
    h = t;
    if (sign) {
        char sig[45];
        hm_signature (body->body.data, body->body.len, time_s, secret, sig);
        snprintf (line, sizeof line, "X-Hamustro-Time: %s", time_s);
        if (!(t = curl_slist_append (h, line)))
            goto fail;
        h = t;
        snprintf (line, sizeof line, "X-Hamustro-Signature: %s", sig);
        if (!(t = curl_slist_append (h, line)))
            goto fail;
        h = t;
    }
    return h;
fail:
    curl_slist_free_all (h);
    return NULL;
}

static int
s_write_file (const char *path, const void *data, size_t len)
{
    FILE *f = fopen (path, "wb");
    if (!f) {
        fprintf (stderr, "hamustro-send: %s: %s\n", path, strerror (errno));
        return -1;
    }
    size_t n = len ? fwrite (data, 1, len, f) : 0;
    int rc = fclose (f);
    if (n != len || rc != 0) {
        fprintf (stderr, "hamustro-send: %s: write failed: %s\n", path, strerror (errno));
        return -1;
    }
    return 0;
}

int
send_write_corpus (const char *dir, uint64_t count, send_format_t format, bool sign,
                   const char *secret, send_gen_t *gen)
{
    if (mkdir (dir, 0755) != 0 && errno != EEXIST) {
        fprintf (stderr, "hamustro-send: %s: %s\n", dir, strerror (errno));
        return -1;
    }
    char time_s[24];
    snprintf (time_s, sizeof time_s, "%lld", (long long)time (NULL));
    send_body_t body;
    memset (&body, 0, sizeof body);
    hm_buf_init (&body.body, 0);
    uint64_t events = 0, bytes = 0;
    int rc = -1;
    char path[4096];
    for (uint64_t i = 0; i < count; i++) {
        if (send_gen_next (gen, &body) != 0) {
            fprintf (stderr, "hamustro-send: out of memory building a body\n");
            goto done;
        }
        snprintf (path, sizeof path, "%s/%llu.body", dir, (unsigned long long)i);
        if (s_write_file (path, body.body.data, body.body.len))
            goto done;
        struct curl_slist *headers = send_headers (format, sign, secret, &body, time_s);
        if (!headers) {
            fprintf (stderr, "hamustro-send: out of memory\n");
            goto done;
        }
        hm_buf_t text;
        hm_buf_init (&text, 0);
        int bad = 0;
        for (struct curl_slist *h = headers; h; h = h->next)
            bad |= hm_buf_printf (&text, "%s\n", h->data);
        curl_slist_free_all (headers);
        snprintf (path, sizeof path, "%s/%llu.headers", dir, (unsigned long long)i);
        bad = bad || s_write_file (path, text.data, text.len);
        hm_buf_free (&text);
        if (bad)
            goto done;
        events += body.events;
        bytes += body.body.len;
    }
    hm_buf_t meta;
    hm_buf_init (&meta, 0);
    hm_buf_printf (&meta, "count %llu\nevents %llu\nbytes %llu\nformat %s\n",
                   (unsigned long long)count, (unsigned long long)events, (unsigned long long)bytes,
                   format == SEND_FORMAT_JSON ? "json" : "protobuf");
    snprintf (path, sizeof path, "%s/corpus.txt", dir);
    rc = s_write_file (path, meta.data, meta.len);
    hm_buf_free (&meta);
    if (rc == 0)
        printf ("corpus %s: %llu bodies, %llu events (%.2f per body), %llu bytes (%.0f per body)\n",
                dir, (unsigned long long)count, (unsigned long long)events,
                (double)events / (double)count, (unsigned long long)bytes,
                (double)bytes / (double)count);
done:
    hm_buf_free (&body.body);
    return rc;
}
