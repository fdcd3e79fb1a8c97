/* TLS 1.3 records of our own for what a connection sends: see tlsrec.h. */
#include "tlsrec.h"

#include "aesgcm.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { SUITE_NONE, SUITE_AES128, SUITE_AES256, SUITE_CHACHA, SUITES };

struct tlsrec {
    uint64_t seq;   /* our next record's sequence number (RFC 8446 §5.3) */
    uint64_t seq_o; /* OpenSSL's next one under the same secret */
    uint64_t id;    /* this key's, for the thread's cipher context */
    uint32_t left;  /* counting: octets of the current record still to pass */
    uint16_t max;   /* largest plaintext of a record */
    uint8_t secret[48], key[32], iv[12];
    uint8_t secret_len, suite, on, counting;
    uint8_t hdr[5], hdr_have; /* counting: a record header in pieces */
};

static atomic_uint_fast64_t next_id = 1;

/* ---- keys (RFC 8446 §7.1, §7.3) ---- */

static const EVP_MD *md_of(size_t secret_len)
{
    return secret_len == 48 ? EVP_sha384() : EVP_sha256();
}

/* HKDF-Expand-Label(secret, label, "", n), n at most the hash's length:
 * one HMAC block (RFC 5869 §2.3, T(1)). */
static int expand_label(const uint8_t *secret, size_t slen, const char *label, uint8_t *out,
                        size_t n)
{
    uint8_t info[2 + 1 + 6 + 16 + 1 + 1], md[EVP_MAX_MD_SIZE];
    size_t ll = strlen(label), k = 0;
    if (ll > 16 || n > slen) return -1;
    info[k++] = (uint8_t)(n >> 8);
    info[k++] = (uint8_t)n;
    info[k++] = (uint8_t)(6 + ll);
    memcpy(info + k, "tls13 ", 6);
    k += 6;
    memcpy(info + k, label, ll);
    k += ll;
    info[k++] = 0; /* no context */
    info[k++] = 1; /* T(1)'s counter */
    unsigned mdlen = 0;
    if (!HMAC(md_of(slen), secret, (int)slen, info, k, md, &mdlen) || mdlen != slen) return -1;
    memcpy(out, md, n);
    return 0;
}

static int derive(tlsrec *r)
{
    size_t kl = r->suite == SUITE_AES128 ? 16 : 32;
    if (expand_label(r->secret, r->secret_len, "key", r->key, kl) < 0 ||
        expand_label(r->secret, r->secret_len, "iv", r->iv, 12) < 0)
        return -1;
    r->id = atomic_fetch_add(&next_id, 1);
    return 0;
}

/* §7.2: the next generation of the secret, after a KeyUpdate */
static int next_secret(tlsrec *r)
{
    uint8_t s[48];
    if (expand_label(r->secret, r->secret_len, "traffic upd", s, r->secret_len) < 0) return -1;
    memcpy(r->secret, s, r->secret_len);
    if (derive(r) < 0) return -1;
    r->seq = r->seq_o = 0;
    return 0;
}

static int unhex(const char *p, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int v = 0;
        for (int j = 0; j < 2; j++) {
            char c = p[2 * i + j];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0) return -1;
            v = v << 4 | d;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

tlsrec *tlsrec_keylog(tlsrec *r, int server, const char *line)
{
    /* "LABEL <client random, 64 hex> <secret, 64 or 96 hex>" (NSS key log
     * format) */
    const char *label = server ? "SERVER_TRAFFIC_SECRET_0 " : "CLIENT_TRAFFIC_SECRET_0 ";
    size_t ll = strlen(label);
    if (strncmp(line, label, ll)) return r;
    const char *p = strchr(line + ll, ' ');
    if (!p || p - (line + ll) != 64) return r;
    p++;
    size_t hex = strlen(p);
    if (hex != 64 && hex != 96) return r;
    tlsrec *n = r ? r : calloc(1, sizeof(*n));
    if (!n) return NULL;
    if (unhex(p, hex / 2, n->secret) < 0) {
        if (!r) free(n);
        return r;
    }
    n->secret_len = (uint8_t)(hex / 2);
    n->counting = 1; /* what OpenSSL seals from now on is under this secret */
    n->seq_o = 0;
    return n;
}

int tlsrec_count(tlsrec *r, const uint8_t *p, size_t n)
{
    if (!r->counting) return 0;
    while (n) {
        if (r->left) {
            size_t k = n < r->left ? n : r->left;
            r->left -= (uint32_t)k;
            p += k;
            n -= k;
            continue;
        }
        r->hdr[r->hdr_have++] = *p++;
        n--;
        if (r->hdr_have == 5) {
            r->hdr_have = 0;
            r->left = (uint32_t)r->hdr[3] << 8 | r->hdr[4];
            r->seq_o++;
        }
    }
    return 0;
}

/* ---- the AEAD: one cipher context per thread, keyed on use ---- */

static EVP_CIPHER *ciphers[SUITES];
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key; /* frees a thread's cipher context when it ends */

static void ctx_free(void *ctx)
{
    EVP_CIPHER_CTX_free(ctx);
}

/* RFC 8446 §5.5: AES-GCM may protect 2^24.5 full records under one key;
 * after 2^24 a KeyUpdate moves to the next (LOOM_TLSREC_UPDATE_AFTER
 * lowers it, for tests) */
static uint64_t update_after = 1ull << 24;

static void fetch(void)
{
    const char *env = getenv("LOOM_TLSREC_UPDATE_AFTER");
    if (env && atoll(env) > 0) update_after = (uint64_t)atoll(env);
    if (pthread_key_create(&ctx_key, ctx_free) != 0) return; /* then no cipher: OpenSSL's records */
    /* fetched once: a cipher named at every init is looked up in the
     * providers every time (OpenSSL 3) */
    ciphers[SUITE_AES128] = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    ciphers[SUITE_AES256] = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    ciphers[SUITE_CHACHA] = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
}

static _Thread_local struct {
    EVP_CIPHER_CTX *ctx;
    uint64_t id; /* the key in it (tlsrec.id), 0: none */
    int enc;
} tc;

static EVP_CIPHER_CTX *ctx_for(const tlsrec *r, int enc)
{
    if (!tc.ctx) {
        if (!(tc.ctx = EVP_CIPHER_CTX_new())) return NULL;
        if (pthread_setspecific(ctx_key, tc.ctx) != 0) {
            EVP_CIPHER_CTX_free(tc.ctx);
            tc.ctx = NULL;
            return NULL;
        }
    }
    if (tc.id != r->id || tc.enc != enc) {
        tc.id = 0;
        if (!ciphers[r->suite] ||
            EVP_CipherInit_ex(tc.ctx, ciphers[r->suite], NULL, r->key, NULL, enc) != 1)
            return NULL;
        tc.id = r->id;
        tc.enc = enc;
    }
    return tc.ctx;
}

/* AES-GCM of our own (aesgcm.h) when the CPU can: the thread's last key,
 * expanded */
static _Thread_local struct {
    aesgcm_key k;
    uint64_t id; /* tlsrec.id, 0: none */
} tk;

static void nonce(const tlsrec *r, uint64_t seq, uint8_t *out)
{
    memcpy(out, r->iv, 12); /* §5.3: the IV, its last 8 octets XOR the sequence number */
    for (int i = 0; i < 8; i++)
        out[4 + i] ^= (uint8_t)(seq >> (56 - 8 * i));
}

/* One record of content type `type` (§5.2: TLSInnerPlaintext, no
 * padding) at out. */
static size_t seal(tlsrec *r, uint8_t type, const struct iovec *v, size_t nv, size_t n,
                   uint8_t *out)
{
    if (n > r->max) return 0;
    size_t len = n + 1 + 16;
    uint8_t iv[12];
    nonce(r, r->seq, iv);
    out[0] = 23; /* opaque_type: application_data */
    out[1] = 3;  /* legacy_record_version 0x0303 */
    out[2] = 3;
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
    if (r->suite != SUITE_CHACHA && aesgcm_available()) {
        if (tk.id != r->id) {
            aesgcm_init(&tk.k, r->key, r->suite == SUITE_AES128 ? 16 : 32);
            tk.id = r->id;
        }
        aesgcm_sealv(&tk.k, iv, out, 5, v, n, type, out + 5);
        r->seq++;
        return 5 + len;
    }
    EVP_CIPHER_CTX *ctx = ctx_for(r, 1);
    if (!ctx) return 0;
    int a = 0, b = 0, c = 0, d = 0;
    if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, 1) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &a, out, 5) != 1)
        goto fail;
    for (size_t i = 0, left = n; i < nv && left; i++) { /* the pieces, n octets of them */
        int take = (int)(v[i].iov_len < left ? v[i].iov_len : left), w = 0;
        if (take && EVP_EncryptUpdate(ctx, out + 5 + b, &w, v[i].iov_base, take) != 1) goto fail;
        b += w;
        left -= (size_t)take;
    }
    if (EVP_EncryptUpdate(ctx, out + 5 + b, &c, &type, 1) != 1 ||
        EVP_EncryptFinal_ex(ctx, out + 5 + b + c, &d) != 1 || (size_t)(b + c + d) != n + 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + 5 + n + 1) != 1)
        goto fail;
    r->seq++;
    return 5 + len;
fail:
    tc.id = 0;
    return 0;
}

size_t tlsrec_sealv(tlsrec *r, const struct iovec *v, size_t nv, size_t n, uint8_t *out)
{
    size_t have = 0;
    for (size_t i = 0; i < nv && have < n; i++)
        have += v[i].iov_len;
    return have < n ? 0 : seal(r, 23, v, nv, n, out);
}

/* Opens OpenSSL's record `in` (header included, whole) at its sequence
 * number into out: the content's length and type, or -1. */
static long open_rec(tlsrec *r, const uint8_t *in, size_t n, uint8_t *out, uint8_t *type)
{
    EVP_CIPHER_CTX *ctx = ctx_for(r, 0);
    if (!ctx || n < 5 + 17) return -1;
    size_t clen = n - 5 - 16;
    uint8_t iv[12];
    nonce(r, r->seq_o, iv);
    int a = 0, b = 0, d = 0;
    if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, 0) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &a, in, 5) != 1 ||
        EVP_DecryptUpdate(ctx, out, &b, in + 5, (int)clen) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(in + 5 + clen)) != 1 ||
        EVP_DecryptFinal_ex(ctx, out + b, &d) != 1 || (size_t)(b + d) != clen) {
        tc.id = 0;
        return -1;
    }
    r->seq_o++;
    size_t k = clen;
    while (k && !out[k - 1]) /* §5.4: padding */
        k--;
    if (!k) return -1;
    *type = out[k - 1];
    return (long)(k - 1);
}

long tlsrec_translate(tlsrec *r, const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
    static _Thread_local uint8_t plain[16384 + 256];
    size_t o = 0;
    while (n) {
        if (n < 5) return -1;
        size_t len = (size_t)p[3] << 8 | p[4];
        if (p[0] != 23 || len < 17 || len > sizeof(plain) || n < 5 + len) return -1;
        uint8_t type;
        long k = open_rec(r, p, 5 + len, plain, &type);
        if (k < 0 || (size_t)k > r->max || cap - o < (size_t)k + TLSREC_OVERHEAD) return -1;
        /* §4.6.3: a KeyUpdate (handshake type 24) changes the sender's
         * keys after the record that carries it, which must end with it
         * (§5.1) */
        int update = 0;
        for (long i = 0; type == 22 && i + 4 <= k;) {
            long m = 4 + ((long)plain[i + 1] << 16 | (long)plain[i + 2] << 8 | plain[i + 3]);
            if (plain[i] == 24) {
                if (i + m != k) return -1;
                update = 1;
            }
            i += m;
        }
        struct iovec v = {plain, (size_t)k};
        size_t w = seal(r, type, &v, 1, (size_t)k, out + o);
        if (!w) return -1;
        o += w;
        if (update && next_secret(r) < 0) return -1;
        p += 5 + len;
        n -= 5 + len;
    }
    return (long)o;
}

int tlsrec_start(tlsrec *r, SSL *ssl)
{
    if (!r || !r->secret_len || r->hdr_have || r->left || SSL_version(ssl) != TLS1_3_VERSION)
        return -1;
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    uint32_t id = c ? SSL_CIPHER_get_id(c) & 0xffff : 0;
    r->suite = id == 0x1301   ? SUITE_AES128 /* TLS_AES_128_GCM_SHA256 */
               : id == 0x1302 ? SUITE_AES256 /* TLS_AES_256_GCM_SHA384 */
               : id == 0x1303 ? SUITE_CHACHA /* TLS_CHACHA20_POLY1305_SHA256 */
                              : SUITE_NONE;
    if (!r->suite || r->secret_len != (r->suite == SUITE_AES256 ? 48 : 32)) return -1;
    pthread_once(&fetch_once, fetch);
    if (!ciphers[r->suite]) return -1;
    /* RFC 6066 §4: a maximum fragment length the client asked for */
    SSL_SESSION *s = SSL_get_session(ssl);
    uint8_t mfl = s ? SSL_SESSION_get_max_fragment_length(s) : 0;
    r->max = mfl >= 1 && mfl <= 4 ? (uint16_t)(256u << mfl) : 16384;
    if (derive(r) < 0) return -1;
    r->seq = r->seq_o;
    r->counting = 0;
    r->on = 1;
    return 0;
}

int tlsrec_wants_update(const tlsrec *r)
{
    return r->seq >= update_after;
}

uint64_t tlsrec_seq(const tlsrec *r)
{
    return r->seq;
}

int tlsrec_on(const tlsrec *r)
{
    return r && r->on;
}

size_t tlsrec_max(const tlsrec *r)
{
    return r->max;
}

void tlsrec_free(tlsrec *r)
{
    /* no expanded key outlives its connection */
    if (r && tk.id == r->id) OPENSSL_cleanse(&tk, sizeof(tk));
    if (r && tc.ctx && tc.id == r->id) {
        EVP_CIPHER_CTX_reset(tc.ctx); /* cleanses the key schedule */
        tc.id = 0;
    }
    if (r) OPENSSL_cleanse(r, sizeof(*r));
    free(r);
}
