/*  hamustro-sns-sink: the sink runtime with the SNS backend. */
#include "sns_backend.h"

int
main (int argc, char **argv)
{
    return hm_sink_main (argc, argv, &hm_sns_backend);
}
