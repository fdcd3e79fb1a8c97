/* RFC 9113 conformance of the connection engine: HTTP semantics (§8.1-§8.5, RFC 9218 §7.1).
 * The harness (what each case builds and checks) is conformance/conn_harness.h. */
#include "conn_harness.h"

/* ======================= §8.1 messages ======================= */

TEST(msg_trailers_no_end_stream)
{
    srv();
    open_req(1, 0);
    assert_int_equal(data(1, 0, "body"), 0);
    hb_clear();
    hb_new("x-trailer", "1");
    headers(1, EH);
    assert_null(ev_find(LOOM_EV_TRAILERS, 1));
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(msg_second_headers_no_end_stream)
{
    srv();
    open_req(1, 0);
    hb_clear();
    hb_new("x-trailer", "1");
    headers(1, EH);
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(msg_trailers)
{
    srv();
    open_req(1, 0);
    assert_int_equal(data(1, 0, "body"), 0);
    hb_clear();
    hb_new("x-trailer", "yes");
    assert_int_equal(headers(1, EH | ES), 0);
    const ev_t *e = ev_find(LOOM_EV_TRAILERS, 1);
    assert_non_null(e);
    assert_true(e->end_stream);
    assert_true(has_field(e, "x-trailer: yes"));
    expect_nothing();
}

TEST(msg_client_data_before_headers)
{
    cli();
    assert_int_equal(request("GET"), 1);
    data(1, ES, "early");
    assert_null(ev_find(LOOM_EV_DATA, 1));
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(msg_client_data_after_1xx)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_lit(I_200, "103");
    assert_int_equal(headers(1, EH), 0);
    data(1, ES, "early");
    assert_null(ev_find(LOOM_EV_DATA, 1));
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(msg_client_1xx_end_stream)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_lit(I_200, "100");
    expect_malformed_response(1);
}

TEST(msg_client_1xx_then_final)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_lit(I_200, "103");
    hb_new("link", "</a.css>; rel=preload");
    assert_int_equal(headers(1, EH), 0);
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(1, EH | ES), 0);
    assert_int_equal(ev_count(LOOM_EV_HEADERS), 2);
    assert_int_equal(t->ev[0].status, 103);
    assert_int_equal(t->ev[1].status, 200);
    assert_true(t->ev[1].end_stream);
    expect_nothing();
}

TEST(msg_client_101)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_lit(I_200, "101");
    headers(1, EH);
    assert_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(msg_client_trailers_no_end_stream)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(1, EH), 0);
    hb_clear();
    hb_new("x-trailer", "1");
    headers(1, EH);
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(cl_larger)
{
    srv();
    hb_clear();
    hb_req();
    hb_lit(I_CONTENT_LENGTH, "10");
    assert_int_equal(headers(1, EH), 0);
    data(1, ES, "short");
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(cl_smaller)
{
    srv();
    hb_clear();
    hb_req();
    hb_lit(I_CONTENT_LENGTH, "3");
    assert_int_equal(headers(1, EH), 0);
    data(1, 0, "longer");
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(cl_no_data)
{
    srv();
    hb_clear();
    hb_req();
    hb_lit(I_CONTENT_LENGTH, "5");
    expect_malformed_request(1);
}

TEST(cl_zero_no_data)
{
    srv();
    hb_clear();
    hb_req();
    hb_lit(I_CONTENT_LENGTH, "0");
    expect_request_accepted(1);
}

TEST(cl_matching)
{
    srv();
    hb_clear();
    hb_req();
    hb_lit(I_CONTENT_LENGTH, "11");
    assert_int_equal(headers(1, EH), 0);
    assert_int_equal(data(1, 0, "hello "), 0);
    assert_int_equal(data(1, ES, "world"), 0);
    assert_int_equal(t->data_len, 11);
    expect_nothing();
}

TEST(cl_not_number)
{
    srv();
    hb_clear();
    hb_req();
    hb_lit(I_CONTENT_LENGTH, "1x");
    expect_malformed_request(1);
}

TEST(cl_conflicting)
{
    srv();
    hb_clear();
    hb_req();
    hb_lit(I_CONTENT_LENGTH, "5");
    hb_lit(I_CONTENT_LENGTH, "6");
    expect_malformed_request(1);
}

TEST(cl_client_head)
{
    cli();
    assert_int_equal(request("HEAD"), 1);
    hb_clear();
    hb_idx(I_200);
    hb_lit(I_CONTENT_LENGTH, "100");
    assert_int_equal(headers(1, EH | ES), 0);
    assert_non_null(ev_find(LOOM_EV_HEADERS, 1));
    assert_int_equal(ev_find(LOOM_EV_STREAM_CLOSED, 1)->code, 0);
    expect_nothing();
}

TEST(cl_client_mismatch)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    hb_lit(I_CONTENT_LENGTH, "5");
    assert_int_equal(headers(1, EH), 0);
    data(1, ES, "abc");
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

/* ======================= §8.2 fields ======================= */

#define BAD_FIELD(fn, name, nlen, value, vlen)                                                     \
    TEST(fn)                                                                                       \
    {                                                                                              \
        srv();                                                                                     \
        hb_clear();                                                                                \
        hb_req();                                                                                  \
        hb_newn(name, nlen, value, vlen);                                                          \
        expect_malformed_request(1);                                                               \
    }

BAD_FIELD(field_uppercase, "X-Foo", 5, "a", 1)
BAD_FIELD(field_name_space, "x foo", 5, "a", 1)
BAD_FIELD(field_name_colon, "x:foo", 5, "a", 1)
BAD_FIELD(field_name_empty, "", 0, "a", 1)
BAD_FIELD(field_name_nonascii, "x\xe9", 2, "a", 1)
BAD_FIELD(field_value_nul, "x-a", 3, "a\0b", 3)
BAD_FIELD(field_value_cr, "x-a", 3, "a\rb", 3)
BAD_FIELD(field_value_lf, "x-a", 3, "a\nb", 3)
BAD_FIELD(field_value_leading_space, "x-a", 3, " a", 2)
BAD_FIELD(field_value_trailing_tab, "x-a", 3, "a\t", 2)
BAD_FIELD(field_connection, "connection", 10, "close", 5)
BAD_FIELD(field_keep_alive, "keep-alive", 10, "timeout=5", 9)
BAD_FIELD(field_proxy_connection, "proxy-connection", 16, "close", 5)
BAD_FIELD(field_upgrade, "upgrade", 7, "websocket", 9)
BAD_FIELD(field_te_gzip, "te", 2, "gzip", 4)

TEST(field_transfer_encoding)
{
    srv();
    hb_clear();
    hb_req();
    hb_lit(I_TRANSFER_ENCODING, "chunked");
    expect_malformed_request(1);
}

TEST(field_te_trailers)
{
    srv();
    hb_clear();
    hb_req();
    hb_new("te", "trailers");
    expect_request_accepted(1);
}

TEST(field_value_inner_space)
{
    srv();
    hb_clear();
    hb_req();
    hb_new("user-agent", "a b\tc");
    assert_int_equal(headers(1, EH | ES), 0);
    assert_true(has_field(ev_find(LOOM_EV_HEADERS, 1), "user-agent: a b\tc"));
    expect_nothing();
}

/* A bad field entered in the dynamic table is as bad each time it is
 * referenced (the decoder checks a table entry once and remembers the
 * verdict): every request naming it is malformed, and a good entry is
 * accepted each time. */
TEST(field_bad_dynamic_entry_stays_bad)
{
    srv();
    hb_clear();
    hb_req();
    hb_byte(0x40); /* §6.2.1, new name: enters the table as index 62 */
    hb_strn("x-a", 3);
    hb_strn("a\nb", 3);
    expect_malformed_request(1);
    for (uint32_t sid = 3; sid <= 5; sid += 2) {
        hb_clear();
        hb_req();
        hb_idx(62);
        expect_malformed_request(sid);
    }
}

TEST(field_good_dynamic_entry_stays_good)
{
    srv();
    hb_clear();
    hb_req();
    hb_inc("x-good", "yes");
    expect_request_accepted(1);
    for (uint32_t sid = 3; sid <= 5; sid += 2) {
        hb_clear();
        hb_req();
        hb_idx(62);
        assert_int_equal(headers(sid, EH | ES), 0);
        assert_true(has_field(ev_find(LOOM_EV_HEADERS, (int32_t)sid), "x-good: yes"));
        expect_nothing();
    }
}

TEST(field_client_uppercase)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    hb_new("Content-Type", "text/plain");
    expect_malformed_response(1);
}

TEST(field_trailer_connection)
{
    srv();
    open_req(1, 0);
    hb_clear();
    hb_new("connection", "close");
    headers(1, EH | ES);
    assert_null(ev_find(LOOM_EV_TRAILERS, 1));
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

/* ======================= §8.3 pseudo-header fields ======================= */

TEST(pseudo_no_method)
{
    srv();
    hb_clear();
    hb_idx(I_HTTPS);
    hb_idx(I_PATH);
    hb_lit(I_AUTHORITY, "example.com");
    expect_malformed_request(1);
}

TEST(pseudo_no_scheme)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_PATH);
    hb_lit(I_AUTHORITY, "example.com");
    expect_malformed_request(1);
}

TEST(pseudo_no_path)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_lit(I_AUTHORITY, "example.com");
    expect_malformed_request(1);
}

TEST(pseudo_empty_path)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_lit(I_PATH, "");
    hb_lit(I_AUTHORITY, "example.com");
    expect_malformed_request(1);
}

TEST(pseudo_repeated_method)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_POST);
    hb_idx(I_HTTPS);
    hb_idx(I_PATH);
    expect_malformed_request(1);
}

TEST(pseudo_repeated_path)
{
    srv();
    hb_clear();
    hb_req();
    hb_idx(I_PATH_INDEX);
    expect_malformed_request(1);
}

TEST(pseudo_repeated_scheme)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_idx(I_HTTP);
    hb_idx(I_PATH);
    expect_malformed_request(1);
}

TEST(pseudo_unknown)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_idx(I_PATH);
    hb_new(":foo", "bar");
    expect_malformed_request(1);
}

TEST(pseudo_status_in_request)
{
    srv();
    hb_clear();
    hb_req();
    hb_idx(I_200);
    expect_malformed_request(1);
}

TEST(pseudo_after_regular)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_new("x-a", "b");
    hb_idx(I_PATH);
    expect_malformed_request(1);
}

TEST(pseudo_in_trailers)
{
    srv();
    open_req(1, 0);
    hb_clear();
    hb_idx(I_PATH);
    headers(1, EH | ES);
    assert_null(ev_find(LOOM_EV_TRAILERS, 1));
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

TEST(pseudo_no_authority_ok)
{
    srv();
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_idx(I_PATH);
    expect_request_accepted(1);
}

TEST(pseudo_client_no_status)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_new("x-a", "b");
    expect_malformed_response(1);
}

TEST(pseudo_client_repeated_status)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    hb_idx(I_200);
    expect_malformed_response(1);
}

TEST(pseudo_client_request_pseudo)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    hb_idx(I_PATH);
    expect_malformed_response(1);
}

TEST(pseudo_client_bad_status)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_lit(I_200, "2x0");
    expect_malformed_response(1);
}

TEST(pseudo_client_in_trailers)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_200);
    assert_int_equal(headers(1, EH), 0);
    hb_clear();
    hb_idx(I_200);
    headers(1, EH | ES);
    assert_null(ev_find(LOOM_EV_TRAILERS, 1));
    expect_stream_error(1, LOOM_H2_PROTOCOL_ERROR);
}

/* ======================= §8.4 server push ======================= */

TEST(push_req_post)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_POST);
    hb_idx(I_HTTPS);
    hb_lit(I_PATH, "/form");
    hb_lit(I_AUTHORITY, "example.com");
    assert_int_equal(push_promise(1, EH, 2), 0);
    assert_int_equal(ev_count(LOOM_EV_PUSH_PROMISE), 0);
    expect_stream_error(2, LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_req_content)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    hb_lit(I_CONTENT_LENGTH, "10");
    assert_int_equal(push_promise(1, EH, 2), 0);
    assert_int_equal(ev_count(LOOM_EV_PUSH_PROMISE), 0);
    expect_stream_error(2, LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_req_no_authority)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_idx(I_GET);
    hb_idx(I_HTTPS);
    hb_lit(I_PATH, "/pushed");
    assert_int_equal(push_promise(1, EH, 2), 0);
    assert_int_equal(ev_count(LOOM_EV_PUSH_PROMISE), 0);
    expect_stream_error(2, LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_req_malformed)
{
    cli();
    assert_int_equal(request("GET"), 1);
    hb_clear();
    hb_push_req();
    hb_new("Accept", "*/*");
    assert_int_equal(push_promise(1, EH, 2), 0);
    assert_int_equal(ev_count(LOOM_EV_PUSH_PROMISE), 0);
    expect_stream_error(2, LOOM_H2_PROTOCOL_ERROR);
}

TEST(push_server_disabled)
{
    p_clear();
    p_set(S_PUSH, 0);
    srv_settings();
    open_req(1, ES);
    assert_int_equal(push(1), LOOM_ERR_STATE);
    drain();
    assert_int_equal(nnew(), 0);
}

TEST(push_server_ids)
{
    srv();
    open_req(1, 0);
    assert_int_equal(push(1), 2);
    assert_int_equal(push(1), 4);
    drain();
    assert_int_equal(nnew(), 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fr_new(i)->type, F_PUSH);
        assert_int_equal(fr_new(i)->sid, 1);
        assert_int_equal(fr_new(i)->promised, (uint32_t)(2 + 2 * i));
    }
}

TEST(push_server_not_open)
{
    closed_normally();
    assert_int_equal(push(1), LOOM_ERR_STATE);
    drain();
    assert_int_equal(nnew(), 0);
}

/* ======================= §8.5 CONNECT ======================= */

static void hb_connect(void)
{
    hb_clear();
    hb_lit(I_GET, "CONNECT");
}

TEST(connect_ok)
{
    srv();
    hb_connect();
    hb_lit(I_AUTHORITY, "example.com:443");
    assert_int_equal(headers(1, EH), 0);
    const ev_t *e = ev_find(LOOM_EV_HEADERS, 1);
    assert_non_null(e);
    assert_true(has_field(e, ":method: CONNECT"));
    expect_nothing();
}

TEST(connect_scheme)
{
    srv();
    hb_connect();
    hb_idx(I_HTTPS);
    hb_lit(I_AUTHORITY, "example.com:443");
    expect_malformed_request(1);
}

TEST(connect_path)
{
    srv();
    hb_connect();
    hb_idx(I_PATH);
    hb_lit(I_AUTHORITY, "example.com:443");
    expect_malformed_request(1);
}

TEST(connect_no_authority)
{
    srv();
    hb_connect();
    expect_malformed_request(1);
}

static void hb_extended_connect(void)
{
    hb_connect();
    hb_idx(I_HTTPS);
    hb_lit(I_PATH, "/chat");
    hb_lit(I_AUTHORITY, "example.com");
    hb_new(":protocol", "websocket");
}

TEST(connect_protocol_not_enabled)
{
    srv();
    hb_extended_connect();
    expect_malformed_request(1);
}

static void srv_connect_protocol(void)
{
    loom_config cfg = server_cfg();
    cfg.enable_connect_protocol = 1;
    srv_with(&cfg);
}

TEST(connect_protocol_enabled)
{
    srv_connect_protocol();
    hb_extended_connect();
    assert_int_equal(headers(1, EH), 0);
    assert_true(has_field(ev_find(LOOM_EV_HEADERS, 1), ":protocol: websocket"));
    expect_nothing();
}

TEST(connect_protocol_on_get)
{
    srv_connect_protocol();
    hb_clear();
    hb_req();
    hb_new(":protocol", "websocket");
    expect_malformed_request(1);
}

TEST(connect_protocol_no_path)
{
    srv_connect_protocol();
    hb_connect();
    hb_idx(I_HTTPS);
    hb_lit(I_AUTHORITY, "example.com");
    hb_new(":protocol", "websocket");
    expect_malformed_request(1);
}

/* ======================= RFC 9218 §7.1 PRIORITY_UPDATE ======================= */

TEST(pu_on_stream)
{
    srv();
    p_clear();
    p_u32(1);
    p_mem("u=1", 3);
    p_send(F_PRIO_UPDATE, 0, 1);
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(pu_stream0)
{
    srv();
    prio_update(0, "u=1");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(pu_short)
{
    srv();
    frame(F_PRIO_UPDATE, 0, 0, "\0\0\x01", 3);
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
}

TEST(pu_to_client)
{
    cli();
    assert_int_equal(request("GET"), 1);
    prio_update(1, "u=1");
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(pu_idle_push)
{
    srv();
    open_req(1, 0);
    prio_update(2, "u=1"); /* never promised */
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

TEST(pu_promised_push)
{
    pushed();
    assert_int_equal(prio_update(2, "u=1"), 0);
    const ev_t *e = ev_find(LOOM_EV_PRIORITY, 2);
    assert_non_null(e);
    assert_int_equal(e->urgency, 1);
    expect_nothing();
}

TEST(pu_open_stream)
{
    srv();
    open_req(1, 0);
    assert_int_equal(prio_update(1, "u=6, i"), 0);
    const ev_t *e = ev_find(LOOM_EV_PRIORITY, 1);
    assert_non_null(e);
    assert_int_equal(e->urgency, 6);
    assert_int_equal(e->incremental, 1);
    expect_nothing();
}

TEST(pu_idle_request)
{
    srv();
    assert_int_equal(prio_update(1, "u=2"), 0);
    expect_nothing();
    open_req(1, ES);
}

TEST(pu_idle_beyond_limit)
{
    srv_mcs(1);
    open_req(1, 0);
    prio_update(3, "u=2"); /* 1 prioritized idle + 1 active > 1 */
    expect_conn_error(LOOM_H2_PROTOCOL_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE("8.1 trailers without END_STREAM", msg_trailers_no_end_stream),
        CASE("8.1 second HEADERS without END_STREAM", msg_second_headers_no_end_stream),
        CASE("8.1 trailers with END_STREAM are delivered", msg_trailers),
        CASE("8.1 client: DATA before the response HEADERS", msg_client_data_before_headers),
        CASE("8.1 client: DATA after only a 1xx response", msg_client_data_after_1xx),
        CASE("8.1 client: 1xx response with END_STREAM", msg_client_1xx_end_stream),
        CASE("8.1 client: 1xx responses then the final response", msg_client_1xx_then_final),
        CASE("8.6 client: 101 Switching Protocols", msg_client_101),
        CASE("8.1 client: response trailers without END_STREAM", msg_client_trailers_no_end_stream),
        CASE("8.1.1 content-length larger than the DATA", cl_larger),
        CASE("8.1.1 content-length smaller than the DATA", cl_smaller),
        CASE("8.1.1 content-length on HEADERS with END_STREAM", cl_no_data),
        CASE("8.1.1 content-length 0 on HEADERS with END_STREAM", cl_zero_no_data),
        CASE("8.1.1 content-length matching the DATA", cl_matching),
        CASE("8.1.1 content-length not a number", cl_not_number),
        CASE("8.1.1 conflicting content-length values", cl_conflicting),
        CASE("8.1.1 client: content-length of a HEAD response", cl_client_head),
        CASE("8.1.1 client: content-length not matching the response DATA", cl_client_mismatch),

        CASE("8.2 uppercase field name", field_uppercase),
        CASE("8.2.1 field name with a space", field_name_space),
        CASE("8.2.1 field name with a colon inside", field_name_colon),
        CASE("8.2.1 empty field name", field_name_empty),
        CASE("8.2.1 field name with a non-ASCII octet", field_name_nonascii),
        CASE("8.2.1 field value with NUL", field_value_nul),
        CASE("8.2.1 field value with CR", field_value_cr),
        CASE("8.2.1 field value with LF", field_value_lf),
        CASE("8.2.1 field value with a leading space", field_value_leading_space),
        CASE("8.2.1 field value with a trailing tab", field_value_trailing_tab),
        CASE("8.2.1 field value with inner whitespace is accepted", field_value_inner_space),
        CASE("8.2.2 connection field", field_connection),
        CASE("8.2.2 keep-alive field", field_keep_alive),
        CASE("8.2.2 proxy-connection field", field_proxy_connection),
        CASE("8.2.2 transfer-encoding field", field_transfer_encoding),
        CASE("8.2.2 upgrade field", field_upgrade),
        CASE("8.2.2 TE other than trailers", field_te_gzip),
        CASE("8.2.2 TE: trailers is accepted", field_te_trailers),
        CASE("8.2 a bad field in the dynamic table is bad each time it is used",
             field_bad_dynamic_entry_stays_bad),
        CASE("8.2 a good field in the dynamic table is good each time it is used",
             field_good_dynamic_entry_stays_good),
        CASE("8.2 client: uppercase field name in a response", field_client_uppercase),
        CASE("8.2.2 connection-specific field in trailers", field_trailer_connection),

        CASE("8.3.1 request without :method", pseudo_no_method),
        CASE("8.3.1 request without :scheme", pseudo_no_scheme),
        CASE("8.3.1 request without :path", pseudo_no_path),
        CASE("8.3.1 empty :path", pseudo_empty_path),
        CASE("8.3 repeated :method", pseudo_repeated_method),
        CASE("8.3 repeated :path", pseudo_repeated_path),
        CASE("8.3 repeated :scheme", pseudo_repeated_scheme),
        CASE("8.3 unknown pseudo-header", pseudo_unknown),
        CASE("8.3 response pseudo-header in a request", pseudo_status_in_request),
        CASE("8.3 pseudo-header after a regular field", pseudo_after_regular),
        CASE("8.3 pseudo-header in trailers", pseudo_in_trailers),
        CASE("8.3.1 request without :authority is accepted", pseudo_no_authority_ok),
        CASE("8.3.2 client: response without :status", pseudo_client_no_status),
        CASE("8.3.2 client: repeated :status", pseudo_client_repeated_status),
        CASE("8.3.2 client: request pseudo-header in a response", pseudo_client_request_pseudo),
        CASE("8.3.2 client: :status not three digits", pseudo_client_bad_status),
        CASE("8.3 client: pseudo-header in response trailers", pseudo_client_in_trailers),

        CASE("8.4 client: promised request with an unsafe method", push_req_post),
        CASE("8.4 client: promised request announcing content", push_req_content),
        CASE("8.4 client: promised request without :authority", push_req_no_authority),
        CASE("8.4 client: malformed promised request", push_req_malformed),
        CASE("8.4 no push after the client disabled it", push_server_disabled),
        CASE("8.4 pushes promise even, increasing ids on the request stream", push_server_ids),
        CASE("8.4 no push on a closed stream", push_server_not_open),

        CASE("8.5 CONNECT with :method and :authority only", connect_ok),
        CASE("8.5 CONNECT with :scheme", connect_scheme),
        CASE("8.5 CONNECT with :path", connect_path),
        CASE("8.5 CONNECT without :authority", connect_no_authority),
        CASE("RFC 8441 4 :protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL",
             connect_protocol_not_enabled),
        CASE("RFC 8441 4 extended CONNECT when enabled", connect_protocol_enabled),
        CASE("RFC 8441 4 :protocol on a GET", connect_protocol_on_get),
        CASE("RFC 8441 4 extended CONNECT without :path", connect_protocol_no_path),

        CASE("RFC 9218 7.1 PRIORITY_UPDATE on a stream", pu_on_stream),
        CASE("RFC 9218 7.1 PRIORITY_UPDATE for stream 0", pu_stream0),
        CASE("RFC 9218 7.1 PRIORITY_UPDATE shorter than 4", pu_short),
        CASE("RFC 9218 7.1 client: PRIORITY_UPDATE from a server", pu_to_client),
        CASE("RFC 9218 7.1 PRIORITY_UPDATE for an idle push stream", pu_idle_push),
        CASE("RFC 9218 7.1 PRIORITY_UPDATE for a promised push stream", pu_promised_push),
        CASE("RFC 9218 7.1 PRIORITY_UPDATE for an open stream", pu_open_stream),
        CASE("RFC 9218 7.1 PRIORITY_UPDATE for an idle request stream", pu_idle_request),
        CASE("RFC 9218 7.1 PRIORITY_UPDATE for an idle stream beyond the stream limit",
             pu_idle_beyond_limit),
    };
    return cmocka_run_group_tests_name(
        "RFC 9113 connection engine: HTTP semantics (§8.1-§8.5, RFC 9218 §7.1)", tests,
        conn_group_setup, conn_group_teardown);
}
