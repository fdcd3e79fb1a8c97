/* HPACK (RFC 7541): integers, the dynamic table, the decoder and the
 * encoder. Huffman coding is in huffman.c, the static table in
 * static_table.c. */
#include "hpack_internal.h"
#include "loom/hpack_lowlevel.h"

#include <string.h>

#include "buf.h"
#include "fields.h"
#include "huffman.h"
#include "mem.h"
#include "static_table.h"

#define ENTRY_OVERHEAD 32u /* RFC 7541 §4.1 */

/* ---- integers (RFC 7541 §5.1) ---- */

int loom_hpack_int_decode(const uint8_t *in, size_t len, int prefix_bits, uint32_t *value)
{
    if (len == 0) return 0;
    uint32_t mask = (1u << prefix_bits) - 1;
    uint32_t v = in[0] & mask;
    if (v < mask) {
        *value = v;
        return 1;
    }
    uint64_t acc = v;
    unsigned shift = 0;
    for (size_t i = 1; i < len; i++) {
        /* §5.1: encodings past the implementation's limits, in value or in
         * length, are decoding errors. Ours: 32 bits, 5 continuation octets. */
        if (shift > 28) return LOOM_ERR_COMPRESSION;
        acc += (uint64_t)(in[i] & 0x7f) << shift;
        if (acc > UINT32_MAX) return LOOM_ERR_COMPRESSION;
        if (!(in[i] & 0x80)) {
            *value = (uint32_t)acc;
            return (int)i + 1;
        }
        shift += 7;
    }
    return 0;
}

int loom_hpack_int_encode(uint8_t *out, size_t cap, int prefix_bits, uint8_t first, uint32_t v)
{
    uint32_t mask = (1u << prefix_bits) - 1;
    if (cap < 1) return LOOM_ERR_BUFFER;
    first &= (uint8_t)~mask;
    if (v < mask) {
        out[0] = first | (uint8_t)v;
        return 1;
    }
    out[0] = first | (uint8_t)mask;
    v -= mask;
    size_t o = 1;
    while (v >= 128) {
        if (o >= cap) return LOOM_ERR_BUFFER;
        out[o++] = (uint8_t)(0x80 | (v & 0x7f));
        v >>= 7;
    }
    if (o >= cap) return LOOM_ERR_BUFFER;
    out[o++] = (uint8_t)v;
    return (int)o;
}

/* ---- the dynamic table (RFC 7541 §2.3.2, §4) ----
 *
 * Names and values live in one byte ring, entries in a ring of descriptors
 * indexed by their absolute insertion number modulo its capacity, so that
 * neither insertion nor eviction moves or allocates anything. An entry may
 * wrap around the end of the byte ring; readers that need contiguous bytes
 * copy it out (rare: at most one entry wraps at a time). */

typedef struct {
    uint32_t off; /* of the name in the byte ring; the value follows */
    uint32_t nlen, vlen;
    uint32_t hname, hnv;         /* encoder: hashes of name, name+value */
    uint64_t next_name, next_nv; /* encoder: older entry in the same bucket, +1 */
    uint8_t ok; /* decoder: its octets checked for HTTP/2 (RFC 9113 §8.2.1): 0 not yet,
                   1 valid, 2 not */
} entry;

typedef struct {
    uint8_t *buf;
    size_t bcap; /* bytes in buf */
    size_t head; /* offset of the oldest entry's name */
    size_t used; /* bytes in use */
    entry *ents;
    size_t ecap;       /* slots in ents */
    uint64_t inserted; /* entries ever inserted; the newest has number inserted-1 */
    size_t count;
    size_t size; /* RFC 7541 §4.1 size */
    size_t max;  /* current maximum size (§4.2) */
} dyn_table;

/* Ring arithmetic without division (a 64-bit div per table lookup was a
 * third of the decoder's time on requests with many dynamic fields): the
 * entry ring has a power-of-two number of slots, and byte offsets wrap by
 * one subtraction (a < bcap, b <= bcap). */
#define ENT(t, num) ((t)->ents[(num) & ((t)->ecap - 1)])

static inline size_t ring_add(const dyn_table *t, size_t a, size_t b)
{
    size_t s = a + b;
    return s >= t->bcap ? s - t->bcap : s;
}

static const entry *table_get(const dyn_table *t, size_t i) /* i: 1 = newest */
{
    return &ENT(t, t->inserted - i);
}

static void table_evict_one(dyn_table *t)
{
    const entry *e = &ENT(t, t->inserted - t->count);
    size_t n = (size_t)e->nlen + e->vlen;
    t->head = ring_add(t, t->head, n);
    t->used -= n;
    t->size -= n + ENTRY_OVERHEAD;
    if (--t->count == 0) t->head = t->used = 0;
}

static void table_evict_to(dyn_table *t, size_t size)
{
    while (t->size > size)
        table_evict_one(t);
}

/* Makes room for a table of `max` octets, moving the entries if the buffers
 * grow. */
static int table_reserve(dyn_table *t, size_t max, const loom_mem *mem)
{
    size_t ecap = 1;
    while (ecap < max / ENTRY_OVERHEAD + 1)
        ecap *= 2;
    if (max <= t->bcap && ecap <= t->ecap) return 0;
    size_t bcap = max > t->bcap ? max : t->bcap;
    if (ecap < t->ecap) ecap = t->ecap;
    uint8_t *buf = loom_malloc(mem, bcap ? bcap : 1);
    entry *ents = loom_malloc(mem, ecap * sizeof(entry));
    if (!buf || !ents) {
        loom_free(mem, buf);
        loom_free(mem, ents);
        return LOOM_ERR_NOMEM;
    }
    /* copy oldest first, laying the bytes out from 0 */
    size_t off = 0;
    for (size_t i = t->count; i >= 1; i--) {
        uint64_t num = t->inserted - i;
        entry e = ENT(t, num);
        size_t n = (size_t)e.nlen + e.vlen;
        for (size_t k = 0; k < n; k++)
            buf[off + k] = t->buf[ring_add(t, e.off, k)];
        e.off = (uint32_t)off;
        off += n;
        ents[num & (ecap - 1)] = e;
    }
    loom_free(mem, t->buf);
    loom_free(mem, t->ents);
    t->buf = buf;
    t->bcap = bcap;
    t->ents = ents;
    t->ecap = ecap;
    t->head = 0;
    t->used = off;
    return 0;
}

static void table_free(dyn_table *t, const loom_mem *mem)
{
    loom_free(mem, t->buf);
    loom_free(mem, t->ents);
    memset(t, 0, sizeof(*t));
}

static void ring_put(dyn_table *t, size_t at, const uint8_t *src, size_t n)
{
    size_t first = t->bcap - at < n ? t->bcap - at : n;
    if (first) memcpy(t->buf + at, src, first);
    if (n > first) memcpy(t->buf, src + first, n - first);
}

/* RFC 7541 §4.4: make room by evicting, then add; an entry larger than the
 * table empties it and is not added. The caller has reserved t->max. Returns
 * the new entry or NULL. name/value must not point into the table. */
static entry *table_insert(dyn_table *t, const uint8_t *name, size_t nlen, const uint8_t *value,
                           size_t vlen)
{
    size_t s = nlen + vlen + ENTRY_OVERHEAD;
    if (s > t->max) {
        table_evict_to(t, 0);
        return NULL;
    }
    table_evict_to(t, t->max - s);
    size_t at = ring_add(t, t->head, t->used);
    ring_put(t, at, name, nlen);
    ring_put(t, ring_add(t, at, nlen), value, vlen);
    entry *e = &ENT(t, t->inserted);
    e->off = (uint32_t)at;
    e->ok = 0;
    e->nlen = (uint32_t)nlen;
    e->vlen = (uint32_t)vlen;
    t->used += nlen + vlen;
    t->size += s;
    t->count++;
    t->inserted++;
    return e;
}

/* The bytes at ring offset off, n long: a pointer into the ring when they
 * are contiguous, else copied to dst. */
static const uint8_t *ring_read(const dyn_table *t, size_t off, size_t n, uint8_t *dst)
{
    if (off + n <= t->bcap) return t->buf + off;
    size_t first = t->bcap - off;
    memcpy(dst, t->buf + off, first);
    memcpy(dst + first, t->buf, n - first);
    return dst;
}

/* Entry i (1 = newest) copied out for loom_hpack_*_table_get(). */
static int table_copy(const dyn_table *t, size_t i, loom_hpack_field *f, uint8_t *buf, size_t cap)
{
    memset(f, 0, sizeof(*f));
    if (i == 0 || i > t->count) return LOOM_ERR_INVALID;
    const entry *e = table_get(t, i);
    size_t n = (size_t)e->nlen + e->vlen;
    f->name_len = e->nlen;
    f->value_len = e->vlen;
    if (cap < n) return LOOM_ERR_BUFFER;
    if (n) {
        const uint8_t *p = ring_read(t, e->off, n, buf);
        if (p != buf) memcpy(buf, p, n);
    }
    f->name = buf;
    f->value = buf ? buf + e->nlen : NULL; /* (an empty entry, cap 0) */
    return 0;
}

/* ---- decoder ---- */

#define HUFF_MEMO_MAX 128
#define HUFF_MEMO_IN  64

struct loom_hpack_decoder {
    const loom_mem *mem;
    dyn_table t;
    uint32_t max_allowed; /* local SETTINGS_HEADER_TABLE_SIZE */
    uint32_t max_list;
    int need_update;    /* the limit was lowered: the next block must say so */
    uint32_t min_since; /* the smallest limit set since the last block */
    uint8_t *scratch;
    size_t scratch_cap;
    /* The last Huffman literal decoded, when short: its octets, then what
     * they decode to. Clients built on nghttp2 never index :path, so every
     * request carries the same Huffman literal again; a copy is cheaper
     * than decoding it. HUFF_MEMO_MAX octets in all, the literal itself at
     * most HUFF_MEMO_IN of them. */
    uint8_t hm_in, hm_out; /* lengths; hm_in 0: nothing remembered */
    uint8_t hm_ok;         /* its string as a field value (RFC 9113 §8.2.1): 0 not checked
                              yet, 1 valid, 2 not */
    uint8_t hm[HUFF_MEMO_MAX];
};

loom_hpack_decoder *loom_hpack_decoder_new(uint32_t max_table_size, uint32_t max_list_size,
                                           const loom_mem *mem)
{
    if (!mem) mem = loom_mem_default();
    loom_hpack_decoder *d = loom_malloc(mem, sizeof(*d));
    if (!d) return NULL;
    memset(d, 0, sizeof(*d));
    d->mem = mem;
    /* The table starts at the size both ends begin with (in HTTP/2 the
     * protocol's 4096, RFC 9113 §6.5.2); a later lower limit must be
     * announced by the encoder (RFC 7541 §4.2). */
    d->t.max = max_table_size;
    d->max_allowed = max_table_size;
    loom_hpack_decoder_set_max_list_size(d, max_list_size);
    return d;
}

void loom_hpack_decoder_free(loom_hpack_decoder *d)
{
    if (!d) return;
    table_free(&d->t, d->mem);
    loom_free(d->mem, d->scratch);
    loom_free(d->mem, d);
}

int loom_hpack_decoder_set_max_table_size(loom_hpack_decoder *d, uint32_t max_table_size)
{
    d->max_allowed = max_table_size;
    /* RFC 7541 §4.2: of several changes between two blocks, the smallest
     * must be signalled first */
    if (!d->need_update || max_table_size < d->min_since) d->min_since = max_table_size;
    if (max_table_size < d->t.max) d->need_update = 1;
    return 0;
}

void loom_hpack_decoder_set_max_list_size(loom_hpack_decoder *d, uint32_t max_list_size)
{
    d->max_list = max_list_size ? max_list_size : LOOM_HPACK_DEFAULT_MAX_LIST_SIZE;
}

size_t loom_hpack_decoder_table_size(const loom_hpack_decoder *d)
{
    return d->t.size;
}

size_t loom_hpack_decoder_table_len(const loom_hpack_decoder *d)
{
    return d->t.count;
}

size_t loom_hpack_decoder_table_max(const loom_hpack_decoder *d)
{
    return d->t.max;
}

int loom_hpack_decoder_table_get(const loom_hpack_decoder *d, size_t i, loom_hpack_field *f,
                                 uint8_t *buf, size_t cap)
{
    return table_copy(&d->t, i, f, buf, cap);
}

/* The scratch buffer holds one field's decoded name and value at a time;
 * the decoding budget (list limit, table size) bounds it. */
static inline int scratch_reserve(loom_hpack_decoder *d, size_t need)
{
    size_t max = 2 * ((size_t)d->max_list + d->max_allowed) + 64;
    if (need <= d->scratch_cap && need <= max && d->scratch) return 0; /* the usual case */
    return loom__grow(d->mem, (void **)&d->scratch, &d->scratch_cap, need, 1, max);
}

typedef struct {
    const uint8_t *in;
    size_t len, pos;
    loom_hpack_error *e;
} cursor;

static int derr(cursor *c, int err, const char *why)
{
    c->e->err = err;
    c->e->offset = c->pos;
    c->e->reason = why;
    return err;
}

static inline int read_int(cursor *c, int prefix, uint32_t *v)
{
    /* most integers fit their prefix: one octet, no call */
    uint32_t mask = (1u << prefix) - 1;
    if (c->pos < c->len && (c->in[c->pos] & mask) < mask) {
        *v = c->in[c->pos++] & mask;
        return 0;
    }
    int n = loom_hpack_int_decode(c->in + c->pos, c->len - c->pos, prefix, v);
    if (n == 0) return derr(c, LOOM_ERR_COMPRESSION, "truncated integer (RFC 7541 §5.1)");
    if (n < 0) return derr(c, n, "integer exceeds 32 bits (RFC 7541 §5.1)");
    c->pos += (size_t)n;
    return 0;
}

/* A string literal's header and extent (RFC 7541 §5.2), not yet decoded. */
typedef struct {
    const uint8_t *p;
    uint32_t len;
    int huff;
} lit;

static inline int read_lit(cursor *c, lit *s)
{
    if (c->pos >= c->len) return derr(c, LOOM_ERR_COMPRESSION, "truncated string (RFC 7541 §5.2)");
    s->huff = c->in[c->pos] & 0x80;
    int rc = read_int(c, 7, &s->len);
    if (rc < 0) return rc;
    if (s->len > c->len - c->pos)
        return derr(c, LOOM_ERR_COMPRESSION, "string longer than the block (RFC 7541 §5.2)");
    s->p = c->in + c->pos;
    c->pos += s->len;
    return 0;
}

/* Decodes a literal into scratch at *at, at most cap octets. Returns 0,
 * 1 when the decoded string would exceed cap, or a negative error. On 0,
 * *memo (when not NULL) says whether the Huffman memo now holds this
 * literal. */
static int expand(loom_hpack_decoder *d, cursor *c, const lit *s, size_t *at, size_t cap,
                  const uint8_t **out, size_t *outlen, int *memo)
{
    if (memo) *memo = 0;
    if (!s->huff) {
        if (s->len > cap) return 1;
        *out = s->p;
        *outlen = s->len;
        return 0;
    }
    int n;
    if (s->len && s->len == d->hm_in && loom__same(s->p, d->hm, s->len)) {
        /* the same octets as the last literal remembered: the same string
         * (only valid ones are remembered) */
        n = d->hm_out;
        if ((size_t)n > cap) return 1; /* as decoding with room for cap would say */
        if (scratch_reserve(d, *at + (size_t)n) < 0)
            return derr(c, LOOM_ERR_NOMEM, "out of memory");
        memcpy(d->scratch + *at, d->hm + s->len, (size_t)n);
        if (memo) *memo = 1;
    } else {
        /* Huffman output is at most 8/5 of the input (5-bit shortest
         * code); the decoder runs branch-free with a little room beyond. */
        size_t bound = (size_t)s->len / 5 * 8 + 8 + 2;
        if (bound > cap) bound = cap;
        if (scratch_reserve(d, *at + bound) < 0) return derr(c, LOOM_ERR_NOMEM, "out of memory");
        n = loom_huffman_decode(s->p, s->len, d->scratch + *at, bound);
        if (n == LOOM_ERR_BUFFER || (n >= 0 && (size_t)n > cap)) return 1;
        if (n < 0)
            return derr(c, LOOM_ERR_COMPRESSION,
                        "invalid Huffman code: EOS, or padding not 1-7 one-bits (RFC 7541 §5.2)");
        if (s->len <= HUFF_MEMO_IN && s->len + (size_t)n <= HUFF_MEMO_MAX) {
            memcpy(d->hm, s->p, s->len);
            memcpy(d->hm + s->len, d->scratch + *at, (size_t)n);
            d->hm_in = (uint8_t)s->len;
            d->hm_out = (uint8_t)n;
            d->hm_ok = 0;
            if (memo) *memo = 1;
        }
    }
    *out = d->scratch + *at;
    *outlen = (size_t)n;
    *at += (size_t)n;
    return 0;
}

/* Literals not expanded must still be valid Huffman (RFC 7541 §5.2). */
static int check_lits(cursor *c, const lit *name, const lit *value)
{
    if ((name && name->huff && loom__huffman_check(name->p, name->len) < 0) ||
        (value->huff && loom__huffman_check(value->p, value->len) < 0))
        return derr(c, LOOM_ERR_COMPRESSION,
                    "invalid Huffman code: EOS, or padding not 1-7 one-bits (RFC 7541 §5.2)");
    return 0;
}

/* Fixes up scratch pointers after a scratch_reserve() that may have moved
 * the buffer. */
static const uint8_t *rebase(const loom_hpack_decoder *d, const uint8_t *p, const uint8_t *old)
{
    return (old && p >= old && p < old + d->scratch_cap) ? d->scratch + (p - old) : p;
}

/* What the decoder knows of a field beyond the callback's view, for
 * loom_hpack_decode_block: whether its name and value stay where they are
 * for the whole block (the static table, or raw octets of the block; the
 * dynamic table's ring is list_add_ring's), and whether its octets are
 * known valid for HTTP/2. */
typedef struct {
    uint8_t name_stable, value_stable, checked;
} field_info;

/* loom_hpack_decode_block's state. */
typedef struct list_ctx {
    loom_hpack_list *l;
    const dyn_table *t; /* the decoder's table */
    size_t max_fields, max_bytes;
    field_info fi;    /* of the field being added by list_add */
    size_t ring_from; /* the first field that may point into the ring, or RING_NONE */
} list_ctx;

#define RING_NONE SIZE_MAX

static int list_pin(list_ctx *x);
static inline __attribute__((always_inline)) int list_add(void *user, const loom_hpack_field *f,
                                                          loom_hpack_rep rep);
static inline __attribute__((always_inline)) int
list_add_ring(list_ctx *x, const uint8_t *p, uint32_t nlen, uint32_t vlen, int checked);
static inline __attribute__((always_inline)) int list_add_static(list_ctx *x, uint32_t idx);

/* Inlined into its two callers, so that the list's callbacks (a constant
 * there) are inlined into it: no indirect call per field. lx is NULL for
 * loom_hpack_decode; for loom_hpack_decode_block it is the list's state
 * (cb is list_add, user is lx), and indexed fields take a shorter path. */
static inline __attribute__((always_inline)) int decode_core(loom_hpack_decoder *d,
                                                             const uint8_t *in, size_t len,
                                                             loom_hpack_on_field cb, void *user,
                                                             loom_hpack_error *e, list_ctx *lx);

int loom_hpack_decode(loom_hpack_decoder *d, const uint8_t *in, size_t len, loom_hpack_on_field cb,
                      void *user, loom_hpack_error *e)
{
    return decode_core(d, in, len, cb, user, e, NULL);
}

static inline __attribute__((always_inline)) int decode_core(loom_hpack_decoder *d,
                                                             const uint8_t *in, size_t len,
                                                             loom_hpack_on_field cb, void *user,
                                                             loom_hpack_error *e, list_ctx *lx)
{
    /* of the field being reported, for list_add */
    field_info *fi = lx ? &lx->fi : NULL;
    cursor c = {in, len, 0, e};
    size_t list = 0;
    int over = 0, fields = 0, rc;

    while (c.pos < len) {
        uint8_t b = in[c.pos];
        size_t start = c.pos;
        uint32_t idx;

        if ((b & 0xe0) == 0x20) {
            /* §6.3 dynamic table size update: only before the first field
             * (§4.2), never above the local limit. */
            if (fields)
                return derr(&c, LOOM_ERR_COMPRESSION,
                            "table size update after a field (RFC 7541 §4.2)");
            if ((rc = read_int(&c, 5, &idx)) < 0) return rc;
            if (idx > d->max_allowed) {
                c.pos = start;
                return derr(&c, LOOM_ERR_COMPRESSION,
                            "table size update above SETTINGS_HEADER_TABLE_SIZE (RFC 7541 §6.3)");
            }
            if (d->need_update && idx > d->min_since) {
                c.pos = start;
                return derr(&c, LOOM_ERR_COMPRESSION,
                            "first table size update above the smallest limit set (RFC 7541 §4.2)");
            }
            d->t.max = idx;
            table_evict_to(&d->t, idx);
            d->need_update = 0;
            continue;
        }
        if (d->need_update)
            return derr(&c, LOOM_ERR_COMPRESSION,
                        "missing table size update after a lowered limit (RFC 7541 §4.2)");
        fields++;

        loom_hpack_field f;
        loom_hpack_rep rep;
        f.flags = 0;

        if (b & 0x80) {
            /* §6.1 indexed field */
            if ((rc = read_int(&c, 7, &idx)) < 0) return rc;
            if (idx == 0) {
                c.pos = start;
                return derr(&c, LOOM_ERR_COMPRESSION, "index 0 (RFC 7541 §6.1)");
            }
            if (idx <= LOOM_HPACK_STATIC_ENTRIES) {
                if (lx) {
                    /* the list limit (RFC 9113 §6.5.2; a field costs its
                     * octets plus 32, RFC 7541 §4.1), then the entry by
                     * pointer: the static table is valid HTTP/2 */
                    const loom_hpack_field *sf = &loom__hpack_static[idx];
                    size_t cost = (size_t)sf->name_len + sf->value_len + ENTRY_OVERHEAD;
                    if (over || list + cost > d->max_list) {
                        over = 1;
                        continue;
                    }
                    list += cost;
                    if ((rc = list_add_static(lx, idx)) != 0) return rc;
                    continue;
                }
                f = loom__hpack_static[idx];
            } else if (idx - LOOM_HPACK_STATIC_ENTRIES <= d->t.count) {
                entry *en = (entry *)table_get(&d->t, idx - LOOM_HPACK_STATIC_ENTRIES);
                /* the list limit (RFC 9113 §6.5.2, costs as RFC 7541
                 * §4.1), checked once: past it, never expanded (the bomb
                 * costs nothing) */
                size_t cost = (size_t)en->nlen + en->vlen + ENTRY_OVERHEAD;
                if (over || list + cost > d->max_list) {
                    over = 1;
                    continue;
                }
                list += cost;
                /* scratch is needed only by an entry that wraps around
                 * the ring's end (its name, then its value, else lie in
                 * one piece) */
                int wraps = (size_t)en->off + en->nlen + en->vlen > d->t.bcap;
                if (lx && !wraps) {
                    /* the usual case: pointed to in the ring, not copied,
                     * until the table changes later in the block (list_pin:
                     * a later insertion may evict it, RFC 7541 §4.4).
                     * Checked once, on first use (RFC 9113 §8.2.1): later
                     * references are free. */
                    const uint8_t *p = d->t.buf + en->off;
                    if (!en->ok)
                        en->ok = loom__field_octets_ok(p, en->nlen, p + en->nlen, en->vlen) ? 1 : 2;
                    if ((rc = list_add_ring(lx, p, en->nlen, en->vlen, en->ok == 1)) != 0)
                        return rc;
                    continue;
                }
                uint8_t *dst = NULL;
                if (wraps) {
                    if (scratch_reserve(d, (size_t)en->nlen + en->vlen) < 0)
                        return derr(&c, LOOM_ERR_NOMEM, "out of memory");
                    dst = d->scratch;
                }
                f.name = ring_read(&d->t, en->off, en->nlen, dst);
                f.name_len = en->nlen;
                f.value = ring_read(&d->t, ring_add(&d->t, en->off, en->nlen), en->vlen,
                                    dst ? dst + en->nlen : NULL);
                f.value_len = en->vlen;
                f.flags = 0;
                if (fi) {
                    if (!en->ok)
                        en->ok =
                            loom__field_octets_ok(f.name, f.name_len, f.value, f.value_len) ? 1 : 2;
                    /* a wrapped entry: copied into the list (in part from
                     * scratch) */
                    *fi = (field_info){0, 0, en->ok == 1};
                }
                if (cb && (rc = cb(user, &f, LOOM_HPACK_REP_INDEXED)) != 0) return rc;
                continue;
            } else {
                c.pos = start;
                return derr(&c, LOOM_ERR_COMPRESSION,
                            "index past the end of the table (RFC 7541 §2.3.3)");
            }
            rep = LOOM_HPACK_REP_INDEXED;
        } else {
            /* §6.2 literals: 01 incremental (6-bit index), 0000 without
             * indexing, 0001 never indexed (4-bit index). */
            int incremental = (b & 0x40) != 0;
            rep = incremental       ? LOOM_HPACK_REP_INCREMENTAL
                  : (b & 0x10) != 0 ? LOOM_HPACK_REP_NEVER_INDEXED
                                    : LOOM_HPACK_REP_WITHOUT_INDEX;
            if (rep == LOOM_HPACK_REP_NEVER_INDEXED) f.flags = LOOM_HPACK_NEVER_INDEXED;
            if ((rc = read_int(&c, incremental ? 6 : 4, &idx)) < 0) return rc;

            lit nl = {NULL, 0, 0}, vl;
            const entry *nen = NULL;
            if (idx == 0) {
                if ((rc = read_lit(&c, &nl)) < 0) return rc;
            } else if (idx <= LOOM_HPACK_STATIC_ENTRIES) {
                f.name = loom__hpack_static[idx].name;
                f.name_len = loom__hpack_static[idx].name_len;
            } else if (idx - LOOM_HPACK_STATIC_ENTRIES <= d->t.count) {
                nen = table_get(&d->t, idx - LOOM_HPACK_STATIC_ENTRIES);
                f.name_len = nen->nlen;
            } else {
                c.pos = start;
                return derr(&c, LOOM_ERR_COMPRESSION,
                            "name index past the end of the table (RFC 7541 §2.3.3)");
            }
            if ((rc = read_lit(&c, &vl)) < 0) return rc;

            /* How much may be expanded: what the list budget allows, or for
             * an entry to be indexed what the table can hold, so the table
             * stays in step even past the list limit. */
            int room = !over && list + ENTRY_OVERHEAD <= d->max_list;
            size_t budget = room ? d->max_list - list - ENTRY_OVERHEAD : 0;
            if (incremental && d->t.max > budget) budget = d->t.max;
            if (!incremental && !room) {
                /* past the limit: skipped, but still checked (§5.2) */
                over = 1;
                if ((rc = check_lits(&c, idx ? NULL : &nl, &vl)) < 0) return rc;
                continue;
            }
            size_t at = 0, vlen;
            const uint8_t *old = d->scratch, *vp;
            if (nen) {
                if (nen->nlen > budget) goto too_big;
                if (scratch_reserve(d, nen->nlen) < 0)
                    return derr(&c, LOOM_ERR_NOMEM, "out of memory");
                /* copied: the insertion below may evict this entry */
                f.name = ring_read(&d->t, nen->off, nen->nlen, d->scratch);
                if (f.name != d->scratch) memcpy(d->scratch, f.name, nen->nlen);
                f.name = d->scratch;
                at = nen->nlen;
                old = d->scratch;
            } else if (idx == 0) {
                rc = expand(d, &c, &nl, &at, budget, &f.name, &f.name_len, NULL);
                if (rc < 0) return rc;
                if (rc == 1) goto too_big;
                old = d->scratch;
            }
            if (f.name_len > budget) goto too_big;
            int static_name = idx && idx <= LOOM_HPACK_STATIC_ENTRIES, memo;
            rc = expand(d, &c, &vl, &at, budget - f.name_len, &vp, &vlen, &memo);
            if (rc < 0) return rc;
            if (rc == 1) goto too_big;
            f.name = rebase(d, f.name, old);
            f.value = vp;
            f.value_len = vlen;
            if (fi) {
                /* raw literals lie in the block; static names are static.
                 * A static name is valid HTTP/2 (RFC 9113 §8.2.1): the
                 * value alone is checked here (its verdict kept with the
                 * Huffman memo, for the literal that comes every time),
                 * which spares the field the whole check later. */
                int ok = 0;
                if (static_name && memo) {
                    if (!d->hm_ok) d->hm_ok = loom__field_value_ok(vp, vlen) ? 1 : 2;
                    ok = d->hm_ok == 1;
                } else if (static_name) {
                    ok = loom__field_value_ok(vp, vlen);
                }
                *fi = (field_info){static_name || (!idx && !nl.huff), !vl.huff, (uint8_t)ok};
            }
            if (incremental) {
                if (lx && (rc = list_pin(lx)) != 0) return rc;
                if (table_reserve(&d->t, d->t.max, d->mem) < 0)
                    return derr(&c, LOOM_ERR_NOMEM, "out of memory");
            }
            size_t cost = f.name_len + f.value_len + ENTRY_OVERHEAD;
            if (!over && list + cost <= d->max_list) {
                list += cost;
                if (cb && (rc = cb(user, &f, rep)) != 0) return rc;
            } else {
                over = 1;
            }
            if (incremental) table_insert(&d->t, f.name, f.name_len, f.value, f.value_len);
            continue;
        too_big:
            /* Larger than both the list budget and the table: not
             * reported, and (§4.4) an entry larger than the table empties
             * it. */
            over = 1;
            if (incremental) {
                if (lx && (rc = list_pin(lx)) != 0) return rc;
                table_evict_to(&d->t, 0);
            }
            if ((rc = check_lits(&c, idx ? NULL : &nl, &vl)) < 0) return rc;
            continue;
        }

        /* the only field left here: a static-table entry for loom_hpack_decode */
        size_t cost = f.name_len + f.value_len + ENTRY_OVERHEAD;
        if (over || list + cost > d->max_list) {
            over = 1;
            continue;
        }
        list += cost;
        if (cb && (rc = cb(user, &f, rep)) != 0) return rc;
    }
    if (d->need_update)
        return derr(&c, LOOM_ERR_COMPRESSION,
                    "missing table size update after a lowered limit (RFC 7541 §4.2)");
    if (over) {
        c.pos = len;
        return derr(&c, LOOM_ERR_LIMIT,
                    "header list larger than SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2)");
    }
    return 0;
}

/* ---- whole blocks into a list ---- */

void loom_hpack_list_init(loom_hpack_list *l, const loom_mem *mem)
{
    memset(l, 0, sizeof(*l));
    l->mem = mem ? mem : loom_mem_default();
}

void loom_hpack_list_free(loom_hpack_list *l)
{
    loom_free(l->mem, l->fields);
    loom_free(l->mem, l->reps);
    loom_free(l->mem, l->buf);
    l->fields = NULL;
    l->reps = NULL;
    l->buf = NULL;
    l->n = l->cap = l->used = l->bcap = 0;
}

/* The list's strings are pointers from the start (no offsets to fix up
 * when the block ends): when the list's octets move as they grow, what
 * pointed into them follows. A string elsewhere lies in another live object
 * (the static table, the block, the ring), so it is not in the old octets;
 * an empty one just past them may be moved along, harmlessly. */
static __attribute__((noinline)) int list_reserve(list_ctx *x, size_t need)
{
    loom_hpack_list *l = x->l;
    uintptr_t old = (uintptr_t)l->buf;
    size_t used = l->used;
    int rc = loom__grow(l->mem, (void **)&l->buf, &l->bcap, need, 1, x->max_bytes);
    if (rc < 0 || !old || (uintptr_t)l->buf == old) return rc;
    for (size_t i = 0; i < l->n; i++) {
        loom_hpack_field *f = &l->fields[i];
        uintptr_t no = (uintptr_t)f->name - old, vo = (uintptr_t)f->value - old;
        if (no < used || (no == used && !f->name_len)) f->name = l->buf + no;
        if (vo < used || (vo == used && !f->value_len)) f->value = l->buf + vo;
    }
    return 0;
}

static __attribute__((noinline)) int list_grow_fields(list_ctx *x)
{
    loom_hpack_list *l = x->l;
    size_t cap = l->cap;
    int rc =
        loom__grow(l->mem, (void **)&l->fields, &cap, l->n + 1, sizeof(*l->fields), x->max_fields);
    if (rc < 0) return rc;
    size_t rcap = l->cap;
    rc = loom__grow(l->mem, (void **)&l->reps, &rcap, cap, 1, cap);
    if (rc < 0) return rc;
    l->cap = cap;
    return 0;
}

/* Appends a field whose strings stay where they are. */
static inline __attribute__((always_inline)) int list_put(list_ctx *x, const uint8_t *name,
                                                          size_t nlen, const uint8_t *value,
                                                          size_t vlen, uint8_t flags, uint8_t r)
{
    loom_hpack_list *l = x->l;
    if (l->n == l->cap) {
        int rc = list_grow_fields(x);
        if (rc < 0) return rc;
    }
    loom_hpack_field *d = &l->fields[l->n];
    d->name = name;
    d->name_len = nlen;
    d->value = value;
    d->value_len = vlen;
    d->flags = flags;
    l->reps[l->n++] = r;
    return 0;
}

/* Copies n octets into the list's (reserved) octets. */
static inline const uint8_t *list_copy(loom_hpack_list *l, const uint8_t *p, size_t n)
{
    uint8_t *at = l->buf + l->used;
    if (n) memcpy(at, p, n);
    l->used += n;
    return at;
}

/* Adds a decoded field to the list: strings that stay valid for the block
 * (the static table, raw octets of the block; x->fi says which) by pointer,
 * others copied into the list's octets. */
static inline __attribute__((always_inline)) int list_add(void *user, const loom_hpack_field *f,
                                                          loom_hpack_rep rep)
{
    list_ctx *x = user;
    loom_hpack_list *l = x->l;
    size_t need =
        l->used + (x->fi.name_stable ? 0 : f->name_len) + (x->fi.value_stable ? 0 : f->value_len);
    if (need > l->bcap || !l->buf) { /* the arena grows while warming up only */
        int rc = list_reserve(x, need);
        if (rc < 0) return rc;
    }
    const uint8_t *name = x->fi.name_stable ? f->name : list_copy(l, f->name, f->name_len);
    const uint8_t *value = x->fi.value_stable ? f->value : list_copy(l, f->value, f->value_len);
    return list_put(x, name, f->name_len, value, f->value_len, f->flags,
                    (uint8_t)rep | (x->fi.checked ? LOOM_HPACK_CHECKED : 0));
}

/* An indexed static-table entry (RFC 7541 §6.1), valid HTTP/2. */
static inline __attribute__((always_inline)) int list_add_static(list_ctx *x, uint32_t idx)
{
    const loom_hpack_field *f = &loom__hpack_static[idx];
    return list_put(x, f->name, f->name_len, f->value, f->value_len, f->flags,
                    LOOM_HPACK_REP_INDEXED | LOOM_HPACK_CHECKED);
}

/* An indexed dynamic-table entry lying in one piece in the ring at p: its
 * name, then its value. Pointed to until list_pin. */
static inline __attribute__((always_inline)) int
list_add_ring(list_ctx *x, const uint8_t *p, uint32_t nlen, uint32_t vlen, int checked)
{
    if (x->ring_from == RING_NONE) x->ring_from = x->l->n;
    return list_put(x, p, nlen, p + nlen, vlen, 0,
                    LOOM_HPACK_REP_INDEXED | (checked ? LOOM_HPACK_CHECKED : 0));
}

/* The table is about to change (an insertion, a reservation that may move
 * the ring, an eviction: RFC 7541 §4.4): the fields that point into its
 * ring are copied into the list's octets first, so a field evicted later in
 * the block keeps the value it was decoded with. Only fields from
 * ring_from on can; a string is in the ring when its address is. */
static int list_pin(list_ctx *x)
{
    if (x->ring_from == RING_NONE) return 0;
    loom_hpack_list *l = x->l;
    uintptr_t lo = (uintptr_t)x->t->buf;
    size_t bcap = x->t->bcap;
    for (size_t i = x->ring_from; i < l->n; i++) {
        loom_hpack_field *f = &l->fields[i];
        /* (an empty value may point just past the ring's end) */
        uintptr_t no = (uintptr_t)f->name - lo, vo = (uintptr_t)f->value - lo;
        int rn = no < bcap || (no == bcap && !f->name_len);
        int rv = vo < bcap || (vo == bcap && !f->value_len);
        if (!rn && !rv) continue;
        size_t need = l->used + (rn ? f->name_len : 0) + (rv ? f->value_len : 0);
        if (need > l->bcap || !l->buf) {
            int rc = list_reserve(x, need);
            if (rc < 0) return rc;
        }
        if (rn) f->name = list_copy(l, f->name, f->name_len);
        if (rv) f->value = list_copy(l, f->value, f->value_len);
    }
    x->ring_from = RING_NONE;
    return 0;
}

int loom_hpack_decode_block(loom_hpack_decoder *d, const uint8_t *in, size_t len,
                            loom_hpack_list *l, loom_hpack_error *e)
{
    if (!l->mem) l->mem = loom_mem_default(); /* a zero-initialised list */
    l->n = 0;
    l->used = 0;
    e->err = 0;
    e->offset = 0;
    e->reason = NULL;
    /* The list limit bounds what is reported (RFC 7541 §4.1: each field
     * costs its octets plus 32), so it bounds the list too. */
    list_ctx x = {l, &d->t, d->max_list / ENTRY_OVERHEAD + 1, d->max_list, {0, 0, 0}, RING_NONE};
    int rc = decode_core(d, in, len, list_add, &x, e, &x);
    if (rc == LOOM_ERR_NOMEM || rc == LOOM_ERR_LIMIT) {
        /* from list_add: report it as the decoder reports its own */
        if (!e->reason) {
            e->err = rc;
            e->offset = 0;
            e->reason = rc == LOOM_ERR_NOMEM
                            ? "out of memory"
                            : "header list larger than its limit (RFC 9113 §6.5.2)";
        }
    }
    return rc;
}

/* ---- encoder ---- */

struct loom_hpack_encoder {
    const loom_mem *mem;
    dyn_table t;
    uint32_t cap;      /* our own limit on the table */
    uint32_t peer_max; /* the peer's SETTINGS_HEADER_TABLE_SIZE */
    int pending;       /* size updates owed at the next block (RFC 7541 §4.2) */
    size_t pending_min;
    uint64_t *bname, *bnv; /* hash buckets: newest entry number + 1, or 0 */
    size_t nbuckets;       /* power of two */
    loom_hpack_huffman huffman;
    /* names seen lately, by hash: their static-table index (0: none) and
     * how many static entries share the name. A hit for a static name is
     * checked by comparing the name; a stale or colliding "not static"
     * costs compression, never correctness. */
    struct {
        uint32_t h;
        uint8_t valid, idx, count;
    } names[256];
    /* name-and-value hashes of volatile fields (see worth_indexing) sent
     * lately without indexing, by the hash's low bits */
    uint32_t seen[64];
    uint64_t seen_writes;
    /* The last block, when encoding it changed nothing (no insertion, no
     * size update, no new volatile sighting): the same fields against the
     * same table encode to the same octets, so a server sending the same
     * response head again and again (a static file) copies them instead
     * of looking every field up. memo holds the fields (lengths, flags,
     * octets) and then the block; at most MEMO_MAX octets, made at the
     * first block worth remembering. */
    uint8_t *memo;
    uint64_t memo_key; /* the caller's key for the memo's fields, or 0 */
    size_t memo_fields, memo_out, memo_n;
    uint64_t memo_inserted;
    size_t memo_count; /* entries then: an eviction without insertion shows */
    size_t memo_max_table;
    loom_hpack_huffman memo_huffman;
    int memo_informational; /* its first field is a 1xx :status */
};

#define MEMO_MAX 2048

/* A hash of 8 octets per step (multiply and fold), for the encoder's
 * lookups: it runs over every name and value, so it must be cheap. The
 * last 1-7 octets are read as two overlapping loads, without a loop. */
static uint32_t hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    const uint64_t k = 0x9e3779b97f4a7c15ull;
    uint64_t w = (uint64_t)n << 56;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        h = (h ^ x) * k;
        h ^= h >> 29;
    }
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        w ^= (uint64_t)a << 32 | b;
    } else if (n) {
        w ^= (uint64_t)p[0] << 16 | (uint64_t)p[n / 2] << 8 | p[n - 1];
    }
    h = (h ^ w) * k;
    h ^= h >> 32;
    return (uint32_t)h;
}

/* (Re)builds the hash chains after the entry ring was laid out anew. */
static int enc_reindex(loom_hpack_encoder *enc)
{
    size_t nb = 16;
    while (nb < enc->t.ecap)
        nb *= 2;
    if (nb != enc->nbuckets) {
        uint64_t *a = loom_malloc(enc->mem, nb * sizeof(uint64_t));
        uint64_t *b = loom_malloc(enc->mem, nb * sizeof(uint64_t));
        if (!a || !b) {
            loom_free(enc->mem, a);
            loom_free(enc->mem, b);
            return LOOM_ERR_NOMEM;
        }
        loom_free(enc->mem, enc->bname);
        loom_free(enc->mem, enc->bnv);
        enc->bname = a;
        enc->bnv = b;
        enc->nbuckets = nb;
    }
    memset(enc->bname, 0, nb * sizeof(uint64_t));
    memset(enc->bnv, 0, nb * sizeof(uint64_t));
    for (size_t i = enc->t.count; i >= 1; i--) {
        uint64_t num = enc->t.inserted - i;
        entry *e = &ENT(&enc->t, num);
        e->next_name = enc->bname[e->hname & (nb - 1)];
        enc->bname[e->hname & (nb - 1)] = num + 1;
        e->next_nv = enc->bnv[e->hnv & (nb - 1)];
        enc->bnv[e->hnv & (nb - 1)] = num + 1;
    }
    return 0;
}

static int enc_resize(loom_hpack_encoder *enc)
{
    size_t want = enc->cap < enc->peer_max ? enc->cap : enc->peer_max;
    if (want == enc->t.max) return 0;
    /* entries may be evicted without an insertion: the memo's block may
     * name them, and a later return to this size would not show it */
    enc->memo_out = 0;
    enc->memo_key = 0;
    enc->pending = 1;
    if (want < enc->pending_min) enc->pending_min = want;
    table_evict_to(&enc->t, want);
    enc->t.max = want;
    /* an encoder that has not inserted yet reserves at its first insertion */
    if (!enc->bname) return 0;
    size_t ecap = enc->t.ecap;
    int rc = table_reserve(&enc->t, want, enc->mem);
    if (rc < 0) return rc;
    return enc->t.ecap != ecap ? enc_reindex(enc) : 0;
}

loom_hpack_encoder *loom_hpack_encoder_new(const loom_mem *mem)
{
    if (!mem) mem = loom_mem_default();
    loom_hpack_encoder *enc = loom_malloc(mem, sizeof(*enc));
    if (!enc) return NULL;
    memset(enc, 0, sizeof(*enc));
    enc->mem = mem;
    enc->cap = enc->peer_max = LOOM_HPACK_DEFAULT_TABLE_SIZE;
    enc->t.max = LOOM_HPACK_DEFAULT_TABLE_SIZE;
    enc->pending_min = SIZE_MAX;
    /* the table's memory is taken at the first insertion: an idle
     * connection costs only this struct */
    return enc;
}

/* Room for the table and its hash index, before an insertion. */
static int enc_ready(loom_hpack_encoder *enc)
{
    size_t ecap = enc->t.ecap;
    int rc = table_reserve(&enc->t, enc->t.max, enc->mem);
    if (rc < 0) return rc;
    return enc->t.ecap != ecap || !enc->bname ? enc_reindex(enc) : 0;
}

void loom_hpack_encoder_free(loom_hpack_encoder *enc)
{
    if (!enc) return;
    table_free(&enc->t, enc->mem);
    loom_free(enc->mem, enc->bname);
    loom_free(enc->mem, enc->bnv);
    loom_free(enc->mem, enc->memo);
    loom_free(enc->mem, enc);
}

int loom_hpack_encoder_set_max_table_size(loom_hpack_encoder *enc, uint32_t peer_max)
{
    enc->peer_max = peer_max;
    return enc_resize(enc);
}

int loom_hpack_encoder_set_table_cap(loom_hpack_encoder *enc, uint32_t cap)
{
    enc->cap = cap;
    return enc_resize(enc);
}

void loom_hpack_encoder_set_huffman(loom_hpack_encoder *enc, loom_hpack_huffman mode)
{
    enc->huffman = mode;
}

size_t loom_hpack_encoder_table_size(const loom_hpack_encoder *enc)
{
    return enc->t.size;
}

size_t loom_hpack_encoder_table_len(const loom_hpack_encoder *enc)
{
    return enc->t.count;
}

size_t loom_hpack_encoder_table_max(const loom_hpack_encoder *enc)
{
    return enc->t.max;
}

int loom_hpack_encoder_table_get(const loom_hpack_encoder *enc, size_t i, loom_hpack_field *f,
                                 uint8_t *buf, size_t cap)
{
    return table_copy(&enc->t, i, f, buf, cap);
}

size_t loom_hpack_encode_bound(const loom_hpack_field *fields, size_t n)
{
    /* two size updates, then per field: representation + index (6),
     * two string lengths (6 each) and the strings (Huffman only when
     * shorter) */
    size_t b = 12;
    for (size_t i = 0; i < n; i++)
        b += 18 + fields[i].name_len + fields[i].value_len;
    return b;
}

/* Compares n bytes at ring offset off with p. */

static int ring_eq(const dyn_table *t, size_t off, const uint8_t *p, size_t n)
{
    size_t first = t->bcap - off < n ? t->bcap - off : n;
    if (!loom__same(t->buf + off, p, first)) return 0;
    return n == first || loom__same(t->buf, p + first, n - first);
}

/* The newest live entry matching name (and value, if value_too). Returns
 * its HPACK index or 0. */
static uint32_t enc_find(const loom_hpack_encoder *enc, const loom_hpack_field *f, uint32_t h,
                         int value_too)
{
    const dyn_table *t = &enc->t;
    if (!enc->bname) return 0; /* nothing inserted yet */
    uint64_t oldest = t->inserted - t->count;
    uint64_t num = (value_too ? enc->bnv : enc->bname)[h & (enc->nbuckets - 1)];
    while (num && num - 1 >= oldest) {
        const entry *e = &ENT(t, num - 1);
        if ((value_too ? e->hnv : e->hname) == h && e->nlen == f->name_len &&
            (!value_too || e->vlen == f->value_len) && ring_eq(t, e->off, f->name, f->name_len) &&
            (!value_too || ring_eq(t, ring_add(t, e->off, e->nlen), f->value, f->value_len)))
            return LOOM_HPACK_STATIC_ENTRIES + (uint32_t)(t->inserted - (num - 1));
        num = value_too ? e->next_nv : e->next_name;
    }
    return 0;
}

/* The static-table index of f's name (0 when it has none), through the
 * encoder's cache of recent names. */
static uint32_t static_name(loom_hpack_encoder *enc, const loom_hpack_field *f, uint32_t h)
{
    uint32_t slot = h & 255;
    if (enc->names[slot].valid && enc->names[slot].h == h) {
        uint32_t idx = enc->names[slot].idx;
        if (!idx) return 0;
        const loom_hpack_field *e = &loom__hpack_static[idx];
        if (e->name_len == f->name_len && loom__same(e->name, f->name, f->name_len)) return idx;
    }
    uint32_t count = 0, idx = loom__hpack_static_name(f->name, f->name_len, &count);
    enc->names[slot].h = h;
    enc->names[slot].valid = 1;
    enc->names[slot].idx = (uint8_t)idx;
    enc->names[slot].count = (uint8_t)count;
    return idx;
}

static int name_is(const loom_hpack_field *f, const char *s, size_t n)
{
    return f->name_len == n && loom__same(f->name, (const uint8_t *)s, n);
}
#define NAME_IS(f, lit) name_is((f), (lit), sizeof(lit) - 1)

/* RFC 7541 §7.1.3: credentials and short cookies (guessable one at a time
 * through the table) are never indexed. */
static int sensitive(const loom_hpack_field *f)
{
    if (f->flags & LOOM_HPACK_NEVER_INDEXED) return 1;
    if (NAME_IS(f, "authorization") || NAME_IS(f, "proxy-authorization")) return 1;
    return NAME_IS(f, "cookie") && f->value_len < 20;
}

/* Whether adding the field to the table is likely to pay: values that
 * differ on almost every message (a path, a length, an age, a modification
 * time) would only push useful entries out, so they are indexed only the
 * second time they are seen (hnv, the name-and-value hash, is remembered in
 * a small direct-mapped set): a response repeated over and over (the same
 * file's content-length and last-modified) then costs an octet a field, and
 * a value seen once costs no entry. Measured on the hpack-test-case
 * raw-data stories (bench/hpack): this choice encodes them smaller than
 * libnghttp2's encoder does. */
static int worth_indexing(loom_hpack_encoder *enc, const loom_hpack_field *f, uint32_t hnv)
{
    if (f->flags & LOOM_HPACK_NO_INDEX) return 0;
    if (f->flags & LOOM_HPACK_INDEX)
        return f->name_len + f->value_len + ENTRY_OVERHEAD <= enc->t.max;
    if (f->name_len + f->value_len + ENTRY_OVERHEAD > enc->t.max * 3 / 4) return 0;
    int volatile_name;
    switch (f->name_len) {
    case 3: volatile_name = NAME_IS(f, "age"); break;
    case 5: volatile_name = NAME_IS(f, ":path"); break;
    case 13: volatile_name = NAME_IS(f, "last-modified"); break;
    case 14: volatile_name = NAME_IS(f, "content-length"); break;
    default: volatile_name = 0;
    }
    if (!volatile_name) return 1;
    uint32_t *slot = &enc->seen[hnv & 63];
    if (*slot == (hnv | 1)) return 1;
    *slot = hnv | 1; /* never 0: 0 is an empty slot */
    enc->seen_writes++;
    return 0;
}

/* An integer in one octet when it fits the prefix, as most do. */
static inline size_t put_int(uint8_t *out, int prefix, uint8_t first, uint32_t v)
{
    if (v < (1u << prefix) - 1) {
        out[0] = (uint8_t)((first & ~((1u << prefix) - 1)) | v);
        return 1;
    }
    return (size_t)loom_hpack_int_encode(out, 6, prefix, first, v);
}

/* A string literal, Huffman-coded only when that is shorter (RFC 7541
 * §5.2). One pass: the Huffman coding is written straight into place, with
 * room for no more than the raw length; when it does not fit, the raw
 * octets are copied instead. */
static size_t put_string(uint8_t *out, const uint8_t *s, size_t n, loom_hpack_huffman mode)
{
    /* the length prefix of a Huffman string shorter than n is no longer
     * than n's: code after that much room, move back if it came out shorter */
    size_t room = n < 127 ? 1 : (size_t)loom_hpack_int_encode(out, 6, 7, 0, (uint32_t)n);
    size_t hcap = mode == LOOM_HPACK_HUFFMAN_PREFER ? n : n - 1;
    int h = n && mode != LOOM_HPACK_HUFFMAN_NEVER ? loom_huffman_encode(s, n, out + room, hcap)
                                                  : LOOM_ERR_BUFFER;
    if (h >= 0) {
        size_t k = put_int(out, 7, 0x80, (uint32_t)h);
        if (k != room) memmove(out + k, out + room, (size_t)h);
        return k + (size_t)h;
    }
    size_t k = put_int(out, 7, 0x00, (uint32_t)n);
    if (n) memcpy(out + k, s, n);
    return k + n;
}

/* The memo's block, when it is still what its fields encode to (the table
 * as it was when it was made). */
static int memo_table_same(const loom_hpack_encoder *enc)
{
    return enc->memo_out && !enc->pending && enc->memo_inserted == enc->t.inserted &&
           enc->memo_count == enc->t.count && enc->memo_max_table == enc->t.max &&
           enc->memo_huffman == enc->huffman;
}

/* Whether fields are the memo's, against the same table (the block's
 * octets follow the fields in enc->memo). */
static int memo_hit(const loom_hpack_encoder *enc, const loom_hpack_field *fields, size_t n)
{
    if (enc->memo_n != n || !memo_table_same(enc)) return 0;
    const uint8_t *m = enc->memo;
    for (size_t i = 0; i < n; i++) {
        const loom_hpack_field *f = &fields[i];
        uint32_t nl, vl;
        memcpy(&nl, m, 4);
        memcpy(&vl, m + 4, 4);
        if (nl != f->name_len || vl != f->value_len || m[8] != f->flags ||
            !loom__same(m + 9, f->name, nl) || !loom__same(m + 9 + nl, f->value, vl))
            return 0;
        m += 9 + nl + vl;
    }
    return 1;
}

static int memo_store(loom_hpack_encoder *enc, const loom_hpack_field *fields, size_t n,
                      const uint8_t *out, size_t len)
{
    size_t need = len;
    for (size_t i = 0; i < n; i++) {
        need += 9 + fields[i].name_len + fields[i].value_len;
        if (need > MEMO_MAX) return 0;
    }
    if (!enc->memo && !(enc->memo = loom_malloc(enc->mem, MEMO_MAX))) return 0;
    uint8_t *m = enc->memo;
    for (size_t i = 0; i < n; i++) {
        uint32_t nl = (uint32_t)fields[i].name_len, vl = (uint32_t)fields[i].value_len;
        memcpy(m, &nl, 4);
        memcpy(m + 4, &vl, 4);
        m[8] = (uint8_t)fields[i].flags;
        if (nl) memcpy(m + 9, fields[i].name, nl);
        if (vl) memcpy(m + 9 + nl, fields[i].value, vl);
        m += 9 + nl + vl;
    }
    memcpy(m, out, len);
    enc->memo_fields = (size_t)(m - enc->memo);
    enc->memo_out = len;
    enc->memo_n = n;
    enc->memo_inserted = enc->t.inserted;
    enc->memo_count = enc->t.count;
    enc->memo_max_table = enc->t.max;
    enc->memo_huffman = enc->huffman;
    enc->memo_informational = loom__fields_informational(fields, n);
    return 1;
}

static int encode_block(loom_hpack_encoder *enc, const loom_hpack_field *fields, size_t n,
                        uint8_t *out);

/* The remembered block is the one for key (never key 0), and the table is
 * as it was when it was encoded. */
static int memo_keyed(const loom_hpack_encoder *enc, uint64_t key)
{
    return key && key == enc->memo_key && memo_table_same(enc);
}

static int encode_memo(loom_hpack_encoder *enc, uint64_t key, const loom_hpack_field *fields,
                       size_t n, uint8_t *out)
{
    if (memo_keyed(enc, key) || memo_hit(enc, fields, n)) {
        memcpy(out, enc->memo + enc->memo_fields, enc->memo_out);
        enc->memo_key = key;
        return (int)enc->memo_out;
    }
    uint64_t inserted = enc->t.inserted, seen = enc->seen_writes;
    size_t count = enc->t.count;
    int pending = enc->pending;
    int len = encode_block(enc, fields, n, out);
    enc->memo_key = 0;
    if (len > 0 && !pending && enc->t.inserted == inserted && enc->t.count == count &&
        enc->seen_writes == seen) {
        if (memo_store(enc, fields, n, out, (size_t)len)) enc->memo_key = key;
    }
    return len;
}

const uint8_t *loom__hpack_keyed_block(const loom_hpack_encoder *enc, uint64_t key, size_t *len,
                                       int *informational)
{
    if (!memo_keyed(enc, key)) return NULL;
    *informational = enc->memo_informational;
    *len = enc->memo_out;
    return enc->memo + enc->memo_fields;
}

int loom_hpack_encode(loom_hpack_encoder *enc, const loom_hpack_field *fields, size_t n,
                      uint8_t *out, size_t cap)
{
    if (cap < loom_hpack_encode_bound(fields, n)) return LOOM_ERR_BUFFER;
    return encode_memo(enc, 0, fields, n, out);
}

int loom__hpack_encode_keyed(loom_hpack_encoder *enc, uint64_t key, const loom_hpack_field *fields,
                             size_t n, uint8_t *out)
{
    return encode_memo(enc, key, fields, n, out);
}

static int encode_block(loom_hpack_encoder *enc, const loom_hpack_field *fields, size_t n,
                        uint8_t *out)
{
    size_t o = 0;
    if (enc->pending) {
        /* RFC 7541 §4.2: the smallest size since the last block, then the
         * final one. */
        if (enc->pending_min < enc->t.max)
            o += (size_t)loom_hpack_int_encode(out + o, 6, 5, 0x20, (uint32_t)enc->pending_min);
        o += (size_t)loom_hpack_int_encode(out + o, 6, 5, 0x20, (uint32_t)enc->t.max);
        enc->pending = 0;
        enc->pending_min = SIZE_MAX;
    }
    for (size_t i = 0; i < n; i++) {
        const loom_hpack_field *f = &fields[i];
        int never = sensitive(f);
        uint32_t hname = hash_bytes(0x243f6a8885a308d3ull, f->name, f->name_len);
        uint32_t idx = static_name(enc, f, hname), exact = 0;
        for (uint32_t k = idx; idx && k < idx + enc->names[hname & 255].count; k++)
            if (loom__hpack_static[k].value_len == f->value_len &&
                loom__same(loom__hpack_static[k].value, f->value, f->value_len)) {
                exact = k;
                break;
            }
        if (exact && !never) {
            /* §6.1 indexed field from the static table */
            o += put_int(out + o, 7, 0x80, exact);
            continue;
        }
        uint32_t hnv = hash_bytes(hname, f->value, f->value_len);
        if (!never) {
            uint32_t dyn = enc_find(enc, f, hnv, 1);
            if (dyn) {
                o += put_int(out + o, 7, 0x80, dyn);
                continue;
            }
        }
        if (!idx) idx = enc_find(enc, f, hname, 0);
        int incremental = !never && worth_indexing(enc, f, hnv);
        if (incremental) /* §6.2.1 */
            o += put_int(out + o, 6, 0x40, idx);
        else /* §6.2.3 never indexed, §6.2.2 without indexing */
            o += put_int(out + o, 4, never ? 0x10 : 0x00, idx);
        if (!idx) o += put_string(out + o, f->name, f->name_len, enc->huffman);
        o += put_string(out + o, f->value, f->value_len, enc->huffman);
        if (incremental) {
            if (enc_ready(enc) < 0) return LOOM_ERR_NOMEM;
            entry *e = table_insert(&enc->t, f->name, f->name_len, f->value, f->value_len);
            if (e) {
                size_t m = enc->nbuckets - 1;
                uint64_t num = enc->t.inserted; /* newest number + 1 */
                e->hname = hname;
                e->hnv = hnv;
                e->next_name = enc->bname[hname & m];
                enc->bname[hname & m] = num;
                e->next_nv = enc->bnv[hnv & m];
                enc->bnv[hnv & m] = num;
            }
        }
    }
    return (int)o;
}
