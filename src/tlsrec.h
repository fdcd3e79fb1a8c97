/* TLS 1.3 records of our own for what a connection sends (RFC 8446 §5.2).
 *
 * OpenSSL does the handshake and everything it reads; once the handshake
 * is over, the records we send are sealed here, straight from the
 * caller's plaintext into the caller's output buffer. Through SSL_write
 * every octet was copied twice more (into OpenSSL's record buffer, then
 * out through the BIO) and each call paid OpenSSL's record layer; this is
 * what kernel TLS would take over, done in user space because this kernel
 * has none.
 *
 * OpenSSL's own writes after that (alerts, a KeyUpdate answering the
 * peer's) still reach the BIO: they are opened with OpenSSL's view of the
 * keys and sequence, and sealed again in ours, so the peer sees one
 * sequence of records. The write secret comes from OpenSSL's key log
 * callback; the records OpenSSL sealed under it before we took over (a
 * server's session tickets) are counted as they pass. */
#ifndef LOOM_SRC_TLSREC_H
#define LOOM_SRC_TLSREC_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct tlsrec tlsrec;

/* Octets a record adds to its plaintext: header, content type, tag. */
#define TLSREC_OVERHEAD (5 + 1 + 16)

/* The key log callback's line for ssl (server: SERVER_TRAFFIC_SECRET_0,
 * client: CLIENT_TRAFFIC_SECRET_0; other lines are ignored): keeps the
 * secret in *r (made when NULL) and starts counting the records OpenSSL
 * seals after it. Returns *r, or NULL when there is nothing to keep (or
 * no memory: then OpenSSL goes on making the records). */
tlsrec *tlsrec_keylog(tlsrec *r, int server, const char *line);

/* Counts the records in n octets OpenSSL writes (before tlsrec_start).
 * Returns 0, or -1 if they are not whole records (then we never take
 * over). */
int tlsrec_count(tlsrec *r, const uint8_t *p, size_t n);

/* At the end of the handshake: takes over the write side when the
 * connection is TLS 1.3 with a cipher we seal (AES-128/256-GCM,
 * ChaCha20-Poly1305) and the secret came. 0: from now on, records are
 * ours; -1: not taken over (OpenSSL goes on). */
int tlsrec_start(tlsrec *r, SSL *ssl);
int tlsrec_on(const tlsrec *r);

/* Whether the key has sealed enough records (RFC 8446 §5.5: 2^24 here)
 * that the caller should have OpenSSL send a KeyUpdate (SSL_key_update,
 * then SSL_do_handshake): its record passes through tlsrec_translate,
 * which moves us to the next secret too. */
int tlsrec_wants_update(const tlsrec *r);
/* Our next record's sequence number (for tests). */
uint64_t tlsrec_seq(const tlsrec *r);

/* The largest plaintext of one record (16,384, or less when the peer
 * asked for a maximum fragment length). */
size_t tlsrec_max(const tlsrec *r);

/* Seals n octets (at most tlsrec_max()) of application data, read in
 * place and in order from the pieces v[0..nv), as one record at out, which
 * has room for n + TLSREC_OVERHEAD: the octets written, or 0 when the
 * pieces hold fewer or the cipher failed. */
size_t tlsrec_sealv(tlsrec *r, const struct iovec *v, size_t nv, size_t n, uint8_t *out);

/* Whole records OpenSSL wrote after we took over, opened with its keys
 * and sequence and sealed again with ours into out (cap octets): the
 * octets written, or -1 (not whole records, failed to open, no room). A
 * KeyUpdate among them moves both views to the next secret (§4.6.3). */
long tlsrec_translate(tlsrec *r, const uint8_t *p, size_t n, uint8_t *out, size_t cap);

void tlsrec_free(tlsrec *r);

#endif
