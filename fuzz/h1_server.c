/* libFuzzer harness for the HTTP/1.1 server path (src/h1.c on http-parser),
 * driven the way src/server.c drives it: requests parsed one at a time from
 * the bytes buffered so far, the parser reset between keep-alive requests,
 * the connection ended by a malformed request or one that does not keep
 * alive, and a request asking for h2c (h1_h2c_request) handed to a server
 * engine through loom_conn_upgrade with the request as HTTP/2 fields, after
 * which the rest of the input is HTTP/2.
 *
 * Input: a flags octet, a count octet k (its low 4 bits), k piece-length
 * octets, then the octets the client sends.
 *   flags bit 0  TLS: no h2c (h1_h2c_request's cleartext argument is 0)
 *   flags bit 1  the peer closes after the input: h1_eof()
 *   flags bit 2  room for 12 octets of HTTP2-Settings only (the server has 256)
 *   piece length (octet & 63) + 1: '@' is 1, 'A' 2, ... '_' 32; the lengths
 *   repeat to the end; k 0: one octet at a time.
 * So "00GET / HTTP/1.1\r\n\r\n" is a GET arriving octet by octet.
 *
 * The input is parsed twice, arriving whole and arriving in those pieces,
 * and each run writes a transcript (each message's method, target, version,
 * fields, trailers, body octets and total, keep-alive, h2c verdict; where
 * and why it failed; where it ended): the two must be the same. Invariants
 * checked on the way: the body octets on_body sees add up to m->body_bytes
 * (and to Content-Length), the head stays within H1_MAX_HEAD and
 * H1_MAX_FIELDS, a -1 from h1_feed comes with m->err, and h1_feed never
 * leaves input it was given unused without ending a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h1.h"
#include "loom/loom.h"
#include "fuzz_util.h"

#define F_TLS        1
#define F_EOF        2
#define F_SMALL_SETS 4

typedef struct {
    uint8_t *p;
    size_t len, cap;
    uint64_t body_seen; /* octets on_body delivered for this message */
    uint64_t body_hash; /* FNV-1a of them */
    int msgs;
    const char *err; /* why h1_feed failed */
    int lookahead;   /* found before the parser had the octets */
} run;

static void put(run *r, const void *p, size_t n)
{
    if (r->len + n > r->cap) {
        r->cap = (r->len + n) * 2 + 256;
        r->p = xrealloc(r->p, r->cap);
    }
    memcpy(r->p + r->len, p, n);
    r->len += n;
}

/* a tagged item: tag, length, octets */
static void item(run *r, char tag, const void *p, size_t n)
{
    uint32_t len = (uint32_t)n;
    put(r, &tag, 1);
    put(r, &len, sizeof(len));
    put(r, p, n);
}

static void num(run *r, char tag, uint64_t v)
{
    item(r, tag, &v, sizeof(v));
}

static void check_bounds(const h1_msg *m)
{
    if (m->headlen > H1_MAX_HEAD || m->nf < 0 || m->nf > H1_MAX_FIELDS) abort();
    if (m->ntrailer_from > m->nf) abort();
    if ((uint64_t)m->url + m->urllen > m->headlen) abort();
    for (int i = 0; i < m->nf; i++)
        if ((uint64_t)m->f[i].n + m->f[i].nl > m->headlen ||
            (uint64_t)m->f[i].v + m->f[i].vl > m->headlen)
            abort();
}

static void fields(run *r, const h1_msg *m, int from, int to)
{
    for (int i = from; i < to; i++) {
        const char *n, *v;
        size_t nl, vl;
        h1_field_at(m, i, &n, &nl, &v, &vl);
        item(r, 'n', n, nl);
        item(r, 'v', v, vl);
        /* h1_field finds the first field of a name, case-insensitively */
        char name[64];
        if (nl < sizeof(name) && !memchr(n, 0, nl)) {
            memcpy(name, n, nl);
            name[nl] = 0;
            size_t fl;
            const char *fv = h1_field(m, name, &fl);
            if (!fv || fv > v) abort();
        }
    }
}

static int on_body(h1_msg *m, const uint8_t *p, size_t n)
{
    run *r = m->user;
    if (!m->head_done) abort();
    r->body_seen += n;
    for (size_t i = 0; i < n; i++)
        r->body_hash = (r->body_hash ^ p[i]) * 0x100000001b3ull;
    return 0;
}

static int on_head(h1_msg *m)
{
    run *r = m->user;
    if (!m->head_done || m->body_bytes || r->body_seen) abort();
    check_bounds(m);
    size_t tl;
    const char *t = h1_target(m, &tl);
    const char *method = h1_method(m);
    item(r, 'M', method, strlen(method));
    item(r, 'T', t, tl);
    num(r, 'V', (uint64_t)m->hp.http_major << 16 | m->hp.http_minor);
    fields(r, m, 0, m->nf);
    return 0;
}

/* The message is whole: its trailers, its body, what the server decides. */
static void message_end(run *r, h1_msg *m)
{
    check_bounds(m);
    if (r->body_seen != m->body_bytes) abort();
    int64_t cl = h1_content_length(m);
    int chunked = h1_chunked(m);
    /* a request has a body only by Content-Length or chunked (RFC 9112
     * §6.3); a CONNECT has none whatever it says (RFC 9110 §9.3.6), and
     * http-parser ends it with its head */
    int connect = m->hp.method == HTTP_CONNECT;
    if (!chunked && m->body_bytes != (uint64_t)(cl < 0 || connect ? 0 : cl)) abort();
    fields(r, m, m->ntrailer_from, m->nf);
    num(r, 'B', m->body_bytes);
    num(r, 'H', r->body_hash);
    num(r, 'K', (uint64_t)h1_keep_alive(m) << 8 | (uint64_t)chunked << 1 | m->hp.upgrade);
    num(r, 'L', (uint64_t)cl);
}

static int on_event(loom_conn *c, const loom_event *ev, void *user)
{
    (void)user;
    if (ev->type == LOOM_EV_HEADERS && ev->stream_id & 1) {
        loom_hpack_field f[] = {{(const uint8_t *)":status", 7, (const uint8_t *)"404", 3, 0}};
        loom_respond(c, ev->stream_id, f, 1, NULL);
    }
    return 0;
}

/* server.c's h1_answer: the h2c Upgrade on a server engine, the request as
 * stream 1, answered; then the rest of the input is the client's HTTP/2
 * (fed only when rest is not NULL). Returns loom_conn_upgrade's result. */
static int upgrade(const h1_msg *m, const uint8_t *settings, size_t k, const uint8_t *rest,
                   size_t rest_len)
{
    loom_config cfg;
    loom_config_default(&cfg, LOOM_SERVER);
    loom_conn *c = loom_conn_new(LOOM_SERVER, &cfg, on_event, NULL);
    if (!c) abort();
    const char *method = h1_method(m);
    size_t path_len, authority_len;
    const char *path = h1_target(m, &path_len);
    const char *authority = h1_field(m, "host", &authority_len);
    loom_hpack_field req[] = {
        {(const uint8_t *)":method", 7, (const uint8_t *)method, strlen(method), 0},
        {(const uint8_t *)":scheme", 7, (const uint8_t *)"http", 4, 0},
        {(const uint8_t *)":authority", 10, (const uint8_t *)(authority ? authority : ""),
         authority_len, 0},
        {(const uint8_t *)":path", 5, (const uint8_t *)path, path_len, 0},
    };
    int rc = loom_conn_upgrade(c, settings, k, req, 4);
    if (rc == 0) {
        static const uint8_t body[100] = {1};
        loom_hpack_field f[] = {{(const uint8_t *)":status", 7, (const uint8_t *)"200", 3, 0}};
        loom_body b = {.data = body, .len = sizeof(body), .fd = -1};
        if (loom_respond(c, 1, f, 1, strcmp(method, "HEAD") ? &b : NULL) < 0) abort();
        fuzz_drain(c);
        if (rest) {
            loom_conn_recv(c, rest, rest_len);
            fuzz_drain(c);
        }
    }
    loom_conn_free(c);
    return rc;
}

/* Parses in as src/server.c does, the octets arriving whole (lens NULL) or
 * in pieces. The transcript goes to r. */
static void parse(run *r, const uint8_t *in, size_t n, int flags, const uint8_t *lens, size_t k)
{
    h1_msg m;
    h1_init(&m, 0, on_body, r);
    m.on_head = on_head;
    size_t have = 0, off = 0, li = 0;
    int stop = 0;
    while (!stop && have < n) {
        size_t piece = !lens ? n : k ? (size_t)(lens[li++ % k] & 63) + 1 : 1;
        have += piece < n - have ? piece : n - have;
        while (!stop && off < have) {
            ssize_t used = h1_feed(&m, in + off, have - off);
            check_bounds(&m);
            if (used < 0) {
                /* server.c: 400 and close */
                if (!m.err) abort();
                r->err = m.err;
                /* the head's size, checked as octets are handed over, or
                 * h1_feed's scan of the raw head (obs-fold, bare CR) */
                r->lookahead = m.too_big || HTTP_PARSER_ERRNO(&m.hp) == HPE_OK;
                num(r, 'X', (uint64_t)r->msgs);
                num(r, 'D', m.head_done);
                num(r, 'B', m.body_bytes);
                num(r, 'H', r->body_hash);
                stop = 1;
                break;
            }
            if ((size_t)used > have - off) abort();
            off += (size_t)used;
            if (!m.msg_done) {
                /* it stops only after a whole message: anything else waits
                 * for input that is already there */
                if (off != have) abort();
                break;
            }
            message_end(r, &m);
            uint8_t settings[256];
            size_t cap = flags & F_SMALL_SETS ? 12 : sizeof(settings);
            int sk = h1_h2c_request(&m, !(flags & F_TLS), settings, cap);
            num(r, 'U', (uint64_t)sk);
            if (sk >= 0) {
                if (sk % 6 || (size_t)sk > cap) abort();
                item(r, 'S', settings, (size_t)sk);
                int rc =
                    upgrade(&m, settings, (size_t)sk, lens ? NULL : in + off, lens ? 0 : n - off);
                num(r, 'R', (uint64_t)rc);
                if (rc == 0) {
                    num(r, 'O', off); /* the rest is HTTP/2 */
                    stop = 1;
                    break;
                }
            }
            if (!h1_keep_alive(&m)) {
                stop = 1; /* server.c closes after the response */
                break;
            }
            h1_reset(&m);
            r->msgs++;
            r->body_seen = r->body_hash = 0;
        }
    }
    if (!stop) {
        /* where the input ended: inside which message, how far */
        num(r, 'Z', (uint64_t)r->msgs);
        num(r, 'D', m.head_done);
        num(r, 'F', (uint64_t)m.nf);
        num(r, 'h', m.headlen);
        num(r, 'B', m.body_bytes);
        num(r, 'H', r->body_hash);
        if (flags & F_EOF) {
            int rc = h1_eof(&m);
            num(r, 'e', (uint64_t)rc);
            num(r, 'B', m.body_bytes);
            if (rc == 0 && m.msg_done) message_end(r, &m);
        }
    }
    h1_free(&m);
}

static void dump(const char *what, const run *r)
{
    fprintf(stderr, "%s (%zu octets):\n", what, r->len);
    for (size_t i = 0; i + 5 <= r->len;) {
        uint32_t len;
        memcpy(&len, r->p + i + 1, 4);
        fprintf(stderr, "  %c ", r->p[i]);
        const uint8_t *p = r->p + i + 5;
        if (len == 8 && strchr("XDBHKLUROZFhe", r->p[i])) {
            uint64_t v;
            memcpy(&v, p, 8);
            fprintf(stderr, "%llu", (unsigned long long)v);
        } else {
            for (uint32_t j = 0; j < len && j < 200; j++)
                fprintf(stderr, p[j] >= 32 && p[j] < 127 ? "%c" : "\\x%02x", p[j]);
        }
        fprintf(stderr, "\n");
        i += 5 + len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    int flags = data[0];
    size_t k = data[1] & 15;
    if (size < 2 + k) return 0;
    const uint8_t *lens = data + 2;
    data += 2 + k;
    size -= 2 + k;

    run whole = {0}, pieces = {0};
    parse(&whole, data, size, flags, NULL, 0);
    parse(&pieces, data, size, flags, lens, k);
    if (whole.len != pieces.len || memcmp(whole.p, pieces.p, whole.len)) {
        dump("arriving whole", &whole);
        dump("arriving in pieces", &pieces);
        abort();
    }
    /* The same error, in the same message; but some checks look at octets
     * as they are handed over, ahead of the parser, so which error comes
     * first depends on where the reads end: the head's size, and the scan
     * of the raw head for obs-fold and bare CRs (RFC 9112 §5.2, §2.2). A
     * head too large or folded and malformed further on fails either way. */
    if (whole.err && !whole.lookahead && !pieces.lookahead && strcmp(whole.err, pieces.err)) {
        fprintf(stderr, "whole: %s\npieces: %s\n", whole.err, pieces.err);
        abort();
    }
    free(whole.p);
    free(pieces.p);
    return 0;
}
