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
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
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

#include <systemd/sd-daemon.h>

#include "files.h"
#include "h1.h"
#include "loom/loom.h"
#include "loop.h"
#include "pool.h"
#include "proxy.h"
#include "sbuf.h"
#include "status.h"
#include "tls.h"
#include "transport.h"

#define RBUF         16384
#define MAX_PUSH     32
#define UPGRADE_HOLD 16384
#define H1_MEM_CHUNK (64 * 1024) /* HTTP/1.1 bodies from memory: written this much at a time */

/* ---- shared, read-only after start ---- */

typedef struct {
    char page[512];
    char *assets[MAX_PUSH];
    int n;
} push_entry;

/* What SIGHUP reloads: the options (the flags and the --config file read
 * again) and what they name: every site's root, the TLS contexts
 * (certificates and keys), the push maps, the media types. Workers take
 * the current one (an atomic load) at each accept, request and sweep; one
 * replaced is freed once every worker has been through its sweep since (a
 * loop turn: no request holds it then), and the TLS connections made with
 * it keep its context alive (OpenSSL counts). */
typedef struct reloadable {
    const server_opts *o; /* per request: timeouts, limits, hosts, logs' format... */
    /* o came from a reload: given back with this (NULL: o is not ours) */
    void (*release)(void *user, const server_opts *o);
    void *release_user;
    files_conf *files; /* deny globs, listing, compression, media types */
    proxy_conf *proxy; /* --proxy routes (NULL: none) */
    /* every site's root (a descriptor, and its real path): 0 the top-level
     * one, i + 1 the virtual host o->hosts[i] */
    int site_fd[SERVER_MAX_HOSTS + 1];
    char *site_real[SERVER_MAX_HOSTS + 1];
    /* the logs o names, open: a request is logged whole by one set, in its
     * format to its file (a descriptor the set shares with the one before
     * it is a dup(), closed with the set that no worker uses any more) */
    int log_fd; /* access log; -1: none */
    int err_fd; /* error log (2: stderr) */
    /* by site: 0 the top-level root, i + 1 the virtual host o->hosts[i]; a
     * host's context NULL: it shares site 0's */
    SSL_CTX *tls[SERVER_MAX_HOSTS + 1];
    struct {
        push_entry *push;
        int n;
    } push[SERVER_MAX_HOSTS + 1];
    uint64_t gen;
    struct reloadable *retired; /* older ones not freed yet (main thread's list) */
} reloadable;

typedef struct {
    /* the options at start: what a reload cannot change (listeners,
     * workers, --user) is read here; the rest from cur->o */
    const server_opts *o;
    _Atomic(reloadable *) cur;
    int need_tls;
    /* every connection's engine configuration, pointed to (not copied:
     * about 100 octets less per connection): [1] with frame events (the
     * access log counts DATA octets), [0] without */
    loom_config h2cfg[2];
    /* for --status: every worker's counters, and when we started */
    status_counters **stats;
    int nstats;
    time_t started;
} shared;

typedef struct worker worker;

typedef struct {
    int fd, tls;
    int activated; /* from systemd (socket activation): shared by the workers, closed last */
} lsock;

struct hconn;

/* One request on a stream (h2) or the connection (h1). */
typedef struct sreq {
    struct sreq *next_free; /* in the worker's spares */
    px *px;                 /* a proxied request (--proxy) */
    struct hconn *conn;     /* its connection (the proxy's callbacks) */
    uint8_t responded;      /* proxied: the head went out */
    uint32_t body_pending;  /* HTTP/1.1 proxied: request octets the backend has not taken */
    int fd;                 /* file being sent, or -1 */
    file_entry *entry;      /* or the cached file in memory */
    const uint8_t *mem;     /* HTTP/1.1: its octets (entry's data) */
    int status;
    uint64_t bytes, start_ms;
    int32_t sid;
    char method[12];
    char path[256];
    /* for the access log only (filled when there is one) */
    uint64_t start_us;
    char host[96], ua[160], referer[160];
} sreq;

enum { P_HANDSHAKE, P_DETECT, P_H2, P_H1 };

/* Laid out small (an idle connection is mostly this and its engine):
 * pointers and counters first, then the flags in single octets. */
typedef struct hconn {
    worker *w;
    transport tp;
    loom_conn *h2;
    /* cleartext detection and HTTP/1.1: allocated for those only */
    uint8_t *in;
    h1_msg *req;
    sreq *h1req;              /* the response in progress (from the worker's spares) */
    uint64_t h1_left, h1_off; /* file body still to send */
    uint32_t inlen;
    /* After a 101, h2 octets the engine may still send before the client's
     * preface arrives (UPGRADE_HOLD): some clients (curl 7.88) fail when
     * more than 32 KiB follow the 101 in one read. */
    uint32_t hold_left;
    /* life */
    /* the TLS handshake's deadline, then the lingering close's (never
     * both at once) */
    uint64_t end_timer;
    uint64_t reread_timer;
    uint64_t flush_timer;    /* proxied HTTP/2 output: written once per loop turn */
    uint64_t head_timer;     /* --header-timeout: the preface or a request head */
    uint64_t last_active;    /* ms: the worker's sweep checks it */
    uint64_t idle_bytes_out; /* octets written when last_active was last moved by a write */
    uint32_t linger_bytes;
    uint8_t tls;
    uint8_t proto;   /* P_* */
    uint8_t h1_busy; /* a request is complete and being answered */
    uint8_t h1_keepalive;
    uint8_t upgrade;
    uint8_t upgrade_hold;
    uint8_t want_out, closing, shutdown_sent;
    /* HTTP/1.1: answered before its body came, so the connection closes
     * after the response; then lingering: our side shut, the rest of what
     * the client sends read and dropped (bounded), so that the close does
     * not reset the response away */
    uint8_t h1_early, lingering;
    /* TLS: record buffers kept between reads and writes (a request came;
     * until then, and after QUIET_MS without traffic, OpenSSL releases
     * them after each use) */
    uint8_t keep_buffers;
    uint8_t shrunk;      /* the engine shrank, and nothing was read since */
    uint8_t carried;     /* a request came (HTTP/2: the engine shrinks after SHRINK_MS quiet) */
    uint8_t tls_checked; /* TLS: the first octets were looked at (plain_http_on_tls) */
    /* HTTP/1.1 proxied (h1req->px): the response is framed chunked; its
     * end was written */
    uint8_t h1_chunked, h1_px_end;
    /* HTTP/1.1 proxied WebSocket (RFC 6455 §4): the request asked for one
     * (Upgrade: websocket); the 101 went out and the connection is a
     * tunnel to the backend's; the client's side of it ended */
    uint8_t h1_ws, h1_tunnel, tunnel_eof;
    uint8_t peer_v6;
    uint8_t peer_ip[16]; /* the client's address (IPv4: 4 octets), for the access log */
    struct hconn *prev, *next;
} hconn;

struct worker {
    shared *sh;
    status_counters st;        /* this worker's (--status) */
    _Atomic uint64_t seen_gen; /* the reloadable in force at this worker's last sweep */
    reloadable *rl;            /* the one this worker reads (current_set()) */
    loop *l;
    pthread_t th;
    lsock ls[SERVER_MAX_LISTEN];
    int nls;
    int efd;        /* shutdown signal */
    file_cache *fc; /* small files in memory, this worker's own */
    proxy_pool *pp; /* connections to --proxy backends */
    hconn *conns;
    int nconns, stopping;
    /* accept() out of descriptors: listeners paused for a while, said once */
    int accept_paused, emfile_said;
    char logbuf[8192];
    size_t loglen;
    /* finished h2 requests' records kept for the next ones: no malloc per
     * request in steady state (at most SREQ_SPARES) */
    struct sreq *spares;
    int nspares;
};

#define SREQ_SPARES 256

/* The configuration in force, taken by the worker at each accept, request
 * and sweep: a request reads one set from its start (its site index, root,
 * push map and limits agree); after a reload the worker's cache of files
 * is emptied (roots, media types or deny globs may have changed). */
static reloadable *current_set(worker *w)
{
    reloadable *rl = atomic_load_explicit(&w->sh->cur, memory_order_acquire);
    if (rl != w->rl) {
        if (w->rl) files_cache_flush(w->fc);
        w->rl = rl;
    }
    return rl;
}

static void conn_close(hconn *c);
static int conn_flush(hconn *c);
static void reread_fired(loop *l, void *user);
static void head_expected(hconn *c);
static void head_arrived(hconn *c);

/* ---- access log: whole lines with one write(2) on an O_APPEND file ---- */

static void sreq_done(worker *w, sreq *r);
static void request_came(hconn *c);
static void set_proto(hconn *c, int p);
static inline int site_of(const server_opts *o, const char *name, size_t n);

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* src escaped into dst for a log line: JSON string escapes, or nginx's
 * (\xHH for '"', '\\' and control and non-ASCII octets); "-" for empty
 * in the text formats. */
static void log_escape(char *dst, size_t cap, const char *src, int json)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (!src[0] && !json) src = "-";
    for (const uint8_t *p = (const uint8_t *)src; *p && o + 7 < cap; p++) {
        if (*p == '"' || *p == '\\' || *p < 0x20 || *p >= 0x7f) {
            if (json && *p >= 0x80) { /* UTF-8 passes through JSON strings */
                dst[o++] = (char)*p;
                continue;
            }
            o += (size_t)(json ? snprintf(dst + o, cap - o, "\\u%04x", *p)
                               : snprintf(dst + o, cap - o, "\\x%c%c", hex[*p >> 4], hex[*p & 15]));
        } else {
            dst[o++] = (char)*p;
        }
    }
    dst[o] = 0;
}

static void peer_text(const hconn *c, char *out, size_t cap)
{
    if (!c->peer_v6 && cap >= 16) { /* (glibc's inet_ntop printf's: once per proxied request) */
        char *o = out;
        for (int i = 0; i < 4; i++) {
            unsigned v = c->peer_ip[i];
            if (v >= 100) *o++ = (char)('0' + v / 100);
            if (v >= 10) *o++ = (char)('0' + v / 10 % 10);
            *o++ = (char)('0' + v % 10);
            *o++ = i < 3 ? '.' : 0;
        }
        return;
    }
    if (!inet_ntop(c->peer_v6 ? AF_INET6 : AF_INET, c->peer_ip, out, (socklen_t)cap))
        snprintf(out, cap, "-");
}

/* s[0..n) as a string in out (cut at cap - 1) */
static void copy_str(char *out, size_t cap, const char *s, size_t n)
{
    if (n > cap - 1) n = cap - 1;
    if (n) memcpy(out, s, n);
    out[n] = 0;
}

/* A status code's text (3 digits: what HTTP/1.1 and HPACK carry) */
static size_t status_digits(char st[8], int status)
{
    if (status >= 100 && status <= 999) {
        st[0] = (char)('0' + status / 100);
        st[1] = (char)('0' + status / 10 % 10);
        st[2] = (char)('0' + status % 10);
        st[3] = 0;
        return 3;
    }
    return (size_t)snprintf(st, 8, "%d", status);
}

/* One line per request, in --log-format: nginx's "combined" (what log
 * analysers read), JSON lines, or loom's own with the HTTP/2 stream. */
static void access_log(hconn *c, const sreq *r, int32_t sid)
{
    const server_opts *o = c->w->rl->o;
    int fd = c->w->rl->log_fd;
    if (fd < 0) return;
    char line[2048], ts[64], peer[INET6_ADDRSTRLEN], path[600], ua[400], ref[400], host[260];
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    struct tm tm;
    gmtime_r(&wall.tv_sec, &tm);
    peer_text(c, peer, sizeof(peer));
    uint64_t took = r->start_us ? now_us() - r->start_us : 0;
    const char *proto = c->proto != P_H2 ? "http/1.1" : c->tls ? "h2" : "h2c";
    int json = o->log_format == SERVE_LOG_JSON;
    log_escape(path, sizeof(path), r->path, json);
    log_escape(ua, sizeof(ua), r->ua, json);
    log_escape(ref, sizeof(ref), r->referer, json);
    log_escape(host, sizeof(host), r->host, json);
    int n;
    if (o->log_format == SERVE_LOG_COMBINED) {
        strftime(ts, sizeof(ts), "%d/%b/%Y:%H:%M:%S +0000", &tm);
        n = snprintf(line, sizeof(line), "%s - - [%s] \"%s %s %s\" %d %llu \"%s\" \"%s\"\n", peer,
                     ts, r->method, path, c->proto == P_H2 ? "HTTP/2.0" : "HTTP/1.1", r->status,
                     (unsigned long long)r->bytes, ref, ua);
    } else if (json) {
        size_t k = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts + k, sizeof(ts) - k, ".%06ldZ", wall.tv_nsec / 1000);
        n = snprintf(
            line, sizeof(line),
            "{\"time\":\"%s\",\"remote_addr\":\"%s\",\"protocol\":\"%s\",\"stream\":%d,"
            "\"method\":\"%s\",\"path\":\"%s\",\"host\":\"%s\",\"status\":%d,\"bytes\":%llu,"
            "\"request_time_us\":%llu,\"referer\":\"%s\",\"user_agent\":\"%s\"}\n",
            ts, peer, proto, (int)sid, r->method, path, host, r->status,
            (unsigned long long)r->bytes, (unsigned long long)took, ref, ua);
    } else {
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        n = snprintf(line, sizeof(line), "%s %s %s stream=%d %s %s %d %llu %.3fms\n", ts, peer,
                     proto, (int)sid, r->method, path, r->status, (unsigned long long)r->bytes,
                     (double)took / 1000);
    }
    if (n > 0) (void)!write(fd, line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* The error log (--error-log, --log-level): one line per event, with the
 * peer's address when there is one. */
static void error_log(const reloadable *rl, const hconn *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void error_log(const reloadable *rl, const hconn *c, int level, const char *fmt, ...)
{
    if (level > rl->o->log_level) return;
    static const char *const names[] = {"error", "warn", "info"};
    char line[1024], ts[40], peer[INET6_ADDRSTRLEN + 2] = "";
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (c) {
        peer_text(c, peer, sizeof(peer) - 2);
        strcat(peer, ": ");
    }
    int n = snprintf(line, sizeof(line), "%s [%s] %s", ts, names[level], peer);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && n < (int)sizeof(line)) n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(line) - 1) n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    (void)!write(rl->err_fd, line, (size_t)n);
}

/* ---- the request handler, shared by h2 and h1 ---- */

typedef struct {
    const char *method, *path, *authority, *inm, *ims, *range, *ae, *im, *ius, *ir, *ua, *referer;
    size_t method_len, path_len, authority_len, inm_len, ims_len, range_len, ae_len, im_len,
        ius_len, ir_len, ua_len, referer_len;
    int64_t content_length; /* of the request body; -1 when not given */
    int site;               /* the virtual host its authority names (site_of), 0 for none */
} req_view;

/* --status PATH: PATH (or PATH/) is the live page, PATH/metrics the
 * Prometheus text; for the --status-allow addresses only (loopback by
 * default), 403 for the rest. 0: not the status path. */
static int status_reply(hconn *c, const req_view *v, file_reply *r)
{
    const server_opts *o = c->w->rl->o;
    if (!o->status_path) return 0;
    size_t sl = strlen(o->status_path), pl = 0;
    if (sl > 1 && o->status_path[sl - 1] == '/') sl--; /* "/status/" names "/status" */
    while (pl < v->path_len && v->path[pl] != '?')
        pl++;
    if (!sl || pl < sl || memcmp(v->path, o->status_path, sl)) return 0;
    const char *rest = v->path + sl;
    size_t rl = pl - sl;
    int page = rl == 0 || (rl == 1 && rest[0] == '/');
    int metrics = rl == 8 && !memcmp(rest, "/metrics", 8);
    if (!page && !metrics) return 0;
    memset(r, 0, offsetof(file_reply, path));
    r->fd = -1;
    r->path[0] = 0;
    r->type = "text/plain; charset=utf-8";
    if (!status_allowed(c->peer_ip, c->peer_v6, o->status_allow, (size_t)o->nstatus_allow)) {
        r->status = 403;
        return 1;
    }
    int head = v->method_len == 4 && !memcmp(v->method, "HEAD", 4);
    if (!head && !(v->method_len == 3 && !memcmp(v->method, "GET", 3))) {
        r->status = 405;
        return 1;
    }
    const shared *sh = c->w->sh;
    size_t n = 0;
    if (metrics) {
        r->fd = status_metrics(sh->stats, sh->nstats, (uint64_t)(time(NULL) - sh->started), &n);
        r->type = "text/plain; version=0.0.4; charset=utf-8";
    } else {
        n = strlen(status_page());
        r->fd = mem_file(status_page(), n);
        r->type = "text/html; charset=utf-8";
    }
    if (r->fd < 0) {
        r->status = 503;
        return 1;
    }
    r->status = 200;
    r->length = r->size = n;
    return 1;
}

static void serve_file(hconn *c, const req_view *v, file_reply *r)
{
    const reloadable *rl = c->w->rl;
    if (v->content_length > 0 && (uint64_t)v->content_length > rl->o->max_request_body) {
        /* RFC 9110 §15.5.14: too large a body is refused before anything
         * else looks at the request */
        memset(r, 0, offsetof(file_reply, path));
        r->status = 413;
        r->fd = -1;
        r->path[0] = 0;
        return;
    }
    if (status_reply(c, v, r)) return;
    file_request q = {
        v->method, v->method_len, v->path, v->path_len,
        v->inm,    v->inm_len,    v->ims,  v->ims_len,
        v->range,  v->range_len,  v->ae,   v->ae_len,
        v->im,     v->im_len,     v->ius,  v->ius_len,
        v->ir,     v->ir_len,     v->site, c->tp.ssl ? FILES_MEM_MAX_TLS : FILES_MEM_MAX};
    files_serve(rl->files, rl->site_fd[v->site], rl->site_real[v->site], &q, r, c->w->fc);
}

static const push_entry *push_for(const reloadable *rl, const req_view *v)
{
    const push_entry *push = rl->push[v->site].push;
    int n = rl->push[v->site].n;
    if (!n) return NULL; /* no push map for this host */
    size_t k = 0;
    while (k < v->path_len && v->path[k] != '?')
        k++;
    for (int i = 0; i < n; i++)
        if (strlen(push[i].page) == k && !memcmp(push[i].page, v->path, k)) return &push[i];
    return NULL;
}

/* v in decimal at out (room for 21 octets, with the NUL); returns the
 * length. (snprintf costs several times this: with the other formatting
 * it replaced, a tenth of a small response's CPU.) */
static size_t fmt_u64(char *out, uint64_t v)
{
    char t[20];
    size_t n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = t[n - 1 - i];
    out[n] = 0;
    return n;
}

/* Response fields for a reply; strings live in r, date and bufs. */
static size_t reply_fields(const file_reply *r, const char *date, loom_hpack_field *f, char *len,
                           char *status, const push_entry *pe, char *link, size_t linkcap)
{
    size_t n = 0;
    /* names are literals: their lengths are known without strlen */
#define ADDN(nm, val, vlen)                                                                        \
    f[n++] = (loom_hpack_field){(const uint8_t *)(nm), sizeof(nm) - 1, (const uint8_t *)(val),     \
                                (vlen), 0}
#define ADD(nm, val)  ADDN(nm, val, strlen(val))
#define ADDL(nm, val) ADDN(nm, val, sizeof(val) - 1)
    ADDN(":status", status, fmt_u64(status, (uint64_t)(r->status % 1000)));
    ADDL("server", "loom/" LOOM_VERSION_STRING);
    ADD("date", date);
    if (r->status == 200 || r->status == 206) {
        ADD("content-type", r->type);
        ADDN("content-length", len, fmt_u64(len, r->length));
        if (r->etag[0]) ADD("etag", r->etag); /* none for a folder's listing */
        if (r->last_modified[0]) ADD("last-modified", r->last_modified);
        if (r->etag[0]) ADDL("accept-ranges", "bytes");
        if (r->encoding) ADD("content-encoding", r->encoding);
        if (r->vary) ADDL("vary", "accept-encoding");
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
        if (r->vary) ADDL("vary", "accept-encoding");
    } else {
        size_t blen;
        files_error_body(r->status, &blen);
        ADDL("content-type", "text/plain; charset=utf-8");
        ADDN("content-length", len, fmt_u64(len, blen));
        if (r->status == 416) ADD("content-range", r->content_range);
        if (r->status == 405) ADDL("allow", "GET, HEAD");
        if (r->status == 301) ADD("location", r->location);
    }
#undef ADDL
#undef ADD
#undef ADDN
    return n;
}

/* ---- HTTP/2 ---- */

static int32_t respond_h2(hconn *c, int32_t sid, const req_view *v, int allow_push);
static void proxy_h2(hconn *c, int32_t sid, const loom_event *ev, const req_view *v, int route);

/* A decimal number of at most 18 digits (else INT64_MAX: too large). */
static int64_t decimal(const uint8_t *p, size_t n)
{
    if (n > 18) return INT64_MAX;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    return v;
}

static int h2_event(loom_conn *lc, const loom_event *ev, void *user)
{
    hconn *c = user;
    switch (ev->type) {
    case LOOM_EV_HEADERS: {
        req_view v;
        memset(&v, 0, sizeof(v));
        v.content_length = -1;
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
            else if (IS("if-match"))
                SET(im, im_len);
            else if (IS("if-unmodified-since"))
                SET(ius, ius_len);
            else if (IS("if-range"))
                SET(ir, ir_len);
            else if (IS("user-agent"))
                SET(ua, ua_len);
            else if (IS("referer"))
                SET(referer, referer_len);
            else if (IS("content-length")) /* digits: the engine checked (§8.1.1) */
                v.content_length = decimal(f->value, f->value_len);
#undef IS
#undef SET
        }
        if (!v.method || !v.path) { /* CONNECT and the like: not served here */
            const char *date = files_date_now();
            loom_hpack_field f[] = {
                {(const uint8_t *)":status", 7, (const uint8_t *)"405", 3, 0},
                {(const uint8_t *)"date", 4, (const uint8_t *)date, strlen(date), 0}};
            loom_respond(lc, ev->stream_id, f, 2, NULL);
            break;
        }
        request_came(c);
        const reloadable *rl = current_set(c->w);
        int route = rl->proxy ? proxy_route(rl->proxy, v.path, v.path_len) : -1;
        if (route >= 0) {
            proxy_h2(c, ev->stream_id, ev, &v, route);
            break;
        }
        v.site = site_of(rl->o, v.authority, v.authority_len);
        respond_h2(c, ev->stream_id, &v, 1);
        break;
    }
    case LOOM_EV_DATA: {
        /* windows are opened by hand (manual_window): a proxied body as the
         * backend takes it, any other at once */
        sreq *r = loom_stream_get_user(lc, ev->stream_id);
        if (r && r->px)
            proxy_body(r->px, ev->u.data.data, ev->u.data.len, ev->u.data.end_stream);
        else
            loom_consumed(lc, ev->stream_id, ev->u.data.len);
        break;
    }
    case LOOM_EV_TRAILERS: { /* the end of a request body */
        sreq *r = loom_stream_get_user(lc, ev->stream_id);
        if (r && r->px) proxy_body(r->px, NULL, 0, 1);
        break;
    }
    case LOOM_EV_STREAM_CLOSED: {
        sreq *r = loom_stream_get_user(lc, ev->stream_id);
        if (r && r->px) {
            proxy_free(r->px);
            r->px = NULL;
        }
        if (r) {
            access_log(c, r, ev->stream_id);
            if (r->fd >= 0) close(r->fd);
            files_release(c->w->fc, r->entry);
            sreq_done(c->w, r);
            loom_stream_set_user(lc, ev->stream_id, NULL);
        }
        break;
    }
    case LOOM_EV_SETTINGS: /* the client's preface is complete */ head_arrived(c); break;
    case LOOM_EV_ERROR: /* we end the connection with GOAWAY: why */
        if (loom_err_h2_code(ev->u.error.err) < STATUS_ERRS)
            STATUS_ADD(&c->w->st, goaway[loom_err_h2_code(ev->u.error.err)], 1);
        error_log(c->w->rl, c,
                  ev->u.error.err == LOOM_ERR_ENHANCE_YOUR_CALM ? SERVE_LOG_WARN : SERVE_LOG_INFO,
                  "%s: GOAWAY %s: %s", c->tls ? "h2" : "h2c",
                  loom_h2_code_name(loom_err_h2_code(ev->u.error.err)),
                  ev->u.error.reason ? ev->u.error.reason : "");
        break;
    case LOOM_EV_GOAWAY:
        if (ev->u.goaway.error_code != LOOM_H2_NO_ERROR)
            error_log(c->w->rl, c, SERVE_LOG_INFO, "the client sent GOAWAY with error %u",
                      (unsigned)ev->u.goaway.error_code);
        break;
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

/* A field's value into a record's buffer, cut to fit. */
static void keep(char *dst, size_t cap, const char *v, size_t n)
{
    if (!v) n = 0;
    if (n > cap - 1) n = cap - 1;
    if (n) memcpy(dst, v, n);
    dst[n] = 0;
}

static void fill_sreq(sreq *r, int32_t sid, const req_view *v, int status, int fd, int logging)
{
    r->px = NULL;
    r->conn = NULL;
    r->responded = 0;
    r->body_pending = 0;
    r->start_us = 0;
    r->host[0] = r->ua[0] = r->referer[0] = 0;
    if (logging) {
        r->start_us = now_us();
        keep(r->host, sizeof(r->host), v->authority, v->authority_len);
        keep(r->ua, sizeof(r->ua), v->ua, v->ua_len);
        keep(r->referer, sizeof(r->referer), v->referer, v->referer_len);
    }
    r->fd = fd;
    r->entry = NULL;
    r->mem = NULL;
    r->status = status;
    r->bytes = 0;
    r->sid = sid;
    r->start_ms = loop_now_ms();
    size_t m = v->method
                   ? (v->method_len < sizeof(r->method) - 1 ? v->method_len : sizeof(r->method) - 1)
                   : 0;
    if (m) memcpy(r->method, v->method, m);
    r->method[m] = 0;
    size_t k =
        v->path ? (v->path_len < sizeof(r->path) - 1 ? v->path_len : sizeof(r->path) - 1) : 0;
    if (k) memcpy(r->path, v->path, k);
    r->path[k] = 0;
}

static sreq *new_sreq(worker *w, int32_t sid, const req_view *v, int status, int fd)
{
    sreq *r = w->spares;
    if (r) {
        w->spares = r->next_free;
        w->nspares--;
    } else {
        r = malloc(sizeof(*r));
    }
    if (r) {
        fill_sreq(r, sid, v, status, fd, w->rl->log_fd >= 0);
        STATUS_ADD(&w->st, streams_open, 1);
        STATUS_ADD(&w->st, requests[status >= 100 && status < 600 ? status / 100 : 0], 1);
    }
    return r;
}

static void sreq_done(worker *w, sreq *r)
{
    STATUS_SUB(&w->st, streams_open, 1);
    if (w->nspares < SREQ_SPARES) {
        r->next_free = w->spares;
        w->spares = r;
        w->nspares++;
    } else {
        free(r);
    }
}

/* ---- the reverse proxy's front over HTTP/2 (src/proxy.c) ---- */

static const char *status_text(int status)
{
    switch (status) {
    case 502: return "502 Bad Gateway: the backend failed (see the error log)\n";
    case 503: return "503 Service Unavailable\n";
    case 504: return "504 Gateway Timeout: the backend did not answer in time\n";
    case 501: return "501 Not Implemented: only the websocket protocol is tunnelled\n";
    case 400: return "400 Bad Request: not a valid WebSocket handshake (RFC 6455 §4.1)\n";
    default: return "500 Internal Server Error\n";
    }
}

/* The response body for the client: what the backend sent so far. */
static long px_pull(void *user, int32_t sid, uint8_t *buf, size_t max, int *eof)
{
    sreq *r = user;
    if (!r->px) {
        *eof = 1;
        return 0;
    }
    long n = proxy_read(r->px, buf, max, eof);
    if (*eof) { /* trailers (gRPC's status) go after the body */
        size_t nt;
        const loom_hpack_field *t = proxy_trailers(r->px, &nt);
        if (nt) loom_set_trailers(r->conn->h2, sid, t, nt);
    }
    return n;
}

static void h1_px_head(sreq *r, int status, const loom_hpack_field *f, size_t n);
static int h1_px_reading(const hconn *c);
static void want_out(hconn *c, int on);
static void h1_final(hconn *c, const char *status, const char *body);

static void flush_fired(loop *l, void *user)
{
    (void)l;
    hconn *c = user;
    c->flush_timer = 0;
    conn_flush(c);
}
/* What the proxy's callbacks queue on a client connection is written
 * after the turn's other events (one TLS record and one write for a
 * response's HEADERS and DATA, not one each). */
static void flush_later(hconn *c)
{
    if (!c->flush_timer) c->flush_timer = loop_timer(c->w->l, 0, flush_fired, c);
}

static void pxf_head(void *front, int status, const loom_hpack_field *f, size_t n, int end)
{
    sreq *r = front;
    hconn *c = r->conn;
    if (c->proto == P_H1) {
        h1_px_head(r, status, f, n);
        return;
    }
    char st[8];
    loom_hpack_field out[130];
    size_t k = 0, sl = status_digits(st, status);
    out[k++] = (loom_hpack_field){(const uint8_t *)":status", 7, (const uint8_t *)st, sl, 0};
    for (size_t i = 0; i < n && k < sizeof(out) / sizeof(out[0]); i++)
        out[k++] = f[i];
    int nobody = end || !strcmp(r->method, "HEAD") || status == 204 || status == 304;
    loom_body b = {.fd = -1, .read = px_pull, .user = r};
    r->responded = 1;
    r->status = status;
    if (loom_respond(c->h2, r->sid, out, k, nobody ? NULL : &b) < 0) {
        loom_reset(c->h2, r->sid, LOOM_H2_INTERNAL_ERROR);
    }
    flush_later(c);
}

static void pxf_more(void *front)
{
    sreq *r = front;
    if (!r->responded) return;
    if (r->conn->proto == P_H2) {
        loom_resume(r->conn->h2, r->sid);
        flush_later(r->conn);
        return;
    }
    conn_flush(r->conn);
}

static void pxf_error(void *front, int status, const char *why)
{
    sreq *r = front;
    hconn *c = r->conn;
    (void)why; /* logged by pxf_log */
    if (c->proto == P_H1) {
        if (r->responded) { /* cut short: the client must not take it as whole */
            conn_close(c);
            return;
        }
        char st[64];
        snprintf(st, sizeof(st), "%d %s", status, h1_reason(status));
        r->responded = 1;
        r->status = status;
        c->h1_px_end = 1;
        c->h1_keepalive = 0;
        h1_final(c, st, status_text(status));
        conn_flush(c);
        return;
    }
    if (r->responded) { /* it must not look complete */
        loom_reset(c->h2, r->sid, LOOM_H2_INTERNAL_ERROR);
    } else {
        const char *text = status_text(status), *date = files_date_now();
        char st[8], len[24];
        snprintf(st, sizeof(st), "%d", status);
        snprintf(len, sizeof(len), "%zu", strlen(text));
        loom_hpack_field f[] = {
            {(const uint8_t *)":status", 7, (const uint8_t *)st, strlen(st), 0},
            {(const uint8_t *)"date", 4, (const uint8_t *)date, strlen(date), 0},
            {(const uint8_t *)"content-type", 12, (const uint8_t *)"text/plain; charset=utf-8", 25,
             0},
            {(const uint8_t *)"content-length", 14, (const uint8_t *)len, strlen(len), 0}};
        loom_body b = {.data = (const uint8_t *)text, .len = strlen(text), .fd = -1};
        r->responded = 1;
        r->status = status;
        loom_respond(c->h2, r->sid, f, 4, strcmp(r->method, "HEAD") ? &b : NULL);
    }
    conn_flush(c);
}

static void pxf_consumed(void *front, size_t n)
{
    sreq *r = front;
    hconn *c = r->conn;
    if (c->proto == P_H1) { /* reading goes on once the backend took enough */
        int was = h1_px_reading(c);
        r->body_pending = n < r->body_pending ? r->body_pending - (uint32_t)n : 0;
        if (!was && h1_px_reading(c)) {
            want_out(c, 0);
            if (!c->reread_timer) c->reread_timer = loop_timer(c->w->l, 0, reread_fired, c);
        }
        return;
    }
    loom_consumed(c->h2, r->sid, n); /* the client may send as much again */
    conn_flush(c);
}

static void pxf_log(void *front, const char *line)
{
    sreq *r = front;
    error_log(r->conn->w->rl, r->conn, SERVE_LOG_WARN, "%s %s: %s", r->method, r->path, line);
}

static const proxy_front h2_front = {pxf_head, pxf_more, pxf_error, pxf_consumed, pxf_log};

/* ---- the reverse proxy's front over HTTP/1.1 ---- */

/* A proxied request's body is read while the backend keeps up: at most
 * this much waits for it (then the client is slowed by TCP). */
#define H1_PX_PENDING_MAX (256u * 1024)

/* A WebSocket tunnel's client octets the backend has not taken: reading
 * the client stops at this (its other way is bounded by CL_TUNNEL_MAX). */
#define H1_TUNNEL_MAX (32u * 1024)

static int h1_px_reading(const hconn *c)
{
    if (c->proto != P_H1 || !c->h1_busy || !c->h1req || !c->h1req->px) return 0;
    if (c->h1_tunnel) return !c->tunnel_eof && c->h1req->body_pending < H1_TUNNEL_MAX;
    return c->req && !c->req->msg_done && c->h1req->body_pending < H1_PX_PENDING_MAX;
}

/* The client's octets after the 101: on to the backend as they are. */
static void tunnel_in(hconn *c, const uint8_t *p, size_t n)
{
    sreq *r = c->h1req;
    if (!n) return;
    r->body_pending += (uint32_t)n;
    proxy_body(r->px, p, n, 0);
}

/* The backend's 101 to a WebSocket Upgrade (RFC 9110 §7.8, RFC 6455
 * §4.2.2): the client hears it with the backend's Upgrade, Connection and
 * Sec-WebSocket-* fields (f), then the connection is a tunnel. */
static void h1_tunnel_open(sreq *r, const loom_hpack_field *f, size_t n)
{
    hconn *c = r->conn;
    char buf[H1_MAX_HEAD + 256];
    h1_out o = {buf, 0, sizeof(buf), 0};
    /* the names as RFC 6455 §4.2.2 writes them (some clients compare so) */
    static const char *const canon[] = {"Connection",
                                        "Upgrade",
                                        "Sec-WebSocket-Accept",
                                        "Sec-WebSocket-Protocol",
                                        "Sec-WebSocket-Extensions",
                                        "Via"};
    h1_printf(&o, "HTTP/1.1 101 Switching Protocols\r\n");
    for (size_t i = 0; i < n; i++) {
        const char *name = (const char *)f[i].name;
        for (size_t j = 0; j < sizeof(canon) / sizeof(canon[0]); j++)
            if (strlen(canon[j]) == f[i].name_len && !strncasecmp(canon[j], name, f[i].name_len))
                name = canon[j];
        h1_put_field(&o, name, f[i].name_len, (const char *)f[i].value, f[i].value_len);
    }
    h1_put(&o, "\r\n", 2);
    r->responded = 1;
    r->status = 101;
    c->h1_tunnel = 1;
    c->h1_keepalive = 0; /* no HTTP after it (RFC 9110 §7.8) */
    c->h1_chunked = 0;
    c->h1_px_end = 0;
    if (o.overflow || tp_write(&c->tp, o.p, o.len) == TP_ERROR) {
        conn_close(c);
        return;
    }
    /* what the client sent after its request head is the tunnel's */
    if (c->inlen) {
        tunnel_in(c, c->in, c->inlen);
        c->inlen = 0;
    }
    free(c->in); /* no HTTP input any more */
    c->in = NULL;
    if (conn_flush(c) < 0) return;
    /* reading (the tunnel's) starts: anything TLS read ahead too */
    if (!c->reread_timer) c->reread_timer = loop_timer(c->w->l, 0, reread_fired, c);
}

/* The response head to an HTTP/1.1 client: the backend's fields, framed
 * by its Content-Length when it gave one, else chunked (RFC 9112 §7.1),
 * or to the close for an HTTP/1.0 client. */
static void h1_px_head(sreq *r, int status, const loom_hpack_field *f, size_t n)
{
    hconn *c = r->conn;
    if (status == 101 && c->h1_ws) {
        h1_tunnel_open(r, f, n);
        return;
    }
    char buf[H1_MAX_HEAD + 256];
    h1_out o = {buf, 0, sizeof(buf), 0};
    int nobody = !strcmp(r->method, "HEAD") || status == 204 || status == 304 || status < 200;
    int has_length = 0;
    h1_printf(&o, "HTTP/1.1 %d %s\r\n", status, h1_reason(status));
    for (size_t i = 0; i < n; i++) {
        has_length |=
            f[i].name_len == 14 && !strncasecmp((const char *)f[i].name, "content-length", 14);
        h1_put_field(&o, (const char *)f[i].name, f[i].name_len, (const char *)f[i].value,
                     f[i].value_len);
    }
    c->h1_chunked = !nobody && !has_length && c->req->hp.http_minor >= 1;
    if (!nobody && !has_length && !c->h1_chunked) c->h1_keepalive = 0; /* to the close */
    if (c->h1_chunked) h1_printf(&o, "Transfer-Encoding: chunked\r\n");
    h1_printf(&o, "Connection: %s\r\n\r\n", c->h1_keepalive ? "keep-alive" : "close");
    r->responded = 1;
    r->status = status;
    c->h1_px_end = (uint8_t)nobody;
    if (o.overflow || tp_write(&c->tp, o.p, o.len) == TP_ERROR) {
        conn_close(c);
        return;
    }
    conn_flush(c);
}

/* Writes what the backend sent, while the socket takes it; at the end the
 * last chunk (with the trailers), then the next request. 1: done, 0: to
 * be continued, -1 failed, -2 done and the connection closes. */
static int flush_h1_px(hconn *c)
{
    sreq *r = c->h1req;
    int rc = tp_flush(&c->tp);
    while (rc == TP_DONE && r->responded && !c->h1_px_end) {
        uint8_t buf[16384 + 32], *start = buf + 16;
        int eof = 0;
        long got = proxy_read(r->px, start, 16384, &eof);
        if (got == LOOM_BODY_DEFER) break;
        size_t len = got > 0 ? (size_t)got : 0;
        if (c->h1_chunked && len) {
            char hd[16];
            int hl = snprintf(hd, sizeof(hd), "%zx\r\n", len);
            start -= hl;
            memcpy(start, hd, (size_t)hl);
            memcpy(buf + 16 + len, "\r\n", 2);
            len += (size_t)hl + 2;
        }
        r->bytes += got > 0 ? (uint64_t)got : 0;
        if (len) rc = tp_write(&c->tp, start, len);
        if (rc == TP_ERROR) break;
        if (eof) {
            c->h1_px_end = 1;
            if (c->h1_chunked) { /* the last chunk, and the trailers (RFC 9112 §7.1.2) */
                char tr[H1_MAX_HEAD];
                h1_out o = {tr, 0, sizeof(tr), 0};
                size_t nt;
                const loom_hpack_field *t = proxy_trailers(r->px, &nt);
                h1_printf(&o, "0\r\n");
                for (size_t i = 0; i < nt; i++)
                    h1_printf(&o, "%.*s: %.*s\r\n", (int)t[i].name_len, (const char *)t[i].name,
                              (int)t[i].value_len, (const char *)t[i].value);
                h1_printf(&o, "\r\n");
                if (!o.overflow) rc = tp_write(&c->tp, o.p, o.len);
            }
        }
    }
    if (rc == TP_ERROR) return -1;
    if (rc != TP_DONE) return 0;
    if (!c->h1_px_end) return 1; /* all written: the backend's next octets wake it */
    /* the response is out: the request is done with (a body not all read
     * means the connection cannot carry another: RFC 9112 §9.3) */
    if (!c->req->msg_done) c->h1_keepalive = 0;
    access_log(c, r, 0);
    proxy_free(r->px);
    r->px = NULL;
    sreq_done(c->w, r);
    c->h1req = NULL;
    c->h1_busy = 0;
    c->h1_px_end = 0;
    c->h1_chunked = 0;
    c->h1_ws = 0;
    if (c->h1_tunnel) return -2; /* the backend's side ended: so does the client's */
    if (!c->h1_keepalive) return -2;
    h1_reset(c->req);
    return 1;
}

/* The parser reached a request's head: one for a --proxy route goes on to
 * a backend now, before its body (which follows as it is read). */
static int h1_on_head(h1_msg *m)
{
    hconn *c = m->user;
    const reloadable *rl = current_set(c->w);
    size_t tl;
    const char *target = h1_target(m, &tl), *method = h1_method(m);
    int route = rl->proxy && tl && target[0] == '/' ? proxy_route(rl->proxy, target, tl) : -1;
    if (route < 0 || !strcmp(method, "CONNECT")) return 0;
    req_view v;
    memset(&v, 0, sizeof(v));
    v.method = method;
    v.method_len = strlen(method);
    v.path = target;
    v.path_len = tl;
    v.ua = h1_field(m, "user-agent", &v.ua_len);
    v.referer = h1_field(m, "referer", &v.referer_len);
    v.authority = h1_field(m, "host", &v.authority_len);
    sreq *r = new_sreq(c->w, 0, &v, 0, -1);
    if (!r) return -1;
    r->conn = c;
    c->h1req = r;
    c->h1_busy = 1;
    c->h1_early = 0;
    c->h1_keepalive = h1_keep_alive(m) && !c->w->stopping;
    c->h1_px_end = 0;
    head_arrived(c);
    request_came(c);
    loom_hpack_field f[H1_MAX_FIELDS];
    size_t n = h1_fields(m, 0, m->nf, f);
    char path[4096], authority[300], ip[INET6_ADDRSTRLEN];
    snprintf(path, sizeof(path), "%.*s", (int)tl, target);
    snprintf(authority, sizeof(authority), "%.*s", (int)v.authority_len,
             v.authority ? v.authority : "");
    peer_text(c, ip, sizeof(ip));
    int64_t cl = h1_content_length(m);
    int64_t size = m->chunked ? -1 : cl >= 0 ? cl : 0;
    /* RFC 6455 §4.1 / RFC 9110 §7.8: a WebSocket is a GET over HTTP/1.1
     * with "Upgrade: websocket" and "Connection: upgrade" (any other
     * Upgrade is hop-by-hop: dropped, the request goes on as it is) */
    size_t ul, kl, ckl;
    const char *up = h1_field(m, "upgrade", &ul), *conn = h1_field(m, "connection", &ckl);
    const char *key = h1_field(m, "sec-websocket-key", &kl);
    char ws_key[32];
    c->h1_ws = !strcmp(method, "GET") && m->hp.http_minor >= 1 && up &&
               h1_list_has(up, ul, "websocket") && conn && h1_list_has(conn, ckl, "upgrade");
    if (c->h1_ws) {
        snprintf(ws_key, sizeof(ws_key), "%.*s", key ? (int)kl : 0, key ? key : "");
        size = -1; /* the tunnel's octets, once it opens */
    }
    /* RFC 9110 §10.1.1: the proxy takes the body, so it says go on now
     * (the backend gets no Expect) */
    size_t el;
    const char *expect = h1_field(m, "expect", &el);
    if (expect && el == 12 && !strncasecmp(expect, "100-continue", 12) && size &&
        m->hp.http_minor >= 1)
        tp_write(&c->tp, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    proxy_request rq = {method, authority, path, f, n, size, ip, NULL, c->tls, 1, NULL};
    if (c->h1_ws) {
        rq.protocol = "websocket";
        rq.ws_key = ws_key;
    }
    r->px = proxy_start(c->w->pp, rl->proxy, route, &rq, &h2_front, r);
    if (!r->px) return -1;
    return 0;
}

/* A request for a --proxy route, over HTTP/2: on to a backend. */
static void proxy_h2(hconn *c, int32_t sid, const loom_event *ev, const req_view *v, int route)
{
    worker *w = c->w;
    sreq *r = new_sreq(w, sid, v, 0, -1);
    if (!r) {
        loom_reset(c->h2, sid, LOOM_H2_INTERNAL_ERROR);
        return;
    }
    r->conn = c;
    loom_stream_set_user(c->h2, sid, r);
    loom_hpack_field f[128];
    size_t n = 0;
    char protocol[32] = "";
    for (size_t i = 0; i < ev->u.headers.n && n < 128; i++) {
        const loom_hpack_field *x = &ev->u.headers.fields[i];
        if (x->name_len == 9 && !memcmp(x->name, ":protocol", 9)) /* RFC 8441 §4 */
            snprintf(protocol, sizeof(protocol), "%.*s", (int)x->value_len, (const char *)x->value);
        else if (x->name_len && x->name[0] != ':')
            f[n++] = *x;
    }
    if (protocol[0] && strcasecmp(protocol, "websocket")) { /* the one tunnel we make */
        pxf_error(r, 501, "");
        return;
    }
    char method[16], path[4096], authority[300], ip[INET6_ADDRSTRLEN];
    copy_str(method, sizeof(method), v->method, v->method_len);
    copy_str(path, sizeof(path), v->path, v->path_len);
    copy_str(authority, sizeof(authority), v->authority, v->authority ? v->authority_len : 0);
    peer_text(c, ip, sizeof(ip));
    proxy_request rq = {method, authority,
                        path,   f,
                        n,      ev->u.headers.end_stream ? 0 : v->content_length,
                        ip,     protocol[0] ? protocol : NULL,
                        c->tls, 2,
                        NULL};
    r->px = proxy_start(w->pp, w->rl->proxy, route, &rq, &h2_front, r);
    if (!r->px) pxf_error(r, 502, "out of memory");
}

static int32_t respond_h2(hconn *c, int32_t sid, const req_view *v, int allow_push)
{
    file_reply r;
    serve_file(c, v, &r);
    int head = v->method_len == 4 && !memcmp(v->method, "HEAD", 4);
    const push_entry *pe = r.status == 200 ? push_for(c->w->rl, v) : NULL;

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
            pv.authority = v->authority; /* the page's host: its root, and the access log */
            pv.authority_len = v->authority_len;
            pv.site = v->site;
            pv.ua = v->ua;
            pv.ua_len = v->ua_len;
            respond_h2(c, pid, &pv, 0);
        }
    }
    char link[2048]; /* not "= \"\"": that clears 2 KiB per response */
    link[0] = 0;
    if (pe && !pushed && !c->w->rl->o->no_early_hints && !head) {
        size_t o = 0;
        for (int i = 0; i < pe->n && o < sizeof(link); i++)
            o += (size_t)snprintf(link + o, sizeof(link) - o, "%s<%s>; rel=preload", i ? ", " : "",
                                  pe->assets[i]);
        loom_hpack_field eh[] = {
            {(const uint8_t *)":status", 7, (const uint8_t *)"103", 3, 0},
            {(const uint8_t *)"link", 4, (const uint8_t *)link, strlen(link), 0}};
        loom_respond(c->h2, sid, eh, 2, NULL);
    }

    sreq *rq = new_sreq(c->w, sid, v, r.status, r.fd);
    if (!rq) { /* no memory for the record: the stream ends (its body would
                * point into an entry nothing holds) */
        if (r.fd >= 0) close(r.fd);
        files_release(c->w->fc, r.entry);
        loom_reset(c->h2, sid, LOOM_H2_INTERNAL_ERROR);
        return sid;
    }
    rq->entry = r.entry;
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
    } else if (r.status >= 300 && r.status != 304 && !head) {
        b.data = (const uint8_t *)files_error_body(r.status, &b.len);
        has_body = 1;
    }
    const loom_body *bp = has_body ? &b : NULL;
    /* a cached file's 200 head is the same for its version and the Date's
     * second: the engine may send the block it encoded for that key, and
     * then the fields need not be built at all. The date is brought up to
     * the second before the key is made from it. */
    const char *date = files_date_now();
    uint64_t key = 0, gen = files_entry_gen(r.entry);
    if (gen && gen < (1ull << 31) && r.status == 200 && !(pe && pe->n))
        key = gen << 32 | (uint32_t)files_date_sec();
    status_counters *st = &c->w->st;
    int counting = c->w->rl->o->status_path != NULL; /* HPACK's savings: for --status only */
    if (counting || !key || loom_respond_by_key(c->h2, sid, key, bp) == 1) {
        loom_hpack_field f[16];
        char len[24], status[24], lbuf[2048];
        size_t n = reply_fields(&r, date, f, len, status, pe, lbuf, sizeof(lbuf));
        loom_conn_stats before, after;
        if (counting) loom_conn_get_stats(c->h2, &before);
        loom_respond_keyed(c->h2, sid, f, n, key, bp);
        if (counting) {
            loom_conn_get_stats(c->h2, &after);
            /* the fields as HTTP/1.1 text ("name: value\r\n") against the
             * octets HPACK encoded */
            size_t text = 0;
            for (size_t i = 0; i < n; i++)
                text += f[i].name_len + f[i].value_len + 4;
            STATUS_ADD(st, hdr_raw, text);
            STATUS_ADD(st, hdr_wire, after.header_bytes_out - before.header_bytes_out);
        }
    }
    if (has_body && b.fd >= 0) STATUS_ADD(st, body_bytes, b.length);
    if (has_body && b.fd < 0) STATUS_ADD(st, body_bytes, b.len);
    return sid;
}

/* RFC 9113 §6.5.3: a peer that never acknowledges our SETTINGS gets a
 * GOAWAY SETTINGS_TIMEOUT. The engine keeps the time; the worker's sweep
 * asks it (quiet_sweep). */
static int start_h2(hconn *c)
{
    c->h2 = loom_conn_new(LOOM_SERVER, &c->w->sh->h2cfg[c->w->rl->log_fd >= 0], h2_event, c);
    if (!c->h2) return -1;
    set_proto(c, P_H2);
    return 0;
}

/* ---- output ---- */

/* What the loop watches: reads unless an HTTP/1.1 response is being
 * written (one request at a time, so a pipelining client waits), writes
 * while output is pending. */

static void want_out(hconn *c, int on)
{
    int rd = !(c->proto == P_H1 && c->h1_busy) || h1_px_reading(c);
    int want = (rd ? LOOP_READ : 0) | (on ? LOOP_WRITE : 0);
    if (c->want_out == want + 1) return;
    c->want_out = want + 1;
    loop_mod(c->w->l, c->tp.fd, (uint32_t)want);
}

/* 1: the engine has nothing more, 0: the socket is full, -1: failed. */
static int flush_h2(hconn *c)
{
    if (!c->upgrade_hold) {
        int rc = tp_send_conn(&c->tp, c->h2, SIZE_MAX);
        return rc == TP_DONE ? 1 : rc == TP_AGAIN ? 0 : -1;
    }
    uint64_t before = c->tp.bytes_out;
    int rc = tp_send_conn(&c->tp, c->h2, c->hold_left);
    c->hold_left -= (size_t)(c->tp.bytes_out - before);
    if (rc == TP_ERROR) return -1;
    /* held back: the rest goes once the client's preface is in */
    return rc == TP_DONE || c->hold_left == 0 ? 1 : 0;
}

/* ---- HTTP/1.1 ---- */

static void feed_h2(hconn *c, const uint8_t *p, size_t n);

/* The connection now speaks p: the open-connection gauges follow. */
static void set_proto(hconn *c, int p)
{
    status_counters *st = &c->w->st;
    if (c->proto == P_H1) STATUS_SUB(st, open_h1, 1);
    if (c->proto == P_H2 && c->tls) STATUS_SUB(st, open_h2, 1);
    if (c->proto == P_H2 && !c->tls) STATUS_SUB(st, open_h2c, 1);
    c->proto = (uint8_t)p;
    if (p == P_H1) STATUS_ADD(st, open_h1, 1);
    if (p == P_H2 && c->tls) STATUS_ADD(st, open_h2, 1);
    if (p == P_H2 && !c->tls) STATUS_ADD(st, open_h2c, 1);
}

/* A proxied request's body, as the parser reads it: on to the backend
 * (any other request's is dropped). */
static int h1_req_body(h1_msg *m, const uint8_t *p, size_t n)
{
    hconn *c = m->user;
    sreq *r = c->h1req;
    if (r && r->px && n) {
        r->body_pending += (uint32_t)n;
        proxy_body(r->px, p, n, 0);
    }
    return 0;
}

static void h1_begin(hconn *c)
{
    set_proto(c, P_H1);
    if (!c->req && (c->req = malloc(sizeof(*c->req)))) {
        h1_init(c->req, 0, h1_req_body, c);
        c->req->on_head = h1_on_head;
    }
    c->h1_busy = 0;
}

/* Answers the complete HTTP/1.1 request in c->req. */
static void h1_answer(hconn *c)
{
    request_came(c);
    h1_msg *m = c->req;
    req_view v;
    memset(&v, 0, sizeof(v));
    v.method = h1_method(m);
    v.method_len = strlen(v.method);
    v.path = h1_target(m, &v.path_len);
    v.inm = h1_field(m, "if-none-match", &v.inm_len);
    v.ims = h1_field(m, "if-modified-since", &v.ims_len);
    v.range = h1_field(m, "range", &v.range_len);
    v.ae = h1_field(m, "accept-encoding", &v.ae_len);
    v.im = h1_field(m, "if-match", &v.im_len);
    v.ius = h1_field(m, "if-unmodified-since", &v.ius_len);
    v.ir = h1_field(m, "if-range", &v.ir_len);
    v.ua = h1_field(m, "user-agent", &v.ua_len);
    v.referer = h1_field(m, "referer", &v.referer_len);
    v.authority = h1_field(m, "host", &v.authority_len);
    v.site = site_of(current_set(c->w)->o, v.authority, v.authority_len);
    v.content_length = h1_content_length(m);
    /* answered before its body: the connection cannot be reused; nor
     * after a CONNECT (refused: what follows its head is not a request) */
    c->h1_keepalive =
        h1_keep_alive(m) && !c->w->stopping && !c->h1_early && strcmp(v.method, "CONNECT") != 0;

    /* RFC 9113 §3.1 / RFC 7540 §3.2: Upgrade: h2c */
    uint8_t settings[256];
    int k = c->h1_early ? -1 : h1_h2c_request(m, !c->tls, settings, sizeof(settings));
    if (k >= 0) {
        loom_hpack_field req[] = {
            {(const uint8_t *)":method", 7, (const uint8_t *)v.method, v.method_len, 0},
            {(const uint8_t *)":scheme", 7, (const uint8_t *)"http", 4, 0},
            {(const uint8_t *)":authority", 10, (const uint8_t *)(v.authority ? v.authority : ""),
             v.authority_len, 0},
            {(const uint8_t *)":path", 5, (const uint8_t *)v.path, v.path_len, 0},
        };
        if (start_h2(c) == 0 && loom_conn_upgrade(c->h2, settings, (size_t)k, req, 4) == 0) {
            static const char sw[] =
                "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
            if (tp_write(&c->tp, sw, sizeof(sw) - 1) == TP_ERROR) c->closing = 1;
            respond_h2(c, 1, &v, 1);
            c->upgrade = 1; /* what follows the request is the client's preface */
            c->upgrade_hold = 1;
            c->hold_left = UPGRADE_HOLD;
            head_expected(c); /* the preface, by the deadline */
            return;
        }
        if (c->h2) {
            loom_conn_free(c->h2);
            c->h2 = NULL;
        }
        set_proto(c, P_H1);
    }

    file_reply r;
    serve_file(c, &v, &r);
    int head = v.method_len == 4 && !memcmp(v.method, "HEAD", 4);
    const push_entry *pe = r.status == 200 ? push_for(c->w->rl, &v) : NULL;
    char buf[8192];
    h1_out o = {buf, 0, sizeof(buf), 0};
    if (pe && !c->w->rl->o->no_early_hints && !head && m->hp.http_minor >= 1) {
        h1_printf(&o, "HTTP/1.1 103 Early Hints\r\n");
        for (int i = 0; i < pe->n; i++)
            h1_printf(&o, "Link: <%s>; rel=preload\r\n", pe->assets[i]);
        h1_printf(&o, "\r\n");
    }
    h1_printf(&o, "HTTP/1.1 %d %s\r\nServer: loom/%s\r\nDate: %s\r\n", r.status,
              h1_reason(r.status), LOOM_VERSION_STRING, files_date_now());
    uint64_t body_len = 0;
    const char *err_body = NULL;
    if (r.status == 200 || r.status == 206) {
        h1_printf(&o, "Content-Type: %s\r\nContent-Length: %llu\r\n", r.type,
                  (unsigned long long)r.length);
        if (r.etag[0]) /* none for a folder's listing */
            h1_printf(&o, "ETag: %s\r\nLast-Modified: %s\r\nAccept-Ranges: bytes\r\n", r.etag,
                      r.last_modified);
        if (r.encoding) h1_printf(&o, "Content-Encoding: %s\r\n", r.encoding);
        if (r.vary) h1_printf(&o, "Vary: accept-encoding\r\n");
        if (r.status == 206) h1_printf(&o, "Content-Range: %s\r\n", r.content_range);
        body_len = head ? 0 : r.length;
    } else if (r.status == 304) {
        h1_printf(&o, "ETag: %s\r\n", r.etag);
        if (r.vary) h1_printf(&o, "Vary: accept-encoding\r\n");
    } else {
        size_t bl;
        err_body = files_error_body(r.status, &bl);
        h1_printf(&o, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n", bl);
        if (r.status == 416) h1_printf(&o, "Content-Range: %s\r\n", r.content_range);
        if (r.status == 405) h1_printf(&o, "Allow: GET, HEAD\r\n");
        if (r.status == 301) h1_printf(&o, "Location: %s\r\n", r.location);
        if (r.status == 413) c->h1_keepalive = 0; /* the body is not read */
        if (head) err_body = NULL;
    }
    h1_printf(&o, "Connection: %s\r\n\r\n", c->h1_keepalive ? "keep-alive" : "close");
    if (err_body) h1_printf(&o, "%s", err_body);
    if (tp_write(&c->tp, o.p, o.len) == TP_ERROR) c->closing = 1;
    c->h1req = new_sreq(c->w, 0, &v, r.status, r.fd);
    if (!c->h1req) { /* out of memory: this response ends the connection */
        if (r.fd >= 0) close(r.fd);
        files_release(c->w->fc, r.entry);
        c->closing = 1;
        c->h1_left = 0;
        return;
    }
    /* a cached file (or its compressed form) goes from memory: its entry
     * is held until the response is written */
    c->h1req->entry = r.entry;
    c->h1req->mem = r.data;
    c->h1_off = r.offset;
    c->h1_left = body_len;
    STATUS_ADD(&c->w->st, body_bytes, body_len);
    c->h1req->bytes = body_len;
    if (!body_len && r.fd >= 0) {
        close(r.fd);
        c->h1req->fd = -1;
    }
}

/* Sends the HTTP/1.1 response in progress. 1: done, 0: socket full, -1:
 * failed, -2: done and the connection closes. */
static int flush_h1_px(hconn *c);

static int flush_h1(hconn *c)
{
    if (c->h1_busy && c->h1req && c->h1req->px) return flush_h1_px(c);
    int rc = tp_flush(&c->tp);
    /* from memory, H1_MEM_CHUNK at a time while the socket takes it (what
     * it does not take waits in the transport, bounded) */
    while (rc == TP_DONE && c->h1_left && c->h1req->mem) {
        size_t k = c->h1_left < H1_MEM_CHUNK ? (size_t)c->h1_left : H1_MEM_CHUNK;
        rc = tp_write(&c->tp, c->h1req->mem + c->h1_off, k);
        if (rc == TP_ERROR) break;
        c->h1_off += k;
        c->h1_left -= k;
    }
    if (rc == TP_DONE && c->h1_left && !c->h1req->mem)
        rc = tp_send_file(&c->tp, c->h1req->fd, &c->h1_off, &c->h1_left);
    if (rc != TP_DONE) return rc == TP_AGAIN ? 0 : -1;
    if (c->h1_busy) {
        if (c->h1req) {
            access_log(c, c->h1req, 0);
            if (c->h1req->fd >= 0) close(c->h1req->fd);
            files_release(c->w->fc, c->h1req->entry);
            sreq_done(c->w, c->h1req);
            c->h1req = NULL;
        }
        c->h1_busy = 0;
        if (!c->h1_keepalive) return -2; /* close after the response */
        h1_reset(c->req);
    }
    return 1;
}

/* A request body loom serve does not want (it serves files) is waited
 * for when it is small and announced; any other is answered at once and
 * the connection closed after the response. */
#define H1_BODY_WAIT (64 * 1024)

/* A fixed HTTP/1.1 answer that ends the connection, with its Date. */
static void h1_final(hconn *c, const char *status, const char *body)
{
    char buf[512];
    int n =
        snprintf(buf, sizeof(buf),
                 "HTTP/1.1 %s\r\nDate: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                 status, files_date_now(), strlen(body), body);
    if (n > 0) tp_write(&c->tp, buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Plain HTTP sent to the TLS port: a request line where the client's first
 * TLS record should be (a handshake record starts with 22). Answered as
 * nginx does, with a 400 in cleartext that says so, then the connection
 * ends (lingering, so the rest of the request does not reset the answer
 * away). Returns 1 when it answered. */
static int plain_http_on_tls(hconn *c)
{
    uint8_t b[4];
    ssize_t n = recv(c->tp.fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
    if (n < (ssize_t)sizeof(b)) return 0; /* not yet: the handshake will tell */
    c->tls_checked = 1;
    for (size_t i = 0; i < sizeof(b); i++) /* "GET ", "POST", "HEAD", "PRI ", ... */
        if (!((b[i] >= 'A' && b[i] <= 'Z') || (i == 3 && b[i] == ' '))) return 0;
    tp_plain(&c->tp); /* cleartext from here */
    if (c->end_timer) loop_timer_cancel(c->w->l, c->end_timer);
    c->end_timer = 0;
    set_proto(c, P_H1);
    STATUS_ADD(&c->w->st, plain_on_tls, 1);
    h1_final(c, "400 Bad Request",
             "400 Bad Request: this port speaks HTTPS (TLS); the request was sent in plain "
             "HTTP. Use https:// for this port.\n");
    c->closing = 1;
    conn_flush(c);
    return 1;
}

static void h1_bad_request(hconn *c)
{
    h1_final(c, "400 Bad Request", "400 Bad Request\n");
    c->closing = 1;
    c->inlen = 0;
}

/* Parses buffered HTTP/1.1 input, answering one request at a time. */
static void run_h1(hconn *c)
{
    /* a proxied request's body, as it comes (h1_req_body) */
    while (!c->h1_tunnel && h1_px_reading(c) && c->inlen) {
        sreq *r = c->h1req;
        ssize_t n = h1_feed(c->req, c->in, c->inlen);
        if (n < 0) { /* a malformed body: the backend must not take it as whole */
            error_log(c->w->rl, c, SERVE_LOG_INFO, "HTTP/1.1 request body: %s",
                      c->req->err ? c->req->err : "malformed");
            conn_close(c);
            return;
        }
        memmove(c->in, c->in + n, c->inlen - (size_t)n);
        c->inlen -= (uint32_t)n;
        if (c->req->msg_done) proxy_body(r->px, NULL, 0, 1);
        if (!n) break;
    }
    while (!c->h1_busy && c->inlen && c->req) {
        h1_msg *m = c->req;
        ssize_t n = h1_feed(m, c->in, c->inlen);
        if (n < 0) { /* malformed or too large: 400 and close */
            h1_bad_request(c);
            return;
        }
        memmove(c->in, c->in + n, c->inlen - (size_t)n);
        c->inlen -= (uint32_t)n;
        if (!m->head_done) {
            head_expected(c); /* a later head: its deadline runs from its first octet */
            return;
        }
        if (c->h1_busy && c->h1req && c->h1req->px) { /* proxied (h1_on_head) */
            /* (a WebSocket's "body" is its tunnel, once the 101 opens it) */
            if (m->msg_done && !c->h1_ws) proxy_body(c->h1req->px, NULL, 0, 1);
            return;
        }
        c->h1_early = 0;
        if (!m->msg_done) {
            int64_t cl = h1_content_length(m);
            int small = cl >= 0 && (uint64_t)cl <= H1_BODY_WAIT &&
                        (uint64_t)cl <= c->w->rl->o->max_request_body;
            if (small) return; /* read it (the deadline covers it too) */
            c->h1_early = 1;
        }
        head_arrived(c);
        c->h1_busy = 1;
        h1_answer(c);
        if (c->upgrade) {
            c->upgrade = 0;
            /* the rest is HTTP/2 */
            size_t rest = c->inlen;
            c->inlen = 0;
            if (rest) feed_h2(c, c->in, rest);
            free(c->in);
            c->in = NULL;
            h1_free(c->req);
            free(c->req);
            c->req = NULL;
            c->h1_busy = 0;
            return;
        }
        int rc = flush_h1(c);
        if (rc < 0) {
            c->closing = 1;
            return;
        }
        if (rc == 0) return; /* finish writing first */
    }
}

/* ---- connection life ---- */

/* Activity: the idle deadline moves. No timer per connection (an idle
 * one would hold a slot in the timer heap): the worker's sweep checks every
 * connection's last activity a few times per idle timeout (sweep_ms). */
static void touch(hconn *c)
{
    c->last_active = loop_now_ms();
    c->shrunk = 0;
}

/* Idle past --idle-timeout: nothing read, nothing written (conn_flush
 * counts octets that left as activity). Streams in flight do not keep it
 * up by themselves: a peer that neither sends nor reads (responses stuck
 * behind its shut window or its full socket, CVE-2019-9517) is idle. */
static void idle_close(hconn *c)
{
    STATUS_ADD(&c->w->st, idle_closed, 1);
    error_log(c->w->rl, c, SERVE_LOG_INFO, "idle for %d s: closed",
              c->w->rl->o->idle_timeout_ms / 1000);
    if (c->proto == P_H2 && c->h2) {
        loom_goaway(c->h2, LOOM_H2_NO_ERROR, 0, "idle");
        if (conn_flush(c) < 0) return; /* already closed */
    }
    conn_close(c);
}

static void hs_fired(loop *l, void *user)
{
    (void)l;
    hconn *c = user;
    c->end_timer = 0;
    conn_close(c);
}

/* --header-timeout passed: the preface or the request head is not all in,
 * however many octets trickled. HTTP/1.1 hears why (408). */
static void head_fired(loop *l, void *user)
{
    (void)l;
    hconn *c = user;
    c->head_timer = 0;
    STATUS_ADD(&c->w->st, head_timeouts, 1);
    if (c->proto == P_H1 && !c->h1_busy) {
        h1_final(c, "408 Request Timeout", "408 Request Timeout\n");
        c->closing = 1;
        c->inlen = 0;
        conn_flush(c);
        return;
    }
    conn_close(c);
}

/* A head is on its way: its deadline starts now, unless one runs already
 * (from accept, for the first). */
static void head_expected(hconn *c)
{
    if (!c->head_timer && c->w->rl->o->header_timeout_ms > 0)
        c->head_timer =
            loop_timer(c->w->l, (uint64_t)c->w->rl->o->header_timeout_ms, head_fired, c);
}

static void head_arrived(hconn *c)
{
    if (c->head_timer) loop_timer_cancel(c->w->l, c->head_timer);
    c->head_timer = 0;
}

/* Lingering close (after the response or GOAWAY we end a connection
 * with): what the client still sends is read and dropped for up to
 * LINGER_MS or LINGER_MAX octets, then the connection closes. */
#define LINGER_MS  2000
#define LINGER_MAX (64 * 1024)

static void linger_fired(loop *l, void *user)
{
    (void)l;
    hconn *c = user;
    c->end_timer = 0;
    conn_close(c);
}

static void linger(hconn *c)
{
    c->lingering = 1;
    c->linger_bytes = 0;
    if (tp_shutdown_write(&c->tp) < 0) {
        conn_close(c);
        return;
    }
    if (c->reread_timer) loop_timer_cancel(c->w->l, c->reread_timer);
    c->reread_timer = 0;
    head_arrived(c);
    if (c->end_timer) loop_timer_cancel(c->w->l, c->end_timer);
    c->end_timer = loop_timer(c->w->l, LINGER_MS, linger_fired, c);
    loop_mod(c->w->l, c->tp.fd, LOOP_READ);
}

/* Reads and drops; closes at the end of input or past LINGER_MAX. */
static void linger_read(hconn *c)
{
    uint8_t buf[RBUF];
    for (;;) {
        ssize_t n = tp_read(&c->tp, buf, sizeof(buf));
        if (n == TP_AGAIN) return;
        if (n < 0 || (c->linger_bytes += (uint32_t)n) > LINGER_MAX) {
            conn_close(c);
            return;
        }
    }
}

static void conn_close(hconn *c)
{
    worker *w = c->w;
    loop_del(w->l, c->tp.fd);
    if (c->end_timer) loop_timer_cancel(w->l, c->end_timer);
    if (c->reread_timer) loop_timer_cancel(w->l, c->reread_timer);
    if (c->flush_timer) loop_timer_cancel(w->l, c->flush_timer);
    if (c->head_timer) loop_timer_cancel(w->l, c->head_timer);
    if (c->h2) loom_conn_free(c->h2); /* closes streams: their files and logs */
    if (c->h1req) {
        if (c->h1req->px) proxy_free(c->h1req->px); /* the backend request is cancelled */
        c->h1req->px = NULL;
        if (c->h1req->fd >= 0) close(c->h1req->fd);
        files_release(w->fc, c->h1req->entry);
        sreq_done(w, c->h1req);
    }
    tp_close(&c->tp);
    set_proto(c, P_DETECT); /* out of the open-connection gauges */
    STATUS_ADD(&w->st, closed, 1);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    w->nconns--;
    free(c->in);
    if (c->req) h1_free(c->req);
    free(c->req);
    free(c);
    if (w->stopping && w->nconns == 0) loop_stop(w->l);
}

/* Writes what is pending. Returns -1 when it closed (and freed) c. */
static int conn_flush(hconn *c)
{
    int rc = 1;
    if (c->proto == P_H1) {
        rc = flush_h1(c);
        if (rc > 0 && !c->h1_busy) run_h1(c); /* pipelined requests */
        if (rc > 0 && c->closing) rc = tp_flush(&c->tp) == TP_DONE ? -2 : 0;
    }
    if (c->proto == P_H2 && rc > 0) {
        rc = flush_h2(c);
        if (rc > 0 && c->w->stopping && !c->shutdown_sent) {
            c->shutdown_sent = 1;
            loom_goaway(c->h2, LOOM_H2_NO_ERROR, 1, "shutting down");
            rc = flush_h2(c);
        }
        if (rc > 0 && loom_conn_done(c->h2)) rc = -2;
        /* a connection that has carried no request yet (its preface and
         * SETTINGS only) shrinks as soon as all is written: nothing
         * is made again until a request comes, and a flood of idle
         * connections holds the least */
        if (rc > 0 && !c->carried) loom_conn_shrink(c->h2);
    }
    if (rc == -2) {
        /* we end this connection after its last response or GOAWAY: linger,
         * so that what the peer still sends does not turn our close into a
         * reset that destroys them before they are read */
        linger(c);
        return -1;
    }
    if (rc < 0) {
        conn_close(c);
        return -1;
    }
    want_out(c, rc == 0);
    if (c->tp.bytes_out != c->idle_bytes_out) { /* octets left: activity */
        c->idle_bytes_out = c->tp.bytes_out;
        c->last_active = loop_now_ms();
        c->shrunk = 0;
    }

    /* records TLS read ahead that are not read yet (the read loop is
     * bounded; HTTP/1.1 reads nothing while it answers): epoll will not
     * say so, so come back for them */
    if (tp_pending(&c->tp) && !c->reread_timer && !c->closing &&
        (!(c->proto == P_H1 && c->h1_busy) || h1_px_reading(c)))
        c->reread_timer = loop_timer(c->w->l, 0, reread_fired, c);
    return 0;
}

static void feed_h2(hconn *c, const uint8_t *p, size_t n)
{
    if (n) c->upgrade_hold = 0; /* the client's preface is arriving */
    if (loom_conn_recv(c->h2, p, n) < 0) c->closing = 1;
}

static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* Cleartext input before the protocol is known, and HTTP/1.1: kept in
 * c->in (bounded). Returns -1 when the connection must close. */
static int buffer_input(hconn *c, const uint8_t *p, size_t n)
{
    if ((!c->in && !(c->in = malloc(H1_MAX_HEAD + RBUF))) || c->inlen + n > H1_MAX_HEAD + RBUF)
        return -1;
    memcpy(c->in + c->inlen, p, n);
    c->inlen += (uint32_t)n;
    if (c->proto == P_DETECT) {
        size_t k = c->inlen < 24 ? c->inlen : 24;
        if (memcmp(c->in, preface, k)) {
            h1_begin(c);
        } else if (c->inlen >= 24) {
            if (start_h2(c) < 0) return -1;
            size_t all = c->inlen;
            c->inlen = 0;
            feed_h2(c, c->in, all);
            /* HTTP/2 reads straight from the socket: the detection
             * buffer is not kept for the connection's life */
            free(c->in);
            c->in = NULL;
        }
    }
    if (c->proto == P_H1) run_h1(c);
    return 0;
}

static void on_io(loop *l, int fd, uint32_t events, void *user);

static void reread_fired(loop *l, void *user)
{
    hconn *c = user;
    c->reread_timer = 0;
    on_io(l, c->tp.fd, LOOP_READ, c);
}

static void on_io(loop *l, int fd, uint32_t events, void *user)
{
    (void)l;
    (void)fd;
    hconn *c = user;
    if (c->lingering) {
        linger_read(c);
        return;
    }
    if (c->proto == P_HANDSHAKE) {
        if (!c->tls_checked && plain_http_on_tls(c)) return;
        int rc = tp_handshake(&c->tp);
        if (rc == TP_AGAIN) {
            want_out(c, c->tp.want_write);
            return;
        }
        if (rc == TP_ERROR) {
            STATUS_ADD(&c->w->st, tls_failed, 1);
            error_log(c->w->rl, c, SERVE_LOG_INFO, "TLS handshake failed: %s",
                      c->tp.err && c->tp.err[0] ? c->tp.err : "connection closed");
            conn_close(c);
            return;
        }
        if (c->end_timer) loop_timer_cancel(c->w->l, c->end_timer);
        c->end_timer = 0;
        STATUS_ADD(&c->w->st, tls_ok, 1);
        if (!strcmp(tp_alpn(&c->tp), "h2")) {
            if (start_h2(c) < 0) {
                conn_close(c);
                return;
            }
        } else {
            h1_begin(c);
        }
        touch(c);
        want_out(c, 1);
    }
    if ((events & LOOP_WRITE) && conn_flush(c) < 0) return; /* c is gone */
    if (!(events & (LOOP_READ | EPOLLHUP | EPOLLERR)) && !tp_pending(&c->tp)) return;
    /* one request at a time (a proxied one's body is read as it goes) */
    if (c->proto == P_H1 && c->h1_busy && !h1_px_reading(c)) return;
    /* read what there is, bounded per turn */
    uint8_t buf[RBUF];
    for (int round = 0; round < 16; round++) {
        size_t want = sizeof(buf);
        if (c->h1_tunnel) { /* no more than the tunnel holds (H1_TUNNEL_MAX) */
            if (!h1_px_reading(c)) break;
            uint32_t room = H1_TUNNEL_MAX - c->h1req->body_pending;
            if (room < want) want = room;
        }
        ssize_t n = tp_read(&c->tp, buf, want);
        if (n == TP_AGAIN) break;
        if (n == TP_EOF && c->h1_tunnel) {
            /* the client's side ended: the backend's connection ends once
             * what came before is written to it (src/client.c shuts its
             * writing side); the backend's answer still comes back */
            c->tunnel_eof = 1;
            proxy_body(c->h1req->px, NULL, 0, 1);
            break;
        }
        if (n < 0) {
            conn_close(c);
            return;
        }
        touch(c);
        if (c->h1_tunnel) {
            tunnel_in(c, buf, (size_t)n);
            if (!tp_pending(&c->tp) && (c->tp.ssl || (size_t)n < want)) break;
            continue;
        }
        if (c->proto == P_H2)
            feed_h2(c, buf, (size_t)n);
        else if (buffer_input(c, buf, (size_t)n) < 0) {
            conn_close(c);
            return;
        }
        if (c->closing) break;
        /* a proxied body the backend is behind on: the rest waits (in
         * the kernel, or TLS records read ahead: pxf_consumed comes back) */
        if (c->proto == P_H1 && c->h1_busy && !h1_px_reading(c)) break;
        /* drained: a short read in cleartext, nothing read ahead with TLS */
        if (!tp_pending(&c->tp) && (c->tp.ssl || (size_t)n < sizeof(buf))) break;
    }
    conn_flush(c);
}

/* Out of descriptors, accept() fails at once and the listener stays
 * readable: retrying spins a core until connections close. The listeners
 * pause instead, ACCEPT_PAUSE_MS at a time, and the episode is logged
 * once (the kernel keeps the new connections in the backlog). */
#define ACCEPT_PAUSE_MS 100

static void listeners_watch(worker *w, uint32_t events)
{
    for (int i = 0; i < w->nls; i++)
        loop_mod(w->l, w->ls[i].fd, events);
}

static void accept_resume(loop *l, void *user)
{
    (void)l;
    worker *w = user;
    w->accept_paused = 0;
    if (!w->stopping) listeners_watch(w, LOOP_READ);
}

static void accept_pause(worker *w, int err)
{
    if (!w->emfile_said) {
        w->emfile_said = 1;
        error_log(w->rl, NULL, SERVE_LOG_ERROR,
                  "out of file descriptors (accept: %s) with %d connections open; accepting again "
                  "every %d ms until some close (raise the limit: ulimit -n)",
                  strerror(err), w->nconns, ACCEPT_PAUSE_MS);
    }
    if (w->accept_paused) return;
    w->accept_paused = 1;
    STATUS_ADD(&w->st, accept_pauses, 1);
    listeners_watch(w, 0);
    loop_timer(w->l, ACCEPT_PAUSE_MS, accept_resume, w);
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
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_pause(w, errno);
            return;
        }
        if (w->emfile_said) { /* the episode is over */
            w->emfile_said = 0;
            error_log(w->rl, NULL, SERVE_LOG_ERROR, "accepting again (%d connections open)",
                      w->nconns);
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        int lowat = (int)w->rl->o->notsent_lowat;
        if (lowat) setsockopt(cfd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
        hconn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(cfd);
            continue;
        }
        c->w = w;
        c->tls = tls;
        if (ss.ss_family == AF_INET6) {
            memcpy(c->peer_ip, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
            c->peer_v6 = 1;
        } else if (ss.ss_family == AF_INET) {
            memcpy(c->peer_ip, &((struct sockaddr_in *)&ss)->sin_addr, 4);
        }
        if (tls) {
            reloadable *rl = current_set(w);
            if (tp_init_tls(&c->tp, cfd, rl->tls[0], 1, NULL, NULL) < 0) {
                tp_close(&c->tp);
                free(c);
                continue;
            }
            c->proto = P_HANDSHAKE;
            c->end_timer = loop_timer(l, (uint64_t)w->rl->o->handshake_timeout_ms, hs_fired, c);
        } else {
            tp_init(&c->tp, cfd);
            c->proto = P_DETECT;
        }
        c->next = w->conns;
        if (w->conns) w->conns->prev = c;
        w->conns = c;
        w->nconns++;
        STATUS_ADD(&w->st, accepted, 1);
        loop_add(l, cfd, LOOP_READ, on_io, c);
        touch(c);
        head_expected(c); /* the handshake and preface or first head, by the deadline */
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

/* A TLS connection starts with OpenSSL releasing its record buffers (64
 * KiB read ahead, a record's worth for writing) after every read and
 * write: an idle or rarely used connection holds none. Once it carries a
 * request it keeps them (a malloc and a free per read and per write
 * otherwise), until it has been quiet for QUIET_MS: checked once per
 * QUIET_MS for all connections. */
#define QUIET_MS 1000

/* A request came: TLS keeps its record buffers from now on (until quiet
 * for QUIET_MS), and the engine shrinks only after SHRINK_MS of quiet. */
static void request_came(hconn *c)
{
    c->carried = 1;
    if (c->tls && !c->keep_buffers) {
        tp_keep_buffers(&c->tp, 1);
        c->keep_buffers = 1;
    }
}

/* An HTTP/2 connection quiet this long gives its engine's working buffers
 * back (loom_conn_shrink: to this worker's pool, so waking costs no
 * malloc). Not at once: a busy connection is quiet between every batch of
 * requests, and would make them again each time. */
#define SHRINK_MS 100

/* How often the sweep runs: SHRINK_MS, or less often when that is more
 * than a quarter of the idle timeout or half the SETTINGS timeout (at
 * least 50 ms). */
static uint64_t sweep_ms(const worker *w)
{
    uint64_t q = (uint64_t)w->rl->o->idle_timeout_ms / 4,
             st = (uint64_t)w->rl->o->settings_timeout_ms / 2;
    if (st && st < q) q = st;
    return q > SHRINK_MS ? SHRINK_MS : q < 50 ? 50 : q;
}

/* Every sweep_ms: connections idle past --idle-timeout close, HTTP/2 ones
 * whose SETTINGS went unacknowledged past --settings-timeout get GOAWAY
 * SETTINGS_TIMEOUT, HTTP/2 ones quiet for SHRINK_MS shrink, TLS ones
 * quiet for QUIET_MS give back OpenSSL's record buffers. One walk instead
 * of timers per connection: an idle connection holds no slot in the timer
 * heap. */
static void quiet_sweep(loop *l, void *user)
{
    worker *w = user;
    /* between requests: no older reloadable is in use here from now on */
    atomic_store_explicit(&w->seen_gen, current_set(w)->gen, memory_order_release);
    uint64_t now = loop_now_ms(), idle = (uint64_t)w->rl->o->idle_timeout_ms;
    for (hconn *c = w->conns, *next; c; c = next) {
        next = c->next;             /* c may close */
        if (c->lingering) continue; /* its own timer ends it */
        /* (a WebSocket's tunnel: the proxy's idle timeout ends it) */
        if (now - c->last_active >= idle && !c->h1_tunnel) {
            idle_close(c);
        } else if (c->proto == P_H2 && !c->closing &&
                   loom_conn_check_timeouts(c->h2, (uint32_t)w->rl->o->settings_timeout_ms) < 0) {
            STATUS_ADD(&w->st, settings_timeouts, 1);
            conn_flush(c); /* the GOAWAY goes out, then the connection closes */
        } else {
            uint64_t quiet = now - c->last_active;
            if (c->proto == P_H2 && !c->shrunk && quiet >= SHRINK_MS)
                c->shrunk = (uint8_t)loom_conn_shrink(c->h2);
            if (c->keep_buffers && quiet >= QUIET_MS) {
                tp_keep_buffers(&c->tp, 0);
                tp_quiet(&c->tp);
                c->keep_buffers = 0;
            }
        }
    }
    if (!w->stopping) loop_timer(l, sweep_ms(w), quiet_sweep, w);
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
        if (!w->ls[i].activated) close(w->ls[i].fd); /* those: by the main thread at the end */
    }
    w->nls = 0;
    for (hconn *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (c->proto == P_H2) {
            conn_flush(c);
        } else if (c->proto == P_H1 && c->h1_busy) {
            c->h1_keepalive = 0;
        } else {
            conn_close(c);
        }
    }
    if (w->nconns == 0)
        loop_stop(l);
    else
        loop_timer(l, (uint64_t)w->rl->o->grace_ms, force_close, w);
}

static void stop_fired(loop *l, void *user)
{
    (void)user;
    loop_stop(l);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    loop_run(w->l);
    /* connections to backends end too: a turn of the loop closes them */
    if (proxy_pool_close(w->pp)) {
        loop_timer(w->l, 100, stop_fired, NULL);
        loop_run(w->l);
    }
    return NULL;
}

/* ---- start-up ---- */

/* Whether another socket listens on the address: a bind without
 * SO_REUSEPORT fails then, even when that one has SO_REUSEPORT (another
 * loom serve). Our own workers share a port through SO_REUSEPORT; an
 * unrelated process must not join them and take a share of the
 * connections: "address in use", as nginx and h2o say. */
static int address_taken(const struct addrinfo *a)
{
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int taken = bind(fd, a->ai_addr, a->ai_addrlen) < 0 && errno == EADDRINUSE;
    close(fd);
    return taken;
}

/* exclusive: the first of our sockets on this address (the workers' others
 * join it). */
static int listen_on(const server_listen *ls, int exclusive, char *err, size_t errlen)
{
    /* an empty address is every address, IPv4 and IPv6: one dual-stack
     * socket on [::] (IPV6_V6ONLY off), or 0.0.0.0 where IPv6 is absent */
    const char *host = ls->host[0] ? ls->host : NULL;
    struct addrinfo hints = {.ai_family = host ? AF_UNSPEC : AF_INET6,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *res;
    int rc = getaddrinfo(host, ls->port, &hints, &res);
    if (rc && !host) {
        hints.ai_family = AF_INET;
        rc = getaddrinfo(host, ls->port, &hints, &res);
    }
    if (rc) {
        snprintf(err, errlen, "cannot resolve %s:%s: %s", ls->host, ls->port, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (int pass = 0; pass < 2 && fd < 0; pass++) {
        for (struct addrinfo *a = res; a; a = a->ai_next) {
            if (exclusive && strcmp(ls->port, "0") && address_taken(a)) {
                snprintf(err, errlen, "cannot listen on %s:%s: %s (another program listens there)",
                         ls->host[0] ? ls->host : "*", ls->port, strerror(EADDRINUSE));
                continue;
            }
            fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                snprintf(err, errlen, "cannot listen on %s:%s: %s", ls->host[0] ? ls->host : "*",
                         ls->port, strerror(errno));
                continue;
            }
            int one = 1, zero = 0;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
            if (!host && a->ai_family == AF_INET6)
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
            if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1024) == 0) break;
            snprintf(err, errlen, "cannot listen on %s:%s: %s", ls->host[0] ? ls->host : "*",
                     ls->port, strerror(errno));
            close(fd);
            fd = -1;
        }
        if (fd < 0 && !host && hints.ai_family == AF_INET6 && pass == 0) {
            /* no IPv6 here: IPv4 alone */
            freeaddrinfo(res);
            hints.ai_family = AF_INET;
            if (getaddrinfo(host, ls->port, &hints, &res)) return -1;
        } else {
            break;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* A push map file into *push (*n entries, added to what is there). */
static int load_push_map(push_entry **push, int *n, const char *path, char *err, size_t errlen)
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
        push_entry *p = realloc(*push, (size_t)(*n + 1) * sizeof(*p));
        if (!p) break;
        *push = p;
        push_entry *e = &p[(*n)++];
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

static void push_free(push_entry *push, int n)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < push[i].n; k++)
            free(push[i].assets[k]);
    free(push);
}

static void reloadable_free(reloadable *rl)
{
    if (!rl) return;
    for (int i = 0; i <= SERVER_MAX_HOSTS; i++) {
        if (rl->tls[i]) SSL_CTX_free(rl->tls[i]);
        push_free(rl->push[i].push, rl->push[i].n);
        if (rl->site_fd[i] > 0) close(rl->site_fd[i]);
        free(rl->site_real[i]);
    }
    files_conf_free(rl->files);
    proxy_conf_free(rl->proxy);
    if (rl->log_fd > 2) close(rl->log_fd);
    if (rl->err_fd > 2) close(rl->err_fd);
    if (rl->release) rl->release(rl->release_user, rl->o);
    free(rl);
}

/* The site a request's authority (or an SNI name) names: 1 + the index of
 * the virtual host one of whose names it is (exact, or "*.example.com"
 * for one label there; case-insensitive, the port and a final dot
 * dropped), 0 for none (the default root). */
static int site_lookup(const server_opts *o, const char *name, size_t n);

static inline int site_of(const server_opts *o, const char *name, size_t n)
{
    return o->nhosts && name ? site_lookup(o, name, n) : 0;
}

static int site_lookup(const server_opts *o, const char *name, size_t n)
{
    if (n && name[0] == '[') return 0; /* an IPv6 literal */
    const char *colon = memchr(name, ':', n);
    if (colon) n = (size_t)(colon - name);
    if (n && name[n - 1] == '.') n--;
    for (int i = 0; i < o->nhosts; i++)
        for (int k = 0; k < o->hosts[i].nnames; k++) {
            const char *h = o->hosts[i].names[k];
            size_t hl = strlen(h);
            if (hl == n && !strncasecmp(h, name, n)) return i + 1;
            if (hl > 2 && h[0] == '*' && h[1] == '.') { /* one label, then the rest */
                const char *dot = memchr(name, '.', n);
                if (dot && dot > name && (size_t)(name + n - dot) == hl - 1 &&
                    !strncasecmp(dot, h + 1, hl - 1))
                    return i + 1;
            }
        }
    return 0;
}

/* SNI: a virtual host with its own certificate gets its context (the
 * current set's: a reload may have replaced the one the connection began
 * with; OpenSSL counts the reference SSL_set_SSL_CTX takes). */
static int sni_cb(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    shared *sh = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    reloadable *rl = atomic_load_explicit(&sh->cur, memory_order_acquire);
    int site = name ? site_of(rl->o, name, strlen(name)) : 0;
    if (site && rl->tls[site]) SSL_set_SSL_CTX(ssl, rl->tls[site]);
    return SSL_TLSEXT_ERR_OK;
}

/* Every site's root opened (the top-level one when there is one). -1
 * with *site the one that is not a folder and why in err. */
static int open_roots(reloadable *rl, int *site, char *err, size_t errlen)
{
    const server_opts *o = rl->o;
    for (int i = 0; i <= o->nhosts; i++) {
        const char *root = i ? o->hosts[i - 1].root : o->root;
        if (!root) continue; /* --check-config of the demo */
        char real[4096];
        struct stat st;
        errno = 0;
        if (!realpath(root, real) || stat(real, &st) < 0 || !S_ISDIR(st.st_mode) ||
            (rl->site_fd[i] = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
            !(rl->site_real[i] = strdup(real))) {
            *site = i;
            char host[300] = "";
            if (i) snprintf(host, sizeof(host), "host %s: ", o->hosts[i - 1].names[0]);
            snprintf(err, errlen, "%sroot folder %s: %s", host, root,
                     errno ? strerror(errno) : "not a folder");
            return -1;
        }
    }
    return 0;
}

/* The options o put to work: every site's root opened, the media types
 * read, the certificates, keys and push maps loaded. NULL with the exit
 * status in *code, the reason in err and in *site the site at fault (0
 * the top-level one, i + 1 o->hosts[i], -1 none) when one is wrong. */
static reloadable *reloadable_load(const shared *sh, const server_opts *o, uint64_t gen, int *code,
                                   int *site, char *err, size_t errlen)
{
    *site = 0;
    reloadable *rl = calloc(1, sizeof(*rl));
    if (!rl) {
        snprintf(err, errlen, "out of memory");
        *code = SERVE_FAIL;
        return NULL;
    }
    rl->o = o;
    rl->gen = gen;
    rl->log_fd = -1; /* open_logs() */
    rl->err_fd = 2;
    if (open_roots(rl, site, err, errlen) < 0) {
        *code = SERVE_ROOT;
        reloadable_free(rl);
        return NULL;
    }
    if (!(rl->files = files_conf_new(&o->files, err, errlen)) ||
        (o->proxy.nroutes && !(rl->proxy = proxy_conf_new(&o->proxy, err, errlen)))) {
        *code = SERVE_USAGE;
        *site = -1;
        reloadable_free(rl);
        return NULL;
    }
    if (sh->need_tls && !(rl->tls[0] = tls_server_ctx(o->cert, o->key, &o->tls, err, errlen))) {
        *code = SERVE_CERT;
        reloadable_free(rl);
        return NULL;
    }
    if (o->push_map &&
        load_push_map(&rl->push[0].push, &rl->push[0].n, o->push_map, err, errlen) < 0) {
        *code = SERVE_USAGE;
        reloadable_free(rl);
        return NULL;
    }
    for (int i = 0; i < o->nhosts; i++) {
        const server_vhost *h = &o->hosts[i];
        char herr[400];
        if (h->cert && sh->need_tls &&
            !(rl->tls[i + 1] = tls_server_ctx(h->cert, h->key, &o->tls, herr, sizeof(herr)))) {
            snprintf(err, errlen, "host %s: %s", h->names[0], herr);
            *code = SERVE_CERT;
            *site = i + 1;
            reloadable_free(rl);
            return NULL;
        }
        if (h->push_map && load_push_map(&rl->push[i + 1].push, &rl->push[i + 1].n, h->push_map,
                                         herr, sizeof(herr)) < 0) {
            snprintf(err, errlen, "host %s: %s", h->names[0], herr);
            *code = SERVE_USAGE;
            *site = i + 1;
            reloadable_free(rl);
            return NULL;
        }
    }
    if (rl->tls[0] && o->nhosts) {
        SSL_CTX_set_tlsext_servername_callback(rl->tls[0], sni_cb);
        SSL_CTX_set_tlsext_servername_arg(rl->tls[0], (void *)(uintptr_t)sh);
    }
    return rl;
}

static void shared_free(shared *sh)
{
    free(sh->stats);
    reloadable *rl = atomic_load(&sh->cur);
    while (rl) {
        reloadable *next = rl->retired;
        reloadable_free(rl);
        rl = next;
    }
}

/* Start-up failed after n workers were (partly) set up: no thread runs. */
static void workers_free(worker *ws, int n)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < ws[i].nls; k++)
            if (!ws[i].ls[k].activated) close(ws[i].ls[k].fd);
        loop_free(ws[i].l);
        if (ws[i].efd >= 0) close(ws[i].efd);
        files_cache_free(ws[i].fc);
        proxy_pool_free(ws[i].pp);
        while (ws[i].spares) {
            sreq *r = ws[i].spares;
            ws[i].spares = r->next_free;
            free(r);
        }
    }
    free(ws);
}

/* A log file opened for appending ("-": stderr). */
static int open_log(const char *path)
{
    return !strcmp(path, "-") ? 2 : open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

/* The log files opened again in place (dup2 onto the descriptors the
 * workers write to: no lock, no line lost or torn), after a rotation
 * renamed them. */
static void reopen_logs(shared *sh)
{
    reloadable *cur = atomic_load(&sh->cur);
    for (reloadable *rl = cur; rl; rl = rl->retired) {
        const char *paths[2] = {rl->o->access_log, rl->o->error_log};
        int fds[2] = {rl->log_fd, rl->err_fd};
        for (int i = 0; i < 2; i++) {
            if (!paths[i] || fds[i] <= 2) continue;
            int fd = open_log(paths[i]);
            if (fd < 0) {
                error_log(cur, NULL, SERVE_LOG_ERROR,
                          "cannot open %s again: %s (still writing to the old file)", paths[i],
                          strerror(errno));
                continue;
            }
            dup2(fd, fds[i]);
            close(fd);
        }
    }
    error_log(cur, NULL, SERVE_LOG_INFO, "logs opened again (SIGUSR1)");
}

/* Socket activation (sd_listen_fds): act[k] the socket systemd passed for
 * o->listen[k] (same port), or -1 to bind it here. Every socket passed
 * must be named by a --https/--http of its port. */
static int activated_sockets(const server_opts *o, int *act, char *err, size_t errlen)
{
    for (int k = 0; k < o->nlisten; k++)
        act[k] = -1;
    int n = sd_listen_fds(1);
    if (n < 0) {
        snprintf(err, errlen, "socket activation: %s", strerror(-n));
        return -1;
    }
    for (int j = 0; j < n; j++) {
        int fd = SD_LISTEN_FDS_START + j, used = 0;
        for (int k = 0; k < o->nlisten && !used; k++) {
            uint16_t port = (uint16_t)atoi(o->listen[k].port);
            if (act[k] < 0 && port && sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, port) > 0) {
                act[k] = fd;
                used = 1;
                fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
                fcntl(fd, F_SETFD, FD_CLOEXEC);
            }
        }
        if (!used) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
            if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
                getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
                            NI_NUMERICHOST | NI_NUMERICSERV);
            snprintf(err, errlen,
                     "socket activation: the socket on %s port %s is named by no --https or "
                     "--http of that port",
                     host, port);
            return -1;
        }
    }
    return 0;
}

/* --user: what runs after binding and reading keys runs as that user
 * (its group and supplementary groups); there is no way back. */
static int drop_privileges(const char *name, char *err, size_t errlen)
{
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        snprintf(err, errlen, "--user %s: no such user", name);
        return -1;
    }
    if (geteuid() != 0) {
        if (pw->pw_uid == geteuid()) return 0; /* already that user */
        snprintf(err, errlen, "--user %s: only root can change user (run as root, or drop --user)",
                 name);
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
        setuid(pw->pw_uid) < 0) {
        snprintf(err, errlen, "--user %s: %s", name, strerror(errno));
        return -1;
    }
    if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) { /* it must not come back */
        snprintf(err, errlen, "--user %s: root could be regained", name);
        return -1;
    }
    return 0;
}

/* The logs rl->o names opened for rl: a file open in old (the set in
 * force) under the same name is shared (dup: the same open file, which
 * SIGUSR1 replaces in place); "-" is stderr, no error log too. -1 with
 * the reason in err. */
static int open_logs(reloadable *rl, const reloadable *old, char *err, size_t errlen)
{
    const char *paths[2] = {rl->o->access_log, rl->o->error_log};
    for (int i = 0; i < 2; i++) {
        const char *p = paths[i];
        const char *was = old ? (i ? old->o->error_log : old->o->access_log) : NULL;
        int had = old ? (i ? old->err_fd : old->log_fd) : -1;
        int fd = !p                                  ? (i ? 2 : -1)
                 : !strcmp(p, "-")                   ? 2
                 : had > 2 && was && !strcmp(p, was) ? fcntl(had, F_DUPFD_CLOEXEC, 3)
                                                     : open_log(p);
        if (p && fd < 0) {
            snprintf(err, errlen, "cannot open %s log %s: %s", i ? "error" : "access", p,
                     strerror(errno));
            return -1;
        }
        *(i ? &rl->err_fd : &rl->log_fd) = fd;
    }
    return 0;
}

/* What a reload cannot change in this process (the sockets are bound, the
 * threads started, the privileges dropped): a warning naming it. */
static void restart_needed(const shared *sh, const reloadable *rl)
{
    const server_opts *o = sh->o, *n = rl->o;
    char what[200] = "";
    int same = o->nlisten == n->nlisten;
    for (int i = 0; same && i < o->nlisten; i++)
        same = !memcmp(&o->listen[i], &n->listen[i], sizeof(o->listen[i]));
    if (!same) strcat(what, " --https/--http");
    if (o->workers != n->workers) strcat(what, " --workers");
    if (!o->user != !n->user || (o->user && strcmp(o->user, n->user))) strcat(what, " --user");
    if (what[0])
        error_log(rl, NULL, SERVE_LOG_WARN,
                  "reload (SIGHUP): changes to%s need a restart; those stay as they were", what);
}

/* SIGHUP: the options read again (o->reload: the flags and the --config
 * file), and with them every root, certificate, key, push map and media
 * type, put in force for new connections and requests; connections and
 * requests in flight go on untouched. A reload that fails keeps what is in
 * force and says why. */
static void reload(shared *sh)
{
    char err[700];
    int code, site;
    reloadable *old = atomic_load(&sh->cur);
    const server_opts *n = old->o;
    if (sh->o->reload && !(n = sh->o->reload(sh->o->reload_user, err, sizeof(err)))) {
        error_log(old, NULL, SERVE_LOG_ERROR, "reload (SIGHUP) failed, still serving as before: %s",
                  err);
        return;
    }
    reloadable *rl = reloadable_load(sh, n, old->gen + 1, &code, &site, err, sizeof(err));
    if (rl && open_logs(rl, old, err, sizeof(err)) < 0) {
        reloadable_free(rl);
        rl = NULL;
    }
    if (!rl) {
        error_log(old, NULL, SERVE_LOG_ERROR, "reload (SIGHUP) failed, still serving as before: %s",
                  err);
        if (n != old->o && sh->o->release) sh->o->release(sh->o->reload_user, n);
        return;
    }
    if (n == old->o) { /* the same options: the new set owns them now */
        rl->release = old->release;
        rl->release_user = old->release_user;
        old->release = NULL;
    } else {
        rl->release = sh->o->release;
        rl->release_user = sh->o->reload_user;
        restart_needed(sh, rl);
    }
    rl->retired = old;
    atomic_store_explicit(&sh->cur, rl, memory_order_release);
    error_log(rl, NULL, SERVE_LOG_WARN,
              "reloaded (SIGHUP): %s, certificates, keys, push maps and media types",
              sh->o->reload ? "the configuration" : "the files it names");
}

/* Frees the replaced reloadables no worker can be using: older than what
 * every worker saw at its last sweep. */
static void reclaim(shared *sh, worker *ws, int nw)
{
    uint64_t low = UINT64_MAX;
    for (int i = 0; i < nw; i++) {
        uint64_t g = atomic_load_explicit(&ws[i].seen_gen, memory_order_acquire);
        if (g < low) low = g;
    }
    reloadable *cur = atomic_load(&sh->cur), **pp = &cur->retired;
    while (*pp) {
        if ((*pp)->gen < low) {
            reloadable *dead = *pp;
            *pp = dead->retired;
            dead->retired = NULL;
            reloadable_free(dead);
        } else {
            pp = &(*pp)->retired;
        }
    }
}

int server_check(const server_opts *o, int *site, char *err, size_t errlen)
{
    shared sh;
    memset(&sh, 0, sizeof(sh));
    sh.o = o;
    sh.need_tls = o->nlisten == 0; /* the default listeners include TLS */
    for (int i = 0; i < o->nlisten; i++)
        sh.need_tls |= o->listen[i].tls;
    int rc = SERVE_OK;
    reloadable *rl = reloadable_load(&sh, o, 1, &rc, site, err, errlen);
    if (rl) atomic_store(&sh.cur, rl);
    shared_free(&sh);
    return rc;
}

int server_run(const server_opts *o)
{
    char err[600];
    shared sh;
    memset(&sh, 0, sizeof(sh));
    sh.o = o;
    signal(SIGPIPE, SIG_IGN);

    for (int i = 0; i < o->nlisten; i++)
        sh.need_tls |= o->listen[i].tls;
    int code = 0, site;
    reloadable *first = reloadable_load(&sh, o, 1, &code, &site, err, sizeof(err));
    if (!first) {
        fprintf(stderr, "loom serve: %s\n", err);
        shared_free(&sh);
        return code;
    }
    atomic_store(&sh.cur, first);
    if (open_logs(first, NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "loom serve: %s\n", err);
        shared_free(&sh);
        return SERVE_USAGE;
    }

    for (int i = 0; i < 2; i++) {
        loom_config_default(&sh.h2cfg[i], LOOM_SERVER);
        sh.h2cfg[i].shared = 1;
        /* blocks recycled per worker thread: connections give their
         * buffers back when they go quiet (loom_conn_shrink in conn_flush) */
        sh.h2cfg[i].mem = &pool_loom_mem;
        /* frame events only count DATA octets for the access log: without
         * one, no event (and no stream lookup) per frame */
        sh.h2cfg[i].no_frame_events = !i;
        /* request bodies: a proxied one's window opens as its backend
         * takes it (the client is slowed by flow control, not buffered),
         * any other's at once (LOOM_EV_DATA) */
        sh.h2cfg[i].manual_window = 1;
        /* RFC 8441: WebSockets over HTTP/2 (extended CONNECT), for --proxy
         * routes (elsewhere a CONNECT gets 405) */
        sh.h2cfg[i].enable_connect_protocol = 1;
    }

    /* systemd socket activation: the sockets it listens on stand for the
     * --https/--http addresses with the same port (the workers share them) */
    int act[SERVER_MAX_LISTEN];
    if (activated_sockets(o, act, err, sizeof(err)) < 0) {
        fprintf(stderr, "loom serve: %s\n", err);
        shared_free(&sh);
        return SERVE_PORT;
    }

    int nw = o->workers > 0 ? o->workers : 1;
    worker *ws = calloc((size_t)nw, sizeof(worker));
    sh.stats = calloc((size_t)nw, sizeof(*sh.stats)); /* freed by shared_free */
    if (!ws || !sh.stats) {
        fprintf(stderr, "loom serve: out of memory for %d workers\n", nw);
        free(ws);
        shared_free(&sh);
        return SERVE_FAIL;
    }
    for (int i = 0; i < nw; i++)
        sh.stats[i] = &ws[i].st;
    sh.nstats = nw;
    sh.started = time(NULL);
    /* every worker its own listening socket per address: the kernel
     * spreads connections (SO_REUSEPORT) */
    for (int i = 0; i < nw; i++) {
        ws[i].sh = &sh;
        ws[i].rl = first;
        ws[i].l = loop_new();
        ws[i].efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        ws[i].fc = files_cache_new(16u << 20);
        ws[i].pp = ws[i].l ? proxy_pool_new(ws[i].l) : NULL;
        if (!ws[i].l || ws[i].efd < 0 || !ws[i].fc || !ws[i].pp) {
            fprintf(stderr, "loom serve: cannot start worker %d: %s\n", i + 1, strerror(errno));
            workers_free(ws, i + 1);
            shared_free(&sh);
            return SERVE_FAIL;
        }
        loop_timer(ws[i].l, sweep_ms(&ws[i]), quiet_sweep, &ws[i]);
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
            int fd = act[k] >= 0 ? act[k] : listen_on(&la, i == 0, err, sizeof(err));
            if (fd < 0) {
                fprintf(stderr, "loom serve: %s\n", err);
                workers_free(ws, i + 1);
                shared_free(&sh);
                return SERVE_PORT;
            }
            ws[i].ls[ws[i].nls++] = (lsock){fd, o->listen[k].tls, act[k] >= 0};
            loop_add(ws[i].l, fd, LOOP_READ, on_accept, &ws[i]);
        }
        loop_add(ws[i].l, ws[i].efd, LOOP_READ, on_shutdown, &ws[i]);
    }
    /* signals go to this thread only */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    /* bound, keys read, logs open: the rest runs as --user */
    if (o->user && drop_privileges(o->user, err, sizeof(err)) < 0) {
        fprintf(stderr, "loom serve: %s\n", err);
        workers_free(ws, nw);
        shared_free(&sh);
        return SERVE_USAGE;
    }
    int started = 0;
    for (; started < nw; started++) {
        int e = pthread_create(&ws[started].th, NULL, worker_main, &ws[started]);
        if (e) {
            fprintf(stderr, "loom serve: cannot start worker thread %d: %s\n", started + 1,
                    strerror(e));
            break;
        }
    }
    if (started < nw) { /* the ones running stop at once */
        for (int i = 0; i < started; i++) {
            uint64_t one = 1;
            (void)!write(ws[i].efd, &one, sizeof(one));
        }
        for (int i = 0; i < started; i++)
            pthread_join(ws[i].th, NULL);
        workers_free(ws, nw);
        shared_free(&sh);
        return SERVE_FAIL;
    }
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
    sd_notify(0, "READY=1\nSTATUS=serving");
    if (o->ready) o->ready("listening", o->ready_user);
    /* SIGUSR1: the logs are opened again (logrotate renamed them); SIGHUP:
     * certificate, key and push map read again; each second, what no
     * worker uses any more is freed */
    for (;;) {
        struct timespec second = {1, 0};
        int sig = sigtimedwait(&set, NULL, &second);
        if (sig == SIGUSR1)
            reopen_logs(&sh);
        else if (sig == SIGHUP)
            reload(&sh);
        else if (sig == SIGTERM || sig == SIGINT)
            break;
        reclaim(&sh, ws, nw);
    }
    sd_notify(0, "STOPPING=1\nSTATUS=finishing the streams in flight");
    for (int i = 0; i < nw; i++) {
        uint64_t one = 1;
        (void)!write(ws[i].efd, &one, sizeof(one));
    }
    for (int i = 0; i < nw; i++) {
        pthread_join(ws[i].th, NULL);
        loop_free(ws[i].l);
        close(ws[i].efd);
        files_cache_free(ws[i].fc);
        proxy_pool_free(ws[i].pp);
        while (ws[i].spares) {
            sreq *r = ws[i].spares;
            ws[i].spares = r->next_free;
            free(r);
        }
    }
    for (int k = 0; k < o->nlisten; k++) /* systemd's sockets, now that no worker uses them */
        if (act[k] >= 0) close(act[k]);
    free(ws);
    shared_free(&sh);
    return SERVE_OK;
}
