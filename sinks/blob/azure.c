/*  azure: storage account resolution and Shared Key signed requests for
    the Blob and Queue sinks. See azure.h.

    Where a value comes from, in order: the route's section, then
    AZURE_STORAGE_CONNECTION_STRING, then the service's public default
    (https://ACCOUNT.SERVICE.core.windows.net). The connection string's key
    is only used for the account it names: a section naming another account
    must bring its own key rather than sign with a stranger's. */
#include "azure.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "digest.h"

/* The emulator's public development account (UseDevelopmentStorage=true). */
#define S_DEV_ACCOUNT "devstoreaccount1"
#define S_DEV_KEY                                                                                  \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

static char *
s_strndup (const char *s, size_t len)
{
    char *out = malloc (len + 1);
    if (out) {
        memcpy (out, s, len);
        out[len] = '\0';
    }
    return out;
}

/* --- connection strings ---------------------------------------------------- */

int
hm_azure_connection_parse (const char *text, hm_azure_connection_t *out, char *errbuf,
                           size_t errlen)
{
    memset (out, 0, sizeof *out);
    const char *p = text ? text : "";
    while (*p) {
        size_t len = strcspn (p, ";");
        const char *start = p, *end = p + len;
        while (start < end && isspace ((unsigned char)*start))
            start++;
        while (end > start && isspace ((unsigned char)end[-1]))
            end--;
        p += len;
        if (*p == ';')
            p++;
        if (start == end)
            continue; /* "a=b;;" and a trailing ';' are fine */
        const char *eq = memchr (start, '=', (size_t)(end - start));
        if (!eq || eq == start) {
            snprintf (errbuf, errlen, "connection string: \"%.*s\" is not Key=Value",
                      (int)(end - start > 40 ? 40 : end - start), start);
            hm_azure_connection_free (out);
            return -1;
        }
        size_t klen = (size_t)(eq - start);
        char **dst = NULL;
        static const struct {
            const char *name;
            size_t offset;
        } keys[] = {
            {"AccountName", offsetof (hm_azure_connection_t, account_name)},
            {"AccountKey", offsetof (hm_azure_connection_t, account_key)},
            {"BlobEndpoint", offsetof (hm_azure_connection_t, blob_endpoint)},
            {"QueueEndpoint", offsetof (hm_azure_connection_t, queue_endpoint)},
            {"DefaultEndpointsProtocol", offsetof (hm_azure_connection_t, protocol)},
            {"EndpointSuffix", offsetof (hm_azure_connection_t, suffix)},
        };
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
            if (strlen (keys[i].name) == klen && strncasecmp (start, keys[i].name, klen) == 0)
                dst = (char **)((char *)out + keys[i].offset);
        const char *value = eq + 1;
        size_t vlen = (size_t)(end - value);
        if (klen == 21 && strncasecmp (start, "UseDevelopmentStorage", klen) == 0)
            out->development = vlen == 4 && strncasecmp (value, "true", 4) == 0;
        /* Other keys (SharedAccessSignature, TableEndpoint, ...) are not ours. */
        if (!dst)
            continue;
        free (*dst);
        if (!(*dst = s_strndup (value, vlen))) {
            snprintf (errbuf, errlen, "out of memory");
            hm_azure_connection_free (out);
            return -1;
        }
    }
    return 0;
}

void
hm_azure_connection_free (hm_azure_connection_t *self)
{
    free (self->account_name);
    free (self->account_key);
    free (self->blob_endpoint);
    free (self->queue_endpoint);
    free (self->protocol);
    free (self->suffix);
    memset (self, 0, sizeof *self);
}

/* --- accounts -------------------------------------------------------------- */

int
hm_azure_endpoint_split (const char *url, hm_azure_account_t *acct)
{
    const char *rest;
    if (strncasecmp (url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncasecmp (url, "https://", 8) == 0)
        rest = url + 8;
    else
        return -1;
    if (strpbrk (url, "?# \t\r\n"))
        return -1;
    size_t host = strcspn (rest, "/");
    if (host == 0)
        return -1;
    const char *path = rest + host;
    size_t plen = strlen (path);
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    char *base = s_strndup (url, (size_t)(path - url));
    char *prefix = s_strndup (path, plen);
    if (!base || !prefix) {
        free (base);
        free (prefix);
        return -1;
    }
    free (acct->base);
    free (acct->prefix);
    acct->base = base;
    acct->prefix = prefix;
    return 0;
}

static bool
s_valid_key (const char *key)
{
    size_t len = strlen (key);
    uint8_t *raw = malloc (len * 3 / 4 + 3);
    if (!raw)
        return false;
    long n = hm_base64_decode (key, len, raw);
    free (raw);
    return n > 0;
}

int
hm_azure_account_resolve (hm_azure_account_t *acct, hm_azure_service_t service, const char *account,
                          const char *key, const char *endpoint, const char *connection_string,
                          const char *keypath, char *errbuf, size_t errlen)
{
    memset (acct, 0, sizeof *acct);
    hm_azure_connection_t cs;
    char reason[256];
    if (hm_azure_connection_parse (connection_string, &cs, reason, sizeof reason) != 0) {
        snprintf (errbuf, errlen, "AZURE_STORAGE_CONNECTION_STRING: %s", reason);
        return -1;
    }
    const char *cs_account = cs.account_name  ? cs.account_name
                             : cs.development ? S_DEV_ACCOUNT
                                              : NULL;
    const char *cs_key = cs.account_key ? cs.account_key : cs.development ? S_DEV_KEY : NULL;
    const char *cs_endpoint = service == HM_AZURE_BLOB ? cs.blob_endpoint : cs.queue_endpoint;
    if (!cs_endpoint && cs.development)
        cs_endpoint = service == HM_AZURE_BLOB ? "http://127.0.0.1:10000/" S_DEV_ACCOUNT
                                               : "http://127.0.0.1:10001/" S_DEV_ACCOUNT;
    bool section_account = account && *account;
    if (!section_account)
        account = cs_account;
    if (!key || !*key) {
        /* The connection string's key signs for its own account only. */
        if (!section_account || !cs_account || strcmp (cs_account, account) == 0)
            key = cs_key;
        else
            key = NULL;
    }
    if (!endpoint || !*endpoint)
        endpoint = cs_endpoint;

    int rc = -1;
    char url[1024];
    if (!account || !*account) {
        snprintf (errbuf, errlen,
                  "%s.account: missing (and AZURE_STORAGE_CONNECTION_STRING has no AccountName)",
                  keypath);
        goto done;
    }
    if (strspn (account, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen (account) ||
        strlen (account) > 64) {
        snprintf (errbuf, errlen, "%s.account: \"%s\" is not a storage account name ([a-z0-9])",
                  keypath, account);
        goto done;
    }
    if (!key || !*key) {
        snprintf (errbuf, errlen,
                  "%s.access_key: missing (and AZURE_STORAGE_CONNECTION_STRING has no AccountKey"
                  " for account %s)",
                  keypath, account);
        goto done;
    }
    if (!s_valid_key (key)) {
        snprintf (errbuf, errlen, "%s.access_key: not a base64 account key", keypath);
        goto done;
    }
    if (!endpoint || !*endpoint) {
        const char *proto = cs.protocol && *cs.protocol ? cs.protocol : "https";
        const char *suffix = cs.suffix && *cs.suffix ? cs.suffix : "core.windows.net";
        snprintf (url, sizeof url, "%s://%s.%s.%s", proto, account,
                  service == HM_AZURE_BLOB ? "blob" : "queue", suffix);
        endpoint = url;
    }
    if (hm_azure_endpoint_split (endpoint, acct) != 0) {
        snprintf (errbuf, errlen,
                  "%s.endpoint: \"%s\" is not an http:// or https:// URL without query", keypath,
                  endpoint);
        goto done;
    }
    acct->account = strdup (account);
    acct->key = strdup (key);
    if (!acct->account || !acct->key) {
        snprintf (errbuf, errlen, "out of memory");
        goto done;
    }
    rc = 0;
done:
    if (rc != 0)
        hm_azure_account_free (acct);
    hm_azure_connection_free (&cs);
    return rc;
}

void
hm_azure_account_free (hm_azure_account_t *self)
{
    free (self->account);
    if (self->key) {
        memset (self->key, 0, strlen (self->key));
        free (self->key);
    }
    free (self->base);
    free (self->prefix);
    memset (self, 0, sizeof *self);
}

bool
hm_azure_valid_name (const char *name)
{
    size_t len = strlen (name);
    if (len < 3 || len > 63 || name[0] == '-' || name[len - 1] == '-' || strstr (name, "--"))
        return false;
    return strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

/* --- URLs ------------------------------------------------------------------ */

static int
s_encode (hm_buf_t *out, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum (c) || c == '-' || c == '.' || c == '_' || c == '~' ||
            (keep_slash && c == '/')) {
            if (hm_buf_putc (out, (char)c) != 0)
                return -1;
        }
        else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            if (hm_buf_append (out, e, 3) != 0)
                return -1;
        }
    }
    return 0;
}

int
hm_azure_encode_path (hm_buf_t *out, const char *s)
{
    return s_encode (out, s, true);
}

int
hm_azure_encode_query (hm_buf_t *out, const char *s)
{
    return s_encode (out, s, false);
}

/* --- signed requests ------------------------------------------------------- */

void
hm_azure_md5_base64 (const void *data, size_t len, char out[25])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest (data, len, md, &n, EVP_md5 (), NULL) || n != 16) {
        out[0] = '\0';
        return;
    }
    hm_base64_encode (md, 16, out);
}

int
hm_azure_sign (const hm_azure_account_t *acct, const char *method, const char *path,
               const char *query, const hm_sharedkey_header_t *extra, size_t extra_count,
               const void *body, size_t body_len, bool content_md5, time_t now,
               hm_azure_signed_t *out)
{
    memset (out, 0, sizeof *out);
    if (extra_count > HM_AZURE_MAX_EXTRA)
        return -1;
    hm_sharedkey_date (now, out->date);
    snprintf (out->length, sizeof out->length, "%zu", body_len);
    size_t n = 0;
    out->headers[n++] = (hm_sharedkey_header_t){"x-ms-date", out->date};
    out->headers[n++] = (hm_sharedkey_header_t){"x-ms-version", HM_AZURE_VERSION};
    out->headers[n++] = (hm_sharedkey_header_t){"Content-Length", out->length};
    if (content_md5) {
        hm_azure_md5_base64 (body ? body : "", body_len, out->md5);
        out->headers[n++] = (hm_sharedkey_header_t){"Content-MD5", out->md5};
    }
    for (size_t i = 0; i < extra_count; i++)
        out->headers[n++] = extra[i];
    out->header_count = n;

    hm_buf_t buf;
    hm_buf_init (&buf, 0);
    if (hm_buf_printf (&buf, "%s%s", acct->prefix, path) != 0)
        goto fail;
    out->path = hm_buf_steal (&buf, NULL);
    if (!out->path || hm_buf_printf (&buf, "%s%s%s%s", acct->base, out->path, query ? "?" : "",
                                     query ? query : "") != 0)
        goto fail;
    out->url = hm_buf_steal (&buf, NULL);
    hm_sharedkey_request_t req = {method, acct->account, out->path, query, out->headers, n};
    out->authorization = hm_sharedkey_authorization (&req, acct->key);
    if (!out->url || !out->authorization)
        goto fail;
    return 0;
fail:
    hm_buf_free (&buf);
    hm_azure_signed_free (out);
    return -1;
}

void
hm_azure_signed_free (hm_azure_signed_t *self)
{
    free (self->url);
    free (self->path);
    free (self->authorization);
    self->url = self->path = self->authorization = NULL;
    self->header_count = 0;
}

hm_http_request_t *
hm_azure_request_new (const hm_azure_account_t *acct, const char *method, const char *path,
                      const char *query, const hm_sharedkey_header_t *extra, size_t extra_count,
                      const void *body, size_t body_len, bool content_md5, time_t now)
{
    hm_azure_signed_t s;
    if (hm_azure_sign (acct, method, path, query, extra, extra_count, body, body_len, content_md5,
                       now, &s) != 0)
        return NULL;
    hm_http_request_t *req = hm_http_request_new (method, s.url);
    int rc = req ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < s.header_count; i++)
        /* curl writes Content-Length from the body; a second copy would
           be a malformed request. */
        if (strcasecmp (s.headers[i].name, "Content-Length") != 0)
            rc = hm_http_request_header (req, s.headers[i].name, s.headers[i].value);
    if (rc == 0)
        rc = hm_http_request_header (req, "Authorization", s.authorization);
    if (rc == 0)
        rc = hm_http_request_copy_body (req, body ? body : "", body_len);
    hm_azure_signed_free (&s);
    if (rc != 0)
        hm_http_request_destroy (&req);
    return req;
}

/* --- many requests ---------------------------------------------------------- */

typedef struct {
    hm_azure_done_fn *done; /* the caller's callback */
    void *arg;              /* its argument */
    size_t index;           /* which request */
    bool *stop;             /* set when done asks to stop */
} s_call_t;

static void
s_on_done (const hm_http_response_t *response, void *arg)
{
    s_call_t *call = arg;
    if (call->done (call->arg, call->index, response) != 0)
        *call->stop = true;
    free (call);
}

int
hm_azure_run_all (hm_http_client_t **client_p, const hm_http_options_t *opts, size_t count,
                  hm_azure_make_fn *make, hm_azure_done_fn *done, void *arg)
{
    bool stop = false, broken = false;
    size_t next = 0;
    int rc = 0;
    if (!*client_p && !(*client_p = hm_http_client_new (opts)))
        return -1;
    while (!broken) {
        while (!stop && next < count && !hm_http_client_full (*client_p)) {
            hm_http_request_t *req = NULL;
            size_t index = next++;
            int made = make (arg, index, &req);
            if (made == 0)
                continue;
            s_call_t *call = made > 0 ? malloc (sizeof *call) : NULL;
            if (call) {
                *call = (s_call_t){done, arg, index, &stop};
                if (hm_http_client_submit (*client_p, &req, s_on_done, call) == 0)
                    continue;
            }
            free (call);
            hm_http_request_destroy (&req);
            stop = true;
            rc = -1;
        }
        if (hm_http_client_in_flight (*client_p) == 0)
            break;
        if (hm_http_client_run (*client_p, 100) < 0)
            broken = true;
    }
    if (broken) {
        /* Every request still in flight completes as aborted here. */
        hm_http_client_destroy (client_p);
        *client_p = hm_http_client_new (opts);
        rc = -1;
    }
    return rc;
}

int
hm_azure_section_string (const cJSON *section, const char *key, const char *keypath,
                         const char **out, char *errbuf, size_t errlen)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive (section, key);
    *out = NULL;
    if (!item || cJSON_IsNull (item))
        return 0;
    if (!cJSON_IsString (item)) {
        snprintf (errbuf, errlen, "%s.%s: must be a string", keypath, key);
        return -1;
    }
    *out = item->valuestring;
    return 0;
}

int
hm_azure_section_keys (const cJSON *section, const char *keypath, hm_azure_keys_t *out,
                       char *errbuf, size_t errlen)
{
    if (hm_azure_section_string (section, "account", keypath, &out->account, errbuf, errlen) ||
        hm_azure_section_string (section, "access_key", keypath, &out->key, errbuf, errlen) ||
        hm_azure_section_string (section, "endpoint", keypath, &out->endpoint, errbuf, errlen))
        return -1;
    return 0;
}

int
hm_azure_account_from_keys (hm_azure_account_t *acct, hm_azure_service_t service,
                            const hm_azure_keys_t *keys, const char *keypath, char *errbuf,
                            size_t errlen)
{
    return hm_azure_account_resolve (acct, service, keys->account, keys->key, keys->endpoint,
                                     getenv ("AZURE_STORAGE_CONNECTION_STRING"), keypath, errbuf,
                                     errlen);
}

int
hm_azure_check_name (const char *name, const char *keypath, const char *key, const char *kind,
                     char *errbuf, size_t errlen)
{
    if (name && hm_azure_valid_name (name))
        return 0;
    snprintf (errbuf, errlen,
              "%s.%s: %s%s%s%s%s (3-63 of a-z, 0-9 and '-', starting and ending with a letter or "
              "digit)",
              keypath, key, name ? "\"" : "missing", name ? name : "", name ? "\" is not a " : "",
              name ? kind : "", name ? " name" : "");
    return -1;
}
