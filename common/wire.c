/*  wire: see wire.h. */
#include "wire.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int
hm_wire_setup (void *socket, int sndhwm, int rcvhwm, int linger_ms)
{
    int64_t maxmsg = HM_WIRE_MAX_MSG;
    if (zmq_setsockopt (socket, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm) != 0
        || zmq_setsockopt (socket, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm) != 0
        || zmq_setsockopt (socket, ZMQ_LINGER, &linger_ms, sizeof linger_ms) != 0
        || zmq_setsockopt (socket, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0)
        return -1;
    return 0;
}

static void
s_free_packed (void *data, void *hint)
{
    (void) hint;
    free (data);
}

int
hm_wire_send (void *socket, const void *identity, size_t identity_len, const char *type,
              const ProtobufCMessage *msg, int flags)
{
    size_t size = protobuf_c_message_get_packed_size (msg);
    uint8_t *packed = malloc (size ? size : 1);
    if (!packed)
        return -1;
    protobuf_c_message_pack (msg, packed);
    if (identity && zmq_send (socket, identity, identity_len, flags | ZMQ_SNDMORE) < 0) {
        free (packed);
        return -1;
    }
    if (zmq_send (socket, type, strlen (type), flags | ZMQ_SNDMORE) < 0) {
        free (packed);
        return -1;
    }
    /* Zero-copy hand-off: ZeroMQ owns packed from here and frees it. */
    zmq_msg_t part;
    zmq_msg_init_data (&part, packed, size, s_free_packed, NULL);
    if (zmq_msg_send (&part, socket, flags) < 0) {
        zmq_msg_close (&part);
        return -1;
    }
    return 0;
}
