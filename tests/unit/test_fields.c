/* lib/fields.c: HTTP message rules of RFC 9113 §8.2 and §8.3 (and §8.5,
 * RFC 8441 §4 for CONNECT), one case per rule, and the RFC 9218 §4
 * Priority field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fields.h"

/* A field list written as names and values (a value may hold any octet
 * but NUL; NUL is written "\\0" and expanded). Kept by value: the
 * loom_hpack_field array is made where it is used (bind()). */
typedef struct {
    uint8_t store[16][2][64];
    size_t len[16][2];
    size_t n;
    loom_hpack_field f[16];
} flist;

static void add(flist *l, const char *name, const char *value)
{
    size_t i = l->n++, vn = 0;
    l->len[i][0] = strlen(name);
    memcpy(l->store[i][0], name, l->len[i][0]);
    for (const char *p = value; *p; p++) {
        if (p[0] == '\\' && p[1] == '0') {
            l->store[i][1][vn++] = 0;
            p++;
        } else {
            l->store[i][1][vn++] = (uint8_t)*p;
        }
    }
    l->len[i][1] = vn;
}

static const loom_hpack_field *bind(flist *l)
{
    for (size_t i = 0; i < l->n; i++)
        l->f[i] = (loom_hpack_field){l->store[i][0], l->len[i][0], l->store[i][1], l->len[i][1], 0};
    return l->f;
}

/* Builds a list from alternating names and values, NULL-terminated. */
static flist make(const char *first, ...)
{
    flist l;
    memset(&l, 0, sizeof(l));
    va_list ap;
    va_start(ap, first);
    for (const char *name = first; name; name = va_arg(ap, const char *))
        add(&l, name, va_arg(ap, const char *));
    va_end(ap);
    return l;
}

static int check(flist *l, loom_msg_kind kind, int connect_protocol, loom_msg_info *info)
{
    const char *why = NULL;
    int rc = loom__fields_check(bind(l), NULL, l->n, kind, connect_protocol, info, &why);
    if (rc < 0) {
        assert_int_equal(rc, LOOM_ERR_PROTOCOL);
        assert_non_null(why); /* every refusal names its rule */
    }
    return rc;
}

#define GET_HEAD ":method", "GET", ":scheme", "https", ":authority", "a.example", ":path", "/"

/* The list as text, for failure messages. */
static const char *show(flist *l)
{
    static char out[2048];
    size_t o = 0;
    bind(l);
    for (size_t i = 0; i < l->n && o < sizeof(out) - 200; i++)
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s'%.*s: %.*s'", i ? ", " : "",
                              (int)l->f[i].name_len, (const char *)l->f[i].name,
                              (int)l->f[i].value_len, (const char *)l->f[i].value);
    return out;
}

static void request_ok_at(flist l, int connect_protocol, int line)
{
    loom_msg_info info;
    const char *why = NULL;
    if (loom__fields_check(bind(&l), NULL, l.n, LOOM_MSG_REQUEST, connect_protocol, &info, &why) !=
        0)
        fail_msg("line %d: refused (%s): %s", line, why, show(&l));
}

static void request_bad_at(flist l, int connect_protocol, int line)
{
    loom_msg_info info;
    if (check(&l, LOOM_MSG_REQUEST, connect_protocol, &info) != LOOM_ERR_PROTOCOL)
        fail_msg("line %d: a malformed request was taken: %s", line, show(&l));
}

#define request_ok(l, cp)  request_ok_at((l), (cp), __LINE__)
#define request_bad(l, cp) request_bad_at((l), (cp), __LINE__)

static void test_valid_request_info(void **state)
{
    (void)state;
    flist l = make(GET_HEAD, "content-length", "12", "accept", "*/*", NULL);
    loom_msg_info info;
    assert_int_equal(check(&l, LOOM_MSG_REQUEST, 0, &info), 0);
    assert_int_equal(info.method_len, 3);
    assert_memory_equal(info.method, "GET", 3);
    assert_memory_equal(info.scheme, "https", 5);
    assert_int_equal(info.authority_len, 9);
    assert_memory_equal(info.authority, "a.example", 9);
    assert_int_equal(info.path_len, 1);
    assert_null(info.protocol);
    assert_int_equal(info.content_length, 12);
    assert_int_equal(info.status, 0);
    assert_int_equal(info.has_priority, 0);
    assert_int_equal(info.urgency, 3); /* RFC 9218 §4.1 default */
    assert_int_equal(info.incremental, 0);
    /* :authority is optional (§8.3.1), content-length absent is -1 */
    request_ok(make(":method", "GET", ":scheme", "https", ":path", "/", NULL), 0);
    l = make(":method", "GET", ":scheme", "https", ":path", "/", NULL);
    assert_int_equal(check(&l, LOOM_MSG_REQUEST, 0, &info), 0);
    assert_int_equal(info.content_length, -1);
    assert_null(info.authority);
}

/* §8.2.1: names: no uppercase, no controls, SP, DEL or octets above it, a
 * colon only as a pseudo-header's first octet; not empty. */
static void test_field_names(void **state)
{
    (void)state;
    request_bad(make(GET_HEAD, "Accept", "x", NULL), 0);
    request_bad(make(GET_HEAD, "accepT", "x", NULL), 0);
    request_bad(make(GET_HEAD, "x y", "x", NULL), 0);
    request_bad(make(GET_HEAD, "x\ty", "x", NULL), 0);
    request_bad(make(GET_HEAD, "x\x7f", "x", NULL), 0);
    request_bad(make(GET_HEAD, "x\x80", "x", NULL), 0);
    request_bad(make(GET_HEAD, "\xff", "x", NULL), 0);
    request_bad(make(GET_HEAD, "x\x01", "x", NULL), 0);
    request_bad(make(GET_HEAD, "x:y", "x", NULL), 0);
    request_bad(make(GET_HEAD, "", "x", NULL), 0);
    request_bad(make(":method", "GET", ":Scheme", "https", ":path", "/", NULL), 0);
    request_bad(make("::method", "GET", ":scheme", "https", ":path", "/", NULL), 0);
    /* every visible lowercase token octet is fine */
    request_ok(make(GET_HEAD, "x-!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz", "v", NULL),
               0);
}

/* §8.2.1: values: no NUL, CR or LF anywhere; no SP or HTAB at either end. */
static void test_field_values(void **state)
{
    (void)state;
    request_bad(make(GET_HEAD, "x", "a\\0b", NULL), 0);
    request_bad(make(GET_HEAD, "x", "\\0", NULL), 0);
    request_bad(make(GET_HEAD, "x", "a\rb", NULL), 0);
    request_bad(make(GET_HEAD, "x", "a\nb", NULL), 0);
    request_bad(make(GET_HEAD, "x", "a\r\n", NULL), 0);
    request_bad(make(GET_HEAD, "x", " a", NULL), 0);
    request_bad(make(GET_HEAD, "x", "a ", NULL), 0);
    request_bad(make(GET_HEAD, "x", "\ta", NULL), 0);
    request_bad(make(GET_HEAD, "x", "a\t", NULL), 0);
    request_bad(make(GET_HEAD, "x", " ", NULL), 0);
    /* pseudo-header values too */
    request_bad(make(":method", "GET", ":scheme", "https", ":path", "/a\\0", NULL), 0);
    /* inside, whitespace and other octets are fine; so is an empty value */
    request_ok(make(GET_HEAD, "x", "a b\tc", NULL), 0);
    request_ok(make(GET_HEAD, "x", "", NULL), 0);
    request_ok(make(GET_HEAD, "x", "\x01\x7f\x80\xff", NULL), 0);
}

/* §8.2.2: connection-specific fields are malformed; TE only as "trailers". */
static void test_connection_specific(void **state)
{
    (void)state;
    const char *const banned[] = {"connection", "keep-alive", "proxy-connection",
                                  "transfer-encoding", "upgrade"};
    for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++) {
        request_bad(make(GET_HEAD, banned[i], "x", NULL), 0);
        flist l = make(":status", "200", banned[i], "x", NULL);
        loom_msg_info info;
        assert_int_equal(check(&l, LOOM_MSG_RESPONSE, 0, &info), LOOM_ERR_PROTOCOL);
    }
    request_ok(make(GET_HEAD, "te", "trailers", NULL), 0);
    request_bad(make(GET_HEAD, "te", "gzip", NULL), 0);
    request_bad(make(GET_HEAD, "te", "trailers, gzip", NULL), 0);
    request_bad(make(GET_HEAD, "te", "", NULL), 0);
    /* names that only start like a banned one are fine */
    request_ok(
        make(GET_HEAD, "connections", "x", "upgrade-insecure-requests", "1", "tes", "x", NULL), 0);
}

/* §8.3: pseudo-headers first, once each, defined ones only. */
static void test_request_pseudo_headers(void **state)
{
    (void)state;
    request_bad(make(":method", "GET", "accept", "*/*", ":scheme", "https", ":path", "/", NULL), 0);
    request_bad(make(GET_HEAD, "x", "y", ":authority", "b", NULL), 0);
    request_bad(make(GET_HEAD, ":method", "GET", NULL), 0);
    request_bad(make(GET_HEAD, ":path", "/", NULL), 0);
    request_bad(make(GET_HEAD, ":scheme", "http", NULL), 0);
    request_bad(make(GET_HEAD, ":authority", "a.example", NULL), 0);
    request_bad(make(GET_HEAD, ":foo", "x", NULL), 0);
    request_bad(make(GET_HEAD, ":status", "200", NULL), 0);         /* a response's */
    request_bad(make(GET_HEAD, ":protocol", "websocket", NULL), 0); /* not enabled */
    /* §8.3.1: :method, :scheme and :path are required, :path not empty */
    request_bad(make(":scheme", "https", ":path", "/", NULL), 0);
    request_bad(make(":method", "GET", ":path", "/", NULL), 0);
    request_bad(make(":method", "GET", ":scheme", "https", NULL), 0);
    request_bad(make(":method", "GET", ":scheme", "https", ":path", "", NULL), 0);
    request_bad(make("accept", "*/*", NULL), 0);
    request_ok(make(":method", "OPTIONS", ":scheme", "https", ":path", "*", NULL), 0);
    /* order among pseudo-headers is free */
    request_ok(make(":path", "/", ":authority", "a", ":scheme", "http", ":method", "POST", NULL),
               0);
}

static void test_response_pseudo_headers(void **state)
{
    (void)state;
    loom_msg_info info;
    const struct {
        const char *status;
        int want; /* the code, or -1 for malformed */
    } cases[] = { /* RFC 9110 §15: a code outside 100..599 is handled as 5xx by the client,
                   * not malformed */
                 {"200", 200}, {"103", 103}, {"999", 999}, {"100", 100}, {"20", -1},
                 {"2000", -1}, {"", -1},     {"abc", -1},  {"099", -1},  {"2x0", -1},
                 {"20 ", -1},  {"-20", -1},  {"+20", -1}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        flist l = make(":status", cases[i].status, "server", "loom", NULL);
        int rc = check(&l, LOOM_MSG_RESPONSE, 0, &info);
        if (cases[i].want < 0) {
            if (rc != LOOM_ERR_PROTOCOL) fail_msg(":status '%s' was taken", cases[i].status);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(info.status, cases[i].want);
        }
    }
    /* §8.3.2: exactly one :status, before regular fields, no request ones */
    flist l = make("server", "loom", NULL);
    assert_int_equal(check(&l, LOOM_MSG_RESPONSE, 0, &info), LOOM_ERR_PROTOCOL);
    l = make(":status", "200", ":status", "200", NULL);
    assert_int_equal(check(&l, LOOM_MSG_RESPONSE, 0, &info), LOOM_ERR_PROTOCOL);
    l = make(":status", "200", ":path", "/", NULL);
    assert_int_equal(check(&l, LOOM_MSG_RESPONSE, 0, &info), LOOM_ERR_PROTOCOL);
    l = make(":method", "GET", ":status", "200", NULL);
    assert_int_equal(check(&l, LOOM_MSG_RESPONSE, 0, &info), LOOM_ERR_PROTOCOL);
    l = make("server", "loom", ":status", "200", NULL);
    assert_int_equal(check(&l, LOOM_MSG_RESPONSE, 0, &info), LOOM_ERR_PROTOCOL);
    l = make(":status", "200", ":foo", "x", NULL);
    assert_int_equal(check(&l, LOOM_MSG_RESPONSE, 0, &info), LOOM_ERR_PROTOCOL);
    l = make(":status", "204", NULL);
    assert_int_equal(check(&l, LOOM_MSG_RESPONSE, 0, &info), 0);
    assert_int_equal(info.status, 204);
}

/* §8.1: trailers carry no pseudo-header; regular fields are checked as
 * anywhere else. */
static void test_trailers(void **state)
{
    (void)state;
    loom_msg_info info;
    flist l = make("grpc-status", "0", "x-checksum", "abc", NULL);
    assert_int_equal(check(&l, LOOM_MSG_TRAILERS, 0, &info), 0);
    l = make(NULL); /* an empty trailer section is fine */
    assert_int_equal(check(&l, LOOM_MSG_TRAILERS, 0, &info), 0);
    const char *const pseudo[] = {":status",    ":path",   ":method",
                                  ":authority", ":scheme", ":protocol"};
    for (size_t i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++) {
        l = make(pseudo[i], "x", NULL);
        assert_int_equal(check(&l, LOOM_MSG_TRAILERS, 1, &info), LOOM_ERR_PROTOCOL);
        l = make("x-a", "1", pseudo[i], "x", NULL);
        assert_int_equal(check(&l, LOOM_MSG_TRAILERS, 1, &info), LOOM_ERR_PROTOCOL);
    }
    l = make("X-Upper", "1", NULL);
    assert_int_equal(check(&l, LOOM_MSG_TRAILERS, 0, &info), LOOM_ERR_PROTOCOL);
    l = make("connection", "close", NULL);
    assert_int_equal(check(&l, LOOM_MSG_TRAILERS, 0, &info), LOOM_ERR_PROTOCOL);
}

/* §8.5: CONNECT has :method and :authority only; RFC 8441 §4: extended
 * CONNECT (:protocol, only when enabled) has :scheme and :path too. */
static void test_connect(void **state)
{
    (void)state;
    loom_msg_info info;
    request_ok(make(":method", "CONNECT", ":authority", "a.example:443", NULL), 0);
    request_bad(make(":method", "CONNECT", NULL), 0);
    request_bad(make(":method", "CONNECT", ":authority", "a:443", ":scheme", "https", NULL), 0);
    request_bad(make(":method", "CONNECT", ":authority", "a:443", ":path", "/", NULL), 0);
    request_bad(
        make(":method", "CONNECT", ":authority", "a:443", ":scheme", "https", ":path", "/", NULL),
        0);

    flist ws = make(":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path",
                    "/chat", ":authority", "a.example", NULL);
    assert_int_equal(check(&ws, LOOM_MSG_REQUEST, 1, &info), 0);
    assert_int_equal(info.protocol_len, 9);
    assert_memory_equal(info.protocol, "websocket", 9);
    /* :protocol is unknown unless SETTINGS_ENABLE_CONNECT_PROTOCOL was sent */
    assert_int_equal(check(&ws, LOOM_MSG_REQUEST, 0, &info), LOOM_ERR_PROTOCOL);
    request_bad(make(":method", "CONNECT", ":protocol", "websocket", ":authority", "a", NULL), 1);
    request_bad(make(":method", "CONNECT", ":protocol", "websocket", ":scheme", "https",
                     ":authority", "a", NULL),
                1);
    request_bad(make(":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path",
                     "", ":authority", "a", NULL),
                1);
    request_bad(
        make(":method", "GET", ":protocol", "websocket", ":scheme", "https", ":path", "/", NULL),
        1);
    request_bad(make(":method", "CONNECT", ":protocol", "websocket", ":protocol", "websocket",
                     ":scheme", "https", ":path", "/", NULL),
                1);
    /* a plain CONNECT is still one when the extension is on */
    request_ok(make(":method", "CONNECT", ":authority", "a.example:443", NULL), 1);
    /* the method is case-sensitive: "connect" is an ordinary method */
    request_bad(make(":method", "connect", ":authority", "a.example:443", NULL), 0);
}

/* RFC 9113 §8.1.1, RFC 9110 §8.6: content-length is digits; repeated, it
 * must agree. */
static void test_content_length(void **state)
{
    (void)state;
    loom_msg_info info;
    const struct {
        const char *v;
        int64_t want; /* -2: malformed */
    } one[] = {{"0", 0},     {"42", 42},  {"007", 7},  {"999999999999999999", 999999999999999999},
               {"", -2},     {"-1", -2},  {"+1", -2},  {"1 2", -2},
               {"0x10", -2}, {"1.0", -2}, {"1,1", -2}, {"9999999999999999999", -2},
               {"12a", -2}};
    for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
        flist l = make(GET_HEAD, "content-length", one[i].v, NULL);
        int rc = check(&l, LOOM_MSG_REQUEST, 0, &info);
        if (one[i].want == -2) {
            if (rc != LOOM_ERR_PROTOCOL) fail_msg("content-length '%s' was taken", one[i].v);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(info.content_length, one[i].want);
        }
    }
    flist l = make(GET_HEAD, "content-length", "5", "content-length", "5", NULL);
    assert_int_equal(check(&l, LOOM_MSG_REQUEST, 0, &info), 0);
    assert_int_equal(info.content_length, 5);
    l = make(GET_HEAD, "content-length", "5", "content-length", "6", NULL);
    assert_int_equal(check(&l, LOOM_MSG_REQUEST, 0, &info), LOOM_ERR_PROTOCOL);
    l = make(GET_HEAD, "content-length", "0", "content-length", "00", NULL);
    assert_int_equal(check(&l, LOOM_MSG_REQUEST, 0, &info), 0); /* the same number */
    l = make(":status", "200", "content-length", "10", NULL);
    assert_int_equal(check(&l, LOOM_MSG_RESPONSE, 0, &info), 0);
    assert_int_equal(info.content_length, 10);
    l = make(":status", "200", "content-length", "ten", NULL);
    assert_int_equal(check(&l, LOOM_MSG_RESPONSE, 0, &info), LOOM_ERR_PROTOCOL);
}

/* The priority field of a request fills info (RFC 9218 §4); of a response
 * it is not the server's signal. */
static void test_priority_in_request(void **state)
{
    (void)state;
    loom_msg_info info;
    flist l = make(GET_HEAD, "priority", "u=1, i", NULL);
    assert_int_equal(check(&l, LOOM_MSG_REQUEST, 0, &info), 0);
    assert_int_equal(info.has_priority, 1);
    assert_int_equal(info.urgency, 1);
    assert_int_equal(info.incremental, 1);
    l = make(GET_HEAD, "priority", "u=9", NULL); /* nothing understood */
    assert_int_equal(check(&l, LOOM_MSG_REQUEST, 0, &info), 0);
    assert_int_equal(info.has_priority, 0);
    assert_int_equal(info.urgency, 3);
    l = make(":status", "200", "priority", "u=0", NULL);
    assert_int_equal(check(&l, LOOM_MSG_RESPONSE, 0, &info), 0);
    assert_int_equal(info.has_priority, 0);
    assert_int_equal(info.urgency, 3);
}

/* ---- RFC 9218 §4 ---- */

/* Parses v from (u, i) = (3, 0); returns what loom__priority_parse did. */
static int prio(const char *v, int *u, int *i)
{
    uint8_t uu = 3, ii = 0;
    int rc = loom__priority_parse((const uint8_t *)v, strlen(v), &uu, &ii);
    *u = uu;
    *i = ii;
    return rc;
}

#define PRIO(v, rc_, u_, i_)                                                                       \
    do {                                                                                           \
        int u, i, rc = prio(v, &u, &i);                                                            \
        if (rc != (rc_) || u != (u_) || i != (i_))                                                 \
            fail_msg("priority '%s': got %d u=%d i=%d, want %d u=%d i=%d", v, rc, u, i, rc_, u_,   \
                     i_);                                                                          \
    } while (0)

static void test_priority_parse(void **state)
{
    (void)state;
    /* §4.1 urgency 0..7 */
    for (int k = 0; k <= 7; k++) {
        char v[8];
        snprintf(v, sizeof(v), "u=%d", k);
        PRIO(v, 1, k, 0);
    }
    /* §4.2 incremental: a Boolean, bare key true */
    PRIO("i", 1, 3, 1);
    PRIO("i=?1", 1, 3, 1);
    PRIO("i=?0", 1, 3, 0);
    PRIO("u=5, i", 1, 5, 1);
    PRIO("i, u=0", 1, 0, 1);
    PRIO("u=2,i", 1, 2, 1);
    /* out of range or of the wrong type: that member is ignored (§4.1) */
    PRIO("u=8", 0, 3, 0);
    PRIO("u=10", 0, 3, 0);
    PRIO("u=-1", 0, 3, 0);
    PRIO("u=1.5", 0, 3, 0);
    PRIO("u=?1", 0, 3, 0);
    PRIO("u=8, i", 1, 3, 1);
    PRIO("i=1", 0, 3, 0);
    PRIO("i=?2", 0, 3, 0);
    /* unknown members and parameters are ignored (§4) */
    PRIO("foo=bar, u=6", 1, 6, 0);
    PRIO("x, u=4, y=?1", 1, 4, 0);
    PRIO("u=4;x=1", 1, 4, 0);
    PRIO("i;x", 1, 3, 1);
    PRIO("foo", 0, 3, 0);
    /* a later member of the same key wins (RFC 8941 §3.2) */
    PRIO("u=1, u=6", 1, 6, 0);
    PRIO("i, i=?0", 1, 3, 0);
    /* not a dictionary: the whole field is ignored, nothing is set */
    PRIO("", 0, 3, 0);
    PRIO("=1", 0, 3, 0);
    PRIO("U=1", 0, 3, 0);
    PRIO("u=1, U=2", 0, 3, 0);
    PRIO("u=1, =2", 0, 3, 0);
    PRIO(",", 0, 3, 0);
    PRIO("u=1, (a)", 0, 3, 0);
    PRIO("\"u=1\"", 0, 3, 0);
    /* leading whitespace of a member is skipped */
    PRIO("  u=1,   i", 1, 1, 1);
}

/* KNOWN FAILURE (lib/fields.c): RFC 8941 §3.2 puts optional whitespace
 * (SP or HTAB) before a dictionary's commas, and §4.2 drops trailing
 * spaces, so "u=1 , i" is u=1 and i. loom__priority_parse reads a member's
 * value up to the comma, whitespace included, and drops "1 " as out of
 * range. (Header field values cannot end in whitespace, but a
 * PRIORITY_UPDATE's value can; "u=1 , i" is valid in both.) */
static void test_priority_parse_ows_before_comma(void **state)
{
    (void)state;
    PRIO("u=1 , i", 1, 1, 1);
    PRIO("u=5\t,i", 1, 5, 1);
    PRIO("i=?0 , u=2", 1, 2, 0);
    PRIO("u=6 ", 1, 6, 0);
}

/* loom__name_is: exact, case-sensitive, length included. */
static void test_name_is(void **state)
{
    (void)state;
    loom_hpack_field f = {(const uint8_t *)":path", 5, NULL, 0, 0};
    assert_true(loom__name_is(&f, ":path"));
    assert_false(loom__name_is(&f, ":Path"));
    assert_false(loom__name_is(&f, ":pat"));
    assert_false(loom__name_is(&f, ":paths"));
    assert_false(loom__name_is(&f, ""));
    f.name_len = 4; /* ":pat" */
    assert_true(loom__name_is(&f, ":pat"));
    assert_false(loom__name_is(&f, ":path"));
    loom_hpack_field e = {(const uint8_t *)"", 0, NULL, 0, 0};
    assert_true(loom__name_is(&e, ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_request_info),
        cmocka_unit_test(test_field_names),
        cmocka_unit_test(test_field_values),
        cmocka_unit_test(test_connection_specific),
        cmocka_unit_test(test_request_pseudo_headers),
        cmocka_unit_test(test_response_pseudo_headers),
        cmocka_unit_test(test_trailers),
        cmocka_unit_test(test_connect),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_priority_in_request),
        cmocka_unit_test(test_priority_parse),
        cmocka_unit_test(test_name_is),
        cmocka_unit_test(test_priority_parse_ows_before_comma),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
