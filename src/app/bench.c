/* loom bench: a load generator with h2load's interface, on the client
 * runtime (src/client.c): -c connections spread over -t threads, each its
 * own event loop; -m streams in flight per connection over HTTP/2 (one
 * request at a time over HTTP/1.1 keep-alive); a count (-n) or a duration
 * (-D, after --warm-up-time); closed loop, or open loop at --rate with
 * latency measured from each request's intended send time (no coordinated
 * omission, as wrk2). Memory does not grow with -n: requests are slots that
 * are reused, latencies go into fixed histograms. */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../client.h"
#include "../h1.h"
#include "../tls.h"
#include "cli_util.h"
#include "histo.h"
#include "pageload.h"
#include "loom/loom.h"

enum {
    BX_OK = 0,
    BX_FAIL = 1,
    BX_USAGE = 2,
    BX_URL = 3,
    BX_DNS = 6,
    BX_CONNECT = 7,
    BX_NO_H2 = 16,
    BX_TIMEOUT = 28,
    BX_TLS = 35,
};

#define MAX_URIS    1024
#define MAX_HEADERS 64
#define MAX_STREAMS 1024

typedef struct bthread bthread;
typedef struct bclient bclient;

typedef struct {
    uint64_t done, succeeded, failed, errored, timeout, started;
    uint64_t status[6]; /* 1xx..5xx, [0]: other */
    uint64_t data;      /* response body octets */
    uint64_t req_head_wire, req_head_text, resp_head_wire, resp_head_text;
} counts;

typedef struct {
    cl_req req;
    bclient *c;
    uint64_t t_start; /* when it was sent (open loop: when it should have been) */
    uint8_t busy, retry;
} bstream;

struct bclient {
    bthread *th;
    int idx;
    cl_conn *conn;
    bstream *s;
    int *free_slots, nfree; /* slots not in use: a stack */
    int nretry;             /* slots handed back, to send again */
    int inflight, ever_ready;
    uint64_t t_conn_start, connect_us, ttfb_us, first_byte;
    uint64_t done, t_first_send, t_last_done;
    uint64_t bytes_in;   /* of connections that ended */
    uint64_t bytes_base; /* what had come before the measuring began */
    uint64_t last_progress;
    int next_uri, timing_out;
};

struct bthread {
    int id;
    pthread_t pt;
    loop *l;
    bclient *cl;
    int ncl, alive;
    uint64_t quota, started; /* -n: requests this thread starts */
    /* open loop */
    double rate;     /* requests per microsecond */
    uint64_t issued; /* intended send slots taken */
    uint64_t t_rate0;
    counts c;
    histo lat;
    int stopping;
    uint64_t t_last; /* the last response of the run */
    _Atomic int finished;
    _Atomic uint64_t live_done, live_err;
};

/* ---- options and the run's shared state ---- */

static struct {
    uint64_t n;
    int clients, streams, threads, h1, quiet, verbose;
    double duration, warmup, rate, timeout;
    const char *json;
    char scheme[8], host[256], port[8], authority[300];
    char *paths[MAX_URIS];
    int npaths;
    loom_hpack_field extra[MAX_HEADERS];
    size_t nextra;
    uint8_t *data;
    size_t data_len;
    const char *method;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    SSL_CTX *tls;
    cl_opts opts;
    /* the run */
    uint64_t t0, t_measure, t_end;
    _Atomic int measuring, fatal;
    int fatal_code;
    char fatal_msg[512];
    pthread_mutex_t lock;
    bthread *th;
} B;

static uint64_t now_us(void)
{
    return cl_now_us();
}

static void fatal(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fatal(int code, const char *fmt, ...)
{
    pthread_mutex_lock(&B.lock);
    if (!B.fatal) {
        B.fatal_code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(B.fatal_msg, sizeof(B.fatal_msg), fmt, ap);
        va_end(ap);
        B.fatal = 1;
    }
    pthread_mutex_unlock(&B.lock);
}

/* ---- requests ---- */

static void start_more(bclient *c);
static void wind_down(bthread *t, int abort);

static int may_start(bthread *t)
{
    if (t->stopping || B.fatal) return 0;
    if (B.duration > 0) return now_us() < B.t_end;
    return t->started < t->quota;
}

/* Open loop: the intended time of the next request, if one is due now. */
static int rate_due(bthread *t, uint64_t now, uint64_t *when)
{
    uint64_t slot_t = t->t_rate0 + (uint64_t)((double)t->issued / t->rate);
    if (slot_t > now) return 0;
    *when = slot_t;
    return 1;
}

static void send_on(bclient *c, bstream *s, uint64_t t_start)
{
    bthread *t = c->th;
    s->busy = 1;
    s->retry = 0;
    s->t_start = t_start;
    if (!c->t_first_send) c->t_first_send = t_start;
    cl_req *r = &s->req;
    r->method = B.method;
    r->scheme = B.scheme;
    r->authority = B.authority;
    r->path = B.paths[c->next_uri++ % B.npaths];
    r->fields = B.extra;
    r->nfields = B.nextra;
    r->body = B.data;
    r->body_len = B.data_len;
    r->urgency = -1;
    r->same_strings = 1; /* B's strings: the head is reused */
    t->started++;
    t->c.started++;
    c->inflight++;
    cl_submit(c->conn, r);
}

/* Fills the connection's free slots with requests, as the mode allows:
 * first the requests a closed connection handed back. */
static void start_more(bclient *c)
{
    bthread *t = c->th;
    if (!c->conn || !c->ever_ready || !cl_accepting(c->conn)) return;
    for (int i = 0; c->nretry && i < (B.h1 ? 1 : B.streams); i++) {
        bstream *s = &c->s[i];
        if (!s->retry) continue;
        s->retry = 0;
        c->nretry--;
        c->inflight++;
        cl_submit(c->conn, &s->req);
    }
    while (c->nfree) {
        if (!may_start(t)) return;
        uint64_t when = now_us();
        if (B.rate > 0) {
            if (!rate_due(t, when, &when)) return;
            t->issued++;
        }
        send_on(c, &c->s[c->free_slots[--c->nfree]], when);
    }
}

static void on_head(cl_req *r, int status, const loom_hpack_field *f, size_t n, int info)
{
    bstream *s = (bstream *)r;
    bclient *c = s->c;
    if (!c->first_byte) {
        c->first_byte = now_us();
        c->ttfb_us = c->first_byte - c->t_conn_start;
    }
    if (info) return;
    counts *k = &c->th->c;
    /* the head as HTTP/1.1 text: "HTTP/1.1 200 OK\r\n", "name: value\r\n"
     * per field, the blank line */
    size_t text = 9 + 3 + 1 + strlen(h1_reason(status)) + 2 + 2;
    for (size_t i = 0; i < n; i++)
        if (!(f[i].name_len && f[i].name[0] == ':')) text += f[i].name_len + f[i].value_len + 4;
    k->resp_head_text += text;
    k->status[status / 100 < 6 ? status / 100 : 0]++;
}

static void on_data(cl_req *r, const uint8_t *p, size_t n)
{
    (void)p;
    bstream *s = (bstream *)r;
    s->c->th->c.data += n;
}

static void on_done(cl_req *r, int outcome)
{
    bstream *s = (bstream *)r;
    bclient *c = s->c;
    bthread *t = c->th;
    uint64_t now = now_us();
    c->inflight--;
    c->last_progress = now;
    int slot = (int)(s - c->s);
    if (c->timing_out) { /* its connection was given up: counted as timed out */
        s->busy = 0;
        c->free_slots[c->nfree++] = slot;
        t->c.timeout++;
        return;
    }
    if (outcome == CL_DONE_RETRY && !t->stopping && !B.fatal) {
        s->retry = 1; /* sent again when the client reconnects */
        c->nretry++;
        return;
    }
    s->busy = 0;
    c->free_slots[c->nfree++] = slot;
    counts *k = &t->c;
    k->req_head_wire += r->req_head_wire;
    /* the same request as HTTP/1.1 text: "GET /path HTTP/1.1\r\n",
     * "Host: authority\r\n", "name: value\r\n" per field, a blank line */
    size_t text = strlen(r->method) + strlen(r->path) + 12 + 8 + strlen(r->authority);
    for (size_t i = 0; i < r->nfields; i++)
        text += r->fields[i].name_len + r->fields[i].value_len + 4;
    k->req_head_text += text + 2;
    k->resp_head_wire += r->resp_head_wire;
    if (outcome == CL_DONE_OK) {
        k->done++;
        if (r->status >= 200 && r->status < 400)
            k->succeeded++;
        else
            k->failed++;
        histo_add(&t->lat, now - s->t_start);
        c->done++;
        c->t_last_done = now;
        t->t_last = now;
        atomic_fetch_add_explicit(&t->live_done, 1, memory_order_relaxed);
    } else {
        if (r->h2_code) {
            k->done++;
            k->failed++; /* reset by the server */
        } else {
            k->errored++;
        }
        atomic_fetch_add_explicit(&t->live_err, 1, memory_order_relaxed);
    }
    start_more(c);
    /* -n: the last answer ends the run now, not at the next tick */
    if (B.duration <= 0 && !t->stopping && t->started >= t->quota) {
        int idle = 1;
        for (int i = 0; i < t->ncl && idle; i++)
            idle = t->cl[i].inflight == 0 && t->cl[i].nretry == 0;
        if (idle) wind_down(t, 0);
    }
}

static const cl_req_cb req_cb = {on_head, on_data, NULL, on_done};

/* ---- connections ---- */

static void connect_client(bclient *c);

static void conn_ready(cl_conn *conn)
{
    bclient *c = cl_user(conn);
    if (!c->ever_ready) {
        c->connect_us = (uint64_t)cl_time_ready(conn);
        c->ever_ready = 1;
    }
    if (B.verbose)
        fprintf(stderr, "client %d: connected (%s)\n", c->idx,
                cl_protocol(conn) == CL_PROTO_H2 ? "HTTP/2" : "HTTP/1.1");
    if (B.h1 ? cl_protocol(conn) != CL_PROTO_H1 : cl_protocol(conn) != CL_PROTO_H2) {
        fatal(BX_NO_H2, "the server does not speak %s%s", B.h1 ? "HTTP/1.1" : "HTTP/2",
              B.h1 ? "" : " (try --h1)");
        cl_abort(conn, CLE_NO_H2, "wrong protocol");
        return;
    }
    start_more(c);
}

static int exit_for(cl_error_kind e)
{
    switch (e) {
    case CLE_DNS: return BX_DNS;
    case CLE_CONNECT: return BX_CONNECT;
    case CLE_TIMEOUT: return BX_TIMEOUT;
    case CLE_TLS: return BX_TLS;
    case CLE_NO_H2: return BX_NO_H2;
    default: return BX_FAIL;
    }
}

static void reconnect_fired(loop *l, void *user)
{
    bclient *c = user;
    bthread *t = c->th;
    if (t->stopping || B.fatal) { /* the run ended meanwhile */
        if (--t->alive == 0) loop_stop(l);
        return;
    }
    connect_client(c);
}

static void conn_closed(cl_conn *conn, cl_error_kind err, const char *why)
{
    bclient *c = cl_user(conn);
    bthread *t = c->th;
    const transport *tp = cl_transport(conn);
    c->bytes_in += tp->bytes_in;
    c->conn = NULL; /* its requests' ends follow (timing_out still says how to count them) */
    int connected = cl_time_ready(conn) >= 0;
    if (!connected && !c->ever_ready && err != CLE_NONE && !t->stopping)
        fatal(exit_for(err), "%s", why); /* the target cannot be reached */
    else if (B.verbose)
        fprintf(stderr, "client %d: connection ended: %s\n", c->idx, why);
    /* requests remain: a new connection (the server closed this one, as
     * servers do after so many requests). The requests still out on it are
     * handed back (to retry) only after this call, so they count too: a
     * server that closes after a response (HTTP/1.1 Connection: close, as
     * Apache does every 100 requests) while the next request was already
     * queued on the connection must not strand that request. */
    int pending = c->nretry > 0 || c->inflight > 0;
    if (!t->stopping && !B.fatal && (pending || may_start(t)) && c->ever_ready) {
        loop_timer(t->l, connected ? 0 : 100, reconnect_fired, c);
        return;
    }
    t->alive--;
    if (t->alive == 0) loop_stop(t->l);
}

static const cl_conn_cb conn_cb = {conn_ready, NULL, NULL, conn_closed};

static void connect_client(bclient *c)
{
    c->timing_out = 0;
    c->t_conn_start = c->t_conn_start ? c->t_conn_start : now_us();
    c->conn = cl_connect(c->th->l, B.host, B.port, &B.opts, &conn_cb, c);
    if (!c->conn) fatal(BX_FAIL, "out of memory");
    c->last_progress = now_us();
}

/* ---- a thread ---- */

/* Stops new requests; ends the connections once their requests are done
 * (or at once when abort). */
static void wind_down(bthread *t, int abort)
{
    t->stopping = 1;
    for (int i = 0; i < t->ncl; i++) {
        bclient *c = &t->cl[i];
        if (!c->conn) continue;
        if (abort)
            cl_abort(c->conn, CLE_NONE, "the run ended");
        else if (c->inflight == 0)
            cl_shutdown(c->conn);
    }
}

static void tick(loop *l, void *user)
{
    bthread *t = user;
    uint64_t now = now_us();
    if (B.fatal) {
        wind_down(t, 1);
        return;
    }
    if (B.rate > 0 && !t->stopping)
        for (int i = 0; i < t->ncl; i++)
            start_more(&t->cl[i]);
    /* a connection with requests out and nothing back for --timeout */
    for (int i = 0; i < t->ncl; i++) {
        bclient *c = &t->cl[i];
        if (c->conn && c->inflight && !c->timing_out &&
            now - c->last_progress > (uint64_t)(B.timeout * 1e6)) {
            c->timing_out = 1; /* its requests end as timed out */
            cl_abort(c->conn, CLE_TIMEOUT, "no response within --timeout");
        }
    }
    /* the end: the count is started and answered, or the time is up */
    int idle = 1;
    for (int i = 0; i < t->ncl; i++)
        idle &= t->cl[i].inflight == 0 && t->cl[i].nretry == 0;
    if (!t->stopping &&
        ((B.duration > 0 && now >= B.t_end) || (B.duration <= 0 && t->started >= t->quota && idle)))
        wind_down(t, 0);
    if (t->stopping) {
        if (B.duration > 0 && now >= B.t_end + 2000000) { /* stragglers after 2 s */
            for (int i = 0; i < t->ncl; i++)
                t->cl[i].timing_out = t->cl[i].inflight > 0;
            wind_down(t, 1);
            return;
        }
        wind_down(t, 0);
    }
    loop_timer(l, B.rate > 0 ? 1 : 100, tick, t);
}

static void warmup_over(loop *l, void *user)
{
    (void)l;
    bthread *t = user;
    memset(&t->c, 0, sizeof(t->c));
    histo_reset(&t->lat);
    for (int i = 0; i < t->ncl; i++) {
        bclient *c = &t->cl[i];
        c->done = 0;
        c->t_first_send = now_us();
        c->bytes_base = c->bytes_in + (c->conn ? cl_transport(c->conn)->bytes_in : 0);
    }
}

static void *thread_main(void *arg)
{
    bthread *t = arg;
    for (int i = 0; i < t->ncl; i++)
        connect_client(&t->cl[i]);
    t->alive = t->ncl;
    t->t_rate0 = now_us();
    if (B.warmup > 0) loop_timer(t->l, (uint64_t)(B.warmup * 1000), warmup_over, t);
    loop_timer(t->l, 1, tick, t);
    if (t->ncl) loop_run(t->l);
    atomic_store(&t->finished, 1);
    return NULL;
}

/* ---- output ---- */

static void fmt_us(char *buf, size_t n, double us)
{
    if (us >= 1e6)
        snprintf(buf, n, "%.2fs", us / 1e6);
    else if (us >= 1e3)
        snprintf(buf, n, "%.2fms", us / 1e3);
    else
        snprintf(buf, n, "%.0fus", us);
}

static void fmt_bytes(char *buf, size_t n, double b)
{
    if (b >= 1 << 30)
        snprintf(buf, n, "%.2fGB", b / (1 << 30));
    else if (b >= 1 << 20)
        snprintf(buf, n, "%.2fMB", b / (1 << 20));
    else if (b >= 1 << 10)
        snprintf(buf, n, "%.2fKB", b / (1 << 10));
    else
        snprintf(buf, n, "%.0fB", b);
}

typedef struct {
    double min, max, mean, sd;
    int n;
} spread;

static spread spread_of(const double *v, int n)
{
    spread s = {0, 0, 0, 0, n};
    if (!n) return s;
    s.min = s.max = v[0];
    double sum = 0, sum2 = 0;
    for (int i = 0; i < n; i++) {
        if (v[i] < s.min) s.min = v[i];
        if (v[i] > s.max) s.max = v[i];
        sum += v[i];
        sum2 += v[i] * v[i];
    }
    s.mean = sum / n;
    double var = sum2 / n - s.mean * s.mean;
    s.sd = n > 1 && var > 0 ? sqrt(var) : 0;
    return s;
}

static void print_row(const char *name, spread s, int time)
{
    char a[32], b[32], c[32], d[32];
    if (time) {
        fmt_us(a, sizeof(a), s.min);
        fmt_us(b, sizeof(b), s.max);
        fmt_us(c, sizeof(c), s.mean);
        fmt_us(d, sizeof(d), s.sd);
    } else {
        snprintf(a, sizeof(a), "%.2f", s.min);
        snprintf(b, sizeof(b), "%.2f", s.max);
        snprintf(c, sizeof(c), "%.2f", s.mean);
        snprintf(d, sizeof(d), "%.2f", s.sd);
    }
    printf("%-17s %10s %10s %10s %10s\n", name, a, b, c, d);
}

static double savings(uint64_t wire, uint64_t text)
{
    return text ? 100.0 * (1.0 - (double)wire / (double)text) : 0;
}

static void json_spread(FILE *f, const char *name, spread s, const char *tail)
{
    fprintf(f, "  \"%s\": {\"min\": %.1f, \"max\": %.1f, \"mean\": %.1f, \"sd\": %.1f}%s\n", name,
            s.min, s.max, s.mean, s.sd, tail);
}

static const char bench_usage[] =
    "usage: loom bench [options] URI...\n"
    "\n"
    "Loads an HTTP/2 server (or HTTP/1.1 with --h1), as h2load does: -c connections\n"
    "over -t threads, -m concurrent streams on each, -n requests in all or for -D\n"
    "seconds. https:// URIs speak h2 over TLS (ALPN); http:// URIs h2c by prior\n"
    "knowledge. Several URIs (or -i FILE) are requested in turn; they share one\n"
    "origin.\n"
    "\n"
    "options:\n"
    "  -n N             requests in all (default 1; at least -c)\n"
    "  -c N             clients: connections (default 1)\n"
    "  -m N             concurrent streams per connection (default 1)\n"
    "  -t N             threads, each with its own event loop (default 1)\n"
    "  -D SEC           run for SEC seconds instead of -n\n"
    "  --warm-up-time SEC  with -D: load this long first, unmeasured\n"
    "  --rate R         open loop: R requests per second in all; latency counts from\n"
    "                   when each request should have been sent (no coordinated omission)\n"
    "  -H 'name: value' a request header field (repeatable)\n"
    "  -d FILE          POST FILE's content as each request's body\n"
    "  -i FILE          URIs from FILE, one per line (instead of URI arguments)\n"
    "  --h1             HTTP/1.1 keep-alive, one request at a time per connection\n"
    "  --timeout SEC    a connection with requests out and no answer for SEC seconds\n"
    "                   is closed, its requests counted as timed out (default 30)\n"
    "  --json FILE      every figure, machine-readable\n"
    "  -v               connections as they open and close\n"
    "  -q               no progress lines\n"
    "  --page URL       instead: load a page as a browser does, over h2 on one\n"
    "                   connection and HTTP/1.1 on six and on one, under an emulated\n"
    "                   RTT and rate, and compare (loom bench --page URL --help)\n"
    "\n"
    "On a terminal, one progress line per second. At the end: requests (total,\n"
    "started, done, succeeded, failed, errored, timeout), status codes, traffic\n"
    "with header compression both ways (HPACK octets against HTTP/1.1 text),\n"
    "latency min/mean/max/sd and p50/p90/p99/p99.9, time to connect and to\n"
    "the first byte, req/s and MB/s.\n"
    "exit status: 0 (4xx and 5xx answers count as failed, not as errors); 1 some\n"
    "requests errored or timed out; 2 usage; 3 bad URI;\n"
    "6 DNS; 7 connect; 16 no HTTP/2 (or no HTTP/1.1 with --h1); 28 timeout;\n"
    "35 TLS.\n";

static int uri_parse(const char *u, char *scheme, char *host, char *port, char *authority,
                     char **path)
{
    const char *p;
    if (cli_url_split(u, scheme, host, port, authority, &p) < 0) return -1;
    *path = strdup(*p == '/' ? p : "/");
    return *path ? 0 : -1;
}

static int add_uri(const char *u)
{
    char scheme[8], host[256], port[8], authority[300], *path;
    if (uri_parse(u, scheme, host, port, authority, &path) < 0) {
        fprintf(stderr, "loom bench: %s: not an http:// or https:// URI\n", u);
        return BX_URL;
    }
    if (B.npaths &&
        (strcmp(scheme, B.scheme) || strcasecmp(host, B.host) || strcmp(port, B.port))) {
        fprintf(stderr, "loom bench: %s: every URI must have the same origin as the first\n", u);
        free(path);
        return BX_URL;
    }
    if (B.npaths == MAX_URIS) {
        fprintf(stderr, "loom bench: more than %d URIs\n", MAX_URIS);
        free(path);
        return BX_USAGE;
    }
    memcpy(B.scheme, scheme, sizeof(scheme));
    memcpy(B.host, host, sizeof(host));
    memcpy(B.port, port, sizeof(port));
    memcpy(B.authority, authority, sizeof(authority));
    B.paths[B.npaths++] = path;
    return 0;
}

static int num(const char *flag, const char *v, double lo, double hi, double *out)
{
    return cli_number("loom bench", flag, v, lo, hi, out);
}

static int read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 65536, n = 0, k;
    uint8_t *b = malloc(cap);
    while (b && (k = fread(b + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            uint8_t *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    fclose(f);
    if (!b) return -1;
    *data = b;
    *len = n;
    return 0;
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

int bench_main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--page")) return pageload_main(argc, argv);
    memset(&B, 0, sizeof(B));
    pthread_mutex_init(&B.lock, NULL);
    B.n = 1;
    B.clients = B.streams = B.threads = 1;
    B.timeout = 30;
    signal(SIGPIPE, SIG_IGN);
    const char *ifile = NULL;
    int nuri_args = 0, rc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
#define NUM(flag, lo, hi, dst)                                                                     \
    do {                                                                                           \
        if (num(flag, v, lo, hi, &d) < 0) return BX_USAGE;                                         \
        dst = d;                                                                                   \
        i++;                                                                                       \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(bench_usage, stdout);
            return BX_OK;
        } else if (!strcmp(a, "-n")) {
            NUM("-n", 1, 1e12, B.n);
            if ((double)B.n != d) {
                fprintf(stderr, "loom bench: -n needs a whole number\n");
                return BX_USAGE;
            }
        } else if (!strcmp(a, "-c")) {
            NUM("-c", 1, 100000, B.clients);
        } else if (!strcmp(a, "-m")) {
            NUM("-m", 1, MAX_STREAMS, B.streams);
        } else if (!strcmp(a, "-t")) {
            NUM("-t", 1, 256, B.threads);
        } else if (!strcmp(a, "-D")) {
            NUM("-D", 0.001, 1e6, B.duration);
        } else if (!strcmp(a, "--warm-up-time")) {
            NUM("--warm-up-time", 0, 1e6, B.warmup);
        } else if (!strcmp(a, "--rate")) {
            NUM("--rate", 0.001, 1e9, B.rate);
        } else if (!strcmp(a, "--timeout")) {
            NUM("--timeout", 0.001, 1e6, B.timeout);
        } else if (!strcmp(a, "--h1")) {
            B.h1 = 1;
        } else if (!strcmp(a, "-q")) {
            B.quiet = 1;
        } else if (!strcmp(a, "-v")) {
            B.verbose = 1;
        } else if (!strcmp(a, "--json") || !strcmp(a, "-i") || !strcmp(a, "-d") ||
                   !strcmp(a, "-H")) {
            if (!v) {
                fprintf(stderr, "loom bench: %s needs a value (try: loom bench --help)\n", a);
                return BX_USAGE;
            }
            i++;
            if (a[1] == 'i') {
                ifile = v;
            } else if (a[1] == 'd') {
                if (read_file(v, &B.data, &B.data_len) < 0) {
                    fprintf(stderr, "loom bench: cannot read %s: %s\n", v, strerror(errno));
                    return BX_USAGE;
                }
            } else if (a[1] == 'H') {
                char *name;
                const char *val;
                if (B.nextra == MAX_HEADERS || cl_header_arg(v, 1, &name, &val) < 0) {
                    fprintf(stderr, "loom bench: -H needs 'name: value'\n");
                    return BX_USAGE;
                }
                B.extra[B.nextra++] = (loom_hpack_field){(const uint8_t *)name, strlen(name),
                                                         (const uint8_t *)val, strlen(val), 0};
            } else {
                B.json = v;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "loom bench: unknown option '%s' (try: loom bench --help)\n", a);
            return BX_USAGE;
        } else {
            if ((rc = add_uri(a))) return rc;
            nuri_args++;
        }
#undef NUM
    }
    if (ifile) {
        FILE *f = fopen(ifile, "r");
        if (!f) {
            fprintf(stderr, "loom bench: cannot read %s: %s\n", ifile, strerror(errno));
            return BX_USAGE;
        }
        char line[4096];
        while (fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\r\n")] = 0;
            if (!line[0] || line[0] == '#') continue;
            if ((rc = add_uri(line))) {
                fclose(f);
                return rc;
            }
        }
        fclose(f);
    }
    if (!B.npaths) {
        fputs(bench_usage, stderr);
        return BX_USAGE;
    }
    if (B.duration <= 0 && B.n < (uint64_t)B.clients) {
        fprintf(stderr, "loom bench: -n (%llu) must be at least -c (%d)\n", (unsigned long long)B.n,
                B.clients);
        return BX_USAGE;
    }
    if (B.warmup > 0 && B.duration <= 0) {
        fprintf(stderr, "loom bench: --warm-up-time goes with -D\n");
        return BX_USAGE;
    }
    if (B.threads > B.clients) B.threads = B.clients;
    if (B.h1) B.streams = 1;
    B.method = B.data ? "POST" : "GET";

    /* resolve once: every connection goes to the same address */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int g = getaddrinfo(B.host, B.port, &hints, &res);
    if (g) {
        fprintf(stderr, "loom bench: cannot resolve %s: %s\n", B.host, gai_strerror(g));
        return BX_DNS;
    }
    memcpy(&B.addr, res->ai_addr, res->ai_addrlen);
    B.addrlen = res->ai_addrlen;
    freeaddrinfo(res);

    int https = !strcmp(B.scheme, "https");
    if (https) {
        char err[300];
        B.tls = tls_client_ctx(0, NULL, 0, err, sizeof(err));
        if (B.tls && B.h1) { /* ALPN http/1.1 only */
            static const unsigned char h1alpn[] = "\x08http/1.1";
            SSL_CTX_set_alpn_protos(B.tls, h1alpn, sizeof(h1alpn) - 1);
        }
        if (!B.tls) {
            fprintf(stderr, "loom bench: %s\n", err);
            return BX_TLS;
        }
    }
    cl_opts *o = &B.opts;
    o->mode = https ? CL_TLS : B.h1 ? CL_H1 : CL_H2C;
    o->tls = B.tls;
    o->allow_h1 = B.h1;
    o->verify = 0; /* a load generator, like h2load */
    o->addr = (const struct sockaddr *)&B.addr;
    o->addrlen = B.addrlen;
    loom_config_default(&o->h2, LOOM_CLIENT);
    o->h2.enable_push = 0;
    o->h2.max_concurrent_streams = 0; /* the server opens none */
    o->h2.initial_window_size = (1u << 30);
    o->h2.connection_window = (1u << 30);

    /* threads and their clients */
    B.th = calloc((size_t)B.threads, sizeof(bthread));
    if (!B.th) return BX_FAIL;
    for (int i = 0; i < B.threads; i++) {
        bthread *t = &B.th[i];
        t->id = i;
        t->l = loop_new();
        t->ncl = B.clients / B.threads + (i < B.clients % B.threads);
        t->cl = calloc((size_t)t->ncl, sizeof(bclient));
        histo_reset(&t->lat);
        if (B.rate > 0) t->rate = B.rate / B.threads / 1e6;
        /* -n: a share in proportion to the thread's clients */
        t->quota = B.n / (uint64_t)B.clients * (uint64_t)t->ncl;
        if (!t->l || !t->cl) return BX_FAIL;
        for (int k = 0; k < t->ncl; k++) {
            bclient *c = &t->cl[k];
            c->th = t;
            c->idx = i + k * B.threads;
            c->next_uri = c->idx;
            c->s = calloc((size_t)B.streams, sizeof(bstream));
            c->free_slots = calloc((size_t)B.streams, sizeof(int));
            if (!c->s || !c->free_slots) return BX_FAIL;
            for (int m = 0; m < B.streams; m++) {
                c->s[m].c = c;
                c->s[m].req.cb = &req_cb;
                c->free_slots[c->nfree++] = B.streams - 1 - m;
            }
        }
    }
    for (uint64_t left = B.n % (uint64_t)B.clients, i = 0; left; i++, left--)
        B.th[i % (uint64_t)B.threads].quota++;

    if (!B.quiet) /* on stdout, like h2load's "starting benchmark..." */
        printf("starting benchmark: %s://%s, %d client%s, %d stream%s each, %d thread%s, %s\n",
               B.scheme, B.authority, B.clients, B.clients == 1 ? "" : "s", B.streams,
               B.streams == 1 ? "" : "s", B.threads, B.threads == 1 ? "" : "s",
               B.h1    ? "HTTP/1.1"
               : https ? "h2"
                       : "h2c");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    B.t0 = now_us();
    B.t_measure = B.t0 + (uint64_t)(B.warmup * 1e6);
    B.t_end = B.t_measure + (uint64_t)(B.duration * 1e6);
    for (int i = 0; i < B.threads; i++)
        pthread_create(&B.th[i].pt, NULL, thread_main, &B.th[i]);

    /* progress, once a second, on a terminal */
    int tty = isatty(2) && !B.quiet;
    uint64_t last = 0, last_t = B.t0;
    for (int running = 1; running;) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (interrupted) fatal(BX_FAIL, "interrupted");
        running = 0;
        for (int i = 0; i < B.threads; i++)
            running |= !atomic_load(&B.th[i].finished);
        uint64_t now = now_us();
        if (tty && now - last_t >= 1000000) {
            uint64_t done = 0, err = 0;
            for (int i = 0; i < B.threads; i++) {
                done += atomic_load_explicit(&B.th[i].live_done, memory_order_relaxed);
                err += atomic_load_explicit(&B.th[i].live_err, memory_order_relaxed);
            }
            fprintf(stderr, "progress: %6.1fs %12llu done %10.0f req/s %8llu errors\n",
                    (double)(now - B.t0) / 1e6, (unsigned long long)done,
                    (double)(done - last) * 1e6 / (double)(now - last_t), (unsigned long long)err);
            last = done;
            last_t = now;
        }
    }
    uint64_t t_done = 0;
    for (int i = 0; i < B.threads; i++) {
        pthread_join(B.th[i].pt, NULL);
        if (B.th[i].t_last > t_done) t_done = B.th[i].t_last; /* the last answer */
    }
    if (!t_done) t_done = now_us();
    if (B.fatal && B.fatal_code != BX_FAIL) {
        fprintf(stderr, "loom bench: %s://%s: %s\n", B.scheme, B.authority, B.fatal_msg);
        return B.fatal_code;
    }

    /* ---- the figures ---- */
    counts k;
    memset(&k, 0, sizeof(k));
    histo *lat = malloc(sizeof(histo));
    if (!lat) return BX_FAIL;
    histo_reset(lat);
    int nc = 0;
    double *conn_t = calloc((size_t)B.clients, sizeof(double));
    double *ttfb = calloc((size_t)B.clients, sizeof(double));
    double *rps_c = calloc((size_t)B.clients, sizeof(double));
    uint64_t bytes = 0;
    int nconn = 0, nttfb = 0, nrps = 0;
    for (int i = 0; i < B.threads; i++) {
        bthread *t = &B.th[i];
        counts *c = &t->c;
        k.done += c->done;
        k.succeeded += c->succeeded;
        k.failed += c->failed;
        k.errored += c->errored;
        k.timeout += c->timeout;
        k.started += c->started;
        for (int s = 0; s < 6; s++)
            k.status[s] += c->status[s];
        k.data += c->data;
        k.req_head_wire += c->req_head_wire;
        k.req_head_text += c->req_head_text;
        k.resp_head_wire += c->resp_head_wire;
        k.resp_head_text += c->resp_head_text;
        histo_merge(lat, &t->lat);
        for (int j = 0; j < t->ncl; j++, nc++) {
            bclient *c2 = &t->cl[j];
            bytes += c2->bytes_in - c2->bytes_base;
            if (c2->ever_ready) conn_t[nconn++] = (double)c2->connect_us;
            if (c2->first_byte) ttfb[nttfb++] = (double)c2->ttfb_us;
            if (c2->done && c2->t_last_done > c2->t_first_send)
                rps_c[nrps++] =
                    (double)c2->done * 1e6 / (double)(c2->t_last_done - c2->t_first_send);
        }
    }
    uint64_t t_from = B.warmup > 0 ? B.t_measure : B.t0;
    double secs =
        (double)((B.duration > 0 ? (B.t_end < t_done ? B.t_end : t_done) : t_done) - t_from) / 1e6;
    if (secs <= 0) secs = 1e-6;
    char tb[32], hb[32], db[32], rb[32];
    fmt_bytes(tb, sizeof(tb), (double)bytes);
    fmt_bytes(db, sizeof(db), (double)k.data);
    fmt_bytes(hb, sizeof(hb), (double)k.resp_head_wire);
    fmt_bytes(rb, sizeof(rb), (double)bytes / secs);
    printf("\nfinished in %.2fs, %.2f req/s, %s/s\n", secs, (double)k.done / secs, rb);
    uint64_t total = B.duration > 0 ? k.started : B.n;
    printf("requests: %llu total, %llu started, %llu done, %llu succeeded, %llu failed, %llu "
           "errored, %llu timeout\n",
           (unsigned long long)total, (unsigned long long)k.started, (unsigned long long)k.done,
           (unsigned long long)k.succeeded, (unsigned long long)k.failed,
           (unsigned long long)k.errored, (unsigned long long)k.timeout);
    printf("status codes: %llu 2xx, %llu 3xx, %llu 4xx, %llu 5xx\n",
           (unsigned long long)k.status[2], (unsigned long long)k.status[3],
           (unsigned long long)k.status[4], (unsigned long long)k.status[5]);
    printf("traffic: %s (%llu) total, %s (%llu) headers (space savings %.2f%%), %s (%llu) data\n",
           tb, (unsigned long long)bytes, hb, (unsigned long long)k.resp_head_wire,
           savings(k.resp_head_wire, k.resp_head_text), db, (unsigned long long)k.data);
    printf("header compression: requests %llu octets on the wire for %llu as HTTP/1.1 text "
           "(%.2f%% saved), responses %llu for %llu (%.2f%% saved)\n",
           (unsigned long long)k.req_head_wire, (unsigned long long)k.req_head_text,
           savings(k.req_head_wire, k.req_head_text), (unsigned long long)k.resp_head_wire,
           (unsigned long long)k.resp_head_text, savings(k.resp_head_wire, k.resp_head_text));
    printf("%-17s %10s %10s %10s %10s\n", "", "min", "max", "mean", "sd");
    spread ls = {(double)(lat->count ? lat->min : 0), (double)lat->max, histo_mean(lat),
                 histo_sd(lat), (int)lat->count};
    print_row("time for request:", ls, 1);
    spread cs = spread_of(conn_t, nconn), fs = spread_of(ttfb, nttfb), rs = spread_of(rps_c, nrps);
    print_row("time for connect:", cs, 1);
    print_row("time to 1st byte:", fs, 1);
    print_row("req/s per client:", rs, 0);
    char p50[32], p90[32], p99[32], p999[32];
    fmt_us(p50, sizeof(p50), (double)histo_quantile(lat, 0.50));
    fmt_us(p90, sizeof(p90), (double)histo_quantile(lat, 0.90));
    fmt_us(p99, sizeof(p99), (double)histo_quantile(lat, 0.99));
    fmt_us(p999, sizeof(p999), (double)histo_quantile(lat, 0.999));
    printf("latency percentiles: p50 %s, p90 %s, p99 %s, p99.9 %s%s\n", p50, p90, p99, p999,
           B.rate > 0 ? " (from intended send times)" : "");
    fflush(stdout);

    /* 4xx and 5xx are answers (counted as failed, as h2load does); a
     * request that got none is what makes the run fail */
    int status = k.errored || k.timeout || B.fatal ? BX_FAIL : BX_OK;
    if (B.fatal) fprintf(stderr, "loom bench: %s\n", B.fatal_msg);
    if (B.json) {
        FILE *f = fopen(B.json, "w");
        if (!f) {
            fprintf(stderr, "loom bench: cannot write %s: %s\n", B.json, strerror(errno));
            status = BX_FAIL;
        } else {
            fprintf(f, "{\n  \"tool\": \"loom bench\",\n  \"version\": \"%s\",\n", loom_version());
            fprintf(f, "  \"target\": \"%s://%s\",\n  \"protocol\": \"%s\",\n", B.scheme,
                    B.authority,
                    B.h1    ? "http/1.1"
                    : https ? "h2"
                            : "h2c");
            fprintf(f,
                    "  \"clients\": %d,\n  \"streams\": %d,\n  \"threads\": %d,\n  \"rate\": %.3f,"
                    "\n  \"duration_s\": %.6f,\n",
                    B.clients, B.streams, B.threads, B.rate, secs);
            fprintf(f,
                    "  \"requests\": {\"total\": %llu, \"started\": %llu, \"done\": %llu, "
                    "\"succeeded\": %llu, \"failed\": %llu, \"errored\": %llu, \"timeout\": "
                    "%llu},\n",
                    (unsigned long long)total, (unsigned long long)k.started,
                    (unsigned long long)k.done, (unsigned long long)k.succeeded,
                    (unsigned long long)k.failed, (unsigned long long)k.errored,
                    (unsigned long long)k.timeout);
            fprintf(f,
                    "  \"status\": {\"1xx\": %llu, \"2xx\": %llu, \"3xx\": %llu, \"4xx\": %llu, "
                    "\"5xx\": %llu},\n",
                    (unsigned long long)k.status[1], (unsigned long long)k.status[2],
                    (unsigned long long)k.status[3], (unsigned long long)k.status[4],
                    (unsigned long long)k.status[5]);
            fprintf(f,
                    "  \"traffic\": {\"total_bytes\": %llu, \"data_bytes\": %llu,\n"
                    "    \"request_headers\": {\"wire\": %llu, \"http1_text\": %llu, "
                    "\"savings_pct\": %.2f},\n"
                    "    \"response_headers\": {\"wire\": %llu, \"http1_text\": %llu, "
                    "\"savings_pct\": %.2f}},\n",
                    (unsigned long long)bytes, (unsigned long long)k.data,
                    (unsigned long long)k.req_head_wire, (unsigned long long)k.req_head_text,
                    savings(k.req_head_wire, k.req_head_text), (unsigned long long)k.resp_head_wire,
                    (unsigned long long)k.resp_head_text,
                    savings(k.resp_head_wire, k.resp_head_text));
            fprintf(f,
                    "  \"latency_us\": {\"min\": %llu, \"max\": %llu, \"mean\": %.1f, \"sd\": "
                    "%.1f, \"p50\": %llu, \"p90\": %llu, \"p99\": %llu, \"p999\": %llu, "
                    "\"count\": %llu, \"from_intended_time\": %s},\n",
                    (unsigned long long)(lat->count ? lat->min : 0), (unsigned long long)lat->max,
                    histo_mean(lat), histo_sd(lat), (unsigned long long)histo_quantile(lat, 0.5),
                    (unsigned long long)histo_quantile(lat, 0.9),
                    (unsigned long long)histo_quantile(lat, 0.99),
                    (unsigned long long)histo_quantile(lat, 0.999), (unsigned long long)lat->count,
                    B.rate > 0 ? "true" : "false");
            json_spread(f, "connect_us", cs, ",");
            json_spread(f, "ttfb_us", fs, ",");
            json_spread(f, "rps_per_client", rs, ",");
            fprintf(f, "  \"rps\": %.2f,\n  \"bytes_per_s\": %.2f\n}\n", (double)k.done / secs,
                    (double)bytes / secs);
            if (fclose(f) != 0) status = BX_FAIL;
        }
    }
    for (int i = 0; i < B.threads; i++) {
        for (int j = 0; j < B.th[i].ncl; j++) {
            free(B.th[i].cl[j].s);
            free(B.th[i].cl[j].free_slots);
        }
        free(B.th[i].cl);
        loop_free(B.th[i].l);
    }
    free(B.th);
    free(conn_t);
    free(ttfb);
    free(rps_c);
    free(lat);
    for (int i = 0; i < B.npaths; i++)
        free(B.paths[i]);
    for (size_t i = 0; i < B.nextra; i++)
        free((void *)B.extra[i].name);
    free(B.data);
    if (B.tls) SSL_CTX_free(B.tls);
    (void)nc;
    return status;
}
