/*  tool_recv: how the command-line tools read a message from the router
    (push's append replies, tap's records): the whole multipart message,
    its first frames kept, so the next receive starts at a message
    boundary whatever a peer sent; and the check of its type frame. */
#ifndef HM_TOOL_RECV_H
#define HM_TOOL_RECV_H

#include <signal.h>
#include <stdbool.h>
#include <zmq.h>

/* Receives one message on a raw libzmq socket: frames 0..max-1 go to parts
   (the caller closes them), later ones are read and closed. flags (0 or
   ZMQ_DONTWAIT) applies to the first frame only. A wait for the rest that
   a signal interrupts is resumed unless *stop (may be NULL) is set, then
   the message ends there. Returns its number of frames (may be over max),
   or -1 when none came (zmq_errno: EAGAIN, EINTR, ...). */
int hm_tool_recv (void *sock, zmq_msg_t *parts, int max, int flags, volatile sig_atomic_t *stop);

/* Whether frame is exactly the type string (HM_WIRE_*). */
bool hm_tool_frame_is (const zmq_msg_t *frame, const char *type);

#endif
