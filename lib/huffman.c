/* Huffman coding of HPACK string literals (RFC 7541 §5.2, Appendix B). */
#include <string.h>

#include "huffman.h"
#include "loom/hpack_lowlevel.h"

size_t loom_huffman_encoded_len(const uint8_t *s, size_t len)
{
    uint64_t bits = 0;
    for (size_t i = 0; i < len; i++)
        bits += loom__huff_len[s[i]];
    return (size_t)((bits + 7) / 8);
}

int loom_huffman_encode(const uint8_t *s, size_t len, uint8_t *out, size_t cap)
{
    uint64_t acc = 0; /* pending bits, right-aligned */
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        /* bits < 32 before the shift and codes are at most 30 bits: fits */
        uint64_t e = loom__huff_enc[s[i]];
        unsigned cl = (unsigned)(e & 0xff);
        acc = acc << cl | e >> 8;
        bits += cl;
        if (bits >= 32) {
            if (cap - o < 4) return LOOM_ERR_BUFFER;
            bits -= 32;
            uint32_t w = (uint32_t)(acc >> bits);
            out[o] = (uint8_t)(w >> 24);
            out[o + 1] = (uint8_t)(w >> 16);
            out[o + 2] = (uint8_t)(w >> 8);
            out[o + 3] = (uint8_t)w;
            o += 4;
        }
    }
    /* RFC 7541 §5.2: pad with the most significant bits of EOS (all ones). */
    unsigned pad = (8 - bits % 8) % 8;
    acc = acc << pad | ((1u << pad) - 1);
    bits += pad;
    if (cap - o < bits / 8) return LOOM_ERR_BUFFER;
    while (bits) {
        bits -= 8;
        out[o++] = (uint8_t)(acc >> bits);
    }
    return (int)o;
}

int loom__huffman_check(const uint8_t *in, size_t len)
{
    /* the decoder's machine without its output: for strings that are
     * skipped but must still be valid (RFC 7541 §5.2) */
    uint32_t state = 0, fail = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t e = loom__huff_decode[state << 8 | in[i]];
        fail |= e;
        state = e & 0xff;
    }
    return (fail & LOOM__HUFF_FAIL) || !loom__huff_accept[state] ? LOOM_ERR_COMPRESSION : 0;
}

int loom_huffman_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    uint32_t state = 0, fail = 0;
    size_t o = 0, i = 0;
    /* With room for the longest possible output (5-bit codes: 8/5 of the
     * input) plus the spare slot, every step writes both symbol slots and
     * advances by the count: no branch but the loop's. */
    if (cap >= len / 5 * 8 + 8 + 2) {
        for (; i + 2 <= len; i += 2) {
            uint32_t e = loom__huff_decode[state << 8 | in[i]];
            out[o] = (uint8_t)(e >> 16);
            out[o + 1] = (uint8_t)(e >> 24);
            o += (e >> 8) & 3;
            uint32_t e2 = loom__huff_decode[(e & 0xff) << 8 | in[i + 1]];
            out[o] = (uint8_t)(e2 >> 16);
            out[o + 1] = (uint8_t)(e2 >> 24);
            o += (e2 >> 8) & 3;
            fail |= e | e2;
            state = e2 & 0xff;
        }
    }
    for (; i < len; i++) {
        uint32_t e = loom__huff_decode[state << 8 | in[i]];
        fail |= e;
        unsigned n = (e >> 8) & 3;
        if (cap - o < n) return LOOM_ERR_BUFFER;
        if (n > 0) out[o] = (uint8_t)(e >> 16);
        if (n > 1) out[o + 1] = (uint8_t)(e >> 24);
        o += n;
        state = e & 0xff;
    }
    /* RFC 7541 §5.2: EOS in a string, padding over 7 bits or not all ones
     * are decoding errors. */
    if ((fail & LOOM__HUFF_FAIL) || !loom__huff_accept[state]) return LOOM_ERR_COMPRESSION;
    return (int)o;
}
