/* loom serve's runtime. Each worker thread owns an event loop, its own
 * SO_REUSEPORT listening sockets and its connections: no lock on the
 * request path. A connection is TLS (ALPN h2 or http/1.1) or cleartext
 * (h2c by prior knowledge, HTTP/1.1 with or without Upgrade: h2c). */
#define _GNU_SOURCE
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "files.h"
#include "loom/loom.h"
#include "loop.h"
#include "tls.h"

#define RBUF           16384
#define WBUF_MAX       (64 * 1024)
#define H1_MAX_HEAD    16384
#define H1_MAX_HEADERS 64
#define MAX_PUSH       32
#define UPGRADE_HOLD   16384

/* ---- shared, read-only after start ---- */

typedef struct {
    char page[512];
    char *assets[MAX_PUSH];
    int n;
} push_entry;

typedef struct {
    const server_opts *o;
    SSL_CTX *tls;
    int root_fd;
    char root_real[4096];
    push_entry *push;
    int npush;
    int log_fd;
} shared;

typedef struct worker worker;

typedef struct {
    int fd, tls;
} lsock;

struct hconn;

/* One request on a stream (h2) or the connection (h1). */
typedef struct {
    int fd;            /* file being sent, or -1 */
    file_entry *entry; /* or the cached file in memory */
    int status;
    uint64_t bytes, start_ms;
    int32_t sid;
    char method[12];
    char path[256];
} sreq;

typedef struct hconn {
    worker *w;
    int fd;
    SSL *ssl;
    int tls, ktls;
    enum { P_HANDSHAKE, P_DETECT, P_H2, P_H1 } proto;
    const char *label; /* "h2", "h2c", "http/1.1" */
    loom_conn *h2;
    /* TLS output staged for SSL_write (and h1 output in clear) */
    uint8_t *wbuf;
    size_t wlen, woff;
    /* h1 */
    http_parser hp;
    uint8_t *in;
    size_t inlen;
    char *head; /* request line and fields, allocated for HTTP/1.1 only */
    size_t headlen;
    struct {
        size_t n, nl, v, vl;
    } hdr[H1_MAX_HEADERS];
    int nhdr, in_value;
    size_t url, urllen;
    int h1_done; /* a request is complete and being answered */
    int h1_keepalive;
    sreq h1req;
    uint64_t h1_left, h1_off; /* file body still to send */
    int upgrade;
    /* After a 101, h2 octets the engine may still send before the client's
     * preface arrives (UPGRADE_HOLD): some clients (curl 7.88) fail when
     * more than 32 KiB follow the 101 in one read. */
    int upgrade_hold;
    size_t hold_left;
    /* life */
    uint64_t idle_timer, hs_timer, settings_timer;
    int want_out, closing, shutdown_sent;
    char peer[64];
    struct hconn *prev, *next;
} hconn;

struct worker {
    shared *sh;
    loop *l;
    pthread_t th;
    lsock ls[SERVER_MAX_LISTEN];
    int nls;
    int efd;        /* shutdown signal */
    file_cache *fc; /* small files in memory, this worker's own */
    hconn *conns;
    int nconns, stopping;
    char logbuf[8192];
    size_t loglen;
};

static void conn_close(hconn *c);
static int conn_flush(hconn *c);

/* ---- access log: whole lines with one write(2) on an O_APPEND file ---- */

static void access_log(hconn *c, const sreq *r, int32_t sid)
{
    int fd = c->w->sh->log_fd;
    if (fd < 0) return;
    char line[700], ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(line, sizeof(line), "%s %s %s stream=%d %s %s %d %llu %.1fms\n", ts, c->peer,
                     c->label, (int)sid, r->method, r->path, r->status,
                     (unsigned long long)r->bytes, (double)(loop_now_ms() - r->start_ms));
    if (n > 0) (void)!write(fd, line, (size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1));
}

/* ---- the request handler, shared by h2 and h1 ---- */

typedef struct {
    const char *method, *path, *authority, *inm, *ims, *range, *ae;
    size_t method_len, path_len, authority_len, inm_len, ims_len, range_len, ae_len;
} req_view;

static void serve_file(shared *sh, const req_view *v, file_reply *r, file_cache *fc)
{
    file_request q = {v->method, v->method_len, v->path,  v->path_len,  v->inm, v->inm_len,
                      v->ims,    v->ims_len,    v->range, v->range_len, v->ae,  v->ae_len};
    files_serve(sh->root_fd, sh->root_real, &q, r, fc);
}

static const push_entry *push_for(shared *sh, const char *path, size_t n)
{
    size_t k = 0;
    while (k < n && path[k] != '?')
        k++;
    for (int i = 0; i < sh->npush; i++)
        if (strlen(sh->push[i].page) == k && !memcmp(sh->push[i].page, path, k))
            return &sh->push[i];
    return NULL;
}

/* Response fields for a reply; strings live in r and bufs. */
static size_t reply_fields(const file_reply *r, loom_hpack_field *f, char *len, char *status,
                           int head, const push_entry *pe, char *link, size_t linkcap)
{
    size_t n = 0;
#define ADD(nm, val)                                                                               \
    f[n++] = (loom_hpack_field){(const uint8_t *)(nm), strlen(nm), (const uint8_t *)(val),         \
                                strlen(val), 0}
    snprintf(status, 4, "%d", r->status);
    ADD(":status", status);
    ADD("server", "loom/" LOOM_VERSION_STRING);
    if (r->status == 200 || r->status == 206) {
        ADD("content-type", r->type);
        snprintf(len, 24, "%llu", (unsigned long long)r->length);
        ADD("content-length", len);
        ADD("etag", r->etag);
        ADD("last-modified", r->last_modified);
        ADD("accept-ranges", "bytes");
        if (r->encoding) {
            ADD("content-encoding", r->encoding);
            ADD("vary", "accept-encoding");
        }
        if (r->status == 206) ADD("content-range", r->content_range);
        if (pe && pe->n && link) {
            size_t o = 0;
            for (int i = 0; i < pe->n && o < linkcap; i++)
                o += (size_t)snprintf(link + o, linkcap - o, "%s<%s>; rel=preload", i ? ", " : "",
                                      pe->assets[i]);
            ADD("link", link);
        }
    } else if (r->status == 304) {
        ADD("etag", r->etag);
    } else {
        size_t blen;
        files_error_body(r->status, &blen);
        ADD("content-type", "text/plain; charset=utf-8");
        snprintf(len, 24, "%zu", blen);
        ADD("content-length", len);
        if (r->status == 416) ADD("content-range", r->content_range);
        if (r->status == 405) ADD("allow", "GET, HEAD");
    }
    (void)head;
#undef ADD
    return n;
}

/* ---- HTTP/2 ---- */

static int32_t respond_h2(hconn *c, int32_t sid, const req_view *v, int allow_push);

static int h2_event(loom_conn *lc, const loom_event *ev, void *user)
{
    hconn *c = user;
    switch (ev->type) {
    case LOOM_EV_HEADERS: {
        req_view v;
        memset(&v, 0, sizeof(v));
        for (size_t i = 0; i < ev->u.headers.n; i++) {
            const loom_hpack_field *f = &ev->u.headers.fields[i];
#define IS(s)     (f->name_len == sizeof(s) - 1 && !memcmp(f->name, s, sizeof(s) - 1))
#define SET(p, l) (v.p = (const char *)f->value, v.l = f->value_len)
            if (IS(":method"))
                SET(method, method_len);
            else if (IS(":path"))
                SET(path, path_len);
            else if (IS(":authority"))
                SET(authority, authority_len);
            else if (IS("if-none-match"))
                SET(inm, inm_len);
            else if (IS("if-modified-since"))
                SET(ims, ims_len);
            else if (IS("range"))
                SET(range, range_len);
            else if (IS("accept-encoding"))
                SET(ae, ae_len);
#undef IS
#undef SET
        }
        if (!v.method || !v.path) { /* CONNECT and the like: not served here */
            loom_hpack_field f[] = {{(const uint8_t *)":status", 7, (const uint8_t *)"405", 3, 0}};
            loom_respond(lc, ev->stream_id, f, 1, NULL);
            break;
        }
        respond_h2(c, ev->stream_id, &v, 1);
        break;
    }
    case LOOM_EV_STREAM_CLOSED: {
        sreq *r = loom_stream_get_user(lc, ev->stream_id);
        if (r) {
            access_log(c, r, ev->stream_id);
            if (r->fd >= 0) close(r->fd);
            files_release(c->w->fc, r->entry);
            free(r);
            loom_stream_set_user(lc, ev->stream_id, NULL);
        }
        break;
    }
    case LOOM_EV_FRAME:
        if (ev->u.frame.sent && ev->u.frame.frame->hd.type == LOOM_FRAME_DATA) {
            sreq *r = loom_stream_get_user(lc, ev->stream_id);
            if (r) r->bytes += ev->u.frame.frame->hd.length;
        }
        break;
    default: break;
    }
    return 0;
}

static void fill_sreq(sreq *r, int32_t sid, const req_view *v, int status, int fd)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->status = status;
    r->sid = sid;
    r->start_ms = loop_now_ms();
    snprintf(r->method, sizeof(r->method), "%.*s", (int)(v->method_len < 11 ? v->method_len : 11),
             v->method);
    snprintf(r->path, sizeof(r->path), "%.*s", (int)(v->path_len < 255 ? v->path_len : 255),
             v->path);
}

static sreq *new_sreq(int32_t sid, const req_view *v, int status, int fd)
{
    sreq *r = malloc(sizeof(*r));
    if (r) fill_sreq(r, sid, v, status, fd);
    return r;
}

static int32_t respond_h2(hconn *c, int32_t sid, const req_view *v, int allow_push)
{
    shared *sh = c->w->sh;
    file_reply r;
    serve_file(sh, v, &r, c->w->fc);
    int head = v->method_len == 4 && !memcmp(v->method, "HEAD", 4);
    const push_entry *pe = r.status == 200 ? push_for(sh, v->path, v->path_len) : NULL;

    /* Push the page's assets first, so the client knows before it parses
     * the page (RFC 9113 §8.4: promise before referring). A client with
     * push off gets the same links as 103 Early Hints instead. */
    int pushed = 0;
    if (pe && allow_push && v->authority && !head) {
        for (int i = 0; i < pe->n; i++) {
            loom_hpack_field req[] = {
                {(const uint8_t *)":method", 7, (const uint8_t *)"GET", 3, 0},
                {(const uint8_t *)":scheme", 7, (const uint8_t *)(c->tls ? "https" : "http"),
                 c->tls ? 5u : 4u, 0},
                {(const uint8_t *)":authority", 10, (const uint8_t *)v->authority, v->authority_len,
                 0},
                {(const uint8_t *)":path", 5, (const uint8_t *)pe->assets[i], strlen(pe->assets[i]),
                 0},
            };
            int32_t pid = loom_push(c->h2, sid, req, 4);
            if (pid <= 0) break; /* push off, or the client's stream limit */
            pushed++;
            req_view pv;
            memset(&pv, 0, sizeof(pv));
            pv.method = "GET";
            pv.method_len = 3;
            pv.path = pe->assets[i];
            pv.path_len = strlen(pe->assets[i]);
            pv.ae = v->ae;
            pv.ae_len = v->ae_len;
            respond_h2(c, pid, &pv, 0);
        }
    }
    char link[2048] = "";
    if (pe && !pushed && !sh->o->no_early_hints && !head) {
        size_t o = 0;
        for (int i = 0; i < pe->n && o < sizeof(link); i++)
            o += (size_t)snprintf(link + o, sizeof(link) - o, "%s<%s>; rel=preload", i ? ", " : "",
                                  pe->assets[i]);
        loom_hpack_field eh[] = {
            {(const uint8_t *)":status", 7, (const uint8_t *)"103", 3, 0},
            {(const uint8_t *)"link", 4, (const uint8_t *)link, strlen(link), 0}};
        loom_respond(c->h2, sid, eh, 2, NULL);
    }

    loom_hpack_field f[16];
    char len[24], status[4], lbuf[2048];
    size_t n = reply_fields(&r, f, len, status, head, pe, lbuf, sizeof(lbuf));
    sreq *rq = new_sreq(sid, v, r.status, r.fd);
    if (rq)
        rq->entry = r.entry;
    else
        files_release(c->w->fc, r.entry);
    loom_stream_set_user(c->h2, sid, rq);
    loom_body b = {.fd = -1};
    int has_body = 0;
    if ((r.status == 200 || r.status == 206) && !head && r.data) {
        b.data = r.data + r.offset; /* a cached small file: sent from memory */
        b.len = (size_t)r.length;
        has_body = r.length > 0;
    } else if ((r.status == 200 || r.status == 206) && !head) {
        b.fd = r.fd;
        b.offset = r.offset;
        b.length = r.length;
        has_body = r.length > 0;
    } else if (r.status >= 400 && !head) {
        b.data = (const uint8_t *)files_error_body(r.status, &b.len);
        has_body = 1;
    }
    loom_respond(c->h2, sid, f, n, has_body ? &b : NULL);
    return sid;
}

/* RFC 9113 §6.5.3: a peer that never acknowledges our SETTINGS gets a
 * GOAWAY SETTINGS_TIMEOUT. The engine keeps the time; this timer asks it
 * once the limit has passed (a little after, so the engine's clock agrees). */
static void settings_fired(loop *l, void *user)
{
    (void)l;
    hconn *c = user;
    c->settings_timer = 0;
    if (c->proto == P_H2 &&
        loom_conn_check_timeouts(c->h2, (uint32_t)c->w->sh->o->settings_timeout_ms) < 0)
        conn_flush(c); /* the GOAWAY goes out, then the connection closes */
}

static int start_h2(hconn *c, const char *label)
{
    loom_config cfg;
    loom_config_default(&cfg, LOOM_SERVER);
    c->h2 = loom_conn_new(LOOM_SERVER, &cfg, h2_event, c);
    if (!c->h2) return -1;
    c->proto = P_H2;
    c->label = label;
    c->settings_timer =
        loop_timer(c->w->l, (uint64_t)c->w->sh->o->settings_timeout_ms + 50, settings_fired, c);
    return 0;
}

/* ---- output ---- */

/* What the loop watches: reads unless an HTTP/1.1 response is being
 * written (one request at a time, so a pipelining client waits), writes
 * while output is pending. */
static void want_out(hconn *c, int on)
{
    int rd = !(c->proto == P_H1 && c->h1_done);
    int want = (rd ? LOOP_READ : 0) | (on ? LOOP_WRITE : 0);
    if (c->want_out == want + 1) return;
    c->want_out = want + 1;
    loop_mod(c->w->l, c->fd, (uint32_t)want);
}

/* Writes c->wbuf through TLS or the socket. Returns 1 when all of it went,
 * 0 when the socket is full, -1 on error. */
static int push_wbuf(hconn *c)
{
    int rc = tls_send_all(c->ssl, c->fd, c->wbuf, c->wlen, &c->woff);
    if (rc > 0) c->woff = c->wlen = 0;
    return rc;
}

static int wbuf_room(hconn *c)
{
    if (!c->wbuf && !(c->wbuf = malloc(WBUF_MAX))) return 0;
    return (int)(WBUF_MAX - c->wlen);
}

/* Moves the engine's output to the socket: cleartext with writev and
 * sendfile (zero copy); TLS through a staging buffer, or SSL_sendfile when
 * the kernel does the TLS. */
static int flush_h2(hconn *c)
{
    for (;;) {
        int rc = push_wbuf(c);
        if (rc <= 0) return rc;
        loom_out out[64];
        size_t k = loom_conn_send(c->h2, out, 64);
        if (k == 0) return 1;
        if (c->upgrade_hold) { /* cleartext only: clip to what is left */
            size_t left = c->hold_left, i;
            for (i = 0; i < k && left; i++) {
                if (out[i].len > left) out[i].len = left;
                left -= out[i].len;
            }
            k = i;
            if (k == 0) return 1; /* the rest goes once the client's preface is in */
        }
        if (!c->ssl) {
            if (out[0].fd >= 0) {
                off_t off = (off_t)out[0].off;
                ssize_t n = sendfile(c->fd, out[0].fd, &off, out[0].len);
                if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
                if (n == 0) return -1; /* the file shrank */
                loom_conn_sent(c->h2, (size_t)n);
                if (c->upgrade_hold) c->hold_left -= (size_t)n;
                continue;
            }
            struct iovec iov[64];
            size_t ni = 0, total = 0;
            for (; ni < k && out[ni].fd < 0; ni++) {
                iov[ni].iov_base = (void *)out[ni].base;
                iov[ni].iov_len = out[ni].len;
                total += out[ni].len;
            }
            struct msghdr mh = {.msg_iov = iov, .msg_iovlen = ni};
            ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
            if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
            loom_conn_sent(c->h2, (size_t)n);
            if (c->upgrade_hold) c->hold_left -= (size_t)n;
            if ((size_t)n < total) return 0;
            continue;
        }
        if (c->ktls && out[0].fd >= 0) {
            ossl_ssize_t n = SSL_sendfile(c->ssl, out[0].fd, (off_t)out[0].off, out[0].len, 0);
            if (n < 0) {
                int e = SSL_get_error(c->ssl, (int)n);
                return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? 0 : -1;
            }
            loom_conn_sent(c->h2, (size_t)n);
            continue;
        }
        /* gather into the staging buffer, then one SSL_write */
        int room = wbuf_room(c);
        for (size_t i = 0; i < k && room > 0; i++) {
            size_t take = out[i].len < (size_t)room ? out[i].len : (size_t)room;
            if (out[i].fd >= 0) {
                ssize_t n = pread(out[i].fd, c->wbuf + c->wlen, take, (off_t)out[i].off);
                if (n <= 0) return -1;
                take = (size_t)n;
            } else {
                memcpy(c->wbuf + c->wlen, out[i].base, take);
            }
            c->wlen += take;
            room -= (int)take;
            loom_conn_sent(c->h2, take);
            if (take < out[i].len) break;
            if (c->ktls && i + 1 < k && out[i + 1].fd >= 0) break;
        }
    }
}

/* ---- HTTP/1.1 ---- */

static int h1_on_url(http_parser *p, const char *at, size_t n)
{
    hconn *c = p->data;
    if (!c->head || c->headlen + n > H1_MAX_HEAD) return 1;
    if (!c->urllen) c->url = c->headlen;
    memcpy(c->head + c->headlen, at, n);
    c->headlen += n;
    c->urllen += n;
    return 0;
}

static int h1_on_field(http_parser *p, const char *at, size_t n)
{
    hconn *c = p->data;
    if (!c->head || c->headlen + n > H1_MAX_HEAD) return 1;
    if (c->in_value || c->nhdr == 0) {
        if (c->nhdr == H1_MAX_HEADERS) return 1;
        c->hdr[c->nhdr].n = c->headlen;
        c->hdr[c->nhdr].nl = 0;
        c->hdr[c->nhdr].vl = 0;
        c->nhdr++;
        c->in_value = 0;
    }
    memcpy(c->head + c->headlen, at, n);
    c->headlen += n;
    c->hdr[c->nhdr - 1].nl += n;
    return 0;
}

static int h1_on_value(http_parser *p, const char *at, size_t n)
{
    hconn *c = p->data;
    if (!c->head || c->headlen + n > H1_MAX_HEAD || c->nhdr == 0) return 1;
    if (!c->in_value) {
        c->hdr[c->nhdr - 1].v = c->headlen;
        c->in_value = 1;
    }
    memcpy(c->head + c->headlen, at, n);
    c->headlen += n;
    c->hdr[c->nhdr - 1].vl += n;
    return 0;
}

static int h1_on_complete(http_parser *p)
{
    hconn *c = p->data;
    c->h1_done = 1;
    http_parser_pause(p, 1); /* one request at a time */
    return 0;
}

static const http_parser_settings h1_settings = {
    .on_url = h1_on_url,
    .on_header_field = h1_on_field,
    .on_header_value = h1_on_value,
    .on_message_complete = h1_on_complete,
};

static const char *h1_header(hconn *c, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (int i = 0; i < c->nhdr; i++)
        if (c->hdr[i].nl == nl && !strncasecmp(c->head + c->hdr[i].n, name, nl)) {
            *len = c->hdr[i].vl;
            return c->head + c->hdr[i].v;
        }
    *len = 0;
    return NULL;
}

static int b64url_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v;
        char ch = s[i];
        if (ch >= 'A' && ch <= 'Z')
            v = ch - 'A';
        else if (ch >= 'a' && ch <= 'z')
            v = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9')
            v = ch - '0' + 52;
        else if (ch == '-' || ch == '+')
            v = 62;
        else if (ch == '_' || ch == '/')
            v = 63;
        else if (ch == '=')
            break;
        else
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap) return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (int)o;
}

static void h1_reset(hconn *c)
{
    /* HTTP/2 connections never pay for this buffer */
    if (!c->head) c->head = malloc(H1_MAX_HEAD);
    c->headlen = c->urllen = 0;
    c->nhdr = c->in_value = 0;
    c->h1_done = 0;
    http_parser_init(&c->hp, HTTP_REQUEST);
    c->hp.data = c;
}

static void feed_h2(hconn *c, const uint8_t *p, size_t n);

/* Answers the complete HTTP/1.1 request in c->head. */
static void h1_answer(hconn *c)
{
    shared *sh = c->w->sh;
    req_view v;
    memset(&v, 0, sizeof(v));
    v.method = http_method_str((enum http_method)c->hp.method);
    v.method_len = strlen(v.method);
    v.path = c->head + c->url;
    v.path_len = c->urllen;
    v.inm = h1_header(c, "if-none-match", &v.inm_len);
    v.ims = h1_header(c, "if-modified-since", &v.ims_len);
    v.range = h1_header(c, "range", &v.range_len);
    v.ae = h1_header(c, "accept-encoding", &v.ae_len);
    v.authority = h1_header(c, "host", &v.authority_len);
    c->h1_keepalive = http_should_keep_alive(&c->hp) && !c->w->stopping;

    /* RFC 9113 §3.1 / RFC 7540 §3.2: Upgrade: h2c on a request without a
     * body, with exactly one HTTP2-Settings */
    size_t ul, sl, cl;
    const char *up = h1_header(c, "upgrade", &ul), *hs = h1_header(c, "http2-settings", &sl);
    const char *conn = h1_header(c, "connection", &cl);
    if (!c->tls && up && ul == 3 && !strncasecmp(up, "h2c", 3) && hs && conn &&
        memmem(conn, cl, "HTTP2-Settings", 14) &&
        (c->hp.content_length == 0 || c->hp.content_length == ULLONG_MAX) &&
        !(c->hp.flags & F_CHUNKED)) {
        uint8_t settings[256];
        int k = b64url_decode(hs, sl, settings, sizeof(settings));
        loom_hpack_field req[] = {
            {(const uint8_t *)":method", 7, (const uint8_t *)v.method, v.method_len, 0},
            {(const uint8_t *)":scheme", 7, (const uint8_t *)"http", 4, 0},
            {(const uint8_t *)":authority", 10, (const uint8_t *)(v.authority ? v.authority : ""),
             v.authority_len, 0},
            {(const uint8_t *)":path", 5, (const uint8_t *)v.path, v.path_len, 0},
        };
        if (k >= 0 && start_h2(c, "h2c") == 0 &&
            loom_conn_upgrade(c->h2, settings, (size_t)k, req, 4) == 0) {
            static const char sw[] =
                "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
            wbuf_room(c);
            memcpy(c->wbuf + c->wlen, sw, sizeof(sw) - 1);
            c->wlen += sizeof(sw) - 1;
            respond_h2(c, 1, &v, 1);
            c->upgrade = 1; /* what follows the request is the client's preface */
            c->upgrade_hold = 1;
            c->hold_left = UPGRADE_HOLD;
            return;
        }
        if (c->h2) {
            loom_conn_free(c->h2);
            c->h2 = NULL;
            c->proto = P_H1;
            loop_timer_cancel(c->w->l, c->settings_timer);
            c->settings_timer = 0;
        }
    }

    file_reply r;
    serve_file(sh, &v, &r, NULL); /* HTTP/1.1 sends from the file itself */
    int head = v.method_len == 4 && !memcmp(v.method, "HEAD", 4);
    const push_entry *pe = r.status == 200 ? push_for(sh, v.path, v.path_len) : NULL;
    wbuf_room(c);
    size_t o = c->wlen;
    char *w = (char *)c->wbuf;
    size_t cap = WBUF_MAX;
#define OUT(...) o += (size_t)snprintf(w + o, cap - o, __VA_ARGS__)
    static const char *const reason[] = {
        "OK",        "Partial Content", "Not Modified",       "Bad Request",
        "Forbidden", "Not Found",       "Method Not Allowed", "Range Not Satisfiable"};
    int ri = r.status == 200   ? 0
             : r.status == 206 ? 1
             : r.status == 304 ? 2
             : r.status == 400 ? 3
             : r.status == 403 ? 4
             : r.status == 404 ? 5
             : r.status == 405 ? 6
                               : 7;
    if (pe && !sh->o->no_early_hints && !head && c->hp.http_minor >= 1) {
        OUT("HTTP/1.1 103 Early Hints\r\n");
        for (int i = 0; i < pe->n; i++)
            OUT("Link: <%s>; rel=preload\r\n", pe->assets[i]);
        OUT("\r\n");
    }
    OUT("HTTP/1.1 %d %s\r\nServer: loom/%s\r\n", r.status, reason[ri], LOOM_VERSION_STRING);
    uint64_t body_len = 0;
    const char *err_body = NULL;
    if (r.status == 200 || r.status == 206) {
        OUT("Content-Type: %s\r\nContent-Length: %llu\r\nETag: %s\r\nLast-Modified: %s\r\n"
            "Accept-Ranges: bytes\r\n",
            r.type, (unsigned long long)r.length, r.etag, r.last_modified);
        if (r.encoding) OUT("Content-Encoding: %s\r\nVary: accept-encoding\r\n", r.encoding);
        if (r.status == 206) OUT("Content-Range: %s\r\n", r.content_range);
        body_len = head ? 0 : r.length;
    } else if (r.status == 304) {
        OUT("ETag: %s\r\n", r.etag);
    } else {
        size_t bl;
        err_body = files_error_body(r.status, &bl);
        OUT("Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n", bl);
        if (r.status == 416) OUT("Content-Range: %s\r\n", r.content_range);
        if (r.status == 405) OUT("Allow: GET, HEAD\r\n");
        if (head) err_body = NULL;
    }
    OUT("Connection: %s\r\n\r\n", c->h1_keepalive ? "keep-alive" : "close");
    if (err_body) OUT("%s", err_body);
#undef OUT
    c->wlen = o < cap ? o : cap;
    fill_sreq(&c->h1req, 0, &v, r.status, r.fd);
    c->h1_off = r.offset;
    c->h1_left = body_len;
    c->h1req.bytes = body_len;
    if (!body_len && r.fd >= 0) {
        close(r.fd);
        c->h1req.fd = -1;
    }
}

/* Sends the HTTP/1.1 response in progress. 1: done, 0: socket full, -1. */
static int flush_h1(hconn *c)
{
    for (;;) {
        int rc = push_wbuf(c);
        if (rc <= 0) return rc;
        if (!c->h1_left) break;
        if (!c->ssl || c->ktls) {
            ssize_t n = c->ssl
                            ? SSL_sendfile(c->ssl, c->h1req.fd, (off_t)c->h1_off, c->h1_left, 0)
                            : sendfile(c->fd, c->h1req.fd, &(off_t){(off_t)c->h1_off}, c->h1_left);
            if (n < 0) {
                if (c->ssl) {
                    int e = SSL_get_error(c->ssl, (int)n);
                    return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? 0 : -1;
                }
                return errno == EAGAIN || errno == EINTR ? 0 : -1;
            }
            if (n == 0) return -1;
            c->h1_off += (uint64_t)n;
            c->h1_left -= (uint64_t)n;
            continue;
        }
        wbuf_room(c);
        size_t take = c->h1_left < WBUF_MAX ? (size_t)c->h1_left : WBUF_MAX;
        ssize_t n = pread(c->h1req.fd, c->wbuf, take, (off_t)c->h1_off);
        if (n <= 0) return -1;
        c->wlen = (size_t)n;
        c->h1_off += (uint64_t)n;
        c->h1_left -= (uint64_t)n;
    }
    if (c->h1_done) {
        access_log(c, &c->h1req, 0);
        if (c->h1req.fd >= 0) close(c->h1req.fd);
        c->h1req.fd = -1;
        if (!c->h1_keepalive) return -2; /* close after the response */
        h1_reset(c);
    }
    return 1;
}

/* Parses buffered HTTP/1.1 input, answering one request at a time. */
static void run_h1(hconn *c)
{
    while (!c->h1_done && c->inlen) {
        size_t n = http_parser_execute(&c->hp, &h1_settings, (const char *)c->in, c->inlen);
        enum http_errno err = HTTP_PARSER_ERRNO(&c->hp);
        if (err != HPE_OK && err != HPE_PAUSED) {
            /* malformed or too large: 400 and close */
            static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 16\r\n"
                                      "Connection: close\r\n\r\n400 Bad Request\n";
            wbuf_room(c);
            memcpy(c->wbuf, bad, sizeof(bad) - 1);
            c->wlen = sizeof(bad) - 1;
            c->closing = 1;
            c->inlen = 0;
            return;
        }
        memmove(c->in, c->in + n, c->inlen - n);
        c->inlen -= n;
        if (!c->h1_done) return; /* needs more input */
        h1_answer(c);
        if (c->upgrade) {
            c->upgrade = 0;
            /* the rest is HTTP/2 */
            size_t rest = c->inlen;
            c->inlen = 0;
            if (rest) feed_h2(c, c->in, rest);
            free(c->in);
            c->in = NULL;
            free(c->head);
            c->head = NULL;
            return;
        }
        int rc = flush_h1(c);
        if (rc == -2 || rc < 0) {
            c->closing = 1;
            return;
        }
        if (rc == 0) return; /* finish writing first */
    }
}

/* ---- connection life ---- */

static void idle_fired(loop *l, void *user);

static void touch(hconn *c)
{
    if (c->idle_timer) loop_timer_cancel(c->w->l, c->idle_timer);
    c->idle_timer = loop_timer(c->w->l, (uint64_t)c->w->sh->o->idle_timeout_ms, idle_fired, c);
}

static void idle_fired(loop *l, void *user)
{
    (void)l;
    hconn *c = user;
    c->idle_timer = 0;
    if (c->proto == P_H2 && c->h2) {
        loom_conn_stats st;
        loom_conn_get_stats(c->h2, &st);
        if (st.open_streams) {
            touch(c);
            return;
        }
        loom_goaway(c->h2, LOOM_H2_NO_ERROR, 0, "idle");
        if (conn_flush(c) < 0) return; /* already closed */
    }
    conn_close(c);
}

static void hs_fired(loop *l, void *user)
{
    (void)l;
    hconn *c = user;
    c->hs_timer = 0;
    conn_close(c);
}

static void conn_close(hconn *c)
{
    worker *w = c->w;
    loop_del(w->l, c->fd);
    if (c->idle_timer) loop_timer_cancel(w->l, c->idle_timer);
    if (c->hs_timer) loop_timer_cancel(w->l, c->hs_timer);
    if (c->settings_timer) loop_timer_cancel(w->l, c->settings_timer);
    if (c->h2) loom_conn_free(c->h2); /* closes streams: their files and logs */
    if (c->proto == P_H1 && c->h1req.fd >= 0) close(c->h1req.fd);
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    w->nconns--;
    free(c->wbuf);
    free(c->in);
    free(c->head);
    free(c);
    if (w->stopping && w->nconns == 0) loop_stop(w->l);
}

/* Writes what is pending. Returns -1 when it closed (and freed) c. */
static int conn_flush(hconn *c)
{
    int rc = 1;
    if (c->proto == P_H1) {
        rc = flush_h1(c);
        if (rc > 0 && !c->h1_done) run_h1(c); /* pipelined requests */
        if (rc > 0 && c->closing) rc = push_wbuf(c) > 0 ? -2 : 0;
    }
    if (c->proto == P_H2 && rc > 0) {
        rc = flush_h2(c);
        if (rc > 0 && c->w->stopping && !c->shutdown_sent) {
            c->shutdown_sent = 1;
            loom_goaway(c->h2, LOOM_H2_NO_ERROR, 1, "shutting down");
            rc = flush_h2(c);
        }
        if (rc > 0 && loom_conn_done(c->h2)) rc = -2;
    }
    if (rc < 0) {
        conn_close(c);
        return -1;
    }
    want_out(c, rc == 0);
    return 0;
}

static void feed_h2(hconn *c, const uint8_t *p, size_t n)
{
    if (n) c->upgrade_hold = 0; /* the client's preface is arriving */
    if (loom_conn_recv(c->h2, p, n) < 0) c->closing = 1;
}

static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static void on_io(loop *l, int fd, uint32_t events, void *user)
{
    (void)l;
    (void)fd;
    hconn *c = user;
    if (c->proto == P_HANDSHAKE) {
        ERR_clear_error();
        int rc = SSL_accept(c->ssl);
        if (rc <= 0) {
            int e = SSL_get_error(c->ssl, rc);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                want_out(c, e == SSL_ERROR_WANT_WRITE);
            else
                conn_close(c);
            return;
        }
        if (c->hs_timer) loop_timer_cancel(c->w->l, c->hs_timer);
        c->hs_timer = 0;
        c->ktls = tls_ktls_send(c->ssl);
        const unsigned char *alpn;
        unsigned len;
        SSL_get0_alpn_selected(c->ssl, &alpn, &len);
        if (len == 2 && !memcmp(alpn, "h2", 2)) {
            if (start_h2(c, "h2") < 0) {
                conn_close(c);
                return;
            }
        } else {
            c->proto = P_H1;
            c->label = "http/1.1";
            h1_reset(c);
        }
        touch(c);
        want_out(c, 1);
    }
    if ((events & LOOP_WRITE) && conn_flush(c) < 0) return; /* c is gone */
    if (!(events & (LOOP_READ | EPOLLHUP | EPOLLERR))) return;
    /* read what there is, bounded per turn */
    uint8_t buf[RBUF];
    for (int round = 0; round < 16; round++) {
        ssize_t n;
        if (c->ssl) {
            ERR_clear_error();
            int k = SSL_read(c->ssl, buf, sizeof(buf));
            if (k <= 0) {
                int e = SSL_get_error(c->ssl, k);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
                conn_close(c);
                return;
            }
            n = k;
        } else {
            n = recv(c->fd, buf, sizeof(buf), 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
            if (n <= 0) {
                conn_close(c);
                return;
            }
        }
        touch(c);
        if (c->proto == P_DETECT || c->proto == P_H1) {
            /* cleartext: the h2 preface or HTTP/1.1 */
            if ((!c->in && !(c->in = malloc(H1_MAX_HEAD + RBUF))) ||
                c->inlen + (size_t)n > H1_MAX_HEAD + RBUF) {
                conn_close(c);
                return;
            }
            memcpy(c->in + c->inlen, buf, (size_t)n);
            c->inlen += (size_t)n;
            if (c->proto == P_DETECT) {
                size_t k = c->inlen < 24 ? c->inlen : 24;
                if (!memcmp(c->in, preface, k)) {
                    if (c->inlen < 24) continue;
                    if (start_h2(c, "h2c") < 0) {
                        conn_close(c);
                        return;
                    }
                    size_t all = c->inlen;
                    c->inlen = 0;
                    feed_h2(c, c->in, all);
                    /* HTTP/2 reads straight from the socket: the detection
                     * buffer is not kept for the connection's life */
                    free(c->in);
                    c->in = NULL;
                } else {
                    c->proto = P_H1;
                    c->label = "http/1.1";
                    h1_reset(c);
                }
            }
            if (c->proto == P_H1) run_h1(c);
        } else if (c->proto == P_H2) {
            feed_h2(c, buf, (size_t)n);
        }
        if (c->closing) break;
        if ((size_t)n < sizeof(buf)) break;
    }
    conn_flush(c);
}

static void on_accept(loop *l, int fd, uint32_t events, void *user)
{
    (void)events;
    worker *w = user;
    int tls = 0;
    for (int i = 0; i < w->nls; i++)
        if (w->ls[i].fd == fd) tls = w->ls[i].tls;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) return;
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        hconn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(cfd);
            continue;
        }
        c->w = w;
        c->fd = cfd;
        c->tls = tls;
        c->h1req.fd = -1;
        getnameinfo((struct sockaddr *)&ss, sl, c->peer, sizeof(c->peer), NULL, 0, NI_NUMERICHOST);
        if (tls) {
            c->ssl = SSL_new(w->sh->tls);
            SSL_set_fd(c->ssl, cfd);
            c->proto = P_HANDSHAKE;
            c->hs_timer = loop_timer(l, (uint64_t)w->sh->o->handshake_timeout_ms, hs_fired, c);
        } else {
            c->proto = P_DETECT;
            c->label = "http/1.1";
        }
        c->next = w->conns;
        if (w->conns) w->conns->prev = c;
        w->conns = c;
        w->nconns++;
        loop_add(l, cfd, LOOP_READ, on_io, c);
        touch(c);
    }
}

static void force_close(loop *l, void *user)
{
    (void)l;
    worker *w = user;
    while (w->conns)
        conn_close(w->conns);
    loop_stop(w->l);
}

/* SIGTERM/SIGINT reached this worker: stop accepting, say GOAWAY, let
 * streams in flight finish until the grace period ends. */
static void on_shutdown(loop *l, int fd, uint32_t events, void *user)
{
    (void)events;
    worker *w = user;
    uint64_t v;
    (void)!read(fd, &v, sizeof(v));
    loop_del(l, fd);
    w->stopping = 1;
    for (int i = 0; i < w->nls; i++) {
        loop_del(l, w->ls[i].fd);
        close(w->ls[i].fd);
    }
    w->nls = 0;
    for (hconn *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (c->proto == P_H2) {
            conn_flush(c);
        } else if (c->proto == P_H1 && c->h1_done) {
            c->h1_keepalive = 0;
        } else {
            conn_close(c);
        }
    }
    if (w->nconns == 0)
        loop_stop(l);
    else
        loop_timer(l, (uint64_t)w->sh->o->grace_ms, force_close, w);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    loop_run(w->l);
    return NULL;
}

/* ---- start-up ---- */

static int listen_on(const server_listen *ls, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *res;
    const char *host = ls->host[0] ? ls->host : NULL;
    int rc = getaddrinfo(host, ls->port, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "cannot resolve %s:%s: %s", ls->host, ls->port, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1024) == 0) break;
        snprintf(err, errlen, "cannot listen on %s:%s: %s", ls->host[0] ? ls->host : "*", ls->port,
                 strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int load_push_map(shared *sh, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read push map %s: %s", path, strerror(errno));
        return -1;
    }
    char line[8192];
    int lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *save, *tok = strtok_r(line, " \t\r\n", &save);
        if (!tok || tok[0] == '#') continue;
        if (tok[0] != '/') {
            snprintf(err, errlen, "%s:%d: a page path must start with /", path, lineno);
            fclose(f);
            return -1;
        }
        push_entry *p = realloc(sh->push, (size_t)(sh->npush + 1) * sizeof(*p));
        if (!p) break;
        sh->push = p;
        push_entry *e = &sh->push[sh->npush++];
        memset(e, 0, sizeof(*e));
        snprintf(e->page, sizeof(e->page), "%s", tok);
        while ((tok = strtok_r(NULL, " \t\r\n", &save)) && e->n < MAX_PUSH) {
            if (tok[0] != '/') {
                /* same origin only: paths, never absolute URLs */
                snprintf(err, errlen, "%s:%d: push asset %s is not a path on this site", path,
                         lineno, tok);
                fclose(f);
                return -1;
            }
            e->assets[e->n++] = strdup(tok);
        }
    }
    fclose(f);
    return 0;
}

static void shared_free(shared *sh)
{
    if (sh->tls) SSL_CTX_free(sh->tls);
    for (int i = 0; i < sh->npush; i++)
        for (int k = 0; k < sh->push[i].n; k++)
            free(sh->push[i].assets[k]);
    free(sh->push);
    if (sh->root_fd >= 0) close(sh->root_fd);
    if (sh->log_fd > 2) close(sh->log_fd);
}

/* Start-up failed after n workers were (partly) set up: no thread runs. */
static void workers_free(worker *ws, int n)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < ws[i].nls; k++)
            close(ws[i].ls[k].fd);
        loop_free(ws[i].l);
        if (ws[i].efd >= 0) close(ws[i].efd);
        files_cache_free(ws[i].fc);
    }
    free(ws);
}

int server_run(const server_opts *o)
{
    char err[600];
    shared sh;
    memset(&sh, 0, sizeof(sh));
    sh.o = o;
    sh.log_fd = -1;
    sh.root_fd = -1;
    signal(SIGPIPE, SIG_IGN);

    struct stat st;
    if (stat(o->root, &st) < 0 || !S_ISDIR(st.st_mode) || !realpath(o->root, sh.root_real)) {
        fprintf(stderr, "loom serve: root folder %s: %s\n", o->root,
                stat(o->root, &st) < 0 ? strerror(errno) : "not a folder");
        return SERVE_ROOT;
    }
    sh.root_fd = open(sh.root_real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int need_tls = 0;
    for (int i = 0; i < o->nlisten; i++)
        need_tls |= o->listen[i].tls;
    if (need_tls && !(sh.tls = tls_server_ctx(o->cert, o->key, err, sizeof(err)))) {
        fprintf(stderr, "loom serve: %s\n", err);
        shared_free(&sh);
        return SERVE_CERT;
    }
    if (o->push_map && load_push_map(&sh, o->push_map, err, sizeof(err)) < 0) {
        fprintf(stderr, "loom serve: %s\n", err);
        shared_free(&sh);
        return SERVE_USAGE;
    }
    if (o->access_log) {
        sh.log_fd = !strcmp(o->access_log, "-")
                        ? 2
                        : open(o->access_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (sh.log_fd < 0) {
            fprintf(stderr, "loom serve: cannot open access log %s: %s\n", o->access_log,
                    strerror(errno));
            shared_free(&sh);
            return SERVE_USAGE;
        }
    }

    int nw = o->workers > 0 ? o->workers : 1;
    worker *ws = calloc((size_t)nw, sizeof(worker));
    /* every worker its own listening socket per address: the kernel
     * spreads connections (SO_REUSEPORT) */
    for (int i = 0; i < nw; i++) {
        ws[i].sh = &sh;
        ws[i].l = loop_new();
        ws[i].efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        ws[i].fc = files_cache_new(16u << 20);
        for (int k = 0; k < o->nlisten; k++) {
            server_listen la = o->listen[k];
            if (i > 0 && !strcmp(la.port, "0")) {
                /* port 0: the others share the port the first one got */
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);
                getsockname(ws[0].ls[k].fd, (struct sockaddr *)&ss, &sl);
                getnameinfo((struct sockaddr *)&ss, sl, NULL, 0, la.port, sizeof(la.port),
                            NI_NUMERICSERV);
            }
            int fd = listen_on(&la, err, sizeof(err));
            if (fd < 0) {
                fprintf(stderr, "loom serve: %s\n", err);
                workers_free(ws, i + 1);
                shared_free(&sh);
                return SERVE_PORT;
            }
            ws[i].ls[ws[i].nls++] = (lsock){fd, o->listen[k].tls};
            loop_add(ws[i].l, fd, LOOP_READ, on_accept, &ws[i]);
        }
        loop_add(ws[i].l, ws[i].efd, LOOP_READ, on_shutdown, &ws[i]);
    }
    /* signals go to this thread only */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (int i = 0; i < nw; i++)
        pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
    /* say where we listen (the real port when 0 was asked for) */
    for (int k = 0; k < ws[0].nls; k++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char host[NI_MAXHOST], port[NI_MAXSERV];
        getsockname(ws[0].ls[k].fd, (struct sockaddr *)&ss, &sl);
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV);
        int v6 = ss.ss_family == AF_INET6;
        printf("listening on %s://%s%s%s:%s/ (%s)\n", ws[0].ls[k].tls ? "https" : "http",
               v6 ? "[" : "", host, v6 ? "]" : "", port,
               ws[0].ls[k].tls ? "TLS: h2, http/1.1" : "cleartext: h2c, Upgrade, http/1.1");
    }
    fflush(stdout);
    if (o->ready) o->ready("listening", o->ready_user);
    int sig;
    sigwait(&set, &sig);
    for (int i = 0; i < nw; i++) {
        uint64_t one = 1;
        (void)!write(ws[i].efd, &one, sizeof(one));
    }
    for (int i = 0; i < nw; i++) {
        pthread_join(ws[i].th, NULL);
        loop_free(ws[i].l);
        close(ws[i].efd);
        files_cache_free(ws[i].fc);
    }
    free(ws);
    shared_free(&sh);
    return SERVE_OK;
}
