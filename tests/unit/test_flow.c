/* lib/flow.c through a real server engine fed a hand-written client: the
 * send windows and their 2^31-1 ceiling (RFC 9113 §6.9.1), the shift of
 * SETTINGS_INITIAL_WINDOW_SIZE that may take a window below zero and back
 * (§6.9.2), the receive side's WINDOW_UPDATE policy (one update once half a
 * window is used, of exactly what was used), manual windows, and padding
 * counted against both windows (§6.9.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "conn_internal.h" /* the windows themselves */
#include "h2_wire.h"

static wire in, out;
static frames *fr;
static uint8_t body[1 << 20];

static int on_event(loom_conn *c, const loom_event *ev, void *user)
{
    (void)c;
    (void)ev;
    (void)user;
    return 0;
}

static int setup(void **state)
{
    (void)state;
    fr = calloc(1, sizeof(*fr));
    memset(&in, 0, sizeof(in));
    memset(&out, 0, sizeof(out));
    return fr ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(fr);
    free(in.b);
    free(out.b);
    return 0;
}

/* A server engine after the client's preface with these SETTINGS; its own
 * preface is written out and dropped. */
static loom_conn *server(const loom_config *cfg, const uint32_t (*s)[2], size_t n)
{
    loom_conn *c = loom_conn_new(LOOM_SERVER, cfg, on_event, NULL);
    assert_non_null(c);
    w_preface(&in, s, n);
    assert_int_equal(w_feed(&in, c), 0);
    out.n = 0;
    collect(c, &out);
    out.n = 0;
    return c;
}

/* What the server writes now, parsed into fr. */
static void drain(loom_conn *c)
{
    out.n = 0;
    collect(c, &out);
    parse_frames(out.b, out.n, fr);
}

static stream *st(loom_conn *c, int32_t sid)
{
    stream *s = loom__streams_find(&c->streams, sid);
    assert_non_null(s);
    return s;
}

static void respond(loom_conn *c, int32_t sid, size_t len)
{
    loom_hpack_field f[] = {{(const uint8_t *)":status", 7, (const uint8_t *)"200", 3, 0}};
    loom_body b = {.data = body, .len = len, .fd = -1};
    assert_int_equal(loom_respond(c, sid, f, 1, &b), 0);
}

/* ---- sending: the windows the peer grants ---- */

static void test_conn_send_window_ceiling(void **state)
{
    (void)state;
    loom_conn *c = server(NULL, NULL, 0);
    loom_conn_stats stats;
    loom_conn_get_stats(c, &stats);
    assert_int_equal(stats.send_window, 65535); /* §6.9.2: the initial window */

    w_window_update(&in, 0, 0x7fffffff - 65535);
    assert_int_equal(w_feed(&in, c), 0);
    loom_conn_get_stats(c, &stats);
    assert_int_equal(stats.send_window, 0x7fffffff); /* exactly the ceiling: fine */

    w_window_update(&in, 0, 1);
    assert_int_equal(w_feed(&in, c), LOOM_ERR_FLOW_CONTROL);
    drain(c);
    const rec_frame *g = find_frame(fr, 0x7, 0);
    assert_non_null(g);
    assert_int_equal(g->value, LOOM_H2_FLOW_CONTROL_ERROR);
    loom_conn_get_stats(c, &stats);
    assert_int_equal(stats.send_window, 0x7fffffff);
    loom_conn_free(c);
}

static void test_stream_send_window_ceiling(void **state)
{
    (void)state;
    loom_conn *c = server(NULL, NULL, 0);
    w_request(&in, 1, 0, 1);
    w_request(&in, 3, 0, 1);
    assert_int_equal(w_feed(&in, c), 0);
    assert_int_equal(st(c, 1)->send_window, 65535);

    w_window_update(&in, 1, 0x7fffffff - 65535);
    assert_int_equal(w_feed(&in, c), 0);
    assert_int_equal(st(c, 1)->send_window, 0x7fffffff);

    /* past it: a stream error (RST_STREAM FLOW_CONTROL_ERROR); the
     * connection and the other stream go on */
    w_window_update(&in, 1, 1);
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    const rec_frame *r = find_frame(fr, 0x3, 1);
    assert_non_null(r);
    assert_int_equal(r->value, LOOM_H2_FLOW_CONTROL_ERROR);
    assert_null(find_frame(fr, 0x7, -1));
    assert_null(loom__streams_find(&c->streams, 1));
    assert_int_equal(st(c, 3)->send_window, 65535);
    w_ping(&in, 7);
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    assert_int_equal(count_frames(fr, 0x6, 0), 1);

    /* the same through the function: a window below zero may take up to
     * the ceiling */
    stream s;
    memset(&s, 0, sizeof(s));
    s.send_window = -1000;
    assert_int_equal(loom__flow_send_credit(&s, 0x7fffffff), 0);
    assert_int_equal(s.send_window, 0x7fffffff - 1000);
    assert_int_equal(loom__flow_send_credit(&s, 1001), LOOM_ERR_FLOW_CONTROL);
    assert_int_equal(s.send_window, 0x7fffffff - 1000); /* unchanged */
    assert_int_equal(loom__flow_send_credit(&s, 1000), 0);
    assert_int_equal(s.send_window, 0x7fffffff);
    loom_conn_free(c);
}

/* §6.9.2: a new SETTINGS_INITIAL_WINDOW_SIZE moves every stream's window
 * by the difference, below zero too; nothing is sent until it is positive
 * again, then exactly what it allows. */
static void test_initial_window_shift(void **state)
{
    (void)state;
    loom_conn *c = server(NULL, NULL, 0);
    w_window_update(&in, 0, 1u << 30); /* the connection window is not the limit */
    w_request(&in, 1, 0, 1);
    assert_int_equal(w_feed(&in, c), 0);
    respond(c, 1, 200000);
    drain(c);
    assert_int_equal(data_octets(fr, 1), 65535);
    assert_int_equal(st(c, 1)->send_window, 0);

    const uint32_t lower[][2] = {{LOOM_SETTINGS_INITIAL_WINDOW_SIZE, 65535 - 1000}};
    w_settings(&in, lower, 1);
    assert_int_equal(w_feed(&in, c), 0);
    assert_int_equal(st(c, 1)->send_window, -1000);
    drain(c);
    assert_int_equal(count_frames(fr, 0x0, -1), 0);
    assert_int_equal(count_frames(fr, 0x4, 0), 1); /* the ACK */

    w_window_update(&in, 1, 600);
    assert_int_equal(w_feed(&in, c), 0);
    assert_int_equal(st(c, 1)->send_window, -400);
    drain(c);
    assert_int_equal(count_frames(fr, 0x0, -1), 0);

    const uint32_t higher[][2] = {{LOOM_SETTINGS_INITIAL_WINDOW_SIZE, 65535 + 1000}};
    w_settings(&in, higher, 1);
    assert_int_equal(w_feed(&in, c), 0);
    assert_int_equal(st(c, 1)->send_window, 1600);
    drain(c);
    assert_int_equal(data_octets(fr, 1), 1600);
    assert_int_equal(st(c, 1)->send_window, 0);

    /* a stream opened now starts from the new value */
    w_request(&in, 3, 0, 1);
    assert_int_equal(w_feed(&in, c), 0);
    assert_int_equal(st(c, 3)->send_window, 65535 + 1000);
    loom_conn_free(c);
}

/* A shift that would take one window past 2^31-1 is a connection
 * FLOW_CONTROL_ERROR, and no window moves. */
static void test_initial_window_shift_overflow(void **state)
{
    (void)state;
    loom_conn *c = server(NULL, NULL, 0);
    w_request(&in, 1, 0, 1);
    w_request(&in, 3, 0, 1);
    w_window_update(&in, 1, 0x7fffffff - 65535 - 10);
    assert_int_equal(w_feed(&in, c), 0);
    assert_int_equal(st(c, 1)->send_window, 0x7fffffff - 10);

    const uint32_t s10[][2] = {{LOOM_SETTINGS_INITIAL_WINDOW_SIZE, 65535 + 10}};
    w_settings(&in, s10, 1);
    assert_int_equal(w_feed(&in, c), 0); /* exactly the ceiling */
    assert_int_equal(st(c, 1)->send_window, 0x7fffffff);
    assert_int_equal(st(c, 3)->send_window, 65545);

    const uint32_t s11[][2] = {{LOOM_SETTINGS_INITIAL_WINDOW_SIZE, 65535 + 11}};
    w_settings(&in, s11, 1);
    assert_int_equal(w_feed(&in, c), LOOM_ERR_FLOW_CONTROL);
    drain(c);
    const rec_frame *g = find_frame(fr, 0x7, 0);
    assert_non_null(g);
    assert_int_equal(g->value, LOOM_H2_FLOW_CONTROL_ERROR);
    assert_int_equal(st(c, 1)->send_window, 0x7fffffff);
    assert_int_equal(st(c, 3)->send_window, 65545);
    assert_int_equal(loom_conn_peer_setting(c, LOOM_SETTINGS_INITIAL_WINDOW_SIZE), 65545);
    loom_conn_free(c);
}

/* What may go: the least of both windows and the frame. */
static void test_send_allowed(void **state)
{
    (void)state;
    loom_conn *c = server(NULL, NULL, 0);
    w_request(&in, 1, 0, 1);
    assert_int_equal(w_feed(&in, c), 0);
    stream *s = st(c, 1);
    const struct {
        int64_t conn, strm;
        size_t max, want;
    } cases[] = {{100, 50, 1000, 50}, {50, 100, 1000, 50}, {100, 100, 10, 10},
                 {0, 100, 10, 0},     {100, 0, 10, 0},     {-5, 100, 10, 0},
                 {100, -5, 10, 0},    {1, 1, 0, 0},        {0x7fffffff, 0x7fffffff, 16384, 16384}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c->flow.send_window = cases[i].conn;
        s->send_window = cases[i].strm;
        assert_int_equal(loom__flow_send_allowed(c, s, cases[i].max), cases[i].want);
    }
    c->flow.send_window = 1000;
    s->send_window = 700;
    loom__flow_send_consume(c, s, 300);
    assert_int_equal(c->flow.send_window, 700);
    assert_int_equal(s->send_window, 400);
    loom_conn_free(c);
}

/* ---- receiving: the windows we grant ---- */

/* The connection window: no WINDOW_UPDATE until half of it was used, then
 * one of exactly what was used. */
static void test_recv_conn_update_at_half(void **state)
{
    (void)state;
    loom_config cfg;
    loom_config_default(&cfg, LOOM_SERVER);
    cfg.connection_window = 65535; /* no update in the preface; half is 32767 */
    loom_conn *c = server(&cfg, NULL, 0);
    w_request(&in, 1, 1, 0);
    w_data(&in, 1, 16384, -1, 0, 'a');
    w_data(&in, 1, 16382, -1, 0, 'b');
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    assert_int_equal(count_frames(fr, 0x8, -1), 0);
    loom_conn_stats stats;
    loom_conn_get_stats(c, &stats);
    assert_int_equal(stats.recv_window, 65535 - 32766);

    w_data(&in, 1, 1, -1, 0, 'c');
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    assert_int_equal(count_frames(fr, 0x8, -1), 1);
    const rec_frame *u = find_frame(fr, 0x8, 0);
    assert_non_null(u);
    assert_int_equal(u->value, 32767);
    loom_conn_get_stats(c, &stats);
    assert_int_equal(stats.recv_window, 65535);

    /* and again from zero owed */
    w_data(&in, 1, 16384, -1, 0, 'a');
    w_data(&in, 1, 16383, -1, 0, 'a');
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    assert_int_equal(count_frames(fr, 0x8, 0), 1);
    assert_int_equal(find_frame(fr, 0x8, 0)->value, 32767);
    loom_conn_free(c);
}

static void test_recv_stream_update_at_half(void **state)
{
    (void)state;
    loom_config cfg;
    loom_config_default(&cfg, LOOM_SERVER);
    cfg.initial_window_size = 1000;
    loom_conn *c = server(&cfg, NULL, 0);
    w_request(&in, 1, 1, 0);
    w_data(&in, 1, 499, -1, 0, 'a');
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    assert_int_equal(count_frames(fr, 0x8, 1), 0);
    assert_int_equal(st(c, 1)->recv_window, 501);

    w_data(&in, 1, 1, -1, 0, 'a');
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    assert_int_equal(count_frames(fr, 0x8, 1), 1);
    assert_int_equal(find_frame(fr, 0x8, 1)->value, 500);
    assert_int_equal(st(c, 1)->recv_window, 1000);

    /* a frame of more than half at once: the update is all of it */
    w_data(&in, 1, 900, -1, 0, 'a');
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    assert_int_equal(find_frame(fr, 0x8, 1)->value, 900);

    /* over the window: a stream error FLOW_CONTROL_ERROR, the connection
     * goes on */
    w_data(&in, 1, 1001, -1, 0, 'a');
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    const rec_frame *r = find_frame(fr, 0x3, 1);
    assert_non_null(r);
    assert_int_equal(r->value, LOOM_H2_FLOW_CONTROL_ERROR);
    assert_null(find_frame(fr, 0x7, -1));

    /* a stream the peer ended needs no more window: no update for it */
    w_request(&in, 3, 1, 0);
    w_data(&in, 3, 600, -1, 1, 'a');
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    assert_int_equal(count_frames(fr, 0x8, 3), 0);
    loom_conn_free(c);
}

/* Manual windows: a stream's window comes back only as the application
 * says it consumed the data; the connection's as data arrives. */
static void test_manual_window(void **state)
{
    (void)state;
    loom_config cfg;
    loom_config_default(&cfg, LOOM_SERVER);
    cfg.manual_window = 1;
    cfg.initial_window_size = 1000;
    cfg.connection_window = 65535;
    loom_conn *c = server(&cfg, NULL, 0);
    w_request(&in, 1, 1, 0);
    w_data(&in, 1, 800, -1, 0, 'a');
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    assert_int_equal(count_frames(fr, 0x8, -1), 0);
    assert_int_equal(st(c, 1)->recv_window, 200);
    assert_int_equal(st(c, 1)->recv_unacked, 0);

    loom_consumed(c, 1, 499);
    drain(c);
    assert_int_equal(count_frames(fr, 0x8, -1), 0);
    loom_consumed(c, 1, 1);
    drain(c);
    assert_int_equal(count_frames(fr, 0x8, -1), 1);
    assert_int_equal(find_frame(fr, 0x8, 1)->value, 500);
    assert_int_equal(st(c, 1)->recv_window, 700);

    /* unknown streams: nothing */
    loom_consumed(c, 99, 1000);
    loom_consumed(c, 2, 1000);
    drain(c);
    assert_int_equal(fr->n, 0);

    /* the connection window is given back as data arrives, consumed or
     * not: at half (32767) received, stream windows kept open by consuming */
    size_t got = 800;
    while (got < 32766) {
        size_t n = 32766 - got < 700 ? 32766 - got : 700;
        w_data(&in, 1, n, -1, 0, 'a');
        assert_int_equal(w_feed(&in, c), 0);
        loom_consumed(c, 1, n);
        got += n;
    }
    drain(c);
    assert_int_equal(count_frames(fr, 0x8, 0), 0);
    assert_true(count_frames(fr, 0x8, 1) > 40); /* the stream's, as consumed */
    w_data(&in, 1, 1, -1, 0, 'a');
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    assert_int_equal(count_frames(fr, 0x8, 0), 1);
    assert_int_equal(find_frame(fr, 0x8, 0)->value, 32767);
    assert_int_equal(count_frames(fr, 0x8, 1), 0); /* 1 octet not consumed */
    loom_conn_free(c);
}

/* Automatic windows: loom_consumed() changes nothing. */
static void test_consumed_ignored_when_automatic(void **state)
{
    (void)state;
    loom_config cfg;
    loom_config_default(&cfg, LOOM_SERVER);
    cfg.initial_window_size = 1000;
    loom_conn *c = server(&cfg, NULL, 0);
    w_request(&in, 1, 1, 0);
    w_data(&in, 1, 400, -1, 0, 'a');
    assert_int_equal(w_feed(&in, c), 0);
    loom_consumed(c, 1, 400);
    drain(c);
    assert_int_equal(count_frames(fr, 0x8, 1), 0);
    w_data(&in, 1, 100, -1, 0, 'a');
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    assert_int_equal(count_frames(fr, 0x8, 1), 1);
    assert_int_equal(find_frame(fr, 0x8, 1)->value, 500); /* not 900 */
    loom_conn_free(c);
}

/* §6.9.1: the whole DATA payload counts, the pad length octet and the
 * padding too; with manual windows the padding comes back at once. */
static void test_padding_counted(void **state)
{
    (void)state;
    loom_config cfg;
    loom_config_default(&cfg, LOOM_SERVER);
    cfg.manual_window = 1;
    cfg.connection_window = 65535;
    loom_conn *c = server(&cfg, NULL, 0);
    w_request(&in, 1, 1, 0);
    w_data(&in, 1, 16128, 255, 0, 'a'); /* 1 + 16128 + 255 = 16384 */
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    assert_int_equal(count_frames(fr, 0x8, -1), 0);
    w_data(&in, 1, 16128, 255, 0, 'a');
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    /* 32256 octets of data would not reach half (32767); 32768 do */
    assert_int_equal(count_frames(fr, 0x8, -1), 1);
    assert_int_equal(find_frame(fr, 0x8, 0)->value, 32768);
    assert_int_equal(st(c, 1)->recv_window, (1 << 20) - 32768);
    assert_int_equal(st(c, 1)->recv_unacked, 2 * 256); /* the padding, given back */
    loom_consumed(c, 1, 32256);
    assert_int_equal(st(c, 1)->recv_unacked, 32768);
    loom_conn_free(c);

    /* the stream window, exceeded by padding alone */
    cfg.manual_window = 0;
    cfg.initial_window_size = 1000;
    c = server(&cfg, NULL, 0);
    w_request(&in, 1, 1, 0);
    w_request(&in, 3, 1, 0);
    w_data(&in, 1, 900, 99, 0, 'a');  /* exactly 1000 */
    w_data(&in, 3, 900, 100, 0, 'a'); /* 1001 */
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    assert_null(find_frame(fr, 0x3, 1));
    const rec_frame *r = find_frame(fr, 0x3, 3);
    assert_non_null(r);
    assert_int_equal(r->value, LOOM_H2_FLOW_CONTROL_ERROR);
    loom_conn_free(c);

    /* the connection window, exceeded by padding alone: a connection error
     * (a larger frame size lets one frame do it) */
    cfg.initial_window_size = 1 << 20;
    cfg.max_frame_size = 1 << 17;
    c = server(&cfg, NULL, 0);
    w_request(&in, 1, 1, 0);
    w_data(&in, 1, 65400, 135, 0, 'a'); /* 1 + 65400 + 135 = 65536 */
    assert_int_equal(w_feed(&in, c), LOOM_ERR_FLOW_CONTROL);
    drain(c);
    const rec_frame *g = find_frame(fr, 0x7, 0);
    assert_non_null(g);
    assert_int_equal(g->value, LOOM_H2_FLOW_CONTROL_ERROR);
    loom_conn_free(c);
    c = server(&cfg, NULL, 0);
    w_request(&in, 1, 1, 0);
    w_data(&in, 1, 65400, 134, 0, 'a'); /* exactly the window */
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    assert_int_equal(find_frame(fr, 0x8, 0)->value, 65535);
    loom_conn_free(c);
}

/* Data the peer sends on a stream we reset still counts against the
 * connection window, and is given back at once (§6.9, §5.1 closed). */
static void test_data_after_reset_counted(void **state)
{
    (void)state;
    loom_config cfg;
    loom_config_default(&cfg, LOOM_SERVER);
    cfg.connection_window = 65535;
    loom_conn *c = server(&cfg, NULL, 0);
    w_request(&in, 1, 1, 0);
    assert_int_equal(w_feed(&in, c), 0);
    assert_int_equal(loom_reset(c, 1, LOOM_H2_CANCEL), 0);
    drain(c);
    for (int i = 0; i < 2; i++)
        w_data(&in, 1, 16384, -1, 0, 'a');
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    assert_int_equal(count_frames(fr, 0x3, -1), 0); /* ignored, not answered */
    assert_int_equal(count_frames(fr, 0x8, 0), 1);
    assert_int_equal(find_frame(fr, 0x8, 0)->value, 32768);
    loom_conn_stats stats;
    loom_conn_get_stats(c, &stats);
    assert_int_equal(stats.recv_window, 65535);
    loom_conn_free(c);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_conn_send_window_ceiling),
        T(test_stream_send_window_ceiling),
        T(test_initial_window_shift),
        T(test_initial_window_shift_overflow),
        T(test_send_allowed),
        T(test_recv_conn_update_at_half),
        T(test_recv_stream_update_at_half),
        T(test_manual_window),
        T(test_consumed_ignored_when_automatic),
        T(test_padding_counted),
        T(test_data_after_reset_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
#undef T
}
