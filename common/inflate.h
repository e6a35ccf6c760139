/*  inflate: the request body's Content-Encoding, undone with a hard bound
    on what it may become (ARCHITECTURE section 2).

    A compressed body is bounded by max_body_bytes as it arrives, but a
    kilobyte of deflate can expand a thousandfold and more, so the output is
    bounded too: inflating stops as soon as it would pass the bound, having
    written at most bound + 1 bytes, whatever the input claims. zlib streams
    the input through a 32 KiB window, so the memory used is the bounded
    output and zlib's fixed state, never the size the input would reach. */
#ifndef HM_INFLATE_H
#define HM_INFLATE_H

#include <stddef.h>

#include "hm_buf.h"

/* A Content-Encoding value, as the ingest understands it. */
typedef enum {
    HM_CODING_IDENTITY = 0, /* absent, empty or "identity": the body as sent */
    HM_CODING_GZIP,         /* "gzip" or "x-gzip": one or more gzip members (RFC 1952) */
    HM_CODING_DEFLATE,      /* "deflate": zlib-wrapped (RFC 1950), or raw deflate (RFC 1951)
                               when the first two bytes are not a zlib header */
    HM_CODING_UNSUPPORTED,  /* anything else, including a list of codings: 415 */
} hm_coding_t;

/* What hm_inflate ended with. */
typedef enum {
    HM_INFLATE_OK = 0,         /* out holds the whole body */
    HM_INFLATE_BAD = -1,       /* corrupt, truncated or trailing bytes: 400 */
    HM_INFLATE_TOO_LARGE = -2, /* it inflates past max_out: 413 */
    HM_INFLATE_NO_MEMORY = -3, /* 503 */
} hm_inflate_rc_t;

/* The coding named by a Content-Encoding header value (NULL: absent);
   compared case-insensitively, blanks around it ignored. */
hm_coding_t hm_inflate_coding (const char *content_encoding);

/* Inflates in[0..len) coded as coding (GZIP or DEFLATE) into out, which
   is emptied first and whose limit becomes max_out + 1. Concatenated gzip
   members are one body. On any result but OK, out holds nothing useful and
   err the reason; *consumed_p (if not NULL) gets how many input bytes were
   read, which for TOO_LARGE is how far the input was read before stopping. */
hm_inflate_rc_t hm_inflate (hm_coding_t coding, const void *in, size_t len, size_t max_out,
                            hm_buf_t *out, size_t *consumed_p, char *err, size_t errlen);

#endif
