/*  hamustro-queue-sink: the sink runtime with the Azure Queue backend
    (routes whose sink is "aqs"). */
#include "queue_backend.h"

int
main (int argc, char **argv)
{
    return hm_sink_main (argc, argv, &hm_queue_backend);
}
