/* Huffman coding of HPACK string literals (RFC 7541 §5.2, Appendix B). */
#include <string.h>

#include "huffman.h"
#include "loom/hpack.h"

size_t loom_huffman_encoded_len(const uint8_t *s, size_t len)
{
    uint64_t bits = 0;
    for (size_t i = 0; i < len; i++)
        bits += loom_huff_len[s[i]];
    return (size_t)((bits + 7) / 8);
}

int loom_huffman_encode(const uint8_t *s, size_t len, uint8_t *out, size_t cap)
{
    uint64_t acc = 0; /* pending bits, right-aligned */
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        /* bits < 32 before the shift and codes are at most 30 bits: fits */
        acc = acc << loom_huff_len[s[i]] | loom_huff_code[s[i]];
        bits += loom_huff_len[s[i]];
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

int loom_huffman_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    uint32_t state = 0, fail = 0;
    size_t o = 0, i = 0;
    /* Fast path while there is room for two symbols per octet: each step
     * writes both symbol slots and advances by the count, without a branch. */
    while (i < len && cap - o >= 2) {
        uint32_t e = loom_huff_decode[state << 8 | in[i++]];
        fail |= e;
        out[o] = (uint8_t)(e >> 16);
        out[o + 1] = (uint8_t)(e >> 24);
        o += (e >> 8) & 3;
        state = e & 0xff;
    }
    for (; i < len; i++) {
        uint32_t e = loom_huff_decode[state << 8 | in[i]];
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
    if ((fail & LOOM_HUFF_FAIL) || !loom_huff_accept[state]) return LOOM_ERR_COMPRESSION;
    return (int)o;
}
