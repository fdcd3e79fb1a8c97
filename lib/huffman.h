/* Internal: the generated Huffman tables (lib/huffman_table.c). */
#ifndef LOOM_LIB_HUFFMAN_H
#define LOOM_LIB_HUFFMAN_H

#include <stdint.h>

extern const uint32_t loom_huff_code[257];
extern const uint8_t loom_huff_len[257];
extern const uint8_t loom_huff_accept[256];
extern const uint32_t loom_huff_decode[256 * 256];

#define LOOM_HUFF_FAIL 0x400u

#endif
