/*  backoff: how long a sink waits before retrying a failed delivery.
    Capped exponential backoff with "full jitter": the n-th retry waits a
    uniformly random time in [0, min(cap, base * 2^n)]. Full jitter spreads
    the retries of many sink instances that failed together (a backend
    outage) instead of having them hammer the backend in lock-step.

    Pure: the random number is a parameter, so tests are deterministic. */
#ifndef HM_BACKOFF_H
#define HM_BACKOFF_H

#include <stdint.h>

/* min(max_ms, min_ms * 2^attempt) without overflow; attempt 0 is the first
   retry. max_ms < min_ms is treated as max_ms == min_ms. */
uint32_t hm_backoff_ceiling (uint32_t min_ms, uint32_t max_ms, uint32_t attempt);

/* A delay in [0, hm_backoff_ceiling (...)] chosen by random (any 64-bit value,
   e.g. from a PRNG). */
uint32_t hm_backoff_delay (uint32_t min_ms, uint32_t max_ms, uint32_t attempt, uint64_t random);

#endif
