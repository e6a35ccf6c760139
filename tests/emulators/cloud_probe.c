/*  cloud_probe: a few real requests signed by sinks/cloud (sigv4.c,
    sharedkey.c) and sent by its HTTP client, for check.sh to run against
    the emulators: the verifying SigV4 proxy (the AWS SDK's signer) in front
    of s3rver and fauxqs, and azurite (which checks Shared Key itself).
    Prints one line per request: "<status> <verdict> <reason>". Exit 0 when
    every request got a 2xx, 1 otherwise.

      cloud_probe s3    ENDPOINT BUCKET ACCESS_KEY SECRET
      cloud_probe sns   ENDPOINT ACCESS_KEY SECRET
      cloud_probe blob  ENDPOINT CONTAINER ACCOUNT KEY_BASE64
      cloud_probe queue ENDPOINT QUEUE ACCOUNT KEY_BASE64

    ENDPOINT is the service URL: "http://127.0.0.1:PORT" for AWS,
    "http://127.0.0.1:PORT/devstoreaccount1" for the Azure emulator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "digest.h"
#include "hm_buf.h"
#include "http_client.h"
#include "sharedkey.h"
#include "sigv4.h"

typedef struct {
    char host[256]; /* "127.0.0.1:PORT" */
    char base[512]; /* "http://127.0.0.1:PORT" */
    char path[512]; /* the endpoint's own path, "" or "/devstoreaccount1" */
    hm_http_client_t *client;
    int failures;    /* requests without a 2xx */
    char body[4096]; /* last answer's body (start) */
} probe_t;

static void
s_split (probe_t *p, const char *endpoint)
{
    const char *h = strstr (endpoint, "://");
    h = h ? h + 3 : endpoint;
    size_t hlen = strcspn (h, "/");
    snprintf (p->host, sizeof p->host, "%.*s", (int)hlen, h);
    snprintf (p->base, sizeof p->base, "%.*s", (int)(h - endpoint + hlen), endpoint);
    snprintf (p->path, sizeof p->path, "%s", h + hlen);
    size_t n = strlen (p->path);
    if (n && p->path[n - 1] == '/')
        p->path[n - 1] = '\0';
}

static void
s_done (const hm_http_response_t *r, void *arg)
{
    probe_t *p = arg;
    char reason[512];
    hm_http_verdict_t v = hm_http_classify_response (r, reason, sizeof reason);
    printf ("%s %s -> %ld %s %s\n", r->method, r->url, r->status, hm_http_verdict_name (v), reason);
    snprintf (p->body, sizeof p->body, "%s", r->body);
    if (v != HM_HTTP_OK)
        p->failures++;
}

static void
s_send (probe_t *p, hm_http_request_t *req)
{
    if (hm_http_client_submit (p->client, &req, s_done, p) != 0 ||
        hm_http_client_drain (p->client, 30000) != 0) {
        printf ("request could not be sent\n");
        hm_http_request_destroy (&req);
        p->failures++;
    }
}

/* One SigV4-signed request; path is as sent (already encoded). */
static void
s_aws (probe_t *p, const hm_aws_credentials_t *cred, const char *method, const char *path,
       const char *query, const char *content_type, const char *body, bool s3)
{
    hm_sigv4_header_t h[2] = {{"Host", p->host}, {"Content-Type", content_type}};
    size_t body_len = body ? strlen (body) : 0;
    hm_sigv4_request_t sreq = {method, path, query, h, content_type ? 2 : 1, body, body_len, NULL};
    hm_sigv4_options_t opts = s3 ? hm_sigv4_options_s3 () : hm_sigv4_options_default ();
    hm_sigv4_result_t res;
    char date[17], err[256], url[2048];
    hm_sigv4_amz_date (time (NULL), date);
    if (hm_sigv4_sign (&sreq, cred, date, &opts, &res, err, sizeof err) != 0) {
        printf ("sign: %s\n", err);
        p->failures++;
        hm_sigv4_result_free (&res);
        return;
    }
    snprintf (url, sizeof url, "%s%s%s%s", p->base, path, query ? "?" : "", query ? query : "");
    hm_http_request_t *req = hm_http_request_new (method, url);
    if (content_type)
        hm_http_request_header (req, "Content-Type", content_type);
    for (size_t i = 0; i < res.added_count; i++)
        hm_http_request_header (req, res.added[i].name, res.added[i].value);
    if (body || strcmp (method, "PUT") == 0)
        hm_http_request_copy_body (req, body ? body : "", body_len);
    hm_sigv4_result_free (&res);
    s_send (p, req);
}

/* One Shared Key request; path is relative to the endpoint. */
static void
s_azure (probe_t *p, const char *account, const char *key, const char *method, const char *path,
         const char *query, const char **extra, const char *body)
{
    char date[30], len[32], full[1024], url[2048];
    hm_sharedkey_date (time (NULL), date);
    size_t body_len = body ? strlen (body) : 0;
    snprintf (len, sizeof len, "%zu", body_len);
    snprintf (full, sizeof full, "%s%s", p->path, path);
    hm_sharedkey_header_t h[8];
    size_t n = 0;
    h[n++] = (hm_sharedkey_header_t){"x-ms-date", date};
    h[n++] = (hm_sharedkey_header_t){"x-ms-version", "2021-12-02"};
    for (size_t i = 0; extra && extra[i] && n < 7; i += 2)
        h[n++] = (hm_sharedkey_header_t){extra[i], extra[i + 1]};
    /* curl writes Content-Length itself; it is signed from the same number. */
    hm_sharedkey_header_t signed_h[9];
    memcpy (signed_h, h, n * sizeof *h);
    signed_h[n] = (hm_sharedkey_header_t){"Content-Length", len};
    hm_sharedkey_request_t sreq = {method, account, full, query, signed_h, n + 1};
    char *authz = hm_sharedkey_authorization (&sreq, key);
    if (!authz) {
        printf ("sharedkey: bad key\n");
        p->failures++;
        return;
    }
    snprintf (url, sizeof url, "%s%s%s%s", p->base, full, query ? "?" : "", query ? query : "");
    hm_http_request_t *req = hm_http_request_new (method, url);
    for (size_t i = 0; i < n; i++)
        hm_http_request_header (req, h[i].name, h[i].value);
    hm_http_request_header (req, "Authorization", authz);
    free (authz);
    if (body || strcmp (method, "PUT") == 0 || strcmp (method, "POST") == 0)
        hm_http_request_copy_body (req, body ? body : "", body_len);
    s_send (p, req);
}

int
main (int argc, char **argv)
{
    if (argc < 5) {
        fprintf (stderr, "usage: see the top of cloud_probe.c\n");
        return 2;
    }
    probe_t p;
    memset (&p, 0, sizeof p);
    s_split (&p, argv[2]);
    p.client = hm_http_client_new (NULL);
    const char *what = argv[1];
    if (strcmp (what, "s3") == 0 && argc == 6) {
        hm_aws_credentials_t cred = {argv[4], argv[5], NULL, "us-east-1", "s3"};
        char path[512];
        snprintf (path, sizeof path, "/%s", argv[3]);
        s_aws (&p, &cred, "PUT", path, NULL, NULL, NULL, true);
        /* A key with a space and a '+' checks the path encoding end to end. */
        snprintf (path, sizeof path, "/%s/probe/hello%%20world%%2B1.txt", argv[3]);
        s_aws (&p, &cred, "PUT", path, NULL, "text/plain", "hello from hamustro\n", true);
        s_aws (&p, &cred, "GET", path, NULL, NULL, NULL, true);
        snprintf (path, sizeof path, "/%s", argv[3]);
        s_aws (&p, &cred, "GET", path, "list-type=2&prefix=probe%2F", NULL, NULL, true);
    }
    else if (strcmp (what, "sns") == 0 && argc == 5) {
        hm_aws_credentials_t cred = {argv[3], argv[4], NULL, "us-east-1", "sns"};
        const char *form = "application/x-www-form-urlencoded; charset=utf-8";
        s_aws (&p, &cred, "POST", "/", NULL, form,
               "Action=CreateTopic&Name=hm-probe&Version=2010-03-31", false);
        char arn[256] = "", body[1024];
        char *a = strstr (p.body, "<TopicArn>");
        if (a)
            sscanf (a + 10, "%255[^<]", arn);
        hm_buf_t enc;
        hm_buf_init (&enc, 0);
        hm_sigv4_uri_encode (&enc, arn, strlen (arn), false);
        snprintf (body, sizeof body,
                  "Action=Publish&TopicArn=%s&Message=hello%%20from%%20hamustro&Version=2010-03-31",
                  enc.data ? enc.data : "");
        hm_buf_free (&enc);
        s_aws (&p, &cred, "POST", "/", NULL, form, body, false);
    }
    else if (strcmp (what, "blob") == 0 && argc == 6) {
        char path[512];
        snprintf (path, sizeof path, "/%s", argv[3]);
        s_azure (&p, argv[4], argv[5], "PUT", path, "restype=container", NULL, NULL);
        snprintf (path, sizeof path, "/%s/probe/hello.txt", argv[3]);
        const char *extra[] = {"x-ms-blob-type", "BlockBlob", "Content-Type", "text/plain", NULL};
        s_azure (&p, argv[4], argv[5], "PUT", path, NULL, extra, "hello from hamustro\n");
        s_azure (&p, argv[4], argv[5], "GET", path, NULL, NULL, NULL);
        snprintf (path, sizeof path, "/%s", argv[3]);
        s_azure (&p, argv[4], argv[5], "GET", path, "restype=container&comp=list&prefix=probe%2F",
                 NULL, NULL);
    }
    else if (strcmp (what, "queue") == 0 && argc == 6) {
        char path[512];
        snprintf (path, sizeof path, "/%s", argv[3]);
        s_azure (&p, argv[4], argv[5], "PUT", path, NULL, NULL, NULL);
        snprintf (path, sizeof path, "/%s/messages", argv[3]);
        const char *extra[] = {"Content-Type", "application/xml", NULL};
        s_azure (&p, argv[4], argv[5], "POST", path, "messagettl=-1", extra,
                 "<QueueMessage><MessageText>aGVsbG8gZnJvbSBoYW11c3Rybw==</MessageText>"
                 "</QueueMessage>");
        s_azure (&p, argv[4], argv[5], "GET", path, "numofmessages=1&peekonly=true", NULL, NULL);
    }
    else {
        fprintf (stderr, "usage: see the top of cloud_probe.c\n");
        hm_http_client_destroy (&p.client);
        return 2;
    }
    hm_http_client_destroy (&p.client);
    return p.failures ? 1 : 0;
}
