/*  http_client: libcurl multi transfers driven by the caller's loop. See
    http_client.h; the OK / RETRY / DROP rule is in http_classify.c.

    Why a multi handle rather than one easy handle per request: the multi
    handle owns the connection cache, so every request to the same host
    reuses an idle keep-alive connection, and many requests run at once in
    one thread without blocking the sink's loop. */
#include "http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <time.h>

#include <curl/curl.h>

#include "hm_buf.h"
#include "hm_log.h"

/* Headers of one answer are small; past this they are ignored. */
#define S_MAX_HEADER_BYTES (64u * 1024)

struct hm_http_request_t {
    char *method;               /* "PUT" */
    char *url;                  /* "http://127.0.0.1:10000/devstoreaccount1/c/b" */
    struct curl_slist *headers; /* "name: value" lines as sent */
    bool has_content_type;      /* the caller set Content-Type */
    void *body;                 /* request body (owned), or NULL */
    size_t body_len;            /* bytes in body */
    bool has_body;              /* a body (maybe empty) was given */
    /* While in flight: */
    hm_http_client_t *client;    /* the client running it */
    CURL *easy;                  /* its transfer */
    hm_http_done_fn *done;       /* completion callback */
    void *arg;                   /* callback argument */
    hm_buf_t answer;             /* response body, bounded by max_body */
    bool truncated;              /* response body went past max_body */
    hm_buf_t answer_headers;     /* "name\0value\0" pairs */
    size_t answer_header_count;  /* pairs in answer_headers */
    char error[CURL_ERROR_SIZE]; /* curl's reason for a failure */
    hm_http_request_t *prev;     /* in-flight list */
    hm_http_request_t *next;     /* in-flight list */
};

struct hm_http_client_t {
    hm_http_options_t opts;    /* with defaults filled in */
    CURLM *multi;              /* transfers and the connection cache */
    size_t in_flight;          /* requests submitted, not yet completed */
    hm_http_request_t *active; /* in-flight list head */
};

hm_http_options_t
hm_http_options_default (void)
{
    hm_http_options_t opts = {5000, 60000, 16, 0, 1024 * 1024, false};
    return opts;
}

hm_http_request_t *
hm_http_request_new (const char *method, const char *url)
{
    if (!method || !*method || !url || !*url)
        return NULL;
    hm_http_request_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->method = strdup (method);
    self->url = strdup (url);
    if (!self->method || !self->url) {
        hm_http_request_destroy (&self);
        return NULL;
    }
    return self;
}

void
hm_http_request_destroy (hm_http_request_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hm_http_request_t *self = *self_p;
    if (self->easy)
        curl_easy_cleanup (self->easy);
    curl_slist_free_all (self->headers);
    free (self->method);
    free (self->url);
    free (self->body);
    hm_buf_free (&self->answer);
    hm_buf_free (&self->answer_headers);
    free (self);
    *self_p = NULL;
}

int
hm_http_request_header (hm_http_request_t *self, const char *name, const char *value)
{
    if (!name || !*name || !value || strpbrk (name, "\r\n:") || strpbrk (value, "\r\n"))
        return -1;
    hm_buf_t line;
    hm_buf_init (&line, 0);
    /* "Name;" is curl's way to send a header with an empty value. */
    int rc =
        *value ? hm_buf_printf (&line, "%s: %s", name, value) : hm_buf_printf (&line, "%s;", name);
    struct curl_slist *list = rc == 0 ? curl_slist_append (self->headers, line.data) : NULL;
    hm_buf_free (&line);
    if (!list)
        return -1;
    self->headers = list;
    if (strcasecmp (name, "Content-Type") == 0)
        self->has_content_type = true;
    return 0;
}

void
hm_http_request_take_body (hm_http_request_t *self, void **body_p, size_t len)
{
    free (self->body);
    self->body = *body_p;
    self->body_len = self->body ? len : 0;
    self->has_body = true;
    *body_p = NULL;
}

int
hm_http_request_copy_body (hm_http_request_t *self, const void *body, size_t len)
{
    void *copy = malloc (len ? len : 1);
    if (!copy)
        return -1;
    if (len)
        memcpy (copy, body, len);
    hm_http_request_take_body (self, &copy, len);
    return 0;
}

hm_http_client_t *
hm_http_client_new (const hm_http_options_t *opts)
{
    /* Reference counted (and thread safe) since curl 7.84: one per client,
       undone in hm_http_client_destroy. */
    if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    hm_http_client_t *self = calloc (1, sizeof *self);
    if (!self) {
        curl_global_cleanup ();
        return NULL;
    }
    self->opts = opts ? *opts : hm_http_options_default ();
    hm_http_options_t def = hm_http_options_default ();
    if (self->opts.connect_timeout_ms <= 0)
        self->opts.connect_timeout_ms = def.connect_timeout_ms;
    if (self->opts.total_timeout_ms <= 0)
        self->opts.total_timeout_ms = def.total_timeout_ms;
    if (self->opts.max_in_flight == 0)
        self->opts.max_in_flight = def.max_in_flight;
    if (self->opts.max_host_connections == 0)
        self->opts.max_host_connections = self->opts.max_in_flight;
    if (self->opts.max_body == 0)
        self->opts.max_body = def.max_body;
    self->multi = curl_multi_init ();
    if (!self->multi) {
        free (self);
        curl_global_cleanup ();
        return NULL;
    }
    curl_multi_setopt (self->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                       (long)self->opts.max_host_connections);
    /* Keep every connection the requests in flight can use, so a burst
       does not close and reopen them. */
    curl_multi_setopt (self->multi, CURLMOPT_MAXCONNECTS, (long)self->opts.max_in_flight + 4);
    return self;
}

static void s_complete (hm_http_client_t *self, hm_http_request_t *req, CURLcode code);

void
hm_http_client_destroy (hm_http_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hm_http_client_t *self = *self_p;
    while (self->active) {
        hm_http_request_t *req = self->active;
        snprintf (req->error, sizeof req->error, "client destroyed with the request in flight");
        s_complete (self, req, CURLE_ABORTED_BY_CALLBACK);
    }
    curl_multi_cleanup (self->multi);
    free (self);
    curl_global_cleanup ();
    *self_p = NULL;
}

static size_t
s_on_body (char *data, size_t size, size_t nmemb, void *arg)
{
    hm_http_request_t *req = arg;
    size_t len = size * nmemb;
    size_t room = req->client->opts.max_body - req->answer.len;
    size_t keep = len < room ? len : room;
    /* Past the bound the rest is read and dropped, not refused: refusing
       would fail the transfer and close a good connection. */
    if (keep < len)
        req->truncated = true;
    if (keep && hm_buf_append (&req->answer, data, keep) != 0)
        req->truncated = true;
    return len;
}

static size_t
s_on_header (char *data, size_t size, size_t nmemb, void *arg)
{
    hm_http_request_t *req = arg;
    size_t len = size * nmemb;
    size_t n = len;
    while (n && (data[n - 1] == '\n' || data[n - 1] == '\r'))
        n--;
    if (n >= 5 && strncmp (data, "HTTP/", 5) == 0) {
        /* A new status line (after "100 Continue" or a redirect): only the
           final answer's headers count. */
        hm_buf_reset (&req->answer_headers);
        req->answer_header_count = 0;
        return len;
    }
    const char *colon = memchr (data, ':', n);
    if (!colon || req->answer_headers.len + n + 2 > S_MAX_HEADER_BYTES)
        return len;
    size_t nlen = (size_t)(colon - data);
    const char *value = colon + 1;
    size_t vlen = n - nlen - 1;
    while (vlen && (*value == ' ' || *value == '\t')) {
        value++;
        vlen--;
    }
    while (vlen && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
        vlen--;
    if (hm_buf_append (&req->answer_headers, data, nlen) == 0 &&
        hm_buf_putc (&req->answer_headers, '\0') == 0 &&
        hm_buf_append (&req->answer_headers, value, vlen) == 0 &&
        hm_buf_putc (&req->answer_headers, '\0') == 0)
        req->answer_header_count++;
    return len;
}

static int
s_setup (hm_http_client_t *self, hm_http_request_t *req)
{
    CURL *e = curl_easy_init ();
    if (!e)
        return -1;
    req->easy = e;
    req->client = self;
    hm_buf_init (&req->answer, self->opts.max_body + 1);
    hm_buf_init (&req->answer_headers, S_MAX_HEADER_BYTES + 64);
    req->truncated = false;
    req->error[0] = '\0';
    /* curl adds "Expect: 100-continue" to large bodies, which costs a round
       trip (or a one-second stall with servers that ignore it), and
       "Content-Type: application/x-www-form-urlencoded" to POST data, which
       would then not match what was signed. Suppress both. */
    struct curl_slist *list = curl_slist_append (req->headers, "Expect:");
    if (!list)
        return -1;
    req->headers = list;
    bool get = strcmp (req->method, "GET") == 0 && !req->has_body;
    bool head = strcmp (req->method, "HEAD") == 0;
    bool post = strcmp (req->method, "POST") == 0;
    bool sends_body = !get && !head && (req->has_body || post || strcmp (req->method, "PUT") == 0);
    if (sends_body && !req->has_content_type) {
        if (!(list = curl_slist_append (req->headers, "Content-Type:")))
            return -1;
        req->headers = list;
    }
    CURLcode rc = CURLE_OK;
#define S_SET(opt, val)                                                                            \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt (e, opt, val);                                                   \
    } while (0)
    S_SET (CURLOPT_URL, req->url);
    S_SET (CURLOPT_PRIVATE, req);
    S_SET (CURLOPT_HTTPHEADER, req->headers);
    S_SET (CURLOPT_WRITEFUNCTION, s_on_body);
    S_SET (CURLOPT_WRITEDATA, req);
    S_SET (CURLOPT_HEADERFUNCTION, s_on_header);
    S_SET (CURLOPT_HEADERDATA, req);
    S_SET (CURLOPT_ERRORBUFFER, req->error);
    S_SET (CURLOPT_CONNECTTIMEOUT_MS, self->opts.connect_timeout_ms);
    S_SET (CURLOPT_TIMEOUT_MS, self->opts.total_timeout_ms);
    S_SET (CURLOPT_NOSIGNAL, 1L);
    S_SET (CURLOPT_TCP_KEEPALIVE, 1L);
    S_SET (CURLOPT_FOLLOWLOCATION, 0L);
    S_SET (CURLOPT_PROTOCOLS_STR, "http,https");
    S_SET (CURLOPT_VERBOSE, self->opts.verbose ? 1L : 0L);
    if (get)
        S_SET (CURLOPT_HTTPGET, 1L);
    else if (head)
        S_SET (CURLOPT_NOBODY, 1L);
    else {
        if (sends_body) {
            /* POSTFIELDS sends the body as is with its Content-Length (0
               too, which Azure's PUTs require); the method is then set
               by name. */
            S_SET (CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            S_SET (CURLOPT_POSTFIELDS, req->body ? (char *)req->body : "");
        }
        if (!post)
            S_SET (CURLOPT_CUSTOMREQUEST, req->method);
    }
#undef S_SET
    return rc == CURLE_OK ? 0 : -1;
}

int
hm_http_client_submit (hm_http_client_t *self, hm_http_request_t **request_p, hm_http_done_fn *done,
                       void *arg)
{
    if (!request_p || !*request_p || !done || hm_http_client_full (self))
        return -1;
    hm_http_request_t *req = *request_p;
    if (s_setup (self, req) != 0 || curl_multi_add_handle (self->multi, req->easy) != CURLM_OK) {
        if (req->easy) {
            curl_easy_cleanup (req->easy);
            req->easy = NULL;
        }
        hm_buf_free (&req->answer);
        hm_buf_free (&req->answer_headers);
        return -1;
    }
    req->done = done;
    req->arg = arg;
    req->prev = NULL;
    req->next = self->active;
    if (self->active)
        self->active->prev = req;
    self->active = req;
    self->in_flight++;
    *request_p = NULL;
    return 0;
}

size_t
hm_http_client_in_flight (const hm_http_client_t *self)
{
    return self->in_flight;
}

bool
hm_http_client_full (const hm_http_client_t *self)
{
    return self->in_flight >= self->opts.max_in_flight;
}

/* Ends one request: unlinks it, tells the caller, frees it. */
static void
s_complete (hm_http_client_t *self, hm_http_request_t *req, CURLcode code)
{
    hm_http_response_t r;
    memset (&r, 0, sizeof r);
    long status = 0, connects = 0;
    curl_easy_getinfo (req->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo (req->easy, CURLINFO_NUM_CONNECTS, &connects);
    curl_multi_remove_handle (self->multi, req->easy);
    if (req->prev)
        req->prev->next = req->next;
    else
        self->active = req->next;
    if (req->next)
        req->next->prev = req->prev;
    self->in_flight--;
    if (code != CURLE_OK && !req->error[0])
        snprintf (req->error, sizeof req->error, "%s", curl_easy_strerror (code));
    hm_buf_puts (&req->answer, ""); /* a NUL-terminated body, also when empty */
    r.status = code == CURLE_OK ? status : 0;
    r.curl_code = (int)code;
    r.error = code == CURLE_OK ? "" : req->error;
    r.body = req->answer.data ? req->answer.data : "";
    r.body_len = req->answer.len;
    r.body_truncated = req->truncated;
    r.new_connections = connects;
    r.method = req->method;
    r.url = req->url;
    r.headers = req->answer_headers.data;
    r.header_count = req->answer_header_count;
    req->done (&r, req->arg);
    hm_http_request_destroy (&req);
}

/* Hands every finished transfer to its callback. */
static int
s_collect (hm_http_client_t *self)
{
    int done = 0, left = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read (self->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        hm_http_request_t *req = NULL;
        CURLcode code = msg->data.result; /* msg is invalid once the handle is removed */
        curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **)&req);
        if (!req)
            continue;
        s_complete (self, req, code);
        done++;
    }
    return done;
}

int
hm_http_client_perform (hm_http_client_t *self)
{
    int running = 0;
    if (curl_multi_perform (self->multi, &running) != CURLM_OK)
        return -1;
    return s_collect (self);
}

int
hm_http_client_run (hm_http_client_t *self, int timeout_ms)
{
    int done = hm_http_client_perform (self);
    if (done != 0 || self->in_flight == 0)
        return done;
    int numfds = 0;
    if (curl_multi_poll (self->multi, NULL, 0, timeout_ms < 0 ? 0 : timeout_ms, &numfds) !=
        CURLM_OK)
        return -1;
    return hm_http_client_perform (self);
}

static long
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
hm_http_client_drain (hm_http_client_t *self, int timeout_ms)
{
    long deadline = s_now_ms () + timeout_ms;
    while (self->in_flight > 0) {
        long left = deadline - s_now_ms ();
        if (left <= 0)
            return -1;
        if (hm_http_client_run (self, left < 100 ? (int)left : 100) < 0)
            return -1;
    }
    return 0;
}

int
hm_http_client_pollfds (hm_http_client_t *self, struct pollfd *fds, size_t max, long *timeout_ms)
{
    fd_set rd, wr, ex;
    int maxfd = -1;
    long timeout = -1;
    FD_ZERO (&rd);
    FD_ZERO (&wr);
    FD_ZERO (&ex);
    if (curl_multi_fdset (self->multi, &rd, &wr, &ex, &maxfd) != CURLM_OK ||
        curl_multi_timeout (self->multi, &timeout) != CURLM_OK)
        return -1;
    size_t n = 0;
    for (int fd = 0; fd <= maxfd; fd++) {
        short events =
            (short)((FD_ISSET (fd, &rd) ? POLLIN : 0) | (FD_ISSET (fd, &wr) ? POLLOUT : 0) |
                    (FD_ISSET (fd, &ex) ? POLLPRI : 0));
        if (!events)
            continue;
        if (n == max)
            return -1;
        fds[n].fd = fd;
        fds[n].events = events;
        fds[n].revents = 0;
        n++;
    }
    /* With transfers running but no descriptor to watch (resolving, or
       a descriptor beyond FD_SETSIZE), only a short wait keeps them moving. */
    if (timeout < 0 || timeout > 100)
        timeout = self->in_flight ? 100 : timeout;
    if (self->in_flight == 0)
        timeout = -1;
    *timeout_ms = timeout;
    return (int)n;
}

const char *
hm_http_response_header (const hm_http_response_t *response, const char *name)
{
    const char *p = response->headers;
    for (size_t i = 0; p && i < response->header_count; i++) {
        const char *value = p + strlen (p) + 1;
        if (strcasecmp (p, name) == 0)
            return value;
        p = value + strlen (value) + 1;
    }
    return NULL;
}
