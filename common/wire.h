/*  wire: the framing of every ZeroMQ message between the programs
    (ARCHITECTURE section 3). A message is multipart:
        [identity]  (only on ROUTER sockets)
        type        e.g. "HM/APPEND/1": names the message and its version
        body...     protobuf-c messages from proto/pipeline.proto
    A receiver that sees an unknown type logs it and drops the message;
    it never crashes on what a peer sends. */
#ifndef HM_WIRE_H
#define HM_WIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define HM_WIRE_APPEND "HM/APPEND/1"         /* AppendRequest: ingest/push -> router, and inject */
#define HM_WIRE_APPENDED "HM/APPENDED/1"     /* AppendReply: router -> ingest/push */
#define HM_WIRE_DELIVER "HM/DELIVER/1"       /* Delivery: router -> sink */
#define HM_WIRE_SINK "HM/SINK/1"             /* SinkMessage: sink <-> router */
#define HM_WIRE_INGEST "HM/INGEST/1"         /* IngestStats: ingest -> router, no reply */
#define HM_WIRE_TAP "HM/TAP/1"               /* TapHeader + AppendRequest: router PUB */
#define HM_WIRE_CONTROL "HM/CONTROL/1"       /* ControlRequest: ctl -> router */
#define HM_WIRE_CONTROLLED "HM/CONTROLLED/1" /* ControlReply: router -> ctl */

/* Largest message part we accept from a peer (ZMQ_MAXMSGSIZE). */
#define HM_WIRE_MAX_MSG (64u << 20)

/* A Delivery (router/route.c) is its events plus, per event, at most this
   many bytes of tag and length, plus a header of the route name and this
   many bytes: the config caps a route's max_bytes so the sum fits. */
#define HM_WIRE_EVENT_FRAMING 6
#define HM_WIRE_DELIVERY_HEADER 48

/* Sets send/receive high-water marks, linger and ZMQ_MAXMSGSIZE explicitly
   on a raw libzmq socket (czmq: pass zsock_resolve (sock)). */
int hm_wire_setup (void *socket, int sndhwm, int rcvhwm, int linger_ms);

/* Packs msg and sends [identity][type][msg]. identity may be NULL.
   flags: 0 or ZMQ_DONTWAIT. Returns 0, or -1 (errno from zmq). */
int hm_wire_send (void *socket, const void *identity, size_t identity_len, const char *type,
                  const ProtobufCMessage *msg, int flags);

#endif
