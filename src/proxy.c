/* loom serve's reverse proxy (proxy.h). */
#define _GNU_SOURCE
#include "proxy.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "client.h"
#include "h1.h"
#include "tls.h"

typedef enum { BK_H1, BK_H2C, BK_TLS, BK_UNIX } bk_kind;

/* A backend as a route names it. */
typedef struct {
    bk_kind kind;
    char url[300];
    char host[256], port[8];
    char authority[300];    /* host[:port], for --proxy-host backend */
    struct sockaddr_un sun; /* BK_UNIX */
} backend;

typedef struct {
    char prefix[256];
    size_t plen;
    backend b[PROXY_MAX_BACKENDS];
    int nb;
} proute;

struct proxy_conf {
    proxy_opts o; /* its strings are not kept */
    proute r[PROXY_MAX_ROUTES];
    int nr;
    SSL_CTX *tls; /* for https:// backends (NULL without any) */
};

/* ---- routes ---- */

static int parse_backend(const char *u, size_t n, backend *b, char *err, size_t errlen)
{
    memset(b, 0, sizeof(*b));
    if (n >= sizeof(b->url)) goto bad;
    memcpy(b->url, u, n);
    b->url[n] = 0;
    const char *rest;
    if (!strncmp(b->url, "unix:", 5)) {
        b->kind = BK_UNIX;
        rest = b->url + 5;
        if (rest[0] != '/' || strlen(rest) >= sizeof(b->sun.sun_path)) goto bad;
        b->sun.sun_family = AF_UNIX;
        memcpy(b->sun.sun_path, rest, strlen(rest) + 1);
        snprintf(b->host, sizeof(b->host), "localhost");
        snprintf(b->authority, sizeof(b->authority), "localhost");
        return 0;
    }
    if (!strncmp(b->url, "http://", 7))
        b->kind = BK_H1, rest = b->url + 7;
    else if (!strncmp(b->url, "h2c://", 6))
        b->kind = BK_H2C, rest = b->url + 6;
    else if (!strncmp(b->url, "https://", 8))
        b->kind = BK_TLS, rest = b->url + 8;
    else
        goto bad;
    size_t al = strcspn(rest, "/");
    if (rest[al] && strcmp(rest + al, "/")) goto bad; /* no path: the client's is kept */
    if (!al || al >= sizeof(b->authority)) goto bad;
    memcpy(b->authority, rest, al);
    b->authority[al] = 0;
    const char *colon = b->authority[0] == '[' ? strstr(b->authority, "]:") : NULL;
    if (colon)
        colon++;
    else if (b->authority[0] != '[')
        colon = strrchr(b->authority, ':');
    size_t hl = colon ? (size_t)(colon - b->authority) : al;
    const char *h = b->authority;
    if (h[0] == '[') h++, hl -= 2;
    if (!hl || hl >= sizeof(b->host)) goto bad;
    memcpy(b->host, h, hl);
    b->host[hl] = 0;
    const char *port = colon ? colon + 1 : b->kind == BK_TLS ? "443" : "80";
    size_t pl = strlen(port);
    if (!pl || pl > 5 || strspn(port, "0123456789") != pl || atoi(port) < 1 || atoi(port) > 65535)
        goto bad;
    memcpy(b->port, port, pl + 1);
    return 0;
bad:
    snprintf(err, errlen,
             "--proxy: '%.*s' is not a backend (http://HOST:PORT, h2c://HOST:PORT, "
             "https://HOST:PORT or unix:/PATH)",
             (int)(n > 200 ? 200 : n), u);
    return -1;
}

proxy_conf *proxy_conf_new(const proxy_opts *o, char *err, size_t errlen)
{
    if (o->nroutes > PROXY_MAX_ROUTES) {
        snprintf(err, errlen, "--proxy: at most %d routes", PROXY_MAX_ROUTES);
        return NULL;
    }
    proxy_conf *pc = calloc(1, sizeof(*pc));
    if (!pc) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pc->o = *o;
    pc->o.routes = NULL;
    pc->o.cacert = NULL;
    int tls = 0;
    for (size_t i = 0; i < o->nroutes; i++) {
        const char *s = o->routes[i], *eq = strchr(s, '=');
        proute *r = &pc->r[pc->nr];
        if (!eq || s[0] != '/' || (size_t)(eq - s) >= sizeof(r->prefix)) {
            snprintf(err, errlen,
                     "--proxy needs PREFIX=URL[,URL...] with PREFIX a path such as "
                     "/api, not '%s'",
                     s);
            proxy_conf_free(pc);
            return NULL;
        }
        memcpy(r->prefix, s, (size_t)(eq - s));
        r->plen = (size_t)(eq - s);
        for (const char *u = eq + 1; *u;) {
            size_t n = strcspn(u, ",");
            if (r->nb == PROXY_MAX_BACKENDS) {
                snprintf(err, errlen, "--proxy %s: at most %d backends", r->prefix,
                         PROXY_MAX_BACKENDS);
                proxy_conf_free(pc);
                return NULL;
            }
            if (parse_backend(u, n, &r->b[r->nb], err, errlen) < 0) {
                proxy_conf_free(pc);
                return NULL;
            }
            tls |= r->b[r->nb++].kind == BK_TLS;
            u += n + (u[n] == ',');
        }
        if (!r->nb) {
            snprintf(err, errlen, "--proxy %s: no backend", r->prefix);
            proxy_conf_free(pc);
            return NULL;
        }
        pc->nr++;
    }
    if (tls && !(pc->tls = tls_client_ctx(1, o->cacert, 1, err, errlen))) {
        proxy_conf_free(pc);
        return NULL;
    }
    return pc;
}

void proxy_conf_free(proxy_conf *pc)
{
    if (!pc) return;
    if (pc->tls) SSL_CTX_free(pc->tls);
    free(pc);
}

int proxy_route(const proxy_conf *pc, const char *path, size_t len)
{
    int best = -1;
    size_t plen = 0; /* path is not terminated (an HPACK field's value) */
    while (plen < len && path[plen] != '?' && path[plen] != '#')
        plen++;
    for (int i = 0; pc && i < pc->nr; i++) {
        const proute *r = &pc->r[i];
        /* "/api" takes /api, /api/x and /api?q, not /apix */
        if (r->plen <= plen && !memcmp(path, r->prefix, r->plen) &&
            (r->plen == plen || r->prefix[r->plen - 1] == '/' || path[r->plen] == '/') &&
            (best < 0 || r->plen > pc->r[best].plen))
            best = i;
    }
    return best;
}

/* ---- a worker's backends: state and connections ---- */

typedef struct bstate bstate;

/* A connection to a backend. Over HTTP/1.1 it carries one request at a
 * time: idle, it waits in its backend's idle list; over HTTP/2 it stays
 * there while it takes streams. */
typedef struct pconn {
    struct pconn *next;          /* the backend's connections */
    struct pconn *inext, *iprev; /* its idle list */
    bstate *b;
    cl_conn *cl;
    int load; /* requests of ours on it, not done */
    int h2;   /* it speaks HTTP/2 (streams multiplex) */
    int idle; /* in b's idle list */
} pconn;

/* A backend as this worker knows it, by URL: it outlives configurations
 * (a reload that keeps a backend keeps its connections). */
struct bstate {
    bstate *next;
    proxy_pool *pp;
    backend def;
    SSL_CTX *tls; /* a reference of the configuration's, for new connections */
    int connect_timeout_ms, max_conns;
    pconn *conns;
    int nconns;
    pconn *idle;               /* connections that take a request now */
    px *wait_head, *wait_tail; /* requests waiting for one (all busy, at the bound) */
    int outstanding;           /* requests in flight */
    int fails;                 /* failures in a row */
    uint64_t down_until;
    char why[200]; /* why its last connection failed (TLS, refused...) */
};

struct proxy_pool {
    loop *l;
    bstate *bs;
    uint64_t rr;
    px *spare; /* released, for the next requests */
    int nspare;
};

proxy_pool *proxy_pool_new(loop *l)
{
    proxy_pool *pp = calloc(1, sizeof(*pp));
    if (pp) pp->l = l;
    return pp;
}

static void conn_closed(cl_conn *c, cl_error_kind err, const char *why);

int proxy_pool_close(proxy_pool *pp)
{
    int n = 0;
    for (bstate *b = pp ? pp->bs : NULL; b; b = b->next)
        for (pconn *k = b->conns; k; k = k->next)
            if (k->cl) {
                cl_abort(k->cl, CLE_NONE, "the worker ends");
                n++;
            }
    return n;
}

static void px_spares_free(proxy_pool *pp);

void proxy_pool_free(proxy_pool *pp)
{
    if (!pp) return;
    /* connections not closed yet (proxy_pool_close() and a loop turn do
     * that): their state goes, they free themselves when they end */
    for (bstate *b = pp->bs, *nb; b; b = nb) {
        nb = b->next;
        for (pconn *k = b->conns, *nk; k; k = nk) {
            nk = k->next;
            k->b = NULL; /* conn_closed() finds no state */
            if (!k->cl) free(k);
        }
        if (b->tls) SSL_CTX_free(b->tls);
        free(b);
    }
    px_spares_free(pp);
    free(pp);
}

static bstate *backend_state(proxy_pool *pp, const proxy_conf *pc, const backend *def)
{
    bstate *b = pp->bs;
    while (b && strcmp(b->def.url, def->url))
        b = b->next;
    if (!b) {
        if (!(b = calloc(1, sizeof(*b)))) return NULL;
        b->pp = pp;
        b->def = *def;
        b->next = pp->bs;
        pp->bs = b;
    }
    /* the configuration in force sets how new connections are made */
    if (def->kind == BK_TLS && pc->tls != b->tls) {
        if (b->tls) SSL_CTX_free(b->tls);
        SSL_CTX_up_ref(pc->tls);
        b->tls = pc->tls;
    }
    b->connect_timeout_ms = pc->o.connect_timeout_ms;
    b->max_conns = pc->o.max_conns > 0 ? pc->o.max_conns : 32;
    return b;
}

static uint64_t now_ms(void)
{
    return cl_now_us() / 1000;
}

static void idle_add(pconn *k)
{
    bstate *b = k->b;
    if (k->idle || !b) return;
    k->idle = 1;
    k->iprev = NULL;
    k->inext = b->idle;
    if (b->idle) b->idle->iprev = k;
    b->idle = k;
}

static void idle_del(pconn *k)
{
    if (!k->idle) return;
    k->idle = 0;
    if (k->iprev)
        k->iprev->inext = k->inext;
    else
        k->b->idle = k->inext;
    if (k->inext) k->inext->iprev = k->iprev;
    k->inext = k->iprev = NULL;
}

static void dispatch(bstate *b);

static void conn_ready(cl_conn *c)
{
    pconn *k = cl_user(c);
    if (!k->b) return;
    k->b->fails = 0;                               /* it answers again */
    if (cl_protocol(c) == CL_PROTO_H2 && !k->h2) { /* https:// that chose h2 */
        k->h2 = 1;
        idle_add(k);
        dispatch(k->b);
    }
}

static void backend_failed(bstate *b, int fail_max, int fail_ms)
{
    if (++b->fails >= (fail_max > 0 ? fail_max : 3))
        b->down_until = now_ms() + (uint64_t)(fail_ms > 0 ? fail_ms : 10000);
}

static const cl_conn_cb conn_cb = {conn_ready, NULL, NULL, conn_closed};

static void conn_closed(cl_conn *c, cl_error_kind err, const char *why)
{
    pconn *k = cl_user(c);
    bstate *b = k->b;
    k->cl = NULL;
    if (!b) { /* the pool is gone */
        free(k);
        return;
    }
    if (err != CLE_NONE) snprintf(b->why, sizeof(b->why), "%s", why);
    idle_del(k);
    for (pconn **pp = &b->conns; *pp; pp = &(*pp)->next)
        if (*pp == k) {
            *pp = k->next;
            b->nconns--;
            break;
        }
    k->b = NULL;
    /* the done() of its requests follow: the last frees it */
    if (!k->load) free(k);
    dispatch(b); /* one fewer: a waiting request may open another */
}

static pconn *conn_new(bstate *b)
{
    pconn *k = calloc(1, sizeof(*k));
    if (!k) return NULL;
    cl_opts o;
    memset(&o, 0, sizeof(o));
    o.mode = b->def.kind == BK_H2C ? CL_H2C : b->def.kind == BK_TLS ? CL_TLS : CL_H1;
    o.tls = b->tls;
    o.allow_h1 = 1;
    o.verify = 1;
    o.connect_timeout_ms = b->connect_timeout_ms > 0 ? b->connect_timeout_ms : 5000;
    if (b->def.kind == BK_UNIX) {
        o.addr = (const struct sockaddr *)&b->def.sun;
        o.addrlen = sizeof(b->def.sun);
    }
    loom_config_default(&o.h2, LOOM_CLIENT);
    o.h2.enable_push = 0;
    o.h2.manual_window = 1; /* the backend slows with the client */
    o.h2.initial_window_size = 256u * 1024;
    o.h2.no_frame_events = 1;
    k->b = b;
    k->cl = cl_connect(b->pp->l, b->def.host, b->def.port, &o, &conn_cb, k);
    if (!k->cl) {
        free(k);
        return NULL;
    }
    k->next = b->conns;
    b->conns = k;
    b->nconns++;
    if (b->def.kind == BK_H2C) { /* HTTP/2 from the start: its streams multiplex */
        k->h2 = 1;
        idle_add(k);
    }
    return k;
}

/* A connection for one more request to b: an idle one (HTTP/2: the one
 * there is), else a new one while under the bound, else none (the
 * request waits in b's queue for the first that frees). fresh: a new one
 * first, if under the bound. O(1): no walk of the connections. */
static pconn *conn_for(bstate *b, int fresh)
{
    if (fresh && b->nconns < b->max_conns) {
        pconn *k = conn_new(b);
        if (k) return k;
    }
    while (b->idle) {
        pconn *k = b->idle;
        if (k->cl && cl_reusable(k->cl)) return k;
        idle_del(k);
    }
    return b->nconns < b->max_conns ? conn_new(b) : NULL;
}

/* ---- a proxied request ---- */

typedef struct chunk {
    struct chunk *next;
    size_t len, off;
    uint8_t data[];
} chunk;

typedef struct {
    chunk *head, *tail;
    size_t bytes;
} chunks;

static int chunks_add(chunks *q, const uint8_t *p, size_t n)
{
    chunk *k = malloc(sizeof(*k) + n);
    if (!k) return -1;
    k->next = NULL;
    k->len = n;
    k->off = 0;
    memcpy(k->data, p, n);
    if (q->tail)
        q->tail->next = k;
    else
        q->head = k;
    q->tail = k;
    q->bytes += n;
    return 0;
}

static size_t chunks_take(chunks *q, uint8_t *buf, size_t max)
{
    size_t o = 0;
    while (q->head && o < max) {
        chunk *k = q->head;
        size_t n = k->len - k->off;
        if (n > max - o) n = max - o;
        memcpy(buf + o, k->data + k->off, n);
        k->off += n;
        o += n;
        if (k->off == k->len) {
            q->head = k->next;
            if (!q->head) q->tail = NULL;
            free(k);
        }
    }
    q->bytes -= o;
    return o;
}

static void chunks_free(chunks *q)
{
    while (q->head) {
        chunk *k = q->head;
        q->head = k->next;
        free(k);
    }
    q->tail = NULL;
    q->bytes = 0;
}

#define MAX_FIELDS 128

struct px {
    proxy_pool *pp;
    const proxy_front *ops;
    void *front;
    cl_req req;
    pconn *pc;                      /* the connection req is on (NULL: none) */
    px *wnext;                      /* in its backend's wait queue */
    int waiting;                    /* for a connection */
    bstate *bk[PROXY_MAX_BACKENDS]; /* the route's, in the pool */
    int nbk, cur, tries;
    int balance, fail_max, fail_ms, first_byte_ms, idle_ms, host_backend;
    /* the request: its strings in strings */
    const char *method, *path;
    size_t nfields;
    chunks body;
    int body_end;
    uint64_t body_taken; /* octets the backend took (none: a retry is safe) */
    /* the response */
    int status, head_done, resp_end, failed, done;
    chunks resp;
    loom_hpack_field *trailers; /* MAX_FIELDS, made when some come */
    size_t ntrailers;
    char *trailer_strings;
    uint64_t timer;
    /* the deadline (loop ms) and when the armed timer fires: a later
     * deadline keeps the timer, which re-arms when it fires early (no
     * timer-heap work per DATA frame or per phase) */
    uint64_t deadline, timer_at;
    int freed; /* by the front: released from the loop (never inside a callback) */
    /* a WebSocket (RFC 8441 extended CONNECT in front, RFC 6455 Upgrade
     * behind): the key sent, then a tunnel */
    int tunnel;
    int front_h1;    /* the client's Upgrade (HTTP/1.1): a 101 to it, not a 200 */
    int fresh;       /* the next try on a new connection */
    int soon_status; /* a failure said from the loop (px_fail_soon) */
    px *next_spare;  /* in the pool's spares */
    /* from here on, not zeroed for each request (set before use); a spare
     * keeps its strings buffer */
    char *strings; /* method, path, the fields' names and values */
    size_t strings_cap;
    char authority[300];
    loom_hpack_field fields[MAX_FIELDS];
    char ws_key[32];
    char soon_why[200];
};

#define PX_SPARES 256 /* px kept per worker for the next requests */

/* A name lowercased as it is copied: HTTP/1.1 peers send any case,
 * HTTP/2 ones want lowercase (RFC 9113 §8.2.1). */
static void lower_copy(char *dst, const uint8_t *src, size_t n)
{
    for (size_t j = 0; j < n; j++)
        dst[j] = (char)(src[j] >= 'A' && src[j] <= 'Z' ? src[j] + 32 : src[j]);
}

/* f copied to *at (its name lowercased, then its value), *at moved past
 * it; the copy, pointing there. */
static loom_hpack_field copy_field(char **at, const loom_hpack_field *f)
{
    char *s = *at;
    lower_copy(s, f->name, f->name_len);
    memcpy(s + f->name_len, f->value, f->value_len);
    *at = s + f->name_len + f->value_len;
    return (loom_hpack_field){(const uint8_t *)s, f->name_len, (const uint8_t *)s + f->name_len,
                              f->value_len, 0};
}

static int field_is(const loom_hpack_field *f, const char *name)
{
    size_t n = strlen(name);
    return f->name_len == n && !strncasecmp((const char *)f->name, name, n);
}

/* RFC 9110 §7.6.1: hop-by-hop fields, and those Connection names. */
static int hop_by_hop(const loom_hpack_field *f, const loom_hpack_field *all, size_t n)
{
    static const char *const hop[] = {"connection",          "keep-alive",    "proxy-connection",
                                      "transfer-encoding",   "upgrade",       "proxy-authenticate",
                                      "proxy-authorization", "http2-settings"};
    for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
        if (field_is(f, hop[i])) return 1;
    if (field_is(f, "te")) /* only "trailers" goes on (RFC 9113 §8.2.2) */
        return !(f->value_len == 8 && !strncasecmp((const char *)f->value, "trailers", 8));
    for (size_t i = 0; i < n; i++) {
        if (!field_is(&all[i], "connection")) continue;
        const char *v = (const char *)all[i].value, *e = v + all[i].value_len;
        while (v < e) {
            while (v < e && (*v == ' ' || *v == ','))
                v++;
            const char *t = v;
            while (v < e && *v != ',' && *v != ' ')
                v++;
            if (v > t && (size_t)(v - t) == f->name_len &&
                !strncasecmp(t, (const char *)f->name, f->name_len))
                return 1;
        }
    }
    return 0;
}

static void px_timer_cancel(px *x)
{
    if (x->timer) loop_timer_cancel(x->pp->l, x->timer);
    x->timer = 0;
}

static void px_go(px *x, pconn *k);

/* The requests waiting for b's connections get those that take one. */
static void dispatch(bstate *b)
{
    while (b->wait_head) {
        pconn *k = conn_for(b, 0);
        if (!k) return;
        px *x = b->wait_head;
        b->wait_head = x->wnext;
        if (!b->wait_head) b->wait_tail = NULL;
        x->wnext = NULL;
        x->waiting = 0;
        px_go(x, k);
    }
}

static void px_unwait(px *x)
{
    if (!x->waiting) return;
    bstate *b = x->bk[x->cur];
    for (px **pp = &b->wait_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->wnext)
        if (*pp == x) {
            *pp = x->wnext;
            if (b->wait_tail == x) b->wait_tail = prev;
            break;
        }
    x->wnext = NULL;
    x->waiting = 0;
}

/* x's request is off its connection (done, or cancelled): the connection,
 * when it takes another, goes to a waiting request or the idle list. */
static void px_detach(px *x)
{
    pconn *k = x->pc;
    if (!k) return;
    x->pc = NULL;
    k->load--;
    if (!k->cl) { /* closed: the last request frees it */
        if (!k->load) free(k);
        return;
    }
    if (!k->b) return; /* the pool is gone */
    if (!cl_reusable(k->cl)) {
        idle_del(k);
        return;
    }
    if (k->load && !k->h2) return;
    idle_add(k);
    dispatch(k->b);
}

/* The backend request is given up: out of the wait queue, or cancelled
 * on its connection. */
static void px_abandon(px *x)
{
    bstate *b = x->cur >= 0 ? x->bk[x->cur] : NULL;
    if (b && b->outstanding) b->outstanding--;
    px_unwait(x);
    if (x->pc) {
        cl_cancel(&x->req);
        px_detach(x);
    }
}

static void px_release(px *x)
{
    px_timer_cancel(x);
    chunks_free(&x->body);
    chunks_free(&x->resp);
    free(x->trailer_strings);
    free(x->trailers);
    proxy_pool *pp = x->pp;
    if (pp->nspare < PX_SPARES) {
        x->next_spare = pp->spare;
        pp->spare = x;
        pp->nspare++;
        return;
    }
    free(x->strings);
    free(x);
}

static void px_fail(px *x, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail_soon_fired(loop *l, void *user)
{
    (void)l;
    px *x = user;
    x->timer = 0;
    px_fail(x, x->soon_status, "%s", x->soon_why);
}

/* A failure known as the request starts, said from the loop (not inside
 * proxy_start()). */
static void px_fail_soon(px *x, int status, const char *why)
{
    x->soon_status = status;
    snprintf(x->soon_why, sizeof(x->soon_why), "%s", why);
    x->timer = loop_timer(x->pp->l, 0, fail_soon_fired, x);
}

static void release_fired(loop *l, void *user)
{
    (void)l;
    px_release(user);
}

static void px_fail(px *x, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void px_fail(px *x, int status, const char *fmt, ...)
{
    if (x->failed || x->done) return;
    x->failed = 1;
    px_timer_cancel(x);
    char why[400], line[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    bstate *b = x->cur >= 0 ? x->bk[x->cur] : NULL;
    snprintf(line, sizeof(line), "proxy: backend %s: %s", b ? b->def.url : "-", why);
    if (x->ops->log && !x->freed) x->ops->log(x->front, line);
    if (!x->freed) x->ops->error(x->front, status, why);
}

static void req_head(cl_req *r, int status, const loom_hpack_field *f, size_t n, int info);
static void req_data(cl_req *r, const uint8_t *p, size_t n);
static void req_trailers(cl_req *r, const loom_hpack_field *f, size_t n);
static void req_done(cl_req *r, int outcome);
static const cl_req_cb req_cb = {req_head, req_data, req_trailers, req_done};
static void send_to_backend(px *x);

static void timer_fired(loop *l, void *user)
{
    px *x = user;
    x->timer = 0;
    uint64_t now = loop_now_ms();
    if (now < x->deadline) { /* moved since it was armed */
        x->timer_at = x->deadline;
        x->timer = loop_timer(l, x->deadline - now, timer_fired, x);
        return;
    }
    bstate *b = x->bk[x->cur];
    px_abandon(x);
    if (x->tunnel && x->head_done) { /* a quiet WebSocket: no sign of a sick backend */
        px_fail(x, 504, "the WebSocket was idle both ways (idle timeout): closed");
        return;
    }
    backend_failed(b, x->fail_max, x->fail_ms);
    px_fail(x, 504, "%s",
            x->head_done ? "the response stalled (idle timeout)"
                         : "no response in time (first-byte timeout)");
}

/* The timeout of the phase the request is in: ms from now (0: none). */
static void px_timer(px *x, int ms)
{
    if (ms <= 0) {
        px_timer_cancel(x);
        return;
    }
    uint64_t now = loop_now_ms();
    x->deadline = now + (uint64_t)ms;
    if (x->timer && x->timer_at <= x->deadline) return; /* it fires first, and re-arms */
    px_timer_cancel(x);
    x->timer_at = x->deadline;
    x->timer = loop_timer(x->pp->l, (uint64_t)ms, timer_fired, x);
}

static long body_read(cl_req *r, uint8_t *buf, size_t max, int *eof)
{
    px *x = r->user;
    size_t n = chunks_take(&x->body, buf, max);
    x->body_taken += n;
    *eof = x->body_end && !x->body.head;
    /* while the body goes, the idle timeout; from its end, the first byte's */
    if (n || *eof) px_timer(x, *eof && !x->head_done ? x->first_byte_ms : x->idle_ms);
    if (n && !x->freed) x->ops->consumed(x->front, n);
    return n || *eof ? (long)n : LOOM_BODY_DEFER;
}

/* RFC 6455 §4.2.2: base64(SHA-1(key + the GUID)) */
static void ws_accept(const char *key, char out[32])
{
    unsigned char d[SHA_DIGEST_LENGTH];
    char in[128];
    int n = snprintf(in, sizeof(in), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    SHA1((const unsigned char *)in, (size_t)n, d);
    EVP_EncodeBlock((unsigned char *)out, d, SHA_DIGEST_LENGTH);
}

/* Whether a field's value lists token (comma-separated, any case). */
static int has_token(const loom_hpack_field *f, const char *token)
{
    return h1_list_has((const char *)f->value, f->value_len, token);
}

/* The backend's 101 to a WebSocket's Upgrade, checked as a client does
 * (RFC 6455 §4.1: Upgrade is "websocket", Connection has "upgrade",
 * Sec-WebSocket-Accept answers the key), then said to the client: the 200
 * that opens an extended CONNECT's tunnel (RFC 8441 §5), or to an
 * HTTP/1.1 client the 101 with the backend's Upgrade, Connection,
 * Sec-WebSocket-Accept, -Protocol and -Extensions (RFC 9110 §7.8). */
static void tunnel_open(px *x, const loom_hpack_field *f, size_t n)
{
    char want[32];
    ws_accept(x->ws_key, want);
    int ok = 0, up = 0, conn = 0;
    for (size_t i = 0; i < n; i++) {
        if (field_is(&f[i], "sec-websocket-accept"))
            ok = f[i].value_len == strlen(want) && !memcmp(f[i].value, want, f[i].value_len);
        up |= field_is(&f[i], "upgrade") && has_token(&f[i], "websocket");
        conn |= field_is(&f[i], "connection") && has_token(&f[i], "upgrade");
    }
    if (!ok || !up || !conn) {
        px_abandon(x);
        px_fail(x, 502, "the backend's WebSocket answer (101) has %s",
                !ok   ? "a wrong or no Sec-WebSocket-Accept"
                : !up ? "no Upgrade: websocket"
                      : "no Connection: upgrade");
        return;
    }
    x->status = x->front_h1 ? 101 : 200;
    x->head_done = 1;
    /* quiet both ways for the proxy's idle timeout: closed (as nginx's
     * proxy_read_timeout does to a WebSocket) */
    px_timer(x, x->idle_ms);
    static const struct {
        const char *name;
        size_t len;
        int h1; /* said to an HTTP/1.1 client only (hop-by-hop, or its 101's) */
    } pass[] = {{"sec-websocket-protocol", 22, 0},
                {"sec-websocket-extensions", 24, 0},
                {"upgrade", 7, 1},
                {"sec-websocket-accept", 20, 1}};
    loom_hpack_field out[MAX_FIELDS + 2];
    size_t k = 0;
    if (x->front_h1)
        out[k++] =
            (loom_hpack_field){(const uint8_t *)"connection", 10, (const uint8_t *)"Upgrade", 7, 0};
    for (size_t i = 0; i < n && k < MAX_FIELDS; i++)
        for (size_t j = 0; j < sizeof(pass) / sizeof(pass[0]); j++)
            if (field_is(&f[i], pass[j].name) && (!pass[j].h1 || x->front_h1))
                out[k++] = (loom_hpack_field){(const uint8_t *)pass[j].name, pass[j].len,
                                              f[i].value, f[i].value_len, 0};
    out[k++] = (loom_hpack_field){(const uint8_t *)"via", 3, (const uint8_t *)"1.1 loom", 8, 0};
    if (!x->freed) x->ops->head(x->front, x->status, out, k, 0);
}

static void req_head(cl_req *r, int status, const loom_hpack_field *f, size_t n, int info)
{
    px *x = r->user;
    if (x->tunnel && status == 101 && !x->failed) {
        tunnel_open(x, f, n);
        return;
    }
    if (info || x->failed) return; /* 1xx: not passed on */
    if (status == 101) {
        px_abandon(x);
        px_fail(x, 502, "the backend switched protocols unasked");
        return;
    }
    x->status = status;
    x->head_done = 1;
    px_timer(x, x->idle_ms);
    loom_hpack_field out[MAX_FIELDS + 1];
    size_t k = 0, names = 0;
    int conn = 0;
    for (size_t i = 0; i < n; i++) {
        names += f[i].name_len;
        conn |= field_is(&f[i], "connection");
    }
    /* HTTP/1.1 names in any case; HTTP/2 wants them lowercase (RFC 9113
     * §8.2.1) */
    char stack[2048], *low = names < sizeof(stack) ? stack : malloc(names + 1), *q = low;
    if (!low) {
        px_abandon(x);
        px_fail(x, 502, "out of memory");
        return;
    }
    for (size_t i = 0; i < n && k < MAX_FIELDS; i++) {
        if (hop_by_hop(&f[i], f, conn ? n : 0) || !f[i].name_len || f[i].name[0] == ':') continue;
        lower_copy(q, f[i].name, f[i].name_len);
        out[k] = f[i];
        out[k++].name = (const uint8_t *)q;
        q += f[i].name_len;
    }
    /* RFC 9110 §7.6.3 */
    int h2 = cl_protocol(r->conn) == CL_PROTO_H2;
    out[k++] = (loom_hpack_field){(const uint8_t *)"via", 3,
                                  (const uint8_t *)(h2 ? "2 loom" : "1.1 loom"), h2 ? 6 : 8, 0};
    if (!x->freed) x->ops->head(x->front, status, out, k, r->head_ended);
    if (low != stack) free(low);
}

static void req_data(cl_req *r, const uint8_t *p, size_t n)
{
    px *x = r->user;
    if (x->failed) return;
    if (chunks_add(&x->resp, p, n) < 0) {
        px_abandon(x);
        px_fail(x, 502, "out of memory");
        return;
    }
    px_timer(x, x->idle_ms);
    if (!x->freed) x->ops->more(x->front);
}

static void req_trailers(cl_req *r, const loom_hpack_field *f, size_t n)
{
    px *x = r->user;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += f[i].name_len + f[i].value_len;
    free(x->trailer_strings);
    x->trailer_strings = malloc(total + 1);
    x->ntrailers = 0;
    if (!x->trailers) x->trailers = malloc(MAX_FIELDS * sizeof(*x->trailers));
    if (!x->trailers) return;
    char *s = x->trailer_strings;
    for (size_t i = 0; s && i < n && x->ntrailers < MAX_FIELDS; i++) {
        if (!hop_by_hop(&f[i], f, n)) x->trailers[x->ntrailers++] = copy_field(&s, &f[i]);
    }
}

/* Whether a request may go again to another backend: it was never
 * processed (the connection could not be made, or the backend refused
 * the stream) and nothing of its body is gone. */
static int retryable(const px *x, int free_try)
{
    /* never sent (RFC 9113 §8.7: refused unprocessed, above a GOAWAY, or
     * queued on a connection that died), or lost on a kept-alive connection
     * the backend closed (as nginx, such a try does not count): again, up
     * to a bound; sent on a fresh connection and unanswered (idempotent
     * only): once more */
    return x->tries < (free_try ? 8 : 2) && x->body_taken == 0 && !x->head_done;
}

static void req_done(cl_req *r, int outcome)
{
    px *x = r->user;
    bstate *b = x->bk[x->cur];
    if (b->outstanding) b->outstanding--;
    px_detach(x);
    if (x->failed) return;
    if (outcome == CL_DONE_OK) {
        if (!x->head_done) {
            px_fail(x, 502, "no response head");
            return;
        }
        b->fails = 0;
        x->resp_end = 1;
        x->done = 1;
        px_timer_cancel(x);
        if (!x->freed) x->ops->more(x->front);
        return;
    }
    const char *why = r->h2_code ? loom_h2_code_name(r->h2_code) : NULL;
    /* a kept-alive connection closing under a request is no sign of a
     * sick backend */
    if (!x->head_done && !r->h2_code && !r->reused) backend_failed(b, x->fail_max, x->fail_ms);
    /* never sent (the connection could not be made, or the backend
     * refused the stream unprocessed), or an idempotent request whose
     * connection closed before any answer (a kept-alive connection the
     * backend closed as it went out: RFC 9112 §9.3.1): once more, on
     * another backend (one backend: a new connection) */
    int idempotent = !strcmp(x->method, "GET") || !strcmp(x->method, "HEAD") ||
                     !strcmp(x->method, "OPTIONS") || !strcmp(x->method, "PUT") ||
                     !strcmp(x->method, "DELETE");
    int lost = outcome == CL_DONE_RETRY || (r->reused && !r->h2_code);
    if ((outcome == CL_DONE_RETRY || (idempotent && !r->h2_code)) && retryable(x, lost)) {
        /* a kept-alive connection the backend closed: the pooled ones may
         * be closing too, so a fresh one (under the bound; HTTP/2
         * connections that still take streams are fine) */
        x->fresh = b->def.kind != BK_H2C;
        send_to_backend(x); /* once more, on another backend */
        return;
    }
    if (x->head_done)
        px_fail(x, 502, "the response broke off%s%s", why ? ": " : "", why ? why : "");
    else if (why)
        px_fail(x, 502, "the backend reset the request: %s", why);
    else
        px_fail(x, 502, "the backend could not be reached or closed the connection%s%s",
                b->why[0] ? ": " : "", b->why);
}

/* The backend for the next try: round-robin or the least loaded, skipping
 * those taken out (unless all are), and the one that just failed. */
static int pick(px *x)
{
    uint64_t now = now_ms();
    int best = -1, up = 0;
    for (int i = 0; i < x->nbk; i++)
        up += x->bk[i]->down_until <= now;
    for (int k = 0; k < x->nbk; k++) {
        int i = x->balance == PROXY_LEAST ? k : (int)((x->pp->rr + (uint64_t)k) % (uint64_t)x->nbk);
        bstate *b = x->bk[i];
        if (up && b->down_until > now) continue;
        if (x->tries && i == x->cur && x->nbk > 1) continue;
        if (x->balance != PROXY_LEAST) {
            best = i;
            break;
        }
        if (best < 0 || b->outstanding < x->bk[best]->outstanding) best = i;
    }
    x->pp->rr++;
    return best < 0 ? 0 : best;
}

static void send_to_backend(px *x)
{
    x->cur = pick(x);
    x->tries++;
    bstate *b = x->bk[x->cur];
    memset(&x->req, 0, sizeof(x->req));
    pconn *k = conn_for(b, x->fresh);
    x->fresh = 0;
    if (!k && !b->nconns) {
        px_fail(x, 502, "out of memory");
        return;
    }
    b->outstanding++;
    px_timer(x, x->body_end && !x->body.head ? x->first_byte_ms : x->idle_ms);
    if (k) {
        px_go(x, k);
        return;
    }
    /* every connection busy, at the bound: the first to free takes it (a
     * request tried again goes first) */
    x->waiting = 1;
    if (x->tries > 1) {
        x->wnext = b->wait_head;
        b->wait_head = x;
        if (!b->wait_tail) b->wait_tail = x;
    } else {
        x->wnext = NULL;
        if (b->wait_tail)
            b->wait_tail->wnext = x;
        else
            b->wait_head = x;
        b->wait_tail = x;
    }
}

/* x's request on k (to x->bk[x->cur]). */
static void px_go(px *x, pconn *k)
{
    bstate *b = x->bk[x->cur];
    cl_req *r = &x->req;
    memset(r, 0, sizeof(*r));
    r->method = x->method;
    r->scheme = b->def.kind == BK_TLS ? "https" : "http";
    r->authority = x->host_backend ? b->def.authority : x->authority;
    r->path = x->path;
    r->fields = x->fields;
    r->nfields = x->nfields;
    r->urgency = -1;
    r->cb = &req_cb;
    r->user = x;
    if (x->body.bytes || !x->body_end) {
        r->body_read = body_read;
        r->body_size = -1;
    }
    r->tunnel = (uint8_t)x->tunnel;
    x->pc = k;
    k->load++;
    if (!k->h2) idle_del(k);
    cl_submit(k->cl, r);
}

static void px_spares_free(proxy_pool *pp)
{
    while (pp->spare) {
        px *x = pp->spare;
        pp->spare = x->next_spare;
        free(x->strings);
        free(x);
    }
    pp->nspare = 0;
}

/* A px for a new request: a spare, or a new one; zeroed up to strings. */
static px *px_new(proxy_pool *pp)
{
    px *x = pp->spare;
    if (x) {
        pp->spare = x->next_spare;
        pp->nspare--;
    } else if (!(x = malloc(sizeof(*x)))) {
        return NULL;
    } else {
        x->strings = NULL;
        x->strings_cap = 0;
    }
    memset(x, 0, offsetof(px, strings));
    return x;
}

/* RFC 6455 §4.1: a Sec-WebSocket-Key is 16 octets in base64 (24
 * characters, "==" at the end). */
static int ws_key_ok(const char *k)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    return strlen(k) == 24 && strspn(k, b64) == 22 && !strcmp(k + 22, "==");
}

static char *put(char *s, const void *p, size_t n)
{
    memcpy(s, p, n);
    return s + n;
}

px *proxy_start(proxy_pool *pp, const proxy_conf *pc, int route, const proxy_request *rq,
                const proxy_front *ops, void *front)
{
    px *x = px_new(pp);
    if (!x) return NULL;
    const proute *rt = &pc->r[route];
    x->pp = pp;
    x->ops = ops;
    x->front = front;
    x->cur = -1;
    x->balance = pc->o.balance;
    x->fail_max = pc->o.fail_max;
    x->fail_ms = pc->o.fail_ms;
    x->first_byte_ms = pc->o.first_byte_ms > 0 ? pc->o.first_byte_ms : 60000;
    x->idle_ms = pc->o.idle_ms > 0 ? pc->o.idle_ms : 60000;
    x->host_backend = pc->o.host_backend;
    for (int i = 0; i < rt->nb; i++)
        if ((x->bk[x->nbk] = backend_state(pp, pc, &rt->b[i]))) x->nbk++;
    size_t al = rq->authority ? strlen(rq->authority) : 0;
    if (al >= sizeof(x->authority)) al = sizeof(x->authority) - 1;
    if (al) memcpy(x->authority, rq->authority, al);
    x->authority[al] = 0;
    /* the fields that go on, then the ones a proxy adds (RFC 7239, the
     * X-Forwarded-* every application server reads, RFC 9110 §7.6.3), in
     * one buffer with the method and the path */
    const char *ip = rq->client_ip ? rq->client_ip : "unknown";
    size_t ml = strlen(rq->method), pl = strlen(rq->path), il = strlen(ip);
    int v6 = memchr(ip, ':', il) != NULL, conn = 0;
    size_t total = ml + 1 + pl + 1 + il;      /* x-forwarded-for's end */
    total += 4 + 4 + il + 7 + 5 + 7 + al + 1; /* forwarded */
    for (size_t i = 0; i < rq->nfields; i++) {
        const loom_hpack_field *f = &rq->fields[i];
        total += f->name_len + f->value_len;
        if (field_is(f, "x-forwarded-for")) total += f->value_len + 2;
        conn |= field_is(f, "connection");
    }
    if (total > x->strings_cap) {
        char *t = malloc(total);
        if (!t) {
            px_release(x);
            return NULL;
        }
        free(x->strings);
        x->strings = t;
        x->strings_cap = total;
    }
    char *s = x->strings;
    x->method = s;
    s = put(s, rq->method, ml + 1);
    x->path = s;
    s = put(s, rq->path, pl + 1);
    /* room left for the 5 added, and a WebSocket's 4 */
    for (size_t i = 0; i < rq->nfields && x->nfields < MAX_FIELDS - 9; i++) {
        const loom_hpack_field *f = &rq->fields[i];
        /* (hop_by_hop() walks the fields for a Connection only when one is there) */
        if (hop_by_hop(f, rq->fields, conn ? rq->nfields : 0) || field_is(f, "host") ||
            field_is(f, "x-forwarded-for") || field_is(f, "x-forwarded-proto") ||
            field_is(f, "x-forwarded-host") || field_is(f, "content-length") ||
            field_is(f, "expect") ||                            /* the front answered it */
            (rq->protocol && field_is(f, "sec-websocket-key"))) /* added below */
            continue;
        x->fields[x->nfields++] = copy_field(&s, f);
    }
    /* X-Forwarded-For: those the client sent, then its address */
    char *v = s;
    for (size_t i = 0; i < rq->nfields; i++)
        if (field_is(&rq->fields[i], "x-forwarded-for")) {
            s = put(s, rq->fields[i].value, rq->fields[i].value_len);
            s = put(s, ", ", 2);
        }
    s = put(s, ip, il);
    x->fields[x->nfields++] = (loom_hpack_field){(const uint8_t *)"x-forwarded-for", 15,
                                                 (const uint8_t *)v, (size_t)(s - v), 0};
    const char *proto = rq->tls ? "https" : "http";
    x->fields[x->nfields++] = (loom_hpack_field){(const uint8_t *)"x-forwarded-proto", 17,
                                                 (const uint8_t *)proto, strlen(proto), 0};
    x->fields[x->nfields++] = (loom_hpack_field){(const uint8_t *)"x-forwarded-host", 16,
                                                 (const uint8_t *)x->authority, al, 0};
    /* for=IP (an IPv6 one quoted, in brackets);proto=...;host="..." */
    v = s;
    s = put(s, v6 ? "for=\"[" : "for=", v6 ? 6 : 4);
    s = put(s, ip, il);
    if (v6) s = put(s, "]\"", 2);
    s = put(s, ";proto=", 7);
    s = put(s, proto, strlen(proto));
    s = put(s, ";host=\"", 7);
    s = put(s, x->authority, al);
    s = put(s, "\"", 1);
    x->fields[x->nfields++] =
        (loom_hpack_field){(const uint8_t *)"forwarded", 9, (const uint8_t *)v, (size_t)(s - v), 0};
    x->fields[x->nfields++] = (loom_hpack_field){
        (const uint8_t *)"via", 3, (const uint8_t *)(rq->front_http == 2 ? "2 loom" : "1.1 loom"),
        rq->front_http == 2 ? 6 : 8, 0};
    if (rq->protocol) { /* RFC 8441: a WebSocket, as an RFC 6455 Upgrade behind */
        x->front_h1 = rq->ws_key != NULL;
        if (rq->ws_key) { /* an HTTP/1.1 client's: sent on, its answer is the client's */
            if (!ws_key_ok(rq->ws_key)) {
                px_fail_soon(x, 400,
                             "the client's WebSocket handshake has no valid Sec-WebSocket-Key "
                             "(RFC 6455 §4.2.1)");
                return x;
            }
            memcpy(x->ws_key, rq->ws_key, 25);
        } else { /* RFC 8441: ours */
            unsigned char rnd[16];
            if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) memset(rnd, 7, sizeof(rnd));
            EVP_EncodeBlock((unsigned char *)x->ws_key, rnd, sizeof(rnd));
        }
        x->tunnel = 1;
        x->method = "GET";
        int has_version = 0;
        for (size_t i = 0; i < x->nfields; i++)
            has_version |= field_is(&x->fields[i], "sec-websocket-version");
        static const char *const up[][2] = {{"upgrade", "websocket"}, {"connection", "Upgrade"}};
        x->fields[x->nfields++] =
            (loom_hpack_field){(const uint8_t *)up[0][0], 7, (const uint8_t *)up[0][1], 9, 0};
        x->fields[x->nfields++] =
            (loom_hpack_field){(const uint8_t *)up[1][0], 10, (const uint8_t *)up[1][1], 7, 0};
        x->fields[x->nfields++] =
            (loom_hpack_field){(const uint8_t *)"sec-websocket-key", 17, (const uint8_t *)x->ws_key,
                               strlen(x->ws_key), 0};
        if (!has_version)
            x->fields[x->nfields++] = (loom_hpack_field){(const uint8_t *)"sec-websocket-version",
                                                         21, (const uint8_t *)"13", 2, 0};
        for (int i = 0; i < x->nbk; i++)
            if (x->bk[i]->def.kind != BK_H1 && x->bk[i]->def.kind != BK_UNIX) {
                /* no RFC 8441 extended CONNECT to HTTP/2 backends (yet) */
                px_fail_soon(x, 502,
                             "a WebSocket goes to http:// or unix: backends only (this route's "
                             "h2c:// or https:// backend would need RFC 8441, not done)");
                return x;
            }
    }
    x->body_end = rq->body_size == 0;
    send_to_backend(x);
    return x;
}

void proxy_body(px *x, const uint8_t *p, size_t n, int end)
{
    if (n && chunks_add(&x->body, p, n) < 0) {
        px_abandon(x);
        px_fail(x, 502, "out of memory");
        return;
    }
    if (end) x->body_end = 1;
    if (!x->failed && x->req.conn) cl_resume(&x->req);
}

long proxy_read(px *x, uint8_t *buf, size_t max, int *eof)
{
    size_t n = chunks_take(&x->resp, buf, max);
    if (n && !x->resp_end && x->req.conn) cl_consumed(&x->req, n);
    *eof = x->resp_end && !x->resp.head;
    return n || *eof ? (long)n : LOOM_BODY_DEFER;
}

const loom_hpack_field *proxy_trailers(px *x, size_t *n)
{
    *n = x->ntrailers;
    return x->ntrailers ? x->trailers : NULL;
}

int proxy_status(const px *x)
{
    return x->status;
}

void proxy_free(px *x)
{
    if (!x || x->freed) return;
    if (!x->done && !x->failed) {
        x->failed = 1;
        px_abandon(x);
    }
    x->freed = 1;
    px_timer_cancel(x);
    /* from the loop: the client runtime may be inside a callback of x's */
    x->timer = loop_timer(x->pp->l, 0, release_fired, x);
}
