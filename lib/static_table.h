/* Internal: the HPACK static table. */
#ifndef LOOM_LIB_STATIC_TABLE_H
#define LOOM_LIB_STATIC_TABLE_H

#include "loom/hpack.h"

extern const loom_hpack_field loom_hpack_static[LOOM_HPACK_STATIC_ENTRIES + 1];

uint32_t loom_hpack_static_name(const uint8_t *name, size_t len, uint32_t *count);

#endif
