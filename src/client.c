/* Client connections: the loop drives each through connect, TLS, the
 * protocol's start, then requests. A connection ends only from the loop
 * (its I/O handler or a timer), never inside a call the owner makes, so
 * that an owner's callbacks see a stable world. */
#define _GNU_SOURCE
#include "client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "h1.h"

enum { CS_CONNECTING, CS_HANDSHAKE, CS_UPGRADING, CS_READY, CS_DEAD };

#define RBUF (64 * 1024)

struct cl_conn {
    loop *l;
    cl_opts o;
    const cl_conn_cb *cb;
    void *user;
    char host[256], port[16];
    struct addrinfo *ai, *cur; /* the addresses, the one being tried */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char ip[64];
    transport tp;
    int state;
    cl_proto proto;
    loom_conn *h2;
    cl_req *qhead, *qtail; /* queued, not sent */
    int nq;                /* how many are queued (cl_load() without a walk) */
    int nflight;           /* sent, not done */
    cl_req *submitting;    /* whose HEADERS the engine is writing */
    /* HTTP/1.1 */
    h1_msg *resp;
    cl_req *h1cur; /* the request on the wire */
    /* the last request head written, kept: a request like it (the same
     * strings and fields, as a load generator sends) reuses the text */
    struct {
        const char *method, *path, *authority;
        const loom_hpack_field *fields;
        size_t nfields, len;
        int64_t body_len;
        char *text;
    } last;
    int h1_close; /* close after the current response */
    /* life */
    uint64_t t0, t_dns, t_conn, t_tls, t_ready;
    int h2_heard;    /* HTTP/2 octets came from the server */
    int paused;      /* HTTP/1.1: reading stops until the response's octets are consumed */
    int tunneling;   /* HTTP/1.1: after a 101 to a tunnel request (cl_req.tunnel) */
    int tunnel_shut; /* its request side ended: our writing side shut */
    int served;      /* HTTP/1.1: responses it carried */
    uint64_t timer, kick, reread;
    int depth; /* inside this connection's handlers */
    int shutting, goaway;
    cl_error_kind err;
    char why[256];
    int watching; /* the events asked of the loop, + 1 */
};

uint64_t cl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void *cl_user(const cl_conn *c)
{
    return c->user;
}
cl_proto cl_protocol(const cl_conn *c)
{
    return c->proto;
}
loom_conn *cl_engine(cl_conn *c)
{
    return c->h2;
}
const transport *cl_transport(const cl_conn *c)
{
    return &c->tp;
}
const char *cl_ip(const cl_conn *c)
{
    return c->ip;
}
const struct sockaddr_storage *cl_addr(const cl_conn *c)
{
    return &c->addr;
}
cl_req *cl_submitting(const cl_conn *c)
{
    return c->submitting;
}
int cl_load(const cl_conn *c)
{
    return c->nflight + c->nq;
}
int cl_accepting(const cl_conn *c)
{
    return c->state != CS_DEAD && !c->shutting && !c->goaway;
}
int cl_reusable(const cl_conn *c)
{
    return cl_accepting(c) && !c->h1_close && !c->tunneling;
}
static int64_t since(const cl_conn *c, uint64_t t)
{
    return t ? (int64_t)(t - c->t0) : -1;
}
int64_t cl_time_dns(const cl_conn *c)
{
    return since(c, c->t_dns);
}
int64_t cl_time_connect(const cl_conn *c)
{
    return since(c, c->t_conn);
}
int64_t cl_time_tls(const cl_conn *c)
{
    return since(c, c->t_tls);
}
int64_t cl_time_ready(const cl_conn *c)
{
    return since(c, c->t_ready);
}

static void on_io(loop *l, int fd, uint32_t events, void *user);
static void reread_fired(loop *l, void *user);
static void pump(cl_conn *c);
static void settle(cl_conn *c);

/* The connection failed (or ended): noted now, acted on by settle(). */
static void fail(cl_conn *c, cl_error_kind err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(cl_conn *c, cl_error_kind err, const char *fmt, ...)
{
    if (c->state == CS_DEAD) return;
    c->state = CS_DEAD;
    c->err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
}

static void kicked(loop *l, void *user)
{
    (void)l;
    cl_conn *c = user;
    c->kick = 0;
    c->depth++;
    pump(c);
    c->depth--;
    settle(c);
}

/* Something to do from the loop soon (a submission outside a handler). */
static void kick(cl_conn *c)
{
    if (!c->kick) c->kick = loop_timer(c->l, 0, kicked, c);
}

static void watch(cl_conn *c, int write)
{
    int want = (c->paused ? 0 : LOOP_READ) | (write ? LOOP_WRITE : 0);
    if (c->watching == want + 1 || c->tp.fd < 0) return;
    c->watching = want + 1;
    loop_mod(c->l, c->tp.fd, (uint32_t)want);
}

/* ---- requests done ---- */

static void req_done(cl_conn *c, cl_req *r, int outcome)
{
    if (r->sent) c->nflight--;
    r->sent = 0;
    r->next = NULL;
    if (r->cb && r->cb->done) r->cb->done(r, outcome);
    (void)c;
}

static void enqueue_front(cl_conn *c, cl_req *r)
{
    r->next = c->qhead;
    c->qhead = r;
    if (!c->qtail) c->qtail = r;
    c->nq++;
}

/* ---- HTTP/2 ---- */

static int h2_event(loom_conn *lc, const loom_event *ev, void *user)
{
    cl_conn *c = user;
    if (c->cb->event && c->cb->event(c, ev)) {
        fail(c, CLE_CLOSED, "ended by the application");
        return 1;
    }
    cl_req *r = ev->stream_user;
    switch (ev->type) {
    case LOOM_EV_HEADERS:
        if (!r) break;
        r->resp_head_wire += ev->u.headers.wire_len;
        if (ev->u.headers.status >= 200) r->status = ev->u.headers.status;
        r->head_ended = (uint8_t)ev->u.headers.end_stream;
        if (r->cb->head)
            r->cb->head(r, ev->u.headers.status, ev->u.headers.fields, ev->u.headers.n,
                        ev->u.headers.status < 200);
        break;
    case LOOM_EV_DATA:
        if (r && r->cb->data && ev->u.data.len) r->cb->data(r, ev->u.data.data, ev->u.data.len);
        break;
    case LOOM_EV_TRAILERS:
        if (r) r->resp_head_wire += ev->u.headers.wire_len;
        if (r && r->cb->trailers) r->cb->trailers(r, ev->u.headers.fields, ev->u.headers.n);
        break;
    case LOOM_EV_STREAM_CLOSED:
        if (!r) break;
        loom_stream_set_user(lc, ev->stream_id, NULL);
        if (ev->u.closed.error_code == 0) {
            req_done(c, r, CL_DONE_OK);
        } else if (ev->u.closed.retry_safe && !r->pushed) {
            /* never processed: again here when the connection goes on,
             * else elsewhere */
            r->sid = 0;
            if (!c->goaway && c->state != CS_DEAD && !c->shutting) {
                c->nflight--;
                r->sent = 0;
                enqueue_front(c, r);
            } else {
                req_done(c, r, CL_DONE_RETRY);
            }
        } else {
            r->h2_code = ev->u.closed.error_code;
            req_done(c, r, CL_DONE_FAILED);
        }
        break;
    case LOOM_EV_GOAWAY:
        c->goaway = 1;
        if (ev->u.goaway.error_code)
            snprintf(c->why, sizeof(c->why), "the server sent GOAWAY %s%s%.*s",
                     loom_h2_code_name(ev->u.goaway.error_code), ev->u.goaway.debug_len ? ": " : "",
                     (int)ev->u.goaway.debug_len, (const char *)ev->u.goaway.debug);
        break;
    case LOOM_EV_ERROR: fail(c, CLE_PROTOCOL, "connection error: %s", ev->u.error.reason); break;
    default: break;
    }
    return 0;
}

static int start_h2(cl_conn *c)
{
    /* frames are traced only for an owner that looks at events */
    c->o.h2.no_frame_events = c->cb->event == NULL;
    c->h2 = loom_conn_new(LOOM_CLIENT, &c->o.h2, h2_event, c);
    if (!c->h2) {
        fail(c, CLE_IO, "out of memory");
        return -1;
    }
    c->proto = CL_PROTO_H2;
    return 0;
}

/* A body given as it comes (cl_req.body_read), for the engine. */
static long body_pull(void *user, int32_t sid, uint8_t *buf, size_t max, int *eof)
{
    (void)sid;
    cl_req *r = user;
    return r->body_read(r, buf, max, eof);
}

/* Sends queued requests as streams, up to the server's limit. */
static void h2_submit(cl_conn *c)
{
    while (c->qhead && !c->goaway) {
        cl_req *r = c->qhead;
        loom_hpack_field f[4 + 128];
        size_t n = 0;
#define PSEUDO(nm, v)                                                                              \
    f[n++] = (loom_hpack_field){(const uint8_t *)(nm), sizeof(nm) - 1, (const uint8_t *)(v),       \
                                strlen(v), 0}
        PSEUDO(":method", r->method);
        PSEUDO(":scheme", r->scheme);
        PSEUDO(":authority", r->authority);
        PSEUDO(":path", r->path);
#undef PSEUDO
        for (size_t i = 0; i < r->nfields && n < sizeof(f) / sizeof(f[0]); i++)
            f[n++] = r->fields[i];
        loom_body b = {.data = r->body, .len = r->body_len, .fd = -1};
        if (r->body_read) b = (loom_body){.fd = -1, .read = body_pull, .user = r};
        c->submitting = r;
        loom_conn_stats st;
        loom_conn_get_stats(c->h2, &st);
        uint64_t before = st.header_bytes_out;
        int32_t sid = loom_request(c->h2, f, n, r->body || r->body_read ? &b : NULL);
        loom_conn_get_stats(c->h2, &st);
        r->req_head_wire = (size_t)(st.header_bytes_out - before); /* HPACK octets */
        c->submitting = NULL;
        if (sid == LOOM_ERR_LIMIT) return; /* the server's stream limit: when one ends */
        c->qhead = r->next;
        if (!c->qhead) c->qtail = NULL;
        c->nq--;
        r->next = NULL;
        if (sid < 0) { /* going away, or ids ran out: elsewhere */
            req_done(c, r, CL_DONE_RETRY);
            continue;
        }
        r->sid = sid;
        r->sent = 1;
        c->nflight++;
        loom_stream_set_user(c->h2, sid, r);
        if (r->urgency >= 0) loom_set_priority(c->h2, sid, (uint8_t)r->urgency, r->incremental);
    }
}

/* ---- HTTP/1.1 ---- */

/* HTTP/1.1 reading pauses while this much of a response is unconsumed
 * (manual_window), and goes on below half of it */
#define H1_UNCONSUMED_MAX (256u * 1024)

/* A tunnel's (cl_req.tunnel, after the 101) in-bound octets not consumed:
 * smaller, a WebSocket holds the least (CL_TUNNEL_MAX, client.h) */
static uint64_t unconsumed_max(const cl_conn *c)
{
    return c->tunneling ? CL_TUNNEL_MAX : H1_UNCONSUMED_MAX;
}

static int h1_body(h1_msg *m, const uint8_t *p, size_t n)
{
    cl_conn *c = m->user;
    cl_req *r = c->h1cur;
    if (!r) return 0;
    if (c->o.h2.manual_window) {
        r->unconsumed += n;
        if (r->unconsumed >= H1_UNCONSUMED_MAX) c->paused = 1;
    }
    if (r->cb->data) r->cb->data(r, p, n);
    return 0;
}

static void h1_head(cl_conn *c);

/* The parser reached the end of a head: reported before its body. The
 * 101 of an Upgrade is taken once the parser stops, with what follows. */
static int h1_on_head(h1_msg *m)
{
    cl_conn *c = m->user;
    if (!(c->state == CS_UPGRADING && h1_status(m) == 101)) h1_head(c);
    return c->state == CS_DEAD;
}

static void start_h1(cl_conn *c)
{
    c->proto = CL_PROTO_H1;
    if (!c->resp && (c->resp = malloc(sizeof(*c->resp)))) {
        h1_init(c->resp, 1, h1_body, c);
        c->resp->on_head = h1_on_head;
    }
    if (!c->resp) fail(c, CLE_IO, "out of memory");
}

/* The head of an HTTP/1.1 request (with the h2c Upgrade when asked). */
static int h1_write_head(cl_conn *c, cl_req *r, int upgrade)
{
    /* -2: chunked (a body given as it comes, of a length not known) */
    int64_t body_len = r->tunnel      ? -1 /* nothing until the 101 */
                       : r->body_read ? (r->body_size >= 0 ? r->body_size : -2)
                       : r->body      ? (int64_t)r->body_len
                                      : -1;
    if (!upgrade && r->same_strings && !r->body_read && c->last.text &&
        c->last.method == r->method && c->last.path == r->path &&
        c->last.authority == r->authority && c->last.fields == r->fields &&
        c->last.nfields == r->nfields && c->last.body_len == body_len) {
        r->req_head_wire = c->last.len;
        if (c->cb->h1_head) c->cb->h1_head(c, 1, c->last.text, c->last.len);
        if (tp_write(&c->tp, c->last.text, c->last.len) == TP_ERROR) {
            fail(c, CLE_IO, "%s", c->tp.err);
            return -1;
        }
        return 0;
    }
    char buf[H1_MAX_HEAD];
    h1_out o = {buf, 0, sizeof(buf), 0};
    h1_request_head(&o, r->method, r->path, r->authority, r->fields, r->nfields, body_len);
    if (upgrade) {
        /* RFC 7540 §3.2.1: HTTP2-Settings is our first SETTINGS, the same
         * values as the frame that follows (some may not change later) */
        const loom_config *k = &c->o.h2;
        loom_setting s[] = {{LOOM_SETTINGS_HEADER_TABLE_SIZE, k->header_table_size},
                            {LOOM_SETTINGS_ENABLE_PUSH, k->enable_push},
                            {LOOM_SETTINGS_MAX_CONCURRENT_STREAMS, k->max_concurrent_streams},
                            {LOOM_SETTINGS_INITIAL_WINDOW_SIZE, k->initial_window_size},
                            {LOOM_SETTINGS_MAX_FRAME_SIZE, k->max_frame_size},
                            {LOOM_SETTINGS_MAX_HEADER_LIST_SIZE, k->max_header_list_size},
                            {LOOM_SETTINGS_NO_RFC7540_PRIORITIES, k->no_rfc7540_priorities}};
        char b64[128];
        h1_settings_b64(s, 7, b64, sizeof(b64));
        h1_printf(&o,
                  "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: %s\r\n",
                  b64);
    }
    h1_put(&o, "\r\n", 2);
    if (o.overflow) {
        fail(c, CLE_IO, "the request head is larger than %d octets", H1_MAX_HEAD);
        return -1;
    }
    r->req_head_wire = o.len;
    if (!upgrade && !r->body_read && r->same_strings) {
        char *t = realloc(c->last.text, o.len);
        if (t) {
            memcpy(t, o.p, o.len);
            c->last.text = t;
            c->last.len = o.len;
            c->last.method = r->method;
            c->last.path = r->path;
            c->last.authority = r->authority;
            c->last.fields = r->fields;
            c->last.nfields = r->nfields;
            c->last.body_len = body_len;
        }
    }
    if (c->cb->h1_head) c->cb->h1_head(c, 1, o.p, o.len);
    if (tp_write(&c->tp, o.p, o.len) == TP_ERROR) {
        fail(c, CLE_IO, "%s", c->tp.err);
        return -1;
    }
    return 0;
}

/* Starts the next queued request, one at a time; writes request bodies
 * as the socket takes them. */
static void h1_pump(cl_conn *c)
{
    if (!c->h1cur && c->qhead && !c->h1_close) {
        cl_req *r = c->qhead;
        c->qhead = r->next;
        if (!c->qhead) c->qtail = NULL;
        c->nq--;
        r->next = NULL;
        r->sent = 1;
        r->sid = 0;
        r->body_off = 0;
        r->body_eof = 0;
        r->unconsumed = 0;
        r->reused = c->served > 0;
        c->nflight++;
        c->h1cur = r;
        h1_reset(c->resp);
        c->resp->no_body = !strcmp(r->method, "HEAD");
        if (h1_write_head(c, r, c->state == CS_UPGRADING) < 0) return;
    }
    cl_req *r = c->h1cur;
    while (r && r->body_read && !r->body_eof && (!r->tunnel || c->tunneling) &&
           tp_unsent(&c->tp) == 0) {
        /* a body as it comes: as it is, or chunked when its length is not
         * known (RFC 9112 §7.1) */
        uint8_t buf[16384 + 32], *start = buf + 16;
        int chunked = r->body_size < 0 && !r->tunnel, eof = 0;
        long got = r->body_read(r, start, 16384, &eof);
        if (got == LOOM_BODY_DEFER) break;
        if (got < 0) {
            fail(c, CLE_IO, "the request body failed");
            return;
        }
        size_t n = (size_t)got, len = n;
        if (chunked) { /* "SIZE\r\n" DATA "\r\n", and "0\r\n\r\n" at the end */
            size_t tail = 0;
            if (n) {
                char hd[16];
                int hl = snprintf(hd, sizeof(hd), "%zx\r\n", n);
                start -= hl;
                memcpy(start, hd, (size_t)hl);
                memcpy(buf + 16 + n, "\r\n", 2);
                tail = 2;
            }
            if (eof) {
                memcpy(buf + 16 + n + tail, "0\r\n\r\n", 5);
                tail += 5;
            }
            len = (size_t)(buf + 16 + n + tail - start);
        }
        if (len && tp_write(&c->tp, start, len) == TP_ERROR) {
            fail(c, CLE_IO, "%s", c->tp.err);
            return;
        }
        r->body_off += (uint64_t)got;
        r->body_eof = (uint8_t)eof;
        if (!got && !eof) break;
    }
    /* a tunnel whose client side ended: once all of it is written, our
     * side of the connection ends too (a half close, the server's answer
     * is still read: RFC 9112 §9.6) */
    if (r && r->tunnel && c->tunneling && r->body_eof && !c->tunnel_shut &&
        tp_unsent(&c->tp) == 0) {
        c->tunnel_shut = 1;
        if (tp_shutdown_write(&c->tp) < 0) {
            fail(c, CLE_IO, "shutdown: %s", strerror(errno));
            return;
        }
    }
    while (r && r->body && r->body_off < r->body_len && tp_unsent(&c->tp) == 0) {
        size_t n = r->body_len - r->body_off;
        if (n > 16384) n = 16384;
        if (tp_write(&c->tp, r->body + r->body_off, n) == TP_ERROR) {
            fail(c, CLE_IO, "%s", c->tp.err);
            return;
        }
        r->body_off += n;
    }
}

/* Traces a response head as it came (the parser keeps its parts). */
static void trace_head(cl_conn *c, h1_msg *m)
{
    if (!c->cb->h1_head) return;
    char text[H1_MAX_HEAD + 512];
    h1_out o = {text, 0, sizeof(text), 0};
    h1_printf(&o, "HTTP/%d.%d %d %s\r\n", m->hp.http_major, m->hp.http_minor, h1_status(m),
              h1_reason(h1_status(m)));
    for (int i = 0; i < m->nf; i++) {
        const char *nm, *v;
        size_t nl, vl;
        h1_field_at(m, i, &nm, &nl, &v, &vl);
        h1_printf(&o, "%.*s: %.*s\r\n", (int)nl, nm, (int)vl, v);
    }
    c->cb->h1_head(c, 0, o.p, o.len);
}

/* The 101 to an Upgrade (RFC 7540 §3.2): the request is stream 1,
 * half-closed (local); what follows the 101 is HTTP/2. */
static void upgraded(cl_conn *c, const uint8_t *rest, size_t restlen)
{
    cl_req *r = c->h1cur;
    trace_head(c, c->resp);
    if (start_h2(c) < 0) return;
    loom_hpack_field up[] = {
        {(const uint8_t *)":method", 7, (const uint8_t *)r->method, strlen(r->method), 0},
        {(const uint8_t *)":scheme", 7, (const uint8_t *)r->scheme, strlen(r->scheme), 0},
        {(const uint8_t *)":authority", 10, (const uint8_t *)r->authority, strlen(r->authority), 0},
        {(const uint8_t *)":path", 5, (const uint8_t *)r->path, strlen(r->path), 0},
    };
    loom_conn_upgrade(c->h2, NULL, 0, up, 4);
    r->sid = 1;
    loom_stream_set_user(c->h2, 1, r);
    c->h1cur = NULL;
    h1_free(c->resp);
    free(c->resp);
    c->resp = NULL;
    c->state = CS_READY;
    c->t_ready = cl_now_us();
    if (c->cb->ready) c->cb->ready(c);
    if (restlen && c->state != CS_DEAD && loom_conn_recv(c->h2, rest, restlen) < 0 &&
        c->state != CS_DEAD)
        fail(c, CLE_PROTOCOL, "connection error");
}

/* A response head (1xx or final) over HTTP/1.1, or the refusal of an
 * Upgrade (the answer to the request in HTTP/1.1). */
static void h1_head(cl_conn *c)
{
    h1_msg *m = c->resp;
    cl_req *r = c->h1cur;
    int status = h1_status(m);
    trace_head(c, m);
    if (c->state == CS_UPGRADING) {
        if (!c->o.allow_h1) {
            fail(c, CLE_NO_H2, "the server did not upgrade to h2c (HTTP/1.%d %d %s)",
                 m->hp.http_minor, status, h1_reason(status));
            return;
        }
        c->state = CS_READY;
        c->t_ready = cl_now_us();
        if (c->cb->ready) c->cb->ready(c);
        if (c->state == CS_DEAD) return;
    }
    loom_hpack_field f[H1_MAX_FIELDS];
    size_t n = h1_fields(m, 0, m->nf, f);
    if (status >= 200) r->status = status;
    r->http_minor = (uint8_t)m->hp.http_minor;
    r->resp_head_wire += m->head_wire;
    if (r->cb->head) r->cb->head(r, status, f, n, status < 200);
}

/* Input over HTTP/1.1 (or while an Upgrade is answered). */
static void h1_input(cl_conn *c, const uint8_t *p, size_t n)
{
    if (c->tunneling) { /* a tunnel's octets, as they come */
        cl_req *r = c->h1cur;
        if (r && n) {
            if (c->o.h2.manual_window) {
                r->unconsumed += n;
                if (r->unconsumed >= CL_TUNNEL_MAX) c->paused = 1;
            }
            if (r->cb->data) r->cb->data(r, p, n);
        }
        return;
    }
    while (n && c->state != CS_DEAD && c->proto == CL_PROTO_H1) {
        if (!c->h1cur) {
            fail(c, CLE_PROTOCOL, "the server sent %zu octets nobody asked for", n);
            return;
        }
        h1_msg *m = c->resp;
        ssize_t k = h1_feed(m, p, n);
        if (k < 0) {
            if (c->state == CS_UPGRADING && !m->head_done)
                /* a prior-knowledge-only server answers with its SETTINGS */
                fail(c, CLE_NO_H2,
                     "the server did not upgrade to h2c (not an HTTP/1.1 response); try --h2c");
            else
                fail(c, CLE_PROTOCOL, "malformed HTTP/1.1 response: %s", m->err);
            return;
        }
        p += k;
        n -= (size_t)k;
        if (c->state == CS_DEAD) return;
        if (c->state == CS_UPGRADING && m->head_done && h1_status(m) == 101) {
            upgraded(c, p, n); /* the rest goes to the engine */
            return;
        }
        if (c->h1cur && c->h1cur->tunnel && m->head_done && h1_status(m) == 101) {
            /* the tunnel is open (head(101) was said): the rest is its */
            c->tunneling = 1;
            c->h1_close = 1;
            h1_input(c, p, n);
            h1_pump(c);
            return;
        }
        if (!m->msg_done) {
            if (k == 0) { /* the parser takes no more: an Upgrade it did not expect */
                fail(c, CLE_PROTOCOL, "the server switched protocols unasked");
                return;
            }
            continue;
        }
        cl_req *r = c->h1cur;
        if (h1_status(m) / 100 == 1) { /* 1xx: the final response follows */
            h1_reset(m);
            continue;
        }
        /* chunked trailers (RFC 9112 §7.1.2): the fields after the head's */
        if (m->nf > m->ntrailer_from && r->cb->trailers) {
            loom_hpack_field t[H1_MAX_FIELDS];
            r->cb->trailers(r, t, h1_fields(m, m->ntrailer_from, m->nf, t));
        }
        /* answered before its body was all sent: the connection cannot
         * carry another request (RFC 9112 §9.3) */
        /* its unconsumed octets are its reader's now: reading goes on for
         * the next response */
        c->paused = 0;
        c->served++;
        c->h1_close = !h1_keep_alive(m) || (r->body_read && !r->body_eof) ||
                      (r->body && r->body_off < r->body_len);
        c->h1cur = NULL;
        req_done(c, r, CL_DONE_OK);
        if (c->h1_close) {
            fail(c, CLE_NONE, "the server closes after the response");
            return;
        }
        h1_pump(c);
    }
}

/* ---- the connection's life ---- */

static void after_connect(cl_conn *c);

static void timed_out(loop *l, void *user)
{
    (void)l;
    cl_conn *c = user;
    c->timer = 0;
    fail(c, CLE_TIMEOUT, "%s:%s: %s timed out after %d ms", c->host, c->port,
         c->state == CS_CONNECTING ? "connect" : "the TLS handshake", c->o.connect_timeout_ms);
    settle(c);
}

/* Tries the next address: 0 while a connect is under way, -1 when none is
 * left (the failure is noted). */
static int try_connect(cl_conn *c, int last_err)
{
    for (; c->cur; c->cur = c->cur->ai_next) {
        struct addrinfo *a = c->cur;
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last_err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        memcpy(&c->addr, a->ai_addr, a->ai_addrlen);
        c->addrlen = a->ai_addrlen;
        getnameinfo(a->ai_addr, a->ai_addrlen, c->ip, sizeof(c->ip), NULL, 0, NI_NUMERICHOST);
        if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
            last_err = errno;
            close(fd);
            continue;
        }
        c->cur = a->ai_next;
        tp_init(&c->tp, fd);
        c->watching = LOOP_WRITE + 1;
        if (loop_add(c->l, fd, LOOP_WRITE, on_io, c) < 0) {
            fail(c, CLE_IO, "cannot watch a socket");
            return -1;
        }
        return 0;
    }
    fail(c, CLE_CONNECT, "cannot connect to %s port %s: %s", c->host, c->port,
         strerror(last_err ? last_err : ECONNREFUSED));
    return -1;
}

static void connected(cl_conn *c)
{
    int err = 0;
    socklen_t el = sizeof(err);
    if (getsockopt(c->tp.fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) err = errno;
    if (err) {
        loop_del(c->l, c->tp.fd);
        close(c->tp.fd);
        c->tp.fd = -1;
        if (try_connect(c, err) == 0) return;
        return;
    }
    c->t_conn = cl_now_us();
    after_connect(c);
}

static void after_connect(cl_conn *c)
{
    if (c->o.mode == CL_TLS) {
        const char *sni = c->o.sni;
        struct in6_addr lit;
        if (!sni && inet_pton(AF_INET, c->host, &lit) != 1 &&
            inet_pton(AF_INET6, c->host, &lit) != 1)
            sni = c->host; /* no IP literals in SNI (RFC 6066 §3) */
        int fd = c->tp.fd;
        if (tp_init_tls(&c->tp, fd, c->o.tls, 0, sni, c->o.verify ? c->host : NULL) < 0) {
            fail(c, CLE_TLS, "%s", c->tp.err);
            return;
        }
        c->state = CS_HANDSHAKE;
        return;
    }
    c->t_tls = 0;
    if (c->timer) loop_timer_cancel(c->l, c->timer); /* the connect is done */
    c->timer = 0;
    if (c->o.mode == CL_H2C) {
        if (start_h2(c) < 0) return;
    } else {
        start_h1(c);
        if (c->o.mode == CL_UPGRADE) {
            c->state = CS_UPGRADING; /* ready once the first response says which protocol */
            return;
        }
    }
    c->state = CS_READY;
}

static void handshake(cl_conn *c)
{
    int rc = tp_handshake(&c->tp);
    if (rc == TP_AGAIN) return;
    if (rc == TP_ERROR) {
        long v = tp_verify_result(&c->tp);
        if (c->tp.alert_no_alpn)
            /* a server without h2 that refuses the handshake rather than
             * answer without ALPN (nginx without http2) */
            fail(c, CLE_NO_H2, "the server does not offer h2 in ALPN (TLS alert %s)",
                 "no_application_protocol");
        else if (v != X509_V_OK)
            fail(c, CLE_TLS, "TLS: certificate not trusted (%s); -k to accept it",
                 X509_verify_cert_error_string(v));
        else
            fail(c, CLE_TLS, "%s", c->tp.err);
        return;
    }
    c->t_tls = cl_now_us();
    if (c->timer) loop_timer_cancel(c->l, c->timer);
    c->timer = 0;
    const char *alpn = tp_alpn(&c->tp);
    if (!strcmp(alpn, "h2")) {
        if (start_h2(c) < 0) return;
    } else if (c->o.allow_h1 && (!strcmp(alpn, "http/1.1") || !alpn[0])) {
        start_h1(c);
    } else {
        fail(c, CLE_NO_H2, "the server did not choose h2 in ALPN (%s)", alpn[0] ? alpn : "none");
        return;
    }
    c->state = CS_READY;
}

/* Moves requests and output along. */
static void pump(cl_conn *c)
{
    if (c->state == CS_DEAD || c->state < CS_UPGRADING) return;
    if (c->state == CS_READY && !c->t_ready) {
        c->t_ready = cl_now_us();
        if (c->cb->ready) c->cb->ready(c);
        if (c->state == CS_DEAD) return;
    }
    int pending = 0;
    if (c->proto == CL_PROTO_H2) {
        if (!c->shutting) h2_submit(c);
        /* the server is going away: what it will not take goes elsewhere
         * now, and the connection ends once its streams have */
        while (c->goaway && c->qhead) {
            cl_req *r = c->qhead;
            c->qhead = r->next;
            if (!c->qhead) c->qtail = NULL;
            c->nq--;
            req_done(c, r, CL_DONE_RETRY);
        }
        if (c->goaway && !c->shutting && c->nflight == 0) {
            c->shutting = 1;
            loom_goaway(c->h2, LOOM_H2_NO_ERROR, 0, NULL);
        }
        int rc = tp_send_conn(&c->tp, c->h2, SIZE_MAX);
        if (rc == TP_ERROR) {
            fail(c, CLE_IO, "%s", c->tp.err);
            return;
        }
        pending = rc == TP_AGAIN;
        if (rc == TP_DONE && loom_conn_done(c->h2)) {
            fail(c, c->err ? c->err : CLE_NONE, "%s", c->why[0] ? c->why : "closed");
            return;
        }
        if (c->shutting && c->nflight == 0 && !c->qhead && rc == TP_DONE) {
            fail(c, CLE_NONE, "closed");
            return;
        }
    } else if (c->proto == CL_PROTO_H1) {
        h1_pump(c);
        if (c->state == CS_DEAD) return;
        int rc = tp_flush(&c->tp);
        /* a body as it comes is pulled while the socket takes it: once
         * what was pending is out, more (bounded per turn) */
        for (int k = 0; k < 16 && rc == TP_DONE && c->h1cur && c->h1cur->body_read &&
                        !c->h1cur->body_eof && c->state != CS_DEAD;
             k++) {
            uint64_t before = c->h1cur->body_off;
            h1_pump(c);
            if (c->state == CS_DEAD) return;
            rc = tp_flush(&c->tp);
            if (!c->h1cur || c->h1cur->body_off == before) break;
        }
        if (rc == TP_ERROR) {
            fail(c, CLE_IO, "%s", c->tp.err);
            return;
        }
        pending = rc == TP_AGAIN ||
                  (c->h1cur && c->h1cur->body && c->h1cur->body_off < c->h1cur->body_len);
        if (c->shutting && !c->h1cur && !c->qhead) {
            fail(c, CLE_NONE, "closed");
            return;
        }
    }
    watch(c, pending);
}

static void reread_fired(loop *l, void *user)
{
    cl_conn *c = user;
    c->reread = 0;
    on_io(l, c->tp.fd, LOOP_READ, c);
}

static void on_io(loop *l, int fd, uint32_t events, void *user)
{
    (void)l;
    (void)fd;
    cl_conn *c = user;
    c->depth++;
    if (c->state == CS_CONNECTING) {
        connected(c);
        if (c->state == CS_CONNECTING) goto out; /* the next address */
        if (c->state != CS_DEAD) watch(c, 1);
    }
    if (c->state == CS_HANDSHAKE) {
        handshake(c);
        if (c->state == CS_HANDSHAKE) {
            watch(c, c->tp.want_write);
            goto out;
        }
    }
    if (c->state == CS_DEAD) goto out;
    if (events & LOOP_WRITE) pump(c);
    if (c->state != CS_DEAD &&
        ((events & (LOOP_READ | EPOLLHUP | EPOLLERR)) || tp_pending(&c->tp))) {
        uint8_t buf[RBUF];
        for (int round = 0; round < 16 && c->state != CS_DEAD && !c->paused; round++) {
            /* a tunnel reads no more than it may hold (CL_TUNNEL_MAX) */
            size_t want = sizeof(buf);
            if (c->tunneling && c->h1cur && c->o.h2.manual_window)
                want = c->h1cur->unconsumed < CL_TUNNEL_MAX
                           ? (size_t)(CL_TUNNEL_MAX - c->h1cur->unconsumed)
                           : 1;
            if (want > sizeof(buf)) want = sizeof(buf);
            ssize_t n = tp_read(&c->tp, buf, want);
            if (n == TP_AGAIN) break;
            if (n < 0) {
                if (c->proto == CL_PROTO_H1 && c->h1cur && (c->tunneling || h1_eof(c->resp) == 0)) {
                    /* a body that ran to the close */
                    cl_req *r = c->h1cur;
                    c->h1cur = NULL;
                    req_done(c, r, CL_DONE_OK);
                    fail(c, CLE_NONE, "closed after the response");
                } else if (n == TP_EOF) {
                    fail(c, c->goaway && !c->err ? CLE_NONE : CLE_CLOSED, "%s",
                         c->why[0] ? c->why : "the server closed the connection");
                } else {
                    fail(c, CLE_IO, "%s", c->tp.err);
                }
                break;
            }
            if (c->proto == CL_PROTO_H2 && !c->h2_heard++ && c->o.mode == CL_H2C && n >= 4 &&
                (buf[3] != LOOM_FRAME_SETTINGS || !memcmp(buf, "HTTP/", 4))) {
                /* prior knowledge (RFC 9113 §3.3): the server's first
                 * frame must be SETTINGS (§3.4); an HTTP/1.x server
                 * answers the preface with a status line or a page */
                fail(c, CLE_NO_H2,
                     "the server answered in HTTP/1.1 or older, not with a SETTINGS frame: it "
                     "does not take HTTP/2 by prior knowledge (without --h2c, loom get asks by "
                     "Upgrade and falls back)");
                break;
            }
            if (c->proto == CL_PROTO_H2) {
                if (loom_conn_recv(c->h2, buf, (size_t)n) < 0 && c->state != CS_DEAD)
                    fail(c, CLE_PROTOCOL, "connection error");
            } else {
                h1_input(c, buf, (size_t)n);
            }
            /* drained: a short read in cleartext, nothing read ahead with TLS */
            if (!tp_pending(&c->tp) && (c->tp.ssl || (size_t)n < want)) break;
        }
        pump(c);
        /* records TLS read ahead that the bounded loop left: epoll will
         * not say so, so come back for them */
        if (c->state != CS_DEAD && tp_pending(&c->tp) && !c->reread && !c->paused)
            c->reread = loop_timer(c->l, 0, reread_fired, c);
    }
out:
    c->depth--;
    settle(c);
}

/* Ends a dead connection: its requests are told (those never sent are
 * handed back), then the owner, then it is freed. */
static void settle(cl_conn *c)
{
    if (c->state != CS_DEAD || c->depth) return;
    c->depth++; /* callbacks below must not settle again */
    if (c->h2 && c->tp.fd >= 0 && c->tp.handshaken) {
        /* say goodbye when we end it and it is still up */
        if (c->err == CLE_NONE || c->err == CLE_PROTOCOL) {
            loom_goaway(c->h2, LOOM_H2_NO_ERROR, 0, NULL);
            tp_send_conn(&c->tp, c->h2, SIZE_MAX);
        }
    }
    /* the owner hears why first, so that what it learns from the
     * requests' ends below is read in that light */
    if (c->cb->closed) c->cb->closed(c, c->err, c->why);
    if (c->h2) {
        /* streams still open are reported closed (CANCEL): they failed;
         * nothing is resubmitted here any more */
        c->goaway = 1;
        loom_conn_free(c->h2);
        c->h2 = NULL;
    }
    if (c->h1cur) {
        cl_req *r = c->h1cur;
        c->h1cur = NULL;
        req_done(c, r, CL_DONE_FAILED);
    }
    while (c->qhead) {
        cl_req *r = c->qhead;
        c->qhead = r->next;
        if (!c->qhead) c->qtail = NULL;
        c->nq--;
        req_done(c, r, CL_DONE_RETRY);
    }
    if (c->timer) loop_timer_cancel(c->l, c->timer);
    if (c->kick) loop_timer_cancel(c->l, c->kick);
    if (c->reread) loop_timer_cancel(c->l, c->reread);
    if (c->tp.fd >= 0) loop_del(c->l, c->tp.fd);
    tp_close(&c->tp);
    if (c->resp) {
        h1_free(c->resp);
        free(c->resp);
    }
    if (c->ai) freeaddrinfo(c->ai);
    free(c->last.text);
    free(c);
}

static void start_failed(loop *l, void *user)
{
    (void)l;
    cl_conn *c = user;
    c->timer = 0;
    settle(c);
}

cl_conn *cl_connect(loop *l, const char *host, const char *port, const cl_opts *o,
                    const cl_conn_cb *cb, void *user)
{
    cl_conn *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->l = l;
    c->o = *o;
    if (!c->o.connect_timeout_ms) c->o.connect_timeout_ms = 10000;
    c->cb = cb;
    c->user = user;
    c->tp.fd = -1;
    c->t0 = cl_now_us();
    snprintf(c->host, sizeof(c->host), "%s", host);
    snprintf(c->port, sizeof(c->port), "%s", port);
    c->state = CS_CONNECTING;
    int rc = 0;
    if (o->addr) {
        /* a given address (--resolve): one candidate */
        struct addrinfo *a = calloc(1, sizeof(*a) + sizeof(struct sockaddr_storage));
        if (a) {
            a->ai_addr = (struct sockaddr *)(a + 1);
            memcpy(a->ai_addr, o->addr, o->addrlen);
            a->ai_addrlen = o->addrlen;
            a->ai_family = o->addr->sa_family;
            a->ai_socktype = SOCK_STREAM;
        }
        c->cur = a;
        rc = try_connect(c, 0);
        free(a);
        c->cur = NULL;
    } else {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        int g = getaddrinfo(host, port, &hints, &c->ai);
        c->t_dns = cl_now_us();
        if (g) {
            fail(c, CLE_DNS, "cannot resolve %s: %s", host, gai_strerror(g));
            rc = -1;
        } else {
            c->cur = c->ai;
            rc = try_connect(c, 0);
        }
    }
    /* failures are told from the loop, like every other */
    c->timer = loop_timer(l, rc < 0 ? 0 : (uint64_t)c->o.connect_timeout_ms,
                          rc < 0 ? start_failed : timed_out, c);
    return c;
}

void cl_submit(cl_conn *c, cl_req *r)
{
    r->conn = c;
    r->sent = 0;
    r->sid = 0;
    r->next = NULL;
    r->status = 0;
    r->h2_code = 0;
    r->req_head_wire = r->resp_head_wire = 0;
    if (c->qtail)
        c->qtail->next = r;
    else
        c->qhead = r;
    c->qtail = r;
    c->nq++;
    if (c->state == CS_DEAD || c->depth) return; /* settled, or pumped as the handler ends */
    kick(c);
}

int cl_push_accept(cl_conn *c, int32_t promised_id, cl_req *r)
{
    if (!c->h2) return LOOM_ERR_STATE;
    if (!r) return loom_reset(c->h2, promised_id, LOOM_H2_CANCEL);
    r->conn = c;
    r->sid = promised_id;
    r->sent = 1;
    r->pushed = 1;
    c->nflight++;
    return loom_stream_set_user(c->h2, promised_id, r);
}

void cl_resume(cl_req *r)
{
    cl_conn *c = r->conn;
    if (!c || c->state == CS_DEAD) return;
    if (c->h2 && r->sent && r->sid) loom_resume(c->h2, r->sid);
    if (!c->depth) kick(c);
}

void cl_consumed(cl_req *r, size_t n)
{
    cl_conn *c = r->conn;
    if (!c || c->state == CS_DEAD || !r->sent) return;
    if (c->h2) {
        if (r->sid) loom_consumed(c->h2, r->sid, n);
    } else if (c->h1cur == r) {
        r->unconsumed = n < r->unconsumed ? r->unconsumed - n : 0;
        if (c->paused && r->unconsumed < unconsumed_max(c) / 2) {
            c->paused = 0;
            /* TLS records read ahead, or octets the kernel holds */
            if (!c->reread) c->reread = loop_timer(c->l, 0, reread_fired, c);
        }
    }
    if (!c->depth) kick(c);
}

void cl_cancel(cl_req *r)
{
    cl_conn *c = r->conn;
    if (!c) return;
    static const cl_req_cb none;
    r->cb = &none;  /* nothing more is said of it */
    if (!r->sent) { /* still queued: taken out */
        for (cl_req **pp = &c->qhead, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next)
            if (*pp == r) {
                *pp = r->next;
                if (c->qtail == r) c->qtail = prev;
                c->nq--;
                break;
            }
        r->next = NULL;
        return;
    }
    if (c->h2 && r->sid) {
        loom_stream_set_user(c->h2, r->sid, NULL);
        loom_reset(c->h2, r->sid, LOOM_H2_CANCEL);
        c->nflight--;
        r->sent = 0;
    } else if (c->h1cur == r) {
        /* HTTP/1.1 cannot stop one response: the connection goes */
        c->h1cur = NULL;
        c->nflight--;
        r->sent = 0;
        fail(c, CLE_NONE, "the request was cancelled");
    }
    if (!c->depth) kick(c);
}

void cl_shutdown(cl_conn *c)
{
    c->shutting = 1;
    if (c->h2) loom_goaway(c->h2, LOOM_H2_NO_ERROR, 0, NULL);
    if (!c->depth && c->state != CS_DEAD) kick(c);
}

void cl_abort(cl_conn *c, cl_error_kind err, const char *why)
{
    fail(c, err, "%s", why);
    if (!c->depth) kick(c);
}

int cl_header_arg(const char *arg, int allow_pseudo, char **name, const char **value)
{
    const char *colon = strchr(arg + (allow_pseudo && arg[0] == ':'), ':');
    if (!colon || colon == arg) return -1;
    char *n = strndup(arg, (size_t)(colon - arg));
    if (!n) return -1;
    for (char *q = n; *q; q++)
        if (*q >= 'A' && *q <= 'Z') *q = (char)(*q + 32); /* RFC 9113 §8.2.1 */
    const char *v = colon + 1;
    while (*v == ' ')
        v++;
    *name = n;
    *value = v;
    return 0;
}
