/*  client_ip: the client address an event records, and trusted_proxies.

    Moved out of event.c so that the forwarding-header rules, which decide
    whether a client can choose its own recorded IP, sit with their CIDR
    parsing and can be tested on their own. */
#include "client_ip.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* An address parsed from a header: IPv4 (IPv4-mapped IPv6 counts as IPv4)
   or IPv6, in network byte order. */
typedef struct {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* 4 or 16 bytes used */
} s_addr_t;

static const uint8_t s_v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int
s_addr_parse (const char *text, s_addr_t *a)
{
    if (inet_pton (AF_INET, text, a->addr) == 1) {
        a->family = AF_INET;
        return 0;
    }
    uint8_t v6[16];
    if (inet_pton (AF_INET6, text, v6) == 1) {
        if (memcmp (v6, s_v4_mapped_prefix, 12) == 0) {
            a->family = AF_INET;
            memcpy (a->addr, v6 + 12, 4);
        }
        else {
            a->family = AF_INET6;
            memcpy (a->addr, v6, 16);
        }
        return 0;
    }
    return -1;
}

static int
s_addr_format (const s_addr_t *a, char *out, size_t cap)
{
    return inet_ntop (a->family, a->addr, out, (socklen_t)cap) ? 0 : -1;
}

/* Whether an address may be recorded as a client's: not private, shared
   (CGNAT), loopback, link-local or unspecified, as the original filtered. */
static bool
s_addr_public (const s_addr_t *a)
{
    const uint8_t *b = a->addr;
    if (a->family == AF_INET) {
        if (b[0] == 0 || b[0] == 10 || b[0] == 127)
            return false;
        if (b[0] == 100 && (b[1] & 0xc0) == 64)
            return false;
        if (b[0] == 169 && b[1] == 254)
            return false;
        if (b[0] == 172 && (b[1] & 0xf0) == 16)
            return false;
        if (b[0] == 192 && b[1] == 168)
            return false;
        return true;
    }
    static const uint8_t zero[16] = {0};
    if (memcmp (b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
        return false; /* :: and ::1 */
    if ((b[0] & 0xfe) == 0xfc)
        return false; /* fc00::/7 unique local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return false; /* fe80::/10 link-local */
    return true;
}

/* Trims [start, end) of spaces and tabs and parses it into a. */
static bool
s_parse_span (const char *start, const char *end, s_addr_t *a)
{
    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t len = (size_t)(end - start);
    if (len == 0 || len >= 64)
        return false;
    char text[64];
    memcpy (text, start, len);
    text[len] = '\0';
    return s_addr_parse (text, a) == 0;
}

static bool
s_in_cidr (const hm_cidr_t *c, const s_addr_t *a)
{
    if (c->family != a->family)
        return false;
    size_t full = c->prefix / 8;
    if (memcmp (c->addr, a->addr, full) != 0)
        return false;
    unsigned rest = c->prefix % 8;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (a->addr[full] & mask);
}

static bool
s_trusted (const hm_cidr_t *cidrs, size_t n, const s_addr_t *a)
{
    for (size_t i = 0; i < n; i++)
        if (s_in_cidr (&cidrs[i], a))
            return true;
    return false;
}

int
hm_cidr_parse (const char *text, hm_cidr_t *out, char *err, size_t errlen)
{
    if (!text) {
        snprintf (err, errlen, "must be a string");
        return -1;
    }
    char buf[80];
    size_t len = strlen (text);
    if (len == 0 || len >= sizeof buf) {
        snprintf (err, errlen, "\"%.80s\" is not an address or ADDRESS/PREFIX", text);
        return -1;
    }
    memcpy (buf, text, len + 1);
    char *slash = strchr (buf, '/');
    long prefix = -1;
    if (slash) {
        *slash = '\0';
        const char *p = slash + 1;
        if (*p < '0' || *p > '9' || strlen (p) > 3) {
            snprintf (err, errlen, "\"%s\": prefix length is not a number", text);
            return -1;
        }
        prefix = 0;
        for (; *p; p++) {
            if (*p < '0' || *p > '9') {
                snprintf (err, errlen, "\"%s\": prefix length is not a number", text);
                return -1;
            }
            prefix = prefix * 10 + (*p - '0');
        }
    }
    s_addr_t a;
    if (s_addr_parse (buf, &a) != 0) {
        snprintf (err, errlen, "\"%s\": \"%s\" is not an IPv4 or IPv6 address", text, buf);
        return -1;
    }
    /* An IPv4-mapped block (::ffff:10.0.0.0/104) is the IPv4 block. */
    bool mapped = a.family == AF_INET && strchr (buf, ':');
    long max = a.family == AF_INET ? 32 : 128;
    if (mapped && prefix >= 0) {
        if (prefix < 96) {
            snprintf (err, errlen, "\"%s\": an IPv4-mapped block needs a prefix of 96 or more",
                      text);
            return -1;
        }
        prefix -= 96;
    }
    if (prefix < 0)
        prefix = max;
    if (prefix > max) {
        snprintf (err, errlen, "\"%s\": prefix length above %ld", text, max);
        return -1;
    }
    hm_cidr_t c = {.family = a.family, .prefix = (uint8_t)prefix};
    memcpy (c.addr, a.addr, sizeof c.addr);
    /* Zero the host bits and refuse a block that had some set. */
    size_t bytes = a.family == AF_INET ? 4 : 16;
    for (size_t i = 0; i < bytes; i++) {
        long bits = prefix - (long)i * 8;
        uint8_t mask = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
        c.addr[i] &= mask;
    }
    if (memcmp (c.addr, a.addr, bytes) != 0) {
        char net[64] = "";
        s_addr_t n = {.family = c.family};
        memcpy (n.addr, c.addr, sizeof n.addr);
        s_addr_format (&n, net, sizeof net);
        snprintf (err, errlen, "\"%s\" has host bits set (the block is %s/%ld)", text, net, prefix);
        return -1;
    }
    *out = c;
    return 0;
}

bool
hm_cidr_match (const hm_cidr_t *cidrs, size_t n, const char *addr)
{
    s_addr_t a;
    return addr && s_parse_span (addr, addr + strlen (addr), &a) && s_trusted (cidrs, n, &a);
}

/* The client X-Forwarded-For names, peer being trusted: walk from the right,
   skipping trusted hops. false when the header gives no usable entry (then
   *client is left alone). */
static bool
s_from_forwarded_for (const hm_cidr_t *trusted, size_t n, const char *xff, s_addr_t *client)
{
    const char *end = xff + strlen (xff);
    bool any = false;
    while (end >= xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        s_addr_t a;
        if (!s_parse_span (start, end, &a))
            /* The last trusted hop wrote garbage (or passed it on): what
               it saw cannot be known, so the hop itself is the client. */
            return any;
        *client = a;
        any = true;
        if (!s_trusted (trusted, n, &a))
            return true;
        if (start == xff)
            break;
        end = start - 1; /* before the comma */
    }
    return any; /* every entry trusted: the leftmost is the client */
}

void
hm_client_ip (const hm_cidr_t *trusted, size_t n_trusted, const char *x_forwarded_for,
              const char *x_real_ip, const char *peer, char out[64])
{
    out[0] = '\0';
    s_addr_t client;
    if (!peer || !s_parse_span (peer, peer + strlen (peer), &client))
        return;
    /* Headers are the client's to write: read only when a proxy we trust
       wrote them, else anyone could choose the IP of their events. */
    if (trusted && n_trusted > 0 && s_trusted (trusted, n_trusted, &client)) {
        s_addr_t a;
        if (x_forwarded_for && *x_forwarded_for)
            s_from_forwarded_for (trusted, n_trusted, x_forwarded_for, &client);
        else if (x_real_ip && s_parse_span (x_real_ip, x_real_ip + strlen (x_real_ip), &a))
            client = a;
    }
    if (!s_addr_public (&client) || s_addr_format (&client, out, 64) != 0)
        out[0] = '\0';
}

void
hm_mask_ip (char *ip, size_t cap)
{
    if (!ip || cap == 0)
        return;
    s_addr_t a;
    if (s_addr_parse (ip, &a) != 0)
        return;
    if (a.family == AF_INET)
        a.addr[3] = 0;
    else
        memset (a.addr + 6, 0, 10);
    char text[64];
    if (s_addr_format (&a, text, sizeof text) == 0 && strlen (text) < cap)
        strcpy (ip, text);
}
