/* loom bench --page: a page loaded the way a browser loads it, over each
 * protocol, through an emulated network link (relay.h), N times, and the
 * page-load times compared. HTTP/2's central claim, measured on a user's
 * own site: one connection per origin with every request interleaved
 * (h2), against HTTP/1.1 keep-alive with at most six connections per
 * origin (h1x6, the browsers' per-host limit) and with one (h1x1).
 *
 * A load: the page is requested; its stylesheets, scripts and images are
 * requested as the scanner finds them in the HTML as it arrives (a
 * browser's preload scanner); over HTTP/1.1 a request waits for an idle
 * connection of its origin and another connection opens while fewer than
 * the limit are open; over HTTP/2 every request goes at once (pushed
 * resources are taken instead of asked for). The load is over when the
 * last response has ended. Cold loads open new connections each time;
 * --warm keeps them from one load to the next. Everything runs on one
 * event loop; the relay runs on its own thread. */
#define _GNU_SOURCE
#include "pageload.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "../client.h"
#include "../loop.h"
#include "../tls.h"
#include "cli_util.h"
#include "links.h"
#include "loom/loom.h"
#include "relay.h"
#include "unzip.h"

enum {
    PX_OK = 0,
    PX_FAIL = 1, /* a resource failed in some load */
    PX_USAGE = 2,
    PX_URL = 3,
    PX_DNS = 6,
    PX_TLS = 35,
};

#define MAX_RES     4096
#define MAX_ORIGINS 32
#define MAX_CONNS   32 /* per origin: --h1-conns at most */
#define MAX_LOADS   1000
#define MAX_ERRORS  16        /* distinct error lines kept per mode */
#define MAX_HTML    (8 << 20) /* of the page scanned for subresources */

enum { M_H2, M_H1N, M_H1X1, NMODES };

typedef struct porigin porigin;

typedef struct {
    cl_conn *cl; /* NULL: the slot is free */
    porigin *o;
    int ready, busy, nsent, tls;
} pconn;

enum { RS_NONE, RS_QUEUED, RS_SENT, RS_DONE, RS_FAILED };

typedef struct pres {
    char url[2048];
    const char *path; /* inside url */
    porigin *o;
    int kind; /* link_kind, or -1 for the page */
    int same_origin;
    /* this load */
    cl_req cr;
    int state, pushed, status, retries;
    pconn *pc;
    uint64_t body, t_done;
    EVP_MD_CTX *md;
    struct pres *qnext; /* the origin's queue (HTTP/1.1) */
    /* the last load's body digest, per mode */
    uint8_t sha[NMODES][32];
    uint8_t have_sha[NMODES];
} pres;

struct porigin {
    char scheme[8], host[256], port[8], authority[300];
    struct sockaddr_storage addr; /* where connections go: the relay's listener */
    socklen_t addrlen;
    char bad[300]; /* why it cannot be reached (resolution, relay), or "" */
    char why[300]; /* why its last connection ended, when it failed */
    int connect_failed;
    pconn conns[MAX_CONNS];
    pres *qhead, *qtail;
};

typedef struct {
    double plt_ms, ttfb_ms;
    uint64_t conns, tls, req_hdr, resp_hdr, req_first, req_first_n, req_rest, req_rest_n, body,
        requests, pushed, failed;
} loadrec;

static struct {
    /* options */
    const char *url;
    int loads, warm, no_push, h1conns, list, no_relay, compressed;
    int want[NMODES];
    double rtt, rate, loss, timeout;
    uint64_t seed;
    const char *json;
    /* the run */
    loop *l;
    relay *rl;
    SSL_CTX *tls_h2, *tls_h1;
    porigin *origins[MAX_ORIGINS];
    int norigins;
    pres *res[MAX_RES];
    int nres, res_dropped;
    char *html;
    size_t html_len, html_pos;
    unzip *page_uz; /* --compressed: the page's decoder, for the scanner */
    int html_ok, not_html;
    char ctype[128];
    int mode, load, pending, live, over, closing;
    uint64_t t0, timer;
    loadrec rec[NMODES][MAX_LOADS];
    char errors[NMODES][MAX_ERRORS][400];
    int nerrors[NMODES], more_errors[NMODES];
    char mode_name[NMODES][16];
    loom_hpack_field fields_page[4], fields_sub[4][5];
    size_t nfields_page, nfields_sub;
    char referer[2100];
    int exit_code;
} P;

static uint64_t now_us(void)
{
    return cl_now_us();
}

static int is_h2(void)
{
    return P.mode == M_H2;
}

static int conn_limit(void)
{
    return P.mode == M_H2 ? 1 : P.mode == M_H1N ? P.h1conns : 1;
}

static void note_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note_error(const char *fmt, ...)
{
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    for (int i = 0; i < P.nerrors[P.mode]; i++)
        if (!strcmp(P.errors[P.mode][i], line)) return;
    if (P.nerrors[P.mode] == MAX_ERRORS) {
        P.more_errors[P.mode] = 1;
        return;
    }
    snprintf(P.errors[P.mode][P.nerrors[P.mode]++], 400, "%s", line);
}

/* ---- URLs and origins ---- */

static porigin *origin_of(const char *scheme, const char *host, const char *port,
                          const char *authority)
{
    for (int i = 0; i < P.norigins; i++) {
        porigin *o = P.origins[i];
        if (!strcmp(o->scheme, scheme) && !strcasecmp(o->host, host) && !strcmp(o->port, port))
            return o;
    }
    if (P.norigins == MAX_ORIGINS) return NULL;
    porigin *o = calloc(1, sizeof(*o));
    if (!o) return NULL;
    snprintf(o->scheme, sizeof(o->scheme), "%s", scheme);
    snprintf(o->host, sizeof(o->host), "%s", host);
    snprintf(o->port, sizeof(o->port), "%s", port);
    snprintf(o->authority, sizeof(o->authority), "%s", authority);
    P.origins[P.norigins++] = o;
    /* resolved once, for every load; then the relay's listener for it */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int g = getaddrinfo(host, port, &hints, &ai);
    if (g) {
        snprintf(o->bad, sizeof(o->bad), "cannot resolve %s: %s", host, gai_strerror(g));
        return o;
    }
    if (P.rl) {
        if (relay_add(P.rl, ai->ai_addr, ai->ai_addrlen, &o->addr, &o->addrlen) < 0)
            snprintf(o->bad, sizeof(o->bad), "the relay cannot listen for %.200s: %s", authority,
                     strerror(errno));
    } else {
        memcpy(&o->addr, ai->ai_addr, ai->ai_addrlen);
        o->addrlen = ai->ai_addrlen;
    }
    freeaddrinfo(ai);
    return o;
}

/* The resource at url (absolute), found or added; NULL when the table is full. */
static pres *res_of(const char *given, int kind)
{
    char scheme[8], host[256], port[8], authority[300], url[2048];
    const char *path;
    if (cli_url_split(given, scheme, host, port, authority, &path) < 0) return NULL;
    /* "https://host" and "https://host?q" ask for "/" and "/?q" */
    size_t pre = (size_t)(path - given);
    if ((size_t)snprintf(url, sizeof(url), "%.*s%s%s", (int)pre, given, *path == '/' ? "" : "/",
                         path) >= sizeof(url))
        return NULL;
    for (int i = 0; i < P.nres; i++)
        if (!strcmp(P.res[i]->url, url)) return P.res[i];
    if (P.nres == MAX_RES) {
        P.res_dropped = 1;
        return NULL;
    }
    pres *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    memcpy(r->url, url, sizeof(url));
    r->path = r->url + pre;
    r->kind = kind;
    r->o = origin_of(scheme, host, port, authority);
    if (!r->o) {
        free(r);
        return NULL;
    }
    r->same_origin = !P.nres || r->o == P.res[0]->o;
    P.res[P.nres++] = r;
    return r;
}

/* ---- connections ---- */

static void load_over(void);
static void enqueue(pres *r);
static void dispatch(porigin *o);
static void maybe_next(void);

static const cl_req_cb req_cb;
static void fail_res(pres *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The first request waiting for one of o's HTTP/1.1 connections, taken. */
static pres *dequeue(porigin *o)
{
    pres *r = o->qhead;
    if (r && !(o->qhead = r->qnext)) o->qtail = NULL;
    return r;
}

static void dispatch_fired(loop *l, void *user)
{
    (void)l;
    dispatch(user);
}

static void conn_ready(cl_conn *c)
{
    pconn *pc = cl_user(c);
    pc->ready = 1;
    pc->tls = cl_time_tls(c) >= 0;
    if (pc->tls) P.rec[P.mode][P.load].tls++;
    if (!is_h2()) dispatch(pc->o);
}

static int conn_event(cl_conn *c, const loom_event *ev)
{
    pconn *pc = cl_user(c);
    if (ev->type != LOOM_EV_PUSH_PROMISE) return 0;
    const char *path = "/", *auth = pc->o->authority;
    int pl = 1, al = (int)strlen(auth);
    for (size_t i = 0; i < ev->u.push.n; i++) {
        const loom_hpack_field *f = &ev->u.push.fields[i];
        if (f->name_len == 5 && !memcmp(f->name, ":path", 5))
            path = (const char *)f->value, pl = (int)f->value_len;
        if (f->name_len == 10 && !memcmp(f->name, ":authority", 10))
            auth = (const char *)f->value, al = (int)f->value_len;
    }
    char url[2048];
    snprintf(url, sizeof(url), "%s://%.*s%.*s", pc->o->scheme, al, auth, pl, path);
    pres *r = P.over ? NULL : res_of(url, LINK_OTHER);
    /* a browser takes a push for what it has not asked for yet; what it
     * asked for (or has) it refuses with RST_STREAM CANCEL (RFC 9113 §8.4.2) */
    if (!r || r->state != RS_NONE) {
        cl_push_accept(c, ev->u.push.promised_id, NULL);
        return 0;
    }
    memset(&r->cr, 0, sizeof(r->cr));
    r->cr.cb = &req_cb;
    r->cr.user = r;
    r->state = RS_SENT;
    r->pushed = 1;
    r->pc = pc;
    P.pending++;
    P.rec[P.mode][P.load].pushed++;
    cl_push_accept(c, ev->u.push.promised_id, &r->cr);
    return 0;
}

static void conn_closed(cl_conn *c, cl_error_kind err, const char *why)
{
    pconn *pc = cl_user(c);
    porigin *o = pc->o;
    if (err != CLE_NONE) {
        snprintf(o->why, sizeof(o->why), "%s", why && *why ? why : "the connection failed");
        if (!pc->ready) o->connect_failed = 1;
    }
    int never_up = !pc->ready && err != CLE_NONE;
    memset(pc, 0, sizeof(*pc));
    P.live--;
    /* a connection that could not be made: what waits for one fails (as
     * in a browser), rather than connections being tried again and again */
    while (never_up && !P.over && o->qhead)
        fail_res(dequeue(o), "%s", o->why);
    /* its requests' done() follow; then what waits may need a connection */
    if (!P.over && !is_h2() && o->qhead) loop_timer(P.l, 0, dispatch_fired, o);
    maybe_next();
}

static const cl_conn_cb conn_cb = {
    .ready = conn_ready,
    .event = conn_event,
    .closed = conn_closed,
};

static pconn *open_conn(porigin *o)
{
    pconn *pc = NULL;
    for (int i = 0; i < MAX_CONNS && !pc; i++)
        if (!o->conns[i].cl) pc = &o->conns[i];
    if (!pc) return NULL;
    int https = !strcmp(o->scheme, "https");
    cl_opts opt = {0};
    opt.mode = https ? CL_TLS : is_h2() ? CL_H2C : CL_H1;
    opt.tls = is_h2() ? P.tls_h2 : P.tls_h1;
    opt.allow_h1 = !is_h2();
    opt.verify = 0; /* a benchmark of the user's own site, like loom bench */
    opt.addr = (const struct sockaddr *)&o->addr;
    opt.addrlen = o->addrlen;
    loom_config_default(&opt.h2, LOOM_CLIENT);
    opt.h2.enable_push = !P.no_push;
    /* Chromium's windows: 6 MiB per stream, 15 MiB for the connection */
    opt.h2.initial_window_size = 6u << 20;
    opt.h2.connection_window = 15u << 20;
    pc->o = o;
    pc->cl = cl_connect(P.l, o->host, o->port, &opt, &conn_cb, pc);
    if (!pc->cl) return NULL;
    P.live++;
    P.rec[P.mode][P.load].conns++;
    return pc;
}

static void submit(pconn *pc, pres *r)
{
    memset(&r->cr, 0, sizeof(r->cr));
    r->cr.method = "GET";
    r->cr.scheme = r->o->scheme;
    r->cr.authority = r->o->authority;
    r->cr.path = r->path;
    if (r->kind < 0) {
        r->cr.fields = P.fields_page;
        r->cr.nfields = P.nfields_page;
    } else {
        r->cr.fields = P.fields_sub[r->kind];
        r->cr.nfields = P.nfields_sub;
    }
    r->cr.urgency = -1;
    r->cr.cb = &req_cb;
    r->cr.user = r;
    r->state = RS_SENT;
    r->pc = pc;
    pc->busy = 1;
    cl_submit(pc->cl, &r->cr);
}

/* HTTP/1.1: requests wait for an idle connection of their origin; another
 * opens while more wait than are being opened, up to the limit. */
static void dispatch(porigin *o)
{
    if (P.over) return;
    int opening = 0, open = 0;
    for (int i = 0; i < MAX_CONNS; i++) {
        pconn *pc = &o->conns[i];
        if (!pc->cl) continue;
        open++;
        if (!pc->ready) {
            opening++;
            continue;
        }
        /* not one closing after its response (Connection: close) */
        if (!pc->busy && o->qhead && cl_reusable(pc->cl)) submit(pc, dequeue(o));
    }
    int waiting = 0;
    for (pres *r = o->qhead; r; r = r->qnext)
        waiting++;
    while (waiting > opening && open < conn_limit()) {
        if (!open_conn(o)) break;
        opening++;
        open++;
    }
}

static void enqueue(pres *r)
{
    porigin *o = r->o;
    if (r->state == RS_NONE) P.pending++;
    r->state = RS_QUEUED;
    if (o->bad[0]) {
        fail_res(r, "%s", o->bad);
        return;
    }
    if (is_h2()) {
        pconn *pc = NULL;
        for (int i = 0; i < MAX_CONNS && !pc; i++)
            if (o->conns[i].cl && cl_accepting(o->conns[i].cl)) pc = &o->conns[i];
        if (!pc) pc = open_conn(o);
        if (!pc) {
            fail_res(r, "cannot open a connection to %s", o->authority);
            return;
        }
        submit(pc, r);
        return;
    }
    r->qnext = NULL;
    if (o->qtail)
        o->qtail->qnext = r;
    else
        o->qhead = r;
    o->qtail = r;
    dispatch(o);
}

/* ---- responses ---- */

static void found(void *user, const char *ref, size_t n, link_kind kind)
{
    (void)user;
    pres *page = P.res[0];
    char url[2048];
    if (links_resolve(page->o->scheme, page->o->authority, page->path, ref, n, 1, url,
                      sizeof(url)) < 0)
        return;
    char scheme[8], host[256], port[8], authority[300];
    const char *path;
    if (cli_url_split(url, scheme, host, port, authority, &path) < 0) return; /* data:, mailto: */
    pres *r = res_of(url, (int)kind);
    if (r && r->kind == LINK_OTHER) r->kind = (int)kind; /* first seen as a push */
    if (r && r->state == RS_NONE) enqueue(r);
}

static void on_head(cl_req *cr, int status, const loom_hpack_field *f, size_t n, int info)
{
    pres *r = cr->user;
    if (info) return;
    r->status = status;
    if (r == P.res[0]) {
        P.rec[P.mode][P.load].ttfb_ms = (double)(now_us() - P.t0) / 1000.0;
        P.ctype[0] = 0;
        for (size_t i = 0; i < n; i++)
            if (f[i].name_len == 12 && !strncasecmp((const char *)f[i].name, "content-type", 12))
                snprintf(P.ctype, sizeof(P.ctype), "%.*s", (int)f[i].value_len,
                         (const char *)f[i].value);
        unzip_free(P.page_uz);
        P.page_uz = NULL;
        for (size_t i = 0; i < n; i++)
            if (f[i].name_len == 16 &&
                !strncasecmp((const char *)f[i].name, "content-encoding", 16)) {
                int unknown;
                P.page_uz = unzip_new((const char *)f[i].value, f[i].value_len, &unknown);
                if (unknown)
                    note_error("%s: the page's content coding '%.*s' is not one loom decodes",
                               r->url, (int)f[i].value_len, (const char *)f[i].value);
            }
        P.html_ok = status >= 200 && status < 300 && !strncasecmp(P.ctype, "text/html", 9);
        P.not_html = status >= 200 && status < 300 && !P.html_ok;
        P.html_len = P.html_pos = 0;
    }
    if (!r->md && (r->md = EVP_MD_CTX_new())) EVP_DigestInit_ex(r->md, EVP_sha256(), NULL);
}

/* The page's octets (decoded), to the scanner as they come. */
static void html_in(void *user, const uint8_t *p, size_t n)
{
    pres *r = user;
    if (!P.html_ok) return;
    if (P.html_len + n > MAX_HTML) {
        note_error("%s: the page is longer than %d MiB: only its start is scanned", r->url,
                   MAX_HTML >> 20);
        P.html_ok = 0;
        return;
    }
    memcpy(P.html + P.html_len, p, n);
    P.html_len += n;
    links_scan(P.html, P.html_len, &P.html_pos, 0, found, NULL);
}

static void on_data(cl_req *cr, const uint8_t *p, size_t n)
{
    pres *r = cr->user;
    r->body += n;
    if (r->md) EVP_DigestUpdate(r->md, p, n);
    if (r != P.res[0] || !P.html_ok || P.over) return;
    const char *why;
    if (!P.page_uz) {
        html_in(r, p, n);
    } else if (unzip_feed(P.page_uz, p, n, html_in, r, &why) < 0) {
        note_error("%s: the page does not decode: %s", r->url, why);
        P.html_ok = 0;
    }
}

static void res_finished(pres *r)
{
    loadrec *lr = &P.rec[P.mode][P.load];
    r->t_done = now_us();
    if (r->md) {
        unsigned int len = 32;
        EVP_DigestFinal_ex(r->md, r->sha[P.mode], &len);
        r->have_sha[P.mode] = r->state == RS_DONE;
        EVP_MD_CTX_free(r->md);
        r->md = NULL;
    }
    if (r->state == RS_FAILED) lr->failed++;
    P.pending--;
    if (!P.pending) load_over();
}

static void fail_res(pres *r, const char *fmt, ...)
{
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    note_error("GET %s: %s", r->url, why);
    r->state = RS_FAILED;
    res_finished(r);
}

static void on_done(cl_req *cr, int outcome)
{
    pres *r = cr->user;
    pconn *pc = r->pc;
    loadrec *lr = &P.rec[P.mode][P.load];
    porigin *o = r->o;
    if (pc && pc->cl == cr->conn) pc->busy = 0;
    if (outcome == CL_DONE_RETRY && !P.over && !o->connect_failed && r->retries++ < 2) {
        /* never processed (a kept-alive connection closing, REFUSED_STREAM) */
        r->state = RS_NONE;
        P.pending--;
        enqueue(r);
        return;
    }
    if (!r->pushed) {
        lr->requests++;
        lr->req_hdr += cr->req_head_wire;
        if (cr->req_head_wire) {
            if (pc && pc->cl == cr->conn && pc->nsent++ > 0) {
                lr->req_rest += cr->req_head_wire;
                lr->req_rest_n++;
            } else {
                lr->req_first += cr->req_head_wire;
                lr->req_first_n++;
            }
        }
    }
    lr->resp_hdr += cr->resp_head_wire;
    lr->body += r->body;
    if (r == P.res[0] && outcome == CL_DONE_OK && P.html_ok) {
        links_scan(P.html, P.html_len, &P.html_pos, 1, found, NULL);
        if (P.res_dropped)
            note_error("%s: more than %d resources: the rest are not loaded", r->url, MAX_RES);
    }
    if (r == P.res[0] && r->status >= 300 && r->status < 400)
        note_error("%s: the page answers %d (a redirect): give the URL it leads to", r->url,
                   r->status);
    if (r == P.res[0] && P.not_html)
        note_error("%s: not an HTML page (content-type '%s'): no subresources to load", r->url,
                   P.ctype);
    if (outcome != CL_DONE_OK) {
        if (P.over)
            fail_res(r, "not done when the load timed out (%g s)", P.timeout);
        else if (cr->h2_code && pc && pc->cl == cr->conn) /* the stream, not the connection */
            fail_res(r, "the server reset the stream (%s)", loom_h2_code_name(cr->h2_code));
        else
            fail_res(r, "%s", o->why[0] ? o->why : "the connection failed");
    } else if (r->status < 200 || r->status >= 400) {
        fail_res(r, "%d", r->status);
    } else {
        r->state = RS_DONE;
        res_finished(r);
    }
    if (!P.over && !is_h2() && o->qhead) dispatch(o);
}

static const cl_req_cb req_cb = {
    .head = on_head,
    .data = on_data,
    .done = on_done,
};

/* ---- loads ---- */

static void start_load(void);

static void close_all(void)
{
    P.closing = 1;
    for (int i = 0; i < P.norigins; i++)
        for (int k = 0; k < MAX_CONNS; k++)
            if (P.origins[i]->conns[k].cl)
                cl_abort(P.origins[i]->conns[k].cl, CLE_NONE, "the load is over");
}

static void next_fired(loop *l, void *user)
{
    (void)l;
    (void)user;
    P.closing = 0;
    if (++P.load == P.loads || P.list) {
        P.load = 0;
        do
            P.mode++;
        while (P.mode < NMODES && !P.want[P.mode]);
        if (P.mode == NMODES || P.list) {
            loop_stop(P.l);
            return;
        }
    }
    start_load();
}

/* The next load once the connections to close are closed. */
static void maybe_next(void)
{
    if (P.closing && !P.live) {
        P.closing = 0;
        loop_timer(P.l, 0, next_fired, NULL);
    }
}

static void timed_out(loop *l, void *user)
{
    (void)l;
    (void)user;
    P.timer = 0;
    P.over = 1;
    for (int i = 0; i < P.nres; i++) {
        pres *r = P.res[i];
        if (r->state == RS_QUEUED)
            fail_res(r, "not sent when the load timed out (%g s)", P.timeout);
    }
    close_all(); /* what is in flight fails as its connection closes */
    maybe_next();
}

static void load_over(void)
{
    loadrec *lr = &P.rec[P.mode][P.load];
    uint64_t last = 0;
    for (int i = 0; i < P.nres; i++)
        if (P.res[i]->state == RS_DONE || P.res[i]->state == RS_FAILED)
            if (P.res[i]->t_done > last) last = P.res[i]->t_done;
    lr->plt_ms = (double)(last - P.t0) / 1000.0;
    if (P.timer) loop_timer_cancel(P.l, P.timer);
    P.timer = 0;
    if (P.over) return; /* timed_out() closes */
    P.over = 1;
    int last_of_mode = P.load + 1 == P.loads;
    if (P.warm && !last_of_mode) {
        loop_timer(P.l, 0, next_fired, NULL);
        return;
    }
    close_all();
    maybe_next();
}

static void start_load(void)
{
    memset(&P.rec[P.mode][P.load], 0, sizeof(loadrec));
    for (int i = 0; i < P.nres; i++) {
        pres *r = P.res[i];
        r->state = RS_NONE;
        r->pushed = r->status = r->retries = 0;
        r->body = r->t_done = 0;
        r->pc = NULL;
        r->qnext = NULL;
    }
    for (int i = 0; i < P.norigins; i++) {
        porigin *o = P.origins[i];
        o->qhead = o->qtail = NULL;
        o->why[0] = 0;
        o->connect_failed = 0; /* (warm: a kept connection's requests count as later ones) */
    }
    P.over = 0;
    P.pending = 0;
    P.html_len = P.html_pos = 0;
    P.t0 = now_us();
    P.timer = loop_timer(P.l, (uint64_t)(P.timeout * 1000), timed_out, NULL);
    enqueue(P.res[0]);
}

/* ---- the report ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double median, p90, min, max;
} spread;

static spread spread_of(int mode, size_t off)
{
    double v[MAX_LOADS];
    int n = P.loads;
    for (int i = 0; i < n; i++)
        v[i] = *(const double *)((const char *)&P.rec[mode][i] + off);
    qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
    spread s = {0, 0, 0, 0};
    if (!n) return s;
    s.min = v[0];
    s.max = v[n - 1];
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    /* the nearest-rank 90th percentile */
    int k = (int)ceil(0.9 * n) - 1;
    s.p90 = v[k < 0 ? 0 : k];
    return s;
}

/* The median over the loads of a count. */
static double median_u(int mode, size_t off)
{
    double v[MAX_LOADS];
    int n = P.loads;
    for (int i = 0; i < n; i++)
        v[i] = (double)*(const uint64_t *)((const char *)&P.rec[mode][i] + off);
    qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MED(m, f) median_u(m, offsetof(loadrec, f))

/* The median over the loads of the request header octets per request:
 * of the first request on each connection, or of the later ones. */
static double head_avg(int m, int later)
{
    double v[MAX_LOADS];
    for (int i = 0; i < P.loads; i++) {
        const loadrec *lr = &P.rec[m][i];
        uint64_t sum = later ? lr->req_rest : lr->req_first,
                 n = later ? lr->req_rest_n : lr->req_first_n;
        v[i] = n ? (double)sum / (double)n : 0;
    }
    qsort(v, (size_t)P.loads, sizeof(v[0]), cmp_double);
    return P.loads % 2 ? v[P.loads / 2] : (v[P.loads / 2 - 1] + v[P.loads / 2]) / 2;
}

static void fmt_bytes(char *b, size_t n, double v)
{
    if (v >= 1e6)
        snprintf(b, n, "%.2f MB", v / 1e6);
    else if (v >= 1e4)
        snprintf(b, n, "%.1f KB", v / 1e3);
    else
        snprintf(b, n, "%.0f B", v);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_spread(FILE *f, const char *name, spread s)
{
    fprintf(f, "\"%s\": {\"median\": %.3f, \"p90\": %.3f, \"min\": %.3f, \"max\": %.3f}", name,
            s.median, s.p90, s.min, s.max);
}

static int write_json(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "{\"url\": ");
    json_str(f, P.url);
    fprintf(f,
            ", \"rtt_ms\": %g, \"rate_mbit\": %g, \"loss_pct\": %g, \"relay\": %s, \"warm\": %s, "
            "\"push\": %s, \"compressed\": %s, \"h1_conns\": %d, \"loads\": %d,\n \"resources\": [",
            P.rtt, P.rate, P.loss, P.rl ? "true" : "false", P.warm ? "true" : "false",
            P.no_push ? "false" : "true", P.compressed ? "true" : "false", P.h1conns, P.loads);
    for (int i = 1; i < P.nres; i++) {
        pres *r = P.res[i];
        static const char *const kinds[] = {"style", "script", "image", "other"};
        fprintf(f, "%s\n  {\"url\": ", i > 1 ? "," : "");
        json_str(f, r->url);
        fprintf(f, ", \"same_origin\": %s, \"kind\": \"%s\", \"sha256\": {",
                r->same_origin ? "true" : "false", r->kind >= 0 ? kinds[r->kind] : "page");
        int first = 1;
        for (int m = 0; m < NMODES; m++) {
            if (!P.want[m] || !r->have_sha[m]) continue;
            fprintf(f, "%s\"%s\": \"", first ? "" : ", ", P.mode_name[m]);
            for (int k = 0; k < 32; k++)
                fprintf(f, "%02x", r->sha[m][k]);
            fputc('"', f);
            first = 0;
        }
        fprintf(f, "}}");
    }
    fprintf(f, "],\n \"modes\": {");
    int first = 1;
    for (int m = 0; m < NMODES; m++) {
        if (!P.want[m]) continue;
        fprintf(f, "%s\n  \"%s\": {", first ? "" : ",", P.mode_name[m]);
        first = 0;
        json_spread(f, "plt_ms", spread_of(m, offsetof(loadrec, plt_ms)));
        fprintf(f, ", ");
        json_spread(f, "ttfb_ms", spread_of(m, offsetof(loadrec, ttfb_ms)));
        fprintf(f,
                ",\n   \"conns\": %g, \"tls_handshakes\": %g, \"req_header_octets\": %g, "
                "\"resp_header_octets\": %g, \"req_header_first\": %.1f, "
                "\"req_header_rest_avg\": %.1f, \"body_octets\": %g, \"requests\": %g, "
                "\"pushed\": %g, \"failed\": %g,\n   \"plt_each_ms\": [",
                MED(m, conns), MED(m, tls), MED(m, req_hdr), MED(m, resp_hdr), head_avg(m, 0),
                head_avg(m, 1), MED(m, body), MED(m, requests), MED(m, pushed), MED(m, failed));
        for (int i = 0; i < P.loads; i++)
            fprintf(f, "%s%.3f", i ? ", " : "", P.rec[m][i].plt_ms);
        fprintf(f, "], \"errors\": [");
        for (int i = 0; i < P.nerrors[m]; i++) {
            if (i) fprintf(f, ", ");
            json_str(f, P.errors[m][i]);
        }
        fprintf(f, "]}");
    }
    fprintf(f, "}}\n");
    return fclose(f) ? -1 : 0;
}

static void report(void)
{
    int nsame = 0;
    for (int i = 1; i < P.nres; i++)
        nsame += P.res[i]->same_origin;
    int first = 0;
    while (first < NMODES && !P.want[first])
        first++;
    char b[64];
    fmt_bytes(b, sizeof(b), MED(first, body));
    printf("page %s: %d subresources (%d same-origin, %d from %d other origins), %s of bodies\n",
           P.url, P.nres - 1, nsame, P.nres - 1 - nsame, P.norigins - 1, b);
    if (P.rl) {
        char rate[64] = "no rate limit";
        if (P.rate > 0) snprintf(rate, sizeof(rate), "%g Mbit/s each way", P.rate);
        printf("link: rtt %g ms, %s, loss %g %% (emulated in user space: a relay, TCP slow "
               "start modelled)\n",
               P.rtt, rate, P.loss);
    } else {
        printf("link: loopback, no relay\n");
    }
    printf("%s connections, %d load%s per mode%s\n\n", P.warm ? "warm" : "cold", P.loads,
           P.loads == 1 ? "" : "s", P.no_push ? ", push refused (SETTINGS_ENABLE_PUSH 0)" : "");
    printf("%-6s %21s %9s %6s %4s %9s %14s %10s %10s %6s %6s\n", "mode", "page load med / p90",
           "1st byte", "conns", "TLS", "requests", "req hdr 1st/nx", "resp hdrs", "bodies",
           "pushed", "failed");
    for (int m = 0; m < NMODES; m++) {
        if (!P.want[m]) continue;
        spread plt = spread_of(m, offsetof(loadrec, plt_ms));
        spread tt = spread_of(m, offsetof(loadrec, ttfb_ms));
        char pl[40], rh[40], rs[32], bo[32];
        snprintf(pl, sizeof(pl), "%.1f / %.1f ms", plt.median, plt.p90);
        snprintf(rh, sizeof(rh), "%.0f / %.0f B", head_avg(m, 0), head_avg(m, 1));
        fmt_bytes(rs, sizeof(rs), MED(m, resp_hdr));
        fmt_bytes(bo, sizeof(bo), MED(m, body));
        printf("%-6s %21s %6.1f ms %6g %4g %9g %14s %10s %10s %6g %6g\n", P.mode_name[m], pl,
               tt.median, MED(m, conns), MED(m, tls), MED(m, requests), rh, rs, bo, MED(m, pushed),
               MED(m, failed));
    }
    for (int m = 0; m < NMODES; m++)
        for (int i = 0; i < P.nerrors[m]; i++)
            printf("%s: %s%s\n", P.mode_name[m], P.errors[m][i],
                   i + 1 == P.nerrors[m] && P.more_errors[m] ? " (and more)" : "");
    printf("summary:");
    if (P.want[M_H2]) {
        double h2 = spread_of(M_H2, offsetof(loadrec, plt_ms)).median;
        for (int m = M_H1N; m < NMODES; m++)
            if (P.want[m])
                printf(" h2_vs_%s=%.3f", P.mode_name[m],
                       h2 / fmax(spread_of(m, offsetof(loadrec, plt_ms)).median, 1e-9));
    }
    for (int m = 0; m < NMODES; m++)
        if (P.want[m])
            printf(" plt_ms_%s=%.1f", P.mode_name[m],
                   spread_of(m, offsetof(loadrec, plt_ms)).median);
    printf("\n");
}

/* ---- options ---- */

static const char usage[] =
    "usage: loom bench --page URL [options]\n"
    "\n"
    "Loads a page the way a browser does: the page, then the stylesheets,\n"
    "scripts and images its HTML names (as the HTML arrives), same-origin and\n"
    "other origins, in each mode, N times, through an emulated network link,\n"
    "and compares the page-load times. Modes:\n"
    "  h2     one connection per origin, every request at once (push taken)\n"
    "  h1x6   HTTP/1.1 keep-alive, at most 6 connections per origin (--h1-conns)\n"
    "  h1x1   HTTP/1.1 keep-alive, one connection per origin\n"
    "\n"
    "options:\n"
    "  -n, --loads N       loads per mode (3)\n"
    "  --modes LIST        of h2,h1x6,h1x1 (all three)\n"
    "  --warm              keep connections from one load to the next (the first\n"
    "                      load of each mode opens them)\n"
    "  --no-push           refuse server push (SETTINGS_ENABLE_PUSH 0)\n"
    "  --compressed        ask for gzip, deflate or br (accept-encoding), as browsers\n"
    "                      do; bodies are counted (and hashed) as they come\n"
    "  --h1-conns N        connections per origin of the h1xN mode (6; 1..32)\n"
    "  --rtt MS            round-trip time the link adds (0)\n"
    "  --rate MBIT         the link's rate each way, in Mbit/s, shared by every\n"
    "                      connection (0: unlimited)\n"
    "  --loss PCT          segments lost, as the delay of a retransmission (0)\n"
    "  --seed N            for the loss draws\n"
    "  --no-relay          connect directly (no emulated link)\n"
    "  --timeout S         a load that takes longer fails (60)\n"
    "  --json FILE         the results as JSON\n"
    "  --list              load the page once (h2) and print what it names\n"
    "\n"
    "The link is a relay in user space (this kernel has no netem): each\n"
    "direction delayed by half the RTT and shaped to the rate, TCP's slow\n"
    "start modelled per connection (loom relay --help). Certificates are not\n"
    "verified. Requests carry a browser's fields (user-agent, accept,\n"
    "accept-language, referer) and, unless --compressed, no accept-encoding:\n"
    "every mode moves the same octets, and bodies can be checked.\n"
    "\n"
    "Exit status: 0 every resource of every load fetched; 1 some failed, or the\n"
    "page was not HTML (each problem is listed); 2 usage; 3 bad URL; 6 the page's\n"
    "host does not resolve; 35 TLS.\n";

static void set_fields(void)
{
#define F(n, v)                                                                                    \
    ((loom_hpack_field){(const uint8_t *)(n), sizeof(n) - 1, (const uint8_t *)(v), strlen(v), 0})
    static const char ua[] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
                             "Gecko) loom-bench/" LOOM_VERSION_STRING " page-load";
    static const char lang[] = "en-US,en;q=0.9";
    static const char *const accept[] = {
        "text/css,*/*;q=0.1",
        "*/*",
        "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
        "*/*",
    };
    P.fields_page[0] = F("user-agent", ua);
    P.fields_page[1] =
        F("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
    P.fields_page[2] = F("accept-language", lang);
    snprintf(P.referer, sizeof(P.referer), "%s", P.url);
    for (int k = 0; k < 4; k++) {
        P.fields_sub[k][0] = F("user-agent", ua);
        P.fields_sub[k][1] = F("accept", accept[k]);
        P.fields_sub[k][2] = F("accept-language", lang);
        P.fields_sub[k][3] = F("referer", P.referer);
        P.fields_sub[k][4] = F("accept-encoding", "gzip, deflate, br");
    }
    P.fields_page[3] = F("accept-encoding", "gzip, deflate, br");
    P.nfields_page = P.compressed ? 4 : 3;
    P.nfields_sub = P.compressed ? 5 : 4;
#undef F
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void check_interrupt(loop *l, void *user)
{
    (void)user;
    if (interrupted) {
        fprintf(stderr, "loom bench: interrupted\n");
        exit(130);
    }
    loop_timer(l, 100, check_interrupt, NULL);
}

int pageload_main(int argc, char **argv)
{
    memset(&P, 0, sizeof(P));
    P.loads = 3;
    P.h1conns = 6;
    P.timeout = 60;
    P.want[M_H2] = P.want[M_H1N] = P.want[M_H1X1] = 1;
    signal(SIGPIPE, SIG_IGN);
    double d;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return PX_OK;
        }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return PX_OK;
        } else if (!strcmp(a, "--page")) {
            if (!v) {
                fprintf(stderr, "loom bench: --page needs a URL\n");
                return PX_USAGE;
            }
            P.url = v;
            i++;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--loads")) {
            if (cli_number("loom bench", a, v, 1, MAX_LOADS, &d) < 0 || d != floor(d))
                return PX_USAGE;
            P.loads = (int)d;
            i++;
        } else if (!strcmp(a, "--h1-conns")) {
            if (cli_number("loom bench", a, v, 1, MAX_CONNS, &d) < 0 || d != floor(d))
                return PX_USAGE;
            P.h1conns = (int)d;
            i++;
        } else if (!strcmp(a, "--rtt")) {
            if (cli_number("loom bench", a, v, 0, 10000, &P.rtt) < 0) return PX_USAGE;
            i++;
        } else if (!strcmp(a, "--rate")) {
            if (cli_number("loom bench", a, v, 0, 100000, &P.rate) < 0) return PX_USAGE;
            i++;
        } else if (!strcmp(a, "--loss")) {
            if (cli_number("loom bench", a, v, 0, 50, &P.loss) < 0) return PX_USAGE;
            i++;
        } else if (!strcmp(a, "--seed")) {
            if (cli_number("loom bench", a, v, 0, 1e18, &d) < 0) return PX_USAGE;
            P.seed = (uint64_t)d;
            i++;
        } else if (!strcmp(a, "--timeout")) {
            if (cli_number("loom bench", a, v, 0.1, 3600, &P.timeout) < 0) return PX_USAGE;
            i++;
        } else if (!strcmp(a, "--json")) {
            if (!v) {
                fprintf(stderr, "loom bench: --json needs a file name\n");
                return PX_USAGE;
            }
            P.json = v;
            i++;
        } else if (!strcmp(a, "--modes")) {
            if (!v) {
                fprintf(stderr, "loom bench: --modes needs a list of h2,h1x6,h1x1\n");
                return PX_USAGE;
            }
            memset(P.want, 0, sizeof(P.want));
            char list[256];
            snprintf(list, sizeof(list), "%s", v);
            for (char *s = strtok(list, ","); s; s = strtok(NULL, ",")) {
                if (!strcmp(s, "h2"))
                    P.want[M_H2] = 1;
                else if (!strcmp(s, "h1x1"))
                    P.want[M_H1X1] = 1;
                else if (!strncmp(s, "h1x", 3))
                    P.want[M_H1N] = 1;
                else {
                    fprintf(stderr, "loom bench: --modes: '%s' is not h2, h1x6 or h1x1\n", s);
                    return PX_USAGE;
                }
            }
            i++;
        } else if (!strcmp(a, "--warm")) {
            P.warm = 1;
        } else if (!strcmp(a, "--no-push")) {
            P.no_push = 1;
        } else if (!strcmp(a, "--compressed")) {
            P.compressed = 1;
        } else if (!strcmp(a, "--no-relay")) {
            P.no_relay = 1;
        } else if (!strcmp(a, "--list")) {
            P.list = 1;
        } else {
            fprintf(stderr, "loom bench: --page: unknown option '%s' (loom bench --page --help)\n",
                    a);
            return PX_USAGE;
        }
    }
    if (!P.url) {
        fprintf(stderr, "loom bench: --page needs a URL\n");
        return PX_USAGE;
    }
    if (P.no_relay && (P.rtt > 0 || P.rate > 0 || P.loss > 0)) {
        fprintf(stderr, "loom bench: --rtt, --rate and --loss need the relay (not --no-relay)\n");
        return PX_USAGE;
    }
    snprintf(P.mode_name[M_H2], 16, "h2");
    snprintf(P.mode_name[M_H1N], 16, "h1x%d", P.h1conns);
    snprintf(P.mode_name[M_H1X1], 16, "h1x1");
    if (P.h1conns == 1 && P.want[M_H1N] && P.want[M_H1X1]) P.want[M_H1N] = 0;
    if (P.list) {
        P.no_push = 1; /* what the HTML names, not what the server pushes */
        memset(P.want, 0, sizeof(P.want));
        P.want[M_H2] = 1;
        P.loads = 1;
    }
    char scheme[8], host[256], port[8], authority[300];
    const char *path;
    if (cli_url_split(P.url, scheme, host, port, authority, &path) < 0) {
        fprintf(stderr, "loom bench: %s: not an http:// or https:// URL\n", P.url);
        return PX_URL;
    }
    char err[300];
    P.tls_h2 = tls_client_ctx(0, NULL, 0, err, sizeof(err));
    P.tls_h1 = P.tls_h2 ? tls_client_ctx(0, NULL, 1, err, sizeof(err)) : NULL;
    if (!P.tls_h2 || !P.tls_h1) {
        fprintf(stderr, "loom bench: %s\n", err);
        return PX_TLS;
    }
    static const unsigned char h1alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(P.tls_h1, h1alpn, sizeof(h1alpn) - 1);
    if (!P.no_relay) {
        relay_opts ro = {.rtt_ms = P.rtt, .rate_mbit = P.rate, .loss_pct = P.loss, .seed = P.seed};
        P.rl = relay_start(&ro, err, sizeof(err));
        if (!P.rl) {
            fprintf(stderr, "loom bench: the relay: %s\n", err);
            return PX_FAIL;
        }
    }
    P.l = loop_new();
    P.html = malloc(MAX_HTML);
    int rc = PX_OK;
    if (!P.l || !P.html) {
        fprintf(stderr, "loom bench: out of memory\n");
        rc = PX_FAIL;
        goto out;
    }
    set_fields();
    pres *page = res_of(P.url, -1);
    if (!page) {
        fprintf(stderr, "loom bench: out of memory\n");
        rc = PX_FAIL;
        goto out;
    }
    page->same_origin = 1;
    if (page->o->bad[0]) {
        fprintf(stderr, "loom bench: %s\n", page->o->bad);
        rc = !strncmp(page->o->bad, "cannot resolve", 14) ? PX_DNS : PX_FAIL;
        goto out;
    }
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    loop_timer(P.l, 100, check_interrupt, NULL);
    while (P.mode < NMODES && !P.want[P.mode])
        P.mode++;
    start_load();
    loop_run(P.l);
    if (P.list) {
        static const char *const kinds[] = {"style", "script", "image", "other"};
        for (int i = 1; i < P.nres; i++)
            printf("%s %s\n", P.res[i]->kind >= 0 ? kinds[P.res[i]->kind] : "page", P.res[i]->url);
        for (int i = 0; i < P.nerrors[M_H2]; i++)
            fprintf(stderr, "loom bench: %s\n", P.errors[M_H2][i]);
    } else {
        report();
    }
    for (int m = 0; m < NMODES; m++) /* a failed resource, a page not HTML, ... */
        if (P.want[m] && P.nerrors[m]) rc = PX_FAIL;
    if (P.json && write_json(P.json) < 0) {
        fprintf(stderr, "loom bench: cannot write %s: %s\n", P.json, strerror(errno));
        rc = PX_FAIL;
    }
out:
    if (P.rl) relay_stop(P.rl);
    loop_free(P.l);
    free(P.html);
    unzip_free(P.page_uz);
    for (int i = 0; i < P.nres; i++) {
        if (P.res[i]->md) EVP_MD_CTX_free(P.res[i]->md);
        free(P.res[i]);
    }
    for (int i = 0; i < P.norigins; i++)
        free(P.origins[i]);
    SSL_CTX_free(P.tls_h2);
    SSL_CTX_free(P.tls_h1);
    return rc;
}
