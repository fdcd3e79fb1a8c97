/* src/h1.c, the HTTP/1.1 parser loom serve reads requests with: what it
 * takes, and the request shapes it must refuse because a parser behind it
 * could read them differently (request smuggling, RFC 9112 §6.1, §6.3,
 * §5.1, §5.2, §7.1). Each input also goes in one octet at a time, which
 * must give the same verdict. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_field_values),
        cmocka_unit_test(test_smuggling_refused),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_h2c_upgrade),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
