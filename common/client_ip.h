/*  client_ip: which address an event records for its client, and the
    trusted_proxies list that decides whether forwarding headers are read. */
#ifndef HM_CLIENT_IP_H
#define HM_CLIENT_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many trusted_proxies entries; more is a config error. */
#define HM_TRUSTED_PROXIES_MAX 64

/* One CIDR block: IPv4 (IPv4-mapped IPv6 counts as IPv4) or IPv6. */
typedef struct {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network byte order, host bits zero */
    uint8_t prefix;   /* 0..32 or 0..128 */
} hm_cidr_t;

/* Parses "ADDR/LEN" or a bare "ADDR" (a /32 or /128). Host bits set below
   the prefix ("10.0.0.1/8") are refused: that is a typo more often than not.
   0, or -1 with a one-line reason in err. */
int hm_cidr_parse (const char *text, hm_cidr_t *out, char *err, size_t errlen);
/* Whether the address text (no port) is inside one of the n blocks. */
bool hm_cidr_match (const hm_cidr_t *cidrs, size_t n, const char *addr);

/* The client IP to record when the payload has none. When peer (the
   connection's address) is inside one of the n trusted blocks, the
   forwarding headers are read: X-Forwarded-For walked from the right,
   skipping trusted proxies, gives the address the last trusted hop saw (an
   entry that is no address stops the walk: then the last trusted hop itself
   counts; when every entry is trusted, the leftmost one is the client);
   without X-Forwarded-For, X-Real-IP if it is an address. Otherwise (no
   trusted proxies, an untrusted peer) the headers are ignored and the peer
   is the client. Private, loopback, link-local and unspecified addresses are
   never recorded, as the original. Writes "" when the choice is not a
   public address. out: 64 bytes. Any argument may be NULL. */
void hm_client_ip (const hm_cidr_t *trusted, size_t n_trusted, const char *x_forwarded_for,
                   const char *x_real_ip, const char *peer, char out[64]);
/* masked_ip: zeroes the last IPv4 octet ("1.2.3.4" -> "1.2.3.0") or the last
   80 bits of an IPv6 address, in place. Anything else is left as it is. */
void hm_mask_ip (char *ip, size_t cap);

#endif
