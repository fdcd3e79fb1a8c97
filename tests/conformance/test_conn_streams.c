/* RFC 9113 conformance of the connection engine: streams and multiplexing (§5.1-§5.5).
 * The harness (what each case builds and checks) is conformance/conn_harness.h. */
#include "conn_harness.h"

/* ======================= §5.1 stream states ======================= */

TEST(idle_data)
{
    srv();
    data(1, 0, "x");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(idle_rst)
{
    srv();
    rst(1, LOOM_H2_CANCEL);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(idle_window_update)
{
    srv();
    wu(1, 100);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(idle_continuation)
{
    srv();
    hb_clear();
    hb_req();
    cont(1, EH, B.p, B.n);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(idle_priority)
{
    srv();
    assert_int_equal(priority(3, 0, 15), 0);
    expect_nothing();
    open_req(3, ES); /* still idle: it can open */
}

TEST(idle_headers_opens)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(headers(1, EH), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 1);
    assert_non_null(e);
    assert_true(has_field(e, ":method: GET"));
    assert_true(has_field(e, ":scheme: https"));
    assert_true(has_field(e, ":path: /"));
    assert_true(has_field(e, ":authority: example.com"));
    expect_nothing();
    assert_int_equal(data(1, ES, "body"), 0); /* open: DATA goes */
    assert_non_null(ev_find(LOOM_EV_DATA, 1));
    expect_nothing();
}

TEST(hcr_data)
{
    srv();
    open_req(1, ES);
    data(1, 0, "late");
    assert_null(ev_find(LOOM_EV_DATA, 1));
    expect_stream_error(1, LOOM_H2_STREAM_CLOSED);
}

TEST(hcr_headers)
{
    srv();
    open_req(1, ES);
    hb_clear();
    hb_new("x-late", "1");
    headers(1, EH | ES);
    assert_null(ev_find(LOOM_EV_TRAILERS, 1));
    expect_stream_error(1, LOOM_H2_STREAM_CLOSED);
}

TEST(hcr_continuation)
{
    srv();
    open_req(1, ES);
    hb_clear();
    hb_new("x-late", "1");
    cont(1, EH, B.p, B.n);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(hcr_window_update)
{
    srv();
    open_req(1, ES);
    assert_int_equal(wu(1, 1000), 0);
    expect_nothing();
}

TEST(hcr_priority)
{
    srv();
    open_req(1, ES);
    assert_int_equal(priority(1, 0, 200), 0);
    expect_nothing();
}

TEST(hcr_rst)
{
    srv();
    open_req(1, ES);
    assert_int_equal(rst(1, LOOM_H2_CANCEL), 0);
    const ev_t *e = ev_find(LOOM_EV_STREAM_CLOSED, 1);
    assert_non_null(e);
    assert_int_equal(e->code, LOOM_H2_CANCEL);
    assert_true(e->by_peer);
    expect_nothing(); /* §5.4.2: no RST_STREAM in reply */
}

TEST(closed_data)
{
    closed_normally();
    data(1, 0, "late");
    assert_null(ev_find(LOOM_EV_DATA, 1));
    expect_stream_error(1, LOOM_H2_STREAM_CLOSED);
}

TEST(closed_headers)
{
    closed_normally();
    hb_clear();
    hb_req();
    headers(1, EH | ES);
    assert_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_conn_error(LOOM_H2_STREAM_CLOSED);
}

TEST(closed_window_update)
{
    closed_normally();
    assert_int_equal(wu(1, 10), 0);
    expect_nothing();
}

TEST(closed_rst)
{
    closed_normally();
    assert_int_equal(rst(1, LOOM_H2_CANCEL), 0);
    expect_nothing();
}

TEST(closed_priority)
{
    closed_normally();
    assert_int_equal(priority(1, 0, 1), 0);
    expect_nothing();
}

TEST(rst_received_data)
{
    srv();
    open_req(1, 0);
    assert_int_equal(rst(1, LOOM_H2_CANCEL), 0);
    settle();
    data(1, 0, "late");
    assert_null(ev_find(LOOM_EV_DATA, 1));
    expect_stream_error(1, LOOM_H2_STREAM_CLOSED);
}

TEST(rst_received_headers)
{
    srv();
    open_req(1, 0);
    assert_int_equal(rst(1, LOOM_H2_CANCEL), 0);
    settle();
    hb_clear();
    hb_new("x-late", "1");
    headers(1, EH | ES);
    expect_conn_error(LOOM_H2_STREAM_CLOSED);
}

TEST(rst_received_priority)
{
    srv();
    open_req(1, 0);
    assert_int_equal(rst(1, LOOM_H2_CANCEL), 0);
    settle();
    assert_int_equal(priority(1, 0, 1), 0);
    expect_nothing();
}

/* the application reset stream 1 */
static void reset_by_us(void)
{
    srv();
    open_req(1, 0);
    assert_int_equal(loom_reset(t->c, 1, LOOM_H2_CANCEL), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_RST);
    settle();
}

TEST(rst_sent_data)
{
    reset_by_us();
    assert_int_equal(data(1, 0, "in flight"), 0);
    assert_int_equal(data(1, ES, "in flight"), 0);
    assert_int_equal(t->nev, 0);
    expect_nothing();
}

TEST(rst_sent_headers)
{
    reset_by_us();
    hb_clear();
    hb_new("x-trailer", "1");
    assert_int_equal(headers(1, EH | ES), 0);
    assert_int_equal(t->nev, 0);
    expect_nothing();
}

TEST(rst_sent_window_update_rst)
{
    reset_by_us();
    assert_int_equal(wu(1, 100), 0);
    assert_int_equal(rst(1, LOOM_H2_CANCEL), 0);
    assert_int_equal(t->nev, 0);
    expect_nothing();
}

TEST(rst_sent_malformed_data)
{
    srv();
    hb_clear();
    hb_req();
    hb_new("Bad", "1");
    assert_int_equal(headers(1, EH), 0);
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
    assert_int_equal(data(1, ES, "in flight"), 0);
    expect_nothing();
}

TEST(rst_sent_refused_data)
{
    loom_config cfg = server_cfg();
    cfg.max_concurrent_streams = 1;
    srv_with(&cfg);
    open_req(1, 0);
    hb_clear();
    hb_req();
    assert_int_equal(headers(3, EH), 0);
    expect_stream_error(3, LOOM_H2_REFUSED_STREAM);
    assert_int_equal(data(3, 0, "in flight"), 0);
    hb_clear();
    hb_new("x-trailer", "1");
    assert_int_equal(headers(3, EH | ES), 0);
    assert_int_equal(t->nev, 0);
    expect_nothing();
}

/* §5.1 / §6.9: DATA on a stream we reset still counts toward the
 * connection window, which is then given back. */
TEST(rst_sent_data_flow)
{
    loom_config cfg = server_cfg();
    cfg.connection_window = 65535;
    srv_with(&cfg);
    open_req(1, 0);
    assert_int_equal(loom_reset(t->c, 1, LOOM_H2_CANCEL), 0);
    settle();
    assert_int_equal(data_n(1, 0, 16384), 0);
    assert_int_equal(data_n(1, 0, 16384), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_WU);
    assert_int_equal(fr_new(0)->sid, 0);
    assert_int_equal(fr_new(0)->inc, 32768);
    assert_int_equal(t->nev, 0);
}

TEST(reserved_local_headers)
{
    pushed();
    hb_clear();
    hb_req();
    headers(2, EH | ES);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(reserved_local_data)
{
    pushed();
    data(2, 0, "x");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(reserved_local_window_update)
{
    pushed();
    assert_int_equal(wu(2, 1000), 0);
    expect_nothing();
}

TEST(reserved_local_priority)
{
    pushed();
    assert_int_equal(priority(2, 0, 10), 0);
    expect_nothing();
}

TEST(reserved_local_rst)
{
    pushed();
    assert_int_equal(rst(2, LOOM_H2_CANCEL), 0);
    const ev_t *e = ev_find(LOOM_EV_STREAM_CLOSED, 2);
    assert_non_null(e);
    assert_true(e->by_peer);
    expect_nothing();
    loom_hpack_field f[] = {FLD(":status", "200")};
    assert_int_equal(loom_respond(t->c, 2, f, 1, NULL), LOOM_ERR_STATE);
}

/* The push finished; a late RST_STREAM or WINDOW_UPDATE from the client
 * is on a closed stream, not an idle one. */
TEST(push_closed_rst)
{
    pushed();
    respond(2, 5);
    drain();
    assert_non_null(ev_find(LOOM_EV_STREAM_CLOSED, 2));
    settle();
    assert_int_equal(rst(2, LOOM_H2_CANCEL), 0);
    expect_nothing();
}

TEST(push_closed_window_update)
{
    pushed();
    respond(2, 5);
    settle();
    assert_int_equal(wu(2, 100), 0);
    expect_nothing();
}

/* ---- client side ---- */

TEST(reserved_remote_data)
{
    promised();
    data(2, 0, "x");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(reserved_remote_window_update)
{
    promised();
    wu(2, 100);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(reserved_remote_headers)
{
    promised();
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(2, EH), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 2);
    assert_non_null(e);
    assert_int_equal(e->status, 200);
    assert_int_equal(data(2, ES, "pushed body"), 0);
    assert_non_null(ev_find(LOOM_EV_DATA, 2));
    e = ev_find(LOOM_EV_STREAM_CLOSED, 2);
    assert_non_null(e);
    assert_int_equal(e->code, 0);
    expect_nothing();
}

TEST(reserved_remote_rst)
{
    promised();
    assert_int_equal(rst(2, LOOM_H2_CANCEL), 0);
    const ev_t *e = ev_find(LOOM_EV_STREAM_CLOSED, 2);
    assert_non_null(e);
    assert_int_equal(e->code, LOOM_H2_CANCEL);
    expect_nothing();
}

TEST(hcl_response)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(1, EH), 0);
    assert_int_equal(data(1, 0, "hello "), 0);
    assert_int_equal(data(1, ES, "world"), 0);
    assert_int_equal(ev_find(LOOM_EV_HEADERS, 1)->status, 200);
    assert_int_equal(t->data_len, 11);
    assert_memory_equal(t->data, "hello world", 11);
    const ev_t *e = ev_find(LOOM_EV_STREAM_CLOSED, 1);
    assert_non_null(e);
    assert_int_equal(e->code, 0);
    expect_nothing();
}

TEST(client_closed_data)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(1, EH | ES), 0);
    assert_non_null(ev_find(LOOM_EV_STREAM_CLOSED, 1));
    settle();
    data(1, 0, "late");
    expect_stream_error(1, LOOM_H2_STREAM_CLOSED);
}

/* ======================= §5.1.1 stream identifiers ======================= */

TEST(id_even_from_client)
{
    srv();
    hb_clear();
    hb_req();
    headers(2, EH | ES);
    assert_null(ev_find(LOOM_EV_HEADERS, 2));
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(id_decreasing)
{
    srv();
    open_req(5, ES);
    hb_clear();
    hb_req();
    headers(3, EH | ES);
    assert_null(ev_find(LOOM_EV_HEADERS, 3));
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(id_reused)
{
    srv();
    open_req(1, ES);
    respond(1, 0);
    settle();
    open_req(3, ES);
    hb_clear();
    hb_req();
    headers(1, EH | ES);
    assert_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_conn_error(LOOM_H2_STREAM_CLOSED);
}

TEST(id_skipped_is_closed)
{
    srv();
    open_req(5, 0);
    data(3, 0, "x"); /* 3 was implicitly closed when 5 opened */
    expect_stream_error(3, LOOM_H2_STREAM_CLOSED);
}

TEST(id_client_odd_from_server)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    headers(3, EH | ES);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(id_client_even_not_promised)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    headers(2, EH | ES);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(id_client_sends_odd_increasing)
{
    cli();
    loom_hpack_field f[] = {FLD(":method", "GET"), FLD(":scheme", "https"),
                            FLD(":authority", "example.com"), FLD(":path", "/")};
    assert_int_equal(loom_request(t->c, f, 4, NULL), 1);
    assert_int_equal(loom_request(t->c, f, 4, NULL), 3);
    assert_int_equal(loom_request(t->c, f, 4, NULL), 5);
    drain();
    assert_int_equal(nnew(), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fr_new(i)->type, F_HEADERS);
        assert_int_equal(fr_new(i)->sid, (uint32_t)(2 * i + 1));
    }
}

/* ======================= §5.1.2 concurrency ======================= */

TEST(mcs_exceeded)
{
    srv_mcs(1);
    open_req(1, 0);
    hb_clear();
    hb_req();
    assert_int_equal(headers(3, EH | ES), 0);
    assert_null(ev_find(LOOM_EV_HEADERS, 3));
    expect_stream_error(3, LOOM_H2_REFUSED_STREAM);
    assert_int_equal(data(1, ES, "still open"), 0);
    assert_non_null(ev_find(LOOM_EV_DATA, 1));
}

TEST(mcs_half_closed_counts)
{
    srv_mcs(1);
    open_req(1, ES);
    hb_clear();
    hb_req();
    assert_int_equal(headers(3, EH | ES), 0);
    assert_null(ev_find(LOOM_EV_HEADERS, 3));
    expect_stream_error(3, LOOM_H2_REFUSED_STREAM);
}

TEST(mcs_slot_freed)
{
    srv_mcs(1);
    open_req(1, ES);
    respond(1, 0);
    settle();
    hb_clear();
    hb_req();
    expect_request_accepted(3);
}

TEST(mcs_zero)
{
    srv_mcs(0);
    hb_clear();
    hb_req();
    assert_int_equal(headers(1, EH | ES), 0);
    assert_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_stream_error(1, LOOM_H2_REFUSED_STREAM);
}

TEST(mcs_client_respects)
{
    make(LOOM_CLIENT, NULL);
    p_clear();
    p_set(S_MCS, 1);
    handshake(1);
    loom_hpack_field f[] = {FLD(":method", "GET"), FLD(":scheme", "https"),
                            FLD(":authority", "example.com"), FLD(":path", "/")};
    assert_int_equal(loom_request(t->c, f, 4, NULL), 1);
    assert_int_equal(loom_request(t->c, f, 4, NULL), LOOM_ERR_LIMIT);
    drain();
    assert_int_equal(count_new(F_HEADERS), 1);
}

/* ======================= §5.3 priority ======================= */

TEST(self_dependent_headers)
{
    srv();
    hb_clear();
    hb_req();
    hb_inc("x-sync", "dep");
    p_clear();
    p_u32(1); /* depends on stream 1: itself */
    p_u8(15);
    p_mem(B.p, B.n);
    assert_int_equal(p_send(F_HEADERS, EH | ES | PRIO, 1), 0);
    assert_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
    /* the block was decoded: its entry is in the table */
    hb_clear();
    hb_req();
    hb_idx(62);
    assert_int_equal(headers(3, EH | ES), 0);
    assert_true(has_field(ev_find(LOOM_EV_HEADERS, 3), "x-sync: dep"));
    expect_nothing();
}

TEST(self_dependent_priority)
{
    srv();
    open_req(1, 0);
    priority(1, 1, 15);
    const ev_t *e = ev_find(LOOM_EV_STREAM_CLOSED, 1);
    assert_non_null(e);
    assert_int_equal(e->code, LOOM_H2_PROTOCOL_ERROR);
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(headers_priority_flag)
{
    srv();
    hb_clear();
    hb_req();
    p_clear();
    p_u32(0x80000000u); /* exclusive, on stream 0 */
    p_u8(200);
    p_mem(B.p, B.n);
    assert_int_equal(p_send(F_HEADERS, EH | ES | PRIO, 1), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 1);
    assert_non_null(e);
    assert_true(has_field(e, ":authority: example.com"));
    expect_nothing();
}

/* ======================= §5.4 error handling ======================= */

TEST(goaway_last_stream)
{
    srv();
    open_req(1, ES);
    open_req(3, 0);
    ping(0, 1, "onstream"); /* PING on a stream: connection error */
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
    assert_int_equal(goaway_last, 3);
}

TEST(nothing_after_conn_error)
{
    srv();
    data(1, 0, "x");
    assert_true(t->rc < 0);
    settle();
    hb_clear();
    hb_req();
    assert_true(headers(3, EH | ES) < 0);
    assert_true(settings1(S_MCS, 1) < 0);
    drain();
    assert_int_equal(nnew(), 0);
    assert_int_equal(t->nev, 0);
}

TEST(no_rst_for_rst)
{
    srv();
    open_req(1, 0);
    assert_int_equal(rst(1, LOOM_H2_PROTOCOL_ERROR), 0);
    expect_nothing();
}

TEST(stream_error_others_live)
{
    srv();
    open_req(1, 0);
    hb_clear();
    hb_req();
    hb_new("connection", "close");
    expect_malformed_request(3);
    assert_int_equal(data(1, ES, "fine"), 0);
    const ev_t *e = ev_find(LOOM_EV_DATA, 1);
    assert_non_null(e);
    assert_true(e->end_stream);
    respond(1, 4);
    drain();
    assert_int_equal(data_new(1), 4);
}

/* §6.8: the last stream id we send never increases, whatever happens after
 * our GOAWAY. */
TEST(goaway_never_increases)
{
    srv();
    open_req(1, ES);
    assert_int_equal(loom_goaway(t->c, LOOM_H2_NO_ERROR, 0, NULL), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->last_id, 1);
    settle();
    hb_clear();
    hb_req();
    assert_int_equal(headers(3, EH | ES), 0); /* above the last id: ignored */
    assert_null(ev_find(LOOM_EV_HEADERS, 3));
    drain();
    assert_int_equal(nnew(), 0);
    ping(0, 1, "onstream");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
    assert_int_equal(goaway_last, 1);
}

/* ======================= §5.5 extensions ======================= */

TEST(ext_unknown_on_stream)
{
    srv();
    assert_int_equal(frame(0xfb, 0, 1, "xyz", 3), 0);
    expect_nothing();
    open_req(1, ES); /* the stream is still idle */
}

TEST(ext_unknown_setting)
{
    srv();
    p_clear();
    p_set(0xff, 123456);
    p_set(S_MCS, 9);
    assert_int_equal(p_send(F_SETTINGS, 0, 0), 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->flags, ACK);
    assert_int_equal(loom_conn_peer_setting(t->c, S_MCS), 9);
    alive();
}

TEST(ext_inside_block)
{
    srv();
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 5), 0);
    frame(0xfa, 0, 1, "x", 1);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(ext_origin_to_server)
{
    srv();
    p_clear();
    p_u8(0);
    p_u8(19);
    p_mem("https://example.com", 19);
    assert_int_equal(p_send(F_ORIGIN, 0, 0), 0);
    assert_int_equal(t->nev, 0);
    expect_nothing();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE("5.1 DATA on an idle stream", idle_data),
        CASE("5.1 RST_STREAM on an idle stream", idle_rst),
        CASE("5.1 WINDOW_UPDATE on an idle stream", idle_window_update),
        CASE("5.1 CONTINUATION on an idle stream", idle_continuation),
        CASE("5.1 PRIORITY on an idle stream is allowed", idle_priority),
        CASE("5.1 HEADERS opens an idle stream", idle_headers_opens),
        CASE("5.1 half-closed (remote): DATA is STREAM_CLOSED", hcr_data),
        CASE("5.1 half-closed (remote): HEADERS is STREAM_CLOSED", hcr_headers),
        CASE("5.1 half-closed (remote): CONTINUATION without a block", hcr_continuation),
        CASE("5.1 half-closed (remote): WINDOW_UPDATE is allowed", hcr_window_update),
        CASE("5.1 half-closed (remote): PRIORITY is allowed", hcr_priority),
        CASE("5.1 half-closed (remote): RST_STREAM closes it", hcr_rst),
        CASE("5.1 closed after END_STREAM both ways: DATA is STREAM_CLOSED", closed_data),
        CASE("5.1 closed after END_STREAM both ways: HEADERS is a connection STREAM_CLOSED",
             closed_headers),
        CASE("5.1 closed after END_STREAM: a late WINDOW_UPDATE is ignored", closed_window_update),
        CASE("5.1 closed after END_STREAM: a late RST_STREAM is ignored", closed_rst),
        CASE("5.1 closed after END_STREAM: PRIORITY is allowed", closed_priority),
        CASE("5.1 closed by RST_STREAM received: DATA is STREAM_CLOSED", rst_received_data),
        CASE("5.1 closed by RST_STREAM received: HEADERS is a connection STREAM_CLOSED",
             rst_received_headers),
        CASE("5.1 closed by RST_STREAM received: PRIORITY is allowed", rst_received_priority),
        CASE("5.1 closed by RST_STREAM sent: DATA is ignored", rst_sent_data),
        CASE("5.1 closed by RST_STREAM sent: HEADERS is ignored", rst_sent_headers),
        CASE("5.1 closed by RST_STREAM sent: WINDOW_UPDATE and RST_STREAM are ignored",
             rst_sent_window_update_rst),
        CASE("5.1 closed by RST_STREAM sent for a malformed request: DATA is ignored",
             rst_sent_malformed_data),
        CASE("5.1 closed by REFUSED_STREAM: DATA and trailers are ignored", rst_sent_refused_data),
        CASE("5.1 DATA after RST_STREAM sent counts toward the connection window",
             rst_sent_data_flow),
        CASE("5.1 reserved (local): HEADERS from the client", reserved_local_headers),
        CASE("5.1 reserved (local): DATA from the client", reserved_local_data),
        CASE("5.1 reserved (local): WINDOW_UPDATE is allowed", reserved_local_window_update),
        CASE("5.1 reserved (local): PRIORITY is allowed", reserved_local_priority),
        CASE("5.1 reserved (local): RST_STREAM closes it", reserved_local_rst),
        CASE("5.1 finished push: a late RST_STREAM is ignored", push_closed_rst),
        CASE("5.1 finished push: a late WINDOW_UPDATE is ignored", push_closed_window_update),
        CASE("5.1 client: reserved (remote): DATA", reserved_remote_data),
        CASE("5.1 client: reserved (remote): WINDOW_UPDATE", reserved_remote_window_update),
        CASE("5.1 client: reserved (remote): HEADERS opens the pushed response",
             reserved_remote_headers),
        CASE("5.1 client: reserved (remote): RST_STREAM closes it", reserved_remote_rst),
        CASE("5.1 client: half-closed (local): the response is received", hcl_response),
        CASE("5.1 client: closed: DATA after the response ended", client_closed_data),

        CASE("5.1.1 even stream id from a client", id_even_from_client),
        CASE("5.1.1 stream id lower than one already opened", id_decreasing),
        CASE("5.1.1 stream id reused after its stream closed", id_reused),
        CASE("5.1.1 a skipped stream id is closed, not idle", id_skipped_is_closed),
        CASE("5.1.1 client: HEADERS on an odd stream it did not open", id_client_odd_from_server),
        CASE("5.1.1 client: HEADERS on an even stream never promised", id_client_even_not_promised),
        CASE("5.1.1 client: requests use odd, increasing ids", id_client_sends_odd_increasing),

        CASE("5.1.2 HEADERS beyond SETTINGS_MAX_CONCURRENT_STREAMS", mcs_exceeded),
        CASE("5.1.2 half-closed (remote) streams count toward the limit", mcs_half_closed_counts),
        CASE("5.1.2 a closed stream frees its slot", mcs_slot_freed),
        CASE("5.1.2 SETTINGS_MAX_CONCURRENT_STREAMS of 0", mcs_zero),
        CASE("5.1.2 client: never more streams than the server allows", mcs_client_respects),

        CASE("5.3.1 HEADERS depending on its own stream", self_dependent_headers),
        CASE("5.3.1 PRIORITY depending on its own stream", self_dependent_priority),
        CASE("5.3.2 HEADERS with priority fields is accepted", headers_priority_flag),

        CASE("5.4.1 GOAWAY names the last stream processed", goaway_last_stream),
        CASE("5.4.1 nothing is processed after a connection error", nothing_after_conn_error),
        CASE("5.4.2 no RST_STREAM in reply to RST_STREAM", no_rst_for_rst),
        CASE("5.4.2 a stream error leaves other streams working", stream_error_others_live),
        CASE("5.4.1 GOAWAY last stream id never increases", goaway_never_increases),

        CASE("5.5 unknown frame type on a stream is ignored", ext_unknown_on_stream),
        CASE("5.5 unknown SETTINGS identifier is ignored", ext_unknown_setting),
        CASE("5.5 extension frame inside a field block", ext_inside_block),
        CASE("5.5 ORIGIN sent to a server is ignored", ext_origin_to_server),
    };
    return cmocka_run_group_tests_name(
        "RFC 9113 connection engine: streams and multiplexing (§5.1-§5.5)", tests, conn_group_setup,
        conn_group_teardown);
}
