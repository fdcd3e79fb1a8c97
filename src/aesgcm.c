/* AES-GCM sealing with VAES and VPCLMULQDQ on AVX-512: see aesgcm.h.
 *
 * GHASH works on byte-reflected blocks with the carry-less multiplication
 * and reduction of Gueron and Kounavis ("Intel Carry-Less Multiplication
 * Instruction and its Usage for Computing the GCM Mode", rev. 2.02,
 * figure 5); sixteen blocks are multiplied by H^16..H^1 and summed before
 * one reduction (their "aggregated reduction"). The counter blocks are
 * kept reflected too, so that one 32-bit add steps them (SP 800-38D
 * §6.2, inc32). Checked against OpenSSL by unit_aesgcm. */
#include "aesgcm.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__x86_64__) || defined(LOOM_NO_AESGCM)
/* Not x86-64 (or built with -DLOOM_NO_AESGCM): OpenSSL's AES-GCM inside
 * our records (tlsrec.c). */
int aesgcm_available(void)
{
    return 0;
}

void aesgcm_init(aesgcm_key *k, const uint8_t *key, size_t keylen)
{
    (void)k;
    (void)key;
    (void)keylen;
    abort(); /* never called: aesgcm_available() says no */
}

void aesgcm_sealv(const aesgcm_key *k, const uint8_t iv[12], const uint8_t *aad, size_t aadlen,
                  const struct iovec *in, size_t n, uint8_t last, uint8_t *out)
{
    (void)k, (void)iv, (void)aad, (void)aadlen, (void)in, (void)n, (void)last, (void)out;
    abort();
}
#else
#include <cpuid.h>
#include <immintrin.h>

#define TGT                                                                                        \
    __attribute__((target("aes,pclmul,ssse3,sse4.1,avx,avx2,avx512f,avx512bw,avx512vl,vaes,"       \
                          "vpclmulqdq")))

/* CPUID leaf 1 ECX: PCLMULQDQ 1, AES 25, OSXSAVE 27; leaf 7 EBX: AVX512F 16,
 * AVX512BW 30, AVX512VL 31; ECX: VAES 9, VPCLMULQDQ 10; and the OS saves
 * the AVX-512 state (XCR0 bits 1, 2, 5, 6, 7). */
static int cpu_has(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if ((c & (1u << 1 | 1u << 25 | 1u << 27)) != (1u << 1 | 1u << 25 | 1u << 27)) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xe6) != 0xe6) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    unsigned ebx = 1u << 16 | 1u << 30 | 1u << 31, ecx = 1u << 9 | 1u << 10;
    return (b & ebx) == ebx && (c & ecx) == ecx;
}

int aesgcm_available(void)
{
    static atomic_int known = -1;
    int k = atomic_load_explicit(&known, memory_order_relaxed);
    if (k >= 0) return k;
    const char *env = getenv("LOOM_AESGCM");
    int ok = !(env && !strcmp(env, "openssl")) && cpu_has();
    atomic_store_explicit(&known, ok, memory_order_relaxed); /* every thread finds the same */
    return ok;
}

TGT static inline __m128i bswap(__m128i x)
{
    return _mm_shuffle_epi8(x, _mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
}

/* [hi:lo], a 256-bit carry-less product of reflected operands, shifted
 * left one bit (the reflection) and reduced modulo x^128 + x^7 + x^2 + x
 * + 1. */
TGT static inline __m128i reduce(__m128i lo, __m128i hi)
{
    __m128i t7 = _mm_srli_epi32(lo, 31), t8 = _mm_srli_epi32(hi, 31);
    lo = _mm_slli_epi32(lo, 1);
    hi = _mm_slli_epi32(hi, 1);
    __m128i t9 = _mm_srli_si128(t7, 12);
    t8 = _mm_slli_si128(t8, 4);
    t7 = _mm_slli_si128(t7, 4);
    lo = _mm_or_si128(lo, t7);
    hi = _mm_or_si128(_mm_or_si128(hi, t8), t9);

    t7 = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi32(lo, 31), _mm_slli_epi32(lo, 30)),
                       _mm_slli_epi32(lo, 25));
    t8 = _mm_srli_si128(t7, 4);
    t7 = _mm_slli_si128(t7, 12);
    lo = _mm_xor_si128(lo, t7);
    __m128i t2 = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi32(lo, 1), _mm_srli_epi32(lo, 2)),
                               _mm_xor_si128(_mm_srli_epi32(lo, 7), t8));
    lo = _mm_xor_si128(lo, t2);
    return _mm_xor_si128(hi, lo);
}

/* The product's halves and middle folded together, then reduced. */
TGT static inline __m128i fold(__m128i lo, __m128i hi, __m128i mid)
{
    lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
    hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
    return reduce(lo, hi);
}

TGT static inline __m128i gfmul(__m128i a, __m128i b)
{
    __m128i lo = _mm_clmulepi64_si128(a, b, 0x00), hi = _mm_clmulepi64_si128(a, b, 0x11);
    __m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x10), _mm_clmulepi64_si128(a, b, 0x01));
    return fold(lo, hi, mid);
}

TGT static inline __m128i rk_at(const aesgcm_key *k, int r)
{
    return _mm_loadu_si128((const __m128i *)k->rk[r]);
}

TGT static inline __m128i aes_block(const aesgcm_key *k, __m128i x)
{
    x = _mm_xor_si128(x, rk_at(k, 0));
    for (int r = 1; r < k->rounds; r++)
        x = _mm_aesenc_si128(x, rk_at(k, r));
    return _mm_aesenclast_si128(x, rk_at(k, k->rounds));
}

/* FIPS 197 §5.2 key expansion with AESKEYGENASSIST (the white paper's
 * "AES-NI" figures 24 and 26). */
TGT static inline __m128i step128(__m128i key, __m128i kg)
{
    kg = _mm_shuffle_epi32(kg, 0xff);
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    return _mm_xor_si128(key, kg);
}

TGT static inline __m128i step256b(__m128i t1, __m128i t3)
{
    __m128i t2 = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(t1, 0x00), 0xaa);
    t3 = _mm_xor_si128(t3, _mm_slli_si128(t3, 4));
    t3 = _mm_xor_si128(t3, _mm_slli_si128(t3, 4));
    t3 = _mm_xor_si128(t3, _mm_slli_si128(t3, 4));
    return _mm_xor_si128(t3, t2);
}

TGT static void expand(aesgcm_key *k, const uint8_t *key, size_t keylen)
{
    __m128i rk[15];
    rk[0] = _mm_loadu_si128((const __m128i *)key);
    if (keylen == 16) {
        k->rounds = 10;
#define S(i, rcon) rk[i] = step128(rk[i - 1], _mm_aeskeygenassist_si128(rk[i - 1], rcon))
        S(1, 0x01);
        S(2, 0x02);
        S(3, 0x04);
        S(4, 0x08);
        S(5, 0x10);
        S(6, 0x20);
        S(7, 0x40);
        S(8, 0x80);
        S(9, 0x1b);
        S(10, 0x36);
#undef S
    } else {
        k->rounds = 14;
        rk[1] = _mm_loadu_si128((const __m128i *)(key + 16));
#define S(i, rcon) rk[i] = step128(rk[i - 2], _mm_aeskeygenassist_si128(rk[i - 1], rcon))
#define T(i)       rk[i] = step256b(rk[i - 1], rk[i - 2])
        S(2, 0x01);
        T(3);
        S(4, 0x02);
        T(5);
        S(6, 0x04);
        T(7);
        S(8, 0x08);
        T(9);
        S(10, 0x10);
        T(11);
        S(12, 0x20);
        T(13);
        S(14, 0x40);
#undef T
#undef S
    }
    for (int i = 0; i <= k->rounds; i++)
        _mm_storeu_si128((__m128i *)k->rk[i], rk[i]);
}

TGT void aesgcm_init(aesgcm_key *k, const uint8_t *key, size_t keylen)
{
    expand(k, key, keylen);
    __m128i h = bswap(aes_block(k, _mm_setzero_si128())), p = h;
    _mm_storeu_si128((__m128i *)k->hpow[15], h); /* hpow[i] = H^(16-i) */
    for (int i = 14; i >= 0; i--) {
        p = gfmul(p, h);
        _mm_storeu_si128((__m128i *)k->hpow[i], p);
    }
}

TGT static inline __m128i lanes_xor(__m512i z)
{
    return _mm_xor_si128(
        _mm_xor_si128(_mm512_extracti32x4_epi32(z, 0), _mm512_extracti32x4_epi32(z, 1)),
        _mm_xor_si128(_mm512_extracti32x4_epi32(z, 2), _mm512_extracti32x4_epi32(z, 3)));
}

/* The plaintext's pieces, read in order: a run that lies in one piece is
 * read in place, one that spans pieces is gathered into tmp first (at
 * most 256 octets at a piece's end). */
typedef struct {
    const struct iovec *v;
    const uint8_t *p;
    size_t avail;
} reader;

static inline const uint8_t *take(reader *r, size_t len, uint8_t *tmp)
{
    if (r->avail >= len) {
        const uint8_t *q = r->p;
        r->p += len;
        r->avail -= len;
        return q;
    }
    for (size_t got = 0; got < len;) {
        while (!r->avail) { /* the caller asks for no more than the pieces hold */
            r->v++;
            r->p = r->v->iov_base;
            r->avail = r->v->iov_len;
        }
        size_t k = len - got < r->avail ? len - got : r->avail;
        memcpy(tmp + got, r->p, k);
        got += k;
        r->p += k;
        r->avail -= k;
    }
    return tmp;
}

TGT void aesgcm_sealv(const aesgcm_key *k, const uint8_t iv[12], const uint8_t *aad, size_t aadlen,
                      const struct iovec *in, size_t n, uint8_t last, uint8_t *out)
{
    reader rd = {in, in->iov_base, in->iov_len};
    _Alignas(64) uint8_t tmp[256];
    const __m128i h1 = _mm_loadu_si128((const __m128i *)k->hpow[15]);
    __m128i x = _mm_setzero_si128();
    if (aadlen) {
        uint8_t b[16] = {0};
        memcpy(b, aad, aadlen > 16 ? 16 : aadlen);
        x = gfmul(bswap(_mm_loadu_si128((const __m128i *)b)), h1);
    }
    uint8_t j[16];
    memcpy(j, iv, 12);
    j[12] = j[13] = j[14] = 0;
    j[15] = 1;
    const __m128i j0 = _mm_loadu_si128((const __m128i *)j);
    /* the first data block's counter is J0 + 1 (§7.1) */
    __m128i ctr = _mm_add_epi32(bswap(j0), _mm_setr_epi32(1, 0, 0, 0));

    size_t done = 0;
    if (n >= 256) {
        const __m512i swap = _mm512_broadcast_i32x4(
            _mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
        const __m512i four = _mm512_broadcast_i32x4(_mm_setr_epi32(4, 0, 0, 0));
        __m512i rkz[15];
        for (int r = 0; r <= k->rounds; r++)
            rkz[r] = _mm512_broadcast_i32x4(rk_at(k, r));
        const __m512i h0 = _mm512_loadu_si512(k->hpow[0]), hz1 = _mm512_loadu_si512(k->hpow[4]),
                      hz2 = _mm512_loadu_si512(k->hpow[8]), hz3 = _mm512_loadu_si512(k->hpow[12]);
        __m512i cz =
            _mm512_add_epi32(_mm512_broadcast_i32x4(ctr),
                             _mm512_set_epi32(0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0));
        for (; n - done >= 256; done += 256) {
            __m512i c0 = cz, c1 = _mm512_add_epi32(c0, four), c2 = _mm512_add_epi32(c1, four),
                    c3 = _mm512_add_epi32(c2, four);
            cz = _mm512_add_epi32(c3, four);
            __m512i a0 = _mm512_xor_si512(_mm512_shuffle_epi8(c0, swap), rkz[0]);
            __m512i a1 = _mm512_xor_si512(_mm512_shuffle_epi8(c1, swap), rkz[0]);
            __m512i a2 = _mm512_xor_si512(_mm512_shuffle_epi8(c2, swap), rkz[0]);
            __m512i a3 = _mm512_xor_si512(_mm512_shuffle_epi8(c3, swap), rkz[0]);
            for (int r = 1; r < k->rounds; r++) {
                a0 = _mm512_aesenc_epi128(a0, rkz[r]);
                a1 = _mm512_aesenc_epi128(a1, rkz[r]);
                a2 = _mm512_aesenc_epi128(a2, rkz[r]);
                a3 = _mm512_aesenc_epi128(a3, rkz[r]);
            }
            a0 = _mm512_aesenclast_epi128(a0, rkz[k->rounds]);
            a1 = _mm512_aesenclast_epi128(a1, rkz[k->rounds]);
            a2 = _mm512_aesenclast_epi128(a2, rkz[k->rounds]);
            a3 = _mm512_aesenclast_epi128(a3, rkz[k->rounds]);
            const uint8_t *ip = take(&rd, 256, tmp);
            uint8_t *op = out + done;
            a0 = _mm512_xor_si512(a0, _mm512_loadu_si512(ip));
            a1 = _mm512_xor_si512(a1, _mm512_loadu_si512(ip + 64));
            a2 = _mm512_xor_si512(a2, _mm512_loadu_si512(ip + 128));
            a3 = _mm512_xor_si512(a3, _mm512_loadu_si512(ip + 192));
            _mm512_storeu_si512(op, a0);
            _mm512_storeu_si512(op + 64, a1);
            _mm512_storeu_si512(op + 128, a2);
            _mm512_storeu_si512(op + 192, a3);
            /* GHASH: ((x + C0) H^16 + C1 H^15 + ... + C15 H), one reduction */
            __m512i d0 = _mm512_xor_si512(_mm512_shuffle_epi8(a0, swap),
                                          _mm512_inserti32x4(_mm512_setzero_si512(), x, 0));
            __m512i d1 = _mm512_shuffle_epi8(a1, swap), d2 = _mm512_shuffle_epi8(a2, swap),
                    d3 = _mm512_shuffle_epi8(a3, swap);
            __m512i lo =
                _mm512_xor_si512(_mm512_xor_si512(_mm512_clmulepi64_epi128(d0, h0, 0x00),
                                                  _mm512_clmulepi64_epi128(d1, hz1, 0x00)),
                                 _mm512_xor_si512(_mm512_clmulepi64_epi128(d2, hz2, 0x00),
                                                  _mm512_clmulepi64_epi128(d3, hz3, 0x00)));
            __m512i hi =
                _mm512_xor_si512(_mm512_xor_si512(_mm512_clmulepi64_epi128(d0, h0, 0x11),
                                                  _mm512_clmulepi64_epi128(d1, hz1, 0x11)),
                                 _mm512_xor_si512(_mm512_clmulepi64_epi128(d2, hz2, 0x11),
                                                  _mm512_clmulepi64_epi128(d3, hz3, 0x11)));
            __m512i mid = _mm512_xor_si512(
                _mm512_xor_si512(_mm512_xor_si512(_mm512_clmulepi64_epi128(d0, h0, 0x01),
                                                  _mm512_clmulepi64_epi128(d0, h0, 0x10)),
                                 _mm512_xor_si512(_mm512_clmulepi64_epi128(d1, hz1, 0x01),
                                                  _mm512_clmulepi64_epi128(d1, hz1, 0x10))),
                _mm512_xor_si512(_mm512_xor_si512(_mm512_clmulepi64_epi128(d2, hz2, 0x01),
                                                  _mm512_clmulepi64_epi128(d2, hz2, 0x10)),
                                 _mm512_xor_si512(_mm512_clmulepi64_epi128(d3, hz3, 0x01),
                                                  _mm512_clmulepi64_epi128(d3, hz3, 0x10))));
            x = fold(lanes_xor(lo), lanes_xor(hi), lanes_xor(mid));
        }
        ctr = _mm512_extracti32x4_epi32(cz, 0);
    }
    const __m128i one = _mm_setr_epi32(1, 0, 0, 0);
    for (; n - done >= 16; done += 16) {
        __m128i c = _mm_xor_si128(aes_block(k, bswap(ctr)),
                                  _mm_loadu_si128((const __m128i *)take(&rd, 16, tmp)));
        ctr = _mm_add_epi32(ctr, one);
        _mm_storeu_si128((__m128i *)(out + done), c);
        x = gfmul(_mm_xor_si128(x, bswap(c)), h1);
    }
    /* the rest of in and `last`: 1 to 16 octets */
    size_t r = n - done;
    uint8_t b[16] = {0};
    if (r) memcpy(b, take(&rd, r, tmp), r);
    b[r] = last;
    __m128i c = _mm_xor_si128(aes_block(k, bswap(ctr)), _mm_loadu_si128((const __m128i *)b));
    _mm_storeu_si128((__m128i *)b, c);
    memset(b + r + 1, 0, 15 - r); /* GHASH pads the last block with zeros */
    memcpy(out + done, b, r + 1);
    x = gfmul(_mm_xor_si128(x, bswap(_mm_loadu_si128((const __m128i *)b))), h1);
    /* len(A) || len(C) in bits, 64 each (§7.1) */
    uint64_t abits = (uint64_t)aadlen * 8, cbits = (uint64_t)(n + 1) * 8;
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(abits >> (56 - 8 * i));
        b[8 + i] = (uint8_t)(cbits >> (56 - 8 * i));
    }
    x = gfmul(_mm_xor_si128(x, bswap(_mm_loadu_si128((const __m128i *)b))), h1);
    __m128i tag = _mm_xor_si128(bswap(x), aes_block(k, j0));
    _mm_storeu_si128((__m128i *)(out + n + 1), tag);
}
#endif
