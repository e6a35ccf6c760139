/*  fuzz_cloud_reply: what a cloud service (or anything answering in its
    place) sends back to a sink, and the account text a sink starts from.
    The first byte picks the parser:
      0  SNS PublishBatch answer: each outcome names an entry the request had
         ("m<index>") and its code and message are terminated strings;
      1  an HTTP answer (status from the next two bytes, then a header pair
         and a body): the verdict is OK, RETRY or DROP, 2xx is always OK,
         and the reason is one terminated line;
      2  <tag>...</tag> search and entity decoding: the text found lies
         inside the input and holds no closing tag; decoding never grows it;
      3  an Azure connection string: parsed, or refused with a reason;
      4  an AWS endpoint URL: parsed into terminated host and path, or refused. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_section.h"
#include "azure.h"
#include "http_client.h"
#include "sns_request.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_FAIL(...)                                                                                \
    do {                                                                                           \
        fprintf (stderr, "fuzz_cloud_reply: " __VA_ARGS__);                                        \
        fputc ('\n', stderr);                                                                      \
        abort ();                                                                                  \
    } while (0)

static void
s_terminated (const char *s, size_t cap, const char *what)
{
    if (!memchr (s, '\0', cap))
        S_FAIL ("%s is not terminated within %zu bytes", what, cap);
}

static void
s_sns (const char *body, size_t len)
{
    /* As the sink calls it: room for twice the entries a request holds. */
    hm_sns_outcome_t out[2 * HM_SNS_MAX_ENTRIES];
    long n = hm_sns_parse_batch_reply (body, len, out, 2 * HM_SNS_MAX_ENTRIES);
    if (n < -1 || n > 2 * HM_SNS_MAX_ENTRIES)
        S_FAIL ("SNS answer: %ld outcomes", n);
    for (long i = 0; i < n; i++) {
        char id[32];
        snprintf (id, sizeof id, "<Id>m%zu</Id>", out[i].index);
        if (!memmem (body, len, id, strlen (id)))
            S_FAIL ("SNS answer: outcome %zu names no entry of the answer", out[i].index);
        s_terminated (out[i].code, sizeof out[i].code, "SNS code");
        s_terminated (out[i].message, sizeof out[i].message, "SNS message");
    }
}

static void
s_http (const char *in, size_t len)
{
    if (len < 2)
        return;
    long status = ((unsigned char)in[0] << 8 | (unsigned char)in[1]) % 700;
    in += 2, len -= 2;
    /* "name\0value\0" then the body; both NUL-terminated copies. */
    char *copy = malloc (len + 3);
    memcpy (copy, in, len);
    copy[len] = copy[len + 1] = copy[len + 2] = '\0';
    const char *name = copy;
    const char *value = name + strlen (name) + 1;
    const char *body = value + strlen (value) + 1;
    size_t used = (size_t)(body - copy);
    hm_http_response_t r = {
        .status = status,
        .curl_code = 0,
        .error = "",
        .body = used <= len ? body : "",
        .body_len = used <= len ? len - used : 0,
        .method = "POST",
        .url = "http://127.0.0.1/",
        .headers = copy,
        .header_count = 1,
    };
    char code[64], reason[300];
    hm_http_error_code (&r, code, sizeof code);
    s_terminated (code, sizeof code, "error code");
    hm_http_verdict_t v = hm_http_classify_response (&r, reason, sizeof reason);
    if (v != HM_HTTP_OK && v != HM_HTTP_RETRY && v != HM_HTTP_DROP)
        S_FAIL ("verdict %d", (int)v);
    if (status >= 200 && status < 300 && v != HM_HTTP_OK)
        S_FAIL ("HTTP %ld is %s", status, hm_http_verdict_name (v));
    s_terminated (reason, sizeof reason, "reason");
    if (v != HM_HTTP_OK && !reason[0])
        S_FAIL ("HTTP %ld: %s without a reason", status, hm_http_verdict_name (v));
    if (strpbrk (reason, "\r\n"))
        S_FAIL ("the reason breaks the log line: %s", reason);
    free (copy);
}

static void
s_xml (const char *in, size_t len)
{
    /* "tag\0xml" */
    const char *nul = memchr (in, '\0', len);
    if (!nul)
        return;
    const char *tag = in, *xml = nul + 1;
    size_t xlen = len - (size_t)(xml - in);
    char close[80];
    snprintf (close, sizeof close, "</%s>", tag);
    size_t from = 0, rounds = 0;
    const char *start;
    size_t tlen;
    while (hm_xml_element (xml, xlen, &from, tag, &start, &tlen) == 0) {
        if (start < xml || start + tlen > xml + xlen || from > xlen)
            S_FAIL ("element text outside the input");
        if (memmem (start, tlen, close, strlen (close)))
            S_FAIL ("element text holds its closing tag");
        char out[64];
        hm_xml_text (start, tlen, out, sizeof out);
        if (strlen (out) > tlen)
            S_FAIL ("decoding grew the text");
        if (++rounds > xlen)
            S_FAIL ("the search does not move forward");
    }
}

static void
s_azure (const char *text)
{
    hm_azure_connection_t c;
    char err[256] = "";
    if (hm_azure_connection_parse (text, &c, err, sizeof err) != 0) {
        if (!err[0])
            S_FAIL ("connection string refused without a reason");
        return;
    }
    hm_azure_connection_free (&c);
}

static void
s_endpoint (const char *url)
{
    hm_aws_endpoint_t e;
    memset (&e, 0x55, sizeof e); /* no terminator unless the parser writes one */
    if (hm_aws_endpoint_parse (url, &e) != 0)
        return;
    s_terminated (e.host, sizeof e.host, "endpoint host");
    s_terminated (e.path, sizeof e.path, "endpoint path");
    if (!e.host[0])
        S_FAIL ("endpoint %s: empty host", url);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0] % 5;
    /* Every parser gets its own copy, exactly as long as the input, so
       that ASan sees a read past its end. */
    size_t len = size - 1;
    char *in = malloc (len + 1);
    memcpy (in, data + 1, len);
    in[len] = '\0';
    switch (mode) {
    case 0:
        s_sns (in, len);
        break;
    case 1:
        s_http (in, len);
        break;
    case 2:
        s_xml (in, len);
        break;
    case 3:
        s_azure (in);
        break;
    default:
        s_endpoint (in);
        break;
    }
    free (in);
    return 0;
}
