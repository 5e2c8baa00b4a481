/*
 * mlkem.h - ML-KEM-768 (FIPS 203), the post-quantum half of
 * mlkem768x25519-sha256.  Internal to libsshtun.
 *
 * Two implementations behind one interface: libcrypto's, when the OpenSSL
 * the engine runs with provides "ML-KEM-768" (3.5 and later; probed once at
 * run time), else the engine's own (mlkem.c: the lattice arithmetic written
 * from FIPS 203, SHA3-256/512 and SHAKE128/256 from libcrypto).  Both take
 * their randomness as explicit seeds, so the caller's random source is the
 * only one and known-answer tests reach both.
 *
 * All functions are constant time in every secret input (see mlkem.c) and
 * leave no secret on the stack.
 */
#ifndef SSHTUN_PROTO_MLKEM_H
#define SSHTUN_PROTO_MLKEM_H

#include <stddef.h>
#include <stdint.h>

#define SSH_MLKEM768_EK_BYTES 1184 /* encapsulation (public) key */
#define SSH_MLKEM768_DK_BYTES 2400 /* decapsulation (secret) key */
#define SSH_MLKEM768_CT_BYTES 1088 /* ciphertext */
#define SSH_MLKEM_SS_BYTES    32   /* shared secret */
#define SSH_MLKEM_SEED_BYTES  32   /* d, z and m */

/* ML-KEM.KeyGen_internal(d, z) (FIPS 203 algorithm 16): a key pair from
 * the two 32-byte seeds.  0, or SSH_ERR_LIBCRYPTO. */
int ssh_mlkem768_keygen(uint8_t ek[SSH_MLKEM768_EK_BYTES], uint8_t dk[SSH_MLKEM768_DK_BYTES],
                        const uint8_t d[SSH_MLKEM_SEED_BYTES],
                        const uint8_t z[SSH_MLKEM_SEED_BYTES]);

/* ML-KEM.Encaps_internal(ek, m) (algorithm 17) after the encapsulation key
 * check of section 7.2 (every coefficient below q).  0; SSH_ERR_KEY_INVALID
 * for a key that fails the check (nothing written); SSH_ERR_LIBCRYPTO. */
int ssh_mlkem768_encaps(uint8_t ct[SSH_MLKEM768_CT_BYTES], uint8_t ss[SSH_MLKEM_SS_BYTES],
                        const uint8_t ek[SSH_MLKEM768_EK_BYTES],
                        const uint8_t m[SSH_MLKEM_SEED_BYTES]);

/* ML-KEM.Decaps_internal(dk, c) (algorithm 18) after the decapsulation key
 * check of section 7.3 (the stored H(ek) matches).  A ciphertext that does
 * not re-encrypt to itself yields the implicit-rejection secret J(z || c),
 * never an error.  0; SSH_ERR_KEY_INVALID (bad dk); SSH_ERR_LIBCRYPTO. */
int ssh_mlkem768_decaps(uint8_t ss[SSH_MLKEM_SS_BYTES], const uint8_t ct[SSH_MLKEM768_CT_BYTES],
                        const uint8_t dk[SSH_MLKEM768_DK_BYTES]);

/* The checks alone (section 7.2 and 7.3): 0 or SSH_ERR_KEY_INVALID. */
int ssh_mlkem768_check_ek(const uint8_t ek[SSH_MLKEM768_EK_BYTES]);
int ssh_mlkem768_check_dk(const uint8_t dk[SSH_MLKEM768_DK_BYTES]);

/* "libcrypto" or "sshtun": which implementation the calls above use.
 * Where libcrypto's is used and a call into it fails (SSH_ERR_LIBCRYPTO:
 * an OpenSSL whose ML-KEM lacks a parameter this code passes), the call is
 * made again with the engine's own, which computes the same function. */
const char *ssh_mlkem768_backend(void);

/* Tests: SSH_MLKEM_BUILTIN forces the engine's own implementation even
 * where libcrypto has one; SSH_MLKEM_LIBCRYPTO uses libcrypto's without the
 * fallback (calls fail with SSH_ERR_LIBCRYPTO where it has none);
 * SSH_MLKEM_TRY_LIBCRYPTO calls libcrypto's even where the probe found none,
 * with the fallback (which it then exercises); SSH_MLKEM_DEFAULT returns to
 * the default.  Not thread safe. */
enum ssh_mlkem_mode {
    SSH_MLKEM_DEFAULT = 0,
    SSH_MLKEM_BUILTIN,
    SSH_MLKEM_LIBCRYPTO,
    SSH_MLKEM_TRY_LIBCRYPTO,
};
void ssh_mlkem768_force(enum ssh_mlkem_mode mode);
#define ssh_mlkem768_force_builtin(on)                                                             \
    ssh_mlkem768_force((on) ? SSH_MLKEM_BUILTIN : SSH_MLKEM_DEFAULT)

#endif
