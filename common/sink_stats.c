/*  sink_stats: see sink_stats.h. */
#include "sink_stats.h"

static const char *const s_class_names[HM_RETRY_CLASSES] = {
    "connect", "timeout", "throttled", "auth", "http_4xx", "http_5xx", "io", "other"};

const char *
hm_retry_class_name (hm_retry_class_t cls)
{
    return (unsigned)cls < HM_RETRY_CLASSES ? s_class_names[cls] : "other";
}

const double hm_request_bounds[HM_REQUEST_BOUNDS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

size_t
hm_request_bucket (double seconds)
{
    size_t i = 0;
    while (i < HM_REQUEST_BOUNDS && seconds > hm_request_bounds[i])
        i++;
    return i;
}
