/*  hamustro-s3-sink: the sink runtime with the S3 backend. */
#include "s3_backend.h"

int
main (int argc, char **argv)
{
    return hm_sink_main (argc, argv, &hm_s3_backend);
}
