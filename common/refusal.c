/*  refusal: see refusal.h. */
#include "refusal.h"

#include <string.h>

const char *const hm_refusal_names[HM_REFUSAL_KINDS] = {
    [HM_REFUSAL_NONE] = NULL,
    [HM_REFUSAL_SIGNATURE] = "signature",
    [HM_REFUSAL_CLOCK_SKEW] = "clock_skew",
    [HM_REFUSAL_CONTENT_TYPE] = "content_type",
    [HM_REFUSAL_CONTENT_ENCODING] = "content_encoding",
    [HM_REFUSAL_BODY_TOO_LARGE] = "body_too_large",
    [HM_REFUSAL_INFLATED_TOO_LARGE] = "inflated_too_large",
    [HM_REFUSAL_BAD_COMPRESSION] = "bad_compression",
    [HM_REFUSAL_DECODE] = "decode",
    [HM_REFUSAL_SESSION] = "session",
    [HM_REFUSAL_LOG_FULL] = "log_full",
    [HM_REFUSAL_ROUTER_ERROR] = "router_error",
    [HM_REFUSAL_ROUTER_TIMEOUT] = "router_timeout",
    [HM_REFUSAL_ROUTER_UNREACHABLE] = "router_unreachable",
    [HM_REFUSAL_OVERLOAD] = "overload",
    [HM_REFUSAL_STOPPING] = "stopping",
};

hm_refusal_t
hm_refusal_by_name (const char *name)
{
    for (int i = 1; name && i < HM_REFUSAL_KINDS; i++)
        if (strcmp (hm_refusal_names[i], name) == 0)
            return (hm_refusal_t)i;
    return HM_REFUSAL_NONE;
}
