/*  send_gen: the random, valid client Collections hamustro-send posts.
    A generator keeps a small pool of devices (sessions); each body goes to
    one of them and carries the next nr values of that session, so the pair
    (session, nr) names every generated event once per generator. That lets
    a test compare exactly what was acknowledged with what landed. */
#ifndef SEND_GEN_H
#define SEND_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hm_buf.h"

typedef enum { SEND_FORMAT_PROTOBUF = 0, SEND_FORMAT_JSON = 1 } send_format_t;

/* Most payloads one body may carry (keeps the scratch space bounded). */
#define SEND_GEN_MAX_PAYLOADS 10000

typedef struct send_gen_t send_gen_t;

/* One generated request body and what it holds. */
typedef struct {
    hm_buf_t body;     /* encoded Collection (protobuf bytes or JSON text) */
    uint32_t events;   /* payloads in it */
    char session[33];  /* its session id */
    uint32_t first_nr; /* nr of its first payload; the others follow (+1 each) */
} send_body_t;

/* seed 0 picks one from the clock and pid. sessions: size of the device pool.
   Returns NULL on bad arguments or out of memory. */
send_gen_t *send_gen_new (uint64_t seed, send_format_t format, uint32_t min_payloads,
                          uint32_t max_payloads, uint32_t sessions);
void send_gen_destroy (send_gen_t **self_p);

/* Builds the next body into out (its buffer is reused). 0 or -1. */
int send_gen_next (send_gen_t *self, send_body_t *out);

/* Uniform random number in [0, n) from the generator's stream. */
uint64_t send_gen_rand (send_gen_t *self, uint64_t n);

/* The Content-Type of the format. */
const char *send_format_content_type (send_format_t format);

#endif
