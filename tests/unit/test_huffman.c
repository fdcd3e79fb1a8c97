/* The HPACK Huffman coder (RFC 7541 §5.2, Appendix B) through
 * <loom/hpack_lowlevel.h>: every symbol's code checked against the shape of
 * Appendix B (a canonical code with the RFC's length per symbol count, EOS
 * the 30 ones), every symbol alone and every pair of symbols against a
 * bit-by-bit encoder written here, random round trips, the padding rules,
 * short output buffers, and input and output placed against a PROT_NONE
 * page so that any read or write past them crashes. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "loom/hpack_lowlevel.h"

/* ---- the codes, as the encoder writes them ---- */

static uint32_t code[257];
static int clen[257];
static int of_len[31][257], nof_len[31]; /* the symbols of each code length */

/* A bit writer: bits in order, most significant first. */
typedef struct {
    uint8_t b[8192];
    size_t nbits;
} bitbuf;

static void put(bitbuf *w, uint32_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        size_t k = w->nbits++;
        if (k % 8 == 0) w->b[k / 8] = 0;
        if ((v >> i) & 1) w->b[k / 8] |= (uint8_t)(0x80 >> (k % 8));
    }
}

/* Pads to an octet with `pad` (the low bits of it, MSB first). */
static size_t finish(bitbuf *w, uint32_t pad)
{
    int k = (int)((8 - w->nbits % 8) % 8);
    put(w, pad & ((1u << k) - 1), k);
    return w->nbits / 8;
}

/* The reference encoder: the codes concatenated, padded with ones. */
static size_t ref_encode(const uint8_t *s, size_t n, uint8_t *out)
{
    static bitbuf w;
    w.nbits = 0;
    for (size_t i = 0; i < n; i++)
        put(&w, code[s[i]], clen[s[i]]);
    size_t len = finish(&w, 0xff);
    memcpy(out, w.b, len);
    return len;
}

/* The reference decoder, bit by bit against the codes: the count decoded,
 * or -1 for what §5.2 forbids (an EOS, padding over 7 bits or not all
 * ones). */
static int ref_decode(const uint8_t *in, size_t n, uint8_t *out)
{
    uint32_t acc = 0;
    int bits = 0, o = 0;
    for (size_t i = 0; i < n * 8; i++) {
        acc = acc << 1 | ((in[i / 8] >> (7 - i % 8)) & 1);
        bits++;
        int c = -1;
        for (int k = 0; k < nof_len[bits] && c < 0; k++)
            if (code[of_len[bits][k]] == acc) c = of_len[bits][k];
        if (c < 0) continue;
        if (c == 256) return -1;
        out[o++] = (uint8_t)c;
        acc = 0;
        bits = 0;
    }
    if (bits > 7 || acc != (1u << bits) - 1) return -1;
    return o;
}

/* lib against the reference on one input. */
static void same_as_ref(const uint8_t *in, size_t n, const char *what, int sym)
{
    uint8_t want[64], got[64];
    int w = ref_decode(in, n, want);
    int g = loom_huffman_decode(in, n, got, sizeof(got));
    if (w < 0 ? g != LOOM_ERR_COMPRESSION : g != w || memcmp(got, want, (size_t)w))
        fail_msg("%s (symbol %d, %zu octets): decoded %d, reference %d", what, sym, n, g, w);
}

/* Eight copies of a symbol fill exactly its code length in octets, with no
 * padding: the code is the first clen bits. */
static int derive_codes(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        uint8_t s[8], out[64];
        memset(s, c, 8);
        size_t len = loom_huffman_encoded_len(s, 8);
        int n = loom_huffman_encode(s, 8, out, sizeof(out));
        if (n <= 0 || (size_t)n != len || len < 5 || len > 30) return -1;
        clen[c] = n;
        uint32_t v = 0;
        for (int i = 0; i < n; i++)
            v = v << 1 | ((out[i / 8] >> (7 - i % 8)) & 1);
        code[c] = v;
    }
    clen[256] = 30;
    code[256] = 0x3fffffff;
    for (int c = 0; c < 257; c++)
        of_len[clen[c]][nof_len[clen[c]]++] = c;
    return 0;
}

/* Appendix B: how many symbols have each code length (the EOS apart). */
static void test_code_lengths(void **state)
{
    (void)state;
    static const int per_len[31] = {
        [5] = 10,  [6] = 26,  [7] = 32, [8] = 6,   [10] = 5,  [11] = 3,  [12] = 2,
        [13] = 6,  [14] = 2,  [15] = 3, [19] = 3,  [20] = 8,  [21] = 13, [22] = 26,
        [23] = 29, [24] = 12, [25] = 4, [26] = 15, [27] = 19, [28] = 29, [30] = 3,
    };
    int got[31] = {0};
    uint64_t total = 0;
    for (int c = 0; c < 256; c++) {
        got[clen[c]]++;
        total += (uint64_t)clen[c];
    }
    for (int l = 0; l <= 30; l++)
        if (got[l] != per_len[l])
            fail_msg("%d symbols have %d-bit codes, Appendix B has %d", got[l], l, per_len[l]);
    assert_int_equal(total, 4658);

    /* the ten 5-bit symbols, and a few more codes of Appendix B */
    const struct {
        int sym;
        uint32_t code;
        int len;
    } known[] = {{'0', 0x0, 5},        {'1', 0x1, 5},        {'2', 0x2, 5},
                 {'a', 0x3, 5},        {'c', 0x4, 5},        {'e', 0x5, 5},
                 {'i', 0x6, 5},        {'o', 0x7, 5},        {'s', 0x8, 5},
                 {'t', 0x9, 5},        {' ', 0x14, 6},       {'%', 0x15, 6},
                 {0, 0x1ff8, 13},      {255, 0x3ffffee, 26}, {10, 0x3ffffffc, 30},
                 {13, 0x3ffffffd, 30}, {22, 0x3ffffffe, 30}};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        int s = known[i].sym;
        if (clen[s] != known[i].len || code[s] != known[i].code)
            fail_msg("symbol %d: code %x/%d, Appendix B %x/%d", s, code[s], clen[s], known[i].code,
                     known[i].len);
    }
}

static int by_len_then_symbol(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    if (clen[x] != clen[y]) return clen[x] - clen[y];
    return x - y;
}

/* The code is canonical (each next code is the previous plus one, shifted
 * to the next length, symbols in order within a length) and complete (the
 * Kraft sum is exactly 1): so it is prefix-free and the EOS, last, is the
 * 30 ones. */
static void test_code_canonical(void **state)
{
    (void)state;
    int order[257];
    for (int i = 0; i < 257; i++)
        order[i] = i;
    qsort(order, 257, sizeof(order[0]), by_len_then_symbol);
    assert_int_equal(order[256], 256); /* the EOS is last */
    uint32_t next = 0;
    uint64_t kraft = 0; /* in units of 2^-30 */
    for (int i = 0; i < 257; i++) {
        int s = order[i];
        if (i > 0) next = (next + 1) << (clen[s] - clen[order[i - 1]]);
        if (code[s] != next)
            fail_msg("symbol %d: code %x, canonical order wants %x", s, code[s], next);
        kraft += 1ull << (30 - clen[s]);
    }
    assert_int_equal(kraft, 1ull << 30);
}

/* Each symbol alone: the encoding is its code padded with ones, and it
 * decodes back, through both of the decoder's loops (room for the fast
 * path, and exactly the output size). */
static void test_each_symbol(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        uint8_t s = (uint8_t)c, want[8], out[8], back[32];
        size_t wn = ref_encode(&s, 1, want);
        assert_int_equal(wn, (size_t)(clen[c] + 7) / 8);
        assert_int_equal(loom_huffman_encoded_len(&s, 1), wn);
        assert_int_equal(loom_huffman_encode(&s, 1, out, sizeof(out)), (int)wn);
        assert_memory_equal(out, want, wn);
        assert_int_equal(loom_huffman_decode(want, wn, back, sizeof(back)), 1);
        assert_int_equal(back[0], c);
        assert_int_equal(loom_huffman_decode(want, wn, back, 1), 1);
        assert_int_equal(back[0], c);
    }
}

/* Every pair of symbols: 65536 strings, code boundaries at every bit. */
static void test_every_pair(void **state)
{
    (void)state;
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b++) {
            uint8_t s[2] = {(uint8_t)a, (uint8_t)b}, want[8], out[8], back[32];
            size_t wn = ref_encode(s, 2, want);
            assert_int_equal(loom_huffman_encoded_len(s, 2), wn);
            int n = loom_huffman_encode(s, 2, out, sizeof(out));
            if (n != (int)wn || memcmp(out, want, wn)) fail_msg("pair %d %d encoded wrong", a, b);
            if (loom_huffman_decode(want, wn, back, sizeof(back)) != 2 || back[0] != a ||
                back[1] != b)
                fail_msg("pair %d %d decoded wrong (fast path)", a, b);
            if (loom_huffman_decode(want, wn, back, 2) != 2 || back[0] != a || back[1] != b)
                fail_msg("pair %d %d decoded wrong (exact room)", a, b);
        }
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static void test_random_round_trips(void **state)
{
    (void)state;
    static uint8_t s[1200], want[4600], out[4600], back[8000];
    for (int iter = 0; iter < 4000; iter++) {
        size_t len = rnd() % 1200;
        uint32_t mode = rnd() % 4;
        for (size_t i = 0; i < len; i++) {
            uint32_t r = rnd();
            /* any octet; printable; the 5-bit symbols (longest output per
             * input octet); the 30-bit ones */
            s[i] = mode == 0   ? (uint8_t)r
                   : mode == 1 ? (uint8_t)(32 + r % 95)
                   : mode == 2 ? (uint8_t) "012acei ost"[r % 11]
                               : (uint8_t) "\n\r\x16"[r % 3];
        }
        size_t wn = ref_encode(s, len, want);
        assert_int_equal(loom_huffman_encoded_len(s, len), wn);
        int n = loom_huffman_encode(s, len, out, sizeof(out));
        assert_int_equal(n, (int)wn);
        assert_memory_equal(out, want, wn);
        assert_int_equal(loom_huffman_decode(out, wn, back, sizeof(back)), (int)len);
        assert_memory_equal(back, s, len);
        /* the header's promise: never more than len * 8 / 5 octets */
        assert_true(len <= wn * 8 / 5);
        assert_int_equal(loom_huffman_decode(out, wn, back, len), (int)len);
        assert_memory_equal(back, s, len);
    }
}

/* RFC 7541 §5.2: padding is the most significant bits of EOS (ones), at
 * most 7 bits; an EOS in the string is an error. */
static void test_padding_rules(void **state)
{
    (void)state;
    uint8_t out[64];
    assert_int_equal(loom_huffman_decode((const uint8_t *)"", 0, out, sizeof(out)), 0);
    for (int c = 0; c < 256; c++) {
        bitbuf w = {.nbits = 0};
        put(&w, code[c], clen[c]);
        int pad = (8 - clen[c] % 8) % 8;
        /* every padding bit turned to zero in turn: never taken as the
         * symbol and padding (the bits may still spell another symbol:
         * '!' then 011111 is "!9") */
        for (int j = 0; j < pad; j++) {
            bitbuf v = w;
            size_t n = finish(&v, ~(1u << (pad - 1 - j)));
            uint8_t o[8];
            int got = loom_huffman_decode(v.b, n, o, sizeof(o));
            assert_false(got == 1 && o[0] == c);
            same_as_ref(v.b, n, "padding bit zero", c);
        }
        /* a whole octet of ones after the padding: more than 7 bits */
        bitbuf v = w;
        size_t n = finish(&v, 0xff);
        v.b[n++] = 0xff;
        if (loom_huffman_decode(v.b, n, out, sizeof(out)) != LOOM_ERR_COMPRESSION)
            fail_msg("symbol %d with %d bits of padding was taken", c, pad + 8);
        /* the EOS before the symbol, and after it */
        v.nbits = 0;
        put(&v, code[256], 30);
        put(&v, code[c], clen[c]);
        n = finish(&v, 0xff);
        if (loom_huffman_decode(v.b, n, out, sizeof(out)) != LOOM_ERR_COMPRESSION)
            fail_msg("EOS then symbol %d was taken", c);
        v = w;
        put(&v, code[256], 30);
        n = finish(&v, 0xff);
        if (loom_huffman_decode(v.b, n, out, sizeof(out)) != LOOM_ERR_COMPRESSION)
            fail_msg("symbol %d then EOS was taken", c);
        /* the last octet dropped or zeroed, and padding with zeros */
        v = w;
        n = finish(&v, 0);
        same_as_ref(v.b, n, "zero padding", c);
        if (n > 1) same_as_ref(v.b, n - 1, "last octet dropped", c);
        v.b[n - 1] = 0;
        same_as_ref(v.b, n, "last octet zero", c);
    }
    /* a string of nothing but padding */
    const uint8_t ones[] = {0xff};
    assert_int_equal(loom_huffman_decode(ones, 1, out, sizeof(out)), LOOM_ERR_COMPRESSION);
    const uint8_t eos[] = {0xff, 0xff, 0xff, 0xff}; /* EOS and 2 bits of padding */
    assert_int_equal(loom_huffman_decode(eos, 4, out, sizeof(out)), LOOM_ERR_COMPRESSION);
    /* 7 bits of padding are fine (a 25-bit code) */
    int c25 = -1;
    for (int c = 0; c < 256 && c25 < 0; c++)
        if (clen[c] == 25) c25 = c;
    assert_true(c25 >= 0);
    uint8_t s = (uint8_t)c25, enc[8];
    size_t n = ref_encode(&s, 1, enc);
    assert_int_equal(n, 4);
    assert_int_equal(enc[3] & 0x7f, 0x7f);
    assert_int_equal(loom_huffman_decode(enc, n, out, sizeof(out)), 1);
    assert_int_equal(out[0], c25);
}

/* Arbitrary octets: the decoder agrees with the reference on what is a
 * valid string and what it says. */
static void test_random_octets(void **state)
{
    (void)state;
    for (int iter = 0; iter < 200000; iter++) {
        uint8_t in[8];
        size_t n = 1 + rnd() % 8;
        for (size_t i = 0; i < n; i++) {
            uint32_t r = rnd();
            /* mostly ones: long codes, padding and EOS come up often */
            in[i] = r & 0x100 ? (uint8_t)r : (uint8_t)(r | 0xf0 | (r >> 16));
        }
        same_as_ref(in, n, "random octets", -1);
    }
}

/* Too little room: LOOM_ERR_BUFFER, and nothing written past the room
 * (each buffer is its own allocation of exactly that size, for ASan). */
static void test_short_output(void **state)
{
    (void)state;
    for (int iter = 0; iter < 300; iter++) {
        size_t len = iter < 40 ? (size_t)iter : rnd() % 300;
        uint8_t s[300], enc[1200];
        for (size_t i = 0; i < len; i++)
            s[i] = (uint8_t)rnd();
        size_t wn = ref_encode(s, len, enc);
        for (size_t cap = 0; cap <= wn; cap++) {
            uint8_t *o = malloc(cap ? cap : 1);
            int n = loom_huffman_encode(s, len, o, cap);
            if (cap < wn)
                assert_int_equal(n, LOOM_ERR_BUFFER);
            else
                assert_int_equal(n, (int)wn);
            free(o);
        }
        for (size_t cap = 0; cap <= len; cap++) {
            uint8_t *o = malloc(cap ? cap : 1);
            int n = loom_huffman_decode(enc, wn, o, cap);
            if (cap < len) {
                assert_int_equal(n, LOOM_ERR_BUFFER);
            } else {
                assert_int_equal(n, (int)len);
                assert_memory_equal(o, s, len);
            }
            free(o);
        }
    }
}

/* ---- against a guard page ---- */

static uint8_t *pages;
static size_t page;

static int map_guard(void **state)
{
    (void)state;
    page = (size_t)sysconf(_SC_PAGESIZE);
    pages = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED) return -1;
    return mprotect(pages + page, page, PROT_NONE);
}

static int unmap_guard(void **state)
{
    (void)state;
    return munmap(pages, 2 * page);
}

/* n octets ending where the guard page begins */
static uint8_t *at_end(size_t n)
{
    return pages + page - n;
}

static void test_guard_page(void **state)
{
    (void)state;
    static uint8_t s[1024], enc[4096], back[2048];
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = iter < 512 ? (size_t)iter % 256 : rnd() % 1024;
        for (size_t i = 0; i < len; i++)
            s[i] = iter < 256 ? (uint8_t)(iter + i) : (uint8_t)rnd();
        size_t wn = ref_encode(s, len, enc);

        /* the input at the very end of the page */
        uint8_t *in = at_end(wn);
        memcpy(in, enc, wn);
        assert_int_equal(loom_huffman_decode(in, wn, back, sizeof(back)), (int)len);
        assert_memory_equal(back, s, len);
        assert_int_equal(loom_huffman_decode(in, wn, back, len), (int)len);

        /* the output at the very end: exactly the room, and the fast path's
         * room */
        if (len <= page / 2) {
            uint8_t *o = at_end(len);
            assert_int_equal(loom_huffman_decode(enc, wn, o, len), (int)len);
            assert_memory_equal(o, s, len);
            size_t fast = wn / 5 * 8 + 10;
            if (fast <= page / 2) {
                o = at_end(fast);
                assert_int_equal(loom_huffman_decode(enc, wn, o, fast), (int)len);
                assert_memory_equal(o, s, len);
            }
        }

        /* encoding: the source at the end, then the output at the end */
        uint8_t *src = at_end(len);
        memcpy(src, s, len);
        assert_int_equal(loom_huffman_encoded_len(src, len), wn);
        uint8_t out[4096];
        assert_int_equal(loom_huffman_encode(src, len, out, sizeof(out)), (int)wn);
        assert_memory_equal(out, enc, wn);
        if (wn <= page / 2) {
            uint8_t *o = at_end(wn);
            assert_int_equal(loom_huffman_encode(s, len, o, wn), (int)wn);
            assert_memory_equal(o, enc, wn);
        }

        /* a malformed string at the end: refused, nothing read past it */
        if (wn > 0) {
            in = at_end(wn + 1);
            memcpy(in, enc, wn);
            in[wn] = 0xff;
            assert_int_equal(loom_huffman_decode(in, wn + 1, back, sizeof(back)),
                             LOOM_ERR_COMPRESSION);
        }
    }
    /* a single octet of input at the end, every value */
    for (int v = 0; v < 256; v++) {
        uint8_t *in = at_end(1);
        *in = (uint8_t)v;
        int n = loom_huffman_decode(in, 1, back, sizeof(back));
        assert_true(n == LOOM_ERR_COMPRESSION || n == 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_code_lengths),
        cmocka_unit_test(test_code_canonical),
        cmocka_unit_test(test_each_symbol),
        cmocka_unit_test(test_every_pair),
        cmocka_unit_test(test_random_round_trips),
        cmocka_unit_test(test_padding_rules),
        cmocka_unit_test(test_random_octets),
        cmocka_unit_test(test_short_output),
        cmocka_unit_test_setup_teardown(test_guard_page, map_guard, unmap_guard),
    };
    return cmocka_run_group_tests(tests, derive_codes, NULL);
}
