/* RFC 9113 conformance of the connection engine, one case per rule the
 * engine can observe, named by section.
 *
 * Each case creates a server engine (or a client engine, for the rules a
 * client enforces), feeds it the peer's preface and SETTINGS, then frames
 * built here byte by byte (a 9-octet header + payload; field blocks are HPACK
 * written by hand from the RFC 7541 Appendix A static table, never by loom's
 * encoder). The engine's reaction is read back by parsing its output, and is
 * checked exactly:
 *  - a connection error: one GOAWAY with the exact code, and every later
 *    input is ignored (RFC 9113 §5.4.1);
 *  - a stream error: one RST_STREAM with the exact code on the exact stream,
 *    and the connection goes on: a PING still gets its ACK (§5.4.2);
 *  - nothing: the frame is ignored or accepted silently;
 * plus the events the application saw. Every frame the engine sends is also
 * checked against §4.1 (reserved bit unset, no undefined flags). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loom/loom.h"

/* ---- frame types and flags, as on the wire (RFC 9113 §6) ---- */

enum {
    F_DATA = 0x0,
    F_HEADERS = 0x1,
    F_PRIORITY = 0x2,
    F_RST = 0x3,
    F_SETTINGS = 0x4,
    F_PUSH = 0x5,
    F_PING = 0x6,
    F_GOAWAY = 0x7,
    F_WU = 0x8,
    F_CONT = 0x9,
    F_ORIGIN = 0xc,       /* RFC 8336 */
    F_PRIO_UPDATE = 0x10, /* RFC 9218 */
};
enum { ES = 0x1, ACK = 0x1, EH = 0x4, PADDED = 0x8, PRIO = 0x20 };
/* SETTINGS identifiers (§6.5.2) */
enum {
    S_TABLE = 1,
    S_PUSH = 2,
    S_MCS = 3,
    S_WINDOW = 4,
    S_FRAME = 5,
    S_LIST = 6,
    S_CONNECT = 8,
    S_NO_PRIO = 9
};

static const char MAGIC[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* ---- what the engine did ---- */

typedef struct {
    int type;
    int32_t sid;
    int end_stream, status;
    int32_t promised;
    uint32_t code, last_id;
    int by_peer, retry_safe;
    size_t len;
    int err;
    int urgency, incremental;
    char fields[600]; /* "\nname: value\n..." of HEADERS, TRAILERS, PUSH_PROMISE */
} ev_t;

typedef struct {
    uint8_t type, flags;
    uint32_t sid, len;
    uint32_t code, last_id, inc, promised;
    uint8_t opaque[8];
    size_t block_off, block_len; /* HEADERS / PUSH_PROMISE / CONTINUATION fragment */
    size_t data_len;
} ofr_t;

#define MAX_EV  1024
#define MAX_FR  2048
#define OUT_CAP (8u << 20)

typedef struct {
    loom_conn *c;
    loom_role role;
    uint64_t now;
    int rc; /* what the last loom_conn_recv() returned */
    ev_t ev[MAX_EV];
    int nev;
    uint8_t *out; /* everything the engine wrote */
    size_t out_len, parsed;
    int magic_seen;
    ofr_t fr[MAX_FR];
    int nfr, mark; /* frames since `mark` are the new ones */
    uint8_t data[1 << 17];
    size_t data_len; /* DATA event payloads, concatenated */
} tstate;

static tstate *t;

static uint64_t clock_cb(void *user)
{
    (void)user;
    return t->now;
}

static void add_field(ev_t *r, const loom_hpack_field *f)
{
    size_t at = strlen(r->fields);
    if (at == 0) r->fields[at++] = '\n';
    int n = snprintf(r->fields + at, sizeof(r->fields) - at, "%.*s: %.*s\n", (int)f->name_len,
                     (const char *)f->name, (int)f->value_len, (const char *)f->value);
    (void)n;
}

static int on_event(loom_conn *c, const loom_event *e, void *user)
{
    (void)c;
    (void)user;
    if (e->type == LOOM_EV_FRAME || t->nev == MAX_EV) return 0;
    ev_t *r = &t->ev[t->nev++];
    memset(r, 0, sizeof(*r));
    r->type = e->type;
    r->sid = e->stream_id;
    switch (e->type) {
    case LOOM_EV_HEADERS:
    case LOOM_EV_TRAILERS:
        r->end_stream = e->u.headers.end_stream;
        r->status = e->u.headers.status;
        for (size_t i = 0; i < e->u.headers.n; i++)
            add_field(r, &e->u.headers.fields[i]);
        break;
    case LOOM_EV_PUSH_PROMISE:
        r->promised = e->u.push.promised_id;
        for (size_t i = 0; i < e->u.push.n; i++)
            add_field(r, &e->u.push.fields[i]);
        break;
    case LOOM_EV_DATA:
        r->len = e->u.data.len;
        r->end_stream = e->u.data.end_stream;
        if (t->data_len + e->u.data.len <= sizeof(t->data))
            memcpy(t->data + t->data_len, e->u.data.data, e->u.data.len);
        t->data_len += e->u.data.len;
        break;
    case LOOM_EV_STREAM_CLOSED:
        r->code = e->u.closed.error_code;
        r->by_peer = e->u.closed.by_peer;
        r->retry_safe = e->u.closed.retry_safe;
        break;
    case LOOM_EV_GOAWAY:
        r->code = e->u.goaway.error_code;
        r->last_id = e->u.goaway.last_stream_id;
        r->len = e->u.goaway.debug_len;
        break;
    case LOOM_EV_PRIORITY:
        r->urgency = e->u.priority.urgency;
        r->incremental = e->u.priority.incremental;
        break;
    case LOOM_EV_ERROR: r->err = e->u.error.err; break;
    default: break;
    }
    return 0;
}

static const ev_t *ev_find(int type, int32_t sid)
{
    for (int i = 0; i < t->nev; i++)
        if (t->ev[i].type == type && t->ev[i].sid == sid) return &t->ev[i];
    return NULL;
}

static int ev_count(int type)
{
    int n = 0;
    for (int i = 0; i < t->nev; i++)
        n += t->ev[i].type == type;
    return n;
}

static int has_field(const ev_t *e, const char *line)
{
    char want[256];
    snprintf(want, sizeof(want), "\n%s\n", line);
    return e && strstr(e->fields, want) != NULL;
}

/* The flags RFC 9113 defines per type: anything else MUST be sent as 0 (§4.1). */
static uint8_t defined_flags(uint8_t type)
{
    switch (type) {
    case F_DATA: return ES | PADDED;
    case F_HEADERS: return ES | EH | PADDED | PRIO;
    case F_SETTINGS:
    case F_PING: return ACK;
    case F_PUSH: return EH | PADDED;
    case F_CONT: return EH;
    default: return 0;
    }
}

/* Parses what the engine wrote since the last call into t->fr. */
static void parse_out(void)
{
    size_t p = t->parsed;
    if (t->role == LOOM_CLIENT && !t->magic_seen) {
        if (t->out_len < 24) return;
        /* §3.4: the client preface starts with the magic octets */
        assert_memory_equal(t->out, MAGIC, 24);
        t->magic_seen = 1;
        p = 24;
    }
    while (p < t->out_len) {
        loom_frame f;
        loom_frame_error e;
        assert_true(t->out_len - p >= 9);
        /* §4.1: the reserved bit MUST remain unset when sending */
        assert_int_equal(t->out[p + 5] & 0x80, 0);
        int rc = loom_frame_parse(t->out + p, t->out_len - p, LOOM_MAX_FRAME_SIZE_MAX, &f, &e);
        assert_true(rc > 0);
        /* §4.1: flags without defined semantics MUST be left unset */
        assert_int_equal(f.hd.flags & ~defined_flags(f.hd.type), 0);
        assert_true(t->nfr < MAX_FR);
        ofr_t *o = &t->fr[t->nfr++];
        memset(o, 0, sizeof(*o));
        o->type = f.hd.type;
        o->flags = f.hd.flags;
        o->sid = f.hd.stream_id;
        o->len = f.hd.length;
        switch (f.hd.type) {
        case F_DATA: o->data_len = f.u.data.len; break;
        case F_HEADERS:
            o->block_off = (size_t)(f.u.headers.block - t->out);
            o->block_len = f.u.headers.len;
            break;
        case F_CONT:
            o->block_off = (size_t)(f.u.continuation.block - t->out);
            o->block_len = f.u.continuation.len;
            break;
        case F_PUSH:
            o->promised = f.u.push_promise.promised_id;
            o->block_off = (size_t)(f.u.push_promise.block - t->out);
            o->block_len = f.u.push_promise.len;
            break;
        case F_RST: o->code = f.u.rst_stream.error_code; break;
        case F_GOAWAY:
            o->code = f.u.goaway.error_code;
            o->last_id = f.u.goaway.last_stream_id;
            break;
        case F_WU: o->inc = f.u.window_update.increment; break;
        case F_PING: memcpy(o->opaque, f.u.ping.opaque, 8); break;
        default: break;
        }
        p += (size_t)rc;
    }
    t->parsed = p;
}

/* Takes everything the engine has to write, as a socket would. */
static void drain(void)
{
    loom_out o[16];
    size_t n;
    while ((n = loom_conn_send(t->c, o, 16)) > 0) {
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
            assert_true(t->out_len + o[i].len <= OUT_CAP);
            if (o[i].fd >= 0) {
                assert_int_equal(pread(o[i].fd, t->out + t->out_len, o[i].len, (off_t)o[i].off),
                                 (ssize_t)o[i].len);
            } else {
                memcpy(t->out + t->out_len, o[i].base, o[i].len);
            }
            t->out_len += o[i].len;
            total += o[i].len;
        }
        loom_conn_sent(t->c, total);
    }
    parse_out();
}

static int nnew(void)
{
    return t->nfr - t->mark;
}

static const ofr_t *fr_new(int i)
{
    assert_true(i < nnew());
    return &t->fr[t->mark + i];
}

static int count_new(uint8_t type)
{
    int n = 0;
    for (int i = t->mark; i < t->nfr; i++)
        n += t->fr[i].type == type;
    return n;
}

/* DATA octets sent (on sid, or on every stream when sid < 0) since mark. */
static size_t data_new(int64_t sid)
{
    size_t n = 0;
    for (int i = t->mark; i < t->nfr; i++)
        if (t->fr[i].type == F_DATA && (sid < 0 || t->fr[i].sid == (uint32_t)sid))
            n += t->fr[i].data_len;
    return n;
}

static void mark(void)
{
    t->mark = t->nfr;
}

/* Drains, and forgets the frames and events so far. */
static void settle(void)
{
    drain();
    mark();
    t->nev = 0;
    t->data_len = 0;
}

/* ---- building input ---- */

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static int feed(const void *p, size_t n)
{
    t->rc = loom_conn_recv(t->c, p, n);
    return t->rc;
}

/* One frame: the 9-octet header (§4.1) with length = len, then the payload.
 * sid is written as given, so a test can set the reserved bit. */
static int frame(uint8_t type, uint8_t flags, uint32_t sid, const void *payload, size_t len)
{
    uint8_t *b = malloc(9 + len);
    assert_non_null(b);
    b[0] = (uint8_t)(len >> 16);
    b[1] = (uint8_t)(len >> 8);
    b[2] = (uint8_t)len;
    b[3] = type;
    b[4] = flags;
    put32(b + 5, sid);
    if (len) memcpy(b + 9, payload, len);
    int rc = feed(b, 9 + len);
    free(b);
    return rc;
}

/* A payload under construction. */
static struct {
    uint8_t p[1 << 17];
    size_t n;
} P;

static void p_clear(void)
{
    P.n = 0;
}

static void p_u8(uint8_t v)
{
    P.p[P.n++] = v;
}

static void p_u32(uint32_t v)
{
    put32(P.p + P.n, v);
    P.n += 4;
}

static void p_mem(const void *m, size_t n)
{
    memcpy(P.p + P.n, m, n);
    P.n += n;
}

static void p_fill(uint8_t v, size_t n)
{
    memset(P.p + P.n, v, n);
    P.n += n;
}

/* A SETTINGS entry (§6.5.1): 16-bit id, 32-bit value. */
static void p_set(uint16_t id, uint32_t v)
{
    p_u8((uint8_t)(id >> 8));
    p_u8((uint8_t)id);
    p_u32(v);
}

static int p_send(uint8_t type, uint8_t flags, uint32_t sid)
{
    return frame(type, flags, sid, P.p, P.n);
}

static int settings1(uint16_t id, uint32_t v)
{
    p_clear();
    p_set(id, v);
    return p_send(F_SETTINGS, 0, 0);
}

static int ping(uint8_t flags, uint32_t sid, const char *opaque8)
{
    return frame(F_PING, flags, sid, opaque8, 8);
}

static int rst(uint32_t sid, uint32_t code)
{
    uint8_t b[4];
    put32(b, code);
    return frame(F_RST, 0, sid, b, 4);
}

static int wu(uint32_t sid, uint32_t inc)
{
    uint8_t b[4];
    put32(b, inc);
    return frame(F_WU, 0, sid, b, 4);
}

static int goaway(uint32_t last, uint32_t code, const char *debug)
{
    p_clear();
    p_u32(last);
    p_u32(code);
    if (debug) p_mem(debug, strlen(debug));
    return p_send(F_GOAWAY, 0, 0);
}

/* PRIORITY (§6.3): E + dependency, weight. */
static int priority(uint32_t sid, uint32_t dep, uint8_t weight)
{
    uint8_t b[5];
    put32(b, dep);
    b[4] = weight;
    return frame(F_PRIORITY, 0, sid, b, 5);
}

static int data(uint32_t sid, uint8_t flags, const char *s)
{
    return frame(F_DATA, flags, sid, s, strlen(s));
}

static int data_n(uint32_t sid, uint8_t flags, size_t n)
{
    p_clear();
    p_fill('d', n);
    return p_send(F_DATA, flags, sid);
}

static int prio_update(uint32_t prioritized, const char *value)
{
    p_clear();
    p_u32(prioritized);
    p_mem(value, strlen(value));
    return p_send(F_PRIO_UPDATE, 0, 0);
}

/* ---- HPACK by hand (RFC 7541) ---- */

static struct {
    uint8_t p[1 << 17];
    size_t n;
} B;

static void hb_clear(void)
{
    B.n = 0;
}

static void hb_byte(uint8_t b)
{
    B.p[B.n++] = b;
}

/* §5.1 prefix integer: `first` holds the representation's pattern bits. */
static void hb_int(uint8_t first, int prefix, uint32_t v)
{
    uint32_t max = (1u << prefix) - 1;
    if (v < max) {
        hb_byte((uint8_t)(first | v));
        return;
    }
    hb_byte((uint8_t)(first | max));
    v -= max;
    while (v >= 128) {
        hb_byte((uint8_t)(0x80 | (v & 0x7f)));
        v >>= 7;
    }
    hb_byte((uint8_t)v);
}

/* §5.2 string literal, H = 0 */
static void hb_strn(const char *s, size_t n)
{
    hb_int(0x00, 7, (uint32_t)n);
    memcpy(B.p + B.n, s, n);
    B.n += n;
}

/* §6.1 indexed field */
static void hb_idx(uint32_t i)
{
    hb_int(0x80, 7, i);
}

/* §6.2.2 literal without indexing, name from the static table */
static void hb_litn(uint32_t idx, const char *v, size_t vn)
{
    hb_int(0x00, 4, idx);
    hb_strn(v, vn);
}

static void hb_lit(uint32_t idx, const char *v)
{
    hb_litn(idx, v, strlen(v));
}

/* §6.2.2 literal without indexing, new name */
static void hb_newn(const char *name, size_t nn, const char *v, size_t vn)
{
    hb_byte(0x00);
    hb_strn(name, nn);
    hb_strn(v, vn);
}

static void hb_new(const char *name, const char *v)
{
    hb_newn(name, strlen(name), v, strlen(v));
}

/* §6.2.1 literal with incremental indexing, new name: enters the dynamic
 * table, then referenced as index 62 (the first dynamic entry). */
static void hb_inc(const char *name, const char *v)
{
    hb_byte(0x40);
    hb_strn(name, strlen(name));
    hb_strn(v, strlen(v));
}

/* Static table (Appendix A): 1 :authority, 2 :method GET, 3 :method POST,
 * 4 :path /, 5 :path /index.html, 6 :scheme http, 7 :scheme https,
 * 8 :status 200, 28 content-length, 57 transfer-encoding. */
enum {
    I_AUTHORITY = 1,
    I_GET = 2,
    I_POST = 3,
    I_PATH = 4,
    I_PATH_INDEX = 5,
    I_HTTP = 6,
    I_HTTPS = 7,
    I_200 = 8,
    I_CONTENT_LENGTH = 28,
    I_TRANSFER_ENCODING = 57,
};

/* GET https://example.com/ : 82 87 84 01 0b "example.com" */
static void hb_req(void)
{
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_idx(I_PATH);
    hb_lit(I_AUTHORITY, "example.com");
}

/* the request a server promises: GET https://example.com/pushed */
static void hb_push_req(void)
{
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_lit(I_PATH, "/pushed");
    hb_lit(I_AUTHORITY, "example.com");
}

static int headers(uint32_t sid, uint8_t flags)
{
    return frame(F_HEADERS, flags, sid, B.p, B.n);
}

static int cont(uint32_t sid, uint8_t flags, const uint8_t *p, size_t n)
{
    return frame(F_CONT, flags, sid, p, n);
}

static int push_promise(uint32_t sid, uint8_t flags, uint32_t promised)
{
    p_clear();
    p_u32(promised);
    p_mem(B.p, B.n);
    return p_send(F_PUSH, flags, sid);
}

/* ---- engines ---- */

static void make(loom_role role, loom_config *cfg)
{
    loom_config def;
    if (!cfg) {
        loom_config_default(&def, role);
        cfg = &def;
    }
    cfg->now_ms = clock_cb;
    t->role = role;
    t->c = loom_conn_new(role, cfg, on_event, NULL);
    assert_non_null(t->c);
    drain();
    /* §3.4: the engine's SETTINGS is the first frame it sends */
    assert_true(t->nfr >= 1);
    assert_int_equal(t->fr[0].type, F_SETTINGS);
    assert_int_equal(t->fr[0].flags, 0);
    settle();
}

/* The peer's preface: (client magic,) SETTINGS with P's entries, and
 * optionally the ACK of the engine's SETTINGS. */
static void handshake(int ack)
{
    if (t->role == LOOM_SERVER) assert_int_equal(feed(MAGIC, 24), 0);
    assert_int_equal(p_send(F_SETTINGS, 0, 0), 0);
    if (ack) assert_int_equal(frame(F_SETTINGS, ACK, 0, NULL, 0), 0);
    drain();
    /* §6.5.3: the peer's SETTINGS is acknowledged */
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_SETTINGS);
    assert_int_equal(fr_new(0)->flags, ACK);
    assert_int_equal(fr_new(0)->len, 0);
    settle();
}

static void srv_with(loom_config *cfg)
{
    make(LOOM_SERVER, cfg);
    p_clear();
    handshake(1);
}

static void srv(void)
{
    srv_with(NULL);
}

/* A server whose client sent the SETTINGS entries already in P. */
static void srv_settings(void)
{
    make(LOOM_SERVER, NULL);
    handshake(1);
}

static void cli_with(loom_config *cfg)
{
    make(LOOM_CLIENT, cfg);
    p_clear();
    handshake(1);
}

static void cli(void)
{
    cli_with(NULL);
}

static loom_config server_cfg(void)
{
    loom_config c;
    loom_config_default(&c, LOOM_SERVER);
    return c;
}

static loom_config client_cfg(void)
{
    loom_config c;
    loom_config_default(&c, LOOM_CLIENT);
    return c;
}

#define FLD(n, v)                                                                                  \
    {                                                                                              \
        (const uint8_t *)(n), sizeof(n) - 1, (const uint8_t *)(v), sizeof(v) - 1, 0                \
    }

/* Client: sends a request; returns its stream id. */
static int32_t request(const char *method)
{
    loom_hpack_field f[] = {
        {(const uint8_t *)":method", 7, (const uint8_t *)method, strlen(method), 0},
        FLD(":scheme", "https"),
        FLD(":authority", "example.com"),
        FLD(":path", "/"),
    };
    int32_t sid = loom_request(t->c, f, 4, NULL);
    assert_true(sid > 0);
    settle();
    return sid;
}

/* Server: a request on sid (GET https://example.com/), delivered. */
static void open_req(uint32_t sid, uint8_t flags)
{
    hb_clear();
    hb_req();
    assert_int_equal(headers(sid, EH | flags), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, (int32_t)sid);
    assert_non_null(e);
    assert_int_equal(e->end_stream, (flags & ES) != 0);
    settle();
}

/* Server: answers sid with 200 and `body` octets of body. */
static void respond(int32_t sid, size_t body)
{
    static uint8_t bytes[1 << 17];
    memset(bytes, 'r', sizeof(bytes));
    loom_hpack_field f[] = {FLD(":status", "200")};
    loom_body b = {.data = bytes, .len = body, .fd = -1};
    assert_int_equal(loom_respond(t->c, sid, f, 1, body ? &b : NULL), 0);
}

/* Server: promises GET https://example.com/style.css on sid. */
static int32_t push(int32_t sid)
{
    loom_hpack_field f[] = {FLD(":method", "GET"), FLD(":scheme", "https"),
                            FLD(":authority", "example.com"), FLD(":path", "/style.css")};
    return loom_push(t->c, sid, f, 4);
}

/* ---- expectations ---- */

/* The connection still works: a PING gets its ACK, with the same payload. */
static void alive(void)
{
    drain();
    mark();
    assert_int_equal(ping(0, 0, "alive!!!"), 0);
    drain();
    assert_int_equal(nnew(), 1);
    const ofr_t *f = fr_new(0);
    assert_int_equal(f->type, F_PING);
    assert_int_equal(f->flags, ACK);
    assert_memory_equal(f->opaque, "alive!!!", 8);
    mark();
}

static uint32_t goaway_last; /* last stream id of the GOAWAY of expect_conn_error() */

/* §5.4.1: a connection error: exactly one GOAWAY with code, then nothing
 * the peer sends is processed. */
static void expect_conn_error(uint32_t code)
{
    drain();
    assert_true(t->rc < 0);
    assert_int_equal(loom_err_h2_code(t->rc), code);
    assert_int_equal(nnew(), 1);
    const ofr_t *g = fr_new(0);
    assert_int_equal(g->type, F_GOAWAY);
    assert_int_equal(g->code, code);
    goaway_last = g->last_id;
    assert_int_equal(ev_count(LOOM_EV_ERROR), 1);
    int rc = t->rc, nev = t->nev;
    mark();
    assert_int_equal(ping(0, 0, "ignored!"), rc);
    hb_clear();
    hb_req();
    assert_int_equal(headers(101, EH | ES), rc);
    drain();
    assert_int_equal(nnew(), 0);
    assert_int_equal(t->nev, nev);
    assert_true(loom_conn_done(t->c));
}

/* §5.4.2: a stream error: exactly one RST_STREAM with code on sid; the
 * connection lives on. */
static void expect_stream_error(uint32_t sid, uint32_t code)
{
    drain();
    assert_int_equal(t->rc, 0);
    assert_int_equal(nnew(), 1);
    const ofr_t *f = fr_new(0);
    assert_int_equal(f->type, F_RST);
    assert_int_equal(f->sid, sid);
    assert_int_equal(f->code, code);
    assert_int_equal(ev_count(LOOM_EV_ERROR), 0);
    alive();
}

/* Nothing sent, no error, and the connection lives on. */
static void expect_nothing(void)
{
    drain();
    assert_int_equal(t->rc, 0);
    assert_int_equal(nnew(), 0);
    assert_int_equal(ev_count(LOOM_EV_ERROR), 0);
    alive();
}

/* No RST_STREAM nor GOAWAY (other frames, such as WINDOW_UPDATE, allowed). */
static void expect_no_error(void)
{
    drain();
    assert_int_equal(t->rc, 0);
    assert_int_equal(count_new(F_RST) + count_new(F_GOAWAY), 0);
    assert_int_equal(ev_count(LOOM_EV_ERROR), 0);
    alive();
}

/* Server: B sent as a request on sid is malformed (§8.1.1): RST_STREAM
 * PROTOCOL_ERROR, never delivered as a request. */
static void expect_malformed_request(uint32_t sid)
{
    assert_int_equal(headers(sid, EH | ES), 0);
    assert_null(ev_find(LOOM_EV_HEADERS, (int32_t)sid));
    expect_stream_error(sid, LOOM_H2_PROTOCOL_ERROR);
}

static void expect_request_accepted(uint32_t sid)
{
    assert_int_equal(headers(sid, EH | ES), 0);
    assert_non_null(ev_find(LOOM_EV_HEADERS, (int32_t)sid));
    expect_nothing();
}

/* Client: B sent as the response on sid is malformed: RST_STREAM
 * PROTOCOL_ERROR, not delivered. */
static void expect_malformed_response(uint32_t sid)
{
    assert_int_equal(headers(sid, EH | ES), 0);
    assert_null(ev_find(LOOM_EV_HEADERS, (int32_t)sid));
    expect_stream_error(sid, LOOM_H2_PROTOCOL_ERROR);
}

#define TEST(fn) static void fn(void **state __attribute__((unused)))

/* ======================= §3.4 connection preface ======================= */

TEST(preface_invalid)
{
    make(LOOM_SERVER, NULL);
    feed("PRI * HTTP/1.1\r\n\r\nSM\r\n\r\n", 24);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(preface_http1)
{
    make(LOOM_SERVER, NULL);
    const char *r = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    feed(r, strlen(r));
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(preface_not_settings)
{
    make(LOOM_SERVER, NULL);
    assert_int_equal(feed(MAGIC, 24), 0);
    ping(0, 0, "12345678");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(preface_settings_ack)
{
    make(LOOM_SERVER, NULL);
    assert_int_equal(feed(MAGIC, 24), 0);
    frame(F_SETTINGS, ACK, 0, NULL, 0);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(preface_split)
{
    make(LOOM_SERVER, NULL);
    uint8_t in[24 + 9 + 6];
    memcpy(in, MAGIC, 24);
    const uint8_t st[] = {0, 0, 6, F_SETTINGS, 0, 0, 0, 0, 0, 0, S_MCS, 0, 0, 0, 7};
    memcpy(in + 24, st, sizeof(st));
    for (size_t i = 0; i < sizeof(in); i++)
        assert_int_equal(feed(in + i, 1), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_SETTINGS);
    assert_int_equal(fr_new(0)->flags, ACK);
    assert_int_equal(ev_count(LOOM_EV_SETTINGS), 1);
    assert_int_equal(loom_conn_peer_setting(t->c, S_MCS), 7);
}

TEST(preface_server_settings_first)
{
    loom_config cfg = server_cfg();
    cfg.now_ms = clock_cb;
    t->role = LOOM_SERVER;
    t->c = loom_conn_new(LOOM_SERVER, &cfg, on_event, NULL);
    assert_non_null(t->c);
    drain();
    assert_true(t->nfr >= 1);
    assert_int_equal(t->fr[0].type, F_SETTINGS);
    assert_int_equal(t->fr[0].flags, 0);
    assert_int_equal(t->fr[0].len % 6, 0);
}

TEST(preface_client_magic)
{
    loom_config cfg = client_cfg();
    cfg.now_ms = clock_cb;
    t->role = LOOM_CLIENT;
    t->c = loom_conn_new(LOOM_CLIENT, &cfg, on_event, NULL);
    assert_non_null(t->c);
    drain();
    assert_true(t->out_len > 24);
    assert_memory_equal(t->out, MAGIC, 24);
    assert_int_equal(t->fr[0].type, F_SETTINGS);
    assert_int_equal(t->fr[0].flags, 0);
}

TEST(preface_client_server_not_settings)
{
    make(LOOM_CLIENT, NULL);
    ping(0, 0, "12345678");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(preface_client_acks_server_settings)
{
    make(LOOM_CLIENT, NULL);
    assert_int_equal(settings1(S_MCS, 50), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_SETTINGS);
    assert_int_equal(fr_new(0)->flags, ACK);
    assert_int_equal(loom_conn_peer_setting(t->c, S_MCS), 50);
}

/* ======================= §4.1 frame format ======================= */

TEST(flags_unknown_ping)
{
    srv();
    assert_int_equal(ping(0xfe, 0, "flags..."), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_PING);
    assert_int_equal(fr_new(0)->flags, ACK); /* unknown flags not echoed */
    assert_memory_equal(fr_new(0)->opaque, "flags...", 8);
}

TEST(flags_unknown_headers)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(headers(1, EH | 0x02 | 0x10 | 0x40 | 0x80), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 1);
    assert_non_null(e);
    assert_false(e->end_stream);
    assert_true(has_field(e, ":path: /"));
    expect_nothing();
}

TEST(flags_unknown_data)
{
    srv();
    open_req(1, 0);
    assert_int_equal(data(1, 0x02 | 0x04 | 0x10 | 0x20 | 0x40 | 0x80, "abc"), 0);
    const ev_t *e = ev_find(LOOM_EV_DATA, 1);
    assert_non_null(e);
    assert_int_equal(e->len, 3);
    assert_false(e->end_stream);
    assert_memory_equal(t->data, "abc", 3);
    expect_nothing();
}

TEST(reserved_bit_stream)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(headers(0x80000001u, EH | ES), 0);
    assert_non_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_nothing();
}

TEST(reserved_bit_stream0)
{
    srv();
    assert_int_equal(ping(0, 0x80000000u, "reserved"), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_PING);
    assert_memory_equal(fr_new(0)->opaque, "reserved", 8);
}

/* Every frame the engine writes passes parse_out()'s §4.1 checks; this
 * case makes it write one of each kind it can. */
TEST(reserved_bit_sent)
{
    P.n = 0;
    p_set(S_WINDOW, 10);
    srv_settings();
    open_req(1, ES);
    assert_int_equal(push(1), 2);
    respond(1, 100); /* HEADERS, DATA (10: the window) */
    respond(2, 0);
    ping(0, 0, "whatever");
    open_req(3, 0);
    loom_reset(t->c, 3, LOOM_H2_CANCEL);
    loom_goaway(t->c, LOOM_H2_NO_ERROR, 0, "bye");
    drain();
    assert_true(t->nfr >= 7);
}

TEST(unknown_type)
{
    srv();
    assert_int_equal(frame(0xfa, 0xff, 0, "extension", 9), 0);
    assert_int_equal(t->nev, 0);
    expect_nothing();
}

/* ======================= §4.2 frame size ======================= */

TEST(size_data_too_large)
{
    srv();
    open_req(1, 0);
    data_n(1, 0, 16385);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

/* a request block of exactly n octets */
static void hb_req_sized(size_t n)
{
    hb_clear();
    hb_req(); /* 16 octets */
    /* 00 05 "x-pad" 7f <2-octet varint> value: 10 + 16 = 26 + value */
    static char v[70000];
    memset(v, 'p', sizeof(v));
    hb_newn("x-pad", 5, v, n - 26);
    assert_int_equal(B.n, n);
}

TEST(size_headers_too_large)
{
    srv();
    hb_req_sized(16385);
    headers(1, EH | ES);
    assert_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(size_headers_max)
{
    srv();
    hb_req_sized(16384);
    expect_request_accepted(1);
}

TEST(size_unknown_too_large)
{
    srv();
    p_clear();
    p_fill(0, 16385);
    p_send(0xfa, 0, 0);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(size_data_max)
{
    srv();
    open_req(1, 0);
    assert_int_equal(data_n(1, 0, 16384), 0);
    assert_int_equal(ev_find(LOOM_EV_DATA, 1)->len, 16384);
    expect_nothing();
}

TEST(size_larger_setting)
{
    loom_config cfg = server_cfg();
    cfg.max_frame_size = 32768;
    srv_with(&cfg);
    open_req(1, 0);
    assert_int_equal(data_n(1, 0, 20000), 0);
    assert_int_equal(ev_find(LOOM_EV_DATA, 1)->len, 20000);
    expect_nothing();
}

/* Our DATA and field blocks are cut to the peer's SETTINGS_MAX_FRAME_SIZE,
 * a field block into HEADERS + CONTINUATION frames in one contiguous run
 * (§4.3). */
TEST(size_sent_frames)
{
    srv();
    open_req(1, ES);
    static char big[40000];
    memset(big, 'v', sizeof(big));
    loom_hpack_field f[] = {
        FLD(":status", "200"),
        {(const uint8_t *)"x-big", 5, (const uint8_t *)big, sizeof(big), LOOM_HPACK_NO_INDEX}};
    static uint8_t body[40000];
    loom_body b = {.data = body, .len = sizeof(body), .fd = -1};
    assert_int_equal(loom_respond(t->c, 1, f, 2, &b), 0);
    drain();
    int headers_at = -1, last_cont = -1, ncont = 0;
    for (int i = 0; i < nnew(); i++) {
        const ofr_t *o = fr_new(i);
        assert_true(o->len <= 16384);
        if (o->type == F_HEADERS) {
            headers_at = i;
            assert_int_equal(o->flags & EH, 0);
        }
        if (o->type == F_CONT) {
            assert_int_equal(i, headers_at + 1 + ncont); /* contiguous */
            assert_int_equal(o->sid, 1);
            ncont++;
            if (o->flags & EH) last_cont = i;
        }
    }
    assert_true(headers_at >= 0);
    assert_int_equal(ncont, 2);
    assert_int_equal(last_cont, headers_at + 2);
    assert_int_equal(data_new(1), sizeof(body));
}

/* ======================= §4.3 field blocks ======================= */

TEST(hpack_bad_index)
{
    srv();
    hb_clear();
    hb_req();
    hb_byte(0xbe); /* index 62: the dynamic table is empty */
    headers(1, EH | ES);
    assert_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_conn_error(LOOM_H2_COMPRESSION_ERROR);
}

TEST(hpack_index_zero)
{
    srv();
    hb_clear();
    hb_req();
    hb_byte(0x80); /* RFC 7541 §6.1: index 0 is a decoding error */
    headers(1, EH | ES);
    expect_conn_error(LOOM_H2_COMPRESSION_ERROR);
}

TEST(hpack_truncated)
{
    srv();
    hb_clear();
    hb_req();
    hb_byte(0x00);
    hb_byte(0x05); /* a 5-octet name of which 2 are there */
    hb_byte('x');
    hb_byte('-');
    headers(1, EH | ES);
    expect_conn_error(LOOM_H2_COMPRESSION_ERROR);
}

TEST(hpack_int_overflow)
{
    srv();
    hb_clear();
    hb_req();
    const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}; /* > 2^32 */
    for (size_t i = 0; i < sizeof(big); i++)
        hb_byte(big[i]);
    headers(1, EH | ES);
    expect_conn_error(LOOM_H2_COMPRESSION_ERROR);
}

TEST(hpack_size_update_too_large)
{
    srv();
    hb_clear();
    hb_byte(0x3f); /* size update to 8192 (31 + 8161): above our 4096 */
    hb_byte(0xe1);
    hb_byte(0x3f);
    hb_req();
    headers(1, EH | ES);
    expect_conn_error(LOOM_H2_COMPRESSION_ERROR);
}

TEST(hpack_size_update_late)
{
    srv();
    hb_clear();
    hb_req();
    hb_byte(0x20); /* RFC 7541 §4.2: a size update only at the block's start */
    headers(1, EH | ES);
    expect_conn_error(LOOM_H2_COMPRESSION_ERROR);
}

TEST(hpack_huffman_eos)
{
    srv();
    hb_clear();
    hb_req();
    hb_byte(0x00);
    hb_byte(0x84); /* Huffman name of 4 octets of 1 bits: holds EOS (30 ones) */
    for (int i = 0; i < 4; i++)
        hb_byte(0xff);
    hb_strn("v", 1);
    headers(1, EH | ES);
    expect_conn_error(LOOM_H2_COMPRESSION_ERROR);
}

TEST(hpack_error_in_continuation)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    assert_int_equal(headers(1, ES), 0);
    const uint8_t bad[] = {0x84, 0xbe};
    cont(1, EH, bad, sizeof(bad));
    expect_conn_error(LOOM_H2_COMPRESSION_ERROR);
}

/* A field block the engine refuses is still decoded (§4.3: "a receiver
 * MUST ... process it"), so the dynamic table stays in step. */
TEST(hpack_refused_block_decoded)
{
    loom_config cfg = server_cfg();
    cfg.max_concurrent_streams = 1;
    srv_with(&cfg);
    open_req(1, 0);
    hb_clear();
    hb_req();
    hb_inc("x-sync", "one");
    assert_int_equal(headers(3, EH | ES), 0);
    expect_stream_error(3, LOOM_H2_REFUSED_STREAM);
    rst(1, LOOM_H2_CANCEL);
    hb_clear();
    hb_req();
    hb_idx(62);
    assert_int_equal(headers(5, EH | ES), 0);
    assert_true(has_field(ev_find(LOOM_EV_HEADERS, 5), "x-sync: one"));
    expect_nothing();
}

TEST(hpack_reset_stream_block_decoded)
{
    srv();
    open_req(1, 0);
    assert_int_equal(loom_reset(t->c, 1, LOOM_H2_CANCEL), 0);
    settle();
    hb_clear();
    hb_inc("x-sync", "two"); /* trailers on the stream we reset */
    assert_int_equal(headers(1, EH | ES), 0);
    assert_int_equal(t->nev, 0);
    expect_nothing();
    hb_clear();
    hb_req();
    hb_idx(62);
    assert_int_equal(headers(3, EH | ES), 0);
    assert_true(has_field(ev_find(LOOM_EV_HEADERS, 3), "x-sync: two"));
    expect_nothing();
}

TEST(hpack_dynamic_table_kept)
{
    srv();
    hb_clear();
    hb_req();
    hb_inc("x-kept", "yes");
    assert_int_equal(headers(1, EH | ES), 0);
    hb_clear();
    hb_req();
    hb_idx(62);
    assert_int_equal(headers(3, EH | ES), 0);
    assert_true(has_field(ev_find(LOOM_EV_HEADERS, 1), "x-kept: yes"));
    assert_true(has_field(ev_find(LOOM_EV_HEADERS, 3), "x-kept: yes"));
    expect_nothing();
}

TEST(block_ping_inside)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 5), 0);
    ping(0, 0, "between!");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(block_cont_other_stream)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 5), 0);
    cont(3, EH, B.p + 5, B.n - 5);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(block_headers_other_stream)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 5), 0);
    headers(3, EH | ES);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(block_split)
{
    srv();
    hb_clear();
    hb_req();
    /* cut inside the :authority literal */
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 7), 0);
    assert_int_equal(t->nev, 0);
    assert_int_equal(cont(1, EH, B.p + 7, B.n - 7), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 1);
    assert_non_null(e);
    assert_true(has_field(e, ":authority: example.com"));
    expect_nothing();
}

/* ======================= §5.1 stream states ======================= */

TEST(idle_data)
{
    srv();
    data(1, 0, "x");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(idle_rst)
{
    srv();
    rst(1, LOOM_H2_CANCEL);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(idle_window_update)
{
    srv();
    wu(1, 100);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(idle_continuation)
{
    srv();
    hb_clear();
    hb_req();
    cont(1, EH, B.p, B.n);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(idle_priority)
{
    srv();
    assert_int_equal(priority(3, 0, 15), 0);
    expect_nothing();
    open_req(3, ES); /* still idle: it can open */
}

TEST(idle_headers_opens)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(headers(1, EH), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 1);
    assert_non_null(e);
    assert_true(has_field(e, ":method: GET"));
    assert_true(has_field(e, ":scheme: https"));
    assert_true(has_field(e, ":path: /"));
    assert_true(has_field(e, ":authority: example.com"));
    expect_nothing();
    assert_int_equal(data(1, ES, "body"), 0); /* open: DATA goes */
    assert_non_null(ev_find(LOOM_EV_DATA, 1));
    expect_nothing();
}

TEST(hcr_data)
{
    srv();
    open_req(1, ES);
    data(1, 0, "late");
    assert_null(ev_find(LOOM_EV_DATA, 1));
    expect_stream_error(1, LOOM_H2_STREAM_CLOSED);
}

TEST(hcr_headers)
{
    srv();
    open_req(1, ES);
    hb_clear();
    hb_new("x-late", "1");
    headers(1, EH | ES);
    assert_null(ev_find(LOOM_EV_TRAILERS, 1));
    expect_stream_error(1, LOOM_H2_STREAM_CLOSED);
}

TEST(hcr_continuation)
{
    srv();
    open_req(1, ES);
    hb_clear();
    hb_new("x-late", "1");
    cont(1, EH, B.p, B.n);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(hcr_window_update)
{
    srv();
    open_req(1, ES);
    assert_int_equal(wu(1, 1000), 0);
    expect_nothing();
}

TEST(hcr_priority)
{
    srv();
    open_req(1, ES);
    assert_int_equal(priority(1, 0, 200), 0);
    expect_nothing();
}

TEST(hcr_rst)
{
    srv();
    open_req(1, ES);
    assert_int_equal(rst(1, LOOM_H2_CANCEL), 0);
    const ev_t *e = ev_find(LOOM_EV_STREAM_CLOSED, 1);
    assert_non_null(e);
    assert_int_equal(e->code, LOOM_H2_CANCEL);
    assert_true(e->by_peer);
    expect_nothing(); /* §5.4.2: no RST_STREAM in reply */
}

/* both sides sent END_STREAM */
static void closed_normally(void)
{
    srv();
    open_req(1, ES);
    respond(1, 0);
    drain();
    assert_non_null(ev_find(LOOM_EV_STREAM_CLOSED, 1));
    settle();
}

TEST(closed_data)
{
    closed_normally();
    data(1, 0, "late");
    assert_null(ev_find(LOOM_EV_DATA, 1));
    expect_stream_error(1, LOOM_H2_STREAM_CLOSED);
}

TEST(closed_headers)
{
    closed_normally();
    hb_clear();
    hb_req();
    headers(1, EH | ES);
    assert_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_conn_error(LOOM_H2_STREAM_CLOSED);
}

TEST(closed_window_update)
{
    closed_normally();
    assert_int_equal(wu(1, 10), 0);
    expect_nothing();
}

TEST(closed_rst)
{
    closed_normally();
    assert_int_equal(rst(1, LOOM_H2_CANCEL), 0);
    expect_nothing();
}

TEST(closed_priority)
{
    closed_normally();
    assert_int_equal(priority(1, 0, 1), 0);
    expect_nothing();
}

TEST(rst_received_data)
{
    srv();
    open_req(1, 0);
    assert_int_equal(rst(1, LOOM_H2_CANCEL), 0);
    settle();
    data(1, 0, "late");
    assert_null(ev_find(LOOM_EV_DATA, 1));
    expect_stream_error(1, LOOM_H2_STREAM_CLOSED);
}

TEST(rst_received_headers)
{
    srv();
    open_req(1, 0);
    assert_int_equal(rst(1, LOOM_H2_CANCEL), 0);
    settle();
    hb_clear();
    hb_new("x-late", "1");
    headers(1, EH | ES);
    expect_conn_error(LOOM_H2_STREAM_CLOSED);
}

TEST(rst_received_priority)
{
    srv();
    open_req(1, 0);
    assert_int_equal(rst(1, LOOM_H2_CANCEL), 0);
    settle();
    assert_int_equal(priority(1, 0, 1), 0);
    expect_nothing();
}

/* the application reset stream 1 */
static void reset_by_us(void)
{
    srv();
    open_req(1, 0);
    assert_int_equal(loom_reset(t->c, 1, LOOM_H2_CANCEL), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_RST);
    settle();
}

TEST(rst_sent_data)
{
    reset_by_us();
    assert_int_equal(data(1, 0, "in flight"), 0);
    assert_int_equal(data(1, ES, "in flight"), 0);
    assert_int_equal(t->nev, 0);
    expect_nothing();
}

TEST(rst_sent_headers)
{
    reset_by_us();
    hb_clear();
    hb_new("x-trailer", "1");
    assert_int_equal(headers(1, EH | ES), 0);
    assert_int_equal(t->nev, 0);
    expect_nothing();
}

TEST(rst_sent_window_update_rst)
{
    reset_by_us();
    assert_int_equal(wu(1, 100), 0);
    assert_int_equal(rst(1, LOOM_H2_CANCEL), 0);
    assert_int_equal(t->nev, 0);
    expect_nothing();
}

TEST(rst_sent_malformed_data)
{
    srv();
    hb_clear();
    hb_req();
    hb_new("Bad", "1");
    assert_int_equal(headers(1, EH), 0);
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
    assert_int_equal(data(1, ES, "in flight"), 0);
    expect_nothing();
}

TEST(rst_sent_refused_data)
{
    loom_config cfg = server_cfg();
    cfg.max_concurrent_streams = 1;
    srv_with(&cfg);
    open_req(1, 0);
    hb_clear();
    hb_req();
    assert_int_equal(headers(3, EH), 0);
    expect_stream_error(3, LOOM_H2_REFUSED_STREAM);
    assert_int_equal(data(3, 0, "in flight"), 0);
    hb_clear();
    hb_new("x-trailer", "1");
    assert_int_equal(headers(3, EH | ES), 0);
    assert_int_equal(t->nev, 0);
    expect_nothing();
}

/* §5.1 / §6.9: DATA on a stream we reset still counts toward the
 * connection window, which is then given back. */
TEST(rst_sent_data_flow)
{
    loom_config cfg = server_cfg();
    cfg.connection_window = 65535;
    srv_with(&cfg);
    open_req(1, 0);
    assert_int_equal(loom_reset(t->c, 1, LOOM_H2_CANCEL), 0);
    settle();
    assert_int_equal(data_n(1, 0, 16384), 0);
    assert_int_equal(data_n(1, 0, 16384), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_WU);
    assert_int_equal(fr_new(0)->sid, 0);
    assert_int_equal(fr_new(0)->inc, 32768);
    assert_int_equal(t->nev, 0);
}

/* a promised stream, reserved (local) */
static void pushed(void)
{
    srv();
    open_req(1, ES);
    assert_int_equal(push(1), 2);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_PUSH);
    assert_int_equal(fr_new(0)->sid, 1);
    assert_int_equal(fr_new(0)->promised, 2);
    settle();
}

TEST(reserved_local_headers)
{
    pushed();
    hb_clear();
    hb_req();
    headers(2, EH | ES);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(reserved_local_data)
{
    pushed();
    data(2, 0, "x");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(reserved_local_window_update)
{
    pushed();
    assert_int_equal(wu(2, 1000), 0);
    expect_nothing();
}

TEST(reserved_local_priority)
{
    pushed();
    assert_int_equal(priority(2, 0, 10), 0);
    expect_nothing();
}

TEST(reserved_local_rst)
{
    pushed();
    assert_int_equal(rst(2, LOOM_H2_CANCEL), 0);
    const ev_t *e = ev_find(LOOM_EV_STREAM_CLOSED, 2);
    assert_non_null(e);
    assert_true(e->by_peer);
    expect_nothing();
    loom_hpack_field f[] = {FLD(":status", "200")};
    assert_int_equal(loom_respond(t->c, 2, f, 1, NULL), LOOM_ERR_STATE);
}

/* The push finished; a late RST_STREAM or WINDOW_UPDATE from the client
 * is on a closed stream, not an idle one. */
TEST(push_closed_rst)
{
    pushed();
    respond(2, 5);
    drain();
    assert_non_null(ev_find(LOOM_EV_STREAM_CLOSED, 2));
    settle();
    assert_int_equal(rst(2, LOOM_H2_CANCEL), 0);
    expect_nothing();
}

TEST(push_closed_window_update)
{
    pushed();
    respond(2, 5);
    settle();
    assert_int_equal(wu(2, 100), 0);
    expect_nothing();
}

/* ---- client side ---- */

/* a client with request 1 sent and PUSH_PROMISE 2 on it */
static void promised(void)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    assert_int_equal(push_promise(1, EH, 2), 0);
    const ev_t *e = ev_find(LOOM_EV_PUSH_PROMISE, 1);
    assert_non_null(e);
    assert_int_equal(e->promised, 2);
    assert_true(has_field(e, ":path: /pushed"));
    settle();
}

TEST(reserved_remote_data)
{
    promised();
    data(2, 0, "x");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(reserved_remote_window_update)
{
    promised();
    wu(2, 100);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(reserved_remote_headers)
{
    promised();
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(2, EH), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 2);
    assert_non_null(e);
    assert_int_equal(e->status, 200);
    assert_int_equal(data(2, ES, "pushed body"), 0);
    assert_non_null(ev_find(LOOM_EV_DATA, 2));
    e = ev_find(LOOM_EV_STREAM_CLOSED, 2);
    assert_non_null(e);
    assert_int_equal(e->code, 0);
    expect_nothing();
}

TEST(reserved_remote_rst)
{
    promised();
    assert_int_equal(rst(2, LOOM_H2_CANCEL), 0);
    const ev_t *e = ev_find(LOOM_EV_STREAM_CLOSED, 2);
    assert_non_null(e);
    assert_int_equal(e->code, LOOM_H2_CANCEL);
    expect_nothing();
}

TEST(hcl_response)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(1, EH), 0);
    assert_int_equal(data(1, 0, "hello "), 0);
    assert_int_equal(data(1, ES, "world"), 0);
    assert_int_equal(ev_find(LOOM_EV_HEADERS, 1)->status, 200);
    assert_int_equal(t->data_len, 11);
    assert_memory_equal(t->data, "hello world", 11);
    const ev_t *e = ev_find(LOOM_EV_STREAM_CLOSED, 1);
    assert_non_null(e);
    assert_int_equal(e->code, 0);
    expect_nothing();
}

TEST(client_closed_data)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(1, EH | ES), 0);
    assert_non_null(ev_find(LOOM_EV_STREAM_CLOSED, 1));
    settle();
    data(1, 0, "late");
    expect_stream_error(1, LOOM_H2_STREAM_CLOSED);
}

/* ======================= §5.1.1 stream identifiers ======================= */

TEST(id_even_from_client)
{
    srv();
    hb_clear();
    hb_req();
    headers(2, EH | ES);
    assert_null(ev_find(LOOM_EV_HEADERS, 2));
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(id_decreasing)
{
    srv();
    open_req(5, ES);
    hb_clear();
    hb_req();
    headers(3, EH | ES);
    assert_null(ev_find(LOOM_EV_HEADERS, 3));
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(id_reused)
{
    srv();
    open_req(1, ES);
    respond(1, 0);
    settle();
    open_req(3, ES);
    hb_clear();
    hb_req();
    headers(1, EH | ES);
    assert_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_conn_error(LOOM_H2_STREAM_CLOSED);
}

TEST(id_skipped_is_closed)
{
    srv();
    open_req(5, 0);
    data(3, 0, "x"); /* 3 was implicitly closed when 5 opened */
    expect_stream_error(3, LOOM_H2_STREAM_CLOSED);
}

TEST(id_client_odd_from_server)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    headers(3, EH | ES);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(id_client_even_not_promised)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    headers(2, EH | ES);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(id_client_sends_odd_increasing)
{
    cli();
    loom_hpack_field f[] = {FLD(":method", "GET"), FLD(":scheme", "https"),
                            FLD(":authority", "example.com"), FLD(":path", "/")};
    assert_int_equal(loom_request(t->c, f, 4, NULL), 1);
    assert_int_equal(loom_request(t->c, f, 4, NULL), 3);
    assert_int_equal(loom_request(t->c, f, 4, NULL), 5);
    drain();
    assert_int_equal(nnew(), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fr_new(i)->type, F_HEADERS);
        assert_int_equal(fr_new(i)->sid, (uint32_t)(2 * i + 1));
    }
}

/* ======================= §5.1.2 concurrency ======================= */

static void srv_mcs(uint32_t n)
{
    loom_config cfg = server_cfg();
    cfg.max_concurrent_streams = n;
    srv_with(&cfg);
}

TEST(mcs_exceeded)
{
    srv_mcs(1);
    open_req(1, 0);
    hb_clear();
    hb_req();
    assert_int_equal(headers(3, EH | ES), 0);
    assert_null(ev_find(LOOM_EV_HEADERS, 3));
    expect_stream_error(3, LOOM_H2_REFUSED_STREAM);
    assert_int_equal(data(1, ES, "still open"), 0);
    assert_non_null(ev_find(LOOM_EV_DATA, 1));
}

TEST(mcs_half_closed_counts)
{
    srv_mcs(1);
    open_req(1, ES);
    hb_clear();
    hb_req();
    assert_int_equal(headers(3, EH | ES), 0);
    assert_null(ev_find(LOOM_EV_HEADERS, 3));
    expect_stream_error(3, LOOM_H2_REFUSED_STREAM);
}

TEST(mcs_slot_freed)
{
    srv_mcs(1);
    open_req(1, ES);
    respond(1, 0);
    settle();
    hb_clear();
    hb_req();
    expect_request_accepted(3);
}

TEST(mcs_zero)
{
    srv_mcs(0);
    hb_clear();
    hb_req();
    assert_int_equal(headers(1, EH | ES), 0);
    assert_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_stream_error(1, LOOM_H2_REFUSED_STREAM);
}

TEST(mcs_client_respects)
{
    make(LOOM_CLIENT, NULL);
    p_clear();
    p_set(S_MCS, 1);
    handshake(1);
    loom_hpack_field f[] = {FLD(":method", "GET"), FLD(":scheme", "https"),
                            FLD(":authority", "example.com"), FLD(":path", "/")};
    assert_int_equal(loom_request(t->c, f, 4, NULL), 1);
    assert_int_equal(loom_request(t->c, f, 4, NULL), LOOM_ERR_LIMIT);
    drain();
    assert_int_equal(count_new(F_HEADERS), 1);
}

/* ======================= §5.3 priority ======================= */

TEST(self_dependent_headers)
{
    srv();
    hb_clear();
    hb_req();
    hb_inc("x-sync", "dep");
    p_clear();
    p_u32(1); /* depends on stream 1: itself */
    p_u8(15);
    p_mem(B.p, B.n);
    assert_int_equal(p_send(F_HEADERS, EH | ES | PRIO, 1), 0);
    assert_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
    /* the block was decoded: its entry is in the table */
    hb_clear();
    hb_req();
    hb_idx(62);
    assert_int_equal(headers(3, EH | ES), 0);
    assert_true(has_field(ev_find(LOOM_EV_HEADERS, 3), "x-sync: dep"));
    expect_nothing();
}

TEST(self_dependent_priority)
{
    srv();
    open_req(1, 0);
    priority(1, 1, 15);
    const ev_t *e = ev_find(LOOM_EV_STREAM_CLOSED, 1);
    assert_non_null(e);
    assert_int_equal(e->code, LOOM_H2_PROTOCOL_ERROR);
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(headers_priority_flag)
{
    srv();
    hb_clear();
    hb_req();
    p_clear();
    p_u32(0x80000000u); /* exclusive, on stream 0 */
    p_u8(200);
    p_mem(B.p, B.n);
    assert_int_equal(p_send(F_HEADERS, EH | ES | PRIO, 1), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 1);
    assert_non_null(e);
    assert_true(has_field(e, ":authority: example.com"));
    expect_nothing();
}

/* ======================= §5.4 error handling ======================= */

TEST(goaway_last_stream)
{
    srv();
    open_req(1, ES);
    open_req(3, 0);
    ping(0, 1, "onstream"); /* PING on a stream: connection error */
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
    assert_int_equal(goaway_last, 3);
}

TEST(nothing_after_conn_error)
{
    srv();
    data(1, 0, "x");
    assert_true(t->rc < 0);
    settle();
    hb_clear();
    hb_req();
    assert_true(headers(3, EH | ES) < 0);
    assert_true(settings1(S_MCS, 1) < 0);
    drain();
    assert_int_equal(nnew(), 0);
    assert_int_equal(t->nev, 0);
}

TEST(no_rst_for_rst)
{
    srv();
    open_req(1, 0);
    assert_int_equal(rst(1, LOOM_H2_PROTOCOL_ERROR), 0);
    expect_nothing();
}

TEST(stream_error_others_live)
{
    srv();
    open_req(1, 0);
    hb_clear();
    hb_req();
    hb_new("connection", "close");
    expect_malformed_request(3);
    assert_int_equal(data(1, ES, "fine"), 0);
    const ev_t *e = ev_find(LOOM_EV_DATA, 1);
    assert_non_null(e);
    assert_true(e->end_stream);
    respond(1, 4);
    drain();
    assert_int_equal(data_new(1), 4);
}

/* §6.8: the last stream id we send never increases, whatever happens after
 * our GOAWAY. */
TEST(goaway_never_increases)
{
    srv();
    open_req(1, ES);
    assert_int_equal(loom_goaway(t->c, LOOM_H2_NO_ERROR, 0, NULL), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->last_id, 1);
    settle();
    hb_clear();
    hb_req();
    assert_int_equal(headers(3, EH | ES), 0); /* above the last id: ignored */
    assert_null(ev_find(LOOM_EV_HEADERS, 3));
    drain();
    assert_int_equal(nnew(), 0);
    ping(0, 1, "onstream");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
    assert_int_equal(goaway_last, 1);
}

/* ======================= §5.5 extensions ======================= */

TEST(ext_unknown_on_stream)
{
    srv();
    assert_int_equal(frame(0xfb, 0, 1, "xyz", 3), 0);
    expect_nothing();
    open_req(1, ES); /* the stream is still idle */
}

TEST(ext_unknown_setting)
{
    srv();
    p_clear();
    p_set(0xff, 123456);
    p_set(S_MCS, 9);
    assert_int_equal(p_send(F_SETTINGS, 0, 0), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->flags, ACK);
    assert_int_equal(loom_conn_peer_setting(t->c, S_MCS), 9);
    alive();
}

TEST(ext_inside_block)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 5), 0);
    frame(0xfa, 0, 1, "x", 1);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(ext_origin_to_server)
{
    srv();
    p_clear();
    p_u8(0);
    p_u8(19);
    p_mem("https://example.com", 19);
    assert_int_equal(p_send(F_ORIGIN, 0, 0), 0);
    assert_int_equal(t->nev, 0);
    expect_nothing();
}

/* ======================= §6.1 DATA ======================= */

TEST(data_stream0)
{
    srv();
    data(0, 0, "x");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(data_pad_too_long)
{
    srv();
    open_req(1, 0);
    p_clear();
    p_u8(4); /* §6.1: padding as long as the 4-octet payload */
    p_mem("ab", 2);
    p_u8(0);
    p_send(F_DATA, PADDED, 1);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(data_pad_no_length)
{
    srv();
    open_req(1, 0);
    frame(F_DATA, PADDED, 1, NULL, 0);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(data_padded)
{
    srv();
    open_req(1, 0);
    p_clear();
    p_u8(4);
    p_mem("body", 4);
    p_fill(0, 4);
    assert_int_equal(p_send(F_DATA, PADDED | ES, 1), 0);
    const ev_t *e = ev_find(LOOM_EV_DATA, 1);
    assert_non_null(e);
    assert_int_equal(e->len, 4);
    assert_true(e->end_stream);
    assert_memory_equal(t->data, "body", 4);
    expect_nothing();
}

static void srv_window(uint32_t stream_window, int manual)
{
    loom_config cfg = server_cfg();
    cfg.initial_window_size = stream_window;
    cfg.manual_window = (uint8_t)manual;
    srv_with(&cfg);
}

TEST(data_padding_flow)
{
    srv_window(100, 0);
    open_req(1, 0);
    p_clear();
    p_u8(40); /* 1 + 60 + 40 = 101 > 100 */
    p_fill('a', 60);
    p_fill(0, 40);
    p_send(F_DATA, PADDED, 1);
    assert_null(ev_find(LOOM_EV_DATA, 1));
    expect_stream_error(1, LOOM_H2_FLOW_CONTROL_ERROR);
}

TEST(data_padding_flow_fits)
{
    srv_window(100, 0);
    open_req(1, 0);
    p_clear();
    p_u8(39); /* 1 + 60 + 39 = 100 */
    p_fill('a', 60);
    p_fill(0, 39);
    assert_int_equal(p_send(F_DATA, PADDED, 1), 0);
    assert_int_equal(ev_find(LOOM_EV_DATA, 1)->len, 60);
    expect_no_error();
}

TEST(data_end_stream)
{
    srv();
    open_req(1, 0);
    assert_int_equal(data(1, ES, "end"), 0);
    assert_true(ev_find(LOOM_EV_DATA, 1)->end_stream);
    expect_nothing();
    respond(1, 0); /* half-closed (remote): we can still answer */
    drain();
    assert_int_equal(count_new(F_HEADERS), 1);
    assert_non_null(ev_find(LOOM_EV_STREAM_CLOSED, 1));
}

/* ======================= §6.2 HEADERS ======================= */

TEST(headers_stream0)
{
    srv();
    hb_clear();
    hb_req();
    headers(0, EH | ES);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(headers_pad_too_long)
{
    srv();
    hb_clear();
    hb_req();
    p_clear();
    p_u8((uint8_t)(B.n + 1));
    p_mem(B.p, B.n);
    p_send(F_HEADERS, EH | ES | PADDED, 1);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(headers_padded)
{
    srv();
    hb_clear();
    hb_req();
    p_clear();
    p_u8(10);
    p_mem(B.p, B.n);
    p_fill(0, 10);
    assert_int_equal(p_send(F_HEADERS, EH | ES | PADDED, 1), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 1);
    assert_non_null(e);
    assert_true(has_field(e, ":authority: example.com"));
    expect_nothing();
}

TEST(headers_priority_short)
{
    srv();
    p_clear();
    p_u32(0);
    frame(F_HEADERS, EH | ES | PRIO, 1, P.p, 4);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(headers_padded_priority)
{
    srv();
    hb_clear();
    hb_req();
    p_clear();
    p_u8(3);
    p_u32(0);
    p_u8(15);
    p_mem(B.p, B.n);
    p_fill(0, 3);
    assert_int_equal(p_send(F_HEADERS, EH | ES | PADDED | PRIO, 1), 0);
    assert_true(has_field(ev_find(LOOM_EV_HEADERS, 1), ":path: /"));
    expect_nothing();
}

TEST(headers_end_stream_with_continuation)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 3), 0);
    assert_int_equal(cont(1, EH, B.p + 3, B.n - 3), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 1);
    assert_non_null(e);
    assert_true(e->end_stream);
    expect_nothing();
    data(1, 0, "after end");
    expect_stream_error(1, LOOM_H2_STREAM_CLOSED);
}

/* ======================= §6.3 PRIORITY ======================= */

TEST(priority_stream0)
{
    srv();
    priority(0, 1, 15);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(priority_len4)
{
    srv();
    open_req(1, 0);
    frame(F_PRIORITY, 0, 1, "\0\0\0\0", 4);
    expect_stream_error(1, LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(priority_len6)
{
    srv();
    open_req(1, 0);
    frame(F_PRIORITY, 0, 1, "\0\0\0\0\0\0", 6);
    expect_stream_error(1, LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(priority_closed)
{
    closed_normally();
    assert_int_equal(priority(1, 0, 100), 0);
    assert_int_equal(priority(99, 1, 100), 0);
    expect_nothing();
}

TEST(priority_inside_block)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 5), 0);
    priority(1, 0, 15);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

/* ======================= §6.4 RST_STREAM ======================= */

TEST(rst_stream0)
{
    srv();
    rst(0, LOOM_H2_CANCEL);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(rst_len3)
{
    srv();
    open_req(1, 0);
    frame(F_RST, 0, 1, "\0\0\0", 3);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(rst_len5)
{
    srv();
    open_req(1, 0);
    frame(F_RST, 0, 1, "\0\0\0\x08\0", 5);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(rst_closes)
{
    srv();
    open_req(1, 0);
    assert_int_equal(rst(1, LOOM_H2_CANCEL), 0);
    const ev_t *e = ev_find(LOOM_EV_STREAM_CLOSED, 1);
    assert_non_null(e);
    assert_int_equal(e->code, LOOM_H2_CANCEL);
    assert_true(e->by_peer);
    expect_nothing();
    loom_hpack_field f[] = {FLD(":status", "200")};
    assert_int_equal(loom_respond(t->c, 1, f, 1, NULL), LOOM_ERR_STATE);
}

/* §7: unknown error codes MUST NOT trigger special behavior */
TEST(rst_unknown_code)
{
    srv();
    open_req(1, 0);
    assert_int_equal(rst(1, 0xdead), 0);
    assert_int_equal(ev_find(LOOM_EV_STREAM_CLOSED, 1)->code, 0xdead);
    expect_nothing();
}

/* ======================= §6.5 SETTINGS ======================= */

TEST(settings_on_stream)
{
    srv();
    frame(F_SETTINGS, 0, 1, NULL, 0);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(settings_ack_payload)
{
    make(LOOM_SERVER, NULL);
    p_clear();
    handshake(0);
    p_clear();
    p_set(S_MCS, 1);
    p_send(F_SETTINGS, ACK, 0);
    assert_int_equal(ev_count(LOOM_EV_SETTINGS_ACK), 0);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(settings_len_not_6n)
{
    srv();
    frame(F_SETTINGS, 0, 0, "\0\x03\0\0\0\x01\0", 7);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(settings_acked)
{
    srv();
    assert_int_equal(settings1(S_MCS, 10), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_SETTINGS);
    assert_int_equal(fr_new(0)->flags, ACK);
    assert_int_equal(fr_new(0)->len, 0);
    assert_int_equal(ev_count(LOOM_EV_SETTINGS), 1);
}

TEST(settings_empty_acked)
{
    srv();
    assert_int_equal(frame(F_SETTINGS, 0, 0, NULL, 0), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->flags, ACK);
}

TEST(settings_push_2)
{
    srv();
    settings1(S_PUSH, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(settings_push_1_to_client)
{
    cli();
    settings1(S_PUSH, 1);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(settings_window_too_large)
{
    srv();
    settings1(S_WINDOW, 0x80000000u);
    expect_conn_error(LOOM_H2_FLOW_CONTROL_ERROR);
}

TEST(settings_frame_too_small)
{
    srv();
    settings1(S_FRAME, 16383);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(settings_frame_too_large)
{
    srv();
    settings1(S_FRAME, 16777216);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(settings_frame_max)
{
    srv();
    assert_int_equal(settings1(S_FRAME, 16777215), 0);
    assert_int_equal(loom_conn_peer_setting(t->c, S_FRAME), 16777215);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->flags, ACK);
}

/* RFC 7541 §4.2: after the peer lowers SETTINGS_HEADER_TABLE_SIZE, our next
 * field block starts with a dynamic table size update (001xxxxx). */
TEST(settings_header_table_size)
{
    p_clear();
    p_set(S_TABLE, 0);
    srv_settings();
    open_req(1, ES);
    respond(1, 0);
    drain();
    assert_int_equal(nnew(), 1);
    const ofr_t *h = fr_new(0);
    assert_int_equal(h->type, F_HEADERS);
    assert_true(h->block_len >= 2);
    assert_int_equal(t->out[h->block_off], 0x20); /* size update to 0 */
}

TEST(settings_in_order)
{
    srv();
    p_clear();
    p_set(S_WINDOW, 1);
    p_set(S_MCS, 5);
    p_set(S_WINDOW, 100);
    assert_int_equal(p_send(F_SETTINGS, 0, 0), 0);
    assert_int_equal(loom_conn_peer_setting(t->c, S_WINDOW), 100);
    open_req(1, ES);
    respond(1, 1000);
    drain();
    assert_int_equal(data_new(1), 100);
}

TEST(settings_ack_of_ours)
{
    make(LOOM_SERVER, NULL);
    p_clear();
    handshake(0);
    assert_int_equal(frame(F_SETTINGS, ACK, 0, NULL, 0), 0);
    assert_int_equal(ev_count(LOOM_EV_SETTINGS_ACK), 1);
    expect_nothing();
    assert_int_equal(loom_conn_check_timeouts(t->c, 1), 0);
}

TEST(settings_timeout)
{
    make(LOOM_SERVER, NULL);
    p_clear();
    handshake(0);
    t->now += 5000;
    t->rc = loom_conn_check_timeouts(t->c, 1000);
    expect_conn_error(LOOM_H2_SETTINGS_TIMEOUT);
}

TEST(settings_no_timeout_in_time)
{
    make(LOOM_SERVER, NULL);
    p_clear();
    handshake(0);
    t->now += 999;
    assert_int_equal(loom_conn_check_timeouts(t->c, 1000), 0);
    expect_nothing();
}

TEST(settings_connect_protocol_2)
{
    cli();
    settings1(S_CONNECT, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(settings_no_rfc7540_priorities_2)
{
    srv();
    settings1(S_NO_PRIO, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

/* ======================= §6.6 PUSH_PROMISE ======================= */

TEST(push_to_server)
{
    srv();
    open_req(1, 0);
    hb_clear();
    hb_push_req();
    push_promise(1, EH, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_disabled)
{
    loom_config cfg = client_cfg();
    cfg.enable_push = 0;
    cli_with(&cfg);
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    push_promise(1, EH, 2);
    assert_int_equal(ev_count(LOOM_EV_PUSH_PROMISE), 0);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_stream0)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    push_promise(0, EH, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_idle_stream)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    push_promise(3, EH, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_closed_stream)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(1, EH | ES), 0);
    settle();
    hb_clear();
    hb_push_req();
    push_promise(1, EH, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_odd_promised)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    push_promise(1, EH, 3);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_promised_reused)
{
    promised();
    hb_clear();
    hb_push_req();
    push_promise(1, EH, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_promised_decreasing)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    assert_int_equal(push_promise(1, EH, 4), 0);
    push_promise(1, EH, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

/* §6.6: PUSH_PROMISE only on a stream the client opened */
TEST(push_on_pushed_stream)
{
    promised();
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(2, EH), 0); /* 2: half-closed (local) */
    settle();
    hb_clear();
    hb_push_req();
    push_promise(2, EH, 4);
    assert_int_equal(ev_count(LOOM_EV_PUSH_PROMISE), 0);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_too_short)
{
    cli();
    assert_int_equal(request("GET"), 1);
    frame(F_PUSH, EH, 1, "\0\0\0", 3);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(push_pad_too_long)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    p_clear();
    p_u8(200);
    p_u32(2);
    p_mem(B.p, B.n);
    p_send(F_PUSH, EH | PADDED, 1);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_padded)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    p_clear();
    p_u8(5);
    p_u32(2);
    p_mem(B.p, B.n);
    p_fill(0, 5);
    assert_int_equal(p_send(F_PUSH, EH | PADDED, 1), 0);
    const ev_t *e = ev_find(LOOM_EV_PUSH_PROMISE, 1);
    assert_non_null(e);
    assert_int_equal(e->promised, 2);
    assert_true(has_field(e, ":path: /pushed"));
    expect_nothing();
}

TEST(push_continuation)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    p_clear();
    p_u32(2);
    p_mem(B.p, 6);
    assert_int_equal(p_send(F_PUSH, 0, 1), 0);
    assert_int_equal(cont(1, EH, B.p + 6, B.n - 6), 0);
    const ev_t *e = ev_find(LOOM_EV_PUSH_PROMISE, 1);
    assert_non_null(e);
    assert_true(has_field(e, ":authority: example.com"));
    expect_nothing();
}

/* §5.1: a PUSH_PROMISE can arrive after we reset its stream; the promised
 * stream is then reset too. */
TEST(push_after_reset)
{
    cli();
    assert_int_equal(request("GET"), 1);
    assert_int_equal(loom_reset(t->c, 1, LOOM_H2_CANCEL), 0);
    settle();
    hb_clear();
    hb_push_req();
    assert_int_equal(push_promise(1, EH, 2), 0);
    assert_int_equal(ev_count(LOOM_EV_PUSH_PROMISE), 0);
    expect_stream_error(2, LOOM_H2_REFUSED_STREAM);
}

/* ======================= §6.7 PING ======================= */

TEST(ping_echo)
{
    srv();
    const char op[8] = {0, 1, 2, 3, (char)0xfc, (char)0xfd, (char)0xfe, (char)0xff};
    assert_int_equal(ping(0, 0, op), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_PING);
    assert_int_equal(fr_new(0)->flags, ACK);
    assert_int_equal(fr_new(0)->len, 8);
    assert_memory_equal(fr_new(0)->opaque, op, 8);
}

TEST(ping_on_stream)
{
    srv();
    ping(0, 1, "12345678");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(ping_len7)
{
    srv();
    frame(F_PING, 0, 0, "1234567", 7);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(ping_len9)
{
    srv();
    frame(F_PING, 0, 0, "123456789", 9);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(ping_ack_not_answered)
{
    srv();
    assert_int_equal(loom_ping(t->c), 0);
    drain();
    assert_int_equal(nnew(), 1);
    uint8_t op[8];
    memcpy(op, fr_new(0)->opaque, 8);
    settle();
    assert_int_equal(ping(ACK, 0, (const char *)op), 0);
    assert_int_equal(ev_count(LOOM_EV_PING_ACK), 1);
    expect_nothing();
}

TEST(ping_client_answers)
{
    cli();
    assert_int_equal(ping(0, 0, "fromsrv!"), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->flags, ACK);
    assert_memory_equal(fr_new(0)->opaque, "fromsrv!", 8);
}

/* ======================= §6.8 GOAWAY ======================= */

TEST(goaway_on_stream)
{
    srv();
    p_clear();
    p_u32(0);
    p_u32(0);
    p_send(F_GOAWAY, 0, 1);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(goaway_short)
{
    srv();
    frame(F_GOAWAY, 0, 0, "\0\0\0\0\0\0\0", 7);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(goaway_debug)
{
    srv();
    assert_int_equal(goaway(0, LOOM_H2_NO_ERROR, "maintenance"), 0);
    const ev_t *e = ev_find(LOOM_EV_GOAWAY, 0);
    assert_non_null(e);
    assert_int_equal(e->code, 0);
    assert_int_equal(e->len, 11);
    expect_nothing();
}

/* §7: an unknown code is not special */
TEST(goaway_unknown_code)
{
    srv();
    assert_int_equal(goaway(0, 0xbeef, NULL), 0);
    assert_int_equal(ev_find(LOOM_EV_GOAWAY, 0)->code, 0xbeef);
    expect_nothing();
}

TEST(goaway_client_no_new_streams)
{
    cli();
    assert_int_equal(request("GET"), 1);
    assert_int_equal(goaway(1, LOOM_H2_NO_ERROR, NULL), 0);
    loom_hpack_field f[] = {FLD(":method", "GET"), FLD(":scheme", "https"),
                            FLD(":authority", "example.com"), FLD(":path", "/")};
    assert_int_equal(loom_request(t->c, f, 4, NULL), LOOM_ERR_STATE);
    drain();
    assert_int_equal(count_new(F_HEADERS), 0);
    /* stream 1 was below the last id: it goes on */
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(1, EH | ES), 0);
    assert_non_null(ev_find(LOOM_EV_HEADERS, 1));
}

TEST(goaway_client_retry_safe)
{
    cli();
    assert_int_equal(request("GET"), 1);
    assert_int_equal(request("GET"), 3);
    assert_int_equal(goaway(1, LOOM_H2_NO_ERROR, NULL), 0);
    const ev_t *e = ev_find(LOOM_EV_STREAM_CLOSED, 3);
    assert_non_null(e);
    assert_true(e->retry_safe);
    assert_null(ev_find(LOOM_EV_STREAM_CLOSED, 1));
    expect_nothing();
}

TEST(goaway_sent_ignores_new)
{
    srv();
    open_req(1, 0);
    assert_int_equal(loom_goaway(t->c, LOOM_H2_NO_ERROR, 0, NULL), 0);
    settle();
    hb_clear();
    hb_req();
    hb_inc("x-sync", "bye");
    assert_int_equal(headers(3, EH), 0);
    assert_int_equal(data(3, ES, "ignored"), 0);
    assert_int_equal(t->nev, 0);
    expect_nothing();
    /* stream 1 goes on, and the ignored block was decoded */
    hb_clear();
    hb_idx(62);
    assert_int_equal(headers(1, EH | ES), 0);
    assert_true(has_field(ev_find(LOOM_EV_TRAILERS, 1), "x-sync: bye"));
}

TEST(goaway_graceful)
{
    srv();
    open_req(1, ES);
    assert_int_equal(loom_goaway(t->c, LOOM_H2_NO_ERROR, 1, NULL), 0);
    drain();
    assert_int_equal(nnew(), 2);
    assert_int_equal(fr_new(0)->type, F_GOAWAY);
    assert_int_equal(fr_new(0)->last_id, 0x7fffffffu);
    assert_int_equal(fr_new(1)->type, F_PING);
    uint8_t op[8];
    memcpy(op, fr_new(1)->opaque, 8);
    settle();
    open_req(3, ES); /* sent before the client saw the GOAWAY */
    assert_int_equal(ping(ACK, 0, (const char *)op), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_GOAWAY);
    assert_int_equal(fr_new(0)->last_id, 3);
}

/* ======================= §6.9 WINDOW_UPDATE ======================= */

TEST(wu_zero_stream)
{
    srv();
    open_req(1, 0);
    wu(1, 0);
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(wu_zero_connection)
{
    srv();
    wu(0, 0);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(wu_len3)
{
    srv();
    frame(F_WU, 0, 0, "\0\0\x01", 3);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(wu_len5)
{
    srv();
    frame(F_WU, 0, 0, "\0\0\0\x01\0", 5);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(wu_conn_overflow)
{
    srv();
    wu(0, 0x7fffffffu - 65535 + 1);
    expect_conn_error(LOOM_H2_FLOW_CONTROL_ERROR);
}

TEST(wu_stream_overflow)
{
    srv();
    open_req(1, 0);
    wu(1, 0x7fffffffu - 65535 + 1);
    expect_stream_error(1, LOOM_H2_FLOW_CONTROL_ERROR);
}

TEST(wu_exact_max)
{
    srv();
    open_req(1, 0);
    assert_int_equal(wu(0, 0x7fffffffu - 65535), 0);
    assert_int_equal(wu(1, 0x7fffffffu - 65535), 0);
    expect_nothing();
}

TEST(wu_reserved_bit)
{
    p_clear();
    p_set(S_WINDOW, 0);
    srv_settings();
    open_req(1, ES);
    respond(1, 100);
    drain();
    assert_int_equal(data_new(-1), 0);
    settle();
    assert_int_equal(wu(1, 0x80000005u), 0); /* R set, increment 5 */
    drain();
    assert_int_equal(data_new(1), 5);
}

TEST(flow_conn_exceeded)
{
    loom_config cfg = server_cfg();
    cfg.max_frame_size = 70000;
    cfg.connection_window = 65535;
    srv_with(&cfg);
    open_req(1, 0);
    data_n(1, 0, 65536);
    assert_null(ev_find(LOOM_EV_DATA, 1));
    expect_conn_error(LOOM_H2_FLOW_CONTROL_ERROR);
}

TEST(flow_stream_exceeded)
{
    srv_window(100, 0);
    open_req(1, 0);
    data_n(1, 0, 101);
    assert_null(ev_find(LOOM_EV_DATA, 1));
    expect_stream_error(1, LOOM_H2_FLOW_CONTROL_ERROR);
}

TEST(flow_stream_exceeded_manual)
{
    srv_window(100, 1);
    open_req(1, 0);
    assert_int_equal(data_n(1, 0, 60), 0);
    expect_nothing();
    data_n(1, 0, 41);
    expect_stream_error(1, LOOM_H2_FLOW_CONTROL_ERROR);
}

TEST(flow_send_stream_window)
{
    p_clear();
    p_set(S_WINDOW, 10);
    srv_settings();
    open_req(1, ES);
    respond(1, 100);
    drain();
    assert_int_equal(data_new(1), 10);
    settle();
    assert_int_equal(wu(1, 5), 0);
    drain();
    assert_int_equal(data_new(1), 5);
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->flags & ES, 0);
}

TEST(flow_send_conn_window)
{
    p_clear();
    p_set(S_WINDOW, 1u << 20);
    srv_settings();
    open_req(1, ES);
    respond(1, 100000);
    drain();
    assert_int_equal(data_new(1), 65535); /* the connection window, not 1 MiB */
    settle();
    assert_int_equal(wu(0, 1000), 0);
    drain();
    assert_int_equal(data_new(1), 1000);
}

TEST(flow_initial_window_shift)
{
    p_clear();
    p_set(S_WINDOW, 0);
    srv_settings();
    open_req(1, ES);
    respond(1, 100);
    drain();
    assert_int_equal(data_new(-1), 0);
    settle();
    assert_int_equal(settings1(S_WINDOW, 7), 0);
    drain();
    assert_int_equal(data_new(1), 7);
}

TEST(flow_initial_window_negative)
{
    p_clear();
    p_set(S_WINDOW, 10);
    srv_settings();
    open_req(1, ES);
    respond(1, 100);
    drain();
    assert_int_equal(data_new(1), 10);
    settle();
    assert_int_equal(settings1(S_WINDOW, 0), 0); /* window now -10 */
    assert_int_equal(wu(1, 15), 0);              /* -10 + 15 = 5 */
    drain();
    assert_int_equal(data_new(1), 5);
}

TEST(flow_initial_window_overflow)
{
    srv();
    open_req(1, 0);
    assert_int_equal(wu(1, 0x7fffffffu - 65535), 0); /* the stream window at 2^31-1 */
    settings1(S_WINDOW, 65536);
    expect_conn_error(LOOM_H2_FLOW_CONTROL_ERROR);
}

/* ======================= §6.10 CONTINUATION ======================= */

TEST(cont_after_end_headers)
{
    srv();
    open_req(1, 0);
    hb_clear();
    hb_new("x-more", "1");
    cont(1, EH, B.p, B.n);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(cont_stream0)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 5), 0);
    cont(0, EH, B.p + 5, B.n - 5);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(cont_data_inside)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, 0, 1, B.p, 5), 0);
    data(1, 0, "x");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(cont_rst_inside)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, 0, 1, B.p, 5), 0);
    rst(1, LOOM_H2_CANCEL);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(cont_after_cont_end)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, 0, 1, B.p, 5), 0);
    assert_int_equal(cont(1, EH, B.p + 5, B.n - 5), 0);
    assert_non_null(ev_find(LOOM_EV_HEADERS, 1));
    hb_clear();
    hb_new("x-more", "1");
    cont(1, EH, B.p, B.n);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(cont_many)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 2), 0);
    for (size_t i = 2; i < B.n - 1; i++)
        assert_int_equal(cont(1, 0, B.p + i, 1), 0);
    assert_int_equal(t->nev, 0);
    assert_int_equal(cont(1, EH, B.p + B.n - 1, 1), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 1);
    assert_non_null(e);
    assert_true(e->end_stream);
    assert_true(has_field(e, ":authority: example.com"));
    expect_nothing();
}

/* ======================= §8.1 messages ======================= */

TEST(msg_trailers_no_end_stream)
{
    srv();
    open_req(1, 0);
    assert_int_equal(data(1, 0, "body"), 0);
    hb_clear();
    hb_new("x-trailer", "1");
    headers(1, EH);
    assert_null(ev_find(LOOM_EV_TRAILERS, 1));
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(msg_second_headers_no_end_stream)
{
    srv();
    open_req(1, 0);
    hb_clear();
    hb_new("x-trailer", "1");
    headers(1, EH);
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(msg_trailers)
{
    srv();
    open_req(1, 0);
    assert_int_equal(data(1, 0, "body"), 0);
    hb_clear();
    hb_new("x-trailer", "yes");
    assert_int_equal(headers(1, EH | ES), 0);
    const ev_t *e = ev_find(LOOM_EV_TRAILERS, 1);
    assert_non_null(e);
    assert_true(e->end_stream);
    assert_true(has_field(e, "x-trailer: yes"));
    expect_nothing();
}

TEST(msg_client_data_before_headers)
{
    cli();
    assert_int_equal(request("GET"), 1);
    data(1, ES, "early");
    assert_null(ev_find(LOOM_EV_DATA, 1));
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(msg_client_data_after_1xx)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_lit(I_200, "103");
    assert_int_equal(headers(1, EH), 0);
    data(1, ES, "early");
    assert_null(ev_find(LOOM_EV_DATA, 1));
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(msg_client_1xx_end_stream)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_lit(I_200, "100");
    expect_malformed_response(1);
}

TEST(msg_client_1xx_then_final)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_lit(I_200, "103");
    hb_new("link", "</a.css>; rel=preload");
    assert_int_equal(headers(1, EH), 0);
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(1, EH | ES), 0);
    assert_int_equal(ev_count(LOOM_EV_HEADERS), 2);
    assert_int_equal(t->ev[0].status, 103);
    assert_int_equal(t->ev[1].status, 200);
    assert_true(t->ev[1].end_stream);
    expect_nothing();
}

TEST(msg_client_101)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_lit(I_200, "101");
    headers(1, EH);
    assert_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(msg_client_trailers_no_end_stream)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(1, EH), 0);
    hb_clear();
    hb_new("x-trailer", "1");
    headers(1, EH);
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(cl_larger)
{
    srv();
    hb_clear();
    hb_req();
    hb_lit(I_CONTENT_LENGTH, "10");
    assert_int_equal(headers(1, EH), 0);
    data(1, ES, "short");
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(cl_smaller)
{
    srv();
    hb_clear();
    hb_req();
    hb_lit(I_CONTENT_LENGTH, "3");
    assert_int_equal(headers(1, EH), 0);
    data(1, 0, "longer");
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(cl_no_data)
{
    srv();
    hb_clear();
    hb_req();
    hb_lit(I_CONTENT_LENGTH, "5");
    expect_malformed_request(1);
}

TEST(cl_zero_no_data)
{
    srv();
    hb_clear();
    hb_req();
    hb_lit(I_CONTENT_LENGTH, "0");
    expect_request_accepted(1);
}

TEST(cl_matching)
{
    srv();
    hb_clear();
    hb_req();
    hb_lit(I_CONTENT_LENGTH, "11");
    assert_int_equal(headers(1, EH), 0);
    assert_int_equal(data(1, 0, "hello "), 0);
    assert_int_equal(data(1, ES, "world"), 0);
    assert_int_equal(t->data_len, 11);
    expect_nothing();
}

TEST(cl_not_number)
{
    srv();
    hb_clear();
    hb_req();
    hb_lit(I_CONTENT_LENGTH, "1x");
    expect_malformed_request(1);
}

TEST(cl_conflicting)
{
    srv();
    hb_clear();
    hb_req();
    hb_lit(I_CONTENT_LENGTH, "5");
    hb_lit(I_CONTENT_LENGTH, "6");
    expect_malformed_request(1);
}

TEST(cl_client_head)
{
    cli();
    assert_int_equal(request("HEAD"), 1);
    hb_clear();
    hb_idx(I_200);
    hb_lit(I_CONTENT_LENGTH, "100");
    assert_int_equal(headers(1, EH | ES), 0);
    assert_non_null(ev_find(LOOM_EV_HEADERS, 1));
    assert_int_equal(ev_find(LOOM_EV_STREAM_CLOSED, 1)->code, 0);
    expect_nothing();
}

TEST(cl_client_mismatch)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    hb_lit(I_CONTENT_LENGTH, "5");
    assert_int_equal(headers(1, EH), 0);
    data(1, ES, "abc");
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

/* ======================= §8.2 fields ======================= */

#define BAD_FIELD(fn, name, nlen, value, vlen)                                                     \
    TEST(fn)                                                                                       \
    {                                                                                              \
        srv();                                                                                     \
        hb_clear();                                                                                \
        hb_req();                                                                                  \
        hb_newn(name, nlen, value, vlen);                                                          \
        expect_malformed_request(1);                                                               \
    }

BAD_FIELD(field_uppercase, "X-Foo", 5, "a", 1)
BAD_FIELD(field_name_space, "x foo", 5, "a", 1)
BAD_FIELD(field_name_colon, "x:foo", 5, "a", 1)
BAD_FIELD(field_name_empty, "", 0, "a", 1)
BAD_FIELD(field_name_nonascii, "x\xe9", 2, "a", 1)
BAD_FIELD(field_value_nul, "x-a", 3, "a\0b", 3)
BAD_FIELD(field_value_cr, "x-a", 3, "a\rb", 3)
BAD_FIELD(field_value_lf, "x-a", 3, "a\nb", 3)
BAD_FIELD(field_value_leading_space, "x-a", 3, " a", 2)
BAD_FIELD(field_value_trailing_tab, "x-a", 3, "a\t", 2)
BAD_FIELD(field_connection, "connection", 10, "close", 5)
BAD_FIELD(field_keep_alive, "keep-alive", 10, "timeout=5", 9)
BAD_FIELD(field_proxy_connection, "proxy-connection", 16, "close", 5)
BAD_FIELD(field_upgrade, "upgrade", 7, "websocket", 9)
BAD_FIELD(field_te_gzip, "te", 2, "gzip", 4)

TEST(field_transfer_encoding)
{
    srv();
    hb_clear();
    hb_req();
    hb_lit(I_TRANSFER_ENCODING, "chunked");
    expect_malformed_request(1);
}

TEST(field_te_trailers)
{
    srv();
    hb_clear();
    hb_req();
    hb_new("te", "trailers");
    expect_request_accepted(1);
}

TEST(field_value_inner_space)
{
    srv();
    hb_clear();
    hb_req();
    hb_new("user-agent", "a b\tc");
    assert_int_equal(headers(1, EH | ES), 0);
    assert_true(has_field(ev_find(LOOM_EV_HEADERS, 1), "user-agent: a b\tc"));
    expect_nothing();
}

TEST(field_client_uppercase)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    hb_new("Content-Type", "text/plain");
    expect_malformed_response(1);
}

TEST(field_trailer_connection)
{
    srv();
    open_req(1, 0);
    hb_clear();
    hb_new("connection", "close");
    headers(1, EH | ES);
    assert_null(ev_find(LOOM_EV_TRAILERS, 1));
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

/* ======================= §8.3 pseudo-header fields ======================= */

TEST(pseudo_no_method)
{
    srv();
    hb_clear();
    hb_idx(I_HTTPS);
    hb_idx(I_PATH);
    hb_lit(I_AUTHORITY, "example.com");
    expect_malformed_request(1);
}

TEST(pseudo_no_scheme)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_PATH);
    hb_lit(I_AUTHORITY, "example.com");
    expect_malformed_request(1);
}

TEST(pseudo_no_path)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_lit(I_AUTHORITY, "example.com");
    expect_malformed_request(1);
}

TEST(pseudo_empty_path)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_lit(I_PATH, "");
    hb_lit(I_AUTHORITY, "example.com");
    expect_malformed_request(1);
}

TEST(pseudo_repeated_method)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_POST);
    hb_idx(I_HTTPS);
    hb_idx(I_PATH);
    expect_malformed_request(1);
}

TEST(pseudo_repeated_path)
{
    srv();
    hb_clear();
    hb_req();
    hb_idx(I_PATH_INDEX);
    expect_malformed_request(1);
}

TEST(pseudo_repeated_scheme)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_idx(I_HTTP);
    hb_idx(I_PATH);
    expect_malformed_request(1);
}

TEST(pseudo_unknown)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_idx(I_PATH);
    hb_new(":foo", "bar");
    expect_malformed_request(1);
}

TEST(pseudo_status_in_request)
{
    srv();
    hb_clear();
    hb_req();
    hb_idx(I_200);
    expect_malformed_request(1);
}

TEST(pseudo_after_regular)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_new("x-a", "b");
    hb_idx(I_PATH);
    expect_malformed_request(1);
}

TEST(pseudo_in_trailers)
{
    srv();
    open_req(1, 0);
    hb_clear();
    hb_idx(I_PATH);
    headers(1, EH | ES);
    assert_null(ev_find(LOOM_EV_TRAILERS, 1));
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(pseudo_no_authority_ok)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_idx(I_PATH);
    expect_request_accepted(1);
}

TEST(pseudo_client_no_status)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_new("x-a", "b");
    expect_malformed_response(1);
}

TEST(pseudo_client_repeated_status)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    hb_idx(I_200);
    expect_malformed_response(1);
}

TEST(pseudo_client_request_pseudo)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    hb_idx(I_PATH);
    expect_malformed_response(1);
}

TEST(pseudo_client_bad_status)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_lit(I_200, "2x0");
    expect_malformed_response(1);
}

TEST(pseudo_client_in_trailers)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(1, EH), 0);
    hb_clear();
    hb_idx(I_200);
    headers(1, EH | ES);
    assert_null(ev_find(LOOM_EV_TRAILERS, 1));
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

/* ======================= §8.4 server push ======================= */

TEST(push_req_post)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_POST);
    hb_idx(I_HTTPS);
    hb_lit(I_PATH, "/form");
    hb_lit(I_AUTHORITY, "example.com");
    assert_int_equal(push_promise(1, EH, 2), 0);
    assert_int_equal(ev_count(LOOM_EV_PUSH_PROMISE), 0);
    expect_stream_error(2, LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_req_content)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    hb_lit(I_CONTENT_LENGTH, "10");
    assert_int_equal(push_promise(1, EH, 2), 0);
    assert_int_equal(ev_count(LOOM_EV_PUSH_PROMISE), 0);
    expect_stream_error(2, LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_req_no_authority)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_lit(I_PATH, "/pushed");
    assert_int_equal(push_promise(1, EH, 2), 0);
    assert_int_equal(ev_count(LOOM_EV_PUSH_PROMISE), 0);
    expect_stream_error(2, LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_req_malformed)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    hb_new("Accept", "*/*");
    assert_int_equal(push_promise(1, EH, 2), 0);
    assert_int_equal(ev_count(LOOM_EV_PUSH_PROMISE), 0);
    expect_stream_error(2, LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_server_disabled)
{
    p_clear();
    p_set(S_PUSH, 0);
    srv_settings();
    open_req(1, ES);
    assert_int_equal(push(1), LOOM_ERR_STATE);
    drain();
    assert_int_equal(nnew(), 0);
}

TEST(push_server_ids)
{
    srv();
    open_req(1, 0);
    assert_int_equal(push(1), 2);
    assert_int_equal(push(1), 4);
    drain();
    assert_int_equal(nnew(), 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fr_new(i)->type, F_PUSH);
        assert_int_equal(fr_new(i)->sid, 1);
        assert_int_equal(fr_new(i)->promised, (uint32_t)(2 + 2 * i));
    }
}

TEST(push_server_not_open)
{
    closed_normally();
    assert_int_equal(push(1), LOOM_ERR_STATE);
    drain();
    assert_int_equal(nnew(), 0);
}

/* ======================= §8.5 CONNECT ======================= */

static void hb_connect(void)
{
    hb_clear();
    hb_lit(I_GET, "CONNECT");
}

TEST(connect_ok)
{
    srv();
    hb_connect();
    hb_lit(I_AUTHORITY, "example.com:443");
    assert_int_equal(headers(1, EH), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 1);
    assert_non_null(e);
    assert_true(has_field(e, ":method: CONNECT"));
    expect_nothing();
}

TEST(connect_scheme)
{
    srv();
    hb_connect();
    hb_idx(I_HTTPS);
    hb_lit(I_AUTHORITY, "example.com:443");
    expect_malformed_request(1);
}

TEST(connect_path)
{
    srv();
    hb_connect();
    hb_idx(I_PATH);
    hb_lit(I_AUTHORITY, "example.com:443");
    expect_malformed_request(1);
}

TEST(connect_no_authority)
{
    srv();
    hb_connect();
    expect_malformed_request(1);
}

static void hb_extended_connect(void)
{
    hb_connect();
    hb_idx(I_HTTPS);
    hb_lit(I_PATH, "/chat");
    hb_lit(I_AUTHORITY, "example.com");
    hb_new(":protocol", "websocket");
}

TEST(connect_protocol_not_enabled)
{
    srv();
    hb_extended_connect();
    expect_malformed_request(1);
}

static void srv_connect_protocol(void)
{
    loom_config cfg = server_cfg();
    cfg.enable_connect_protocol = 1;
    srv_with(&cfg);
}

TEST(connect_protocol_enabled)
{
    srv_connect_protocol();
    hb_extended_connect();
    assert_int_equal(headers(1, EH), 0);
    assert_true(has_field(ev_find(LOOM_EV_HEADERS, 1), ":protocol: websocket"));
    expect_nothing();
}

TEST(connect_protocol_on_get)
{
    srv_connect_protocol();
    hb_clear();
    hb_req();
    hb_new(":protocol", "websocket");
    expect_malformed_request(1);
}

TEST(connect_protocol_no_path)
{
    srv_connect_protocol();
    hb_connect();
    hb_idx(I_HTTPS);
    hb_lit(I_AUTHORITY, "example.com");
    hb_new(":protocol", "websocket");
    expect_malformed_request(1);
}

/* ======================= RFC 9218 §7.1 PRIORITY_UPDATE ======================= */

TEST(pu_on_stream)
{
    srv();
    p_clear();
    p_u32(1);
    p_mem("u=1", 3);
    p_send(F_PRIO_UPDATE, 0, 1);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(pu_stream0)
{
    srv();
    prio_update(0, "u=1");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(pu_short)
{
    srv();
    frame(F_PRIO_UPDATE, 0, 0, "\0\0\x01", 3);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(pu_to_client)
{
    cli();
    assert_int_equal(request("GET"), 1);
    prio_update(1, "u=1");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(pu_idle_push)
{
    srv();
    open_req(1, 0);
    prio_update(2, "u=1"); /* never promised */
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(pu_promised_push)
{
    pushed();
    assert_int_equal(prio_update(2, "u=1"), 0);
    const ev_t *e = ev_find(LOOM_EV_PRIORITY, 2);
    assert_non_null(e);
    assert_int_equal(e->urgency, 1);
    expect_nothing();
}

TEST(pu_open_stream)
{
    srv();
    open_req(1, 0);
    assert_int_equal(prio_update(1, "u=6, i"), 0);
    const ev_t *e = ev_find(LOOM_EV_PRIORITY, 1);
    assert_non_null(e);
    assert_int_equal(e->urgency, 6);
    assert_int_equal(e->incremental, 1);
    expect_nothing();
}

TEST(pu_idle_request)
{
    srv();
    assert_int_equal(prio_update(1, "u=2"), 0);
    expect_nothing();
    open_req(1, ES);
}

TEST(pu_idle_beyond_limit)
{
    srv_mcs(1);
    open_req(1, 0);
    prio_update(3, "u=2"); /* 1 prioritized idle + 1 active > 1 */
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

/* ======================= §10.5 denial of service ======================= */

static void srv_limits(loom_config *cfg)
{
    cfg->window_ms = 1000;
    srv_with(cfg);
}

TEST(dos_ping_flood)
{
    loom_config cfg = server_cfg();
    cfg.max_pings = 3;
    srv_limits(&cfg);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ping(0, 0, "floodin!"), 0);
    drain();
    assert_int_equal(count_new(F_PING), 3);
    mark();
    ping(0, 0, "floodin!");
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

TEST(dos_ping_spread)
{
    loom_config cfg = server_cfg();
    cfg.max_pings = 3;
    srv_limits(&cfg);
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 3; i++)
            assert_int_equal(ping(0, 0, "spread!!"), 0);
        t->now += 1000;
    }
    drain();
    assert_int_equal(count_new(F_PING), 12);
    assert_int_equal(count_new(F_GOAWAY), 0);
}

TEST(dos_settings_flood)
{
    loom_config cfg = server_cfg();
    cfg.max_settings = 3;
    srv_limits(&cfg);
    for (int i = 0; i < 3; i++)
        assert_int_equal(settings1(S_MCS, 10), 0);
    settle();
    settings1(S_MCS, 10);
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

TEST(dos_empty_data_flood)
{
    loom_config cfg = server_cfg();
    cfg.max_empty_frames = 3;
    srv_limits(&cfg);
    open_req(1, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(data(1, 0, ""), 0);
    settle();
    data(1, 0, "");
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

TEST(dos_rapid_reset)
{
    loom_config cfg = server_cfg();
    cfg.max_peer_resets = 3;
    srv_limits(&cfg);
    for (uint32_t sid = 1; sid <= 7; sid += 2) {
        hb_clear();
        hb_req();
        assert_int_equal(headers(sid, EH), 0);
        rst(sid, LOOM_H2_CANCEL);
    }
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

TEST(dos_continuation_flood)
{
    loom_config cfg = server_cfg();
    cfg.max_continuations = 3;
    srv_limits(&cfg);
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 1), 0);
    for (int i = 1; i <= 3; i++)
        assert_int_equal(cont(1, 0, B.p + i, 1), 0);
    cont(1, 0, B.p + 4, 1);
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

TEST(dos_header_block_size)
{
    loom_config cfg = server_cfg();
    cfg.max_header_block = 100;
    srv_limits(&cfg);
    hb_clear();
    hb_req();
    hb_new("x-pad", "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "0123456789");
    assert_true(B.n > 100);
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 60), 0);
    cont(1, EH, B.p + 60, B.n - 60);
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

TEST(dos_priority_flood)
{
    loom_config cfg = server_cfg();
    cfg.max_priority_frames = 3;
    srv_limits(&cfg);
    for (uint32_t sid = 1; sid <= 5; sid += 2)
        assert_int_equal(priority(sid, 0, 1), 0);
    priority(7, 0, 1);
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

TEST(dos_priority_update_flood)
{
    loom_config cfg = server_cfg();
    cfg.max_priority_frames = 3;
    srv_limits(&cfg);
    open_req(1, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(prio_update(1, "u=1"), 0);
    settle();
    prio_update(1, "u=2");
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

/* a peer that sends but never reads cannot make us queue answers without
 * end */
TEST(dos_unread_answers)
{
    loom_config cfg = server_cfg();
    cfg.max_control_queue = 3;
    srv_limits(&cfg);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ping(0, 0, "no read!"), 0);
    ping(0, 0, "no read!");
    assert_true(t->rc < 0);
    assert_int_equal(loom_err_h2_code(t->rc), LOOM_H2_ENHANCE_YOUR_CALM);
    drain();
    assert_int_equal(nnew(), 4);
    assert_int_equal(count_new(F_PING), 3);
    assert_int_equal(fr_new(3)->type, F_GOAWAY);
    assert_int_equal(fr_new(3)->code, LOOM_H2_ENHANCE_YOUR_CALM);
}

TEST(dos_header_list_size)
{
    loom_config cfg = server_cfg();
    cfg.max_header_list_size = 200;
    srv_limits(&cfg);
    hb_clear();
    hb_req();
    static char v[300];
    memset(v, 'h', sizeof(v));
    hb_newn("x-big", 5, v, sizeof(v));
    assert_int_equal(headers(1, EH | ES), 0);
    assert_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_stream_error(1, LOOM_H2_REFUSED_STREAM);
    hb_clear();
    hb_req();
    expect_request_accepted(3);
}

/* ======================= the list ======================= */

static int setup(void **state)
{
    (void)state;
    memset(t, 0, offsetof(tstate, out));
    t->out_len = t->parsed = 0;
    t->magic_seen = 0;
    t->nfr = t->mark = 0;
    t->data_len = 0;
    t->now = 1000000;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    loom_conn_free(t->c);
    t->c = NULL;
    return 0;
}

#define CASE(name, fn)                                                                             \
    {                                                                                              \
        name, fn, setup, teardown, NULL                                                            \
    }

int main(void)
{
    t = calloc(1, sizeof(*t));
    t->out = malloc(OUT_CAP);
    if (!t || !t->out) return 1;
    const struct CMUnitTest tests[] = {
        CASE("3.4 invalid client preface", preface_invalid),
        CASE("3.4 an HTTP/1.1 request instead of the preface", preface_http1),
        CASE("3.4 preface followed by a frame other than SETTINGS", preface_not_settings),
        CASE("3.4 preface followed by a SETTINGS ACK", preface_settings_ack),
        CASE("3.4 preface and SETTINGS one octet at a time", preface_split),
        CASE("3.4 server preface: SETTINGS is the first frame", preface_server_settings_first),
        CASE("3.4 client preface: the magic, then SETTINGS", preface_client_magic),
        CASE("3.4 client: server preface not starting with SETTINGS",
             preface_client_server_not_settings),
        CASE("3.4 client: the server's SETTINGS is acknowledged",
             preface_client_acks_server_settings),

        CASE("4.1 unknown flags on PING are ignored and not sent back", flags_unknown_ping),
        CASE("4.1 unknown flags on HEADERS are ignored", flags_unknown_headers),
        CASE("4.1 unknown flags on DATA are ignored", flags_unknown_data),
        CASE("4.1 reserved bit of a stream identifier is ignored", reserved_bit_stream),
        CASE("4.1 reserved bit on a stream-0 frame is ignored", reserved_bit_stream0),
        CASE("4.1 frames sent leave the reserved bit and unknown flags unset", reserved_bit_sent),
        CASE("4.1 unknown frame type is ignored", unknown_type),

        CASE("4.2 DATA larger than SETTINGS_MAX_FRAME_SIZE", size_data_too_large),
        CASE("4.2 HEADERS larger than SETTINGS_MAX_FRAME_SIZE", size_headers_too_large),
        CASE("4.2 HEADERS of exactly SETTINGS_MAX_FRAME_SIZE", size_headers_max),
        CASE("4.2 unknown frame type larger than SETTINGS_MAX_FRAME_SIZE", size_unknown_too_large),
        CASE("4.2 DATA of exactly SETTINGS_MAX_FRAME_SIZE", size_data_max),
        CASE("4.2 larger frames under a larger SETTINGS_MAX_FRAME_SIZE", size_larger_setting),
        CASE("4.2 frames sent fit the peer's SETTINGS_MAX_FRAME_SIZE", size_sent_frames),

        CASE("4.3 HPACK index beyond the tables", hpack_bad_index),
        CASE("4.3 HPACK index 0", hpack_index_zero),
        CASE("4.3 HPACK string past the end of the block", hpack_truncated),
        CASE("4.3 HPACK integer overflow", hpack_int_overflow),
        CASE("4.3 HPACK table size update above SETTINGS_HEADER_TABLE_SIZE",
             hpack_size_update_too_large),
        CASE("4.3 HPACK table size update after a field", hpack_size_update_late),
        CASE("4.3 HPACK Huffman string holding EOS", hpack_huffman_eos),
        CASE("4.3 HPACK error in a CONTINUATION fragment", hpack_error_in_continuation),
        CASE("4.3 field block of a refused stream is still decoded", hpack_refused_block_decoded),
        CASE("4.3 field block on a stream we reset is still decoded",
             hpack_reset_stream_block_decoded),
        CASE("4.3 dynamic table carries over between field blocks", hpack_dynamic_table_kept),
        CASE("4.3 PING inside a field block", block_ping_inside),
        CASE("4.3 CONTINUATION of another stream inside a field block", block_cont_other_stream),
        CASE("4.3 HEADERS of another stream inside a field block", block_headers_other_stream),
        CASE("4.3 HEADERS + CONTINUATION split inside a literal is one block", block_split),

        CASE("5.1 DATA on an idle stream", idle_data),
        CASE("5.1 RST_STREAM on an idle stream", idle_rst),
        CASE("5.1 WINDOW_UPDATE on an idle stream", idle_window_update),
        CASE("5.1 CONTINUATION on an idle stream", idle_continuation),
        CASE("5.1 PRIORITY on an idle stream is allowed", idle_priority),
        CASE("5.1 HEADERS opens an idle stream", idle_headers_opens),
        CASE("5.1 half-closed (remote): DATA is STREAM_CLOSED", hcr_data),
        CASE("5.1 half-closed (remote): HEADERS is STREAM_CLOSED", hcr_headers),
        CASE("5.1 half-closed (remote): CONTINUATION without a block", hcr_continuation),
        CASE("5.1 half-closed (remote): WINDOW_UPDATE is allowed", hcr_window_update),
        CASE("5.1 half-closed (remote): PRIORITY is allowed", hcr_priority),
        CASE("5.1 half-closed (remote): RST_STREAM closes it", hcr_rst),
        CASE("5.1 closed after END_STREAM both ways: DATA is STREAM_CLOSED", closed_data),
        CASE("5.1 closed after END_STREAM both ways: HEADERS is a connection STREAM_CLOSED",
             closed_headers),
        CASE("5.1 closed after END_STREAM: a late WINDOW_UPDATE is ignored", closed_window_update),
        CASE("5.1 closed after END_STREAM: a late RST_STREAM is ignored", closed_rst),
        CASE("5.1 closed after END_STREAM: PRIORITY is allowed", closed_priority),
        CASE("5.1 closed by RST_STREAM received: DATA is STREAM_CLOSED", rst_received_data),
        CASE("5.1 closed by RST_STREAM received: HEADERS is a connection STREAM_CLOSED",
             rst_received_headers),
        CASE("5.1 closed by RST_STREAM received: PRIORITY is allowed", rst_received_priority),
        CASE("5.1 closed by RST_STREAM sent: DATA is ignored", rst_sent_data),
        CASE("5.1 closed by RST_STREAM sent: HEADERS is ignored", rst_sent_headers),
        CASE("5.1 closed by RST_STREAM sent: WINDOW_UPDATE and RST_STREAM are ignored",
             rst_sent_window_update_rst),
        CASE("5.1 closed by RST_STREAM sent for a malformed request: DATA is ignored",
             rst_sent_malformed_data),
        CASE("5.1 closed by REFUSED_STREAM: DATA and trailers are ignored", rst_sent_refused_data),
        CASE("5.1 DATA after RST_STREAM sent counts toward the connection window",
             rst_sent_data_flow),
        CASE("5.1 reserved (local): HEADERS from the client", reserved_local_headers),
        CASE("5.1 reserved (local): DATA from the client", reserved_local_data),
        CASE("5.1 reserved (local): WINDOW_UPDATE is allowed", reserved_local_window_update),
        CASE("5.1 reserved (local): PRIORITY is allowed", reserved_local_priority),
        CASE("5.1 reserved (local): RST_STREAM closes it", reserved_local_rst),
        CASE("5.1 finished push: a late RST_STREAM is ignored", push_closed_rst),
        CASE("5.1 finished push: a late WINDOW_UPDATE is ignored", push_closed_window_update),
        CASE("5.1 client: reserved (remote): DATA", reserved_remote_data),
        CASE("5.1 client: reserved (remote): WINDOW_UPDATE", reserved_remote_window_update),
        CASE("5.1 client: reserved (remote): HEADERS opens the pushed response",
             reserved_remote_headers),
        CASE("5.1 client: reserved (remote): RST_STREAM closes it", reserved_remote_rst),
        CASE("5.1 client: half-closed (local): the response is received", hcl_response),
        CASE("5.1 client: closed: DATA after the response ended", client_closed_data),

        CASE("5.1.1 even stream id from a client", id_even_from_client),
        CASE("5.1.1 stream id lower than one already opened", id_decreasing),
        CASE("5.1.1 stream id reused after its stream closed", id_reused),
        CASE("5.1.1 a skipped stream id is closed, not idle", id_skipped_is_closed),
        CASE("5.1.1 client: HEADERS on an odd stream it did not open", id_client_odd_from_server),
        CASE("5.1.1 client: HEADERS on an even stream never promised", id_client_even_not_promised),
        CASE("5.1.1 client: requests use odd, increasing ids", id_client_sends_odd_increasing),

        CASE("5.1.2 HEADERS beyond SETTINGS_MAX_CONCURRENT_STREAMS", mcs_exceeded),
        CASE("5.1.2 half-closed (remote) streams count toward the limit", mcs_half_closed_counts),
        CASE("5.1.2 a closed stream frees its slot", mcs_slot_freed),
        CASE("5.1.2 SETTINGS_MAX_CONCURRENT_STREAMS of 0", mcs_zero),
        CASE("5.1.2 client: never more streams than the server allows", mcs_client_respects),

        CASE("5.3.1 HEADERS depending on its own stream", self_dependent_headers),
        CASE("5.3.1 PRIORITY depending on its own stream", self_dependent_priority),
        CASE("5.3.2 HEADERS with priority fields is accepted", headers_priority_flag),

        CASE("5.4.1 GOAWAY names the last stream processed", goaway_last_stream),
        CASE("5.4.1 nothing is processed after a connection error", nothing_after_conn_error),
        CASE("5.4.2 no RST_STREAM in reply to RST_STREAM", no_rst_for_rst),
        CASE("5.4.2 a stream error leaves other streams working", stream_error_others_live),
        CASE("5.4.1 GOAWAY last stream id never increases", goaway_never_increases),

        CASE("5.5 unknown frame type on a stream is ignored", ext_unknown_on_stream),
        CASE("5.5 unknown SETTINGS identifier is ignored", ext_unknown_setting),
        CASE("5.5 extension frame inside a field block", ext_inside_block),
        CASE("5.5 ORIGIN sent to a server is ignored", ext_origin_to_server),

        CASE("6.1 DATA on stream 0", data_stream0),
        CASE("6.1 DATA padding as long as the payload", data_pad_too_long),
        CASE("6.1 DATA padded without a Pad Length", data_pad_no_length),
        CASE("6.1 padded DATA: padding removed", data_padded),
        CASE("6.1 DATA padding counts toward flow control", data_padding_flow),
        CASE("6.1 padded DATA filling the window exactly", data_padding_flow_fits),
        CASE("6.1 DATA with END_STREAM half-closes the stream", data_end_stream),

        CASE("6.2 HEADERS on stream 0", headers_stream0),
        CASE("6.2 HEADERS padding longer than the payload", headers_pad_too_long),
        CASE("6.2 padded HEADERS: padding removed", headers_padded),
        CASE("6.2 HEADERS too short for its priority fields", headers_priority_short),
        CASE("6.2 padded HEADERS with priority fields", headers_padded_priority),
        CASE("6.2 END_STREAM on HEADERS followed by CONTINUATION",
             headers_end_stream_with_continuation),

        CASE("6.3 PRIORITY on stream 0", priority_stream0),
        CASE("6.3 PRIORITY of length 4", priority_len4),
        CASE("6.3 PRIORITY of length 6", priority_len6),
        CASE("6.3 PRIORITY on a closed stream is allowed", priority_closed),
        CASE("6.3 PRIORITY inside a field block", priority_inside_block),

        CASE("6.4 RST_STREAM on stream 0", rst_stream0),
        CASE("6.4 RST_STREAM of length 3", rst_len3),
        CASE("6.4 RST_STREAM of length 5", rst_len5),
        CASE("6.4 RST_STREAM closes the stream", rst_closes),
        CASE("7 RST_STREAM with an unknown error code", rst_unknown_code),

        CASE("6.5 SETTINGS on a stream", settings_on_stream),
        CASE("6.5 SETTINGS ACK with a payload", settings_ack_payload),
        CASE("6.5 SETTINGS length not a multiple of 6", settings_len_not_6n),
        CASE("6.5 SETTINGS is acknowledged", settings_acked),
        CASE("6.5 empty SETTINGS is acknowledged", settings_empty_acked),
        CASE("6.5.2 SETTINGS_ENABLE_PUSH of 2", settings_push_2),
        CASE("6.5.2 client: SETTINGS_ENABLE_PUSH of 1 from a server", settings_push_1_to_client),
        CASE("6.5.2 SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1", settings_window_too_large),
        CASE("6.5.2 SETTINGS_MAX_FRAME_SIZE below 16384", settings_frame_too_small),
        CASE("6.5.2 SETTINGS_MAX_FRAME_SIZE above 2^24-1", settings_frame_too_large),
        CASE("6.5.2 SETTINGS_MAX_FRAME_SIZE of 2^24-1", settings_frame_max),
        CASE("6.5.2 SETTINGS_HEADER_TABLE_SIZE 0: a size update opens our next block",
             settings_header_table_size),
        CASE("6.5.3 SETTINGS values are processed in order", settings_in_order),
        CASE("6.5.3 SETTINGS ACK of our SETTINGS", settings_ack_of_ours),
        CASE("6.5.3 SETTINGS not acknowledged in time", settings_timeout),
        CASE("6.5.3 SETTINGS acknowledgement not yet late", settings_no_timeout_in_time),
        CASE("RFC 8441 3 SETTINGS_ENABLE_CONNECT_PROTOCOL of 2", settings_connect_protocol_2),
        CASE("RFC 9218 2.1 SETTINGS_NO_RFC7540_PRIORITIES of 2", settings_no_rfc7540_priorities_2),

        CASE("6.6 PUSH_PROMISE sent to a server", push_to_server),
        CASE("6.6 client: PUSH_PROMISE with push disabled", push_disabled),
        CASE("6.6 client: PUSH_PROMISE on stream 0", push_stream0),
        CASE("6.6 client: PUSH_PROMISE on an idle stream", push_idle_stream),
        CASE("6.6 client: PUSH_PROMISE on a closed stream", push_closed_stream),
        CASE("6.6 client: PUSH_PROMISE promising an odd stream id", push_odd_promised),
        CASE("6.6 client: PUSH_PROMISE promising a stream already reserved", push_promised_reused),
        CASE("6.6 client: PUSH_PROMISE promising a lower stream id", push_promised_decreasing),
        CASE("6.6 client: PUSH_PROMISE on a pushed stream", push_on_pushed_stream),
        CASE("6.6 client: PUSH_PROMISE too short for the promised id", push_too_short),
        CASE("6.6 client: PUSH_PROMISE padding longer than the payload", push_pad_too_long),
        CASE("6.6 client: padded PUSH_PROMISE", push_padded),
        CASE("6.6 client: PUSH_PROMISE + CONTINUATION", push_continuation),
        CASE("6.6 client: PUSH_PROMISE on a stream we reset", push_after_reset),

        CASE("6.7 PING answered with the same payload", ping_echo),
        CASE("6.7 PING on a stream", ping_on_stream),
        CASE("6.7 PING of length 7", ping_len7),
        CASE("6.7 PING of length 9", ping_len9),
        CASE("6.7 PING ACK is not answered", ping_ack_not_answered),
        CASE("6.7 client: PING from the server is answered", ping_client_answers),

        CASE("6.8 GOAWAY on a stream", goaway_on_stream),
        CASE("6.8 GOAWAY shorter than 8", goaway_short),
        CASE("6.8 GOAWAY with debug data", goaway_debug),
        CASE("7 GOAWAY with an unknown error code", goaway_unknown_code),
        CASE("6.8 client: no new stream after GOAWAY", goaway_client_no_new_streams),
        CASE("6.8 client: streams above the last id are retry-safe", goaway_client_retry_safe),
        CASE("6.8 after our GOAWAY new streams are ignored, still decoded",
             goaway_sent_ignores_new),
        CASE("6.8 graceful shutdown: 2^31-1, then the real last id", goaway_graceful),

        CASE("6.9 WINDOW_UPDATE of 0 on a stream", wu_zero_stream),
        CASE("6.9 WINDOW_UPDATE of 0 on the connection", wu_zero_connection),
        CASE("6.9 WINDOW_UPDATE of length 3", wu_len3),
        CASE("6.9 WINDOW_UPDATE of length 5", wu_len5),
        CASE("6.9.1 connection window above 2^31-1", wu_conn_overflow),
        CASE("6.9.1 stream window above 2^31-1", wu_stream_overflow),
        CASE("6.9.1 windows of exactly 2^31-1", wu_exact_max),
        CASE("6.9 reserved bit of a window increment is ignored", wu_reserved_bit),
        CASE("6.9.1 DATA beyond the connection window", flow_conn_exceeded),
        CASE("6.9.1 DATA beyond the stream window", flow_stream_exceeded),
        CASE("6.9.1 DATA beyond the stream window over two frames (manual windows)",
             flow_stream_exceeded_manual),
        CASE("6.9.1 we send no more DATA than the stream window", flow_send_stream_window),
        CASE("6.9.2 INITIAL_WINDOW_SIZE does not change the connection window",
             flow_send_conn_window),
        CASE("6.9.2 INITIAL_WINDOW_SIZE change shifts open streams' windows",
             flow_initial_window_shift),
        CASE("6.9.2 INITIAL_WINDOW_SIZE change can make a window negative",
             flow_initial_window_negative),
        CASE("6.9.2 INITIAL_WINDOW_SIZE change overflowing a stream window",
             flow_initial_window_overflow),

        CASE("6.10 CONTINUATION after END_HEADERS", cont_after_end_headers),
        CASE("6.10 CONTINUATION on stream 0", cont_stream0),
        CASE("6.10 DATA inside a field block", cont_data_inside),
        CASE("6.10 RST_STREAM inside a field block", cont_rst_inside),
        CASE("6.10 CONTINUATION after a CONTINUATION with END_HEADERS", cont_after_cont_end),
        CASE("6.10 a field block over many CONTINUATION frames", cont_many),

        CASE("8.1 trailers without END_STREAM", msg_trailers_no_end_stream),
        CASE("8.1 second HEADERS without END_STREAM", msg_second_headers_no_end_stream),
        CASE("8.1 trailers with END_STREAM are delivered", msg_trailers),
        CASE("8.1 client: DATA before the response HEADERS", msg_client_data_before_headers),
        CASE("8.1 client: DATA after only a 1xx response", msg_client_data_after_1xx),
        CASE("8.1 client: 1xx response with END_STREAM", msg_client_1xx_end_stream),
        CASE("8.1 client: 1xx responses then the final response", msg_client_1xx_then_final),
        CASE("8.6 client: 101 Switching Protocols", msg_client_101),
        CASE("8.1 client: response trailers without END_STREAM", msg_client_trailers_no_end_stream),
        CASE("8.1.1 content-length larger than the DATA", cl_larger),
        CASE("8.1.1 content-length smaller than the DATA", cl_smaller),
        CASE("8.1.1 content-length on HEADERS with END_STREAM", cl_no_data),
        CASE("8.1.1 content-length 0 on HEADERS with END_STREAM", cl_zero_no_data),
        CASE("8.1.1 content-length matching the DATA", cl_matching),
        CASE("8.1.1 content-length not a number", cl_not_number),
        CASE("8.1.1 conflicting content-length values", cl_conflicting),
        CASE("8.1.1 client: content-length of a HEAD response", cl_client_head),
        CASE("8.1.1 client: content-length not matching the response DATA", cl_client_mismatch),

        CASE("8.2 uppercase field name", field_uppercase),
        CASE("8.2.1 field name with a space", field_name_space),
        CASE("8.2.1 field name with a colon inside", field_name_colon),
        CASE("8.2.1 empty field name", field_name_empty),
        CASE("8.2.1 field name with a non-ASCII octet", field_name_nonascii),
        CASE("8.2.1 field value with NUL", field_value_nul),
        CASE("8.2.1 field value with CR", field_value_cr),
        CASE("8.2.1 field value with LF", field_value_lf),
        CASE("8.2.1 field value with a leading space", field_value_leading_space),
        CASE("8.2.1 field value with a trailing tab", field_value_trailing_tab),
        CASE("8.2.1 field value with inner whitespace is accepted", field_value_inner_space),
        CASE("8.2.2 connection field", field_connection),
        CASE("8.2.2 keep-alive field", field_keep_alive),
        CASE("8.2.2 proxy-connection field", field_proxy_connection),
        CASE("8.2.2 transfer-encoding field", field_transfer_encoding),
        CASE("8.2.2 upgrade field", field_upgrade),
        CASE("8.2.2 TE other than trailers", field_te_gzip),
        CASE("8.2.2 TE: trailers is accepted", field_te_trailers),
        CASE("8.2 client: uppercase field name in a response", field_client_uppercase),
        CASE("8.2.2 connection-specific field in trailers", field_trailer_connection),

        CASE("8.3.1 request without :method", pseudo_no_method),
        CASE("8.3.1 request without :scheme", pseudo_no_scheme),
        CASE("8.3.1 request without :path", pseudo_no_path),
        CASE("8.3.1 empty :path", pseudo_empty_path),
        CASE("8.3 repeated :method", pseudo_repeated_method),
        CASE("8.3 repeated :path", pseudo_repeated_path),
        CASE("8.3 repeated :scheme", pseudo_repeated_scheme),
        CASE("8.3 unknown pseudo-header", pseudo_unknown),
        CASE("8.3 response pseudo-header in a request", pseudo_status_in_request),
        CASE("8.3 pseudo-header after a regular field", pseudo_after_regular),
        CASE("8.3 pseudo-header in trailers", pseudo_in_trailers),
        CASE("8.3.1 request without :authority is accepted", pseudo_no_authority_ok),
        CASE("8.3.2 client: response without :status", pseudo_client_no_status),
        CASE("8.3.2 client: repeated :status", pseudo_client_repeated_status),
        CASE("8.3.2 client: request pseudo-header in a response", pseudo_client_request_pseudo),
        CASE("8.3.2 client: :status not three digits", pseudo_client_bad_status),
        CASE("8.3 client: pseudo-header in response trailers", pseudo_client_in_trailers),

        CASE("8.4 client: promised request with an unsafe method", push_req_post),
        CASE("8.4 client: promised request announcing content", push_req_content),
        CASE("8.4 client: promised request without :authority", push_req_no_authority),
        CASE("8.4 client: malformed promised request", push_req_malformed),
        CASE("8.4 no push after the client disabled it", push_server_disabled),
        CASE("8.4 pushes promise even, increasing ids on the request stream", push_server_ids),
        CASE("8.4 no push on a closed stream", push_server_not_open),

        CASE("8.5 CONNECT with :method and :authority only", connect_ok),
        CASE("8.5 CONNECT with :scheme", connect_scheme),
        CASE("8.5 CONNECT with :path", connect_path),
        CASE("8.5 CONNECT without :authority", connect_no_authority),
        CASE("RFC 8441 4 :protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL",
             connect_protocol_not_enabled),
        CASE("RFC 8441 4 extended CONNECT when enabled", connect_protocol_enabled),
        CASE("RFC 8441 4 :protocol on a GET", connect_protocol_on_get),
        CASE("RFC 8441 4 extended CONNECT without :path", connect_protocol_no_path),

        CASE("RFC 9218 7.1 PRIORITY_UPDATE on a stream", pu_on_stream),
        CASE("RFC 9218 7.1 PRIORITY_UPDATE for stream 0", pu_stream0),
        CASE("RFC 9218 7.1 PRIORITY_UPDATE shorter than 4", pu_short),
        CASE("RFC 9218 7.1 client: PRIORITY_UPDATE from a server", pu_to_client),
        CASE("RFC 9218 7.1 PRIORITY_UPDATE for an idle push stream", pu_idle_push),
        CASE("RFC 9218 7.1 PRIORITY_UPDATE for a promised push stream", pu_promised_push),
        CASE("RFC 9218 7.1 PRIORITY_UPDATE for an open stream", pu_open_stream),
        CASE("RFC 9218 7.1 PRIORITY_UPDATE for an idle request stream", pu_idle_request),
        CASE("RFC 9218 7.1 PRIORITY_UPDATE for an idle stream beyond the stream limit",
             pu_idle_beyond_limit),

        CASE("10.5 PING flood", dos_ping_flood),
        CASE("10.5 PINGs spread over time", dos_ping_spread),
        CASE("10.5 SETTINGS flood", dos_settings_flood),
        CASE("10.5 empty DATA flood", dos_empty_data_flood),
        CASE("10.5 rapid reset", dos_rapid_reset),
        CASE("10.5 CONTINUATION flood", dos_continuation_flood),
        CASE("10.5.1 field block larger than the limit", dos_header_block_size),
        CASE("10.5 PRIORITY flood", dos_priority_flood),
        CASE("10.5 PRIORITY_UPDATE flood", dos_priority_update_flood),
        CASE("10.5 peer that never reads our answers", dos_unread_answers),
        CASE("10.5.1 header list above SETTINGS_MAX_HEADER_LIST_SIZE", dos_header_list_size),
    };
    int rc = cmocka_run_group_tests_name("RFC 9113 connection engine", tests, NULL, NULL);
    free(t->out);
    free(t);
    return rc;
}
