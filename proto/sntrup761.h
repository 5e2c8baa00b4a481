/*
 * sntrup761.h - Streamlined NTRU Prime sntrup761 (the NTRU Prime round-3
 * specification), the post-quantum half of sntrup761x25519-sha512.
 * Internal to libsshtun.
 *
 * Keys, ciphertexts and shared secrets in the specification's encodings,
 * so that OpenSSH (and the submission's known answers) agree byte for byte.
 * Constant time in every secret; no secret is left on the stack.
 */
#ifndef SSHTUN_PROTO_SNTRUP761_H
#define SSHTUN_PROTO_SNTRUP761_H

#include <stddef.h>
#include <stdint.h>

#define SSH_SNTRUP761_PK_BYTES 1158
#define SSH_SNTRUP761_SK_BYTES 1763
#define SSH_SNTRUP761_CT_BYTES 1039
#define SSH_SNTRUP761_SS_BYTES 32

/* Random bytes for the KEM.  The specification draws its random elements
 * 32 bits at a time (and rho as one 191-byte string); the calls follow
 * that pattern so that a deterministic source reproduces the known answers
 * of the submission.  Must fill all n bytes. */
typedef void ssh_sntrup_rand_fn(void *ctx, uint8_t *out, size_t n);

/* Key generation: pk (1158 bytes) and sk (1763 bytes: f, 1/g in R/3, pk,
 * rho, Hash4(pk)).  0 or SSH_ERR_LIBCRYPTO. */
int ssh_sntrup761_keypair(uint8_t pk[SSH_SNTRUP761_PK_BYTES], uint8_t sk[SSH_SNTRUP761_SK_BYTES],
                          ssh_sntrup_rand_fn *rnd, void *ctx);

/* Encapsulation to pk: ciphertext (1039 bytes) and the 32-byte session
 * key.  Any 1158 bytes decode to some public key (the encoding reduces),
 * so there is no invalid-key error.  0 or SSH_ERR_LIBCRYPTO. */
int ssh_sntrup761_enc(uint8_t ct[SSH_SNTRUP761_CT_BYTES], uint8_t ss[SSH_SNTRUP761_SS_BYTES],
                      const uint8_t pk[SSH_SNTRUP761_PK_BYTES], ssh_sntrup_rand_fn *rnd, void *ctx);

/* Decapsulation.  A ciphertext that does not re-encrypt to itself gives
 * the implicit-rejection key Hash0(Hash3(rho) || ct), never an error.
 * 0 or SSH_ERR_LIBCRYPTO. */
int ssh_sntrup761_dec(uint8_t ss[SSH_SNTRUP761_SS_BYTES], const uint8_t ct[SSH_SNTRUP761_CT_BYTES],
                      const uint8_t sk[SSH_SNTRUP761_SK_BYTES]);

#endif
