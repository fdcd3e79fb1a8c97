/* loom HPACK, low level: the primitives of RFC 7541 (prefix integers,
 * Huffman coding, the static table) that the encoder and decoder are built
 * from. For tests, tools and benchmarks; an application needs only
 * <loom/hpack.h>. Not included by <loom/loom.h>. */
#ifndef LOOM_HPACK_LOWLEVEL_H
#define LOOM_HPACK_LOWLEVEL_H

#include "hpack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- primitives (RFC 7541 §5) ---- */

/* Decodes an N-bit prefix integer (§5.1). Returns octets used (> 0), 0 when
 * the input ends inside the integer, or LOOM_ERR_COMPRESSION when the value
 * does not fit in 32 bits. */
LOOM_API int loom_hpack_int_decode(const uint8_t *in, size_t len, int prefix_bits, uint32_t *value);

/* Encodes v with an N-bit prefix; the bits of out[0] above the prefix are
 * taken from `first` (the representation's pattern). Returns octets written
 * or LOOM_ERR_BUFFER. */
LOOM_API int loom_hpack_int_encode(uint8_t *out, size_t cap, int prefix_bits, uint8_t first,
                                   uint32_t v);

/* The Huffman-coded length of a string, in octets (§5.2, Appendix B). */
LOOM_API size_t loom_huffman_encoded_len(const uint8_t *s, size_t len);

/* Huffman-encodes s; returns octets written or LOOM_ERR_BUFFER. */
LOOM_API int loom_huffman_encode(const uint8_t *s, size_t len, uint8_t *out, size_t cap);

/* Decodes a Huffman string. Returns octets written (which never exceed
 * len * 8 / 5), LOOM_ERR_BUFFER, or LOOM_ERR_COMPRESSION for EOS in the
 * string, padding longer than 7 bits or padding that is not all ones. */
LOOM_API int loom_huffman_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* ---- the static table (Appendix A) ---- */

/* Entry i, 1..61 (1-based, as on the wire); NULL fields out of range. */
LOOM_API int loom_hpack_static_get(uint32_t index, loom_hpack_field *f);

/* The index of an exact name+value match (*exact = 1), else of the first
 * entry with the name (*exact = 0); 0 if the name is not in the table. */
LOOM_API uint32_t loom_hpack_static_find(const uint8_t *name, size_t name_len, const uint8_t *value,
                                         size_t value_len, int *exact);

#ifdef __cplusplus
}
#endif

#endif
