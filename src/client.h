/* Client connections on the event loop, for every command that asks
 * (loom get, loom bench, the proxy): name resolution, a non-blocking
 * connect with a timeout, TLS with ALPN and SNI, then HTTP/2 (over TLS, by
 * prior knowledge, or by the HTTP/1.1 Upgrade) or HTTP/1.1 keep-alive.
 * Requests queue above what the server allows at once (its
 * SETTINGS_MAX_CONCURRENT_STREAMS; one at a time over HTTP/1.1); a request
 * the server never processed (REFUSED_STREAM, above a GOAWAY's last stream)
 * is handed back to be sent again on another connection. */
#ifndef LOOM_SRC_CLIENT_H
#define LOOM_SRC_CLIENT_H

#include <netdb.h>
#include <stdint.h>

#include "loom/loom.h"
#include "loop.h"
#include "transport.h"

typedef struct cl_conn cl_conn;

/* A tunnel's octets from the server held unconsumed (with
 * cl_opts.h2.manual_window) before reading stops: a WebSocket through
 * the proxy holds at most about this much each way. */
#define CL_TUNNEL_MAX (32u * 1024)
typedef struct cl_req cl_req;

/* How a connection speaks. */
typedef enum {
    CL_TLS,     /* TLS; ALPN h2 (and http/1.1 when allow_h1) */
    CL_H2C,     /* cleartext HTTP/2, prior knowledge (RFC 9113 §3.3) */
    CL_UPGRADE, /* cleartext: the first request asks to upgrade to h2c (RFC 7540 §3.2);
                   refused, the connection stays HTTP/1.1 when allow_h1 */
    CL_H1,      /* cleartext HTTP/1.1 */
} cl_mode;

typedef enum { CL_PROTO_NONE, CL_PROTO_H2, CL_PROTO_H1 } cl_proto;

/* Why a connection failed (cl_error). */
typedef enum {
    CLE_NONE,
    CLE_DNS,      /* the name does not resolve */
    CLE_CONNECT,  /* refused or unreachable */
    CLE_TIMEOUT,  /* connect or TLS handshake took too long */
    CLE_TLS,      /* the handshake failed, or the certificate did not verify */
    CLE_NO_H2,    /* the server does not speak HTTP/2 and HTTP/1.1 was not allowed */
    CLE_PROTOCOL, /* the server broke HTTP (a connection error, a malformed response) */
    CLE_CLOSED,   /* the server closed the connection */
    CLE_IO,       /* a socket error */
} cl_error_kind;

typedef struct {
    cl_mode mode;
    SSL_CTX *tls;                /* CL_TLS */
    int allow_h1;                /* fall back to HTTP/1.1 (ALPN, a refused Upgrade) */
    const char *sni;             /* TLS server name (NULL: the host, unless an IP literal) */
    int verify;                  /* check the certificate against the host name */
    int connect_timeout_ms;      /* connect and TLS handshake (0: 10 s) */
    const struct sockaddr *addr; /* connect here instead of resolving host (--resolve) */
    socklen_t addrlen;
    loom_config h2; /* the engine's settings (loom_config_default() first) */
} cl_opts;

typedef struct {
    /* the connection is up and speaks proto */
    void (*ready)(cl_conn *c);
    /* every HTTP/2 event of the engine, first (tracing, pushes, ORIGIN):
     * return non-zero to end the connection */
    int (*event)(cl_conn *c, const loom_event *ev);
    /* HTTP/1.1 heads as written and read (tracing) */
    void (*h1_head)(cl_conn *c, int sent, const char *p, size_t n);
    /* the connection ended (err CLE_NONE after a clean close); the done()
     * of the requests still on it follow (failed, or handed back when never
     * sent), then the connection is freed. */
    void (*closed)(cl_conn *c, cl_error_kind err, const char *why);
} cl_conn_cb;

/* Outcomes of a request (cl_req_cb.done). */
enum {
    CL_DONE_OK = 0,      /* the whole response came */
    CL_DONE_RETRY = 1,   /* never processed by the server: safe to send again elsewhere */
    CL_DONE_FAILED = -1, /* reset (h2_code), or the connection failed (cl_error) */
};

typedef struct {
    /* a response head: final (informational 0) or 1xx; names as received
     * (lowercase over HTTP/2) */
    void (*head)(cl_req *r, int status, const loom_hpack_field *f, size_t n, int informational);
    void (*data)(cl_req *r, const uint8_t *p, size_t n);
    void (*trailers)(cl_req *r, const loom_hpack_field *f, size_t n);
    void (*done)(cl_req *r, int outcome);
} cl_req_cb;

struct cl_req {
    /* the request, set by the caller; strings live until done() */
    const char *method, *scheme, *authority, *path;
    const loom_hpack_field *fields; /* the other fields, lowercase names */
    size_t nfields;
    const uint8_t *body; /* NULL: no body */
    size_t body_len;
    /* or a body given as it comes: copies up to max octets, sets *eof at
     * the end, LOOM_BODY_DEFER when there is nothing yet (cl_resume()
     * when there is), negative to fail; body_size its length, -1 when not
     * known (chunked over HTTP/1.1) */
    long (*body_read)(cl_req *r, uint8_t *buf, size_t max, int *eof);
    int64_t body_size;
    int urgency;     /* RFC 9218 priority sent as PRIORITY_UPDATE, -1 for none */
    int incremental; /* with it */
    const cl_req_cb *cb;
    void *user;
    /* set by the client */
    cl_conn *conn;
    int32_t sid; /* HTTP/2 stream, 0 over HTTP/1.1 */
    int status;
    uint32_t h2_code;     /* the code it was reset with */
    size_t req_head_wire; /* the request head on the wire: HPACK octets or HTTP/1.1 text */
    size_t resp_head_wire;
    uint64_t body_off;   /* HTTP/1.1: request body octets written */
    uint64_t unconsumed; /* HTTP/1.1 response octets given to data(), not cl_consumed() */
    uint8_t sent, pushed, body_eof;
    uint8_t http_minor; /* HTTP/1.x: the response's minor version (1.0 or 1.1) */
    uint8_t head_ended; /* HTTP/2: the final head ended the response (no body, no trailers) */
    /* HTTP/1.1 Upgrade (a WebSocket): the head goes without body framing;
     * a 101 makes the connection a tunnel: body_read's octets go out as
     * they are, what comes in goes to data() (after head(101)) until the
     * close, which is done(OK) */
    uint8_t tunnel;
    /* the method, path, authority and fields this points to stay as they
     * are for the connection's life (a load generator's): an HTTP/1.1 head
     * like the last one is reused, compared by address. Others (a proxy
     * whose strings are freed and their addresses reused) leave it 0. */
    uint8_t same_strings;
    /* set by the client: sent on an HTTP/1.1 connection that had already
     * carried a response (a kept-alive one the server may be closing) */
    uint8_t reused;
    cl_req *next;
};

/* Starts a connection to host:port (resolved now, unless o->addr). Never
 * NULL but for lack of memory: failures come through cb->closed. */
cl_conn *cl_connect(loop *l, const char *host, const char *port, const cl_opts *o,
                    const cl_conn_cb *cb, void *user);
/* Queues a request; it goes out as the connection allows. */
void cl_submit(cl_conn *c, cl_req *r);
/* Client push (RFC 9113 §8.4): take a promised stream as request r (its
 * head, data and done come through r->cb), or refuse it (RST_STREAM
 * CANCEL). Call from cb->event on LOOM_EV_PUSH_PROMISE. */
int cl_push_accept(cl_conn *c, int32_t promised_id, cl_req *r);
/* body_read has data again. */
void cl_resume(cl_req *r);
/* With cl_opts.h2.manual_window: n octets of r's response body were used;
 * over HTTP/2 its window opens by that much, over HTTP/1.1 reading goes on
 * once less than 128 KiB is unconsumed (it stops at 256 KiB). The server
 * is slowed by flow control, not by buffering. */
void cl_consumed(cl_req *r, size_t n);
/* r is no longer wanted: taken out of the queue, its stream reset
 * (CANCEL), or over HTTP/1.1 its connection closed. No callback of r's
 * follows. */
void cl_cancel(cl_req *r);
/* No new requests; GOAWAY, and the connection closes once idle. */
void cl_shutdown(cl_conn *c);
/* Ends the connection now: requests not done fail (or are handed back
 * when never sent). Safe from callbacks: it happens after them. */
void cl_abort(cl_conn *c, cl_error_kind err, const char *why);

void *cl_user(const cl_conn *c);
cl_proto cl_protocol(const cl_conn *c);
loom_conn *cl_engine(cl_conn *c); /* HTTP/2 only, else NULL */
const transport *cl_transport(const cl_conn *c);
const char *cl_ip(const cl_conn *c); /* the address connected to */
const struct sockaddr_storage *cl_addr(const cl_conn *c);
/* The request whose HEADERS the engine is writing now (in cb->event, for
 * tracing the frames sent), else NULL. */
cl_req *cl_submitting(const cl_conn *c);
/* Requests queued or in flight. */
int cl_load(const cl_conn *c);
int cl_accepting(const cl_conn *c); /* up (or coming up), not going away */
/* accepting, and not closing after its current HTTP/1.1 response (nor a
 * tunnel): a request submitted now (even from a done() callback) goes */
int cl_reusable(const cl_conn *c);
/* Microseconds from cl_connect() to the name resolved (-1: an address
 * was given), the connect and the TLS handshake (-1 not reached), and to
 * ready. */
int64_t cl_time_dns(const cl_conn *c);
int64_t cl_time_connect(const cl_conn *c), cl_time_tls(const cl_conn *c),
    cl_time_ready(const cl_conn *c);
uint64_t cl_now_us(void);

/* A command line's "-H 'Name: value'": *name (allocated, lowercased as
 * RFC 9113 §8.2.1 wants) and *value (inside arg, leading spaces skipped).
 * With allow_pseudo, ":authority: x" names a pseudo-header, as h2load
 * allows. Returns 0, or -1 when arg has no name before a colon. */
int cl_header_arg(const char *arg, int allow_pseudo, char **name, const char **value);

#endif
