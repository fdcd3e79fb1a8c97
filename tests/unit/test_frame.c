/* Unit tests of lib/frame.c: every frame type round-trips, the header rules,
 * incremental parsing at every split point, in-place payloads, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loom/frame.h"

static const uint8_t block[] = {0x82, 0x86, 0x84, 0x41, 0x0f, 'w', 'w', 'w', '.', 'e',
                                'x',  'a',  'm',  'p',  'l',  'e', '.', 'c', 'o', 'm'};
static const loom_setting settings[] = {
    {LOOM_SETTINGS_HEADER_TABLE_SIZE, 8192},
    {LOOM_SETTINGS_ENABLE_PUSH, 0},
    {LOOM_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
    {LOOM_SETTINGS_INITIAL_WINDOW_SIZE, 0x7fffffff},
    {LOOM_SETTINGS_MAX_FRAME_SIZE, 16777215},
    {LOOM_SETTINGS_MAX_HEADER_LIST_SIZE, 65536},
    {0xf0f0, 12345}, /* unknown: parsed, carried, ignored by receivers */
};

/* One example of every type, some with padding and priority. */
static loom_frame example(int i)
{
    loom_frame f;
    memset(&f, 0, sizeof(f));
    switch (i) {
    case 0:
        f.hd = (loom_frame_hd){0, LOOM_FRAME_DATA, LOOM_FLAG_END_STREAM, 1};
        f.u.data.data = (const uint8_t *)"hello, world";
        f.u.data.len = 12;
        break;
    case 1:
        f.hd = (loom_frame_hd){0, LOOM_FRAME_DATA, LOOM_FLAG_PADDED, 3};
        f.pad_len = 7;
        f.u.data.data = (const uint8_t *)"padded";
        f.u.data.len = 6;
        break;
    case 2:
        f.hd = (loom_frame_hd){0, LOOM_FRAME_HEADERS, LOOM_FLAG_END_HEADERS, 1};
        f.u.headers.block = block;
        f.u.headers.len = sizeof(block);
        break;
    case 3:
        f.hd = (loom_frame_hd){0, LOOM_FRAME_HEADERS,
                               LOOM_FLAG_END_STREAM | LOOM_FLAG_PADDED | LOOM_FLAG_PRIORITY, 5};
        f.pad_len = 3;
        f.u.headers.pri = (loom_priority_spec){3, 256, 1};
        f.u.headers.block = block;
        f.u.headers.len = sizeof(block);
        break;
    case 4:
        f.hd = (loom_frame_hd){0, LOOM_FRAME_PRIORITY, 0, 7};
        f.u.priority = (loom_priority_spec){0x7fffffff, 1, 0};
        break;
    case 5:
        f.hd = (loom_frame_hd){0, LOOM_FRAME_RST_STREAM, 0, 9};
        f.u.rst_stream.error_code = LOOM_H2_CANCEL;
        break;
    case 6:
        f.hd = (loom_frame_hd){0, LOOM_FRAME_SETTINGS, 0, 0};
        f.u.settings.list = settings;
        f.u.settings.count = sizeof(settings) / sizeof(settings[0]);
        break;
    case 7: f.hd = (loom_frame_hd){0, LOOM_FRAME_SETTINGS, LOOM_FLAG_ACK, 0}; break;
    case 8:
        f.hd = (loom_frame_hd){0, LOOM_FRAME_PUSH_PROMISE, LOOM_FLAG_END_HEADERS | LOOM_FLAG_PADDED,
                               1};
        f.pad_len = 2;
        f.u.push_promise.promised_id = 2;
        f.u.push_promise.block = block;
        f.u.push_promise.len = sizeof(block);
        break;
    case 9:
        f.hd = (loom_frame_hd){0, LOOM_FRAME_PING, LOOM_FLAG_ACK, 0};
        memcpy(f.u.ping.opaque, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
        break;
    case 10:
        f.hd = (loom_frame_hd){0, LOOM_FRAME_GOAWAY, 0, 0};
        f.u.goaway.last_stream_id = 0x7fffffff;
        f.u.goaway.error_code = LOOM_H2_ENHANCE_YOUR_CALM;
        f.u.goaway.debug = (const uint8_t *)"calm down";
        f.u.goaway.debug_len = 9;
        break;
    case 11:
        f.hd = (loom_frame_hd){0, LOOM_FRAME_WINDOW_UPDATE, 0, 0};
        f.u.window_update.increment = 0x7fffffff;
        break;
    case 12:
        f.hd = (loom_frame_hd){0, LOOM_FRAME_WINDOW_UPDATE, 0, 11};
        f.u.window_update.increment = 1;
        break;
    case 13:
        f.hd = (loom_frame_hd){0, LOOM_FRAME_CONTINUATION, LOOM_FLAG_END_HEADERS, 1};
        f.u.continuation.block = block;
        f.u.continuation.len = sizeof(block);
        break;
    case 14:
        f.hd = (loom_frame_hd){0, LOOM_FRAME_PRIORITY_UPDATE, 0, 0};
        f.u.priority_update.stream_id = 5;
        f.u.priority_update.value = (const uint8_t *)"u=1, i";
        f.u.priority_update.len = 6;
        break;
    case 15:
        f.hd = (loom_frame_hd){0, LOOM_FRAME_ORIGIN, 0, 0};
        f.u.origin.entries =
            (const uint8_t *)"\x00\x13https://example.com\x00\x17https://www.example.org";
        f.u.origin.len = 2 + 19 + 2 + 23;
        break;
    case 16:
        f.hd = (loom_frame_hd){0, 0xfa, 0xff, 3};
        f.u.raw.payload = (const uint8_t *)"opaque extension";
        f.u.raw.len = 16;
        break;
    case 17: f.hd = (loom_frame_hd){0, LOOM_FRAME_DATA, 0, 0x7fffffff}; break;
    }
    return f;
}
#define N_EXAMPLES 18

static void assert_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    assert_int_equal(an, bn);
    if (an) assert_memory_equal(a, b, an);
}

/* Compares what a parsed frame says with what was packed. */
static void assert_same_frame(const loom_frame *w, const loom_frame *r)
{
    assert_int_equal(w->hd.type, r->hd.type);
    assert_int_equal(w->hd.flags, r->hd.flags);
    assert_int_equal(w->hd.stream_id, r->hd.stream_id);
    assert_int_equal(loom_frame_payload_len(w), r->hd.length);
    if (w->hd.flags & LOOM_FLAG_PADDED) assert_int_equal(w->pad_len, r->pad_len);
    switch (w->hd.type) {
    case LOOM_FRAME_DATA:
        assert_bytes(w->u.data.data, w->u.data.len, r->u.data.data, r->u.data.len);
        break;
    case LOOM_FRAME_HEADERS:
        assert_bytes(w->u.headers.block, w->u.headers.len, r->u.headers.block, r->u.headers.len);
        if (w->hd.flags & LOOM_FLAG_PRIORITY) {
            assert_int_equal(w->u.headers.pri.depends_on, r->u.headers.pri.depends_on);
            assert_int_equal(w->u.headers.pri.weight, r->u.headers.pri.weight);
            assert_int_equal(w->u.headers.pri.exclusive, r->u.headers.pri.exclusive);
        }
        break;
    case LOOM_FRAME_PRIORITY:
        assert_int_equal(w->u.priority.depends_on, r->u.priority.depends_on);
        assert_int_equal(w->u.priority.weight, r->u.priority.weight);
        assert_int_equal(w->u.priority.exclusive, r->u.priority.exclusive);
        break;
    case LOOM_FRAME_RST_STREAM:
        assert_int_equal(w->u.rst_stream.error_code, r->u.rst_stream.error_code);
        break;
    case LOOM_FRAME_SETTINGS:
        assert_int_equal(w->u.settings.count, r->u.settings.count);
        for (size_t i = 0; i < w->u.settings.count; i++) {
            loom_setting a = loom_frame_setting(w, i), b = loom_frame_setting(r, i);
            assert_int_equal(a.id, b.id);
            assert_int_equal(a.value, b.value);
        }
        break;
    case LOOM_FRAME_PUSH_PROMISE:
        assert_int_equal(w->u.push_promise.promised_id, r->u.push_promise.promised_id);
        assert_bytes(w->u.push_promise.block, w->u.push_promise.len, r->u.push_promise.block,
                     r->u.push_promise.len);
        break;
    case LOOM_FRAME_PING: assert_memory_equal(w->u.ping.opaque, r->u.ping.opaque, 8); break;
    case LOOM_FRAME_GOAWAY:
        assert_int_equal(w->u.goaway.last_stream_id, r->u.goaway.last_stream_id);
        assert_int_equal(w->u.goaway.error_code, r->u.goaway.error_code);
        assert_bytes(w->u.goaway.debug, w->u.goaway.debug_len, r->u.goaway.debug,
                     r->u.goaway.debug_len);
        break;
    case LOOM_FRAME_WINDOW_UPDATE:
        assert_int_equal(w->u.window_update.increment, r->u.window_update.increment);
        break;
    case LOOM_FRAME_CONTINUATION:
        assert_bytes(w->u.continuation.block, w->u.continuation.len, r->u.continuation.block,
                     r->u.continuation.len);
        break;
    case LOOM_FRAME_PRIORITY_UPDATE:
        assert_int_equal(w->u.priority_update.stream_id, r->u.priority_update.stream_id);
        assert_bytes(w->u.priority_update.value, w->u.priority_update.len,
                     r->u.priority_update.value, r->u.priority_update.len);
        break;
    case LOOM_FRAME_ORIGIN:
        assert_bytes(w->u.origin.entries, w->u.origin.len, r->u.origin.entries, r->u.origin.len);
        break;
    default:
        assert_true(r->ignore);
        assert_bytes(w->u.raw.payload, w->u.raw.len, r->u.raw.payload, r->u.raw.len);
        break;
    }
}

/* Packs into an exactly sized heap buffer, so ASan sees any overrun. */
static uint8_t *pack(const loom_frame *f, size_t *n)
{
    *n = LOOM_FRAME_HEADER_LEN + loom_frame_payload_len(f);
    uint8_t *buf = malloc(*n);
    assert_non_null(buf);
    assert_int_equal(loom_frame_pack(f, buf, *n), (int)*n);
    assert_int_equal(loom_frame_pack(f, buf, *n - 1), LOOM_ERR_BUFFER);
    return buf;
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    for (int i = 0; i < N_EXAMPLES; i++) {
        loom_frame w = example(i), r;
        loom_frame_error e;
        size_t n;
        uint8_t *buf = pack(&w, &n);
        assert_int_equal(loom_frame_parse(buf, n, LOOM_MAX_FRAME_SIZE_MAX, &r, &e), (int)n);
        assert_same_frame(&w, &r);
        /* Every proper prefix is "need more", never an error or an over-read. */
        for (size_t k = 0; k < n; k++) {
            uint8_t *pre = malloc(k ? k : 1);
            memcpy(pre, buf, k);
            assert_int_equal(loom_frame_parse(pre, k, LOOM_MAX_FRAME_SIZE_MAX, &r, &e), 0);
            free(pre);
        }
        free(buf);
    }
}

static void test_padding_is_zero_and_counted(void **state)
{
    (void)state;
    loom_frame w = example(1);
    size_t n;
    uint8_t *buf = pack(&w, &n);
    assert_int_equal(n, 9 + 1 + 6 + 7);
    assert_int_equal(buf[9], 7);
    for (size_t i = n - 7; i < n; i++)
        assert_int_equal(buf[i], 0);
    free(buf);
    /* padding on a type that has no PADDED flag cannot be written */
    loom_frame p = example(9);
    p.hd.flags |= LOOM_FLAG_PADDED;
    p.pad_len = 1;
    uint8_t out[64];
    assert_int_equal(loom_frame_pack(&p, out, sizeof(out)), LOOM_ERR_INVALID);
}

static void test_reserved_bit(void **state)
{
    (void)state;
    /* RFC 9113 §4.1: ignored on receipt ... */
    const uint8_t in[] = {0, 0, 4, LOOM_FRAME_WINDOW_UPDATE, 0, 0x80, 0, 0, 5, 0x80, 0, 0, 9};
    loom_frame f;
    loom_frame_error e;
    assert_int_equal(loom_frame_parse(in, sizeof(in), 16384, &f, &e), 13);
    assert_int_equal(f.hd.stream_id, 5);
    assert_int_equal(f.u.window_update.increment, 9);
    /* ... and sent as 0 */
    loom_frame_hd hd = {4, LOOM_FRAME_WINDOW_UPDATE, 0, 0x80000005u};
    uint8_t out[9];
    loom_frame_hd_pack(out, &hd);
    assert_int_equal(out[5], 0);
    assert_int_equal(out[8], 5);
}

static void test_unknown_flags_ignored(void **state)
{
    (void)state;
    /* PING with every flag bit set but ACK's meaning kept; RST_STREAM with
     * all flags set: parsed the same as without. */
    const uint8_t in[] = {0, 0, 4, LOOM_FRAME_RST_STREAM, 0xff, 0, 0, 0, 1, 0, 0, 0, 8};
    loom_frame f;
    loom_frame_error e;
    assert_int_equal(loom_frame_parse(in, sizeof(in), 16384, &f, &e), 13);
    assert_int_equal(f.u.rst_stream.error_code, LOOM_H2_CANCEL);
    assert_int_equal(f.hd.flags, 0xff);
}

static void test_unknown_type_ignored(void **state)
{
    (void)state;
    const uint8_t in[] = {0, 0, 3, 0xee, 0x12, 0, 0, 0, 0, 'a', 'b', 'c'};
    loom_frame f;
    loom_frame_error e;
    assert_int_equal(loom_frame_parse(in, sizeof(in), 16384, &f, &e), 12);
    assert_true(f.ignore);
    assert_int_equal(f.u.raw.len, 3);
    assert_string_equal(loom_frame_type_name(0xee), "UNKNOWN");
}

static void test_origin_entries(void **state)
{
    (void)state;
    loom_frame w = example(15), r;
    loom_frame_error e;
    size_t n, pos = 0, len;
    const uint8_t *o;
    uint8_t *buf = pack(&w, &n);
    assert_int_equal(loom_frame_parse(buf, n, 16384, &r, &e), (int)n);
    assert_false(r.ignore);
    assert_int_equal(loom_frame_origin_next(&r, &pos, &o, &len), 1);
    assert_int_equal(len, 19);
    assert_memory_equal(o, "https://example.com", 19);
    assert_int_equal(loom_frame_origin_next(&r, &pos, &o, &len), 1);
    assert_memory_equal(o, "https://www.example.org", 23);
    assert_int_equal(loom_frame_origin_next(&r, &pos, &o, &len), 0);
    /* a truncated entry is reported, not read past */
    r.u.origin.len = 2 + 19 + 2 + 5;
    pos = 0;
    assert_int_equal(loom_frame_origin_next(&r, &pos, &o, &len), 1);
    assert_int_equal(loom_frame_origin_next(&r, &pos, &o, &len), LOOM_ERR_FRAME_SIZE);
    /* RFC 8336 §2.1: ORIGIN on a stream other than 0 is ignored */
    buf[8] = 1;
    assert_int_equal(loom_frame_parse(buf, n, 16384, &r, &e), (int)n);
    assert_true(r.ignore);
    free(buf);
}

/* ---- incremental parsing ---- */

typedef struct {
    uint8_t *bytes; /* the frames as the reader returned them, packed again */
    size_t len, cap;
    int frames;
} collected;

static void collect(collected *c, const loom_frame *f)
{
    size_t n = LOOM_FRAME_HEADER_LEN + f->hd.length;
    if (c->len + n > c->cap) {
        c->cap = (c->len + n) * 2;
        c->bytes = realloc(c->bytes, c->cap);
    }
    /* Re-pack from the parsed fields (settings read back from the wire). */
    int rc = loom_frame_pack(f, c->bytes + c->len, c->cap - c->len);
    assert_int_equal(rc, (int)n);
    c->len += n;
    c->frames++;
}

static void feed(loom_frame_reader *r, collected *c, const uint8_t *p, size_t n)
{
    while (1) {
        loom_frame f;
        loom_frame_error e;
        size_t used;
        int rc = loom_frame_reader_next(r, p, n, &used, &f, &e);
        assert_true(rc >= 0);
        assert_true(used <= n);
        p += used;
        n -= used;
        if (rc == 0) {
            assert_int_equal(n, 0);
            return;
        }
        collect(c, &f);
    }
}

static uint8_t *all_examples(size_t *total)
{
    uint8_t *all = NULL;
    *total = 0;
    for (int i = 0; i < N_EXAMPLES; i++) {
        loom_frame w = example(i);
        size_t n;
        uint8_t *b = pack(&w, &n);
        all = realloc(all, *total + n);
        memcpy(all + *total, b, n);
        *total += n;
        free(b);
    }
    return all;
}

static void test_every_split_point(void **state)
{
    (void)state;
    size_t total;
    uint8_t *all = all_examples(&total);
    for (size_t split = 0; split <= total; split++) {
        loom_frame_reader r;
        collected c = {0};
        loom_frame_reader_init(&r, LOOM_MAX_FRAME_SIZE_MAX, NULL);
        /* copies, so that the second half is a different buffer */
        uint8_t *a = malloc(split ? split : 1), *b = malloc(total - split + 1);
        memcpy(a, all, split);
        memcpy(b, all + split, total - split);
        feed(&r, &c, a, split);
        feed(&r, &c, b, total - split);
        assert_int_equal(c.frames, N_EXAMPLES);
        assert_bytes(all, total, c.bytes, c.len);
        free(a);
        free(b);
        free(c.bytes);
        loom_frame_reader_free(&r);
    }
    free(all);
}

static void test_byte_at_a_time_and_random_chunks(void **state)
{
    (void)state;
    size_t total;
    uint8_t *all = all_examples(&total);
    for (unsigned seed = 0; seed < 200; seed++) {
        loom_frame_reader r;
        collected c = {0};
        loom_frame_reader_init(&r, LOOM_MAX_FRAME_SIZE_MAX, NULL);
        srand(seed);
        for (size_t off = 0; off < total;) {
            size_t k = seed == 0 ? 1 : (size_t)(rand() % 40) + 1;
            if (k > total - off) k = total - off;
            uint8_t *chunk = malloc(k);
            memcpy(chunk, all + off, k);
            feed(&r, &c, chunk, k);
            free(chunk);
            off += k;
        }
        assert_int_equal(c.frames, N_EXAMPLES);
        assert_bytes(all, total, c.bytes, c.len);
        free(c.bytes);
        loom_frame_reader_free(&r);
    }
    free(all);
}

static void test_payload_in_place(void **state)
{
    (void)state;
    size_t total;
    uint8_t *all = all_examples(&total);
    loom_frame_reader r;
    loom_frame f;
    loom_frame_error e;
    size_t used;
    loom_frame_reader_init(&r, 16384, NULL);
    assert_int_equal(loom_frame_reader_next(&r, all, total, &used, &f, &e), 1);
    assert_int_equal(f.hd.type, LOOM_FRAME_DATA);
    /* a whole frame in the input: the payload points into the input */
    assert_ptr_equal(f.u.data.data, all + LOOM_FRAME_HEADER_LEN);
    assert_null(r.buf); /* and nothing was gathered */
    loom_frame_reader_free(&r);
    free(all);
}

static void test_reader_bounds_oversized_frame(void **state)
{
    (void)state;
    /* A header announcing 16 MiB against a 16 KiB limit: FRAME_SIZE_ERROR
     * from the header alone, with no payload buffered. */
    const uint8_t hd[] = {0xff, 0xff, 0xff, LOOM_FRAME_DATA, 0, 0, 0, 0, 1};
    loom_frame_reader r;
    loom_frame f;
    loom_frame_error e;
    size_t used;
    loom_frame_reader_init(&r, 16384, NULL);
    assert_int_equal(loom_frame_reader_next(&r, hd, 4, &used, &f, &e), 0);
    assert_int_equal(used, 4);
    assert_int_equal(loom_frame_reader_next(&r, hd + 4, 5, &used, &f, &e), LOOM_ERR_FRAME_SIZE);
    assert_int_equal(e.scope, LOOM_SCOPE_CONNECTION);
    assert_true(r.cap <= 256);
    /* dead afterwards */
    assert_int_equal(loom_frame_reader_next(&r, hd, sizeof(hd), &used, &f, &e),
                     LOOM_ERR_FRAME_SIZE);
    assert_int_equal(used, 0);
    loom_frame_reader_free(&r);

    /* exactly at the limit is fine; one more is not */
    uint8_t *big = calloc(1, 9 + 16385);
    loom_frame_hd h = {16384, LOOM_FRAME_DATA, 0, 1};
    loom_frame_hd_pack(big, &h);
    assert_int_equal(loom_frame_parse(big, 9 + 16384, 16384, &f, &e), 9 + 16384);
    h.length = 16385;
    loom_frame_hd_pack(big, &h);
    assert_int_equal(loom_frame_parse(big, 9 + 16385, 16384, &f, &e), LOOM_ERR_FRAME_SIZE);
    free(big);
}

static void test_reader_stream_error_continues(void **state)
{
    (void)state;
    /* WINDOW_UPDATE 0 on stream 3 (stream error), then a PING */
    const uint8_t in[] = {0, 0, 4, 8, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0,
                          8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
    for (size_t split = 0; split <= sizeof(in); split++) {
        loom_frame_reader r;
        loom_frame f;
        loom_frame_error e;
        size_t used, off = 0;
        int errors = 0, pings = 0;
        loom_frame_reader_init(&r, 16384, NULL);
        const uint8_t *p = in;
        size_t n = split;
        for (int part = 0; part < 2; part++) {
            while (1) {
                int rc = loom_frame_reader_next(&r, p, n, &used, &f, &e);
                p += used;
                n -= used;
                off += used;
                if (rc == 0) break;
                if (rc < 0) {
                    assert_int_equal(rc, LOOM_ERR_PROTOCOL);
                    assert_int_equal(e.scope, LOOM_SCOPE_STREAM);
                    assert_int_equal(e.stream_id, 3);
                    errors++;
                } else {
                    assert_int_equal(f.hd.type, LOOM_FRAME_PING);
                    pings++;
                }
            }
            p = in + split;
            n = sizeof(in) - split;
        }
        assert_int_equal(off, sizeof(in));
        assert_int_equal(errors, 1);
        assert_int_equal(pings, 1);
        loom_frame_reader_free(&r);
    }
}

static void test_strerror_and_codes(void **state)
{
    (void)state;
    assert_int_equal(loom_err_h2_code(LOOM_ERR_FLOW_CONTROL), LOOM_H2_FLOW_CONTROL_ERROR);
    assert_int_equal(loom_err_h2_code(LOOM_ERR_HTTP_1_1_REQUIRED), LOOM_H2_HTTP_1_1_REQUIRED);
    assert_int_equal(loom_err_h2_code(LOOM_ERR_NOMEM), LOOM_H2_INTERNAL_ERROR);
    assert_string_equal(loom_h2_code_name(LOOM_H2_FRAME_SIZE_ERROR), "FRAME_SIZE_ERROR");
    assert_string_equal(loom_h2_code_name(0x99), "UNKNOWN");
    assert_string_equal(loom_strerror(LOOM_ERR_COMPRESSION),
                        "header compression error (COMPRESSION_ERROR)");
    for (int err = 0; err >= -113; err--)
        assert_non_null(loom_strerror(err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_padding_is_zero_and_counted),
        cmocka_unit_test(test_reserved_bit),
        cmocka_unit_test(test_unknown_flags_ignored),
        cmocka_unit_test(test_unknown_type_ignored),
        cmocka_unit_test(test_origin_entries),
        cmocka_unit_test(test_every_split_point),
        cmocka_unit_test(test_byte_at_a_time_and_random_chunks),
        cmocka_unit_test(test_payload_in_place),
        cmocka_unit_test(test_reader_bounds_oversized_frame),
        cmocka_unit_test(test_reader_stream_error_continues),
        cmocka_unit_test(test_strerror_and_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
