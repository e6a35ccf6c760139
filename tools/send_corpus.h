/*  send_corpus: hamustro-send's signed request headers, and the request
    corpus it writes for wrk (bench/wrk_corpus.lua reads it):
      DIR/N.body     raw body bytes, N = 0 .. count-1
      DIR/N.headers  "Name: value" lines (Content-Type, X-Hamustro-Time,
                     X-Hamustro-Signature)
      DIR/corpus.txt "count N", "events E", "bytes B", "format F" lines
    The signature time is fixed when the corpus is written: a collector
    with max_clock_skew_s set refuses the corpus (401) once it is older
    than that; without it (the default, as the original) time is not
    checked. */
#ifndef SEND_CORPUS_H
#define SEND_CORPUS_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "send_gen.h"

/* Content-Type plus, when sign, the signature headers of body at time_s
   (epoch seconds as text). Caller frees with curl_slist_free_all; NULL on
   out of memory. */
struct curl_slist *send_headers (send_format_t format, bool sign, const char *secret,
                                 const send_body_t *body, const char *time_s);

/* Writes count bodies from gen into dir (created if missing) and prints a
   one-line summary on stdout. 0, or -1 with the reason on stderr. */
int send_write_corpus (const char *dir, uint64_t count, send_format_t format, bool sign,
                       const char *secret, send_gen_t *gen);

#endif
