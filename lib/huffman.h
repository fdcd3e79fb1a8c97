/* Internal: the generated Huffman tables (lib/huffman_table.c). */
#ifndef LOOM_LIB_HUFFMAN_H
#define LOOM_LIB_HUFFMAN_H

#include <stddef.h>
#include <stdint.h>

extern const uint32_t loom__huff_code[257];
extern const uint8_t loom__huff_len[257];
extern const uint64_t loom__huff_enc[256];
extern const uint8_t loom__huff_accept[256];
extern const uint32_t loom__huff_decode[256 * 256];

#define LOOM__HUFF_FAIL 0x400u

/* 0 when in is a valid Huffman string, else LOOM_ERR_COMPRESSION. */
int loom__huffman_check(const uint8_t *in, size_t len);

#endif
