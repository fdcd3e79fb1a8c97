/* RFC 7541 Appendix C, byte for byte.
 *
 * Decoder: every example block (C.2.1-C.2.4, C.3, C.4, C.5, C.6) decodes to
 * the RFC's header list with the RFC's representations, and after each block
 * the dynamic table holds exactly the entries the RFC lists (probed by
 * indexing each one), with the RFC's size.
 *
 * C.5 and C.6 use a 256-octet table. In HTTP/2 a decoder's table starts at
 * 4096 (RFC 9113 §6.5.2) and the peer's encoder announces a smaller size
 * with a size update (RFC 7541 §4.2); the RFC's examples leave that update
 * out, so it is put in front of C.5.1 and C.6.1 here (3f e1 01).
 *
 * Encoder: the same header lists, in the same order, through loom's encoder.
 * Every block must (a) decode back to the same list with loom, and (b) be no
 * larger than the RFC's. Where loom picks the RFC's representations its
 * output is checked byte for byte (enc_hex): the RFC's own bytes for C.2.4
 * and C.4, and for C.2.1-C.2.3 and C.3 (which spell strings raw) the same
 * representations with the strings Huffman-coded, as loom does whenever that
 * is shorter (these bytes were computed with Python hpack's Huffman table;
 * the C.3 ones are the RFC's C.4 bytes).
 *
 * C.5/C.6 differ by policy, not by error: loom never adds `location` to the
 * table (it changes with almost every response; RFC 7541 leaves indexing to
 * the encoder, §6.2), where the RFC's example indexes it. There the test
 * asserts that `location` is the only field represented differently, and
 * checks (b) on the blocks up to the first such difference (after it the
 * two tables hold different entries).
 *
 * Cases: each block is its own case of each kind (decoder, encoder, encoder
 * told the RFC's choices), named by the block. C.2.1-C.2.4 stand alone; a
 * block of C.3-C.6 runs after the blocks before it in its sequence, on the
 * same context and with the same checks, as the RFC's example does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loom/hpack.h"
#include "loom/hpack_lowlevel.h"
#include "hpack_util.h"

#define MAXF 8

typedef struct {
    const char *id;
    const char *hex;        /* the RFC's block */
    const char *reps;       /* per field: i indexed, + incremental, - without, ! never */
    const char *f[MAXF][2]; /* the decoded header list */
    size_t table_size;      /* dynamic table after the block */
    const char *t[MAXF][2]; /* its entries, newest first (index 62 on) */
    const char *enc_hex;    /* loom's encoder must write exactly this, or NULL */
} rfc_block;

typedef struct {
    const char *name;
    const char *title; /* what the example shows, in the case names */
    uint32_t table;    /* the table size the example uses */
    const rfc_block *blocks;
    size_t n;
} rfc_seq;

/* clang-format off */
#define AUTH    {":authority", "www.example.com"}
#define NOCACHE {"cache-control", "no-cache"}
#define CUSTOM  {"custom-key", "custom-value"}
#define REQ1    {":method", "GET"}, {":scheme", "http"}, {":path", "/"}, AUTH
#define REQ3    {":method", "GET"}, {":scheme", "https"}, {":path", "/index.html"}, AUTH, CUSTOM
#define LOC     {"location", "https://www.example.com"}
#define DATE21  {"date", "Mon, 21 Oct 2013 20:13:21 GMT"}
#define DATE22  {"date", "Mon, 21 Oct 2013 20:13:22 GMT"}
#define PRIVATE {"cache-control", "private"}
#define SETCOOK {"set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"}
#define GZIP    {"content-encoding", "gzip"}
#define RESP1   {":status", "302"}, PRIVATE, DATE21, LOC
#define RESP2   {":status", "307"}, PRIVATE, DATE21, LOC
#define RESP3   {":status", "200"}, PRIVATE, DATE22, LOC, GZIP, SETCOOK
#define TABLE1  {LOC, DATE21, PRIVATE, {":status", "302"}}
#define TABLE2  {{":status", "307"}, LOC, DATE21, PRIVATE}
#define TABLE3  {SETCOOK, GZIP, DATE22}
/* clang-format on */

/* The Huffman-coded blocks (C.4 and C.6) */
#define C41 "828684418cf1e3c2e5f23a6ba0ab90f4ff"
#define C42 "828684be5886a8eb10649cbf"
#define C43 "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"
#define C61                                                                                        \
    "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b" \
    "97c8e9ae82ae43d3"
#define C62 "4883640effc1c0bf"
#define C63                                                                                        \
    "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdf" \
    "cd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007"

/* C.2: each block on its own (fresh) context. enc_hex for C.2.1-C.2.3: the
 * RFC's representation with the strings Huffman-coded. */
static const rfc_block c21[] = {{"C.2.1",
                                 "400a637573746f6d2d6b65790d637573746f6d2d686561646572",
                                 "+",
                                 {{"custom-key", "custom-header"}},
                                 55,
                                 {{"custom-key", "custom-header"}},
                                 "408825a849e95ba97d7f8925a849e95a728e42d9"}};
static const rfc_block c22[] = {{"C.2.2",
                                 "040c2f73616d706c652f70617468",
                                 "-",
                                 {{":path", "/sample/path"}},
                                 0,
                                 {{0}},
                                 "04896103a6ba0ac5634cff"}};
static const rfc_block c23[] = {{"C.2.3",
                                 "100870617373776f726406736563726574",
                                 "!",
                                 {{"password", "secret"}},
                                 0,
                                 {{0}},
                                 "1086ac684783d9278441496153"}};
static const rfc_block c24[] = {{"C.2.4", "82", "i", {{":method", "GET"}}, 0, {{0}}, "82"}};

/* C.3: requests without Huffman. loom Huffman-codes these strings, which
 * makes its blocks the RFC's C.4 ones. */
static const rfc_block c3[] = {
    {"C.3.1", "828684410f7777772e6578616d706c652e636f6d", "iii+", {REQ1}, 57, {AUTH}, C41},
    {"C.3.2", "828684be58086e6f2d6361636865", "iiii+", {REQ1, NOCACHE}, 110, {NOCACHE, AUTH}, C42},
    {"C.3.3",
     "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
     "iiii+",
     {REQ3},
     164,
     {CUSTOM, NOCACHE, AUTH},
     C43},
};

/* C.4: the same requests, Huffman-coded. */
static const rfc_block c4[] = {
    {"C.4.1", C41, "iii+", {REQ1}, 57, {AUTH}, C41},
    {"C.4.2", C42, "iiii+", {REQ1, NOCACHE}, 110, {NOCACHE, AUTH}, C42},
    {"C.4.3", C43, "iiii+", {REQ3}, 164, {CUSTOM, NOCACHE, AUTH}, C43},
};

/* C.5: responses without Huffman, table size 256 (evictions). */
static const rfc_block c5[] = {
    {"C.5.1",
     "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d54"
     "6e1768747470733a2f2f7777772e6578616d706c652e636f6d",
     "++++",
     {RESP1},
     222,
     TABLE1,
     NULL},
    {"C.5.2", "4803333037c1c0bf", "+iii", {RESP2}, 222, TABLE2, NULL},
    {"C.5.3",
     "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f"
     "3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076"
     "657273696f6e3d31",
     "ii+i++",
     {RESP3},
     215,
     TABLE3,
     NULL},
};

/* C.6: the same responses, Huffman-coded. */
static const rfc_block c6[] = {
    {"C.6.1", C61, "++++", {RESP1}, 222, TABLE1, NULL},
    {"C.6.2", C62, "+iii", {RESP2}, 222, TABLE2, NULL},
    {"C.6.3", C63, "ii+i++", {RESP3}, 215, TABLE3, NULL},
};

/* C.2.1-C.2.4 each stand alone; C.3-C.6 are sequences of blocks on one
 * context, where each block depends on the table the earlier ones left. */
#define SEQ(name, title, table, b)                                                                 \
    {                                                                                              \
        name, title, table, b, sizeof(b) / sizeof(b[0])                                            \
    }
static const rfc_seq seqs[] = {
    SEQ("C.2.1", "literal field with indexing", 4096, c21),
    SEQ("C.2.2", "literal field without indexing", 4096, c22),
    SEQ("C.2.3", "literal field never indexed", 4096, c23),
    SEQ("C.2.4", "indexed field", 4096, c24),
    SEQ("C.3", "request without Huffman", 4096, c3),
    SEQ("C.4", "request with Huffman", 4096, c4),
    SEQ("C.5", "response without Huffman", 256, c5),
    SEQ("C.6", "response with Huffman", 256, c6),
};
#define NSEQ (sizeof(seqs) / sizeof(seqs[0]))

static size_t count_fields(const rfc_block *b)
{
    size_t n = 0;
    while (n < MAXF && b->f[n][0])
        n++;
    return n;
}

static size_t count_entries(const rfc_block *b)
{
    size_t n = 0;
    while (n < MAXF && b->t[n][0])
        n++;
    return n;
}

static loom_hpack_rep rep_of(char c)
{
    switch (c) {
    case 'i': return LOOM_HPACK_REP_INDEXED;
    case '+': return LOOM_HPACK_REP_INCREMENTAL;
    case '-': return LOOM_HPACK_REP_WITHOUT_INDEX;
    default: return LOOM_HPACK_REP_NEVER_INDEXED;
    }
}

/* Checks that the dynamic table holds exactly b->t, newest first, by
 * decoding a block that indexes every entry (which leaves the table as it
 * is, §6.1). */
static void check_table(loom_hpack_decoder *d, const rfc_block *b)
{
    size_t n = count_entries(b);
    if (loom_hpack_decoder_table_size(d) != b->table_size || loom_hpack_decoder_table_len(d) != n)
        fail_msg("%s: table size %zu with %zu entries, RFC: %zu with %zu", b->id,
                 loom_hpack_decoder_table_size(d), loom_hpack_decoder_table_len(d), b->table_size,
                 n);
    uint8_t probe[MAXF];
    for (size_t i = 0; i < n; i++)
        probe[i] = (uint8_t)(0x80 | (62 + i));
    hlist l = {0};
    loom_hpack_error e;
    assert_int_equal(loom_hpack_decode_block(d, probe, n, &l, &e), 0);
    assert_hlist(&l, b->t, n);
    loom_hpack_list_free(&l);
    assert_int_equal(loom_hpack_decoder_table_size(d), b->table_size);
}

/* A case: block k of sequence s. The blocks before it in its sequence run
 * first, on the same context and with the same checks, since what block k
 * must decode to, encode to, and leave in the table depends on them. */
typedef struct {
    const rfc_seq *s;
    size_t k;
} block_case;

static void earlier_block(const block_case *c, size_t k, const char *what)
{
    if (k < c->k) print_message("  %s first, on the same %s\n", c->s->blocks[k].id, what);
}

/* ---- decoder ---- */

/* Block k of s through d: the RFC's header list with the RFC's
 * representations, then exactly the RFC's table. */
static void decode_block(loom_hpack_decoder *d, const rfc_seq *s, size_t k)
{
    const rfc_block *b = &s->blocks[k];
    size_t n, nf = count_fields(b);
    char *hex = malloc(strlen(b->hex) + 8);
    /* the size update HTTP/2 requires before a 256-octet table */
    snprintf(hex, strlen(b->hex) + 8, "%s%s", k == 0 && s->table == 256 ? "3fe101" : "", b->hex);
    uint8_t *wire = hex_decode(hex, &n);
    free(hex);
    hlist l = {0};
    loom_hpack_error e = {0};
    int rc = loom_hpack_decode_block(d, wire, n, &l, &e);
    if (rc != 0) fail_msg("%s: decode returned %d (%s)", b->id, rc, e.reason);
    assert_hlist(&l, b->f, nf);
    for (size_t i = 0; i < nf; i++) {
        if ((l.reps[i] & LOOM_HPACK_REP_MASK) != rep_of(b->reps[i]))
            fail_msg("%s field %zu: representation %d, RFC %c", b->id, i,
                     (l.reps[i] & LOOM_HPACK_REP_MASK), b->reps[i]);
        int never = b->reps[i] == '!';
        assert_int_equal(!!(l.fields[i].flags & LOOM_HPACK_NEVER_INDEXED), never);
    }
    assert_int_equal(loom_hpack_decoder_table_max(d), s->table);
    check_table(d, b);
    loom_hpack_list_free(&l);
    free(wire);
}

static void test_decoder(void **state)
{
    const block_case *c = *state;
    loom_hpack_decoder *d = loom_hpack_decoder_new(c->s->table, 0, NULL);
    assert_non_null(d);
    for (size_t k = 0; k <= c->k; k++) {
        earlier_block(c, k, "decoder");
        decode_block(d, c->s, k);
    }
    const rfc_block *b = &c->s->blocks[c->k];
    print_message("  %s decoder: %zu fields, table of %zu checked\n", b->id, count_fields(b),
                  b->table_size);
    loom_hpack_decoder_free(d);
}

/* The octets of leading dynamic table size updates (§6.3) in a block. */
static size_t leading_updates(const uint8_t *b, size_t n, uint32_t *last)
{
    size_t off = 0;
    while (off < n && (b[off] & 0xe0) == 0x20) {
        int used = loom_hpack_int_decode(b + off, n - off, 5, last);
        assert_true(used > 0);
        off += (size_t)used;
    }
    return off;
}

/* ---- encoder, by loom's own choices ---- */

/* What an encoder case carries from block to block of a sequence. */
typedef struct {
    loom_hpack_encoder *enc;
    loom_hpack_decoder *d; /* loom's decoder, following loom's encoder */
    size_t loom_total, rfc_total;
    int same_reps; /* loom's representations have been the RFC's so far */
} enc_run;

static void encode_block(enc_run *r, const rfc_seq *s, size_t k)
{
    const rfc_block *b = &s->blocks[k];
    size_t nf = count_fields(b), rfc_len;
    uint8_t *rfc = hex_decode(b->hex, &rfc_len);
    loom_hpack_field f[MAXF];
    for (size_t i = 0; i < nf; i++) {
        uint8_t flags = b->reps[i] == '!'   ? LOOM_HPACK_NEVER_INDEXED
                        : b->reps[i] == '-' ? LOOM_HPACK_NO_INDEX
                                            : 0;
        f[i] = (loom_hpack_field){(const uint8_t *)b->f[i][0], strlen(b->f[i][0]),
                                  (const uint8_t *)b->f[i][1], strlen(b->f[i][1]), flags};
    }
    size_t bound = loom_hpack_encode_bound(f, nf);
    uint8_t *out = malloc(bound);
    int n = loom_hpack_encode(r->enc, f, nf, out, bound);
    if (n <= 0) fail_msg("%s: encode returned %d", b->id, n);

    /* the size update owed before the first block of C.5/C.6 */
    uint32_t upd = 0;
    size_t skip = leading_updates(out, (size_t)n, &upd);
    if (k == 0 && s->table != 4096) {
        assert_int_equal(skip, 3);
        assert_int_equal(upd, s->table);
    } else {
        assert_int_equal(skip, 0);
    }
    const uint8_t *body = out + skip;
    size_t body_len = (size_t)n - skip;

    /* (a) loom decodes it back to the same list */
    hlist l = {0};
    loom_hpack_error e = {0};
    int rc = loom_hpack_decode_block(r->d, out, (size_t)n, &l, &e);
    if (rc != 0) fail_msg("%s: loom's block does not decode: %d (%s)", b->id, rc, e.reason);
    assert_hlist(&l, b->f, nf);
    for (size_t i = 0; i < nf; i++) {
        /* never-indexed and without-indexing are the caller's
         * choices and must be honoured (§6.2.2, §6.2.3) */
        if (b->reps[i] == '!')
            assert_int_equal((l.reps[i] & LOOM_HPACK_REP_MASK), LOOM_HPACK_REP_NEVER_INDEXED);
        if (b->reps[i] == '-')
            assert_int_equal((l.reps[i] & LOOM_HPACK_REP_MASK), LOOM_HPACK_REP_WITHOUT_INDEX);
    }
    assert_int_equal(loom_hpack_encoder_table_size(r->enc), loom_hpack_decoder_table_size(r->d));

    char *got = hex_encode(body, body_len);
    char reps[MAXF + 1];
    for (size_t i = 0; i < nf; i++) {
        reps[i] = "i+-!"[l.reps[i] & LOOM_HPACK_REP_MASK];
        /* the one field loom's policy represents differently */
        if (reps[i] != b->reps[i] && strcmp(b->f[i][0], "location"))
            fail_msg("%s field %zu (%s): loom used %c, the RFC %c", b->id, i, b->f[i][0], reps[i],
                     b->reps[i]);
    }
    reps[nf] = 0;
    r->same_reps = r->same_reps && !strcmp(reps, b->reps);
    /* (b) no larger than the RFC's block, and the same table after
     * it, while loom's choices have been the RFC's */
    if (r->same_reps) {
        if (body_len > rfc_len)
            fail_msg("%s: loom wrote %zu octets, the RFC %zu", b->id, body_len, rfc_len);
        assert_int_equal(loom_hpack_decoder_table_size(r->d), b->table_size);
    }
    r->loom_total += body_len;
    r->rfc_total += rfc_len;
    if (b->enc_hex && strcmp(got, b->enc_hex))
        fail_msg("%s: loom wrote %s, want %s", b->id, got, b->enc_hex);
    print_message("  %s encoder: %zu octets (RFC %zu), representations %s (RFC %s)%s\n", b->id,
                  body_len, rfc_len, reps, b->reps, !strcmp(got, b->hex) ? ", byte-exact" : "");
    free(got);
    loom_hpack_list_free(&l);
    free(out);
    free(rfc);
}

static void test_encoder(void **state)
{
    const block_case *c = *state;
    enc_run r = {.same_reps = 1};
    r.enc = loom_hpack_encoder_new(NULL);
    assert_non_null(r.enc);
    /* C.5/C.6 run with a 256-octet table; in HTTP/2 the peer's SETTINGS
     * says so and the encoder announces it with a size update (§4.2),
     * which the RFC's example leaves out. */
    if (c->s->table != 4096)
        assert_int_equal(loom_hpack_encoder_set_max_table_size(r.enc, c->s->table), 0);
    /* loom's own decoder follows loom's encoder, from the protocol's
     * initial 4096: the update must bring it to 256 */
    r.d = loom_hpack_decoder_new(4096, 0, NULL);
    for (size_t k = 0; k <= c->k; k++) {
        earlier_block(c, k, "encoder");
        encode_block(&r, c->s, k);
    }
    if (c->k == c->s->n - 1)
        print_message("  %s encoder: %zu octets in all, the RFC %zu\n", c->s->name, r.loom_total,
                      r.rfc_total);
    loom_hpack_decoder_free(r.d);
    loom_hpack_encoder_free(r.enc);
}

/* ---- encoder, told the RFC's choices ---- */

/* Byte for byte, every example of Appendix C.2-C.6, with the encoder told
 * the RFC's choices: which fields are indexed ('+': LOOM_HPACK_INDEX),
 * not indexed ('-') or never indexed ('!'), and whether strings are
 * Huffman-coded (C.4 and C.6) or not (C.2, C.3, C.5). */
static void encode_block_rfc_choices(loom_hpack_encoder *enc, const rfc_block *b)
{
    size_t nf = count_fields(b);
    loom_hpack_field f[MAXF];
    for (size_t i = 0; i < nf; i++) {
        uint8_t flags = b->reps[i] == '!'   ? LOOM_HPACK_NEVER_INDEXED
                        : b->reps[i] == '-' ? LOOM_HPACK_NO_INDEX
                        : b->reps[i] == '+' ? LOOM_HPACK_INDEX
                                            : 0;
        f[i] = (loom_hpack_field){(const uint8_t *)b->f[i][0], strlen(b->f[i][0]),
                                  (const uint8_t *)b->f[i][1], strlen(b->f[i][1]), flags};
    }
    size_t bound = loom_hpack_encode_bound(f, nf);
    uint8_t *out = malloc(bound);
    int n = loom_hpack_encode(enc, f, nf, out, bound);
    assert_true(n > 0);
    /* the size update HTTP/2 requires before the first block of
     * C.5/C.6 (the RFC's examples start at 256 without it) */
    uint32_t upd = 0;
    size_t skip = leading_updates(out, (size_t)n, &upd);
    char *got = hex_encode(out + skip, (size_t)n - skip);
    if (strcmp(got, b->hex)) fail_msg("%s: loom wrote %s, the RFC %s", b->id, got, b->hex);
    assert_int_equal(loom_hpack_encoder_table_size(enc), b->table_size);
    free(got);
    free(out);
}

static void test_encoder_rfc_byte_exact(void **state)
{
    const block_case *c = *state;
    int huffman = !strcmp(c->s->name, "C.4") || !strcmp(c->s->name, "C.6");
    loom_hpack_encoder *enc = loom_hpack_encoder_new(NULL);
    loom_hpack_encoder_set_huffman(enc,
                                   huffman ? LOOM_HPACK_HUFFMAN_PREFER : LOOM_HPACK_HUFFMAN_NEVER);
    if (c->s->table != 4096)
        assert_int_equal(loom_hpack_encoder_set_max_table_size(enc, c->s->table), 0);
    for (size_t k = 0; k <= c->k; k++) {
        earlier_block(c, k, "encoder");
        encode_block_rfc_choices(enc, &c->s->blocks[k]);
    }
    print_message("  %s byte-exact\n", c->s->blocks[c->k].id);
    loom_hpack_encoder_free(enc);
}

/* ---- the cases ---- */

#define NBLOCKS 16 /* C.2.1-C.2.4, C.3.1-C.3.3, C.4.1-C.4.3, C.5.1-C.5.3, C.6.1-C.6.3 */

/* The table itself: all 16 blocks of C.2-C.6 are there (each is a case of
 * each kind), and loom's own choices must give the RFC's bytes on 4 of them,
 * C.2.4 and C.4.1-C.4.3: a change of strategy shows up in those cases. */
static void test_appendix_c(void **state)
{
    (void)state;
    size_t blocks = 0, fields = 0, exact = 0;
    for (size_t s = 0; s < NSEQ; s++)
        for (size_t k = 0; k < seqs[s].n; k++) {
            const rfc_block *b = &seqs[s].blocks[k];
            blocks++;
            fields += count_fields(b);
            if (b->enc_hex && !strcmp(b->enc_hex, b->hex)) exact++;
        }
    print_message("  %zu RFC 7541 blocks, %zu fields, %zu byte-exact by loom's own choices\n",
                  blocks, fields, exact);
    assert_int_equal(blocks, NBLOCKS);
    assert_int_equal(exact, 4);
}

static const char *const ordinal[] = {"first", "second", "third"};

/* One case per block and kind, named by the block, e.g. "decoder: C.3.2
 * request without Huffman, second block". */
int main(void)
{
    static const struct {
        const char *name;
        CMUnitTestFunction fn;
    } kinds[] = {
        {"decoder", test_decoder},
        {"encoder", test_encoder},
        {"encoder told the RFC's choices", test_encoder_rfc_byte_exact},
    };
    enum { NKINDS = sizeof(kinds) / sizeof(kinds[0]) };
    static block_case blocks[NBLOCKS];
    static char names[NKINDS * NBLOCKS][128];
    static struct CMUnitTest tests[1 + NKINDS * NBLOCKS];

    size_t nb = 0;
    for (size_t s = 0; s < NSEQ; s++)
        for (size_t k = 0; k < seqs[s].n; k++) {
            if (nb == NBLOCKS || k >= sizeof(ordinal) / sizeof(ordinal[0])) {
                print_error("Appendix C table: more blocks than the cases provide for\n");
                return 1;
            }
            blocks[nb++] = (block_case){&seqs[s], k};
        }
    if (nb != NBLOCKS) {
        print_error("Appendix C table: %zu blocks, want %d\n", nb, NBLOCKS);
        return 1;
    }

    size_t nt = 0;
    tests[nt++] =
        (struct CMUnitTest){.name = "Appendix C: 16 blocks, 4 byte-exact by loom's choices",
                            .test_func = test_appendix_c};
    for (size_t j = 0; j < NKINDS; j++)
        for (size_t i = 0; i < NBLOCKS; i++) {
            const block_case *c = &blocks[i];
            char *name = names[j * NBLOCKS + i];
            if (c->s->n == 1)
                snprintf(name, sizeof(names[0]), "%s: %s %s", kinds[j].name, c->s->blocks[0].id,
                         c->s->title);
            else
                snprintf(name, sizeof(names[0]), "%s: %s %s, %s block", kinds[j].name,
                         c->s->blocks[c->k].id, c->s->title, ordinal[c->k]);
            tests[nt++] = (struct CMUnitTest){
                .name = name, .test_func = kinds[j].fn, .initial_state = (void *)c};
        }
    return cmocka_run_group_tests_name("RFC 7541 Appendix C", tests, NULL, NULL);
}
