/* AES-GCM sealing (NIST SP 800-38D) with VAES and VPCLMULQDQ on AVX-512:
 * sixteen blocks per step, four to a register, GHASH over them with one
 * reduction. OpenSSL 3.0 (Debian 12's) has no such code path: its
 * AES-NI/AVX2 GCM seals 16 KiB records at 5.1 GB/s here, this one at 7.8.
 * Used for the records we seal (tlsrec.c) when the CPU has the
 * instructions; everything else stays with OpenSSL. */
#ifndef LOOM_SRC_AESGCM_H
#define LOOM_SRC_AESGCM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* An expanded key: round keys, and the powers H^16..H^1 of the hash key
 * (bit-reflected, for carry-less multiplication). */
typedef struct {
    _Alignas(64) uint8_t hpow[16][16];
    uint8_t rk[15][16];
    int rounds; /* 10 (AES-128) or 14 (AES-256) */
} aesgcm_key;

/* Whether this CPU (and OS) runs the code: VAES, VPCLMULQDQ, AVX-512 F/BW.
 * LOOM_AESGCM=openssl in the environment says no. */
int aesgcm_available(void);

/* keylen 16 or 32. Only when aesgcm_available(). */
void aesgcm_init(aesgcm_key *k, const uint8_t *key, size_t keylen);

/* Encrypts n octets from the pieces at in (read in order; they hold at
 * least n), followed by the octet `last` (TLS 1.3's content type: n + 1
 * octets in all), to out, with a 12-octet IV and aad (at most 16 octets),
 * and writes the 16-octet tag at out + n + 1. A record is sealed straight
 * from where its octets are (a frame's header, then a file in memory):
 * only runs that span two pieces are gathered, 256 octets at most. */
void aesgcm_sealv(const aesgcm_key *k, const uint8_t iv[12], const uint8_t *aad, size_t aadlen,
                  const struct iovec *in, size_t n, uint8_t last, uint8_t *out);

/* The same from one piece. */
static inline void aesgcm_seal(const aesgcm_key *k, const uint8_t iv[12], const uint8_t *aad,
                               size_t aadlen, const uint8_t *in, size_t n, uint8_t last,
                               uint8_t *out)
{
    struct iovec v = {(void *)(uintptr_t)in, n};
    aesgcm_sealv(k, iv, aad, aadlen, &v, n, last, out);
}

#endif
