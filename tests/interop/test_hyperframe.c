/* Byte-exact agreement with Python's hyperframe: for frames of every type
 * generated at test time by tests/interop/hyperframe_ref.py, loom writes the
 * same bytes hyperframe wrote, and parses hyperframe's bytes back to the
 * same fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loom/frame.h"

#define MAX_LINE (1 << 16)

typedef struct {
    char *key[32], *val[32];
    int n;
} fields;

static const char *get(const fields *fs, const char *key)
{
    for (int i = 0; i < fs->n; i++)
        if (!strcmp(fs->key[i], key)) return fs->val[i];
    fail_msg("field %s missing", key);
    return NULL;
}

static unsigned long long num(const fields *fs, const char *key)
{
    return strtoull(get(fs, key), NULL, 10);
}

/* Decodes hex into a new buffer (freed by the caller). */
static uint8_t *hex(const char *s, size_t *n)
{
    size_t len = strlen(s);
    assert_int_equal(len % 2, 0);
    uint8_t *out = malloc(len / 2 + 1);
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v;
        assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    *n = len / 2;
    return out;
}

static int type_of(const char *name, const fields *fs)
{
    static const char *names[] = {"DATA",          "HEADERS",      "PRIORITY", "RST_STREAM",
                                  "SETTINGS",      "PUSH_PROMISE", "PING",     "GOAWAY",
                                  "WINDOW_UPDATE", "CONTINUATION"};
    for (int i = 0; i < 10; i++)
        if (!strcmp(name, names[i])) return i;
    return (int)num(fs, "type"); /* written with hyperframe's ExtensionFrame */
}

static int checked_lines, checked_types[256];

static void check_line(char *line)
{
    fields fs = {.n = 0};
    char *save, *kind = strtok_r(line, " \n", &save);
    for (char *tok; (tok = strtok_r(NULL, " \n", &save));) {
        char *eq = strchr(tok, '=');
        assert_non_null(eq);
        *eq = 0;
        fs.key[fs.n] = tok;
        fs.val[fs.n++] = eq + 1;
    }

    /* The frame as hyperframe was told it. */
    loom_frame f;
    memset(&f, 0, sizeof(f));
    f.hd.type = (uint8_t)type_of(kind, &fs);
    f.hd.flags = (uint8_t)num(&fs, "flags");
    f.hd.stream_id = (uint32_t)num(&fs, "sid");
    size_t n1 = 0, n2 = 0;
    uint8_t *b1 = NULL, *b2 = NULL;
    loom_setting list[16];
    if (f.hd.flags & LOOM_FLAG_PADDED && f.hd.type <= LOOM_FRAME_PUSH_PROMISE)
        f.pad_len = (uint8_t)num(&fs, "pad");
    switch (f.hd.type) {
    case LOOM_FRAME_DATA:
        f.u.data.data = b1 = hex(get(&fs, "data"), &n1);
        f.u.data.len = n1;
        break;
    case LOOM_FRAME_HEADERS:
        f.u.headers.block = b1 = hex(get(&fs, "block"), &n1);
        f.u.headers.len = n1;
        if (f.hd.flags & LOOM_FLAG_PRIORITY)
            f.u.headers.pri = (loom_priority_spec){
                (uint32_t)num(&fs, "dep"), (uint16_t)num(&fs, "weight"), (uint8_t)num(&fs, "excl")};
        break;
    case LOOM_FRAME_PRIORITY:
        f.u.priority = (loom_priority_spec){(uint32_t)num(&fs, "dep"), (uint16_t)num(&fs, "weight"),
                                            (uint8_t)num(&fs, "excl")};
        break;
    case LOOM_FRAME_RST_STREAM: f.u.rst_stream.error_code = (uint32_t)num(&fs, "code"); break;
    case LOOM_FRAME_SETTINGS: {
        const char *s = get(&fs, "settings");
        size_t k = 0;
        while (*s && *s != '-') {
            unsigned id;
            unsigned long v;
            int used;
            assert_int_equal(sscanf(s, "%u:%lu%n", &id, &v, &used), 2);
            list[k++] = (loom_setting){(uint16_t)id, (uint32_t)v};
            s += used;
            if (*s == ',') s++;
        }
        f.u.settings.list = list;
        f.u.settings.count = k;
        break;
    }
    case LOOM_FRAME_PUSH_PROMISE:
        f.u.push_promise.promised_id = (uint32_t)num(&fs, "promised");
        f.u.push_promise.block = b1 = hex(get(&fs, "block"), &n1);
        f.u.push_promise.len = n1;
        break;
    case LOOM_FRAME_PING:
        b1 = hex(get(&fs, "opaque"), &n1);
        assert_int_equal(n1, 8);
        memcpy(f.u.ping.opaque, b1, 8);
        break;
    case LOOM_FRAME_GOAWAY:
        f.u.goaway.last_stream_id = (uint32_t)num(&fs, "last");
        f.u.goaway.error_code = (uint32_t)num(&fs, "code");
        f.u.goaway.debug = b1 = hex(get(&fs, "debug"), &n1);
        f.u.goaway.debug_len = n1;
        break;
    case LOOM_FRAME_WINDOW_UPDATE: f.u.window_update.increment = (uint32_t)num(&fs, "inc"); break;
    case LOOM_FRAME_CONTINUATION:
        f.u.continuation.block = b1 = hex(get(&fs, "block"), &n1);
        f.u.continuation.len = n1;
        break;
    case LOOM_FRAME_PRIORITY_UPDATE:
        f.u.priority_update.stream_id = (uint32_t)num(&fs, "psid");
        f.u.priority_update.value = b1 = hex(get(&fs, "value"), &n1);
        f.u.priority_update.len = n1;
        break;
    case LOOM_FRAME_ORIGIN:
        f.u.origin.entries = b1 = hex(get(&fs, "entries"), &n1);
        f.u.origin.len = n1;
        break;
    default:
        f.u.raw.payload = b1 = hex(get(&fs, "payload"), &n1);
        f.u.raw.len = n1;
        break;
    }
    size_t wn;
    uint8_t *wire = hex(get(&fs, "wire"), &wn);

    /* 1. loom writes the same bytes. */
    uint8_t *out = malloc(wn + 16);
    int rc = loom_frame_pack(&f, out, wn + 16);
    if (rc != (int)wn || memcmp(out, wire, wn) != 0)
        fail_msg("%s: loom wrote %d bytes, hyperframe %zu, or they differ", kind, rc, wn);

    /* 2. loom parses hyperframe's bytes to the same fields. */
    loom_frame r;
    loom_frame_error e;
    rc = loom_frame_parse(wire, wn, LOOM_MAX_FRAME_SIZE_MAX, &r, &e);
    if (rc != (int)wn) fail_msg("%s: parse returned %d (%s)", kind, rc, rc < 0 ? e.reason : "");
    assert_int_equal(r.hd.type, f.hd.type);
    assert_int_equal(r.hd.flags, f.hd.flags);
    assert_int_equal(r.hd.stream_id, f.hd.stream_id);
    assert_int_equal(r.pad_len, f.pad_len);
    /* Re-writing what was parsed gives the same bytes again: every field the
     * parser returned is the one hyperframe wrote. */
    b2 = malloc(wn + 16);
    n2 = (size_t)loom_frame_pack(&r, b2, wn + 16);
    assert_int_equal(n2, wn);
    assert_memory_equal(b2, wire, wn);
    switch (f.hd.type) {
    case LOOM_FRAME_SETTINGS:
        assert_int_equal(r.u.settings.count, f.u.settings.count);
        for (size_t i = 0; i < r.u.settings.count; i++) {
            assert_int_equal(loom_frame_setting(&r, i).id, list[i].id);
            assert_int_equal(loom_frame_setting(&r, i).value, list[i].value);
        }
        break;
    case LOOM_FRAME_HEADERS:
        assert_int_equal(r.u.headers.len, n1);
        if (f.hd.flags & LOOM_FLAG_PRIORITY) {
            assert_int_equal(r.u.headers.pri.weight, f.u.headers.pri.weight);
            assert_int_equal(r.u.headers.pri.depends_on, f.u.headers.pri.depends_on);
            assert_int_equal(r.u.headers.pri.exclusive, f.u.headers.pri.exclusive);
        }
        break;
    case LOOM_FRAME_PRIORITY:
        assert_int_equal(r.u.priority.weight, f.u.priority.weight);
        assert_int_equal(r.u.priority.depends_on, f.u.priority.depends_on);
        assert_int_equal(r.u.priority.exclusive, f.u.priority.exclusive);
        break;
    case LOOM_FRAME_DATA: assert_int_equal(r.u.data.len, n1); break;
    case LOOM_FRAME_PUSH_PROMISE:
        assert_int_equal(r.u.push_promise.promised_id, f.u.push_promise.promised_id);
        break;
    case LOOM_FRAME_GOAWAY:
        assert_int_equal(r.u.goaway.last_stream_id, f.u.goaway.last_stream_id);
        assert_int_equal(r.u.goaway.error_code, f.u.goaway.error_code);
        break;
    case LOOM_FRAME_WINDOW_UPDATE:
        assert_int_equal(r.u.window_update.increment, f.u.window_update.increment);
        break;
    case LOOM_FRAME_PRIORITY_UPDATE:
        assert_int_equal(r.u.priority_update.stream_id, f.u.priority_update.stream_id);
        break;
    default: break;
    }
    if (f.hd.type != LOOM_FRAME_ORIGIN && f.hd.type > LOOM_FRAME_CONTINUATION &&
        f.hd.type != LOOM_FRAME_PRIORITY_UPDATE)
        assert_true(r.ignore);
    checked_lines++;
    checked_types[f.hd.type]++;
    free(b1);
    free(b2);
    free(out);
    free(wire);
}

static void test_against_hyperframe(void **state)
{
    (void)state;
    const char *py = getenv("LOOM_PYTHON") ? getenv("LOOM_PYTHON") : "/usr/bin/python3";
    char *line = malloc(MAX_LINE);
    for (int seed = 1; seed <= 3; seed++) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd), "%s %s/tests/interop/hyperframe_ref.py %d", py, LOOM_SOURCE_DIR,
                 seed);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        while (fgets(line, MAX_LINE, p))
            check_line(line);
        assert_int_equal(pclose(p), 0); /* hyperframe ran and finished cleanly */
    }
    free(line);
    print_message("  %d frames agree with hyperframe\n", checked_lines);
    /* every type was exercised, several times */
    for (int t = 0; t <= LOOM_FRAME_CONTINUATION; t++)
        assert_true(checked_types[t] >= 100);
    assert_true(checked_types[LOOM_FRAME_PRIORITY_UPDATE] >= 100);
    assert_true(checked_types[LOOM_FRAME_ORIGIN] >= 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_against_hyperframe)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
