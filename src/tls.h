/* TLS for loom serve/get: OpenSSL 3 contexts with ALPN, the cipher rules of
 * RFC 9113 §9.2, a cached self-signed certificate, kTLS where offered. */
#ifndef LOOM_SRC_TLS_H
#define LOOM_SRC_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

/* A server context. cert/key NULL: a self-signed certificate for localhost,
 * made on first use and cached under the user's cache folder. On failure
 * returns NULL with a one-line reason in err. */
SSL_CTX *tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen);

/* A client context offering h2 (and http/1.1 when h1 is set). */
SSL_CTX *tls_client_ctx(int verify, const char *cafile, int h1, char *err, size_t errlen);

/* The user's cache folder for loom ($XDG_CACHE_HOME/loom or ~/.cache/loom),
 * created if missing. */
const char *tls_cache_dir(void);

/* Whether the connection sends through kernel TLS (so SSL_sendfile works). */
int tls_ktls_send(SSL *ssl);

#endif
