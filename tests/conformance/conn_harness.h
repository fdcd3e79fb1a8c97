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
 * checked against §4.1 (reserved bit unset, no undefined flags).
 *
 * This header is the harness shared by the test_conn_*.c files, one executable
 * per group of sections (each included once per executable; everything here is
 * static, functions static inline so a file need not use them all). A file
 * lists its cases with CASE() and runs them with conn_group_setup and
 * conn_group_teardown. */
#ifndef LOOM_TESTS_CONN_HARNESS_H
#define LOOM_TESTS_CONN_HARNESS_H

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

static inline uint64_t clock_cb(void *user)
{
    (void)user;
    return t->now;
}

static inline void add_field(ev_t *r, const loom_hpack_field *f)
{
    size_t at = strlen(r->fields);
    if (at == 0) r->fields[at++] = '\n';
    int n = snprintf(r->fields + at, sizeof(r->fields) - at, "%.*s: %.*s\n", (int)f->name_len,
                     (const char *)f->name, (int)f->value_len, (const char *)f->value);
    (void)n;
}

static inline int on_event(loom_conn *c, const loom_event *e, void *user)
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

static inline const ev_t *ev_find(int type, int32_t sid)
{
    for (int i = 0; i < t->nev; i++)
        if (t->ev[i].type == type && t->ev[i].sid == sid) return &t->ev[i];
    return NULL;
}

static inline int ev_count(int type)
{
    int n = 0;
    for (int i = 0; i < t->nev; i++)
        n += t->ev[i].type == type;
    return n;
}

static inline int has_field(const ev_t *e, const char *line)
{
    char want[256];
    snprintf(want, sizeof(want), "\n%s\n", line);
    return e && strstr(e->fields, want) != NULL;
}

/* The flags RFC 9113 defines per type: anything else MUST be sent as 0 (§4.1). */
static inline uint8_t defined_flags(uint8_t type)
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
static inline void parse_out(void)
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
static inline void drain(void)
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

static inline int nnew(void)
{
    return t->nfr - t->mark;
}

static inline const ofr_t *fr_new(int i)
{
    assert_true(i < nnew());
    return &t->fr[t->mark + i];
}

static inline int count_new(uint8_t type)
{
    int n = 0;
    for (int i = t->mark; i < t->nfr; i++)
        n += t->fr[i].type == type;
    return n;
}

/* DATA octets sent (on sid, or on every stream when sid < 0) since mark. */
static inline size_t data_new(int64_t sid)
{
    size_t n = 0;
    for (int i = t->mark; i < t->nfr; i++)
        if (t->fr[i].type == F_DATA && (sid < 0 || t->fr[i].sid == (uint32_t)sid))
            n += t->fr[i].data_len;
    return n;
}

static inline void mark(void)
{
    t->mark = t->nfr;
}

/* Drains, and forgets the frames and events so far. */
static inline void settle(void)
{
    drain();
    mark();
    t->nev = 0;
    t->data_len = 0;
}

/* ---- building input ---- */

static inline uint8_t *put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static inline int feed(const void *p, size_t n)
{
    t->rc = loom_conn_recv(t->c, p, n);
    return t->rc;
}

/* One frame: the 9-octet header (§4.1) with length = len, then the payload.
 * sid is written as given, so a test can set the reserved bit. */
static inline int frame(uint8_t type, uint8_t flags, uint32_t sid, const void *payload, size_t len)
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

static inline void p_clear(void)
{
    P.n = 0;
}

static inline void p_u8(uint8_t v)
{
    P.p[P.n++] = v;
}

static inline void p_u32(uint32_t v)
{
    put32(P.p + P.n, v);
    P.n += 4;
}

static inline void p_mem(const void *m, size_t n)
{
    memcpy(P.p + P.n, m, n);
    P.n += n;
}

static inline void p_fill(uint8_t v, size_t n)
{
    memset(P.p + P.n, v, n);
    P.n += n;
}

/* A SETTINGS entry (§6.5.1): 16-bit id, 32-bit value. */
static inline void p_set(uint16_t id, uint32_t v)
{
    p_u8((uint8_t)(id >> 8));
    p_u8((uint8_t)id);
    p_u32(v);
}

static inline int p_send(uint8_t type, uint8_t flags, uint32_t sid)
{
    return frame(type, flags, sid, P.p, P.n);
}

static inline int settings1(uint16_t id, uint32_t v)
{
    p_clear();
    p_set(id, v);
    return p_send(F_SETTINGS, 0, 0);
}

static inline int ping(uint8_t flags, uint32_t sid, const char *opaque8)
{
    return frame(F_PING, flags, sid, opaque8, 8);
}

static inline int rst(uint32_t sid, uint32_t code)
{
    uint8_t b[4];
    put32(b, code);
    return frame(F_RST, 0, sid, b, 4);
}

static inline int wu(uint32_t sid, uint32_t inc)
{
    uint8_t b[4];
    put32(b, inc);
    return frame(F_WU, 0, sid, b, 4);
}

static inline int goaway(uint32_t last, uint32_t code, const char *debug)
{
    p_clear();
    p_u32(last);
    p_u32(code);
    if (debug) p_mem(debug, strlen(debug));
    return p_send(F_GOAWAY, 0, 0);
}

/* PRIORITY (§6.3): E + dependency, weight. */
static inline int priority(uint32_t sid, uint32_t dep, uint8_t weight)
{
    uint8_t b[5];
    put32(b, dep);
    b[4] = weight;
    return frame(F_PRIORITY, 0, sid, b, 5);
}

static inline int data(uint32_t sid, uint8_t flags, const char *s)
{
    return frame(F_DATA, flags, sid, s, strlen(s));
}

static inline int data_n(uint32_t sid, uint8_t flags, size_t n)
{
    p_clear();
    p_fill('d', n);
    return p_send(F_DATA, flags, sid);
}

static inline int prio_update(uint32_t prioritized, const char *value)
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

static inline void hb_clear(void)
{
    B.n = 0;
}

static inline void hb_byte(uint8_t b)
{
    B.p[B.n++] = b;
}

/* §5.1 prefix integer: `first` holds the representation's pattern bits. */
static inline void hb_int(uint8_t first, int prefix, uint32_t v)
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
static inline void hb_strn(const char *s, size_t n)
{
    hb_int(0x00, 7, (uint32_t)n);
    memcpy(B.p + B.n, s, n);
    B.n += n;
}

/* §6.1 indexed field */
static inline void hb_idx(uint32_t i)
{
    hb_int(0x80, 7, i);
}

/* §6.2.2 literal without indexing, name from the static table */
static inline void hb_litn(uint32_t idx, const char *v, size_t vn)
{
    hb_int(0x00, 4, idx);
    hb_strn(v, vn);
}

static inline void hb_lit(uint32_t idx, const char *v)
{
    hb_litn(idx, v, strlen(v));
}

/* §6.2.2 literal without indexing, new name */
static inline void hb_newn(const char *name, size_t nn, const char *v, size_t vn)
{
    hb_byte(0x00);
    hb_strn(name, nn);
    hb_strn(v, vn);
}

static inline void hb_new(const char *name, const char *v)
{
    hb_newn(name, strlen(name), v, strlen(v));
}

/* §6.2.1 literal with incremental indexing, new name: enters the dynamic
 * table, then referenced as index 62 (the first dynamic entry). */
static inline void hb_inc(const char *name, const char *v)
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
static inline void hb_req(void)
{
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_idx(I_PATH);
    hb_lit(I_AUTHORITY, "example.com");
}

/* the request a server promises: GET https://example.com/pushed */
static inline void hb_push_req(void)
{
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_lit(I_PATH, "/pushed");
    hb_lit(I_AUTHORITY, "example.com");
}

static inline int headers(uint32_t sid, uint8_t flags)
{
    return frame(F_HEADERS, flags, sid, B.p, B.n);
}

static inline int cont(uint32_t sid, uint8_t flags, const uint8_t *p, size_t n)
{
    return frame(F_CONT, flags, sid, p, n);
}

static inline int push_promise(uint32_t sid, uint8_t flags, uint32_t promised)
{
    p_clear();
    p_u32(promised);
    p_mem(B.p, B.n);
    return p_send(F_PUSH, flags, sid);
}

/* ---- engines ---- */

static inline void make(loom_role role, loom_config *cfg)
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
static inline void handshake(int ack)
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

static inline void srv_with(loom_config *cfg)
{
    make(LOOM_SERVER, cfg);
    p_clear();
    handshake(1);
}

static inline void srv(void)
{
    srv_with(NULL);
}

/* A server whose client sent the SETTINGS entries already in P. */
static inline void srv_settings(void)
{
    make(LOOM_SERVER, NULL);
    handshake(1);
}

static inline void cli_with(loom_config *cfg)
{
    make(LOOM_CLIENT, cfg);
    p_clear();
    handshake(1);
}

static inline void cli(void)
{
    cli_with(NULL);
}

static inline loom_config server_cfg(void)
{
    loom_config c;
    loom_config_default(&c, LOOM_SERVER);
    return c;
}

static inline loom_config client_cfg(void)
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
static inline int32_t request(const char *method)
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
static inline void open_req(uint32_t sid, uint8_t flags)
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
static inline void respond(int32_t sid, size_t body)
{
    static uint8_t bytes[1 << 17];
    memset(bytes, 'r', sizeof(bytes));
    loom_hpack_field f[] = {FLD(":status", "200")};
    loom_body b = {.data = bytes, .len = body, .fd = -1};
    assert_int_equal(loom_respond(t->c, sid, f, 1, body ? &b : NULL), 0);
}

/* Server: promises GET https://example.com/style.css on sid. */
static inline int32_t push(int32_t sid)
{
    loom_hpack_field f[] = {FLD(":method", "GET"), FLD(":scheme", "https"),
                            FLD(":authority", "example.com"), FLD(":path", "/style.css")};
    return loom_push(t->c, sid, f, 4);
}

/* ---- states that cases of several sections start from ---- */

/* both sides sent END_STREAM */
static inline void closed_normally(void)
{
    srv();
    open_req(1, ES);
    respond(1, 0);
    drain();
    assert_non_null(ev_find(LOOM_EV_STREAM_CLOSED, 1));
    settle();
}

/* a promised stream, reserved (local) */
static inline void pushed(void)
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

/* a client with request 1 sent and PUSH_PROMISE 2 on it */
static inline void promised(void)
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

/* a server allowing n concurrent streams (SETTINGS_MAX_CONCURRENT_STREAMS) */
static inline void srv_mcs(uint32_t n)
{
    loom_config cfg = server_cfg();
    cfg.max_concurrent_streams = n;
    srv_with(&cfg);
}

/* ---- expectations ---- */

/* The connection still works: a PING gets its ACK, with the same payload. */
static inline void alive(void)
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
static inline void expect_conn_error(uint32_t code)
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
static inline void expect_stream_error(uint32_t sid, uint32_t code)
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
static inline void expect_nothing(void)
{
    drain();
    assert_int_equal(t->rc, 0);
    assert_int_equal(nnew(), 0);
    assert_int_equal(ev_count(LOOM_EV_ERROR), 0);
    alive();
}

/* No RST_STREAM nor GOAWAY (other frames, such as WINDOW_UPDATE, allowed). */
static inline void expect_no_error(void)
{
    drain();
    assert_int_equal(t->rc, 0);
    assert_int_equal(count_new(F_RST) + count_new(F_GOAWAY), 0);
    assert_int_equal(ev_count(LOOM_EV_ERROR), 0);
    alive();
}

/* Server: B sent as a request on sid is malformed (§8.1.1): RST_STREAM
 * PROTOCOL_ERROR, never delivered as a request. */
static inline void expect_malformed_request(uint32_t sid)
{
    assert_int_equal(headers(sid, EH | ES), 0);
    assert_null(ev_find(LOOM_EV_HEADERS, (int32_t)sid));
    expect_stream_error(sid, LOOM_H2_PROTOCOL_ERROR);
}

static inline void expect_request_accepted(uint32_t sid)
{
    assert_int_equal(headers(sid, EH | ES), 0);
    assert_non_null(ev_find(LOOM_EV_HEADERS, (int32_t)sid));
    expect_nothing();
}

/* Client: B sent as the response on sid is malformed: RST_STREAM
 * PROTOCOL_ERROR, not delivered. */
static inline void expect_malformed_response(uint32_t sid)
{
    assert_int_equal(headers(sid, EH | ES), 0);
    assert_null(ev_find(LOOM_EV_HEADERS, (int32_t)sid));
    expect_stream_error(sid, LOOM_H2_PROTOCOL_ERROR);
}

#define TEST(fn) static void fn(void **state __attribute__((unused)))

/* ---- running the cases ---- */

/* Each case starts from a fresh state (the engine is made by the case). */
static inline int setup(void **state)
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

static inline int teardown(void **state)
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

/* The group's fixtures: the state every case of the executable shares. */
static inline int conn_group_setup(void **state)
{
    (void)state;
    t = calloc(1, sizeof(*t));
    if (!t) return -1;
    t->out = malloc(OUT_CAP);
    if (!t->out) {
        free(t);
        t = NULL;
        return -1;
    }
    return 0;
}

static inline int conn_group_teardown(void **state)
{
    (void)state;
    free(t->out);
    free(t);
    t = NULL;
    return 0;
}

#endif
