/* loom HPACK: header compression for HTTP/2 (RFC 7541).
 *
 * Usable on its own: an encoder and a decoder, each holding one side of a
 * connection's dynamic table. No I/O; allocation only through the loom_mem
 * given at init (tables and one scratch buffer, never per field). */
#ifndef LOOM_HPACK_H
#define LOOM_HPACK_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 7541 §4.2 / RFC 9113 §6.5.2 defaults */
#define LOOM_HPACK_DEFAULT_TABLE_SIZE 4096u
/* SETTINGS_MAX_HEADER_LIST_SIZE meaning: name + value + 32 per field. */
#define LOOM_HPACK_DEFAULT_MAX_LIST_SIZE 65536u
#define LOOM_HPACK_STATIC_ENTRIES        61u

/* Field flags. */
enum {
    /* RFC 7541 §6.2.3: never indexed, by this hop or any later one. Reported
     * by the decoder; honored (and so kept when forwarded) by the encoder. */
    LOOM_HPACK_NEVER_INDEXED = 0x1,
    /* Encoder: do not add this field to the dynamic table (it may still be
     * sent as an index if it is already there). */
    LOOM_HPACK_NO_INDEX = 0x2,
    /* Encoder: add this field to the dynamic table (a literal with
     * incremental indexing) when it is not there yet, whatever the
     * encoder's own strategy would choose. */
    LOOM_HPACK_INDEX = 0x4,
};

/* Encoder: when string literals are Huffman-coded. */
typedef enum {
    LOOM_HPACK_HUFFMAN_AUTO = 0,   /* when shorter (the default) */
    LOOM_HPACK_HUFFMAN_NEVER = 1,  /* never: raw octets */
    LOOM_HPACK_HUFFMAN_PREFER = 2, /* unless longer (ties Huffman-coded) */
} loom_hpack_huffman;

typedef struct {
    const uint8_t *name;
    size_t name_len;
    const uint8_t *value;
    size_t value_len;
    uint8_t flags; /* LOOM_HPACK_* */
} loom_hpack_field;

/* How a field was represented on the wire (RFC 7541 §6). */
typedef enum {
    LOOM_HPACK_REP_INDEXED = 0,       /* §6.1 */
    LOOM_HPACK_REP_INCREMENTAL = 1,   /* §6.2.1 literal with incremental indexing */
    LOOM_HPACK_REP_WITHOUT_INDEX = 2, /* §6.2.2 */
    LOOM_HPACK_REP_NEVER_INDEXED = 3, /* §6.2.3 */
} loom_hpack_rep;

/* ---- decoder ---- */

typedef struct loom_hpack_decoder loom_hpack_decoder;

typedef struct {
    int err;            /* LOOM_ERR_COMPRESSION, LOOM_ERR_LIMIT, LOOM_ERR_NOMEM */
    size_t offset;      /* where in the block the error was found */
    const char *reason; /* static text naming the rule, with its RFC section */
} loom_hpack_error;

/* Called once per decoded field. The field's pointers are valid until the
 * callback returns. rep says how it was represented. Returning non-zero
 * stops the decoding; that value is returned by loom_hpack_decode(). */
typedef int (*loom_hpack_on_field)(void *user, const loom_hpack_field *f, loom_hpack_rep rep);

/* max_table_size: the table size both ends start from, and the most a size
 * update may ask for (in HTTP/2: 4096, the initial SETTINGS_HEADER_TABLE_SIZE;
 * change it with loom_hpack_decoder_set_max_table_size() as the local
 * setting changes). max_list_size: the local SETTINGS_MAX_HEADER_LIST_SIZE
 * (0 means LOOM_HPACK_DEFAULT_MAX_LIST_SIZE). */
LOOM_API loom_hpack_decoder *loom_hpack_decoder_new(uint32_t max_table_size, uint32_t max_list_size,
                                                    const loom_mem *mem);
LOOM_API void loom_hpack_decoder_free(loom_hpack_decoder *d);

/* A new local SETTINGS_HEADER_TABLE_SIZE. A smaller value binds at once: the
 * encoder owes us a size update at the start of its next block (RFC 7541
 * §4.2), and one is then required. */
LOOM_API int loom_hpack_decoder_set_max_table_size(loom_hpack_decoder *d, uint32_t max_table_size);
LOOM_API void loom_hpack_decoder_set_max_list_size(loom_hpack_decoder *d, uint32_t max_list_size);

/* Decodes one complete header block (all of HEADERS + CONTINUATION).
 * Returns 0, the callback's non-zero value, or a negative loom_err with *e
 * set:
 * - LOOM_ERR_COMPRESSION: the block is malformed. The decoder's table is
 *   out of step with the peer's: the connection must end with
 *   COMPRESSION_ERROR (RFC 9113 §4.3).
 * - LOOM_ERR_LIMIT: the decoded header list is larger than max_list_size.
 *   The fields past the limit are not reported and never expanded (a block
 *   that references a large entry thousands of times costs no memory and no
 *   copying: CVE-2016-6581), but the whole block is still processed so the
 *   table stays in step: the connection can go on, and the stream is
 *   refused (RFC 9113 §10.5.1).
 * - LOOM_ERR_NOMEM. */
LOOM_API int loom_hpack_decode(loom_hpack_decoder *d, const uint8_t *in, size_t len,
                               loom_hpack_on_field cb, void *user, loom_hpack_error *e);

/* reps[] of a loom_hpack_list: the representation (loom_hpack_rep) in the
 * low bits; LOOM_HPACK_CHECKED when the field's octets are known valid for
 * HTTP/2 (RFC 9113 §8.2.1: a static-table entry, a dynamic-table entry
 * checked once when first used, or a literal with a static-table name
 * whose value was checked as it was decoded). */
#define LOOM_HPACK_REP_MASK 0x03
#define LOOM_HPACK_CHECKED  0x80

/* A decoded header list, caller-owned and reused block after block. The
 * strings of its fields live in the list's own memory (taken through its
 * loom_mem, kept from block to block, so a list that has held the largest
 * block decodes the next ones without allocating), in the static table, in
 * the input block (raw literals are not copied), or in the decoder's
 * dynamic table (entries referenced while the table does not change later
 * in the block): they are valid until the list or its decoder decodes
 * again, the decoder's table size is set, or the input block changes. Read fields[0..n) and
 * reps; the other members are private. A list initialised to all zeros
 * uses the default allocator. */
typedef struct loom_hpack_list {
    loom_hpack_field *fields;
    uint8_t *reps; /* reps[i]: how fields[i] was represented (loom_hpack_rep, and
                      LOOM_HPACK_CHECKED) */
    size_t n;
    /* private */
    size_t cap;
    uint8_t *buf;
    size_t used, bcap;
    const loom_mem *mem;
} loom_hpack_list;

LOOM_API void loom_hpack_list_init(loom_hpack_list *l, const loom_mem *mem);
LOOM_API void loom_hpack_list_free(loom_hpack_list *l);

/* Decodes one complete block into l, which is emptied first. Returns what
 * loom_hpack_decode() returns; on LOOM_ERR_LIMIT the fields within the limit
 * are in l. The list never holds more than the decoder's list limit. */
LOOM_API int loom_hpack_decode_block(loom_hpack_decoder *d, const uint8_t *in, size_t len,
                                     loom_hpack_list *l, loom_hpack_error *e);

/* The decoder's current dynamic table: size in octets (RFC 7541 §4.1),
 * number of entries, and its size limit. */
LOOM_API size_t loom_hpack_decoder_table_size(const loom_hpack_decoder *d);
LOOM_API size_t loom_hpack_decoder_table_len(const loom_hpack_decoder *d);
LOOM_API size_t loom_hpack_decoder_table_max(const loom_hpack_decoder *d);

/* Entry i of the decoder's dynamic table, 1 being the newest (index
 * LOOM_HPACK_STATIC_ENTRIES + i on the wire) and
 * loom_hpack_decoder_table_len() the oldest; for tools and tests (its size
 * is name_len + value_len + 32, RFC 7541 §4.1). The name and value are
 * copied to buf, one after the other, and f points there (flags 0).
 * Returns 0; LOOM_ERR_BUFFER when cap is below name_len + value_len
 * (nothing copied: f has the lengths, NULL pointers); LOOM_ERR_INVALID when
 * there is no entry i. */
LOOM_API int loom_hpack_decoder_table_get(const loom_hpack_decoder *d, size_t i,
                                          loom_hpack_field *f, uint8_t *buf, size_t cap);

/* ---- encoder ---- */

typedef struct loom_hpack_encoder loom_hpack_encoder;

/* The encoder starts at the protocol default table size (4096). */
LOOM_API loom_hpack_encoder *loom_hpack_encoder_new(const loom_mem *mem);
LOOM_API void loom_hpack_encoder_free(loom_hpack_encoder *enc);

/* The peer's SETTINGS_HEADER_TABLE_SIZE. The encoder uses
 * min(peer_max, its own cap) and emits the size update(s) RFC 7541 §4.2
 * requires at the start of the next block. */
LOOM_API int loom_hpack_encoder_set_max_table_size(loom_hpack_encoder *enc, uint32_t peer_max);

/* Caps the table the encoder uses (memory it may spend), whatever the peer
 * allows. Default 4096. */
LOOM_API int loom_hpack_encoder_set_table_cap(loom_hpack_encoder *enc, uint32_t cap);

/* When the encoder Huffman-codes strings (RFC 7541 §5.2). */
LOOM_API void loom_hpack_encoder_set_huffman(loom_hpack_encoder *enc, loom_hpack_huffman mode);

/* An upper bound on the octets loom_hpack_encode() writes for these fields. */
LOOM_API size_t loom_hpack_encode_bound(const loom_hpack_field *fields, size_t n);

/* Encodes one header block. Names must already be lowercase for HTTP/2.
 * Returns octets written; LOOM_ERR_BUFFER when cap is below
 * loom_hpack_encode_bound() (checked first: the encoder is then unchanged);
 * or LOOM_ERR_NOMEM. */
LOOM_API int loom_hpack_encode(loom_hpack_encoder *enc, const loom_hpack_field *fields, size_t n,
                               uint8_t *out, size_t cap);

LOOM_API size_t loom_hpack_encoder_table_size(const loom_hpack_encoder *enc);
LOOM_API size_t loom_hpack_encoder_table_len(const loom_hpack_encoder *enc);
/* The size the encoder's table may have now: min(peer's setting, cap). */
LOOM_API size_t loom_hpack_encoder_table_max(const loom_hpack_encoder *enc);
/* Entry i of the encoder's dynamic table, as loom_hpack_decoder_table_get():
 * after each block it equals the peer decoder's entry i. */
LOOM_API int loom_hpack_encoder_table_get(const loom_hpack_encoder *enc, size_t i,
                                          loom_hpack_field *f, uint8_t *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
