/*  hamustro-blob-sink: the sink runtime with the Azure Blob backend
    (routes whose sink is "abs"). */
#include "blob_backend.h"

int
main (int argc, char **argv)
{
    return hm_sink_main (argc, argv, &hm_blob_backend);
}
