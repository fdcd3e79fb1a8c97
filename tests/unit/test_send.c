/* lib/send.c: the output of an engine as the runtime sees it, pieces from
 * loom_conn_send() acknowledged with loom_conn_sent(): the same octets
 * whatever the writes' sizes; field blocks cut into CONTINUATION frames at
 * the peer's MAX_FRAME_SIZE; bodies from memory, from a file (pieces with
 * an fd) and from a read callback (LOOM_BODY_DEFER, loom_resume()); trailers;
 * the 256 KiB batch; RST_STREAM from loom_reset(); the queue bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "conn_internal.h" /* the queue and ids, to see what a refusal left */
#include "h2_wire.h"
#include "hpack_util.h"

static wire in, out;
static frames *fr;
static uint8_t body[1 << 20];
static int file_fd = -1;

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
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)(i * 7 + i / 251);
    fr = calloc(1, sizeof(*fr));
    memset(&in, 0, sizeof(in));
    memset(&out, 0, sizeof(out));
    /* a real file, its octets a pattern of their offsets */
    char path[] = "/tmp/loom-test-send-XXXXXX";
    file_fd = mkstemp(path);
    if (file_fd < 0) return -1;
    unlink(path);
    uint8_t buf[4096];
    for (size_t off = 0; off < 100000; off += sizeof(buf)) {
        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i] = (uint8_t)((off + i) * 13 + 5);
        if (write(file_fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) return -1;
    }
    return fr ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(fr);
    free(in.b);
    free(out.b);
    close(file_fd);
    return 0;
}

static uint8_t file_octet(uint64_t off)
{
    return (uint8_t)(off * 13 + 5);
}

static loom_conn *server(const loom_config *cfg, const uint32_t (*s)[2], size_t n)
{
    loom_conn *c = loom_conn_new(LOOM_SERVER, cfg, on_event, NULL);
    assert_non_null(c);
    w_preface(&in, s, n);
    assert_int_equal(w_feed(&in, c), 0);
    return c;
}

static void drop_output(loom_conn *c)
{
    out.n = 0;
    collect(c, &out);
    out.n = 0;
}

static void drain(loom_conn *c)
{
    out.n = 0;
    collect(c, &out);
    parse_frames(out.b, out.n, fr);
}

static const loom_hpack_field status200[] = {
    {(const uint8_t *)":status", 7, (const uint8_t *)"200", 3, 0}};

static const loom_hpack_field trailers[] = {
    {(const uint8_t *)"grpc-status", 11, (const uint8_t *)"0", 1, 0},
    {(const uint8_t *)"x-checksum", 10, (const uint8_t *)"abc123", 6, 0},
};

/* ---- a read callback that follows a script ---- */

typedef struct {
    long ret[16]; /* what each call returns (octets, LOOM_BODY_DEFER, an error) */
    int eof[16];
    int ncalls;
    size_t maxes[16];
    size_t given; /* octets handed out so far (the body's offset) */
} script;

static long scripted_read(void *user, int32_t sid, uint8_t *buf, size_t max, int *eof)
{
    (void)sid;
    script *sc = user;
    int k = sc->ncalls++;
    sc->maxes[k] = max;
    long r = sc->ret[k];
    if (r > 0) {
        for (long i = 0; i < r && (size_t)i < max; i++)
            buf[i] = body[sc->given + (size_t)i];
        sc->given += (size_t)r;
    }
    *eof = sc->eof[k];
    return r;
}

/* ---- the same octets whatever the writes ---- */

static script scen_read;

/* A server with three responses waiting: from memory with trailers, from
 * the file, from a read callback in ten pieces. */
static loom_conn *scenario(void)
{
    const uint32_t s[][2] = {{LOOM_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    loom_conn *c = server(NULL, s, 1);
    w_window_update(&in, 0, 1 << 20);
    w_request(&in, 1, 0, 1);
    w_request(&in, 3, 0, 1);
    w_request(&in, 5, 0, 1);
    assert_int_equal(w_feed(&in, c), 0);
    loom_body m = {.data = body, .len = 17000, .fd = -1, .trailers = trailers, .n_trailers = 2};
    assert_int_equal(loom_respond(c, 1, status200, 1, &m), 0);
    loom_body f = {.fd = file_fd, .offset = 7, .length = 3000};
    assert_int_equal(loom_respond(c, 3, status200, 1, &f), 0);
    memset(&scen_read, 0, sizeof(scen_read));
    for (int i = 0; i < 10; i++)
        scen_read.ret[i] = 100;
    scen_read.eof[9] = 1;
    loom_body r = {.fd = -1, .read = scripted_read, .user = &scen_read};
    assert_int_equal(loom_respond(c, 5, status200, 1, &r), 0);
    return c;
}

/* Writes everything, the first write cut after `first` octets (0: whole
 * pieces) and every later one after `chunk` octets (0: whole pieces). */
static void write_out(loom_conn *c, wire *dst, size_t first, size_t chunk)
{
    loom_out o[64];
    size_t k;
    int first_write = 1;
    while ((k = loom_conn_send(c, o, 64)) > 0) {
        size_t want = first_write && first ? first : chunk, done = 0;
        for (size_t i = 0; i < k && (!want || done < want); i++) {
            size_t n = o[i].len;
            if (want && n > want - done) n = want - done;
            if (o[i].fd >= 0) {
                uint8_t tmp[20000];
                assert_true(n <= sizeof(tmp));
                assert_null(o[i].base);
                assert_int_equal(pread(o[i].fd, tmp, n, (off_t)o[i].off), (ssize_t)n);
                w_bytes(dst, tmp, n);
            } else {
                w_bytes(dst, o[i].base, n);
            }
            done += n;
        }
        loom_conn_sent(c, done);
        first_write = 0;
    }
}

static void test_partial_writes(void **state)
{
    (void)state;
    wire ref = {0}, got = {0};
    loom_conn *c = scenario();
    write_out(c, &ref, 0, 0);
    loom_conn_free(c);
    /* it is what was asked for */
    parse_frames(ref.b, ref.n, fr);
    assert_int_equal(data_octets(fr, 1), 17000);
    assert_int_equal(data_octets(fr, 3), 3000);
    assert_int_equal(data_octets(fr, 5), 1000);
    assert_int_equal(count_frames(fr, 0x0, 5), 10);
    assert_int_equal(count_frames(fr, 0x1, 1), 2); /* response and trailers */

    assert_true(ref.n > 21000);
    /* the first write cut at every octet */
    for (size_t cut = 1; cut < ref.n; cut++) {
        c = scenario();
        got.n = 0;
        write_out(c, &got, cut, 0);
        if (got.n != ref.n || memcmp(got.b, ref.b, ref.n))
            fail_msg("a first write of %zu octets changed the output (%zu of %zu octets)", cut,
                     got.n, ref.n);
        loom_conn_free(c);
    }
    /* every write one octet, and writes of a few odd sizes */
    const size_t chunks[] = {1, 2, 3, 7, 9, 10, 4096, 16393};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        c = scenario();
        got.n = 0;
        write_out(c, &got, 0, chunks[i]);
        if (got.n != ref.n || memcmp(got.b, ref.b, ref.n))
            fail_msg("writes of %zu octets changed the output", chunks[i]);
        loom_conn_free(c);
    }
    free(ref.b);
    free(got.b);
}

/* loom_conn_send() gives at most max pieces, the same ones until
 * loom_conn_sent() says they were written; sent(0) changes nothing. */
static void test_pieces(void **state)
{
    (void)state;
    loom_conn *c = scenario();
    loom_out all[64], one[64];
    size_t n = loom_conn_send(c, all, 64);
    assert_true(n >= 6);
    assert_int_equal(loom_conn_want_write(c), 1);
    for (size_t max = 1; max <= n; max++) {
        assert_int_equal(loom_conn_send(c, one, max), max);
        for (size_t i = 0; i < max; i++) {
            assert_int_equal(one[i].len, all[i].len);
            assert_int_equal(one[i].fd, all[i].fd);
            assert_ptr_equal(one[i].base, all[i].base);
            assert_int_equal(one[i].off, all[i].off);
        }
    }
    assert_int_equal(loom_conn_send(c, one, 0), 0);
    loom_conn_sent(c, 0);
    assert_int_equal(loom_conn_send(c, one, 64), n);
    assert_ptr_equal(one[0].base, all[0].base);
    assert_int_equal(one[0].len, all[0].len);

    /* kinds: the batch's own octets, the caller's memory, the file */
    int mem = 0, file = 0;
    for (size_t i = 0; i < n; i++) {
        if (all[i].fd >= 0) {
            file++;
            assert_int_equal(all[i].fd, file_fd);
            assert_int_equal(all[i].off, 7);
            assert_int_equal(all[i].len, 3000);
        } else if (all[i].base >= body && all[i].base < body + sizeof(body)) {
            mem++;
        }
    }
    assert_int_equal(mem, 2); /* two DATA frames of stream 1 */
    assert_int_equal(file, 1);

    /* a write ending inside a piece of the caller's memory: the rest of
     * it comes first */
    size_t j = 0, before = 0;
    while (!(all[j].fd < 0 && all[j].base >= body && all[j].base < body + sizeof(body)))
        before += all[j++].len;
    assert_true(j > 0 && all[j].len > 10);
    loom_conn_sent(c, before + 10);
    assert_int_equal(loom_conn_send(c, one, 64), n - j);
    assert_ptr_equal(one[0].base, all[j].base + 10);
    assert_int_equal(one[0].len, all[j].len - 10);
    assert_int_equal(one[1].len, all[j + 1].len);
    loom_conn_free(c);
}

/* ---- field blocks and CONTINUATION ---- */

static loom_hpack_decoder *dec;
static hlist decoded;

/* The field block of the frames starting at fr->f[at] (HEADERS or
 * PUSH_PROMISE, then CONTINUATIONs), checked for shape: every frame but
 * the last exactly maxf octets of payload, END_HEADERS on the last only, no
 * other frame between. Returns the number of frames. */
static size_t check_block(size_t at, size_t maxf, uint8_t **blk, size_t *blen)
{
    size_t n = 0;
    *blen = 0;
    *blk = NULL;
    for (size_t i = at; i < fr->n; i++) {
        const rec_frame *x = &fr->f[i];
        if (i > at) {
            assert_int_equal(x->type, 0x9);
            assert_int_equal(x->sid, fr->f[at].sid);
        }
        *blk = realloc(*blk, *blen + x->len + 1);
        memcpy(*blk + *blen, x->payload, x->len);
        *blen += x->len;
        n++;
        int last = (x->flags & 0x4) != 0;
        if (!last) assert_int_equal(x->length, maxf);
        assert_true(x->length <= maxf);
        if (last) return n;
        assert_int_equal(x->flags, i == at ? (fr->f[at].flags & ~0x4) : 0);
    }
    fail_msg("no END_HEADERS");
    return 0;
}

static loom_conn *client(void)
{
    loom_conn *c = loom_conn_new(LOOM_CLIENT, NULL, on_event, NULL);
    assert_non_null(c);
    return c;
}

/* The client's output with its 24 octets of magic dropped, parsed. */
static void drain_client(loom_conn *c)
{
    out.n = 0;
    collect(c, &out);
    size_t skip = out.n >= 24 && !memcmp(out.b, "PRI * HTTP/2.0", 14) ? 24 : 0;
    parse_frames(out.b + skip, out.n - skip, fr);
}

static uint8_t tilde[70000];

/* A request whose x-big value is n octets of '~' (13-bit Huffman code: sent
 * raw, so the block grows by one octet with each). */
static int32_t big_request(loom_conn *c, size_t n)
{
    loom_hpack_field f[] = {
        {(const uint8_t *)":method", 7, (const uint8_t *)"GET", 3, 0},
        {(const uint8_t *)":scheme", 7, (const uint8_t *)"https", 5, 0},
        {(const uint8_t *)":authority", 10, (const uint8_t *)"a.example", 9, 0},
        {(const uint8_t *)":path", 5, (const uint8_t *)"/", 1, 0},
        {(const uint8_t *)"x-big", 5, tilde, n, 0},
    };
    return loom_request(c, f, 5, NULL);
}

static void check_big_fields(const uint8_t *blk, size_t blen, size_t n)
{
    loom_hpack_error e;
    assert_int_equal(loom_hpack_decode_block(dec, blk, blen, &decoded, &e), 0);
    assert_int_equal(decoded.n, 5);
    assert_true(hname_is(&decoded.fields[4], "x-big"));
    assert_int_equal(decoded.fields[4].value_len, n);
    assert_memory_equal(decoded.fields[4].value, tilde, n);
}

static void test_continuation_at_max_frame_size(void **state)
{
    (void)state;
    memset(tilde, '~', sizeof(tilde));
    int seen[4] = {0}; /* blocks of exactly 16384, 16385, 32768, 32769 octets */
    const size_t ranges[][2] = {{16300, 16400}, {32690, 32790}, {50000, 50001}};
    for (size_t r = 0; r < 3; r++)
        for (size_t n = ranges[r][0]; n < ranges[r][1]; n++) {
            dec = loom_hpack_decoder_new(4096, 1 << 20, NULL);
            memset(&decoded, 0, sizeof(decoded));
            loom_conn *c = client();
            assert_int_equal(big_request(c, n), 1);
            drain_client(c);
            const rec_frame *h = find_frame(fr, 0x1, 1);
            assert_non_null(h);
            assert_int_equal(h->flags & 0x1, 0x1); /* END_STREAM on the HEADERS */
            uint8_t *blk;
            size_t blen;
            size_t frames_n = check_block((size_t)(h - fr->f), 16384, &blk, &blen);
            assert_int_equal(frames_n, (blen + 16383) / 16384);
            seen[0] |= blen == 16384;
            seen[1] |= blen == 16385;
            seen[2] |= blen == 32768;
            seen[3] |= blen == 32769;
            check_big_fields(blk, blen, n);
            free(blk);
            loom_conn_free(c);
            loom_hpack_list_free(&decoded);
            loom_hpack_decoder_free(dec);
        }
    for (int i = 0; i < 4; i++)
        assert_true(seen[i]);
}

/* The peer's larger MAX_FRAME_SIZE: fewer, larger frames. */
static void test_continuation_after_peer_settings(void **state)
{
    (void)state;
    memset(tilde, '~', sizeof(tilde));
    dec = loom_hpack_decoder_new(4096, 1 << 20, NULL);
    memset(&decoded, 0, sizeof(decoded));
    loom_conn *c = client();
    drain_client(c);
    const uint32_t s[][2] = {{LOOM_SETTINGS_MAX_FRAME_SIZE, 20000}};
    w_settings(&in, s, 1);
    assert_int_equal(w_feed(&in, c), 0);
    assert_int_equal(loom_conn_peer_setting(c, LOOM_SETTINGS_MAX_FRAME_SIZE), 20000);
    assert_int_equal(big_request(c, 50000), 1);
    drain_client(c);
    const rec_frame *h = find_frame(fr, 0x1, 1);
    assert_non_null(h);
    uint8_t *blk;
    size_t blen;
    assert_int_equal(check_block((size_t)(h - fr->f), 20000, &blk, &blen), 3);
    check_big_fields(blk, blen, 50000);
    free(blk);

    const uint32_t s2[][2] = {{LOOM_SETTINGS_MAX_FRAME_SIZE, 1 << 20}};
    w_settings(&in, s2, 1);
    assert_int_equal(w_feed(&in, c), 0);
    assert_int_equal(big_request(c, 60000), 3);
    drain_client(c);
    h = find_frame(fr, 0x1, 3);
    assert_non_null(h);
    assert_int_equal(check_block((size_t)(h - fr->f), 1 << 20, &blk, &blen), 1);
    check_big_fields(blk, blen, 60000);
    free(blk);
    loom_conn_free(c);
    loom_hpack_list_free(&decoded);
    loom_hpack_decoder_free(dec);
}

/* PUSH_PROMISE: the promised stream id takes 4 octets of the first frame. */
static void test_push_promise_continuation(void **state)
{
    (void)state;
    memset(tilde, '~', sizeof(tilde));
    loom_conn *c = server(NULL, NULL, 0);
    w_request(&in, 1, 0, 1);
    assert_int_equal(w_feed(&in, c), 0);
    drop_output(c);
    static uint8_t path[33000];
    path[0] = '/';
    memset(path + 1, '~', sizeof(path) - 1);
    loom_hpack_field req[] = {
        {(const uint8_t *)":method", 7, (const uint8_t *)"GET", 3, 0},
        {(const uint8_t *)":scheme", 7, (const uint8_t *)"https", 5, 0},
        {(const uint8_t *)":authority", 10, (const uint8_t *)"a.example", 9, 0},
        {(const uint8_t *)":path", 5, path, sizeof(path), 0},
    };
    assert_int_equal(loom_push(c, 1, req, 4), 2);
    drain(c);
    const rec_frame *p = find_frame(fr, 0x5, 1);
    assert_non_null(p);
    assert_int_equal(p->value, 2);
    assert_int_equal(p->length, 16384); /* 4 + 16380 */
    assert_int_equal(p->len, 16380);
    assert_int_equal(p->flags & 0x4, 0);
    size_t at = (size_t)(p - fr->f);
    assert_true(at + 2 < fr->n);
    assert_int_equal(fr->f[at + 1].type, 0x9);
    assert_int_equal(fr->f[at + 1].length, 16384);
    assert_int_equal(fr->f[at + 1].flags, 0);
    assert_int_equal(fr->f[at + 2].type, 0x9);
    assert_int_equal(fr->f[at + 2].flags, 0x4);
    /* the block decodes to the promised request */
    uint8_t *blk = NULL;
    size_t blen = 0;
    for (size_t i = at; i <= at + 2; i++) {
        blk = realloc(blk, blen + fr->f[i].len);
        memcpy(blk + blen, fr->f[i].payload, fr->f[i].len);
        blen += fr->f[i].len;
    }
    dec = loom_hpack_decoder_new(4096, 1 << 20, NULL);
    memset(&decoded, 0, sizeof(decoded));
    loom_hpack_error e;
    assert_int_equal(loom_hpack_decode_block(dec, blk, blen, &decoded, &e), 0);
    assert_int_equal(decoded.n, 4);
    assert_int_equal(decoded.fields[3].value_len, sizeof(path));
    assert_memory_equal(decoded.fields[3].value, path, sizeof(path));
    free(blk);
    loom_hpack_list_free(&decoded);
    loom_hpack_decoder_free(dec);
    loom_conn_free(c);
}

/* ---- bodies ---- */

static void test_body_from_memory(void **state)
{
    (void)state;
    loom_conn *c = server(NULL, NULL, 0);
    w_request(&in, 1, 0, 1);
    assert_int_equal(w_feed(&in, c), 0);
    drop_output(c);
    loom_body b = {.data = body + 5, .len = 40000, .fd = -1};
    assert_int_equal(loom_respond(c, 1, status200, 1, &b), 0);
    drain(c);
    /* the peer's 65535 window is no limit: 16384 + 16384 + 7232, END_STREAM
     * on the last, the octets of the caller's buffer */
    assert_int_equal(count_frames(fr, 0x0, 1), 3);
    size_t off = 0;
    for (size_t i = 0; i < fr->n; i++) {
        const rec_frame *x = &fr->f[i];
        if (x->type != 0x0) continue;
        assert_memory_equal(x->payload, body + 5 + off, x->len);
        off += x->len;
        assert_int_equal(x->flags, off == 40000 ? 0x1 : 0);
    }
    assert_int_equal(off, 40000);
    assert_null(loom__streams_find(&c->streams, 1)); /* closed once written */
    loom_conn_free(c);
}

/* A file range: pieces carry the fd and file offsets, never the octets. */
static void test_body_from_file(void **state)
{
    (void)state;
    const uint32_t s[][2] = {{LOOM_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    loom_conn *c = server(NULL, s, 1);
    w_window_update(&in, 0, 1 << 20);
    w_request(&in, 1, 0, 1);
    assert_int_equal(w_feed(&in, c), 0);
    drop_output(c);
    loom_body b = {.fd = file_fd, .offset = 1000, .length = 50000};
    assert_int_equal(loom_respond(c, 1, status200, 1, &b), 0);

    loom_out o[64];
    size_t n = loom_conn_send(c, o, 64);
    uint64_t next = 1000, total = 0;
    size_t files = 0, first_file = n;
    for (size_t i = 0; i < n; i++) {
        if (o[i].fd < 0) continue;
        if (first_file == n) first_file = i;
        files++;
        assert_int_equal(o[i].fd, file_fd);
        assert_null(o[i].base);
        assert_int_equal(o[i].off, next);
        assert_true(o[i].len <= 16384);
        next += o[i].len;
        total += o[i].len;
    }
    assert_int_equal(files, 4); /* 3 x 16384 + 848 */
    assert_int_equal(total, 50000);

    /* a write that ends 100 octets into the first file piece */
    size_t before = 0;
    for (size_t i = 0; i < first_file; i++)
        before += o[i].len;
    loom_conn_sent(c, before + 100);
    loom_out p[64];
    assert_int_equal(loom_conn_send(c, p, 64), n - first_file);
    assert_int_equal(p[0].fd, file_fd);
    assert_int_equal(p[0].off, 1100);
    assert_int_equal(p[0].len, 16384 - 100);

    out.n = 0;
    write_out(c, &out, 0, 0);
    loom_conn_free(c);

    /* the octets, from a fresh engine written whole: the file's range */

    c = server(NULL, s, 1);
    w_window_update(&in, 0, 1 << 20);
    w_request(&in, 1, 0, 1);
    assert_int_equal(w_feed(&in, c), 0);
    drop_output(c);
    assert_int_equal(loom_respond(c, 1, status200, 1, &b), 0);
    drain(c);
    uint64_t at = 1000;
    for (size_t i = 0; i < fr->n; i++) {
        const rec_frame *x = &fr->f[i];
        if (x->type != 0x0) continue;
        for (size_t k = 0; k < x->len; k++)
            if (x->payload[k] != file_octet(at + k)) fail_msg("file octet %lu wrong", at + k);
        at += x->len;
        assert_int_equal(x->flags, at == 51000 ? 0x1 : 0);
    }
    assert_int_equal(at, 51000);
    loom_conn_free(c);
}

/* A read callback: LOOM_BODY_DEFER and "0 without eof" both wait for
 * loom_resume(); max never exceeds a frame or the window. */
static void test_body_from_read_callback(void **state)
{
    (void)state;
    loom_conn *c = server(NULL, NULL, 0);
    w_request(&in, 1, 0, 1);
    assert_int_equal(w_feed(&in, c), 0);
    drop_output(c);
    script sc;
    memset(&sc, 0, sizeof(sc));
    sc.ret[0] = LOOM_BODY_DEFER;
    sc.ret[1] = 5000;
    sc.ret[2] = 0; /* nothing now, not the end */
    sc.ret[3] = 100;
    sc.eof[3] = 1;
    loom_body b = {.fd = -1, .read = scripted_read, .user = &sc};
    assert_int_equal(loom_respond(c, 1, status200, 1, &b), 0);
    drain(c);
    assert_int_equal(count_frames(fr, 0x1, 1), 1);
    assert_int_equal(count_frames(fr, 0x0, 1), 0);
    assert_int_equal(sc.ncalls, 1);
    assert_int_equal(loom_conn_want_write(c), 0); /* deferred: not ready */
    drain(c);
    assert_int_equal(sc.ncalls, 1); /* not asked again until resumed */

    assert_int_equal(loom_resume(c, 1), 0);
    assert_int_equal(loom_conn_want_write(c), 1);
    drain(c);
    assert_int_equal(sc.ncalls, 3);
    assert_int_equal(count_frames(fr, 0x0, 1), 1);
    assert_int_equal(data_octets(fr, 1), 5000);
    assert_int_equal(find_frame(fr, 0x0, 1)->flags, 0);
    assert_memory_equal(find_frame(fr, 0x0, 1)->payload, body, 5000);
    assert_int_equal(loom_conn_want_write(c), 0);

    assert_int_equal(loom_resume(c, 1), 0);
    drain(c);
    assert_int_equal(sc.ncalls, 4);
    const rec_frame *d = find_frame(fr, 0x0, 1);
    assert_non_null(d);
    assert_int_equal(d->len, 100);
    assert_int_equal(d->flags, 0x1);
    assert_memory_equal(d->payload, body + 5000, 100);
    /* max: a frame at most, and the window (65535 - 5000) */
    for (int i = 0; i < sc.ncalls; i++)
        assert_true(sc.maxes[i] <= 16384);
    assert_null(loom__streams_find(&c->streams, 1));
    assert_int_equal(loom_resume(c, 1), LOOM_ERR_STATE); /* closed */
    assert_int_equal(loom_resume(c, 99), LOOM_ERR_STATE);

    /* the window bounds max: a peer window of 1000 */
    const uint32_t s[][2] = {{LOOM_SETTINGS_INITIAL_WINDOW_SIZE, 1000}};
    w_settings(&in, s, 1);
    w_request(&in, 3, 0, 1);
    assert_int_equal(w_feed(&in, c), 0);
    memset(&sc, 0, sizeof(sc));
    sc.ret[0] = 1000;
    loom_body b3 = {.fd = -1, .read = scripted_read, .user = &sc};
    assert_int_equal(loom_respond(c, 3, status200, 1, &b3), 0);
    drain(c);
    assert_int_equal(sc.ncalls, 1);
    assert_int_equal(sc.maxes[0], 1000);
    assert_int_equal(data_octets(fr, 3), 1000);
    loom_conn_free(c);
}

/* A read callback that fails, or says it wrote more than max: the stream
 * is reset with INTERNAL_ERROR, the connection goes on. */
static void test_body_read_errors(void **state)
{
    (void)state;
    loom_conn *c = server(NULL, NULL, 0);
    w_request(&in, 1, 0, 1);
    w_request(&in, 3, 0, 1);
    assert_int_equal(w_feed(&in, c), 0);
    drop_output(c);
    script a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.ret[0] = LOOM_ERR_INTERNAL;
    b.ret[0] = 16385; /* more than a frame */
    loom_body ba = {.fd = -1, .read = scripted_read, .user = &a};
    loom_body bb = {.fd = -1, .read = scripted_read, .user = &b};
    assert_int_equal(loom_respond(c, 1, status200, 1, &ba), 0);
    assert_int_equal(loom_respond(c, 3, status200, 1, &bb), 0);
    drain(c); /* the resets, queued while the first batch was built, follow it */
    for (uint32_t sid = 1; sid <= 3; sid += 2) {
        const rec_frame *r = find_frame(fr, 0x3, sid);
        if (!r) fail_msg("stream %u not reset", sid);
        assert_int_equal(r->value, LOOM_H2_INTERNAL_ERROR);
        assert_int_equal(count_frames(fr, 0x0, sid), 0);
        assert_null(loom__streams_find(&c->streams, (int32_t)sid));
    }
    assert_null(find_frame(fr, 0x7, -1));
    loom_conn_free(c);
}

/* Trailers: after the last DATA, on a HEADERS with END_STREAM; the DATA
 * frames do not end the stream. */
static void test_trailers_after_data(void **state)
{
    (void)state;
    for (int kind = 0; kind < 3; kind++) {
        loom_conn *c = server(NULL, NULL, 0);
        w_request(&in, 1, 0, 1);
        assert_int_equal(w_feed(&in, c), 0);
        drop_output(c);
        script sc;
        memset(&sc, 0, sizeof(sc));
        sc.ret[0] = 16384;
        sc.ret[1] = 20000 - 16384;
        sc.eof[1] = 1;
        loom_body b = {.fd = -1, .trailers = trailers, .n_trailers = 2};
        size_t len = 20000;
        if (kind == 0) {
            b.data = body, b.len = 20000;
        } else if (kind == 1) {
            b.read = scripted_read, b.user = &sc;
        } else {
            len = 0; /* trailers and no body */
        }
        assert_int_equal(loom_respond(c, 1, status200, 1, &b), 0);
        drain(c);
        assert_int_equal(data_octets(fr, 1), len);
        /* frames of stream 1: HEADERS, DATA..., HEADERS(END_STREAM) */
        size_t first = fr->n, last = 0;
        for (size_t i = 0; i < fr->n; i++)
            if (fr->f[i].sid == 1) {
                if (first == fr->n) first = i;
                last = i;
            }
        assert_int_equal(fr->f[first].type, 0x1);
        assert_int_equal(fr->f[first].flags, 0x4);
        assert_int_equal(fr->f[last].type, 0x1);
        assert_int_equal(fr->f[last].flags, 0x5);
        for (size_t i = first + 1; i < last; i++) {
            assert_int_equal(fr->f[i].type, 0x0);
            assert_int_equal(fr->f[i].flags & 0x1, 0);
        }
        /* both blocks decode, in order, with one decoder */
        dec = loom_hpack_decoder_new(4096, 1 << 20, NULL);
        memset(&decoded, 0, sizeof(decoded));
        loom_hpack_error e;
        assert_int_equal(
            loom_hpack_decode_block(dec, fr->f[first].payload, fr->f[first].len, &decoded, &e), 0);
        assert_int_equal(
            loom_hpack_decode_block(dec, fr->f[last].payload, fr->f[last].len, &decoded, &e), 0);
        assert_int_equal(decoded.n, 2);
        assert_true(hfield_is(&decoded.fields[0], "grpc-status", "0"));
        assert_true(hfield_is(&decoded.fields[1], "x-checksum", "abc123"));
        loom_hpack_list_free(&decoded);
        loom_hpack_decoder_free(dec);
        assert_null(loom__streams_find(&c->streams, 1));
        loom_conn_free(c);
    }
}

/* loom_set_trailers: trailers learnt while a read() body is sent (a
 * proxy's, from its backend) go after the DATA on a HEADERS with
 * END_STREAM; set to none, the last DATA ends the stream; refused on a
 * stream without such a body. */
static void test_trailers_set_late(void **state)
{
    (void)state;
    for (int with = 0; with < 2; with++) {
        loom_conn *c = server(NULL, NULL, 0);
        w_request(&in, 1, 0, 1);
        w_request(&in, 3, 0, 1);
        assert_int_equal(w_feed(&in, c), 0);
        drop_output(c);
        script sc;
        memset(&sc, 0, sizeof(sc));
        sc.ret[0] = LOOM_BODY_DEFER;
        sc.ret[1] = 3000;
        sc.eof[1] = 1;
        loom_body b = {.fd = -1, .read = scripted_read, .user = &sc};
        assert_int_equal(loom_respond(c, 1, status200, 1, &b), 0);
        loom_body m = {.fd = -1, .data = body, .len = 10};
        assert_int_equal(loom_respond(c, 3, status200, 1, &m), 0);
        drain(c);
        assert_int_equal(loom_set_trailers(c, 3, trailers, 2), LOOM_ERR_STATE); /* memory body */
        assert_int_equal(loom_set_trailers(c, 99, trailers, 2), LOOM_ERR_STATE);
        assert_int_equal(loom_set_trailers(c, 1, with ? trailers : NULL, with ? 2 : 0), 0);
        assert_int_equal(loom_resume(c, 1), 0);
        drain(c);
        assert_int_equal(data_octets(fr, 1), 3000);
        size_t last = 0;
        for (size_t i = 0; i < fr->n; i++)
            if (fr->f[i].sid == 1) last = i;
        if (with) {
            assert_int_equal(fr->f[last].type, 0x1); /* trailers: HEADERS, END_STREAM */
            assert_int_equal(fr->f[last].flags, 0x5);
            assert_int_equal(find_frame(fr, 0x0, 1)->flags & 0x1, 0);
        } else {
            assert_int_equal(fr->f[last].type, 0x0); /* the DATA ends it */
            assert_int_equal(fr->f[last].flags & 0x1, 0x1);
        }
        assert_null(loom__streams_find(&c->streams, 1));
        loom_conn_free(c);
    }
}

/* At most 256 KiB of DATA is gathered into one batch (then the batch goes
 * out, and the next is built). */
static void test_batch_bound(void **state)
{
    (void)state;
    const uint32_t s[][2] = {{LOOM_SETTINGS_INITIAL_WINDOW_SIZE, 0x7fffffff}};
    loom_conn *c = server(NULL, s, 1);
    w_window_update(&in, 0, 0x7fffffff - 65535);
    w_request(&in, 1, 0, 1);
    w_request(&in, 3, 0, 1);
    assert_int_equal(w_feed(&in, c), 0);
    drop_output(c);
    loom_body b = {.data = body, .len = sizeof(body), .fd = -1};
    assert_int_equal(loom_respond(c, 1, status200, 1, &b), 0);
    loom_body b3 = {.data = body, .len = 100000, .fd = -1};
    assert_int_equal(loom_respond(c, 3, status200, 1, &b3), 0);
    size_t batches = 0, total = 0;
    loom_out o[64];
    size_t k;
    while ((k = loom_conn_send(c, o, 64)) > 0) {
        wire one = {0};
        size_t len = 0;
        for (size_t i = 0; i < k; i++) {
            w_bytes(&one, o[i].base, o[i].len);
            len += o[i].len;
        }
        parse_frames(one.b, one.n, fr);
        size_t data = data_octets(fr, 1) + data_octets(fr, 3);
        total += data;
        batches++;
        if (total < sizeof(body) + 100000)
            assert_int_equal(data, 256 * 1024); /* 16 frames of 16384 */
        else
            assert_true(data <= 256 * 1024);
        loom_conn_sent(c, len);
        free(one.b);
    }
    assert_int_equal(total, sizeof(body) + 100000);
    assert_int_equal(batches, 5);
    loom_conn_free(c);
}

/* ---- RST_STREAM ---- */

static void test_reset(void **state)
{
    (void)state;
    loom_conn *c = server(NULL, NULL, 0);
    w_request(&in, 1, 0, 1);
    w_request(&in, 3, 0, 1);
    assert_int_equal(w_feed(&in, c), 0);
    drop_output(c);
    loom_body b = {.data = body, .len = 100000, .fd = -1};
    assert_int_equal(loom_respond(c, 1, status200, 1, &b), 0);
    assert_int_equal(loom_reset(c, 1, LOOM_H2_CANCEL), 0);
    drain(c);
    const rec_frame *r = find_frame(fr, 0x3, 1);
    assert_non_null(r);
    assert_int_equal(r->value, LOOM_H2_CANCEL);
    assert_int_equal(r->length, 4);
    assert_true(find_frame(fr, 0x1, 1) < r); /* the response went first */
    assert_int_equal(count_frames(fr, 0x0, 1), 0);
    assert_int_equal(loom_reset(c, 1, LOOM_H2_CANCEL), LOOM_ERR_STATE);
    assert_int_equal(loom_reset(c, 99, LOOM_H2_CANCEL), LOOM_ERR_STATE);
    assert_int_equal(loom_reset(c, 0, LOOM_H2_CANCEL), LOOM_ERR_STATE);

    /* mid-body: what was written stays written, nothing more follows */
    assert_int_equal(loom_respond(c, 3, status200, 1, &b), 0);
    drain(c);
    assert_int_equal(data_octets(fr, 3), 65535);
    assert_int_equal(loom_reset(c, 3, LOOM_H2_INTERNAL_ERROR), 0);
    w_window_update(&in, 3, 100000);
    w_window_update(&in, 0, 100000);
    w_data(&in, 3, 10, -1, 0, 'x'); /* the peer's frames in flight: ignored */
    assert_int_equal(w_feed(&in, c), 0);
    drain(c);
    assert_int_equal(count_frames(fr, 0x3, 3), 1);
    assert_int_equal(find_frame(fr, 0x3, 3)->value, LOOM_H2_INTERNAL_ERROR);
    assert_int_equal(count_frames(fr, 0x0, -1), 0);
    assert_int_equal(fr->n, 1);
    loom_conn_free(c);
}

/* ---- the queue bound ---- */

static void test_send_buffer_limit(void **state)
{
    (void)state;
    memset(tilde, '~', sizeof(tilde));
    loom_config cfg;
    loom_config_default(&cfg, LOOM_CLIENT);
    cfg.max_send_buffer = 2048;
    loom_conn *c = loom_conn_new(LOOM_CLIENT, &cfg, on_event, NULL);
    assert_non_null(c);
    size_t queued = c->queue.stage.len;
    assert_true(queued > 24 && queued < 200); /* the preface */

    /* a field block that cannot fit: refused, nothing queued, no id used */
    assert_int_equal(big_request(c, 3000), LOOM_ERR_LIMIT);
    assert_int_equal(c->queue.stage.len, queued);
    assert_int_equal(c->next_local_id, 1);
    assert_int_equal(c->streams.n, 0);

    /* small ones until the queue is full, never past the bound */
    int ok = 0, rc;
    while ((rc = big_request(c, 10)) > 0) {
        assert_int_equal(rc, 2 * ok + 1);
        ok++;
        assert_true(c->queue.stage.len <= 2048);
    }
    assert_int_equal(rc, LOOM_ERR_LIMIT);
    assert_true(ok > 10);
    size_t full = c->queue.stage.len;
    while ((rc = loom_ping(c)) == 0)
        assert_true(c->queue.stage.len <= 2048);
    assert_int_equal(rc, LOOM_ERR_LIMIT);
    assert_int_equal(big_request(c, 10), LOOM_ERR_LIMIT);
    assert_true(c->queue.stage.len >= full);

    /* written out, the queue takes more again */
    drain_client(c);
    assert_int_equal(count_frames(fr, 0x1, -1), (size_t)ok);
    assert_int_equal(big_request(c, 10), 2 * ok + 1);

    /* a GOAWAY always fits: it is the last word */
    while (loom_ping(c) == 0)
        ;
    assert_int_equal(loom_goaway(c, LOOM_H2_NO_ERROR, 0, "bye"), 0);
    assert_true(c->queue.stage.len > 2048);
    drain_client(c);
    const rec_frame *g = find_frame(fr, 0x7, 0);
    assert_non_null(g);
    assert_int_equal(g->value, LOOM_H2_NO_ERROR);
    assert_int_equal(fr->f[fr->n - 1].type, 0x7);
    loom_conn_free(c);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_partial_writes),
        T(test_pieces),
        T(test_continuation_at_max_frame_size),
        T(test_continuation_after_peer_settings),
        T(test_push_promise_continuation),
        T(test_body_from_memory),
        T(test_body_from_file),
        T(test_body_from_read_callback),
        T(test_body_read_errors),
        T(test_trailers_after_data),
        T(test_trailers_set_late),
        T(test_batch_bound),
        T(test_reset),
        T(test_send_buffer_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
#undef T
}
