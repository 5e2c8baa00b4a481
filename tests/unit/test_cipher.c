/*
 * test_cipher.c - packet ciphers: published known-answer vectors, the SSH
 * constructions checked against an independent derivation with raw EVP
 * calls, round trips, tampering and misuse.
 *
 * Vectors:
 *  - RFC 8439 section 2.4.2 (ChaCha20 encryption), 2.5.2 (Poly1305),
 *    2.6.2 and appendix A.4 test vector #1 (Poly1305 key generation = key
 *    stream block 0),
 *  - McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", test
 *    cases 1-4 (AES-128) and 13-16 (AES-256), the cases with a 96-bit IV,
 *  - NIST SP 800-38A F.5.1/F.5.2 (CTR-AES128), F.5.3/F.5.4 (CTR-AES192),
 *    F.5.5/F.5.6 (CTR-AES256).
 */
#include "util.h"

#include "cipher.h"
#include "cipher_chachapoly.h"
#include "sshtun/buf.h"
#include "sshtun/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* ---- helpers ------------------------------------------------------------ */

static void dump(const char *label, const uint8_t *p, size_t n)
{
    print_message("  %s:", label);
    for (size_t i = 0; i < n; i++)
        print_message("%s%02x", i % 16 ? " " : "\n    ", p[i]);
    print_message("\n");
}

/* Compare and name the vector on failure. */
static void check_bytes(const char *what, const uint8_t *got, const uint8_t *want, size_t n)
{
    if (memcmp(got, want, n) != 0) {
        print_message("MISMATCH: %s\n", what);
        dump("got", got, n);
        dump("want", want, n);
        fail_msg("%s: output differs from the expected value", what);
    }
}

static void check_hex(const char *what, const uint8_t *got, size_t n, const char *want_hex)
{
    size_t wn;
    uint8_t *want = test_unhex(want_hex, &wn);
    if (wn != n) {
        free(want);
        fail_msg("%s: length %zu, expected %zu", what, n, wn);
    }
    check_bytes(what, got, want, n);
    free(want);
}

static void check_rv(const char *what, int got, int want)
{
    if (got != want)
        fail_msg("%s: returned %d (%s), expected %d (%s)", what, got, ssh_strerror(got), want,
                 ssh_strerror(want));
}

static const ssh_cipher_info *info_of(const char *name)
{
    const ssh_cipher_info *info = ssh_cipher_by_name(name);
    if (info == NULL)
        fail_msg("cipher %s unknown", name);
    return info;
}

static uint64_t rng_state;

static void rnd(uint8_t *p, size_t n)
{
    test_rand(&rng_state, p, n);
}

/* Build a plausible clear packet of total length len (>= 5) in pkt. */
static void make_packet(uint8_t *pkt, size_t len)
{
    rnd(pkt, len);
    ssh_poke_u32(pkt, (uint32_t)(len - 4));
    pkt[4] = 4; /* padding_length: irrelevant to the cipher */
}

/* ---- names and table ---------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        unsigned key_len, iv_len, block_size, tag_len, flags;
    } want[] = {
        {"chacha20-poly1305@openssh.com", 64, 0, 8, 16, SSH_CIPHER_AEAD | SSH_CIPHER_CHACHAPOLY},
        {"aes128-gcm@openssh.com", 16, 12, 16, 16, SSH_CIPHER_AEAD},
        {"aes256-gcm@openssh.com", 32, 12, 16, 16, SSH_CIPHER_AEAD},
        {"aes128-ctr", 16, 16, 16, 0, 0},
        {"aes192-ctr", 24, 16, 16, 0, 0},
        {"aes256-ctr", 32, 16, 16, 0, 0},
    };
    assert_string_equal(ssh_cipher_all(),
                        "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,"
                        "aes256-gcm@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr");
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const ssh_cipher_info *info = info_of(want[i].name);
        assert_string_equal(info->name, want[i].name);
        assert_int_equal(info->key_len, want[i].key_len);
        assert_int_equal(info->iv_len, want[i].iv_len);
        assert_int_equal(info->block_size, want[i].block_size);
        assert_int_equal(info->tag_len, want[i].tag_len);
        assert_int_equal(info->flags, want[i].flags);
        assert_true(ssh_namelist_has(ssh_cipher_all(), want[i].name));
    }
    static const char *const unknown[] = {
        "",
        "aes128",
        "aes128-ctr ",
        "AES128-CTR",
        "aes128-cbc",
        "3des-cbc",
        "none",
        "chacha20-poly1305",
        "aes192-gcm@openssh.com",
        "aes256-gcm",
        "arcfour",
        "aes128-gcm@openssh.co",
    };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        if (ssh_cipher_by_name(unknown[i]) != NULL)
            fail_msg("\"%s\" must be unknown", unknown[i]);
    assert_null(ssh_cipher_by_name(NULL));
}

static void test_new_arguments(void **state)
{
    (void)state;
    uint8_t key[64] = {0}, iv[16] = {0};
    ssh_cipher *c = (ssh_cipher *)&c; /* must be reset to NULL on failure */

    ssh_cipher_info fake = *info_of("aes128-ctr");
    fake.name = "aes128-xts";
    check_rv("unknown info", ssh_cipher_new(&fake, 1, key, iv, &c), SSH_ERR_ARGUMENT);
    assert_null(c);
    check_rv("NULL info", ssh_cipher_new(NULL, 1, key, iv, &c), SSH_ERR_ARGUMENT);
    check_rv("NULL key", ssh_cipher_new(info_of("aes128-ctr"), 1, NULL, iv, &c), SSH_ERR_ARGUMENT);
    check_rv("NULL iv (ctr)", ssh_cipher_new(info_of("aes128-ctr"), 1, key, NULL, &c),
             SSH_ERR_ARGUMENT);
    check_rv("NULL iv (gcm)", ssh_cipher_new(info_of("aes256-gcm@openssh.com"), 1, key, NULL, &c),
             SSH_ERR_ARGUMENT);
    check_rv("NULL out", ssh_cipher_new(info_of("aes128-ctr"), 1, key, iv, NULL), SSH_ERR_ARGUMENT);
    assert_null(c);

    /* chacha takes no IV; a copy of a table entry is accepted by name. */
    ssh_cipher_info copy = *info_of("chacha20-poly1305@openssh.com");
    check_rv("chacha, copied info", ssh_cipher_new(&copy, 1, key, NULL, &c), 0);
    assert_non_null(c);
    assert_ptr_equal(ssh_cipher_get_info(c), info_of("chacha20-poly1305@openssh.com"));
    ssh_cipher_free(c);
    ssh_cipher_free(NULL);
    assert_null(ssh_cipher_get_info(NULL));
}

static void test_misuse(void **state)
{
    (void)state;
    uint8_t key[64] = {1}, iv[16] = {2}, pkt[64] = {0}, tag[16] = {0};
    uint32_t plen;
    ssh_cipher *ctr, *enc, *dec;

    assert_int_equal(ssh_cipher_new(info_of("aes128-ctr"), 1, key, iv, &ctr), 0);
    check_rv("seal on ctr", ssh_cipher_aead_seal(ctr, 0, pkt, 32, tag), SSH_ERR_ARGUMENT);
    check_rv("open on ctr", ssh_cipher_aead_open(ctr, 0, pkt, 32, tag), SSH_ERR_ARGUMENT);
    check_rv("length on ctr", ssh_cipher_aead_length(ctr, 0, pkt, &plen), SSH_ERR_ARGUMENT);
    check_rv("ctr off the block grid", ssh_cipher_crypt(ctr, pkt, 15), SSH_ERR_ARGUMENT);
    check_rv("ctr NULL buf", ssh_cipher_crypt(ctr, NULL, 16), SSH_ERR_ARGUMENT);
    check_rv("ctr zero length", ssh_cipher_crypt(ctr, pkt, 0), 0);
    ssh_cipher_free(ctr);

    static const char *const aeads[] = {"chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com",
                                        "aes256-gcm@openssh.com"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ssh_cipher_new(info_of(aeads[i]), 1, key, iv, &enc), 0);
        assert_int_equal(ssh_cipher_new(info_of(aeads[i]), 0, key, iv, &dec), 0);
        check_rv("crypt on aead", ssh_cipher_crypt(enc, pkt, 16), SSH_ERR_ARGUMENT);
        check_rv("open on the sending side", ssh_cipher_aead_open(enc, 0, pkt, 32, tag),
                 SSH_ERR_ARGUMENT);
        check_rv("seal on the receiving side", ssh_cipher_aead_seal(dec, 0, pkt, 32, tag),
                 SSH_ERR_ARGUMENT);
        check_rv("seal shorter than the length", ssh_cipher_aead_seal(enc, 0, pkt, 3, tag),
                 SSH_ERR_ARGUMENT);
        check_rv("open shorter than the length", ssh_cipher_aead_open(dec, 0, pkt, 3, tag),
                 SSH_ERR_ARGUMENT);
        check_rv("seal NULL tag", ssh_cipher_aead_seal(enc, 0, pkt, 32, NULL), SSH_ERR_ARGUMENT);
        check_rv("length NULL out", ssh_cipher_aead_length(dec, 0, pkt, NULL), SSH_ERR_ARGUMENT);
        ssh_cipher_free(enc);
        ssh_cipher_free(dec);
    }
}

/* ---- RFC 8439 through the construction's ChaCha20 and Poly1305 ---------- */

static const char key_00_1f[] = "000102030405060708090a0b0c0d0e0f"
                                "101112131415161718191a1b1c1d1e1f";

/* RFC 8439 section 2.4.2.  Nonce 00000000 0000004a 00000000: its first word
 * is zero, so it is the 64-bit nonce 0x0000004a00000000 of the original
 * ChaCha layout the SSH construction uses. */
static void test_rfc8439_chacha20(void **state)
{
    (void)state;
    static const char plain[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
                                "only one tip for the future, sunscreen would be it.";
    static const char cipher_hex[] = "6e 2e 35 9a 25 68 f9 80 41 ba 07 28 dd 0d 69 81"
                                     "e9 7e 7a ec 1d 43 60 c2 0a 27 af cc fd 9f ae 0b"
                                     "f9 1b 65 c5 52 47 33 ab 8f 59 3d ab cd 62 b3 57"
                                     "16 39 d6 24 e6 51 52 ab 8f 53 0c 35 9f 08 61 d8"
                                     "07 ca 0d bf 50 0d 6a 61 56 a3 8e 08 8a 22 b6 5e"
                                     "52 bc 51 4d 16 cc f8 06 81 8c e9 1a b7 79 37 36"
                                     "5a f9 0b bf 74 a3 5b e6 b4 0b 8e ed f2 78 5e 42"
                                     "87 4d";
    size_t kn, len = strlen(plain);
    uint8_t *key = test_unhex(key_00_1f, &kn);
    uint8_t buf[sizeof(plain)];
    assert_int_equal(len, 114);
    memcpy(buf, plain, len);
    assert_int_equal(ssh_chachapoly_test_xor(key, 1, 0x0000004a00000000ULL, buf, len), 0);
    check_hex("RFC 8439 2.4.2 ChaCha20 encryption", buf, len, cipher_hex);
    assert_int_equal(ssh_chachapoly_test_xor(key, 1, 0x0000004a00000000ULL, buf, len), 0);
    check_bytes("RFC 8439 2.4.2 ChaCha20 decryption", buf, (const uint8_t *)plain, len);
    free(key);
}

/* RFC 8439 section 2.5.2. */
static void test_rfc8439_poly1305(void **state)
{
    (void)state;
    static const char msg[] = "Cryptographic Forum Research Group";
    size_t kn;
    uint8_t tag[16];
    uint8_t *key = test_unhex("85 d6 be 78 57 55 6d 33 7f 44 52 fe 42 d5 06 a8"
                              "01 03 80 8a fb 0d b2 fd 4a bf f6 af 41 49 f5 1b",
                              &kn);
    assert_int_equal(kn, 32);
    assert_int_equal(ssh_chachapoly_test_poly1305(key, (const uint8_t *)msg, strlen(msg), tag), 0);
    check_hex("RFC 8439 2.5.2 Poly1305", tag, 16,
              "a8 06 1d c1 30 51 36 c6 c2 2b 8b af 0c 01 27 a9");
    free(key);
}

/* RFC 8439 section 2.6.2 and appendix A.4 #1: the Poly1305 key is the first
 * 32 bytes of key stream block 0, exactly what the SSH construction takes
 * from K_2 for every packet. */
static void test_rfc8439_poly1305_keygen(void **state)
{
    (void)state;
    static const struct {
        const char *what, *key;
        uint64_t nonce; /* the 96-bit RFC nonce minus its zero first word */
        const char *out;
    } v[] = {
        {"RFC 8439 2.6.2 Poly1305 key generation",
         "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f", 0x0001020304050607ULL,
         "8a d5 a0 8b 90 5f 81 cc 81 50 40 27 4a b2 94 71"
         "a8 33 b6 37 e3 fd 0d a5 08 db b8 e2 fd d1 a6 46"},
        {"RFC 8439 A.4 #1 Poly1305 key generation",
         "0000000000000000000000000000000000000000000000000000000000000000", 0,
         "76 b8 e0 ad a0 f1 3d 90 40 5d 6a e5 53 86 bd 28"
         "bd d2 19 b8 a0 8d ed 1a a8 36 ef cc 8b 77 0d c7"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t kn;
        uint8_t *key = test_unhex(v[i].key, &kn);
        uint8_t out[32] = {0};
        assert_int_equal(ssh_chachapoly_test_xor(key, 0, v[i].nonce, out, sizeof(out)), 0);
        check_hex(v[i].what, out, sizeof(out), v[i].out);
        free(key);
    }
}

/* ---- chacha20-poly1305@openssh.com packets ------------------------------ */

/* Independent derivation from PROTOCOL.chacha20poly1305 with raw EVP calls:
 * OpenSSL's 16-byte ChaCha20 IV is state words 12-15, i.e. the original
 * ChaCha 64-bit little-endian block counter followed by the 64-bit nonce,
 * here the big-endian sequence number. */
static void chacha_raw(const uint8_t *key32, uint64_t block, uint32_t seq, const uint8_t *in,
                       uint8_t *out, size_t len)
{
    uint8_t iv[16];
    int outl;
    for (int i = 0; i < 8; i++)
        iv[i] = (uint8_t)(block >> (8 * i));
    memset(iv + 8, 0, 4);
    ssh_poke_u32(iv + 12, seq);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    assert_non_null(ctx);
    assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_chacha20(), NULL, key32, iv), 1);
    assert_int_equal(EVP_EncryptUpdate(ctx, out, &outl, in, (int)len), 1);
    assert_int_equal((size_t)outl, len);
    EVP_CIPHER_CTX_free(ctx);
}

static void chachapoly_expected(const uint8_t *key64, uint32_t seq, const uint8_t *clear,
                                size_t len, uint8_t *out, uint8_t *tag)
{
    static const uint8_t zero[32];
    uint8_t poly_key[32];
    size_t taglen;
    const uint8_t *k2 = key64, *k1 = key64 + 32;
    chacha_raw(k1, 0, seq, clear, out, 4);
    chacha_raw(k2, 0, seq, zero, poly_key, 32);
    chacha_raw(k2, 1, seq, clear + 4, out + 4, len - 4);
    assert_non_null(
        EVP_Q_mac(NULL, "POLY1305", NULL, NULL, NULL, poly_key, 32, out, len, tag, 16, &taglen));
    assert_int_equal(taglen, 16);
}

static void test_chachapoly_packets(void **state)
{
    (void)state;
    static const size_t lens[] = {4, 8, 16, 32, 64, 72, 1000, 4096 + 8, 35000, 256 * 1024};
    static const uint32_t seqs[] = {0, 1, 2, 3, 0x7fffffff, 0xfffffffe, 0xffffffff};
    uint8_t key[64], tag[16], want_tag[16];
    char what[128];
    ssh_cipher *enc, *dec;

    rng_state = 1;
    rnd(key, sizeof(key));
    assert_int_equal(ssh_cipher_new(info_of("chacha20-poly1305@openssh.com"), 1, key, NULL, &enc),
                     0);
    assert_int_equal(ssh_cipher_new(info_of("chacha20-poly1305@openssh.com"), 0, key, NULL, &dec),
                     0);
    uint8_t *clear = malloc(256 * 1024), *pkt = malloc(256 * 1024), *want = malloc(256 * 1024);
    assert_true(clear && pkt && want);
    for (size_t s = 0; s < sizeof(seqs) / sizeof(seqs[0]); s++) {
        for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
            size_t len = lens[l];
            snprintf(what, sizeof(what), "chacha20-poly1305 packet seq=%u len=%zu", seqs[s], len);
            if (len > 4)
                make_packet(clear, len);
            else
                ssh_poke_u32(clear, 0x01020304);
            memcpy(pkt, clear, len);
            chachapoly_expected(key, seqs[s], clear, len, want, want_tag);

            check_rv(what, ssh_cipher_aead_seal(enc, seqs[s], pkt, len, tag), 0);
            check_bytes(what, pkt, want, len);
            check_bytes(what, tag, want_tag, 16);

            uint32_t plen = 0;
            check_rv(what, ssh_cipher_aead_length(dec, seqs[s], pkt, &plen), 0);
            assert_int_equal(plen, ssh_peek_u32(clear));
            check_bytes("length left encrypted", pkt, want, 4);

            check_rv(what, ssh_cipher_aead_open(dec, seqs[s], pkt, len, tag), 0);
            check_bytes("length left as received", pkt, want, 4);
            check_bytes(what, pkt + 4, clear + 4, len - 4);
        }
    }
    free(clear);
    free(pkt);
    free(want);
    ssh_cipher_free(enc);
    ssh_cipher_free(dec);
}

/* ---- tampering ---------------------------------------------------------- */

/* Seal one packet, then flip every single bit of the packet and of the tag
 * in turn: open must fail with SSH_ERR_MAC_INVALID and leave the buffer
 * exactly as received (no plaintext).  The untouched packet must still open
 * afterwards (a failed open does not advance any state). */
static void tamper_all_bits(const char *name)
{
    enum { LEN = 52 };
    uint8_t key[64], iv[16], clear[LEN], sealed[LEN], pkt[LEN], tag[16], bad_tag[16];
    char what[160];
    ssh_cipher *enc, *dec;
    const ssh_cipher_info *info = info_of(name);
    const uint32_t seq = 42;

    rng_state = 7;
    rnd(key, sizeof(key));
    rnd(iv, sizeof(iv));
    make_packet(clear, LEN);
    assert_int_equal(ssh_cipher_new(info, 1, key, iv, &enc), 0);
    assert_int_equal(ssh_cipher_new(info, 0, key, iv, &dec), 0);
    memcpy(sealed, clear, LEN);
    assert_int_equal(ssh_cipher_aead_seal(enc, seq, sealed, LEN, tag), 0);

    for (size_t bit = 0; bit < LEN * 8; bit++) {
        memcpy(pkt, sealed, LEN);
        pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        snprintf(what, sizeof(what), "%s: flipped bit %zu of the %s", name, bit,
                 bit < 32 ? "length" : "payload");
        check_rv(what, ssh_cipher_aead_open(dec, seq, pkt, LEN, tag), SSH_ERR_MAC_INVALID);
        pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        check_bytes(what, pkt, sealed, LEN);
    }
    for (size_t bit = 0; bit < 16 * 8; bit++) {
        memcpy(pkt, sealed, LEN);
        memcpy(bad_tag, tag, 16);
        bad_tag[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        snprintf(what, sizeof(what), "%s: flipped bit %zu of the tag", name, bit);
        check_rv(what, ssh_cipher_aead_open(dec, seq, pkt, LEN, bad_tag), SSH_ERR_MAC_INVALID);
        check_bytes(what, pkt, sealed, LEN);
    }
    /* Truncated and extended packets, wrong sequence number (chacha). */
    memcpy(pkt, sealed, LEN);
    snprintf(what, sizeof(what), "%s: truncated packet", name);
    check_rv(what, ssh_cipher_aead_open(dec, seq, pkt, LEN - 16, tag), SSH_ERR_MAC_INVALID);
    check_bytes(what, pkt, sealed, LEN);
    if (info->flags & SSH_CIPHER_CHACHAPOLY) {
        snprintf(what, sizeof(what), "%s: wrong sequence number", name);
        check_rv(what, ssh_cipher_aead_open(dec, seq + 1, pkt, LEN, tag), SSH_ERR_MAC_INVALID);
        check_bytes(what, pkt, sealed, LEN);
    }
    snprintf(what, sizeof(what), "%s: the genuine packet after the forgeries", name);
    check_rv(what, ssh_cipher_aead_open(dec, seq, pkt, LEN, tag), 0);
    check_bytes(what, pkt + 4, clear + 4, LEN - 4);
    ssh_cipher_free(enc);
    ssh_cipher_free(dec);
}

static void test_tamper_chachapoly(void **state)
{
    (void)state;
    tamper_all_bits("chacha20-poly1305@openssh.com");
}

static void test_tamper_gcm(void **state)
{
    (void)state;
    tamper_all_bits("aes128-gcm@openssh.com");
    tamper_all_bits("aes256-gcm@openssh.com");
}

/* ---- AES-GCM ------------------------------------------------------------ */

static const char gcm_p[] = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
static const char gcm_p64[] = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                              "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
static const char gcm_a[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
static const char gcm_k128[] = "feffe9928665731c6d6a8f9467308308";
static const char gcm_k256[] = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
static const char gcm_iv[] = "cafebabefacedbaddecaf888";
static const char zero16[] = "00000000000000000000000000000000";
static const char zero32[] = "0000000000000000000000000000000000000000000000000000000000000000";
static const char zero12[] = "000000000000000000000000";

/* McGrew & Viega, GCM specification, the test cases with a 96-bit IV. */
static const struct gcm_vector {
    const char *what, *cipher, *key, *iv, *plain, *aad, *ct, *tag;
} gcm_vectors[] = {
    {"GCM test case 1", "aes128-gcm@openssh.com", zero16, zero12, "", "", "",
     "58e2fccefa7e3061367f1d57a4e7455a"},
    {"GCM test case 2", "aes128-gcm@openssh.com", zero16, zero12, zero16, "",
     "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf"},
    {"GCM test case 3", "aes128-gcm@openssh.com", gcm_k128, gcm_iv, gcm_p64, "",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"},
    {"GCM test case 4", "aes128-gcm@openssh.com", gcm_k128, gcm_iv, gcm_p, gcm_a,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"},
    {"GCM test case 13", "aes256-gcm@openssh.com", zero32, zero12, "", "", "",
     "530f8afbc74536b9a963b4f1c4cb738b"},
    {"GCM test case 14", "aes256-gcm@openssh.com", zero32, zero12, zero16, "",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"GCM test case 15", "aes256-gcm@openssh.com", gcm_k256, gcm_iv, gcm_p64, "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"GCM test case 16", "aes256-gcm@openssh.com", gcm_k256, gcm_iv, gcm_p, gcm_a,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

static void test_gcm_vectors(void **state)
{
    (void)state;
    char what[128];
    for (size_t i = 0; i < sizeof(gcm_vectors) / sizeof(gcm_vectors[0]); i++) {
        const struct gcm_vector *v = &gcm_vectors[i];
        size_t kn, ivn, pn, an, cn, tn;
        uint8_t *key = test_unhex(v->key, &kn), *iv = test_unhex(v->iv, &ivn);
        uint8_t *p = test_unhex(v->plain, &pn), *a = test_unhex(v->aad, &an);
        uint8_t *ct = test_unhex(v->ct, &cn), *want_tag = test_unhex(v->tag, &tn);
        uint8_t *buf = malloc(pn + 1), tag[16];
        const ssh_cipher_info *info = info_of(v->cipher);
        assert_non_null(buf);
        assert_int_equal(kn, info->key_len);
        assert_int_equal(ivn, 12);
        assert_int_equal(cn, pn);

        snprintf(what, sizeof(what), "%s (encrypt)", v->what);
        memcpy(buf, p, pn);
        check_rv(what, ssh_cipher_test_gcm(info, 1, key, iv, a, an, buf, pn, tag), 0);
        check_bytes(what, buf, ct, pn);
        check_bytes(what, tag, want_tag, 16);

        snprintf(what, sizeof(what), "%s (decrypt)", v->what);
        check_rv(what, ssh_cipher_test_gcm(info, 0, key, iv, a, an, buf, pn, want_tag), 0);
        check_bytes(what, buf, p, pn);

        snprintf(what, sizeof(what), "%s (decrypt, wrong tag)", v->what);
        memcpy(buf, ct, pn);
        want_tag[15] ^= 0x01;
        check_rv(what, ssh_cipher_test_gcm(info, 0, key, iv, a, an, buf, pn, want_tag),
                 SSH_ERR_MAC_INVALID);
        check_bytes(what, buf, ct, pn);

        free(key);
        free(iv);
        free(p);
        free(a);
        free(ct);
        free(want_tag);
        free(buf);
    }
    uint8_t k[16] = {0}, iv[16] = {0}, tag[16];
    check_rv("GCM hook on a CTR cipher",
             ssh_cipher_test_gcm(info_of("aes128-ctr"), 1, k, iv, NULL, 0, NULL, 0, tag),
             SSH_ERR_ARGUMENT);
}

/* Independent AES-GCM packet per RFC 5647 section 7 with raw EVP calls. */
static void gcm_expected(const char *evp_name, const uint8_t *key, const uint8_t *nonce,
                         const uint8_t *clear, size_t len, uint8_t *out, uint8_t *tag)
{
    int outl;
    uint8_t fin[16];
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, evp_name, NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    assert_true(cipher && ctx);
    assert_int_equal(EVP_EncryptInit_ex2(ctx, cipher, key, nonce, NULL), 1);
    assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &outl, clear, 4), 1);
    memcpy(out, clear, 4);
    assert_int_equal(EVP_EncryptUpdate(ctx, out + 4, &outl, clear + 4, (int)(len - 4)), 1);
    assert_int_equal(EVP_EncryptFinal_ex(ctx, fin, &outl), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag), 1);
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cipher);
}

/* nonce + 1 in its low 64 bits, big-endian, modulo 2^64 (RFC 5647 7.1). */
static void nonce_inc(uint8_t *nonce)
{
    uint64_t ctr = 0;
    for (int i = 4; i < 12; i++)
        ctr = ctr << 8 | nonce[i];
    ctr++;
    for (int i = 11; i >= 4; i--, ctr >>= 8)
        nonce[i] = (uint8_t)ctr;
}

static void gcm_packets(const char *name, const char *evp_name, const char *iv_hex)
{
    enum { NPKT = 6, MAXLEN = 4100 };
    static const size_t lens[NPKT] = {4, 20, 36, 36, 4100, 36};
    uint8_t key[32], *iv, nonce[12], tag[NPKT][16], want_tag[16];
    uint8_t clear[NPKT][MAXLEN], sealed[NPKT][MAXLEN], want[MAXLEN], pkt[MAXLEN];
    char what[160];
    size_t ivn;
    ssh_cipher *enc, *dec;
    const ssh_cipher_info *info = info_of(name);

    rng_state = 99;
    rnd(key, sizeof(key));
    iv = test_unhex(iv_hex, &ivn);
    assert_int_equal(ivn, 12);
    memcpy(nonce, iv, 12);
    assert_int_equal(ssh_cipher_new(info, 1, key, iv, &enc), 0);
    assert_int_equal(ssh_cipher_new(info, 0, key, iv, &dec), 0);

    make_packet(clear[0], MAXLEN);
    for (int i = 1; i < NPKT; i++)
        make_packet(clear[i], MAXLEN);
    memcpy(clear[3], clear[2], MAXLEN); /* same plaintext twice in a row */

    for (int i = 0; i < NPKT; i++) {
        size_t len = lens[i];
        ssh_poke_u32(clear[i], (uint32_t)(len - 4));
        snprintf(what, sizeof(what), "%s packet %d (len %zu)", name, i, len);
        gcm_expected(evp_name, key, nonce, clear[i], len, want, want_tag);
        memcpy(sealed[i], clear[i], len);
        check_rv(what, ssh_cipher_aead_seal(enc, (uint32_t)i, sealed[i], len, tag[i]), 0);
        check_bytes(what, sealed[i], want, len);
        check_bytes(what, tag[i], want_tag, 16);
        check_bytes("length stays in clear", sealed[i], clear[i], 4);
        nonce_inc(nonce);
    }
    /* The invocation counter moved: the same plaintext sealed twice differs. */
    assert_memory_not_equal(sealed[2] + 4, sealed[3] + 4, lens[2] - 4);
    assert_memory_not_equal(tag[2], tag[3], 16);

    /* Out of order: packet 1 first fails (nonce mismatch) and changes nothing. */
    memcpy(pkt, sealed[1], lens[1]);
    check_rv("packet 1 opened first", ssh_cipher_aead_open(dec, 1, pkt, lens[1], tag[1]),
             SSH_ERR_MAC_INVALID);
    check_bytes("packet 1 opened first", pkt, sealed[1], lens[1]);
    for (int i = 0; i < NPKT; i++) {
        size_t len = lens[i];
        uint32_t plen = 0;
        snprintf(what, sizeof(what), "%s open packet %d", name, i);
        memcpy(pkt, sealed[i], len);
        check_rv(what, ssh_cipher_aead_length(dec, (uint32_t)i, pkt, &plen), 0);
        assert_int_equal(plen, len - 4);
        check_rv(what, ssh_cipher_aead_open(dec, (uint32_t)i, pkt, len, tag[i]), 0);
        check_bytes(what, pkt, clear[i], len);
    }
    /* Replaying the last packet fails: the receiver's counter moved on. */
    memcpy(pkt, sealed[NPKT - 1], lens[NPKT - 1]);
    check_rv("replayed packet", ssh_cipher_aead_open(dec, NPKT, pkt, lens[NPKT - 1], tag[NPKT - 1]),
             SSH_ERR_MAC_INVALID);
    free(iv);
    ssh_cipher_free(enc);
    ssh_cipher_free(dec);
}

static void test_gcm_packets(void **state)
{
    (void)state;
    gcm_packets("aes128-gcm@openssh.com", "AES-128-GCM", "0102030405060708090a0b0c");
    gcm_packets("aes256-gcm@openssh.com", "AES-256-GCM", "0102030405060708090a0b0c");
    /* Carry across bytes of the invocation counter, and its wrap modulo
     * 2^64, which must leave the fixed field alone. */
    gcm_packets("aes128-gcm@openssh.com", "AES-128-GCM", "a1a2a3a4 00000000fffffffe");
    gcm_packets("aes256-gcm@openssh.com", "AES-256-GCM", "a1a2a3a4 fffffffffffffffd");
}

/* ---- AES-CTR ------------------------------------------------------------ */

static const char sp800_38a_plain[] = "6bc1bee22e409f96e93d7e117393172a"
                                      "ae2d8a571e03ac9c9eb76fac45af8e51"
                                      "30c81c46a35ce411e5fbc1191a0a52ef"
                                      "f69f2445df4f9b17ad2b417be66c3710";
static const char sp800_38a_ctr[] = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

static const struct ctr_vector {
    const char *what, *cipher, *key, *ct;
} ctr_vectors[] = {
    {"SP 800-38A F.5.1 CTR-AES128", "aes128-ctr", "2b7e151628aed2a6abf7158809cf4f3c",
     "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
     "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"},
    {"SP 800-38A F.5.3 CTR-AES192", "aes192-ctr",
     "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
     "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e94"
     "1e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050"},
    {"SP 800-38A F.5.5 CTR-AES256", "aes256-ctr",
     "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
     "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
     "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6"},
};

static void test_ctr_vectors(void **state)
{
    (void)state;
    char what[128];
    size_t pn, ivn;
    uint8_t *plain = test_unhex(sp800_38a_plain, &pn), *iv = test_unhex(sp800_38a_ctr, &ivn);
    assert_int_equal(pn, 64);

    for (size_t i = 0; i < sizeof(ctr_vectors) / sizeof(ctr_vectors[0]); i++) {
        const struct ctr_vector *v = &ctr_vectors[i];
        size_t kn, cn;
        uint8_t *key = test_unhex(v->key, &kn), *ct = test_unhex(v->ct, &cn), buf[64];
        ssh_cipher *c;
        assert_int_equal(kn, info_of(v->cipher)->key_len);

        /* Encrypt in one call. */
        snprintf(what, sizeof(what), "%s.Encrypt", v->what);
        assert_int_equal(ssh_cipher_new(info_of(v->cipher), 1, key, iv, &c), 0);
        memcpy(buf, plain, 64);
        check_rv(what, ssh_cipher_crypt(c, buf, 64), 0);
        check_bytes(what, buf, ct, 64);
        ssh_cipher_free(c);

        /* Decrypt block by block: the stream continues across calls. */
        snprintf(what, sizeof(what), "%s.Decrypt (block by block)", v->what);
        assert_int_equal(ssh_cipher_new(info_of(v->cipher), 0, key, iv, &c), 0);
        for (int b = 0; b < 4; b++)
            check_rv(what, ssh_cipher_crypt(c, buf + 16 * b, 16), 0);
        check_bytes(what, buf, plain, 64);
        ssh_cipher_free(c);
        free(key);
        free(ct);
    }
    free(plain);
    free(iv);
}

/* A packet decrypted as "first block, then the rest" (how a receiver learns
 * the length) equals the packet decrypted whole, at every block boundary,
 * and the stream runs on across packets. */
static void test_ctr_split(void **state)
{
    (void)state;
    enum { LEN = 512, NEXT = 64 };
    static const char *const names[] = {"aes128-ctr", "aes192-ctr", "aes256-ctr"};
    uint8_t key[32], iv[16], clear[LEN + NEXT], whole[LEN + NEXT], buf[LEN + NEXT];
    char what[128];

    rng_state = 5;
    for (size_t n = 0; n < 3; n++) {
        const ssh_cipher_info *info = info_of(names[n]);
        ssh_cipher *enc, *dec;
        rnd(key, sizeof(key));
        rnd(iv, sizeof(iv));
        iv[15] = 0xfe; /* let the counter carry inside the packet */
        rnd(clear, sizeof(clear));
        assert_int_equal(ssh_cipher_new(info, 1, key, iv, &enc), 0);
        memcpy(whole, clear, sizeof(whole));
        assert_int_equal(ssh_cipher_crypt(enc, whole, LEN), 0);
        assert_int_equal(ssh_cipher_crypt(enc, whole + LEN, NEXT), 0);
        ssh_cipher_free(enc);

        for (size_t split = 0; split <= LEN; split += 16) {
            snprintf(what, sizeof(what), "%s split at %zu", names[n], split);
            assert_int_equal(ssh_cipher_new(info, 0, key, iv, &dec), 0);
            memcpy(buf, whole, sizeof(buf));
            check_rv(what, ssh_cipher_crypt(dec, buf, split), 0);
            check_rv(what, ssh_cipher_crypt(dec, buf + split, LEN - split), 0);
            /* An off-grid call is refused and does not disturb the stream. */
            check_rv(what, ssh_cipher_crypt(dec, buf + LEN, 5), SSH_ERR_ARGUMENT);
            check_rv(what, ssh_cipher_crypt(dec, buf + LEN, NEXT), 0);
            check_bytes(what, buf, clear, sizeof(buf));
            ssh_cipher_free(dec);
        }
    }
}

/* ---- no allocation per packet ------------------------------------------ */

/* libcrypto's allocations, counted through CRYPTO_set_mem_functions (set in
 * main before libcrypto allocates anything). */
static unsigned long crypto_allocs;

static void *count_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    crypto_allocs++;
    return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    crypto_allocs++;
    return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    free(p);
}

static void test_no_alloc_per_packet(void **state)
{
    (void)state;
    static const char *const names[] = {"chacha20-poly1305@openssh.com",
                                        "aes128-gcm@openssh.com",
                                        "aes256-gcm@openssh.com",
                                        "aes128-ctr",
                                        "aes192-ctr",
                                        "aes256-ctr"};
    enum { LEN = 1024 };
    uint8_t key[64], iv[16], pkt[LEN], tag[16];
    char what[128];

    rng_state = 12;
    rnd(key, sizeof(key));
    rnd(iv, sizeof(iv));
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const ssh_cipher_info *info = info_of(names[i]);
        ssh_cipher *enc, *dec;
        uint32_t plen;
        unsigned long at_new = crypto_allocs;
        assert_int_equal(ssh_cipher_new(info, 1, key, iv, &enc), 0);
        assert_int_equal(ssh_cipher_new(info, 0, key, iv, &dec), 0);
        assert_true(crypto_allocs > at_new); /* the counter does count */
        unsigned long before = crypto_allocs;
        for (uint32_t seq = 0; seq < 50; seq++) {
            make_packet(pkt, LEN);
            if (info->flags & SSH_CIPHER_AEAD) {
                assert_int_equal(ssh_cipher_aead_seal(enc, seq, pkt, LEN, tag), 0);
                assert_int_equal(ssh_cipher_aead_length(dec, seq, pkt, &plen), 0);
                assert_int_equal(ssh_cipher_aead_open(dec, seq, pkt, LEN, tag), 0);
                tag[0] ^= 1;
                assert_int_equal(ssh_cipher_aead_open(dec, seq + 1, pkt, LEN, tag),
                                 SSH_ERR_MAC_INVALID);
            } else {
                assert_int_equal(ssh_cipher_crypt(enc, pkt, LEN), 0);
                assert_int_equal(ssh_cipher_crypt(dec, pkt, 16), 0);
                assert_int_equal(ssh_cipher_crypt(dec, pkt + 16, LEN - 16), 0);
            }
        }
        snprintf(what, sizeof(what), "%s: libcrypto allocations in 50 packets", names[i]);
        if (crypto_allocs != before)
            fail_msg("%s: %lu, expected 0", what, crypto_allocs - before);
        ssh_cipher_free(enc);
        ssh_cipher_free(dec);
    }
}

int main(void)
{
    if (CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free) != 1) {
        fprintf(stderr, "CRYPTO_set_mem_functions failed\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_new_arguments),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_rfc8439_chacha20),
        cmocka_unit_test(test_rfc8439_poly1305),
        cmocka_unit_test(test_rfc8439_poly1305_keygen),
        cmocka_unit_test(test_chachapoly_packets),
        cmocka_unit_test(test_tamper_chachapoly),
        cmocka_unit_test(test_gcm_vectors),
        cmocka_unit_test(test_gcm_packets),
        cmocka_unit_test(test_tamper_gcm),
        cmocka_unit_test(test_ctr_vectors),
        cmocka_unit_test(test_ctr_split),
        cmocka_unit_test(test_no_alloc_per_packet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
