/* libFuzzer harness for the connection engine: a server engine and a client
 * engine, each brought past a valid preface, then fed the fuzzer's bytes as
 * the peer's frames. The first input byte picks the role and a few limits.
 * Whatever the input: no crash, no leak, bounded output, and after a
 * connection error nothing more is processed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "loom/loom.h"

typedef struct {
    int errors;
    size_t events;
} state;

static int on_event(loom_conn *c, const loom_event *ev, void *user)
{
    state *s = user;
    s->events++;
    if (ev->type == LOOM_EV_ERROR) s->errors++;
    /* exercise the submission paths from inside callbacks */
    if (ev->type == LOOM_EV_HEADERS && ev->stream_id & 1) {
        static const uint8_t body[100] = {1};
        loom_hpack_field f[] = {{(const uint8_t *)":status", 7, (const uint8_t *)"200", 3, 0}};
        loom_body b = {.data = body, .len = sizeof(body), .fd = -1};
        loom_respond(c, ev->stream_id, f, 1, ev->stream_id % 4 == 1 ? &b : NULL);
    }
    if (ev->type == LOOM_EV_PUSH_PROMISE && ev->u.push.promised_id % 4 == 0)
        loom_reset(c, ev->u.push.promised_id, LOOM_H2_CANCEL);
    return 0;
}

static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
static const uint8_t settings[] = {0, 0, 0, 4, 0, 0, 0, 0, 0};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t ctl = data[0];
    data++;
    size--;
    loom_role role = ctl & 1 ? LOOM_CLIENT : LOOM_SERVER;
    loom_config cfg;
    loom_config_default(&cfg, role);
    if (ctl & 8) cfg.shared = 1; /* cfg outlives the connection here */
    if (ctl & 2) {
        cfg.max_concurrent_streams = 3;
        cfg.max_continuations = 2;
        cfg.max_pings = 3;
        cfg.initial_window_size = 100;
        cfg.manual_window = 1;
    }
    state st = {0, 0};
    loom_conn *c = loom_conn_new(role, &cfg, on_event, &st);
    if (!c) abort();
    if (role == LOOM_SERVER) loom_conn_recv(c, preface, 24);
    loom_conn_recv(c, settings, sizeof(settings));
    if (role == LOOM_CLIENT) {
        /* a few requests in flight so that responses and pushes have streams */
        loom_hpack_field f[] = {
            {(const uint8_t *)":method", 7, (const uint8_t *)"GET", 3, 0},
            {(const uint8_t *)":scheme", 7, (const uint8_t *)"https", 5, 0},
            {(const uint8_t *)":authority", 10, (const uint8_t *)"a", 1, 0},
            {(const uint8_t *)":path", 5, (const uint8_t *)"/", 1, 0},
        };
        for (int i = 0; i < 3; i++)
            loom_request(c, f, 4, NULL);
    }
    fuzz_drain(c);
    /* the input in up to 4 chunks, output drained between them */
    size_t step = size / 4 + 1;
    for (size_t off = 0; off < size; off += step) {
        size_t k = size - off < step ? size - off : step;
        int rc = loom_conn_recv(c, data + off, k);
        fuzz_drain(c);
        /* as a runtime does when the connection goes quiet: what is freed
         * must be made again on use, and nothing in flight may be freed */
        if (ctl & 4) loom_conn_shrink(c);
        if (rc < 0) {
            size_t before = st.events;
            /* after a connection error, input is ignored */
            if (loom_conn_recv(c, data, size) != rc || st.events != before) abort();
            break;
        }
    }
    if (st.errors > 1) abort();
    loom_conn_free(c);
    return 0;
}
