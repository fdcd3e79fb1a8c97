/* src/h1.c, the HTTP/1.1 parser loom serve reads requests with: what it
 * takes, and the request shapes it must refuse because a parser behind it
 * could read them differently (request smuggling, RFC 9112 §6.1, §6.3,
 * §5.1, §5.2, §7.1). Each input also goes in one octet at a time, which
 * must give the same verdict. And what fuzz/h1_server.c found: a request
 * parses the same whichever reads it arrives in; the framing
 * h1_content_length and h1_chunked report is the head's, also once the
 * body and trailers are in (h1_h2c_request relies on it after the whole
 * request); a head refused as too large leaves no field reaching past what
 * was kept of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../src/h1.h"

typedef struct {
    size_t body;
    int msgs;
} seen;

static int count_body(h1_msg *m, const uint8_t *p, size_t n)
{
    (void)p;
    ((seen *)m->user)->body += n;
    return 0;
}

/* Feeds s whole (step 0) or `step` octets more at a time, message after
 * message. Returns the number of whole messages, or -1 when refused. */
static int parse(const char *s, size_t step, seen *out)
{
    h1_msg m;
    memset(out, 0, sizeof(*out));
    h1_init(&m, 0, count_body, out);
    size_t n = strlen(s), at = 0, limit = step ? 0 : n;
    int msgs = 0;
    while (at < n) {
        if (limit < n) limit = limit + step < n ? limit + step : n;
        ssize_t k = h1_feed(&m, (const uint8_t *)s + at, limit - at);
        if (k < 0) {
            assert_non_null(m.err);
            h1_free(&m);
            out->msgs = msgs; /* taken before the refusal */
            return -1;
        }
        at += (size_t)k;
        if (m.msg_done) {
            msgs++;
            h1_reset(&m);
        } else if (k == 0 && limit == n) {
            break; /* needs more than there is */
        }
    }
    h1_free(&m);
    return msgs;
}

static void both_ways(const char *s, int want_msgs, size_t want_body)
{
    seen a, b;
    int x = parse(s, 0, &a), y = parse(s, 1, &b);
    if (x != want_msgs || y != want_msgs)
        fail_msg("%s: whole %d, octet by octet %d, want %d", s, x, y, want_msgs);
    if (want_msgs > 0) {
        assert_int_equal(a.body, want_body);
        assert_int_equal(b.body, want_body);
    }
}

static void test_good(void **state)
{
    (void)state;
    both_ways("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0);
    both_ways("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", 2, 0);
    both_ways("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 1, 5);
    both_ways("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\nhello\r\n3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n",
              1, 8);
    /* chunk extensions (with BWS), trailers, a chunked request then another */
    both_ways("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5 ;a=1;b\r\nhello\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n"
              "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
              2, 5);
    /* a CRLF before the request line is allowed (RFC 9112 §2.2) */
    both_ways("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0);
    /* whitespace inside a value is fine; around it, trimmed */
    both_ways("GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: a b\tc \r\n\r\n", 1, 0);
}

static void test_field_values(void **state)
{
    (void)state;
    h1_msg m;
    h1_init(&m, 0, NULL, NULL);
    const char *s = "GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n"
                    "X-A:  spaced  \r\n\r\n";
    assert_int_equal(h1_feed(&m, (const uint8_t *)s, strlen(s)), (ssize_t)strlen(s));
    assert_true(m.msg_done);
    assert_string_equal(h1_method(&m), "GET");
    size_t n;
    const char *t = h1_target(&m, &n);
    assert_int_equal(n, 6);
    assert_memory_equal(t, "/p?q=1", 6);
    const char *v = h1_field(&m, "host", &n);
    assert_non_null(v);
    assert_int_equal(n, 11);
    v = h1_field(&m, "x-a", &n);
    assert_int_equal(n, 6);
    assert_memory_equal(v, "spaced", 6);
    assert_int_equal(h1_content_length(&m), 0);
    assert_true(h1_keep_alive(&m));
    h1_free(&m);
}

/* The shapes of request smuggling: refused, whole or octet by octet, and
 * nothing after them is read as a request. */
static void test_smuggling_refused(void **state)
{
    (void)state;
    static const char *bad[] = {
        /* §6.1: Content-Length with Transfer-Encoding */
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
        "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        /* §6.3: two different Content-Lengths */
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        /* a Content-Length that is not a number */
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        /* §5.2: obs-fold (a parser behind could read two fields) */
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tTransfer-Encoding: chunked\r\n\r\n",
        /* §5.1: whitespace between a field name and its colon */
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        /* §7.1: bad chunk sizes */
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "fffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
        /* chunk data not followed by CRLF (http-parser takes any two
         * octets there), bare LFs, chunk sizes of 16 digits */
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhelloXX0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\nhello\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n0\r\nX-T: 1\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0000000000000005\r\nhello\r\n0\r\n\r\n",
        /* chunked not last (§6.1: the length cannot be known) */
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        /* a line of the head that starts with whitespace */
        "GET / HTTP/1.1\r\n Host: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        seen a, b;
        int x = parse(bad[i], 0, &a), y = parse(bad[i], 1, &b);
        if (x != -1 || y != -1)
            fail_msg("case %zu taken (whole %d, octet by octet %d): %s", i, x, y, bad[i]);
    }
}

static void test_limits(void **state)
{
    (void)state;
    /* a head over H1_MAX_HEAD */
    size_t big = H1_MAX_HEAD + 100;
    char *s = malloc(big + 64);
    int o = sprintf(s, "GET / HTTP/1.1\r\nX-Big: ");
    memset(s + o, 'a', big);
    strcpy(s + o + big, "\r\n\r\n");
    seen a;
    assert_int_equal(parse(s, 0, &a), -1);
    /* more than H1_MAX_FIELDS fields */
    o = sprintf(s, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= H1_MAX_FIELDS; i++)
        o += sprintf(s + o, "X-%d: v\r\n", i);
    strcpy(s + o, "\r\n");
    assert_int_equal(parse(s, 0, &a), -1);
    free(s);
}

/* The h2c Upgrade (RFC 7540 §3.2): HTTP2-Settings decoded, and the value
 * we write decodes back. */
static void test_h2c_upgrade(void **state)
{
    (void)state;
    loom_setting list[] = {{LOOM_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
                           {LOOM_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    char b64[64];
    int k = h1_settings_b64(list, 2, b64, sizeof(b64));
    assert_true(k > 0);
    char req[256];
    snprintf(req, sizeof(req),
             "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
             "Upgrade: h2c\r\nHTTP2-Settings: %s\r\n\r\n",
             b64);
    h1_msg m;
    h1_init(&m, 0, NULL, NULL);
    assert_true(h1_feed(&m, (const uint8_t *)req, strlen(req)) > 0);
    uint8_t settings[64];
    int n = h1_h2c_request(&m, 1, settings, sizeof(settings));
    assert_int_equal(n, 12); /* two settings, six octets each (RFC 9113 §6.5.1) */
    assert_int_equal(settings[1], LOOM_SETTINGS_MAX_CONCURRENT_STREAMS);
    assert_int_equal(settings[5], 100);
    /* not over TLS (RFC 7540 §3.2: h2c is cleartext only) */
    assert_int_equal(h1_h2c_request(&m, 0, settings, sizeof(settings)), -1);
    h1_free(&m);
}

/* http-parser ends a head at a CR and whatever octet follows it; the
 * obs-fold scan ended it only at a blank line of CRLF or LF, so it read on
 * into the next request: a request followed by a folded one was refused
 * when both came in one read and served when it came alone. A bare CR
 * (RFC 9112 §2.2) is refused, whichever reads it arrives in. */
static void test_bare_cr_refused(void **state)
{
    (void)state;
    static const char *cases[] = {
        "GET / HTTP/1.1\r\nHost: x\r\n\rXGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n\rXGET /b HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\rX-A: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\r\n",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        seen a, b;
        int x = parse(cases[i], 0, &a), y = parse(cases[i], 1, &b);
        if (x != -1 || y != -1 || a.msgs != b.msgs)
            fail_msg("case %zu: whole %d (%d taken), octet by octet %d (%d taken)", i, x, a.msgs, y,
                     b.msgs);
        assert_int_equal(a.msgs, i == 3); /* the first request of the last case is good */
    }
}

/* HTTP2-Settings: MAX_CONCURRENT_STREAMS 100, INITIAL_WINDOW_SIZE 65535 */
#define SETTINGS "AAMAAABkAAQAAP__"
#define H2C                                                                                        \
    "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: " SETTINGS "\r\n"

typedef struct {
    uint8_t body[64];
    size_t len;
} body;

static int on_body(h1_msg *m, const uint8_t *p, size_t n)
{
    body *b = m->user;
    assert_true(b->len + n <= sizeof(b->body));
    memcpy(b->body + b->len, p, n);
    b->len += n;
    return 0;
}

/* Feeds s in reads of at most `step` octets as src/server.c does (what
 * h1_feed leaves is offered again with the next read); returns the octets
 * used by the first message, which must be whole. */
static size_t feed(h1_msg *m, const char *s, size_t step)
{
    size_t n = strlen(s), have = 0, off = 0;
    while (!m->msg_done && have < n) {
        have += step < n - have ? step : n - have;
        ssize_t used = h1_feed(m, (const uint8_t *)s + off, have - off);
        assert_true(used >= 0);
        off += (size_t)used;
        /* without a whole message, a read is used up */
        if (!m->msg_done) assert_int_equal(off, have);
    }
    assert_true(m->msg_done);
    return off;
}

/* An Upgrade request with a body whose head and body arrive apart: h1_feed
 * used to answer 0 after the head for good, so the request never ended. */
static void test_upgrade_with_body_in_pieces(void **state)
{
    (void)state;
    static const char req[] = "POST /form HTTP/1.1\r\nHost: a\r\n" H2C "Content-Length: 5\r\n\r\n"
                              "hello"
                              "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t steps[] = {1, 7, sizeof(req) - 1 - 5 - 31, sizeof(req)};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        body b = {{0}, 0};
        h1_msg m;
        h1_init(&m, 0, on_body, &b);
        size_t used = feed(&m, req, steps[i]);
        assert_int_equal(used, sizeof(req) - 1 - 31); /* the next request is left */
        assert_int_equal(b.len, 5);
        assert_memory_equal(b.body, "hello", 5);
        assert_int_equal(m.body_bytes, 5);
        assert_int_equal(h1_content_length(&m), 5);
        /* RFC 7540 §3.2: this server upgrades requests without a body only */
        uint8_t settings[256];
        assert_int_equal(h1_h2c_request(&m, 1, settings, sizeof(settings)), -1);
        /* served over HTTP/1.1, the next request follows */
        h1_reset(&m);
        used = feed(&m, req + used, steps[i]);
        assert_int_equal(used, 31);
        size_t tl;
        const char *t = h1_target(&m, &tl);
        assert_int_equal(tl, 5);
        assert_memory_equal(t, "/next", 5);
        h1_free(&m);
    }
}

/* http-parser counts hp.content_length down to 0 through the body: the
 * Content-Length once the request is whole was 0, so an h2c Upgrade with a
 * body was taken (and its body lost). */
static void test_content_length_kept(void **state)
{
    (void)state;
    static const char req[] = "PUT / HTTP/1.1\r\nHost: a\r\n" H2C "Content-Length: 3\r\n\r\nabc";
    body b = {{0}, 0};
    h1_msg m;
    h1_init(&m, 0, on_body, &b);
    assert_int_equal(h1_content_length(&m), -1); /* no head yet */
    feed(&m, req, sizeof(req));
    assert_int_equal(h1_content_length(&m), 3);
    assert_int_equal(m.body_bytes, 3);
    uint8_t settings[256];
    assert_int_equal(h1_h2c_request(&m, 1, settings, sizeof(settings)), -1);

    /* the same Upgrade without a body is taken */
    static const char get[] = "GET / HTTP/1.1\r\nHost: a\r\n" H2C "\r\n";
    h1_reset(&m);
    feed(&m, get, 3);
    assert_int_equal(h1_content_length(&m), -1);
    assert_int_equal(h1_h2c_request(&m, 1, settings, sizeof(settings)), 12);
    static const uint8_t want[] = {0, 3, 0, 0, 0, 100, 0, 4, 0, 0, 0xff, 0xff};
    assert_memory_equal(settings, want, sizeof(want));
    h1_free(&m);
}

/* A Transfer-Encoding trailer field cleared http-parser's chunked flag
 * after the body: h1_chunked said 0 for a chunked request, and an h2c
 * Upgrade with a chunked body was taken. */
static void test_chunked_kept_after_trailers(void **state)
{
    (void)state;
    static const char req[] =
        "POST / HTTP/1.1\r\nHost: a\r\n" H2C "Transfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\nTransfer-Encoding: gzip\r\n\r\n";
    body b = {{0}, 0};
    h1_msg m;
    h1_init(&m, 0, on_body, &b);
    feed(&m, req, sizeof(req)); /* whole: the pieces are the first test's */
    assert_true(h1_chunked(&m));
    assert_int_equal(h1_content_length(&m), -1);
    assert_int_equal(m.body_bytes, 3);
    assert_int_equal(m.nf - m.ntrailer_from, 1);
    uint8_t settings[256];
    assert_int_equal(h1_h2c_request(&m, 1, settings, sizeof(settings)), -1);
    h1_free(&m);
}

/* A head refused as too large: its last field's length used to count the
 * octets that were not kept, reaching past the head (H1_MAX_HEAD). */
static void test_too_large_head_stays_within(void **state)
{
    (void)state;
    static char req[H1_MAX_HEAD + 200];
    static const char start[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ";
    memcpy(req, start, sizeof(start) - 1);
    memset(req + sizeof(start) - 1, 'v', sizeof(req) - sizeof(start));
    req[sizeof(req) - 1] = 0;
    size_t steps[] = {sizeof(req), 1000};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        h1_msg m;
        h1_init(&m, 0, NULL, NULL);
        size_t n = strlen(req);
        ssize_t rc = 0;
        for (size_t off = 0; off < n && rc >= 0; off += steps[i])
            rc = h1_feed(&m, (const uint8_t *)req + off, steps[i] < n - off ? steps[i] : n - off);
        assert_int_equal(rc, -1);
        assert_string_equal(m.err, "request head too large");
        assert_true(m.headlen <= H1_MAX_HEAD);
        assert_true(m.url + m.urllen <= m.headlen);
        for (int k = 0; k < m.nf; k++) {
            assert_true(m.f[k].n + m.f[k].nl <= m.headlen);
            assert_true(m.f[k].v + m.f[k].vl <= m.headlen);
        }
        h1_free(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_field_values),
        cmocka_unit_test(test_smuggling_refused),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_h2c_upgrade),
        cmocka_unit_test(test_upgrade_with_body_in_pieces),
        cmocka_unit_test(test_content_length_kept),
        cmocka_unit_test(test_chunked_kept_after_trailers),
        cmocka_unit_test(test_too_large_head_stays_within),
        cmocka_unit_test(test_bare_cr_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
