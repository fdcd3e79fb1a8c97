/* lib/stream.c: the RFC 9113 §5.1 transition table, every (state, event)
 * pair against an expectation written here from the RFC text, in another
 * shape than the library's (per state: the events allowed and where they
 * lead, the received events refused with their error, everything sent
 * otherwise a local misuse); and the stream store: the hash by id, the
 * free list, the ring of closed streams, every allocation freed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "conn_internal.h"
#include "h2_wire.h"
#include "hpack_util.h"
#include "stream.h"

/* ---- the expectation, read from RFC 9113 §5.1 ---- */

typedef struct {
    int ev, next;
} allow;

typedef struct {
    int ev, verdict;
} refuse;

typedef struct {
    int state;
    const char *rfc;
    const allow *ok; /* allowed, with the state they lead to */
    size_t nok;
    int recv_other;       /* any other received event */
    const refuse *except; /* received events refused otherwise than recv_other */
    size_t nexcept;
    /* any other sent event is V_USAGE: §5.1 "MUST NOT send" */
} expect_row;

#define ALLOWS(...)                                                                                \
    (const allow[]){__VA_ARGS__}, sizeof((const allow[]){__VA_ARGS__}) / sizeof(allow)
#define REFUSES(...)                                                                               \
    (const refuse[]){__VA_ARGS__}, sizeof((const refuse[]){__VA_ARGS__}) / sizeof(refuse)
#define NONE NULL, 0
#define A(e, s)                                                                                    \
    {                                                                                              \
        EV_##e, ST_##s                                                                             \
    }
#define R(e, v)                                                                                    \
    {                                                                                              \
        EV_##e, V_##v                                                                              \
    }

/* PUSH_PROMISE events are on the promised stream, which §6.6 requires to be
 * idle: promising any other is "an illegal stream identifier", a connection
 * PROTOCOL_ERROR when received and a misuse when sent. END_STREAM is an event
 * of its own that follows its frame's, so it is refused wherever the frames
 * that carry it (DATA, HEADERS) cannot arrive in that state. */
static const expect_row expected[] = {
    {ST_IDLE,
     "idle: sending/receiving HEADERS -> open; sending/receiving PUSH_PROMISE reserves; "
     "receiving anything but HEADERS or PRIORITY is a connection PROTOCOL_ERROR",
     ALLOWS(A(R_HEADERS, OPEN), A(R_PUSH_PROMISE, RESERVED_REMOTE), A(R_PRIORITY, IDLE),
            A(S_HEADERS, OPEN), A(S_PUSH_PROMISE, RESERVED_LOCAL)),
     V_CONN_PROTOCOL, NONE},
    {ST_RESERVED_LOCAL,
     "reserved (local): we send HEADERS (-> half-closed (remote)) or RST_STREAM; receiving "
     "other than RST_STREAM, PRIORITY, WINDOW_UPDATE is a connection PROTOCOL_ERROR",
     ALLOWS(A(R_RST, CLOSED), A(R_WINDOW_UPDATE, RESERVED_LOCAL), A(R_PRIORITY, RESERVED_LOCAL),
            A(S_HEADERS, HALF_CLOSED_REMOTE), A(S_RST, CLOSED)),
     V_CONN_PROTOCOL, NONE},
    {ST_RESERVED_REMOTE,
     "reserved (remote): receiving HEADERS -> half-closed (local); either sends RST_STREAM; "
     "receiving other than HEADERS, RST_STREAM, PRIORITY is a connection PROTOCOL_ERROR",
     ALLOWS(A(R_HEADERS, HALF_CLOSED_LOCAL), A(R_RST, CLOSED), A(R_PRIORITY, RESERVED_REMOTE),
            A(S_RST, CLOSED)),
     V_CONN_PROTOCOL, NONE},
    {ST_OPEN,
     "open: frames of any type both ways; END_STREAM sent -> half-closed (local), received -> "
     "half-closed (remote); RST_STREAM either way -> closed",
     ALLOWS(A(R_HEADERS, OPEN), A(R_DATA, OPEN), A(R_END_STREAM, HALF_CLOSED_REMOTE),
            A(R_RST, CLOSED), A(R_WINDOW_UPDATE, OPEN), A(R_PRIORITY, OPEN), A(S_HEADERS, OPEN),
            A(S_DATA, OPEN), A(S_END_STREAM, HALF_CLOSED_LOCAL), A(S_RST, CLOSED)),
     V_CONN_PROTOCOL /* only PUSH_PROMISE is left: §6.6 */, NONE},
    {ST_HALF_CLOSED_LOCAL,
     "half-closed (local): we send only WINDOW_UPDATE, PRIORITY, RST_STREAM; any frame may "
     "be received; END_STREAM received or RST_STREAM either way -> closed",
     ALLOWS(A(R_HEADERS, HALF_CLOSED_LOCAL), A(R_DATA, HALF_CLOSED_LOCAL), A(R_END_STREAM, CLOSED),
            A(R_RST, CLOSED), A(R_WINDOW_UPDATE, HALF_CLOSED_LOCAL),
            A(R_PRIORITY, HALF_CLOSED_LOCAL), A(S_RST, CLOSED)),
     V_CONN_PROTOCOL /* only PUSH_PROMISE is left: §6.6 */, NONE},
    {ST_HALF_CLOSED_REMOTE,
     "half-closed (remote): we send anything; receiving other than WINDOW_UPDATE, PRIORITY, "
     "RST_STREAM is a stream error STREAM_CLOSED; END_STREAM sent or RST_STREAM -> closed",
     ALLOWS(A(R_RST, CLOSED), A(R_WINDOW_UPDATE, HALF_CLOSED_REMOTE),
            A(R_PRIORITY, HALF_CLOSED_REMOTE), A(S_HEADERS, HALF_CLOSED_REMOTE),
            A(S_DATA, HALF_CLOSED_REMOTE), A(S_END_STREAM, CLOSED), A(S_RST, CLOSED)),
     V_STREAM_CLOSED, REFUSES(R(R_PUSH_PROMISE, CONN_PROTOCOL))},
    {ST_CLOSED,
     "closed: we send only PRIORITY; WINDOW_UPDATE and RST_STREAM may still be in flight "
     "(ignored); DATA is a stream error STREAM_CLOSED (§6.1); other frames MAY be a "
     "connection error STREAM_CLOSED",
     ALLOWS(A(R_PRIORITY, CLOSED)), V_STREAM_CLOSED,
     REFUSES(R(R_HEADERS, CONN_STREAM_CLOSED), R(R_PUSH_PROMISE, CONN_PROTOCOL), R(R_RST, IGNORE),
             R(R_WINDOW_UPDATE, IGNORE))},
    {ST_CLOSED_IGNORED,
     "closed after we sent RST_STREAM: frames in flight MUST be ignored (minimally "
     "processed: field blocks still decoded)",
     ALLOWS(A(R_PRIORITY, CLOSED_IGNORED)), V_IGNORE, REFUSES(R(R_PUSH_PROMISE, CONN_PROTOCOL))},
    {ST_CLOSED_UNKNOWN,
     "closed and forgotten (or never used below the newest id, §5.1.1): HEADERS is an "
     "unexpected stream identifier, a connection PROTOCOL_ERROR; DATA a stream error "
     "STREAM_CLOSED (§6.1); WINDOW_UPDATE and RST_STREAM ignored",
     ALLOWS(A(R_PRIORITY, CLOSED_UNKNOWN)), V_STREAM_CLOSED,
     REFUSES(R(R_HEADERS, CONN_PROTOCOL), R(R_PUSH_PROMISE, CONN_PROTOCOL), R(R_RST, IGNORE),
             R(R_WINDOW_UPDATE, IGNORE))},
};

static const char *const ev_names[EV_COUNT] = {
    "R_HEADERS",      "R_PUSH_PROMISE",  "R_DATA",       "R_END_STREAM",
    "R_RST",          "R_WINDOW_UPDATE", "R_PRIORITY",   "S_HEADERS",
    "S_PUSH_PROMISE", "S_DATA",          "S_END_STREAM", "S_RST",
};

static const char *const verdict_names[] = {
    "OK", "IGNORE", "STREAM_CLOSED", "CONN_PROTOCOL", "CONN_STREAM_CLOSED", "USAGE"};

static int is_send(int ev)
{
    return ev >= EV_S_HEADERS;
}

static stream_outcome expect(const expect_row *r, int ev)
{
    for (size_t i = 0; i < r->nok; i++)
        if (r->ok[i].ev == ev) return (stream_outcome){(uint8_t)r->ok[i].next, V_OK};
    for (size_t i = 0; i < r->nexcept; i++)
        if (r->except[i].ev == ev) return (stream_outcome){ST_COUNT, (uint8_t)r->except[i].verdict};
    return (stream_outcome){ST_COUNT, (uint8_t)(is_send(ev) ? V_USAGE : r->recv_other)};
}

/* The expectation itself: one row per state, no event both allowed and
 * refused, refusals only of received events. */
static void test_expectation_well_formed(void **state)
{
    (void)state;
    assert_int_equal(sizeof(expected) / sizeof(expected[0]), ST_COUNT);
    for (int s = 0; s < ST_COUNT; s++) {
        const expect_row *r = &expected[s];
        assert_int_equal(r->state, s);
        assert_true(r->recv_other != V_OK && r->recv_other != V_USAGE);
        for (size_t i = 0; i < r->nok; i++) {
            assert_true(r->ok[i].next >= 0 && r->ok[i].next < ST_COUNT);
            for (size_t j = 0; j < r->nexcept; j++)
                assert_int_not_equal(r->ok[i].ev, r->except[j].ev);
            for (size_t j = i + 1; j < r->nok; j++)
                assert_int_not_equal(r->ok[i].ev, r->ok[j].ev);
        }
        for (size_t j = 0; j < r->nexcept; j++)
            assert_false(is_send(r->except[j].ev));
    }
}

/* All 9 x 12 = 108 pairs. */
static void test_transition_table_exhaustive(void **state)
{
    (void)state;
    int bad = 0, pairs = 0;
    for (int s = 0; s < ST_COUNT; s++)
        for (int ev = 0; ev < EV_COUNT; ev++) {
            stream_outcome want = expect(&expected[s], ev);
            stream_outcome got = loom__stream_transition((uint8_t)s, (uint8_t)ev);
            pairs++;
            int same =
                got.verdict == want.verdict && (want.verdict != V_OK || got.next == want.next);
            if (!same) {
                print_error("%s x %s: got %s -> %s, want %s -> %s\n  (%s)\n",
                            loom__stream_state_name((uint8_t)s), ev_names[ev],
                            verdict_names[got.verdict], loom__stream_state_name(got.next),
                            verdict_names[want.verdict], loom__stream_state_name(want.next),
                            expected[s].rfc);
                bad++;
            }
        }
    assert_int_equal(pairs, 108);
    assert_int_equal(bad, 0);
}

/* loom__stream_apply moves the stream exactly on V_OK and never otherwise. */
static void test_apply_moves_only_when_allowed(void **state)
{
    (void)state;
    for (int s = 0; s < ST_COUNT; s++)
        for (int ev = 0; ev < EV_COUNT; ev++) {
            stream st;
            memset(&st, 0, sizeof(st));
            st.state = (uint8_t)s;
            stream_outcome want = expect(&expected[s], ev);
            stream_verdict v = loom__stream_apply(&st, (stream_event)ev);
            assert_int_equal(v, want.verdict);
            assert_int_equal(st.state, want.verdict == V_OK ? want.next : s);
            assert_int_equal(loom__stream_closed(&st), st.state >= ST_CLOSED);
        }
}

/* Whole lives of a stream, step by step, as §5.1 figure 2 draws them. */
static void walk(const int *events, size_t n, int last)
{
    stream st;
    memset(&st, 0, sizeof(st));
    st.state = ST_IDLE;
    for (size_t i = 0; i < n; i++)
        if (loom__stream_apply(&st, (stream_event)events[i]) != V_OK)
            fail_msg("step %zu (%s) refused in %s", i, ev_names[events[i]],
                     loom__stream_state_name(st.state));
    assert_int_equal(st.state, last);
}

static void test_lifecycles(void **state)
{
    (void)state;
    /* client: request with a body, response with trailers */
    const int client[] = {EV_S_HEADERS, EV_S_DATA,       EV_R_WINDOW_UPDATE,
                          EV_S_DATA,    EV_S_END_STREAM, EV_R_HEADERS,
                          EV_R_DATA,    EV_R_HEADERS,    EV_R_END_STREAM};
    walk(client, sizeof(client) / sizeof(client[0]), ST_CLOSED);
    /* server: GET with END_STREAM on HEADERS, answered */
    const int server[] = {EV_R_HEADERS, EV_R_END_STREAM, EV_R_PRIORITY,
                          EV_S_HEADERS, EV_S_DATA,       EV_S_END_STREAM};
    walk(server, sizeof(server) / sizeof(server[0]), ST_CLOSED);
    /* a push, both ends */
    const int pushed[] = {EV_S_PUSH_PROMISE, EV_R_PRIORITY, EV_S_HEADERS, EV_S_DATA,
                          EV_S_END_STREAM};
    walk(pushed, sizeof(pushed) / sizeof(pushed[0]), ST_CLOSED);
    const int promised[] = {EV_R_PUSH_PROMISE, EV_R_HEADERS, EV_R_DATA, EV_R_END_STREAM};
    walk(promised, sizeof(promised) / sizeof(promised[0]), ST_CLOSED);
    /* a promise refused */
    const int refused[] = {EV_R_PUSH_PROMISE, EV_S_RST};
    walk(refused, sizeof(refused) / sizeof(refused[0]), ST_CLOSED);
    /* reset by the peer mid-body; PRIORITY is still allowed once closed */
    const int reset[] = {EV_R_HEADERS, EV_S_HEADERS, EV_S_DATA, EV_R_RST, EV_R_PRIORITY};
    walk(reset, sizeof(reset) / sizeof(reset[0]), ST_CLOSED);
}

static void test_out_of_range(void **state)
{
    (void)state;
    const uint8_t bad[][2] = {{ST_COUNT, 0}, {0, EV_COUNT}, {ST_COUNT, EV_COUNT}, {255, 255}};
    for (size_t i = 0; i < 4; i++) {
        stream_outcome o = loom__stream_transition(bad[i][0], bad[i][1]);
        assert_int_equal(o.verdict, V_USAGE);
        assert_int_equal(o.next, ST_COUNT);
    }
    /* every state has its own name; none beyond */
    for (int s = 0; s < ST_COUNT; s++) {
        const char *n = loom__stream_state_name((uint8_t)s);
        assert_non_null(n);
        assert_string_not_equal(n, "?");
        for (int t = 0; t < s; t++)
            assert_string_not_equal(n, loom__stream_state_name((uint8_t)t));
    }
    assert_string_equal(loom__stream_state_name(ST_IDLE), "idle");
    assert_string_equal(loom__stream_state_name(ST_HALF_CLOSED_REMOTE), "half-closed (remote)");
    assert_string_equal(loom__stream_state_name(ST_COUNT), "?");
    assert_string_equal(loom__stream_state_name(200), "?");
}

/* ---- the store ---- */

static size_t count_walk(const stream_store *t)
{
    size_t n = 0;
    STREAMS_FOREACH (t, s)
        n++;
    return n;
}

static void test_store_many_ids(void **state)
{
    (void)state;
    counting cnt = {0};
    loom_mem m = counting_mem(&cnt);
    stream_store t;
    loom__streams_init(&t, 16, &m);
    assert_null(loom__streams_find(&t, 1)); /* no buckets yet */
    assert_int_equal(cnt.calls, 0);

    /* 20000 ids (odd, as a client opens them, and a few near 2^31-1):
     * buckets double from 16 past 16384, ten resizes */
    enum { N = 20000 };
    size_t seen_sizes = 0, last_nb = 0;
    for (int i = 0; i < N; i++) {
        int32_t id = i < N - 3 ? 2 * i + 1 : (int32_t)(0x7fffffff - 2 * (N - 1 - i));
        stream *s = loom__streams_new(&t, id, ST_OPEN);
        assert_non_null(s);
        assert_int_equal(s->id, id);
        assert_int_equal(s->state, ST_OPEN);
        s->recv_window = id; /* a mark to find it by */
        assert_int_equal(t.n, (size_t)i + 1);
        assert_true(t.nbuckets >= t.n);
        if (t.nbuckets != last_nb) {
            seen_sizes++;
            last_nb = t.nbuckets;
        }
    }
    assert_true(seen_sizes >= 10);
    assert_int_equal(t.nbuckets, 32768);
    assert_int_equal(count_walk(&t), N);
    for (int i = 0; i < N; i++) {
        int32_t id = i < N - 3 ? 2 * i + 1 : (int32_t)(0x7fffffff - 2 * (N - 1 - i));
        stream *s = loom__streams_find(&t, id);
        assert_non_null(s);
        assert_int_equal(s->id, id);
        assert_int_equal(s->recv_window, id);
    }
    /* ids never added */
    assert_null(loom__streams_find(&t, 2));
    assert_null(loom__streams_find(&t, 0));
    assert_null(loom__streams_find(&t, 2 * N + 1));

    /* remove every third: the others are still found, the removed are not */
    for (int i = 0; i < N - 3; i += 3)
        loom__streams_remove(&t, loom__streams_find(&t, 2 * i + 1));
    for (int i = 0; i < N - 3; i++) {
        stream *s = loom__streams_find(&t, 2 * i + 1);
        if (i % 3 == 0)
            assert_null(s);
        else
            assert_non_null(s);
    }
    assert_int_equal(t.n, count_walk(&t));
    assert_int_equal(t.n, N - (N - 3 + 2) / 3);

    loom__streams_free(&t);
    assert_int_equal(cnt.live, 0);
    assert_int_equal(t.n, 0);
    assert_null(t.buckets);
}

/* A removed stream's memory is the next new one's, zeroed but for id and
 * state, without an allocation. */
static void test_store_reuses_freed(void **state)
{
    (void)state;
    counting cnt = {0};
    loom_mem m = counting_mem(&cnt);
    stream_store t;
    loom__streams_init(&t, 0, &m);
    stream *a = loom__streams_new(&t, 1, ST_OPEN);
    stream *b = loom__streams_new(&t, 3, ST_OPEN);
    assert_non_null(a);
    assert_non_null(b);
    a->send_window = 12345;
    a->user = &t;
    a->urgency = 7;
    size_t calls = cnt.calls, live = cnt.live;

    loom__streams_remove(&t, a);
    assert_null(loom__streams_find(&t, 1));
    assert_ptr_equal(loom__streams_find(&t, 3), b);
    assert_int_equal(cnt.live, live); /* kept for reuse */

    stream *c = loom__streams_new(&t, 5, ST_RESERVED_LOCAL);
    assert_ptr_equal(c, a);
    assert_int_equal(cnt.calls, calls); /* no allocation */
    assert_int_equal(c->id, 5);
    assert_int_equal(c->state, ST_RESERVED_LOCAL);
    assert_int_equal(c->send_window, 0);
    assert_null(c->user);
    assert_int_equal(c->urgency, 0);
    assert_ptr_equal(loom__streams_find(&t, 5), c);

    /* free list LIFO: the last removed comes back first */
    loom__streams_remove(&t, b);
    loom__streams_remove(&t, c);
    assert_ptr_equal(loom__streams_new(&t, 7, ST_OPEN), c);
    assert_ptr_equal(loom__streams_new(&t, 9, ST_OPEN), b);
    assert_int_equal(cnt.calls, calls);
    stream *d = loom__streams_new(&t, 11, ST_OPEN); /* the list is empty now */
    assert_non_null(d);
    assert_true(cnt.calls > calls);

    /* streams left in the store and on the free list are both freed */
    loom__streams_remove(&t, d);
    loom__streams_free(&t);
    assert_int_equal(cnt.live, 0);
}

/* Out of memory: NULL, and the store is as it was. */
static void test_store_out_of_memory(void **state)
{
    (void)state;
    counting cnt = {0};
    loom_mem m = counting_mem(&cnt);
    stream_store t;
    loom__streams_init(&t, 4, &m);
    cnt.fail_at = 1; /* the buckets */
    assert_null(loom__streams_new(&t, 1, ST_OPEN));
    assert_int_equal(t.n, 0);
    cnt.fail_at = 3; /* the buckets then the stream itself */
    assert_null(loom__streams_new(&t, 1, ST_OPEN));
    assert_int_equal(t.n, 0);
    assert_null(loom__streams_find(&t, 1));
    cnt.fail_at = 0;
    assert_non_null(loom__streams_new(&t, 1, ST_OPEN));
    /* the ring's allocation failing: nothing remembered, nothing broken */
    cnt.fail_at = cnt.calls + 1;
    loom__streams_remember(&t, 9, ST_CLOSED);
    assert_int_equal(loom__streams_gone_state(&t, 9, 0), ST_CLOSED_UNKNOWN);
    cnt.fail_at = 0;
    loom__streams_remember(&t, 9, ST_CLOSED);
    assert_int_equal(loom__streams_gone_state(&t, 9, 0), ST_CLOSED);
    loom__streams_free(&t);
    assert_int_equal(cnt.live, 0);
}

/* The ring of closed streams: at most max_closed, the oldest forgotten. */
static void test_closed_ring(void **state)
{
    (void)state;
    counting cnt = {0};
    loom_mem m = counting_mem(&cnt);
    stream_store t;
    enum { MAX = 5 };
    loom__streams_init(&t, MAX, &m);
    assert_int_equal(loom__streams_gone_state(&t, 1, 0), ST_CLOSED_UNKNOWN); /* empty */
    assert_int_equal(loom__streams_gone_state(&t, 1, 1), ST_IDLE);
    assert_int_equal(cnt.calls, 0); /* nothing allocated before the first */

    /* 1, 3, 5, ...: odd ones closed normally, every third reset by us */
    for (int32_t k = 0; k < 40; k++) {
        int32_t id = 2 * k + 1;
        uint8_t how = k % 3 == 0 ? ST_CLOSED_IGNORED : ST_CLOSED;
        loom__streams_remember(&t, id, how);
        assert_int_equal(t.nclosed, k + 1 < MAX ? k + 1 : MAX);
        for (int32_t j = 0; j <= k; j++) {
            uint8_t want = ST_CLOSED_UNKNOWN;
            if (k - j < MAX) want = j % 3 == 0 ? ST_CLOSED_IGNORED : ST_CLOSED;
            uint8_t got = loom__streams_gone_state(&t, 2 * j + 1, 0);
            if (got != want)
                fail_msg("after remembering %d: stream %d is %s, want %s", id, 2 * j + 1,
                         loom__stream_state_name(got), loom__stream_state_name(want));
            /* an idle id is idle whatever the ring says */
            assert_int_equal(loom__streams_gone_state(&t, 2 * j + 1, 1), ST_IDLE);
        }
        /* never remembered */
        assert_int_equal(loom__streams_gone_state(&t, 1000, 0), ST_CLOSED_UNKNOWN);
    }
    assert_int_equal(cnt.live, MAX * sizeof(*t.closed)); /* one allocation, bounded */
    loom__streams_free(&t);
    assert_int_equal(cnt.live, 0);

    /* max_closed 0: nothing remembered, nothing allocated */
    loom__streams_init(&t, 0, &m);
    loom__streams_remember(&t, 1, ST_CLOSED);
    assert_int_equal(loom__streams_gone_state(&t, 1, 0), ST_CLOSED_UNKNOWN);
    assert_int_equal(cnt.live, 0);
    loom__streams_free(&t);
}

/* The store alongside its ring, as the engine uses them: streams come and
 * go, each remembered as it leaves; the whole is freed. */
static void test_store_and_ring_churn(void **state)
{
    (void)state;
    counting cnt = {0};
    loom_mem m = counting_mem(&cnt);
    stream_store t;
    loom__streams_init(&t, 128, &m);
    for (int32_t id = 1; id < 20001; id += 2) {
        stream *s = loom__streams_new(&t, id, ST_OPEN);
        assert_non_null(s);
        if (id > 200) {
            stream *old = loom__streams_find(&t, id - 200);
            assert_non_null(old);
            loom__streams_remove(&t, old);
            loom__streams_remember(&t, id - 200, ST_CLOSED);
        }
        assert_true(t.n <= 100);
    }
    assert_int_equal(t.n, 100);
    /* the last 128 closed are remembered, the one before is not */
    assert_int_equal(loom__streams_gone_state(&t, 19801 - 2, 0), ST_CLOSED);
    assert_int_equal(loom__streams_gone_state(&t, 19801 - 2 * 128, 0), ST_CLOSED);
    assert_int_equal(loom__streams_gone_state(&t, 19801 - 2 * 129, 0), ST_CLOSED_UNKNOWN);
    /* bounded memory: the objects of at most 101 streams were ever made */
    assert_true(cnt.live < 101 * sizeof(stream) + 256 * sizeof(stream *) + 128 * 8 + 1);
    loom__streams_free(&t);
    assert_int_equal(cnt.live, 0);
}

/* KNOWN FAILURE (lib/stream.c): an id remembered twice is looked up as
 * its oldest memory, not its newest. recv.c's stream_error() remembers a
 * stream it reset as ST_CLOSED_IGNORED even when the ring already holds it
 * as ST_CLOSED, and the older entry keeps winning. */
static void test_ring_newest_memory_wins(void **state)
{
    (void)state;
    counting cnt = {0};
    loom_mem m = counting_mem(&cnt);
    stream_store t;
    loom__streams_init(&t, 8, &m);
    loom__streams_remember(&t, 5, ST_CLOSED);
    loom__streams_remember(&t, 5, ST_CLOSED_IGNORED);
    uint8_t got = loom__streams_gone_state(&t, 5, 0);
    loom__streams_free(&t);
    assert_int_equal(cnt.live, 0);
    assert_int_equal(got, ST_CLOSED_IGNORED); /* loom: ST_CLOSED */
}

static int no_events(loom_conn *c, const loom_event *ev, void *user)
{
    (void)c;
    (void)ev;
    (void)user;
    return 0;
}

/* KNOWN FAILURE, through the engine: RFC 9113 §5.1 (closed) "An endpoint
 * MUST ignore frames that it receives on closed streams after it has sent
 * a RST_STREAM frame". A stream ends normally; the peer sends DATA on it:
 * RST_STREAM STREAM_CLOSED (§6.1), right. It sends DATA again: that one
 * must be ignored, but loom answers with a second RST_STREAM. */
static void test_data_after_our_rst_on_closed_stream_ignored(void **state)
{
    (void)state;
    static frames fr;
    wire in = {0}, out = {0};
    loom_conn *c = loom_conn_new(LOOM_SERVER, NULL, no_events, NULL);
    assert_non_null(c);
    w_preface(&in, NULL, 0);
    w_request(&in, 1, 0, 1);
    assert_int_equal(w_feed(&in, c), 0);
    loom_hpack_field st200 = {(const uint8_t *)":status", 7, (const uint8_t *)"200", 3, 0};
    assert_int_equal(loom_respond(c, 1, &st200, 1, NULL), 0);
    collect(c, &out);
    assert_null(loom__streams_find(&c->streams, 1)); /* closed, remembered */

    w_data(&in, 1, 10, -1, 0, 'x');
    assert_int_equal(w_feed(&in, c), 0);
    out.n = 0;
    collect(c, &out);
    parse_frames(out.b, out.n, &fr);
    assert_int_equal(count_frames(&fr, 0x3, 1), 1);
    assert_int_equal(find_frame(&fr, 0x3, 1)->value, LOOM_H2_STREAM_CLOSED);

    w_data(&in, 1, 10, -1, 0, 'x');
    assert_int_equal(w_feed(&in, c), 0);
    out.n = 0;
    collect(c, &out);
    parse_frames(out.b, out.n, &fr);
    size_t resets = count_frames(&fr, 0x3, 1);
    free(in.b);
    free(out.b);
    loom_conn_free(c);
    assert_int_equal(resets, 0); /* loom: a second RST_STREAM */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expectation_well_formed),
        cmocka_unit_test(test_transition_table_exhaustive),
        cmocka_unit_test(test_apply_moves_only_when_allowed),
        cmocka_unit_test(test_lifecycles),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_store_many_ids),
        cmocka_unit_test(test_store_reuses_freed),
        cmocka_unit_test(test_store_out_of_memory),
        cmocka_unit_test(test_closed_ring),
        cmocka_unit_test(test_store_and_ring_churn),
        cmocka_unit_test(test_ring_newest_memory_wins),
        cmocka_unit_test(test_data_after_our_rst_on_closed_stream_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
