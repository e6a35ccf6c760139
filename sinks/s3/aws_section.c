/*  aws_section: the S3 and SNS sinks' shared config keys, endpoint
    parsing, signed requests and AWS XML reading (see aws_section.h). */
#include "aws_section.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
hm_aws_string (const cJSON *section, const char *prefix, const char *key, char **value_p,
               char *errbuf, size_t errlen)
{
    *value_p = NULL;
    const cJSON *item = section ? cJSON_GetObjectItemCaseSensitive (section, key) : NULL;
    if (!item || cJSON_IsNull (item))
        return 0;
    if (!cJSON_IsString (item) || !item->valuestring) {
        snprintf (errbuf, errlen, "%s.%s: must be a string", prefix, key);
        return -1;
    }
    *value_p = strdup (item->valuestring);
    if (!*value_p) {
        snprintf (errbuf, errlen, "%s.%s: out of memory", prefix, key);
        return -1;
    }
    return 0;
}

/* The section's value, else the environment's, else NULL; "" counts as
   absent so a placeholder in the original's sample config falls through. */
static int
s_key_or_env (const cJSON *section, const char *prefix, const char *key, const char *env,
              char **value_p, char *errbuf, size_t errlen)
{
    if (hm_aws_string (section, prefix, key, value_p, errbuf, errlen) != 0)
        return -1;
    if (*value_p && **value_p)
        return 0;
    free (*value_p);
    *value_p = NULL;
    const char *from_env = env ? getenv (env) : NULL;
    if (from_env && *from_env && !(*value_p = strdup (from_env))) {
        snprintf (errbuf, errlen, "%s.%s: out of memory", prefix, key);
        return -1;
    }
    return 0;
}

int
hm_aws_section_read (const cJSON *section, const char *prefix, bool region_required,
                     hm_aws_section_t *out, char *errbuf, size_t errlen)
{
    memset (out, 0, sizeof *out);
    if (s_key_or_env (section, prefix, "region", "AWS_REGION", &out->region, errbuf, errlen) ||
        (!out->region && s_key_or_env (section, prefix, "region", "AWS_DEFAULT_REGION",
                                       &out->region, errbuf, errlen)) ||
        s_key_or_env (section, prefix, "endpoint", NULL, &out->endpoint, errbuf, errlen) ||
        s_key_or_env (section, prefix, "access_key_id", "AWS_ACCESS_KEY_ID", &out->access_key_id,
                      errbuf, errlen) ||
        s_key_or_env (section, prefix, "secret_access_key", "AWS_SECRET_ACCESS_KEY",
                      &out->secret_access_key, errbuf, errlen) ||
        s_key_or_env (section, prefix, "session_token", "AWS_SESSION_TOKEN", &out->session_token,
                      errbuf, errlen))
        goto fail;
    if (region_required && !out->region) {
        snprintf (errbuf, errlen, "%s.region: missing (or set AWS_REGION)", prefix);
        goto fail;
    }
    for (const char *p = out->region; p && *p; p++)
        if (!isalnum ((unsigned char)*p) && *p != '-') {
            snprintf (errbuf, errlen, "%s.region: \"%s\" is not a region name", prefix,
                      out->region);
            goto fail;
        }
    if (!out->access_key_id) {
        snprintf (errbuf, errlen, "%s.access_key_id: missing (or set AWS_ACCESS_KEY_ID)", prefix);
        goto fail;
    }
    if (!out->secret_access_key) {
        snprintf (errbuf, errlen, "%s.secret_access_key: missing (or set AWS_SECRET_ACCESS_KEY)",
                  prefix);
        goto fail;
    }
    if (out->endpoint && hm_aws_endpoint_parse (out->endpoint, &out->parsed) != 0) {
        snprintf (errbuf, errlen,
                  "%s.endpoint: \"%s\" is not an http:// or https:// URL without a query", prefix,
                  out->endpoint);
        goto fail;
    }
    return 0;
fail:
    hm_aws_section_free (out);
    return -1;
}

void
hm_aws_section_free (hm_aws_section_t *self)
{
    free (self->region);
    free (self->endpoint);
    free (self->access_key_id);
    free (self->secret_access_key);
    free (self->session_token);
    memset (self, 0, sizeof *self);
}

int
hm_aws_endpoint_parse (const char *url, hm_aws_endpoint_t *out)
{
    memset (out, 0, sizeof *out);
    const char *rest;
    if (strncmp (url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncmp (url, "https://", 8) == 0) {
        out->https = true;
        rest = url + 8;
    }
    else
        return -1;
    if (strpbrk (rest, "?#@ \t\r\n"))
        return -1;
    size_t hlen = strcspn (rest, "/");
    if (hlen == 0 || hlen >= sizeof out->host)
        return -1;
    memcpy (out->host, rest, hlen);
    const char *path = rest + hlen;
    size_t plen = strlen (path);
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    if (plen >= sizeof out->path)
        return -1;
    memcpy (out->path, path, plen);
    return 0;
}

hm_http_request_t *
hm_aws_request (const char *method, bool https, const char *host, const char *path,
                const char *query, const hm_sigv4_header_t *headers, size_t header_count,
                const void *body, size_t body_len, const hm_aws_credentials_t *cred,
                const hm_sigv4_options_t *opts, char *errbuf, size_t errlen)
{
    hm_sigv4_header_t all[16];
    if (header_count + 1 > sizeof all / sizeof *all) {
        snprintf (errbuf, errlen, "too many headers");
        return NULL;
    }
    all[0] = (hm_sigv4_header_t){"Host", host};
    memcpy (all + 1, headers, header_count * sizeof *headers);
    hm_sigv4_request_t sreq = {method, path, query, all, header_count + 1, body, body_len, NULL};
    char date[17];
    hm_sigv4_amz_date (time (NULL), date);
    hm_sigv4_result_t res;
    if (hm_sigv4_sign (&sreq, cred, date, opts, &res, errbuf, errlen) != 0) {
        hm_sigv4_result_free (&res);
        return NULL;
    }
    hm_buf_t url;
    hm_buf_init (&url, 0);
    hm_http_request_t *req = NULL;
    if (hm_buf_printf (&url, "%s://%s%s%s%s", https ? "https" : "http", host, path,
                       query ? "?" : "", query ? query : "") != 0)
        goto oom;
    req = hm_http_request_new (method, url.data);
    if (!req)
        goto oom;
    for (size_t i = 0; i < header_count + 1; i++)
        if (hm_http_request_header (req, all[i].name, all[i].value) != 0)
            goto bad_header;
    for (size_t i = 0; i < res.added_count; i++)
        if (hm_http_request_header (req, res.added[i].name, res.added[i].value) != 0)
            goto bad_header;
    if ((body || strcmp (method, "PUT") == 0 || strcmp (method, "POST") == 0) &&
        hm_http_request_copy_body (req, body ? body : "", body_len) != 0)
        goto oom;
    hm_buf_free (&url);
    hm_sigv4_result_free (&res);
    return req;
bad_header:
    snprintf (errbuf, errlen, "a header holds CR or LF, or out of memory");
    goto fail;
oom:
    snprintf (errbuf, errlen, "out of memory");
fail:
    hm_http_request_destroy (&req);
    hm_buf_free (&url);
    hm_sigv4_result_free (&res);
    return NULL;
}

/* Finds needle in hay[0..len) from *from; returns its position or -1. */
static long
s_find (const char *hay, size_t len, size_t from, const char *needle)
{
    size_t n = strlen (needle);
    for (size_t i = from; n <= len && i + n <= len; i++)
        if (hay[i] == needle[0] && memcmp (hay + i, needle, n) == 0)
            return (long)i;
    return -1;
}

int
hm_xml_element (const char *xml, size_t len, size_t *from, const char *tag, const char **start,
                size_t *text_len)
{
    char open[80], close[80];
    if (snprintf (open, sizeof open, "<%s>", tag) >= (int)sizeof open ||
        snprintf (close, sizeof close, "</%s>", tag) >= (int)sizeof close || !xml)
        return -1;
    long a = s_find (xml, len, *from, open);
    if (a < 0)
        return -1;
    size_t text = (size_t)a + strlen (open);
    long b = s_find (xml, len, text, close);
    if (b < 0)
        return -1;
    *start = xml + text;
    *text_len = (size_t)b - text;
    *from = (size_t)b + strlen (close);
    return 0;
}

void
hm_xml_text (const char *text, size_t len, char *out, size_t cap)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}};
    size_t o = 0;
    if (cap == 0)
        return;
    for (size_t i = 0; i < len && o + 1 < cap;) {
        char c = text[i];
        size_t used = 1;
        if (c == '&') {
            bool done = false;
            for (size_t k = 0; k < sizeof named / sizeof *named && !done; k++) {
                size_t n = strlen (named[k].name);
                if (i + n <= len && memcmp (text + i, named[k].name, n) == 0) {
                    c = named[k].c;
                    used = n;
                    done = true;
                }
            }
            if (!done && i + 3 < len && text[i + 1] == '#') {
                bool hex = text[i + 2] == 'x' || text[i + 2] == 'X';
                size_t j = i + (hex ? 3 : 2);
                unsigned long v = 0;
                size_t digits = 0;
                while (j < len && digits < 8 && isxdigit ((unsigned char)text[j]) &&
                       (hex || isdigit ((unsigned char)text[j]))) {
                    int d = isdigit ((unsigned char)text[j]) ? text[j] - '0'
                                                             : (tolower (text[j]) - 'a' + 10);
                    v = v * (hex ? 16 : 10) + (unsigned long)d;
                    j++;
                    digits++;
                }
                if (digits > 0 && j < len && text[j] == ';' && v > 0 && v < 128) {
                    c = (char)v;
                    used = j + 1 - i;
                }
            }
        }
        out[o++] = c;
        i += used;
    }
    out[o] = '\0';
}
