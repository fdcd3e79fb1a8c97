/* The socket-or-TLS pipe. Non-blocking throughout: every call does what the
 * socket allows now and says what it waits for. */
#define _GNU_SOURCE
#include "transport.h"

#include <errno.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "loop.h"
#include "tls.h"
#include "tlsrec.h"

/* ---- TLS output without a syscall per record ----
 *
 * OpenSSL cuts what SSL_write gets into records of at most 16 KiB and, with
 * a socket BIO, writes each record with its own write(): 64 syscalls a MiB.
 * Unless the kernel can do TLS (then the socket BIO stays, for kernel TLS
 * and SSL_sendfile), SSL's write side is this thread's buffer instead:
 * records pile up there, and one send() carries a batch of them. What the
 * socket does not take moves to the connection's own leftover buffer
 * (t->stage); the thread's buffer is always empty between calls, so the
 * connections of a thread share it. The plaintext of a batch is gathered
 * in a second per-thread buffer: SSL_write always finishes (the BIO takes
 * every record), so nothing has to stay put for a retry. Reads keep the
 * socket BIO (read ahead 64 KiB at a time).
 *
 * The batch is one SSL_write of up to TP_STAGE_MAX (four records): sending
 * 2,000 x 1 MiB over TLS cost the server 104-114 CPU ticks this way,
 * against 127-134 with a write() per record and 156-171 with 128 KiB
 * batches (the records are no longer in cache when the kernel copies
 * them). */
#define TP_BATCH TP_STAGE_MAX
/* a batch's records, and the handshake's flights, fit with room to spare */
#define TP_CIPHER_CAP (TP_BATCH + TP_STAGE_MAX + 32 * 1024)

static _Thread_local struct {
    size_t len;
    int overflow;
    uint8_t buf[TP_CIPHER_CAP];
} cipher;
static _Thread_local uint8_t plain[TP_STAGE_MAX];

static int bio_out_write(BIO *b, const char *p, int n)
{
    BIO_clear_retry_flags(b);
    tlsrec *r = BIO_get_data(b);
    if (n >= 0 && tlsrec_on(r)) { /* records of OpenSSL's after we took over: sealed again */
        long k = tlsrec_translate(r, (const uint8_t *)p, (size_t)n, cipher.buf + cipher.len,
                                  TP_CIPHER_CAP - cipher.len);
        if (k < 0) {
            cipher.overflow = 2;
            return -1;
        }
        cipher.len += (size_t)k;
        return n;
    }
    if (n < 0 || (size_t)n > TP_CIPHER_CAP - cipher.len) {
        cipher.overflow = 1; /* cannot happen with the sizes above */
        return -1;
    }
    memcpy(cipher.buf + cipher.len, p, (size_t)n);
    cipher.len += (size_t)n;
    if (r) tlsrec_count(r, (const uint8_t *)p, (size_t)n);
    return n;
}

static int bio_out_destroy(BIO *b)
{
    tlsrec_free(BIO_get_data(b));
    BIO_set_data(b, NULL);
    return 1;
}

static long bio_out_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    /* flushing is the caller's: every SSL call is followed by out_push() */
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_out_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* The output BIO's method, made once; none when this kernel can do TLS
 * sends (the "tls" upper layer protocol): then the socket BIO stays, for
 * kernel TLS and SSL_sendfile. */
static BIO_METHOD *bio_out_method;
static int bio_out_type;
static int own_records; /* records sealed by tlsrec.c (unless LOOM_OPENSSL_RECORDS=1) */
static pthread_once_t bio_out_once = PTHREAD_ONCE_INIT;

static void bio_out_init(void)
{
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
    char line[256] = "";
    if (f) {
        if (!fgets(line, sizeof(line), f)) line[0] = 0;
        fclose(f);
    }
    if (strstr(line, "tls") || access("/sys/module/tls", F_OK) == 0) return;
    bio_out_type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK;
    BIO_METHOD *m = BIO_meth_new(bio_out_type, "loom output");
    if (m && BIO_meth_set_write(m, bio_out_write) == 1 && BIO_meth_set_ctrl(m, bio_out_ctrl) == 1 &&
        BIO_meth_set_create(m, bio_out_create) == 1 &&
        BIO_meth_set_destroy(m, bio_out_destroy) == 1)
        bio_out_method = m;
    const char *env = getenv("LOOM_OPENSSL_RECORDS");
    own_records = bio_out_method && !(env && !strcmp(env, "1"));
}

/* OpenSSL's key log: the secret our records are sealed with (tlsrec.h). */
static void keylog(const SSL *ssl, const char *line)
{
    BIO *b = SSL_get_wbio(ssl);
    if (!b || BIO_method_type(b) != bio_out_type) return;
    tlsrec *r = BIO_get_data(b), *n = tlsrec_keylog(r, SSL_is_server(ssl), line);
    if (n != r) BIO_set_data(b, n);
}

void tp_prepare_ctx(SSL_CTX *ctx)
{
    pthread_once(&bio_out_once, bio_out_init);
    if (own_records) SSL_CTX_set_keylog_callback(ctx, keylog);
}

/* The reason for the last failure of any of this thread's pipes: read at
 * once by whoever saw the failure, so one buffer serves them all (160
 * octets less per connection). */
static _Thread_local char errbuf[TP_ERR_MAX];

void tp_init(transport *t, int fd)
{
    memset(t, 0, sizeof(*t));
    t->err = errbuf;
    errbuf[0] = 0;
    t->fd = fd;
    t->handshaken = 1;
}

static void set_err(transport *t, const char *what)
{
    unsigned long e = ERR_get_error();
    if (e) {
        char buf[120];
        ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(t->err, TP_ERR_MAX, "%s: %s", what, buf);
    } else if (errno) {
        snprintf(t->err, TP_ERR_MAX, "%s: %s", what, strerror(errno));
    } else {
        snprintf(t->err, TP_ERR_MAX, "%s", what);
    }
}

int tp_init_tls(transport *t, int fd, SSL_CTX *ctx, int server, const char *sni,
                const char *verify_host)
{
    tp_init(t, fd);
    t->handshaken = 0;
    t->ssl = SSL_new(ctx);
    if (!t->ssl || SSL_set_fd(t->ssl, fd) != 1) {
        set_err(t, "TLS");
        return TP_ERROR;
    }
    pthread_once(&bio_out_once, bio_out_init);
    if (bio_out_method) {
        BIO *out = BIO_new(bio_out_method);
        if (!out) {
            set_err(t, "TLS");
            return TP_ERROR;
        }
        SSL_set0_wbio(t->ssl, out); /* the socket BIO stays the read side */
        t->batched = 1;
    }
    if (server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        if (sni) SSL_set_tlsext_host_name(t->ssl, sni);
        if (verify_host) SSL_set1_host(t->ssl, verify_host);
    }
    return 0;
}

static int out_push(transport *t);

int tp_handshake(transport *t)
{
    if (t->handshaken) return TP_DONE;
    int fl = tp_flush(t); /* a flight the socket did not take yet */
    if (fl == TP_ERROR) return TP_ERROR;
    if (fl == TP_AGAIN) {
        t->want_write = 1;
        return TP_AGAIN;
    }
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(t->ssl);
    int e = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, rc);
    int saved_errno = errno;  /* the handshake's, not the send's below */
    int pushed = out_push(t); /* our flight, or an alert */
    errno = saved_errno;
    if (pushed == TP_ERROR && (rc == 1 || e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE))
        return TP_ERROR;
    if (rc == 1) {
        t->handshaken = 1;
        t->want_write = pushed == TP_AGAIN;
        t->ktls = (uint8_t)tls_ktls_send(t->ssl);
        if (t->batched) { /* our records from now on, or OpenSSL's */
            BIO *b = SSL_get_wbio(t->ssl);
            tlsrec *r = BIO_get_data(b);
            if (tlsrec_start(r, t->ssl) == 0) {
                t->rec = r;
            } else if (r) {
                tlsrec_free(r);
                BIO_set_data(b, NULL);
            }
        }
        return TP_DONE;
    }
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        t->want_write = e == SSL_ERROR_WANT_WRITE || pushed == TP_AGAIN;
        return TP_AGAIN;
    }
    if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL)
        t->alert_no_alpn = 1;
    set_err(t,
            e == SSL_ERROR_SYSCALL && !errno ? "TLS handshake: the peer closed" : "TLS handshake");
    return TP_ERROR;
}

const char *tp_alpn(const transport *t)
{
    static __thread char buf[32];
    if (!t->ssl) return "";
    const unsigned char *p;
    unsigned len;
    SSL_get0_alpn_selected(t->ssl, &p, &len);
    if (len >= sizeof(buf)) len = sizeof(buf) - 1;
    memcpy(buf, p ? p : (const unsigned char *)"", len);
    buf[len] = 0;
    return buf;
}

const char *tp_tls_version(const transport *t)
{
    return t->ssl ? SSL_get_version(t->ssl) : "";
}

const char *tp_tls_cipher(const transport *t)
{
    return t->ssl ? SSL_get_cipher_name(t->ssl) : "";
}

long tp_verify_result(const transport *t)
{
    return t->ssl ? SSL_get_verify_result(t->ssl) : X509_V_OK;
}

ssize_t tp_read(transport *t, void *buf, size_t cap)
{
    if (t->ssl) {
        ERR_clear_error();
        errno = 0;
        int k = SSL_read(t->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
        int e = k > 0 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, k);
        if (cipher.len || cipher.overflow) { /* an answer of TLS's own (a key update, an alert) */
            int saved_errno = errno;         /* the read's, not the send's */
            int pushed = out_push(t);
            if (pushed == TP_ERROR) return TP_ERROR;
            if (pushed == TP_AGAIN) t->want_write = 1;
            errno = saved_errno;
        }
        if (k > 0) {
            t->bytes_in += (uint64_t)k;
            t->starved = 0;
            return k;
        }
        if (e == SSL_ERROR_WANT_READ) {
            t->starved = 1;
            return TP_AGAIN;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            t->want_write = 1;
            return TP_AGAIN;
        }
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) return TP_EOF;
        set_err(t, "TLS read");
        return TP_ERROR;
    }
    ssize_t n = recv(t->fd, buf, cap, 0);
    if (n > 0) {
        t->bytes_in += (uint64_t)n;
        return n;
    }
    if (n == 0) return TP_EOF;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return TP_AGAIN;
    if (errno == ECONNRESET) return TP_EOF;
    set_err(t, "read");
    return TP_ERROR;
}

int tp_pending(const transport *t)
{
    /* decrypted octets, or records read ahead from the socket. Not the
     * start of a record whose rest has yet to come: OpenSSL went to the
     * socket for more (starved) only because no whole record was left,
     * and the socket will say when the rest comes. (Counting that part
     * made a connection whose peer sends a record slowly, or a slow link,
     * read again and again in a loop: 100 % of a core.) */
    return t->ssl && (SSL_pending(t->ssl) > 0 || (!t->starved && SSL_has_pending(t->ssl)));
}

size_t tp_unsent(const transport *t)
{
    return t->stage_len - t->stage_off;
}

/* Keeps n octets for when the socket takes them, in the leftover buffer,
 * which grows to fit and never past TP_LEFT_MAX: 0, or TP_ERROR (said). */
static int stage_append(transport *t, const uint8_t *p, size_t n)
{
    if (t->stage_off && t->stage_off == t->stage_len) t->stage_off = t->stage_len = 0;
    if (t->stage_off && t->stage_len + n > t->stage_cap) {
        memmove(t->stage, t->stage + t->stage_off, t->stage_len - t->stage_off);
        t->stage_len -= t->stage_off;
        t->stage_off = 0;
    }
    if (t->stage_len + n > t->stage_cap) {
        if (t->stage_len + n > TP_LEFT_MAX) {
            snprintf(t->err, TP_ERR_MAX, "output backlog over %d octets", TP_LEFT_MAX);
            return TP_ERROR;
        }
        size_t cap = t->stage_cap ? t->stage_cap * 2 : 16 * 1024;
        while (cap < t->stage_len + n)
            cap *= 2;
        if (cap > TP_LEFT_MAX) cap = TP_LEFT_MAX;
        uint8_t *q = realloc(t->stage, cap);
        if (!q) {
            snprintf(t->err, TP_ERR_MAX, "out of memory");
            return TP_ERROR;
        }
        t->stage = q;
        t->stage_cap = cap;
    }
    memcpy(t->stage + t->stage_len, p, n);
    t->stage_len += n;
    return 0;
}

/* Writes octets to the socket (cleartext, or TLS records already made), or
 * through SSL_write when the socket BIO is TLS's write side: the count
 * written (maybe 0), or TP_ERROR. Through SSL_write, a write that could not
 * finish must be retried with the same octets (they stay staged). */
static ssize_t raw_write(transport *t, const uint8_t *p, size_t n)
{
    if (t->ssl && !t->batched) {
        ERR_clear_error();
        errno = 0;
        int k = SSL_write(t->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
        if (k > 0) return k;
        int e = SSL_get_error(t->ssl, k);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            t->want_write = e == SSL_ERROR_WANT_WRITE;
            return 0;
        }
        set_err(t, "TLS write");
        return TP_ERROR;
    }
    ssize_t k = send(t->fd, p, n, MSG_NOSIGNAL);
    if (k >= 0) return k;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        t->want_write = 1;
        return 0;
    }
    set_err(t, "write");
    return TP_ERROR;
}

int tp_flush(transport *t)
{
    while (t->stage_off < t->stage_len) {
        ssize_t k = raw_write(t, t->stage + t->stage_off, t->stage_len - t->stage_off);
        if (k < 0) return TP_ERROR;
        if (k == 0) return TP_AGAIN;
        t->stage_off += (size_t)k;
        if (!t->batched) t->bytes_out += (uint64_t)k; /* batched: counted when encrypted */
    }
    /* drained: the leftover buffer goes back, so an idle connection holds
     * none (it is needed only when the socket is full) */
    if (t->stage) {
        free(t->stage);
        t->stage = NULL;
        t->stage_cap = 0;
    }
    t->stage_off = t->stage_len = 0;
    t->want_write = 0;
    return TP_DONE;
}

/* Dynamic record sizing. A connection's first records, and its first
 * after a second of quiet, are small enough for one TCP segment each: a
 * 16 KiB record that straddles the initial congestion window (10 segments,
 * RFC 6928) cannot be decrypted until its tail comes a round trip later,
 * and with it the response head at its start. After TP_SMALL_RECORDS of
 * them (about 54 KB, by when the window has grown), records are full size
 * again: fewer per octet, cheaper to make. (h2o and Cloudflare's nginx do
 * the same; loom bench --page shows the round trip it saves.) */
#define TP_SMALL_RECORD  1369 /* 1460 - IPv6, TCP options, TLS 1.3's 22 octets */
#define TP_SMALL_RECORDS 40
#define TP_QUIET_MS      1000

/* Marks the start of a run of records: after a quiet spell, the next
 * ones are small again. */
static void records_begin(transport *t)
{
    uint32_t now = (uint32_t)loop_now_ms();
    if (now - t->last_out_ms > TP_QUIET_MS) t->small_left = TP_SMALL_RECORDS;
    t->last_out_ms = now;
}

/* The plaintext length of the next record when n octets wait: a small
 * record while they last, and no more than our records take. With our
 * records, first a KeyUpdate when the key has sealed its share (RFC 8446
 * §5.5). 0 when that failed (t->err says why). */
static size_t record_len(transport *t, size_t n)
{
    size_t len = n;
    if (t->small_left && len > TP_SMALL_RECORD) {
        len = TP_SMALL_RECORD;
        t->small_left--;
    }
    if (!t->rec) return len;
    if (tlsrec_wants_update(t->rec)) {
        /* a KeyUpdate of OpenSSL's, sealed again in our sequence
         * (bio_out_write), and both move to the next key */
        ERR_clear_error();
        if (SSL_key_update(t->ssl, SSL_KEY_UPDATE_NOT_REQUESTED) != 1 ||
            SSL_do_handshake(t->ssl) != 1 || cipher.overflow || tlsrec_wants_update(t->rec)) {
            cipher.len = 0;
            cipher.overflow = 0;
            set_err(t, "TLS key update");
            return 0;
        }
    }
    return len > tlsrec_max(t->rec) ? tlsrec_max(t->rec) : len;
}

/* One record of ours from the pieces v[0..nv) (len octets) into this
 * thread's record buffer. */
static int record_seal(transport *t, const struct iovec *v, size_t nv, size_t len)
{
    size_t w = TP_CIPHER_CAP - cipher.len < len + TLSREC_OVERHEAD
                   ? 0
                   : tlsrec_sealv(t->rec, v, nv, len, cipher.buf + cipher.len);
    if (!w) {
        cipher.len = 0;
        snprintf(t->err, TP_ERR_MAX, "TLS write: cannot seal a record");
        return TP_ERROR;
    }
    cipher.len += w;
    t->bytes_out += (uint64_t)len;
    return 0;
}

/* Encrypts n octets (at most TP_STAGE_MAX) into this thread's record
 * buffer; out_push() sends them. */
static int tls_put(transport *t, const uint8_t *p, size_t n)
{
    records_begin(t);
    while (n) { /* a record at a time with SSL_MODE_ENABLE_PARTIAL_WRITE */
        size_t len = record_len(t, n);
        if (!len) return TP_ERROR;
        if (t->rec) { /* sealed here, straight into the batch */
            struct iovec v = {(void *)(uintptr_t)p, len};
            if (record_seal(t, &v, 1, len) < 0) return TP_ERROR;
            p += len;
            n -= len;
            continue;
        }
        ERR_clear_error();
        errno = 0;
        int k = SSL_write(t->ssl, p, (int)len);
        if (k <= 0) {
            cipher.len = 0;
            cipher.overflow = 0;
            set_err(t, "TLS write");
            return TP_ERROR;
        }
        t->bytes_out += (uint64_t)k;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Pieces in memory this long or longer are read in place by the cipher;
 * shorter ones (frame headers, header blocks, small bodies) are copied
 * together first: a copy costs less than a seam between pieces. */
#define SEAL_IN_PLACE 4096

/* Our records straight from the engine's pieces out[0..k), until they are
 * all sealed or a batch is full: a long piece in memory (a cached file) is
 * read in place by the cipher; short pieces, and a file's octets, are read
 * into `plain` first. What is sealed is told to the engine as sent; the
 * rest it gives again. Each piece is clipped to *limit already. */
static int seal_pieces(transport *t, loom_conn *c, const loom_out *out, size_t k, size_t *limit)
{
    records_begin(t);
    size_t i = 0, off = 0, rest = 0; /* the next octet: piece i, off octets in */
    for (size_t j = 0; j < k; j++)
        rest += out[j].len;
    while (i < k && cipher.len < TP_BATCH) {
        size_t max = record_len(t, rest);
        if (!max) return TP_ERROR;
        struct iovec v[64];
        size_t nv = 0, len = 0, staged = 0;
        while (i < k && len < max && nv < 64) {
            size_t take = out[i].len - off < max - len ? out[i].len - off : max - len;
            const uint8_t *p = out[i].base + off;
            if (out[i].fd >= 0) { /* max is at most a record: plain has room */
                ssize_t n = pread(out[i].fd, plain + staged, take, (off_t)(out[i].off + off));
                if (n <= 0) {
                    snprintf(t->err, TP_ERR_MAX, "a file shrank while being sent");
                    return TP_ERROR;
                }
                take = (size_t)n;
                p = plain + staged;
                staged += take;
            } else if (take < SEAL_IN_PLACE) {
                memcpy(plain + staged, p, take);
                p = plain + staged;
                staged += take;
            }
            if (nv && (const uint8_t *)v[nv - 1].iov_base + v[nv - 1].iov_len == p) {
                v[nv - 1].iov_len += take; /* after the last: one piece */
            } else {
                v[nv].iov_base = (void *)(uintptr_t)p;
                v[nv++].iov_len = take;
            }
            len += take;
            off += take;
            if (off == out[i].len) {
                i++;
                off = 0;
            }
        }
        if (record_seal(t, v, nv, len) < 0) return TP_ERROR;
        rest -= len;
        loom_conn_sent(c, len);
        if (*limit != SIZE_MAX) *limit -= len;
    }
    return 0;
}

/* Writes n octets straight to the socket when nothing waits before them
 * (cleartext, or TLS records already made), keeps what it does not take,
 * and flushes what waits. */
static int write_or_keep(transport *t, const uint8_t *p, size_t n)
{
    if (n && t->stage_off == t->stage_len && (!t->ssl || t->batched)) {
        ssize_t k = raw_write(t, p, n);
        if (k < 0) return TP_ERROR;
        if (!t->batched) t->bytes_out += (uint64_t)k; /* batched: counted when encrypted */
        p += k;
        n -= (size_t)k;
    }
    if (n && stage_append(t, p, n) < 0) return TP_ERROR;
    return tp_flush(t);
}

/* Sends the records TLS has made (this thread's buffer) after what the
 * connection has left over; what the socket does not take is kept. Leaves
 * the thread's buffer empty. */
static int out_push(transport *t)
{
    size_t n = cipher.len;
    cipher.len = 0;
    if (cipher.overflow) {
        if (cipher.overflow == 2)
            snprintf(t->err, TP_ERR_MAX, "TLS: a record of OpenSSL's could not be sealed again");
        else
            snprintf(t->err, TP_ERR_MAX, "TLS output over %d octets at once", TP_CIPHER_CAP);
        cipher.overflow = 0;
        return TP_ERROR;
    }
    return write_or_keep(t, cipher.buf, n);
}

void tp_keep_buffers(transport *t, int keep)
{
    if (!t->ssl) return;
    if (keep)
        SSL_clear_mode(t->ssl, SSL_MODE_RELEASE_BUFFERS);
    else
        SSL_set_mode(t->ssl, SSL_MODE_RELEASE_BUFFERS);
}

int tp_quiet(transport *t)
{
    if (!t->ssl || !t->handshaken || t->stage_off != t->stage_len || SSL_has_pending(t->ssl))
        return 0;
    return SSL_free_buffers(t->ssl) == 1;
}

int tp_shutdown_write(transport *t)
{
    if (t->ssl && t->handshaken) {
        SSL_shutdown(t->ssl); /* close_notify, no waiting */
        if (t->batched) out_push(t);
    }
    return shutdown(t->fd, SHUT_WR);
}

int tp_write(transport *t, const void *p, size_t n)
{
    int rc = tp_flush(t);
    if (rc == TP_ERROR) return rc;
    const uint8_t *q = p;
    if (t->batched) { /* encrypted now, sent in batches */
        while (n) {
            size_t take = n < TP_STAGE_MAX ? n : TP_STAGE_MAX;
            if (tls_put(t, q, take) < 0) return TP_ERROR;
            q += take;
            n -= take;
            if (n && cipher.len >= TP_BATCH && out_push(t) == TP_ERROR) return TP_ERROR;
        }
        return out_push(t);
    }
    return write_or_keep(t, q, n);
}

int tp_send_file(transport *t, int fd, uint64_t *off, uint64_t *left)
{
    int rc = tp_flush(t);
    if (rc != TP_DONE) return rc;
    while (*left) {
        if (!t->ssl || t->ktls) {
            off_t o = (off_t)*off;
            ssize_t n = t->ssl ? SSL_sendfile(t->ssl, fd, o, *left, 0)
                               : sendfile(t->fd, fd, &o, *left > (1u << 30) ? 1u << 30 : *left);
            if (n < 0) {
                if (t->ssl) {
                    int e = SSL_get_error(t->ssl, (int)n);
                    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) return TP_AGAIN;
                    set_err(t, "TLS sendfile");
                    return TP_ERROR;
                }
                if (errno == EAGAIN || errno == EINTR) {
                    t->want_write = 1;
                    return TP_AGAIN;
                }
                set_err(t, "sendfile");
                return TP_ERROR;
            }
            if (n == 0) {
                snprintf(t->err, TP_ERR_MAX, "the file shrank while being sent");
                return TP_ERROR;
            }
            *off += (uint64_t)n;
            *left -= (uint64_t)n;
            t->bytes_out += (uint64_t)n;
            continue;
        }
        /* TLS without the kernel: read, encrypt, send (in batches) */
        size_t take = *left < TP_STAGE_MAX ? (size_t)*left : TP_STAGE_MAX;
        ssize_t n = pread(fd, plain, take, (off_t)*off);
        if (n <= 0) {
            snprintf(t->err, TP_ERR_MAX, "the file shrank while being sent");
            return TP_ERROR;
        }
        *off += (uint64_t)n;
        *left -= (uint64_t)n;
        if (!t->batched) {
            rc = tp_write(t, plain, (size_t)n);
            if (rc != TP_DONE) return rc;
            continue;
        }
        if (tls_put(t, plain, (size_t)n) < 0) return TP_ERROR;
        if (*left && cipher.len < TP_BATCH) continue;
        rc = out_push(t);
        if (rc != TP_DONE) return rc;
    }
    return TP_DONE;
}

/* The pieces clipped to at most limit octets in all (the pieces, not the
 * engine's view: it is told only what was written): how many are left. */
static size_t clip(loom_out *out, size_t k, size_t limit)
{
    size_t i;
    for (i = 0; i < k && limit; i++) {
        if (out[i].len > limit) out[i].len = limit;
        limit -= out[i].len;
    }
    return i;
}

int tp_send_conn(transport *t, loom_conn *c, size_t limit)
{
    for (;;) {
        int rc = tp_flush(t);
        if (rc != TP_DONE) return rc;
        if (limit == 0) return TP_AGAIN;
        loom_out out[64];
        size_t k = loom_conn_send(c, out, 64);
        if (k == 0) return TP_DONE;
        k = clip(out, k, limit);
        size_t i;
        if (!t->ssl) {
            if (out[0].fd >= 0) {
                off_t off = (off_t)out[0].off;
                ssize_t n = sendfile(t->fd, out[0].fd, &off, out[0].len);
                if (n < 0) {
                    if (errno == EAGAIN || errno == EINTR) {
                        t->want_write = 1;
                        return TP_AGAIN;
                    }
                    set_err(t, "sendfile");
                    return TP_ERROR;
                }
                if (n == 0) {
                    snprintf(t->err, TP_ERR_MAX, "a file shrank while being sent");
                    return TP_ERROR;
                }
                loom_conn_sent(c, (size_t)n);
                t->bytes_out += (uint64_t)n;
                if (limit != SIZE_MAX) limit -= (size_t)n;
                continue;
            }
            struct iovec iov[64];
            size_t ni = 0, total = 0;
            for (; ni < k && out[ni].fd < 0; ni++) {
                iov[ni].iov_base = (void *)out[ni].base;
                iov[ni].iov_len = out[ni].len;
                total += out[ni].len;
            }
            struct msghdr mh = {.msg_iov = iov, .msg_iovlen = ni};
            ssize_t n = sendmsg(t->fd, &mh, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    t->want_write = 1;
                    return TP_AGAIN;
                }
                set_err(t, "write");
                return TP_ERROR;
            }
            loom_conn_sent(c, (size_t)n);
            t->bytes_out += (uint64_t)n;
            if (limit != SIZE_MAX) limit -= (size_t)n;
            if ((size_t)n < total) {
                t->want_write = 1;
                return TP_AGAIN;
            }
            continue;
        }
        if (t->ktls && out[0].fd >= 0) {
            ossl_ssize_t n = SSL_sendfile(t->ssl, out[0].fd, (off_t)out[0].off, out[0].len, 0);
            if (n < 0) {
                int e = SSL_get_error(t->ssl, (int)n);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) return TP_AGAIN;
                set_err(t, "TLS sendfile");
                return TP_ERROR;
            }
            loom_conn_sent(c, (size_t)n);
            t->bytes_out += (uint64_t)n;
            if (limit != SIZE_MAX) limit -= (size_t)n;
            continue;
        }
        /* TLS: our records sealed straight from the pieces (seal_pieces);
         * OpenSSL's made from the pieces gathered into plaintext of up to
         * TP_STAGE_MAX. Sent once TP_BATCH of records are made (or the
         * engine has no more). */
        int more = 1;
        for (;;) {
            if (t->rec && t->batched) {
                if (seal_pieces(t, c, out, k, &limit) < 0) return TP_ERROR;
            } else {
                size_t len = 0;
                for (i = 0; i < k && len < TP_STAGE_MAX; i++) {
                    size_t take = out[i].len < TP_STAGE_MAX - len ? out[i].len : TP_STAGE_MAX - len;
                    if (out[i].fd >= 0) {
                        ssize_t n = pread(out[i].fd, plain + len, take, (off_t)out[i].off);
                        if (n <= 0) {
                            snprintf(t->err, TP_ERR_MAX, "a file shrank while being sent");
                            return TP_ERROR;
                        }
                        take = (size_t)n;
                    } else {
                        memcpy(plain + len, out[i].base, take);
                    }
                    len += take;
                    loom_conn_sent(c, take);
                    if (limit != SIZE_MAX) limit -= take;
                    if (take < out[i].len) break;
                    if (t->ktls && i + 1 < k && out[i + 1].fd >= 0) break;
                }
                if (!t->batched) {
                    rc = tp_write(t, plain, len);
                    if (rc != TP_DONE) return rc;
                    break;
                }
                if (tls_put(t, plain, len) < 0) return TP_ERROR;
            }
            if (cipher.len >= TP_BATCH || limit == 0) break;
            k = loom_conn_send(c, out, 64);
            if (k == 0) {
                more = 0;
                break;
            }
            k = clip(out, k, limit);
        }
        if (t->batched) {
            rc = out_push(t);
            if (rc != TP_DONE) return rc;
            if (!more) return TP_DONE;
        }
    }
}

void tp_plain(transport *t)
{
    SSL_free(t->ssl);
    t->ssl = NULL;
    t->rec = NULL;
    t->handshaken = 1;
    t->batched = 0;
    t->ktls = 0;
}

void tp_close(transport *t)
{
    if (t->ssl) {
        /* close_notify if the socket takes it now; no waiting */
        if (t->handshaken) SSL_shutdown(t->ssl);
        if (cipher.len && t->stage_off == t->stage_len && !cipher.overflow)
            (void)!send(t->fd, cipher.buf, cipher.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        cipher.len = 0;
        cipher.overflow = 0; /* this connection's, not the next one's */
        SSL_free(t->ssl);    /* and with its BIO, t->rec */
        t->ssl = NULL;
        t->rec = NULL;
    }
    if (t->fd >= 0) close(t->fd);
    t->fd = -1;
    free(t->stage);
    t->stage = NULL;
    t->stage_cap = t->stage_len = t->stage_off = 0;
}
