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
    cfg.max_peer_resets = 3;
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
    };
    return cmocka_run_group_tests_name("RFC 9113 connection engine: denial of service (§10.5)",
                                       tests, conn_group_setup, conn_group_teardown);
}
