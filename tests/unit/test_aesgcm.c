/* src/aesgcm.c against published answers (McGrew and Viega's GCM test
 * cases 2 and 3) and against OpenSSL for every length to 2,100 octets and
 * the record sizes, both key sizes, additional data of 0 to 16 octets, and
 * with the plaintext cut into pieces (aesgcm_sealv) in many ways.
 * Exits 77 (skipped) on a CPU without VAES and VPCLMULQDQ. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "../../src/aesgcm.h"

static void unhex(const char *h, uint8_t *out)
{
    for (size_t i = 0; h[2 * i]; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

/* K = 0, IV = 0, P = 16 zero octets */
static void test_case2(void **state)
{
    (void)state;
    uint8_t key[16] = {0}, iv[12] = {0}, in[16] = {0}, out[32], want[32];
    unhex("0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf", want);
    aesgcm_key k;
    aesgcm_init(&k, key, 16);
    aesgcm_seal(&k, iv, NULL, 0, in, 15, in[15], out);
    assert_memory_equal(out, want, 32);
}

/* test case 3: 64 octets, no additional data */
static void test_case3(void **state)
{
    (void)state;
    uint8_t key[16], iv[12], in[64], out[80], want[80];
    unhex("feffe9928665731c6d6a8f9467308308", key);
    unhex("cafebabefacedbaddecaf888", iv);
    unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
          "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
          in);
    unhex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
          "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985"
          "4d5c2af327cd64a62cf35abd2ba6fab4",
          want);
    aesgcm_key k;
    aesgcm_init(&k, key, 16);
    aesgcm_seal(&k, iv, NULL, 0, in, 63, in[63], out);
    assert_memory_equal(out, want, 80);
}

/* OpenSSL's AES-GCM of in[0..n) with aad (al octets): the ciphertext at
 * ref, the tag after it. */
static void openssl_seal(const uint8_t *key, size_t kl, const uint8_t *iv, const uint8_t *aad,
                         size_t al, const uint8_t *in, size_t n, uint8_t *ref)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ol = 0, fl = 0;
    assert_int_equal(
        EVP_EncryptInit_ex(c, kl == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm(), NULL, key, iv), 1);
    if (al) assert_int_equal(EVP_EncryptUpdate(c, NULL, &ol, aad, (int)al), 1);
    assert_int_equal(EVP_EncryptUpdate(c, ref, &ol, in, (int)n), 1);
    assert_int_equal(EVP_EncryptFinal_ex(c, ref + ol, &fl), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, ref + n), 1);
    EVP_CIPHER_CTX_free(c);
}

static void against_openssl(size_t kl, size_t n, size_t al, unsigned seed)
{
    uint8_t key[32], iv[12], aad[16];
    uint8_t *in = malloc(n + 1), *out = malloc(n + 17), *ref = malloc(n + 17);
    srand(seed);
    for (size_t i = 0; i < 32; i++)
        key[i] = (uint8_t)rand();
    for (size_t i = 0; i < 12; i++)
        iv[i] = (uint8_t)rand();
    for (size_t i = 0; i < 16; i++)
        aad[i] = (uint8_t)rand();
    for (size_t i = 0; i <= n; i++)
        in[i] = (uint8_t)rand();
    aesgcm_key k;
    aesgcm_init(&k, key, kl);
    aesgcm_seal(&k, iv, aad, al, in, n, in[n], out);
    openssl_seal(key, kl, iv, aad, al, in, n + 1, ref);
    if (memcmp(out, ref, n + 17))
        fail_msg("key %zu, %zu octets, aad %zu: %s differs", kl, n, al,
                 memcmp(out, ref, n + 1) ? "the ciphertext" : "the tag");
    free(in);
    free(out);
    free(ref);
}

/* The plaintext (n octets, then `last`) cut into pieces of at most `most`
 * octets (some empty), or like DATA frames (9 octets, then 16,384): sealed
 * from the pieces, it must read as OpenSSL's seal of the whole. */
static void pieces_against_openssl(size_t n, size_t most, unsigned seed)
{
    uint8_t key[16], iv[12], aad[5] = {23, 3, 3, 0, 0};
    uint8_t *in = malloc(n + 1), *out = malloc(n + 17), *ref = malloc(n + 17);
    srand(seed);
    for (size_t i = 0; i < 16; i++)
        key[i] = (uint8_t)rand();
    for (size_t i = 0; i < 12; i++)
        iv[i] = (uint8_t)rand();
    for (size_t i = 0; i <= n; i++)
        in[i] = (uint8_t)rand();
    size_t cap = 2 * n + 8, nv = 0, at = 0;
    struct iovec *v = malloc(cap * sizeof(*v));
    while (at < n && nv < cap - 2) {
        size_t len = most ? (size_t)rand() % (most + 1) : (nv % 2 ? 16384 : 9);
        if (len > n - at) len = n - at;
        v[nv].iov_base = in + at;
        v[nv++].iov_len = len;
        at += len;
    }
    v[nv].iov_base = in + at; /* the rest, and an empty piece after it */
    v[nv++].iov_len = n - at;
    v[nv].iov_base = in + n;
    v[nv++].iov_len = 0;
    aesgcm_key k;
    aesgcm_init(&k, key, 16);
    memset(out, 0xee, n + 17);
    aesgcm_sealv(&k, iv, aad, 5, v, n, in[n], out);
    openssl_seal(key, 16, iv, aad, 5, in, n + 1, ref);
    if (memcmp(out, ref, n + 17))
        fail_msg("%zu octets in %zu pieces of at most %zu: %s differs", n, nv, most,
                 memcmp(out, ref, n + 1) ? "the ciphertext" : "the tag");
    free(v);
    free(in);
    free(out);
    free(ref);
}

static void test_pieces(void **state)
{
    (void)state;
    static const size_t most[] = {0, 1, 7, 16, 40, 255, 300, 5000};
    for (size_t m = 0; m < sizeof(most) / sizeof(most[0]); m++) {
        for (size_t n = 0; n <= 1100; n += 13)
            pieces_against_openssl(n, most[m], (unsigned)(n + 7 * m));
        pieces_against_openssl(16384, most[m], (unsigned)m);
        pieces_against_openssl(16375, most[m], (unsigned)m + 100);
    }
}

static void test_lengths(void **state)
{
    (void)state;
    for (size_t kl = 16; kl <= 32; kl += 16)
        for (size_t n = 0; n <= 2100; n++)
            against_openssl(kl, n, n % 17, (unsigned)(n * 3 + kl));
}

static void test_record_sizes(void **state)
{
    (void)state;
    static const size_t sizes[] = {255, 256, 257, 1368, 4095, 4096, 16127, 16383, 16384, 65535};
    for (size_t kl = 16; kl <= 32; kl += 16)
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
            against_openssl(kl, sizes[i], 5, (unsigned)(i + kl));
}

int main(void)
{
    if (!aesgcm_available()) {
        fprintf(stderr, "this CPU has no VAES/VPCLMULQDQ on AVX-512: aesgcm.c is not used here\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_case2),   cmocka_unit_test(test_case3),
        cmocka_unit_test(test_lengths), cmocka_unit_test(test_record_sizes),
        cmocka_unit_test(test_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
