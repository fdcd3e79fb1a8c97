/* The send scheduler: RFC 9218 urgency/incremental and RFC 7540 dependency
 * trees with weights, observed in the order a server engine writes DATA.
 * The client side is raw frames written here by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loom/loom.h"

static uint8_t body[400000];

typedef struct {
    int32_t sid[4096];
    uint32_t len[4096];
    uint8_t end[4096]; /* the frame carried END_STREAM */
    int n;
} data_log;

static int on_event(loom_conn *c, const loom_event *ev, void *user)
{
    (void)c;
    (void)user;
    (void)ev;
    return 0;
}

static size_t frame(uint8_t *p, uint32_t len, uint8_t type, uint8_t flags, uint32_t sid)
{
    p[0] = (uint8_t)(len >> 16);
    p[1] = (uint8_t)(len >> 8);
    p[2] = (uint8_t)len;
    p[3] = type;
    p[4] = flags;
    p[5] = (uint8_t)(sid >> 24);
    p[6] = (uint8_t)(sid >> 16);
    p[7] = (uint8_t)(sid >> 8);
    p[8] = (uint8_t)sid;
    return 9;
}

/* A server engine with a client that allows huge windows (the connection
 * window only when open_conn_window). */
static loom_conn *server_with(int open_conn_window)
{
    loom_conn *c = loom_conn_new(LOOM_SERVER, NULL, on_event, NULL);
    uint8_t in[128];
    size_t n = 0;
    memcpy(in, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    n = 24;
    n += frame(in + n, 6, 4, 0, 0); /* SETTINGS INITIAL_WINDOW_SIZE 2^31-1 */
    const uint8_t iws[] = {0, 4, 0x7f, 0xff, 0xff, 0xff};
    memcpy(in + n, iws, 6);
    n += 6;
    if (open_conn_window) {
        n += frame(in + n, 4, 8, 0, 0); /* WINDOW_UPDATE connection +2^31-65536 */
        const uint8_t inc[] = {0x7f, 0xff, 0x00, 0x00};
        memcpy(in + n, inc, 4);
        n += 4;
    }
    assert_int_equal(loom_conn_recv(c, in, n), 0);
    return c;
}

static loom_conn *server(void)
{
    return server_with(1);
}

/* GET / on sid, with RFC 7540 priority fields when weight > 0, or an RFC
 * 9218 priority field value when prio is given. */
static void request(loom_conn *c, uint32_t sid, uint32_t dep, int excl, int weight,
                    const char *prio)
{
    uint8_t in[128];
    size_t n = 0, plen = prio ? strlen(prio) : 0;
    /* :method GET, :scheme https, :path /, :authority a (literal, indexed name) */
    uint8_t blk[64] = {0x82, 0x87, 0x84, 0x01, 0x01, 'a'};
    size_t bl = 6;
    if (prio) {
        blk[bl++] = 0x00; /* literal without indexing, new name */
        blk[bl++] = 8;
        memcpy(blk + bl, "priority", 8);
        bl += 8;
        blk[bl++] = (uint8_t)plen;
        memcpy(blk + bl, prio, plen);
        bl += plen;
    }
    int pri = weight > 0;
    n += frame(in, (uint32_t)(bl + (pri ? 5 : 0)), 1, 0x05 | (pri ? 0x20 : 0), sid);
    if (pri) {
        in[n++] = (uint8_t)((dep >> 24) | (excl ? 0x80 : 0));
        in[n++] = (uint8_t)(dep >> 16);
        in[n++] = (uint8_t)(dep >> 8);
        in[n++] = (uint8_t)dep;
        in[n++] = (uint8_t)(weight - 1);
    }
    memcpy(in + n, blk, bl);
    n += bl;
    assert_int_equal(loom_conn_recv(c, in, n), 0);
}

static void respond(loom_conn *c, int32_t sid, size_t len)
{
    loom_hpack_field f[] = {{(const uint8_t *)":status", 7, (const uint8_t *)"200", 3, 0}};
    loom_body b = {.data = body, .len = len, .fd = -1};
    assert_int_equal(loom_respond(c, sid, f, 1, &b), 0);
}

/* Runs the server's output through the frame parser, logging DATA frames. */
static void drain(loom_conn *c, data_log *log)
{
    loom_frame_reader r;
    loom_frame_reader_init(&r, LOOM_MAX_FRAME_SIZE_MAX, NULL);
    loom_out out[16];
    size_t k;
    while ((k = loom_conn_send(c, out, 16)) > 0) {
        for (size_t i = 0; i < k; i++) {
            const uint8_t *p = out[i].base;
            size_t n = out[i].len, used;
            loom_frame f;
            loom_frame_error e;
            int rc;
            while ((rc = loom_frame_reader_next(&r, p, n, &used, &f, &e)) != 0) {
                assert_true(rc > 0);
                p += used;
                n -= used;
                if (f.hd.type == LOOM_FRAME_DATA) {
                    assert_true(log->n < 4096);
                    log->sid[log->n] = (int32_t)f.hd.stream_id;
                    log->end[log->n] = (f.hd.flags & LOOM_FLAG_END_STREAM) != 0;
                    log->len[log->n++] = f.hd.length;
                }
                /* nothing here resets a stream: a reset would hide a stream
                 * that never finished */
                assert_int_not_equal(f.hd.type, LOOM_FRAME_RST_STREAM);
            }
            loom_conn_sent(c, out[i].len);
        }
    }
    loom_frame_reader_free(&r);
}

static int last_frame_of(const data_log *log, int32_t sid)
{
    int last = -1;
    for (int i = 0; i < log->n; i++)
        if (log->sid[i] == sid) last = i;
    return last;
}

static int first_frame_of(const data_log *log, int32_t sid)
{
    for (int i = 0; i < log->n; i++)
        if (log->sid[i] == sid) return i;
    return -1;
}

/* Before any order is compared: the stream sent all its len octets, and
 * its last DATA frame (only that one) ended it. Without this an order
 * check could pass on a stream that never finished (-1 < anything). */
static void assert_complete(const data_log *log, int32_t sid, size_t len)
{
    size_t got = 0;
    int ends = 0, last = last_frame_of(log, sid);
    for (int i = 0; i < log->n; i++)
        if (log->sid[i] == sid) {
            got += log->len[i];
            ends += log->end[i];
        }
    assert_int_equal(got, len);
    assert_int_equal(ends, 1);
    assert_true(last >= 0 && log->end[last]);
}

static void test_rfc9218_urgency(void **state)
{
    (void)state;
    loom_conn *c = server();
    request(c, 1, 0, 0, 0, "u=6");
    request(c, 3, 0, 0, 0, "u=1");
    request(c, 5, 0, 0, 0, NULL); /* default u=3 */
    respond(c, 1, 300000);
    respond(c, 3, 300000);
    respond(c, 5, 300000);
    data_log log = {.n = 0};
    drain(c, &log);
    assert_complete(&log, 1, 300000);
    assert_complete(&log, 3, 300000);
    assert_complete(&log, 5, 300000);
    /* strictly by urgency: 3 (u=1), then 5 (u=3), then 1 (u=6) */
    assert_true(last_frame_of(&log, 3) < first_frame_of(&log, 5));
    assert_true(last_frame_of(&log, 5) < first_frame_of(&log, 1));
    loom_conn_free(c);
}

static void test_rfc9218_incremental_interleaves(void **state)
{
    (void)state;
    loom_conn *c = server();
    request(c, 1, 0, 0, 0, "u=3, i");
    request(c, 3, 0, 0, 0, "u=3, i");
    respond(c, 1, 200000);
    respond(c, 3, 200000);
    data_log log = {.n = 0};
    drain(c, &log);
    assert_complete(&log, 1, 200000);
    assert_complete(&log, 3, 200000);
    /* incremental streams of one urgency take turns */
    assert_true(first_frame_of(&log, 3) < last_frame_of(&log, 1));
    assert_true(first_frame_of(&log, 1) < last_frame_of(&log, 3));
    int switches = 0;
    for (int i = 1; i < log.n; i++)
        switches += log.sid[i] != log.sid[i - 1];
    assert_true(switches > 10);
    loom_conn_free(c);
}

static void test_rfc7540_dependency(void **state)
{
    (void)state;
    loom_conn *c = server();
    request(c, 1, 0, 0, 16, NULL);
    request(c, 3, 1, 0, 16, NULL); /* 3 depends on 1 */
    respond(c, 3, 300000);
    respond(c, 1, 300000);
    data_log log = {.n = 0};
    drain(c, &log);
    assert_complete(&log, 1, 300000);
    assert_complete(&log, 3, 300000);
    /* the parent is served before its dependent */
    assert_true(last_frame_of(&log, 1) < first_frame_of(&log, 3));
    loom_conn_free(c);
}

static void test_rfc7540_weights(void **state)
{
    (void)state;
    loom_conn *c = server();
    request(c, 1, 0, 0, 1, NULL);   /* weight 1 */
    request(c, 3, 0, 0, 256, NULL); /* weight 256 */
    respond(c, 1, 400000);
    respond(c, 3, 400000);
    data_log log = {.n = 0};
    drain(c, &log);
    assert_complete(&log, 1, 400000);
    assert_complete(&log, 3, 400000);
    /* siblings share by weight: by the time the heavy one is done the
     * light one has had far less */
    int end3 = last_frame_of(&log, 3);
    uint64_t sent1 = 0;
    for (int i = 0; i < end3; i++)
        if (log.sid[i] == 1) sent1 += log.len[i];
    assert_true(sent1 < 400000 / 8);
    assert_true(last_frame_of(&log, 1) > end3);
    loom_conn_free(c);
}

static void test_rfc7540_exclusive(void **state)
{
    (void)state;
    loom_conn *c = server();
    request(c, 1, 0, 0, 16, NULL);
    request(c, 3, 0, 0, 16, NULL);
    request(c, 5, 0, 1, 16, NULL); /* exclusive on the root: 1 and 3 now depend on 5 */
    respond(c, 1, 100000);
    respond(c, 3, 100000);
    respond(c, 5, 100000);
    data_log log = {.n = 0};
    drain(c, &log);
    assert_complete(&log, 1, 100000);
    assert_complete(&log, 3, 100000);
    assert_complete(&log, 5, 100000);
    assert_true(last_frame_of(&log, 5) < first_frame_of(&log, 1));
    assert_true(last_frame_of(&log, 5) < first_frame_of(&log, 3));
    loom_conn_free(c);
}

static void test_priority_field_wins_over_rfc7540(void **state)
{
    (void)state;
    /* RFC 9218 §2.1: once the priority field is in use, the tree is not */
    loom_conn *c = server();
    request(c, 1, 0, 0, 16, "u=7");
    request(c, 3, 1, 0, 16, "u=0"); /* depends on 1 by RFC 7540, but urgent by RFC 9218 */
    respond(c, 1, 300000);
    respond(c, 3, 300000);
    data_log log = {.n = 0};
    drain(c, &log);
    assert_complete(&log, 1, 300000);
    assert_complete(&log, 3, 300000);
    assert_true(last_frame_of(&log, 3) < first_frame_of(&log, 1));
    loom_conn_free(c);
}

static uint64_t data_octets(const data_log *log)
{
    uint64_t n = 0;
    for (int i = 0; i < log->n; i++)
        n += log->len[i];
    return n;
}

/* Streams held back by the connection window go on when it opens, in
 * RFC 7540 tree mode too (a stall found against nghttp). */
static void test_connection_window_resumes(void **state)
{
    (void)state;
    for (int tree = 0; tree < 2; tree++) {
        loom_conn *c = server_with(0);
        request(c, 1, 0, 0, tree ? 16 : 0, NULL);
        request(c, 3, 0, 0, tree ? 32 : 0, NULL);
        respond(c, 1, 200000);
        respond(c, 3, 200000);
        data_log log = {.n = 0};
        drain(c, &log);
        assert_int_equal(data_octets(&log), 65535); /* the initial connection window */
        uint8_t wu[13];
        frame(wu, 4, 8, 0, 0);
        const uint8_t inc[] = {0x00, 0x10, 0x00, 0x00}; /* +1 MiB */
        memcpy(wu + 9, inc, 4);
        assert_int_equal(loom_conn_recv(c, wu, sizeof(wu)), 0);
        drain(c, &log);
        assert_int_equal(data_octets(&log), 400000);
        loom_conn_free(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc9218_urgency),
        cmocka_unit_test(test_rfc9218_incremental_interleaves),
        cmocka_unit_test(test_rfc7540_dependency),
        cmocka_unit_test(test_rfc7540_weights),
        cmocka_unit_test(test_rfc7540_exclusive),
        cmocka_unit_test(test_priority_field_wins_over_rfc7540),
        cmocka_unit_test(test_connection_window_resumes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
