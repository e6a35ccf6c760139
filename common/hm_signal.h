/*  hm_signal: how every program stops. SIGTERM and SIGINT call the given
    handler (which only sets a flag), and SIGPIPE is ignored so a peer that
    goes away is an error return, not a dead process. */
#ifndef HM_SIGNAL_H
#define HM_SIGNAL_H

void hm_signal_on_stop (void (*handler) (int));

#endif
