/*  azure: what the Azure Blob and Queue sinks share: the storage account
    (name, key, service endpoint) from a route's section or from
    AZURE_STORAGE_CONNECTION_STRING, and requests signed with Shared Key.

    An endpoint is the service URL as a connection string writes it:
    "https://ACCOUNT.blob.core.windows.net" for the cloud, or an emulator's
    path-style "http://127.0.0.1:10000/devstoreaccount1", whose path
    becomes the prefix of every request path (and so appears in the signed
    canonicalized resource after the account: the account twice). */
#ifndef HM_AZURE_H
#define HM_AZURE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "hm_buf.h"
#include "http_client.h"
#include "sharedkey.h"

/* The REST version we speak; azurite 3.37 knows it, the cloud since 2021. */
#define HM_AZURE_VERSION "2021-12-02"
/* Extra headers one request may carry beyond x-ms-date, x-ms-version,
   Content-Length and Content-MD5. */
#define HM_AZURE_MAX_EXTRA 8
#define HM_AZURE_MAX_HEADERS (HM_AZURE_MAX_EXTRA + 4)

typedef enum { HM_AZURE_BLOB = 0, HM_AZURE_QUEUE = 1 } hm_azure_service_t;

/* A storage account and where its service answers. */
typedef struct {
    char *account; /* account name */
    char *key;     /* base64 account key */
    char *base;    /* "scheme://host[:port]", no trailing '/' */
    char *prefix;  /* path of the endpoint, "" or "/devstoreaccount1" (no trailing '/') */
} hm_azure_account_t;

/* The fields of a connection string we use; NULL when absent. */
typedef struct {
    char *account_name;   /* AccountName */
    char *account_key;    /* AccountKey */
    char *blob_endpoint;  /* BlobEndpoint */
    char *queue_endpoint; /* QueueEndpoint */
    char *protocol;       /* DefaultEndpointsProtocol */
    char *suffix;         /* EndpointSuffix */
    bool development;     /* UseDevelopmentStorage=true */
} hm_azure_connection_t;

/* Parses "Key=Value;Key=Value" (keys case-insensitive, a value may hold
   '='). 0, or -1 with the reason in errbuf. Free with _connection_free. */
int hm_azure_connection_parse (const char *text, hm_azure_connection_t *out, char *errbuf,
                               size_t errlen);
void hm_azure_connection_free (hm_azure_connection_t *self);

/* Splits an endpoint URL into base and prefix. 0, or -1 (not http(s)://,
   a query or fragment). */
int hm_azure_endpoint_split (const char *url, hm_azure_account_t *acct);

/* Fills acct from the section's values (any may be NULL) and, for what
   they lack, the connection string text (may be NULL); errors name
   keypath ("routes.x.abs"). 0, or -1 with the reason in errbuf. */
int hm_azure_account_resolve (hm_azure_account_t *acct, hm_azure_service_t service,
                              const char *account, const char *key, const char *endpoint,
                              const char *connection_string, const char *keypath, char *errbuf,
                              size_t errlen);
void hm_azure_account_free (hm_azure_account_t *self);

/* Container and queue names: 3-63 of [a-z0-9-], starting and ending with
   a letter or digit, no "--". */
bool hm_azure_valid_name (const char *name);

/* Appends s percent-encoded for a URL path, '/' kept. 0 / -1. */
int hm_azure_encode_path (hm_buf_t *out, const char *s);
/* Appends s percent-encoded for a query value. 0 / -1. */
int hm_azure_encode_query (hm_buf_t *out, const char *s);

/* One signed request, before it becomes an HTTP request. */
typedef struct {
    char *url;                                           /* full URL (owned) */
    char *path;                                          /* path as sent (owned) */
    char *authorization;                                 /* "SharedKey account:sig" (owned) */
    hm_sharedkey_header_t headers[HM_AZURE_MAX_HEADERS]; /* sent and signed, without
                                                           Authorization */
    size_t header_count;                                 /* entries in headers */
    char date[30];                                       /* x-ms-date value */
    char length[24];                                     /* Content-Length value */
    char md5[32];                                        /* Content-MD5 value, "" if not sent */
} hm_azure_signed_t;

/* Signs method path?query (path relative to the endpoint, already
   encoded, starting with '/') with extra headers (values must outlive
   out), x-ms-date at now, x-ms-version, Content-Length of the body and,
   when content_md5, Content-MD5. 0, or -1 (bad key, too many headers, out
   of memory). Free with hm_azure_signed_free. */
int hm_azure_sign (const hm_azure_account_t *acct, const char *method, const char *path,
                   const char *query, const hm_sharedkey_header_t *extra, size_t extra_count,
                   const void *body, size_t body_len, bool content_md5, time_t now,
                   hm_azure_signed_t *out);
void hm_azure_signed_free (hm_azure_signed_t *self);

/* The same as an HTTP request with a copy of the body, ready to submit
   (Content-Length is written by curl from the body's length), or NULL. */
hm_http_request_t *hm_azure_request_new (const hm_azure_account_t *acct, const char *method,
                                         const char *path, const char *query,
                                         const hm_sharedkey_header_t *extra, size_t extra_count,
                                         const void *body, size_t body_len, bool content_md5,
                                         time_t now);

/* base64 MD5 of data; out holds 25 bytes. */
void hm_azure_md5_base64 (const void *data, size_t len, char out[25]);

/* Runs requests 0..count-1 on *client_p, as many at once as the client
   takes. make (arg, i, &req) gives request i (1), skips it (0) or fails
   (-1: stop submitting); done (arg, i, response) sees each answer and
   returns non-zero to stop submitting more (a RETRY: the rest would fail
   the same way). Returns once nothing is in flight: 0, or -1 when make
   failed or curl's multi handle broke (then the client is destroyed, its
   requests completed as aborted, and *client_p recreated from opts). */
typedef int (hm_azure_make_fn) (void *arg, size_t index, hm_http_request_t **request_p);
typedef int (hm_azure_done_fn) (void *arg, size_t index, const hm_http_response_t *response);
int hm_azure_run_all (hm_http_client_t **client_p, const hm_http_options_t *opts, size_t count,
                      hm_azure_make_fn *make, hm_azure_done_fn *done, void *arg);

/* Reads the string key of a route's section (JSON object): *out points
   into section, or stays NULL when absent. 0, or -1 (not a string) with
   "keypath.key: must be a string" in errbuf. */
struct cJSON;
int hm_azure_section_string (const struct cJSON *section, const char *key, const char *keypath,
                             const char **out, char *errbuf, size_t errlen);
/* The account keys of a route's section, as read: each points into the
   section, NULL when absent. */
typedef struct {
    const char *account;  /* "account" */
    const char *key;      /* "access_key" */
    const char *endpoint; /* "endpoint" */
} hm_azure_keys_t;
/* Reads them with hm_azure_section_string: 0, or -1 with the first
   that is not a string in errbuf. Read before the sink's own keys, so
   errors come in the same order for the Blob and Queue sinks. */
int hm_azure_section_keys (const struct cJSON *section, const char *keypath, hm_azure_keys_t *out,
                           char *errbuf, size_t errlen);
/* hm_azure_account_resolve of keys, with AZURE_STORAGE_CONNECTION_STRING
   from the environment for what they lack. */
int hm_azure_account_from_keys (hm_azure_account_t *acct, hm_azure_service_t service,
                                const hm_azure_keys_t *keys, const char *keypath, char *errbuf,
                                size_t errlen);
/* Checks the required container or queue name read from keypath.key
   (NULL: missing) with hm_azure_valid_name. 0, or -1 with "keypath.key: ..."
   in errbuf; kind ("container", "queue") names the thing in that error.
   Separate from the reading so a section's type errors, reported as the
   keys are read, still come first. */
int hm_azure_check_name (const char *name, const char *keypath, const char *key, const char *kind,
                         char *errbuf, size_t errlen);

#endif
