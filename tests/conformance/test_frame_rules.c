/* RFC 9113 §4 and §6 (and RFC 9218 §7.1, RFC 8441 §3) rules a frame parser
 * checks on its own: each crafted frame yields its exact error code and
 * scope. One case per rule, named by section. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loom/frame.h"

typedef struct {
    const char *name;
    uint8_t bytes[64];
    size_t len;
    int err; /* 0: the frame is accepted */
    loom_scope scope;
    uint32_t stream_id;
} rule_case;

#define HD(len, type, flags, sid)                                                                  \
    0, 0, (len), (type), (flags), (uint8_t)((sid) >> 24), (uint8_t)((sid) >> 16),                  \
        (uint8_t)((sid) >> 8), (uint8_t)(sid)
#define CONN(e)      (e), LOOM_SCOPE_CONNECTION, 0
#define STREAM(e, s) (e), LOOM_SCOPE_STREAM, (s)
#define OK           0, LOOM_SCOPE_CONNECTION, 0

/* settings entry */
#define SET(id, v)                                                                                 \
    0, (id), (uint8_t)((uint32_t)(v) >> 24), (uint8_t)((uint32_t)(v) >> 16),                       \
        (uint8_t)((uint32_t)(v) >> 8), (uint8_t)(v)

static const rule_case cases[] = {
    {"6.1 DATA on stream 0", {HD(1, 0, 0, 0), 'x'}, 10, CONN(LOOM_ERR_PROTOCOL)},
    {"6.1 DATA pad length equal to the payload length",
     {HD(3, 0, 8, 1), 3, 0, 0},
     12,
     CONN(LOOM_ERR_PROTOCOL)},
    {"6.1 DATA pad length past the payload",
     {HD(3, 0, 8, 1), 9, 0, 0},
     12,
     CONN(LOOM_ERR_PROTOCOL)},
    {"6.1 DATA padded with no room for Pad Length", {HD(0, 0, 8, 1)}, 9, CONN(LOOM_ERR_FRAME_SIZE)},
    {"6.1 DATA padding fills all but the Pad Length", {HD(3, 0, 8, 1), 2, 0, 0}, 12, OK},
    {"6.1 DATA pad length one less than the payload", {HD(3, 0, 8, 1), 1, 'a', 0}, 12, OK},
    {"6.2 HEADERS on stream 0", {HD(1, 1, 4, 0), 0x82}, 10, CONN(LOOM_ERR_PROTOCOL)},
    {"6.2 HEADERS pad length past the payload",
     {HD(2, 1, 0x0c, 1), 5, 0x82},
     11,
     CONN(LOOM_ERR_PROTOCOL)},
    {"6.2 HEADERS too short for priority fields",
     {HD(4, 1, 0x24, 1), 0, 0, 0, 0},
     13,
     CONN(LOOM_ERR_FRAME_SIZE)},
    {"5.3.1 HEADERS depends on itself",
     {HD(6, 1, 0x24, 3), 0, 0, 0, 3, 15, 0x82},
     15,
     STREAM(LOOM_ERR_PROTOCOL, 3)},
    {"6.3 PRIORITY on stream 0", {HD(5, 2, 0, 0), 0, 0, 0, 1, 15}, 14, CONN(LOOM_ERR_PROTOCOL)},
    {"6.3 PRIORITY length 4", {HD(4, 2, 0, 1), 0, 0, 0, 3}, 13, STREAM(LOOM_ERR_FRAME_SIZE, 1)},
    {"6.3 PRIORITY length 6",
     {HD(6, 2, 0, 5), 0, 0, 0, 3, 1, 1},
     15,
     STREAM(LOOM_ERR_FRAME_SIZE, 5)},
    {"5.3.1 PRIORITY depends on itself",
     {HD(5, 2, 0, 7), 0x80, 0, 0, 7, 15},
     14,
     STREAM(LOOM_ERR_PROTOCOL, 7)},
    {"6.4 RST_STREAM on stream 0", {HD(4, 3, 0, 0), 0, 0, 0, 8}, 13, CONN(LOOM_ERR_PROTOCOL)},
    {"6.4 RST_STREAM length 3", {HD(3, 3, 0, 1), 0, 0, 8}, 12, CONN(LOOM_ERR_FRAME_SIZE)},
    {"6.4 RST_STREAM length 5", {HD(5, 3, 0, 1), 0, 0, 0, 8, 0}, 14, CONN(LOOM_ERR_FRAME_SIZE)},
    {"6.5 SETTINGS on a stream", {HD(0, 4, 0, 1)}, 9, CONN(LOOM_ERR_PROTOCOL)},
    {"6.5 SETTINGS ACK with a payload",
     {HD(6, 4, 1, 0), SET(3, 100)},
     15,
     CONN(LOOM_ERR_FRAME_SIZE)},
    {"6.5 SETTINGS length not a multiple of 6",
     {HD(5, 4, 0, 0), 0, 3, 0, 0, 0},
     14,
     CONN(LOOM_ERR_FRAME_SIZE)},
    {"6.5.2 ENABLE_PUSH 2", {HD(6, 4, 0, 0), SET(2, 2)}, 15, CONN(LOOM_ERR_PROTOCOL)},
    {"6.5.2 ENABLE_PUSH 1 accepted", {HD(6, 4, 0, 0), SET(2, 1)}, 15, OK},
    {"6.5.2 INITIAL_WINDOW_SIZE 2^31",
     {HD(6, 4, 0, 0), SET(4, 0x80000000u)},
     15,
     CONN(LOOM_ERR_FLOW_CONTROL)},
    {"6.5.2 INITIAL_WINDOW_SIZE 2^31-1 accepted", {HD(6, 4, 0, 0), SET(4, 0x7fffffff)}, 15, OK},
    {"6.5.2 MAX_FRAME_SIZE 16383", {HD(6, 4, 0, 0), SET(5, 16383)}, 15, CONN(LOOM_ERR_PROTOCOL)},
    {"6.5.2 MAX_FRAME_SIZE 2^24", {HD(6, 4, 0, 0), SET(5, 16777216)}, 15, CONN(LOOM_ERR_PROTOCOL)},
    {"6.5.2 MAX_FRAME_SIZE bounds accepted",
     {HD(12, 4, 0, 0), SET(5, 16384), SET(5, 16777215)},
     21,
     OK},
    {"6.5.2 unknown setting ignored", {HD(6, 4, 0, 0), SET(0x77, 0xffffffff)}, 15, OK},
    {"RFC 8441 §3 ENABLE_CONNECT_PROTOCOL 2",
     {HD(6, 4, 0, 0), SET(8, 2)},
     15,
     CONN(LOOM_ERR_PROTOCOL)},
    {"RFC 9218 §2.1 NO_RFC7540_PRIORITIES 2",
     {HD(6, 4, 0, 0), SET(9, 2)},
     15,
     CONN(LOOM_ERR_PROTOCOL)},
    {"6.6 PUSH_PROMISE on stream 0", {HD(4, 5, 4, 0), 0, 0, 0, 2}, 13, CONN(LOOM_ERR_PROTOCOL)},
    {"6.6 PUSH_PROMISE without a promised id",
     {HD(3, 5, 4, 1), 0, 0, 2},
     12,
     CONN(LOOM_ERR_FRAME_SIZE)},
    {"6.6 PUSH_PROMISE pad length past the payload",
     {HD(5, 5, 0x0c, 1), 1, 0, 0, 0, 2},
     14,
     CONN(LOOM_ERR_FRAME_SIZE)},
    {"6.6 PUSH_PROMISE padding swallows everything",
     {HD(5, 5, 0x0c, 1), 5, 0, 0, 0, 2},
     14,
     CONN(LOOM_ERR_PROTOCOL)},
    {"6.7 PING on a stream", {HD(8, 6, 0, 1), 1, 2, 3, 4, 5, 6, 7, 8}, 17, CONN(LOOM_ERR_PROTOCOL)},
    {"6.7 PING length 7", {HD(7, 6, 0, 0), 1, 2, 3, 4, 5, 6, 7}, 16, CONN(LOOM_ERR_FRAME_SIZE)},
    {"6.7 PING length 9",
     {HD(9, 6, 0, 0), 1, 2, 3, 4, 5, 6, 7, 8, 9},
     18,
     CONN(LOOM_ERR_FRAME_SIZE)},
    {"6.8 GOAWAY on a stream",
     {HD(8, 7, 0, 1), 0, 0, 0, 0, 0, 0, 0, 0},
     17,
     CONN(LOOM_ERR_PROTOCOL)},
    {"6.8 GOAWAY length 7", {HD(7, 7, 0, 0), 0, 0, 0, 0, 0, 0, 0}, 16, CONN(LOOM_ERR_FRAME_SIZE)},
    {"6.9 WINDOW_UPDATE length 3", {HD(3, 8, 0, 0), 0, 0, 1}, 12, CONN(LOOM_ERR_FRAME_SIZE)},
    {"6.9 WINDOW_UPDATE length 5 on a stream",
     {HD(5, 8, 0, 1), 0, 0, 0, 1, 0},
     14,
     CONN(LOOM_ERR_FRAME_SIZE)},
    {"6.9 WINDOW_UPDATE 0 on the connection",
     {HD(4, 8, 0, 0), 0, 0, 0, 0},
     13,
     CONN(LOOM_ERR_PROTOCOL)},
    {"6.9 WINDOW_UPDATE 0 on a stream",
     {HD(4, 8, 0, 9), 0, 0, 0, 0},
     13,
     STREAM(LOOM_ERR_PROTOCOL, 9)},
    {"6.9 WINDOW_UPDATE reserved bit only is 0",
     {HD(4, 8, 0, 9), 0x80, 0, 0, 0},
     13,
     STREAM(LOOM_ERR_PROTOCOL, 9)},
    {"6.10 CONTINUATION on stream 0", {HD(1, 9, 4, 0), 0x82}, 10, CONN(LOOM_ERR_PROTOCOL)},
    {"RFC 9218 §7.1 PRIORITY_UPDATE on a stream",
     {HD(5, 0x10, 0, 1), 0, 0, 0, 1, 'i'},
     14,
     CONN(LOOM_ERR_PROTOCOL)},
    {"RFC 9218 §7.1 PRIORITY_UPDATE length 3",
     {HD(3, 0x10, 0, 0), 0, 0, 1},
     12,
     CONN(LOOM_ERR_FRAME_SIZE)},
    {"RFC 9218 §7.1 PRIORITY_UPDATE for stream 0",
     {HD(5, 0x10, 0, 0), 0, 0, 0, 0, 'i'},
     14,
     CONN(LOOM_ERR_PROTOCOL)},
    {"RFC 8336 §2.1 ORIGIN on a stream is ignored", {HD(2, 0x0c, 0, 3), 0, 0}, 11, OK},
    {"4.1 unknown type is ignored", {HD(2, 0xbb, 0xff, 3), 1, 2}, 11, OK},
    {"4.1 unknown type on stream 0 is ignored", {HD(0, 0x20, 0, 0)}, 9, OK},
    {"4.2 frame above SETTINGS_MAX_FRAME_SIZE",
     {0, 0x40, 0x01, 0, 0, 0, 0, 0, 1},
     9,
     CONN(LOOM_ERR_FRAME_SIZE)},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* One row of cases[], the cmocka state of its case. */
static void test_rule(void **state)
{
    const rule_case *c = *state;
    /* an exact-size heap copy: ASan catches any read past the frame */
    uint8_t *in = malloc(c->len);
    memcpy(in, c->bytes, c->len);
    loom_frame f;
    loom_frame_error e = {0, 0, 0, NULL};
    int rc = loom_frame_parse(in, c->len, LOOM_MAX_FRAME_SIZE_MIN, &f, &e);
    print_message("  %-50s -> %d %s\n", c->name, rc, rc < 0 ? e.reason : "");
    if (c->err == 0) {
        assert_int_equal(rc, (int)c->len);
    } else {
        assert_int_equal(rc, c->err);
        assert_int_equal(e.err, c->err);
        assert_int_equal(e.scope, c->scope);
        assert_int_equal(e.stream_id, c->stream_id);
        assert_non_null(e.reason);
        assert_non_null(strstr(e.reason, "RFC"));
    }
    free(in);
}

/* Each row is its own case, named by the row, so that one failure does not
 * hide the others. */
int main(void)
{
    struct CMUnitTest tests[NCASES];
    for (size_t i = 0; i < NCASES; i++)
        tests[i] = (struct CMUnitTest){
            .name = cases[i].name, .test_func = test_rule, .initial_state = (void *)&cases[i]};
    return cmocka_run_group_tests_name("RFC 9113 frame rules", tests, NULL, NULL);
}
