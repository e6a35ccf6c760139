/*  test_http_client: the libcurl multi client against a small
    libmicrohttpd server started by the test on 127.0.0.1 (random port):
    keep-alive reuse, many requests in flight, timeouts, refused
    connections, bounded bodies, an outside poll loop, aborts; and the
    OK / RETRY / DROP table. No assertion depends on timing: concurrency is
    proven by a barrier in the server that only opens when all requests
    are inside it at once. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <microhttpd.h>

#include "http_client.h"

typedef struct {
    struct MHD_Daemon *daemon; /* the server */
    int port;                  /* where it listens */
    pthread_mutex_t lock;      /* guards the fields below */
    pthread_cond_t cond;       /* signalled on every change */
    int connections;           /* TCP connections accepted */
    int active;                /* requests inside /barrier now */
    int max_active;            /* most requests inside /barrier at once */
    int barrier;               /* how many /barrier waits for */
    int opened;                /* the barrier was reached: everyone may leave */
    int released;              /* set at teardown: /slow and /barrier return */
} s_server_t;

typedef struct {
    size_t body_len; /* request bytes received */
} s_conn_t;

static void
s_on_connection (void *cls, struct MHD_Connection *c, void **socket_context,
                 enum MHD_ConnectionNotificationCode toe)
{
    (void)c;
    (void)socket_context;
    s_server_t *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        pthread_mutex_lock (&srv->lock);
        srv->connections++;
        pthread_mutex_unlock (&srv->lock);
    }
}

static void
s_on_completed (void *cls, struct MHD_Connection *c, void **con_cls,
                enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free (*con_cls);
    *con_cls = NULL;
}

/* Waits (at most 10 s, so a broken client fails instead of hanging) until
   done () is true or the test releases the server. */
static void
s_wait (s_server_t *srv, bool (*done) (s_server_t *))
{
    struct timespec until;
    clock_gettime (CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while (!srv->released && !done (srv))
        if (pthread_cond_timedwait (&srv->cond, &srv->lock, &until) != 0)
            break;
}

static bool
s_barrier_full (s_server_t *srv)
{
    if (srv->active >= srv->barrier)
        srv->opened = 1; /* once open it stays open, as the first out lowers active */
    return srv->opened;
}

static bool
s_never (s_server_t *srv)
{
    (void)srv;
    return false;
}

static enum MHD_Result
s_reply (struct MHD_Connection *c, unsigned int status, const char *body, const char **headers)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer (strlen (body), (void *)body, MHD_RESPMEM_MUST_COPY);
    for (size_t i = 0; headers && headers[i]; i += 2)
        MHD_add_response_header (r, headers[i], headers[i + 1]);
    enum MHD_Result rc = MHD_queue_response (c, status, r);
    MHD_destroy_response (r);
    return rc;
}

static enum MHD_Result
s_handler (void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    s_server_t *srv = cls;
    if (!*con_cls) {
        *con_cls = calloc (1, sizeof (s_conn_t));
        return *con_cls ? MHD_YES : MHD_NO;
    }
    s_conn_t *conn = *con_cls;
    if (*upload_data_size) {
        conn->body_len += *upload_data_size;
        *upload_data_size = 0;
        (void)upload_data;
        return MHD_YES;
    }
    if (strcmp (url, "/ok") == 0) {
        const char *ct = MHD_lookup_connection_value (c, MHD_HEADER_KIND, "Content-Type");
        const char *x = MHD_lookup_connection_value (c, MHD_HEADER_KIND, "X-Test");
        char body[256];
        snprintf (body, sizeof body, "%s %zu ct=%s x=%s", method, conn->body_len, ct ? ct : "-",
                  x ? x : "-");
        const char *h[] = {"ETag", "\"abc\"", "x-amz-request-id", "REQ1", NULL};
        return s_reply (c, 200, body, h);
    }
    if (strcmp (url, "/barrier") == 0) {
        pthread_mutex_lock (&srv->lock);
        srv->active++;
        if (srv->active > srv->max_active)
            srv->max_active = srv->active;
        pthread_cond_broadcast (&srv->cond);
        s_wait (srv, s_barrier_full);
        srv->active--;
        pthread_mutex_unlock (&srv->lock);
        return s_reply (c, 200, "through", NULL);
    }
    if (strcmp (url, "/slow") == 0) {
        pthread_mutex_lock (&srv->lock);
        s_wait (srv, s_never);
        pthread_mutex_unlock (&srv->lock);
        return s_reply (c, 200, "late", NULL);
    }
    if (strcmp (url, "/big") == 0) {
        size_t len = 2 * 1024 * 1024;
        char *big = malloc (len + 1);
        memset (big, 'x', len);
        big[len] = '\0';
        enum MHD_Result rc = s_reply (c, 200, big, NULL);
        free (big);
        return rc;
    }
    if (strcmp (url, "/slowdown") == 0)
        return s_reply (c, 503,
                        "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code>"
                        "<Message>Please reduce your request rate.</Message></Error>",
                        NULL);
    if (strcmp (url, "/throttled") == 0)
        return s_reply (c, 400,
                        "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                        "<Message>Rate exceeded</Message></Error></ErrorResponse>",
                        NULL);
    if (strcmp (url, "/invalid") == 0)
        return s_reply (c, 400,
                        "<ErrorResponse><Error><Code>InvalidParameter</Code>"
                        "<Message>Invalid parameter: Message too long</Message></Error>"
                        "</ErrorResponse>",
                        NULL);
    if (strcmp (url, "/azure-auth") == 0) {
        const char *h[] = {"x-ms-error-code", "AuthenticationFailed", NULL};
        return s_reply (c, 403, "", h);
    }
    if (strcmp (url, "/json-throttle") == 0)
        return s_reply (c, 400,
                        "{\"__type\":\"com.amazonaws.sns#ThrottlingException\","
                        "\"message\":\"slow down\"}",
                        NULL);
    return s_reply (c, 404, "<Error><Code>NoSuchKey</Code></Error>", NULL);
}

static int
s_setup (void **state)
{
    s_server_t *srv = calloc (1, sizeof *srv);
    pthread_mutex_init (&srv->lock, NULL);
    pthread_cond_init (&srv->cond, NULL);
    struct sockaddr_in addr;
    memset (&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    addr.sin_port = 0;
    srv->daemon = MHD_start_daemon (
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, s_handler, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_NOTIFY_CONNECTION, s_on_connection, srv, MHD_OPTION_NOTIFY_COMPLETED,
        s_on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_END);
    assert_non_null (srv->daemon);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null (info);
    srv->port = info->port;
    *state = srv;
    return 0;
}

static int
s_teardown (void **state)
{
    s_server_t *srv = *state;
    pthread_mutex_lock (&srv->lock);
    srv->released = 1;
    pthread_cond_broadcast (&srv->cond);
    pthread_mutex_unlock (&srv->lock);
    MHD_stop_daemon (srv->daemon);
    pthread_cond_destroy (&srv->cond);
    pthread_mutex_destroy (&srv->lock);
    free (srv);
    return 0;
}

/* What one completion callback saw. */
typedef struct {
    int calls;                 /* times the callback ran */
    long status;               /* response status */
    int curl_code;             /* response curl code */
    long new_connections;      /* connections opened */
    char body[512];            /* start of the body */
    size_t body_len;           /* body length */
    bool truncated;            /* body truncated */
    char etag[64];             /* ETag header */
    char request_id[64];       /* x-amz-request-id header */
    hm_http_verdict_t verdict; /* classification */
    char reason[256];          /* classification reason */
} s_seen_t;

static void
s_on_done (const hm_http_response_t *r, void *arg)
{
    s_seen_t *seen = arg;
    seen->calls++;
    seen->status = r->status;
    seen->curl_code = r->curl_code;
    seen->new_connections = r->new_connections;
    snprintf (seen->body, sizeof seen->body, "%s", r->body);
    seen->body_len = r->body_len;
    seen->truncated = r->body_truncated;
    const char *v = hm_http_response_header (r, "etag");
    snprintf (seen->etag, sizeof seen->etag, "%s", v ? v : "");
    v = hm_http_response_header (r, "X-Amz-Request-Id");
    snprintf (seen->request_id, sizeof seen->request_id, "%s", v ? v : "");
    seen->verdict = hm_http_classify_response (r, seen->reason, sizeof seen->reason);
}

static void
s_url (s_server_t *srv, const char *path, char *out, size_t len)
{
    snprintf (out, len, "http://127.0.0.1:%d%s", srv->port, path);
}

static void
s_call (hm_http_client_t *client, s_server_t *srv, const char *method, const char *path,
        s_seen_t *seen)
{
    char url[128];
    s_url (srv, path, url, sizeof url);
    hm_http_request_t *req = hm_http_request_new (method, url);
    assert_non_null (req);
    memset (seen, 0, sizeof *seen);
    assert_int_equal (hm_http_client_submit (client, &req, s_on_done, seen), 0);
    assert_null (req);
    assert_int_equal (hm_http_client_drain (client, 20000), 0);
    assert_int_equal (seen->calls, 1);
}

static void
test_keep_alive (void **state)
{
    s_server_t *srv = *state;
    hm_http_client_t *client = hm_http_client_new (NULL);
    assert_non_null (client);
    s_seen_t seen;
    for (int i = 0; i < 5; i++) {
        char url[128];
        s_url (srv, "/ok", url, sizeof url);
        hm_http_request_t *req = hm_http_request_new ("PUT", url);
        assert_int_equal (hm_http_request_header (req, "X-Test", "yes"), 0);
        assert_int_equal (hm_http_request_copy_body (req, "0123456789", 10), 0);
        memset (&seen, 0, sizeof seen);
        assert_int_equal (hm_http_client_submit (client, &req, s_on_done, &seen), 0);
        assert_int_equal (hm_http_client_drain (client, 20000), 0);
        assert_int_equal (seen.calls, 1);
        assert_int_equal (seen.status, 200);
        /* The body went out as a PUT, without curl's form content type. */
        assert_string_equal (seen.body, "PUT 10 ct=- x=yes");
        assert_string_equal (seen.etag, "\"abc\"");
        assert_string_equal (seen.request_id, "REQ1");
        assert_int_equal (seen.verdict, HM_HTTP_OK);
        assert_int_equal (seen.new_connections, i == 0 ? 1 : 0);
    }
    pthread_mutex_lock (&srv->lock);
    int connections = srv->connections;
    pthread_mutex_unlock (&srv->lock);
    assert_int_equal (connections, 1);
    /* A zero-length PUT and a GET on the same connection. */
    s_call (client, srv, "PUT", "/ok", &seen);
    assert_string_equal (seen.body, "PUT 0 ct=- x=-");
    s_call (client, srv, "GET", "/ok", &seen);
    assert_string_equal (seen.body, "GET 0 ct=- x=-");
    assert_int_equal (seen.new_connections, 0);
    hm_http_client_destroy (&client);
    assert_null (client);
    hm_http_client_destroy (&client);
}

static void
test_many_in_flight (void **state)
{
    s_server_t *srv = *state;
    enum { N = 8 };
    hm_http_options_t opts = hm_http_options_default ();
    opts.max_in_flight = N;
    hm_http_client_t *client = hm_http_client_new (&opts);
    pthread_mutex_lock (&srv->lock);
    srv->barrier = N;
    pthread_mutex_unlock (&srv->lock);
    s_seen_t seen[N];
    memset (seen, 0, sizeof seen);
    char url[128];
    s_url (srv, "/barrier", url, sizeof url);
    for (int i = 0; i < N; i++) {
        hm_http_request_t *req = hm_http_request_new ("POST", url);
        assert_int_equal (hm_http_request_copy_body (req, "x", 1), 0);
        assert_int_equal (hm_http_client_submit (client, &req, s_on_done, &seen[i]), 0);
    }
    /* The bound: one more is refused and stays the caller's. */
    assert_true (hm_http_client_full (client));
    hm_http_request_t *extra = hm_http_request_new ("GET", url);
    s_seen_t unused;
    assert_int_equal (hm_http_client_submit (client, &extra, s_on_done, &unused), -1);
    assert_non_null (extra);
    hm_http_request_destroy (&extra);
    assert_int_equal (hm_http_client_drain (client, 30000), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal (seen[i].calls, 1);
        assert_int_equal (seen[i].status, 200);
        assert_string_equal (seen[i].body, "through");
    }
    pthread_mutex_lock (&srv->lock);
    int max_active = srv->max_active;
    pthread_mutex_unlock (&srv->lock);
    /* Only possible when all N were in the server at the same time. */
    assert_int_equal (max_active, N);
    assert_int_equal (hm_http_client_in_flight (client), 0);
    hm_http_client_destroy (&client);
}

static void
test_timeout_and_refused (void **state)
{
    s_server_t *srv = *state;
    hm_http_options_t opts = hm_http_options_default ();
    opts.total_timeout_ms = 300;
    opts.connect_timeout_ms = 300;
    hm_http_client_t *client = hm_http_client_new (&opts);
    s_seen_t seen;
    s_call (client, srv, "GET", "/slow", &seen);
    assert_int_equal (seen.curl_code, CURLE_OPERATION_TIMEDOUT);
    assert_int_equal (seen.status, 0);
    assert_int_equal (seen.verdict, HM_HTTP_RETRY);
    assert_non_null (strstr (seen.reason, "curl: "));

    /* A port nobody listens on: bind one, then close it. */
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset (&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    assert_int_equal (bind (fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal (getsockname (fd, (struct sockaddr *)&addr, &alen), 0);
    close (fd);
    char url[128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/ok", ntohs (addr.sin_port));
    hm_http_request_t *req = hm_http_request_new ("GET", url);
    memset (&seen, 0, sizeof seen);
    assert_int_equal (hm_http_client_submit (client, &req, s_on_done, &seen), 0);
    assert_int_equal (hm_http_client_drain (client, 20000), 0);
    assert_int_equal (seen.curl_code, CURLE_COULDNT_CONNECT);
    assert_int_equal (seen.verdict, HM_HTTP_RETRY);
    hm_http_client_destroy (&client);
}

static void
test_bounded_body_and_errors (void **state)
{
    s_server_t *srv = *state;
    hm_http_options_t opts = hm_http_options_default ();
    opts.max_body = 1024;
    hm_http_client_t *client = hm_http_client_new (&opts);
    s_seen_t seen;
    s_call (client, srv, "GET", "/big", &seen);
    assert_int_equal (seen.status, 200);
    assert_int_equal (seen.body_len, 1024);
    assert_true (seen.truncated);
    /* The rest was read, so the connection stays usable. */
    s_call (client, srv, "GET", "/ok", &seen);
    assert_int_equal (seen.new_connections, 0);

    s_call (client, srv, "PUT", "/slowdown", &seen);
    assert_int_equal (seen.verdict, HM_HTTP_RETRY);
    assert_string_equal (seen.reason, "HTTP 503 SlowDown: Please reduce your request rate.");
    s_call (client, srv, "POST", "/throttled", &seen);
    assert_int_equal (seen.verdict, HM_HTTP_RETRY);
    assert_string_equal (seen.reason, "HTTP 400 Throttling: Rate exceeded");
    s_call (client, srv, "POST", "/invalid", &seen);
    assert_int_equal (seen.verdict, HM_HTTP_DROP);
    assert_string_equal (seen.reason,
                         "HTTP 400 InvalidParameter: Invalid parameter: Message too long");
    s_call (client, srv, "PUT", "/azure-auth", &seen);
    assert_int_equal (seen.verdict, HM_HTTP_RETRY);
    assert_string_equal (seen.reason, "HTTP 403 AuthenticationFailed");
    s_call (client, srv, "POST", "/json-throttle", &seen);
    assert_int_equal (seen.verdict, HM_HTTP_RETRY);
    assert_string_equal (seen.reason, "HTTP 400 ThrottlingException: slow down");
    s_call (client, srv, "GET", "/missing", &seen);
    assert_int_equal (seen.verdict, HM_HTTP_RETRY);
    assert_string_equal (seen.reason, "HTTP 404 NoSuchKey");
    hm_http_client_destroy (&client);
}

/* The outside loop: fds from the client, poll (), perform. */
static void
test_outside_poll (void **state)
{
    s_server_t *srv = *state;
    hm_http_client_t *client = hm_http_client_new (NULL);
    char url[128];
    s_url (srv, "/ok", url, sizeof url);
    s_seen_t seen[3];
    memset (seen, 0, sizeof seen);
    for (int i = 0; i < 3; i++) {
        hm_http_request_t *req = hm_http_request_new ("GET", url);
        assert_int_equal (hm_http_client_submit (client, &req, s_on_done, &seen[i]), 0);
    }
    int rounds = 0, completed = 0;
    while (hm_http_client_in_flight (client) > 0 && rounds++ < 10000) {
        struct pollfd fds[16];
        long timeout = -1;
        int n = hm_http_client_pollfds (client, fds, 16, &timeout);
        assert_true (n >= 0);
        assert_true (timeout >= 0 && timeout <= 100);
        poll (fds, (nfds_t)n, (int)timeout);
        int done = hm_http_client_perform (client);
        assert_true (done >= 0);
        completed += done;
    }
    assert_int_equal (completed, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal (seen[i].status, 200);
    hm_http_client_destroy (&client);
}

/* Destroying the client with a request in flight still calls back once. */
static void
test_abort_on_destroy (void **state)
{
    s_server_t *srv = *state;
    hm_http_client_t *client = hm_http_client_new (NULL);
    char url[128];
    s_url (srv, "/slow", url, sizeof url);
    hm_http_request_t *req = hm_http_request_new ("GET", url);
    s_seen_t seen;
    memset (&seen, 0, sizeof seen);
    assert_int_equal (hm_http_client_submit (client, &req, s_on_done, &seen), 0);
    hm_http_client_run (client, 50);
    hm_http_client_destroy (&client);
    assert_int_equal (seen.calls, 1);
    assert_int_equal (seen.curl_code, CURLE_ABORTED_BY_CALLBACK);
    assert_int_equal (seen.verdict, HM_HTTP_RETRY);
}

static void
test_request_checks (void **state)
{
    (void)state;
    assert_null (hm_http_request_new ("", "http://x/"));
    assert_null (hm_http_request_new ("GET", NULL));
    hm_http_request_t *req = hm_http_request_new ("GET", "http://127.0.0.1:1/");
    assert_int_equal (hm_http_request_header (req, "X-Bad", "a\r\nInjected: 1"), -1);
    assert_int_equal (hm_http_request_header (req, "X:Bad", "a"), -1);
    assert_int_equal (hm_http_request_header (req, "X-Empty", ""), 0);
    hm_http_request_destroy (&req);
    assert_null (req);
    hm_http_request_destroy (&req);
}

static void
test_classify_table (void **state)
{
    (void)state;
    static const struct {
        long status;
        int curl_code;
        const char *code;
        hm_http_verdict_t want;
    } table[] = {
        {200, CURLE_OK, NULL, HM_HTTP_OK},
        {201, CURLE_OK, NULL, HM_HTTP_OK},
        {204, CURLE_OK, "", HM_HTTP_OK},
        {0, CURLE_OPERATION_TIMEDOUT, NULL, HM_HTTP_RETRY},
        {0, CURLE_COULDNT_CONNECT, NULL, HM_HTTP_RETRY},
        {0, CURLE_COULDNT_RESOLVE_HOST, NULL, HM_HTTP_RETRY},
        {0, CURLE_RECV_ERROR, NULL, HM_HTTP_RETRY},
        {0, CURLE_GOT_NOTHING, NULL, HM_HTTP_RETRY},
        {0, CURLE_SSL_CONNECT_ERROR, NULL, HM_HTTP_RETRY},
        {500, CURLE_OK, "InternalError", HM_HTTP_RETRY},
        {502, CURLE_OK, NULL, HM_HTTP_RETRY},
        {503, CURLE_OK, "SlowDown", HM_HTTP_RETRY},
        {503, CURLE_OK, "ServerBusy", HM_HTTP_RETRY},
        {408, CURLE_OK, NULL, HM_HTTP_RETRY},
        {429, CURLE_OK, NULL, HM_HTTP_RETRY},
        {400, CURLE_OK, "Throttling", HM_HTTP_RETRY},
        {400, CURLE_OK, "ThrottlingException", HM_HTTP_RETRY},
        {400, CURLE_OK, "RequestLimitExceeded", HM_HTTP_RETRY},
        {400, CURLE_OK, "RequestTimeout", HM_HTTP_RETRY},
        {400, CURLE_OK, "ExpiredToken", HM_HTTP_RETRY},
        {400, CURLE_OK, "InvalidAuthenticationInfo", HM_HTTP_RETRY},
        {401, CURLE_OK, NULL, HM_HTTP_RETRY},
        {403, CURLE_OK, "SignatureDoesNotMatch", HM_HTTP_RETRY},
        {403, CURLE_OK, "InvalidAccessKeyId", HM_HTTP_RETRY},
        {403, CURLE_OK, "InvalidClientTokenId", HM_HTTP_RETRY},
        {403, CURLE_OK, "AuthenticationFailed", HM_HTTP_RETRY},
        {403, CURLE_OK, "AuthorizationFailure", HM_HTTP_RETRY},
        {403, CURLE_OK, "AccessDenied", HM_HTTP_RETRY},
        {403, CURLE_OK, "RequestTimeTooSkewed", HM_HTTP_RETRY},
        {404, CURLE_OK, "NoSuchBucket", HM_HTTP_RETRY},
        {404, CURLE_OK, "QueueNotFound", HM_HTTP_RETRY},
        {404, CURLE_OK, "NotFound", HM_HTTP_RETRY},
        {409, CURLE_OK, "ContainerBeingDeleted", HM_HTTP_RETRY},
        {412, CURLE_OK, "LeaseIdMissing", HM_HTTP_RETRY},
        {301, CURLE_OK, "PermanentRedirect", HM_HTTP_RETRY},
        {400, CURLE_OK, "InvalidParameter", HM_HTTP_DROP},
        {400, CURLE_OK, "InvalidParameterValue", HM_HTTP_DROP},
        {400, CURLE_OK, "MessageTooLarge", HM_HTTP_DROP},
        {400, CURLE_OK, "EntityTooLarge", HM_HTTP_DROP},
        {400, CURLE_OK, NULL, HM_HTTP_DROP},
        {413, CURLE_OK, "RequestEntityTooLarge", HM_HTTP_DROP},
        {413, CURLE_OK, NULL, HM_HTTP_DROP},
        {411, CURLE_OK, "MissingContentLength", HM_HTTP_DROP},
        {415, CURLE_OK, NULL, HM_HTTP_DROP},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        char reason[128];
        hm_http_verdict_t got = hm_http_classify (table[i].status, table[i].curl_code,
                                                  table[i].code, reason, sizeof reason);
        if (got != table[i].want)
            print_error ("status %ld curl %d code %s: got %s, want %s (%s)\n", table[i].status,
                         table[i].curl_code, table[i].code ? table[i].code : "-",
                         hm_http_verdict_name (got), hm_http_verdict_name (table[i].want), reason);
        assert_int_equal (got, table[i].want);
    }
    char reason[64];
    hm_http_classify (413, CURLE_OK, "RequestEntityTooLarge", reason, sizeof reason);
    assert_string_equal (reason, "HTTP 413 RequestEntityTooLarge");
    hm_http_classify (0, CURLE_OPERATION_TIMEDOUT, NULL, reason, sizeof reason);
    assert_string_equal (reason, "curl: Timeout was reached");
    assert_int_equal (hm_http_classify (500, CURLE_OK, NULL, NULL, 0), HM_HTTP_RETRY);
}

/* The class each RETRY counts under in hamustro_sink_retries_by_reason_total. */
static void
test_retry_class_table (void **state)
{
    (void)state;
    static const struct {
        long status;
        int curl_code;
        const char *code;
        hm_retry_class_t want;
    } table[] = {
        {0, CURLE_OPERATION_TIMEDOUT, NULL, HM_RETRY_TIMEOUT},
        {0, CURLE_COULDNT_CONNECT, NULL, HM_RETRY_CONNECT},
        {0, CURLE_COULDNT_RESOLVE_HOST, NULL, HM_RETRY_CONNECT},
        {0, CURLE_RECV_ERROR, NULL, HM_RETRY_CONNECT},
        {0, CURLE_GOT_NOTHING, NULL, HM_RETRY_CONNECT},
        {0, CURLE_SSL_CONNECT_ERROR, NULL, HM_RETRY_CONNECT},
        {408, CURLE_OK, NULL, HM_RETRY_TIMEOUT},
        {400, CURLE_OK, "RequestTimeout", HM_RETRY_TIMEOUT},
        {500, CURLE_OK, "OperationTimedOut", HM_RETRY_TIMEOUT},
        {429, CURLE_OK, NULL, HM_RETRY_THROTTLED},
        {503, CURLE_OK, "SlowDown", HM_RETRY_THROTTLED},
        {503, CURLE_OK, "ServerBusy", HM_RETRY_THROTTLED},
        {400, CURLE_OK, "Throttling", HM_RETRY_THROTTLED},
        {400, CURLE_OK, "RequestLimitExceeded", HM_RETRY_THROTTLED},
        {401, CURLE_OK, NULL, HM_RETRY_AUTH},
        {403, CURLE_OK, "AccessDenied", HM_RETRY_AUTH},
        {400, CURLE_OK, "ExpiredToken", HM_RETRY_AUTH},
        {403, CURLE_OK, "RequestTimeTooSkewed", HM_RETRY_AUTH},
        {404, CURLE_OK, "NoSuchBucket", HM_RETRY_HTTP_4XX},
        {409, CURLE_OK, "ContainerBeingDeleted", HM_RETRY_HTTP_4XX},
        {412, CURLE_OK, NULL, HM_RETRY_HTTP_4XX},
        {500, CURLE_OK, "InternalError", HM_RETRY_HTTP_5XX},
        {502, CURLE_OK, NULL, HM_RETRY_HTTP_5XX},
        {503, CURLE_OK, NULL, HM_RETRY_HTTP_5XX},
        {503, CURLE_OK, "ServiceUnavailable", HM_RETRY_HTTP_5XX},
        {301, CURLE_OK, "PermanentRedirect", HM_RETRY_OTHER},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        hm_retry_class_t got =
            hm_http_retry_class (table[i].status, table[i].curl_code, table[i].code);
        if (got != table[i].want)
            print_error ("status %ld curl %d code %s: got %s, want %s\n", table[i].status,
                         table[i].curl_code, table[i].code ? table[i].code : "-",
                         hm_retry_class_name (got), hm_retry_class_name (table[i].want));
        assert_int_equal (got, table[i].want);
    }
    assert_string_equal (hm_retry_class_name (HM_RETRY_HTTP_5XX), "http_5xx");
    assert_string_equal (hm_retry_class_name (HM_RETRY_CLASSES), "other");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_keep_alive, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_many_in_flight, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_timeout_and_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bounded_body_and_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_outside_poll, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_abort_on_destroy, s_setup, s_teardown),
        cmocka_unit_test (test_request_checks),
        cmocka_unit_test (test_classify_table),
        cmocka_unit_test (test_retry_class_table),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
