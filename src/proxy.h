/* loom serve as a reverse proxy: requests whose path starts with a route's
 * prefix go to its backends (HTTP/1.1 over TCP or a Unix socket, h2c, or
 * h2/HTTP/1.1 over TLS), through src/client.c's connections, pooled per
 * worker. Bodies stream both ways with bounded buffers: the front's
 * HTTP/2 window opens only as the backend takes the request body, and the
 * backend's window (or, over HTTP/1.1, its socket) only as the front
 * client takes the response. RFC 9110 §7.6 (hop-by-hop fields), §7.6.3
 * (Via), RFC 7239 (Forwarded). */
#ifndef LOOM_SRC_PROXY_H
#define LOOM_SRC_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "loom/loom.h"
#include "loop.h"

#define PROXY_MAX_ROUTES   32
#define PROXY_MAX_BACKENDS 16 /* per route */

enum { PROXY_ROUND_ROBIN = 0, PROXY_LEAST = 1 };

typedef struct {
    const char **routes; /* "PREFIX=URL[,URL...]" */
    size_t nroutes;
    const char *cacert;     /* https:// backends verified against these CAs (NULL: the system's) */
    int host_backend;       /* Host/:authority: the backend's name (1) or the client's (0) */
    int connect_timeout_ms; /* connect (and TLS handshake) to a backend */
    int first_byte_ms;      /* from the request sent to the response head */
    int idle_ms;            /* between two reads of a response body */
    int max_conns;          /* HTTP/1.1 connections per backend and worker */
    int balance;            /* PROXY_ROUND_ROBIN or PROXY_LEAST */
    int fail_max;           /* failures in a row that take a backend out... */
    int fail_ms;            /* ...for this long */
} proxy_opts;

typedef struct proxy_conf proxy_conf;
typedef struct proxy_pool proxy_pool;
typedef struct px px;

/* The routes read: NULL with a reason in err (a bad URL, too many). */
proxy_conf *proxy_conf_new(const proxy_opts *o, char *err, size_t errlen);
void proxy_conf_free(proxy_conf *pc);
/* The route of a path (the longest prefix that matches), -1 for none. */
int proxy_route(const proxy_conf *pc, const char *path, size_t len);

/* A worker's connections to the backends (for its loop). */
proxy_pool *proxy_pool_new(loop *l);
/* Every backend connection told to close (they do from the loop: run it
 * a turn); returns how many there were. */
int proxy_pool_close(proxy_pool *pp);
void proxy_pool_free(proxy_pool *pp);

/* What the proxy tells the front (the client's side) of a request. */
typedef struct {
    /* the response head, its fields filtered (hop-by-hop out, Via in);
     * end: nothing follows it (gRPC's trailers-only answer keeps that
     * shape: its status is in this head) */
    void (*head)(void *front, int status, const loom_hpack_field *f, size_t n, int end);
    /* proxy_read() has more (data, the end, trailers) */
    void (*more)(void *front);
    /* it failed: before head(), answer status (502, 504) with why; after,
     * the response must not look complete (reset the stream) */
    void (*error)(void *front, int status, const char *why);
    /* n octets of the request body went to the backend: the front's
     * window may open by that much */
    void (*consumed)(void *front, size_t n);
    /* a line for the error log */
    void (*log)(void *front, const char *line);
} proxy_front;

typedef struct {
    const char *method, *authority, *path;
    const loom_hpack_field *fields; /* the client's, pseudo-headers left out */
    size_t nfields;
    int64_t body_size; /* 0 none, -1 not known */
    const char *client_ip;
    const char *protocol; /* RFC 8441 extended CONNECT's :protocol ("websocket"), or NULL */
    int tls;              /* the client came over TLS (X-Forwarded-Proto) */
    int front_http;       /* 2 or 1: the client's HTTP version (Via) */
    /* an HTTP/1.1 client's WebSocket Upgrade (RFC 6455 §4.1; protocol
     * "websocket"): its Sec-WebSocket-Key, sent on as it is. The backend's
     * 101 goes back to the client as a 101 (head() with status 101 and the
     * Upgrade, Connection and Sec-WebSocket-* fields to send), and then
     * both ways are a tunnel: proxy_body() the client's octets, proxy_read()
     * the backend's, either's end the other's. NULL: an RFC 8441 extended
     * CONNECT (the answer is a 200) or no WebSocket. */
    const char *ws_key;
} proxy_request;

/* Starts a request to a backend of route; NULL when out of memory. The
 * front hears of it through ops (never from inside this call). */
px *proxy_start(proxy_pool *pp, const proxy_conf *pc, int route, const proxy_request *rq,
                const proxy_front *ops, void *front);
/* Request body octets from the client (copied), end at its end (a
 * tunnel's: the client's side ended). */
void proxy_body(px *x, const uint8_t *p, size_t n, int end);
/* The response body: up to max octets copied, *eof at its end;
 * LOOM_BODY_DEFER when there is nothing yet (ops->more() follows). */
long proxy_read(px *x, uint8_t *buf, size_t max, int *eof);
/* The response's trailers (valid until proxy_free), n 0 for none. */
const loom_hpack_field *proxy_trailers(px *x, size_t *n);
/* The backend's status (0 before a head) and what it answered with. */
int proxy_status(const px *x);
/* The client went away or reset, or the response was sent: the backend
 * request (if still on) is cancelled, and x freed (from the loop). No ops
 * call follows. */
void proxy_free(px *x);

#endif
