/*  aws_section: what the S3 and SNS sinks share.

    - The common keys of their config sections (region, endpoint,
      access_key_id, secret_access_key, session_token), with the AWS_*
      environment variables as fallback, checked at start so a bad value
      stops the sink with "FILE: routes.NAME.SINK.KEY: reason".
    - The endpoint URL split into scheme, host and path prefix.
    - One signed request: SigV4 headers computed and put on an
      hm_http_request_t, Host set explicitly so the signed Host is the one
      sent whatever curl would have written.
    - A small XML reader for AWS answers: the text of one element, and
      entity decoding. AWS answers are machine-written and flat, so a tag
      scanner is enough; it never trusts lengths from the peer. */
#ifndef HM_AWS_SECTION_H
#define HM_AWS_SECTION_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "http_client.h"
#include "sigv4.h"

/* An http(s) URL split for signing. */
typedef struct {
    bool https;     /* scheme is https */
    char host[256]; /* "host" or "host:port", as sent in Host */
    char path[512]; /* path prefix without trailing '/', "" for none */
} hm_aws_endpoint_t;

/* The keys every AWS section has. Strings are owned (free with
   hm_aws_section_free). */
typedef struct {
    char *region;             /* "us-east-1" */
    char *endpoint;           /* NULL: the service's own */
    char *access_key_id;      /* required (section or AWS_ACCESS_KEY_ID) */
    char *secret_access_key;  /* required (section or AWS_SECRET_ACCESS_KEY) */
    char *session_token;      /* NULL: none */
    hm_aws_endpoint_t parsed; /* endpoint split, when endpoint is set */
} hm_aws_section_t;

/* A string key of the section: NULL when absent; -1 (reason in errbuf) when
   present but not a string. *value_p is a copy to free. */
int hm_aws_string (const cJSON *section, const char *prefix, const char *key, char **value_p,
                   char *errbuf, size_t errlen);

/* Reads the common keys; region may stay NULL when region_required is false
   (SNS takes it from the topic ARN). 0 / -1 with the reason in errbuf. */
int hm_aws_section_read (const cJSON *section, const char *prefix, bool region_required,
                         hm_aws_section_t *out, char *errbuf, size_t errlen);
void hm_aws_section_free (hm_aws_section_t *self);

/* Splits "http(s)://host[:port][/path]". 0 / -1 (not http/https, no host,
   too long, a query or fragment). */
int hm_aws_endpoint_parse (const char *url, hm_aws_endpoint_t *out);

/* A request signed with SigV4: method, host (Host header), path (as sent,
   already percent-encoded), query (as sent, NULL for none), extra headers
   (signed too), the body (copied). Returns the request, or NULL with the
   reason in errbuf. */
hm_http_request_t *hm_aws_request (const char *method, bool https, const char *host,
                                   const char *path, const char *query,
                                   const hm_sigv4_header_t *headers, size_t header_count,
                                   const void *body, size_t body_len,
                                   const hm_aws_credentials_t *cred, const hm_sigv4_options_t *opts,
                                   char *errbuf, size_t errlen);

/* The text between <tag> and </tag> of the first such element at or after
   *from in xml[0..len): *start / *text_len point into xml; *from moves past
   the closing tag. 0, or -1 when there is none. */
int hm_xml_element (const char *xml, size_t len, size_t *from, const char *tag, const char **start,
                    size_t *text_len);
/* Copies text decoding &lt; &gt; &amp; &quot; &apos; and &#N; / &#xN;
   (ASCII only; others kept as written), truncated to cap-1 bytes. */
void hm_xml_text (const char *text, size_t len, char *out, size_t cap);

#endif
