/*  hm_signal: see hm_signal.h. */
#include "hm_signal.h"

#include <signal.h>
#include <string.h>

void
hm_signal_on_stop (void (*handler) (int))
{
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset (&sa.sa_mask);
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);
}
