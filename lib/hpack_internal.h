/* The HPACK encoder's entry for the engine (not exported). */
#ifndef LOOM_LIB_HPACK_INTERNAL_H
#define LOOM_LIB_HPACK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "loom/hpack.h"

/* loom_hpack_encode into out, which the caller made loom_hpack_encode_bound
 * octets large. key: 0, or the caller's promise that the same nonzero key
 * means the same fields (loom_respond_keyed): while the table has not
 * changed, the block remembered for that key is copied without comparing
 * the fields. */
int loom__hpack_encode_keyed(loom_hpack_encoder *enc, uint64_t key, const loom_hpack_field *fields,
                             size_t n, uint8_t *out);

/* The block loom__hpack_encode_keyed would copy for key without looking
 * at the fields (the memo's key, the table unchanged since), or NULL:
 * *len octets, valid until the encoder is used again; *informational
 * whether its first field is a 1xx :status. Changes nothing. */
const uint8_t *loom__hpack_keyed_block(const loom_hpack_encoder *enc, uint64_t key, size_t *len,
                                       int *informational);

#endif
