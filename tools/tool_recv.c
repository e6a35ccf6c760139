/*  tool_recv: see tool_recv.h. */
#include "tool_recv.h"

#include <errno.h>
#include <string.h>

int
hm_tool_recv (void *sock, zmq_msg_t *parts, int max, int flags, volatile sig_atomic_t *stop)
{
    int frames = 0;
    bool more = true;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, sock, frames == 0 ? flags : 0) < 0) {
            zmq_msg_close (&part);
            if (frames == 0)
                return -1;
            if (zmq_errno () == EINTR && !(stop && *stop))
                continue; /* finish a message we started */
            break;
        }
        more = zmq_msg_more (&part);
        if (frames < max)
            parts[frames] = part;
        else
            zmq_msg_close (&part);
        frames++;
    }
    return frames;
}

bool
hm_tool_frame_is (const zmq_msg_t *frame, const char *type)
{
    size_t len = strlen (type);
    /* zmq_msg_size and zmq_msg_data take a non-const message. */
    zmq_msg_t *msg = (zmq_msg_t *)frame;
    return zmq_msg_size (msg) == len && memcmp (zmq_msg_data (msg), type, len) == 0;
}
