/* Our own TLS 1.3 records (src/tlsrec.c) through the transport, read by
 * OpenSSL's own record layer on the other end of a socket pair: data of
 * every size and a file, the session ticket OpenSSL sealed before we took
 * over, the peer's KeyUpdate answered (OpenSSL's answer sealed again in
 * our sequence), close_notify, each TLS 1.3 cipher, a maximum fragment
 * length, and TLS 1.2 left to OpenSSL. Run a second time with
 * LOOM_OPENSSL_RECORDS=1: then OpenSSL makes every record. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../../src/tls.h"
#include "../../src/tlsrec.h"
#include "../../src/transport.h"

static SSL_CTX *sctx;
static int openssl_records;

typedef struct {
    transport t;
    SSL *cl;
    int fds[2];
} pair;

static void nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* A handshake between our server transport and an OpenSSL client set up
 * by `client` (ciphers, versions, fragment length). */
static void pair_open(pair *p, void (*client)(SSL *))
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fds), 0);
    nonblock(p->fds[0]);
    nonblock(p->fds[1]);
    assert_int_equal(tp_init_tls(&p->t, p->fds[0], sctx, 1, NULL, NULL), 0);
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(cctx);
    p->cl = SSL_new(cctx);
    SSL_CTX_free(cctx); /* the SSL holds a reference */
    assert_non_null(p->cl);
    SSL_set_fd(p->cl, p->fds[1]);
    SSL_set_connect_state(p->cl);
    if (client) client(p->cl);
    int sdone = 0, cdone = 0;
    for (int i = 0; i < 1000 && !(sdone && cdone); i++) {
        if (!sdone) {
            int rc = tp_handshake(&p->t);
            assert_int_not_equal(rc, TP_ERROR);
            sdone = rc == TP_DONE;
        }
        if (!cdone) {
            int rc = SSL_do_handshake(p->cl);
            if (rc != 1) {
                int e = SSL_get_error(p->cl, rc);
                assert_true(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
            }
            cdone = rc == 1;
        }
    }
    assert_true(sdone && cdone);
}

static void pair_close(pair *p)
{
    tp_close(&p->t);
    SSL_free(p->cl);
    close(p->fds[1]);
}

/* The client reads exactly n octets (and whatever TLS sends of its own on
 * the way, such as tickets), while the server flushes what the socket did
 * not take. */
static void client_read(pair *p, uint8_t *buf, size_t n)
{
    size_t got = 0;
    for (int spins = 0; got < n && spins < 100000; spins++) {
        assert_int_not_equal(tp_flush(&p->t), TP_ERROR);
        int k = SSL_read(p->cl, buf + got, (int)(n - got));
        if (k > 0) {
            got += (size_t)k;
            continue;
        }
        int e = SSL_get_error(p->cl, k);
        if (e != SSL_ERROR_WANT_READ) {
            ERR_print_errors_fp(stderr);
            fail_msg("client read failed: %d after %zu of %zu octets", e, got, n);
        }
    }
    assert_int_equal(got, n);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 9)) & 0xff);
}

/* Server writes of several sizes, read back intact. */
static void send_and_check(pair *p, unsigned seed)
{
    static const size_t sizes[] = {1, 9, 1369, 1370, 16384, 16385, 70000, 300000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        uint8_t *out = malloc(n), *in = malloc(n);
        assert_non_null(out);
        assert_non_null(in);
        fill(out, n, seed + (unsigned)i);
        /* what the socket does not take waits in the transport (at most
         * TP_LEFT_MAX: 300,000 fits) and goes as the client reads */
        for (size_t sent = 0; sent < n;) {
            size_t k = n - sent < 65536 ? n - sent : 65536;
            assert_int_not_equal(tp_write(&p->t, out + sent, k), TP_ERROR);
            sent += k;
        }
        client_read(p, in, n);
        assert_memory_equal(in, out, n);
        free(out);
        free(in);
    }
}

/* The client's KeyUpdate asking for ours (RFC 8446 §4.6.3), then data both
 * ways: the server's answer (OpenSSL's, sealed again by us) must keep the
 * client able to read. */
static void key_update(pair *p, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        assert_int_equal(SSL_key_update(p->cl, SSL_KEY_UPDATE_REQUESTED), 1);
        assert_int_equal(SSL_write(p->cl, "ping", 4), 4);
        char buf[16];
        ssize_t k = TP_AGAIN;
        for (int i = 0; i < 1000 && k == TP_AGAIN; i++)
            k = tp_read(&p->t, buf, sizeof(buf));
        assert_int_equal(k, 4);
        assert_memory_equal(buf, "ping", 4);
        send_and_check(p, 100 + (unsigned)r);
    }
}

/* close_notify: the client sees a clean end (SSL_ERROR_ZERO_RETURN). */
static void clean_close(pair *p)
{
    tp_shutdown_write(&p->t);
    char buf[8];
    int e = 0;
    for (int i = 0; i < 1000; i++) {
        int k = SSL_read(p->cl, buf, sizeof(buf));
        assert_true(k <= 0);
        e = SSL_get_error(p->cl, k);
        if (e != SSL_ERROR_WANT_READ) break;
    }
    assert_int_equal(e, SSL_ERROR_ZERO_RETURN);
}

static const char *suite;
static void client_suite(SSL *s)
{
    assert_int_equal(SSL_set_ciphersuites(s, suite), 1);
}

static void one_suite(const char *name)
{
    suite = name;
    pair p;
    pair_open(&p, client_suite);
    assert_string_equal(SSL_get_cipher_name(p.cl), name);
    assert_int_equal(SSL_version(p.cl), TLS1_3_VERSION);
    /* ours unless told otherwise */
    if (openssl_records)
        assert_null(p.t.rec);
    else
        assert_non_null(p.t.rec);
    send_and_check(&p, 1);
    /* the ticket OpenSSL sent before we took over came first, in order */
    SSL_SESSION *s = SSL_get1_session(p.cl);
    assert_non_null(s);
    assert_true(SSL_SESSION_is_resumable(s));
    SSL_SESSION_free(s);
    key_update(&p, 2);
    clean_close(&p);
    pair_close(&p);
}

/* Our own KeyUpdate after LOOM_TLSREC_UPDATE_AFTER records (RFC 8446
 * §5.5; 2^24 unless the environment lowers it, as the test's second run
 * does): the client reads on across the new keys. */
static void test_own_key_update(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, NULL);
    if (openssl_records) {
        pair_close(&p);
        return; /* OpenSSL's records: no updates of ours */
    }
    send_and_check(&p, 7); /* about 30 records */
    const char *env = getenv("LOOM_TLSREC_UPDATE_AFTER");
    if (env)
        assert_true(tlsrec_seq(p.t.rec) <= (uint64_t)atoll(env));
    else
        assert_true(tlsrec_seq(p.t.rec) > 20);
    key_update(&p, 1);
    send_and_check(&p, 8);
    clean_close(&p);
    pair_close(&p);
}

static void test_aes128(void **state)
{
    (void)state;
    one_suite("TLS_AES_128_GCM_SHA256");
}

static void test_aes256(void **state)
{
    (void)state;
    one_suite("TLS_AES_256_GCM_SHA384");
}

static void test_chacha(void **state)
{
    (void)state;
    one_suite("TLS_CHACHA20_POLY1305_SHA256");
}

/* A file body (tp_send_file) sealed from its pages. */
static void test_file(void **state)
{
    (void)state;
    char path[] = "/tmp/loom-tlsrec-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    size_t n = 200000;
    uint8_t *out = malloc(n), *in = malloc(n);
    fill(out, n, 9);
    assert_int_equal(write(fd, out, n), (ssize_t)n);
    pair p;
    pair_open(&p, NULL);
    uint64_t off = 1000, left = n - 1000;
    size_t got = 0;
    for (int i = 0; i < 100000 && got < n - 1000; i++) {
        if (left) assert_int_not_equal(tp_send_file(&p.t, fd, &off, &left), TP_ERROR);
        assert_int_not_equal(tp_flush(&p.t), TP_ERROR);
        int k = SSL_read(p.cl, in + got, (int)(n - 1000 - got));
        if (k > 0) got += (size_t)k;
    }
    assert_int_equal(got, n - 1000);
    assert_memory_equal(in, out + 1000, n - 1000);
    clean_close(&p);
    pair_close(&p);
    close(fd);
    free(out);
    free(in);
}

/* tlsrec_sealv: records sealed from their octets in pieces (a frame's
 * header, a cached body; the cut anywhere, empty pieces too) read as the
 * octets by OpenSSL; with LOOM_AESGCM=openssl (unit_tlsrec_evp) through
 * EVP, one update a piece. Pieces holding fewer octets than asked: no
 * record. Then the transport's own records still follow in sequence. */
static void test_pieces(void **state)
{
    (void)state;
    if (openssl_records) return; /* no records of ours to seal with */
    pair p;
    pair_open(&p, NULL);
    assert_non_null(p.t.rec);
    while (tp_unsent(&p.t))
        assert_int_not_equal(tp_flush(&p.t), TP_ERROR);
    static const size_t cuts[][6] = {{9, 16375, 0, 0, 0, 0},    {9, 0, 100, 3000, 0, 13275},
                                     {1, 1, 1, 1, 1, 16379},    {16384, 0, 0, 0, 0, 0},
                                     {255, 257, 16, 15, 17, 0}, {4000, 4000, 4000, 100, 0, 0}};
    uint8_t *data = malloc(16384), *in = malloc(16384), *rec = malloc(16384 + TLSREC_OVERHEAD);
    for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
        struct iovec v[6];
        size_t n = 0;
        fill(data, 16384, (unsigned)c);
        for (int i = 0; i < 6; i++) {
            v[i].iov_base = data + n;
            v[i].iov_len = cuts[c][i];
            n += cuts[c][i];
        }
        assert_int_equal(tlsrec_sealv(p.t.rec, v, 6, n + 1, rec), 0); /* too few */
        size_t w = tlsrec_sealv(p.t.rec, v, 6, n, rec);
        assert_int_equal(w, n + TLSREC_OVERHEAD);
        for (size_t sent = 0; sent < w;) {
            ssize_t k = send(p.fds[0], rec + sent, w - sent, 0);
            assert_true(k > 0);
            sent += (size_t)k;
        }
        client_read(&p, in, n);
        assert_memory_equal(in, data, n);
    }
    free(data);
    free(in);
    free(rec);
    send_and_check(&p, 11); /* the transport's records after ours */
    clean_close(&p);
    pair_close(&p);
}

/* RFC 6066 §4: the client asks for 512-octet records; a larger one would
 * end its read with record_overflow. */
static void client_mfl(SSL *s)
{
    assert_int_equal(SSL_set_tlsext_max_fragment_length(s, TLSEXT_max_fragment_length_512), 1);
}

static void test_max_fragment(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, client_mfl);
    assert_int_equal(SSL_SESSION_get_max_fragment_length(SSL_get_session(p.cl)),
                     TLSEXT_max_fragment_length_512);
    send_and_check(&p, 3);
    key_update(&p, 1);
    clean_close(&p);
    pair_close(&p);
}

/* TLS 1.2: OpenSSL makes the records, as before. */
static void client_tls12(SSL *s)
{
    SSL_set_max_proto_version(s, TLS1_2_VERSION);
}

static void test_tls12(void **state)
{
    (void)state;
    pair p;
    pair_open(&p, client_tls12);
    assert_int_equal(SSL_version(p.cl), TLS1_2_VERSION);
    assert_null(p.t.rec);
    send_and_check(&p, 4);
    clean_close(&p);
    pair_close(&p);
}

int main(void)
{
    char dir[] = "/tmp/loom-tlsrec-cache-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    setenv("XDG_CACHE_HOME", dir, 1);
    const char *env = getenv("LOOM_OPENSSL_RECORDS");
    openssl_records = env && !strcmp(env, "1");
    char err[256];
    tls_server_opts o;
    memset(&o, 0, sizeof(o));
    sctx = tls_server_ctx(NULL, NULL, &o, err, sizeof(err));
    if (!sctx) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aes128),         cmocka_unit_test(test_aes256),
        cmocka_unit_test(test_chacha),         cmocka_unit_test(test_file),
        cmocka_unit_test(test_max_fragment),   cmocka_unit_test(test_tls12),
        cmocka_unit_test(test_own_key_update), cmocka_unit_test(test_pieces),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    SSL_CTX_free(sctx);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) rc = rc ? rc : 1;
    return rc;
}
