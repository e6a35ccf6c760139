/*  encode: an event as the original Hamustro wrote it (ARCHITECTURE section 5):
    a JSON line in Go's encoding/json style, or a \001-separated CSV record in
    Go's encoding/csv style. Byte-for-byte compatible with the original files. */
#ifndef HM_ENCODE_H
#define HM_ENCODE_H

#include "config.h"
#include "hm_buf.h"
#include "pipeline.pb-c.h"

/* Appends s (len bytes, possibly invalid UTF-8, NULs included; NULL reads
   as "") as a quoted JSON string the
   way Go's encoder writes it: <, >, & as \u003c \u003e \u0026, U+2028/2029
   escaped, control characters as \n \r \t or \u00XX, invalid UTF-8 as \ufffd. */
int hm_json_string (hm_buf_t *out, const char *s, size_t len);
/* "YYYY-MM-DD HH:MM:SS" UTC; out: 20 bytes. */
void hm_format_at (uint64_t at, char out[20]);
/* Appends one JSON line (with '\n'). */
int hm_encode_json (hm_buf_t *out, const Hm__Event *e);
/* Appends one CSV record (with '\n'). */
int hm_encode_csv (hm_buf_t *out, const Hm__Event *e);
int hm_encode (hm_buf_t *out, const Hm__Event *e, hm_format_t format);

#endif
