/* loom get: fetches URLs over HTTP/2 (or HTTP/1.1 when a server does not
 * speak it, like curl), all URLs of an origin concurrently on one
 * connection (and origins that share an address and a certificate on one
 * connection too, RFC 9113 §9.1.1, narrowed or widened by ORIGIN, RFC
 * 8336), shows the frames (-v), the header compression (--stats), and draws
 * the connection (--timeline, --har). The connections are src/client.c's;
 * this file is the command: arguments, which connection a URL goes on,
 * output. */
#define _GNU_SOURCE
#include "get.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../client.h"
#include "../h1.h"
#include "../tls.h"
#include "cookies.h"
#include "links.h"
#include "unzip.h"
#include "loom/loom.h"

/* curl's exit codes where one fits, so scripts can tell failures apart */
enum {
    GX_OK = 0,
    GX_FAIL = 1,
    GX_USAGE = 2,
    GX_URL = 3,
    GX_DNS = 6,
    GX_CONNECT = 7,
    GX_HTTP = 22,
    GX_WRITE = 23,
    GX_TIMEOUT = 28,
    GX_TLS = 35,
    GX_NO_H2 = 16,
    GX_REDIRS = 47,
    GX_ENCODING = 61,
    GX_STREAM = 92,
};

#define MAX_CONNS           64
#define MAX_HEADERS         64
#define HTML_MAX            (4u << 20)
#define MAX_FRAMES          200000
#define SETTINGS_TIMEOUT_MS 10000
#define MAX_TRIES           5 /* a request handed back (never processed) is sent again this often */

typedef struct gconn gconn;

typedef struct greq {
    char url[2048], scheme[8], host[256], port[8], path[1536], authority[300];
    char method[16];
    gconn *conn;
    cl_req cr; /* the request as the client runtime carries it */
    loom_hpack_field fields[MAX_HEADERS + 8];
    char clen[24];
    char cookie[4096]; /* from the jar (-b, -c), for this request */
    int32_t sid;
    int queued, done, pushed, refused, failed, tries;
    int status;
    uint32_t error_code;
    char mime[128];
    FILE *out;   /* where the body goes */
    int out_tmp; /* a temporary file, copied to stdout in order at the end */
    char save_path[4096];
    uint8_t *html;
    size_t html_len;
    uint64_t bytes;
    double t_start, t_headers, t_end;
    size_t req_hpack, resp_hpack, req_h1, resp_h1;
    get_hdr req_hdrs[MAX_HEADERS], resp_hdrs[MAX_HEADERS];
    size_t n_req_hdrs, n_resp_hdrs;
    int from_links; /* found by -a */
    int h1;         /* went over HTTP/1.x */
    int minor;      /* HTTP/1.x: its minor version */
    int given;      /* a URL of the command line, or a redirect from one */
    int send_body;  /* -d goes with it (not after a 303, nor to a link) */
    int cross;      /* a redirect left the origin given: no credentials or cookies */
    int hop;        /* -L: a redirect being followed (its body is not output) */
    int nredirs;    /* redirects before it */
    char location[2048];
    char url_authority[300]; /* the URL's (authority may be -H Host's) */
    unzip *uz;               /* --compressed: the body's decoder (gzip, deflate, br) */
} greq;

struct gconn {
    int idx;
    char scheme[8], host[256], port[8];
    cl_conn *cl; /* NULL once it ended */
    X509 *cert;
    struct sockaddr_storage addr;
    char ip[64];
    int ready, dead, goaway;
    cl_proto proto;
    char first_url[2048];  /* the URL it was opened for, to name it in errors */
    char origins[16][300]; /* from ORIGIN frames (RFC 8336) */
    int norigins, has_origin;
    int got_settings; /* the server's first SETTINGS (and an ORIGIN after it) came */
    double t_begin, t_dns, t_connect, t_tls; /* t_begin since start; the rest from it */
    size_t pp_len;                           /* field block octets of the last PUSH_PROMISE */
};

/* ---- state ---- */

typedef struct {
    char host[256], port[8];
    struct sockaddr_storage addr;
    socklen_t len;
} resolve_entry;

static struct {
    int verbose, stats, no_push, insecure, h2c, fail, all, repeat, quiet, http2_only;
    int show_errors, include, follow, max_redirs, compressed;
    const char *cacert, *timeline, *har, *out_file, *push_dir, *priority, *data_arg;
    const char *write_out;     /* -w */
    const char *host_hdr;      /* -H 'Host: x': the :authority (Host) of the URLs given */
    const char *cookie_arg;    /* -b 'a=1; b=2' */
    const char *cookie_jar;    /* -c FILE */
    cookie_jar *jar;           /* -b FILE or -c */
    char authorization[600];   /* -u user:password */
    double connect_timeout;    /* --connect-timeout */
    resolve_entry resolve[16]; /* --resolve host:port:addr */
    int nresolve;
    int remote_name;
    const char *method;
    get_hdr extra[MAX_HEADERS];
    size_t nextra;
    uint8_t *data;
    size_t data_len;
    double max_time;
    SSL_CTX *tls;
    loop *l;
    double t0;
    double epoch0;
    gconn *conns[MAX_CONNS];
    int nconns, open_conns;
    greq **reqs;
    size_t nreqs, capreqs;
    get_frame_rec *frames;
    size_t nframes;
    int exit_code, finishing;
    char exit_msg[512];
    uint8_t urgency, incremental;
    int has_priority;
} G;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - G.t0;
}

static void fail_with(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_with(int code, const char *fmt, ...)
{
    if (G.exit_code) return; /* the first reason is the one that counts */
    G.exit_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(G.exit_msg, sizeof(G.exit_msg), fmt, ap);
    va_end(ap);
}

static void assign(void);
static void assign_soon(void);
static void check_all_done(void);

/* ---- URLs ---- */

static int parse_url(const char *url, greq *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->url, sizeof(r->url), "%s", url);
    const char *p = strstr(url, "://");
    if (!p) return -1;
    size_t sl = (size_t)(p - url);
    if (sl >= sizeof(r->scheme)) return -1;
    memcpy(r->scheme, url, sl);
    r->scheme[sl] = 0;
    if (strcmp(r->scheme, "https") && strcmp(r->scheme, "http")) return -1;
    p += 3;
    const char *slash = strchr(p, '/');
    size_t al = slash ? (size_t)(slash - p) : strlen(p);
    if (al == 0 || al >= sizeof(r->authority)) return -1;
    memcpy(r->authority, p, al);
    r->authority[al] = 0;
    snprintf(r->path, sizeof(r->path), "%s", slash ? slash : "/");
    /* host and port, [v6]:port too */
    const char *a = r->authority, *colon;
    if (a[0] == '[') {
        const char *e = strchr(a, ']');
        if (!e) return -1;
        snprintf(r->host, sizeof(r->host), "%.*s", (int)(e - a - 1), a + 1);
        colon = e[1] == ':' ? e + 1 : NULL;
    } else {
        colon = strrchr(a, ':');
        snprintf(r->host, sizeof(r->host), "%.*s", (int)(colon ? (size_t)(colon - a) : al), a);
    }
    const char *port = colon ? colon + 1 : (r->scheme[4] ? "443" : "80");
    /* a port is 1 to 65535 in decimal, not a number taken modulo 65536 */
    size_t pl = strlen(port);
    if (pl == 0 || pl > 5 || strspn(port, "0123456789") != pl || atoi(port) < 1 ||
        atoi(port) > 65535)
        return -2;
    snprintf(r->port, sizeof(r->port), "%s", port);
    snprintf(r->url_authority, sizeof(r->url_authority), "%s", r->authority);
    snprintf(r->method, sizeof(r->method), "%s", G.method ? G.method : G.data ? "POST" : "GET");
    /* no space or control character in the URL (curl says the same) */
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f) return -1;
    return r->host[0] ? 0 : -1;
}

static int same_origin(const greq *a, const greq *b)
{
    return !strcmp(a->scheme, b->scheme) && !strcasecmp(a->host, b->host) &&
           !strcmp(a->port, b->port);
}

static greq *add_req(const greq *tmpl)
{
    if (G.nreqs == G.capreqs) {
        size_t cap = G.capreqs ? G.capreqs * 2 : 16;
        greq **p = realloc(G.reqs, cap * sizeof(*p));
        if (!p) return NULL;
        G.reqs = p;
        G.capreqs = cap;
    }
    greq *r = malloc(sizeof(*r));
    if (!r) return NULL;
    *r = *tmpl;
    r->t_start = r->t_headers = r->t_end = -1;
    r->cr.user = r;
    G.reqs[G.nreqs++] = r;
    return r;
}

static greq *find_url(const char *url)
{
    for (size_t i = 0; i < G.nreqs; i++)
        if (!strcmp(G.reqs[i]->url, url) && !G.reqs[i]->refused) return G.reqs[i];
    return NULL;
}

/* ---- tracing (-v), in the form nghttp -v prints ---- */

static const char *flag_names(uint8_t type, uint8_t flags, char *buf, size_t n)
{
    buf[0] = 0;
    size_t o = 0;
#define F(bit, name)                                                                               \
    if (flags & (bit)) o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? " | " : "", name)
    switch (type) {
    case LOOM_FRAME_DATA:
        F(1, "END_STREAM");
        F(8, "PADDED");
        break;
    case LOOM_FRAME_HEADERS:
        F(1, "END_STREAM");
        F(4, "END_HEADERS");
        F(8, "PADDED");
        F(0x20, "PRIORITY");
        break;
    case LOOM_FRAME_SETTINGS:
    case LOOM_FRAME_PING: F(1, "ACK"); break;
    case LOOM_FRAME_PUSH_PROMISE:
    case LOOM_FRAME_CONTINUATION: F(4, "END_HEADERS"); break;
    default: break;
    }
#undef F
    return buf;
}

static const char *setting_name(uint16_t id)
{
    switch (id) {
    case 1: return "SETTINGS_HEADER_TABLE_SIZE";
    case 2: return "SETTINGS_ENABLE_PUSH";
    case 3: return "SETTINGS_MAX_CONCURRENT_STREAMS";
    case 4: return "SETTINGS_INITIAL_WINDOW_SIZE";
    case 5: return "SETTINGS_MAX_FRAME_SIZE";
    case 6: return "SETTINGS_MAX_HEADER_LIST_SIZE";
    case 8: return "SETTINGS_ENABLE_CONNECT_PROTOCOL";
    case 9: return "SETTINGS_NO_RFC7540_PRIORITIES";
    default: return "UNKNOWN";
    }
}

static void trace_fields(const loom_hpack_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "          %.*s: %.*s\n", (int)f[i].name_len, f[i].name,
                (int)f[i].value_len, f[i].value);
}

static void trace_frame(gconn *gc, const loom_frame *f, int sent)
{
    char fl[80];
    fprintf(stderr, "[%8.3f] %s%s %s frame <length=%u, flags=0x%02x, stream_id=%d>\n", now_s(),
            G.nconns > 1 || gc->idx > 0 ? (char[8]){'#', (char)('0' + gc->idx % 10), ' ', 0} : "",
            sent ? "send" : "recv", loom_frame_type_name(f->hd.type), (unsigned)f->hd.length,
            f->hd.flags, (int)f->hd.stream_id);
    if (f->hd.flags && flag_names(f->hd.type, f->hd.flags, fl, sizeof(fl))[0])
        fprintf(stderr, "          ; %s\n", fl);
    switch (f->hd.type) {
    case LOOM_FRAME_SETTINGS:
        if (!(f->hd.flags & LOOM_FLAG_ACK)) {
            fprintf(stderr, "          (niv=%zu)\n", f->u.settings.count);
            for (size_t i = 0; i < f->u.settings.count; i++) {
                loom_setting s = loom_frame_setting(f, i);
                fprintf(stderr, "          [%s(0x%02x):%u]\n", setting_name(s.id), s.id,
                        (unsigned)s.value);
            }
        }
        break;
    case LOOM_FRAME_WINDOW_UPDATE:
        fprintf(stderr, "          (window_size_increment=%u)\n",
                (unsigned)f->u.window_update.increment);
        break;
    case LOOM_FRAME_RST_STREAM:
        fprintf(stderr, "          (error_code=%s(0x%02x))\n",
                loom_h2_code_name(f->u.rst_stream.error_code),
                (unsigned)f->u.rst_stream.error_code);
        break;
    case LOOM_FRAME_GOAWAY:
        fprintf(stderr,
                "          (last_stream_id=%u, error_code=%s(0x%02x), opaque_data(%zu)=[%.*s])\n",
                (unsigned)f->u.goaway.last_stream_id, loom_h2_code_name(f->u.goaway.error_code),
                (unsigned)f->u.goaway.error_code, f->u.goaway.debug_len, (int)f->u.goaway.debug_len,
                (const char *)f->u.goaway.debug);
        break;
    case LOOM_FRAME_PUSH_PROMISE:
        fprintf(stderr, "          (padlen=%u, promised_stream_id=%u)\n", f->pad_len,
                (unsigned)f->u.push_promise.promised_id);
        break;
    case LOOM_FRAME_PING:
        fprintf(stderr, "          (opaque_data=%02x%02x%02x%02x%02x%02x%02x%02x)\n",
                f->u.ping.opaque[0], f->u.ping.opaque[1], f->u.ping.opaque[2], f->u.ping.opaque[3],
                f->u.ping.opaque[4], f->u.ping.opaque[5], f->u.ping.opaque[6], f->u.ping.opaque[7]);
        break;
    case LOOM_FRAME_PRIORITY_UPDATE:
        fprintf(stderr, "          (prioritized_stream_id=%u, priority_field_value=%.*s)\n",
                (unsigned)f->u.priority_update.stream_id, (int)f->u.priority_update.len,
                (const char *)f->u.priority_update.value);
        break;
    case LOOM_FRAME_ORIGIN: {
        size_t pos = 0, len;
        const uint8_t *o;
        while (loom_frame_origin_next(f, &pos, &o, &len) == 1)
            fprintf(stderr, "          (origin=%.*s)\n", (int)len, (const char *)o);
        break;
    }
    default: break;
    }
    cl_req *sub = gc->cl ? cl_submitting(gc->cl) : NULL;
    if (sent && f->hd.type == LOOM_FRAME_HEADERS && sub) {
        greq *r = sub->user;
        fprintf(stderr, "          ; Open new stream\n");
        for (size_t i = 0; i < r->n_req_hdrs; i++)
            fprintf(stderr, "          %s: %s\n", r->req_hdrs[i].name, r->req_hdrs[i].value);
    }
}

/* -v over HTTP/1.1: the heads as they went and came, as curl shows them. */
static void trace_h1(cl_conn *c, int sent, const char *p, size_t n)
{
    gconn *gc = cl_user(c);
    if (!G.verbose) return;
    while (n) {
        const char *eol = memchr(p, '\n', n);
        size_t k = eol ? (size_t)(eol - p) + 1 : n;
        size_t shown = k;
        while (shown && (p[shown - 1] == '\n' || p[shown - 1] == '\r'))
            shown--;
        if (shown || !sent)
            fprintf(stderr, "[%8.3f] %s%s %.*s\n", now_s(),
                    G.nconns > 1 || gc->idx > 0 ? (char[8]){'#', (char)('0' + gc->idx % 10), ' ', 0}
                                                : "",
                    sent ? ">" : "<", (int)shown, p);
        p += k;
        n -= k;
    }
}

/* ---- requests ---- */

static void keep_hdr(get_hdr *h, size_t *n, const uint8_t *name, size_t nl, const uint8_t *val,
                     size_t vl)
{
    if (*n == MAX_HEADERS) return;
    h[*n].name = strndup((const char *)name, nl);
    h[*n].value = strndup((const char *)val, vl);
    (*n)++;
}

/* The size of a header section written as HTTP/1.1 text, for --stats:
 * the request or status line, "Name: value\r\n" per field, a blank line. */
static size_t h1_size(const greq *r, int response)
{
    size_t n = 0;
    if (response) {
        n += strlen("HTTP/1.1 200 OK\r\n");
        for (size_t i = 0; i < r->n_resp_hdrs; i++)
            if (r->resp_hdrs[i].name[0] != ':')
                n += strlen(r->resp_hdrs[i].name) + 2 + strlen(r->resp_hdrs[i].value) + 2;
    } else {
        n += strlen(r->method) + 1 + strlen(r->path) + strlen(" HTTP/1.1\r\n");
        n += strlen("Host: ") + strlen(r->authority) + 2;
        for (size_t i = 0; i < r->n_req_hdrs; i++)
            if (r->req_hdrs[i].name[0] != ':')
                n += strlen(r->req_hdrs[i].name) + 2 + strlen(r->req_hdrs[i].value) + 2;
    }
    return n + 2;
}

static void req_head(cl_req *cr, int status, const loom_hpack_field *f, size_t n,
                     int informational);
static void req_data(cl_req *cr, const uint8_t *p, size_t n);
static void req_trailers(cl_req *cr, const loom_hpack_field *f, size_t n);
static void req_done(cl_req *cr, int outcome);
static const cl_req_cb req_cb = {req_head, req_data, req_trailers, req_done};

/* Whether a -H field goes to the host of r: Authorization and Cookie
 * set by hand are not sent across a redirect to another origin (curl
 * drops them too). */
static int field_for(const greq *r, const char *name)
{
    return !r->cross || (strcmp(name, "authorization") && strcmp(name, "cookie"));
}

/* Puts r on gc: the request as it will be sent. */
static void submit(gconn *gc, greq *r)
{
    r->conn = gc;
    r->queued = 1;
    r->tries++;
    size_t n = 0;
    int ua = 0, accept = 0, ae = 0;
    for (size_t i = 0; i < G.nextra; i++) {
        ua |= !strcmp(G.extra[i].name, "user-agent");
        accept |= !strcmp(G.extra[i].name, "accept");
        ae |= !strcmp(G.extra[i].name, "accept-encoding");
    }
#define ADD(nm, v)                                                                                 \
    r->fields[n++] = (loom_hpack_field)                                                            \
    {                                                                                              \
        (const uint8_t *)(nm), strlen(nm), (const uint8_t *)(v), strlen(v), 0                      \
    }
    /* a field the user gave replaces ours */
    if (!ua) ADD("user-agent", "loom/" LOOM_VERSION_STRING);
    if (!accept) ADD("accept", "*/*");
    if (G.compressed && !ae) ADD("accept-encoding", "gzip, deflate, br");
    if (G.authorization[0] && !r->cross) ADD("authorization", G.authorization);
    r->cookie[0] = 0;
    size_t k = 0;
    if (G.cookie_arg && !r->cross)
        k = (size_t)snprintf(r->cookie, sizeof(r->cookie), "%s", G.cookie_arg);
    if (G.jar && k + 2 < sizeof(r->cookie)) {
        char *p = r->cookie + k + (k ? 2 : 0);
        size_t got = jar_header(G.jar, r->host, r->path, !strcmp(r->scheme, "https"),
                                (long long)time(NULL), p, sizeof(r->cookie) - k - 2);
        if (got && k) memcpy(r->cookie + k, "; ", 2);
    }
    if (r->cookie[0]) ADD("cookie", r->cookie);
    if (r->send_body) {
        /* over HTTP/2 (RFC 9113 §8.1.1); HTTP/1.1 writes its own */
        snprintf(r->clen, sizeof(r->clen), "%zu", G.data_len);
        ADD("content-length", r->clen);
    }
    if (G.priority) ADD("priority", G.priority);
    for (size_t i = 0; i < G.nextra && n < MAX_HEADERS + 6; i++)
        if (field_for(r, G.extra[i].name)) ADD(G.extra[i].name, G.extra[i].value);
#undef ADD
    for (size_t i = 0; i < r->n_req_hdrs; i++) { /* an earlier try */
        free((void *)r->req_hdrs[i].name);
        free((void *)r->req_hdrs[i].value);
    }
    r->n_req_hdrs = 0;
    keep_hdr(r->req_hdrs, &r->n_req_hdrs, (const uint8_t *)":method", 7, (const uint8_t *)r->method,
             strlen(r->method));
    keep_hdr(r->req_hdrs, &r->n_req_hdrs, (const uint8_t *)":scheme", 7, (const uint8_t *)r->scheme,
             strlen(r->scheme));
    keep_hdr(r->req_hdrs, &r->n_req_hdrs, (const uint8_t *)":authority", 10,
             (const uint8_t *)r->authority, strlen(r->authority));
    keep_hdr(r->req_hdrs, &r->n_req_hdrs, (const uint8_t *)":path", 5, (const uint8_t *)r->path,
             strlen(r->path));
    for (size_t i = 0; i < n; i++)
        keep_hdr(r->req_hdrs, &r->n_req_hdrs, r->fields[i].name, r->fields[i].name_len,
                 r->fields[i].value, r->fields[i].value_len);
    cl_req *cr = &r->cr;
    cr->method = r->method;
    cr->scheme = r->scheme;
    cr->authority = r->authority;
    cr->path = r->path;
    cr->fields = r->fields;
    cr->nfields = n;
    cr->body = r->send_body ? G.data : NULL;
    cr->body_len = r->send_body ? G.data_len : 0;
    cr->cb = &req_cb;
    cr->user = r;
    cr->urgency = G.has_priority ? G.urgency : -1;
    cr->incremental = G.incremental;
    r->t_start = now_s();
    r->req_h1 = h1_size(r, 0);
    cl_submit(gc->cl, cr);
}

/* -a: the same-origin resources an HTML page links to. */
static void found_link(void *user, const char *ref, size_t n, link_kind kind)
{
    (void)kind;
    greq *page = user;
    char url[2048];
    greq t;
    if (links_resolve(page->scheme, page->authority, page->path, ref, n, 1, url, sizeof(url)) < 0 ||
        parse_url(url, &t) < 0 || !same_origin(&t, page))
        return;
    snprintf(t.method, sizeof(t.method), "GET");
    if (find_url(t.url)) return; /* asked for, or pushed */
    t.conn = page->conn;
    t.from_links = 1;
    add_req(&t);
}

static void find_links(greq *page)
{
    size_t pos = 0;
    links_scan((const char *)page->html, page->html_len, &pos, 1, found_link, page);
}

/* The URL a Location names, from r's (RFC 3986 §5.2). */
static int resolve_location(const greq *r, const char *loc, char *out, size_t cap)
{
    return links_resolve(r->scheme, r->url_authority, r->path, loc, strlen(loc), 0, out, cap);
}

/* -L: the request the redirect r asks for, put right after r (its output
 * comes where r's would have). */
static void follow(greq *r)
{
    if (r->nredirs >= G.max_redirs) {
        fail_with(GX_REDIRS, "%s: more than %d redirects (--max-redirs)", r->url, G.max_redirs);
        return;
    }
    char url[2048];
    greq t;
    if (resolve_location(r, r->location, url, sizeof(url)) < 0 || parse_url(url, &t) < 0) {
        fail_with(GX_URL, "%s: a redirect to '%s', not an http:// or https:// URL", r->url,
                  r->location);
        return;
    }
    /* RFC 9110 §15.4: 303 asks for a GET (HEAD stays HEAD); 301 and 302
     * turn a POST into a GET, as browsers and curl do; 307 and 308 repeat
     * the request, body and all */
    int keep = r->status == 307 || r->status == 308 ||
               ((r->status == 301 || r->status == 302) && strcmp(r->method, "POST"));
    snprintf(t.method, sizeof(t.method), "%s",
             keep || !strcmp(r->method, "HEAD") ? r->method : "GET");
    t.send_body = keep && r->send_body;
    t.cross = r->cross || !same_origin(&t, r);
    t.given = 1;
    t.nredirs = r->nredirs + 1;
    if (G.host_hdr && !t.cross) snprintf(t.authority, sizeof(t.authority), "%s", G.host_hdr);
    if (G.verbose)
        fprintf(stderr, "[%8.3f] ; %d: following the redirect to %s%s\n", now_s(), r->status, url,
                t.cross ? " (another origin: no Authorization or cookies set by hand)" : "");
    greq *x = add_req(&t);
    if (!x) return;
    size_t at = 0;
    while (G.reqs[at] != r)
        at++;
    memmove(&G.reqs[at + 2], &G.reqs[at + 1], (G.nreqs - at - 2) * sizeof(G.reqs[0]));
    G.reqs[at + 1] = x;
    assign_soon();
}

static void finish(greq *r)
{
    if (r->done) return;
    r->done = 1;
    r->queued = 0;
    r->t_end = now_s();
    unzip_free(r->uz);
    r->uz = NULL;
    if (r->hop && !r->failed && !G.exit_code) follow(r);
    if (r->out && !r->out_tmp && r->out != stdout) {
        fclose(r->out);
        r->out = NULL;
    }
    if (G.all && r->html && !r->failed) {
        find_links(r);
        assign_soon();
    }
    check_all_done();
}

static FILE *open_output(greq *r)
{
    if (r->pushed) {
        if (!G.push_dir && !G.remote_name) return NULL; /* counted and reported */
    } else if (r->hop && !G.include) {
        return NULL; /* -L: only the last response is output */
    } else if (G.out_file && !r->from_links && G.nreqs == 1 && !G.follow) {
        snprintf(r->save_path, sizeof(r->save_path), "%s", G.out_file);
        return fopen(G.out_file, "wb");
    } else if ((!G.remote_name || r->hop) && !r->from_links) {
        r->out_tmp = 1; /* to stdout (or -o), in the order asked, at the end */
        return tmpfile();
    } else if (!G.remote_name) {
        return NULL;
    }
    const char *base = strrchr(r->path, '/');
    base = base && base[1] ? base + 1 : "index.html";
    char name[512];
    snprintf(name, sizeof(name), "%.*s", (int)strcspn(base, "?#"), base);
    snprintf(r->save_path, sizeof(r->save_path), "%s%s%s",
             G.push_dir && r->pushed ? G.push_dir : "", G.push_dir && r->pushed ? "/" : "", name);
    return fopen(r->save_path, "wb");
}

/* -i: the response head in the output, before the body, as curl writes
 * it ("HTTP/2 200", then the fields). */
static void write_head(greq *r, const loom_hpack_field *f, size_t n)
{
    if (r->h1)
        fprintf(r->out, "HTTP/1.%d %d %s\r\n", r->minor, r->status, h1_reason(r->status));
    else
        fprintf(r->out, "HTTP/2 %d \r\n", r->status); /* curl -i: a space where the reason was */
    for (size_t i = 0; i < n; i++)
        if (f[i].name_len && f[i].name[0] != ':')
            fprintf(r->out, "%.*s: %.*s\r\n", (int)f[i].name_len, (const char *)f[i].name,
                    (int)f[i].value_len, (const char *)f[i].value);
    fputs("\r\n", r->out);
}

static int is_field(const loom_hpack_field *f, const char *name)
{
    size_t n = strlen(name);
    return f->name_len == n && !strncasecmp((const char *)f->name, name, n);
}

/* ---- a request's response, from the client runtime ---- */

static void req_head(cl_req *cr, int status, const loom_hpack_field *f, size_t n, int informational)
{
    greq *r = cr->user;
    if (G.verbose && r->conn && r->conn->proto == CL_PROTO_H2) trace_fields(f, n);
    if (informational) return; /* 1xx */
    r->status = status;
    r->t_headers = now_s();
    r->h1 = r->conn && r->conn->proto == CL_PROTO_H1;
    r->minor = cr->http_minor;
    const char *coding = NULL;
    size_t coding_len = 0;
    for (size_t i = 0; i < n; i++) {
        keep_hdr(r->resp_hdrs, &r->n_resp_hdrs, f[i].name, f[i].name_len, f[i].value,
                 f[i].value_len);
        if (is_field(&f[i], "content-type"))
            snprintf(r->mime, sizeof(r->mime), "%.*s", (int)f[i].value_len, f[i].value);
        else if (is_field(&f[i], "location"))
            snprintf(r->location, sizeof(r->location), "%.*s", (int)f[i].value_len, f[i].value);
        else if (is_field(&f[i], "content-encoding"))
            coding = (const char *)f[i].value, coding_len = f[i].value_len;
        else if (is_field(&f[i], "set-cookie") && G.jar && !r->pushed)
            jar_set_cookie(G.jar, r->host, r->path, !strcmp(r->scheme, "https"),
                           (const char *)f[i].value, f[i].value_len, (long long)time(NULL));
    }
    /* -L: 301, 302, 303, 307 and 308 with a Location are followed */
    r->hop = G.follow && !r->pushed && !r->from_links && r->location[0] &&
             (status == 301 || status == 302 || status == 303 || status == 307 || status == 308);
    r->resp_h1 = h1_size(r, 1);
    r->out = open_output(r);
    if (!r->out && (r->save_path[0] || r->out_tmp)) {
        fail_with(GX_WRITE, "%s: cannot write %s: %s", r->url,
                  r->save_path[0] ? r->save_path : "a temporary file", strerror(errno));
        r->save_path[0] = 0; /* not saved: the summary must not say it was */
    }
    if (r->out && G.include && !r->pushed && !r->from_links) write_head(r, f, n);
    if (coding && G.compressed && !r->hop) {
        int unknown;
        r->uz = unzip_new(coding, coding_len, &unknown);
        if (unknown)
            fail_with(GX_ENCODING, "%s: unknown content coding '%.*s'", r->url, (int)coding_len,
                      coding);
    }
    if (!strncmp(r->mime, "text/html", 9) && G.all && !r->html) r->html = malloc(HTML_MAX);
    if (G.fail && r->status >= 400 && !r->pushed)
        fail_with(GX_HTTP, "%s: HTTP status %d", r->url, r->status);
}

/* The body as it goes out: decoded when --compressed asked for it. */
static void body_out(greq *r, const uint8_t *p, size_t n)
{
    if (r->out && fwrite(p, 1, n, r->out) != n)
        fail_with(GX_WRITE, "%s: cannot write the body: %s", r->url, strerror(errno));
    if (r->html && r->html_len + n <= HTML_MAX) {
        memcpy(r->html + r->html_len, p, n);
        r->html_len += n;
    }
}

static void body_piece(void *user, const uint8_t *p, size_t n)
{
    body_out(user, p, n);
}

static void req_data(cl_req *cr, const uint8_t *p, size_t n)
{
    greq *r = cr->user;
    r->bytes += n;
    /* -L: a redirect's body is not output; a HEAD has none (RFC 9110 §9.3.2) */
    if (r->hop || !strcmp(r->method, "HEAD")) return;
    const char *why;
    if (r->uz && unzip_feed(r->uz, p, n, body_piece, r, &why) < 0)
        fail_with(GX_ENCODING, "%s: the body does not decode: %s", r->url, why);
    else if (!r->uz)
        body_out(r, p, n);
}

static void req_trailers(cl_req *cr, const loom_hpack_field *f, size_t n)
{
    (void)cr;
    if (G.verbose) trace_fields(f, n);
}

static void req_done(cl_req *cr, int outcome)
{
    greq *r = cr->user;
    gconn *gc = r->conn;
    r->sid = cr->sid;
    r->req_hpack = r->pushed ? r->req_hpack : cr->req_head_wire;
    r->resp_hpack = cr->resp_head_wire;
    if (outcome == CL_DONE_RETRY && r->tries < MAX_TRIES && !G.finishing) {
        /* never processed: again, on a new connection if need be */
        r->conn = NULL;
        r->queued = 0;
        assign_soon();
        return;
    }
    if (outcome != CL_DONE_OK) {
        r->failed = 1;
        r->error_code = cr->h2_code;
        if (!r->pushed) {
            if (cr->h2_code)
                fail_with(GX_STREAM, "%s: stream %d reset: %s", r->url, (int)cr->sid,
                          loom_h2_code_name(cr->h2_code));
            else
                fail_with(GX_STREAM, "%s: the connection closed before the response ended", r->url);
        }
    }
    (void)gc;
    finish(r);
}

/* ---- connections ---- */

static int conn_event(cl_conn *c, const loom_event *ev)
{
    gconn *gc = cl_user(c);
    switch (ev->type) {
    case LOOM_EV_FRAME: {
        const loom_frame *f = ev->u.frame.frame;
        if (G.verbose) trace_frame(gc, f, ev->u.frame.sent);
        if (G.frames && G.nframes < MAX_FRAMES)
            G.frames[G.nframes++] =
                (get_frame_rec){now_s(),     (int32_t)f->hd.stream_id,  f->hd.type,
                                f->hd.flags, (uint8_t)ev->u.frame.sent, f->hd.length,
                                gc->idx};
        if (f->hd.type == LOOM_FRAME_PUSH_PROMISE && !ev->u.frame.sent)
            gc->pp_len = f->u.push_promise.len;
        break;
    }
    case LOOM_EV_PUSH_PROMISE: {
        greq t;
        char url[2048];
        const char *path = "/", *auth = "";
        int pl = 1, al = 0;
        for (size_t i = 0; i < ev->u.push.n; i++) {
            const loom_hpack_field *f = &ev->u.push.fields[i];
            if (f->name_len == 5 && !memcmp(f->name, ":path", 5))
                path = (const char *)f->value, pl = (int)f->value_len;
            if (f->name_len == 10 && !memcmp(f->name, ":authority", 10))
                auth = (const char *)f->value, al = (int)f->value_len;
        }
        snprintf(url, sizeof(url), "%s://%.*s%.*s", gc->scheme, al, auth, pl, path);
        /* like a browser with a cache: a resource we have or are fetching
         * is refused (RST_STREAM CANCEL) */
        if (find_url(url) || parse_url(url, &t) < 0) {
            if (G.verbose)
                fprintf(stderr, "          ; refusing push of %s: already fetched\n", url);
            cl_push_accept(c, ev->u.push.promised_id, NULL);
            greq *x = add_req(&(greq){0});
            if (x) {
                snprintf(x->url, sizeof(x->url), "%s", url);
                x->pushed = x->refused = x->done = 1;
                x->conn = gc;
                x->sid = ev->u.push.promised_id;
                x->error_code = LOOM_H2_CANCEL;
            }
            break;
        }
        snprintf(t.method, sizeof(t.method), "GET");
        t.conn = gc;
        t.sid = ev->u.push.promised_id;
        t.pushed = 1;
        t.queued = 1;
        greq *r = add_req(&t);
        if (!r) break;
        r->t_start = now_s();
        for (size_t i = 0; i < ev->u.push.n; i++)
            keep_hdr(r->req_hdrs, &r->n_req_hdrs, ev->u.push.fields[i].name,
                     ev->u.push.fields[i].name_len, ev->u.push.fields[i].value,
                     ev->u.push.fields[i].value_len);
        r->req_h1 = h1_size(r, 0);
        r->req_hpack = gc->pp_len;
        r->cr.cb = &req_cb;
        r->cr.user = r;
        cl_push_accept(c, ev->u.push.promised_id, &r->cr);
        break;
    }
    case LOOM_EV_GOAWAY:
        gc->goaway = 1;
        if (ev->u.goaway.error_code)
            fail_with(GX_STREAM, "%s: the server sent GOAWAY %s%s%.*s", gc->host,
                      loom_h2_code_name(ev->u.goaway.error_code),
                      ev->u.goaway.debug_len ? ": " : "", (int)ev->u.goaway.debug_len,
                      (const char *)ev->u.goaway.debug);
        break;
    case LOOM_EV_SETTINGS:
        if (!gc->got_settings) {
            gc->got_settings = 1;
            /* requests waiting to know whether they may coalesce: once the
             * frames read with it are in (an ORIGIN follows SETTINGS) */
            assign_soon();
        }
        break;
    case LOOM_EV_ORIGIN: {
        /* RFC 8336 §2.3: the origin set becomes exactly what it lists */
        loom_frame f;
        memset(&f, 0, sizeof(f));
        f.u.origin.entries = ev->u.origin.entries;
        f.u.origin.len = ev->u.origin.len;
        size_t pos = 0, len;
        const uint8_t *o;
        gc->has_origin = 1;
        while (loom_frame_origin_next(&f, &pos, &o, &len) == 1 && gc->norigins < 16)
            snprintf(gc->origins[gc->norigins++], sizeof(gc->origins[0]), "%.*s", (int)len, o);
        break;
    }
    default: break;
    }
    return 0;
}

static void conn_ready(cl_conn *c)
{
    gconn *gc = cl_user(c);
    const transport *tp = cl_transport(c);
    gc->ready = 1;
    gc->proto = cl_protocol(c);
    snprintf(gc->ip, sizeof(gc->ip), "%s", cl_ip(c));
    memcpy(&gc->addr, cl_addr(c), sizeof(gc->addr));
    /* durations: the name, then the connect, then the TLS handshake */
    int64_t td = cl_time_dns(c), tc = cl_time_connect(c), tt = cl_time_tls(c);
    gc->t_dns = td >= 0 ? (double)td / 1e6 : -1;
    gc->t_connect = tc >= 0 ? (double)(tc - (td > 0 ? td : 0)) / 1e6 : -1;
    gc->t_tls = tt >= 0 && tc >= 0 ? (double)(tt - tc) / 1e6 : -1;
    if (tp->ssl) gc->cert = SSL_get1_peer_certificate(tp->ssl);
    if (G.verbose) {
        const char *tag =
            G.nconns > 1 || gc->idx > 0 ? (char[8]){'#', (char)('0' + gc->idx % 10), ' ', 0} : "";
        fprintf(stderr, "[%8.3f] %sconnected to %s port %s (%s)%s%s%s%s, %s\n", now_s(), tag,
                gc->host, gc->port, gc->ip, tp->ssl ? ", " : "", tp_tls_version(tp),
                tp->ssl ? " " : "", tp_tls_cipher(tp),
                gc->proto == CL_PROTO_H2 ? "HTTP/2" : "HTTP/1.1");
        /* what curl -v and nghttp -v show too: ALPN and the certificate */
        if (tp->ssl) {
            const char *alpn = tp_alpn(tp);
            fprintf(stderr, "          ; ALPN: %s\n",
                    alpn && alpn[0] ? alpn : "none (the server chose no protocol)");
        }
        if (gc->cert) {
            char subj[512], iss[512];
            X509_NAME_oneline(X509_get_subject_name(gc->cert), subj, sizeof(subj));
            X509_NAME_oneline(X509_get_issuer_name(gc->cert), iss, sizeof(iss));
            fprintf(stderr, "          ; server certificate: subject %s; issuer %s; %s\n", subj,
                    iss, G.insecure ? "not verified (-k)" : "verified for the host name");
        }
    }
    if (!gc->got_settings && gc->proto != CL_PROTO_H2) {
        gc->got_settings = 1; /* nothing to wait for */
        assign_soon();
    }
}

static int exit_for(cl_error_kind e)
{
    switch (e) {
    case CLE_DNS: return GX_DNS;
    case CLE_CONNECT: return GX_CONNECT;
    case CLE_TIMEOUT: return GX_TIMEOUT;
    case CLE_TLS: return GX_TLS;
    case CLE_NO_H2: return GX_NO_H2;
    default: return GX_STREAM;
    }
}

static void conn_closed(cl_conn *c, cl_error_kind err, const char *why)
{
    gconn *gc = cl_user(c);
    gc->cl = NULL;
    gc->dead = 1;
    G.open_conns--;
    int pending = 0;
    for (size_t i = 0; i < G.nreqs; i++)
        pending |= !G.reqs[i]->done && !G.reqs[i]->pushed; /* a push cut short: said, not fatal */
    if (err != CLE_NONE && err != CLE_CLOSED && !G.finishing)
        fail_with(exit_for(err), "%s: %s", gc->first_url, why);
    else if (err == CLE_CLOSED && pending && !G.finishing)
        fail_with(GX_STREAM, "%s: %s", gc->first_url, why);
    if (!G.finishing) assign_soon();
    check_all_done();
}

static const cl_conn_cb conn_cb = {conn_ready, conn_event, trace_h1, conn_closed};

static int same_addr(const struct sockaddr_storage *a, const struct addrinfo *b)
{
    if (a->ss_family != b->ai_family) return 0;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)(const void *)b->ai_addr)->sin_addr.s_addr;
    return !memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
                   &((const struct sockaddr_in6 *)(const void *)b->ai_addr)->sin6_addr, 16);
}

static int cert_covers(X509 *cert, const char *host)
{
    if (!cert) return 0;
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1)
        return X509_check_ip_asc(cert, host, 0) == 1;
    return X509_check_host(cert, host, 0, 0, NULL) == 1;
}

/* RFC 9113 §9.1.1: a connection is reused for another origin when its
 * certificate covers the name and the name resolves to the address the
 * connection went to; after an ORIGIN frame, only the origins it listed
 * (RFC 8336 §2.3), which need no DNS check. Until the server's first
 * SETTINGS has come (servers send ORIGIN right after it) another origin
 * waits (*wait set) rather than coalesce on a set that may yet narrow. */
static gconn *reusable(const greq *r, int *wait)
{
    *wait = 0;
    for (int i = 0; i < G.nconns; i++) {
        gconn *gc = G.conns[i];
        if (gc->dead || gc->goaway || !gc->cl || !cl_accepting(gc->cl) ||
            strcmp(gc->scheme, r->scheme) || strcmp(gc->port, r->port))
            continue;
        if (!strcasecmp(gc->host, r->host)) return gc;
        if (strcmp(r->scheme, "https")) continue;
        if (!gc->ready || !gc->got_settings) {
            *wait = 1; /* its certificate and origin set are not known yet */
            continue;
        }
        if (gc->proto != CL_PROTO_H2 || !cert_covers(gc->cert, r->host)) continue;
        char origin[600];
        snprintf(origin, sizeof(origin), "%s://%s", r->scheme, r->authority);
        if (gc->has_origin) {
            for (int k = 0; k < gc->norigins; k++)
                if (!strcasecmp(gc->origins[k], origin)) return gc;
            /* the default port may be left out of an ORIGIN entry */
            continue;
        }
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
        if (getaddrinfo(r->host, r->port, &hints, &res)) continue;
        int hit = 0;
        for (struct addrinfo *a = res; a && !hit; a = a->ai_next)
            hit = same_addr(&gc->addr, a);
        freeaddrinfo(res);
        if (hit) return gc;
    }
    return NULL;
}

/* How long a connect (and TLS handshake) may take: 10 s; when --max-time
 * ends sooner, a little past it, so that it is --max-time that says so. */
static int connect_ms(void)
{
    double limit = G.connect_timeout > 0 ? G.connect_timeout : 10;
    double left = G.max_time > 0 ? G.max_time - now_s() : limit;
    if (left >= limit) return (int)(limit * 1000);
    return left > 0 ? (int)(left * 1000) + 200 : 200;
}

static gconn *connect_to(const greq *r)
{
    if (G.nconns == MAX_CONNS) {
        fail_with(GX_FAIL, "too many origins");
        return NULL;
    }
    gconn *gc = calloc(1, sizeof(*gc));
    if (!gc) return NULL;
    gc->idx = G.nconns;
    snprintf(gc->scheme, sizeof(gc->scheme), "%s", r->scheme);
    snprintf(gc->host, sizeof(gc->host), "%s", r->host);
    snprintf(gc->port, sizeof(gc->port), "%s", r->port);
    snprintf(gc->first_url, sizeof(gc->first_url), "%s", r->url);
    gc->t_dns = gc->t_connect = gc->t_tls = -1;
    gc->t_begin = now_s();
    cl_opts o;
    memset(&o, 0, sizeof(o));
    int https = !strcmp(r->scheme, "https");
    o.mode = https ? CL_TLS : G.h2c ? CL_H2C : CL_UPGRADE;
    o.tls = G.tls;
    o.allow_h1 = !G.http2_only;
    o.verify = !G.insecure;
    o.connect_timeout_ms = connect_ms();
    for (int i = 0; i < G.nresolve; i++) /* --resolve host:port:addr */
        if (!strcasecmp(G.resolve[i].host, r->host) && !strcmp(G.resolve[i].port, r->port)) {
            o.addr = (const struct sockaddr *)&G.resolve[i].addr;
            o.addrlen = G.resolve[i].len;
        }
    loom_config_default(&o.h2, LOOM_CLIENT);
    o.h2.enable_push = !G.no_push;
    o.h2.initial_window_size = 16u << 20;
    o.h2.connection_window = 64u << 20;
    G.conns[G.nconns++] = gc;
    G.open_conns++;
    gc->cl = cl_connect(G.l, r->host, r->port, &o, &conn_cb, gc);
    if (!gc->cl) {
        gc->dead = 1;
        G.open_conns--;
        fail_with(GX_FAIL, "out of memory");
        return NULL;
    }
    return gc;
}

static int all_done(void)
{
    for (size_t i = 0; i < G.nreqs; i++)
        if (!G.reqs[i]->done) return 0;
    return 1;
}

static void check_all_done(void)
{
    if (all_done() || (G.exit_code && G.exit_code != GX_HTTP)) loop_stop(G.l);
}

/* Puts every request not on a connection onto one, new or reused. */
static void assign(void)
{
    if (G.finishing) return;
    for (size_t i = 0; i < G.nreqs; i++) {
        greq *r = G.reqs[i];
        if (r->queued || r->done) continue;
        if (G.exit_code && G.exit_code != GX_HTTP) {
            r->done = r->failed = 1;
            continue;
        }
        int wait;
        gconn *gc = reusable(r, &wait);
        if (!gc && wait) continue; /* assigned once that connection's SETTINGS came */
        if (!gc) gc = connect_to(r);
        if (!gc) {
            r->done = r->failed = 1;
            continue;
        }
        submit(gc, r);
    }
}

static uint64_t assign_timer;

static void assign_fired(loop *l, void *user)
{
    (void)l;
    (void)user;
    assign_timer = 0;
    assign();
    check_all_done();
}

/* assign() from the loop, after the callback that asks for it (and the
 * frames read with it) are done. */
static void assign_soon(void)
{
    if (!assign_timer && !G.finishing) assign_timer = loop_timer(G.l, 0, assign_fired, NULL);
}

static void max_time_fired(loop *l, void *user)
{
    (void)l;
    (void)user;
    fail_with(GX_TIMEOUT, "timed out after %g seconds", G.max_time);
    loop_stop(G.l);
}

static void settings_check(loop *l, void *user)
{
    (void)user;
    /* RFC 9113 §6.5.3: a server that never acknowledges our SETTINGS ends
     * with GOAWAY SETTINGS_TIMEOUT */
    for (int i = 0; i < G.nconns; i++) {
        gconn *gc = G.conns[i];
        loom_conn *h = gc->cl ? cl_engine(gc->cl) : NULL;
        if (h && loom_conn_check_timeouts(h, SETTINGS_TIMEOUT_MS) < 0)
            cl_abort(gc->cl, CLE_PROTOCOL, "the server did not acknowledge our SETTINGS");
    }
    loop_timer(l, 1000, settings_check, NULL);
}

static void finish_fired(loop *l, void *user)
{
    (void)user;
    loop_stop(l);
}

static void run(void)
{
    assign();
    if (all_done()) return;
    if (G.max_time > 0) loop_timer(G.l, (uint64_t)(G.max_time * 1000), max_time_fired, NULL);
    loop_timer(G.l, 1000, settings_check, NULL);
    loop_run(G.l);
}

/* Ends every connection politely (GOAWAY), for a bounded moment. */
static void close_all(void)
{
    G.finishing = 1;
    int open = 0;
    for (int i = 0; i < G.nconns; i++)
        if (G.conns[i]->cl) {
            cl_shutdown(G.conns[i]->cl);
            open = 1;
        }
    if (!open) return;
    /* a fresh loop turn: stop when the last one closed, or after 1 s */
    loop *l = G.l;
    uint64_t t = loop_timer(l, 1000, finish_fired, NULL);
    while (G.open_conns > 0) {
        int before = G.open_conns;
        loop_run(l);
        if (G.open_conns == before) break; /* the timer fired */
    }
    loop_timer_cancel(l, t);
    for (int i = 0; i < G.nconns; i++)
        if (G.conns[i]->cl) cl_abort(G.conns[i]->cl, CLE_NONE, "closed");
    loop_timer(l, 0, finish_fired, NULL);
    loop_run(l);
}

/* ---- output at the end ---- */

static void print_stats(void)
{
    size_t th1 = 0, thp = 0;
    fprintf(stderr, "\nheader compression (HTTP/1.1 text vs HPACK on the wire):\n");
    fprintf(stderr, "%4s %-6s %8s %8s %6s   %8s %8s %6s  %s\n", "conn", "stream", "req h1",
            "req h2", "saved", "resp h1", "resp h2", "saved", "url");
    for (size_t i = 0; i < G.nreqs; i++) {
        greq *r = G.reqs[i];
        if (!r->sid || r->refused) continue;
        double s1 = r->req_h1 ? 100.0 * (1.0 - (double)r->req_hpack / (double)r->req_h1) : 0;
        double s2 = r->resp_h1 ? 100.0 * (1.0 - (double)r->resp_hpack / (double)r->resp_h1) : 0;
        fprintf(stderr, "%4d %-6d %8zu %8zu %5.1f%%   %8zu %8zu %5.1f%%  %s%s\n",
                r->conn ? r->conn->idx : 0, (int)r->sid, r->req_h1, r->req_hpack, s1, r->resp_h1,
                r->resp_hpack, s2, r->url, r->pushed ? " (pushed)" : "");
        th1 += r->req_h1 + r->resp_h1;
        thp += r->req_hpack + r->resp_hpack;
    }
    fprintf(stderr, "total: %zu octets as HTTP/1.1 text, %zu with HPACK: %.1f%% saved\n", th1, thp,
            th1 ? 100.0 * (1.0 - (double)thp / (double)th1) : 0.0);
}

static get_req_rec *records(size_t *n)
{
    get_req_rec *v = calloc(G.nreqs + 1, sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; i < G.nreqs; i++) {
        greq *r = G.reqs[i];
        if (!r->sid) continue;
        get_req_rec *x = &v[k++];
        x->url = r->url;
        x->method = r->method[0] ? r->method : "GET";
        x->sid = r->sid;
        x->conn = r->conn ? r->conn->idx : 0;
        x->pushed = r->pushed;
        x->status = r->status;
        x->mime = r->mime;
        x->t_start = r->t_start;
        x->t_headers = r->t_headers;
        x->t_end = r->t_end;
        x->bytes = r->bytes;
        x->req_hpack = r->req_hpack;
        x->resp_hpack = r->resp_hpack;
        x->req_h1 = r->req_h1;
        x->resp_h1 = r->resp_h1;
        x->req_hdrs = r->req_hdrs;
        x->n_req_hdrs = r->n_req_hdrs;
        x->resp_hdrs = r->resp_hdrs;
        x->n_resp_hdrs = r->n_resp_hdrs;
        x->server_ip = r->conn ? r->conn->ip : "";
        x->error_code = r->error_code;
        if (r->conn && r == G.reqs[0]) {
            x->t_dns = r->conn->t_dns;
            x->t_connect = r->conn->t_connect;
            x->t_tls = r->conn->t_tls;
        } else {
            x->t_dns = x->t_connect = x->t_tls = -1;
        }
    }
    *n = k;
    return v;
}

static const char get_usage[] =
    "usage: loom get [options] URL...\n"
    "\n"
    "Fetches URLs over HTTP/2: every URL of an origin concurrently over one\n"
    "connection (TLS with ALPN h2; http:// by HTTP/1.1 Upgrade, or --h2c).\n"
    "A server without HTTP/2 is spoken to in HTTP/1.1, like curl does.\n"
    "\n"
    "options:\n"
    "  -o FILE          write the body to FILE (several responses: one after another)\n"
    "  -O               write each body to a file named after its path\n"
    "  -i               the response head in the output, before the body\n"
    "  -I               HEAD: only the response head (as -i shows it)\n"
    "  -H 'name: value' add a request header field (repeatable; replaces the one loom\n"
    "                   sends by default; Host: sets :authority; Connection and the\n"
    "                   other connection-specific fields are dropped, said under -v)\n"
    "  -d DATA, -d @FILE  send DATA (or FILE, - for stdin) as the body of a POST\n"
    "  -X METHOD        the request method\n"
    "  -u USER:PASSWORD HTTP Basic authentication (not sent to another origin on -L)\n"
    "  -L               follow redirects (301, 302 and 303 as GET, 307 and 308 as sent)\n"
    "  --max-redirs N   at most N redirects with -L (default 50; then exit 47)\n"
    "  -b COOKIES       send cookies: 'name=value; ...', or a cookie file (Netscape\n"
    "                   format, as curl and wget write) whose cookies are sent by\n"
    "                   domain and path, with those the responses set\n"
    "  -c FILE          write the cookies at the end to FILE (Netscape format)\n"
    "  --compressed     ask for gzip, deflate or br and decode the body\n"
    "  --resolve HOST:PORT:ADDR  connect to ADDR for HOST:PORT (no DNS)\n"
    "  -w FORMAT        write FORMAT after each response: %{http_code},\n"
    "                   %{http_version}, %{time_total}, %{time_namelookup},\n"
    "                   %{time_connect}, %{time_appconnect}, %{time_starttransfer},\n"
    "                   %{size_download}, %{size_header}, %{url_effective},\n"
    "                   %{num_redirects}, %{content_type}, %{remote_ip},\n"
    "                   %{remote_port}, %{scheme}, %{method}, %{exitcode}, \\n\n"
    "  -n N             request each URL N times\n"
    "  -a               also fetch the same-origin CSS, JS and images a page links to\n"
    "  -k               accept a certificate that does not verify\n"
    "  --cacert FILE    trust the CAs in FILE\n"
    "  --h2c            cleartext HTTP/2 with prior knowledge (no Upgrade)\n"
    "  --http2-only     no HTTP/1.1 fallback: a server without h2 is an error (exit 16)\n"
    "  --no-push        SETTINGS_ENABLE_PUSH=0\n"
    "  --push-dir DIR   save pushed responses in DIR\n"
    "  --priority 'u=N, i'  RFC 9218 priority (priority field and PRIORITY_UPDATE)\n"
    "  -v               show the connection (address, TLS, ALPN, certificate) and\n"
    "                   every frame sent and received\n"
    "  --stats          header sizes: HTTP/1.1 text against HPACK on the wire\n"
    "  --timeline FILE.svg  draw the connection: DNS, connect and TLS as bars, a lane\n"
    "                   per stream, a mark per frame\n"
    "  --har FILE       write HAR 1.2\n"
    "  --fail           exit 22 when a status is 400 or above\n"
    "  --connect-timeout SEC  give up a connect and TLS handshake after SEC (default 10)\n"
    "  --max-time SEC   give up after SEC seconds (default 60)\n"
    "  -s               silent: no summary, no error message\n"
    "  -S               with -s: the error message still\n"
    "\n"
    "Pushed responses are accepted; a promise for a resource already fetched or\n"
    "being fetched is refused with RST_STREAM CANCEL.\n"
    "exit status: 0, 2 usage, 3 bad URL, 6 DNS, 7 connect, 16 no h2, 22 HTTP status\n"
    "(--fail), 23 write, 28 timeout, 35 TLS, 47 too many redirects, 61 a body that\n"
    "does not decode, 92 stream or connection error.\n";

static int read_data(const char *arg)
{
    if (arg[0] != '@') {
        G.data = (uint8_t *)strdup(arg);
        G.data_len = strlen(arg);
        return 0;
    }
    FILE *f = !strcmp(arg + 1, "-") ? stdin : fopen(arg + 1, "rb");
    if (!f) return -1;
    size_t cap = 65536;
    G.data = malloc(cap);
    size_t k;
    while (G.data && (k = fread(G.data + G.data_len, 1, cap - G.data_len, f)) > 0) {
        G.data_len += k;
        if (G.data_len == cap) {
            uint8_t *d = cap < (1u << 30) ? realloc(G.data, cap *= 2) : NULL;
            if (!d) {
                free(G.data);
                G.data = NULL;
                errno = EFBIG;
            }
            G.data = d;
        }
    }
    if (f != stdin) fclose(f);
    return G.data ? 0 : -1;
}

/* A number of seconds: digits with an optional fraction, from lo to hi. */
static int seconds_arg(const char *flag, const char *v, double lo, double hi, double *out)
{
    char *end;
    double d = v && ((*v >= '0' && *v <= '9') || *v == '.') ? strtod(v, &end) : -1;
    if (d < lo || d > hi || *end) {
        fprintf(stderr, "loom get: %s needs a number of seconds from %g to %g, not '%s'\n", flag,
                lo, hi, v);
        return -1;
    }
    *out = d;
    return 0;
}

static int count_arg(const char *flag, const char *v, int lo, int hi, int *out)
{
    char *end;
    long n = v && *v >= '0' && *v <= '9' && strlen(v) <= 9 ? strtol(v, &end, 10) : -1;
    if (n < lo || n > hi || (n >= 0 && *end)) {
        fprintf(stderr, "loom get: %s needs a whole number from %d to %d, not '%s'\n", flag, lo, hi,
                v);
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* -u user:password as an Authorization value (RFC 7617). */
static int basic_auth(const char *v)
{
    if (!strchr(v, ':')) {
        fprintf(stderr, "loom get: -u needs USER:PASSWORD (no password prompt)\n");
        return -1;
    }
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(v), o = (size_t)snprintf(G.authorization, sizeof(G.authorization), "Basic ");
    if ((n + 2) / 3 * 4 + o + 1 > sizeof(G.authorization)) {
        fprintf(stderr, "loom get: -u: too long\n");
        return -1;
    }
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)(uint8_t)v[i] << 16;
        if (i + 1 < n) w |= (uint32_t)(uint8_t)v[i + 1] << 8;
        if (i + 2 < n) w |= (uint8_t)v[i + 2];
        G.authorization[o++] = b64[w >> 18 & 63];
        G.authorization[o++] = b64[w >> 12 & 63];
        G.authorization[o++] = i + 1 < n ? b64[w >> 6 & 63] : '=';
        G.authorization[o++] = i + 2 < n ? b64[w & 63] : '=';
    }
    G.authorization[o] = 0;
    return 0;
}

/* --resolve HOST:PORT:ADDR ([v6] too). */
static int resolve_arg(const char *v)
{
    if (G.nresolve == 16) {
        fprintf(stderr, "loom get: at most 16 --resolve\n");
        return -1;
    }
    const char *c1 = strchr(v, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    int port = 0;
    if (c1 && c2) port = atoi(c1 + 1);
    char addr[64];
    if (c2) snprintf(addr, sizeof(addr), "%s", c2 + 1);
    size_t al = c2 ? strlen(addr) : 0;
    if (al > 2 && addr[0] == '[' && addr[al - 1] == ']') {
        memmove(addr, addr + 1, al - 2);
        addr[al - 2] = 0;
    }
    resolve_entry *x = &G.resolve[G.nresolve];
    memset(x, 0, sizeof(*x));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&x->addr;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&x->addr;
    if (!c1 || !c2 || c1 == v || (size_t)(c1 - v) >= sizeof(x->host) || port < 1 || port > 65535 ||
        strspn(c1 + 1, "0123456789") != (size_t)(c2 - c1 - 1)) {
        fprintf(stderr, "loom get: --resolve needs HOST:PORT:ADDR, not '%s'\n", v);
        return -1;
    }
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        x->len = sizeof(*s4);
    } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        x->len = sizeof(*s6);
    } else {
        fprintf(stderr, "loom get: --resolve: '%s' is not an IPv4 or IPv6 address\n", addr);
        return -1;
    }
    snprintf(x->host, sizeof(x->host), "%.*s", (int)(c1 - v), v);
    snprintf(x->port, sizeof(x->port), "%d", port);
    G.nresolve++;
    return 0;
}

/* -H: a field the request may carry. Host becomes :authority (RFC 9113
 * §8.3.1); connection-specific fields (RFC 9113 §8.2.2: an HTTP/2 request
 * carrying one is malformed) and Content-Length (from -d) are dropped,
 * said under -v. 1: keep it. */
static int keep_field(const char *name, const char *value)
{
    static const char *const hop[] = {"connection",        "keep-alive", "proxy-connection",
                                      "transfer-encoding", "upgrade",    "content-length"};
    if (!strcmp(name, "host")) {
        G.host_hdr = value;
        return 0;
    }
    int drop = !strcmp(name, "te") && strcasecmp(value, "trailers");
    for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
        drop |= !strcmp(name, hop[i]);
    if (drop && G.verbose)
        fprintf(stderr, "          ; not sending '%s: %s': %s\n", name, value,
                strcmp(name, "content-length") ? "a connection-specific field (RFC 9113 §8.2.2)"
                                               : "loom get sets it from the body");
    return !drop;
}

/* The response's fields as "name: value\r\n" lines (-w %{size_header}
 * over HTTP/2). */
static size_t text_head_size(const greq *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_resp_hdrs; i++)
        n += strlen(r->resp_hdrs[i].name) + strlen(r->resp_hdrs[i].value) + 4;
    return n;
}

/* -w: FORMAT with r's variables, to out. */
static void write_out(FILE *out, const greq *r)
{
    const gconn *gc = r->conn;
    for (const char *p = G.write_out; *p; p++) {
        if (*p == '\\' && (p[1] == 'n' || p[1] == 't' || p[1] == 'r' || p[1] == '\\')) {
            p++;
            fputc(*p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : '\\', out);
            continue;
        }
        if (*p != '%' || p[1] != '{') {
            fputc(*p, out);
            continue;
        }
        const char *e = strchr(p, '}');
        if (!e) {
            fputs(p, out);
            break;
        }
        char v[64];
        snprintf(v, sizeof(v), "%.*s", (int)(e - p - 2), p + 2);
        p = e;
        double begin = gc ? gc->t_begin : r->t_start;
        if (!strcmp(v, "http_code") || !strcmp(v, "response_code"))
            fprintf(out, "%03d", r->status);
        else if (!strcmp(v, "http_version"))
            fputs(!r->status ? "0" : !r->h1 ? "2" : r->minor ? "1.1" : "1.0", out);
        else if (!strcmp(v, "time_total"))
            fprintf(out, "%.6f", r->t_end >= 0 ? r->t_end - begin : 0);
        else if (!strcmp(v, "time_namelookup"))
            fprintf(out, "%.6f", gc && gc->t_dns > 0 ? gc->t_dns : 0);
        else if (!strcmp(v, "time_connect"))
            fprintf(out, "%.6f",
                    gc && gc->t_connect >= 0 ? (gc->t_dns > 0 ? gc->t_dns : 0) + gc->t_connect : 0);
        else if (!strcmp(v, "time_appconnect"))
            fprintf(out, "%.6f",
                    gc && gc->t_tls >= 0
                        ? (gc->t_dns > 0 ? gc->t_dns : 0) + gc->t_connect + gc->t_tls
                        : 0);
        else if (!strcmp(v, "time_starttransfer"))
            fprintf(out, "%.6f", r->t_headers >= 0 ? r->t_headers - begin : 0);
        else if (!strcmp(v, "size_download"))
            fprintf(out, "%llu", (unsigned long long)r->bytes);
        else if (!strcmp(v, "size_header"))
            fprintf(out, "%zu", r->h1 ? r->resp_hpack : text_head_size(r));
        else if (!strcmp(v, "url_effective") || !strcmp(v, "url"))
            fputs(r->url, out);
        else if (!strcmp(v, "num_redirects"))
            fprintf(out, "%d", r->nredirs);
        else if (!strcmp(v, "content_type"))
            fputs(r->mime, out);
        else if (!strcmp(v, "remote_ip"))
            fputs(gc ? gc->ip : "", out);
        else if (!strcmp(v, "remote_port"))
            fputs(gc ? gc->port : "", out);
        else if (!strcmp(v, "scheme"))
            fputs(r->scheme, out);
        else if (!strcmp(v, "method"))
            fputs(r->method, out);
        else if (!strcmp(v, "exitcode"))
            fprintf(out, "%d", G.exit_code);
        else if (!strcmp(v, "errormsg"))
            fputs(G.exit_msg, out);
        else
            fprintf(stderr, "loom get: -w: unknown variable %%{%s}\n", v);
    }
}

int get_main(int argc, char **argv)
{
    memset(&G, 0, sizeof(G));
    G.t0 = 0;
    G.t0 = now_s();
    struct timeval tv;
    gettimeofday(&tv, NULL);
    G.epoch0 = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
    G.max_time = 60;
    G.repeat = 1;
    G.max_redirs = 50;
    signal(SIGPIPE, SIG_IGN);
    const char *urls[1024];
    const char *cookie_file = NULL;
    int nurls = 0, rc = GX_USAGE;
    /* -v first: what -H drops is said under it */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) G.verbose = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED                                                                                       \
    if (!v) {                                                                                      \
        fprintf(stderr, "loom get: %s needs a value (try: loom get --help)\n", a);                 \
        goto out;                                                                                  \
    }                                                                                              \
    i++
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(get_usage, stdout);
            rc = 0;
            goto out;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
            G.verbose = 1;
        else if (!strcmp(a, "--stats"))
            G.stats = 1;
        else if (!strcmp(a, "--no-push"))
            G.no_push = 1;
        else if (!strcmp(a, "-k") || !strcmp(a, "--insecure"))
            G.insecure = 1;
        else if (!strcmp(a, "--h2c"))
            G.h2c = 1;
        else if (!strcmp(a, "--http2-only"))
            G.http2_only = 1;
        else if (!strcmp(a, "--fail") || !strcmp(a, "-f"))
            G.fail = 1;
        else if (!strcmp(a, "-a"))
            G.all = 1;
        else if (!strcmp(a, "-O"))
            G.remote_name = 1;
        else if (!strcmp(a, "-s") || !strcmp(a, "--silent"))
            G.quiet = 1;
        else if (!strcmp(a, "-S") || !strcmp(a, "--show-error"))
            G.show_errors = 1;
        else if (!strcmp(a, "-sS") || !strcmp(a, "-Ss"))
            G.quiet = G.show_errors = 1;
        else if (!strcmp(a, "-i") || !strcmp(a, "--include"))
            G.include = 1;
        else if (!strcmp(a, "-I") || !strcmp(a, "--head")) {
            G.include = 1;
            G.method = "HEAD";
        } else if (!strcmp(a, "-L") || !strcmp(a, "--location"))
            G.follow = 1;
        else if (!strcmp(a, "--compressed"))
            G.compressed = 1;
        else if (!strcmp(a, "-o")) {
            NEED;
            G.out_file = v;
        } else if (!strcmp(a, "--cacert")) {
            NEED;
            G.cacert = v;
        } else if (!strcmp(a, "--timeline")) {
            NEED;
            G.timeline = v;
        } else if (!strcmp(a, "--har")) {
            NEED;
            G.har = v;
        } else if (!strcmp(a, "--push-dir")) {
            NEED;
            G.push_dir = v;
        } else if (!strcmp(a, "-X") || !strcmp(a, "--request")) {
            NEED;
            if (!v[0] ||
                strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                          "!#$%&'*+-.^_`|~") != strlen(v) ||
                strlen(v) >= sizeof(((greq *)0)->method)) {
                fprintf(stderr, "loom get: -X needs a method name such as PUT, not '%s'\n", v);
                goto out;
            }
            G.method = v;
        } else if (!strcmp(a, "-w") || !strcmp(a, "--write-out")) {
            NEED;
            G.write_out = v;
        } else if (!strcmp(a, "-u") || !strcmp(a, "--user")) {
            NEED;
            if (basic_auth(v) < 0) goto out;
        } else if (!strcmp(a, "-b") || !strcmp(a, "--cookie")) {
            NEED;
            if (strchr(v, '='))
                G.cookie_arg = v;
            else
                cookie_file = v;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--cookie-jar")) {
            NEED;
            G.cookie_jar = v;
        } else if (!strcmp(a, "--resolve")) {
            NEED;
            if (resolve_arg(v) < 0) goto out;
        } else if (!strcmp(a, "--connect-timeout")) {
            NEED;
            if (seconds_arg(a, v, 0.001, 3600, &G.connect_timeout) < 0) goto out;
        } else if (!strcmp(a, "--max-time") || !strcmp(a, "-m")) {
            NEED;
            if (seconds_arg(a, v, 0.001, 86400, &G.max_time) < 0) goto out;
        } else if (!strcmp(a, "--max-redirs")) {
            NEED;
            if (count_arg(a, v, 0, 1000, &G.max_redirs) < 0) goto out;
        } else if (!strcmp(a, "-n")) {
            NEED;
            if (count_arg(a, v, 1, 100000, &G.repeat) < 0) goto out;
        } else if (!strcmp(a, "--priority")) {
            NEED;
            G.priority = v;
            G.urgency = 3;
            G.has_priority = 1;
            const char *u = strstr(v, "u=");
            if (u && u[2] >= '0' && u[2] <= '7') G.urgency = (uint8_t)(u[2] - '0');
            G.incremental = strstr(v, ", i") || !strcmp(v, "i") || strstr(v, ",i");
        } else if (!strcmp(a, "-H") || !strcmp(a, "--header")) {
            NEED;
            char *name;
            const char *val;
            if (G.nextra == MAX_HEADERS || cl_header_arg(v, 0, &name, &val) < 0) {
                fprintf(stderr, "loom get: -H needs 'name: value'\n");
                goto out;
            }
            if (keep_field(name, val)) {
                /* the same name again: the later one replaces it (as curl) */
                size_t k = 0;
                while (k < G.nextra && strcmp(G.extra[k].name, name))
                    k++;
                if (k < G.nextra) free((void *)G.extra[k].name);
                G.extra[k] = (get_hdr){name, val};
                if (k == G.nextra) G.nextra++;
            } else {
                free(name);
            }
        } else if (!strcmp(a, "-d") || !strcmp(a, "--data") || !strcmp(a, "--data-binary")) {
            NEED;
            free(G.data);
            G.data = NULL;
            G.data_len = 0;
            if (read_data(v) < 0) {
                fprintf(stderr, "loom get: cannot read %s: %s\n", v + 1, strerror(errno));
                goto out;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "loom get: unknown option '%s' (try: loom get --help)\n", a);
            goto out;
        } else if (nurls < 1024) {
            urls[nurls++] = a;
        } else {
            fprintf(stderr, "loom get: at most 1024 URLs\n");
            goto out;
        }
#undef NEED
    }
    if (!nurls) {
        fputs(get_usage, stderr);
        goto out;
    }
    /* combinations: what cannot work together says why */
    if (G.out_file && G.remote_name) {
        fprintf(stderr, "loom get: -o and -O name the output two ways: choose one\n");
        goto out;
    }
    if (G.include && (G.remote_name || G.push_dir)) {
        fprintf(stderr, "loom get: -i/-I write heads into the output, not into -O or --push-dir "
                        "files\n");
        goto out;
    }
    if (G.all && G.follow) {
        fprintf(stderr, "loom get: -a and -L together are not supported: follow the redirect "
                        "first, then fetch the page with -a\n");
        goto out;
    }
    if (G.data && G.method && !strcmp(G.method, "HEAD")) {
        fprintf(stderr, "loom get: -d with -I (HEAD): a HEAD request has no body\n");
        goto out;
    }
    if (cookie_file || G.cookie_jar) {
        G.jar = jar_new();
        if (!G.jar) {
            fprintf(stderr, "loom get: out of memory\n");
            rc = GX_FAIL;
            goto out;
        }
        if (cookie_file && jar_load(G.jar, cookie_file) < 0 && errno != ENOENT) {
            fprintf(stderr, "loom get: -b %s: %s\n", cookie_file, strerror(errno));
            goto out;
        }
    }
    char err[300];
    G.tls = tls_client_ctx(!G.insecure, G.cacert, !G.http2_only, err, sizeof(err));
    if (!G.tls) {
        fprintf(stderr, "loom get: %s\n", err);
        rc = GX_TLS;
        goto out;
    }
    if (G.timeline) G.frames = malloc(MAX_FRAMES * sizeof(*G.frames));
    for (int i = 0; i < nurls; i++) {
        greq t;
        int bad = parse_url(urls[i], &t);
        if (bad < 0) {
            fprintf(stderr, "loom get: %s: %s\n", urls[i],
                    bad == -2 ? "the port is not a number from 1 to 65535"
                              : "not an http:// or https:// URL");
            rc = GX_URL;
            goto out;
        }
        t.given = 1;
        t.send_body = G.data != NULL;
        if (G.host_hdr) snprintf(t.authority, sizeof(t.authority), "%s", G.host_hdr);
        for (int k = 0; k < G.repeat; k++)
            add_req(&t);
    }
    G.l = loop_new();
    if (!G.l) {
        fprintf(stderr, "loom get: cannot create an event loop\n");
        rc = GX_FAIL;
        goto out;
    }
    run();
    for (size_t i = 0; i < G.nreqs; i++) /* what never got anywhere */
        if (!G.reqs[i]->done) {
            G.reqs[i]->done = G.reqs[i]->failed = 1;
            if (!G.exit_code) fail_with(GX_STREAM, "%s: no response", G.reqs[i]->url);
        }

    /* bodies for stdout (or the -o file), in the order asked; -w after each */
    FILE *dest = stdout;
    int direct = 0; /* -o written to as the body came */
    for (size_t i = 0; i < G.nreqs; i++)
        direct |= G.reqs[i]->save_path[0] && !G.reqs[i]->pushed && !G.remote_name;
    if (G.out_file && !direct && !(dest = fopen(G.out_file, "wb"))) {
        fail_with(GX_WRITE, "cannot write %s: %s", G.out_file, strerror(errno));
        dest = stdout;
    }
    for (size_t i = 0; i < G.nreqs; i++) {
        greq *r = G.reqs[i];
        if (r->out_tmp && r->out) {
            rewind(r->out);
            char buf[65536];
            size_t k;
            while ((k = fread(buf, 1, sizeof(buf), r->out)) > 0)
                if (fwrite(buf, 1, k, dest) != k)
                    fail_with(GX_WRITE, "cannot write the output: %s", strerror(errno));
            fclose(r->out);
            /* closing the connections below still runs the loop: DATA of a
             * stream left unfinished (an early failure) must not reach it */
            r->out = NULL;
        }
        if (G.write_out && !r->hop && !r->pushed && !r->from_links && !r->refused && r->given)
            write_out(stdout, r);
    }
    if (dest != stdout && fclose(dest) != 0)
        fail_with(GX_WRITE, "cannot write %s: %s", G.out_file, strerror(errno));
    fflush(stdout);
    if (!G.quiet) {
        int pushed = 0, refused = 0, got = 0, finals = 0;
        uint64_t bytes = 0;
        for (size_t i = 0; i < G.nreqs; i++) {
            greq *r = G.reqs[i];
            pushed += r->pushed && !r->refused;
            refused += r->refused;
            got += r->done && !r->failed && !r->refused;
            bytes += r->bytes;
            finals += !r->hop; /* a redirect followed is one response asked for */
        }
        if (G.verbose || G.stats || pushed || refused || finals > 1) {
            fprintf(stderr,
                    "; %d response%s (%llu octets) over %d connection%s; %d pushed, %d push%s "
                    "refused\n",
                    got, got == 1 ? "" : "s", (unsigned long long)bytes, G.nconns,
                    G.nconns == 1 ? "" : "s", pushed, refused, refused == 1 ? "" : "es");
            for (size_t i = 0; i < G.nreqs; i++)
                if (G.reqs[i]->pushed && !G.reqs[i]->refused)
                    fprintf(stderr, ";   pushed %s: %d, %llu octets%s%s%s\n", G.reqs[i]->url,
                            G.reqs[i]->status, (unsigned long long)G.reqs[i]->bytes,
                            G.reqs[i]->failed ? " (incomplete)" : "",
                            G.reqs[i]->save_path[0] ? " -> " : "", G.reqs[i]->save_path);
        }
    }
    if (G.stats) print_stats();
    size_t nrec;
    get_req_rec *rec = records(&nrec);
    get_conn_rec crec[MAX_CONNS];
    for (int i = 0; i < G.nconns; i++)
        crec[i] = (get_conn_rec){G.conns[i]->host, G.conns[i]->t_begin, G.conns[i]->t_dns,
                                 G.conns[i]->t_connect, G.conns[i]->t_tls};
    if (G.timeline && get_timeline_svg(G.timeline, G.frames, G.nframes, rec, nrec, crec,
                                       (size_t)G.nconns, now_s()) < 0)
        fail_with(GX_WRITE, "cannot write %s: %s", G.timeline, strerror(errno));
    if (G.har && get_har(G.har, rec, nrec, G.epoch0) < 0)
        fail_with(GX_WRITE, "cannot write %s: %s", G.har, strerror(errno));
    free(rec);
    close_all(); /* after the pictures: they show the transfer, not the goodbye */
    if (G.cookie_jar && jar_save(G.jar, G.cookie_jar, (long long)time(NULL)) < 0)
        fail_with(GX_WRITE, "cannot write the cookies to %s: %s", G.cookie_jar, strerror(errno));
    if (!G.exit_code && !G.nreqs) G.exit_code = GX_FAIL;
    rc = G.exit_code;
    if (G.exit_code && (!G.quiet || G.show_errors)) fprintf(stderr, "loom get: %s\n", G.exit_msg);
out:
    for (int i = 0; i < G.nconns; i++) {
        if (G.conns[i]->cert) X509_free(G.conns[i]->cert);
        free(G.conns[i]);
    }
    for (size_t i = 0; i < G.nreqs; i++) {
        greq *r = G.reqs[i];
        for (size_t k = 0; k < r->n_req_hdrs; k++) {
            free((void *)r->req_hdrs[k].name);
            free((void *)r->req_hdrs[k].value);
        }
        for (size_t k = 0; k < r->n_resp_hdrs; k++) {
            free((void *)r->resp_hdrs[k].name);
            free((void *)r->resp_hdrs[k].value);
        }
        if (r->out && r->out != stdout) fclose(r->out);
        unzip_free(r->uz);
        free(r->html);
        free(r);
    }
    free(G.reqs);
    free(G.frames);
    free(G.data);
    for (size_t i = 0; i < G.nextra; i++)
        free((void *)G.extra[i].name);
    jar_free(G.jar);
    if (G.tls) SSL_CTX_free(G.tls);
    if (G.l) loop_free(G.l);
    return rc;
}
