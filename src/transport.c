/* The socket-or-TLS pipe. Non-blocking throughout: every call does what the
 * socket allows now and says what it waits for. */
#define _GNU_SOURCE
#include "transport.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tls.h"

void tp_init(transport *t, int fd)
{
    memset(t, 0, sizeof(*t));
    t->fd = fd;
    t->handshaken = 1;
}

static void set_err(transport *t, const char *what)
{
    unsigned long e = ERR_get_error();
    if (e) {
        char buf[120];
        ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(t->err, sizeof(t->err), "%s: %s", what, buf);
    } else if (errno) {
        snprintf(t->err, sizeof(t->err), "%s: %s", what, strerror(errno));
    } else {
        snprintf(t->err, sizeof(t->err), "%s", what);
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
    if (server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        if (sni) SSL_set_tlsext_host_name(t->ssl, sni);
        if (verify_host) SSL_set1_host(t->ssl, verify_host);
    }
    return 0;
}

int tp_handshake(transport *t)
{
    if (t->handshaken) return TP_DONE;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        t->handshaken = 1;
        t->want_write = 0;
        t->ktls = (uint8_t)tls_ktls_send(t->ssl);
        return TP_DONE;
    }
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        t->want_write = e == SSL_ERROR_WANT_WRITE;
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
        if (k > 0) {
            t->bytes_in += (uint64_t)k;
            return k;
        }
        int e = SSL_get_error(t->ssl, k);
        if (e == SSL_ERROR_WANT_READ) return TP_AGAIN;
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
    /* decrypted octets, or records read ahead from the socket */
    return t->ssl && SSL_has_pending(t->ssl);
}

size_t tp_unsent(const transport *t)
{
    return t->stage_len - t->stage_off;
}

static int stage_room(transport *t, size_t n)
{
    if (!t->stage && !(t->stage = malloc(TP_STAGE_MAX))) {
        snprintf(t->err, sizeof(t->err), "out of memory");
        return -1;
    }
    if (t->stage_off && t->stage_off == t->stage_len) t->stage_off = t->stage_len = 0;
    if (t->stage_len + n > TP_STAGE_MAX && t->stage_off) {
        memmove(t->stage, t->stage + t->stage_off, t->stage_len - t->stage_off);
        t->stage_len -= t->stage_off;
        t->stage_off = 0;
    }
    return t->stage_len + n <= TP_STAGE_MAX ? 0 : -1;
}

/* Writes raw octets to the socket or through TLS: the count written (maybe
 * 0), or TP_ERROR. With TLS, a write that could not finish must be retried
 * with the same octets (they stay staged). */
static ssize_t raw_write(transport *t, const uint8_t *p, size_t n)
{
    if (t->ssl) {
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
        t->bytes_out += (uint64_t)k;
    }
    /* drained: the staging buffer goes back, so an idle connection holds
     * none (64 KiB each otherwise; a malloc per batch costs far less than
     * the batch's SSL_write) */
    free(t->stage);
    t->stage = NULL;
    t->stage_off = t->stage_len = 0;
    t->want_write = 0;
    return TP_DONE;
}

int tp_shutdown_write(transport *t)
{
    if (t->ssl && t->handshaken) SSL_shutdown(t->ssl); /* close_notify, no waiting */
    return shutdown(t->fd, SHUT_WR);
}

int tp_write(transport *t, const void *p, size_t n)
{
    int rc = tp_flush(t);
    if (rc == TP_ERROR) return rc;
    const uint8_t *q = p;
    if (rc == TP_DONE && !t->ssl) { /* straight out, what the socket takes */
        ssize_t k = raw_write(t, q, n);
        if (k < 0) return TP_ERROR;
        t->bytes_out += (uint64_t)k;
        q += k;
        n -= (size_t)k;
        if (!n) return TP_DONE;
    }
    if (stage_room(t, n) < 0) {
        if (!t->err[0])
            snprintf(t->err, sizeof(t->err), "output backlog over %d octets", TP_STAGE_MAX);
        return TP_ERROR;
    }
    memcpy(t->stage + t->stage_len, q, n);
    t->stage_len += n;
    return tp_flush(t);
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
                snprintf(t->err, sizeof(t->err), "the file shrank while being sent");
                return TP_ERROR;
            }
            *off += (uint64_t)n;
            *left -= (uint64_t)n;
            t->bytes_out += (uint64_t)n;
            continue;
        }
        /* TLS without the kernel: read into the staging buffer, then send */
        if (stage_room(t, 1) < 0) return TP_ERROR;
        size_t room = TP_STAGE_MAX - t->stage_len;
        size_t take = *left < room ? (size_t)*left : room;
        ssize_t n = pread(fd, t->stage + t->stage_len, take, (off_t)*off);
        if (n <= 0) {
            snprintf(t->err, sizeof(t->err), "the file shrank while being sent");
            return TP_ERROR;
        }
        t->stage_len += (size_t)n;
        *off += (uint64_t)n;
        *left -= (uint64_t)n;
        rc = tp_flush(t);
        if (rc != TP_DONE) return rc;
    }
    return TP_DONE;
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
        /* never past the limit (the pieces are clipped, not the engine's
         * view: it is told only what was written) */
        size_t left = limit, i;
        for (i = 0; i < k && left; i++) {
            if (out[i].len > left) out[i].len = left;
            left -= out[i].len;
        }
        k = i;
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
                    snprintf(t->err, sizeof(t->err), "a file shrank while being sent");
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
        /* TLS: gather into the staging buffer, then one SSL_write */
        if (stage_room(t, 1) < 0) return TP_ERROR;
        size_t room = TP_STAGE_MAX - t->stage_len;
        for (i = 0; i < k && room; i++) {
            size_t take = out[i].len < room ? out[i].len : room;
            if (out[i].fd >= 0) {
                ssize_t n = pread(out[i].fd, t->stage + t->stage_len, take, (off_t)out[i].off);
                if (n <= 0) {
                    snprintf(t->err, sizeof(t->err), "a file shrank while being sent");
                    return TP_ERROR;
                }
                take = (size_t)n;
            } else {
                memcpy(t->stage + t->stage_len, out[i].base, take);
            }
            t->stage_len += take;
            room -= take;
            loom_conn_sent(c, take);
            if (limit != SIZE_MAX) limit -= take;
            if (take < out[i].len) break;
            if (t->ktls && i + 1 < k && out[i + 1].fd >= 0) break;
        }
    }
}

void tp_close(transport *t)
{
    if (t->ssl) {
        /* close_notify if the socket takes it now; no waiting */
        if (t->handshaken) SSL_shutdown(t->ssl);
        SSL_free(t->ssl);
        t->ssl = NULL;
    }
    if (t->fd >= 0) close(t->fd);
    t->fd = -1;
    free(t->stage);
    t->stage = NULL;
    t->stage_len = t->stage_off = 0;
}
