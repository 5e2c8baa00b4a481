/*
 * sshtun/err.h - error codes of libsshtun.
 *
 * Every fallible function of the engine returns an int: 0 (SSH_OK) on
 * success, a negative SSH_ERR_* code on failure.  A few calls may also return
 * the positive SSH_DEFERRED to mean "answer later through the matching resume
 * call" (see sshtun/conn.h).  Nothing in libsshtun exits or aborts on bad
 * input: errors travel back up to the caller, and fatal protocol errors are
 * turned into an SSH_MSG_DISCONNECT with the reason from ssh_err_disconnect().
 */
#ifndef SSHTUN_ERR_H
#define SSHTUN_ERR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SSH_OK       0
#define SSH_DEFERRED 1 /* not an error: the answer comes later */

/* Generic and buffer errors. */
#define SSH_ERR_INTERNAL         -1  /* a bug: an invariant did not hold */
#define SSH_ERR_ALLOC            -2  /* out of memory */
#define SSH_ERR_INCOMPLETE       -3  /* input ended before the value did */
#define SSH_ERR_FORMAT           -4  /* malformed encoding */
#define SSH_ERR_NO_SPACE         -5  /* a buffer would exceed its maximum size */
#define SSH_ERR_TRAILING         -6  /* bytes left after the last field */
#define SSH_ERR_EMBEDDED_NUL     -7  /* a text string holds a NUL byte */
#define SSH_ERR_TOO_LONG         -8  /* a string exceeds its limit */
#define SSH_ERR_NEGATIVE         -9  /* a negative mpint where none is allowed */
#define SSH_ERR_ARGUMENT         -10 /* invalid argument from the caller */
#define SSH_ERR_STATE            -11 /* call not allowed in the current state */
#define SSH_ERR_LIBCRYPTO        -12 /* libcrypto reported a failure */
#define SSH_ERR_AGAIN            -13 /* nothing can be done right now (e.g. window closed) */

/* Transport errors. */
#define SSH_ERR_BANNER           -20 /* bad or missing identification string */
#define SSH_ERR_VERSION          -21 /* peer does not speak SSH-2.0 */
#define SSH_ERR_PACKET_TOO_LARGE -22 /* packet above the 256 KiB limit */
#define SSH_ERR_PACKET_FORMAT    -23 /* bad length/padding/alignment */
#define SSH_ERR_MAC_INVALID      -24 /* MAC or AEAD tag check failed */
#define SSH_ERR_NO_KEX_ALG       -25 /* no common key exchange method */
#define SSH_ERR_NO_HOSTKEY_ALG   -26 /* no common host key algorithm */
#define SSH_ERR_NO_CIPHER_ALG    -27 /* no common cipher */
#define SSH_ERR_NO_MAC_ALG       -28 /* no common MAC */
#define SSH_ERR_NO_COMPRESS_ALG  -29 /* no common compression method */
#define SSH_ERR_KEX              -30 /* key exchange failed (bad peer value) */
#define SSH_ERR_STRICT_KEX       -31 /* strict KEX violated (Terrapin countermeasure) */
#define SSH_ERR_UNEXPECTED       -32 /* message not allowed in this state */
#define SSH_ERR_HOSTKEY_REJECTED -33 /* the application refused the host key */
#define SSH_ERR_SIGNATURE        -34 /* signature did not verify */
#define SSH_ERR_SEQ_WRAP         -35 /* sequence number wrapped during initial KEX */
#define SSH_ERR_SERVICE          -36 /* service not available */
#define SSH_ERR_COMPRESSION      -37 /* corrupt compressed data, or a packet inflating past the limit */

/* Keys. */
#define SSH_ERR_KEY_TYPE          -40 /* unknown or unsupported key type */
#define SSH_ERR_KEY_INVALID       -41 /* key material is invalid */
#define SSH_ERR_KEY_ENCRYPTED     -42 /* a passphrase is needed */
#define SSH_ERR_KEY_PASSPHRASE    -43 /* wrong passphrase */
#define SSH_ERR_KEY_ALG_MISMATCH  -44 /* signature algorithm does not fit the key */
#define SSH_ERR_KEY_ALG_DISABLED  -45 /* algorithm known but not enabled (ssh-rsa SHA-1) */

/* Authentication. */
#define SSH_ERR_AUTH_TOO_MANY     -50 /* too many failed attempts */
#define SSH_ERR_AUTH_TIMEOUT      -51 /* login grace time expired */

/* Connection layer. */
#define SSH_ERR_CHANNEL_UNKNOWN   -60 /* no such channel */
#define SSH_ERR_TOO_MANY_CHANNELS -61 /* channel table full */
#define SSH_ERR_WINDOW_EXCEEDED   -62 /* peer sent beyond the window we granted */
#define SSH_ERR_CHANNEL_STATE     -63 /* channel not in a state that allows this */
#define SSH_ERR_REPLY_QUEUE       -64 /* too many unanswered requests */

/* End of connection. */
#define SSH_ERR_DISCONNECTED      -70 /* peer sent SSH_MSG_DISCONNECT */
#define SSH_ERR_CONN_LOST         -71 /* the byte stream ended without DISCONNECT */
#define SSH_ERR_TIMEOUT           -72 /* peer did not answer keepalives */
#define SSH_ERR_CLOSED            -73 /* we disconnected (ssh_conn_disconnect) */

/* Certificates (OpenSSH PROTOCOL.certkeys) and revocation. */
#define SSH_ERR_CERT_CA            -80 /* signature key unusable (a certificate, unknown type) */
#define SSH_ERR_CERT_SIGNATURE     -81 /* the CA's signature does not verify */
#define SSH_ERR_CERT_TYPE          -82 /* not a user/host certificate as required */
#define SSH_ERR_CERT_EXPIRED       -83 /* now >= valid before */
#define SSH_ERR_CERT_NOT_YET_VALID -84 /* now < valid after */
#define SSH_ERR_CERT_NO_PRINCIPALS -85 /* empty principal list */
#define SSH_ERR_CERT_PRINCIPAL     -86 /* name is not a listed principal */
#define SSH_ERR_CERT_CRITICAL      -87 /* a critical option we do not support */
#define SSH_ERR_CERT_SIG_ALG       -88 /* CA signature algorithm not allowed */
#define SSH_ERR_KEY_REVOKED        -89 /* key or certificate is revoked */

/* RFC 4253 section 11.1 disconnect reason codes. */
#define SSH_DISCONNECT_HOST_NOT_ALLOWED_TO_CONNECT    1
#define SSH_DISCONNECT_PROTOCOL_ERROR                 2
#define SSH_DISCONNECT_KEY_EXCHANGE_FAILED            3
#define SSH_DISCONNECT_RESERVED                       4
#define SSH_DISCONNECT_MAC_ERROR                      5
#define SSH_DISCONNECT_COMPRESSION_ERROR              6
#define SSH_DISCONNECT_SERVICE_NOT_AVAILABLE          7
#define SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED 8
#define SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE        9
#define SSH_DISCONNECT_CONNECTION_LOST                10
#define SSH_DISCONNECT_BY_APPLICATION                 11
#define SSH_DISCONNECT_TOO_MANY_CONNECTIONS           12
#define SSH_DISCONNECT_AUTH_CANCELLED_BY_USER         13
#define SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE 14
#define SSH_DISCONNECT_ILLEGAL_USER_NAME              15

/* A short, static, human-readable text for an SSH_ERR_* code. */
const char *ssh_strerror(int err);

/* The DISCONNECT reason code (SSH_DISCONNECT_*) that a fatal error maps to
 * when the engine tells the peer why it is closing. */
uint32_t ssh_err_disconnect(int err);

/* A short name for a DISCONNECT reason code, e.g. "protocol error". */
const char *ssh_disconnect_reason_str(uint32_t reason);

#ifdef __cplusplus
}
#endif
#endif
