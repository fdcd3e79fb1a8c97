/* The ABI promises of include/loom/: a configuration that grows without
 * breaking callers built against an older or newer layout, and the error
 * list (one X-macro: enum, loom_strerror, loom_errname). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loom/loom.h"

/* The first versioned layout (0.2): every field up to `mem`. */
#define SIZE_0_2 (offsetof(loom_config, mem) + sizeof(((loom_config *)0)->mem))

static void test_default_sets_size(void **state)
{
    (void)state;
    loom_config c;
    memset(&c, 0xab, sizeof(c));
    loom_config_default(&c, LOOM_SERVER);
    assert_int_equal(c.size, sizeof(c));
    assert_int_equal(c.header_table_size, 4096);
    assert_int_equal(c.max_concurrent_streams, 100);
    assert_null(c.mem);
    assert_int_equal(loom_config_check(&c, LOOM_SERVER), 0);
    loom_conn *conn = loom_conn_new(LOOM_SERVER, &c, NULL, NULL);
    assert_non_null(conn);
    loom_conn_free(conn);
}

static int frame_events;
static int count_frames(loom_conn *c, const loom_event *ev, void *user)
{
    (void)c;
    (void)user;
    frame_events += ev->type == LOOM_EV_FRAME;
    return 0;
}

/* A caller built against the 0.2 layout (up to `mem`): its fields are
 * taken, the later ones (no_frame_events) get their defaults whatever
 * lies in its memory past its size. */
static void test_older_layout(void **state)
{
    (void)state;
    assert_true(SIZE_0_2 < sizeof(loom_config)); /* fields were added since */
    loom_config full;
    loom_config_default(&full, LOOM_CLIENT);
    /* what an older program holds: only SIZE_0_2 octets, then its own data */
    unsigned char mem[sizeof(loom_config) + 64];
    memset(mem, 0x5a, sizeof(mem));
    loom_config *old = (loom_config *)(void *)mem;
    assert_int_equal(loom_config_init(old, SIZE_0_2, LOOM_CLIENT), 0);
    for (size_t i = SIZE_0_2; i < sizeof(mem); i++) /* init wrote nothing past its size */
        assert_int_equal(mem[i], 0x5a);
    old->max_concurrent_streams = 7;
    assert_int_equal(loom_config_check(old, LOOM_CLIENT), 0);
    /* 0x5a past its size would read as no_frame_events = 0x5a: it must not */
    frame_events = 0;
    loom_conn *c = loom_conn_new(LOOM_CLIENT, old, count_frames, NULL);
    assert_non_null(c);
    assert_true(frame_events > 0); /* the preface's SETTINGS was traced: the default */
    loom_conn_free(c);
    /* the same through the whole layout, asking for no frame events */
    loom_config now;
    loom_config_default(&now, LOOM_CLIENT);
    now.no_frame_events = 1;
    frame_events = 0;
    c = loom_conn_new(LOOM_CLIENT, &now, count_frames, NULL);
    assert_non_null(c);
    assert_int_equal(frame_events, 0);
    loom_conn_free(c);
}

/* A caller built against a newer, larger layout: taken while the fields
 * this library does not know are zero (their defaults), refused cleanly
 * when one is set. */
static void test_newer_layout(void **state)
{
    (void)state;
    struct {
        loom_config base;
        uint64_t future[4];
    } newer;
    memset(&newer, 0, sizeof(newer));
    assert_int_equal(loom_config_init(&newer.base, sizeof(newer), LOOM_SERVER), 0);
    assert_int_equal(newer.base.size, sizeof(newer));
    for (int i = 0; i < 4; i++)
        assert_int_equal(newer.future[i], 0); /* zeroed by init */
    assert_int_equal(loom_config_check(&newer.base, LOOM_SERVER), 0);
    loom_conn *c = loom_conn_new(LOOM_SERVER, &newer.base, NULL, NULL);
    assert_non_null(c);
    loom_conn_free(c);
    newer.future[2] = 1; /* an option this library cannot honour */
    assert_int_equal(loom_config_check(&newer.base, LOOM_SERVER), LOOM_ERR_VERSION);
    assert_null(loom_conn_new(LOOM_SERVER, &newer.base, NULL, NULL));
}

static void test_bad_layouts_refused(void **state)
{
    (void)state;
    loom_config c;
    loom_config_default(&c, LOOM_SERVER);
    c.size = 0; /* a caller that never called loom_config_default() */
    assert_int_equal(loom_config_check(&c, LOOM_SERVER), LOOM_ERR_VERSION);
    assert_null(loom_conn_new(LOOM_SERVER, &c, NULL, NULL));
    c.size = (uint32_t)SIZE_0_2 - 1;
    assert_int_equal(loom_config_check(&c, LOOM_SERVER), LOOM_ERR_VERSION);
    assert_int_equal(loom_config_init(&c, SIZE_0_2 - 1, LOOM_SERVER), LOOM_ERR_VERSION);
    /* values out of range are LOOM_ERR_INVALID, not a version problem */
    loom_config_default(&c, LOOM_SERVER);
    c.max_frame_size = 100;
    assert_int_equal(loom_config_check(&c, LOOM_SERVER), LOOM_ERR_INVALID);
    assert_null(loom_conn_new(LOOM_SERVER, &c, NULL, NULL));
    /* NULL: the defaults */
    assert_int_equal(loom_config_check(NULL, LOOM_SERVER), 0);
}

/* ---- errors ---- */

static const struct {
    int err;
    const char *name;
} all_errors[] = {
#define XX(name, value, text) {LOOM_ERR_##name, #name},
    LOOM_ERRNO_MAP(XX)
#undef XX
};

static void test_error_names(void **state)
{
    (void)state;
    size_t n = sizeof(all_errors) / sizeof(all_errors[0]);
    assert_true(n >= 20);
    for (size_t i = 0; i < n; i++) {
        int e = all_errors[i].err;
        assert_true(e < 0);
        assert_string_equal(loom_errname(e), all_errors[i].name);
        assert_string_not_equal(loom_strerror(e), "unknown error");
        for (size_t k = 0; k < i; k++) { /* values and texts are distinct */
            assert_int_not_equal(all_errors[k].err, e);
            assert_string_not_equal(loom_strerror(all_errors[k].err), loom_strerror(e));
        }
    }
    assert_string_equal(loom_errname(0), "OK");
    assert_string_equal(loom_strerror(0), "success");
    assert_string_equal(loom_errname(-12345), "UNKNOWN");
    assert_string_equal(loom_strerror(-12345), "unknown error");
    assert_string_equal(loom_errname(LOOM_ERR_FLOW_CONTROL), "FLOW_CONTROL");
    assert_string_equal(loom_errname(LOOM_ERR_NOMEM), "NOMEM");
}

/* Protocol errors map to their RFC 9113 §7 code; the others are sent as
 * INTERNAL_ERROR. */
static void test_h2_codes(void **state)
{
    (void)state;
    assert_int_equal(loom_err_h2_code(LOOM_ERR_PROTOCOL), LOOM_H2_PROTOCOL_ERROR);
    assert_int_equal(loom_err_h2_code(LOOM_ERR_ENHANCE_YOUR_CALM), LOOM_H2_ENHANCE_YOUR_CALM);
    assert_int_equal(loom_err_h2_code(LOOM_ERR_HTTP_1_1_REQUIRED), LOOM_H2_HTTP_1_1_REQUIRED);
    assert_int_equal(loom_err_h2_code(LOOM_ERR_NOMEM), LOOM_H2_INTERNAL_ERROR);
    assert_int_equal(loom_err_h2_code(LOOM_ERR_VERSION), LOOM_H2_INTERNAL_ERROR);
    assert_int_equal(loom_err_h2_code(LOOM_ERR_H2_BASE - 0x40), LOOM_H2_INTERNAL_ERROR);
    for (uint32_t code = 1; code <= LOOM_H2_HTTP_1_1_REQUIRED; code++) {
        int e = LOOM_ERR_H2_BASE - (int)code;
        assert_int_equal(loom_err_h2_code(e), code);
        /* the name of the error contains the name of its wire code's stem */
        assert_string_not_equal(loom_errname(e), "UNKNOWN");
    }
    assert_string_equal(loom_h2_code_name(LOOM_H2_REFUSED_STREAM), "REFUSED_STREAM");
    assert_string_equal(loom_h2_code_name(0xff), "UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_sets_size), cmocka_unit_test(test_older_layout),
        cmocka_unit_test(test_newer_layout),      cmocka_unit_test(test_bad_layouts_refused),
        cmocka_unit_test(test_error_names),       cmocka_unit_test(test_h2_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
