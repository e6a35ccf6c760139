/*  sharedkey: Azure Storage Shared Key signing. See sharedkey.h.

    The string to sign is built field by field in the service's order; a
    single wrong byte (a "0" Content-Length, a header sorted differently)
    means 403 AuthenticationFailed, so every field comes from one place. */
#include "sharedkey.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "digest.h"
#include "hm_buf.h"

#define S_LIMIT (16u * 1024 * 1024)

/* The standard headers of the string to sign, in its order. */
static const char *s_standard[] = {"Content-Encoding",
                                   "Content-Language",
                                   "Content-Length",
                                   "Content-MD5",
                                   "Content-Type",
                                   "Date",
                                   "If-Modified-Since",
                                   "If-Match",
                                   "If-None-Match",
                                   "If-Unmodified-Since",
                                   "Range"};

void
hm_sharedkey_date (time_t t, char out[30])
{
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r (&t, &tm);
    /* Not strftime: %a and %b follow the locale, the service wants English. */
    char tmp[96];
    snprintf (tmp, sizeof tmp, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
              tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
              tm.tm_sec);
    size_t n = strlen (tmp);
    n = n < 29 ? n : 29;
    memcpy (out, tmp, n);
    out[n] = '\0';
}

static bool
s_space (char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Appends s trimmed, with each run of white space made one space. */
static int
s_put_collapsed (hm_buf_t *out, const char *s)
{
    bool pending = false, any = false;
    for (; *s; s++) {
        if (s_space (*s)) {
            pending = any;
            continue;
        }
        if (pending && hm_buf_putc (out, ' ') != 0)
            return -1;
        if (hm_buf_putc (out, *s) != 0)
            return -1;
        pending = false;
        any = true;
    }
    return 0;
}

typedef struct {
    char *name;        /* lowercased */
    const char *value; /* as given */
    size_t index;      /* position in the request */
} s_entry_t;

static int
s_entry_cmp (const void *a, const void *b)
{
    const s_entry_t *x = a, *y = b;
    int c = strcmp (x->name, y->name);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

static char *
s_lower (const char *s, size_t len)
{
    char *out = malloc (len + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)tolower ((unsigned char)s[i]);
    out[len] = '\0';
    return out;
}

char *
hm_sharedkey_canonical_headers (const hm_sharedkey_header_t *headers, size_t count)
{
    s_entry_t *list = calloc (count ? count : 1, sizeof *list);
    size_t n = 0;
    hm_buf_t out;
    hm_buf_init (&out, S_LIMIT);
    char *result = NULL;
    if (!list)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        const char *name = headers[i].name ? headers[i].name : "";
        while (s_space (*name))
            name++;
        size_t len = strlen (name);
        while (len && s_space (name[len - 1]))
            len--;
        if (len < 5 || strncasecmp (name, "x-ms-", 5) != 0)
            continue;
        list[n].name = s_lower (name, len);
        list[n].value = headers[i].value ? headers[i].value : "";
        list[n].index = i;
        if (!list[n++].name)
            goto done;
    }
    qsort (list, n, sizeof *list, s_entry_cmp);
    if (hm_buf_puts (&out, "") != 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        bool same = i > 0 && strcmp (list[i].name, list[i - 1].name) == 0;
        int rc;
        if (same)
            rc = hm_buf_putc (&out, ',');
        else
            rc = (i > 0 && hm_buf_putc (&out, '\n') != 0) ||
                 hm_buf_printf (&out, "%s:", list[i].name) != 0;
        if (rc != 0 || s_put_collapsed (&out, list[i].value) != 0)
            goto done;
    }
    if (n > 0 && hm_buf_putc (&out, '\n') != 0)
        goto done;
    result = hm_buf_steal (&out, NULL);
done:
    for (size_t i = 0; i < n; i++)
        free (list[i].name);
    free (list);
    hm_buf_free (&out);
    return result;
}

static int
s_hexval (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower ((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* URL-decodes s[0..len) into a new string ('+' stays '+': Azure's SDKs
   encode spaces as %20). */
static char *
s_decode (const char *s, size_t len, bool lower)
{
    char *out = malloc (len + 1);
    size_t n = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < len && s_hexval (s[i + 1]) >= 0 && s_hexval (s[i + 2]) >= 0) {
            c = (char)(s_hexval (s[i + 1]) * 16 + s_hexval (s[i + 2]));
            i += 2;
        }
        out[n++] = lower ? (char)tolower ((unsigned char)c) : c;
    }
    out[n] = '\0';
    return out;
}

typedef struct {
    char *name;  /* decoded, lowercased */
    char *value; /* decoded */
} s_param_t;

static int
s_param_cmp (const void *a, const void *b)
{
    const s_param_t *x = a, *y = b;
    int c = strcmp (x->name, y->name);
    return c ? c : strcmp (x->value, y->value);
}

char *
hm_sharedkey_canonical_resource (const char *account, const char *path, const char *query)
{
    size_t cap = 1;
    if (!query)
        query = "";
    for (const char *p = query; *p; p++)
        cap += *p == '&';
    s_param_t *params = calloc (cap, sizeof *params);
    size_t n = 0;
    hm_buf_t out;
    hm_buf_init (&out, S_LIMIT);
    char *result = NULL;
    if (!params)
        return NULL;
    if (!path || !*path)
        path = "/";
    if (hm_buf_printf (&out, "/%s%s%s", account ? account : "", *path == '/' ? "" : "/", path) != 0)
        goto done;
    const char *p = query;
    while (*p) {
        size_t len = strcspn (p, "&");
        if (len > 0) {
            const char *eq = memchr (p, '=', len);
            size_t nlen = eq ? (size_t)(eq - p) : len;
            params[n].name = s_decode (p, nlen, true);
            params[n].value =
                eq ? s_decode (eq + 1, len - nlen - 1, false) : s_decode ("", 0, false);
            if (!params[n++].name || !params[n - 1].value)
                goto done;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    /* Sorting by (name, value) puts a repeated name's values in order, as
       the service wants them joined. */
    qsort (params, n, sizeof *params, s_param_cmp);
    for (size_t i = 0; i < n; i++) {
        bool same = i > 0 && strcmp (params[i].name, params[i - 1].name) == 0;
        if (same ? hm_buf_printf (&out, ",%s", params[i].value)
                 : hm_buf_printf (&out, "\n%s:%s", params[i].name, params[i].value))
            goto done;
    }
    result = hm_buf_steal (&out, NULL);
done:
    for (size_t i = 0; i < n; i++) {
        free (params[i].name);
        free (params[i].value);
    }
    free (params);
    hm_buf_free (&out);
    return result;
}

static const char *
s_header (const hm_sharedkey_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (req->headers[i].name && strcasecmp (req->headers[i].name, name) == 0)
            return req->headers[i].value ? req->headers[i].value : "";
    return NULL;
}

char *
hm_sharedkey_string_to_sign (const hm_sharedkey_request_t *req)
{
    hm_buf_t out;
    hm_buf_init (&out, S_LIMIT);
    char *headers = NULL, *resource = NULL, *result = NULL;
    bool ms_date = s_header (req, "x-ms-date") != NULL;
    if (hm_buf_printf (&out, "%s\n", req->method ? req->method : "") != 0)
        goto done;
    for (size_t i = 0; i < sizeof s_standard / sizeof *s_standard; i++) {
        const char *value = s_header (req, s_standard[i]);
        if (!value)
            value = "";
        /* Since 2015-02-21 a zero Content-Length is signed as empty; with
           x-ms-date present the Date field is left empty. */
        if (strcmp (s_standard[i], "Content-Length") == 0 && strcmp (value, "0") == 0)
            value = "";
        if (strcmp (s_standard[i], "Date") == 0 && ms_date)
            value = "";
        if (s_put_collapsed (&out, value) != 0 || hm_buf_putc (&out, '\n') != 0)
            goto done;
    }
    headers = hm_sharedkey_canonical_headers (req->headers, req->header_count);
    resource = hm_sharedkey_canonical_resource (req->account, req->path, req->query);
    if (!headers || !resource || hm_buf_puts (&out, headers) != 0 ||
        hm_buf_puts (&out, resource) != 0)
        goto done;
    result = hm_buf_steal (&out, NULL);
done:
    free (headers);
    free (resource);
    hm_buf_free (&out);
    return result;
}

int
hm_sharedkey_signature (const char *key_base64, const char *string_to_sign, char *out,
                        size_t outlen)
{
    size_t klen = key_base64 ? strlen (key_base64) : 0;
    uint8_t *key = malloc (klen * 3 / 4 + 3);
    uint8_t mac[32];
    unsigned int maclen = 0;
    int rc = -1;
    if (!key || outlen < 45)
        goto done;
    long keylen = hm_base64_decode (key_base64 ? key_base64 : "", klen, key);
    if (keylen <= 0)
        goto done;
    if (!HMAC (EVP_sha256 (), key, (int)keylen, (const unsigned char *)string_to_sign,
               strlen (string_to_sign), mac, &maclen) ||
        maclen != 32)
        goto done;
    hm_base64_encode (mac, 32, out);
    rc = 0;
done:
    if (key) {
        OPENSSL_cleanse (key, klen * 3 / 4 + 3);
        free (key);
    }
    return rc;
}

char *
hm_sharedkey_authorization (const hm_sharedkey_request_t *req, const char *key_base64)
{
    char sig[64];
    char *sts = hm_sharedkey_string_to_sign (req);
    hm_buf_t out;
    hm_buf_init (&out, S_LIMIT);
    char *result = NULL;
    if (sts && hm_sharedkey_signature (key_base64, sts, sig, sizeof sig) == 0 &&
        hm_buf_printf (&out, "SharedKey %s:%s", req->account ? req->account : "", sig) == 0)
        result = hm_buf_steal (&out, NULL);
    free (sts);
    hm_buf_free (&out);
    return result;
}
