/* RFC 9113 conformance of the connection engine: frame definitions (§6.1-§6.10).
 * The harness (what each case builds and checks) is conformance/conn_harness.h. */
#include "conn_harness.h"

/* ======================= §6.1 DATA ======================= */

TEST(data_stream0)
{
    srv();
    data(0, 0, "x");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(data_pad_too_long)
{
    srv();
    open_req(1, 0);
    p_clear();
    p_u8(4); /* §6.1: padding as long as the 4-octet payload */
    p_mem("ab", 2);
    p_u8(0);
    p_send(F_DATA, PADDED, 1);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(data_pad_no_length)
{
    srv();
    open_req(1, 0);
    frame(F_DATA, PADDED, 1, NULL, 0);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(data_padded)
{
    srv();
    open_req(1, 0);
    p_clear();
    p_u8(4);
    p_mem("body", 4);
    p_fill(0, 4);
    assert_int_equal(p_send(F_DATA, PADDED | ES, 1), 0);
    const ev_t *e = ev_find(LOOM_EV_DATA, 1);
    assert_non_null(e);
    assert_int_equal(e->len, 4);
    assert_true(e->end_stream);
    assert_memory_equal(t->data, "body", 4);
    expect_nothing();
}

static void srv_window(uint32_t stream_window, int manual)
{
    loom_config cfg = server_cfg();
    cfg.initial_window_size = stream_window;
    cfg.manual_window = (uint8_t)manual;
    srv_with(&cfg);
}

TEST(data_padding_flow)
{
    srv_window(100, 0);
    open_req(1, 0);
    p_clear();
    p_u8(40); /* 1 + 60 + 40 = 101 > 100 */
    p_fill('a', 60);
    p_fill(0, 40);
    p_send(F_DATA, PADDED, 1);
    assert_null(ev_find(LOOM_EV_DATA, 1));
    expect_stream_error(1, LOOM_H2_FLOW_CONTROL_ERROR);
}

TEST(data_padding_flow_fits)
{
    srv_window(100, 0);
    open_req(1, 0);
    p_clear();
    p_u8(39); /* 1 + 60 + 39 = 100 */
    p_fill('a', 60);
    p_fill(0, 39);
    assert_int_equal(p_send(F_DATA, PADDED, 1), 0);
    assert_int_equal(ev_find(LOOM_EV_DATA, 1)->len, 60);
    expect_no_error();
}

TEST(data_end_stream)
{
    srv();
    open_req(1, 0);
    assert_int_equal(data(1, ES, "end"), 0);
    assert_true(ev_find(LOOM_EV_DATA, 1)->end_stream);
    expect_nothing();
    respond(1, 0); /* half-closed (remote): we can still answer */
    drain();
    assert_int_equal(count_new(F_HEADERS), 1);
    assert_non_null(ev_find(LOOM_EV_STREAM_CLOSED, 1));
}

/* ======================= §6.2 HEADERS ======================= */

TEST(headers_stream0)
{
    srv();
    hb_clear();
    hb_req();
    headers(0, EH | ES);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(headers_pad_too_long)
{
    srv();
    hb_clear();
    hb_req();
    p_clear();
    p_u8((uint8_t)(B.n + 1));
    p_mem(B.p, B.n);
    p_send(F_HEADERS, EH | ES | PADDED, 1);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(headers_padded)
{
    srv();
    hb_clear();
    hb_req();
    p_clear();
    p_u8(10);
    p_mem(B.p, B.n);
    p_fill(0, 10);
    assert_int_equal(p_send(F_HEADERS, EH | ES | PADDED, 1), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 1);
    assert_non_null(e);
    assert_true(has_field(e, ":authority: example.com"));
    expect_nothing();
}

TEST(headers_priority_short)
{
    srv();
    p_clear();
    p_u32(0);
    frame(F_HEADERS, EH | ES | PRIO, 1, P.p, 4);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(headers_padded_priority)
{
    srv();
    hb_clear();
    hb_req();
    p_clear();
    p_u8(3);
    p_u32(0);
    p_u8(15);
    p_mem(B.p, B.n);
    p_fill(0, 3);
    assert_int_equal(p_send(F_HEADERS, EH | ES | PADDED | PRIO, 1), 0);
    assert_true(has_field(ev_find(LOOM_EV_HEADERS, 1), ":path: /"));
    expect_nothing();
}

TEST(headers_end_stream_with_continuation)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 3), 0);
    assert_int_equal(cont(1, EH, B.p + 3, B.n - 3), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 1);
    assert_non_null(e);
    assert_true(e->end_stream);
    expect_nothing();
    data(1, 0, "after end");
    expect_stream_error(1, LOOM_H2_STREAM_CLOSED);
}

/* ======================= §6.3 PRIORITY ======================= */

TEST(priority_stream0)
{
    srv();
    priority(0, 1, 15);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(priority_len4)
{
    srv();
    open_req(1, 0);
    frame(F_PRIORITY, 0, 1, "\0\0\0\0", 4);
    expect_stream_error(1, LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(priority_len6)
{
    srv();
    open_req(1, 0);
    frame(F_PRIORITY, 0, 1, "\0\0\0\0\0\0", 6);
    expect_stream_error(1, LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(priority_closed)
{
    closed_normally();
    assert_int_equal(priority(1, 0, 100), 0);
    assert_int_equal(priority(99, 1, 100), 0);
    expect_nothing();
}

TEST(priority_inside_block)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 5), 0);
    priority(1, 0, 15);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

/* ======================= §6.4 RST_STREAM ======================= */

TEST(rst_stream0)
{
    srv();
    rst(0, LOOM_H2_CANCEL);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(rst_len3)
{
    srv();
    open_req(1, 0);
    frame(F_RST, 0, 1, "\0\0\0", 3);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(rst_len5)
{
    srv();
    open_req(1, 0);
    frame(F_RST, 0, 1, "\0\0\0\x08\0", 5);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(rst_closes)
{
    srv();
    open_req(1, 0);
    assert_int_equal(rst(1, LOOM_H2_CANCEL), 0);
    const ev_t *e = ev_find(LOOM_EV_STREAM_CLOSED, 1);
    assert_non_null(e);
    assert_int_equal(e->code, LOOM_H2_CANCEL);
    assert_true(e->by_peer);
    expect_nothing();
    loom_hpack_field f[] = {FLD(":status", "200")};
    assert_int_equal(loom_respond(t->c, 1, f, 1, NULL), LOOM_ERR_STATE);
}

/* §7: unknown error codes MUST NOT trigger special behavior */
TEST(rst_unknown_code)
{
    srv();
    open_req(1, 0);
    assert_int_equal(rst(1, 0xdead), 0);
    assert_int_equal(ev_find(LOOM_EV_STREAM_CLOSED, 1)->code, 0xdead);
    expect_nothing();
}

/* ======================= §6.5 SETTINGS ======================= */

TEST(settings_on_stream)
{
    srv();
    frame(F_SETTINGS, 0, 1, NULL, 0);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(settings_ack_payload)
{
    make(LOOM_SERVER, NULL);
    p_clear();
    handshake(0);
    p_clear();
    p_set(S_MCS, 1);
    p_send(F_SETTINGS, ACK, 0);
    assert_int_equal(ev_count(LOOM_EV_SETTINGS_ACK), 0);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(settings_len_not_6n)
{
    srv();
    frame(F_SETTINGS, 0, 0, "\0\x03\0\0\0\x01\0", 7);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(settings_acked)
{
    srv();
    assert_int_equal(settings1(S_MCS, 10), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_SETTINGS);
    assert_int_equal(fr_new(0)->flags, ACK);
    assert_int_equal(fr_new(0)->len, 0);
    assert_int_equal(ev_count(LOOM_EV_SETTINGS), 1);
}

TEST(settings_empty_acked)
{
    srv();
    assert_int_equal(frame(F_SETTINGS, 0, 0, NULL, 0), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->flags, ACK);
}

TEST(settings_push_2)
{
    srv();
    settings1(S_PUSH, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(settings_push_1_to_client)
{
    cli();
    settings1(S_PUSH, 1);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(settings_window_too_large)
{
    srv();
    settings1(S_WINDOW, 0x80000000u);
    expect_conn_error(LOOM_H2_FLOW_CONTROL_ERROR);
}

TEST(settings_frame_too_small)
{
    srv();
    settings1(S_FRAME, 16383);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(settings_frame_too_large)
{
    srv();
    settings1(S_FRAME, 16777216);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(settings_frame_max)
{
    srv();
    assert_int_equal(settings1(S_FRAME, 16777215), 0);
    assert_int_equal(loom_conn_peer_setting(t->c, S_FRAME), 16777215);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->flags, ACK);
}

/* The HEADERS frame of a response to a new request on stream 1, the only
 * frame sent. */
static const ofr_t *response_headers(void)
{
    open_req(1, ES);
    respond(1, 0);
    drain();
    assert_int_equal(nnew(), 1);
    const ofr_t *h = fr_new(0);
    assert_int_equal(h->type, F_HEADERS);
    return h;
}

/* RFC 7541 §4.2: after the peer lowers SETTINGS_HEADER_TABLE_SIZE, our next
 * field block starts with a dynamic table size update (001xxxxx). */
TEST(settings_header_table_size)
{
    p_clear();
    p_set(S_TABLE, 0);
    srv_settings();
    const ofr_t *h = response_headers();
    assert_true(h->block_len >= 2);
    assert_int_equal(t->out[h->block_off], 0x20); /* size update to 0 */
}

/* RFC 7541 §4.2: the table size lowered and raised again before our first
 * field block: the block signals the smallest, then the current one (our
 * encoder is made only when the first block goes out, and must still say
 * what an encoder made at the start would have). */
TEST(settings_header_table_size_down_up)
{
    srv();
    assert_int_equal(settings1(S_TABLE, 0), 0);
    assert_int_equal(settings1(S_TABLE, 4096), 0);
    settle();
    const ofr_t *h = response_headers();
    assert_true(h->block_len >= 5);
    static const uint8_t updates[] = {0x20, 0x3f, 0xe1, 0x1f}; /* 0, then 4096 */
    assert_memory_equal(t->out + h->block_off, updates, sizeof(updates));
    /* and a decoder that insists on it (loom's own, as a client) agrees */
    loom_hpack_decoder *d = loom_hpack_decoder_new(4096, 0, NULL);
    assert_int_equal(loom_hpack_decoder_set_max_table_size(d, 0), 0);
    assert_int_equal(loom_hpack_decoder_set_max_table_size(d, 4096), 0);
    loom_hpack_list l = {0};
    loom_hpack_error e;
    assert_int_equal(loom_hpack_decode_block(d, t->out + h->block_off, h->block_len, &l, &e), 0);
    loom_hpack_list_free(&l);
    loom_hpack_decoder_free(d);
}

TEST(settings_in_order)
{
    srv();
    p_clear();
    p_set(S_WINDOW, 1);
    p_set(S_MCS, 5);
    p_set(S_WINDOW, 100);
    assert_int_equal(p_send(F_SETTINGS, 0, 0), 0);
    assert_int_equal(loom_conn_peer_setting(t->c, S_WINDOW), 100);
    open_req(1, ES);
    respond(1, 1000);
    drain();
    assert_int_equal(data_new(1), 100);
}

TEST(settings_ack_of_ours)
{
    make(LOOM_SERVER, NULL);
    p_clear();
    handshake(0);
    assert_int_equal(frame(F_SETTINGS, ACK, 0, NULL, 0), 0);
    assert_int_equal(ev_count(LOOM_EV_SETTINGS_ACK), 1);
    expect_nothing();
    assert_int_equal(loom_conn_check_timeouts(t->c, 1), 0);
}

TEST(settings_timeout)
{
    make(LOOM_SERVER, NULL);
    p_clear();
    handshake(0);
    t->now += 5000;
    t->rc = loom_conn_check_timeouts(t->c, 1000);
    expect_conn_error(LOOM_H2_SETTINGS_TIMEOUT);
}

TEST(settings_no_timeout_in_time)
{
    make(LOOM_SERVER, NULL);
    p_clear();
    handshake(0);
    t->now += 999;
    assert_int_equal(loom_conn_check_timeouts(t->c, 1000), 0);
    expect_nothing();
}

TEST(settings_connect_protocol_2)
{
    cli();
    settings1(S_CONNECT, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(settings_no_rfc7540_priorities_2)
{
    srv();
    settings1(S_NO_PRIO, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

/* ======================= §6.6 PUSH_PROMISE ======================= */

TEST(push_to_server)
{
    srv();
    open_req(1, 0);
    hb_clear();
    hb_push_req();
    push_promise(1, EH, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_disabled)
{
    loom_config cfg = client_cfg();
    cfg.enable_push = 0;
    cli_with(&cfg);
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    push_promise(1, EH, 2);
    assert_int_equal(ev_count(LOOM_EV_PUSH_PROMISE), 0);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_stream0)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    push_promise(0, EH, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_idle_stream)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    push_promise(3, EH, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_closed_stream)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(1, EH | ES), 0);
    settle();
    hb_clear();
    hb_push_req();
    push_promise(1, EH, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_odd_promised)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    push_promise(1, EH, 3);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_promised_reused)
{
    promised();
    hb_clear();
    hb_push_req();
    push_promise(1, EH, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_promised_decreasing)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    assert_int_equal(push_promise(1, EH, 4), 0);
    push_promise(1, EH, 2);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

/* §6.6: PUSH_PROMISE only on a stream the client opened */
TEST(push_on_pushed_stream)
{
    promised();
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(2, EH), 0); /* 2: half-closed (local) */
    settle();
    hb_clear();
    hb_push_req();
    push_promise(2, EH, 4);
    assert_int_equal(ev_count(LOOM_EV_PUSH_PROMISE), 0);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_too_short)
{
    cli();
    assert_int_equal(request("GET"), 1);
    frame(F_PUSH, EH, 1, "\0\0\0", 3);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(push_pad_too_long)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    p_clear();
    p_u8(200);
    p_u32(2);
    p_mem(B.p, B.n);
    p_send(F_PUSH, EH | PADDED, 1);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_padded)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    p_clear();
    p_u8(5);
    p_u32(2);
    p_mem(B.p, B.n);
    p_fill(0, 5);
    assert_int_equal(p_send(F_PUSH, EH | PADDED, 1), 0);
    const ev_t *e = ev_find(LOOM_EV_PUSH_PROMISE, 1);
    assert_non_null(e);
    assert_int_equal(e->promised, 2);
    assert_true(has_field(e, ":path: /pushed"));
    expect_nothing();
}

TEST(push_continuation)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    p_clear();
    p_u32(2);
    p_mem(B.p, 6);
    assert_int_equal(p_send(F_PUSH, 0, 1), 0);
    assert_int_equal(cont(1, EH, B.p + 6, B.n - 6), 0);
    const ev_t *e = ev_find(LOOM_EV_PUSH_PROMISE, 1);
    assert_non_null(e);
    assert_true(has_field(e, ":authority: example.com"));
    expect_nothing();
}

/* §5.1: a PUSH_PROMISE can arrive after we reset its stream; the promised
 * stream is then reset too. */
TEST(push_after_reset)
{
    cli();
    assert_int_equal(request("GET"), 1);
    assert_int_equal(loom_reset(t->c, 1, LOOM_H2_CANCEL), 0);
    settle();
    hb_clear();
    hb_push_req();
    assert_int_equal(push_promise(1, EH, 2), 0);
    assert_int_equal(ev_count(LOOM_EV_PUSH_PROMISE), 0);
    expect_stream_error(2, LOOM_H2_REFUSED_STREAM);
}

/* ======================= §6.7 PING ======================= */

TEST(ping_echo)
{
    srv();
    const char op[8] = {0, 1, 2, 3, (char)0xfc, (char)0xfd, (char)0xfe, (char)0xff};
    assert_int_equal(ping(0, 0, op), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_PING);
    assert_int_equal(fr_new(0)->flags, ACK);
    assert_int_equal(fr_new(0)->len, 8);
    assert_memory_equal(fr_new(0)->opaque, op, 8);
}

TEST(ping_on_stream)
{
    srv();
    ping(0, 1, "12345678");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(ping_len7)
{
    srv();
    frame(F_PING, 0, 0, "1234567", 7);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(ping_len9)
{
    srv();
    frame(F_PING, 0, 0, "123456789", 9);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(ping_ack_not_answered)
{
    srv();
    assert_int_equal(loom_ping(t->c), 0);
    drain();
    assert_int_equal(nnew(), 1);
    uint8_t op[8];
    memcpy(op, fr_new(0)->opaque, 8);
    settle();
    assert_int_equal(ping(ACK, 0, (const char *)op), 0);
    assert_int_equal(ev_count(LOOM_EV_PING_ACK), 1);
    expect_nothing();
}

TEST(ping_client_answers)
{
    cli();
    assert_int_equal(ping(0, 0, "fromsrv!"), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->flags, ACK);
    assert_memory_equal(fr_new(0)->opaque, "fromsrv!", 8);
}

/* ======================= §6.8 GOAWAY ======================= */

TEST(goaway_on_stream)
{
    srv();
    p_clear();
    p_u32(0);
    p_u32(0);
    p_send(F_GOAWAY, 0, 1);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(goaway_short)
{
    srv();
    frame(F_GOAWAY, 0, 0, "\0\0\0\0\0\0\0", 7);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(goaway_debug)
{
    srv();
    assert_int_equal(goaway(0, LOOM_H2_NO_ERROR, "maintenance"), 0);
    const ev_t *e = ev_find(LOOM_EV_GOAWAY, 0);
    assert_non_null(e);
    assert_int_equal(e->code, 0);
    assert_int_equal(e->len, 11);
    expect_nothing();
}

/* §7: an unknown code is not special */
TEST(goaway_unknown_code)
{
    srv();
    assert_int_equal(goaway(0, 0xbeef, NULL), 0);
    assert_int_equal(ev_find(LOOM_EV_GOAWAY, 0)->code, 0xbeef);
    expect_nothing();
}

TEST(goaway_client_no_new_streams)
{
    cli();
    assert_int_equal(request("GET"), 1);
    assert_int_equal(goaway(1, LOOM_H2_NO_ERROR, NULL), 0);
    loom_hpack_field f[] = {FLD(":method", "GET"), FLD(":scheme", "https"),
                            FLD(":authority", "example.com"), FLD(":path", "/")};
    assert_int_equal(loom_request(t->c, f, 4, NULL), LOOM_ERR_STATE);
    drain();
    assert_int_equal(count_new(F_HEADERS), 0);
    /* stream 1 was below the last id: it goes on */
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(1, EH | ES), 0);
    assert_non_null(ev_find(LOOM_EV_HEADERS, 1));
}

TEST(goaway_client_retry_safe)
{
    cli();
    assert_int_equal(request("GET"), 1);
    assert_int_equal(request("GET"), 3);
    assert_int_equal(goaway(1, LOOM_H2_NO_ERROR, NULL), 0);
    const ev_t *e = ev_find(LOOM_EV_STREAM_CLOSED, 3);
    assert_non_null(e);
    assert_true(e->retry_safe);
    assert_null(ev_find(LOOM_EV_STREAM_CLOSED, 1));
    expect_nothing();
}

TEST(goaway_sent_ignores_new)
{
    srv();
    open_req(1, 0);
    assert_int_equal(loom_goaway(t->c, LOOM_H2_NO_ERROR, 0, NULL), 0);
    settle();
    hb_clear();
    hb_req();
    hb_inc("x-sync", "bye");
    assert_int_equal(headers(3, EH), 0);
    assert_int_equal(data(3, ES, "ignored"), 0);
    assert_int_equal(t->nev, 0);
    expect_nothing();
    /* stream 1 goes on, and the ignored block was decoded */
    hb_clear();
    hb_idx(62);
    assert_int_equal(headers(1, EH | ES), 0);
    assert_true(has_field(ev_find(LOOM_EV_TRAILERS, 1), "x-sync: bye"));
}

TEST(goaway_graceful)
{
    srv();
    open_req(1, ES);
    assert_int_equal(loom_goaway(t->c, LOOM_H2_NO_ERROR, 1, NULL), 0);
    drain();
    assert_int_equal(nnew(), 2);
    assert_int_equal(fr_new(0)->type, F_GOAWAY);
    assert_int_equal(fr_new(0)->last_id, 0x7fffffffu);
    assert_int_equal(fr_new(1)->type, F_PING);
    uint8_t op[8];
    memcpy(op, fr_new(1)->opaque, 8);
    settle();
    open_req(3, ES); /* sent before the client saw the GOAWAY */
    assert_int_equal(ping(ACK, 0, (const char *)op), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_GOAWAY);
    assert_int_equal(fr_new(0)->last_id, 3);
}

/* ======================= §6.9 WINDOW_UPDATE ======================= */

TEST(wu_zero_stream)
{
    srv();
    open_req(1, 0);
    wu(1, 0);
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(wu_zero_connection)
{
    srv();
    wu(0, 0);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(wu_len3)
{
    srv();
    frame(F_WU, 0, 0, "\0\0\x01", 3);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(wu_len5)
{
    srv();
    frame(F_WU, 0, 0, "\0\0\0\x01\0", 5);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(wu_conn_overflow)
{
    srv();
    wu(0, 0x7fffffffu - 65535 + 1);
    expect_conn_error(LOOM_H2_FLOW_CONTROL_ERROR);
}

TEST(wu_stream_overflow)
{
    srv();
    open_req(1, 0);
    wu(1, 0x7fffffffu - 65535 + 1);
    expect_stream_error(1, LOOM_H2_FLOW_CONTROL_ERROR);
}

TEST(wu_exact_max)
{
    srv();
    open_req(1, 0);
    assert_int_equal(wu(0, 0x7fffffffu - 65535), 0);
    assert_int_equal(wu(1, 0x7fffffffu - 65535), 0);
    expect_nothing();
}

TEST(wu_reserved_bit)
{
    p_clear();
    p_set(S_WINDOW, 0);
    srv_settings();
    open_req(1, ES);
    respond(1, 100);
    drain();
    assert_int_equal(data_new(-1), 0);
    settle();
    assert_int_equal(wu(1, 0x80000005u), 0); /* R set, increment 5 */
    drain();
    assert_int_equal(data_new(1), 5);
}

TEST(flow_conn_exceeded)
{
    loom_config cfg = server_cfg();
    cfg.max_frame_size = 70000;
    cfg.connection_window = 65535;
    srv_with(&cfg);
    open_req(1, 0);
    data_n(1, 0, 65536);
    assert_null(ev_find(LOOM_EV_DATA, 1));
    expect_conn_error(LOOM_H2_FLOW_CONTROL_ERROR);
}

TEST(flow_stream_exceeded)
{
    srv_window(100, 0);
    open_req(1, 0);
    data_n(1, 0, 101);
    assert_null(ev_find(LOOM_EV_DATA, 1));
    expect_stream_error(1, LOOM_H2_FLOW_CONTROL_ERROR);
}

TEST(flow_stream_exceeded_manual)
{
    srv_window(100, 1);
    open_req(1, 0);
    assert_int_equal(data_n(1, 0, 60), 0);
    expect_nothing();
    data_n(1, 0, 41);
    expect_stream_error(1, LOOM_H2_FLOW_CONTROL_ERROR);
}

TEST(flow_send_stream_window)
{
    p_clear();
    p_set(S_WINDOW, 10);
    srv_settings();
    open_req(1, ES);
    respond(1, 100);
    drain();
    assert_int_equal(data_new(1), 10);
    settle();
    assert_int_equal(wu(1, 5), 0);
    drain();
    assert_int_equal(data_new(1), 5);
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->flags & ES, 0);
}

TEST(flow_send_conn_window)
{
    p_clear();
    p_set(S_WINDOW, 1u << 20);
    srv_settings();
    open_req(1, ES);
    respond(1, 100000);
    drain();
    assert_int_equal(data_new(1), 65535); /* the connection window, not 1 MiB */
    settle();
    assert_int_equal(wu(0, 1000), 0);
    drain();
    assert_int_equal(data_new(1), 1000);
}

TEST(flow_initial_window_shift)
{
    p_clear();
    p_set(S_WINDOW, 0);
    srv_settings();
    open_req(1, ES);
    respond(1, 100);
    drain();
    assert_int_equal(data_new(-1), 0);
    settle();
    assert_int_equal(settings1(S_WINDOW, 7), 0);
    drain();
    assert_int_equal(data_new(1), 7);
}

TEST(flow_initial_window_negative)
{
    p_clear();
    p_set(S_WINDOW, 10);
    srv_settings();
    open_req(1, ES);
    respond(1, 100);
    drain();
    assert_int_equal(data_new(1), 10);
    settle();
    assert_int_equal(settings1(S_WINDOW, 0), 0); /* window now -10 */
    assert_int_equal(wu(1, 15), 0);              /* -10 + 15 = 5 */
    drain();
    assert_int_equal(data_new(1), 5);
}

TEST(flow_initial_window_overflow)
{
    srv();
    open_req(1, 0);
    assert_int_equal(wu(1, 0x7fffffffu - 65535), 0); /* the stream window at 2^31-1 */
    settings1(S_WINDOW, 65536);
    expect_conn_error(LOOM_H2_FLOW_CONTROL_ERROR);
}

/* ======================= §6.10 CONTINUATION ======================= */

TEST(cont_after_end_headers)
{
    srv();
    open_req(1, 0);
    hb_clear();
    hb_new("x-more", "1");
    cont(1, EH, B.p, B.n);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(cont_stream0)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 5), 0);
    cont(0, EH, B.p + 5, B.n - 5);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(cont_data_inside)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, 0, 1, B.p, 5), 0);
    data(1, 0, "x");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(cont_rst_inside)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, 0, 1, B.p, 5), 0);
    rst(1, LOOM_H2_CANCEL);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(cont_after_cont_end)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, 0, 1, B.p, 5), 0);
    assert_int_equal(cont(1, EH, B.p + 5, B.n - 5), 0);
    assert_non_null(ev_find(LOOM_EV_HEADERS, 1));
    hb_clear();
    hb_new("x-more", "1");
    cont(1, EH, B.p, B.n);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(cont_many)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 2), 0);
    for (size_t i = 2; i < B.n - 1; i++)
        assert_int_equal(cont(1, 0, B.p + i, 1), 0);
    assert_int_equal(t->nev, 0);
    assert_int_equal(cont(1, EH, B.p + B.n - 1, 1), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 1);
    assert_non_null(e);
    assert_true(e->end_stream);
    assert_true(has_field(e, ":authority: example.com"));
    expect_nothing();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE("6.1 DATA on stream 0", data_stream0),
        CASE("6.1 DATA padding as long as the payload", data_pad_too_long),
        CASE("6.1 DATA padded without a Pad Length", data_pad_no_length),
        CASE("6.1 padded DATA: padding removed", data_padded),
        CASE("6.1 DATA padding counts toward flow control", data_padding_flow),
        CASE("6.1 padded DATA filling the window exactly", data_padding_flow_fits),
        CASE("6.1 DATA with END_STREAM half-closes the stream", data_end_stream),

        CASE("6.2 HEADERS on stream 0", headers_stream0),
        CASE("6.2 HEADERS padding longer than the payload", headers_pad_too_long),
        CASE("6.2 padded HEADERS: padding removed", headers_padded),
        CASE("6.2 HEADERS too short for its priority fields", headers_priority_short),
        CASE("6.2 padded HEADERS with priority fields", headers_padded_priority),
        CASE("6.2 END_STREAM on HEADERS followed by CONTINUATION",
             headers_end_stream_with_continuation),

        CASE("6.3 PRIORITY on stream 0", priority_stream0),
        CASE("6.3 PRIORITY of length 4", priority_len4),
        CASE("6.3 PRIORITY of length 6", priority_len6),
        CASE("6.3 PRIORITY on a closed stream is allowed", priority_closed),
        CASE("6.3 PRIORITY inside a field block", priority_inside_block),

        CASE("6.4 RST_STREAM on stream 0", rst_stream0),
        CASE("6.4 RST_STREAM of length 3", rst_len3),
        CASE("6.4 RST_STREAM of length 5", rst_len5),
        CASE("6.4 RST_STREAM closes the stream", rst_closes),
        CASE("7 RST_STREAM with an unknown error code", rst_unknown_code),

        CASE("6.5 SETTINGS on a stream", settings_on_stream),
        CASE("6.5 SETTINGS ACK with a payload", settings_ack_payload),
        CASE("6.5 SETTINGS length not a multiple of 6", settings_len_not_6n),
        CASE("6.5 SETTINGS is acknowledged", settings_acked),
        CASE("6.5 empty SETTINGS is acknowledged", settings_empty_acked),
        CASE("6.5.2 SETTINGS_ENABLE_PUSH of 2", settings_push_2),
        CASE("6.5.2 client: SETTINGS_ENABLE_PUSH of 1 from a server", settings_push_1_to_client),
        CASE("6.5.2 SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1", settings_window_too_large),
        CASE("6.5.2 SETTINGS_MAX_FRAME_SIZE below 16384", settings_frame_too_small),
        CASE("6.5.2 SETTINGS_MAX_FRAME_SIZE above 2^24-1", settings_frame_too_large),
        CASE("6.5.2 SETTINGS_MAX_FRAME_SIZE of 2^24-1", settings_frame_max),
        CASE("6.5.2 SETTINGS_HEADER_TABLE_SIZE 0: a size update opens our next block",
             settings_header_table_size),
        CASE("7541 4.2 table size lowered and raised before the first block",
             settings_header_table_size_down_up),
        CASE("6.5.3 SETTINGS values are processed in order", settings_in_order),
        CASE("6.5.3 SETTINGS ACK of our SETTINGS", settings_ack_of_ours),
        CASE("6.5.3 SETTINGS not acknowledged in time", settings_timeout),
        CASE("6.5.3 SETTINGS acknowledgement not yet late", settings_no_timeout_in_time),
        CASE("RFC 8441 3 SETTINGS_ENABLE_CONNECT_PROTOCOL of 2", settings_connect_protocol_2),
        CASE("RFC 9218 2.1 SETTINGS_NO_RFC7540_PRIORITIES of 2", settings_no_rfc7540_priorities_2),

        CASE("6.6 PUSH_PROMISE sent to a server", push_to_server),
        CASE("6.6 client: PUSH_PROMISE with push disabled", push_disabled),
        CASE("6.6 client: PUSH_PROMISE on stream 0", push_stream0),
        CASE("6.6 client: PUSH_PROMISE on an idle stream", push_idle_stream),
        CASE("6.6 client: PUSH_PROMISE on a closed stream", push_closed_stream),
        CASE("6.6 client: PUSH_PROMISE promising an odd stream id", push_odd_promised),
        CASE("6.6 client: PUSH_PROMISE promising a stream already reserved", push_promised_reused),
        CASE("6.6 client: PUSH_PROMISE promising a lower stream id", push_promised_decreasing),
        CASE("6.6 client: PUSH_PROMISE on a pushed stream", push_on_pushed_stream),
        CASE("6.6 client: PUSH_PROMISE too short for the promised id", push_too_short),
        CASE("6.6 client: PUSH_PROMISE padding longer than the payload", push_pad_too_long),
        CASE("6.6 client: padded PUSH_PROMISE", push_padded),
        CASE("6.6 client: PUSH_PROMISE + CONTINUATION", push_continuation),
        CASE("6.6 client: PUSH_PROMISE on a stream we reset", push_after_reset),

        CASE("6.7 PING answered with the same payload", ping_echo),
        CASE("6.7 PING on a stream", ping_on_stream),
        CASE("6.7 PING of length 7", ping_len7),
        CASE("6.7 PING of length 9", ping_len9),
        CASE("6.7 PING ACK is not answered", ping_ack_not_answered),
        CASE("6.7 client: PING from the server is answered", ping_client_answers),

        CASE("6.8 GOAWAY on a stream", goaway_on_stream),
        CASE("6.8 GOAWAY shorter than 8", goaway_short),
        CASE("6.8 GOAWAY with debug data", goaway_debug),
        CASE("7 GOAWAY with an unknown error code", goaway_unknown_code),
        CASE("6.8 client: no new stream after GOAWAY", goaway_client_no_new_streams),
        CASE("6.8 client: streams above the last id are retry-safe", goaway_client_retry_safe),
        CASE("6.8 after our GOAWAY new streams are ignored, still decoded",
             goaway_sent_ignores_new),
        CASE("6.8 graceful shutdown: 2^31-1, then the real last id", goaway_graceful),

        CASE("6.9 WINDOW_UPDATE of 0 on a stream", wu_zero_stream),
        CASE("6.9 WINDOW_UPDATE of 0 on the connection", wu_zero_connection),
        CASE("6.9 WINDOW_UPDATE of length 3", wu_len3),
        CASE("6.9 WINDOW_UPDATE of length 5", wu_len5),
        CASE("6.9.1 connection window above 2^31-1", wu_conn_overflow),
        CASE("6.9.1 stream window above 2^31-1", wu_stream_overflow),
        CASE("6.9.1 windows of exactly 2^31-1", wu_exact_max),
        CASE("6.9 reserved bit of a window increment is ignored", wu_reserved_bit),
        CASE("6.9.1 DATA beyond the connection window", flow_conn_exceeded),
        CASE("6.9.1 DATA beyond the stream window", flow_stream_exceeded),
        CASE("6.9.1 DATA beyond the stream window over two frames (manual windows)",
             flow_stream_exceeded_manual),
        CASE("6.9.1 we send no more DATA than the stream window", flow_send_stream_window),
        CASE("6.9.2 INITIAL_WINDOW_SIZE does not change the connection window",
             flow_send_conn_window),
        CASE("6.9.2 INITIAL_WINDOW_SIZE change shifts open streams' windows",
             flow_initial_window_shift),
        CASE("6.9.2 INITIAL_WINDOW_SIZE change can make a window negative",
             flow_initial_window_negative),
        CASE("6.9.2 INITIAL_WINDOW_SIZE change overflowing a stream window",
             flow_initial_window_overflow),

        CASE("6.10 CONTINUATION after END_HEADERS", cont_after_end_headers),
        CASE("6.10 CONTINUATION on stream 0", cont_stream0),
        CASE("6.10 DATA inside a field block", cont_data_inside),
        CASE("6.10 RST_STREAM inside a field block", cont_rst_inside),
        CASE("6.10 CONTINUATION after a CONTINUATION with END_HEADERS", cont_after_cont_end),
        CASE("6.10 a field block over many CONTINUATION frames", cont_many),
    };
    return cmocka_run_group_tests_name("RFC 9113 connection engine: frame definitions (§6.1-§6.10)",
                                       tests, conn_group_setup, conn_group_teardown);
}
