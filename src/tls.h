/* TLS for loom serve/get: OpenSSL 3 contexts with ALPN, the cipher rules of
 * RFC 9113 §9.2, a cached self-signed certificate, kTLS where offered. */
#ifndef LOOM_SRC_TLS_H
#define LOOM_SRC_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

/* What an operator sets of a server context (all optional). */
typedef struct {
    const char *min_version;   /* "1.2" (default) or "1.3" */
    const char *ciphers12;     /* the TLS 1.2 cipher list (OpenSSL syntax); NULL: loom's */
    const char *key_pass_file; /* the private key's passphrase: this file's first line */
    const char *client_ca;     /* clients must show a certificate these CAs (PEM) signed */
    const char *ticket_keys;   /* session ticket keys: 80 octets each (name 16, AES-256 32,
                                  HMAC-SHA256 32); the first encrypts, all decrypt */
    const char *ocsp;          /* an OCSP response (DER) stapled to every handshake */
} tls_server_opts;

/* A server context. cert/key NULL: a self-signed certificate for localhost,
 * made on first use and cached under the user's cache folder. On failure
 * returns NULL with a one-line reason in err. */
SSL_CTX *tls_server_ctx(const char *cert, const char *key, const tls_server_opts *t, char *err,
                        size_t errlen);

/* A client context offering h2 (and http/1.1 when h1 is set). */
SSL_CTX *tls_client_ctx(int verify, const char *cafile, int h1, char *err, size_t errlen);

/* The user's cache folder for loom ($XDG_CACHE_HOME/loom or ~/.cache/loom),
 * created if missing. */
const char *tls_cache_dir(void);

/* Whether the connection sends through kernel TLS (so SSL_sendfile works). */
int tls_ktls_send(SSL *ssl);

#endif
