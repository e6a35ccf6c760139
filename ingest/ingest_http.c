/*  ingest_http: see ingest_http.h. Nothing here touches a socket; every
    function is a plain mapping from request facts to decisions. */
#include "ingest_http.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "digest.h"
#include "signature.h"

/* Compares the path part of url (up to '?') with path. */
static bool
s_path_is (const char *url, const char *path)
{
    size_t n = strlen (path);
    if (strncmp (url, path, n) != 0)
        return false;
    return url[n] == '\0' || url[n] == '?';
}

hm_req_kind_t
hm_ingest_classify (const char *url, const char *method, const char **allow_p)
{
    const char *allow = NULL;
    hm_req_kind_t kind = HM_REQ_NOT_FOUND;
    if (!url || !method)
        return HM_REQ_NOT_FOUND;
    if (s_path_is (url, HM_PATH_TRACK)) {
        kind = strcmp (method, "POST") == 0 ? HM_REQ_TRACK : HM_REQ_BAD_METHOD;
        allow = "POST";
    }
    else if (s_path_is (url, HM_PATH_HEALTH)) {
        kind = strcmp (method, "GET") == 0 || strcmp (method, "HEAD") == 0 ? HM_REQ_HEALTH
                                                                           : HM_REQ_BAD_METHOD;
        allow = "GET, HEAD";
    }
    else if (s_path_is (url, HM_PATH_FLUSH)) {
        kind = strcmp (method, "POST") == 0 ? HM_REQ_FLUSH : HM_REQ_BAD_METHOD;
        allow = "POST";
    }
    else if (s_path_is (url, HM_PATH_STATS)) {
        kind = strcmp (method, "GET") == 0 || strcmp (method, "HEAD") == 0 ? HM_REQ_STATS
                                                                           : HM_REQ_BAD_METHOD;
        allow = "GET, HEAD";
    }
    if (kind == HM_REQ_BAD_METHOD && allow_p)
        *allow_p = allow;
    return kind;
}

hm_body_kind_t
hm_ingest_body_kind (const char *content_type)
{
    if (!content_type)
        return HM_BODY_UNSUPPORTED;
    const char *start = content_type;
    while (*start == ' ' || *start == '\t')
        start++;
    const char *end = strchr (start, ';');
    if (!end)
        end = start + strlen (start);
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t n = (size_t)(end - start);
    static const struct {
        const char *mime;
        hm_body_kind_t kind;
    } table[] = {
        {"application/protobuf", HM_BODY_PROTOBUF},
        {"application/x-protobuf", HM_BODY_PROTOBUF},
        {"application/json", HM_BODY_JSON},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strlen (table[i].mime) == n && strncasecmp (start, table[i].mime, n) == 0)
            return table[i].kind;
    return HM_BODY_UNSUPPORTED;
}

int
hm_ingest_parse_length (const char *text, uint64_t *value_p)
{
    if (!text)
        return -1;
    while (*text == ' ' || *text == '\t')
        text++;
    if (!isdigit ((unsigned char)*text))
        return -1;
    uint64_t value = 0;
    for (; isdigit ((unsigned char)*text); text++) {
        unsigned digit = (unsigned)(*text - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return -1;
        value = value * 10 + digit;
    }
    while (*text == ' ' || *text == '\t')
        text++;
    if (*text)
        return -1;
    *value_p = value;
    return 0;
}

const char *
hm_ingest_check_signature (bool required, const char *time, const char *signature, const void *body,
                           size_t body_len, const char *secret)
{
    bool has_time = time && *time;
    bool has_signature = signature && *signature;
    /* A client that sends either header means to be checked: a half-signed
       request is a client bug we report rather than let through. */
    if (!required && !has_time && !has_signature)
        return NULL;
    if (!has_time)
        return "X-Hamustro-Time header is missing";
    if (!has_signature)
        return "X-Hamustro-Signature header is missing";
    if (!hm_signature_ok (body, body_len, time, secret ? secret : "", signature))
        return "X-Hamustro-Signature header is invalid";
    return NULL;
}

const char *
hm_ingest_check_time (const char *time, int64_t now_s, uint32_t max_skew_s, char *why, size_t cap)
{
    uint64_t t = 0;
    if (max_skew_s == 0 || !time || !*time)
        return NULL;
    /* Epoch seconds, as ARCHITECTURE section 2 defines the header; the
       original never read it, so a client sending anything else could
       only have worked while nothing checked. */
    if (hm_ingest_parse_length (time, &t) != 0 || t > INT64_MAX / 2) {
        snprintf (why, cap,
                  "X-Hamustro-Time header is not epoch seconds, so its age cannot be "
                  "checked against max_clock_skew_s");
        return why;
    }
    int64_t diff = (int64_t)t - now_s;
    if (diff > (int64_t)max_skew_s)
        snprintf (why, cap,
                  "X-Hamustro-Time is %lld s ahead of the server's clock, more than "
                  "max_clock_skew_s (%u s): check the client's clock",
                  (long long)diff, max_skew_s);
    else if (-diff > (int64_t)max_skew_s)
        snprintf (why, cap,
                  "X-Hamustro-Time is %lld s behind the server's clock, more than "
                  "max_clock_skew_s (%u s): a replayed or long-delayed request, or a wrong clock",
                  (long long)-diff, max_skew_s);
    else
        return NULL;
    return why;
}

bool
hm_ingest_maintenance_key_ok (const char *header, const char *key_hex)
{
    if (!header || !key_hex)
        return false;
    return hm_const_eq (header, strlen (header), key_hex, strlen (key_hex));
}

unsigned
hm_ingest_append_status (int reply_status)
{
    return reply_status == 0 ? 200 : 503;
}

/* A reason cut to fit must not end inside a UTF-8 sequence. Returns the
   new length of out[0..n) with an incomplete last sequence removed. */
static size_t
s_trim_partial_utf8 (const char *out, size_t start, size_t n)
{
    size_t i = n;
    while (i > start && ((unsigned char)out[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == start)
        return n;
    unsigned char lead = (unsigned char)out[i - 1];
    if (lead < 0xC0)
        return n;
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    return n - (i - 1) < need ? i - 1 : n;
}

size_t
hm_ingest_error_json (char *out, size_t cap, const char *reason)
{
    static const char head[] = "{\"error\":\"";
    static const char tail[] = "\"}";
    static const char hex[] = "0123456789abcdef";
    size_t n = sizeof head - 1;
    memcpy (out, head, n);
    /* Leave room for the tail and the NUL whatever happens below. */
    size_t limit = cap - sizeof tail;
    for (const unsigned char *p = (const unsigned char *)(reason ? reason : ""); *p; p++) {
        char esc[7];
        size_t len;
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            len = 2;
        }
        else if (*p < 0x20) {
            memcpy (esc, "\\u00", 4);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            len = 6;
        }
        else {
            esc[0] = (char)*p;
            len = 1;
        }
        if (n + len > limit) {
            n = s_trim_partial_utf8 (out, sizeof head - 1, n);
            break;
        }
        memcpy (out + n, esc, len);
        n += len;
    }
    memcpy (out + n, tail, sizeof tail);
    return n + sizeof tail - 1;
}

const char *
hm_ingest_status_name (unsigned status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "?";
    }
}
