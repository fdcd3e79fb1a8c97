/* Unit tests for lib/hpack.c, lib/huffman.c and lib/static_table.c (RFC 7541):
 * prefix integers, Huffman strings, the static table, the dynamic table's
 * size accounting, the decoder's rejections, and the encoder's choices.
 *
 * Blocks fed to the decoder are built by hand (hpack_util.h's wb_* helpers,
 * written from the RFC's pseudocode) or spelled out in hex, never by loom's
 * own encoder, so a shared mistake cannot cancel itself out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loom/hpack.h"
#include "loom/hpack_lowlevel.h"
#include "hpack_internal.h" /* the engine's keyed entry */
#include "hpack_util.h"

/* ------------------------------------------------------------------ */
/* Prefix integers (RFC 7541 §5.1)                                    */
/* ------------------------------------------------------------------ */

static void test_int_rfc_examples(void **state)
{
    (void)state;
    uint8_t b[16];
    uint32_t v = 0;

    /* C.1.1: 10 with a 5-bit prefix. The three bits above the prefix belong
     * to the representation and come from `first`. */
    assert_int_equal(loom_hpack_int_encode(b, sizeof(b), 5, 0xe0, 10), 1);
    assert_int_equal(b[0], 0xea);
    assert_int_equal(loom_hpack_int_decode(b, 1, 5, &v), 1);
    assert_int_equal(v, 10);

    /* C.1.2: 1337 with a 5-bit prefix: 31, then 1306 in 7-bit groups. */
    assert_int_equal(loom_hpack_int_encode(b, sizeof(b), 5, 0x00, 1337), 3);
    assert_int_equal(b[0], 0x1f);
    assert_int_equal(b[1], 0x9a);
    assert_int_equal(b[2], 0x0a);
    v = 0;
    assert_int_equal(loom_hpack_int_decode(b, 3, 5, &v), 3);
    assert_int_equal(v, 1337);
    /* the pattern bits do not leak into the value */
    const uint8_t c12[] = {0xff, 0x9a, 0x0a};
    assert_int_equal(loom_hpack_int_decode(c12, 3, 5, &v), 3);
    assert_int_equal(v, 1337);

    /* C.1.3: 42 starting at an octet boundary (8-bit prefix). */
    assert_int_equal(loom_hpack_int_encode(b, sizeof(b), 8, 0x00, 42), 1);
    assert_int_equal(b[0], 0x2a);
    assert_int_equal(loom_hpack_int_decode(b, 1, 8, &v), 1);
    assert_int_equal(v, 42);

    /* Decoding stops at the integer's end: trailing octets are not used. */
    const uint8_t trail[] = {0x1f, 0x9a, 0x0a, 0x55, 0x66};
    assert_int_equal(loom_hpack_int_decode(trail, sizeof(trail), 5, &v), 3);
    assert_int_equal(v, 1337);
}

/* The octets §5.1 needs for v with an N-bit prefix. */
static int int_len(uint64_t v, int n)
{
    uint64_t max = (1u << n) - 1;
    if (v < max) return 1;
    int len = 2;
    for (v -= max; v >= 128; v >>= 7)
        len++;
    return len;
}

static void test_int_round_trip_every_prefix(void **state)
{
    (void)state;
    for (int n = 1; n <= 8; n++) {
        uint32_t p = (1u << n) - 1;
        const uint32_t values[] = {
            0,        1,           p - 1,      p,        p + 1,    p + 127,
            p + 128,  127,         128,        255,      256,      1337,
            4096,     16383,       16384,      1u << 21, 1u << 28, (1u << 31) - 1,
            1u << 31, 0xfffffffeu, 0xffffffffu};
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
            uint32_t val = values[i], got = 0;
            uint8_t pattern = (uint8_t)(0xff << n); /* every bit above the prefix set */
            uint8_t b[16];
            int len = loom_hpack_int_encode(b, sizeof(b), n, pattern, val);
            if (len != int_len(val, n))
                fail_msg("encode %u with prefix %d: %d octets, want %d", val, n, len,
                         int_len(val, n));
            assert_int_equal(b[0] & ~(0xff >> (8 - n)) & 0xff, pattern);
            int used = loom_hpack_int_decode(b, (size_t)len, n, &got);
            if (used != len || got != val)
                fail_msg("decode %u with prefix %d: used %d of %d, value %u", val, n, used, len,
                         got);
            /* every proper prefix of a multi-octet integer is "need more" */
            for (int cut = 0; cut < len; cut++)
                if (loom_hpack_int_decode(b, (size_t)cut, n, &got) != 0)
                    fail_msg("%u/%d cut at %d: not reported as truncated", val, n, cut);
            /* and one octet short of the room it needs is a buffer error */
            assert_int_equal(loom_hpack_int_encode(b, (size_t)len - 1, n, pattern, val),
                             LOOM_ERR_BUFFER);
        }
    }
}

static void test_int_max_and_overflow(void **state)
{
    (void)state;
    uint8_t b[16];
    uint32_t v = 0;

    /* 2^32 - 1 with a 5-bit prefix: 31 + 0xffffffe0 -> 1f e0 ff ff ff 0f. */
    const uint8_t max5[] = {0x1f, 0xe0, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(loom_hpack_int_encode(b, sizeof(b), 5, 0, 0xffffffffu), 6);
    assert_memory_equal(b, max5, 6);
    assert_int_equal(loom_hpack_int_decode(max5, 6, 5, &v), 6);
    assert_int_equal(v, 0xffffffffu);

    /* 2^32 does not fit in 32 bits: a compression error, not a wrap. */
    const uint8_t over5[] = {0x1f, 0xe1, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(loom_hpack_int_decode(over5, 6, 5, &v), LOOM_ERR_COMPRESSION);
    const uint8_t over8[] = {0xff, 0x81, 0xfe, 0xff, 0xff, 0x0f};
    assert_int_equal(loom_hpack_int_decode(over8, 6, 8, &v), LOOM_ERR_COMPRESSION);
    const uint8_t max8[] = {0xff, 0x80, 0xfe, 0xff, 0xff, 0x0f};
    assert_int_equal(loom_hpack_int_decode(max8, 6, 8, &v), 6);
    assert_int_equal(v, 0xffffffffu);
    const uint8_t over1[] = {0x01, 0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(loom_hpack_int_decode(over1, 6, 1, &v), LOOM_ERR_COMPRESSION);
    /* far larger: a fifth continuation octet carrying bits past 2^35 */
    const uint8_t huge[] = {0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(loom_hpack_int_decode(huge, sizeof(huge), 5, &v), LOOM_ERR_COMPRESSION);
    /* a shift past 64 bits must not be undefined behaviour (UBSan watches) */
    const uint8_t shift[] = {0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                             0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    assert_int_equal(loom_hpack_int_decode(shift, sizeof(shift), 5, &v), LOOM_ERR_COMPRESSION);
}

static void test_int_truncated(void **state)
{
    (void)state;
    uint32_t v;
    const uint8_t t[] = {0x1f, 0x9a, 0x8a, 0x80};
    assert_int_equal(loom_hpack_int_decode(t, 0, 5, &v), 0);
    assert_int_equal(loom_hpack_int_decode(t, 1, 5, &v), 0); /* prefix full: more follows */
    assert_int_equal(loom_hpack_int_decode(t, 2, 5, &v), 0);
    assert_int_equal(loom_hpack_int_decode(t, 4, 5, &v), 0); /* every octet says "more" */

    uint8_t b[4];
    assert_int_equal(loom_hpack_int_encode(b, 0, 5, 0, 10), LOOM_ERR_BUFFER);
    assert_int_equal(loom_hpack_int_encode(b, 2, 5, 0, 1337), LOOM_ERR_BUFFER);
}

/* ------------------------------------------------------------------ */
/* Huffman strings (RFC 7541 §5.2, Appendix B)                        */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *text;
    size_t len;
    const char *hex;
} huff_vec;

/* The Huffman strings of Appendix C.4 and C.6, plus single symbols whose
 * codes are read off Appendix B (0x00: 13 bits 1ff8; 0xff: 26 bits 3ffffee;
 * 'a': 5 bits 00011; '0': 5 bits 00000). */
static const huff_vec huff_vecs[] = {
    {"www.example.com", 15, "f1e3c2e5f23a6ba0ab90f4ff"},
    {"no-cache", 8, "a8eb10649cbf"},
    {"custom-key", 10, "25a849e95ba97d7f"},
    {"custom-value", 12, "25a849e95bb8e8b4bf"},
    {"302", 3, "6402"},
    {"307", 3, "640eff"},
    {"private", 7, "aec3771a4b"},
    {"gzip", 4, "9bd9ab"},
    {"Mon, 21 Oct 2013 20:13:21 GMT", 29, "d07abe941054d444a8200595040b8166e082a62d1bff"},
    {"https://www.example.com", 23, "9d29ad171863c78f0b97c8e9ae82ae43d3"},
    {"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1", 56,
     "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d500"
     "7"},
    {"\x00", 1, "ffc7"},
    {"\xff", 1, "fffffbbf"},
    {"\x00\x01\x02\xfe", 4, "ffc7fffd8fffffe2fffffe1f"},
    {"a", 1, "1f"},
    {"00000000", 8, "0000000000"},
    {"", 0, ""},
};

static void test_huffman_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(huff_vecs) / sizeof(huff_vecs[0]); i++) {
        const huff_vec *hv = &huff_vecs[i];
        size_t wn;
        uint8_t *want = hex_decode(hv->hex, &wn);
        uint8_t out[128], back[128];
        const uint8_t *s = (const uint8_t *)hv->text;
        assert_int_equal(loom_huffman_encoded_len(s, hv->len), wn);
        int n = loom_huffman_encode(s, hv->len, out, sizeof(out));
        if (n != (int)wn || memcmp(out, want, wn))
            fail_msg("vector %zu ('%s'): encoded %d octets, want %s", i, hv->text, n, hv->hex);
        int m = loom_huffman_decode(want, wn, back, sizeof(back));
        assert_int_equal(m, (int)hv->len);
        assert_memory_equal(back, s, hv->len);
        free(want);
    }
}

static void test_huffman_all_256_bytes(void **state)
{
    (void)state;
    uint8_t s[256], out[1200], back[1200];
    for (int i = 0; i < 256; i++)
        s[i] = (uint8_t)i;
    /* The 256 code lengths of Appendix B add up to 4658 bits: 583 octets. */
    assert_int_equal(loom_huffman_encoded_len(s, 256), 583);
    int n = loom_huffman_encode(s, 256, out, sizeof(out));
    assert_int_equal(n, 583);
    assert_int_equal(loom_huffman_decode(out, (size_t)n, back, sizeof(back)), 256);
    assert_memory_equal(back, s, 256);

    /* each symbol alone, and each between two others (code boundaries
     * anywhere in an octet) */
    for (int i = 0; i < 256; i++) {
        uint8_t one[3] = {'a', (uint8_t)i, (uint8_t)(255 - i)};
        for (size_t len = 1; len <= 3; len++) {
            const uint8_t *p = len == 1 ? one + 1 : one;
            size_t plen = len == 1 ? 1 : len;
            n = loom_huffman_encode(p, plen, out, sizeof(out));
            assert_true(n > 0);
            assert_int_equal((size_t)n, loom_huffman_encoded_len(p, plen));
            assert_int_equal(loom_huffman_decode(out, (size_t)n, back, sizeof(back)), (int)plen);
            assert_memory_equal(back, p, plen);
        }
    }
}

static uint32_t rng_state = 2463534242u;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void test_huffman_random_strings(void **state)
{
    (void)state;
    static const char header_chars[] =
        "abcdefghijklmnopqrstuvwxyz0123456789-_.:/;=,?&%+ ABCDEFGHIJKLMNOPQRSTUVWXYZ\"'()";
    uint8_t s[512], out[2048], back[2560];
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = rnd() % 400;
        int kind = iter % 3;
        for (size_t i = 0; i < len; i++) {
            uint32_t r = rnd();
            s[i] = kind == 0   ? (uint8_t)r
                   : kind == 1 ? (uint8_t)(32 + r % 95)
                               : (uint8_t)header_chars[r % (sizeof(header_chars) - 1)];
        }
        size_t elen = loom_huffman_encoded_len(s, len);
        int n = loom_huffman_encode(s, len, out, sizeof(out));
        assert_int_equal(n, (int)elen);
        if (elen > 0) assert_int_equal(loom_huffman_encode(s, len, out, elen - 1), LOOM_ERR_BUFFER);
        /* The header promises decoding never writes more than len * 8 / 5
         * octets (5 bits is the shortest code), so that much room is
         * always enough. */
        size_t room = (size_t)n * 8 / 5;
        assert_true(room >= len);
        int m = loom_huffman_decode(out, (size_t)n, back, room);
        assert_int_equal(m, (int)len);
        assert_memory_equal(back, s, len);
        if (len > 0)
            assert_int_equal(loom_huffman_decode(out, (size_t)n, back, len - 1), LOOM_ERR_BUFFER);
    }
    /* the shortest codes exactly fill the len * 8 / 5 room */
    memset(s, '0', 40);
    int n = loom_huffman_encode(s, 40, out, sizeof(out));
    assert_int_equal(n, 25);
    assert_int_equal(loom_huffman_decode(out, 25, back, 40), 40);
}

static void test_huffman_bad_input(void **state)
{
    (void)state;
    uint8_t out[64];
    /* 'a' (00011) padded with zeros instead of the EOS prefix: §5.2 */
    const uint8_t zero_pad[] = {0x18};
    assert_int_equal(loom_huffman_decode(zero_pad, 1, out, sizeof(out)), LOOM_ERR_COMPRESSION);
    /* padding longer than 7 bits: 'a' then a whole octet of ones (§5.2) */
    const uint8_t long_pad[] = {0x1f, 0xff};
    assert_int_equal(loom_huffman_decode(long_pad, 2, out, sizeof(out)), LOOM_ERR_COMPRESSION);
    const uint8_t only_pad[] = {0xff};
    assert_int_equal(loom_huffman_decode(only_pad, 1, out, sizeof(out)), LOOM_ERR_COMPRESSION);
    /* the EOS symbol (30 ones) followed by 'a' and 5 bits of padding: EOS
     * inside the string, which §5.2 makes an error */
    const uint8_t eos[] = {0xff, 0xff, 0xff, 0xfc, 0x7f};
    assert_int_equal(loom_huffman_decode(eos, 5, out, sizeof(out)), LOOM_ERR_COMPRESSION);
    /* the same with 'a' first */
    const uint8_t a_eos[] = {0x1f, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(loom_huffman_decode(a_eos, 5, out, sizeof(out)), LOOM_ERR_COMPRESSION);
    /* and the good one decodes */
    const uint8_t good[] = {0x1f};
    assert_int_equal(loom_huffman_decode(good, 1, out, sizeof(out)), 1);
    assert_int_equal(out[0], 'a');
}

/* ------------------------------------------------------------------ */
/* The static table (Appendix A)                                      */
/* ------------------------------------------------------------------ */

static const char *const appendix_a[62][2] = {
    {NULL, NULL},
    {":authority", ""},
    {":method", "GET"},
    {":method", "POST"},
    {":path", "/"},
    {":path", "/index.html"},
    {":scheme", "http"},
    {":scheme", "https"},
    {":status", "200"},
    {":status", "204"},
    {":status", "206"},
    {":status", "304"},
    {":status", "400"},
    {":status", "404"},
    {":status", "500"},
    {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"},
    {"accept-language", ""},
    {"accept-ranges", ""},
    {"accept", ""},
    {"access-control-allow-origin", ""},
    {"age", ""},
    {"allow", ""},
    {"authorization", ""},
    {"cache-control", ""},
    {"content-disposition", ""},
    {"content-encoding", ""},
    {"content-language", ""},
    {"content-length", ""},
    {"content-location", ""},
    {"content-range", ""},
    {"content-type", ""},
    {"cookie", ""},
    {"date", ""},
    {"etag", ""},
    {"expect", ""},
    {"expires", ""},
    {"from", ""},
    {"host", ""},
    {"if-match", ""},
    {"if-modified-since", ""},
    {"if-none-match", ""},
    {"if-range", ""},
    {"if-unmodified-since", ""},
    {"last-modified", ""},
    {"link", ""},
    {"location", ""},
    {"max-forwards", ""},
    {"proxy-authenticate", ""},
    {"proxy-authorization", ""},
    {"range", ""},
    {"referer", ""},
    {"refresh", ""},
    {"retry-after", ""},
    {"server", ""},
    {"set-cookie", ""},
    {"strict-transport-security", ""},
    {"transfer-encoding", ""},
    {"user-agent", ""},
    {"vary", ""},
    {"via", ""},
    {"www-authenticate", ""},
};

static uint32_t find(const char *name, const char *value, int *exact)
{
    *exact = -1;
    return loom_hpack_static_find((const uint8_t *)name, strlen(name), (const uint8_t *)value,
                                  strlen(value), exact);
}

static void test_static_table(void **state)
{
    (void)state;
    assert_int_equal(LOOM_HPACK_STATIC_ENTRIES, 61);
    for (uint32_t i = 1; i <= 61; i++) {
        loom_hpack_field f;
        memset(&f, 0xa5, sizeof(f));
        assert_int_equal(loom_hpack_static_get(i, &f), 0);
        const char *n = appendix_a[i][0], *v = appendix_a[i][1];
        if (f.name_len != strlen(n) || memcmp(f.name, n, f.name_len) || f.value_len != strlen(v) ||
            (f.value_len && memcmp(f.value, v, f.value_len)))
            fail_msg("static entry %u is not '%s: %s'", i, n, v);
        /* every entry is found by its exact name and value */
        int exact;
        assert_int_equal(find(n, v, &exact), i);
        assert_int_equal(exact, 1);
    }

    int exact;
    /* name only: the first entry with the name */
    assert_int_equal(find(":method", "PUT", &exact), 2);
    assert_int_equal(exact, 0);
    assert_int_equal(find(":status", "999", &exact), 8);
    assert_int_equal(exact, 0);
    assert_int_equal(find(":path", "/x", &exact), 4);
    assert_int_equal(exact, 0);
    /* an exact match later than the name's first entry */
    assert_int_equal(find(":status", "404", &exact), 13);
    assert_int_equal(exact, 1);
    assert_int_equal(find(":scheme", "https", &exact), 7);
    assert_int_equal(exact, 1);
    assert_int_equal(find("cookie", "a=b", &exact), 32);
    assert_int_equal(exact, 0);
    assert_int_equal(find("www-authenticate", "Basic", &exact), 61);
    assert_int_equal(exact, 0);
    /* not in the table: unknown, a prefix of a name, a different case */
    assert_int_equal(find("x-unknown", "", &exact), 0);
    assert_int_equal(find("accept-", "", &exact), 0);
    assert_int_equal(find(":Method", "GET", &exact), 0);
    assert_int_equal(find("", "", &exact), 0);
}

/* hpack.h: "NULL fields out of range". */
static void test_static_table_out_of_range(void **state)
{
    (void)state;
    const uint32_t bad[] = {0, 62, 0xffffffffu};
    for (size_t i = 0; i < 3; i++) {
        loom_hpack_field f;
        memset(&f, 0xa5, sizeof(f));
        assert_true(loom_hpack_static_get(bad[i], &f) < 0);
        assert_null(f.name);
        assert_null(f.value);
    }
}

/* ------------------------------------------------------------------ */
/* Decoder: the dynamic table (§2.3.2, §4)                            */
/* ------------------------------------------------------------------ */

static int decode(loom_hpack_decoder *d, const wbuf *w, hlist *l, loom_hpack_error *e)
{
    memset(e, 0, sizeof(*e));
    return loom_hpack_decode_block(d, w->b, w->n, l, e);
}

/* The last block decode_hex decoded: a list's raw literals point into
 * their block, so it lives until the next call (or the group's end). */
static uint8_t *last_block;

static int free_last_block(void **state)
{
    (void)state;
    free(last_block);
    last_block = NULL;
    return 0;
}

static int decode_hex(loom_hpack_decoder *d, const char *hex, hlist *l, loom_hpack_error *e)
{
    size_t n;
    free_last_block(NULL);
    last_block = hex_decode(hex, &n);
    assert_non_null(last_block);
    memset(e, 0, sizeof(*e));
    return loom_hpack_decode_block(d, last_block, n, l, e);
}

/* A value of n copies of c. */
static char *filled(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = 0;
    return s;
}

static void test_dynamic_table_accounting(void **state)
{
    (void)state;
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    assert_non_null(d);
    hlist l = {0};
    loom_hpack_error e;
    wbuf w = {0};
    assert_int_equal(loom_hpack_decoder_table_size(d), 0);
    assert_int_equal(loom_hpack_decoder_table_len(d), 0);
    assert_int_equal(loom_hpack_decoder_table_max(d), 4096);

    /* §4.1: an entry costs name + value + 32. "x-k" + 965 + 32 = 1000. */
    char *v965 = filled('v', 965);
    char name[8];
    for (int k = 0; k < 4; k++) {
        w.n = 0;
        snprintf(name, sizeof(name), "x-%d", k);
        wb_lit_inc(&w, name, v965, 965);
        assert_int_equal(decode(d, &w, &l, &e), 0);
        assert_int_equal(l.n, 1);
        assert_int_equal((l.reps[0] & LOOM_HPACK_REP_MASK), LOOM_HPACK_REP_INCREMENTAL);
        assert_int_equal(loom_hpack_decoder_table_size(d), 1000u * (unsigned)(k + 1));
        assert_int_equal(loom_hpack_decoder_table_len(d), (size_t)k + 1);
    }
    /* §4.4: the fifth does not fit; the oldest (x-0) is evicted. */
    w.n = 0;
    wb_lit_inc(&w, "x-4", v965, 965);
    assert_int_equal(decode(d, &w, &l, &e), 0);
    assert_int_equal(loom_hpack_decoder_table_size(d), 4000);
    assert_int_equal(loom_hpack_decoder_table_len(d), 4);
    /* §2.3.3: index 62 is the newest, 65 the oldest still there */
    assert_int_equal(decode_hex(d, "bebfc0c1", &l, &e), 0);
    assert_int_equal(l.n, 4);
    for (int k = 0; k < 4; k++) {
        snprintf(name, sizeof(name), "x-%d", 4 - k);
        if (!hfield_is(&l.fields[k], name, v965)) fail_msg("index %d is not %s", 62 + k, name);
        assert_int_equal((l.reps[k] & LOOM_HPACK_REP_MASK), LOOM_HPACK_REP_INDEXED);
    }

    /* An entry of exactly the table size fits, alone. */
    char *v4058 = filled('w', 4096 - 6 - 32);
    w.n = 0;
    wb_lit_inc(&w, "x-full", v4058, strlen(v4058));
    assert_int_equal(decode(d, &w, &l, &e), 0);
    assert_int_equal(loom_hpack_decoder_table_size(d), 4096);
    assert_int_equal(loom_hpack_decoder_table_len(d), 1);

    /* §4.4: one octet more and the table is emptied; the field is still
     * reported, it is just not kept. */
    char *v4059 = filled('w', 4096 - 6 - 32 + 1);
    w.n = 0;
    wb_lit_inc(&w, "x-over", v4059, strlen(v4059));
    assert_int_equal(decode(d, &w, &l, &e), 0);
    assert_int_equal(l.n, 1);
    assert_true(hfield_is(&l.fields[0], "x-over", v4059));
    assert_int_equal(loom_hpack_decoder_table_size(d), 0);
    assert_int_equal(loom_hpack_decoder_table_len(d), 0);

    /* Size updates (§6.3) evict down to the new size. */
    for (int k = 0; k < 4; k++) {
        w.n = 0;
        snprintf(name, sizeof(name), "x-%d", k);
        wb_lit_inc(&w, name, v965, 965);
        assert_int_equal(decode(d, &w, &l, &e), 0);
    }
    assert_int_equal(loom_hpack_decoder_table_size(d), 4000);
    w.n = 0;
    wb_int(&w, 5, 0x20, 2000);
    assert_int_equal(decode(d, &w, &l, &e), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(loom_hpack_decoder_table_size(d), 2000);
    assert_int_equal(loom_hpack_decoder_table_len(d), 2);
    assert_int_equal(loom_hpack_decoder_table_max(d), 2000);
    /* the two newest stayed */
    assert_int_equal(decode_hex(d, "bebf", &l, &e), 0);
    assert_true(hfield_is(&l.fields[0], "x-3", v965));
    assert_true(hfield_is(&l.fields[1], "x-2", v965));
    /* a new entry now evicts against 2000, not 4096 */
    w.n = 0;
    wb_lit_inc(&w, "x-9", v965, 965);
    assert_int_equal(decode(d, &w, &l, &e), 0);
    assert_int_equal(loom_hpack_decoder_table_size(d), 2000);
    assert_int_equal(loom_hpack_decoder_table_len(d), 2);
    /* 0 empties it; back to 4096 (allowed: the local limit is 4096) */
    assert_int_equal(decode_hex(d, "20", &l, &e), 0);
    assert_int_equal(loom_hpack_decoder_table_len(d), 0);
    assert_int_equal(loom_hpack_decoder_table_size(d), 0);
    assert_int_equal(loom_hpack_decoder_table_max(d), 0);
    assert_int_equal(decode_hex(d, "3fe11f82", &l, &e), 0);
    assert_int_equal(loom_hpack_decoder_table_max(d), 4096);
    assert_int_equal(l.n, 1);

    free(v965);
    free(v4058);
    free(v4059);
    free(w.b);
    loom_hpack_list_free(&l);
    loom_hpack_decoder_free(d);
}

/* §4.4: "A new entry can reference the name of an entry in the dynamic table
 * that will be evicted when adding this new entry": the name must survive its
 * own eviction (ASan would see a use after free). */
static void test_dynamic_name_evicted_by_its_own_insert(void **state)
{
    (void)state;
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    hlist l = {0};
    loom_hpack_error e;
    wbuf w = {0};
    wb_int(&w, 5, 0x20, 100);
    char *v30 = filled('v', 30), *w30 = filled('w', 30);
    wb_lit_inc(&w, "x-name", v30, 30); /* 6 + 30 + 32 = 68 */
    assert_int_equal(decode(d, &w, &l, &e), 0);
    assert_int_equal(loom_hpack_decoder_table_size(d), 68);
    w.n = 0;
    wb_byte(&w, 0x40 | 62); /* name: dynamic index 62, the entry about to go */
    wb_str(&w, w30, 30);
    assert_int_equal(decode(d, &w, &l, &e), 0);
    assert_int_equal(l.n, 1);
    assert_true(hfield_is(&l.fields[0], "x-name", w30));
    assert_int_equal(loom_hpack_decoder_table_len(d), 1);
    assert_int_equal(loom_hpack_decoder_table_size(d), 68);
    assert_int_equal(decode_hex(d, "be", &l, &e), 0);
    assert_true(hfield_is(&l.fields[0], "x-name", w30));
    free(v30);
    free(w30);
    free(w.b);
    loom_hpack_list_free(&l);
    loom_hpack_decoder_free(d);
}

/* An indexed dynamic field is reported by pointer into the table, so a
 * literal with incremental indexing later in the same block that evicts it
 * (RFC 7541 §4.4) must not change what was decoded; nor must one that moves
 * the table's memory as it grows after a size update (§6.3). ASan sees a
 * use after free if the field was not copied first. */
static void test_indexed_then_evicted_in_block(void **state)
{
    (void)state;
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    hlist l = {0};
    loom_hpack_error e;
    wbuf w = {0};
    char *v30 = filled('v', 30), *w30 = filled('w', 30), *u30 = filled('u', 30);
    wb_int(&w, 5, 0x20, 100);
    wb_lit_inc(&w, "x-a", v30, 30); /* 3 + 30 + 32 = 65: one entry fits in 100 */
    assert_int_equal(decode(d, &w, &l, &e), 0);
    w.n = 0;
    wb_byte(&w, 0xbe); /* 62: x-a */
    wb_byte(&w, 0x82);
    wb_lit_inc(&w, "x-b", w30, 30); /* evicts x-a */
    wb_byte(&w, 0xbe);              /* 62: now x-b */
    assert_int_equal(decode(d, &w, &l, &e), 0);
    const char *want[][2] = {{"x-a", v30}, {":method", "GET"}, {"x-b", w30}, {"x-b", w30}};
    assert_hlist(&l, want, 4);
    assert_int_equal(l.reps[0], LOOM_HPACK_REP_INDEXED | LOOM_HPACK_CHECKED);
    assert_int_equal(l.reps[2] & LOOM_HPACK_REP_MASK, LOOM_HPACK_REP_INCREMENTAL);
    assert_int_equal(l.reps[3], LOOM_HPACK_REP_INDEXED | LOOM_HPACK_CHECKED);
    assert_int_equal(loom_hpack_decoder_table_len(d), 1);
    /* the table grows back to 4096: its memory moves at the insertion */
    w.n = 0;
    wb_int(&w, 5, 0x20, 4096);
    wb_byte(&w, 0xbe); /* x-b, in the old memory */
    wb_lit_inc(&w, "x-c", u30, 30);
    wb_byte(&w, 0xbf); /* x-b again, in the new */
    wb_byte(&w, 0xbe); /* x-c */
    assert_int_equal(decode(d, &w, &l, &e), 0);
    const char *want2[][2] = {{"x-b", w30}, {"x-c", u30}, {"x-b", w30}, {"x-c", u30}};
    assert_hlist(&l, want2, 4);
    assert_int_equal(loom_hpack_decoder_table_len(d), 2);
    free(v30);
    free(w30);
    free(u30);
    free(w.b);
    loom_hpack_list_free(&l);
    loom_hpack_decoder_free(d);
}

/* An entry that wraps around the end of the table's memory, and one whose
 * empty value ends exactly there, indexed, then evicted in the block. */
static void test_indexed_wrapped_and_at_end(void **state)
{
    (void)state;
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    hlist l = {0};
    loom_hpack_error e;
    wbuf w = {0};
    /* 11 octets each in a table of 100: the tenth lies at 99..110, wrapping */
    wb_int(&w, 5, 0x20, 100);
    for (int i = 0; i < 10; i++) {
        char v[9];
        snprintf(v, sizeof(v), "value-%02d", i);
        wb_lit_inc(&w, "x-n", v, 8);
    }
    assert_int_equal(decode(d, &w, &l, &e), 0);
    w.n = 0;
    wb_byte(&w, 0xbe); /* value-09, wrapped */
    wb_byte(&w, 0xbf); /* value-08 */
    wb_lit_inc(&w, "x-m", "new", 3);
    wb_byte(&w, 0xbf); /* value-09 */
    assert_int_equal(decode(d, &w, &l, &e), 0);
    const char *want[][2] = {
        {"x-n", "value-09"}, {"x-n", "value-08"}, {"x-m", "new"}, {"x-n", "value-09"}};
    assert_hlist(&l, want, 4);
    for (size_t i = 0; i < 4; i++) /* (a new name's literal is checked later) */
        assert_int_equal(!!(l.reps[i] & LOOM_HPACK_CHECKED), i != 2);
    /* empty values with 10-octet names in a fresh table of 100: the tenth
     * name ends, and its value points, at the very end */
    loom_hpack_decoder_free(d);
    d = loom_hpack_decoder_new(4096, 0, NULL);
    w.n = 0;
    wb_int(&w, 5, 0x20, 100);
    for (int i = 0; i < 10; i++) {
        char n[11];
        snprintf(n, sizeof(n), "x-name-%03d", i);
        wb_lit_inc(&w, n, "", 0);
    }
    assert_int_equal(decode(d, &w, &l, &e), 0);
    w.n = 0;
    wb_byte(&w, 0xbe); /* x-name-009 */
    wb_lit_inc(&w, "x-other-00", "", 0);
    wb_lit_inc(&w, "x-other-01", "", 0); /* x-name-009 is gone */
    wb_byte(&w, 0xbe);
    assert_int_equal(decode(d, &w, &l, &e), 0);
    const char *want2[][2] = {
        {"x-name-009", ""}, {"x-other-00", ""}, {"x-other-01", ""}, {"x-other-01", ""}};
    assert_hlist(&l, want2, 4);
    free(w.b);
    loom_hpack_list_free(&l);
    loom_hpack_decoder_free(d);
}

/* The list's octets grow during a block (a fresh list, many copied strings:
 * Huffman literals, and indexed fields copied when the table changes):
 * every string copied earlier follows them. */
static void test_list_octets_grow_in_block(void **state)
{
    (void)state;
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    loom_hpack_error e;
    wbuf w = {0};
    /* the table as a model, newest first (no eviction: 24 entries of 68) */
    char vals[40][40];
    const char *model[40];
    size_t nmodel = 0;
    for (int i = 0; i < 20; i++) {
        snprintf(vals[i], sizeof(vals[i]), "entry-%02d-abcdefghijklmnopqrstuvw", i);
        wb_lit_inc(&w, "x-e", vals[i], strlen(vals[i]));
        memmove(model + 1, model, nmodel++ * sizeof(*model));
        model[0] = vals[i];
    }
    hlist l = {0};
    assert_int_equal(decode(d, &w, &l, &e), 0);
    loom_hpack_list_free(&l); /* fresh again: its octets start small */
    w.n = 0;
    uint8_t hname[8];
    int hnl = loom_huffman_encode((const uint8_t *)"x-e", 3, hname, sizeof(hname));
    assert_true(hnl > 0);
    const char *want[60][2];
    size_t k = 0;
    for (int i = 20; i < 40; i++) {
        snprintf(vals[i], sizeof(vals[i]), "huff-%02d-zyxwvutsrqponmlkjihgfedcba", i);
        if (i % 2) { /* indexed, in the ring */
            size_t idx = (size_t)(i % 7);
            wb_byte(&w, (uint8_t)(0x80 | (62 + idx)));
            want[k][0] = "x-e";
            want[k++][1] = model[idx];
        }
        int inc = i % 5 == 0; /* the ring fields are copied before it */
        wb_byte(&w, inc ? 0x40 : 0x00);
        wb_int(&w, 7, 0x80, (uint64_t)hnl);
        wb_bytes(&w, hname, (size_t)hnl);
        uint8_t h[64];
        int hn = loom_huffman_encode((const uint8_t *)vals[i], strlen(vals[i]), h, sizeof(h));
        assert_true(hn > 0);
        wb_int(&w, 7, 0x80, (uint64_t)hn);
        wb_bytes(&w, h, (size_t)hn);
        want[k][0] = "x-e";
        want[k++][1] = vals[i];
        if (inc) {
            memmove(model + 1, model, nmodel++ * sizeof(*model));
            model[0] = vals[i];
        }
    }
    assert_int_equal(decode(d, &w, &l, &e), 0);
    assert_hlist(&l, want, k);
    free(w.b);
    loom_hpack_list_free(&l);
    loom_hpack_decoder_free(d);
}

static void test_size_update_rules(void **state)
{
    (void)state;
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    hlist l = {0};
    loom_hpack_error e;

    /* §4.2: several updates may open a block; the last one sets the size */
    assert_int_equal(decode_hex(d, "203fe11f82", &l, &e), 0);
    assert_int_equal(loom_hpack_decoder_table_max(d), 4096);
    assert_int_equal(l.n, 1);
    /* an update equal to the limit is fine, and a block of only updates */
    assert_int_equal(decode_hex(d, "3fe11f", &l, &e), 0);
    assert_int_equal(l.n, 0);

    /* Lowering the local limit: the next block must open with an update no
     * larger than it; after that, blocks need none. */
    assert_int_equal(loom_hpack_decoder_set_max_table_size(d, 1024), 0);
    assert_int_equal(decode_hex(d, "3fe10782", &l, &e), 0); /* update to 1024 */
    assert_int_equal(loom_hpack_decoder_table_max(d), 1024);
    assert_int_equal(decode_hex(d, "82", &l, &e), 0);
    /* two updates, the first at most the limit: fine (§4.2) */
    assert_int_equal(loom_hpack_decoder_set_max_table_size(d, 512), 0);
    assert_int_equal(decode_hex(d, "203fe10382", &l, &e), 0); /* 0 then 512 */
    assert_int_equal(loom_hpack_decoder_table_max(d), 512);

    /* Raising it needs no update, and allows a larger one. */
    assert_int_equal(loom_hpack_decoder_set_max_table_size(d, 8192), 0);
    assert_int_equal(decode_hex(d, "82", &l, &e), 0);
    assert_int_equal(decode_hex(d, "3fe13f82", &l, &e), 0); /* 8192 */
    assert_int_equal(loom_hpack_decoder_table_max(d), 8192);

    loom_hpack_list_free(&l);
    loom_hpack_decoder_free(d);
}

/* max_table_size at creation is the most a size update may ask for. */
static void test_decoder_created_small(void **state)
{
    (void)state;
    hlist l = {0};
    loom_hpack_error e;
    loom_hpack_decoder *d = loom_hpack_decoder_new(256, 0, NULL);
    assert_int_equal(decode_hex(d, "3fe10182", &l, &e), 0); /* 256 */
    assert_int_equal(loom_hpack_decoder_table_max(d), 256);
    loom_hpack_decoder_free(d);
    d = loom_hpack_decoder_new(256, 0, NULL);
    assert_int_equal(decode_hex(d, "3fe20182", &l, &e), LOOM_ERR_COMPRESSION); /* 257 */
    loom_hpack_decoder_free(d);
    loom_hpack_list_free(&l);
}

/* ------------------------------------------------------------------ */
/* Decoder: never indexed (§6.2.3), list size, callback                */
/* ------------------------------------------------------------------ */

static void test_never_indexed_reported(void **state)
{
    (void)state;
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    hlist l = {0};
    loom_hpack_error e;
    /* C.2.3 (new name), then authorization by static name index 23 (4-bit
     * prefix: 0x1f, 23 - 15 = 8), then an indexed field, then a literal
     * without indexing (§6.2.2) */
    assert_int_equal(decode_hex(d,
                                "100870617373776f726406736563726574"
                                "1f0806736563726574"
                                "82"
                                "0003782d61026231",
                                &l, &e),
                     0);
    assert_int_equal(l.n, 4);
    assert_true(hfield_is(&l.fields[0], "password", "secret"));
    assert_int_equal((l.reps[0] & LOOM_HPACK_REP_MASK), LOOM_HPACK_REP_NEVER_INDEXED);
    assert_true(l.fields[0].flags & LOOM_HPACK_NEVER_INDEXED);
    assert_true(hfield_is(&l.fields[1], "authorization", "secret"));
    assert_int_equal((l.reps[1] & LOOM_HPACK_REP_MASK), LOOM_HPACK_REP_NEVER_INDEXED);
    assert_true(l.fields[1].flags & LOOM_HPACK_NEVER_INDEXED);
    assert_true(hfield_is(&l.fields[2], ":method", "GET"));
    assert_int_equal((l.reps[2] & LOOM_HPACK_REP_MASK), LOOM_HPACK_REP_INDEXED);
    assert_false(l.fields[2].flags & LOOM_HPACK_NEVER_INDEXED);
    assert_true(hfield_is(&l.fields[3], "x-a", "b1"));
    assert_int_equal((l.reps[3] & LOOM_HPACK_REP_MASK), LOOM_HPACK_REP_WITHOUT_INDEX);
    assert_false(l.fields[3].flags & LOOM_HPACK_NEVER_INDEXED);
    /* none of them went into the table */
    assert_int_equal(loom_hpack_decoder_table_len(d), 0);
    loom_hpack_list_free(&l);
    loom_hpack_decoder_free(d);
}

/* LOOM_HPACK_CHECKED marks the fields whose octets are known valid for
 * HTTP/2: static-table references, dynamic-table entries that passed
 * their check, and literals with a static name whose value passed it;
 * never other literals (the engine checks those) nor bad entries or
 * values. Raw literals point into the block; Huffman ones are copied. */
static void test_checked_and_where_strings_live(void **state)
{
    (void)state;
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    hlist l = {0};
    loom_hpack_error e;
    wbuf w = {0};
    wb_byte(&w, 0x82);                    /* :method GET, static */
    wb_lit_inc(&w, "x-good", "yes", 3);   /* enters as 63 after the next */
    wb_lit_inc(&w, "x-bad", "a\r\nb", 4); /* enters as 62 */
    wb_byte(&w, 0x04);                    /* literal, static name :path */
    wb_str(&w, "/raw", 4);
    wb_byte(&w, 0x04); /* the same, Huffman: "/a" = 60 7f */
    wb_byte(&w, 0x82);
    wb_byte(&w, 0x60);
    wb_byte(&w, 0x7f);
    wb_byte(&w, 0xbe); /* 62: x-bad */
    wb_byte(&w, 0xbf); /* 63: x-good */
    assert_int_equal(decode(d, &w, &l, &e), 0);
    assert_int_equal(l.n, 7);
    assert_true(hfield_is(&l.fields[5], "x-bad", "a\r\nb"));
    assert_true(hfield_is(&l.fields[6], "x-good", "yes"));
    int checked[7] = {1, 0, 0, 1, 1, 0, 1};
    for (size_t i = 0; i < 7; i++)
        if (!!(l.reps[i] & LOOM_HPACK_CHECKED) != checked[i])
            fail_msg("field %zu: checked %d, want %d", i, !!(l.reps[i] & LOOM_HPACK_CHECKED),
                     checked[i]);
    /* the raw literal's value is the block's own octets; the Huffman one
     * was decoded elsewhere */
    const uint8_t *lo = w.b, *hi = w.b + w.n;
    assert_true(l.fields[3].value >= lo && l.fields[3].value < hi);
    assert_true(hfield_is(&l.fields[4], ":path", "/a"));
    assert_false(l.fields[4].value >= lo && l.fields[4].value < hi);
    /* the verdicts are kept: a second block sees the same */
    wbuf w2 = {0};
    wb_byte(&w2, 0xbf);
    wb_byte(&w2, 0xbe);
    assert_int_equal(decode(d, &w2, &l, &e), 0);
    assert_int_equal(l.n, 2);
    assert_true(l.reps[0] & LOOM_HPACK_CHECKED);
    assert_false(l.reps[1] & LOOM_HPACK_CHECKED);
    assert_int_equal(l.reps[1] & LOOM_HPACK_REP_MASK, LOOM_HPACK_REP_INDEXED);
    /* static names with bad values (RFC 9113 §8.2.1), raw and Huffman,
     * the Huffman ones twice (the second from the decoder's memo, with the
     * verdict it kept), between good ones */
    const char *vals[] = {" edge", "a\r\nb", "tab\t", "/ok", "nul\0x"};
    size_t lens[] = {5, 4, 4, 3, 5};
    int good[] = {0, 0, 0, 1, 0};
    for (int huff = 0; huff < 2; huff++)
        for (int rep = 0; rep < 2; rep++)
            for (size_t i = 0; i < 5; i++) {
                w2.n = 0;
                wb_byte(&w2, 0x04); /* :path, without indexing */
                if (huff) {
                    uint8_t h[32];
                    int hn = loom_huffman_encode((const uint8_t *)vals[i], lens[i], h, sizeof(h));
                    assert_true(hn > 0);
                    wb_int(&w2, 7, 0x80, (uint64_t)hn);
                    wb_bytes(&w2, h, (size_t)hn);
                } else {
                    wb_str(&w2, vals[i], lens[i]);
                }
                uint8_t lit[40]; /* the same again in the block: from the memo */
                size_t litn = w2.n - 1;
                assert_true(litn <= sizeof(lit));
                memcpy(lit, w2.b + 1, litn);
                wb_byte(&w2, 0x04);
                wb_bytes(&w2, lit, litn);
                assert_int_equal(decode(d, &w2, &l, &e), 0);
                assert_int_equal(l.n, 2);
                for (size_t k = 0; k < 2; k++) {
                    assert_int_equal(l.fields[k].value_len, lens[i]);
                    assert_memory_equal(l.fields[k].value, vals[i], lens[i]);
                    assert_int_equal(!!(l.reps[k] & LOOM_HPACK_CHECKED), good[i]);
                }
            }
    free(w.b);
    free(w2.b);
    loom_hpack_list_free(&l);
    loom_hpack_decoder_free(d);
}

static void test_list_size_limit(void **state)
{
    (void)state;
    /* "ab: cd" counts 2 + 2 + 32 = 36 (RFC 9113 §6.5.2). Two fit in 72
     * exactly; a third is over. */
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 72, NULL);
    hlist l = {0};
    loom_hpack_error e;
    const char *two = "0002616202636400026162026364";
    assert_int_equal(decode_hex(d, two, &l, &e), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(decode_hex(d, "000261620263640002616202636400026162026364", &l, &e),
                     LOOM_ERR_LIMIT);
    assert_int_equal(e.err, LOOM_ERR_LIMIT);
    assert_non_null(e.reason);
    assert_int_equal(l.n, 2); /* the third is not reported */
    /* the limit is per block: the next one starts from zero */
    assert_int_equal(decode_hex(d, two, &l, &e), 0);
    loom_hpack_decoder_set_max_list_size(d, 71);
    assert_int_equal(decode_hex(d, two, &l, &e), LOOM_ERR_LIMIT);
    loom_hpack_decoder_set_max_list_size(d, 0); /* back to the 64 KiB default */
    assert_int_equal(decode_hex(d, two, &l, &e), 0);
    loom_hpack_list_free(&l);
    loom_hpack_decoder_free(d);
}

/* The per-field callback of loom_hpack_decode() can stop the decoding: its
 * value comes back as the result, after the fields before it. */
static int stop_at_second(void *user, const loom_hpack_field *f, loom_hpack_rep rep)
{
    (void)f;
    (void)rep;
    return ++*(int *)user == 2 ? 7 : 0;
}

static void test_callback_stops(void **state)
{
    (void)state;
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    loom_hpack_error e;
    const uint8_t block[] = {0x82, 0x86, 0x84};
    int seen = 0;
    assert_int_equal(loom_hpack_decode(d, block, sizeof(block), stop_at_second, &seen, &e), 7);
    assert_int_equal(seen, 2);
    loom_hpack_decoder_free(d);
}

/* ------------------------------------------------------------------ */
/* Decoder: malformed blocks (each must be a COMPRESSION_ERROR)        */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *what;
    const char *hex;
} bad_block;

static const bad_block bad_blocks[] = {
    /* §5.1: the index integer's continuation never ends */
    {"truncated integer", "ff"},
    {"truncated integer, several octets", "82ff8080"},
    /* §5.1: 127 + (2^32 - 1) does not fit in 32 bits */
    {"integer overflow", "ffffffffff0f"},
    {"integer overflow in a string length", "40ffffffffff0f"},
    /* §5.2: a string longer than what is left of the block */
    {"truncated string (name)", "40056162"},
    {"truncated string (value)", "4001610a6263"},
    {"string length far past the block", "4001617fffffffff07"},
    {"truncated Huffman string", "4085f1e3"},
    /* §5.2: padding not the most significant bits of EOS ('a' + 000) */
    {"Huffman padding not all ones", "4081180178"},
    /* §5.2: 'a' + 11 bits of padding */
    {"Huffman padding over 7 bits", "40821fff0178"},
    {"Huffman string of padding only", "4081ff0178"},
    /* §5.2: EOS, then 'a', then padding */
    {"EOS inside a Huffman string", "4085fffffffc7f0178"},
    {"EOS inside a Huffman value", "40016185fffffffc7f"},
    /* §6.1: index 0 is not used */
    {"indexed field with index 0", "80"},
    {"index 0 after a good field", "8280"},
    /* §2.3.3: past the end of the (empty) dynamic table */
    {"index 62 with an empty dynamic table", "be"},
    {"literal name index 62 with an empty dynamic table", "7e0178"},
    {"index past the end after one entry", "4001610162bf"},
    {"never-indexed name index past the end", "1f3f0178"},
    /* §6.3: larger than the limit the decoder announced (4096) */
    {"size update above the limit", "3fe21f"},
    /* §4.2: updates only at the start of a block */
    {"size update after the first field", "8220"},
    {"size update after a literal", "4001610162"
                                    "3fe11f"},
};

/* The decoder remembers the last short Huffman literal it decoded (what it
 * decodes to): a decoder that has seen other literals must say exactly
 * what a fresh one says, for the same literal again, for one differing in
 * its last octet (valid or not), and around the memo's bounds (64 octets
 * of literal, 128 of literal and string). */
static int decode_into(loom_hpack_decoder *d, const uint8_t *b, size_t n, hlist *l)
{
    loom_hpack_error e;
    return loom_hpack_decode_block(d, b, n, l, &e);
}

static void same_as_fresh(loom_hpack_decoder *d, uint32_t max_list, const uint8_t *b, size_t n)
{
    loom_hpack_decoder *fresh = loom_hpack_decoder_new(4096, max_list, NULL);
    hlist got = {0}, want = {0};
    int rc_got = decode_into(d, b, n, &got), rc_want = decode_into(fresh, b, n, &want);
    assert_int_equal(rc_got, rc_want);
    assert_int_equal(got.n, want.n);
    for (size_t i = 0; i < want.n; i++) {
        assert_int_equal(got.fields[i].name_len, want.fields[i].name_len);
        assert_memory_equal(got.fields[i].name, want.fields[i].name, want.fields[i].name_len);
        assert_int_equal(got.fields[i].value_len, want.fields[i].value_len);
        if (want.fields[i].value_len)
            assert_memory_equal(got.fields[i].value, want.fields[i].value,
                                want.fields[i].value_len);
    }
    loom_hpack_list_free(&got);
    loom_hpack_list_free(&want);
    loom_hpack_decoder_free(fresh);
}

/* A block of one field: :path (static name, RFC 7541 §6.2.2 without
 * indexing) with Huffman octets h, or with a new name of the same octets. */
static void huff_block(wbuf *w, const uint8_t *h, size_t hn, int new_name)
{
    w->n = 0;
    if (new_name) {
        wb_byte(w, 0x00);
        wb_int(w, 7, 0x80, hn);
        wb_bytes(w, h, hn);
    } else {
        wb_byte(w, 0x04);
    }
    wb_int(w, 7, 0x80, hn);
    wb_bytes(w, h, hn);
}

static void test_decoder_huffman_memo(void **state)
{
    (void)state;
    /* octets with codes of 5 bits ('a'), 6 ('/'), 8 ('&'), 13 ('~') and a mix */
    const char *sets[] = {"a", "/", "&", "~", "/1k.txt-abcXYZ~&%"};
    uint32_t limits[] = {0, 100};
    wbuf w = {0};
    uint8_t str[256], h[512], v[512];
    for (size_t li = 0; li < 2; li++) {
        loom_hpack_decoder *d = loom_hpack_decoder_new(4096, limits[li], NULL);
        for (size_t si = 0; si < 5; si++) {
            size_t k = strlen(sets[si]);
            for (size_t len = 1; len <= 140; len++) {
                for (size_t i = 0; i < len; i++)
                    str[i] = (uint8_t)sets[si][(i * 7 + len) % k];
                int hn = loom_huffman_encode(str, len, h, sizeof(h));
                assert_true(hn > 0);
                for (int new_name = 0; new_name < 2; new_name++) {
                    huff_block(&w, h, (size_t)hn, new_name);
                    same_as_fresh(d, limits[li], w.b, w.n); /* remembered, if short */
                    same_as_fresh(d, limits[li], w.b, w.n); /* from the memo */
                    /* the last octet changed: another string, or invalid
                     * padding (RFC 7541 §5.2), never the remembered one */
                    uint8_t last[] = {(uint8_t)(h[hn - 1] ^ 1), (uint8_t)(h[hn - 1] ^ 0x80), 0xff,
                                      0x00};
                    for (size_t x = 0; x < sizeof(last); x++) {
                        memcpy(v, h, (size_t)hn);
                        v[hn - 1] = last[x];
                        huff_block(&w, v, (size_t)hn, new_name);
                        same_as_fresh(d, limits[li], w.b, w.n);
                        huff_block(&w, h, (size_t)hn, new_name);
                        same_as_fresh(d, limits[li], w.b, w.n);
                    }
                    /* one octet shorter or longer than the remembered one */
                    huff_block(&w, h, (size_t)hn - 1, new_name);
                    same_as_fresh(d, limits[li], w.b, w.n);
                    memcpy(v, h, (size_t)hn);
                    v[hn] = 0xff;
                    huff_block(&w, v, (size_t)hn + 1, new_name);
                    same_as_fresh(d, limits[li], w.b, w.n);
                }
            }
        }
        loom_hpack_decoder_free(d);
    }
    free(w.b);
}

static void test_decoder_rejects(void **state)
{
    (void)state;
    hlist l = {0};
    for (size_t i = 0; i < sizeof(bad_blocks) / sizeof(bad_blocks[0]); i++) {
        loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
        loom_hpack_error e;
        size_t n;
        uint8_t *b = hex_decode(bad_blocks[i].hex, &n);
        assert_non_null(b);
        memset(&e, 0, sizeof(e));
        int rc = loom_hpack_decode_block(d, b, n, &l, &e);
        if (rc != LOOM_ERR_COMPRESSION || e.err != LOOM_ERR_COMPRESSION || !e.reason ||
            !*e.reason || e.offset > n)
            fail_msg("%s (%s): rc %d, e.err %d, offset %zu, reason %s", bad_blocks[i].what,
                     bad_blocks[i].hex, rc, e.err, e.offset, e.reason ? e.reason : "(null)");
        free(b);
        loom_hpack_decoder_free(d);
    }
    loom_hpack_list_free(&l);
}

static void test_decoder_error_offsets(void **state)
{
    (void)state;
    hlist l = {0};
    loom_hpack_error e;
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    assert_int_equal(decode_hex(d, "8280", &l, &e), LOOM_ERR_COMPRESSION);
    assert_int_equal(e.offset, 1);
    loom_hpack_decoder_free(d);
    d = loom_hpack_decoder_new(4096, 0, NULL);
    assert_int_equal(decode_hex(d, "828620", &l, &e), LOOM_ERR_COMPRESSION);
    assert_int_equal(e.offset, 2);
    loom_hpack_decoder_free(d);
    loom_hpack_list_free(&l);
}

static void test_size_update_missing_after_lowering(void **state)
{
    (void)state;
    hlist l = {0};
    loom_hpack_error e;
    /* §4.2: after the local limit drops, the peer owes an update */
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    assert_int_equal(decode_hex(d, "82", &l, &e), 0);
    assert_int_equal(loom_hpack_decoder_set_max_table_size(d, 1024), 0);
    assert_int_equal(decode_hex(d, "82", &l, &e), LOOM_ERR_COMPRESSION);
    assert_int_equal(e.err, LOOM_ERR_COMPRESSION);
    assert_non_null(e.reason);
    loom_hpack_decoder_free(d);

    /* an update is there, but above the new limit */
    d = loom_hpack_decoder_new(4096, 0, NULL);
    assert_int_equal(loom_hpack_decoder_set_max_table_size(d, 1024), 0);
    assert_int_equal(decode_hex(d, "3fe11f82", &l, &e), LOOM_ERR_COMPRESSION);
    loom_hpack_decoder_free(d);

    /* an empty block does not pay the debt either */
    d = loom_hpack_decoder_new(4096, 0, NULL);
    assert_int_equal(loom_hpack_decoder_set_max_table_size(d, 0), 0);
    assert_int_equal(decode_hex(d, "", &l, &e), LOOM_ERR_COMPRESSION);
    loom_hpack_decoder_free(d);
    loom_hpack_list_free(&l);
}

/* Found by fuzz/hpack_diff.c: of several limits set between two blocks,
 * the smallest must be signalled first (RFC 7541 §4.2). */
static void test_size_update_smallest_first(void **state)
{
    (void)state;
    hlist l = {0};
    loom_hpack_error e;
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    loom_hpack_decoder_set_max_table_size(d, 100);
    loom_hpack_decoder_set_max_table_size(d, 4096);
    assert_int_equal(decode_hex(d, "3fe11f82", &l, &e), LOOM_ERR_COMPRESSION);
    loom_hpack_decoder_free(d);
    /* 100 first, then 4096: right */
    d = loom_hpack_decoder_new(4096, 0, NULL);
    loom_hpack_decoder_set_max_table_size(d, 100);
    loom_hpack_decoder_set_max_table_size(d, 4096);
    assert_int_equal(decode_hex(d, "3f453fe11f82", &l, &e), 0);
    assert_int_equal(loom_hpack_decoder_table_max(d), 4096);
    loom_hpack_decoder_free(d);
    loom_hpack_list_free(&l);
}

/* Found by fuzz/hpack_decode.c: strings skipped past the list limit are
 * still checked, so a bad Huffman code is COMPRESSION_ERROR, not LIMIT. */
static void test_skipped_string_still_checked(void **state)
{
    (void)state;
    hlist l = {0};
    loom_hpack_error e;
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 64, NULL);
    char blk[256] = "000161a8";
    for (int i = 0; i < 38; i++)
        strcat(blk, "00");
    strcat(blk, "ffff"); /* 16 one-bits of padding: invalid (§5.2) */
    assert_int_equal(decode_hex(d, blk, &l, &e), LOOM_ERR_COMPRESSION);
    loom_hpack_decoder_free(d);
    /* the same with valid padding is only too large */
    d = loom_hpack_decoder_new(4096, 64, NULL);
    blk[strlen(blk) - 4] = 0;
    strcat(blk, "00ff");
    assert_int_equal(decode_hex(d, blk, &l, &e), LOOM_ERR_LIMIT);
    loom_hpack_decoder_free(d);
    loom_hpack_list_free(&l);
}

/* Found by fuzz/hpack_decode.c: a list of exactly max_list_size fits. */
static void test_list_exactly_at_limit(void **state)
{
    (void)state;
    hlist l = {0};
    loom_hpack_error e;
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 64, NULL);
    /* two empty literals, 32 + 32 = 64 */
    assert_int_equal(decode_hex(d, "000000000000", &l, &e), 0);
    assert_int_equal(l.n, 2);
    /* a third is one too many */
    assert_int_equal(decode_hex(d, "000000000000000000", &l, &e), LOOM_ERR_LIMIT);
    loom_hpack_decoder_free(d);
    loom_hpack_list_free(&l);
}

/* ------------------------------------------------------------------ */
/* The HPACK bomb (CVE-2016-6581)                                     */
/* ------------------------------------------------------------------ */

static void test_hpack_bomb(void **state)
{
    (void)state;
    counting c = {0};
    loom_mem mem = counting_mem(&c);
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, &mem); /* list limit: 64 KiB */
    assert_non_null(d);

    /* one 4000-octet value, kept (6 + 4000 + 32 = 4038 octets), then
     * referenced 10,000 times: ~40 MB if expanded; then one more small
     * literal with incremental indexing, past the limit */
    wbuf w = {0};
    char *big = filled('a', 4000);
    wb_lit_inc(&w, "x-bomb", big, 4000);
    for (int i = 0; i < 10000; i++)
        wb_byte(&w, 0xbe);
    wb_lit_inc(&w, "x-after", "y", 1);

    hlist l = {0};
    loom_hpack_error e;
    assert_int_equal(decode(d, &w, &l, &e), LOOM_ERR_LIMIT);
    assert_int_equal(e.err, LOOM_ERR_LIMIT);
    assert_non_null(e.reason);
    /* what was reported stayed within 64 KiB: at most 16 fields of 4038 */
    assert_true(l.n >= 1 && l.n <= 65536 / 4038);
    for (size_t i = 0; i < l.n; i++)
        assert_true(hfield_is(&l.fields[i], "x-bomb", big));
    print_message("  bomb: %zu fields reported, %zu bytes allocated in all (peak %zu)\n", l.n,
                  c.total, c.peak);
    assert_true(c.total < 200 * 1024);

    /* The whole block was processed: both entries are in the table, so the
     * decoder is still in step with the peer's encoder. */
    assert_int_equal(loom_hpack_decoder_table_len(d), 2);
    assert_int_equal(loom_hpack_decoder_table_size(d), 4038 + 7 + 1 + 32);
    w.n = 0;
    wb_byte(&w, 0xbe);
    wb_byte(&w, 0xbf);
    wb_byte(&w, 0x82);
    assert_int_equal(decode(d, &w, &l, &e), 0);
    assert_int_equal(l.n, 3);
    assert_true(hfield_is(&l.fields[0], "x-after", "y"));
    assert_true(hfield_is(&l.fields[1], "x-bomb", big));
    assert_true(hfield_is(&l.fields[2], ":method", "GET"));
    assert_true(c.total < 200 * 1024);

    loom_hpack_decoder_free(d);
    assert_int_equal(c.live, 0); /* everything given back */
    free(big);
    free(w.b);
    loom_hpack_list_free(&l);
}

/* Every allocation failing in turn: NOMEM or success, never a crash or leak. */
static void test_out_of_memory(void **state)
{
    (void)state;
    wbuf w = {0};
    char *v = filled('v', 300);
    for (int k = 0; k < 20; k++) {
        char name[16];
        snprintf(name, sizeof(name), "x-%d", k);
        wb_lit_inc(&w, name, v, 300);
    }
    loom_hpack_field f[3] = {
        {(const uint8_t *)"x-a", 3, (const uint8_t *)v, 300, 0},
        {(const uint8_t *)"x-b", 3, (const uint8_t *)v, 200, 0},
        {(const uint8_t *)"cookie", 6, (const uint8_t *)v, 100, 0},
    };
    int decoded_ok = 0, encoded_ok = 0;
    for (size_t fail = 1; fail <= 40; fail++) {
        counting c = {0};
        c.fail_at = fail;
        loom_mem mem = counting_mem(&c);
        loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, &mem);
        if (d) {
            hlist l = {0};
            loom_hpack_error e;
            int rc = decode(d, &w, &l, &e);
            assert_true(rc == 0 || rc == LOOM_ERR_NOMEM);
            if (rc == 0) {
                assert_int_equal(l.n, 20);
                decoded_ok++;
            }
            loom_hpack_list_free(&l);
            loom_hpack_decoder_free(d);
        }
        assert_int_equal(c.live, 0);

        counting c2 = {0};
        c2.fail_at = fail;
        mem = counting_mem(&c2);
        loom_hpack_encoder *enc = loom_hpack_encoder_new(&mem);
        if (enc) {
            uint8_t out[2048];
            int rc = loom_hpack_encode(enc, f, 3, out, sizeof(out));
            assert_true(rc > 0 || rc == LOOM_ERR_NOMEM);
            if (rc > 0) encoded_ok++;
            loom_hpack_encoder_free(enc);
        }
        assert_int_equal(c2.live, 0);
    }
    /* once the failure is past the last allocation, both work */
    assert_true(decoded_ok > 0);
    assert_true(encoded_ok > 0);
    free(v);
    free(w.b);
}

/* ------------------------------------------------------------------ */
/* Encoder                                                            */
/* ------------------------------------------------------------------ */

static loom_hpack_field fld(const char *name, const char *value, uint8_t flags)
{
    loom_hpack_field f = {(const uint8_t *)name, strlen(name), (const uint8_t *)value,
                          strlen(value), flags};
    return f;
}

/* Encodes into a buffer of exactly the bound (so the bound is also tested). */
static int encode(loom_hpack_encoder *enc, const loom_hpack_field *f, size_t n, uint8_t **out)
{
    size_t bound = loom_hpack_encode_bound(f, n);
    *out = malloc(bound + 1);
    int rc = loom_hpack_encode(enc, f, n, *out, bound);
    if (rc >= 0) assert_true((size_t)rc <= bound);
    return rc;
}

static void test_encoder_never_indexed_kept(void **state)
{
    (void)state;
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    loom_hpack_encoder *enc = loom_hpack_encoder_new(NULL);
    hlist l = {0};
    loom_hpack_error e;
    /* a field received never-indexed (C.2.3) ... */
    assert_int_equal(decode_hex(d, "100870617373776f726406736563726574", &l, &e), 0);
    assert_true(l.fields[0].flags & LOOM_HPACK_NEVER_INDEXED);
    loom_hpack_field f = {l.fields[0].name, l.fields[0].name_len, l.fields[0].value,
                          l.fields[0].value_len, l.fields[0].flags};
    loom_hpack_field g = fld("authorization", "Bearer 123", LOOM_HPACK_NEVER_INDEXED);
    /* ... is forwarded never-indexed, every time: §6.2.3 pattern 0001xxxx */
    for (int round = 0; round < 2; round++) {
        uint8_t *out;
        int n = encode(enc, &f, 1, &out);
        assert_true(n > 0);
        if ((out[0] & 0xf0) != 0x10) fail_msg("round %d: first octet %02x", round, out[0]);
        free(out);
        n = encode(enc, &g, 1, &out);
        assert_true(n > 0);
        assert_int_equal(out[0] & 0xf0, 0x10);
        /* a decoder sees it never-indexed too */
        loom_hpack_decoder *d2 = loom_hpack_decoder_new(4096, 0, NULL);
        hlist l2 = {0};
        assert_int_equal(loom_hpack_decode_block(d2, out, (size_t)n, &l2, &e), 0);
        assert_int_equal(l2.n, 1);
        assert_true(hfield_is(&l2.fields[0], "authorization", "Bearer 123"));
        assert_int_equal((l2.reps[0] & LOOM_HPACK_REP_MASK), LOOM_HPACK_REP_NEVER_INDEXED);
        assert_true(l2.fields[0].flags & LOOM_HPACK_NEVER_INDEXED);
        loom_hpack_list_free(&l2);
        loom_hpack_decoder_free(d2);
        free(out);
    }
    assert_int_equal(loom_hpack_encoder_table_len(enc), 0);

    /* Even when the same name and value are already in the dynamic table,
     * a never-indexed field is not sent as an index: an index would lose the
     * flag for the next hop (§6.2.3). */
    loom_hpack_field plain = fld("x-secret", "abc123", 0);
    loom_hpack_field never = fld("x-secret", "abc123", LOOM_HPACK_NEVER_INDEXED);
    uint8_t *out;
    int n = encode(enc, &plain, 1, &out);
    assert_true(n > 0);
    free(out);
    assert_int_equal(loom_hpack_encoder_table_len(enc), 1);
    n = encode(enc, &never, 1, &out);
    assert_true(n > 1);
    assert_int_equal(out[0] & 0xf0, 0x10);
    free(out);

    loom_hpack_list_free(&l);
    loom_hpack_encoder_free(enc);
    loom_hpack_decoder_free(d);
}

static void test_encoder_no_index(void **state)
{
    (void)state;
    loom_hpack_encoder *enc = loom_hpack_encoder_new(NULL);
    loom_hpack_field f = fld("x-once", "a value seen once", LOOM_HPACK_NO_INDEX);
    uint8_t *out;
    int n = encode(enc, &f, 1, &out);
    assert_true(n > 0);
    assert_int_equal(out[0] & 0xf0, 0x00); /* §6.2.2 */
    assert_int_equal(loom_hpack_encoder_table_len(enc), 0);
    assert_int_equal(loom_hpack_encoder_table_size(enc), 0);
    free(out);
    loom_hpack_encoder_free(enc);
}

static void test_encoder_size_update(void **state)
{
    (void)state;
    loom_hpack_encoder *enc = loom_hpack_encoder_new(NULL);
    loom_hpack_field m = fld(":method", "GET", 0);
    uint8_t *out;

    /* §4.2: the peer's limit went to 0 and back to 4096 between two blocks:
     * the smallest value, then the final one. */
    assert_int_equal(loom_hpack_encoder_set_max_table_size(enc, 0), 0);
    assert_int_equal(loom_hpack_encoder_set_max_table_size(enc, 4096), 0);
    int n = encode(enc, &m, 1, &out);
    const uint8_t want[] = {0x20, 0x3f, 0xe1, 0x1f, 0x82};
    assert_int_equal(n, 5);
    assert_memory_equal(out, want, 5);
    free(out);
    /* owed once only */
    n = encode(enc, &m, 1, &out);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 0x82);
    free(out);

    /* to 0: an update to 0, and nothing is kept afterwards */
    loom_hpack_field x = fld("x-a", "b", 0);
    n = encode(enc, &x, 1, &out);
    assert_true(n > 0);
    free(out);
    assert_int_equal(loom_hpack_encoder_table_len(enc), 1);
    assert_int_equal(loom_hpack_encoder_set_max_table_size(enc, 0), 0);
    n = encode(enc, &x, 1, &out);
    assert_true(n > 1);
    assert_int_equal(out[0], 0x20);
    free(out);
    assert_int_equal(loom_hpack_encoder_table_len(enc), 0);
    assert_int_equal(loom_hpack_encoder_table_size(enc), 0);
    loom_hpack_encoder_free(enc);

    /* our own cap below the protocol's 4096 is announced too: 100 -> 3f 45 */
    enc = loom_hpack_encoder_new(NULL);
    assert_int_equal(loom_hpack_encoder_set_table_cap(enc, 100), 0);
    n = encode(enc, &m, 1, &out);
    assert_int_equal(n, 3);
    assert_int_equal(out[0], 0x3f);
    assert_int_equal(out[1], 0x45);
    assert_int_equal(out[2], 0x82);
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    hlist l = {0};
    loom_hpack_error e;
    assert_int_equal(loom_hpack_decode_block(d, out, (size_t)n, &l, &e), 0);
    assert_int_equal(loom_hpack_decoder_table_max(d), 100);
    free(out);
    loom_hpack_list_free(&l);
    loom_hpack_decoder_free(d);
    loom_hpack_encoder_free(enc);
}

static void test_encoder_repeated_cookie(void **state)
{
    (void)state;
    loom_hpack_encoder *enc = loom_hpack_encoder_new(NULL);
    loom_hpack_field f[3] = {fld(":method", "GET", 0), fld(":path", "/", 0),
                             fld("cookie", "session=0123456789abcdef0123456789abcdef", 0)};
    uint8_t *out;
    int n = encode(enc, f, 3, &out);
    assert_true(n > 3);
    free(out);
    /* the cookie is now in the dynamic table: one octet (§6.1) */
    n = encode(enc, &f[2], 1, &out);
    assert_int_equal(n, 1);
    assert_true(out[0] & 0x80);
    free(out);
    /* and the whole repeated request costs one octet a field */
    n = encode(enc, f, 3, &out);
    assert_int_equal(n, 3);
    free(out);
    loom_hpack_encoder_free(enc);
}

/* Volatile fields (content-length, last-modified, :path, age) are not
 * indexed when first seen, so one-off values cost no table entry; a value
 * seen a second time is indexed, so a response repeated over and over
 * costs one octet a field (issue 12: h2load's header savings). */
static void test_encoder_volatile_indexed_when_repeated(void **state)
{
    (void)state;
    loom_hpack_encoder *enc = loom_hpack_encoder_new(NULL);
    loom_hpack_field f[2] = {fld("content-length", "1024", 0),
                             fld("last-modified", "Sat, 05 Dec 2026 01:42:32 GMT", 0)};
    uint8_t *out;
    int n = encode(enc, f, 2, &out);
    assert_true(n > 2);
    assert_int_equal(out[0] & 0xf0, 0x00); /* §6.2.2 without indexing */
    free(out);
    assert_int_equal(loom_hpack_encoder_table_len(enc), 0);
    /* another length once: still not indexed, and it does not make the
     * first one look new */
    loom_hpack_field other = fld("content-length", "77", 0);
    n = encode(enc, &other, 1, &out);
    assert_int_equal(out[0] & 0xf0, 0x00);
    free(out);
    assert_int_equal(loom_hpack_encoder_table_len(enc), 0);
    /* the second sight of each value: §6.2.1 incremental indexing */
    n = encode(enc, f, 2, &out);
    assert_true(n > 2);
    assert_int_equal(out[0] & 0xc0, 0x40);
    free(out);
    assert_int_equal(loom_hpack_encoder_table_len(enc), 2);
    /* from then on one octet each */
    n = encode(enc, f, 2, &out);
    assert_int_equal(n, 2);
    assert_true(out[0] & 0x80);
    assert_true(out[1] & 0x80);
    free(out);
    loom_hpack_encoder_free(enc);
}

/* The encoder's memo of the last block: the same head again, against an
 * unchanged table, is the same octets; anything else (a value, a flag, a
 * table size update) is encoded afresh, and a decoder stays in step. */
static void test_encoder_memo(void **state)
{
    (void)state;
    loom_hpack_encoder *enc = loom_hpack_encoder_new(NULL);
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    loom_hpack_field f[5] = {fld(":status", "200", 0), fld("server", "loom", 0),
                             fld("content-type", "text/plain", 0), fld("content-length", "1024", 0),
                             fld("etag", "\"abc\"", 0)};
    uint8_t *prev = NULL;
    int prev_n = 0;
    for (int round = 0; round < 12; round++) {
        if (round == 6) f[4] = fld("etag", "\"xyz\"", 0); /* a new value */
        if (round == 8) f[1].flags = LOOM_HPACK_NEVER_INDEXED;
        if (round == 10) assert_int_equal(loom_hpack_encoder_set_table_cap(enc, 256), 0);
        uint8_t *out;
        int n = encode(enc, f, 5, &out);
        assert_true(n > 0);
        hlist l = {0};
        loom_hpack_error e;
        assert_int_equal(loom_hpack_decode_block(d, out, (size_t)n, &l, &e), 0);
        assert_int_equal(l.n, 5);
        for (int i = 0; i < 5; i++)
            assert_true(l.fields[i].name_len == f[i].name_len &&
                        !memcmp(l.fields[i].name, f[i].name, f[i].name_len) &&
                        l.fields[i].value_len == f[i].value_len &&
                        !memcmp(l.fields[i].value, f[i].value, f[i].value_len));
        if (round == 3 || round == 4) { /* steady: all indexed, the same octets */
            assert_int_equal(n, 5);
            assert_int_equal(n, prev_n);
            assert_memory_equal(out, prev, (size_t)n);
        }
        if (round == 8) /* the flag changed: never indexed, not the memo */
            assert_true(n > 5);
        if (round == 10) assert_int_equal(out[0] & 0xe0, 0x20); /* §6.3 size update first */
        loom_hpack_list_free(&l);
        free(prev);
        prev = out;
        prev_n = n;
    }
    free(prev);
    loom_hpack_decoder_free(d);
    loom_hpack_encoder_free(enc);
}

/* Decodes out with d and checks that it says f[0..n). */
static void expect_block(loom_hpack_decoder *d, const uint8_t *out, int len,
                         const loom_hpack_field *f, size_t n)
{
    hlist l = {0};
    loom_hpack_error e;
    assert_true(len > 0);
    assert_int_equal(loom_hpack_decode_block(d, out, (size_t)len, &l, &e), 0);
    assert_int_equal(l.n, n);
    for (size_t i = 0; i < n; i++)
        assert_true(l.fields[i].name_len == f[i].name_len &&
                    !memcmp(l.fields[i].name, f[i].name, f[i].name_len) &&
                    l.fields[i].value_len == f[i].value_len &&
                    !memcmp(l.fields[i].value, f[i].value, f[i].value_len));
    loom_hpack_list_free(&l);
}

/* The engine's keyed entry (loom_respond_keyed): the same key, against an
 * unchanged table, sends the block remembered for it without looking at
 * the fields; once the table changed, the key is not trusted and the
 * fields are encoded against the table as it is. */
static void test_encoder_keyed(void **state)
{
    (void)state;
    loom_hpack_encoder *enc = loom_hpack_encoder_new(NULL);
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    loom_hpack_field a[4] = {fld(":status", "200", 0), fld("server", "loom", 0),
                             fld("content-length", "1024", 0), fld("etag", "\"v1\"", 0)};
    loom_hpack_field b[4] = {fld(":status", "200", 0), fld("server", "loom", 0),
                             fld("content-length", "2048", 0), fld("etag", "\"v2\"", 0)};
    uint8_t out[512], first[512];
    int len = 0, first_len = 0;
    for (int round = 0; round < 4; round++) { /* until nothing new is inserted */
        len = loom__hpack_encode_keyed(enc, 7, a, 4, out);
        expect_block(d, out, len, a, 4);
    }
    memcpy(first, out, (size_t)len);
    first_len = len;
    /* key 7 again, other fields: the promise is the caller's, so the block
     * remembered for key 7 goes out (a's fields), not b's */
    len = loom__hpack_encode_keyed(enc, 7, b, 4, out);
    assert_int_equal(len, first_len);
    assert_memory_equal(out, first, (size_t)len);
    expect_block(d, out, len, a, 4);
    /* another key: b's fields, encoded (and inserted: the table changes) */
    len = loom__hpack_encode_keyed(enc, 8, b, 4, out);
    expect_block(d, out, len, b, 4);
    /* key 7 after the table changed: encoded afresh, and right */
    len = loom__hpack_encode_keyed(enc, 7, a, 4, out);
    expect_block(d, out, len, a, 4);
    /* a size update pending: never the remembered block */
    for (int round = 0; round < 3; round++) {
        len = loom__hpack_encode_keyed(enc, 7, a, 4, out);
        expect_block(d, out, len, a, 4);
    }
    assert_int_equal(loom_hpack_encoder_set_table_cap(enc, 512), 0);
    len = loom__hpack_encode_keyed(enc, 7, a, 4, out);
    assert_int_equal(out[0] & 0xe0, 0x20);
    expect_block(d, out, len, a, 4);
    loom_hpack_decoder_free(d);
    loom_hpack_encoder_free(enc);
}

/* Found by fuzz/hpack_decode: the peer's table size lowered (entries
 * evicted, no insertion) and raised again, a block that inserts nothing,
 * then the remembered head again: it named entries that were gone. */
static void test_encoder_memo_after_eviction(void **state)
{
    (void)state;
    for (int keyed = 0; keyed < 2; keyed++) {
        loom_hpack_encoder *enc = loom_hpack_encoder_new(NULL);
        loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
        loom_hpack_field a[3] = {fld(":status", "200", 0), fld("server", "loom", 0),
                                 fld("etag", "\"v1\"", 0)};
        loom_hpack_field st = fld(":method", "GET", 0); /* static: inserts nothing */
        uint8_t out[512];
        int len;
        for (int round = 0; round < 3; round++) { /* until it is remembered */
            len = loom__hpack_encode_keyed(enc, keyed ? 9 : 0, a, 3, out);
            expect_block(d, out, len, a, 3);
        }
        assert_int_equal(loom_hpack_encoder_set_max_table_size(enc, 0), 0);
        assert_int_equal(loom_hpack_decoder_set_max_table_size(d, 0), 0);
        assert_int_equal(loom_hpack_encoder_set_max_table_size(enc, 4096), 0);
        assert_int_equal(loom_hpack_decoder_set_max_table_size(d, 4096), 0);
        len = loom__hpack_encode_keyed(enc, 0, &st, 1, out);
        expect_block(d, out, len, &st, 1);
        len = loom__hpack_encode_keyed(enc, keyed ? 9 : 0, a, 3, out);
        expect_block(d, out, len, a, 3);
        loom_hpack_decoder_free(d);
        loom_hpack_encoder_free(enc);
    }
}

static void test_encoder_buffer_too_small(void **state)
{
    (void)state;
    char *long_value = filled('z', 10000);
    loom_hpack_field f[4] = {fld(":method", "GET", 0), fld("x-long", long_value, 0),
                             fld("x-secret", "s", LOOM_HPACK_NEVER_INDEXED),
                             fld("x-binary", "\x01\x02\xff", 0)};
    loom_hpack_encoder *a = loom_hpack_encoder_new(NULL), *b = loom_hpack_encoder_new(NULL);
    /* a pending size update must fit in the bound as well */
    assert_int_equal(loom_hpack_encoder_set_max_table_size(a, 0), 0);
    assert_int_equal(loom_hpack_encoder_set_max_table_size(a, 4096), 0);
    assert_int_equal(loom_hpack_encoder_set_max_table_size(b, 0), 0);
    assert_int_equal(loom_hpack_encoder_set_max_table_size(b, 4096), 0);
    size_t bound = loom_hpack_encode_bound(f, 4);
    uint8_t *buf = malloc(bound);
    for (size_t cap = 0; cap < bound; cap += cap < 16 ? 1 : bound / 7 + 1)
        assert_int_equal(loom_hpack_encode(a, f, 4, buf, cap), LOOM_ERR_BUFFER);
    assert_int_equal(loom_hpack_encode(a, f, 4, buf, bound - 1), LOOM_ERR_BUFFER);
    /* the failures changed nothing: a now writes what a fresh b writes,
     * size update included */
    assert_int_equal(loom_hpack_encoder_table_len(a), 0);
    int n = loom_hpack_encode(a, f, 4, buf, bound);
    assert_true(n > 0 && (size_t)n <= bound);
    uint8_t *ref = malloc(bound);
    int m = loom_hpack_encode(b, f, 4, ref, bound);
    assert_int_equal(n, m);
    assert_memory_equal(buf, ref, (size_t)n);
    assert_int_equal(buf[0], 0x20);

    /* zero fields: the bound still covers a pending update */
    assert_int_equal(loom_hpack_encoder_set_max_table_size(a, 100), 0);
    size_t b0 = loom_hpack_encode_bound(NULL, 0);
    uint8_t *small = malloc(b0 + 1);
    n = loom_hpack_encode(a, NULL, 0, small, b0);
    assert_int_equal(n, 2);
    assert_int_equal(small[0], 0x3f);
    assert_int_equal(small[1], 0x45);
    free(small);

    free(buf);
    free(ref);
    free(long_value);
    loom_hpack_encoder_free(a);
    loom_hpack_encoder_free(b);
}

/* Random header lists through loom's encoder and decoder, with flags and
 * table size changes: the fields come back, and both tables agree on their
 * size and length after every block. */
static void test_encoder_decoder_in_step(void **state)
{
    (void)state;
    static const char *const names[] = {":method", ":path",        ":authority",
                                        "cookie",  "user-agent",   "accept",
                                        "x-a",     "x-b",          "x-long-name-for-a-custom-field",
                                        "date",    "content-type", "etag",
                                        ":status"};
    static const char *const values[] = {"GET",
                                         "/",
                                         "/index.html",
                                         "example.com",
                                         "text/html",
                                         "",
                                         "a",
                                         "200",
                                         "gzip, deflate",
                                         "Mon, 21 Oct 2013 20:13:21 GMT",
                                         "a somewhat longer value that is repeated now and then"};
    static const uint32_t sizes[] = {0, 1, 64, 100, 256, 1024, 4096};
    loom_hpack_encoder *enc = loom_hpack_encoder_new(NULL);
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    hlist l = {0};
    loom_hpack_error e;
    char rnd_values[16][64];
    size_t fields_checked = 0;
    for (int block = 0; block < 3000; block++) {
        if (block % 37 == 36) {
            uint32_t s = sizes[rnd() % 7];
            assert_int_equal(loom_hpack_decoder_set_max_table_size(d, s), 0);
            assert_int_equal(loom_hpack_encoder_set_max_table_size(enc, s), 0);
        }
        loom_hpack_field f[16];
        size_t n = rnd() % 16;
        for (size_t i = 0; i < n; i++) {
            const char *name = names[rnd() % (sizeof(names) / sizeof(names[0]))];
            size_t vlen;
            const char *value;
            if (rnd() % 4 == 0) {
                vlen = rnd() % 64;
                for (size_t k = 0; k < vlen; k++)
                    rnd_values[i][k] = (char)rnd();
                value = rnd_values[i];
            } else {
                value = values[rnd() % (sizeof(values) / sizeof(values[0]))];
                vlen = strlen(value);
            }
            uint32_t r = rnd() % 16;
            uint8_t flags = r == 0 ? LOOM_HPACK_NEVER_INDEXED : r == 1 ? LOOM_HPACK_NO_INDEX : 0;
            f[i] = (loom_hpack_field){(const uint8_t *)name, strlen(name), (const uint8_t *)value,
                                      vlen, flags};
        }
        uint8_t *out;
        int len = encode(enc, f, n, &out);
        assert_true(len >= 0);
        int rc = loom_hpack_decode_block(d, out, (size_t)len, &l, &e);
        if (rc != 0) fail_msg("block %d: decode %d (%s)", block, rc, e.reason);
        assert_int_equal(l.n, n);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(l.fields[i].name_len, f[i].name_len);
            assert_memory_equal(l.fields[i].name, f[i].name, f[i].name_len);
            assert_int_equal(l.fields[i].value_len, f[i].value_len);
            if (f[i].value_len) assert_memory_equal(l.fields[i].value, f[i].value, f[i].value_len);
            /* never-indexed is kept; the encoder may also protect
             * credentials and cookies on its own (RFC 7541 §7.1.3) */
            if (f[i].flags & LOOM_HPACK_NEVER_INDEXED)
                assert_true(l.fields[i].flags & LOOM_HPACK_NEVER_INDEXED);
            else if (l.fields[i].flags & LOOM_HPACK_NEVER_INDEXED)
                assert_true(hname_is(&l.fields[i], "cookie") ||
                            hname_is(&l.fields[i], "authorization"));
            fields_checked++;
        }
        assert_int_equal(loom_hpack_encoder_table_size(enc), loom_hpack_decoder_table_size(d));
        assert_int_equal(loom_hpack_encoder_table_len(enc), loom_hpack_decoder_table_len(d));
        assert_int_equal(loom_hpack_encoder_table_max(enc), loom_hpack_decoder_table_max(d));
        /* entry by entry (entries wrap around the table's ring now and then) */
        for (size_t i = 1; i <= loom_hpack_decoder_table_len(d); i++) {
            uint8_t eb[4096], db[4096];
            loom_hpack_field ef, df;
            assert_int_equal(loom_hpack_encoder_table_get(enc, i, &ef, eb, sizeof(eb)), 0);
            assert_int_equal(loom_hpack_decoder_table_get(d, i, &df, db, sizeof(db)), 0);
            assert_int_equal(ef.name_len, df.name_len);
            assert_int_equal(ef.value_len, df.value_len);
            assert_memory_equal(ef.name, df.name, df.name_len + df.value_len);
            assert_ptr_equal(ef.value, eb + ef.name_len);
        }
        free(out);
    }
    print_message("  %zu random fields through encoder and decoder\n", fields_checked);
    loom_hpack_list_free(&l);
    loom_hpack_decoder_free(d);
    loom_hpack_encoder_free(enc);
}

/* loom_hpack_*_table_get(): the entries newest first, copied out. */
static void test_table_get(void **state)
{
    (void)state;
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    hlist l = {0};
    loom_hpack_error e;
    loom_hpack_field f;
    uint8_t buf[64];
    assert_int_equal(loom_hpack_decoder_table_get(d, 1, &f, buf, sizeof(buf)), LOOM_ERR_INVALID);
    /* RFC 7541 C.3: the table after the third request */
    assert_int_equal(decode_hex(d, "828684410f7777772e6578616d706c652e636f6d", &l, &e), 0);
    assert_int_equal(decode_hex(d, "828684be58086e6f2d6361636865", &l, &e), 0);
    assert_int_equal(
        decode_hex(d, "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565", &l, &e), 0);
    static const char *const want[3][2] = {{"custom-key", "custom-value"},
                                           {"cache-control", "no-cache"},
                                           {":authority", "www.example.com"}};
    assert_int_equal(loom_hpack_decoder_table_len(d), 3);
    assert_int_equal(loom_hpack_decoder_table_size(d), 164);
    for (size_t i = 1; i <= 3; i++) {
        memset(buf, 0, sizeof(buf));
        assert_int_equal(loom_hpack_decoder_table_get(d, i, &f, buf, sizeof(buf)), 0);
        assert_true(hfield_is(&f, want[i - 1][0], want[i - 1][1]));
        assert_ptr_equal(f.name, buf);
        assert_int_equal(f.flags, 0);
    }
    assert_int_equal(loom_hpack_decoder_table_get(d, 0, &f, buf, sizeof(buf)), LOOM_ERR_INVALID);
    assert_int_equal(loom_hpack_decoder_table_get(d, 4, &f, buf, sizeof(buf)), LOOM_ERR_INVALID);
    assert_null(f.name);
    /* too small: the lengths, and nothing copied */
    memset(buf, 'z', sizeof(buf));
    assert_int_equal(loom_hpack_decoder_table_get(d, 3, &f, buf, 24), LOOM_ERR_BUFFER);
    assert_int_equal(f.name_len, 10);
    assert_int_equal(f.value_len, 15);
    assert_null(f.name);
    assert_int_equal(buf[0], 'z');
    assert_int_equal(loom_hpack_decoder_table_get(d, 3, &f, buf, 25), 0);
    assert_true(hfield_is(&f, ":authority", "www.example.com"));
    /* an empty name and value: no octets to copy, no buffer needed */
    assert_int_equal(decode_hex(d, "400000", &l, &e), 0);
    assert_int_equal(loom_hpack_decoder_table_get(d, 1, &f, NULL, 0), 0);
    assert_int_equal(f.name_len + f.value_len, 0);
    assert_int_equal(loom_hpack_decoder_table_get(d, 4, &f, buf, sizeof(buf)), 0);
    assert_true(hfield_is(&f, ":authority", "www.example.com"));
    loom_hpack_list_free(&l);
    loom_hpack_decoder_free(d);

    /* the encoder's table: the same entries, and its limit */
    loom_hpack_encoder *enc = loom_hpack_encoder_new(NULL);
    assert_int_equal(loom_hpack_encoder_table_max(enc), 4096);
    assert_int_equal(loom_hpack_encoder_table_get(enc, 1, &f, buf, sizeof(buf)), LOOM_ERR_INVALID);
    loom_hpack_field fs[2] = {fld("x-one", "1", LOOM_HPACK_INDEX),
                              fld("x-two", "22", LOOM_HPACK_INDEX)};
    uint8_t *out;
    assert_true(encode(enc, fs, 2, &out) > 0);
    free(out);
    assert_int_equal(loom_hpack_encoder_table_len(enc), 2);
    assert_int_equal(loom_hpack_encoder_table_get(enc, 1, &f, buf, sizeof(buf)), 0);
    assert_true(hfield_is(&f, "x-two", "22"));
    assert_int_equal(loom_hpack_encoder_table_get(enc, 2, &f, buf, sizeof(buf)), 0);
    assert_true(hfield_is(&f, "x-one", "1"));
    assert_int_equal(loom_hpack_encoder_set_max_table_size(enc, 100), 0);
    assert_int_equal(loom_hpack_encoder_table_max(enc), 100);
    assert_int_equal(loom_hpack_encoder_table_len(enc), 2);
    /* x-one (38 octets) and x-two (39): the oldest goes */
    assert_int_equal(loom_hpack_encoder_set_table_cap(enc, 39), 0);
    assert_int_equal(loom_hpack_encoder_table_max(enc), 39);
    assert_int_equal(loom_hpack_encoder_table_len(enc), 1);
    assert_int_equal(loom_hpack_encoder_table_get(enc, 1, &f, buf, sizeof(buf)), 0);
    assert_true(hfield_is(&f, "x-two", "22"));
    assert_int_equal(loom_hpack_encoder_table_get(enc, 2, &f, buf, sizeof(buf)), LOOM_ERR_INVALID);
    loom_hpack_encoder_free(enc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_rfc_examples),
        cmocka_unit_test(test_int_round_trip_every_prefix),
        cmocka_unit_test(test_int_max_and_overflow),
        cmocka_unit_test(test_int_truncated),
        cmocka_unit_test(test_huffman_vectors),
        cmocka_unit_test(test_huffman_all_256_bytes),
        cmocka_unit_test(test_huffman_random_strings),
        cmocka_unit_test(test_huffman_bad_input),
        cmocka_unit_test(test_static_table),
        cmocka_unit_test(test_static_table_out_of_range),
        cmocka_unit_test(test_dynamic_table_accounting),
        cmocka_unit_test(test_dynamic_name_evicted_by_its_own_insert),
        cmocka_unit_test(test_indexed_then_evicted_in_block),
        cmocka_unit_test(test_indexed_wrapped_and_at_end),
        cmocka_unit_test(test_list_octets_grow_in_block),
        cmocka_unit_test(test_size_update_rules),
        cmocka_unit_test(test_decoder_created_small),
        cmocka_unit_test(test_never_indexed_reported),
        cmocka_unit_test(test_checked_and_where_strings_live),
        cmocka_unit_test(test_list_size_limit),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_decoder_rejects),
        cmocka_unit_test(test_decoder_error_offsets),
        cmocka_unit_test(test_size_update_missing_after_lowering),
        cmocka_unit_test(test_hpack_bomb),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_encoder_never_indexed_kept),
        cmocka_unit_test(test_encoder_no_index),
        cmocka_unit_test(test_encoder_size_update),
        cmocka_unit_test(test_encoder_repeated_cookie),
        cmocka_unit_test(test_encoder_volatile_indexed_when_repeated),
        cmocka_unit_test(test_encoder_memo),
        cmocka_unit_test(test_decoder_huffman_memo),
        cmocka_unit_test(test_encoder_keyed),
        cmocka_unit_test(test_encoder_memo_after_eviction),
        cmocka_unit_test(test_encoder_buffer_too_small),
        cmocka_unit_test(test_encoder_decoder_in_step),
        cmocka_unit_test(test_table_get),
        cmocka_unit_test(test_size_update_smallest_first),
        cmocka_unit_test(test_skipped_string_still_checked),
        cmocka_unit_test(test_list_exactly_at_limit),
    };
    return cmocka_run_group_tests(tests, NULL, free_last_block);
}
