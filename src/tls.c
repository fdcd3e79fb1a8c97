/* TLS contexts. */
#define _GNU_SOURCE
#include "tls.h"
#include "transport.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const unsigned char alpn_h2[] = "\x02h2";
static const unsigned char alpn_both[] = "\x02h2\x08http/1.1";

/* ALPN: h2 first, then http/1.1 (RFC 9113 §3.2). */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    unsigned char *o;
    if (SSL_select_next_proto(&o, outlen, alpn_both, sizeof(alpn_both) - 1, in, inlen) ==
        OPENSSL_NPN_NEGOTIATED) {
        *out = o;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK; /* no ALPN in common: HTTP/1.1 by default */
}

static char cache_dir[4096];

static void make_cache_dir(void)
{
    const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (x && x[0])
        snprintf(cache_dir, sizeof(cache_dir), "%s/loom", x);
    else
        snprintf(cache_dir, sizeof(cache_dir), "%s/.cache/loom", home && home[0] ? home : "/tmp");
    /* create each level */
    for (char *p = cache_dir + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(cache_dir, 0755);
            *p = '/';
        }
    mkdir(cache_dir, 0700);
}

const char *tls_cache_dir(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_cache_dir);
    return cache_dir;
}

static void errstr(char *err, size_t n, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e) ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(err, n, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

/* Returns 0, or -1 with errno set when a file could not be written (0:
 * OpenSSL failed). */
static int make_self_signed(const char *cert, const char *key)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    int ok = 0;
    errno = 0;
    if (!pk || !x) goto out;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
    X509_set_pubkey(x, pk);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"loom demo", -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext =
        X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
    if (!ext) goto out;
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (!X509_sign(x, pk, EVP_sha256())) goto out;
    char tmp[4300];
    snprintf(tmp, sizeof(tmp), "%s.%d", key, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) goto out; /* errno says why */
    fchmod(fileno(f), 0600);
    ok = PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
    ok = fclose(f) == 0 && ok && rename(tmp, key) == 0;
    snprintf(tmp, sizeof(tmp), "%s.%d", cert, (int)getpid());
    f = fopen(tmp, "w");
    if (!f || !ok) goto out;
    ok = PEM_write_X509(f, x);
    ok = fclose(f) == 0 && ok && rename(tmp, cert) == 0;
out:;
    int e = errno;
    X509_free(x);
    EVP_PKEY_free(pk);
    errno = e;
    return ok ? 0 : -1;
}

static int cert_fresh(const char *cert)
{
    FILE *f = fopen(cert, "r");
    if (!f) return 0;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x) return 0;
    /* still valid for a day at least */
    time_t soon = time(NULL) + 24 * 3600;
    int ok = X509_cmp_time(X509_get0_notAfter(x), &soon) > 0;
    X509_free(x);
    return ok;
}

/* What server and client contexts share. Records are read from the
 * socket in large reads of 64 KiB (one syscall for many records), not a
 * header then a body each; the transport drains what was read ahead
 * (SSL_has_pending) before it waits on the socket again. After the
 * handshake, the records sent are our own (tp_prepare_ctx, transport.h). */
static void records_setup(SSL_CTX *ctx)
{
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, 64 * 1024);
    tp_prepare_ctx(ctx);
}

/* ---- session ticket keys from a file (several instances share them) ---- */

#define TICKET_KEY_LEN  80
#define TICKET_KEYS_MAX 8

typedef struct {
    int n;
    uint8_t k[TICKET_KEYS_MAX][TICKET_KEY_LEN]; /* name 16 | AES-256 key 32 | HMAC key 32 */
} ticket_keys;

static int keys_index = -1;

static void keys_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    if (ptr) OPENSSL_cleanse(ptr, sizeof(ticket_keys));
    free(ptr);
}

/* RFC 5077 §4's construction, as OpenSSL's own: AES-256-CBC and
 * HMAC-SHA256 with the named key. New tickets with the first key; a ticket
 * of another listed key is taken and renewed (2); of none, a full
 * handshake (0). */
static int ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *ectx,
                     EVP_MAC_CTX *hctx, int enc)
{
    const ticket_keys *tk = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), keys_index);
    if (!tk || !tk->n) return -1;
    const uint8_t *key = NULL;
    int which = 0;
    if (enc) {
        key = tk->k[0];
        memcpy(name, key, 16);
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) return -1;
    } else {
        for (which = 0; which < tk->n && memcmp(name, tk->k[which], 16); which++)
            ;
        if (which == tk->n) return 0;
        key = tk->k[which];
    }
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_octet_string("key", (void *)(uintptr_t)(key + 48), 32),
        OSSL_PARAM_construct_end()};
    char digest[] = "SHA256";
    OSSL_PARAM dp[2] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                        OSSL_PARAM_construct_end()};
    if (!EVP_MAC_CTX_set_params(hctx, dp) || !EVP_MAC_CTX_set_params(hctx, params)) return -1;
    if (enc) return EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, key + 16, iv) == 1 ? 1 : -1;
    if (EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, key + 16, iv) != 1) return -1;
    return which == 0 ? 1 : 2;
}

static int load_ticket_keys(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
    if (keys_index < 0)
        keys_index =
            CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL_CTX, 0, NULL, NULL, NULL, keys_free);
    ticket_keys *tk = calloc(1, sizeof(*tk));
    FILE *f = tk ? fopen(path, "rb") : NULL;
    if (!f) {
        snprintf(err, errlen, "cannot read ticket keys %s: %s", path, strerror(errno));
        free(tk);
        return -1;
    }
    uint8_t extra;
    size_t got = fread(tk->k, 1, sizeof(tk->k), f);
    int more = fread(&extra, 1, 1, f) == 1;
    fclose(f);
    if (got == 0 || got % TICKET_KEY_LEN || more) {
        snprintf(err, errlen,
                 "ticket keys %s: wanted 1 to %d keys of %d random octets each (e.g. openssl "
                 "rand 80 > FILE), got %zu%s octets",
                 path, TICKET_KEYS_MAX, TICKET_KEY_LEN, got, more ? " and more" : "");
        OPENSSL_cleanse(tk, sizeof(*tk));
        free(tk);
        return -1;
    }
    tk->n = (int)(got / TICKET_KEY_LEN);
    SSL_CTX_set_ex_data(ctx, keys_index, tk);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
    return 0;
}

/* ---- OCSP stapling from a file ---- */

static int ocsp_index = -1;

typedef struct {
    size_t len;
    uint8_t der[];
} ocsp_resp;

static void ocsp_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    free(ptr);
}

static int ocsp_cb(SSL *ssl, void *arg)
{
    (void)arg;
    const ocsp_resp *r = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ocsp_index);
    if (!r) return SSL_TLSEXT_ERR_NOACK;
    unsigned char *copy = OPENSSL_malloc(r->len); /* OpenSSL frees it */
    if (!copy) return SSL_TLSEXT_ERR_NOACK;
    memcpy(copy, r->der, r->len);
    SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)r->len);
    return SSL_TLSEXT_ERR_OK;
}

static int load_ocsp(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
    if (ocsp_index < 0)
        ocsp_index =
            CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL_CTX, 0, NULL, NULL, NULL, ocsp_free);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read OCSP response %s: %s", path, strerror(errno));
        return -1;
    }
    ocsp_resp *r = malloc(sizeof(*r) + 65536);
    size_t n = r ? fread(r->der, 1, 65536, f) : 0;
    fclose(f);
    const unsigned char *p = r ? r->der : NULL;
    OCSP_RESPONSE *resp = n && n < 65536 ? d2i_OCSP_RESPONSE(NULL, &p, (long)n) : NULL;
    if (!resp) {
        snprintf(err, errlen, "OCSP response %s: not a DER OCSP response (openssl ocsp -respout)",
                 path);
        free(r);
        return -1;
    }
    OCSP_RESPONSE_free(resp);
    r->len = n;
    SSL_CTX_set_ex_data(ctx, ocsp_index, r);
    SSL_CTX_set_tlsext_status_cb(ctx, ocsp_cb);
    return 0;
}

/* The private key's passphrase, from the file (its first line). */
static int pass_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    FILE *f = fopen((const char *)u, "r");
    if (!f) return -1;
    int n = fgets(buf, size, f) ? (int)strcspn(buf, "\r\n") : -1;
    fclose(f);
    if (n >= 0) buf[n] = 0;
    return n;
}

SSL_CTX *tls_server_ctx(const char *cert, const char *key, const tls_server_opts *t, char *err,
                        size_t errlen)
{
    static const tls_server_opts none;
    if (!t) t = &none;
    char cbuf[4200], kbuf[4200];
    if (!cert) {
        const char *dir = tls_cache_dir();
        snprintf(cbuf, sizeof(cbuf), "%s/localhost-cert.pem", dir);
        snprintf(kbuf, sizeof(kbuf), "%s/localhost-key.pem", dir);
        cert = cbuf;
        key = kbuf;
        if ((!cert_fresh(cert) || access(key, R_OK) != 0) && make_self_signed(cert, key) < 0) {
            if (errno)
                snprintf(err, errlen,
                         "cannot write a self-signed certificate to %s: %s (the cache folder is "
                         "$XDG_CACHE_HOME/loom or ~/.cache/loom: make it writable, or pass "
                         "--cert and --key)",
                         dir, strerror(errno));
            else
                errstr(err, errlen, "cannot make a self-signed certificate");
            return NULL;
        }
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        errstr(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    /* RFC 9113 §9.2: TLS 1.2 or later, no compression, no renegotiation;
     * with TLS 1.2 only ephemeral key exchange and AEAD ciphers (§9.2.2) */
    SSL_CTX_set_min_proto_version(
        ctx, t->min_version && !strcmp(t->min_version, "1.3") ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
#ifdef SSL_OP_ENABLE_KTLS
    SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
#endif
    /* AES-128-GCM first, as h2o and Go do: 128-bit keys are ample, and
     * AES-256's 14 rounds against 10 cost about a third more CPU per octet
     * sent (OpenSSL's default order puts AES-256 first). ChaCha20 when the
     * client prefers it (SSL_OP_PRIORITIZE_CHACHA: clients without AES
     * instructions list it first). */
    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:"
                                  "TLS_AES_256_GCM_SHA384");
    if (SSL_CTX_set_cipher_list(ctx, t->ciphers12 ? t->ciphers12
                                                  : "ECDHE+AES128GCM:ECDHE+CHACHA20:"
                                                    "ECDHE+AES256GCM:DHE+AES128GCM:"
                                                    "DHE+CHACHA20:DHE+AES256GCM") != 1) {
        snprintf(err, errlen, "--tls12-ciphers '%s': no cipher OpenSSL knows", t->ciphers12);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
    /* TLS 1.3: one session ticket per handshake, not OpenSSL's two (each
     * is encrypted and sent; a client resumes with one) */
    SSL_CTX_set_num_tickets(ctx, 1);
    /* resumption by tickets only: no server-side session cache to store
     * every session in (a malloc and a lock each) and sweep */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* record buffers released after every use until a connection is busy
     * (tp_keep_buffers): idle connections hold none */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    records_setup(ctx);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        char what[4400];
        snprintf(what, sizeof(what), "cannot read certificate %s", cert);
        errstr(err, errlen, what);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (t->key_pass_file) {
        if (access(t->key_pass_file, R_OK) != 0) {
            snprintf(err, errlen, "cannot read the key's passphrase file %s: %s", t->key_pass_file,
                     strerror(errno));
            SSL_CTX_free(ctx);
            return NULL;
        }
        SSL_CTX_set_default_passwd_cb(ctx, pass_cb);
        SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)(uintptr_t)t->key_pass_file);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char what[4400];
        snprintf(what, sizeof(what), "cannot read private key %s (or it does not match)", key);
        errstr(err, errlen, what);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_default_passwd_cb(ctx, NULL);
    if (t->client_ca) { /* client certificates: required, verified against these CAs */
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->client_ca);
        if (!names || SSL_CTX_load_verify_locations(ctx, t->client_ca, NULL) != 1) {
            char what[4400];
            snprintf(what, sizeof(what), "cannot read client CA file %s", t->client_ca);
            errstr(err, errlen, what);
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            SSL_CTX_free(ctx);
            return NULL;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    if ((t->ticket_keys && load_ticket_keys(ctx, t->ticket_keys, err, errlen) < 0) ||
        (t->ocsp && load_ocsp(ctx, t->ocsp, err, errlen) < 0)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *tls_client_ctx(int verify, const char *cafile, int h1, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        errstr(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20");
    if (h1)
        SSL_CTX_set_alpn_protos(ctx, alpn_both, sizeof(alpn_both) - 1);
    else
        SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof(alpn_h2) - 1);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    records_setup(ctx);
    if (verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (cafile ? SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1
                   : SSL_CTX_set_default_verify_paths(ctx) != 1) {
            errstr(err, errlen, "cannot load CA certificates");
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

int tls_ktls_send(SSL *ssl)
{
#ifdef SSL_OP_ENABLE_KTLS
    return BIO_get_ktls_send(SSL_get_wbio(ssl));
#else
    (void)ssl;
    return 0;
#endif
}
