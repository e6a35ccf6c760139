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
/* The most bytes hm_json_string_at writes for len input bytes: any byte
   may become a 6-byte escape. */
#define HM_JSON_STRING_MAX(len) (2 + 6 * (size_t)(len))
/* hm_json_string's text written at w, which has HM_JSON_STRING_MAX (len)
   bytes of room (the caller checks that); returns the end. */
char *hm_json_string_at (char *w, const char *s, size_t len);
/* "YYYY-MM-DD HH:MM:SS" UTC; out: 20 bytes. */
void hm_format_at (uint64_t at, char out[20]);
/* Appends one JSON line (with '\n'). */
int hm_encode_json (hm_buf_t *out, const Hm__Event *e);
/* Appends one CSV record (with '\n'). */
int hm_encode_csv (hm_buf_t *out, const Hm__Event *e);
int hm_encode (hm_buf_t *out, const Hm__Event *e, hm_format_t format);

#endif
