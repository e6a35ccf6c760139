/*  s3_request: the pure half of the S3 sink: where an object goes (key,
    host, path for path-style or virtual-hosted addressing), its headers'
    values (Content-MD5, Content-Type), how a body is cut into multipart
    parts, the CompleteMultipartUpload document, and reading S3's XML
    answers. No network, no clock: unit tested on its own. */
#ifndef HM_S3_REQUEST_H
#define HM_S3_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "hm_buf.h"

#define HM_S3_MIN_PART (5u << 20)     /* S3's smallest part but the last */
#define HM_S3_MAX_PART (5ull << 30)   /* S3's largest part */
#define HM_S3_MAX_PARTS 10000         /* S3's most parts per upload */
#define HM_S3_DEFAULT_PART (8u << 20) /* part_size when the section has none */
#define HM_S3_TEST_MIN_PART 1024u     /* smallest part_size with an endpoint (emulators) */

typedef enum { HM_S3_PATH = 0, HM_S3_VIRTUAL = 1 } hm_s3_addressing_t;

/* Where a bucket lives. */
typedef struct {
    bool https;                    /* scheme */
    const char *host;              /* endpoint host[:port]; NULL: AWS's for region */
    const char *base_path;         /* endpoint path prefix ("" for none) */
    const char *region;            /* for AWS's host names */
    const char *bucket;            /* bucket name */
    hm_s3_addressing_t addressing; /* path-style or virtual-hosted */
} hm_s3_location_t;

/* The object key of a batch: hm_path_expand (blob_path, seal_time), a '/'
   unless that is empty or ends in one, then hm_batch_name (..., gz=true).
   Leading '/' of the template are dropped (S3 keys do not start with one).
   0 / -1 (too long). */
int hm_s3_object_key (const char *blob_path, const char *route, uint64_t first, uint64_t last,
                      uint64_t seal_time, hm_format_t format, char *out, size_t cap);

/* The Host header value and the request path (percent-encoded, ready to
   send and sign) of key (NULL: the bucket itself). 0 / -1 (too long). */
int hm_s3_target (const hm_s3_location_t *loc, const char *key, char *host, size_t host_cap,
                  hm_buf_t *path);

/* base64 of the body's MD5 digest; out: 25 bytes. */
void hm_s3_content_md5 (const void *data, size_t len, char out[25]);

/* The object's Content-Type: "application/x-ndjson" for JSON lines (one
   JSON document per line is not itself application/json), "text/csv" for CSV. */
const char *hm_s3_content_type (hm_format_t format);

/* How many parts a body of len bytes becomes with part_size, and each
   part's size in *part_len (the last may be smaller): part_size grows when
   len would need more than HM_S3_MAX_PARTS parts. */
size_t hm_s3_part_plan (size_t len, size_t part_size, size_t *part_len);

/* <CompleteMultipartUpload> with one <Part> per ETag (as S3 sent them,
   quotes included), numbered from 1. 0 / -1 (out of memory). */
int hm_s3_complete_body (hm_buf_t *out, char *const *etags, size_t count);

/* The UploadId of an InitiateMultipartUploadResult. 0 / -1. */
int hm_s3_upload_id (const char *body, size_t len, char *out, size_t cap);

/* An <Error> document's code ("InternalError"), for answers that are 200
   with an error inside (CompleteMultipartUpload may do that). true when
   the body is an error document; code gets "" if it has no <Code>. */
bool hm_s3_error_document (const char *body, size_t len, char *code, size_t cap);

#endif
