/* One non-blocking pipe, a socket or TLS over it, for every connection of
 * every command (server, client, proxy): the handshake (ALPN, SNI), reads
 * into the caller's buffer, gathered writes, file bodies (sendfile in
 * cleartext, SSL_sendfile with kernel TLS), and what the pipe waits for.
 * Nothing else in the program reads or writes a socket. */
#ifndef LOOM_SRC_TRANSPORT_H
#define LOOM_SRC_TRANSPORT_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loom/conn.h"

/* Results of the calls below. */
enum {
    TP_AGAIN = 0,  /* nothing now: wait for the socket (tp->want_write says which way) */
    TP_DONE = 1,   /* all of it went (writes), or the handshake finished */
    TP_EOF = -2,   /* the peer closed (reads) */
    TP_ERROR = -1, /* failed: tp->err says why */
};

#define TP_STAGE_MAX (64 * 1024)  /* TLS output gathered per SSL_write */
#define TP_LEFT_MAX  (512 * 1024) /* octets left over when the socket is full, at most */
#define TP_ERR_MAX   160

typedef struct {
    SSL *ssl; /* NULL: cleartext */
    int fd;
    uint8_t ktls;          /* the kernel does TLS sends: SSL_sendfile works */
    uint8_t handshaken;    /* TLS: the handshake is done */
    uint8_t want_write;    /* the last call waits for the socket to be writable */
    uint8_t alert_no_alpn; /* the handshake failed: the peer has none of our ALPN protocols */
    uint8_t batched;       /* TLS records are made into a buffer and sent in batches (not
                              one write() each through the socket BIO) */
    uint8_t small_left;    /* TLS: records still to be made one TCP segment small */
    uint8_t starved;       /* TLS: the last read wanted more from the socket (what is
                              read ahead is part of a record, not a whole one) */
    /* output the socket did not take yet: cleartext, TLS records (batched),
     * or plaintext for SSL_write (socket BIO); allocated only while some is
     * left, at most TP_LEFT_MAX */
    uint8_t *stage;
    uint32_t stage_len, stage_off, stage_cap;
    struct tlsrec *rec;           /* TLS 1.3 after the handshake: our records (tlsrec.h), or NULL */
    uint32_t last_out_ms;         /* TLS: when records were last made (loop_now_ms, wrapping) */
    uint64_t bytes_in, bytes_out; /* octets on the socket, both ways (after TLS: the
                                      application's octets) */
    char *err; /* why the last call failed: this thread's buffer, read it at once */
} transport;

/* Readies a TLS context for the pipes made from it: its key log gives
 * tlsrec.c the secret to seal our records with after the handshake
 * (none when the kernel does TLS, or LOOM_OPENSSL_RECORDS=1: then
 * OpenSSL makes every record). */
void tp_prepare_ctx(SSL_CTX *ctx);

/* A cleartext pipe over a connected non-blocking socket. */
void tp_init(transport *t, int fd);
/* A TLS pipe: server (accepting) or client (sni: the name to send, NULL
 * for none; verify_host: the name the certificate must carry, NULL for no
 * check). Returns 0, or TP_ERROR. */
int tp_init_tls(transport *t, int fd, SSL_CTX *ctx, int server, const char *sni,
                const char *verify_host);
/* Drives the TLS handshake: TP_DONE, TP_AGAIN, or TP_ERROR (a one-line
 * reason in t->err; t->alert_no_alpn when the peer refused for want of a
 * protocol we offer). Cleartext: TP_DONE at once. */
int tp_handshake(transport *t);
/* The protocol ALPN chose ("h2", "http/1.1"), or "" (none, or cleartext). */
const char *tp_alpn(const transport *t);
/* TLS version and cipher, for -v; "" in cleartext. */
const char *tp_tls_version(const transport *t);
const char *tp_tls_cipher(const transport *t);
/* TLS: the peer's certificate verified (or we did not ask). */
long tp_verify_result(const transport *t);

/* Reads up to cap octets: the count, TP_AGAIN, TP_EOF or TP_ERROR. */
ssize_t tp_read(transport *t, void *buf, size_t cap);
/* Octets TLS has decrypted and not handed out yet: read them before
 * waiting on the socket (epoll does not see them). */
int tp_pending(const transport *t);

/* Writes n octets, or what of them the socket takes; the rest is kept and
 * goes with the next write or tp_flush(). TP_DONE when nothing is left,
 * TP_AGAIN when some is, TP_ERROR. Fails (TP_ERROR) when more than
 * TP_LEFT_MAX octets would be left waiting. */
int tp_write(transport *t, const void *p, size_t n);
int tp_flush(transport *t);
/* Octets written but not yet on the socket. */
size_t tp_unsent(const transport *t);

/* Moves what the engine has to send to the socket: cleartext as gathered
 * writes straight from the engine's pieces and sendfile for file pieces;
 * TLS as records sealed straight from the pieces (ours, TLS 1.3) or made
 * by SSL_write from them gathered (up to TP_STAGE_MAX), a batch of records
 * a send() (or SSL_sendfile with kernel TLS). At most `limit` octets (SIZE_MAX:
 * no limit). TP_DONE when the engine has nothing more, TP_AGAIN when the socket is full (or the
 * limit reached), TP_ERROR. */
int tp_send_conn(transport *t, loom_conn *c, size_t limit);

/* Sends *left octets of file fd from *off (both advance): TP_DONE,
 * TP_AGAIN, TP_ERROR (the file shrank, or the socket failed). */
int tp_send_file(transport *t, int fd, uint64_t *off, uint64_t *left);

/* TLS's record buffers (64 KiB read ahead, a record's worth for
 * writing): kept between reads and writes (keep: a busy connection), or
 * released after each use (SSL_MODE_RELEASE_BUFFERS: an idle one holds
 * none, a busy one pays a malloc and a free per read and per write). */
void tp_keep_buffers(transport *t, int keep);
/* Frees the record buffers now unless octets are waiting in them: 1 when
 * freed. */
int tp_quiet(transport *t);
/* Ends the pipe: a TLS close_notify when it can go at once, then the
 * socket is closed. */
void tp_close(transport *t);
/* Drops TLS from a pipe whose handshake has not begun: it goes on in
 * cleartext (to answer a plain HTTP request sent to a TLS port). */
void tp_plain(transport *t);
/* Ends our direction only (close_notify, then a FIN); reading goes on:
 * for a lingering close, so that unread input does not turn the close
 * into a reset that destroys the response in flight. */
int tp_shutdown_write(transport *t);

#endif
