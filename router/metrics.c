/*  metrics: the router's Prometheus endpoint (see metrics.h). */
#include "metrics.h"

#include "prom.h"

#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CONNECTIONS_MAX 16 /* scrapers at once; more are refused */
#define S_TIMEOUT_S 10       /* an idle scrape connection is closed */

struct _metrics_t {
    struct MHD_Daemon *mhd; /* its own thread */
    pthread_mutex_t lock;   /* guards text */
    char *text;             /* the last snapshot ("" before the first) */
    size_t len;             /* its size */
};

static enum MHD_Result
s_answer (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_size;
    (void)con_cls;
    metrics_t *self = cls;
    unsigned status = MHD_HTTP_OK;
    struct MHD_Response *resp;
    if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        resp = MHD_create_response_from_buffer (0, "", MHD_RESPMEM_PERSISTENT);
        if (resp)
            MHD_add_response_header (resp, "Allow", "GET, HEAD");
    }
    else if (strcmp (url, "/metrics") != 0) {
        static const char body[] = "not found: the metrics are at /metrics\n";
        status = MHD_HTTP_NOT_FOUND;
        resp =
            MHD_create_response_from_buffer (sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    }
    else {
        /* A copy under the lock: the loop may publish the next snapshot
           while this one is being sent. */
        pthread_mutex_lock (&self->lock);
        resp = MHD_create_response_from_buffer (self->len, self->text, MHD_RESPMEM_MUST_COPY);
        pthread_mutex_unlock (&self->lock);
        if (resp)
            MHD_add_response_header (resp, "Content-Type", HM_PROM_CONTENT_TYPE);
    }
    if (!resp)
        return MHD_NO;
    enum MHD_Result rc = MHD_queue_response (conn, status, resp);
    MHD_destroy_response (resp);
    return rc;
}

/* "host:port" or "[v6]:port" -> a socket address. */
static int
s_resolve (const char *listen, struct sockaddr_storage *ss, char *errbuf, size_t errlen)
{
    char host[256];
    const char *colon = strrchr (listen, ':');
    const char *h = listen;
    size_t hlen = colon ? (size_t)(colon - listen) : 0;
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (!colon || hlen == 0 || hlen >= sizeof host || !colon[1]) {
        snprintf (errbuf, errlen, "metrics_listen \"%s\": want host:port", listen);
        return -1;
    }
    memcpy (host, h, hlen);
    host[hlen] = '\0';
    char *end;
    unsigned long port = strtoul (colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535) {
        snprintf (errbuf, errlen, "metrics_listen \"%s\": bad port", listen);
        return -1;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
    int rc = getaddrinfo (host, colon + 1, &hints, &ai);
    if (rc != 0) {
        snprintf (errbuf, errlen, "metrics_listen \"%s\": %s", listen, gai_strerror (rc));
        return -1;
    }
    memcpy (ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo (ai);
    return 0;
}

metrics_t *
metrics_new (const char *listen, char *errbuf, size_t errlen)
{
    struct sockaddr_storage ss;
    memset (&ss, 0, sizeof ss);
    if (s_resolve (listen, &ss, errbuf, errlen) != 0)
        return NULL;
    metrics_t *self = calloc (1, sizeof *self);
    if (!self || !(self->text = strdup (""))) {
        free (self);
        snprintf (errbuf, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init (&self->lock, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = ss.ss_family == AF_INET6 ? ntohs (((struct sockaddr_in6 *)&ss)->sin6_port)
                                             : ntohs (((struct sockaddr_in *)&ss)->sin_port);
    self->mhd = MHD_start_daemon (flags, port, NULL, NULL, s_answer, self, MHD_OPTION_SOCK_ADDR,
                                  (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
                                  (unsigned)S_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
                                  (unsigned)S_TIMEOUT_S, MHD_OPTION_END);
    if (!self->mhd) {
        snprintf (errbuf, errlen, "metrics_listen \"%s\": cannot listen (address in use?)", listen);
        metrics_destroy (&self);
        return NULL;
    }
    return self;
}

void
metrics_destroy (metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    metrics_t *self = *self_p;
    if (self->mhd)
        MHD_stop_daemon (self->mhd);
    pthread_mutex_destroy (&self->lock);
    free (self->text);
    free (self);
    *self_p = NULL;
}

void
metrics_publish (metrics_t *self, hm_buf_t *text)
{
    size_t len = 0;
    char *data = hm_buf_steal (text, &len);
    if (!data)
        return;
    pthread_mutex_lock (&self->lock);
    char *old = self->text;
    self->text = data;
    self->len = len;
    pthread_mutex_unlock (&self->lock);
    free (old);
}
