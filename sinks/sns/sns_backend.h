/*  sns_backend: the "sns" sink's backend: one SNS message per event.
    See sns_backend.c for how batches are published and what is retried. */
#ifndef HM_SNS_BACKEND_H
#define HM_SNS_BACKEND_H

#include "sink.h"

extern const hm_sink_backend_t hm_sns_backend;

#endif
