/*  sigv4: AWS Signature Version 4 on OpenSSL. See sigv4.h.

    The steps follow the published algorithm literally, one function each,
    so a failing suite case points at the step that differs. Two choices
    are the caller's, as in the AWS SDKs: S3 signs the path as sent (only
    re-encoded to a canonical form), every other service normalises it and
    encodes it a second time. */
#include "sigv4.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "digest.h"

#define S_ALGORITHM "AWS4-HMAC-SHA256"
/* Signed strings are small; a bound keeps a hostile path or header from
   growing a buffer without limit. */
#define S_LIMIT (16u * 1024 * 1024)

static const char s_hex[] = "0123456789ABCDEF";

hm_sigv4_options_t
hm_sigv4_options_s3 (void)
{
    hm_sigv4_options_t opts = {false, false, true, false};
    return opts;
}

hm_sigv4_options_t
hm_sigv4_options_default (void)
{
    hm_sigv4_options_t opts = {true, true, false, false};
    return opts;
}

void
hm_sigv4_amz_date (time_t t, char out[17])
{
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

int
hm_sigv4_check_amz_date (const char *amz_date)
{
    if (!amz_date || strlen (amz_date) != 16 || amz_date[8] != 'T' || amz_date[15] != 'Z')
        return -1;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit ((unsigned char)amz_date[i]))
            return -1;
    return 0;
}

static bool
s_unreserved (unsigned char c)
{
    return isalnum (c) || c == '-' || c == '.' || c == '_' || c == '~';
}

int
hm_sigv4_uri_encode (hm_buf_t *out, const char *s, size_t len, bool keep_slash)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (s_unreserved (c) || (keep_slash && c == '/')) {
            if (hm_buf_putc (out, (char)c) != 0)
                return -1;
        }
        else {
            char enc[3] = {'%', s_hex[c >> 4], s_hex[c & 15]};
            if (hm_buf_append (out, enc, 3) != 0)
                return -1;
        }
    }
    return 0;
}

static int
s_hexval (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decoding; a '%' not followed by two hex digits stays literal
   (and is encoded as %25 afterwards). '+' is not a space in SigV4. */
static int
s_uri_decode (hm_buf_t *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < len) {
            int hi = s_hexval (s[i + 1]);
            int lo = s_hexval (s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                c = (char)(hi * 16 + lo);
                i += 2;
            }
        }
        if (hm_buf_putc (out, c) != 0)
            return -1;
    }
    return 0;
}

/* RFC 3986 remove_dot_segments, plus empty segments ("//") dropped, as
   AWS normalises paths for every service but S3. */
static int
s_normalize_path (hm_buf_t *out, const char *path)
{
    size_t cap = strlen (path) / 2 + 2;
    size_t *starts = malloc (cap * sizeof *starts); /* where each kept segment begins */
    size_t depth = 0;
    bool trailing = false;
    int rc = -1;
    if (!starts)
        return -1;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *seg = p;
        while (*p && *p != '/')
            p++;
        size_t seglen = (size_t)(p - seg);
        if (seglen == 0)
            break;
        if (seglen == 1 && seg[0] == '.') {
            trailing = true;
            continue;
        }
        if (seglen == 2 && seg[0] == '.' && seg[1] == '.') {
            if (depth > 0) {
                out->len = starts[--depth];
                out->data[out->len] = '\0';
            }
            trailing = true;
            continue;
        }
        if (depth < cap)
            starts[depth++] = out->len;
        if (hm_buf_putc (out, '/') != 0 || hm_buf_append (out, seg, seglen) != 0)
            goto done;
        trailing = *p == '/';
    }
    if (out->len == 0 || trailing)
        if (hm_buf_putc (out, '/') != 0)
            goto done;
    rc = 0;
done:
    free (starts);
    return rc;
}

char *
hm_sigv4_canonical_uri (const char *path, bool normalize, bool double_encode)
{
    hm_buf_t norm, plain, out;
    hm_buf_init (&norm, S_LIMIT);
    hm_buf_init (&plain, S_LIMIT);
    hm_buf_init (&out, S_LIMIT);
    char *result = NULL;
    if (!path || !*path)
        path = "/";
    if (normalize ? s_normalize_path (&norm, path) : hm_buf_puts (&norm, path))
        goto done;
    if (double_encode) {
        if (hm_sigv4_uri_encode (&out, norm.data, norm.len, true) != 0)
            goto done;
    }
    else if (s_uri_decode (&plain, norm.data, norm.len) != 0 ||
             hm_sigv4_uri_encode (&out, plain.data ? plain.data : "", plain.len, true) != 0)
        goto done;
    if (out.len == 0 && hm_buf_putc (&out, '/') != 0)
        goto done;
    result = hm_buf_steal (&out, NULL);
done:
    hm_buf_free (&norm);
    hm_buf_free (&plain);
    hm_buf_free (&out);
    return result;
}

typedef struct {
    char *key;   /* encoded name */
    char *value; /* encoded value */
} s_param_t;

static int
s_param_cmp (const void *a, const void *b)
{
    const s_param_t *x = a, *y = b;
    int c = strcmp (x->key, y->key);
    return c ? c : strcmp (x->value, y->value);
}

/* Decodes then re-encodes one name or value, so that "%E1%88%B4" and the
   raw UTF-8 bytes both come out as "%E1%88%B4". */
static char *
s_reencode (const char *s, size_t len)
{
    hm_buf_t plain, out;
    hm_buf_init (&plain, S_LIMIT);
    hm_buf_init (&out, S_LIMIT);
    char *result = NULL;
    if (s_uri_decode (&plain, s, len) == 0 &&
        hm_sigv4_uri_encode (&out, plain.data ? plain.data : "", plain.len, false) == 0 &&
        hm_buf_puts (&out, "") == 0)
        result = hm_buf_steal (&out, NULL);
    hm_buf_free (&plain);
    hm_buf_free (&out);
    return result;
}

char *
hm_sigv4_canonical_query (const char *query)
{
    if (!query)
        query = "";
    size_t cap = 1;
    for (const char *p = query; *p; p++)
        cap += *p == '&';
    s_param_t *params = calloc (cap, sizeof *params);
    size_t count = 0;
    char *result = NULL;
    hm_buf_t out;
    hm_buf_init (&out, S_LIMIT);
    if (!params)
        return NULL;
    const char *p = query;
    while (*p) {
        const char *end = strchr (p, '&');
        size_t len = end ? (size_t)(end - p) : strlen (p);
        if (len > 0) {
            const char *eq = memchr (p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            params[count].key = s_reencode (p, klen);
            params[count].value = eq ? s_reencode (eq + 1, len - klen - 1) : s_reencode ("", 0);
            count++;
            if (!params[count - 1].key || !params[count - 1].value)
                goto done;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    qsort (params, count, sizeof *params, s_param_cmp);
    if (hm_buf_puts (&out, "") != 0)
        goto done;
    for (size_t i = 0; i < count; i++)
        if (hm_buf_printf (&out, "%s%s=%s", i ? "&" : "", params[i].key, params[i].value) != 0)
            goto done;
    result = hm_buf_steal (&out, NULL);
done:
    for (size_t i = 0; i < count; i++) {
        free (params[i].key);
        free (params[i].value);
    }
    free (params);
    hm_buf_free (&out);
    return result;
}

typedef struct {
    char *name;   /* lowercased, trimmed */
    char *value;  /* trimmed, white space runs made one space */
    size_t index; /* position in the request, to keep repeated headers in order */
} s_header_t;

static int
s_header_cmp (const void *a, const void *b)
{
    const s_header_t *x = a, *y = b;
    int c = strcmp (x->name, y->name);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

static bool
s_space (char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Trims and collapses white space. Folded header lines arrive as "\n" plus
   indentation inside the value and become one space, as the suite wants. */
static char *
s_trim_collapse (const char *s, bool lower)
{
    size_t len = strlen (s);
    char *out = malloc (len + 1);
    size_t n = 0;
    bool pending = false;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s_space (s[i])) {
            pending = n > 0;
            continue;
        }
        if (pending)
            out[n++] = ' ';
        pending = false;
        out[n++] = lower ? (char)tolower ((unsigned char)s[i]) : s[i];
    }
    out[n] = '\0';
    return out;
}

int
hm_sigv4_canonical_headers (const hm_sigv4_header_t *headers, size_t count, char **canonical_p,
                            char **signed_p)
{
    s_header_t *list = calloc (count ? count : 1, sizeof *list);
    hm_buf_t canon, names;
    hm_buf_init (&canon, S_LIMIT);
    hm_buf_init (&names, S_LIMIT);
    int rc = -1;
    *canonical_p = *signed_p = NULL;
    if (!list)
        return -1;
    for (size_t i = 0; i < count; i++) {
        list[i].name = s_trim_collapse (headers[i].name ? headers[i].name : "", true);
        list[i].value = s_trim_collapse (headers[i].value ? headers[i].value : "", false);
        list[i].index = i;
        if (!list[i].name || !list[i].value)
            goto done;
    }
    qsort (list, count, sizeof *list, s_header_cmp);
    if (hm_buf_puts (&canon, "") != 0 || hm_buf_puts (&names, "") != 0)
        goto done;
    for (size_t i = 0; i < count; i++) {
        bool same = i > 0 && strcmp (list[i].name, list[i - 1].name) == 0;
        if (same) {
            if (hm_buf_printf (&canon, ",%s", list[i].value) != 0)
                goto done;
            continue;
        }
        if ((i > 0 && hm_buf_puts (&canon, "\n") != 0) ||
            hm_buf_printf (&canon, "%s:%s", list[i].name, list[i].value) != 0 ||
            hm_buf_printf (&names, "%s%s", names.len ? ";" : "", list[i].name) != 0)
            goto done;
    }
    if (count > 0 && hm_buf_puts (&canon, "\n") != 0)
        goto done;
    *canonical_p = hm_buf_steal (&canon, NULL);
    *signed_p = hm_buf_steal (&names, NULL);
    rc = 0;
done:
    for (size_t i = 0; i < count; i++) {
        free (list[i].name);
        free (list[i].value);
    }
    free (list);
    hm_buf_free (&canon);
    hm_buf_free (&names);
    return rc;
}

char *
hm_sigv4_canonical_request (const char *method, const char *canonical_uri,
                            const char *canonical_query, const char *canonical_headers,
                            const char *signed_headers, const char *payload_hash)
{
    hm_buf_t out;
    hm_buf_init (&out, S_LIMIT);
    /* canonical_headers ends with its own "\n", hence the blank line. */
    if (hm_buf_printf (&out, "%s\n%s\n%s\n%s\n%s\n%s", method, canonical_uri, canonical_query,
                       canonical_headers, signed_headers, payload_hash) != 0) {
        hm_buf_free (&out);
        return NULL;
    }
    return hm_buf_steal (&out, NULL);
}

char *
hm_sigv4_scope (const char *amz_date, const char *region, const char *service)
{
    hm_buf_t out;
    hm_buf_init (&out, S_LIMIT);
    if (hm_buf_printf (&out, "%.8s/%s/%s/aws4_request", amz_date, region, service) != 0) {
        hm_buf_free (&out);
        return NULL;
    }
    return hm_buf_steal (&out, NULL);
}

char *
hm_sigv4_string_to_sign (const char *amz_date, const char *scope, const char *canonical_request)
{
    char hash[65];
    hm_sha256_hex (canonical_request, strlen (canonical_request), hash);
    hm_buf_t out;
    hm_buf_init (&out, S_LIMIT);
    if (hm_buf_printf (&out, S_ALGORITHM "\n%s\n%s\n%s", amz_date, scope, hash) != 0) {
        hm_buf_free (&out);
        return NULL;
    }
    return hm_buf_steal (&out, NULL);
}

static int
s_hmac (const void *key, size_t keylen, const void *data, size_t len, uint8_t out[32])
{
    unsigned int outlen = 0;
    if (!HMAC (EVP_sha256 (), key, (int)keylen, data, len, out, &outlen) || outlen != 32)
        return -1;
    return 0;
}

int
hm_sigv4_signing_key (const char *secret, const char *amz_date, const char *region,
                      const char *service, uint8_t key[32])
{
    size_t slen = strlen (secret);
    char *k = malloc (slen + 5);
    uint8_t step[32];
    int rc = -1;
    if (!k)
        return -1;
    memcpy (k, "AWS4", 4);
    memcpy (k + 4, secret, slen + 1);
    if (s_hmac (k, slen + 4, amz_date, 8, step) == 0 &&
        s_hmac (step, 32, region, strlen (region), step) == 0 &&
        s_hmac (step, 32, service, strlen (service), step) == 0 &&
        s_hmac (step, 32, "aws4_request", 12, key) == 0)
        rc = 0;
    OPENSSL_cleanse (k, slen + 4);
    OPENSSL_cleanse (step, sizeof step);
    free (k);
    return rc;
}

int
hm_sigv4_signature (const uint8_t key[32], const char *string_to_sign, char out[65])
{
    uint8_t mac[32];
    static const char lower[] = "0123456789abcdef";
    if (s_hmac (key, 32, string_to_sign, strlen (string_to_sign), mac) != 0)
        return -1;
    for (int i = 0; i < 32; i++) {
        out[2 * i] = lower[mac[i] >> 4];
        out[2 * i + 1] = lower[mac[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

char *
hm_sigv4_authorization (const char *access_key_id, const char *scope, const char *signed_headers,
                        const char *signature)
{
    hm_buf_t out;
    hm_buf_init (&out, S_LIMIT);
    if (hm_buf_printf (&out, S_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                       access_key_id, scope, signed_headers, signature) != 0) {
        hm_buf_free (&out);
        return NULL;
    }
    return hm_buf_steal (&out, NULL);
}

void
hm_sigv4_result_free (hm_sigv4_result_t *result)
{
    free (result->canonical_request);
    free (result->string_to_sign);
    free (result->authorization);
    free (result->presigned_query);
    memset (result, 0, sizeof *result);
}

static const char *s_signer_headers[] = {"authorization", "x-amz-date", "x-amz-security-token",
                                         "x-amz-content-sha256"};

/* Checks what both signing modes need and fills the result's date and
   payload hash. */
static int
s_prepare (const hm_sigv4_request_t *req, const hm_aws_credentials_t *cred, const char *amz_date,
           hm_sigv4_result_t *result, char *errbuf, size_t errlen)
{
    memset (result, 0, sizeof *result);
    if (hm_sigv4_check_amz_date (amz_date) != 0) {
        snprintf (errbuf, errlen, "amz date '%s' is not YYYYMMDDTHHMMSSZ",
                  amz_date ? amz_date : "");
        return -1;
    }
    if (!cred || !cred->access_key_id || !cred->secret_access_key || !cred->region ||
        !cred->service || !*cred->access_key_id || !*cred->region || !*cred->service) {
        snprintf (errbuf, errlen, "incomplete AWS credentials");
        return -1;
    }
    if (!req->method || !*req->method || (req->header_count && !req->headers)) {
        snprintf (errbuf, errlen, "request without method or headers");
        return -1;
    }
    for (size_t i = 0; i < req->header_count; i++)
        for (size_t j = 0; j < sizeof s_signer_headers / sizeof *s_signer_headers; j++)
            if (req->headers[i].name &&
                strcasecmp (req->headers[i].name, s_signer_headers[j]) == 0) {
                snprintf (errbuf, errlen, "header %s is the signer's to add", req->headers[i].name);
                return -1;
            }
    memcpy (result->amz_date, amz_date, 17);
    if (req->payload_hash) {
        if (strlen (req->payload_hash) > 64) {
            snprintf (errbuf, errlen, "payload hash too long");
            return -1;
        }
        strcpy (result->payload_hash, req->payload_hash);
    }
    else
        hm_sha256_hex (req->body ? req->body : "", req->body ? req->body_len : 0,
                       result->payload_hash);
    return 0;
}

/* Steps 2 to 4 from a canonical request already in result. */
static int
s_finish (const hm_aws_credentials_t *cred, hm_sigv4_result_t *result, const char *scope)
{
    uint8_t key[32];
    result->string_to_sign =
        hm_sigv4_string_to_sign (result->amz_date, scope, result->canonical_request);
    if (!result->string_to_sign || hm_sigv4_signing_key (cred->secret_access_key, result->amz_date,
                                                         cred->region, cred->service, key) != 0)
        return -1;
    int rc = hm_sigv4_signature (key, result->string_to_sign, result->signature);
    OPENSSL_cleanse (key, sizeof key);
    return rc;
}

int
hm_sigv4_sign (const hm_sigv4_request_t *req, const hm_aws_credentials_t *cred,
               const char *amz_date, const hm_sigv4_options_t *opts, hm_sigv4_result_t *result,
               char *errbuf, size_t errlen)
{
    if (s_prepare (req, cred, amz_date, result, errbuf, errlen) != 0)
        return -1;
    bool token = cred->session_token && *cred->session_token;
    hm_sigv4_header_t *all = calloc (req->header_count + 3, sizeof *all);
    char *uri = NULL, *query = NULL, *canon = NULL, *names = NULL, *scope = NULL;
    int rc = -1;
    if (!all)
        goto done;
    size_t n = 0;
    for (size_t i = 0; i < req->header_count; i++)
        all[n++] = req->headers[i];
    /* The order of added matches what the suite's signed requests show. */
    if (token) {
        hm_sigv4_header_t h = {"X-Amz-Security-Token", cred->session_token};
        result->added[result->added_count++] = h;
        if (!opts->omit_session_token)
            all[n++] = h;
    }
    hm_sigv4_header_t date = {"X-Amz-Date", result->amz_date};
    result->added[result->added_count++] = date;
    all[n++] = date;
    if (opts->content_sha256) {
        hm_sigv4_header_t h = {"x-amz-content-sha256", result->payload_hash};
        result->added[result->added_count++] = h;
        all[n++] = h;
    }
    uri = hm_sigv4_canonical_uri (req->path, opts->normalize_path, opts->double_encode);
    query = hm_sigv4_canonical_query (req->query);
    scope = hm_sigv4_scope (amz_date, cred->region, cred->service);
    if (!uri || !query || !scope || hm_sigv4_canonical_headers (all, n, &canon, &names) != 0)
        goto done;
    result->canonical_request =
        hm_sigv4_canonical_request (req->method, uri, query, canon, names, result->payload_hash);
    if (!result->canonical_request || s_finish (cred, result, scope) != 0)
        goto done;
    result->authorization =
        hm_sigv4_authorization (cred->access_key_id, scope, names, result->signature);
    if (!result->authorization)
        goto done;
    hm_sigv4_header_t authz = {"Authorization", result->authorization};
    result->added[result->added_count++] = authz;
    rc = 0;
done:
    if (rc != 0)
        snprintf (errbuf, errlen, "signing failed (out of memory or OpenSSL error)");
    free (all);
    free (uri);
    free (query);
    free (canon);
    free (names);
    free (scope);
    return rc;
}

int
hm_sigv4_presign (const hm_sigv4_request_t *req, const hm_aws_credentials_t *cred,
                  const char *amz_date, long expires_s, const hm_sigv4_options_t *opts,
                  hm_sigv4_result_t *result, char *errbuf, size_t errlen)
{
    if (s_prepare (req, cred, amz_date, result, errbuf, errlen) != 0)
        return -1;
    bool token = cred->session_token && *cred->session_token;
    char *uri = NULL, *query = NULL, *canon = NULL, *names = NULL, *scope = NULL;
    hm_buf_t wire, tok, canon_src;
    hm_buf_init (&wire, S_LIMIT);
    hm_buf_init (&tok, S_LIMIT);
    hm_buf_init (&canon_src, S_LIMIT);
    int rc = -1;
    uri = hm_sigv4_canonical_uri (req->path, opts->normalize_path, opts->double_encode);
    scope = hm_sigv4_scope (amz_date, cred->region, cred->service);
    if (!uri || !scope ||
        hm_sigv4_canonical_headers (req->headers, req->header_count, &canon, &names) != 0)
        goto done;
    /* The X-Amz-* parameters follow the request's own, in the order the
       SDKs write them; the canonical query sorts them anyway. */
    if (hm_buf_puts (&wire, req->query ? req->query : "") != 0 ||
        hm_buf_printf (
            &wire, "%sX-Amz-Algorithm=" S_ALGORITHM "&X-Amz-Credential=", wire.len ? "&" : "") != 0)
        goto done;
    if (hm_sigv4_uri_encode (&wire, cred->access_key_id, strlen (cred->access_key_id), false) !=
            0 ||
        hm_buf_puts (&wire, "%2F") != 0 ||
        hm_sigv4_uri_encode (&wire, scope, strlen (scope), false) != 0 ||
        hm_buf_printf (&wire, "&X-Amz-Date=%s&X-Amz-SignedHeaders=", amz_date) != 0 ||
        hm_sigv4_uri_encode (&wire, names, strlen (names), false) != 0 ||
        hm_buf_printf (&wire, "&X-Amz-Expires=%ld", expires_s) != 0)
        goto done;
    if (token &&
        (hm_buf_puts (&tok, "&X-Amz-Security-Token=") != 0 ||
         hm_sigv4_uri_encode (&tok, cred->session_token, strlen (cred->session_token), false) != 0))
        goto done;
    if (hm_buf_append (&canon_src, wire.data, wire.len) != 0 ||
        (token && !opts->omit_session_token && hm_buf_append (&canon_src, tok.data, tok.len) != 0))
        goto done;
    query = hm_sigv4_canonical_query (canon_src.data);
    if (!query)
        goto done;
    result->canonical_request =
        hm_sigv4_canonical_request (req->method, uri, query, canon, names, result->payload_hash);
    if (!result->canonical_request || s_finish (cred, result, scope) != 0)
        goto done;
    if ((token && hm_buf_append (&wire, tok.data, tok.len) != 0) ||
        hm_buf_printf (&wire, "&X-Amz-Signature=%s", result->signature) != 0)
        goto done;
    result->presigned_query = hm_buf_steal (&wire, NULL);
    rc = 0;
done:
    if (rc != 0)
        snprintf (errbuf, errlen, "presigning failed (out of memory or OpenSSL error)");
    free (uri);
    free (query);
    free (canon);
    free (names);
    free (scope);
    hm_buf_free (&wire);
    hm_buf_free (&tok);
    hm_buf_free (&canon_src);
    return rc;
}
