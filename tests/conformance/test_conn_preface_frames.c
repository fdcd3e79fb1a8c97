/* RFC 9113 conformance of the connection engine: the connection preface and frames (§3.4,
 * §4.1-§4.3). The harness (what each case builds and checks) is conformance/conn_harness.h. */
#include "conn_harness.h"

/* ======================= §3.4 connection preface ======================= */

TEST(preface_invalid)
{
    make(LOOM_SERVER, NULL);
    feed("PRI * HTTP/1.1\r\n\r\nSM\r\n\r\n", 24);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(preface_http1)
{
    make(LOOM_SERVER, NULL);
    const char *r = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    feed(r, strlen(r));
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(preface_not_settings)
{
    make(LOOM_SERVER, NULL);
    assert_int_equal(feed(MAGIC, 24), 0);
    ping(0, 0, "12345678");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(preface_settings_ack)
{
    make(LOOM_SERVER, NULL);
    assert_int_equal(feed(MAGIC, 24), 0);
    frame(F_SETTINGS, ACK, 0, NULL, 0);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(preface_split)
{
    make(LOOM_SERVER, NULL);
    uint8_t in[24 + 9 + 6];
    memcpy(in, MAGIC, 24);
    const uint8_t st[] = {0, 0, 6, F_SETTINGS, 0, 0, 0, 0, 0, 0, S_MCS, 0, 0, 0, 7};
    memcpy(in + 24, st, sizeof(st));
    for (size_t i = 0; i < sizeof(in); i++)
        assert_int_equal(feed(in + i, 1), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_SETTINGS);
    assert_int_equal(fr_new(0)->flags, ACK);
    assert_int_equal(ev_count(LOOM_EV_SETTINGS), 1);
    assert_int_equal(loom_conn_peer_setting(t->c, S_MCS), 7);
}

TEST(preface_server_settings_first)
{
    loom_config cfg = server_cfg();
    cfg.now_ms = clock_cb;
    t->role = LOOM_SERVER;
    t->c = loom_conn_new(LOOM_SERVER, &cfg, on_event, NULL);
    assert_non_null(t->c);
    drain();
    assert_true(t->nfr >= 1);
    assert_int_equal(t->fr[0].type, F_SETTINGS);
    assert_int_equal(t->fr[0].flags, 0);
    assert_int_equal(t->fr[0].len % 6, 0);
}

TEST(preface_client_magic)
{
    loom_config cfg = client_cfg();
    cfg.now_ms = clock_cb;
    t->role = LOOM_CLIENT;
    t->c = loom_conn_new(LOOM_CLIENT, &cfg, on_event, NULL);
    assert_non_null(t->c);
    drain();
    assert_true(t->out_len > 24);
    assert_memory_equal(t->out, MAGIC, 24);
    assert_int_equal(t->fr[0].type, F_SETTINGS);
    assert_int_equal(t->fr[0].flags, 0);
}

TEST(preface_client_server_not_settings)
{
    make(LOOM_CLIENT, NULL);
    ping(0, 0, "12345678");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(preface_client_acks_server_settings)
{
    make(LOOM_CLIENT, NULL);
    assert_int_equal(settings1(S_MCS, 50), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_SETTINGS);
    assert_int_equal(fr_new(0)->flags, ACK);
    assert_int_equal(loom_conn_peer_setting(t->c, S_MCS), 50);
}

/* ======================= §4.1 frame format ======================= */

TEST(flags_unknown_ping)
{
    srv();
    assert_int_equal(ping(0xfe, 0, "flags..."), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_PING);
    assert_int_equal(fr_new(0)->flags, ACK); /* unknown flags not echoed */
    assert_memory_equal(fr_new(0)->opaque, "flags...", 8);
}

TEST(flags_unknown_headers)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(headers(1, EH | 0x02 | 0x10 | 0x40 | 0x80), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 1);
    assert_non_null(e);
    assert_false(e->end_stream);
    assert_true(has_field(e, ":path: /"));
    expect_nothing();
}

TEST(flags_unknown_data)
{
    srv();
    open_req(1, 0);
    assert_int_equal(data(1, 0x02 | 0x04 | 0x10 | 0x20 | 0x40 | 0x80, "abc"), 0);
    const ev_t *e = ev_find(LOOM_EV_DATA, 1);
    assert_non_null(e);
    assert_int_equal(e->len, 3);
    assert_false(e->end_stream);
    assert_memory_equal(t->data, "abc", 3);
    expect_nothing();
}

TEST(reserved_bit_stream)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(headers(0x80000001u, EH | ES), 0);
    assert_non_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_nothing();
}

TEST(reserved_bit_stream0)
{
    srv();
    assert_int_equal(ping(0, 0x80000000u, "reserved"), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_PING);
    assert_memory_equal(fr_new(0)->opaque, "reserved", 8);
}

/* Every frame the engine writes passes parse_out()'s §4.1 checks; this
 * case makes it write one of each kind it can. */
TEST(reserved_bit_sent)
{
    P.n = 0;
    p_set(S_WINDOW, 10);
    srv_settings();
    open_req(1, ES);
    assert_int_equal(push(1), 2);
    respond(1, 100); /* HEADERS, DATA (10: the window) */
    respond(2, 0);
    ping(0, 0, "whatever");
    open_req(3, 0);
    loom_reset(t->c, 3, LOOM_H2_CANCEL);
    loom_goaway(t->c, LOOM_H2_NO_ERROR, 0, "bye");
    drain();
    assert_true(t->nfr >= 7);
}

TEST(unknown_type)
{
    srv();
    assert_int_equal(frame(0xfa, 0xff, 0, "extension", 9), 0);
    assert_int_equal(t->nev, 0);
    expect_nothing();
}

/* ======================= §4.2 frame size ======================= */

TEST(size_data_too_large)
{
    srv();
    open_req(1, 0);
    data_n(1, 0, 16385);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

/* a request block of exactly n octets */
static void hb_req_sized(size_t n)
{
    hb_clear();
    hb_req(); /* 16 octets */
    /* 00 05 "x-pad" 7f <2-octet varint> value: 10 + 16 = 26 + value */
    static char v[70000];
    memset(v, 'p', sizeof(v));
    hb_newn("x-pad", 5, v, n - 26);
    assert_int_equal(B.n, n);
}

TEST(size_headers_too_large)
{
    srv();
    hb_req_sized(16385);
    headers(1, EH | ES);
    assert_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(size_headers_max)
{
    srv();
    hb_req_sized(16384);
    expect_request_accepted(1);
}

TEST(size_unknown_too_large)
{
    srv();
    p_clear();
    p_fill(0, 16385);
    p_send(0xfa, 0, 0);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(size_data_max)
{
    srv();
    open_req(1, 0);
    assert_int_equal(data_n(1, 0, 16384), 0);
    assert_int_equal(ev_find(LOOM_EV_DATA, 1)->len, 16384);
    expect_nothing();
}

TEST(size_larger_setting)
{
    loom_config cfg = server_cfg();
    cfg.max_frame_size = 32768;
    srv_with(&cfg);
    open_req(1, 0);
    assert_int_equal(data_n(1, 0, 20000), 0);
    assert_int_equal(ev_find(LOOM_EV_DATA, 1)->len, 20000);
    expect_nothing();
}

/* Our DATA and field blocks are cut to the peer's SETTINGS_MAX_FRAME_SIZE,
 * a field block into HEADERS + CONTINUATION frames in one contiguous run
 * (§4.3). */
TEST(size_sent_frames)
{
    srv();
    open_req(1, ES);
    static char big[40000];
    memset(big, 'v', sizeof(big));
    loom_hpack_field f[] = {
        FLD(":status", "200"),
        {(const uint8_t *)"x-big", 5, (const uint8_t *)big, sizeof(big), LOOM_HPACK_NO_INDEX}};
    static uint8_t body[40000];
    loom_body b = {.data = body, .len = sizeof(body), .fd = -1};
    assert_int_equal(loom_respond(t->c, 1, f, 2, &b), 0);
    drain();
    int headers_at = -1, last_cont = -1, ncont = 0;
    for (int i = 0; i < nnew(); i++) {
        const ofr_t *o = fr_new(i);
        assert_true(o->len <= 16384);
        if (o->type == F_HEADERS) {
            headers_at = i;
            assert_int_equal(o->flags & EH, 0);
        }
        if (o->type == F_CONT) {
            assert_int_equal(i, headers_at + 1 + ncont); /* contiguous */
            assert_int_equal(o->sid, 1);
            ncont++;
            if (o->flags & EH) last_cont = i;
        }
    }
    assert_true(headers_at >= 0);
    assert_int_equal(ncont, 2);
    assert_int_equal(last_cont, headers_at + 2);
    assert_int_equal(data_new(1), sizeof(body));
}

/* ======================= §4.3 field blocks ======================= */

TEST(hpack_bad_index)
{
    srv();
    hb_clear();
    hb_req();
    hb_byte(0xbe); /* index 62: the dynamic table is empty */
    headers(1, EH | ES);
    assert_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_conn_error(LOOM_H2_COMPRESSION_ERROR);
}

TEST(hpack_index_zero)
{
    srv();
    hb_clear();
    hb_req();
    hb_byte(0x80); /* RFC 7541 §6.1: index 0 is a decoding error */
    headers(1, EH | ES);
    expect_conn_error(LOOM_H2_COMPRESSION_ERROR);
}

TEST(hpack_truncated)
{
    srv();
    hb_clear();
    hb_req();
    hb_byte(0x00);
    hb_byte(0x05); /* a 5-octet name of which 2 are there */
    hb_byte('x');
    hb_byte('-');
    headers(1, EH | ES);
    expect_conn_error(LOOM_H2_COMPRESSION_ERROR);
}

TEST(hpack_int_overflow)
{
    srv();
    hb_clear();
    hb_req();
    const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}; /* > 2^32 */
    for (size_t i = 0; i < sizeof(big); i++)
        hb_byte(big[i]);
    headers(1, EH | ES);
    expect_conn_error(LOOM_H2_COMPRESSION_ERROR);
}

TEST(hpack_size_update_too_large)
{
    srv();
    hb_clear();
    hb_byte(0x3f); /* size update to 8192 (31 + 8161): above our 4096 */
    hb_byte(0xe1);
    hb_byte(0x3f);
    hb_req();
    headers(1, EH | ES);
    expect_conn_error(LOOM_H2_COMPRESSION_ERROR);
}

TEST(hpack_size_update_late)
{
    srv();
    hb_clear();
    hb_req();
    hb_byte(0x20); /* RFC 7541 §4.2: a size update only at the block's start */
    headers(1, EH | ES);
    expect_conn_error(LOOM_H2_COMPRESSION_ERROR);
}

TEST(hpack_huffman_eos)
{
    srv();
    hb_clear();
    hb_req();
    hb_byte(0x00);
    hb_byte(0x84); /* Huffman name of 4 octets of 1 bits: holds EOS (30 ones) */
    for (int i = 0; i < 4; i++)
        hb_byte(0xff);
    hb_strn("v", 1);
    headers(1, EH | ES);
    expect_conn_error(LOOM_H2_COMPRESSION_ERROR);
}

TEST(hpack_error_in_continuation)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    assert_int_equal(headers(1, ES), 0);
    const uint8_t bad[] = {0x84, 0xbe};
    cont(1, EH, bad, sizeof(bad));
    expect_conn_error(LOOM_H2_COMPRESSION_ERROR);
}

/* A field block the engine refuses is still decoded (§4.3: "a receiver
 * MUST ... process it"), so the dynamic table stays in step. */
TEST(hpack_refused_block_decoded)
{
    loom_config cfg = server_cfg();
    cfg.max_concurrent_streams = 1;
    srv_with(&cfg);
    open_req(1, 0);
    hb_clear();
    hb_req();
    hb_inc("x-sync", "one");
    assert_int_equal(headers(3, EH | ES), 0);
    expect_stream_error(3, LOOM_H2_REFUSED_STREAM);
    rst(1, LOOM_H2_CANCEL);
    hb_clear();
    hb_req();
    hb_idx(62);
    assert_int_equal(headers(5, EH | ES), 0);
    assert_true(has_field(ev_find(LOOM_EV_HEADERS, 5), "x-sync: one"));
    expect_nothing();
}

TEST(hpack_reset_stream_block_decoded)
{
    srv();
    open_req(1, 0);
    assert_int_equal(loom_reset(t->c, 1, LOOM_H2_CANCEL), 0);
    settle();
    hb_clear();
    hb_inc("x-sync", "two"); /* trailers on the stream we reset */
    assert_int_equal(headers(1, EH | ES), 0);
    assert_int_equal(t->nev, 0);
    expect_nothing();
    hb_clear();
    hb_req();
    hb_idx(62);
    assert_int_equal(headers(3, EH | ES), 0);
    assert_true(has_field(ev_find(LOOM_EV_HEADERS, 3), "x-sync: two"));
    expect_nothing();
}

TEST(hpack_dynamic_table_kept)
{
    srv();
    hb_clear();
    hb_req();
    hb_inc("x-kept", "yes");
    assert_int_equal(headers(1, EH | ES), 0);
    hb_clear();
    hb_req();
    hb_idx(62);
    assert_int_equal(headers(3, EH | ES), 0);
    assert_true(has_field(ev_find(LOOM_EV_HEADERS, 1), "x-kept: yes"));
    assert_true(has_field(ev_find(LOOM_EV_HEADERS, 3), "x-kept: yes"));
    expect_nothing();
}

TEST(block_ping_inside)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 5), 0);
    ping(0, 0, "between!");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(block_cont_other_stream)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 5), 0);
    cont(3, EH, B.p + 5, B.n - 5);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(block_headers_other_stream)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 5), 0);
    headers(3, EH | ES);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(block_split)
{
    srv();
    hb_clear();
    hb_req();
    /* cut inside the :authority literal */
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 7), 0);
    assert_int_equal(t->nev, 0);
    assert_int_equal(cont(1, EH, B.p + 7, B.n - 7), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 1);
    assert_non_null(e);
    assert_true(has_field(e, ":authority: example.com"));
    expect_nothing();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE("3.4 invalid client preface", preface_invalid),
        CASE("3.4 an HTTP/1.1 request instead of the preface", preface_http1),
        CASE("3.4 preface followed by a frame other than SETTINGS", preface_not_settings),
        CASE("3.4 preface followed by a SETTINGS ACK", preface_settings_ack),
        CASE("3.4 preface and SETTINGS one octet at a time", preface_split),
        CASE("3.4 server preface: SETTINGS is the first frame", preface_server_settings_first),
        CASE("3.4 client preface: the magic, then SETTINGS", preface_client_magic),
        CASE("3.4 client: server preface not starting with SETTINGS",
             preface_client_server_not_settings),
        CASE("3.4 client: the server's SETTINGS is acknowledged",
             preface_client_acks_server_settings),

        CASE("4.1 unknown flags on PING are ignored and not sent back", flags_unknown_ping),
        CASE("4.1 unknown flags on HEADERS are ignored", flags_unknown_headers),
        CASE("4.1 unknown flags on DATA are ignored", flags_unknown_data),
        CASE("4.1 reserved bit of a stream identifier is ignored", reserved_bit_stream),
        CASE("4.1 reserved bit on a stream-0 frame is ignored", reserved_bit_stream0),
        CASE("4.1 frames sent leave the reserved bit and unknown flags unset", reserved_bit_sent),
        CASE("4.1 unknown frame type is ignored", unknown_type),

        CASE("4.2 DATA larger than SETTINGS_MAX_FRAME_SIZE", size_data_too_large),
        CASE("4.2 HEADERS larger than SETTINGS_MAX_FRAME_SIZE", size_headers_too_large),
        CASE("4.2 HEADERS of exactly SETTINGS_MAX_FRAME_SIZE", size_headers_max),
        CASE("4.2 unknown frame type larger than SETTINGS_MAX_FRAME_SIZE", size_unknown_too_large),
        CASE("4.2 DATA of exactly SETTINGS_MAX_FRAME_SIZE", size_data_max),
        CASE("4.2 larger frames under a larger SETTINGS_MAX_FRAME_SIZE", size_larger_setting),
        CASE("4.2 frames sent fit the peer's SETTINGS_MAX_FRAME_SIZE", size_sent_frames),

        CASE("4.3 HPACK index beyond the tables", hpack_bad_index),
        CASE("4.3 HPACK index 0", hpack_index_zero),
        CASE("4.3 HPACK string past the end of the block", hpack_truncated),
        CASE("4.3 HPACK integer overflow", hpack_int_overflow),
        CASE("4.3 HPACK table size update above SETTINGS_HEADER_TABLE_SIZE",
             hpack_size_update_too_large),
        CASE("4.3 HPACK table size update after a field", hpack_size_update_late),
        CASE("4.3 HPACK Huffman string holding EOS", hpack_huffman_eos),
        CASE("4.3 HPACK error in a CONTINUATION fragment", hpack_error_in_continuation),
        CASE("4.3 field block of a refused stream is still decoded", hpack_refused_block_decoded),
        CASE("4.3 field block on a stream we reset is still decoded",
             hpack_reset_stream_block_decoded),
        CASE("4.3 dynamic table carries over between field blocks", hpack_dynamic_table_kept),
        CASE("4.3 PING inside a field block", block_ping_inside),
        CASE("4.3 CONTINUATION of another stream inside a field block", block_cont_other_stream),
        CASE("4.3 HEADERS of another stream inside a field block", block_headers_other_stream),
        CASE("4.3 HEADERS + CONTINUATION split inside a literal is one block", block_split),
    };
    return cmocka_run_group_tests_name(
        "RFC 9113 connection engine: the connection preface and frames (§3.4, §4.1-§4.3)", tests,
        conn_group_setup, conn_group_teardown);
}
