/* The connection engine, client engine against server engine in memory:
 * requests and responses, multiplexing, flow control, push, GOAWAY,
 * priorities, at every chunking of the byte stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "conn_internal.h" /* to fast-forward stream ids */
#include "conn_pair.h"
#include "hpack_util.h" /* the counting allocator */

static side *cl, *sv;
static uint8_t *big;
static size_t big_len;
static int answered[PAIR_MAX_STREAMS];

static int setup_with(loom_config *ccfg, loom_config *scfg)
{
    cl = calloc(1, sizeof(side));
    sv = calloc(1, sizeof(side));
    cl->c = loom_conn_new(LOOM_CLIENT, ccfg, pair_on_event, cl);
    sv->c = loom_conn_new(LOOM_SERVER, scfg, pair_on_event, sv);
    return cl->c && sv->c ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    memset(answered, 0, sizeof(answered));
    return setup_with(NULL, NULL);
}

static int teardown(void **state)
{
    (void)state;
    side_free(cl);
    side_free(sv);
    free(cl);
    free(sv);
    return 0;
}

static int32_t get(const char *path)
{
    loom_hpack_field f[] = {
        FIELD(":method", "GET"),
        FIELD(":scheme", "https"),
        FIELD(":authority", "example.com"),
        {(const uint8_t *)":path", 5, (const uint8_t *)path, strlen(path), 0},
    };
    return loom_request(cl->c, f, 4, NULL);
}

/* Answers every complete request not answered yet with body_len octets
 * derived from its stream id. */

static void answer_all(size_t body_len)
{
    for (int i = 0; i < sv->nst; i++) {
        rec_stream *r = &sv->st[i];
        if (!r->headers || !r->end_stream || answered[i]) continue;
        answered[i] = 1;
        loom_hpack_field f[] = {FIELD(":status", "200"), FIELD("content-type", "text/plain")};
        loom_body b = {.data = big, .len = body_len, .fd = -1};
        assert_int_equal(loom_respond(sv->c, r->id, f, 2, body_len ? &b : NULL), 0);
    }
}

static void test_handshake(void **state)
{
    (void)state;
    pair_run(cl, sv, 0);
    assert_int_equal(cl->settings, 1);
    assert_int_equal(sv->settings, 1);
    assert_int_equal(cl->settings_acks, 1);
    assert_int_equal(sv->settings_acks, 1);
    assert_int_equal(cl->errors + sv->errors, 0);
    assert_int_equal(loom_conn_peer_setting(cl->c, LOOM_SETTINGS_MAX_CONCURRENT_STREAMS), 100);
    assert_int_equal(loom_conn_peer_setting(sv->c, LOOM_SETTINGS_INITIAL_WINDOW_SIZE), 1u << 20);
}

static void test_get(void **state)
{
    (void)state;
    int32_t sid = get("/index.html");
    assert_int_equal(sid, 1);
    pair_run(cl, sv, 0);
    rec_stream *r = rec_get(sv, 1);
    assert_int_equal(r->headers, 1);
    assert_string_equal(r->method, "GET");
    assert_string_equal(r->path, "/index.html");
    assert_true(r->end_stream);
    answer_all(5);
    pair_run(cl, sv, 0);
    r = rec_get(cl, 1);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 5);
    assert_memory_equal(r->body, big, 5);
    assert_true(r->end_stream);
    assert_int_equal(r->closed, 1);
    assert_int_equal(r->close_code, 0);
    assert_int_equal(rec_get(sv, 1)->closed, 1);
    loom_conn_stats st;
    loom_conn_get_stats(cl->c, &st);
    assert_int_equal(st.open_streams, 0);
}

/* Many streams at once, split at random points: every body arrives whole. */
static void test_many_streams_random_chunks(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        srand(round + 1);
        int n = 0;
        for (int i = 0; i < 100; i++) {
            char p[32];
            snprintf(p, sizeof(p), "/asset/%d", i);
            int32_t sid = get(p);
            if (sid < 0) break;
            n++;
        }
        assert_int_equal(n, 100);
        /* the 101st is over the server's MAX_CONCURRENT_STREAMS */
        pair_run(cl, sv, 0);
        assert_int_equal(get("/one-too-many") > 0 ? 1 : 0, 0);
        answer_all(70000);
        pair_run(cl, sv, 0);
        int done = 0;
        for (int i = 0; i < cl->nst; i++) {
            rec_stream *r = &cl->st[i];
            if (!r->closed) continue;
            assert_int_equal(r->close_code, 0);
            assert_int_equal(r->body_len, 70000);
            assert_memory_equal(r->body, big, 70000);
            done++;
        }
        assert_int_equal(done, 100 * (round + 1));
        assert_int_equal(cl->errors + sv->errors, 0);
    }
}

/* A body far larger than the windows: WINDOW_UPDATEs keep it going. */
static void test_large_body_small_windows(void **state)
{
    (void)state;
    teardown(NULL);
    loom_config c, s;
    loom_config_default(&c, LOOM_CLIENT);
    loom_config_default(&s, LOOM_SERVER);
    c.initial_window_size = 65535;
    c.connection_window = 65535;
    assert_int_equal(setup_with(&c, &s), 0);
    get("/big");
    pair_run(cl, sv, 1000);
    answer_all(big_len);
    pair_run(cl, sv, 0);
    rec_stream *r = rec_get(cl, 1);
    assert_int_equal(r->body_len, big_len);
    assert_memory_equal(r->body, big, big_len);
    assert_int_equal(r->closed, 1);
    assert_true(cl->frames_out[LOOM_FRAME_WINDOW_UPDATE] > 100);
}

static void test_push_accepted_and_refused(void **state)
{
    (void)state;
    for (int refuse = 0; refuse < 2; refuse++) {
        if (refuse) {
            teardown(NULL);
            setup(NULL);
            memset(answered, 0, sizeof(answered));
            cl->refuse_pushes = 1;
        }
        get("/");
        pair_run(cl, sv, 0);
        loom_hpack_field req[] = {FIELD(":method", "GET"), FIELD(":scheme", "https"),
                                  FIELD(":authority", "example.com"), FIELD(":path", "/style.css")};
        int32_t pid = loom_push(sv->c, 1, req, 4);
        assert_int_equal(pid, 2);
        /* another origin is refused (RFC 9113 §8.4: same authority only) */
        loom_hpack_field other[] = {FIELD(":method", "GET"), FIELD(":scheme", "https"),
                                    FIELD(":authority", "evil.example"), FIELD(":path", "/x")};
        assert_int_equal(loom_push(sv->c, 1, other, 4), LOOM_ERR_INVALID);
        loom_hpack_field post[] = {FIELD(":method", "POST"), FIELD(":scheme", "https"),
                                   FIELD(":authority", "example.com"), FIELD(":path", "/x")};
        assert_int_equal(loom_push(sv->c, 1, post, 4), LOOM_ERR_INVALID);
        loom_hpack_field f[] = {FIELD(":status", "200")};
        loom_body b = {.data = big, .len = 300000, .fd = -1};
        assert_int_equal(loom_respond(sv->c, pid, f, 1, &b), 0);
        answer_all(10);
        pair_run_interleaved(cl, sv, 1000);
        assert_int_equal(cl->promises, 1);
        rec_stream *p = rec_get(cl, 2);
        assert_int_equal(p->pushed_from, 1);
        assert_string_equal(p->path, "/style.css");
        assert_int_equal(rec_get(cl, 1)->body_len, 10);
        if (!refuse) {
            assert_int_equal(p->body_len, 300000);
            assert_int_equal(p->close_code, 0);
        } else {
            /* the server stopped: far less than the body arrived */
            assert_true(p->body_len < 300000);
            assert_int_equal(p->close_code, LOOM_H2_CANCEL);
            assert_int_equal(rec_get(sv, 2)->close_code, LOOM_H2_CANCEL);
            assert_true(rec_get(sv, 2)->by_peer);
        }
        assert_int_equal(cl->errors + sv->errors, 0);
    }
}

static void test_push_disabled(void **state)
{
    (void)state;
    teardown(NULL);
    loom_config c;
    loom_config_default(&c, LOOM_CLIENT);
    c.enable_push = 0;
    assert_int_equal(setup_with(&c, NULL), 0);
    get("/");
    pair_run(cl, sv, 0);
    loom_hpack_field req[] = {FIELD(":method", "GET"), FIELD(":scheme", "https"),
                              FIELD(":authority", "example.com"), FIELD(":path", "/a.js")};
    assert_int_equal(loom_push(sv->c, 1, req, 4), LOOM_ERR_STATE);
}

static void test_upload_and_download(void **state)
{
    (void)state;
    loom_hpack_field f[] = {FIELD(":method", "POST"), FIELD(":scheme", "https"),
                            FIELD(":authority", "example.com"), FIELD(":path", "/up"),
                            FIELD("content-length", "2000000")};
    loom_body b = {.data = big, .len = 2000000, .fd = -1};
    int32_t sid = loom_request(cl->c, f, 5, &b);
    assert_int_equal(sid, 1);
    /* the server answers before the upload is over, with its own body */
    pair_run(cl, sv, 3000);
    loom_hpack_field rf[] = {FIELD(":status", "200")};
    loom_body rb = {.data = big, .len = 3000000, .fd = -1};
    assert_int_equal(loom_respond(sv->c, 1, rf, 1, &rb), 0);
    pair_run(cl, sv, 0);
    assert_int_equal(rec_get(sv, 1)->body_len, 2000000);
    assert_memory_equal(rec_get(sv, 1)->body, big, 2000000);
    assert_int_equal(rec_get(cl, 1)->body_len, 3000000);
    assert_int_equal(rec_get(cl, 1)->closed, 1);
    assert_int_equal(rec_get(sv, 1)->closed, 1);
}

static void test_goaway_graceful(void **state)
{
    (void)state;
    get("/a");
    get("/b");
    pair_run(cl, sv, 0);
    assert_int_equal(loom_goaway(sv->c, LOOM_H2_NO_ERROR, 1, "bye"), 0);
    pair_run(cl, sv, 0);
    /* two GOAWAYs: 2^31-1 first, then the real last stream id */
    assert_int_equal(cl->goaways, 2);
    assert_int_equal(cl->goaway_last, 3);
    /* no new request after GOAWAY */
    assert_true(get("/c") < 0);
    /* in-flight streams finish */
    answer_all(100);
    pair_run(cl, sv, 0);
    assert_int_equal(rec_get(cl, 1)->body_len, 100);
    assert_int_equal(rec_get(cl, 3)->body_len, 100);
    assert_true(loom_conn_done(sv->c));
}

static void test_goaway_retry_safe(void **state)
{
    (void)state;
    get("/a");
    pair_run(cl, sv, 0);
    get("/b"); /* stream 3: the server will not have seen it */
    assert_int_equal(loom_goaway(sv->c, LOOM_H2_NO_ERROR, 0, NULL), 0);
    pair_move(sv, cl, 0);
    rec_stream *r = rec_get(cl, 3);
    assert_int_equal(r->closed, 1);
    assert_true(r->retry_safe);
    assert_false(rec_get(cl, 1)->closed);
}

static void test_priorities_order(void **state)
{
    (void)state;
    /* a large low-urgency response does not hold back a small urgent one */
    loom_hpack_field lo[] = {FIELD(":method", "GET"), FIELD(":scheme", "https"),
                             FIELD(":authority", "a"), FIELD(":path", "/big"),
                             FIELD("priority", "u=7")};
    loom_hpack_field hi[] = {FIELD(":method", "GET"), FIELD(":scheme", "https"),
                             FIELD(":authority", "a"), FIELD(":path", "/small"),
                             FIELD("priority", "u=0")};
    assert_int_equal(loom_request(cl->c, lo, 5, NULL), 1);
    assert_int_equal(loom_request(cl->c, hi, 5, NULL), 3);
    pair_run(cl, sv, 0);
    loom_hpack_field f[] = {FIELD(":status", "200")};
    loom_body b1 = {.data = big, .len = 900000, .fd = -1};
    loom_body b2 = {.data = big, .len = 1000, .fd = -1};
    assert_int_equal(loom_respond(sv->c, 1, f, 1, &b1), 0);
    assert_int_equal(loom_respond(sv->c, 3, f, 1, &b2), 0);
    pair_run(cl, sv, 0);
    /* both complete, whole, unreset: only then does the order mean anything */
    for (int32_t sid = 1; sid <= 3; sid += 2) {
        rec_stream *r = rec_get(cl, sid);
        assert_int_equal(r->closed, 1);
        assert_int_equal(r->close_code, 0);
        assert_true(r->end_stream);
        assert_int_equal(r->body_len, sid == 1 ? 900000 : 1000);
    }
    assert_true(rec_get(cl, 3)->order < rec_get(cl, 1)->order);
}

/* A clock the test moves by hand. */
static uint64_t fake_now = 5000;
static uint64_t fake_clock(void *user)
{
    (void)user;
    return fake_now;
}

static int setup_clock(void **state)
{
    (void)state;
    loom_config c;
    loom_config_default(&c, LOOM_CLIENT);
    c.now_ms = fake_clock;
    return setup_with(&c, NULL);
}

/* The RTT of a PING is the time from sending it to its ACK, as the event
 * and the stats say: 37 ms here, by the test's clock. */
static void test_ping_rtt(void **state)
{
    (void)state;
    pair_run(cl, sv, 0);
    assert_int_equal(loom_ping(cl->c), 0);
    pair_move(cl, sv, 0); /* the PING reaches the server */
    fake_now += 37;
    pair_move(sv, cl, 0); /* its ACK comes back 37 ms later */
    assert_int_equal(cl->pings, 1);
    assert_int_equal(cl->last_rtt_us, 37000);
    loom_conn_stats st;
    loom_conn_get_stats(cl->c, &st);
    assert_int_equal(st.rtt_us, 37000);
    /* a second one, 5 ms */
    assert_int_equal(loom_ping(cl->c), 0);
    pair_move(cl, sv, 0);
    fake_now += 5;
    pair_move(sv, cl, 0);
    assert_int_equal(cl->pings, 2);
    assert_int_equal(cl->last_rtt_us, 5000);
}

static void test_trailers(void **state)
{
    (void)state;
    get("/t");
    pair_run(cl, sv, 0);
    loom_hpack_field f[] = {FIELD(":status", "200")};
    loom_hpack_field t[] = {FIELD("grpc-status", "0")};
    loom_body b = {.data = big, .len = 10, .fd = -1, .trailers = t, .n_trailers = 1};
    assert_int_equal(loom_respond(sv->c, 1, f, 1, &b), 0);
    pair_run(cl, sv, 0);
    assert_int_equal(rec_get(cl, 1)->trailers, 1);
    assert_int_equal(rec_get(cl, 1)->body_len, 10);
    assert_int_equal(rec_get(cl, 1)->closed, 1);
}

/* An empty body that ends in trailers: HEADERS then the trailers, no empty
 * DATA frame between them (it would count against a peer's flood limit). */
static void test_trailers_empty_body(void **state)
{
    (void)state;
    get("/t0");
    pair_run(cl, sv, 0);
    loom_hpack_field f[] = {FIELD(":status", "200")};
    loom_hpack_field t[] = {FIELD("grpc-status", "0")};
    loom_body b = {.data = big, .len = 0, .fd = -1, .trailers = t, .n_trailers = 1};
    assert_int_equal(loom_respond(sv->c, 1, f, 1, &b), 0);
    pair_run(cl, sv, 0);
    assert_int_equal(rec_get(cl, 1)->trailers, 1);
    assert_int_equal(rec_get(cl, 1)->body_len, 0);
    assert_int_equal(rec_get(cl, 1)->closed, 1);
    assert_int_equal(rec_get(cl, 1)->close_code, 0);
    assert_int_equal(cl->frames_in[LOOM_FRAME_DATA], 0);
    assert_int_equal(cl->frames_in[LOOM_FRAME_HEADERS], 2);
}

static void test_early_hints(void **state)
{
    (void)state;
    get("/");
    pair_run(cl, sv, 0);
    loom_hpack_field h[] = {FIELD(":status", "103"), FIELD("link", "</s.css>; rel=preload")};
    assert_int_equal(loom_respond(sv->c, 1, h, 2, NULL), 0);
    answer_all(3);
    pair_run(cl, sv, 0);
    assert_int_equal(rec_get(cl, 1)->informational, 1);
    assert_int_equal(rec_get(cl, 1)->status, 200);
    assert_int_equal(rec_get(cl, 1)->body_len, 3);
}

/* loom_respond_by_key: the block remembered for a key goes out without
 * the fields while the server's HPACK table is unchanged; otherwise (no
 * block yet, another key's block inserted entries since) it sends nothing
 * and says so (1), and loom_respond_keyed encodes the fields afresh. */
static int32_t respond_head(int32_t sid, uint64_t key, const loom_hpack_field *f, size_t n,
                            const loom_body *b, int *by_key)
{
    int rc = loom_respond_by_key(sv->c, sid, key, b);
    *by_key = rc == 0;
    if (rc == 1) rc = loom_respond_keyed(sv->c, sid, f, n, key, b);
    assert_int_equal(rc, 0);
    return sid;
}

static void test_respond_by_key(void **state)
{
    (void)state;
    loom_hpack_field a[] = {FIELD(":status", "200"), FIELD("content-type", "text/plain"),
                            FIELD("etag", "\"v1\"")};
    loom_hpack_field b[] = {FIELD(":status", "200"), FIELD("content-type", "text/html"),
                            FIELD("etag", "\"v2\""), FIELD("x-other", "inserted")};
    loom_body body = {.data = big, .len = 3, .fd = -1};
    int by_key, hits = 0;
    int32_t sid = get("/a");
    pair_run(cl, sv, 0);
    /* nothing remembered yet, and key 0 never is */
    assert_int_equal(loom_respond_by_key(sv->c, sid, 7, &body), 1);
    assert_int_equal(loom_respond_by_key(sv->c, sid, 0, &body), 1);
    assert_int_equal(loom_respond_by_key(sv->c, 99, 7, &body), LOOM_ERR_STATE);
    assert_int_equal(loom_respond_by_key(cl->c, sid, 7, &body), LOOM_ERR_STATE);
    for (int round = 0; round < 6; round++) {
        if (round) sid = get("/a");
        pair_run(cl, sv, 0);
        respond_head(sid, 7, a, 3, &body, &by_key);
        hits += by_key;
        pair_run(cl, sv, 0);
        rec_stream *r = rec_get(cl, sid);
        assert_int_equal(r->status, 200);
        assert_string_equal(r->etag, "\"v1\"");
        assert_int_equal(r->body_len, 3);
        assert_true(r->end_stream);
        /* a final response was sent: never a second one */
        assert_int_equal(loom_respond_by_key(sv->c, sid, 7, &body), LOOM_ERR_STATE);
    }
    assert_true(hits >= 4); /* once nothing new was inserted */

    /* another key's fields insert entries: key 7's block named a table that
     * is gone, so it is not sent by key, and the fields are encoded again */
    sid = get("/b");
    pair_run(cl, sv, 0);
    respond_head(sid, 8, b, 4, &body, &by_key);
    assert_false(by_key);
    pair_run(cl, sv, 0);
    assert_string_equal(rec_get(cl, sid)->etag, "\"v2\"");
    sid = get("/a");
    pair_run(cl, sv, 0);
    assert_int_equal(loom_respond_by_key(sv->c, sid, 7, &body), 1);
    respond_head(sid, 7, a, 3, NULL, &by_key);
    pair_run(cl, sv, 0);
    assert_string_equal(rec_get(cl, sid)->etag, "\"v1\"");
    assert_int_equal(rec_get(cl, sid)->body_len, 0); /* no body: END_STREAM on HEADERS */
    assert_true(rec_get(cl, sid)->end_stream);
    assert_int_equal(rec_get(cl, sid)->closed, 1);

    /* a block remembered from a 1xx goes out as one (RFC 9113 §8.1: any
     * number of them may come before the final response), and the stream
     * waits for its final response */
    loom_hpack_field eh[] = {FIELD(":status", "103"), FIELD("link", "</s.css>; rel=preload")};
    hits = 0;
    sid = get("/c");
    pair_run(cl, sv, 0);
    for (int round = 0; round < 4; round++) {
        respond_head(sid, 9, eh, 2, &body, &by_key);
        hits += by_key;
    }
    pair_run(cl, sv, 0);
    assert_int_equal(rec_get(cl, sid)->informational, 4);
    assert_int_equal(rec_get(cl, sid)->closed, 0);
    respond_head(sid, 0, a, 3, &body, &by_key);
    pair_run(cl, sv, 0);
    rec_stream *r = rec_get(cl, sid);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 3);
    assert_int_equal(r->closed, 1);
    assert_true(hits >= 1);
    assert_int_equal(cl->errors + sv->errors, 0);
}

/* 1,000 concurrent streams, random chunking, bodies of many sizes (0 B
 * included): every stream completes with its own body. */
static void test_thousand_streams(void **state)
{
    (void)state;
    teardown(NULL);
    loom_config sc;
    loom_config_default(&sc, LOOM_SERVER);
    sc.max_concurrent_streams = 1000;
    assert_int_equal(setup_with(NULL, &sc), 0);
    pair_run(cl, sv, 0);
    srand(42);
    for (int i = 0; i < 1000; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/%d", i);
        assert_int_equal(get(p), 2 * i + 1);
    }
    pair_run(cl, sv, 0);
    assert_int_equal(sv->nst, 1000);
    for (int i = 0; i < sv->nst; i++) {
        rec_stream *r = &sv->st[i];
        size_t len = (size_t)(r->id * 37) % 20000; /* 0 for stream ids that divide */
        if (r->id % 10 == 1) len = 0;
        loom_hpack_field f[] = {FIELD(":status", "200")};
        loom_body b = {.data = big + r->id, .len = len, .fd = -1};
        assert_int_equal(loom_respond(sv->c, r->id, f, 1, len ? &b : NULL), 0);
    }
    pair_run(cl, sv, 0);
    int zero = 0;
    for (int i = 0; i < cl->nst; i++) {
        rec_stream *r = &cl->st[i];
        size_t len = (size_t)(r->id * 37) % 20000;
        if (r->id % 10 == 1) len = 0;
        assert_int_equal(r->closed, 1);
        assert_int_equal(r->close_code, 0);
        assert_int_equal(r->body_len, len);
        if (len) assert_memory_equal(r->body, big + r->id, len);
        zero += len == 0;
    }
    assert_int_equal(cl->nst, 1000);
    assert_true(zero >= 100);
    assert_int_equal(cl->errors + sv->errors, 0);
}

/* SETTINGS changed in the middle of transfers: a smaller window, then a
 * larger one, and a smaller HPACK table; everything still arrives. */
static void test_settings_change_mid_flight(void **state)
{
    (void)state;
    get("/1");
    get("/2");
    pair_run(cl, sv, 0);
    answer_all(3000000);
    pair_run_interleaved(cl, sv, 5000); /* part of the way */
    loom_setting small[] = {{LOOM_SETTINGS_INITIAL_WINDOW_SIZE, 1000},
                            {LOOM_SETTINGS_HEADER_TABLE_SIZE, 0}};
    assert_int_equal(loom_submit_settings(cl->c, small, 2), 0);
    for (int i = 0; i < 50; i++)
        pair_move(sv, cl, 3000), pair_move(cl, sv, 3000);
    loom_setting large[] = {{LOOM_SETTINGS_INITIAL_WINDOW_SIZE, 4u << 20}};
    assert_int_equal(loom_submit_settings(cl->c, large, 1), 0);
    get("/3"); /* after the table shrank: the server must announce it */
    pair_run(cl, sv, 0);
    answer_all(3000000);
    pair_run(cl, sv, 0);
    for (int32_t id = 1; id <= 5; id += 2) {
        assert_int_equal(rec_get(cl, id)->body_len, 3000000);
        assert_int_equal(rec_get(cl, id)->closed, 1);
    }
    assert_int_equal(cl->settings_acks, 3);
    assert_int_equal(cl->errors + sv->errors, 0);
    loom_setting bad[] = {{LOOM_SETTINGS_MAX_FRAME_SIZE, 100}};
    assert_int_equal(loom_submit_settings(cl->c, bad, 1), LOOM_ERR_INVALID);
}

/* Manual windows: a reader that does not consume holds its stream's
 * sender at the window; consuming lets it go on. */
static void test_manual_window_backpressure(void **state)
{
    (void)state;
    teardown(NULL);
    loom_config c;
    loom_config_default(&c, LOOM_CLIENT);
    c.manual_window = 1;
    c.initial_window_size = 100000;
    assert_int_equal(setup_with(&c, NULL), 0);
    get("/slow");
    pair_run(cl, sv, 0);
    answer_all(1000000);
    pair_run(cl, sv, 0);
    rec_stream *r = rec_get(cl, 1);
    assert_int_equal(r->body_len, 100000); /* exactly the window, no more */
    for (int i = 0; i < 100 && r->body_len < 1000000; i++) {
        loom_consumed(cl->c, 1, 50000);
        pair_run(cl, sv, 0);
        r = rec_get(cl, 1);
    }
    assert_int_equal(r->body_len, 1000000);
    assert_int_equal(r->closed, 1);
}

static void test_settings_timeout(void **state)
{
    (void)state;
    teardown(NULL);
    loom_config c;
    loom_config_default(&c, LOOM_CLIENT);
    c.now_ms = fake_clock;
    fake_now = 1000;
    assert_int_equal(setup_with(&c, NULL), 0);
    /* the server never reads: no ACK comes */
    fake_now += 4000;
    assert_int_equal(loom_conn_check_timeouts(cl->c, 5000), 0);
    fake_now += 2000;
    assert_int_equal(loom_conn_check_timeouts(cl->c, 5000), LOOM_ERR_SETTINGS_TIMEOUT);
    assert_int_equal(cl->errors, 1);
    assert_int_equal(cl->last_error, LOOM_ERR_SETTINGS_TIMEOUT);
    /* the GOAWAY says SETTINGS_TIMEOUT */
    pair_move(cl, sv, 0);
    assert_int_equal(sv->goaways, 1);
    assert_int_equal(sv->goaway_code, LOOM_H2_SETTINGS_TIMEOUT);
}

/* Rapid Reset (CVE-2023-44487): a client that opens and cancels streams
 * faster than the limit gets GOAWAY ENHANCE_YOUR_CALM. */
static void test_rapid_reset(void **state)
{
    (void)state;
    teardown(NULL);
    loom_config s;
    loom_config_default(&s, LOOM_SERVER);
    s.now_ms = fake_clock;
    s.reset_burst = 50;
    fake_now = 0;
    assert_int_equal(setup_with(NULL, &s), 0);
    pair_run(cl, sv, 0);
    for (int i = 0; i < 60 && !sv->errors; i++) {
        int32_t sid = get("/");
        assert_true(sid > 0);
        loom_reset(cl->c, sid, LOOM_H2_CANCEL);
        pair_run(cl, sv, 0);
    }
    assert_int_equal(sv->errors, 1);
    assert_int_equal(sv->last_error, LOOM_ERR_ENHANCE_YOUR_CALM);
    assert_int_equal(cl->goaway_code, LOOM_H2_ENHANCE_YOUR_CALM);
    /* the same rate spread over time is fine */
    teardown(NULL);
    assert_int_equal(setup_with(NULL, &s), 0);
    pair_run(cl, sv, 0);
    for (int i = 0; i < 200; i++) {
        fake_now += 100; /* 10 per second */
        int32_t sid = get("/");
        loom_reset(cl->c, sid, LOOM_H2_CANCEL);
        pair_run(cl, sv, 0);
    }
    assert_int_equal(sv->errors, 0);
}

/* RFC 9113 §5.1.1: stream ids cannot be reused; when they run out the
 * client is told, so that the runtime opens a new connection. */
/* In steady state, receiving requests and answering them allocates
 * nothing: field blocks decode into the connection's arena (reset per
 * block), stream objects and buffers are reused. Counted with an allocator
 * that counts every call, over rounds of 10 concurrent requests of 8 fields
 * each (a cookie and a user agent among them), answered with small bodies. */
static void test_steady_state_allocates_nothing(void **state)
{
    (void)state;
    teardown(NULL);
    counting cnt = {0};
    loom_mem mem = counting_mem(&cnt);
    loom_config scfg;
    loom_config_default(&scfg, LOOM_SERVER);
    scfg.mem = &mem;
    assert_int_equal(setup_with(NULL, &scfg), 0);
    memset(answered, 0, sizeof(answered));
    pair_run(cl, sv, 0);
    size_t after_warmup = 0;
    for (int round = 0; round < 60; round++) {
        if (round == 10) after_warmup = cnt.calls; /* buffers have grown to size */
        for (int i = 0; i < 10; i++) {
            char path[32];
            snprintf(path, sizeof(path), "/item/%d/%d", round, i);
            loom_hpack_field f[] = {
                FIELD(":method", "GET"),
                FIELD(":scheme", "https"),
                FIELD(":authority", "example.com"),
                {(const uint8_t *)":path", 5, (const uint8_t *)path, strlen(path), 0},
                FIELD("user-agent", "loom-test/1.0 (steady state)"),
                FIELD("accept", "*/*"),
                FIELD("accept-encoding", "gzip, br"),
                FIELD("cookie", "session=0123456789abcdef0123456789abcdef"),
            };
            assert_true(loom_request(cl->c, f, 8, NULL) > 0);
        }
        pair_run(cl, sv, 0);
        answer_all(300);
        pair_run(cl, sv, 0);
    }
    /* every request was answered in full */
    int done = 0;
    for (int i = 0; i < cl->nst; i++)
        done += cl->st[i].closed && cl->st[i].close_code == 0 && cl->st[i].body_len == 300;
    assert_int_equal(done, 600);
    assert_true(after_warmup > 0);
    if (cnt.calls != after_warmup)
        fail_msg("the server allocated %zu times in 500 requests after warm-up",
                 cnt.calls - after_warmup);
    teardown(NULL);
    assert_int_equal(cnt.live, 0); /* and everything came back */
    assert_int_equal(setup(NULL), 0);
}

/* An idle connection holds only its object and its state: loom_conn_shrink()
 * gives back the buffers, the decoded-field list and the spare stream
 * records once nothing is in flight (not before), what it kept (the HPACK
 * tables among it) still works after, and a shared configuration is not
 * copied. Counted with the counting allocator, on the server side. */
static counting shrink_cnt; /* static: teardown may use them after a failed assertion */
static loom_mem shrink_mem;

static void test_shrink_when_idle(void **state)
{
    (void)state;
    teardown(NULL);
    memset(&shrink_cnt, 0, sizeof(shrink_cnt));
    shrink_mem = counting_mem(&shrink_cnt);
    counting *cnt = &shrink_cnt;
    loom_config scfg;
    loom_config_default(&scfg, LOOM_SERVER);
    scfg.mem = &shrink_mem;
    /* a copied configuration costs its size beside the connection */
    loom_conn *copy = loom_conn_new(LOOM_SERVER, &scfg, NULL, NULL);
    assert_non_null(copy);
    size_t with_copy = cnt->live;
    loom_conn_free(copy);
    assert_int_equal(cnt->live, 0);
    scfg.shared = 1;
    copy = loom_conn_new(LOOM_SERVER, &scfg, NULL, NULL);
    assert_non_null(copy);
    assert_int_equal(with_copy - cnt->live, sizeof(loom_config));
    loom_conn_free(copy);

    assert_int_equal(setup_with(NULL, &scfg), 0);
    memset(answered, 0, sizeof(answered));
    pair_run(cl, sv, 0);
    assert_int_equal(loom_conn_shrink(sv->c), 1);
    size_t idle = cnt->live; /* after the handshake: the object alone */
    if (idle > 700) fail_msg("an idle connection holds %zu octets", idle);

    /* busy with an open stream: nothing is freed */
    loom_hpack_field f[] = {
        FIELD(":method", "GET"),
        FIELD(":scheme", "https"),
        FIELD(":authority", "example.com"),
        FIELD(":path", "/a"),
        FIELD("cookie", "session=0123456789abcdef0123456789abcdef"),
    };
    for (int i = 0; i < 4; i++)
        assert_true(loom_request(cl->c, f, 5, NULL) > 0);
    pair_run(cl, sv, 0);
    assert_int_equal(sv->nst, 4);
    size_t busy = cnt->live;
    assert_int_equal(loom_conn_shrink(sv->c), 0);
    assert_int_equal(cnt->live, busy);
    answer_all(3000);
    pair_run(cl, sv, 0);
    size_t served = cnt->live;
    assert_int_equal(loom_conn_shrink(sv->c), 1);
    /* at least the output batch, the field list and four stream records
     * went back; HPACK tables and the closed streams' memory stayed */
    assert_true(cnt->live + 4 * 100 < served);
    assert_true(cnt->live > idle);

    /* and it works on: the cookie comes from the dynamic table now */
    for (int i = 0; i < 4; i++)
        assert_true(loom_request(cl->c, f, 5, NULL) > 0);
    pair_run(cl, sv, 0);
    answer_all(3000);
    pair_run(cl, sv, 0);
    int done = 0;
    for (int i = 0; i < cl->nst; i++)
        done += cl->st[i].closed && cl->st[i].close_code == 0 && cl->st[i].body_len == 3000;
    assert_int_equal(done, 8);
    assert_int_equal(cl->errors + sv->errors, 0);
    assert_int_equal(loom_conn_shrink(sv->c), 1);
    teardown(NULL);
    assert_int_equal(cnt->live, 0);
    assert_int_equal(setup(NULL), 0);
}

static void test_stream_id_exhaustion(void **state)
{
    (void)state;
    pair_run(cl, sv, 0);
    cl->c->next_local_id = 0x7ffffffd; /* two ids left: 2^31-3, 2^31-1 */
    sv->c->last_peer_id = 0x7ffffffb;
    assert_int_equal(get("/a"), 0x7ffffffd);
    assert_int_equal(get("/b"), 0x7fffffff);
    assert_int_equal(get("/c"), LOOM_ERR_STATE);
    pair_run(cl, sv, 0);
    answer_all(10);
    pair_run(cl, sv, 0);
    assert_int_equal(rec_get(cl, 0x7fffffff)->body_len, 10);
    assert_int_equal(cl->errors + sv->errors, 0);
}

int main(void)
{
    big_len = 10u << 20;
    big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (uint8_t)(i * 7 + (i >> 13));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_streams_random_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_body_small_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_accepted_and_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_disabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_and_download, setup, teardown),
        cmocka_unit_test_setup_teardown(test_goaway_graceful, setup, teardown),
        cmocka_unit_test_setup_teardown(test_goaway_retry_safe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_priorities_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_rtt, setup_clock, teardown),
        cmocka_unit_test_setup_teardown(test_trailers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailers_empty_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_early_hints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thousand_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings_change_mid_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manual_window_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rapid_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_id_exhaustion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steady_state_allocates_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shrink_when_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_respond_by_key, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(big);
    return rc;
}
