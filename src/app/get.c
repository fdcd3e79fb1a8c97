/* loom get: fetches URLs over HTTP/2, all URLs of an origin concurrently on
 * one connection (and origins that share an address and a certificate on
 * one connection too, RFC 9113 §9.1.1, narrowed or widened by ORIGIN,
 * RFC 8336), shows the frames (-v), the header compression (--stats), and
 * draws the connection (--timeline, --har). */
#define _GNU_SOURCE
#include "get.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../tls.h"
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
    GX_STREAM = 92,
};

#define MAX_CONNS           64
#define MAX_HEADERS         64
#define HTML_MAX            (4u << 20)
#define MAX_FRAMES          200000
#define SETTINGS_TIMEOUT_MS 10000

typedef struct gconn gconn;

typedef struct greq {
    char url[2048], scheme[8], host[256], port[8], path[1536], authority[300];
    char method[16];
    gconn *conn;
    int32_t sid;
    int submitted, done, pushed, refused, failed;
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
} greq;

struct gconn {
    int idx;
    char scheme[8], host[256], port[8];
    int fd;
    SSL *ssl;
    X509 *cert;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char ip[64];
    loom_conn *h2;
    int dead, goaway;
    char origins[16][300]; /* from ORIGIN frames (RFC 8336) */
    int norigins, has_origin;
    int got_settings; /* the server's first SETTINGS (and an ORIGIN after it) came */
    double t_dns, t_connect, t_tls;
    size_t pp_len; /* field block octets of the last PUSH_PROMISE */
    uint8_t wbuf[65536];
    size_t wlen, woff;
};

/* ---- state ---- */

static struct {
    int verbose, stats, no_push, insecure, h2c, fail, all, repeat, quiet;
    const char *cacert, *timeline, *har, *out_file, *push_dir, *priority, *data_arg;
    int remote_name;
    const char *method;
    get_hdr extra[MAX_HEADERS];
    size_t nextra;
    uint8_t *data;
    size_t data_len;
    double max_time;
    SSL_CTX *tls;
    double t0;
    double epoch0;
    gconn *conns[MAX_CONNS];
    int nconns;
    greq **reqs;
    size_t nreqs, capreqs;
    get_frame_rec *frames;
    size_t nframes;
    greq *submitting; /* the request whose HEADERS are being written */
    int exit_code;
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

static void fail_with(int code, const char *fmt, ...)
{
    if (G.exit_code) return; /* the first reason is the one that counts */
    G.exit_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(G.exit_msg, sizeof(G.exit_msg), fmt, ap);
    va_end(ap);
}

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
    snprintf(r->port, sizeof(r->port), "%s", colon ? colon + 1 : (r->scheme[4] ? "443" : "80"));
    snprintf(r->method, sizeof(r->method), "%s", G.method ? G.method : G.data ? "POST" : "GET");
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
    if (sent && f->hd.type == LOOM_FRAME_HEADERS && G.submitting) {
        greq *r = G.submitting;
        fprintf(stderr, "          ; Open new stream\n");
        for (size_t i = 0; i < r->n_req_hdrs; i++)
            fprintf(stderr, "          %s: %s\n", r->req_hdrs[i].name, r->req_hdrs[i].value);
    }
}

/* ---- requests ---- */

static greq *req_by_sid(gconn *gc, int32_t sid)
{
    for (size_t i = 0; i < G.nreqs; i++)
        if (G.reqs[i]->conn == gc && G.reqs[i]->sid == sid) return G.reqs[i];
    return NULL;
}

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

static int submit(greq *r)
{
    gconn *gc = r->conn;
    loom_hpack_field f[MAX_HEADERS + 8];
    size_t n = 0;
#define ADD(nm, v)                                                                                 \
    f[n++] =                                                                                       \
        (loom_hpack_field){(const uint8_t *)(nm), strlen(nm), (const uint8_t *)(v), strlen(v), 0}
    ADD(":method", r->method);
    ADD(":scheme", r->scheme);
    ADD(":authority", r->authority);
    ADD(":path", r->path);
    ADD("user-agent", "loom/" LOOM_VERSION_STRING);
    ADD("accept", "*/*");
    char clen[24];
    if (G.data) {
        snprintf(clen, sizeof(clen), "%zu", G.data_len);
        ADD("content-length", clen);
    }
    if (G.priority) ADD("priority", G.priority);
    for (size_t i = 0; i < G.nextra && n < MAX_HEADERS; i++)
        ADD(G.extra[i].name, G.extra[i].value);
#undef ADD
    for (size_t i = 0; i < r->n_req_hdrs; i++) { /* an earlier try at the stream limit */
        free((void *)r->req_hdrs[i].name);
        free((void *)r->req_hdrs[i].value);
    }
    r->n_req_hdrs = 0;
    for (size_t i = 0; i < n; i++)
        keep_hdr(r->req_hdrs, &r->n_req_hdrs, f[i].name, f[i].name_len, f[i].value, f[i].value_len);
    loom_body b = {.data = G.data, .len = G.data_len, .fd = -1};
    G.submitting = r;
    int32_t sid = loom_request(gc->h2, f, n, G.data ? &b : NULL);
    G.submitting = NULL;
    if (sid == LOOM_ERR_LIMIT) return 0; /* the peer's stream limit: later */
    if (sid < 0) {
        r->failed = 1;
        r->done = 1;
        fail_with(GX_STREAM, "%s: cannot open a stream: %s", r->url, loom_strerror(sid));
        return -1;
    }
    r->sid = sid;
    r->submitted = 1;
    r->t_start = now_s();
    r->req_h1 = h1_size(r, 0);
    if (G.has_priority) loom_set_priority(gc->h2, sid, G.urgency, G.incremental);
    return 1;
}

static void submit_pending(gconn *gc)
{
    for (size_t i = 0; i < G.nreqs; i++) {
        greq *r = G.reqs[i];
        if (r->conn == gc && !r->submitted && !r->done && !r->pushed)
            if (submit(r) == 0) return;
    }
}

/* -a: the same-origin resources an HTML page links to. */
static void find_links(greq *page)
{
    const char *h = (const char *)page->html, *end = h + page->html_len;
    static const char *const attrs[] = {"href=", "src="};
    for (const char *p = h; p < end; p++) {
        if (*p != '<') continue;
        const char *tag = p + 1;
        int want = !strncasecmp(tag, "link", 4) || !strncasecmp(tag, "script", 6) ||
                   !strncasecmp(tag, "img", 3);
        const char *close = memchr(p, '>', (size_t)(end - p));
        if (!want || !close) continue;
        for (int a = 0; a < 2; a++) {
            const char *v = memmem(p, (size_t)(close - p), attrs[a], strlen(attrs[a]));
            if (!v) continue;
            v += strlen(attrs[a]);
            char q = (*v == '"' || *v == '\'') ? *v++ : 0;
            const char *ve = v;
            while (ve < close && (q ? *ve != q : (*ve != ' ' && *ve != '>')))
                ve++;
            size_t len = (size_t)(ve - v);
            if (!len || len > 1000) continue;
            char url[2048];
            if (!strncmp(v, "http://", 7) || !strncmp(v, "https://", 8))
                snprintf(url, sizeof(url), "%.*s", (int)len, v);
            else if (v[0] == '/' && len > 1 && v[1] == '/')
                snprintf(url, sizeof(url), "%s:%.*s", page->scheme, (int)len, v);
            else if (v[0] == '/')
                snprintf(url, sizeof(url), "%s://%s%.*s", page->scheme, page->authority, (int)len,
                         v);
            else {
                const char *slash = strrchr(page->path, '/');
                int dl = slash ? (int)(slash - page->path + 1) : 1;
                snprintf(url, sizeof(url), "%s://%s%.*s%.*s", page->scheme, page->authority, dl,
                         page->path, (int)len, v);
            }
            greq t;
            if (parse_url(url, &t) < 0 || !same_origin(&t, page)) continue;
            snprintf(t.method, sizeof(t.method), "GET");
            if (find_url(t.url)) continue; /* asked for, or pushed */
            t.conn = page->conn;
            t.from_links = 1;
            add_req(&t);
        }
        p = close;
    }
}

static void finish(greq *r)
{
    if (r->done) return;
    r->done = 1;
    r->t_end = now_s();
    if (r->out && !r->out_tmp && r->out != stdout) {
        fclose(r->out);
        r->out = NULL;
    }
    if (G.all && r->html && !r->failed) find_links(r);
    if (r->conn && r->conn->h2 && !r->conn->dead) submit_pending(r->conn);
}

static FILE *open_output(greq *r)
{
    if (r->pushed) {
        if (!G.push_dir && !G.remote_name) return NULL; /* counted and reported */
    } else if (G.out_file && !r->from_links) {
        snprintf(r->save_path, sizeof(r->save_path), "%s", G.out_file);
        return fopen(G.out_file, "wb");
    } else if (!G.remote_name && !r->from_links) {
        r->out_tmp = 1;
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

static int on_event(loom_conn *c, const loom_event *ev, void *user)
{
    gconn *gc = user;
    greq *r;
    switch (ev->type) {
    case LOOM_EV_FRAME: {
        const loom_frame *f = ev->u.frame.frame;
        if (G.verbose) trace_frame(gc, f, ev->u.frame.sent);
        if (G.frames && G.nframes < MAX_FRAMES)
            G.frames[G.nframes++] =
                (get_frame_rec){now_s(),     (int32_t)f->hd.stream_id,  f->hd.type,
                                f->hd.flags, (uint8_t)ev->u.frame.sent, f->hd.length,
                                gc->idx};
        /* HPACK octets per request, for --stats */
        int32_t sid = (int32_t)f->hd.stream_id;
        if (f->hd.type == LOOM_FRAME_PUSH_PROMISE && !ev->u.frame.sent)
            gc->pp_len = f->u.push_promise.len;
        if (f->hd.type == LOOM_FRAME_HEADERS || f->hd.type == LOOM_FRAME_CONTINUATION) {
            r = ev->u.frame.sent ? G.submitting : req_by_sid(gc, sid);
            if (r) *(ev->u.frame.sent ? &r->req_hpack : &r->resp_hpack) += f->hd.length;
        }
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
            loom_reset(c, ev->u.push.promised_id, LOOM_H2_CANCEL);
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
        t.submitted = 1;
        r = add_req(&t);
        if (!r) break;
        r->t_start = now_s();
        for (size_t i = 0; i < ev->u.push.n; i++)
            keep_hdr(r->req_hdrs, &r->n_req_hdrs, ev->u.push.fields[i].name,
                     ev->u.push.fields[i].name_len, ev->u.push.fields[i].value,
                     ev->u.push.fields[i].value_len);
        r->req_h1 = h1_size(r, 0);
        r->req_hpack = gc->pp_len;
        break;
    }
    case LOOM_EV_HEADERS:
        r = req_by_sid(gc, ev->stream_id);
        if (!r) break;
        if (ev->u.headers.status && ev->u.headers.status < 200) break; /* 1xx */
        r->status = ev->u.headers.status;
        r->t_headers = now_s();
        for (size_t i = 0; i < ev->u.headers.n; i++) {
            const loom_hpack_field *f = &ev->u.headers.fields[i];
            keep_hdr(r->resp_hdrs, &r->n_resp_hdrs, f->name, f->name_len, f->value, f->value_len);
            if (f->name_len == 12 && !memcmp(f->name, "content-type", 12))
                snprintf(r->mime, sizeof(r->mime), "%.*s", (int)f->value_len, f->value);
        }
        if (G.verbose) trace_fields(ev->u.headers.fields, ev->u.headers.n);
        r->resp_h1 = h1_size(r, 1);
        r->out = open_output(r);
        if (!r->out && (r->save_path[0] || r->out_tmp)) {
            fail_with(GX_WRITE, "%s: cannot write %s: %s", r->url,
                      r->save_path[0] ? r->save_path : "a temporary file", strerror(errno));
            r->save_path[0] = 0; /* not saved: the summary must not say it was */
        }
        if (!strncmp(r->mime, "text/html", 9) && G.all) r->html = malloc(HTML_MAX);
        if (G.fail && r->status >= 400 && !r->pushed)
            fail_with(GX_HTTP, "%s: HTTP status %d", r->url, r->status);
        if (ev->u.headers.end_stream) finish(r);
        break;
    case LOOM_EV_DATA:
        r = req_by_sid(gc, ev->stream_id);
        if (!r) break;
        r->bytes += ev->u.data.len;
        if (r->out && ev->u.data.len &&
            fwrite(ev->u.data.data, 1, ev->u.data.len, r->out) != ev->u.data.len)
            fail_with(GX_WRITE, "%s: cannot write the body: %s", r->url, strerror(errno));
        if (r->html && r->html_len + ev->u.data.len <= HTML_MAX) {
            memcpy(r->html + r->html_len, ev->u.data.data, ev->u.data.len);
            r->html_len += ev->u.data.len;
        }
        if (ev->u.data.end_stream) finish(r);
        break;
    case LOOM_EV_TRAILERS:
        r = req_by_sid(gc, ev->stream_id);
        if (r) finish(r);
        break;
    case LOOM_EV_STREAM_CLOSED:
        r = req_by_sid(gc, ev->stream_id);
        if (!r) break;
        if (ev->u.closed.error_code && !r->refused) {
            r->error_code = ev->u.closed.error_code;
            if (ev->u.closed.retry_safe && !r->pushed) {
                /* not processed: send it again (a new connection if needed) */
                r->submitted = 0;
                r->sid = 0;
                r->conn = NULL;
                break;
            }
            r->failed = 1;
            if (!r->pushed)
                fail_with(GX_STREAM, "%s: stream %d reset: %s", r->url, ev->stream_id,
                          loom_h2_code_name(ev->u.closed.error_code));
        }
        finish(r);
        break;
    case LOOM_EV_GOAWAY:
        gc->goaway = 1;
        if (ev->u.goaway.error_code)
            fail_with(GX_STREAM, "%s: the server sent GOAWAY %s%s%.*s", gc->host,
                      loom_h2_code_name(ev->u.goaway.error_code),
                      ev->u.goaway.debug_len ? ": " : "", (int)ev->u.goaway.debug_len,
                      (const char *)ev->u.goaway.debug);
        break;
    case LOOM_EV_SETTINGS: gc->got_settings = 1; break;
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
    case LOOM_EV_ERROR:
        gc->dead = 1;
        fail_with(GX_STREAM, "%s: connection error: %s", gc->host, ev->u.error.reason);
        break;
    default: break;
    }
    return 0;
}

/* ---- connections ---- */

static int resolve(const greq *r, struct addrinfo **res)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = getaddrinfo(r->host, r->port, &hints, res);
    if (rc) {
        fail_with(GX_DNS, "%s: cannot resolve %s: %s", r->url, r->host, gai_strerror(rc));
        return -1;
    }
    return 0;
}

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
        if (gc->dead || gc->goaway || strcmp(gc->scheme, r->scheme) || strcmp(gc->port, r->port))
            continue;
        if (!strcasecmp(gc->host, r->host)) return gc;
        if (strcmp(r->scheme, "https") || !cert_covers(gc->cert, r->host)) continue;
        if (!gc->got_settings) {
            *wait = 1;
            continue;
        }
        char origin[600];
        snprintf(origin, sizeof(origin), "%s://%s", r->scheme, r->authority);
        if (gc->has_origin) {
            for (int k = 0; k < gc->norigins; k++)
                if (!strcasecmp(gc->origins[k], origin)) return gc;
            /* the default port may be left out of an ORIGIN entry */
            continue;
        }
        struct addrinfo *res;
        if (resolve(r, &res) < 0) return NULL;
        int hit = 0;
        for (struct addrinfo *a = res; a && !hit; a = a->ai_next)
            hit = same_addr(&gc->addr, a);
        freeaddrinfo(res);
        if (hit) return gc;
    }
    return NULL;
}

static int wait_fd(int fd, short ev, int ms)
{
    struct pollfd p = {.fd = fd, .events = ev};
    return poll(&p, 1, ms);
}

/* How long one blocking step (connect, TLS handshake, the Upgrade's
 * answer) may wait: 10 s, or what --max-time leaves. */
static int step_ms(void)
{
    double left = G.max_time > 0 ? G.max_time - now_s() : 10;
    if (left > 10) left = 10;
    return left > 0 ? (int)(left * 1000) + 1 : 0;
}

/* --max-time ran out: that is the failure to report (exit 28). */
static int out_of_time(void)
{
    if (G.max_time <= 0 || now_s() < G.max_time) return 0;
    fail_with(GX_TIMEOUT, "timed out after %g seconds", G.max_time);
    return 1;
}

static const char *ssl_reason(void)
{
    static char buf[256];
    unsigned long e = ERR_get_error();
    if (!e) return "handshake failed";
    ERR_error_string_n(e, buf, sizeof(buf));
    return buf;
}

static gconn *connect_to(const greq *r)
{
    if (G.nconns == MAX_CONNS) {
        fail_with(GX_FAIL, "too many origins");
        return NULL;
    }
    double t0 = now_s();
    struct addrinfo *res;
    if (resolve(r, &res) < 0) return NULL;
    gconn *gc = calloc(1, sizeof(*gc));
    gc->idx = G.nconns;
    snprintf(gc->scheme, sizeof(gc->scheme), "%s", r->scheme);
    snprintf(gc->host, sizeof(gc->host), "%s", r->host);
    snprintf(gc->port, sizeof(gc->port), "%s", r->port);
    gc->t_dns = now_s() - t0;
    gc->fd = -1;
    int err = 0;
    for (struct addrinfo *a = res; a && gc->fd < 0; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
            err = errno;
            close(fd);
            continue;
        }
        socklen_t el = sizeof(err);
        if (wait_fd(fd, POLLOUT, step_ms()) <= 0 ||
            (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err)) {
            if (!err) err = ETIMEDOUT;
            close(fd);
            continue;
        }
        gc->fd = fd;
        memcpy(&gc->addr, a->ai_addr, a->ai_addrlen);
        gc->addrlen = a->ai_addrlen;
        getnameinfo(a->ai_addr, a->ai_addrlen, gc->ip, sizeof(gc->ip), NULL, 0, NI_NUMERICHOST);
    }
    freeaddrinfo(res);
    if (gc->fd < 0) {
        out_of_time();
        fail_with(GX_CONNECT, "%s: cannot connect to %s port %s: %s", r->url, r->host, r->port,
                  strerror(err ? err : ECONNREFUSED));
        free(gc);
        return NULL;
    }
    int one = 1;
    setsockopt(gc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    gc->t_connect = now_s() - t0 - gc->t_dns;

    if (!strcmp(r->scheme, "https")) {
        gc->ssl = SSL_new(G.tls);
        SSL_set_fd(gc->ssl, gc->fd);
        struct in6_addr lit;
        if (inet_pton(AF_INET, r->host, &lit) != 1 && inet_pton(AF_INET6, r->host, &lit) != 1)
            SSL_set_tlsext_host_name(gc->ssl, r->host); /* no IP literals (RFC 6066 §3) */
        if (!G.insecure) SSL_set1_host(gc->ssl, r->host);
        double hs0 = now_s();
        for (;;) {
            ERR_clear_error();
            int rc = SSL_connect(gc->ssl);
            if (rc == 1) break;
            int e = SSL_get_error(gc->ssl, rc);
            if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
                wait_fd(gc->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, step_ms()) > 0 &&
                now_s() - hs0 < 10)
                continue;
            out_of_time();
            long v = SSL_get_verify_result(gc->ssl);
            if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL)
                /* a server without h2 that refuses the handshake rather
                 * than answer without ALPN (nginx without http2) */
                fail_with(GX_NO_H2, "%s: the server does not offer h2 in ALPN (TLS alert %s)",
                          r->url, "no_application_protocol");
            else if (v != X509_V_OK)
                fail_with(GX_TLS, "%s: TLS: certificate not trusted (%s); -k to accept it", r->url,
                          X509_verify_cert_error_string(v));
            else
                fail_with(GX_TLS, "%s: TLS: %s", r->url, ssl_reason());
            SSL_free(gc->ssl);
            close(gc->fd);
            free(gc);
            return NULL;
        }
        gc->t_tls = now_s() - hs0;
        const unsigned char *alpn;
        unsigned len;
        SSL_get0_alpn_selected(gc->ssl, &alpn, &len);
        if (len != 2 || memcmp(alpn, "h2", 2)) {
            fail_with(GX_NO_H2, "%s: the server did not choose h2 in ALPN (%.*s)", r->url,
                      len ? (int)len : 4, len ? (const char *)alpn : "none");
            SSL_free(gc->ssl);
            close(gc->fd);
            free(gc);
            return NULL;
        }
        gc->cert = SSL_get1_peer_certificate(gc->ssl);
    }

    loom_config cfg;
    loom_config_default(&cfg, LOOM_CLIENT);
    cfg.enable_push = !G.no_push;
    cfg.initial_window_size = 16u << 20;
    cfg.connection_window = 64u << 20;
    gc->h2 = loom_conn_new(LOOM_CLIENT, &cfg, on_event, gc);
    G.conns[G.nconns++] = gc;

    if (!strcmp(r->scheme, "http") && !G.h2c) {
        /* RFC 7540 §3.2: HTTP/1.1 Upgrade to h2c; the request becomes
         * stream 1 (a GET without body: upgrading with a body is not
         * supported here) */
        /* HTTP2-Settings is our first SETTINGS (RFC 7540 §3.2.1): the
         * same values as the SETTINGS frame that follows, since some may
         * not change afterwards (SETTINGS_NO_RFC7540_PRIORITIES, RFC 9218
         * §2.1: Apache ends the connection with PROTOCOL_ERROR) */
        const uint32_t sv[7][2] = {{1, cfg.header_table_size},      {2, cfg.enable_push},
                                   {3, cfg.max_concurrent_streams}, {4, cfg.initial_window_size},
                                   {5, cfg.max_frame_size},         {6, cfg.max_header_list_size},
                                   {9, cfg.no_rfc7540_priorities}};
        uint8_t settings[42]; /* a multiple of 3: base64 without padding */
        for (size_t i = 0; i < 7; i++) {
            settings[i * 6] = (uint8_t)(sv[i][0] >> 8);
            settings[i * 6 + 1] = (uint8_t)sv[i][0];
            for (int k = 0; k < 4; k++)
                settings[i * 6 + 2 + k] = (uint8_t)(sv[i][1] >> (24 - 8 * k));
        }
        char b64[64], hdr[4096];
        static const char tbl[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t o = 0;
        for (size_t i = 0; i < sizeof(settings); i += 3) {
            uint32_t v =
                (uint32_t)settings[i] << 16 | (uint32_t)settings[i + 1] << 8 | settings[i + 2];
            b64[o++] = tbl[v >> 18];
            b64[o++] = tbl[(v >> 12) & 63];
            b64[o++] = tbl[(v >> 6) & 63];
            b64[o++] = tbl[v & 63];
        }
        b64[o] = 0;
        int n = snprintf(
            hdr, sizeof(hdr),
            "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            "Upgrade: h2c\r\nHTTP2-Settings: %s\r\nUser-Agent: loom/%s\r\nAccept: */*\r\n\r\n",
            r->path, r->authority, b64, LOOM_VERSION_STRING);
        if (send(gc->fd, hdr, (size_t)n, MSG_NOSIGNAL) != n) {
            fail_with(GX_CONNECT, "%s: cannot send the upgrade request", r->url);
            return NULL;
        }
        char resp[8192];
        size_t got = 0;
        char *end = NULL;
        while (!end && got < sizeof(resp) - 1 && wait_fd(gc->fd, POLLIN, step_ms()) > 0) {
            ssize_t k = recv(gc->fd, resp + got, sizeof(resp) - 1 - got, 0);
            if (k <= 0) break;
            got += (size_t)k;
            resp[got] = 0;
            end = strstr(resp, "\r\n\r\n");
        }
        if (!end || strncmp(resp, "HTTP/1.1 101", 12)) {
            out_of_time();
            /* a prior-knowledge-only server answers with its SETTINGS frame */
            const char *why = !got                          ? "no answer"
                              : strncmp(resp, "HTTP/1.", 7) ? "not an HTTP/1.1 response"
                                                            : resp;
            fail_with(GX_NO_H2, "%s: the server did not upgrade to h2c (%.*s); try --h2c", r->url,
                      (int)strcspn(why, "\r\n"), why);
            gc->dead = 1;
            return NULL;
        }
        loom_hpack_field up[] = {
            {(const uint8_t *)":method", 7, (const uint8_t *)"GET", 3, 0},
            {(const uint8_t *)":scheme", 7, (const uint8_t *)"http", 4, 0},
            {(const uint8_t *)":authority", 10, (const uint8_t *)r->authority, strlen(r->authority),
             0},
            {(const uint8_t *)":path", 5, (const uint8_t *)r->path, strlen(r->path), 0},
        };
        loom_conn_upgrade(gc->h2, NULL, 0, up, 4);
        greq *first = NULL;
        for (size_t i = 0; i < G.nreqs && !first; i++)
            if (G.reqs[i]->conn == NULL && same_origin(G.reqs[i], r) && !G.reqs[i]->submitted)
                first = G.reqs[i];
        if (first) {
            first->conn = gc;
            first->sid = 1;
            first->submitted = 1;
            first->t_start = now_s();
            keep_hdr(first->req_hdrs, &first->n_req_hdrs, (const uint8_t *)":method", 7,
                     (const uint8_t *)"GET", 3);
            keep_hdr(first->req_hdrs, &first->n_req_hdrs, (const uint8_t *)":path", 5,
                     (const uint8_t *)first->path, strlen(first->path));
            first->req_h1 = (size_t)n;
        }
        size_t rest = got - (size_t)(end + 4 - resp);
        if (rest) loom_conn_recv(gc->h2, (const uint8_t *)end + 4, rest);
    }
    return gc;
}

/* Writes what the engine has, until the socket is full. */
static int flush(gconn *gc)
{
    for (;;) {
        int rc = tls_send_all(gc->ssl, gc->fd, gc->wbuf, gc->wlen, &gc->woff);
        if (rc <= 0) return rc;
        gc->woff = gc->wlen = 0;
        loom_out out[32];
        size_t k = loom_conn_send(gc->h2, out, 32);
        if (!k) return 1;
        for (size_t i = 0; i < k && gc->wlen < sizeof(gc->wbuf); i++) {
            size_t take = out[i].len;
            if (take > sizeof(gc->wbuf) - gc->wlen) take = sizeof(gc->wbuf) - gc->wlen;
            memcpy(gc->wbuf + gc->wlen, out[i].base, take); /* the client sends memory only */
            gc->wlen += take;
            loom_conn_sent(gc->h2, take);
        }
    }
}

static int all_done(void)
{
    for (size_t i = 0; i < G.nreqs; i++)
        if (!G.reqs[i]->done) return 0;
    return 1;
}

/* Puts every request not on a connection onto one, new or reused. */
static void assign(void)
{
    for (size_t i = 0; i < G.nreqs; i++) {
        greq *r = G.reqs[i];
        if (r->conn || r->done) continue;
        int wait;
        gconn *gc = reusable(r, &wait);
        if (!gc && wait) continue; /* assigned once that connection's SETTINGS came */
        if (!gc && !G.exit_code) gc = connect_to(r);
        if (!gc) {
            r->done = r->failed = 1;
            continue;
        }
        r->conn = gc;
    }
    for (int i = 0; i < G.nconns; i++)
        if (!G.conns[i]->dead) submit_pending(G.conns[i]);
}

static void run(void)
{
    while (!all_done()) {
        assign();
        if (all_done()) break;
        if (G.max_time > 0 && now_s() > G.max_time) {
            fail_with(GX_TIMEOUT, "timed out after %g seconds", G.max_time);
            break;
        }
        struct pollfd pf[MAX_CONNS];
        int n = 0;
        for (int i = 0; i < G.nconns; i++) {
            gconn *gc = G.conns[i];
            if (gc->dead) continue;
            /* RFC 9113 §6.5.3: a server that never acknowledges our
             * SETTINGS ends with GOAWAY SETTINGS_TIMEOUT */
            if (loom_conn_check_timeouts(gc->h2, SETTINGS_TIMEOUT_MS) < 0) gc->dead = 1;
            int rc = flush(gc);
            if (rc < 0) {
                gc->dead = 1;
                continue;
            }
            pf[n].fd = gc->fd;
            pf[n].events = (short)(POLLIN | (rc == 0 ? POLLOUT : 0));
            pf[n].revents = 0;
            n++;
        }
        if (n == 0) break;
        if (poll(pf, (nfds_t)n, 1000) < 0 && errno != EINTR) break;
        for (int i = 0, k = 0; i < G.nconns; i++) {
            gconn *gc = G.conns[i];
            if (gc->dead) continue;
            short re = pf[k++].revents;
            if (!(re & (POLLIN | POLLHUP | POLLERR))) continue;
            uint8_t buf[65536];
            for (;;) {
                ssize_t got;
                if (gc->ssl) {
                    ERR_clear_error();
                    int r = SSL_read(gc->ssl, buf, sizeof(buf));
                    if (r <= 0) {
                        int e = SSL_get_error(gc->ssl, r);
                        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
                        gc->dead = 1;
                        break;
                    }
                    got = r;
                } else {
                    got = recv(gc->fd, buf, sizeof(buf), 0);
                    if (got < 0 && errno == EAGAIN) break;
                    if (got <= 0) {
                        gc->dead = 1;
                        break;
                    }
                }
                if (loom_conn_recv(gc->h2, buf, (size_t)got) < 0) gc->dead = 1;
                flush(gc);
                if (gc->dead) break;
            }
            if (gc->dead) {
                /* the connection ended: what was on it and not done failed */
                for (size_t q = 0; q < G.nreqs; q++) {
                    greq *r = G.reqs[q];
                    if (r->conn != gc || r->done) continue;
                    if (!r->submitted) {
                        r->conn = NULL; /* still to send: a new connection */
                        continue;
                    }
                    r->failed = 1;
                    if (!r->pushed) /* as for a reset push: not what was asked for */
                        fail_with(GX_STREAM, "%s: the connection closed before the response ended",
                                  r->url);
                    finish(r);
                }
            }
        }
    }
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
    "\n"
    "options:\n"
    "  -o FILE          write the body to FILE (one URL)\n"
    "  -O               write each body to a file named after its path\n"
    "  -H 'name: value' add a request header field (repeatable)\n"
    "  -d DATA, -d @FILE  send DATA (or FILE) as the body of a POST\n"
    "  -X METHOD        the request method\n"
    "  -n N             request each URL N times\n"
    "  -a               also fetch the same-origin CSS, JS and images a page links to\n"
    "  -k               accept a certificate that does not verify\n"
    "  --cacert FILE    trust the CAs in FILE\n"
    "  --h2c            cleartext HTTP/2 with prior knowledge (no Upgrade)\n"
    "  --no-push        SETTINGS_ENABLE_PUSH=0\n"
    "  --push-dir DIR   save pushed responses in DIR\n"
    "  --priority 'u=N, i'  RFC 9218 priority (priority field and PRIORITY_UPDATE)\n"
    "  -v               show every frame sent and received\n"
    "  --stats          header sizes: HTTP/1.1 text against HPACK on the wire\n"
    "  --timeline FILE.svg  draw the connection: a lane per stream, a mark per frame\n"
    "  --har FILE       write HAR 1.2\n"
    "  --fail           exit 22 when a status is 400 or above\n"
    "  --max-time SEC   give up after SEC seconds (default 60)\n"
    "  -s               no summary on stderr\n"
    "\n"
    "Pushed responses are accepted; a promise for a resource already fetched or\n"
    "being fetched is refused with RST_STREAM CANCEL.\n"
    "exit status: 0, 2 usage, 3 bad URL, 6 DNS, 7 connect, 16 no h2, 22 HTTP status\n"
    "(--fail), 23 write, 28 timeout, 35 TLS, 92 stream or connection error.\n";

static int read_data(const char *arg)
{
    if (arg[0] != '@') {
        G.data = (uint8_t *)strdup(arg);
        G.data_len = strlen(arg);
        return 0;
    }
    FILE *f = fopen(arg + 1, "rb");
    if (!f) return -1;
    size_t cap = 65536;
    G.data = malloc(cap);
    size_t k;
    while ((k = fread(G.data + G.data_len, 1, cap - G.data_len, f)) > 0) {
        G.data_len += k;
        if (G.data_len == cap) G.data = realloc(G.data, cap *= 2);
    }
    fclose(f);
    return 0;
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
    signal(SIGPIPE, SIG_IGN);
    const char *urls[1024];
    int nurls = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED                                                                                       \
    if (!v) {                                                                                      \
        fprintf(stderr, "loom get: %s needs a value (try: loom get --help)\n", a);                 \
        return GX_USAGE;                                                                           \
    }                                                                                              \
    i++
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(get_usage, stdout);
            return 0;
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
        else if (!strcmp(a, "--fail"))
            G.fail = 1;
        else if (!strcmp(a, "-a"))
            G.all = 1;
        else if (!strcmp(a, "-O"))
            G.remote_name = 1;
        else if (!strcmp(a, "-s"))
            G.quiet = 1;
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
        } else if (!strcmp(a, "-X")) {
            NEED;
            G.method = v;
        } else if (!strcmp(a, "--max-time")) {
            NEED;
            G.max_time = atof(v);
        } else if (!strcmp(a, "-n")) {
            NEED;
            G.repeat = atoi(v);
            if (G.repeat < 1 || G.repeat > 100000) {
                fprintf(stderr, "loom get: -n needs a count from 1 to 100000\n");
                return GX_USAGE;
            }
        } else if (!strcmp(a, "--priority")) {
            NEED;
            G.priority = v;
            G.urgency = 3;
            G.has_priority = 1;
            const char *u = strstr(v, "u=");
            if (u && u[2] >= '0' && u[2] <= '7') G.urgency = (uint8_t)(u[2] - '0');
            G.incremental = strstr(v, ", i") || !strcmp(v, "i") || strstr(v, ",i");
        } else if (!strcmp(a, "-H")) {
            NEED;
            const char *colon = strchr(v, ':');
            if (!colon || colon == v || G.nextra == MAX_HEADERS) {
                fprintf(stderr, "loom get: -H needs 'name: value'\n");
                return GX_USAGE;
            }
            char *name = strndup(v, (size_t)(colon - v));
            for (char *p = name; *p; p++)
                if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32); /* RFC 9113 §8.2.1 */
            const char *val = colon + 1;
            while (*val == ' ')
                val++;
            G.extra[G.nextra++] = (get_hdr){name, val};
        } else if (!strcmp(a, "-d") || !strcmp(a, "--data")) {
            NEED;
            if (read_data(v) < 0) {
                fprintf(stderr, "loom get: cannot read %s: %s\n", v + 1, strerror(errno));
                return GX_USAGE;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "loom get: unknown option '%s' (try: loom get --help)\n", a);
            return GX_USAGE;
        } else if (nurls < 1024) {
            urls[nurls++] = a;
        }
#undef NEED
    }
    if (!nurls) {
        fputs(get_usage, stderr);
        return GX_USAGE;
    }
    if (G.out_file && nurls * G.repeat > 1) {
        fprintf(stderr, "loom get: -o takes one URL (use -O for several)\n");
        return GX_USAGE;
    }
    char err[300];
    G.tls = tls_client_ctx(!G.insecure, G.cacert, 0, err, sizeof(err));
    if (!G.tls) {
        fprintf(stderr, "loom get: %s\n", err);
        return GX_TLS;
    }
    if (G.timeline) G.frames = malloc(MAX_FRAMES * sizeof(*G.frames));
    for (int i = 0; i < nurls; i++) {
        greq t;
        if (parse_url(urls[i], &t) < 0) {
            fprintf(stderr, "loom get: %s: not an http:// or https:// URL\n", urls[i]);
            return GX_URL;
        }
        for (int k = 0; k < G.repeat; k++)
            add_req(&t);
    }
    run();

    /* bodies for stdout, in the order asked */
    for (size_t i = 0; i < G.nreqs; i++) {
        greq *r = G.reqs[i];
        if (!r->out_tmp || !r->out) continue;
        rewind(r->out);
        char buf[65536];
        size_t k;
        while ((k = fread(buf, 1, sizeof(buf), r->out)) > 0)
            fwrite(buf, 1, k, stdout);
        fclose(r->out);
    }
    fflush(stdout);
    if (!G.quiet) {
        int pushed = 0, refused = 0, got = 0;
        uint64_t bytes = 0;
        for (size_t i = 0; i < G.nreqs; i++) {
            greq *r = G.reqs[i];
            pushed += r->pushed && !r->refused;
            refused += r->refused;
            got += r->done && !r->failed && !r->refused;
            bytes += r->bytes;
        }
        if (G.verbose || G.stats || pushed || refused || G.nconns > 1 || G.nreqs > 1) {
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
    if (G.timeline && get_timeline_svg(G.timeline, G.frames, G.nframes, rec, nrec, now_s()) < 0)
        fail_with(GX_WRITE, "cannot write %s: %s", G.timeline, strerror(errno));
    if (G.har && get_har(G.har, rec, nrec, G.epoch0) < 0)
        fail_with(GX_WRITE, "cannot write %s: %s", G.har, strerror(errno));
    free(rec);
    for (int i = 0; i < G.nconns; i++) {
        gconn *gc = G.conns[i];
        if (gc->h2 && !gc->dead) {
            loom_goaway(gc->h2, LOOM_H2_NO_ERROR, 0, NULL);
            flush(gc);
        }
        gc->dead = 1; /* nothing more is submitted while it is freed */
        loom_conn_free(gc->h2);
        if (gc->ssl) {
            SSL_shutdown(gc->ssl);
            SSL_free(gc->ssl);
        }
        if (gc->cert) X509_free(gc->cert);
        close(gc->fd);
        free(gc);
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
        free(r->html);
        free(r);
    }
    free(G.reqs);
    free(G.frames);
    free(G.data);
    for (size_t i = 0; i < G.nextra; i++)
        free((void *)G.extra[i].name);
    SSL_CTX_free(G.tls);
    if (!G.exit_code && !G.nreqs) G.exit_code = GX_FAIL;
    if (G.exit_code) fprintf(stderr, "loom get: %s\n", G.exit_msg);
    return G.exit_code;
}
