/*  sharedkey: Azure Storage Shared Key authorization (Blob and Queue
    services, version 2009-09-19 and later), as pure functions.

    string to sign = VERB, the eleven standard headers (Content-Length
    empty when 0), the canonicalized x-ms- headers, the canonicalized
    resource; signature = base64 (HMAC-SHA256 (base64-decoded account key,
    string to sign)); header "SharedKey account:signature". The clock is a
    parameter: the caller puts x-ms-date among the headers (see
    hm_sharedkey_date). Strings returned as char * are the caller's to free. */
#ifndef HM_SHAREDKEY_H
#define HM_SHAREDKEY_H

#include <stddef.h>
#include <time.h>

/* One request header, as it will be sent. */
typedef struct {
    const char *name;  /* any case */
    const char *value; /* as sent */
} hm_sharedkey_header_t;

typedef struct {
    const char *method;                   /* "PUT", "POST", ... */
    const char *account;                  /* the storage account that owns the key */
    const char *path;                     /* URL path as sent (encoded), e.g. "/container/blob" */
    const char *query;                    /* query as sent without '?', or NULL */
    const hm_sharedkey_header_t *headers; /* every header sent, x-ms-date and x-ms-version too */
    size_t header_count;                  /* entries in headers */
} hm_sharedkey_request_t;

/* RFC 1123 date for x-ms-date: "Sun, 11 Oct 2009 21:49:13 GMT"; out holds 30 bytes. */
void hm_sharedkey_date (time_t t, char out[30]);

/* "x-ms-name:value\n" for every x-ms- header: names lowercased, sorted,
   values trimmed with white space runs made one space, repeats joined with ','. */
char *hm_sharedkey_canonical_headers (const hm_sharedkey_header_t *headers, size_t count);
/* "/account/path" then "\nname:value" per query parameter, names lowercased
   and sorted, values decoded, repeated names' values sorted and joined with
   ','. For an emulator's path-style URL the path starts with the account
   itself, so it appears twice ("/devstoreaccount1/devstoreaccount1/c/b"). */
char *hm_sharedkey_canonical_resource (const char *account, const char *path, const char *query);
char *hm_sharedkey_string_to_sign (const hm_sharedkey_request_t *req);
/* base64 HMAC-SHA256 of string_to_sign with the base64 account key; out
   holds at least 45 bytes. 0, or -1 when the key is not valid base64. */
int hm_sharedkey_signature (const char *key_base64, const char *string_to_sign, char *out,
                            size_t outlen);
/* The Authorization header value for req, or NULL (bad key, out of memory). */
char *hm_sharedkey_authorization (const hm_sharedkey_request_t *req, const char *key_base64);

#endif
