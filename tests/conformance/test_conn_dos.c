/* RFC 9113 conformance of the connection engine: denial of service (§10.5).
 * The harness (what each case builds and checks) is conformance/conn_harness.h. */
#include "conn_harness.h"

/* ======================= §10.5 denial of service ======================= */

static void srv_limits(loom_config *cfg)
{
    cfg->window_ms = 1000;
    srv_with(cfg);
}

TEST(dos_ping_flood)
{
    loom_config cfg = server_cfg();
    cfg.max_pings = 3;
    srv_limits(&cfg);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ping(0, 0, "floodin!"), 0);
    drain();
    assert_int_equal(count_new(F_PING), 3);
    mark();
    ping(0, 0, "floodin!");
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

TEST(dos_ping_spread)
{
    loom_config cfg = server_cfg();
    cfg.max_pings = 3;
    srv_limits(&cfg);
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 3; i++)
            assert_int_equal(ping(0, 0, "spread!!"), 0);
        t->now += 1000;
    }
    drain();
    assert_int_equal(count_new(F_PING), 12);
    assert_int_equal(count_new(F_GOAWAY), 0);
}

TEST(dos_settings_flood)
{
    loom_config cfg = server_cfg();
    cfg.max_settings = 3;
    srv_limits(&cfg);
    for (int i = 0; i < 3; i++)
        assert_int_equal(settings1(S_MCS, 10), 0);
    settle();
    settings1(S_MCS, 10);
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

TEST(dos_empty_data_flood)
{
    loom_config cfg = server_cfg();
    cfg.max_empty_frames = 3;
    srv_limits(&cfg);
    open_req(1, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(data(1, 0, ""), 0);
    settle();
    data(1, 0, "");
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

TEST(dos_rapid_reset)
{
    loom_config cfg = server_cfg();
    cfg.reset_burst = 3;
    srv_limits(&cfg);
    for (uint32_t sid = 1; sid <= 7; sid += 2) {
        hb_clear();
        hb_req();
        assert_int_equal(headers(sid, EH), 0);
        rst(sid, LOOM_H2_CANCEL);
    }
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

TEST(dos_continuation_flood)
{
    loom_config cfg = server_cfg();
    cfg.max_continuations = 3;
    srv_limits(&cfg);
    hb_clear();
    hb_req();
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 1), 0);
    for (int i = 1; i <= 3; i++)
        assert_int_equal(cont(1, 0, B.p + i, 1), 0);
    cont(1, 0, B.p + 4, 1);
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

TEST(dos_header_block_size)
{
    loom_config cfg = server_cfg();
    cfg.max_header_block = 100;
    srv_limits(&cfg);
    hb_clear();
    hb_req();
    hb_new("x-pad", "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "0123456789");
    assert_true(B.n > 100);
    assert_int_equal(frame(F_HEADERS, ES, 1, B.p, 60), 0);
    cont(1, EH, B.p + 60, B.n - 60);
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

TEST(dos_priority_flood)
{
    loom_config cfg = server_cfg();
    cfg.max_priority_frames = 3;
    srv_limits(&cfg);
    for (uint32_t sid = 1; sid <= 5; sid += 2)
        assert_int_equal(priority(sid, 0, 1), 0);
    priority(7, 0, 1);
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

TEST(dos_priority_update_flood)
{
    loom_config cfg = server_cfg();
    cfg.max_priority_frames = 3;
    srv_limits(&cfg);
    open_req(1, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(prio_update(1, "u=1"), 0);
    settle();
    prio_update(1, "u=2");
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

/* a peer that sends but never reads cannot make us queue answers without
 * end */
TEST(dos_unread_answers)
{
    loom_config cfg = server_cfg();
    cfg.max_control_queue = 3;
    srv_limits(&cfg);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ping(0, 0, "no read!"), 0);
    ping(0, 0, "no read!");
    assert_true(t->rc < 0);
    assert_int_equal(loom_err_h2_code(t->rc), LOOM_H2_ENHANCE_YOUR_CALM);
    drain();
    assert_int_equal(nnew(), 4);
    assert_int_equal(count_new(F_PING), 3);
    assert_int_equal(fr_new(3)->type, F_GOAWAY);
    assert_int_equal(fr_new(3)->code, LOOM_H2_ENHANCE_YOUR_CALM);
}

TEST(dos_header_list_size)
{
    loom_config cfg = server_cfg();
    cfg.max_header_list_size = 200;
    srv_limits(&cfg);
    hb_clear();
    hb_req();
    static char v[300];
    memset(v, 'h', sizeof(v));
    hb_newn("x-big", 5, v, sizeof(v));
    assert_int_equal(headers(1, EH | ES), 0);
    assert_null(ev_find(LOOM_EV_HEADERS, 1));
    expect_stream_error(1, LOOM_H2_REFUSED_STREAM);
    hb_clear();
    hb_req();
    expect_request_accepted(3);
}

/* ---- the reset bucket: client resets, our resets, refusals ---- */

/* Rapid Reset (CVE-2023-44487) and MadeYouReset (CVE-2025-8671) draw on
 * one bucket: streams the peer resets, and streams we reset because of
 * what the peer sent (a malformed request, WINDOW_UPDATE 0, DATA after
 * END_STREAM), each take a token; the one past the burst is GOAWAY
 * ENHANCE_YOUR_CALM, not one more RST_STREAM. */
TEST(dos_reset_bucket_shared)
{
    loom_config cfg = server_cfg();
    cfg.reset_burst = 4;
    cfg.reset_rate = 1;
    srv_limits(&cfg);
    open_req(1, 0);
    rst(1, LOOM_H2_CANCEL); /* 1: the peer's reset */
    settle();
    hb_clear();
    hb_req();
    hb_new("X-Up", "a"); /* 2: malformed (§8.2.1) */
    expect_malformed_request(3);
    settle();
    open_req(5, 0);
    wu(5, 0); /* 3: §6.9 increment 0 on a stream: a stream error */
    expect_stream_error(5, LOOM_H2_PROTOCOL_ERROR);
    settle();
    open_req(7, ES);
    data(7, 0, "late"); /* 4: DATA after END_STREAM (§5.1) */
    expect_stream_error(7, LOOM_H2_STREAM_CLOSED);
    settle();
    hb_clear();
    hb_req();
    hb_new("X-Up", "a"); /* 5: the bucket is empty */
    headers(9, EH | ES);
    assert_null(ev_find(LOOM_EV_HEADERS, 9));
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

/* The bucket refills at reset_rate a second, never past reset_burst. */
TEST(dos_reset_bucket_refills)
{
    loom_config cfg = server_cfg();
    cfg.reset_burst = 2;
    cfg.reset_rate = 1;
    srv_limits(&cfg);
    t->now += 10000; /* ten seconds idle: still only two tokens */
    for (uint32_t sid = 1; sid <= 3; sid += 2) {
        open_req(sid, 0);
        rst(sid, LOOM_H2_CANCEL);
        expect_nothing();
    }
    t->now += 1000; /* one more */
    open_req(5, 0);
    rst(5, LOOM_H2_CANCEL);
    expect_nothing();
    open_req(7, 0);
    rst(7, LOOM_H2_CANCEL);
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

/* A rate above reset_rate, however slow, ends once the burst is spent
 * (a per-second cap alone would let 180 a second go on for ever); a rate
 * at reset_rate goes on. */
TEST(dos_reset_bucket_long_run)
{
    loom_config cfg = server_cfg();
    cfg.reset_burst = 10;
    cfg.reset_rate = 10;
    srv_limits(&cfg);
    uint32_t sid = 1;
    for (int i = 0; i < 200; i++, sid += 2) { /* 10 a second: for ever */
        t->now += 100;
        open_req(sid, 0);
        rst(sid, LOOM_H2_CANCEL);
        drain();
        assert_int_equal(t->rc, 0);
    }
    int n = 0;
    for (; n < 100 && t->rc == 0; n++, sid += 2) { /* 20 a second: 10 / (20 - 10) = 1 s */
        t->now += 50;
        hb_clear();
        hb_req();
        if (headers(sid, EH) == 0) rst(sid, LOOM_H2_CANCEL);
    }
    /* about 20 resets: the burst of 10 plus 10 refilled in that second */
    assert_true(n >= 18 && n <= 23);
    drain();
    assert_int_equal(loom_err_h2_code(t->rc), LOOM_H2_ENHANCE_YOUR_CALM);
    assert_int_equal(count_new(F_GOAWAY), 1);
}

/* Streams refused for the concurrency limit (§5.1.2) take tokens too. */
TEST(dos_refused_streams_count)
{
    loom_config cfg = server_cfg();
    cfg.max_concurrent_streams = 1;
    cfg.reset_burst = 3;
    srv_limits(&cfg);
    open_req(1, 0);
    for (uint32_t sid = 3; sid <= 7; sid += 2) {
        hb_clear();
        hb_req();
        assert_int_equal(headers(sid, EH | ES), 0);
        expect_stream_error(sid, LOOM_H2_REFUSED_STREAM);
        settle();
    }
    hb_clear();
    hb_req();
    headers(9, EH | ES);
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);
}

/* A server under cfg (a fresh one unless first) with a 100,000-octet
 * response on stream 1 whose stream window is spent (65,535 octets sent). */
static void shut_window(loom_config *cfg, int first)
{
    if (!first) {
        teardown(NULL);
        setup(NULL);
    }
    srv_limits(cfg);
    open_req(1, ES);
    respond(1, 100000);
    wu(0, 1000000);
    settle();
}

/* Data dribble (CVE-2019-9511): a shut window opened a few octets at a
 * time counts as near-empty frames; updates of 1024 or more do not. */
TEST(dos_window_dribble)
{
    loom_config cfg = server_cfg();
    cfg.max_empty_frames = 3;
    shut_window(&cfg, 1);
    for (int i = 0; i < 3; i++) { /* each octet goes out before the next update */
        assert_int_equal(wu(1, 1), 0);
        drain();
    }
    assert_int_equal(data_new(1), 3);
    mark();
    wu(1, 1);
    expect_conn_error(LOOM_H2_ENHANCE_YOUR_CALM);

    shut_window(&cfg, 0);
    for (int i = 0; i < 10; i++) { /* 1024 at a time: not a dribble */
        assert_int_equal(wu(1, 1024), 0);
        drain();
    }
    assert_int_equal(data_new(1), 10240);
    assert_int_equal(count_new(F_GOAWAY), 0);

    /* a burst of tiny updates read in one go, before anything is sent: the
     * window is a few octets open after the first, and each still counts
     * (seen from a Python client that sent 2 million a second: only the
     * first of each read counted, and the server spent a core on them) */
    shut_window(&cfg, 0);
    mark();
    for (int i = 0; i < 4; i++)
        wu(1, 1);
    drain(); /* the octets the first updates allowed, then the GOAWAY */
    assert_true(t->rc < 0);
    assert_int_equal(loom_err_h2_code(t->rc), LOOM_H2_ENHANCE_YOUR_CALM);
    assert_int_equal(count_new(F_GOAWAY), 1);
}

/* A connection error while a response waits for window, under the RFC
 * 7540 scheduler (a PRIORITY frame chose it): the engine has nothing it
 * can send but the GOAWAY, and says it is done (it did not: the tree
 * picked the blocked stream, so the connection was never closed). */
TEST(conn_error_with_rfc7540_blocked_stream)
{
    srv();
    open_req(1, ES);
    respond(1, 100000);
    settle(); /* 65535 octets out: both windows shut */
    assert_int_equal(priority(1, 0, 32), 0);
    settle();
    p_clear();
    p_fill(0, 9);
    p_send(F_PING, 0, 0); /* §6.7: a PING of 9 octets */
    expect_conn_error(LOOM_H2_FRAME_SIZE_ERROR);
    assert_false(loom_conn_want_write(t->c));
}

/* ---- §8.1: an unwanted request body is stopped ---- */

/* A response complete before its request: the rest of the body gets no
 * more window, and once the window is spent, RST_STREAM NO_ERROR (§8.1)
 * after the END_STREAM. */
TEST(response_before_request_end_resets)
{
    loom_config cfg = server_cfg();
    cfg.initial_window_size = 32768;
    srv_with(&cfg);
    open_req(1, 0);
    respond(1, 0);
    drain();
    assert_int_equal(nnew(), 1);
    assert_int_equal(fr_new(0)->type, F_HEADERS);
    assert_int_equal(fr_new(0)->flags & ES, ES);
    settle();
    /* what comes is taken (and dropped), with no window for the stream */
    assert_int_equal(data_n(1, 0, 16384), 0);
    drain();
    for (int i = 0; i < nnew(); i++)
        assert_false(fr_new(i)->type == F_WU && fr_new(i)->sid == 1);
    assert_int_equal(count_new(F_RST), 0);
    mark();
    /* the window spent: RST_STREAM NO_ERROR, the stream closed */
    assert_int_equal(data_n(1, 0, 16384), 0);
    drain();
    assert_int_equal(count_new(F_RST), 1);
    const ofr_t *r = NULL;
    for (int i = 0; i < nnew(); i++)
        if (fr_new(i)->type == F_RST) r = fr_new(i);
    assert_int_equal(r->sid, 1);
    assert_int_equal(r->code, LOOM_H2_NO_ERROR);
    const ev_t *e = ev_find(LOOM_EV_STREAM_CLOSED, 1);
    assert_non_null(e);
    assert_int_equal(e->code, LOOM_H2_NO_ERROR);
    settle();
    /* with a body: HEADERS, DATA with END_STREAM; the RST comes only
     * after both, when the window is spent */
    open_req(3, 0);
    respond(3, 100);
    drain();
    assert_int_equal(nnew(), 2);
    assert_int_equal(fr_new(0)->type, F_HEADERS);
    assert_int_equal(fr_new(1)->type, F_DATA);
    assert_int_equal(fr_new(1)->flags & ES, ES);
    settle();
    assert_int_equal(data_n(3, 0, 16384), 0);
    assert_int_equal(data_n(3, 0, 16384), 0);
    drain();
    assert_int_equal(count_new(F_RST), 1);
}

/* A body that ends within its window ends the stream as usual: no
 * RST_STREAM at all (curl 7.88 fails a request reset before its upload is
 * done, even with NO_ERROR). */
TEST(response_before_small_body_no_reset)
{
    srv();
    open_req(1, 0);
    respond(1, 0);
    settle();
    data(1, 0, "part");
    data(1, ES, "end");
    drain();
    assert_int_equal(count_new(F_RST), 0);
    assert_int_equal(count_new(F_GOAWAY), 0);
    const ev_t *e = ev_find(LOOM_EV_STREAM_CLOSED, 1);
    assert_non_null(e);
    assert_int_equal(e->code, LOOM_H2_NO_ERROR);
    alive();
}

/* read_after_response keeps the request open to be read, window and all. */
TEST(response_before_request_end_read_on)
{
    loom_config cfg = server_cfg();
    cfg.read_after_response = 1;
    cfg.initial_window_size = 32768;
    srv_with(&cfg);
    open_req(1, 0);
    respond(1, 0);
    settle();
    for (int i = 0; i < 4; i++) /* twice the window: it is given back */
        assert_int_equal(data_n(1, 0, 16384), 0);
    drain();
    assert_int_equal(count_new(F_RST), 0);
    data(1, ES, "body");
    const ev_t *e = ev_find(LOOM_EV_DATA, 1);
    assert_non_null(e);
    assert_non_null(ev_find(LOOM_EV_STREAM_CLOSED, 1));
}

/* After our RST_STREAM the peer may send what the stream's window held,
 * no more: a body sent on and on is a flow-control error (§6.9). */
TEST(body_after_reset_bounded)
{
    loom_config cfg = server_cfg();
    cfg.initial_window_size = 32768;
    srv_with(&cfg);
    open_req(1, 0);
    assert_int_equal(loom_reset(t->c, 1, LOOM_H2_CANCEL), 0);
    settle();
    /* 32768 of window, and 65535 of slack for stray frames */
    for (int i = 0; i < 5; i++)
        assert_int_equal(data_n(1, 0, 16384), 0);
    drain();
    assert_int_equal(t->rc, 0);
    assert_int_equal(count_new(F_GOAWAY), 0);
    mark();
    data_n(1, 0, 16384);
    expect_conn_error(LOOM_H2_FLOW_CONTROL_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE("10.5 PING flood", dos_ping_flood),
        CASE("10.5 PINGs spread over time", dos_ping_spread),
        CASE("10.5 SETTINGS flood", dos_settings_flood),
        CASE("10.5 empty DATA flood", dos_empty_data_flood),
        CASE("10.5 rapid reset", dos_rapid_reset),
        CASE("10.5 CONTINUATION flood", dos_continuation_flood),
        CASE("10.5.1 field block larger than the limit", dos_header_block_size),
        CASE("10.5 PRIORITY flood", dos_priority_flood),
        CASE("10.5 PRIORITY_UPDATE flood", dos_priority_update_flood),
        CASE("10.5 peer that never reads our answers", dos_unread_answers),
        CASE("10.5.1 header list above SETTINGS_MAX_HEADER_LIST_SIZE", dos_header_list_size),
        CASE("10.5 resets, stream errors: one bucket", dos_reset_bucket_shared),
        CASE("10.5 the reset bucket refills", dos_reset_bucket_refills),
        CASE("10.5 the reset bucket: a slow rate above the refill ends", dos_reset_bucket_long_run),
        CASE("10.5 refused streams take tokens", dos_refused_streams_count),
        CASE("10.5 data dribble (CVE-2019-9511)", dos_window_dribble),
        CASE("5.4.1 a connection error with the RFC 7540 tree and a blocked stream",
             conn_error_with_rfc7540_blocked_stream),
        CASE("8.1 a complete response resets an unfinished request",
             response_before_request_end_resets),
        CASE("8.1 a small body after the response ends as usual",
             response_before_small_body_no_reset),
        CASE("8.1 read_after_response reads on", response_before_request_end_read_on),
        CASE("6.9 DATA after our RST_STREAM: its window, no more", body_after_reset_bounded),
    };
    return cmocka_run_group_tests_name("RFC 9113 connection engine: denial of service (§10.5)",
                                       tests, conn_group_setup, conn_group_teardown);
}
