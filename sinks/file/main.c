/*  hamustro-file-sink: the sink runtime with the file backend. */
#include "file_backend.h"

int
main (int argc, char **argv)
{
    return hm_sink_main (argc, argv, &hm_file_backend);
}
