/*  backoff: see backoff.h. */
#include "backoff.h"

uint32_t
hm_backoff_ceiling (uint32_t min_ms, uint32_t max_ms, uint32_t attempt)
{
    if (max_ms < min_ms)
        max_ms = min_ms;
    /* Double until the cap instead of shifting by attempt, which would be
       undefined past 63 and overflow long before. */
    uint64_t ceiling = min_ms;
    for (uint32_t i = 0; i < attempt && ceiling > 0 && ceiling < max_ms; i++)
        ceiling *= 2;
    return ceiling > max_ms ? max_ms : (uint32_t)ceiling;
}

uint32_t
hm_backoff_delay (uint32_t min_ms, uint32_t max_ms, uint32_t attempt, uint64_t random)
{
    uint64_t ceiling = hm_backoff_ceiling (min_ms, max_ms, attempt);
    return (uint32_t)(random % (ceiling + 1));
}
