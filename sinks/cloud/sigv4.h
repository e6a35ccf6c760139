/*  sigv4: AWS Signature Version 4, one pure function per step.

    canonical URI, canonical query, canonical headers + signed headers,
    canonical request, credential scope, string to sign, signing key,
    signature, Authorization header. hm_sigv4_sign and hm_sigv4_presign
    chain the steps for a whole request. Nothing here reads a clock, the
    environment or a file: the time ("YYYYMMDDTHHMMSSZ") and the
    credentials are parameters, so every step is tested against the
    published AWS test suite (tests/data/aws-sigv4).

    Strings returned as char * are the caller's to free. */
#ifndef HM_SIGV4_H
#define HM_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "hm_buf.h"

/* One request header, as it will be sent. */
typedef struct {
    const char *name;  /* any case; compared case-insensitively */
    const char *value; /* raw; folded lines and runs of white space are allowed */
} hm_sigv4_header_t;

typedef struct {
    const char *access_key_id;     /* AKID... */
    const char *secret_access_key; /* the secret */
    const char *session_token;     /* temporary credentials' token, NULL or "" for none */
    const char *region;            /* "us-east-1" */
    const char *service;           /* "s3", "sns", ... */
} hm_aws_credentials_t;

/* The request to sign. The signer adds its own headers (see result->added);
   the caller must not pass Authorization, X-Amz-Date or X-Amz-Security-Token. */
typedef struct {
    const char *method;               /* "GET", "PUT", ... */
    const char *path;                 /* the path as sent (percent-encoded), no query */
    const char *query;                /* the query as sent, without '?'; NULL for none */
    const hm_sigv4_header_t *headers; /* headers to sign; Host must be among them */
    size_t header_count;              /* entries in headers */
    const void *body;                 /* payload, or NULL */
    size_t body_len;                  /* bytes in body */
    const char *payload_hash;         /* NULL: hex sha256 of body; else e.g. "UNSIGNED-PAYLOAD" */
} hm_sigv4_request_t;

typedef struct {
    bool normalize_path;     /* remove "." / ".." and empty segments (every service but S3) */
    bool double_encode;      /* encode the sent path once more (every service but S3) */
    bool content_sha256;     /* add and sign x-amz-content-sha256 (S3 wants it) */
    bool omit_session_token; /* send the token but leave it out of the signature */
} hm_sigv4_options_t;

#define HM_SIGV4_MAX_ADDED 4

/* What signing produced. Each step's output is kept for tests and for
   debugging a SignatureDoesNotMatch. */
typedef struct {
    char *canonical_request; /* step 1 */
    char *string_to_sign;    /* step 2 */
    char signature[65];      /* step 4, lowercase hex */
    char *authorization;     /* header signing: the Authorization value */
    char *presigned_query;   /* query signing: the whole query to send */
    char amz_date[17];       /* "YYYYMMDDTHHMMSSZ" */
    char payload_hash[65];   /* what was signed as the payload hash */
    /* Header signing: headers to add to the request, in this order. Names
       are literals; values point into this result or into the credentials. */
    hm_sigv4_header_t added[HM_SIGV4_MAX_ADDED];
    size_t added_count; /* entries used in added */
} hm_sigv4_result_t;

/* Options for S3 (no path normalisation, no double encoding, content hash
   header) and for every other service. */
hm_sigv4_options_t hm_sigv4_options_s3 (void);
hm_sigv4_options_t hm_sigv4_options_default (void);

/* "YYYYMMDDTHHMMSSZ" for t (UTC); out holds 17 bytes. */
void hm_sigv4_amz_date (time_t t, char out[17]);
/* 0 if amz_date has the shape "YYYYMMDDTHHMMSSZ", else -1. */
int hm_sigv4_check_amz_date (const char *amz_date);

/* RFC 3986 encoding: unreserved characters (A-Z a-z 0-9 - . _ ~) stay,
   every other byte becomes %XX (uppercase); '/' stays when keep_slash. */
int hm_sigv4_uri_encode (hm_buf_t *out, const char *s, size_t len, bool keep_slash);

/* Step 1 parts. */
char *hm_sigv4_canonical_uri (const char *path, bool normalize, bool double_encode);
char *hm_sigv4_canonical_query (const char *query);
/* Lowercased names, sorted; values trimmed with inner white space runs
   (folded lines included) made one space; repeated names joined with ','.
   *canonical_p gets "name:value\n" lines, *signed_p "name;name". 0 / -1. */
int hm_sigv4_canonical_headers (const hm_sigv4_header_t *headers, size_t count, char **canonical_p,
                                char **signed_p);
char *hm_sigv4_canonical_request (const char *method, const char *canonical_uri,
                                  const char *canonical_query, const char *canonical_headers,
                                  const char *signed_headers, const char *payload_hash);
/* Step 2. scope is "YYYYMMDD/region/service/aws4_request". */
char *hm_sigv4_scope (const char *amz_date, const char *region, const char *service);
char *hm_sigv4_string_to_sign (const char *amz_date, const char *scope,
                               const char *canonical_request);
/* Step 3: the signing key from the secret, the date (first 8 characters of
   amz_date are used), region and service. 0 / -1. */
int hm_sigv4_signing_key (const char *secret, const char *amz_date, const char *region,
                          const char *service, uint8_t key[32]);
/* Step 4: hex HMAC-SHA256 of the string to sign. 0 / -1. */
int hm_sigv4_signature (const uint8_t key[32], const char *string_to_sign, char out[65]);
/* Step 5: the Authorization header's value. */
char *hm_sigv4_authorization (const char *access_key_id, const char *scope,
                              const char *signed_headers, const char *signature);

/* Signs req with an Authorization header. 0, or -1 with a reason in errbuf
   (bad date, forbidden header, out of memory). result is reset first;
   free it with hm_sigv4_result_free, also after a failure. */
int hm_sigv4_sign (const hm_sigv4_request_t *req, const hm_aws_credentials_t *cred,
                   const char *amz_date, const hm_sigv4_options_t *opts, hm_sigv4_result_t *result,
                   char *errbuf, size_t errlen);
/* Signs req in its query string (a presigned URL valid expires_s seconds):
   result->presigned_query is the query to send instead of req->query. */
int hm_sigv4_presign (const hm_sigv4_request_t *req, const hm_aws_credentials_t *cred,
                      const char *amz_date, long expires_s, const hm_sigv4_options_t *opts,
                      hm_sigv4_result_t *result, char *errbuf, size_t errlen);
void hm_sigv4_result_free (hm_sigv4_result_t *result);

#endif
