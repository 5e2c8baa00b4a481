/*
 * mac.h - MAC algorithms of the SSH transport (internal to libsshtun).
 *
 * hmac-sha2-256, hmac-sha2-512 (RFC 6668) and their encrypt-then-MAC
 * variants hmac-sha2-256-etm@openssh.com and hmac-sha2-512-etm@openssh.com
 * (OpenSSH PROTOCOL section 1.5).  The MAC is
 *     HMAC(key, uint32 sequence_number || data)
 * where data is the plaintext packet (RFC 4253 section 6.4) or, for -etm,
 * the clear length followed by the ciphertext.
 *
 * Built on EVP_MAC("HMAC"); the context is keyed once and re-initialised per
 * packet without re-keying, so our code allocates nothing per packet
 * (libcrypto 3.0 itself still re-creates its digest context on each init;
 * later OpenSSL versions do not - see mac.c).
 */
#ifndef SSHTUN_PROTO_MAC_H
#define SSHTUN_PROTO_MAC_H

#include <stddef.h>
#include <stdint.h>

typedef struct ssh_mac_info {
    const char *name;
    const char *digest; /* "SHA256" / "SHA512" */
    unsigned key_len;   /* bytes of key from the KDF (= digest length) */
    unsigned out_len;   /* bytes of MAC on the wire */
    int etm;            /* encrypt-then-MAC */
} ssh_mac_info;

typedef struct ssh_mac ssh_mac;

const ssh_mac_info *ssh_mac_by_name(const char *name);
/* Comma-separated names of all supported MACs, in default preference. */
const char *ssh_mac_all(void);

int ssh_mac_new(const ssh_mac_info *info, const uint8_t *key, ssh_mac **out);
void ssh_mac_free(ssh_mac *m);
const ssh_mac_info *ssh_mac_get_info(const ssh_mac *m);

/* Compute the MAC of seq || data into out[out_len]. */
int ssh_mac_compute(ssh_mac *m, uint32_t seq, const uint8_t *data, size_t len, uint8_t *out);
/* Recompute and compare with `mac` in constant time (CRYPTO_memcmp).
 * Returns 0 or SSH_ERR_MAC_INVALID. */
int ssh_mac_verify(ssh_mac *m, uint32_t seq, const uint8_t *data, size_t len, const uint8_t *mac);

#endif
